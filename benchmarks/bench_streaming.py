"""Streaming benchmark (issue 13): peak memory and time of `convcli apply` on big images, beside libvips.

Run:  python benchmarks/bench_streaming.py [--workdir /tmp/convcli-bench] [--repeats 3] [--big-repeats 3]
                                          [--cases big,jpeg,height] [--no-peers] [--out benchmarks/results/streaming.md]

Three cases, each tool run side by side (interleaved) in one run of this script:

* big: a 40,000 x 40,000 8-bit grey tiled TIFF (512 x 512 tiles, deflate), ``-k gaussian:sigma=3`` into a
  tiled TIFF (``--tile 512``) against ``vips gaussblur IN OUT.tif[tile,...,bigtiff] 3``, once with deflate
  output and once uncompressed (--big-outputs): compression is much of the time.  Targets: convcli's peak
  <= 600 MiB and its time <= 1.5 x vips'.
* jpeg: a 24-MP RGB JPEG (6000 x 4000, quality 92) with ``-k sobel:axis=both``, ``-k gaussian:sigma=1
  -k laplacian --pool max:size=2`` and ``--channels sum -k box``, each written as a JPEG.  Target: peak
  <= 350 MiB each.  libvips' nearest equivalents (sobel; gaussblur, conv, rank, subsample; recomb, conv) run
  for reference, chained through .v files where the vips CLI needs several commands.
* height: the chain ``-k gaussian:sigma=2 -k laplacian --pool max:size=2`` on tiled TIFFs 4,000 wide and
  10k, 20k and 40k rows tall, into tiled TIFFs: convcli's peak should stay flat (each within 10 % of the
  first height's).

The inputs are made once and cached under --workdir (generation streams tiles, so it stays in bounded
memory): the shipped photographs in grey, laid 2 x 2 and mirror-tiled over the canvas, with seeded noise
(+-4 levels) in every tile so compression is realistic; the JPEG is the coffee photograph resized with
Pillow (Lanczos).  Outputs are checked (size, tiling) and deleted after each case.

Peak memory: each run is one fresh Python wrapper process that starts the tool(s) and reads
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest resident set of any single process it
waited for (convcli filters one file in-process; a multi-command vips chain reports its biggest step).
Reported: the median wall time (start-up included) and the largest peak over the runs.
``--no-peers`` (or no ``vips`` on PATH) measures convcli alone.  The TIFF cases need ``convcli apply
--tile``; without it they are listed as not run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_name, table

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "sample_images"
#: the photographs of the grey mosaic (2 x 2, each resized to BASE_SIDE square) and of the JPEG
MOSAIC = ("camera.png", "astronaut.png", "coffee.png", "chelsea.png")
BASE_SIDE = 512
JPEG_PHOTO = "coffee.png"
FLAT_TOLERANCE = 0.10
LAPLACIAN = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
BOX = [[1 / 9] * 3] * 3

Command = list[str]


# ---- inputs -------------------------------------------------------------------------------------------------

def base_image(folder: Path = PHOTOS, side: int = BASE_SIDE) -> np.ndarray:
    """The grey mosaic every canvas is tiled from: the MOSAIC photographs, 2 x 2, each ``side`` square."""
    parts = []
    for name in MOSAIC:
        with Image.open(folder / name) as im:
            parts.append(np.asarray(im.convert("L").resize((side, side), Image.Resampling.LANCZOS)))
    return np.block([[parts[0], parts[1]], [parts[2], parts[3]]])


def mirror_index(start: int, stop: int, period: int) -> np.ndarray:
    """Indices ``start..stop-1`` folded into ``0..period-1`` by mirroring (0 1 2 2 1 0 0 1 2 ...)."""
    i = np.arange(start, stop) % (2 * period)
    return np.where(i < period, i, 2 * period - 1 - i)


def tile_pixels(base: np.ndarray, r0: int, c0: int, tile: int, *, noise: int, seed: int) -> np.ndarray:
    """The ``tile`` x ``tile`` block at (r0, c0) of the mirror-tiled canvas, plus noise seeded by its place."""
    block = base[np.ix_(mirror_index(r0, r0 + tile, base.shape[0]), mirror_index(c0, c0 + tile, base.shape[1]))]
    if not noise:
        return np.ascontiguousarray(block)
    rng = np.random.default_rng([seed, r0, c0])
    noisy = block.astype(np.int16) + rng.integers(-noise, noise + 1, block.shape, dtype=np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def tiles(base: np.ndarray, height: int, width: int, tile: int, *, noise: int, seed: int) -> Iterator[np.ndarray]:
    """Every tile of a ``height`` x ``width`` canvas, row by row (full tiles: tifffile crops the edges)."""
    for r0 in range(0, height, tile):
        for c0 in range(0, width, tile):
            yield tile_pixels(base, r0, c0, tile, noise=noise, seed=seed)


def tiff_matches(path: Path, *, height: int, width: int, tile: int, compression: str) -> bool:
    """Whether ``path`` is a grey 8-bit tiled TIFF of that size, tile and compression (read from its header)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return (page.shape == (height, width) and page.dtype == np.uint8 and page.is_tiled
                    and (page.tilelength, page.tilewidth) == (tile, tile)
                    and (page.compression == 1) == (compression == "none"))
    except (OSError, ValueError, tifffile.TiffFileError):
        return False


