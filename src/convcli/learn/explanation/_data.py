"""What :func:`convcli.learn.explain` returns: every window, product and sum, as data.

Every class has ``to_dict()``, which gives JSON-ready nested lists (NaN, a
cell outside the image, becomes None): ``convcli explain --json`` prints it and
the text rendering reads it.

Examples
--------
>>> from convcli.learn.explanation import explain
>>> e = explain([[1, 2], [3, 4]], [[1, 1]])
>>> e.conv.steps[0].to_dict()["products"], e.to_dict()["result"]
([[1.0, 2.0]], [[3.0], [7.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "Backward",
    "ConvBackward",
    "ConvExplanation",
    "Explanation",
    "PoolBackward",
    "PoolExplanation",
    "PoolRoute",
    "PoolStep",
    "Step",
]

Matrix: TypeAlias = npt.NDArray[np.float64]
BoolMatrix: TypeAlias = npt.NDArray[np.bool_]
Operation: TypeAlias = Literal["correlate", "convolve"]


def _matrix_json(m: np.ndarray) -> list[list[Any]]:
    """A matrix as nested lists; NaN (a cell outside the image) becomes None."""
    if m.dtype == np.bool_:
        return [[bool(v) for v in row] for row in m]
    return [[None if np.isnan(v) else float(v) for v in row] for row in m]


# --- the data -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One weighted sum: a window of values times weights, and the total.

    Attributes
    ----------
    position : tuple of int
        Where the sum goes: ``(i, j)`` of the output (or of the gradient).
    rows, cols : tuple of int
        Where the window's rows and columns come from.  For the forward pass,
        input coordinates: ``-1`` or ``H`` and beyond are border cells.  For the
        backward steps, coordinates in the matrix the window is taken from.
    window : ndarray
        The values under the weights.
    weights : ndarray
        What multiplies them: the kernel (rotated for convolution), or the
        error term for the kernel gradient.
    products : ndarray
        ``window * weights``, element by element.
    sum : float
        The sum of the products.
    """

    position: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: Matrix
    weights: Matrix
    products: Matrix
    sum: float

    @classmethod
    def weighted_sum(
        cls,
        position: tuple[int, int],
        source: Matrix,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        weights: Matrix,
        *,
        origin: tuple[int, int] = (0, 0),
    ) -> Step:
        """The window ``source[rows][:, cols]`` times ``weights``, summed.

        ``rows`` and ``cols`` are kept relative to ``origin`` (the input's
        top-left corner inside a padded source).

        Examples
        --------
        >>> step = Step.weighted_sum((0, 0), np.arange(9.0).reshape(3, 3), np.array([1, 2]), np.array([0, 2]),
        ...                          np.ones((2, 2)), origin=(1, 1))
        >>> step.rows, step.cols, step.window.tolist(), step.sum
        ((0, 1), (-1, 1), [[3.0, 5.0], [6.0, 8.0]], 22.0)
        """
        window = source[np.ix_(rows, cols)]
        products = weights * window
        top, left = origin
        return cls(position, tuple(int(r) - top for r in rows), tuple(int(c) - left for c in cols),
                   window, weights, products, float(products.sum()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: position, rows, cols, window, products, sum."""
        return {
            "position": list(self.position),
            "rows": list(self.rows),
            "cols": list(self.cols),
            "window": _matrix_json(self.window),
            "products": _matrix_json(self.products),
            "sum": self.sum,
        }


@dataclass(frozen=True)
class ConvExplanation:
    """A correlation or convolution, step by step.

    Attributes
    ----------
    operation : {"correlate", "convolve"}
        ``convolve`` slides the kernel rotated by 180°.
    input : ndarray
        The input matrix.
    kernel : ndarray
        The kernel as given.
    applied : ndarray
        The weights that slide: ``kernel``, or ``kernel[::-1, ::-1]`` for convolution.
    border : str
        The border rule (numpy.pad's name); ``border_value`` for ``constant``.
    border_value : float
    pad : tuple of int
        ``(top, bottom, left, right)``.
    stride, dilation : tuple of int
        ``(rows, cols)``.
    padded : ndarray
        The padded input.
    border_cells : ndarray of bool
        True where ``padded`` is border, not input.
    formula : tuple of str
        The output-size formula along rows and columns, numbers substituted.
    steps : tuple of Step
        One per output value, in row-major order.
    output : ndarray
        The result.
    """

    operation: Operation
    input: Matrix
    kernel: Matrix
    applied: Matrix
    border: str
    border_value: float
    pad: tuple[int, int, int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padded: Matrix
    border_cells: BoolMatrix
    formula: tuple[str, str]
    steps: tuple[Step, ...]
    output: Matrix

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: input, padded, kernel, steps, output and the parameters."""
        data: dict[str, Any] = {
            "operation": self.operation,
            "input": _matrix_json(self.input),
            "padded": _matrix_json(self.padded),
            "border_cells": _matrix_json(self.border_cells),
            "kernel": _matrix_json(self.kernel),
        }
        if self.operation == "convolve":
            data["rotated_kernel"] = _matrix_json(self.applied)
        data.update(
            border=self.border,
            border_value=self.border_value,
            pad=list(self.pad),
            stride=list(self.stride),
            dilation=list(self.dilation),
            formula={"rows": self.formula[0], "columns": self.formula[1]},
            steps=[step.to_dict() for step in self.steps],
            output=_matrix_json(self.output),
        )
        return data


@dataclass(frozen=True)
class PoolStep:
    """One pooling window.

    Attributes
    ----------
    position : tuple of int
        ``(i, j)`` of the output.
    rows, cols : tuple of int
        Input coordinates of the window (outside ``0..H-1`` is padding).
    window : ndarray
        The values, NaN where the window lies outside the input.
    value : float
        What the window gives.
    winner : tuple of int or None
        For max and min: ``(row, col)`` in the window of the value that won,
        the first in row-major order on a tie (as PyTorch).  None for mean.
    count : int
        How many window cells lie inside the input (mean divides by it).
    """

    position: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    window: Matrix
    value: float
    winner: tuple[int, int] | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; cells outside the input are null."""
        data: dict[str, Any] = {
            "position": list(self.position),
            "rows": list(self.rows),
            "cols": list(self.cols),
            "window": _matrix_json(self.window),
            "value": self.value,
            "winner": None if self.winner is None else list(self.winner),
            "count": self.count,
        }
        if self.winner is None:
            data["sum"] = float(np.nansum(self.window))
        return data


@dataclass(frozen=True)
class PoolExplanation:
    """Pooling, window by window.

    Attributes
    ----------
    op : {"max", "mean", "min"}
    size, stride, pad : tuple of int
        ``(rows, cols)``; ``pad`` on both sides.
    ceil_mode : bool
    input : ndarray
    padded : ndarray
        The input inside NaN padding (padding never wins and is not counted),
        large enough for every window.
    formula : tuple of str
    steps : tuple of PoolStep
    output : ndarray
    """

    op: str
    size: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    ceil_mode: bool
    input: Matrix
    padded: Matrix
    formula: tuple[str, str]
    steps: tuple[PoolStep, ...]
    output: Matrix

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; padding cells are null."""
        return {
            "operation": f"{self.op} pooling",
            "op": self.op,
            "size": list(self.size),
            "stride": list(self.stride),
            "pad": list(self.pad),
            "ceil_mode": self.ceil_mode,
            "input": _matrix_json(self.input),
            "padded": _matrix_json(self.padded),
            "formula": {"rows": self.formula[0], "columns": self.formula[1]},
            "steps": [step.to_dict() for step in self.steps],
            "output": _matrix_json(self.output),
        }


@dataclass(frozen=True)
class PoolRoute:
    """Where the error term of one pooling output goes.

    Attributes
    ----------
    position : tuple of int
        The pooling output.
    error : float
        Its error term.
    targets : tuple of tuple of int
        Input ``(row, col)`` cells that receive a share: the winner for max/min,
        every cell inside the window for mean.
    share : float
        What each target receives: the error (max/min) or error / count (mean).
    """

    position: tuple[int, int]
    error: float
    targets: tuple[tuple[int, int], ...]
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": list(self.position),
            "error": self.error,
            "targets": [list(t) for t in self.targets],
            "share": self.share,
        }


@dataclass(frozen=True)
class PoolBackward:
    """The error through a pooling layer: ``error`` on its output, ``grad_input`` on its input."""

    error: Matrix
    routes: tuple[PoolRoute, ...]
    grad_input: Matrix

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": _matrix_json(self.error),
            "routes": [route.to_dict() for route in self.routes],
            "grad_input": _matrix_json(self.grad_input),
        }


@dataclass(frozen=True)
class ConvBackward:
    """The error through a correlation (the backward pass of backpropagation).

    Attributes
    ----------
    error : ndarray
        ``delta``, the error on the output.
    dilated_error : ndarray
        ``delta`` with ``stride - 1`` zeros between its terms.
    padded_error : ndarray
        ``dilated_error`` inside ``(k - 1) * d`` zeros on every side ("full" padding).
    rotated_kernel : ndarray
        The sliding weights rotated by 180° (for convolution: the kernel as given).
    grad_padded : ndarray
        The error on the padded input: the correlation of ``padded_error``
        with ``rotated_kernel`` (that is, the full convolution of the
        dilated error with the sliding weights); ``input_steps`` are its sums.
    grad_input : ndarray
        The error on the input: ``grad_padded`` without the zero border, or
        with each border cell's share added to the pixel it copied.
    grad_kernel : ndarray
        The gradient of the kernel as given: the correlation of the padded
        input with the (stride-spaced) error; ``kernel_steps`` are its sums
        (for convolution they give the rotated kernel's gradient, rotated back here).
    error_pad : tuple of int
        The zeros on each side of ``padded_error``, ``(rows, cols)``: the
        dilated kernel's extent minus one (``shapes.effective_size``).
    input_steps, kernel_steps : tuple of Step
    """

    error: Matrix
    dilated_error: Matrix
    padded_error: Matrix
    rotated_kernel: Matrix
    grad_padded: Matrix
    grad_input: Matrix
    grad_kernel: Matrix
    input_steps: tuple[Step, ...]
    kernel_steps: tuple[Step, ...]
    error_pad: tuple[int, int] = (0, 0)

    @property
    def padding_cells(self) -> np.ndarray:
        """True where ``padded_error`` holds the 'full' padding zeros rather than the (dilated) error."""
        er, ec = self.error_pad
        ph, pw = self.padded_error.shape
        cells = np.ones((ph, pw), bool)
        cells[er:ph - er, ec:pw - ec] = False
        return cells

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": _matrix_json(self.error),
            "dilated_error": _matrix_json(self.dilated_error),
            "padded_error": _matrix_json(self.padded_error),
            "error_pad": list(self.error_pad),
            "rotated_kernel": _matrix_json(self.rotated_kernel),
            "grad_padded": _matrix_json(self.grad_padded),
            "grad_input": _matrix_json(self.grad_input),
            "grad_kernel": _matrix_json(self.grad_kernel),
            "input_steps": [step.to_dict() for step in self.input_steps],
            "kernel_steps": [step.to_dict() for step in self.kernel_steps],
        }


