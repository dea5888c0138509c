"""Issue 15's targets in one command: every ratio, its goal and whether it is met, in one Markdown file.

Run:  python benchmarks/bench_targets.py [--quick] [--out benchmarks/results/targets.md]
                                         [--sections engine,library,regret,jpeg,png,batch,startup]
                                         [--workdir /tmp/convcli-bench/targets]

Default settings take about 12 minutes on a 2-core machine (the auto-regret grid, run twice, is about 6
of them and the batch of 100 twelve-megapixel JPEGs about 3); ``--quick`` takes about 2 minutes with a
smaller plane and grid, 10 batch files and fewer repeats: its numbers test the script, not convcli.

1. engine: one float32 plane (4000x3000) through ``convcli.correlate`` (auto) against OpenCV and SciPy,
   bench_engine.py's cases, interleaved in this process; random 61x61 against ``ndimage.correlate`` on a
   crop (a whole plane takes SciPy minutes).
2. library: the same plane as a .npy file filtered by ``convcli apply`` and by a Python process that
   calls ``convcli.correlate``; each path's filtering time is its process time minus the same process with
   the 1x1 identity kernel (paired per round), and the target is CLI / library = 1 within 10 %.
3. regret: bench_regret.py's grid in child processes, once with OPENBLAS_NUM_THREADS unset and once with
   it set to 1 (in the child's environment only); the worst cell per run and per image size.
4. jpeg: ``convcli apply`` on bench_e2e.py's 12-MP RGB JPEG (its filters) against ``vips gaussblur SIGMA``
   (what users type) and ``vips convsep`` with the same taps in float (like for like), ``vips conv`` in
   float and integer for the 3x3; convcli's peak resident memory (getrusage of the child).
5. png: the same photo as PNG, in and out, default compression: time and output size against vips.
6. batch: 100 twelve-megapixel JPEGs (8 distinct, copied; cached under --workdir), ``convcli apply
   --jobs 2 -r DIR --outdir OUT`` against ``xargs -P2 vips gaussblur``.
7. startup: ``convcli apply`` on a 64x64 PNG, median wall time of 15 runs.

Whole-process times come from bench_streaming.py's probe (a fresh wrapper process per run, wall time and
``getrusage(RUSAGE_CHILDREN)`` peak); every tool of a case runs interleaved, after warm-up runs.  Every
child process runs with PYTHONDONTWRITEBYTECODE removed from its environment: a user's installed package
has its .pyc files, and this sandbox's setting would recompile every import.  Missing peers (OpenCV,
SciPy, vips) are skipped with a note.  With --out, the chart of ratios (benchmarks/chart.py) is drawn to
ratios.png beside it.

One file past 600 lines on purpose: each section is a few dozen lines of glue around the other scripts'
functions (bench_engine's cases, bench_e2e's filters, bench_cluster's inputs, bench_streaming's probe),
and the whole is the one command the issue asks for.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_e2e
import bench_engine
import convcli
from bench_cluster import make_inputs
from bench_streaming import Command, MeasureError, Outcome, Run, convcli_command, measure, remove
from common import Goal, environment, git_commit, interleaved, libvips_version, photo_file, read_table, table

BENCH = Path(__file__).resolve().parent
SECTIONS = ("engine", "library", "regret", "jpeg", "png", "batch", "startup")
GAUSS_25 = "gaussian:sigma=2.5,radius=7"  # 15 taps, as bench_engine's and bench_e2e's
LIBRARY_GOAL = Goal(1.1, 0.9)
STARTUP_LIMIT = 0.15  # seconds
PEAK_LIMIT = 300.0  # MiB
DISTINCT_PHOTOS = 8
VIPS_MISSING = "libvips not installed (`apt-get install libvips-tools`)"

#: bench_engine's case -> the peers it is held to, with the goal on convcli auto / peer
ENGINE_TARGETS: dict[str, list[tuple[str, float]]] = {
    "Laplacian 3x3": [("cv2.filter2D", 1.1), ("ndimage.correlate", 0.5)],
    "Gaussian σ=2.5 (15x15)": [("cv2.sepFilter2D", 1.8), ("ndimage.gaussian_filter", 0.5)],
    "Gaussian σ=10 (61x61)": [("cv2.sepFilter2D", 1.8), ("ndimage.gaussian_filter", 0.5)],
    "box 31x31": [("cv2.blur", 1.8), ("ndimage.uniform_filter", 0.5)],
    "random 61x61": [("cv2.filter2D", 1.5), ("signal.fftconvolve", 1.0)],
}
#: bench_e2e's filters -> the goal on convcli / vips
JPEG_GOALS = {"3x3 sharpen": 1.3, "Gaussian σ=2.5 (15 taps)": 1.3, "Gaussian σ=10 (61 taps)": 1.0}


def _quiet(_: str) -> None:
    pass


# ---- settings, tools, results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    quick: bool = False
    plane: tuple[int, int] = (3000, 4000)  # (H, W) of the engine's and the library section's float32 plane
    engine_repeats: int = 5
    crop: tuple[int, int] = (375, 500)  # random 61x61 against ndimage.correlate
    library_repeats: int = 7
    regret_groups: tuple[tuple[tuple[int, ...], int], ...] = (((256, 512, 1024), 7), ((2048, 4096), 3))
    regret_kernels: tuple[int, ...] = (3, 7, 15, 31, 61, 101)
    photo: tuple[int, int] = (4000, 3000)  # (W, H) of the JPEG and the PNG
    e2e_repeats: int = 3
    e2e_warmup: int = 1
    batch_files: int = 100
    batch_repeats: int = 2
    batch_warmup: int = 0
    startup_runs: int = 15


FULL = Settings()
QUICK = Settings(quick=True, plane=(750, 1000), engine_repeats=3, crop=(188, 250), library_repeats=3,
                 regret_groups=(((256, 512, 1024), 5),), regret_kernels=(3, 15, 61), e2e_repeats=2,
                 e2e_warmup=0, batch_files=10, batch_repeats=1, startup_runs=10)


@dataclass(frozen=True)
class Tools:
    convcli: Command
    python: str = sys.executable
    vips: Command | None = None  # None: not installed


@dataclass
class Target:
    """One row of the summary: what convcli did, what the peer (or the limit) did, their ratio and the goal."""

    label: str
    convcli: str
    peer: str
    ratio: float | None
    goal: Goal
    why_not: str | None = None  # when there is no ratio

    @property
    def met(self) -> str:
        if self.ratio is None:
            return f"not measured: {self.why_not or 'no peer'}"
        return "yes" if self.goal.met(self.ratio) else "**no**"

    def cells(self) -> list[str]:
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}"
        return [self.label, self.convcli, self.peer, ratio, str(self.goal), self.met]


@dataclass
class Section:
    title: str
    targets: list[Target]
    detail: str
    notes: list[str] = field(default_factory=list)


def child_env(openblas: str | None = None) -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE, and OPENBLAS_NUM_THREADS set to ``openblas`` or unset."""
    drop = ("PYTHONDONTWRITEBYTECODE", "OPENBLAS_NUM_THREADS")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    if openblas is not None:
        env["OPENBLAS_NUM_THREADS"] = openblas
    return env


