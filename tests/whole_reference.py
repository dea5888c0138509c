"""The whole-array chain as it was before streaming (commit b57efde): the oracle the streamed chain must equal.

Every operation runs on the whole image at once (``Convolve.run``, ``Pooling.run``, ``Activate.run``), with
the alpha-weighted and channel-sum rules of :mod:`convcli.pipeline`'s notes.  Kept verbatim in the tests so
that "byte-identical to the whole-image path" is checked against that path itself, not against the new code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from convcli.colour import decode_samples, encode_samples
from convcli.depth import nominal_max, to_depth
from convcli.engine import work_dtype
from convcli.errors import ParameterError
from convcli.operations import Activate, Convolve, Operation, Pooling, check_operations

CHANNELS = ("each", "sum", "gray")
LUMA = (0.299, 0.587, 0.114)


def _work_type(dtype: DTypeLike) -> type[np.floating]:
    """The scalar type computations on ``dtype`` samples use (:func:`convcli.engine.work_dtype`)."""
    return work_dtype(np.dtype(dtype)).type


def _luma(rgb: np.ndarray) -> np.ndarray:
    dtype = _work_type(rgb.dtype)
    c = rgb.astype(dtype)
    if c.ndim == 2:
        return c
    if c.shape[2] < 3:
        return c[..., 0]
    return (c[..., 0] * dtype(LUMA[0]) + c[..., 1] * dtype(LUMA[1]) + c[..., 2] * dtype(LUMA[2])).astype(dtype)


def _sum_channels(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=2, dtype=x.dtype) if x.ndim == 3 else x


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
    channels: str = "each",
    alpha: bool = False,
    keep_alpha: bool = False,
    linear: bool = False,
    mask: np.ndarray | None = None,
    precise: bool = False,
) -> np.ndarray:
    """The old whole-array filter_image (see the module docstring); ``precise``: the samples as float64."""
    check_operations(operations)
    if channels not in CHANNELS:
        raise ParameterError(f"unknown channels mode {channels!r}; use one of {', '.join(CHANNELS)}")
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf" or arr.ndim not in (2, 3) or min(arr.shape) < 1:
        raise ParameterError(
            f"image must be a non-empty H x W or H x W x C array of real numbers, got shape {arr.shape} "
            f"and dtype {arr.dtype}"
        )
    scale = nominal_max(arr.dtype)
    if precise and not linear:  # the same integer values, in float64: every stage computes in float64
        arr = arr.astype(np.float64)
    dtype = np.float64 if linear else _work_type(arr.dtype)  # linear light: float64 (see the module notes)
    has_alpha = alpha and arr.ndim == 3 and arr.shape[2] >= 2
    _check_mask(operations, mask, has_alpha and not np.all(arr[..., -1] == scale))
    if not has_alpha:
        work = decode_samples(arr, dtype) if linear else arr
        work = _luma(work) if channels == "gray" else work
        plain = _run_plain(work, operations, channels=channels, scale=scale, mask=mask)
        return encode_samples(plain, scale) if linear else plain
    colour = decode_samples(arr[..., :-1], dtype) if linear else arr[..., :-1].astype(dtype)
    a = arr[..., -1]
    if channels == "gray":
        colour = _luma(colour)
    colour = colour[..., 0] if colour.ndim == 3 and colour.shape[2] == 1 else colour
    if np.all(a == scale):  # fully opaque: exactly the result without alpha, and opaque
        colour = _run_plain(colour, operations, channels=channels, scale=scale, mask=mask)
        weight = np.ones(colour.shape[:2], dtype=colour.dtype)
    else:
        weight = a.astype(dtype) / dtype(scale)
        colour, weight = _run_alpha(colour, weight, operations, channels=channels, scale=scale)
    if linear:
        colour = encode_samples(colour, scale)
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


def _check_mask(operations: Sequence[Operation], mask: np.ndarray | None, translucent: bool) -> None:
    """Refuse a mask without a first convolution, and missing data together with a (not opaque) alpha channel."""
    if mask is not None and not (operations and isinstance(operations[0], Convolve)):
        raise ParameterError("a mask applies to the first operation, which must be a convolution (give a kernel)")
    if translucent and (mask is not None or any(isinstance(op, Convolve) and op.normalized for op in operations)):
        raise ParameterError("ignoring missing data (--nan ignore, --mask) cannot be combined with an alpha channel "
                             "that is not fully opaque: alpha already weights the pixels; make transparent "
                             "pixels the missing ones instead, or drop the alpha channel")


def _run_plain(work: np.ndarray, operations: Sequence[Operation], *, channels: str, scale: float,
               mask: np.ndarray | None = None) -> np.ndarray:
    out = work
    sum_at = _sum_point(operations) if channels == "sum" else None
    if sum_at == -1:
        out = _sum_channels(out.astype(_work_type(out.dtype)))
    for index, op in enumerate(operations):
        if isinstance(op, Activate):
            out = op.run(out, scale=scale)
        else:
            out = op.run(out, mask=mask) if index == 0 and isinstance(op, Convolve) else op.run(out)
        if index == sum_at:
            out = _sum_channels(out)
    if out is work or out.dtype != _work_type(work.dtype):  # never hand back the caller's array
        out = out.astype(_work_type(work.dtype))
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
        elif isinstance(op, Convolve) or (isinstance(op, Pooling) and op.op == "mean"):
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
            seen = Pooling("max", op.size, op.stride, op.pad, op.ceil_mode).run(visible.astype(colour.dtype))
            colour = np.where(seen > 0, pooled, 0).astype(pooled.dtype)
            weight = op.run(weight)
        if index == sum_at:
            colour = _sum_channels(colour)
    return colour, weight


def whole_to_depth(image, operations, *, depth, channels="each", alpha=False, keep_alpha=False, range_mode="clip",
                   gain=1.0, offset=0.0, out_alpha=False, linear=False, mask=None):
    """filter_image then to_depth on whole arrays (the unstreamed path of the old filter_to_depth)."""
    source = np.dtype(np.asarray(image).dtype)
    precise = depth in ("8", "16") and source.kind in "iu" and source.itemsize >= 2  # as stream_filter does
    result = filter_image(image, operations, channels=channels, alpha=alpha, keep_alpha=keep_alpha, linear=linear,
                          mask=mask, precise=precise)
    samples = to_depth(result, depth, source_max=nominal_max(np.asarray(image).dtype), range_mode=range_mode,
                       gain=gain, offset=offset, alpha=out_alpha)
    if linear and depth == "float":
        samples = samples.astype(_work_type(np.asarray(image).dtype), copy=False)
    return samples


def correlate_in_strips(image: np.ndarray, kernel: np.ndarray, step: int, *, lazy: bool = False,
                        mask: object = None, **options: object) -> np.ndarray:
    """The engine's result computed ``step`` output rows at a time (``StripCorrelation``), stacked.

    ``lazy``: the image is only read by rows (as a tiled file is), never handed over whole; a mask given as an
    array is then read by rows too.
    """
    from convcli.engine._window import StripCorrelation

    arr = image if image.ndim == 3 else image[:, :, None]
    source = (arr.shape, arr.dtype, lambda a, b: arr[a:b].copy()) if lazy else image
    if lazy and isinstance(mask, np.ndarray):
        mask = RowsOf(mask)
    strips = StripCorrelation(source, kernel, mask=mask, **options)  # type: ignore[arg-type]
    ho = strips.out_hw[0]
    out = np.concatenate([strips.rows(i, min(i + step, ho)) for i in range(0, ho, step)])
    return out[..., 0] if image.ndim == 2 else out


class RowsOf:
    """An array read only by rows (``shape``, ``dtype``, ``read(r0, r1)``), as an image source is."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.reads: list[tuple[int, int]] = []

    def read(self, r0: int, r1: int) -> np.ndarray:
        assert 0 <= r0 < r1 <= self.shape[0]
        self.reads.append((r0, r1))
        return self.array[r0:r1].copy()
