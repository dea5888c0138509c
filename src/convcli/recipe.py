"""What ``convcli apply`` does, as one validated, picklable :class:`Recipe`.

:func:`build_recipe` takes ``apply``'s options as text (as they were typed)
and checks every one of them before any file is read: choices, number forms
(``N``, ``HxW``, ``T,B,L,R``, ``R,C`` through :mod:`convcli.specs`), finite
numbers, the kernels, the pooling spec, the output naming, whether the output
format can hold ``--depth``, and options that exclude each other.  A bad
option value or combination raises :class:`~convcli.errors.UsageError`
(exit code 2) naming the option; a bad kernel raises
:class:`~convcli.errors.KernelError` (exit code 1).

The recipe is plain data, the one description of the work: :mod:`convcli.batch`
plans with it (:func:`convcli.batch.plan_tasks`, :func:`convcli.batch.dry_run`)
and runs it (:func:`convcli.batch.run_batch`); worker processes and Dask
workers receive it pickled.  This module imports nothing from the batch.  It holds the operations in the CNN order (one
:class:`~convcli.operations.Convolve` per kernel, then
:class:`~convcli.operations.Activate`, then :class:`~convcli.operations.Pooling`),
the channel, alpha, range and depth policy, and how outputs are named.

Examples
--------
>>> recipe = build_recipe(kernels=["gaussian:sigma=1"], activation="relu", pool="max", outdir="out")
>>> [op.describe() for op in recipe.operations]
['correlate gaussian:sigma=1 (9x9)', 'activation relu', 'max pool 2x2 stride 2x2']
>>> build_recipe(stride="0", outdir="out")
Traceback (most recent call last):
...
convcli.errors.UsageError: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'
"""

from __future__ import annotations

import math
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias, cast

from .errors import OutputConflict, UsageError, usage_errors
from .specs import parse_anchor, parse_choice, parse_pad, parse_pair

if TYPE_CHECKING:
    from .depth import Depth, RangeMode
    from .kernels import Kernel
    from .operations import Operation
    from .pipeline import Channels

__all__ = ["ALPHA_MODES", "CHANNEL_ALIASES", "DEFAULT_TEMPLATE", "FRAMES", "TEMPLATE_FIELDS", "Frames", "Naming",
           "Recipe", "build_recipe", "check_overwrite"]

#: ``--frames``: the first frame of a multi-frame file, or every frame as an input of its own
Frames: TypeAlias = Literal["first", "all"]
FRAMES: tuple[str, ...] = ("first", "all")
#: ``--alpha``: filter the alpha channel too, or keep it as it is
ALPHA_MODES: tuple[str, ...] = ("filter", "keep")
#: other spellings ``--channels`` accepts
CHANNEL_ALIASES: dict[str, str] = {"grey": "gray"}


#: the template used with --outdir/--suffix when no --name is given
DEFAULT_TEMPLATE = "{stem}{suffix}.{ext}"
TEMPLATE_FIELDS = ("stem", "ext", "suffix", "name", "parent", "index", "frame")


