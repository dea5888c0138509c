"""Atomic writes: every output goes to a temporary name in its folder, renamed over the target once complete.

The temporary file is ``.NAME.<random>.convcli-tmp`` (a folder of that name
for a Zarr store, :func:`atomic_folder`) in the destination folder; it is
renamed over the target only once complete (without overwriting, unless
asked, an output that appeared meanwhile), so an interrupted run leaves
complete outputs or none.  A failed write (a full disk, a read-only folder)
removes the temporary file and raises an
:class:`~convcli.errors.ImageWriteError` naming the path, the reason and the
fix.  The destination folder must exist (``-o`` never creates folders;
``--outdir`` does, in :mod:`convcli.batch`).  A hard kill can leave a
temporary file; :func:`leftover_temp_files` finds them for clean-up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ..errors import ImageWriteError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_file",
    "atomic_folder",
    "check_target",
    "hand_over_interrupts",
    "leftover_temp_files",
    "leftover_temp_files_of",
    "raise_pending_interrupt",
    "remove_temp_files",
    "remove_temp_files_of",
    "signals_deferred",
    "write_bytes_atomic",
]

#: the end of every temporary file name the writers use
TEMP_SUFFIX = ".convcli-tmp"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def leftover_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files (and Zarr folders) the writers may have left for ``path`` if killed.

    A normal exit, an exception or Ctrl-C removes them; only a hard kill
    (``SIGKILL``, power loss) can leave one, which this finds for clean-up
    (:func:`remove_temp_files` removes them, folders too).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> leftover_temp_files(os.path.join(folder, "out.png"))
    []
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        return []
    prefix = _temp_prefix(target)
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(TEMP_SUFFIX))


def remove_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Remove what :func:`leftover_temp_files` finds for ``path`` (files and folders); returns what it removed.

    An old store that a replacement set aside (``.NAME.<hex>.old.convcli-tmp``)
    is renamed back to ``path`` instead when ``path`` is missing.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(folder, ".out.zarr.x1.convcli-tmp"))
    >>> [p.name for p in remove_temp_files(os.path.join(folder, "out.zarr"))], os.listdir(folder)
    (['.out.zarr.x1.convcli-tmp'], [])
    """
    found = leftover_temp_files(path)
    for leftover in found:
        _clean_up(leftover)
    return found


def leftover_temp_files_of(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """:func:`leftover_temp_files` for many outputs at once: each folder is listed once.

    For a batch's clean-up after a worker was killed: a million outputs in
    one folder cost one listing, not a million.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> stray = os.path.join(folder, ".b.png.k2j4_x9q" + TEMP_SUFFIX)
    >>> open(stray, "wb").close()
    >>> [p.name for p in leftover_temp_files_of([os.path.join(folder, n) for n in ("a.png", "b.png")])]
    ['.b.png.k2j4_x9q.convcli-tmp']
    """
    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        target = Path(path)
        by_folder.setdefault(target.parent, set()).add(target.name)
    found: list[Path] = []
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:  # .NAME.<random, no dot>.convcli-tmp (tempfile's), .NAME.<hex>.old.convcli-tmp
            name = entry.name
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                stem = name[1:-len(TEMP_SUFFIX)]
                stem = stem[: -len(_OLD_MARK)] if stem.endswith(_OLD_MARK) else stem
                if stem.rpartition(".")[0] in names:
                    found.append(folder / name)
    return sorted(found)


def remove_temp_files_of(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Remove what :func:`leftover_temp_files_of` finds (files, and the folders of Zarr outputs).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(folder, ".a.zarr.q1" + TEMP_SUFFIX))
    >>> [p.name for p in remove_temp_files_of([os.path.join(folder, "a.zarr")])], os.listdir(folder)
    (['.a.zarr.q1.convcli-tmp'], [])
    """
    found = leftover_temp_files_of(paths)
    for leftover in found:
        with contextlib.suppress(OSError):
            _clean_up(leftover)
    return found


def _clean_up(leftover: Path) -> None:
    """Remove a leftover; an old store set aside whose target is gone (a kill between two renames) is put back.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / ".a.zarr.1f2e3d4c.old.convcli-tmp").mkdir()
    >>> _clean_up(folder / ".a.zarr.1f2e3d4c.old.convcli-tmp"); os.listdir(folder)
    ['a.zarr']
    """
    if leftover.name.endswith(_OLD_MARK + TEMP_SUFFIX):
        target = leftover.parent / leftover.name[1 : -len(_OLD_MARK + TEMP_SUFFIX)].rpartition(".")[0]
        if not os.path.lexists(target):
            os.rename(leftover, target)
            return
    _remove(leftover)


def write_bytes_atomic(path: str | os.PathLike[str], payload: bytes, *, overwrite: bool = True) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder.

    Parameters
    ----------
    path : str or path-like
        The target.
    payload : bytes
        The complete file.
    overwrite : bool, optional
        Replace an existing file.  Without it, an existing target (even one
        that appeared while writing) is left alone and an error raised.

    Raises
    ------
    ImageWriteError
        Naming the path; no temporary file is left behind.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> write_bytes_atomic(target, b"abc"); Path(target).read_bytes()
    b'abc'
    >>> write_bytes_atomic(target, b"xyz", overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ImageWriteError: ...a.bin: exists already; pass --force to overwrite it or --skip-existing to keep it
    """
    with atomic_file(path, overwrite=overwrite) as handle:
        handle.write(payload)


