"""What every executor shares: results and ``--fail-fast`` (:class:`Bookkeeping`), guards, signals, clean-up.

The local process pool (:class:`convcli.batch.executor.LocalExecutor`) and the Dask
cluster (:class:`convcli.batch.cluster.DaskExecutor`) both record through
:class:`Bookkeeping`, filter through :func:`guarded`, hold signals off with
:func:`signals_ignored` while cleaning up, and remove what a killed write left
with :func:`remove_temp_files`: progress, the summary, ``--json`` and exit codes
do not depend on where files were filtered.

Examples
--------
>>> from pathlib import PurePath
>>> from convcli.batch import Source, Task
>>> from convcli.recipe import Recipe
>>> books = Bookkeeping(fail_fast=True, on_result=None)
>>> books.settle([Task(0, Source("gone.png", PurePath("gone.png")), None, None, error="no such file")], Recipe())
[]
>>> books.stop, books.first_failure
(True, 'gone.png')
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..errors import Interrupted
from .naming import Task
from .results import FileResult, file_result, process_task

if TYPE_CHECKING:
    from ..recipe import Recipe

__all__ = ["Bookkeeping", "guarded", "remove_temp_files", "signals_ignored", "terminate_on_sigterm"]


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn ``SIGTERM`` into :class:`Interrupted` for the duration (main thread only).

    So that ``finally`` blocks run and temporary files are removed, as for Ctrl-C.

    Examples
    --------
    >>> import signal
    >>> before = signal.getsignal(signal.SIGTERM)
    >>> with terminate_on_sigterm():
    ...     signal.getsignal(signal.SIGTERM) is before
    False
    >>> signal.getsignal(signal.SIGTERM) is before
    True
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
def signals_ignored() -> Iterator[None]:
    """Hold off Ctrl-C and SIGTERM while cleaning up after one (main thread only).

    Examples
    --------
    >>> import signal
    >>> with signals_ignored():
    ...     signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _folder_problem(folder: str, err: OSError) -> str:
    """Why ``folder`` could not be created, and the fix: a file in the way is named as such.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     open(os.path.join(tmp, "in.png"), "wb").close()
    ...     folder = os.path.join(tmp, "in.png", "sub")
    ...     _folder_problem(folder, NotADirectoryError(20, "Not a directory")).replace(tmp + os.sep, "")
    "cannot create the folder 'in.png/sub': 'in.png' is a file, not a folder; give --outdir a folder \
(a new or existing directory), or move the file away"
    """
    path = folder
    while path and not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if path and os.path.lexists(path) and not os.path.isdir(path):
        what = "it is a file" if path == folder else f"{path!r} is a file"
        return (f"cannot create the folder {folder!r}: {what}, not a folder; give --outdir a folder "
                "(a new or existing directory), or move the file away")
    return f"cannot create the folder {folder!r} ({err.strerror or err}); check the permissions"


