"""The cost model behind ``method="auto"``: the pieces every method's cost shares.

Each method models its own time next to its code (``cost`` in its registry
entry) from counts the engine knows before running: memory passes of the
shift-and-add (direct and separable), BLAS flops of the banded-Toeplitz passes,
FFT points times log2 of the size (fft), plus the gather that converts the
input and a fixed cost per call.  The per-unit constants are fitted by
measurement on this kind of machine with ``python benchmarks/fit_cost_model.py``
(which rewrites ``_cost_constants.py``).

The work is modelled as spread over the machine's cores, whatever thread count
a call asks for, so the choice, and so every byte of the result, is the same
for any ``threads=``.
"""

from __future__ import annotations

from . import _cost_constants as K
from ._plan import Problem
from ._threads import machine_threads, worth_threads


def speedup(threads: int | None = None) -> float:
    """Modelled speed-up of the parallel work on ``threads`` threads (default: the machine's cores).

    Examples
    --------
    >>> speedup(1)
    1.0
    >>> speedup(4) == 4 * K.PARALLEL_EFFICIENCY
    True
    """
    n = machine_threads() if threads is None else threads
    return max(1.0, K.PARALLEL_EFFICIENCY * n) if n > 1 else 1.0


def gathered(problem: Problem) -> int:
    """Elements of the padded input a method gathers (copies and converts) once."""
    need_h, need_w = problem.needed
    return need_h * need_w * problem.channels


def call_seconds(problem: Problem, work: float, *, fixed: float = 0.0, gather_factor: float = 1.0) -> float:
    """Modelled seconds of a call: fixed costs plus the gather and ``work`` seconds, run in parallel."""
    gather = gathered(problem) * gather_factor * K.GATHER
    ho, wo = problem.out_hw
    parallel = worth_threads(ho * wo * problem.channels)  # smaller calls run on one thread (run_parallel)
    return K.OVERHEAD + fixed + (gather + work) / (speedup() if parallel else 1.0)
