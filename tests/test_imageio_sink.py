"""Images written from bands of rows (issue 13): streamed tiled TIFF and Zarr, atomic, checked.

Outputs are read back with tifffile and zarr (the independent readers), never with convcli.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image, ImageCms

from convcli.errors import ImageWriteError, ParameterError
from convcli.imageio import ImageInfo, leftover_temp_files, remove_temp_files, write_bands

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo(name: str = "astronaut.png") -> np.ndarray:
    with Image.open(SAMPLES / name) as image:
        return np.asarray(image.convert("RGB"))


def bands(arr: np.ndarray, rows: int = 37):
    """The image in bands of ``rows`` rows (not a divisor of the tile), as a generator."""
    for r in range(0, arr.shape[0], rows):
        yield r, arr[r : r + rows]


def failing(arr: np.ndarray, at: int, error: BaseException):
    """Bands that raise ``error`` after ``at`` rows."""
    for r, band in bands(arr):
        if r >= at:
            raise error
        yield r, band


# --- TIFF ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("compression", "code"), [("deflate", 8), ("zstd", 50000), ("lzw", 5), ("none", 1)])
def test_a_tiled_bigtiff_with_the_asked_tile_and_compression(tmp_path, compression, code):
    arr = photo()
    info = ImageInfo("in.png", dpi=(300.0, 72.0), icc_profile=SRGB)
    write_bands(tmp_path / "out.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", info=info,
                tile=128, compression=compression)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        page = tif.pages[0]
        assert tif.is_bigtiff and page.is_tiled and (page.tilelength, page.tilewidth) == (128, 128)
        assert int(page.compression) == code
        assert int(page.predictor) == (1 if compression == "none" else 2)
        assert page.photometric == tifffile.PHOTOMETRIC.RGB
        assert page.tags["XResolution"].value == (300, 1) and page.tags["YResolution"].value == (72, 1)
        assert page.tags["ResolutionUnit"].value == tifffile.RESUNIT.INCH
        assert page.tags["InterColorProfile"].value == SRGB
        assert np.array_equal(page.asarray(), arr)
    assert leftover_temp_files(tmp_path / "out.tif") == []


def test_small_outputs_are_striped_classic_tiff_deflated(tmp_path):
    arr = photo()  # 768 KiB: strips of about 256 KiB
    write_bands(tmp_path / "s.tif", bands(arr, 50), shape=arr.shape, dtype=arr.dtype, fmt="TIFF")
    with tifffile.TiffFile(tmp_path / "s.tif") as tif:
        page = tif.pages[0]
        assert not tif.is_bigtiff and not page.is_tiled and page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert page.rowsperstrip == 256 * 1024 // (512 * 3) and len(page.dataoffsets) == 4
        assert np.array_equal(page.asarray(), arr)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("tile", [None, 32])
def test_every_depth_and_channel_count_streams_exactly(tmp_path, dtype, channels, tile):
    base = photo()[:150, :130]
    planes = np.dstack([base, base[..., :1] // 2 + 10])[..., :channels]
    arr = {np.uint8: planes, np.uint16: planes.astype(np.uint16) * 257 + 3,
           np.float32: planes.astype(np.float32) / 255 - 0.25}[dtype]
    arr = arr[..., 0] if channels == 1 else arr
    write_bands(tmp_path / "x.tif", bands(arr, 23), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", tile=tile)
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        page = tif.pages[0]
        assert np.array_equal(page.asarray(), arr) and page.is_tiled == (tile is not None)
        assert tuple(page.extrasamples) == ((tifffile.EXTRASAMPLE.UNASSALPHA,) if channels in (2, 4) else ())
        assert int(page.predictor) == (3 if dtype == np.float32 else 2)


def test_data_channels_are_not_called_alpha(tmp_path):
    arr = np.zeros((20, 20, 4), np.uint16)
    write_bands(tmp_path / "x.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF",
                info=ImageInfo("cube.npy", format="NPY", alpha=False))
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        assert tuple(tif.pages[0].extrasamples) == (tifffile.EXTRASAMPLE.UNSPECIFIED,)


def test_large_images_are_tiled_without_asking(tmp_path, monkeypatch):
    from convcli.imageio import tiff_write

    monkeypatch.setattr(tiff_write, "TILED_ABOVE_PIXELS", 100 * 100)
    arr = photo()[..., 1]
    write_bands(tmp_path / "x.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF")
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        assert tif.pages[0].is_tiled and tif.pages[0].tilelength == 512 and tif.is_bigtiff


def test_tifffile_pulls_a_row_of_tiles_at_a_time(tmp_path):
    arr = np.zeros((1024, 256), np.uint8)
    pulled: list[int] = []

    def watched():
        for r in range(0, 1024, 16):
            pulled.append(r)
            yield r, arr[r : r + 16]

    sizes: list[int] = []
    real = tifffile.TiffWriter.write

    def spy(self, data, **options):
        def counting():
            for tile in data:
                sizes.append(len(pulled))
                yield tile
        return real(self, counting(), **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tifffile.TiffWriter, "write", spy)
        write_bands(tmp_path / "x.tif", watched(), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", tile=128)
    # when tile k of a row of 2 is handed over, at most the bands of the next row of tiles have been pulled
    assert all(pulled_then <= (i // 2 + 1) * 8 + 8 for i, pulled_then in enumerate(sizes))


# --- Zarr ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("compression", "codec"), [(None, "zstd"), ("zstd", "zstd"), ("deflate", "gzip"),
                                                    ("none", None)])
def test_zarr_output_chunk_by_chunk(tmp_path, compression, codec):
    arr = photo()
    info = ImageInfo("in.png", dpi=(300.0, 300.0), icc_profile=SRGB, alpha=False)
    write_bands(tmp_path / "out.zarr", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="ZARR", tile=96,
                compression=compression, info=info)
    store = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert store.shape == arr.shape and store.chunks == (96, 96, 3) and np.array_equal(store[:], arr)
    names = [type(c).__name__.lower() for c in store.compressors]
    assert names == ([] if codec is None else [f"{codec}codec"])
    kept = store.attrs["convcli"]
    assert kept["dpi"] == [300.0, 300.0] and "icc_profile" in kept
    assert sorted(os.listdir(tmp_path)) == ["out.zarr"]


def test_zarr_takes_any_dtype_and_channel_count(tmp_path):
    cube = np.random.default_rng(2).normal(size=(70, 40, 7))
    write_bands(tmp_path / "c.zarr", bands(cube, 9), shape=cube.shape, dtype=cube.dtype, fmt="ZARR")
    store = zarr.open_array(str(tmp_path / "c.zarr"), mode="r")
    assert store.chunks == (512, 512, 7) and np.array_equal(store[:], cube)


def test_zarr_refuses_lzw_and_tiff_refuses_odd_tiles(tmp_path):
    arr = photo()[:20, :20]
    with pytest.raises(ParameterError, match=r"compression 'lzw' is a TIFF compression; a Zarr output takes "
                                             r"deflate, zstd or none"):
        write_bands(tmp_path / "x.zarr", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="ZARR", compression="lzw")
    with pytest.raises(ParameterError, match=r"tile must be a positive multiple of 16 \(TIFF tiles must be, and "
                                             r"Zarr chunks follow the same rule\), got 100"):
        write_bands(tmp_path / "x.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", tile=100)
    with pytest.raises(ParameterError, match=r"compression must be one of deflate, zstd, lzw, none, got 'jpeg'"):
        write_bands(tmp_path / "x.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", compression="jpeg")
    assert sorted(os.listdir(tmp_path)) == []


# --- atomic: nothing left on failure, no clobbering ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt", "options"), [("out.tif", "TIFF", {"tile": 64}), ("out.tif", "TIFF", {}),
                                                      ("out.zarr", "ZARR", {}), ("out.png", "PNG", {})])
@pytest.mark.parametrize("error", [RuntimeError("a filter failed"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_an_exception_in_the_bands_leaves_no_output_and_no_temporary(tmp_path, name, fmt, options, error):
    arr = photo()
    with pytest.raises(type(error)):
        write_bands(tmp_path / name, failing(arr, 300, error), shape=arr.shape, dtype=arr.dtype, fmt=fmt, **options)
    assert os.listdir(tmp_path) == []


def test_a_failed_overwrite_keeps_the_old_output(tmp_path):
    arr = photo()
    for name, fmt in (("old.tif", "TIFF"), ("old.zarr", "ZARR")):
        write_bands(tmp_path / name, bands(arr), shape=arr.shape, dtype=arr.dtype, fmt=fmt)
        with pytest.raises(RuntimeError):
            write_bands(tmp_path / name, failing(arr, 200, RuntimeError("x")), shape=arr.shape, dtype=arr.dtype,
                        fmt=fmt)
    assert np.array_equal(tifffile.imread(tmp_path / "old.tif"), arr)
    assert np.array_equal(zarr.open_array(str(tmp_path / "old.zarr"), mode="r")[:], arr)
    assert sorted(os.listdir(tmp_path)) == ["old.tif", "old.zarr"]


def test_overwrite_replaces_a_zarr_store_whole(tmp_path):
    first, second = photo()[:100, :100], photo("coffee.png")[:60, :80]
    write_bands(tmp_path / "o.zarr", bands(first), shape=first.shape, dtype=first.dtype, fmt="ZARR", tile=16)
    write_bands(tmp_path / "o.zarr", bands(second), shape=second.shape, dtype=second.dtype, fmt="ZARR", tile=32)
    store = zarr.open_array(str(tmp_path / "o.zarr"), mode="r")
    assert store.chunks == (32, 32, 3) and np.array_equal(store[:], second)
    assert sorted(os.listdir(tmp_path)) == ["o.zarr"]


@pytest.mark.parametrize(("name", "fmt"), [("x.tif", "TIFF"), ("x.zarr", "ZARR"), ("x.png", "PNG")])
def test_overwrite_false_refuses_an_existing_output(tmp_path, name, fmt):
    arr = photo()[:32, :32]
    write_bands(tmp_path / name, bands(arr), shape=arr.shape, dtype=arr.dtype, fmt=fmt)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ImageWriteError, match=rf"{name}: exists already; pass --force to overwrite it or "
                                              r"--skip-existing to keep it"):
        write_bands(tmp_path / name, bands(arr * 0), shape=arr.shape, dtype=arr.dtype, fmt=fmt, overwrite=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_leftover_temp_files_finds_zarr_folders_and_removes_them(tmp_path):
    arr = photo()[:32, :32]
    (tmp_path / ".out.zarr.abc123.convcli-tmp").mkdir()
    (tmp_path / ".out.zarr.abc123.convcli-tmp" / "zarr.json").write_text("{}")
    (tmp_path / ".out.tif.x9.convcli-tmp").write_bytes(b"II*\x00")
    assert [p.name for p in leftover_temp_files(tmp_path / "out.zarr")] == [".out.zarr.abc123.convcli-tmp"]
    assert [p.name for p in remove_temp_files(tmp_path / "out.zarr")] == [".out.zarr.abc123.convcli-tmp"]
    assert [p.name for p in remove_temp_files(tmp_path / "out.tif")] == [".out.tif.x9.convcli-tmp"]
    write_bands(tmp_path / "out.zarr", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="ZARR")
    assert os.listdir(tmp_path) == ["out.zarr"]


def test_a_missing_folder_is_named(tmp_path):
    arr = photo()[:8, :8]
    with pytest.raises(ImageWriteError, match=r"no/x.zarr: the folder '.*no' does not exist; create it first"):
        write_bands(tmp_path / "no" / "x.zarr", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="ZARR")


# --- bands that do not fit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "message"), [
    ([(0, np.zeros((5, 8), np.uint8)), (6, np.zeros((5, 8), np.uint8))],
     r"x.tif: the bands must run top to bottom without gaps: expected one starting at row 5, got row 6"),
    ([(0, np.zeros((5, 9), np.uint8))], r"x.tif: a band of shape \(5, 9\) does not fit an image of shape \(10, 8\)"),
    ([(0, np.zeros((5, 8), np.uint16))], r"x.tif: a band of dtype uint16 in an image of dtype uint8"),
    ([(0, np.zeros((5, 8), np.uint8))], r"x.tif: the bands ended at row 5 of 10"),
    ([(0, np.zeros((12, 8), np.uint8))], r"x.tif: a band of rows 0-11 runs past the image's 10 rows"),
])
def test_bands_that_do_not_fit_are_refused_and_nothing_is_left(tmp_path, given, message):
    with pytest.raises(ValueError, match=message):
        write_bands(tmp_path / "x.tif", iter(given), shape=(10, 8), dtype=np.uint8, fmt="TIFF")
    assert os.listdir(tmp_path) == []


def test_other_formats_are_assembled_and_written_whole(tmp_path):
    arr = photo()
    write_bands(tmp_path / "x.png", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="PNG")
    with Image.open(tmp_path / "x.png") as image:
        assert np.array_equal(np.asarray(image), arr)
    cube = np.random.default_rng(1).normal(size=(30, 20, 5))
    write_bands(tmp_path / "c.npy", bands(cube, 7), shape=cube.shape, dtype=cube.dtype, fmt="NPY", tile=64)
    assert np.array_equal(np.load(tmp_path / "c.npy"), cube)
    with pytest.raises(ImageWriteError, match=r"x.jpg: JPEG cannot hold RGBA data"):
        write_bands(tmp_path / "x.jpg", bands(np.zeros((4, 4, 4), np.uint8)), shape=(4, 4, 4), dtype=np.uint8,
                    fmt="JPEG")


# --- without the formats extra ------------------------------------------------------------------------------------


def test_without_tifffile_a_plain_tiff_goes_through_pillow(tmp_path, monkeypatch):
    arr = photo()
    monkeypatch.setitem(sys.modules, "tifffile", None)
    write_bands(tmp_path / "x.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF")
    with Image.open(tmp_path / "x.tif") as image:
        assert np.array_equal(np.asarray(image), arr)
    with pytest.raises(ImageWriteError, match=r"t.tif: a tiled TIFF needs convcli's formats extra \(tifffile\): "
                                              r"pip install '\.\[formats\]'"):
        write_bands(tmp_path / "t.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", tile=256)
    with pytest.raises(ImageWriteError, match=r"c.tif: a compressed TIFF needs convcli's formats extra"):
        write_bands(tmp_path / "c.tif", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="TIFF", compression="zstd")
    assert sorted(os.listdir(tmp_path)) == ["x.tif"]


def test_without_zarr_a_zarr_output_names_the_extra(tmp_path, monkeypatch):
    arr = photo()[:8, :8]
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImageWriteError, match=r"x.zarr: a Zarr output needs convcli's formats extra \(zarr 3, "
                                              r"Python 3.11\+\): pip install '\.\[formats\]'"):
        write_bands(tmp_path / "x.zarr", bands(arr), shape=arr.shape, dtype=arr.dtype, fmt="ZARR")
    assert os.listdir(tmp_path) == []


def test_write_image_writes_zarr_too_and_encode_image_refuses_it(tmp_path):
    from convcli.imageio import encode_image, write_image

    arr = photo()[:40, :30]
    write_image(tmp_path / "w.zarr", arr, info=ImageInfo("in.png", alpha=False))
    assert np.array_equal(zarr.open_array(str(tmp_path / "w.zarr"), mode="r")[:], arr)
    with pytest.raises(ImageWriteError, match=r"-: a Zarr store is a folder, not a stream of bytes"):
        encode_image(arr, "ZARR")
