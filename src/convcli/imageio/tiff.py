"""Reading TIFF through tifffile: any sample type, striped or tiled, BigTIFF, decoding only the tiles asked for.

:class:`TiffSource` keeps the file open and decodes, for each
:meth:`~convcli.imageio.ImageSource.read` of rows, only the strips or tiles
those rows cross (tifffile's own decoders; several at once in threads for
compressed files).  What it reads as tifffile stores it:

===========================================  ===================================================
TIFF                                         array
===========================================  ===================================================
gray (MinIsBlack), 8/16/32/64-bit,           ``H x W``, or ``H x W x C`` with extra samples;
unsigned, signed or float                    float16 is widened to ``float32``
RGB, with or without extra samples           ``H x W x 3`` (``x 4`` or more with extra samples)
JPEG-compressed YCbCr                        ``H x W x 3`` RGB (tifffile's JPEG decoder converts)
contiguous or separate planes                the same array
===========================================  ===================================================

Alpha is the last channel when the ExtraSamples tag says so, or an RGB image
has 4 samples or a gray one 2 (as Pillow reads them).  Associated
(premultiplied) alpha is kept as stored, with a note.  Other photometric
interpretations (palette, CMYK, CIELab, MinIsWhite, bilevel, subsampled
YCbCr without JPEG) are left to Pillow, which converts them to RGB or gray
as before (:func:`open_tiff` returns None for them).

The resolution (XResolution, YResolution, ResolutionUnit) becomes
:attr:`ImageInfo.dpi` as Pillow reads it, and the ICC profile (tag 34675)
:attr:`ImageInfo.icc_profile`.  The orientation (tag 274) is
:attr:`TiffSource.orientation`; :func:`~convcli.imageio.open_image` turns
such images upright in memory.
"""

from __future__ import annotations

import io
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import ImageReadError
from ._base import ImageInfo, ImageSource
from ._extra import need
from ._open import damaged
from .tiff_checks import judged, page_problems, sample_count_problem, tifffile_log

__all__ = ["TiffSource", "is_tiff", "open_tiff", "tiff_frames", "turn_upright"]

#: the first bytes of a TIFF: classic and BigTIFF, little- and big-endian
_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_JPEG = frozenset({6, 7, 33007, 34892})  # old JPEG, JPEG, ALT_JPEG, lossy DNG JPEG
_CHANNEL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def is_tiff(prefix: bytes) -> bool:
    """Whether ``prefix`` (a file's first bytes) starts a TIFF or BigTIFF.

    Examples
    --------
    >>> is_tiff(b"II*\\x00...."), is_tiff(b"MM\\x00+...."), is_tiff(b"\\x89PNG")
    (True, True, False)
    """
    return bytes(prefix[:4]) in _MAGIC


