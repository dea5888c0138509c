"""Chains of convolution and pooling layers: parsing their specs, sizing them, explaining the formula.

A layer spec shares the grammar of kernels and pooling (:mod:`convcli.specs`):
``conv:k=7,s=2,p=3``, ``pool:k=3,s=2,p=1,ceil=true``, or a pooling operation
(``max``, ``mean``, ``min``) with ``apply``'s keys (``max:size=3,stride=2``).
Defaults are set once, here: a pooling window is 2x2 unless given and its
stride is the window (seed 003).  :func:`parse_pool` is the one parser of
pooling specs (``apply --pool``, ``explain``, ``outsize --pool``), and
:func:`outsize_chain` builds and sizes a chain as ``convcli outsize`` does.

Every size comes from :mod:`convcli.shapes`.

Examples
--------
>>> [s.output for s in chain_sizes((224, 224), [parse_layer("conv:k=7,s=2,p=3"), parse_layer("max")])]
[(112, 112), (56, 56)]
>>> parse_pool("max:size=3,stride=2").text
'max:size=3,stride=2'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    resolve_pool_pad,
)
from .specs import Spec, closest, parse_spec, spec_bool, spec_int_pair

__all__ = [
    "DEFAULT_POOL_SIZE",
    "Layer",
    "LayerKind",
    "LayerShape",
    "chain_sizes",
    "outsize_chain",
    "parse_layer",
    "parse_pool",
    "spec_pad",
]

#: the pooling window when a spec gives none (seed 003: 2x2 windows, stride 2)
DEFAULT_POOL_SIZE: Final = 2

LayerKind: TypeAlias = Literal["conv", "pool"]

_LAYER_NAMES = ("conv", "pool", *POOL_OPS)
#: other names of pooling operations: ``avg:size=2`` is ``mean:size=2`` (PyTorch's AvgPool, vips' average)
_POOL_ALIASES: Final = {"avg": "mean", "average": "mean"}
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
        k         kernel / window: ``N`` or ``HxW``     conv: required; pooling 2
        s         stride: ``N`` or ``HxW``              conv 1, pooling the window
        p         pad: ``N`` or ``HxW``; conv also      0 (as PyTorch)
                  ``same``, ``valid``, ``full``
        d         conv dilation: ``N`` or ``HxW``       1
        ceil      pooling ``ceil_mode``: true/false     false
        ========  ====================================  ==========================

        ``size``/``kernel``, ``stride``, ``pad`` and ``dilation`` are accepted
        for ``k``, ``s``, ``p`` and ``d``, so ``apply``'s ``--pool`` specs
        (``max:size=3,stride=2``, or just ``max``) parse too.

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
    >>> parse_layer("max").kernel, parse_layer("mean:stride=1").stride
    ((2, 2), (1, 1))
    >>> parse_layer("conv:k=3,ceil=true")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: a conv layer has no parameter 'ceil' (in 'conv:k=3,ceil=true'); valid: ...
    """
    spec = parse_spec(text, what="layer")
    return _layer_from_spec(spec)


