"""Running a batch: in this process or a pool of worker processes, with signals and temporary files handled.

The bookkeeping (:class:`_Bookkeeping`: results, ``--fail-fast``, output
folders, ``on_result``) is shared with the Dask executor (:mod:`.cluster`),
which :func:`run_batch` hands the batch to when given a ``scheduler``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Interrupted
from .naming import Task
from .results import FileResult, _result, process_task

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ..recipe import Recipe

__all__ = ["default_jobs", "run_batch", "terminate_on_sigterm"]


def default_jobs() -> int:
    """The number of usable cores: the default number of worker processes.

    Examples
    --------
    >>> default_jobs() >= 1
    True
    """
    from ..engine import machine_threads  # the engine owns what "the cores" means

    return machine_threads()


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


def _remove_temp_files(tasks: Sequence[Task]) -> None:
    """Remove what a killed write left for any of ``tasks``' outputs (each output folder is listed once)."""
    from ..imageio import remove_temp_files_of

    remove_temp_files_of(t.output for t in tasks if t.output and t.output != "-")  # files, and Zarr folders


# worker processes --------------------------------------------------------------

_IN_TASK = False


def _worker_sigterm(signum: int, frame: object) -> None:
    if _IN_TASK:
        raise Interrupted()  # unwinds through write_image's clean-up, then _worker_run exits
    os._exit(128 + signal.SIGTERM)


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the workers
    signal.signal(signal.SIGTERM, _worker_sigterm)


def _worker_run(task: Task, recipe: Recipe, overwrite: bool) -> FileResult:
    from ..engine import thread_limit

    global _IN_TASK
    _IN_TASK = True
    try:
        with thread_limit(1):  # the workers share the cores; see run_batch
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
        ctx.set_forkserver_preload(["convcli.batch", "convcli.recipe", "convcli.pipeline", "convcli.imageio"])
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


class _Bookkeeping:
    """What every executor shares: results by task, ``--fail-fast``, output folders made once, ``on_result``.

    The local process pool (:func:`run_batch`) and the Dask cluster
    (:mod:`.cluster`) both record through it, so progress, the summary,
    ``--json`` and exit codes do not depend on where files were filtered.
    """

    def __init__(self, *, fail_fast: bool, on_result: Callable[[FileResult], None] | None) -> None:
        self.results: dict[int, FileResult] = {}
        self.stop = False
        self.first_failure = ""
        self.fail_fast = fail_fast
        self.on_result = on_result
        self.folders_made: set[str] = set()

    def record(self, result: FileResult) -> None:
        """Keep ``result``, stop new work after a failure with ``fail_fast``, and pass it to ``on_result``."""
        self.results[result.index] = result
        if result.status == "failed" and self.fail_fast:
            self.stop = True
            self.first_failure = self.first_failure or result.label
        if self.on_result is not None:
            self.on_result(result)

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
        """Create ``task``'s output folder (once per folder); a failed result when that is impossible."""
        from ..errors import ImageWriteError

        if task.make_folder and task.output:
            folder = os.path.dirname(task.output) or "."
            if folder not in self.folders_made:
                try:
                    os.makedirs(folder, exist_ok=True)
                except OSError as err:
                    error = ImageWriteError(f"{task.output}: {_folder_problem(folder, err)}")
                    return _result(task, "failed", error=str(error))
                self.folders_made.add(folder)
        return None

    def finish(self, tasks: Sequence[Task]) -> list[FileResult]:
        """One result per task, in task order; tasks ``--fail-fast`` never started are ``skipped``."""
        for task in tasks:
            if task.index not in self.results:
                why = f"not started: --fail-fast stopped the batch after {self.first_failure} failed"
                self.results[task.index] = _result(task, "skipped", error=why, reason=why)
        return [self.results[t.index] for t in tasks]


def run_batch(
    tasks: Sequence[Task],
    recipe: Recipe,
    *,
    jobs: int = 1,
    scheduler: str | Any | None = None,
    force: bool | None = None,
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
        (:func:`convcli.engine.thread_limit`), here or in a worker, so that the cores are
        shared without oversubscription and the bytes written do not depend
        on ``jobs`` (the engine's results may differ in the last bit with the
        thread count).  A single file uses all the engine's threads.
    scheduler : str or distributed.Client, optional
        Run on a Dask cluster instead of local processes (``jobs`` is then
        unused): a scheduler address (``tcp://host:8786``), ``"local"`` (a
        ``LocalCluster`` of one single-threaded worker process per core), or
        a connected ``distributed.Client``; see :func:`convcli.batch.cluster.run_on_cluster`.
    force : bool, optional
        Replace existing outputs; by default as ``recipe.force``.
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
    ClusterError
        With ``scheduler``: dask is not installed, or the cluster cannot be
        reached or has no workers (before anything is written).

    Examples
    --------
    >>> from pathlib import PurePath
    >>> from convcli.batch import Source
    >>> from convcli.recipe import Recipe
    >>> gone = Task(0, Source("gone.png", PurePath("gone.png")), None, None, error="no such file")
    >>> [(r.status, r.error) for r in run_batch([gone], Recipe())]
    [('failed', 'gone.png: no such file')]
    """
    if scheduler is not None:
        from .cluster import run_on_cluster

        return run_on_cluster(tasks, recipe, scheduler=scheduler, force=force, fail_fast=fail_fast,
                              on_result=on_result)
    from ..engine import thread_limit

    overwrite = recipe.force if force is None else force
    books = _Bookkeeping(fail_fast=fail_fast, on_result=on_result)
    work = books.settle(tasks, recipe)
    jobs = max(1, min(jobs, len(work))) if work else 1
    try:
        if books.stop:
            pass
        elif jobs == 1:
            with thread_limit(1 if len(work) > 1 else None):
                for task in work:
                    if books.stop:
                        break
                    books.record(books.prepare(task) or _guarded(task, recipe, overwrite=overwrite))
        else:
            _run_pool(work, recipe, jobs=jobs, force=overwrite, prepare=books.prepare, record=books.record,
                      should_stop=lambda: books.stop)
    except BaseException:
        with _signals_ignored():
            _remove_temp_files(tasks)
        raise
    return books.finish(tasks)


def _run_pool(work: Sequence[Task], recipe: Recipe, *, jobs: int, force: bool,
              prepare: Callable[[Task], FileResult | None], record: Callable[[FileResult], None],
              should_stop: Callable[[], bool]) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # a pool only when jobs > 1
    from concurrent.futures.process import BrokenProcessPool

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
