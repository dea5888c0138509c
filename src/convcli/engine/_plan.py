"""Checking arguments once and describing the problem every method solves.

A :class:`Problem` is what the cost model knows before any pixel is read: the
kernel as it is applied (float64, already rotated for convolve), the work
dtype, the channels, stride, dilation and output shape.  A :class:`Plan` adds
the data: the image as an (H, W, C) view (never copied, never written), the
border, the padding and the padded-index maps.  ``gather`` copies any
rectangle of the *virtual* padded image into a work buffer, converting to the
work dtype on the way, so no method ever materialises the whole padded image.
All sizes come from :mod:`convcli.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..errors import KernelError, ParameterError
from ..shapes import MAX_KERNEL_SIDE, as_pair, effective_size, flipped_anchor, input_extent, output_size, resolve_pad
from ._borders import padded_index_map, resolve_border
from ._scratch import scratch


def work_dtype(dtype: DTypeLike) -> np.dtype:
    """The dtype the engine computes in and returns for images of ``dtype``.

    float64 stays float64; everything else (float32, float16, integers, bool)
    computes in float32.  This is the one owner of that rule.  Byte order
    never matters (``>f8`` is float64 too); the result is native.

    Parameters
    ----------
    dtype : dtype
        The image's dtype.

    Returns
    -------
    numpy.dtype

    Examples
    --------
    >>> work_dtype(np.uint8)
    dtype('float32')
    >>> work_dtype(np.dtype(np.float64)), work_dtype(">f8")
    (dtype('float64'), dtype('float64'))
    """
    dt = np.dtype(dtype)
    return np.dtype(np.float64) if dt.kind == "f" and dt.itemsize == 8 else np.dtype(np.float32)


def check_image(image: object) -> np.ndarray:
    """The image as an ndarray of a real numeric dtype with 2 or 3 dimensions."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(
            f"image must hold real numbers (bool, integer or float), got dtype {arr.dtype}"
        )
    if arr.ndim not in (2, 3):
        raise ParameterError(
            f"image must be H x W or H x W x C, got an array of shape {arr.shape}"
        )
    if min(arr.shape) < 1:
        raise ParameterError(f"image is empty (shape {arr.shape}); give at least one pixel")
    return arr


