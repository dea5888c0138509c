"""What an evaluation method is: one registry entry, built next to the method's own code.

A :class:`Method` bundles everything the engine needs to know about one
strategy (its name, how to run it, the strip granularity that keeps results
bit-identical, its modelled cost, and the sentence that explains choosing it).
``_registry.py`` collects the entries; ``auto`` picks the cheapest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ._plan import Plan, Problem


class Runner(Protocol):
    """``run(plan, rows=(i0, i1))``: output rows [i0, i1) as (rows, W_out, C); all of them, shaped as the caller's
    image, when ``rows`` is None."""

    def __call__(self, plan: Plan, *, rows: tuple[int, int] | None = None) -> np.ndarray: ...


def _accepts_any(plan: Plan) -> str | None:
    return None


def _keeps_nan(plan: Plan) -> bool:
    return True


@dataclass(frozen=True)
class Method:
    """One evaluation strategy of the engine.

    Attributes
    ----------
    name : str
        What ``method=`` calls it.
    run : callable
        ``run(plan, *, rows=None) -> ndarray`` (see :class:`Runner`).
    granularity : callable
        ``granularity(plan) -> int``: strips of output rows that are multiples
        of it stack to the whole result bit for bit.
    cost : callable
        ``cost(problem) -> float | None``: modelled seconds, or None when the
        method cannot take this problem (``auto`` skips it).
    reason : callable
        ``reason(problem) -> str``: why ``auto`` picks it, one sentence.
    refuses : callable, optional
        ``refuses(plan) -> str | None``: why ``auto`` must not send this data
        to it (precision), or None.  Forcing the method still runs it.
    keeps_nan : callable, optional
        ``keeps_nan(plan) -> bool``: whether a NaN reaches exactly the outputs
        whose window (non-zero taps) holds it; when not, the engine makes it
        so (:mod:`convcli.engine._nan`).
    """

    name: str
    run: Runner
    granularity: Callable[[Plan], int]
    cost: Callable[[Problem], float | None]
    reason: Callable[[Problem], str]
    refuses: Callable[[Plan], str | None] = field(default=_accepts_any)
    keeps_nan: Callable[[Plan], bool] = field(default=_keeps_nan)


@dataclass(frozen=True)
class MethodChoice:
    """What ``method="auto"`` picks, why, and the modelled costs.

    Attributes
    ----------
    method : str
        The name of the method picked (one of ``convcli.engine.METHODS``).
    reason : str
        One sentence a person can read.
    costs : dict of str to float
        Modelled seconds of each method considered (a method that does not
        apply is absent).
    """

    method: str
    reason: str
    costs: dict[str, float] = field(default_factory=dict)
