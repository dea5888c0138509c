"""What an output keeps of its input besides the pixels: JPEG quality and chroma subsampling, resolution, text.

=====================  ===========================================================
kept                   how
=====================  ===========================================================
JPEG quality           a JPEG written from a JPEG, without ``--quality``, gets the
                       input's quality, estimated from its luminance quantisation
                       table (:func:`estimate_jpeg_quality`), as ImageMagick does;
                       other sources give quality 95
chroma subsampling     a colour JPEG written from a colour JPEG keeps its
                       subsampling (4:4:4, 4:2:2 or 4:2:0); others get 4:2:0
resolution (dpi)       PNG ``pHYs``, JPEG JFIF density, TIFF and BMP resolution, read
                       by Pillow as ``info['dpi']``, written back to PNG, JPEG,
                       TIFF and BMP outputs (unchanged by strides and pooling,
                       as ImageMagick keeps the density when resizing)
PNG text               ``tEXt``, ``zTXt`` and ``iTXt`` chunks, written back to PNG
                       outputs (international text as ``iTXt``)
XMP                    the packet (JPEG APP1, PNG ``iTXt XML:com.adobe.xmp``, TIFF
                       tag 700, WebP ``XMP``), written back to JPEG, PNG, TIFF and
                       WebP outputs, its ``exif:PixelX/YDimension`` and
                       ``tiff:ImageWidth/Length`` set to the output's size
                       (:func:`xmp_for_output`); a JPEG drops a packet over the
                       64 KB one segment holds
EXIF                   kept by JPEG, PNG, TIFF and WebP outputs, orientation reset
                       and ``PixelX/YDimension`` set to the output's size
                       (:func:`exif_without_orientation`)
ICC profile            see :mod:`.write`
=====================  ===========================================================

Examples
--------
>>> estimate_jpeg_quality(ijg_luminance_table(85))
85
>>> ijg_luminance_table(50)[:4]
(16, 11, 10, 16)
"""

from __future__ import annotations

import functools
import math
import struct
import zlib
from collections.abc import Sequence
from typing import Any

__all__ = ["IJG_LUMINANCE", "SUBSAMPLING", "XMP_PNG_KEY", "estimate_jpeg_quality", "exif_without_orientation",
           "icc_fits", "ijg_luminance_table", "png_chunk", "png_metadata_chunks", "read_metadata", "save_options",
           "xmp_for_output"]

#: the IJG (libjpeg) standard luminance quantisation table at quality 50, in natural (row-major) order
IJG_LUMINANCE: tuple[int, ...] = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip

#: Pillow's subsampling codes (``JpegImagePlugin.get_sampling``) and their names
SUBSAMPLING: dict[int, str] = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}

#: the default JPEG quality when the source gives none
DEFAULT_JPEG_QUALITY = 95

#: the PNG ``iTXt`` keyword of an XMP packet (XMP specification part 3)
XMP_PNG_KEY = "XML:com.adobe.xmp"

#: the most XMP bytes one JPEG APP1 segment holds (65533 minus the 29-byte namespace header)
_JPEG_XMP_MAX = 65533 - 29


