"""`convcli apply --scheduler`: batches on a real Dask cluster (convcli.batch.cluster).

A module fixture starts `dask scheduler` and two single-threaded `dask worker`
processes on 127.0.0.1 (free ports, no dashboards, their own working folder so
that relative paths must be made absolute), waits until both are registered,
and kills their process groups at the end, also when a test fails.  The tests
that kill a worker or the scheduler start clusters of their own.  Every output
is compared byte for byte with the local run (`--jobs 1`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from convcli.batch import DaskExecutor, LocalExecutor, plan_tasks, run_batch, scheduler
from convcli.cli import app
from convcli.errors import ClusterError
from convcli.imageio import TEMP_SUFFIX
from convcli.recipe import build_recipe
from tests.imagefiles import save

DASK = str(Path(sys.executable).parent / "dask")
CONVCLI = str(Path(sys.executable).parent / "convcli")
KERNEL = "gaussian:sigma=2"


# --- the cluster ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A scheduler and workers started as subprocesses, each in its own process group."""

    def __init__(self, folder: Path, workers: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.processes: list[subprocess.Popen] = []
        try:
            # --no-dashboard still serves /health and /metrics, by default on 8787: a free port instead
            quiet = ("--no-dashboard", "--dashboard-address", "127.0.0.1:0")
            self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port",
                                         self.address.rsplit(":", 1)[1], *quiet)
            self.workers = [self._start(f"worker{i}", "worker", self.address, "--nthreads", "1", *quiet,
                                        "--local-directory", str(folder / f"worker{i}")) for i in range(workers)]
            self.wait_for(workers)
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as log:
            process = subprocess.Popen([DASK, *args], cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append(process)
        return process

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for(self, workers: int) -> None:
        for attempt in range(3):
            try:
                client = self.client()  # connecting waits for the scheduler
            except AssertionError:  # distributed's own event-loop thread did not start in 10 s (a loaded machine)
                if attempt == 2:
                    raise
                continue
            with client:
                if workers:
                    client.wait_for_workers(workers, timeout=60)
            return

    def kill(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the worker and its nanny
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in reversed(self.processes):
            self.kill(process)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("dask"), workers=2)
    try:
        yield running
    finally:
        running.stop()


# --- helpers ----------------------------------------------------------------------------


def images(folder: Path, count: int, *, shape=(96, 128, 3), damaged: bool = False) -> Path:
    rng = np.random.default_rng(14)
    for i in range(count):
        save(folder / f"img{i:02d}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    if damaged:
        (folder / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    return folder


def invoke(*args: str):
    return CliRunner().invoke(app, ["apply", *args])


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def untimed(stderr: str) -> str:
    return re.sub(r"Done in [0-9.]+ s(.*) \([0-9.]+ files/s\)", r"Done\1", stderr)


def no_timings(report: str) -> dict:
    found = json.loads(report)
    found["summary"].pop("seconds")
    for entry in found["files"]:
        entry.pop("seconds")
    return found


@pytest.fixture
def photos(tmp_path, monkeypatch) -> Path:
    """Eight small images and a damaged one, in ``in/`` below the current folder (relative paths)."""
    monkeypatch.chdir(tmp_path)
    return images(tmp_path / "in", 8, damaged=True)


def local_run(*extra: str) -> tuple:
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--jobs", "1", *extra)
    os.rename("out", "out_local")
    return result


# --- the same batch, on the cluster -----------------------------------------------------


def test_cluster_batch_equals_the_local_run_byte_for_byte_and_in_json(dask_cluster, photos):
    local = local_run("--json")
    remote = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--json", "--scheduler", dask_cluster.address)
    assert (local.exit_code, remote.exit_code) == (1, 1)  # the damaged file fails in both
    assert files(Path("out")) == files(Path("out_local"))
    assert len(files(Path("out"))) == 8
    assert no_timings(remote.stdout) == no_timings(local.stdout)


def test_a_damaged_file_is_reported_as_locally_and_the_rest_is_written(dask_cluster, photos):
    local = local_run()
    remote = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", dask_cluster.address)
    assert remote.exit_code == 1
    assert untimed(remote.stderr) == untimed(local.stderr)  # the error as it happened, the summary, its list
    assert remote.stderr.startswith("Error: in/damaged.png: not an image Pillow can read")
    assert "8 written, 1 failed, 0 skipped" in remote.stderr
    assert sorted(files(Path("out"))) == [f"img{i:02d}.png" for i in range(8)]


def test_stdin_to_stdout_through_the_cluster(dask_cluster, photos):
    data = Path("in/img03.png").read_bytes()
    local = CliRunner().invoke(app, ["apply", "-", "-k", KERNEL, "-o", "-", "--jobs", "1"], input=data)
    remote = CliRunner().invoke(app, ["apply", "-", "-k", KERNEL, "-o", "-", "--scheduler", dask_cluster.address],
                                input=data)
    assert (remote.exit_code, remote.stderr) == (0, "")
    assert remote.stdout_bytes == local.stdout_bytes and remote.stdout_bytes.startswith(b"\x89PNG")


def test_dry_run_plans_here_without_the_cluster(photos, monkeypatch):
    monkeypatch.setattr(scheduler, "CONNECT_TIMEOUT", 0.5)
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--dry-run", "--scheduler",
                    f"tcp://127.0.0.1:{_free_port()}")
    assert result.exit_code == 1  # the damaged file would fail; nothing tried to reach the scheduler
    assert "in/img00.png -> out/img00.png" in result.stdout and "Dask" not in result.stderr
    assert not Path("out").exists()


@pytest.mark.parametrize("size", [(96, 128), (4, 4)], ids=["fits", "wrong-size"])
def test_a_relative_mask_is_read_by_the_workers_and_named_as_typed(dask_cluster, photos, size):
    save(Path("mask.png"), np.tile(np.arange(size[1], dtype=np.uint8) % 2 * 255, (size[0], 1)))
    local = local_run("--mask", "mask.png")
    remote = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--mask", "mask.png",
                    "--scheduler", dask_cluster.address)
    # the same lines; the errors as they happen come in the order files finish
    assert sorted(untimed(remote.stderr).splitlines()) == sorted(untimed(local.stderr).splitlines())
    assert remote.exit_code == local.exit_code == 1
    assert files(Path("out")) == files(Path("out_local")) if Path("out_local").is_dir() else not Path("out").exists()


def test_fail_fast_stops_submitting_and_reports_the_rest_as_skipped(dask_cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images(tmp_path / "in", 30, damaged=True)  # damaged.png comes first
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--json", "--fail-fast",
                    "--scheduler", dask_cluster.address)
    assert result.exit_code == 1
    found = json.loads(result.stdout)["files"]
    assert found[0]["input"] == "in/damaged.png" and found[0]["status"] == "failed"
    skipped = [f for f in found if f["status"] == "skipped"]
    assert 0 < len(skipped) and all(f["reason"] == "not started: --fail-fast stopped the batch after "
                                    "in/damaged.png failed" for f in skipped)
    assert {f["status"] for f in found[1:]} <= {"written", "skipped"}
    assert len(files(tmp_path / "out")) == 30 - len(skipped)


def test_library_run_keeps_a_bounded_window_in_flight_on_a_client(dask_cluster, tmp_path, monkeypatch):
    from distributed import Client

    images(tmp_path / "in", 24)
    recipe = build_recipe(kernels=[KERNEL], outdir=str(tmp_path / "out"))
    tasks = plan_tasks(recipe, [str(tmp_path / "in" / "*.png")])
    submitted, done, widest = [0], [0], [0]
    submit = Client.submit

    def counting_submit(self, *args, **kwargs):
        assert kwargs["pure"] is False and kwargs["retries"] == scheduler.RETRIES
        submitted[0] += 1
        widest[0] = max(widest[0], submitted[0] - done[0])
        return submit(self, *args, **kwargs)

    monkeypatch.setattr(Client, "submit", counting_submit)
    with dask_cluster.client() as client:
        results = run_batch(tasks, recipe, executor=DaskExecutor(client),
                            on_result=lambda r: done.__setitem__(0, done[0] + 1))
        assert client.status == "running"  # a client given is left open
    assert [r.status for r in results] == ["written"] * 24
    assert submitted[0] == 24 and 2 < widest[0] <= scheduler.window(2) == 6


def test_ctrl_c_cancels_the_rest_and_leaves_complete_outputs_only(dask_cluster, tmp_path):
    images(tmp_path / "in", 30)
    reference = build_recipe(kernels=[KERNEL], outdir=str(tmp_path / "ref"))
    run_batch(plan_tasks(reference, [str(tmp_path / "in" / "*.png")]), reference)
    recipe = build_recipe(kernels=[KERNEL], outdir=str(tmp_path / "out"))
    seen = []

    def interrupt(result):
        seen.append(result)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(plan_tasks(recipe, [str(tmp_path / "in" / "*.png")]), recipe,
                  executor=DaskExecutor(dask_cluster.address), on_result=interrupt)
    written = files(tmp_path / "out")
    assert 3 <= len(written) < 30
    assert all(data == (tmp_path / "ref" / name).read_bytes() for name, data in written.items())
    assert not list((tmp_path / "out").glob(f"*{TEMP_SUFFIX}"))


def test_ctrl_c_on_the_command_line_exits_130_with_complete_outputs(dask_cluster, tmp_path):
    images(tmp_path / "in", 40, shape=(320, 400, 3))  # ~0.1 s each: the batch outlasts the signal
    reference = build_recipe(kernels=[KERNEL], outdir=str(tmp_path / "ref"))
    run_batch(plan_tasks(reference, [str(tmp_path / "in" / "*.png")]), reference, executor=LocalExecutor(jobs=2))
    out = tmp_path / "out"
    command = [CONVCLI, "apply", "in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", dask_cluster.address]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while process.poll() is None and len(list(out.glob("*.png")) if out.is_dir() else []) < 3:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr.decode()
    assert stderr.decode().startswith("Interrupted after "), stderr.decode()
    written = files(out)
    assert 3 <= len(written) < 40
    assert all(data == (tmp_path / "ref" / name).read_bytes() for name, data in written.items())


def test_workers_with_another_convcli_are_refused(dask_cluster, photos, monkeypatch):
    import convcli._version

    monkeypatch.setattr(convcli._version, "__version__", "0.0.0-client")
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", dask_cluster.address)
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: the Dask workers of the Dask scheduler at {dask_cluster.address} run convcli "
        f"{convcli.__version__}, this client 0.0.0-client; install the same version on both\n"))
    assert not Path("out").exists()