def turn_upright(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` as shown for an EXIF/TIFF orientation (1-8), as Pillow's ``ImageOps.exif_transpose``.

    Examples
    --------
    >>> a = np.arange(6).reshape(2, 3)
    >>> turn_upright(a, 6).tolist()  # stored turned a quarter anticlockwise: turn it clockwise
    [[3, 0], [4, 1], [5, 2]]
    >>> turn_upright(a, 1) is a
    True
    """
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    turn = turns.get(int(orientation))
    return array if turn is None else np.ascontiguousarray(turn(array))


def tiff_frames(source: str | os.PathLike[str] | bytes, name: str) -> int:
    """Pages in a TIFF (its IFD chain), read with tifffile from the headers only.

    Raises
    ------
    ImageReadError
        When the file is not a readable TIFF.
    """
    tifffile = need("tifffile", f"{name}: reading TIFF with tifffile")
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with tifffile_log() as said, tifffile.TiffFile(opened) as tif:
            frames = max(1, len(tif.pages))
    except MemoryError:
        raise
    except Exception as err:  # tifffile's parsers fail in many ways on damaged files
        raise damaged(name, err) from None
    fatal, _ = judged(said)
    if fatal is not None:
        raise damaged(name, ValueError(fatal))
    return frames


def open_tiff(source: str | os.PathLike[str] | bytes, name: str, *, frame: int | None = None,
              max_pixels: int | None = None, whole: bool = False) -> TiffSource | None:
    """A :class:`TiffSource` for one page of a TIFF, or None when Pillow should read it.

    Parameters
    ----------
    source : path or bytes
        The file, or its bytes (stdin).
    name : str
        Its name in messages.
    frame : int, optional
        The page, from 0 (default the first, with a note when there are more).
    max_pixels : int or None, optional
        The largest tile or strip decoded at once (``whole``: the largest image).
    whole : bool, optional
        The caller decodes the whole image: ``max_pixels`` limits the image.

    Returns
    -------
    TiffSource or None
        None for photometric interpretations Pillow converts (palette, CMYK, …).

    Raises
    ------
    ImageReadError
        Damaged, no such page, a volumetric image, over ``max_pixels``.
    """
    tifffile = need("tifffile", f"{name}: reading TIFF with tifffile")
    with tifffile_log() as said:
        try:
            tif = tifffile.TiffFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        except MemoryError:
            raise
        except Exception as err:
            raise damaged(name, err) from None
        try:
            source_obj = TiffSource._open(tif, name, frame=frame, max_pixels=max_pixels, whole=whole)
        except BaseException:
            tif.close()
            raise
    try:
        samples = source_obj._stored[2] if source_obj is not None else None
        fatal, harmless = judged(said, samples=samples)
        if fatal is not None:  # tifffile tolerated a problem the pixels depend on
            raise damaged(name, ValueError(f"tifffile: {fatal}"))
    except BaseException:
        tif.close()
        raise
    if source_obj is None:
        tif.close()
    else:
        source_obj.info.notes.extend(f"{name}: tifffile: {message}; the pixels do not depend on it"
                                     for message in harmless)
    return source_obj


class TiffSource(ImageSource):
    """One page of a TIFF, read lazily through tifffile: only the strips or tiles a read crosses are decoded.

    Opened by :func:`~convcli.imageio.open_image` (or :func:`open_tiff`);
    close it (or use ``with``) to release the file.

    Attributes
    ----------
    orientation : int
        The TIFF orientation tag (1 when absent): the pixels are as stored.
    tiled : bool
        Whether the page is tiled (else striped).
    bigtiff : bool
        Whether the file is a BigTIFF.
    compression : int
        The TIFF compression code (1 none, 5 LZW, 8 deflate, 50000 zstd, …).

    Examples
    --------
    >>> import tempfile, os, tifffile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.tif")
    >>> tifffile.imwrite(path, np.arange(64 * 48, dtype=np.uint16).reshape(64, 48), tile=(16, 16))
    >>> with open_tiff(path, path) as source:
    ...     source.shape, source.chunks, source.read(20, 22)[:, :3].tolist()
    ((64, 48), (16, 16), [[960, 961, 962], [1008, 1009, 1010]])
    """

    lazy = True
    orientation: int
    tiled: bool
    bigtiff: bool
    compression: int
    _page: Any
    _shown: str
    _stored: tuple[int, int, int]
    _workers: int

    def __init__(self) -> None:  # built by _open
        self._tif: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._kept: dict[int, Any] = {}

    @classmethod
    def _open(cls, tif: Any, name: str, *, frame: int | None, max_pixels: int | None,
              whole: bool) -> TiffSource | None:
        from ._open import check_pixels, check_streamed_pixels, frame_name

        try:
            frames = max(1, len(tif.pages))
            index = 0 if frame is None else frame
            if not 0 <= index < frames:
                have = "1 frame" if frames == 1 else f"{frames} frames (0-{frames - 1})"
                raise ImageReadError(f"{name}: has {have}; frame {index} does not exist")
            page = tif.pages[index]
            if not hasattr(page, "dataoffsets") or not hasattr(page, "imagedepth"):
                page = page.aspage()
            shown = frame_name(name, frame)
            if int(page.imagedepth) > 1:
                raise ImageReadError(f"{shown}: a volumetric TIFF ({page.imagedepth} slices in one page); convcli "
                                     "filters 2-D images: save each slice as a page of its own")
            layout = _layout(page, shown)
            if layout is None:
                return None
            channels, dtype, alpha, notes = layout
            height, width = int(page.imagelength), int(page.imagewidth)
            if height < 1 or width < 1:
                raise ImageReadError(f"{shown}: the page is empty ({width}x{height} pixels); re-export it")
            if page.is_tiled:
                chunks = (int(page.tilelength), int(page.tilewidth))
            else:
                chunks = (max(1, min(int(page.rowsperstrip or height), height)), width)
            if whole:
                check_pixels(shown, width, height, max_pixels)
            else:
                check_streamed_pixels(shown, (height, width, channels), np.dtype(dtype).itemsize, max_pixels,
                                      what="tiled or striped TIFF")
            if not whole and max_pixels is not None and chunks[0] * chunks[1] > max_pixels:
                what = "tile" if page.is_tiled else "strip"
                raise ImageReadError(
                    f"{shown}: one {what} of {chunks[1]}x{chunks[0]} is {chunks[0] * chunks[1]:,} pixels, over the "
                    f"limit of {max_pixels:,} (a decompression bomb guard; tiled and striped TIFFs are read a "
                    f"{what} at a time); raise it with --max-pixels if the image is real, or re-save it with "
                    f"smaller tiles: vips tiffsave IN OUT.tif --tile --bigtiff")
            wrong, warned = page_problems(page, _file_size(tif))
            if wrong is not None:
                raise ImageReadError(f"{shown}: the image is damaged or truncated: {wrong}; re-export it")
            notes.extend(f"{shown}: {note}" for note in warned)
            problem = sample_count_problem(page)
            if problem is not None:  # tolerated when the data agrees: decode one strip or tile to see
                _decode_one(page, shown, problem)
            expected = math.prod(int(v) for v in page.chunked)
            if len(page.dataoffsets) < expected or len(page.databytecounts) < expected:
                raise ImageReadError(f"{shown}: the image is damaged or truncated (it lists "
                                     f"{len(page.dataoffsets)} of {expected} strips or tiles); re-export it")
            if frames > 1 and frame is None:
                notes.insert(0, f"{name}: has {frames} frames; only the first is filtered (--frames all filters "
                                "each)")
            opened = cls()
            opened._tif, opened._page, opened.path, opened._shown = tif, page, name, shown
            opened.shape = (height, width) if channels == 1 else (height, width, channels)
            opened._stored = (height, width, channels)
            opened.dtype = dtype
            opened.chunks = chunks
            opened.tiled = bool(page.is_tiled)
            opened.bigtiff = bool(tif.is_bigtiff)
            opened.compression = int(page.compression)
            orientation = page.tags.get(274)
            value = int(orientation.value) if orientation is not None else 1
            opened.orientation = value if value in range(1, 9) else 1
            opened._workers = 1 if opened.compression == 1 else min(4, os.cpu_count() or 1)
            opened.info = ImageInfo(path=name, format="TIFF", mode=_mode_name(channels, dtype), alpha=alpha,
                                    icc_profile=_icc(page), dpi=_dpi(page), notes=notes, xmp=_icc(page, 700))
            return opened
        except (ImageReadError, MemoryError):
            raise
        except Exception as err:
            raise damaged(name, err) from None

    def _read(self, r0: int, r1: int) -> np.ndarray:
        if self._tif is None:
            raise ValueError(f"{self.path}: the source is closed")
        _, width, channels = self._stored
        out = np.zeros((r1 - r0, width, channels), self.dtype)  # sparse (empty) tiles read as 0
        if r1 > r0:
            try:
                with tifffile_log() as said:
                    self._decode_into(out, r0, r1)
            except (ImageReadError, MemoryError):
                raise
            except Exception as err:  # a damaged strip or tile, or a codec failing on it
                raise ImageReadError(f"{self._shown}: cannot decode rows {r0}-{r1 - 1} "
                                     f"({type(err).__name__}: {str(err)[:200]}); the file may be damaged") from None
            if said:  # tifffile tolerated something while decoding: the pixels cannot be trusted
                raise ImageReadError(f"{self._shown}: cannot decode rows {r0}-{r1 - 1} (tifffile: {said[0][:200]}); "
                                     "the file may be damaged")
        return out[:, :, 0] if len(self.shape) == 2 else out

    def _grid(self) -> tuple[int, int, int]:
        """Strips or tiles per plane down and across, and rows per strip or tile."""
        height, width, _ = self._stored
        rows = self.chunks[0] if self.chunks else height
        across = math.ceil(width / int(self._page.tilewidth)) if self.tiled else 1
        return math.ceil(height / rows), across, rows

    def _segments(self, r0: int, r1: int) -> list[int]:
        """Indices (in the offsets tag) of the strips or tiles that rows ``r0..r1-1`` cross."""
        channels = self._stored[2]
        planes = channels if int(self._page.planarconfig) == 2 and channels > 1 else 1
        down, across, rows = self._grid()
        first, last = r0 // rows, (r1 - 1) // rows
        return [p * down * across + r * across + c
                for p in range(planes) for r in range(first, last + 1) for c in range(across)]

    def _decode_into(self, out: np.ndarray, r0: int, r1: int) -> None:
        """Decode the strips or tiles rows ``r0..r1-1`` cross into ``out``.

        The last row of tiles decoded is kept, so that the next band of rows,
        which usually starts inside it (strips plus a kernel's halo), does
        not decode it again: one row of tiles is held between reads.
        """
        page = self._page
        height, width, _ = self._stored
        down, across, rows = self._grid()
        indices = self._segments(r0, r1)
        missing = [i for i in indices if i not in self._kept]
        offsets, counts = page.dataoffsets, page.databytecounts
        handle = page.parent.filehandle
        decode = page.keyframe.decode
        options: dict[str, Any] = {}
        if self.compression in _JPEG:
            options = {"jpegtables": page.jpegtables, "jpegheader": page.keyframe.jpegheader}

        def decoded(item: tuple[bytes | None, int]) -> tuple[int, Any]:
            data, index = item
            segment, (plane, _, y, x, _), _ = decode(data, index, **options)
            if segment is not None:
                segment = np.asarray(segment)
                segment = segment.reshape(segment.shape[-3:]) if segment.ndim > 3 else segment
            return index, (segment, plane, y, x)

        found = {i: self._kept[i] for i in indices if i in self._kept}
        if missing:
            for batch in handle.read_segments([offsets[i] for i in missing], [counts[i] for i in missing],
                                              missing, sort=True, lock=handle.lock, flat=False):
                if self._workers > 1 and len(batch) > 1:
                    if self._executor is None:
                        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="convcli-tiff")
                    found.update(self._executor.map(decoded, batch))
                else:
                    found.update(decoded(item) for item in batch)
        for segment, plane, y, x in found.values():
            if segment is None:  # an empty (sparse) tile: zeros
                continue
            top, bottom = max(y, r0), min(y + segment.shape[0], r1, height)
            right = min(x + segment.shape[1], width)
            if top < bottom and x < right:
                out[top - r0 : bottom - r0, x:right, plane : plane + segment.shape[2]] = (
                    segment[top - y : bottom - y, : right - x])
        last = (r1 - 1) // rows
        self._kept = {i: found[i] for i in indices if (i // across) % down == last}

    def close(self) -> None:
        """Close the file and the decoding threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._tif is not None:
            self._tif.close()
            self._tif = None
        self._kept = {}


def _decode_one(page: Any, shown: str, problem: str) -> None:
    """Decode the first stored strip or tile of a page whose samples per pixel are suspect; damaged if it fails.

    Done when the page is opened, before anything is allocated for the whole
    image, so that such a file is called damaged with or without a memory
    limit (its decoded tile alone may not fit).
    """
    counts, offsets = page.databytecounts, page.dataoffsets
    index = next((i for i, count in enumerate(counts) if count > 0), None)
    if index is None:
        return
    options: dict[str, Any] = {}
    if int(page.compression) in _JPEG:
        options = {"jpegtables": page.jpegtables, "jpegheader": page.keyframe.jpegheader}
    handle = page.parent.filehandle
    try:
        with handle.lock:
            handle.seek(int(offsets[index]))
            data = handle.read(int(counts[index]))
        segment = page.keyframe.decode(data, index, **options)[0]
        if segment is None:
            raise ValueError("nothing decoded")
    except (MemoryError, Exception) as err:  # the data does not hold what the tags declare
        detail = f"{type(err).__name__}: {str(err)[:160]}" if str(err) else type(err).__name__
        raise ImageReadError(f"{shown}: the image is damaged or truncated: {problem}, and its first "
                             f"{'tile' if page.is_tiled else 'strip'} does not decode so ({detail}); "
                             "re-export it") from None


def _file_size(tif: Any) -> int | None:
    """The size in bytes of the file tifffile reads (None when unknown)."""
    try:
        return int(tif.filehandle.size)
    except (AttributeError, TypeError, ValueError):
        return None


def _layout(page: Any, name: str) -> tuple[int, np.dtype, bool, list[str]] | None:
    """Channels, dtype, alpha and notes of a page tifffile reads plainly; None to leave it to Pillow."""
    photometric = int(page.photometric) if page.photometric is not None else 1
    compression = int(page.compression)
    samples = int(page.samplesperpixel)
    if photometric == 6 and compression in _JPEG and samples == 3:
        pass  # YCbCr in JPEG: tifffile's decoder gives RGB
    elif photometric not in (1, 2) or page.is_subsampled:
        return None
    if photometric == 2 and samples < 3:
        return None
    bits = page.bitspersample
    if isinstance(bits, tuple) or int(bits) not in (8, 16, 32, 64) or int(page.sampleformat) not in (1, 2, 3):
        return None  # bilevel, packed, complex: Pillow reads what it can and refuses the rest
    if compression != 1 and not _decodable(compression):
        return None
    stored = np.dtype(page.dtype)
    dtype = np.dtype(np.float32) if stored == np.float16 else stored.newbyteorder("=")
    extras = tuple(int(e) for e in (page.extrasamples or ()))
    alpha = bool(extras and extras[-1] in (1, 2)) or (photometric == 2 and samples == 4) or (
        photometric == 1 and samples == 2)
    notes = []
    if alpha and extras and extras[-1] == 1:
        notes.append(f"{name}: the alpha is associated (premultiplied); the colour "
                     "channels are read as stored, premultiplied")
    return samples, dtype, alpha, notes


def _decodable(compression: int) -> bool:
    tifffile = need("tifffile", "reading TIFF with tifffile")
    try:
        return compression in tifffile.TIFF.DECOMPRESSORS
    except Exception:  # an unknown code
        return False


def _mode_name(channels: int, dtype: np.dtype) -> str:
    """A Pillow-like name for the source's mode: ``L``, ``RGBA``, ``I;16``, ``F``, ``RGB;16``, ``RGBA;F``."""
    base = _CHANNEL_MODES.get(channels)
    if dtype == np.uint8 and base:
        return base
    short = {"uint16": "16", "float32": "F"}.get(dtype.name, dtype.name)
    if channels == 1:
        return {"uint16": "I;16", "int32": "I", "float32": "F"}.get(dtype.name, dtype.name)
    return f"{base};{short}" if base else f"{channels}x{dtype.name}"


def _icc(page: Any, code: int = 34675) -> bytes | None:
    """The ICC profile (tag 34675), or the bytes of another such tag (``code`` 700: the XMP packet)."""
    tag = page.tags.get(code)
    if tag is None:
        return None
    value = tag.value
    if isinstance(value, np.ndarray):
        value = value.tobytes()
    return bytes(value) if value else None


def _dpi(page: Any) -> tuple[float, float] | None:
    """Dots per inch from the resolution tags, as Pillow reads them (no unit: inch; centimetre: x 2.54)."""
    try:
        x_tag, y_tag = page.tags.get(282), page.tags.get(283)
        if x_tag is None or y_tag is None:
            return None
        unit_tag = page.tags.get(296)
        unit = int(unit_tag.value) if unit_tag is not None else 2
        x, y = (_rational(t.value) for t in (x_tag, y_tag))
        scale = {2: 1.0, 3: 2.54}.get(unit)
        if scale is None or not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
            return None
        return (x * scale, y * scale)
    except (TypeError, ValueError, ZeroDivisionError):  # damaged tags: not kept
        return None


def _rational(value: Any) -> float:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]) / float(value[1])
    return float(value)
