"""The forward pass, step by step: every window of a correlation or a pooling.

The sizes come from :mod:`convcli.shapes` (the pooling spec from
:func:`convcli.layer_specs.parse_pool`, the one pooling parser), the border from
the engine's :func:`~convcli.engine.normalize_border` rules and its padded
image, so the numbers equal :func:`convcli.correlate` and :func:`convcli.pool`.

Examples
--------
>>> conv = explain_conv(check_input([[1, 2, 3]]), [[1, 1]], pad=0, stride=1, dilation=1,
...                     border="constant", border_value=0.0, flip=False, anchor=None)
>>> [step.sum for step in conv.steps]
[3.0, 5.0]
>>> from convcli.layer_specs import parse_pool
>>> explain_pool(check_input([[1, 3], [4, 2]]), parse_pool("max")).output.tolist()
[[4.0]]
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from ...engine import check_kernel, geometry, pad_image, resolve_border
from ...errors import ParameterError, ShapeError
from ...layers import Layer, chain_sizes
from ...pooling import pool_geometry
from ._data import ConvExplanation, Matrix, PoolExplanation, PoolStep, Step

__all__ = ["MAX_SIDE", "check_input", "explain_conv", "explain_pool"]

#: the largest input and kernel side, and the most padding on a side, that are explained
MAX_SIDE: Final = 16


def check_input(image: npt.ArrayLike) -> Matrix:
    """The input as a finite 2-D float64 matrix of at most :data:`MAX_SIDE` a side.

    Examples
    --------
    >>> check_input([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
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
            f"give a smaller matrix, or for an image file a crop, e.g. a {min(h, 8)}x{min(w, 8)} corner "
            f"(--crop 0,0,{min(w, 8)},{min(h, 8)}, i.e. --crop x,y,w,h)"
        )
    return x


def _conv_formula(
    hw: tuple[int, int],
    kshape: tuple[int, int],
    pads: tuple[int, int, int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[str, str]:
    """Seed 003's size formula with the numbers in, from :func:`convcli.layers.chain_sizes`."""
    top, bottom, left, right = pads
    if top == bottom and left == right:
        layer = Layer.conv(kshape, stride=stride, pad=(top, left), dilation=dilation)
    else:  # chain_sizes resolves any pad resolve_pad accepts, asymmetric ones too
        layer = Layer("conv", kshape, stride, pads, dilation, text="conv")
    return chain_sizes(hw, [layer])[0].formula



def explain_conv(
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
    """Every window of a correlation (a convolution with ``flip``) of a checked input.

    The options are :func:`convcli.learn.explain`'s; the sizes, pads and
    the flipped anchor come from the engine's own geometry.

    Examples
    --------
    >>> conv = explain_conv(check_input([[1, 2], [3, 4]]), [[1, 2]], pad=0, stride=1, dilation=1,
    ...                     border="constant", border_value=0.0, flip=True, anchor=None)
    >>> conv.applied.tolist(), conv.output.tolist()
    ([[2.0, 1.0]], [[4.0], [10.0]])
    """
    k = check_kernel(kernel)
    kh, kw = (int(v) for v in k.shape)
    if max(kh, kw) > MAX_SIDE:
        raise ShapeError(f"the kernel is {kh}x{kw}, but explain shows kernels up to {MAX_SIDE}x{MAX_SIDE}")
    mode, value = resolve_border(border, border_value)
    h, w = x.shape
    applied, pads, st, dil, (ho, wo) = geometry(
        (h, w), k, flip=flip, pad=pad, stride=stride, dilation=dilation, anchor=anchor
    )
    if max(pads) > MAX_SIDE:
        raise ShapeError(
            f"the padding {pads} (top, bottom, left, right) is more than explain shows ({MAX_SIDE} a side)"
        )
    top, _, left, _ = pads
    padded = pad_image(x, pads, border=mode, border_value=value)
    inside_r = (np.arange(padded.shape[0]) >= top) & (np.arange(padded.shape[0]) < top + h)
    inside_c = (np.arange(padded.shape[1]) >= left) & (np.arange(padded.shape[1]) < left + w)
    border_cells = ~(inside_r[:, None] & inside_c[None, :])
    (sh, sw), (dh, dw) = st, dil
    steps: list[Step] = []
    output = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            step = Step.weighted_sum((i, j), padded, i * sh + np.arange(kh) * dh, j * sw + np.arange(kw) * dw,
                                     applied, origin=(top, left))
            output[i, j] = step.sum
            steps.append(step)
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


def explain_pool(x: Matrix, layer: Layer) -> PoolExplanation:
    """Every window of a pooling layer over a checked input.

    Examples
    --------
    >>> from convcli.layer_specs import parse_pool
    >>> pool = explain_pool(check_input([[1, 3], [4, 2]]), parse_pool("max"))
    >>> pool.output.tolist(), pool.steps[0].winner
    ([[4.0]], (1, 0))
    """
    op = layer.op or "max"
    h, w = x.shape
    shape = chain_sizes((h, w), [layer])[0]  # checks the pad against the window, names the layer
    _, (kh, kw), (sh, sw), (ph, pw), (ho, wo) = pool_geometry(
        x, layer.kernel, stride=layer.stride, op=op, pad=layer.pad, ceil_mode=layer.ceil_mode
    )
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

