"""``convcli apply … --compare FILE``: the input and the output side by side, labelled "before" and "after".

Both images are scaled by one factor so that the pair is at most
:data:`MAX_WIDTH` pixels wide (never enlarged; Lanczos when shrinking, so the
same files give the same bytes) and put side by side under a strip with the
labels.  An output of another size (stride, pooling, ``--pad valid``) keeps its
size relative to the input.

Every sample depth goes through one 8-bit display conversion
(:func:`display_rgb`): 8-bit as is, 16-bit divided by 257, floats (0..1)
clipped and times 255 (NaN black), alpha composited over white.

Examples
--------
>>> import numpy as np
>>> display_rgb(np.array([[0.0, 0.5, 2.0, np.nan]])).tolist()
[[[0, 0, 0], [128, 128, 128], [255, 255, 255], [0, 0, 0]]]
>>> scaled_sizes((300, 200), (300, 200))
((300, 200), (300, 200))
>>> scaled_sizes((1000, 500), (1000, 500))
((800, 400), (800, 400))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ._draw import check_picture_path, write_rgb_png

__all__ = ["LABEL_HEIGHT", "MAX_WIDTH", "ComparePicture", "check_compare", "compare_picture", "display_rgb",
           "scaled_sizes"]

#: The pair is scaled to at most this many pixels wide.
MAX_WIDTH = 1600
#: The height of the strip with "before" and "after" above the images.
LABEL_HEIGHT = 24
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)


@dataclass(frozen=True)
class ComparePicture:
    """A drawn comparison.

    Attributes
    ----------
    image : PIL.Image.Image
        RGB, ``(w_before + w_after) x (LABEL_HEIGHT + max(h_before, h_after))``.
    before, after : (int, int, int, int)
        ``(x, y, width, height)`` of each scaled image in the picture.
    scale : float
        The factor both were scaled by (1.0: not scaled).
    """

    image: Any
    before: tuple[int, int, int, int]
    after: tuple[int, int, int, int]
    scale: float


def check_compare(target: str | os.PathLike[str], inputs: Sequence[str], output: str | None = None) -> None:
    """Check ``--compare`` before the run: a ``.png`` in an existing folder, one input file and one output file.

    Parameters
    ----------
    target : str or path-like
        The picture's path.
    inputs : sequence of str
        The planned inputs (one per task).
    output : str, optional
        The planned output of the one input.

    Raises
    ------
    UsageError
        For an extension other than ``.png``, several inputs (or none), stdin or stdout, or a target that is the
        input or the output (exit code 2).
    ImageWriteError
        If the folder does not exist (exit code 1).

    Examples
    --------
    >>> check_compare("pair.png", ["a.png", "b.png"])
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --compare takes one input, got 2 (a.png, b.png); compare one file at a time
    """
    if len(inputs) != 1:
        shown = ", ".join(inputs[:3]) + (", …" if len(inputs) > 3 else "")
        raise UsageError(f"--compare takes one input, got {len(inputs)}" + (f" ({shown})" if inputs else "") +
                         "; compare one file at a time")
    if inputs[0] == "-" or output == "-":
        which = "stdin" if inputs[0] == "-" else "stdout (-o -)"
        raise UsageError(f"--compare needs files to read back, not {which}; give an input file and -o FILE")
    picture = check_picture_path(os.fspath(target), option="--compare", suffixes=(".png",))
    for other in (inputs[0], output):
        if other is not None and os.path.abspath(other) == os.path.abspath(picture):
            raise UsageError(f"--compare {target}: is also the input or the output; give another file name")


def compare_picture(
    input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], target: str | os.PathLike[str],
    *, max_width: int = MAX_WIDTH, max_pixels: int | None = None,
) -> ComparePicture:
    """Draw ``input_path`` and ``output_path`` side by side (see the module) and write ``target`` (PNG), atomically.

    Parameters
    ----------
    input_path, output_path : str or path-like
        Images (or ``.npy`` arrays) as :func:`convcli.imageio.read_image` reads them.
    target : str or path-like
        A ``.png`` in an existing folder.
    max_width : int, optional
        The widest the pair may be, in pixels.
    max_pixels : int, optional
        Refuse larger images before decoding (default: no limit; the run has checked them).

    Returns
    -------
    ComparePicture

    Raises
    ------
    UsageError
        For an extension other than ``.png``.
    ImageReadError, ImageWriteError
        If a file cannot be read or the picture written.

    Examples
    --------
    >>> import tempfile, os
    >>> from convcli.imageio import write_image
    >>> folder = tempfile.mkdtemp()
    >>> a, b = os.path.join(folder, "a.png"), os.path.join(folder, "b.npy")
    >>> write_image(a, np.zeros((20, 30), np.uint8)); np.save(b, np.ones((10, 15), np.float32))
    >>> result = compare_picture(a, b, os.path.join(folder, "pair.png"))
    >>> result.image.size, result.before, result.after
    ((45, 44), (0, 24, 30, 20), (30, 24, 15, 10))
    """
    from ..imageio import read_image

    picture_path = check_picture_path(os.fspath(target), option="--compare", suffixes=(".png",))
    before, _ = read_image(input_path, max_pixels=max_pixels)
    after, _ = read_image(output_path, max_pixels=max_pixels)
    result = draw_compare(before, after, max_width=max_width)
    write_rgb_png(picture_path, result.image, option="--compare")
    return result


def draw_compare(before: np.ndarray, after: np.ndarray, *, max_width: int = MAX_WIDTH) -> ComparePicture:
    """Draw two arrays side by side under "before" and "after" labels (see :func:`compare_picture`).

    Examples
    --------
    >>> draw_compare(np.zeros((200, 1000)), np.zeros((100, 1000))).image.size
    (1600, 184)
    """
    from PIL import Image, ImageDraw, ImageFont

    images = [Image.fromarray(display_rgb(arr), "RGB") for arr in (before, after)]
    (w1, h1), (w2, h2) = sizes = scaled_sizes(images[0].size, images[1].size, max_width=max_width)
    scale = sizes[0][0] / images[0].size[0]
    scaled = [im if im.size == size else im.resize(size, Image.Resampling.LANCZOS)
              for im, size in zip(images, sizes, strict=True)]
    canvas = Image.new("RGB", (w1 + w2, LABEL_HEIGHT + max(h1, h2)), _BACKGROUND)
    canvas.paste(scaled[0], (0, LABEL_HEIGHT))
    canvas.paste(scaled[1], (w1, LABEL_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=14)
    draw.text((4, 4), "before", fill=_INK, font=font)
    draw.text((w1 + 4, 4), "after", fill=_INK, font=font)
    return ComparePicture(image=canvas, before=(0, LABEL_HEIGHT, w1, h1), after=(w1, LABEL_HEIGHT, w2, h2),
                          scale=scale)


def scaled_sizes(
    before: tuple[int, int], after: tuple[int, int], *, max_width: int = MAX_WIDTH
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``(width, height)`` of both images scaled by one factor so that their widths add up to ``max_width`` at most.

    Never enlarges; each side is at least 1 pixel.
    """
    total = before[0] + after[0]
    if total <= max_width:
        return before, after
    scale = max_width / total

    def fit(size: tuple[int, int]) -> tuple[int, int]:
        return (max(1, int(size[0] * scale)), max(1, int(size[1] * scale)))

    return fit(before), fit(after)


