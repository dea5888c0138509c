"""Deep colour read and written exactly (issue 13): 16-bit RGB(A) PNG and TIFF, float32 RGB(A) TIFF.

The pictures are real photographs (``sample_images/``) scaled to 16 bits with noise in the low byte (or to
float with noise below 8 bits), so that every bit matters.  Files convcli writes are read back by the
independent readers (tifffile, imagecodecs, OpenCV); files those libraries write are read by convcli.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from convcli.errors import ImageWriteError
from convcli.imageio import ImageInfo, open_image, probe_image, read_image, write_image

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo16(name: str, *, alpha: bool = False, seed: int = 13) -> np.ndarray:
    """A real photograph at 16 bits: the 8-bit samples in the high byte, noise in the low byte."""
    with Image.open(SAMPLES / name) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint16)
    rng = np.random.default_rng(seed)
    deep = (rgb << 8) | rng.integers(0, 256, rgb.shape, dtype=np.uint16)
    if alpha:
        h, w = deep.shape[:2]
        ramp = np.linspace(0, 65535, w, dtype=np.float64)[None, :] * np.ones((h, 1))
        noise = rng.integers(-128, 128, (h, w))
        deep = np.dstack([deep, np.clip(ramp + noise, 0, 65535).astype(np.uint16)])
    return deep


def photo_float(name: str, *, alpha: bool = False) -> np.ndarray:
    """A real photograph as float32 in 0..1 with noise below 8 bits (and an alpha ramp)."""
    deep = photo16(name, alpha=alpha).astype(np.float64) / 65535.0
    rng = np.random.default_rng(7)
    return (deep + rng.normal(0, 1e-5, deep.shape)).astype(np.float32)


PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png"]


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("name", PHOTOS)
def test_16bit_colour_png_round_trips_exactly(tmp_path, name, alpha):
    deep = photo16(name, alpha=alpha)
    write_image(tmp_path / "out.png", deep)
    data = (tmp_path / "out.png").read_bytes()
    assert np.array_equal(imagecodecs.png_decode(data), deep)  # the independent reader
    opencv = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(opencv, deep[..., [2, 1, 0, 3][: deep.shape[2]]])
    (tmp_path / "theirs.png").write_bytes(imagecodecs.png_encode(deep))  # the independent writer
    back, info = read_image(tmp_path / "theirs.png")
    assert back.dtype == np.uint16 and np.array_equal(back, deep)
    assert info.alpha == alpha and info.notes == []
    shape, dtype, _ = probe_image(tmp_path / "theirs.png")
    assert shape == deep.shape and dtype == np.uint16


def test_16bit_gray_alpha_png_round_trips_exactly(tmp_path):
    deep = photo16("coffee.png", alpha=True)[..., [1, 3]]
    write_image(tmp_path / "la.png", deep)
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "la.png").read_bytes()), deep)
    back, info = read_image(tmp_path / "la.png")
    assert np.array_equal(back, deep) and info.alpha


def test_16bit_png_keeps_its_metadata_chunks(tmp_path):
    deep = photo16("chelsea.png")
    info = ImageInfo("in.png", icc_profile=SRGB, dpi=(300.0, 150.0), text={"Title": "cat", "Ünïcode": "ok"})
    write_image(tmp_path / "meta.png", deep, info=info)
    with Image.open(tmp_path / "meta.png") as image:  # Pillow reads the chunks
        assert image.info["icc_profile"] == SRGB
        assert image.info["dpi"] == pytest.approx((300, 150), abs=0.02)
        assert image.text["Title"] == "cat"
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "meta.png").read_bytes()), deep)


def test_16bit_png_is_turned_upright_as_pillow_turns_it(tmp_path):
    deep = photo16("chelsea.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    payload = exif.tobytes()
    payload = payload[6:] if payload.startswith(b"Exif\x00\x00") else payload
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload + struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    encoded = bytes(imagecodecs.png_encode(deep))
    (tmp_path / "turned.png").write_bytes(encoded[:33] + chunk + encoded[33:])
    back, _ = read_image(tmp_path / "turned.png")
    assert back.shape == (deep.shape[1], deep.shape[0], 3) and back.dtype == np.uint16
    with Image.open(tmp_path / "turned.png") as image:  # Pillow: 8 bits (the high bytes), turned by ImageOps
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    assert np.array_equal((back >> 8).astype(np.uint8), expected)
    assert probe_image(tmp_path / "turned.png")[0] == back.shape


@pytest.mark.parametrize("orientation", range(1, 9))
def test_turning_upright_matches_pillow(orientation):
    from convcli.imageio.read import _UPRIGHT
    from convcli.imageio.tiff import turn_upright

    arr = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    image = Image.fromarray(arr)
    if orientation != 1:
        image = image.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
    assert np.array_equal(turn_upright(arr, orientation), np.asarray(image))


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("name", PHOTOS)
def test_16bit_colour_tiff_round_trips_exactly(tmp_path, name, alpha):
    deep = photo16(name, alpha=alpha)
    write_image(tmp_path / "out.tif", deep)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        page = tif.pages[0]
        assert np.array_equal(page.asarray(), deep)
        assert page.photometric == tifffile.PHOTOMETRIC.RGB and page.bitspersample == 16
        assert tuple(page.extrasamples) == ((tifffile.EXTRASAMPLE.UNASSALPHA,) if alpha else ())
    tifffile.imwrite(tmp_path / "theirs.tif", deep, photometric="rgb", compression="zlib",
                     extrasamples=("unassalpha",) if alpha else None)
    back, info = read_image(tmp_path / "theirs.tif")
    assert back.dtype == np.uint16 and np.array_equal(back, deep)
    assert info.alpha == alpha and info.format == "TIFF" and info.mode == ("RGBA;16" if alpha else "RGB;16")


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("name", PHOTOS[:2])
def test_float_colour_tiff_round_trips_exactly(tmp_path, name, alpha):
    deep = photo_float(name, alpha=alpha)
    write_image(tmp_path / "out.tif", deep)
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), deep)
    tifffile.imwrite(tmp_path / "theirs.tif", deep, photometric="rgb",
                     extrasamples=("unassalpha",) if alpha else None)
    back, info = read_image(tmp_path / "theirs.tif")
    assert back.dtype == np.float32 and np.array_equal(back, deep) and info.alpha == alpha
    with open_image(tmp_path / "theirs.tif") as source:
        assert source.lazy and np.array_equal(source.read(), deep)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_every_tiff_depth_and_channel_count_is_written_exactly(tmp_path, dtype, channels):
    deep = photo16("coffee.png", alpha=True)[..., [0, 3, 1, 2][:channels]]
    deep = deep[..., 0] if channels == 1 else deep
    arr = {np.uint8: (deep >> 8).astype(np.uint8), np.uint16: deep,
           np.float32: deep.astype(np.float32) / 65535}[dtype]
    write_image(tmp_path / "x.tif", arr)
    assert np.array_equal(tifffile.imread(tmp_path / "x.tif"), arr)
    back, info = read_image(tmp_path / "x.tif")
    assert np.array_equal(back, arr) and back.dtype == arr.dtype and info.alpha == (channels in (2, 4))


def test_tiff_output_keeps_resolution_icc_and_camera(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    info = ImageInfo("in.tif", icc_profile=SRGB, dpi=(240.0, 180.0), exif=exif.tobytes())
    write_image(tmp_path / "x.tif", photo16("chelsea.png"), info=info)
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        tags = tif.pages[0].tags
        assert tags["InterColorProfile"].value == SRGB
        assert tags["XResolution"].value == (240, 1) and tags["YResolution"].value == (180, 1)
        assert tags["ResolutionUnit"].value == tifffile.RESUNIT.INCH and tags["Make"].value == "TestCam"
    _, read = read_image(tmp_path / "x.tif")
    assert read.icc_profile == SRGB and read.dpi == (240.0, 180.0)


def test_tiff_resolution_in_centimetres_reads_as_dpi(tmp_path):
    tifffile.imwrite(tmp_path / "cm.tif", photo16("chelsea.png"), photometric="rgb", resolution=(100, 50),
                     resolutionunit="centimeter")
    with Image.open(tmp_path / "cm.tif") as image:  # Pillow's reading is the reference
        expected = image.info["dpi"]
    assert read_image(tmp_path / "cm.tif")[1].dpi == pytest.approx(expected)


def test_without_the_extra_16bit_colour_png_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    with pytest.raises(ImageWriteError, match=r"out.png: PNG: 16-bit RGB data needs convcli's formats extra: "
                                              r"pip install '\.\[formats\]'"):
        write_image(tmp_path / "out.png", photo16("chelsea.png"))
    write_image(tmp_path / "gray.png", photo16("chelsea.png")[..., 0])  # 16-bit gray: Pillow writes it
    assert np.array_equal(cv2.imread(str(tmp_path / "gray.png"), cv2.IMREAD_UNCHANGED), photo16("chelsea.png")[..., 0])
    assert not list(tmp_path.glob(".*"))


def test_without_tifffile_tiff_goes_through_pillow_as_before(tmp_path, monkeypatch):
    deep = photo16("chelsea.png")
    tifffile.imwrite(tmp_path / "deep.tif", deep, photometric="rgb")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    back, info = read_image(tmp_path / "deep.tif")
    assert back.dtype == np.uint8 and any("pip install '.[formats]'" in note for note in info.notes)
    gray = deep[..., 1]
    write_image(tmp_path / "gray.tif", gray)
    with Image.open(tmp_path / "gray.tif") as image:
        assert image.mode == "I;16" and np.array_equal(np.asarray(image), gray)
    with pytest.raises(ImageWriteError, match=r"TIFF: 16-bit RGB data needs convcli's formats extra"):
        write_image(tmp_path / "rgb.tif", deep)