def run_rounds(commands: dict[str, list[Command]], *, repeats: int, warmup: int,
               measure_fn: Callable[[Sequence[Command]], Run] = measure,
               log: Callable[[str], None] = _quiet) -> dict[str, Outcome]:
    """Each tool's runs, interleaved round by round after ``warmup`` uncounted rounds; a failing tool is noted."""
    outcomes = {name: Outcome() for name in commands}
    seen = dict.fromkeys(commands, 0)
    for name in [name for _ in range(warmup + repeats) for name in commands]:
        outcome = outcomes[name]
        if outcome.error is not None:
            continue
        try:
            run = measure_fn(commands[name])
        except MeasureError as exc:
            outcome.error = " ".join(str(exc).split())[-300:]
            log(f"  {name} failed: {outcome.error}")
            continue
        seen[name] += 1
        if seen[name] > warmup:
            outcome.runs.append(run)
        log(f"  {name}: {run.seconds:.2f} s, {run.peak_mib:.0f} MiB" + (" (warm-up)" if seen[name] <= warmup else ""))
    return outcomes


def versus(label: str, mine: Outcome, theirs: Outcome | None, goal: float, *, peer: str,
           missing: str = VIPS_MISSING) -> Target:
    """A time target: convcli's median seconds over the peer's."""
    why = (f"convcli: {mine.error}" if mine.error else missing if theirs is None
           else f"{peer}: {theirs.error}" if theirs.error else None)
    ratio = None
    if why is None and mine.seconds is not None and theirs is not None and theirs.seconds:
        ratio = mine.seconds / theirs.seconds
    return Target(label, f"{_s(mine.seconds)} s", f"{peer} {_s(theirs and theirs.seconds)} s", ratio, Goal(goal),
                  why)


def shown(command: Command, tools: Tools, folder: Path) -> str:
    """A command as a user would type it: tool names for executables, names for files under ``folder``."""
    words = list(command)
    for prefix, name in ((tools.convcli, "convcli"), (tools.vips or [], "vips"), ([tools.python], "python")):
        for i in range(len(words) - len(prefix), -1, -1):
            if prefix and words[i:i + len(prefix)] == list(prefix):
                words[i:i + len(prefix)] = [name]
    words = ["SCRIPT" if "\n" in w else Path(w).name if w.startswith(str(folder)) else w for w in words]
    return " ".join(f"'{w}'" if (" " in w or ";" in w) else w for w in words)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f}"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.2f}"


# ---- 1. engine ---------------------------------------------------------------------------------------------------

def engine_inputs(plane: tuple[int, int]) -> tuple[np.ndarray, list[dict]]:
    """bench_engine's plane and cases, drawn from its seed in its order (the same random kernel)."""
    rng = np.random.default_rng(0)
    image = rng.random(plane, dtype=np.float32)
    return image, bench_engine.cases(rng)


