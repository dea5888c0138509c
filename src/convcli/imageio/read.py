"""Reading images and ``.npy`` arrays: pixels, headers, frames and sizes.

Reading keeps the data's precision:

=====================================  ===========================================
source                                 array
=====================================  ===========================================
8-bit gray, RGB, RGBA, LA              ``uint8``, ``H x W`` or ``H x W x C``
16-bit RGB, RGBA, gray+alpha PNG       ``uint16``, exactly (imagecodecs; without
                                       the ``formats`` extra, Pillow's 8 bits
                                       and a note naming the extra)
TIFF, gray or RGB(A), any sample       as stored (tifffile): ``uint8``,
type, striped or tiled, BigTIFF        ``uint16``, ``int32``, ``float32``, …,
                                       any channel count (see :mod:`.tiff`);
                                       without the extra, as Pillow reads it
palette (``P``/``PA``)                 ``uint8`` RGB, or RGBA when it has transparency
CMYK, YCbCr, LAB, HSV                  ``uint8`` RGB (a plain conversion, no colour management)
bilevel (``1``)                        ``uint8`` gray, 0 and 255
16-bit gray (Pillow's ``I;16``)        ``uint16``
32-bit integer (``I``)                 ``int32``
32-bit float (``F``)                   ``float32``
Zarr store (a ``*.zarr`` folder)       the array as stored (see :mod:`.zarr_store`)
``.npy``                               the array as saved (2-D or 3-D, real numbers)
=====================================  ===========================================

:func:`read_image` decodes, :func:`probe_image` (``--dry-run``) and
:func:`count_frames` (``--frames all``) read headers only, and
:func:`probe_size` (``convcli outsize``) reads just the size, at any size.
:func:`read_image` decodes the whole image, so ``max_pixels`` limits the
image; :func:`probe_image` answers as :func:`~convcli.imageio.open_image`
reads, so for a TIFF or Zarr store it limits one tile.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError
from ._base import ImageInfo
from ._extra import EXTRA_HINT, available
from ._open import (
    check_pixels,
    damaged,
    frame_count,
    frame_name,
    load_npy,
    npy_header,
    open_pillow,
    pillow_bomb_limit,
    pillow_errors,
    read_bytes,
    seek_frame,
)
from .fast_decode import decode_jpeg, decode_png
from .metadata import read_metadata
from .tiff import is_tiff, open_tiff, tiff_frames, turn_upright
from .zarr_store import ZarrSource, is_zarr_store

__all__ = ["DEFAULT_MAX_PIXELS", "count_frames", "probe_image", "range_notes", "read_image", "refuse_zarr_frame",
           "tiff_input"]

#: the largest image read unless the caller raises the limit (about 16000 x 16000)
DEFAULT_MAX_PIXELS = 256_000_000


def _plan_mode(mode: str, info: Any, fmt: str | None = None) -> tuple[str | None, np.dtype, int]:
    """How a Pillow mode is read: the mode to convert to (None: as is), the dtype, the channels."""
    u8 = np.dtype(np.uint8)
    if mode == "1":
        return "L", u8, 1
    if mode == "P":
        return ("RGBA", u8, 4) if "transparency" in info else ("RGB", u8, 3)
    if mode == "PA":
        return "RGBA", u8, 4
    if mode in ("L",):
        return None, u8, 1
    if mode == "LA":
        return None, u8, 2
    if mode == "La":
        return "LA", u8, 2
    if mode == "RGB":
        return None, u8, 3
    if mode == "RGBA":
        return None, u8, 4
    if mode in ("RGBa", "RGBX"):
        return ("RGBA", u8, 4) if mode == "RGBa" else ("RGB", u8, 3)
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return "RGB", u8, 3
    if mode.startswith("I;16"):
        return None, np.dtype(np.uint16), 1
    if mode == "I":  # 16-bit PNG/PGM samples in older Pillow modes; 32-bit integers in TIFF
        return None, np.dtype(np.uint16 if fmt in ("PNG", "PPM") else np.int32), 1
    if mode == "F":
        return None, np.dtype(np.float32), 1
    return ("RGBA", u8, 4) if "A" in mode else ("RGB", u8, 3)


#: EXIF orientation -> the Pillow transpose that turns the stored pixels upright (as ImageOps.exif_transpose)
_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
            7: "TRANSVERSE", 8: "ROTATE_90"}


def _orientation(image: Any) -> int:
    """The EXIF orientation (1-8); 1 when there is none or it cannot be read.

    Read before decoding, by :func:`probe_image` and :func:`read_image` alike,
    so that both agree on whether the picture is turned.
    """
    try:
        value = int(image.getexif().get(0x0112, 1))
    except Exception:  # damaged EXIF: the pixels are used as stored
        return 1
    return value if value in _UPRIGHT else 1


def _deep_png(image: Any, data: bytes) -> bool:
    """Whether a PNG holds 16-bit colour (IHDR depth 16, colour type 2, 4 or 6), which Pillow reads as 8 bits."""
    return (image.format == "PNG" and len(data) > 26 and data[12:16] == b"IHDR"
            and data[24] == 16 and data[25] in (2, 4, 6))


def _exact_png(image: Any, data: bytes, frames: int) -> bool:
    """Whether the pixels of a 16-bit colour PNG are decoded exactly, by imagecodecs (a still image)."""
    return frames == 1 and _deep_png(image, data) and available("imagecodecs")


def _source_notes(image: Any, data: bytes, name: str, frames: int, frame: int | None) -> list[str]:
    notes = []
    if frames > 1 and frame is None:
        notes.append(f"{name}: has {frames} frames; only the first is filtered (--frames all filters each)")
    deep = _deep_png(image, data) and not _exact_png(image, data, frames)
    if image.format == "TIFF":
        with contextlib.suppress(Exception):
            bits = image.tag_v2.get(258)
            bits = bits if isinstance(bits, tuple) else (bits,)
            deep = image.mode in ("RGB", "RGBA", "LA") and max(int(b) for b in bits) > 8
    if deep:
        notes.append(
            f"{name}: 16-bit colour was decoded to 8 bits per sample (Pillow reads no deeper colour); "
            f"install convcli's formats extra to keep every bit: {EXTRA_HINT}"
        )
    return notes


def _png16(data: bytes, name: str, orientation: int) -> np.ndarray:
    """The exact 16-bit samples of a colour PNG, decoded by imagecodecs and turned upright."""
    import imagecodecs

    try:
        arr = np.asarray(imagecodecs.png_decode(data))
    except MemoryError:
        raise
    except Exception as err:  # libpng refuses damage Pillow let pass (a bad CRC)
        raise damaged(name, err) from None
    return turn_upright(arr, orientation)


def _file_prefix(path: str | os.PathLike[str]) -> bytes:
    """The first bytes of a regular file (empty for anything else, or when it cannot be read)."""
    try:
        if not Path(path).is_file():
            return b""
        with open(path, "rb") as handle:
            return handle.read(8)
    except OSError:
        return b""


def tiff_input(path: str | os.PathLike[str], data: bytes | None) -> str | bytes | None:
    """What to give tifffile when the input is a TIFF and tifffile is installed: the path, or the bytes."""
    if not available("tifffile"):
        return None
    if data is not None:
        return data if is_tiff(data) else None
    return os.fspath(path) if is_tiff(_file_prefix(path)) else None


def refuse_zarr_frame(name: str, frame: int | None) -> None:
    if frame not in (None, 0):
        raise ImageReadError(f"{name}: has 1 frame; frame {frame} does not exist")


def count_frames(
    path: str | os.PathLike[str],
    *,
    data: bytes | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> int:
    """How many frames (animations) or pages (multi-page TIFF) a file has; 1 for other images.

    Only headers are read.  ``--frames all`` uses it to give each frame its own output.

    Raises
    ------
    ImageReadError
        As :func:`read_image` would, for a file that cannot be opened.

    Examples
    --------
    >>> from PIL import Image
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "anim.gif")
    >>> Image.new("L", (4, 4)).save(path, save_all=True, append_images=[Image.new("L", (4, 4), 255)])
    >>> count_frames(path)
    2
    """
    name = str(path)
    if data is None:
        if (Path(path).suffix.lower() == ".npy" and Path(path).is_file()) or is_zarr_store(path):
            return 1
    tiff = tiff_input(path, data)
    if tiff is not None:
        return tiff_frames(tiff, name)
    if data is None:
        data = read_bytes(path)
    if not data or data[:6] == b"\x93NUMPY":
        return 1
    image = open_pillow(data, name, max_pixels)
    with image, pillow_bomb_limit(max_pixels), pillow_errors(name, max_pixels):
        return frame_count(image)


def range_notes(arr: np.ndarray, mode: str | None, name: str) -> list[str]:
    """A note when 32-bit integer samples (mode ``I``) leave 0..65535, the range of 16-bit outputs."""
    if arr.dtype != np.int32 or arr.size == 0:
        return []
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi <= 65535:
        return []
    return [f"{name}: 32-bit integer samples (mode {mode}) range {lo}..{hi}, beyond 0..65535; 16-bit outputs clip "
            "them: use --range normalize, or --depth float with .tif or .npy, to keep them"]


def read_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    data: bytes | None = None,
    frame: int | None = None,
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image (or a ``.npy`` array) into an array and its :class:`ImageInfo`.

    Parameters
    ----------
    path : str or path-like
        The file; with ``data`` given, only a name for messages (``-`` for stdin).
    max_pixels : int or None, optional
        Refuse images with more pixels than this before decoding them
        (decompression bombs); ``None`` for no limit.
    data : bytes, optional
        The encoded file, for example read from stdin.
    frame : int, optional
        The frame (animation) or page (TIFF) to read, from 0; messages then
        name it ``path[frame]``.  Default: the first, with a note when there
        are more (see :func:`count_frames`).

    Returns
    -------
    (ndarray, ImageInfo)
        ``H x W`` or ``H x W x C`` pixels (see the module's table of dtypes).

    Raises
    ------
    ImageReadError
        Naming the file, what is wrong with it and the fix: missing, a
        folder, empty, not an image, damaged or truncated (whatever Pillow's
        parsers raised), over ``max_pixels``, no such frame.

    Examples
    --------
    >>> import tempfile, os
    >>> from convcli.imageio import write_image
    >>> folder = tempfile.mkdtemp()
    >>> write_image(os.path.join(folder, "x.png"), np.full((2, 3), 7, np.uint8))
    >>> arr, info = read_image(os.path.join(folder, "x.png"))
    >>> arr.dtype, arr.shape, info.mode
    (dtype('uint8'), (2, 3), 'L')
    """
    from PIL import Image

    name = str(path)
    if data is None:
        if Path(path).suffix.lower() == ".npy" and Path(path).is_file() and frame in (None, 0):
            return load_npy(path, name, max_pixels), ImageInfo(path=name, format="NPY")
        if is_zarr_store(path):
            refuse_zarr_frame(name, frame)
            with ZarrSource(path) as store:
                check_pixels(name, store.width, store.height, max_pixels)
                return store.read(), store.info
    tiff = tiff_input(path, data)
    if tiff is not None:
        found = open_tiff(tiff, name, frame=frame, max_pixels=max_pixels, whole=True)
        if found is not None:  # else a TIFF Pillow converts (palette, CMYK, …)
            with found:
                arr = turn_upright(found.read(), found.orientation)
            found.info.notes.extend(range_notes(arr, found.info.mode, frame_name(name, frame)))
            return arr, found.info
    if data is None:
        data = read_bytes(path)
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes); it holds no image")
    if data[:6] == b"\x93NUMPY" and frame in (None, 0):
        return load_npy(data, name, max_pixels), ImageInfo(path=name, format="NPY")
    image = open_pillow(data, name, max_pixels)
    shown = frame_name(name, frame)
    with (image, pillow_bomb_limit(max_pixels), warnings.catch_warnings(record=True) as caught,
          pillow_errors(shown, max_pixels)):
        warnings.simplefilter("always")
        frames = frame_count(image)
        if frame is not None:
            seek_frame(image, name, frame, frames, max_pixels)
        orientation = _orientation(image)  # first, exactly as probe_image reads it: later reads may differ
        notes = _source_notes(image, data, name, frames, frame)
        source_mode = image.mode
        icc, exif = image.info.get("icc_profile"), image.info.get("exif")
        fmt = image.format
        declared = image.size
        # a plain JPEG or 8-bit PNG goes straight into NumPy when imagecodecs is installed (the same bytes, faster)
        fast = None
        if frames == 1 and fmt == "JPEG":
            fast = decode_jpeg(data, mode=source_mode, size=declared)
        elif frames == 1 and fmt == "PNG":
            fast = decode_png(data, mode=source_mode, size=declared, info=image.info)
        if fast is None:
            image.load()
        kept = read_metadata(image, turned=orientation in (5, 6, 7, 8))
        if image.size != declared:  # only damaged files seen so far (a TIFF whose tags disagree)
            notes.append(f"{shown}: the header says {declared[0]}x{declared[1]} pixels but they decode to "
                         f"{image.size[0]}x{image.size[1]}; the file may be damaged (--dry-run shows the header's)")
        upright = image
        if orientation != 1 and fast is None:
            upright = image.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
        target, dtype, channels = _plan_mode(upright.mode, image.info, fmt)
        if fast is not None:
            arr = np.ascontiguousarray(turn_upright(fast, orientation))
        elif _exact_png(image, data, frames):
            arr = _png16(data, shown, orientation)
        else:
            if target is not None:
                upright = upright.convert(target)
            arr = np.array(upright, dtype=dtype)
    notes.extend(f"{shown}: {w.message}" for w in caught)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or min(arr.shape) < 1:
        raise ImageReadError(f"{shown}: decodes to an empty picture (shape {arr.shape}); re-export it")
    notes.extend(range_notes(arr, source_mode, shown))
    info = ImageInfo(
        path=name,
        format=fmt,
        mode=source_mode,
        alpha=channels in (2, 4),
        icc_profile=icc or None,
        exif=exif or None,
        notes=notes,
        **kept,
    )
    return arr, info


