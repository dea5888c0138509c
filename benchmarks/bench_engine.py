"""Engine benchmark: convcli's methods against OpenCV and SciPy on a 4000x3000 float32 plane.

Run:  python benchmarks/bench_engine.py [--repeats 5] [--quick] [--out benchmarks/results/engine.md]

Every case runs convcli (each method that applies, and auto) and the peers that
are installed, interleaved, and reports medians and the ratio auto/peer.  The
engine holds BLAS to one thread inside its own calls (library and command
alike), so no environment setting is needed.  Missing peers
are skipped with a note (``pip install opencv-python-headless scipy``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convcli
from common import environment, interleaved, table

try:
    import cv2
except ImportError:  # pragma: no cover - optional peer
    cv2 = None
try:
    import scipy.ndimage as ndi
    import scipy.signal as sig
except ImportError:  # pragma: no cover - optional peer
    ndi = sig = None


def gaussian_1d(sigma: float, radius: int) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def cases(rng: np.random.Generator) -> list[dict]:
    lap = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    g25, g10 = gaussian_1d(2.5, 7), gaussian_1d(10.0, 30)
    box = np.full(31, 1 / 31)
    rand = rng.random((61, 61))
    return [
        {"name": "Laplacian 3x3", "kernel": lap, "peers": {
            "cv2.filter2D": lambda x: cv2.filter2D(x, -1, lap.astype(np.float32), borderType=cv2.BORDER_REFLECT_101),
            "ndimage.correlate": lambda x: ndi.correlate(x, lap.astype(np.float32), mode="mirror"),
        }},
        {"name": "Gaussian σ=2.5 (15x15)", "kernel": np.outer(g25, g25), "peers": {
            "cv2.GaussianBlur": lambda x: cv2.GaussianBlur(x, (15, 15), 2.5, borderType=cv2.BORDER_REFLECT_101),
            "cv2.sepFilter2D": lambda x: cv2.sepFilter2D(x, -1, g25, g25, borderType=cv2.BORDER_REFLECT_101),
            "ndimage.gaussian_filter": lambda x: ndi.gaussian_filter(x, 2.5, truncate=7 / 2.5, mode="mirror"),
        }},
        {"name": "Gaussian σ=10 (61x61)", "kernel": np.outer(g10, g10), "peers": {
            "cv2.GaussianBlur": lambda x: cv2.GaussianBlur(x, (61, 61), 10, borderType=cv2.BORDER_REFLECT_101),
            "cv2.sepFilter2D": lambda x: cv2.sepFilter2D(x, -1, g10, g10, borderType=cv2.BORDER_REFLECT_101),
            "ndimage.gaussian_filter": lambda x: ndi.gaussian_filter(x, 10, truncate=3.0, mode="mirror"),
        }},
        {"name": "box 31x31", "kernel": np.outer(box, box), "peers": {
            "cv2.blur": lambda x: cv2.blur(x, (31, 31), borderType=cv2.BORDER_REFLECT_101),
            "ndimage.uniform_filter": lambda x: ndi.uniform_filter(x, 31, mode="mirror"),
        }},
        {"name": "random 61x61", "kernel": rand, "peers": {
            "cv2.filter2D": lambda x: cv2.filter2D(x, -1, rand.astype(np.float32), borderType=cv2.BORDER_REFLECT_101),
            "signal.fftconvolve": lambda x: sig.fftconvolve(x, rand[::-1, ::-1].astype(np.float32), mode="same"),
            "signal.oaconvolve": lambda x: sig.oaconvolve(x, rand[::-1, ::-1].astype(np.float32), mode="same"),
        }},
    ]


def available(name: str) -> bool:
    return (cv2 is not None) if name.startswith("cv2") else (ndi is not None)


def per_channel(func):
    return lambda x: np.stack([func(np.ascontiguousarray(x[..., c])) for c in range(x.shape[2])], axis=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1000x750 instead of 4000x3000")
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    h, w = (750, 1000) if args.quick else (3000, 4000)
    notes = []
    if cv2 is None:
        notes.append("OpenCV not installed: `pip install opencv-python-headless`")
    if ndi is None:
        notes.append("SciPy not installed: `pip install scipy`")
    rows = []
    for channels in args.channels:
        shape = (h, w) if channels == 1 else (h, w, channels)
        image = rng.random(shape, dtype=np.float32)
        for case in cases(rng):
            k = case["kernel"]
            funcs = {}
            taps = int(np.count_nonzero(k))
            rank = int(np.linalg.matrix_rank(k))
            methods = ["auto", "fft"] + (["separable"] if rank <= 4 else []) + (["direct"] if taps <= 64 else [])
            for m in methods:
                funcs[f"convcli {m}"] = lambda m=m, image=image, k=k: convcli.correlate(image, k, method=m)
            for name, func in case["peers"].items():
                if not available(name):
                    continue
                # OpenCV filters interleaved channels natively; SciPy's filters run per plane
                f = func if channels == 1 or name.startswith("cv2") else per_channel(func)
                funcs[name] = lambda f=f, image=image: f(image)
            med = interleaved(funcs, args.repeats)
            auto = med["convcli auto"]
            chosen = convcli.choose_method(shape, k).method
            label = f"{case['name']}, {channels} ch"
            for name, t in med.items():
                ratio = "" if name.startswith("convcli") else f"{auto / t:.2f}"
                mark = " ←auto" if name == f"convcli {chosen}" else ""
                rows.append([label, name + mark, f"{t * 1000:.1f}", ratio])
            print(f"done: {label}", file=sys.stderr)
    text = (
        f"Engine benchmark, {h}x{w} float32 (median of {args.repeats} interleaved runs); {environment()}\n\n"
        + table(["case", "implementation", "median ms", "convcli auto / peer"], rows)
        + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else "")
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        __import__("chart").main(["--engine", str(args.out)])  # benchmarks/chart.py: ratios.png beside it


if __name__ == "__main__":
    main()
