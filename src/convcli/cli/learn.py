"""``convcli seq`` and ``convcli multiply``: 1-D convolution and long multiplication.

Parse, one library call (:func:`convcli.learn.sequences.convolve_sequences`,
:func:`convcli.learn.sequences.multiply`), print plain numbers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import app, reports_errors
from .render import fmt_number


def _seq_number(value: float) -> str:
    """A result value: integers in full (below 2**53), others with 15 significant digits (they round-trip)."""
    return fmt_number(value, digits=15, nan="nan", exact_below=2**53)


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
        typer.Option("--pad", metavar="[full|same|valid]",
                     help="full: every overlap, len(A)+len(B)-1 values (long multiplication); same: "
                          "len(A) values; valid: only full overlaps."),
    ] = "full",
    method: Annotated[
        str, typer.Option("--method", metavar="[auto|direct|fft]", help="direct (the sum), fft, or auto (by size).")
    ] = "auto",
    lines: Annotated[
        bool, typer.Option("--lines", help="Print one number per line (for pipelines) instead of one line.")
    ] = False,
) -> None:
    """Convolve two number sequences (1-D, true convolution: the second is flipped, as in long multiplication).

    Long multiplication is a convolution: the digits of 42 and 137, units first, are (2, 4) and (7, 3, 1).

    Their convolution (14, 34, 14, 4) carried is 14 + 340 + 1400 + 4000 = 5754 = 42 x 137 (see convcli multiply).

    With a box kernel it is a moving average. Results print on one line, space separated.

    Examples:

      convcli seq "2,4" "7,3,1"                  # prints 14 34 14 4

      seq 1 100 | convcli seq - -k box:size=5 --pad valid

      convcli seq prices.txt -k "0.25 0.5 0.25" --pad same --lines

      convcli seq -- "-1,2" "3,4"                # a leading - needs -- first
    """
    from ..learn.sequences import convolve_sequences

    stdin = typer.get_text_stream("stdin").read() if "-" in (a, b) else None
    result = convolve_sequences(a, b, kernel=kernel, pad=pad, method=method, stdin=stdin)
    typer.echo(("\n" if lines else " ").join(_seq_number(v) for v in result))


@app.command("multiply")
@reports_errors
def multiply_command(
    a: Annotated[
        str,
        typer.Argument(metavar="A", show_default=False,
                       help="A non-negative integer in decimal, a file holding one (a path or @path) or - for "
                            "stdin."),
    ],
    b: Annotated[
        str,
        typer.Argument(metavar="B", show_default=False, help="The other factor, in the same forms."),
    ],
) -> None:
    """Multiply two non-negative integers exactly, by FFT convolution of their digits plus carrying.

    For example, 42 x 137 convolves the digit sequences (2, 4) and (7, 3, 1) to (14, 34, 14, 4) and carries: 5754.

    The digits are grouped into limbs and convolved with a float64 FFT, O(n log n).

    Exact at any size: the limbs shrink as the numbers grow, so the FFT's rounding error provably stays below 1/4.

    Percival's bound gives 4-digit limbs up to about 390,000 digits per factor, 3-digit limbs up to about 22 million.

    It gives 2-digit limbs up to about 1.1 billion digits (memory permitting).

    Every product is also checked: each coefficient within 1/4 of an integer, the result modulo 2^31-1.

    It beats CPython's int multiplication from about 30,000-50,000 digits on (7x faster at a million digits).

    Against str(int(a) * int(b)), which also converts to and from decimal, it wins from a few thousand digits.

    (Measured on the benchmark machine with benchmarks/bench_multiply.py.)

    Files may wrap the digits over several lines.

    Examples:

      convcli multiply 42 137                    # prints 5754

      convcli multiply @a.txt @b.txt > product.txt

      echo 42 | convcli multiply - 137           # prints 5754

      python -c "print('9' * 100000)" > nines.txt
      convcli multiply nines.txt nines.txt | wc -c
    """
    from ..errors import UsageError
    from ..learn.sequences import load_number, multiply

    if a == b == "-":
        raise UsageError("only one of A and B can come from stdin (-)")
    stdin = typer.get_text_stream("stdin").read() if "-" in (a, b) else None
    typer.echo(multiply(load_number(a, name="A", stdin=stdin), load_number(b, name="B", stdin=stdin)))


