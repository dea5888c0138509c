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
        message = _usage_error_line(err, sys.argv[1:])
        if message is None:
            raise  # a bug: Typer shows the traceback
        if message:  # (empty when the help was shown instead, as for a bare `convcli`)
            typer.echo(f"Error: {message}", err=True)
        sys.exit(int(getattr(err, "exit_code", 2)))
    except ConvcliError as err:  # raised outside a command (a completion or option callback)
        typer.echo(f"Error: {err}", err=True)
        sys.exit(exit_code_for(err))
    sys.exit(code if isinstance(code, int) else 0)


def _kernel_key_hint(option: str, argv: list[str]) -> str | None:
    """``-k gaussian --sigma 2``: the kernel spec the user meant (``-k gaussian:sigma=2``), or None.

    An unknown ``--KEY`` after a ``-k``/``--kernel`` SPEC is taken for one of
    that kernel's parameters, which go inside the spec.

    Examples
    --------
    >>> _kernel_key_hint("--sigma", ["apply", "a.png", "-k", "gaussian", "--sigma", "2"])
    '-k gaussian:sigma=2'
    >>> _kernel_key_hint("--sigma", ["apply", "-k", "gaussian:size=7", "--sigma=2"])
    '-k gaussian:size=7,sigma=2'
    >>> _kernel_key_hint("--sigma", ["apply", "a.png", "--sigma", "2"]) is None
    True
    """
    spec, value = None, None
    for i, arg in enumerate(argv):
        if arg in ("-k", "--kernel") and i + 1 < len(argv):
            spec = argv[i + 1]
        elif arg.startswith("--kernel="):
            spec = arg.partition("=")[2]
        elif arg == option or arg.startswith(option + "="):
            if arg != option:
                value = arg.partition("=")[2]
            elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value = argv[i + 1]
            break
    if spec is None or value is None or not spec[:1].isalpha():  # a named kernel, not a matrix or a file
        return None
    key = option.lstrip("-").replace("-", "_")
    return f"-k {spec}{',' if ':' in spec else ':'}{key}={value}"


def _usage_error_line(err: BaseException, argv: list[str] | None = None) -> str | None:
    """Click's own usage errors (a bad INTEGER, an unknown option) as one line, like every other error.

    Click would draw a box over several lines; scripts read one ``Error: …``
    line.  None for anything that is not a Click error.  An unknown
    ``--KEY VALUE`` after ``-k SPEC`` (in ``argv``) suggests ``-k SPEC:KEY=VALUE``.
    """
    if type(err).__name__ == "Abort":
        return "aborted"
    if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
        return None
    text = " ".join(str(err.format_message()).split())
    option = getattr(err, "option_name", None)
    hint = _kernel_key_hint(option, argv or []) if type(err).__name__ == "NoSuchOption" and option else None
    if hint is not None:  # Click's "Possible options" are other options; the user meant a kernel parameter
        text = f"No such option: {option}; a kernel's parameters go inside its spec: {hint}"
    context = getattr(err, "ctx", None)
    if text and context is not None:
        text += f" (see '{context.command_path} --help')"
    return one_line(text)


if __name__ == "__main__":  # pragma: no cover
    main()
