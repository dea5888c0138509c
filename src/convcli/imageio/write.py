"""Writing arrays as images: encoding (16-bit colour PNG and TIFF of any depth included) and atomic writes.

Pillow encodes what it holds; 16-bit colour PNG is encoded by imagecodecs
and TIFF (every depth and channel count, one code path) by tifffile
(:mod:`.tiff_write`), when convcli's ``formats`` extra is installed; without
it TIFF goes through Pillow and 16-bit colour PNG is refused by
:func:`~convcli.imageio.fit_depth` (naming the extra).  PNG is deflated at
zlib level 1 unless another ``compression`` (0-9) is given; :mod:`.png`
says why (the fastest level whose files are no bigger than libvips').

Writing is atomic: the data goes to a temporary file ``.NAME.<random>.convcli-tmp``
(a folder of that name for a Zarr store, :func:`atomic_folder`)
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
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..depth import Depth, depth_of
from ..errors import ImageWriteError
from ._extra import available, need
from .formats import ImageInfo, fit_depth, format_for
from .metadata import save_options
from .png import encode_png16, png_level

__all__ = ["TEMP_SUFFIX", "atomic_file", "atomic_folder", "check_target", "encode_image", "leftover_temp_files",
           "leftover_temp_files_of", "remove_temp_files", "remove_temp_files_of", "write_bytes_atomic",
           "write_image"]

#: the end of every temporary file name :func:`write_image` uses
TEMP_SUFFIX = ".convcli-tmp"


def _icc_fits(profile: bytes, channels: int) -> bool:
    """Whether an ICC profile's colour space (bytes 16-19 of its header) matches the output's channels."""
    space = profile[16:20] if len(profile) >= 20 else b""
    colour = channels in (3, 4)
    return (space == b"RGB " and colour) or (space == b"GRAY" and not colour)


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
    compression: int | str | None = None,
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
    compression : int or str, optional
        PNG: the zlib level, 0 (stored) to 9 (smallest), default 1 (the
        fastest level whose files are no bigger than libvips' default ones,
        by measurement on 12-megapixel photographs; see
        :mod:`convcli.imageio.png`).  TIFF: ``deflate`` (default), ``zstd``,
        ``lzw`` or ``none``.  Other formats take none and ignore it.

    Raises
    ------
    ImageWriteError
        When the format cannot hold the data, naming what to write instead.
    ParameterError
        A ``compression`` the format does not take (a codec name for PNG, a
        level for TIFF), naming what it takes.

    Examples
    --------
    >>> encode_image(np.zeros((2, 2), np.uint8), "PNG")[:4]
    b'\\x89PNG'
    >>> smooth = np.add.outer(np.arange(200), np.arange(300)).astype(np.uint8)
    >>> len(encode_image(smooth, "PNG", compression=0)) > len(encode_image(smooth, "PNG", compression=9))
    True
    """
    buffer = io.BytesIO()
    if fmt == "ZARR":
        raise ImageWriteError(f"{name}: a Zarr store is a folder, not a stream of bytes; write it to a file name "
                              "ending in .zarr")
    level = png_level(compression, name=name) if fmt == "PNG" else None  # refused before any work
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
    if level is not None and depth == "16" and channels > 1:
        return encode_png16(array, name=name, icc_profile=icc, exif=exif, info=info, level=level)
    if fmt == "TIFF" and (available("tifffile") or compression is not None):  # every sample type, one code path
        from .tiff_write import check_compression, write_tiff

        codec = check_compression(compression)
        need("tifffile", f"{name}: a compressed TIFF", writing=True)
        write_tiff(buffer, [(0, array)], shape=array.shape, dtype=array.dtype, name=name, info=info,
                   compression=codec)
        return buffer.getvalue()
    from PIL import Image

    options: dict[str, Any] = save_options(fmt, channels, info, quality)
    if level is not None:
        options["compress_level"] = level  # Pillow's adaptive row filters, then zlib at this level
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
    """Temporary files (and Zarr folders) the writers may have left for ``path`` if killed.

    A normal exit, an exception or Ctrl-C removes them; only a hard kill
    (``SIGKILL``, power loss) can leave one, which this finds for clean-up
    (:func:`remove_temp_files` removes them, folders too).

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


def remove_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Remove what :func:`leftover_temp_files` finds for ``path`` (files and folders); returns what it removed.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(folder, ".out.zarr.x1.convcli-tmp"))
    >>> [p.name for p in remove_temp_files(os.path.join(folder, "out.zarr"))], os.listdir(folder)
    (['.out.zarr.x1.convcli-tmp'], [])
    """
    found = leftover_temp_files(path)
    for leftover in found:
        _remove(leftover)
    return found


