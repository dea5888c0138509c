"""Missing data on the streamed path (issue 22): peak memory of `convcli apply` with NaN, --nan ignore and --mask.

Run:  python benchmarks/bench_nan_streaming.py [--workdir /tmp/convcli-nan-bench] [--side 10000] [--mask-side 12000]
                                               [--keep]

Three runs, each on a tiled TIFF (256 x 256 tiles, deflate) and on the same pixels as ``.npy`` (``np.save``):

* a ``side x side`` float32 image with NaN holes, ``-k gaussian:sigma=2 --nan ignore``;
* the same image, ``-k box:size=5`` (the default ``--nan propagate``);
* a ``mask-side x mask-side`` uint16 image with ``--mask mask.tif`` (a tiled uint8 TIFF),
  ``-k box:size=5 --nan-fill 0``.

Each is run as its own process under ``/usr/bin/time -v``; the script prints the "Maximum resident set
size" of the tiled-TIFF run (target: <= 300 MiB) and whether its output (a TIFF, read back with
tifffile) is byte-identical to the ``.npy`` run's.  The inputs are generated band by band (bounded memory)
and deleted at the end unless ``--keep``.  Exits 1 if a target is missed or an output differs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TARGET_MIB = 300
BAND = 1000


def _float_image(path_npy: Path, side: int, seed: int = 0) -> np.memmap:
    """A smooth float32 field with noise, 1 % scattered NaN and some 40 x 40 holes, written band by band."""
    out = np.lib.format.open_memmap(path_npy, mode="w+", dtype=np.float32, shape=(side, side))
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 8 * np.pi, side, dtype=np.float32)
    for r0 in range(0, side, BAND):
        r1 = min(r0 + BAND, side)
        y = np.linspace(r0, r1 - 1, r1 - r0, dtype=np.float32)[:, None] * np.float32(8 * np.pi / side)
        band = (np.sin(x)[None, :] * np.cos(y) * 100 + 500).astype(np.float32)
        band += rng.normal(0, 3, band.shape).astype(np.float32)
        band[rng.random(band.shape) < 0.01] = np.nan
        for _ in range(max(1, (r1 - r0) * side // 2_000_000)):
            r, c = rng.integers(0, r1 - r0 - 40), rng.integers(0, side - 40)
            band[r : r + 40, c : c + 40] = np.nan
        out[r0:r1] = band
    out.flush()
    return out


def _uint16_image(path_npy: Path, side: int, seed: int = 1) -> np.memmap:
    out = np.lib.format.open_memmap(path_npy, mode="w+", dtype=np.uint16, shape=(side, side))
    rng = np.random.default_rng(seed)
    for r0 in range(0, side, BAND):
        r1 = min(r0 + BAND, side)
        out[r0:r1] = (np.arange(side, dtype=np.uint32)[None, :] * 5 + rng.integers(0, 64, (r1 - r0, side))) % 65536
    out.flush()
    return out


def _mask(side: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((side, side)) > 0.1).astype(np.uint8) * 255


def _tiff(path: Path, array: np.ndarray) -> None:
    import tifffile

    tifffile.imwrite(path, array, tile=(256, 256), compression="deflate", compressionargs={"level": 1},
                     bigtiff=array.nbytes > 2**31)


def _run(args: list[str]) -> tuple[float, float]:
    """Run ``convcli apply`` under /usr/bin/time -v: (peak MiB, seconds)."""
    convcli = shutil.which("convcli") or str(Path(sys.executable).parent / "convcli")
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", convcli, "apply", *args, "--force", "-q"], capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"convcli apply {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert found is not None, done.stderr[-1000:]
    return int(found.group(1)) / 1024, seconds


def _same(a: Path, b: Path) -> bool:
    import tifffile

    x, y = tifffile.imread(a), tifffile.imread(b)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/convcli-nan-bench")
    parser.add_argument("--side", type=int, default=10_000)
    parser.add_argument("--mask-side", type=int, default=12_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs")
    opts = parser.parse_args()
    work = Path(opts.workdir)
    work.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        print(f"generating {opts.side}^2 float32 with NaN and {opts.mask_side}^2 uint16 + mask in {work} ...",
              flush=True)
        _tiff(work / "float.tif", _float_image(work / "float.npy", opts.side))
        _tiff(work / "deep.tif", _uint16_image(work / "deep.npy", opts.mask_side))
        _tiff(work / "mask.tif", _mask(opts.mask_side))
        cases = [
            ("float32 NaN, gaussian:sigma=2 --nan ignore", "float", ["-k", "gaussian:sigma=2", "--nan", "ignore"]),
            ("float32 NaN, box:size=5 (propagate)", "float", ["-k", "box:size=5"]),
            ("uint16 --mask, box:size=5 --nan-fill 0", "deep",
             ["-k", "box:size=5", "--nan-fill", "0", "--mask", str(work / "mask.tif")]),
        ]
        print(f"{'case':48} {'tiled TIFF peak':>16} {'time':>8} {'.npy peak':>10} {'same bytes':>10}")
        for label, stem, args in cases:
            tif_out, npy_out = work / f"{stem}-tiled-out.tif", work / f"{stem}-npy-out.tif"
            peak, seconds = _run([str(work / f"{stem}.tif"), *args, "-o", str(tif_out)])
            whole_peak, _ = _run([str(work / f"{stem}.npy"), *args, "-o", str(npy_out)])
            same = _same(tif_out, npy_out)
            ok = peak <= TARGET_MIB and same
            failed |= not ok
            print(f"{label:48} {peak:13.0f} MiB {seconds:7.1f}s {whole_peak:6.0f} MiB {'yes' if same else 'NO':>10}"
                  f"{'' if ok else '   <- target missed'}", flush=True)
            tif_out.unlink()
            npy_out.unlink()
    finally:
        if not opts.keep:
            for name in ("float.tif", "float.npy", "deep.tif", "deep.npy", "mask.tif"):
                (work / name).unlink(missing_ok=True)
            if not os.listdir(work):
                work.rmdir()
    print(f"target: tiled-TIFF peak <= {TARGET_MIB} MiB and bytes equal to the .npy run: "
          f"{'met' if not failed else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
