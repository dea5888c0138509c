"""Expanding what was typed into the inputs of a batch: files, folders, globs, stdin, lists, frames.

Examples
--------
>>> read_path_list("a.png\\nb.png\\n")
['a.png', 'b.png']
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from ..errors import ConvcliError, ImageReadError, ParameterError, UsageError
from ..recipe import FRAMES, Frames

__all__ = ["Source", "check_inputs", "expand_inputs", "load_path_list", "read_path_list"]

_MAGIC = frozenset("*?[")



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
        Why this input cannot be used (missing, an empty folder, a pattern
        matching nothing); it is reported as a failed file.
    skipped : str or None
        Why this file, found in a folder or by a pattern, is left alone (it
        lies inside the output folder); it is reported as skipped, with this
        reason.
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
    skipped: str | None = None
    frame: int | None = None
    frames: int = 1

    @property
    def label(self) -> str:
        """How messages name this input: the path, or ``path[frame]`` for one frame of several."""
        return self.path if self.frame is None else f"{self.path}[{self.frame}]"


def read_path_list(text: str, *, null: bool = False) -> list[str]:
    """The paths of a list file (``--from-file``): one per line, blank lines skipped.

    Paths are taken literally (no glob expansion), so ``find … -print`` output
    works; only the line end is removed, so spaces inside names are kept.
    With ``null`` (``-0``/``--null``, as ``xargs -0``) the paths are separated
    by NUL characters instead (``find … -print0``): a name may then hold a
    newline; only empty entries are skipped.

    Examples
    --------
    >>> read_path_list("a.png\\n\\n  b c.png\\r\\n")
    ['a.png', '  b c.png']
    >>> read_path_list("a.png\\0new\\nline.png\\0", null=True)
    ['a.png', 'new\\nline.png']
    """
    if null:
        return [entry for entry in text.split("\0") if entry]
    return [line for line in text.splitlines() if line.strip()]


def load_path_list(path: str | os.PathLike[str], *, null: bool = False) -> list[str]:
    """The paths listed in the file ``path`` (``--from-file LIST``), read as :func:`read_path_list` reads text.

    Raises
    ------
    ImageReadError
        When the list cannot be read, naming it.

    Examples
    --------
    >>> load_path_list("no/such/list.txt")
    Traceback (most recent call last):
    ...
    convcli.errors.ImageReadError: --from-file no/such/list.txt: cannot read the list (No such file or directory); \
