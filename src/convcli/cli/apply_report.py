"""What ``convcli apply`` prints: the progress bar, warnings, the dry-run plan, the JSON report and the summary.

Results arrive as :class:`convcli.batch.FileResult` objects (plain Python
data); nothing here filters, reads images or imports NumPy or Pillow.  The plan
and the JSON report go to stdout; progress, warnings, errors and the summary go
to stderr.

Examples
--------
>>> from convcli.batch import FileResult
>>> done = FileResult(0, "a.png", "out/a.png", "written", input_shape=(4, 6, 3), output_shape=(2, 3, 3),
...                   depth="8", format="PNG")
>>> file_line(done)
'Wrote out/a.png: 4x6x3 -> 2x3x3, 8-bit PNG (0.00 s)'
>>> summary_line([done], seconds=0.5) is None  # a single-file run is silent on success
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import typer

from .render import shape_text, write_stdout

if TYPE_CHECKING:
    from ..batch import FileResult

__all__ = ["FAILED_LISTED", "counts", "dry_run_lines", "file_line", "interrupted_line", "json_report", "on_result",
           "progress", "report", "summary_line"]

STATUSES = ("written", "planned", "skipped", "failed")
#: at most this many failed files are listed again in the summary (--json has them all)
FAILED_LISTED = 10


def counts(results: Sequence[FileResult]) -> dict[str, int]:
    """How many results have each status.

    Examples
    --------
    >>> counts([])
    {'written': 0, 'planned': 0, 'skipped': 0, 'failed': 0}
    """
    return {status: sum(1 for r in results if r.status == status) for status in STATUSES}


def _depth_text(depth: str | None) -> str:
    from ..depth import DEPTHS, depth_name

    return "?" if not depth else depth_name(depth) if depth in DEPTHS else depth  # or a kept dtype: int16


def _offset_value(offset: float | str, depth: str | None) -> float | None:
    """A relative ``--offset`` (``"50%"``) in the units of one output's depth; None when it is not relative."""
    if not isinstance(offset, str) or not depth:
        return None
    from ..depth import resolve_offset

    return resolve_offset(offset, depth)  # type: ignore[arg-type]


def _file_dict(r: FileResult, offset: float | str) -> dict[str, Any]:
    """One file of the JSON report; with a relative ``--offset``, its value in this output's units."""
    found = r.to_dict()
    value = _offset_value(offset, r.depth if r.status in ("planned", "written") else None)
    if value is not None:
        found["offset"] = value
    return found


def json_report(results: Sequence[FileResult], *, dry_run: bool, seconds: float, offset: float | str = 0.0,
                interrupted: bool = False) -> str:
    """The ``--json`` report: every file and a summary, as one line of JSON.

    After Ctrl-C or SIGTERM (``interrupted``) it lists the files done so far
    (every file written is complete) and says ``"interrupted": true``.

    With a relative ``offset`` (``"50%"``) each planned or written file also
    gives ``"offset"``: its value in that output's units (127.5 for 8-bit).

    Each file's fields are :meth:`convcli.batch.FileResult.to_dict`'s; among
    them ``"bands"``: 1 for a file one process filtered whole (every local
    run), N >= 2 for a giant image a cluster cut into N bands of rows, null
    when nothing was filtered (planned, skipped, failed).

    Examples
    --------
    >>> json_report([], dry_run=True, seconds=0.01234)
    '{"dry_run": true, "files": [], "summary": {"total": 0, "written": 0, "planned": 0, "skipped": 0, \
"failed": 0, "seconds": 0.012}}'
    >>> import json
    >>> from convcli.batch import FileResult
    >>> json.loads(json_report([FileResult(0, "a.png", "b.png", "planned", depth="16")], dry_run=True,
    ...                        seconds=0, offset="50%"))["files"][0]["offset"]
    32767.5
    """
    import json  # here: a run without --json never imports it

    found: dict[str, Any] = {"dry_run": dry_run, "files": [_file_dict(r, offset) for r in results],
                             "summary": {"total": len(results), **counts(results), "seconds": round(seconds, 3)}}
    if interrupted:
        found["interrupted"] = True
    return json.dumps(found)


