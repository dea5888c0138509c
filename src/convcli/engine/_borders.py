"""Border names and the padded-index maps every method shares.

convcli uses numpy.pad's border names and meanings.  Other libraries' names that
mean one thing are accepted as aliases; ``mirror`` means different things in
SciPy and ImageMagick and is refused with both meanings named.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from ..errors import ParameterError
from ..specs import closest

Border: TypeAlias = Literal["constant", "edge", "reflect", "symmetric", "wrap"]

BORDERS: tuple[str, ...] = ("constant", "edge", "reflect", "symmetric", "wrap")

#: alias -> numpy.pad name.  Case and '-'/'_' are ignored when looking up.
BORDER_ALIASES: dict[str, str] = {
    # constant (numpy), zeros (PyTorch padding_mode), grid-constant (SciPy), BORDER_CONSTANT (OpenCV)
    "zeros": "constant",
    "zero": "constant",
    "gridconstant": "constant",
    "borderconstant": "constant",
    # edge (numpy), replicate (PyTorch, OpenCV BORDER_REPLICATE), nearest (SciPy)
    "replicate": "edge",
    "nearest": "edge",
    "clamp": "edge",
    "borderreplicate": "edge",
    # reflect (numpy, PyTorch): dcb|abcd; OpenCV BORDER_REFLECT_101 / BORDER_DEFAULT
    "reflect101": "reflect",
    "borderreflect101": "reflect",
    "borderdefault": "reflect",
    # symmetric (numpy): cba|abc; SciPy's 'reflect'/'grid-mirror', OpenCV BORDER_REFLECT
    "gridmirror": "symmetric",
    "borderreflect": "symmetric",
    "halfsymmetric": "symmetric",
    # wrap (numpy, SciPy), circular (PyTorch), tile (ImageMagick), BORDER_WRAP (OpenCV)
    "circular": "wrap",
    "periodic": "wrap",
    "tile": "wrap",
    "gridwrap": "wrap",
    "borderwrap": "wrap",
}


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def normalize_border(border: str) -> str:
    """The numpy.pad name for a border name or alias.

    Parameters
    ----------
    border : str
        A numpy.pad name (``constant``, ``edge``, ``reflect``, ``symmetric``,
        ``wrap``) or an unambiguous alias (``zeros``, ``replicate``,
        ``nearest``, ``circular``, ``reflect101``, ``tile``, ``grid-mirror``, …).

    Returns
    -------
    str

    Raises
    ------
    ParameterError
        For ``mirror`` (ambiguous) and for unknown names.

    Examples
    --------
    >>> normalize_border("replicate")
    'edge'
    >>> normalize_border("BORDER_REFLECT_101")
    'reflect'
    >>> normalize_border("mirror")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: border 'mirror' is ambiguous: ... pass 'reflect' or 'symmetric'
    """
    if not isinstance(border, str):
        raise ParameterError(f"border must be a name such as 'reflect', got {border!r}")
    key = _key(border)
    if key == "mirror":
        raise ParameterError(
            f"border {border!r} is ambiguous: in SciPy it means 'reflect' (dcb|abcd, the edge pixel not "
            "repeated) and in ImageMagick 'symmetric' (cba|abc, the edge pixel repeated); "
            "pass 'reflect' or 'symmetric'"
        )
    if key in BORDERS:
        return key
    if key in BORDER_ALIASES:
        return BORDER_ALIASES[key]
    hint = closest(key, list(BORDERS) + list(BORDER_ALIASES))
    suggestion = f" (did you mean {BORDER_ALIASES.get(hint, hint)!r}?)" if hint else ""
    raise ParameterError(
        f"unknown border {border!r}{suggestion}; use one of {', '.join(BORDERS)} "
        "(numpy.pad names) or an alias such as zeros, replicate, nearest, circular, reflect101"
    )


def padded_index_map(n: int, before: int, after: int, border: str) -> np.ndarray:
    """Source index of every padded position along one axis (-1 for the constant border).

    The map is numpy.pad applied to ``arange(n)``, so every border, and pads
    larger than the image, behave exactly as numpy.pad.

    Examples
    --------
    >>> padded_index_map(4, 2, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> padded_index_map(3, 1, 1, "constant").tolist()
    [-1, 0, 1, 2, -1]
    """
    index = np.arange(n, dtype=np.intp)
    if border == "constant":
        return np.pad(index, (before, after), mode="constant", constant_values=-1)
    return np.pad(index, (before, after), mode=border)  # type: ignore[call-overload]
