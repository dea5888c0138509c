"""Rows of an image that is never held whole, and the whole-image statistics the methods learn from it.

A :class:`RowWindow` stands where a :class:`~convcli.engine._plan.Plan` keeps
its image: it has the whole image's shape and dtype, but holds only the rows
the next strip of output reads (loaded by
:class:`~convcli.engine._window.StripCorrelation` through the window's
``read(r0, r1)`` callback).  A :class:`DerivedWindow` is an element-wise
function of other windows' loaded rows (the NaN treatment's cleaned data,
the indicator of non-finite pixels, the valid weights): it is computed from
the rows they hold, once per load, so a derived image never exists whole
either.  :func:`derive` is the one way the engine makes a derived image: of
arrays it returns the array, of windows a window.

What a method learns from the whole image's values (``auto`` judging the
FFT's precision, separable passes checking for NaN) comes from
:func:`image_stats`: of an array, from the array; of a window, from one
streamed pass over its rows (:func:`window_stats`), the same numbers.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["DerivedWindow", "RowWindow", "Stats", "derive", "image_stats", "sample_step", "window_stats"]

#: ``(minimum, maximum, mean |x| of the sample)`` of a whole image (NaN minimum and maximum if it holds NaN)
Stats = tuple[float, float, float]

Reader = Callable[[int, int], np.ndarray]

_loads = itertools.count(1)


def sample_step(height: int, width: int) -> int:
    """The stride of the sample (every n-th row and column) whose mean magnitude judges the FFT's precision."""
    return max(1, int(np.sqrt(height * width / 65536)))


def _summary(lo: float, hi: float, sample: np.ndarray) -> Stats:
    """The statistics of an image from its extremes and its sample (no mean when an extreme is not finite)."""
    if not np.isfinite(lo + hi):
        return lo, hi, 0.0
    return lo, hi, float(np.abs(sample.astype(np.float64)).mean())


def window_stats(read: Reader, height: int, width: int, *, band: int = 256) -> Stats:
    """Minimum, maximum and sampled mean magnitude of an image read in bands of rows, as one whole-image pass.

    Equal to what :func:`image_stats` computes on the whole array: the same
    minimum and maximum (NaN when the image holds NaN), and the mean of the
    same sample.

    Examples
    --------
    >>> image = np.arange(12.0).reshape(4, 3) - 5
    >>> window_stats(lambda a, b: image[a:b], 4, 3, band=3)
    (-5.0, 6.0, 3.0)
    >>> image[2, 1] = np.nan
    >>> window_stats(lambda a, b: image[a:b], 4, 3, band=3)
    (nan, nan, 0.0)
    """
    step = sample_step(height, width)
    lo, hi = np.inf, -np.inf
    samples = []
    for r0 in range(0, height, band):
        rows = read(r0, min(r0 + band, height))
        low, high = float(rows.min()), float(rows.max())
        lo = lo if np.isnan(lo) else low if np.isnan(low) else min(lo, low)  # NaN stays, as the whole's min() does
        hi = hi if np.isnan(hi) else high if np.isnan(high) else max(hi, high)
        samples.append(rows[(-r0) % step :: step, ::step])
    return _summary(lo, hi, np.concatenate(samples, axis=0))


class RowWindow:
    """The rows of an image that the current strip reads; stands in for the array in a plan.

    Indexing supports what :meth:`Plan.gather` does: ``window[a:b]`` (rows of
    the image, which must be loaded) and ``window[row, columns]``.

    Parameters
    ----------
    shape : (int, int, int)
        The whole image's ``H x W x C``.
    dtype : numpy.dtype
    read : callable
        ``read(r0, r1)``: rows ``[r0, r1)`` of the image (``rows x W x C``).
    finite : bool
        Every value is known to be finite (integers always are).

    Examples
    --------
    >>> image = np.arange(12.0).reshape(4, 3, 1)
    >>> window = RowWindow(image.shape, image.dtype, read=lambda a, b: image[a:b], finite=True)
    >>> window.load(1, image[1:3], {0: image[0]})
    >>> window[1:3].shape, window[0, [2, 1]].ravel().tolist()
    ((2, 3, 1), [2.0, 1.0])
    """

    ndim = 3

    def __init__(self, shape: tuple[int, int, int], dtype: Any, *, read: Reader, finite: bool) -> None:
        self.shape = (int(shape[0]), int(shape[1]), int(shape[2]))
        self.dtype = np.dtype(dtype)
        self.read = read
        self.finite = finite or self.dtype.kind in "biu"
        self.generation = 0
        self._stats: Stats | None = None
        self._first = 0
        self._rows = np.empty((0, *self.shape[1:]), dtype=self.dtype)
        self._extra: dict[int, np.ndarray] = {}

    def stats(self) -> Stats:
        """The whole image's minimum, maximum and sampled mean magnitude (one streamed pass, computed once)."""
        if self._stats is None:
            self._stats = window_stats(self.read, self.shape[0], self.shape[1])
        return self._stats

    def load(self, first: int, rows: np.ndarray, extra: dict[int, np.ndarray]) -> None:
        """Hold image rows ``[first, first + len(rows))`` and single rows ``extra`` (row -> values)."""
        self._first, self._rows, self._extra = first, rows, extra
        self.generation = next(_loads)

    def stamp(self) -> tuple[int, ...]:
        """Changes whenever the rows this window holds (or derives from) are loaded anew."""
        return (self.generation,)

    def release(self) -> None:
        """Let the loaded rows go."""
        self.load(0, self._rows[:0], {})

    def loaded(self) -> tuple[int, np.ndarray, dict[int, np.ndarray]]:
        """The first loaded row, the loaded band and the single rows."""
        return self._first, self._rows, self._extra

    def loaded_any(self) -> bool:
        """Whether any loaded value is non-zero (True)."""
        _, rows, extra = self.loaded()
        return bool(rows.any()) or any(bool(row.any()) for row in extra.values())

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rows, extra = self.loaded()
        if isinstance(key, slice):
            a, b = key.start, key.stop
            if a < first or b - first > rows.shape[0]:
                raise RuntimeError(f"rows {a}..{b} of the streamed image were not loaded")
            return rows[a - first : b - first]
        index, columns = key
        local = int(index) - first
        if 0 <= local < rows.shape[0]:
            return rows[local][columns]
        if int(index) in extra:
            return extra[int(index)][columns]
        raise RuntimeError(f"row {index} of the streamed image was not loaded")


