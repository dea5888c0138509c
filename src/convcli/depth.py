"""The one depth vocabulary, and the output range policy.

A depth is what an output sample holds: ``"8"`` (uint8, 0..255), ``"16"``
(uint16, 0..65535) or ``"float"`` (float32, full scale 1.0).  Every module that
names, checks or converts depths imports them from here: :mod:`convcli.imageio`
(what a format holds), :mod:`convcli.pipeline` (the filtered result to output
samples), the batch runner and the command line.

:func:`to_depth` turns a filtered float result (in the source's units) into
output samples: ``gain * x + offset`` (in output units, e.g. offset 128 for
8-bit: ImageMagick's bias idiom for signed edge maps; or relative, ``"50%"``
of the output's own full scale, as ImageMagick's ``-bias 50%``: one offset
then serves 8-bit, 16-bit and float outputs alike), then the range policy:
``clip`` (round and clip, the default), ``abs`` (magnitude, then clip) or
``normalize`` (stretch min..max to the full range).  Float outputs are scaled
so that full scale is 1.0 (float sources: unchanged) and never clipped.

Examples
--------
>>> [depth_name(d) for d in DEPTHS]
['8-bit', '16-bit', 'float']
>>> natural_depth(np.uint16), FULL_SCALE["16"]
('16', 65535.0)
>>> to_depth(np.array([-3.0, 300.0]), "8", source_max=255)
array([  0, 255], dtype=uint8)
"""

from __future__ import annotations

import math
import warnings
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import DTypeLike

from .errors import ParameterError

__all__ = [
    "DEPTHS",
    "FULL_SCALE",
    "KEPT_INTEGERS",
    "RANGES",
    "Depth",
    "Offset",
    "RangeMode",
    "check_depth",
    "depth_name",
    "depth_of",
    "finite_range",
    "kept_integer",
    "natural_depth",
    "nominal_max",
    "parse_offset",
    "resolve_offset",
    "sample_dtype",
    "to_depth",
]

Depth: TypeAlias = Literal["8", "16", "float"]
RangeMode: TypeAlias = Literal["clip", "abs", "normalize"]
#: an offset in output units (``128.0``) or relative to the output's full scale (``"50%"``)
Offset: TypeAlias = float | str

#: every depth, shallowest first
DEPTHS: tuple[Depth, ...] = ("8", "16", "float")
#: every range policy of :func:`to_depth`
RANGES: tuple[str, ...] = ("clip", "abs", "normalize")
#: the value a full-scale sample has at each depth
FULL_SCALE: dict[str, float] = {"8": 255.0, "16": 65535.0, "float": 1.0}

#: integer sample types kept as they are (values, sign and dtype) where the format holds them, not taken in
#: 16-bit units: TIFF, Zarr and ``.npy`` outputs (:func:`kept_integer`)
KEPT_INTEGERS: tuple[np.dtype, ...] = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.uint32))

_NAMES: dict[str, str] = {"8": "8-bit", "16": "16-bit", "float": "float"}
_DTYPES: dict[str, np.dtype] = {"8": np.dtype(np.uint8), "16": np.dtype(np.uint16), "float": np.dtype(np.float32)}


def check_depth(depth: object) -> Depth:
    """``depth`` when it is one of :data:`DEPTHS`; else a :class:`ParameterError` listing them.

    Examples
    --------
    >>> check_depth("16")
    '16'
    >>> check_depth("32")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: unknown depth '32'; use one of 8, 16, float
    """
    if depth not in _NAMES:
        raise ParameterError(f"unknown depth {depth!r}; use one of {', '.join(DEPTHS)}")
    return depth  # type: ignore[return-value]


def depth_name(depth: Depth) -> str:
    """How messages name a depth: ``8-bit``, ``16-bit`` or ``float``.

    Examples
    --------
    >>> depth_name("8"), depth_name("float")
    ('8-bit', 'float')
    """
    return _NAMES[check_depth(depth)]


