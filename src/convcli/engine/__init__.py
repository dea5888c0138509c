"""The convolution engine: 2-D correlation and convolution of image arrays.

Conventions (see the README for the tables):

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
  compute in and return float32.  Inputs are never modified.
* **Methods**: ``direct`` (shift-and-add in row bands on a thread pool),
  ``separable`` (rank-r 1-D passes), ``fft`` (real FFT, overlap-save tiles) and
  ``auto`` (a fitted cost model; see :func:`choose_method`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import DTypeLike

from ..shapes import as_pair, output_size, resolve_pad
from . import _direct, _fft, _separable
from ._borders import BORDER_ALIASES, BORDERS, Border, normalize_border
from ._cost import MethodChoice, estimate
from ._plan import Plan, check_kernel, make_plan, work_dtype
from ._threads import thread_count

__all__ = [
    "BORDERS",
    "BORDER_ALIASES",
    "METHODS",
    "Border",
    "Method",
    "MethodChoice",
    "choose_method",
    "convolve",
    "correlate",
    "correlate_strips",
    "normalize_border",
]

Method: TypeAlias = Literal["auto", "direct", "separable", "fft"]

#: the evaluation strategies; ``auto`` picks one of them by cost
_METHODS = {
    "direct": _direct.run,
    "separable": _separable.run,
    "fft": _fft.run,
}
METHODS: tuple[str, ...] = ("auto", *_METHODS)

#: FFT results must stay within this fraction of max|x| * sum|k| of the direct result;
#: ``auto`` avoids the FFT when the data's dynamic range could break that bound.
FFT_TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-11}
#: dynamic range max|x| / mean|x| above which auto does not use the FFT
FFT_MAX_DYNAMIC_RANGE = {np.dtype(np.float32): 1e3, np.dtype(np.float64): 1e8}


def _check_method(method: str) -> str:
    if method not in METHODS:
        from ..errors import ParameterError

        raise ParameterError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    return method


def _choose(
    out_hw: tuple[int, int],
    needed: tuple[int, int],
    channels: int,
    kernel: np.ndarray,
    span: tuple[int, int],
    stride: tuple[int, int],
    dtype: np.dtype,
) -> tuple[MethodChoice, list[_separable.Term] | None]:
    terms = _separable.decompose(
        kernel, tol=_separable.rank_tolerance(dtype), max_side=_separable.MAX_SVD_SIDE
    )
    costs = estimate(out_hw, needed, channels, kernel, terms, span, stride, thread_count())
    best = min(costs, key=lambda m: costs[m])
    kh, kw = kernel.shape
    nnz = int(np.count_nonzero(kernel))
    if best == "direct":
        reason = f"{nnz} non-zero taps make shift-and-add the cheapest"
    elif best == "separable":
        rank = len(terms or [])
        reason = (
            f"the {kh}x{kw} kernel has rank {rank}: {rank} pair(s) of 1-D passes beat "
            f"{nnz} taps of shift-and-add"
        )
    else:
        reason = f"a {kh}x{kw} kernel with {nnz} taps is cheapest through FFT tiles"
    return MethodChoice(best, reason, costs), terms


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

    Examples
    --------
    >>> choose_method((3000, 4000), np.ones((3, 3))).method in ("direct", "separable")
    True
    >>> rng = np.random.default_rng(0)
    >>> choose_method((3000, 4000), rng.random((61, 61))).method
    'fft'
    """
    k = check_kernel(kernel)
    if len(image_shape) not in (2, 3):
        from ..errors import ParameterError

        raise ParameterError(f"image_shape must be (H, W) or (H, W, C), got {image_shape!r}")
    h, w = int(image_shape[0]), int(image_shape[1])
    channels = int(image_shape[2]) if len(image_shape) == 3 else 1
    dil = as_pair(dilation, "dilation")
    st = as_pair(stride, "stride")
    kshape = (int(k.shape[0]), int(k.shape[1]))
    pads = resolve_pad(pad, kshape, dilation=dil)
    out_hw = output_size((h, w), kshape, pad=pads, stride=st, dilation=dil)
    span = (dil[0] * (k.shape[0] - 1) + 1, dil[1] * (k.shape[1] - 1) + 1)
    needed = ((out_hw[0] - 1) * st[0] + span[0], (out_hw[1] - 1) * st[1] + span[1])
    choice, _ = _choose(out_hw, needed, channels, k, span, st, work_dtype(np.dtype(dtype)))
    return choice