def _signature(path: str) -> tuple[int, int, int] | None:
    """What tells a new file at ``path`` from the one there before (None: nothing there)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def remove_temp_files(tasks: Sequence[Task]) -> None:
    """Remove what a killed write left for any of ``tasks``' outputs (each output folder is listed once).

    Examples
    --------
    >>> remove_temp_files([])
    """
    from ..imageio import remove_temp_files_of

    remove_temp_files_of(t.output for t in tasks if t.output and t.output != "-")  # files, and Zarr folders


def guarded(task: Task, recipe: Recipe, *, overwrite: bool, stdout: bool = True) -> FileResult:
    """:func:`~convcli.batch.process_task`, with an unexpected exception (a bug) reported as this file's failure.

    Examples
    --------
    >>> from pathlib import PurePath
    >>> from convcli.batch import Source
    >>> from convcli.recipe import Recipe
    >>> guarded(Task(0, Source("a.png", PurePath("a.png")), None, None, skip=True), Recipe(), overwrite=False).status
    'skipped'
    """
    try:
        return process_task(task, recipe, overwrite=overwrite, stdout=stdout)
    except Exception as err:  # a bug: report it on this file, keep the batch going
        return file_result(task, "failed",
                          error=f"{task.source.label}: unexpected {type(err).__name__}: {err} "
                                "(a bug in convcli; please report it)")


class Bookkeeping:
    """What every executor shares: results by task, ``--fail-fast``, output folders made once, ``on_result``.

    Every executor records through it, so progress, the summary, ``--json``
    and exit codes do not depend on where files were filtered.
    """

    def __init__(self, *, fail_fast: bool, on_result: Callable[[FileResult], None] | None) -> None:
        self.results: dict[int, FileResult] = {}
        self.stop = False
        self.first_failure = ""
        self.fail_fast = fail_fast
        self.on_result = on_result
        self.folders_made: set[str] = set()
        self.before: dict[int, tuple[int, int, int] | None] = {}  # each started output as it was (see landed)

    def record(self, result: FileResult) -> None:
        """Keep ``result``, stop new work after a failure with ``fail_fast``, and pass it to ``on_result``.

        Then a Ctrl-C or SIGTERM that came while this file's completed Zarr
        store replaced an old one (:meth:`prepare` handed it over) is raised:
        the file is counted as written, as it is.
        """
        from ..imageio import hand_over_interrupts, raise_pending_interrupt

        self.results[result.index] = result
        if result.status == "failed" and self.fail_fast:
            self.stop = True
            self.first_failure = self.first_failure or result.label
        try:
            if self.on_result is not None:
                self.on_result(result)
        finally:
            hand_over_interrupts(False)
            raise_pending_interrupt()

    def settle(self, tasks: Sequence[Task], recipe: Recipe) -> list[Task]:
        """Record the tasks that need no work (failed while planning, skipped); return the others."""
        work: list[Task] = []
        for task in tasks:
            if task.error is not None or task.skip:
                self.record(process_task(task, recipe))
            else:
                work.append(task)
        return work

    def prepare(self, task: Task) -> FileResult | None:
        """Create ``task``'s output folder (once per folder); a failed result when that is impossible.

        The output as it is now is kept, for :meth:`record_landed` after an
        interrupt.  Also hands over to :meth:`record` a signal that comes while a
        completed Zarr store replaces an old one (see
        :func:`~convcli.imageio.hand_over_interrupts`).
        """
        from ..errors import ImageWriteError
        from ..imageio import hand_over_interrupts

        hand_over_interrupts(threading.current_thread() is threading.main_thread())

        if task.output and task.output != "-":
            self.before[task.index] = _signature(task.output)

        if task.make_folder and task.output:
            folder = os.path.dirname(task.output) or "."
            if folder not in self.folders_made:
                try:
                    os.makedirs(folder, exist_ok=True)
                except OSError as err:
                    error = ImageWriteError(f"{task.output}: {_folder_problem(folder, err)}")
                    return file_result(task, "failed", error=str(error))
                self.folders_made.add(folder)
        return None

    def record_landed(self, tasks: Sequence[Task]) -> None:
        """After an interrupt, with every worker stopped: record as written the started outputs that landed.

        A file whose write completed (an atomic rename) while its result was
        still on its way, or just as the batch was stopped, is on disk whole:
        it counts as written, so that the report matches the files there.
        """
        for task in tasks:
            if task.index in self.results or task.index not in self.before or not task.output:
                continue
            now = _signature(task.output)
            if now is not None and now != self.before[task.index]:
                self.record(file_result(task, "written"))

    def finish(self, tasks: Sequence[Task]) -> list[FileResult]:
        """One result per task, in task order; tasks ``--fail-fast`` never started are ``skipped``."""
        for task in tasks:
            if task.index not in self.results:
                why = f"not started: --fail-fast stopped the batch after {self.first_failure} failed"
                self.results[task.index] = file_result(task, "skipped", error=why, reason=why)
        return [self.results[t.index] for t in tasks]
