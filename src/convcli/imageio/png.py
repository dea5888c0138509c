"""PNG compression, and which ``compression`` value each output format takes.

A PNG output takes a zlib level, ``0`` (stored: fastest, about the raw size)
to ``9`` (smallest, slowest).  The rows are filtered first as the encoder
does it: per row, the filter (None, Sub, Up, Paeth; libpng also Average)
whose output has the least sum of absolute values, then deflated with the
``Z_FILTERED`` strategy at that level (Pillow for 8-bit and 16-bit gray
PNG; libpng, through imagecodecs, for 16-bit colour PNG).

The default is level 1 (:data:`DEFAULT_PNG_LEVEL`), chosen by measurement
against libvips 8.14's ``pngsave`` default (zlib level 6, no row filter) on
12-megapixel photographs: astronaut, coffee, chelsea (RGB) and camera
(gray) from scikit-image, upscaled with Lanczos, astronaut with sensor-like
noise added, and a Gaussian sigma=2.5 output.  Encode CPU time and file
size as ratios to libvips' (medians of five interleaved runs; Pillow 13
with zlib-ng 2.3):

=====  ====================  ===========
level  time / vips           size / vips
=====  ====================  ===========
0      0.3-0.6               1.1-3.3
1      0.5-1.0               0.49-0.77
2      0.5-1.3               0.47-0.74
4      0.8-2.0               0.42-0.66
6      2.0-3.7               0.39-0.63
9      about 50 (one photo)  0.37
=====  ====================  ===========

Level 1 is the fastest level whose files are no bigger than libvips' (level
0 stores the rows uncompressed); the old default, Pillow's 6, made files
13-22% smaller in 2.5-4 times the time.  End to end (a 12-megapixel PNG
read, a 15-tap Gaussian, the PNG written) ``convcli apply`` then takes 0.7-0.8
of ``vips convsep``'s time, against 1.8-1.9 at level 6.  For 16-bit colour,
level 1 uses OpenCV's fast settings (run-length strategy, Sub filter),
which there take a third of the time of libpng's level 1 for files 3% larger;
the other levels use libpng's adaptive filters.

TIFF and Zarr outputs take a codec name instead (``deflate``, ``zstd``,
``lzw``, ``none``: :data:`~convcli.imageio.COMPRESSIONS`); a level given to
them, or a codec name given to a PNG output, is refused naming what the
format takes (:func:`check_compression_fits`).  The other formats take no
compression.  :func:`compression_for` gives what applies to one output of a
batch whose formats differ.  :func:`encode_png16` writes 16-bit colour PNG,
which Pillow cannot.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageWriteError, ParameterError
from ._extra import need
from .metadata import _chunk as _png_chunk
from .metadata import png_metadata_chunks

if TYPE_CHECKING:
    from .formats import ImageInfo

__all__ = ["DEFAULT_PNG_LEVEL", "PNG_LEVELS", "check_compression_fits", "compression_for", "encode_png16",
           "is_png_level", "parse_compression", "png_level"]

#: the zlib levels a PNG output takes, as ``--compression`` spells them
PNG_LEVELS: tuple[str, ...] = tuple(str(level) for level in range(10))
#: the zlib level of PNG outputs when none is given (see the module's table)
DEFAULT_PNG_LEVEL = 1
#: the codec names TIFF and Zarr outputs take (as :data:`convcli.imageio.COMPRESSIONS`)
_CODECS = {"TIFF": ("deflate", "zstd", "lzw", "none"), "ZARR": ("deflate", "zstd", "none")}
_DEFAULT_CODEC = {"TIFF": "deflate", "ZARR": "zstd"}
_NAMES = {"TIFF": "TIFF", "ZARR": "Zarr"}


def is_png_level(compression: object) -> bool:
    """Whether ``compression`` is a zlib level: an integer 0-9 or its digit.

    Examples
    --------
    >>> is_png_level(6), is_png_level("0"), is_png_level("zstd"), is_png_level(10), is_png_level(True)
    (True, True, False, False, False)
    """
    if isinstance(compression, str):
        return compression.strip() in PNG_LEVELS
    return isinstance(compression, int) and not isinstance(compression, bool) and 0 <= compression <= 9


def parse_compression(text: str | int, *, what: str = "compression") -> str:
    """A ``--compression`` value as typed, checked and normalised: a level ``"0"``-``"9"`` or a codec name.

    Whether it fits the output's format is :func:`check_compression_fits`'s
    question, asked once the format is known.

    Raises
    ------
    ParameterError
        Neither a level nor a codec name, naming both kinds (and the closest name).

    Examples
    --------
    >>> parse_compression(" 6"), parse_compression(0), parse_compression("ZSTD")
    ('6', '0', 'zstd')
    >>> parse_compression("zstandard", what="--compression")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --compression must be a zlib level 0-9 (.png outputs) or one of deflate, zstd, \
lzw, none (.tif and .zarr outputs), got 'zstandard'; did you mean 'zstd'?
    """
    from ..specs import closest

    word = str(text).strip().lower()
    codecs = _CODECS["TIFF"]
    if word in PNG_LEVELS or word in codecs:
        return word
    hint = closest(word, codecs)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    raise ParameterError(f"{what} must be a zlib level 0-9 (.png outputs) or one of {', '.join(codecs)} (.tif and "
                         f".zarr outputs), got {text!r}{suggestion}")


def png_level(compression: int | str | None, *, name: str = "") -> int:
    """The zlib level of a PNG output: ``compression`` (0-9), or :data:`DEFAULT_PNG_LEVEL` for None.

    Parameters
    ----------
    compression : int, str or None
        A level 0-9, as an integer or its digit.
    name : str, optional
        The output's name, starting the message.

    Raises
    ------
    ParameterError
        Anything else, naming what a PNG output takes.

    Examples
    --------
    >>> png_level(None), png_level(9), png_level("0")
    (1, 9, 0)
    >>> png_level("zstd", name="out.png")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: out.png: compression 'zstd' does not fit a PNG output, which takes a zlib \
