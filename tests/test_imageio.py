"""Images to arrays and back (imageio.py): modes, depth, alpha, metadata, atomic writes, bad files."""

from __future__ import annotations

import errno
import io
import os
import struct
import sys
import zlib
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from PIL import Image

from convcli.errors import ImageReadError, ImageWriteError
from convcli.imageio import (
    TEMP_SUFFIX,
    count_frames,
    depth_possible,
    encode_image,
    fit_depth,
    format_for,
    held_with_extra,
    image_extensions,
    leftover_temp_files,
    leftover_temp_files_of,
    probe_image,
    probe_size,
    read_image,
    write_bytes_atomic,
    write_image,
)
from convcli.imageio._open import identify


def pil_save(path: Path, image: Image.Image, **options) -> Path:
    image.save(path, **options)
    return path


def fake_icc(space: bytes) -> bytes:
    """A syntactically minimal ICC header: 128 bytes with the colour space at offset 16."""
    header = bytearray(128)
    header[0:4] = struct.pack(">I", 128)
    header[16:20] = space
    header[36:40] = b"acsp"
    return bytes(header)


# --- reading ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "mode"), [((5, 7), "L"), ((5, 7, 2), "LA"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA")]
)
@pytest.mark.parametrize("ext", [".png", ".tif", ".tga"])
def test_8bit_round_trip(tmp_path, rng, shape, mode, ext):
    arr = rng.integers(0, 256, shape).astype(np.uint8)
    write_image(tmp_path / f"x{ext}", arr)
    back, info = read_image(tmp_path / f"x{ext}")
    assert back.dtype == np.uint8 and np.array_equal(back, arr)
    assert info.mode == mode and info.alpha == (mode in ("LA", "RGBA"))


