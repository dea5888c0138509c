"""One image through the ordered operations: the rules, and the plan a dry run shows.

:func:`convcli.streaming.stream_filter` runs the CNN flow of the notes (seed 002)
on one image, strip by strip, in the order given: convolutions (each with its
kernel and options), activations and pooling (:mod:`convcli.operations`);
``.collect()`` gives the array.  It is exactly what ``convcli apply`` does to
every image; with ``depth`` each strip is turned into output samples by
:func:`convcli.depth.to_depth`.  This module holds the rules that chain follows
and :func:`plan_steps`, the shapes and methods through it without filtering.

Channels
    ``each`` (default) filters every channel alike.  ``sum`` adds the
    per-channel responses of the first convolution into one channel: the depth
    sum of a multi-channel convolution (seed 003); without a convolution the
    channels are summed first.  ``gray`` converts colour to luminance first
    (ITU-R 601-2 weights, as Pillow's ``L``).

Alpha
    With ``alpha=True`` the last channel is alpha.  A convolution filters the
    colour premultiplied by alpha and divides by the alpha filtered with the
    kernel's absolute weights scaled to sum 1 (for a blur, the kernel itself),
    so transparent pixels never bleed into opaque ones; that filtered alpha is
    the output's alpha (``keep_alpha`` keeps the input's instead).  For a fully
    opaque image the colour is exactly what filtering without alpha gives.
    Mean pooling works the same way; max and min pooling ignore fully
    transparent pixels; activations apply to colour only.  ``sum`` drops alpha.

Linear light
    With ``linear=True`` the colour samples are decoded from sRGB to linear
    light first (:mod:`convcli.colour`: the exact IEC 61966-2-1 curve; 8-bit
    and 16-bit samples from their normalised values, float samples taken as
    encoded values in 0..1), every operation runs on linear values (alpha
    weighting premultiplies linear colour; ``gray`` weights linear values),
    and the result is encoded back, sign-preserving for the negative response
    of a zero-sum kernel.  Alpha is never transfer-coded.  Linear light is
    filtered in float64: the encoding is steep near black (slope 12.92), so
    float32 sums would miss the exact result by up to 0.01 of a 16-bit level.

Units
    The result is in the input's units (0..255 for 8-bit, 0..65535 for 16-bit,
    as is for float).  ``sigmoid`` and ``tanh`` see the samples scaled to 0..1
    by the nominal maximum (:func:`nominal_max`) and give results in the
    same units back, so ``sigmoid`` of an 8-bit 0 is mid-gray;
    ``relu``/``abs`` do not care about scale.

The depth vocabulary and the output range policy live in :mod:`convcli.depth`
and the operations in :mod:`convcli.operations`.

Examples
--------
>>> import numpy as np
>>> from convcli.depth import to_depth
>>> from convcli.operations import Convolve
>>> from convcli.streaming import stream_filter
>>> image = np.zeros((5, 5), np.uint8); image[:, 2:] = 200
>>> edges = stream_filter(image, [Convolve("sobel:axis=x")]).collect()
>>> to_depth(edges, "8", source_max=255, range_mode="abs").max()
np.uint8(255)
>>> [s.output for s in plan_steps((5, 5, 3), [Convolve("box:size=3")], channels="gray")]
[(5, 5), (5, 5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import DTypeLike

from .engine import choose_method, work_dtype
from .errors import ParameterError
from .operations import Convolve, Operation, Pooling, check_operations
from .streaming import sum_point

__all__ = ["LINEAR_STEPS", "Channels", "Step", "output_channels", "plan_steps"]

Channels: TypeAlias = Literal["each", "sum", "gray"]

#: the steps ``--linear`` adds around the operations (as ``--dry-run`` and ``--json`` show them)
LINEAR_STEPS = ("decode sRGB to linear light", "encode linear light to sRGB")


def _work_type(dtype: DTypeLike) -> type[np.floating]:
    """The scalar type computations on ``dtype`` samples use (:func:`convcli.engine.work_dtype`)."""
    return work_dtype(np.dtype(dtype)).type


@dataclass(frozen=True)
class Step:
    """One row of a dry run: what an operation does to the array's shape.

    Attributes
    ----------
    operation : str
        ``correlate gaussian:sigma=3 (25x25)``, ``max pool 2x2 stride 2x2``, …
    input, output : tuple of int
        Array shapes before and after (channels included).
    method : str or None
        For a convolution: the method ``auto`` chooses (or the one forced).
    reason : str or None
        Why ``auto`` chose it.
    """

    operation: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    method: str | None = None
    reason: str | None = None


def _shape(hw: tuple[int, int], channels: int) -> tuple[int, ...]:
    return hw if channels == 1 else (*hw, channels)


def output_channels(channels_in: int, *, channels: Channels = "each", alpha: bool = False) -> int:
    """Channels of the filtered result (:func:`convcli.streaming.stream_filter`) for ``channels_in`` input channels.

    Examples
    --------
    >>> output_channels(4, alpha=True), output_channels(4, channels="gray", alpha=True)
    (4, 2)
    >>> output_channels(3, channels="sum")
    1
    """
    has_alpha = alpha and channels_in >= 2
    colour = channels_in - 1 if has_alpha else channels_in
    if channels in ("gray", "sum"):
        colour = 1
    return colour + (1 if has_alpha and channels != "sum" else 0)


def plan_steps(
    shape: tuple[int, ...],
    operations: Sequence[Operation],
    *,
    dtype: DTypeLike = np.uint8,
    channels: Channels = "each",
    alpha: bool = False,
    linear: bool = False,
) -> list[Step]:
    """The shapes through each operation and the method ``auto`` would choose, without filtering.

    Sizes come from :mod:`convcli.shapes`, methods from
    :func:`convcli.choose_method` (on actual data ``auto`` may still avoid the
    FFT for NaN/inf or a huge dynamic range).  With ``linear`` the first step
    decodes sRGB to linear light and the last encodes the result back.

    Raises
    ------
    ShapeError
        If an operation would leave nothing, naming it and its input size.

    Examples
    --------
    >>> from convcli.kernels import kernel
    >>> steps = plan_steps((100, 80, 3), [Convolve(kernel("box:size=3"), stride=2), Pooling("max", 2)])
    >>> [(s.operation, s.input, s.output) for s in steps]
    [('correlate box:size=3 (3x3)', (100, 80, 3), (50, 40, 3)), ('max pool 2x2 stride 2x2', (50, 40, 3), (25, 20, 3))]
    >>> [s.operation for s in plan_steps((8, 8), [Convolve(kernel("box"))], linear=True)]
    ['decode sRGB to linear light', 'correlate box (3x3)', 'encode linear light to sRGB']
    """
    check_operations(operations)
    hw = (int(shape[0]), int(shape[1]))
    c_in = 1 if len(shape) == 2 else int(shape[2])
    has_alpha = alpha and c_in >= 2
    colour = c_in - 1 if has_alpha else c_in
    extra = 1 if has_alpha and channels != "sum" else 0
    steps: list[Step] = []
    current = _shape(hw, colour + (1 if has_alpha else 0))
    if linear:
        steps.append(Step(LINEAR_STEPS[0], current, current))
    if channels == "gray" and colour > 1:
        colour = 1
        steps.append(Step("to gray (ITU-R 601-2 luma)", current, _shape(hw, colour + extra)))
        current = steps[-1].output
    sum_at = sum_point(operations) if channels == "sum" else None
    if sum_at == -1 and colour > 1:
        colour = 1
        steps.append(Step("sum the channels", current, _shape(hw, 1)))
        current = steps[-1].output
    work = np.float64 if linear else _work_type(np.dtype(dtype))  # what the chain computes in
    for index, op in enumerate(operations):
        name = f"step {index + 1} ({op.describe()})"
        method = reason = None
        try:
            if isinstance(op, Convolve):
                out_hw = op.output_hw(hw)
                image_shape = _shape(hw, colour)
                choices = [
                    choose_method(image_shape, m, pad=op.pad_for(m), stride=op.stride,
                                  dilation=op.dilation, dtype=work)
                    for m in op.matrices()
                ]
                if op.method == "auto":
                    method = "/".join(dict.fromkeys(c.method for c in choices))
                    reason = choices[0].reason
                else:
                    method, reason = op.method, "forced by --method"
            elif isinstance(op, Pooling):
                out_hw = op.output_hw(hw)
            else:
                out_hw = hw
        except ParameterError as err:
            raise type(err)(f"{name} on a {hw[0]}x{hw[1]} image: {err}") from None
        if index == sum_at:
            colour = 1
        before = current
        current = _shape(out_hw, colour + extra)
        steps.append(Step(op.describe(), before, current, method, reason))
        hw = out_hw
    if linear:
        steps.append(Step(LINEAR_STEPS[1], current, current))
    return steps
