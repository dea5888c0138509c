"""Zarr stores (a ``*.zarr`` folder) as images: read chunk by chunk, written chunk row by chunk row.

A store is read when it holds a 2-D ``(height, width)`` or 3-D ``(height,
width, channels)`` array of real numbers, at its root or in a group: the array
named ``0`` (level 0 of a multiscale pyramid) or the group's only array.
Zarr format 2 and 3 stores are read; convcli writes format 3.

What convcli writes, besides the pixels (:func:`write_zarr`):

============  =================================================================
item          where
============  =================================================================
chunks        ``(T, T)`` or ``(T, T, channels)``, ``T`` = the tile (512 by default)
compression   ``zstd`` (zarr's default codec), ``deflate`` (gzip), or none
dpi           ``attributes["convcli"]["dpi"]``: ``[x, y]`` dots per inch
ICC profile   ``attributes["convcli"]["icc_profile"]``: base64 of the profile
alpha         ``attributes["convcli"]["alpha"]``: whether the last channel is alpha
============  =================================================================

Reading takes those attributes back into :class:`~convcli.imageio.ImageInfo`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError
from ._base import ImageInfo, ImageSource, check_tile, fitted_tile, row_blocks
from ._extra import need
from ._open import check_streamed_pixels
from .compression import checked_compression, default_compression

__all__ = ["DEFAULT_ZARR_CHUNK", "ZarrSource", "create_zarr", "is_zarr_store", "settle_zarr_writes", "write_zarr"]

#: the chunk side written when no tile is given
DEFAULT_ZARR_CHUNK = 512


def is_zarr_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a Zarr store (named ``*.zarr``, or with Zarr metadata inside).

    Examples
    --------
    >>> is_zarr_store("no/such/place.zarr")
    False
    """
    p = Path(path)
    if not p.is_dir():
        return False
    return p.suffix.lower() == ".zarr" or any((p / name).is_file() for name in ("zarr.json", ".zarray", ".zgroup"))


