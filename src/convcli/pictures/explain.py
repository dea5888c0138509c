"""Pictures of :func:`convcli.learn.explain`: the window sliding, step by step (``convcli explain --picture``).

One frame per step: for a correlation (or convolution), the padded input as a
grid (border cells shaded, rows and columns labelled with input coordinates),
the current window outlined in :data:`~convcli.pictures._draw.WINDOW` red, the
kernel (and the rotated kernel for true convolution), the window's products
and their sum, and the output filling in cell by cell (the current cell
highlighted); the output-size formula with its numbers is the caption.
Pooling frames follow (the winning cell ringed in green).  With the backward
pass, delta travels back: one frame per pooling window (its delta going to the
winner, or shared), then one per sum of the backward correlation (the
zero-padded delta, a window outlined, the rotated kernel, delta on the padded
input filling in), and a last sheet with all of it (delta on the input and
the kernel gradient).

A ``.gif`` holds every frame; a ``.png`` the last one (every output filled in,
or the backward sheet); ``step=N`` gives frame N alone, pixel for pixel the
GIF's frame N.

Examples
--------
>>> from convcli.learn import explain
>>> e = explain([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 0], [0, 1]], pad=1, stride=2)
>>> frames = explain_frames(e)
>>> len(frames), frames[0].size == frames[-1].size
(4, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..errors import UsageError
from ..learn.explanation import ConvBackward, ConvExplanation, Explanation, PoolBackward, PoolExplanation, Step
from ._draw import (
    BORDER_FILL,
    CURRENT_FILL,
    PRODUCT_FILL,
    WINNER,
    Grid,
    check_picture_path,
    draw_grid,
    fmt,
    font,
    outline,
    text_size,
    write_picture,
)

__all__ = ["CELL_HEIGHT", "MARGIN", "explain_frames", "explain_picture", "input_grid"]

#: the height of a cell in pixels (the width fits the longest number, at least this)
CELL_HEIGHT = 26
#: space around and between panels
MARGIN = 18
_TITLE = 15
_TEXT = 13
_LINE = 20


def _cell(*matrices: Any) -> tuple[int, int]:
    """The cell size: wide enough for every number (and label) of the matrices."""
    widest = max((text_size(fmt(v), _TEXT)[0] for m in matrices for v in np.asarray(m, float).ravel()),
                 default=0)
    return max(CELL_HEIGHT, widest + 10), CELL_HEIGHT


def _ascii(text: str) -> str:
    """The bundled font has no Greek or mathematical signs."""
    for old, new in (("·", "*"), ("−", "-"), ("×", "x"), ("δ", "delta"), ("→", "->"), ("∇", "grad ")):
        text = text.replace(old, new)
    return text


class _Sheet:
    """A picture under construction: panels placed left to right, lines of text, grown as needed."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width, height), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.image)
        self.right = 0
        self.bottom = 0

    def text(self, x: int, y: int, words: str, *, size: int = _TEXT, bold: bool = False) -> int:
        """Write a line; return the y below it."""
        words = _ascii(words)
        self.draw.text((x, y), words, font=font(size), fill=(0, 0, 0), stroke_width=0)
        if bold:
            self.draw.text((x + 1, y), words, font=font(size), fill=(0, 0, 0))
        width, _ = text_size(words, size)
        self.right = max(self.right, x + width)
        self.bottom = max(self.bottom, y + size + 4)
        return y + _LINE

    def grid(self, x: int, y: int, title: str, values: Any, *, cell: tuple[int, int], **options: Any) -> Grid:
        """A titled grid at (x, y)."""
        self.text(x, y, title)
        matrix = [[None if v != v else float(v) for v in row] for row in np.asarray(values, float)]
        grid = draw_grid(self.draw, x, y + _LINE, matrix, cell=cell, size=_TEXT, **options)
        self.right = max(self.right, grid.right, x + text_size(_ascii(title), _TEXT)[0])
        self.bottom = max(self.bottom, grid.bottom)
        return grid

    def finish(self) -> Image.Image:
        return self.image.crop((0, 0, self.right + MARGIN, self.bottom + MARGIN))


