"""``convcli kernels``: list the named kernels and show one kernel.

Parse, one library call (:func:`convcli.kernels.named_kernels`,
:func:`convcli.kernels.kernel_info`), render: the kernel arrives as plain data.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from ..specs import parse_pair
from ._app import app, reports_errors
from .options import Command, complete_kernels, json_option
from .render import fmt_number

kernels_app = typer.Typer(
    name="kernels",
    help=(
        "List the named kernels, or show one kernel (named, inline or from a file).\n\n"
        "A kernel spec is a named kernel name:key=value,... (gaussian:sigma=2, sobel:axis=y), "
        "an inline matrix with rows separated by ';' (\"1 2 1; 0 0 0; -1 -2 -1\"), or a kernel file "
        "(kernels/emboss.txt, any path with a '/' or a .txt .csv .tsv .json .npy .mat extension, "
        "or @path).\n\n"
        "Kernels are applied by correlation (like OpenCV's filter2D): sobel:axis=x is positive where "
        "intensity rises to the right. axis=both is an operator, not one matrix: the gradient magnitude "
        "hypot(gx, gy) of two kernels.\n\n"
        "Examples:\n\n"
        "  convcli kernels\n\n"
        "  convcli kernels --json\n\n"
        "  convcli kernels show gaussian:sigma=2\n\n"
        "  convcli kernels show sobel:axis=both\n\n"
        "  convcli kernels show kernels/blur7x7.csv --normalize --json\n\n"
        "  convcli kernels show -- \"-1 0 1\""
    ),
    invoke_without_command=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(kernels_app, name="kernels")

MAX_SHOWN = 25  # larger matrices are shown by their corners
_CORNER = 6  # values kept at each end of an elided side


def _weight(value: float) -> str:
    """A kernel weight: six significant digits (integers in full)."""
    return fmt_number(value, digits=6)


def _elided(n: int) -> list[int | None]:
    """The indices shown along a side of ``n``: all, or both ends around ``None`` (the gap)."""
    if n <= MAX_SHOWN:
        return list(range(n))
    return [*range(_CORNER), None, *range(n - _CORNER, n)]


def _matrix_table(rows: list[list[float]]) -> tuple[Any, int]:
    """A Rich table of a matrix (the middle of long sides elided) and the width it needs."""
    from rich import box
    from rich.table import Table

    cols = _elided(len(rows[0]))

    def cell(r: int | None, c: int | None) -> str:
        if r is None:
            return "⋮" if c is not None else "⋱"
        return _weight(rows[r][c]) if c is not None else "…"

    cells = [[cell(r, c) for c in cols] for r in _elided(len(rows))]
    table = Table(show_header=False, box=box.SIMPLE, pad_edge=False)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for width in widths:
        table.add_column(justify="right", no_wrap=True, min_width=width)
    for row in cells:
        table.add_row(*row)
    return table, sum(widths) + 3 * len(widths) + 4


def _print_linear(console: Any, info: dict[str, Any]) -> None:
    from rich.markup import escape

    from .render import console as make_console
    from .render import wrap_pieces

    h, w = info["shape"]
    table, width = _matrix_table(info["matrix"])
    # a matrix is never squeezed: a console as wide as the matrix needs (Rich clamps print(width=))
    make_console(width=max(console.width, width)).print(table)
    if max(h, w) > MAX_SHOWN:
        console.print(f"(showing the corners of {h}x{w}; --json prints every value)")
    anchor = f"({info['anchor'][0]}, {info['anchor'][1]})"
    anchor += " (the default, ((H-1)//2, (W-1)//2))" if info["default_anchor"] else " (from the file)"
    rank = info["rank"]
    separable = f"yes: rank {rank}, a {h}-tap column times a {w}-tap row" if rank <= 1 else f"no: rank {rank}"
    lines = [("sum", _weight(info["sum"])), ("anchor", anchor), ("separable", separable)]
    if info["offset"]:
        lines.append(("offset", f"{_weight(info['offset'])} (added to every output value)"))
    method = info["method"]
    size = "x".join(str(v) for v in method["image_size"])
    lines.append(("auto method", f"{method['name']} for a {size} float32 image: {method['reason']}"))
    indent = 12
    for label, text in lines:  # wrapped at words under the text, not under the label
        wrapped = wrap_pieces(_EQUATION_SPACE.split(text), console.width, indent=" " * indent)
        console.print(f"[bold]{label:<{indent}}[/bold]" + escape("\n".join(wrapped)[indent:]))


@kernels_app.callback()
@reports_errors
def kernels_list(
    ctx: typer.Context,
    as_json: Annotated[
        bool, json_option(what="the named kernels (name, signature, params, summary, operator)")
    ] = False,
) -> None:
    """List the named kernels with their parameters and defaults (or run a subcommand: show)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..kernels import named_kernels

    entries = [entry.to_dict() for entry in named_kernels()]
    if as_json:
        typer.echo(json.dumps(entries, ensure_ascii=False))
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from .render import console, fits, wrap_pieces

    title = "Named kernels (name:key=value,...)"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("parameters (default)", no_wrap=True)
    table.add_column("definition")
    for e in entries:
        params = "\n".join(_params(e)) or "-"
        summary = e["summary"] + (f"\n{e['operator']}" if e["operator"] else "")
        table.add_row(e["name"], escape(params), escape(summary))
    out = console()
    if fits(out, table):
        out.print(table)
    else:  # a narrow terminal: each kernel's parameters on its line, the definition below, nothing split
        out.print(f"{title}\n")
        width = max(len(e["name"]) for e in entries) + 3
        for e in entries:
            lead = " " * width
            lines = wrap_pieces(_params(e) or ["-"], out.width, indent=f"{e['name']:<{width}}", subsequent=lead,
                                sep="  ")
            for paragraph in (e["summary"], e["operator"]):
                if paragraph:
                    lines += wrap_pieces(_EQUATION_SPACE.split(paragraph), out.width, indent=lead)
            out.print(f"[bold]{e['name']}[/bold]{escape(lines[0][len(e['name']):])}")
            for line in lines[1:]:
                out.print(escape(line))
        out.print()
    also = ["Also:", "inline", "matrices", '"1 2 1; 0 0 0; -1 -2 -1"', "and", "kernel", "files",
            "(kernels/emboss.txt,", "@path;", ".txt .csv .tsv .json .npy .mat).", "See", "one", "with:",
            "convcli kernels show SPEC"]
    out.print(escape("\n".join(wrap_pieces(also, out.width))))


