"""Fuzz what a user types: kernel specs, kernel files and ``apply`` option combinations.

Three hypothesis properties, each allowing only two outcomes, a correct result
or a :class:`~convcli.errors.ConvcliError` (exit code 1 or 2 with one
``Error: …`` line on the command line), never another exception:

``check_spec``
    :func:`convcli.kernel` on the spec grammar: named kernels with right and
    wrong keys and values, inline matrices (which must parse to exactly the
    numbers written), their corruptions, and free text over the grammar's
    characters.
``check_kernel_file``
    :func:`convcli.kernels.load_kernel_file` on text, CSV, TSV, JSON,
    libvips ``.mat`` and ``.npy`` files, valid (read back exactly) or
    corrupted.
``check_apply``
    ``convcli apply - -o - …`` (through Typer's ``CliRunner``, in process) on
    a small random image with random options, valid or not; a success must
    decode to the shape ``--dry-run`` plans.

``tests/test_fuzz.py`` runs a short, seeded slice in CI.  A long run::

    python -m tests.fuzz_inputs --minutes 10 --seed 1

repeats the three properties with fresh seeds until the time is up and prints
one JSON line of counts.  A failure is shrunk by hypothesis, printed, counted,
and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convcli.errors import ConvcliError
from convcli.kernels import Kernel, kernel, named_kernels
from convcli.shapes import MAX_KERNEL_SIDE

#: outcomes of every check since the process started: cases, ok, convcli_errors
COUNTS: Counter[str] = Counter()

NAMES = [k.name for k in named_kernels()]
KEYS = sorted({p.name for k in named_kernels() for p in k.params} | {"k", "sigmax", "foo", "Size", ""})

VALUE_TEXT = st.one_of(
    st.integers(-3, 30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(0.05, 12).map(lambda v: f"{v:.3g}"),
    st.sampled_from([
        "0", "-0", "1e400", "-1e-400", "nan", "inf", "-inf", "0x10", "1_0", "", " ", "3x5", "2x", "x2", "1.5x2",
        "9999999999", "1025", "1026", "4097", "513", "true", "false", "both", "x", "y", "z", "ne", "45", "-90",
        "2/3", "1;2", "=", ":", ",", "4", "8", "5", "7", "se", "sigma",
    ]),
)
_GRAMMAR = "abcdefgilmnoprstuxyz_:=,; .-+0123456789[]@/#\t\n\"'"


@st.composite
def named_specs(draw: st.DrawFn) -> str:
    """``name[:key=value,...]`` with known and unknown names, keys and values."""
    name = draw(st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES).map(str.upper),
                          st.sampled_from(["gausian", "sobol", "blur", "", "box box", "log:"])))
    params = draw(st.lists(st.tuples(st.sampled_from(KEYS), VALUE_TEXT), max_size=4))
    if not params and draw(st.booleans()):
        return name
    sep = draw(st.sampled_from([",", ", ", ";", " "]))
    eq = draw(st.sampled_from(["=", "=", "=", ":", ""]))
    return name + ":" + sep.join(f"{k}{eq}{v}" for k, v in params)


SMALL_MATRICES = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
    elements=st.one_of(st.integers(-9, 9).map(float), st.floats(-1e3, 1e3, allow_subnormal=False)),
)


def render_inline(matrix: np.ndarray, value_sep: str, row_sep: str) -> str:
    """The matrix as an inline spec, every value written exactly (``repr``)."""
    return row_sep.join(value_sep.join(repr(float(v)) for v in row) for row in matrix)


@st.composite
def inline_specs(draw: st.DrawFn) -> tuple[str, np.ndarray | None]:
    """An inline matrix (its exact values, or None once corrupted)."""
    matrix = draw(SMALL_MATRICES)
    if draw(st.booleans()):
        text = json.dumps(matrix.tolist())
    else:
        text = render_inline(matrix, draw(st.sampled_from([" ", ",", ", ", "\t", "  "])),
                             draw(st.sampled_from([";", "; ", " ;"])))
    if draw(st.booleans()):
        return text, matrix
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(["nan", "inf", "x", "", ";", ";;", ",", ",,", "[", "]", "1e999", "-", "#",
                                      "1 2", "\n", "--1", "0x1", "[[]]", "true", "null"]))
        cut = draw(st.integers(0, 3))
        text = text[:at] + piece + text[at + cut:]
    return text, None


SPECS = st.one_of(
    named_specs().map(lambda s: (s, None)),
    inline_specs(),
    st.text(alphabet=_GRAMMAR, max_size=40).map(lambda s: (s, None)),
    st.sampled_from(["@", "@ ", "@no/such/file.txt", "kernels/none.csv", "x.npy", "sobel:axis=both",
                     "/dev/null", "@/dev/null", ".", "..", "~", "@~"]).map(lambda s: (s, None)),
)


def _check_kernel(k: Kernel) -> None:
    assert isinstance(k, Kernel)
    parts = k.components if k.is_operator else (k,)
    for part in parts:
        m = np.asarray(part.matrix)
        assert m.ndim == 2 and min(m.shape) >= 1 and max(m.shape) <= MAX_KERNEL_SIDE, m.shape
        assert np.isfinite(m).all()
        assert m.shape == k.shape
    if k.anchor is not None:
        assert 0 <= k.anchor[0] < k.shape[0] and 0 <= k.anchor[1] < k.shape[1]
    assert math.isfinite(k.offset)


def _outcome(func: Callable[[], object]) -> object | None:
    """Run ``func``; a ConvcliError is an allowed outcome (counted), anything else propagates."""
    COUNTS["cases"] += 1
    try:
        value = func()
    except ConvcliError as err:
        assert str(err) and "\n" not in str(err), repr(str(err))  # one line, never empty
        COUNTS["convcli_errors"] += 1
        return None
    COUNTS["ok"] += 1
    return value


def check_spec(case: tuple[str, np.ndarray | None], normalize: bool) -> None:
    """A spec gives a usable kernel (the exact matrix, for an inline one) or a ConvcliError."""
    text, expected = case
    k = _outcome(lambda: kernel(text, normalize=normalize))
    if k is None:
        assert not (expected is not None and not normalize), f"a valid inline matrix was refused: {text!r}"
        return
    assert isinstance(k, Kernel)
    _check_kernel(k)
    if expected is not None and not normalize:
        assert np.array_equal(k.matrix, expected), (text, k.matrix, expected)
    if normalize and not k.is_operator:
        assert abs(float(k.matrix.sum()) - 1.0) < 1e-6 * max(1.0, float(np.abs(k.matrix).sum()))


# --- kernel files --------------------------------------------------------------------------------

_TEXT_PIECES = ["nan", "inf", "x", "", ",", ";", "#", "\n", "1e999", "-", "\ufeff", "\x00", '"', "[", "]", "{", "}",
                ":", "1 2", "99999 99999 1 0", "0 0", "3 3 0", "\t", "\r\n", "\xff", "scale", '"kernel"', "null"]


def _render_file(matrix: np.ndarray, fmt: str) -> bytes:
    rows = matrix.tolist()
    if fmt == "json":
        return json.dumps(rows).encode()
    sep = {"csv": ",", "tsv": "\t"}.get(fmt, " ")
    body = "".join(sep.join(repr(v) for v in row) + "\n" for row in rows)
    if fmt == "mat":
        body = f"{matrix.shape[1]} {matrix.shape[0]}\n" + body
    return body.encode()


@st.composite
def kernel_files(draw: st.DrawFn) -> tuple[str, bytes, np.ndarray | None]:
    """(extension, content, the exact matrix or None when corrupted)."""
    fmt = draw(st.sampled_from(["txt", "csv", "tsv", "json", "mat", "npy", "kernel"]))
    matrix = draw(SMALL_MATRICES)
    if fmt == "npy":
        import io

        if draw(st.booleans()):
            buffer = io.BytesIO()
            np.save(buffer, matrix)
            return fmt, buffer.getvalue(), matrix
        dtype = draw(st.sampled_from(["f8", "f4", "i2", "u1", "?", "c8", "<U2", "M8[s]", "f2"]))
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
        array = np.zeros(shape, dtype=dtype)
        if array.dtype.kind == "f" and array.size and draw(st.booleans()):
            with np.errstate(over="ignore"):  # 1e300 overflows float16/float32 to inf: fine here
                array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from([np.nan, np.inf, 1e300]))
        buffer = io.BytesIO()
        np.save(buffer, array)
        data = bytearray(buffer.getvalue())
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        return fmt, bytes(data), None
    content = _render_file(matrix, "text" if fmt == "kernel" else fmt)
    if draw(st.booleans()):
        return fmt, content, matrix
    text = content.decode()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(_TEXT_PIECES)) + text[at + draw(st.integers(0, 4)):]
    encoded = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        encoded = encoded.replace(b"1", b"\xe9", 1)  # not UTF-8
    return fmt, encoded, None


def check_kernel_file(case: tuple[str, bytes, np.ndarray | None], folder: str) -> None:
    """A kernel file gives its exact matrix (when valid) or a ConvcliError naming the file."""
    from convcli.kernels import load_kernel_file

    ext, content, expected = case
    path = os.path.join(folder, f"k.{ext}")
    with open(path, "wb") as handle:
        handle.write(content)
    COUNTS["cases"] += 1
    try:
        k = load_kernel_file(path)
    except ConvcliError as err:
        message = str(err)
        assert message.startswith(path) and "\n" not in message, message
        assert expected is None, f"a valid {ext} kernel file was refused: {message}"
        COUNTS["convcli_errors"] += 1
        return
    COUNTS["ok"] += 1
    _check_kernel(k)
    if expected is not None:
        assert np.array_equal(k.matrix, expected), (k.matrix, expected)


# --- apply options ---------------------------------------------------------------------------------

_KERNEL_OPTIONS = st.one_of(
    st.sampled_from(["box", "box:size=2x3", "gaussian:sigma=1", "sobel:axis=both", "laplacian", "sharpen",
                     "1 -1", "1 2 1; 2 4 2; 1 2 1", "[[0, 1], [1, 0]]", "motion:length=3,angle=30",
                     "identity:size=4", "emboss", "dog:sigma1=1", "1 1 1;1 1 1;1 1 1;1 1 1;1 1 1;1 1 1;1 1 1"]),
    named_specs(),
)
#: option -> (values that are allowed, values that are not); None for a flag
_OPTIONS: list[tuple[str, tuple[list[str], list[str]] | None]] = [
    ("--border", (["constant", "edge", "reflect", "symmetric", "wrap", "zeros", "replicate", "circular",
                   "BORDER_REFLECT_101", "nearest"], ["mirror", "bogus", ""])),
    ("--border-value", (["0", "255", "-1.5", "1e308", "nan"], ["inf", "x"])),
    ("--pad", (["same", "valid", "full", "0", "1", "2x1", "0,1,2,3", "99"], ["-1", "1,2,3", "x"])),
    ("--stride", (["1", "2", "3x1", "7", "2,2"], ["0", "-1", "1x0", "x"])),
    ("--dilation", (["1", "2", "1x3", "5"], ["0", "-2", "y"])),
    ("--anchor", (["0,0", "1,1", "2,0"], ["2000,2000", "-1,0", "1", "a,b"])),
    ("--method", (["auto", "direct", "separable", "fft", "FFT"], ["slow"])),
    ("--activation", (["none", "relu", "abs", "sigmoid", "tanh"], ["softmax"])),
    ("--pool", (["max", "mean:size=3", "min:size=2,stride=1,pad=1", "max:size=2,ceil=true", "max:size=20",
                 "max:k=3,s=2"], ["mean:size=0", "median", "max:size=2,pad=2", ""])),
    ("--channels", (["each", "sum", "gray"], ["rgb"])),
    ("--alpha", (["filter", "keep"], ["drop"])),
    ("--range", (["clip", "abs", "normalize"], ["wrap"])),
    ("--gain", (["1", "0.5", "-2", "0", "1e30"], ["nan", "x"])),
    ("--offset", (["0", "128", "-1e9", "0.5"], ["inf"])),
    ("--depth", (["8", "16", "float"], ["32"])),
    ("--format", (["png", "jpg", "tif", "npy", "bmp", "webp", "gif", "ppm", "tga"], ["docx"])),
    ("--quality", (["1", "50", "100"], ["0", "101", "x"])),
    ("--max-pixels", (["0", "10", "1000000"], ["-1"])),
    ("--flip", None),
    ("--normalize", None),
]


class ApplyCase(NamedTuple):
    """One drawn ``apply`` run: the stdin image, the options, and what the fuzzer knows of them."""

    data: bytes
    args: list[str]
    shape: tuple[int, ...]
    kernels: list[str]
    options: dict[str, str | None]  # option -> value (None for a flag)
    bad: list[str]  # options given a value from the "not allowed" list


@st.composite
def apply_cases(draw: st.DrawFn) -> ApplyCase:
    """A small random image as stdin bytes and random ``apply`` options, good or (rarely) bad."""
    from convcli.imageio import encode_image

    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    channels = draw(st.sampled_from([1, 2, 3, 4]))
    kind = draw(st.sampled_from(["u8", "u16", "f32"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape: tuple[int, ...] = (h, w) if channels == 1 else (h, w, channels)
    if kind == "u8":
        array: np.ndarray = rng.integers(0, 256, shape).astype(np.uint8)
    elif kind == "u16":
        array = rng.integers(0, 65536, shape).astype(np.uint16)
    else:
        array = (rng.random(shape) * draw(st.sampled_from([1.0, 1e6, -3.0]))).astype(np.float32)
        if draw(st.integers(0, 4)) == 0:
            array.flat[0] = np.nan
    fmt = "NPY" if kind == "f32" or (kind == "u16" and channels in (2, 3, 4) and draw(st.booleans())) else "PNG"
    data = encode_image(array, fmt)
    kernels = draw(st.lists(_KERNEL_OPTIONS, max_size=2))
    args = [part for spec in kernels for part in ("-k", spec)]
    options: dict[str, str | None] = {}
    bad: list[str] = []
    for option, values in _OPTIONS:
        if draw(st.integers(0, 5)) == 0:
            if values is None:
                args.append(option)
                options[option] = None
            else:
                good, not_allowed = values
                is_bad = draw(st.integers(0, 9)) == 0
                value = draw(st.sampled_from(not_allowed if is_bad else good))
                args.append(f"{option}={value}")
                options[option] = value
                if is_bad:
                    bad.append(option)
    return ApplyCase(data, args, array.shape, kernels, options, bad)


# --- an independent model of the output size (PyTorch's rules, written out) -------------------------------


def _numbers(text: str) -> list[int]:
    return [int(v) for v in text.lower().replace("x", ",").split(",")]


def _conv_length(n: int, k: int, s: int, d: int, total_pad: int) -> int:
    return (n + total_pad - (d * (k - 1) + 1)) // s + 1


def _pad_totals(pad: str, extent: tuple[int, int]) -> tuple[int, int]:
    if pad in ("same", "valid", "full"):
        factor = {"same": 1, "valid": 0, "full": 2}[pad]
        return factor * (extent[0] - 1), factor * (extent[1] - 1)
    values = _numbers(pad)
    if len(values) == 4:
        return values[0] + values[1], values[2] + values[3]
    return 2 * values[0], 2 * values[-1]


def _pool_length(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    span = n + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:  # PyTorch: the last window must start inside the image or left pad
        out -= 1
    return out


def expected_size(case: ApplyCase) -> tuple[int, int] | None:
    """The output (height, width) by PyTorch's formulas, or None when some size would be empty."""
    h, w = case.shape[:2]
    opts = case.options
    pad = (opts.get("--pad") or "same").lower()
    stride = _numbers(opts.get("--stride") or "1")
    dilation = _numbers(opts.get("--dilation") or "1")
    s = (stride[0], stride[-1])
    d = (dilation[0], dilation[-1])
    for spec in case.kernels:
        kh, kw = kernel(spec).shape
        extent = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
        total = _pad_totals(pad, extent)
        h, w = _conv_length(h, kh, s[0], d[0], total[0]), _conv_length(w, kw, s[1], d[1], total[1])
        if h < 1 or w < 1:
            return None
    if opts.get("--pool") is not None:
        rest = str(opts["--pool"]).partition(":")[2]
        params = dict(item.split("=") for item in rest.split(",") if item)
        size = int(params.get("size", params.get("k", 2)))
        step = int(params.get("stride", params.get("s", size)))
        p = int(params.get("pad", params.get("p", 0)))
        ceil = params.get("ceil", "false") == "true"
        if 2 * p > size:
            return None
        h, w = _pool_length(h, size, step, p, ceil), _pool_length(w, size, step, p, ceil)
        if h < 1 or w < 1:
            return None
    return h, w