@dataclass(frozen=True)
class Naming:
    """How outputs are named (the ``-o``, ``--outdir``, ``--suffix``, ``--format`` and ``--name`` options).

    Attributes
    ----------
    output : str or None
        One output file for one input; ``-`` for stdout.
    outdir : str or None
        A folder for the outputs (created when missing), keeping input names.
    suffix : str
        Added to each output's stem.
    format : str or None
        Output extension without the dot (``png``, ``jpg``, ``tif``, ``npy``,
        …); it also forces the format of ``-o FILE`` and stdout (default PNG).
    template : str or None
        Output name with fields (see :mod:`convcli.batch`), e.g. ``{stem}_blur.{ext}``.
    """

    output: str | None = None
    outdir: str | None = None
    suffix: str = ""
    format: str | None = None
    template: str | None = None

    def __post_init__(self) -> None:
        if self.output is not None and (self.outdir is not None or self.suffix or self.template):
            options = (("--outdir", self.outdir), ("--suffix", self.suffix), ("--name", self.template))
            given = [n for n, v in options if v]
            raise OutputConflict(f"-o names the one output; it cannot be combined with {', '.join(given)}")
        if self.output is None and self.outdir is None and not self.suffix and not self.template:
            raise OutputConflict(
                "say where the outputs go: -o FILE (or -o - for stdout), --outdir DIR, or --suffix/--name "
                "to write beside each input"
            )
        if self.format is not None:
            from .imageio import FORMATS

            if self.extension not in FORMATS:
                raise OutputConflict(
                    f"--format {self.format!r} is not a format convcli writes; use one of "
                    f"{', '.join(e.lstrip('.') for e in FORMATS)}"
                )
        if self.template is not None:
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None]
            except ValueError as err:
                raise OutputConflict(f"--name {self.template!r} is not a valid template ({err}); "
                                     "write fields like {stem}_blur.{ext}") from None
            for name in fields:
                if name not in TEMPLATE_FIELDS:
                    raise OutputConflict(
                        f"--name {self.template!r} uses an unknown field {{{name}}}; valid: "
                        + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
                    )
            if not fields or not self.template.strip():
                raise OutputConflict(f"--name {self.template!r} gives every input the same name; use {{stem}}")
            if os.path.isabs(self.template) or ".." in Path(self.template).parts:
                raise OutputConflict(f"--name {self.template!r} must be a relative name; put the folder in --outdir")

    @property
    def extension(self) -> str | None:
        """``format`` as a lower-case extension with the dot (``.jpg``), or None.

        Examples
        --------
        >>> Naming(outdir="o", format="JPG").extension
        '.jpg'
        """
        return "." + self.format.lower().lstrip(".") if self.format else None

    def fixed_format(self) -> str | None:
        """The format of every output when the options fix it, else None.

        ``format`` fixes it; so does the extension of ``-o FILE`` (when it is
        one convcli knows) and stdout (PNG by default).  Otherwise each output
        keeps its input's format.

        Examples
        --------
        >>> Naming(output="x.tif").fixed_format(), Naming(output="-").fixed_format()
        ('TIFF', 'PNG')
        >>> Naming(output="x.tif", format="npy").fixed_format(), Naming(outdir="o").fixed_format()
        ('NPY', None)
        """
        from .imageio import FORMATS, format_for

        if self.extension is not None:
            return FORMATS[self.extension]
        if self.output == "-":
            return "PNG"
        if self.output is not None:
            return format_for(self.output, default="") or None
        return None



def check_overwrite(*, force: bool, skip_existing: bool) -> None:
    """Refuse ``force`` with ``skip_existing``: one replaces existing outputs, the other keeps them.

    Examples
    --------
    >>> check_overwrite(force=True, skip_existing=False)
    >>> check_overwrite(force=True, skip_existing=True)
    Traceback (most recent call last):
    ...
    convcli.errors.OutputConflict: --force replaces existing outputs and --skip-existing keeps them; choose one
    """
    if force and skip_existing:
        raise OutputConflict("--force replaces existing outputs and --skip-existing keeps them; choose one")