def engine_section(s: Settings, *, log: Callable[[str], None] = _quiet) -> tuple[Section, dict[str, float]]:
    """Targets, detail, and convcli auto's median seconds per case (the library section quotes them)."""
    image, cases = engine_inputs(s.plane)
    h, w = s.plane
    targets, rows, auto_times = [], [], {}
    notes = [note for missing, note in ((bench_engine.cv2 is None, "OpenCV not installed: no cv2 rows"),
                                        (bench_engine.ndi is None, "SciPy not installed: no SciPy rows"))
             if missing]
    for case in cases:
        goals = ENGINE_TARGETS.get(case["name"])
        if goals is None:
            continue
        k = case["kernel"]
        funcs: dict[str, Callable[[], object]] = {"convcli auto": lambda k=k: convcli.correlate(image, k)}
        for peer, _ in goals:
            if bench_engine.available(peer):
                funcs[peer] = lambda f=case["peers"][peer]: f(image)
        log(f"engine: {case['name']}")
        med = interleaved(funcs, s.engine_repeats)
        auto = auto_times[case["name"]] = med["convcli auto"]
        chosen = convcli.choose_method(image.shape, k).method
        rows.append([case["name"], f"convcli auto ({chosen})", _ms(auto), ""])
        for peer, goal in goals:
            mine = f"{_ms(auto)} ms ({chosen})"
            if peer in med:
                rows.append([case["name"], peer, _ms(med[peer]), f"{auto / med[peer]:.2f}"])
                targets.append(Target(f"Engine {case['name']}: auto / {peer}", mine, f"{_ms(med[peer])} ms",
                                      auto / med[peer], Goal(goal)))
            else:
                why = "OpenCV not installed" if peer.startswith("cv2") else "SciPy not installed"
                targets.append(Target(f"Engine {case['name']}: auto / {peer}", mine, "—", None, Goal(goal), why))
        if case["name"] == "random 61x61":
            targets.append(random_on_crop(s, image, k, rows, log=log))
    detail = (f"bench_engine.py's cases on one {h}×{w} float32 plane, `convcli.correlate(image, kernel)` (auto)"
              f" and each peer interleaved in this process, median of {s.engine_repeats} runs after one"
              f" warm-up; OPENBLAS_NUM_THREADS as in the header.\n\n"
              + table(["case", "implementation", "median ms", "convcli auto / peer"], rows))
    return Section("1. Engine", targets, detail, notes), auto_times


def random_on_crop(s: Settings, image: np.ndarray, kernel: np.ndarray, rows: list[list[str]], *,
                   log: Callable[[str], None] = _quiet) -> Target:
    """Random 61x61 against ndimage.correlate on a corner of the plane (the whole plane takes SciPy minutes)."""
    ch, cw = s.crop
    label = f"Engine random 61x61 on a {ch}×{cw} crop: auto / ndimage.correlate"
    if bench_engine.ndi is None:
        return Target(label, "—", "—", None, Goal(0.5), "SciPy not installed")
    crop = np.ascontiguousarray(image[:ch, :cw])
    k32 = kernel.astype(np.float32)
    log(f"engine: random 61x61 on a {ch}x{cw} crop against ndimage.correlate")
    med = interleaved({"auto": lambda: convcli.correlate(crop, kernel),
                       "ndi": lambda: bench_engine.ndi.correlate(crop, k32, mode="mirror")},
                      max(1, s.engine_repeats - 2))
    name = f"random 61x61, {ch}×{cw} crop"
    rows += [[name, "convcli auto", _ms(med["auto"]), ""],
             [name, "ndimage.correlate", _ms(med["ndi"]), f"{med['auto'] / med['ndi']:.2f}"]]
    return Target(label, f"{_ms(med['auto'])} ms", f"{_ms(med['ndi'])} ms", med["auto"] / med["ndi"], Goal(0.5))


# ---- 2. library = CLI --------------------------------------------------------------------------------------------

#: the library path as a user's script: load the .npy, filter, save
LIBRARY_PROBE = """\
import sys
import numpy as np
import convcli
np.save(sys.argv[2], convcli.correlate(np.load(sys.argv[1]), convcli.kernel(sys.argv[3]).matrix))
"""


