"""Named kernels, inline matrices and kernel files behind one spec.

:func:`kernel` turns what a user typed after ``-k/--kernel`` into a
:class:`Kernel`.  A spec is one of:

1. a named kernel ``name[:key=value,...]`` (the grammar of :mod:`convcli.specs`),
   e.g. ``gaussian:sigma=2``, ``sobel:axis=y``, ``box:size=5x3``;
2. an inline matrix, rows separated by ``;`` and values by spaces or commas,
   e.g. ``"1 2 1; 0 0 0; -1 -2 -1"`` (or a JSON nested list ``"[[1, 2], [3, 4]]"``);
3. a kernel file: ``@path``, or anything containing a path separator or ending in
   a known extension (``.txt .csv .tsv .json .npy .mat``), read by
   :mod:`convcli.kernel_files`.

Kernels are applied by **correlation** (convcli's default, like OpenCV's
``filter2D``): ``out[y, x] = sum K[i, j] * in[y + i - ay, x + j - ax]`` with the
anchor ``(ay, ax)``.  Sign conventions below are stated for correlation;
``--flip`` (true convolution) rotates every kernel by 180°.

Named kernels (``r`` is a radius; a kernel of radius ``r`` is ``2r+1`` wide):

========== ================================= ==========================================================
name       parameters (defaults)             definition
========== ================================= ==========================================================
identity   size=1 (N or HxW)                 a single 1 at the default anchor ((H-1)//2, (W-1)//2)
box        size=3 (N or HxW)                 every value 1/(H*W): the mean
gaussian   sigma=1, sigma_y=sigma,           exp(-x²/2σx² - y²/2σy²) sampled at integer offsets,
           radius=int(4*sigma+0.5)           normalised to sum 1 (SciPy's ``gaussian_filter``, truncate=4)
sobel      axis=x (x, y, both), size=3       outer(smooth, deriv) as OpenCV ``getDerivKernels``; x is
           (3, 5, 7)                         [[-1,0,1],[-2,0,2],[-1,0,1]]: positive where intensity
                                             rises to the right; y positive where it rises downward
scharr     axis=x                            as sobel with smooth [3,10,3] (OpenCV ``Scharr``)
prewitt    axis=x                            as sobel with smooth [1,1,1]
laplacian  neighbors=4 (4 or 8)              [[0,1,0],[1,-4,1],[0,1,0]] or [[1,1,1],[1,-8,1],[1,1,1]]
log        sigma=1, radius=int(4*sigma+0.5)  (x²+y²-2σ²)/σ⁴ · G, G the normalised gaussian, minus its
                                             mean so that it sums to 0 (MATLAB ``fspecial('log')``);
                                             negative centre like the laplacian
dog        sigma1=1, sigma2=1.6*sigma1,      G(sigma1) - G(sigma2), both normalised on the common
           radius=int(4*max(σ1,σ2)+0.5)      radius: sums to 0, positive centre when sigma1 < sigma2
sharpen    amount=1                          identity + amount·(identity - box 3x3)
unsharp    amount=1, sigma=1, radius         identity + amount·(identity - gaussian(sigma, radius))
emboss     direction=se (n ne e se s sw w    1 at the centre plus dy·uy + dx·ux at offset (dy, dx), u the
           nw)                               direction's step: se is [[-2,-1,0],[-1,1,1],[0,1,2]]; sums to 1
motion     length=9, angle=0 (degrees,       a line of ``length`` pixels through the centre, each cell
           counter-clockwise from +x)        weighted max(0, 1 - distance to the line), normalised to sum 1
========== ================================= ==========================================================

``sobel/scharr/prewitt:axis=both`` is not one matrix but an **operator**: the
gradient magnitude ``hypot(gx, gy)`` of the two linear kernels, represented as
a :class:`Kernel` whose ``components`` are the two kernels and whose
``combine`` is ``"hypot"``.

Every kernel side is at most :data:`MAX_KERNEL_SIDE` (1025); larger requests
are refused before anything is allocated.

Examples
--------
>>> k = kernel("sobel:axis=x")
>>> k.matrix.tolist()
[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
>>> kernel("1 2 1; 2 4 2; 1 2 1", normalize=True).sum
1.0
>>> kernel("gaussian:sigma=2").shape
(17, 17)
>>> grad = kernel("sobel:axis=both")
>>> grad.combine, [c.spec for c in grad.components]
('hypot', ['sobel:axis=x,size=3', 'sobel:axis=y,size=3'])
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from .errors import KernelError, ParameterError
from .specs import Spec, closest, parse_spec, spec_float, spec_int, spec_int_pair

__all__ = [
    "FILE_EXTENSIONS",
    "MAX_KERNEL_SIDE",
    "Combine",
    "Kernel",
    "KernelParam",
    "NamedKernel",
    "kernel",
    "named_kernels",
]

#: The largest kernel side (rows or columns) convcli builds or accepts.
MAX_KERNEL_SIDE: Final = 1025
#: Extensions that make a spec a kernel file (compared case-insensitively).
FILE_EXTENSIONS: Final = (".txt", ".csv", ".tsv", ".json", ".npy", ".mat")

#: How an operator combines the responses of its components.
Combine: TypeAlias = Literal["hypot"]
FloatMatrix: TypeAlias = npt.NDArray[np.float64]

_MAX_RADIUS: Final = (MAX_KERNEL_SIDE - 1) // 2
_INLINE_EXAMPLE: Final = "'1 2 1; 0 0 0; -1 -2 -1'"
_VALUE_SPLIT: Final = re.compile(r"\s*,\s*|\s+")


# --- the Kernel type --------------------------------------------------------


@dataclass(frozen=True, eq=False, init=False, repr=False)
class Kernel:
    """A correlation kernel: a read-only matrix, its anchor and an offset, or an operator.

    A *linear* kernel is one matrix.  An *operator* (``sobel:axis=both``) is
    several linear kernels whose responses are combined non-linearly; build it
    with :meth:`Kernel.operator`.  Its ``matrix``, ``sum`` and ``rank`` raise
    :class:`~convcli.errors.KernelError`, so that code which forgets operators
    fails loudly instead of filtering with one component.

    Parameters
    ----------
    matrix : array_like
        2-D, real, finite, non-empty, at most :data:`MAX_KERNEL_SIDE` per side.
        Stored as a read-only float64 copy.
    anchor : tuple of int, optional
        ``(row, col)`` of the kernel cell aligned with the output pixel.
        ``None`` (the default) means the engine's default,
        ``((H - 1) // 2, (W - 1) // 2)``; see :attr:`effective_anchor`.
    offset : float, optional
        Added to every output value (from .mat and JSON files).  Default 0.
    spec : str, optional
        The text the kernel came from, used in messages.

    Attributes
    ----------
    matrix : ndarray of float64
        The kernel (read-only).  Raises for an operator.
    anchor : tuple of int or None
    offset : float
    spec : str
    components : tuple of Kernel
        An operator's linear kernels; empty for a linear kernel.
    combine : {"hypot"} or None
        How an operator combines its components' responses; ``None`` for a
        linear kernel.

    Raises
    ------
    KernelError
        If the matrix is not 2-D, empty, not real, holds NaN or inf (the row and
        column are named), is too large, or the anchor lies outside it.

    Examples
    --------
    >>> k = Kernel([[1, 2, 1]], spec="1 2 1")
    >>> k.shape, k.anchor, k.effective_anchor, k.sum
    ((1, 3), None, (0, 1), 4.0)
    >>> k.matrix.flags.writeable
    False
    >>> Kernel([[1, float("nan")]], spec="1 nan")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: kernel '1 nan' has nan at row 1, column 2; every value must be a finite number
    """

    anchor: tuple[int, int] | None
    offset: float
    spec: str
    components: tuple[Kernel, ...]
    combine: Combine | None
    _matrix: FloatMatrix | None = field(repr=False)

    def __init__(
        self,
        matrix: npt.ArrayLike,
        *,
        anchor: tuple[int, int] | None = None,
        offset: float = 0.0,
        spec: str = "",
    ) -> None:
        label = _label(spec)
        m = _as_matrix(matrix, label=label)
        offset = float(offset)
        if not math.isfinite(offset):
            raise KernelError(f"{label} has offset {offset!r}; the offset must be a finite number")
        if anchor is not None:
            anchor = _check_anchor(anchor, m.shape, label=label)
        object.__setattr__(self, "_matrix", m)
        object.__setattr__(self, "anchor", anchor)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "components", ())
        object.__setattr__(self, "combine", None)

    @classmethod
    def operator(cls, components: Sequence[Kernel], *, combine: Combine = "hypot", spec: str = "") -> Kernel:
        """An operator: the linear ``components`` filtered separately, responses combined.

        Parameters
        ----------
        components : sequence of Kernel
            At least two linear kernels of the same shape and anchor, no offset.
        combine : {"hypot"}
            ``"hypot"``: the root of the sum of the squared responses.
        spec : str, optional
            The text the operator came from.

        Examples
        --------
        >>> gx, gy = Kernel([[-1, 0, 1]]), Kernel([[-1], [0], [1]])
        >>> Kernel.operator([gx, gy])
        Traceback (most recent call last):
        ...
        convcli.errors.KernelError: operator 'hypot' needs components of one shape, got (1, 3) and (3, 1)
        >>> Kernel.operator([gx, Kernel([[1, 0, -1]])], spec="my-gradient").shape
        (1, 3)
        """
        if combine != "hypot":
            raise ValueError(f"combine must be 'hypot', got {combine!r}")
        parts = tuple(components)
        if len(parts) < 2 or any(not isinstance(p, Kernel) or p.is_operator for p in parts):
            raise ValueError("an operator needs at least two linear Kernel components")
        shapes = {p.shape for p in parts}
        if len(shapes) > 1:
            got = " and ".join(str(s) for s in sorted(shapes))
            raise KernelError(f"operator {spec or combine!r} needs components of one shape, got {got}")
        if len({p.anchor for p in parts}) > 1 or any(p.offset for p in parts):
            raise KernelError(f"operator {spec or combine!r} needs components with one anchor and no offset")
        obj = cls.__new__(cls)
        object.__setattr__(obj, "_matrix", None)
        object.__setattr__(obj, "anchor", parts[0].anchor)
        object.__setattr__(obj, "offset", 0.0)
        object.__setattr__(obj, "spec", spec)
        object.__setattr__(obj, "components", parts)
        object.__setattr__(obj, "combine", combine)
        return obj

    # -- shape and anchor ------------------------------------------------------

    @property
    def is_operator(self) -> bool:
        """Whether this is an operator (``components`` combined by ``combine``), not one matrix."""
        return self.combine is not None

    @property
    def matrix(self) -> FloatMatrix:
        """The read-only float64 matrix of a linear kernel.

        Raises
        ------
        KernelError
            For an operator, which has no single matrix: use ``components``.
        """
        if self._matrix is None:
            raise KernelError(self._operator_message("one matrix"))
        return self._matrix

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the kernel (of each component, for an operator)."""
        m = self.components[0].matrix if self._matrix is None else self._matrix
        return (int(m.shape[0]), int(m.shape[1]))

    @property
    def effective_anchor(self) -> tuple[int, int]:
        """The anchor, with ``None`` resolved to the engine's default ``((H-1)//2, (W-1)//2)``.

        Examples
        --------
        >>> kernel("box:size=4").effective_anchor
        (1, 1)
        """
        if self.anchor is not None:
            return self.anchor
        h, w = self.shape
        return ((h - 1) // 2, (w - 1) // 2)

    # -- properties of a linear kernel --------------------------------------

    @property
    def sum(self) -> float:
        """The exactly rounded sum of the matrix (:func:`math.fsum`).

        Examples
        --------
        >>> kernel("laplacian").sum
        0.0
        """
        return math.fsum(self.matrix.ravel().tolist())

    def rank(self, *, rtol: float = 1e-10) -> int:
        """The numerical rank: singular values above ``rtol`` times the largest one.

        Parameters
        ----------
        rtol : float, optional
            Tolerance relative to the matrix's spectral norm.  The default, 1e-10,
            means a separable evaluation reproduces the kernel to about 1e-10
            relative.

        Examples
        --------
        >>> kernel("gaussian:sigma=1.5").rank(), kernel("laplacian").rank(), kernel("0 0; 0 0").rank()
        (1, 2, 0)
        """
        singular = np.linalg.svd(self.matrix, compute_uv=False)
        top = float(singular[0])
        if top == 0.0:
            return 0
        return int(np.count_nonzero(singular > rtol * top))

    @property
    def separable(self) -> bool:
        """Whether the matrix has rank at most 1 (is an outer product of a column and a row).

        Examples
        --------
        >>> kernel("sobel:axis=y").separable, kernel("laplacian").separable
        (True, False)
        """
        return self.rank() <= 1

    def factors(self) -> tuple[FloatMatrix, FloatMatrix]:
        """The column and row vectors whose outer product is a separable kernel.

        Returns
        -------
        column, row : ndarray of float64
            1-D, of lengths H and W; the larger-magnitude entry of ``column``
            is positive.

        Raises
        ------
        KernelError
            If the kernel is not separable (rank above 1).

        Examples
        --------
        >>> col, row = kernel("sobel:axis=x").factors()
        >>> bool(np.allclose(np.outer(col, row), kernel("sobel:axis=x").matrix))
        True
        """
        m = self.matrix
        r = self.rank()
        if r > 1:
            raise KernelError(f"{_label(self.spec)} has rank {r}, so it is not a column times a row")
        h, w = m.shape
        if r == 0:
            return np.zeros(h), np.zeros(w)
        u, s, vt = np.linalg.svd(m)
        scale = math.sqrt(float(s[0]))
        column, row = u[:, 0] * scale, vt[0] * scale
        if column[np.argmax(np.abs(column))] < 0:
            column, row = -column, -row
        return column, row

    def normalized(self) -> Kernel:
        """The kernel divided by its sum (anchor and offset kept).

        Raises
        ------
        KernelError
            If the sum is 0 (relative to the sum of absolute values), or for an
            operator.

        Examples
        --------
        >>> kernel("1 2 1").normalized().matrix.tolist()
        [[0.25, 0.5, 0.25]]
        >>> kernel("1 -1").normalized()
        Traceback (most recent call last):
        ...
        convcli.errors.KernelError: kernel '1 -1' sums to 0, so --normalize cannot divide; drop --normalize
        """
        if self.is_operator:
            raise KernelError(self._operator_message("a sum to normalize by"))
        total = self.sum
        magnitude = math.fsum(np.abs(self.matrix).ravel().tolist())
        if abs(total) <= 1e-12 * magnitude:
            label = _label(self.spec)
            raise KernelError(f"{label} sums to 0, so --normalize cannot divide; drop --normalize")
        return Kernel(self.matrix / total, anchor=self.anchor, offset=self.offset, spec=self.spec)

    # -- operators -----------------------------------------------------------

    def combine_responses(self, responses: Sequence[np.ndarray]) -> np.ndarray:
        """Combine the responses of an operator's components (one per component, in order).

        The pipeline filters the image with each of ``components`` and hands
        the results here; ``"hypot"`` returns ``sqrt(sum(r**2))`` in the
        responses' dtype.

        Examples
        --------
        >>> op = kernel("sobel:axis=both")
        >>> op.combine_responses([np.array([3.0]), np.array([4.0])]).tolist()
        [5.0]
        """
        if not self.is_operator:
            raise ValueError(f"{_label(self.spec)} is a linear kernel, not an operator")
        if len(responses) != len(self.components):
            raise ValueError(f"expected {len(self.components)} responses, got {len(responses)}")
        result = np.asarray(responses[0])
        for response in responses[1:]:
            result = np.hypot(result, response)
        return result

    def _operator_message(self, what: str) -> str:
        parts = ", ".join(repr(c.spec) for c in self.components)
        return (
            f"{_label(self.spec)} is an operator ({self.combine} of {parts}), not {what}; "
            "filter with each of its components and combine the results"
        )

    def __repr__(self) -> str:
        if self.is_operator:
            return (f"Kernel.operator({self.spec!r}, combine={self.combine!r}, "
                    f"components={len(self.components)}, shape={self.shape})")
        return f"Kernel({self.spec!r}, shape={self.shape}, anchor={self.anchor}, offset={self.offset:g})"


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def _label(spec: str) -> str:
    return f"kernel {spec!r}" if spec else "kernel"


def _as_matrix(matrix: npt.ArrayLike, *, label: str) -> FloatMatrix:
    """Validate and copy ``matrix`` into a read-only float64 2-D array."""
    if isinstance(matrix, (list, tuple)) and matrix and all(isinstance(r, (list, tuple)) for r in matrix):
        lengths = [len(r) for r in matrix]
        for i, n in enumerate(lengths[1:], start=2):
            if n != lengths[0]:
                raise KernelError(
                    f"{label}: row {i} has {_count(n)} but row 1 has {lengths[0]}; "
                    "every row needs the same number of values"
                )
    try:
        raw = np.asarray(matrix)
    except ValueError as err:
        raise KernelError(f"{label} is not a rectangular matrix of numbers ({err})") from None
    if raw.dtype.kind not in "biuf":
        raise KernelError(f"{label} must hold real numbers, got dtype {raw.dtype}")
    if raw.ndim != 2:
        raise KernelError(f"{label} must be a 2-D matrix, got shape {raw.shape}")
    if raw.size == 0:
        raise KernelError(f"{label} is empty (shape {raw.shape}); give at least one value")
    if max(raw.shape) > MAX_KERNEL_SIDE:
        raise KernelError(
            f"{label} is {raw.shape[0]}x{raw.shape[1]}; the limit is {MAX_KERNEL_SIDE} per side"
        )
    m = np.array(raw, dtype=np.float64, copy=True)
    m += 0.0  # -0.0 becomes 0.0, so that matrices print and compare cleanly
    bad = ~np.isfinite(m)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        value = float(m[r, c])
        where = f"row {r + 1}, column {c + 1}"
        raise KernelError(f"{label} has {value} at {where}; every value must be a finite number")
    m.setflags(write=False)
    return m


def _check_anchor(anchor: Any, shape: tuple[int, ...], *, label: str) -> tuple[int, int]:
    ok = isinstance(anchor, (tuple, list)) and len(anchor) == 2 and all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in anchor
    )
    if not ok or not (0 <= anchor[0] < shape[0] and 0 <= anchor[1] < shape[1]):
        raise KernelError(
            f"{label} has anchor {anchor!r}; the anchor is [row, col] with 0 <= row < {shape[0]} "
            f"and 0 <= col < {shape[1]}"
        )
    return (int(anchor[0]), int(anchor[1]))


# --- the spec entry point ---------------------------------------------------


def kernel(spec: str | os.PathLike[str] | Kernel | npt.ArrayLike, *, normalize: bool = False) -> Kernel:
    """The kernel a spec names: a named kernel, an inline matrix, a file or an array.

    Parameters
    ----------
    spec : str, path, Kernel or array_like
        ``name[:key=value,...]`` (see :func:`named_kernels`), an inline matrix
        ``"1 2 1; 0 0 0; -1 -2 -1"`` (or ``"[[1, 2], [3, 4]]"``), a file
        (``@path``, a path containing a separator, or a name ending in
        ``.txt .csv .tsv .json .npy .mat``), a :class:`os.PathLike`, a
        :class:`Kernel` or a 2-D array (a 1-D array is one row).
    normalize : bool, optional
        Divide the kernel by its sum (refused when the sum is 0).

    Returns
    -------
    Kernel

    Raises
    ------
    KernelError
        Unknown name (the closest is suggested), bad inline matrix, NaN/inf
        (row and column named), empty or ragged matrix, a zero-sum kernel with
        ``normalize``; :class:`~convcli.errors.KernelFileError` for files.
    ParameterError
        An unknown key (the valid ones are listed) or a value that is not a
        number or out of range.

    Examples
    --------
    >>> kernel("box:size=2x3").matrix.round(4).tolist()
    [[0.1667, 0.1667, 0.1667], [0.1667, 0.1667, 0.1667]]
    >>> kernel("1, 2, 1").shape
    (1, 3)
    >>> kernel("sobel:axis=z")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: axis must be one of x, y, both in 'sobel:axis=z', got 'z'
    """
    result = _resolve(spec)
    return result.normalized() if normalize else result


def _resolve(spec: str | os.PathLike[str] | Kernel | npt.ArrayLike) -> Kernel:
    if isinstance(spec, Kernel):
        return spec
    if isinstance(spec, os.PathLike):
        from .kernel_files import load_kernel_file

        return load_kernel_file(spec)
    if not isinstance(spec, str):
        raw: Any = spec
        if isinstance(raw, np.ndarray) and raw.ndim == 1:
            raw = raw[np.newaxis, :]
        elif isinstance(raw, (list, tuple)) and raw and not any(isinstance(r, (list, tuple)) for r in raw):
            raw = [list(raw)]
        return Kernel(raw, spec="<array>")
    text = spec.strip()
    if not text:
        raise KernelError(
            f"the kernel spec is empty; give a name like 'gaussian:sigma=2', an inline matrix like "
            f"{_INLINE_EXAMPLE} or a file like 'kernels/emboss.txt'"
        )
    if text.startswith("@"):
        from .kernel_files import load_kernel_file

        if not text[1:].strip():
            raise KernelError("'@' needs a file after it, e.g. '@kernels/emboss.txt'")
        return load_kernel_file(text[1:].strip(), spec=text)
    if _looks_like_path(text) and not _names_a_kernel(text):
        from .kernel_files import load_kernel_file

        return load_kernel_file(text)
    if _looks_like_matrix(text):
        return _parse_inline(text)
    return _named(text)


def _looks_like_path(text: str) -> bool:
    if "/" in text or os.sep in text or (os.altsep is not None and os.altsep in text):
        return True
    return text.lower().endswith(FILE_EXTENSIONS)


def _names_a_kernel(text: str) -> bool:
    """``gaussian:sigma=2/3`` is a named kernel with a bad value, not a path (unless the file exists)."""
    name, colon, _ = text.partition(":")
    return bool(colon) and name.strip().lower() in _BY_NAME and not os.path.exists(os.path.expanduser(text))


def _looks_like_matrix(text: str) -> bool:
    if ";" in text or text.startswith("["):
        return True
    first = _VALUE_SPLIT.split(text, maxsplit=1)[0]
    try:
        float(first)
    except ValueError:
        return False
    return True


def split_values(line: str) -> list[str]:
    """Split one row of a matrix into value strings (separators: spaces, tabs, commas).

    An empty string between two commas is kept, so that the caller can report it.

    Examples
    --------
    >>> split_values(" 1, 2 3\\t4 ")
    ['1', '2', '3', '4']
    >>> split_values("1,,2")
    ['1', '', '2']
    """
    stripped = line.strip()
    return _VALUE_SPLIT.split(stripped) if stripped else []


def parse_number(token: str) -> float | None:
    """``token`` as a float, or ``None`` when it is not a number (NaN and inf parse).

    Examples
    --------
    >>> parse_number("-2e-3"), parse_number("x"), parse_number("1_0")
    (-0.002, None, None)
    """
    if not token or "_" in token:
        return None
    try:
        return float(token)
    except ValueError:
        return None


def _parse_inline(text: str) -> Kernel:
    label = f"inline kernel {text!r}"
    if text.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise KernelError(
                f"{label} is not a valid JSON nested list ({err.msg} at character {err.pos + 1}); "
                f"write it like '[[1, 2, 1], [0, 0, 0]]' or {_INLINE_EXAMPLE}"
            ) from None
        if isinstance(data, list) and data and not any(isinstance(r, list) for r in data):
            data = [data]
        if not isinstance(data, list) or not data or not all(isinstance(r, list) for r in data):
            raise KernelError(f"{label} must be a list of rows, e.g. '[[1, 2, 1], [0, 0, 0]]'")
        for i, row in enumerate(data, start=1):
            for j, value in enumerate(row, start=1):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise KernelError(
                        f"{label}: {json.dumps(value)} at row {i}, column {j} is not a number"
                    )
        return Kernel(data, spec=text)
    pieces = text.split(";")
    if len(pieces) > 1 and not pieces[-1].strip():
        pieces = pieces[:-1]  # one trailing ';' is allowed
    rows: list[list[float]] = []
    for i, piece in enumerate(pieces, start=1):
        tokens = split_values(piece)
        if not tokens:
            raise KernelError(
                f"{label}: row {i} is empty; separate rows by ';' and values by spaces or commas, "
                f"e.g. {_INLINE_EXAMPLE}"
            )
        values: list[float] = []
        for j, token in enumerate(tokens, start=1):
            value = parse_number(token)
            if value is None:
                shown = token if token else "(nothing)"
                raise KernelError(
                    f"{label}: {shown!r} at row {i}, column {j} is not a number; "
                    "write values like 1, -0.5 or 2e-3"
                )
            values.append(value)
        if rows and len(values) != len(rows[0]):
            raise KernelError(
                f"{label}: row {i} has {_count(len(values))} but row 1 has {len(rows[0])}; "
                "every row needs the same number of values"
            )
        rows.append(values)
    return Kernel(rows, spec=text)


# --- named kernels ----------------------------------------------------------


@dataclass(frozen=True)
class KernelParam:
    """One parameter of a named kernel: its key, its default (as text) and what it does."""

    name: str
    default: str
    help: str


@dataclass(frozen=True)
class NamedKernel:
    """A named kernel: its parameters, a one-line definition and its builder.

    Examples
    --------
    >>> [p.name for p in named_kernels()[2].params]
    ['sigma', 'sigma_y', 'radius']
    """

    name: str
    params: tuple[KernelParam, ...]
    summary: str
    build: Callable[[Spec], Kernel] = field(repr=False, compare=False)
    operator: str = ""

    def signature(self) -> str:
        """``name:key=default,...`` as shown by ``convcli kernels``.

        Examples
        --------
        >>> named_kernels()[1].signature()
        'box:size=3'
        """
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{p.name}={p.default}" for p in self.params)


def _choice(spec: Spec, key: str, choices: Sequence[str], default: str) -> str:
    value = spec.params.get(key, default).lower()
    if value not in choices:
        hint = closest(value, choices)
        did = f"; did you mean {hint!r}?" if hint else ""
        raise ParameterError(
            f"{key} must be one of {', '.join(choices)} in {spec.text!r}, got {spec.params[key]!r}{did}"
        )
    return value


def _radius(spec: Spec, key: str, sigma: float, *, what: str = "sigma") -> int:
    """The radius ``int(4*sigma + 0.5)`` unless ``radius=`` is given; refuses kernels over the limit."""
    if "radius" in spec.params:
        return spec_int(spec, "radius", minimum=0, maximum=_MAX_RADIUS)
    wanted = 4.0 * sigma + 0.5
    if not wanted < _MAX_RADIUS + 1:
        needed = f" = {wanted // 1:.0f}" if wanted < 1e9 else ""
        raise ParameterError(
            f"{spec.text!r}: {key}={sigma:g} needs radius int(4*{what}+0.5){needed}, beyond the limit "
            f"of {_MAX_RADIUS} ({MAX_KERNEL_SIDE} per side); use a smaller {key} or set radius= explicitly"
        )
    return int(wanted)


def _gaussian_1d(sigma: float, radius: int) -> FloatMatrix:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _gaussian_matrix(sigma_y: float, sigma_x: float, radius_y: int, radius_x: int) -> FloatMatrix:
    return np.outer(_gaussian_1d(sigma_y, radius_y), _gaussian_1d(sigma_x, radius_x))


def _identity_matrix(shape: tuple[int, int]) -> FloatMatrix:
    m = np.zeros(shape)
    m[(shape[0] - 1) // 2, (shape[1] - 1) // 2] = 1.0
    return m


def _build_identity(spec: Spec) -> Kernel:
    size = spec_int_pair(spec, "size", (1, 1), minimum=1, maximum=MAX_KERNEL_SIDE)
    return Kernel(_identity_matrix(size), spec=spec.text)


def _build_box(spec: Spec) -> Kernel:
    h, w = spec_int_pair(spec, "size", (3, 3), minimum=1, maximum=MAX_KERNEL_SIDE)
    return Kernel(np.full((h, w), 1.0 / (h * w)), spec=spec.text)


def _build_gaussian(spec: Spec) -> Kernel:
    sigma = spec_float(spec, "sigma", 1.0, minimum=0, exclusive=True)
    sigma_y = spec_float(spec, "sigma_y", sigma, minimum=0, exclusive=True)
    radius_x = _radius(spec, "sigma", sigma)
    radius_y = _radius(spec, "sigma_y", sigma_y, what="sigma_y")
    return Kernel(_gaussian_matrix(sigma_y, sigma, radius_y, radius_x), spec=spec.text)


_DERIVATIVE_SMOOTHING: Final = {"scharr": (3.0, 10.0, 3.0), "prewitt": (1.0, 1.0, 1.0)}


def _binomial(n: int) -> FloatMatrix:
    row = np.ones(1)
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _build_derivative(spec: Spec) -> Kernel:
    axis = _choice(spec, "axis", ("x", "y", "both"), "x")
    if spec.name == "sobel":
        size = int(_choice(spec, "size", ("3", "5", "7"), "3"))
        smooth = _binomial(size)
        deriv = np.convolve(_binomial(size - 2), [-1.0, 0.0, 1.0])
        suffix = f",size={size}"
    else:
        smooth = np.array(_DERIVATIVE_SMOOTHING[spec.name])
        deriv = np.array([-1.0, 0.0, 1.0])
        suffix = ""
    gx = np.outer(smooth, deriv)
    if axis == "x":
        return Kernel(gx, spec=spec.text)
    if axis == "y":
        return Kernel(gx.T, spec=spec.text)
    parts = [
        Kernel(gx, spec=f"{spec.name}:axis=x{suffix}"),
        Kernel(gx.T, spec=f"{spec.name}:axis=y{suffix}"),
    ]
    return Kernel.operator(parts, combine="hypot", spec=spec.text)


def _build_laplacian(spec: Spec) -> Kernel:
    neighbors = _choice(spec, "neighbors", ("4", "8"), "4")
    if neighbors == "4":
        m = [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]
    else:
        m = [[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]]
    return Kernel(m, spec=spec.text)


def _build_log(spec: Spec) -> Kernel:
    sigma = spec_float(spec, "sigma", 1.0, minimum=0, exclusive=True)
    r = _radius(spec, "sigma", sigma)
    x = np.arange(-r, r + 1, dtype=np.float64)
    rr = x[:, np.newaxis] ** 2 + x[np.newaxis, :] ** 2
    g = np.exp(-rr / (2.0 * sigma * sigma))
    g /= g.sum()
    h = g * (rr - 2.0 * sigma * sigma) / sigma**4
    return Kernel(h - h.mean(), spec=spec.text)


def _build_dog(spec: Spec) -> Kernel:
    sigma1 = spec_float(spec, "sigma1", 1.0, minimum=0, exclusive=True)
    sigma2 = spec_float(spec, "sigma2", 1.6 * sigma1, minimum=0, exclusive=True)
    if sigma1 == sigma2:
        raise ParameterError(
            f"sigma1 and sigma2 must differ in {spec.text!r} (both {sigma1:g}), or the difference is 0; "
            "the usual ratio is sigma2 = 1.6*sigma1"
        )
    key, big = ("sigma1", sigma1) if sigma1 > sigma2 else ("sigma2", sigma2)
    r = _radius(spec, key, big, what=key)
    g1 = _gaussian_matrix(sigma1, sigma1, r, r)
    g2 = _gaussian_matrix(sigma2, sigma2, r, r)
    return Kernel(g1 - g2, spec=spec.text)


def _amount(spec: Spec) -> float:
    return spec_float(spec, "amount", 1.0, minimum=0)


def _build_sharpen(spec: Spec) -> Kernel:
    amount = _amount(spec)
    ident = _identity_matrix((3, 3))
    return Kernel(ident + amount * (ident - np.full((3, 3), 1.0 / 9.0)), spec=spec.text)


def _build_unsharp(spec: Spec) -> Kernel:
    amount = _amount(spec)
    sigma = spec_float(spec, "sigma", 1.0, minimum=0, exclusive=True)
    r = _radius(spec, "sigma", sigma)
    blur = _gaussian_matrix(sigma, sigma, r, r)
    ident = _identity_matrix((2 * r + 1, 2 * r + 1))
    return Kernel(ident + amount * (ident - blur), spec=spec.text)


_COMPASS: Final = {
    "n": (-1, 0), "ne": (-1, 1), "e": (0, 1), "se": (1, 1),
    "s": (1, 0), "sw": (1, -1), "w": (0, -1), "nw": (-1, -1),
}


def _build_emboss(spec: Spec) -> Kernel:
    uy, ux = _COMPASS[_choice(spec, "direction", tuple(_COMPASS), "se")]
    d = np.arange(-1.0, 2.0)
    m = d[:, np.newaxis] * uy + d[np.newaxis, :] * ux
    m[1, 1] += 1.0
    return Kernel(m, spec=spec.text)


def _unit_direction(degrees: float) -> tuple[float, float]:
    """(cos, sin) of an angle, exact at multiples of 45°."""
    eighth = degrees / 45.0
    if eighth == round(eighth):
        root = math.sqrt(0.5)
        table = [(1.0, 0.0), (root, root), (0.0, 1.0), (-root, root),
                 (-1.0, 0.0), (-root, -root), (0.0, -1.0), (root, -root)]
        return table[round(eighth) % 8]
    radians = math.radians(degrees)
    return math.cos(radians), math.sin(radians)


def _build_motion(spec: Spec) -> Kernel:
    length = spec_int(spec, "length", 9, minimum=1, maximum=MAX_KERNEL_SIDE)
    angle = spec_float(spec, "angle", 0.0)
    c, s = _unit_direction(angle)
    half = (length - 1) / 2.0
    offsets = np.arange(length, dtype=np.float64) - half
    dx = offsets[np.newaxis, :]
    dy = offsets[:, np.newaxis]
    # the line runs along (c, -s) in (column, row) terms: rows grow downward
    t = np.clip(dx * c - dy * s, -half, half)
    distance = np.hypot(dx - t * c, dy + t * s)
    weights = np.clip(1.0 - distance, 0.0, None)
    weights[weights < 1e-9] = 0.0
    rows = np.flatnonzero(weights.any(axis=1))
    cols = np.flatnonzero(weights.any(axis=0))
    trim_r = min(int(rows[0]), length - 1 - int(rows[-1]))
    trim_c = min(int(cols[0]), length - 1 - int(cols[-1]))
    weights = weights[trim_r:length - trim_r, trim_c:length - trim_c]
    return Kernel(weights / weights.sum(), spec=spec.text)


_SIGMA = KernelParam("sigma", "1", "standard deviation in pixels (> 0)")
_RADIUS = KernelParam("radius", "int(4*sigma+0.5)", "half-width: the kernel is 2*radius+1 wide (<= 512)")
_AXIS = KernelParam("axis", "x", "x (rises to the right > 0), y (rises downward > 0) or both (hypot)")
_BOTH = "axis=both: the gradient magnitude hypot(gx, gy) of two kernels"

_NAMED: Final[tuple[NamedKernel, ...]] = (
    NamedKernel("identity", (KernelParam("size", "1", "N or HxW; the 1 sits at the default anchor"),),
                "a single 1: returns the image unchanged", _build_identity),
    NamedKernel("box", (KernelParam("size", "3", "N or HxW"),),
                "uniform mean: every value 1/(H*W), sums to 1", _build_box),
    NamedKernel("gaussian", (_SIGMA, KernelParam("sigma_y", "sigma", "vertical standard deviation (> 0)"),
                             _RADIUS),
                "exp(-x²/2σ² - y²/2σy²) sampled, normalised to sum 1 (SciPy gaussian_filter)",
                _build_gaussian),
    NamedKernel("sobel", (_AXIS, KernelParam("size", "3", "3, 5 or 7 (OpenCV getDerivKernels)")),
                "derivative ⊗ binomial smoothing; x = [[-1,0,1],[-2,0,2],[-1,0,1]] as OpenCV Sobel(dx=1)",
                _build_derivative, operator=_BOTH),
    NamedKernel("scharr", (_AXIS,), "derivative ⊗ [3,10,3]; x = [[-3,0,3],[-10,0,10],[-3,0,3]] (OpenCV)",
                _build_derivative, operator=_BOTH),
    NamedKernel("prewitt", (_AXIS,), "derivative ⊗ [1,1,1]; x = [[-1,0,1],[-1,0,1],[-1,0,1]]",
                _build_derivative, operator=_BOTH),
    NamedKernel("laplacian", (KernelParam("neighbors", "4", "4: [[0,1,0],[1,-4,1],[0,1,0]]; 8: all 1, -8"),),
                "second difference, sums to 0, negative centre", _build_laplacian),
    NamedKernel("log", (_SIGMA, _RADIUS),
                "Laplacian of Gaussian (x²+y²-2σ²)/σ⁴·G minus its mean: sums to 0, negative centre",
                _build_log),
    NamedKernel("dog", (KernelParam("sigma1", "1", "the narrow gaussian (> 0)"),
                        KernelParam("sigma2", "1.6*sigma1", "the wide gaussian (> 0, != sigma1)"),
                        KernelParam("radius", "int(4*max(sigma1,sigma2)+0.5)", "common half-width (<= 512)")),
                "difference of Gaussians G(sigma1) - G(sigma2): sums to 0", _build_dog),
    NamedKernel("sharpen",
                (KernelParam("amount", "1", "strength (>= 0); 9 gives 9 in the centre, -1 around"),),
                "identity + amount·(identity - 3x3 box)", _build_sharpen),
    NamedKernel("unsharp", (KernelParam("amount", "1", "strength (>= 0)"), _SIGMA, _RADIUS),
                "unsharp mask: identity + amount·(identity - gaussian(sigma))", _build_unsharp),
    NamedKernel("emboss",
                (KernelParam("direction", "se", "n, ne, e, se, s, sw, w or nw: the positive side"),),
                "relief: 1 at the centre plus the offset along direction; se = [[-2,-1,0],[-1,1,1],[0,1,2]]",
                _build_emboss),
    NamedKernel("motion", (KernelParam("length", "9", "line length in pixels (1..1025)"),
                           KernelParam("angle", "0", "degrees counter-clockwise from the +x axis")),
                "motion blur: an anti-aliased line through the centre, normalised to sum 1", _build_motion),
)
_BY_NAME: Final = {k.name: k for k in _NAMED}


def named_kernels() -> list[NamedKernel]:
    """The named kernels in documentation order.

    Examples
    --------
    >>> [k.name for k in named_kernels()][:4]
    ['identity', 'box', 'gaussian', 'sobel']
    >>> named_kernels()[3].signature()
    'sobel:axis=x,size=3'
    """
    return list(_NAMED)


def _named(text: str) -> Kernel:
    spec = parse_spec(text, what="kernel")
    entry = _BY_NAME.get(spec.name)
    if entry is None:
        raise KernelError(_unknown_name_message(spec, text))
    spec.check_keys([p.name for p in entry.params], what=f"kernel {entry.name!r}")
    return entry.build(spec)


def _unknown_name_message(spec: Spec, text: str) -> str:
    names = [k.name for k in _NAMED]
    hint = closest(spec.name, names)
    did = f"did you mean {hint!r}? " if hint else ""
    message = (
        f"unknown kernel {spec.name!r} in {text!r}; {did}named kernels: {', '.join(names)} "
        "(see 'convcli kernels')"
    )
    if os.path.exists(text):
        message += f"; to read the file {text!r} write '@{text}'"
    elif not hint:
        message += f"; an inline matrix looks like {_INLINE_EXAMPLE}, a file like 'kernels/emboss.txt'"
    return message

