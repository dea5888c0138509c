"""Option types shared by the commands: one declaration of each option that several commands take.

Each alias is an ``Annotated`` type that a command uses as a parameter's
annotation; help text, metavar, completion and help panel are set once here.
Values arrive as text and are checked by the library (:mod:`convcli.specs`,
the recipe), so aliases such as ``--border zeros`` keep working and every
command words a bad value the same way.

Choice options list their values in ``--help`` (``[constant|edge|…]``).  The
values come from the library's own tables; they are filled in when help is
shown (:class:`Command`), so that ``convcli --help`` and ``--version`` stay
fast (no NumPy import).

Examples
--------
>>> choice_metavar(("each", "sum", "gray"))
'[each|sum|gray]'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import typer
from typer.core import TyperCommand

__all__ = [
    "BORDER_HELP",
    "Command",
    "border_option",
    "border_value_option",
    "choice_metavar",
    "choices",
    "complete_borders",
    "complete_choice",
    "complete_kernels",
    "complete_methods",
    "dilation_option",
    "flip_option",
    "json_option",
    "kernel_option",
    "method_option",
    "pad_option",
    "pool_option",
    "stride_option",
]


def choice_metavar(values: Iterable[str]) -> str:
    """``[a|b|c]``: how a choice option shows its values in ``--help``."""
    return "[" + "|".join(values) + "]"


def _library(module: str, name: str) -> tuple[str, ...]:
    """A table of names from a library module, imported only when asked for (help and completion)."""
    import importlib

    return tuple(getattr(importlib.import_module(f"convcli.{module}"), name))


def _borders() -> tuple[str, ...]:
    return _library("engine", "BORDERS")


def _methods() -> tuple[str, ...]:
    return _library("engine", "METHODS")


#: option name -> where its values come from (the library's tables; looked up only when help is shown)
_CHOICES: dict[str, Callable[[], tuple[str, ...]]] = {
    "border": _borders,
    "method": _methods,
    "channels": lambda: _library("streaming", "CHANNELS"),
    "range_mode": lambda: _library("depth", "RANGES"),
    "activation": lambda: _library("operations", "ACTIVATIONS"),
    "depth": lambda: _library("depth", "DEPTHS"),
    "frames": lambda: _library("recipe", "FRAMES"),
    "alpha": lambda: _library("recipe", "ALPHA_MODES"),
    "nan": lambda: _library("engine", "NAN_MODES"),
    # TIFF/Zarr codecs, then PNG's zlib levels
    "compression": lambda: (*_library("imageio", "COMPRESSIONS"), *(str(level) for level in range(10))),
}


def choices(name: str) -> tuple[str, ...]:
    """The values the choice option ``name`` (its Python parameter name) accepts.

    Examples
    --------
    >>> choices("border")
    ('constant', 'edge', 'reflect', 'symmetric', 'wrap')
    """
    return _CHOICES[name]()


#: the longest ``[a|b|c]`` shown as a metavar; longer lists go into the help text, where they wrap at spaces
#: (a wide metavar column would squeeze every help text on an 80-column terminal)
MAX_METAVAR = 16


class Command(TyperCommand):
    """A Typer command whose choice options list their values in ``--help``.

    Choice options (see :data:`_CHOICES`) show ``[a|b|c]`` as their metavar
    when it is short, else their name as the metavar and ``Choices: a, b, c.``
    at the end of their help; the values come from the library's tables,
    looked up only when help is rendered.
    """

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            if param.name not in _CHOICES or getattr(param, "param_type_name", "") != "option":
                continue
            values = choices(param.name)
            base = getattr(param, "_convcli_help", None)
            if base is None:
                base = getattr(param, "help", None) or ""
                setattr(param, "_convcli_help", base)  # noqa: B010  (help is rendered more than once in tests)
            if len(choice_metavar(values)) <= MAX_METAVAR:
                param.metavar = choice_metavar(values)
            else:
                param.metavar = param.opts[-1].lstrip("-").upper()
                text, example, rest = base.partition(" E.g. ")
                setattr(param, "help", f"{text} Choices: {', '.join(values)}.{example}{rest}")  # noqa: B010
        super().format_help(ctx, formatter)


# --- completion -------------------------------------------------------------------------------


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete.lower())]


def complete_borders(incomplete: str) -> list[str]:
    """Border names (numpy.pad's, the documented ones) for shell completion; aliases are still accepted."""
    return _starting(_borders(), incomplete)


def complete_methods(incomplete: str) -> list[str]:
    """Method names for shell completion."""
    return _starting(_methods(), incomplete)


def complete_kernels(incomplete: str) -> list[str]:
    """Named kernels (``gaussian:``, ``sobel:`` …) for shell completion; paths are left to the shell."""
    from ..kernels import named_kernels

    names = [k.name for k in named_kernels()]
    return _starting(names, incomplete)


def complete_choice(name: str) -> Callable[[str], list[str]]:
    """A completion function for the choice option ``name``."""

    def complete(incomplete: str) -> list[str]:
        return _starting(choices(name), incomplete)

    return complete


BORDER_HELP = ("What lies outside the image, by numpy.pad's names (reflect: dcb|abcd, symmetric: cba|abc) or an "
               "alias (zeros, replicate, circular, …).")


# --- shared option types -------------------------------------------------------------------------
# Factories, because the same option sits in a different help panel (and has a different default) in
# each command; the help text, metavar and completion are written once.


def kernel_option(*, panel: str | None = None, repeat: bool = False) -> Any:
    """``--kernel/-k SPEC``: a named kernel, an inline matrix or a kernel file."""
    more = "; repeat to apply several in sequence. E.g. -k gaussian:sigma=3 -k sobel:axis=both" if repeat else (
        ". E.g. -k sobel:axis=x")
    return typer.Option("--kernel", "-k", metavar="SPEC", show_default=False, rich_help_panel=panel,
                        autocompletion=complete_kernels,
                        help="A kernel: name:key=value,…, an inline matrix ('1 2 1; 0 0 0; -1 -2 -1') or a file"
                        + more)


def border_option(*, panel: str | None = None, default_note: str = "") -> Any:
    """``--border MODE``: numpy.pad's names, or an unambiguous alias."""
    return typer.Option("--border", metavar="MODE", rich_help_panel=panel, autocompletion=complete_borders,
                        help=BORDER_HELP + default_note + " E.g. --border edge")


def border_value_option(*, panel: str | None = None) -> Any:
    """``--border-value V``: the value of ``--border constant``."""
    return typer.Option("--border-value", metavar="V", show_default=False, rich_help_panel=panel,
                        help="The value of --border constant, in the image's units (default 0); nan makes the "
                        "border missing data (see --nan). E.g. --border constant --border-value 255")


def pad_option(*, panel: str | None = None) -> Any:
    """``--pad``: same, valid, full, N, HxW or T,B,L,R."""
    return typer.Option("--pad", metavar="PAD", rich_help_panel=panel,
                        help="Padding: same (keep the size), valid, full, N, HxW or T,B,L,R. E.g. --pad valid")


def stride_option(*, panel: str | None = None) -> Any:
    """``--stride N|HxW``."""
    return typer.Option("--stride", metavar="N|HxW", rich_help_panel=panel,
                        help="Keep every N-th output sample: N or HxW. E.g. --stride 2")


def dilation_option(*, panel: str | None = None) -> Any:
    """``--dilation N|HxW``."""
    return typer.Option("--dilation", metavar="N|HxW", rich_help_panel=panel,
                        help="Spacing between kernel taps: N or HxW. E.g. --dilation 2")


def flip_option(*, panel: str | None = None) -> Any:
    """``--flip``: true convolution."""
    return typer.Option("--flip", rich_help_panel=panel,
                        help="True convolution: rotate the kernel 180° first (default: correlation). "
                        "E.g. -k '1,2,3' --flip")


def method_option(*, panel: str | None = None) -> Any:
    """``--method``: auto or one of the engine's methods."""
    return typer.Option("--method", metavar="METHOD", rich_help_panel=panel, autocompletion=complete_methods,
                        help="auto (chosen by cost; see --dry-run) or a method to force. E.g. --method fft")


def pool_option(*, panel: str | None = None) -> Any:
    """``--pool SPEC``: OP[:size=K,stride=S,pad=P,ceil=true]."""
    return typer.Option("--pool", metavar="SPEC", show_default=False, rich_help_panel=panel,
                        help="Pool last: OP or OP:key=value,… with OP max, mean or min and the keys size "
                        "(default 2), stride (default: the size), pad and ceil=true. E.g. --pool max:size=2")


def json_option(*, what: str = "the result") -> Any:
    """``--json``."""
    return typer.Option("--json", help=f"Print {what} as JSON on stdout.")
