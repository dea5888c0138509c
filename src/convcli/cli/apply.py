"""``convcli apply``: filter images.

Parse (Typer declarations; shared option types from :mod:`.options`), make one
library call (:func:`convcli.batch.apply_batch`: it checks every option, picks
where the batch runs from ``--jobs``, ``--scheduler`` and
``DASK_SCHEDULER_ADDRESS``, plans and runs or dry-runs the batch), render
(:mod:`.apply_report`: warnings, progress, the summary or ``--json``; image
bytes to stdout for ``-o -``).
"""

# No ``from __future__ import annotations`` here: with it, Typer compiles and evaluates every option's annotation
# string twice on each run (about 9 of the 14 ms it takes to turn this signature into Click options); written
# out, the annotations are built once, at import, from the cached bytecode.  Names known only to type checkers
# are quoted.

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import apply_report
from ._app import app, reports_errors
from .options import (
    Command,
    border_option,
    border_value_option,
    complete_choice,
    dilation_option,
    flip_option,
    kernel_option,
    method_option,
    pad_option,
    pool_option,
    stride_option,
)
from .render import lazy_console, write_stdout

if TYPE_CHECKING:
    from ..batch import FileResult, Task

_PANELS = ("Inputs", "Outputs", "Operations (in CNN order)", "Channels, range and depth", "Running")


def _option(*names: str, panel: int, **settings: Any) -> Any:
    """An apply option in help panel ``panel`` (an index into the panels above)."""
    return typer.Option(*names, rich_help_panel=_PANELS[panel], **settings)


