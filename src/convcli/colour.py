"""The sRGB transfer curve: encoded samples to linear light and back (``--linear``).

Photographs are stored sRGB-encoded: a sample is not proportional to the light
it stands for, so averaging encoded samples darkens every edge between light
and dark (a black-and-white checkerboard blurs to 128, not to 188, the encoding
of half the light).  ``convcli apply --linear`` (``linear=True`` in
:func:`convcli.stream_filter`) decodes the colour samples to linear
light with :func:`srgb_to_linear`, filters, and encodes the result back with
:func:`linear_to_srgb` before the output range and depth are applied.

The curve is the exact piecewise one of IEC 61966-2-1 (not a 2.2 power)::

    decode:  c / 12.92                     for c <= 0.04045
             ((c + 0.055) / 1.055) ** 2.4  otherwise
    encode:  12.92 * l                     for l <= 0.0031308
             1.055 * l ** (1 / 2.4) - 0.055  otherwise

computed in float64.  Which values are decoded:

* 8-bit and 16-bit (any integer) samples from their normalised values,
  ``value / 255`` and ``value / 65535`` (:func:`convcli.depth.nominal_max`);
* float samples as sRGB-encoded values in 0..1, as they are.

Values outside 0..1 (float data, or the signed response of a zero-sum kernel
such as Sobel or Laplacian computed in linear light) are mapped by the same
curve extended symmetrically about 0: ``f(-x) = -f(x)``, and the power segment
continued above 1.  So a negative edge response is encoded to the negative of
the encoding of its magnitude, and ``--range abs`` of it equals the encoding
of the absolute response.  NaN stays NaN.  Alpha is never transfer-coded.

convcli does not convert colour profiles: an image whose embedded ICC profile is
not sRGB is decoded with the sRGB curve all the same, with a warning
(:func:`profile_note`).

Examples
--------
>>> float(linear_to_srgb(0.5) * 255)   # a 0/255 checkerboard averaged in linear light
187.5160...
>>> srgb_to_linear(np.array([0, 128, 255], np.uint8)).round(6).tolist()
[0.0, 0.215861, 1.0]
"""

from __future__ import annotations

import io
import struct

import numpy as np
from numpy.typing import ArrayLike

from .depth import nominal_max

__all__ = [
    "decode_samples",
    "encode_samples",
    "linear_to_srgb",
    "profile_description",
    "profile_note",
    "read_profile",
    "srgb_to_linear",
]

#: IEC 61966-2-1 constants
_DECODE_KNEE = 0.04045
_ENCODE_KNEE = 0.0031308
_SLOPE = 12.92
_A = 0.055
_GAMMA = 2.4

#: elements converted per band by :func:`decode_samples` and :func:`encode_samples` (bounded float64 scratch)
_BAND_ELEMENTS = 1 << 18


