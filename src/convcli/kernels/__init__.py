"""Named kernels, inline matrices and kernel files behind one spec.

:func:`kernel` turns what a user typed after ``-k/--kernel`` into a
:class:`Kernel`.  A spec is one of:

1. a named kernel ``name[:key=value,...]`` (the grammar of :mod:`convcli.specs`),
   e.g. ``gaussian:sigma=2``, ``sobel:axis=y``, ``box:size=5x3``; names are
   case-insensitive and ImageMagick's ``Gaussian:0x2`` (radius x sigma) reads too;
2. an inline matrix, rows separated by ``;`` and values by spaces or commas,
   e.g. ``"1 2 1; 0 0 0; -1 -2 -1"`` (or a JSON nested list ``"[[1, 2], [3, 4]]"``,
   or ImageMagick's ``"3x3: 1,2,1, 2,4,2, 1,2,1"`` with an optional anchor ``"3x3+0+0: …"``);
3. a kernel file: ``@path``, or anything containing a path separator or ending in
   a known extension (``.txt .csv .tsv .json .npy .mat``), read by
   :mod:`convcli.kernels.files`.

The package is laid out one concern per module:

================ ==============================================================
module           owns
================ ==============================================================
``_kernel``      :class:`Kernel` (matrix, anchor, offset; operators)
``_inline``      the one parser of inline matrices (also used by ``explain``)
``named``        the registry of named kernels and their builders
``files``        kernel files: text/CSV/TSV, JSON, ``.npy``, libvips ``.mat``
``info``         what ``convcli kernels show`` reports, as plain data
================ ==============================================================

Kernels are applied by **correlation** (convcli's default, like OpenCV's
``filter2D``): ``out[y, x] = sum K[i, j] * in[y + i - ay, x + j - ax]`` with the
anchor ``(ay, ax)``.  Sign conventions below are stated for correlation;
``--flip`` (true convolution) rotates every kernel by 180°.

Named kernels (identity, box, gaussian, sobel, scharr, prewitt, laplacian, log,
dog, sharpen, unsharp, emboss, motion) and their definitions are tabled in
:mod:`convcli.kernels.named`; ``convcli kernels`` lists them.

``sobel/scharr/prewitt:axis=both`` is not one matrix but an **operator**: the
gradient magnitude ``hypot(gx, gy)`` of the two linear kernels, represented as
a :class:`Kernel` whose ``components`` are the two kernels and whose
``combine`` is ``"hypot"``.

Every kernel side is at most :data:`MAX_KERNEL_SIDE` (1025); larger requests
are refused before anything is allocated.

Examples
--------
>>> k = kernel("sobel:axis=x")
>>> k.matrix.tolist()
[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
>>> kernel("1 2 1; 2 4 2; 1 2 1", normalize=True).sum
1.0
>>> kernel("gaussian:sigma=2").shape
(17, 17)
>>> grad = kernel("sobel:axis=both")
>>> grad.combine, [c.spec for c in grad.components]
('hypot', ['sobel:axis=x,size=3', 'sobel:axis=y,size=3'])
"""

from __future__ import annotations

import os
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..errors import KernelError
from ..shapes import MAX_KERNEL_SIDE
from ._inline import (
    INLINE_EXAMPLE,
    looks_like_imagemagick,
    looks_like_matrix,
    parse_imagemagick,
    parse_number,
    parse_rows,
    split_values,
)
from ._kernel import Combine, Kernel
from .files import KernelFormat, kernel_file_format, load_kernel_file, save_kernel_file
from .info import kernel_info
from .named import KernelParam, NamedKernel, is_kernel_name, named_kernel, named_kernels

__all__ = [
    "FILE_EXTENSIONS",
    "MAX_KERNEL_SIDE",
    "Combine",
    "Kernel",
    "KernelFormat",
    "KernelParam",
    "NamedKernel",
    "kernel",
    "kernel_file_format",
    "kernel_info",
    "load_kernel_file",
    "looks_like_matrix",
    "named_kernel",
    "named_kernels",
    "parse_number",
    "parse_rows",
    "save_kernel_file",
    "split_values",
]