class ZarrSource(ImageSource):
    """A 2-D or 3-D array in a Zarr store, read lazily: each read decodes only the chunks it crosses.

    Parameters
    ----------
    path : str or path-like
        The store (a folder).
    max_pixels : int or None, optional
        The largest chunk (rows x columns) decoded at once; the whole image is
        limited to :data:`~convcli.imageio._open.MAX_STREAMED_PIXELS` (2**40)
        or ``max_pixels`` when larger, refused from its declared shape.  None
        for no limit.

    Raises
    ------
    ImageReadError
        Not a Zarr store, no image array in it, a chunk over ``max_pixels``,
        a declared shape over the whole-image limit,
        or zarr missing (naming the ``formats`` extra).

    Examples
    --------
    >>> import tempfile, os, zarr
    >>> path = os.path.join(tempfile.mkdtemp(), "a.zarr")
    >>> zarr.create_array(store=path, shape=(6, 4), chunks=(2, 2), dtype="uint8")[:] = np.arange(24).reshape(6, 4)
    >>> with ZarrSource(path) as source:
    ...     source.shape, source.chunks, source.read(4).tolist()
    ((6, 4), (2, 2), [[16, 17, 18, 19], [20, 21, 22, 23]])
    """

    lazy = True

    def __init__(self, path: str | os.PathLike[str], *, max_pixels: int | None = None) -> None:
        name = str(path)
        zarr = need("zarr", f"{name}: reading a Zarr store")
        self.path = name
        try:
            node = zarr.open(store=name, mode="r")
        except MemoryError:
            raise
        except Exception as err:  # not a store, damaged metadata: zarr raises many kinds
            detail = str(err).strip() or type(err).__name__
            raise ImageReadError(f"{name}: not a readable Zarr store ({detail[:200]}); give a folder written by "
                                 "zarr holding one image array") from None
        array, where = _image_array(zarr, node, name)
        shape = tuple(int(v) for v in array.shape)
        dtype = np.dtype(array.dtype)
        if len(shape) not in (2, 3) or min(shape, default=0) < 1 or dtype.kind not in "biuf":
            raise ImageReadError(f"{name}: {where}holds an array of shape {shape} and dtype {dtype}; an image is a "
                                 "non-empty (height, width) or (height, width, channels) array of real numbers")
        _check_axes(node, name, shape)
        check_streamed_pixels(name, shape, dtype.itemsize, max_pixels, what="Zarr store")
        chunks = tuple(int(v) for v in array.chunks[:2])
        if max_pixels is not None and chunks[0] * chunks[1] > max_pixels:
            raise ImageReadError(
                f"{name}: one chunk of {chunks[1]}x{chunks[0]} is {chunks[0] * chunks[1]:,} pixels, over the limit of "
                f"{max_pixels:,} (a decompression bomb guard; Zarr stores are read a chunk at a time); raise it with "
                "--max-pixels if the image is real, or rechunk the store")
        self._array = array
        self._squeeze = len(shape) == 3 and shape[2] == 1  # one channel: read as (height, width)
        self.shape = shape[:2] if self._squeeze else shape
        self.dtype = dtype.newbyteorder("=")
        self.chunks = (chunks[0], chunks[1])
        self.info = _info(name, array, self.shape)

    def _read(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0..r1-1``: a chunk missing from the store reads as the fill value, as zarr reads it (chunks
        never written are not stored); a chunk that cannot be decoded raises :class:`ImageReadError`."""
        if self._array is None:
            raise ValueError(f"{self.path}: the source is closed")
        try:
            block = np.asarray(self._array[r0:r1])
        except MemoryError:
            raise
        except Exception as err:  # a damaged chunk file (a missing one reads as the fill value, Zarr's convention)
            raise ImageReadError(f"{self.path}: cannot decode rows {r0}-{r1 - 1} ({type(err).__name__}: "
                                 f"{str(err)[:200]}); the store may be damaged") from None
        return np.ascontiguousarray(block[:, :, 0] if self._squeeze else block, dtype=self.dtype)

    def close(self) -> None:
        """Forget the array (zarr keeps no file open between reads)."""
        self._array = None


def _check_axes(node: Any, name: str, shape: tuple[int, ...]) -> None:
    """Refuse a channels-first array: OME-NGFF ``multiscales`` axes other than (y, x[, c]), or a (C, Y, X) shape.

    convcli reads (height, width[, channels]); a (channels, height, width) store read so would be a few rows
    of hundreds of channels, filtered as garbage.
    """
    try:
        scales = dict(getattr(node, "attrs", {}) or {}).get("multiscales") or []
        axes = [str(a.get("name", a) if isinstance(a, dict) else a).lower() for a in (scales[0].get("axes") or [])]
    except (AttributeError, IndexError, TypeError, KeyError):
        axes = []
    layout = ",".join(axes)
    if axes and axes not in (["y", "x"], ["y", "x", "c"]):
        raise ImageReadError(f"{name}: its axes are ({layout}) but convcli reads (y, x) or (y, x, c) arrays; "
                             "write the image as (y, x, c), e.g. numpy.moveaxis(array, 0, -1) for (c, y, x)")
    if not axes and len(shape) == 3 and shape[0] <= 4 < shape[2]:
        raise ImageReadError(f"{name}: an array of shape {shape} looks channels-first (c, y, x): convcli reads "
                             f"(y, x, c), and would see {shape[0]} rows of {shape[2]} channels; write it as (y, x, c), "
                             "e.g. numpy.moveaxis(array, 0, -1)")


def _image_array(zarr: Any, node: Any, name: str) -> tuple[Any, str]:
    """The image array of a store: the root array, or a group's ``0`` or only array."""
    if not isinstance(node, zarr.Group):
        return node, ""
    keys = sorted(node.array_keys())
    if "0" in keys:
        return node["0"], "its array '0' "
    if len(keys) == 1:
        return node[keys[0]], f"its array {keys[0]!r} "
    found = ", ".join(repr(k) for k in keys[:8]) or "none"
    raise ImageReadError(f"{name}: a Zarr group with {len(keys)} arrays ({found}); convcli reads the array '0' or a "
                         "group's only array: give the array's own folder")


def _info(name: str, array: Any, shape: tuple[int, ...]) -> ImageInfo:
    kept = dict(array.attrs).get("convcli", {})
    kept = kept if isinstance(kept, dict) else {}
    dpi = None
    try:
        x, y = (float(v) for v in kept.get("dpi") or ())
        if x > 0 and y > 0:
            dpi = (x, y)
    except (TypeError, ValueError):  # absent or not two numbers: none kept
        pass
    icc = None
    if isinstance(kept.get("icc_profile"), str):
        try:
            icc = base64.b64decode(kept["icc_profile"], validate=True) or None
        except (binascii.Error, ValueError):
            icc = None
    channels = 1 if len(shape) == 2 else shape[2]
    alpha = bool(kept.get("alpha", False)) and channels in (2, 4)
    return ImageInfo(path=name, format="ZARR", mode=f"{channels}x{np.dtype(array.dtype).name}", alpha=alpha,
                     icc_profile=icc, dpi=dpi)


def _compressors(zarr: Any, compression: str | None) -> Any:
    """zarr's codec for a compression name (None: the default, zstd); :mod:`.compression` refuses others."""
    chosen = checked_compression("ZARR", compression) or default_compression("ZARR")
    if chosen == "zstd":
        return zarr.codecs.ZstdCodec(level=3)
    if chosen == "deflate":
        return zarr.codecs.GzipCodec(level=6)
    return None


def write_zarr(folder: str | os.PathLike[str], bands: Iterable[tuple[int, np.ndarray]], *, fmt: str = "ZARR",
               shape: tuple[int, ...], dtype: np.dtype, name: str, info: ImageInfo | None = None,
               quality: int | None = None, tile: int | None = None, compression: int | str | None = None) -> None:
    """The Zarr sink: ``bands`` into a new Zarr v3 array at ``folder`` (an empty folder), a chunk row at a time.

    Rows are gathered into a buffer of one chunk row (``tile`` rows, default
    :data:`DEFAULT_ZARR_CHUNK`) and written when it is full, so one band plus
    one chunk row is held.  The caller checks the bands
    (:func:`~convcli.imageio._base.checked_bands`) and the compression
    (:mod:`.compression`), and makes the write atomic.

    Raises
    ------
    ImageWriteError
        zarr missing (naming the extra).
    ParameterError
        A bad ``tile``.

    Examples
    --------
    >>> import tempfile, zarr
    >>> folder = tempfile.mkdtemp()
    >>> write_zarr(folder, [(0, np.ones((3, 4), np.uint8))], shape=(3, 4), dtype=np.dtype(np.uint8), name="x.zarr")
    >>> zarr.open_array(folder, mode="r").chunks
    (512, 512)
    """
    side = fitted_tile(check_tile(tile), shape, multiple=1) or DEFAULT_ZARR_CHUNK
    codec = None if compression is None else str(compression)
    try:
        array = create_zarr(folder, shape=shape, dtype=dtype, name=name, info=info, tile=side, compression=codec)
        for start, block in row_blocks(bands, shape, dtype, side):
            array[start : start + block.shape[0]] = block
    except BaseException:
        settle_zarr_writes()  # before the caller removes the folder
        raise


def settle_zarr_writes(timeout: float = 120.0) -> None:
    """Wait until the writes zarr still runs in its background loop have ended (Ctrl-C, an error).

    zarr writes chunks from an event loop in a thread of its own; a
    ``KeyboardInterrupt`` in the thread that asked stops the waiting, not the
    writes.  Removing the store's folder then races with them (chunks land in
    a folder just removed), and at exit asyncio reports "Task was destroyed
    but it is pending!".  Ctrl-C and SIGTERM are held off meanwhile.

    Examples
    --------
    >>> settle_zarr_writes()  # nothing running: returns at once
    """
    import asyncio
    import concurrent.futures

    from .write import signals_deferred

    try:
        from zarr.core import sync as zarr_sync

        loop = zarr_sync.loop[0]
    except (ImportError, AttributeError, IndexError):  # another zarr: nothing known to wait for
        return
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def rest() -> None:
        me = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not me and not task.done()]
        await asyncio.gather(*pending, return_exceptions=True)

    with signals_deferred():
        future = asyncio.run_coroutine_threadsafe(rest(), loop)
        concurrent.futures.wait([future], timeout=timeout)


