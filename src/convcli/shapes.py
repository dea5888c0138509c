"""All output-size arithmetic: convolution, pooling and chains of them.

This module is the one place in convcli that computes shapes.  It works on
plain integers and never touches arrays, so the engine, pooling and the
``outsize`` command all agree by construction.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from .errors import ParameterError, ShapeError
from .specs import Spec, closest, parse_spec, spec_bool, spec_int_pair

__all__ = [
    "MAX_KERNEL_SIDE",
    "PadMode",
    "PadSpec",
    "as_pair",
    "conv_output_length",
    "effective_size",
    "output_size",
    "pool_output_length",
    "pool_output_size",
    "resolve_pad",
    "resolve_pool_pad",
]

PadMode: TypeAlias = Literal["same", "valid", "full"]
#: ``"same"``, ``"valid"``, ``"full"``, an int (all sides), a pair (rows, cols)
#: or four ints (top, bottom, left, right).
PadSpec: TypeAlias = "PadMode | int | tuple[int, int] | tuple[int, int, int, int]"

#: the largest kernel side anywhere in convcli (named kernels, inline matrices, files and the engine).
MAX_KERNEL_SIDE: Final = 1025

_AXES = ("rows", "columns")


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


def effective_size(kernel: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: ``d*(k-1) + 1``.

    Examples
    --------
    >>> effective_size(3, 2)
    5
    """
    return dilation * (kernel - 1) + 1


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


def _check_anchor(anchor: object, kernel_hw: tuple[int, int]) -> tuple[int, int]:
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
                r, c = _check_anchor(anchor, kernel_hw)
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
    for name, hw in (("image", image_hw), ("kernel", kernel_hw)):
        if len(hw) != 2 or not all(_is_int(v) and v >= 1 for v in hw):
            raise ParameterError(f"{name} size must be two positive integers (height, width), got {hw!r}")
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
    kh, kw = as_pair(size, "pooling size")
    sh, sw = as_pair(stride if stride is not None else (kh, kw), "pooling stride")
    ph, pw = resolve_pool_pad(pad, (kh, kw))
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



# --- chains of layers (``convcli outsize``) -----------------------------------

LayerKind: TypeAlias = Literal["conv", "pool"]

#: Pooling operations a layer spec may name; ``pool`` is any of them (the shape
#: does not depend on the operation).
POOL_OPS = ("max", "mean", "min")
_LAYER_NAMES = ("conv", "pool", *POOL_OPS)
#: Long key names accepted in layer specs, so that ``--pool max:size=3,stride=2``
#: (the ``apply`` grammar) and ``pool:k=3,s=2`` mean the same thing.
_KEY_ALIASES = {"kernel": "k", "size": "k", "stride": "s", "pad": "p", "dilation": "d"}
_LAYER_KEYS: dict[str, tuple[str, ...]] = {"conv": ("k", "s", "p", "d"), "pool": ("k", "s", "p", "ceil")}