def _conv_title(conv: ConvExplanation) -> str:
    kind = "convolution" if conv.operation == "convolve" else "correlation"
    h, w = conv.input.shape
    kh, kw = conv.kernel.shape
    pads = "pad {}/{}/{}/{} (top/bottom/left/right)".format(*conv.pad)
    if len(set(conv.pad)) == 1:
        pads = f"pad {conv.pad[0]}" if any(conv.pad) else "no padding"
    border = f"constant {fmt(conv.border_value)}" if conv.border == "constant" else conv.border
    extras = f" ({border})" if any(conv.pad) else ""
    if conv.stride != (1, 1):
        extras += f", stride {conv.stride[0]}x{conv.stride[1]}"
    if conv.dilation != (1, 1):
        extras += f", dilation {conv.dilation[0]}x{conv.dilation[1]}"
    oh, ow = conv.output.shape
    return f"{kind} of a {h}x{w} input with a {kh}x{kw} kernel, {pads}{extras} -> {oh}x{ow} output"


def _formula_lines(formula: tuple[str, str]) -> list[str]:
    rows, cols = formula
    if rows == cols:
        return [f"rows, columns: {rows}"]
    return [f"rows: {rows}", f"columns: {cols}"]


@dataclass(frozen=True)
class _Sums:
    """A sliding weighted sum to draw frame by frame: the forward correlation, or delta through it.

    ``source`` is the matrix the windows are cut from (``shaded`` marks its
    border), ``origin`` turns the steps' window coordinates into its indices,
    ``weights`` are the titled grids that multiply the windows (the first one
    slides), and the sums fill ``output``.
    """

    title: str
    source_title: str
    source: Any
    shaded: Any
    origin: tuple[int, int]
    weights: tuple[tuple[str, Any], ...]
    steps: tuple[Step, ...]
    output_title: str
    output_shape: tuple[int, int]
    caption: tuple[str, ...]
    output_name: str = "out"

    @property
    def labels(self) -> tuple[list[int], list[int]]:
        """The source's row and column labels: input coordinates (the border is outside 0..H-1)."""
        top, left = self.origin
        return [r - top for r in range(self.source.shape[0])], [c - left for c in range(self.source.shape[1])]


@dataclass(frozen=True)
class _Layout:
    """Where the panels of a frame go (the same in every frame of one :class:`_Sums`)."""

    cell: tuple[int, int]
    kernel_x: int
    products_x: int
    output_x: int
    top: int


def _forward_sums(conv: ConvExplanation) -> _Sums:
    top, _, left, _ = conv.pad
    weights: tuple[tuple[str, Any], ...] = (("kernel", conv.kernel),)
    if conv.operation == "convolve":
        weights = (("rotated kernel (convolution)", conv.applied), ("kernel as given", conv.kernel))
    oh, ow = conv.output.shape
    return _Sums(
        title=_conv_title(conv),
        source_title="padded input (labels: input rows, columns)" if any(conv.pad) else "input",
        source=conv.padded, shaded=conv.border_cells, origin=(top, left), weights=weights, steps=conv.steps,
        output_title=f"output {oh}x{ow}", output_shape=(oh, ow),
        caption=("output size: N = floor((O + 2P - K) / S) + 1", *_formula_lines(conv.formula)),
    )


def _backward_sums(conv: ConvExplanation, back: ConvBackward) -> _Sums:
    zero = back.padding_cells
    stride = "" if conv.stride == (1, 1) else ", with stride - 1 zeros between its terms"
    return _Sums(
        title="backward pass: delta travels back through the correlation",
        source_title=f"delta padded with (K - 1) zeros{stride}",
        source=back.padded_error, shaded=zero, origin=(0, 0), weights=(("rotated kernel", back.rotated_kernel),),
        steps=back.input_steps, output_title="delta on the padded input", output_shape=back.grad_padded.shape,
        caption=("delta_in = the full convolution of delta with the kernel:",
                 "the zero-padded delta correlated with the kernel rotated 180 degrees"),
        output_name="delta_on_padded_input",
    )


def _layout(sums: _Sums) -> _Layout:
    products = np.array([s.products for s in sums.steps])
    sums_ = [s.sum for s in sums.steps]
    cell = _cell(sums.source, products, sums_, *(m for _, m in sums.weights), [[-sums.origin[0]]])
    cw = cell[0]
    top = MARGIN + 2 * _LINE
    kernel_x = max(MARGIN + cw * (sums.source.shape[1] + 1), MARGIN + text_size(sums.source_title, _TEXT)[0])
    kernel_x += 2 * MARGIN
    kw = sums.weights[0][1].shape[1]
    widest = max(text_size(title, _TEXT)[0] for title, _ in sums.weights)
    products_x = kernel_x + max(kw * cw, widest) + 2 * MARGIN
    output_x = products_x + max(kw * cw, text_size("products: window x kernel", _TEXT)[0]) + 2 * MARGIN
    return _Layout(cell, kernel_x, products_x, output_x, top)