@dataclass(frozen=True)
class Recipe:
    """What ``apply`` does to every image, and where the results go.

    Build it with :func:`build_recipe` (which checks every option) or directly
    from operations.  It is immutable and picklable: worker processes receive it.

    Attributes
    ----------
    operations : tuple of Convolve, Activate, Pooling
        In the order they run (see :mod:`convcli.pipeline`).
    channels : {"each", "sum", "gray"}
    keep_alpha : bool
        ``--alpha keep``: leave alpha as it is instead of filtering it.
    linear : bool
        ``--linear``: filter in linear light (decode sRGB first, encode the
        result back; :mod:`convcli.colour`).
    range_mode : {"clip", "abs", "normalize"}
    gain : float
        ``gain * x + offset`` before the range policy.
    offset : float or str
        In output units (128), or ``"N%"`` of each output's own full scale
        (``"50%"``: 127.5 for 8-bit, 32767.5 for 16-bit, 0.5 for float;
        :func:`convcli.depth.resolve_offset`).
    depth : {"8", "16", "float"} or None
        None follows the input (and falls back to what the format holds).
    quality : int or None
        JPEG/WebP quality.
    max_pixels : int or None
        The decompression-bomb guard (None: no limit).
    naming : Naming or None
        How outputs are named (needed by :func:`convcli.batch.plan_tasks`).
    frames : {"first", "all"}
        Multi-frame files: the first frame, or every frame as an input.
    force, skip_existing : bool
        Replace existing outputs, or leave them and skip their inputs.
    notes : tuple of str
        Warnings about the options (an option that has no effect).
    mask : str or None
        ``--mask``: an image file whose non-zero pixels are the valid ones,
        read for each input by the batch.
    tile : int or None
        ``--tile``: TIFF outputs are tiled with this tile side (a multiple of
        16), Zarr outputs chunked so; None: TIFF tiled only above 2**25
        pixels (512), Zarr chunks of 512.
    compression : str or None
        ``--compression``: a zlib level ``"0"``-``"9"`` for PNG outputs, or
        ``deflate``, ``zstd``, ``lzw``, ``none`` for TIFF and Zarr outputs;
        each output takes what fits its format
        (:func:`convcli.imageio.compression_for`).  None: each format's
        default (:mod:`convcli.imageio.compression`: level 1 for PNG,
        deflate for TIFF, zstd for Zarr).

    Examples
    --------
    >>> import pickle
    >>> from convcli.operations import Activate
    >>> recipe = Recipe(operations=(Activate("relu"),), range_mode="abs")
    >>> pickle.loads(pickle.dumps(recipe)) == recipe
    True
    """

    operations: tuple[Operation, ...] = ()
    channels: Channels = "each"
    keep_alpha: bool = False
    linear: bool = False
    range_mode: RangeMode = "clip"
    gain: float = 1.0
    offset: float | str = 0.0
    depth: Depth | None = None
    quality: int | None = None
    max_pixels: int | None = None
    naming: Naming | None = None
    frames: Frames = "first"
    force: bool = False
    skip_existing: bool = False
    notes: tuple[str, ...] = field(default=(), compare=False)
    mask: str | None = None
    tile: int | None = None
    compression: str | None = None


