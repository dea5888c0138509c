"""Step-by-step explanations of correlation, convolution, pooling and their backward pass.

The reference notes teach convolution on small matrices: pad the input, slide
the kernel, multiply each window by the weights and add the products up
(seed 003's ``cov(i, j) = sum_m sum_n w[m, n] * x[i + m, j + n]``), the output
size ``N = (O + 2P - K) / S + 1``, the 180° flip of true convolution, max and
mean pooling, and the backward pass.  :func:`explain` computes all of that as
data -- every window, every product, every sum -- for ``convcli explain`` to
show (or print as JSON).

The numbers are the library's: the output equals :func:`convcli.correlate`
(:func:`convcli.convolve` with ``flip=True``) and :func:`convcli.pool` with the
same arguments, the sizes come from :mod:`convcli.shapes` and the gradients
equal :mod:`convcli.gradients`.  The explanation is for small matrices: at most
:data:`MAX_SIDE` x :data:`MAX_SIDE` inputs and kernels, and at most
:data:`MAX_SIDE` rows or columns of padding on a side.

Unlike ``convcli apply``, the defaults are the notes': no padding (``pad=0``)
and a zero border (``border="constant"``).

Examples
--------
>>> x = [[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]]
>>> e = explain(x, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
>>> e.conv.output
array([[25., 16., 15.],
       [20., 17., 10.],
       [16., 13., 14.]])
>>> step = e.conv.steps[0]
>>> step.window
array([[1., 2., 3.],
       [4., 5., 6.],
       [7., 8., 9.]])
>>> step.products.tolist(), step.sum
([[1.0, 0.0, 3.0], [0.0, 5.0, 0.0], [7.0, 0.0, 9.0]], 25.0)
>>> e.conv.formula[0]
'(5 - 3) + 1 = 3'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from .engine import normalize_border
from .engine._borders import padded_index_map
from .engine._plan import check_kernel
from .errors import ParameterError, ShapeError
from .kernels import parse_number, split_values
from .shapes import Layer, as_pair, chain_sizes, output_size, parse_layer, pool_output_size, resolve_pad
from .specs import parse_spec

__all__ = [
    "MAX_SIDE",
    "Backward",
    "ConvBackward",
    "ConvExplanation",
    "Explanation",
    "PoolBackward",
    "PoolExplanation",
    "PoolRoute",
    "PoolStep",
    "Step",
    "explain",
    "parse_matrix",
]

#: the largest input and kernel side, and the most padding on a side, that are explained
MAX_SIDE: Final = 16

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
    """Where the error term of one pooling output goes (seed 003).

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
    """The error through a correlation (seed 003's backward pass).

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": _matrix_json(self.error),
            "dilated_error": _matrix_json(self.dilated_error),
            "padded_error": _matrix_json(self.padded_error),
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


# --- parsing ------------------------------------------------------------------------


def parse_matrix(text: str, *, what: str = "matrix") -> Matrix:
    """A small matrix written inline: rows separated by ``;``, values by spaces or commas.

    Parameters
    ----------
    text : str
        E.g. ``"1 2 3; 4 5 6"``.
    what : str, optional
        What the matrix is (``"--image"``), for messages.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    ParameterError
        Naming the row and column of a value that is not a finite number, or
        a row of a different length.

    Examples
    --------
    >>> parse_matrix("1 2 3; 4 5 6")
    array([[1., 2., 3.],
           [4., 5., 6.]])
    >>> parse_matrix("1 2; 3", what="--image")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --image '1 2; 3': row 2 has 1 value but row 1 has 2; every row needs the same number
    """
    label = f"{what} {text!r}"
    pieces = text.strip().split(";")
    if len(pieces) > 1 and not pieces[-1].strip():
        pieces = pieces[:-1]
    rows: list[list[float]] = []
    for i, piece in enumerate(pieces, start=1):
        tokens = split_values(piece)
        if not tokens:
            raise ParameterError(
                f"{label}: row {i} is empty; separate rows by ';' and values by spaces or commas, e.g. '1 2 3; 4 5 6'"
            )
        values: list[float] = []
        for j, token in enumerate(tokens, start=1):
            value = parse_number(token)
            if value is None or not np.isfinite(value):
                raise ParameterError(
                    f"{label}: {token or '(nothing)'!r} at row {i}, column {j} is not a finite number; "
                    "write values like 1, -0.5 or 2e-3"
                )
            values.append(value)
        if rows and len(values) != len(rows[0]):
            count = f"{len(values)} value" + ("s" if len(values) != 1 else "")
            raise ParameterError(
                f"{label}: row {i} has {count} but row 1 has {len(rows[0])}; every row needs the same number"
            )
        rows.append(values)
    return np.array(rows, dtype=np.float64)


# --- the forward pass -----------------------------------------------------------------


def _check_input(image: npt.ArrayLike) -> Matrix:
    try:
        x = np.array(image, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"the input must be a matrix of numbers: {err}") from None
    if x.ndim != 2 or x.size == 0:
        extra = " (one channel of an image: pick it first)" if x.ndim == 3 else ""
        raise ParameterError(f"the input must be a non-empty 2-D matrix{extra}, got shape {x.shape}")
    if not np.isfinite(x).all():
        r, c = (int(v) for v in np.argwhere(~np.isfinite(x))[0])
        raise ParameterError(f"the input holds {x[r, c]} at row {r}, column {c}; explain needs finite numbers")
    h, w = x.shape
    if max(h, w) > MAX_SIDE:
        raise ShapeError(
            f"the input is {h}x{w}, but explain shows at most {MAX_SIDE}x{MAX_SIDE} (every window is printed); "
            f"crop it first, e.g. a {min(h, 8)}x{min(w, 8)} corner (the command line's --crop x,y,w,h)"
        )
    return x


def _conv_formula(
    hw: tuple[int, int],
    kshape: tuple[int, int],
    pads: tuple[int, int, int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[str, str]:
    """Seed 003's size formula with the numbers in, from :func:`convcli.shapes.chain_sizes`."""
    top, bottom, left, right = pads
    if top == bottom and left == right:
        layer = Layer.conv(kshape, stride=stride, pad=(top, left), dilation=dilation)
    else:  # chain_sizes resolves any pad resolve_pad accepts, asymmetric ones too
        layer = Layer("conv", kshape, stride, pads, dilation, text="conv")  # type: ignore[arg-type]
    return chain_sizes(hw, [layer])[0].formula