def _hw_text(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


def _key_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else _hw_text(pair)


def _pad_mode(pad: str) -> PadMode:
    lowered = pad.strip().lower()
    if lowered == "same":
        return "same"
    if lowered == "valid":
        return "valid"
    if lowered == "full":
        return "full"
    raise ParameterError(f"pad must be 'same', 'valid', 'full', N or HxW, got {pad!r}")


def spec_pad(spec: Spec, key: str, default: PadMode | tuple[int, int]) -> PadMode | tuple[int, int]:
    """A convolution pad parameter of ``spec``: ``same``, ``valid``, ``full``, ``N`` or ``HxW``.

    Parameters
    ----------
    spec : Spec
        The parsed spec.
    key : str
        The parameter's key (``"p"`` in ``conv:k=3,p=same``).
    default : str or pair of int
        Returned when ``key`` is absent.

    Returns
    -------
    str or tuple of int
        A pad mode, or ``(rows, cols)`` padded on both sides of each axis.

    Examples
    --------
    >>> spec_pad(parse_spec("conv:k=3,p=SAME"), "p", (0, 0))
    'same'
    >>> spec_pad(parse_spec("conv:k=3,p=1x2"), "p", (0, 0))
    (1, 2)
    >>> spec_pad(parse_spec("conv:k=3,p=-1"), "p", (0, 0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: p must be same, valid, full, N or HxW (integers >= 0) in ..., got '-1'
    """
    value = spec.params.get(key)
    if value is None:
        return default
    if value.strip().lower() in ("same", "valid", "full"):
        return _pad_mode(value)
    try:
        return spec_int_pair(spec, key, minimum=0)
    except ParameterError:
        raise ParameterError(
            f"{key} must be same, valid, full, N or HxW (integers >= 0) in {spec.text!r}, got {value!r}"
        ) from None


@dataclass(frozen=True)
class Layer:
    """One convolution or pooling layer of a chain.

    Build layers with :meth:`Layer.conv`, :meth:`Layer.pool` or
    :func:`parse_layer`, which check every value; sizes are ``(rows, cols)``.

    Attributes
    ----------
    kind : {"conv", "pool"}
        Convolution (PyTorch's ``Conv2d``) or pooling (``MaxPool2d``).
    kernel : tuple of int
        Kernel or window size.
    stride : tuple of int
        Stride; for pooling it defaults to the window.
    pad : {"same", "valid", "full"} or tuple of int
        Convolution: a pad mode or ``(rows, cols)`` on both sides of each axis.
        Pooling: ``(rows, cols)``, at most half the window (checked by
        :func:`chain_sizes`, which knows the layer's place in the chain).
    dilation : tuple of int
        Convolution dilation; always ``(1, 1)`` for pooling.
    ceil_mode : bool
        Pooling only: PyTorch's ``ceil_mode``.
    op : str or None
        Pooling only: ``"max"``, ``"mean"``, ``"min"``, or ``None`` for any.
    text : str
        The spec as written, or a canonical one; names the layer in messages.

    Examples
    --------
    >>> Layer.conv(7, stride=2, pad=3).text
    'conv:k=7,s=2,p=3'
    >>> Layer.pool(3, stride=2, pad=1, ceil_mode=True, op="max").text
    'max:k=3,s=2,p=1,ceil=true'
    """

    kind: LayerKind
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: PadMode | tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    op: str | None = None
    text: str = ""

    @classmethod
    def conv(
        cls,
        kernel: object,
        *,
        stride: object = 1,
        pad: object = 0,
        dilation: object = 1,
        text: str | None = None,
    ) -> Layer:
        """A convolution layer (PyTorch's ``Conv2d`` rules; ``pad`` defaults to 0 as there).

        Parameters
        ----------
        kernel, stride, dilation : int or pair of int
            Kernel size, stride and dilation.
        pad : {"same", "valid", "full"} or int or pair of int, optional
            See :func:`resolve_pad`.
        text : str, optional
            The spec as the user wrote it; a canonical spec by default.

        Examples
        --------
        >>> layer = Layer.conv((3, 5), pad="same", dilation=2)
        >>> layer.kernel, layer.pad, layer.dilation
        ((3, 5), 'same', (2, 2))
        >>> layer.text
        'conv:k=3x5,s=1,p=same,d=2'
        """
        k = as_pair(kernel, "kernel size")
        s = as_pair(stride, "stride")
        d = as_pair(dilation, "dilation")
        p: PadMode | tuple[int, int] = _pad_mode(pad) if isinstance(pad, str) else as_pair(
            pad, "pad", minimum=0
        )
        if text is None:
            p_text = p if isinstance(p, str) else _key_text(p)
            text = f"conv:k={_key_text(k)},s={_key_text(s)},p={p_text}"
            text += f",d={_key_text(d)}" if d != (1, 1) else ""
        return cls("conv", k, s, p, d, text=text)

    @classmethod
    def pool(
        cls,
        size: object,
        *,
        stride: object = None,
        pad: object = 0,
        ceil_mode: bool = False,
        op: str | None = None,
        text: str | None = None,
    ) -> Layer:
        """A pooling layer (PyTorch's ``MaxPool2d``/``AvgPool2d`` shape rules).

        Parameters
        ----------
        size : int or pair of int
            Window size.
        stride : int or pair of int, optional
            Defaults to the window size.
        pad : int or pair of int, optional
            Padding on each side; :func:`chain_sizes` checks it is at most half the window.
        ceil_mode : bool, optional
            PyTorch's ``ceil_mode``.
        op : {"max", "mean", "min"}, optional
            The operation, for the record (shapes do not depend on it).
        text : str, optional
            The spec as the user wrote it; a canonical spec by default.

        Examples
        --------
        >>> Layer.pool(2).stride
        (2, 2)
        """
        k = as_pair(size, "pooling size")
        s = as_pair(stride if stride is not None else k, "pooling stride")
        p = as_pair(pad, "pooling pad", minimum=0)
        if op is not None and op not in POOL_OPS:
            raise ParameterError(f"pooling op must be one of {', '.join(POOL_OPS)}, got {op!r}")
        if text is None:
            text = f"{op or 'pool'}:k={_key_text(k)},s={_key_text(s)},p={_key_text(p)}"
            text += ",ceil=true" if ceil_mode else ""
        return cls("pool", k, s, p, ceil_mode=bool(ceil_mode), op=op, text=text)


def parse_layer(text: str) -> Layer:
    """Parse a layer spec such as ``conv:k=7,s=2,p=3`` or ``pool:k=3,s=2,p=1,ceil=true``.

    Parameters
    ----------
    text : str
        ``conv`` or ``pool`` (or a pooling op: ``max``, ``mean``, ``min``)
        followed by ``key=value`` pairs in the shared spec grammar:

        ========  ====================================  ==========================
        key       meaning                               default
        ========  ====================================  ==========================
        k         kernel / window: ``N`` or ``HxW``     required
        s         stride: ``N`` or ``HxW``              conv 1, pooling the window
        p         pad: ``N`` or ``HxW``; conv also      0 (as PyTorch)
                  ``same``, ``valid``, ``full``
        d         conv dilation: ``N`` or ``HxW``       1
        ceil      pooling ``ceil_mode``: true/false     false
        ========  ====================================  ==========================

        ``size``/``kernel``, ``stride``, ``pad`` and ``dilation`` are accepted
        for ``k``, ``s``, ``p`` and ``d``, so ``apply``'s ``--pool`` specs
        (``max:size=3,stride=2``) parse too.

    Returns
    -------
    Layer

    Raises
    ------
    ParameterError
        For an unknown layer name or key, a missing ``k`` or a bad value,
        quoting the spec.

    Examples
    --------
    >>> layer = parse_layer("conv:k=7,s=2,p=3")
    >>> layer.kind, layer.kernel, layer.stride, layer.pad, layer.dilation
    ('conv', (7, 7), (2, 2), (3, 3), (1, 1))
    >>> parse_layer("max:size=3,stride=2,ceil=true").stride
    (2, 2)
    >>> parse_layer("pool:k=3x2").stride
    (3, 2)
    >>> parse_layer("conv:k=3,ceil=true")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: a conv layer has no parameter 'ceil' (in 'conv:k=3,ceil=true'); valid: ...
    """
    spec = parse_spec(text, what="layer")
    if spec.name not in _LAYER_NAMES:
        hint = closest(spec.name, _LAYER_NAMES)
        did_you_mean = f" did you mean {hint!r}?" if hint else ""
        raise ParameterError(
            f"layer {spec.text!r} has an unknown kind {spec.name!r};{did_you_mean} valid: "
            f"{', '.join(_LAYER_NAMES)} (e.g. 'conv:k=3,p=same', 'pool:k=2')"
        )
    kind: LayerKind = "conv" if spec.name == "conv" else "pool"
    keys = _LAYER_KEYS[kind]
    spec.check_keys([*keys, *(alias for alias, key in _KEY_ALIASES.items() if key in keys)],
                    what=f"a {kind} layer")
    used: dict[str, str] = {}  # short key -> the key as written (``size`` for ``k``), for messages
    for key in spec.params:
        short = _KEY_ALIASES.get(key, key)
        if short in used:
            raise ParameterError(f"layer {spec.text!r} gives {short!r} twice (as {used[short]!r} and "
                                 f"{key!r}); give it once")
        used[short] = key
    kernel = spec_int_pair(spec, used.get("k", "k"))
    if kind == "conv":
        return Layer.conv(
            kernel,
            stride=spec_int_pair(spec, used.get("s", "s"), (1, 1)),
            pad=spec_pad(spec, used.get("p", "p"), (0, 0)),
            dilation=spec_int_pair(spec, used.get("d", "d"), (1, 1)),
            text=spec.text,
        )
    return Layer.pool(
        kernel,
        stride=spec_int_pair(spec, used.get("s", "s"), kernel),
        pad=spec_int_pair(spec, used.get("p", "p"), (0, 0), minimum=0),
        ceil_mode=spec_bool(spec, "ceil"),
        op=None if spec.name == "pool" else spec.name,
        text=spec.text,
    )


@dataclass(frozen=True)
class LayerShape:
    """What one layer of a chain does to the size (a row of ``outsize --explain``).

    Attributes
    ----------
    index : int
        1-based position in the chain.
    layer : Layer
        The layer.
    input, output : tuple of int
        ``(height, width)`` before and after the layer.
    pad : tuple of int
        The padding actually added, ``(top, bottom, left, right)``.
    receptive_field : tuple of int
        Input pixels (rows, cols) that one output pixel of this layer sees.
    jump : tuple of int
        Total stride: input pixels between neighbouring outputs of this layer.
    formula : tuple of str
        The size formula along rows and columns with the numbers substituted.
    """

    index: int
    layer: Layer
    input: tuple[int, int]
    output: tuple[int, int]
    pad: tuple[int, int, int, int]
    receptive_field: tuple[int, int]
    jump: tuple[int, int]
    formula: tuple[str, str]


def _formula(
    size: int, before: int, after: int, span_text: str, span: int, stride: int, ceil_mode: bool, out: int
) -> str:
    """The size formula with the numbers in, as ``chain_sizes`` shows it."""
    if before == after:
        pad_text = f" + 2*{before}" if before else ""
    else:
        pad_text = f" + {before} + {after}"
    numerator = size + before + after - span
    inner = f"({size}{pad_text} - {span_text})"
    if stride == 1:
        return f"{inner} + 1 = {out}"
    rule = "ceil" if ceil_mode else "floor"
    quotient = ceil_div(numerator, stride) if ceil_mode else numerator // stride
    text = f"{rule}({inner} / {stride}) + 1 = {rule}({numerator}/{stride}) + 1 = {quotient + 1}"
    if quotient + 1 != out:  # ceil_mode: the last window must start inside the input or the left padding
        text += f"; the last window would start at {quotient * stride} >= {size} + {before}, so {out}"
    return text


def chain_sizes(input_hw: tuple[int, int], layers: Sequence[Layer]) -> list[LayerShape]:
    """Sizes, receptive fields and total strides through a chain of layers.

    Each layer's output size comes from :func:`output_size` (convolution) or
    :func:`pool_output_size` (pooling), the functions the engine uses.  The
    receptive field and total stride ("jump") follow the usual recursion:
    ``rf += (d*(k-1)) * jump`` then ``jump *= s``, starting from 1 and 1.

    Parameters
    ----------
    input_hw : tuple of int
        Input ``(height, width)``.
    layers : sequence of Layer
        The chain, first layer first.

    Returns
    -------
    list of LayerShape
        One per layer; empty for an empty chain.

    Raises
    ------
    ShapeError
        If a layer's output would be empty, naming the layer (its index and
        spec), its input size and why.
    ParameterError
        If a pooling pad is more than half the window, named the same way.

    Examples
    --------
    >>> stem = [parse_layer("conv:k=7,s=2,p=3"), parse_layer("pool:k=3,s=2,p=1")]
    >>> [(s.output, s.receptive_field, s.jump) for s in chain_sizes((224, 224), stem)]
    [((112, 112), (7, 7), (2, 2)), ((56, 56), (11, 11), (4, 4))]
    >>> chain_sizes((224, 224), stem)[0].formula[0]
    'floor((224 + 2*3 - 7) / 2) + 1 = floor(223/2) + 1 = 112'
    >>> chain_sizes((4, 4), [parse_layer("pool:k=2"), parse_layer("conv:k=3")])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: layer 2 (conv:k=3) on a 2x2 input: nothing is left along rows: ...
    """
    if len(input_hw) != 2 or not all(_is_int(v) and v >= 1 for v in input_hw):
        raise ParameterError(f"input size must be two positive integers (height, width), got {input_hw!r}")
    size = (int(input_hw[0]), int(input_hw[1]))
    field, jump = (1, 1), (1, 1)
    result: list[LayerShape] = []
    for index, layer in enumerate(layers, start=1):
        try:
            if layer.kind == "conv":
                pad = resolve_pad(layer.pad, layer.kernel, dilation=layer.dilation)
                out = output_size(size, layer.kernel, pad=pad, stride=layer.stride, dilation=layer.dilation)
            else:
                out = pool_output_size(
                    size, layer.kernel, stride=layer.stride, pad=layer.pad, ceil_mode=layer.ceil_mode
                )
                ph, pw = as_pair(layer.pad, "pooling pad", minimum=0)
                pad = (ph, ph, pw, pw)
        except ParameterError as err:
            raise type(err)(f"layer {index} ({layer.text}) on a {_hw_text(size)} input: {err}") from None
        spans = [effective_size(k, d) for k, d in zip(layer.kernel, layer.dilation, strict=True)]
        formula = tuple(
            _formula(
                size[axis],
                pad[2 * axis],
                pad[2 * axis + 1],
                str(k) if d == 1 else f"{d}*({k}-1) - 1",
                spans[axis],
                layer.stride[axis],
                layer.ceil_mode,
                out[axis],
            )
            for axis, (k, d) in enumerate(zip(layer.kernel, layer.dilation, strict=True))
        )
        field = (field[0] + (spans[0] - 1) * jump[0], field[1] + (spans[1] - 1) * jump[1])
        jump = (jump[0] * layer.stride[0], jump[1] * layer.stride[1])
        result.append(LayerShape(index, layer, size, out, pad, field, jump, (formula[0], formula[1])))
        size = out
    return result


__all__ += ["POOL_OPS", "Layer", "LayerKind", "LayerShape", "chain_sizes", "parse_layer", "spec_pad"]
