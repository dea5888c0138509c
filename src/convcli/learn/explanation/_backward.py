"""The backward pass, step by step (seed 003): the error through pooling and correlation.

The error on the input and the kernel gradient equal :mod:`convcli.gradients`
(which also undoes the stride and folds the padding back for them here);
the steps show every sum that makes them.

Examples
--------
>>> from convcli.learn.explanation import explain
>>> back = explain([[1, 2], [3, 4]], [[1, 1]], backward=True).backward
>>> back.conv.grad_input.tolist(), back.conv.grad_kernel.tolist()
([[1.0, 1.0], [1.0, 1.0]], [[4.0, 6.0]])
"""

from __future__ import annotations

import numpy as np

from ...gradients import dilate_error, fold_padding
from ...shapes import effective_size
from ._data import ConvBackward, ConvExplanation, Matrix, PoolBackward, PoolExplanation, PoolRoute, Step

__all__ = ["conv_backward_steps", "pool_backward_steps"]


def pool_backward_steps(pool: PoolExplanation, error: Matrix) -> PoolBackward:
    """Where each error term of a pooling goes: to the winner (max/min) or shared (mean).

    Examples
    --------
    >>> from convcli.learn.explanation import explain
    >>> pool = explain([[1, 3], [4, 2]], pool="mean").pool
    >>> pool_backward_steps(pool, np.array([[8.0]])).grad_input.tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """
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


def conv_backward_steps(conv: ConvExplanation, error: Matrix) -> ConvBackward:
    """The error through a correlation, every sum of its input and kernel gradients.

    Examples
    --------
    >>> from convcli.learn.explanation import explain
    >>> conv = explain([[1, 2, 3]], [[1, 1]]).conv
    >>> back = conv_backward_steps(conv, np.array([[1.0, 1.0]]))
    >>> back.grad_input.tolist(), back.grad_kernel.tolist(), len(back.kernel_steps)
    ([[1.0, 2.0, 1.0]], [[3.0, 5.0]], 2)
    """
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    kh, kw = conv.applied.shape
    ho, wo = error.shape
    dilated = dilate_error(error, (sh, sw))
    er, ec = effective_size(kh, dh) - 1, effective_size(kw, dw) - 1  # 'full' padding of the error
    padded_error = np.pad(dilated, ((er, er), (ec, ec)))
    rotated = np.ascontiguousarray(conv.applied[::-1, ::-1])
    grad_padded = np.zeros_like(conv.padded)
    input_steps: list[Step] = []
    # every padded cell some window touched: the full correlation of the padded error with the rotated kernel
    for p in range(dilated.shape[0] + er):
        for q in range(dilated.shape[1] + ec):
            step = Step.weighted_sum((p, q), padded_error, p + np.arange(kh) * dh, q + np.arange(kw) * dw, rotated)
            grad_padded[p, q] = step.sum
            input_steps.append(step)
    grad_input = fold_padding(grad_padded, conv.input.shape, conv.pad, border=conv.border)
    grad_applied = np.empty((kh, kw))
    kernel_steps: list[Step] = []
    for a in range(kh):
        for b in range(kw):
            step = Step.weighted_sum((a, b), conv.padded, a * dh + np.arange(ho) * sh, b * dw + np.arange(wo) * sw,
                                     error)
            grad_applied[a, b] = step.sum
            kernel_steps.append(step)
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
        error_pad=(er, ec),
    )