def _fft_is_safe(plan: Plan) -> str | None:
    """Why the FFT could lose precision on this data, or None when it is safe.

    Two passes (min and max, no temporaries) find NaN/inf and the peak; the
    mean magnitude comes from a strided sample of about 65,000 pixels.
    """
    img = plan.image
    if img.dtype.kind in "biu":
        return None  # bounded data; 16-bit and wider use float64 transforms
    lo, hi = float(img.min()), float(img.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "the image holds NaN or inf, which an FFT would spread over the whole tile"
    peak = max(abs(lo), abs(hi))
    h, w = img.shape[:2]
    step = max(1, int(np.sqrt(h * w / 65536)))
    mean = float(np.abs(img[::step, ::step].astype(np.float64)).mean())
    limit = FFT_MAX_DYNAMIC_RANGE[plan.dtype]
    if peak > 0 and (mean == 0 or peak / mean > limit):
        return f"the image's dynamic range (max/mean {peak / max(mean, 1e-300):.3g}) exceeds {limit:g}"
    return None


def _resolve(plan: Plan, method: str) -> tuple[str, Callable[..., np.ndarray], Callable[[Plan], int]]:
    """The method to run (auto resolved, with its precision fallbacks), its runner and its strip granularity."""
    if method == "auto":
        choice, terms = _choose(
            plan.out_hw, plan.needed, plan.channels, plan.kernel, plan.span, plan.stride, plan.dtype
        )
        method = choice.method
        if method == "fft" and _fft_is_safe(plan) is not None:
            others = {m: c for m, c in choice.costs.items() if m != "fft"}
            method = min(others, key=lambda m: others[m])
        if method == "separable":
            return method, functools.partial(_separable.run, terms=terms), _separable.granularity
    granularity = {"direct": _direct.granularity, "separable": _separable.granularity, "fft": _fft.granularity}
    return method, _METHODS[method], granularity[method]


def _run(plan: Plan, method: str) -> np.ndarray:
    _, runner, _ = _resolve(plan, method)
    return runner(plan)


def correlate(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    border: str = "reflect",
    border_value: float = 0.0,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    method: Method = "auto",
    anchor: tuple[int, int] | None = None,
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
    """
    plan = make_plan(
        image, kernel, flip=False, border=border, border_value=border_value,
        pad=pad, stride=stride, dilation=dilation, anchor=anchor,
    )
    return _run(plan, _check_method(method))


def convolve(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    border: str = "reflect",
    border_value: float = 0.0,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    method: Method = "auto",
    anchor: tuple[int, int] | None = None,
) -> np.ndarray:
    """True 2-D convolution: :func:`correlate` with the kernel rotated 180°.

    ``out[i, j] = sum_{a,b} kernel[a, b] * P[i - a + c_h, j - b + c_w]`` at
    stride 1.  Under ``pad="same"`` the default anchor is ``(kh//2, kw//2)`` of
    the *unrotated* kernel (the tap that multiplies the pixel itself; for odd
    kernels the centre), which matches ``scipy.ndimage.convolve``.  ``anchor``
    is given in the unrotated kernel's coordinates.  All other parameters are
    as in :func:`correlate`.

    Examples
    --------
    >>> convolve(np.array([[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]]), [[1, 2, 3]], border="constant")
    array([[0., 0., 0.],
           [1., 2., 3.],
           [0., 0., 0.]])
    >>> convolve(np.array([[2., 4.]]), [[7, 3, 1]], pad="full", border="constant")  # 42 x 137
    array([[14., 34., 14.,  4.]])
    """
    plan = make_plan(
        image, kernel, flip=True, border=border, border_value=border_value,
        pad=pad, stride=stride, dilation=dilation, anchor=anchor,
    )
    return _run(plan, _check_method(method))


#: aim for strips of about this many output elements (float32: 16 MiB)
STRIP_ELEMENTS = 1 << 22


def correlate_strips(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    flip: bool = False,
    border: str = "reflect",
    border_value: float = 0.0,
    pad: object = "same",
    stride: object = 1,
    dilation: object = 1,
    method: Method = "auto",
    anchor: tuple[int, int] | None = None,
    strip_elements: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """The result of :func:`correlate` (or :func:`convolve` with ``flip``) in strips of output rows.

    Yields ``(first_row, strip)`` pairs, ``strip`` being ``rows x W_out`` (or
    ``rows x W_out x C``), top to bottom.  Stacked, the strips equal the full
    result bit for bit; only one strip is held at a time, so a caller that
    converts each strip (to 8-bit, say) never holds the float result of the
    whole image.  Each strip is a fresh array the caller may keep.

    Examples
    --------
    >>> image = np.arange(4096, dtype=np.float32).reshape(64, 64)
    >>> strips = list(correlate_strips(image, np.ones((3, 3)), strip_elements=256))
    >>> np.array_equal(np.vstack([s for _, s in strips]), correlate(image, np.ones((3, 3))))
    True
    >>> [first for first, _ in strips][:3]
    [0, 8, 16]
    """
    plan = make_plan(
        image, kernel, flip=flip, border=border, border_value=border_value,
        pad=pad, stride=stride, dilation=dilation, anchor=anchor,
    )
    _, runner, granularity = _resolve(plan, _check_method(method))
    ho, wo = plan.out_hw
    unit = max(1, granularity(plan))
    per_row = max(1, wo * plan.channels)
    budget = STRIP_ELEMENTS if strip_elements is None else strip_elements
    step = max(unit, (max(1, budget // per_row) // unit) * unit)
    for i0 in range(0, ho, step):
        i1 = min(i0 + step, ho)
        strip = runner(plan, rows=(i0, i1))
        yield i0, (strip.reshape(i1 - i0, wo) if plan.squeeze else strip)
