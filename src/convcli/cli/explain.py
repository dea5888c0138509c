"""``convcli explain``: a convolution or pooling step by step."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._app import app, fail, reports_errors

_EXPLAIN_NOTES_IMAGE = "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2"


def _explain_usage(message: str) -> typer.Exit:
    """A usage error: ``Error: …`` and exit code 2."""
    return fail(message, 2)


def _explain_ints(value: str, option: str, *, counts: tuple[int, ...], minimum: int, example: str) -> tuple[int, ...]:
    """Integers written as ``N``, ``HxW`` or comma-separated, checked for count and minimum."""
    text = value.strip().lower().replace(" ", "")
    parts = text.split(",") if "," in text else text.split("x")
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) not in counts or min(numbers, default=minimum - 1) < minimum:
        raise _explain_usage(f"{option} must be {example} (integers >= {minimum}), got {value!r}")
    return numbers


def _explain_pad(value: str) -> Any:
    if value.strip().lower() in ("same", "valid", "full"):
        return value.strip().lower()
    numbers = _explain_ints(value, "--pad", counts=(1, 2, 4), minimum=0,
                            example="same, valid, full, N, HxW or T,B,L,R (e.g. 1, 1x2 or 0,1,0,1)")
    return numbers[0] if len(numbers) == 1 else numbers


def _explain_pair(value: str, option: str) -> Any:
    numbers = _explain_ints(value, option, counts=(1, 2), minimum=1, example="N or HxW (e.g. 2 or 2x1)")
    return numbers[0] if len(numbers) == 1 else numbers


def _explain_input(text: str, *, crop: str | None, channel: int | None) -> Any:
    """The matrix to explain: inline (``"1 2; 3 4"``) or a small image / .npy file (``@path`` or a path)."""
    from pathlib import Path

    from ..errors import ParameterError
    from ..explanation import parse_matrix

    path = text[1:].strip() if text.startswith("@") else text
    if text.startswith("@") or Path(path).is_file():
        from ..imageio import read_image

        array, _ = read_image(path)
        if array.ndim == 3:
            channels = array.shape[2]
            if channel is None:
                raise ParameterError(
                    f"{path} has {channels} channels; explain works on one: choose it with --channel "
                    f"(0 to {channels - 1}, e.g. --channel 0)"
                )
            if channel >= channels:
                raise ParameterError(f"--channel {channel}: {path} has channels 0 to {channels - 1}")
            array = array[:, :, channel]
        elif channel not in (None, 0):
            raise ParameterError(f"--channel {channel}: {path} has one channel (0)")
    else:
        if crop is not None or channel is not None:
            raise _explain_usage("--crop and --channel select part of an image file; --image here is a matrix")
        looks_like_numbers = any(ch.isdigit() for ch in text) and (";" in text or text.strip()[:1] in "+-.0123456789")
        if not looks_like_numbers:
            raise ParameterError(
                f"--image {text!r} is neither a matrix like '1 2 3; 4 5 6' nor an existing file; check the path"
            )
        return parse_matrix(text, what="--image")
    if crop is not None:
        x, y, w, h = _explain_ints(crop, "--crop", counts=(4,), minimum=0, example="x,y,w,h (e.g. 100,40,8,8)")
        rows, cols = array.shape[:2]
        if w < 1 or h < 1 or x + w > cols or y + h > rows:
            raise ParameterError(
                f"--crop {crop}: the {w}x{h} crop at column {x}, row {y} does not fit the {cols}x{rows} "
                f"(width x height) image {path}; keep x + w <= {cols} and y + h <= {rows}"
            )
        array = array[y : y + h, x : x + w]
    return array


def _explain_num(value: float) -> str:
    if value != value:  # NaN: a cell outside the image
        return "·"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _explain_grid(matrix: Any, *, dim: Any = None, bold: Any = None, row_labels: Any = None,
                  col_labels: Any = None, label_dim: Any = None) -> Any:
    """A matrix as a Rich grid: ``dim`` cells faint (the border), ``bold`` cells highlighted."""
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
            style = ""
            if dim is not None and dim[i][j]:
                style = "dim cyan"
            if bold is not None and bold[i][j]:
                style = "bold reverse"
            cells.append(Text(_explain_num(value), style=style))
        grid.add_row(*cells)
    return grid


def _explain_span(coords: Any) -> str:
    from itertools import pairwise

    values = list(coords)
    if len(values) > 1 and all(b - a == 1 for a, b in pairwise(values)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(str(v) for v in values)


def _explain_sum_line(products: Any, total: float) -> str:
    terms = [_explain_num(v) for v in products.ravel()]
    if len(terms) > 25:
        return f"sum = {_explain_num(total)}"
    text = " + ".join(terms).replace("+ -", "- ")
    return f"sum = {text} = {_explain_num(total)}"


def _explain_side_by_side(console: Any, parts: list[tuple[str, Any]]) -> None:
    """Matrices next to each other with their titles (and operators) above."""
    from rich.padding import Padding
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    for _ in parts:
        table.add_column(no_wrap=True)
    table.add_row(*[title for title, _ in parts])
    table.add_row(*[item for _, item in parts])
    console.print(Padding(table, (0, 0, 0, 2), expand=False))


def _explain_render(console: Any, result: Any, *, step: int | None) -> None:
    from rich.markup import escape
    from rich.padding import Padding

    conv, pool, back = result.conv, result.pool, result.backward

    def hw(m: Any) -> str:
        return f"{m.shape[0]}x{m.shape[1]}"

    if conv is not None:
        x = conv.input
        h, w = x.shape
        top, bottom, left, right = conv.pad
        kind = "convolution" if conv.operation == "convolve" else "correlation"
        pads = (f"pad {top}" if len(set(conv.pad)) == 1
                else f"pad top {top}, bottom {bottom}, left {left}, right {right}")
        if not any(conv.pad):
            pads = "no padding"
        border = f"constant {_explain_num(conv.border_value)}" if conv.border == "constant" else conv.border
        extras = ""
        if conv.stride != (1, 1):
            extras += f", stride {conv.stride[0] if conv.stride[0] == conv.stride[1] else conv.stride}"
        if conv.dilation != (1, 1):
            extras += f", dilation {conv.dilation[0] if conv.dilation[0] == conv.dilation[1] else conv.dilation}"
        border_text = f" ({escape(border)})" if any(conv.pad) else ""
        console.print(
            f"[bold]{kind}[/bold] of a {hw(x)} input with a {hw(conv.kernel)} kernel, {pads}{border_text}"
            f"{escape(extras)} -> {hw(conv.output)} output"
        )
        console.print()
        if conv.operation == "convolve":
            _explain_side_by_side(console, [
                ("[bold]kernel[/bold]", _explain_grid(conv.kernel)),
                ("[bold]rotated 180°[/bold] (true convolution slides this)", _explain_grid(conv.applied)),
            ])
        else:
            console.print("[bold]kernel[/bold]  (correlation: it slides as it is, not rotated)")
            console.print(Padding(_explain_grid(conv.kernel), (0, 0, 0, 2), expand=False))
        console.print()
        rows = [r - top for r in range(conv.padded.shape[0])]
        cols = [c - left for c in range(conv.padded.shape[1])]
        faint = ([not 0 <= r < h for r in rows], [not 0 <= c < w for c in cols])
        if any(conv.pad):
            console.print(
                f"[bold]padded input[/bold] ({hw(conv.padded)}; labels are input coordinates: rows and columns "
                f"outside 0..{h - 1} / 0..{w - 1} are the border, {escape(border)})"
            )
        else:
            console.print(f"[bold]input[/bold] ({hw(x)}, no padding)")
        console.print(Padding(_explain_grid(conv.padded, dim=conv.border_cells, row_labels=rows, col_labels=cols,
                                            label_dim=faint), (0, 0, 0, 2), expand=False))
        console.print()
        console.print("[bold]output size[/bold]  N = (O + 2P - K) / S + 1  (seed 003; floor when S does not divide)")
        rows_formula, cols_formula = conv.formula
        if rows_formula == cols_formula:
            console.print(f"  rows, columns: {escape(rows_formula)}")
        else:
            console.print(f"  rows:    {escape(rows_formula)}\n  columns: {escape(cols_formula)}")
        console.print()
        steps = list(enumerate(conv.steps, start=1))
        if step is not None:
            steps = [steps[step - 1]]
        weights = "rotated kernel" if conv.operation == "convolve" else "kernel"
        for number, s in steps:
            i, j = s.position
            console.print(
                f"[bold]step {number} of {len(conv.steps)}[/bold]: out[{i}, {j}] from input rows "
                f"{_explain_span(s.rows)}, columns {_explain_span(s.cols)}"
            )
            window_dim = [[not (0 <= r < h and 0 <= c < w) for c in s.cols] for r in s.rows]
            _explain_side_by_side(console, [
                ("window", _explain_grid(s.window, dim=window_dim)), ("", "\n×"),
                (weights, _explain_grid(s.weights)), ("", "\n="),
                ("products", _explain_grid(s.products)),
            ])
            console.print(f"  {_explain_sum_line(s.products, s.sum)}")
            console.print()
        console.print(f"[bold]output[/bold] ({hw(conv.output)})")
        console.print(Padding(_explain_grid(conv.output), (0, 0, 0, 2), expand=False))
    if pool is not None:
        source = f"the {hw(pool.input)} output" if conv is not None else f"a {hw(pool.input)} input"
        window = f"{pool.size[0]}x{pool.size[1]}"
        stride = pool.stride[0] if pool.stride[0] == pool.stride[1] else pool.stride
        pad = f", pad {pool.pad[0] if pool.pad[0] == pool.pad[1] else pool.pad}" if any(pool.pad) else ""
        ceil = ", ceil_mode" if pool.ceil_mode else ""
        if conv is not None:
            console.print()
        console.print(
            f"[bold]{pool.op} pooling[/bold] of {source}: {window} windows, stride {escape(str(stride))}"
            f"{escape(pad + ceil)} -> {hw(pool.output)}"
        )
        rows_formula, cols_formula = pool.formula
        if rows_formula == cols_formula:
            console.print(f"  size: rows, columns: {escape(rows_formula)}")
        else:
            console.print(f"  size: rows: {escape(rows_formula)}; columns: {escape(cols_formula)}")
        pool_steps = list(enumerate(pool.steps, start=1))
        if step is not None and conv is None:
            pool_steps = [pool_steps[step - 1]]
        for _, s in pool_steps:
            i, j = s.position
            values = [_explain_num(v) for v in s.window.ravel() if v == v]
            where = f"rows {_explain_span(s.rows)}, columns {_explain_span(s.cols)}"
            if s.winner is None:
                text = f"({' + '.join(values)}) / {s.count} = {_explain_num(s.value)}"
            else:
                r, c = s.rows[s.winner[0]], s.cols[s.winner[1]]
                text = f"{pool.op}({', '.join(values)}) = {_explain_num(s.value)}, from row {r}, column {c}"
            console.print(f"  out[{i}, {j}] ({where}): {escape(text)}")
        console.print(f"[bold]pooled output[/bold] ({hw(pool.output)})")
        console.print(Padding(_explain_grid(pool.output), (0, 0, 0, 2), expand=False))
    if back is not None:
        _explain_render_backward(console, result, back)


def _explain_render_backward(console: Any, result: Any, back: Any) -> None:
    from rich.markup import escape
    from rich.padding import Padding

    def hw(m: Any) -> str:
        return f"{m.shape[0]}x{m.shape[1]}"

    def show(title: str, matrix: Any) -> None:
        console.print(title)
        console.print(Padding(_explain_grid(matrix), (0, 0, 0, 2), expand=False))

    console.print()
    console.print("[bold]backward pass[/bold] (seed 003): the error term δ = dL/d(output) travels back")
    show(f"δ on the result ({hw(back.error)})", back.error)
    if back.pool is not None:
        pool = result.pool
        rule = ("each δ goes to the value that won its window; the others get 0" if pool.op != "mean"
                else "each δ is shared evenly by the pixels of its window: δ / count")
        console.print(f"\n[bold]through {pool.op} pooling[/bold]: {rule}")
        for route in back.pool.routes:
            i, j = route.position
            targets = ", ".join(f"({r}, {c})" for r, c in route.targets)
            console.print(f"  δ[{i}, {j}] = {_explain_num(route.error)} -> {_explain_num(route.share)} to {targets}")
        show(f"δ on the pooling input ({hw(back.pool.grad_input)})", back.pool.grad_input)
    conv = back.conv
    if conv is None:
        return
    forward = result.conv
    kh, kw = forward.kernel.shape
    (sh, sw), (dh, dw) = forward.stride, forward.dilation
    console.print("\n[bold]through the correlation[/bold]: δ_in = full convolution of δ with the kernel "
                  "(a full correlation with the kernel rotated 180°)")
    number = 1
    if (sh, sw) != (1, 1):
        show(f"{number}. δ with stride - 1 zeros between its terms (stride {sh}x{sw}; the samples the stride "
             f"dropped have error 0) ({hw(conv.dilated_error)})", conv.dilated_error)
        number += 1
    er, ec = (kh - 1) * dh, (kw - 1) * dw
    show(f"{number}. padded with (K - 1){'·d' if (dh, dw) != (1, 1) else ''} = {er}x{ec} zeros on every side, "
         f"'full' padding ({hw(conv.padded_error)})", conv.padded_error)
    title = ("kernel rotated 180°" if forward.operation == "correlate"
             else "kernel as given (the slid kernel, rotated back)")
    show(f"{number + 1}. correlated with the {title}", conv.rotated_kernel)
    top, _, left, _ = forward.pad
    h, w = forward.input.shape
    inside = [s for s in conv.input_steps if top <= s.position[0] < top + h and left <= s.position[1] < left + w]
    example = next((s for s in inside if s.sum != 0), inside[0] if inside else conv.input_steps[0])
    p, q = example.position
    console.print(f"   e.g. δ at padded cell ({p}, {q}), input pixel ({p - top}, {q - left}):")
    _explain_side_by_side(console, [
        ("window of padded δ", _explain_grid(example.window)), ("", "\n×"),
        ("rotated kernel", _explain_grid(example.weights)), ("", "\n="),
        ("products", _explain_grid(example.products)),
    ])
    console.print(f"   {_explain_sum_line(example.products, example.sum)}")
    show(f"   = δ on the padded input ({hw(conv.grad_padded)})", conv.grad_padded)
    fold = ("drop the zero border" if forward.border == "constant"
            else f"add each {forward.border} border cell's share to the pixel it copied")
    if not any(forward.pad):
        fold = "there is no padding, so this is it"
    show(f"{number + 2}. back to the input: {fold} -> δ_in ({hw(conv.grad_input)})", conv.grad_input)
    def term(tap: str, d: int, index: str, s: int) -> str:
        return f"{tap if d == 1 else f'{tap}·{d}'} + {index if s == 1 else f'{index}·{s}'}"

    formula = f"∇w[a, b] = Σ δ[m, n] · x_padded[{term('a', dh, 'm', sh)}, {term('b', dw, 'n', sw)}]"
    console.print(f"\n[bold]kernel gradient[/bold]: {escape(formula)} (the correlation of the padded input with δ)")
    for s in conv.kernel_steps:
        a, b = s.position
        console.print(f"  ∇w[{a}, {b}]: padded rows {_explain_span(s.rows)}, columns {_explain_span(s.cols)}: "
                      f"{_explain_sum_line(s.products, s.sum)}")
    if forward.operation == "convolve":
        console.print("  (true convolution slid the rotated kernel, so its gradient is rotated back)")
    show(f"∇w ({hw(conv.grad_kernel)})", conv.grad_kernel)


@app.command("explain")
@reports_errors
def explain_command(
    image: Annotated[
        str,
        typer.Option("--image", "-i", metavar="MATRIX|FILE", show_default=False,
                     help="The input: a matrix with rows separated by ';' (\"1 2 3; 4 5 6\"), or a small image "
                          "or .npy file (a path or @path; use --crop for part of a larger one)."),
    ],
    kernel: Annotated[
        str | None,
        typer.Option("--kernel", "-k", metavar="SPEC", show_default=False,
                     help="The kernel: an inline matrix (\"1 0 1; 0 1 0; 1 0 1\"), a named kernel "
                          "(sobel:axis=x) or a kernel file. Omit it to explain --pool alone."),
    ] = None,
    pad: Annotated[str, typer.Option("--pad", help="Padding: N, HxW, T,B,L,R, same, valid or full "
                                                    "(default 0, as in the notes).")] = "0",
    stride: Annotated[str, typer.Option("--stride", help="Stride S: N or HxW.")] = "1",
    dilation: Annotated[str, typer.Option("--dilation", help="Spacing between kernel taps: N or HxW.")] = "1",
    border: Annotated[
        str,
        typer.Option("--border", help="What the padding holds: constant (zero padding, the default), edge, "
                                      "reflect, symmetric or wrap."),
    ] = "constant",
    border_value: Annotated[float, typer.Option("--border-value", help="The value of --border constant.")] = 0.0,
    flip: Annotated[bool, typer.Option("--flip", help="True convolution: rotate the kernel 180° first.")] = False,
    pool: Annotated[
        str | None,
        typer.Option("--pool", metavar="SPEC", show_default=False,
                     help="Pool the result (or the input, without -k): max, mean or min[:size=K,stride=S,pad=P,"
                          "ceil=true]; size 2 and stride = size by default. E.g. --pool max:size=2"),
    ] = None,
    crop: Annotated[
        str | None,
        typer.Option("--crop", metavar="X,Y,W,H", show_default=False,
                     help="Explain a WxH crop of an image file, its top-left corner at column X, row Y."),
    ] = None,
    channel: Annotated[
        int | None,
        typer.Option("--channel", min=0, show_default=False, help="The channel of a colour image (0 = red)."),
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
                     help="The error term on the result for --backward, e.g. \"1 0 0; 0 2 0; 0 0 1\"."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the explanation as JSON: input, padded, kernel, steps (position, "
                                    "window, products, sum), output, formula, pool, backward, result."),
    ] = False,
) -> None:
    """Show a correlation step by step: padding, every window, products and sums, the output size formula.

    For small matrices (up to 16x16), as in the notes: the padded input with its border, each output
    position's window, the products and their sum, the output and N = (O + 2P - K)/S + 1 with the numbers
    in; with --flip the rotated kernel, with --pool the pooling windows and which value won, with
    --backward the error term propagated back (a full convolution with the rotated kernel) and the
    kernel gradient (a correlation of the input with the error).

    Defaults follow the notes, not apply: no padding and a zero border.

    Examples (seed 003's 5x5 input and 3x3 kernel):

      convcli explain --image "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2" -k "1 0 1; 0 1 0; 1 0 1"

      X="1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2"

      convcli explain -i "$X" -k "1 0 1; 0 1 0; 1 0 1" --pad 1 --stride 2 --step 1

      convcli explain -i "$X" -k "1 0 1; 0 1 0; 1 0 1" --pool max:size=2 --backward

      convcli explain --image "1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4" --pool max:size=2

      convcli explain --image "1 2 3; 4 5 6; 7 8 9" -k "1 2; 3 4" --flip --backward

      convcli explain --image photo.png --crop 100,40,6,6 --channel 0 -k sobel:axis=x --json
    """
    from ..explanation import explain, parse_matrix
    from ..kernels import kernel as load_kernel

    pad_value = _explain_pad(pad)
    stride_value = _explain_pair(stride, "--stride")
    dilation_value = _explain_pair(dilation, "--dilation")
    x = _explain_input(image, crop=crop, channel=channel)
    matrix, anchor = None, None
    if kernel is not None:
        k = load_kernel(kernel)
        matrix = k.matrix
        anchor = k.anchor if pad_value == "same" else None
    error = parse_matrix(grad, what="--grad") if grad is not None else None
    result = explain(
        x, matrix, pad=pad_value, stride=stride_value, dilation=dilation_value, border=border,
        border_value=border_value, flip=flip, anchor=anchor, pool=pool, backward=backward, grad=error,
    )
    if step is not None:
        stage: Any = result.conv if result.conv is not None else result.pool
        count = len(stage.steps)
        if step > count:
            raise _explain_usage(f"--step {step}: there are {count} output positions; give 1 to {count}")
    if as_json:
        import json

        payload = result.to_dict()
        if step is not None:
            payload["steps"] = [payload["steps"][step - 1]]
        typer.echo(json.dumps(payload))
        return
    from rich.console import Console

    _explain_render(Console(highlight=False), result, step=step)