def _exists_message(target: Path) -> str:
    return f"{target}: exists already; pass --force to overwrite it or --skip-existing to keep it"


def _is_store(path: Path) -> bool:
    """Whether a folder is a Zarr *array* store (what convcli writes, so may replace with --force).

    Not a folder of other things, and not a Zarr group, which may hold more than one image (an OME-Zarr
    pyramid, labels): replacing it would lose them.
    """
    if (path / ".zarray").is_file():
        return True
    meta = path / "zarr.json"
    try:
        import json

        return bool(meta.is_file() and json.loads(meta.read_text()).get("node_type") == "array")
    except (OSError, ValueError, AttributeError):
        return False


def check_target(path: str | os.PathLike[str], *, overwrite: bool = True, folder_ok: bool = False) -> Path:
    """The target's folder, after refusing what cannot be written: no folder, a folder as target, an existing file.

    Parameters
    ----------
    path : str or path-like
        The output.
    overwrite : bool, optional
        Without it, an existing target is refused.
    folder_ok : bool, optional
        The output is a folder (a Zarr store): an existing folder may be replaced.

    Raises
    ------
    ImageWriteError
        Naming the path and the fix.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ImageWriteError(f"{target}: the folder {str(folder)!r} {what}; create it first "
                              "(-o never creates folders; --outdir does)")
    if target.is_dir() and not folder_ok:
        raise ImageWriteError(f"{target}: is a folder; give a file name")
    if target.is_dir() and not _is_store(target):  # never replace a folder of other things
        raise ImageWriteError(f"{target}: is a folder but not a Zarr array store (convcli writes one array; a Zarr "
                              "group may hold more, such as a pyramid or labels); choose another output name")
    if not overwrite and os.path.lexists(target):
        raise ImageWriteError(_exists_message(target))
    return folder


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[IO[bytes]]:
    """A temporary file in the target's folder, renamed over the target when the block completes.

    Whatever leaves the block early (an error, Ctrl-C) removes the temporary
    file; with ``overwrite=False`` an existing target (even one that appeared
    meanwhile) is refused and kept.

    Raises
    ------
    ImageWriteError
        For the target (see :func:`check_target`) and for a failed write,
        naming the path, the reason and the fix.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> with atomic_file(target) as handle:
    ...     _ = handle.write(b"abc")
    >>> Path(target).read_bytes(), leftover_temp_files(target)
    (b'abc', [])
    """
    target = Path(path)
    folder = check_target(target, overwrite=overwrite)
    tmp_name: str | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, delete=False
        ) as handle:
            tmp_name = handle.name
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp_name, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp_name, target)
        else:
            try:
                os.link(tmp_name, target)  # fails if the target exists: never clobbers
            except FileExistsError:
                raise ImageWriteError(_exists_message(target)) from None
            except OSError:  # no hard links on this filesystem: check, then rename
                if os.path.lexists(target):
                    raise ImageWriteError(_exists_message(target)) from None
                os.replace(tmp_name, target)
    except OSError as err:
        raise ImageWriteError(f"{target}: cannot write ({err.strerror or err}); {_write_fix(err, folder)}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)  # gone already when it was renamed


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary folder beside the target (a Zarr store), renamed to the target when the block completes.

    As :func:`atomic_file`: an error or Ctrl-C removes the temporary folder;
    ``overwrite=False`` refuses an existing target.  With ``overwrite=True``
    an existing target (folder or file) is replaced only once the new folder
    is complete (:func:`_replace`): it is renamed aside, the new one renamed
    in, then the old one removed.  At every instant the target holds the old
    store or the complete new one: an interruption before the new one is in
    place puts the old one back; Ctrl-C and SIGTERM are held off while the
    two renames and the old store's removal run, and raised after.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> with atomic_folder(target) as folder:
    ...     _ = (folder / "zarr.json").write_text("{}")
    >>> sorted(os.listdir(target)), leftover_temp_files(target)
    (['zarr.json'], [])
    """
    raise_pending_interrupt()  # one kept from an earlier replacement, when nobody delivered it
    target = Path(path)
    folder = check_target(target, overwrite=overwrite, folder_ok=True)
    tmp: str | None = None
    try:
        tmp = tempfile.mkdtemp(dir=folder, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX)
        yield Path(tmp)
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o777 & ~_umask())
        if not os.path.lexists(target):
            os.rename(tmp, target)
        elif not overwrite:
            raise ImageWriteError(_exists_message(target))
        else:
            with signals_deferred() as caught:
                replaced = _replace(target, Path(tmp), caught)
                if replaced and caught and _handed_over[0]:  # the store landed: the caller records it first
                    _pending.extend(caught)
                    caught.clear()
            if not replaced:  # undone for a signal whose handler did not raise: the old store stays
                raise KeyboardInterrupt
        tmp = None
    except OSError as err:
        raise ImageWriteError(f"{target}: cannot write ({err.strerror or err}); {_write_fix(err, folder)}") from None
    finally:
        if tmp is not None:
            _remove(Path(tmp))