def check_kernel(kernel: object, *, label: str = "kernel") -> np.ndarray:
    """The kernel as a finite 2-D float64 array (a copy, so callers' arrays are never touched).

    The one check of a kernel matrix: the engine, explanations, gradients and
    :class:`convcli.kernels.Kernel` all use it.

    Parameters
    ----------
    kernel : array_like
        The weights.
    label : str, optional
        What to call it in messages (``"kernel 'box:size=3'"``).

    Examples
    --------
    >>> check_kernel(np.ones((1, MAX_KERNEL_SIDE + 1)))
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: kernel is 1x1026; the limit is 1025 per side
    >>> check_kernel([[1.0, float("nan")]], label="kernel '1 nan'")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: kernel '1 nan' has nan at row 1, column 2; every value must be a finite number
    """
    if hasattr(kernel, "matrix") and hasattr(kernel, "components"):  # a convcli.Kernel: the engine takes arrays
        raise KernelError(f"{label} must be a 2-D array of numbers, got the Kernel {getattr(kernel, 'spec', '')!r}; "
                          "pass its .matrix (or use convcli.Convolve(spec) with stream_filter, which applies "
                          "operators such as sobel:axis=both whole)")
    try:
        arr = np.array(kernel, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise KernelError(f"{label} must be a 2-D array of numbers: {err}") from None
    if arr.ndim == 1:
        raise KernelError(
            f"{label} must be 2-D, got 1-D of length {arr.shape[0]}; "
            "write a row as [[...]] or a column as [[a], [b], ...]"
        )
    if arr.ndim != 2:
        raise KernelError(f"{label} must be a 2-D matrix, got shape {arr.shape}")
    if arr.size == 0:
        raise KernelError(f"{label} is empty (shape {arr.shape}); give at least one value")
    if max(arr.shape) > MAX_KERNEL_SIDE:
        raise KernelError(f"{label} is {arr.shape[0]}x{arr.shape[1]}; the limit is {MAX_KERNEL_SIDE} per side")
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise KernelError(
            f"{label} has {arr[r, c]} at row {r + 1}, column {c + 1}; every value must be a finite number"
        )
    return arr


@dataclass(frozen=True, eq=False)
class Problem:
    """One correlation problem as the cost model sees it: shapes, kernel and dtype, no pixels.

    ``memo`` holds what a method derives from the problem once (the separable
    factors, say), shared by its cost, its reason and its run.
    """

    kernel: np.ndarray  # float64, as applied (already rotated for convolve)
    dtype: np.dtype  # work and output dtype
    channels: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    out_hw: tuple[int, int]
    memo: dict[object, Any] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def span(self) -> tuple[int, int]:
        """Extent of the dilated kernel (rows, cols)."""
        (kh, kw), (dh, dw) = self.kernel.shape, self.dilation
        return effective_size(kh, dh), effective_size(kw, dw)

    @cached_property
    def needed(self) -> tuple[int, int]:
        """Rows and columns of the padded image that any output depends on."""
        (ho, wo), (sh, sw), (dh, dw) = self.out_hw, self.stride, self.dilation
        kh, kw = self.kernel.shape
        return input_extent(ho, kh, stride=sh, dilation=dh), input_extent(wo, kw, stride=sw, dilation=dw)

    def band_extent(self, rows: int) -> int:
        """Padded rows that ``rows`` consecutive output rows read."""
        return input_extent(rows, self.kernel.shape[0], stride=self.stride[0], dilation=self.dilation[0])


@dataclass(frozen=True, eq=False)
class Plan(Problem):
    """One correlation problem, checked, with its data: ready for any method."""

    image: np.ndarray  # (H, W, C), the caller's data, read-only use
    squeeze: bool  # the caller gave an H x W image
    border: str
    border_value: float
    pads: tuple[int, int, int, int]
    rmap: np.ndarray
    cmap: np.ndarray
    _column_cache: dict[tuple[int, int], tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False
    )

    def output_rows(
        self, rows: tuple[int, int] | None, out: np.ndarray | None
    ) -> tuple[int, int, np.ndarray]:
        """The output rows ``[i0, i1)`` a method computes (all when ``rows`` is None) and the array for them.

        ``out`` (shape ``(i1 - i0, W_out, C)``) is used when given, else allocated.
        """
        i0, i1 = rows if rows is not None else (0, self.out_hw[0])
        if out is None:
            out = np.empty((i1 - i0, self.out_hw[1], self.channels), dtype=self.dtype)
        return i0, i1, out

    def finish(self, out: np.ndarray, rows: tuple[int, int] | None = None) -> np.ndarray:
        """A method's result: the strip as computed, or the whole output shaped as the caller's image."""
        if rows is not None:
            return out
        return out.reshape(self.out_hw) if self.squeeze else out

    def _columns(self, c0: int, c1: int) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Column plan for a gather of [c0, c1): interior span and the border columns (cached)."""
        key = (c0, c1)
        cached = self._column_cache.get(key)
        if cached is None:
            w = self.image.shape[1]
            left = self.pads[2]
            cols = self.cmap[c0:c1]
            ci0, ci1 = max(c0, left), min(c1, left + w)
            pos = np.arange(c1 - c0)
            side = (pos < ci0 - c0) | (pos >= ci1 - c0)
            src_pos = pos[side & (cols >= 0)]
            const_pos = pos[side & (cols < 0)]
            valid = cols >= 0
            cached = (ci0, ci1, src_pos, cols[src_pos], const_pos, valid)
            self._column_cache[key] = cached
        return cached

    def gather_rows(self, i0: int, i1: int, name: str, *, planar: bool = False,
                    dtype: np.dtype | None = None) -> np.ndarray:
        """The padded input that output rows [i0, i1) read (every needed column), in this thread's scratch ``name``.

        Always shaped ``(rows, columns, channels)``; with ``planar`` the memory
        holds one channel after another (``buf.transpose(2, 0, 1)`` is
        contiguous), for methods that work on each channel's plane.  ``dtype``
        (default: the work dtype) is what the samples are converted to.
        """
        r0 = i0 * self.stride[0]
        r1 = r0 + self.band_extent(i1 - i0)
        need_w = self.needed[1]
        dtype = self.dtype if dtype is None else dtype
        if planar:
            buf = scratch(name, (self.channels, r1 - r0, need_w), dtype).transpose(1, 2, 0)
        else:
            buf = scratch(name, (r1 - r0, need_w, self.channels), dtype)
        self.gather(r0, r1, 0, need_w, buf)
        return buf

    def gather(self, r0: int, r1: int, c0: int, c1: int, buf: np.ndarray) -> None:
        """Copy padded rows [r0, r1) and columns [c0, c1) into ``buf[:r1-r0, :c1-c0]``."""
        img = self.image
        h = img.shape[0]
        top, left = self.pads[0], self.pads[2]
        value = self.border_value
        ci0, ci1, src_pos, src_cols, const_pos, valid_c = self._columns(c0, c1)
        ri0, ri1 = max(r0, top), min(r1, top + h)
        if ri1 > ri0:
            band = buf[ri0 - r0 : ri1 - r0]
            rows = img[ri0 - top : ri1 - top]
            # interior rows x interior columns: one strided copy (and dtype conversion)
            if ci1 > ci0:
                band[:, ci0 - c0 : ci1 - c0] = rows[:, ci0 - left : ci1 - left]
            if src_pos.size:
                band[:, src_pos] = rows[:, src_cols]
            if const_pos.size:
                band[:, const_pos] = value
        # border rows: each copied from its source row through the column map
        n = r1 - r0
        lo = min(max(ri0 - r0, 0), n)
        hi = max(min(ri1 - r0, n), lo)
        if lo > 0 or hi < n:
            cols = self.cmap[c0:c1]
            all_valid = bool(valid_c.all())
            for p in [*range(lo), *range(hi, n)]:
                src = self.rmap[r0 + p]
                line = buf[p, : c1 - c0]
                if src < 0:
                    line[...] = value
                elif all_valid:
                    line[...] = img[src, cols]
                else:
                    line[valid_c] = img[src, cols[valid_c]]
                    line[~valid_c] = value


def geometry(
    image_hw: tuple[int, int], kernel: np.ndarray, *, flip: bool, pad: object, stride: object,
    dilation: object, anchor: object,
) -> tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """The kernel as applied, the pads, stride, dilation and output size (all from :mod:`convcli.shapes`)."""
    kh, kw = (int(v) for v in kernel.shape)
    if flip:
        kernel = np.ascontiguousarray(kernel[::-1, ::-1])
        if anchor is not None:
            anchor = flipped_anchor(anchor, (kh, kw))
    dil = as_pair(dilation, "dilation")
    st = as_pair(stride, "stride")
    pads = resolve_pad(pad, (kh, kw), dilation=dil, anchor=anchor)
    out_hw = output_size(image_hw, (kh, kw), pad=pads, stride=st, dilation=dil)
    return kernel, pads, st, dil, out_hw


def describe(
    image_shape: tuple[int, ...], kernel: object, *, pad: object, stride: object, dilation: object,
    dtype: DTypeLike,
) -> Problem:
    """The :class:`Problem` for an image of this shape and dtype (no data needed)."""
    k = check_kernel(kernel)
    if len(image_shape) not in (2, 3):
        raise ParameterError(f"image_shape must be (H, W) or (H, W, C), got {image_shape!r}")
    hw = (int(image_shape[0]), int(image_shape[1]))
    channels = int(image_shape[2]) if len(image_shape) == 3 else 1
    k, _, st, dil, out_hw = geometry(hw, k, flip=False, pad=pad, stride=stride, dilation=dilation, anchor=None)
    return Problem(kernel=k, dtype=work_dtype(dtype), channels=channels, stride=st, dilation=dil, out_hw=out_hw)


def make_plan(
    image: object,
    kernel: object,
    *,
    flip: bool,
    border: str,
    border_value: float,
    pad: object,
    stride: object,
    dilation: object,
    anchor: object,
) -> Plan:
    """Check every argument (naming what is wrong) and build the :class:`Plan`."""
    arr = check_image(image)
    k = check_kernel(kernel)
    mode, value = resolve_border(border, border_value)
    img3 = arr[:, :, None] if arr.ndim == 2 else arr
    h, w = (int(v) for v in img3.shape[:2])
    k, pads, st, dil, out_hw = geometry(
        (h, w), k, flip=flip, pad=pad, stride=stride, dilation=dilation, anchor=anchor
    )
    return Plan(
        kernel=k,
        dtype=work_dtype(arr.dtype),
        channels=int(img3.shape[2]),
        stride=st,
        dilation=dil,
        out_hw=out_hw,
        image=img3,
        squeeze=arr.ndim == 2,
        border=mode,
        border_value=value,
        pads=pads,
        rmap=padded_index_map(h, pads[0], pads[1], mode),
        cmap=padded_index_map(w, pads[2], pads[3], mode),
    )