def scratch_folder(workdir: Path) -> Path:
    """A new folder in memory (/dev/shm) when there is one, else under ``workdir``: the .npy files' disk time
    (convcli's writes are durable: fsync) is not what this section compares."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else workdir
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="convcli-targets-", dir=base))


def library_section(s: Settings, tools: Tools, workdir: Path, *, engine_times: dict[str, float] | None = None,
                    measure_fn: Callable[[Sequence[Command]], Run] = measure,
                    log: Callable[[str], None] = _quiet) -> Section:
    """The CLI's path and the library's on one .npy, in this process (the target) and as whole processes."""
    from convcli import batch
    from convcli.recipe import build_recipe

    folder = scratch_folder(workdir)
    image, cases = engine_inputs(s.plane)
    src = folder / "plane.npy"
    np.save(src, image)
    np.save(folder / "random61.npy", next(c["kernel"] for c in cases if c["name"] == "random 61x61"))
    kernels = {"Gaussian σ=2.5 (15x15)": GAUSS_25, "random 61x61": str(folder / "random61.npy")}
    h, w = s.plane
    targets, rows, commands = [], [], {}
    try:
        for name, spec in kernels.items():
            label = f"Library = CLI, {name}, {h}×{w} float32 .npy: CLI's path / library's"
            mine, theirs = folder / "cli.npy", folder / "lib.npy"
            try:
                recipe = build_recipe(kernels=[spec], output=str(mine), force=True)

                def via_cli(recipe=recipe) -> None:
                    result = batch.run_batch(batch.plan_tasks(recipe, [str(src)]), recipe)[0]
                    if result.status != "written":
                        raise RuntimeError(f"{result.status}: {result.error}")

                def via_library(spec=spec, theirs=theirs) -> None:
                    np.save(theirs, convcli.correlate(np.load(src), convcli.kernel(spec).matrix))

                log(f"library: {name}, in this process")
                med = interleaved({"cli": via_cli, "lib": via_library}, s.library_repeats)
            except Exception as exc:  # others edit the library: say what broke, measure the rest
                targets.append(Target(label, "—", "—", None, LIBRARY_GOAL, f"{type(exc).__name__}: {exc}"[:300]))
                continue
            same = same_arrays(mine, theirs)
            warm = (engine_times or {}).get(name)
            targets.append(Target(label, f"{_ms(med['cli'])} ms", f"{_ms(med['lib'])} ms", med["cli"] / med["lib"],
                                  LIBRARY_GOAL))
            procs = {f"`convcli apply` {name}": [[*tools.convcli, "apply", str(src), "-k", spec, "-o",
                                                  str(folder / "cli_process.npy"), "--force", "--quiet"]],
                     f"library script {name}": [[tools.python, "-c", LIBRARY_PROBE, str(src),
                                                 str(folder / "lib_process.npy"), spec]]}
            commands.update(procs)
            log(f"library: {name}, whole processes")
            outcomes = run_rounds(procs, repeats=s.library_repeats, warmup=1, measure_fn=measure_fn, log=log)
            cli_s, lib_s = (o.seconds for o in outcomes.values())
            rows.append([name, _ms(med["cli"]), _ms(med["lib"]), f"{med['cli'] / med['lib']:.2f}", _ms(warm), same,
                         _s(cli_s), _s(lib_s), "—" if cli_s is None or lib_s is None else f"{cli_s - lib_s:+.2f}"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    shown_commands = "; ".join(f"`{shown(c[0], tools, folder)}`" for c in list(commands.values())[:2])
    detail = (
        f"The engine's {h}×{w} float32 plane as a .npy file (in /dev/shm when there is one, so that disk writes,"
        " durable in convcli, do not count), read, filtered and written by two paths in this process,"
        f" interleaved, median of {s.library_repeats} runs after one warm-up: the CLI's"
        " (`build_recipe(kernels=[SPEC], output=...)`, `batch.plan_tasks`, `batch.run_batch`: what `convcli apply`"
        " runs once its options are parsed) and the library's (`np.save(out, convcli.correlate(np.load(src),"
        " convcli.kernel(SPEC).matrix))`). The goal: the same time (within 10 %). For reference, the engine"
        " section's `convcli.correlate` alone, and whole processes (median of"
        f" {s.library_repeats} interleaved runs): {shown_commands} (SCRIPT: the library's line), whose"
        " difference is the command's own start-up (Typer, Rich, option checks).\n\n"
        + table(["kernel", "CLI path ms", "library ms", "ratio", "correlate alone ms", "same output",
                 "`convcli apply` process s", "library script process s", "difference s"], rows))
    return Section("2. Library and CLI: one code path", targets, detail)


def same_arrays(first: Path, second: Path) -> str:
    """Whether two .npy outputs are identical: "yes", or how they differ."""
    try:
        a, b = np.load(first), np.load(second)
    except (OSError, ValueError) as exc:
        return f"not compared ({exc})"
    if a.shape != b.shape:
        return f"no: shapes {a.shape} and {b.shape}"
    return "yes" if np.array_equal(a, b, equal_nan=True) else f"no: max difference {np.nanmax(np.abs(a - b)):.3g}"


# ---- 3. auto regret ----------------------------------------------------------------------------------------------

def regret_section(s: Settings, tools: Tools, workdir: Path, *,
                   runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                   log: Callable[[str], None] = _quiet) -> Section:
    workdir.mkdir(parents=True, exist_ok=True)
    goal = Goal(1.2)
    targets, grids, runs = [], [], {}
    for setting in (None, "1"):
        name = " unset" if setting is None else f"={setting}"
        rows: list[dict[str, str]] = []
        error = None
        for sizes, repeats in s.regret_groups:
            report = workdir / f"regret_openblas_{setting or 'unset'}_{sizes[0]}.md"
            command = [tools.python, str(BENCH / "bench_regret.py"), "--sizes", *map(str, sizes),
                       "--kernels", *map(str, s.regret_kernels), "--repeats", str(repeats), "--out", str(report)]
            log(f"regret: OPENBLAS_NUM_THREADS{name}, sizes {' '.join(map(str, sizes))}, {repeats} repeats")
            done = runner(command, env=child_env(setting), capture_output=True, text=True, check=False)
            if done.returncode:
                error = f"bench_regret.py exited {done.returncode}: {' '.join(done.stderr.split())[-300:]}"
                break
            rows += read_table(report.read_text(encoding="utf-8"), "image")
        label = f"Auto regret, worst cell of the grid, OPENBLAS_NUM_THREADS{name}"
        if error or not rows:
            targets.append(Target(label, "—", "fastest forced method", None, goal, error or "no rows"))
            continue
        runs[name] = rows
        worst = worst_cell(rows)
        targets.append(Target(label, f"{worst['regret']}: {describe(worst)}", "fastest forced method",
                              float(worst["regret"]), goal))
        grids.append(f"OPENBLAS_NUM_THREADS{name}: auto's time / the fastest forced method's, separable /"
                     f" random kernel (bold: above {goal.high:g})\n\n" + regret_grid(rows, goal))
    sizes = list(dict.fromkeys(row["image"] for rows in runs.values() for row in rows))
    per_size = [[size, *(describe_worst([r for r in rows if r["image"] == size]) for rows in runs.values())]
                for size in sizes]
    groups = "; ".join(f"{' '.join(map(str, sz))}² with --repeats {r}" for sz, r in s.regret_groups)
    detail = (f"`python benchmarks/bench_regret.py` in child processes ({groups}; kernels"
              f" {', '.join(map(str, s.regret_kernels))}), with OPENBLAS_NUM_THREADS unset and set to 1 in the"
              " child's environment. Worst cell per image size:\n\n"
              + table(["image", *(f"OPENBLAS_NUM_THREADS{name}" for name in runs)], per_size)
              + "".join(f"\n\n{grid}" for grid in grids))
    return Section("3. Auto regret", targets, detail)


def worst_cell(rows: Sequence[dict[str, str]]) -> dict[str, str]:
    return max(rows, key=lambda row: float(row["regret"]))


def describe(row: dict[str, str]) -> str:
    return f"{row['image']}, {row['kernel']} {row['kind']} (auto {row['auto chose']}, fastest {row['fastest']})"


def describe_worst(rows: Sequence[dict[str, str]]) -> str:
    if not rows:
        return "—"
    worst = worst_cell(rows)
    return f"{worst['regret']} ({worst['kernel']} {worst['kind']})"


def regret_grid(rows: Sequence[dict[str, str]], goal: Goal) -> str:
    """Image sizes down, kernel sizes across, each cell ``separable / random``."""
    def cell(size: str, kernel: str, kind: str) -> str:
        found = [row["regret"] for row in rows if (row["image"], row["kernel"], row["kind"]) == (size, kernel, kind)]
        if not found:
            return "—"
        return found[0] if goal.met(float(found[0])) else f"**{found[0]}**"

    sizes = list(dict.fromkeys(row["image"] for row in rows))
    kernels = list(dict.fromkeys(row["kernel"] for row in rows))
    body = [[size, *(f"{cell(size, k, 'separable')} / {cell(size, k, 'random')}" for k in kernels)]
            for size in sizes]
    return table(["image", *kernels], body)


# ---- 4. end to end, 12-MP JPEG -----------------------------------------------------------------------------------

def _tool(tools: Tools, tool: str, args: list[str], src: Path, dst: Path) -> Command:
    """bench_e2e's command line for ``tool``, run through this run's executables."""
    prefix = tools.convcli if tool == "convcli" else tools.vips or ["vips"]
    return [*prefix, *bench_e2e.command(tool, args, src, dst)[1:]]


def jpeg_section(s: Settings, tools: Tools, workdir: Path, *,
                 measure_fn: Callable[[Sequence[Command]], Run] = measure,
                 log: Callable[[str], None] = _quiet) -> Section:
    w, h = s.photo
    src = photo_file(workdir / f"photo_{w}x{h}_q95.jpg", size=s.photo)
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    targets, rows, peaks = [], [], []
    for index, (label, per_tool) in enumerate(bench_e2e.filters(out).items()):
        goal = JPEG_GOALS.get(label)
        if goal is None:
            continue
        peers: dict[str, list[str]] = {}
        sigma = re.search(r"sigma=([0-9.]+)", " ".join(per_tool["convcli"]))
        if sigma:
            peers[f"vips gaussblur {float(sigma[1]):g}"] = ["gaussblur", "{in}", "{out}", f"{float(sigma[1]):g}"]
            peers["vips convsep, float, same taps"] = per_tool["vips"]
        else:
            peers["vips conv, float"] = per_tool["vips"]
            peers["vips conv, integer"] = [a.replace("float", "integer") for a in per_tool["vips"]]
        files = {name: out / f"jpeg{index}_{i}.jpg" for i, name in enumerate(["convcli", *peers])}
        commands = {"convcli": [_tool(tools, "convcli", per_tool["convcli"], src, files["convcli"])]}
        if tools.vips:
            commands.update({name: [_tool(tools, "vips", args, src, files[name])] for name, args in peers.items()})
        log(f"jpeg: {label}")
        outcomes = run_rounds(commands, repeats=s.e2e_repeats, warmup=s.e2e_warmup, measure_fn=measure_fn, log=log)
        mine = outcomes["convcli"]
        if mine.peak_mib is not None:
            peaks.append((mine.peak_mib, label))
        for name in ["convcli", *peers]:
            outcome = outcomes.get(name)
            size = files[name].stat().st_size if files[name].exists() else None
            ratio = "" if name == "convcli" or outcome is None or outcome.seconds is None or mine.seconds is None \
                else f"{mine.seconds / outcome.seconds:.2f}"
            command = shown(commands[name][0], tools, workdir) if name in commands else "not run"
            rows.append([label, name, f"`{command}`", _s(outcome and outcome.seconds),
                         "—" if outcome is None or outcome.peak_mib is None else f"{outcome.peak_mib:.0f}",
                         "—" if size is None else f"{size / 1e6:.2f}", ratio])
            if name != "convcli":
                targets.append(versus(f"12-MP JPEG, {label}: convcli / {name}", mine, outcome, goal, peer=name))
        for path in files.values():
            remove(path)
    worst = max(peaks, default=None)
    targets.append(Target("12-MP JPEG: convcli's peak memory / 300 MiB",
                          "—" if worst is None else f"{worst[0]:.0f} MiB ({worst[1]})", f"limit {PEAK_LIMIT:.0f} MiB",
                          None if worst is None else worst[0] / PEAK_LIMIT, Goal(1.0),
                          None if worst else "convcli did not run"))
    detail = (f"A {w}×{h} RGB JPEG (sample_images/astronaut.png resized with Lanczos, quality 95, as"
              f" bench_e2e.py makes it) through bench_e2e.py's filters; whole processes, interleaved, median of"
              f" {s.e2e_repeats} after {s.e2e_warmup} warm-up round(s); peak resident memory from getrusage of"
              " the child. `vips gaussblur` is what users type (its defaults: min_ampl 0.2, so fewer taps, and"
              " integer precision); `vips convsep` with the same 15 or 61 float taps is like for like. convcli"
              " writes the JPEG at the input's quality, vips at its default Q 75 (see the output sizes).\n\n"
              + table(["filter", "tool", "command", "median s", "peak MiB", "output MB", "convcli / tool"], rows))
    return Section("4. End to end, 12-MP JPEG", targets, detail,
                   [] if tools.vips else [f"{VIPS_MISSING}: convcli only"])


# ---- 5. PNG in and out -------------------------------------------------------------------------------------------

def png_section(s: Settings, tools: Tools, workdir: Path, *,
                measure_fn: Callable[[Sequence[Command]], Run] = measure,
                log: Callable[[str], None] = _quiet) -> Section:
    w, h = s.photo
    src = photo_file(workdir / f"photo_{w}x{h}.png", size=s.photo)
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    files = {"convcli": out / "png_convcli.png", "vips gaussblur 2.5": out / "png_vips.png"}
    commands = {"convcli": [[*tools.convcli, "apply", str(src), "-k", GAUSS_25, "-o", str(files["convcli"]),
                             "--force", "--quiet"]]}
    if tools.vips:
        commands["vips gaussblur 2.5"] = [[*tools.vips, "gaussblur", str(src), str(files["vips gaussblur 2.5"]),
                                           "2.5"]]
    log("png: Gaussian σ=2.5")
    outcomes = run_rounds(commands, repeats=s.e2e_repeats, warmup=s.e2e_warmup, measure_fn=measure_fn, log=log)
    sizes = {name: (path.stat().st_size if path.exists() else None) for name, path in files.items()}
    mine, theirs = outcomes["convcli"], outcomes.get("vips gaussblur 2.5")
    time_target = versus(f"{w}×{h} PNG in and out, Gaussian σ=2.5: convcli / vips", mine, theirs, 1.0,
                         peer="vips gaussblur 2.5")
    size_label = "PNG output size: convcli / vips"
    if sizes["convcli"] and sizes["vips gaussblur 2.5"]:
        size_target = Target(size_label, f"{sizes['convcli'] / 1e6:.2f} MB",
                             f"vips {sizes['vips gaussblur 2.5'] / 1e6:.2f} MB",
                             sizes["convcli"] / sizes["vips gaussblur 2.5"], Goal(1.0))
    else:
        size_target = Target(size_label, "—", "—", None, Goal(1.0), time_target.why_not or "no output")
    rows = [[name, f"`{shown(commands[name][0], tools, workdir)}`" if name in commands else "not run",
             _s(outcome.seconds), "—" if outcome.peak_mib is None else f"{outcome.peak_mib:.0f}",
             "—" if sizes[name] is None else f"{sizes[name]:,}"]
            for name, outcome in outcomes.items()]
    for path in files.values():
        remove(path)
    detail = (f"The {w}×{h} photo saved as PNG by Pillow (default level), filtered into a PNG by each tool with its"
              f" default compression; median of {s.e2e_repeats} interleaved runs after {s.e2e_warmup} warm-up"
              " round(s).\n\n" + table(["tool", "command", "median s", "peak MiB", "output bytes"], rows))
    return Section("5. End to end, PNG in and out", [time_target, size_target], detail)


# ---- 6. batch ----------------------------------------------------------------------------------------------------

def batch_inputs(workdir: Path, files: int) -> Path:
    """``files`` 12-MP JPEGs: bench_cluster's first DISTINCT_PHOTOS inputs, copied round (cached)."""
    distinct = workdir / "batch_distinct"
    make_inputs(distinct, DISTINCT_PHOTOS)
    folder = workdir / f"batch_{files}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        path = folder / f"photo_{i:04d}.jpg"
        if not path.exists():
            shutil.copyfile(distinct / f"photo_{i % DISTINCT_PHOTOS:04d}.jpg", path)
    return folder


