"""16-bit colour PNG (gray+alpha, RGB, RGBA), which Pillow cannot write: :func:`encode_png16`.

Pillow writes 8-bit PNG and 16-bit gray.  For 16-bit colour convcli uses
imagecodecs' PNG codec (libpng), from the ``formats`` extra, and splices the
metadata chunks Pillow would have written (``iCCP``, ``eXIf``, ``pHYs``,
text) after ``IHDR``.  The zlib level comes from :mod:`.compression`; level
1, the default, uses OpenCV's fast settings (run-length strategy, Sub
filter) because they take a third of the time of libpng's own level 1 for
files a few percent larger (``benchmarks/results/png_levels.md``).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageWriteError
from ._extra import need
from .compression import DEFAULT_PNG_LEVEL
from .metadata import png_chunk, png_metadata_chunks

if TYPE_CHECKING:
    from ._base import ImageInfo

__all__ = ["encode_png16"]


def encode_png16(array: np.ndarray, *, name: str, icc_profile: bytes | None = None, exif: bytes | None = None,
                 info: ImageInfo | None = None, level: int = DEFAULT_PNG_LEVEL) -> bytes:
    """A 16-bit colour PNG (gray+alpha, RGB or RGBA), which Pillow cannot write: imagecodecs' PNG codec.

    The metadata chunks (``iCCP``, ``eXIf``, ``pHYs``, text) go right after ``IHDR``.  Level 1 (the
    default) uses OpenCV's fast settings (run-length strategy, Sub filter; the module says why); other
    levels use libpng's adaptive filters and its strategy at that level (0: stored).

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
        chunks.append(png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        chunks.append(png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    chunks.extend(png_metadata_chunks(info, size=(int(array.shape[1]), int(array.shape[0]))))
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR length and type, its 13 bytes, CRC
    if encoded[12:16] != b"IHDR":  # pragma: no cover - every PNG starts so
        raise ImageWriteError(f"{name}: the PNG encoder gave no IHDR chunk first")
    return encoded[:end_of_header] + b"".join(chunks) + encoded[end_of_header:]