def create_zarr(folder: str | os.PathLike[str], *, shape: tuple[int, ...], dtype: np.dtype, name: str,
                info: ImageInfo | None = None, tile: int | None = None, compression: str | None = None) -> Any:
    """A new, empty Zarr v3 array at ``folder`` as :func:`write_zarr` makes it (chunks, codec, attributes).

    Whoever fills it writes whole chunk rows (``tile`` rows from a multiple
    of ``tile``), so that no two writers ever touch one chunk.
    """
    zarr = need("zarr", f"{name}: a Zarr output", writing=True)
    side = tile or DEFAULT_ZARR_CHUNK
    compressors = _compressors(zarr, compression)
    kept: dict[str, Any] = {}
    if info is not None and info.dpi:
        kept["dpi"] = [float(v) for v in info.dpi]
    if info is not None and info.icc_profile:
        kept["icc_profile"] = base64.b64encode(info.icc_profile).decode("ascii")
    if info is not None and len(shape) == 3 and shape[2] in (2, 4):
        kept["alpha"] = bool(info.alpha)
    chunks = (side, side, *shape[2:])
    return zarr.create_array(store=os.fspath(folder), shape=shape, chunks=chunks, dtype=dtype,
                             compressors=compressors, fill_value=0, zarr_format=3,
                             attributes={"convcli": kept} if kept else None)
