"""Kernel files: plain text/CSV, JSON, ``.npy`` and libvips ``.mat``.

The format follows the extension (``.json``, ``.npy``, ``.mat``; anything
else is read as text):

- **text / CSV / TSV** — one row per line, values separated by spaces, tabs or
  commas; ``#`` starts a comment; blank lines are ignored::

      # emboss, light from the top left
      -2 -1 0
      -1  1 1
       0  1 2

- **JSON** — a nested list ``[[1, 2, 1], [0, 0, 0], [-1, -2, -1]]``, or an object
  ``{"kernel": [[...]], "scale": s, "offset": b, "anchor": [row, col]}``; the
  kernel is ``kernel / scale`` (default 1), ``offset`` (default 0) is added to
  every output value, ``anchor`` (default: the centre) is 0-based.
- **.npy** — a 2-D real array saved by :func:`numpy.save` (read with
  ``allow_pickle=False``).
- **libvips .mat** — a header line ``W H [scale [offset]]`` then ``H`` rows of
  ``W`` values; the kernel is ``matrix / scale`` and ``offset`` is added to the
  result, as in libvips' ``vips_conv``.  Values may be separated by spaces,
  tabs, commas or quotes; convcli also skips ``#`` comments and blank lines.

A one-line text file or a flat JSON list is a kernel of one row.  Every error
is a :class:`~convcli.errors.KernelFileError` naming the file and, where there
is one, the line.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "edge.mat").write_text("3 3 1 128\\n0 1 0\\n1 -4 1\\n0 1 0\\n")
>>> k = load_kernel_file(folder / "edge.mat")
>>> k.matrix.tolist(), k.offset
([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], 128.0)
>>> save_kernel_file(k, folder / "edge.json")
>>> print((folder / "edge.json").read_text(), end="")
{"kernel": [[0, 1, 0], [1, -4, 1], [0, 1, 0]], "offset": 128}
"""

from __future__ import annotations

import math
import os
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from ..errors import KernelError, KernelFileError
from ..shapes import MAX_KERNEL_SIDE
from ._inline import count_values as _count
from ._inline import parse_number, split_values
from ._kernel import Kernel

__all__ = ["MAX_FILE_BYTES", "KernelFormat", "kernel_file_format", "load_kernel_file", "save_kernel_file"]

#: ``text`` covers ``.txt`` and anything unknown; ``csv``/``tsv`` only differ when saving.
KernelFormat: TypeAlias = Literal["text", "csv", "tsv", "json", "npy", "mat"]

_FORMATS: Final = ("text", "csv", "tsv", "json", "npy", "mat")
_BY_EXTENSION: Final[dict[str, KernelFormat]] = {
    ".txt": "text", ".csv": "csv", ".tsv": "tsv", ".json": "json", ".npy": "npy", ".mat": "mat",
}
#: Larger files are refused before reading: a 1025x1025 kernel in text takes ~25 MB.
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
_JSON_KEYS: Final = ("kernel", "scale", "offset", "anchor")


def kernel_file_format(path: str | os.PathLike[str]) -> KernelFormat:
    """The format a kernel file's extension selects (``text`` when unknown).

    Examples
    --------
    >>> kernel_file_format("kernels/blur7x7.CSV"), kernel_file_format("k.kernel")
    ('csv', 'text')
    """
    return _BY_EXTENSION.get(os.path.splitext(os.fspath(path))[1].lower(), "text")


# --- loading ------------------------------------------------------------------


