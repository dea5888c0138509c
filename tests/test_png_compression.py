"""PNG compression levels (``--compression 0-9``): exact pixels at every level, the level reaching zlib, the default.

Independent references: OpenCV's and libpng's decoders (not the writer that made the file) for the pixels,
and the zlib header of the IDAT stream (RFC 1950: its FLEVEL bits are set from the level by zlib and
zlib-ng alike: 0 for levels 0-1, 1 for 2-5, 2 for 6, 3 for 7-9) for the level actually used.
"""

from __future__ import annotations

import io

import cv2
import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app
from convcli.errors import ParameterError
from convcli.imageio import ImageInfo, encode_image, write_bands, write_image
from convcli.imageio.compression import DEFAULT_PNG_LEVEL, compression_for
from convcli.recipe import build_recipe
from tests.conftest import SAMPLES

LEVELS = list(range(10))


def invoke(*args: str):
    return CliRunner().invoke(app, ["apply", *args])


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, read by hand from the PNG layout (length, type, data, CRC)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        found.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    return found


def idat(png: bytes) -> bytes:
    """The zlib stream: the IDAT chunks' data joined."""
    return b"".join(data for kind, data in chunks(png) if kind == b"IDAT")


def flevel(png: bytes) -> int:
    """The FLEVEL bits of the zlib header (RFC 1950, the top two bits of its second byte)."""
    stream = idat(png)
    assert stream[0] & 0x0F == 8 and (stream[0] << 8 | stream[1]) % 31 == 0  # deflate, a valid header
    return stream[1] >> 6


def zlib_flevel(level: int) -> int:
    """What zlib's deflate.c writes for a level (compression_level of RFC 1950's FLEVEL)."""
    return 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3


def decoded(png: bytes) -> np.ndarray:
    """The samples as OpenCV's decoder (libpng inside OpenCV, not the writer) reads them, in RGB(A) order."""
    arr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert arr is not None
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return arr