@pytest.mark.parametrize("ext", [".png", ".tif", ".pgm"])
def test_16bit_gray_round_trip(tmp_path, rng, ext):
    arr = rng.integers(0, 65536, (6, 9)).astype(np.uint16)
    write_image(tmp_path / f"x{ext}", arr)
    back, info = read_image(tmp_path / f"x{ext}")
    assert back.dtype == np.uint16 and np.array_equal(back, arr)
    assert info.mode.startswith("I;16") or info.mode == "I"


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16bit_colour_png_is_written_exactly(tmp_path, rng, channels):
    arr = rng.integers(0, 65536, (7, 11, channels)).astype(np.uint16)
    write_image(tmp_path / "deep.png", arr)
    decoded = cv2.imread(str(tmp_path / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == np.uint16
    if channels == 2:  # OpenCV expands gray+alpha to BGRA
        assert np.array_equal(decoded[..., 0], arr[..., 0]) and np.array_equal(decoded[..., 3], arr[..., 1])
    else:
        assert np.array_equal(decoded[..., [2, 1, 0, 3][:channels]], arr)


def test_16bit_colour_png_is_read_exactly(tmp_path, rng):
    arr = rng.integers(0, 65536, (4, 5, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), arr)  # OpenCV writes BGR
    back, info = read_image(tmp_path / "deep.png")
    assert back.dtype == np.uint16 and np.array_equal(back, arr[..., ::-1]) and info.notes == []


def test_16bit_colour_png_without_the_extra_is_8bit_and_says_so(tmp_path, rng, monkeypatch):
    arr = rng.integers(0, 65536, (4, 5, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), arr)
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    back, info = read_image(tmp_path / "deep.png")
    assert back.dtype == np.uint8 and np.array_equal(back, (arr[..., ::-1] >> 8).astype(np.uint8))
    assert any("16-bit colour was decoded to 8 bits" in note and "pip install '.[formats]'" in note
               for note in info.notes)


def test_float_tiff_and_npy_round_trip(tmp_path, rng):
    arr = rng.normal(size=(5, 6)).astype(np.float32)
    write_image(tmp_path / "x.tif", arr)
    back, info = read_image(tmp_path / "x.tif")
    assert back.dtype == np.float32 and np.array_equal(back, arr) and info.mode == "F"
    cube = rng.normal(size=(4, 3, 5))
    write_image(tmp_path / "x.npy", cube)
    back, info = read_image(tmp_path / "x.npy")
    assert back.dtype == np.float64 and np.array_equal(back, cube) and info.format == "NPY" and not info.alpha


@pytest.mark.parametrize(
    ("make", "dtype", "shape", "alpha"),
    [
        (lambda: Image.new("1", (4, 3), 1), np.uint8, (3, 4), False),
        (lambda: Image.new("P", (4, 3), 5), np.uint8, (3, 4, 3), False),
        (lambda: Image.new("CMYK", (4, 3), (0, 255, 0, 0)), np.uint8, (3, 4, 3), False),
        (lambda: Image.new("I", (4, 3), 70000), np.int32, (3, 4), False),
        (lambda: Image.new("F", (4, 3), 0.25), np.float32, (3, 4), False),
        (lambda: Image.new("LA", (4, 3), (9, 200)), np.uint8, (3, 4, 2), True),
    ],
)
def test_modes_are_read_with_their_precision(tmp_path, make, dtype, shape, alpha):
    image = make()
    path = pil_save(tmp_path / ("x.tif" if image.mode in ("I", "F", "CMYK") else "x.png"), image)
    arr, info = read_image(path)
    assert arr.dtype == dtype and arr.shape == shape and info.alpha == alpha
    probed = probe_image(path)
    assert probed[0] == shape and probed[1] == dtype and probed[2].alpha == alpha


def test_bilevel_is_0_and_255_and_cmyk_becomes_rgb(tmp_path):
    arr, _ = read_image(pil_save(tmp_path / "b.png", Image.new("1", (2, 2), 1)))
    assert arr.tolist() == [[255, 255], [255, 255]]
    arr, _ = read_image(pil_save(tmp_path / "c.tif", Image.new("CMYK", (1, 1), (0, 255, 0, 0))))
    assert arr[0, 0].tolist() == [255, 0, 255]


def test_palette_with_transparency_becomes_rgba(tmp_path):
    image = Image.new("P", (3, 2), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 0), 1)
    path = pil_save(tmp_path / "p.png", image, transparency=0)
    arr, info = read_image(path)
    assert arr.shape == (2, 3, 4) and info.alpha
    assert arr[0, 0].tolist() == [255, 0, 0, 0] and arr[0, 1].tolist() == [0, 0, 255, 255]


def test_jpeg_exif_orientation_is_applied_and_reset(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    path = pil_save(tmp_path / "o.jpg", Image.fromarray(arr), exif=exif.tobytes(), quality=100)
    upright, info = read_image(path)
    assert upright.shape == (40, 20, 3)
    assert upright[5, 10].mean() > 200 and upright[35, 10].mean() < 50  # the left edge is now at the top
    assert probe_image(path)[0] == (40, 20, 3)
    write_image(tmp_path / "out.jpg", upright, info=info)
    with Image.open(tmp_path / "out.jpg") as written:
        assert written.getexif().get(0x0112) == 1


def test_icc_and_exif_are_carried_over_where_they_fit(tmp_path, rng):
    rgb_profile = fake_icc(b"RGB ")
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    source = pil_save(tmp_path / "s.png", Image.fromarray(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)),
                      icc_profile=rgb_profile, exif=exif.tobytes())
    arr, info = read_image(source)
    assert info.icc_profile == rgb_profile and info.exif
    for ext in (".png", ".jpg", ".tif", ".webp"):
        write_image(tmp_path / f"o{ext}", arr, info=info)
        with Image.open(tmp_path / f"o{ext}") as out:
            assert out.info.get("icc_profile") == rgb_profile, ext
            assert out.getexif().get(0x010F) == "TestCam", ext
    write_image(tmp_path / "gray.png", arr[..., 0], info=info)  # an RGB profile does not describe gray data
    with Image.open(tmp_path / "gray.png") as out:
        assert "icc_profile" not in out.info
    deep = np.full((3, 3, 3), 40000, np.uint16)
    write_image(tmp_path / "deep.png", deep, info=info)
    with Image.open(tmp_path / "deep.png") as out:
        assert out.info.get("icc_profile") == rgb_profile and out.getexif().get(0x010F) == "TestCam"


def test_animated_gif_gives_the_first_frame_and_says_so(tmp_path):
    frames = [Image.new("L", (3, 3), v) for v in (10, 200)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    arr, info = read_image(tmp_path / "a.gif")
    assert int(arr.reshape(-1, arr.shape[-1] if arr.ndim == 3 else 1)[0][0]) == 10
    assert any("has 2 frames; only the first is filtered" in note for note in info.notes)


def test_stdin_bytes_are_read_like_a_file(rng):
    arr = rng.integers(0, 256, (3, 4, 3)).astype(np.uint8)
    back, info = read_image("-", data=encode_image(arr, "PNG"))
    assert np.array_equal(back, arr) and info.path == "-"
    back, info = read_image("-", data=encode_image(arr, "NPY"))
    assert np.array_equal(back, arr) and info.format == "NPY"


# --- bad inputs ---------------------------------------------------------------------


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 100))
            + _chunk(b"IEND", b""))


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(100000, 100000))
    with pytest.raises(ImageReadError, match=r"bomb.png: 100000x100000 is 10,000,000,000 pixels, over the limit of "
                                             r"256,000,000 .*raise it with --max-pixels"):
        read_image(path)
    with pytest.raises(ImageReadError, match=r"over the limit of 100"):
        probe_image(path, max_pixels=100)
    np.save(tmp_path / "big.npy", np.zeros((20, 20)))
    with pytest.raises(ImageReadError, match=r"20x20 is 400 pixels, over the limit of 399"):
        read_image(tmp_path / "big.npy", max_pixels=399)


