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

_APPLY_PANELS = ("Inputs", "Outputs", "Operations (in CNN order)", "Channels, range and depth", "Running")


def _apply_usage(message: str) -> typer.Exit:
    """A usage error: ``Error: …`` and exit code 2."""
    return fail(message, 2)


def _apply_choice(value: str, option: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered not in choices:
        raise _apply_usage(f"{option} must be one of {', '.join(choices)}, got {value!r}")
    return lowered


def _apply_ints(value: str, option: str, *, counts: tuple[int, ...], minimum: int, example: str) -> tuple[int, ...]:
    """Integers written as ``N``, ``HxW`` or comma-separated, checked for count and minimum."""
    text = value.strip().lower().replace(" ", "")
    parts = text.split(",") if "," in text else text.split("x")
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) not in counts or min(numbers, default=minimum - 1) < minimum:
        raise _apply_usage(f"{option} must be {example} (integers >= {minimum}), got {value!r}")
    return numbers


def _apply_pair(value: str, option: str) -> int | tuple[int, int]:
    numbers = _apply_ints(value, option, counts=(1, 2), minimum=1, example="N or HxW (e.g. 2 or 2x1)")
    return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])


def _apply_pad(value: str) -> Any:
    if value.strip().lower() in ("same", "valid", "full"):
        return value.strip().lower()
    numbers = _apply_ints(value, "--pad", counts=(1, 2, 4), minimum=0,
                          example="same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1)")
    if len(numbers) == 1:
        return numbers[0]
    return numbers


def _apply_pool(value: str) -> Any:
    from .errors import ParameterError
    from .pipeline import Pool
    from .shapes import parse_layer
    from .specs import parse_spec

    spec = parse_spec(value, what="--pool")
    if spec.name not in ("max", "mean", "min"):
        raise ParameterError(f"--pool {value!r}: the operation must be max, mean or min, e.g. max:size=2")
    params = dict(spec.params)
    if not {"size", "k", "kernel"} & set(params):
        params["size"] = "2"
    layer = parse_layer(spec.name + ":" + ",".join(f"{k}={v}" for k, v in params.items()))
    return Pool(spec.name, size=layer.kernel, stride=layer.stride, pad=layer.pad, ceil_mode=layer.ceil_mode)


def _apply_shape(shape: Any) -> str:
    return "x".join(str(v) for v in shape) if shape else "?"


def _apply_write_stdout(data: bytes) -> bool:
    """Write bytes to stdout; False when the reader went away (``… | head``)."""
    import os
    import sys

    stream = getattr(sys.stdout, "buffer", None) or typer.get_binary_stream("stdout")
    try:
        view = memoryview(data)
        while view:  # a raw stream may take only part of it
            written = stream.write(view)
            view = view[written if written is not None else len(view):]
        stream.flush()
    except BrokenPipeError:
        # the reader closed the pipe: stop quietly, and keep Python from complaining at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return False
    return True


