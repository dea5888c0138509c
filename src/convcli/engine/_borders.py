"""Border names, the constant border's value, and the padded-index maps every method shares.

This is the one place that turns a border name and ``border_value`` into what
is used (:func:`resolve_border`) and says what each padded position holds
(:func:`padded_index_map`, :func:`pad_image`).

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


def resolve_border(border: str, border_value: object = 0.0) -> tuple[str, float]:
    """The numpy.pad name of ``border`` and the checked value of the constant border.

    Parameters
    ----------
    border : str
        A border name or alias, as in :func:`normalize_border`.
    border_value : float, optional
        The value of the ``constant`` border (ignored by the others).  NaN is
        allowed: it marks every output the border touched.

    Returns
    -------
    tuple of (str, float)

    Raises
    ------
    ParameterError
        For an unknown or ambiguous border, a value that is not a number, or
        ``zeros`` with a non-zero value.

    Examples
    --------
    >>> resolve_border("zeros")
    ('constant', 0.0)
    >>> resolve_border("BORDER_CONSTANT", 7)
    ('constant', 7.0)
    >>> resolve_border("zeros", 2)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: border 'zeros' means a constant 0 border, but border_value=2; ...
    """
    mode = normalize_border(border)
    try:
        value = float(border_value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"border_value must be a number, got {border_value!r}") from None
    if _key(border) in ("zeros", "zero") and value != 0.0:
        raise ParameterError(
            f"border {border!r} means a constant 0 border, but border_value={border_value!r}; "
            "use border='constant' with that value"
        )
    return mode, value


def pad_image(
    image: np.ndarray,
    pads: tuple[int, int, int, int],
    *,
    border: str = "reflect",
    border_value: float = 0.0,
) -> np.ndarray:
    """The image padded by ``(top, bottom, left, right)`` with a border rule, as float64.

    The slow, obvious padded array (what numpy.pad gives), for explanations,
    gradients and references; the engine itself never builds it.

    Examples
    --------
    >>> pad_image(np.array([[1, 2, 3]]), (0, 0, 2, 1), border="constant", border_value=9)
    array([[9., 9., 1., 2., 3., 9.]])
    >>> pad_image(np.array([[1, 2, 3]]), (1, 0, 2, 0), border="reflect")
    array([[3., 2., 1., 2., 3.],
           [3., 2., 1., 2., 3.]])
    """
    mode, value = resolve_border(border, border_value)
    arr = np.asarray(image)
    top, bottom, left, right = pads
    rmap = padded_index_map(arr.shape[0], top, bottom, mode)
    cmap = padded_index_map(arr.shape[1], left, right, mode)
    padded = arr.astype(np.float64)[np.clip(rmap, 0, None)][:, np.clip(cmap, 0, None)]
    padded[rmap < 0] = value
    padded[:, cmap < 0] = value
    return padded
