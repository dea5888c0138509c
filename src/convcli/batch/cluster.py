"""Running a batch on a Dask cluster (``dask.distributed``): one task per file, a bounded window in flight.

The client (this process) expands and checks the inputs exactly as a local
run does (:meth:`convcli.recipe.Recipe.plan`), creates the output folders, and
then keeps at most :func:`window` files in flight on the cluster: about
:data:`WINDOW_PER_THREAD` per worker thread, more submitted as results come
back, so a run of ten million files never puts ten million tasks on the
scheduler.  Each task is ``(Task, Recipe)``, pickled: a few kilobytes.  Every
worker reads and writes the shared paths itself (paths are made absolute
before they leave the client, and messages name them as they were typed), with
one engine thread per Dask thread, through the same code as a local worker
process, so the bytes written and the results are the same as ``--jobs``.

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
:data:`CANCEL_WAIT` seconds; a second Ctrl-C stops waiting), then removes
temporary files and re-raises: when the batch returns, nothing of it still
writes, and every output on disk is complete.

Whole files are distributed here, one per task.  A batch of one lazy image
(a tiled TIFF or a Zarr store) going to a ``.zarr`` or ``.tif`` output is cut
into bands of output rows instead, filtered by all the workers
(:mod:`convcli.batch.giant`).

Everything here takes its settings as arguments; the command line reads
``DASK_SCHEDULER_ADDRESS`` (:mod:`convcli.cli.apply`), never this module.

Examples
--------
>>> window(4)
12
>>> window(0)
4
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ClusterError, UsageError
from .executor import _Bookkeeping, _guarded, _remove_temp_files, _signals_ignored
from .naming import Task
from .results import FileResult, _result

if TYPE_CHECKING:
    from ..recipe import Recipe

__all__ = ["CANCEL_WAIT", "CONNECT_TIMEOUT", "INSTALL_HINT", "LOCAL", "RETRIES", "WINDOW_PER_THREAD",
           "WORKER_TIMEOUT", "connect", "run_on_cluster", "window"]

#: ``--scheduler local``: a LocalCluster on this machine, one single-threaded worker process per core
LOCAL = "local"
#: seconds to reach the scheduler, and to wait for its first worker
CONNECT_TIMEOUT = 10.0
WORKER_TIMEOUT = 10.0
#: times a file whose task raised is run again (a worker's death is retried by the scheduler itself)
RETRIES = 2
#: after Ctrl-C, seconds to wait for the files already being filtered on a cluster this batch did not start
CANCEL_WAIT = 60.0
#: files in flight per worker thread: enough to keep every thread busy while results travel back
WINDOW_PER_THREAD = 3
#: how often the window follows workers joining or leaving, in seconds
_WINDOW_REFRESH = 5.0
INSTALL_HINT = "pip install 'convcli[dask]'"


def window(threads: int) -> int:
    """How many files are kept in flight on a cluster with ``threads`` worker threads in all.

    Examples
    --------
    >>> window(2), window(1000)
    (6, 3000)
    """
    return max(4, WINDOW_PER_THREAD * threads)


def _distributed() -> Any:
    """The ``distributed`` package, or a :class:`ClusterError` with the install command."""
    try:
        import distributed
    except ImportError as err:
        raise ClusterError(f"running on a Dask cluster needs dask.distributed, which is not installed ({err}); "
                           f"{INSTALL_HINT}") from None
    return distributed


def _worker_version() -> str:
    """Run on each worker: the convcli it imports (it must be the client's, for the same bytes)."""
    from .._version import __version__

    return __version__


def _check_address(distributed: Any, scheduler: str) -> None:
    """Refuse an address Dask cannot use (no port, an unknown protocol such as http://) as a usage error."""
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(scheduler.strip())
        if scheme not in registry.backends:
            raise ValueError(f"unknown protocol {scheme}://; Dask speaks {', '.join(sorted(registry.backends))}")
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except ValueError as err:
        raise UsageError(f"--scheduler {scheduler!r} is not a scheduler address ({err}); give local or an "
                         "address like tcp://host:8786") from None


def _probe(distributed: Any, address: str, where: str, seconds: float) -> None:
    """Ask ``address`` who it is, within ``seconds``: a Dask scheduler answers; anything else is a ClusterError.

    Done before any ``Client`` is made: a client whose handshake fails (a web server or the dashboard's port
    answering, a silent port) would hang or leave a traceback when it is collected.
    """
    import asyncio

    async def identity() -> Any:
        comm = await distributed.comm.connect(address, timeout=seconds)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            with contextlib.suppress(Exception):
                comm.abort()

    try:
        answer = asyncio.run(asyncio.wait_for(identity(), seconds))
    except (OSError, TimeoutError, asyncio.TimeoutError):
        raise ClusterError(f"cannot reach {where} within {seconds:g} s; start it (dask scheduler) or check "
                           "the address, the port and the firewall; nothing was written") from None
    except Exception as err:  # something answered, but not as Dask does
        raise ClusterError(f"{where} did not answer as a Dask scheduler ({type(err).__name__}); check the address "
                           "and port (the scheduler's, usually 8786, not the dashboard's 8787); nothing was "
                           "written") from None
    if not (isinstance(answer, dict) and answer.get("type") == "Scheduler"):
        raise ClusterError(f"{where} is a Dask {answer.get('type') if isinstance(answer, dict) else 'peer'}, "
                           "not a scheduler; give the scheduler's address; nothing was written")


def _check_workers(client: Any, where: str) -> None:
    """Refuse a cluster whose workers cannot import this convcli (a missing install would fail every file)."""
    from .._version import __version__

    try:
        versions = client.run(_worker_version)
    except Exception as err:
        raise ClusterError(f"the Dask workers of {where} cannot run convcli ({type(err).__name__}: {err}); "
                           f"install convcli {__version__} where the workers run") from None
    other = sorted({v for v in versions.values() if v != __version__})
    if other:
        raise ClusterError(f"the Dask workers of {where} run convcli {', '.join(other)}, this client "
                           f"{__version__}; install the same version on both")


@contextlib.contextmanager
def connect(scheduler: str | Any, *, timeout: float | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` of ``scheduler`` with at least one worker, closed (and its cluster) at the end.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``tcp://host:port`` (any address Dask knows), ``"local"`` (a
        ``LocalCluster`` on 127.0.0.1: one worker process per core, one
        thread each, its dashboard on a free port), or a client, used as it
        is and left open.
    timeout : float, optional
        Seconds to reach the scheduler and then to see a worker
        (default :data:`CONNECT_TIMEOUT`, :data:`WORKER_TIMEOUT`).

    Raises
    ------
    ClusterError
        dask.distributed is not installed, the scheduler cannot be reached,
        it has no worker, or its workers cannot run this convcli.
    UsageError
        ``scheduler`` is not an address (``tcp://`` without a port, ``http://``).

    Examples
    --------
    >>> with connect("10.0.0.5") as client:
    ...     pass
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --scheduler '10.0.0.5' is not a scheduler address (missing port number in address \
'10.0.0.5'); give local or an address like tcp://host:8786
    """
    distributed = _distributed()
    cluster = None
    if isinstance(scheduler, distributed.Client):
        client, where = scheduler, f"the Dask scheduler at {scheduler.scheduler.address}"
    elif not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address, 'local' or a distributed.Client, got {scheduler!r}")
    elif scheduler.strip().lower() == LOCAL:
        from dask import config as dask_config

        from ..engine import machine_threads

        where = "the local Dask cluster"
        try:
            # the scheduler's HTTP server always starts (None means 8787): a free port on loopback, so that
            # a scheduler already running here is no obstacle (and no "port in use" warning); and the workers
            # keep glibc's malloc as --jobs has it: the nannies' MALLOC_TRIM_THRESHOLD_ freezes the mmap
            # threshold at 128 KiB, and every strip buffer then costs fresh pages (+0.15 s per 12-MP file)
            with dask_config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                cluster = distributed.LocalCluster(n_workers=machine_threads(), threads_per_worker=1,
                                                   processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                                   silence_logs=logging.ERROR)
            client = distributed.Client(cluster, set_as_default=False)
        except Exception as err:
            if cluster is not None:
                cluster.close()
            raise ClusterError(f"cannot start a local Dask cluster ({type(err).__name__}: {err}); give "
                               "--scheduler the address of a running one, or use --jobs") from None
    else:
        address, seconds = scheduler.strip(), CONNECT_TIMEOUT if timeout is None else timeout
        where = f"the Dask scheduler at {address}"
        _check_address(distributed, scheduler)  # before a Client exists: a half-made one prints at exit
        _probe(distributed, address, where, seconds)  # likewise: a server that is not a scheduler, or silent
        try:
            client = distributed.Client(address, timeout=seconds, set_as_default=False)
        except (OSError, TimeoutError):
            raise ClusterError(f"cannot reach {where} within {seconds:g} s; start it (dask scheduler) or check "
                               "the address, the port and the firewall; nothing was written") from None
    try:
        seconds = WORKER_TIMEOUT if timeout is None else timeout
        try:
            client.wait_for_workers(1, timeout=seconds)
        except (OSError, TimeoutError):
            address = client.scheduler.address
            raise ClusterError(f"{where} has no workers after {seconds:g} s; start some (dask worker "
                               f"{address}) and run again; nothing was written") from None
        _check_workers(client, where)
        yield client
    finally:
        if client is not scheduler:
            with _signals_ignored(), contextlib.suppress(Exception):
                client.close(timeout=CONNECT_TIMEOUT if timeout is None else timeout)
                if cluster is not None:
                    cluster.close()


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
        return _guarded(task, recipe, overwrite=overwrite)


def _run_again(task: Task, recipe: Recipe) -> FileResult:
    """A file whose output exists although the plan found none: the same bytes are a success.

    The scheduler runs a file again when the worker filtering it died, and it
    may have died just after writing the output: that output is complete and
    the same, so this attempt is the success it reports.  Another file that
    appeared meanwhile is not replaced: the usual "exists already" failure.
    """
    assert task.output is not None
    found = _guarded(replace(task, output="-"), recipe, overwrite=False)
    try:
        same = found.payload is not None and Path(task.output).read_bytes() == found.payload
    except OSError:
        same = False
    if not same:
        return _guarded(task, recipe, overwrite=False)
    prefix = f"{task.output}: "
    found.output, found.payload = task.output, None
    found.warnings = [prefix + w[3:] if w.startswith("-: ") else w for w in found.warnings]
    return found


def _collected(future: Any, task: Task, swaps: Sequence[tuple[str, str]], client: Any,
               books: _Bookkeeping) -> FileResult:
    """The result of ``future``; a task that failed on the cluster is this file's failure, with the reason.

    Raises
    ------
    ClusterError
        When the scheduler is gone (its queue with it): no use going on.
    """
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    try:
        return _as_typed(future.result(), task, swaps)
    except KilledWorker:
        error = (f"{task.source.label}: the Dask workers filtering it died, again and again (out of memory?); give "
                 "the workers more memory (dask worker --memory-limit) or filter it with --jobs 1")
    except (CancelledError, OSError) as err:  # OSError: Dask's CommClosedError, a connection lost
        if _scheduler_gone(client):
            raise _lost(client, books) from None
        error = (f"{task.source.label}: its Dask task was lost ({type(err).__name__}: {err}); run again with "
                 "--skip-existing")
    except Exception as err:
        error = (f"{task.source.label}: the Dask task failed ({type(err).__name__}: {err}); check the workers' "
                 "logs, or filter it with --jobs 1")
    return _result(task, "failed", error=error)


def _scheduler_gone(client: Any, *, grace: float = 2.0) -> bool:
    """Whether the client lost its scheduler (it may take a moment to notice a closed connection)."""
    deadline = time.monotonic() + grace
    while client.status == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    return client.status != "running"


def _lost(client: Any, books: _Bookkeeping) -> ClusterError:
    """The error for a scheduler lost mid-batch: its state (every queued file) is gone with it."""
    done = sum(1 for r in books.results.values() if r.status == "written")
    return ClusterError(f"lost the Dask scheduler at {client.scheduler.address} in the middle of the batch, after "
                        f"{done} file(s) written (those are complete); start it again and re-run with "
                        "--skip-existing to finish the rest")


def _submit_in_window(client: Any, work: Sequence[Task], recipe: Recipe, *, overwrite: bool,
                      books: _Bookkeeping, submitted: list[Task], wait_running: bool) -> None:
    """Keep :func:`window` files in flight until every task of ``work`` is recorded (or ``--fail-fast`` stops)."""
    from distributed import as_completed

    shared: list[tuple[str, str]] = []  # the --mask file, read by each worker too
    if recipe.mask is not None and not os.path.isabs(recipe.mask):
        shared.append((os.path.abspath(recipe.mask), recipe.mask))
        recipe = replace(recipe, mask=shared[0][0])
    run = uuid.uuid4().hex[:8]
    pending = iter(work)
    running: dict[Any, tuple[Task, list[tuple[str, str]]]] = {}
    finished = as_completed(loop=client.loop)
    size, sized = window(sum(client.nthreads().values())), time.monotonic()
    try:
        while True:
            if time.monotonic() - sized > _WINDOW_REFRESH:
                size, sized = window(sum(client.nthreads().values())), time.monotonic()
            while len(running) < size and not books.stop:
                task = next(pending, None)
                if task is None:
                    break
                failed = books.prepare(task)
                if failed is not None:
                    books.record(failed)
                    continue
                sent, swaps = _portable(task)
                try:
                    future = client.submit(_filter_on_worker, sent, recipe, overwrite,
                                           key=f"convcli-{run}-{task.index}", pure=False, retries=RETRIES)
                except Exception:
                    if client.status == "running":
                        raise
                    raise _lost(client, books) from None
                submitted.append(task)
                running[future] = (task, swaps + shared)
                finished.add(future)
            if not running:
                return
            future = next(finished)
            task, swaps = running.pop(future)
            books.record(_collected(future, task, swaps, client, books))
    except BaseException:
        with _signals_ignored():
            finished.clear()
            with contextlib.suppress(Exception):
                client.cancel(list(running))
        if wait_running and client.status == "running":
            _wait_for_running(client, f"convcli-{run}-")
        raise


def _running(prefix: str, dask_worker: Any = None) -> int:
    """Run on each worker: how many of the batch's files it is still filtering (cancelled ones finish)."""
    return sum(1 for ts in dask_worker.state.executing if str(ts.key).startswith(prefix))


def _wait_for_running(client: Any, prefix: str) -> None:
    """After cancelling: wait (at most :data:`CANCEL_WAIT` s; a second Ctrl-C stops it) until no file is filtered.

    Dask cannot stop a task that has started; waiting here means that when the
    batch returns, nothing of it still writes anywhere.
    """
    from ..errors import Interrupted

    deadline = time.monotonic() + CANCEL_WAIT
    with contextlib.suppress(Exception, KeyboardInterrupt, Interrupted):
        while time.monotonic() < deadline and any(client.run(_running, prefix=prefix).values()):
            time.sleep(0.05)


def _one_giant(client: Any, task: Task, recipe: Recipe, *, overwrite: bool, books: _Bookkeeping,
               wait_running: bool) -> bool:
    """Filter the batch's one file band by band (:mod:`.giant`) when it can be; whether it was."""
    from .giant import filter_task

    result = books.prepare(task) or filter_task(client, task, recipe, overwrite=overwrite, wait_running=wait_running)
    if result is None:
        return False
    books.record(result)
    return True


def run_on_cluster(
    tasks: Sequence[Task],
    recipe: Recipe,
    *,
    scheduler: str | Any,
    force: bool | None = None,
    fail_fast: bool = False,
    on_result: Callable[[FileResult], None] | None = None,
    timeout: float | None = None,
) -> list[FileResult]:
    """:func:`convcli.batch.run_batch` on a Dask cluster: one result per task, in task order.

    Parameters
    ----------
    tasks : sequence of Task
        From :meth:`convcli.recipe.Recipe.plan`; the paths must be shared
        by this machine and the workers.
    recipe : Recipe
    scheduler : str or distributed.Client
        See :func:`connect`.
    force : bool, optional
        Replace existing outputs; by default as ``recipe.force``.
    fail_fast : bool, optional
        Stop submitting at the first failure; the files in flight finish and
        the rest are ``skipped``.
    on_result : callable, optional
        Called here with each result as it comes back (for progress).
    timeout : float, optional
        Seconds to reach the scheduler and to see a worker (:func:`connect`).

    Raises
    ------
    ClusterError, UsageError
        From :func:`connect`, before anything is written.
    KeyboardInterrupt, Interrupted
        After cancelling what was queued and removing temporary files.

    Examples
    --------
    >>> from convcli.recipe import Recipe
    >>> run_on_cluster([], Recipe(), scheduler=object())
    Traceback (most recent call last):
    ...
    TypeError: scheduler must be an address, 'local' or a distributed.Client, got <object object at ...>
    """
    overwrite = recipe.force if force is None else force
    books = _Bookkeeping(fail_fast=fail_fast, on_result=on_result)
    submitted: list[Task] = []
    try:
        with connect(scheduler, timeout=timeout) as client:
            work = books.settle(tasks, recipe)
            if not books.stop:
                # a cluster this batch started is stopped on an interrupt; another one is waited for
                own = isinstance(scheduler, str) and scheduler.strip().lower() == LOCAL
                submitted.extend(work[:1] if len(tasks) == 1 else [])  # its temporary output is removed at the end
                if len(tasks) == 1 and len(work) == 1 and _one_giant(client, work[0], recipe, overwrite=overwrite,
                                                                      books=books, wait_running=not own):
                    return books.finish(tasks)
                _submit_in_window(client, work, recipe, overwrite=overwrite, books=books, submitted=submitted,
                                  wait_running=not own)
    finally:
        with _signals_ignored():
            _remove_temp_files(submitted)  # what a killed worker's write left (its file was run again elsewhere)
    return books.finish(tasks)
