"""One giant image on a real Dask cluster, band by band (convcli.batch.giant).

Reuses test_cluster's real scheduler + two single-threaded workers.  Every
output is compared with the local run (`convcli apply` without --scheduler):
Zarr arrays and attributes, TIFF files byte for byte.  Bands are made small
(``BAND_PIXELS``) so that even these 3000x2500 images are several tasks.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from convcli.batch import filter_on_cluster, giant
from convcli.imageio import TEMP_SUFFIX
from convcli.recipe import build_recipe
from tests.test_cluster import Cluster, dask_cluster, invoke

__all__ = ["dask_cluster"]  # the module's cluster fixture, shared with test_cluster's code

CHAIN = ("-k", "gaussian:sigma=2", "-k", "laplacian", "--pool", "max:size=2")
STRIDED = ("-k", "sobel:axis=both", "--stride", "2")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A tiled RGB uint16 TIFF, a tiled gray uint8 TIFF and a gray Zarr store, 3000x2500."""
    folder = tmp_path_factory.mktemp("giant")
    rng = np.random.default_rng(14)
    rgb = rng.integers(0, 65536, (3000, 2500, 3), dtype=np.uint16)
    tifffile.imwrite(folder / "rgb.tif", rgb, tile=(256, 256), photometric="rgb", compression="zlib")
    gray = (np.add.outer(np.arange(3000), np.arange(2500)) % 251).astype(np.uint8)
    gray[::7] = rng.integers(0, 256, gray[::7].shape, dtype=np.uint8)
    tifffile.imwrite(folder / "gray.tif", gray, tile=(256, 256), compression="zlib")
    zarr.create_array(store=str(folder / "gray.zarr"), data=gray, chunks=(300, 400), zarr_format=3)
    return folder


@pytest.fixture
def bands(monkeypatch) -> list[tuple[int, int]]:
    """Small bands (512 rows of these images), and the spans of every band task submitted."""
    monkeypatch.setattr(giant, "BAND_PIXELS", 1 << 20)
    submitted: list[tuple[int, int]] = []
    real = giant._submit_band

    def counting(client, key, *args):
        submitted.append(args[-2])
        return real(client, key, *args)

    monkeypatch.setattr(giant, "_submit_band", counting)
    return submitted