def make_tiled_tiff(path: Path, *, height: int, width: int, tile: int, compression: str = "deflate",
                    noise: int = 4, seed: int = 13, base: np.ndarray | None = None) -> Path:
    """Write (once: an existing matching file is kept) a grey tiled BigTIFF from a generator of tiles.

    One compressing thread: tifffile with several threads gathers tiles from an iterator (its peak grew to
    585 MiB for 40,000², against a flat ~55 MiB with one; a minute for 40,000² with deflate).
    """
    import tifffile

    if tiff_matches(path, height=height, width=width, tile=tile, compression=compression):
        return path
    base = base_image() if base is None else base
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    tifffile.imwrite(part, tiles(base, height, width, tile, noise=noise, seed=seed), shape=(height, width),
                     dtype=np.uint8, tile=(tile, tile), photometric="minisblack", bigtiff=True,
                     compression=None if compression == "none" else "zlib", maxworkers=1)
    os.replace(part, path)
    return path


def make_jpeg(path: Path, *, width: int, height: int, quality: int = 92) -> Path:
    """Write (once) the JPEG photograph: JPEG_PHOTO resized to ``width`` x ``height`` with Pillow."""
    if path.exists():
        with Image.open(path) as im:
            if im.size == (width, height) and im.mode == "RGB":
                return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(PHOTOS / JPEG_PHOTO) as im:
        big = im.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    part = path.with_name(path.stem + ".part" + path.suffix)
    big.save(part, quality=quality)
    os.replace(part, path)
    return path


def write_mat(path: Path, rows: Sequence[Sequence[float]]) -> Path:
    """A libvips matrix file (width height scale offset, then the rows)."""
    text = f"{len(rows[0])} {len(rows)} 1 0\n" + "\n".join(" ".join(f"{v:.10g}" for v in r) for r in rows) + "\n"
    path.write_text(text)
    return path


# ---- measuring ----------------------------------------------------------------------------------------------

