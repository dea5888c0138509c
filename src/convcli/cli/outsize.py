"""``convcli outsize``: output sizes of a layer chain."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._app import app, reports_errors

#: ``N`` or ``HxW``: a size given directly (anything else is a file or a kernel spec).
_OUTSIZE_PAIR = r"\s*\d+\s*(?:[xX]\s*\d+\s*)?"


def _outsize_pair(key: str, value: str, *, where: str, minimum: int = 1) -> tuple[int, int]:
    """``N`` or ``HxW`` from the command line, through the shared spec helpers."""
    from ..specs import Spec, spec_int_pair

    return spec_int_pair(Spec(name=key, params={key: value}, text=where), key, minimum=minimum)


def _outsize_input(source: str) -> tuple[int, int]:
    """``(height, width)`` from ``N``/``HxW``, an image file (header only) or a ``.npy`` array."""
    import re
    from pathlib import Path

    from ..errors import ImageReadError

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
    kernel: str, stride: str | None, pad: str | None, dilation: str | None
) -> Any:
    """The convolution layer ``apply`` would run for ``--kernel/--stride/--pad/--dilation``."""
    import re

    from ..shapes import Layer, spec_pad
    from ..specs import Spec

    if re.fullmatch(_OUTSIZE_PAIR, kernel):
        kernel_hw = _outsize_pair("kernel", kernel.replace(" ", ""), where=f"--kernel {kernel}")
    else:
        from ..kernels import kernel as load_kernel

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
        list[str] | None,
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
        str | None,
        typer.Option(
            "--kernel",
            "-k",
            help="Kernel size N or HxW, or a kernel spec as in apply (gaussian:sigma=2) whose size is used.",
            show_default=False,
        ),
    ] = None,
    stride: Annotated[
        str | None, typer.Option("--stride", help="Stride of --kernel, N or HxW (default 1).")
    ] = None,
    pad: Annotated[
        str | None,
        typer.Option(
            "--pad", help="Padding of --kernel: same, valid, full, N or HxW (default same, as in apply)."
        ),
    ] = None,
    dilation: Annotated[
        str | None, typer.Option("--dilation", help="Dilation of --kernel, N or HxW (default 1).")
    ] = None,
    pool: Annotated[
        str | None,
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

    from ..shapes import chain_sizes, parse_layer

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