@app.command("apply")
@reports_errors
def apply(
    inputs: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="INPUT...",
            help=(
                "Images (PNG, JPEG, TIFF, BMP, WebP, … and .npy arrays), folders (with -r), quoted glob "
                "patterns expanded by convcli ('photos/**/*.jpg'), or - for stdin. E.g. photo.png"
            ),
            show_default=False,
        ),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option("--recursive", "-r", help="Filter the image files inside folders, at any depth. "
                     "E.g. -r photos/", rich_help_panel=_APPLY_PANELS[0]),
    ] = False,
    frames: Annotated[
        str,
        typer.Option("--frames", help="Animated GIFs and multi-page TIFFs: first (the first frame, with a "
                     "warning) or all (each frame filtered and written as {stem}_{frame}, from 0). "
                     "E.g. --frames all", rich_help_panel=_APPLY_PANELS[0]),
    ] = "first",
    from_file: Annotated[
        Optional[str],
        typer.Option("--from-file", metavar="LIST", help="Also read input paths from LIST, one per line "
                     "(- for stdin). E.g. find . -name '*.png' | convcli apply --from-file - --outdir out",
                     rich_help_panel=_APPLY_PANELS[0], show_default=False),
    ] = None,
    output: Annotated[
        Optional[str],
        typer.Option("--output", "-o", metavar="FILE", help="The output for one input; - writes to stdout "
                     "(PNG unless --format). E.g. -o blurred.png", rich_help_panel=_APPLY_PANELS[1],
                     show_default=False),
    ] = None,
    outdir: Annotated[
        Optional[str],
        typer.Option("--outdir", metavar="DIR", help="Write outputs here (created if missing), keeping the "
                     "input names and sub-folders. E.g. --outdir blurred/", rich_help_panel=_APPLY_PANELS[1],
                     show_default=False),
    ] = None,
    suffix: Annotated[
        str,
        typer.Option("--suffix", help="Add to each output name's stem; without --outdir, write beside each "
                     "input. E.g. --suffix _blur", rich_help_panel=_APPLY_PANELS[1]),
    ] = "",
    out_format: Annotated[
        Optional[str],
        typer.Option("--format", metavar="EXT", help="Output format/extension: png, jpg, tif, webp, bmp, npy, "
                     "… (default: the input's, or the -o extension). E.g. --format tif",
                     rich_help_panel=_APPLY_PANELS[1], show_default=False),
    ] = None,
    name: Annotated[
        Optional[str],
        typer.Option("--name", metavar="TEMPLATE", help="Output name template with {stem} {ext} {suffix} "
                     "{name} {parent} {index}. E.g. --name '{stem}_blur.{ext}'",
                     rich_help_panel=_APPLY_PANELS[1], show_default=False),
    ] = None,
    kernels: Annotated[
        Optional[list[str]],
        typer.Option("--kernel", "-k", metavar="SPEC", help="A kernel: name:key=value,…, an inline matrix or a "
                     "file; repeat to apply several in sequence. E.g. -k gaussian:sigma=3 -k sobel:axis=both",
                     rich_help_panel=_APPLY_PANELS[2], show_default=False),
    ] = None,
    flip: Annotated[
        bool,
        typer.Option("--flip", help="True convolution: rotate every kernel 180° (default: correlation). "
                     "E.g. -k '1 2 3' --flip", rich_help_panel=_APPLY_PANELS[2]),
    ] = False,
    normalize: Annotated[
        bool,
        typer.Option("--normalize", help="Divide every kernel by its sum. E.g. -k '1 2 1; 2 4 2; 1 2 1' "
                     "--normalize", rich_help_panel=_APPLY_PANELS[2]),
    ] = False,
    border: Annotated[
        str,
        typer.Option("--border", help="Outside the image: constant, edge, reflect (dcb|abcd), symmetric "
                     "(cba|abc), wrap, or an alias (zeros, replicate, …). E.g. --border edge",
                     rich_help_panel=_APPLY_PANELS[2]),
    ] = "reflect",
    border_value: Annotated[
        Optional[float],
        typer.Option("--border-value", help="The value of --border constant, in the image's units "
                     "(default 0). E.g. --border constant --border-value 255",
                     rich_help_panel=_APPLY_PANELS[2], show_default=False),
    ] = None,
    pad: Annotated[
        str,
        typer.Option("--pad", help="Padding: same (keep the size), valid, full, N, HxW or T,B,L,R. "
                     "E.g. --pad valid", rich_help_panel=_APPLY_PANELS[2]),
    ] = "same",
    stride: Annotated[
        str,
        typer.Option("--stride", help="Keep every N-th output sample: N or HxW. E.g. --stride 2",
                     rich_help_panel=_APPLY_PANELS[2]),
    ] = "1",
    dilation: Annotated[
        str,
        typer.Option("--dilation", help="Spacing between kernel taps: N or HxW. E.g. --dilation 2",
                     rich_help_panel=_APPLY_PANELS[2]),
    ] = "1",
    anchor: Annotated[
        Optional[str],
        typer.Option("--anchor", metavar="R,C", help="The kernel tap (row, col from 0) placed on each pixel; "
                     "--pad same only. E.g. --anchor 0,0", rich_help_panel=_APPLY_PANELS[2],
                     show_default=False),
    ] = None,
    method: Annotated[
        str,
        typer.Option("--method", help="auto (chosen by cost; see --dry-run), direct, separable or fft. "
                     "E.g. --method fft", rich_help_panel=_APPLY_PANELS[2]),
    ] = "auto",
    activation: Annotated[
        str,
        typer.Option("--activation", help="After the kernels: none, relu, abs, sigmoid or tanh. "
                     "E.g. --activation relu", rich_help_panel=_APPLY_PANELS[2]),
    ] = "none",
    pool: Annotated[
        Optional[str],
        typer.Option("--pool", metavar="SPEC", help="Pool last: OP[:size=K,stride=S,pad=P,ceil=true], OP max, "
                     "mean or min; stride defaults to size; works without -k. E.g. --pool max:size=2",
                     rich_help_panel=_APPLY_PANELS[2], show_default=False),
    ] = None,
    channels: Annotated[
        str,
        typer.Option("--channels", help="each: filter every colour channel alike; sum: add the channels' "
                     "responses into one (a multi-channel convolution); gray: to luminance first. "
                     "E.g. --channels gray", rich_help_panel=_APPLY_PANELS[3]),
    ] = "each",
    alpha: Annotated[
        str,
        typer.Option("--alpha", help="filter: filter alpha too (colour premultiplied, no bleeding from "
                     "transparent pixels); keep: leave alpha as it is. E.g. --alpha keep",
                     rich_help_panel=_APPLY_PANELS[3]),
    ] = "filter",
    range_mode: Annotated[
        str,
        typer.Option("--range", help="Integer outputs: clip (round and clip), abs (magnitude, then clip) or "
                     "normalize (stretch min..max to the full range). E.g. --range abs",
                     rich_help_panel=_APPLY_PANELS[3]),
    ] = "clip",
    gain: Annotated[
        float,
        typer.Option("--gain", help="Multiply the result first (before --range). E.g. --gain 0.5 --offset 128",
                     rich_help_panel=_APPLY_PANELS[3]),
    ] = 1.0,
    offset: Annotated[
        float,
        typer.Option("--offset", help="Add to the result first, in output units (128 = mid-gray for 8-bit, "
                     "0.5 for float). E.g. --offset 128", rich_help_panel=_APPLY_PANELS[3]),
    ] = 0.0,
    depth: Annotated[
        Optional[str],
        typer.Option("--depth", help="Output samples: 8, 16 or float (default: as the input, or the deepest "
                     "the format holds). E.g. --depth 16", rich_help_panel=_APPLY_PANELS[3],
                     show_default=False),
    ] = None,
    quality: Annotated[
        Optional[int],
        typer.Option("--quality", min=1, max=100, help="JPEG/WebP quality 1-100 (JPEG default 95). "
                     "E.g. --quality 90", rich_help_panel=_APPLY_PANELS[3], show_default=False),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "-n", help="Show each planned output, the shapes through each operation and "
                     "the method auto chooses; write nothing. E.g. --dry-run", rich_help_panel=_APPLY_PANELS[4]),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print a JSON report on stdout (files, shapes, status, errors). "
                     "E.g. --json", rich_help_panel=_APPLY_PANELS[4]),
    ] = False,
    jobs: Annotated[
        Optional[int],
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the number of cores); results "
                     "are the same for any number. E.g. -j 4", rich_help_panel=_APPLY_PANELS[4],
                     show_default=False),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress bar, summary or warnings; errors are still printed. "
                     "E.g. -q", rich_help_panel=_APPLY_PANELS[4]),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", "-f", help="Overwrite existing outputs (and allow filtering a file in place). "
                     "E.g. --force", rich_help_panel=_APPLY_PANELS[4]),
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option("--skip-existing", help="Leave existing outputs alone (finish an interrupted batch). "
                     "E.g. --skip-existing", rich_help_panel=_APPLY_PANELS[4]),
    ] = False,
    fail_fast: Annotated[
        bool,
        typer.Option("--fail-fast", help="Stop at the first failed file (default: report it and go on). "
                     "E.g. --fail-fast", rich_help_panel=_APPLY_PANELS[4]),
    ] = False,
    max_pixels: Annotated[
        Optional[int],
        typer.Option("--max-pixels", min=0, help="Refuse larger images before decoding (default 256000000; "
                     "0: no limit). E.g. --max-pixels 500000000", rich_help_panel=_APPLY_PANELS[4],
                     show_default=False),
    ] = None,
) -> None:
    """Filter images: one file, a folder, a glob, or a stream through stdin/stdout.

    Operations run in the CNN order: the kernels (-k, in the order given), then --activation, then --pool.

    Writes are atomic and never overwrite without --force. A file that fails is reported and the others are done.

    Exit codes: 0 all done, 1 some file failed, 2 usage error, 130 Ctrl-C, 141 stdout closed early, 143 SIGTERM.

    Examples:

      convcli apply photo.png -k gaussian:sigma=3 -o blurred.png

      convcli apply 'photos/*.jpg' -k sharpen --outdir sharp/ --quality 90

      convcli apply -r photos/ -k sobel:axis=both --channels gray --outdir edges/ --suffix _edges

      convcli apply scan.png -k sobel:axis=x --gain 0.5 --offset 128 -o signed_edges.png

      convcli apply photo.png -k gaussian:sigma=1 --activation relu --pool max:size=2 -o small.png

      cat in.png | convcli apply - -k box:size=5 -o - | convcli apply - -k sharpen -o out.png

      find . -name '*.tif' | convcli apply --from-file - -k gaussian:sigma=2 --outdir out/ --json

      convcli apply photo.png -k gaussian:sigma=8 -o big.png --dry-run
    """
    import math
    import time

    from . import batch
    from .errors import ParameterError
    from .imageio import DEFAULT_MAX_PIXELS, FORMATS, depth_possible
    from .pipeline import ACTIVATIONS, CHANNELS, DEPTHS, RANGES

    started = time.perf_counter()
    done: list[Any] = []  # results so far, for the message when interrupted
    try:
        # --- parse -------------------------------------------------------------------
        inputs = list(inputs or [])
        if not inputs and from_file is None:
            raise _apply_usage("give at least one INPUT (a file, folder, quoted glob or - for stdin), "
                               "or --from-file LIST; see convcli apply --help")
        if inputs.count("-") and from_file == "-":
            raise _apply_usage("stdin can carry an image (INPUT -) or a list of paths (--from-file -), not both")
        if as_json and output == "-":
            raise _apply_usage("--json prints its report on stdout, which -o - uses for the image; "
                               "write the image to a file or drop --json")
        if force and skip_existing:
            raise _apply_usage("--force replaces existing outputs and --skip-existing keeps them; choose one")
        frames = _apply_choice(frames, "--frames", batch.FRAMES)
        channels = _apply_choice(channels, "--channels", CHANNELS)
        alpha = _apply_choice(alpha, "--alpha", ("filter", "keep"))
        range_mode = _apply_choice(range_mode, "--range", RANGES)
        activation = _apply_choice(activation, "--activation", ACTIVATIONS)
        method = _apply_choice(method, "--method", ("auto", "direct", "separable", "fft"))
        if depth is not None:
            depth = _apply_choice(depth, "--depth", DEPTHS)
        for option, number in (("--gain", gain), ("--offset", offset), ("--border-value", border_value)):
            if number is not None and not math.isfinite(number):
                raise _apply_usage(f"{option} must be a finite number, got {number}")
        if depth is not None:
            target = output if output not in (None, "-") else None
            ext = ("." + out_format.lower().lstrip(".")) if out_format else (
                "." + target.rsplit(".", 1)[-1].lower() if target and "." in target else None)
            fmt = FORMATS.get(ext) if ext else None
            if fmt is not None and not depth_possible(fmt, depth):  # type: ignore[arg-type]
                what = "float" if depth == "float" else f"{depth}-bit"
                raise _apply_usage(f"--depth {depth}: {fmt} cannot hold {what} samples; write .png or .tif "
                                   "for 16-bit, .tif or .npy for float, or drop --depth")
        stride_value = _apply_pair(stride, "--stride")
        dilation_value = _apply_pair(dilation, "--dilation")
        pad_value = _apply_pad(pad)
        anchor_value = None
        if anchor is not None:
            numbers = _apply_ints(anchor, "--anchor", counts=(2,), minimum=0, example="R,C (e.g. 1,1)")
            anchor_value = (numbers[0], numbers[1])
        from .kernels import kernel as load_kernel

        # a bad kernel (name, key, value, file) is an error (exit 1), as in `convcli kernels show`
        loaded = [load_kernel(spec, normalize=normalize) for spec in kernels or []]
        try:
            from .engine import normalize_border
            from .pipeline import Activate, Convolve

            border_name = normalize_border(border)
            operations: list[Any] = []
            for matrix in loaded:
                operations.append(Convolve(
                    matrix, flip=flip, border=border_name,
                    border_value=border_value or 0.0, pad=pad_value, stride=stride_value,
                    dilation=dilation_value, method=method, anchor=anchor_value,
                ))
            if activation != "none":
                operations.append(Activate(activation))
            if pool is not None:
                operations.append(_apply_pool(pool))
        except ParameterError as err:
            raise _apply_usage(str(err)) from None
        err_console = None if quiet else _apply_console()
        if err_console is not None and border_value is not None and border_name != "constant":
            err_console.print(f"Warning: --border-value {border_value:g} has no effect with --border "
                              f"{border_name}; it is the value of --border constant", markup=False)
        recipe = batch.Recipe(
            operations=tuple(operations), channels=channels, keep_alpha=alpha == "keep", range_mode=range_mode,
            gain=gain, offset=offset, depth=depth, quality=quality,
            max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None),
        )
        naming = batch.Naming(output=output, outdir=outdir, suffix=suffix, format=out_format, template=name)

        # --- expand and plan ---------------------------------------------------------------
        stdin_data = typer.get_binary_stream("stdin").read() if "-" in inputs else None
        listed: list[str] = []
        if from_file is not None:
            listed = batch.read_path_list(_apply_read_list(from_file))
            if not listed and not inputs:
                raise _apply_usage(f"--from-file {from_file}: the list holds no paths")
        sources = batch.expand_inputs(inputs, listed=listed, recursive=recursive, stdin_data=stdin_data,
                                      skip_dirs=[outdir] if outdir else [], frames=frames,  # type: ignore[arg-type]
                                      max_pixels=recipe.max_pixels)
        tasks = batch.plan_outputs(sources, naming, force=force, skip_existing=skip_existing)

        # --- run -----------------------------------------------------------------------------
        if dry_run:
            results = batch.dry_run(tasks, recipe)
            if as_json:
                for result in results:
                    if result.status == "failed":
                        typer.echo(f"Error: {result.error}", err=True)
            _apply_report(results, started=started, as_json=as_json, dry_run=True, quiet=quiet,
                          console=err_console)
            raise typer.Exit(1 if any(r.status == "failed" for r in results) else 0)
        results = _apply_run(tasks, recipe, jobs=jobs or batch.default_jobs(), force=force, fail_fast=fail_fast,
                             console=err_console, done=done)
        if output == "-":
            for result in results:
                if result.payload is not None and not _apply_write_stdout(result.payload):
                    raise typer.Exit(141)
        _apply_report(results, started=started, as_json=as_json, dry_run=False, quiet=quiet, console=err_console)
        raise typer.Exit(1 if any(r.status == "failed" for r in results) else 0)
    except KeyboardInterrupt:
        _apply_interrupted(done)
        raise typer.Exit(130) from None
    except batch.Interrupted:
        _apply_interrupted(done)
        raise typer.Exit(143) from None