#: a space that may end a line: not one around ``=`` (``x = [[-1,0,1],...]`` stays whole)
_EQUATION_SPACE = re.compile(r"(?<!=) (?!=)")


def _params(entry: dict[str, Any]) -> list[str]:
    """A named kernel's parameters as ``key=default``, one piece each."""
    return [f"{p['name']}={p['default']}" for p in entry["params"]]


@kernels_app.command("show", cls=Command)
@reports_errors
def kernels_show(
    spec: Annotated[
        str,
        typer.Argument(
            metavar="SPEC",
            autocompletion=complete_kernels,
            help="A named kernel (sobel:axis=x), an inline matrix (\"1 2 1; 2 4 2; 1 2 1\") or a kernel file",
            show_default=False,
        ),
    ],
    normalize: Annotated[
        bool, typer.Option("--normalize", help="Divide the kernel by its sum first, as apply --normalize.")
    ] = False,
    image_size: Annotated[
        str,
        typer.Option("--image-size", metavar="N|HxW",
                     help="Image size (N or HxW) for the method auto would choose."),
    ] = "1024x1024",
    as_json: Annotated[
        bool,
        json_option(what="the kernel: spec, matrix, anchor, default_anchor, sum, separable (and shape, rank, "
                         "offset, method); an operator has matrix null and a components list"),
    ] = False,
    picture: Annotated[
        str | None,
        typer.Option("--picture", metavar="FILE", show_default=False,
                     help="Also draw the kernel to a .png: a heat map (values written up to 15x15, else a colour "
                          "bar), the anchor outlined, and |FFT| beside it (zero frequency at the centre)."),
    ] = None,
) -> None:
    """Show a kernel: its matrix, sum, anchor, rank/separability and the method auto would choose.

    Examples:

      convcli kernels show gaussian:sigma=1,radius=2

      convcli kernels show "1 2 1; 2 4 2; 1 2 1" --normalize

      convcli kernels show sobel:axis=both --json

      convcli kernels show kernels/edge.mat --image-size 4000x3000

      convcli kernels show log:sigma=1.4 --picture log.png

      convcli kernels show -- "-1 0 1"           # a leading - needs -- first
    """
    from ..kernels import kernel_info

    size = parse_pair(image_size, what="--image-size")
    info = kernel_info(spec, normalize=normalize, image_size=size)
    if picture is not None:
        from ..pictures.kernels import kernel_picture

        kernel_picture(spec, picture, normalize=normalize)
    if as_json:
        typer.echo(json.dumps(info))
        return
    from rich.markup import escape

    from .render import console, wrap_pieces

    out = console()
    h, w = info["shape"]
    if info["matrix"] is not None:
        out.print(f"[bold]{escape(info['spec'])}[/bold]  {h}x{w}")
        _print_linear(out, info)
        return
    parts = info["components"]
    about = (f"{info['combine']} of {len(parts)} kernels (each filters the image; the results are combined, so "
             "there is no single matrix)")
    lines = wrap_pieces([f"{info['spec']}  {h}x{w}  operator:", *about.split()], out.width, subsequent="  ")
    head = lines[0][len(info["spec"]):]
    out.print(f"[bold]{escape(info['spec'])}[/bold]" + escape("\n".join([head, *lines[1:]])))
    for number, part in enumerate(parts, start=1):
        out.print(f"\n[bold]component {number}: {escape(part['spec'])}[/bold]")
        _print_linear(out, part)