class _GuardSpy(type(Image)):  # type: ignore[misc]
    """PIL.Image's module class, recording every write of MAX_IMAGE_PIXELS."""

    writes: ClassVar[list[object]] = []

    def __setattr__(self, name, value):
        if name == "MAX_IMAGE_PIXELS":
            _GuardSpy.writes.append(value)
        super().__setattr__(name, value)


@pytest.fixture
def guard_spy(monkeypatch):
    _GuardSpy.writes = []
    monkeypatch.setattr(Image, "__class__", _GuardSpy)
    yield _GuardSpy.writes
    Image.__class__ = type(io)  # back to a plain module before monkeypatch restores anything


def test_probe_size_reads_a_huge_header_without_touching_pillows_guard(tmp_path, guard_spy):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(200000, 150000))  # 3e10 pixels: far past twice Pillow's limit
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(Image.DecompressionBombError):  # Pillow's own open refuses it ...
        Image.open(path)
    assert probe_size(path) == (150000, 200000)  # ... its size is read all the same (height, width)
    assert guard_spy == [] and Image.MAX_IMAGE_PIXELS == limit  # never written, not even temporarily
    with pytest.raises(ImageReadError, match=r"huge.png: 200000x150000 is 30,000,000,000 pixels, over the limit"):
        read_image(path)  # reading pixels still refuses the bomb
    assert guard_spy == [] and Image.MAX_IMAGE_PIXELS == limit


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image at all", r"cannot read the size of '.*x.png': it is not an image Pillow can open"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, r"cannot read the size of '.*x.png'|x.png: the image is damaged"),
    ],
)
def test_probe_size_failures_leave_pillows_guard_alone(tmp_path, guard_spy, content, message):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageReadError, match=message):
        probe_size(path)
    assert guard_spy == [] and Image.MAX_IMAGE_PIXELS == limit


