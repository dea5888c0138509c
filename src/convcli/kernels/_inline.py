"""The one parser of matrices written inline: ``"1 2 1; 0 0 0"`` or ``"[[1, 2], [3, 4]]"``.

Both :func:`convcli.kernel` (``-k "1 2 1; 0 0 0; -1 -2 -1"``) and
:func:`convcli.learn.explanation.parse_matrix` (``explain --image "1 2; 3 4"``) read
matrices through :func:`parse_rows`, and kernel files split their lines with
:func:`split_values` and read values with :func:`parse_number`, so one syntax
is accepted everywhere:

- rows separated by ``;`` (one trailing ``;`` is allowed), values by spaces,
  tabs or commas;
- or a JSON nested list ``[[1, 2], [3, 4]]`` (a flat list ``[1, 2, 1]`` is one row).

ImageMagick's user-defined kernel form ``"WxH[+X+Y]: v1,v2,…"`` (``W*H``
values row by row; ``+X+Y`` is the anchor, column then row) is read by
:func:`parse_imagemagick`, for ``-k`` (:func:`convcli.kernel`).

Examples
--------
>>> parse_rows("1 2 1; 0 0 0;")
[[1.0, 2.0, 1.0], [0.0, 0.0, 0.0]]
>>> parse_rows("[[1, 2], [3, 4]]")
[[1.0, 2.0], [3.0, 4.0]]
>>> parse_rows("1 2; 3", label="--image '1 2; 3'")
Traceback (most recent call last):
...
convcli.errors.KernelError: --image '1 2; 3': row 2 has 1 value but row 1 has 2; every row needs the same number \
of values
"""

from __future__ import annotations

import math
import re
from typing import Final

from ..errors import ConvcliError, KernelError

__all__ = ["count_values", "looks_like_imagemagick", "looks_like_matrix", "parse_imagemagick", "parse_number",
           "parse_rows", "split_values"]

#: the inline matrix every message shows as an example
INLINE_EXAMPLE: Final = "'1 2 1; 0 0 0; -1 -2 -1'"
_VALUE_SPLIT: Final = re.compile(r"\s*,\s*|\s+")
#: ImageMagick's ``WxH[+X+Y]:`` head of a user-defined kernel
_IMAGEMAGICK_HEAD: Final = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*(?:([+-]\s*\d+)\s*([+-]\s*\d+))?\s*:(.*)$", re.S)


def count_values(n: int) -> str:
    """``"1 value"`` or ``"n values"``.

    Examples
    --------
    >>> count_values(1), count_values(3)
    ('1 value', '3 values')
    """
    return f"{n} value" if n == 1 else f"{n} values"


def split_values(line: str) -> list[str]:
    """Split one row of a matrix into value strings (separators: spaces, tabs, commas).

    An empty string between two commas is kept, so that the caller can report it.

    Examples
    --------
    >>> split_values(" 1, 2 3\\t4 ")
    ['1', '2', '3', '4']
    >>> split_values("1,,2")
    ['1', '', '2']
    """
    stripped = line.strip()
    return _VALUE_SPLIT.split(stripped) if stripped else []


def parse_number(token: str) -> float | None:
    """``token`` as a float, or ``None`` when it is not a number (NaN and inf parse).

    Examples
    --------
    >>> parse_number("-2e-3"), parse_number("x"), parse_number("1_0")
    (-0.002, None, None)
    """
    if not token or "_" in token:
        return None
    try:
        return float(token)
    except ValueError:
        return None


def looks_like_matrix(text: str) -> bool:
    """Whether a spec is an inline matrix: it holds ``;``, starts with ``[`` or with a number.

    Examples
    --------
    >>> looks_like_matrix("1 2 1"), looks_like_matrix("[[1]]"), looks_like_matrix("box:size=3")
    (True, True, False)
    """
    text = text.strip()
    if ";" in text or text.startswith("["):
        return True
    try:
        float(_VALUE_SPLIT.split(text, maxsplit=1)[0])
    except ValueError:
        return False
    return True