def sample_dtype(depth: Depth) -> np.dtype:
    """The sample type of a depth: uint8, uint16 or float32.

    Examples
    --------
    >>> sample_dtype("16")
    dtype('uint16')
    """
    return _DTYPES[check_depth(depth)]


def depth_of(dtype: DTypeLike) -> Depth | None:
    """The depth whose samples have exactly ``dtype`` (uint8, uint16, float32), else None.

    Examples
    --------
    >>> depth_of(np.uint8), depth_of(np.float32), depth_of(np.float64), depth_of(">u2")
    ('8', 'float', None, '16')
    """
    dt = np.dtype(dtype).newbyteorder("=")  # byte order never matters
    return next((depth for depth in DEPTHS if _DTYPES[depth] == dt), None)


def nominal_max(dtype: DTypeLike) -> float:
    """Full scale of a sample type: 255 for 8-bit, 65535 for wider integers, 1.0 for float.

    Examples
    --------
    >>> nominal_max(np.uint16), nominal_max(np.uint8), nominal_max(np.float32)
    (65535.0, 255.0, 1.0)
    """
    dt = np.dtype(dtype)
    if dt.kind == "b" or dt in (np.dtype(np.uint8), np.dtype(np.int8)):
        return FULL_SCALE["8"]
    if dt.kind in "iu":
        return FULL_SCALE["16"]
    return FULL_SCALE["float"]


def parse_offset(value: float | str, *, what: str = "offset") -> Offset:
    """An offset as given: a finite number (output units), or ``"N%"`` of the output's full scale.

    Parameters
    ----------
    value : float or str
        ``128``, ``"-0.25"``, ``"50%"``, ``" 12.5 % "`` …
    what : str, optional
        What the value is given as (``"--offset"``), for messages.

    Returns
    -------
    float or str
        A float, or the relative form written canonically (``"12.5%"``).

    Raises
    ------
    ParameterError
        For anything else, naming ``what``, the value and the forms allowed.

    Examples
    --------
    >>> parse_offset("128"), parse_offset(" 50 % "), parse_offset("-12.5%")
    (128.0, '50%', '-12.5%')
    >>> parse_offset("half", what="--offset")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --offset must be a finite number in output units (e.g. 128) or a percentage \
of the output's full scale (e.g. 50%), got 'half'
    """
    text = str(value).strip()
    relative = text.endswith("%")
    number_text = text[:-1].strip() if relative else text
    try:
        number = float(number_text) if number_text and "_" not in number_text else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ParameterError(f"{what} must be a finite number in output units (e.g. 128) or a percentage of the "
                             f"output's full scale (e.g. 50%), got {value!r}")
    return f"{number:g}%" if relative else number


def resolve_offset(offset: float | str, depth: Depth) -> float:
    """An offset in the units of ``depth``: ``"N%"`` is N/100 of its full scale; a number stays as it is.

    The relative form is ImageMagick's ``-bias 50%``: 127.5 for 8-bit,
    32767.5 for 16-bit and 0.5 for float outputs.

    Examples
    --------
    >>> resolve_offset("50%", "8"), resolve_offset("50%", "16"), resolve_offset("50%", "float")
    (127.5, 32767.5, 0.5)
    >>> resolve_offset(128, "16")
    128.0
    """
    parsed = parse_offset(offset)
    if isinstance(parsed, str):
        return float(parsed[:-1]) / 100.0 * FULL_SCALE[check_depth(depth)]
    return parsed


def natural_depth(dtype: DTypeLike) -> Depth:
    """The output depth that follows an input dtype: 8-bit, 16-bit or float.

    Examples
    --------
    >>> natural_depth(np.uint8), natural_depth(np.uint16), natural_depth(np.float64)
    ('8', '16', 'float')
    """
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return "float"
    return "8" if nominal_max(dt) == FULL_SCALE["8"] else "16"