@functools.lru_cache(maxsize=128)
def ijg_luminance_table(quality: int) -> tuple[int, ...]:
    """The luminance table libjpeg writes at ``quality`` (1-100), baseline (entries 1..255).

    libjpeg scales the standard table by ``5000 / q`` percent below quality 50
    and by ``200 - 2q`` percent from 50 up (``jpeg_quality_scaling``).

    Examples
    --------
    >>> ijg_luminance_table(100)[:3], ijg_luminance_table(75)[:3]
    ((1, 1, 1), (8, 6, 5))
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be 1..100, got {quality!r}")
    q = int(quality)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return tuple(min(255, max(1, (base * scale + 50) // 100)) for base in IJG_LUMINANCE)


def estimate_jpeg_quality(luminance: Sequence[int]) -> int:
    """The libjpeg quality (1-100) whose luminance table is closest to ``luminance``.

    Parameters
    ----------
    luminance : sequence of 64 ints
        The luminance quantisation table in natural order (Pillow's
        ``image.quantization[0]``).

    Returns
    -------
    int
        The quality with the smallest sum of absolute differences (the highest
        such quality on a tie).  For a file libjpeg wrote, the exact quality.

    Examples
    --------
    >>> estimate_jpeg_quality(ijg_luminance_table(37))
    37
    >>> estimate_jpeg_quality([2] * 64)  # not libjpeg's: the closest (99 has mostly 2s)
    99
    """
    table = [int(v) for v in luminance]
    if len(table) != 64:
        raise ValueError(f"a quantisation table has 64 entries, got {len(table)}")
    best, best_distance = 100, math.inf
    for quality in range(100, 0, -1):  # highest first: ties keep the higher quality
        distance = sum(abs(a - b) for a, b in zip(table, ijg_luminance_table(quality), strict=True))
        if distance < best_distance:
            best, best_distance = quality, distance
    return best


def read_metadata(image: Any, *, turned: bool = False) -> dict[str, Any]:
    """The metadata of an opened (and loaded) Pillow image that outputs keep.

    Returns
    -------
    dict
        ``dpi`` (x, y) or None, ``text`` (PNG text chunks but the XMP one),
        ``xmp`` (the XMP packet, bytes) or None, ``jpeg_quality`` and
        ``jpeg_subsampling`` (JPEG sources) or None.  ``turned``: the pixels
        were turned a quarter (EXIF orientation 5-8), so x and y swap.
    """
    found: dict[str, Any] = {"dpi": None, "text": {}, "xmp": None, "jpeg_quality": None,
                             "jpeg_subsampling": None}
    xmp = image.info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, bytes) and xmp.strip(b"\x00 \n"):
        found["xmp"] = xmp
    try:
        x, y = (float(v) for v in image.info.get("dpi") or ())
        if math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0:
            found["dpi"] = (y, x) if turned else (x, y)
    except (TypeError, ValueError, ZeroDivisionError):  # absent or damaged: not kept
        pass
    if image.format == "PNG":
        try:
            found["text"] = {str(k): v for k, v in dict(getattr(image, "text", None) or {}).items()
                             if isinstance(v, str) and str(k) != XMP_PNG_KEY}  # XMP: kept as ``xmp``
        except Exception:  # damaged text chunks are dropped rather than failing the image
            found["text"] = {}
    if image.format == "JPEG":
        from PIL import JpegImagePlugin

        try:
            tables = getattr(image, "quantization", None) or {}
            if 0 in tables and len(tables[0]) == 64:
                found["jpeg_quality"] = estimate_jpeg_quality(tables[0])
            sampling = JpegImagePlugin.get_sampling(image)
            found["jpeg_subsampling"] = sampling if sampling in SUBSAMPLING else None
        except Exception:  # unusual tables or layers: the defaults apply
            pass
    return found


def save_options(fmt: str, channels: int, info: Any, quality: int | None, *,
                 size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Pillow ``save`` keywords for quality, subsampling, dpi, PNG text and XMP (ICC, EXIF: below).

    ``size`` (width, height) is the output's, written into the XMP packet
    (:func:`xmp_for_output`).

    Examples
    --------
    >>> from convcli.imageio import ImageInfo
    >>> src = ImageInfo("a.jpg", format="JPEG", dpi=(300.0, 300.0), jpeg_quality=80, jpeg_subsampling=0)
    >>> save_options("JPEG", 3, src, None)
    {'quality': 80, 'subsampling': 0, 'dpi': (300.0, 300.0)}
    >>> save_options("JPEG", 3, src, 60)["quality"], save_options("JPEG", 3, None, None)
    (60, {'quality': 95})
    """
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        kept = getattr(info, "jpeg_quality", None)
        options["quality"] = quality or kept or DEFAULT_JPEG_QUALITY
        sampling = getattr(info, "jpeg_subsampling", None)
        if channels == 3 and sampling in SUBSAMPLING:
            options["subsampling"] = sampling
    if fmt == "WEBP" and quality:
        options["quality"] = quality
    dpi = getattr(info, "dpi", None)
    if dpi and fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        options["dpi"] = dpi
    text = getattr(info, "text", None)
    xmp = getattr(info, "xmp", None)
    xmp = xmp_for_output(xmp, size) if xmp else None
    if (text or xmp) and fmt == "PNG":
        from PIL import PngImagePlugin

        pnginfo = PngImagePlugin.PngInfo()
        for key, value in (text or {}).items():
            try:
                pnginfo.add_text(key, value)
            except Exception:  # a key PNG cannot hold (empty, too long): that chunk is dropped
                continue
        if xmp:
            pnginfo.add_itxt(XMP_PNG_KEY, xmp.decode("utf-8", "replace"), zip=False)
        options["pnginfo"] = pnginfo
    if xmp and (fmt == "WEBP" or (fmt == "JPEG" and len(xmp) <= _JPEG_XMP_MAX)):
        options["xmp"] = xmp
    if xmp and fmt == "TIFF":
        options["tiffinfo"] = {700: xmp}
    return options


