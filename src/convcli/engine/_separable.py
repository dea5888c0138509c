"""Separable evaluation: a kernel of rank r as r pairs of 1-D passes.

A rank-1 kernel (an outer product such as a Gaussian, a box or Sobel) runs as a
vertical pass then a horizontal one.  Its factors are taken exactly from a
pivot row and column when that reproduces the kernel (so integer kernels such
as Sobel keep exact, symmetric factors); otherwise from the SVD.  A kernel of
small rank r runs as r separable terms when that is cheaper than direct.  Equal
taps are summed before multiplying (symmetric taps pair up).  Row bands run on
the thread pool, each doing both passes on data in cache.
"""

from __future__ import annotations

import os

import numpy as np

from . import _cost_constants as K
from ._direct import accumulate, band_ranges, band_rows, pass_count, weight_groups
from ._plan import Plan
from ._scratch import scratch
from ._threads import run_parallel

Term = tuple[np.ndarray, np.ndarray]

#: kernels whose shorter side exceeds this are only checked for rank 1 (SVD is O(k^3))
MAX_SVD_SIDE = 512


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


def gemm_allowed() -> bool:
    """Whether 1-D passes may use BLAS matrix products.

    Small products are fast on a single-threaded BLAS but can be very slow when
    OpenBLAS wakes its own threads for every call, so they are used only when
    the process runs BLAS single-threaded (``OPENBLAS_NUM_THREADS=1``, which
    the ``convcli`` command sets before NumPy loads) or when
    ``CONVCLI_GEMM=1`` says so; ``CONVCLI_GEMM=0`` turns them off.
    """
    flag = os.environ.get("CONVCLI_GEMM", "").strip()
    if flag in ("0", "1"):
        return flag == "1"
    return os.environ.get("OPENBLAS_NUM_THREADS", "").strip() == "1"


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
    span = dilation * (len(taps) - 1) + 1
    t = np.zeros((n_out, (n_out - 1) * stride + span), dtype=dtype)
    rows = np.arange(n_out)
    for a, w in enumerate(taps):
        t[rows, rows * stride + a * dilation] = w
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


def pass_plan(taps: np.ndarray, stride: int, dilation: int, block: int, use_gemm: bool) -> str:
    """``"gemm"`` or ``"shift"`` for one 1-D pass, whichever the cost model prefers."""
    if not use_gemm:
        return "shift"
    shift = pass_count(taps[:, None]) * K.PASS
    gemm = gemm_flops(len(taps), stride, dilation, block) * K.GEMM_FLOP
    return "gemm" if gemm < shift else "shift"


def granularity(plan: Plan) -> int:
    """Output rows per band: strips that are multiples of it give bit-identical results."""
    return band_rows(plan, plan.needed[1], plan.out_hw[0], multiple=GEMM_BLOCK_ROWS if gemm_allowed() else 1)


def run(plan: Plan, terms: list[Term] | None = None, *, rows: tuple[int, int] | None = None,
        out: np.ndarray | None = None) -> np.ndarray:
    """Correlate as a sum of separable terms (see module docstring).

    ``rows`` and ``out`` work as in :func:`convcli.engine._direct.run`.
    """
    if terms is None:
        terms = decompose(plan.kernel, tol=rank_tolerance(plan.dtype)) or []
    ho, wo = plan.out_hw
    i_first, i_last = rows if rows is not None else (0, ho)
    if out is None:
        out = np.empty((i_last - i_first, wo, plan.channels), dtype=plan.dtype)
    sh, sw = plan.stride
    dh, dw = plan.dilation
    kh = plan.kernel.shape[0]
    eh, ew = plan.span
    _, need_w = plan.needed
    c = plan.channels
    use_gemm = gemm_allowed()
    vplans = [pass_plan(col, sh, dh, GEMM_BLOCK_ROWS, use_gemm) for col, _ in terms]
    hplans = [pass_plan(row, sw, dw, GEMM_BLOCK_COLS, use_gemm) for _, row in terms]
    col_groups = [weight_groups(col) for col, _ in terms]
    row_groups = [weight_groups(row) for _, row in terms]
    vmats = [
        toeplitz(col, GEMM_BLOCK_ROWS, sh, dh, plan.dtype) if vp == "gemm" else None
        for (col, _), vp in zip(terms, vplans, strict=True)
    ]
    hmats = [
        toeplitz(row, GEMM_BLOCK_COLS, sw, dw, plan.dtype).T.copy() if hp == "gemm" else None
        for (_, row), hp in zip(terms, hplans, strict=True)
    ]
    step = band_rows(plan, need_w, ho, multiple=GEMM_BLOCK_ROWS if use_gemm else 1)
    bands = band_ranges(ho, step, (i_first, i_last))

    def do_band(band: tuple[int, int]) -> None:
        i0, i1 = band
        nb = i1 - i0
        r0 = i0 * sh
        r1 = (i1 - 1) * sh + (kh - 1) * dh + 1
        buf = scratch("sep.buf", (r1 - r0, need_w, c), plan.dtype)
        plan.gather(r0, r1, 0, need_w, buf)
        vert = scratch("sep.vert", (nb, need_w, c), plan.dtype)
        vtmp: np.ndarray | None = None
        target = out[i0 - i_first : i1 - i_first]
        htmp: np.ndarray | None = None
        term_out = scratch("sep.term", target.shape, plan.dtype) if len(terms) > 1 else target
        for t in range(len(terms)):
            vmat, hmat = vmats[t], hmats[t]
            if vmat is not None:
                _vertical_gemm(buf.reshape(r1 - r0, -1), vmat, nb, sh, eh, vert.reshape(nb, -1))
            else:
                vviews = [
                    (w, [buf[a * dh : a * dh + (nb - 1) * sh + 1 : sh] for (a,) in taps])
                    for w, taps in col_groups[t]
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
                    for w, taps in row_groups[t]
                ]
                if htmp is None:
                    htmp = scratch("sep.htmp", target.shape, plan.dtype)
                accumulate(dest, hviews, htmp)
            if t > 0:
                np.add(target, dest, out=target)
        if not terms:
            target[...] = 0

    run_parallel(do_band, bands)
    return out if rows is not None else plan.finish(out)
