"""Opening image files safely: bytes, ``.npy`` headers, Pillow headers and its guards.

Everything that can go wrong before pixels are decoded is turned into an
:class:`~convcli.errors.ImageReadError` here, naming the file, what is wrong
and the fix; :mod:`.read` builds on these helpers.

Pillow's own decompression-bomb check reads a process-wide setting
(``PIL.Image.MAX_IMAGE_PIXELS``).  Headers are identified by :func:`identify`,
which runs Pillow's registered openers without that check, so reading a size
never changes the setting; convcli checks the size itself with a message
naming ``--max-pixels``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import struct
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import ImageReadError

__all__ = ["check_pixels", "damaged", "frame_count", "frame_name", "identify", "load_npy", "npy_header",
           "open_pillow", "pillow_bomb_limit", "pillow_errors", "read_bytes", "seek_frame"]


def identify(stream: IO[bytes]) -> Any:
    """Open ``stream`` with the first Pillow plugin that accepts it, reading the header only.

    As :func:`PIL.Image.open` does, but without its decompression-bomb check
    (which reads a process-wide setting): the caller checks the size.

    Raises
    ------
    PIL.UnidentifiedImageError
        When no plugin accepts the data.

    Examples
    --------
    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("L", (5, 3)).save(buffer, format="PNG")
    >>> identify(buffer).size
    (5, 3)
    """
    from PIL import Image, UnidentifiedImageError

    stream.seek(0)
    prefix = stream.read(16)
    tried: set[str] = set()
    for loader in (Image.preinit, Image.init):
        loader()
        for fmt in [f for f in Image.ID if f not in tried]:
            tried.add(fmt)
            factory, accept = Image.OPEN[fmt]
            accepted = not accept or accept(prefix)
            if not accepted or isinstance(accepted, str):
                continue
            try:
                stream.seek(0)
                return factory(stream, "")
            except (SyntaxError, IndexError, TypeError, struct.error):  # not this format, as Image.open
                continue
    raise UnidentifiedImageError("cannot identify image file")


def frame_name(name: str, frame: int | None) -> str:
    """How messages name a frame: ``anim.gif[2]`` (ImageMagick's notation), or the file."""
    return name if frame is None else f"{name}[{frame}]"


def frame_count(image: Any) -> int:
    """Frames (GIF, APNG, WebP) or pages (TIFF) in the file; 1 when Pillow cannot tell."""
    try:
        return max(1, int(getattr(image, "n_frames", 1) or 1))
    except MemoryError:
        raise
    except Exception:  # a damaged later frame: the first may still decode, once Pillow is back on it
        image.seek(0)  # (counting left Pillow half-way into the damaged frame; if this fails, the file is damaged)
        return 1


def damaged(name: str, err: BaseException) -> ImageReadError:
    """The one message for a file a decoder could not make sense of.

    A decoder's own words are kept when they describe the file (``ValueError``,
    ``OSError``: "invalid offset", "truncated"); a parser tripping over the
    damage (``IndexError: index 0 out of range`` and the like) says nothing a
    user can act on, so only the verdict is given.

    Examples
    --------
    >>> str(damaged("a.tif", IndexError("index 0 out of range(0)")))
    'a.tif: the image is damaged or truncated; re-export it'
    >>> str(damaged("a.png", OSError("image file is truncated")))
    'a.png: the image is damaged or truncated (image file is truncated); re-export it'
    """
    if isinstance(err, (TypeError, IndexError, KeyError, AttributeError, ZeroDivisionError, RuntimeError)):
        return ImageReadError(f"{name}: the image is damaged or truncated; re-export it")
    detail = str(err).strip() or type(err).__name__
    return ImageReadError(f"{name}: the image is damaged or truncated ({detail[:200]}); re-export it")


def open_pillow(data: bytes, name: str, max_pixels: int | None) -> Any:
    """Open encoded bytes with Pillow (header only), checking the pixel limit."""
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # anything that matters shows again when the pixels are decoded
            image = identify(io.BytesIO(data))
    except UnidentifiedImageError:
        unsupported = _unsupported_tiff(data)
        if unsupported:
            raise ImageReadError(f"{name}: not supported ({unsupported})") from None
        raise ImageReadError(
            f"{name}: not an image Pillow can read (unknown or corrupt format); "
            "convert it to PNG, JPEG or TIFF, or give a .npy array"
        ) from None
    except MemoryError:
        raise
    except Exception as err:  # any other failure of Pillow's header parsers is damage in the file
        raise damaged(name, err) from None
    width, height = image.size
    check_pixels(name, width, height, max_pixels, fmt=image.format)
    return image


def _tiff_tags(data: bytes, wanted: set[int]) -> dict[int, tuple[int, ...]]:
    """Short integer tags of a TIFF's first directory (classic TIFF only; empty for anything else)."""
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        return {}
    order = "<" if data[:2] == b"II" else ">"
    sizes = {1: 1, 3: 2, 4: 4}  # BYTE, SHORT, LONG
    found: dict[int, tuple[int, ...]] = {}
    try:
        (offset,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, offset)
        for i in range(min(count, 4096)):
            tag, kind, n, value = struct.unpack_from(order + "HHI4s", data, offset + 2 + 12 * i)
            if tag not in wanted or kind not in sizes or not 1 <= n <= 64:
                continue
            size = sizes[kind]
            raw = value if size * n <= 4 else data[struct.unpack(order + "I", value)[0]:][: size * n]
            code = {1: "B", 3: "H", 4: "I"}[kind]
            found[tag] = struct.unpack(order + code * n, raw[: size * n])
    except struct.error:  # a damaged directory: no verdict
        return found
    return found


def _unsupported_tiff(data: bytes) -> str | None:
    """Why Pillow cannot open a well-formed TIFF it does not support (float colour), or None.

    Examples
    --------
    >>> _unsupported_tiff(b"not a tiff") is None
    True
    """
    tags = _tiff_tags(data, {258, 277, 339})  # BitsPerSample, SamplesPerPixel, SampleFormat
    if 3 not in tags.get(339, ()):  # 3 = IEEE floating point
        return None
    channels = tags.get(277, (1,))[0]
    bits = max(tags.get(258, (32,)))
    what = {1: "gray", 2: "gray+alpha", 3: "colour", 4: "colour+alpha"}.get(channels, f"{channels}-channel")
    from ._extra import EXTRA_HINT

    return (f"{bits}-bit float {what} TIFF; Pillow reads only one-channel 32-bit float TIFFs: install convcli's "
            f"formats extra, with which tifffile reads it: {EXTRA_HINT}; or save it as a .npy array")


@contextlib.contextmanager
def pillow_errors(name: str, max_pixels: int | None = None) -> Any:
    """Whatever Pillow raises while parsing or decoding a damaged file becomes an :class:`ImageReadError`.

    Pillow's parsers fail on damaged data with many exception types (``OSError``,
    ``SyntaxError``, ``TypeError``, ``IndexError``, ``struct.error``, …); the
    fuzzer in ``tests/fuzz_images.py`` found them.  ``MemoryError`` passes.
    """
    from PIL import Image

    try:
        yield
    except (ImageReadError, MemoryError):
        raise
    except Image.DecompressionBombError:
        raise ImageReadError(
            f"{name}: a frame declares more pixels than the limit of {max_pixels or 0:,} (a decompression bomb "
            "guard); raise it with --max-pixels if the image is real"
        ) from None
    except Exception as err:
        raise damaged(name, err) from None


def seek_frame(image: Any, name: str, frame: int, frames: int, max_pixels: int | None) -> None:
    if not 0 <= frame < frames:
        have = "1 frame" if frames == 1 else f"{frames} frames (0-{frames - 1})"
        raise ImageReadError(f"{name}: has {have}; frame {frame} does not exist")
    if frame:
        image.seek(frame)
        width, height = image.size  # TIFF pages may each have their own size
        check_pixels(frame_name(name, frame), width, height, max_pixels, fmt=image.format)


def check_pixels(name: str, width: int, height: int, max_pixels: int | None, *,
                  fmt: str | None = None) -> None:
    """Refuse a picture over ``max_pixels``; ``fmt``: the Pillow format decoding it whole, for the advice."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(
            f"{name}: {width}x{height} is {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (a decompression bomb guard); raise it with --max-pixels if the image is real"
            f"{_streaming_advice(name, fmt)}"
        )


#: the largest image (height x width) read tile by tile or chunk by chunk when ``max_pixels`` is below it: 2**40,
#: about a million by a million pixels; a larger declared size is refused from the header (raise it with a larger
#: ``max_pixels``; ``None``, ``--max-pixels 0``, lifts it)
MAX_STREAMED_PIXELS = 2**40
#: no image of more bytes than this is real (numpy's sizes end at 2**63): refused even without a limit
_IMPOSSIBLE_BYTES = 2**62


def check_streamed_pixels(name: str, shape: tuple[int, ...], itemsize: int, max_pixels: int | None, *,
                          what: str) -> None:
    """Refuse, from its declared ``shape``, an image read lazily that is over the whole-image limit.

    ``max_pixels`` limits one tile or chunk of such an image; the whole image
    is limited to :data:`MAX_STREAMED_PIXELS`, or ``max_pixels`` when larger
    (None: no limit).  A size no memory or disk can hold is refused always.

    Examples
    --------
    >>> check_streamed_pixels("a.zarr", (40000, 40000), 1, 256_000_000, what="Zarr store")
    >>> check_streamed_pixels("a.zarr", (2**31, 2**31), 1, 256_000_000, what="Zarr store")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ImageReadError: a.zarr: declares 2147483648x2147483648 pixels (4,611,686,018,427,387,904), over \
the whole-image limit of 1,099,511,627,776 (2**40, for a Zarr store read a chunk at a time); its metadata may be \
damaged; if the image is real, raise the limit with --max-pixels N (N pixels; 0: no limit)
    """
    height, width = int(shape[0]), int(shape[1])
    pixels = height * width
    size = f"{width}x{height}"
    if pixels * max(1, math.prod(int(v) for v in shape[2:])) * max(1, itemsize) > _IMPOSSIBLE_BYTES:
        raise ImageReadError(f"{name}: declares {size} pixels of {shape[2] if len(shape) > 2 else 1} channel(s), "
                             f"more than 2**62 bytes, which no memory or disk holds; its metadata is damaged")
    limit = None if max_pixels is None else max(max_pixels, MAX_STREAMED_PIXELS)
    if limit is not None and pixels > limit:
        stated = "2**40" if limit == MAX_STREAMED_PIXELS else "--max-pixels"
        raise ImageReadError(
            f"{name}: declares {size} pixels ({pixels:,}), over the whole-image limit of {limit:,} ({stated}, for "
            f"a {what} read a {'chunk' if 'Zarr' in what else 'tile or strip'} at a time); its metadata may be "
            "damaged; if the image is real, raise the limit with --max-pixels N (N pixels; 0: no limit)")


def _streaming_advice(name: str, fmt: str | None) -> str:
    """How to filter a picture too big to decode whole: as a tiled TIFF, which convcli streams.

    Examples
    --------
    >>> _streaming_advice("scans/big scan.png", "PNG")[:60]
    ' and fits in memory, or convert it to a tiled TIFF, which co'
    >>> _streaming_advice("scans/big scan.png", "PNG").split(": ", 1)[1]
    "vips tiffsave 'scans/big scan.png' 'scans/big scan.tif' --tile --bigtiff"
    """
    import shlex

    from ._extra import EXTRA_HINT, available

    if fmt is None:
        return ""
    if fmt == "TIFF" and not available("tifffile"):  # with it, only palette, CMYK, … TIFFs are read whole
        return f" and fits in memory, or install convcli's formats extra, with which TIFFs stream: {EXTRA_HINT}"
    source, target = ("IN", "OUT.tif") if name in ("-", "") else (name, str(Path(name).with_suffix(".tif")))
    extra = "" if available("tifffile") else f" (with its formats extra: {EXTRA_HINT})"
    return (f" and fits in memory, or convert it to a tiled TIFF, which convcli streams{extra}: "
            f"vips tiffsave {shlex.quote(source)} {shlex.quote(target)} --tile --bigtiff")


@contextlib.contextmanager
def pillow_bomb_limit(max_pixels: int | None) -> Any:
    """Pillow's own bomb check at convcli's limit, for what convcli cannot see in the header.

    convcli checks the picture's size itself (with a message naming
    ``--max-pixels``); Pillow's check then catches a frame of an animation
    that declares a larger size than the picture (it raises past twice its
    limit, which :func:`pillow_errors` reports as the limit being exceeded).
    """
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    name = str(path)
    p = Path(path)
    if p.is_dir():
        raise ImageReadError(f"{name} is a folder, not an image; pass --recursive to filter what is inside")
    if not p.exists():
        raise ImageReadError(f"{name}: no such file; check the path")
    try:
        if stat.S_ISCHR(p.stat().st_mode) or stat.S_ISBLK(p.stat().st_mode):  # /dev/zero would never end
            raise ImageReadError(f"{name}: is a device, not an image file; give a file, or - to read stdin")
        return p.read_bytes()
    except OSError as err:
        raise ImageReadError(f"{name}: cannot read ({err.strerror or err}); check its permissions") from None


def npy_header(stream: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy stream declares, reading only its header."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return tuple(int(v) for v in shape), np.dtype(dtype)


def load_npy(source: str | os.PathLike[str] | bytes, name: str, max_pixels: int | None) -> np.ndarray:
    """A .npy array, its declared size checked against ``max_pixels`` before the data is read."""
    try:
        if isinstance(source, bytes):
            stream: Any = io.BytesIO(source)
            shape, dtype = npy_header(stream)
        else:
            with open(source, "rb") as handle:
                shape, dtype = npy_header(handle)
        if len(shape) in (2, 3):
            check_pixels(name, shape[1], shape[0], max_pixels)
        if dtype.hasobject:
            raise ValueError("it holds Python objects, which convcli never unpickles")
        arr = np.load(io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False)
    except (ImageReadError, MemoryError):
        raise
    except Exception as err:  # numpy's header parser fails in many ways on damaged files
        detail = str(err).strip() or type(err).__name__
        raise ImageReadError(f"{name}: not a readable .npy array ({detail[:200]}); write it with numpy.save") from None
    if not isinstance(arr, np.ndarray):
        raise ImageReadError(f"{name}: holds several arrays (.npz); save one image array with numpy.save")
    arr = _check_array(arr, name)
    check_pixels(name, int(arr.shape[1]), int(arr.shape[0]), max_pixels)
    return arr


def _check_array(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim not in (2, 3) or min(arr.shape) < 1 or arr.dtype.kind not in "biuf":
        raise ImageReadError(
            f"{name}: holds an array of shape {arr.shape} and dtype {arr.dtype}; an image is a "
            "non-empty (height, width) or (height, width, channels) array of real numbers"
        )
    return arr
