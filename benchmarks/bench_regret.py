"""Regret of the auto chooser: auto's time divided by the fastest forced method's.

Run:  python benchmarks/bench_regret.py [--sizes 256 512 1024 2048 4096] [--kernels 3 7 15 31 61 101]

For every image size and kernel size, separable (a Gaussian-like outer product)
and not (random), it times auto and each forced method (interleaved, median),
and reports auto / fastest.  The direct method is skipped where the cost model
predicts it at more than 20x the best (it would take minutes and cannot win).
A small image filters in a millisecond or less, where one call's timing is
mostly the machine's noise: each sample times as many calls as fill about
20 ms (the same count for every method of a cell), and the median of the
samples is reported per call.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convcli
from common import environment, interleaved, table

#: seconds one timing sample should last (small images repeat the call to fill it)
SAMPLE_SECONDS = 0.02


def calls_per_sample(func: Callable[[], object]) -> int:
    """How many calls of ``func`` fill about :data:`SAMPLE_SECONDS` (at least one)."""
    start = time.perf_counter()
    func()
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, min(1000, round(SAMPLE_SECONDS / once)))


def repeated(funcs: dict[str, Callable[[], object]], calls: int) -> dict[str, Callable[[], object]]:
    """Each function made to run ``calls`` times per call (to time a batch of fast calls)."""
    def many(func: Callable[[], object]) -> Callable[[], object]:
        def run() -> None:
            for _ in range(calls):
                func()
        return run
    return {name: many(func) for name, func in funcs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--kernels", type=int, nargs="+", default=[3, 7, 15, 31, 61, 101])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    worst = 0.0
    for n in args.sizes:
        image = rng.random((n, n), dtype=np.float32)
        for k in args.kernels:
            if k > n:
                continue
            window = np.hanning(k + 2)[1:-1]
            for kind, kernel in (("separable", np.outer(window, window)), ("random", rng.normal(size=(k, k)))):
                choice = convcli.choose_method(image.shape, kernel)
                best_model = min(choice.costs.values())
                methods = [m for m in ("direct", "separable", "fft")
                           if m in choice.costs and choice.costs[m] <= 20 * best_model]
                funcs = {"auto": lambda kernel=kernel, image=image: convcli.correlate(image, kernel)}
                for m in methods:
                    funcs[m] = lambda m=m, kernel=kernel, image=image: convcli.correlate(image, kernel, method=m)
                calls = min(calls_per_sample(f) for f in funcs.values())
                med = {name: t / calls for name, t in interleaved(repeated(funcs, calls), args.repeats).items()}
                fastest = min((m for m in methods), key=lambda m: med[m])
                regret = med["auto"] / med[fastest]
                worst = max(worst, regret)
                rows.append([f"{n}²", f"{k}×{k}", kind, choice.method, fastest,
                             f"{med['auto'] * 1000:.1f}", f"{med[fastest] * 1000:.1f}", f"{regret:.2f}"])
                print(f"{n} {k} {kind}: auto={choice.method} fastest={fastest} regret={regret:.2f}", file=sys.stderr)
    text = (f"Auto chooser regret (median of {args.repeats} interleaved runs, float32); {environment()}\n\n"
            + table(["image", "kernel", "kind", "auto chose", "fastest", "auto ms", "fastest ms", "regret"], rows)
            + f"\n\nWorst regret: {worst:.2f}")
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
