"""Issue 23: Ctrl-C during a Zarr write waits for zarr's background writer before the temporary folder goes.

zarr writes chunks from an event loop in a thread of its own. The child processes here are real convcli runs
that get a real SIGINT: at each of zarr's waits in turn (deterministic: the child sends itself SIGINT as its
N-th wait for zarr begins, while that write is in flight), and once from outside after the temporary folder
appears. Afterwards no output, no temporary folder (not even a little later: no chunk lands after the clean-up)
and no asyncio "Task was destroyed but it is pending!" lines; stderr is the one "Interrupted" line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zarr")

from convcli.imageio import leftover_temp_files

CHILD = textwrap.dedent("""
    import os, signal, sys
    import zarr.core.sync as zarr_sync
    real_wait, calls, at, counted = zarr_sync.wait, [0], int(sys.argv[1]), sys.argv[2]
    def wait(futures, **options):
        calls[0] += 1
        with open(counted, "w") as count:  # convcli may end with os._exit: no atexit
            count.write(str(calls[0]))
        if calls[0] == at:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C while this write is in flight
        return real_wait(futures, **options)
    zarr_sync.wait = wait
    from convcli.cli import app
    sys.argv = ["convcli", *sys.argv[3:]]
    app()
""")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_child(tmp_path: Path, at: int) -> tuple[subprocess.CompletedProcess, int]:
    out = tmp_path / "out"
    out.mkdir()
    count = tmp_path / "count.txt"
    result = subprocess.run([sys.executable, "-c", CHILD, str(at), str(count), "apply", str(tmp_path / "in.npy"),
                             "-k", "identity", "-o", str(out / "o.zarr"), "--tile", "256"],
                            capture_output=True, text=True, timeout=120, preexec_fn=_default_sigint,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")})
    return result, int(count.read_text()) if count.exists() else 0


def test_ctrl_c_at_each_of_zarrs_waits_leaves_nothing_and_no_asyncio_complaint(tmp_path):
    np.save(tmp_path / "in.npy", np.random.default_rng(0).random((2048, 2048)).astype(np.float32))
    full = tmp_path / "full"
    full.mkdir()
    (full / "in.npy").symlink_to(tmp_path / "in.npy")
    result, waits = _run_child(full, 0)
    assert result.returncode == 0, result.stderr
    assert waits >= 8  # one for each chunk row at least
    for at in range(1, waits + 1):
        case = tmp_path / f"at{at}"
        case.mkdir()
        (case / "in.npy").symlink_to(tmp_path / "in.npy")
        result, _ = _run_child(case, at)
        where = f"SIGINT at zarr's wait {at} of {waits}"
        assert result.returncode == 130, (where, result.stderr)
        assert result.stderr.startswith("Interrupted after 0 file(s) written"), (where, result.stderr)
        assert result.stderr.count("\n") == 1 and "Task was destroyed" not in result.stderr, (where, result.stderr)
        time.sleep(0.2)  # a writer still running would add chunks now
        assert list((case / "out").iterdir()) == [], where


def test_ctrl_c_from_outside_once_the_temporary_store_appears(tmp_path):
    np.save(tmp_path / "in.npy", np.random.default_rng(1).random((4096, 2048)).astype(np.float32))
    out = tmp_path / "out"
    out.mkdir()
    convcli = str(Path(sys.executable).parent / "convcli")
    proc = subprocess.Popen([convcli, "apply", str(tmp_path / "in.npy"), "-k", "gaussian:sigma=2", "-o",
                             str(out / "o.zarr"), "--tile", "256"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not any(leftover_temp_files(out / "o.zarr")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted; make the image bigger"
    store = leftover_temp_files(out / "o.zarr")[0]
    while not (store / "c").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # chunks are being written
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.startswith("Interrupted after 0 file(s) written") and "Task was destroyed" not in err, err
    time.sleep(0.2)
    assert list(out.iterdir()) == []