def xmp_for_output(xmp: bytes, size: tuple[int, int] | None) -> bytes:
    """An XMP packet whose image sizes (``exif:PixelX/YDimension``, ``tiff:ImageWidth/Length``) are ``size``.

    Both XMP spellings are rewritten, attributes (``exif:PixelXDimension="1000"``)
    and elements (``<tiff:ImageWidth>1000</tiff:ImageWidth>``); the rest of the
    packet is kept byte for byte.  ``size`` is (width, height); None keeps the packet.

    Examples
    --------
    >>> xmp_for_output(b'<d exif:PixelXDimension="1000"><tiff:ImageLength>872</tiff:ImageLength></d>', (500, 436))
    b'<d exif:PixelXDimension="500"><tiff:ImageLength>436</tiff:ImageLength></d>'
    """
    if size is None:
        return xmp
    import re

    width, height = (str(int(v)).encode() for v in size)
    for name, value in ((b"exif:PixelXDimension", width), (b"exif:PixelYDimension", height),
                        (b"tiff:ImageWidth", width), (b"tiff:ImageLength", height)):
        xmp = re.sub(rb"(" + name + rb"\s*=\s*[\"'])\s*\d+\s*([\"'])", rb"\g<1>" + value + rb"\g<2>", xmp)
        xmp = re.sub(rb"(<" + name + rb">)\s*\d+\s*(</" + name + rb">)", rb"\g<1>" + value + rb"\g<2>", xmp)
    return xmp


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload and CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_metadata_chunks(info: Any, *, size: tuple[int, int] | None = None) -> list[bytes]:
    """``pHYs``, text and XMP chunks for PNG files convcli encodes itself (16-bit colour).

    ``size`` (width, height) is the output's, written into the XMP packet.

    Examples
    --------
    >>> from convcli.imageio import ImageInfo
    >>> [c[4:8] for c in png_metadata_chunks(ImageInfo("a.png", dpi=(72.0, 72.0), text={"Title": "x"}))]
    [b'pHYs', b'tEXt']
    """
    chunks = []
    dpi = getattr(info, "dpi", None)
    if dpi:
        ppm = [int(d / 0.0254 + 0.5) for d in dpi]  # as Pillow's PNG writer rounds
        if all(0 < v < 2**31 for v in ppm):
            chunks.append(png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    for key, value in (getattr(info, "text", None) or {}).items():
        try:
            name = key.encode("latin-1")
        except UnicodeEncodeError:
            continue
        if not 1 <= len(name) <= 79 or b"\x00" in name:
            continue
        try:
            chunks.append(png_chunk(b"tEXt", name + b"\x00" + value.encode("latin-1")))
        except UnicodeEncodeError:  # international text: iTXt, UTF-8, uncompressed
            chunks.append(png_chunk(b"iTXt", name + b"\x00\x00\x00\x00\x00" + value.encode("utf-8", "replace")))
    xmp = getattr(info, "xmp", None)
    if xmp:  # iTXt, uncompressed, as the XMP specification asks
        packet = xmp_for_output(xmp, size)
        chunks.append(png_chunk(b"iTXt", XMP_PNG_KEY.encode("latin-1") + b"\x00\x00\x00\x00\x00" + packet))
    return chunks


def icc_fits(profile: bytes, channels: int) -> bool:
    """Whether an ICC profile's colour space (bytes 16-19 of its header) matches the output's channels.

    Examples
    --------
    >>> rgb = bytes(16) + b"RGB " + bytes(108)
    >>> icc_fits(rgb, 3), icc_fits(rgb, 1)
    (True, False)
    """
    space = profile[16:20] if len(profile) >= 20 else b""
    colour = channels in (3, 4)
    return (space == b"RGB " and colour) or (space == b"GRAY" and not colour)


def exif_without_orientation(exif: bytes, *, size: tuple[int, int] | None = None) -> bytes | None:
    """EXIF with the orientation tag reset, since the pixels were already turned upright; None if unparsable.

    ``size`` (width, height) is the output's: ``PixelXDimension`` and
    ``PixelYDimension`` of the EXIF directory (and ``ImageWidth``/``ImageLength``
    of the first one) are set to it where present, so a ``--stride 2`` output
    does not claim its input's size.

    Examples
    --------
    >>> from PIL import Image
    >>> turned = Image.Exif(); turned[0x0112] = 6
    >>> block = exif_without_orientation(turned.tobytes())
    >>> kept = Image.Exif(); kept.load(block); kept[0x0112]
    1
    >>> sized = Image.Exif(); sized.get_ifd(0x8769)[0xA002] = 1000
    >>> kept = Image.Exif(); kept.load(exif_without_orientation(sized.tobytes(), size=(500, 436)))
    >>> kept.get_ifd(0x8769)[0xA002]
    500
    """
    from PIL import Image

    try:
        parsed = Image.Exif()
        parsed.load(exif)
        if 0x0112 in parsed:
            parsed[0x0112] = 1
        if size is not None:
            width, height = (int(v) for v in size)
            for tag, value in ((0x0100, width), (0x0101, height)):  # ImageWidth, ImageLength
                if tag in parsed:
                    parsed[tag] = value
            if 0x8769 in parsed:
                sub_ifd = parsed.get_ifd(0x8769)
                for tag, value in ((0xA002, width), (0xA003, height)):  # PixelXDimension, PixelYDimension
                    if tag in sub_ifd:
                        sub_ifd[tag] = value
        return bytes(parsed.tobytes())
    except Exception:  # metadata we cannot parse is dropped rather than failing the image
        return None
