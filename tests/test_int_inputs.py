"""Issue 24: signed and 32-bit integer inputs keep their sign, range and dtype; nothing is clipped silently.

References are independent: tifffile, NumPy, zarr and SciPy in float64, rounded half to even.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr
from scipy import ndimage
from typer.testing import CliRunner

from convcli.cli import app


def invoke(*args: str):
    return CliRunner().invoke(app, ["apply", *args])


def signed16() -> np.ndarray:
    rng = np.random.default_rng(24)
    image = rng.integers(-20000, 20000, size=(37, 29)).astype(np.int16)
    image[0, :4] = [-32768, 32767, -1, 0]
    return image


def wide32() -> np.ndarray:
    rng = np.random.default_rng(240)
    image = rng.integers(-(2**31), 2**31 - 1, size=(23, 31), dtype=np.int64).astype(np.int32)
    image[0, :2] = [-(2**31), 2**31 - 1]
    return image


def test_int16_tiff_with_negatives_comes_back_through_identity(tmp_path):
    image = signed16()
    tifffile.imwrite(tmp_path / "in.tif", image)
    done = invoke(str(tmp_path / "in.tif"), "-k", "identity", "-o", str(tmp_path / "out.tif"))
    assert done.exit_code == 0, done.output
    assert "Warning" not in done.stderr
    got = tifffile.imread(tmp_path / "out.tif")
    assert got.dtype == np.int16 and np.array_equal(got, image)


def test_tiled_int16_tiff_streams_with_its_values(tmp_path):
    image = signed16()
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(16, 16))
    done = invoke(str(tmp_path / "in.tif"), "-k", "identity", "-o", str(tmp_path / "out.tif"), "--tile", "16")
    assert done.exit_code == 0, done.output
    got = tifffile.imread(tmp_path / "out.tif")
    assert got.dtype == np.int16 and np.array_equal(got, image)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint32])
def test_int32_npy_to_npy_keeps_dtype_and_values(tmp_path, dtype):
    image = wide32().astype(dtype) if dtype is not np.uint32 else wide32().view(np.uint32)
    np.save(tmp_path / "in.npy", image)
    done = invoke(str(tmp_path / "in.npy"), "-k", "identity", "-o", str(tmp_path / "out.npy"))
    assert done.exit_code == 0, done.output
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == dtype and np.array_equal(got, image)


def test_int32_zarr_to_zarr_keeps_dtype_and_values(tmp_path):
    image = wide32()
    store = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=image.shape, dtype=image.dtype,
                            chunks=(8, 8))
    store[...] = image
    done = invoke(str(tmp_path / "in.zarr"), "-k", "identity", "-o", str(tmp_path / "out.zarr"))
    assert done.exit_code == 0, done.output
    got = np.asarray(zarr.open(str(tmp_path / "out.zarr"), mode="r")[...])
    assert got.dtype == np.int32 and np.array_equal(got, image)


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_box_filtered_int16_equals_float64_reference_rounded_half_to_even(tmp_path, suffix):
    image = signed16()
    tifffile.imwrite(tmp_path / "in.tif", image)
    done = invoke(str(tmp_path / "in.tif"), "-k", "box:size=3", "-o", str(tmp_path / f"out{suffix}"))
    assert done.exit_code == 0, done.output
    got = tifffile.imread(tmp_path / "out.tif") if suffix == ".tif" else np.load(tmp_path / "out.npy")
    want = np.rint(ndimage.uniform_filter(image.astype(np.float64), 3, mode="mirror")).astype(np.int16)
    assert got.dtype == np.int16 and np.array_equal(got, want)


def test_box_filtered_int32_equals_float64_reference(tmp_path):
    image = (wide32() // 4).astype(np.int32)  # a mean of nine stays inside int32
    np.save(tmp_path / "in.npy", image)
    done = invoke(str(tmp_path / "in.npy"), "-k", "box:size=3", "-o", str(tmp_path / "out.npy"))
    assert done.exit_code == 0, done.output
    want = np.rint(ndimage.uniform_filter(image.astype(np.float64), 3, mode="mirror")).astype(np.int32)
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == np.int32 and np.array_equal(got, want)


def test_png_output_of_negative_int16_says_what_happened(tmp_path):
    np.save(tmp_path / "in.npy", signed16())  # decoded whole: the note no longer needs a lazy TIFF
    done = invoke(str(tmp_path / "in.npy"), "-k", "identity", "-o", str(tmp_path / "out.png"))
    assert done.exit_code == 0, done.output
    assert ("in.npy: int16 samples are taken in 16-bit units (0..65535): negative values become 0 in a 16-bit PNG "
            "output") in done.stderr
    assert "--depth float" in done.stderr and "--range normalize" in done.stderr


def test_result_beyond_the_dtype_is_an_error_not_a_clip(tmp_path):
    image = np.zeros((9, 9), np.int16)
    image[4, 4] = 30000
    tifffile.imwrite(tmp_path / "in.tif", image)
    done = invoke(str(tmp_path / "in.tif"), "-k", "sharpen", "-o", str(tmp_path / "out.tif"))
    assert done.exit_code != 0
    assert "in.tif" in done.stderr and "int16's -32768..32767" in done.stderr
    assert "--depth float" in done.stderr and "--range normalize" in done.stderr
    assert not (tmp_path / "out.tif").exists()
    # the named fix works: float keeps the values
    fixed = invoke(str(tmp_path / "in.tif"), "-k", "identity", "-o", str(tmp_path / "f.tif"), "--depth", "float")
    assert fixed.exit_code == 0 and tifffile.imread(tmp_path / "f.tif").dtype == np.float32


def test_dry_run_and_report_name_the_kept_dtype(tmp_path):
    import json

    tifffile.imwrite(tmp_path / "in.tif", signed16())
    planned = invoke(str(tmp_path / "in.tif"), "-k", "identity", "-o", str(tmp_path / "o.tif"), "--dry-run",
                     "--json")
    assert planned.exit_code == 0
    files = json.loads(planned.stdout)["files"]
    assert files[0]["depth"] == "int16" and files[0]["warnings"] == []
    png = invoke(str(tmp_path / "in.tif"), "-k", "identity", "-o", str(tmp_path / "o.png"), "--dry-run", "--json")
    assert any("negative values become 0" in w for w in json.loads(png.stdout)["files"][0]["warnings"])
    written = invoke(str(tmp_path / "in.tif"), "-k", "identity", "-o", str(tmp_path / "o.tif"), "-v")
    assert written.exit_code == 0 and "int16 TIFF" in written.stderr + written.stdout
