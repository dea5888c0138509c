"""Many images: expanding inputs, naming outputs, workers and per-file results.

A batch runs in three steps, each a function here; none of them prints.

1. :func:`expand_inputs` turns what was typed into :class:`Source` s: files,
   folders (walked with ``recursive``; their image files only, hidden ones
   skipped), glob patterns expanded by convcli itself (quote them:
   ``'photos/**/*.jpg'``), ``-`` for stdin, and the literal paths of a list
   file (:func:`read_path_list`).  An input that is missing, a folder without
   ``recursive`` or a pattern that matches nothing becomes a failed source;
   the others still run.
2. :func:`plan_outputs` names every output (:class:`Naming`) and checks the
   whole plan before anything is written: two inputs that would write the same
   file, or an output that is another input of the batch, or an output equal
   to its own input without ``force``, raise :class:`OutputConflict` (a usage
   error, exit code 2).  Existing outputs are skipped (``skip_existing``),
   replaced (``force``) or reported as failures.
3. :func:`run_batch` reads, filters and writes each file (:func:`process_task`)
   in-process or in ``jobs`` worker processes, and returns one
   :class:`FileResult` per input, in input order.  Results are byte for byte
   the same for any number of jobs.  Writes are atomic; on Ctrl-C or
   ``SIGTERM`` the workers are stopped, their temporary files removed, and
   :class:`Interrupted` (or ``KeyboardInterrupt``) raised.

Output names, with ``--outdir DIR``: ``DIR/<relative folder>/<name>``, where the
relative folder is the file's place below the folder (or the glob's fixed
leading folder) it was found in, and ``<name>`` is the template, by default
``{stem}{suffix}.{ext}``.  Template fields: ``{stem}`` (input name without
extension), ``{ext}`` (``--format`` or the input's extension), ``{suffix}``,
``{name}`` (the input's file name), ``{parent}`` (the input's folder name),
``{index}`` (1-based position in the batch) and ``{frame}``.  Without
``--outdir``, a suffix or template writes beside each input.

Frames: by default an animated GIF or multi-page TIFF gives its first frame
(with a warning).  With ``--frames all`` each frame is an input of its own,
read with :func:`convcli.imageio.read_image`'s ``frame`` and named in messages
``anim.gif[2]``; its output is ``{stem}_{frame}{suffix}.{ext}``, the frame
number from 0, zero-padded to the width of the last one (``anim_0.png`` …
``anim_2.png``; ``-o out.png`` gives ``out_0.png`` …).  A template that uses
``{frame}`` places it itself (single-frame files give ``0``).  Several frames
cannot go to stdout.

Examples
--------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> for name in ("a.png", "b.png"):
...     open(os.path.join(folder, name), "wb").close()
>>> sources = expand_inputs([os.path.join(folder, "*.png")])
>>> [s.rel.as_posix() for s in sources]
['a.png', 'b.png']
>>> tasks = plan_outputs(sources, Naming(outdir="out", suffix="_blur", format="jpg"))
>>> [os.path.basename(t.output) for t in tasks]
['a_blur.jpg', 'b_blur.jpg']
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any, Literal, TypeAlias

from .errors import ConvcliError, Interrupted, OutputConflict, ParameterError

__all__ = [
    "FileResult",
    "Interrupted",
    "Naming",
    "OutputConflict",
    "Recipe",
    "Source",
    "Status",
    "Task",
    "default_jobs",
    "dry_run",
    "expand_inputs",
    "plan_outputs",
    "process_task",
    "read_path_list",
    "run_batch",
    "terminate_on_sigterm",
]

Status: TypeAlias = Literal["written", "skipped", "failed", "planned", "interrupted"]
Frames: TypeAlias = Literal["first", "all"]
FRAMES: tuple[str, ...] = ("first", "all")

#: the template used with --outdir/--suffix when no --name is given
DEFAULT_TEMPLATE = "{stem}{suffix}.{ext}"
TEMPLATE_FIELDS = ("stem", "ext", "suffix", "name", "parent", "index", "frame")
_MAGIC = frozenset("*?[")


# --- 1. inputs --------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One input of a batch.

    Attributes
    ----------
    path : str
        The file as it will be named in messages (``-`` for stdin).
    rel : PurePath
        Where its output goes below ``--outdir``: the name, under the folders
        between the file and the folder or glob it was found through.
    data : bytes or None
        The encoded image, for stdin.
    error : str or None
        Why this input cannot be used (missing, a folder without
        ``--recursive``, a pattern matching nothing); it is reported as a
        failed file.
    frame : int or None
        With ``--frames all``: which frame (animation) or page (TIFF) of the
        file, from 0; None for the first frame of a file used as one image.
    frames : int
        How many frames the file has (with ``--frames all``; else 1).
    """

    path: str
    rel: PurePath
    data: bytes | None = field(default=None, repr=False)
    error: str | None = None
    frame: int | None = None
    frames: int = 1

    @property
    def label(self) -> str:
        """How messages name this input: the path, or ``path[frame]`` for one frame of several."""
        return self.path if self.frame is None else f"{self.path}[{self.frame}]"