def dry_run_lines(results: Sequence[FileResult], *, offset: float | str = 0.0) -> list[str]:
    """The ``--dry-run`` plan: each output with its shapes, then each operation with the method chosen.

    A relative ``offset`` (``"50%"``) is shown last, in each output's units.

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> dry_run_lines([FileResult(0, "a.png", "a.png", "skipped"), FileResult(1, "b.png", None, "failed")])
    ['a.png -> a.png: skipped (exists)', 'b.png: would fail (see the error above)']
    >>> dry_run_lines([FileResult(0, "a.png", "b.png", "planned", depth="8", format="PNG")], offset="50%")[1]
    '                                   offset 50% of 255 = 127.5 (8-bit)'
    """
    lines = []
    for r in results:
        if r.status == "failed":
            lines.append(f"{r.label}: would fail (see the error above)")
        elif r.status == "skipped":
            lines.append(f"{r.label} -> {r.output}: skipped (exists)" if r.output is not None
                         else f"{r.label}: skipped ({r.reason})")
        else:
            lines.append(f"{r.label} -> {r.output}  ({shape_text(r.input_shape)} in, "
                         f"{shape_text(r.output_shape)} {_depth_text(r.depth)} {r.format} out)")
            for step in r.steps:
                text = f"  {shape_text(step.input):>14} -> {shape_text(step.output):<14} {step.operation}"
                if step.method:
                    text += f"  [method {step.method}: {step.reason}]"
                lines.append(text)
            value = _offset_value(offset, r.depth)
            if value is not None:
                from ..depth import FULL_SCALE

                lines.append(f"{'':<35}offset {offset} of {FULL_SCALE[str(r.depth)]:g} = {value:g} "
                             f"({_depth_text(r.depth)})")
    return lines


def file_line(result: FileResult) -> str | None:
    """What ``--verbose`` says about one file as it is done (None for a failure: its error says it).

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> file_line(FileResult(0, "a.png", "-", "written", input_shape=(4, 6), output_shape=(4, 6), depth="16",
    ...                      format="PNG", seconds=0.25))
    'Wrote stdout: 4x6 -> 4x6, 16-bit PNG (0.25 s)'
    >>> file_line(FileResult(0, "a.png", "b.png", "skipped"))
    'Skipped a.png: b.png exists'
    """
    if result.status == "written":
        where = "stdout" if result.output == "-" else result.output
        return (f"Wrote {where}: {shape_text(result.input_shape)} -> {shape_text(result.output_shape)}, "
                f"{_depth_text(result.depth)} {result.format} ({result.seconds:.2f} s)")
    if result.status == "skipped":
        if result.output is None:  # not an input: another input's output, or in the output folder
            return f"Skipped {result.label}: {result.reason}"
        return f"Skipped {result.label}: {result.output} exists"
    return None


def summary_line(results: Sequence[FileResult], *, seconds: float) -> str | None:
    """The summary on stderr after a batch; None for a single-file run (its error, or ``-v``, says it all).

    Each failure was printed when it happened; the summary counts them and
    lists at most :data:`FAILED_LISTED` of them again (``--json`` has all).

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> summary_line([FileResult(0, "a.png", "o/a.png", "written"), FileResult(1, "b.png", None, "failed",
    ...               error="b.png: damaged")], seconds=2.0)
    'Done in 2.0 s: 1 written, 1 failed, 0 skipped (0.5 files/s)\\nFailed (1):\\n  b.png: damaged'
    >>> summary_line([FileResult(0, "a.png", "o/a.png", "written")], seconds=1.0) is None
    True
    """
    tally = counts(results)
    if len(results) == 1:
        return None
    rate = tally["written"] / seconds if seconds > 0 else 0.0
    lines = [f"Done in {seconds:.1f} s: {tally['written']} written, {tally['failed']} failed, "
             f"{tally['skipped']} skipped ({rate:.1f} files/s)"]
    failed = [r for r in results if r.status == "failed"]
    if failed:
        lines.append(f"Failed ({len(failed)}):")
        lines.extend(f"  {r.error}" for r in failed[:FAILED_LISTED])
        if len(failed) > FAILED_LISTED:
            lines.append(f"  and {len(failed) - FAILED_LISTED} more; --json has all")
    held = [r for r in results if r.status == "skipped" and r.output is None and r.reason]
    if held:  # files found but not filtered: another input's output, or in the output folder
        lines.append(f"Skipped, not filtered ({len(held)}):")
        lines.extend(f"  {r.label}: {r.reason}" for r in held[:FAILED_LISTED])
        if len(held) > FAILED_LISTED:
            lines.append(f"  and {len(held) - FAILED_LISTED} more; --json has all")
    return "\n".join(lines)