#: run in a fresh interpreter per measurement: the commands in order, then the wall time and the peak RSS (KiB)
PROBE = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
for cmd in json.loads(sys.argv[1]):
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-600:]}")
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(seconds, peak // 1024 if sys.platform == "darwin" else peak)
"""


class MeasureError(RuntimeError):
    """A measured command failed; the message carries the end of its stderr."""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float


def measure(commands: Sequence[Command]) -> Run:
    """Wall seconds and peak RSS (MiB, the largest single process) of running ``commands`` one after the other."""
    # as on a user's machine: Python may cache bytecode (some sandboxes disable it, which costs ~0.2 s a start)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps([list(c) for c in commands])],
                         capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise MeasureError(out.stderr.strip() or f"exit {out.returncode}")
    seconds, kib = out.stdout.split()
    return Run(float(seconds), int(kib) / 1024)


@dataclass
class Outcome:
    """One tool on one case: the runs measured, or why it was not measured."""

    runs: list[Run] = field(default_factory=list)
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        return statistics.median(r.seconds for r in self.runs) if self.runs and not self.error else None

    @property
    def peak_mib(self) -> float | None:
        return max(r.peak_mib for r in self.runs) if self.runs and not self.error else None


@dataclass
class Case:
    """One row of the table: the commands of each tool, the targets and the expected output size."""

    label: str
    convcli: list[Command]
    vips: list[Command] | None = None
    peak_target: float | None = None      # MiB
    time_target: float | None = None      # convcli s / vips s, at most
    flat_group: str | None = None         # rows of one group: peaks within FLAT_TOLERANCE of the group's first
    repeats: int = 3
    warmup: int = 1
    outputs: dict[str, tuple[Path, tuple[int, ...]]] = field(default_factory=dict)  # tool -> (file, (H, W))
    skip: str | None = None               # why convcli is not run (vips still is)
    temps: list[Path] = field(default_factory=list)  # intermediate files, removed after the case


@dataclass
class Result:
    case: Case
    convcli: Outcome
    vips: Outcome | None


def run_case(case: Case, *, measure_fn: Callable[[Sequence[Command]], Run] = measure,
             log: Callable[[str], None] = lambda _: None) -> Result:
    """Warm up, then measure the tools interleaved ``case.repeats`` times; a failing tool is noted, not retried."""
    tools: dict[str, list[Command]] = {"convcli": case.convcli}
    if case.vips:
        tools["vips"] = case.vips
    outcomes = {name: Outcome() for name in tools}
    outcomes["convcli"].error = case.skip
    for index in range(case.warmup + case.repeats):
        for name, commands in tools.items():
            outcome = outcomes[name]
            if outcome.error:
                continue
            try:
                run = measure_fn(commands)
            except MeasureError as exc:
                outcome.error = str(exc)
                log(f"{case.label}: {name} failed: {exc}")
                continue
            if index >= case.warmup:
                outcome.runs.append(run)
            log(f"{case.label}: {name} {run.seconds:.2f} s, {run.peak_mib:.0f} MiB"
                + (" (warm-up)" if index < case.warmup else ""))
        for name, (path, shape) in case.outputs.items():
            problem = check_output(path, shape) if not outcomes[name].error else None
            if problem:
                outcomes[name].error = problem
    for path in [p for p, _ in case.outputs.values()] + case.temps:
        remove(path)
    return Result(case, outcomes["convcli"], outcomes.get("vips"))


def check_output(path: Path, shape: tuple[int, ...]) -> str | None:
    """None when ``path`` holds an image of ``shape`` (H, W) (a TIFF must be tiled), else what is wrong."""
    if not path.exists():
        return f"no output {path.name}"
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            got, tiled = tuple(page.shape[:2]), page.is_tiled
        if not tiled:
            return f"{path.name} is not tiled"
    else:
        with Image.open(path) as im:
            got = (im.height, im.width)
    return None if got == tuple(shape) else f"{path.name} is {got[0]}x{got[1]}, expected {shape[0]}x{shape[1]}"


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# ---- the table ----------------------------------------------------------------------------------------------

def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def verdicts(results: Sequence[Result]) -> list[tuple[str, str]]:
    """(target, met?) for each result: peak and time targets, and flatness within each flat group."""
    firsts: dict[str, float | None] = {}
    out = []
    for res in results:
        case, peak = res.case, res.convcli.peak_mib
        ratio = ratio_of(res)
        targets, fails = [], []
        if case.peak_target is not None:
            targets.append(f"peak ≤ {case.peak_target:.0f} MiB")
            if peak is not None and peak > case.peak_target:
                fails.append(f"peak {peak:.0f} > {case.peak_target:.0f}")
        if case.time_target is not None:
            targets.append(f"time ≤ {case.time_target:g}× vips")
            if ratio is not None and ratio > case.time_target:
                fails.append(f"time {ratio:.2f}× > {case.time_target:g}×")
        if case.flat_group is not None:
            first = firsts.setdefault(case.flat_group, peak)
            targets.append(f"peak flat (≤ {1 + FLAT_TOLERANCE:g}× the first height's)")
            if peak is not None and first is not None and peak > first * (1 + FLAT_TOLERANCE):
                fails.append(f"peak {peak:.0f} > {first * (1 + FLAT_TOLERANCE):.0f}")
        if peak is None:
            met = "not run"
        elif fails:
            met = "no: " + "; ".join(fails)
        elif case.time_target is not None and ratio is None:
            met = "peak yes; time not measured (no vips)"
        else:
            met = "yes"
        out.append((", ".join(targets) or "reference", met))
    return out


def ratio_of(res: Result) -> float | None:
    """convcli's median time over vips' (above 1: convcli slower), when both were measured."""
    mine, theirs = res.convcli.seconds, res.vips.seconds if res.vips else None
    return None if mine is None or not theirs else mine / theirs


HEADER = ["case", "convcli peak MiB", "convcli s", "vips peak MiB", "vips s", "ratio", "target", "met?"]


def render_table(results: Sequence[Result]) -> str:
    rows = []
    for res, (target, met) in zip(results, verdicts(results), strict=True):
        vips = res.vips or Outcome()
        rows.append([res.case.label, _num(res.convcli.peak_mib, 0), _num(res.convcli.seconds),
                     _num(vips.peak_mib, 0), _num(vips.seconds), _num(ratio_of(res)), target, met])
    return table(HEADER, rows)


def failures(results: Sequence[Result]) -> list[str]:
    """One line per tool that did not run, with the reason (shortened)."""
    lines = []
    for res in results:
        for name, outcome in (("convcli", res.convcli), ("vips", res.vips)):
            if outcome is not None and outcome.error:
                reason = " ".join(outcome.error.split())
                lines.append(f"{res.case.label}, {name}: {reason[:300]}")
    return list(dict.fromkeys(lines))


def versions() -> str:
    parts = []
    for dist in ("convcli", "numpy", "tifffile", "imagecodecs", "zarr", "pillow"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}: not installed")
    vips = shutil.which("vips")
    if vips:
        out = subprocess.run([vips, "--version"], capture_output=True, text=True, check=False).stdout.strip()
        parts.append(f"libvips {out.removeprefix('vips-')}")
    else:
        parts.append("libvips: not installed")
    return ", ".join(parts)


def report(results: Sequence[Result], *, args: argparse.Namespace, notes: Sequence[str]) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "Streaming benchmark (issue 13): `python benchmarks/bench_streaming.py`, every tool run side by side,"
        f" interleaved, in one run; {_dt.date.today().isoformat()}; machine: {cpu_name()}, {cores} cores usable"
        f" (a shared box: absolute times drift, compare within a row); Python {platform.python_version()};"
        f" {versions()}.",
        "",
        f"Time: median wall seconds of the whole process (start-up, decode, filter, encode) over {args.repeats}"
        f" runs ({args.big_repeats} for the {args.size:,}² job), after {args.warmup} warm-up run(s) (none for the"
        " big job). Peak: the largest resident set over those runs, `getrusage(RUSAGE_CHILDREN).ru_maxrss`"
        " read in a fresh wrapper process per run (the biggest single process: convcli filters one file"
        " in-process; for a chain of vips commands, its biggest step). Ratio: convcli s / vips s (above 1:"
        " convcli slower).",
        "",
        render_table(results),
    ]
    extra = list(notes) + [f"Not measured: {line}" for line in failures(results)]
    if extra:
        lines += ["", *[f"- {note}" for note in extra]]
    return "\n".join(lines) + "\n"


# ---- the cases ----------------------------------------------------------------------------------------------

def apply_options(convcli: Command) -> str:
    """The text of ``convcli apply --help`` (wide), to see which options it has."""
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    return subprocess.run([*convcli, "apply", "--help"], capture_output=True, text=True, check=False,
                          env=env).stdout


def convcli_command() -> Command:
    found = shutil.which("convcli") or str(Path(sys.executable).with_name("convcli"))
    return [found]


def vips_tiff(path: Path, tile: int, compression: str) -> str:
    return f"{path}[tile,tile-width={tile},tile-height={tile},bigtiff,compression={compression}]"


def build_cases(args: argparse.Namespace, *, peers: bool, convcli: Command, help_text: str,
                log: Callable[[str], None] = lambda _: None) -> tuple[list[Case], list[str]]:
    """The cases asked for (making their inputs), and notes for the report."""
    work: Path = args.workdir
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    tile, comp = args.tile, args.compression
    streams = re.search(r"--tile\b", help_text) is not None
    has_compression = re.search(r"--compression\b", help_text) is not None
    tiff_options = ["--tile", str(tile)] + (["--compression", comp] if has_compression else [])
    no_tile = None if streams else "`convcli apply` has no --tile option yet (streamed TIFF output)"
    notes: list[str] = []
    cases: list[Case] = []

    def apply(src: Path, ops: Sequence[str], dst: Path, extra: Sequence[str] = ()) -> Command:
        return [*convcli, "apply", str(src), *ops, "-o", str(dst), "--force", "--quiet", *extra]

    if "big" in args.cases:
        n = args.size
        log(f"making the {n}x{n} tiled TIFF (cached) ...")
        src = make_tiled_tiff(work / f"grey_w{n}_h{n}_t{tile}_{comp}.tif", height=n, width=n, tile=tile,
                              compression=comp)
        for out_comp in args.big_outputs:
            mine, theirs = out / f"big_{out_comp}_convcli.tif", out / f"big_{out_comp}_vips.tif"
            options = ["--tile", str(tile)] + (["--compression", out_comp] if has_compression else [])
            cases.append(Case(
                f"{n:,}×{n:,} grey tiled TIFF, gaussian:sigma=3 → tiled TIFF ({out_comp})",
                [apply(src, ["-k", "gaussian:sigma=3"], mine, options)],
                [["vips", "gaussblur", str(src), vips_tiff(theirs, tile, out_comp), "3"]] if peers else None,
                peak_target=600, time_target=1.5, repeats=args.big_repeats, warmup=0,
                outputs={"convcli": (mine, (n, n)), **({"vips": (theirs, (n, n))} if peers else {})},
                skip=no_tile))
        notes.append(
            f"{n:,}² job: input {tile}×{tile} tiles, {comp}; outputs {tile}×{tile} tiles, BigTIFF, compressed as"
            " the row says (convcli's --compression, vips' compression=); convcli's kernel is SciPy's (radius"
            " int(4σ+0.5) = 12: 25 taps, float32, exact to the rounding); `vips gaussblur` σ=3 with its defaults"
            " min_ampl=0.2 (the mask stops where it falls below 20 % of its peak: radius 5, 11 taps) and"
            " precision=integer (fixed-point arithmetic): on camera.png (away from the borders) its result is up"
            " to 16 grey levels (mean 1.5) from SciPy's gaussian_filter(σ=3, truncate=4) rounded, convcli's within"
            " 1 (mean 0.00003): a shorter, coarser job than convcli's. vips cannot"
            " match it from its CLI: min_ampl stops at 0.001 (23 taps) and precision=float writes float samples."
            " Compare a tool's deflate and uncompressed rows to see what compressing the output costs it.")
    if "jpeg" in args.cases:
        w, h = args.jpeg_size
        log(f"making the {w}x{h} JPEG (cached) ...")
        src = make_jpeg(work / f"photo_{w}x{h}_q92.jpg", width=w, height=h)
        lap, box = write_mat(out / "laplacian.mat", LAPLACIAN), write_mat(out / "box.mat", BOX)
        ones = write_mat(out / "ones.mat", [[1, 1, 1]])
        mp = f"{w}×{h} ({w * h / 1e6:.3g} MP)"
        jobs = [
            ("sobel", "-k sobel:axis=both", ["-k", "sobel:axis=both"], (h, w),
             [["vips", "sobel", str(src), "{out}"]]),
            ("glp", "-k gaussian:sigma=1 -k laplacian --pool max:size=2",
             ["-k", "gaussian:sigma=1", "-k", "laplacian", "--pool", "max:size=2"], (h // 2, w // 2),
             [["vips", "gaussblur", str(src), "{t1}", "1", "--precision", "float"],
              ["vips", "conv", "{t1}", "{t2}", str(lap)],
              ["vips", "rank", "{t2}", "{t1}", "2", "2", "3"],
              ["vips", "subsample", "{t1}", "{out}", "2", "2"]]),
            ("sum", "--channels sum -k box", ["--channels", "sum", "-k", "box"], (h, w),
             [["vips", "recomb", str(src), "{t1}", str(ones)], ["vips", "conv", "{t1}", "{out}", str(box)]]),
        ]
        for key, label, ops, shape, vips_steps in jobs:
            mine, theirs = out / f"{key}_convcli.jpg", out / f"{key}_vips.jpg"
            temps = {"{t1}": str(out / f"{key}_t1.v"), "{t2}": str(out / f"{key}_t2.v"), "{out}": str(theirs)}
            vips = [[temps.get(a, a) for a in step] for step in vips_steps]
            cases.append(Case(
                f"{mp} RGB JPEG, {label} → JPEG", [apply(src, ops, mine)], vips if peers else None,
                peak_target=350, repeats=args.repeats, warmup=args.warmup,
                outputs={"convcli": (mine, shape), **({"vips": (theirs, shape)} if peers else {})},
                temps=[Path(t) for t in temps.values() if t.endswith(".v")]))
        notes.append(
            f"{mp} JPEG: made from sample_images/{JPEG_PHOTO} resized with Pillow (Lanczos), quality 92; outputs"
            " are JPEGs (convcli keeps the input's quality). vips rows are references, not the same arithmetic:"
            " `vips sobel` (its uchar fast path); `vips gaussblur 1 --precision float`, `conv` with the Laplacian,"
            " `rank 2 2 3` (2×2 max), `subsample 2 2`; `vips recomb` with [1 1 1] then `conv` with the 3×3 box;"
            " the multi-command chains pass float .v files on disk between steps, and their time includes that.")
    if "height" in args.cases:
        width = args.width
        ops = ["-k", "gaussian:sigma=2", "-k", "laplacian", "--pool", "max:size=2"]
        for height in args.heights:
            log(f"making the {width}x{height} tiled TIFF (cached) ...")
            src = make_tiled_tiff(work / f"grey_w{width}_h{height}_t{tile}_{comp}.tif", height=height, width=width,
                                  tile=tile, compression=comp)
            mine = out / f"tall{height}_convcli.tif"
            cases.append(Case(
                f"{width:,}×{height:,} grey tiled TIFF, gaussian:sigma=2, laplacian, max pool 2 → tiled TIFF",
                [apply(src, ops, mine, tiff_options)], None, flat_group="height", repeats=args.repeats,
                warmup=args.warmup, outputs={"convcli": (mine, (height // 2, width // 2))}, skip=no_tile))
        notes.append("Height series: convcli only (its peak should not grow with the height; vips is not run).")
    return cases, notes


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(match[1]), int(match[2])


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _cases(text: str) -> list[str]:
    names = [v for v in text.split(",") if v]
    unknown = sorted(set(names) - {"big", "jpeg", "height"})
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown case(s) {', '.join(unknown)}; choose from big, jpeg, height")
    return names


def _compressions(text: str) -> list[str]:
    names = [v for v in text.split(",") if v]
    unknown = sorted(set(names) - {"deflate", "none"})
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown compression(s) {', '.join(unknown)}; choose from deflate, none")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/convcli-bench"),
                        help="inputs are cached here, outputs written (and deleted) in WORKDIR/out")
    parser.add_argument("--out", type=Path, help="write the Markdown report here too")
    parser.add_argument("--cases", type=_cases, default=["big", "jpeg", "height"], help="big,jpeg,height")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-repeats", type=int, default=3, help="repeats of the big job (each may take minutes)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs per case (the big job has none)")
    parser.add_argument("--size", type=int, default=40_000, help="side of the big square TIFF")
    parser.add_argument("--width", type=int, default=4000, help="width of the height series' TIFFs")
    parser.add_argument("--heights", type=_ints, default=[10_000, 20_000, 40_000])
    parser.add_argument("--jpeg-size", type=_size, default=(6000, 4000), help="WIDTHxHEIGHT of the JPEG")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate",
                        help="of the TIFF inputs, and of the height series' outputs")
    parser.add_argument("--big-outputs", type=_compressions, default=["deflate", "none"],
                        help="the big job once per output compression (deflate,none)")
    parser.add_argument("--no-peers", action="store_true", help="measure convcli only (vips not needed)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> str:
    args = parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    peers = not args.no_peers and shutil.which("vips") is not None
    notes = [] if peers or args.no_peers else ["vips not installed (`apt-get install libvips-tools`): convcli only"]
    convcli = convcli_command()
    cases, case_notes = build_cases(args, peers=peers, convcli=convcli, help_text=apply_options(convcli), log=log)
    results = [run_case(case, log=log) for case in cases]
    text = report(results, args=args, notes=notes + case_notes)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
