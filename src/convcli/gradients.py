"""The backward pass of correlation and pooling (seed 003): gradients for training.

A convolution layer computes ``out = correlate(image, kernel)``; training needs,
for an error term ``delta = dL/d out`` coming back from the next layer, the
error on the input (to pass further back) and the gradient of the kernel (to
update the weights).  For ``out[i, j] = sum_{a,b} k[a, b] * P[i*s + a*d, j*s + b*d]``
(``P`` the padded input, ``s`` the stride, ``d`` the dilation):

* **error on the input** -- insert ``s - 1`` zeros between the error terms
  (undoing the stride), then take the *full convolution* with the kernel
  (a full correlation with the kernel rotated 180°)::

      dL/dP[p, q] = sum_{a,b} k[a, b] * D[p - a*d, q - b*d],   D = delta dilated by s

  and crop the padding off (zero padding), or fold it back onto the pixels it
  copied (``edge``, ``reflect``, ``symmetric``, ``wrap``);
* **kernel gradient** -- the correlation of the padded input with the error::

      dL/dk[a, b] = sum_{i,j} delta[i, j] * P[a*d + i*s, b*d + j*s]

Pooling (seed 003): max pooling routes each error term to the position that
won its window (the first maximum in row-major order of the window, as
PyTorch); mean pooling spreads it evenly, ``delta / n``, over the ``n`` pixels
of the window that lie inside the image (``count_include_pad=False``).

Both functions agree with ``torch.autograd`` through ``conv2d``, ``max_pool2d``
and ``avg_pool2d(count_include_pad=False)`` (see the tests).

Examples
--------
>>> x = np.arange(16.0).reshape(4, 4)
>>> gx, gk = correlate_backward(np.ones((2, 2)), x, np.ones((3, 3)), pad="valid")
>>> gx
array([[1., 2., 2., 1.],
       [2., 4., 4., 2.],
       [2., 4., 4., 2.],
       [1., 2., 2., 1.]])
>>> gk
array([[10., 14., 18.],
       [26., 30., 34.],
       [42., 46., 50.]])
>>> pool_backward(np.ones((2, 2)), x, 2)
array([[0., 0., 0., 0.],
       [0., 1., 0., 1.],
       [0., 0., 0., 0.],
       [0., 1., 0., 1.]])
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from .engine import (
    check_image,
    check_kernel,
    convolve,
    geometry,
    pad_image,
    padded_index_map,
    resolve_border,
    work_dtype,
)
from .errors import ParameterError, ShapeError
from .pooling import pool_geometry
from .shapes import as_pair

__all__ = ["PoolOp", "correlate_backward", "dilate_error", "fold_padding", "pool_backward"]

PoolOp: TypeAlias = Literal["max", "mean", "min"]


def _result_dtype(*arrays: np.ndarray) -> np.dtype:
    """float64 when any input computes in float64 (:func:`~convcli.engine.work_dtype`), float32 otherwise."""
    return max((work_dtype(a.dtype) for a in arrays), key=lambda d: d.itemsize)


def _check_grad(grad_output: object, image: np.ndarray, expected_hw: tuple[int, int], what: str) -> np.ndarray:
    """``grad_output`` as float64 with the forward output's shape (channels as the image)."""
    try:
        grad = np.asarray(grad_output)
    except (TypeError, ValueError) as err:  # pragma: no cover - numpy accepts nearly anything
        raise ParameterError(f"grad_output must be an array of numbers: {err}") from None
    if grad.dtype.kind not in "biuf":
        raise ParameterError(f"grad_output must hold real numbers, got dtype {grad.dtype}")
    expected = expected_hw + image.shape[2:]
    if grad.shape != expected:
        raise ShapeError(
            f"grad_output must have the shape of the forward output, {expected} ({what}), "
            f"got {grad.shape}; pass the error term for every output value"
        )
    return grad


