"""The ``convcli`` command line: one module per command over the library.

Each command parses its options, makes one library call and renders the
result; :mod:`._app` holds the Typer application, the one error handler and
:func:`main`.
"""

from __future__ import annotations

from . import apply, explain, kernels, learn, outsize  # noqa: F401  (registers the commands)
from ._app import app, main

__all__ = ["app", "main"]
