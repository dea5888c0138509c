"""One planned file filtered (:func:`process_task`) or planned from its headers (:func:`plan_task`).

Both turn every :class:`~convcli.errors.ConvcliError` into a failed
:class:`FileResult` naming the file, so a batch goes on past a bad file.

Examples
--------
>>> from pathlib import PurePath
>>> from convcli.batch import Source, Task
>>> from convcli.recipe import Recipe
>>> task = Task(0, Source("gone.png", PurePath("gone.png")), None, None, error="no such file or folder")
>>> process_task(task, Recipe()).error
'gone.png: no such file or folder'
>>> plan_task(task, Recipe()).status
'failed'
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..errors import ConvcliError, Interrupted
from .naming import Task

if TYPE_CHECKING:
    from ..depth import Depth
    from ..recipe import Recipe

__all__ = [
    "FileResult",
    "Status",
    "dry_run",
    "file_result",
    "kept_integer_dtype",
    "named",
    "output_dtype",
    "plan_task",
    "prepare_output",
    "process_task",
    "read_mask",
    "recipe_stream",
]

Status: TypeAlias = Literal["written", "skipped", "failed", "planned", "interrupted"]

#: output formats written band by band as the strips come (the others are encoded whole)
STREAMED_FORMATS = ("TIFF", "ZARR")


@dataclass
class FileResult:
    """What happened to one input.

    Attributes
    ----------
    index : int
        Position in the batch.
    input : str
    output : str or None
        The file written (or planned), ``-`` for stdout.
    status : {"written", "skipped", "failed", "planned", "interrupted"}
    error : str or None
        One line naming the file, the problem and the fix.
    warnings : list of str
    input_shape, output_shape : tuple of int or None
    depth : str or None
        The output depth actually written (``8``, ``16``, ``float``), or the integer dtype an output keeps
        (``int8``, ``int16``, ``int32``, ``uint32``: :func:`kept_integer_dtype`).
    format : str or None
    steps : list of Step
        The shapes through each operation and the methods ``auto`` chooses
        (the same for a dry run and a real run).
    seconds : float
    payload : bytes or None
        The encoded image for stdout (a streamed TIFF goes to this process's stdout itself, except on a Dask worker).
    frame : int or None
        The frame of ``input`` (``--frames all``), else None.
    reason : str or None
        Why a ``skipped`` input was left alone: its output exists, or it is
        the output of another input of the batch, or it lies in the output
        folder (then ``output`` is None).
    linear : bool
        Filtered (or planned) in linear light (``--linear``).
    bands : int or None
        Into how many bands of rows the image was cut, each filtered on its
        own: 1 when one process filtered it whole (every local run, every
        file of a cluster batch), N >= 2 when a cluster's giant-image path
        split it (:mod:`convcli.batch.giant`); None when nothing was
        filtered (planned, skipped, failed).
    """

    index: int
    input: str
    output: str | None
    status: Status
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    depth: str | None = None
    format: str | None = None
    steps: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    payload: bytes | None = field(default=None, repr=False)
    frame: int | None = None
    reason: str | None = None
    linear: bool = False
    bands: int | None = None

    @property
    def label(self) -> str:
        """The input as messages name it: ``photo.png``, or ``anim.gif[2]`` for one frame."""
        return self.input if self.frame is None else f"{self.input}[{self.frame}]"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (without the payload)."""
        return {
            "input": self.input,
            "frame": self.frame,
            "output": self.output,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "warnings": list(self.warnings),
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "depth": self.depth,
            "format": self.format,
            "linear": self.linear,
            "bands": self.bands,
            "steps": [
                {"operation": s.operation, "input": list(s.input), "output": list(s.output),
                 "method": s.method, "reason": s.reason}
                for s in self.steps
            ],
            "seconds": round(self.seconds, 4),
        }


def file_result(task: Task, status: Status, **details: Any) -> FileResult:
    """A :class:`FileResult` for ``task`` (every executor makes its results so).

    Examples
    --------
    >>> from pathlib import PurePath
    >>> from convcli.batch import Source
    >>> file_result(Task(3, Source("a.png", PurePath("a.png")), "b.png", "PNG"), "skipped").index
    3
    """
    return FileResult(task.index, task.source.path, task.output, status, frame=task.source.frame, **details)


def named(path: str, message: str) -> str:
    """``message`` starting with the file's name, exactly once.

    Examples
    --------
    >>> named("a.png", "bad"), named("a.png", "a.png: bad")
    ('a.png: bad', 'a.png: bad')
    """
    return message if message.startswith(path) else f"{path}: {message}"


def _settled(task: Task) -> FileResult | None:
    """The result of a task that needs no work (it failed while planning, or is skipped); else None."""
    if task.error is not None:
        return file_result(task, "failed", error=named(task.source.label, task.error))
    if task.skip:
        return file_result(task, "skipped", reason=task.reason)
    return None


def _target(recipe: Recipe, task: Task, shape: tuple[int, ...], dtype: Any,
            alpha: bool) -> tuple[int, Depth, list[str]]:
    """The output's channels and depth for an input of ``shape`` and ``dtype``, with a note on any fallback."""
    from ..depth import depth_name, natural_depth
    from ..imageio import fit_depth, formats_holding, held_with_extra, palette_reduced
    from ..pipeline import output_channels

    assert task.fmt is not None
    channels = output_channels(1 if len(shape) == 2 else int(shape[2]), channels=recipe.channels, alpha=alpha)
    wanted = recipe.depth or natural_depth(dtype)
    depth = fit_depth(task.fmt, wanted, channels, strict=recipe.depth is not None)
    notes = []
    if depth != wanted:
        keep = " or ".join(", ".join(formats_holding(wanted, channels, besides=task.fmt)).rsplit(", ", 1))
        extra = (f"; with convcli's formats extra (pip install '.[formats]' in its source folder) {task.fmt} holds it"
                 if held_with_extra(task.fmt, wanted, channels) else "")
        notes.append(f"{task.output}: {task.fmt} cannot hold {depth_name(wanted)} data here; wrote "
                     f"{depth_name(depth)} (write {keep} to keep {depth_name(wanted)} data, or choose "
                     f"--depth {depth}{extra})")
    if palette_reduced(task.fmt, channels):  # as ImageMagick writes GIF: quantised, with a word
        what = {2: "gray+alpha", 3: "RGB", 4: "RGBA"}[channels]
        alpha_note = ", alpha to on/off transparency" if channels in (2, 4) else ""
        notes.append(f"{task.output}: {task.fmt} holds at most 256 colours; the {what} result was reduced to "
                     f"a 256-colour palette{alpha_note} (use --format png, or a .png output name, to keep "
                     "every colour)")
    return channels, depth, notes


def _profile_notes(profile: bytes | None, name: str) -> list[str]:
    """``--linear``: a warning when the image's ICC profile is not sRGB (:func:`convcli.colour.profile_note`)."""
    from ..colour import profile_note

    note = profile_note(profile, name)
    return [] if note is None else [note]


def kept_integer_dtype(recipe: Recipe, fmt: str, dtype: Any) -> Any:
    """The integer dtype an output keeps (the input's: int8, int16, int32 or uint32), else None.

    Kept when no ``--depth`` is given, the format holds it (TIFF, Zarr, ``.npy``) and neither ``--linear`` nor
    ``--range normalize`` asks for a rescaled result; the values are then rounded half to even in the input's own
    units and never clipped (:func:`convcli.depth.kept_integer`).  (Not with a relative ``--offset``, a share of
    a full scale.)
    """
    import numpy as np

    from ..depth import KEPT_INTEGERS
    from ..imageio import find_sink

    dt = np.dtype(dtype).newbyteorder("=")
    if (dt not in KEPT_INTEGERS or recipe.depth is not None or recipe.linear or recipe.range_mode == "normalize"
            or isinstance(recipe.offset, str)):  # a relative offset is a share of a full scale: 16-bit units
        return None
    return dt if find_sink(fmt).holds is None or fmt == "TIFF" else None


class _Float64Rows:
    """A source read as float64 samples in its own units (nominal full scale 1.0, so nothing is rescaled)."""

    def __init__(self, source: Any) -> None:
        import numpy as np

        self.source, self.info, self.shape, self.dtype = source, source.info, source.shape, np.dtype(np.float64)

    def read(self, r0: int, r1: int) -> Any:
        import numpy as np

        return np.asarray(self.source.read(r0, r1), dtype=np.float64)


def _wide_integer_notes(dtype: Any, depth: Depth, name: str, fmt: str) -> list[str]:
    """A note for integer samples an 8/16-bit output cannot keep (signed, or wider than 16 bits): never silent.

    (Images decoded whole may get the same advice from their actual range: :func:`convcli.imageio.read_image`.)
    """
    import numpy as np

    dtype = np.dtype(dtype)
    if depth == "float" or dtype.kind not in "iu" or (dtype.kind == "u" and dtype.itemsize <= 2):
        return []
    what = "negative values become 0" if dtype.kind == "i" else "values above 65535 become 65535"
    return [f"{name}: {dtype} samples are taken in 16-bit units (0..65535): {what} in a {depth}-bit {fmt} output; "
            f"write .tif, .zarr or .npy to keep {dtype}, or use --depth float, or --range normalize or abs"]


def _mask_fits(path: str, mask_shape: tuple[int, ...], shape: tuple[int, ...]) -> None:
    from ..errors import ShapeError

    if tuple(mask_shape[:2]) != tuple(shape[:2]):
        raise ShapeError(f"--mask {path} is {mask_shape[1]}x{mask_shape[0]} but the image is {shape[1]}x{shape[0]} "
                         "(width x height); give a mask of the input's size")


class MaskRows:
    """The valid pixels of a ``--mask`` image, read by rows as the image is: non-zero in any channel.

    ``shape`` is ``H x W``; :meth:`read` gives boolean rows.  The file stays
    open until :meth:`close` (or until the object is collected).
    """

    lazy = True

    def __init__(self, source: Any) -> None:
        import numpy as np

        self.source = source
        self.shape = tuple(source.shape[:2])
        self.dtype = np.dtype(bool)

    def read(self, r0: int, r1: int) -> Any:
        """Rows ``[r0, r1)``: True where any channel is non-zero."""
        rows = self.source.read(r0, r1)
        return rows.any(axis=2) if rows.ndim == 3 else rows != 0

    def close(self) -> None:
        """Release the mask file."""
        self.source.close()

    def __enter__(self) -> MaskRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def read_mask(path: str, shape: tuple[int, ...], recipe: Recipe | None = None) -> MaskRows:
    """The valid pixels ``--mask`` gives for an image of ``shape``, opened to be read by rows; sizes must agree.

    A tiled TIFF or Zarr mask is read tile by tile as the strips need it,
    never whole (:func:`convcli.imageio.open_image`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npy")
    >>> np.save(path, np.eye(2))
    >>> with read_mask(path, (2, 2, 3)) as mask:
    ...     mask.shape, mask.read(0, 2).tolist()
    ((2, 2), [[True, False], [False, True]])
    >>> read_mask(path, (3, 2))
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: --mask ...m.npy is 2x2 but the image is 2x3 (width x height); give a mask of ...
    """
    from ..imageio import open_image

    source = open_image(path, max_pixels=None if recipe is None else recipe.max_pixels)
    try:
        _mask_fits(path, tuple(source.shape), shape)
    except ConvcliError:
        source.close()
        raise
    return MaskRows(source)


def process_task(task: Task, recipe: Recipe, *, overwrite: bool = False, stdout: bool = True) -> FileResult:
    """Read, filter and write one input; every :class:`ConvcliError` becomes a failed result.

    Parameters
    ----------
    task : Task
        From :func:`plan_outputs`.
    recipe : Recipe
        The operations and output policy.
    overwrite : bool, optional
        Replace an existing output (``--force``).
    stdout : bool, optional
        Whether an output ``-`` may stream into this process's stdout (a TIFF
        does, through a temporary file).  False where stdout is not the user's
        (a Dask worker): every ``-`` output then comes back as ``payload``.

    Returns
    -------
    FileResult
        ``written`` (with ``payload`` for stdout), ``skipped`` or ``failed``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from convcli.batch import expand_inputs, plan_outputs
    >>> from convcli.recipe import Naming
    >>> from convcli.recipe import build_recipe
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "in.npy"), np.eye(4, dtype=np.float32))
    >>> recipe = build_recipe(kernels=["box:size=3"], pad="valid", output=os.path.join(folder, "out.npy"))
    >>> task = plan_outputs(expand_inputs([os.path.join(folder, "in.npy")]), recipe.naming)[0]
    >>> result = process_task(task, recipe)
    >>> result.status, result.output_shape, result.depth
    ('written', (2, 2), 'float')
    """
    settled = _settled(task)
    if settled is not None:
        return settled
    start = time.perf_counter()
    try:
        found = _process(task, recipe, overwrite=overwrite, stdout=stdout)
    except ConvcliError as err:
        found = file_result(task, "failed", error=named(task.source.label, str(err)))
    except MemoryError:
        found = file_result(task, "failed", error=f"{task.source.label}: not enough memory to filter this image; "
                        "use fewer --jobs or a smaller image")
    found.seconds = time.perf_counter() - start
    return found


def recipe_stream(source: Any, recipe: Recipe, *, depth: Depth, out_alpha: bool, mask: Any = None,
                  value_range: tuple[float, float] | None = None) -> Any:
    """The recipe's :class:`~convcli.streaming.Stream` of an opened ``source`` at the output ``depth``.

    One call for every place that filters a file: this process, a pool worker, a cluster band
    (``value_range``: ``--range normalize``'s range, when a cluster found it from the bands).
    """
    from ..streaming import stream_filter

    return stream_filter(source, recipe.operations, depth=depth, channels=recipe.channels, alpha=source.info.alpha,
                         keep_alpha=recipe.keep_alpha, range_mode=recipe.range_mode, gain=recipe.gain,
                         offset=recipe.offset, out_alpha=out_alpha, linear=recipe.linear, mask=mask,
                         value_range=value_range)


def output_dtype(fmt: str, depth: Depth, computed: Any) -> Any:
    """The sample type written: ``computed`` (the stream's), except float samples in a format that holds only
    float32 (TIFF); formats that hold any real dtype (Zarr, ``.npy``) keep float64.

    Examples
    --------
    >>> import numpy as np
    >>> output_dtype("TIFF", "float", np.float64), output_dtype("ZARR", "float", np.float64)
    (dtype('float32'), dtype('float64'))
    """
    import numpy as np

    from ..imageio import find_sink

    if depth == "float" and find_sink(fmt).holds is not None:
        return np.dtype(np.float32)
    return np.dtype(computed)


def prepare_output(task: Task, recipe: Recipe, source: Any, *, mask: Any = None,
                   value_range: tuple[float, float] | None = None) -> tuple[FileResult, Any, Depth, bool]:
    """The ``written`` result to report, the stream, the output depth and whether it keeps alpha.

    An int8/int16/int32/uint32 input whose output keeps its dtype (:func:`kept_integer_dtype`)
    streams its float64 result in its own units (depth ``float``, unscaled); the caller rounds it with
    :func:`convcli.depth.kept_integer`.

    No pixel is computed (unless ``--range normalize`` without ``value_range``: its pre-pass): the stream is
    built (so a chain that leaves nothing fails with the engine's own message) and the steps ``--dry-run``
    reports are planned, with every warning about the output.
    """
    from ..pipeline import plan_steps

    info, input_shape = source.info, tuple(source.shape)
    channels, depth, notes = _target(recipe, task, input_shape, source.dtype, info.alpha)
    out_alpha = info.alpha and recipe.channels != "sum" and channels in (2, 4)
    assert task.fmt is not None
    kept = kept_integer_dtype(recipe, task.fmt, source.dtype)
    if kept is not None:
        depth = "float"  # the values themselves: float64, unscaled
        stream = recipe_stream(_Float64Rows(source), recipe, depth="float", out_alpha=out_alpha, mask=mask)
    else:
        stream = recipe_stream(source, recipe, depth=depth, out_alpha=out_alpha, mask=mask, value_range=value_range)
    steps = plan_steps(input_shape, recipe.operations, dtype=source.dtype, channels=recipe.channels,
                       alpha=info.alpha, linear=recipe.linear)
    if recipe.linear:
        notes = [*_profile_notes(info.icc_profile, task.source.label), *notes]
    notes = [*_wide_integer_notes(source.dtype, depth, task.source.label, task.fmt), *notes]
    found = file_result(task, "written", warnings=[*info.notes, *notes], input_shape=input_shape,
                    output_shape=tuple(stream.shape), depth=depth if kept is None else kept.name, format=task.fmt,
                    steps=steps, linear=recipe.linear, bands=1)
    return found, stream, depth, out_alpha


def _process(task: Task, recipe: Recipe, *, overwrite: bool, stdout: bool) -> FileResult:
    """Open the input as a source, stream it through the operations and into the output, strip by strip.

    A TIFF or Zarr input is read a band at a time and a TIFF or Zarr output
    written so (:func:`convcli.imageio.open_image`,
    :func:`convcli.streaming.stream_filter`,
    :func:`convcli.imageio.write_bands`): the float result of the whole image
    never exists, and the same bytes come out as from the whole-image path.
    """

    from ..depth import kept_integer
    from ..imageio import compression_for, encode_image, open_image, write_bands, write_image

    assert task.output is not None and task.fmt is not None
    with open_image(task.source.path, max_pixels=recipe.max_pixels, data=task.source.data,
                    frame=task.source.frame) as source:
        info = source.info
        mask = None if recipe.mask is None else read_mask(recipe.mask, tuple(source.shape), recipe)
        found, stream, depth, _ = prepare_output(task, recipe, source, mask=mask)
        kept = kept_integer_dtype(recipe, task.fmt, source.dtype)
        dtype = kept if kept is not None else output_dtype(task.fmt, depth, stream.dtype)
        name = task.source.label

        def samples_of(x: Any) -> Any:
            return kept_integer(x, kept, name) if kept is not None else x.astype(dtype, copy=False)

        compression = compression_for(task.fmt, recipe.compression)  # a level for PNG, a codec for TIFF/Zarr
        if task.fmt in STREAMED_FORMATS and (task.output != "-" or stdout):  # tile by tile as they come
            bands = ((first, samples_of(band)) for first, band in stream)  # "-": via a temporary file
            try:
                write_bands(task.output, bands, shape=tuple(stream.shape), dtype=dtype, fmt=task.fmt, info=info,
                            quality=recipe.quality, overwrite=overwrite, tile=recipe.tile,
                            compression=compression)
            except BrokenPipeError:  # stdout's reader went away (`| head`): stop the run, exit 141, not a failure
                raise Interrupted(signal.SIGPIPE) from None
            return found
        samples = samples_of(stream.collect())  # the formats encoded whole
    del source, stream  # the decoded input goes before the encoder makes its own copy of the output
    if task.output == "-":
        found.payload = encode_image(samples, task.fmt, info=info, name="-", quality=recipe.quality,
                                     compression=compression)
    else:
        write_image(task.output, samples, info=info, fmt=task.fmt, quality=recipe.quality, overwrite=overwrite,
                    compression=compression)
    return found


def plan_task(task: Task, recipe: Recipe) -> FileResult:
    """What :func:`process_task` would do with ``task``, from the image's headers only; nothing is written.

    Returns
    -------
    FileResult
        ``planned`` (with the output path, the shapes through each operation
        and the methods ``auto`` chooses), ``skipped`` or ``failed``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from convcli.batch import expand_inputs, plan_outputs
    >>> from convcli.recipe import build_recipe
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "in.npy"), np.zeros((8, 6), np.float32))
    >>> recipe = build_recipe(kernels=["box:size=3"], stride="2", pool="max", outdir=folder, format="tif")
    >>> task = plan_outputs(expand_inputs([os.path.join(folder, "in.npy")]), recipe.naming)[0]
    >>> planned = plan_task(task, recipe)
    >>> [(s.input, s.output) for s in planned.steps], planned.depth
    ([((8, 6), (4, 3)), ((4, 3), (2, 1))], 'float')
    >>> os.path.exists(os.path.join(folder, "in.tif"))
    False
    """
    from ..imageio import probe_image
    from ..pipeline import plan_steps

    settled = _settled(task)
    if settled is not None:
        return settled
    try:
        shape, dtype, info = probe_image(task.source.path, max_pixels=recipe.max_pixels, data=task.source.data,
                                         frame=task.source.frame)
        steps = plan_steps(shape, recipe.operations, dtype=dtype, channels=recipe.channels, alpha=info.alpha,
                           linear=recipe.linear)
        _, depth, notes = _target(recipe, task, tuple(shape), dtype, info.alpha)
        assert task.fmt is not None
        kept = kept_integer_dtype(recipe, task.fmt, dtype)
        shown = depth if kept is None else kept.name
        notes = [*_wide_integer_notes(dtype, depth if kept is None else "float", task.source.label, task.fmt),
                 *notes]
        if recipe.mask is not None:
            _mask_fits(recipe.mask, probe_image(recipe.mask, max_pixels=recipe.max_pixels)[0], tuple(shape))
        if recipe.linear and info.format != "NPY":
            from ..colour import read_profile

            profile = read_profile(task.source.path, task.source.data)
            notes = [*_profile_notes(profile, task.source.label), *notes]
    except ConvcliError as err:
        return file_result(task, "failed", error=named(task.source.label, str(err)))
    out_shape = steps[-1].output if steps else shape
    return file_result(task, "planned", warnings=[*info.notes, *notes], input_shape=tuple(shape),
                   output_shape=tuple(out_shape), depth=shown, format=task.fmt, steps=steps, linear=recipe.linear)


def dry_run(tasks: Sequence[Task], recipe: Recipe) -> list[FileResult]:
    """What :func:`run_batch` would do, from image headers only; nothing is written.

    Each result is ``planned`` (with the output path, the shapes through each
    operation and the methods ``auto`` chooses), ``skipped`` or ``failed``
    (:func:`plan_task` for every task, in order).

    Examples
    --------
    >>> dry_run([], None)
    []
    """
    return [plan_task(task, recipe) for task in tasks]
