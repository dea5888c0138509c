"""Missing data (NaN): exact propagation, and normalised convolution (``nan="ignore"``).

This is the one place that knows about missing data; the methods only filter
finite numbers (or, where they can, carry NaN through by themselves).

``propagate`` (the default)
    An output is NaN exactly when a non-zero tap of the kernel reads a NaN,
    whatever the method.  ``direct`` and rank-1 ``separable`` passes do that
    by themselves (a band holding NaN is never sent through BLAS).  The FFT
    and multi-term separable passes would spread it (over a whole tile, or
    over the factors' own footprint), so for them the non-finite pixels are
    set to 0, the image is filtered, and the outputs whose window holds a
    non-finite pixel are set to NaN: they are found by correlating the
    indicator of those pixels with the kernel's non-zero pattern (a count,
    computed in float64 and rounded, so exact for any method).  With these
    two methods a window holding ``inf`` gives NaN.

``ignore``
    Normalised convolution, astropy's ``nan_treatment="interpolate"`` with
    ``normalize_kernel=True``::

        out = correlate(where(valid, x, 0), k) / correlate(valid, k)

    with the same border, padding, stride and dilation, ``valid`` being the
    finite pixels (and the non-zero pixels of ``mask``).  A constant border
    is valid data when its value is finite and missing when it is NaN.
    Where no valid pixel lies under a non-zero tap the output is ``nan_fill``
    (NaN by default).  Kernels whose weights sum to about 0 (edge detectors)
    are refused: the ratio has no meaning.  For kernels with negative weights
    the denominator (the sum of the weights over the valid pixels) can be
    small near holes and the result large; where it is within rounding of 0
    (``|sum| <= DENOMINATOR_ZERO[dtype] * sum|k|``) the output is ``nan_fill``
    too.  The FFT (and a multi-term separable pass) computes both
    correlations in float64, and its rounding is absolute, about 1e-16 of
    ``sum|k|``: beside a hole wider than the kernel the weight sum can be the
    tails' 1e-17 and the ratio noise.  So wherever the weight sum is below
    ``RECOMPUTE_BELOW * sum|k|`` (astropy's ``normalization_zero_tol`` idea)
    both sums are recomputed tap by tap in float64 for those outputs only;
    the ratio is then exact (~1e-9) on every method, ``auto``'s choice
    included, and no "no valid pixel" count is needed.  Each recomputed pixel
    is summed in one fixed order, so strips equal the whole image bit for bit.
    A box-like kernel (every non-zero weight equal: a box, a disk) cancels
    its weight: the valid pixels are summed and counted with the kernel's
    non-zero pattern, so on integer data both are exact integers (rounded
    back after an FFT; in float64 past 2**24) and an exact tie of the mean
    stays exact for round-half-to-even.

Streamed images
    The derived images (the cleaned data, the indicator of non-finite
    pixels, the valid weights) are made by :func:`~convcli.engine._rows.derive`:
    of an array, arrays; of a :class:`~convcli.engine._rows.RowWindow`,
    windows computed from each strip's rows (the mask is a window too, read
    alongside).  Each correlation a treatment runs is a :class:`_Part` that
    computes strips aligned to its own method's granularity, so every strip
    holds exactly the whole result's rows.  With ``propagate``, a strip whose
    rows hold no non-finite value skips the count (it is 0 there), so a
    finite float image streams at the cost of a finite one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import numpy as np

from ..errors import ParameterError
from ._direct import EXACT_FLOAT32
from ._method import Method
from ._plan import Plan
from ._registry import resolve
from ._rows import RowWindow, derive

NanMode: TypeAlias = Literal["propagate", "ignore"]

NAN_MODES: tuple[str, ...] = ("propagate", "ignore")

#: a kernel whose |sum| is below this fraction of sum|k| cannot be normalised (``nan="ignore"``)
ZERO_SUM = 1e-6
#: kernels with negative weights: a denominator within this fraction of sum|k| of 0 is rounding noise
DENOMINATOR_ZERO = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
#: FFT and multi-term separable (absolute rounding): a weight sum below this fraction of sum|k| is summed
#: again tap by tap, so the ratio stays exact (~1e-9) beside large holes (astropy's ``normalization_zero_tol``)
RECOMPUTE_BELOW = 1e-5
#: products held at once while recomputing (float64 elements)
EXACT_CHUNK = 1 << 20


def check_nan(nan: object, nan_fill: object = None) -> tuple[str, float]:
    """The NaN mode and the fill value, checked; ``nan_fill`` None is NaN.

    Examples
    --------
    >>> check_nan("ignore", 0)
    ('ignore', 0.0)
    >>> check_nan("omit")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: nan must be 'propagate' or 'ignore', got 'omit'
    """
    if nan not in NAN_MODES:
        raise ParameterError(f"nan must be 'propagate' or 'ignore', got {nan!r}")
    if nan_fill is None:
        return str(nan), float("nan")
    try:
        fill = float(nan_fill)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"nan_fill must be a number, got {nan_fill!r}") from None
    return str(nan), fill


def check_normalizable(kernel: np.ndarray, *, label: str = "kernel") -> None:
    """Refuse a kernel whose weights sum to about 0: normalised convolution would divide by ~0.

    Examples
    --------
    >>> check_normalizable(np.array([[1.0, 0.0, -1.0]]))
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: nan='ignore' divides by the sum of the kernel's weights over valid pixels, \
but kernel sums to 0; use nan='propagate' (or fill the NaN first) for zero-sum kernels such as edge detectors
    """
    k = np.asarray(kernel, dtype=np.float64)
    total = float(k.sum())
    if abs(total) <= ZERO_SUM * float(np.abs(k).sum()):
        raise ParameterError(
            f"nan='ignore' divides by the sum of the kernel's weights over valid pixels, but {label} sums to "
            f"{total:.3g}; use nan='propagate' (or fill the NaN first) for zero-sum kernels such as edge detectors"
        )


def check_mask_shape(shape: tuple[int, ...], dtype: object, image_shape: tuple[int, ...]) -> None:
    """Refuse a mask (of this shape and dtype) that is not numbers of the image's height and width (and channels).

    Examples
    --------
    >>> check_mask_shape((3, 3), np.uint8, (2, 2))
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: mask is 3x3 (width x height) but the image is 2x2; give a mask of the image's size
    """
    from ..errors import ShapeError

    kind = np.dtype(dtype).kind  # type: ignore[call-overload]
    if kind not in "biuf" or len(shape) not in (2, 3):
        raise ParameterError(f"mask must be a 2-D array of numbers (non-zero = valid), got shape {tuple(shape)} "
                             f"and dtype {np.dtype(dtype)}")  # type: ignore[call-overload]
    h, w = image_shape[:2]
    c = image_shape[2] if len(image_shape) == 3 else 1
    if tuple(shape[:2]) != (h, w) or (len(shape) == 3 and shape[2] not in (1, c)):
        raise ShapeError(f"mask is {shape[1]}x{shape[0]} (width x height) but the image is {w}x{h}; "
                         "give a mask of the image's size")


def check_mask(mask: object, shape: tuple[int, ...]) -> np.ndarray:
    """The mask as a boolean array (True = valid) of the image's height and width (and channels, if 3-D).

    Examples
    --------
    >>> check_mask([[1, 0]], (1, 2, 3)).shape
    (1, 2, 1)
    """
    m = np.asarray(mask)
    check_mask_shape(m.shape, m.dtype, shape)
    return mask_validity(m)


def mask_validity(mask: np.ndarray) -> np.ndarray:
    """Rows of a mask (checked by :func:`check_mask_shape`) as valid pixels: non-zero, ``rows x W x 1`` or ``x C``."""
    valid = np.asarray(mask) != 0
    return valid if valid.ndim == 3 else valid[:, :, None]


class _Part:
    """One correlation a NaN treatment runs (data, weights or a count), in strips aligned to its own granularity.

    Strips of another method's granularity are widened to this one's (and
    the last block kept), so every part gives exactly its whole-image rows.
    """

    def __init__(self, plan: Plan, entry: Method) -> None:
        self.plan, self.entry = plan, entry
        self.unit = max(1, entry.granularity(plan))
        self._block: tuple[int, np.ndarray] | None = None

    def span(self, i0: int, i1: int) -> tuple[int, int]:
        """Output rows ``[i0, i1)`` widened to whole units."""
        return i0 // self.unit * self.unit, min(-(-i1 // self.unit) * self.unit, self.plan.out_hw[0])

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        if rows is None:
            return self.entry.run(self.plan)
        i0, i1 = rows
        a, b = self.span(i0, i1)
        if (a, b) == (i0, i1):
            return self.entry.run(self.plan, rows=rows)
        if self._block is None or not (self._block[0] <= i0 and i1 <= self._block[0] + len(self._block[1])):
            self._block = (a, self.entry.run(self.plan, rows=(a, b)))
        first, block = self._block
        return block[i0 - first : i1 - first].copy()


class _Run:
    """How to compute a plan's output rows, given the NaN treatment: ``run(rows)`` and ``granularity()``.

    ``parts`` lists every correlation it runs (the first is the data's), so a
    streamed image can load the rows each reads.
    """

    def __init__(self, plan: Plan, entry: Method) -> None:
        self.plan, self.entry = plan, entry
        self.parts = [_Part(plan, entry)]

    def granularity(self) -> int:
        return self.parts[0].unit

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        return self.parts[0].run(rows)


def _pattern_part(plan: Plan, indicator: Any, *, border_value: float) -> _Part:
    """What counts the ``indicator`` pixels under the kernel's non-zero taps, in float64."""
    pattern = (plan.kernel != 0).astype(np.float64)
    counted = dataclasses.replace(plan, kernel=pattern, image=indicator, dtype=np.dtype(np.float64),
                                  channels=int(indicator.shape[2]), border_value=border_value)
    return _Part(counted, resolve(counted, "auto"))


def _finite(image: object) -> object:
    """The finite pixels of a float image (an array, or a window of a streamed one), or None when all are."""
    if image.dtype.kind in "biu" or getattr(image, "finite", None) is True:  # type: ignore[attr-defined]
        return None
    if isinstance(image, RowWindow):  # known strip by strip
        return derive(np.isfinite, image)
    with np.errstate(invalid="ignore", over="ignore"):
        if np.isfinite(np.sum(image, dtype=np.float64)):  # type: ignore[call-overload]
            return None
    return np.isfinite(image)  # type: ignore[call-overload]


def _cleaned(dtype: np.dtype) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The data with its non-finite pixels set to 0, in ``dtype``."""
    def clean(image: np.ndarray, finite: np.ndarray) -> np.ndarray:
        if finite.all():
            return image.astype(dtype, copy=False)
        return np.where(finite, image, 0).astype(dtype)

    return clean


def _indicator(finite: np.ndarray) -> np.ndarray:
    return (~finite).view(np.uint8)


class _Propagating(_Run):
    """A method that would spread NaN, made exact: non-finite set to 0, then NaN where a tap read one.

    Strips whose rows hold no non-finite value (with a finite border) skip
    the count: it is 0 there.
    """

    def __init__(self, plan: Plan, entry: Method, finite: object) -> None:
        clean = derive(_cleaned(plan.dtype), plan.image, finite)
        self.finite_border = bool(np.isfinite(plan.border_value))
        super().__init__(dataclasses.replace(plan, image=clean, border_value=plan.border_value if self.finite_border
                                             else 0.0), entry)
        # a NaN constant border is missing data too: it counts through the border value
        self.indicator = derive(_indicator, finite)
        self.count = _pattern_part(plan, self.indicator, border_value=0.0 if self.finite_border else 1.0)
        self.parts.append(self.count)

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        out = self.parts[0].run(rows)
        if self.finite_border and isinstance(self.indicator, RowWindow) and not self.indicator.loaded_any():
            return out
        count = self.count.run(rows).reshape(out.shape)
        out[count > 0.5] = np.nan
        return out


def _valid_data(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.where(valid, image, 0)


def _weights(valid: np.ndarray) -> np.ndarray:
    return valid.view(np.uint8)


class _Normalized(_Run):
    """Normalised convolution (see the module notes)."""

    def __init__(self, plan: Plan, method: str, valid: object, fill: float) -> None:
        self.fill, self.work = fill, plan.dtype
        finite_border = bool(np.isfinite(plan.border_value))
        border_value = plan.border_value if finite_border else 0.0
        # box-like (every non-zero weight equal): the weight cancels, so sum the pixels and count them (counts)
        self.counts = _box_like(plan.kernel)
        self.integral = self.counts and _integral(plan, border_value)
        if self.counts:
            plan = dataclasses.replace(plan, kernel=(plan.kernel != 0).astype(np.float64))
        data = derive(_valid_data, plan.image, valid)
        data_plan = dataclasses.replace(plan, image=data, border_value=border_value)
        entry = resolve(data_plan, method)
        # a method whose rounding is absolute (of the order of sum|k|), not relative to the weights it adds
        self.absolute = not (entry.name == "direct" or (entry.name == "separable" and entry.keeps_nan(plan)))
        if plan.dtype != np.float64 and (self.absolute or (self.integral and _integer_bound(
                plan, border_value) >= EXACT_FLOAT32)):  # float64 arithmetic: exact beside holes, exact sums
            data_plan = dataclasses.replace(data_plan, dtype=np.dtype(np.float64))
        super().__init__(data_plan, entry)
        weights = dataclasses.replace(data_plan, image=derive(_weights, valid),
                                      channels=int(valid.shape[2]),  # type: ignore[attr-defined]
                                      border_value=1.0 if finite_border else 0.0)
        self.weights = _Part(weights, entry)
        self.parts.append(self.weights)
        signed = bool((plan.kernel < 0).any())
        total = float(np.abs(plan.kernel).sum())
        self.noise = DENOMINATOR_ZERO[plan.dtype] * total if signed else 0.0
        # below this weight sum an absolute method's ratio is rounding noise: those outputs are recomputed
        self.recompute_below = RECOMPUTE_BELOW * total
        self.count: _Part | None = None
        if signed and not self.absolute:
            # mixed signs: a weight sum can be about 0 with valid pixels seen; count them
            self.count = _pattern_part(weights, weights.image, border_value=weights.border_value)
            self.parts.append(self.count)

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        num = self.parts[0].run(rows)
        den = self.weights.run(rows)
        shape = num.shape
        num = num.reshape(*num.shape[:2], -1)
        den = den.reshape(*den.shape[:2], -1)
        if self.counts and self.absolute:  # integer sums, computed with absolute rounding: round them back
            den = np.rint(den)
            if self.integral:
                num = np.rint(num)
        if self.absolute:
            suspect = np.abs(den) < self.recompute_below
            if suspect.any():
                num, den = _recomputed(self.parts[0].plan, self.weights.plan, rows, num, den, suspect)
        empty = np.abs(den) <= self.noise
        if self.count is not None:
            count = self.count.run(rows)
            empty = empty | (count.reshape(den.shape) < 0.5)
        out = np.empty(num.shape, dtype=self.work)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked lanes may still raise the flags
            np.divide(num, den, out=out, where=~empty, casting="unsafe")
        np.copyto(out, np.broadcast_to(np.asarray(self.fill, dtype=self.work), out.shape),
                  where=np.broadcast_to(empty, out.shape))
        return out.reshape(shape) if rows is None else out


def _box_like(kernel: np.ndarray) -> bool:
    """Whether every non-zero weight of ``kernel`` is the same (a box, a disk): normalising cancels it."""
    weights = kernel[kernel != 0]
    return bool(weights.size) and bool(np.all(weights == weights[0]))


def _integral(plan: Plan, border_value: float) -> bool:
    """Whether every sample the plan reads is an integer (integer data; a constant border of an integer value)."""
    if np.dtype(plan.image.dtype).kind not in "biu":
        return False
    constant = bool(np.any(plan.cmap < 0) or np.any(plan.rmap < 0))
    return not constant or float(border_value).is_integer()


def _integer_bound(plan: Plan, border_value: float) -> float:
    """The largest |sum| of integer samples under the kernel's non-zero taps."""
    dtype = np.dtype(plan.image.dtype)
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.iinfo(np.uint8)
    peak = max(float(-int(info.min)), float(info.max), abs(border_value))
    return peak * float(np.count_nonzero(plan.kernel))


def _exact_row(plan: Plan, i: int, cols: np.ndarray) -> np.ndarray:
    """Output row ``i`` of ``plan`` at columns ``cols``, summed per pixel in float64: ``(len(cols), C)``.

    Each pixel's products are added in one fixed order, whatever else is
    recomputed with it, so strips and the whole image agree bit for bit.
    """
    (kh, kw), (sh, sw), (dh, dw) = plan.kernel.shape, plan.stride, plan.dilation
    r0 = i * sh
    buf = np.empty((plan.band_extent(1), plan.needed[1], plan.channels), dtype=np.float64)
    plan.gather(r0, r0 + buf.shape[0], 0, buf.shape[1], buf)
    span = (kw - 1) * dw + 1
    view = np.lib.stride_tricks.sliding_window_view(buf, span, axis=1)
    out = np.empty((len(cols), plan.channels), dtype=np.float64)
    step = max(1, EXACT_CHUNK // (kh * kw * plan.channels))
    for c0 in range(0, len(cols), step):  # a bounded number of products at once
        part = cols[c0 : c0 + step]
        windows = view[::dh, part * sw, :, ::dw]
        products = np.ascontiguousarray(windows.transpose(1, 2, 0, 3)).reshape(len(part), plan.channels, kh * kw)
        products *= plan.kernel.reshape(-1)
        out[c0 : c0 + step] = products.sum(axis=-1)
    return out


def _recomputed(data: Plan, weights: Plan, rows: tuple[int, int] | None, num: np.ndarray, den: np.ndarray,
                suspect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``num`` and ``den`` (``rows x W x C``) with the ``suspect`` pixels' values summed directly in float64.

    Beside a large hole the weight sum of a kernel's tail can be 1e-17 of its
    total, below the FFT's (or a multi-term separable pass's) rounding: the
    ratio there would be noise.  Those few outputs are computed tap by tap.
    """
    first = 0 if rows is None else rows[0]
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    for r in np.flatnonzero(suspect.any(axis=(1, 2))):
        cols = np.flatnonzero(suspect[r].any(axis=-1))
        num[r, cols] = _exact_row(data, first + int(r), cols)
        den[r, cols] = _exact_row(weights, first + int(r), cols)
    return num, den


def _ones(channels: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda image: np.ones((*image.shape[:2], channels), dtype=bool)


def runner(plan: Plan, method: str, *, nan: str = "propagate", nan_fill: object = None,
           mask: object = None) -> _Run:
    """What evaluates ``plan`` with this NaN treatment: ``.run(rows=None)``, ``.granularity()`` and ``.parts``.

    ``plan.image`` is an array or a :class:`~convcli.engine._rows.RowWindow`;
    with a window, ``mask`` is a window too (valid pixels, as
    :func:`mask_validity` gives), loaded alongside.

    Examples
    --------
    >>> from convcli.engine._plan import make_plan
    >>> image = np.array([[1.0, np.nan, 3.0]])
    >>> plan = make_plan(image, [[1, 1, 1]], flip=False, border="edge", border_value=0.0, pad="same",
    ...                  stride=1, dilation=1, anchor=None)
    >>> runner(plan, "fft").run()
    array([[nan, nan, nan]])
    >>> runner(plan, "direct", nan="ignore").run()
    array([[1., 2., 3.]])
    """
    mode, fill = check_nan(nan, nan_fill)
    if mode == "propagate" and mask is None:
        entry = resolve(plan, method)
        if entry.keeps_nan(plan):
            return _Run(plan, entry)
        finite = _finite(plan.image)
        if finite is None and np.isfinite(plan.border_value):
            return _Run(plan, entry)
        if finite is None:
            finite = derive(_ones(plan.channels), plan.image)
        return _Propagating(plan, entry, finite)
    check_normalizable(plan.kernel)
    valid = _finite(plan.image)
    if mask is not None:
        shown = mask if isinstance(mask, RowWindow) else check_mask(mask, (*plan.image.shape[:2], plan.channels))
        valid = shown if valid is None else derive(np.logical_and, valid, shown)
    if valid is None:
        valid = derive(_ones(1), plan.image)
    if isinstance(valid, np.ndarray):
        valid = np.ascontiguousarray(valid)
    return _Normalized(plan, method, valid, fill)
