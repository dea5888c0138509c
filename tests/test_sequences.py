"""1-D convolution of sequences and exact multiplication (seed 004).

References: the long-multiplication loop of tests/reference.py, SciPy's
``signal.convolve`` and ``ndimage.convolve1d``, convcli's 2-D engine on one-row
arrays, Python's ints (small and medium sizes), and the standard library's
``decimal`` (libmpdec, exact at any precision) plus residues of Python ints for
a million digits, where CPython 3.11's quadratic int<->str conversions would
take minutes.
"""

from __future__ import annotations

import decimal
import random
import re
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as sig

import convcli
from convcli.errors import KernelError, ParameterError, ShapeError
from convcli.kernels import kernel
from convcli.learn import sequences
from convcli.learn.sequences import (
    EXACT_DIGITS,
    choose_method1d,
    convolve1d,
    fft_error_bound,
    kernel_1d,
    limb_digits,
    multiply,
    parse_sequence,
)
from tests.reference import ref_convolve_full_1d

# --- convolve1d ----------------------------------------------------------------------------


def test_seed_004_example():
    for method in ("direct", "fft", "auto"):
        np.testing.assert_array_equal(convolve1d([2, 4], [7, 3, 1], method=method), [14, 34, 14, 4])


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("seed", range(10))
def test_full_matches_long_multiplication(method, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-9, 10, size=int(rng.integers(1, 60)))
    b = rng.integers(-9, 10, size=int(rng.integers(1, 60)))
    expected = ref_convolve_full_1d(a.tolist(), b.tolist())
    np.testing.assert_array_equal(convolve1d(a, b, method=method), expected)  # exact for integers


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("pad", ["full", "same", "valid"])
def test_pads_against_scipy_and_the_engine(method, pad):
    rng = np.random.default_rng(1)
    for n, m in [(50, 7), (40, 4), (9, 9), (300, 200), (5, 1)]:
        a, b = rng.normal(size=n), rng.normal(size=m)
        ours = convolve1d(a, b, pad=pad, method=method)
        # the 2-D engine on one-row arrays, zero border: an independent implementation of every pad
        engine = convcli.convolve(a[None], b[None], pad=pad, border="constant", method="direct")[0]
        np.testing.assert_allclose(ours, engine, rtol=1e-10, atol=1e-10)
        if pad != "same":
            np.testing.assert_allclose(ours, sig.convolve(a, b, mode=pad, method="direct"), rtol=1e-10, atol=1e-10)
        elif m % 2:
            expected = ndi.convolve1d(a, b, mode="constant")  # odd kernels: centred, the same in every library
            np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


def test_same_with_an_even_kernel_puts_tap_m_over_2_on_each_sample():
    # full = [1, 3, 6, 10, 14, 12, 9, 5]: same starts at m // 2 = 2 (numpy's mode="same" starts at 1)
    np.testing.assert_array_equal(convolve1d([1, 2, 3, 4, 5], [1, 1, 1, 1], pad="same"), [6, 10, 14, 12, 9])
    assert np.convolve([1, 2, 3, 4, 5], [1, 1, 1, 1], "same").tolist() == [3, 6, 10, 14, 12]


def test_fft_rounds_integer_inputs_to_exact_integers():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 1000, size=3000), rng.integers(0, 1000, size=2500)
    ours = convolve1d(a, b, method="fft")
    np.testing.assert_array_equal(ours, np.convolve(a, b))  # int64: exact
    floats = convolve1d(a + 0.5, b, method="fft")  # not integers: not rounded
    assert not np.array_equal(floats, np.round(floats))


def test_auto_chooses_by_size():
    assert choose_method1d(10, 3) == "direct"
    assert choose_method1d(100_000, 1_000) == "fft"
    assert choose_method1d(1_000, 1_000) == "fft"
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=20_000), rng.normal(size=2_000)
    np.testing.assert_allclose(convolve1d(a, b), np.convolve(a, b), rtol=1e-9, atol=1e-9)


def test_the_kernel_is_flipped():
    np.testing.assert_array_equal(convolve1d([0, 1, 0, 0], [1, 2, 3], pad="same"), [1, 2, 3, 0])


def test_inputs_are_not_modified():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0])
    convolve1d(a, b, pad="same", method="fft")
    assert a.tolist() == [1, 2, 3] and b.tolist() == [1, -1]