def local(source: Path, out: Path, *options: str) -> Path:
    result = invoke(str(source), *options, "-o", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    return out


def same(out: Path, reference: Path) -> None:
    """The same image: Zarr arrays (values, dtype, chunks, attributes), TIFF files byte for byte."""
    assert not list(out.parent.glob(f".*{TEMP_SUFFIX}"))
    if out.suffix == ".zarr":
        got, want = zarr.open_array(str(out), mode="r"), zarr.open_array(str(reference), mode="r")
        assert (got.shape, got.dtype, got.chunks, dict(got.attrs)) == (want.shape, want.dtype, want.chunks,
                                                                        dict(want.attrs))
        assert np.array_equal(got[:], want[:], equal_nan=got.dtype.kind == "f")
    else:
        assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize(("name", "options", "suffix"), [
    ("rgb.tif", CHAIN, ".zarr"), ("rgb.tif", CHAIN, ".tif"),
    ("gray.tif", STRIDED, ".zarr"), ("gray.tif", STRIDED, ".tif"), ("gray.zarr", CHAIN, ".zarr"),
])
def test_a_giant_image_is_filtered_band_by_band_as_the_local_run(dask_cluster, inputs, bands, tmp_path, name,
                                                                  options, suffix):
    reference = local(inputs / name, tmp_path / f"local{suffix}", *options)
    assert not bands  # the local run submits nothing
    out = tmp_path / f"out{suffix}"
    result = invoke(str(inputs / name), *options, "-o", str(out), "--scheduler", dask_cluster.address)
    assert result.exit_code == 0, result.stderr
    assert len(bands) > 1 and bands[0][0] == 0 and all(a % 512 == 0 for a, _ in bands)
    same(out, reference)


def test_the_python_api_with_a_client_and_force_replacing_only_when_complete(dask_cluster, inputs, bands, tmp_path):
    reference = local(inputs / "gray.tif", tmp_path / "local.zarr", *CHAIN)
    recipe = build_recipe(kernels=["gaussian:sigma=2", "laplacian"], pool="max:size=2", outdir=str(tmp_path))
    target = tmp_path / "out.zarr"
    zarr.create_array(store=str(target), data=np.ones((4, 4), np.uint8), zarr_format=3)  # an older output
    with dask_cluster.client() as client:
        result = filter_on_cluster(inputs / "gray.tif", target, recipe, client, force=True)
        assert client.status == "running"  # a client given is left open
    assert (result.status, result.output_shape, result.depth) == ("written", (1500, 1250), "8"), result.error
    assert len(bands) > 1
    same(target, reference)


def test_an_image_in_memory_goes_to_one_worker_as_any_file(dask_cluster, inputs, bands, tmp_path):
    from PIL import Image

    Image.fromarray(tifffile.imread(inputs / "gray.tif")[:600, :500]).save(tmp_path / "small.png")
    reference = local(tmp_path / "small.png", tmp_path / "local.tif", *CHAIN)
    result = invoke(str(tmp_path / "small.png"), *CHAIN, "-o", str(tmp_path / "out.tif"), "--scheduler",
                    dask_cluster.address)
    assert result.exit_code == 0, result.stderr
    assert bands == []
    same(tmp_path / "out.tif", reference)


def damaged_copy(source: Path, target: Path) -> Path:
    """``source`` with one tile in the middle overwritten: its header opens, that band cannot be decoded."""
    data = bytearray(source.read_bytes())
    with tifffile.TiffFile(source) as tif:
        page = tif.pages[0]
        middle = len(page.dataoffsets) // 2
        offset, count = page.dataoffsets[middle], page.databytecounts[middle]
    data[offset : offset + count] = b"\xff" * count
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("suffix", [".zarr", ".tif"])
def test_a_failed_band_leaves_no_output_no_temporary_folder_and_the_old_output(dask_cluster, inputs, bands,
                                                                               tmp_path, suffix):
    broken = damaged_copy(inputs / "gray.tif", tmp_path / "broken.tif")
    out = tmp_path / f"out{suffix}"
    result = invoke(str(broken), *CHAIN, "-o", str(out), "--scheduler", dask_cluster.address)
    assert result.exit_code == 1
    assert re.fullmatch(rf"Error: {re.escape(str(broken))}: cannot decode rows \d+-\d+ \(DeflateError: [^\n]*\); "
                        r"the file may be damaged\n", result.stderr.split("\n", 1)[0] + "\n"), result.stderr
    assert not out.exists() and not list(tmp_path.glob(f".*{TEMP_SUFFIX}"))
    if suffix == ".tif":
        out.write_bytes(b"old")
    else:
        zarr.create_array(store=str(out), data=np.ones((4, 4), np.uint8), zarr_format=3)
    again = invoke(str(broken), *CHAIN, "-o", str(out), "--force", "--scheduler", dask_cluster.address)
    assert again.exit_code == 1
    if suffix == ".tif":
        assert out.read_bytes() == b"old"
    else:
        assert zarr.open_array(str(out), mode="r")[:].tolist() == np.ones((4, 4)).tolist()
    assert not list(tmp_path.glob(f".*{TEMP_SUFFIX}"))


def test_a_worker_killed_mid_image_costs_only_time(inputs, bands, tmp_path, monkeypatch):
    reference = local(inputs / "gray.tif", tmp_path / "local.zarr", *CHAIN, "--tile", "128")
    recipe = build_recipe(kernels=["gaussian:sigma=2", "laplacian"], pool="max:size=2", outdir=str(tmp_path),
                          tile=128)
    monkeypatch.setattr(giant, "BAND_PIXELS", 1)  # one chunk row (128 output rows) a task: 12 of them
    own = Cluster(tmp_path / "dask", workers=2)
    killed: list[int] = []
    real = giant._outcome

    def kill_one(future, label, rows, client):
        found = real(future, label, rows, client)
        if not killed:
            own.kill(own.workers[0])
            killed.append(rows[0])
        return found

    monkeypatch.setattr(giant, "_outcome", kill_one)
    try:
        result = filter_on_cluster(inputs / "gray.tif", tmp_path / "out.zarr", recipe, own.address)
        assert killed and own.workers[0].poll() is not None and own.workers[1].poll() is None
    finally:
        own.stop()
    assert result.status == "written", result.error
    assert len(bands) >= 12 and all(a % 128 == 0 for a, _ in bands)
    same(tmp_path / "out.zarr", reference)


def test_scheduler_local_filters_a_giant_image(inputs, bands, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink(inputs / "gray.tif", "in.tif")  # relative paths: the workers get them absolute
    reference = local(Path("in.tif"), Path("local.tif"), *STRIDED)
    result = invoke("in.tif", *STRIDED, "-o", "out.tif", "--scheduler", "local")
    assert result.exit_code == 0, result.stderr
    assert len(bands) > 1
    same(Path("out.tif"), reference)


def test_a_band_of_a_stream_is_those_rows_of_the_whole_whatever_the_band():
    from convcli.operations import Activate, Convolve, Pooling
    from convcli.streaming import stream_filter

    image = np.random.default_rng(3).integers(0, 65536, (97, 61, 3), dtype=np.uint16)
    ops = [Convolve("gaussian:sigma=2"), Convolve("sobel:axis=both", stride=2), Activate("relu"), Pooling("max", 2)]
    whole = stream_filter(image, ops, depth="16").collect()
    for r0, r1 in [(0, 1), (3, 17), (11, 12), (0, whole.shape[0]), (20, whole.shape[0])]:
        stream = stream_filter(image, ops, depth="16", strip_rows=5)
        assert np.array_equal(stream.band(r0, r1), whole[r0:r1])
    with pytest.raises(ValueError, match=r"^rows must satisfy 0 <= r0 < r1 <= 24, got 5, 5$"):
        stream.band(5, 5)


def test_band_rows_are_chunk_rows_of_at_least_band_pixels():
    assert giant.band_rows((40000, 40000)) == 512
    assert giant.band_rows((3000, 2500)) == 2048 and giant.band_rows((3000, 2500), 256) == 1792
    assert giant.band_rows((10, 1 << 23), 16) == 16


def test_a_page_of_a_multipage_tiff(dask_cluster, tmp_path, bands, monkeypatch):
    monkeypatch.setattr(giant, "BAND_PIXELS", 1)  # bands of 512 rows: 3
    pages = np.random.default_rng(5).integers(0, 256, (2, 1200, 1000), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        for page in pages:
            tif.write(page, tile=(256, 256))
    tifffile.imwrite(tmp_path / "second.tif", pages[1], tile=(256, 256))
    recipe = build_recipe(kernels=["gaussian:sigma=2"], outdir=str(tmp_path))
    reference = local(tmp_path / "second.tif", tmp_path / "local.zarr", "-k", "gaussian:sigma=2")
    result = filter_on_cluster(tmp_path / "pages.tif", tmp_path / "out.zarr", recipe,
                                       dask_cluster.address, frame=1)
    assert result.status == "written", result.error
    assert len(bands) > 1
    same(tmp_path / "out.zarr", reference)


def test_ctrl_c_cancels_the_bands_waits_for_the_running_ones_and_leaves_nothing(dask_cluster, inputs, bands,
                                                                                 tmp_path, monkeypatch):
    recipe = build_recipe(kernels=["gaussian:sigma=2"], outdir=str(tmp_path), tile=128)
    monkeypatch.setattr(giant, "BAND_PIXELS", 1)  # 24 bands of 128 rows
    real = giant._outcome

    def interrupt(future, label, rows, client):
        real(future, label, rows, client)
        raise KeyboardInterrupt

    monkeypatch.setattr(giant, "_outcome", interrupt)
    with pytest.raises(KeyboardInterrupt):
        filter_on_cluster(inputs / "gray.tif", tmp_path / "out.zarr", recipe, dask_cluster.address)
    assert 1 < len(bands) < 24
    time.sleep(1.0)  # nothing still writes: no temporary folder comes back
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def features(tmp_path_factory, inputs) -> Path:
    """A float32 tiled TIFF with NaN holes (1500x1200), and a tiled mask of gray.tif's size (3000x2500)."""
    folder = tmp_path_factory.mktemp("features")
    rng = np.random.default_rng(22)
    holes = rng.normal(100.0, 30.0, (1500, 1200)).astype(np.float32)
    holes[rng.random(holes.shape) < 0.01] = np.nan
    holes[700:760, 300:420] = np.nan  # a hole wider than any kernel: --nan ignore leaves NaN there
    tifffile.imwrite(folder / "holes.tif", holes, tile=(256, 256))
    tifffile.imwrite(folder / "holes64.tif", holes.astype(np.float64) / 3, tile=(256, 256))  # float64 stays
    mask = ((rng.random((3000, 2500)) > 0.2) * 255).astype(np.uint8)
    tifffile.imwrite(folder / "mask.tif", mask, tile=(256, 256))
    return folder


@pytest.mark.parametrize(("name", "options", "suffix"), [
    ("holes.tif", ("-k", "box:size=5"), ".tif"),  # NaN data, the default --nan propagate
    ("holes.tif", ("-k", "gaussian:sigma=2", "--nan", "ignore"), ".zarr"),
    ("holes64.tif", ("-k", "gaussian:sigma=2", "--nan", "ignore"), ".tif"),
    ("holes64.tif", ("-k", "box:size=5"), ".zarr"),
    ("gray.tif", ("-k", "box:size=5", "--mask", "{mask}"), ".tif"),
    ("gray.tif", ("-k", "gaussian:sigma=2", "--linear"), ".zarr"),
    ("gray.tif", ("-k", "sobel:axis=both", "--range", "normalize"), ".tif"),
    ("rgb.tif", ("-k", "laplacian", "--range", "normalize"), ".zarr"),
])
def test_every_feature_is_cut_into_bands_as_the_local_run(dask_cluster, inputs, features, bands, tmp_path, name,
                                                           options, suffix):
    options = tuple(o.replace("{mask}", str(features / "mask.tif")) for o in options)
    source = (features if name.startswith("holes") else inputs) / name
    reference = local(source, tmp_path / f"local{suffix}", *options)
    here = invoke(str(source), *options, "-o", str(tmp_path / f"again{suffix}"), "--json")
    assert here.exit_code == 0 and json.loads(here.stdout)["files"][0]["bands"] == 1  # one process, whole
    out = tmp_path / f"out{suffix}"
    result = invoke(str(source), *options, "-o", str(out), "--json", "--scheduler", dask_cluster.address)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)["files"][0]
    assert report["bands"] == len(bands) >= 2 and bands[0][0] == 0
    same(out, reference)
    if name == "holes64.tif" and suffix == ".zarr":  # Zarr holds float64: float64 data stays float64
        assert zarr.open_array(str(out), mode="r").dtype == np.float64


def test_normalize_on_the_cluster_folds_the_range_of_every_band(dask_cluster, tmp_path, bands, monkeypatch):
    """The extremes sit in different bands: each band stretched alone would not give the local bytes."""
    monkeypatch.setattr(giant, "BAND_PIXELS", 1)  # bands of 512 rows: 3
    image = np.full((1200, 1000), 0.5, np.float32)
    image[100, 100], image[1100, 900] = -7.0, 30.0  # the low in the first band, the high in the last
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(256, 256))
    result = invoke(str(tmp_path / "in.tif"), "-k", "box:size=3", "--range", "normalize", "--depth", "16", "-o",
                    str(tmp_path / "out.tif"), "--scheduler", dask_cluster.address)
    assert result.exit_code == 0, result.stderr
    assert len(bands) == 3
    got = tifffile.imread(tmp_path / "out.tif")
    # an independent reference: the box (mean of 3x3, reflect border) of the image, stretched over its own range
    padded = np.pad(image.astype(np.float64), 1, mode="symmetric")
    boxed = sum(padded[i : i + 1200, j : j + 1000] for i in range(3) for j in range(3)) / 9
    want = np.round((boxed - boxed.min()) / (boxed.max() - boxed.min()) * 65535)
    assert got.dtype == np.uint16 and np.abs(got.astype(np.int64) - want).max() <= 1
    assert got.min() == 0 and got.max() == 65535


def test_a_signed_integer_image_that_keeps_its_dtype_gives_the_local_bytes(dask_cluster, tmp_path, bands):
    """int16 with negatives: the output keeps int16 locally, so the cluster must too (one worker, not bands)."""
    rng = np.random.default_rng(24)
    image = rng.integers(-3000, 3000, (1500, 1200), dtype=np.int16)
    tifffile.imwrite(tmp_path / "signed.tif", image, tile=(256, 256))
    reference = local(tmp_path / "signed.tif", tmp_path / "local.tif", "-k", "box:size=3")
    out = tmp_path / "out.tif"
    result = invoke(str(tmp_path / "signed.tif"), "-k", "box:size=3", "-o", str(out), "--json", "--scheduler",
                    dask_cluster.address)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["bands"] == 1 and not bands
    got = tifffile.imread(out)
    assert got.dtype == np.int16 and got.min() < 0
    same(out, reference)