@app.command("apply", cls=Command)
@reports_errors
def apply(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="INPUT...",
            help=(
                "Images (PNG, JPEG, TIFF, BMP, WebP, … and .npy arrays), folders (the images directly inside; "
                "-r for sub-folders too), quoted glob patterns expanded by convcli ('photos/**/*.jpg'), or - for "
                "stdin. E.g. photo.png"
            ),
            show_default=False,
        ),
    ] = None,
    recursive: Annotated[bool, _option(
        "--recursive", "-r", panel=0,
        help="Also filter the images in sub-folders of folders, at any depth. E.g. -r photos/")] = False,
    ignore_case: Annotated[bool, _option(
        "--ignore-case", panel=0,
        help="Glob patterns match names in any case ('*.jpg' finds A.JPG too). E.g. --ignore-case")] = False,
    frames: Annotated[str, _option(
        "--frames", panel=0, autocompletion=complete_choice("frames"),
        help="Animated GIFs and multi-page TIFFs: first (the first frame, with a warning) or all (each frame "
             "filtered and written as {stem}_{frame}, from 0). E.g. --frames all")] = "first",
    from_file: Annotated[str | None, _option(
        "--from-file", panel=0, metavar="LIST", show_default=False,
        help="Also read input paths from LIST, one per line (- for stdin); under --outdir each keeps its path "
             "relative to --base. E.g. find . -name '*.png' | convcli apply --from-file - --outdir out")] = None,
    null: Annotated[bool, _option(
        "--null", "-0", panel=0,
        help="The --from-file list is NUL-separated, as xargs -0 reads it (names may hold newlines). E.g. "
             "find . -name '*.png' -print0 | convcli apply --from-file - -0 --outdir out")] = False,
    base: Annotated[str | None, _option(
        "--base", panel=0, metavar="DIR", show_default=False,
        help="The folder --from-file paths are relative to below --outdir (default: the current folder), as "
             "rsync's --files-from. E.g. --base /data/photos")] = None,
    output: Annotated[str | None, _option(
        "--output", "-o", panel=1, metavar="FILE", show_default=False,
        help="The output for one input; - writes to stdout (PNG unless --format). E.g. -o blurred.png")] = None,
    outdir: Annotated[str | None, _option(
        "--outdir", panel=1, metavar="DIR", show_default=False,
        help="Write outputs here (created if missing), keeping the input names and sub-folders. E.g. --outdir "
             "blurred/")] = None,
    suffix: Annotated[str, _option(
        "--suffix", panel=1, metavar="SUFFIX",
        help="Add to each output name's stem; without --outdir, write beside each input. E.g. --suffix _blur")] = "",
    out_format: Annotated[str | None, _option(
        "--format", panel=1, metavar="EXT", show_default=False,
        help="Output format/extension: png, jpg, tif, webp, bmp, npy, … (default: the input's, or the -o "
             "extension). E.g. --format tif")] = None,
    name: Annotated[str | None, _option(
        "--name", panel=1, metavar="TEMPLATE", show_default=False,
        help="Output name template with {stem} {ext} {suffix} {name} {parent} {index}. E.g. --name "
             "'{stem}_blur.{ext}'")] = None,
    kernels: Annotated[list[str] | None, kernel_option(panel=_PANELS[2], repeat=True)] = None,
    flip: Annotated[bool, flip_option(panel=_PANELS[2])] = False,
    normalize: Annotated[bool, _option(
        "--normalize", panel=2,
        help="Divide every kernel by its sum. E.g. -k '1,2,1;2,4,2;1,2,1' --normalize")] = False,
    border: Annotated[str, border_option(panel=_PANELS[2])] = "reflect",
    border_value: Annotated[float | None, border_value_option(panel=_PANELS[2])] = None,
    pad: Annotated[str, pad_option(panel=_PANELS[2])] = "same",
    stride: Annotated[str, stride_option(panel=_PANELS[2])] = "1",
    dilation: Annotated[str, dilation_option(panel=_PANELS[2])] = "1",
    anchor: Annotated[str | None, _option(
        "--anchor", panel=2, metavar="R,C", show_default=False,
        help="The kernel tap (row, col from 0) placed on each pixel; --pad same only. E.g. --anchor 0,0")] = None,
    method: Annotated[str, method_option(panel=_PANELS[2])] = "auto",
    activation: Annotated[str, _option(
        "--activation", panel=2, autocompletion=complete_choice("activation"),
        help="Applied to the result of the kernels. E.g. --activation relu")] = "none",
    pool: Annotated[str | None, pool_option(panel=_PANELS[2])] = None,
    nan: Annotated[str, _option(
        "--nan", panel=2, autocompletion=complete_choice("nan"),
        help="Missing data (NaN): propagate (an output is NaN when its window holds one) or ignore (normalised "
             "convolution: the weighted mean of the valid pixels, as astropy's interpolate). E.g. --nan ignore")
    ] = "propagate",
    nan_fill: Annotated[float | None, _option(
        "--nan-fill", panel=2, metavar="X", show_default=False,
        help="With --nan ignore or --mask: the output where no valid pixel is seen (default NaN; 0 in integer "
             "outputs). E.g. --nan-fill 0")] = None,
    mask: Annotated[str | None, _option(
        "--mask", panel=2, metavar="FILE", show_default=False,
        help="An image of the input's size whose non-zero pixels are the valid ones; the others are ignored as "
             "with --nan ignore. E.g. --mask valid.png")] = None,
    channels: Annotated[str, _option(
        "--channels", panel=3, autocompletion=complete_choice("channels"),
        help="each: filter every colour channel alike; sum: add the channels' responses into one (a multi-channel "
             "convolution); gray: to luminance first. E.g. --channels gray")] = "each",
    alpha: Annotated[str, _option(
        "--alpha", panel=3, autocompletion=complete_choice("alpha"),
        help="filter: filter alpha too (colour premultiplied, no bleeding from transparent pixels); keep: leave "
             "alpha as it is. E.g. --alpha keep")] = "filter",
    linear: Annotated[bool, _option(
        "--linear", panel=3,
        help="Filter in linear light: decode sRGB first (IEC 61966-2-1), encode the result back; for blurs and "
             "resampling-like kernels. E.g. --linear")] = False,
    range_mode: Annotated[str, _option(
        "--range", panel=3, autocompletion=complete_choice("range_mode"),
        help="Integer outputs: clip (round and clip), abs (magnitude, then clip) or normalize (stretch min..max to"
             " the full range). E.g. --range abs")] = "clip",
    gain: Annotated[float, _option(
        "--gain", panel=3, metavar="X",
        help="Multiply the result first (before --range). E.g. --gain 0.5 --offset 128")] = 1.0,
    offset: Annotated[str, _option(
        "--offset", panel=3, metavar="X|N%",
        help="Add to the result first, in output units (128 = mid-gray for 8-bit, 0.5 for float), or N% of each "
             "output's full scale (50% = mid-gray at any depth, as ImageMagick's -bias 50%). E.g. --offset "
             "50%")] = "0",
    depth: Annotated[str | None, _option(
        "--depth", panel=3, autocompletion=complete_choice("depth"), show_default=False,
        help="Output samples: 8, 16 or float (default: as the input, or the deepest the format holds). E.g. "
             "--depth 16")] = None,
    quality: Annotated[int | None, _option(
        "--quality", panel=3, metavar="1-100", show_default=False,
        help="JPEG/WebP quality 1-100 (JPEG default: a JPEG input's own, else 95). E.g. --quality 90")] = None,
    tile: Annotated[int | None, _option(
        "--tile", panel=3, metavar="N", show_default=False,
        help="Write .tif outputs as tiled (Big)TIFF with N x N tiles (a multiple of 16), and .zarr outputs in N x N "
             "chunks (default: TIFF tiled with 512 above 32 megapixels, else striped; Zarr 512). E.g. --tile 512")]
    = None,
    compression: Annotated[str | None, _option(
        "--compression", panel=3, autocompletion=complete_choice("compression"), show_default=False,
        help="Compression. For .png outputs a zlib level 0-9: 0 stores, 9 is smallest and slowest; default 1, the "
             "fastest level whose files are no bigger than libvips' default ones (measured on 12-megapixel "
             "photos). For .tif and .zarr outputs a codec (default: deflate for TIFF, zstd for Zarr). E.g. "
             "--compression 6, or --compression zstd")] = None,
    dry_run: Annotated[bool, _option(
        "--dry-run", "-n", panel=4,
        help="Show each planned output, the shapes through each operation and the method auto chooses; write "
             "nothing. E.g. --dry-run")] = False,
    as_json: Annotated[bool, _option(
        "--json", panel=4,
        help="Print a JSON report on stdout (files, shapes, status, errors). E.g. --json")] = False,
    jobs: Annotated[int | None, _option(
        "--jobs", "-j", panel=4, metavar="N", show_default=False,
        help="Worker processes (default: the number of cores); results are the same for any number. E.g. -j 4")] = None,
    scheduler: Annotated[str | None, _option(
        "--scheduler", panel=4, metavar="ADDRESS|local", show_default=False,
        help="Run the batch on a Dask cluster: its scheduler's address, or local (one worker per core on this "
             "machine); default $DASK_SCHEDULER_ADDRESS when set and --jobs is not given. Workers read and write "
             "the same paths; one big tiled TIFF or Zarr input is cut into bands of rows for all workers. Needs "
             "the dask extra: pip install '.\\[dask]' in a clone (workers: docs/clusters.md). E.g. --scheduler "
             "tcp://10.0.0.5:8786")] = None,
    worker_timeout: Annotated[float | None, _option(
        "--worker-timeout", panel=4, metavar="SECONDS", show_default=False,
        help="With --scheduler: stop the batch when every Dask worker has been gone this long (default 60); "
             "what was written is kept, --skip-existing finishes the rest. E.g. --worker-timeout 300")] = None,
    quiet: Annotated[bool, _option(
        "--quiet", "-q", panel=4,
        help="No progress bar, summary or warnings; errors are still printed. E.g. -q")] = False,
    verbose: Annotated[bool, _option(
        "--verbose", "-v", panel=4,
        help="Say what each file became (a single-file run is otherwise silent on success). E.g. -v")] = False,
    force: Annotated[bool, _option(
        "--force", "-f", panel=4,
        help="Overwrite existing outputs (and allow filtering a file in place). E.g. --force")] = False,
    skip_existing: Annotated[bool, _option(
        "--skip-existing", panel=4,
        help="Leave existing outputs alone (finish an interrupted batch). E.g. --skip-existing")] = False,
    fail_fast: Annotated[bool, _option(
        "--fail-fast", panel=4,
        help="Stop at the first failed file (default: report it and go on). E.g. --fail-fast")] = False,
    max_pixels: Annotated[int | None, _option(
        "--max-pixels", panel=4, metavar="N", show_default=False,
        help="Refuse larger images before decoding (default 256000000; 0: no limit). "
             "E.g. --max-pixels 500000000")] = None,
    compare: Annotated[str | None, _option(
        "--compare", panel=1, metavar="FILE", show_default=False,
        help="Also write a .png with the input and the output side by side (before/after, at most 1600 px wide); "
             "one input only. E.g. --compare pair.png")] = None,
) -> None:
    """Filter images: one file, a folder, a glob, or a stream through stdin/stdout.

    Operations run in the CNN order: the kernels (-k, in the order given), then --activation, then --pool.

    Writes are atomic and never overwrite without --force. A file that fails is reported and the others are done.

    One file: nothing is printed on success (-v says what was written). Several: a progress bar and a summary.

    Exit codes: 0 all done, 1 some file failed, 2 usage error, 130 Ctrl-C, 141 stdout closed early, 143 SIGTERM.

    Examples:

      convcli apply photo.png -k gaussian:sigma=3 -o blurred.png

      convcli apply 'photos/*.jpg' -k sharpen --outdir sharp/ --quality 90

      convcli apply -r photos/ -k sobel:axis=both --channels gray \\
        --outdir edges/ --suffix _edges

      convcli apply -r scans/ -k sobel:axis=x --gain 0.5 --offset 50% \\
        --outdir signed_edges/

      convcli apply photo.png -k gaussian:sigma=1 --activation relu \\
        --pool max:size=2 -o small.png

      cat in.png | convcli apply - -k box:size=5 -o - \\
        | convcli apply - -k sharpen -o out.png

      find . -name '*.tif' | convcli apply --from-file - \\
        -k gaussian:sigma=2 --outdir out/ --json

      convcli apply 'photos/*.jpg' -k gaussian:sigma=2 --outdir out/ \\
        --scheduler tcp://10.0.0.5:8786

      convcli apply photo.png -k gaussian:sigma=8 -o big.png --dry-run
    """
    from .. import batch
    from ..errors import EXIT_CODES, Interrupted, UsageError, exit_code_for

    started = time.perf_counter()
    done: list[FileResult] = []  # results so far, for the message when interrupted
    err_console = None if quiet else lazy_console(stderr=True)  # Rich is imported when something is printed
    options = {  # build_recipe's keywords
        "kernels": kernels or [], "flip": flip, "normalize": normalize, "border": border, "pad": pad,
        "border_value": border_value, "stride": stride, "dilation": dilation, "anchor": anchor, "method": method,
        "activation": activation, "pool": pool, "channels": channels, "alpha": alpha, "linear": linear,
        "range_mode": range_mode, "gain": gain, "offset": offset, "depth": depth, "quality": quality,
        "max_pixels": max_pixels, "output": output, "outdir": outdir, "suffix": suffix, "format": out_format,
        "name": name, "frames": frames, "force": force, "skip_existing": skip_existing, "json_report": as_json,
        "nan": nan, "nan_fill": nan_fill, "mask": mask, "tile": tile, "compression": compression,
    }
    try:
        if verbose and quiet:
            raise UsageError("--verbose and --quiet exclude each other; give one")
        applied = batch.apply_batch(
            list(inputs or []), options=options, streams=_streams(), from_file=from_file, null=null, base=base,
            recursive=recursive, ignore_case=ignore_case, jobs=jobs, scheduler=scheduler, environ=os.environ,
            worker_timeout=worker_timeout,
            dry=dry_run, fail_fast=fail_fast, compare=compare, on_notes=lambda notes: _warn(err_console, notes),
            watch=lambda tasks, on_cluster: _watch(tasks, err_console, done, verbose=verbose, cluster=on_cluster))
        for result in applied.results if output == "-" else ():
            if result.payload is not None:
                write_stdout(result.payload)  # a closed stdout: the one error handler ends quietly with 141
        apply_report.report(applied.results, seconds=time.perf_counter() - started, as_json=as_json,
                            dry_run=dry_run, console=err_console, offset=applied.recipe.offset)
        raise typer.Exit(1 if any(r.status == "failed" for r in applied.results) else 0)
    except (KeyboardInterrupt, Interrupted) as err:
        if as_json:  # what was done: the files that landed, in the batch's order
            report = apply_report.json_report(sorted(done, key=lambda r: r.index), dry_run=False,
                                              seconds=time.perf_counter() - started, interrupted=True)
            write_stdout((report + "\n").encode())
        if exit_code_for(err) != EXIT_CODES["stdout closed"]:  # `-o - | head` ends quietly, as in _app
            typer.echo(apply_report.interrupted_line(done), err=True)
        raise typer.Exit(exit_code_for(err)) from None


