"""FFT evaluation: real FFTs over overlap-save tiles.

The output is cut into tiles; each tile's block of the (virtual) padded image is
transformed with a real 2-D FFT of a 5-smooth size, multiplied by the conjugate
spectrum of the dilated kernel (correlation, so no flip is needed and the valid
part starts at index 0), and transformed back.  The kernel's spectrum is
computed once per call and reused for every tile and every channel.  One tile
covering the whole image is the single-big-transform case; smaller tiles
(overlap-save blocks) win when the kernel is much smaller than the image, and
also keep memory bounded and let tiles run on the thread pool.  A strided
result keeps every s-th sample of each tile, tiles being aligned to the
stride.  float64 images use float64 transforms; float32 work uses float32
transforms except for integer images wider than 8 bits, which use float64 so
that rounding back to 16-bit stays exact.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..shapes import input_extent
from . import _cost_constants as K
from ._cost import call_seconds
from ._method import Method
from ._plan import Plan, Problem
from ._rows import image_stats
from ._scratch import scratch
from ._threads import run_parallel

#: FFT results must stay within this fraction of max|x| * sum|k| of the direct result;
#: ``auto`` avoids the FFT when the data's dynamic range could break that bound.
FFT_TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-11}
#: dynamic range max|x| / mean|x| above which auto does not use the FFT
FFT_MAX_DYNAMIC_RANGE = {np.dtype(np.float32): 1e3, np.dtype(np.float64): 1e8}


@lru_cache(maxsize=4096)
def next_fast_len(n: int) -> int:
    """The smallest 5-smooth integer (2^a 3^b 5^c) >= n.

    Examples
    --------
    >>> [next_fast_len(n) for n in (1, 7, 11, 97, 1001)]
    [1, 8, 12, 100, 1024]
    """
    if n <= 6:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # smallest power of two times p35 that reaches n
            quotient = -(-n // p35)
            p2 = 1 << (quotient - 1).bit_length()
            best = min(best, p2 * p35)
            p35 *= 3
        p5 *= 5
    return best


@lru_cache(maxsize=1024)
def fast_sizes(lo: int, hi: int, limit: int = 12) -> tuple[int, ...]:
    """Up to ``limit`` 5-smooth sizes between ``lo`` and ``next_fast_len(hi)``, spread geometrically."""
    top = next_fast_len(max(hi, lo))
    sizes = {next_fast_len(lo), top}
    if top > lo:
        ratio = (top / lo) ** (1 / limit)
        x = float(lo)
        while x < top:
            sizes.add(next_fast_len(int(x)))
            x *= max(ratio, 1.05)
    return tuple(sorted(s for s in sizes if s <= top))


def _axis_tiles(needed_out: int, span: int, stride: int, fft_len: int) -> tuple[int, int] | None:
    """(stride-1 outputs per tile, number of tiles) along one axis; None if the length cannot work.

    A tile of ``fft_len`` points yields ``fft_len - span + 1`` stride-1 outputs; with
    several tiles that count is rounded down to a multiple of the stride so
    every tile starts on a kept sample.
    """
    fit = fft_len - span + 1
    if fit >= needed_out:
        return math.ceil(needed_out / stride) * stride, 1
    per_tile = fit // stride * stride
    if per_tile < 1:
        return None
    return per_tile, math.ceil(needed_out / per_tile)


#: fixed cost of one tile (allocation, gathering, Python calls), in point-log units;
#: measured at about 0.4 ms a tile by benchmarks/fit_cost_model.py
TILE_OVERHEAD_UNITS = 950_000.0
#: transforms above this many points fall out of cache and cost more per point
CACHE_POINTS = 1 << 20


def _tile_cost(fh: int, fw: int, channels: int) -> float:
    n = fh * fw
    units = n * channels * (math.log2(max(n, 2)) + 4.0)
    if n > CACHE_POINTS:
        units *= (n / CACHE_POINTS) ** 0.75
    return units + TILE_OVERHEAD_UNITS


@lru_cache(maxsize=1024)
def choose_tiles(plan_out: tuple[int, int], span: tuple[int, int], stride: tuple[int, int],
                 channels: int) -> tuple[tuple[int, int], float]:
    """FFT tile size minimising the modelled cost, and that cost (in point-log units).

    A pure function of the geometry, remembered for the last 1024 geometries:
    the search costs about a millisecond, a large part of a small image's
    filtering, and a batch or a video asks the same geometry again and again.

    Examples
    --------
    >>> (fh, fw), cost = choose_tiles((3000, 4000), (61, 61), (1, 1), 1)
    >>> fh >= 61 and fw >= 61 and fh <= 3060
    True
    """
    (ho, wo), (eh, ew), (sh, sw) = plan_out, span, stride
    need_h, need_w = input_extent(ho, stride=sh), input_extent(wo, stride=sw)  # stride-1 outputs
    lo_h, lo_w = max(2 * eh, 64), max(2 * ew, 64)
    best: tuple[float, tuple[int, int]] | None = None
    for fh in fast_sizes(min(lo_h, need_h + eh - 1), need_h + eh - 1):
        rows = _axis_tiles(need_h, eh, sh, fh)
        if rows is None:
            continue
        nth = rows[1]
        for fw in fast_sizes(min(lo_w, need_w + ew - 1), need_w + ew - 1):
            cols = _axis_tiles(need_w, ew, sw, fw)
            if cols is None:
                continue
            ntw = cols[1]
            cost = nth * ntw * _tile_cost(fh, fw, channels)
            if best is None or cost < best[0]:
                best = (cost, (fh, fw))
    assert best is not None
    return best[1], best[0]


def transform_dtype(plan: Plan) -> np.dtype:
    """Precision of the transforms (see module docstring)."""
    if plan.dtype == np.float64 or (plan.image.dtype.kind in "iu" and plan.image.dtype.itemsize > 1):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _tiles(problem: Problem) -> tuple[tuple[int, int], float]:
    """:func:`choose_tiles` for this problem, computed once per problem."""
    key = ("fft.tiles", TILE_OVERHEAD_UNITS)
    if key not in problem.memo:
        problem.memo[key] = choose_tiles(problem.out_hw, problem.span, problem.stride, problem.channels)
    tiles: tuple[tuple[int, int], float] = problem.memo[key]
    return tiles


def granularity(plan: Plan, tiles: tuple[int, int] | None = None) -> int:
    """Output rows per tile row: strips that are multiples of it compute every tile once."""
    if tiles is None:
        tiles, _ = _tiles(plan)
    ho = plan.out_hw[0]
    sh = plan.stride[0]
    rows = _axis_tiles(input_extent(ho, stride=sh), plan.span[0], sh, tiles[0])
    return ho if rows is None else max(1, rows[0] // sh)


def run(plan: Plan, tiles: tuple[int, int] | None = None, *, rows: tuple[int, int] | None = None,
        out: np.ndarray | None = None) -> np.ndarray:
    """Correlate with overlap-save FFT tiles (see module docstring).

    ``rows`` and ``out`` work as in :func:`convcli.engine._direct.run`; tiles
    that only partly overlap the rows are computed whole and clipped.
    """
    ho, wo = plan.out_hw
    i_first, i_last, out = plan.output_rows(rows, out)
    sh, sw = plan.stride
    dh, dw = plan.dilation
    eh, ew = plan.span
    c = plan.channels
    if tiles is None:
        tiles, _ = _tiles(plan)
    fh, fw = tiles
    need_h, need_w = input_extent(ho, stride=sh), input_extent(wo, stride=sw)  # stride-1 outputs
    tile_rows, tile_cols = _axis_tiles(need_h, eh, sh, fh), _axis_tiles(need_w, ew, sw, fw)
    if tile_rows is None or tile_cols is None:
        raise ValueError(f"FFT tiles {tiles} are too small for a {eh}x{ew} kernel span at stride {plan.stride}")
    (th, nth), (tw, ntw) = tile_rows, tile_cols
    tdtype = transform_dtype(plan)
    dilated = np.zeros((eh, ew), dtype=tdtype)
    dilated[::dh, ::dw] = plan.kernel
    spectrum = np.conj(np.fft.rfft2(dilated, s=(fh, fw)))[:, :, None]
    pad_h, pad_w = plan.needed

    def do_tile(index: tuple[int, int]) -> None:
        ti, tj = index
        y0, x0 = ti * th, tj * tw  # first stride-1 output of this tile (= first padded row/col)
        y1, x1 = min(y0 + th + eh - 1, pad_h), min(x0 + tw + ew - 1, pad_w)
        block = scratch("fft.block", (fh, fw, c), tdtype)
        block.fill(0)
        plan.gather(y0, y1, x0, x1, block)
        result = np.fft.irfft2(np.fft.rfft2(block, axes=(0, 1)) * spectrum, s=(fh, fw), axes=(0, 1))
        o0, p0 = y0 // sh, x0 // sw
        o1, p1 = min(o0 + th // sh, ho), min(p0 + tw // sw, wo)
        a0, a1 = max(o0, i_first), min(o1, i_last)
        out[a0 - i_first : a1 - i_first, p0:p1] = result[(a0 - o0) * sh : (a1 - o0) * sh : sh, : (p1 - p0) * sw : sw]

    per = th // sh
    wanted = [i for i in range(nth) if i * per < i_last and min((i + 1) * per, ho) > i_first]
    run_parallel(do_tile, [(i, j) for i in wanted for j in range(ntw)])
    return plan.finish(out, rows)


def cost(problem: Problem) -> float:
    """Modelled seconds of the tiles' transforms (the tiles overlap, so they gather a fifth more)."""
    _, units = _tiles(problem)
    return call_seconds(problem, units * K.FFT, fixed=K.FFT_OVERHEAD, gather_factor=1.2)


