"""``convcli kernels show SPEC --picture FILE``: a kernel as a heat map beside its frequency response.

Each linear kernel is drawn as one row of two panels:

* the **heat map**: one cell per tap, coloured by a sequential colour map whose
  brightness grows with the value (so the brightest cell is the largest tap),
  the value written in the cell for kernels up to :data:`MAX_VALUES_SIDE` per
  side (larger kernels get a colour bar instead), and the anchor cell outlined
  in cyan;
* the **frequency response**: ``|FFT|`` of the kernel zero-padded to
  ``N x N`` (N = 64, or the next power of two above a larger kernel), shifted
  so that zero frequency is at the centre, in the same colour map scaled to its
  maximum.  A blur (low-pass) is bright in the middle, a Laplacian (high-pass)
  at the edges, a Sobel on two opposite sides (directional).

An operator (``sobel:axis=both``) draws one row per component.  Pictures are
deterministic: the same spec gives the same bytes.

Examples
--------
>>> picture = draw_kernel("sobel:axis=x")
>>> panel = picture.panels[0]
>>> panel.shape, panel.anchor, panel.values_shown, panel.fft_size
((3, 3), (1, 1), True, 64)
>>> panel.cell_center(1, 2) == (panel.heat_box[0] + 2.5 * panel.cell[0], panel.heat_box[1] + 1.5 * panel.cell[1])
True
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._draw import check_picture_path, write_rgb_png

__all__ = ["MAX_VALUES_SIDE", "KernelPanel", "KernelPicture", "draw_kernel", "kernel_picture"]

#: Kernels up to this many taps per side have their values written in the cells.
MAX_VALUES_SIDE = 15

_VALUE_CELL = 48  # px per cell when values are written
_HEAT_SIDE = 480  # px of the longer side of a heat map without values (at most)
_FFT_SIDE = 384  # px of the frequency panel
_FFT_MIN = 64  # zero-padding of the FFT
_MARGIN = 16
_GAP = 40
_BAR = 16  # colour bar width
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)
_ANCHOR = (0, 220, 255)  # cyan: not in the colour map
#: An inferno-like colour map: anchors at 0, 1/8, …, 1, luminance rising monotonically.
_MAP_ANCHORS = np.array([
    (0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
    (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164),
], dtype=np.float64)


@dataclass(frozen=True)
class KernelPanel:
    """Where one linear kernel was drawn in a :class:`KernelPicture` (pixels, ``x`` right, ``y`` down).

    Attributes
    ----------
    spec : str
    shape : (int, int)
        Kernel rows and columns.
    anchor : (int, int)
        The effective anchor ``(row, col)``.
    heat_box : (int, int, int, int)
        ``(x, y, width, height)`` of the heat map.
    cell : (float, float)
        Width and height of one tap's cell.
    anchor_box : (int, int, int, int)
        ``(x0, y0, x1, y1)`` of the anchor's outline (inclusive).
    values_shown : bool
        Values written in the cells (else a colour bar is drawn).
    fft_box : (int, int, int, int)
        ``(x, y, width, height)`` of the frequency panel.
    fft_size : int
        The zero-padded FFT size ``N``.
    """

    spec: str
    shape: tuple[int, int]
    anchor: tuple[int, int]
    heat_box: tuple[int, int, int, int]
    cell: tuple[float, float]
    anchor_box: tuple[int, int, int, int]
    values_shown: bool
    fft_box: tuple[int, int, int, int]
    fft_size: int

    def cell_center(self, row: int, col: int) -> tuple[float, float]:
        """The ``(x, y)`` centre of the cell of tap ``(row, col)``."""
        x, y = self.heat_box[:2]
        return (x + (col + 0.5) * self.cell[0], y + (row + 0.5) * self.cell[1])


@dataclass(frozen=True)
class KernelPicture:
    """A drawn kernel: the Pillow image and the layout of each component's panels."""

    image: Any
    panels: list[KernelPanel] = field(default_factory=list)


def kernel_picture(
    spec: Any, path: str | os.PathLike[str], *, normalize: bool = False, option: str = "--picture"
) -> KernelPicture:
    """Draw a kernel (see the module) and write it as a PNG, atomically.

    Parameters
    ----------
    spec : Kernel or str
        A kernel or anything :func:`convcli.kernels.kernel` reads.
    path : str or path-like
        A ``.png`` file in an existing folder.
    normalize : bool, optional
        Divide the kernel by its sum first.
    option : str, optional
        The option named in error messages.

    Returns
    -------
    KernelPicture

    Raises
    ------
    UsageError
        For an extension other than ``.png`` (exit code 2).
    ImageWriteError
        If the folder does not exist or the file cannot be written (exit code 1).
    KernelError
        For a bad spec.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "gauss.png")
    >>> kernel_picture("gaussian:sigma=1", target).panels[0].shape
    (9, 9)
    >>> os.path.getsize(target) > 0
    True
    """
    target = check_picture_path(os.fspath(path), option=option, suffixes=(".png",))
    picture = draw_kernel(spec, normalize=normalize)
    write_rgb_png(target, picture.image, option=option)
    return picture


