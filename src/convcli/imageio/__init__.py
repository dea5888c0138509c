"""Images to arrays and back: sources and sinks, modes, bit depth, alpha, metadata, atomic writes.

=====================  ==========================================================
module                 owns
=====================  ==========================================================
:mod:`.source`         :func:`open_image`: an image as a source of rows on demand
                       (:class:`ImageSource`; lazy TIFF and Zarr, others in memory)
:mod:`.read`           :func:`read_image`, :func:`probe_image`, :func:`count_frames`;
                       the pixel limit
:mod:`.probe`          :func:`probe_size`: the size from the header, at any size
:mod:`.sink`           :func:`write_bands` (and :func:`write_image`, one band;
                       :func:`encode_image`, into bytes; ``-`` is stdout)
:mod:`.formats`        the sink registry (:func:`find_sink`): each format's
                       depths, channels, compression, streaming, writer;
                       :func:`fit_depth`, file extensions
:mod:`.compression`    every compression rule: values, defaults, messages
:mod:`.write`          atomic writes, temporary files and their clean-up
:mod:`.encode`         the whole-image sinks: Pillow's formats, ``.npy``
:mod:`.png`            16-bit colour PNG (imagecodecs)
:mod:`.tiff`           TIFF through tifffile, decoding only the tiles asked for
:mod:`.tiff_write`     the TIFF sink: strips or tiles, BigTIFF, through tifffile
:mod:`.zarr_store`     Zarr stores, read and written chunk by chunk
:mod:`.metadata`       what outputs keep: JPEG quality and subsampling, dpi, PNG
                       text, ICC profile, EXIF
:mod:`._base`          :class:`ImageInfo`, the source interface, bands of rows
:mod:`._open`          opening files safely: bytes, ``.npy`` and Pillow headers, guards
:mod:`._extra`         the optional ``formats`` extra (tifffile, imagecodecs, zarr)
=====================  ==========================================================

With convcli's ``formats`` extra (``pip install '.[formats]'`` in a clone) 16-bit
colour PNG is read and written exactly (imagecodecs), TIFF of every sample
type, striped or tiled, classic or BigTIFF, is read and written by tifffile,
a tile at a time, and ``.zarr`` stores by zarr.  Without it Pillow reads
and writes what it did before; what needs the extra says so, naming it.

Without the extra, Pillow decodes 16-bit *colour* PNG and TIFF files to 8 bits
per sample; when that happens :attr:`ImageInfo.notes` says so, naming the
extra.  Animated GIFs and multi-page TIFFs give their first frame (also
noted), or any frame with ``frame=`` (see
:func:`count_frames`).  32-bit integer samples beyond 0..65535 are noted too,
since 16-bit outputs clip them.  The EXIF orientation is applied, so the
array is the picture as it is shown, and the orientation written back is 1.

Bad files are refused with an :class:`~convcli.errors.ImageReadError` naming
the file, what is wrong and the fix, never another exception: missing, a
folder, a device (``/dev/zero`` would never end), empty, not an image,
damaged or truncated (whatever Pillow's or numpy's parsers raise on damaged
data; ``tests/fuzz_images.py`` fuzzes this), or larger than ``max_pixels``,
which is checked from the header before any pixel is decoded (and, through
Pillow's own guard, for each frame of an animation).  A lazy source (TIFF,
Zarr) is never decoded whole: there the limit applies to one tile.

Writing is atomic (see :mod:`.write`): an interrupted run leaves complete
outputs or none.

Examples
--------
>>> import tempfile, os
>>> import numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "x.png")
>>> write_image(path, np.zeros((2, 3), np.uint8))
>>> read_image(path)[0].shape, probe_size(path)
((2, 3), (2, 3))
"""

from __future__ import annotations

from ._base import ArraySource, ImageInfo, ImageSource, check_tile
from .compression import COMPRESSIONS, compression_for, compression_option
from .formats import (
    FORMATS,
    SINKS,
    Sink,
    depth_possible,
    find_sink,
    fit_depth,
    format_for,
    formats_holding,
    held_with_extra,
    image_extensions,
    palette_reduced,
)
from .probe import probe_size
from .read import DEFAULT_MAX_PIXELS, count_frames, probe_image, read_image
from .sink import encode_image, write_bands, write_image
from .source import open_image
from .tiff import TiffSource
from .write import (
    TEMP_SUFFIX,
    hand_over_interrupts,
    leftover_temp_files,
    leftover_temp_files_of,
    raise_pending_interrupt,
    remove_temp_files,
    remove_temp_files_of,
    write_bytes_atomic,
)
from .zarr_store import ZarrSource

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "SINKS",
    "TEMP_SUFFIX",
    "ArraySource",
    "ImageInfo",
    "ImageSource",
    "Sink",
    "TiffSource",
    "ZarrSource",
    "check_tile",
    "compression_for",
    "compression_option",
    "count_frames",
    "depth_possible",
    "encode_image",
    "find_sink",
    "fit_depth",
    "format_for",
    "formats_holding",
    "hand_over_interrupts",
    "held_with_extra",
    "image_extensions",
    "leftover_temp_files",
    "leftover_temp_files_of",
    "open_image",
    "palette_reduced",
    "probe_image",
    "probe_size",
    "raise_pending_interrupt",
    "read_image",
    "remove_temp_files",
    "remove_temp_files_of",
    "write_bands",
    "write_bytes_atomic",
    "write_image",
]
