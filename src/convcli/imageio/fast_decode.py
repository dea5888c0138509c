"""JPEG and PNG pixels straight into NumPy through imagecodecs, when the ``formats`` extra is installed.

Pillow decodes into its own image memory (four bytes a pixel for RGB) and
hands NumPy the pixels through ``tobytes``, a repacking copy, then NumPy
copies them again; decoding straight into an array takes a third to a half
of that time (``benchmarks/results/fast_decode.md``).  For JPEG both are
libjpeg-turbo with its defaults (the accurate integer IDCT, fancy
upsampling); PNG is lossless, so every correct decoder gives the same
samples.  The tests compare the pixels with Pillow's on every subsampling,
progressive and restart-marker JPEGs, the 8-bit PNG colour types read here
at several levels, odd sizes and every EXIF orientation.

Only plain files take this path: a greyscale or YCbCr/RGB JPEG (Pillow mode
``L`` or ``RGB``) whose data ends with the end-of-image marker, and an 8-bit
grey, RGB or RGBA PNG without a transparency chunk.  Anything
else (CMYK JPEGs, palettes, 1/2/4/16-bit PNGs, a ``tRNS`` colour key), files
that are truncated (libjpeg would fill the rest with grey where Pillow
rightly refuses) and files either codec refuses go through Pillow as before,
so every error message stays Pillow's.
"""

from __future__ import annotations

import numpy as np

from ._extra import available

__all__ = ["decode_jpeg", "decode_png"]

#: the end-of-image marker a complete JPEG file ends with
_EOI = b"\xff\xd9"
#: PNG colour types read here (grey, RGB, RGBA) and their channels (libspng has no grey+alpha output)
_PNG_CHANNELS = {0: 1, 2: 3, 6: 4}


def decode_jpeg(data: bytes, *, mode: str, size: tuple[int, int]) -> np.ndarray | None:
    """The JPEG's pixels as Pillow would read them (H x W or H x W x 3 uint8), or None to use Pillow.

    Parameters
    ----------
    data : bytes
        The whole file.
    mode : str
        Pillow's mode for the file (from its header): only ``L`` and ``RGB``
        are decoded here.
    size : (int, int)
        Pillow's (width, height) from the header; a decode of any other shape
        is not used.

    Returns
    -------
    ndarray or None
        None when imagecodecs is not installed, the file is not a plain
        complete JPEG, or imagecodecs cannot decode it (Pillow then reads it
        and reports any damage).

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (5, 3), (200, 100, 50)).save(buffer, "JPEG", quality=95)
    >>> pixels = decode_jpeg(buffer.getvalue(), mode="RGB", size=(5, 3))
    >>> pixels is None or (pixels.shape, pixels.dtype.name) == ((3, 5, 3), "uint8")
    True
    """
    if mode not in ("L", "RGB") or not data.rstrip(b"\x00").endswith(_EOI) or not available("imagecodecs"):
        return None
    import imagecodecs

    try:
        pixels = imagecodecs.jpeg8_decode(data)
    except Exception:
        return None
    width, height = size
    expected = (height, width) if mode == "L" else (height, width, 3)
    if pixels.ndim == 3 and mode == "L" and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.shape != expected or pixels.dtype != np.uint8:
        return None
    return np.ascontiguousarray(pixels)


def decode_png(data: bytes, *, mode: str, size: tuple[int, int], info: dict) -> np.ndarray | None:
    """An 8-bit PNG's pixels as Pillow would read them (H x W or H x W x C uint8), or None to use Pillow.

    Parameters
    ----------
    data : bytes
        The whole file.
    mode : str
        Pillow's mode for the file: ``L``, ``RGB`` or ``RGBA`` are decoded
        here (grey+alpha goes through Pillow: libspng has no such output).
    size : (int, int)
        Pillow's (width, height) from the header.
    info : dict
        Pillow's ``image.info``: a ``transparency`` entry (a tRNS chunk, which
        Pillow turns into alpha) sends the file to Pillow.

    Returns
    -------
    ndarray or None
        None when imagecodecs is not installed, the file is not a plain 8-bit
        PNG, or the codec refuses it.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGBA", (5, 3), (200, 100, 50, 25)).save(buffer, "PNG")
    >>> pixels = decode_png(buffer.getvalue(), mode="RGBA", size=(5, 3), info={})
    >>> pixels is None or (pixels.shape, pixels[0, 0].tolist()) == ((3, 5, 4), [200, 100, 50, 25])
    True
    """
    if (mode not in ("L", "RGB", "RGBA") or "transparency" in info or len(data) < 33
            or data[12:16] != b"IHDR" or data[24] != 8 or data[25] not in _PNG_CHANNELS
            or not available("imagecodecs")):
        return None
    import imagecodecs

    if not hasattr(imagecodecs, "spng_decode"):
        return None
    channels = _PNG_CHANNELS[data[25]]
    try:
        # libspng: twice Pillow's speed and silent (libpng, the other choice, prints its warnings on stderr)
        pixels = imagecodecs.spng_decode(data)
    except Exception:
        return None
    width, height = size
    expected = (height, width) if channels == 1 else (height, width, channels)
    if pixels.ndim == 3 and channels == 1 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.shape != expected or pixels.dtype != np.uint8:
        return None
    return np.ascontiguousarray(pixels)
