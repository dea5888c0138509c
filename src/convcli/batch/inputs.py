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
from typing import Literal, TypeAlias

from ..errors import ConvcliError, ImageReadError, ParameterError, UsageError

__all__ = ["FRAMES", "Frames", "Source", "check_inputs", "expand_inputs", "load_path_list", "read_path_list"]

Frames: TypeAlias = Literal["first", "all"]
FRAMES: tuple[str, ...] = ("first", "all")
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


def load_path_list(path: str | os.PathLike[str]) -> list[str]:
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
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return read_path_list(handle.read())
    except OSError as err:
        raise ImageReadError(f"--from-file {os.fspath(path)}: cannot read the list ({err.strerror or err}); "
                             "check the path") from None


def check_inputs(patterns: Sequence[str], *, from_file: str | None = None,
                 listed: Sequence[str] | None = None) -> None:
    """Refuse a batch with no inputs, or with stdin asked to carry both an image and a list.

    Parameters
    ----------
    patterns : sequence of str
        The inputs as typed (``-`` for stdin).
    from_file : str or None
        The ``--from-file`` list (``-`` for stdin).
    listed : sequence of str, optional
        The paths read from that list, once read: an empty list with no other
        input is refused too.

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
    """
    if not patterns and from_file is None:
        raise UsageError("give at least one INPUT (a file, folder, quoted glob or - for stdin), "
                         "or --from-file LIST; see convcli apply --help")
    if "-" in patterns and from_file == "-":
        raise UsageError("stdin can carry an image (INPUT -) or a list of paths (--from-file -), not both")
    if listed is not None and not listed and not patterns:
        raise UsageError(f"--from-file {from_file}: the list holds no paths")


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
    from ..imageio import image_extensions

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
    from ..imageio import count_frames

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

