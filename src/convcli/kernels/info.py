"""What ``convcli kernels show`` reports about a kernel, as plain JSON-ready data.

Examples
--------
>>> from convcli.kernels import kernel
>>> info = kernel_info(kernel("sobel:axis=x"), image_size=(64, 64))
>>> info["shape"], info["rank"], info["separable"], info["anchor"]
([3, 3], 1, True, [1, 1])
>>> sorted(info["method"])
['image_size', 'name', 'reason']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._kernel import Kernel

__all__ = ["kernel_info"]


def kernel_info(
    spec: Kernel | str, *, normalize: bool = False, image_size: tuple[int, int] = (1024, 1024)
) -> dict[str, Any]:
    """A kernel described as plain data: matrix, anchor, sum, rank, and the method ``auto`` would use.

    Parameters
    ----------
    spec : Kernel or str
        A kernel, or a spec :func:`convcli.kernels.kernel` reads (named,
        inline or a file).
    normalize : bool, optional
        Divide the kernel by its sum first (as ``apply --normalize``).
    image_size : pair of int, optional
        ``(H, W)`` of the float32 image for which the engine's choice of
        method (:func:`convcli.engine.choose_method`, ``pad="same"``) is asked.

    Returns
    -------
    dict
        For a linear kernel: ``spec``, ``matrix`` (nested lists), ``anchor``
        (the effective one), ``default_anchor`` (whether the kernel kept the
        default), ``sum``, ``separable``, ``shape``, ``rank``, ``offset`` and
        ``method`` (``name``, ``reason``, ``image_size``).  For an operator:
        ``matrix``, ``sum`` and ``separable`` are None, plus ``combine`` and
        ``components`` (one such dict per component).

    Examples
    --------
    >>> from convcli.kernels import kernel
    >>> op = kernel_info(kernel("sobel:axis=both"), image_size=(32, 32))
    >>> op["matrix"], op["combine"], [c["spec"] for c in op["components"]]
    (None, 'hypot', ['sobel:axis=x,size=3', 'sobel:axis=y,size=3'])
    >>> kernel_info("1 2 1")["sum"], kernel_info("1 2 1", normalize=True)["matrix"]
    (4.0, [[0.25, 0.5, 0.25]])
    """
    from ._spec import kernel

    k = kernel(spec, normalize=normalize)
    hw = (int(image_size[0]), int(image_size[1]))
    if not k.is_operator:
        return _linear_info(k, hw)
    return {
        "spec": k.spec,
        "matrix": None,
        "anchor": list(k.effective_anchor),
        "default_anchor": k.anchor is None,
        "sum": None,
        "separable": None,
        "shape": list(k.shape),
        "combine": k.combine,
        "components": [_linear_info(c, hw) for c in k.components],
    }


def _linear_info(k: Kernel, image_hw: tuple[int, int]) -> dict[str, Any]:
    from ..engine import choose_method

    choice = choose_method(image_hw, k.matrix, pad="same", stride=1, dilation=1, dtype=np.float32)
    rank = k.rank()
    return {
        "spec": k.spec,
        "matrix": k.matrix.tolist(),
        "anchor": list(k.effective_anchor),
        "default_anchor": k.anchor is None,
        "sum": k.sum,
        "separable": rank <= 1,
        "shape": list(k.shape),
        "rank": rank,
        "offset": k.offset,
        "method": {"name": choice.method, "reason": choice.reason, "image_size": list(image_hw)},
    }