def test_probe_size_of_npy_reads_the_header_only(tmp_path):
    path = tmp_path / "big.npy"
    with open(path, "wb") as handle:  # a header declaring 100000 x 200000 x 3 floats, and no data at all
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (100000, 200000, 3)})
    assert probe_size(path) == (100000, 200000)
    np.save(tmp_path / "line.npy", np.zeros(5))
    with pytest.raises(ImageReadError, match=r"holds an array of shape \(5,\); an image is \(height, width\)"):
        probe_size(tmp_path / "line.npy")
    with pytest.raises(ImageReadError, match=r"cannot read the size of .*nope.npy.: no such file"):
        probe_size(tmp_path / "nope.npy")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".webp", ".gif", ".ppm", ".tga"])
def test_identify_agrees_with_image_open(tmp_path, rng, ext):
    path = tmp_path / f"x{ext}"
    write_image(path, rng.integers(0, 256, (5, 7)).astype(np.uint8))
    with Image.open(path) as opened, open(path, "rb") as handle:
        ours = identify(handle)
        assert (ours.format, ours.size, ours.mode) == (opened.format, opened.size, opened.mode)
    assert probe_size(path) == (5, 7) == read_image(path)[0].shape[:2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"hello, I am text", "not an image Pillow can read"),
        (None, "damaged or truncated"),
    ],
)
def test_bad_files_are_named(tmp_path, rng, content, message):
    path = tmp_path / "bad.png"
    if content is None:
        content = encode_image(rng.integers(0, 256, (64, 64)).astype(np.uint8), "PNG")[:-60]
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=rf"bad.png: .*{message}|bad.png: {message}"):
        read_image(path)


def test_truncated_jpeg_is_refused(tmp_path, rng):
    data = encode_image(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8), "JPEG")
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"t.jpg: the image is damaged or truncated"):
        read_image(tmp_path / "t.jpg")


def test_missing_file_folder_and_bad_npy(tmp_path):
    with pytest.raises(ImageReadError, match=r"nope.png: no such file; check the path"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match=r"is a folder, not an image; pass --recursive"):
        read_image(tmp_path)
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(ImageReadError, match=r"s.npy: holds an array of shape \(2,\) and dtype <U1"):
        read_image(tmp_path / "s.npy")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ImageReadError, match=r"junk.npy: not a readable .npy array"):
        read_image(tmp_path / "junk.npy")


# --- formats and depths ---------------------------------------------------------------


def test_format_for_and_extensions():
    assert format_for("a/B.TIFF") == "TIFF" and format_for("x.pgm") == "PPM" and format_for("x.npy") == "NPY"
    assert format_for("x.raw", default="PNG") == "PNG"
    with pytest.raises(ImageWriteError, match="cannot tell the format of 'x' from its extension '\\(none\\)'"):
        format_for("x")
    assert {".png", ".jpeg", ".tiff", ".webp", ".bmp", ".gif", ".npy"} <= image_extensions()


@pytest.mark.parametrize(
    ("fmt", "depth", "channels", "expected"),
    [
        ("PNG", "8", 4, "8"), ("PNG", "16", 3, "16"), ("PNG", "float", 1, "16"), ("TIFF", "float", 1, "float"),
        ("TIFF", "float", 3, "float"), ("TIFF", "16", 4, "16"), ("JPEG", "16", 3, "8"), ("NPY", "float", 7, "float"),
        ("PPM", "16", 1, "16"), ("WEBP", "float", 4, "8"), ("ZARR", "float", 7, "float"),
    ],
)
def test_fit_depth_falls_back_to_the_deepest_the_format_holds(fmt, depth, channels, expected):
    assert fit_depth(fmt, depth, channels) == expected