def _sum_frame(sums: _Sums, number: int, lay: _Layout) -> Image.Image:
    """Frame ``number`` (0-based): the window outlined, the weights, the products, the output so far."""
    cw, ch = lay.cell
    kh = max(m.shape[0] for _, m in sums.weights)
    sheet = _Sheet(lay.output_x + (sums.output_shape[1] + 2) * cw + 1200,
                   lay.top + (sums.source.shape[0] + kh * 2 + 4) * ch + 300)
    step = sums.steps[number]
    sheet.text(MARGIN, MARGIN, sums.title, size=_TITLE, bold=True)
    i, j = step.position
    sheet.text(MARGIN, MARGIN + _LINE, f"step {number + 1} of {len(sums.steps)}: {sums.output_name}[{i}, {j}] = "
               f"{fmt(step.sum)}")
    rows, cols = sums.labels
    shaded = sums.shaded
    grid = sheet.grid(MARGIN, lay.top, sums.source_title, sums.source, cell=lay.cell, row_labels=rows,
                      col_labels=cols, fill=lambda a, b: BORDER_FILL if shaded[a, b] else None)
    top, left = sums.origin
    outline(sheet.draw, grid, (step.rows[0] + top, step.rows[-1] + top), (step.cols[0] + left, step.cols[-1] + left))
    y = lay.top
    for title, matrix in sums.weights:
        sheet.grid(lay.kernel_x, y, title, matrix, cell=lay.cell)
        y += _LINE + matrix.shape[0] * ch + MARGIN
    sheet.grid(lay.products_x, lay.top, "products: window x kernel", step.products, cell=lay.cell,
               fill=lambda a, b: PRODUCT_FILL)
    sheet.text(lay.products_x, lay.top + _LINE + step.products.shape[0] * ch + 6, f"sum = {fmt(step.sum)}")
    shown = np.full(sums.output_shape, np.nan)
    for s in sums.steps[: number + 1]:
        shown[s.position] = s.sum
    sheet.grid(lay.output_x, lay.top, sums.output_title, shown, cell=lay.cell,
               fill=lambda a, b: CURRENT_FILL if (a, b) == (i, j) else None)
    y = max(grid.bottom, sheet.bottom) + MARGIN
    y = sheet.text(MARGIN, y, sums.caption[0], bold=True)
    for line in sums.caption[1:]:
        y = sheet.text(MARGIN + 12, y, line)
    return sheet.finish()


