"""Correlating an image that is never held whole: its rows are loaded a band at a time.

A :class:`RowWindow` stands where a :class:`~convcli.engine._plan.Plan` keeps
its image: it has the whole image's shape and dtype, but holds only the rows
the next strip of output reads (loaded by :class:`StripCorrelation` from a
``read(r0, r1)`` callback, the rows of an earlier stage of a chain or of a
tiled file).  The plan keeps the whole image's geometry (output size, padded
index maps, FFT tiles, separable bands), so every strip is computed exactly as
the same rows of the whole-image result: strips are aligned to the method's
granularity, and the border rows are the image's own rows found through the
same index maps (``wrap`` reads rows from the far end).

What methods learn from the whole image's values, they learn here from what
the caller knows: whether every value is finite (integer sources and chains
of finite operations are) and, only when ``auto`` must judge the FFT's
precision on float data, the image's minimum, maximum and sampled mean,
computed by a separate pass (:func:`window_stats`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._nan import runner
from ._plan import Plan, check_image, check_kernel, geometry, work_dtype
from ._threads import engine_threads, thread_count

__all__ = ["RowWindow", "StripCorrelation", "sample_step", "window_stats"]

#: ``(minimum, maximum, mean |x| of the sample)`` of a whole image
Stats = tuple[float, float, float]


def sample_step(height: int, width: int) -> int:
    """The stride of the sample (every n-th row and column) whose mean magnitude judges the FFT's precision."""
    return max(1, int(np.sqrt(height * width / 65536)))


def window_stats(read: Callable[[int, int], np.ndarray], height: int, width: int, *, band: int = 256) -> Stats:
    """Minimum, maximum and sampled mean magnitude of an image read in bands of rows, as one whole-image pass.

    Equal to what :func:`convcli.engine._fft.refuses` computes on the whole
    array: the same minimum and maximum, and the mean of the same sample.

    Examples
    --------
    >>> image = np.arange(12.0).reshape(4, 3) - 5
    >>> window_stats(lambda a, b: image[a:b], 4, 3, band=3)
    (-5.0, 6.0, 3.0)
    """
    step = sample_step(height, width)
    lo, hi = np.inf, -np.inf
    samples = []
    for r0 in range(0, height, band):
        rows = read(r0, min(r0 + band, height))
        lo, hi = min(lo, float(rows.min())), max(hi, float(rows.max()))
        first = (-r0) % step
        samples.append(rows[first::step, ::step])
    sample = np.concatenate(samples, axis=0)
    return lo, hi, float(np.abs(sample.astype(np.float64)).mean())


class RowWindow:
    """The rows of an image that the current strip reads; stands in for the array in a plan.

    Indexing supports what :meth:`Plan.gather` does: ``window[a:b]`` (rows of
    the image, which must be loaded) and ``window[row, columns]``.
    """

    ndim = 3

    def __init__(self, shape: tuple[int, int, int], dtype: np.dtype, *, finite: bool,
                 stats: Callable[[], Stats] | None = None) -> None:
        self.shape = shape
        self.dtype = dtype
        self.finite = finite
        self._stats_of = stats
        self._stats: Stats | None = None
        self._first = 0
        self._rows = np.empty((0, *shape[1:]), dtype=dtype)
        self._extra: dict[int, np.ndarray] = {}

    def stats(self) -> Stats:
        """The whole image's minimum, maximum and sampled mean magnitude (one extra pass, computed once)."""
        if self._stats is None:
            if self._stats_of is None:
                raise RuntimeError("this streamed image's statistics are not known")
            self._stats = self._stats_of()
        return self._stats

    def load(self, first: int, rows: np.ndarray, extra: dict[int, np.ndarray]) -> None:
        """Hold image rows ``[first, first + len(rows))`` and single rows ``extra`` (row -> values)."""
        self._first, self._rows, self._extra = first, rows, extra

    def _row(self, index: int) -> np.ndarray:
        local = index - self._first
        if 0 <= local < self._rows.shape[0]:
            return self._rows[local]
        if index in self._extra:
            return self._extra[index]
        raise RuntimeError(f"row {index} of the streamed image was not loaded")

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            a, b = key.start, key.stop
            if a < self._first or b - self._first > self._rows.shape[0]:
                raise RuntimeError(f"rows {a}..{b} of the streamed image were not loaded")
            return self._rows[a - self._first : b - self._first]
        row, columns = key
        return self._row(int(row))[columns]


def _window_plan(window: RowWindow, kernel: np.ndarray, *, flip: bool, border: str, border_value: float,
                 pad: object, stride: object, dilation: object, anchor: object) -> Plan:
    """A plan over ``window`` with the whole image's geometry (as :func:`make_plan` builds for an array)."""
    from ._borders import padded_index_map, resolve_border

    mode, value = resolve_border(border, border_value)
    h, w, c = window.shape
    k, pads, st, dil, out_hw = geometry((h, w), check_kernel(kernel), flip=flip, pad=pad, stride=stride,
                                        dilation=dilation, anchor=anchor)
    return Plan(kernel=k, dtype=work_dtype(window.dtype), channels=c, stride=st, dilation=dil, out_hw=out_hw,
                image=window, squeeze=False, border=mode, border_value=value, pads=pads,  # type: ignore[arg-type]
                rmap=padded_index_map(h, pads[0], pads[1], mode), cmap=padded_index_map(w, pads[2], pads[3], mode))