@pytest.mark.parametrize(
    ("fmt", "depth", "channels", "message"),
    [
        ("PNG", "float", 3, "PNG cannot hold float RGB data; write .tif or .npy, or choose --depth 16"),
        ("JPEG", "8", 4, "JPEG cannot hold RGBA data; write .png, .tga, .tif, .webp, .zarr or .npy"),
        ("JPEG", "8", 2, "JPEG cannot hold gray\\+alpha data; write .png, .tga, .tif, .zarr or .npy"),
        ("PPM", "16", 3, "PPM cannot hold 16-bit RGB data; write .png or .npy, or choose --depth 8"),
    ],
)
def test_fit_depth_strict_names_the_fix(fmt, depth, channels, message):
    with pytest.raises(ImageWriteError, match=message):
        fit_depth(fmt, depth, channels, strict=True)


@pytest.mark.parametrize(("fmt", "depth", "channels", "missing", "fallback", "message"), [
    ("TIFF", "16", 3, "tifffile", "8", "TIFF: 16-bit RGB data needs convcli's formats extra: pip install "
     "'\\.\\[formats\\]' in convcli's source folder \\(or write .npy, or choose --depth 8\\)"),
    ("TIFF", "float", 4, "tifffile", "8", "TIFF: float RGBA data needs convcli's formats extra"),
    ("PNG", "16", 4, "imagecodecs", "8", "PNG: 16-bit RGBA data needs convcli's formats extra"),
])
def test_fit_depth_without_the_extra_names_it(monkeypatch, fmt, depth, channels, missing, fallback, message):
    assert fit_depth(fmt, depth, channels, strict=True) == depth  # with the extra
    monkeypatch.setitem(sys.modules, missing, None)
    assert fit_depth(fmt, depth, channels) == fallback
    assert held_with_extra(fmt, depth, channels)
    with pytest.raises(ImageWriteError, match=message):
        fit_depth(fmt, depth, channels, strict=True)
    assert fit_depth(fmt, depth, 1, strict=True) == depth  # gray: Pillow writes it


def test_fit_depth_refuses_channels_a_format_never_holds():
    with pytest.raises(ImageWriteError,
                       match=r"BMP cannot hold RGBA data; write .png, .tga, .tif, .webp, .zarr or .npy"):
        fit_depth("BMP", "8", 4)
    assert fit_depth("GIF", "16", 3) == "8"  # colour into GIF: a palette (issue 12), never refused
    assert depth_possible("PNG", "16") and not depth_possible("JPEG", "16") and depth_possible("NPY", "float")


def test_encode_refuses_what_the_format_cannot_hold():
    with pytest.raises(ImageWriteError, match=r"out.jpg: JPEG cannot hold RGBA data"):
        encode_image(np.zeros((2, 2, 4), np.uint8), "JPEG", name="out.jpg")
    with pytest.raises(ImageWriteError, match=r"cannot write dtype int64 as an image"):
        encode_image(np.zeros((2, 2), np.int64), "PNG")


def test_jpeg_quality_changes_the_bytes(rng):
    arr = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    assert len(encode_image(arr, "JPEG", quality=20)) < len(encode_image(arr, "JPEG", quality=95))
    assert encode_image(arr, "JPEG") == encode_image(arr, "JPEG", quality=95)


# --- atomic writes --------------------------------------------------------------------


