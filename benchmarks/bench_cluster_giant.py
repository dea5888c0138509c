"""One giant image on a local Dask cluster, band by band, against the local single-process run.

Run:  python benchmarks/bench_cluster_giant.py [--side 40000] [--repeats 1] [--out benchmarks/results/cluster.md]

The input is the tiled TIFF of benchmarks/bench_streaming.py (gray uint8,
512x512 deflate tiles; made and cached in /tmp/convcli-bench when missing).
Interleaved, per round:

* local: ``convcli apply big.tif -k gaussian:sigma=3 -o local.zarr -q`` in a
  subprocess (whole-process wall time; its peak RSS from ``wait4``);
* cluster: :func:`convcli.batch.filter_on_cluster` on a client of ``LocalCluster``
  (2 single-threaded worker processes, configured as ``--scheduler local``
  starts them, a new cluster each round): the call's wall time, and each worker's own peak RSS
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` through ``client.run``; worker
  processes are new each round, so the peak is this round's).

Issue 14's target: each worker under 1 GiB.  The two outputs are compared
chunk row by chunk row once.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_streaming import make_tiled_tiff
from common import environment, table

CONVCLI = str(Path(sys.executable).parent / "convcli")
KERNEL = "gaussian:sigma=3"
WORK = Path("/tmp/convcli-bench")


def run_local(source: Path, out: Path) -> tuple[float, float]:
    """Seconds and peak MiB of ``convcli apply`` in its own process."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    process = subprocess.Popen([CONVCLI, "apply", str(source), "-k", KERNEL, "-o", str(out), "-q"])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"convcli apply exited {process.returncode}")
    return seconds, usage.ru_maxrss / 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_cluster(source: Path, out: Path, workers: int) -> tuple[float, float, list[float], int]:
    """Seconds of :func:`convcli.batch.filter_on_cluster`, start seconds, worker peaks (MiB), band tasks."""
    import dask
    import distributed

    from convcli.batch import filter_on_cluster, giant
    from convcli.recipe import build_recipe

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):  # as connect()
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=50)
    tasks = 0
    real = giant._submit_band

    def counting(*args: object) -> object:
        nonlocal tasks
        tasks += 1
        return real(*args)  # type: ignore[arg-type]

    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(workers)
            start_seconds = time.perf_counter() - started
            recipe = build_recipe(kernels=[KERNEL], outdir=str(out.parent))
            giant._submit_band = counting  # type: ignore[assignment]
            start = time.perf_counter()
            result = filter_on_cluster(source, out, recipe, client)
            seconds = time.perf_counter() - start
            if result.status != "written":
                raise RuntimeError(result.error)
            peaks = sorted(client.run(_peak_mib).values())
    finally:
        giant._submit_band = real  # type: ignore[assignment]
        cluster.close()
    return seconds, start_seconds, peaks, tasks


def same_arrays(a: Path, b: Path) -> bool:
    import zarr

    x, y = zarr.open_array(str(a), mode="r"), zarr.open_array(str(b), mode="r")
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    rows = x.chunks[0]
    return all(np.array_equal(x[r : r + rows], y[r : r + rows]) for r in range(0, x.shape[0], rows))


def versions() -> str:
    from importlib.metadata import version

    return "; ".join(f"{name} {version(name)}" for name in ("convcli", "dask", "distributed", "tifffile", "zarr"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=40000, help="the image's width and height (default 40000)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--out", type=Path, help="append the Markdown section to this file")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    n = args.side
    source = make_tiled_tiff(WORK / f"grey_w{n}_h{n}_t512_deflate.tif", height=n, width=n, tile=512)
    local_out, cluster_out = WORK / "giant_local.zarr", WORK / "giant_cluster.zarr"
    local_times, local_peaks, cluster_times, starts, peaks, tasks = [], [], [], [], [], 0
    for round_ in range(args.repeats):
        seconds, peak = run_local(source, local_out)
        local_times.append(seconds)
        local_peaks.append(peak)
        print(f"round {round_ + 1}: local {seconds:.1f} s, peak {peak:.0f} MiB", flush=True)
        seconds, start, worker_peaks, tasks = run_cluster(source, cluster_out, args.workers)
        cluster_times.append(seconds)
        starts.append(start)
        peaks.append(worker_peaks)
        print(f"round {round_ + 1}: cluster {seconds:.1f} s (+{start:.1f} s start), {tasks} band tasks, "
              f"worker peaks {', '.join(f'{p:.0f}' for p in worker_peaks)} MiB", flush=True)
    same = same_arrays(local_out, cluster_out)
    local, dask = statistics.median(local_times), statistics.median(cluster_times)
    worst = max(max(p) for p in peaks)
    rows = [["local (`convcli apply`, one process)", f"{local:.1f}", ", ".join(f"{t:.1f}" for t in local_times),
             f"{max(local_peaks):.0f} (the process)"],
            [f"`--scheduler local`, {args.workers} workers (filter_on_cluster)", f"{dask:.1f}",
             ", ".join(f"{t:.1f}" for t in cluster_times),
             "; ".join(", ".join(f"{p:.0f}" for p in round_peaks) for round_peaks in peaks) + " (each worker)"]]
    text = "\n".join([
        "",
        f"## One giant image, band by band ({environment()}; {versions()})",
        "",
        f"{n}x{n} gray uint8 tiled TIFF (512x512 deflate tiles), `-k {KERNEL}` to a `.zarr` output; median of "
        f"{args.repeats} interleaved round(s). The local run is a whole process (start-up included); the cluster "
        f"run is the `filter_on_cluster` call on a running LocalCluster (its start: "
        f"{statistics.median(starts):.1f} s more), {tasks} band tasks.",
        "",
        table(["run", "median s", "each round s", "peak RSS MiB"], rows),
        "",
        f"Ratio cluster / local: **{dask / local:.3f}**. Largest worker peak: **{worst:.0f} MiB** (issue 14 target: "
        f"< 1024 MiB per worker: {'met' if worst < 1024 else 'NOT met'}). Outputs identical: "
        f"{'yes' if same else 'NO'}.",
    ])
    print(text)
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