def parse_pool(text: str, *, what: str = "--pool", require_op: bool = True) -> Layer:
    """Parse a pooling spec: ``max``, ``mean:size=3,stride=2``, ``min:k=2,ceil=true`` …

    The one parser of pooling specs: ``apply --pool`` (through
    :meth:`convcli.operations.Pool.from_spec`), ``explain``'s pooling and
    ``outsize --pool`` all use it, so the defaults (a 2x2 window, the stride
    the window) and the keys (see :func:`parse_layer`) agree everywhere.

    Parameters
    ----------
    text : str
        ``OP[:key=value,...]`` with ``OP`` one of ``max``, ``mean`` (``avg``), ``min``.
    what : str, optional
        What the spec is given as (``"--pool"``, ``"pooling spec"``), for messages.
    require_op : bool, optional
        With ``False``, ``pool`` (any operation: sizes only) is accepted too.

    Returns
    -------
    Layer
        A pool layer whose ``op`` names the operation (``None`` for ``pool``).

    Raises
    ------
    ParameterError
        For another name, an unknown key or a bad value, quoting the spec.

    Examples
    --------
    >>> layer = parse_pool("max")
    >>> layer.op, layer.kernel, layer.stride, layer.pad, layer.ceil_mode
    ('max', (2, 2), (2, 2), (0, 0), False)
    >>> parse_pool("mean:size=3,stride=2,pad=1").stride
    (2, 2)
    >>> parse_pool("avg:size=3").op  # an alias
    'mean'
    >>> parse_pool("conv:k=3")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --pool 'conv:k=3': the operation must be max, mean or min, e.g. max:size=2
    >>> parse_pool("max:size=3,pad=2")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: pooling pad must be at most half the window ... got pad=2 for a 3-row window
    """
    spec = parse_spec(text, what=what, keys=("size", "stride", "pad", "ceil"))
    names = (*POOL_OPS, *_POOL_ALIASES) if require_op else (*POOL_OPS, *_POOL_ALIASES, "pool")
    if spec.name not in names:
        also = "" if require_op else " (or pool, for sizes only)"
        raise ParameterError(f"{what} {spec.text!r}: the operation must be max, mean or min{also}, e.g. max:size=2")
    layer = _layer_from_spec(spec)
    resolve_pool_pad(layer.pad, layer.kernel)  # the spec alone must be a valid pooling, wherever it is used
    return layer


def _layer_from_spec(spec: Spec) -> Layer:
    """A layer from a parsed spec (:func:`parse_layer`, :func:`parse_pool`): the defaults are set here."""
    spec = replace(spec, name=_POOL_ALIASES.get(spec.name, spec.name))  # avg:size=2 is mean:size=2
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
    default_size = None if kind == "conv" else (DEFAULT_POOL_SIZE, DEFAULT_POOL_SIZE)
    kernel = spec_int_pair(spec, used.get("k", "k"), default_size)
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


def outsize_chain(
    input_hw: tuple[int, int],
    layers: Sequence[str | Layer] = (),
    *,
    kernel: str | tuple[int, int] | None = None,
    stride: object = 1,
    pad: object = "same",
    dilation: object = 1,
    pool: str | Layer | None = None,
) -> list[LayerShape]:
    """Build a chain as ``convcli outsize`` describes it and size it (:func:`chain_sizes`).

    Parameters
    ----------
    input_hw : tuple of int
        Input ``(height, width)``.
    layers : sequence of str or Layer, optional
        Layer specs (:func:`parse_layer`) or layers, first first.
    kernel : str or pair of int, optional
        A convolution after ``layers``, as ``apply`` runs it: its size, or a
        kernel spec (``gaussian:sigma=2``, an inline matrix, a file) whose
        size :func:`convcli.kernel` gives.
    stride, pad, dilation : optional
        That convolution's options, with ``apply``'s defaults (``pad="same"``).
    pool : str or Layer, optional
        A pooling layer last (:func:`parse_pool`; ``pool:`` is accepted too).

    Returns
    -------
    list of LayerShape
        One per layer; empty for an empty chain.

    Raises
    ------
    ParameterError, KernelError, ShapeError
        For a bad spec or value, or a layer that leaves nothing.

    Examples
    --------
    >>> [s.output for s in outsize_chain((224, 224), kernel=(3, 3), pool="max")]
    [(224, 224), (112, 112)]
    >>> outsize_chain((224, 224), kernel="gaussian:sigma=2", pad="valid")[-1].output
    (208, 208)
    """
    chain = [parse_layer(item) if isinstance(item, str) else item for item in layers]
    if kernel is not None:
        if isinstance(kernel, str):
            from .kernels import kernel as load_kernel

            kernel_hw = load_kernel(kernel).shape
        else:
            kernel_hw = as_pair(kernel, "kernel size")
        chain.append(Layer.conv(kernel_hw, stride=stride, pad=pad, dilation=dilation))
    if pool is not None:
        chain.append(parse_pool(pool, require_op=False) if isinstance(pool, str) else pool)
    return chain_sizes(input_hw, chain)
