"""An image's size from its header alone, at any size: :func:`probe_size` (``convcli outsize``).

Nothing is decoded and no pixel limit applies: a header declaring a
gigapixel picture is sized like any other.  TIFF headers are read by
tifffile when installed (BigTIFF included), ``.npy`` headers by NumPy, Zarr
metadata by zarr, and the rest by Pillow's plugins without touching its
process-wide decompression-bomb setting.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import ImageReadError
from ._extra import available
from ._open import damaged, identify, npy_header
from .tiff import is_tiff
from .zarr_store import ZarrSource, is_zarr_store

__all__ = ["probe_size"]


def probe_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` of an image or ``.npy`` array, from its header, at any size.

    Nothing is decoded and no pixel limit applies, so a header declaring a
    gigapixel picture is sized like any other (``convcli outsize``).  Pillow's
    process-wide decompression-bomb setting is neither read nor changed:
    headers are identified with :func:`convcli.imageio._open.identify`.

    Raises
    ------
    ImageReadError
        Naming the file: missing, a folder, not an image, a damaged header,
        or a ``.npy`` array that is not an image.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "a.npy"), np.zeros((4, 6, 3), np.float32))
    >>> probe_size(os.path.join(folder, "a.npy"))
    (4, 6)
    """
    name = str(path)
    p = Path(path)
    if is_zarr_store(p):
        with ZarrSource(p) as store:
            return store.height, store.width
    if not p.is_file():
        what = "it is a folder; give an image file" if p.is_dir() else "no such file; check the path"
        raise ImageReadError(f"cannot read the size of {name!r}: {what} (a size is N or HxW, e.g. 224x224)")
    try:
        with open(p, "rb") as handle:
            if p.suffix.lower() == ".npy":
                return _npy_size(handle, name)
            if available("tifffile") and is_tiff(handle.read(8)):
                return _tiff_size(name)
            return _header_size(handle, name)
    except OSError as err:
        raise ImageReadError(f"cannot read the size of {name!r}: {err.strerror or err}") from None


def _npy_size(handle: Any, name: str) -> tuple[int, int]:
    try:
        shape, dtype = npy_header(handle)
    except MemoryError:
        raise
    except Exception as err:  # numpy's header parser fails in many ways on damaged files
        detail = str(err).strip() or type(err).__name__
        raise ImageReadError(f"cannot read the array in {name!r}: {detail[:200]}; give a file written by "
                             "numpy.save") from None
    if dtype.hasobject:
        raise ImageReadError(f"cannot read the array in {name!r}: it holds Python objects; give a file written "
                             "by numpy.save")
    if len(shape) not in (2, 3) or 0 in shape[:2]:
        raise ImageReadError(f"{name!r} holds an array of shape {shape}; an image is (height, width) or "
                             "(height, width, channels) with both sides at least 1")
    return shape[0], shape[1]


def _header_size(handle: Any, name: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # sizing never decodes
            image = identify(handle)
        width, height = image.size
    except UnidentifiedImageError:
        raise ImageReadError(f"cannot read the size of {name!r}: it is not an image Pillow can open; give a "
                             "size such as 224x224, an image file or a .npy array") from None
    except Image.DecompressionBombError as err:  # a plugin that checks a frame's size while opening
        raise ImageReadError(f"cannot read the size of {name!r}: Pillow refuses its header ({err})") from None
    except MemoryError:
        raise
    except Exception as err:  # Pillow's header parsers fail in many ways on damaged files
        raise damaged(name, err) from None
    return int(height), int(width)


def _tiff_size(name: str) -> tuple[int, int]:
    """The first page's size, from tifffile's reading of the headers (any TIFF, BigTIFF included)."""
    import tifffile

    from .tiff_checks import tifffile_log

    try:
        with tifffile_log(), tifffile.TiffFile(name) as tif:  # its log is judged when the file is read
            page = tif.pages[0]
            return int(page.imagelength), int(page.imagewidth)
    except MemoryError:
        raise
    except Exception as err:  # tifffile's parsers fail in many ways on damaged files
        raise damaged(name, err) from None