def to_depth(
    result: np.ndarray,
    depth: Depth,
    *,
    source_max: float,
    range_mode: RangeMode = "clip",
    gain: float = 1.0,
    offset: float | str = 0.0,
    alpha: bool = False,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """The filtered result as output samples of ``depth``.

    Parameters
    ----------
    result : ndarray
        Float result in the source's units (0..``source_max``).
    depth : {"8", "16", "float"}
        ``8`` gives uint8, ``16`` uint16, ``float`` float32 (float64 for a
        float64 result), scaled so that full scale is 1.0 and never clipped.
    source_max : float
        The source's full scale (:func:`nominal_max`: 255, 65535 or 1.0).
    range_mode : {"clip", "abs", "normalize"}, optional
        After ``gain`` and ``offset``: ``clip`` rounds half to even and clips
        to the range; ``abs`` takes the magnitude first; ``normalize``
        stretches min..max (over all colour channels together) to the range.
        NaN becomes 0 in integer outputs.
    gain : float, optional
        ``gain * x + offset``.
    offset : float or str, optional
        In the output's units (offset 128 for 8-bit, 32768 for 16-bit, 0.5
        for float), or relative to the output's full scale: ``"50%"`` is
        127.5, 32767.5 or 0.5 (:func:`resolve_offset`).
    alpha : bool, optional
        The last channel is alpha: only scaled (and rounded, clipped), never
        touched by gain, offset or the range policy.
    value_range : (float, float), optional
        For ``normalize`` on one strip of a larger result: the finite minimum
        and maximum of the whole result's colour channels
        (:func:`finite_range`; NaN for both when it has no finite value).
        By default they are found in ``result``.

    Examples
    --------
    >>> to_depth(np.array([-10.0, 100.4, 300.0]), "8", source_max=255)
    array([  0, 100, 255], dtype=uint8)
    >>> to_depth(np.array([-10.0, 10.0]), "8", source_max=255, range_mode="abs")
    array([10, 10], dtype=uint8)
    >>> to_depth(np.array([2.0, 4.0]), "16", source_max=255, range_mode="normalize")
    array([    0, 65535], dtype=uint16)
    >>> to_depth(np.array([-100.0, 100.0]), "8", source_max=255, gain=0.5, offset=128)
    array([ 78, 178], dtype=uint8)
    >>> to_depth(np.array([-65535.0, 0.0]), "16", source_max=65535, gain=0.5, offset="50%")
    array([    0, 32768], dtype=uint16)
    >>> to_depth(np.array([0.0, 255.0], np.float32), "float", source_max=255)
    array([0., 1.], dtype=float32)
    """
    from .engine import work_dtype

    top = FULL_SCALE[check_depth(depth)]
    offset = resolve_offset(offset, depth)
    if range_mode not in RANGES:
        raise ParameterError(f"unknown range mode {range_mode!r}; use one of {', '.join(RANGES)}")
    if not source_max > 0:
        raise ParameterError(f"source_max must be positive, got {source_max!r}")
    arr = np.asarray(result)
    dtype = work_dtype(arr.dtype).type
    has_alpha = alpha and arr.ndim == 3 and arr.shape[2] >= 2
    scale = dtype(top / source_max)
    stretch: tuple[float, float] | None = None
    if range_mode == "normalize":
        colour_all = arr[..., :-1] if has_alpha else arr
        found = finite_range(colour_all) if value_range is None else value_range
        stretch = _stretch_bounds(found, gain * scale, offset, top)
    if depth == "float":
        x = arr.astype(dtype, copy=True)
        _finish_band(x, has_alpha, scale, gain, offset, range_mode, stretch)
        return x if dtype is np.float64 else x.astype(np.float32, copy=False)
    # integer outputs: row bands, so the float working copy stays small and in cache
    out = np.empty(arr.shape, dtype=sample_dtype(depth))
    rows = max(1, (1 << 16) // max(1, arr[0].size)) if arr.ndim >= 2 else arr.shape[0]
    # nothing but clipping and rounding (the usual case): the first pass copies and clips at once
    plain = scale == 1.0 and gain == 1.0 and not offset and range_mode == "clip"
    work = np.empty((min(rows, arr.shape[0]), *arr.shape[1:]), dtype=dtype)
    for r0 in range(0, arr.shape[0], rows):
        band = arr[r0 : r0 + rows]
        x = work[: band.shape[0]]
        if not plain:
            np.copyto(x, band)
            _finish_band(x, has_alpha, scale, gain, offset, range_mode, stretch)
        np.fmax(x if not plain else band, 0, out=x)  # NaN and -inf become 0
        np.fmin(x, top, out=x)  # +inf becomes full scale
        np.rint(x, out=out[r0 : r0 + rows], casting="unsafe")  # rounded half to even, stored as integers
    return out


def _finish_band(x: np.ndarray, has_alpha: bool, scale: float, gain: float, offset: float, range_mode: str,
                 stretch: tuple[float, float] | None) -> None:
    """Scale, gain/offset and the range policy, in place (integer outputs then clip and round in :func:`to_depth`)."""
    dtype = x.dtype.type
    if scale != 1.0:
        x *= dtype(scale)
    colour = x[..., :-1] if has_alpha else x
    if gain != 1.0:
        colour *= dtype(gain)
    if offset:
        colour += dtype(offset)
    if range_mode == "abs":
        np.abs(colour, out=colour)
    elif stretch is not None:
        lo, factor = stretch
        colour -= dtype(lo)
        colour *= dtype(factor)


def kept_integer(samples: np.ndarray, dtype: DTypeLike, name: str) -> np.ndarray:
    """A float result in the source's own units as ``dtype`` samples (:data:`KEPT_INTEGERS`): rounded half to
    even, NaN becomes 0; a value outside ``dtype``'s range is an error naming ``name``, the range and the fix.

    Examples
    --------
    >>> kept_integer(np.array([-2.5, 0.5, 1.5, 300.0]), np.int16, "x.tif")
    array([ -2,   0,   2, 300], dtype=int16)
    >>> kept_integer(np.array([40000.0]), np.int16, "x.tif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: x.tif: the result ranges 40000..40000, beyond int16's -32768..32767; ...
    """
    dt = np.dtype(dtype)
    x = np.rint(np.asarray(samples, dtype=np.float64))
    x[np.isnan(x)] = 0
    info = np.iinfo(dt)
    if x.size and (float(x.min()) < info.min or float(x.max()) > info.max):
        raise ParameterError(f"{name}: the result ranges {float(x.min()):g}..{float(x.max()):g}, beyond {dt}'s "
                             f"{info.min}..{info.max}; nothing was clipped or written: use --depth float to keep "
                             "the values, or --range normalize to fit them")
    return x.astype(dt)


def finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """The smallest and largest finite value (None when there is none).

    Examples
    --------
    >>> finite_range(np.array([3.0, np.nan, -np.inf, 1.0]))
    (1.0, 3.0)
    >>> finite_range(np.array([np.nan])) is None
    True
    """
    arr = np.asarray(values)
    if arr.size == 0:
        return None
    with warnings.catch_warnings():  # an all-NaN array: found below
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return None
        lo, hi = float(finite.min()), float(finite.max())
    return lo, hi


def _stretch_bounds(found: tuple[float, float] | None, factor: float, offset: float,
                    top: float) -> tuple[float, float]:
    """``(lo, scale)`` mapping the finite min..max ``found`` of x, as ``factor*x + offset``, onto 0..top."""
    if found is None or not (np.isfinite(found[0]) and np.isfinite(found[1])):
        return (0.0, 0.0)
    lo, hi = found
    a, b = factor * lo + offset, factor * hi + offset
    lo, hi = min(a, b), max(a, b)
    return (lo, 0.0) if hi == lo else (lo, top / (hi - lo))