def read_path_list(text: str) -> list[str]:
    """The paths of a list file (``--from-file``): one per line, blank lines skipped.

    Paths are taken literally (no glob expansion), so ``find … -print`` output
    works; only the line end is removed, so spaces inside names are kept.

    Examples
    --------
    >>> read_path_list("a.png\\n\\n  b c.png\\r\\n")
    ['a.png', '  b c.png']
    """
    return [line for line in text.splitlines() if line.strip()]


def _has_magic(text: str) -> bool:
    return any(ch in _MAGIC for ch in text)


def _walk(folder: str, *, skip: Sequence[str], extensions: frozenset[str]) -> list[tuple[str, PurePath]]:
    """Image files below ``folder`` (hidden files and folders skipped), sorted, with their relative paths."""
    found: list[tuple[str, PurePath]] = []
    base = Path(folder)
    for root, dirs, files in os.walk(folder):
        here = os.path.realpath(root)
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) not in skip
        )
        if here in skip:
            continue
        for name in sorted(files):
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in extensions:
                continue
            path = os.path.join(root, name)
            found.append((path, PurePath(Path(path).relative_to(base).as_posix())))
    return found


def _glob_base(pattern: str) -> str:
    """The fixed leading folder of a glob pattern (``photos`` for ``photos/**/*.png``)."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts[:-1]:
        if _has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def expand_inputs(
    patterns: Sequence[str],
    *,
    listed: Sequence[str] = (),
    recursive: bool = False,
    stdin_data: bytes | None = None,
    skip_dirs: Sequence[str | os.PathLike[str]] = (),
    frames: Frames = "first",
    max_pixels: int | None = None,
) -> list[Source]:
    """Every input of a batch, in order, each file once.

    Parameters
    ----------
    patterns : sequence of str
        Files, folders, glob patterns (``*``, ``?``, ``[...]``, ``**`` for any
        depth) and ``-`` for stdin.  A name that exists is never treated as a
        pattern.
    listed : sequence of str
        Literal paths (from ``--from-file``): files or folders.
    recursive : bool, optional
        Walk folders (all depths).  Without it a folder is an error, as for
        ``cp``; folders a glob matches are skipped.
    stdin_data : bytes, optional
        The bytes read from stdin, for ``-``.
    skip_dirs : sequence of path, optional
        Folders never walked (the output folder, so a re-run does not filter
        its own outputs).
    frames : {"first", "all"}, optional
        ``first`` uses the first frame of an animation or multi-page TIFF (a
        note says there are more); ``all`` makes each frame an input of its
        own (their outputs are named ``{stem}_{frame}``; see the module notes).
        Counting frames reads each file's headers.
    max_pixels : int or None, optional
        The pixel limit, for counting frames (a file over it is left to fail
        when it is read).

    Returns
    -------
    list of Source
        Failed inputs included (with ``error`` set), so that they are reported.

    Examples
    --------
    >>> [s.error for s in expand_inputs(["no/such/file.png"])]
    ['no/such/file.png: no such file or folder; check the path']
    """
    from .imageio import image_extensions

    extensions = image_extensions()
    skip = [os.path.realpath(p) for p in skip_dirs]
    sources: list[Source] = []
    seen: set[str] = set()

    def add(path: str, rel: PurePath) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            sources.append(Source(path=path, rel=rel))

    def add_folder(path: str) -> None:
        if not recursive:
            sources.append(Source(path=path, rel=PurePath(Path(path).name),
                                  error=f"{path} is a folder; pass --recursive (-r) to filter the images inside"))
            return
        files = _walk(path, skip=skip, extensions=extensions)
        if not files:
            sources.append(Source(path=path, rel=PurePath(Path(path).name),
                                  error=f"{path}: the folder holds no image files (.png, .jpg, .tif, .npy, …)"))
        for file, rel in files:
            add(file, rel)

    def add_literal(path: str) -> None:
        if os.path.isdir(path):
            add_folder(path)
        elif os.path.lexists(path):
            add(path, PurePath(Path(path).name))
        else:
            sources.append(Source(path=path, rel=PurePath(Path(path).name),
                                  error=f"{path}: no such file or folder; check the path"))

    for item in patterns:
        if item == "-":
            if stdin_data is None:
                raise ParameterError("'-' reads an image from stdin, but no stdin data was given")
            if "-" not in seen:
                seen.add("-")
                sources.append(Source(path="-", rel=PurePath("stdin"), data=stdin_data))
        elif os.path.lexists(item) or not _has_magic(item):
            add_literal(item)
        else:
            base = _glob_base(item)
            matches = sorted(glob.glob(item, recursive=True))
            files = [m for m in matches if not os.path.isdir(m)]
            folders = [m for m in matches if os.path.isdir(m)] if recursive else []
            if not files and not folders:
                sources.append(Source(path=item, rel=PurePath("-"),
                                      error=f"{item}: no file matches this pattern; check it "
                                            "(quote it so that convcli expands it)"))
            for match in files:
                add(match, PurePath(Path(os.path.relpath(match, base)).as_posix()))
            for folder in folders:
                for file, rel in _walk(folder, skip=skip, extensions=extensions):
                    add(file, PurePath(Path(os.path.relpath(folder, base)).as_posix()) / rel)
    for item in listed:
        add_literal(item)
    if frames not in FRAMES:
        raise ParameterError(f"frames must be one of {', '.join(FRAMES)}, got {frames!r}")
    if frames == "all":
        sources = _each_frame(sources, max_pixels=max_pixels)
    return sources


def _each_frame(sources: Sequence[Source], *, max_pixels: int | None) -> list[Source]:
    """Every frame of a multi-frame file as a source of its own (``--frames all``)."""
    from .imageio import count_frames

    out: list[Source] = []
    for source in sources:
        count = 1
        if source.error is None:
            try:
                count = count_frames(source.path, data=source.data, max_pixels=max_pixels)
            except ConvcliError:
                count = 1  # reading it will report what is wrong
        if count == 1:
            out.append(source)
        else:
            out.extend(replace(source, frame=i, frames=count) for i in range(count))
    return out


# --- 2. outputs -------------------------------------------------------------


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
        Output name with fields (see the module notes), e.g. ``{stem}_blur.{ext}``.
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

            ext = "." + self.format.lower().lstrip(".")
            if ext not in FORMATS:
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


@dataclass(frozen=True)
class Task:
    """One input with its planned output.

    Attributes
    ----------
    index : int
        0-based position in the batch.
    source : Source
    output : str or None
        The output file, ``-`` for stdout, or None when naming failed.
    fmt : str or None
        The output format (``PNG``, ``NPY``, …).
    make_folder : bool
        Create the output's folder (below ``--outdir``) before writing.
    skip : bool
        The output exists and ``skip_existing`` was given.
    error : str or None
        Why this input fails before any work (bad input, output exists, …).
    """

    index: int
    source: Source
    output: str | None
    fmt: str | None
    make_folder: bool = False
    skip: bool = False
    error: str | None = None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def plan_outputs(
    sources: Sequence[Source],
    naming: Naming,
    *,
    force: bool = False,
    skip_existing: bool = False,
) -> list[Task]:
    """Name every output and check the plan as a whole before anything is written.

    Parameters
    ----------
    sources : sequence of Source
        From :func:`expand_inputs`.
    naming : Naming
        The naming options.
    force : bool, optional
        Replace existing outputs, and allow an output to replace its own input.
    skip_existing : bool, optional
        Leave existing outputs alone and mark their inputs skipped.

    Returns
    -------
    list of Task

    Raises
    ------
    OutputConflict
        For ``-o`` with several inputs, two inputs with one output, an output
        that is another input, or (without ``force``) an output that is its own
        input; every conflict is listed.

    Examples
    --------
    >>> src = [Source("a/x.png", PurePath("x.png")), Source("b/x.png", PurePath("x.png"))]
    >>> plan_outputs(src, Naming(outdir="out"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.batch.OutputConflict: 2 inputs would write the same file: a/x.png and b/x.png -> out/x.png; ...
    """
    from .imageio import FORMATS, format_for

    if force and skip_existing:
        raise OutputConflict("--force replaces existing outputs and --skip-existing keeps them; choose one")
    forced_ext = ("." + naming.format.lower().lstrip(".")) if naming.format else None
    files = list(dict.fromkeys(s.path for s in sources))  # the frames of one file count once
    if naming.output is not None and len(files) > 1:
        names = ", ".join(files[:3]) + (", …" if len(files) > 3 else "")
        raise OutputConflict(
            f"-o {naming.output} names one output, but there are {len(files)} inputs ({names}); "
            "use --outdir DIR (and --suffix/--name) for several"
        )
    if naming.output == "-" and len(sources) > 1:
        raise OutputConflict(
            f"-o - writes one image to stdout, but {sources[0].path} has {sources[0].frames} frames "
            "(--frames all); use -o FILE or --outdir DIR for them, or --frames first"
        )
    uses_frame = naming.template is not None and "{frame" in naming.template
    tasks: list[Task] = []
    for index, source in enumerate(sources):
        if source.error is not None:
            tasks.append(Task(index, source, None, None, error=source.error))
            continue
        frame = _frame_text(source)
        if naming.output == "-":
            fmt = FORMATS[forced_ext] if forced_ext else "PNG"
            tasks.append(Task(index, source, "-", fmt))
            continue
        if naming.output is not None:
            try:
                fmt = FORMATS[forced_ext] if forced_ext else format_for(naming.output)
            except ConvcliError as err:
                raise OutputConflict(f"-o {naming.output}: {err}; or give --format") from None
            out_path = naming.output
            if source.frame is not None:
                named = Path(naming.output)
                out_path = str(named.with_name(f"{named.stem}_{frame}{named.suffix}"))
            tasks.append(Task(index, source, out_path, fmt))
            continue
        in_path = Path(source.rel.as_posix()) if source.path == "-" else Path(source.path)
        stem, in_ext = in_path.stem, in_path.suffix
        if source.frame is not None and not uses_frame:
            stem = f"{stem}_{frame}"
        ext = forced_ext or (in_ext if source.path != "-" else ".png")
        out_fmt = FORMATS.get(ext.lower())
        name = (naming.template or DEFAULT_TEMPLATE).format(
            stem=stem, ext=ext.lstrip("."), suffix=naming.suffix, name=in_path.name,
            parent=Path(os.path.abspath(source.path)).parent.name if source.path != "-" else "stdin",
            index=index + 1, frame=frame,
        )
        if naming.outdir is not None:
            out = Path(naming.outdir) / Path(source.rel.as_posix()).parent / name
        elif source.path == "-":
            tasks.append(Task(index, source, None, None, error="-: stdin has no folder to write beside; "
                              "use -o FILE, -o - or --outdir"))
            continue
        else:
            out = in_path.parent / name
        if out_fmt is None:
            from .imageio import image_extensions

            if ext and ext.lower() not in image_extensions():
                problem = (f"{source.path}: {ext} is not an image format convcli reads; convert it to PNG, JPEG or "
                           "TIFF, or give a .npy array (or, if Pillow reads it anyway, choose --format png)")
            else:
                problem = (f"{source.path}: cannot write {ext or 'files without an extension'}; choose an output "
                           "format with --format (e.g. --format png)")
            tasks.append(Task(index, source, str(out), None, error=problem))
            continue
        tasks.append(Task(index, source, str(out), out_fmt, make_folder=naming.outdir is not None))
    _check_conflicts(tasks, force=force)
    return [_existing(t, force=force, skip_existing=skip_existing) for t in tasks]


def _frame_text(source: Source) -> str:
    """The frame number as written in output names: from 0, padded to the width of the last one."""
    if source.frame is None:
        return "0"
    return str(source.frame).zfill(len(str(source.frames - 1)))


def _check_conflicts(tasks: Sequence[Task], *, force: bool) -> None:
    problems: list[str] = []
    by_output: dict[str, list[Task]] = {}
    inputs = {os.path.realpath(t.source.path): t for t in tasks if t.source.path != "-" and t.error is None}
    for task in tasks:
        if task.output is None or task.output == "-" or task.error is not None:
            continue
        key = os.path.normcase(os.path.realpath(task.output))
        by_output.setdefault(key, []).append(task)
        owner = inputs.get(os.path.realpath(task.output))
        if owner is None:
            continue
        if owner is task or (task.source.path != "-" and _same_file(task.output, task.source.path)):
            if not force:
                problems.append(
                    f"{task.output} would replace its own input; pass --force to filter in place, "
                    "or choose --outdir/--suffix"
                )
        else:
            problems.append(
                f"{task.source.path} -> {task.output} would replace another input of the batch; "
                "choose another --outdir/--suffix/--name"
            )
    for group in by_output.values():
        if len(group) > 1:
            names = " and ".join(t.source.label for t in group[:3]) + (" and more" if len(group) > 3 else "")
            problems.append(
                f"{len(group)} inputs would write the same file: {names} -> {group[0].output}; "
                "use --name with {parent} or {index}, or separate --outdir runs"
            )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise OutputConflict("; ".join(problems[:5]) + more + "; nothing was written")


def _existing(task: Task, *, force: bool, skip_existing: bool) -> Task:
    if task.error is not None or task.output in (None, "-") or force:
        return task
    assert task.output is not None
    if not os.path.lexists(task.output):
        return task
    if os.path.isdir(task.output):
        return replace(task, error=f"{task.output}: is a folder; choose another output name")
    if skip_existing:
        return replace(task, skip=True)
    return replace(task, error=f"{task.output}: exists already; pass --force to overwrite it or "
                               "--skip-existing to keep it")


# --- 3. running -------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """What ``apply`` does to every image (see :mod:`convcli.pipeline`).

    Attributes
    ----------
    operations : tuple of Convolve, Activate, Pool
    channels : {"each", "sum", "gray"}
    keep_alpha : bool
        ``--alpha keep``.
    range_mode : {"clip", "abs", "normalize"}
    gain, offset : float
    depth : {"8", "16", "float"} or None
        None follows the input (and falls back to what the format holds).
    quality : int or None
        JPEG/WebP quality.
    max_pixels : int or None
        The decompression-bomb guard.
    """

    operations: tuple[Any, ...] = ()
    channels: str = "each"
    keep_alpha: bool = False
    range_mode: str = "clip"
    gain: float = 1.0
    offset: float = 0.0
    depth: str | None = None
    quality: int | None = None
    max_pixels: int | None = None


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
        The output depth actually written (``8``, ``16``, ``float``).
    format : str or None
    steps : list of Step
        Dry runs: the shapes through each operation and the chosen methods.
    seconds : float
    payload : bytes or None
        The encoded image for stdout.
    frame : int or None
        The frame of ``input`` (``--frames all``), else None.
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
            "error": self.error,
            "warnings": list(self.warnings),
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "depth": self.depth,
            "format": self.format,
            "steps": [
                {"operation": s.operation, "input": list(s.input), "output": list(s.output),
                 "method": s.method, "reason": s.reason}
                for s in self.steps
            ],
            "seconds": round(self.seconds, 4),
        }


def _result(task: Task, status: Status, **details: Any) -> FileResult:
    """A :class:`FileResult` for ``task``."""
    return FileResult(task.index, task.source.path, task.output, status, frame=task.source.frame, **details)


def _named(path: str, message: str) -> str:
    """``message`` starting with the file's name, exactly once."""
    return message if message.startswith(path) else f"{path}: {message}"


def _output_depth(recipe: Recipe, dtype: Any, fmt: str, channels: int, output: str) -> tuple[str, list[str]]:
    from .imageio import fit_depth
    from .pipeline import natural_depth

    wanted = recipe.depth or natural_depth(dtype)
    depth = fit_depth(fmt, wanted, channels, strict=recipe.depth is not None)  # type: ignore[arg-type]
    notes = []
    if depth != wanted:
        names = {"8": "8-bit", "16": "16-bit", "float": "float"}
        notes.append(f"{output}: {fmt} cannot hold {names[wanted]} data here; wrote {names[depth]} "
                     "(use .npy, .tif or .png to keep more, or --depth)")
    return depth, notes


def process_task(task: Task, recipe: Recipe, *, overwrite: bool = False) -> FileResult:
    """Read, filter and write one input; every :class:`ConvcliError` becomes a failed result.

    Parameters
    ----------
    task : Task
        From :func:`plan_outputs`.
    recipe : Recipe
        The operations and output policy.
    overwrite : bool, optional
        Replace an existing output (``--force``).

    Returns
    -------
    FileResult
        ``written`` (with ``payload`` for stdout), ``skipped`` or ``failed``.
    """
    name = task.source.label
    if task.error is not None:
        return _result(task, "failed", error=_named(name, task.error))
    if task.skip:
        return _result(task, "skipped")
    assert task.output is not None and task.fmt is not None
    start = time.perf_counter()
    try:
        return _process(task, recipe, overwrite=overwrite, start=start)
    except ConvcliError as err:
        return _result(task, "failed", error=_named(name, str(err)),
                          seconds=time.perf_counter() - start)
    except MemoryError:
        return _result(task, "failed", seconds=time.perf_counter() - start,
                          error=f"{name}: not enough memory to filter this image; use fewer --jobs or a smaller image")


def _process(task: Task, recipe: Recipe, *, overwrite: bool, start: float) -> FileResult:
    from .imageio import encode_image, read_image, write_image
    from .pipeline import filter_to_depth, output_channels

    assert task.output is not None and task.fmt is not None
    array, info = read_image(task.source.path, max_pixels=recipe.max_pixels, data=task.source.data,
                             frame=task.source.frame)
    input_shape = tuple(array.shape)
    channels = output_channels(1 if array.ndim == 2 else int(array.shape[2]),
                               channels=recipe.channels, alpha=info.alpha)  # type: ignore[arg-type]
    out_alpha = info.alpha and recipe.channels != "sum" and channels in (2, 4)
    depth, notes = _output_depth(recipe, array.dtype, task.fmt, channels, task.output)
    # one convolution (+ activations) streams in strips straight to the output depth: the float result
    # of the whole image is never held (same bytes as filter_image + to_depth)
    samples = filter_to_depth(array, recipe.operations, depth=depth,  # type: ignore[arg-type]
                              channels=recipe.channels, alpha=info.alpha,  # type: ignore[arg-type]
                              keep_alpha=recipe.keep_alpha, range_mode=recipe.range_mode,  # type: ignore[arg-type]
                              gain=recipe.gain, offset=recipe.offset, out_alpha=out_alpha)
    del array
    if depth == "float" and task.fmt != "NPY":
        samples = samples.astype("float32")
    found = _result(task, "written", warnings=[*info.notes, *notes],
                       input_shape=input_shape, output_shape=tuple(samples.shape), depth=depth,
                       format=task.fmt)
    if task.output == "-":
        found.payload = encode_image(samples, task.fmt, info=info, name="-", quality=recipe.quality)
    else:
        write_image(task.output, samples, info=info, fmt=task.fmt, quality=recipe.quality, overwrite=overwrite)
    found.seconds = time.perf_counter() - start
    return found


def dry_run(tasks: Sequence[Task], recipe: Recipe) -> list[FileResult]:
    """What :func:`run_batch` would do, from image headers only; nothing is written.

    Each result is ``planned`` (with the output path, the shapes through each
    operation and the methods ``auto`` chooses) or ``failed``.
    """
    from .imageio import probe_image
    from .pipeline import output_channels, plan_steps

    results = []
    for task in tasks:
        name = task.source.label
        if task.error is not None:
            results.append(_result(task, "failed", error=_named(name, task.error)))
            continue
        if task.skip:
            results.append(_result(task, "skipped"))
            continue
        assert task.output is not None and task.fmt is not None
        try:
            shape, dtype, info = probe_image(task.source.path, max_pixels=recipe.max_pixels, data=task.source.data,
                                             frame=task.source.frame)
            steps = plan_steps(shape, recipe.operations, dtype=dtype, channels=recipe.channels,  # type: ignore[arg-type]
                               alpha=info.alpha)
            c_in = 1 if len(shape) == 2 else shape[2]
            channels = output_channels(c_in, channels=recipe.channels, alpha=info.alpha)  # type: ignore[arg-type]
            depth, notes = _output_depth(recipe, dtype, task.fmt, channels, task.output)
        except ConvcliError as err:
            results.append(_result(task, "failed", error=_named(name, str(err))))
            continue
        out_shape = steps[-1].output if steps else shape
        results.append(_result(task, "planned", warnings=[*info.notes, *notes],
                                  input_shape=tuple(shape), output_shape=tuple(out_shape), depth=depth,
                                  format=task.fmt, steps=steps))
    return results


def default_jobs() -> int:
    """The number of usable cores.

    Examples
    --------
    >>> default_jobs() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn ``SIGTERM`` into :class:`Interrupted` for the duration (main thread only).

    So that ``finally`` blocks run and temporary files are removed, as for Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Hold off Ctrl-C and SIGTERM while cleaning up after one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _remove_temp_files(tasks: Sequence[Task]) -> None:
    from .imageio import leftover_temp_files

    for task in tasks:
        if task.output and task.output != "-":
            for leftover in leftover_temp_files(task.output):
                with contextlib.suppress(OSError):
                    leftover.unlink()


@contextlib.contextmanager
def _engine_threads(threads: int | None) -> Iterator[None]:
    """Set ``CONVCLI_THREADS`` for the duration (the engine reads it on every call); None: leave it."""
    if threads is None:
        yield
        return
    previous = os.environ.get("CONVCLI_THREADS")
    os.environ["CONVCLI_THREADS"] = str(threads)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CONVCLI_THREADS", None)
        else:
            os.environ["CONVCLI_THREADS"] = previous


# worker processes --------------------------------------------------------------

_IN_TASK = False


def _worker_sigterm(signum: int, frame: object) -> None:
    if _IN_TASK:
        raise Interrupted()  # unwinds through write_image's clean-up, then _worker_run exits
    os._exit(128 + signal.SIGTERM)


def _worker_init() -> None:
    os.environ["CONVCLI_THREADS"] = "1"  # the workers share the cores; see run_batch
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the workers
    signal.signal(signal.SIGTERM, _worker_sigterm)


def _worker_run(task: Task, recipe: Recipe, overwrite: bool) -> FileResult:
    global _IN_TASK
    _IN_TASK = True
    try:
        return _guarded(task, recipe, overwrite=overwrite)
    except Interrupted:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_TASK = False


def _guarded(task: Task, recipe: Recipe, *, overwrite: bool) -> FileResult:
    """:func:`process_task`, with an unexpected exception (a bug) reported as this file's failure."""
    try:
        return process_task(task, recipe, overwrite=overwrite)
    except Exception as err:  # a bug: report it on this file, keep the batch going
        return _result(task, "failed",
                          error=f"{task.source.label}: unexpected {type(err).__name__}: {err} "
                                "(a bug in convcli; please report it)")


def _context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["convcli.batch", "convcli.pipeline", "convcli.imageio"])
    return ctx


def _stop(executor: ProcessPoolExecutor) -> None:
    """Stop the workers now: SIGTERM (they remove their temporary files), then SIGKILL stragglers."""
    processes = list(getattr(executor, "_processes", {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + 5.0
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)
    executor.shutdown(wait=True, cancel_futures=True)


def run_batch(
    tasks: Sequence[Task],
    recipe: Recipe,
    *,
    jobs: int = 1,
    force: bool = False,
    fail_fast: bool = False,
    on_result: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Process every task and return one result per task, in task order.

    Parameters
    ----------
    tasks : sequence of Task
        From :func:`plan_outputs`.
    recipe : Recipe
    jobs : int, optional
        Worker processes; 1 works in this process.  When there are several
        files to filter, each is filtered by one engine thread
        (``CONVCLI_THREADS=1``), here or in a worker, so that the cores are
        shared without oversubscription and the bytes written do not depend
        on ``jobs`` (the engine's results may differ in the last bit with the
        thread count).  A single file uses all the engine's threads.
    force : bool, optional
        Replace existing outputs.
    fail_fast : bool, optional
        Stop at the first failure: nothing new is started, running files
        finish, the rest are ``skipped``.
    on_result : callable, optional
        Called in this process with each result as it is ready (for progress).

    Raises
    ------
    KeyboardInterrupt, Interrupted
        After stopping the workers and removing temporary files; outputs
        already written are complete.
    """
    from .imageio import ImageWriteError

    results: dict[int, FileResult] = {}
    stop = False

    def record(result: FileResult) -> None:
        nonlocal stop
        results[result.index] = result
        if result.status == "failed" and fail_fast:
            stop = True
        if on_result is not None:
            on_result(result)

    work: list[Task] = []
    for task in tasks:
        if task.error is not None or task.skip:
            record(process_task(task, recipe))
        else:
            work.append(task)
    folders_made: set[str] = set()

    def prepare(task: Task) -> FileResult | None:
        if task.make_folder and task.output:
            folder = os.path.dirname(task.output) or "."
            if folder not in folders_made:
                try:
                    os.makedirs(folder, exist_ok=True)
                except OSError as err:
                    error = ImageWriteError(f"{task.output}: cannot create the folder {folder!r} "
                                            f"({err.strerror or err}); check the permissions")
                    return _result(task, "failed", error=str(error))
                folders_made.add(folder)
        return None

    jobs = max(1, min(jobs, len(work))) if work else 1
    try:
        if stop:
            pass
        elif jobs == 1:
            with _engine_threads(1 if len(work) > 1 else None):
                for task in work:
                    if stop:
                        break
                    record(prepare(task) or _guarded(task, recipe, overwrite=force))
        else:
            _run_pool(work, recipe, jobs=jobs, force=force, prepare=prepare, record=record,
                      should_stop=lambda: stop)
    except BaseException:
        with _signals_ignored():
            _remove_temp_files(tasks)
        raise
    for task in tasks:
        if task.index not in results:
            results[task.index] = _result(task, "skipped",
                                             error="not started: --fail-fast stopped the batch")
    return [results[t.index] for t in tasks]


def _run_pool(work: Sequence[Task], recipe: Recipe, *, jobs: int, force: bool,
              prepare: Callable[[Task], FileResult | None], record: Callable[[FileResult], None],
              should_stop: Callable[[], bool]) -> None:
    pending = list(reversed(work))
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_worker_init)
    running: dict[Future[FileResult], Task] = {}
    try:
        while pending or running:
            while pending and len(running) < 2 * jobs and not should_stop():
                task = pending.pop()
                failed = prepare(task)
                if failed is not None:
                    record(failed)
                    continue
                try:
                    future = executor.submit(_worker_run, task, recipe, force)
                except BrokenProcessPool:
                    pending.append(task)
                    executor.shutdown(wait=True, cancel_futures=True)
                    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(),
                                                   initializer=_worker_init)
                    continue
                running[future] = task
            if should_stop():
                pending.clear()
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                task = running.pop(future)
                try:
                    record(future.result())
                except BrokenProcessPool:
                    broken = True
                    record(_result(task, "failed",
                                      error=f"{task.source.label}: the worker process died while filtering it "
                                            "(out of memory?); try --jobs 1"))
            if broken:
                for future, task in list(running.items()):
                    running.pop(future)
                    record(_result(task, "failed",
                                      error=f"{task.source.label}: the worker process pool broke while filtering "
                                            "it (out of memory?); try --jobs 1"))
                executor.shutdown(wait=True, cancel_futures=True)
                _remove_temp_files(work)
                executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_worker_init)
    except BaseException:
        with _signals_ignored():
            _stop(executor)
        raise
    executor.shutdown(wait=True)
