"""What each output format can hold, and what an image carries from reading to writing.

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

:func:`fit_depth` chooses the sample type within that table; depths are named
by :mod:`convcli.depth`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..depth import DEPTHS, Depth, depth_name
from ..errors import ImageWriteError

__all__ = ["FORMATS", "ImageInfo", "depth_possible", "fit_depth", "format_for", "image_extensions"]

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
        raise ImageWriteError(f"{fmt} cannot hold {depth_name(depth)} {what} data; {where}{instead}")
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
