"""Filtering a ``dask.array.Array``: :func:`correlate`, :func:`convolve` and :func:`pool`, lazy, exact for any chunking.

The result is a lazy dask array whose value equals, byte for byte, what
:func:`convcli.correlate` (or :func:`convcli.convolve`) returns for the whole
array in memory, whatever the input's chunks.  It is made of bands of output
rows, each a task of the engine's strip evaluation
(:class:`~convcli.engine._window.StripCorrelation`, the giant-image path's
mechanism): a band's task receives the input rows that band reads (its rows
plus the halo, found through the border's padded index maps, so ``wrap``
reads rows from the far end) and computes exactly those rows of the whole
result, with the whole image's geometry (output size, padding, FFT tiles,
separable bands).  What a method learns from the whole image's values (the
FFT's precision check, whether it holds NaN) comes from one dask reduction
(minimum, maximum and the same strided sample): computed when the graph is
built if ``method="auto"`` needs it to choose, a dependency of every band if
the separable passes need it, else not at all.

dask is imported here, and ``import convcli`` does not import this module.

Examples
--------
>>> import dask.array as da
>>> import numpy as np
>>> import convcli.dask
>>> image = np.arange(64.0).reshape(8, 8)
>>> lazy = convcli.dask.correlate(da.from_array(image, chunks=3), np.ones((3, 3)), border="wrap", stride=2)
>>> lazy.shape, bool(np.array_equal(lazy.compute(), convcli.correlate(image, np.ones((3, 3)), border="wrap",
...                                                                    stride=2)))
((4, 4), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine._plan import check_image
from .engine._rows import Stats, _summary, sample_step
from .engine._window import StripCorrelation
from .pooling import check_pool_op, pool_input_rows, pool_rows
from .shapes import ceil_div, pool_output_size, resolve_pool

__all__ = ["convolve", "correlate", "pool"]


class _Probe:
    """A stand-in reader while the graph is built: zeros, noting that the plan asked for rows (its statistics)."""

    def __init__(self, shape: tuple[int, int, int], dtype: np.dtype) -> None:
        self.shape, self.dtype, self.asked = shape, dtype, False

    def __call__(self, a: int, b: int) -> np.ndarray:
        self.asked = True
        return np.zeros((b - a, *self.shape[1:]), self.dtype)


def _summarize(lo: Any, hi: Any, sample: np.ndarray) -> Stats:
    """:func:`~convcli.engine._rows.window_stats`'s numbers from the reduced extremes and the sample."""
    return _summary(float(lo), float(hi), sample)


def _reader(a: int, band: np.ndarray, wanted: list[int], extra: np.ndarray | None) -> Any:
    """``read(r0, r1)`` over a band of rows starting at ``a`` and single rows ``wanted`` (``extra``)."""
    single = {row: extra[k] for k, row in enumerate(wanted)} if extra is not None else {}

    def read(r0: int, r1: int) -> np.ndarray:
        if a <= r0 and r1 <= a + band.shape[0]:
            return band[r0 - a : r1 - a]
        if r1 == r0 + 1 and r0 in single:
            return single[r0][None]
        raise RuntimeError(f"rows {r0}..{r1} were not given to this band")  # a bug: the band's rows are exact

    return read


def _band(band: np.ndarray, extra: np.ndarray | None, stats: Stats | None, *, a: int, wanted: list[int],
          i0: int, i1: int, shape: tuple[int, int, int], dtype: Any, kernel: np.ndarray,
          options: dict[str, Any]) -> np.ndarray:
    """Output rows ``[i0, i1)`` from the input rows they read (a dask task)."""
    strips = StripCorrelation((shape, dtype, _reader(a, band, wanted, extra)), kernel, stats=stats, **options)
    return strips.rows(i0, i1)


