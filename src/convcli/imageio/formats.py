"""The sink registry: one :class:`Sink` per output format, what it holds, and the depth it gets.

:data:`SINKS` lists every output format (:func:`find_sink` finds one by
name; an unknown name lists the valid ones).  Each sink knows its
extensions, the depths and channel counts it holds (below), its compression
values and default (:mod:`.compression` owns those rules), whether it
streams (TIFF and Zarr are written band by band as the bands come; the others
encode the whole image), whether it is a folder (Zarr), and its writer.
:func:`convcli.imageio.write_bands` writes through it.

=========  =====================================  ==========================================
format     8-bit channels                         16-bit / float
=========  =====================================  ==========================================
PNG        1, 2 (gray+alpha), 3, 4                16: 1-4 / --
TIFF       1, 2, 3, 4                             16: 1-4 / float: 1-4
JPEG       1, 3                                   -- / --
WebP       1, 3, 4                                -- / --
BMP        1, 3                                   -- / --
GIF        1 (2, 3, 4: a 256-colour palette)      -- / --
PPM/PGM    1, 3                                   16: 1 / --
TGA        1, 2, 3, 4                             -- / --
ZARR       any                                    any
NPY        any                                    any
=========  =====================================  ==========================================

That is the table with convcli's ``formats`` extra installed (``pip install
'.[formats]'`` in a clone: imagecodecs writes 16-bit colour PNG, tifffile TIFF of
every depth, zarr ``.zarr`` stores).  Without it Pillow writes what it can:
PNG 16-bit gray only, TIFF 16-bit and float gray only, and no ZARR; a deeper
output falls back to a depth the format holds, and an explicit ``--depth``
that needs the extra is refused naming it (:func:`fit_depth`).

:func:`fit_depth` chooses the sample type within that table; depths are named
by :mod:`convcli.depth`.  GIF holds gray; colour is reduced to a palette of at
most 256 colours, and alpha to on/off transparency (:func:`palette_reduced`
says when; the batch warns), as ImageMagick writes GIF.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..depth import DEPTHS, Depth, depth_name
from ..errors import ImageWriteError
from ._base import ImageInfo
from ._extra import EXTRA_HINT, available
from .compression import compressions_of, default_compression
from .encode import write_encoded, write_npy
from .tiff_write import write_tiff_sink
from .zarr_store import write_zarr

__all__ = [
    "FORMATS",
    "SINKS",
    "Sink",
    "Writer",
    "depth_possible",
    "find_sink",
    "fit_depth",
    "format_for",
    "formats_holding",
    "held_with_extra",
    "image_extensions",
    "palette_reduced",
]



class Writer(Protocol):
    """A sink's writer: the checked bands into ``target``, an open binary file (a folder's path for folder
    sinks); ``compression`` checked by :func:`~convcli.imageio.compression.checked_compression` (None: the
    format's default); options that do not apply to the format are ignored."""

    def __call__(self, target: Any, bands: Iterable[tuple[int, np.ndarray]], /, *, fmt: str,
                 shape: tuple[int, ...], dtype: np.dtype, name: str, info: ImageInfo | None = None,
                 quality: int | None = None, tile: int | None = None,
                 compression: int | str | None = None) -> None: ...

_ANY = frozenset({1, 2, 3, 4})


@dataclass(frozen=True)
class Sink:
    """One output format: what it holds, how it is compressed, whether it streams, and its writer.

    Attributes
    ----------
    name : str
        The format's name (``PNG``, ``TIFF``, ``ZARR``, ...).
    extensions : tuple of str
        Its file extensions, the usual one first.
    holds : mapping of depth to frozenset of int, or None
        The channel counts written at each depth without the ``formats``
        extra; None: any depth (any real dtype) and channel count.
    write : callable
        The writer (see :data:`Writer`).
    with_extra : mapping of str to (mapping of depth to frozenset of int)
        What each optional module of the ``formats`` extra adds to ``holds``.
    palette : frozenset of int
        Channel counts taken only by reducing them to a palette (GIF).
    streams : bool
        Written band by band as the bands come (one band and a row of tiles
        held), rather than gathered whole first.
    folder : bool
        The output is a folder (a Zarr store), so it cannot go to stdout.
    keeps_shape : bool
        Written with the array's own shape, whatever its dimensions
        (``.npy``); image sinks take ``(H, W)`` or ``(H, W, C)``.

    Examples
    --------
    >>> png = find_sink("png")
    >>> png.extensions, png.streams, png.compressions[:3], png.default_compression
    (('.png',), False, ('0', '1', '2'), 1)
    >>> find_sink("ZARR").compressions, find_sink("ZARR").folder
    (('deflate', 'zstd', 'none'), True)
    """

    name: str
    extensions: tuple[str, ...]
    holds: Mapping[Depth, frozenset[int]] | None
    write: Writer = field(repr=False)
    with_extra: Mapping[str, Mapping[Depth, frozenset[int]]] = field(default_factory=dict)
    palette: frozenset[int] = frozenset()
    streams: bool = False
    folder: bool = False
    keeps_shape: bool = False

    @property
    def compressions(self) -> tuple[str, ...]:
        """The ``compression`` values it takes (:mod:`.compression` owns the rules)."""
        return compressions_of(self.name)

    @property
    def default_compression(self) -> int | str | None:
        """Its compression when none is given."""
        return default_compression(self.name)

    def holding(self, *, extra: bool | None = None) -> dict[Depth, frozenset[int]]:
        """Depth -> channel counts it writes: with the extra's modules that are installed (``extra=None``),
        with all of them (True) or with none (False).  Empty for sinks that hold anything."""
        table = dict(self.holds or {})
        for module, added in self.with_extra.items():
            if extra or (extra is None and available(module)):
                for depth, channels in added.items():
                    table[depth] = table.get(depth, frozenset()) | channels
        return table


def _pillow(name: str, extensions: tuple[str, ...], holds: Mapping[Depth, frozenset[int]], **more: object) -> Sink:
    return Sink(name, extensions, holds, write_encoded, **more)  # type: ignore[arg-type]


#: every output format, in the order messages list them (pyvips' ``vips_foreign_find_save`` in spirit)
SINKS: dict[str, Sink] = {sink.name: sink for sink in (
    _pillow("PNG", (".png",), {"8": _ANY, "16": frozenset({1})}, with_extra={"imagecodecs": {"16": _ANY}}),
    _pillow("JPEG", (".jpg", ".jpeg"), {"8": frozenset({1, 3})}),
    Sink("TIFF", (".tif", ".tiff"), {"8": _ANY, "16": frozenset({1}), "float": frozenset({1})}, write_tiff_sink,
         with_extra={"tifffile": {"16": _ANY, "float": _ANY}}, streams=True),
    _pillow("BMP", (".bmp",), {"8": frozenset({1, 3})}),
    _pillow("WEBP", (".webp",), {"8": frozenset({1, 3, 4})}),
    _pillow("GIF", (".gif",), {"8": frozenset({1})}, palette=frozenset({2, 3, 4})),
    _pillow("PPM", (".ppm", ".pgm", ".pnm"), {"8": frozenset({1, 3}), "16": frozenset({1})}),
    _pillow("TGA", (".tga",), {"8": _ANY}),
    Sink("NPY", (".npy",), None, write_npy, keeps_shape=True),
    Sink("ZARR", (".zarr",), None, write_zarr, streams=True, folder=True),
)}

#: file extension -> format name for writing
FORMATS = {ext: sink.name for sink in SINKS.values() for ext in sink.extensions}


def find_sink(fmt: str) -> Sink:
    """The sink of a format name (any case).

    Raises
    ------
    ImageWriteError
        An unknown format, listing the valid ones.

    Examples
    --------
    >>> find_sink("tiff").streams
    True
    >>> find_sink("xyz")
    Traceback (most recent call last):
    ...
    convcli.errors.ImageWriteError: cannot write the format 'xyz'; use one of PNG, JPEG, TIFF, BMP, WEBP, GIF, PPM, \
TGA, NPY or ZARR
    """
    sink = SINKS.get(str(fmt).upper())
    if sink is None:
        names = list(SINKS)
        raise ImageWriteError(f"cannot write the format {fmt!r}; use one of {', '.join(names[:-1])} or {names[-1]}")
    return sink


def _holds(*, extra: bool | None = None) -> dict[str, dict[Depth, frozenset[int]]]:
    """Format -> depth -> channel counts, for the image sinks (not those that hold anything)."""
    return {name: sink.holding(extra=extra) for name, sink in SINKS.items() if sink.holds is not None}


_DEPTH_ORDER: tuple[Depth, ...] = DEPTHS[::-1]  # deepest first
_CHANNEL_NAMES = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}


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
    sink = find_sink(fmt)
    if sink.holds is None:
        return depth
    table = _holds()
    holds = table[sink.name]
    if channels in sink.palette:
        holds = {**holds, "8": holds["8"] | {channels}}
    what = _CHANNEL_NAMES.get(channels, f"{channels}-channel")
    if channels in holds.get(depth, frozenset()):
        return depth
    if not any(channels in held for held in holds.values()):
        fits = {f: ext for ext, f in reversed(FORMATS.items())
                if SINKS[f].holds is not None and any(channels in c for c in table[f].values())}
        hint = ", or use --channels gray" if channels == 3 else ""
        where = ", ".join([*sorted(fits.values()), *_any_formats()])
        raise ImageWriteError(f"{fmt} cannot hold {what} data; write {' or '.join(where.rsplit(', ', 1))}{hint}")
    if strict:
        if held_with_extra(fmt, depth, channels):
            others = [d for d in _DEPTH_ORDER if channels in holds.get(d, ())]
            instead = f", or choose --depth {others[0]}" if others else ""
            raise ImageWriteError(f"{fmt}: {depth_name(depth)} {what} data needs convcli's formats extra: "
                                  f"{EXTRA_HINT} (or write .npy{instead})")
        better = [ext for ext, f in FORMATS.items()
                  if SINKS[f].holds is not None and channels in table[f].get(depth, ())]
        where = f"write {better[0]} or .npy" if better else "write .npy"
        others = [d for d in _DEPTH_ORDER if channels in holds.get(d, ())]
        instead = f", or choose --depth {others[0]}" if others else ""
        raise ImageWriteError(f"{fmt} cannot hold {depth_name(depth)} {what} data; {where}{instead}")
    for candidate in (*_DEPTH_ORDER[_DEPTH_ORDER.index(depth):], *_DEPTH_ORDER):  # shallower first
        if channels in holds.get(candidate, ()):
            return candidate
    raise AssertionError("unreachable: some depth holds these channels")  # pragma: no cover


