"""What ``convcli explain`` reads: inline matrices and small images (or a crop and a channel of one).

Inline matrices go through the kernels' one inline parser
(:func:`convcli.kernels.parse_rows`), so ``explain --image`` and ``-k`` accept
the same syntax: rows by ``;``, values by spaces or commas, or a JSON nested
list.

Examples
--------
>>> parse_matrix("1 2; 3 4")
array([[1., 2.],
       [3., 4.]])
>>> read_input("[[1, 2], [3, 4]]").shape
(2, 2)
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import ParameterError, UsageError
from ...kernels import looks_like_matrix, parse_rows
from ._data import Matrix

__all__ = ["parse_matrix", "read_input"]


def parse_matrix(text: str, *, what: str = "matrix") -> Matrix:
    """A small matrix written inline: rows separated by ``;``, values by spaces or commas.

    Parameters
    ----------
    text : str
        E.g. ``"1 2 3; 4 5 6"``, or a JSON nested list ``"[[1, 2, 3], [4, 5, 6]]"``.
    what : str, optional
        What the matrix is (``"--image"``), for messages.

    Returns
    -------
    ndarray of float64

    Raises
    ------
    ParameterError
        Naming the row and column of a value that is not a finite number, or
        a row of a different length.

    Examples
    --------
    >>> parse_matrix("1 2 3; 4 5 6")
    array([[1., 2., 3.],
           [4., 5., 6.]])
    >>> parse_matrix("1 2; 3", what="--image")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --image '1 2; 3': row 2 has 1 value but row 1 has 2; every row needs the same \
number of values
    """
    rows = parse_rows(text, label=f"{what} {text!r}", error=ParameterError, finite=True, example="'1 2 3; 4 5 6'")
    return np.array(rows, dtype=np.float64)


def read_input(
    text: str, *, crop: tuple[int, int, int, int] | None = None, channel: int | None = None
) -> Matrix:
    """The matrix to explain: inline (``"1 2; 3 4"``) or a small image / ``.npy`` file (``@path`` or a path).

    Parameters
    ----------
    text : str
        An inline matrix (see :func:`parse_matrix`), or a file: ``@path`` or
        the path of an existing file, read by :func:`convcli.imageio.read_image`.
    crop : tuple of int, optional
        ``(x, y, w, h)``: the ``w x h`` part of the image whose top-left corner
        is at column ``x``, row ``y``.
    channel : int, optional
        The channel of a colour image (required for one).

    Returns
    -------
    ndarray of float64 or the image's dtype
        2-D.

    Raises
    ------
    UsageError
        ``crop`` or ``channel`` with an inline matrix.
    ParameterError
        Text that is neither a matrix nor a file, a colour image without
        ``channel``, a channel or a crop that the image does not have.
    ImageReadError
        For a file that cannot be read.

    Examples
    --------
    >>> read_input("1 2; 3 4", channel=0)
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --crop and --channel select part of an image file; --image here is a matrix
    """
    path = text[1:].strip() if text.startswith("@") else text
    if not (text.startswith("@") or os.path.isfile(path)):
        if crop is not None or channel is not None:
            raise UsageError("--crop and --channel select part of an image file; --image here is a matrix")
        if not looks_like_matrix(text):
            raise ParameterError(
                f"--image {text!r} is neither a matrix like '1 2 3; 4 5 6' nor an existing file; check the path"
            )
        return parse_matrix(text, what="--image")
    from ...imageio import read_image

    array, _ = read_image(path)
    if array.ndim == 3:
        channels = array.shape[2]
        if channel is None:
            raise ParameterError(
                f"{path} has {channels} channels; explain works on one: choose it with --channel "
                f"(0 to {channels - 1}, e.g. --channel 0)"
            )
        if channel >= channels:
            raise ParameterError(f"--channel {channel}: {path} has channels 0 to {channels - 1}")
        array = array[:, :, channel]
    elif channel not in (None, 0):
        raise ParameterError(f"--channel {channel}: {path} has one channel (0)")
    if crop is not None:
        x, y, w, h = crop
        rows, cols = array.shape[:2]
        if w < 1 or h < 1 or x + w > cols or y + h > rows:
            raise ParameterError(
                f"--crop {x},{y},{w},{h}: the {w}x{h} crop at column {x}, row {y} does not fit the {cols}x{rows} "
                f"(width x height) image {path}; keep x + w <= {cols} and y + h <= {rows}"
            )
        array = array[y : y + h, x : x + w]
    return np.asarray(array)
