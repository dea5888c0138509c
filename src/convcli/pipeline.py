"""One image through the ordered operations, and the output range policy.

:func:`filter_image` runs the CNN flow of the notes (seed 002) on one array, in
the order given: convolutions (each with its kernel and options), activations
and pooling.  It is exactly what ``convcli apply`` does to every image, before
:func:`to_depth` turns the float result into output samples.

Channels
    ``each`` (default) filters every channel alike.  ``sum`` adds the
    per-channel responses of the first convolution into one channel: the depth
    sum of a multi-channel convolution (seed 003); without a convolution the
    channels are summed first.  ``gray`` converts colour to luminance first
    (ITU-R 601-2 weights, as Pillow's ``L``).

Alpha
    With ``alpha=True`` the last channel is alpha.  A convolution filters the
    colour premultiplied by alpha and divides by the alpha filtered with the
    kernel's absolute weights scaled to sum 1 (for a blur, the kernel itself),
    so transparent pixels never bleed into opaque ones; that filtered alpha is
    the output's alpha (``keep_alpha`` keeps the input's instead).  For a fully
    opaque image the colour is exactly what filtering without alpha gives.
    Mean pooling works the same way; max and min pooling ignore fully
    transparent pixels; activations apply to colour only.  ``sum`` drops alpha.

Units
    The result is in the input's units (0..255 for 8-bit, 0..65535 for 16-bit,
    as is for float).  ``sigmoid`` and ``tanh`` see the samples scaled to 0..1
    by the nominal maximum (:func:`nominal_max`) and give results in the
    same units back, so ``sigmoid`` of an 8-bit 0 is mid-gray;
    ``relu``/``abs`` do not care about scale.

:func:`to_depth` then applies ``gain * x + offset`` (in output units, e.g.
offset 128 for 8-bit: ImageMagick's bias idiom for signed edge maps) and the
range policy: ``clip`` (round and clip, the default), ``abs`` (magnitude, then
clip) or ``normalize`` (stretch min..max to the full range).  Float outputs are
scaled so that full scale is 1.0 (float sources: unchanged) and never clipped.

Examples
--------
>>> import numpy as np
>>> from convcli.kernels import kernel
>>> image = np.zeros((5, 5), np.uint8); image[:, 2:] = 200
>>> edges = filter_image(image, [Convolve(kernel("sobel:axis=x"))])
>>> to_depth(edges, "8", source_max=255, range_mode="abs").max()
np.uint8(255)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
from numpy.typing import DTypeLike

from .engine import METHODS, choose_method, convolve, correlate, normalize_border
from .errors import ParameterError
from .pooling import POOL_OPS, pool
from .shapes import as_pair, output_size, pool_output_size, resolve_pad, resolve_pool_pad

if TYPE_CHECKING:
    from .kernels import Kernel

__all__ = [
    "ACTIVATIONS",
    "CHANNELS",
    "DEPTHS",
    "RANGES",
    "Activate",
    "Convolve",
    "Operation",
    "Pool",
    "Step",
    "filter_image",
    "natural_depth",
    "nominal_max",
    "output_channels",
    "plan_steps",
    "to_depth",
]

Activation: TypeAlias = Literal["none", "relu", "abs", "sigmoid", "tanh"]
Channels: TypeAlias = Literal["each", "sum", "gray"]
RangeMode: TypeAlias = Literal["clip", "abs", "normalize"]
Depth: TypeAlias = Literal["8", "16", "float"]

ACTIVATIONS: tuple[str, ...] = ("none", "relu", "abs", "sigmoid", "tanh")
CHANNELS: tuple[str, ...] = ("each", "sum", "gray")
RANGES: tuple[str, ...] = ("clip", "abs", "normalize")
DEPTHS: tuple[str, ...] = ("8", "16", "float")

#: ITU-R 601-2 luma weights, as Pillow's "L" conversion
LUMA = (0.299, 0.587, 0.114)

_TOP = {"8": 255.0, "16": 65535.0, "float": 1.0}


def _work_dtype(dtype: DTypeLike) -> type[np.floating]:
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


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

    def __post_init__(self) -> None:
        from .kernels import Kernel, kernel

        if not isinstance(self.kernel, Kernel):  # a spec or a matrix, for Python callers
            object.__setattr__(self, "kernel", kernel(self.kernel))
        normalize_border(self.border)
        as_pair(self.stride, "stride")
        as_pair(self.dilation, "dilation")
        if self.method not in METHODS:
            raise ParameterError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        try:
            float(self.border_value)
        except (TypeError, ValueError):
            raise ParameterError(f"border_value must be a number, got {self.border_value!r}") from None
        resolve_pad(self.pad, self.kernel.shape, dilation=self.dilation, anchor=self._anchor())

    def _anchor(self) -> tuple[int, int] | None:
        if self.anchor is not None:
            return self.anchor
        # a kernel file's anchor positions 'same' padding; explicit padding says it all
        return self.kernel.anchor if self.pad == "same" else None

    def _matrices(self) -> list[np.ndarray]:
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
        total = sum(np.abs(m) for m in self._matrices())
        weights = np.asarray(total, dtype=np.float64)
        s = float(weights.sum())
        return weights / s if s > 0 else np.full_like(weights, 1.0 / weights.size)

    def output_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        """Output ``(height, width)`` for an input of ``hw`` (from :mod:`convcli.shapes`)."""
        return output_size(hw, self.kernel.shape, pad=self.pad, stride=self.stride, dilation=self.dilation,
                           anchor=self._anchor())

    def describe(self) -> str:
        """A short text for reports: ``correlate gaussian:sigma=3 (25x25)``."""
        h, w = self.kernel.shape
        verb = "convolve" if self.flip else "correlate"
        return f"{verb} {self.kernel.spec or 'kernel'} ({h}x{w})"

    def _filter(self, image: np.ndarray, matrix: np.ndarray, *, border_value: float) -> np.ndarray:
        func = convolve if self.flip else correlate
        return func(image, matrix, border=self.border, border_value=border_value, pad=self.pad,
                    stride=self.stride, dilation=self.dilation, method=self.method,  # type: ignore[arg-type]
                    anchor=self._anchor())

    def _pad_for_choice(self, matrix: np.ndarray) -> object:
        anchor = self._anchor()
        if anchor is None:
            return self.pad
        return resolve_pad(self.pad, (int(matrix.shape[0]), int(matrix.shape[1])), dilation=self.dilation,
                           anchor=anchor)

    def run(self, image: np.ndarray, *, add_offset: bool = True) -> np.ndarray:
        """Filter ``image`` (``H x W`` or ``H x W x C``); float32 (float64 for float64 input).

        ``add_offset=False`` leaves out the kernel's offset.
        """
        responses = [self._filter(image, m, border_value=float(self.border_value)) for m in self._matrices()]
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
        return f"activation {self.name}"

    def run(self, image: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
        """Apply to ``image``; ``sigmoid``/``tanh`` act on ``image / scale`` and are scaled back."""
        x = np.asarray(image)
        dtype = _work_dtype(x.dtype)
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
class Pool:
    """Max, mean or min pooling (PyTorch's size rules; the stride defaults to the window).

    Examples
    --------
    >>> Pool("max", size=2).output_hw((5, 5))
    (2, 2)
    >>> Pool("median")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: unknown pooling op 'median'; use one of max, mean, min
    """

    op: str = "max"
    size: object = 2
    stride: object = None
    pad: object = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        if self.op not in POOL_OPS:
            raise ParameterError(f"unknown pooling op {self.op!r}; use one of {', '.join(POOL_OPS)}")
        window = as_pair(self.size, "pooling size")
        if self.stride is not None:
            as_pair(self.stride, "pooling stride")
        resolve_pool_pad(self.pad, window)

    def output_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        """Output ``(height, width)`` for an input of ``hw`` (from :mod:`convcli.shapes`)."""
        return pool_output_size(hw, self.size, stride=self.stride, pad=self.pad, ceil_mode=self.ceil_mode)

    def describe(self) -> str:
        kh, kw = as_pair(self.size, "pooling size")
        sh, sw = as_pair(self.stride if self.stride is not None else (kh, kw), "pooling stride")
        text = f"{self.op} pool {kh}x{kw} stride {sh}x{sw}"
        ph, pw = as_pair(self.pad, "pooling pad", minimum=0)
        if ph or pw:
            text += f" pad {ph}x{pw}"
        return text + (" ceil" if self.ceil_mode else "")

    def run(self, image: np.ndarray) -> np.ndarray:
        return pool(image, self.size, stride=self.stride, op=self.op, pad=self.pad,  # type: ignore[arg-type]
                    ceil_mode=self.ceil_mode)


Operation: TypeAlias = "Convolve | Activate | Pool"


def _luma(rgb: np.ndarray) -> np.ndarray:
    dtype = _work_dtype(rgb.dtype)
    c = rgb.astype(dtype)
    if c.ndim == 2:
        return c
    if c.shape[2] < 3:
        return c[..., 0]
    return (c[..., 0] * dtype(LUMA[0]) + c[..., 1] * dtype(LUMA[1]) + c[..., 2] * dtype(LUMA[2])).astype(dtype)


def _sum_channels(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=2, dtype=x.dtype) if x.ndim == 3 else x


def _check_operations(operations: Sequence[Operation]) -> None:
    for op in operations:
        if not isinstance(op, (Convolve, Activate, Pool)):
            raise TypeError(f"operations must be Convolve, Activate or Pool, got {type(op).__name__}")


def _sum_point(operations: Sequence[Operation]) -> int:
    """Index of the operation after which ``channels="sum"`` adds the channels (-1: before the first)."""
    for index, op in enumerate(operations):
        if isinstance(op, Convolve):
            return index
    return -1


def filter_image(
    image: np.ndarray,
    operations: Sequence[Operation],
    *,
    channels: Channels = "each",
    alpha: bool = False,
    keep_alpha: bool = False,
) -> np.ndarray:
    """Run ``operations`` in order on one image, as ``convcli apply`` does.

    Parameters
    ----------
    image : ndarray
        ``H x W`` or ``H x W x C``, any real dtype; never modified.
    operations : sequence of Convolve, Activate, Pool
        Applied in order.
    channels : {"each", "sum", "gray"}, optional
        See the module notes: filter channels alike, depth-sum the first
        convolution's responses, or convert to luminance first.
    alpha : bool, optional
        The last channel is alpha (see the module notes).
    keep_alpha : bool, optional
        Output the input's alpha unchanged instead of the filtered one (the
        operations must keep the size).

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), unclipped, in the input's units;
        ``H' x W'`` or ``H' x W' x C'``.

    Raises
    ------
    ParameterError, ShapeError
        For options that do not fit this image (an anchor outside the kernel,
        padding that leaves nothing, ``keep_alpha`` with a size change).

    Examples
    --------
    >>> from convcli.kernels import kernel
    >>> rgba = np.zeros((4, 4, 4), np.uint8); rgba[:, 2:] = (255, 0, 0, 255)
    >>> rgba[:, :2, 1] = 255                      # green under a fully transparent half
    >>> out = filter_image(rgba, [Convolve(kernel("box:size=3"))], alpha=True)
    >>> float(out[0, 2, 1]), float(out[0, 2, 0])  # no green bleeds into the opaque red
    (0.0, 255.0)
    >>> float(out[0, 2, 3]), float(out[0, 1, 3])  # alpha is blurred
    (170.0, 85.0)
    """
    _check_operations(operations)
    if channels not in CHANNELS:
        raise ParameterError(f"unknown channels mode {channels!r}; use one of {', '.join(CHANNELS)}")
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf" or arr.ndim not in (2, 3) or min(arr.shape) < 1:
        raise ParameterError(
            f"image must be a non-empty H x W or H x W x C array of real numbers, got shape {arr.shape} "
            f"and dtype {arr.dtype}"
        )
    scale = nominal_max(arr.dtype)
    dtype = _work_dtype(arr.dtype)
    has_alpha = alpha and arr.ndim == 3 and arr.shape[2] >= 2
    if not has_alpha:
        work = _luma(arr) if channels == "gray" else arr
        return _run_plain(work, operations, channels=channels, scale=scale)
    colour = arr[..., :-1].astype(dtype)
    a = arr[..., -1]
    if channels == "gray":
        colour = _luma(colour)
    colour = colour[..., 0] if colour.ndim == 3 and colour.shape[2] == 1 else colour
    if np.all(a == scale):  # fully opaque: exactly the result without alpha, and opaque
        colour = _run_plain(colour, operations, channels=channels, scale=scale)
        weight = np.ones(colour.shape[:2], dtype=colour.dtype)
    else:
        weight = a.astype(dtype) / dtype(scale)
        colour, weight = _run_alpha(colour, weight, operations, channels=channels, scale=scale)
    if channels == "sum":
        return colour
    if keep_alpha:
        if weight.shape != a.shape:
            raise ParameterError(
                f"keeping alpha (--alpha keep) needs the output to keep the input's size {a.shape[1]}x{a.shape[0]}, "
                f"but the operations give {weight.shape[1]}x{weight.shape[0]}; use --alpha filter"
            )
        out_alpha = a.astype(dtype)
    else:
        out_alpha = weight * dtype(scale)
    if colour.ndim == 2:
        colour = colour[..., None]
    return np.concatenate([colour, out_alpha[..., None].astype(colour.dtype)], axis=2)


def _run_plain(work: np.ndarray, operations: Sequence[Operation], *, channels: str, scale: float) -> np.ndarray:
    out = work
    sum_at = _sum_point(operations) if channels == "sum" else None
    if sum_at == -1:
        out = _sum_channels(out.astype(_work_dtype(out.dtype)))
    for index, op in enumerate(operations):
        out = op.run(out, scale=scale) if isinstance(op, Activate) else op.run(out)
        if index == sum_at:
            out = _sum_channels(out)
    if out is work or out.dtype != _work_dtype(work.dtype):  # never hand back the caller's array
        out = out.astype(_work_dtype(work.dtype))
    return out


def _run_alpha(colour: np.ndarray, weight: np.ndarray, operations: Sequence[Operation], *, channels: str,
               scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Straight colour and alpha weight (0..1) through the operations (see the module notes)."""
    sum_at = _sum_point(operations) if channels == "sum" else None
    if sum_at == -1:
        colour = _sum_channels(colour)
    for index, op in enumerate(operations):
        w3 = weight[..., None] if colour.ndim == 3 else weight
        if isinstance(op, Activate):
            colour = op.run(colour, scale=scale)
        elif isinstance(op, Convolve) or (isinstance(op, Pool) and op.op == "mean"):
            if isinstance(op, Convolve):
                num = op.run(colour * w3, add_offset=False)
                offset = op.kernel.offset  # colour, added after dividing by alpha
                weight = op.run_weight(weight)
            else:
                num = op.run(colour * w3)
                weight = op.run(weight)
                offset = 0.0
            den = weight[..., None] if num.ndim == 3 else weight
            with np.errstate(divide="ignore", invalid="ignore"):
                colour = np.where(den > 0, num / den, 0).astype(num.dtype)
            if offset:
                colour += colour.dtype.type(offset)
        else:  # max/min pooling: fully transparent pixels take no part
            fill = -np.inf if op.op == "max" else np.inf
            visible = w3 > 0
            masked = np.where(visible, colour, fill).astype(colour.dtype)
            pooled = op.run(masked)
            seen = Pool("max", op.size, op.stride, op.pad, op.ceil_mode).run(visible.astype(colour.dtype))
            colour = np.where(seen > 0, pooled, 0).astype(pooled.dtype)
            weight = op.run(weight)
        if index == sum_at:
            colour = _sum_channels(colour)
    return colour, weight


