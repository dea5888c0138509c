"""Byte order never changes a result (issue 23): >f8, >f4, >i2 and >u2 give exactly what native dtypes give.

The reference is the same call on the native array (itself checked against independent references elsewhere);
what is checked here is that a byte-swapped copy of the same numbers is the same problem: same dtype out
(float64 stays float64), same bytes.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.engine import work_dtype
from convcli.operations import Convolve
from convcli.streaming import stream_filter

METHODS = ["direct", "separable", "fft", "auto"]
NATIVE = ["<f8", "<f4", "<i2", "<u2"]


def image_of(dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype).kind
    if kind == "f":
        image = rng.normal(100.0, 30.0, (37, 29))
        image[5, 7] = np.nan
        image[20:26, 10:18] = np.nan
    elif kind == "i":
        image = rng.integers(-30000, 30000, (37, 29))
    else:
        image = rng.integers(0, 65536, (37, 29))
    return image.astype(dtype)


def swapped(image: np.ndarray) -> np.ndarray:
    other = image.astype(image.dtype.newbyteorder(">"))
    assert other.dtype.byteorder == ">" and np.array_equal(other, image, equal_nan=True)
    return other


@pytest.mark.parametrize("dtype", NATIVE)
def test_work_dtype_ignores_byte_order(dtype):
    big = np.dtype(dtype).newbyteorder(">")
    assert work_dtype(big) == work_dtype(dtype)
    assert work_dtype(">f8") == np.float64 and work_dtype(">f4") == np.float32


@pytest.mark.parametrize("nan", ["propagate", "ignore"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", NATIVE)
def test_the_engine_gives_the_native_result(dtype, method, nan):
    image = image_of(dtype)
    kernel = np.outer(np.hanning(7)[1:-1], np.hanning(6)[1:-1]) + 0.1 * np.eye(5, 4)
    want = convcli.correlate(image, kernel, method=method, nan=nan, border="constant", border_value=1.0)
    got = convcli.correlate(swapped(image), kernel, method=method, nan=nan, border="constant", border_value=1.0)
    assert got.dtype == want.dtype == (np.float64 if dtype == "<f8" else np.float32)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("depth", [None, "8", "16", "float"])
@pytest.mark.parametrize("dtype", NATIVE)
def test_stream_filter_gives_the_native_result(dtype, depth):
    image = image_of(dtype)
    for linear in (False, True):
        ops = [Convolve("gaussian:sigma=1.5")]
        want = stream_filter(image, ops, depth=depth, linear=linear, strip_rows=8).collect()
        got = stream_filter(swapped(image), ops, depth=depth, linear=linear, strip_rows=8).collect()
        assert got.dtype == want.dtype and got.dtype.isnative
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("depth", ["float", "16"])
@pytest.mark.parametrize("dtype", NATIVE)
def test_cli_on_a_big_endian_npy_gives_the_native_result(tmp_path, monkeypatch, dtype, depth):
    monkeypatch.chdir(tmp_path)
    image = image_of(dtype)
    if image.dtype.kind == "f":
        image = np.nan_to_num(image, nan=5.0)
    np.save("native.npy", image)
    np.save("big.npy", swapped(image))
    assert np.load("big.npy").dtype.byteorder == ">"
    runner = CliRunner()
    for name in ("native", "big"):
        result = runner.invoke(app, ["apply", f"{name}.npy", "-k", "gaussian:sigma=1", "--depth", depth,
                                     "-o", f"{name}_out.npy"])
        assert result.exit_code == 0, result.output
    want, got = np.load("native_out.npy"), np.load("big_out.npy")
    assert got.dtype.newbyteorder("=") == want.dtype.newbyteorder("=")
    if depth == "float" and dtype == "<f8":
        assert got.dtype.kind == "f" and got.dtype.itemsize == 8  # float64 stays float64
    assert np.array_equal(got, want)


def test_depth_of_ignores_byte_order():
    from convcli.depth import depth_of

    assert [depth_of(d) for d in (">u2", ">f4", ">f8", "<u2")] == ["16", "float", None, "16"]
