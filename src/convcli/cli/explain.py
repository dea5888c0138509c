"""``convcli explain``: a convolution or pooling step by step.

Parse the options (:mod:`convcli.specs`), one library call
(:func:`convcli.learn.explanation.explain_specs`), render its plain data
(:meth:`~convcli.learn.explanation.Explanation.to_dict`): nested lists, None for a
cell outside the image.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ..specs import parse_ints, parse_pad, parse_pair
from ._app import app, reports_errors
from .options import (
    Command,
    border_option,
    border_value_option,
    dilation_option,
    flip_option,
    json_option,
    kernel_option,
    pad_option,
    pool_option,
    stride_option,
)
from .render import fmt_number, shape_text

Matrix = list[list[Any]]


def _num(value: float | None) -> str:
    """A value in a grid or a sum: ``·`` for a cell outside the image (None)."""
    return "·" if value is None else fmt_number(value)


def _hw(matrix: Matrix) -> str:
    return shape_text((len(matrix), len(matrix[0])))


def _flat(matrix: Matrix) -> list[Any]:
    return [value for row in matrix for value in row]


def _pair(values: list[int]) -> Any:
    """One number when both sides agree, else the pair as ``(a, b)``."""
    return values[0] if values[0] == values[1] else tuple(values)


def _grid(matrix: Matrix, *, dim: Any = None, row_labels: Any = None, col_labels: Any = None,
          label_dim: Any = None) -> Any:
    """A matrix as a Rich grid: ``dim`` cells faint (the border); labelled rows and columns optional."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    columns = len(matrix[0]) + (1 if row_labels is not None else 0)
    for _ in range(columns):
        grid.add_column(justify="right", no_wrap=True)

    def label(value: int, faint: bool) -> Text:
        return Text(str(value), style="dim italic" if faint else "italic")

    if col_labels is not None:
        header = [Text("")] if row_labels is not None else []
        header += [label(c, label_dim[1][j]) for j, c in enumerate(col_labels)]
        grid.add_row(*header)
    for i, row in enumerate(matrix):
        cells = [label(row_labels[i], label_dim[0][i])] if row_labels is not None else []
        for j, value in enumerate(row):
            style = "dim cyan" if dim is not None and dim[i][j] else ""
            cells.append(Text(_num(value), style=style))
        grid.add_row(*cells)
    return grid


def _span(coords: list[int]) -> str:
    if len(coords) > 1 and all(b - a == 1 for a, b in pairwise(coords)):
        return f"{coords[0]}..{coords[-1]}"
    return ", ".join(str(v) for v in coords)


def _sum_line(products: Matrix, total: float) -> str:
    terms = [_num(v) for v in _flat(products)]
    if len(terms) > 25:
        return f"sum = {_num(total)}"
    text = " + ".join(terms).replace("+ -", "- ")
    return f"sum = {text} = {_num(total)}"


def _side_by_side(console: Any, parts: list[tuple[str, Any]]) -> None:
    """Matrices next to each other with their titles (and operators) above."""
    from rich.padding import Padding
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    for _ in parts:
        table.add_column(no_wrap=True)
    table.add_row(*[title for title, _ in parts])
    table.add_row(*[item for _, item in parts])
    console.print(Padding(table, (0, 0, 0, 2), expand=False))


def _show(console: Any, title: str, matrix: Matrix) -> None:
    from rich.padding import Padding

    console.print(title)
    console.print(Padding(_grid(matrix), (0, 0, 0, 2), expand=False))