level 0-9 (default 1); deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only
    """
    if compression is None:
        return DEFAULT_PNG_LEVEL
    if is_png_level(compression):
        return int(compression)
    start = f"{name}: " if name else ""
    raise ParameterError(f"{start}compression {compression!r} {_misfit('PNG', compression)}")


def _misfit(fmt: str, compression: object) -> str:
    """The end of the message refusing ``compression`` for a ``fmt`` output: what that format takes."""
    if fmt == "PNG":
        return (f"does not fit a PNG output, which takes a zlib level 0-9 (default {DEFAULT_PNG_LEVEL}); "
                "deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only")
    codecs = _CODECS[fmt]
    listed = f"{', '.join(codecs[:-1])} or {codecs[-1]}"
    tail = "; a zlib level 0-9 is for PNG outputs" if is_png_level(compression) else ""
    return f"does not fit a {_NAMES[fmt]} output, which takes {listed} (default {_DEFAULT_CODEC[fmt]}){tail}"


def check_compression_fits(fmt: str, compression: int | str | None, *, what: str = "compression") -> None:
    """Refuse a ``compression`` that the output format ``fmt`` does not take (a level for TIFF, a codec for PNG).

    Formats that take no compression (JPEG, …) accept anything: it has no
    effect on them.  Codec names for TIFF and Zarr are checked by their
    writers, which list the valid ones (and refuse ``lzw`` for Zarr).

    Parameters
    ----------
    fmt : str
        The output format (``PNG``, ``TIFF``, ``ZARR``, …).
    compression : int, str or None
        A zlib level 0-9 (PNG) or a codec name (TIFF, Zarr).
    what : str, optional
        The parameter's name, starting the message (``--compression`` on the command line).

    Raises
    ------
    ParameterError
        Naming the value and what the format takes.

    Examples
    --------
    >>> check_compression_fits("PNG", 9), check_compression_fits("TIFF", "zstd"), check_compression_fits("JPEG", 3)
    (None, None, None)
    >>> check_compression_fits("TIFF", "6", what="--compression")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --compression 6 does not fit a TIFF output, which takes deflate, zstd, lzw \
or none (default deflate); a zlib level 0-9 is for PNG outputs
    """
    if compression is None:
        return
    fmt = fmt.upper()
    level = is_png_level(compression)
    if (fmt == "PNG" and not level) or (fmt in _CODECS and level):
        shown = compression if what.startswith("--") else repr(compression)
        raise ParameterError(f"{what} {shown} {_misfit(fmt, compression)}")


def compression_for(fmt: str | None, compression: int | str | None) -> int | str | None:
    """The part of ``compression`` that applies to a ``fmt`` output: a level for PNG, a codec for TIFF and Zarr.

    For a batch whose outputs keep their inputs' formats: one value given to
    all of them applies where it fits, and the other outputs keep their
    default (``None``).

    Examples
    --------
    >>> compression_for("PNG", "3"), compression_for("TIFF", "3"), compression_for("TIFF", "zstd")
    (3, None, 'zstd')
    >>> compression_for("PNG", "zstd"), compression_for("ZARR", "lzw"), compression_for("JPEG", "3")
    (None, None, None)
    """
    if compression is None or fmt is None:
        return None
    fmt = fmt.upper()
    if fmt == "PNG":
        return int(compression) if is_png_level(compression) else None
    if fmt in _CODECS and not is_png_level(compression) and not (fmt == "ZARR" and compression == "lzw"):
        return compression
    return None


def encode_png16(array: np.ndarray, *, name: str, icc_profile: bytes | None = None, exif: bytes | None = None,
                 info: ImageInfo | None = None, level: int = DEFAULT_PNG_LEVEL) -> bytes:
    """A 16-bit colour PNG (gray+alpha, RGB or RGBA), which Pillow cannot write: imagecodecs' PNG codec.

    The metadata chunks (``iCCP``, ``eXIf``, ``pHYs``, text) go right after ``IHDR``.  Level 1 (the
    default) uses OpenCV's settings (run-length strategy, Sub filter): on 16-bit photographs they give
    files within a few percent of libpng's defaults, five times faster, and a third of the time of libpng's
    own level 1.  Other levels use libpng's adaptive filters and its strategy at that level (0: stored).

    Examples
    --------
    >>> import imagecodecs
    >>> deep = np.full((3, 4, 3), 40000, np.uint16)
    >>> png = encode_png16(deep, name="deep.png", level=9)
    >>> png[12:16], np.array_equal(imagecodecs.png_decode(png), deep)
    (b'IHDR', True)
    """
    imagecodecs = need("imagecodecs", f"{name}: 16-bit colour PNG", writing=True)
    samples = np.ascontiguousarray(array, dtype=np.uint16)
    fast = {"strategy": 3, "filter": 16} if level == 1 else {}
    encoded = bytes(imagecodecs.png_encode(samples, level=level, **fast))
    chunks = []
    if icc_profile:
        chunks.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        chunks.append(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    chunks.extend(png_metadata_chunks(info))
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR length and type, its 13 bytes, CRC
    if encoded[12:16] != b"IHDR":  # pragma: no cover - every PNG starts so
        raise ImageWriteError(f"{name}: the PNG encoder gave no IHDR chunk first")
    return encoded[:end_of_header] + b"".join(chunks) + encoded[end_of_header:]
