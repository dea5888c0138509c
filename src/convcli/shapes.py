"""All output-size arithmetic: convolution, pooling and chains of them.

This module is the one place in convcli that computes shapes, spans and
anchors.  It works on plain integers and never touches arrays, so the engine,
pooling and the ``outsize`` command all agree by construction.  Chains of
layers (:class:`~convcli.layers.Layer`, :func:`~convcli.layers.chain_sizes`)
live in :mod:`convcli.layers`.

Convolution (seed 003, PyTorch's ``Conv2d`` with dilation), per axis::

    out = floor((O + P_total - (d*(k-1) + 1)) / s) + 1

where ``O`` is the input size, ``P_total`` the padding added on both sides
together, ``k`` the kernel size, ``d`` the dilation and ``s`` the stride.  A
strided result is every ``s``-th sample of the stride-1 result, starting with
the first, which is why the formula takes a floor.

Pooling follows PyTorch's ``max_pool2d``/``avg_pool2d``::

    out = floor_or_ceil((O + 2p - d*(k-1) - 1) / s) + 1

and, with ``ceil_mode``, the last window must start inside the input or the
left padding: if ``(out - 1) * s >= O + p`` then ``out -= 1``.  The padding may
be at most half the window (``p <= k // 2``).

Examples
--------
>>> output_size((224, 224), (7, 7), pad=3, stride=2)
(112, 112)
>>> output_size((5, 5), (3, 3), pad="valid")
(3, 3)
>>> pool_output_size((112, 112), 3, stride=2, pad=1)
(56, 56)
>>> pool_output_size((5, 5), 2, ceil_mode=True)
(3, 3)
"""

from __future__ import annotations

import numbers
from typing import Final, Literal, TypeAlias

from .errors import ParameterError, ShapeError

__all__ = [
    "MAX_KERNEL_SIDE",
    "POOL_OPS",
    "PadMode",
    "PadSpec",
    "as_pair",
    "ceil_div",
    "check_anchor",
    "check_hw",
    "conv_output_length",
    "effective_size",
    "flipped_anchor",
    "input_extent",
    "output_size",
    "pool_output_length",
    "pool_output_size",
    "resolve_pad",
    "resolve_pool",
    "resolve_pool_pad",
]

PadMode: TypeAlias = Literal["same", "valid", "full"]
#: ``"same"``, ``"valid"``, ``"full"``, an int (all sides), a pair (rows, cols)
#: or four ints (top, bottom, left, right).
PadSpec: TypeAlias = "PadMode | int | tuple[int, int] | tuple[int, int, int, int]"

#: the largest kernel side anywhere in convcli (named kernels, inline matrices, files and the engine).
MAX_KERNEL_SIDE: Final = 1025