def looks_like_imagemagick(text: str) -> bool:
    """Whether a spec is ImageMagick's user-defined kernel ``"WxH[+X+Y]: values"``.

    Examples
    --------
    >>> looks_like_imagemagick("3x3: 1,2,1, 2,4,2, 1,2,1"), looks_like_imagemagick("1 2 1")
    (True, False)
    """
    return _IMAGEMAGICK_HEAD.match(text) is not None


def parse_imagemagick(
    text: str, *, label: str | None = None, error: type[ConvcliError] = KernelError
) -> tuple[list[list[float]], tuple[int, int] | None]:
    """The rows and anchor of ImageMagick's user-defined kernel ``"WxH[+X+Y]: v1,v2,…"``.

    ``W*H`` values (separated by commas or spaces) fill ``H`` rows of ``W``,
    row by row; ``+X+Y`` places the anchor at column X, row Y (as
    ImageMagick's ``-morphology`` kernels; default: the centre).

    Returns
    -------
    rows : list of list of float
    anchor : (row, col) or None
        None when the spec gives no ``+X+Y``.

    Raises
    ------
    ConvcliError
        Of type ``error``, when the count of values is not ``W*H``, a value
        is not a number, or the anchor is outside the kernel.

    Examples
    --------
    >>> parse_imagemagick("3x1: 1, 2, 1")
    ([[1.0, 2.0, 1.0]], None)
    >>> parse_imagemagick("2x2+0+1: 1 2 3 4")
    ([[1.0, 2.0], [3.0, 4.0]], (1, 0))
    >>> parse_imagemagick("3x3: 1,2,1")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: ImageMagick kernel '3x3: 1,2,1': 3x3 needs 9 values (row by row), got 3
    """
    label = label if label is not None else f"ImageMagick kernel {text.strip()!r}"
    found = _IMAGEMAGICK_HEAD.match(text)
    if found is None:
        raise error(f"{label} is not 'WxH: values', e.g. '3x3: 1,2,1, 2,4,2, 1,2,1'")
    width, height = int(found.group(1)), int(found.group(2))
    if width < 1 or height < 1:
        raise error(f"{label}: the size {width}x{height} must be at least 1x1")
    tokens = split_values(found.group(5).replace(";", ","))
    if len(tokens) != width * height:
        raise error(f"{label}: {width}x{height} needs {count_values(width * height)} (row by row), got "
                    f"{len(tokens)}")
    values: list[float] = []
    for n, token in enumerate(tokens, start=1):
        value = parse_number(token)
        if value is None or not math.isfinite(value):
            raise error(f"{label}: value {n} ({token or '(nothing)'!r}) is not a finite number; ImageMagick's "
                        "'-' and nan (outside the neighbourhood) are not supported, write 0")
        values.append(value)
    rows = [values[r * width : (r + 1) * width] for r in range(height)]
    anchor = None
    if found.group(3) is not None:
        col, row = (int(found.group(g).replace(" ", "")) for g in (3, 4))
        if not (0 <= col < width and 0 <= row < height):
            raise error(f"{label}: the anchor +{col}+{row} (column, row) is outside the {width}x{height} kernel")
        anchor = (row, col)
    return rows, anchor