def _finite(value: float, option: str) -> float:
    """``value`` as a float when it is a finite number; else a :class:`UsageError` naming ``option``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise UsageError(f"{option} must be a finite number, got {value}")
    return number


def _border_value(value: float) -> float:
    """``--border-value``: a finite number, or ``nan`` (the border is missing data, as the library's ``np.nan``)."""
    try:
        if math.isnan(float(value)):
            return math.nan
    except (TypeError, ValueError):
        pass
    return _finite(value, "--border-value")


def _bounded(value: int | None, option: str, *, low: int, high: int | None = None) -> int | None:
    """``value`` when it is None or an integer in ``[low, high]``; else a :class:`UsageError`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f"from {low} to {high}" if high is not None else f">= {low}"
        raise UsageError(f"{option} must be an integer {allowed}, got {value!r}")
    return value


def _commutes_with_srgb(op: Operation) -> bool:
    """Whether ``op`` gives the same result on encoded and on linear samples (a monotonic, sign-keeping map)."""
    from .operations import Activate, Pooling

    return (isinstance(op, Pooling) and op.op in ("max", "min")) or (
        isinstance(op, Activate) and op.name in ("none", "relu", "abs"))


def _normalizable(kernels: list[Kernel], ignore: bool) -> list[Kernel]:
    """``kernels``, refusing with ``--nan ignore``/``--mask`` one whose weights sum to about 0."""
    from .engine import check_normalizable
    from .errors import ParameterError

    for k in kernels if ignore else ():
        for part in k.components if k.is_operator else (k,):
            try:
                check_normalizable(part.matrix, label=f"kernel {k.spec or 'matrix'!r}")
            except ParameterError as err:
                raise UsageError(str(err).replace("nan='ignore'", "--nan ignore (and --mask)").replace(
                    "use nan='propagate'", "use --nan propagate")) from None
    return kernels


def _check_extension(naming: Naming) -> None:
    """Refuse ``-o``/``--name`` whose extension names another format than ``--format`` (bytes and name would lie)."""
    from .imageio import FORMATS

    if naming.extension is None:
        return
    wanted = FORMATS[naming.extension]
    named = [("-o", naming.output)] if naming.output not in (None, "-") else []
    if naming.template is not None:
        named.append(("--name", naming.template))
    for option, text in named:
        assert text is not None
        ext = os.path.splitext(os.path.basename(text))[1].lower()
        found = FORMATS.get(ext) if "{" not in ext else None
        if found is not None and found != wanted:
            fix = (f"name it {os.path.splitext(text)[0]}{naming.extension}" if option == "-o"
                   else "end it in .{ext}")
            raise UsageError(f"{option} {text} is a {found} name but --format {naming.format} writes {wanted}; "
                             f"{fix}, or drop --format")


def build_recipe(
    *,
    kernels: Sequence[str] = (),
    flip: bool = False,
    normalize: bool = False,
    border: str = "reflect",
    border_value: float | None = None,
    pad: str = "same",
    stride: str = "1",
    dilation: str = "1",
    anchor: str | None = None,
    method: str = "auto",
    activation: str = "none",
    pool: str | None = None,
    channels: str = "each",
    alpha: str = "filter",
    linear: bool = False,
    range_mode: str = "clip",
    gain: float = 1.0,
    offset: float | str = 0.0,
    depth: str | None = None,
    quality: int | None = None,
    max_pixels: int | None = None,
    output: str | None = None,
    outdir: str | None = None,
    suffix: str = "",
    format: str | None = None,
    name: str | None = None,
    frames: str = "first",
    force: bool = False,
    skip_existing: bool = False,
    json_report: bool = False,
    require_operation: bool = False,
    nan: str = "propagate",
    nan_fill: float | None = None,
    mask: str | None = None,
    tile: int | None = None,
    compression: str | None = None,
) -> Recipe:
    """``apply``'s options, as typed, checked and turned into a :class:`Recipe`.

    Parameters
    ----------
    kernels : sequence of str
        Kernel specs, inline matrices or files (:func:`convcli.kernel`), run in order.
    flip, normalize : bool
        True convolution (kernels rotated 180°); kernels divided by their sum.
    border, border_value : str, float
        The border (numpy.pad's names or an alias) and the value of ``constant``.
    pad, stride, dilation, anchor : str
        ``same|valid|full|N|HxW|T,B,L,R``; ``N|HxW``; ``N|HxW``; ``R,C`` or None.
    method : str
        ``auto`` or one of :data:`convcli.engine.METHODS`.
    activation : str
        ``none`` or an activation run after the kernels.
    pool : str or None
        A pooling spec run last (``max``, ``mean:size=3,stride=2``, …).
    channels, alpha, range_mode : str
        ``each|sum|gray`` (``grey`` is ``gray``); ``filter|keep``; ``clip|abs|normalize``.
    linear : bool
        Filter in linear light (``--linear``): sRGB decoded first, the result encoded back.
    gain : float
        ``gain * x + offset`` first.
    offset : float or str
        In output units (``128``), or relative to each output's full scale
        (``"50%"``, ImageMagick's ``-bias 50%``).
    depth : str or None
        ``8``, ``16`` or ``float``; it must fit the output format when that is fixed.
    quality : int or None
        JPEG/WebP quality, 1 to 100.
    max_pixels : int or None
        The pixel limit; None for the default (256 megapixels), 0 for none.
    output, outdir, suffix, format, name : optional
        The output naming (:class:`Naming`); an ``output`` or
        ``name`` extension that disagrees with ``format`` is refused.
    frames : str
        ``first`` or ``all``.
    force, skip_existing : bool
        Replace existing outputs; leave them (not both).
    json_report : bool
        The caller prints a JSON report on stdout, so the image cannot go there.
    require_operation : bool
        Refuse a recipe without any kernel, activation or pooling (it would
        copy the image); ``apply`` sets it, and ``-k identity`` copies on purpose.
    nan, nan_fill, mask : optional
        Missing data: ``propagate`` or ``ignore`` (normalised convolution,
        :func:`convcli.correlate`'s ``nan``), the value where no valid pixel is
        seen, and an image file whose non-zero pixels are valid (implies
        ``ignore``).
    tile, compression : optional
        TIFF tile side (a multiple of 16; also the Zarr chunk side) and the
        compression: a zlib level 0-9 for PNG outputs (default 1), or a
        TIFF/Zarr codec (:data:`convcli.imageio.COMPRESSIONS`).  When the
        output format is fixed, a value it does not take is refused.

    Returns
    -------
    Recipe

    Raises
    ------
    UsageError
        For a bad option value or combination, naming the option
        (:class:`~convcli.errors.OutputConflict` for the naming options).
    KernelError
        For a kernel that cannot be used.

    Examples
    --------
    >>> recipe = build_recipe(kernels=["sobel:axis=x"], stride="2", range_mode="abs", output="edges.png")
    >>> recipe.operations[0].stride, recipe.range_mode, recipe.naming.output
    ((2, 2), 'abs', 'edges.png')
    >>> build_recipe(channels="rgb", outdir="o")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --channels must be one of each, sum, gray, got 'rgb'
    >>> build_recipe(depth="16", output="x.jpg")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --depth 16: JPEG cannot hold 16-bit samples; write .png or .tif for 16-bit, \
.tif or .npy for float, or drop --depth
    >>> build_recipe(compression="9", output="small.png").compression
    '9'
    >>> build_recipe(compression="zstd", output="x.png")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --compression zstd does not fit a PNG output, which takes a zlib level 0-9 \
(default 1); deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only
    """
    from .depth import DEPTHS, RANGES, depth_name, parse_offset
    from .engine import METHODS, NAN_MODES, normalize_border
    from .imageio import DEFAULT_MAX_PIXELS, check_tile, compression_option, depth_possible
    from .kernels import kernel
    from .operations import ACTIVATIONS, Activate, Convolve, Pooling
    from .streaming import CHANNELS

    with usage_errors():
        if json_report and output == "-":
            raise UsageError("--json prints its report on stdout, which -o - uses for the image; "
                             "write the image to a file or drop --json")
        check_overwrite(force=force, skip_existing=skip_existing)
        if not isinstance(linear, bool):
            raise UsageError(f"--linear is a flag (True or False), got {linear!r}")
        frames = parse_choice(frames, FRAMES, what="--frames")
        channels = parse_choice(CHANNEL_ALIASES.get(str(channels).strip().lower(), channels), CHANNELS,
                                what="--channels")
        alpha = parse_choice(alpha, ALPHA_MODES, what="--alpha")
        range_mode = parse_choice(range_mode, RANGES, what="--range")
        activation = parse_choice(activation, ACTIVATIONS, what="--activation")
        method = parse_choice(method, METHODS, what="--method")
        wanted = None if depth is None else cast("Depth", parse_choice(depth, DEPTHS, what="--depth"))
        gain, offset = _finite(gain, "--gain"), parse_offset(offset, what="--offset")
        border_value = None if border_value is None else _border_value(border_value)
        quality = _bounded(quality, "--quality", low=1, high=100)
        max_pixels = _bounded(max_pixels, "--max-pixels", low=0)
        stride_hw = parse_pair(stride, what="--stride")
        dilation_hw = parse_pair(dilation, what="--dilation")
        pad_amount = parse_pad(pad, what="--pad")
        anchor_rc = None if anchor is None else parse_anchor(anchor, what="--anchor")
        border = normalize_border(border)
        nan = parse_choice(nan, NAN_MODES, what="--nan")
        nan_fill = None if nan_fill is None else _finite(nan_fill, "--nan-fill")
        tile = check_tile(_bounded(tile, "--tile", low=16, high=65536), what="--tile")
        if mask is not None and os.path.isdir(mask):
            raise UsageError(f"--mask {mask} is a folder; give an image file whose non-zero pixels are the valid "
                             "ones")
        if mask is not None and not os.path.isfile(mask):
            raise UsageError(f"--mask {mask}: no such file; give an image whose non-zero pixels are the valid ones")
        ignore = nan == "ignore" or mask is not None
        if mask is not None and not kernels:
            raise UsageError(f"--mask {mask} applies to a convolution; give a kernel (-k KERNEL)")
    # a bad kernel (name, key, value, file) is a kernel error (exit 1), as in `convcli kernels show`
    loaded = [kernel(spec, normalize=normalize) for spec in kernels]
    with usage_errors():
        operations: list[Operation] = [
            Convolve(matrix, flip=flip, border=border, border_value=border_value or 0.0, pad=pad_amount,
                     stride=stride_hw, dilation=dilation_hw, method=method, anchor=anchor_rc,
                     nan="ignore" if ignore else "propagate", nan_fill=nan_fill, mask=mask if i == 0 else None)
            for i, matrix in enumerate(_normalizable(loaded, ignore))
        ]
        if activation != "none":
            operations.append(Activate(activation))
        if pool is not None:
            operations.append(Pooling.from_spec(pool, what="--pool"))
        naming = Naming(output=output, outdir=outdir, suffix=suffix, format=format, template=name)
        fixed = naming.fixed_format()
        if wanted is not None and fixed is not None and not depth_possible(fixed, wanted):
            raise UsageError(f"--depth {wanted}: {fixed} cannot hold {depth_name(wanted)} samples; write .png or "
                             ".tif for 16-bit, .tif or .npy for float, or drop --depth")
        _check_extension(naming)
        if fixed == "ZARR" and output == "-":
            raise UsageError("a Zarr store is a folder and cannot go to stdout (-o -); give -o NAME.zarr, or "
                             "--format tif for a stream")
        compression, compression_notes = compression_option(compression, fmt=fixed)
        if require_operation and not operations:
            raise UsageError("no operation given, so the output would be an unfiltered copy; give a kernel "
                             "(-k KERNEL, e.g. -k gaussian:sigma=2), --pool or --activation "
                             "(-k identity copies on purpose)")
    notes: tuple[str, ...] = ()
    if border_value is not None and border != "constant":
        notes = (f"--border-value {border_value:g} has no effect with --border {border}; "
                 "it is the value of --border constant",)
    if nan_fill is not None and not ignore:
        notes += (f"--nan-fill {nan_fill:g} has no effect with --nan propagate; it is the value --nan ignore "
                  "and --mask give where no valid pixel is seen",)
    fixed_format = naming.fixed_format()
    if tile is not None and fixed_format not in (None, "TIFF", "ZARR"):
        notes += (f"--tile has no effect on {fixed_format} outputs; it applies to .tif and .zarr outputs",)
    notes += compression_notes
    if linear and channels == "each" and operations and all(_commutes_with_srgb(op) for op in operations):
        notes += ("--linear has no effect on max/min pooling, relu and abs (they commute with the sRGB curve); "
                  "it changes kernels, mean pooling, sigmoid and tanh",)
    return Recipe(
        operations=tuple(operations), channels=cast("Channels", channels), keep_alpha=alpha == "keep",
        range_mode=cast("RangeMode", range_mode), gain=gain, offset=offset, depth=wanted, quality=quality,
        max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None),
        naming=naming, frames=cast("Frames", frames), force=force, skip_existing=skip_existing, notes=notes,
        linear=linear, mask=mask, tile=tile, compression=compression,
    )