def test_a_worker_killed_mid_batch_costs_only_time(tmp_path):
    images(tmp_path / "in", 40, shape=(160, 200, 3))
    reference = build_recipe(kernels=["gaussian:sigma=3"], outdir=str(tmp_path / "ref"))
    run_batch(plan_tasks(reference, [str(tmp_path / "in" / "*.png")]), reference)
    recipe = build_recipe(kernels=["gaussian:sigma=3"], outdir=str(tmp_path / "out"))
    (tmp_path / "out").mkdir()
    stale = tmp_path / "out" / f".img07.png.k2j4x9q1{TEMP_SUFFIX}"  # as a write killed mid-way leaves it
    stale.write_bytes(b"partial")
    own = Cluster(tmp_path / "dask", workers=2)
    try:
        killed = []

        def kill_one(result):
            if len(killed) == 0 and result.index >= 3:
                own.kill(own.workers[0])
                killed.append(result.index)

        results = run_batch(plan_tasks(recipe, [str(tmp_path / "in" / "*.png")]), recipe,
                            executor=DaskExecutor(own.address), on_result=kill_one)
        assert killed and own.workers[0].poll() is not None and own.workers[1].poll() is None
    finally:
        own.stop()
    assert [r.status for r in results] == ["written"] * 40, [r.error for r in results if r.error]
    assert files(tmp_path / "out") == files(tmp_path / "ref")  # every output, byte for byte; no temporary file


