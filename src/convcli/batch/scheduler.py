"""Reaching a Dask scheduler (:func:`connect`) and keeping a bounded window of tasks in flight (:func:`in_window`).

What both Dask strategies share: files one task each (:mod:`convcli.batch.cluster`)
and one giant image in bands of rows (:mod:`convcli.batch.giant`).  At most
:func:`window` tasks are in flight: about :data:`WINDOW_PER_THREAD` per worker
thread, more submitted as results come back, so a run of ten million files
never puts ten million tasks on the scheduler.

Everything here takes its settings as arguments; the environment
(``DASK_SCHEDULER_ADDRESS``) is read by :func:`convcli.batch.choose_executor`.

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
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, TypeVar

from ..errors import ClusterError, UsageError
from .bookkeeping import signals_ignored

__all__ = ["CANCEL_WAIT", "CONNECT_TIMEOUT", "INSTALL_HINT", "LOCAL", "RETRIES", "WINDOW_PER_THREAD",
           "WORKERS_GONE", "WORKER_TIMEOUT", "connect", "in_window", "result_of", "scheduler_gone",
           "wait_for_running", "window", "workers_gone"]

T = TypeVar("T")

#: ``--scheduler local``: a LocalCluster on this machine, one single-threaded worker process per core
LOCAL = "local"
#: seconds to reach the scheduler, and to wait for its first worker
CONNECT_TIMEOUT = 10.0
WORKER_TIMEOUT = 10.0
#: seconds a batch waits with no worker at all before it stops (``--worker-timeout``): tasks on a scheduler
#: without workers wait forever
WORKERS_GONE = 60.0
#: times a file whose task raised is run again (a worker's death is retried by the scheduler itself)
RETRIES = 2
#: after Ctrl-C, seconds to wait for the files already being filtered on a cluster this batch did not start
CANCEL_WAIT = 60.0
#: files in flight per worker thread: enough to keep every thread busy while results travel back
WINDOW_PER_THREAD = 3
#: how often the window follows workers joining or leaving, in seconds
_WINDOW_REFRESH = 5.0
#: how messages name the dask extra: convcli is on no package index, so from a clone, and for the workers a
#: wheel built once and installed with its extra on each
INSTALL_HINT = ("pip install '.[dask]' in convcli's source folder; for the workers, build a wheel there once "
                "(pip wheel --no-deps . -w dist) and run pip install --find-links dist 'convcli[dask]' on each")


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
        comm = await distributed.comm.connect(address, timeout=seconds)  # Dask's handshake included
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            with contextlib.suppress(Exception):
                comm.abort()

    try:
        answer = asyncio.run(asyncio.wait_for(identity(), seconds))
    except (OSError, TimeoutError, asyncio.TimeoutError):
        if _accepts(address, seconds):  # a listener that never speaks (a hung process, not a Dask port)
            raise ClusterError(f"{where} did not answer in {seconds:g} s (the connection was accepted, nothing "
                               "came back); check that the address and port are the scheduler's (usually 8786) "
                               "and that it is not stuck; nothing was written") from None
        raise ClusterError(f"cannot reach {where} within {seconds:g} s; start it (dask scheduler) or check "
                           "the address, the port and the firewall; nothing was written") from None
    except Exception as err:  # something answered, but not as Dask does
        raise ClusterError(f"{where} did not answer as a Dask scheduler ({type(err).__name__}); check the address "
                           "and port (the scheduler's, usually 8786, not the dashboard's 8787); nothing was "
                           "written") from None
    if not (isinstance(answer, dict) and answer.get("type") == "Scheduler"):
        raise ClusterError(f"{where} is a Dask {answer.get('type') if isinstance(answer, dict) else 'peer'}, "
                           "not a scheduler; give the scheduler's address; nothing was written")


def _accepts(address: str, seconds: float) -> bool:
    """Whether a TCP connection to ``address`` (``tcp://``, ``tls://``, ``ws://``) is accepted within ``seconds``.

    Tells a port nobody listens on from one that accepts and then stays silent.

    Examples
    --------
    >>> _accepts("inproc://somewhere", 1.0)
    False
    """
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls", "ws", "wss"):
            return False
        with socket.create_connection(parse_host_port(location), timeout=seconds):
            return True
    except (OSError, ValueError):
        return False


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
            # the worker processes share this terminal's process group: Ctrl-C reaches them too, and each would
            # print its KeyboardInterrupt traceback; they ignore it (dask_setup below), and this client stops them
            with dask_config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                                  "distributed.worker.preload": [__name__]}):
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
            with signals_ignored(), contextlib.suppress(Exception):
                client.close(timeout=CONNECT_TIMEOUT if timeout is None else timeout)
                if cluster is not None:
                    cluster.close()


def dask_setup(worker: Any) -> None:
    """Run in each worker process of ``--scheduler local`` (a Dask preload): Ctrl-C is left to convcli's client.

    The client cancels the batch and closes the cluster; a worker that took
    the terminal's SIGINT itself would only print tracebacks.
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def scheduler_gone(client: Any, *, grace: float = 2.0) -> bool:
    """Whether the client lost its scheduler (it may take a moment to notice a closed connection).

    Examples
    --------
    >>> class Closed:
    ...     status = "closed"
    >>> scheduler_gone(Closed())
    True
    """
    deadline = time.monotonic() + grace
    while client.status == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    return client.status != "running"


def _running(prefix: str, dask_worker: Any = None) -> int:
    """Run on each worker: how many of the batch's files it is still filtering (cancelled ones finish)."""
    return sum(1 for ts in dask_worker.state.executing if str(ts.key).startswith(prefix))


def wait_for_running(client: Any, prefix: str) -> None:
    """After cancelling: wait (at most :data:`CANCEL_WAIT` s; a second Ctrl-C stops it) until no file is filtered.

    Dask cannot stop a task that has started; waiting here means that when the
    batch returns, nothing of it still writes anywhere.

    Examples
    --------
    >>> class Gone:
    ...     def run(self, *args, **kwargs):
    ...         raise OSError("no scheduler")
    >>> wait_for_running(Gone(), "convcli-")
    """
    from ..errors import Interrupted

    deadline = time.monotonic() + CANCEL_WAIT
    with contextlib.suppress(Exception, KeyboardInterrupt, Interrupted):
        while time.monotonic() < deadline and any(client.run(_running, prefix=prefix).values()):
            time.sleep(0.05)


def workers_gone(client: Any, seconds: float, what: str = "") -> ClusterError:
    """The error for a batch whose every worker has been gone ``seconds``: ``what`` says what is done.

    Examples
    --------
    >>> class Client:
    ...     class scheduler:
    ...         address = "tcp://h:8786"
    >>> message = str(workers_gone(Client(), 60, "after 3 file(s) written"))
    >>> message[:87]
    'every Dask worker of the scheduler at tcp://h:8786 has been gone for 60 s, so the batch'
    >>> message[87:]
    ' stopped after 3 file(s) written; start workers (dask worker tcp://h:8786) and re-run with --skip-existing to \
finish the rest'
    """
    address = client.scheduler.address
    return ClusterError(f"every Dask worker of the scheduler at {address} has been gone for {seconds:g} s, so the "
                        f"batch stopped{' ' + what if what else ''}; start workers (dask worker {address}) and "
                        "re-run with --skip-existing to finish the rest")


class _Absence:
    """Whether the scheduler has had no worker for ``seconds``: ``gone(seconds)`` is raised then (:meth:`check`)."""

    def __init__(self, client: Any, seconds: float, gone: Callable[[float], BaseException]) -> None:
        self.client, self.seconds, self.gone = client, seconds, gone
        self.since: float | None = None  # since when no worker was seen
        self.checked = -1e9

    def check(self) -> None:
        now = time.monotonic()
        if now - self.checked < min(0.5, self.seconds / 4):
            return
        self.checked = now
        try:
            alive = bool(self.client.nthreads())
        except Exception:  # the scheduler itself is gone: its futures come back lost, reported by the caller
            alive = True
        if alive:
            self.since = None
        elif self.since is None:
            self.since = now
        elif now - self.since >= self.seconds:
            raise self.gone(self.seconds)


def _next_done(finished: Any, absence: _Absence) -> Any:
    """The next done future of ``finished``, unless every worker has been gone too long.

    A task on a scheduler without workers waits for one forever: the only
    worker killed with its nanny would otherwise hang the batch.
    """
    while not finished.has_ready():
        absence.check()
        time.sleep(0.02)
    return next(finished)


def result_of(future: Any, client: Any, *, worker_timeout: float = WORKERS_GONE,
              gone: Callable[[float], BaseException] | None = None) -> Any:
    """``future.result()``, unless every worker has been gone ``worker_timeout`` s: ``gone(worker_timeout)``.

    A result is kept on the worker that computed it: when that worker dies
    the scheduler computes it again, which waits forever without workers.
    """
    absence = _Absence(client, worker_timeout, gone or (lambda seconds: workers_gone(client, seconds)))
    while True:
        try:
            return future.result(timeout=0.25)
        except TimeoutError:
            if future.status == "error":  # the task's own TimeoutError
                raise
        absence.check()


def in_window(client: Any, items: Iterable[T], submit: Callable[[T], Any], *, prefix: str, ordered: bool = False,
              stop: Callable[[], bool] = lambda: False, wait_running: bool = False,
              worker_timeout: float = WORKERS_GONE,
              gone: Callable[[float], BaseException] | None = None) -> Generator[tuple[T, Any]]:
    """``(item, future)`` for each submitted item, done, with at most :func:`window` tasks in flight.

    The one submission loop of both Dask strategies.  ``submit(item)``
    returns the item's future (its key starting with ``prefix``), or None
    when the item needs no task (the caller recorded it).  Items are
    submitted in order while fewer than :func:`window` futures are in flight
    and ``stop()`` is false; the window follows workers joining or leaving.

    Parameters
    ----------
    ordered : bool, optional
        Yield in submission order (bands written in order); a future done
        early is held, and counts in the window until it is yielded.
        Otherwise as they complete.
    wait_running : bool, optional
        After cancelling, wait until no task under ``prefix`` still runs
        (a cluster the run did not start; see :func:`wait_for_running`).
    worker_timeout : float, optional
        Seconds without any worker after which the batch stops (default
        :data:`WORKERS_GONE`), raising ``gone(worker_timeout)`` (default
        :func:`workers_gone`).

    On any exception, or when the consumer closes the iterator early
    (``contextlib.closing``), the futures not yet yielded are cancelled.

    Examples
    --------
    >>> in_window  # doctest: +ELLIPSIS
    <function in_window at ...>
    """
    from distributed import as_completed

    size, sized = window(sum(client.nthreads().values())), time.monotonic()
    todo = iter(items)
    running: dict[Any, T] = {}  # submitted, not yet yielded (ordered: done ones too)
    order: deque[Any] = deque()
    held: set[Any] = set()
    finished = as_completed(loop=client.loop)
    absence = _Absence(client, worker_timeout, gone or (lambda seconds: workers_gone(client, seconds)))
    more = True
    try:
        while True:
            if time.monotonic() - sized > _WINDOW_REFRESH:
                size, sized = window(sum(client.nthreads().values())), time.monotonic()
            while more and len(running) < size and not stop():
                item = next(todo, None)
                if item is None:
                    more = False
                    break
                future = submit(item)
                if future is not None:
                    running[future] = item
                    order.append(future)
                    finished.add(future)
            if not running:
                return
            if ordered:
                while order[0] not in held:
                    held.add(_next_done(finished, absence))
                future = order.popleft()
                held.discard(future)
            else:
                future = _next_done(finished, absence)
            yield running.pop(future), future
    except BaseException:
        with signals_ignored():
            finished.clear()
            with contextlib.suppress(Exception):  # the scheduler may be gone: nothing left to cancel
                client.cancel(list(running))
        if wait_running and client.status == "running":
            wait_for_running(client, prefix)
        raise