def load_kernel_file(
    path: str | os.PathLike[str], *, format: KernelFormat | None = None, spec: str | None = None
) -> Kernel:
    """Read a kernel file.

    Parameters
    ----------
    path : str or path-like
        The file (``~`` is expanded).
    format : {"text", "csv", "tsv", "json", "npy", "mat"}, optional
        Overrides the format the extension selects.  ``text``, ``csv`` and
        ``tsv`` read alike.
    spec : str, optional
        The text the path came from (``@path``), kept as :attr:`Kernel.spec`;
        default the path.

    Returns
    -------
    Kernel
        With the file's anchor and offset (JSON, .mat) and ``scale`` applied.

    Raises
    ------
    KernelFileError
        The file is missing, unreadable, too large or malformed: the message
        names the file and the line (ragged row, header disagreeing with the
        rows, a value that is not a finite number and its column).

    Examples
    --------
    >>> load_kernel_file("no/such/kernel.txt")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelFileError: no/such/kernel.txt: no such file; check the path
    """
    shown = os.fspath(path)
    if format is not None and format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    fmt = format or kernel_file_format(shown)
    data = _read_bytes(shown)
    if fmt == "npy":
        matrix = _parse_npy(data, shown)
        return _make_kernel(matrix, shown, spec=spec)
    text = _decode(data, shown, fmt)
    if format is None and fmt == "text" and text.lstrip()[:1] in ("[", "{"):
        fmt = "json"  # an unknown extension holding JSON
    if fmt == "json":
        return _parse_json(text, shown, spec=spec)
    if fmt == "mat":
        return _parse_mat(text, shown, spec=spec)
    rows, _lines = _parse_rows(text, shown)
    if not rows:
        raise KernelFileError(shown, "no kernel values found (only blank lines or comments); "
                                     "write one row of numbers per line")
    return _make_kernel(rows, shown, spec=spec)


