"""What each output format can hold, and what an image carries from reading to writing.

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
'convcli[formats]'``: imagecodecs writes 16-bit colour PNG, tifffile TIFF of
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
from dataclasses import dataclass, field
from pathlib import Path

from ..depth import DEPTHS, Depth, depth_name
from ..errors import ImageWriteError

__all__ = [
    "FORMATS",
    "ImageInfo",
    "depth_possible",
    "fit_depth",
    "format_for",
    "formats_holding",
    "held_with_extra",
    "image_extensions",
    "palette_reduced",
]

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
    ".zarr": "ZARR",
}

#: format -> depth -> the channel counts Pillow writes (NPY and ZARR hold anything)
_HOLDS: dict[str, dict[str, frozenset[int]]] = {
    "PNG": {"8": frozenset({1, 2, 3, 4}), "16": frozenset({1})},
    "TIFF": {"8": frozenset({1, 2, 3, 4}), "16": frozenset({1}), "float": frozenset({1})},
    "JPEG": {"8": frozenset({1, 3})},
    "WEBP": {"8": frozenset({1, 3, 4})},
    "BMP": {"8": frozenset({1, 3})},
    "GIF": {"8": frozenset({1})},
    "PPM": {"8": frozenset({1, 3}), "16": frozenset({1})},
    "TGA": {"8": frozenset({1, 2, 3, 4})},
}
_ANY = frozenset({1, 2, 3, 4})
#: optional module -> what it adds to the table (the ``formats`` extra)
_WITH_EXTRA: dict[str, dict[str, dict[str, frozenset[int]]]] = {
    "imagecodecs": {"PNG": {"16": _ANY}},
    "tifffile": {"TIFF": {"16": _ANY, "float": _ANY}},
}
#: formats that hold any depth and channel count
_ANYTHING = frozenset({"NPY", "ZARR"})


def _holds(*, extra: bool | None = None) -> dict[str, dict[str, frozenset[int]]]:
    """The table of what each format holds: with the extra's modules that are installed (``extra=None``),
    with all of them (True) or with none (False)."""
    from ._extra import available

    table = {fmt: dict(depths) for fmt, depths in _HOLDS.items()}
    for module, added in _WITH_EXTRA.items():
        if extra or (extra is None and available(module)):
            for fmt, depths in added.items():
                for depth, channels in depths.items():
                    table[fmt][depth] = table[fmt].get(depth, frozenset()) | channels
    return table


#: format -> the channel counts it takes only by reducing them to a palette (8-bit)
_PALETTE: dict[str, frozenset[int]] = {"GIF": frozenset({2, 3, 4})}
_DEPTH_ORDER: tuple[Depth, ...] = DEPTHS[::-1]  # deepest first
_CHANNEL_NAMES = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}


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
    icc_profile, exif : bytes or None
        Metadata to write back where the output format keeps it.
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
    notes: list[str] = field(default_factory=list)
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict, repr=False)
    jpeg_quality: int | None = None
    jpeg_subsampling: int | None = None


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
    if fmt in _ANYTHING:
        return depth
    table = _holds()
    holds = table.get(fmt)
    if holds is None:
        raise ImageWriteError(f"cannot write the format {fmt!r}; use one of {', '.join(table)}, NPY or ZARR")
    if channels in _PALETTE.get(fmt, ()):
        holds = {**holds, "8": holds["8"] | {channels}}
    what = _CHANNEL_NAMES.get(channels, f"{channels}-channel")
    if channels in holds.get(depth, frozenset()):
        return depth
    if not any(channels in held for held in holds.values()):
        fits = {f: ext for ext, f in reversed(FORMATS.items())
                if f not in _ANYTHING and any(channels in c for c in table[f].values())}
        hint = ", or use --channels gray" if channels == 3 else ""
        where = ", ".join([*sorted(fits.values()), *_any_formats()])
        raise ImageWriteError(f"{fmt} cannot hold {what} data; write {' or '.join(where.rsplit(', ', 1))}{hint}")
    if strict:
        if held_with_extra(fmt, depth, channels):
            from ._extra import EXTRA_HINT

            others = [d for d in _DEPTH_ORDER if channels in holds.get(d, ())]
            instead = f", or choose --depth {others[0]}" if others else ""
            raise ImageWriteError(f"{fmt}: {depth_name(depth)} {what} data needs convcli's formats extra: "
                                  f"{EXTRA_HINT} (or write .npy{instead})")
        better = [ext for ext, f in FORMATS.items() if f not in _ANYTHING and channels in table[f].get(depth, ())]
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
    if fmt in _ANYTHING:
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
    return channels in _PALETTE.get(fmt, ())


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
             if f not in (*_ANYTHING, besides) and channels in table[f].get(depth, ())}
    return [*sorted(found.values()), *_any_formats()]


def _any_formats() -> list[str]:
    """The extensions of the formats that hold anything: ``.zarr`` (with zarr installed), then ``.npy``."""
    from ._extra import available

    return [".zarr", ".npy"] if available("zarr") else [".npy"]


def depth_possible(fmt: str, depth: Depth) -> bool:
    """Whether ``fmt`` holds ``depth`` samples for some channel count.

    Examples
    --------
    >>> depth_possible("PNG", "float"), depth_possible("TIFF", "float"), depth_possible("ZARR", "float")
    (False, True, True)
    """
    return fmt in _ANYTHING or bool(_holds().get(fmt, {}).get(depth))