def test_a_lost_scheduler_is_one_error_naming_it(tmp_path):
    images(tmp_path / "in", 40, shape=(160, 200, 3))
    recipe = build_recipe(kernels=["gaussian:sigma=3"], outdir=str(tmp_path / "out"))
    own = Cluster(tmp_path / "dask", workers=2)
    try:
        def kill_scheduler(result):
            if own.scheduler.poll() is None:
                own.kill(own.scheduler)

        with pytest.raises(ClusterError, match=rf"^lost the Dask scheduler at {own.address} in the middle of the "
                           r"batch, after \d+ file\(s\) written \(those are complete\); start it again and re-run "
                           r"with --skip-existing to finish the rest$"):
            run_batch(plan_tasks(recipe, [str(tmp_path / "in" / "*.png")]), recipe, executor=DaskExecutor(own.address),
                      on_result=kill_scheduler)
    finally:
        own.stop()
    assert not list((tmp_path / "out").glob(f".*{TEMP_SUFFIX}"))


# --- where the cluster comes from ---------------------------------------------------------


def test_scheduler_local_starts_a_local_cluster(photos):
    local = local_run("-q")
    remote = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "-q", "--scheduler", "local")
    assert (local.exit_code, remote.exit_code) == (1, 1), remote.stderr
    assert files(Path("out")) == files(Path("out_local"))


