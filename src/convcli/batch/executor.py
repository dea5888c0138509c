"""Where a batch runs: one :class:`Executor` interface, the local process pool behind it (:class:`LocalExecutor`).

:func:`run_batch` settles what needs no work, then hands the rest to the
executor: the local :class:`LocalExecutor` (this process, or ``jobs`` worker
processes) or a Dask cluster (:class:`convcli.batch.cluster.DaskExecutor`).
The results are recorded through one :class:`~convcli.batch.bookkeeping.Bookkeeping`
whatever the executor.  When the batch is a single file, the runner first
offers it to the executor's band strategy (:meth:`Executor.run_bands`: a
cluster cuts one giant image into bands of rows; the local pool declines,
its one process streams the image strip by strip anyway).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import Interrupted
from .bookkeeping import Bookkeeping, guarded, remove_temp_files, signals_ignored
from .naming import Task
from .results import FileResult, file_result

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ..recipe import Recipe

__all__ = ["Executor", "LocalExecutor", "default_jobs", "run_batch"]


def default_jobs() -> int:
    """The number of usable cores: the default number of worker processes.

    Examples
    --------
    >>> default_jobs() >= 1
    True
    """
    from ..engine import machine_threads  # the engine owns what "the cores" means

    return machine_threads()


@runtime_checkable
class Executor(Protocol):
    """Where files are filtered: what :func:`run_batch` needs of the local pool and of a Dask cluster.

    Examples
    --------
    >>> isinstance(LocalExecutor(jobs=2), Executor)
    True
    """

    def started(self) -> contextlib.AbstractContextManager[Any]:
        """Ready to run (a cluster connected, its workers checked) for the duration; errors before any write."""
        ...

    def run_files(self, work: Sequence[Task], recipe: Recipe, books: Bookkeeping, *, overwrite: bool) -> None:
        """Filter every task of ``work``, one file a task, recording each result in ``books``."""
        ...

    def run_bands(self, task: Task, recipe: Recipe, books: Bookkeeping, *, overwrite: bool) -> bool:
        """Filter the batch's one file cut into bands of rows, recording its result; False when it cannot be."""
        ...


class LocalExecutor:
    """This machine: in this process (``jobs=1``) or ``jobs`` worker processes.

    When there are several files to filter, each is filtered by one engine
    thread (:func:`convcli.engine.thread_limit`), here or in a worker, so
    that the cores are shared without oversubscription and the bytes
    written do not depend on ``jobs`` (the engine's results may differ in
    the last bit with the thread count).  A single file uses all the
    engine's threads.

    Examples
    --------
    >>> LocalExecutor(jobs=0)
    Traceback (most recent call last):
    ...
    ValueError: jobs must be an integer >= 1, got 0
    """

    def __init__(self, *, jobs: int = 1) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.jobs = jobs

    def started(self) -> contextlib.AbstractContextManager[Any]:
        """Nothing to start: the worker processes are started by :meth:`run_files` when there is work."""
        return contextlib.nullcontext()

    def run_bands(self, task: Task, recipe: Recipe, books: Bookkeeping, *, overwrite: bool) -> bool:
        """Declined: one local process already streams an image strip by strip."""
        return False

    def run_files(self, work: Sequence[Task], recipe: Recipe, books: Bookkeeping, *, overwrite: bool) -> None:
        """Filter ``work`` here (one job) or in worker processes; temporary files removed on an interrupt."""
        from ..engine import thread_limit

        jobs = max(1, min(self.jobs, len(work))) if work else 1
        try:
            if jobs == 1:
                with thread_limit(1 if len(work) > 1 else None):
                    for task in work:
                        if books.stop:
                            break
                        books.record(books.prepare(task) or guarded(task, recipe, overwrite=overwrite))
            else:
                _run_pool(work, recipe, jobs=jobs, force=overwrite, prepare=books.prepare, record=books.record,
                          should_stop=lambda: books.stop)
        except BaseException:
            with signals_ignored():
                remove_temp_files(work)
                books.record_landed(work)  # the workers are stopped: what is on disk now stays
            raise


