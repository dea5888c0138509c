"""``convcli kernels``: list the named kernels and show one kernel.

Parse, one library call (:func:`convcli.kernels.named_kernels`,
:func:`convcli.kernels.kernel_info`), render: the kernel arrives as plain data.
"""

from __future__ import annotations

import json
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
    for label, text in lines:
        console.print(f"[bold]{label:<12}[/bold]{escape(text)}")


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

    from .render import console

    table = Table(title="Named kernels (name:key=value,...)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("parameters (default)")
    table.add_column("definition")
    for e in entries:
        params = "\n".join(f"{p['name']}={p['default']}" for p in e["params"]) or "-"
        summary = e["summary"] + (f"\n{e['operator']}" if e["operator"] else "")
        table.add_row(e["name"], escape(params), escape(summary))
    out = console()
    out.print(table)
    out.print(
        escape(
            "Also: inline matrices \"1 2 1; 0 0 0; -1 -2 -1\" and kernel files (kernels/emboss.txt, @path; "
            ".txt .csv .tsv .json .npy .mat). See one with: convcli kernels show SPEC"
        )
    )


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
) -> None:
    """Show a kernel: its matrix, sum, anchor, rank/separability and the method auto would choose.

    Examples:

      convcli kernels show gaussian:sigma=1.5

      convcli kernels show "1 2 1; 2 4 2; 1 2 1" --normalize

      convcli kernels show sobel:axis=both --json

      convcli kernels show kernels/edge.mat --image-size 4000x3000

      convcli kernels show -- "-1 0 1"    (a leading '-' needs '--' first)
    """
    from ..kernels import kernel_info

    size = parse_pair(image_size, what="--image-size")
    info = kernel_info(spec, normalize=normalize, image_size=size)
    if as_json:
        typer.echo(json.dumps(info))
        return
    from rich.markup import escape

    from .render import console

    out = console()
    h, w = info["shape"]
    if info["matrix"] is not None:
        out.print(f"[bold]{escape(info['spec'])}[/bold]  {h}x{w}")
        _print_linear(out, info)
        return
    parts = info["components"]
    out.print(
        f"[bold]{escape(info['spec'])}[/bold]  {h}x{w}  operator: {info['combine']} of {len(parts)} kernels "
        "(each filters the image; the results are combined, so there is no single matrix)"
    )
    for number, part in enumerate(parts, start=1):
        out.print(f"\n[bold]component {number}: {escape(part['spec'])}[/bold]")
        _print_linear(out, part)
