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

# [section: outsize]


def main() -> None:
    """Entry point of the ``convcli`` console script."""
    app(prog_name="convcli")


if __name__ == "__main__":  # pragma: no cover
    main()
