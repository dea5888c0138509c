"""Direct evaluation: shift-and-add over the kernel's non-zero taps.

The output is computed in row bands sized to stay in cache; each band gathers
its rows of the padded image once (converting to the work dtype), then adds
one shifted, strided view per tap with in-place ufuncs.  Taps that share a
weight are summed first and multiplied once (symmetric kernels pair up, a box
multiplies once), and weights of +1/-1 need no multiply at all.  Bands run on
the shared thread pool.  Memory is the output plus a few band buffers, never
K² times the image.

**Integer path.**  An 8- or 16-bit image under a kernel of integer weights
(Sobel, Laplacian, an inline sharpen ``0 -1 0; -1 5 -1; 0 -1 0``, a ``.mat``
of integers) or of one repeated weight
(a box) is added up in int16 when every partial sum fits (255 · Σ|k| ≤ 32767
for 8-bit samples), else in int32, and converted to the float result once per
band (a box's one weight multiplies then, as the float path does).  While the
largest possible sum stays below 2**24 every float32 partial sum is an exact
integer too, so the result is the float path's, bit for bit (that bound is a
condition of the integer path); it moves half the bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from . import _cost_constants as K
from ._cost import call_seconds
from ._method import Method
from ._plan import Plan, Problem
from ._scratch import scratch
from ._threads import run_parallel, worth_threads

#: elements of one band's work buffer; tuned by benchmarks/fit_cost_model.py
BAND_ELEMENTS = 1 << 18


def weight_groups(weights: np.ndarray) -> list[tuple[float, list[tuple[int, ...]]]]:
    """Non-zero taps grouped by equal weight, biggest groups first.

    Examples
    --------
    >>> weight_groups(np.array([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]]))
    [(1.0, [(0, 1), (1, 0), (1, 2), (2, 1)]), (-4.0, [(1, 1)])]
    """
    index = np.argwhere(weights != 0)
    if index.size == 0:
        return []
    values = weights[tuple(index.T)]
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    order = sorted(range(len(unique)), key=lambda g: (-int(counts[g]), g))
    taps = [tuple(int(i) for i in row) for row in index]
    members: list[list[tuple[int, ...]]] = [[] for _ in unique]
    for tap, group in zip(taps, inverse.ravel(), strict=True):
        members[group].append(tap)
    return [(float(unique[g]), members[g]) for g in order]


def pass_count(weights: np.ndarray) -> int:
    """Memory passes the shift-and-add makes for these weights (for the cost model).

    Remembered per set of weights: ``auto`` asks for every kernel and factor
    several times a call, and a small image's whole filtering takes less than
    a millisecond.

    Examples
    --------
    >>> pass_count(np.array([[1., 2., 1.]]))
    4
    """
    values = np.ascontiguousarray(weights, dtype=np.float64)
    return _pass_count(values.tobytes())


@functools.lru_cache(maxsize=4096)
def _pass_count(data: bytes) -> int:
    values = np.frombuffer(data, dtype=np.float64)
    values = values[values != 0]
    if values.size == 0:
        return 1
    unique = np.unique(values, return_counts=True)[0]  # (plain np.unique imports numpy.ma: 10 ms of start-up)
    return int(values.size + np.count_nonzero(np.abs(unique) != 1.0))


def accumulate(out: np.ndarray, views: Sequence[tuple[float, Sequence[np.ndarray]]], tmp: np.ndarray) -> None:
    """``out = sum(w * sum(group))`` over groups of equally weighted views, in place.

    ``tmp`` is scratch of ``out``'s shape.  An empty list of groups gives zeros.
    """
    if not views:
        out[...] = 0
        return
    first = True
    for w, group in views:
        target = out if first else tmp
        if len(group) == 1:
            if w == 1.0:
                np.copyto(target, group[0])
            elif w == -1.0 and not first:
                np.subtract(out, group[0], out=out)
                continue
            else:
                np.multiply(group[0], w, out=target)
        else:
            np.add(group[0], group[1], out=target)
            for view in group[2:]:
                np.add(target, view, out=target)
            if w == -1.0 and not first:
                np.subtract(out, target, out=out)
                continue
            if w != 1.0:
                np.multiply(target, w, out=target)
        if not first:
            np.add(out, tmp, out=out)
        first = False


def band_rows(plan: Problem, width: int, rows_total: int, *, multiple: int = 1, always_split: bool = False) -> int:
    """Output rows per band: about BAND_ELEMENTS work elements, and at least 8 bands on big images.

    The result depends only on the problem, never on the thread count, so a
    result is bit-for-bit the same whatever ``threads`` is.  ``multiple``
    rounds the band to whole blocks of a blocked method.  An image whose work
    is too small for threads (:func:`~._threads.worth_threads`) stays one band:
    handing bands to the pool would cost more than it saves, unless ``always_split`` (a method
    whose arithmetic depends on where bands start, or the strip granularity
    of one whose arithmetic does not).
    """
    per_row = max(1, width * plan.channels * max(plan.stride[0], 1))
    rows = max(1, BAND_ELEMENTS // per_row)
    if rows_total >= 16 * multiple and (always_split or worth_threads(rows_total * per_row)):
        rows = min(rows, max(1, rows_total // 8))
    if multiple > 1:
        rows = max(multiple, rows // multiple * multiple)
    return min(rows, rows_total)


def band_ranges(rows_total: int, step: int, rows: tuple[int, int]) -> list[tuple[int, int]]:
    """The bands of ``step`` output rows that meet ``rows``, clipped to it.

    Examples
    --------
    >>> band_ranges(10, 4, (3, 10))
    [(3, 4), (4, 8), (8, 10)]
    """
    first, last = rows
    return [
        (max(i0, first), min(i0 + step, rows_total, last))
        for i0 in range(0, rows_total, step)
        if i0 < last and i0 + step > first
    ]


#: the largest sum float32 holds exactly (2**24): below it the integer path gives the float path's bits
EXACT_FLOAT32 = 1 << 24


def integer_work(plan: Plan) -> tuple[np.dtype, list[tuple[float, list[tuple[int, ...]]]], float] | None:
    """How to add this plan up in integers exactly: (integer dtype, integer weight groups, final factor), or None.

    Examples
    --------
    >>> from functools import partial
    >>> from convcli.engine._plan import make_plan
    >>> plan = partial(make_plan, flip=False, border="reflect", border_value=0.0, pad="same", stride=1,
    ...                dilation=1, anchor=None)
    >>> image = np.zeros((8, 8), np.uint8)
    >>> sobel = np.array([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    >>> integer_work(plan(image, sobel))[0], integer_work(plan(image, np.full((3, 3), 1 / 9)))[2]
    (dtype('int16'), 0.1111111111111111)
    >>> integer_work(plan(image.astype(np.float32), sobel)) is None  # float data: the float path
    True
    """
    memo = plan.memo
    if "direct.integer" in memo:
        found: tuple[np.dtype, list[tuple[float, list[tuple[int, ...]]]], float] | None = memo["direct.integer"]
        return found
    memo["direct.integer"] = None
    source = np.dtype(plan.image.dtype)
    if source.kind not in "iu" or source.itemsize > 2 or plan.dtype not in (np.float32, np.float64):
        return None
    weights = plan.kernel[plan.kernel != 0]
    if weights.size == 0 or not np.all(np.isfinite(weights)):
        return None
    factor = 1.0
    if not np.all(weights == np.round(weights)):
        if not np.all(weights == weights[0]):
            return None  # neither integers nor one weight: the float path
        factor = float(weights[0])
        kernel = (plan.kernel != 0).astype(np.float64)
    else:
        kernel = plan.kernel
    info = np.iinfo(source)
    peak = float(max(-int(info.min), int(info.max)))
    value = plan.border_value
    if np.any(plan.cmap < 0) or np.any(plan.rmap < 0):  # a constant border: its value is a sample too
        if not (np.isfinite(value) and value == round(value)) or not info.min <= value <= info.max:
            return None
    bound = peak * float(np.abs(kernel).sum())
    limit = EXACT_FLOAT32 if plan.dtype == np.float32 else 1 << 31
    if bound >= min(limit, 1 << 31):
        return None
    work = np.dtype(np.int16) if bound <= np.iinfo(np.int16).max and source.itemsize == 1 else np.dtype(np.int32)
    groups = [(int(w), taps) for w, taps in weight_groups(kernel)]
    memo["direct.integer"] = (work, groups, factor)
    return memo["direct.integer"]


def granularity(plan: Plan) -> int:
    """Output rows per strip: any strips give bit-identical results (each output row is computed alike
    whatever band holds it); whole bands of a big image make strips cheapest."""
    return band_rows(plan, plan.needed[1], plan.out_hw[0], always_split=True)


def run(plan: Plan, *, rows: tuple[int, int] | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Correlate by shift-and-add (see module docstring).

    With ``rows=(i0, i1)`` only those output rows are computed, into ``out``
    (shape ``(i1 - i0, W_out, C)``, allocated when not given), and the strip
    is returned as (i1 - i0, W_out, C).
    """
    ho, wo = plan.out_hw
    i_first, i_last, out = plan.output_rows(rows, out)
    sh, sw = plan.stride
    dh, dw = plan.dilation
    _, need_w = plan.needed
    exact = integer_work(plan)
    groups = weight_groups(plan.kernel) if exact is None else exact[1]
    step = band_rows(plan, need_w, ho)
    bands = band_ranges(ho, step, (i_first, i_last))

    def do_band(band: tuple[int, int]) -> None:
        i0, i1 = band
        nb = i1 - i0
        work = plan.dtype if exact is None else exact[0]
        buf = plan.gather_rows(i0, i1, "direct.buf", dtype=work)
        views = [
            (
                w,
                [
                    buf[a * dh : a * dh + (nb - 1) * sh + 1 : sh, b * dw : b * dw + (wo - 1) * sw + 1 : sw]
                    for a, b in taps
                ],
            )
            for w, taps in groups
        ]
        target = out[i0 - i_first : i1 - i_first]
        if exact is None:
            accumulate(target, views, scratch("direct.tmp", target.shape, plan.dtype))
            return
        total = scratch("direct.sum", target.shape, work)
        accumulate(total, views, scratch("direct.tmp", target.shape, work))
        np.copyto(target, total)  # exact: every sum is an integer below 2**24
        if exact[2] != 1.0:
            np.multiply(target, exact[2], out=target)  # a box's one weight, as the float path multiplies it

    run_parallel(do_band, bands, work=ho * wo * plan.channels)
    return plan.finish(out, rows)


def cost(problem: Problem) -> float:
    """Modelled seconds: one shift-and-add pass over the output per :func:`pass_count`."""
    ho, wo = problem.out_hw
    return call_seconds(problem, ho * wo * problem.channels * pass_count(problem.kernel) * K.PASS)


def reason(problem: Problem) -> str:
    """Why auto picks direct."""
    return f"{int(np.count_nonzero(problem.kernel))} non-zero taps make shift-and-add the cheapest"


METHOD = Method("direct", run, granularity, cost, reason)
