"""The registry of evaluation methods, and ``auto``, which picks the cheapest.

Each method module builds its own :class:`~convcli.engine._method.Method`
entry next to its code; registering a new method is adding it to ``REGISTRY``
(and its name to ``MethodName``, for type checkers) here.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from ..errors import ParameterError
from ..specs import closest
from . import _direct, _fft, _separable
from ._method import Method, MethodChoice
from ._plan import Plan, Problem

#: name -> entry, in the order ``METHODS`` lists them
REGISTRY: dict[str, Method] = {m.name: m for m in (_direct.METHOD, _separable.METHOD, _fft.METHOD)}
#: the names ``method=`` takes, for type checkers (a test keeps it equal to ``("auto", *REGISTRY)``)
MethodName: TypeAlias = Literal["auto", "direct", "separable", "fft"]


def method_names() -> tuple[str, ...]:
    """``"auto"`` and the registered methods' names.

    Examples
    --------
    >>> method_names()
    ('auto', 'direct', 'separable', 'fft')
    """
    return ("auto", *REGISTRY)


def check_method(name: object) -> str:
    """``name`` if it is ``auto`` or a registered method; otherwise an error listing the valid names.

    Examples
    --------
    >>> check_method("fft")
    'fft'
    >>> check_method("separble")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: unknown method 'separble' (did you mean 'separable'?); use one of auto, ...
    """
    names = method_names()
    if not isinstance(name, str) or name not in names:
        hint = closest(name, names) if isinstance(name, str) else None
        suggestion = f" (did you mean {hint!r}?)" if hint else ""
        raise ParameterError(f"unknown method {name!r}{suggestion}; use one of {', '.join(names)}")
    return name


def choose(problem: Problem) -> MethodChoice:
    """The cheapest registered method by the cost model, with its reason and every modelled cost."""
    costs = {name: c for name, m in REGISTRY.items() if (c := m.cost(problem)) is not None}
    best = min(costs, key=costs.__getitem__)
    return MethodChoice(best, REGISTRY[best].reason(problem), costs)


def resolve(plan: Plan, name: str) -> Method:
    """The entry to run: a named method as asked, or ``auto``'s choice.

    ``auto`` passes over a method that refuses this data (the FFT on NaN/inf or
    a huge dynamic range) for the next cheapest.
    """
    if check_method(name) != "auto":
        return REGISTRY[name]
    costs = choose(plan).costs
    for candidate in sorted(costs, key=costs.__getitem__):
        if REGISTRY[candidate].refuses(plan) is None:
            return REGISTRY[candidate]
    return REGISTRY[min(costs, key=costs.__getitem__)]
