"""The sinks that encode a whole image at once: Pillow's formats, 16-bit colour PNG and ``.npy``.

PNG, JPEG, WebP, BMP, GIF, PPM and TGA (and TIFF without tifffile) are
encoded by Pillow from the whole array; 16-bit colour PNG, which Pillow
cannot write, by imagecodecs (:mod:`.png`).  ``.npy`` is written by NumPy,
straight into the file.  These sinks receive bands like the streamed ones
and take the whole image from them (:func:`~convcli.imageio._base.gathered`:
one band covering every row is used as it is).

What the output keeps (:mod:`.metadata`): the ICC profile where its colour
space fits the channels, EXIF with the orientation reset (the pixels were
turned upright when read), resolution, PNG text, a JPEG source's quality and
chroma subsampling.  GIF holds 8-bit gray; colour is reduced to a palette of
at most 256 colours by median cut without dithering, and alpha to on/off
transparency (opaque from 128 up), as ImageMagick writes GIF.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

from ..errors import ImageWriteError
from ._base import ImageInfo, gathered
from .compression import DEFAULT_PNG_LEVEL
from .metadata import exif_without_orientation, icc_fits, save_options
from .png import encode_png16

__all__ = ["encode_array", "write_encoded", "write_npy"]


def encode_array(array: np.ndarray, fmt: str, *, info: ImageInfo | None = None, name: str = "-",
                 quality: int | None = None, compression: int | None = None) -> bytes:
    """Encode a whole array, already checked to fit ``fmt``, with Pillow (or imagecodecs for 16-bit colour PNG).

    Parameters
    ----------
    array : ndarray
        ``uint8``, ``uint16`` or ``float32`` samples, ``(H, W)`` or ``(H, W, C)``.
    fmt : str
        A Pillow format name (``PNG``, ``JPEG``, ``TIFF``, ...).
    info : ImageInfo, optional
        The source's metadata to keep.
    name : str, optional
        The output's name, for messages.
    quality : int, optional
        JPEG/WebP quality.
    compression : int, optional
        PNG: the zlib level (None: the default); ignored by other formats.

    Raises
    ------
    ImageWriteError
        When Pillow cannot encode it.

    Examples
    --------
    >>> encode_array(np.zeros((2, 2), np.uint8), "PNG")[:4]
    b'\\x89PNG'
    """
    from PIL import Image

    channels = 1 if array.ndim == 2 else int(array.shape[2])
    if array.ndim == 3 and channels == 1:
        array = array[:, :, 0]
    icc = info.icc_profile if info is not None and info.icc_profile and icc_fits(info.icc_profile, channels) else None
    size = (int(array.shape[1]), int(array.shape[0]))  # (width, height): the EXIF and XMP sizes follow it
    exif = exif_without_orientation(info.exif, size=size) if info is not None and info.exif else None
    level = (DEFAULT_PNG_LEVEL if compression is None else int(compression)) if fmt == "PNG" else None
    sixteen = array.dtype == np.uint16
    if level is not None and sixteen and channels > 1:
        return encode_png16(array, name=name, icc_profile=icc, exif=exif, info=info, level=level)
    options: dict[str, Any] = save_options(fmt, channels, info, quality, size=size)
    if level is not None:
        options["compress_level"] = level  # Pillow's adaptive row filters, then zlib at this level
    if sixteen:
        image = Image.fromarray(np.ascontiguousarray(array, dtype="<u2"))  # I;16
    elif fmt == "GIF" and channels > 1:
        image, transparency = _palette_image(array)
        if transparency is not None:
            options["transparency"] = transparency
    else:
        image = Image.fromarray(np.ascontiguousarray(array))  # mode from shape and dtype
    if icc and fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        options["icc_profile"] = icc
    if exif and fmt in ("JPEG", "PNG", "TIFF", "WEBP"):
        options["exif"] = exif
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError) as err:
        raise ImageWriteError(f"{name}: cannot encode as {fmt} ({err})") from None
    return buffer.getvalue()


def write_encoded(handle: IO[bytes], bands: Iterable[tuple[int, np.ndarray]], *, fmt: str, shape: tuple[int, ...],
                  dtype: np.dtype, name: str, info: ImageInfo | None = None, quality: int | None = None,
                  tile: int | None = None, compression: int | str | None = None) -> None:
    """The sink of Pillow's formats: the whole image from ``bands``, encoded (:func:`encode_array`) into ``handle``.

    ``tile`` does not apply and is ignored; ``compression`` is a PNG level
    (checked by :func:`~convcli.imageio.compression.checked_compression`).

    Examples
    --------
    >>> buffer = io.BytesIO()
    >>> write_encoded(buffer, [(0, np.zeros((2, 3), np.uint8))], fmt="BMP", shape=(2, 3), dtype=np.dtype(np.uint8),
    ...               name="x.bmp")
    >>> buffer.getvalue()[:2]
    b'BM'
    """
    level = None if compression is None else int(compression)
    handle.write(encode_array(gathered(bands, shape, dtype), fmt, info=info, name=name, quality=quality,
                              compression=level))


def write_npy(handle: IO[bytes], bands: Iterable[tuple[int, np.ndarray]], *, fmt: str, shape: tuple[int, ...],
              dtype: np.dtype, name: str, info: ImageInfo | None = None, quality: int | None = None,
              tile: int | None = None, compression: int | str | None = None) -> None:
    """The ``.npy`` sink: the array saved straight into ``handle`` (no pickles, no in-memory copy of one band).

    Examples
    --------
    >>> buffer = io.BytesIO()
    >>> write_npy(buffer, [(0, np.ones((2, 2)))], fmt="NPY", shape=(2, 2), dtype=np.dtype(float), name="x.npy")
    >>> _ = buffer.seek(0); np.load(buffer).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    np.save(handle, gathered(bands, shape, dtype), allow_pickle=False)


def _palette_image(array: np.ndarray) -> tuple[Any, int | None]:
    """Colour (and alpha) as a palette of at most 256 colours for GIF: median cut, no dithering.

    Alpha becomes GIF's on/off transparency (opaque from 128 up), which takes
    one palette entry.  Returns the ``P`` image and its transparent index.
    """
    from PIL import Image

    has_alpha = array.shape[2] in (2, 4)
    colour = array[..., :-1] if has_alpha else array
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    colours = 255 if has_alpha else 256
    image = Image.fromarray(np.ascontiguousarray(colour, dtype=np.uint8), "RGB").quantize(
        colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    if not has_alpha:
        return image, None
    index = np.array(image)
    index[array[..., -1] < 128] = 255
    palette = (image.getpalette() or [])[: 3 * 255]
    out = Image.fromarray(index, "P")
    out.putpalette(palette + [0] * (768 - len(palette)))
    return out, 255