def _render_conv(console: Any, conv: dict[str, Any], *, step: int | None) -> None:
    from rich.markup import escape

    x = conv["input"]
    h, w = len(x), len(x[0])
    top, bottom, left, right = conv["pad"]
    convolve = conv["operation"] == "convolve"
    kind = "convolution" if convolve else "correlation"
    pads = f"pad {top}" if len(set(conv["pad"])) == 1 else f"pad top {top}, bottom {bottom}, left {left}, right {right}"
    if not any(conv["pad"]):
        pads = "no padding"
    border = f"constant {_num(conv['border_value'])}" if conv["border"] == "constant" else conv["border"]
    extras = ""
    if conv["stride"] != [1, 1]:
        extras += f", stride {_pair(conv['stride'])}"
    if conv["dilation"] != [1, 1]:
        extras += f", dilation {_pair(conv['dilation'])}"
    border_text = f" ({escape(border)})" if any(conv["pad"]) else ""
    console.print(
        f"[bold]{kind}[/bold] of a {_hw(x)} input with a {_hw(conv['kernel'])} kernel, {pads}{border_text}"
        f"{escape(extras)} -> {_hw(conv['output'])} output"
    )
    console.print()
    applied = conv["rotated_kernel"] if convolve else conv["kernel"]
    if convolve:
        _side_by_side(console, [
            ("[bold]kernel[/bold]", _grid(conv["kernel"])),
            ("[bold]rotated 180°[/bold] (true convolution slides this)", _grid(applied)),
        ])
    else:
        _show(console, "[bold]kernel[/bold]  (correlation: it slides as it is, not rotated)", conv["kernel"])
    console.print()
    padded = conv["padded"]
    rows = [r - top for r in range(len(padded))]
    cols = [c - left for c in range(len(padded[0]))]
    faint = ([not 0 <= r < h for r in rows], [not 0 <= c < w for c in cols])
    if any(conv["pad"]):
        console.print(
            f"[bold]padded input[/bold] ({_hw(padded)}; labels are input coordinates: rows and columns "
            f"outside 0..{h - 1} / 0..{w - 1} are the border, {escape(border)})"
        )
    else:
        console.print(f"[bold]input[/bold] ({_hw(x)}, no padding)")
    from rich.padding import Padding

    console.print(Padding(_grid(padded, dim=conv["border_cells"], row_labels=rows, col_labels=cols,
                                label_dim=faint), (0, 0, 0, 2), expand=False))
    console.print()
    console.print("[bold]output size[/bold]  N = (O + 2P - K) / S + 1  (rounded down when S does not divide)")
    rows_formula, cols_formula = conv["formula"]["rows"], conv["formula"]["columns"]
    if rows_formula == cols_formula:
        console.print(f"  rows, columns: {escape(rows_formula)}")
    else:
        console.print(f"  rows:    {escape(rows_formula)}\n  columns: {escape(cols_formula)}")
    console.print()
    steps = list(enumerate(conv["steps"], start=1))
    if step is not None:
        steps = [steps[step - 1]]
    weights = "rotated kernel" if convolve else "kernel"
    for number, s in steps:
        i, j = s["position"]
        console.print(
            f"[bold]step {number} of {len(conv['steps'])}[/bold]: out[{i}, {j}] from input rows "
            f"{_span(s['rows'])}, columns {_span(s['cols'])}"
        )
        window_dim = [[not (0 <= r < h and 0 <= c < w) for c in s["cols"]] for r in s["rows"]]
        _side_by_side(console, [
            ("window", _grid(s["window"], dim=window_dim)), ("", "\n×"),
            (weights, _grid(applied)), ("", "\n="),
            ("products", _grid(s["products"])),
        ])
        console.print(f"  {_sum_line(s['products'], s['sum'])}")
        console.print()
    _show(console, f"[bold]output[/bold] ({_hw(conv['output'])})", conv["output"])


