"""Running a batch on a Dask cluster (``dask.distributed``): the :class:`DaskExecutor` executor.

The client (this process) expands and checks the inputs exactly as a local
run does (:func:`convcli.batch.plan_tasks`), creates the output folders, and
then keeps a bounded window of files in flight on the cluster
(:func:`convcli.batch.scheduler.in_window`).  Each task is ``(Task, Recipe)``,
pickled: a few kilobytes.  Every worker reads and writes the shared paths
itself (paths are made absolute before they leave the client, and messages
name them as they were typed), with one engine thread per Dask thread, through
the same code as a local worker process, so the bytes written and the results
are the same as ``--jobs``.

A worker that dies is the scheduler's business: it runs the file again on
another worker (up to ``distributed.scheduler.allowed-failures`` deaths, then
the file is reported as failed); ``retries`` covers an exception that escapes
the task.  A worker may die just after its output was written: the file run
again finds it, and reports success when its own bytes are the same
(:func:`_run_again`); it never replaces a different file.  The temporary file
a killed write left is removed by the client at the end (writes are atomic: no
output is ever partial).

On Ctrl-C or SIGTERM the client cancels what is queued; Dask cannot stop a
task that has started, so it stops the cluster it started itself (``local``),
or else waits for the files being filtered to finish (at most
:data:`convcli.batch.scheduler.CANCEL_WAIT` seconds; a second Ctrl-C stops
waiting), then removes temporary files and re-raises: when the batch returns,
nothing of it still writes, and every output on disk is complete.

Whole files are distributed here, one per task.  A batch of one lazy image
(a tiled TIFF or a Zarr store) going to a ``.zarr`` or ``.tif`` output is cut
into bands of output rows instead (:meth:`DaskExecutor.run_bands`, the
strategy of :mod:`convcli.batch.giant`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from ..errors import ClusterError, Interrupted
from .bookkeeping import Bookkeeping, guarded, remove_temp_files, signals_ignored
from .executor import run_batch
from .naming import Task
from .results import FileResult, file_result
from .scheduler import LOCAL, RETRIES, WORKERS_GONE, connect, in_window, result_of, scheduler_gone, workers_gone

if TYPE_CHECKING:
    from ..recipe import Recipe

__all__ = ["DaskExecutor", "filter_on_cluster"]


class DaskExecutor:
    """A Dask cluster as a batch executor: files one task each, one giant image in bands (:mod:`.giant`).

    Parameters
    ----------
    scheduler : str or distributed.Client
        A scheduler address (``tcp://host:8786``), ``"local"`` (a
        ``LocalCluster`` of one single-threaded worker process per core), or
        a connected ``distributed.Client`` (left open); see
        :func:`convcli.batch.scheduler.connect`.
    timeout : float, optional
        Seconds to reach the scheduler and to see a worker.
    worker_timeout : float, optional
        Seconds the batch waits when every worker is gone (killed, lost)
        before it stops with a :class:`~convcli.errors.ClusterError` saying
        how many files were written (default
        :data:`~convcli.batch.scheduler.WORKERS_GONE`, 60 s).

    Examples
    --------
    >>> from convcli.batch import run_batch
    >>> from convcli.recipe import Recipe
    >>> run_batch([], Recipe(), executor=DaskExecutor(object()))
    Traceback (most recent call last):
    ...
    TypeError: scheduler must be an address, 'local' or a distributed.Client, got <object object at ...>
    """

    def __init__(self, scheduler: str | Any, *, timeout: float | None = None,
                 worker_timeout: float = WORKERS_GONE) -> None:
        if not worker_timeout > 0:
            raise ValueError(f"worker_timeout must be a number of seconds > 0, got {worker_timeout!r}")
        self.scheduler = scheduler
        self.timeout = timeout
        self.worker_timeout = float(worker_timeout)
        self.client: Any = None
        self._sent: list[Task] = []

    @property
    def _own(self) -> bool:
        """Whether this run starts the cluster (stopped on an interrupt) rather than waits for another's tasks."""
        return isinstance(self.scheduler, str) and self.scheduler.strip().lower() == LOCAL

    @contextlib.contextmanager
    def started(self) -> Iterator[Any]:
        """Connected (:func:`~convcli.batch.scheduler.connect`); at the end, what killed writes left is removed."""
        self._sent = []
        try:
            with connect(self.scheduler, timeout=self.timeout) as client:
                self.client = client
                try:
                    yield client
                finally:
                    self.client = None
        finally:
            with signals_ignored():
                remove_temp_files(self._sent)  # what a killed worker's write left (its file was run again elsewhere)

    def run_bands(self, task: Task, recipe: Recipe, books: Bookkeeping, *, overwrite: bool) -> bool:
        """The giant-image strategy (:func:`convcli.batch.giant.filter_task`): whether ``task`` was cut into bands."""
        from .giant import filter_task

        self._sent.append(task)  # its temporary output is removed at the end
        result = books.prepare(task) or filter_task(self.client, task, recipe, overwrite=overwrite,
                                                    wait_running=not self._own)
        if result is None:
            return False
        books.record(result)
        return True

    def run_files(self, work: Sequence[Task], recipe: Recipe, books: Bookkeeping, *, overwrite: bool) -> None:
        """One task per file, a bounded window in flight, each result recorded as it comes back."""
        client = self.client
        shared: list[tuple[str, str]] = []  # the --mask file, read by each worker too
        if recipe.mask is not None and not os.path.isabs(recipe.mask):
            shared.append((os.path.abspath(recipe.mask), recipe.mask))
            recipe = replace(recipe, mask=shared[0][0])
        prefix = f"convcli-{uuid.uuid4().hex[:8]}-"
        swapped: dict[int, list[tuple[str, str]]] = {}

        def submit(task: Task) -> Any:
            failed = books.prepare(task)
            if failed is not None:
                books.record(failed)
                return None
            sent, swaps = _portable(task)
            try:
                future = client.submit(_filter_on_worker, sent, recipe, overwrite, key=f"{prefix}{task.index}",
                                       pure=False, retries=RETRIES)
            except Exception:
                if client.status == "running":
                    raise
                raise _lost(client, books) from None
            self._sent.append(task)
            swapped[task.index] = swaps + shared
            return future

        def gone(seconds: float) -> ClusterError:
            books.record_landed(work)  # no worker is left to write anything
            return workers_gone(client, seconds, f"after {_written(books)} file(s) written (those are complete)")

        try:
            with contextlib.closing(in_window(client, work, submit, prefix=prefix, stop=lambda: books.stop,
                                              wait_running=not self._own, worker_timeout=self.worker_timeout,
                                              gone=gone)) as done:
                for task, future in done:
                    books.record(_collected(future, task, swapped.pop(task.index), client, books,
                                            lambda f: result_of(f, client, worker_timeout=self.worker_timeout,
                                                                gone=gone)))
        except (KeyboardInterrupt, Interrupted):
            with signals_ignored():
                books.record_landed(work)  # written while their results were on their way
            raise