def batch_section(s: Settings, tools: Tools, workdir: Path, folder: Path, *,
                  measure_fn: Callable[[Sequence[Command]], Run] = measure,
                  log: Callable[[str], None] = _quiet) -> Section:
    inputs = sorted(folder.glob("*.jpg"))
    outdirs = {"convcli": workdir / "out" / "batch_convcli", "vips": workdir / "out" / "batch_vips"}
    for path in outdirs.values():
        remove(path)
        path.mkdir(parents=True)
    arguments = workdir / "out" / "batch_vips.args"  # xargs -0 -n3: input, output, sigma
    arguments.write_bytes(b"".join(b"\0".join([str(p).encode(), str(outdirs["vips"] / p.name).encode(), b"2.5"])
                                   + b"\0" for p in inputs))
    commands = {"convcli --jobs 2": [[*tools.convcli, "apply", "--jobs", "2", "-r", str(folder), "-k", GAUSS_25,
                                      "--outdir", str(outdirs["convcli"]), "--force", "--quiet"]]}
    if tools.vips:
        commands["xargs -P2 vips gaussblur"] = [["xargs", "-0", "-P2", "-n3", "-a", str(arguments), *tools.vips,
                                                 "gaussblur"]]
    log(f"batch: {len(inputs)} files")
    outcomes = run_rounds(commands, repeats=s.batch_repeats, warmup=s.batch_warmup, measure_fn=measure_fn, log=log)
    for name, outcome in outcomes.items():
        written = len(list(outdirs[name.split()[0] if name.startswith("convcli") else "vips"].glob("*.jpg")))
        if outcome.error is None and written != len(inputs):
            outcome.error = f"wrote {written} of {len(inputs)} files"
    quick = f" (--quick; the target is {FULL.batch_files})" if len(inputs) != FULL.batch_files else ""
    target = versus(f"Batch of {len(inputs)} 12-MP JPEGs{quick}, Gaussian σ=2.5: convcli --jobs 2 / xargs -P2 vips",
                    outcomes["convcli --jobs 2"], outcomes.get("xargs -P2 vips gaussblur"), 1.0,
                    peer="xargs -P2 vips gaussblur")
    rows = [[name, f"`{shown(commands[name][0], tools, workdir)}`", _s(outcome.seconds),
             ", ".join(f"{r.seconds:.1f}" for r in outcome.runs) or (outcome.error or "—")]
            for name, outcome in outcomes.items()]
    for path in [*outdirs.values(), arguments]:
        remove(path)
    detail = (f"{len(inputs)} JPEGs of 4000×3000 (bench_cluster.py's inputs, quality 90: {DISTINCT_PHOTOS} distinct"
              f" photos copied round, cached in {folder}){quick}; whole commands, interleaved, median of"
              f" {s.batch_repeats} round(s) after {s.batch_warmup} warm-up round(s). xargs reads the input, output"
              " and sigma of each file from a NUL-separated list (the same as"
              " `ls DIR/*.jpg | xargs -P2 -I{} vips gaussblur {} OUT/... 2.5`).\n\n"
              + table(["tool", "command", "median s", "each round s"], rows))
    return Section("6. Batch", [target], detail, [] if tools.vips else [f"{VIPS_MISSING}: convcli only"])