@dataclass(frozen=True)
class Step:
    """One row of a dry run: what an operation does to the array's shape.

    Attributes
    ----------
    operation : str
        ``correlate gaussian:sigma=3 (25x25)``, ``max pool 2x2 stride 2x2``, …
    input, output : tuple of int
        Array shapes before and after (channels included).
    method : str or None
        For a convolution: the method ``auto`` chooses (or the one forced).
    reason : str or None
        Why ``auto`` chose it.
    """

    operation: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    method: str | None = None
    reason: str | None = None


def _shape(hw: tuple[int, int], channels: int) -> tuple[int, ...]:
    return hw if channels == 1 else (*hw, channels)


def output_channels(channels_in: int, *, channels: Channels = "each", alpha: bool = False) -> int:
    """Channels of :func:`filter_image`'s result for ``channels_in`` input channels.

    Examples
    --------
    >>> output_channels(4, alpha=True), output_channels(4, channels="gray", alpha=True)
    (4, 2)
    >>> output_channels(3, channels="sum")
    1
    """
    has_alpha = alpha and channels_in >= 2
    colour = channels_in - 1 if has_alpha else channels_in
    if channels in ("gray", "sum"):
        colour = 1
    return colour + (1 if has_alpha and channels != "sum" else 0)


def plan_steps(
    shape: tuple[int, ...],
    operations: Sequence[Operation],
    *,
    dtype: DTypeLike = np.uint8,
    channels: Channels = "each",
    alpha: bool = False,
) -> list[Step]:
    """The shapes through each operation and the method ``auto`` would choose, without filtering.

    Sizes come from :mod:`convcli.shapes`, methods from
    :func:`convcli.choose_method` (on actual data ``auto`` may still avoid the
    FFT for NaN/inf or a huge dynamic range).

    Raises
    ------
    ShapeError
        If an operation would leave nothing, naming it and its input size.

    Examples
    --------
    >>> from convcli.kernels import kernel
    >>> steps = plan_steps((100, 80, 3), [Convolve(kernel("box:size=3"), stride=2), Pool("max", 2)])
    >>> [(s.operation, s.input, s.output) for s in steps]
    [('correlate box:size=3 (3x3)', (100, 80, 3), (50, 40, 3)), ('max pool 2x2 stride 2x2', (50, 40, 3), (25, 20, 3))]
    """
    _check_operations(operations)
    hw = (int(shape[0]), int(shape[1]))
    c_in = 1 if len(shape) == 2 else int(shape[2])
    has_alpha = alpha and c_in >= 2
    colour = c_in - 1 if has_alpha else c_in
    extra = 1 if has_alpha and channels != "sum" else 0
    steps: list[Step] = []
    current = _shape(hw, colour + (1 if has_alpha else 0))
    if channels == "gray" and colour > 1:
        colour = 1
        steps.append(Step("to gray (ITU-R 601-2 luma)", current, _shape(hw, colour + extra)))
        current = steps[-1].output
    sum_at = _sum_point(operations) if channels == "sum" else None
    if sum_at == -1 and colour > 1:
        colour = 1
        steps.append(Step("sum the channels", current, _shape(hw, 1)))
        current = steps[-1].output
    work = _work_dtype(np.dtype(dtype))
    for index, op in enumerate(operations):
        name = f"step {index + 1} ({op.describe()})"
        method = reason = None
        try:
            if isinstance(op, Convolve):
                out_hw = op.output_hw(hw)
                image_shape = _shape(hw, colour)
                choices = [
                    choose_method(image_shape, m, pad=op._pad_for_choice(m), stride=op.stride,
                                  dilation=op.dilation, dtype=work)
                    for m in op._matrices()
                ]
                if op.method == "auto":
                    method = "/".join(dict.fromkeys(c.method for c in choices))
                    reason = choices[0].reason
                else:
                    method, reason = op.method, "forced by --method"
            elif isinstance(op, Pool):
                out_hw = op.output_hw(hw)
            else:
                out_hw = hw
        except ParameterError as err:
            raise type(err)(f"{name} on a {hw[0]}x{hw[1]} image: {err}") from None
        if index == sum_at:
            colour = 1
        before = current
        current = _shape(out_hw, colour + extra)
        steps.append(Step(op.describe(), before, current, method, reason))
        hw = out_hw
    return steps