#: failures that options drawn only from the "allowed" lists may still meet, because of how they combine
#: (option, exit code, the message must contain): each is a real rule of apply, documented in docs/
_GOOD_COMBINATION_FAILURES: list[tuple[Callable[[ApplyCase], bool], int, str]] = [
    (lambda c: "--anchor" in c.options, 2, "anchor"),
    (lambda c: "--depth" in c.options, 2, "--depth"),
    (lambda c: "--normalize" in c.options, 1, "sum"),
    (lambda c: "--method" in c.options, 2, "--method"),
    (lambda c: "--format" in c.options, 1, "cannot hold"),
    (lambda c: "--format" in c.options, 2, "--format"),
    (lambda c: "--max-pixels" in c.options, 1, "over the limit of"),
    (lambda c: c.options.get("--alpha") == "keep", 1, "--alpha keep"),
]


_COMMAND: Any = None


def _invoke(args: list[str], data: bytes) -> Any:
    """``CliRunner().invoke`` without rebuilding the Click command each time (Typer takes 0.2 s for that)."""
    import typer.main
    import typer.testing
    from typer.testing import CliRunner

    from convcli.cli import app

    global _COMMAND
    if _COMMAND is None:
        _COMMAND = typer.main.get_command(app)
    build = typer.testing._get_command  # type: ignore[attr-defined]
    typer.testing._get_command = lambda _app: _COMMAND  # type: ignore[attr-defined]
    try:
        return CliRunner().invoke(app, args, input=data)
    finally:
        typer.testing._get_command = build  # type: ignore[attr-defined]