@dataclass(frozen=True)
class Backward:
    """The backward pass: the error on the result, through pooling, then through the correlation."""

    error: Matrix
    pool: PoolBackward | None
    conv: ConvBackward | None

    @property
    def grad_input(self) -> Matrix:
        """The error on the original input."""
        if self.conv is not None:
            return self.conv.grad_input
        assert self.pool is not None
        return self.pool.grad_input

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": _matrix_json(self.error),
            "pool": None if self.pool is None else self.pool.to_dict(),
            "conv": None if self.conv is None else self.conv.to_dict(),
            "grad_input": _matrix_json(self.grad_input),
        }


@dataclass(frozen=True)
class Explanation:
    """Everything :func:`explain` found: the convolution, the pooling and the backward pass.

    Attributes
    ----------
    conv : ConvExplanation or None
        The correlation (or convolution); None when only pooling.
    pool : PoolExplanation or None
        The pooling of the convolution's output (or of the input); None without pooling.
    backward : Backward or None
        The backward pass, when asked for.
    """

    conv: ConvExplanation | None
    pool: PoolExplanation | None
    backward: Backward | None

    @property
    def result(self) -> Matrix:
        """The final output: pooled if pooling, else the convolution's output."""
        if self.pool is not None:
            return self.pool.output
        assert self.conv is not None
        return self.conv.output

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready.

        With a kernel, the top level describes the convolution (``input``,
        ``padded``, ``kernel``, ``steps``, ``output``, ...) and ``pool`` the
        pooling after it; with pooling alone, the top level describes the
        pooling and ``kernel`` is null.  ``backward`` is present when asked
        for and ``result`` is the final output.
        """
        if self.conv is not None:
            data = self.conv.to_dict()
            data["pool"] = None if self.pool is None else self.pool.to_dict()
        else:
            assert self.pool is not None
            data = self.pool.to_dict()
            data["kernel"] = None
        if self.backward is not None:
            data["backward"] = self.backward.to_dict()
        data["result"] = _matrix_json(self.result)
        return data

