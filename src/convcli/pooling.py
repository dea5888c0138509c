"""Max, mean and min pooling with PyTorch's size rules.

Shapes come from :func:`convcli.shapes.pool_output_size` (PyTorch's
``max_pool2d`` rule, ``ceil_mode`` included).  The stride defaults to the window
(seed 003: 2x2 windows, stride 2).  Max pads with -inf and min with +inf, so
padding never wins; mean averages only the pixels inside the image (PyTorch's
``count_include_pad=False``).  Windows that ``ceil_mode`` lets run past the
padded input see only what is inside.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from .engine import check_image
from .errors import ParameterError
from .shapes import POOL_OPS, pool_output_size, resolve_pool

__all__ = ["POOL_OPS", "PoolOp", "check_pool_op", "pool", "pool_geometry"]

PoolOp: TypeAlias = Literal["max", "mean", "min"]


def _window_counts(n: int, k: int, s: int, p: int, out: int) -> np.ndarray:
    """Per output position along one axis: how many window pixels lie inside the input."""
    start = np.arange(out) * s - p
    return (np.minimum(start + k, n) - np.maximum(start, 0)).astype(np.float64)


def check_pool_op(op: object) -> PoolOp:
    """``op`` when it is one of :data:`POOL_OPS`; else a :class:`ParameterError` listing them.

    Examples
    --------
    >>> check_pool_op("mean")
    'mean'
    >>> check_pool_op("median")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: unknown pooling op 'median'; use one of max, mean, min
    """
    if op not in POOL_OPS:
        raise ParameterError(f"unknown pooling op {op!r}; use one of {', '.join(POOL_OPS)}")
    return op  # type: ignore[return-value]


def pool_geometry(
    image: object,
    size: object,
    *,
    stride: object = None,
    op: str = "max",
    pad: object = 0,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Check a pooling call once, for :func:`pool` and its backward pass.

    Returns ``(image, window, stride, pad, output_size)``, the sizes as pairs
    and the output size from :func:`convcli.shapes.pool_output_size`.

    Examples
    --------
    >>> pool_geometry(np.zeros((5, 5)), 2, ceil_mode=True)[1:]
    ((2, 2), (2, 2), (0, 0), (3, 3))
    """
    check_pool_op(op)
    arr = check_image(image)
    window, step, padding = resolve_pool(size, stride=stride, pad=pad)
    out = pool_output_size(arr.shape[:2], window, stride=step, pad=padding, ceil_mode=ceil_mode)
    return arr, window, step, padding, out


def pool(
    image: np.ndarray,
    size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] | None = None,
    op: PoolOp = "max",
    pad: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
) -> np.ndarray:
    """Pool an image over windows.

    Parameters
    ----------
    image : ndarray
        ``H x W`` or ``H x W x C`` (each channel pooled alike).
    size : int or pair of int
        The window.
    stride : int or pair of int, optional
        Defaults to ``size``.
    op : {"max", "mean", "min"}, optional
        What a window keeps.
    pad : int or pair of int, optional
        Implicit padding, at most half the window.
    ceil_mode : bool, optional
        PyTorch's ``ceil_mode``.

    Returns
    -------
    ndarray
        float64 for float64 images, float32 otherwise.

    Examples
    --------
    >>> x = np.array([[1., 2., 5., 6.], [3., 4., 7., 8.]])
    >>> pool(x, 2)
    array([[4., 8.]])
    >>> pool(x, 2, op="mean")
    array([[2.5, 6.5]])
    >>> pool(x, 2, stride=1, op="min", pad=1).shape
    (3, 5)
    """
    arr, (kh, kw), (sh, sw), (ph, pw), (ho, wo) = pool_geometry(image, size, stride=stride, op=op, pad=pad,
                                                                ceil_mode=ceil_mode)
    h, w = arr.shape[:2]
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    img = arr[:, :, None] if arr.ndim == 2 else arr
    # pad so that every window, including ceil_mode's last one, lies inside the buffer
    need_h, need_w = (ho - 1) * sh + kh, (wo - 1) * sw + kw
    fill = {"max": -np.inf, "min": np.inf, "mean": 0.0}[op]
    buf = np.full((max(need_h, h + ph), max(need_w, w + pw), img.shape[2]), fill, dtype=dtype)
    buf[ph : ph + h, pw : pw + w] = img
    out = np.empty((ho, wo, img.shape[2]), dtype=dtype)
    combine = {"max": np.maximum, "min": np.minimum, "mean": np.add}[op]
    first = True
    for a in range(kh):
        for b in range(kw):
            view = buf[a : a + (ho - 1) * sh + 1 : sh, b : b + (wo - 1) * sw + 1 : sw]
            if first:
                np.copyto(out, view)
                first = False
            else:
                combine(out, view, out=out)
    if op == "mean":
        counts = np.outer(_window_counts(h, kh, sh, ph, ho), _window_counts(w, kw, sw, pw, wo))
        out /= counts.astype(dtype)[:, :, None]
    return out.reshape(ho, wo) if arr.ndim == 2 else out
