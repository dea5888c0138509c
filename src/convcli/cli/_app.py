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
from typing import Annotated, Any, TypeVar

import typer

from .._version import __version__
from ..errors import ConvcliError

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
        bool | None,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Exact, fast image convolution on the command line."""


# --- commands -------------------------------------------------------------
# Each command lives in its own section below; keep sections independent.


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
    from ..errors import one_line

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