class DerivedWindow(RowWindow):
    """An element-wise function of the same rows of other windows, computed once per load of theirs."""

    def __init__(self, func: Callable[..., np.ndarray], inputs: tuple[RowWindow, ...], *, shape: tuple[int, int, int],
                 dtype: Any, finite: bool) -> None:
        self.func, self.inputs = func, inputs
        super().__init__(shape, dtype, read=lambda a, b: func(*(w.read(a, b) for w in inputs)), finite=finite)
        self._seen: tuple[int, ...] = ()
        self._lock = threading.Lock()

    def stamp(self) -> tuple[int, ...]:
        return tuple(g for w in self.inputs for g in w.stamp())

    def release(self) -> None:
        """Let the derived rows go, and the rows of the windows they come from."""
        with self._lock:
            self._rows, self._extra, self._seen = self._rows[:0], {}, ()
        for window in self.inputs:
            window.release()

    def loaded(self) -> tuple[int, np.ndarray, dict[int, np.ndarray]]:
        with self._lock:  # a method's bands may ask from several threads at once
            seen = self.stamp()
            if seen != self._seen:
                parts = [w.loaded() for w in self.inputs]
                first, _, extra = parts[0]
                if any(p[0] != first or p[2].keys() != extra.keys() for p in parts):
                    raise RuntimeError("the windows a derived image reads hold different rows")
                rows = self.func(*(p[1] for p in parts))
                self._first, self._rows = first, rows
                self._extra = {r: self.func(*(p[2][r][None] for p in parts))[0] for r in extra}
                self._seen = seen
            return self._first, self._rows, self._extra


def derive(func: Callable[..., np.ndarray], *images: Any, finite: bool = True) -> Any:
    """``func`` of the images, element-wise by rows: an array of arrays, a :class:`DerivedWindow` of windows.

    The result's dtype and channels are ``func``'s on one pixel.

    Examples
    --------
    >>> image = np.array([[[1.0], [np.nan]]])
    >>> derive(np.isfinite, image).ravel().tolist()
    [True, False]
    >>> window = RowWindow(image.shape, image.dtype, read=lambda a, b: image[a:b], finite=False)
    >>> finite = derive(np.isfinite, window)
    >>> window.load(0, image, {})
    >>> finite.dtype, finite[0:1].ravel().tolist()
    (dtype('bool'), [True, False])
    """
    windows = [isinstance(image, RowWindow) for image in images]
    if not any(windows):
        return func(*images)
    if not all(windows):
        raise TypeError("derive() takes arrays or windows, not both")
    probe = func(*(np.zeros((1, 1, image.shape[2]), image.dtype) for image in images))
    h, w = images[0].shape[:2]
    return DerivedWindow(func, images, shape=(h, w, int(probe.shape[2])), dtype=probe.dtype, finite=finite)


def image_stats(image: Any) -> Stats:
    """:func:`window_stats` of a window; of an array, the same numbers from the array.

    Examples
    --------
    >>> image_stats(np.arange(12.0).reshape(4, 3, 1) - 5)
    (-5.0, 6.0, 3.0)
    """
    if isinstance(image, RowWindow):
        return image.stats()
    lo, hi = float(image.min()), float(image.max())
    step = sample_step(*image.shape[:2])
    return _summary(lo, hi, image[::step, ::step])
