"""Dask's overhead on a batch: `convcli apply --scheduler local` against `--jobs N` on twelve-megapixel JPEGs.

Run:  python benchmarks/bench_cluster.py [--files 100] [--repeats 3] [--out benchmarks/results/cluster.md]

Makes ``--files`` 4000x3000 RGB JPEGs (quality 90) from the photographs in
/work/shared/images (or sample_images/), resized and flipped so that no two
neighbours are alike, then runs the same command twice per round, interleaved:

* ``convcli apply 'in/*.jpg' -k gaussian:sigma=2 --outdir out -q --jobs N``  (N: the cores)
* the same with ``--scheduler local`` instead of ``--jobs``: a LocalCluster of one
  single-threaded worker process per core, started by the command itself

Whole-process wall time (start-up and the cluster's start included), median of
``--repeats`` rounds, and the ratio Dask / local (issue 14's target: <= 1.2 with
2 workers).  Both runs' outputs are compared byte for byte once.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, table

ROOT = Path(__file__).resolve().parent.parent
CONVCLI = str(Path(sys.executable).parent / "convcli")
PHOTOS = [Path("/work/shared/images"), ROOT / "sample_images"]
KERNEL = "gaussian:sigma=2"


def make_inputs(folder: Path, count: int) -> None:
    """``count`` 4000x3000 JPEGs from the shipped photographs (kept between runs in ``folder``)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for extra in folder.glob("photo_*.jpg"):  # left by a run with more files
        if int(extra.stem.split("_")[1]) >= count:
            extra.unlink()
    source = next(p for p in PHOTOS if p.is_dir())
    photos = [Image.open(p).convert("RGB") for p in sorted(source.glob("*.png"))[:4]]
    flips = [None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180]
    for i in range(count):
        path = folder / f"photo_{i:04d}.jpg"
        if path.exists():
            continue
        image = photos[i % len(photos)].resize((4000, 3000), Image.Resampling.BICUBIC)
        flip = flips[(i // len(photos)) % len(flips)]
        (image if flip is None else image.transpose(flip)).save(path, quality=90)


def run(work: Path, out: str, *backend: str) -> float:
    shutil.rmtree(work / out, ignore_errors=True)
    command = [CONVCLI, "apply", "in/*.jpg", "-k", KERNEL, "--outdir", out, "-q", *backend]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return seconds


def versions() -> str:
    from importlib.metadata import version

    return "; ".join(f"{name} {version(name)}" for name in ("convcli", "dask", "distributed", "pillow"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100, help="how many 12-megapixel JPEGs (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "convcli-bench-cluster",
                        help="where the inputs are made and kept, and the outputs written")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    work = args.workdir
    make_inputs(work / "in", args.files)
    cases = {f"--jobs {cores}": ("out_jobs", "--jobs", str(cores)),
             "--scheduler local": ("out_dask", "--scheduler", "local")}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(args.repeats):
        for name, (out, *backend) in cases.items():
            times[name].append(run(work, out, *backend))
            print(f"round {round_ + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
    names = sorted(os.listdir(work / "out_jobs"))
    _, mismatch, errors = filecmp.cmpfiles(work / "out_jobs", work / "out_dask", names, shallow=False)
    same = len(names) == args.files and names == sorted(os.listdir(work / "out_dask")) and not mismatch + errors
    medians = {name: statistics.median(values) for name, values in times.items()}
    local, dask = medians[f"--jobs {cores}"], medians["--scheduler local"]
    rows = [[name, f"{medians[name]:.1f}", ", ".join(f"{t:.1f}" for t in times[name]),
             f"{args.files / medians[name]:.2f}"] for name in cases]
    text = "\n".join([
        f"Dask overhead on a batch (median of {args.repeats} interleaved rounds); {environment()}; {versions()}",
        "",
        f"{args.files} JPEGs of 4000x3000 (quality 90), `convcli apply 'in/*.jpg' -k {KERNEL} --outdir out -q` "
        f"with `--jobs {cores}` or `--scheduler local` ({cores} single-threaded worker processes); whole-process "
        "wall time, the cluster's start included.",
        "",
        table(["backend", "median s", "each round s", "files/s"], rows),
        "",
        f"Ratio --scheduler local / --jobs {cores}: **{dask / local:.3f}** (issue 14 target: <= 1.2); "
        f"difference per file: {(dask - local) / args.files * 1000:+.0f} ms. Outputs byte-identical: "
        f"{'yes' if same else 'NO'}.",
    ])
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
