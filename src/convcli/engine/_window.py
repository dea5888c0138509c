"""Correlating an image that is never held whole: its rows are loaded a band at a time.

:class:`StripCorrelation` computes any rows of one correlation's output, from
an array or from a ``read(r0, r1)`` callback (the rows of an earlier stage of
a chain, or of a tiled file).  A streamed image stands in the plan as a
:class:`~convcli.engine._rows.RowWindow`: before each strip the rows that strip
reads are loaded into it (and into the mask's window, read the same way), and
the NaN treatment's derived images (cleaned data, the non-finite indicator,
the valid weights) follow from those rows.  The plan keeps the whole image's
geometry (output size, padded index maps, FFT tiles, separable bands), so
every strip is computed exactly as the same rows of the whole-image result:
strips are aligned to the method's granularity, and the border rows are the
image's own rows found through the same index maps (``wrap`` reads rows from
the far end).

What methods learn from the whole image's values (``auto`` judging the FFT's
precision, separable passes checking for NaN) comes from one streamed pass
over the rows (:func:`~convcli.engine._rows.window_stats`), made only when
asked; whether a strip holds NaN is seen in its rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ._borders import padded_index_map, resolve_border
from ._fft import tile_rows_read
from ._nan import check_mask_shape, mask_validity, runner
from ._plan import Plan, check_image, check_kernel, geometry, make_plan, work_dtype
from ._rows import RowWindow
from ._threads import engine_threads, thread_count

__all__ = ["StripCorrelation"]

Reader = Callable[[int, int], np.ndarray]


class RowSource(Protocol):
    """What :class:`StripCorrelation` reads a mask from: ``shape``, ``dtype`` and ``read(r0, r1)``."""

    shape: tuple[int, ...]
    dtype: Any

    def read(self, r0: int, r1: int) -> np.ndarray: ...


def _window_plan(window: RowWindow, kernel: np.ndarray, *, flip: bool, border: str, border_value: float,
                 pad: object, stride: object, dilation: object, anchor: object) -> Plan:
    """A plan over ``window`` with the whole image's geometry (as :func:`make_plan` builds for an array)."""
    mode, value = resolve_border(border, border_value)
    h, w, c = window.shape
    k, pads, st, dil, out_hw = geometry((h, w), check_kernel(kernel), flip=flip, pad=pad, stride=stride,
                                        dilation=dilation, anchor=anchor)
    return Plan(kernel=k, dtype=work_dtype(window.dtype), channels=c, stride=st, dilation=dil, out_hw=out_hw,
                image=window, squeeze=False, border=mode, border_value=value, pads=pads,  # type: ignore[arg-type]
                rmap=padded_index_map(h, pads[0], pads[1], mode), cmap=padded_index_map(w, pads[2], pads[3], mode))


def _mask_window(mask: Any, shape: tuple[int, int, int]) -> RowWindow:
    """The valid pixels of a mask (an array or a row source), read by rows as the image is."""
    check_mask_shape(tuple(mask.shape), mask.dtype, shape)
    c = mask.shape[2] if len(mask.shape) == 3 else 1
    read: Reader = (lambda a, b: mask[a:b]) if isinstance(mask, np.ndarray) else mask.read
    return RowWindow((shape[0], shape[1], c), np.bool_, read=lambda a, b: mask_validity(read(a, b)), finite=True)