def _streams() -> Any:
    """This process's stdin and stdout, as :func:`convcli.batch.apply_batch` reads and checks them."""
    from ..batch import Streams

    return Streams(read_bytes=lambda: typer.get_binary_stream("stdin").read(),
                   read_text=lambda: typer.get_text_stream("stdin").read(),
                   stdin_is_terminal=lambda: typer.get_binary_stream("stdin").isatty(),
                   stdout_is_terminal=lambda: typer.get_binary_stream("stdout").isatty())


def _warn(err_console: Any, notes: list[str]) -> None:
    """Each warning about the options on stderr (none with --quiet)."""
    for note in notes if err_console is not None else ():
        err_console.print(f"Warning: {note}", markup=False)


@contextlib.contextmanager
def _watch(tasks: Sequence["Task"], err_console: Any, done: list["FileResult"], *, verbose: bool,
           cluster: bool) -> Iterator[Callable[["FileResult"], None]]:
    """Each result shown as it comes, under a progress bar on stderr (a terminal, two files or more, no --quiet)."""
    show = apply_report.on_result(err_console, err_console or lazy_console(stderr=True), done, verbose=verbose)
    work = sum(1 for t in tasks if t.error is None and not t.skip)
    with _dask_logs(shown=verbose or not cluster):
        if err_console is None or work < 2 or not err_console.is_terminal:
            yield show
            return
        with apply_report.progress(err_console.real, len(tasks)) as bar:

            def advance(result: "FileResult") -> None:
                show(result)
                bar.advance(bar.task_ids[0])

            yield advance


@contextlib.contextmanager
def _dask_logs(*, shown: bool) -> Iterator[None]:
    """Dask's own log lines on stderr (a worker lost: "Couldn't gather 1 keys, rescheduling") only with --verbose.

    The batch's results, and convcli's own errors, say what happened to every file.
    """
    if shown:
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.ERROR)  # a lost scheduler is logged as errors, with tracebacks: convcli says it
    try:
        yield
    finally:
        logging.disable(previous)
