"""A shared thread pool: NumPy releases the GIL in ufunc loops and FFTs, so row
bands and FFT tiles run in parallel on the machine's cores."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def thread_count() -> int:
    """Threads the engine uses: ``CONVCLI_THREADS`` if set, else the usable cores.

    Examples
    --------
    >>> thread_count() >= 1
    True
    """
    env = os.environ.get("CONVCLI_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def run_parallel(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[func(i) for i in items]``, spread over the thread pool when it helps."""
    n = thread_count()
    if n == 1 or len(items) <= 1:
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
