"""The spec entry point: :func:`kernel` turns what a user typed after ``-k/--kernel`` into a :class:`Kernel`.

A spec is a named kernel, an inline matrix, a kernel file (``@path``, a path or a
known extension), a :class:`os.PathLike`, a :class:`Kernel` or an array; see
:mod:`convcli.kernels`.

Examples
--------
>>> kernel("box:size=3").shape
(3, 3)
"""

from __future__ import annotations

import os
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..errors import KernelError
from ._inline import INLINE_EXAMPLE, looks_like_imagemagick, looks_like_matrix, parse_imagemagick, parse_rows
from ._kernel import Kernel
from .files import load_kernel_file
from .named import is_kernel_name, named_kernel

__all__ = ["FILE_EXTENSIONS", "kernel"]

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
