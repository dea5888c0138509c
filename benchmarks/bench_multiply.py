"""Exact multiplication: convcli.learn.multiply (FFT convolution of digit limbs) against CPython.

Run:  python benchmarks/bench_multiply.py [--repeats 5] [--max-digits 1000000] [--out benchmarks/results/multiply.md]

What is compared, for two random n-digit numbers:

* ``convcli``: ``convcli.learn.multiply(a, b)``, decimal text in, decimal text out
  (parsing, FFT convolution, the exactness checks and carrying all included);
* ``int *``: CPython's ``x * y`` on ints built beforehand -- the multiplication
  alone (Karatsuba), *no* conversion.  convcli pays for its conversions here, so
  this comparison is biased towards CPython;
* ``str(int*int)``: ``str(int(a) * int(b))``, the same job as convcli (text in,
  text out).  CPython 3.11's int<->str conversions are quadratic, so this is
  only timed up to ``--max-convert`` digits (default 200,000);
* ``decimal``: ``str(Decimal(a) * Decimal(b))`` with unlimited precision
  (libmpdec: Karatsuba and number-theoretic transforms, linear conversions),
  the standard library's other exact multiplication, also text in, text out.

Runs are interleaved (see ``common.interleaved``); the table reports medians and
the ratio other/convcli (above 1: convcli is faster).  Every size is checked:
all competitors must give the same digits.
"""

from __future__ import annotations

import argparse
import decimal
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convcli.learn
from common import environment, interleaved, table

SIZES = (10, 100, 1_000, 3_000, 10_000, 30_000, 50_000, 70_000, 100_000, 300_000, 1_000_000, 3_000_000)


def random_digits(rng: random.Random, n: int) -> str:
    first = rng.choice("123456789")
    return first + "".join(rng.choices("0123456789", k=n - 1))


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def ratio(other: float | None, ours: float) -> str:
    return "-" if other is None else f"{other / ours:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per competitor (fewer above 100k digits)")
    parser.add_argument("--max-digits", type=int, default=1_000_000)
    parser.add_argument("--max-convert", type=int, default=200_000,
                        help="largest size for str(int(a) * int(b)) (CPython's conversions are quadratic)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    sys.set_int_max_str_digits(0)
    context = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    rng = random.Random(20261122)
    rows: list[list[str]] = []
    crossover_mul = crossover_str = None
    for n in (s for s in SIZES if s <= args.max_digits):
        a, b = random_digits(rng, n), random_digits(rng, n)
        x, y = int(a), int(b)
        ours = convcli.learn.multiply(a, b)
        reference = str(context.multiply(decimal.Decimal(a), decimal.Decimal(b)))
        assert ours == reference, f"convcli.learn.multiply disagrees with decimal at {n} digits"
        cases = {
            "convcli": lambda a=a, b=b: convcli.learn.multiply(a, b),
            "int": lambda x=x, y=y: x * y,
            "decimal": lambda a=a, b=b: str(context.multiply(decimal.Decimal(a), decimal.Decimal(b))),
        }
        if n <= args.max_convert:
            assert str(x * y) == ours
            cases["str"] = lambda a=a, b=b: str(int(a) * int(b))
        repeats = args.repeats if n <= 100_000 else max(1, args.repeats // 2)
        # many tiny runs per sample so that timer resolution does not matter
        inner = max(1, 2000 // n) if n < 2000 else 1
        timed = {name: (lambda f=f, inner=inner: [f() for _ in range(inner)]) for name, f in cases.items()}
        medians = {name: t / inner for name, t in interleaved(timed, repeats).items()}
        ours_t = medians["convcli"]
        if crossover_mul is None and medians["int"] > ours_t:
            crossover_mul = n
        if crossover_str is None and medians.get("str", 0.0) > ours_t:
            crossover_str = n
        rows.append([
            f"{n:,}",
            fmt(ours_t),
            fmt(medians["int"]), ratio(medians["int"], ours_t),
            fmt(medians.get("str")), ratio(medians.get("str"), ours_t),
            fmt(medians["decimal"]), ratio(medians["decimal"], ours_t),
        ])
        print(f"{n:>9,} digits: " + ", ".join(f"{k} {fmt(v)}" for k, v in medians.items()), file=sys.stderr)
    header = ["digits (each)", "convcli.learn.multiply", "int * (no conversion)", "ratio", "str(int(a)*int(b))",
              "ratio", "decimal (text in/out)", "ratio"]
    lines = [
        "Exact multiplication of two random n-digit numbers, median of interleaved runs; "
        "ratio = other / convcli (above 1: convcli faster).",
        "",
        table(header, rows),
        "",
        f"convcli beats CPython's int multiplication alone (no conversions) from {crossover_mul or '-':,} digits on"
        if isinstance(crossover_mul, int) else "convcli did not beat CPython's int multiplication alone here",
        f"and str(int(a) * int(b)) (the same text-to-text job) from {crossover_str:,} digits on."
        if isinstance(crossover_str, int) else "",
        "",
        f"Machine: {environment()}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
