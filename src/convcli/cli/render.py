"""Rendering shared by the commands: numbers, shapes, consoles and raw output.

Every command prints numbers and shapes the same way through these helpers;
none of them imports NumPy or Pillow (values arrive as Python numbers, lists
or objects with a ``shape``).

Examples
--------
>>> fmt_number(3.0), fmt_number(0.1 + 0.2), fmt_number(float("nan"))
('3', '0.3', '·')
>>> shape_text((480, 640, 3)), shape_text(None)
('480x640x3', '?')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["console", "fits", "fmt_number", "lazy_console", "shape_text", "silence_stdout", "wrap_pieces",
           "write_stdout"]


def fmt_number(value: float, *, digits: int = 4, nan: str = "·", exact_below: float = 1e15) -> str:
    """A number as people write it: integers without ``.0``, others with ``digits`` significant digits.

    Parameters
    ----------
    value : float
        The number.
    digits : int, optional
        Significant digits for non-integers (``4`` in grids, ``6`` for kernel
        weights, ``15`` for sequences that must round-trip).
    nan : str, optional
        What a NaN shows as (a cell outside the image in ``explain``).
    exact_below : float, optional
        Integers smaller than this in magnitude are written in full.

    Examples
    --------
    >>> fmt_number(-2.0), fmt_number(1 / 3), fmt_number(1 / 3, digits=6)
    ('-2', '0.3333', '0.333333')
    >>> fmt_number(1e20)
    '1e+20'
    """
    number = float(value)
    if number != number:
        return nan
    if number.is_integer() and abs(number) < exact_below:
        return str(int(number))
    return f"{number:.{digits}g}"


def shape_text(shape: Iterable[int] | Any | None) -> str:
    """``HxW`` or ``HxWxC`` from a tuple of ints or anything with a ``.shape``; ``?`` when unknown.

    Examples
    --------
    >>> shape_text((3, 5)), shape_text([7])
    ('3x5', '7')
    """
    if shape is None:
        return "?"
    if hasattr(shape, "shape"):
        shape = shape.shape
    parts = [str(int(v)) for v in shape]
    return "x".join(parts) if parts else "?"


def console(*, stderr: bool = False, width: int | None = None) -> Any:
    """A Rich console that never re-wraps long lines (messages stay one line for scripts).

    When stdout's reader goes away (``convcli kernels show … | head``), it
    raises :class:`BrokenPipeError` for the one error handler (exit code 141,
    as ``apply -o -``), where Rich itself would exit with 1.  ``width`` overrides the terminal's; output
    that is not a terminal is never squeezed to 80 columns (a table of layer
    specs piped to a file keeps each spec whole), and its lines carry no
    trailing spaces (a table's padding).
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    stream = sys.stderr if stderr else sys.stdout
    terminal = hasattr(stream, "isatty") and stream.isatty()
    if width is None and not terminal and not os.environ.get("COLUMNS"):
        width = 1000
    if terminal:
        return _Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)
    trimmed: Any = _Trimmed(stream)  # a text stream in all but name
    return _Console(file=trimmed, highlight=False, soft_wrap=True, width=width)


def lazy_console(*, stderr: bool = False) -> Any:
    """A :func:`console` made on first use: a run that prints nothing (one file, on success) never imports Rich.

    Every attribute is the console's; ``.real`` is the console itself, for
    what needs a Rich ``Console`` object (a progress bar).

    Examples
    --------
    >>> out = lazy_console()
    >>> out.print("made when first used")
    made when first used
    >>> type(out.real).__name__
    '_Console'
    """
    return _LazyConsole(stderr=stderr)


class _LazyConsole:
    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._made: Any = None

    @property
    def real(self) -> Any:
        if self._made is None:
            self._made = console(**self._settings)
        return self._made

    def __getattr__(self, name: str) -> Any:
        if name in ("_settings", "_made"):  # not yet set (a copy being made)
            raise AttributeError(name)
        return getattr(self.real, name)