#: Pooling operations; a layer spec may also say ``pool`` (any of them: the shape does not depend on it).
POOL_OPS = ("max", "mean", "min")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_pair(value: object, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Turn an int or a pair of ints into a pair, checking the lower bound.

    Parameters
    ----------
    value : int or pair of int
        The value as a user gave it.
    name : str
        The parameter's name, for the error message.
    minimum : int, optional
        The smallest allowed value (default 1).

    Returns
    -------
    tuple of int
        ``(rows, cols)``.

    Raises
    ------
    ParameterError
        If the value is not an int or a pair of ints, or is below ``minimum``.

    Examples
    --------
    >>> as_pair(2, "stride")
    (2, 2)
    >>> as_pair((1, 3), "dilation")
    (1, 3)
    >>> as_pair(0, "stride")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: stride must be a positive integer or a pair of them, got 0
    """
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    message = f"{name} must be {what} or a pair of them, got {value!r}"
    if _is_int(value):
        pair = (int(value), int(value))  # type: ignore[call-overload]
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ParameterError(message)
    if min(pair) < minimum:
        raise ParameterError(message)
    return pair


def check_hw(hw: object, what: str) -> tuple[int, int]:
    """A size ``(height, width)`` of two positive integers, or a :class:`ParameterError` naming ``what``.

    Examples
    --------
    >>> check_hw((480, 640), "image")
    (480, 640)
    >>> check_hw((0, 3), "input")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: input size must be two positive integers (height, width), got (0, 3)
    """
    if not (isinstance(hw, (tuple, list)) and len(hw) == 2 and all(_is_int(v) and v >= 1 for v in hw)):
        raise ParameterError(f"{what} size must be two positive integers (height, width), got {hw!r}")
    return int(hw[0]), int(hw[1])


def effective_size(kernel: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: ``d*(k-1) + 1``.

    Examples
    --------
    >>> effective_size(3, 2)
    5
    """
    return dilation * (kernel - 1) + 1


def input_extent(outputs: int, kernel: int = 1, *, stride: int = 1, dilation: int = 1) -> int:
    """Input samples that ``outputs`` outputs along one axis read: ``(outputs-1)*s + d*(k-1) + 1``.

    The inverse of :func:`conv_output_length` (without padding): the rows a
    strip of output rows needs, or the stride-1 outputs a strided result keeps
    (``kernel=1``).

    Examples
    --------
    >>> input_extent(112, 7, stride=2)
    229
    >>> input_extent(4, stride=3)
    10
    """
    return (outputs - 1) * stride + effective_size(kernel, dilation)


def conv_output_length(
    size: int,
    kernel: int,
    *,
    pad_total: int = 0,
    stride: int = 1,
    dilation: int = 1,
    axis: str = "rows",
) -> int:
    """Output length of a convolution along one axis.

    Parameters
    ----------
    size : int
        Input length ``O``.
    kernel : int
        Kernel length ``k``.
    pad_total : int, optional
        Padding added on both sides together.
    stride, dilation : int, optional
        Stride ``s`` and dilation ``d``.
    axis : str, optional
        Name of the axis, for the error message.

    Returns
    -------
    int
        ``floor((O + P_total - (d*(k-1)+1)) / s) + 1``.

    Raises
    ------
    ShapeError
        If the result is below 1, naming the sizes.

    Examples
    --------
    >>> conv_output_length(224, 7, pad_total=6, stride=2)
    112
    >>> conv_output_length(3, 5)
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: nothing is left along rows: (3 + 0 - 5) // 1 + 1 = -1; ...
    """
    span = effective_size(kernel, dilation)
    out = (size + pad_total - span) // stride + 1
    if out < 1:
        dil = f" (dilation {dilation} spreads it over {span})" if dilation != 1 else ""
        raise ShapeError(
            f"nothing is left along {axis}: ({size} + {pad_total} - {span}) // {stride} + 1 = {out}; "
            f"a {kernel}-tap kernel{dil} needs at least {span} {axis} after padding "
            "(use more padding, e.g. pad='same', or a smaller kernel)"
        )
    return out


def check_anchor(anchor: object, kernel_hw: tuple[int, int]) -> tuple[int, int]:
    """The anchor ``(row, col)`` as ints, checked to be a tap of a ``kernel_hw`` kernel.

    The one anchor check: the engine, the pipeline and explanations use it.

    Raises
    ------
    ParameterError
        If it is not a pair of integers or lies outside the kernel.

    Examples
    --------
    >>> check_anchor((0, 2), (3, 3))
    (0, 2)
    >>> check_anchor((3, 0), (3, 3))
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: anchor must lie inside the 3x3 kernel (0 <= row < 3, 0 <= col < 3), got (3, 0)
    """
    if not (
        isinstance(anchor, (tuple, list)) and len(anchor) == 2 and all(_is_int(v) for v in anchor)
    ):
        raise ParameterError(f"anchor must be a pair (row, col) of integers, got {anchor!r}")
    r, c = int(anchor[0]), int(anchor[1])
    kh, kw = kernel_hw
    if not (0 <= r < kh and 0 <= c < kw):
        raise ParameterError(
            f"anchor must lie inside the {kh}x{kw} kernel (0 <= row < {kh}, 0 <= col < {kw}), got ({r}, {c})"
        )
    return r, c


def flipped_anchor(anchor: object, kernel_hw: tuple[int, int]) -> tuple[int, int]:
    """Where an anchor tap lands once the kernel is rotated 180° (true convolution).

    Examples
    --------
    >>> flipped_anchor((0, 2), (3, 4))
    (2, 1)
    """
    r, c = check_anchor(anchor, kernel_hw)
    return kernel_hw[0] - 1 - r, kernel_hw[1] - 1 - c


def resolve_pad(
    pad: object,
    kernel_hw: tuple[int, int],
    *,
    dilation: object = 1,
    anchor: object = None,
) -> tuple[int, int, int, int]:
    """Padding ``(top, bottom, left, right)`` for a pad specification.

    Parameters
    ----------
    pad : {"same", "valid", "full"} or int or tuple of int
        ``"same"`` keeps the size at stride 1: the total padding is ``d*(k-1)``
        per axis with ``total // 2`` before and the rest after, as PyTorch's
        ``padding="same"`` (for an even kernel the extra row/column goes
        bottom/right, i.e. the anchor is ``(k-1)//2``).  ``"valid"`` is no
        padding, ``"full"`` is ``d*(k-1)`` on every side.  An int pads all
        sides, a pair ``(rows, cols)`` pads top/bottom and left/right, four
        ints are ``(top, bottom, left, right)``.
    kernel_hw : tuple of int
        Kernel height and width.
    dilation : int or pair of int, optional
        Dilation along rows and columns.
    anchor : pair of int, optional
        Only with ``"same"``: the kernel tap that sits on each output pixel,
        overriding the default ``((kh-1)//2, (kw-1)//2)``.

    Returns
    -------
    tuple of int
        ``(top, bottom, left, right)``.

    Examples
    --------
    >>> resolve_pad("same", (4, 3))
    (1, 2, 1, 1)
    >>> resolve_pad("same", (3, 3), anchor=(0, 2))
    (0, 2, 2, 0)
    >>> resolve_pad("full", (3, 3), dilation=2)
    (4, 4, 4, 4)
    >>> resolve_pad((1, 2), (3, 3))
    (1, 1, 2, 2)
    """
    kh, kw = kernel_hw
    dh, dw = as_pair(dilation, "dilation")
    eh, ew = effective_size(kh, dh), effective_size(kw, dw)
    if anchor is not None and pad != "same":
        raise ParameterError(
            f"anchor only applies to pad='same' (it says where the kernel sits on each pixel), got pad={pad!r}; "
            "with explicit padding, choose the pad amounts instead"
        )
    if isinstance(pad, str):
        if pad == "same":
            if anchor is None:
                top, left = (eh - 1) // 2, (ew - 1) // 2
            else:
                r, c = check_anchor(anchor, kernel_hw)
                top, left = r * dh, c * dw
            return (top, eh - 1 - top, left, ew - 1 - left)
        if pad == "valid":
            return (0, 0, 0, 0)
        if pad == "full":
            return (eh - 1, eh - 1, ew - 1, ew - 1)
        raise ParameterError(
            f"pad must be 'same', 'valid', 'full', an integer, a pair or four integers, got {pad!r}"
        )
    message = (
        "pad must be 'same', 'valid', 'full', a non-negative integer, a pair (rows, cols) "
        f"or four integers (top, bottom, left, right), got {pad!r}"
    )
    if _is_int(pad):
        values = [int(pad)] * 4  # type: ignore[call-overload]
    elif isinstance(pad, (tuple, list)) and all(_is_int(v) for v in pad):
        if len(pad) == 2:
            values = [int(pad[0]), int(pad[0]), int(pad[1]), int(pad[1])]
        elif len(pad) == 4:
            values = [int(v) for v in pad]
        else:
            raise ParameterError(message)
    else:
        raise ParameterError(message)
    if min(values) < 0:
        raise ParameterError(message)
    return (values[0], values[1], values[2], values[3])


def output_size(
    image_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    *,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    anchor: object = None,
) -> tuple[int, int]:
    """Output height and width of a 2-D correlation or convolution.

    Parameters
    ----------
    image_hw, kernel_hw : tuple of int
        Input and kernel sizes ``(height, width)``.
    pad : str or int or tuple of int, optional
        See :func:`resolve_pad`.
    stride, dilation : int or pair of int, optional
        Stride and dilation (PyTorch's meanings).
    anchor : pair of int, optional
        See :func:`resolve_pad`.

    Returns
    -------
    tuple of int
        ``(height, width)``, each ``floor((O + P_total - (d*(k-1)+1)) / s) + 1``.

    Raises
    ------
    ShapeError
        If either side would be empty.

    Examples
    --------
    >>> output_size((5, 5), (3, 3), pad=1, stride=2)
    (3, 3)
    >>> output_size((7, 9), (2, 2), pad="same", stride=2)
    (4, 5)
    """
    check_hw(image_hw, "image")
    check_hw(kernel_hw, "kernel")
    top, bottom, left, right = resolve_pad(pad, kernel_hw, dilation=dilation, anchor=anchor)
    sh, sw = as_pair(stride, "stride")
    dh, dw = as_pair(dilation, "dilation")
    rows = conv_output_length(
        image_hw[0], kernel_hw[0], pad_total=top + bottom, stride=sh, dilation=dh, axis="rows"
    )
    cols = conv_output_length(
        image_hw[1], kernel_hw[1], pad_total=left + right, stride=sw, dilation=dw, axis="columns"
    )
    return rows, cols


def resolve_pool_pad(pad: object, size_hw: tuple[int, int]) -> tuple[int, int]:
    """Check a pooling pad (int or pair) against PyTorch's rule ``p <= k // 2``.

    Examples
    --------
    >>> resolve_pool_pad(1, (3, 3))
    (1, 1)
    >>> resolve_pool_pad(2, (3, 3))
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: pooling pad must be at most half the window ... got pad=2 for a 3-row window
    """
    ph, pw = as_pair(pad, "pooling pad", minimum=0)
    for p, k, axis in ((ph, size_hw[0], "row"), (pw, size_hw[1], "column")):
        if p > k // 2:
            raise ParameterError(
                f"pooling pad must be at most half the window (pad <= size // 2, as PyTorch), "
                f"got pad={p} for a {k}-{axis} window"
            )
    return ph, pw


def resolve_pool(
    size: object, *, stride: object = None, pad: object = 0
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Pooling window, stride and pad as pairs, checked: the stride defaults to the window (seed 003).

    Examples
    --------
    >>> resolve_pool(2)
    ((2, 2), (2, 2), (0, 0))
    >>> resolve_pool((3, 2), stride=1, pad=(1, 0))
    ((3, 2), (1, 1), (1, 0))
    """
    window = as_pair(size, "pooling size")
    step = as_pair(stride if stride is not None else window, "pooling stride")
    return window, step, resolve_pool_pad(pad, window)


def pool_output_length(
    size: int,
    window: int,
    *,
    stride: int,
    pad: int = 0,
    ceil_mode: bool = False,
    dilation: int = 1,
    axis: str = "rows",
) -> int:
    """Output length of pooling along one axis, PyTorch's rule.

    Examples
    --------
    >>> pool_output_length(5, 2, stride=2)
    2
    >>> pool_output_length(5, 2, stride=2, ceil_mode=True)
    3
    >>> pool_output_length(6, 3, stride=3, pad=1, ceil_mode=True)
    3
    """
    span = effective_size(window, dilation)
    numerator = size + 2 * pad - span
    out = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    if out < 1:
        rule = "ceil" if ceil_mode else "floor"
        raise ShapeError(
            f"pooling leaves nothing along {axis}: {rule}(({size} + 2*{pad} - {span}) / {stride}) + 1 = {out}; "
            f"a {window}-wide window needs at least {span} {axis} after padding (use a smaller window or pad)"
        )
    return out


def pool_output_size(
    image_hw: tuple[int, int],
    size: object,
    *,
    stride: object = None,
    pad: object = 0,
    ceil_mode: bool = False,
) -> tuple[int, int]:
    """Output height and width of 2-D pooling (PyTorch's ``max_pool2d`` rule).

    Parameters
    ----------
    image_hw : tuple of int
        Input ``(height, width)``.
    size : int or pair of int
        Window size.
    stride : int or pair of int, optional
        Defaults to the window size (seed 003: 2x2 windows with stride 2).
    pad : int or pair of int, optional
        Implicit padding on each side, at most half the window.
    ceil_mode : bool, optional
        Use ceil instead of floor; the last window must still start inside
        the input or the left padding.

    Examples
    --------
    >>> pool_output_size((224, 224), 2)
    (112, 112)
    >>> pool_output_size((7, 7), 3, stride=2, ceil_mode=True)
    (3, 3)
    """
    (kh, kw), (sh, sw), (ph, pw) = resolve_pool(size, stride=stride, pad=pad)
    return (
        pool_output_length(image_hw[0], kh, stride=sh, pad=ph, ceil_mode=ceil_mode, axis="rows"),
        pool_output_length(image_hw[1], kw, stride=sw, pad=pw, ceil_mode=ceil_mode, axis="columns"),
    )


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of ``a / b`` for positive ``b``.

    Examples
    --------
    >>> ceil_div(7, 2)
    4
    """
    return -(-a // b)