def _render_pool(console: Any, pool: dict[str, Any], *, after_conv: bool, step: int | None) -> None:
    from rich.markup import escape

    source = f"the {_hw(pool['input'])} output" if after_conv else f"a {_hw(pool['input'])} input"
    window = f"{pool['size'][0]}x{pool['size'][1]}"
    pad = f", pad {_pair(pool['pad'])}" if any(pool["pad"]) else ""
    ceil = ", ceil_mode" if pool["ceil_mode"] else ""
    if after_conv:
        console.print()
    console.print(
        f"[bold]{pool['op']} pooling[/bold] of {source}: {window} windows, stride {escape(str(_pair(pool['stride'])))}"
        f"{escape(pad + ceil)} -> {_hw(pool['output'])}"
    )
    rows_formula, cols_formula = pool["formula"]["rows"], pool["formula"]["columns"]
    if rows_formula == cols_formula:
        console.print(f"  size: rows, columns: {escape(rows_formula)}")
    else:
        console.print(f"  size: rows: {escape(rows_formula)}; columns: {escape(cols_formula)}")
    steps = pool["steps"]
    if step is not None and not after_conv:
        steps = [steps[step - 1]]
    for s in steps:
        i, j = s["position"]
        values = [_num(v) for v in _flat(s["window"]) if v is not None]
        where = f"rows {_span(s['rows'])}, columns {_span(s['cols'])}"
        if s["winner"] is None:
            text = f"({' + '.join(values)}) / {s['count']} = {_num(s['value'])}"
        else:
            r, c = s["rows"][s["winner"][0]], s["cols"][s["winner"][1]]
            text = f"{pool['op']}({', '.join(values)}) = {_num(s['value'])}, from row {r}, column {c}"
        console.print(f"  out[{i}, {j}] ({where}): {escape(text)}")
    _show(console, f"[bold]pooled output[/bold] ({_hw(pool['output'])})", pool["output"])


def _render_backward(console: Any, forward: dict[str, Any] | None, pool: dict[str, Any] | None,
                     back: dict[str, Any]) -> None:
    from rich.markup import escape

    console.print()
    console.print("[bold]backward pass[/bold] (backpropagation): the error term δ = dL/d(output) travels back")
    _show(console, f"δ on the result ({_hw(back['error'])})", back["error"])
    if back["pool"] is not None and pool is not None:
        rule = ("each δ goes to the value that won its window; the others get 0" if pool["op"] != "mean"
                else "each δ is shared evenly by the pixels of its window: δ / count")
        console.print(f"\n[bold]through {pool['op']} pooling[/bold]: {rule}")
        for route in back["pool"]["routes"]:
            i, j = route["position"]
            targets = ", ".join(f"({r}, {c})" for r, c in route["targets"])
            console.print(f"  δ[{i}, {j}] = {_num(route['error'])} -> {_num(route['share'])} to {targets}")
        _show(console, f"δ on the pooling input ({_hw(back['pool']['grad_input'])})", back["pool"]["grad_input"])
    conv = back["conv"]
    if conv is None or forward is None:
        return
    (sh, sw), (dh, dw) = forward["stride"], forward["dilation"]
    console.print("\n[bold]through the correlation[/bold]: δ_in = full convolution of δ with the kernel "
                  "(a full correlation with the kernel rotated 180°)")
    number = 1
    if (sh, sw) != (1, 1):
        _show(console, f"{number}. δ with stride - 1 zeros between its terms (stride {sh}x{sw}; the samples the "
              f"stride dropped have error 0) ({_hw(conv['dilated_error'])})", conv["dilated_error"])
        number += 1
    er, ec = conv["error_pad"]
    _show(console, f"{number}. padded with (K - 1){'·d' if (dh, dw) != (1, 1) else ''} = {er}x{ec} zeros on every "
          f"side, 'full' padding ({_hw(conv['padded_error'])})", conv["padded_error"])
    title = ("kernel rotated 180°" if forward["operation"] == "correlate"
             else "kernel as given (the slid kernel, rotated back)")
    _show(console, f"{number + 1}. correlated with the {title}", conv["rotated_kernel"])
    top, _, left, _ = forward["pad"]
    h, w = len(forward["input"]), len(forward["input"][0])
    inside = [s for s in conv["input_steps"]
              if top <= s["position"][0] < top + h and left <= s["position"][1] < left + w]
    example = next((s for s in inside if s["sum"] != 0), inside[0] if inside else conv["input_steps"][0])
    p, q = example["position"]
    console.print(f"   e.g. δ at padded cell ({p}, {q}), input pixel ({p - top}, {q - left}):")
    _side_by_side(console, [
        ("window of padded δ", _grid(example["window"])), ("", "\n×"),
        ("rotated kernel", _grid(conv["rotated_kernel"])), ("", "\n="),
        ("products", _grid(example["products"])),
    ])
    console.print(f"   {_sum_line(example['products'], example['sum'])}")
    _show(console, f"   = δ on the padded input ({_hw(conv['grad_padded'])})", conv["grad_padded"])
    fold = ("drop the zero border" if forward["border"] == "constant"
            else f"add each {forward['border']} border cell's share to the pixel it copied")
    if not any(forward["pad"]):
        fold = "there is no padding, so this is it"
    _show(console, f"{number + 2}. back to the input: {fold} -> δ_in ({_hw(conv['grad_input'])})", conv["grad_input"])

    def term(tap: str, d: int, index: str, s: int) -> str:
        return f"{tap if d == 1 else f'{tap}·{d}'} + {index if s == 1 else f'{index}·{s}'}"

    formula = f"∇w[a, b] = Σ δ[m, n] · x_padded[{term('a', dh, 'm', sh)}, {term('b', dw, 'n', sw)}]"
    console.print(f"\n[bold]kernel gradient[/bold]: {escape(formula)} (the correlation of the padded input with δ)")
    for s in conv["kernel_steps"]:
        a, b = s["position"]
        console.print(f"  ∇w[{a}, {b}]: padded rows {_span(s['rows'])}, columns {_span(s['cols'])}: "
                      f"{_sum_line(s['products'], s['sum'])}")
    if forward["operation"] == "convolve":
        console.print("  (true convolution slid the rotated kernel, so its gradient is rotated back)")
    _show(console, f"∇w ({_hw(conv['grad_kernel'])})", conv["grad_kernel"])


