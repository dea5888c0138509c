"""What every source and sink shares: :class:`ImageInfo`, the source interface, and bands of rows.

:class:`ImageSource` is what :func:`convcli.imageio.open_image` returns: the
image's shape, dtype and metadata, and :meth:`~ImageSource.read` giving any
band of rows.  Backends: :class:`ArraySource` (an array in memory: Pillow
formats, ``.npy``), :class:`~convcli.imageio.tiff.TiffSource` and
:class:`~convcli.imageio.zarr_store.ZarrSource` (lazy: pixels stay on disk).

The sinks receive bands of rows: :func:`checked_bands` checks them,
:func:`row_blocks` regroups them into strips, rows of tiles or chunk rows,
:func:`gathered` gives the whole image to the sinks that encode it at once,
and :func:`check_tile` / :func:`fitted_tile` settle the tile side.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from ..errors import ParameterError

__all__ = ["ArraySource", "ImageInfo", "ImageSource", "check_tile", "checked_bands", "fitted_tile", "gathered",
           "row_blocks"]


@dataclass
class ImageInfo:
    """What was read besides the pixels, to carry over to the output.

    Attributes
    ----------
    path : str
        Where the image came from (``-`` for stdin).
    format : str or None
        Pillow's format name (``PNG``, ``JPEG``, ``TIFF``, …; TIFF also when
        tifffile read it), ``ZARR`` for Zarr stores, ``NPY`` for arrays.
    mode : str or None
        Pillow's mode of the source (``L``, ``RGB``, ``I;16``, …); for what
        Pillow has no mode for, a name in its style (``RGB;16``, ``RGBA;F``).
    alpha : bool
        Whether the last channel is alpha (never for ``.npy`` arrays, whose
        channels are all data).
    icc_profile, exif, xmp : bytes or None
        Metadata to write back where the output format keeps it (XMP: the
        packet, :mod:`~convcli.imageio.metadata`).
    dpi : (float, float) or None
        Resolution in dots per inch (PNG ``pHYs``, JPEG JFIF, TIFF, BMP),
        written back to PNG, JPEG, TIFF and BMP outputs.
    text : dict of str
        PNG text chunks (``tEXt``, ``zTXt``, ``iTXt``), written back to PNG outputs.
    jpeg_quality : int or None
        A JPEG source's quality, estimated from its quantisation tables
        (:func:`~convcli.imageio.metadata.estimate_jpeg_quality`); JPEG outputs
        use it unless a quality is given.
    jpeg_subsampling : int or None
        A colour JPEG source's chroma subsampling (0 = 4:4:4, 1 = 4:2:2,
        2 = 4:2:0), kept by colour JPEG outputs.
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
    xmp: bytes | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict, repr=False)
    jpeg_quality: int | None = None
    jpeg_subsampling: int | None = None


class ImageSource:
    """An opened image that gives its pixels band by band.

    Attributes
    ----------
    path : str
        The image's name in messages (``-`` for stdin).
    shape : tuple of int
        ``(height, width)`` or ``(height, width, channels)``, as
        :func:`~convcli.imageio.read_image` would give the array.
    dtype : numpy.dtype
        The samples' type (native byte order).
    info : ImageInfo
        Metadata to carry to the output (format, alpha, ICC profile, dpi, notes).
    chunks : (int, int) or None
        Rows and columns of one tile, strip or chunk of a lazy source: reads
        aligned to ``chunks[0]`` rows decode each tile once.  None when the
        pixels are in memory.
    lazy : bool
        True when the pixels stay on disk and :meth:`read` decodes only the
        tiles it needs; False when the whole image is in memory.

    Examples
    --------
    >>> source = ArraySource(np.arange(12, dtype=np.uint8).reshape(3, 4))
    >>> with source:
    ...     source.shape, source.read(1, 3).tolist()
    ((3, 4), [[4, 5, 6, 7], [8, 9, 10, 11]])
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    info: ImageInfo
    chunks: tuple[int, int] | None = None
    lazy: bool = False

    @property
    def height(self) -> int:
        """Rows of the image."""
        return int(self.shape[0])

    @property
    def width(self) -> int:
        """Columns of the image."""
        return int(self.shape[1])

    @property
    def channels(self) -> int:
        """Channels per pixel (1 for a 2-D image)."""
        return 1 if len(self.shape) == 2 else int(self.shape[2])

    def read(self, r0: int = 0, r1: int | None = None) -> np.ndarray:
        """Rows ``r0`` up to (not including) ``r1`` (default: the last), all columns, as a new array.

        Raises
        ------
        ValueError
            When ``0 <= r0 <= r1 <= height`` does not hold.
        convcli.errors.ImageReadError
            When the file's pixels cannot be decoded (damaged on disk).
        """
        start, stop = self._rows(r0, r1)
        return self._read(start, stop)

    def _read(self, r0: int, r1: int) -> np.ndarray:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def _rows(self, r0: int, r1: int | None) -> tuple[int, int]:
        stop = self.height if r1 is None else r1
        if not (isinstance(r0, (int, np.integer)) and isinstance(stop, (int, np.integer))
                and 0 <= r0 <= stop <= self.height):
            raise ValueError(f"rows must satisfy 0 <= r0 <= r1 <= {self.height} (the height of {self.path}), "
                             f"got r0={r0!r}, r1={r1!r}")
        return int(r0), int(stop)

    def close(self) -> None:
        """Release the file (a no-op for sources in memory); reading afterwards is an error."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"{kind}({self.path!r}, shape={self.shape}, dtype={self.dtype}, chunks={self.chunks})"


