"""Opening an image as a source that gives its rows on demand: :func:`open_image`.

=============================================  ==================  =========================================
input                                          source              ``max_pixels`` limits
=============================================  ==================  =========================================
TIFF (tifffile installed): striped, tiled,     :class:`TiffSource`  one strip or tile; the whole image to
BigTIFF, any sample type, contiguous or        (lazy)              2**40 pixels (``MAX_STREAMED_PIXELS``),
separate planes                                                    or ``max_pixels`` when larger
Zarr store (a ``*.zarr`` folder)               :class:`ZarrSource`  one chunk; the whole image as for TIFF,
                                               (lazy)              refused from the declared shape
PNG, JPEG, WebP, GIF, BMP, …, ``.npy``; TIFF   :class:`ArraySource` the whole image, refused from its header
that Pillow converts (palette, CMYK, …) or     (in memory)         with advice: convert it to a tiled TIFF
turned by an orientation tag; a 32-bit
integer TIFF that fits the limit (read
whole to note a range 16-bit outputs clip)
=============================================  ==================  =========================================

Every source has ``shape``, ``dtype``, ``info`` (:class:`ImageInfo`),
``chunks`` (a tile's rows and columns, lazy sources only), ``lazy`` and
``read(r0, r1)``, which returns rows ``r0`` up to ``r1`` as a new array
(decoding, for a lazy source, only the tiles those rows cross).  Close a
source (or use ``with``) to release its file.

Examples
--------
>>> import tempfile, os, tifffile
>>> path = os.path.join(tempfile.mkdtemp(), "big.tif")
>>> tifffile.imwrite(path, np.zeros((1024, 768, 3), np.uint16), tile=(256, 256), photometric="rgb")
>>> with open_image(path) as source:
...     source.shape, source.dtype, source.chunks, source.lazy, source.read(0, 10).shape
((1024, 768, 3), dtype('uint16'), (256, 256), True, (10, 768, 3))
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ImageReadError
from ._base import ArraySource, ImageSource
from ._open import frame_name
from .read import DEFAULT_MAX_PIXELS, read_image, refuse_zarr_frame, tiff_input
from .tiff import open_tiff, turn_upright
from .zarr_store import ZarrSource, is_zarr_store

__all__ = ["open_image"]


def open_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    data: bytes | None = None,
    frame: int | None = None,
) -> ImageSource:
    """Open an image (a file, a Zarr store or stdin's bytes) as an :class:`ImageSource`.

    Parameters
    ----------
    path : str or path-like
        The image; with ``data`` given, only its name in messages (``-``).
    max_pixels : int or None, optional
        The decompression-bomb guard: the most pixels decoded at once.  For a
        TIFF or Zarr store it limits one tile, strip or chunk (the image
        itself may be as large as the disk); for other formats, which are
        decoded whole, the image, refused from its header with the advice to
        convert it to a tiled TIFF.  None for no limit.
    data : bytes, optional
        The encoded file (stdin).  A TIFF given so is read lazily too, from
        memory.
    frame : int, optional
        The frame (animation) or page (TIFF) to open, from 0; default the
        first, with a note when there are more.

    Returns
    -------
    ImageSource
        :class:`TiffSource` or :class:`ZarrSource` (lazy) or
        :class:`ArraySource` (in memory); see the module's table.

    Raises
    ------
    ImageReadError
        As :func:`read_image`: missing, damaged, over ``max_pixels``, no such
        frame; a Zarr store without zarr installed names the ``formats`` extra.

    Examples
    --------
    >>> import tempfile, os
    >>> from convcli.imageio import write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> write_image(path, np.full((3, 4), 9, np.uint8))
    >>> with open_image(path) as source:
    ...     type(source).__name__, source.shape, source.read(2).tolist()
    ('ArraySource', (3, 4), [[9, 9, 9, 9]])
    """
    name = str(path)
    if data is None and is_zarr_store(path):
        refuse_zarr_frame(name, frame)
        return ZarrSource(path, max_pixels=max_pixels)
    tiff = tiff_input(path, data)
    if tiff is not None:
        source = open_tiff(tiff, name, frame=frame, max_pixels=max_pixels)
        if source is not None and source.orientation == 1:
            return source
        if source is not None:  # turned by its orientation tag: read whole, if it fits the limit
            shown, pixels = frame_name(name, frame), source.width * source.height
            with source:
                if max_pixels is not None and pixels > max_pixels:
                    raise ImageReadError(
                        f"{shown}: its orientation tag ({source.orientation}) turns the picture, so it is read "
                        f"whole, and {source.width}x{source.height} is {pixels:,} pixels, over the limit of "
                        f"{max_pixels:,}; raise --max-pixels if it fits in memory, or re-save it upright as a tiled "
                        "TIFF, which convcli streams")
                array = turn_upright(source.read(), source.orientation)
            source.info.notes.append(f"{shown}: turned upright by its orientation tag ({source.orientation}), "
                                     "so it was read whole")
            return ArraySource(array, source.info)
    array, info = read_image(path, max_pixels=max_pixels, data=data, frame=frame)
    return ArraySource(np.asarray(array), info)