class _Trimmed:
    """A text stream that drops the spaces at the end of every line before writing it.

    Rich pads each line of a table to the table's width; on a terminal that is
    invisible, in a file or a pipe it is noise.  Anything else is the stream's.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> trimmed = _Trimmed(out)
    >>> _ = trimmed.write("a  \\nb ")
    >>> _ = trimmed.write(" c  \\n")
    >>> out.getvalue()
    'a\\nb  c\\n'
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._spaces = ""  # held back: they end the line unless more text follows

    def write(self, text: str) -> int:
        lines = (self._spaces + text).split("\n")
        last = lines.pop()
        kept = last.rstrip(" ")
        self._spaces = last[len(kept):]
        done = "".join(line.rstrip(" ") + "\n" for line in lines)
        self._stream.write(done + kept)
        return len(text)

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def fits(out: Any, renderable: Any) -> bool:
    """Whether ``renderable`` (a Rich table) shows at its natural width on ``out``, nothing wrapped.

    Examples
    --------
    >>> from rich.table import Table
    >>> table = Table("name", "definition")
    >>> table.add_row("box", "uniform mean: every value 1/(H*W), sums to 1")
    >>> fits(console(width=80), table), fits(console(width=30), table)
    (True, False)
    """
    from rich.measure import Measurement

    unbounded = out.options.update(width=10_000)  # the natural width, not clamped to the console's
    return bool(Measurement.get(out, unbounded, renderable).maximum <= out.width)


def wrap_pieces(pieces: Iterable[str], width: int, *, indent: str = "", subsequent: str | None = None,
                sep: str = " ") -> list[str]:
    """Lines of at most ``width`` columns, each made of whole pieces joined by ``sep``.

    A piece (a spec, a matrix, a step of a formula) is never split across
    lines; one longer than a line is broken at its own spaces, and a word
    longer than a line stands alone on its line.

    Parameters
    ----------
    pieces : iterable of str
        The text in order, in the units that must stay whole.
    width : int
        The most columns a line may take (Rich's cell widths).
    indent, subsequent : str, optional
        What the first line and the following ones start with (``subsequent``
        defaults to ``indent``).
    sep : str, optional
        What goes between two pieces on one line.

    Returns
    -------
    list of str

    Examples
    --------
    >>> wrap_pieces(["floor((224 + 2*3 - 7) / 2) + 1", "= floor(223/2) + 1", "= 112"], 40, subsequent="  ")
    ['floor((224 + 2*3 - 7) / 2) + 1', '  = floor(223/2) + 1 = 112']
    >>> wrap_pieces(["sigma1=1", "sigma2=1.6*sigma1", "radius=int(4*max(sigma1,sigma2)+0.5)"], 30, sep="  ")
    ['sigma1=1  sigma2=1.6*sigma1', 'radius=int(4*max(sigma1,sigma2)+0.5)']
    """
    from rich.cells import cell_len

    rest = indent if subsequent is None else subsequent
    lines: list[str] = []
    line = ""
    for piece in pieces:
        candidate = f"{line}{sep}{piece}" if line else f"{rest if lines else indent}{piece}"
        if line and cell_len(candidate) > width:
            lines.append(line)
            line, candidate = "", f"{rest}{piece}"
        if cell_len(candidate) > width and " " in piece.strip():  # too long alone: its words fill the lines
            prefix = candidate[: len(candidate) - len(piece)]
            words = wrap_pieces(piece.split(), width, indent=prefix, subsequent=rest)
            lines.extend(words[:-1])
            candidate = words[-1]
        line = candidate
    if line:
        lines.append(line)
    return lines


def write_stdout(data: bytes) -> None:
    """Write bytes to stdout.

    A raw stream may take only part of the buffer at a time, so the rest is
    written until done.  When the reader went away (``… | head``) the
    :class:`BrokenPipeError` goes to the one error handler
    (:func:`convcli.cli._app.reports_errors`), which ends quietly with exit code 141.
    """
    stream: Any = getattr(sys.stdout, "buffer", None) or sys.stdout
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[written if written is not None else len(view):]
    stream.flush()


def silence_stdout() -> None:
    """Point stdout at ``/dev/null`` after its reader went away, so that Python does not complain at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
