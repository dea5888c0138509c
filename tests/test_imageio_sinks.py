"""The sink registry (imageio.formats.SINKS): every sink writes what it says it holds, read back independently.

Each registered sink writes every depth and channel count it declares, once from one band
(``write_image``) and once from several (``write_bands``); the files are read back with Pillow,
tifffile, zarr, NumPy or OpenCV, never with convcli.  Lossy formats (JPEG, WebP) are compared on flat
colours within a small tolerance; every other format must give the samples back exactly.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from convcli.depth import sample_dtype
from convcli.errors import ImageWriteError, ParameterError
from convcli.imageio import SINKS, encode_image, find_sink, write_bands, write_image

LOSSY = {"JPEG", "WEBP"}
#: format -> (depth, channels) it must write; built from the registry itself
CASES = [(name, depth, channels) for name, sink in SINKS.items() if sink.holds is not None
         for depth, counts in sorted(sink.holding().items()) for channels in sorted(counts)]


def picture(depth: str, channels: int, *, flat: bool, seed: int = 0) -> np.ndarray:
    """A 37x45 test image: random samples, or flat colour blocks (for lossy formats and palettes)."""
    rng = np.random.default_rng(seed)
    shape = (37, 45) if channels == 1 else (37, 45, channels)
    dtype = sample_dtype(depth)  # type: ignore[arg-type]
    if flat:  # four blocks of one colour each: exact through a palette, near-exact through JPEG
        top = 200 if depth == "8" else (50000 if depth == "16" else 0.75)
        colours = rng.integers(30, 200, size=(4, channels)).astype(np.float64) / 200 * top
        out = np.empty(shape, np.float64)
        # blocks on 16-pixel boundaries, as JPEG's and WebP's macroblocks: no edge inside one
        for i, (rows, cols) in enumerate([(slice(0, 16), slice(0, 32)), (slice(0, 16), slice(32, None)),
                                          (slice(16, None), slice(0, 32)), (slice(16, None), slice(32, None))]):
            out[rows, cols] = colours[i] if channels > 1 else colours[i, 0]
        if channels in (2, 4):
            out[..., -1] = top  # opaque: a lossy codec keeps flat colour; alpha is checked exactly elsewhere
        return out.astype(dtype)
    if dtype.kind == "f":
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)


def read_back(path: Path | str, fmt: str, depth: str, channels: int) -> np.ndarray:
    """The file's samples by an independent reader, in convcli's layout ((H, W) or (H, W, C), RGB order)."""
    if fmt == "TIFF":
        return np.asarray(tifffile.imread(path))
    if fmt == "ZARR":
        return np.asarray(zarr.open_array(str(path), mode="r")[:])
    if fmt == "NPY":
        return np.load(path)
    if fmt == "PNG" and depth == "16" and channels > 1:  # Pillow cannot read 16-bit colour; OpenCV (libpng) can
        found = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert found is not None
        if channels == 2:  # OpenCV gives gray+alpha as BGRA; the three colour channels are equal
            return np.stack([found[..., 0], found[..., 3]], axis=-1)
        return found[..., [2, 1, 0, 3][:channels]]
    with Image.open(path) as image:
        if fmt in ("GIF", "WEBP"):  # GIF gives a palette, WebP gray as RGB
            image = image.convert({1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels])
        found = np.asarray(image)
    return found.astype(np.uint16) if depth == "16" else found  # Pillow gives 16-bit PGM as int32 ("I")


@pytest.mark.parametrize(("fmt", "depth", "channels"), CASES, ids=[f"{f}-{d}-{c}" for f, d, c in CASES])
def test_every_sink_writes_and_reads_back_what_it_holds(tmp_path: Path, fmt: str, depth: str, channels: int) -> None:
    sink = find_sink(fmt)
    lossy = fmt in LOSSY
    arr = picture(depth, channels, flat=lossy or fmt == "GIF")
    whole, banded = tmp_path / f"whole{sink.extensions[0]}", tmp_path / f"banded{sink.extensions[0]}"
    write_image(whole, arr, quality=100 if lossy else None)
    write_bands(banded, ((r, arr[r : r + 10]) for r in range(0, arr.shape[0], 10)), shape=arr.shape,
                dtype=arr.dtype, fmt=fmt, quality=100 if lossy else None)
    for path in (whole, banded):
        found = read_back(path, fmt, depth, channels)
        assert found.shape == arr.shape and found.dtype == arr.dtype, (found.shape, found.dtype)
        if lossy:  # flat colour is kept, but for the chroma blurred across the block edges
            inside = np.ones(arr.shape[:2], bool)
            inside[13:19] = inside[:, 29:35] = False
            assert np.abs(found.astype(int) - arr.astype(int))[inside].max() <= 3
        else:
            np.testing.assert_array_equal(found, arr)
    assert whole.read_bytes() == banded.read_bytes()


def test_the_palette_sink_reduces_colour_and_keeps_few_colours_exactly(tmp_path: Path) -> None:
    sink = find_sink("GIF")
    assert sink.palette == {2, 3, 4}
    arr = picture("8", 3, flat=True)
    write_image(tmp_path / "x.gif", arr)
    np.testing.assert_array_equal(read_back(tmp_path / "x.gif", "GIF", "8", 3), arr)


@pytest.mark.parametrize("fmt", ["NPY", "ZARR"])
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint8])
def test_the_sinks_that_hold_anything_keep_any_real_dtype_and_channel_count(tmp_path: Path, fmt: str,
                                                                           dtype: type) -> None:
    arr: np.ndarray = (np.random.default_rng(3).random((20, 18, 5)) * 1000 - 300).astype(dtype)
    path = tmp_path / f"x{find_sink(fmt).extensions[0]}"
    write_image(path, arr)
    found = read_back(path, fmt, "float", 5)
    assert found.dtype == arr.dtype
    np.testing.assert_array_equal(found, arr)


def test_npy_keeps_the_arrays_own_shape(tmp_path: Path) -> None:
    arr = np.arange(12.0).reshape(3, 4, 1)
    write_image(tmp_path / "x.npy", arr)
    assert np.load(tmp_path / "x.npy").shape == (3, 4, 1)


def test_what_the_registry_says_of_each_sink() -> None:
    assert [name for name, sink in SINKS.items() if sink.streams] == ["TIFF", "ZARR"]
    assert [name for name, sink in SINKS.items() if sink.folder] == ["ZARR"]
    assert {name: sink.default_compression for name, sink in SINKS.items() if sink.compressions} == {
        "PNG": 1, "TIFF": "deflate", "ZARR": "zstd"}
    assert find_sink("TIFF").compressions == ("deflate", "zstd", "lzw", "none")
    assert "lzw" not in find_sink("ZARR").compressions
    assert find_sink("PNG").compressions == tuple("0123456789")
    assert find_sink("JPEG").compressions == () and find_sink("jpeg") is SINKS["JPEG"]


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "GIF"])
def test_a_compression_given_to_a_format_without_one_is_ignored(tmp_path: Path, fmt: str) -> None:
    arr = picture("8", 1, flat=True)
    write_image(tmp_path / "a", arr, fmt=fmt, compression="zstd")
    write_image(tmp_path / "b", arr, fmt=fmt)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_each_default_compression_is_what_the_files_show(tmp_path: Path) -> None:
    arr = picture("16", 3, flat=False)
    write_image(tmp_path / "x.tif", arr)
    write_image(tmp_path / "x.zarr", arr)
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    codecs = zarr.open_array(str(tmp_path / "x.zarr"), mode="r").compressors
    assert [type(c).__name__ for c in codecs] == ["ZstdCodec"]


def test_an_unknown_format_lists_the_valid_ones(tmp_path: Path) -> None:
    arr = np.zeros((4, 4), np.uint8)
    message = (r"cannot write the format 'XYZ'; use one of PNG, JPEG, TIFF, BMP, WEBP, GIF, PPM, TGA, NPY or "
               r"ZARR")
    with pytest.raises(ImageWriteError, match=message):
        write_bands(tmp_path / "x.xyz", [(0, arr)], shape=arr.shape, dtype=arr.dtype, fmt="XYZ")
    with pytest.raises(ImageWriteError, match=message):
        encode_image(arr, "XYZ")
    with pytest.raises(ImageWriteError, match=r"its extension '\.xyz'; use one of \.png, \.jpg, \.jpeg, \.tif"):
        write_image(tmp_path / "x.xyz", arr)
    assert list(tmp_path.iterdir()) == []


def test_a_format_that_cannot_hold_the_data_is_refused_before_the_bands_are_read(tmp_path: Path) -> None:
    read = []

    def watched() -> Iterator[tuple[int, np.ndarray]]:
        read.append(True)
        yield 0, np.zeros((4, 4), np.float32)

    with pytest.raises(ImageWriteError, match=r"x\.jpg: JPEG cannot hold float gray data"):
        write_bands(tmp_path / "x.jpg", watched(), shape=(4, 4), dtype=np.float32, fmt="JPEG")
    with pytest.raises(ParameterError, match=r"x\.png: compression 'lzw' does not fit a PNG output"):
        write_bands(tmp_path / "x.png", watched(), shape=(4, 4), dtype=np.uint8, fmt="PNG", compression="lzw")
    assert read == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "NPY", "PPM"])
def test_stdout_is_a_sink_too(capsysbinary: pytest.CaptureFixture[bytes], fmt: str) -> None:
    arr = picture("16", 1, flat=False)
    write_bands("-", ((r, arr[r : r + 8]) for r in range(0, arr.shape[0], 8)), shape=arr.shape, dtype=arr.dtype,
                fmt=fmt)
    written = capsysbinary.readouterr().out
    assert written == encode_image(arr, fmt)
    if fmt == "TIFF":
        found = tifffile.imread(io.BytesIO(written))
    elif fmt == "NPY":
        found = np.load(io.BytesIO(written))
    else:
        with Image.open(io.BytesIO(written)) as image:
            found = np.asarray(image)
    np.testing.assert_array_equal(found, arr)


def test_a_folder_sink_cannot_go_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    arr = np.zeros((4, 4), np.uint8)
    with pytest.raises(ImageWriteError, match=r"-: a Zarr store is a folder, not a stream of bytes; write it to a "
                                              r"file name ending in \.zarr"):
        write_bands("-", [(0, arr)], shape=arr.shape, dtype=arr.dtype, fmt="ZARR")
    assert capsysbinary.readouterr().out == b""


def test_a_binary_file_is_a_sink_too_and_gets_what_stdout_would() -> None:
    arr = picture("8", 3, flat=False)
    buffer = io.BytesIO()
    write_bands(buffer, ((r, arr[r : r + 5]) for r in range(0, arr.shape[0], 5)), shape=arr.shape, dtype=arr.dtype,
                fmt="TIFF", compression="zstd")
    with tifffile.TiffFile(io.BytesIO(buffer.getvalue())) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ZSTD
        np.testing.assert_array_equal(tif.pages[0].asarray(), arr)
    failed = io.BytesIO()

    def broken() -> Iterator[tuple[int, np.ndarray]]:
        yield 0, arr[:5]
        raise RuntimeError("the filter failed")

    with pytest.raises(RuntimeError, match="the filter failed"):
        write_bands(failed, broken(), shape=arr.shape, dtype=arr.dtype, fmt="PNG")
    assert failed.getvalue() == b""  # encoded whole first: nothing half-written