def _explain_conv(
    x: Matrix,
    kernel: npt.ArrayLike,
    *,
    pad: object,
    stride: object,
    dilation: object,
    border: str,
    border_value: float,
    flip: bool,
    anchor: tuple[int, int] | None,
) -> ConvExplanation:
    k = check_kernel(kernel)
    kh, kw = (int(v) for v in k.shape)
    if max(kh, kw) > MAX_SIDE:
        raise ShapeError(f"the kernel is {kh}x{kw}, but explain shows kernels up to {MAX_SIDE}x{MAX_SIDE}")
    mode = normalize_border(border)
    try:
        value = float(border_value)
    except (TypeError, ValueError):
        raise ParameterError(f"border_value must be a number, got {border_value!r}") from None
    applied = np.ascontiguousarray(k[::-1, ::-1]) if flip else k
    if anchor is not None:
        if not (isinstance(anchor, (tuple, list)) and len(anchor) == 2):
            raise ParameterError(f"anchor must be a pair (row, col) of integers, got {anchor!r}")
        if flip:  # the anchor names a tap of the kernel as given, which moves when it is rotated
            anchor = (kh - 1 - anchor[0], kw - 1 - anchor[1])
    dil = as_pair(dilation, "dilation")
    st = as_pair(stride, "stride")
    pads = resolve_pad(pad, (kh, kw), dilation=dil, anchor=anchor)
    if max(pads) > MAX_SIDE:
        raise ShapeError(
            f"the padding {pads} (top, bottom, left, right) is more than explain shows ({MAX_SIDE} a side)"
        )
    h, w = x.shape
    ho, wo = output_size((h, w), (kh, kw), pad=pads, stride=st, dilation=dil)
    top, bottom, left, right = pads
    rmap = padded_index_map(h, top, bottom, mode)
    cmap = padded_index_map(w, left, right, mode)
    padded = x[np.clip(rmap, 0, None)][:, np.clip(cmap, 0, None)]
    padded[rmap < 0] = value
    padded[:, cmap < 0] = value
    inside_r = (np.arange(rmap.size) >= top) & (np.arange(rmap.size) < top + h)
    inside_c = (np.arange(cmap.size) >= left) & (np.arange(cmap.size) < left + w)
    border_cells = ~(inside_r[:, None] & inside_c[None, :])
    (sh, sw), (dh, dw) = st, dil
    steps: list[Step] = []
    output = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            prow = i * sh + np.arange(kh) * dh
            pcol = j * sw + np.arange(kw) * dw
            window = padded[np.ix_(prow, pcol)]
            products = applied * window
            total = float(products.sum())
            output[i, j] = total
            steps.append(
                Step((i, j), tuple(int(r) - top for r in prow), tuple(int(c) - left for c in pcol),
                     window, applied, products, total)
            )
    return ConvExplanation(
        operation="convolve" if flip else "correlate",
        input=x,
        kernel=k,
        applied=applied,
        border=mode,
        border_value=value,
        pad=pads,
        stride=st,
        dilation=dil,
        padded=padded,
        border_cells=border_cells,
        formula=_conv_formula((h, w), (kh, kw), pads, st, dil),
        steps=tuple(steps),
        output=output,
    )


