"""Writing TIFF through tifffile from bands of rows: striped or tiled, classic or BigTIFF, compressed.

==============  ===========================================================================
choice          rule
==============  ===========================================================================
layout          tiled (``tile`` x ``tile``) when ``tile`` is given or the image has more than
                2**25 pixels (then 512 x 512); else strips of about 256 KiB
BigTIFF         every tiled output, and striped ones of more than 2 GiB of samples (a
                classic TIFF's offsets end at 4 GiB); small striped outputs stay classic
                TIFF, which every reader opens
compression     ``deflate`` (Adobe deflate, zlib level 6; the default), ``zstd``, ``lzw``
                or ``none``; compressed data gets the horizontal predictor (integers) or
                the floating-point predictor (floats), as libvips and GDAL write them
photometric     1 channel gray (MinIsBlack), 2 gray + alpha, 3 RGB, 4 RGB + alpha;
                alpha is an unassociated extra sample (``info.alpha``, else assumed)
metadata        resolution (``info.dpi``, in inches), the ICC profile when its colour
                space fits the channels; Software ``convcli``; EXIF's text tags of the
                first directory (make, model, date, artist, copyright, description)
==============  ===========================================================================

Tiles are handed to tifffile, which compresses them in threads, a row of
tiles at a time; strips are compressed here with tifffile's own codecs
(``TIFF.PREDICTORS``, ``TIFF.COMPRESSORS``) and handed over as bytes, so
tifffile never needs the whole image.  Either way one band plus one row of
tiles or one strip is held.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import IO, Any

import numpy as np

from ._base import ImageInfo, check_tile, fitted_tile, row_blocks
from ._extra import available, need
from .compression import checked_compression, default_compression
from .encode import write_encoded
from .metadata import icc_fits, xmp_for_output

__all__ = ["DEFAULT_TILE", "TILED_ABOVE_PIXELS", "tiff_layout", "write_tiff", "write_tiff_sink"]

#: compression names (:mod:`.compression`) -> TIFF compression codes (deflate is Adobe deflate, tifffile's 'zlib')
_CODES = {"deflate": 8, "zstd": 50000, "lzw": 5, "none": 1}
#: the tile side when an image is tiled without a ``tile`` given
DEFAULT_TILE = 512
#: images with more pixels than this are tiled even without a ``tile``
TILED_ABOVE_PIXELS = 2**25
_STRIP_BYTES = 256 * 1024
_BIGTIFF_BYTES = 2**31


def tiff_layout(shape: tuple[int, ...], dtype: np.dtype, *, tile: int | None = None) -> tuple[int | None, bool]:
    """The tile side (None: striped) and whether the file is a BigTIFF (see the module's table).

    Examples
    --------
    >>> tiff_layout((1000, 1000), np.dtype(np.uint8))
    (None, False)
    >>> tiff_layout((1000, 1000), np.dtype(np.uint8), tile=256)
    (256, True)
    >>> tiff_layout((40000, 40000), np.dtype(np.uint8))
    (512, True)
    """
    height, width = shape[:2]
    side = tile if tile is not None else (DEFAULT_TILE if height * width > TILED_ABOVE_PIXELS else None)
    raw = math.prod(shape) * np.dtype(dtype).itemsize
    return side, side is not None or raw > _BIGTIFF_BYTES


def write_tiff_sink(handle: IO[bytes], bands: Iterable[tuple[int, np.ndarray]], *, fmt: str,
                    shape: tuple[int, ...], dtype: np.dtype, name: str, info: ImageInfo | None = None,
                    quality: int | None = None, tile: int | None = None, compression: int | str | None = None) -> None:
    """The TIFF sink: streamed through tifffile (:func:`write_tiff`), or whole through Pillow without it.

    Without tifffile, Pillow writes the image uncompressed and striped, as
    before the ``formats`` extra existed; a ``tile`` or ``compression`` then
    needs the extra, and the error names it.

    Examples
    --------
    >>> import io, tifffile
    >>> buffer = io.BytesIO()
    >>> write_tiff_sink(buffer, [(0, np.ones((40, 30), np.uint8))], fmt="TIFF", shape=(40, 30),
    ...                 dtype=np.dtype(np.uint8), name="x.tif", tile=16, compression="zstd")
    >>> tifffile.imread(io.BytesIO(buffer.getvalue())).shape
    (40, 30)
    """
    side = fitted_tile(check_tile(tile), shape, multiple=16)
    if not available("tifffile") and tile is None and compression is None:
        write_encoded(handle, bands, fmt=fmt, shape=shape, dtype=dtype, name=name, info=info, quality=quality)
        return
    what = "a tiled TIFF" if tile is not None else "a compressed TIFF" if compression else "TIFF"
    need("tifffile", f"{name}: {what}", writing=True)
    write_tiff(handle, bands, shape=shape, dtype=dtype, name=name, info=info, tile=side,
               compression=None if compression is None else str(compression))


def write_tiff(handle: IO[bytes], bands: Iterable[tuple[int, np.ndarray]], *, shape: tuple[int, ...],
               dtype: np.dtype, name: str, info: ImageInfo | None = None, tile: int | None = None,
               compression: str | None = None) -> None:
    """Write checked ``bands`` (top to bottom, covering ``shape``) as a TIFF into the open binary ``handle``.

    Parameters
    ----------
    handle : binary file
        Seekable, opened for writing (a temporary file, or a ``BytesIO``).
    bands : iterable of (first_row, rows)
        Contiguous bands of ``dtype`` samples.
    shape, dtype
        The image: ``(H, W)`` or ``(H, W, C)`` with C in 1-4.
    name : str
        The output's name, for messages.
    info : ImageInfo, optional
        Resolution, ICC profile and alpha to write.
    tile : int, optional
        The tile side (a multiple of 16); see :func:`tiff_layout`.
    compression : {"deflate", "zstd", "lzw", "none"}, optional
        Checked by :func:`~convcli.imageio.compression.checked_compression`;
        None: the default (``deflate``).

    Examples
    --------
    >>> import io, tifffile
    >>> buffer = io.BytesIO()
    >>> write_tiff(buffer, [(0, np.ones((20, 30), np.uint16))], shape=(20, 30), dtype=np.dtype(np.uint16),
    ...            name="x.tif", tile=16)
    >>> with tifffile.TiffFile(io.BytesIO(buffer.getvalue())) as tif:
    ...     page = tif.pages[0]
    ...     page.is_tiled, page.tilelength, page.compression.name
    (True, 16, 'ADOBE_DEFLATE')
    """
    tifffile = need("tifffile", f"{name}: writing TIFF", writing=True)
    dtype = np.dtype(dtype).newbyteorder("<")
    code = _CODES[str(checked_compression("TIFF", compression, name=name) or default_compression("TIFF"))]
    side, bigtiff = tiff_layout(shape, dtype, tile=check_tile(tile))
    channels = 1 if len(shape) == 2 else int(shape[2])
    predictor = 1 if code == 1 else (3 if dtype.kind == "f" else 2)
    alpha = channels in (2, 4) and (info is None or info.alpha)
    options: dict[str, Any] = {
        "shape": shape, "dtype": dtype, "photometric": "rgb" if channels >= 3 else "minisblack",
        "compression": code, "predictor": predictor, "metadata": None, "software": "convcli",
    }
    if channels in (2, 4):
        options["planarconfig"] = "contig"
        options["extrasamples"] = ("unassalpha",) if alpha else ("unspecified",)
    icc = info.icc_profile if info is not None else None
    if icc and icc_fits(icc, channels):
        options["iccprofile"] = icc
    if info is not None and info.dpi:
        options["resolution"] = (float(info.dpi[0]), float(info.dpi[1]))
        options["resolutionunit"] = "inch"
    if info is not None and info.exif:
        options["extratags"] = _exif_tags(info.exif)
    if info is not None and info.xmp:  # tag 700 XMLPacket, BYTE, sizes made the output's
        packet = xmp_for_output(info.xmp, (int(shape[1]), int(shape[0])))
        options["extratags"] = [*options.get("extratags", []), (700, "B", len(packet), packet, True)]
    data: Iterator[Any]
    if side is not None:
        across = math.ceil(shape[1] / side)
        options["tile"] = (side, side)
        options["buffersize"] = across * side * side * channels * dtype.itemsize  # a row of tiles at a time
        data = _tiles(bands, shape, dtype, side)
    else:
        rows = max(1, min(shape[0], _STRIP_BYTES // max(1, shape[1] * channels * dtype.itemsize)))
        options["rowsperstrip"] = rows
        data = _strips(bands, shape, dtype, rows, code, predictor, tifffile)
    writer = tifffile.TiffWriter(handle, bigtiff=bigtiff, byteorder="<")
    try:
        writer.write(data, **options)
    except BaseException:
        try:
            writer.close()
        except Exception:  # the first error is the one to report; the file is removed anyway
            pass
        raise
    writer.close()


#: EXIF tags of the first directory written into TIFF outputs (text ones; the EXIF sub-directory is not kept)
_EXIF_TEXT_TAGS = (270, 271, 272, 306, 315, 33432)  # description, make, model, date, artist, copyright


def _exif_tags(exif: bytes) -> list[tuple[int, str, int, str, bool]]:
    """The text tags of an EXIF block's first directory, as tifffile ``extratags``.

    Examples
    --------
    >>> from PIL import Image
    >>> block = Image.Exif(); block[271] = "TestCam"
    >>> _exif_tags(block.tobytes())
    [(271, 's', 0, 'TestCam', True)]
    """
    from PIL import Image

    try:
        parsed = Image.Exif()
        parsed.load(exif)
        found = [(tag, parsed.get(tag)) for tag in _EXIF_TEXT_TAGS]
    except Exception:  # metadata we cannot parse is dropped rather than failing the image
        return []
    return [(tag, "s", 0, value, True) for tag, value in found
            if isinstance(value, str) and value and value.isascii() and "\x00" not in value]


def _tiles(bands: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...], dtype: np.dtype,
           side: int) -> Iterator[np.ndarray]:
    """Tiles left to right, top to bottom (edge tiles smaller; tifffile pads them), a row of tiles at a time.

    Each tile is handed over as ``(rows, columns, samples)``, even for one
    channel: a 2-D tile one column wide would otherwise be taken by tifffile
    as rows of samples, and its predictor would run down the wrong axis.
    """
    for _, block in row_blocks(bands, shape, dtype, side):
        block = block.reshape(block.shape[0], shape[1], -1)
        for x in range(0, shape[1], side):
            yield block[:, x : x + side]


def _strips(bands: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...], dtype: np.dtype, rows: int,
            code: int, predictor: int, tifffile: Any) -> Iterator[bytes]:
    """Encoded strips of ``rows`` rows: predictor then compression, with tifffile's codecs."""
    encode = tifffile.TIFF.COMPRESSORS[code] if code != 1 else None
    difference = tifffile.TIFF.PREDICTORS[predictor] if predictor != 1 else None
    for _, block in row_blocks(bands, shape, dtype, rows):
        strip = np.ascontiguousarray(block, dtype).reshape(block.shape[0], shape[1], -1)
        if difference is not None:
            strip = difference(strip, axis=-2)
        yield strip.tobytes() if encode is None else encode(strip)