# ---- 7. start-up -------------------------------------------------------------------------------------------------

def startup_section(s: Settings, tools: Tools, workdir: Path, *,
                    measure_fn: Callable[[Sequence[Command]], Run] = measure,
                    log: Callable[[str], None] = _quiet) -> Section:
    src = photo_file(workdir / "photo_64x64.png", size=(64, 64))
    dst = workdir / "out" / "small.png"
    dst.parent.mkdir(parents=True, exist_ok=True)
    commands = {"convcli": [[*tools.convcli, "apply", str(src), "-k", GAUSS_25, "-o", str(dst), "--force", "--quiet"]],
                "python -c pass": [[tools.python, "-c", "pass"]]}
    log(f"startup: {s.startup_runs} runs")
    outcomes = run_rounds(commands, repeats=s.startup_runs, warmup=1, measure_fn=measure_fn, log=log)
    remove(dst)
    mine = outcomes["convcli"]
    label = "convcli apply on a 64×64 PNG: wall time / 0.15 s"
    if mine.seconds is None:
        target = Target(label, "—", f"limit {STARTUP_LIMIT} s", None, Goal(1.0), mine.error)
    else:
        target = Target(label, f"{mine.seconds:.3f} s (median of {len(mine.runs)})", f"limit {STARTUP_LIMIT} s",
                        mine.seconds / STARTUP_LIMIT, Goal(1.0))
    rows = [[name, f"`{shown(commands[name][0], tools, workdir)}`", f"{o.seconds:.3f}" if o.seconds else "—",
             f"{min(r.seconds for r in o.runs):.3f}" if o.runs else "—"] for name, o in outcomes.items()]
    detail = (f"Median wall time of {s.startup_runs} runs after one warm-up, interleaved with the bare interpreter's"
              " start for reference.\n\n" + table(["process", "command", "median s", "fastest s"], rows))
    return Section("7. Start-up", [target], detail)


