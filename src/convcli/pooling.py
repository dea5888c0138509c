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

__all__ = ["PoolOp", "check_pool_op", "pool", "pool_geometry", "pool_input_rows", "pool_rows"]

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
    arr, window, step, padding, out_hw = pool_geometry(image, size, stride=stride, op=op, pad=pad,
                                                       ceil_mode=ceil_mode)
    img = arr[:, :, None] if arr.ndim == 2 else arr
    out = pool_rows(img, 0, img.shape[:2], window, step, padding, out_hw, op=op, rows=(0, out_hw[0]))
    return out.reshape(out_hw) if arr.ndim == 2 else out


def pool_input_rows(window: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int],
                    rows: tuple[int, int], height: int) -> tuple[int, int]:
    """The image rows ``[r0, r1)`` that output rows ``rows`` of a pooling read (clipped to the image).

    Examples
    --------
    >>> pool_input_rows((2, 2), (2, 2), (0, 0), (3, 5), 9)
    (6, 9)
    """
    first = rows[0] * stride[0] - pad[0]
    last = (rows[1] - 1) * stride[0] - pad[0] + window[0]
    return max(first, 0), min(last, height)


def pool_rows(band: np.ndarray, first: int, hw: tuple[int, int], window: tuple[int, int], stride: tuple[int, int],
              pad: tuple[int, int], out_hw: tuple[int, int], *, op: str, rows: tuple[int, int]) -> np.ndarray:
    """Output rows ``rows`` of a pooling of an ``hw`` image from the image rows it reads.

    ``band`` (``n x W x C``) holds image rows ``[first, first + n)``, at
    least :func:`pool_input_rows`; the geometry is :func:`pool_geometry`'s.
    Each output is the same window reduction as in :func:`pool`, so strips
    equal the rows of the whole result exactly.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(4, 4, 1)
    >>> pool_rows(x[2:], 2, (4, 4), (2, 2), (2, 2), (0, 0), (2, 2), op="max", rows=(1, 2))[..., 0]
    array([[13., 15.]])
    """
    (h, w), (kh, kw), (sh, sw), (ph, pw), (_, wo) = hw, window, stride, pad, out_hw
    i0, i1 = rows
    n = i1 - i0
    dtype = np.float64 if band.dtype == np.float64 else np.float32
    # the padded rows these outputs read, with every window (ceil_mode's last one too) inside the buffer
    p0 = i0 * sh
    need_h, need_w = (n - 1) * sh + kh, (wo - 1) * sw + kw
    fill = {"max": -np.inf, "min": np.inf, "mean": 0.0}[op]
    buf = np.full((need_h, max(need_w, w + pw), band.shape[2]), fill, dtype=dtype)
    r0, r1 = max(p0 - ph, 0), min(p0 - ph + need_h, h)
    if r1 > r0:
        buf[r0 + ph - p0 : r1 + ph - p0, pw : pw + w] = band[r0 - first : r1 - first]
    out = np.empty((n, wo, band.shape[2]), dtype=dtype)
    combine = {"max": np.maximum, "min": np.minimum, "mean": np.add}[op]
    first_tap = True
    for a in range(kh):
        for b in range(kw):
            view = buf[a : a + (n - 1) * sh + 1 : sh, b : b + (wo - 1) * sw + 1 : sw]
            if first_tap:
                np.copyto(out, view)
                first_tap = False
            else:
                combine(out, view, out=out)
    if op == "mean":
        counts = np.outer(_window_counts(h, kh, sh, ph, out_hw[0])[i0:i1], _window_counts(w, kw, sw, pw, wo))
        out /= counts.astype(dtype)[:, :, None]
    return out