def check_apply(case: ApplyCase) -> None:
    """``convcli apply - -o - OPTIONS`` writes an image of the size PyTorch's formulas give, or fails as it must.

    With only allowed option values, a failure must be one that their combination explains (an empty size,
    an anchor outside the kernel, a depth the format cannot hold, …); with a value from a "not allowed"
    list, the run must fail: exit 2 (a usage error) for option values, with one ``Error:`` line.
    """
    from convcli.imageio import read_image

    COUNTS["cases"] += 1
    result = _invoke(["apply", "-", "-o", "-", "-q", "-j", "1", *case.args], case.data)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"apply {case.args} raised {type(result.exception).__name__}: {result.exception}\n"
                             + "".join(traceback.format_exception(result.exception)))
    bad_kernels = []
    for spec in case.kernels:
        try:
            kernel(spec)
        except ConvcliError:
            bad_kernels.append(spec)
    no_operation = not case.kernels and "--pool" not in case.options and case.options.get("--activation") in (
        None, "none")
    expected = expected_size(case) if not case.bad and not bad_kernels and not no_operation else None
    if result.exit_code != 0:
        assert result.exit_code in (1, 2), (result.exit_code, case.args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        if result.exit_code == 2 and lines and lines[0].startswith("Usage: "):
            assert "Invalid value" in result.stderr, result.stderr  # Click's own check of an INTEGER option
        else:
            assert lines and all(line.startswith("Error: ") for line in lines), (case.args, result.stderr)
        if no_operation and not case.bad:
            assert result.exit_code == 2, (case.args, result.stderr)  # no operation, or another usage error first
        elif bad_kernels and not case.bad:
            assert result.exit_code == 1, (case.args, result.stderr)  # a bad kernel is exit 1, as in `kernels`
        elif not case.bad and expected is not None:
            explained = any(applies(case) and result.exit_code == code and text in result.stderr
                            for applies, code, text in _GOOD_COMBINATION_FAILURES)
            assert explained, f"allowed options were refused: {case.args} -> {result.exit_code} {result.stderr}"
        elif not case.bad and expected is None:
            # an empty size is not a usage error (exit 1), but a usage error of the options' combination (exit 2)
            # is found first, before any image is read
            first = any(applies(case) and code == 2 == result.exit_code and text in result.stderr
                        for applies, code, text in _GOOD_COMBINATION_FAILURES)
            assert result.exit_code == 1 or first, (case.args, result.stderr)
        COUNTS["convcli_errors"] += 1
        return
    assert not case.bad, f"a value from a 'not allowed' list was accepted: {case.bad} in {case.args}"
    assert not bad_kernels, f"a kernel spec that convcli.kernel refuses was accepted: {bad_kernels}"
    assert not no_operation, f"a run with no operation was accepted: {case.args}"
    assert expected is not None, f"an empty output size was not refused: {case.args}"
    COUNTS["ok"] += 1
    out, _ = read_image("stdout", data=result.stdout_bytes, max_pixels=None)
    assert tuple(out.shape[:2]) == expected, (case.args, out.shape, expected)
    # the plan of a dry run (to a file name that does not exist: the format comes from --format or .png)
    ext = str(case.options.get("--format") or "png")
    target = os.path.join(tempfile.gettempdir(), "convcli-fuzz-no-such-folder", f"planned.{ext}")
    planned = _invoke(["apply", "-", "-o", target, "--dry-run", "--json", *case.args], case.data)
    assert planned.exit_code == 0, (case.args, planned.stderr)
    report = json.loads(planned.stdout)["files"][0]
    assert tuple(report["output_shape"][:2]) == expected, (case.args, report, expected)


# --- the hypothesis wrappers and the long run ----------------------------------------------------------


def spec_property(max_examples: int) -> Callable[[], None]:
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=SPECS, normalize=st.booleans())
    def run(case: tuple[str, np.ndarray | None], normalize: bool) -> None:
        check_spec(case, normalize)

    return run


