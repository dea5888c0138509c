"""Writing an image from bands of rows, through its format's sink, atomically: :func:`write_bands`.

:func:`write_bands` finds the format's :class:`~convcli.imageio.formats.Sink`,
refuses what it cannot hold and a compression it does not take
(:mod:`.compression`) before anything is read or written, and hands the
checked bands to the sink's writer: TIFF (:mod:`.tiff_write`) and Zarr
(:mod:`.zarr_store`) stream them; the others (:mod:`.encode`) take the whole
image from them.  :func:`write_image` is one band through it, and
:func:`encode_image` the same into bytes; the path ``-`` is stdout (a TIFF
goes there through a temporary file, never assembled in memory).

The output is written under a temporary name in its folder (a folder for
Zarr), renamed over the target when complete (:mod:`.write`): a failed or
interrupted run (an exception in the bands, Ctrl-C, a full disk) leaves no
output and no temporary file, and an existing output is replaced only by a
complete one.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..depth import KEPT_INTEGERS, depth_of
from ..errors import ImageWriteError
from ._base import ImageInfo, checked_bands
from .compression import checked_compression
from .formats import Sink, find_sink, fit_depth, format_for
from .write import atomic_file, atomic_folder

__all__ = ["encode_image", "write_bands", "write_image"]

#: bytes copied at a time from a streamed sink's temporary file to stdout
_COPY_CHUNK = 1 << 20


def write_bands(
    path: str | os.PathLike[str] | IO[bytes],
    bands: Iterable[tuple[int, np.ndarray]],
    *,
    shape: tuple[int, ...],
    dtype: np.dtype | type | str,
    fmt: str,
    info: ImageInfo | None = None,
    quality: int | None = None,
    overwrite: bool = True,
    tile: int | None = None,
    compression: str | int | None = None,
) -> None:
    """Write an image given as bands of rows, top to bottom, holding one band (plus a row of tiles) at a time.

    Parameters
    ----------
    path : str, path-like or binary file
        The output file (a folder for ``ZARR``); ``-`` for stdout, or an open
        binary file (a ``BytesIO``) to write into.  Nothing is written to
        either unless the image is complete: a streaming sink (TIFF) goes to
        stdout through an anonymous temporary file in ``TMPDIR``, copied out
        in chunks (memory as for a file output); the others, and a given
        binary file, are encoded whole first.
    bands : iterable of (first_row, rows)
        Contiguous bands covering ``shape`` from row 0 down, each ``rows``
        an array of ``(n, W)`` or ``(n, W, C)`` samples of ``dtype``,
        already at the output depth.  Consumed lazily.
    shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``.
    dtype : dtype
        ``uint8``, ``uint16`` or ``float32`` (any real dtype for NPY and ZARR).
    fmt : str
        The format, one of :data:`~convcli.imageio.formats.SINKS` (any case).
    info : ImageInfo, optional
        The source's metadata to keep (resolution, ICC profile, alpha; for
        Pillow formats all of :func:`~convcli.imageio.write_image`'s).
    quality : int, optional
        JPEG/WebP quality (see :func:`~convcli.imageio.write_image`).
    overwrite : bool, optional
        Replace an existing output (only once the new one is complete);
        ``False`` refuses one.
    tile : int, optional
        TIFF: tile side, a multiple of 16 (tiled output); Zarr: chunk side
        (default 512).
    compression : {"deflate", "zstd", "lzw", "none"} or int 0-9, optional
        TIFF default ``deflate``; Zarr default ``zstd`` (``lzw`` is TIFF
        only); PNG: the zlib level, 0 (stored) to 9 (smallest), default 1
        (:mod:`convcli.imageio.compression` says why).

    Raises
    ------
    ImageWriteError
        An unknown format (listing the valid ones), one that cannot hold the
        data, a folder format to stdout, the target exists (``overwrite``
        False) or its folder is missing, the write failed, or what is asked
        needs the ``formats`` extra (naming ``pip install '.[formats]'``).
    ParameterError
        A bad ``tile`` or ``compression`` (one the format does not take).
    ValueError
        Bands that do not run top to bottom or do not fit ``shape``/``dtype``.
    Any exception the bands raise
        Propagates after the temporary output is removed.

    Examples
    --------
    >>> import tempfile, os, tifffile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.tif")
    >>> bands = ((r, np.full((100, 300), r // 100, np.uint8)) for r in range(0, 400, 100))
    >>> write_bands(target, bands, shape=(400, 300), dtype=np.uint8, fmt="TIFF", tile=128, compression="zstd")
    >>> with tifffile.TiffFile(target) as tif:
    ...     page = tif.pages[0]
    ...     page.shape, page.tilelength, page.compression.name, tif.is_bigtiff
    ((400, 300), 128, 'ZSTD', True)
    >>> target = os.path.join(tempfile.mkdtemp(), "out.png")
    >>> bands = ((r, np.full((100, 300), r // 100, np.uint8)) for r in range(0, 400, 100))
    >>> write_bands(target, bands, shape=(400, 300), dtype=np.uint8, fmt="PNG", compression=9)
    >>> buffer = io.BytesIO()  # bytes, for a worker to hand back (stdout of a batch)
    >>> write_bands(buffer, [(0, np.zeros((2, 3), np.uint8))], shape=(2, 3), dtype=np.uint8, fmt="PNG")
    >>> buffer.getvalue()[:4]
    b'\\x89PNG'
    >>> write_bands(target, [], shape=(400, 300), dtype=np.uint8, fmt="TIFF", compression=9)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: ...out.png: compression 9 does not fit a TIFF output, which takes deflate, zstd, \
lzw or none (default deflate); a zlib level 0-9 is for PNG outputs
    """
    stream = None if isinstance(path, (str, os.PathLike)) else path
    name = str(getattr(stream, "name", "-")) if stream is not None else str(path)
    sink, shape, dtype, codec = _settled(name, shape, dtype, fmt, compression)
    checked = checked_bands(bands, shape, dtype, name)
    options: dict[str, Any] = {"fmt": sink.name, "shape": shape, "dtype": dtype, "name": name, "info": info,
                               "quality": quality, "tile": tile, "compression": codec}
    if stream is None and name == "-" and sink.streams and not sink.folder:
        _spooled_to_stdout(sink, checked, options)
        return
    if stream is not None or name == "-":
        out = stream if stream is not None else sys.stdout.buffer
        out.write(_encoded(sink, checked, options))  # whole first: an error writes nothing
        out.flush()
        return
    assert isinstance(path, (str, os.PathLike))
    if sink.folder:
        with atomic_folder(path, overwrite=overwrite) as folder:
            sink.write(folder, checked, **options)
    else:
        with atomic_file(path, overwrite=overwrite) as handle:
            sink.write(handle, checked, **options)


def _settled(name: str, shape: tuple[int, ...], dtype: np.dtype | type | str, fmt: str,
             compression: str | int | None) -> tuple[Sink, tuple[int, ...], np.dtype, int | str | None]:
    """The sink, the shape, dtype and compression checked against it: everything refused before any work."""
    sink = find_sink(fmt)
    shape = tuple(int(v) for v in shape)
    dtype = np.dtype(dtype)
    if not sink.keeps_shape:
        if len(shape) == 3 and shape[2] == 1:
            shape = shape[:2]
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ValueError(f"{name}: shape must be (height, width) or (height, width, channels), all >= 1, "
                             f"got {shape}")
    if sink.holds is not None and not (sink.name == "TIFF" and dtype.newbyteorder("=") in KEPT_INTEGERS):
        depth = depth_of(dtype)
        if depth is None:
            raise ImageWriteError(f"{name}: cannot write dtype {dtype} as an image; give uint8, uint16 or float32 "
                                  "(TIFF also int8, int16, int32, uint32), or write .npy")
        try:
            fit_depth(sink.name, depth, 1 if len(shape) == 2 else shape[2], strict=True)
        except ImageWriteError as err:
            raise ImageWriteError(f"{name}: {err}") from None
    return sink, shape, dtype, checked_compression(sink.name, compression, name=name)


def _spooled_to_stdout(sink: Sink, bands: Iterable[tuple[int, np.ndarray]], options: dict[str, Any]) -> None:
    """A streaming sink to stdout: its bands into an anonymous temporary file in ``TMPDIR``, then copied out.

    The file's name is removed as soon as it is open, so it is gone after
    success, an error in the bands, Ctrl-C, even a kill; memory holds what a
    file output holds (one band and a row of tiles) plus one chunk of the
    copy.  Nothing reaches stdout before the image is complete.
    """
    fd, spooled = tempfile.mkstemp(prefix="convcli-", suffix=sink.extensions[0])
    try:
        spool = open(spooled, "w+b")  # a handle with a str name, as tifffile wants
    finally:
        os.close(fd)
        os.unlink(spooled)
    with spool:
        sink.write(spool, bands, **options)
        spool.seek(0)
        out = sys.stdout.buffer
        shutil.copyfileobj(spool, out, _COPY_CHUNK)
        out.flush()


def _encoded(sink: Sink, bands: Iterable[tuple[int, np.ndarray]], options: dict[str, Any]) -> bytes:
    """What a sink writes, as bytes (for stdout and :func:`encode_image`); a folder sink cannot."""
    if sink.folder:
        raise ImageWriteError(f"{options['name']}: a Zarr store is a folder, not a stream of bytes; write it to a "
                              "file name ending in .zarr")
    buffer = io.BytesIO()
    sink.write(buffer, bands, **options)
    return buffer.getvalue()


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
    """Write an array atomically: one band through :func:`write_bands`.

    Parameters
    ----------
    path : str or path-like
        The output file (a folder for ``.zarr``), or ``-`` for stdout (give
        ``fmt``); the extension gives the format unless ``fmt`` is set.
    array : ndarray
        ``uint8``, ``uint16`` or ``float32`` samples the format holds (see
        :func:`~convcli.imageio.fit_depth`); any real array for ``.npy`` and
        ``.zarr``.
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
        PNG: zlib level 0-9 (default 1); TIFF and Zarr: ``deflate``,
        ``zstd``, ``lzw`` (TIFF only) or ``none`` (default ``deflate`` for
        TIFF, ``zstd`` for Zarr); other formats ignore it
        (:mod:`convcli.imageio.compression`).

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
    array = np.asarray(array)
    write_bands(path, [(0, array)], shape=array.shape, dtype=array.dtype, fmt=fmt or format_for(Path(path)),
                info=info, quality=quality, overwrite=overwrite, compression=compression)


def encode_image(
    array: np.ndarray,
    fmt: str,
    *,
    info: ImageInfo | None = None,
    name: str = "-",
    quality: int | None = None,
    compression: int | str | None = None,
) -> bytes:
    """An array encoded in a format (``PNG``, ``TIFF``, ..., ``NPY``) as bytes: :func:`write_image` into memory.

    Parameters
    ----------
    array : ndarray
        Samples ``fmt`` holds (see :func:`~convcli.imageio.fit_depth`); any
        real array for ``NPY``.
    fmt : str
        The format name, as :func:`~convcli.imageio.format_for` gives it.
    info, quality, compression
        As :func:`write_image`.
    name : str, optional
        The output's name, for messages.

    Raises
    ------
    ImageWriteError
        When the format cannot hold the data (naming what to write instead), or is a folder (Zarr).
    ParameterError
        A ``compression`` the format does not take, naming what it takes.

    Examples
    --------
    >>> encode_image(np.zeros((2, 2), np.uint8), "PNG")[:4]
    b'\\x89PNG'
    >>> smooth = np.add.outer(np.arange(200), np.arange(300)).astype(np.uint8)
    >>> len(encode_image(smooth, "PNG", compression=0)) > len(encode_image(smooth, "PNG", compression=9))
    True
    """
    array = np.asarray(array)
    sink, shape, dtype, codec = _settled(name, array.shape, array.dtype, fmt, compression)
    options: dict[str, Any] = {"fmt": sink.name, "shape": shape, "dtype": dtype, "name": name, "info": info,
                               "quality": quality, "tile": None, "compression": codec}
    return _encoded(sink, checked_bands([(0, array)], shape, dtype, name), options)