def filter_on_cluster(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    recipe: Recipe,
    scheduler: str | Any,
    *,
    force: bool | None = None,
    frame: int | None = None,
    timeout: float | None = None,
) -> FileResult:
    """Filter one (giant) image on a Dask cluster, band by band, into ``output``.

    A tiled TIFF or a Zarr store going to a ``.zarr`` or ``.tif`` output is
    cut into bands of output rows that the workers filter in parallel, each
    reading only its rows (and their halo) from the shared path
    (:mod:`convcli.batch.giant`); any other image is filtered whole by one
    worker.  Either way the bytes are those of the local run.

    Parameters
    ----------
    input : str or path-like
        The image, at a path the workers see too.
    output : str or path-like
        The output file (its format from its name: ``.zarr``, ``.tif``, …).
    recipe : Recipe
        From :func:`convcli.batch.build_recipe` (its naming is not used).
    scheduler : str or distributed.Client
        A scheduler address, ``"local"``, or a connected client (left open);
        see :func:`convcli.batch.scheduler.connect`.
    force : bool, optional
        Replace an existing output, once the new one is complete; by default
        as ``recipe.force``.
    frame : int, optional
        The TIFF page to filter (default the first).
    timeout : float, optional
        Seconds to reach the scheduler and see a worker.

    Returns
    -------
    FileResult
        ``written`` or ``failed`` (with the reason).

    Raises
    ------
    ClusterError, UsageError
        The cluster cannot be used (nothing is written).

    Examples
    --------
    >>> import os, tempfile, tifffile, zarr
    >>> import numpy as np
    >>> from convcli.batch import build_recipe
    >>> folder = tempfile.mkdtemp()
    >>> big = os.path.join(folder, "big.tif")
    >>> tifffile.imwrite(big, np.eye(600, dtype=np.uint8) * 255, tile=(128, 128))
    >>> recipe = build_recipe(kernels=["gaussian:sigma=3"], outdir=folder)
    >>> result = filter_on_cluster(big, os.path.join(folder, "out.zarr"), recipe, "local")  # doctest: +SKIP
    >>> result.status, zarr.open_array(result.output).shape  # doctest: +SKIP
    ('written', (600, 600))
    """
    from ..imageio import format_for
    from .inputs import Source

    path, target = os.fspath(input), os.fspath(output)
    task = Task(0, Source(path, PurePath(os.path.basename(path)), frame=frame), target, format_for(target))
    return run_batch([task], recipe, executor=DaskExecutor(scheduler, timeout=timeout), force=force)[0]


