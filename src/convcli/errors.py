"""Errors raised by convcli.

Every error names the thing that is wrong, the value that came and what is
allowed, so that the command line can print it as one ``Error: …`` line.

The command line catches :class:`ConvcliError` in one place; anything else is a
bug.  Errors about a bad argument value also derive from :class:`ValueError`, so
Python callers can catch them the usual way.

Examples
--------
>>> from convcli.errors import ParameterError
>>> err = ParameterError("stride must be a positive integer or a pair, got 0")
>>> isinstance(err, ValueError)
True
>>> str(err)
'stride must be a positive integer or a pair, got 0'
"""

from __future__ import annotations

__all__ = [
    "ConvcliError",
    "ImageReadError",
    "ImageWriteError",
    "KernelError",
    "KernelFileError",
    "ParameterError",
    "ShapeError",
    "one_line",
]

#: control characters (a newline in a file name, an escape sequence) shown escaped, as Python writes them
_ESCAPES = {code: repr(chr(code))[1:-1] for code in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)}


def one_line(text: str) -> str:
    """``text`` with newlines and other control characters escaped, so that it prints as one line.

    A file name may hold a newline or a terminal escape sequence; messages
    show it the way Python writes it in a string.

    Examples
    --------
    >>> print(one_line("bad" + chr(10) + "name.png: no such file"))
    bad\\nname.png: no such file
    >>> print(one_line("red" + chr(27) + "[31m"))
    red\\x1b[31m
    """
    return text.translate(_ESCAPES)


class ConvcliError(Exception):
    """Base class of every error convcli reports to a user.

    Parameters
    ----------
    message : str
        One sentence naming the thing, the value and the fix; control
        characters in it (a newline in a file name) are escaped by
        :func:`one_line`, so that it always prints as one line.
    """

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ParameterError(ConvcliError, ValueError):
    """A parameter has a value that is not allowed (stride 0, unknown border, …)."""


class ShapeError(ParameterError):
    """An output would be empty, or sizes do not fit together."""


class KernelError(ConvcliError, ValueError):
    """A kernel matrix or kernel spec is not usable (NaN, empty, unknown name, …)."""


class KernelFileError(KernelError):
    """A kernel file cannot be read or parsed.

    Parameters
    ----------
    path : str
        The file.
    message : str
        What is wrong and how to fix it.
    line : int, optional
        The 1-based line number where the problem is, when there is one.
    """

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class ImageReadError(ConvcliError):
    """An input image cannot be read (missing, corrupt, unsupported, too large)."""


class ImageWriteError(ConvcliError):
    """An output cannot be written (folder missing, read-only, disk full, …)."""
