"""The convolution engine: 2-D correlation and convolution of image arrays.

Conventions (docs/conventions.md has the tables):

* **Correlation is the default** (the deep-learning convention):
  ``out[i, j] = sum_{a,b} k[a, b] * P[i*s_h + a*d_h, j*s_w + b*d_w]`` where ``P``
  is the padded image.  :func:`convolve` rotates the kernel 180° first.
* **Borders** are numpy.pad's: ``constant`` (``border_value``), ``edge``,
  ``reflect`` (dcb|abcd, the default), ``symmetric`` (cba|abc), ``wrap``.
* **Padding**: ``same``, ``valid``, ``full``, an int, a pair or four ints;
  ``same`` with an even kernel puts the extra row/column bottom/right (anchor
  ``((kh-1)//2, (kw-1)//2)``, PyTorch's ``padding="same"``).
* **Stride** keeps every s-th sample of the stride-1 result; **dilation** is
  PyTorch's.  Shapes come from :func:`convcli.shapes.output_size`.
* **dtypes**: float64 stays float64; float32, float16, integer and bool images
  compute in and return float32 (:func:`work_dtype`); byte order never matters
  (``>f8`` is float64 too).  Inputs are never modified.
* **Methods**: ``direct`` (shift-and-add in row bands on a thread pool),
  ``separable`` (rank-r 1-D passes), ``fft`` (real FFT, overlap-save tiles) and
  ``auto`` (a fitted cost model; see :func:`choose_method`).  Each method is one
  :class:`Method` entry (name, run, granularity, cost, reason) built in its own
  module and registered in ``_registry.py``.
* **Threads**: ``threads=`` or :func:`thread_limit`, never environment
  variables; BLAS runs single-threaded inside the engine's own threads
  (threadpoolctl), so results are the same bytes for any thread count and
  any ``OPENBLAS_NUM_THREADS``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ._borders import (
    BORDER_ALIASES,
    BORDERS,
    Border,
    normalize_border,
    pad_image,
    padded_index_map,
    resolve_border,
)
from ._fft import FFT_MAX_DYNAMIC_RANGE, FFT_TOLERANCE, next_fast_len
from ._method import Method, MethodChoice
from ._nan import NAN_MODES, NanMode, check_mask, check_nan, check_normalizable, runner
from ._plan import Plan, check_image, check_kernel, describe, geometry, make_plan, work_dtype
from ._registry import MethodName, choose, method_names
from ._threads import engine_threads, machine_threads, thread_count, thread_limit

__all__ = [
    "BORDERS",
    "BORDER_ALIASES",
    "FFT_MAX_DYNAMIC_RANGE",
    "FFT_TOLERANCE",
    "METHODS",
    "NAN_MODES",
    "Border",
    "Method",
    "MethodChoice",
    "MethodName",
    "NanMode",
    "check_image",
    "check_kernel",
    "check_mask",
    "check_nan",
    "check_normalizable",
    "choose_method",
    "convolve",
    "correlate",
    "geometry",
    "machine_threads",
    "next_fast_len",
    "normalize_border",
    "pad_image",
    "padded_index_map",
    "resolve_border",
    "thread_count",
    "thread_limit",
    "work_dtype",
]

#: ``auto`` and the registered evaluation methods (``auto`` picks one of them by cost)
METHODS: tuple[str, ...] = method_names()


def choose_method(
    image_shape: tuple[int, ...],
    kernel: object,
    *,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    dtype: DTypeLike = np.float32,
) -> MethodChoice:
    """The method ``method="auto"`` would use for this problem, and why.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``.
    kernel : array_like
        The 2-D kernel.
    pad, stride, dilation : optional
        As in :func:`correlate`.
    dtype : dtype, optional
        The image's dtype (float64 images compute in float64).

    Returns
    -------
    MethodChoice
        ``method``, a readable ``reason`` and the modelled ``costs``.
        On actual data, :func:`correlate` may still avoid ``fft`` when the
        image holds NaN/inf or a huge dynamic range (see ``FFT_MAX_DYNAMIC_RANGE``).
        The choice never depends on the thread count.

    Examples
    --------
    >>> choose_method((3000, 4000), np.ones((3, 3))).method in ("direct", "separable")
    True
    >>> rng = np.random.default_rng(0)
    >>> choose_method((3000, 4000), rng.random((61, 61))).method
    'fft'
    """
    problem = describe(image_shape, kernel, pad=pad, stride=stride, dilation=dilation, dtype=dtype)
    with engine_threads(None):
        return choose(problem)


def _evaluate(plan: Plan, method: str, threads: int | None, nan: str, nan_fill: object,
              mask: object) -> np.ndarray:
    with engine_threads(threads):
        return runner(plan, method, nan=nan, nan_fill=nan_fill, mask=mask).run()


def correlate(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    border: str = "reflect",
    border_value: float = 0.0,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    method: MethodName = "auto",
    anchor: tuple[int, int] | None = None,
    threads: int | None = None,
    nan: NanMode = "propagate",
    nan_fill: float | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """2-D cross-correlation (the deep-learning "convolution") of an image with a kernel.

    ``out[i, j] = sum_{a,b} kernel[a, b] * P[i*s_h + a*d_h, j*s_w + b*d_w]``,
    ``P`` being the image padded by ``pad`` with the ``border`` rule.

    Parameters
    ----------
    image : ndarray
        ``H x W`` or ``H x W x C``; every channel is filtered alike.
    kernel : array_like
        2-D weights of any rectangular size, even sizes too; finite values.
    border : str, optional
        ``constant`` (uses ``border_value``), ``edge``, ``reflect`` (default),
        ``symmetric`` or ``wrap`` (numpy.pad's names and meanings).  Aliases:
        ``zeros``, ``replicate``, ``nearest``, ``circular``, ``reflect101``,
        ``tile``, ``grid-mirror`` and OpenCV's ``BORDER_*`` names; ``mirror`` is
        refused as ambiguous.
    border_value : float, optional
        The value of the ``constant`` border.
    pad : {"same", "valid", "full"} or int or tuple of int, optional
        ``same`` (default) keeps the size at stride 1 (even kernels: extra
        row/column bottom/right); ``valid`` keeps only full overlaps;
        ``full`` every overlap; an int, a pair ``(rows, cols)`` or four ints
        ``(top, bottom, left, right)``.
    stride : int or pair of int, optional
        Keep every s-th sample of the stride-1 result, starting with the first.
    dilation : int or pair of int, optional
        Spacing between kernel taps (PyTorch's meaning).
    method : {"auto", "direct", "separable", "fft"}, optional
        How to evaluate; ``auto`` uses :func:`choose_method` and avoids the
        FFT on data with NaN/inf or a huge dynamic range.
    anchor : pair of int, optional
        With ``pad="same"`` only: the kernel tap placed on each output pixel.
    threads : int, optional
        Threads for this call; by default the :func:`thread_limit` in force,
        else the machine's cores.  The result is the same, bit for bit, for
        any count.
    nan : {"propagate", "ignore"}, optional
        Missing data.  ``propagate`` (default): an output is NaN exactly when
        a non-zero tap of the kernel reads a NaN, with every method.
        ``ignore``: normalised convolution, ``correlate(where(valid, image, 0))
        / correlate(valid)`` with the same kernel, border, pad, stride and
        dilation (astropy.convolution's ``nan_treatment="interpolate"``,
        ``normalize_kernel=True``); kernels summing to about 0 are refused.
    nan_fill : float, optional
        With ``nan="ignore"`` or ``mask``: the output where no valid pixel
        lies under a non-zero tap (default NaN).
    mask : array_like, optional
        ``H x W`` (or ``H x W x C``), non-zero = valid: the pixels to use;
        given, it means normalised convolution as ``nan="ignore"`` (NaN
        pixels are missing too).

    Returns
    -------
    ndarray
        float64 for float64 images, float32 otherwise; 2-D in, 2-D out.

    Raises
    ------
    ParameterError, ShapeError, KernelError
        Naming the parameter, the value and what is allowed.

    Examples
    --------
    >>> image = np.array([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]])
    >>> correlate(image, [[0, 0, 0], [0, 0, 1], [0, 0, 0]], border="constant")
    array([[2., 3., 0.],
           [5., 6., 0.],
           [8., 9., 0.]])
    >>> correlate(image, np.ones((2, 2)), pad="valid")
    array([[12., 16.],
           [24., 28.]])
    >>> correlate(np.zeros((224, 224), np.float32), np.ones((7, 7)), pad=3, stride=2).shape
    (112, 112)
    >>> holes = np.array([[1., np.nan, 3.], [4., 5., np.nan]])
    >>> correlate(holes, np.ones((1, 3)), border="edge")  # a NaN reaches the windows holding it
    array([[nan, nan, nan],
           [13., nan, nan]])
    >>> correlate(holes, np.ones((1, 3)), border="edge", nan="ignore").round(3)  # the mean of valid pixels
    array([[1.   , 2.   , 3.   ],
           [4.333, 4.5  , 5.   ]])
    """
    plan = make_plan(
        image, kernel, flip=False, border=border, border_value=border_value,
        pad=pad, stride=stride, dilation=dilation, anchor=anchor,
    )
    return _evaluate(plan, method, threads, nan, nan_fill, mask)


def convolve(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    border: str = "reflect",
    border_value: float = 0.0,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    method: MethodName = "auto",
    anchor: tuple[int, int] | None = None,
    threads: int | None = None,
    nan: NanMode = "propagate",
    nan_fill: float | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """True 2-D convolution: :func:`correlate` with the kernel rotated 180°.

    ``out[i, j] = sum_{a,b} kernel[a, b] * P[i - a + c_h, j - b + c_w]`` at
    stride 1.  Under ``pad="same"`` the default anchor is ``(kh//2, kw//2)`` of
    the *unrotated* kernel (the tap that multiplies the pixel itself; for odd
    kernels the centre), which matches ``scipy.ndimage.convolve``.  ``anchor``
    is given in the unrotated kernel's coordinates.  All other parameters
    (``threads``, ``nan``, ``nan_fill`` and ``mask`` too) are as in :func:`correlate`.

    Examples
    --------
    >>> convolve(np.array([[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]]), [[1, 2, 3]], border="constant")
    array([[0., 0., 0.],
           [1., 2., 3.],
           [0., 0., 0.]])
    >>> convolve(np.array([[2., 4.]]), [[7, 3, 1]], pad="full", border="constant")  # 42 x 137
    array([[14., 34., 14.,  4.]])
    >>> convolve(np.array([[2., 0., 4.]]), [[1, 1, 1]], mask=[[1, 0, 1]], border="constant", border_value=np.nan)
    array([[2., 3., 4.]])
    """
    plan = make_plan(
        image, kernel, flip=True, border=border, border_value=border_value,
        pad=pad, stride=stride, dilation=dilation, anchor=anchor,
    )
    return _evaluate(plan, method, threads, nan, nan_fill, mask)