def _normalised(values: ArrayLike) -> np.ndarray:
    """``values`` as float64 in 0..1 units: integers divided by their full scale, floats as they are."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"sRGB samples must be real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64) / nominal_max(arr.dtype)
    return arr.astype(np.float64)


def srgb_to_linear(values: ArrayLike) -> np.ndarray:
    """Decode sRGB-encoded samples to linear light (IEC 61966-2-1), in float64.

    Parameters
    ----------
    values : array_like
        Integer samples (decoded from ``value / 255`` for 8-bit, ``value /
        65535`` for wider integers) or float samples taken as encoded values in
        0..1.  Values below 0 or above 1 follow the curve extended
        symmetrically (``f(-x) = -f(x)``) and continued above 1.

    Returns
    -------
    ndarray
        float64 linear light, 0..1 for samples in range; the shape of ``values``.

    Examples
    --------
    >>> srgb_to_linear([0.0, 0.04045, 0.5, 1.0]).round(8).tolist()
    [0.0, 0.0031308, 0.21404114, 1.0]
    >>> float(srgb_to_linear(np.uint16(65535))), float(srgb_to_linear(-0.5))
    (1.0, -0.21404114...)
    """
    c = _normalised(values)
    m = np.abs(c)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN stays NaN, a huge value becomes inf
        out = np.where(m <= _DECODE_KNEE, m / _SLOPE, ((m + _A) / (1.0 + _A)) ** _GAMMA)
    return np.copysign(out, c)


def linear_to_srgb(values: ArrayLike) -> np.ndarray:
    """Encode linear light to sRGB (IEC 61966-2-1), in float64: the inverse of :func:`srgb_to_linear`.

    Parameters
    ----------
    values : array_like
        Linear light, 0..1 for in-range colours; negative values (the signed
        response of a zero-sum kernel) are encoded sign-preserving,
        ``f(-x) = -f(x)``, and values above 1 by the continued power segment.

    Returns
    -------
    ndarray
        float64 encoded values (0..1 for 0..1 input); the shape of ``values``.

    Examples
    --------
    >>> linear_to_srgb([0.0, 0.0031308, 0.5, 1.0]).round(8).tolist()
    [0.0, 0.04044994, 0.73535698, 1.0]
    >>> float(linear_to_srgb(-0.5)) == -float(linear_to_srgb(0.5))
    True
    >>> x = np.linspace(-2, 2, 101)
    >>> bool(np.allclose(srgb_to_linear(linear_to_srgb(x)), x, rtol=1e-14, atol=1e-16))
    True
    """
    lin = np.asarray(values, dtype=np.float64)
    m = np.abs(lin)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.where(m <= _ENCODE_KNEE, m * _SLOPE, (1.0 + _A) * m ** (1.0 / _GAMMA) - _A)
    return np.copysign(out, lin)


def _bands(arr: np.ndarray) -> range:
    rows = max(1, _BAND_ELEMENTS // max(1, arr[0].size)) if arr.ndim >= 1 and arr.shape[0] else 1
    return range(0, arr.shape[0], rows)


def decode_samples(samples: np.ndarray, dtype: type[np.floating] | np.dtype) -> np.ndarray:
    """Samples to linear light in the samples' own units (0..255 for 8-bit), as ``dtype``; a new array.

    What :func:`convcli.stream_filter` filters with ``linear=True``:
    ``srgb_to_linear(samples) * nominal_max(samples.dtype)``, computed in
    float64 and rounded once to ``dtype``.  8-bit and 16-bit samples go
    through a table of every value.

    Examples
    --------
    >>> decode_samples(np.array([[0, 188, 255]], np.uint8), np.float32)
    array([[  0.     , 128.23605, 255.     ]], dtype=float32)
    """
    arr = np.asarray(samples)
    scale = nominal_max(arr.dtype)
    dtype = np.dtype(dtype)
    if arr.dtype in (np.dtype(np.uint8), np.dtype(np.uint16)):
        levels = np.arange(np.iinfo(arr.dtype).max + 1, dtype=arr.dtype)
        table = (srgb_to_linear(levels) * scale).astype(dtype)
        return table[arr]
    out = np.empty(arr.shape, dtype=dtype)
    if arr.ndim == 0:
        out[...] = srgb_to_linear(arr) * scale
        return out
    bands = _bands(arr)
    for r0 in bands:
        out[r0 : r0 + bands.step] = srgb_to_linear(arr[r0 : r0 + bands.step]) * scale
    return out


def encode_samples(linear: np.ndarray, scale: float) -> np.ndarray:
    """Linear light in units of ``scale`` back to sRGB-encoded samples in the same units, in place.

    ``linear_to_srgb(linear / scale) * scale`` computed in float64 in bands of
    rows and stored back into ``linear`` (a float array), which is returned.
    Elementwise, so a strip gives the same values as the whole image.

    Examples
    --------
    >>> encode_samples(np.array([0.0, 127.5, -127.5, 255.0], np.float32), 255.0)
    array([   0.     ,  187.51604, -187.51604,  255.     ], dtype=float32)
    """
    arr = np.asarray(linear)
    if arr.dtype.kind != "f":
        raise TypeError(f"linear light must be a float array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        return np.asarray(linear_to_srgb(float(arr) / scale) * scale, dtype=arr.dtype)
    bands = _bands(arr)
    for r0 in bands:
        band = arr[r0 : r0 + bands.step]
        band[...] = linear_to_srgb(band.astype(np.float64) / scale) * scale
    return arr


def profile_description(profile: bytes) -> str | None:
    """The description (``desc`` tag) of an ICC profile, or None when it has none that can be read.

    Reads the tag table of the profile bytes itself (ICC v2 ``desc`` and v4
    ``mluc`` descriptions), so it needs no colour-management library.

    Examples
    --------
    >>> from PIL import ImageCms
    >>> profile_description(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    'sRGB built-in'
    >>> profile_description(b"not a profile") is None
    True
    """
    try:
        return _read_description(bytes(profile))
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        return None


def _read_description(data: bytes) -> str | None:
    if len(data) < 132:
        return None
    (count,) = struct.unpack_from(">I", data, 128)
    for i in range(min(count, 1000)):
        sig, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        if sig != b"desc":
            continue
        tag = data[offset : offset + size]
        if tag[:4] == b"desc":  # v2 textDescriptionType: ASCII count, then the text
            (n,) = struct.unpack_from(">I", tag, 8)
            return tag[12 : 12 + n].split(b"\0", 1)[0].decode("latin-1").strip() or None
        if tag[:4] == b"mluc":  # v4 multiLocalizedUnicodeType: the first record, UTF-16BE
            records, _ = struct.unpack_from(">II", tag, 8)
            if records < 1:
                return None
            length, start = struct.unpack_from(">II", tag, 16 + 4)
            return tag[start : start + length].decode("utf-16-be").rstrip("\0").strip() or None
        return None
    return None


def profile_note(profile: bytes | None, name: str) -> str | None:
    """A warning when ``profile`` (an embedded ICC profile) is not sRGB, for ``--linear``; else None.

    A profile counts as sRGB when its description names sRGB (``sRGB
    IEC61966-2.1``, ``sRGB built-in``, ``sRGB v4 ICC preference``, …).

    Examples
    --------
    >>> from PIL import ImageCms
    >>> lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    >>> print(profile_note(lab, "scan.png"))
    scan.png: its ICC profile is not sRGB ('Lab identity built-in'); --linear decodes the samples with the sRGB \
curve as asked (convcli does not convert colour profiles: convert the image to sRGB first for exact linear light)
    >>> profile_note(None, "a.png") is None
    True
    """
    if not profile:
        return None
    description = profile_description(profile)
    if description is not None and ("srgb" in description.lower() or "61966-2" in description):
        return None
    shown = repr(description) if description else "no readable description"
    return (f"{name}: its ICC profile is not sRGB ({shown}); --linear decodes the samples with the sRGB curve "
            "as asked (convcli does not convert colour profiles: convert the image to sRGB first for exact "
            "linear light)")


def read_profile(path: str, data: bytes | None = None) -> bytes | None:
    """The ICC profile embedded in an image file (from its header only), or None.

    For ``--dry-run``, which reads headers only.  Never raises for a file it
    cannot read: the reader reports those.

    Examples
    --------
    >>> read_profile("no/such/file.png") is None
    True
    """
    from PIL import Image

    try:
        source = io.BytesIO(data) if data is not None else path
        with Image.open(source) as image:
            found = image.info.get("icc_profile")
    except Exception:
        return None
    return bytes(found) if found else None