def _pool_frame(pool: PoolExplanation, number: int, cell: tuple[int, int], *, after_conv: bool) -> Image.Image:
    """Frame ``number`` (0-based) of pooling: the window outlined, the winner ringed, the output so far."""
    sheet = _Sheet((pool.padded.shape[1] + pool.output.shape[1] + 3) * cell[0] + 1200,
                   (pool.padded.shape[0] + 2) * cell[1] + 300)
    step = pool.steps[number]
    total = len(pool.steps)
    h, w = pool.input.shape
    source = f"the {h}x{w} output" if after_conv else f"a {h}x{w} input"
    sh, sw = pool.stride
    extras = f", pad {pool.pad[0]}x{pool.pad[1]}" if any(pool.pad) else ""
    extras += ", ceil_mode" if pool.ceil_mode else ""
    oh, ow = pool.output.shape
    sheet.text(MARGIN, MARGIN, f"{pool.op} pooling of {source}: {pool.size[0]}x{pool.size[1]} windows, "
               f"stride {sh}x{sw}{extras} -> {oh}x{ow}", size=_TITLE, bold=True)
    i, j = step.position
    values = [fmt(v) for v in step.window.ravel() if v == v]
    if step.winner is None:
        rule = f"({' + '.join(values)}) / {step.count} = {fmt(step.value)}"
    else:
        rule = f"{pool.op}({', '.join(values)}) = {fmt(step.value)}"
    sheet.text(MARGIN, MARGIN + _LINE, f"step {number + 1} of {total}: out[{i}, {j}] = {rule}")
    ph, pw = pool.pad
    rows = [r - ph for r in range(pool.padded.shape[0])]
    cols = [c - pw for c in range(pool.padded.shape[1])]
    title = "padded input (labels: input rows, columns)" if any(pool.pad) or pool.padded.shape != (h, w) else "input"
    padding = np.isnan(pool.padded)
    top = MARGIN + 2 * _LINE
    grid = sheet.grid(MARGIN, top, title, pool.padded, cell=cell, row_labels=rows, col_labels=cols,
                      fill=lambda a, b: BORDER_FILL if padding[a, b] else None)
    r_idx = [r + ph for r in step.rows]
    c_idx = [c + pw for c in step.cols]
    outline(sheet.draw, grid, (r_idx[0], r_idx[-1]), (c_idx[0], c_idx[-1]))
    if step.winner is not None:
        a, b = r_idx[step.winner[0]], c_idx[step.winner[1]]
        left, up, right, down = grid.box(a, b)
        sheet.draw.ellipse((left + 3, up + 3, right - 3, down - 3), outline=WINNER, width=2)
    out_x = max(grid.right, MARGIN + text_size(title, _TEXT)[0]) + 2 * MARGIN
    shown = np.full(pool.output.shape, np.nan)
    for s in pool.steps[: number + 1]:
        shown[s.position] = s.value
    out = sheet.grid(out_x, top, f"pooled output {oh}x{ow}", shown, cell=cell,
                     fill=lambda a, b: CURRENT_FILL if (a, b) == (i, j) else None)
    y = max(grid.bottom, out.bottom) + MARGIN
    legend = "green ring: the winning value (its error goes back there)" if step.winner is not None else (
        "mean: padding cells are not counted")
    y = sheet.text(MARGIN, y, legend)
    y = sheet.text(MARGIN, y, "output size: N = floor((O + 2P - K) / S) + 1 (ceil with ceil_mode)", bold=True)
    for line in _formula_lines(pool.formula):
        y = sheet.text(MARGIN + 12, y, line)
    return sheet.finish()


def _route_frame(pool: PoolExplanation, back: PoolBackward, number: int, cell: tuple[int, int]) -> Image.Image:
    """Backward frame ``number`` through pooling: one error term going to its window's winner (or shared)."""
    route = back.routes[number]
    step = pool.steps[number]
    ph, pw = pool.pad
    sheet = _Sheet((pool.padded.shape[1] + back.error.shape[1] + 3) * cell[0] + 1200,
                   (pool.padded.shape[0] + 2) * cell[1] + 300)
    sheet.text(MARGIN, MARGIN, f"backward pass: delta travels back through {pool.op} pooling", size=_TITLE,
               bold=True)
    i, j = route.position
    where = ", ".join(f"({r}, {c})" for r, c in route.targets)
    sheet.text(MARGIN, MARGIN + _LINE, f"step {number + 1} of {len(back.routes)}: delta[{i}, {j}] = "
               f"{fmt(route.error)} -> {fmt(route.share)} to {where}")
    shown = np.where(np.isnan(pool.padded), np.nan, 0.0)
    for done in back.routes[: number + 1]:
        for r, c in done.targets:
            shown[r + ph, c + pw] += done.share
    padding = np.isnan(pool.padded)
    rows = [r - ph for r in range(pool.padded.shape[0])]
    cols = [c - pw for c in range(pool.padded.shape[1])]
    top = MARGIN + 2 * _LINE
    title = "delta on the pooling input"
    grid = sheet.grid(MARGIN, top, title, shown, cell=cell, row_labels=rows, col_labels=cols,
                      fill=lambda a, b: BORDER_FILL if padding[a, b] else None)
    outline(sheet.draw, grid, (step.rows[0] + ph, step.rows[-1] + ph), (step.cols[0] + pw, step.cols[-1] + pw))
    for r, c in route.targets:
        left, up, right, down = grid.box(r + ph, c + pw)
        sheet.draw.ellipse((left + 3, up + 3, right - 3, down - 3), outline=WINNER, width=2)
    out_x = max(grid.right, MARGIN + text_size(title, _TEXT)[0]) + 2 * MARGIN
    result = sheet.grid(out_x, top, "delta on the pooled output", back.error, cell=cell,
                        fill=lambda a, b: CURRENT_FILL if (a, b) == (i, j) else None)
    y = max(grid.bottom, result.bottom) + MARGIN
    sheet.text(MARGIN, y, "max/min: each delta goes to the value that won its window (ringed), the others get 0"
               if pool.op != "mean" else "mean: each delta is shared evenly by the window's pixels: delta / count")
    return sheet.finish()


