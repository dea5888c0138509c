"""The operations ``convcli apply`` runs, in order: convolutions, activations and pooling.

Each operation checks every parameter when it is made, so a bad border or
stride is reported before any image is read; :mod:`convcli.pipeline` runs an
image through a list of them.  Sizes come from :mod:`convcli.shapes`, the work
dtype from :func:`convcli.engine.work_dtype`, border names from
:func:`convcli.engine.resolve_border` and pooling specs from
:func:`convcli.layer_specs.parse_pool`.  :func:`outsize_chain` sizes a chain of
layers ending in such a convolution and pooling without an image (``convcli outsize``).

Examples
--------
>>> [op.describe() for op in (Convolve("box:size=3"), Activate("relu"), Pooling.from_spec("max"))]
['correlate box:size=3 (3x3)', 'activation relu', 'max pool 2x2 stride 2x2']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np

from .engine import (
    METHODS,
    check_nan,
    check_normalizable,
    convolve,
    correlate,
    normalize_border,
    resolve_border,
    work_dtype,
)
from .errors import ParameterError
from .kernels import Kernel
from .kernels import kernel as load_kernel
from .layer_specs import parse_layer, parse_pool
from .layers import DEFAULT_POOL_SIZE, Layer, LayerShape, chain_sizes
from .pooling import check_pool_op, pool
from .shapes import as_pair, output_size, pool_output_size, resolve_pad, resolve_pool

__all__ = ["ACTIVATIONS", "Activate", "Activation", "Convolve", "Operation", "Pooling", "check_operations",
           "outsize_chain"]

Activation: TypeAlias = Literal["none", "relu", "abs", "sigmoid", "tanh"]

ACTIVATIONS: tuple[str, ...] = ("none", "relu", "abs", "sigmoid", "tanh")


@dataclass(frozen=True)
class Convolve:
    """Correlate (or, with ``flip``, convolve) with one kernel.

    Every parameter is checked when the operation is made, so a bad border or
    stride is reported before any image is read.

    Parameters
    ----------
    kernel : Kernel, str or array_like
        From :func:`convcli.kernel` (a spec or a matrix is passed through it).
        Its offset is added to the result; an operator (``sobel:axis=both``)
        filters with each component and combines the responses (``hypot``).
    flip : bool, optional
        True convolution: the kernel rotated 180° (seeds 001-003).
    border, border_value, pad, stride, dilation, method : optional
        As in :func:`convcli.correlate`.
    anchor : pair of int, optional
        The kernel tap placed on each output pixel (``pad="same"`` only); by
        default the kernel's own anchor (from a kernel file), else the engine's.
    nan, nan_fill : optional
        Missing data, as in :func:`convcli.correlate`: ``propagate`` or
        ``ignore`` (normalised convolution), and the value where nothing valid
        is seen.  A ``mask`` given to :meth:`run` means ``ignore`` too.
    mask : str or None, optional
        The name of the valid-pixel mask the caller applies to this
        convolution's input (``--mask``; for reports only, the array is given
        to :meth:`run`).

    Examples
    --------
    >>> from convcli.kernels import kernel
    >>> op = Convolve(kernel("box:size=3"), pad="valid")
    >>> op.output_hw((10, 8))
    (8, 6)
    >>> Convolve("gaussian:sigma=2").kernel.shape, Convolve([[1, -1]]).kernel.shape
    ((17, 17), (1, 2))
    >>> Convolve(kernel("box"), stride=0)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: stride must be a positive integer or a pair of them, got 0
    """

    kernel: Kernel
    flip: bool = False
    border: str = "reflect"
    border_value: float = 0.0
    pad: object = "same"
    stride: object = 1
    dilation: object = 1
    method: str = "auto"
    anchor: tuple[int, int] | None = None
    nan: str = "propagate"
    nan_fill: float | None = None
    mask: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kernel, Kernel):  # a spec or a matrix, for Python callers
            object.__setattr__(self, "kernel", load_kernel(self.kernel))
        normalize_border(self.border)
        as_pair(self.stride, "stride")
        as_pair(self.dilation, "dilation")
        if self.method not in METHODS:
            raise ParameterError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        resolve_border(self.border, self.border_value)  # the value, and zeros with a non-zero value
        resolve_pad(self.pad, self.kernel.shape, dilation=self.dilation, anchor=self.effective_anchor())
        check_nan(self.nan, self.nan_fill)
        if self.normalized:
            for matrix in self.matrices():
                check_normalizable(matrix, label=f"kernel {self.kernel.spec or 'matrix'!r}")

    @property
    def normalized(self) -> bool:
        """Whether missing data is ignored (normalised convolution): ``nan="ignore"`` or a mask."""
        return self.nan == "ignore" or self.mask is not None

    def effective_anchor(self) -> tuple[int, int] | None:
        """The anchor ``same`` padding uses: the given one, else the kernel's own (``None``: the default).

        Examples
        --------
        >>> Convolve("box:size=3").effective_anchor() is None
        True
        >>> Convolve("box:size=3", anchor=(0, 0)).effective_anchor()
        (0, 0)
        """
        if self.anchor is not None:
            return self.anchor
        # a kernel file's anchor positions 'same' padding; explicit padding says it all
        return self.kernel.anchor if self.pad == "same" else None

    def matrices(self) -> list[np.ndarray]:
        """The matrices filtered with: the kernel's, or each component of an operator.

        Examples
        --------
        >>> len(Convolve("sobel:axis=both").matrices()), len(Convolve("box").matrices())
        (2, 1)
        """
        parts = self.kernel.components if self.kernel.is_operator else (self.kernel,)
        return [np.asarray(part.matrix) for part in parts]

    def weight_matrix(self) -> np.ndarray:
        """The absolute weights scaled to sum 1: how alpha is filtered (see the module notes).

        Examples
        --------
        >>> from convcli.kernels import kernel
        >>> Convolve(kernel("1 -2 1")).weight_matrix().tolist()
        [[0.25, 0.5, 0.25]]
        """
        total = sum(np.abs(m) for m in self.matrices())
        weights = np.asarray(total, dtype=np.float64)
        s = float(weights.sum())
        return weights / s if s > 0 else np.full_like(weights, 1.0 / weights.size)

    def output_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        """Output ``(height, width)`` for an input of ``hw`` (from :mod:`convcli.shapes`)."""
        return output_size(hw, self.kernel.shape, pad=self.pad, stride=self.stride, dilation=self.dilation,
                           anchor=self.effective_anchor())

    def describe(self) -> str:
        """A short text for reports: ``correlate gaussian:sigma=3 (25x25)``."""
        h, w = self.kernel.shape
        verb = "convolve" if self.flip else "correlate"
        text = f"{verb} {self.kernel.spec or 'kernel'} ({h}x{w})"
        if self.normalized:
            fill = "" if self.nan_fill is None else f", fill {self.nan_fill:g}"
            text += f", nan ignore{fill}" + (f", mask {self.mask}" if self.mask is not None else "")
        return text

    def _filter(self, image: np.ndarray, matrix: np.ndarray, *, border_value: float, nan: bool = False,
                mask: np.ndarray | None = None) -> np.ndarray:
        func = convolve if self.flip else correlate
        return func(image, matrix, border=self.border, border_value=border_value, pad=self.pad,
                    stride=self.stride, dilation=self.dilation, method=self.method,  # type: ignore[arg-type]
                    anchor=self.effective_anchor(), nan="ignore" if nan and self.normalized else "propagate",
                    nan_fill=self.nan_fill, mask=mask if nan else None)

    def pad_for(self, matrix: np.ndarray) -> object:
        """The padding ``matrix`` gets: the pad spec, resolved to four sides when an anchor places it.

        Examples
        --------
        >>> op = Convolve("box:size=3", anchor=(0, 0))
        >>> op.pad_for(op.matrices()[0])
        (0, 2, 0, 2)
        """
        anchor = self.effective_anchor()
        if anchor is None:
            return self.pad
        return resolve_pad(self.pad, (int(matrix.shape[0]), int(matrix.shape[1])), dilation=self.dilation,
                           anchor=anchor)

    def run(self, image: np.ndarray, *, add_offset: bool = True, mask: np.ndarray | None = None) -> np.ndarray:
        """Filter ``image`` (``H x W`` or ``H x W x C``); float32 (float64 for float64 input).

        ``add_offset=False`` leaves out the kernel's offset; ``mask`` (non-zero
        = valid, the image's height and width) means normalised convolution.
        """
        responses = [self._filter(image, m, border_value=float(self.border_value), nan=True, mask=mask)
                     for m in self.matrices()]
        out = self.kernel.combine_responses(responses) if self.kernel.is_operator else responses[0]
        if add_offset and self.kernel.offset:
            out += out.dtype.type(self.kernel.offset)
        return out

    def run_weight(self, weight: np.ndarray) -> np.ndarray:
        """Filter an alpha weight (0..1) with :meth:`weight_matrix`; outside a constant border is opaque."""
        return self._filter(weight, self.weight_matrix(), border_value=1.0)


@dataclass(frozen=True)
class Activate:
    """An element-wise activation: ``relu``, ``abs``, ``sigmoid``, ``tanh`` or ``none``.

    Examples
    --------
    >>> Activate("relu").run(np.array([-2.0, 3.0])).tolist()
    [0.0, 3.0]
    >>> Activate("sigmoid").run(np.array([0.0]), scale=255.0).tolist()
    [127.5]
    >>> Activate("softmax")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: unknown activation 'softmax'; use one of none, relu, abs, sigmoid, tanh
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ParameterError(f"unknown activation {self.name!r}; use one of {', '.join(ACTIVATIONS)}")

    def describe(self) -> str:
        """A short text for reports: ``activation relu``."""
        return f"activation {self.name}"

    def run(self, image: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
        """Apply to ``image``; ``sigmoid``/``tanh`` act on ``image / scale`` and are scaled back."""
        x = np.asarray(image)
        dtype = work_dtype(x.dtype).type
        x = x.astype(dtype, copy=True)
        if self.name == "relu":
            np.maximum(x, 0, out=x)
        elif self.name == "abs":
            np.abs(x, out=x)
        elif self.name in ("sigmoid", "tanh"):
            if scale != 1.0:
                x /= dtype(scale)
            if self.name == "sigmoid":
                with np.errstate(over="ignore"):
                    x = (1.0 / (1.0 + np.exp(-x))).astype(dtype)
            else:
                np.tanh(x, out=x)
            if scale != 1.0:
                x *= dtype(scale)
        return x


@dataclass(frozen=True)
class Pooling:
    """Max, mean or min pooling (PyTorch's size rules; the stride defaults to the window).

    Examples
    --------
    >>> Pooling("max", size=2).output_hw((5, 5))
    (2, 2)
    >>> Pooling("median")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: unknown pooling op 'median'; use one of max, mean, min
    """

    op: str = "max"
    size: object = DEFAULT_POOL_SIZE
    stride: object = None
    pad: object = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        check_pool_op(self.op)
        resolve_pool(self.size, stride=self.stride, pad=self.pad)

    def output_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        """Output ``(height, width)`` for an input of ``hw`` (from :mod:`convcli.shapes`)."""
        return pool_output_size(hw, self.size, stride=self.stride, pad=self.pad, ceil_mode=self.ceil_mode)

    def describe(self) -> str:
        (kh, kw), (sh, sw), (ph, pw) = resolve_pool(self.size, stride=self.stride, pad=self.pad)
        text = f"{self.op} pool {kh}x{kw} stride {sh}x{sw}"
        if ph or pw:
            text += f" pad {ph}x{pw}"
        return text + (" ceil" if self.ceil_mode else "")

    @classmethod
    def from_layer(cls, layer: Layer) -> Pooling:
        """The pooling a pool :class:`~convcli.layers.Layer` describes (its op must be named).

        Examples
        --------
        >>> from convcli.layer_specs import parse_pool
        >>> Pooling.from_layer(parse_pool("mean:size=3,stride=1"))
        Pooling(op='mean', size=(3, 3), stride=(1, 1), pad=(0, 0), ceil_mode=False)
        """
        if layer.kind != "pool" or layer.op is None:
            raise ParameterError(f"pooling {layer.text!r}: the operation must be max, mean or min, e.g. max:size=2")
        return cls(layer.op, size=layer.kernel, stride=layer.stride, pad=layer.pad, ceil_mode=layer.ceil_mode)

    @classmethod
    def from_spec(cls, text: str, *, what: str = "--pool") -> Pooling:
        """Pooling from a spec such as ``max``, ``mean:size=3,stride=2`` (:func:`convcli.layer_specs.parse_pool`).

        Examples
        --------
        >>> Pooling.from_spec("max")
        Pooling(op='max', size=(2, 2), stride=(2, 2), pad=(0, 0), ceil_mode=False)
        >>> Pooling.from_spec("pool:k=2")
        Traceback (most recent call last):
        ...
        convcli.errors.ParameterError: --pool 'pool:k=2': the operation must be max, mean or min, e.g. max:size=2
        """
        return cls.from_layer(parse_pool(text, what=what, require_op=True))

    def run(self, image: np.ndarray) -> np.ndarray:
        """Pooling ``image`` (:func:`convcli.pool`)."""
        return pool(image, self.size, stride=self.stride, op=self.op, pad=self.pad,  # type: ignore[arg-type]
                    ceil_mode=self.ceil_mode)


Operation: TypeAlias = "Convolve | Activate | Pooling"


def check_operations(operations: Sequence[Operation]) -> None:
    """Raise a :class:`TypeError` unless every item is a Convolve, Activate or Pooling.

    Examples
    --------
    >>> check_operations([Activate("relu")])
    >>> check_operations(["relu"])
    Traceback (most recent call last):
    ...
    TypeError: operations must be Convolve, Activate or Pooling, got str
    """
    for op in operations:
        if not isinstance(op, (Convolve, Activate, Pooling)):
            raise TypeError(f"operations must be Convolve, Activate or Pooling, got {type(op).__name__}")


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
    """The sizes through a chain as ``convcli outsize`` describes it (:func:`convcli.layers.chain_sizes`).

    The layers first, then a convolution as ``apply`` runs it (a kernel spec is
    read for its size only) and a pooling last.

    Parameters
    ----------
    input_hw : tuple of int
        Input ``(height, width)``.
    layers : sequence of str or Layer, optional
        Layer specs (:func:`convcli.layer_specs.parse_layer`) or layers, first first.
    kernel : str or pair of int, optional
        A convolution after ``layers``, as ``apply`` runs it: its size, or a
        kernel spec (``gaussian:sigma=2``, an inline matrix, a file) whose
        size :func:`convcli.kernel` gives.
    stride, pad, dilation : optional
        That convolution's options, with ``apply``'s defaults (``pad="same"``).
    pool : str or Layer, optional
        A pooling layer last (:func:`convcli.layer_specs.parse_pool`; ``pool:`` is accepted too).

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
            kernel_hw = load_kernel(kernel).shape
        else:
            kernel_hw = as_pair(kernel, "kernel size")
        chain.append(Layer.conv(kernel_hw, stride=stride, pad=pad, dilation=dilation))
    if pool is not None:
        chain.append(parse_pool(pool, require_op=False) if isinstance(pool, str) else pool)
    return chain_sizes(input_hw, chain)
