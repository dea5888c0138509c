"""Images to arrays and back: modes, bit depth, alpha, metadata, atomic writes.

Reading keeps the data's precision:

=====================================  ===========================================
source                                 array
=====================================  ===========================================
8-bit gray, RGB, RGBA, LA              ``uint8``, ``H x W`` or ``H x W x C``
palette (``P``/``PA``)                 ``uint8`` RGB, or RGBA when it has transparency
CMYK, YCbCr, LAB, HSV                  ``uint8`` RGB (a plain conversion, no colour management)
bilevel (``1``)                        ``uint8`` gray, 0 and 255
16-bit gray (Pillow's ``I;16``)        ``uint16``
32-bit integer (``I``)                 ``int32``
32-bit float (``F``)                   ``float32``
``.npy``                               the array as saved (2-D or 3-D, real numbers)
=====================================  ===========================================

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

What a format can hold (:func:`fit_depth` chooses within it):

=========  =====================================  ================
format     8-bit channels                         16-bit / float
=========  =====================================  ================
PNG        1, 2 (gray+alpha), 3, 4                16: 1-4 / --
TIFF       1, 2, 3, 4                             16: 1 / float: 1
JPEG       1, 3                                   -- / --
WebP       1, 3, 4                                -- / --
BMP        1, 3                                   -- / --
GIF        1                                      -- / --
PPM/PGM    1, 3                                   16: 1 / --
TGA        1, 2, 3, 4                             -- / --
NPY        any                                    any
=========  =====================================  ================

Writing is atomic: the data goes to a temporary file ``.NAME.<random>.convcli-tmp``
in the destination folder that is renamed over the target only once complete
(without overwriting, unless asked, an output that appeared meanwhile), so an
interrupted run leaves complete outputs or none.  A failed write (a full disk,
a read-only folder) removes the temporary file and raises an
:class:`~convcli.errors.ImageWriteError` naming the path, the reason and the
fix.  The destination folder must exist (``-o`` never creates folders;
``--outdir`` does, in :mod:`convcli.batch`).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np

from .errors import ImageReadError, ImageWriteError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "TEMP_SUFFIX",
    "Depth",
    "ImageInfo",
    "count_frames",
    "encode_image",
    "fit_depth",
    "format_for",
    "image_extensions",
    "leftover_temp_files",
    "probe_image",
    "read_image",
    "write_image",
]

Depth: TypeAlias = Literal["8", "16", "float"]

#: the largest image read unless the caller raises the limit (about 16000 x 16000)
DEFAULT_MAX_PIXELS = 256_000_000

#: the end of every temporary file name :func:`write_image` uses
TEMP_SUFFIX = ".convcli-tmp"

#: file extension -> format name for writing
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".gif": "GIF",
    ".ppm": "PPM",
    ".pgm": "PPM",
    ".pnm": "PPM",
    ".tga": "TGA",
    ".npy": "NPY",
}

#: format -> depth -> the channel counts it holds (NPY holds anything)
_HOLDS: dict[str, dict[str, frozenset[int]]] = {
    "PNG": {"8": frozenset({1, 2, 3, 4}), "16": frozenset({1, 2, 3, 4})},
    "TIFF": {"8": frozenset({1, 2, 3, 4}), "16": frozenset({1}), "float": frozenset({1})},
    "JPEG": {"8": frozenset({1, 3})},
    "WEBP": {"8": frozenset({1, 3, 4})},
    "BMP": {"8": frozenset({1, 3})},
    "GIF": {"8": frozenset({1})},
    "PPM": {"8": frozenset({1, 3}), "16": frozenset({1})},
    "TGA": {"8": frozenset({1, 2, 3, 4})},
}
_DEPTH_ORDER: tuple[Depth, ...] = ("float", "16", "8")
_DEPTH_NAMES = {"8": "8-bit", "16": "16-bit", "float": "float"}
_CHANNEL_NAMES = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}


@dataclass
class ImageInfo:
    """What was read besides the pixels, to carry over to the output.

    Attributes
    ----------
    path : str
        Where the image came from (``-`` for stdin).
    format : str or None
        Pillow's format name (``PNG``, ``JPEG``, …), ``NPY`` for arrays.
    mode : str or None
        Pillow's mode of the source (``L``, ``RGB``, ``I;16``, …).
    alpha : bool
        Whether the last channel is alpha (never for ``.npy`` arrays, whose
        channels are all data).
    icc_profile, exif : bytes or None
        Metadata to write back where the output format keeps it.
    notes : list of str
        Things a person should know about how the file was read (16-bit
        colour decoded to 8 bits, only the first frame used, …).
    """

    path: str
    format: str | None = None
    mode: str | None = None
    alpha: bool = False
    icc_profile: bytes | None = field(default=None, repr=False)
    exif: bytes | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)


def format_for(path: str | os.PathLike[str], *, default: str | None = None) -> str:
    """The output format for a file name (``NPY`` for ``.npy``).

    Parameters
    ----------
    path : str or path-like
        The output file name.
    default : str, optional
        Returned when the extension is unknown, instead of raising.

    Raises
    ------
    ImageWriteError
        For an unknown extension, listing the known ones.

    Examples
    --------
    >>> format_for("out/blurred.JPG")
    'JPEG'
    >>> format_for("edges.npy")
    'NPY'
    >>> format_for("x.xyz")
    Traceback (most recent call last):
    ...
    convcli.errors.ImageWriteError: cannot tell the format of 'x.xyz' from its extension '.xyz'; use one of .png, ...
    """
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if default is not None:
        return default
    known = ", ".join(FORMATS)
    raise ImageWriteError(
        f"cannot tell the format of {str(path)!r} from its extension {suffix or '(none)'!r}; use one of {known}"
    )


def image_extensions() -> frozenset[str]:
    """Lower-case extensions (with the dot) of every file ``read_image`` can read.

    These decide which files a folder contributes to a batch.

    Examples
    --------
    >>> {".png", ".jpg", ".tif", ".npy"} <= image_extensions()
    True
    """
    from PIL import Image

    return frozenset({*(ext.lower() for ext in Image.registered_extensions()), ".npy"})


def fit_depth(fmt: str, depth: Depth, channels: int, *, strict: bool = False) -> Depth:
    """The sample type to write ``channels`` channels of ``depth`` data in ``fmt``.

    Parameters
    ----------
    fmt : str
        The output format (``PNG``, ``TIFF``, ``NPY``, …).
    depth : {"8", "16", "float"}
        The wanted depth.
    channels : int
        Channels of the output (alpha included).
    strict : bool, optional
        Refuse instead of falling back when the format cannot hold ``depth``
        (an explicit ``--depth``).  Without it, the deepest type the format
        holds is used: float -> 16-bit -> 8-bit.

    Raises
    ------
    ImageWriteError
        When the format holds that many channels at no depth, or at the wanted
        depth with ``strict``.

    Examples
    --------
    >>> fit_depth("PNG", "float", 3)
    '16'
    >>> fit_depth("TIFF", "float", 1)
    'float'
    >>> fit_depth("JPEG", "16", 1)
    '8'
    >>> fit_depth("JPEG", "16", 1, strict=True)
    Traceback (most recent call last):
    ...
    convcli.errors.ImageWriteError: JPEG cannot hold 16-bit gray data; write .png or .npy, or choose --depth 8
    """
    if fmt == "NPY":
        return depth
    holds = _HOLDS.get(fmt)
    if holds is None:
        raise ImageWriteError(f"cannot write the format {fmt!r}; use one of {', '.join(_HOLDS)} or NPY")
    what = _CHANNEL_NAMES.get(channels, f"{channels}-channel")
    if channels in holds.get(depth, frozenset()):
        return depth
    if not any(channels in held for held in holds.values()):
        fits = {f: ext for ext, f in reversed(FORMATS.items())
                if f != "NPY" and any(channels in c for c in _HOLDS[f].values())}
        hint = ", or use --channels gray" if channels == 3 else ""
        where = ", ".join(sorted(fits.values()))
        raise ImageWriteError(f"{fmt} cannot hold {what} data; write {where} or .npy{hint}")
    if strict:
        better = [ext for ext, f in FORMATS.items() if f != "NPY" and channels in _HOLDS[f].get(depth, ())]
        where = f"write {better[0]} or .npy" if better else "write .npy"
        others = [d for d in _DEPTH_ORDER if channels in holds.get(d, ())]
        instead = f", or choose --depth {others[0]}" if others else ""
        raise ImageWriteError(f"{fmt} cannot hold {_DEPTH_NAMES[depth]} {what} data; {where}{instead}")
    for candidate in (*_DEPTH_ORDER[_DEPTH_ORDER.index(depth):], *_DEPTH_ORDER):  # shallower first
        if channels in holds.get(candidate, ()):
            return candidate
    raise AssertionError("unreachable: some depth holds these channels")  # pragma: no cover


def depth_possible(fmt: str, depth: Depth) -> bool:
    """Whether ``fmt`` holds ``depth`` samples for some channel count.

    Examples
    --------
    >>> depth_possible("PNG", "float"), depth_possible("TIFF", "float")
    (False, True)
    """
    return fmt == "NPY" or bool(_HOLDS.get(fmt, {}).get(depth))


# --- reading -----------------------------------------------------------------


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


def _frame_count(image: Any) -> int:
    """Frames (GIF, APNG, WebP) or pages (TIFF) in the file; 1 when Pillow cannot tell."""
    try:
        return max(1, int(getattr(image, "n_frames", 1) or 1))
    except MemoryError:
        raise
    except Exception:  # a damaged later frame: the first may still decode, once Pillow is back on it
        image.seek(0)  # (counting left Pillow half-way into the damaged frame; if this fails, the file is damaged)
        return 1


def _frame_name(name: str, frame: int | None) -> str:
    """How messages name a frame: ``anim.gif[2]`` (ImageMagick's notation), or the file."""
    return name if frame is None else f"{name}[{frame}]"


def _source_notes(image: Any, data: bytes, name: str, frames: int, frame: int | None) -> list[str]:
    notes = []
    if frames > 1 and frame is None:
        notes.append(f"{name}: has {frames} frames; only the first is filtered (--frames all filters each)")
    deep = False
    if image.format == "PNG" and len(data) > 26 and data[12:16] == b"IHDR":
        deep = data[24] == 16 and data[25] in (2, 4, 6)
    elif image.format == "TIFF":
        with contextlib.suppress(Exception):
            bits = image.tag_v2.get(258)
            bits = bits if isinstance(bits, tuple) else (bits,)
            deep = image.mode in ("RGB", "RGBA", "LA") and max(int(b) for b in bits) > 8
    if deep:
        notes.append(
            f"{name}: 16-bit colour was decoded to 8 bits per sample (a Pillow limitation); "
            "save it as .npy or as 16-bit grayscale to keep every bit"
        )
    return notes


def _damaged(name: str, err: BaseException) -> ImageReadError:
    detail = str(err).strip() or type(err).__name__
    if isinstance(err, (TypeError, IndexError, KeyError, AttributeError, ZeroDivisionError, RuntimeError)):
        detail = f"{type(err).__name__}: {detail}"  # Pillow's own parsers tripping over the damage
    return ImageReadError(f"{name}: the image is damaged or truncated ({detail[:200]}); re-export it")


def _open(data: bytes, name: str, max_pixels: int | None) -> Any:
    """Open encoded bytes with Pillow (header only), checking the pixel limit."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _pillow_bomb_limit(None), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # anything that matters shows again when the pixels are decoded
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{name}: not an image Pillow can read (unknown or corrupt format); "
            "convert it to PNG, JPEG or TIFF, or give a .npy array"
        ) from None
    except MemoryError:
        raise
    except Exception as err:  # any other failure of Pillow's header parsers is damage in the file
        raise _damaged(name, err) from None
    width, height = image.size
    _check_pixels(name, width, height, max_pixels)
    return image


@contextlib.contextmanager
def _pillow_errors(name: str, max_pixels: int | None = None) -> Any:
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
        raise _damaged(name, err) from None


def _seek(image: Any, name: str, frame: int, frames: int, max_pixels: int | None) -> None:
    if not 0 <= frame < frames:
        have = "1 frame" if frames == 1 else f"{frames} frames (0-{frames - 1})"
        raise ImageReadError(f"{name}: has {have}; frame {frame} does not exist")
    if frame:
        image.seek(frame)
        width, height = image.size  # TIFF pages may each have their own size
        _check_pixels(_frame_name(name, frame), width, height, max_pixels)


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
        if Path(path).suffix.lower() == ".npy" and Path(path).is_file():
            return 1
        data = _read_bytes(path)
    if not data or data[:6] == b"\x93NUMPY":
        return 1
    image = _open(data, name, max_pixels)
    with image, _pillow_bomb_limit(max_pixels), _pillow_errors(name, max_pixels):
        return _frame_count(image)


def _check_pixels(name: str, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(
            f"{name}: {width}x{height} is {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (a decompression bomb guard); raise it with --max-pixels if the image is real"
        )


@contextlib.contextmanager
def _pillow_bomb_limit(max_pixels: int | None) -> Any:
    """Pillow's own bomb check at convcli's limit, for what convcli cannot see in the header.

    convcli checks the picture's size itself (with a message naming
    ``--max-pixels``); Pillow's check then catches a frame of an animation
    that declares a larger size than the picture (it raises past twice its
    limit, which :func:`_pillow_errors` reports as the limit being exceeded).
    """
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
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


def _npy_header(stream: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy stream declares, reading only its header."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return tuple(int(v) for v in shape), np.dtype(dtype)


def _load_npy(source: str | os.PathLike[str] | bytes, name: str, max_pixels: int | None) -> np.ndarray:
    """A .npy array, its declared size checked against ``max_pixels`` before the data is read."""
    try:
        if isinstance(source, bytes):
            stream: Any = io.BytesIO(source)
            shape, dtype = _npy_header(stream)
        else:
            with open(source, "rb") as handle:
                shape, dtype = _npy_header(handle)
        if len(shape) in (2, 3):
            _check_pixels(name, shape[1], shape[0], max_pixels)
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
    _check_pixels(name, int(arr.shape[1]), int(arr.shape[0]), max_pixels)
    return arr


def _range_notes(arr: np.ndarray, mode: str | None, name: str) -> list[str]:
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
            return _load_npy(path, name, max_pixels), ImageInfo(path=name, format="NPY")
        data = _read_bytes(path)
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes); it holds no image")
    if data[:6] == b"\x93NUMPY" and frame in (None, 0):
        return _load_npy(data, name, max_pixels), ImageInfo(path=name, format="NPY")
    image = _open(data, name, max_pixels)
    shown = _frame_name(name, frame)
    with (image, _pillow_bomb_limit(max_pixels), warnings.catch_warnings(record=True) as caught,
          _pillow_errors(shown, max_pixels)):
        warnings.simplefilter("always")
        frames = _frame_count(image)
        if frame is not None:
            _seek(image, name, frame, frames, max_pixels)
        orientation = _orientation(image)  # first, exactly as probe_image reads it: later reads may differ
        notes = _source_notes(image, data, name, frames, frame)
        source_mode = image.mode
        icc, exif = image.info.get("icc_profile"), image.info.get("exif")
        fmt = image.format
        declared = image.size
        image.load()
        if image.size != declared:  # only damaged files seen so far (a TIFF whose tags disagree)
            notes.append(f"{shown}: the header says {declared[0]}x{declared[1]} pixels but they decode to "
                         f"{image.size[0]}x{image.size[1]}; the file may be damaged (--dry-run shows the header's)")
        upright = image
        if orientation != 1:
            upright = image.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
        target, dtype, channels = _plan_mode(upright.mode, image.info, fmt)
        if target is not None:
            upright = upright.convert(target)
        arr = np.array(upright, dtype=dtype)
    notes.extend(f"{shown}: {w.message}" for w in caught)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or min(arr.shape) < 1:
        raise ImageReadError(f"{shown}: decodes to an empty picture (shape {arr.shape}); re-export it")
    notes.extend(_range_notes(arr, source_mode, shown))
    info = ImageInfo(
        path=name,
        format=fmt,
        mode=source_mode,
        alpha=channels in (2, 4),
        icc_profile=icc or None,
        exif=exif or None,
        notes=notes,
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
                    shape, dtype = _npy_header(handle)
            except MemoryError:
                raise
            except Exception as err:
                detail = str(err).strip() or type(err).__name__
                raise ImageReadError(f"{name}: not a readable .npy array ({detail[:200]}); "
                                     "write it with numpy.save") from None
            if len(shape) in (2, 3) and min(shape, default=0) >= 1 and dtype.kind in "biuf":
                _check_pixels(name, shape[1], shape[0], max_pixels)
                return shape, dtype, ImageInfo(path=name, format="NPY")
            arr = _load_npy(path, name, max_pixels)  # raises, naming what is wrong
            return arr.shape, arr.dtype, ImageInfo(path=name, format="NPY")  # pragma: no cover
        data = _read_bytes(path)
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes); it holds no image")
    if data[:6] == b"\x93NUMPY" and frame in (None, 0):
        arr = _load_npy(data, name, max_pixels)
        return arr.shape, arr.dtype, ImageInfo(path=name, format="NPY")
    image = _open(data, name, max_pixels)
    with image, _pillow_bomb_limit(max_pixels), _pillow_errors(_frame_name(name, frame), max_pixels):
        frames = _frame_count(image)
        if frame is not None:
            _seek(image, name, frame, frames, max_pixels)
        orientation = _orientation(image)  # first, as read_image does
        if frame:
            image.load()  # a later GIF frame learns its mode (L, P, RGB, RGBA) only when decoded
        width, height = image.size
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        _, dtype, channels = _plan_mode(image.mode, image.info, image.format)
        info = ImageInfo(path=name, format=image.format, mode=image.mode, alpha=channels in (2, 4),
                         notes=_source_notes(image, data, name, frames, frame))
    shape = (height, width) if channels == 1 else (height, width, channels)
    return shape, dtype, info


def _check_array(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim not in (2, 3) or min(arr.shape) < 1 or arr.dtype.kind not in "biuf":
        raise ImageReadError(
            f"{name}: holds an array of shape {arr.shape} and dtype {arr.dtype}; an image is a "
            "non-empty (height, width) or (height, width, channels) array of real numbers"
        )
    return arr


# --- writing -----------------------------------------------------------------


def _icc_fits(profile: bytes, channels: int) -> bool:
    """Whether an ICC profile's colour space (bytes 16-19 of its header) matches the output's channels."""
    space = profile[16:20] if len(profile) >= 20 else b""
    colour = channels in (3, 4)
    return (space == b"RGB " and colour) or (space == b"GRAY" and not colour)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _encode_png16(array: np.ndarray, *, icc_profile: bytes | None, exif: bytes | None) -> bytes:
    """A 16-bit PNG (gray, gray+alpha, RGB or RGBA), which Pillow cannot write for colour."""
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(h, w * channels * 2)
    bpp = channels * 2
    filtered = np.empty((h, raw.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 1  # filter type Sub: each byte minus the byte one pixel to the left
    filtered[:, 1 : 1 + bpp] = raw[:, :bpp]
    np.subtract(raw[:, bpp:], raw[:, :-bpp], out=filtered[:, 1 + bpp :])
    parts = [
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)),
    ]
    if icc_profile:
        parts.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        parts.append(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    parts.append(_png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6)))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _depth_of(array: np.ndarray) -> Depth:
    if array.dtype == np.uint8:
        return "8"
    if array.dtype == np.uint16:
        return "16"
    if array.dtype == np.float32:
        return "float"
    raise ImageWriteError(f"cannot write dtype {array.dtype} as an image; give uint8, uint16 or float32, or write .npy")


def encode_image(
    array: np.ndarray,
    fmt: str,
    *,
    info: ImageInfo | None = None,
    name: str = "-",
    quality: int | None = None,
) -> bytes:
    """Encode an array in a format (``PNG``, ``JPEG``, …, or ``NPY``) to bytes.

    Parameters
    ----------
    array : ndarray
        ``uint8``, ``uint16`` or ``float32`` samples that ``fmt`` holds (see
        :func:`fit_depth`); any real array for ``NPY``.
    fmt : str
        The format name, as :func:`format_for` gives it.
    info : ImageInfo, optional
        The source's ICC profile and EXIF, written where the format keeps them
        (the ICC profile only when its colour space matches the output).
    name : str, optional
        The output's name, for messages.
    quality : int, optional
        JPEG/WebP quality, 1-100 (default 95 for JPEG, Pillow's for WebP).

    Raises
    ------
    ImageWriteError
        When the format cannot hold the data, naming what to write instead.

    Examples
    --------
    >>> encode_image(np.zeros((2, 2), np.uint8), "PNG")[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    if fmt == "NPY":
        np.save(buffer, np.asarray(array), allow_pickle=False)
        return buffer.getvalue()
    channels = 1 if array.ndim == 2 else int(array.shape[2])
    depth = _depth_of(array)
    try:
        fit_depth(fmt, depth, channels, strict=True)
    except ImageWriteError as err:
        raise ImageWriteError(f"{name}: {err}") from None
    if array.ndim == 3 and channels == 1:
        array = array[:, :, 0]
    icc = info.icc_profile if info is not None and info.icc_profile and _icc_fits(info.icc_profile, channels) else None
    exif = _exif_without_orientation(info.exif) if info is not None and info.exif else None
    if fmt == "PNG" and depth == "16" and channels > 1:
        return _encode_png16(array, icc_profile=icc, exif=exif)
    from PIL import Image

    if depth == "16":
        image = Image.fromarray(np.ascontiguousarray(array, dtype="<u2"))  # I;16
    else:
        image = Image.fromarray(np.ascontiguousarray(array))  # mode from shape and dtype
    options: dict[str, Any] = {}
    if icc and fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        options["icc_profile"] = icc
    if exif and fmt in ("JPEG", "PNG", "TIFF", "WEBP"):
        options["exif"] = exif
    if fmt == "JPEG":
        options["quality"] = quality or 95
    if fmt == "WEBP" and quality:
        options["quality"] = quality
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError) as err:
        raise ImageWriteError(f"{name}: cannot encode as {fmt} ({err})") from None
    return buffer.getvalue()


def _exif_without_orientation(exif: bytes) -> bytes | None:
    """EXIF with the orientation tag reset, since the pixels were already turned upright."""
    from PIL import Image

    try:
        parsed = Image.Exif()
        parsed.load(exif)
        if 0x0112 in parsed:
            parsed[0x0112] = 1
        return bytes(parsed.tobytes())
    except Exception:  # metadata we cannot parse is dropped rather than failing the image
        return None


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def leftover_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files :func:`write_image` may have left for ``path`` if it was killed.

    A normal exit, an exception or Ctrl-C removes them; only a hard kill
    (``SIGKILL``, power loss) can leave one, which this finds for clean-up.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> leftover_temp_files(os.path.join(folder, "out.png"))
    []
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        return []
    prefix = _temp_prefix(target)
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(TEMP_SUFFIX))


