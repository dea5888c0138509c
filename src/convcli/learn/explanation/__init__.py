"""Step-by-step explanations of correlation, convolution, pooling and their backward pass.

Convolution is taught on small matrices: pad the input, slide
the kernel, multiply each window by the weights and add the products up
(``cov(i, j) = sum_m sum_n w[m, n] * x[i + m, j + n]``), the output
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

Unlike ``convcli apply``, the defaults are the textbook ones: no padding (``pad=0``)
and a zero border (``border="constant"``).

================ ==============================================================
module           owns
================ ==============================================================
``_data``        the dataclasses returned (every step), and their ``to_dict()``
``_forward``     the correlation and pooling windows
``_backward``    the error through pooling and correlation
``inputs``       inline matrices and image files to explain (``--image``)
================ ==============================================================

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

import numpy as np
import numpy.typing as npt

from ...errors import ParameterError, ShapeError, usage_errors
from ...layer_specs import parse_pool
from ...layers import Layer
from ._backward import conv_backward_steps, pool_backward_steps
from ._data import (
    Backward,
    ConvBackward,
    ConvExplanation,
    Explanation,
    PoolBackward,
    PoolExplanation,
    PoolRoute,
    PoolStep,
    Step,
)
from ._forward import MAX_SIDE, check_input, explain_conv, explain_pool
from .inputs import parse_matrix, read_input

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
    "explain_specs",
    "parse_matrix",
    "read_input",
]


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
    pool: str | Layer | None = None,
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
        As in :func:`convcli.correlate`, but 0 by default, as in textbook examples.
    stride, dilation : int or pair of int, optional
        As in :func:`convcli.correlate`.
    border : str, optional
        The border rule, ``constant`` (zero padding) by default.
    border_value : float, optional
        The value of the ``constant`` border.
    flip : bool, optional
        True convolution: slide the kernel rotated by 180° (:func:`convcli.convolve`).
    anchor : pair of int, optional
        With ``pad="same"``: the kernel tap on each output pixel.
    pool : str or Layer, optional
        Pool the result (or the input, without a kernel): ``max``, ``mean`` or
        ``min`` with ``:size=K,stride=S,pad=P,ceil=true`` (size 2 by default,
        stride the size), e.g. ``"max:size=2"``, read by
        :func:`convcli.layer_specs.parse_pool`; or a layer it made.
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
    The classic 5x5 exercise, zero padding 1, stride 2: ``N = (5 + 2*1 - 3)/2 + 1 = 3``.

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

    Max pooling 2x2 and where its error goes:

    >>> p = explain([[1, 3], [4, 2]], pool="max:size=2", backward=True)
    >>> p.pool.output, p.pool.steps[0].winner
    (array([[4.]]), (1, 0))
    >>> p.backward.grad_input
    array([[0., 0.],
           [1., 0.]])
    """
    x = check_input(image)
    if kernel is None and pool is None:
        raise ParameterError("give a kernel, a pooling spec or both; there is nothing to explain")
    conv = None
    if kernel is not None:
        conv = explain_conv(x, kernel, pad=pad, stride=stride, dilation=dilation, border=border,
                             border_value=border_value, flip=flip, anchor=anchor)
    pooled = None
    if pool is not None:
        layer = pool if isinstance(pool, Layer) else parse_pool(pool, what="pooling spec")
        pooled = explain_pool(conv.output if conv is not None else x, layer)
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
        pool_back = pool_backward_steps(pooled, error) if pooled is not None else None
        conv_back = None
        if conv is not None:
            conv_back = conv_backward_steps(conv, pool_back.grad_input if pool_back is not None else error)
        back = Backward(error=error, pool=pool_back, conv=conv_back)
    return Explanation(conv=conv, pool=pooled, backward=back)


def explain_specs(
    image: str,
    kernel: str | None = None,
    *,
    crop: tuple[int, int, int, int] | None = None,
    channel: int | None = None,
    grad: str | None = None,
    pad: object = 0,
    stride: object = 1,
    dilation: object = 1,
    border: str = "constant",
    border_value: float = 0.0,
    flip: bool = False,
    pool: str | None = None,
    backward: bool = False,
) -> Explanation:
    """:func:`explain` for what a user types: an inline matrix or image file, a kernel spec.

    Parameters
    ----------
    image : str
        An inline matrix (``"1 2 3; 4 5 6"``) or an image / ``.npy`` file
        (``@path`` or a path), see :func:`read_input`.
    kernel : str, optional
        A kernel spec (:func:`convcli.kernels.kernel`): inline, named or a
        file.  Its anchor (from a file) is used with ``pad="same"``.
    crop, channel : optional
        The part of an image file to explain, see :func:`read_input`.
    grad : str, optional
        The error term on the result, an inline matrix; implies ``backward``.
    pad, stride, dilation, border, border_value, flip, pool, backward : optional
        As in :func:`explain`.

    Returns
    -------
    Explanation

    Examples
    --------
    >>> e = explain_specs("1 2 3; 4 5 6; 7 8 9", "box:size=2", grad="1 0; 0 1")
    >>> e.conv.output.tolist(), e.backward.conv.grad_kernel.tolist()
    ([[3.0, 4.0], [6.0, 7.0]], [[6.0, 8.0], [12.0, 14.0]])
    """
    from ...engine import resolve_border
    from ...kernels import kernel as load_kernel

    with usage_errors():  # option values: the same words and exit code as apply's --border and --pool
        resolve_border(border, border_value)
        pool_spec = None if pool is None else parse_pool(pool, what="--pool")
    x = read_input(image, crop=crop, channel=channel)
    matrix, anchor = None, None
    if kernel is not None:
        k = load_kernel(kernel)
        matrix = k.matrix
        anchor = k.anchor if pad == "same" else None
    error = parse_matrix(grad, what="--grad") if grad is not None else None
    return explain(
        x, matrix, pad=pad, stride=stride, dilation=dilation, border=border, border_value=border_value,
        flip=flip, anchor=anchor, pool=pool_spec, backward=backward, grad=error,
    )