def nominal_max(dtype: DTypeLike) -> float:
    """Full scale of a sample type: 255 for 8-bit, 65535 for wider integers, 1.0 for float.

    Examples
    --------
    >>> nominal_max(np.uint16), nominal_max(np.uint8), nominal_max(np.float32)
    (65535.0, 255.0, 1.0)
    """
    dt = np.dtype(dtype)
    if dt.kind == "b" or dt in (np.dtype(np.uint8), np.dtype(np.int8)):
        return 255.0
    if dt.kind in "iu":
        return 65535.0
    return 1.0


def natural_depth(dtype: DTypeLike) -> Depth:
    """The output depth that follows an input dtype: 8-bit, 16-bit or float.

    Examples
    --------
    >>> natural_depth(np.uint8), natural_depth(np.uint16), natural_depth(np.float64)
    ('8', '16', 'float')
    """
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return "float"
    return "8" if nominal_max(dt) == 255.0 else "16"


def to_depth(
    result: np.ndarray,
    depth: Depth,
    *,
    source_max: float,
    range_mode: RangeMode = "clip",
    gain: float = 1.0,
    offset: float = 0.0,
    alpha: bool = False,
) -> np.ndarray:
    """The filtered result as output samples of ``depth``.

    Parameters
    ----------
    result : ndarray
        Float result in the source's units (0..``source_max``).
    depth : {"8", "16", "float"}
        ``8`` gives uint8, ``16`` uint16, ``float`` float32 (float64 for a
        float64 result), scaled so that full scale is 1.0 and never clipped.
    source_max : float
        The source's full scale (:func:`nominal_max`: 255, 65535 or 1.0).
    range_mode : {"clip", "abs", "normalize"}, optional
        After ``gain`` and ``offset``: ``clip`` rounds half to even and clips
        to the range; ``abs`` takes the magnitude first; ``normalize``
        stretches min..max (over all colour channels together) to the range.
        NaN becomes 0 in integer outputs.
    gain, offset : float, optional
        ``gain * x + offset``, in the output's units (offset 128 for 8-bit,
        32768 for 16-bit, 0.5 for float).
    alpha : bool, optional
        The last channel is alpha: only scaled (and rounded, clipped), never
        touched by gain, offset or the range policy.

    Examples
    --------
    >>> to_depth(np.array([-10.0, 100.4, 300.0]), "8", source_max=255)
    array([  0, 100, 255], dtype=uint8)
    >>> to_depth(np.array([-10.0, 10.0]), "8", source_max=255, range_mode="abs")
    array([10, 10], dtype=uint8)
    >>> to_depth(np.array([2.0, 4.0]), "16", source_max=255, range_mode="normalize")
    array([    0, 65535], dtype=uint16)
    >>> to_depth(np.array([-100.0, 100.0]), "8", source_max=255, gain=0.5, offset=128)
    array([ 78, 178], dtype=uint8)
    >>> to_depth(np.array([0.0, 255.0], np.float32), "float", source_max=255)
    array([0., 1.], dtype=float32)
    """
    if depth not in _TOP:
        raise ParameterError(f"unknown depth {depth!r}; use one of {', '.join(DEPTHS)}")
    if range_mode not in RANGES:
        raise ParameterError(f"unknown range mode {range_mode!r}; use one of {', '.join(RANGES)}")
    if not source_max > 0:
        raise ParameterError(f"source_max must be positive, got {source_max!r}")
    arr = np.asarray(result)
    dtype = _work_dtype(arr.dtype)
    top = _TOP[depth]
    has_alpha = alpha and arr.ndim == 3 and arr.shape[2] >= 2
    scale = dtype(top / source_max)
    stretch: tuple[float, float] | None = None
    if range_mode == "normalize":
        colour_all = arr[..., :-1] if has_alpha else arr
        stretch = _stretch_bounds(colour_all, gain * scale, offset, top)
    if depth == "float":
        x = arr.astype(dtype, copy=True)
        _finish_band(x, has_alpha, scale, gain, offset, range_mode, stretch, top, integer=False)
        return x if arr.dtype == np.float64 else x.astype(np.float32)
    # integer outputs: row bands, so the float working copy stays small and in cache
    out = np.empty(arr.shape, dtype=np.uint8 if depth == "8" else np.uint16)
    rows = max(1, (1 << 16) // max(1, arr[0].size)) if arr.ndim >= 2 else arr.shape[0]
    for r0 in range(0, arr.shape[0], rows):
        x = arr[r0 : r0 + rows].astype(dtype, copy=True)
        _finish_band(x, has_alpha, scale, gain, offset, range_mode, stretch, top, integer=True)
        out[r0 : r0 + rows] = x
    return out


def _finish_band(x: np.ndarray, has_alpha: bool, scale: float, gain: float, offset: float, range_mode: str,
                 stretch: tuple[float, float] | None, top: float, *, integer: bool) -> None:
    """Scale, gain/offset, range policy and (for integers) NaN/inf handling, rounding and clipping, in place."""
    dtype = x.dtype.type
    if scale != 1.0:
        x *= dtype(scale)
    colour = x[..., :-1] if has_alpha else x
    if gain != 1.0:
        colour *= dtype(gain)
    if offset:
        colour += dtype(offset)
    if range_mode == "abs":
        np.abs(colour, out=colour)
    elif stretch is not None:
        lo, factor = stretch
        colour -= dtype(lo)
        colour *= dtype(factor)
    if integer:
        np.fmax(x, 0, out=x)  # NaN and -inf become 0
        np.fmin(x, top, out=x)  # +inf becomes full scale
        np.rint(x, out=x)


def _stretch_bounds(colour: np.ndarray, factor: float, offset: float, top: float) -> tuple[float, float]:
    """``(lo, scale)`` mapping the finite min..max of ``factor*x + offset`` onto 0..top."""
    with np.errstate(invalid="ignore"):
        lo, hi = float(np.nanmin(colour)) if colour.size else 0.0, float(np.nanmax(colour)) if colour.size else 0.0
    if not (np.isfinite(lo) and np.isfinite(hi)):
        finite = colour[np.isfinite(colour)]
        if finite.size == 0:
            return (0.0, 0.0)
        lo, hi = float(finite.min()), float(finite.max())
    a, b = factor * lo + offset, factor * hi + offset
    lo, hi = min(a, b), max(a, b)
    return (lo, 0.0) if hi == lo else (lo, top / (hi - lo))


def _stretch(x: np.ndarray, top: float) -> np.ndarray:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.zeros_like(x)
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        return np.zeros_like(x)
    return ((x - x.dtype.type(lo)) * x.dtype.type(top / (hi - lo))).astype(x.dtype)


def _streamable(image: np.ndarray, operations: Sequence[Operation], *, channels: str, alpha: bool,
                depth: str, range_mode: str) -> bool:
    """Whether :func:`filter_to_depth` can stream: one linear convolution, then activations only."""
    if alpha or channels != "each" or depth not in ("8", "16") or range_mode not in ("clip", "abs"):
        return False
    if not operations or not isinstance(operations[0], Convolve) or operations[0].kernel.is_operator:
        return False
    return all(isinstance(op, Activate) for op in operations[1:])


def filter_to_depth(
    image: np.ndarray,
    operations: Sequence[Operation],
    *,
    depth: Depth,
    channels: Channels = "each",
    alpha: bool = False,
    keep_alpha: bool = False,
    range_mode: RangeMode = "clip",
    gain: float = 1.0,
    offset: float = 0.0,
    out_alpha: bool = False,
) -> np.ndarray:
    """:func:`filter_image` then :func:`to_depth`, in strips of rows when the chain allows.

    For the common case (one linear convolution, optionally followed by
    activations, no alpha, ``channels="each"``, an integer depth and the
    ``clip``/``abs`` range) the convolution runs in strips of output rows
    (:func:`convcli.engine.correlate_strips`) and each strip is converted to
    the output depth at once, so the float result of the whole image never
    exists: peak memory follows the 8-bit size of the image.  The bytes are
    the same as those of the unstreamed path.  Other chains run unstreamed.

    Examples
    --------
    >>> from convcli.kernels import kernel
    >>> image = (np.arange(10000) % 251).astype(np.uint8).reshape(100, 100)
    >>> ops = [Convolve(kernel("gaussian:sigma=2"))]
    >>> streamed = filter_to_depth(image, ops, depth="8")
    >>> whole = to_depth(filter_image(image, ops), "8", source_max=255)
    >>> np.array_equal(streamed, whole)
    True
    """
    from .engine import correlate_strips

    source_max = nominal_max(np.asarray(image).dtype)
    if not _streamable(image, operations, channels=channels, alpha=alpha, depth=depth, range_mode=range_mode):
        result = filter_image(image, operations, channels=channels, alpha=alpha, keep_alpha=keep_alpha)
        return to_depth(result, depth, source_max=source_max, range_mode=range_mode, gain=gain, offset=offset,
                        alpha=out_alpha)
    _check_operations(operations)
    conv = operations[0]
    assert isinstance(conv, Convolve)
    strips = correlate_strips(image, conv.kernel.matrix, flip=conv.flip, border=conv.border,
                              border_value=float(conv.border_value), pad=conv.pad, stride=conv.stride,
                              dilation=conv.dilation, method=conv.method, anchor=conv._anchor())  # type: ignore[arg-type]
    out: np.ndarray | None = None
    for first, strip in strips:
        if conv.kernel.offset:
            strip += strip.dtype.type(conv.kernel.offset)
        for op in operations[1:]:
            strip = op.run(strip, scale=source_max)  # type: ignore[call-arg]
        samples = to_depth(strip, depth, source_max=source_max, range_mode=range_mode, gain=gain, offset=offset)
        if out is None:  # the output's height comes from the plan: allocate once
            out = np.empty((_stream_height(image, conv), *samples.shape[1:]), dtype=samples.dtype)
        out[first : first + samples.shape[0]] = samples
    assert out is not None
    return out


def _stream_height(image: np.ndarray, conv: Convolve) -> int:
    from .shapes import output_size

    kh, kw = conv.kernel.shape
    anchor = conv._anchor()
    if conv.flip and anchor is not None:
        anchor = (kh - 1 - anchor[0], kw - 1 - anchor[1])
    return output_size(image.shape[:2], (kh, kw), pad=conv.pad, stride=conv.stride, dilation=conv.dilation,
                       anchor=anchor)[0]
