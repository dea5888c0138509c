"""Errors raised by convcli.

Every error names the thing that is wrong, the value that came and what is
allowed, so that the command line can print it as one ``Error: …`` line.

The command line catches :class:`ConvcliError` in one place
(:func:`exit_code_for` maps it to the exit code); anything else is a bug.
Errors about a bad argument value also derive from :class:`ValueError`, so
Python callers can catch them the usual way.

Exit codes, the same in every command (:data:`EXIT_CODES`, the one table):

========  ================================================================
code      meaning
========  ================================================================
0         done
1         :class:`ConvcliError`: a file, kernel or size that cannot be used
          (``apply``: some file failed)
2         :class:`UsageError` (and :class:`OutputConflict`): a bad option
          value or combination on the command line, found before any work
130, 143  :class:`Interrupted` by Ctrl-C or SIGTERM (128 + the signal)
141       stdout's reader went away (:class:`BrokenPipeError`, ``… | head``):
          stop quietly, as Unix tools do (128 + SIGPIPE)
========  ================================================================

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

import contextlib
import signal
from collections.abc import Iterator
from typing import Final

__all__ = [
    "EXIT_CODES",
    "ClusterError",
    "ConvcliError",
    "ImageReadError",
    "ImageWriteError",
    "Interrupted",
    "KernelError",
    "KernelFileError",
    "OutputConflict",
    "ParameterError",
    "ShapeError",
    "UsageError",
    "exit_code_for",
    "one_line",
    "usage_errors",
]

#: every exit code of the command line, by what it means (the module notes table them)
EXIT_CODES: Final[dict[str, int]] = {
    "done": 0,
    "error": 1,
    "usage": 2,
    "interrupted": 128 + signal.SIGINT,
    "stdout closed": 128 + signal.SIGPIPE,
    "terminated": 128 + signal.SIGTERM,
}

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

    exit_code: int = EXIT_CODES["error"]

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


class ClusterError(ConvcliError):
    """A batch cannot run on the Dask cluster asked for (exit code 1), before any file is written.

    dask.distributed is not installed, the scheduler cannot be reached, or it
    has no workers.

    Examples
    --------
    >>> exit_code_for(ClusterError("cannot reach the Dask scheduler at tcp://10.0.0.5:8786 within 10 s; ..."))
    1
    """


class UsageError(ParameterError):
    """A command-line option has a bad value or does not fit with another (exit code 2).

    Raised by the option parsers (:mod:`convcli.specs`) and by the recipe
    builder, before any file is read, so that the same mistake gives the same
    code and wording in every command.

    Examples
    --------
    >>> exit_code_for(UsageError("--stride must be N or HxW (integers >= 1), got '0'"))
    2
    """

    exit_code = EXIT_CODES["usage"]


class OutputConflict(UsageError):
    """The outputs of a batch do not fit together (a usage error, exit code 2).

    Two inputs would write one file, an output is another input of the batch,
    an output would replace its own input without ``--force``, or the naming
    options are inconsistent.
    """


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGTERM); ``exit_code`` is 128 + the signal.

    Derives from :class:`BaseException`, like :class:`KeyboardInterrupt`, so
    that ``except Exception`` in library code never swallows it.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum


def exit_code_for(err: BaseException) -> int:
    """The exit code of the command line for ``err``: the one mapping, used by every command.

    Examples
    --------
    >>> exit_code_for(ParameterError("stride must be a positive integer or a pair, got 0"))
    1
    >>> exit_code_for(OutputConflict("a.png and b.png would both write out.png"))
    2
    >>> exit_code_for(KeyboardInterrupt())
    130
    >>> exit_code_for(BrokenPipeError())
    141
    """
    if isinstance(err, KeyboardInterrupt):
        return EXIT_CODES["interrupted"]
    if isinstance(err, BrokenPipeError):
        return EXIT_CODES["stdout closed"]
    if isinstance(err, Interrupted):
        return err.exit_code
    return int(getattr(err, "exit_code", EXIT_CODES["error"]))


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Inside the block, a :class:`ParameterError` (a bad option value) becomes a :class:`UsageError`.

    The command line validates its options inside this block, before any file
    is read, so a bad value exits with code 2 whichever command it was given to;
    kernel, file and image errors keep their own class.

    Examples
    --------
    >>> try:
    ...     with usage_errors():
    ...         raise ParameterError("stride must be a positive integer or a pair, got 0")
    ... except UsageError as err:
    ...     print(exit_code_for(err), err)
    2 stride must be a positive integer or a pair, got 0
    """
    try:
        yield
    except UsageError:
        raise
    except (ShapeError, KernelError):
        raise
    except ParameterError as err:
        raise UsageError(str(err)) from None
