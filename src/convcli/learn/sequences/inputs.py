"""What ``convcli seq`` and ``convcli multiply`` read: numbers given inline, in files or on stdin.

Examples
--------
>>> load_sequence("2,4", name="sequence A")
array([2., 4.])
>>> convolve_sequences("2,4", "7,3,1")
[14.0, 34.0, 14.0, 4.0]
>>> load_number(" 42 ", name="A")
'42'
"""

from __future__ import annotations

import os
import re

import numpy as np

from ...errors import ParameterError, UsageError
from ._convolve import METHODS, PADS, Method1D, Pad1D, convolve1d, kernel_1d, parse_sequence

__all__ = ["convolve_sequences", "load_number", "load_sequence"]

_NUMBERS = re.compile(r"[\s\d.,eE+\-#]*(?:inf|nan)?[\s\d.,eE+\-#]*", flags=re.IGNORECASE)


def _read_text(path: str, name: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError:
        raise ParameterError(
            f"{name}: {path} is not a text file; give numbers one per line or comma separated"
        ) from None
    except OSError as err:
        raise ParameterError(f"{name}: cannot read {path}: {err.strerror or err}") from None


def load_sequence(text: str, *, name: str = "sequence", stdin: str | None = None) -> np.ndarray:
    """A sequence given inline (``"2,4"``), as a file (a path or ``@path``) or as ``-`` (``stdin``).

    Parameters
    ----------
    text : str
        Numbers, a file, or ``-``.
    name : str, optional
        What the sequence is (``"sequence A"``), for messages.
    stdin : str, optional
        What ``-`` stands for (the text read from standard input).

    Returns
    -------
    ndarray of float64

    Raises
    ------
    ParameterError
        Text that is neither numbers nor an existing file, an unreadable
        file, or a value that is not a number (see :func:`parse_sequence`).

    Examples
    --------
    >>> load_sequence("-", name="sequence A", stdin="1\\n2\\n")
    array([1., 2.])
    >>> load_sequence("1,x", name="sequence A")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: sequence A '1,x' is neither numbers (e.g. "2,4" or "7 3 1") nor an existing \
file; check the path
    """
    found = _from_stdin_or_file(text, name=name, stdin=stdin)
    if found is not None:
        content, where = found
        return parse_sequence(content, source=f"{name} (stdin)" if text == "-" else where)
    if not _NUMBERS.fullmatch(text):
        raise ParameterError(
            f"{name} {text!r} is neither numbers (e.g. \"2,4\" or \"7 3 1\") nor an existing file; check the path"
        )
    return parse_sequence(text, source=name)


def convolve_sequences(
    a: str,
    b: str | None = None,
    *,
    kernel: str | None = None,
    pad: str = "full",
    method: str = "auto",
    stdin: str | None = None,
) -> list[float]:
    """:func:`convolve1d` of two sequences as a user gives them, or of a sequence and a kernel spec.

    Parameters
    ----------
    a, b : str
        Sequences, see :func:`load_sequence`; give ``b`` or ``kernel``.
    kernel : str, optional
        A kernel spec (:func:`convcli.kernels.kernel`) standing for a 1-D
        kernel (:func:`kernel_1d`): a row, ``box:size=1x5``, ``box:size=5``.
    pad, method : str, optional
        As in :func:`convolve1d` (any case).
    stdin : str, optional
        What ``-`` stands for; at most one of ``a`` and ``b`` may be ``-``.

    Returns
    -------
    list of float

    Raises
    ------
    UsageError
        Both or neither of ``b`` and ``kernel``, both sequences from stdin,
        or an unknown ``pad`` or ``method``.

    Examples
    --------
    >>> convolve_sequences("1 2 3 4 5", kernel="1 1 1", pad="valid")  # moving sums
    [6.0, 9.0, 12.0]
    >>> convolve_sequences("1,2", "3", kernel="box")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: give the second sequence B or a kernel with -k (one of them)
    """
    from ...kernels import kernel as load_kernel
    from ...specs import parse_choice

    if (b is None) == (kernel is None):
        raise UsageError("give the second sequence B or a kernel with -k (one of them)")
    if a == "-" and b == "-":
        raise UsageError("only one of A and B can come from stdin (-)")
    pad_mode: Pad1D = parse_choice(pad, PADS, what="--pad")  # type: ignore[assignment]
    method_name: Method1D = parse_choice(method, METHODS, what="--method")  # type: ignore[assignment]
    first = load_sequence(a, name="sequence A", stdin=stdin)
    if b is not None:
        second = load_sequence(b, name="sequence B", stdin=stdin)
    else:
        assert kernel is not None
        second = kernel_1d(load_kernel(kernel).matrix, spec=kernel)
    return [float(v) for v in convolve1d(first, second, pad=pad_mode, method=method_name)]


def load_number(text: str, *, name: str = "number", stdin: str | None = None) -> str:
    """A non-negative integer given as digits, read from a file (a path or ``@path``) or ``-`` (``stdin``).

    In a file or on stdin, whitespace and line breaks are ignored (the digits
    may wrap).

    Parameters
    ----------
    text : str
        Digits, a file, or ``-``.
    name : str, optional
        What the number is (``"A"``), for messages.
    stdin : str, optional
        What ``-`` stands for (the text read from standard input).

    Returns
    -------
    str
        The digits.

    Raises
    ------
    ParameterError
        Naming the line and column of a character that is not a digit, an
        empty file or stdin, or text that is neither digits nor a file.

    Examples
    --------
    >>> load_number("-", name="A", stdin="12345\\n678\\n")
    '12345678'
    >>> load_number("x1", name="B")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: B 'x1' is neither a non-negative decimal integer (digits 0-9 only, e.g. 42) \
nor an existing file
    """
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return stripped
    found = _from_stdin_or_file(text, name=name, stdin=stdin)
    if found is None:
        raise ParameterError(
            f"{name} {text!r} is neither a non-negative decimal integer (digits 0-9 only, e.g. 42) nor an "
            "existing file"
        )
    content, where = found
    return _digits(content, name=name, where=where)


def _from_stdin_or_file(text: str, *, name: str, stdin: str | None) -> tuple[str, str] | None:
    """``(content, where)`` for ``-`` (stdin), ``@path`` or an existing file; None for a value given inline."""
    if text == "-":
        if stdin is None:
            raise ValueError("'-' reads standard input: pass its text as stdin=")
        return stdin, "stdin"
    if text.startswith("@"):
        path = text[1:].strip()
        return _read_text(path, name), path
    if os.path.isfile(text):
        return _read_text(text, name), text
    return None


def _digits(content: str, *, name: str, where: str) -> str:
    """The digits of one number written in ``content`` (spaces and line breaks ignored), checked."""
    what = "stdin" if where == "stdin" else "the file"
    for number, line in enumerate(content.splitlines(), start=1):
        for column, char in enumerate(line, start=1):
            if not (char in "0123456789" or char.isspace()):
                raise ParameterError(
                    f"{name}: {where}, line {number}, column {column}: {char!r} is not a digit; {what} should "
                    "hold one non-negative decimal integer (line breaks and spaces are ignored)"
                )
    digits = "".join(content.split())
    if not digits:
        raise ParameterError(f"{name}: {where} is empty; it should hold the digits of a number")
    return digits