def test_write_leaves_no_temporary_file_and_usual_permissions(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_no_overwrite_is_atomic_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")
    with pytest.raises(ImageWriteError, match=r"a.png: exists already; pass --force to overwrite it"):
        write_image(target, np.zeros((2, 2), np.uint8), overwrite=False)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    write_image(target, np.zeros((2, 2), np.uint8))
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ImageWriteError, match=r"full.png: cannot write .No space left on device.; free some space on "
                                              r"the disk holding .*; nothing was written"):
        write_image(tmp_path / "full.png", np.zeros((2, 2), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_removes_its_temporary_file(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_folder_target_are_refused(tmp_path):
    with pytest.raises(ImageWriteError, match=r"the folder .*nope.* does not exist; create it first"):
        write_image(tmp_path / "nope" / "a.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError, match=r"d.png: is a folder"):
        write_bytes_atomic(tmp_path / "d.png", b"x")


def test_leftover_temp_files_finds_only_ours(tmp_path):
    stray = tmp_path / f".a.png.abc123{TEMP_SUFFIX}"
    stray.write_bytes(b"")
    (tmp_path / ".b.png.x.convcli-tmp").write_bytes(b"")
    (tmp_path / "a.png").write_bytes(b"")
    assert leftover_temp_files(tmp_path / "a.png") == [stray]
    assert leftover_temp_files(tmp_path / "missing" / "a.png") == []


def test_leftover_temp_files_of_many_outputs_lists_each_folder_once(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    ours = [tmp_path / f".a.png.k2j4_x9q{TEMP_SUFFIX}", tmp_path / "sub" / f".c.png.zz1{TEMP_SUFFIX}"]
    for path in [*ours, tmp_path / f".a.png.x.png.k2j4_x9q{TEMP_SUFFIX}", tmp_path / f".d.png.k2j4{TEMP_SUFFIX}",
                 tmp_path / "a.png"]:
        path.write_bytes(b"")  # a.png.x.png's and d.png's temporary files are not for these outputs
    listed = []
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda folder: listed.append(folder) or scandir(folder))
    outputs = [tmp_path / n for n in ("a.png", "b.png")] + [tmp_path / "sub" / "c.png", tmp_path / "gone" / "e.png"]
    assert leftover_temp_files_of(str(p) for p in outputs) == sorted(ours)
    assert sorted(map(str, listed)) == sorted(map(str, [tmp_path, tmp_path / "sub", tmp_path / "gone"]))


def test_encode_npy_keeps_dtype():
    data = encode_image(np.arange(6, dtype=np.int16).reshape(2, 3), "NPY")
    assert np.load(io.BytesIO(data)).dtype == np.int16


def test_frames_are_counted_and_read_one_by_one(tmp_path):
    pages = [Image.new("L", (3, 2), v) for v in (10, 20, 30)]
    pages[0].save(tmp_path / "p.tif", save_all=True, append_images=pages[1:])
    assert count_frames(tmp_path / "p.tif") == 3
    assert [int(read_image(tmp_path / "p.tif", frame=i)[0][0, 0]) for i in range(3)] == [10, 20, 30]
    shape, _, info = probe_image(tmp_path / "p.tif", frame=2)
    assert shape == (2, 3) and info.notes == []  # no "only the first" note once a frame is asked for
    with pytest.raises(ImageReadError, match=r"p.tif: has 3 frames \(0-2\); frame 3 does not exist"):
        read_image(tmp_path / "p.tif", frame=3)
    write_image(tmp_path / "one.png", np.zeros((2, 2), np.uint8))
    assert count_frames(tmp_path / "one.png") == 1


def test_a_device_is_refused_before_reading():
    with pytest.raises(ImageReadError, match=r"/dev/zero: is a device, not an image file; give a file, or -"):
        read_image("/dev/zero")


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.ENOSPC, r"free some space on the disk holding .*; nothing was written"),
        (errno.EFBIG, r"the file is larger than this disk or a size limit \(ulimit -f\) allows; nothing was written"),
        (errno.EROFS, r".* is on a read-only filesystem; write elsewhere \(-o or --outdir\)"),
        (errno.EACCES, r"you may not write into .*; check its permissions or write elsewhere"),
        (errno.EIO, r"check the folder's permissions and free space"),
    ],
)
def test_a_failed_write_names_the_path_and_the_fix(tmp_path, monkeypatch, code, fix):
    def failing(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing)  # flushing the temporary file to the disk fails
    with pytest.raises(ImageWriteError, match=rf"x.png: cannot write \({os.strerror(code)}\); {fix}"):
        write_bytes_atomic(tmp_path / "x.png", b"payload" * 1000)
    assert list(tmp_path.iterdir()) == []
