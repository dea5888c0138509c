"""Images to arrays and back: modes, bit depth, alpha, metadata, atomic writes.

=================  ==========================================================
module             owns
=================  ==========================================================
:mod:`.formats`    what each format holds (:func:`fit_depth`), file extensions
:mod:`.read`       :func:`read_image`, :func:`probe_image`, :func:`count_frames`,
                   :func:`probe_size`; the pixel limit
:mod:`.write`      :func:`encode_image` (16-bit colour PNG included), atomic writes
:mod:`.metadata`   what outputs keep: JPEG quality and subsampling, dpi, PNG text
:mod:`._open`      opening files safely: bytes, ``.npy`` and Pillow headers, guards
=================  ==========================================================

Pillow decodes 16-bit *colour* PNG and TIFF files to 8 bits per sample; when
that happens :attr:`ImageInfo.notes` says so (save such data as ``.npy`` or as
16-bit grayscale to keep every bit).  Animated GIFs and multi-page TIFFs give
their first frame (also noted), or any frame with ``frame=`` (see
:func:`count_frames`).  32-bit integer samples beyond 0..65535 are noted too,
since 16-bit outputs clip them.  The EXIF orientation is applied, so the
array is the picture as it is shown, and the orientation written back is 1.

Bad files are refused with an :class:`~convcli.errors.ImageReadError` naming
the file, what is wrong and the fix, never another exception: missing, a
folder, a device (``/dev/zero`` would never end), empty, not an image,
damaged or truncated (whatever Pillow's or numpy's parsers raise on damaged
data; ``tests/fuzz_images.py`` fuzzes this), or larger than ``max_pixels``,
which is checked from the header before any pixel is decoded (and, through
Pillow's own guard, for each frame of an animation).

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

from ..depth import Depth
from ..errors import ImageReadError, ImageWriteError
from .formats import (
    FORMATS,
    ImageInfo,
    depth_possible,
    fit_depth,
    format_for,
    formats_holding,
    image_extensions,
    palette_reduced,
)
from .read import DEFAULT_MAX_PIXELS, count_frames, probe_image, probe_size, read_image
from .write import TEMP_SUFFIX, encode_image, leftover_temp_files, write_bytes_atomic, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "TEMP_SUFFIX",
    "Depth",
    "ImageInfo",
    "ImageReadError",
    "ImageWriteError",
    "count_frames",
    "depth_possible",
    "encode_image",
    "fit_depth",
    "format_for",
    "formats_holding",
    "image_extensions",
    "leftover_temp_files",
    "palette_reduced",
    "probe_image",
    "probe_size",
    "read_image",
    "write_bytes_atomic",
    "write_image",
]