def test_dask_scheduler_address_is_honoured_and_jobs_runs_locally(dask_cluster, photos, monkeypatch):
    used = []
    original = DaskExecutor.__init__

    def spy(self, address, **kwargs):
        used.append(address)
        original(self, address, **kwargs)

    monkeypatch.setattr(DaskExecutor, "__init__", spy)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.address)
    remote = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "-q")
    assert remote.exit_code == 1 and used == [dask_cluster.address]
    assert len(files(Path("out"))) == 8
    local = invoke("in/*.png", "-k", KERNEL, "--outdir", "out2", "--jobs", "2")
    assert local.exit_code == 1 and used == [dask_cluster.address]  # not run on the cluster
    assert (f"Warning: --jobs 2 runs on this machine; DASK_SCHEDULER_ADDRESS={dask_cluster.address} is not used "
            "(drop --jobs to run on that cluster)") in local.stderr
    assert files(Path("out2")) == files(Path("out"))


# --- errors: one line, the fix, nothing written -------------------------------------------


def test_an_unreachable_scheduler_is_one_error_and_nothing_is_written(photos, monkeypatch):
    monkeypatch.setattr(scheduler, "CONNECT_TIMEOUT", 0.5)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", address)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: cannot reach the Dask scheduler at {address} within 0.5 s; start it (dask "
                             "scheduler) or check the address, the port and the firewall; nothing was written\n")
    assert not Path("out").exists()


def test_a_scheduler_without_workers_is_one_error_and_nothing_is_written(photos, monkeypatch, tmp_path):
    monkeypatch.setattr(scheduler, "WORKER_TIMEOUT", 0.5)
    bare = Cluster(tmp_path / "bare", workers=0)
    try:
        result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", bare.address)
    finally:
        bare.stop()
    assert result.exit_code == 1
    assert result.stderr == (f"Error: the Dask scheduler at {bare.address} has no workers after 0.5 s; start some "
                             f"(dask worker {bare.address}) and run again; nothing was written\n")
    assert not Path("out").exists()


def test_missing_dask_gives_the_install_command(photos, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: running on a Dask cluster needs dask.distributed, which is not installed")
    assert result.stderr.endswith("on each\n") and result.stderr.count("\n") == 1
    assert "pip install '.[dask]'" in result.stderr and "pip wheel --no-deps . -w dist" in result.stderr
    assert not Path("out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--jobs", "2", "--scheduler", "local"],
     "Error: --jobs 2 sets local worker processes and --scheduler local runs on a Dask cluster, whose workers set "
     "the parallelism; give one\n"),
    (["--scheduler", "http://127.0.0.1:8786"],
     "Error: --scheduler 'http://127.0.0.1:8786' is not a scheduler address (unknown protocol http://; Dask speaks "
     "[…]); give local or an address like tcp://host:8786\n"),
    (["--scheduler", "10.0.0.5"],
     "Error: --scheduler '10.0.0.5' is not a scheduler address (missing port number in address '10.0.0.5'); "
     "give local or an address like tcp://host:8786\n"),
], ids=["with-jobs", "unknown-scheme", "no-port"])
def test_usage_errors(photos, args, message):
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", *args)
    assert (result.exit_code, re.sub(r"Dask speaks [^)]*\)", "Dask speaks […])", result.stderr)) == (2, message)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert not Path("out").exists()


def test_an_address_that_answers_but_is_not_a_scheduler_is_one_error_line(photos):
    """A server that sends what no Dask scheduler sends (here: a frame header claiming exabytes)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.sendall(b"\xff" * 64)

    threading.Thread(target=answer, daemon=True).start()
    try:
        result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert not Path("out").exists()