def kernel_file_property(max_examples: int, folder: str) -> Callable[[], None]:
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=kernel_files())
    def run(case: tuple[str, bytes, np.ndarray | None]) -> None:
        check_kernel_file(case, folder)

    return run


def apply_property(max_examples: int) -> Callable[[], None]:
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=apply_cases())
    def run(case: ApplyCase) -> None:
        check_apply(case)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz_inputs", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to run (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="the first hypothesis seed; each round adds 1")
    parser.add_argument("--examples", type=int, default=300, help="examples per property per round")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    start = time.monotonic()
    per_target: dict[str, Counter[str]] = {}
    failures: list[str] = []
    rounds = 0
    with tempfile.TemporaryDirectory() as folder:
        targets: dict[str, Callable[[int], Callable[[], None]]] = {
            "specs": spec_property,
            "kernel_files": lambda n: kernel_file_property(n, folder),
            "apply_options": lambda n: apply_property(max(1, n // 5)),  # each case runs the CLI twice
        }
        while time.monotonic() < deadline:
            for name, make in targets.items():
                if time.monotonic() >= deadline:
                    break
                COUNTS.clear()
                test = hypothesis_seed(args.seed + rounds)(make(args.examples))
                try:
                    test()
                except Exception as err:  # a broken rule: hypothesis has shrunk and printed it
                    COUNTS["other_exceptions"] += 1
                    failures.append(f"{name} seed {args.seed + rounds}: {type(err).__name__}: {str(err)[:300]}")
                    traceback.print_exc()
                per_target.setdefault(name, Counter()).update(COUNTS)
            rounds += 1
            print(json.dumps({"progress": {k: dict(v) for k, v in per_target.items()},
                              "seconds": round(time.monotonic() - start)}), file=sys.stderr, flush=True)
    total: Counter[str] = Counter()
    for counts in per_target.values():
        total.update(counts)
    summary: dict[str, Any] = {
        "fuzzer": "inputs", "seed": args.seed, "rounds": rounds, "seconds": round(time.monotonic() - start, 1),
        "cases": total["cases"], "ok": total["ok"], "convcli_errors": total["convcli_errors"],
        "other_exceptions": total["other_exceptions"],
        "by_target": {k: dict(v) for k, v in per_target.items()}, "failures": failures[:20],
    }
    print(json.dumps(summary))
    return 1 if total["other_exceptions"] else 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
