"""``convcli seq`` and ``convcli multiply``: 1-D convolution and long multiplication."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import app, fail, reports_errors


def _seq_usage(message: str) -> typer.Exit:
    """A usage error: ``Error: …`` and exit code 2."""
    return fail(message, 2)


def _seq_read_file(path: str, name: str) -> str:
    from ..errors import ParameterError

    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError:
        raise ParameterError(
            f"{name}: {path} is not a text file; give numbers one per line or comma separated"
        ) from None
    except OSError as err:
        raise ParameterError(f"{name}: cannot read {path}: {err.strerror or err}") from None


def _seq_source(text: str, name: str) -> tuple[str, str]:
    """The text of a sequence given inline, as a file (a path or @path) or as ``-`` (stdin), and its label."""
    import os
    import re

    from ..errors import ParameterError

    if text == "-":
        return typer.get_text_stream("stdin").read(), f"{name} (stdin)"
    if text.startswith("@"):
        return _seq_read_file(text[1:].strip(), name), text[1:].strip()
    if os.path.isfile(text):
        return _seq_read_file(text, name), text
    if not re.fullmatch(r"[\s\d.,eE+\-#]*(?:inf|nan)?[\s\d.,eE+\-#]*", text, flags=re.IGNORECASE):
        raise ParameterError(
            f"{name} {text!r} is neither numbers (e.g. \"2,4\" or \"7 3 1\") nor an existing file; check the path"
        )
    return text, name


def _seq_num(value: float) -> str:
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return f"{value:.15g}"


@app.command("seq")
@reports_errors
def seq_command(
    a: Annotated[
        str,
        typer.Argument(metavar="A", show_default=False,
                       help="A sequence: \"2,4\", \"7 3 1\", a file (one number per line or comma separated; "
                            "a path or @path) or - for stdin."),
    ],
    b: Annotated[
        str | None,
        typer.Argument(metavar="B", show_default=False,
                       help="The second sequence (the kernel), in the same forms; or use -k."),
    ] = None,
    kernel: Annotated[
        str | None,
        typer.Option("--kernel", "-k", metavar="SPEC", show_default=False,
                     help="The kernel as a kernel spec: a row (\"1 2 1\"), box:size=1x5, or a symmetric separable "
                          "kernel standing for its 1-D factor (box:size=5 is five 1/5, gaussian:sigma=2)."),
    ] = None,
    pad: Annotated[
        str,
        typer.Option("--pad", help="full: every overlap, len(A)+len(B)-1 values (long multiplication); same: "
                                   "len(A) values; valid: only full overlaps."),
    ] = "full",
    method: Annotated[
        str, typer.Option("--method", help="direct (the sum), fft, or auto (by size).")
    ] = "auto",
    lines: Annotated[
        bool, typer.Option("--lines", help="Print one number per line (for pipelines) instead of one line.")
    ] = False,
) -> None:
    """Convolve two number sequences (1-D, true convolution: the second is flipped, as in long multiplication).

    Seed 004: the digits of 42 and 137, units first, are (2, 4) and (7, 3, 1); their convolution
    (14, 34, 14, 4) carried is 14 + 340 + 1400 + 4000 = 5754 = 42 x 137 (see convcli multiply).
    With a box kernel it is a moving average (seed 001). Results print on one line, space separated.

    Examples:

      convcli seq "2,4" "7,3,1"                      (prints 14 34 14 4)

      seq 1 100 | convcli seq - -k box:size=5 --pad valid

      convcli seq prices.txt -k "0.25 0.5 0.25" --pad same --lines

      convcli seq -- "-1,2" "3,4"                    (a leading '-' needs '--' first)
    """
    from ..kernels import kernel as load_kernel
    from ..sequences import METHODS, PADS, convolve1d, kernel_1d, parse_sequence

    if (b is None) == (kernel is None):
        raise _seq_usage("give the second sequence B or a kernel with -k (one of them)")
    if a == "-" and b == "-":
        raise _seq_usage("only one of A and B can come from stdin (-)")
    pad_mode = pad.strip().lower()
    if pad_mode not in PADS:
        raise _seq_usage(f"--pad must be one of {', '.join(PADS)}, got {pad!r}")
    method_name = method.strip().lower()
    if method_name not in METHODS:
        raise _seq_usage(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    text, label = _seq_source(a, "sequence A")
    first = parse_sequence(text, source=label)
    if b is not None:
        text, label = _seq_source(b, "sequence B")
        second = parse_sequence(text, source=label)
    else:
        assert kernel is not None
        second = kernel_1d(load_kernel(kernel).matrix, spec=kernel)
    result = convolve1d(first, second, pad=pad_mode, method=method_name)  # type: ignore[arg-type]
    typer.echo(("\n" if lines else " ").join(_seq_num(v) for v in result))


def _multiply_number(text: str, name: str) -> str:
    """A number given as digits, or read from a file (a path or @path; whitespace and line breaks ignored)."""
    import os

    from ..errors import ParameterError

    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return stripped
    path = text[1:].strip() if text.startswith("@") else text
    if text.startswith("@") or os.path.isfile(path):
        content = _seq_read_file(path, name)
        for number, line in enumerate(content.splitlines(), start=1):
            for column, char in enumerate(line, start=1):
                if not (char in "0123456789" or char.isspace()):
                    raise ParameterError(
                        f"{name}: {path}, line {number}, column {column}: {char!r} is not a digit; the file should "
                        "hold one non-negative decimal integer (line breaks and spaces are ignored)"
                    )
        digits = "".join(content.split())
        if not digits:
            raise ParameterError(f"{name}: {path} is empty; it should hold the digits of a number")
        return digits
    raise ParameterError(
        f"{name} {text!r} is neither a non-negative decimal integer (digits 0-9 only, e.g. 42) nor an existing file"
    )


@app.command("multiply")
@reports_errors
def multiply_command(
    a: Annotated[
        str,
        typer.Argument(metavar="A", show_default=False,
                       help="A non-negative integer in decimal, or a file holding one (a path or @path)."),
    ],
    b: Annotated[
        str,
        typer.Argument(metavar="B", show_default=False, help="The other factor, in the same forms."),
    ],
) -> None:
    """Multiply two non-negative integers exactly, by FFT convolution of their digits plus carrying.

    Seed 004: 42 x 137 convolves the digit sequences (2, 4) and (7, 3, 1) to (14, 34, 14, 4) and
    carries: 5754. The digits are grouped into limbs and convolved with a float64 FFT, O(n log n).

    Exact at any size: the limb size shrinks as the numbers grow so that the FFT's rounding error
    provably stays below 1/4 (Percival's bound): 4-digit limbs up to about 390,000 digits per factor,
    3-digit limbs up to about 22 million, 2-digit limbs up to about 1.1 billion (memory permitting).
    Every product is also checked (each coefficient within 1/4 of an integer, the result modulo
    2^31-1). On the benchmark machine (benchmarks/bench_multiply.py) it beats CPython's int
    multiplication from about 30,000-50,000 digits on (about 7x faster at a million digits), and
    str(int(a) * int(b)), which also converts to and from decimal, from a few thousand.

    Files may wrap the digits over several lines.

    Examples:

      convcli multiply 42 137                                 (prints 5754)

      convcli multiply @a.txt @b.txt > product.txt

      python -c "print('9' * 100000)" > nines.txt; convcli multiply nines.txt nines.txt | wc -c
    """
    from ..sequences import multiply

    typer.echo(multiply(_multiply_number(a, "A"), _multiply_number(b, "B")))


