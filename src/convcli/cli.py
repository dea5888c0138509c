"""The ``convcli`` command line: parse, one library call, render.

Each command parses its options, makes one call into the library and renders
the result with Rich.  Library errors (:class:`convcli.errors.ConvcliError`) are
turned into one ``Error: …`` line on stderr and exit code 1 by
:func:`reports_errors`; usage errors keep Click's exit code 2.  NumPy and Pillow
are imported inside the commands so that ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Optional, TypeVar

import typer

from ._version import __version__
from .errors import ConvcliError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="convcli",
    help=(
        "Exact, fast image convolution: named kernels, every border convention, "
        "direct/separable/FFT evaluation chosen by cost.\n\n"
        "Examples:\n\n"
        "  convcli apply photo.png -k gaussian:sigma=3 -o blurred.png\n\n"
        "  convcli outsize 224x224 conv:k=7,s=2,p=3 pool:k=3,s=2,p=1\n\n"
        "  convcli kernels show sobel:axis=x"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``Error: message`` on stderr (one line, never wrapped) and return the exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def reports_errors(func: F) -> F:
    """Turn a :class:`ConvcliError` raised by ``func`` into ``Error: …`` and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConvcliError as err:
            raise fail(str(err), err.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"convcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Exact, fast image convolution on the command line."""


# --- commands -------------------------------------------------------------
# Each command lives in its own section below; keep sections independent.

# [section: apply]

# [section: kernels]

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

    from .engine import choose_method

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
    from .kernels import named_kernels

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
    from .kernels import kernel

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

# [section: outsize]

#: ``N`` or ``HxW``: a size given directly (anything else is a file or a kernel spec).
_OUTSIZE_PAIR = r"\s*\d+\s*(?:[xX]\s*\d+\s*)?"


def _outsize_pair(key: str, value: str, *, where: str, minimum: int = 1) -> tuple[int, int]:
    """``N`` or ``HxW`` from the command line, through the shared spec helpers."""
    from .specs import Spec, spec_int_pair

    return spec_int_pair(Spec(name=key, params={key: value}, text=where), key, minimum=minimum)


def _outsize_input(source: str) -> tuple[int, int]:
    """``(height, width)`` from ``N``/``HxW``, an image file (header only) or a ``.npy`` array."""
    import re
    from pathlib import Path

    from .errors import ImageReadError

    if re.fullmatch(_OUTSIZE_PAIR, source):
        return _outsize_pair("input", source.replace(" ", ""), where=f"outsize {source}")
    path = Path(source)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise ImageReadError(
            f"{source!r} is neither a size (N or HxW, e.g. 224x224) nor an image or .npy file ({what}); "
            "check the path"
        )
    if path.suffix.lower() == ".npy":
        import numpy as np

        try:
            shape = tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
        except (OSError, ValueError, EOFError) as err:
            raise ImageReadError(
                f"cannot read the array in {source!r}: {err}; give a file written by numpy.save"
            ) from None
        if len(shape) not in (2, 3) or 0 in shape[:2]:
            raise ImageReadError(
                f"{source!r} holds an array of shape {shape}; an image is (height, width) or "
                "(height, width, channels) with both sides at least 1"
            )
        return int(shape[0]), int(shape[1])
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read, so any size is fine
    try:
        with Image.open(path) as image:
            width, height = image.size
    except UnidentifiedImageError:
        raise ImageReadError(
            f"cannot read the size of {source!r}: it is not an image Pillow can open; "
            "give a size such as 224x224, an image file or a .npy array"
        ) from None
    except OSError as err:
        raise ImageReadError(f"cannot read the size of {source!r}: {err.strerror or err}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return height, width


def _outsize_conv_layer(
    kernel: str, stride: Optional[str], pad: Optional[str], dilation: Optional[str]
) -> Any:
    """The convolution layer ``apply`` would run for ``--kernel/--stride/--pad/--dilation``."""
    import re

    from .shapes import Layer, spec_pad
    from .specs import Spec

    if re.fullmatch(_OUTSIZE_PAIR, kernel):
        kernel_hw = _outsize_pair("kernel", kernel.replace(" ", ""), where=f"--kernel {kernel}")
    else:
        from .kernels import kernel as load_kernel

        kernel_hw = load_kernel(kernel).shape
    pad_value = "same" if pad is None else spec_pad(Spec("pad", {"pad": pad}, f"--pad {pad}"), "pad", (0, 0))
    return Layer.conv(
        kernel_hw,
        stride=(1, 1) if stride is None else _outsize_pair("stride", stride, where=f"--stride {stride}"),
        pad=pad_value,
        dilation=(1, 1) if dilation is None else _outsize_pair(
            "dilation", dilation, where=f"--dilation {dilation}"
        ),
    )


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
        Optional[list[str]],
        typer.Argument(
            metavar="LAYER",
            help=(
                "Layers in order: conv:k=K[,s=S,p=P,d=D] and pool:k=K[,s=S,p=P,ceil=true] "
                "(K, S, D: N or HxW; conv p: N, HxW, same, valid or full, default 0 as PyTorch; "
                "pool s defaults to k; max/mean/min work as pool names)."
            ),
            show_default=False,
        ),
    ] = None,
    kernel: Annotated[
        Optional[str],
        typer.Option(
            "--kernel",
            "-k",
            help="Kernel size N or HxW, or a kernel spec as in apply (gaussian:sigma=2) whose size is used.",
            show_default=False,
        ),
    ] = None,
    stride: Annotated[
        Optional[str], typer.Option("--stride", help="Stride of --kernel, N or HxW (default 1).")
    ] = None,
    pad: Annotated[
        Optional[str],
        typer.Option(
            "--pad", help="Padding of --kernel: same, valid, full, N or HxW (default same, as in apply)."
        ),
    ] = None,
    dilation: Annotated[
        Optional[str], typer.Option("--dilation", help="Dilation of --kernel, N or HxW (default 1).")
    ] = None,
    pool: Annotated[
        Optional[str],
        typer.Option(
            "--pool",
            help=(
                "Pooling after the convolution, as in apply: OP[:size=K,stride=S,pad=P,ceil=true], "
                "OP max/mean/min."
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

      convcli outsize photo.jpg -k gaussian:sigma=2 --stride 2 --pool max:size=2 --json
    """
    import re

    from .shapes import chain_sizes, parse_layer

    options = {"--stride": stride, "--pad": pad, "--dilation": dilation, "--pool": pool, "--kernel": kernel}
    given = [name for name, value in options.items() if value is not None]
    if layer_specs and given:
        raise typer.BadParameter(
            f"give layer specs or {'/'.join(given)}, not both "
            "(write the convolution as a layer, e.g. conv:k=7,s=2,p=3)",
            param_hint="LAYER",
        )
    if kernel is None and (stride, pad, dilation) != (None, None, None):
        raise typer.BadParameter(
            "--stride, --pad and --dilation describe the convolution: give its size with --kernel too "
            "(e.g. --kernel 3)",
            param_hint=[name for name in ("--stride", "--pad", "--dilation") if options[name] is not None],
        )
    if explain and as_json:
        raise typer.BadParameter("choose one of --explain and --json", param_hint="'--json'")

    input_hw = _outsize_input(source)
    layers = [parse_layer(text) for text in layer_specs or []]
    if kernel is not None:
        layers.append(_outsize_conv_layer(kernel, stride, pad, dilation))
    if pool is not None:
        pool_layer = parse_layer(pool)
        if pool_layer.kind != "pool":
            raise typer.BadParameter(
                f"expected a pooling spec such as max:size=2, got {pool!r}", param_hint="'--pool'"
            )
        layers.append(pool_layer)
    steps = chain_sizes(input_hw, layers)
    output = steps[-1].output if steps else input_hw

    def hw(pair: tuple[int, ...]) -> str:
        return "x".join(str(v) for v in pair)

    if as_json:
        import json

        payload = {
            "input": list(input_hw),
            "layers": [
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
            ],
            "output": list(output),
        }
        typer.echo(json.dumps(payload))
    elif explain:
        from rich import box
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        named = "" if re.fullmatch(_OUTSIZE_PAIR, source) else f"{source}: "
        table = Table(
            title=escape(f"{named}{hw(input_hw)} -> {hw(output)}"), title_justify="left", box=box.SIMPLE_HEAD
        )
        table.add_column("#", justify="right")
        table.add_column("layer", overflow="fold")
        table.add_column("input")
        table.add_column("formula")
        for column in ("output", "receptive\nfield", "total\nstride"):
            table.add_column(column)
        table.add_row("0", "input", "", "", hw(input_hw), "1x1", "1x1")
        for step in steps:
            rows, cols = step.formula
            formula = f"H, W: {rows}" if rows == cols else f"H: {rows}\nW: {cols}"
            table.add_row(
                str(step.index),
                escape(step.layer.text),
                hw(step.input),
                formula,
                hw(step.output),
                hw(step.receptive_field),
                hw(step.jump),
            )
        Console(highlight=False).print(table)
    else:
        typer.echo(hw(output))


def main() -> None:
    """Entry point of the ``convcli`` console script.

    Runs BLAS single-threaded (unless the user chose otherwise): the engine
    spreads work over the cores itself, and its many small matrix products are
    much slower when OpenBLAS wakes its own threads for each.
    """
    import os

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    app(prog_name="convcli")


if __name__ == "__main__":  # pragma: no cover
    main()
