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

import numpy as np

from ._direct import accumulate, band_rows, weight_groups
from ._plan import Plan
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
    terms: list[Term] = []
    approx = np.zeros_like(kernel)
    for r in range(len(s)):
        if s[r] <= 0:
            break
        scale = np.sqrt(s[r])
        terms.append((u[:, r] * scale, vt[r] * scale))
        approx += np.outer(terms[-1][0], terms[-1][1])
        if np.linalg.norm(approx - kernel) <= tol * norm:
            break
    return terms


def run(plan: Plan, terms: list[Term] | None = None) -> np.ndarray:
    """Correlate as a sum of separable terms (see module docstring)."""
    if terms is None:
        terms = decompose(plan.kernel, tol=rank_tolerance(plan.dtype)) or []
    out = plan.new_output()
    ho, wo = plan.out_hw
    sh, sw = plan.stride
    dh, dw = plan.dilation
    kh, _ = plan.kernel.shape
    _, need_w = plan.needed
    c = plan.channels
    col_groups = [weight_groups(col) for col, _ in terms]
    row_groups = [weight_groups(row) for _, row in terms]
    step = band_rows(plan, need_w, ho)
    bands = [(i0, min(i0 + step, ho)) for i0 in range(0, ho, step)]

    def do_band(band: tuple[int, int]) -> None:
        i0, i1 = band
        nb = i1 - i0
        r0 = i0 * sh
        r1 = (i1 - 1) * sh + (kh - 1) * dh + 1
        buf = np.empty((r1 - r0, need_w, c), dtype=plan.dtype)
        plan.gather(r0, r1, 0, need_w, buf)
        vert = np.empty((nb, need_w, c), dtype=plan.dtype)
        vtmp = np.empty_like(vert)
        target = out[i0:i1]
        htmp = np.empty_like(target)
        term_out = np.empty_like(target) if len(terms) > 1 else target
        for t, (cg, rg) in enumerate(zip(col_groups, row_groups)):
            vviews = [
                (w, [buf[a * dh : a * dh + (nb - 1) * sh + 1 : sh] for (a,) in taps]) for w, taps in cg
            ]
            accumulate(vert, vviews, vtmp)
            hviews = [(w, [vert[:, b * dw : b * dw + (wo - 1) * sw + 1 : sw] for (b,) in taps]) for w, taps in rg]
            dest = target if t == 0 else term_out
            accumulate(dest, hviews, htmp)
            if t > 0:
                np.add(target, dest, out=target)
        if not terms:
            target[...] = 0

    run_parallel(do_band, bands)
    return plan.finish(out)
