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

__all__ = ["console", "fmt_number", "shape_text", "silence_stdout", "write_stdout"]


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
    stops quietly with exit code 141, as ``apply -o -`` does, where Rich
    itself would exit with 1.  ``width`` overrides the terminal's; output
    that is not a terminal is never squeezed to 80 columns (a table of layer
    specs piped to a file keeps each spec whole).
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            silence_stdout()
            raise SystemExit(141)

    stream = sys.stderr if stderr else sys.stdout
    if width is None and not (hasattr(stream, "isatty") and stream.isatty()) and not os.environ.get("COLUMNS"):
        width = 1000
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def write_stdout(data: bytes) -> bool:
    """Write bytes to stdout; False when the reader went away (``… | head``).

    A raw stream may take only part of the buffer at a time, so the rest is
    written until done.  On a broken pipe stdout is pointed at ``/dev/null``
    so that Python does not complain again at exit.
    """
    stream: Any = getattr(sys.stdout, "buffer", None) or sys.stdout
    try:
        view = memoryview(data)
        while view:
            written = stream.write(view)
            view = view[written if written is not None else len(view):]
        stream.flush()
    except BrokenPipeError:
        silence_stdout()
        return False
    return True


def silence_stdout() -> None:
    """Point stdout at ``/dev/null`` after its reader went away, so that Python does not complain at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
