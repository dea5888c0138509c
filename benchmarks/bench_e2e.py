"""End-to-end benchmark: `convcli apply` against libvips and ImageMagick on a 12-megapixel photo.

Run:  python benchmarks/bench_e2e.py [--repeats 3] [--out benchmarks/results/e2e.md]

Makes a 4000x3000 RGB JPEG and PNG from a shipped photograph, then runs the same
filter with each tool (interleaved, median wall time of the whole process, and
its peak resident memory from getrusage of the child):

* 3x3 sharpen [[0,-1,0],[-1,5,-1],[0,-1,0]]
* Gaussian sigma=2.5 on 15 taps, sigma=10 on 61 taps

Tools that are missing are skipped with a note (``apt-get install libvips-tools
imagemagick``).  Scaling (1 to 48 megapixels) and a batch of 200 small images with
--jobs 1 and --jobs 2 are measured for convcli too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, table

ROOT = Path(__file__).resolve().parent.parent
CONVCLI = shutil.which("convcli") or "convcli"
SHARPEN = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]


def gaussian_taps(sigma: float, radius: int) -> list[float]:
    x = np.arange(-radius, radius + 1)
    g = np.exp(-(x**2) / (2 * sigma**2))
    return list(g / g.sum())


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run, measured in a fresh helper process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "t = time.perf_counter() - t\n"
        "if r.returncode: sys.exit(r.stderr.decode()[-500:])\n"
        "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    # as on a user's machine: Python may cache bytecode (some sandboxes disable it, which costs ~0.2 s a start)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    seconds, rss_kib = out.stdout.split()
    return float(seconds), int(rss_kib) / 1024


def median_runs(commands: dict[str, list[str]], repeats: int) -> dict[str, tuple[float, float]]:
    for cmd in commands.values():  # warm-up: caches, bytecode
        measure(cmd)
    times: dict[str, list[float]] = {k: [] for k in commands}
    mems: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            t, m = measure(cmd)
            times[name].append(t)
            mems[name].append(m)
    return {k: (statistics.median(times[k]), max(mems[k])) for k in commands}


def write_mat(path: Path, rows: list[list[float]]) -> None:
    h, w = len(rows), len(rows[0])
    path.write_text(f"{w} {h} 1 0\n" + "\n".join(" ".join(f"{v:.10g}" for v in r) for r in rows) + "\n")


def filters(tmp: Path) -> dict[str, dict[str, list[str]]]:
    write_mat(tmp / "sharpen.mat", SHARPEN)
    specs = {}
    for label, sigma, radius in (("Gaussian σ=2.5 (15 taps)", 2.5, 7), ("Gaussian σ=10 (61 taps)", 10.0, 30)):
        taps = gaussian_taps(sigma, radius)
        write_mat(tmp / f"g{radius}.mat", [taps])
        specs[label] = (sigma, radius)
    out: dict[str, dict[str, list[str]]] = {}
    out["3x3 sharpen"] = {
        "convcli": ["-k", "0 -1 0; -1 5 -1; 0 -1 0"],
        "vips": ["conv", "{in}", "{out}", str(tmp / "sharpen.mat"), "--precision", "float"],
        "magick": ["{in}", "-morphology", "Convolve", "3x3:0,-1,0,-1,5,-1,0,-1,0", "{out}"],
    }
    for label, (sigma, radius) in specs.items():
        out[label] = {
            "convcli": ["-k", f"gaussian:sigma={sigma},radius={radius}"],
            "vips": ["convsep", "{in}", "{out}", str(tmp / f"g{radius}.mat"), "--precision", "float"],
            "magick": ["{in}", "-morphology", "Convolve", f"Gaussian:{radius}x{sigma}", "{out}"],
        }
    return out


def command(tool: str, args: list[str], src: Path, dst: Path) -> list[str]:
    if tool == "convcli":
        return [CONVCLI, "apply", str(src), *args, "-o", str(dst), "--force", "--quiet"]
    filled = [a.replace("{in}", str(src)).replace("{out}", str(dst)) for a in args]
    return ["vips", *filled] if tool == "vips" else ["convert", *filled]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-magick-slow", action="store_true", help="skip ImageMagick's 61-tap Gaussian (~1 min)")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    tools = {"convcli": True, "vips": shutil.which("vips") is not None, "magick": shutil.which("convert") is not None}
    notes = [f"{t} not installed: `apt-get install {'libvips-tools' if t == 'vips' else 'imagemagick'}`"
             for t, ok in tools.items() if not ok]
    sections = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with Image.open(ROOT / "sample_images" / "astronaut.png") as im:
            big = im.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
        big.save(tmp / "photo.jpg", quality=95)
        big.save(tmp / "photo.png")
        rows = []
        for fmt in ("jpg", "png"):
            src = tmp / f"photo.{fmt}"
            for label, per_tool in filters(tmp).items():
                commands = {}
                for tool, targs in per_tool.items():
                    if not tools[tool]:
                        continue
                    if tool == "magick" and args.skip_magick_slow and "61" in label:
                        continue
                    commands[tool] = command(tool, targs, src, tmp / f"out_{tool}.{fmt}")
                res = median_runs(commands, args.repeats)
                base = res["convcli"][0]
                for tool, (t, m) in res.items():
                    ratio = "" if tool == "convcli" else f"{base / t:.2f}"
                    rows.append([f"12 MP {fmt.upper()}", label, tool, f"{t:.2f}", f"{m:.0f}", ratio])
                print(f"done {fmt} {label}", file=sys.stderr)
        sections.append(table(["input", "filter", "tool", "median s", "peak MiB", "convcli / tool"], rows))
        print(sections[-1], flush=True)
        if not args.no_scaling:
            rows = []
            for mp in (1, 4, 12, 24, 48):
                w = int((mp * 1e6 * 4 / 3) ** 0.5)
                h = int(mp * 1e6 / w)
                path = tmp / f"scale{mp}.png"
                Image.fromarray(np.random.default_rng(mp).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
                res = median_runs({"c": command("convcli", ["-k", "gaussian:sigma=2.5,radius=7"], path,
                                                tmp / "scaled.png")}, args.repeats)
                t, m = res["c"]
                rows.append([f"{mp} MP", f"{t:.2f}", f"{t / mp * 1000:.0f}", f"{m:.0f}"])
                print(f"done scaling {mp}", file=sys.stderr)
            sections.append("Scaling, Gaussian σ=2.5 on random RGB PNGs:\n\n"
                            + table(["size", "median s", "ms per MP", "peak MiB"], rows))
            print(sections[-1], flush=True)
            batch = tmp / "batch"
            batch.mkdir()
            rng = np.random.default_rng(7)
            for i in range(200):
                Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(batch / f"{i:03d}.png")
            jobs = {}
            for j in (1, 2):
                out_dir = tmp / f"out{j}"
                out_dir.mkdir()
                jobs[f"--jobs {j}"] = [CONVCLI, "apply", "-r", str(batch), "-k", "gaussian:sigma=2", "--outdir",
                                       str(out_dir), "--jobs", str(j), "--force", "--quiet"]
            res = median_runs(jobs, args.repeats)
            speedup = res["--jobs 1"][0] / res["--jobs 2"][0]
            batch_rows = [[k, f"{v[0]:.2f}"] for k, v in res.items()]
            sections.append("Batch of 200 128x128 PNGs:\n\n" + table(["run", "median s"], batch_rows)
                            + f"\n\n--jobs 2 speed-up: {speedup:.2f}x")
    text = f"End-to-end benchmark (median of {args.repeats} interleaved runs); {environment()}\n\n"
    text += "\n\n".join(sections)
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