def _filter(array: Any, kernel: object, *, flip: bool, threads: int | None, **options: Any) -> Any:
    import dask
    import dask.array as da

    if not isinstance(array, da.Array):
        raise TypeError(f"convcli.dask takes a dask.array.Array, not {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ValueError(f"convcli.dask takes an H x W or H x W x C array, not {array.ndim}-D")
    flat = array.ndim == 2
    arr3 = array[:, :, None] if flat else array
    shape = (int(arr3.shape[0]), int(arr3.shape[1]), int(arr3.shape[2]))
    dtype = np.dtype(arr3.dtype)
    weights = np.asarray(kernel)
    options = {**options, "flip": flip, "threads": 1 if threads is None else threads}
    stats: Any = None
    if dtype.kind not in "biu":
        step = sample_step(shape[0], shape[1])
        stats = dask.delayed(_summarize)(arr3.min(), arr3.max(), arr3[::step, ::step])
    probe = _Probe(shape, dtype)
    plan = StripCorrelation((shape, dtype, probe), weights, **options)
    if probe.asked:  # method="auto" chooses from the whole image's values: reduce them now
        (stats,) = dask.compute(stats)
        plan = StripCorrelation((shape, dtype, probe), weights, stats=stats, **options)
    elif not any(part.entry.name == "separable" for part in plan.run.parts):
        stats = None  # only the separable passes ask, strip by strip, whether the whole image holds NaN
    out_h, out_w = plan.out_hw
    bands = max(1, len(arr3.chunks[0]))
    rows = max(plan.unit, ceil_div(ceil_div(out_h, bands), plan.unit) * plan.unit) if out_h else 1
    blocks = []
    for i0 in range(0, out_h, rows):
        i1 = min(i0 + rows, out_h)
        a, b, wanted = plan.needed(i0, i1)
        band = arr3[a:b] if b > a else np.empty((0, *shape[1:]), dtype)
        extra = arr3[np.asarray(wanted, dtype=np.intp)] if wanted else None
        task = dask.delayed(_band, pure=True)(band, extra, stats, a=a, wanted=wanted, i0=i0, i1=i1, shape=shape,
                                              dtype=dtype, kernel=weights, options=options)
        blocks.append(da.from_delayed(task, shape=(i1 - i0, out_w, plan.channels), dtype=plan.plan.dtype))
    if blocks:
        out = da.concatenate(blocks, axis=0)
    else:
        out = da.zeros((0, out_w, plan.channels), dtype=plan.plan.dtype)
    columns = max(1, ceil_div(out_w, max(1, len(arr3.chunks[1]))))
    out = out.rechunk({1: columns})
    return out[:, :, 0] if flat else out


def correlate(array: Any, kernel: object, *, border: str = "reflect", border_value: float = 0.0,
              pad: object = "same", stride: object = 1, dilation: object = 1, method: str = "auto",
              anchor: tuple[int, int] | None = None, threads: int | None = None, nan: str = "propagate",
              nan_fill: float | None = None) -> Any:
    """:func:`convcli.correlate` of a dask array, as a lazy dask array (equal byte for byte, any chunking).

    Parameters
    ----------
    array : dask.array.Array
        ``H x W`` or ``H x W x C``, chunked in any way.
    kernel, border, border_value, pad, stride, dilation, method, anchor, nan, nan_fill
        As in :func:`convcli.correlate` (every border, ``wrap`` included).
    threads : int, optional
        Engine threads inside each task (default 1: dask runs the tasks in parallel).

    Returns
    -------
    dask.array.Array
        The output, chunked in bands of rows (aligned to the method's
        granularity) and in about as many column chunks as the input.
    """
    return _filter(array, kernel, flip=False, border=border, border_value=border_value, pad=pad, stride=stride,
                   dilation=dilation, method=method, anchor=anchor, threads=threads, nan=nan, nan_fill=nan_fill)


def convolve(array: Any, kernel: object, *, border: str = "reflect", border_value: float = 0.0,
             pad: object = "same", stride: object = 1, dilation: object = 1, method: str = "auto",
             anchor: tuple[int, int] | None = None, threads: int | None = None, nan: str = "propagate",
             nan_fill: float | None = None) -> Any:
    """:func:`convcli.convolve` of a dask array, as a lazy dask array (equal byte for byte, any chunking).

    Parameters as in :func:`correlate`.
    """
    return _filter(array, kernel, flip=True, border=border, border_value=border_value, pad=pad, stride=stride,
                   dilation=dilation, method=method, anchor=anchor, threads=threads, nan=nan, nan_fill=nan_fill)


def _pool_band(band: np.ndarray, *, a: int, hw: tuple[int, int], window: tuple[int, int],
               stride: tuple[int, int], pad: tuple[int, int], out_hw: tuple[int, int], op: str,
               rows: tuple[int, int]) -> np.ndarray:
    """Output rows ``rows`` of a pooling from the input rows they read (a dask task)."""
    return pool_rows(band, a, hw, window, stride, pad, out_hw, op=op, rows=rows)


def pool(array: Any, size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None,
         op: str = "max", pad: int | tuple[int, int] = 0, ceil_mode: bool = False) -> Any:
    """:func:`convcli.pool` of a dask array, as a lazy dask array (equal byte for byte, any chunking).

    Bands of output rows, each computed from the input rows its windows read
    (:func:`convcli.pooling.pool_rows`, the streamed chain's pooling).

    Examples
    --------
    >>> import dask.array as da
    >>> x = np.arange(36.0).reshape(6, 6)
    >>> pool(da.from_array(x, chunks=4), 3, stride=2, op="mean", pad=1, ceil_mode=True).compute().shape
    (4, 4)
    """
    import dask
    import dask.array as da

    if not isinstance(array, da.Array):
        raise TypeError(f"convcli.dask takes a dask.array.Array, not {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ValueError(f"convcli.dask takes an H x W or H x W x C array, not {array.ndim}-D")
    check_pool_op(op)
    check_image(np.zeros((1,) * array.ndim, array.dtype))
    flat = array.ndim == 2
    arr3 = array[:, :, None] if flat else array
    hw = (int(arr3.shape[0]), int(arr3.shape[1]))
    window, step, padding = resolve_pool(size, stride=stride, pad=pad)
    out_hw = pool_output_size(hw, window, stride=step, pad=padding, ceil_mode=ceil_mode)
    dtype = np.dtype(np.float64 if arr3.dtype == np.float64 else np.float32)
    rows = max(1, ceil_div(out_hw[0], max(1, len(arr3.chunks[0]))))
    blocks = []
    for i0 in range(0, out_hw[0], rows):
        i1 = min(i0 + rows, out_hw[0])
        a, b = pool_input_rows(window, step, padding, (i0, i1), hw[0])
        band = arr3[a:b] if b > a else np.empty((0, hw[1], arr3.shape[2]), arr3.dtype)
        task = dask.delayed(_pool_band, pure=True)(band, a=a, hw=hw, window=window, stride=step, pad=padding,
                                                   out_hw=out_hw, op=op, rows=(i0, i1))
        blocks.append(da.from_delayed(task, shape=(i1 - i0, out_hw[1], arr3.shape[2]), dtype=dtype))
    out = da.concatenate(blocks, axis=0)
    out = out.rechunk({1: max(1, ceil_div(out_hw[1], max(1, len(arr3.chunks[1]))))})
    return out[:, :, 0] if flat else out