class StripCorrelation:
    """Any rows of one correlation's output, computed from an array or from rows read on demand.

    Parameters
    ----------
    source : ndarray or (shape, dtype, read)
        The whole image, or its ``(H, W, C)`` shape, dtype and a
        ``read(r0, r1)`` callback giving rows ``[r0, r1)`` (``H x W x C``).
    kernel, flip, border, border_value, pad, stride, dilation, method, anchor, threads, nan, nan_fill
        As in :func:`convcli.correlate`.
    mask : ndarray or row source, optional
        As in :func:`convcli.correlate` (non-zero = valid), or anything with
        ``shape``, ``dtype`` and ``read(r0, r1)`` (an image source): then it
        is read by rows alongside the image, never whole.
    finite : bool, optional
        Every value read is known to be finite (integer data always are):
        the strips need not look for NaN.
    work : dtype, optional
        Compute in (and return) this float dtype instead of the engine's
        :func:`~convcli.engine.work_dtype` (float64 for 16-bit samples that are
        rounded to integers afterwards).
    stats : (float, float, float), optional
        The streamed image's :func:`~convcli.engine._rows.window_stats`, when
        already known: no pass over its rows is made.

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
    >>> image[3, 2] = np.nan
    >>> whole = StripCorrelation(image, np.ones((3, 3)), method="fft", nan="ignore")
    >>> lazy = StripCorrelation(((8, 6, 1), image.dtype, lambda a, b: image[a:b]), np.ones((3, 3)),
    ...                         method="fft", nan="ignore")
    >>> np.array_equal(whole.rows(2, 5), lazy.rows(2, 5)), lazy.rows(2, 5).shape
    (True, (3, 6, 1))
    """

    def __init__(self, source: np.ndarray | tuple[tuple[int, int, int], np.dtype, Reader],
                 kernel: object, *, flip: bool = False, border: str = "reflect", border_value: float = 0.0,
                 pad: object = "same", stride: object = 1, dilation: object = 1, method: str = "auto",
                 anchor: object = None, threads: int | None = None, nan: str = "propagate",
                 nan_fill: float | None = None, mask: np.ndarray | RowSource | None = None,
                 finite: bool = False, work: Any = None, stats: Any = None) -> None:
        self.threads = thread_count(threads)
        arguments: dict[str, Any] = {"flip": flip, "border": border, "border_value": border_value, "pad": pad,
                                     "stride": stride, "dilation": dilation, "anchor": anchor}
        if not isinstance(source, tuple) and mask is not None and not isinstance(mask, np.ndarray):
            arr = check_image(source)  # an array with a streamed mask: read by rows too
            arr3 = arr[:, :, None] if arr.ndim == 2 else arr
            source = (arr3.shape, arr3.dtype, lambda a, b: arr3[a:b])
        self.window: RowWindow | None = None
        self.mask: RowWindow | None = None
        if isinstance(source, tuple):
            shape, dtype, read = source
            self.window = RowWindow(tuple(shape), np.dtype(dtype), read=read, finite=finite)  # type: ignore[arg-type]
            self.window._stats = stats  # the whole image's, when known (convcli.dask reduces them)
            self.plan = _window_plan(self.window, np.asarray(kernel), **arguments)
            if mask is not None:
                self.mask = _mask_window(mask, self.window.shape)
            shown: object = self.mask
        else:
            arr = check_image(source)
            self.plan = make_plan(arr[:, :, None] if arr.ndim == 2 else arr, kernel, **arguments)
            shown = mask
        if work is not None and np.dtype(work) != self.plan.dtype:
            self.plan = dataclasses.replace(self.plan, dtype=np.dtype(work))
        with engine_threads(self.threads):
            self.run = runner(self.plan, method, nan=nan, nan_fill=nan_fill, mask=shown)
            self.unit = self.run.granularity()
        self.out_hw = self.plan.out_hw
        self.channels = self.plan.channels
        self.method = self.run.entry.name

    def needed(self, i0: int, i1: int) -> tuple[int, int, list[int]]:
        """The image rows output rows [i0, i1) read: a band ``[a, b)`` and single rows outside it (the border's)."""
        assert self.window is not None
        plan, window = self.plan, self.window
        spans = [_padded_rows(part.plan, part.entry.name, *part.span(i0, i1)) for part in self.run.parts]
        r0, r1 = min(a for a, _ in spans), max(b for _, b in spans)
        top, h = plan.pads[0], window.shape[0]
        a, b = max(r0, top) - top, min(r1, top + h) - top
        return a, b, sorted({int(s) for s in plan.rmap[r0:r1] if s >= 0 and not a <= s < b})

    def _load(self, i0: int, i1: int) -> None:
        """Load into the windows every image row that output rows [i0, i1) read, for every part of the run."""
        a, b, wanted = self.needed(i0, i1)
        for target in (self.window, self.mask):
            if target is not None:
                rows = target.read(a, b) if b > a else np.empty((0, *target.shape[1:]), target.dtype)
                target.load(a, rows, {s: target.read(s, s + 1)[0] for s in wanted})

    def rows(self, i0: int, i1: int) -> np.ndarray:
        """Output rows ``[i0, i1)`` as ``(i1 - i0, W_out, C)`` (exactly those rows of the whole result)."""
        if self.window is not None:
            self._load(i0, i1)
        try:
            with engine_threads(self.threads):
                return self.run.run(rows=(i0, i1))
        finally:  # let every loaded and derived row go
            for image in {id(w): w for w in (self.window, self.mask, *(p.plan.image for p in self.run.parts))
                          if isinstance(w, RowWindow)}.values():
                image.release()


def _padded_rows(plan: Plan, method: str, i0: int, i1: int) -> tuple[int, int]:
    """The padded rows output rows [i0, i1) read (for the FFT: the whole tiles that cover them)."""
    if method == "fft":
        return tile_rows_read(plan, i0, i1)
    r0 = i0 * plan.stride[0]
    return r0, r0 + plan.band_extent(i1 - i0)
