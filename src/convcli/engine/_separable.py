"""Separable evaluation: a kernel of rank r as r pairs of 1-D passes.

A rank-1 kernel (an outer product such as a Gaussian, a box or Sobel) runs as a
vertical pass then a horizontal one.  Its factors are taken exactly from a
pivot row and column when that reproduces the kernel (so integer kernels such
as Sobel keep exact, symmetric factors); otherwise from the SVD.  A kernel of
small rank r runs as r separable terms when that is cheaper than direct.  Each
1-D pass is a shift-and-add (equal taps summed before multiplying, so symmetric
taps pair up) or, when the cost model prefers it, a banded-Toeplitz matrix
product through BLAS, which runs single-threaded inside the engine's own
threads.  Row bands run on the thread pool, each doing both passes on data in
cache.
"""

from __future__ import annotations

import functools

import numpy as np

from ..shapes import input_extent
from . import _cost_constants as K
from ._cost import call_seconds
from ._direct import accumulate, band_ranges, band_rows, pass_count, weight_groups
from ._method import Method
from ._plan import Plan, Problem
from ._rows import RowWindow, image_stats
from ._scratch import scratch
from ._threads import run_parallel, single_threaded_blas

Term = tuple[np.ndarray, np.ndarray]

#: kernels whose shorter side exceeds this are only checked for rank 1 (SVD is O(k^3))
MAX_SVD_SIDE = 512
#: what several terms cost beyond the per-pass model (each term's band is written again and added in): a
#: rank-7 random 7x7 measured 1.3x the model at 2048x2048 and about 2x at 4096x4096 (2026-11-26, 2-vCPU
#: CI machine kind), where the FFT was the faster, and as modelled up to 1024x1024 (the bands stay in cache);
#: set by hand from bench_regret.py, not by fit_cost_model.py
MULTI_TERM_FACTOR = 1.35
#: output samples above which :data:`MULTI_TERM_FACTOR` applies
MULTI_TERM_FROM = 1 << 21


def rank_tolerance(dtype: np.dtype) -> float:
    """Relative (Frobenius) residual below which a decomposition counts as exact.

    Examples
    --------
    >>> rank_tolerance(np.dtype(np.float32)) > rank_tolerance(np.dtype(np.float64))
    True
    """
    return 2e-7 if dtype == np.float32 else 1e-13


def decompose(kernel: np.ndarray, *, tol: float = 1e-13, max_side: int | None = None) -> list[Term] | None:
    """Terms ``(column, row)`` with ``sum(outer(c, r)) == kernel`` within ``tol`` (relative).

    Returns ``None`` when the kernel is not rank 1 and its shorter side exceeds
    ``max_side`` (the SVD would cost more than it could save).

    Examples
    --------
    >>> sobel = np.array([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    >>> [(c.tolist(), r.tolist()) for c, r in decompose(sobel)]
    [([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])]
    >>> len(decompose(np.eye(3)))
    3
    >>> decompose(np.zeros((2, 2)))
    []
    """
    norm = float(np.linalg.norm(kernel))
    if norm == 0.0:
        return []
    # exact factors from the largest entry's row and column when the kernel is rank 1
    i, j = np.unravel_index(int(np.argmax(np.abs(kernel))), kernel.shape)
    pivot = kernel[i, j]
    col = kernel[:, j] * np.sign(pivot)
    row = kernel[i, :] / abs(pivot)
    if np.linalg.norm(np.outer(col, row) - kernel) <= tol * norm:
        return [(col, row)]
    if max_side is not None and min(kernel.shape) > max_side:
        return None  # not rank 1, and too large to factor cheaply
    u, s, vt = np.linalg.svd(kernel, full_matrices=False)
    # the residual after r terms is the root of the sum of the squared singular values left out
    tail = np.sqrt(np.maximum(np.cumsum((s**2)[::-1])[::-1], 0.0))
    rank = len(s)
    for r in range(1, len(s) + 1):
        left = tail[r] if r < len(s) else 0.0
        if left <= tol * norm:
            rank = r
            break
    terms: list[Term] = []
    for r in range(rank):
        if s[r] <= 0:
            break
        scale = np.sqrt(s[r])
        terms.append((u[:, r] * scale, vt[r] * scale))
    return terms