def render(console: Any, data: dict[str, Any], *, step: int | None) -> None:
    """Print an explanation (``Explanation.to_dict()``): the convolution, the pooling, the backward pass."""
    conv = data if data["kernel"] is not None else None
    pool = data.get("pool") if conv is not None else data
    if conv is not None:
        _render_conv(console, conv, step=step)
    if pool is not None:
        _render_pool(console, pool, after_conv=conv is not None, step=step)
    if data.get("backward") is not None:
        _render_backward(console, conv, pool, data["backward"])


@app.command("explain", cls=Command)
@reports_errors
def explain_command(
    image: Annotated[
        str,
        typer.Option("--image", "-i", metavar="MATRIX|FILE", show_default=False,
                     help="The input: a matrix with rows separated by ';' (\"1 2 3; 4 5 6\"), or a small image "
                          "or .npy file (a path or @path; use --crop for part of a larger one)."),
    ],
    kernel: Annotated[str | None, kernel_option()] = None,
    pad: Annotated[str, pad_option()] = "0",
    stride: Annotated[str, stride_option()] = "1",
    dilation: Annotated[str, dilation_option()] = "1",
    border: Annotated[str, border_option(default_note=" Default constant: zero padding, as in textbook examples.")]
    = "constant",
    border_value: Annotated[float, border_value_option()] = 0.0,
    flip: Annotated[bool, flip_option()] = False,
    pool: Annotated[str | None, pool_option()] = None,
    crop: Annotated[
        str | None,
        typer.Option("--crop", metavar="X,Y,W,H", show_default=False,
                     help="Explain a WxH crop of an image file, its top-left corner at column X, row Y."),
    ] = None,
    channel: Annotated[
        int | None,
        typer.Option("--channel", metavar="N", min=0, show_default=False,
                     help="The channel of a colour image (0 = red)."),
    ] = None,
    step: Annotated[
        int | None,
        typer.Option("--step", metavar="N", min=1, show_default=False,
                     help="Show only the N-th output position (1 = top left, row by row)."),
    ] = None,
    backward: Annotated[
        bool, typer.Option("--backward", help="Also show the backward pass, for an error term of ones.")
    ] = False,
    grad: Annotated[
        str | None,
        typer.Option("--grad", metavar="MATRIX", show_default=False,
                     help="The error term on the result for --backward, e.g. \"1,0,0;0,2,0;0,0,1\"."),
    ] = None,
    as_json: Annotated[
        bool,
        json_option(what="the explanation: input, padded, kernel, steps (position, window, products, sum), "
                         "output, formula, pool, backward, result"),
    ] = False,
    picture: Annotated[
        str | None,
        typer.Option("--picture", metavar="FILE", show_default=False,
                     help="Draw it instead: FILE.gif animates every step (the convolution, the pooling, then "
                          "delta going back), FILE.png is one sheet (the last frame); with --step N, frame N."),
    ] = None,
) -> None:
    """Show a correlation step by step: padding, every window, products and sums, the output size formula.

    For small matrices (up to 16x16), as worked by hand: the padded input with its border and every window.

    Each output position shows its window, the products and their sum; then the output and N = (O + 2P - K)/S + 1.

    --flip shows the rotated kernel, --pool the pooling windows and which value won.

    --backward propagates the error term back: a full convolution with the rotated kernel.

    It also shows the kernel gradient: a correlation of the input with the error.

    Defaults are the textbook ones, not apply's: no padding and a zero border.

    Examples (the first is the classic exercise: a 5x5 input and a 3x3 kernel):

      convcli explain -i "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2" \\
        -k "1 0 1; 0 1 0; 1 0 1"

      convcli explain -i "1 2 3 0; 4 5 6 1; 7 8 9 0; 1 0 1 2" \\
        -k "1 0 1; 0 1 0; 1 0 1" --pad 1 --stride 2 --step 1

      convcli explain -i "1 2 3 0; 4 5 6 1; 7 8 9 0; 1 0 1 2" -k "1 0; 0 1" \\
        --pool max:size=2 --backward

      convcli explain -i "1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4" --pool max:size=2

      convcli explain -i "1 2 3; 4 5 6; 7 8 9" -k "1 2; 3 4" --flip --backward

      convcli explain --image photo.png --crop 100,40,6,6 --channel 0 \\
        -k sobel:axis=x --json

      convcli explain -i "1 2 3 0; 4 5 6 1; 7 8 9 0; 1 0 1 2" -k "1 0; 0 1" \\
        --pad 1 --picture steps.gif
    """
    options: dict[str, Any] = {
        "pad": parse_pad(pad),
        "stride": parse_pair(stride, what="--stride"),
        "dilation": parse_pair(dilation, what="--dilation"),
    }
    box = None
    if crop is not None:
        x, y, w, h = parse_ints(crop, what="--crop", counts=(4,), minimum=0, example="x,y,w,h (e.g. 100,40,8,8)")
        box = (x, y, w, h)
    from ..learn.explanation import explain_specs

    if kernel is None and pool is None:
        raise UsageError("give a kernel (-k), a pooling spec (--pool) or both; there is nothing to explain")
    if picture is not None and as_json:
        raise UsageError("--picture and --json: give one; --picture draws the steps, --json prints them")
    result = explain_specs(
        image, kernel, crop=box, channel=channel, grad=grad, border=border, border_value=border_value,
        flip=flip, pool=pool, backward=backward, **options,
    )
    if picture is not None:
        from ..pictures import explain_picture

        explain_picture(result, picture, step=step)
        return
    data = result.to_dict()
    if step is not None and step > len(data["steps"]):
        count = len(data["steps"])
        raise UsageError(f"--step {step}: there are {count} output positions; give 1 to {count}")
    if as_json:
        if step is not None:
            data["steps"] = [data["steps"][step - 1]]
        typer.echo(json.dumps(data))
        return
    from .render import console

    render(console(), data, step=step)