def _apply_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _apply_read_list(source: str) -> str:
    """The text of a --from-file list (``-`` for stdin)."""
    from .errors import ImageReadError

    if source == "-":
        return typer.get_text_stream("stdin").read()
    try:
        with open(source, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError as err:
        raise ImageReadError(f"--from-file {source}: cannot read the list ({err.strerror or err}); "
                             "check the path") from None


def _apply_interrupted(done: list[Any]) -> None:
    written = sum(1 for r in done if r.status == "written")
    typer.echo(f"Interrupted after {written} file(s) written: those are complete and no temporary files are "
               "left; re-run with --skip-existing to finish the rest.", err=True)


def _apply_run(tasks: Any, recipe: Any, *, jobs: int, force: bool, fail_fast: bool, console: Any,
               done: list[Any]) -> Any:
    """Run the batch under a progress bar on stderr (shown on a terminal unless --quiet)."""
    from . import batch

    errors_console = console or _apply_console()

    def report(result: Any) -> None:
        done.append(result)
        if result.status == "failed" and result.error and "--fail-fast stopped" not in result.error:
            errors_console.print(f"Error: {result.error}", markup=False)
        if console is not None:
            for warning in result.warnings:
                console.print(f"Warning: {warning}", markup=False)

    work = sum(1 for t in tasks if t.error is None and not t.skip)
    with batch.terminate_on_sigterm():
        if console is None or not console.is_terminal or work < 2:
            return batch.run_batch(tasks, recipe, jobs=jobs, force=force, fail_fast=fail_fast, on_result=report)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class _Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f} files/s" if speed else "… files/s")

        progress = Progress(TextColumn("filtering"), BarColumn(), MofNCompleteColumn(), _Rate(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
        with progress:
            bar = progress.add_task("files", total=len(tasks))

            def advance(result: Any) -> None:
                report(result)
                progress.advance(bar)

            return batch.run_batch(tasks, recipe, jobs=jobs, force=force, fail_fast=fail_fast, on_result=advance)


def _apply_report(results: Any, *, started: float, as_json: bool, dry_run: bool, quiet: bool, console: Any) -> None:
    """The JSON report or the dry-run plan on stdout, the summary on stderr."""
    import json
    import time

    counts = {status: sum(1 for r in results if r.status == status)
              for status in ("written", "planned", "skipped", "failed")}
    seconds = time.perf_counter() - started
    if as_json:
        payload = {"dry_run": dry_run, "files": [r.to_dict() for r in results],
                   "summary": {"total": len(results), **counts, "seconds": round(seconds, 3)}}
        _apply_write_stdout((json.dumps(payload) + "\n").encode())
    elif dry_run:
        lines = []
        for r in results:
            if r.status == "failed":
                typer.echo(f"Error: {r.error}", err=True)
                lines.append(f"{r.label}: would fail (see the error above)")
                continue
            if r.status == "skipped":
                lines.append(f"{r.label} -> {r.output}: skipped (exists)")
                continue
            lines.append(f"{r.label} -> {r.output}  ({_apply_shape(r.input_shape)} in, "
                         f"{_apply_shape(r.output_shape)} {r.depth if r.depth == 'float' else r.depth + '-bit'} "
                         f"{r.format} out)")
            for step in r.steps:
                text = f"  {_apply_shape(step.input):>14} -> {_apply_shape(step.output):<14} {step.operation}"
                if step.method:
                    text += f"  [method {step.method}: {step.reason}]"
                lines.append(text)
        _apply_write_stdout(("\n".join(lines) + "\n").encode())
    if console is None or quiet:
        return
    failed = [r for r in results if r.status == "failed"]
    if dry_run:
        console.print(f"Dry run: {counts['planned']} planned, {counts['skipped']} skipped, "
                      f"{counts['failed']} failing; nothing was written.", markup=False)
        return
    if len(results) == 1 and counts["failed"] == 1:
        return  # its Error line says it all
    if len(results) == 1 and counts["written"] == 1:
        r = results[0]
        where = "stdout" if r.output == "-" else r.output
        depth = "float" if r.depth == "float" else f"{r.depth}-bit"
        console.print(f"Wrote {where}: {_apply_shape(r.input_shape)} -> {_apply_shape(r.output_shape)}, "
                      f"{depth} {r.format} ({seconds:.2f} s)", markup=False)
        return
    rate = counts["written"] / seconds if seconds > 0 else 0.0
    skipped = counts["skipped"]
    console.print(f"Done in {seconds:.1f} s: {counts['written']} written, {counts['failed']} failed, "
                  f"{skipped} skipped ({rate:.1f} files/s)", markup=False)
    if failed:
        console.print(f"Failed ({len(failed)}):", markup=False)
        for r in failed:
            console.print(f"  {r.error}", markup=False)


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

# [section: explain]

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


def _explain_input(text: str, *, crop: Optional[str], channel: Optional[int]) -> Any:
    """The matrix to explain: inline (``"1 2; 3 4"``) or a small image / .npy file (``@path`` or a path)."""
    from pathlib import Path

    from .errors import ParameterError
    from .explanation import parse_matrix

    path = text[1:].strip() if text.startswith("@") else text
    if text.startswith("@") or Path(path).is_file():
        from .imageio import read_image

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


def _explain_render(console: Any, result: Any, *, step: Optional[int]) -> None:
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
        Optional[str],
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
        Optional[str],
        typer.Option("--pool", metavar="SPEC", show_default=False,
                     help="Pool the result (or the input, without -k): max, mean or min[:size=K,stride=S,pad=P,"
                          "ceil=true]; size 2 and stride = size by default. E.g. --pool max:size=2"),
    ] = None,
    crop: Annotated[
        Optional[str],
        typer.Option("--crop", metavar="X,Y,W,H", show_default=False,
                     help="Explain a WxH crop of an image file, its top-left corner at column X, row Y."),
    ] = None,
    channel: Annotated[
        Optional[int],
        typer.Option("--channel", min=0, show_default=False, help="The channel of a colour image (0 = red)."),
    ] = None,
    step: Annotated[
        Optional[int],
        typer.Option("--step", metavar="N", min=1, show_default=False,
                     help="Show only the N-th output position (1 = top left, row by row)."),
    ] = None,
    backward: Annotated[
        bool, typer.Option("--backward", help="Also show the backward pass, for an error term of ones.")
    ] = False,
    grad: Annotated[
        Optional[str],
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
    from .explanation import explain, parse_matrix
    from .kernels import kernel as load_kernel

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


# [section: seq]

def _seq_usage(message: str) -> typer.Exit:
    """A usage error: ``Error: …`` and exit code 2."""
    return fail(message, 2)


def _seq_read_file(path: str, name: str) -> str:
    from .errors import ParameterError

    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError:
        raise ParameterError(
            f"{name}: {path} is not a text file; give numbers one per line or comma separated"
        ) from None
    except OSError as err:
        raise ParameterError(f"{name}: cannot read {path}: {err.strerror or err}") from None


def _seq_source(text: str, name: str) -> tuple[str, str]:
    """The text of a sequence given inline, as a file (a path or @path) or as ``-`` (stdin), and its label."""
    import os
    import re

    from .errors import ParameterError

    if text == "-":
        return typer.get_text_stream("stdin").read(), f"{name} (stdin)"
    if text.startswith("@"):
        return _seq_read_file(text[1:].strip(), name), text[1:].strip()
    if os.path.isfile(text):
        return _seq_read_file(text, name), text
    if not re.fullmatch(r"[\s\d.,eE+\-#]*(?:inf|nan)?[\s\d.,eE+\-#]*", text, flags=re.IGNORECASE):
        raise ParameterError(
            f"{name} {text!r} is neither numbers (e.g. \"2,4\" or \"7 3 1\") nor an existing file; check the path"
        )
    return text, name


def _seq_num(value: float) -> str:
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return f"{value:.15g}"


@app.command("seq")
@reports_errors
def seq_command(
    a: Annotated[
        str,
        typer.Argument(metavar="A", show_default=False,
                       help="A sequence: \"2,4\", \"7 3 1\", a file (one number per line or comma separated; "
                            "a path or @path) or - for stdin."),
    ],
    b: Annotated[
        Optional[str],
        typer.Argument(metavar="B", show_default=False,
                       help="The second sequence (the kernel), in the same forms; or use -k."),
    ] = None,
    kernel: Annotated[
        Optional[str],
        typer.Option("--kernel", "-k", metavar="SPEC", show_default=False,
                     help="The kernel as a kernel spec: a row (\"1 2 1\"), box:size=1x5, or a symmetric separable "
                          "kernel standing for its 1-D factor (box:size=5 is five 1/5, gaussian:sigma=2)."),
    ] = None,
    pad: Annotated[
        str,
        typer.Option("--pad", help="full: every overlap, len(A)+len(B)-1 values (long multiplication); same: "
                                   "len(A) values; valid: only full overlaps."),
    ] = "full",
    method: Annotated[
        str, typer.Option("--method", help="direct (the sum), fft, or auto (by size).")
    ] = "auto",
    lines: Annotated[
        bool, typer.Option("--lines", help="Print one number per line (for pipelines) instead of one line.")
    ] = False,
) -> None:
    """Convolve two number sequences (1-D, true convolution: the second is flipped, as in long multiplication).

    Seed 004: the digits of 42 and 137, units first, are (2, 4) and (7, 3, 1); their convolution
    (14, 34, 14, 4) carried is 14 + 340 + 1400 + 4000 = 5754 = 42 x 137 (see convcli multiply).
    With a box kernel it is a moving average (seed 001). Results print on one line, space separated.

    Examples:

      convcli seq "2,4" "7,3,1"                      (prints 14 34 14 4)

      seq 1 100 | convcli seq - -k box:size=5 --pad valid

      convcli seq prices.txt -k "0.25 0.5 0.25" --pad same --lines

      convcli seq -- "-1,2" "3,4"                    (a leading '-' needs '--' first)
    """
    from .kernels import kernel as load_kernel
    from .sequences import METHODS, PADS, convolve1d, kernel_1d, parse_sequence

    if (b is None) == (kernel is None):
        raise _seq_usage("give the second sequence B or a kernel with -k (one of them)")
    if a == "-" and b == "-":
        raise _seq_usage("only one of A and B can come from stdin (-)")
    pad_mode = pad.strip().lower()
    if pad_mode not in PADS:
        raise _seq_usage(f"--pad must be one of {', '.join(PADS)}, got {pad!r}")
    method_name = method.strip().lower()
    if method_name not in METHODS:
        raise _seq_usage(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    text, label = _seq_source(a, "sequence A")
    first = parse_sequence(text, source=label)
    if b is not None:
        text, label = _seq_source(b, "sequence B")
        second = parse_sequence(text, source=label)
    else:
        assert kernel is not None
        second = kernel_1d(load_kernel(kernel).matrix, spec=kernel)
    result = convolve1d(first, second, pad=pad_mode, method=method_name)  # type: ignore[arg-type]
    typer.echo(("\n" if lines else " ").join(_seq_num(v) for v in result))


def _multiply_number(text: str, name: str) -> str:
    """A number given as digits, or read from a file (a path or @path; whitespace and line breaks ignored)."""
    import os

    from .errors import ParameterError

    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return stripped
    path = text[1:].strip() if text.startswith("@") else text
    if text.startswith("@") or os.path.isfile(path):
        content = _seq_read_file(path, name)
        for number, line in enumerate(content.splitlines(), start=1):
            for column, char in enumerate(line, start=1):
                if not (char in "0123456789" or char.isspace()):
                    raise ParameterError(
                        f"{name}: {path}, line {number}, column {column}: {char!r} is not a digit; the file should "
                        "hold one non-negative decimal integer (line breaks and spaces are ignored)"
                    )
        digits = "".join(content.split())
        if not digits:
            raise ParameterError(f"{name}: {path} is empty; it should hold the digits of a number")
        return digits
    raise ParameterError(
        f"{name} {text!r} is neither a non-negative decimal integer (digits 0-9 only, e.g. 42) nor an existing file"
    )


@app.command("multiply")
@reports_errors
def multiply_command(
    a: Annotated[
        str,
        typer.Argument(metavar="A", show_default=False,
                       help="A non-negative integer in decimal, or a file holding one (a path or @path)."),
    ],
    b: Annotated[
        str,
        typer.Argument(metavar="B", show_default=False, help="The other factor, in the same forms."),
    ],
) -> None:
    """Multiply two non-negative integers exactly, by FFT convolution of their digits plus carrying.

    Seed 004: 42 x 137 convolves the digit sequences (2, 4) and (7, 3, 1) to (14, 34, 14, 4) and
    carries: 5754. The digits are grouped into limbs and convolved with a float64 FFT, O(n log n).

    Exact at any size: the limb size shrinks as the numbers grow so that the FFT's rounding error
    provably stays below 1/4 (Percival's bound): 4-digit limbs up to about 390,000 digits per factor,
    3-digit limbs up to about 22 million, 2-digit limbs up to about 1.1 billion (memory permitting).
    Every product is also checked (each coefficient within 1/4 of an integer, the result modulo
    2^31-1). On the benchmark machine (benchmarks/bench_multiply.py) it beats CPython's int
    multiplication from about 30,000-50,000 digits on (about 7x faster at a million digits), and
    str(int(a) * int(b)), which also converts to and from decimal, from a few thousand.

    Files may wrap the digits over several lines.

    Examples:

      convcli multiply 42 137                                 (prints 5754)

      convcli multiply @a.txt @b.txt > product.txt

      python -c "print('9' * 100000)" > nines.txt; convcli multiply nines.txt nines.txt | wc -c
    """
    from .sequences import multiply

    typer.echo(multiply(_multiply_number(a, "A"), _multiply_number(b, "B")))


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
    import sys

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        code = app(prog_name="convcli", standalone_mode=False)
    except Exception as err:
        message = _usage_error_line(err)
        if message is None:
            raise  # a bug: Typer shows the traceback
        if message:  # (empty when the help was shown instead, as for a bare `convcli`)
            typer.echo(f"Error: {message}", err=True)
        sys.exit(int(getattr(err, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error_line(err: BaseException) -> str | None:
    """Click's own usage errors (a bad INTEGER, an unknown option) as one line, like every other error.

    Click would draw a box over several lines; scripts read one ``Error: …``
    line.  None for anything that is not a Click error.
    """
    from .errors import one_line

    if type(err).__name__ == "Abort":
        return "aborted"
    if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
        return None
    text = " ".join(str(err.format_message()).split())
    context = getattr(err, "ctx", None)
    if text and context is not None:
        text += f" (see '{context.command_path} --help')"
    return one_line(text)


if __name__ == "__main__":  # pragma: no cover
    main()
