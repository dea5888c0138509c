"""Deep and huge images end to end: 16-bit and float colour, tiled TIFF and Zarr inputs and outputs, bounded memory.

Independent readers and writers (tifffile, imagecodecs, zarr) make the files and read the results; the
filtered values are checked against float64 SciPy computations on real photographs, and the tiled and Zarr
inputs against the same image read whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

from convcli.cli import app
from convcli.imageio import leftover_temp_files
from convcli.kernels import kernel
from tests.conftest import SAMPLES

runner = CliRunner()
CONVCLI = str(Path(sys.executable).parent / "convcli")


def invoke(*args: str):
    return runner.invoke(app, ["apply", *args])


def deep_photo(name: str = "astronaut.png") -> np.ndarray:
    """A real photograph as 16-bit colour: the 8-bit samples times 257 plus noise in the low byte."""
    with Image.open(SAMPLES / name) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint16)[:200, :240]
    noise = np.random.default_rng(13).integers(0, 256, size=rgb.shape, dtype=np.uint16)
    return np.minimum(rgb * 257 + noise, 65535).astype(np.uint16)


def scipy_correlate(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """float64 correlation per channel, numpy's reflect border (SciPy's ``mirror``)."""
    x = image.astype(np.float64)
    return np.stack([ndimage.correlate(x[..., c], matrix, mode="mirror") for c in range(x.shape[2])], axis=2)


def assert_rounded(got: np.ndarray, reference: np.ndarray, top: int) -> None:
    """``got`` is ``reference`` rounded half to even and clipped, except where float32 work may round a tie."""
    want = np.clip(np.rint(reference), 0, top)
    near_half = np.abs(np.abs(reference - np.floor(reference)) - 0.5) < 2e-2
    assert got.shape == want.shape
    assert np.abs(got.astype(np.int64) - want).max() <= 1
    np.testing.assert_array_equal(got[~near_half], want[~near_half])
    assert (~near_half).mean() > 0.9


def test_16_bit_colour_png_is_filtered_exactly(tmp_path):
    image = deep_photo()
    source = tmp_path / "deep.png"
    source.write_bytes(imagecodecs.png_encode(image))  # written by an independent encoder
    result = invoke(str(source), "-k", "gaussian:sigma=2", "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 0, result.output
    got = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    assert got.dtype == np.uint16 and got.shape == image.shape
    assert_rounded(got, scipy_correlate(image, kernel("gaussian:sigma=2").matrix), 65535)


def test_16_bit_colour_tiff_is_filtered_exactly_and_keeps_its_depth(tmp_path):
    image = deep_photo("chelsea.png")
    tifffile.imwrite(tmp_path / "deep.tif", image, photometric="rgb")
    result = invoke(str(tmp_path / "deep.tif"), "-k", "sharpen", "-o", str(tmp_path / "out.tif"))
    assert result.exit_code == 0, result.output
    got = tifffile.imread(tmp_path / "out.tif")
    assert got.dtype == np.uint16 and got.shape == image.shape
    assert_rounded(got, scipy_correlate(image, kernel("sharpen").matrix), 65535)


def test_float_rgb_tiff_is_filtered_in_float(tmp_path):
    image = deep_photo("coffee.png").astype(np.float32) / 65535
    tifffile.imwrite(tmp_path / "float.tif", image, photometric="rgb")
    result = invoke(str(tmp_path / "float.tif"), "-k", "laplacian", "-o", str(tmp_path / "out.tif"))
    assert result.exit_code == 0, result.output
    got = tifffile.imread(tmp_path / "out.tif")
    assert got.dtype == np.float32 and got.shape == image.shape
    np.testing.assert_allclose(got, scipy_correlate(image, kernel("laplacian").matrix), atol=2e-6)


CHAIN = ["-k", "gaussian:sigma=1", "-k", "laplacian", "--pool", "max:size=2", "--range", "abs"]


def test_a_tiled_tiff_and_a_zarr_input_give_the_pixels_of_the_image_read_whole(tmp_path):
    with Image.open(SAMPLES / "coffee.png") as im:
        image = np.asarray(im.convert("RGB"))
    Image.fromarray(image).save(tmp_path / "whole.png")
    tifffile.imwrite(tmp_path / "tiled.tif", image, photometric="rgb", tile=(64, 64), compression="zlib")
    tifffile.imwrite(tmp_path / "strips.tif", image, photometric="rgb", rowsperstrip=7)
    store = zarr.create_array(str(tmp_path / "image.zarr"), shape=image.shape, chunks=(50, 70, 3), dtype=image.dtype)
    store[...] = image
    outputs = {}
    for name in ("whole.png", "tiled.tif", "strips.tif", "image.zarr"):
        out = tmp_path / f"out-{name}.png"
        result = invoke(str(tmp_path / name), *CHAIN, "-o", str(out))
        assert result.exit_code == 0, result.output
        outputs[name] = np.asarray(Image.open(out))
    for name in ("tiled.tif", "strips.tif", "image.zarr"):
        np.testing.assert_array_equal(outputs[name], outputs["whole.png"])


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_tiled_outputs_are_written_tile_by_tile_with_the_asked_layout(suffix, tmp_path):
    image = deep_photo()
    tifffile.imwrite(tmp_path / "in.tif", image, photometric="rgb", tile=(32, 32), resolution=(300, 300),
                     resolutionunit="INCH")
    out = tmp_path / f"out{suffix}"
    result = invoke(str(tmp_path / "in.tif"), "-k", "box:size=5", "-o", str(out), "--tile", "64",
                    "--compression", "zstd")
    assert result.exit_code == 0, result.output
    want = np.clip(np.rint(scipy_correlate(image, np.full((5, 5), 1 / 25))), 0, 65535)
    if suffix == ".tif":
        with tifffile.TiffFile(out) as tif:
            page = tif.pages[0]
            assert page.is_tiled and (page.tilelength, page.tilewidth) == (64, 64)
            assert page.compression == tifffile.COMPRESSION.ZSTD
            assert page.tags["XResolution"].value == (300, 1)
            got = page.asarray()
    else:
        array = zarr.open_array(str(out), mode="r")
        assert array.chunks[:2] == (64, 64)
        got = array[...]
    assert got.dtype == np.uint16
    assert np.abs(got.astype(np.int64) - want).max() <= 1


def _default_sigint() -> None:
    """In the child, before exec: SIGINT's default disposition, whatever the test runner's was (``pytest &``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("runner_sigint", ["as it is", "ignored"])
def test_an_interrupted_run_on_a_big_tiff_leaves_nothing_behind(tmp_path, runner_sigint):
    """Also when the test runner itself ignores SIGINT, as a background job of a non-interactive shell does."""
    if runner_sigint == "ignored":
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            _interrupt_a_big_tiff(tmp_path)
        finally:
            signal.signal(signal.SIGINT, previous)
    else:
        _interrupt_a_big_tiff(tmp_path)


def _interrupt_a_big_tiff(tmp_path: Path) -> None:
    big = tmp_path / "big.tif"
    rows = np.random.default_rng(3).integers(0, 256, size=(256, 6000), dtype=np.uint8)
    tifffile.imwrite(big, np.tile(rows, (24, 1)), tile=(256, 256))
    out = tmp_path / "out" / "big.tif"
    out.parent.mkdir()
    proc = subprocess.Popen([CONVCLI, "apply", str(big), "-k", "gaussian:sigma=6",
                             "-k", "laplacian", "-o", str(out), "--tile", "256"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not leftover_temp_files(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be interrupted; make the image bigger"
    time.sleep(0.2)  # well inside the writing
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert list(out.parent.iterdir()) == [], "no output and no temporary file may remain"


def test_a_tall_tiled_tiff_is_filtered_in_memory_that_does_not_grow_with_its_height(tmp_path):
    """Library use (docs/deep-and-huge.md): open_image, stream_filter, write_bands; memory follows strips."""
    import convcli
    from convcli.imageio import open_image, write_bands

    peaks = []
    for height in (8192, 32768):
        path = tmp_path / f"tall{height}.tif"
        band = np.random.default_rng(height).integers(0, 256, size=(512, 1000), dtype=np.uint8)
        tifffile.imwrite(path, np.tile(band, (height // 512, 1)), tile=(512, 512))
        tracemalloc.start()
        with open_image(path) as source:
            stream = convcli.stream_filter(source, [convcli.Convolve("gaussian:sigma=2"), convcli.Convolve("laplacian"),
                                                    convcli.Pooling("max", 2)], depth="8", range_mode="abs")
            write_bands(tmp_path / "out.tif", stream, shape=stream.shape, dtype=stream.dtype, fmt="TIFF",
                        info=source.info, tile=256)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert tifffile.imread(tmp_path / "out.tif").shape == (height // 2, 500)
    float_image = 32768 * 1000 * 4
    assert peaks[1] < 1.5 * peaks[0], f"peak grew with the height: {peaks}"
    assert peaks[1] < float_image / 2, f"peak {peaks[1]} is not bounded by the strip"


def test_a_big_png_is_refused_from_its_header_with_the_tiled_tiff_advice(tmp_path):
    Image.new("L", (400, 300)).save(tmp_path / "big.png")
    result = invoke(str(tmp_path / "big.png"), "-k", "box", "-o", str(tmp_path / "o.png"), "--max-pixels", "1000")
    assert result.exit_code == 1
    assert "vips tiffsave" in result.stderr and "--max-pixels" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_tile_must_be_a_multiple_of_16(tmp_path):
    result = invoke(str(SAMPLES / "camera.png"), "-k", "box", "-o", str(tmp_path / "o.tif"), "--tile", "100")
    assert result.exit_code == 2
    assert result.stderr == ("Error: --tile must be a positive multiple of 16 (TIFF tiles must be, and Zarr "
                             "chunks follow the same rule), got 100; e.g. --tile 512\n")
    assert not Path(tmp_path / "o.tif").exists()


def test_an_existing_zarr_output_needs_force_and_a_plain_folder_is_never_replaced(tmp_path):
    source = str(SAMPLES / "camera.png")
    out = tmp_path / "edges.zarr"
    assert invoke(source, "-k", "sobel:axis=x", "-o", str(out)).exit_code == 0
    again = invoke(source, "-k", "sobel:axis=x", "-o", str(out))
    assert again.exit_code == 1 and "exists already; pass --force" in again.stderr
    assert invoke(source, "-k", "box", "-o", str(out), "--force").exit_code == 0
    with Image.open(SAMPLES / "camera.png") as im:
        camera = np.asarray(im.convert("L"))
    want = np.clip(np.rint(ndimage.correlate(camera.astype(float), np.full((3, 3), 1 / 9), mode="mirror")), 0, 255)
    assert np.abs(zarr.open_array(str(out), mode="r")[...].astype(int) - want).max() <= 1
    folder = tmp_path / "notes.zarr"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    refused = invoke(source, "-k", "box", "-o", str(folder), "--force")
    assert refused.exit_code == 1 and "not a Zarr array store" in refused.stderr
    assert (folder / "mine.txt").read_text() == "keep me"


def test_review_findings_on_deep_and_huge_images(tmp_path):
    """What a new user's review found: each case once, with the fix's exact behaviour."""
    five = np.random.default_rng(5).integers(0, 65536, size=(40, 30, 5)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c5.tif", five, planarconfig="contig", photometric="minisblack")
    refused = invoke(str(tmp_path / "c5.tif"), "-k", "box", "-o", str(tmp_path / "o.tif"))
    assert refused.exit_code == 1
    assert refused.stderr.endswith("TIFF cannot hold 5-channel data; write .zarr or .npy\n")
    # a channels-first store (OME-NGFF axes c, y, x) is refused, not filtered as 3 rows of 512 channels
    group = zarr.open_group(str(tmp_path / "cyx.zarr"), mode="w")
    group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}],
                                   "axes": [{"name": "c", "type": "channel"}, {"name": "y"}, {"name": "x"}]}]
    group.create_array("0", shape=(3, 64, 64), chunks=(1, 32, 32), dtype="u2")[...] = 1
    cyx = invoke(str(tmp_path / "cyx.zarr"), "-k", "box", "-o", str(tmp_path / "o.zarr"))
    assert cyx.exit_code == 1 and "its axes are (c,y,x)" in cyx.stderr
    assert not (tmp_path / "o.zarr").exists()
    # --force never replaces a Zarr group (a pyramid, labels): convcli writes one array
    ome = zarr.open_group(str(tmp_path / "ome.zarr"), mode="w")
    ome.create_array("0", shape=(64, 64), chunks=(32, 32), dtype="u1")[...] = 7
    ome.create_array("1", shape=(32, 32), chunks=(32, 32), dtype="u1")[...] = 7
    kept = invoke(str(tmp_path / "ome.zarr"), "-k", "box", "-o", str(tmp_path / "ome.zarr"), "--force")
    assert kept.exit_code == 1 and "not a Zarr array store" in kept.stderr
    assert zarr.open_group(str(tmp_path / "ome.zarr"), mode="r")["1"].shape == (32, 32)
    # a tile larger than the image is cut to the image (a tile is allocated whole)
    small = deep_photo()[:100, :90]
    tifffile.imwrite(tmp_path / "small.tif", small, photometric="rgb")
    assert invoke(str(tmp_path / "small.tif"), "-k", "box", "-o", str(tmp_path / "t.tif"), "--tile",
                  "32768").exit_code == 0
    with tifffile.TiffFile(tmp_path / "t.tif") as tif:
        assert (tif.pages[0].tilelength, tif.pages[0].tilewidth) == (112, 112)
    # signed samples read lazily: a 16-bit output's clipping is said, not silent (a TIFF output keeps int16)
    signed = np.random.default_rng(6).integers(-3000, 3000, size=(64, 64)).astype(np.int16)
    tifffile.imwrite(tmp_path / "signed.tif", signed, tile=(32, 32))
    noted = invoke(str(tmp_path / "signed.tif"), "-k", "box", "-o", str(tmp_path / "s.png"))
    assert noted.exit_code == 0 and "int16 samples are taken in 16-bit units" in noted.stderr
    # usage mistakes are usage errors (exit 2)
    stdout = invoke(str(tmp_path / "small.tif"), "-k", "box", "-o", "-", "--format", "zarr")
    assert stdout.exit_code == 2 and "cannot go to stdout" in stdout.stderr
    lzw = invoke(str(tmp_path / "small.tif"), "-k", "box", "-o", str(tmp_path / "l.zarr"), "--compression", "lzw")
    assert lzw.exit_code == 2 and lzw.stderr == ("Error: --compression lzw: Zarr outputs have no LZW codec; use "
                                                 "deflate, zstd or none\n")
