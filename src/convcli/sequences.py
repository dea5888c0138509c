"""1-D convolution of number sequences, and exact long multiplication by FFT (seed 004).

Multiplying two numbers digit by digit *is* a convolution: for 42 x 137, the
digit sequences (2, 4) and (7, 3, 1) (units first) convolve to (14, 34, 14, 4),
and carrying turns that into 14 + 340 + 1400 + 4000 = 5754.  A convolution can
be computed with the FFT in ``O(n log n)`` instead of ``O(n^2)``, which is how
very long numbers are multiplied.

:func:`convolve1d` convolves two sequences (true convolution: the second is
flipped, as in long multiplication), directly or through the FFT.
:func:`multiply` multiplies non-negative decimal integers exactly:

1. split each number into *limbs* of ``L`` decimal digits (base ``B = 10**L``,
   least significant first);
2. convolve the limb sequences with a float64 real FFT and round every
   coefficient to the nearest integer;
3. carry: keep each coefficient's remainder modulo ``B`` and add the quotient
   to the next one.

**Exactness.**  A coefficient is at most ``min(n_a, n_b) * (B - 1)**2`` (far
below 2**53), but the FFT's rounding error grows with the size.  Percival's
bound (2003) for an FFT of length ``N = 2**k`` is
``|error| < ||a|| * ||b|| * ((1+e)**3k (1+e*sqrt(5))**(3k+1) (1+b)**3k - 1)``,
about ``||a|| ||b|| * 12.7 * k * e`` with ``e = 2**-53`` and twiddle error
``b = e``; with ``||a|| <= sqrt(n_a) * (B - 1)`` that is
``sqrt(n_a * n_b) * (B - 1)**2 * 12.7 * log2(N) * 2**-53``.  :func:`limb_digits`
picks the largest ``L`` for which this stays at most 1/4, so rounding to the
nearest integer is exact; in practice the error is far smaller.  For two
numbers of equal length that is (see :data:`EXACT_DIGITS`):

=====  =====================================
L      up to (digits of each factor)
=====  =====================================
6      168
5      7,275
4      390,024
3      22,031,913
2      1,159,806,258 (beyond this machine's memory)
=====  =====================================

Because NumPy's FFT uses mixed radices and a real transform rather than the
textbook radix-2 one the bound is proven for, every product is also *checked*:
each coefficient must lie within 1/4 of an integer, and the result must match
``a * b`` modulo the prime ``2**31 - 1`` (which catches any wrongly rounded
coefficient, as ``B**k`` is invertible modulo that prime).  A failed check
retries with shorter limbs; none has been seen.

Examples
--------
>>> convolve1d([2, 4], [7, 3, 1])
array([14., 34., 14.,  4.])
>>> multiply("42", "137")
'5754'
"""

from __future__ import annotations

import math
import re
from typing import Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from .engine._fft import next_fast_len
from .errors import KernelError, ParameterError, ShapeError

__all__ = [
    "EXACT_DIGITS",
    "METHODS",
    "Method1D",
    "Pad1D",
    "choose_method1d",
    "convolve1d",
    "fft_error_bound",
    "kernel_1d",
    "limb_digits",
    "multiply",
    "parse_sequence",
]

Pad1D: TypeAlias = Literal["full", "same", "valid"]
Method1D: TypeAlias = Literal["auto", "direct", "fft"]
PADS: Final = ("full", "same", "valid")

_EPS: Final = 2.0**-53
#: the prime the product is checked against (any wrong coefficient changes the residue)
_CHECK_PRIME: Final = 2**31 - 1
#: the largest limb tried (``10**6`` squared times the length must stay far below 2**53)
_MAX_LIMB: Final = 6
#: the FFT's rounding error must stay below this for rounding to be exact
_ERROR_LIMIT: Final = 0.25


# --- 1-D convolution -----------------------------------------------------------