# ---- the report ----------------------------------------------------------------------------------------------------

def header() -> str:
    """One line: machine, date, versions (Python, NumPy, OpenCV, SciPy, Pillow, libvips), convcli's commit."""
    try:
        version = metadata.version("convcli")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    return (f"Machine and versions: {environment()}; libvips {libvips_version() or 'not installed'};"
            f" convcli {version}, git {git_commit()}")


def report(sections: Sequence[Section], *, settings: Settings, seconds: float) -> str:
    targets = [t for section in sections for t in section.targets]
    measured = [t for t in targets if t.ratio is not None]
    met = [t for t in measured if t.met == "yes"]
    mode = ("--quick: smaller inputs and fewer repeats; these numbers test the script, not convcli" if settings.quick
            else "full settings")
    lines = [
        header(),
        "",
        f"`python benchmarks/bench_targets.py` ({mode}; {seconds / 60:.1f} min). Every child process ran with"
        " PYTHONDONTWRITEBYTECODE removed from its environment, so start-ups read cached bytecode as an installed"
        " package does. Ratios are convcli / peer from interleaved runs in this one run (times: medians), or"
        " convcli / the limit for an absolute target; above 1 convcli is slower, bigger or over the limit.",
        "",
        table(["target", "convcli", "peer", "ratio", "goal", "met?"], [t.cells() for t in targets]),
        "",
        f"Met: {len(met)} of {len(measured)} measured targets"
        + (f" ({len(targets) - len(measured)} not measured)." if len(measured) < len(targets) else "."),
    ]
    for section in sections:
        lines += ["", f"## {section.title}", "", section.detail]
        if section.notes:
            lines += ["", *(f"- {note}" for note in section.notes)]
    return "\n".join(lines) + "\n"


