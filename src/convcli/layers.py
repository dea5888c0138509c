"""Chains of convolution and pooling layers: what a layer is, and the sizes through a chain.

A :class:`Layer` is one convolution or pooling step with its sizes checked;
:func:`chain_sizes` gives each layer's output size, receptive field, total stride
and the size formula with the numbers in (``outsize --explain``).  Specs such as
``conv:k=7,s=2,p=3`` become layers in :mod:`convcli.layer_specs`; every size comes
from :mod:`convcli.shapes`.

Examples
--------
>>> [s.output for s in chain_sizes((224, 224), [Layer.conv(7, stride=2, pad=3), Layer.pool(2)])]
[(112, 112), (56, 56)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from .errors import ParameterError
from .shapes import (
    POOL_OPS,
    PadMode,
    as_pair,
    ceil_div,
    check_hw,
    effective_size,
    output_size,
    pool_output_size,
    resolve_pad,
)

__all__ = ["DEFAULT_POOL_SIZE", "Layer", "LayerKind", "LayerShape", "chain_sizes"]

#: the pooling window when a spec gives none (seed 003: 2x2 windows, stride 2)
DEFAULT_POOL_SIZE: Final = 2

LayerKind: TypeAlias = Literal["conv", "pool"]


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


@dataclass(frozen=True)
class Layer:
    """One convolution or pooling layer of a chain.

    Build layers with :meth:`Layer.conv`, :meth:`Layer.pool` or
    :func:`convcli.layer_specs.parse_layer`, which check every value; sizes are ``(rows, cols)``.

    Attributes
    ----------
    kind : {"conv", "pool"}
        Convolution (PyTorch's ``Conv2d``) or pooling (``MaxPool2d``).
    kernel : tuple of int
        Kernel or window size.
    stride : tuple of int
        Stride; for pooling it defaults to the window.
    pad : {"same", "valid", "full"} or tuple of int
        Convolution: a pad mode, ``(rows, cols)`` on both sides of each axis
        or ``(top, bottom, left, right)``.
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
    pad: PadMode | tuple[int, int] | tuple[int, int, int, int]
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
        pad : {"same", "valid", "full"} or int or pair or four ints, optional
            See :func:`~convcli.shapes.resolve_pad`.
        text : str, optional
            The spec as the user wrote it; a canonical spec by default.

        Examples
        --------
        >>> layer = Layer.conv((3, 5), pad="same", dilation=2)
        >>> layer.kernel, layer.pad, layer.dilation
        ((3, 5), 'same', (2, 2))
        >>> layer.text
        'conv:k=3x5,s=1,p=same,d=2'
        >>> Layer.conv(3, pad=(0, 1, 0, 1)).text
        'conv:k=3,s=1,p=0,1,0,1'
        """
        k = as_pair(kernel, "kernel size")
        s = as_pair(stride, "stride")
        d = as_pair(dilation, "dilation")
        p: PadMode | tuple[int, int] | tuple[int, int, int, int]
        if isinstance(pad, str):
            p = _pad_mode(pad)
        elif isinstance(pad, (tuple, list)) and len(pad) == 4:
            p = resolve_pad(tuple(pad), k)  # checks four integers >= 0
        else:
            p = as_pair(pad, "pad", minimum=0)
        if text is None:
            p_text = p if isinstance(p, str) else _key_text(p) if len(p) == 2 else ",".join(map(str, p))
            text = f"conv:k={_key_text(k)},s={_key_text(s)},p={p_text}"
            text += f",d={_key_text(d)}" if d != (1, 1) else ""
        return cls("conv", k, s, p, d, text=text)

    @classmethod
    def pool(
        cls,
        size: object = DEFAULT_POOL_SIZE,
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
        size : int or pair of int, optional
            Window size (default :data:`DEFAULT_POOL_SIZE`).
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
        >>> Layer.pool().kernel, Layer.pool(3).stride
        ((2, 2), (3, 3))
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
    >>> from convcli.layer_specs import parse_layer
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
    size = check_hw(input_hw, "input")
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