def _direct(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full convolution by the definition, ``c[n] = sum_i a[i] * b[n - i]`` (NumPy's loop)."""
    return np.convolve(a, b)


def fft_error_bound(norm_a: float, norm_b: float, size: int) -> float:
    """Percival's bound on the error of a float64 FFT convolution of length ``size``.

    Parameters
    ----------
    norm_a, norm_b : float
        Euclidean norms of the two sequences.
    size : int
        The transform length; ``k = ceil(log2(size))`` levels.

    Returns
    -------
    float
        ``||a|| ||b|| ((1+e)**3k (1+e*sqrt(5))**(3k+1) (1+e)**3k - 1)``, ``e = 2**-53``.

    Examples
    --------
    >>> fft_error_bound(1.0, 1.0, 1024) < 1e-13
    True
    >>> round(fft_error_bound(1e6, 1e6, 2**20) / (1e12 * 20 * 2**-53), 1)  # about 12.7 k e ||a|| ||b||
    12.8
    """
    k = max(1, math.ceil(math.log2(max(size, 2))))
    growth = math.expm1(6 * k * math.log1p(_EPS) + (3 * k + 1) * math.log1p(math.sqrt(5) * _EPS))
    return norm_a * norm_b * growth


def _fft(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full convolution through a real FFT of a 5-smooth length.

    When both sequences hold integers and :func:`fft_error_bound` stays below
    1/4, the result is rounded to the exact integers.
    """
    length = a.size + b.size - 1
    size = next_fast_len(length)
    out = np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:length]
    if np.array_equal(a, np.round(a)) and np.array_equal(b, np.round(b)):
        bound = fft_error_bound(float(np.linalg.norm(a)), float(np.linalg.norm(b)), size)
        if bound <= _ERROR_LIMIT:
            out = np.round(out)
    return out


_METHODS = {"direct": _direct, "fft": _fft}
METHODS: Final = ("auto", *_METHODS)


def choose_method1d(n: int, m: int) -> str:
    """The method ``method="auto"`` uses for sequences of lengths ``n`` and ``m``.

    The direct sum costs about ``n*m`` multiply-adds, the FFT about
    ``25 * L * log2(L)`` of the same units for ``L = n + m - 1`` (measured on
    NumPy's ``convolve`` and ``rfft``), so the FFT wins once both sequences are
    longer than a few hundred values.

    Examples
    --------
    >>> choose_method1d(100, 5), choose_method1d(100_000, 1000)
    ('direct', 'fft')
    """
    length = n + m - 1
    return "fft" if n * m > 25 * length * math.log2(max(length, 2)) else "direct"


def _as_sequence(values: npt.ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"sequence {name} must hold numbers: {err}") from None
    if arr.ndim != 1:
        raise ParameterError(f"sequence {name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"sequence {name} is empty; give at least one number")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ParameterError(f"sequence {name} holds {arr[i]} at item {i + 1}; every value must be a finite number")
    return arr


def convolve1d(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    pad: Pad1D = "full",
    method: Method1D = "auto",
) -> np.ndarray:
    """True convolution of two number sequences: ``c[n] = sum_i a[i] * b[n - i]``.

    Parameters
    ----------
    a : array_like
        The sequence (a signal, or the digits of a number, units first).
    b : array_like
        The kernel (or the other number's digits).  It is flipped, as in
        long multiplication; for a symmetric kernel that makes no difference.
    pad : {"full", "same", "valid"}, optional
        ``full`` (default): every overlap, ``len(a) + len(b) - 1`` values, the
        implicit zero padding of seed 004.  ``same``: ``len(a)`` values, the
        kernel's tap ``len(b) // 2`` on each sample (convcli's
        :func:`~convcli.convolve` and ``scipy.ndimage.convolve1d`` with a
        zero border; NumPy's ``mode="same"`` uses ``(len(b) - 1) // 2``,
        which differs for even kernels).  ``valid``: only full overlaps,
        ``len(a) - len(b) + 1`` values.
    method : {"auto", "direct", "fft"}, optional
        ``direct`` sums by the definition; ``fft`` multiplies real FFTs (exact
        integers for integer inputs while :func:`fft_error_bound` allows);
        ``auto`` picks by :func:`choose_method1d`.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    ParameterError
        For an unknown ``pad`` or ``method``, or a sequence that is empty,
        not 1-D or holds NaN/inf.
    ShapeError
        For ``pad="valid"`` with a kernel longer than the sequence.

    Examples
    --------
    Seed 004: the digits of 42 and 137, units first, and 5754 = 14 + 340 + 1400 + 4000:

    >>> convolve1d([2, 4], [7, 3, 1])
    array([14., 34., 14.,  4.])
    >>> convolve1d([1, 2, 3, 4, 5], [1, 1, 1], pad="valid")  # a moving sum
    array([ 6.,  9., 12.])
    >>> convolve1d([1, 2, 3, 4, 5], [1, 1, 1], pad="same", method="fft")
    array([ 3.,  6.,  9., 12.,  9.])
    """
    x = _as_sequence(a, "a")
    k = _as_sequence(b, "b")
    if pad not in PADS:
        raise ParameterError(f"pad must be one of {', '.join(PADS)}, got {pad!r}")
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    n, m = x.size, k.size
    if pad == "valid" and m > n:
        raise ShapeError(
            f"pad='valid' keeps only full overlaps, but the kernel ({m} values) is longer than the "
            f"sequence ({n}); use pad='full' or 'same', or swap them"
        )
    chosen = choose_method1d(n, m) if method == "auto" else method
    full = _METHODS[chosen](x, k)
    if pad == "full":
        return full
    if pad == "same":
        start = m // 2
        return full[start : start + n].copy()
    return full[m - 1 : n].copy()


def parse_sequence(text: str, *, source: str = "sequence") -> np.ndarray:
    """Numbers separated by commas, spaces or newlines (one per line works too).

    Parameters
    ----------
    text : str
        E.g. ``"2,4"``, ``"7 3 1"`` or the lines of a file; ``#`` starts a comment.
    source : str, optional
        What the text is (``"sequence A"``, a file name), for messages.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    ParameterError
        Naming the line and item that is not a number, or an empty text.

    Examples
    --------
    >>> parse_sequence("2,4")
    array([2., 4.])
    >>> parse_sequence("1\\n2\\n3\\n")
    array([1., 2., 3.])
    >>> parse_sequence("1, x")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: sequence: 'x' (line 1, item 2) is not a number; write numbers like 2, -0.5 or 1e3
    """
    values: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        for item, token in enumerate(re.split(r"\s*,\s*|\s+", content), start=1):
            try:
                value = float(token) if token and "_" not in token else None
            except ValueError:
                value = None
            if value is None or not math.isfinite(value):
                shown = token if token else "(nothing)"
                raise ParameterError(
                    f"{source}: {shown!r} (line {number}, item {item}) is not a "
                    + ("finite number" if value is not None else "number")
                    + "; write numbers like 2, -0.5 or 1e3"
                )
            values.append(value)
    if not values:
        raise ParameterError(f"{source} holds no numbers; give them comma separated (2,4) or one per line")
    return np.array(values)


def kernel_1d(matrix: npt.ArrayLike, *, spec: str = "kernel") -> np.ndarray:
    """The 1-D kernel a kernel matrix stands for.

    A 1-row or 1-column matrix is used as it is.  A square matrix that is the
    outer product ``v v^T`` of one 1-D kernel with itself (``box:size=5``,
    ``gaussian:sigma=2``, ``"1 2 1; 2 4 2; 1 2 1"``) stands for ``v``, scaled so
    that ``v v^T`` is the matrix (``box:size=5`` gives five 1/5).

    Parameters
    ----------
    matrix : array_like
        A 2-D kernel matrix, e.g. :attr:`convcli.Kernel.matrix`.
    spec : str, optional
        How the user wrote the kernel, for messages.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    KernelError
        For any other 2-D kernel (Sobel, Laplacian, ...), which has no 1-D meaning.

    Examples
    --------
    >>> kernel_1d([[0.04] * 5] * 5)
    array([0.2, 0.2, 0.2, 0.2, 0.2])
    >>> kernel_1d([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    array([1., 2., 1.])
    >>> kernel_1d([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], spec="sobel")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: kernel 'sobel' is 3x3 and not v times v^T for a 1-D kernel v; ...
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        raise KernelError(f"kernel {spec!r} must be a non-empty 2-D matrix, got shape {m.shape}")
    if m.shape[0] == 1 or m.shape[1] == 1:
        return m.ravel().copy()
    h, w = m.shape
    if h == w:
        diag = np.diag(m)
        c = int(np.argmax(diag))
        if diag[c] > 0:
            v = m[c] / math.sqrt(float(diag[c]))
            scale = float(np.abs(m).max())
            if np.allclose(np.outer(v, v), m, rtol=1e-9, atol=1e-12 * scale):
                return v
    raise KernelError(
        f"kernel {spec!r} is {h}x{w} and not v times v^T for a 1-D kernel v; sequences need a 1-D kernel: "
        "a row like '1 2 1', box:size=1x5, or a symmetric separable kernel like box:size=5 or gaussian:sigma=2"
    )


# --- exact long multiplication -----------------------------------------------------


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
        if _bound(len_a, len_b, digits) <= _ERROR_LIMIT:
            return digits
    return 1


def _exact_up_to(digits: int) -> int:
    """The largest equal length (in digits) for which ``digits``-digit limbs keep the bound."""
    lo, hi = 1, 10**12
    while lo < hi:  # the largest n with bound(n, n) <= limit
        mid = (lo + hi + 1) // 2
        if _bound(mid, mid, digits) <= _ERROR_LIMIT:
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
    if raw.size and float(np.max(np.abs(raw - rounded))) >= _ERROR_LIMIT:
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
