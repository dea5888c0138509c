"""Checking arguments once and describing the problem every method solves.

A :class:`Plan` holds the image as an (H, W, C) view (never copied, never
written), the kernel as float64, the padding, stride and dilation, the output
shape from :mod:`convcli.shapes`, and the padded-index maps.  ``gather`` copies
any rectangle of the *virtual* padded image into a work buffer, converting to
the work dtype on the way, so no method ever materialises the whole padded
image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import KernelError, ParameterError
from ..shapes import as_pair, output_size, resolve_pad
from ._borders import normalize_border, padded_index_map

#: the largest kernel side accepted (a 4097-tap side is already far beyond any filter).
MAX_KERNEL_SIDE = 4097


def work_dtype(dtype: np.dtype) -> np.dtype:
    """float64 stays float64; everything else (float32, float16, ints, bool) computes in float32.

    Examples
    --------
    >>> work_dtype(np.dtype(np.uint8))
    dtype('float32')
    >>> work_dtype(np.dtype(np.float64))
    dtype('float64')
    """
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


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


def check_kernel(kernel: object) -> np.ndarray:
    """The kernel as a finite 2-D float64 array (a copy, so callers' arrays are never touched)."""
    try:
        arr = np.array(kernel, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise KernelError(f"kernel must be a 2-D array of numbers: {err}") from None
    if arr.ndim == 1:
        raise KernelError(
            f"kernel must be 2-D, got 1-D of length {arr.shape[0]}; "
            "write a row as [[...]] or a column as [[a], [b], ...]"
        )
    if arr.ndim != 2:
        raise KernelError(f"kernel must be 2-D, got shape {arr.shape}")
    if arr.size == 0:
        raise KernelError(f"kernel is empty (shape {arr.shape}); give at least one value")
    if max(arr.shape) > MAX_KERNEL_SIDE:
        raise KernelError(
            f"kernel is {arr.shape[0]}x{arr.shape[1]}; the largest side allowed is {MAX_KERNEL_SIDE}"
        )
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        r, c = (int(v) for v in bad[0])
        raise KernelError(
            f"kernel has a non-finite value ({arr[r, c]}) at row {r}, column {c} (0-based); "
            "every weight must be a finite number"
        )
    return arr


@dataclass
class Plan:
    """One correlation problem, checked and ready for any method."""

    image: np.ndarray  # (H, W, C), the caller's data, read-only use
    squeeze: bool  # the caller gave an H x W image
    kernel: np.ndarray  # float64, already rotated for convolve
    dtype: np.dtype  # work and output dtype
    border: str
    border_value: float
    pads: tuple[int, int, int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    out_hw: tuple[int, int]
    rmap: np.ndarray
    cmap: np.ndarray
    _column_cache: dict[tuple[int, int], tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @property
    def channels(self) -> int:
        return int(self.image.shape[2])

    @property
    def span(self) -> tuple[int, int]:
        """Extent of the dilated kernel (rows, cols)."""
        (kh, kw), (dh, dw) = self.kernel.shape, self.dilation
        return dh * (kh - 1) + 1, dw * (kw - 1) + 1

    @property
    def needed(self) -> tuple[int, int]:
        """Rows and columns of the padded image that any output depends on."""
        (ho, wo), (sh, sw), (eh, ew) = self.out_hw, self.stride, self.span
        return (ho - 1) * sh + eh, (wo - 1) * sw + ew

    def new_output(self) -> np.ndarray:
        return np.empty((*self.out_hw, self.channels), dtype=self.dtype)

    def finish(self, out: np.ndarray) -> np.ndarray:
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
    mode = normalize_border(border)
    try:
        value = float(border_value)
    except (TypeError, ValueError):
        raise ParameterError(f"border_value must be a number, got {border_value!r}") from None
    if math.isnan(value) and mode == "constant":
        pass  # a NaN border is allowed: it marks what the border touched
    if mode == "constant" and border.lower() in ("zeros", "zero") and value != 0.0:
        raise ParameterError(
            f"border {border!r} means a constant 0 border, but border_value={border_value!r}; "
            "use border='constant' with that value"
        )
    kh, kw = k.shape
    if flip:
        k = np.ascontiguousarray(k[::-1, ::-1])
        if anchor is not None:
            if not (isinstance(anchor, (tuple, list)) and len(anchor) == 2):
                raise ParameterError(f"anchor must be a pair (row, col) of integers, got {anchor!r}")
            anchor = (kh - 1 - anchor[0], kw - 1 - anchor[1])
    dil = as_pair(dilation, "dilation")
    st = as_pair(stride, "stride")
    pads = resolve_pad(pad, (kh, kw), dilation=dil, anchor=anchor)
    squeeze = arr.ndim == 2
    img3 = arr[:, :, None] if squeeze else arr
    h, w = img3.shape[:2]
    out_hw = output_size((h, w), (kh, kw), pad=pads, stride=st, dilation=dil)
    return Plan(
        image=img3,
        squeeze=squeeze,
        kernel=k,
        dtype=work_dtype(arr.dtype),
        border=mode,
        border_value=value,
        pads=pads,
        stride=st,
        dilation=dil,
        out_hw=out_hw,
        rmap=padded_index_map(h, pads[0], pads[1], mode),
        cmap=padded_index_map(w, pads[2], pads[3], mode),
    )
