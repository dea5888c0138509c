"""The :class:`Kernel` type: a read-only matrix with its anchor and offset, or an operator.

Examples
--------
>>> k = Kernel([[1, 2, 1]], spec="1 2 1")
>>> k.shape, k.sum, k.separable
((1, 3), 4.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from ..engine import check_kernel
from ..errors import KernelError, ParameterError
from ..shapes import check_anchor
from ._inline import count_values

__all__ = ["Combine", "FloatMatrix", "Kernel"]

#: How an operator combines the responses of its components.
Combine: TypeAlias = Literal["hypot"]
FloatMatrix: TypeAlias = npt.NDArray[np.float64]


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
        >>> from convcli.kernels import kernel
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
        >>> from convcli.kernels import kernel
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
        >>> from convcli.kernels import kernel
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
        >>> from convcli.kernels import kernel
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
        >>> from convcli.kernels import kernel
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
        >>> from convcli.kernels import kernel
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
        >>> from convcli.kernels import kernel
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



def _label(spec: str) -> str:
    return f"kernel {spec!r}" if spec else "kernel"


def _as_matrix(matrix: npt.ArrayLike, *, label: str) -> FloatMatrix:
    """Validate and copy ``matrix`` into a read-only float64 2-D array."""
    if isinstance(matrix, (list, tuple)) and matrix and all(isinstance(r, (list, tuple)) for r in matrix):
        lengths = [len(r) for r in matrix]
        for i, n in enumerate(lengths[1:], start=2):
            if n != lengths[0]:
                raise KernelError(
                    f"{label}: row {i} has {count_values(n)} but row 1 has {lengths[0]}; "
                    "every row needs the same number of values"
                )
    try:
        raw = np.asarray(matrix)
    except ValueError as err:
        raise KernelError(f"{label} is not a rectangular matrix of numbers ({err})") from None
    if raw.dtype.kind not in "biuf":
        raise KernelError(f"{label} must hold real numbers, got dtype {raw.dtype}")
    m = check_kernel(raw, label=label)  # the one check: 2-D, not empty, within the limit, finite
    m += 0.0  # -0.0 becomes 0.0, so that matrices print and compare cleanly
    m.setflags(write=False)
    return m


def _check_anchor(anchor: Any, shape: tuple[int, ...], *, label: str) -> tuple[int, int]:
    """The anchor as a pair of ints inside the kernel (the check of :mod:`convcli.shapes`)."""
    try:
        return check_anchor(anchor, (int(shape[0]), int(shape[1])))
    except ParameterError:
        raise KernelError(
            f"{label} has anchor {anchor!r}; the anchor is [row, col] with 0 <= row < {shape[0]} "
            f"and 0 <= col < {shape[1]}"
        ) from None
