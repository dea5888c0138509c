"""Threads and BLAS: arguments and a context, never environment variables; the same bytes every way."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from threadpoolctl import threadpool_info, threadpool_limits

from convcli.engine import METHODS, _separable, _threads, correlate, thread_limit
from convcli.engine._window import StripCorrelation
from convcli.errors import ParameterError

CONVCLI = str(Path(sys.executable).parent / "convcli")

#: what the subprocesses compute: the result's hash, auto's choice, and whether the BLAS passes ran
PROBE = """
import hashlib, json, sys
import numpy as np
import convcli
from convcli.engine import _separable

calls = []
original = _separable._vertical_gemm
_separable._vertical_gemm = lambda *a, **k: calls.append(1) or original(*a, **k)
rng = np.random.default_rng(0)
image = rng.random((301, 257, 3), dtype=np.float32)
gauss = np.asarray(convcli.kernel("gaussian:sigma=2.5").matrix)
rank5 = sum(np.outer(rng.normal(size=25), rng.normal(size=25)) for _ in range(5))
np.save(sys.argv[1], image[..., 0])
hashes = [hashlib.sha256(convcli.correlate(image, gauss).tobytes()).hexdigest(),
          hashlib.sha256(convcli.correlate(image, rank5, method="separable").tobytes()).hexdigest()]
gray = hashlib.sha256(convcli.correlate(image[..., 0], gauss).tobytes()).hexdigest()
method = convcli.choose_method(image.shape, gauss).method
print(json.dumps({"hashes": hashes, "method": method, "gemm": len(calls), "gray": gray}))
"""


def _env(blas_threads: str | None) -> dict[str, str]:
    """This environment without the variables BLAS itself reads, then ``OPENBLAS_NUM_THREADS`` as given."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                          "MKL_NUM_THREADS")}
    if blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = blas_threads
    return env


def test_library_and_cli_give_the_same_bytes_whatever_openblas_num_threads(tmp_path):
    runs = {}
    for setting in (None, "1", "2"):
        npy = tmp_path / f"in_{setting}.npy"
        proc = subprocess.run([sys.executable, "-c", PROBE, str(npy)], env=_env(setting), capture_output=True,
                              text=True, timeout=300, check=True)
        runs[setting] = json.loads(proc.stdout)
        out = tmp_path / f"out_{setting}.npy"
        subprocess.run([CONVCLI, "apply", str(npy), "-k", "gaussian:sigma=2.5", "-o", str(out), "--quiet"],
                       env=_env(setting), capture_output=True, timeout=300, check=True)
        runs[setting]["cli"] = hashlib.sha256(np.load(out).tobytes()).hexdigest()
    first = runs[None]
    assert first["method"] == "separable"
    assert first["gemm"] > 0, "the banded-Toeplitz BLAS passes must run on the library path too"
    assert first["cli"] == first["gray"], "convcli apply must write the library's bytes"
    for setting in ("1", "2"):
        assert runs[setting] == first, f"OPENBLAS_NUM_THREADS={setting} changed the result or the method"


@pytest.mark.parametrize("method", METHODS)
def test_threads_keyword_gives_the_same_bytes(method, rng):
    image = rng.random((260, 190, 2), dtype=np.float32)
    kernel = sum(np.outer(rng.normal(size=21), rng.normal(size=17)) for _ in range(2))
    one = correlate(image, kernel, method=method, threads=1)
    two = correlate(image, kernel, method=method, threads=2)
    np.testing.assert_array_equal(one, two)
    want = ndi.correlate(image.astype(np.float64), kernel[:, :, None], mode="mirror")  # numpy's reflect
    np.testing.assert_allclose(one, want, rtol=1e-4, atol=1e-4 * np.abs(kernel).sum())


def _recording(names: set[str]):
    """A stand-in for run_parallel that records the name of each thread running an item into ``names``."""
    original = _threads.run_parallel

    def spy(func, items, threads=None, *, work=None):
        def wrapped(item):
            names.add(threading.current_thread().name)
            return func(item)

        return original(wrapped, items, threads, work=work)

    return spy


def _pool_threads_used(**kwargs) -> set[str]:
    """Names of the threads that ran the bands of one direct correlation."""
    names: set[str] = set()
    original = _threads.run_parallel
    spy = _recording(names)

    from convcli.engine import _direct

    _direct.run_parallel = spy
    try:
        # big enough for the pool (smaller calls run on the caller's thread, see _threads.SERIAL_BELOW)
        correlate(np.ones((1000, 600), np.float32), np.array([[1.0, 2.0, 3.0]]), method="direct", **kwargs)
    finally:
        _direct.run_parallel = original
    return names


