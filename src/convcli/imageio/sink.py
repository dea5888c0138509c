"""Writing an image from bands of rows, in order, atomically: :func:`write_bands`.

==========  ================================================================================
format      how
==========  ================================================================================
TIFF        streamed through tifffile (:mod:`.tiff_write`): strips, or tiles when ``tile``
            is given or the image has more than 2**25 pixels; BigTIFF when tiled or over
            2 GiB; ``deflate`` by default; resolution and ICC profile kept.  Without
            tifffile, Pillow writes it whole (uncompressed, striped) as before, and
            ``tile`` or ``compression`` is refused naming the ``formats`` extra
ZARR        a Zarr v3 array (:mod:`.zarr_store`) in a ``.zarr`` folder, chunks of ``tile``
            (512) rows and columns, written a chunk row at a time; ``zstd`` by default
PNG         assembled in memory, then :func:`~convcli.imageio.write_image`; ``compression``
            is the zlib level 0-9, default 1 (:mod:`.png` gives the measurements it was
            chosen by); ``tile`` does not apply and is ignored
others      assembled in memory, then :func:`~convcli.imageio.write_image` (Pillow, NPY);
            ``tile`` and ``compression`` do not apply and are ignored
==========  ================================================================================

A ``compression`` of the wrong kind for the format (a codec name for PNG, a
level for TIFF or Zarr) is refused before anything is read or written.

The output is written under a temporary name in its folder (a folder for
Zarr), renamed over the target when complete: a failed or interrupted run
(an exception in the bands, Ctrl-C, a full disk) leaves no output and no
temporary file, and an existing output is replaced only by a complete one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ImageWriteError
from ._base import checked_bands
from ._extra import available, need
from .formats import ImageInfo, fit_depth
from .png import check_compression_fits
from .tiff_write import COMPRESSIONS, DEFAULT_TILE, check_compression, check_tile, write_tiff
from .write import _depth_of, atomic_file, atomic_folder, check_target, write_image
from .zarr_store import write_zarr

__all__ = ["COMPRESSIONS", "DEFAULT_TILE", "write_bands"]


def write_bands(
    path: str | os.PathLike[str],
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
    path : str or path-like
        The output file (a folder for ``ZARR``).
    bands : iterable of (first_row, rows)
        Contiguous bands covering ``shape`` from row 0 down, each ``rows``
        an array of ``(n, W)`` or ``(n, W, C)`` samples of ``dtype``,
        already at the output depth.  Consumed lazily.
    shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``.
    dtype : dtype
        ``uint8``, ``uint16`` or ``float32`` (any real dtype for NPY and ZARR).
    fmt : str
        ``TIFF``, ``ZARR``, or any format :func:`~convcli.imageio.write_image` writes.
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
        only); PNG: the zlib level, 0 (stored) to 9 (smallest), default 1,
        the fastest level whose files are no bigger than libvips' default
        ones on 12-megapixel photographs (see :mod:`convcli.imageio.png`).

    Raises
    ------
    ImageWriteError
        The format cannot hold the data, the target exists (``overwrite``
        False) or its folder is missing, the write failed, or what is asked
        needs the ``formats`` extra (naming ``pip install 'convcli[formats]'``).
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
    >>> write_bands(target, [], shape=(400, 300), dtype=np.uint8, fmt="TIFF", compression=9)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: compression 9 does not fit a TIFF output, which takes deflate, zstd, lzw or \
none (default deflate); a zlib level 0-9 is for PNG outputs
    """
    target = Path(path)
    name = str(target)
    shape = tuple(int(v) for v in shape)
    dtype = np.dtype(dtype)
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"{name}: shape must be (height, width) or (height, width, channels), all >= 1, got {shape}")
    fmt = fmt.upper()
    channels = 1 if len(shape) == 2 else shape[2]
    if fmt not in ("NPY", "ZARR"):
        try:
            fit_depth(fmt, _depth_of(np.empty(0, dtype)), channels, strict=True)
        except ImageWriteError as err:
            raise ImageWriteError(f"{name}: {err}") from None
    check_compression_fits(fmt, compression)
    checked = checked_bands(bands, shape, dtype, name)
    if fmt == "ZARR":
        side = _fit(check_tile(tile, tiff=False), shape, multiple=1)
        need("zarr", f"{name}: a Zarr output", writing=True)
        with atomic_folder(target, overwrite=overwrite) as folder:
            write_zarr(folder, checked, shape=shape, dtype=dtype, name=name, info=info, tile=side,
                       compression=None if compression is None else str(compression))
        return
    if fmt == "TIFF" and (available("tifffile") or tile is not None or compression is not None):
        side = _fit(check_tile(tile, tiff=True), shape, multiple=16)
        codec = check_compression(compression)
        what = "a tiled TIFF" if tile is not None else "a compressed TIFF" if compression else "TIFF"
        need("tifffile", f"{name}: {what}", writing=True)
        with atomic_file(target, overwrite=overwrite) as handle:
            write_tiff(handle, checked, shape=shape, dtype=dtype, name=name, info=info, tile=side,
                       compression=codec)
        return
    check_target(target, overwrite=overwrite)  # before computing anything
    array = np.empty(shape, dtype)
    for first, rows in checked:
        array[first : first + rows.shape[0]] = rows
    write_image(target, array, info=info, fmt=fmt, quality=quality, overwrite=overwrite,
                compression=compression if fmt == "PNG" else None)


def _fit(tile: int | None, shape: tuple[int, ...], *, multiple: int) -> int | None:
    """A tile side no larger than the image needs (rounded up to ``multiple``): a tile is allocated whole.

    Examples
    --------
    >>> _fit(32768, (512, 300), multiple=16), _fit(256, (512, 300), multiple=16), _fit(None, (5, 5), multiple=1)
    (512, 256, None)
    """
    if tile is None:
        return None
    need = max(int(shape[0]), int(shape[1]))
    return min(tile, -(-need // multiple) * multiple)
