"""``convcli apply``: filter images."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._app import app, fail, reports_errors

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
    from ..errors import ParameterError
    from ..pipeline import Pool
    from ..shapes import parse_layer
    from ..specs import parse_spec

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
        list[str] | None,
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
        str | None,
        typer.Option("--from-file", metavar="LIST", help="Also read input paths from LIST, one per line "
                     "(- for stdin). E.g. find . -name '*.png' | convcli apply --from-file - --outdir out",
                     rich_help_panel=_APPLY_PANELS[0], show_default=False),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="The output for one input; - writes to stdout "
                     "(PNG unless --format). E.g. -o blurred.png", rich_help_panel=_APPLY_PANELS[1],
                     show_default=False),
    ] = None,
    outdir: Annotated[
        str | None,
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
        str | None,
        typer.Option("--format", metavar="EXT", help="Output format/extension: png, jpg, tif, webp, bmp, npy, "
                     "… (default: the input's, or the -o extension). E.g. --format tif",
                     rich_help_panel=_APPLY_PANELS[1], show_default=False),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="TEMPLATE", help="Output name template with {stem} {ext} {suffix} "
                     "{name} {parent} {index}. E.g. --name '{stem}_blur.{ext}'",
                     rich_help_panel=_APPLY_PANELS[1], show_default=False),
    ] = None,
    kernels: Annotated[
        list[str] | None,
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
        float | None,
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
        str | None,
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
        str | None,
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
        str | None,
        typer.Option("--depth", help="Output samples: 8, 16 or float (default: as the input, or the deepest "
                     "the format holds). E.g. --depth 16", rich_help_panel=_APPLY_PANELS[3],
                     show_default=False),
    ] = None,
    quality: Annotated[
        int | None,
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
        int | None,
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
        int | None,
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

    from .. import batch
    from ..errors import ParameterError
    from ..imageio import DEFAULT_MAX_PIXELS, FORMATS, depth_possible
    from ..pipeline import ACTIVATIONS, CHANNELS, DEPTHS, RANGES

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
        from ..kernels import kernel as load_kernel

        # a bad kernel (name, key, value, file) is an error (exit 1), as in `convcli kernels show`
        loaded = [load_kernel(spec, normalize=normalize) for spec in kernels or []]
        try:
            from ..engine import normalize_border
            from ..pipeline import Activate, Convolve

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
    from ..errors import ImageReadError

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
    from .. import batch

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


