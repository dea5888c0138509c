"""1-D convolution of number sequences: direct or through a float64 FFT (seed 004).

Examples
--------
>>> convolve1d([1, 2, 3], [1, 1], pad="same")
array([3., 5., 3.])
"""

from __future__ import annotations

import math
from typing import Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from ...engine import next_fast_len
from ...errors import KernelError, ParameterError, ShapeError
from ...kernels import parse_number, split_values

__all__ = [
    "ERROR_LIMIT",
    "METHODS",
    "PADS",
    "Method1D",
    "Pad1D",
    "choose_method1d",
    "convolve1d",
    "fft_error_bound",
    "kernel_1d",
    "parse_sequence",
]

Pad1D: TypeAlias = Literal["full", "same", "valid"]
Method1D: TypeAlias = Literal["auto", "direct", "fft"]
PADS: Final = ("full", "same", "valid")

_EPS: Final = 2.0**-53
#: the FFT's rounding error must stay below this for rounding to be exact
ERROR_LIMIT: Final = 0.25


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
        if bound <= ERROR_LIMIT:
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
        not 1-D or holds NaN/inf; or a result beyond float64's range
        (``[1e308, 1e308]`` and ``[10]``), never returned as ``inf``.
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
    with np.errstate(over="ignore", invalid="ignore"):
        full = _METHODS[chosen](x, k)
    if pad == "full":
        out = full
    elif pad == "same":
        out = full[m // 2 : m // 2 + n].copy()
    else:
        out = full[m - 1 : n].copy()
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:  # finite inputs: a sum beyond float64's range
        raise ParameterError(
            f"the convolution overflows float64 (beyond ±{np.finfo(np.float64).max:.3g}) at item {int(bad[0]) + 1}; "
            "scale the sequences down (e.g. divide by 1e300) and the result back up"
        )
    return out


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
        for item, token in enumerate(split_values(content), start=1):
            value = parse_number(token)
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
