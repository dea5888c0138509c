"""Drawing primitives shared by convcli's pictures: fonts, numbers, cell grids, colours, encoding, writing.

Everything is drawn with Pillow's ImageDraw and its bundled font
(``ImageFont.load_default(size=...)``: Aileron, which has Latin letters but no
Greek or mathematical signs, so the pictures write ``delta``, ``x`` and ``-``).
Pictures are deterministic: the same data gives the same bytes (a fixed
palette, no dithering, no timestamps).  Files are written atomically
(:func:`convcli.imageio.write_bytes_atomic`): a failure leaves no partial file.

Examples
--------
>>> from PIL import Image, ImageDraw
>>> image = Image.new("RGB", (120, 80), WHITE)
>>> grid = draw_grid(ImageDraw.Draw(image), 10, 10, [[1, 2], [3, None]], cell=(30, 24))
>>> grid.centre(1, 1), image.getpixel(grid.centre(1, 1)) == WHITE
((55, 46), True)
>>> fmt(2.0), fmt(-0.125), fmt(None), fmt(1 / 3)
('2', '-0.125', '', '0.333')
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ..errors import ImageWriteError, UsageError

__all__ = [
    "BLACK",
    "BORDER_FILL",
    "CURRENT_FILL",
    "GRID_LINE",
    "LABEL",
    "PRODUCT_FILL",
    "WHITE",
    "WINDOW",
    "WINNER",
    "Grid",
    "centred_text",
    "check_picture_path",
    "diverging",
    "draw_grid",
    "encode_frames",
    "fmt",
    "font",
    "outline",
    "text_size",
    "write_picture",
    "write_rgb_png",
]

Colour = tuple[int, int, int]

WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)
#: grid lines
GRID_LINE: Colour = (140, 140, 140)
#: row and column labels
LABEL: Colour = (90, 90, 90)
#: the border (padding) cells
BORDER_FILL: Colour = (196, 206, 224)
#: the outline of the current window: used for nothing else, so it can be found in a picture
WINDOW: Colour = (228, 0, 0)
#: the output cell being computed
CURRENT_FILL: Colour = (255, 212, 110)
#: the products of the current window
PRODUCT_FILL: Colour = (255, 246, 214)
#: the ring around a pooling window's winning cell
WINNER: Colour = (0, 150, 60)
#: the extra named colours of the palette (other helpers may append theirs)
EXTRA_COLOURS: list[Colour] = [(120, 120, 200), (235, 235, 235)]


@functools.cache
def font(size: int = 13) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels (the same on every machine)."""
    return ImageFont.load_default(size=size)


def fmt(value: float | None) -> str:
    """A number as it is written in a cell: ``''`` for None/NaN, integers without ``.0``, else 3 digits.

    Examples
    --------
    >>> fmt(25.0), fmt(0.5), fmt(-3.0), fmt(12345.678)
    ('25', '0.5', '-3', '1.23e+04')
    """
    if value is None or value != value:
        return ""
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def text_size(text: str, size: int = 13) -> tuple[int, int]:
    """The width and height of ``text`` in the bundled font at ``size``."""
    left, top, right, bottom = font(size).getbbox(text)
    return int(right - left), int(bottom - top)


@functools.lru_cache(maxsize=4096)
def _text_mask(words: str, size: int) -> tuple[Image.Image, int, int]:
    """``words`` rendered once as an anti-aliased mask, and its offset from the centre point."""
    left, top, right, bottom = (int(v) for v in font(size).getbbox(words, anchor="mm"))
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), words, font=font(size), fill=255, anchor="mm")
    return mask, left, top


def centred_text(draw: ImageDraw.ImageDraw, centre: tuple[int, int], words: str, *, size: int = 13,
                 colour: Colour = BLACK) -> None:
    """Write ``words`` centred on ``centre`` (each text is rendered once and reused: grids repeat numbers)."""
    mask, left, top = _text_mask(words, size)
    draw.bitmap((centre[0] + left, centre[1] + top), mask, fill=colour)