def _pool_layer(spec: str) -> Layer:
    """A pooling spec (``max:size=2``; the size defaults to 2, seed 003) as a checked layer."""
    parsed = parse_spec(spec, what="pooling spec")
    if parsed.name not in ("max", "mean", "min"):
        raise ParameterError(f"pooling spec {spec!r}: the operation must be max, mean or min, e.g. max:size=2")
    params = dict(parsed.params)
    if not {"size", "k", "kernel"} & set(params):
        params["size"] = "2"
    return parse_layer(parsed.name + ":" + ",".join(f"{key}={v}" for key, v in params.items()))


def _explain_pool(x: Matrix, layer: Layer) -> PoolExplanation:
    op = layer.op or "max"
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    ph, pw = as_pair(layer.pad, "pooling pad", minimum=0)
    h, w = x.shape
    shape = chain_sizes((h, w), [layer])[0]  # checks the pad against the window, names the layer
    ho, wo = pool_output_size((h, w), (kh, kw), stride=(sh, sw), pad=(ph, pw), ceil_mode=layer.ceil_mode)
    rows_total = max((ho - 1) * sh + kh, h + ph)
    cols_total = max((wo - 1) * sw + kw, w + pw)
    padded = np.full((rows_total, cols_total), np.nan)
    padded[ph : ph + h, pw : pw + w] = x
    steps: list[PoolStep] = []
    output = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = padded[i * sh : i * sh + kh, j * sw : j * sw + kw]
            inside = ~np.isnan(window)
            count = int(inside.sum())
            winner: tuple[int, int] | None = None
            if op == "mean":
                value = float(np.nansum(window)) / count
            else:
                scores = np.where(inside, window if op == "max" else -window, -np.inf)
                flat = int(np.argmax(scores))  # the first maximum in row-major order
                winner = (flat // kw, flat % kw)
                value = float(window[winner])
            output[i, j] = value
            rows = tuple(range(i * sh - ph, i * sh - ph + kh))
            cols = tuple(range(j * sw - pw, j * sw - pw + kw))
            steps.append(PoolStep((i, j), rows, cols, window.copy(), value, winner, count))
    return PoolExplanation(
        op=op,
        size=(kh, kw),
        stride=(sh, sw),
        pad=(ph, pw),
        ceil_mode=layer.ceil_mode,
        input=x,
        padded=padded,
        formula=shape.formula,
        steps=tuple(steps),
        output=output,
    )


# --- the backward pass ----------------------------------------------------------------


def _pool_backward(pool: PoolExplanation, error: Matrix) -> PoolBackward:
    grad = np.zeros_like(pool.input)
    routes: list[PoolRoute] = []
    for step in pool.steps:
        delta = float(error[step.position])
        targets: tuple[tuple[int, int], ...]
        if step.winner is not None:
            targets = ((step.rows[step.winner[0]], step.cols[step.winner[1]]),)
            share = delta
        else:
            targets = tuple(
                (r, c)
                for a, r in enumerate(step.rows)
                for b, c in enumerate(step.cols)
                if not np.isnan(step.window[a, b])
            )
            share = delta / step.count
        for target in targets:
            grad[target] += share
        routes.append(PoolRoute(step.position, delta, targets, share))
    return PoolBackward(error=error, routes=tuple(routes), grad_input=grad)


def _conv_backward(conv: ConvExplanation, error: Matrix) -> ConvBackward:
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    kh, kw = conv.applied.shape
    ho, wo = error.shape
    dilated = np.zeros(((ho - 1) * sh + 1, (wo - 1) * sw + 1))
    dilated[::sh, ::sw] = error
    er, ec = (kh - 1) * dh, (kw - 1) * dw
    padded_error = np.pad(dilated, ((er, er), (ec, ec)))
    rotated = np.ascontiguousarray(conv.applied[::-1, ::-1])
    grad_padded = np.zeros_like(conv.padded)
    input_steps: list[Step] = []
    # every padded cell some window touched: the full correlation of the padded error with the rotated kernel
    for p in range(dilated.shape[0] + er):
        for q in range(dilated.shape[1] + ec):
            prow, pcol = p + np.arange(kh) * dh, q + np.arange(kw) * dw
            window = padded_error[np.ix_(prow, pcol)]
            products = rotated * window
            total = float(products.sum())
            grad_padded[p, q] = total
            input_steps.append(Step((p, q), tuple(int(r) for r in prow), tuple(int(c) for c in pcol),
                                    window, rotated, products, total))
    h, w = conv.input.shape
    top, bottom, left, right = conv.pad
    rmap = padded_index_map(h, top, bottom, conv.border)
    cmap = padded_index_map(w, left, right, conv.border)
    grad_input = np.zeros((h, w))
    for p, r in enumerate(rmap):
        for q, c in enumerate(cmap):
            if r >= 0 and c >= 0:  # a constant border cell (-1) copies no pixel
                grad_input[r, c] += grad_padded[p, q]
    grad_applied = np.empty((kh, kw))
    kernel_steps: list[Step] = []
    for a in range(kh):
        for b in range(kw):
            prow, pcol = a * dh + np.arange(ho) * sh, b * dw + np.arange(wo) * sw
            window = conv.padded[np.ix_(prow, pcol)]
            products = error * window
            total = float(products.sum())
            grad_applied[a, b] = total
            kernel_steps.append(Step((a, b), tuple(int(r) for r in prow), tuple(int(c) for c in pcol),
                                     window, error, products, total))
    grad_kernel = grad_applied[::-1, ::-1].copy() if conv.operation == "convolve" else grad_applied
    return ConvBackward(
        error=error,
        dilated_error=dilated,
        padded_error=padded_error,
        rotated_kernel=rotated,
        grad_padded=grad_padded,
        grad_input=grad_input,
        grad_kernel=grad_kernel,
        input_steps=tuple(input_steps),
        kernel_steps=tuple(kernel_steps),
    )


def explain(
    image: npt.ArrayLike,
    kernel: npt.ArrayLike | None = None,
    *,
    pad: object = 0,
    stride: object = 1,
    dilation: object = 1,
    border: str = "constant",
    border_value: float = 0.0,
    flip: bool = False,
    anchor: tuple[int, int] | None = None,
    pool: str | None = None,
    backward: bool = False,
    grad: npt.ArrayLike | None = None,
) -> Explanation:
    """Explain a correlation (or convolution), pooling and the backward pass step by step.

    Parameters
    ----------
    image : array_like
        A 2-D input of at most :data:`MAX_SIDE` x :data:`MAX_SIDE` finite numbers.
    kernel : array_like, optional
        The 2-D kernel (at most :data:`MAX_SIDE` a side); omit it to explain
        pooling alone.
    pad : {"same", "valid", "full"} or int or tuple of int, optional
        As in :func:`convcli.correlate`, but 0 by default, as in the notes.
    stride, dilation : int or pair of int, optional
        As in :func:`convcli.correlate`.
    border : str, optional
        The border rule, ``constant`` (zero padding, seed 003) by default.
    border_value : float, optional
        The value of the ``constant`` border.
    flip : bool, optional
        True convolution: slide the kernel rotated by 180° (:func:`convcli.convolve`).
    anchor : pair of int, optional
        With ``pad="same"``: the kernel tap on each output pixel.
    pool : str, optional
        Pool the result (or the input, without a kernel): ``max``, ``mean`` or
        ``min`` with ``:size=K,stride=S,pad=P,ceil=true`` (size 2 by default,
        stride the size), e.g. ``"max:size=2"``.
    backward : bool, optional
        Also explain the backward pass, with an error term of ones.
    grad : array_like, optional
        The error term on the final output for the backward pass (implies
        ``backward``); ones by default.

    Returns
    -------
    Explanation

    Raises
    ------
    ShapeError
        For an input or kernel larger than :data:`MAX_SIDE` (crop it), an
        empty output, or a ``grad`` of the wrong shape.
    ParameterError, KernelError
        For bad parameters, as :func:`convcli.correlate` and :func:`convcli.pool`.

    Examples
    --------
    Seed 003's 5x5 example, zero padding 1, stride 2: ``N = (5 + 2*1 - 3)/2 + 1 = 3``.

    >>> x = [[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]]
    >>> e = explain(x, [[1, 0, 1], [0, 1, 0], [1, 0, 1]], pad=1, stride=2)
    >>> e.conv.formula[0]
    'floor((5 + 2*1 - 3) / 2) + 1 = floor(4/2) + 1 = 3'
    >>> e.conv.output
    array([[ 6.,  9.,  2.],
           [12., 17.,  4.],
           [ 0.,  2.,  4.]])
    >>> e.conv.steps[0].rows, e.conv.steps[0].window[0]  # row -1 is the zero border
    ((-1, 0, 1), array([0., 0., 0.]))

    Max pooling 2x2 (seed 003) and where its error goes:

    >>> p = explain([[1, 3], [4, 2]], pool="max:size=2", backward=True)
    >>> p.pool.output, p.pool.steps[0].winner
    (array([[4.]]), (1, 0))
    >>> p.backward.grad_input
    array([[0., 0.],
           [1., 0.]])
    """
    x = _check_input(image)
    if kernel is None and pool is None:
        raise ParameterError("give a kernel, a pooling spec or both; there is nothing to explain")
    conv = None
    if kernel is not None:
        conv = _explain_conv(x, kernel, pad=pad, stride=stride, dilation=dilation, border=border,
                             border_value=border_value, flip=flip, anchor=anchor)
    pooled = None
    if pool is not None:
        pooled = _explain_pool(conv.output if conv is not None else x, _pool_layer(pool))
    result = pooled.output if pooled is not None else conv.output  # type: ignore[union-attr]
    back = None
    if backward or grad is not None:
        if grad is None:
            error = np.ones_like(result)
        else:
            error = np.array(grad, dtype=np.float64)
            if error.shape != result.shape:
                raise ShapeError(
                    f"the error term must have the result's shape {result.shape[0]}x{result.shape[1]}, "
                    f"got {'x'.join(str(v) for v in error.shape) or 'a scalar'}; give one value per output"
                )
            if not np.isfinite(error).all():
                raise ParameterError("the error term must hold finite numbers")
        pool_back = _pool_backward(pooled, error) if pooled is not None else None
        conv_back = None
        if conv is not None:
            conv_back = _conv_backward(conv, pool_back.grad_input if pool_back is not None else error)
        back = Backward(error=error, pool=pool_back, conv=conv_back)
    return Explanation(conv=conv, pool=pooled, backward=back)