class ArraySource(ImageSource):
    """An image in memory (decoded whole by Pillow, a ``.npy`` file, or an array given in Python).

    Parameters
    ----------
    array : ndarray
        ``H x W`` or ``H x W x C`` samples; kept, not copied (never modified).
    info : ImageInfo, optional
        Its metadata; default: none, named ``path``.
    path : str, optional
        Its name in messages.

    Examples
    --------
    >>> source = ArraySource(np.zeros((4, 5, 3), np.uint16), path="deep.png")
    >>> source.lazy, source.chunks, source.channels, source.read(3).shape
    (False, None, 3, (1, 5, 3))
    """

    lazy = False

    def __init__(self, array: np.ndarray, info: ImageInfo | None = None, *, path: str | None = None) -> None:
        array = np.asarray(array)
        if array.ndim not in (2, 3) or min(array.shape) < 1:
            raise ValueError(f"an image is a non-empty (height, width) or (height, width, channels) array, "
                             f"got shape {array.shape}")
        self.array = array
        self.path = path if path is not None else (info.path if info is not None else "<array>")
        self.info = info if info is not None else ImageInfo(path=self.path)
        self.shape = tuple(int(v) for v in array.shape)
        self.dtype = array.dtype
        self.chunks = None

    def _read(self, r0: int, r1: int) -> np.ndarray:
        return self.array[r0:r1].copy()


def checked_bands(bands: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...], dtype: np.dtype,
                  name: str) -> Iterator[tuple[int, np.ndarray]]:
    """``bands`` as given, checked to run top to bottom without gaps and fit ``shape`` and ``dtype``.

    A band of ``(rows, W, 1)`` for a 2-D ``shape`` is taken as ``(rows, W)``;
    empty bands are skipped.

    Raises
    ------
    ValueError
        Naming the output, the band and what is wrong (a bug in the caller).

    Examples
    --------
    >>> bands = [(0, np.zeros((2, 3), np.uint8)), (2, np.ones((1, 3), np.uint8))]
    >>> [first for first, _ in checked_bands(bands, (3, 3), np.dtype(np.uint8), "x.tif")]
    [0, 2]
    >>> list(checked_bands([(1, np.zeros((2, 3), np.uint8))], (3, 3), np.dtype(np.uint8), "x.tif"))
    Traceback (most recent call last):
    ...
    ValueError: x.tif: the bands must run top to bottom without gaps: expected one starting at row 0, got row 1
    """
    height = shape[0]
    expected = 0
    for first, rows in bands:
        rows = np.asarray(rows)
        if rows.ndim == 3 and len(shape) == 2 and rows.shape[2] == 1:
            rows = rows[:, :, 0]
        if first != expected:
            raise ValueError(f"{name}: the bands must run top to bottom without gaps: expected one starting at "
                             f"row {expected}, got row {first}")
        if rows.ndim != len(shape) or rows.shape[1:] != tuple(shape[1:]):
            raise ValueError(f"{name}: a band of shape {rows.shape} does not fit an image of shape {tuple(shape)}")
        if rows.dtype != dtype:
            raise ValueError(f"{name}: a band of dtype {rows.dtype} in an image of dtype {dtype}; convert the "
                             "samples to the output's depth first")
        if expected + rows.shape[0] > height:
            raise ValueError(f"{name}: a band of rows {expected}-{expected + rows.shape[0] - 1} runs past the "
                             f"image's {height} rows")
        expected += rows.shape[0]
        if rows.shape[0]:
            yield first, rows
    if expected != height:
        raise ValueError(f"{name}: the bands ended at row {expected} of {height}")