def dilate_error(grad_output: npt.ArrayLike, stride: object = 1) -> np.ndarray:
    """Undo a stride: put ``s - 1`` zeros between neighbouring error terms.

    A strided correlation keeps every ``s``-th sample of the stride-1 result
    (seed 004); the error of the samples it dropped is 0.

    Parameters
    ----------
    grad_output : array_like
        ``H x W`` or ``H x W x C`` error terms.
    stride : int or pair of int, optional
        The forward stride ``(rows, cols)``.

    Returns
    -------
    ndarray of float64
        ``((H-1)*s_h + 1) x ((W-1)*s_w + 1)`` (channels kept).

    Examples
    --------
    >>> dilate_error([[1, 2], [3, 4]], 2)
    array([[1., 0., 2.],
           [0., 0., 0.],
           [3., 0., 4.]])
    """
    grad = np.asarray(grad_output, dtype=np.float64)
    if grad.ndim not in (2, 3) or min(grad.shape) < 1:
        raise ParameterError(f"grad_output must be a non-empty H x W or H x W x C array, got shape {grad.shape}")
    sh, sw = as_pair(stride, "stride")
    h, w = grad.shape[:2]
    out = np.zeros(((h - 1) * sh + 1, (w - 1) * sw + 1, *grad.shape[2:]))
    out[::sh, ::sw] = grad
    return out


def fold_padding(
    grad_padded: npt.ArrayLike, shape: tuple[int, ...], pads: tuple[int, int, int, int], *, border: str
) -> np.ndarray:
    """The gradient on the pixels from the gradient on the padded image.

    Zero padding drops the border's share; the other borders copied pixels, so
    their share goes back onto the pixel each border cell was copied from.

    Parameters
    ----------
    grad_padded : array_like
        The gradient on the padded image, ``(H + top + bottom) x (W + left + right)``
        (channels trailing).
    shape : tuple of int
        The image's shape ``(H, W)`` or ``(H, W, C)``.
    pads : tuple of int
        ``(top, bottom, left, right)``.
    border : str
        The forward border rule (a numpy.pad name or alias).

    Returns
    -------
    ndarray of float64
        A new array of the image's shape.

    Examples
    --------
    >>> g = np.ones((1, 4))
    >>> fold_padding(g, (1, 2), (0, 0, 1, 1), border="constant")
    array([[1., 1.]])
    >>> fold_padding(g, (1, 2), (0, 0, 1, 1), border="edge")  # each edge pixel was copied once more
    array([[2., 2.]])
    """
    mode, _ = resolve_border(border)
    grad_padded = np.asarray(grad_padded, dtype=np.float64)
    top, bottom, left, right = pads
    h, w = shape[:2]
    if mode == "constant":
        return grad_padded[top : top + h, left : left + w].copy()
    rmap = padded_index_map(h, top, bottom, mode)
    cmap = padded_index_map(w, left, right, mode)
    rows = np.zeros((h, *grad_padded.shape[1:]))
    np.add.at(rows, rmap, grad_padded)
    out = np.zeros((w, h, *grad_padded.shape[2:]))
    np.add.at(out, cmap, np.swapaxes(rows, 0, 1))
    return np.swapaxes(out, 0, 1)