def photo(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A real photograph (astronaut) cut and converted to ``shape`` and ``dtype``; 16-bit gets a noisy low byte."""
    with Image.open(SAMPLES / "astronaut.png") as im:
        rgb = np.asarray(im.convert("RGB"))[: shape[0], : shape[1]]
    channels = shape[2] if len(shape) == 3 else 1
    planes = [rgb[..., 0], rgb[..., 1], rgb[..., 2], rgb.mean(axis=2).astype(np.uint8)]
    pick = {1: [3], 2: [3, 0], 3: [0, 1, 2], 4: [0, 1, 2, 3]}[channels]
    arr = np.stack([planes[i] for i in pick], axis=2)
    if dtype == np.uint16:
        noise = np.random.default_rng(3).integers(0, 256, arr.shape)
        arr = arr.astype(np.uint16) * 257 + noise.astype(np.uint16) // 2
    return arr[..., 0] if channels == 1 else arr


KINDS = {
    "gray8": ((96, 120), np.uint8),
    "rgb8": ((96, 120, 3), np.uint8),
    "rgba8": ((96, 120, 4), np.uint8),
    "gray16": ((96, 120), np.uint16),
    "gray-alpha16": ((96, 120, 2), np.uint16),
    "rgb16": ((96, 120, 3), np.uint16),
}


@pytest.mark.parametrize("level", [*LEVELS, None])
@pytest.mark.parametrize("kind", KINDS)
def test_every_level_decodes_to_the_array_written(kind, level):
    shape, dtype = KINDS[kind]
    arr = photo(shape, dtype)
    png = encode_image(arr, "PNG", compression=level)
    got = decoded(png)
    if kind == "gray-alpha16":  # OpenCV gives gray + alpha as BGRA
        got = got[..., [0, 3]]
    assert got.dtype == arr.dtype
    np.testing.assert_array_equal(got, arr)
    np.testing.assert_array_equal(imagecodecs.png_decode(png).reshape(arr.shape), arr)  # and libpng's own


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("kind", ["rgb8", "gray16", "rgb16"])
def test_the_level_reaches_zlib(kind, level):
    shape, dtype = KINDS[kind]
    png = encode_image(photo(shape, dtype), "PNG", compression=level)
    assert flevel(png) == zlib_flevel(level)


@pytest.mark.parametrize("kind", ["rgb8", "rgb16"])
def test_level_0_stores_the_rows_and_9_is_smaller_than_1(kind):
    shape, dtype = KINDS[kind]
    arr = photo(shape, dtype)
    raw = arr.shape[0] * (1 + arr[0].size * arr.itemsize)  # a filter byte before each row
    stored = len(idat(encode_image(arr, "PNG", compression=0)))
    assert raw < stored <= raw + 5 * (raw // 16384 + 1) + 6  # stored blocks: a 5-byte header each, zlib's 6
    smooth = np.ascontiguousarray(np.repeat(np.repeat(arr, 4, axis=0), 4, axis=1))  # compressible
    sizes = {level: len(encode_image(smooth, "PNG", compression=level)) for level in (1, 6, 9)}
    assert sizes[9] <= sizes[6] < sizes[1] < len(encode_image(smooth, "PNG", compression=0)) / 2


def test_the_default_is_level_1_and_the_help_says_so():
    assert DEFAULT_PNG_LEVEL == 1
    arr = photo((96, 120, 3), np.uint8)
    png = encode_image(arr, "PNG")
    assert flevel(png) == 0  # level 0 or 1 (not Pillow's own default, 6, which writes 2) ...
    assert len(idat(png)) < 0.8 * arr.size  # ... and compressed, so not level 0
    help_text = " ".join(CliRunner().invoke(app, ["apply", "--help"], env={"COLUMNS": "300"}).output.split())
    assert "For .png outputs a zlib level 0-9: 0 stores, 9 is smallest and slowest; default 1" in help_text


def test_the_cli_writes_the_default_level_and_a_given_one(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(photo((96, 120, 3), np.uint8)).save(source)
    found = {}
    for given in (None, "9", "0"):
        out = tmp_path / f"out{given}.png"
        result = invoke(str(source), "-k", "box:size=3", "-o", str(out), *(["--compression", given] if given else []))
        assert result.exit_code == 0, result.output
        found[given] = out.read_bytes()
    assert [flevel(found[g]) for g in (None, "9", "0")] == [0, 3, 0]
    assert len(found["0"]) > 96 * 120 * 3 > 1.5 * len(found[None])  # 0 stores; the default compresses
    np.testing.assert_array_equal(decoded(found["9"]), decoded(found[None]))


def test_stdout_png_takes_the_level_too(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(photo((64, 80), np.uint8)).save(source)
    result = invoke(str(source), "-k", "box:size=3", "-o", "-", "--compression", "7")
    assert result.exit_code == 0, result.stderr
    assert flevel(result.stdout_bytes) == 3


def test_a_batch_of_mixed_formats_takes_the_level_for_png_and_keeps_tiff_at_its_default(tmp_path):
    arr = photo((64, 80, 3), np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "b.tif", arr, photometric="rgb")
    result = invoke(str(tmp_path / "a.png"), str(tmp_path / "b.tif"), "-k", "box:size=3", "--outdir",
                    str(tmp_path / "out"), "--compression", "9", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert flevel((tmp_path / "out" / "a.png").read_bytes()) == 3
    with tifffile.TiffFile(tmp_path / "out" / "b.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE


@pytest.mark.parametrize("value, fits", [("9", "zlib level, to the .png outputs"),
                                         ("zstd", "codec, to the .tif and .zarr outputs")])
def test_a_batch_whose_formats_follow_the_inputs_is_told_what_the_value_reaches(tmp_path, value, fits):
    arr = photo((32, 40, 3), np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "b.tif", arr, photometric="rgb")
    result = invoke(str(tmp_path / "a.png"), str(tmp_path / "b.tif"), "-k", "box:size=3", "--outdir",
                    str(tmp_path / "out"), "--compression", value)
    assert result.exit_code == 0, result.stderr
    assert f"--compression {value} is a {fits} only; outputs of other formats keep their defaults" in result.stderr
    quiet = invoke(str(tmp_path / "a.png"), "-k", "box:size=3", "--outdir", str(tmp_path / "q"), "--compression",
                   value, "--quiet")
    assert quiet.exit_code == 0 and "--compression" not in quiet.stderr
    assert not build_recipe(kernels=["box"], output=str(tmp_path / "x.png"), compression="9").notes


def test_write_bands_and_write_image_pass_the_level(tmp_path):
    arr = photo((64, 80, 3), np.uint8)
    write_bands(tmp_path / "b.png", [(0, arr[:30]), (30, arr[30:])], shape=arr.shape, dtype=arr.dtype, fmt="PNG",
                compression=6)
    write_image(tmp_path / "w.png", arr, compression="2")
    for name, want in (("b.png", 2), ("w.png", 1)):
        png = (tmp_path / name).read_bytes()
        assert flevel(png) == want
        np.testing.assert_array_equal(decoded(png), arr)


def test_a_tiff_stream_takes_its_codec():
    arr = photo((64, 80, 3), np.uint8)
    data = encode_image(arr, "TIFF", compression="zstd")
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ZSTD
        np.testing.assert_array_equal(tif.pages[0].asarray(), arr)


@pytest.mark.parametrize(("fmt", "value", "message"), [
    ("PNG", "zstd", "compression 'zstd' does not fit a PNG output, which takes a zlib level 0-9 (default 1); "
                    "deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only"),
    ("PNG", 10, "compression 10 does not fit a PNG output"),
    ("TIFF", 6, "compression 6 does not fit a TIFF output, which takes deflate, zstd, lzw or none (default "
                "deflate); a zlib level 0-9 is for PNG outputs"),
    ("ZARR", "6", "compression '6' does not fit a Zarr output, which takes deflate, zstd or none (default zstd); a "
                  "zlib level 0-9 is for PNG outputs"),
])
def test_the_library_refuses_a_compression_the_format_does_not_take(tmp_path, fmt, value, message):
    arr = np.zeros((20, 30), np.uint8)
    target = tmp_path / f"out.{fmt.lower()}"
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_bands(target, [(0, arr)], shape=arr.shape, dtype=arr.dtype, fmt=fmt, compression=value)
    assert list(tmp_path.iterdir()) == []


def test_one_value_for_a_batch_applies_where_it_fits():
    assert [compression_for(f, "3") for f in ("PNG", "TIFF", "ZARR", "JPEG")] == [3, None, None, None]
    assert [compression_for(f, "zstd") for f in ("PNG", "TIFF", "ZARR", "JPEG")] == [None, "zstd", "zstd", None]
    assert compression_for("ZARR", "lzw") is None
    assert build_recipe(compression="3", outdir="out").compression == "3"  # outputs' formats follow the inputs


@pytest.mark.parametrize(("output", "value", "message"), [
    ("out.png", "zstd", "Error: --compression zstd does not fit a PNG output, which takes a zlib level 0-9 (default "
                        "1); deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only\n"),
    ("out.png", "none", "Error: --compression none does not fit a PNG output, which takes a zlib level 0-9 (default "
                        "1); deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only\n"),
    ("out.tif", "6", "Error: --compression 6 does not fit a TIFF output, which takes deflate, zstd, lzw or none "
                     "(default deflate); a zlib level 0-9 is for PNG outputs\n"),
    ("out.zarr", "9", "Error: --compression 9 does not fit a Zarr output, which takes deflate, zstd or none (default "
                      "zstd); a zlib level 0-9 is for PNG outputs\n"),
    ("out.png", "10", "Error: --compression must be a zlib level 0-9 (.png outputs) or one of deflate, zstd, lzw, "
                      "none (.tif and .zarr outputs), got '10'\n"),
    ("out.png", "zst", "Error: --compression must be a zlib level 0-9 (.png outputs) or one of deflate, zstd, lzw, "
                       "none (.tif and .zarr outputs), got 'zst'; did you mean 'zstd'?\n"),
])
def test_a_value_the_output_does_not_take_is_a_usage_error(tmp_path, output, value, message):
    source = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source)
    result = invoke(str(source), "-k", "box", "-o", str(tmp_path / output), "--compression", value)
    assert (result.exit_code, result.stderr) == (2, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_a_format_without_compression_gets_a_note(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source)
    result = invoke(str(source), "-k", "box", "-o", str(tmp_path / "out.jpg"), "--compression", "6")
    assert result.exit_code == 0
    assert result.stderr == ("Warning: --compression has no effect on JPEG outputs; it applies to .png (a level 0-9), "
                             ".tif and .zarr outputs\n")
    png = invoke(str(source), "-k", "box", "-o", str(tmp_path / "out.png"), "--compression", "6")
    assert (png.exit_code, png.stderr) == (0, "")


@pytest.mark.parametrize("kind", ["rgb8", "rgb16"])
def test_metadata_chunks_are_kept_at_any_level(kind):
    """Pillow writes the chunks for 8-bit; convcli splices them after IHDR for 16-bit colour."""
    shape, dtype = KINDS[kind]
    arr = photo(shape, dtype)
    info = ImageInfo(path="in.png", dpi=(300.0, 300.0), text={"Title": "level test"})
    for level in (0, 1, 9):
        png = encode_image(arr, "PNG", info=info, compression=level)
        kinds = [kind for kind, _ in chunks(png)]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and {b"pHYs", b"tEXt"} <= set(kinds)
        assert dict(chunks(png))[b"tEXt"] == b"Title\x00level test"
        np.testing.assert_array_equal(decoded(png), arr)