def parse_rows(
    text: str,
    *,
    label: str | None = None,
    error: type[ConvcliError] = KernelError,
    finite: bool = False,
    example: str = INLINE_EXAMPLE,
) -> list[list[float]]:
    """The rows of a matrix written inline, as lists of floats of one length.

    Parameters
    ----------
    text : str
        ``"1 2 1; 0 0 0"`` (rows by ``;``, values by spaces or commas) or a
        JSON nested list ``"[[1, 2, 1], [0, 0, 0]]"``.
    label : str, optional
        What the matrix is, for messages; default ``inline kernel '<text>'``.
    error : type, optional
        The :class:`~convcli.errors.ConvcliError` subclass to raise
        (:class:`~convcli.errors.KernelError` by default).
    finite : bool, optional
        Refuse NaN and inf here (by default they parse, for the caller to
        refuse with the position named, as :class:`convcli.kernels.Kernel` does).
    example : str, optional
        The matrix shown in messages as an example.

    Returns
    -------
    list of list of float
        At least one row; every row holds the same number of values.

    Raises
    ------
    ConvcliError
        Of type ``error``, naming the row and column of a value that is not a
        number, an empty row or a row of a different length.

    Examples
    --------
    >>> parse_rows("1, 2, 1")
    [[1.0, 2.0, 1.0]]
    >>> parse_rows("1 nan", label="--image '1 nan'", finite=True)
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: --image '1 nan': 'nan' at row 1, column 2 is not a finite number; write values \
like 1, -0.5 or 2e-3
    """
    text = text.strip()
    label = label if label is not None else f"inline kernel {text!r}"
    if text.startswith("["):
        return _json_rows(text, label, error, finite=finite)
    pieces = text.split(";")
    if len(pieces) > 1 and not pieces[-1].strip():
        pieces = pieces[:-1]  # one trailing ';' is allowed
    wanted = "a finite number" if finite else "a number"
    rows: list[list[float]] = []
    for i, piece in enumerate(pieces, start=1):
        tokens = split_values(piece)
        if not tokens:
            raise error(
                f"{label}: row {i} is empty; separate rows by ';' and values by spaces or commas, e.g. {example}"
            )
        values: list[float] = []
        for j, token in enumerate(tokens, start=1):
            value = parse_number(token)
            if value is None or (finite and not math.isfinite(value)):
                shown = token if token else "(nothing)"
                raise error(f"{label}: {shown!r} at row {i}, column {j} is not {wanted}; "
                            "write values like 1, -0.5 or 2e-3")
            values.append(value)
        _check_length(values, rows, i, label, error)
        rows.append(values)
    return rows


def _check_length(values: list[float], rows: list[list[float]], i: int, label: str,
                  error: type[ConvcliError]) -> None:
    if rows and len(values) != len(rows[0]):
        raise error(
            f"{label}: row {i} has {count_values(len(values))} but row 1 has {len(rows[0])}; "
            "every row needs the same number of values"
        )


def _json_rows(text: str, label: str, error: type[ConvcliError], *, finite: bool) -> list[list[float]]:
    import json  # here: a run without a JSON matrix never imports it

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise error(
            f"{label} is not a valid JSON nested list ({err.msg} at character {err.pos + 1}); "
            f"write it like '[[1, 2, 1], [0, 0, 0]]' or {INLINE_EXAMPLE}"
        ) from None
    except (ValueError, RecursionError) as err:
        raise error(f"{label} is not a usable JSON nested list ({type(err).__name__})") from None
    if isinstance(data, list) and data and not any(isinstance(r, list) for r in data):
        data = [data]
    if not isinstance(data, list) or not data or not all(isinstance(r, list) for r in data):
        raise error(f"{label} must be a list of rows, e.g. '[[1, 2, 1], [0, 0, 0]]'")
    rows: list[list[float]] = []
    for i, row in enumerate(data, start=1):
        if not row:
            raise error(f"{label} is empty at row {i}; give at least one value in every row")
        values: list[float] = []
        for j, value in enumerate(row, start=1):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise error(f"{label}: {json.dumps(value)} at row {i}, column {j} is not a number")
            try:
                number = float(value)
            except OverflowError:  # an integer beyond the float range
                number = math.inf
            if finite and not math.isfinite(number):
                raise error(f"{label}: {json.dumps(value)} at row {i}, column {j} is not a finite number")
            values.append(number)
        _check_length(values, rows, i, label, error)
        rows.append(values)
    return rows