check the path
    """
    try:
        with open(path, "rb") as handle:
            return read_path_list(handle.read().decode("utf-8", errors="surrogateescape"), null=null)
    except OSError as err:
        raise ImageReadError(f"--from-file {os.fspath(path)}: cannot read the list ({err.strerror or err}); "
                             "check the path") from None


def check_inputs(patterns: Sequence[str], *, from_file: str | None = None,
                 listed: Sequence[str] | None = None, base: str | None = None,
                 named_output: bool = True, null: bool = False) -> None:
    """Refuse a batch with no inputs, stdin asked to carry both an image and a list, or a misplaced output.

    Parameters
    ----------
    patterns : sequence of str
        The inputs as typed (``-`` for stdin).
    from_file : str or None
        The ``--from-file`` list (``-`` for stdin).
    listed : sequence of str, optional
        The paths read from that list, once read: an empty list with no other
        input is refused too.
    base : str or None, optional
        ``--base DIR``: the folder the listed paths are relative to; it must
        be a folder, and it needs ``from_file``.
    named_output : bool, optional
        Whether an output option (``-o``, ``--outdir``, ``--suffix``,
        ``--name``) says where the outputs go.  Without one, two paths of
        which the second is missing and has an image extension are the
        ImageMagick/vips order ``in.jpg out.jpg``: refused with a hint to
        ``-o``.
    null : bool, optional
        ``-0``/``--null``: the list is NUL-separated; it needs ``from_file``.

    Raises
    ------
    UsageError
        Naming the options involved.

    Examples
    --------
    >>> check_inputs(["a.png"])
    >>> check_inputs([])
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: give at least one INPUT (a file, folder, quoted glob or - for stdin), or \
--from-file LIST; see convcli apply --help
    >>> check_inputs([], from_file="list.txt", listed=[])
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --from-file list.txt: the list holds no paths
    >>> check_inputs(["in.png", "no/such/out.jpg"], named_output=False)
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: no/such/out.jpg does not exist, and INPUT... takes only inputs; did you mean \
-o no/such/out.jpg? (convcli apply in.png -o no/such/out.jpg ...)
    """
    if not patterns and from_file is None:
        raise UsageError("give at least one INPUT (a file, folder, quoted glob or - for stdin), "
                         "or --from-file LIST; see convcli apply --help")
    if "-" in patterns and from_file == "-":
        raise UsageError("stdin can carry an image (INPUT -) or a list of paths (--from-file -), not both")
    if null and from_file is None:
        raise UsageError("-0/--null says the --from-file list is NUL-separated (find -print0); "
                         "add --from-file LIST or drop -0")
    if base is not None:
        if from_file is None:
            raise UsageError(f"--base {base} is the folder --from-file paths are relative to; "
                             "add --from-file LIST or drop --base")
        if not os.path.isdir(base):
            raise UsageError(f"--base {base}: no such folder; give the folder the listed paths are relative to")
    if not named_output and from_file is None and len(patterns) == 2:
        from ..imageio import image_extensions

        first, second = patterns
        if (second != "-" and not _has_magic(second) and not os.path.lexists(second)
                and os.path.splitext(second)[1].lower() in image_extensions()):
            raise UsageError(f"{second} does not exist, and INPUT... takes only inputs; did you mean -o {second}? "
                             f"(convcli apply {first} -o {second} ...)")
    if listed is not None and not listed and not patterns:
        raise UsageError(f"--from-file {from_file}: the list holds no paths")


def _has_magic(text: str) -> bool:
    return any(ch in _MAGIC for ch in text)


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it (both absolute, normalised)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _is_store(path: str) -> bool:
    """Whether ``path`` is a Zarr store (a folder named ``*.zarr``): one image, not a folder of them."""
    return path.lower().rstrip("/" + os.sep).endswith(".zarr") and os.path.isdir(path)


def _walk(folder: str, *, recursive: bool, skip: Sequence[str],
          extensions: frozenset[str]) -> list[tuple[str, PurePath]]:
    """Image files (and Zarr stores) in ``folder`` (below it too with ``recursive``; hidden ones skipped),
    sorted, with their paths relative to it.  Zarr stores are never walked into."""
    found: list[tuple[str, PurePath]] = []
    base = Path(folder)
    for root, dirs, files in os.walk(folder):
        if os.path.realpath(root) in skip:  # a folder never walked, with all below it
            dirs[:] = []
            continue
        stores = [d for d in dirs if d.lower().endswith(".zarr") and not d.startswith(".")]
        dirs[:] = sorted(
            d for d in dirs
            if recursive and not d.startswith(".") and d not in stores
            and os.path.realpath(os.path.join(root, d)) not in skip
        )
        for name in sorted([*files, *stores]):
            if name.startswith(".") or (name not in stores and os.path.splitext(name)[1].lower() not in extensions):
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


def _fold_case(text: str) -> str:
    """One glob part matching names in any case: ``*.jpg`` becomes ``*.[jJ][pP][gG]``; ``[a-c]`` ``[a-cA-C]``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "[":
            j = i + 1
            if j < len(text) and text[j] == "!":
                j += 1
            if j < len(text) and text[j] == "]":
                j += 1
            close = text.find("]", j)
            if close != -1:
                body = text[i + 1 : close]
                negate = body.startswith("!")
                chars = body[1:] if negate else body
                extra = chars.swapcase().replace("]", "") if chars.swapcase() != chars else ""
                out.append("[" + ("!" if negate else "") + chars + extra + "]")
                i = close + 1
                continue
        out.append(f"[{ch.lower()}{ch.upper()}]" if ch.lower() != ch.upper() else ch)
        i += 1
    return "".join(out)