def reason(problem: Problem) -> str:
    """Why auto picks the FFT."""
    kh, kw = problem.kernel.shape
    nnz = int(np.count_nonzero(problem.kernel))
    return f"a {kh}x{kw} kernel with {nnz} taps is cheapest through FFT tiles"


def refuses(plan: Plan) -> str | None:
    """Why the FFT could lose precision on this data, or None when it is safe.

    Two passes (min and max, no temporaries) find NaN/inf and the peak; the
    mean magnitude comes from a strided sample of about 65,000 pixels.  A
    streamed image (:class:`~convcli.engine._rows.RowWindow`) gives the same
    three numbers from its own pass (:func:`~convcli.engine._rows.image_stats`).
    """
    if plan.image.dtype.kind in "biu":
        return None  # bounded data; 16-bit and wider use float64 transforms
    lo, hi, mean = image_stats(plan.image)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "the image holds NaN or inf, which an FFT would spread over the whole tile"
    peak = max(abs(lo), abs(hi))
    limit = FFT_MAX_DYNAMIC_RANGE[plan.dtype]
    if peak > 0 and (mean == 0 or peak / mean > limit):
        return f"the image's dynamic range (max/mean {peak / max(mean, 1e-300):.3g}) exceeds {limit:g}"
    return None


def tile_rows_read(plan: Plan, i0: int, i1: int) -> tuple[int, int]:
    """The padded rows that the tiles covering output rows [i0, i1) read (a tile is computed whole)."""
    tiles, _ = _tiles(plan)
    ho, sh = plan.out_hw[0], plan.stride[0]
    rows = _axis_tiles(input_extent(ho, stride=sh), plan.span[0], sh, tiles[0])
    if rows is None:
        return 0, plan.needed[0]
    th, _ = rows
    per = th // sh
    first, last = i0 // per, (i1 - 1) // per
    return first * th, min(last * th + th + plan.span[0] - 1, plan.needed[0])


def keeps_nan(plan: Plan) -> bool:
    """Never: a NaN spreads over its whole tile (the engine masks it, see :mod:`convcli.engine._nan`)."""
    return False


METHOD = Method("fft", run, granularity, cost, reason, refuses, keeps_nan)