def run_batch(
    tasks: Sequence[Task],
    recipe: Recipe,
    *,
    executor: Executor | None = None,
    force: bool | None = None,
    fail_fast: bool = False,
    on_result: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Process every task and return one result per task, in task order.

    Parameters
    ----------
    tasks : sequence of Task
        From :func:`convcli.batch.plan_tasks` (or :func:`convcli.batch.plan_outputs`).
    recipe : Recipe
    executor : Executor, optional
        Where the files are filtered: :class:`LocalExecutor` (the default, one
        job: this process) or :class:`convcli.batch.cluster.DaskExecutor`;
        :func:`convcli.batch.choose_executor` picks one from ``--jobs``,
        ``--scheduler`` and ``DASK_SCHEDULER_ADDRESS``.  A batch of one
        file is first offered to the executor's band strategy
        (:meth:`Executor.run_bands`).
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
        With a Dask executor: dask is not installed, or the cluster cannot be
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
    if _importing_main():
        # a worker process of a pool is re-running the main script, which calls run_batch at import (no
        # ``if __name__ == "__main__":``): leave quietly, the parent names the cause (_check_unguarded)
        os._exit(_UNGUARDED_EXIT)
    executor = LocalExecutor() if executor is None else executor
    overwrite = recipe.force if force is None else force
    books = Bookkeeping(fail_fast=fail_fast, on_result=on_result)
    with executor.started():
        work = books.settle(tasks, recipe)
        if books.stop:
            pass
        elif len(tasks) == 1 and len(work) == 1 and executor.run_bands(work[0], recipe, books, overwrite=overwrite):
            pass
        else:
            executor.run_files(work, recipe, books, overwrite=overwrite)
    return books.finish(tasks)


# worker processes --------------------------------------------------------------

#: the exit code of a worker process whose main script called run_batch while being imported
_UNGUARDED_EXIT = 87
UNGUARDED_MESSAGE = (
    "the worker processes of run_batch (jobs > 1) import your main script again, and it calls run_batch "
    "as it is imported: put the batch under `if __name__ == \"__main__\":` (see 'Safe importing of main "
    "module' in Python's multiprocessing docs); no file was filtered by a worker")


def _importing_main() -> bool:
    """Whether this is a new process of a pool still importing its parent's main module (as spawn does).

    Such a process has multiprocessing loaded already (it started it); a plain run does not load it for this.
    """
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is not None and bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def _check_unguarded(processes: Sequence[Any]) -> None:
    """After the pool broke: a RuntimeError naming the guard if a worker left for :func:`_importing_main`."""
    for process in processes:
        code = None
        with contextlib.suppress(Exception):
            process.join(0.2)  # the one that left is gone already; a live one is not waited for long
            code = process.exitcode
        if code == _UNGUARDED_EXIT:
            raise RuntimeError(UNGUARDED_MESSAGE) from None

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
            return guarded(task, recipe, overwrite=overwrite)
    except Interrupted:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_TASK = False


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


def _run_pool(work: Sequence[Task], recipe: Recipe, *, jobs: int, force: bool,
              prepare: Callable[[Task], FileResult | None], record: Callable[[FileResult], None],
              should_stop: Callable[[], bool]) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # a pool only when jobs > 1
    from concurrent.futures.process import BrokenProcessPool

    pending = list(reversed(work))
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_worker_init)
    running: dict[Future[FileResult], Task] = {}
    started: list[Any] = []  # every worker process, to tell why a pool broke (_check_unguarded)
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
                    started.extend(p for p in getattr(executor, "_processes", {}).values() if p not in started)
                except BrokenProcessPool:
                    _check_unguarded(started)
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
                    _check_unguarded(started)
                    broken = True
                    record(file_result(task, "failed",
                                      error=f"{task.source.label}: the worker process died while filtering it "
                                            "(out of memory?); try --jobs 1"))
            if broken:
                for future, task in list(running.items()):
                    running.pop(future)
                    record(file_result(task, "failed",
                                      error=f"{task.source.label}: the worker process pool broke while filtering "
                                            "it (out of memory?); try --jobs 1"))
                executor.shutdown(wait=True, cancel_futures=True)
                remove_temp_files(work)
                executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_worker_init)
    except BaseException:
        with signals_ignored():
            _stop(executor)
            for future in running:  # finished while the batch was stopped: their results count
                with contextlib.suppress(BaseException):
                    if future.done() and not future.cancelled() and future.exception() is None:
                        record(future.result())
        raise
    executor.shutdown(wait=True)