def probe_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    data: bytes | None = None,
    frame: int | None = None,
) -> tuple[tuple[int, ...], np.dtype, ImageInfo]:
    """The shape and dtype :func:`read_image` would give, from the header only.

    Used by ``--dry-run``: nothing is decoded.

    Returns
    -------
    (shape, dtype, ImageInfo)

    Examples
    --------
    >>> import tempfile, os
    >>> from convcli.imageio import write_image
    >>> folder = tempfile.mkdtemp()
    >>> write_image(os.path.join(folder, "x.png"), np.zeros((2, 3, 4), np.uint8))
    >>> shape, dtype, info = probe_image(os.path.join(folder, "x.png"))
    >>> shape, dtype, info.alpha
    ((2, 3, 4), dtype('uint8'), True)
    """
    name = str(path)
    if data is None:
        p = Path(path)
        if p.suffix.lower() == ".npy" and p.is_file() and frame in (None, 0):
            try:
                with open(p, "rb") as handle:
                    shape, dtype = npy_header(handle)
            except MemoryError:
                raise
            except Exception as err:
                detail = str(err).strip() or type(err).__name__
                raise ImageReadError(f"{name}: not a readable .npy array ({detail[:200]}); "
                                     "write it with numpy.save") from None
            if len(shape) in (2, 3) and min(shape, default=0) >= 1 and dtype.kind in "biuf":
                check_pixels(name, shape[1], shape[0], max_pixels)
                return shape, dtype, ImageInfo(path=name, format="NPY")
            arr = load_npy(path, name, max_pixels)  # raises, naming what is wrong
            return arr.shape, arr.dtype, ImageInfo(path=name, format="NPY")  # pragma: no cover
        if is_zarr_store(path):
            refuse_zarr_frame(name, frame)
            with ZarrSource(path, max_pixels=max_pixels) as store:
                return store.shape, store.dtype, store.info
    tiff = tiff_input(path, data)
    if tiff is not None:
        found = open_tiff(tiff, name, frame=frame, max_pixels=max_pixels)
        if found is not None:
            with found:
                shape = found.shape
                if found.orientation in (5, 6, 7, 8):
                    shape = (shape[1], shape[0], *shape[2:])
                return shape, found.dtype, found.info
    if data is None:
        data = read_bytes(path)
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes); it holds no image")
    if data[:6] == b"\x93NUMPY" and frame in (None, 0):
        arr = load_npy(data, name, max_pixels)
        return arr.shape, arr.dtype, ImageInfo(path=name, format="NPY")
    image = open_pillow(data, name, max_pixels)
    with image, pillow_bomb_limit(max_pixels), pillow_errors(frame_name(name, frame), max_pixels):
        frames = frame_count(image)
        if frame is not None:
            seek_frame(image, name, frame, frames, max_pixels)
        orientation = _orientation(image)  # first, as read_image does
        if frame:
            image.load()  # a later GIF frame learns its mode (L, P, RGB, RGBA) only when decoded
        width, height = image.size
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        _, dtype, channels = _plan_mode(image.mode, image.info, image.format)
        if _exact_png(image, data, frames):
            dtype = np.dtype(np.uint16)
        info = ImageInfo(path=name, format=image.format, mode=image.mode, alpha=channels in (2, 4),
                         notes=_source_notes(image, data, name, frames, frame))
    shape = (height, width) if channels == 1 else (height, width, channels)
    return shape, dtype, info
