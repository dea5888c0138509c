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
>>> summary_line([done], seconds=0.5)
'Wrote out/a.png: 4x6x3 -> 2x3x3, 8-bit PNG (0.50 s)'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import typer

from .render import shape_text, write_stdout

if TYPE_CHECKING:
    from ..batch import FileResult

__all__ = ["counts", "dry_run_lines", "interrupted_line", "json_report", "on_result", "progress", "report",
           "summary_line"]

STATUSES = ("written", "planned", "skipped", "failed")


def counts(results: Sequence[FileResult]) -> dict[str, int]:
    """How many results have each status.

    Examples
    --------
    >>> counts([])
    {'written': 0, 'planned': 0, 'skipped': 0, 'failed': 0}
    """
    return {status: sum(1 for r in results if r.status == status) for status in STATUSES}


def _depth_text(depth: str | None) -> str:
    from ..depth import check_depth, depth_name

    return depth_name(check_depth(depth)) if depth else "?"


def json_report(results: Sequence[FileResult], *, dry_run: bool, seconds: float) -> str:
    """The ``--json`` report: every file and a summary, as one line of JSON.

    Examples
    --------
    >>> json_report([], dry_run=True, seconds=0.01234)
    '{"dry_run": true, "files": [], "summary": {"total": 0, "written": 0, "planned": 0, "skipped": 0, \
"failed": 0, "seconds": 0.012}}'
    """
    return json.dumps({"dry_run": dry_run, "files": [r.to_dict() for r in results],
                       "summary": {"total": len(results), **counts(results), "seconds": round(seconds, 3)}})


def dry_run_lines(results: Sequence[FileResult]) -> list[str]:
    """The ``--dry-run`` plan: each output with its shapes, then each operation with the method chosen.

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> dry_run_lines([FileResult(0, "a.png", "a.png", "skipped"), FileResult(1, "b.png", None, "failed")])
    ['a.png -> a.png: skipped (exists)', 'b.png: would fail (see the error above)']
    """
    lines = []
    for r in results:
        if r.status == "failed":
            lines.append(f"{r.label}: would fail (see the error above)")
        elif r.status == "skipped":
            lines.append(f"{r.label} -> {r.output}: skipped (exists)")
        else:
            lines.append(f"{r.label} -> {r.output}  ({shape_text(r.input_shape)} in, "
                         f"{shape_text(r.output_shape)} {_depth_text(r.depth)} {r.format} out)")
            for step in r.steps:
                text = f"  {shape_text(step.input):>14} -> {shape_text(step.output):<14} {step.operation}"
                if step.method:
                    text += f"  [method {step.method}: {step.reason}]"
                lines.append(text)
    return lines


def summary_line(results: Sequence[FileResult], *, seconds: float) -> str | None:
    """The line on stderr after a run (None when the one file's error line says it all).

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> summary_line([FileResult(0, "a.png", "o/a.png", "written"), FileResult(1, "b.png", None, "failed",
    ...               error="b.png: damaged")], seconds=2.0)
    'Done in 2.0 s: 1 written, 1 failed, 0 skipped (0.5 files/s)\\nFailed (1):\\n  b.png: damaged'
    """
    tally = counts(results)
    if len(results) == 1 and tally["failed"] == 1:
        return None
    if len(results) == 1 and tally["written"] == 1:
        r = results[0]
        where = "stdout" if r.output == "-" else r.output
        return (f"Wrote {where}: {shape_text(r.input_shape)} -> {shape_text(r.output_shape)}, "
                f"{_depth_text(r.depth)} {r.format} ({seconds:.2f} s)")
    rate = tally["written"] / seconds if seconds > 0 else 0.0
    lines = [f"Done in {seconds:.1f} s: {tally['written']} written, {tally['failed']} failed, "
             f"{tally['skipped']} skipped ({rate:.1f} files/s)"]
    failed = [r for r in results if r.status == "failed"]
    if failed:
        lines.append(f"Failed ({len(failed)}):")
        lines.extend(f"  {r.error}" for r in failed)
    return "\n".join(lines)


def report(results: Sequence[FileResult], *, seconds: float, as_json: bool, dry_run: bool, console: Any) -> None:
    """Print the JSON report or the dry-run plan on stdout and the summary on stderr (``console``; None: quiet).

    Examples
    --------
    >>> from convcli.batch import FileResult
    >>> from convcli.cli.render import console as make_console
    >>> done = FileResult(0, "a.png", "b.png", "written", input_shape=(4, 6), output_shape=(4, 6), depth="16",
    ...                   format="PNG")
    >>> report([done], seconds=0.25, as_json=False, dry_run=False, console=make_console())
    Wrote b.png: 4x6 -> 4x6, 16-bit PNG (0.25 s)
    """
    if dry_run:
        for r in results:
            if r.status == "failed":
                typer.echo(f"Error: {r.error}", err=True)
    if as_json:
        write_stdout((json_report(results, dry_run=dry_run, seconds=seconds) + "\n").encode())
    elif dry_run:
        write_stdout(("\n".join(dry_run_lines(results)) + "\n").encode())
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


def on_result(console: Any, quiet_console: Any, done: list[FileResult]) -> Callable[[FileResult], None]:
    """A callback that keeps each result in ``done`` and prints its error (always) and warnings (unless quiet).

    ``console`` prints warnings (None: quiet); ``quiet_console`` prints errors.

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
        if result.status == "failed" and result.error and "--fail-fast stopped" not in result.error:
            quiet_console.print(f"Error: {result.error}", markup=False)
        if console is not None:
            for warning in result.warnings:
                console.print(f"Warning: {warning}", markup=False)

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
