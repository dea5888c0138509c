"""The ``convcli`` application: the Typer app, the one error handler and :func:`main`.

Each command (one module each in this package) parses its options, makes one
call into the library and renders the result with Rich.  Errors are handled
here only: a :class:`convcli.errors.ConvcliError` becomes one ``Error: …`` line
on stderr and the exit code :func:`convcli.errors.exit_code_for` gives (1, or 2
for a usage error), the same in every command; a closed stdout (``… | head``)
ends quietly with its code (141); Click's own usage errors (an
unknown option, a bad INTEGER) become one such line with exit code 2.  Nothing
in this package imports NumPy or Pillow, so ``--help`` and ``--version`` stay
fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from .._version import __version__
from ..errors import ConvcliError, exit_code_for, one_line

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
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``Error: message`` on stderr (one line, never wrapped) and return the exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def reports_errors(func: F) -> F:
    """Turn a :class:`ConvcliError` raised by ``func`` into ``Error: …`` and its exit code.

    The one place where library errors meet the terminal: every command is
    wrapped by it, so the same mistake gives the same code and wording in
    every command (:func:`convcli.errors.exit_code_for`).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConvcliError as err:
            raise fail(str(err), exit_code_for(err)) from None
        except BrokenPipeError as err:  # `convcli kernels show … | head`: the reader left; stop quietly (Unix)
            from .render import silence_stdout

            silence_stdout()
            raise typer.Exit(exit_code_for(err)) from None

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


def main() -> None:
    """Entry point of the ``convcli`` console script.

    Sets no environment variables: the engine limits its own and BLAS's
    threads (threadpoolctl), so ``convcli`` and ``import convcli`` take the
    same code path and give the same bytes.
    """
    import sys

    try:
        code = app(prog_name="convcli", standalone_mode=False)
    except Exception as err:
        message = _usage_error_line(err)
        if message is None:
            raise  # a bug: Typer shows the traceback
        if message:  # (empty when the help was shown instead, as for a bare `convcli`)
            typer.echo(f"Error: {message}", err=True)
        sys.exit(int(getattr(err, "exit_code", 2)))
    except ConvcliError as err:  # raised outside a command (a completion or option callback)
        typer.echo(f"Error: {err}", err=True)
        sys.exit(exit_code_for(err))
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error_line(err: BaseException) -> str | None:
    """Click's own usage errors (a bad INTEGER, an unknown option) as one line, like every other error.

    Click would draw a box over several lines; scripts read one ``Error: …``
    line.  None for anything that is not a Click error.
    """
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
