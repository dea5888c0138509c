"""The engine's threads: its own pool, and BLAS's limit while the engine works.

NumPy releases the GIL in ufunc loops, FFTs and matrix products, so row bands
and FFT tiles run in parallel on a shared pool.  How many threads is an
argument (``threads=``) or a context (:func:`thread_limit`), held in a
:class:`contextvars.ContextVar`: never an environment variable.  While the
engine runs BLAS products on its own threads it holds BLAS to one thread with
threadpoolctl (:func:`single_threaded_blas`), so the library and the command
line take the same path and give the same bytes whatever
``OPENBLAS_NUM_THREADS`` says.
"""

from __future__ import annotations

import numbers
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from ..errors import ParameterError

T = TypeVar("T")
R = TypeVar("R")

_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_THREADS: ContextVar[int | None] = ContextVar("convcli_engine_threads", default=None)


def machine_threads() -> int:
    """The cores this process may use (the default thread count).

    Examples
    --------
    >>> machine_threads() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def check_threads(threads: object) -> int | None:
    """``threads`` checked: a positive integer, or None (no preference).

    Examples
    --------
    >>> check_threads(0)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: threads must be a positive integer or None, got 0
    """
    if threads is None:
        return None
    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool) or threads < 1:
        raise ParameterError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


def thread_count(threads: int | None = None) -> int:
    """Threads for a call: ``threads`` if given, else the :func:`thread_limit` in force, else the cores.

    Examples
    --------
    >>> thread_count(3)
    3
    >>> with thread_limit(1):
    ...     thread_count()
    1
    """
    n = check_threads(threads)
    if n is None:
        n = _THREADS.get()
    return machine_threads() if n is None else n


@contextmanager
def thread_limit(threads: int | None) -> Iterator[int]:
    """Run the engine calls inside the ``with`` block on ``threads`` threads.

    The setting lives in a context variable: it holds for this thread (and
    asyncio task) until the block ends, and other threads are not affected.
    A ``threads=`` argument of a call overrides it.  The result of every call
    is the same, bit for bit, whatever the thread count.

    Parameters
    ----------
    threads : int or None
        A positive number of threads; None leaves the setting in force (by
        default the machine's cores).

    Yields
    ------
    int
        The thread count in force inside the block.

    Raises
    ------
    ParameterError
        If ``threads`` is not a positive integer or None.

    Examples
    --------
    >>> import numpy as np
    >>> from convcli.engine import correlate
    >>> with thread_limit(1) as n:
    ...     out = correlate(np.ones((64, 64)), np.ones((3, 3)))
    >>> n, out.shape
    (1, (64, 64))
    """
    n = check_threads(threads)
    if n is None:
        yield thread_count()
        return
    token = _THREADS.set(n)
    try:
        yield n
    finally:
        _THREADS.reset(token)


#: work (output samples) below which a call's bands run one after another on the calling thread: handing
#: small bands to the pool costs more than the second core gives (measured on the 2-vCPU CI machine kind:
#: two threads took 1.2-1.4x one thread's time at 512x512, 0.9x at 1024x1024, 0.6x at 2048x2048)
SERIAL_BELOW = 1 << 19


def worth_threads(work: int) -> bool:
    """Whether a call of ``work`` output samples goes to the pool (the rule :func:`run_parallel` and the cost
    model share).

    Examples
    --------
    >>> worth_threads(512 * 512), worth_threads(1024 * 1024)
    (False, True)
    """
    return work >= SERIAL_BELOW


def run_parallel(func: Callable[[T], R], items: Sequence[T], threads: int | None = None, *,
                 work: int | None = None) -> list[R]:
    """``[func(i) for i in items]``, spread over the shared pool when more than one thread is allowed.

    ``work`` (the call's output samples) that is not :func:`worth_threads`
    runs the items in order on this thread: the same items, so the same bytes.
    """
    n = thread_count(threads)
    if n == 1 or len(items) <= 1 or (work is not None and not worth_threads(work)):
        return [func(item) for item in items]
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None or _POOL_SIZE != n:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="convcli")
            _POOL_SIZE = n
        pool = _POOL
    return list(pool.map(func, items))


# --- BLAS -------------------------------------------------------------------------------------------

_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0
_BLAS_LIMITER: Any = None
_CONTROLLER: Any = None


def _controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded (NumPy's), made once."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        _CONTROLLER = ThreadpoolController().select(user_api="blas")
    return _CONTROLLER


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Hold BLAS to one thread inside the block (the engine runs its own threads).

    Nested and concurrent blocks share one limit: the first to enter sets it,
    the last to leave restores what was there before.

    The BLAS held is NumPy's (the one the engine's matrix products use),
    found when the engine first runs.

    Examples
    --------
    >>> with single_threaded_blas():
    ...     {lib.num_threads for lib in _controller().lib_controllers} <= {1}
    True
    """
    global _BLAS_USERS, _BLAS_LIMITER
    with _BLAS_LOCK:
        if _BLAS_USERS == 0:
            controller = _controller()
            _BLAS_LIMITER = controller.limit(limits=1) if controller.lib_controllers else None
        _BLAS_USERS += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0 and _BLAS_LIMITER is not None:
                _BLAS_LIMITER.restore_original_limits()
                _BLAS_LIMITER = None


@contextmanager
def engine_threads(threads: int | None) -> Iterator[int]:
    """The context of an engine call: ``threads`` for the engine's pool, one thread for BLAS.

    BLAS is held to one thread for the whole call (the SVD of the separable
    check included): the engine parallelises on its own, and a multi-threaded
    BLAS waking threads for small products on a busy machine is slow.
    """
    with thread_limit(threads) as n, single_threaded_blas():
        yield n