def row_blocks(bands: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...], dtype: np.dtype,
               rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``bands`` regrouped into blocks of ``rows`` rows (the last may be shorter), each a new array.

    The sinks' buffer: one block (a row of tiles, a strip, a chunk row) is
    filled from the bands and handed on; blocks are never reused, so views
    into a block stay valid.

    Examples
    --------
    >>> bands = [(0, np.arange(3)[:, None] * np.ones((1, 2), int)), (3, np.full((2, 2), 9))]
    >>> [(first, block[:, 0].tolist()) for first, block in row_blocks(bands, (5, 2), np.dtype(int), 2)]
    [(0, [0, 1]), (2, [2, 9]), (4, [9])]
    """
    height = shape[0]
    block: np.ndarray | None = None
    start = filled = 0
    for _, band in bands:
        done = 0
        while done < band.shape[0]:
            if block is None:
                block = np.empty((min(rows, height - start), *shape[1:]), dtype)
            take = min(block.shape[0] - filled, band.shape[0] - done)
            block[filled : filled + take] = band[done : done + take]
            filled += take
            done += take
            if filled == block.shape[0]:
                yield start, block
                start, filled, block = start + filled, 0, None


def gathered(bands: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The whole image from checked ``bands``, for the sinks that encode it at once (PNG, JPEG, ...).

    One band covering every row is the image itself (no copy: what
    :func:`~convcli.imageio.write_image` and a collected stream give);
    several are joined by :func:`row_blocks` into one block of every row.

    Examples
    --------
    >>> whole = np.zeros((2, 3), np.uint8)
    >>> gathered([(0, whole)], (2, 3), whole.dtype) is whole
    True
    >>> gathered([(0, whole[:1]), (1, whole[1:] + 7)], (2, 3), whole.dtype).tolist()
    [[0, 0, 0], [7, 7, 7]]
    """
    bands = iter(bands)
    first = next(bands, None)
    if first is not None and first[1].shape[0] == shape[0]:
        for _ in bands:  # nothing: the checks of the bands still run (a band past the last row is refused)
            pass
        return first[1]
    rest = bands if first is None else itertools.chain([first], bands)
    blocks = [block for _, block in row_blocks(rest, shape, dtype, shape[0])]  # one block: every row
    if len(blocks) != 1:
        raise ValueError(f"the bands do not cover the image of shape {tuple(shape)}")
    return blocks[0]


def check_tile(tile: int | None, *, what: str = "tile") -> int | None:
    """``tile`` checked: a positive multiple of 16, for TIFF tiles and Zarr chunks alike (one rule).

    ``what`` names the value in messages (``"--tile"`` for the command line).

    TIFF requires it of its tiles; Zarr chunks follow the same rule, so that
    ``--tile`` and the library accept the same values for every format.

    Examples
    --------
    >>> check_tile(256), check_tile(None)
    (256, None)
    >>> check_tile(100)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: tile must be a positive multiple of 16 (TIFF tiles must be, and Zarr chunks \
follow the same rule), got 100; e.g. tile=512
    """
    if tile is None:
        return None
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 1:
        raise ParameterError(f"{what} must be a positive integer (the side of a square tile), got {tile!r}")
    if tile % 16:
        example = f"{what} 512" if what.startswith("--") else f"{what}=512"
        raise ParameterError(f"{what} must be a positive multiple of 16 (TIFF tiles must be, and Zarr chunks "
                             f"follow the same rule), got {tile}; e.g. {example}")
    return int(tile)


def fitted_tile(tile: int | None, shape: tuple[int, ...], *, multiple: int) -> int | None:
    """A tile side no larger than the image needs (rounded up to ``multiple``): a tile is allocated whole.

    Examples
    --------
    >>> fitted_tile(32768, (512, 300), multiple=16), fitted_tile(256, (512, 300), multiple=16)
    (512, 256)
    >>> fitted_tile(None, (5, 5), multiple=1) is None
    True
    """
    if tile is None:
        return None
    need = max(int(shape[0]), int(shape[1]))
    return min(tile, -(-need // multiple) * multiple)