_handed_over = [False]  # the caller records the result, then raises what a completed replacement held off
_pending: list[int] = []  # signals held off while a completed replacement removed the old store


def hand_over_interrupts(on: bool = True) -> None:
    """Whether a signal that comes while a completed replacement removes the old store is handed over.

    A batch in this process turns it on before a write: then such a signal
    is not raised from the write, whose output is complete, but kept for
    :func:`raise_pending_interrupt`, which the batch calls once it has
    recorded the file as written (so "N file(s) written" counts it), and
    turns it off.  Off (the default), the signal is raised as soon as the
    old store is gone; the next atomic write delivers one still kept.
    """
    _handed_over[0] = on


def raise_pending_interrupt() -> None:
    """Deliver a signal :func:`hand_over_interrupts` kept (to its handler: Ctrl-C raises KeyboardInterrupt).

    Examples
    --------
    >>> raise_pending_interrupt()  # nothing kept: nothing happens
    """
    import signal

    while _pending:
        signal.raise_signal(_pending.pop(0))


#: the marker of an old store set aside while its replacement is renamed in: ``.NAME.<hex>.old.convcli-tmp``
_OLD_MARK = ".old"


def _replace(target: Path, new: Path, caught: list[int] | None = None) -> bool:
    """Put the complete folder ``new`` at ``target`` in place of what is there, safe at every step.

    1. the old target is renamed aside (``.NAME.<hex>.old.convcli-tmp``);
    2. ``new`` is renamed to ``target``: from here the new store is the output;
    3. the old one is removed.

    An exception at any step (an error, or a ``KeyboardInterrupt`` raised from
    one of the calls) is cleaned up from what is on disk: before step 2 took
    effect the old store is renamed back; after it, the old store is removed.
    Either way the exception is raised again, and the target holds a complete
    store.  A signal held off (``caught``, :func:`signals_deferred`) during
    the two renames undoes them, so that an interrupted run keeps the old
    store and counts the file as not written; one that comes during the
    removal is raised once the new store is in place and the old one gone.
    Returns whether the new store is in place.
    """
    import secrets  # here: it loads OpenSSL, 5 ms of every start-up

    old = target.parent / f"{_temp_prefix(target)}{secrets.token_hex(4)}{_OLD_MARK}{TEMP_SUFFIX}"
    try:
        os.rename(target, old)
        os.rename(new, target)
        if caught:  # Ctrl-C or SIGTERM during the renames: undo them, the old store stays the output
            os.rename(target, new)
    except BaseException:
        _undo(target, new, old)
        raise
    if os.path.lexists(new):  # undone above: put the old store back
        _undo(target, new, old)
        return False
    try:
        _remove(old)
    except BaseException:
        _remove(old)  # the new store is complete; finish removing the old one, then report the interruption
        raise
    return True


def _undo(target: Path, new: Path, old: Path) -> None:
    """After an interrupted :func:`_replace`: the old store back at ``target`` unless the new one is in place."""
    if os.path.lexists(new):  # the new store is not at the target: the old one goes back
        if os.path.lexists(old) and not os.path.lexists(target):
            os.rename(old, target)
    else:  # the new store is in place: the old one is no longer needed
        _remove(old)


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM while the block runs, then raise the first one that came (main thread only).

    A store's replacement is a few renames and a removal that must not be
    cut in the middle; the signal takes effect as soon as they are done.
    """
    import signal
    import threading

    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def hold(signum: int, frame: object) -> None:
        caught.append(signum)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    held = [s for s, handler in previous.items() if handler not in (signal.SIG_IGN, None)]  # ignored stays ignored
    for s in held:
        signal.signal(s, hold)
    try:
        yield caught
    finally:
        for s in held:
            signal.signal(s, previous[s])
    if caught:
        signal.raise_signal(caught[0])  # to the handler that was in place (KeyboardInterrupt, SIGTERM's)


def _remove(path: Path) -> None:
    """Remove a file or a folder tree, ignoring what is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _write_fix(err: OSError, folder: Path) -> str:
    """What to do about a failed write, from its errno."""
    import errno

    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space on the disk holding {str(folder)!r}, or write elsewhere; nothing was written"
    if err.errno == errno.EFBIG:
        return "the file is larger than this disk or a size limit (ulimit -f) allows; nothing was written"
    if err.errno == errno.EROFS:
        return f"{str(folder)!r} is on a read-only filesystem; write elsewhere (-o or --outdir)"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"you may not write into {str(folder)!r}; check its permissions or write elsewhere"
    return "check the folder's permissions and free space"


_UMASK: int | None = None


def _umask() -> int:
    """The process umask (read once), so outputs get the usual permissions rather than 0600."""
    global _UMASK
    if _UMASK is None:
        current = os.umask(0)
        os.umask(current)
        _UMASK = current
    return _UMASK
