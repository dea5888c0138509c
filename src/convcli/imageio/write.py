"""Writing arrays as images: encoding (16-bit colour PNG included) and atomic writes.

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
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..depth import Depth, depth_of
from ..errors import ImageWriteError
from .formats import ImageInfo, fit_depth, format_for
from .metadata import _chunk as _png_chunk
from .metadata import png_metadata_chunks, save_options

__all__ = ["TEMP_SUFFIX", "encode_image", "leftover_temp_files", "write_bytes_atomic", "write_image"]

#: the end of every temporary file name :func:`write_image` uses
TEMP_SUFFIX = ".convcli-tmp"


def _icc_fits(profile: bytes, channels: int) -> bool:
    """Whether an ICC profile's colour space (bytes 16-19 of its header) matches the output's channels."""
    space = profile[16:20] if len(profile) >= 20 else b""
    colour = channels in (3, 4)
    return (space == b"RGB " and colour) or (space == b"GRAY" and not colour)


def _encode_png16(array: np.ndarray, *, icc_profile: bytes | None, exif: bytes | None,
                  info: ImageInfo | None = None) -> bytes:
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
    parts.extend(png_metadata_chunks(info))
    parts.append(_png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6)))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _depth_of(array: np.ndarray) -> Depth:
    depth = depth_of(array.dtype)
    if depth is not None:
        return depth
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
        (the ICC profile only when its colour space matches the output), and
        what :mod:`.metadata` keeps: resolution, PNG text, a JPEG source's
        quality and chroma subsampling.
    name : str, optional
        The output's name, for messages.
    quality : int, optional
        JPEG/WebP quality, 1-100.  Default for JPEG: the quality of a JPEG
        source (estimated from its quantisation tables), else 95; for WebP,
        Pillow's.

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
        return _encode_png16(array, icc_profile=icc, exif=exif, info=info)
    from PIL import Image

    options: dict[str, Any] = save_options(fmt, channels, info, quality)
    if depth == "16":
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
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError) as err:
        raise ImageWriteError(f"{name}: cannot encode as {fmt} ({err})") from None
    return buffer.getvalue()


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
        The source's metadata (ICC profile, EXIF, resolution, PNG text, JPEG
        quality and subsampling) to carry over.
    fmt : str, optional
        Force a format.
    quality : int, optional
        JPEG/WebP quality (default for JPEG: a JPEG source's own, else 95).
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
