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
    too.  The FFT
    computes both correlations with float64 transforms, so the ratio stays
    accurate beside holes (float32 transforms lose about 0.4 % there).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, TypeAlias

import numpy as np

from ..errors import ParameterError
from ._method import Method
from ._plan import Plan
from ._registry import resolve

NanMode: TypeAlias = Literal["propagate", "ignore"]

NAN_MODES: tuple[str, ...] = ("propagate", "ignore")

#: a kernel whose |sum| is below this fraction of sum|k| cannot be normalised (``nan="ignore"``)
ZERO_SUM = 1e-6
#: kernels with negative weights: a denominator within this fraction of sum|k| of 0 is rounding noise
DENOMINATOR_ZERO = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


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


def check_mask(mask: object, shape: tuple[int, ...]) -> np.ndarray:
    """The mask as a boolean array (True = valid) of the image's height and width (and channels, if 3-D).

    Examples
    --------
    >>> check_mask([[1, 0]], (1, 2, 3)).shape
    (1, 2, 1)
    >>> check_mask(np.ones((3, 3)), (2, 2))
    Traceback (most recent call last):
    ...
    convcli.errors.ShapeError: mask is 3x3 (width x height) but the image is 2x2; give a mask of the image's size
    """
    from ..errors import ShapeError

    m = np.asarray(mask)
    if m.dtype.kind not in "biuf" or m.ndim not in (2, 3):
        raise ParameterError(f"mask must be a 2-D array of numbers (non-zero = valid), got shape {m.shape} "
                             f"and dtype {m.dtype}")
    h, w = shape[:2]
    c = shape[2] if len(shape) == 3 else 1
    if m.shape[:2] != (h, w) or (m.ndim == 3 and m.shape[2] not in (1, c)):
        raise ShapeError(f"mask is {m.shape[1]}x{m.shape[0]} (width x height) but the image is {w}x{h}; "
                         "give a mask of the image's size")
    valid = m != 0
    return valid if valid.ndim == 3 else valid[:, :, None]


class _Run:
    """How to compute a plan's output rows, given the NaN treatment: ``run(rows)`` and ``granularity()``."""

    def __init__(self, plan: Plan, entry: Method) -> None:
        self.plan, self.entry = plan, entry

    def granularity(self) -> int:
        return self.entry.granularity(self.plan)

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        return self.entry.run(self.plan, rows=rows)


def _pattern_plan(plan: Plan, indicator: np.ndarray, *, border_value: float) -> tuple[Plan, Method]:
    """The plan (and method) counting the ``indicator`` pixels under the kernel's non-zero taps, in float64."""
    pattern = (plan.kernel != 0).astype(np.float64)
    counted = dataclasses.replace(plan, kernel=pattern, image=indicator, dtype=np.dtype(np.float64),
                                  channels=int(indicator.shape[2]), border_value=border_value)
    return counted, resolve(counted, "auto")


def _finite(image: np.ndarray) -> np.ndarray | None:
    """The finite pixels of a float image, or None when all of them are (integers always are)."""
    if image.dtype.kind in "biu" or getattr(image, "finite", None) is True:  # a RowWindow knows
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        if np.isfinite(np.sum(image, dtype=np.float64)):
            return None
    return np.isfinite(image)


class _Propagating(_Run):
    """A method that would spread NaN, made exact: non-finite set to 0, then NaN where a tap read one."""

    def __init__(self, plan: Plan, entry: Method, finite: np.ndarray) -> None:
        clean = np.where(finite, plan.image, 0).astype(plan.dtype)
        finite_border = bool(np.isfinite(plan.border_value))
        super().__init__(dataclasses.replace(plan, image=clean, border_value=plan.border_value if finite_border
                                             else 0.0), entry)
        # a NaN constant border is missing data too: it counts through the border value
        self.counted, self.counter = _pattern_plan(plan, (~finite).view(np.uint8),
                                                   border_value=0.0 if finite_border else 1.0)

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        out = super().run(rows)
        count = self.counter.run(self.counted, rows=rows).reshape(out.shape)
        out[count > 0.5] = np.nan
        return out


class _Normalized(_Run):
    """Normalised convolution (see the module notes)."""

    def __init__(self, plan: Plan, method: str, valid: np.ndarray, fill: float) -> None:
        self.fill, self.work = fill, plan.dtype
        finite_border = bool(np.isfinite(plan.border_value))
        data = np.where(valid, plan.image, 0)
        data_plan = dataclasses.replace(plan, image=data, border_value=plan.border_value if finite_border else 0.0)
        entry = resolve(data_plan, method)
        if entry.name == "fft" and plan.dtype != np.float64:  # float64 transforms: exact beside the holes
            data_plan = dataclasses.replace(data_plan, dtype=np.dtype(np.float64))
        super().__init__(data_plan, entry)
        weights = dataclasses.replace(data_plan, image=valid.view(np.uint8), channels=int(valid.shape[2]),
                                      border_value=1.0 if finite_border else 0.0)
        self.weights = weights
        exact_zero = entry.name == "direct" or (entry.name == "separable" and entry.keeps_nan(plan))
        signed = bool((plan.kernel < 0).any())
        self.noise = DENOMINATOR_ZERO[plan.dtype] * float(np.abs(plan.kernel).sum()) if signed else 0.0
        self.counted: Plan | None = None
        self.counter: Method | None = None
        if not exact_zero or signed:
            # the weights' sum is not exactly 0 where no valid pixel is seen (FFT rounding, mixed signs): count
            self.counted, self.counter = _pattern_plan(weights, valid.view(np.uint8),
                                                       border_value=weights.border_value)

    def run(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        num = self.entry.run(self.plan, rows=rows)
        den = self.entry.run(self.weights, rows=rows)
        shape = num.shape
        num = num.reshape(*num.shape[:2], -1)
        den = den.reshape(*den.shape[:2], -1)
        empty = np.abs(den) <= self.noise
        if self.counter is not None and self.counted is not None:
            count = self.counter.run(self.counted, rows=rows)
            empty = empty | (count.reshape(den.shape) < 0.5)
        out = np.empty(num.shape, dtype=self.work)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked lanes may still raise the flags
            np.divide(num, den, out=out, where=~empty, casting="unsafe")
        np.copyto(out, np.broadcast_to(np.asarray(self.fill, dtype=self.work), out.shape),
                  where=np.broadcast_to(empty, out.shape))
        return out.reshape(shape) if rows is None else out


def runner(plan: Plan, method: str, *, nan: str = "propagate", nan_fill: object = None,
           mask: object = None) -> _Run:
    """What evaluates ``plan`` with this NaN treatment: ``.run(rows=None)`` and ``.granularity()``.

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
            finite = np.ones(plan.image.shape, dtype=bool)
        return _Propagating(plan, entry, finite)
    check_normalizable(plan.kernel)
    valid = _finite(plan.image)
    if mask is not None:
        shown = check_mask(mask, (*plan.image.shape[:2], plan.channels))
        valid = shown if valid is None else valid & shown
    if valid is None:
        valid = np.ones((*plan.image.shape[:2], 1), dtype=bool)
    return _Normalized(plan, method, np.ascontiguousarray(valid), fill)