def test_thread_limit_is_honoured_and_does_not_leak(monkeypatch):
    monkeypatch.setattr(_threads, "machine_threads", lambda: 2)
    main = threading.current_thread().name
    with thread_limit(1) as n:
        assert n == 1 and _threads.thread_count() == 1
        assert _pool_threads_used() == {main}  # one thread: the bands run in the caller
        assert all(name.startswith("convcli") for name in _pool_threads_used(threads=2))  # the keyword wins
        seen = []
        other = threading.Thread(target=lambda: seen.append(_threads.thread_count()))
        other.start()
        other.join()
        assert seen == [2], "the limit belongs to this thread's context, not to the process"
        with thread_limit(None) as inner:  # None leaves the setting in force
            assert inner == 1
    assert _threads.thread_count() == 2
    with thread_limit(3):  # more than the (patched) cores: asked for, so given, and no more
        used = _pool_threads_used()
        assert used and used <= {"convcli_0", "convcli_1", "convcli_2"}, used
    assert _threads.thread_count() == 2
    assert all(name.startswith("convcli") for name in _pool_threads_used())


def test_strips_use_the_thread_count_of_the_call_not_of_the_consumer(monkeypatch):
    seen = []
    original = _threads.run_parallel
    monkeypatch.setattr("convcli.engine._direct.run_parallel",
                        lambda func, items, threads=None, work=None: seen.append(_threads.thread_count())
                        or original(func, items, work=work))
    with thread_limit(1):
        strips = StripCorrelation(np.ones((300, 240)), np.ones((3, 3)), method="direct")
    assert _threads.thread_count() != 1 or _threads.machine_threads() == 1
    for i in range(0, 300, 50):
        strips.rows(i, i + 50)
    assert len(seen) > 1 and set(seen) == {1}


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ParameterError, match=r"threads must be a positive integer or None, got"):
        correlate(np.ones((5, 5)), np.ones((3, 3)), threads=bad)
    with pytest.raises(ParameterError, match=r"threads must be a positive integer"), thread_limit(bad):
        pass


def _blas_threads() -> set[int]:
    """Threads of NumPy's BLAS, the one the engine's matrix products use (SciPy may load its own)."""
    return {lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas" and "numpy" in lib["filepath"]}


def test_blas_runs_single_threaded_inside_the_engine_and_is_restored_after(monkeypatch, rng):
    if not _blas_threads():
        pytest.skip("NumPy is linked to no BLAS that threadpoolctl can see")
    inside = []
    original = _separable._horizontal_gemm
    monkeypatch.setattr(_separable, "_horizontal_gemm", lambda *a: inside.append(_blas_threads()) or original(*a))
    with threadpool_limits(limits=2, user_api="blas"):
        out = correlate(rng.random((200, 150), dtype=np.float32), np.outer(np.hanning(33), np.hanning(33)),
                        method="separable")
        assert _blas_threads() == {2}, "the caller's BLAS setting must come back"
    assert inside and all(seen == {1} for seen in inside)
    assert np.isfinite(out).all()


def test_a_fresh_process_keeps_its_environment_through_the_blas_path():
    """convcli writes no environment variable (threadpoolctl itself sets KMP_DUPLICATE_LIB_OK when imported)."""
    script = (
        "import os\n"
        "before = dict(os.environ)\n"
        "import numpy as np, convcli\n"
        "from convcli.engine import _separable\n"
        "calls = []\n"
        "original = _separable._vertical_gemm\n"
        "_separable._vertical_gemm = lambda *a: calls.append(1) or original(*a)\n"
        "convcli.correlate(np.ones((300, 200), np.float32), np.outer(np.hanning(31), np.hanning(31)))\n"
        "assert calls, 'the BLAS passes did not run'\n"
        "changed = {k for k, _ in set(os.environ.items()) ^ set(before.items())}\n"
        "assert changed <= {'KMP_DUPLICATE_LIB_OK'}, changed\n"
    )
    env = _env(None)
    env.pop("KMP_DUPLICATE_LIB_OK", None)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_small_calls_run_on_the_callers_thread_with_the_same_bytes(monkeypatch):
    """Below SERIAL_BELOW output samples the bands run in order on the calling thread; results are identical."""
    monkeypatch.setattr(_threads, "machine_threads", lambda: 2)
    main = threading.current_thread().name
    image = np.random.default_rng(3).random((600, 150), dtype=np.float32)  # several bands, few samples
    kernel = np.outer(np.hanning(9)[1:-1], np.hanning(9)[1:-1])
    seen: set[str] = set()

    from convcli.engine import _separable

    monkeypatch.setattr(_separable, "run_parallel", _recording(seen))
    small = correlate(image, kernel, method="separable", threads=2)
    assert seen == {main}
    monkeypatch.setattr(_threads, "SERIAL_BELOW", 1)  # the same call on the pool
    seen.clear()
    pooled = correlate(image, kernel, method="separable", threads=2)
    assert seen and seen != {main}
    np.testing.assert_array_equal(small, pooled)
