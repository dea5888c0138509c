"""A Dask batch never hangs: every worker gone, Ctrl-C with --scheduler local, a silent port (issue 24).

Real `dask scheduler` and `dask worker` processes on 127.0.0.1, as in
tests/test_cluster.py (its Cluster helper); the command line runs as a
subprocess where a signal or a killed worker is involved.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from convcli.batch import DaskExecutor, plan_tasks, run_batch, scheduler
from convcli.errors import ClusterError
from convcli.recipe import build_recipe
from tests.test_cluster import CONVCLI, KERNEL, Cluster, files, images, invoke

WORKER_TIMEOUT = 3  # seconds, --worker-timeout in these tests
GRACE = 30  # the bound: the batch ends within the stated time plus this


def _outputs(folder: Path) -> int:
    return len(list(folder.glob("*.png"))) if folder.is_dir() else 0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # whatever the test runner's own handling is


def test_a_batch_whose_only_worker_is_killed_with_its_nanny_ends_with_the_skip_existing_advice(tmp_path):
    images(tmp_path / "in", 60, shape=(320, 400, 3))  # ~0.1 s each on the one worker: the batch outlasts the kill
    out = tmp_path / "out"
    own = Cluster(tmp_path / "dask", workers=1)
    try:
        command = [CONVCLI, "apply", "in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", own.address,
                   "--worker-timeout", str(WORKER_TIMEOUT)]
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            while process.poll() is None and _outputs(out) < 3:
                time.sleep(0.02)
            assert process.poll() is None, process.communicate()[1].decode()
            own.kill(own.workers[0])  # SIGKILL to its process group: the nanny and the worker process
            killed = time.monotonic()
            try:
                _, stderr = process.communicate(timeout=WORKER_TIMEOUT + GRACE)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the batch still runs {WORKER_TIMEOUT + GRACE} s after its only worker was killed")
            took = time.monotonic() - killed
        finally:
            process.kill()
            process.wait()
        assert own.scheduler.poll() is None  # the scheduler is still there: only the workers are gone
    finally:
        own.stop()
    text = stderr.decode()
    assert process.returncode == 1, text
    assert WORKER_TIMEOUT <= took <= WORKER_TIMEOUT + GRACE, took
    assert "Traceback" not in text, text
    written = len(files(out))
    assert 3 <= written < 60
    assert re.search(rf"every Dask worker of the scheduler at {own.address} has been gone for {WORKER_TIMEOUT} s, "
                     rf"so the batch stopped after {written} file\(s\) written \(those are complete\); start workers "
                     rf"\(dask worker {own.address}\) and re-run with --skip-existing to finish the rest", text), text


def test_the_library_executor_takes_the_worker_timeout(tmp_path):
    images(tmp_path / "in", 40, shape=(320, 400, 3))
    recipe = build_recipe(kernels=[KERNEL], outdir=str(tmp_path / "out"))
    own = Cluster(tmp_path / "dask", workers=1)
    try:
        def kill_worker(result):
            if own.workers[0].poll() is None:
                own.kill(own.workers[0])

        started = time.monotonic()
        with pytest.raises(ClusterError, match=r"has been gone for 2 s, so the batch stopped after \d+ file\(s\) "
                           r"written .*--skip-existing"):
            run_batch(plan_tasks(recipe, [str(tmp_path / "in" / "*.png")]), recipe,
                      executor=DaskExecutor(own.address, worker_timeout=2), on_result=kill_worker)
        assert time.monotonic() - started < 2 + GRACE
    finally:
        own.stop()


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_worker_timeout_not_above_zero_is_a_usage_error(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    images(tmp_path / "in", 1)
    result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", "tcp://127.0.0.1:8786",
                    "--worker-timeout", value)
    assert result.exit_code == 2, result.stderr
    assert "--worker-timeout must be a number of seconds > 0" in result.stderr
    with pytest.raises(ValueError, match="worker_timeout"):
        DaskExecutor("local", worker_timeout=0)


def test_a_silent_port_did_not_answer_in_n_seconds(tmp_path, monkeypatch):
    """A listener that accepts (the kernel completes the handshake) and never says a word."""
    monkeypatch.setattr(scheduler, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.chdir(tmp_path)
    images(tmp_path / "in", 2)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    try:
        result = invoke("in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", address)
    finally:
        silent.close()
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith(f"Error: the Dask scheduler at {address} did not answer in 1 s"), result.stderr
    assert "cannot reach" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "out").exists()


def test_ctrl_c_with_scheduler_local_prints_only_convcli_own_line(tmp_path):
    """Ctrl-C at a terminal reaches the whole process group: the client and the local workers it started."""
    images(tmp_path / "in", 60, shape=(320, 400, 3))
    out = tmp_path / "out"
    command = [CONVCLI, "apply", "in/*.png", "-k", KERNEL, "--outdir", "out", "--scheduler", "local"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=_default_sigint)
    try:
        while process.poll() is None and _outputs(out) < 3:
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()[1].decode()
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    text = stderr.decode()
    assert process.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.startswith("Interrupted after ") and text.count("\n") == 1, text


def test_the_worker_timeout_reaches_the_executor_and_is_noted_when_unused():
    from convcli.batch import choose_executor

    executor, notes = choose_executor(jobs=None, scheduler="tcp://h:8786", environ={}, worker_timeout=7.5)
    assert (type(executor).__name__, executor.worker_timeout, notes) == ("DaskExecutor", 7.5, [])
    assert choose_executor(jobs=None, scheduler="local", environ={})[0].worker_timeout == 60
    _, notes = choose_executor(jobs=2, scheduler=None, environ={}, worker_timeout=7.5)
    assert notes == ["--worker-timeout 7.5 applies to a Dask cluster; this batch runs on this machine"]