def _backward_sheet(e: Explanation) -> Image.Image:
    """The backward pass on one sheet: delta on the result, through pooling, through the correlation."""
    back = e.backward
    assert back is not None
    matrices: list[Any] = [back.error]
    if back.pool is not None:
        matrices.append(back.pool.grad_input)
    if back.conv is not None:
        c = back.conv
        matrices += [c.padded_error, c.rotated_kernel, c.grad_padded, c.grad_input, c.grad_kernel]
    cell = _cell(*matrices)
    sheet = _Sheet(sum((np.shape(m)[1] + 1) * cell[0] + 300 for m in matrices) + 1200,
                   max(np.shape(m)[0] for m in matrices) * cell[1] + 500)
    sheet.text(MARGIN, MARGIN, "backward pass: the error term delta = dL/d(output) travels back", size=_TITLE,
               bold=True)
    x, top = MARGIN, MARGIN + 2 * _LINE
    panels: list[Grid] = []

    def panel(title: str, values: Any, **options: Any) -> Grid:
        nonlocal x
        grid = sheet.grid(x, top, title, values, cell=cell, **options)
        x = max(grid.right, x + text_size(_ascii(title), _TEXT)[0]) + 2 * MARGIN
        panels.append(grid)
        return grid

    notes = []
    panel("delta on the result", back.error)
    if back.pool is not None and e.pool is not None:
        targets = {t for route in back.pool.routes for t in route.targets}
        panel(f"delta through {e.pool.op} pooling", back.pool.grad_input,
              fill=lambda a, b: CURRENT_FILL if (a, b) in targets else None)
        notes.append("max/min pooling: each delta goes to the value that won its window, the others get 0"
                     if e.pool.op != "mean" else "mean pooling: each delta is shared evenly: delta / count")
    if back.conv is not None and e.conv is not None:
        c, conv = back.conv, e.conv
        zero = c.padding_cells
        inside = [s for s in c.input_steps if s.sum != 0] or list(c.input_steps)
        example = inside[0]
        grid = panel("padded delta (full padding)", c.padded_error,
                     fill=lambda a, b: BORDER_FILL if zero[a, b] else None)
        outline(sheet.draw, grid, (example.rows[0], example.rows[-1]), (example.cols[0], example.cols[-1]))
        panel("rotated kernel", c.rotated_kernel)
        panel("delta on the padded input", c.grad_padded,
              fill=lambda a, b: CURRENT_FILL if (a, b) == example.position else None)
        panel("delta_in", c.grad_input)
        panel("grad w (kernel gradient)", c.grad_kernel)
        notes.append("through the correlation: delta_in = full convolution of delta with the kernel, i.e. the "
                     "padded delta correlated with the kernel rotated 180 degrees")
        fold = ("drop the zero border" if conv.border == "constant"
                else f"add each {conv.border} border cell's share to the pixel it copied")
        if not any(conv.pad):
            fold = "there is no padding, so that is delta_in"
        notes.append(f"e.g. the outlined window x rotated kernel = {fmt(example.sum)} (highlighted); then {fold}")
        notes.append("grad w = the padded input correlated with delta (stride-spaced)")
    y = max(g.bottom for g in panels) + MARGIN
    for note in notes:
        y = sheet.text(MARGIN, y, note)
    return sheet.finish()


def _pool_cell(pool: PoolExplanation, *more: Any) -> tuple[int, int]:
    return _cell(pool.padded, pool.output, [[-pool.pad[0]]], *more)


