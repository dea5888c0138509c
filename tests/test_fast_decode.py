"""JPEGs and PNGs decoded by imagecodecs (convcli.imageio.fast_decode) give Pillow's pixels exactly, and every
damaged or unusual file still goes through Pillow."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from convcli.errors import ImageReadError
from convcli.imageio import fast_decode, read_image


def _photo(h: int, w: int, mode: str) -> Image.Image:
    """A smooth picture with edges and noise (every DCT coefficient busy)."""
    rng = np.random.default_rng(h * 1000 + w)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x ^ y) & 255)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    return image.convert("L") if mode == "L" else image


def _jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _pillow_pixels(data: bytes) -> np.ndarray:
    """The oracle: Pillow's own decode, turned upright as Pillow's exif_transpose does."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(ImageOps.exif_transpose(image))


VARIANTS = {
    "4:2:0 q95": {"quality": 95, "subsampling": 2},
    "4:2:2 q80": {"quality": 80, "subsampling": 1},
    "4:4:4 q100": {"quality": 100, "subsampling": 0},
    "progressive": {"quality": 90, "progressive": True},
    "optimized q30": {"quality": 30, "optimize": True},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("size", [(37, 53), (240, 320), (1, 9)])
def test_the_same_pixels_as_pillow(tmp_path, variant, mode, size):
    data = _jpeg(_photo(*size, mode), **VARIANTS[variant])
    path = tmp_path / "in.jpg"
    path.write_bytes(data)
    fast = fast_decode.decode_jpeg(data, mode=mode, size=(size[1], size[0]))
    assert fast is not None  # the fast path was taken
    arr, info = read_image(path)
    oracle = _pillow_pixels(data)
    assert arr.dtype == np.uint8 and arr.shape == oracle.shape
    np.testing.assert_array_equal(arr, oracle)
    assert info.format == "JPEG" and info.mode == mode


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_as_pillow_does(tmp_path, orientation):
    image = _photo(24, 40, "RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _jpeg(image, quality=92, exif=exif.tobytes())
    path = tmp_path / "turned.jpg"
    path.write_bytes(data)
    arr, _ = read_image(path)
    np.testing.assert_array_equal(arr, _pillow_pixels(data))
    assert arr.flags.c_contiguous


def test_restart_markers_are_decoded_alike(tmp_path):
    data = _jpeg(_photo(64, 96, "RGB"), quality=85, restart_marker_blocks=2)
    (tmp_path / "rst.jpg").write_bytes(data)
    np.testing.assert_array_equal(read_image(tmp_path / "rst.jpg")[0], _pillow_pixels(data))


def test_a_truncated_jpeg_is_refused_by_pillow_not_filled_with_grey(tmp_path):
    data = _jpeg(_photo(200, 300, "RGB"), quality=95)
    cut = data[: len(data) // 2]
    assert fast_decode.decode_jpeg(cut, mode="RGB", size=(300, 200)) is None  # no end-of-image marker
    path = tmp_path / "cut.jpg"
    path.write_bytes(cut)
    with pytest.raises(ImageReadError, match=r"cut\.jpg"):
        read_image(path)


def test_cmyk_and_other_modes_go_through_pillow(tmp_path):
    data = _jpeg(_photo(20, 30, "RGB").convert("CMYK"), quality=95)
    assert fast_decode.decode_jpeg(data, mode="CMYK", size=(30, 20)) is None
    (tmp_path / "cmyk.jpg").write_bytes(data)
    arr, info = read_image(tmp_path / "cmyk.jpg")
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(arr, np.asarray(image.convert("RGB")))
    assert info.mode == "CMYK"


def test_a_decode_of_another_shape_is_not_used():
    data = _jpeg(_photo(20, 30, "RGB"), quality=95)
    assert fast_decode.decode_jpeg(data, mode="RGB", size=(31, 20)) is None


def test_without_imagecodecs_pillow_reads_the_same(tmp_path, monkeypatch):
    data = _jpeg(_photo(50, 70, "RGB"), quality=88)
    path = tmp_path / "in.jpg"
    path.write_bytes(data)
    with_fast, _ = read_image(path)
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    assert fast_decode.decode_jpeg(data, mode="RGB", size=(70, 50)) is None
    without, _ = read_image(path)
    np.testing.assert_array_equal(with_fast, without)
    np.testing.assert_array_equal(without, _pillow_pixels(data))


def test_metadata_is_read_without_pillow_decoding_the_pixels(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _jpeg(_photo(30, 50, "RGB"), quality=77, subsampling=1, dpi=(300, 300), exif=exif.tobytes())
    path = tmp_path / "meta.jpg"
    path.write_bytes(data)
    arr, info = read_image(path)
    assert arr.shape == (50, 30, 3)  # turned a quarter
    assert info.jpeg_quality == 77 and info.jpeg_subsampling == 1
    assert info.dpi is not None and [round(v) for v in info.dpi] == [300, 300]


# --- PNG ------------------------------------------------------------------------------------------------------------


def _png(array: np.ndarray, mode: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG", **options)
    return buffer.getvalue()


def _pillow_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(ImageOps.exif_transpose(image))


PNG_SHAPES = {"L": (), "LA": (2,), "RGB": (3,), "RGBA": (4,)}


@pytest.mark.parametrize("mode", sorted(PNG_SHAPES))
@pytest.mark.parametrize("size", [(1, 1), (37, 53), (200, 130)])
@pytest.mark.parametrize("level", [0, 1, 9])
def test_png_the_same_pixels_as_pillow(tmp_path, mode, size, level):
    rng = np.random.default_rng(size[0] * 7 + level)
    array = rng.integers(0, 256, (*size, *PNG_SHAPES[mode]), dtype=np.uint8)
    array[: size[0] // 2] //= 16  # a compressible half, so that filters and levels matter
    data = _png(array, mode, compress_level=level)
    fast = fast_decode.decode_png(data, mode=mode, size=(size[1], size[0]), info={})
    assert (fast is None) == (mode == "LA")  # grey+alpha: Pillow (libspng has no such output)
    path = tmp_path / "in.png"
    path.write_bytes(data)
    arr, info = read_image(path)
    np.testing.assert_array_equal(arr, _pillow_png(data))
    np.testing.assert_array_equal(arr, array)
    assert info.mode == mode and info.alpha == (mode in ("LA", "RGBA"))


def test_png_written_by_libpng_and_with_gamma_reads_as_pillow(tmp_path):
    import imagecodecs
    from PIL import PngImagePlugin

    array = np.random.default_rng(4).integers(0, 256, (41, 29, 3), dtype=np.uint8)
    chunks = PngImagePlugin.PngInfo()
    chunks.add(b"gAMA", (45455).to_bytes(4, "big"))  # gamma 1/2.2: recorded, not applied by Pillow
    for name, data in (("gamma.png", _png(array, "RGB", pnginfo=chunks)),
                       ("libpng.png", imagecodecs.png_encode(array, level=6))):
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(read_image(tmp_path / name)[0], _pillow_png(data))


@pytest.mark.parametrize("why, mode, make", [
    ("a palette", "P", lambda: Image.new("P", (6, 4), 3)),
    ("1-bit", "1", lambda: Image.new("1", (6, 4), 1)),
    ("16-bit grey", "I;16", lambda: Image.fromarray(np.full((4, 6), 40000, np.uint16))),
])
def test_png_other_kinds_go_through_pillow(tmp_path, why, mode, make):
    buffer = io.BytesIO()
    make().save(buffer, "PNG")
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as image:
        assert fast_decode.decode_png(data, mode=image.mode, size=image.size, info=image.info) is None, why
    (tmp_path / "x.png").write_bytes(data)
    arr, _ = read_image(tmp_path / "x.png")
    assert arr.shape[:2] == (4, 6)


def test_png_colour_key_transparency_goes_through_pillow(tmp_path):
    array = np.random.default_rng(2).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    data = _png(array, "RGB", transparency=(1, 2, 3))
    with Image.open(io.BytesIO(data)) as image:
        assert "transparency" in image.info
        assert fast_decode.decode_png(data, mode="RGB", size=(9, 8), info=image.info) is None


def test_png_truncated_or_damaged_reports_as_before(tmp_path):
    array = np.random.default_rng(8).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    data = _png(array, "RGB")
    cut = data[: len(data) // 2]
    assert fast_decode.decode_png(cut, mode="RGB", size=(90, 120), info={}) is None
    (tmp_path / "cut.png").write_bytes(cut)
    with pytest.raises(ImageReadError, match=r"cut\.png"):
        read_image(tmp_path / "cut.png")


def test_png_without_imagecodecs_pillow_reads_the_same(tmp_path, monkeypatch):
    array = np.random.default_rng(5).integers(0, 256, (30, 20, 4), dtype=np.uint8)
    data = _png(array, "RGBA")
    (tmp_path / "a.png").write_bytes(data)
    fast, _ = read_image(tmp_path / "a.png")
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    assert fast_decode.decode_png(data, mode="RGBA", size=(20, 30), info={}) is None
    slow, _ = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(slow, array)


def test_png_decoding_prints_nothing_of_its_own(tmp_path):
    """libpng prints warnings on stderr (an interlaced grey+alpha PNG, a grey PNG with an RGB profile); the fast
    path uses libspng, which is silent, and grey+alpha goes through Pillow."""
    import subprocess

    array = np.random.default_rng(6).integers(0, 256, (40, 30, 2), dtype=np.uint8)
    (tmp_path / "la.png").write_bytes(_png(array, "LA"))
    rgb = np.random.default_rng(7).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    (tmp_path / "rgb.png").write_bytes(_png(rgb, "RGB"))
    code = ("import sys; from convcli.imageio import read_image; "
            "[read_image(p) for p in sys.argv[1:]]")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "la.png"), str(tmp_path / "rgb.png")],
                          capture_output=True, text=True, check=True)
    assert done.stderr == "" and done.stdout == ""
