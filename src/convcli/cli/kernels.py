"""``convcli kernels``: list and show kernels."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._app import app, reports_errors

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
)
app.add_typer(kernels_app, name="kernels")

_KERNELS_MAX_SHOWN = 25  # larger matrices are shown by their corners


def _kernels_number(value: float) -> str:
    return f"{value:.6g}"


def _kernels_matrix_table(rows: list[list[float]]) -> tuple[Any, int]:
    """A Rich table of a matrix (the middle of long sides elided) and the width it needs."""
    from rich import box
    from rich.table import Table

    h, w = len(rows), len(rows[0])
    keep = 6

    def pick(n: int) -> list[int | None]:
        if n <= _KERNELS_MAX_SHOWN:
            return list(range(n))
        return [*range(keep), None, *range(n - keep, n)]

    cols = pick(w)
    def cell(r: int | None, c: int | None) -> str:
        if r is None:
            return "⋮" if c is not None else "⋱"
        return _kernels_number(rows[r][c]) if c is not None else "…"

    cells = [[cell(r, c) for c in cols] for r in pick(h)]
    table = Table(show_header=False, box=box.SIMPLE, pad_edge=False)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for width in widths:
        table.add_column(justify="right", no_wrap=True, min_width=width)
    for row in cells:
        table.add_row(*row)
    return table, sum(widths) + 3 * len(widths) + 4


def _kernels_image_size(text: str) -> tuple[int, int]:
    pieces = text.lower().split("x")
    try:
        numbers = [int(p) for p in pieces]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or min(numbers) < 1:
        raise typer.BadParameter(f"expected N or HxW with positive integers, got {text!r}",
                                 param_hint="'--image-size'")
    return (numbers[0], numbers[-1])


def _kernels_linear_info(k: Any, image_hw: tuple[int, int]) -> dict[str, Any]:
    import numpy as np

    from ..engine import choose_method

    choice = choose_method(image_hw, k.matrix, pad="same", stride=1, dilation=1, dtype=np.float32)
    rank = k.rank()
    return {
        "spec": k.spec,
        "matrix": k.matrix.tolist(),
        "anchor": list(k.effective_anchor),
        "sum": k.sum,
        "separable": rank <= 1,
        "shape": list(k.shape),
        "rank": rank,
        "offset": k.offset,
        "method": {"name": choice.method, "reason": choice.reason, "image_size": list(image_hw)},
    }


def _kernels_print_linear(console: Any, info: dict[str, Any], *, default_anchor: bool) -> None:
    from rich.markup import escape

    h, w = info["shape"]
    from rich.console import Console

    table, width = _kernels_matrix_table(info["matrix"])
    # a matrix is never squeezed: a console as wide as the matrix needs (Rich clamps print(width=))
    Console(highlight=False, width=max(console.width, width)).print(table)
    if max(h, w) > _KERNELS_MAX_SHOWN:
        console.print(f"(showing the corners of {h}x{w}; --json prints every value)")
    anchor = f"({info['anchor'][0]}, {info['anchor'][1]})"
    rank = info["rank"]
    if rank <= 1:
        separable = f"yes: rank {rank}, a {h}-tap column times a {w}-tap row"
    else:
        separable = f"no: rank {rank}"
    anchor += " (the default, ((H-1)//2, (W-1)//2))" if default_anchor else " (from the file)"
    lines = [
        ("sum", _kernels_number(info["sum"])),
        ("anchor", anchor),
        ("separable", separable),
    ]
    if info["offset"]:
        lines.append(("offset", f"{_kernels_number(info['offset'])} (added to every output value)"))
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
        bool, typer.Option("--json", help="Print the named kernels as JSON (name, signature, params).")
    ] = False,
) -> None:
    """List the named kernels with their parameters and defaults (or run a subcommand: show)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..kernels import named_kernels

    entries = named_kernels()
    if as_json:
        import json

        payload = [
            {
                "name": e.name,
                "signature": e.signature(),
                "params": [{"name": p.name, "default": p.default, "help": p.help} for p in e.params],
                "summary": e.summary,
                "operator": e.operator or None,
            }
            for e in entries
        ]
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Named kernels (name:key=value,...)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("parameters (default)")
    table.add_column("definition")
    for e in entries:
        params = "\n".join(f"{p.name}={p.default}" for p in e.params) or "-"
        summary = e.summary + (f"\n{e.operator}" if e.operator else "")
        table.add_row(e.name, escape(params), escape(summary))
    console = Console(highlight=False)
    console.print(table)
    console.print(
        escape(
            "Also: inline matrices \"1 2 1; 0 0 0; -1 -2 -1\" and kernel files (kernels/emboss.txt, @path; "
            ".txt .csv .tsv .json .npy .mat). See one with: convcli kernels show SPEC"
        )
    )


@kernels_app.command("show")
@reports_errors
def kernels_show(
    spec: Annotated[
        str,
        typer.Argument(
            metavar="SPEC",
            help="A named kernel (sobel:axis=x), an inline matrix (\"1 2 1; 2 4 2; 1 2 1\") or a kernel file",
            show_default=False,
        ),
    ],
    normalize: Annotated[
        bool, typer.Option("--normalize", help="Divide the kernel by its sum first, as apply --normalize.")
    ] = False,
    image_size: Annotated[
        str,
        typer.Option("--image-size", help="Image size (N or HxW) for the method auto would choose."),
    ] = "1024x1024",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: spec, matrix, anchor, sum, separable (and shape, rank, offset, method); "
            "an operator has matrix null and a components list.",
        ),
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
    from ..kernels import kernel

    image_hw = _kernels_image_size(image_size)
    k = kernel(spec, normalize=normalize)
    if k.is_operator:
        parts = [_kernels_linear_info(c, image_hw) for c in k.components]
        info: dict[str, Any] = {
            "spec": k.spec,
            "matrix": None,
            "anchor": list(k.effective_anchor),
            "sum": None,
            "separable": None,
            "shape": list(k.shape),
            "combine": k.combine,
            "components": parts,
        }
    else:
        parts = []
        info = _kernels_linear_info(k, image_hw)
    if as_json:
        import json

        typer.echo(json.dumps(info))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    h, w = k.shape
    if not k.is_operator:
        console.print(f"[bold]{escape(k.spec)}[/bold]  {h}x{w}")
        _kernels_print_linear(console, info, default_anchor=k.anchor is None)
        return
    console.print(
        f"[bold]{escape(k.spec)}[/bold]  {h}x{w}  operator: {k.combine} of {len(parts)} kernels "
        "(each filters the image; the results are combined, so there is no single matrix)"
    )
    for number, (component, part) in enumerate(zip(k.components, parts, strict=True), start=1):
        console.print(f"\n[bold]component {number}: {escape(component.spec)}[/bold]")
        _kernels_print_linear(console, part, default_anchor=component.anchor is None)

