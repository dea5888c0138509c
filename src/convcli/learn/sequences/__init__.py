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

=============== ===============================================================
module          owns
=============== ===============================================================
``_convolve``   1-D convolution (direct, FFT), :func:`parse_sequence`, :func:`kernel_1d`
``_multiply``   exact long multiplication, limbs and their exactness bound
``inputs``      sequences and numbers as users give them: inline, files, stdin
=============== ===============================================================

Examples
--------
>>> convolve1d([2, 4], [7, 3, 1])
array([14., 34., 14.,  4.])
>>> multiply("42", "137")
'5754'
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (tests patch ``sequences.np.fft``)

from ._convolve import (
    METHODS,
    PADS,
    Method1D,
    Pad1D,
    choose_method1d,
    convolve1d,
    fft_error_bound,
    kernel_1d,
    parse_sequence,
)
from ._multiply import EXACT_DIGITS, limb_digits, multiply
from .inputs import convolve_sequences, load_number, load_sequence

__all__ = [
    "EXACT_DIGITS",
    "METHODS",
    "PADS",
    "Method1D",
    "Pad1D",
    "choose_method1d",
    "convolve1d",
    "convolve_sequences",
    "fft_error_bound",
    "kernel_1d",
    "limb_digits",
    "load_number",
    "load_sequence",
    "multiply",
    "parse_sequence",
]
