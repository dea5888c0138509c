"""Fit the constants of the engine's cost model by measurement, and write them.

Run:  python benchmarks/fit_cost_model.py [--write] [--size 2000]

It times each method on problems whose modelled counts differ (shift-and-add
passes, BLAS flops, FFT point-logs, gathered elements), fits the seconds per
unit by least squares, prints the fit and the crossovers the constants imply,
and with --write rewrites src/convcli/engine/_cost_constants.py.  The engine
holds BLAS to one thread inside its calls (threadpoolctl), whatever
OPENBLAS_NUM_THREADS says, so the fit needs no environment settings.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convcli
from common import environment, interleaved
from convcli.engine import _cost_constants as K
from convcli.engine import _direct, _fft, _separable
from convcli.engine._cost import speedup

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "convcli" / "engine" / "_cost_constants.py"


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares y = a + b x; returns (a, b)."""
    a_mat = np.vstack([np.ones(len(xs)), xs]).T
    (a, b), *_ = np.linalg.lstsq(a_mat, np.array(ys), rcond=None)
    return float(a), float(b)


class _Tee:
    """Print to stdout and keep a copy, so --write can save the fit's report beside the constants."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text)
        self.lines.append(text)


def main() -> None:
    out = _Tee()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.size
    image = rng.random((n, n), dtype=np.float32)
    p = speedup()

    # direct: time = gather + passes * n^2 * PASS / par
    kernels = {f"{k}x{k}": rng.normal(size=(k, k)) for k in (1, 2, 3, 4, 5)}
    med = interleaved({name: (lambda k=k: convcli.correlate(image, k, method="direct"))
                       for name, k in kernels.items()}, args.repeats)
    xs = [_direct.pass_count(k) * n * n / p for k in kernels.values()]
    gather_time, pass_cost = fit(xs, [med[name] for name in kernels])
    gather_cost = max(gather_time, 1e-6) * p / (n * n)
    out(f"direct: PASS = {pass_cost:.3g} s/element-pass, GATHER = {gather_cost:.3g} s/element")

    # separable through BLAS: time = gather + flops * n^2 * GEMM_FLOP / par
    taps = [9, 21, 41, 61]
    seps = {t: np.outer(np.hanning(t + 2)[1:-1], np.hanning(t + 2)[1:-1]) for t in taps}
    med = interleaved({t: (lambda k=k: convcli.correlate(image, k, method="separable")) for t, k in seps.items()},
                      args.repeats)
    flops = [(_separable.gemm_flops(t, 1, 1, _separable.GEMM_BLOCK_ROWS)
              + _separable.gemm_flops(t, 1, 1, _separable.GEMM_BLOCK_COLS)) * n * n / p for t in taps]
    _, gemm_cost = fit(flops, [med[t] for t in taps])
    out(f"separable (BLAS): GEMM_FLOP = {gemm_cost:.3g} s/flop")

    # separable terms on a tiny image: time = call + terms * TERM_OVERHEAD (the slope over the rank)
    tiny = rng.random((40, 40), dtype=np.float32)
    ranks = [2, 4, 6, 8]
    ranked = {r: sum(np.outer(rng.normal(size=15), rng.normal(size=15)) for _ in range(r)) for r in ranks}
    med = interleaved({r: (lambda k=k: convcli.correlate(tiny, k, method="separable", threads=1))
                       for r, k in ranked.items()}, args.repeats * 20)
    _, term_cost = fit([float(r) for r in ranks], [med[r] for r in ranks])
    out(f"separable terms: TERM_OVERHEAD = {term_cost:.3g} s/term")

    # fft: time = overhead + units * FFT / par
    sizes = [15, 31, 61, 101]
    ffts = {s: rng.normal(size=(s, s)) for s in sizes}
    med = interleaved({s: (lambda k=k: convcli.correlate(image, k, method="fft")) for s, k in ffts.items()},
                      args.repeats)
    units = [_fft.choose_tiles((n, n), (s, s), (1, 1), 1)[1] / p for s in sizes]
    # the units already hold the per-tile overhead and the cache penalty: fit through the origin
    fft_cost = float(np.median([med[s] / u for s, u in zip(sizes, units, strict=True)]))
    fft_overhead = K.FFT_OVERHEAD
    out(f"fft: FFT = {fft_cost:.3g} s/unit (per-size: "
          + ", ".join(f"{s}: {med[s] / u:.3g}" for s, u in zip(sizes, units, strict=True)) + ")")

    constants = {
        "PASS": pass_cost,
        "GATHER": gather_cost,
        "FFT": fft_cost,
        "GEMM_FLOP": gemm_cost,
        "TERM_OVERHEAD": term_cost,
        "OVERHEAD": K.OVERHEAD,
        "FFT_OVERHEAD": fft_overhead,
        "PARALLEL_EFFICIENCY": K.PARALLEL_EFFICIENCY,
    }
    if args.write:
        K.__dict__.update(constants)
    # crossovers implied by the (possibly new) constants, 4000x3000 float32, one channel
    for var, value in constants.items():
        setattr(K, var, value)
    out("\ncrossovers on a 4000x3000 float32 plane (auto's choice by kernel size):")
    for kind in ("random (full rank)", "gaussian (rank 1)"):
        picks = []
        for k in (3, 5, 7, 9, 11, 15, 21, 31, 41, 61, 101):
            kernel = rng.normal(size=(k, k)) if kind.startswith("random") else np.outer(np.hanning(k + 2)[1:-1],
                                                                                       np.hanning(k + 2)[1:-1])
            picks.append(f"{k}:{convcli.choose_method((3000, 4000), kernel).method}")
        out(f"  {kind}: " + ", ".join(picks))
    if args.write:
        body = '"""Fitted constants of the cost model (seconds per unit).\n\n'
        body += "Written by ``python benchmarks/fit_cost_model.py --write`` on:\n"
        body += "\n".join(textwrap.wrap(environment(), 100)) + '\n"""\n\n'
        notes = {
            "PASS": "one shift-and-add pass over one float32 element, in cache",
            "GATHER": "gathering (copy + convert) one element of the padded input",
            "FFT": "one FFT unit: a point times (log2 of the transform size + 4), forward and back with the product",
            "GEMM_FLOP": "one floating-point operation of a single-threaded BLAS product (banded-Toeplitz 1-D passes)",
            "TERM_OVERHEAD": "fixed cost of one separable term (factors, Toeplitz matrices, band calls), serial",
            "OVERHEAD": "fixed cost of one call",
            "FFT_OVERHEAD": "extra fixed cost of the FFT method (kernel spectrum, planning)",
            "PARALLEL_EFFICIENCY": "speed-up per extra thread (1.0 would be perfect scaling)",
        }
        for var, value in constants.items():
            body += f"#: {notes[var]}\n{var} = {value:.4g}\n"
        TARGET.write_text(body)
        out(f"\nwrote {TARGET}")
        report = ROOT / "benchmarks" / "results" / "cost_model.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(environment() + "\n\n" + "\n".join(out.lines) + "\n")


if __name__ == "__main__":
    main()