@dataclass(frozen=True)
class Grid:
    """Where a drawn grid is: its top-left corner, cell size and shape (rows, cols).

    Examples
    --------
    >>> g = Grid(10, 20, 30, 24, 3, 4)
    >>> g.box(0, 1), g.centre(2, 3), g.right, g.bottom
    ((40, 20, 70, 44), (115, 80), 130, 92)
    """

    x: int
    y: int
    cw: int
    ch: int
    rows: int
    cols: int

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """The cell ``(i, j)``: left, top, right, bottom."""
        return (self.x + j * self.cw, self.y + i * self.ch, self.x + (j + 1) * self.cw, self.y + (i + 1) * self.ch)

    def centre(self, i: int, j: int) -> tuple[int, int]:
        left, top, right, bottom = self.box(i, j)
        return (left + right) // 2, (top + bottom) // 2

    @property
    def right(self) -> int:
        return self.x + self.cols * self.cw

    @property
    def bottom(self) -> int:
        return self.y + self.rows * self.ch


def draw_grid(
    draw: ImageDraw.ImageDraw,
    x: int,
    y: int,
    values: Sequence[Sequence[Any]],
    *,
    cell: tuple[int, int],
    fill: Callable[[int, int], Colour | None] | None = None,
    text: Callable[[int, int], str] | None = None,
    row_labels: Sequence[int] | None = None,
    col_labels: Sequence[int] | None = None,
    size: int = 13,
) -> Grid:
    """Draw ``values`` as a grid of cells with the numbers centred; return where the cells are.

    ``fill(i, j)`` colours a cell (None: white); ``text(i, j)`` overrides the
    number written.  With labels, the row labels go left of the grid and the
    column labels above it, and ``(x, y)`` is the top-left of the labels.
    """
    cw, ch = cell
    rows, cols = len(values), len(values[0]) if values else 0
    gx = x + (cw if row_labels is not None else 0)
    gy = y + (ch if col_labels is not None else 0)
    grid = Grid(gx, gy, cw, ch, rows, cols)
    small = font(size - 2)
    for j, label in enumerate(col_labels or ()):
        left, top, right, bottom = grid.box(0, j)
        draw.text(((left + right) // 2, gy - ch // 2), str(label), font=small, fill=LABEL, anchor="mm")
    for i, label in enumerate(row_labels or ()):
        left, top, right, bottom = grid.box(i, 0)
        draw.text((gx - 6, (top + bottom) // 2), str(label), font=small, fill=LABEL, anchor="rm")
    for i in range(rows):
        for j in range(cols):
            box = grid.box(i, j)
            colour = fill(i, j) if fill is not None else None
            draw.rectangle(box, fill=colour or WHITE, outline=GRID_LINE)
            words = text(i, j) if text is not None else fmt(values[i][j])
            if words:
                centred_text(draw, grid.centre(i, j), words, size=size)
    return grid


def outline(draw: ImageDraw.ImageDraw, grid: Grid, rows: tuple[int, int], cols: tuple[int, int], *,
            colour: Colour = WINDOW, width: int = 3) -> None:
    """Outline the cells ``rows[0]..rows[1]`` x ``cols[0]..cols[1]`` (inclusive) of ``grid``."""
    left, top, _, _ = grid.box(rows[0], cols[0])
    _, _, right, bottom = grid.box(rows[1], cols[1])
    draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), outline=colour, width=width)


def diverging(value: float, limit: float) -> Colour:
    """Blue (negative) - white (0) - red (positive) for ``value`` in ``[-limit, limit]``.

    Examples
    --------
    >>> diverging(0, 1), diverging(1, 1), diverging(-1, 1)
    ((255, 255, 255), (214, 96, 77), (67, 147, 195))
    """
    t = 0.0 if limit <= 0 else max(-1.0, min(1.0, value / limit))
    end = (214, 96, 77) if t >= 0 else (67, 147, 195)
    a = abs(t)
    return tuple(round(255 + (e - 255) * a) for e in end)  # type: ignore[return-value]


def _palette() -> list[Colour]:
    """A fixed 256-colour palette: the named colours, then a grey ramp (anti-aliased text)."""
    named = [WHITE, BLACK, GRID_LINE, LABEL, BORDER_FILL, WINDOW, CURRENT_FILL, PRODUCT_FILL, WINNER,
             *EXTRA_COLOURS]
    colours = list(dict.fromkeys(named))
    grey = 256 - len(colours)
    colours += [(round(255 * k / (grey - 1)),) * 3 for k in range(grey)]
    return colours[:256]


#: the palette entry of every 24-bit colour met so far (-1: not met yet); frames share most colours
_lookup: list[Any] = []


def _quantise(image: Image.Image) -> Image.Image:
    """To the fixed palette, each colour to its exact nearest entry: the named colours stay exact.

    (Pillow's own ``quantize(palette=...)`` looks colours up at 6 bits a channel,
    which turns white into a light grey.)
    """
    import numpy as np

    palette = np.array(_palette(), dtype=np.int64)
    if not _lookup:
        _lookup.append(np.full(1 << 24, -1, dtype=np.int16))
    lookup = _lookup[0]
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    entries = lookup[codes]
    missing = entries < 0
    if missing.any():
        new = np.unique(codes[missing]).astype(np.int64)
        colours = np.stack([new >> 16, (new >> 8) & 255, new & 255], axis=1)
        distance = ((colours[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
        lookup[new] = distance.argmin(axis=1)  # the first (named) entry wins a tie
        entries = lookup[codes]
    result = Image.fromarray(entries.astype(np.uint8), mode="P")
    result.putpalette([channel for colour in _palette() for channel in colour])
    return result


def encode_frames(frames: Sequence[Image.Image], suffix: str, *, duration: int = 900) -> bytes:
    """One PNG (a single frame) or an animated GIF (every frame, looping), as bytes.

    Frames of different sizes are placed top-left on a white canvas of the
    largest size.  Both formats use the same fixed palette, so a PNG of one
    frame has exactly that frame's pixels in the GIF.
    """
    import io

    width = max(f.width for f in frames)
    height = max(f.height for f in frames)
    canvases = []
    for frame in frames:
        canvas = Image.new("RGB", (width, height), WHITE)
        canvas.paste(frame, (0, 0))
        canvases.append(_quantise(canvas))
    buffer = io.BytesIO()
    if suffix == ".png":
        canvases[0].save(buffer, format="PNG", optimize=True)
    elif len(canvases) == 1:
        canvases[0].save(buffer, format="GIF")
    else:
        canvases[0].save(buffer, format="GIF", save_all=True, append_images=canvases[1:], duration=duration,
                         loop=0, disposal=1, optimize=False)
    return buffer.getvalue()


def check_picture_path(path: str | Path, *, option: str = "--picture",
                       suffixes: tuple[str, ...] = (".png", ".gif")) -> Path:
    """Refuse a picture path before any work: an unknown extension (exit 2), a missing folder (exit 1).

    Examples
    --------
    >>> check_picture_path("steps.svg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --picture 'steps.svg': unknown picture type '.svg'; give a file ending in .png or .gif...
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in suffixes:
        allowed = " or ".join(", ".join(suffixes).rsplit(", ", 1))
        what = f"unknown picture type {suffix!r}" if suffix else "no extension"
        raise UsageError(f"{option} {str(path)!r}: {what}; give a file ending in {allowed} "
                         f"(e.g. {target.stem or 'picture'}{suffixes[0]})")
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ImageWriteError(f"{option} {str(path)!r}: the folder {str(folder)!r} {what}; "
                              f"create it first (mkdir -p {folder}) or write elsewhere")
    if target.is_dir():
        raise ImageWriteError(f"{option} {str(path)!r}: is a folder; give a file name ending in {suffixes[0]}")
    return target


def write_picture(path: str | Path, frames: Sequence[Image.Image], *, option: str = "--picture",
                  suffixes: tuple[str, ...] = (".png", ".gif")) -> None:
    """Check ``path``, encode ``frames`` by its extension and write the file atomically (no partial file)."""
    from ..imageio import write_bytes_atomic

    target = check_picture_path(path, option=option, suffixes=suffixes)
    write_bytes_atomic(target, encode_frames(frames, target.suffix.lower()))


def write_rgb_png(path: str | Path, image: Image.Image, *, option: str = "--picture") -> None:
    """Check ``path`` (``.png`` only) and write ``image`` as a full-colour PNG atomically, without metadata.

    For pictures with continuous colour (heat maps, photographs) that the fixed palette of
    :func:`write_picture` would band; the same image gives the same bytes.
    """
    import io

    from ..imageio import write_bytes_atomic

    target = check_picture_path(path, option=option, suffixes=(".png",))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=6)
    write_bytes_atomic(target, buffer.getvalue())