def leftover_temp_files_of(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """:func:`leftover_temp_files` for many outputs at once: each folder is listed once.

    For a batch's clean-up after a worker was killed: a million outputs in
    one folder cost one listing, not a million.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> stray = os.path.join(folder, ".b.png.k2j4_x9q" + TEMP_SUFFIX)
    >>> open(stray, "wb").close()
    >>> [p.name for p in leftover_temp_files_of([os.path.join(folder, n) for n in ("a.png", "b.png")])]
    ['.b.png.k2j4_x9q.convcli-tmp']
    """
    by_folder: dict[Path, set[str]] = {}
    for path in paths:
        target = Path(path)
        by_folder.setdefault(target.parent, set()).add(target.name)
    found: list[Path] = []
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:  # .NAME.<random, no dot>.convcli-tmp (tempfile's names)
            name = entry.name
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                if name[1:-len(TEMP_SUFFIX)].rpartition(".")[0] in names:
                    found.append(folder / name)
    return sorted(found)


def remove_temp_files_of(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Remove what :func:`leftover_temp_files_of` finds (files, and the folders of Zarr outputs).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(folder, ".a.zarr.q1" + TEMP_SUFFIX))
    >>> [p.name for p in remove_temp_files_of([os.path.join(folder, "a.zarr")])], os.listdir(folder)
    (['.a.zarr.q1.convcli-tmp'], [])
    """
    found = leftover_temp_files_of(paths)
    for leftover in found:
        with contextlib.suppress(OSError):
            _remove(leftover)
    return found


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
    with atomic_file(path, overwrite=overwrite) as handle:
        handle.write(payload)


def _exists_message(target: Path) -> str:
    return f"{target}: exists already; pass --force to overwrite it or --skip-existing to keep it"


def _is_store(path: Path) -> bool:
    """Whether a folder is a Zarr *array* store (what convcli writes, so may replace with --force).

    Not a folder of other things, and not a Zarr group, which may hold more than one image (an OME-Zarr
    pyramid, labels): replacing it would lose them.
    """
    if (path / ".zarray").is_file():
        return True
    meta = path / "zarr.json"
    try:
        import json

        return bool(meta.is_file() and json.loads(meta.read_text()).get("node_type") == "array")
    except (OSError, ValueError, AttributeError):
        return False


def check_target(path: str | os.PathLike[str], *, overwrite: bool = True, folder_ok: bool = False) -> Path:
    """The target's folder, after refusing what cannot be written: no folder, a folder as target, an existing file.

    Parameters
    ----------
    path : str or path-like
        The output.
    overwrite : bool, optional
        Without it, an existing target is refused.
    folder_ok : bool, optional
        The output is a folder (a Zarr store): an existing folder may be replaced.

    Raises
    ------
    ImageWriteError
        Naming the path and the fix.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ImageWriteError(f"{target}: the folder {str(folder)!r} {what}; create it first "
                              "(-o never creates folders; --outdir does)")
    if target.is_dir() and not folder_ok:
        raise ImageWriteError(f"{target}: is a folder; give a file name")
    if target.is_dir() and not _is_store(target):  # never replace a folder of other things
        raise ImageWriteError(f"{target}: is a folder but not a Zarr array store (convcli writes one array; a Zarr "
                              "group may hold more, such as a pyramid or labels); choose another output name")
    if not overwrite and os.path.lexists(target):
        raise ImageWriteError(_exists_message(target))
    return folder


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[IO[bytes]]:
    """A temporary file in the target's folder, renamed over the target when the block completes.

    Whatever leaves the block early (an error, Ctrl-C) removes the temporary
    file; with ``overwrite=False`` an existing target (even one that appeared
    meanwhile) is refused and kept.

    Raises
    ------
    ImageWriteError
        For the target (see :func:`check_target`) and for a failed write,
        naming the path, the reason and the fix.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> with atomic_file(target) as handle:
    ...     _ = handle.write(b"abc")
    >>> Path(target).read_bytes(), leftover_temp_files(target)
    (b'abc', [])
    """
    target = Path(path)
    folder = check_target(target, overwrite=overwrite)
    tmp_name: str | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, delete=False
        ) as handle:
            tmp_name = handle.name
            yield handle
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
                raise ImageWriteError(_exists_message(target)) from None
            except OSError:  # no hard links on this filesystem: check, then rename
                if os.path.lexists(target):
                    raise ImageWriteError(_exists_message(target)) from None
                os.replace(tmp_name, target)
    except OSError as err:
        raise ImageWriteError(f"{target}: cannot write ({err.strerror or err}); {_write_fix(err, folder)}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)  # gone already when it was renamed


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary folder beside the target (a Zarr store), renamed to the target when the block completes.

    As :func:`atomic_file`: an error or Ctrl-C removes the temporary folder;
    ``overwrite=False`` refuses an existing target.  With ``overwrite=True``
    an existing target (folder or file) is replaced only once the new folder
    is complete: it is renamed aside, the new one renamed in, then the old
    one removed.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> with atomic_folder(target) as folder:
    ...     _ = (folder / "zarr.json").write_text("{}")
    >>> sorted(os.listdir(target)), leftover_temp_files(target)
    (['zarr.json'], [])
    """
    target = Path(path)
    folder = check_target(target, overwrite=overwrite, folder_ok=True)
    tmp: str | None = None
    try:
        tmp = tempfile.mkdtemp(dir=folder, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX)
        yield Path(tmp)
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o777 & ~_umask())
        if not os.path.lexists(target):
            os.rename(tmp, target)
        elif not overwrite:
            raise ImageWriteError(_exists_message(target))
        else:
            import secrets  # here: it loads OpenSSL, 5 ms of every start-up

            old = folder / f"{_temp_prefix(target)}{secrets.token_hex(4)}.old{TEMP_SUFFIX}"
            os.rename(target, old)
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old, target)
                raise
            _remove(old)
        tmp = None
    except OSError as err:
        raise ImageWriteError(f"{target}: cannot write ({err.strerror or err}); {_write_fix(err, folder)}") from None
    finally:
        if tmp is not None:
            _remove(Path(tmp))


def _remove(path: Path) -> None:
    """Remove a file or a folder tree, ignoring what is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


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
    compression: int | str | None = None,
) -> None:
    """Write an array atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or path-like
        The output file (a folder for ``.zarr``); its extension gives the
        format unless ``fmt`` is set.
    array : ndarray
        ``uint8``, ``uint16`` or ``float32`` samples the format holds (see
        :func:`fit_depth`); any real array for ``.npy`` and ``.zarr``.
    info : ImageInfo, optional
        The source's metadata (ICC profile, EXIF, resolution, PNG text, JPEG
        quality and subsampling) to carry over.
    fmt : str, optional
        Force a format.
    quality : int, optional
        JPEG/WebP quality (default for JPEG: a JPEG source's own, else 95).
    overwrite : bool, optional
        Replace an existing file (default); ``False`` refuses, atomically.
    compression : int or str, optional
        PNG: zlib level 0-9 (default 1, chosen by measurement: see
        :mod:`convcli.imageio.png`); TIFF and Zarr: ``deflate``, ``zstd``,
        ``lzw`` (TIFF only) or ``none`` (default ``deflate`` for TIFF,
        ``zstd`` for Zarr); other formats ignore it.

    Raises
    ------
    ImageWriteError
        Naming the path; no partial or temporary file is left behind.
    ParameterError
        A ``compression`` the format does not take, before anything is written.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "deep.png")
    >>> write_image(target, np.full((2, 2, 3), 40000, np.uint16))
    >>> Path(target).read_bytes()[:4]
    b'\\x89PNG'
    >>> write_image(target, np.zeros((300, 400), np.uint8), compression=9)  # smallest, slowest
    >>> write_image(target, np.zeros((3, 4), np.uint8), compression="zstd")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: ...deep.png: compression 'zstd' does not fit a PNG output, which takes a zlib \
level 0-9 (default 1); deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only
    """
    target = Path(path)
    fmt = fmt or format_for(target)
    if fmt == "ZARR":  # a folder, written chunk row by chunk row
        from .sink import write_bands

        array = np.asarray(array)
        write_bands(target, [(0, array)], shape=array.shape, dtype=array.dtype, fmt=fmt, info=info,
                    overwrite=overwrite, compression=compression)
        return
    if fmt == "NPY":  # straight into the file: no in-memory copy of the whole array
        with atomic_file(target, overwrite=overwrite) as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
        return
    payload = encode_image(array, fmt, info=info, name=str(target), quality=quality, compression=compression)
    write_bytes_atomic(target, payload, overwrite=overwrite)
