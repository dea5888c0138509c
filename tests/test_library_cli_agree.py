"""`import convcli` and `convcli apply` take the same code path: the same bytes, whatever the environment.

Engine settings travel as arguments or a context, never as environment variables, so OPENBLAS_NUM_THREADS
(set or not, to any value) changes neither the method chosen nor one bit of the result (issue 11).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

import convcli

SPECS = ["gaussian:sigma=10", "gaussian:sigma=1.5", "box:size=31", "laplacian", "motion:length=15,angle=30"]
ENVS = [None, "1", "2"]

LIBRARY = """
import sys, hashlib, numpy as np, convcli
image = np.load(sys.argv[1])
out = convcli.correlate(image, convcli.kernel(sys.argv[2]).matrix)
choice = convcli.choose_method(image.shape, convcli.kernel(sys.argv[2]).matrix, dtype=image.dtype)
print(choice.method, hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest())
"""


def _env(blas: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if blas is not None:
        env["OPENBLAS_NUM_THREADS"] = blas
    return env


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(11)
    arr = rng.random((240, 320), dtype=np.float32)
    path = tmp_path_factory.mktemp("agree") / "image.npy"
    np.save(path, arr)
    return arr, str(path)


def _cli(path: str, spec: str, out: str, blas: str | None) -> np.ndarray:
    script = os.path.join(os.path.dirname(sys.executable), "convcli")
    done = subprocess.run([script, "apply", path, "-k", spec, "-o", out, "--force", "-q"], env=_env(blas),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return np.load(out)


@pytest.mark.parametrize("spec", SPECS)
def test_cli_and_library_give_the_same_bytes_with_or_without_openblas_threads(image, spec, tmp_path):
    arr, path = image
    expected = convcli.correlate(arr, convcli.kernel(spec).matrix)
    # an independent check that the bytes compared are right at all: SciPy's reflect is numpy's symmetric,
    # its mirror is numpy's reflect (our default)
    reference = ndimage.correlate(arr.astype(np.float64), convcli.kernel(spec).matrix, mode="mirror")
    np.testing.assert_allclose(expected, reference, rtol=2e-4, atol=2e-4)
    for blas in ENVS:
        got = _cli(path, spec, str(tmp_path / f"out_{blas}.npy"), blas)
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected), f"{spec}: convcli apply with OPENBLAS_NUM_THREADS={blas} differs"


@pytest.mark.parametrize("spec", ["gaussian:sigma=10", "box:size=31"])
def test_library_in_a_fresh_process_ignores_openblas_threads(image, spec):
    _, path = image
    answers = set()
    for blas in ENVS:
        done = subprocess.run([sys.executable, "-c", LIBRARY, path, spec], env=_env(blas), capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        answers.add(done.stdout.strip())
    assert len(answers) == 1, answers


def test_the_digest_changes_when_the_result_does(image):
    """The comparison above can fail: a different kernel gives a different digest."""
    arr, _ = image
    a = convcli.correlate(arr, convcli.kernel("gaussian:sigma=10").matrix)
    b = convcli.correlate(arr, convcli.kernel("gaussian:sigma=9.9").matrix)
    assert hashlib.sha256(a.tobytes()).hexdigest() != hashlib.sha256(b.tobytes()).hexdigest()