def held_with_extra(fmt: str, depth: Depth, channels: int) -> bool:
    """Whether ``fmt`` would hold ``channels`` channels of ``depth`` with the ``formats`` extra, but not now.

    Callers falling back to a shallower depth name the extra when this is true.

    Examples
    --------
    >>> held_with_extra("JPEG", "16", 3), held_with_extra("PNG", "8", 3)
    (False, False)
    """
    if fmt not in SINKS or SINKS[fmt].holds is None:
        return False
    now, full = _holds().get(fmt, {}), _holds(extra=True).get(fmt, {})
    return channels not in now.get(depth, ()) and channels in full.get(depth, ())


def palette_reduced(fmt: str, channels: int) -> bool:
    """Whether writing ``channels`` channels in ``fmt`` reduces them to a palette (RGB into GIF).

    Examples
    --------
    >>> palette_reduced("GIF", 3), palette_reduced("GIF", 1), palette_reduced("PNG", 3)
    (True, False, False)
    """
    return fmt in SINKS and channels in SINKS[fmt].palette


def formats_holding(depth: Depth, channels: int, *, besides: str | None = None) -> list[str]:
    """Extensions of the formats that hold ``channels`` channels of ``depth`` exactly, ``.npy`` last.

    Examples
    --------
    >>> formats_holding("float", 3), formats_holding("float", 1, besides="PNG")
    (['.tif', '.zarr', '.npy'], ['.tif', '.zarr', '.npy'])
    >>> formats_holding("16", 3, besides="JPEG")
    ['.png', '.tif', '.zarr', '.npy']
    """
    table = _holds()
    found = {f: ext for ext, f in reversed(FORMATS.items())
             if SINKS[f].holds is not None and f != besides and channels in table[f].get(depth, ())}
    return [*sorted(found.values()), *_any_formats()]


def _any_formats() -> list[str]:
    """The extensions of the formats that hold anything: ``.zarr`` (with zarr installed), then ``.npy``."""
    return [".zarr", ".npy"] if available("zarr") else [".npy"]


def depth_possible(fmt: str, depth: Depth) -> bool:
    """Whether ``fmt`` holds ``depth`` samples for some channel count.

    Examples
    --------
    >>> depth_possible("PNG", "float"), depth_possible("TIFF", "float"), depth_possible("ZARR", "float")
    (False, True, True)
    """
    return fmt in SINKS and (SINKS[fmt].holds is None or bool(SINKS[fmt].holding().get(depth)))