def report(results: Sequence[FileResult], *, seconds: float, as_json: bool, dry_run: bool, console: Any,
           offset: float | str = 0.0) -> None:
    """Print the JSON report or the dry-run plan on stdout and the summary on stderr (``console``; None: quiet).

    ``offset`` is the recipe's: a relative one (``"50%"``) is shown per file.

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> from convcli.cli.render import console as make_console
    >>> done = [FileResult(i, f"{i}.png", f"o/{i}.png", "written") for i in range(2)]
    >>> report(done, seconds=0.5, as_json=False, dry_run=False, console=make_console())
    Done in 0.5 s: 2 written, 0 failed, 0 skipped (4.0 files/s)
    """
    if dry_run:
        for r in results:
            if r.status == "failed":
                typer.echo(f"Error: {r.error}", err=True)
    if as_json:
        write_stdout((json_report(results, dry_run=dry_run, seconds=seconds, offset=offset) + "\n").encode())
    elif dry_run:
        write_stdout(("\n".join(dry_run_lines(results, offset=offset)) + "\n").encode())
    if console is None:
        return
    if dry_run:
        tally = counts(results)
        console.print(f"Dry run: {tally['planned']} planned, {tally['skipped']} skipped, {tally['failed']} failing; "
                      "nothing was written.", markup=False)
        return
    line = summary_line(results, seconds=seconds)
    if line is not None:
        console.print(line, markup=False)


def on_result(console: Any, quiet_console: Any, done: list[FileResult], *,
              verbose: bool = False) -> Callable[[FileResult], None]:
    """A callback that keeps each result in ``done`` and prints its error (always) and warnings (unless quiet).

    ``console`` prints warnings (None: quiet); ``quiet_console`` prints errors,
    once per failed file, as it happens.  With ``verbose``, each written or
    skipped file is also said (:func:`file_line`).

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> from convcli.cli.render import console as make_console
    >>> done = []
    >>> show = on_result(None, make_console(), done)
    >>> show(FileResult(0, "a.png", None, "failed", error="a.png: damaged"))
    Error: a.png: damaged
    >>> [r.status for r in done]
    ['failed']
    """

    def show(result: FileResult) -> None:
        done.append(result)
        if result.status == "failed" and result.error:
            quiet_console.print(f"Error: {result.error}", markup=False)
        if console is not None:
            for warning in result.warnings:
                console.print(f"Warning: {warning}", markup=False)
            line = file_line(result) if verbose else None
            if line is not None:
                console.print(line, markup=False)

    return show


def progress(console: Any, total: int) -> Any:
    """A Rich progress bar on ``console`` for ``total`` files: files/s and the time left; gone when done.

    Examples
    --------
    >>> from convcli.cli.render import console as make_console
    >>> bar = progress(make_console(stderr=True), 3)
    >>> [task.total for task in bar.tasks]
    [3]
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} files/s" if speed else "… files/s")

    bar = Progress(TextColumn("filtering"), BarColumn(), MofNCompleteColumn(), _Rate(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=console, transient=True)
    bar.add_task("files", total=total)
    return bar


def interrupted_line(done: Sequence[FileResult]) -> str:
    """What is said on Ctrl-C or SIGTERM.

    Examples
    --------
    >>> interrupted_line([])[:44]
    'Interrupted after 0 file(s) written: those a'
    """
    written = sum(1 for r in done if r.status == "written")
    return (f"Interrupted after {written} file(s) written: those are complete and no temporary files are left; "
            "re-run with --skip-existing to finish the rest.")