#: output rows (vertical) and columns (horizontal) per banded-Toeplitz GEMM block
GEMM_BLOCK_ROWS = 32
GEMM_BLOCK_COLS = 64


#: whether 1-D passes may use BLAS products (the cost model still decides per pass); off only to compare
USE_GEMM = True


def gemm_flops(taps: int, stride: int, dilation: int, block: int) -> float:
    """Multiply-adds (x2) per output of the banded-Toeplitz product."""
    span = dilation * (taps - 1) + 1
    return 2.0 * ((block - 1) * stride + span)


def toeplitz(taps: np.ndarray, n_out: int, stride: int, dilation: int, dtype: np.dtype) -> np.ndarray:
    """Banded matrix T with ``(T @ x)[j] = sum_a taps[a] * x[j*stride + a*dilation]``.

    Examples
    --------
    >>> toeplitz(np.array([1., 2.]), 2, 1, 1, np.dtype(np.float64))
    array([[1., 2., 0.],
           [0., 1., 2.]])
    """
    t = np.zeros((n_out, input_extent(n_out, len(taps), stride=stride, dilation=dilation)), dtype=dtype)
    rows = np.arange(n_out)[:, None]
    t[rows, rows * stride + np.arange(len(taps)) * dilation] = np.asarray(taps, dtype=dtype)
    return t


def _vertical_gemm(buf: np.ndarray, t: np.ndarray, nb: int, stride: int, span: int, out: np.ndarray) -> None:
    block = t.shape[0]
    for j0 in range(0, nb, block):
        m = min(block, nb - j0)
        tm = t if m == block else t[:m, : (m - 1) * stride + span]
        np.matmul(tm, buf[j0 * stride : j0 * stride + tm.shape[1]], out=out[j0 : j0 + m])


def _horizontal_gemm(v: np.ndarray, th: np.ndarray, wo: int, stride: int, span: int, out: np.ndarray) -> None:
    block = th.shape[1]
    for j0 in range(0, wo, block):
        m = min(block, wo - j0)
        tm = th if m == block else th[: (m - 1) * stride + span, :m]
        np.matmul(v[:, j0 * stride : j0 * stride + tm.shape[0]], tm, out=out[:, j0 : j0 + m])


def pass_cost(taps: np.ndarray, stride: int, dilation: int, block: int, *, exact: bool = True) -> tuple[str, float]:
    """``("gemm" | "shift", seconds per output)`` for one 1-D pass, whichever the cost model prefers.

    ``exact=False`` estimates the shift-and-add passes as two per non-zero tap
    instead of counting equal weights (cheaper for many SVD terms).

    Examples
    --------
    >>> pass_cost(np.ones(3), 1, 1, 32)[0]
    'shift'
    >>> pass_cost(np.hanning(41)[1:-1], 1, 1, 32)[0]
    'gemm'
    """
    passes = pass_count(taps[:, None]) if exact else 2 * int(np.count_nonzero(taps))
    shift = max(passes, 1) * K.PASS
    if not USE_GEMM:
        return "shift", shift
    gemm = gemm_flops(len(taps), stride, dilation, block) * K.GEMM_FLOP
    return ("gemm", gemm) if gemm < shift else ("shift", shift)


def _remembered(kernel: np.ndarray, tol: float, max_side: int | None) -> list[Term] | None:
    """:func:`decompose`, remembered for the last 256 kernels (read-only factors): auto asks again every call."""
    k = np.ascontiguousarray(kernel, dtype=np.float64)
    return _decompose_cached(k.tobytes(), k.shape, tol, max_side)


