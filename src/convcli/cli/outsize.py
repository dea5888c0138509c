"""``convcli outsize``: output sizes of a layer chain.

Parse (sizes and pads with :mod:`convcli.specs`, as ``apply`` does), one call
into :func:`convcli.operations.outsize_chain` (sizes from :mod:`convcli.shapes`),
render (a size, JSON or a Rich table).  The size of an image or ``.npy`` file
comes from :func:`convcli.imageio.probe_size` (its header only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._app import app, reports_errors
from .options import complete_kernels

if TYPE_CHECKING:
    from ..layers import LayerShape



def _json(input_hw: tuple[int, int], steps: list[LayerShape], output: tuple[int, int]) -> str:
    import json

    layers = [
        {
            "spec": step.layer.text,
            "kind": step.layer.kind,
            "input": list(step.input),
            "output": list(step.output),
            "pad": list(step.pad),
            "receptive_field": list(step.receptive_field),
            "jump": list(step.jump),
        }
        for step in steps
    ]
    return json.dumps({"input": list(input_hw), "layers": layers, "output": list(output)})


def _table(title: str, input_hw: tuple[int, int], steps: list[LayerShape]) -> None:
    """Every layer with its formula; on a narrow terminal the formulas follow the table, wrapped at ``=``."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from .render import console, fits, shape_text

    def table(with_formula: bool) -> Table:
        made = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD)
        made.add_column("#", justify="right", no_wrap=True)
        made.add_column("layer", no_wrap=True)
        made.add_column("input", no_wrap=True)
        if with_formula:
            made.add_column("formula", no_wrap=True)
        for column in ("output", "receptive\nfield", "total\nstride"):
            made.add_column(column, no_wrap=True)
        first = ["0", "input", "", *([""] if with_formula else []), shape_text(input_hw), "1x1", "1x1"]
        made.add_row(*first)
        for step in steps:
            formula = [escape("\n".join(_formula_lines(step)))] if with_formula else []
            made.add_row(str(step.index), escape(step.layer.text), shape_text(step.input), *formula,
                         shape_text(step.output), shape_text(step.receptive_field), shape_text(step.jump))
        return made

    out = console()
    wide = table(with_formula=True)
    if fits(out, wide):
        out.print(wide)
        return
    narrow = table(with_formula=False)
    if fits(out, narrow):
        out.print(narrow)
    else:  # a layer spec is never cut: as wide as the table needs
        from rich.measure import Measurement

        needed = Measurement.get(out, out.options.update(width=10_000), narrow).maximum
        console(width=needed).print(narrow)
    _print_formulas(out, steps)


def _formula_lines(step: LayerShape) -> list[str]:
    """``H, W: …`` when both axes share a formula, else ``H: …`` and ``W: …``."""
    rows, cols = step.formula
    return [f"H, W: {rows}"] if rows == cols else [f"H: {rows}", f"W: {cols}"]


def _print_formulas(out: Any, steps: list[LayerShape]) -> None:
    """The size formulas of the layers, numbered as in the table, each step of a formula kept whole."""
    from rich.markup import escape

    from .render import wrap_pieces

    if not steps:
        return
    out.print("[bold]formulas[/bold] (output size of each layer, per axis)")
    number_width = len(str(steps[-1].index))
    for step in steps:
        label = f"  {step.index:>{number_width}}  "
        for position, line in enumerate(_formula_lines(step)):
            axis, _, formula = line.partition(": ")
            head = (label if position == 0 else " " * len(label)) + f"{axis}: "
            steps_of = formula.split(" = ")
            pieces = [steps_of[0], *(f"= {part}" for part in steps_of[1:])]
            lines = wrap_pieces(pieces, out.width, indent=head, subsequent=" " * (len(head) + 2))
            out.print(escape("\n".join(lines)))