def test_convolve1d_errors():
    with pytest.raises(ParameterError, match="sequence a is empty; give at least one number"):
        convolve1d([], [1])
    with pytest.raises(ParameterError, match=r"sequence b holds nan at item 2; every value must be a finite number"):
        convolve1d([1], [1, float("nan")])
    with pytest.raises(ParameterError, match=r"sequence a must be 1-D, got shape \(2, 2\)"):
        convolve1d([[1, 2], [3, 4]], [1])
    with pytest.raises(ParameterError, match="pad must be one of full, same, valid, got 'wrap'"):
        convolve1d([1], [1], pad="wrap")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="unknown method 'separable'; use one of auto, direct, fft"):
        convolve1d([1], [1], method="separable")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"the kernel \(3 values\) is longer than the sequence \(2\)"):
        convolve1d([1, 2], [1, 2, 3], pad="valid")


def test_parse_sequence():
    np.testing.assert_array_equal(parse_sequence("2,4"), [2, 4])
    np.testing.assert_array_equal(parse_sequence(" 7 3 1 "), [7, 3, 1])
    np.testing.assert_array_equal(parse_sequence("1\n2\n\n# a comment\n3, 4  # two\n-5e-1\n"), [1, 2, 3, 4, -0.5])
    with pytest.raises(ParameterError, match=r"^data.txt: 'x' \(line 2, item 1\) is not a number; write numbers"):
        parse_sequence("1\nx\n", source="data.txt")
    with pytest.raises(ParameterError, match=r"'\(nothing\)' \(line 1, item 2\) is not a number"):
        parse_sequence("1,,2")
    with pytest.raises(ParameterError, match=r"'inf' \(line 1, item 1\) is not a finite number"):
        parse_sequence("inf")
    with pytest.raises(ParameterError, match="sequence A holds no numbers; give them comma separated"):
        parse_sequence("# nothing\n", source="sequence A")


def test_kernel_1d():
    np.testing.assert_allclose(kernel_1d(kernel("box:size=5").matrix), [0.2] * 5, rtol=1e-15)
    x = np.arange(-8, 9)
    g = np.exp(-(x**2) / 8.0)
    np.testing.assert_allclose(kernel_1d(kernel("gaussian:sigma=2").matrix), g / g.sum(), rtol=1e-12)
    np.testing.assert_array_equal(kernel_1d(kernel("1 2 1").matrix), [1, 2, 1])
    np.testing.assert_array_equal(kernel_1d([[1], [-1]]), [1, -1])
    np.testing.assert_array_equal(kernel_1d([[1, 2, 1], [2, 4, 2], [1, 2, 1]]), [1, 2, 1])
    for spec in ("sobel:axis=x", "laplacian", "box:size=3x5"):
        with pytest.raises(KernelError, match=f"kernel '{re.escape(spec)}' is .* and not v times v\\^T"):
            kernel_1d(kernel(spec).matrix, spec=spec)
    with pytest.raises(KernelError, match="not v times v"):
        kernel_1d(-kernel("box:size=3").matrix)


# --- multiply --------------------------------------------------------------------------------


def digits(rng: random.Random, n: int) -> str:
    return rng.choice("123456789") + "".join(rng.choices("0123456789", k=n - 1))


def test_multiply_seed_004():
    assert multiply("42", "137") == "5754"


def test_multiply_small_numbers_against_python_ints():
    rng = random.Random(4)
    cases = [("0", "0"), ("0", "123"), ("1", "1"), ("007", "0003"), ("9", "9"), ("10", "10")]
    for _ in range(400):
        la, lb = rng.randint(1, 120), rng.randint(1, 120)
        a = "9" * la if rng.random() < 0.25 else digits(rng, la)
        b = "9" * lb if rng.random() < 0.25 else digits(rng, lb)
        cases.append((a, b))
    for k in range(1, 40):  # carries that ripple over long runs of 9s
        cases.append(("9" * k, "1" + "0" * k))
        cases.append(("1" + "0" * k, "9" * k + "1"))
    for a, b in cases:
        assert multiply(a, b) == str(int(a) * int(b)), (a, b)
    assert multiply(" 12\n", "\t3 ") == "36"


