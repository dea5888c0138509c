"""The cost model behind ``method="auto"``.

Each method's time is modelled from counts the engine knows before running:
memory passes of the shift-and-add (direct and separable) and FFT points times
log2 of the size (fft), plus the gather that converts the input.  The per-unit
constants are fitted by measurement on this kind of machine with
``python benchmarks/fit_cost_model.py`` (which rewrites ``_cost_constants.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _cost_constants as K
from ._direct import pass_count
from ._fft import choose_tiles
from ._separable import Term


@dataclass(frozen=True)
class MethodChoice:
    """What ``method="auto"`` picks, why, and the modelled costs.

    Attributes
    ----------
    method : str
        ``"direct"``, ``"separable"`` or ``"fft"``.
    reason : str
        One sentence a person can read.
    costs : dict of str to float
        Modelled seconds of each method considered (a method that does not
        apply is absent).
    """

    method: str
    reason: str
    costs: dict[str, float] = field(default_factory=dict)


def estimate(
    out_hw: tuple[int, int],
    needed: tuple[int, int],
    channels: int,
    kernel: np.ndarray,
    terms: list[Term] | None,
    span: tuple[int, int],
    stride: tuple[int, int],
    threads: int,
) -> dict[str, float]:
    """Modelled seconds per method."""
    ho, wo = out_hw
    need_h, need_w = needed
    sh, _ = stride
    gathered = min(ho * sh + span[0], need_h) * need_w * channels
    n_out = ho * wo * channels
    par = K.PARALLEL_EFFICIENCY * threads if threads > 1 else 1.0
    par = max(1.0, par)
    costs: dict[str, float] = {}
    gather = gathered * K.GATHER
    costs["direct"] = K.OVERHEAD + (gather + n_out * pass_count(kernel) * K.PASS) / par
    if terms is not None:
        from ._separable import GEMM_BLOCK_COLS, GEMM_BLOCK_ROWS, gemm_allowed, gemm_flops

        use_gemm = gemm_allowed()
        seconds = 0.0
        for index, (col, row) in enumerate(terms):
            for taps, n, s_, block in ((col, ho * need_w * channels, stride[0], GEMM_BLOCK_ROWS),
                                       (row, n_out, stride[1], GEMM_BLOCK_COLS)):
                # exact pass counts for the first terms; SVD terms beyond have distinct weights: ~2 per tap
                passes = pass_count(taps[:, None]) if index < 4 else 2 * int(np.count_nonzero(taps))
                shift = max(passes, 1) * K.PASS
                dil = max(1, (span[0] - 1) // max(len(taps) - 1, 1)) if len(taps) > 1 else 1
                gemm = gemm_flops(len(taps), s_, dil, block) * K.GEMM_FLOP if use_gemm else shift
                seconds += n * min(shift, gemm)
            seconds += n_out * K.PASS  # adding the term in
        costs["separable"] = K.OVERHEAD + (gather + seconds) / par
    _, units = choose_tiles(out_hw, span, stride, channels)
    tiles_gather = gathered * 1.2
    costs["fft"] = K.OVERHEAD + K.FFT_OVERHEAD + (tiles_gather * K.GATHER + units * K.FFT) / par
    return costs