def draw_kernel(spec: Any, *, normalize: bool = False) -> KernelPicture:
    """Draw a kernel's heat map and frequency response; an operator one row per component.

    Parameters
    ----------
    spec : Kernel or str
        A kernel or anything :func:`convcli.kernels.kernel` reads.
    normalize : bool, optional
        Divide the kernel by its sum first.

    Returns
    -------
    KernelPicture
        The image (RGB) and the layout of each panel.

    Examples
    --------
    >>> picture = draw_kernel("sobel:axis=both")
    >>> [p.spec for p in picture.panels]
    ['sobel:axis=x,size=3', 'sobel:axis=y,size=3']
    >>> picture.image.mode
    'RGB'
    """
    from PIL import Image, ImageDraw

    from ..kernels import kernel

    k = kernel(spec, normalize=normalize)
    parts = list(k.components) if k.is_operator else [k]
    title_font, font, small = _font(15), _font(12), _font(11)
    h, w = k.shape
    title = f"{k.spec}  {h}x{w}"
    if k.is_operator:
        title += f"  operator: {k.combine} of {len(parts)} kernels, one row each"
    plans = [_plan(part) for part in parts]
    label_h = 22 if k.is_operator else 0
    caption_h = 40
    width = max(_text_width(title, title_font) + 2 * _MARGIN,
                max(p["width"] for p in plans) + 2 * _MARGIN)
    y = _MARGIN + 26
    heights = [label_h + max(p["heat_h"], _FFT_SIDE) + caption_h for p in plans]
    image = Image.new("RGB", (width, y + sum(heights) + (len(plans) - 1) * 12 + _MARGIN), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((_MARGIN, _MARGIN), title, fill=_INK, font=title_font)
    panels = []
    for part, plan, row_h in zip(parts, plans, heights, strict=True):
        if label_h:
            draw.text((_MARGIN, y), f"component: {part.spec}", fill=_INK, font=font)
        panels.append(_draw_row(image, draw, part, plan, _MARGIN, y + label_h, fonts=(font, small)))
        y += row_h + 12
    return KernelPicture(image=image, panels=panels)


def _plan(part: Any) -> dict[str, Any]:
    """Sizes of one component's row: heat map, colour bar and frequency panel."""
    h, w = part.shape
    values = max(h, w) <= MAX_VALUES_SIDE
    if values:
        cell_w = cell_h = float(_VALUE_CELL)
    else:
        scale = _HEAT_SIDE / max(h, w)
        cell_w = cell_h = scale
    heat_w, heat_h = round(w * cell_w), round(h * cell_h)
    heat_w, heat_h = max(heat_w, 1), max(heat_h, 1)
    bar_w = 0 if values else _BAR + 8 + 70
    width = max(heat_w + bar_w, 200) + _GAP + _FFT_SIDE
    return {"values": values, "cell": (heat_w / w, heat_h / h), "heat_w": heat_w, "heat_h": heat_h,
            "bar_w": bar_w, "width": width}


def _draw_row(image: Any, draw: Any, part: Any, plan: dict[str, Any], x: int, y: int,
              *, fonts: tuple[Any, Any]) -> KernelPanel:
    """Draw one linear kernel's heat map (values or colour bar, anchor) and frequency panel at ``(x, y)``."""
    from PIL import Image

    font, small = fonts
    matrix = np.asarray(part.matrix, dtype=np.float64)
    h, w = matrix.shape
    low, high = float(matrix.min()), float(matrix.max())
    levels = (matrix - low) / (high - low) if high > low else np.full(matrix.shape, 0.5)
    colours = _colour_map(levels)
    heat_w, heat_h = plan["heat_w"], plan["heat_h"]
    cell_w, cell_h = plan["cell"]
    resample = Image.Resampling.NEAREST
    image.paste(Image.fromarray(colours, "RGB").resize((heat_w, heat_h), resample), (x, y))
    if plan["values"]:
        for r in range(1, h):  # thin white grid lines between the cells
            draw.line([(x, y + round(r * cell_h)), (x + heat_w - 1, y + round(r * cell_h))], fill=_BACKGROUND)
        for c in range(1, w):
            draw.line([(x + round(c * cell_w), y), (x + round(c * cell_w), y + heat_h - 1)], fill=_BACKGROUND)
        for r in range(h):
            for c in range(w):
                text = _value_text(matrix[r, c])
                lum = float(colours[r, c] @ np.array([0.299, 0.587, 0.114]))
                centre = (x + (c + 0.5) * cell_w, y + (r + 0.5) * cell_h)
                draw.text(centre, text, fill=_INK if lum > 140 else (255, 255, 255), font=small, anchor="mm")
    else:
        _colour_bar(image, draw, x + heat_w + 8, y, heat_h, low, high, small)
    ar, ac = part.effective_anchor
    x0, y0 = x + math.floor(ac * cell_w), y + math.floor(ar * cell_h)
    x1, y1 = x + math.ceil((ac + 1) * cell_w) - 1, y + math.ceil((ar + 1) * cell_h) - 1
    if x1 - x0 < 6:  # a tiny cell: an outline around it that can still be seen
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        x0, y0, x1, y1 = cx - 4, cy - 4, cx + 4, cy + 4
    draw.rectangle([x0, y0, x1, y1], outline=_ANCHOR, width=3 if plan["values"] else 2)
    what = "values" if plan["values"] else f"colour bar; values shown up to {MAX_VALUES_SIDE}x{MAX_VALUES_SIDE}"
    draw.text((x, y + max(heat_h, _FFT_SIDE) + 6), f"kernel {h}x{w} ({what})", fill=_INK, font=font)
    draw.text((x, y + max(heat_h, _FFT_SIDE) + 22), f"cyan box: anchor (row {ar}, col {ac})", fill=_INK,
              font=font)
    fx = x + max(heat_w + plan["bar_w"], 200) + _GAP
    magnitude, n = frequency_response(matrix)
    peak = float(magnitude.max())
    levels = magnitude / peak if peak > 0 else magnitude
    spectrum = Image.fromarray(_colour_map(levels), "RGB")
    spectrum = spectrum.resize((_FFT_SIDE, _FFT_SIDE), resample if n <= _FFT_SIDE else Image.Resampling.BOX)
    image.paste(spectrum, (fx, y))
    draw.text((fx, y + _FFT_SIDE + 6), f"|FFT| ({n}x{n}, zero frequency at the centre)", fill=_INK, font=font)
    draw.text((fx, y + _FFT_SIDE + 22), f"black 0 .. bright {_value_text(peak)}; centre = low frequencies",
              fill=_INK, font=font)
    return KernelPanel(
        spec=part.spec, shape=(h, w), anchor=(ar, ac), heat_box=(x, y, heat_w, heat_h), cell=(cell_w, cell_h),
        anchor_box=(x0, y0, x1, y1), values_shown=plan["values"], fft_box=(fx, y, _FFT_SIDE, _FFT_SIDE),
        fft_size=n,
    )


def frequency_response(matrix: Any, *, size: int | None = None) -> tuple[np.ndarray, int]:
    """``|FFT|`` of a kernel zero-padded to ``N x N``, zero frequency shifted to the centre.

    Parameters
    ----------
    matrix : array_like
        The kernel (2-D).
    size : int, optional
        ``N``; default 64, or the next power of two at least the kernel's longer side.

    Returns
    -------
    (ndarray, int)
        The magnitude (``N x N`` float64) and ``N``.

    Examples
    --------
    >>> magnitude, n = frequency_response([[1, 1, 1]])
    >>> n, float(magnitude[32, 32])  # the DC gain is the sum
    (64, 3.0)
    """
    arr = np.asarray(matrix, dtype=np.float64)
    n = size or max(_FFT_MIN, 1 << (max(arr.shape) - 1).bit_length())
    return np.abs(np.fft.fftshift(np.fft.fft2(arr, s=(n, n)))), n


def _colour_map(levels: np.ndarray) -> np.ndarray:
    """Levels in 0..1 → RGB uint8 through the inferno-like anchors (brighter for higher levels)."""
    t = np.clip(np.nan_to_num(levels), 0.0, 1.0) * (len(_MAP_ANCHORS) - 1)
    low = np.minimum(np.floor(t).astype(int), len(_MAP_ANCHORS) - 2)
    frac = (t - low)[..., None]
    rgb = _MAP_ANCHORS[low] * (1 - frac) + _MAP_ANCHORS[low + 1] * frac
    return np.rint(rgb).astype(np.uint8)


def _colour_bar(image: Any, draw: Any, x: int, y: int, height: int, low: float, high: float, font: Any) -> None:
    """A vertical colour bar, ``high`` at the top and ``low`` at the bottom, labelled."""
    from PIL import Image

    ramp = np.linspace(1.0, 0.0, max(height, 2))[:, None].repeat(_BAR, axis=1)
    image.paste(Image.fromarray(_colour_map(ramp), "RGB").resize((_BAR, height)), (x, y))
    draw.text((x + _BAR + 4, y), _value_text(high), fill=_INK, font=font)
    draw.text((x + _BAR + 4, y + height - 12), _value_text(low), fill=_INK, font=font)


def _value_text(value: float) -> str:
    """A tap's value, short enough for its cell: integers in full, else three significant digits (two in
    a short exponent form when that is shorter: ``2.4e-4``)."""
    value = float(value)
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    text = _short_exponent(f"{value:.3g}")
    return text if len(text.lstrip("-")) <= 6 else _short_exponent(f"{value:.1e}")


def _short_exponent(text: str) -> str:
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def _font(size: int) -> Any:
    """Pillow's bundled font at ``size`` px (the same on every machine: deterministic pictures)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _text_width(text: str, font: Any) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)
