"""The ``convcli`` command line: one module per command over the library.

Each command parses its options, makes one library call and renders the
result; :mod:`._app` holds the Typer application, the one error handler and
the run itself.

A command registers itself when its module is imported.  :func:`main` imports
only the module of the command being run (``convcli apply …`` never imports
``explain``, ``kernels``, ``learn`` or ``outsize``, nor has Typer read their
signatures); anything else (``convcli --help``, an unknown command, shell
completion) registers them all, so help and errors list every command.
:data:`app` (``from convcli.cli import app``) is always the whole application.

Examples
--------
>>> command_modules(["apply", "in.png", "-k", "box"]), command_modules(["seq", "1,2", "3"])
(('apply',), ('learn',))
>>> command_modules(["--help"]) == command_modules([]) == command_modules(["aply"]) == MODULES
True
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import app as app

__all__ = ["app", "main"]

#: the modules that register commands, in the order ``convcli --help`` lists their commands
MODULES = ("apply", "explain", "kernels", "learn", "outsize")
#: command name -> the module that registers it
COMMANDS = {"apply": "apply", "explain": "explain", "kernels": "kernels", "seq": "learn", "multiply": "learn",
            "outsize": "outsize"}
#: set by a shell asking for completions (Typer's ``_{PROG}_COMPLETE``): every command is a candidate
_COMPLETE_VARIABLE = "_CONVCLI_COMPLETE"


def command_modules(args: Sequence[str]) -> tuple[str, ...]:
    """The command modules a run with arguments ``args`` needs: its command's alone when it names one first.

    Options before the command (``convcli -h apply``), an unknown name or none
    at all need every command, for the help or the error that lists them.
    """
    if args and args[0] in COMMANDS and _COMPLETE_VARIABLE not in os.environ:
        return (COMMANDS[args[0]],)
    return MODULES


def _register(modules: Sequence[str]) -> Any:
    """Import ``modules`` (registering their commands) and return the Typer app, its commands in help order."""
    from . import _app

    for module in modules:
        importlib.import_module(f"{__name__}.{module}")
    order = {f"{__name__}.{m}": i for i, m in enumerate(MODULES)}  # whichever command was registered first
    _app.app.registered_commands.sort(key=lambda c: order.get(getattr(c.callback, "__module__", ""), len(order)))
    return _app.app


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole application, every command registered
        app = _register(MODULES)
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``convcli`` console script: register the command being run, then run it."""
    from . import _app

    _register(command_modules(sys.argv[1:]))
    _app.main()