def explain_frames(explanation: Explanation, *, backward: bool = True) -> list[Image.Image]:
    """Every frame of an explanation's picture, in order (RGB images).

    Parameters
    ----------
    explanation : Explanation
        From :func:`convcli.learn.explain`.
    backward : bool, optional
        Draw the backward pass too, when the explanation has one.

    Returns
    -------
    list of PIL.Image.Image
        One frame per convolution step, then one per pooling step; with the
        backward pass, one per pooling window's delta, one per sum of the
        backward correlation, and the backward sheet.

    Examples
    --------
    >>> from convcli.learn import explain
    >>> len(explain_frames(explain([[1, 3], [4, 2]], pool="max:size=1", backward=True)))  # 4 + 4 + 1
    9
    """
    frames: list[Image.Image] = []
    conv, pool, back = explanation.conv, explanation.pool, explanation.backward
    if conv is not None:
        sums = _forward_sums(conv)
        lay = _layout(sums)
        frames += [_sum_frame(sums, n, lay) for n in range(len(sums.steps))]
    if pool is not None:
        cell = _pool_cell(pool)
        frames += [_pool_frame(pool, n, cell, after_conv=conv is not None) for n in range(len(pool.steps))]
    if backward and back is not None:
        if back.pool is not None and pool is not None:
            cell = _pool_cell(pool, back.pool.grad_input, back.error)
            frames += [_route_frame(pool, back.pool, n, cell) for n in range(len(back.pool.routes))]
        if back.conv is not None and conv is not None:
            sums = _backward_sums(conv, back.conv)
            lay = _layout(sums)
            frames += [_sum_frame(sums, n, lay) for n in range(len(sums.steps))]
        frames.append(_backward_sheet(explanation))
    return frames


def input_grid(explanation: Explanation) -> Grid:
    """Where the first frame draws its input grid (the padded input of the convolution, or of the pooling).

    For tests and tools that read the pictures: cell ``(i, j)`` of the padded
    input is ``input_grid(e).box(i, j)`` in every convolution frame (pooling
    frames likewise when there is no kernel).

    Examples
    --------
    >>> from convcli.learn import explain
    >>> g = input_grid(explain([[1, 2], [3, 4]], [[1]], pad=1))
    >>> (g.rows, g.cols), g.ch == CELL_HEIGHT
    ((4, 4), True)
    """
    top = MARGIN + 2 * _LINE + _LINE
    if explanation.conv is not None:
        cw, ch = _layout(_forward_sums(explanation.conv)).cell
        rows, cols = explanation.conv.padded.shape
    else:
        pool = explanation.pool
        assert pool is not None
        cw, ch = _pool_cell(pool)
        rows, cols = pool.padded.shape
    return Grid(MARGIN + cw, top + ch, cw, ch, rows, cols)


def explain_picture(explanation: Explanation, path: str | Path, *, step: int | None = None) -> int:
    """Draw an explanation into ``path``: ``.gif`` every step, ``.png`` one sheet; return the frames written.

    Parameters
    ----------
    explanation : Explanation
        From :func:`convcli.learn.explain`.
    path : str or path-like
        The picture to write, ending in ``.png`` or ``.gif``; its folder must exist.
    step : int, optional
        Only frame ``step`` (1-based, in the order of :func:`explain_frames`),
        identical to that frame of the GIF.

    Returns
    -------
    int
        The number of frames written.

    Raises
    ------
    UsageError
        For another extension or a step out of range (exit 2).
    ImageWriteError
        For a missing folder or a failed write (exit 1); nothing is left behind.

    Examples
    --------
    >>> import tempfile, os
    >>> from convcli.learn import explain
    >>> target = os.path.join(tempfile.mkdtemp(), "steps.gif")
    >>> explain_picture(explain([[1, 2, 3], [4, 5, 6]], [[1, 1]]), target)
    4
    """
    check_picture_path(path)
    frames = explain_frames(explanation)
    if step is not None:
        if not 1 <= step <= len(frames):
            raise UsageError(f"--step {step}: the picture has {len(frames)} frames; give 1 to {len(frames)}")
        chosen: Sequence[Image.Image] = [frames[step - 1]]
        canvas = _common_canvas(frames)
        write_picture(path, [_on_canvas(chosen[0], canvas)])
        return 1
    if Path(path).suffix.lower() == ".png":
        write_picture(path, [_on_canvas(frames[-1], _common_canvas(frames))])
        return 1
    write_picture(path, frames)
    return len(frames)


def _common_canvas(frames: Sequence[Image.Image]) -> tuple[int, int]:
    return max(f.width for f in frames), max(f.height for f in frames)


def _on_canvas(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A frame on the GIF's canvas size, so a single frame matches the animation pixel for pixel."""
    canvas = Image.new("RGB", size, (255, 255, 255))
    canvas.paste(frame, (0, 0))
    return canvas
