"""Exact long multiplication of non-negative decimal integers by FFT convolution of their limbs.

See :mod:`convcli.learn.sequences` for the exactness bound and the checks.

Examples
--------
>>> multiply("42", "137")
'5754'
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from ...engine import next_fast_len
from ...errors import ParameterError
from ._convolve import ERROR_LIMIT, fft_error_bound

__all__ = ["EXACT_DIGITS", "limb_digits", "multiply"]

#: the prime the product is checked against (any wrong coefficient changes the residue)
_CHECK_PRIME: Final = 2**31 - 1
#: the largest limb tried (``10**6`` squared times the length must stay far below 2**53)
_MAX_LIMB: Final = 6


def _bound(len_a: int, len_b: int, digits: int) -> float:
    """Percival's bound for multiplying numbers of these lengths with ``digits``-digit limbs."""
    n_a, n_b = -(-len_a // digits), -(-len_b // digits)
    top = 10.0**digits - 1
    size = next_fast_len(n_a + n_b - 1)
    return fft_error_bound(math.sqrt(n_a) * top, math.sqrt(n_b) * top, size)


def limb_digits(len_a: int, len_b: int) -> int:
    """Digits per limb for multiplying numbers of these lengths exactly.

    The largest ``L`` (at most 6) whose :func:`fft_error_bound` for all-9
    numbers of these lengths stays at most 1/4; see the module docstring.

    Parameters
    ----------
    len_a, len_b : int
        Numbers of decimal digits.

    Returns
    -------
    int

    Examples
    --------
    >>> limb_digits(2, 3), limb_digits(1000, 1000), limb_digits(100_000, 100_000), limb_digits(10**6, 10**6)
    (6, 5, 4, 3)
    """
    for digits in range(_MAX_LIMB, 1, -1):
        if _bound(len_a, len_b, digits) <= ERROR_LIMIT:
            return digits
    return 1


def _exact_up_to(digits: int) -> int:
    """The largest equal length (in digits) for which ``digits``-digit limbs keep the bound."""
    lo, hi = 1, 10**12
    while lo < hi:  # the largest n with bound(n, n) <= limit
        mid = (lo + hi + 1) // 2
        if _bound(mid, mid, digits) <= ERROR_LIMIT:
            lo = mid
        else:
            hi = mid - 1
    return lo


#: limb digits -> the longest equal-length factors (in digits) that limb size is proven exact for
EXACT_DIGITS: Final = {digits: _exact_up_to(digits) for digits in range(2, _MAX_LIMB + 1)}


def _digits(number: str, name: str) -> np.ndarray:
    """The decimal digits of ``number`` as uint8, most significant first."""
    if not isinstance(number, str):
        raise TypeError(f"{name} must be a str of decimal digits, got {type(number).__name__}")
    text = number.strip()
    if not text:
        raise ParameterError(f"{name} is empty; give a non-negative decimal integer such as 42")
    if not text.isascii():
        bad = next(i for i, ch in enumerate(text) if not ch.isascii())
        raise ParameterError(
            f"{name} is not a non-negative decimal integer: {text[bad]!r} at position {bad + 1}; "
            "only the digits 0-9 are allowed"
        )
    digits = np.frombuffer(text.encode("ascii"), dtype=np.uint8) - np.uint8(48)
    bad_at = np.flatnonzero(digits > 9)
    if bad_at.size:
        i = int(bad_at[0])
        hint = " (negative numbers are not supported)" if text[i] == "-" and i == 0 else ""
        raise ParameterError(
            f"{name} is not a non-negative decimal integer: {text[i]!r} at position {i + 1}; "
            f"only the digits 0-9 are allowed{hint}"
        )
    return digits


def _limbs(digits: np.ndarray, size: int) -> np.ndarray:
    """Limbs of ``size`` digits, least significant first, as float64."""
    padding = (-digits.size) % size
    padded = np.concatenate([np.zeros(padding, dtype=np.uint8), digits]) if padding else digits
    powers = 10 ** np.arange(size - 1, -1, -1, dtype=np.int64)
    return (padded.reshape(-1, size).astype(np.int64) @ powers)[::-1].astype(np.float64)


def _powers_mod(base: int, count: int, prime: int) -> np.ndarray:
    """``base**k mod prime`` for ``k < count`` (int64; products stay below 2**62)."""
    powers = np.ones(1, dtype=np.int64)
    step = base % prime
    while powers.size < count:
        powers = np.concatenate([powers, powers * step % prime])
        step = step * step % prime
    return powers[:count]


def _residue(values: np.ndarray, powers: np.ndarray, prime: int) -> int:
    """``sum values[k] * base**k mod prime`` for non-negative int64 values."""
    terms = (values % prime) * powers[: values.size] % prime
    return int(terms.sum() % prime)


def _carry(coefficients: np.ndarray, base: int) -> np.ndarray:
    """Carry non-negative int64 coefficients into limbs below ``base``, least significant first."""
    c = np.concatenate([coefficients, np.zeros(8, dtype=np.int64)])  # room for the carries out of the top
    while True:
        quotient = c // base
        if not quotient.any():
            return c
        c -= quotient * base
        c[1:] += quotient[:-1]
        if int(quotient.max()) < base:
            break  # every limb is now at most 2*base - 2: the last carries are 0 or 1, but may ripple
    # carry-lookahead: a limb passes a carry on when it is >= base (generates one) or == base - 1 and
    # receives one; the carry out of limb j is "generates" at the last limb <= j that does not just pass one on
    generate = c >= base
    passes = c == base - 1
    index = np.arange(c.size)
    last = np.maximum.accumulate(np.where(passes, -1, index))
    carry_out = np.where(last >= 0, generate[np.maximum(last, 0)], False)
    c[1:] += carry_out[:-1]
    c -= base * carry_out
    return c


def _to_text(limbs: np.ndarray, size: int) -> str:
    """Decimal text of limbs (least significant first), without leading zeros."""
    powers = 10 ** np.arange(size - 1, -1, -1, dtype=np.int64)
    digits = (limbs[::-1, None] // powers[None, :]) % 10
    text = (digits.astype(np.uint8).ravel() + np.uint8(48)).tobytes().decode("ascii").lstrip("0")
    return text or "0"


def _multiply_with(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray | None:
    """The product's limbs with ``size``-digit limbs, or None if a check failed."""
    base = 10**size
    la, lb = _limbs(a, size), _limbs(b, size)
    length = la.size + lb.size - 1
    n = next_fast_len(length)
    raw = np.fft.irfft(np.fft.rfft(la, n) * np.fft.rfft(lb, n), n)[:length]
    rounded = np.rint(raw)
    if raw.size and float(np.max(np.abs(raw - rounded))) >= ERROR_LIMIT:
        return None
    coefficients = rounded.astype(np.int64)
    powers = _powers_mod(base, length, _CHECK_PRIME)
    expect = _residue(la.astype(np.int64), powers, _CHECK_PRIME) * _residue(lb.astype(np.int64), powers, _CHECK_PRIME)
    if _residue(coefficients, powers, _CHECK_PRIME) != expect % _CHECK_PRIME:
        return None
    return _carry(coefficients, base)


def multiply(a: str, b: str) -> str:
    """The exact product of two non-negative decimal integers, by FFT convolution of their digits.

    The digits are grouped into limbs (:func:`limb_digits` chooses their size
    so that the FFT's rounding is provably exact), the limb sequences are
    convolved with a float64 FFT and rounded, every coefficient is checked to
    be within 1/4 of an integer and the whole product modulo ``2**31 - 1``,
    then carries are propagated.  See the module docstring for the bound.

    Parameters
    ----------
    a, b : str
        Decimal digits only (surrounding whitespace is ignored); leading
        zeros are allowed.

    Returns
    -------
    str
        The product in decimal, without leading zeros (``"0"`` for zero).

    Raises
    ------
    ParameterError
        If a number is empty or holds anything but the digits 0-9, naming
        the character and its position.
    TypeError
        If a number is not a str.

    Examples
    --------
    >>> multiply("42", "137")
    '5754'
    >>> multiply("99999999999999999999", "99999999999999999999")
    '9999999999999999999800000000000000000001'
    >>> multiply("000", "12")
    '0'
    >>> multiply("12", "-3")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: b is not a non-negative decimal integer: '-' at position 1; ...
    """
    da, db = _digits(a, "a"), _digits(b, "b")
    da = da[np.argmax(da != 0) :] if da.any() else da[:0]
    db = db[np.argmax(db != 0) :] if db.any() else db[:0]
    if da.size == 0 or db.size == 0:
        return "0"
    for size in range(limb_digits(da.size, db.size), 0, -1):
        limbs = _multiply_with(da, db, size)
        if limbs is not None:
            return _to_text(limbs, size)
    raise ArithmeticError(  # pragma: no cover - the bound makes this unreachable
        f"the FFT product of a {da.size}-digit and a {db.size}-digit number failed its exactness checks"
    )