def display_rgb(arr: np.ndarray) -> np.ndarray:
    """Any image array as 8-bit RGB for display: the one conversion used for both sides of a comparison.

    uint8 as is; uint16 divided by 257 (rounded); other integers and booleans clipped to 0..255 (True = 255);
    floats clipped to 0..1 and times 255 (NaN black).  Gray → RGB; alpha (2 or 4 channels) composited over
    white; other channel counts show the first channel.
    """
    a = np.asarray(arr)
    if a.dtype == np.uint16:
        eight = np.rint(a / 257.0)
    elif a.dtype == np.bool_:
        eight = a.astype(np.float64) * 255.0
    elif np.issubdtype(a.dtype, np.floating):
        eight = np.rint(np.clip(np.nan_to_num(a.astype(np.float64), nan=0.0), 0.0, 1.0) * 255.0)
    else:
        eight = np.clip(a.astype(np.float64), 0, 255)
    if eight.ndim == 2:
        eight = eight[:, :, None]
    channels = eight.shape[2]
    if channels in (2, 4):
        alpha = eight[:, :, -1:] / 255.0
        eight = np.rint(eight[:, :, :-1] * alpha + 255.0 * (1.0 - alpha))
        channels -= 1
    if channels != 3:
        eight = eight[:, :, :1]
    rgb = np.broadcast_to(eight, (*eight.shape[:2], 3))
    return np.ascontiguousarray(rgb, dtype=np.uint8)