def _read_bytes(path: str) -> bytes:
    """The file's bytes, refusing folders, devices and anything over :data:`MAX_FILE_BYTES` before reading it."""
    import stat

    real = os.path.expanduser(path)
    too_big = (f"kernel files may be at most {MAX_FILE_BYTES // 2**20} MiB "
               f"(kernels are at most {MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE})")
    try:
        if os.path.isdir(real):
            raise KernelFileError(path, "is a folder, not a kernel file")
        mode = os.stat(real).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise KernelFileError(path, "is a device, not a kernel file; give a text, CSV, JSON, .mat or .npy file")
        size = os.path.getsize(real)
        if size > MAX_FILE_BYTES:
            raise KernelFileError(path, f"is {size / 2**20:.0f} MiB; {too_big}")
        with open(real, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # a pipe has no size to check first
        if len(data) > MAX_FILE_BYTES:
            raise KernelFileError(path, f"holds more than {MAX_FILE_BYTES // 2**20} MiB; {too_big}")
        return data
    except FileNotFoundError:
        raise KernelFileError(path, "no such file; check the path") from None
    except PermissionError:
        raise KernelFileError(path, "cannot be read: permission denied") from None
    except OSError as err:
        raise KernelFileError(path, f"cannot be read: {err.strerror or err}") from None


def _decode(data: bytes, path: str, fmt: str) -> str:
    if fmt == "mat" and data.startswith(b"MATLAB"):
        raise KernelFileError(
            path, "is a MATLAB .mat file, but convcli reads libvips .mat text matrices "
            "('W H [scale [offset]]' then the rows); save the kernel as .npy, .csv or .json"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise KernelFileError(
            path, f"is not UTF-8 text (byte 0x{data[err.start]:02x}); a {fmt} kernel file is plain text",
            line=line,
        ) from None


def _number(token: str, path: str, line: int, column: int) -> float:
    value = parse_number(token)
    if value is None:
        if not token:
            what = "an empty value (two separators in a row?)"
        else:
            what = f"{token!r} is not a number"
        raise KernelFileError(path, f"column {column}: {what}; write values like 1, -0.5 or 2e-3", line=line)
    if not math.isfinite(value):
        raise KernelFileError(path, f"column {column}: {token} is not allowed; every value must be finite",
                              line=line)
    return value


def _parse_rows(
    text: str, path: str, *, quotes: bool = False
) -> tuple[list[list[float]], list[int]]:
    """The number rows of a text file and the line number of each."""
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        if quotes:
            content = content.replace('"', " ")
        tokens = split_values(content)
        if not tokens:
            continue
        values = [_number(tok, path, number, col) for col, tok in enumerate(tokens, start=1)]
        if rows and len(values) != len(rows[0]):
            raise KernelFileError(
                path, f"this row has {_count(len(values))} but the first row (line {lines[0]}) has "
                f"{len(rows[0])}; every row needs the same number of values", line=number,
            )
        if len(values) > MAX_KERNEL_SIDE or len(rows) >= MAX_KERNEL_SIDE:
            raise KernelFileError(path, f"the kernel is larger than {MAX_KERNEL_SIDE} per side, the limit",
                                  line=number)
        rows.append(values)
        lines.append(number)
    return rows, lines


def _make_kernel(
    matrix: Any, path: str, *, spec: str | None, anchor: tuple[int, int] | None = None, offset: float = 0.0
) -> Kernel:
    try:
        return Kernel(matrix, anchor=anchor, offset=offset, spec=spec if spec is not None else path)
    except KernelError as err:  # a file's own checks come first; this covers what is left
        raise KernelFileError(path, str(err)) from None


def _parse_npy(data: bytes, path: str) -> Any:
    import io

    try:
        if data.startswith(b"\x93NUMPY"):  # (an .npz is a zip file: np.load tells it apart below)
            stream = io.BytesIO(data)
            version = np.lib.format.read_magic(stream)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, _ = reader(stream)
            if len(shape) in (1, 2):  # refused before the data is read
                _check_size((1, *shape) if len(shape) == 1 else tuple(shape), path)
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (KernelFileError, MemoryError):
        raise
    except Exception as err:  # numpy's header parser fails in many ways on a damaged file (ValueError, TokenError, …)
        detail = str(err).strip() or type(err).__name__
        raise KernelFileError(
            path, f"is not a readable .npy array ({detail[:200]}); save a 2-D float array with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray):
        raise KernelFileError(path, "holds several arrays (.npz); save one 2-D array with numpy.save")
    if array.dtype.kind not in "biuf":
        raise KernelFileError(path, f"holds {array.dtype} values; a kernel must hold real numbers")
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise KernelFileError(path, f"holds an array of shape {array.shape}; a kernel must be 2-D")
    _check_size(array.shape, path)
    bad = ~np.isfinite(array.astype(np.float64))
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise KernelFileError(
            path, f"row {r + 1}, column {c + 1} is {float(array[r, c])}; every value must be finite"
        )
    return array


def _check_size(shape: tuple[int, ...], path: str) -> None:
    if 0 in shape:
        raise KernelFileError(path, f"holds an empty array (shape {shape}); give at least one value")
    if max(shape) > MAX_KERNEL_SIDE:
        raise KernelFileError(
            path, f"holds a {shape[0]}x{shape[1]} kernel; the limit is {MAX_KERNEL_SIDE} per side"
        )


def _json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def _parse_json(text: str, path: str, *, spec: str | None) -> Kernel:
    import json  # the JSON functions import it: a run without a JSON kernel file never does

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"is not valid JSON: {err.msg} (column {err.colno})"
        raise KernelFileError(path, message, line=err.lineno) from None
    except (ValueError, RecursionError) as err:
        raise KernelFileError(path, f"is not a usable JSON kernel ({type(err).__name__}: {err})") from None
    scale, offset, anchor = 1.0, 0.0, None
    if isinstance(data, dict):
        for key in data:
            if key not in _JSON_KEYS:
                raise KernelFileError(path, f"unknown key {key!r}; valid keys: {', '.join(_JSON_KEYS)}")
        if "kernel" not in data:
            raise KernelFileError(path, 'has no "kernel" key; write {"kernel": [[1, 2, 1], ...]}')
        if "scale" in data:
            scale = data["scale"]
            if not _json_number(scale) or scale == 0 or not _finite(scale):
                raise KernelFileError(path, f'"scale" must be a non-zero number, got {json.dumps(scale)}')
        if "offset" in data:
            offset = data["offset"]
            if not _json_number(offset) or not _finite(offset):
                raise KernelFileError(path, f'"offset" must be a finite number, got {json.dumps(offset)}')
        if "anchor" in data:
            anchor = data["anchor"]
        rows = data["kernel"]
    else:
        rows = data
    matrix = _json_matrix(rows, path)
    if anchor is not None:
        h, w = len(matrix), len(matrix[0])
        ok = isinstance(anchor, list) and len(anchor) == 2 and all(
            isinstance(a, int) and not isinstance(a, bool) for a in anchor
        )
        if not ok or not (0 <= anchor[0] < h and 0 <= anchor[1] < w):
            raise KernelFileError(
                path, f'"anchor" must be [row, col] with 0 <= row < {h} and 0 <= col < {w} (0-based), '
                f"got {json.dumps(anchor)}"
            )
        anchor = (anchor[0], anchor[1])
    scaled = np.asarray(matrix, dtype=np.float64) / float(scale)
    return _make_kernel(scaled, path, spec=spec, anchor=anchor, offset=float(offset))


def _json_matrix(rows: Any, path: str) -> list[list[float]]:
    import json

    example = "write a list of rows like [[1, 2, 1], [0, 0, 0]]"
    if not isinstance(rows, list) or not rows:
        raise KernelFileError(path, f"the kernel must be a non-empty list of rows; {example}")
    if not any(isinstance(r, list) for r in rows):
        rows = [rows]  # a flat list is one row
    width = None
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list) or not row:
            shown = json.dumps(row)
            raise KernelFileError(path, f"kernel row {i} is {shown}, not a list of numbers; {example}")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise KernelFileError(
                path, f"kernel row {i} has {_count(len(row))} but row 1 has {width}; "
                "every row needs the same number of values"
            )
        for j, value in enumerate(row, start=1):
            if not _json_number(value):
                where = f"kernel row {i}, column {j}"
                raise KernelFileError(path, f"{where} is {json.dumps(value)}, not a number")
            if not _finite(value):
                where = f"kernel row {i}, column {j}"
                raise KernelFileError(path, f"{where} is {value:.6g}; every value must be finite")
    _check_size((len(rows), width or 0), path)
    return rows


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _parse_mat(text: str, path: str, *, spec: str | None) -> Kernel:
    usage = "the first line must be 'W H [scale [offset]]', e.g. '3 3' or '3 3 16 0'"
    header: tuple[int, list[str]] | None = None
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].replace('"', " ")
        if not content.strip():
            continue
        if header is None:
            header = (number, split_values(content))
        else:
            body.append((number, content))
    if header is None:
        raise KernelFileError(path, f"is empty; {usage}")
    head_line, tokens = header
    if not 2 <= len(tokens) <= 4:
        raise KernelFileError(path, f"header has {_count(len(tokens))}; {usage}", line=head_line)
    sizes = []
    for name, token in (("W", tokens[0]), ("H", tokens[1])):
        if not token.isdigit() or int(token) < 1:
            raise KernelFileError(path, f"header {name} = {token!r} is not a positive integer; {usage}",
                                  line=head_line)
        sizes.append(int(token))
    width, height = sizes
    if max(width, height) > MAX_KERNEL_SIDE:
        message = f"header asks for {width}x{height}; the limit is {MAX_KERNEL_SIDE} per side"
        raise KernelFileError(path, message, line=head_line)
    extra = [_number(tok, path, head_line, col) for col, tok in enumerate(tokens[2:], start=3)]
    scale = extra[0] if extra else 1.0
    offset = extra[1] if len(extra) > 1 else 0.0
    if scale == 0:
        message = f"header scale is 0; the kernel is divided by it; {usage}"
        raise KernelFileError(path, message, line=head_line)
    rows: list[list[float]] = []
    for number, content in body:
        if len(rows) == height:
            raise KernelFileError(
                path, f"the header (line {head_line}) says {_rows(height)}, but there are more; "
                "fix H in the header or remove the extra rows", line=number,
            )
        values = [_number(tok, path, number, col) for col, tok in enumerate(split_values(content), start=1)]
        if len(values) != width:
            raise KernelFileError(
                path, f"this row has {_count(len(values))} but the header (line {head_line}) says W={width}",
                line=number,
            )
        rows.append(values)
    if len(rows) < height:
        raise KernelFileError(
            path, f"the header (line {head_line}) says {_rows(height)}, but the file has {len(rows)}; "
            "fix H in the header or add the missing rows"
        )
    matrix = np.asarray(rows, dtype=np.float64) / scale
    return _make_kernel(matrix, path, spec=spec, offset=offset)


# --- saving -------------------------------------------------------------------


def _format_value(value: float) -> str:
    """The shortest text that reads back as the same float (integers without ``.0``)."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _json_value(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def save_kernel_file(
    kernel: Kernel | npt.ArrayLike, path: str | os.PathLike[str], *, format: KernelFormat | None = None
) -> None:
    """Write a kernel file that :func:`load_kernel_file` reads back exactly.

    Parameters
    ----------
    kernel : Kernel or array_like
        A linear kernel or a 2-D matrix.
    path : str or path-like
        The file to write (replaced if it exists).
    format : {"text", "csv", "tsv", "json", "npy", "mat"}, optional
        Default: from the extension (``text`` when unknown).  Text uses
        spaces, CSV commas, TSV tabs.

    Raises
    ------
    KernelFileError
        If the format cannot hold the kernel's anchor or offset (text, CSV,
        TSV and .npy hold only the matrix; .mat holds an offset but no anchor),
        or the file cannot be written.
    KernelError
        For an operator, which is not one matrix.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "box.csv"
    >>> save_kernel_file([[0.25, 0.25], [0.25, 0.25]], path)
    >>> print(path.read_text(), end="")
    0.25,0.25
    0.25,0.25
    """
    shown = os.fspath(path)
    if format is not None and format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    k = kernel if isinstance(kernel, Kernel) else Kernel(np.atleast_2d(np.asarray(kernel)), spec="<array>")
    matrix = k.matrix  # raises for an operator
    fmt = format or kernel_file_format(shown)
    keeps = {"json": ("anchor", "offset"), "mat": ("offset",)}.get(fmt, ())
    lost = [n for n in ("anchor", "offset") if n not in keeps and getattr(k, n) not in (None, 0.0)]
    if lost:
        what = " and ".join(f"{name} {getattr(k, name)}" for name in lost)
        better = ".json" if "anchor" in lost else ".json or .mat"
        raise KernelFileError(shown, f"the {fmt} format holds only the matrix, but the kernel has {what}; "
                                     f"save it as {better}")
    real = os.path.expanduser(shown)
    try:
        if fmt == "npy":
            with open(real, "wb") as handle:
                np.save(handle, np.asarray(matrix, dtype=np.float64), allow_pickle=False)
            return
        with open(real, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(_render(k, fmt))
    except OSError as err:
        raise KernelFileError(shown, f"cannot be written: {err.strerror or err}") from None


def _render(k: Kernel, fmt: str) -> str:
    import json

    rows = k.matrix.tolist()
    if fmt == "json":
        matrix = [[_json_value(v) for v in row] for row in rows]
        if k.anchor is None and k.offset == 0.0:
            return json.dumps(matrix) + "\n"
        data: dict[str, Any] = {"kernel": matrix}
        if k.offset != 0.0:
            data["offset"] = _json_value(k.offset)
        if k.anchor is not None:
            data["anchor"] = list(k.anchor)
        return json.dumps(data) + "\n"
    separator = {"csv": ",", "tsv": "\t"}.get(fmt, " ")
    body = "".join(separator.join(_format_value(v) for v in row) + "\n" for row in rows)
    if fmt == "mat":
        h, w = k.shape
        header = f"{w} {h}" + (f" 1 {_format_value(k.offset)}" if k.offset != 0.0 else "")
        return header + "\n" + body
    return body