def _portable(task: Task) -> tuple[Task, list[tuple[str, str]]]:
    """``task`` with absolute paths (a worker's folder is not ours), and the ``(absolute, typed)`` pairs."""
    swaps = []
    source = task.source
    if source.path != "-" and not os.path.isabs(source.path):
        swaps.append((os.path.abspath(source.path), source.path))
        source = replace(source, path=swaps[-1][0])
    output = task.output
    if output not in (None, "-") and not os.path.isabs(output):
        swaps.append((os.path.abspath(output), output))
        output = swaps[-1][0]
    return replace(task, source=source, output=output), swaps


def _as_typed(result: FileResult, task: Task, swaps: Sequence[tuple[str, str]]) -> FileResult:
    """``result`` naming the paths as they were typed, as a local run does."""
    result.input, result.output = task.source.path, task.output
    for absolute, typed in sorted(swaps, key=lambda s: -len(s[0])):
        if result.error is not None:
            result.error = result.error.replace(absolute, typed)
        result.warnings = [w.replace(absolute, typed) for w in result.warnings]
    return result


def _filter_on_worker(task: Task, recipe: Recipe, overwrite: bool) -> FileResult:
    """Run on a Dask worker: one file, on one engine thread (the cluster's threads share its cores)."""
    from ..engine import thread_limit

    with thread_limit(1):
        if not overwrite and task.output not in (None, "-") and os.path.lexists(str(task.output)):
            return _run_again(task, recipe)
        return guarded(task, recipe, overwrite=overwrite, stdout=False)  # a worker's stdout is not the user's


def _run_again(task: Task, recipe: Recipe) -> FileResult:
    """A file whose output exists although the plan found none: the same bytes are a success.

    The scheduler runs a file again when the worker filtering it died, and it
    may have died just after writing the output: that output is complete and
    the same, so this attempt is the success it reports.  Another file that
    appeared meanwhile is not replaced: the usual "exists already" failure.
    """
    assert task.output is not None
    found = guarded(replace(task, output="-"), recipe, overwrite=False, stdout=False)
    try:
        same = found.payload is not None and Path(task.output).read_bytes() == found.payload
    except OSError:
        same = False
    if not same:
        return guarded(task, recipe, overwrite=False, stdout=False)
    prefix = f"{task.output}: "
    found.output, found.payload = task.output, None
    found.warnings = [prefix + w[3:] if w.startswith("-: ") else w for w in found.warnings]
    return found


def _collected(future: Any, task: Task, swaps: Sequence[tuple[str, str]], client: Any,
               books: Bookkeeping, result: Callable[[Any], Any]) -> FileResult:
    """The result of ``future`` (through ``result``); a task that failed on the cluster is this file's failure.

    Raises
    ------
    ClusterError
        When the scheduler is gone (its queue with it): no use going on.
    """
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    try:
        return _as_typed(result(future), task, swaps)
    except ClusterError:  # every worker gone: the batch stops
        raise
    except KilledWorker:
        error = (f"{task.source.label}: the Dask workers filtering it died, again and again (out of memory?); give "
                 "the workers more memory (dask worker --memory-limit) or filter it with --jobs 1")
    except (CancelledError, OSError) as err:  # OSError: Dask's CommClosedError, a connection lost
        if scheduler_gone(client):
            raise _lost(client, books) from None
        error = (f"{task.source.label}: its Dask task was lost ({type(err).__name__}: {err}); run again with "
                 "--skip-existing")
    except Exception as err:
        error = (f"{task.source.label}: the Dask task failed ({type(err).__name__}: {err}); check the workers' "
                 "logs, or filter it with --jobs 1")
    return file_result(task, "failed", error=error)


def _lost(client: Any, books: Bookkeeping) -> ClusterError:
    """The error for a scheduler lost mid-batch: its state (every queued file) is gone with it."""
    return ClusterError(f"lost the Dask scheduler at {client.scheduler.address} in the middle of the batch, after "
                        f"{_written(books)} file(s) written (those are complete); start it again and re-run with "
                        "--skip-existing to finish the rest")


def _written(books: Bookkeeping) -> int:
    """How many files of the batch were written so far."""
    return sum(1 for r in books.results.values() if r.status == "written")