#: Extensions that make a spec a kernel file (compared case-insensitively).
FILE_EXTENSIONS: Final = (".txt", ".csv", ".tsv", ".json", ".npy", ".mat")


def kernel(spec: str | os.PathLike[str] | Kernel | npt.ArrayLike, *, normalize: bool = False) -> Kernel:
    """The kernel a spec names: a named kernel, an inline matrix, a file or an array.

    Parameters
    ----------
    spec : str, path, Kernel or array_like
        ``name[:key=value,...]`` (see :func:`named_kernels`), an inline matrix
        ``"1 2 1; 0 0 0; -1 -2 -1"`` (or ``"[[1, 2], [3, 4]]"``), a file
        (``@path``, a path containing a separator, or a name ending in
        ``.txt .csv .tsv .json .npy .mat``), a :class:`os.PathLike`, a
        :class:`Kernel` or a 2-D array (a 1-D array is one row).
    normalize : bool, optional
        Divide the kernel by its sum (refused when the sum is 0).

    Returns
    -------
    Kernel

    Raises
    ------
    KernelError
        Unknown name (the closest is suggested), bad inline matrix, NaN/inf
        (row and column named), empty or ragged matrix, a zero-sum kernel with
        ``normalize``; :class:`~convcli.errors.KernelFileError` for files.
    ParameterError
        An unknown key (the valid ones are listed) or a value that is not a
        number or out of range.

    Examples
    --------
    >>> kernel("box:size=2x3").matrix.round(4).tolist()
    [[0.1667, 0.1667, 0.1667], [0.1667, 0.1667, 0.1667]]
    >>> kernel("1, 2, 1").shape
    (1, 3)
    >>> kernel("sobel:axis=z")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: axis must be one of x, y, both in 'sobel:axis=z', got 'z'
    """
    result = _resolve(spec)
    return result.normalized() if normalize else result


def _resolve(spec: str | os.PathLike[str] | Kernel | npt.ArrayLike) -> Kernel:
    if isinstance(spec, Kernel):
        return spec
    if isinstance(spec, os.PathLike):
        return load_kernel_file(spec)
    if not isinstance(spec, str):
        raw: Any = spec
        if isinstance(raw, np.ndarray) and raw.ndim == 1:
            raw = raw[np.newaxis, :]
        elif isinstance(raw, (list, tuple)) and raw and not any(isinstance(r, (list, tuple)) for r in raw):
            raw = [list(raw)]
        return Kernel(raw, spec="<array>")
    text = spec.strip()
    if not text:
        raise KernelError(
            f"the kernel spec is empty; give a name like 'gaussian:sigma=2', an inline matrix like "
            f"{INLINE_EXAMPLE} or a file like 'kernels/emboss.txt'"
        )
    if text.startswith("@"):
        if not text[1:].strip():
            raise KernelError("'@' needs a file after it, e.g. '@kernels/emboss.txt'")
        return load_kernel_file(text[1:].strip(), spec=text)
    if _looks_like_path(text) and not _names_a_kernel(text):
        return load_kernel_file(text)
    if looks_like_imagemagick(text):
        rows, anchor = parse_imagemagick(text)
        return Kernel(rows, anchor=anchor, spec=text)
    if looks_like_matrix(text):
        return Kernel(parse_rows(text), spec=text)
    return named_kernel(text)


def _looks_like_path(text: str) -> bool:
    if "/" in text or os.sep in text or (os.altsep is not None and os.altsep in text):
        return True
    return text.lower().endswith(FILE_EXTENSIONS)


def _names_a_kernel(text: str) -> bool:
    """``gaussian:sigma=2/3`` is a named kernel with a bad value, not a path (unless the file exists)."""
    name, colon, _ = text.partition(":")
    return bool(colon) and is_kernel_name(name) and not os.path.exists(os.path.expanduser(text))