@app.command("outsize")
@reports_errors
def outsize(
    source: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="Input size, N (square) or HxW, or an image / .npy file whose size is read (header only).",
            show_default=False,
        ),
    ],
    layer_specs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="LAYER...",
            help=(
                "Layers in order: conv:k=K[,s=S,p=P,d=D] and pool:k=K[,s=S,p=P,ceil=true] "
                "(K, S, D: N or HxW; conv p: N, HxW, same, valid or full, default 0 as PyTorch; "
                "pool k defaults to 2 and s to k; max/mean/min work as pool names)."
            ),
            show_default=False,
        ),
    ] = None,
    kernel: Annotated[
        str | None,
        typer.Option(
            "--kernel",
            "-k",
            metavar="N|HxW|SPEC",
            autocompletion=complete_kernels,
            help="Kernel size N or HxW, or a kernel spec as in apply (gaussian:sigma=2) whose size is used.",
            show_default=False,
        ),
    ] = None,
    stride: Annotated[
        str | None, typer.Option("--stride", metavar="N|HxW", help="Stride of --kernel, N or HxW (default 1).")
    ] = None,
    pad: Annotated[
        str | None,
        typer.Option(
            "--pad",
            metavar="PAD",
            help="Padding of --kernel: same, valid, full, N, HxW or T,B,L,R (default same, as in apply).",
        ),
    ] = None,
    dilation: Annotated[
        str | None,
        typer.Option("--dilation", metavar="N|HxW", help="Dilation of --kernel, N or HxW (default 1)."),
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option(
            "--pool",
            metavar="SPEC",
            help=(
                "Pooling after the convolution, as in apply: OP[:size=K,stride=S,pad=P,ceil=true], "
                "OP max/mean/min; size 2 and stride = size by default."
            ),
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show a table: every layer's formula, receptive field and stride."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sizes as JSON.")] = False,
) -> None:
    """Compute the exact output size of a convolution / pooling layer or chain (PyTorch's rules).

    Prints the final size as HxW (height x width) on stdout.

    A layer whose output would be empty, or a pooling pad over half the window, is an error.

    Examples:

      convcli outsize 224x224 --kernel 7 --stride 2 --pad 3

      convcli outsize 224 conv:k=7,s=2,p=3 pool:k=3,s=2,p=1 --explain

      convcli outsize photo.jpg -k gaussian:sigma=2 --stride 2 --pool max --json
    """
    from ..errors import UsageError, usage_errors
    from ..layer_specs import parse_pool
    from ..operations import outsize_chain
    from ..specs import parse_pad, parse_pair, parse_size
    from .render import shape_text

    options = {"--stride": stride, "--pad": pad, "--dilation": dilation, "--pool": pool, "--kernel": kernel}
    given = [name for name, value in options.items() if value is not None]
    if layer_specs and given:
        raise UsageError(f"give layer specs or {'/'.join(given)}, not both (write the convolution as a layer, "
                         f"e.g. conv:k=7,s=2,p=3, instead of {given[0]})")
    if kernel is None and (stride, pad, dilation) != (None, None, None):
        raise UsageError("--stride, --pad and --dilation describe the convolution: give its size with --kernel too "
                         "(e.g. --kernel 3)")
    if explain and as_json:
        raise UsageError("choose one of --explain and --json")
    with usage_errors():
        kernel_value = (parse_size(kernel, what="--kernel") or kernel) if kernel is not None else None
        pool_layer = None if pool is None else parse_pool(pool, require_op=False)
        conv_options = {
            "stride": 1 if stride is None else parse_pair(stride, what="--stride"),
            "pad": "same" if pad is None else parse_pad(pad),
            "dilation": 1 if dilation is None else parse_pair(dilation, what="--dilation"),
        }
    given_size = parse_size(source, what="INPUT", example="N or HxW (e.g. 224 or 224x224)")
    if given_size is not None:
        input_hw = given_size
    else:  # an image or .npy file: its header only
        from ..imageio import probe_size

        input_hw = probe_size(source)

    steps = outsize_chain(input_hw, layer_specs or [], kernel=kernel_value, pool=pool_layer, **conv_options)

    output = steps[-1].output if steps else input_hw
    if as_json:
        typer.echo(_json(input_hw, steps, output))
    elif explain:
        named = "" if given_size is not None else f"{source}: "
        _table(f"{named}{shape_text(input_hw)} -> {shape_text(output)}", input_hw, steps)
    else:
        typer.echo(shape_text(output))