@functools.lru_cache(maxsize=256)
def _decompose_cached(data: bytes, shape: tuple[int, ...], tol: float, max_side: int | None) -> list[Term] | None:
    terms = decompose(np.frombuffer(data, dtype=np.float64).reshape(shape), tol=tol, max_side=max_side)
    for col, row in terms or []:
        col.flags.writeable = row.flags.writeable = False
    return terms


def terms_of(problem: Problem, *, limited: bool = False) -> list[Term] | None:
    """The problem's separable terms, computed once per problem.

    ``limited`` gives None instead of running an SVD for a large kernel that
    is not rank 1 (what the cost model asks).
    """
    memo = problem.memo
    if "separable.terms" not in memo:
        if limited:
            if "separable.limited" not in memo:
                memo["separable.limited"] = _remembered(problem.kernel, rank_tolerance(problem.dtype), MAX_SVD_SIDE)
            if memo["separable.limited"] is None:
                return None
            memo["separable.terms"] = memo["separable.limited"]
        else:
            memo["separable.terms"] = _remembered(problem.kernel, rank_tolerance(problem.dtype), None) or []
    terms: list[Term] = memo["separable.terms"]
    return terms


def _finite_sum(data: np.ndarray, dtype: np.dtype) -> bool:
    """Whether ``data`` holds no NaN/inf, by one summing pass (a sum that overflows says no, which is safe)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(data, dtype=dtype)))


def _all_finite(plan: Plan) -> bool:
    """Whether the image holds no NaN/inf (once per plan; integers always do).

    One float64 summing pass over an array; a streamed image
    (:class:`~convcli.engine._rows.RowWindow`) knows, or tells from its
    minimum and maximum (:func:`~convcli.engine._rows.image_stats`).
    """
    if "separable.finite" not in plan.memo:
        img = plan.image
        if img.dtype.kind in "biu" or getattr(img, "finite", None) is True:
            finite = True
        elif isinstance(img, RowWindow):
            lo, hi, _ = image_stats(img)
            finite = bool(np.isfinite(lo) and np.isfinite(hi))
        else:
            finite = _finite_sum(img, np.dtype(np.float64))
        plan.memo["separable.finite"] = finite
    known: bool = plan.memo["separable.finite"]
    return known


def _band_rows(plan: Plan) -> int:
    """Output rows per band (always split: a band's BLAS blocks and NaN check start at its first row)."""
    return band_rows(plan, plan.needed[1], plan.out_hw[0], multiple=GEMM_BLOCK_ROWS if USE_GEMM else 1,
                     always_split=True)


def granularity(plan: Plan) -> int:
    """Output rows per band: strips that are multiples of it give bit-identical results."""
    return _band_rows(plan)


def run(plan: Plan, terms: list[Term] | None = None, *, rows: tuple[int, int] | None = None,
        out: np.ndarray | None = None) -> np.ndarray:
    """Correlate as a sum of separable terms (see module docstring).

    ``rows`` and ``out`` work as in :func:`convcli.engine._direct.run`.
    """
    if terms is None:
        terms = terms_of(plan) or []
    ho, wo = plan.out_hw
    i_first, i_last, out = plan.output_rows(rows, out)
    sh, sw = plan.stride
    dh, dw = plan.dilation
    eh, ew = plan.span
    _, need_w = plan.needed
    c = plan.channels
    vplans = [pass_cost(col, sh, dh, GEMM_BLOCK_ROWS)[0] for col, _ in terms]
    hplans = [pass_cost(row, sw, dw, GEMM_BLOCK_COLS)[0] for _, row in terms]
    groups: dict[tuple[int, int], list[tuple[float, list[tuple[int, ...]]]]] = {}

    def taps_of(axis: int, t: int) -> list[tuple[float, list[tuple[int, ...]]]]:
        """Weight groups of term t's column (axis 0) or row (axis 1) factor, made when a shift pass needs them."""
        if (axis, t) not in groups:
            groups[axis, t] = weight_groups(terms[t][axis])
        return groups[axis, t]

    uses_blas = "gemm" in vplans or "gemm" in hplans
    always_finite = plan.image.dtype.kind in "biu"
    vmats = [
        toeplitz(col, GEMM_BLOCK_ROWS, sh, dh, plan.dtype) if vp == "gemm" else None
        for (col, _), vp in zip(terms, vplans, strict=True)
    ]
    hmats = [
        toeplitz(row, GEMM_BLOCK_COLS, sw, dw, plan.dtype).T.copy() if hp == "gemm" else None
        for (_, row), hp in zip(terms, hplans, strict=True)
    ]
    step = _band_rows(plan)
    bands = band_ranges(ho, step, (i_first, i_last))
    # several channels whose passes are all matrix products: each channel's plane is filtered on its own (the
    # horizontal products need rows of one channel), gathered so and interleaved once at the end
    planar = c > 1 and all(m is not None for m in (*vmats, *hmats)) and bool(terms)

    def planar_band(buf: np.ndarray, nb: int, target: np.ndarray) -> None:
        """Every term by matrix products on the band's channel planes (``buf.transpose(2, 0, 1)`` contiguous)."""
        planes = buf.transpose(2, 0, 1)
        vert = scratch("sep.vplanes", (c, nb, need_w), plan.dtype)
        res = scratch("sep.res", (c * nb, wo), plan.dtype)
        term_out = scratch("sep.term", target.shape, plan.dtype) if len(terms) > 1 else target
        for t in range(len(terms)):
            vmat, hmat = vmats[t], hmats[t]
            assert vmat is not None and hmat is not None
            for ch in range(c):
                _vertical_gemm(planes[ch], vmat, nb, sh, eh, vert[ch])
            _horizontal_gemm(vert.reshape(c * nb, need_w), hmat, wo, sw, ew, res)
            dest = target if t == 0 else term_out
            dest[...] = res.reshape(c, nb, wo).transpose(1, 2, 0)
            if t > 0:
                np.add(target, dest, out=target)

    def do_band(band: tuple[int, int]) -> None:
        i0, i1 = band
        nb = i1 - i0
        buf = plan.gather_rows(i0, i1, "sep.planes" if planar else "sep.buf", planar=planar)
        # a matrix product would spread NaN/inf across its block (0 * inf = nan): such bands shift and add
        blas = uses_blas and (always_finite or _finite_sum(buf, plan.dtype))
        if blas and planar:
            planar_band(buf, nb, out[i0 - i_first : i1 - i_first])
            return
        vert = scratch("sep.vert", (nb, need_w, c), plan.dtype)
        vtmp: np.ndarray | None = None
        target = out[i0 - i_first : i1 - i_first]
        htmp: np.ndarray | None = None
        term_out = scratch("sep.term", target.shape, plan.dtype) if len(terms) > 1 else target
        for t in range(len(terms)):
            vmat, hmat = (vmats[t], hmats[t]) if blas else (None, None)
            if vmat is not None:
                _vertical_gemm(buf.reshape(buf.shape[0], -1), vmat, nb, sh, eh, vert.reshape(nb, -1))
            else:
                vviews = [
                    (w, [buf[a * dh : a * dh + (nb - 1) * sh + 1 : sh] for (a,) in taps])
                    for w, taps in taps_of(0, t)
                ]
                if vtmp is None:
                    vtmp = scratch("sep.vtmp", vert.shape, plan.dtype)
                accumulate(vert, vviews, vtmp)
            dest = target if t == 0 else term_out
            if hmat is not None:
                if c == 1:
                    _horizontal_gemm(vert.reshape(nb, need_w), hmat, wo, sw, ew, dest.reshape(nb, wo))
                else:
                    planes = np.ascontiguousarray(vert.transpose(0, 2, 1)).reshape(nb * c, need_w)
                    res = scratch("sep.res", (nb * c, wo), plan.dtype)
                    _horizontal_gemm(planes, hmat, wo, sw, ew, res)
                    dest[...] = res.reshape(nb, c, wo).transpose(0, 2, 1)
            else:
                hviews = [
                    (w, [vert[:, b * dw : b * dw + (wo - 1) * sw + 1 : sw] for (b,) in taps])
                    for w, taps in taps_of(1, t)
                ]
                if htmp is None:
                    htmp = scratch("sep.htmp", target.shape, plan.dtype)
                accumulate(dest, hviews, htmp)
            if t > 0:
                np.add(target, dest, out=target)
        if not terms:
            target[...] = 0

    if uses_blas:
        with single_threaded_blas():
            run_parallel(do_band, bands, work=ho * wo * c)
    else:
        run_parallel(do_band, bands, work=ho * wo * c)
    return plan.finish(out, rows)


def cost(problem: Problem) -> float | None:
    """Modelled seconds of the terms' vertical and horizontal passes; None if no cheap factoring exists.

    Each pass is modelled with its own axis: the column factor with the row
    stride and dilation, the row factor with the column stride and dilation.
    """
    terms = terms_of(problem, limited=True)
    if terms is None:
        return None
    (ho, wo), (sh, sw), (dh, dw) = problem.out_hw, problem.stride, problem.dilation
    n_vertical = ho * problem.needed[1] * problem.channels
    n_out = ho * wo * problem.channels
    seconds = 0.0
    for index, (col, row) in enumerate(terms):
        exact = index < 4  # SVD terms beyond have distinct weights: ~2 passes per tap
        seconds += n_vertical * pass_cost(col, sh, dh, GEMM_BLOCK_ROWS, exact=exact)[1]
        seconds += n_out * pass_cost(row, sw, dw, GEMM_BLOCK_COLS, exact=exact)[1]
        seconds += n_out * K.PASS  # adding the term in
    if len(terms) > 1 and n_out > MULTI_TERM_FROM:
        seconds *= MULTI_TERM_FACTOR
    return call_seconds(problem, seconds) + len(terms) * K.TERM_OVERHEAD


def reason(problem: Problem) -> str:
    """Why auto picks separable."""
    kh, kw = problem.kernel.shape
    rank = len(terms_of(problem, limited=True) or [])
    nnz = int(np.count_nonzero(problem.kernel))
    return f"the {kh}x{kw} kernel has rank {rank}: {rank} pair(s) of 1-D passes beat {nnz} taps of shift-and-add"


def refuses(plan: Plan) -> str | None:
    """Why auto must not use separable passes on this data: NaN/inf that several terms would mix (inf - inf).

    One term keeps them in the windows that hold them, as direct does.
    """
    if len(terms_of(plan, limited=True) or []) <= 1 or _all_finite(plan):
        return None
    return "the image holds NaN or inf, which separable terms would mix (inf - inf); shift-and-add keeps them local"


def keeps_nan(plan: Plan) -> bool:
    """Whether NaN stays in the windows that hold it: one term whose factors' non-zero taps are the kernel's.

    Shift-and-add passes skip zero taps, and a band holding NaN/inf never goes
    through BLAS; several terms (or factors denser than the kernel) would
    carry NaN beyond the kernel's non-zero taps.
    """
    if "separable.keeps_nan" not in plan.memo:
        terms = terms_of(plan) or []
        plan.memo["separable.keeps_nan"] = len(terms) == 1 and bool(
            np.array_equal(np.outer(terms[0][0] != 0, terms[0][1] != 0), plan.kernel != 0))
    kept: bool = plan.memo["separable.keeps_nan"]
    return kept


METHOD = Method("separable", run, granularity, cost, reason, refuses, keeps_nan)