class StripCorrelation:
    """Any rows of one correlation's output, computed from an array or from rows read on demand.

    Parameters
    ----------
    source : ndarray or (shape, dtype, read)
        The whole image, or its ``(H, W, C)`` shape, dtype and a
        ``read(r0, r1)`` callback giving rows ``[r0, r1)`` (``H x W x C``).
    kernel, flip, border, border_value, pad, stride, dilation, method, anchor, threads, nan, nan_fill, mask
        As in :func:`convcli.correlate` (``nan``, ``nan_fill`` and ``mask``
        need an array source).
    finite : bool, optional
        Every value read is finite (required for a callback source; integer
        data always are).
    stats : callable, optional
        For a float callback source: computes :func:`window_stats`, called
        only if ``auto`` must judge the FFT's precision.

    Attributes
    ----------
    out_hw : (int, int)
        The whole output's size.
    channels : int
    unit : int
        Strips aligned to this many rows are computed exactly as the whole.
    method : str
        The method evaluating it.

    Examples
    --------
    >>> image = np.arange(48, dtype=np.float32).reshape(8, 6, 1)
    >>> whole = StripCorrelation(image, np.ones((3, 3)), method="direct")
    >>> lazy = StripCorrelation(((8, 6, 1), image.dtype, lambda a, b: image[a:b]), np.ones((3, 3)),
    ...                         method="direct", finite=True)
    >>> np.array_equal(whole.rows(2, 5), lazy.rows(2, 5)), lazy.rows(2, 5).shape
    (True, (3, 6, 1))
    """

    def __init__(self, source: np.ndarray | tuple[tuple[int, int, int], np.dtype, Callable[[int, int], np.ndarray]],
                 kernel: object, *, flip: bool = False, border: str = "reflect", border_value: float = 0.0,
                 pad: object = "same", stride: object = 1, dilation: object = 1, method: str = "auto",
                 anchor: object = None, threads: int | None = None, nan: str = "propagate",
                 nan_fill: float | None = None, mask: np.ndarray | None = None, finite: bool = False,
                 stats: Callable[[], Stats] | None = None) -> None:
        from ._plan import make_plan

        self.threads = thread_count(threads)
        self.read: Callable[[int, int], np.ndarray] | None = None
        if isinstance(source, tuple):
            shape, dtype, self.read = source
            self.window: RowWindow | None = RowWindow(tuple(shape), np.dtype(dtype),  # type: ignore[arg-type]
                                                      finite=finite or np.dtype(dtype).kind in "biu", stats=stats)
            if not self.window.finite:
                raise ValueError("a streamed source must be known to hold only finite values")
            self.plan = _window_plan(self.window, np.asarray(kernel), flip=flip, border=border,
                                     border_value=border_value, pad=pad, stride=stride, dilation=dilation,
                                     anchor=anchor)
        else:
            arr = check_image(source)
            self.window = None
            self.plan = make_plan(arr[:, :, None] if arr.ndim == 2 else arr, kernel, flip=flip, border=border,
                                  border_value=border_value, pad=pad, stride=stride, dilation=dilation,
                                  anchor=anchor)
        with engine_threads(self.threads):
            self.run = runner(self.plan, method, nan=nan, nan_fill=nan_fill, mask=mask)
            self.unit = max(1, self.run.granularity())
        self.out_hw = self.plan.out_hw
        self.channels = self.plan.channels
        self.method = getattr(getattr(self.run, "entry", None), "name", method)

    def _load(self, i0: int, i1: int) -> None:
        """Load into the window every image row that output rows [i0, i1) read."""
        assert self.window is not None and self.read is not None
        plan = self.plan
        r0, r1 = _padded_rows(plan, self.method, i0, i1)
        top, h = plan.pads[0], self.window.shape[0]
        a, b = max(r0, top) - top, min(r1, top + h) - top
        rows = self.read(a, b) if b > a else np.empty((0, *self.window.shape[1:]), self.window.dtype)
        wanted = {int(s) for s in plan.rmap[r0:r1] if s >= 0 and not a <= s < b}
        extra = {s: self.read(s, s + 1)[0] for s in sorted(wanted)}
        self.window.load(a, rows, extra)

    def rows(self, i0: int, i1: int) -> np.ndarray:
        """Output rows ``[i0, i1)`` as ``(i1 - i0, W_out, C)`` (exactly those rows of the whole result)."""
        if self.window is not None:
            self._load(i0, i1)
        with engine_threads(self.threads):
            out = self.run.run(rows=(i0, i1))
        if self.window is not None:
            self.window.load(0, self.window._rows[:0], {})  # let the rows go
        return out


def _padded_rows(plan: Plan, method: str, i0: int, i1: int) -> tuple[int, int]:
    """The padded rows output rows [i0, i1) read (for the FFT: the whole tiles that cover them)."""
    if method == "fft":
        from ._fft import tile_rows_read

        return tile_rows_read(plan, i0, i1)
    r0 = i0 * plan.stride[0]
    return r0, r0 + plan.band_extent(i1 - i0)