def _ignore_case(pattern: str) -> str:
    """``pattern`` with its wildcard part matching any case (the fixed leading folders stay as typed).

    Examples
    --------
    >>> _ignore_case("Photos/*.jpg")
    'Photos/*.[jJ][pP][gG]'
    >>> _ignore_case("IMG_[0-9]*.png")
    '[iI][mM][gG]_[0-9]*.[pP][nN][gG]'
    """
    parts = pattern.split("/")
    first = next((i for i, part in enumerate(parts) if _has_magic(part)), len(parts))
    return "/".join(parts[:first] + [_fold_case(part) for part in parts[first:]])


def expand_inputs(
    patterns: Sequence[str],
    *,
    listed: Sequence[str] = (),
    recursive: bool = False,
    stdin_data: bytes | None = None,
    skip_dirs: Sequence[str | os.PathLike[str]] = (),
    outdir: str | os.PathLike[str] | None = None,
    base: str | os.PathLike[str] | None = None,
    ignore_case: bool = False,
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
        Literal paths (from ``--from-file``): files or folders.  Their place
        below ``--outdir`` is their path relative to ``base``, as rsync's
        ``--files-from``; a path outside ``base`` keeps its place as
        ``cp --parents`` and tar do: as written, an absolute path without its
        leading ``/`` (``/data/a.png`` gives ``data/a.png``).
    recursive : bool, optional
        Walk folders to any depth.  Without it a folder gives the image files
        directly inside it; folders a glob matches are skipped.
    stdin_data : bytes, optional
        The bytes read from stdin, for ``-``.
    skip_dirs : sequence of path, optional
        Folders never walked, with everything below them.
    outdir : path, optional
        The output folder (``--outdir``).  When it lies below a folder that is
        walked (or below a glob's fixed leading folder), the files found in it
        are sources with ``skipped`` set (taken for earlier outputs, reported
        as skipped with the reason); when it is that folder (in-place work),
        its files are inputs.
    base : path, optional
        The folder ``listed`` paths are relative to (``--base``); default the
        current folder.
    ignore_case : bool, optional
        Glob patterns match names in any case (``*.jpg`` finds ``A.JPG``); the
        fixed leading folders of a pattern are taken as typed.
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
        Failed and skipped inputs included (with ``error`` or ``skipped``
        set), so that they are reported.

    Examples
    --------
    >>> [s.error for s in expand_inputs(["no/such/file.png"])]
    ['no/such/file.png: no such file or folder; check the path']
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("a.png", "old/a.png"):
    ...     os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
    ...     open(os.path.join(folder, name), "wb").close()
    >>> [(s.rel.as_posix(), s.skipped is None) for s in expand_inputs([folder])]  # no -r: the top only
    [('a.png', True)]
    >>> [(s.rel.as_posix(), s.skipped is None)
    ...  for s in expand_inputs([folder], recursive=True, outdir=os.path.join(folder, "old"))]
    [('a.png', True), ('old/a.png', False)]
    """
    from ..imageio import image_extensions

    looked_up: list[frozenset[str]] = []

    def extensions() -> frozenset[str]:
        """The image extensions, looked up at the first folder: a run of named files never loads every Pillow plugin."""
        if not looked_up:
            looked_up.append(image_extensions())
        return looked_up[0]

    skip = {os.path.realpath(p) for p in skip_dirs}
    out_real = os.path.realpath(outdir) if outdir is not None else None
    out_name = os.fspath(outdir) if outdir is not None else ""
    base_abs = os.path.abspath(base if base is not None else os.curdir)
    sources: list[Source] = []
    seen: set[str] = set()
    real_roots: dict[str, str] = {}

    def held(path: str, root: str) -> str | None:
        """Why ``path``, found below ``root``, is left alone: it lies in an output folder inside ``root``."""
        if out_real is None:
            return None
        if root not in real_roots:
            real_roots[root] = os.path.realpath(root)
        root_real = real_roots[root]
        if out_real == root_real or not _inside(out_real, root_real):
            return None
        if not _inside(os.path.realpath(os.path.dirname(path) or os.curdir), out_real):
            return None
        return (f"in the output folder {out_name} below {root}, so taken for an earlier output; "
                f"choose an --outdir outside {root} to filter it")

    def add(path: str, rel: PurePath, *, root: str | None = None) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            sources.append(Source(path=path, rel=rel, skipped=held(path, root) if root is not None else None))

    def add_folder(path: str, prefix: PurePath) -> None:
        files = _walk(path, recursive=recursive, skip=list(skip), extensions=extensions())
        if not files:
            hint = "" if recursive or not _has_subfolders(path) else "; pass -r to filter its sub-folders too"
            what = "no image files" if recursive else "no image files directly inside"
            sources.append(Source(path=path, rel=PurePath(Path(path).name),
                                  error=f"{path}: the folder holds {what} (.png, .jpg, .tif, .npy, …){hint}"))
        for file, rel in files:
            add(file, prefix / rel, root=path)

    def listed_place(path: str) -> PurePath | None:
        """A listed path relative to ``base``, or None when it is outside it."""
        try:
            rel = os.path.relpath(os.path.abspath(path), base_abs)
        except ValueError:  # another drive
            return None
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            return None
        return PurePath(Path(rel).as_posix())

    def parents_place(path: str) -> PurePath:
        """A listed path outside ``base``, as ``cp --parents`` and tar keep it: as written, the leading ``/`` dropped.

        A relative path that climbs out (``../x.png``) is taken from its absolute path.
        """
        written = os.path.normpath(path)
        if not os.path.isabs(written) and written != os.pardir and not written.startswith(os.pardir + os.sep):
            return PurePath(Path(written).as_posix())
        absolute = Path(os.path.abspath(path))
        return PurePath(*absolute.parts[1:]) if len(absolute.parts) > 1 else PurePath()

    def add_literal(path: str, *, from_list: bool = False) -> None:
        place, prefix = PurePath(Path(path).name), PurePath()
        if from_list:
            found = listed_place(path)
            if found is None:
                found = parents_place(path)
            if found.as_posix() != ".":
                place = prefix = found
        if os.path.isdir(path) and not _is_store(path):
            add_folder(path, prefix)
        elif os.path.lexists(path):
            add(path, place)
        else:
            sources.append(Source(path=path, rel=place, error=f"{path}: no such file or folder; check the path"))

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
            root = _glob_base(item)
            matches = sorted(glob.glob(_ignore_case(item) if ignore_case else item, recursive=True))
            files = [m for m in matches if not os.path.isdir(m) or _is_store(m)]
            folders = [m for m in matches if os.path.isdir(m) and not _is_store(m)] if recursive else []
            if not files and not folders:
                sources.append(Source(path=item, rel=PurePath("-"),
                                      error=f"{item}: no file matches this pattern; check it "
                                            "(quote it so that convcli expands it)"))
            for match in files:
                add(match, PurePath(Path(os.path.relpath(match, root)).as_posix()), root=root)
            for folder in folders:
                for file, rel in _walk(folder, recursive=True, skip=list(skip), extensions=extensions()):
                    add(file, PurePath(Path(os.path.relpath(folder, root)).as_posix()) / rel, root=root)
    for item in listed:
        add_literal(item, from_list=True)
    if frames not in FRAMES:
        raise ParameterError(f"frames must be one of {', '.join(FRAMES)}, got {frames!r}")
    if frames == "all":
        sources = _each_frame(sources, max_pixels=max_pixels)
    return sources


def _has_subfolders(folder: str) -> bool:
    with os.scandir(folder) as entries:
        return any(e.is_dir() and not e.name.startswith(".") for e in entries)


def _each_frame(sources: Sequence[Source], *, max_pixels: int | None) -> list[Source]:
    """Every frame of a multi-frame file as a source of its own (``--frames all``)."""
    from ..imageio import count_frames

    out: list[Source] = []
    for source in sources:
        count = 1
        if source.error is None and source.skipped is None:
            try:
                count = count_frames(source.path, data=source.data, max_pixels=max_pixels)
            except ConvcliError:
                count = 1  # reading it will report what is wrong
        if count == 1:
            out.append(source)
        else:
            out.extend(replace(source, frame=i, frames=count) for i in range(count))
    return out