def write_bytes_atomic(path: str | os.PathLike[str], payload: bytes, *, overwrite: bool = True) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder.

    Parameters
    ----------
    path : str or path-like
        The target.
    payload : bytes
        The complete file.
    overwrite : bool, optional
        Replace an existing file.  Without it, an existing target (even one
        that appeared while writing) is left alone and an error raised.

    Raises
    ------
    ImageWriteError
        Naming the path; no temporary file is left behind.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> write_bytes_atomic(target, b"abc"); Path(target).read_bytes()
    b'abc'
    >>> write_bytes_atomic(target, b"xyz", overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ImageWriteError: ...a.bin: exists already; pass --force to overwrite it or --skip-existing to keep it
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ImageWriteError(f"{target}: the folder {str(folder)!r} {what}; create it first "
                              "(-o never creates folders; --outdir does)")
    if target.is_dir():
        raise ImageWriteError(f"{target}: is a folder; give a file name")
    exists_message = f"{target}: exists already; pass --force to overwrite it or --skip-existing to keep it"
    if not overwrite and os.path.lexists(target):
        raise ImageWriteError(exists_message)
    tmp_name: str | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, delete=False
        ) as handle:
            tmp_name = handle.name
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp_name, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp_name, target)
        else:
            try:
                os.link(tmp_name, target)  # fails if the target exists: never clobbers
            except FileExistsError:
                raise ImageWriteError(exists_message) from None
            except OSError:  # no hard links on this filesystem: check, then rename
                if os.path.lexists(target):
                    raise ImageWriteError(exists_message) from None
                os.replace(tmp_name, target)
                tmp_name = None
    except OSError as err:
        raise ImageWriteError(f"{target}: cannot write ({err.strerror or err}); {_write_fix(err, folder)}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _write_fix(err: OSError, folder: Path) -> str:
    """What to do about a failed write, from its errno."""
    import errno

    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space on the disk holding {str(folder)!r}, or write elsewhere; nothing was written"
    if err.errno == errno.EFBIG:
        return "the file is larger than this disk or a size limit (ulimit -f) allows; nothing was written"
    if err.errno == errno.EROFS:
        return f"{str(folder)!r} is on a read-only filesystem; write elsewhere (-o or --outdir)"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"you may not write into {str(folder)!r}; check its permissions or write elsewhere"
    return "check the folder's permissions and free space"


_UMASK: int | None = None


def _umask() -> int:
    """The process umask (read once), so outputs get the usual permissions rather than 0600."""
    global _UMASK
    if _UMASK is None:
        current = os.umask(0)
        os.umask(current)
        _UMASK = current
    return _UMASK


def write_image(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    info: ImageInfo | None = None,
    fmt: str | None = None,
    quality: int | None = None,
    overwrite: bool = True,
) -> None:
    """Write an array atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or path-like
        The output file; its extension gives the format unless ``fmt`` is set.
    array : ndarray
        ``uint8``, ``uint16`` or ``float32`` samples the format holds (see
        :func:`fit_depth`); any real array for ``.npy``.
    info : ImageInfo, optional
        The source's metadata (ICC profile, EXIF) to carry over.
    fmt : str, optional
        Force a format.
    quality : int, optional
        JPEG/WebP quality (default 95 for JPEG).
    overwrite : bool, optional
        Replace an existing file (default); ``False`` refuses, atomically.

    Raises
    ------
    ImageWriteError
        Naming the path; no partial or temporary file is left behind.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "deep.png")
    >>> write_image(target, np.full((2, 2, 3), 40000, np.uint16))
    >>> Path(target).read_bytes()[:4]
    b'\\x89PNG'
    """
    target = Path(path)
    fmt = fmt or format_for(target)
    payload = encode_image(array, fmt, info=info, name=str(target), quality=quality)
    write_bytes_atomic(target, payload, overwrite=overwrite)