def correlate_backward(
    grad_output: npt.ArrayLike,
    image: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    border: str = "constant",
    border_value: float = 0.0,
    anchor: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`convcli.correlate` with respect to the image and the kernel.

    For ``out = correlate(image, kernel, border=border, pad=pad, stride=stride,
    dilation=dilation)`` and an error term ``grad_output = dL/d out``, returns
    ``dL/d image`` (the full convolution of the stride-dilated error with the
    kernel, cropped to the image or folded back for copying borders) and
    ``dL/d kernel`` (the correlation of the padded image with the error); see
    the module's docstring for the formulas.

    Parameters
    ----------
    grad_output : array_like
        The error term, shaped like the forward output (``H' x W'``, or
        ``H' x W' x C`` for a ``C``-channel image).
    image : array_like
        The forward input, ``H x W`` or ``H x W x C`` (every channel filtered
        with the same kernel, so the kernel gradient sums over channels).
    kernel : array_like
        The 2-D kernel of the forward pass.
    pad, stride, dilation, anchor : optional
        As in :func:`convcli.correlate`.
    border : str, optional
        The forward border rule; ``constant`` (zero padding, the default here,
        as in a CNN) drops the border's gradient, ``edge``, ``reflect``,
        ``symmetric`` and ``wrap`` add it to the pixels the border copied.
    border_value : float, optional
        The value of the ``constant`` border; it enters the kernel gradient
        (the border cells are multiplied by the taps), not the image gradient.

    Returns
    -------
    grad_image : ndarray
        Shaped like ``image``.
    grad_kernel : ndarray
        Shaped like ``kernel``.
        Both are float64 when the image or the error is float64, float32 otherwise.

    Raises
    ------
    ShapeError
        If ``grad_output`` does not have the forward output's shape.
    ParameterError, KernelError
        For bad parameters, as :func:`convcli.correlate`.

    Examples
    --------
    Seed 003's 5x5 example with zero padding 1 and stride 2, error 1 everywhere:

    >>> x = np.array([[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]], float)
    >>> k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
    >>> gx, gk = correlate_backward(np.ones((3, 3)), x, k, pad=1, stride=2)
    >>> gx
    array([[1., 0., 1., 0., 1.],
           [0., 4., 0., 4., 0.],
           [1., 0., 1., 0., 1.],
           [0., 4., 0., 4., 0.],
           [1., 0., 1., 0., 1.]])
    >>> gk
    array([[ 8., 15.,  8.],
           [14., 24., 14.],
           [ 8., 15.,  8.]])
    """
    arr = check_image(image)
    k = check_kernel(kernel)
    mode, value = resolve_border(border, border_value)
    kshape = (int(k.shape[0]), int(k.shape[1]))
    h, w = int(arr.shape[0]), int(arr.shape[1])
    _, pads, st, dil, out_hw = geometry(
        (h, w), k, flip=False, pad=pad, stride=stride, dilation=dilation, anchor=anchor
    )
    grad = _check_grad(grad_output, arr, out_hw, f"a {h}x{w} image, a {kshape[0]}x{kshape[1]} kernel, "
                       f"pad {pads}, stride {st}, dilation {dil}")
    dtype = _result_dtype(arr, grad)
    g = grad.astype(np.float64)

    # error on the padded input: full convolution of the stride-dilated error with the kernel
    dilated = dilate_error(g, st)
    partial = convolve(dilated, k, pad="full", border="constant", dilation=dil)
    top, bottom, left, right = pads
    grad_padded = np.zeros((h + top + bottom, w + left + right, *arr.shape[2:]))
    grad_padded[: partial.shape[0], : partial.shape[1]] = partial  # rows/cols past the last window get none
    grad_image = fold_padding(grad_padded, arr.shape, pads, border=mode)

    # kernel gradient: correlation of the padded input with the error, one tap at a time
    padded = pad_image(arr, pads, border=mode, border_value=value)
    (ho, wo), (sh, sw), (dh, dw) = out_hw, st, dil
    grad_kernel = np.empty(kshape)
    for a in range(kshape[0]):
        for b in range(kshape[1]):
            window = padded[a * dh : a * dh + (ho - 1) * sh + 1 : sh, b * dw : b * dw + (wo - 1) * sw + 1 : sw]
            grad_kernel[a, b] = np.vdot(window, g)
    return grad_image.astype(dtype), grad_kernel.astype(dtype)


def pool_backward(
    grad_output: npt.ArrayLike,
    image: npt.ArrayLike,
    size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] | None = None,
    op: PoolOp = "max",
    pad: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
) -> np.ndarray:
    """Gradient of :func:`convcli.pool` with respect to the image.

    ``max`` (and ``min``) route each error term to the pixel that won its
    window: the first maximum (minimum) in row-major order of the window, as
    PyTorch's ``max_pool2d`` (a NaN wins, the last one if several).  Where
    windows overlap, a pixel that wins several collects all their terms.
    ``mean`` spreads each error term evenly, ``delta / n``, over the ``n``
    window pixels inside the image (padding is not counted, PyTorch's
    ``count_include_pad=False``).

    Parameters
    ----------
    grad_output : array_like
        The error term, shaped like the pooled output (channels as the image).
    image : array_like
        The forward input, ``H x W`` or ``H x W x C``.
    size, stride, op, pad, ceil_mode : optional
        As in :func:`convcli.pool`.

    Returns
    -------
    ndarray
        Shaped like ``image``; float64 when the image or the error is
        float64, float32 otherwise.

    Raises
    ------
    ShapeError
        If ``grad_output`` does not have the pooled output's shape.

    Examples
    --------
    Seed 003: the error of a 2x2 max pool goes to the winner, the others get 0;
    a mean pool gives each pixel a quarter:

    >>> x = np.array([[1., 3.], [4., 2.]])
    >>> pool_backward([[8.0]], x, 2)
    array([[0., 0.],
           [8., 0.]])
    >>> pool_backward([[8.0]], x, 2, op="mean")
    array([[2., 2.],
           [2., 2.]])
    >>> pool_backward([[1.0]], np.array([[5., 5.], [5., 5.]]), 2)  # a tie: the first in row-major order
    array([[1., 0.],
           [0., 0.]])
    """
    arr, (kh, kw), (sh, sw), (ph, pw), (ho, wo) = pool_geometry(image, size, stride=stride, op=op, pad=pad,
                                                                ceil_mode=ceil_mode)
    h, w = int(arr.shape[0]), int(arr.shape[1])
    grad = _check_grad(grad_output, arr, (ho, wo), f"{op} pooling of a {h}x{w} image with a {kh}x{kw} window, "
                       f"stride {(sh, sw)}, pad {(ph, pw)}, ceil_mode={ceil_mode}")
    dtype = _result_dtype(arr, grad)
    g = grad.astype(np.float64).reshape(ho, wo, -1)
    x = arr.astype(np.float64).reshape(h, w, -1)
    channels = x.shape[2]
    # which window taps lie inside the image, per output row / column
    rows_in = (np.arange(ho)[:, None] * sh - ph + np.arange(kh)[None, :])
    cols_in = (np.arange(wo)[:, None] * sw - pw + np.arange(kw)[None, :])
    row_ok = (rows_in >= 0) & (rows_in < h)
    col_ok = (cols_in >= 0) & (cols_in < w)
    buf_h, buf_w = max((ho - 1) * sh + kh, h + ph), max((wo - 1) * sw + kw, w + pw)
    out = np.zeros((buf_h, buf_w, channels))
    if op == "mean":
        counts = np.outer(row_ok.sum(axis=1), col_ok.sum(axis=1))
        share = g / counts[:, :, None]
        for a in range(kh):
            for b in range(kw):
                out[a : a + (ho - 1) * sh + 1 : sh, b : b + (wo - 1) * sw + 1 : sw] += share
        result = out[ph : ph + h, pw : pw + w]
    else:
        buf = np.zeros((buf_h, buf_w, channels))
        buf[ph : ph + h, pw : pw + w] = x if op == "max" else -x
        best = np.full((ho, wo, channels), -np.inf)
        winner = np.full((ho, wo, channels), -1, dtype=np.intp)
        for a in range(kh):
            for b in range(kw):
                view = buf[a : a + (ho - 1) * sh + 1 : sh, b : b + (wo - 1) * sw + 1 : sw]
                inside = (row_ok[:, a][:, None] & col_ok[:, b][None, :])[:, :, None]
                # PyTorch: take a value when it is larger or NaN; the first inside tap starts the window
                take = inside & ((view > best) | np.isnan(view) | (winner < 0))
                best = np.where(take, view, best)
                winner = np.where(take, a * kw + b, winner)
        i, j, c = np.indices((ho, wo, channels))
        rows = i * sh + winner // kw  # buffer coordinates
        cols = j * sw + winner % kw
        np.add.at(out, (rows, cols, c), g)
        result = out[ph : ph + h, pw : pw + w]
    return result.reshape(arr.shape).astype(dtype)