def _sections(text: str) -> list[str]:
    names = [v for v in text.split(",") if v]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="about 2 minutes: smaller inputs, fewer repeats")
    parser.add_argument("--out", type=Path, help="write the Markdown here, and the chart to ratios.png beside it")
    parser.add_argument("--sections", type=_sections, default=list(SECTIONS), help=",".join(SECTIONS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/convcli-bench/targets"),
                        help="inputs are cached here, outputs written (and deleted) in WORKDIR/out")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None, tools: Tools | None = None) -> str:
    args = parse_args(argv)
    s = settings or (QUICK if args.quick else FULL)
    if tools is None:
        tools = Tools(convcli_command(), vips=["vips"] if shutil.which("vips") else None)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    start = time.perf_counter()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = []
    engine_times: dict[str, float] | None = None
    for name in (n for n in SECTIONS if n in args.sections):
        if name == "engine":
            section, engine_times = engine_section(s, log=log)
        elif name == "library":
            section = library_section(s, tools, work, engine_times=engine_times, log=log)
        elif name == "regret":
            section = regret_section(s, tools, work, log=log)
        elif name == "jpeg":
            section = jpeg_section(s, tools, work, log=log)
        elif name == "png":
            section = png_section(s, tools, work, log=log)
        elif name == "batch":
            section = batch_section(s, tools, work, batch_inputs(work, s.batch_files), log=log)
        else:
            section = startup_section(s, tools, work, log=log)
        sections.append(section)
    text = report(sections, settings=s, seconds=time.perf_counter() - start)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        import chart

        chart.main(["--targets", str(args.out), "--out", str(args.out.parent / "ratios.png")])
    return text


if __name__ == "__main__":
    main()