@pytest.mark.parametrize(("la", "lb"), [(10_000, 10_000), (30_000, 7), (1, 40_000), (20_000, 50_000)])
def test_multiply_medium_numbers_against_python_ints(la, lb):
    rng = random.Random(la + lb)
    a, b = digits(rng, la), digits(rng, lb)
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert multiply(a, b) == str(int(a) * int(b))
    finally:
        sys.set_int_max_str_digits(old)


def residue(text: str, modulus: int) -> int:
    """The number's residue from 9-digit chunks (Horner's rule on small Python ints)."""
    value = 0
    head = len(text) % 9
    if head:
        value = int(text[:head]) % modulus
    for start in range(head, len(text), 9):
        value = (value * 1_000_000_000 + int(text[start : start + 9])) % modulus
    return value


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["random", "nines"])
def test_multiply_a_million_digits(kind):
    """A million digits each (3-digit limbs): against libmpdec and against residues of Python ints."""
    rng = random.Random(20261122)
    n = 1_000_000
    a = digits(rng, n)
    b = digits(rng, n) if kind == "random" else "9" * n  # all 9s: the largest coefficients
    ours = multiply(a, b)
    context = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    assert ours == str(context.multiply(decimal.Decimal(a), decimal.Decimal(b)))
    for modulus in (2**61 - 1, 10**9 + 7, 2**89 - 1):
        assert residue(ours, modulus) == residue(a, modulus) * residue(b, modulus) % modulus


def test_limb_size_shrinks_as_numbers_grow():
    assert limb_digits(2, 3) == 6
    assert limb_digits(1_000, 1_000) == 5
    assert limb_digits(100_000, 100_000) == 4
    assert limb_digits(1_000_000, 1_000_000) == 3
    assert limb_digits(100_000_000, 100_000_000) == 2
    # the documented table is the computed one
    assert EXACT_DIGITS == {6: 168, 5: 7_275, 4: 390_024, 3: 22_031_913, 2: 1_159_806_258}
    for digits_per_limb, longest in EXACT_DIGITS.items():
        assert limb_digits(longest, longest) >= digits_per_limb
        assert limb_digits(longest + longest // 10 + 10, longest + longest // 10 + 10) < digits_per_limb


def test_error_bound():
    # Percival: ||a|| ||b|| ((1+e)^6k (1+sqrt(5) e)^(3k+1) - 1) ~ ||a|| ||b|| e (6k + (3k+1) sqrt(5)), k = log2(N)
    bound = fft_error_bound(1e6, 1e6, 2**20)
    assert bound == pytest.approx(1e12 * 2.0**-53 * (6 * 20 + 61 * np.sqrt(5)), rel=1e-6)
    assert fft_error_bound(1.0, 1.0, 1000) < fft_error_bound(1.0, 1.0, 2000)


def test_a_wrong_coefficient_is_caught_and_retried(monkeypatch):
    """Push one coefficient off by exactly 1 (invisible to the rounding check): the residue check catches it."""
    real = np.fft.irfft
    calls = []

    def faulty(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            out[3] += 1.0
        return out

    monkeypatch.setattr(sequences.np.fft, "irfft", faulty)
    a, b = "987654321987654321987654321", "123456789123456789123456789"
    assert multiply(a, b) == str(int(a) * int(b))
    assert len(calls) == 2


def test_a_rounding_error_is_caught_and_retried(monkeypatch):
    real = np.fft.irfft
    calls = []

    def noisy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            out[0] += 0.3
        return out

    monkeypatch.setattr(sequences.np.fft, "irfft", noisy)
    assert multiply("123456789", "987654321") == str(123456789 * 987654321)
    assert len(calls) == 2


def test_multiply_errors():
    with pytest.raises(ParameterError, match=r"^b is not a non-negative decimal integer: '-' at position 1; "
                                             r"only the digits 0-9 are allowed \(negative numbers are not supported\)"):
        multiply("12", "-3")
    with pytest.raises(ParameterError, match=r"^a is not a non-negative decimal integer: '\.' at position 2"):
        multiply("1.5", "2")
    with pytest.raises(ParameterError, match=r"^a is not a non-negative decimal integer: '٣' at position 1"):
        multiply("٣", "2")  # an Arabic-Indic digit: str.isdigit says yes, but it is not 0-9
    with pytest.raises(ParameterError, match=r"^b is empty; give a non-negative decimal integer such as 42"):
        multiply("1", "  ")
    with pytest.raises(TypeError, match="a must be a str of decimal digits, got int"):
        multiply(42, "1")  # type: ignore[arg-type]


