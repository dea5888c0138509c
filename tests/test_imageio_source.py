"""Images opened as sources of rows (issue 13): lazy TIFF and Zarr give the same pixels as reading them whole.

Every layout is written by tifffile or zarr (the independent writers) and compared, band by band, with
``tifffile.imread`` / the zarr array read whole.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from convcli.batch.inputs import expand_inputs
from convcli.errors import ImageReadError
from convcli.imageio import (
    ArraySource,
    ImageInfo,
    TiffSource,
    ZarrSource,
    count_frames,
    open_image,
    probe_image,
    probe_size,
    read_image,
)

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
#: bands that start and end inside tiles, cross several, are one row, are empty, reach the bottom
BANDS = [(0, 300), (5, 77), (63, 65), (64, 128), (100, 101), (10, 10), (250, 300), (299, 300)]


def photo(name: str = "coffee.png") -> np.ndarray:
    with Image.open(SAMPLES / name) as image:
        return np.asarray(image.convert("RGB"))[:300, :250]


def deep_photo() -> np.ndarray:
    rgb = photo().astype(np.uint16)
    return (rgb << 8) | np.random.default_rng(3).integers(0, 256, rgb.shape, dtype=np.uint16)


LAYOUTS = {
    "tiled": {"tile": (64, 48), "compression": "zlib"},
    "striped": {"rowsperstrip": 7, "compression": "lzw"},
    "one-strip": {},
    "bigtiff": {"bigtiff": True, "tile": (32, 32), "compression": "zstd"},
    "separate-striped": {"planarconfig": "separate", "rowsperstrip": 10},
    "separate-tiled": {"planarconfig": "separate", "tile": (32, 32), "compression": "zlib", "predictor": True},
    "big-endian": {"byteorder": ">", "tile": (16, 32), "compression": "zlib"},
}


@pytest.mark.parametrize("layout", LAYOUTS, ids=list(LAYOUTS))
def test_tiff_layouts_give_the_same_pixels_band_by_band(tmp_path, layout):
    arr = deep_photo()
    options = dict(LAYOUTS[layout])
    data = np.moveaxis(arr, 2, 0) if options.get("planarconfig") == "separate" else arr
    tifffile.imwrite(tmp_path / "x.tif", data, photometric="rgb", **options)
    whole = tifffile.imread(tmp_path / "x.tif")
    whole = np.moveaxis(whole, 0, 2) if options.get("planarconfig") == "separate" else whole
    assert np.array_equal(whole, arr)
    with open_image(tmp_path / "x.tif") as source:
        assert isinstance(source, TiffSource) and source.lazy
        assert source.shape == arr.shape and source.dtype == np.uint16
        assert source.bigtiff == (layout == "bigtiff") and source.tiled == ("tile" in options)
        for r0, r1 in BANDS:
            band = source.read(r0, r1)
            assert band.dtype == np.uint16 and band.flags.writeable and np.array_equal(band, whole[r0:r1])
        assert np.array_equal(source.read(), whole)


def test_tiff_chunks_are_the_tile_or_the_strip(tmp_path):
    tifffile.imwrite(tmp_path / "t.tif", photo(), photometric="rgb", tile=(64, 32))
    tifffile.imwrite(tmp_path / "s.tif", photo(), photometric="rgb", rowsperstrip=9)
    with open_image(tmp_path / "t.tif") as tiled, open_image(tmp_path / "s.tif") as striped:
        assert tiled.chunks == (64, 32) and striped.chunks == (9, 250)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.int32, np.float32, np.float64, np.float16])
def test_tiff_sample_types(tmp_path, dtype):
    gray = photo()[..., 1].astype(np.float64) / 255 * (100 if np.dtype(dtype).kind in "iu" else 1)
    arr = gray.astype(dtype) - (50 if np.dtype(dtype).kind == "i" else 0)
    tifffile.imwrite(tmp_path / "x.tif", arr, tile=(32, 32), compression="zlib")
    expected = tifffile.imread(tmp_path / "x.tif")
    with open_image(tmp_path / "x.tif") as source:
        got = source.read(40, 111)
    wanted = np.float32 if dtype == np.float16 else dtype  # float16 is widened exactly
    assert got.dtype == wanted and np.array_equal(got, expected[40:111].astype(wanted))


def test_tiff_with_many_channels_reads_them_all(tmp_path):
    cube = np.random.default_rng(5).integers(0, 4000, (40, 30, 6)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "six.tif", cube, photometric="minisblack", planarconfig="contig", tile=(16, 16))
    with open_image(tmp_path / "six.tif") as source:
        assert source.shape == (40, 30, 6) and not source.info.alpha
        assert np.array_equal(source.read(3, 37), cube[3:37])


def test_sparse_tiles_read_as_zero(tmp_path):
    with tifffile.TiffWriter(tmp_path / "sparse.tif") as writer:  # tiles never written: offset and count 0
        writer.write(None, shape=(64, 64), dtype=np.uint8, tile=(32, 32))
    with open_image(tmp_path / "sparse.tif") as source:
        assert np.array_equal(source.read(), np.zeros((64, 64), np.uint8))


def test_jpeg_compressed_tiff_gives_what_tifffile_gives(tmp_path):
    tifffile.imwrite(tmp_path / "j.tif", photo(), photometric="rgb", compression="jpeg", tile=(64, 64))
    with open_image(tmp_path / "j.tif") as source:
        assert source.shape == (300, 250, 3)
        assert np.array_equal(source.read(30, 190), tifffile.imread(tmp_path / "j.tif")[30:190])


def test_tiff_from_bytes_is_lazy_too(tmp_path):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, deep_photo(), photometric="rgb", tile=(32, 32))
    with open_image("-", data=buffer.getvalue()) as source:
        assert isinstance(source, TiffSource) and np.array_equal(source.read(7, 9), deep_photo()[7:9])


def test_tiff_metadata_alpha_icc_and_dpi(tmp_path):
    rgba = np.dstack([photo(), np.full((300, 250), 200, np.uint8)])
    profile = b"\x00" * 16 + b"RGB " + b"\x00" * 108
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=("unassalpha",), iccprofile=profile,
                     resolution=(300, 300), resolutionunit="inch")
    with open_image(tmp_path / "a.tif") as source:
        info = source.info
    assert info.alpha and info.icc_profile == profile and info.dpi == (300.0, 300.0) and info.format == "TIFF"
    tifffile.imwrite(tmp_path / "assoc.tif", rgba, photometric="rgb", extrasamples=("assocalpha",))
    with open_image(tmp_path / "assoc.tif") as source:
        assert source.info.alpha and any("premultiplied" in note for note in source.info.notes)
    tifffile.imwrite(tmp_path / "la.tif", rgba[..., [0, 3]], photometric="minisblack", planarconfig="contig")
    assert read_image(tmp_path / "la.tif")[1].alpha


def test_multipage_tiff_frames(tmp_path):
    pages = [np.full((20, 30), v, np.uint16) for v in (1000, 2000, 3000)]
    with tifffile.TiffWriter(tmp_path / "p.tif") as writer:
        for page in pages:
            writer.write(page, tile=(16, 16))
    assert count_frames(tmp_path / "p.tif") == 3
    with open_image(tmp_path / "p.tif") as first:
        assert first.read()[0, 0] == 1000 and any("has 3 frames" in note for note in first.info.notes)
    with open_image(tmp_path / "p.tif", frame=2) as last:
        assert last.read()[0, 0] == 3000 and last.info.notes == []
    with pytest.raises(ImageReadError, match=r"p.tif: has 3 frames \(0-2\); frame 3 does not exist"):
        open_image(tmp_path / "p.tif", frame=3)


def test_palette_and_cmyk_tiffs_are_left_to_pillow(tmp_path):
    Image.fromarray(photo()).convert("P").save(tmp_path / "p.tif")
    Image.fromarray(photo()).convert("CMYK").save(tmp_path / "c.tif")
    for name in ("p.tif", "c.tif"):
        with open_image(tmp_path / name) as source, Image.open(tmp_path / name) as image:
            assert isinstance(source, ArraySource)
            assert np.array_equal(source.read(), np.asarray(image.convert("RGB")))


def test_an_oriented_tiff_is_read_whole_and_upright(tmp_path):
    arr = photo()[:40, :60]
    tifffile.imwrite(tmp_path / "o.tif", arr, photometric="rgb", rowsperstrip=4, extratags=[(274, "H", 1, 6, True)])
    with Image.open(tmp_path / "o.tif") as image:  # Pillow's exif_transpose is the reference
        from PIL import ImageOps

        expected = np.asarray(ImageOps.exif_transpose(image))
    with open_image(tmp_path / "o.tif") as source:
        assert isinstance(source, ArraySource) and np.array_equal(source.read(), expected)
        assert any("orientation" in note for note in source.info.notes)
    assert probe_image(tmp_path / "o.tif")[0] == expected.shape
    with pytest.raises(ImageReadError, match=r"o.tif: its orientation tag \(6\) turns the picture, so it is read "
                                             r"whole, and 60x40 is 2,400 pixels, over the limit of 300"):
        open_image(tmp_path / "o.tif", max_pixels=300)


# --- the pixel limit ----------------------------------------------------------------------------------------------


def test_the_limit_applies_to_one_tile_of_a_lazy_source(tmp_path):
    arr = np.zeros((512, 512), np.uint8)
    tifffile.imwrite(tmp_path / "t.tif", arr, tile=(64, 64))
    with open_image(tmp_path / "t.tif", max_pixels=64 * 64) as source:  # the image is 64 times the limit
        assert source.read(0, 512).shape == (512, 512)
    with pytest.raises(ImageReadError, match=r"t.tif: one tile of 64x64 is 4,096 pixels, over the limit of 4,095"):
        open_image(tmp_path / "t.tif", max_pixels=64 * 64 - 1)
    tifffile.imwrite(tmp_path / "s.tif", arr, rowsperstrip=8)
    with pytest.raises(ImageReadError, match=r"one strip of 512x8 is 4,096 pixels"):
        open_image(tmp_path / "s.tif", max_pixels=4000)
    with pytest.raises(ImageReadError, match=r"t.tif: 512x512 is 262,144 pixels, over the limit of 4,096"):
        read_image(tmp_path / "t.tif", max_pixels=64 * 64)  # decoded whole: the whole image counts


def test_a_pillow_format_over_the_limit_is_refused_with_advice(tmp_path):
    Image.fromarray(photo()).save(tmp_path / "big photo.png")
    with pytest.raises(ImageReadError, match=(
            r"big photo.png: 250x300 is 75,000 pixels, over the limit of 1,000 \(a decompression bomb guard\); "
            r"raise it with --max-pixels if the image is real and fits in memory, or convert it to a tiled TIFF, "
            r"which convcli streams: vips tiffsave '.*big photo.png' '.*big photo.tif' --tile --bigtiff")):
        open_image(tmp_path / "big photo.png", max_pixels=1000)


def test_the_advice_names_the_extra_when_it_is_missing(tmp_path, monkeypatch):
    Image.fromarray(photo()).save(tmp_path / "a.png")
    Image.fromarray(photo()).save(tmp_path / "a.tif")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ImageReadError, match=r"streams \(with its formats extra: pip install '\.\[formats\]' "
                       r"in convcli's source folder\)"):
        open_image(tmp_path / "a.png", max_pixels=1000)
    with pytest.raises(ImageReadError, match=r"install convcli's formats extra, with which TIFFs stream"):
        open_image(tmp_path / "a.tif", max_pixels=1000)


# --- Zarr ---------------------------------------------------------------------------------------------------------


def test_zarr_gives_the_same_pixels_band_by_band(tmp_path):
    arr = deep_photo()
    store = zarr.create_array(store=str(tmp_path / "x.zarr"), shape=arr.shape, chunks=(64, 48, 3), dtype=arr.dtype)
    store[:] = arr
    whole = zarr.open_array(str(tmp_path / "x.zarr"), mode="r")[:]
    with open_image(tmp_path / "x.zarr") as source:
        assert isinstance(source, ZarrSource) and source.lazy and source.chunks == (64, 48)
        assert source.shape == arr.shape and source.dtype == np.uint16 and source.info.format == "ZARR"
        for r0, r1 in BANDS:
            assert np.array_equal(source.read(r0, r1), whole[r0:r1])
    assert probe_size(tmp_path / "x.zarr") == (300, 250) and count_frames(tmp_path / "x.zarr") == 1
    shape, dtype, _ = probe_image(tmp_path / "x.zarr")
    assert shape == arr.shape and dtype == np.uint16
    back, info = read_image(tmp_path / "x.zarr")
    assert np.array_equal(back, arr) and info.format == "ZARR"


def test_zarr_groups_give_their_array_0_or_their_only_array(tmp_path):
    arr = photo()[..., 0]
    group = zarr.open_group(str(tmp_path / "pyramid.zarr"), mode="w")
    group.create_array("0", shape=arr.shape, chunks=(100, 100), dtype=arr.dtype)[:] = arr
    group.create_array("1", shape=(150, 125), chunks=(100, 100), dtype=arr.dtype)
    with open_image(tmp_path / "pyramid.zarr") as source:
        assert np.array_equal(source.read(), arr)
    two = zarr.open_group(str(tmp_path / "two.zarr"), mode="w")
    for key in ("a", "b"):
        two.create_array(key, shape=(4, 4), dtype="u1")
    with pytest.raises(ImageReadError, match=r"two.zarr: a Zarr group with 2 arrays \('a', 'b'\); convcli reads the "
                                             r"array '0' or a group's only array"):
        open_image(tmp_path / "two.zarr")


def test_zarr_errors_name_the_store(tmp_path):
    zarr.create_array(store=str(tmp_path / "cube.zarr"), shape=(2, 3, 4, 5), dtype="f4")
    with pytest.raises(ImageReadError, match=r"cube.zarr: holds an array of shape \(2, 3, 4, 5\)"):
        open_image(tmp_path / "cube.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(ImageReadError, match=r"empty.zarr: not a readable Zarr store"):
        open_image(tmp_path / "empty.zarr")
    zarr.create_array(store=str(tmp_path / "big.zarr"), shape=(1000, 1000), chunks=(500, 500), dtype="u1")
    with pytest.raises(ImageReadError, match=r"big.zarr: one chunk of 500x500 is 250,000 pixels, over the limit"):
        open_image(tmp_path / "big.zarr", max_pixels=1000)
    with pytest.raises(ImageReadError, match=r"big.zarr: has 1 frame; frame 1 does not exist"):
        open_image(tmp_path / "big.zarr", frame=1)


def test_a_zarr_input_without_the_extra_names_it(tmp_path, monkeypatch):
    zarr.create_array(store=str(tmp_path / "x.zarr"), shape=(4, 4), dtype="u1")
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImageReadError, match=r"x.zarr: reading a Zarr store needs convcli's formats extra "
                                             r"\(zarr 3, Python 3.11\+\): pip install '\.\[formats\]'"):
        open_image(tmp_path / "x.zarr")


# --- sources in general -------------------------------------------------------------------------------------------


def test_pillow_formats_and_npy_are_array_sources(tmp_path):
    Image.fromarray(photo()).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", photo().astype(np.float32))
    with open_image(tmp_path / "a.png") as png, open_image(tmp_path / "b.npy") as npy:
        assert isinstance(png, ArraySource) and not png.lazy and png.chunks is None
        assert np.array_equal(png.read(5, 9), photo()[5:9]) and npy.dtype == np.float32


def test_reads_are_checked_and_fresh():
    source = ArraySource(np.arange(12, dtype=np.uint8).reshape(3, 4), ImageInfo("x"))
    band = source.read(0, 2)
    band[:] = 0
    assert source.read(0, 1).tolist() == [[0, 1, 2, 3]]  # a new array each time
    for r0, r1 in [(-1, 2), (2, 1), (0, 4), (1.5, 2)]:
        with pytest.raises(ValueError, match=r"rows must satisfy 0 <= r0 <= r1 <= 3 \(the height of x\)"):
            source.read(r0, r1)


def test_a_closed_tiff_source_refuses_to_read(tmp_path):
    tifffile.imwrite(tmp_path / "x.tif", photo(), photometric="rgb")
    source = open_image(tmp_path / "x.tif")
    source.close()
    with pytest.raises(ValueError, match="the source is closed"):
        source.read(0, 1)


def test_a_damaged_tile_is_an_image_read_error(tmp_path):
    tifffile.imwrite(tmp_path / "x.tif", photo(), photometric="rgb", tile=(64, 64), compression="zlib")
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        offset = tif.pages[0].dataoffsets[5]
    data = bytearray((tmp_path / "x.tif").read_bytes())
    data[offset : offset + 40] = b"\xff" * 40
    (tmp_path / "x.tif").write_bytes(bytes(data))
    with open_image(tmp_path / "x.tif") as source:
        assert source.read(0, 10).shape == (10, 250, 3)  # tiles of the first row are fine
        with pytest.raises(ImageReadError, match=r"x.tif: cannot decode rows 64-127 \(.*\); the file may be damaged"):
            source.read(64, 128)


# --- batch inputs: a .zarr folder is one image -------------------------------------------------------------------


def test_zarr_stores_are_inputs_not_folders(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(photo()).save(tmp_path / "in" / "a.png")
    zarr.create_array(store=str(tmp_path / "in" / "b.zarr"), shape=(4, 4), dtype="u1")
    (tmp_path / "in" / "sub").mkdir()
    zarr.create_array(store=str(tmp_path / "in" / "sub" / "c.ZARR"), shape=(4, 4), dtype="u1")
    found = [s.rel.as_posix() for s in expand_inputs([str(tmp_path / "in" / "b.zarr")])]
    assert found == ["b.zarr"]
    assert [s.rel.as_posix() for s in expand_inputs([str(tmp_path / "in")])] == ["a.png", "b.zarr"]
    walked = [s.rel.as_posix() for s in expand_inputs([str(tmp_path / "in")], recursive=True)]
    assert walked == ["a.png", "b.zarr", "sub/c.ZARR"]  # never into the stores
    globbed = [s.rel.as_posix() for s in expand_inputs([str(tmp_path / "in" / "*")])]
    assert globbed == ["a.png", "b.zarr"]
    assert all(s.error is None for s in expand_inputs([os.path.join(str(tmp_path), "in", "b.zarr")]))


def test_a_one_channel_zarr_reads_as_gray_in_native_byte_order(tmp_path):
    arr = photo()[..., :1].astype(">u2") * 200
    zarr.create_array(store=str(tmp_path / "g.zarr"), shape=arr.shape, chunks=(50, 50, 1), dtype=arr.dtype,
                      zarr_format=2)[:] = arr
    with open_image(tmp_path / "g.zarr") as source:
        band = source.read(10, 20)
    assert source.shape == (300, 250) and band.dtype == np.dtype("=u2") and band.flags.c_contiguous
    assert np.array_equal(band, arr[10:20, :, 0])


def test_a_32bit_integer_tiff_streams_with_its_values(tmp_path):
    # issue 24: no whole read to note a 16-bit clip; the output keeps int32 or the batch warns (test_int_inputs)
    wide = np.random.default_rng(4).integers(-5000, 90000, (40, 50)).astype(np.int32)
    tifffile.imwrite(tmp_path / "wide.tif", wide, tile=(16, 16))
    with open_image(tmp_path / "wide.tif") as source:
        assert isinstance(source, TiffSource) and np.array_equal(source.read(3, 30), wide[3:30])
        assert source.dtype == np.int32
