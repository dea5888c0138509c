"""Issue 23: a JPEG's XMP packet is kept where the output format can hold it, and EXIF sizes follow the output.

Everything is read back with Pillow (``info['xmp']``, TIFF tag 700, ``getexif().get_ifd``), never with convcli.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app

#: a 12 KB XMP packet (as hubble_deep_field.jpg's), with a marker to find and the size in its exif/tiff fields
PADDING = " " * 100 + "\n"


def xmp_packet(width: int, height: int) -> bytes:
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
        f' exif:PixelXDimension="{width}" exif:PixelYDimension="{height}">\n'
        f'<tiff:ImageWidth>{width}</tiff:ImageWidth><tiff:ImageLength>{height}</tiff:ImageLength>\n'
        '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Hubble Deep Field (convcli test)</rdf:li></rdf:Alt>'
        '</dc:title>\n</rdf:Description></rdf:RDF></x:xmpmeta>\n'
    )
    return (body + PADDING * 120 + '<?xpacket end="w"?>').encode("utf-8")


@pytest.fixture
def jpeg_with_xmp(tmp_path: Path) -> Path:
    h, w = 88, 100
    rng = np.random.default_rng(23)
    pixels = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0xA002] = w  # PixelXDimension
    exif.get_ifd(0x8769)[0xA003] = h  # PixelYDimension
    path = tmp_path / "hubble.jpg"
    Image.fromarray(pixels).save(path, quality=90, exif=exif.tobytes(), xmp=xmp_packet(w, h))
    with Image.open(path) as check:  # the reference: Pillow reads back what it wrote
        assert check.info["xmp"].startswith(b"<?xpacket") and len(check.info["xmp"]) > 12_000
    return path


def _xmp_of(path: Path) -> bytes:
    with Image.open(path) as image:
        image.load()
        xmp = image.info.get("xmp")
    assert xmp, f"{path.name}: no XMP"
    return xmp if isinstance(xmp, bytes) else str(xmp).encode("utf-8")


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "webp"])
def test_the_xmp_packet_is_kept(tmp_path, jpeg_with_xmp, ext):
    out = tmp_path / f"out.{ext}"
    result = CliRunner().invoke(app, ["apply", str(jpeg_with_xmp), "-k", "identity", "-o", str(out)])
    assert result.exit_code == 0, result.output
    kept = _xmp_of(out)
    assert b"Hubble Deep Field (convcli test)" in kept
    assert kept.startswith(b"<?xpacket") and kept.rstrip().endswith(b"?>")


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "webp"])
def test_sizes_in_exif_and_xmp_follow_the_output_after_a_stride(tmp_path, jpeg_with_xmp, ext):
    out = tmp_path / f"out.{ext}"
    result = CliRunner().invoke(app, ["apply", str(jpeg_with_xmp), "-k", "box:size=3", "--stride", "2",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == (50, 44)
        exif_ifd = image.getexif().get_ifd(0x8769)
    if ext != "tif":  # TIFF outputs keep the first directory's text tags only (no EXIF sub-directory)
        assert (exif_ifd.get(0xA002), exif_ifd.get(0xA003)) == (50, 44)
    kept = _xmp_of(out).decode("utf-8")
    assert 'exif:PixelXDimension="50"' in kept and 'exif:PixelYDimension="44"' in kept
    assert "<tiff:ImageWidth>50</tiff:ImageWidth>" in kept and "<tiff:ImageLength>44</tiff:ImageLength>" in kept


def test_a_16_bit_png_output_keeps_the_xmp_packet(tmp_path, jpeg_with_xmp):
    out = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["apply", str(jpeg_with_xmp), "-k", "identity", "--depth", "16",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.mode in ("RGB;16", "I;16", "RGB") or image.mode.startswith("I")
    assert b"Hubble Deep Field (convcli test)" in _xmp_of(out)


def test_a_png_with_xmp_keeps_one_packet(tmp_path, jpeg_with_xmp):
    """PNG to PNG: the packet is written once (as iTXt XML:com.adobe.xmp), not twice."""
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for source, target in [(jpeg_with_xmp, first), (first, second)]:
        result = CliRunner().invoke(app, ["apply", str(source), "-k", "identity", "-o", str(target)])
        assert result.exit_code == 0, result.output
    assert second.read_bytes().count(b"XML:com.adobe.xmp") == 1
    assert b"Hubble Deep Field (convcli test)" in _xmp_of(second)


def test_an_xmp_packet_too_big_for_a_jpeg_segment_is_dropped_not_fatal(tmp_path):
    """PNG holds any XMP; one JPEG APP1 segment 65,504 bytes of it: the JPEG is written without it."""
    source = tmp_path / "big.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(source, pnginfo=_pnginfo_with_xmp(xmp_packet(8, 8) * 7))
    out = tmp_path / "out.jpg"
    result = CliRunner().invoke(app, ["apply", str(source), "-k", "identity", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert "xmp" not in image.info and image.size == (8, 8)


def _pnginfo_with_xmp(packet: bytes):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"), zip=False)
    return info


def test_a_tiff_input_read_by_tifffile_keeps_its_xmp(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    source = tmp_path / "in.tif"
    packet = xmp_packet(40, 30)
    tifffile.imwrite(source, np.zeros((30, 40, 3), np.uint8), photometric="rgb",
                     extratags=[(700, "B", len(packet), packet, True)])
    out = tmp_path / "out.jpg"
    result = CliRunner().invoke(app, ["apply", str(source), "-k", "identity", "--stride", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    kept = _xmp_of(out).decode("utf-8")
    assert "Hubble Deep Field (convcli test)" in kept and 'exif:PixelXDimension="20"' in kept


def test_a_tiff_written_by_pillow_without_the_extra_keeps_the_xmp_packet(tmp_path, jpeg_with_xmp, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tifffile", None)  # the formats extra not installed: Pillow writes the TIFF
    out = tmp_path / "out.tif"
    result = CliRunner().invoke(app, ["apply", str(jpeg_with_xmp), "-k", "identity", "--stride", "2",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    kept = _xmp_of(out).decode("utf-8")
    assert "Hubble Deep Field (convcli test)" in kept and 'exif:PixelXDimension="50"' in kept
