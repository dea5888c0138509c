"""convcli.colour: the IEC 61966-2-1 transfer curve both ways, the samples' units, ICC profile descriptions."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli.colour import (
    decode_samples,
    encode_samples,
    linear_to_srgb,
    profile_description,
    profile_note,
    read_profile,
    srgb_to_linear,
)


def _decode_one(c: float) -> float:
    """The standard's decoding, one value at a time."""
    return c / 12.92 if c <= 0.04045 else math.pow((c + 0.055) / 1.055, 2.4)


def _encode_one(v: float) -> float:
    """The standard's encoding, one value at a time."""
    return 12.92 * v if v <= 0.0031308 else 1.055 * math.pow(v, 1 / 2.4) - 0.055


def test_decode_matches_the_standard_for_every_8_bit_and_16_bit_level():
    levels8 = np.arange(256, dtype=np.uint8)
    np.testing.assert_allclose(srgb_to_linear(levels8), [_decode_one(v / 255) for v in range(256)], rtol=1e-15)
    levels16 = np.arange(0, 65536, 7, dtype=np.uint16)
    want = np.array([_decode_one(int(v) / 65535) for v in levels16])
    np.testing.assert_allclose(srgb_to_linear(levels16), want, rtol=1e-15, atol=0)


def test_encode_matches_the_standard_and_known_values():
    x = np.linspace(0, 1, 2001)
    np.testing.assert_allclose(linear_to_srgb(x), [_encode_one(v) for v in x], rtol=1e-15, atol=1e-17)
    assert round(float(linear_to_srgb(0.5)) * 255) == 188  # a 0/255 checkerboard averaged in light
    assert float(srgb_to_linear(np.uint8(255))) == 1.0 and float(linear_to_srgb(1.0)) == pytest.approx(1.0, abs=1e-15)


def test_the_knees_are_continuous_and_the_curve_is_not_a_power():
    below, above = np.nextafter(0.04045, 0), np.nextafter(0.04045, 1)
    assert abs(float(srgb_to_linear(below)) - float(srgb_to_linear(above))) < 1e-7
    assert float(srgb_to_linear(0.01)) == pytest.approx(0.01 / 12.92, rel=1e-15)  # linear segment
    assert abs(float(srgb_to_linear(0.5)) - 0.5**2.2) > 1e-3  # not the 2.2 approximation


@given(st.floats(-4, 4, allow_nan=False))
def test_round_trip_and_odd_symmetry(x):
    assert float(srgb_to_linear(linear_to_srgb(x))) == pytest.approx(x, rel=1e-13, abs=1e-16)
    assert float(linear_to_srgb(-x)) == -float(linear_to_srgb(x))
    assert float(srgb_to_linear(-x)) == -float(srgb_to_linear(x))


def test_floats_are_encoded_values_and_nan_stays_nan():
    assert float(srgb_to_linear(np.float32(0.5))) == pytest.approx(_decode_one(0.5), rel=1e-7)
    out = srgb_to_linear(np.array([np.nan, np.inf]))
    assert np.isnan(out[0]) and out[1] == np.inf
    with pytest.raises(TypeError, match="real numbers, got dtype <U1"):
        srgb_to_linear(np.array(["a"]))


def test_decode_and_encode_samples_keep_the_units_and_work_in_bands(monkeypatch):
    import convcli.colour as colour

    rng = np.random.default_rng(0)
    image = rng.integers(0, 65536, (50, 7, 3), dtype=np.uint16)
    linear = decode_samples(image, np.float64)
    np.testing.assert_allclose(linear, srgb_to_linear(image) * 65535, rtol=1e-15)
    floats = rng.uniform(-0.2, 1.2, (50, 7)).astype(np.float32)
    monkeypatch.setattr(colour, "_BAND_ELEMENTS", 8)  # several bands: the same values
    banded = decode_samples(floats, np.float32)
    assert banded.dtype == np.float32
    assert np.array_equal(banded, (srgb_to_linear(floats)).astype(np.float32))
    back = encode_samples(linear.copy(), 65535.0)
    np.testing.assert_allclose(back, image, atol=1e-7)
    with pytest.raises(TypeError, match="float array, got dtype uint16"):
        encode_samples(image, 65535.0)


def _v4_profile(text: str) -> bytes:
    """A minimal ICC v4-style profile: header, one 'desc' tag of type 'mluc'."""
    body = text.encode("utf-16-be")
    tag = b"mluc" + b"\0" * 4 + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(body), 28) + body
    header = bytearray(128)
    header[36:40] = b"acsp"
    table = struct.pack(">I", 1) + struct.pack(">4sII", b"desc", 144, len(tag))
    data = bytes(header) + table + tag
    return struct.pack(">I", len(data)) + data[4:]


def test_profile_descriptions_v2_and_v4():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert profile_description(srgb) == "sRGB built-in"
    assert profile_description(lab) == "Lab identity built-in"
    assert profile_description(_v4_profile("Adobe RGB (1998)")) == "Adobe RGB (1998)"
    assert profile_description(_v4_profile("sRGB v4 ICC preference")) == "sRGB v4 ICC preference"
    assert profile_description(b"\0" * 200) is None and profile_description(b"") is None


def test_profile_note_names_the_file_and_the_profile():
    assert profile_note(_v4_profile("sRGB IEC61966-2.1"), "a.png") is None
    assert profile_note(None, "a.png") is None and profile_note(b"", "a.png") is None
    note = profile_note(_v4_profile("Display P3"), "photo.png")
    assert note is not None and note.startswith("photo.png: its ICC profile is not sRGB ('Display P3');")
    assert "does not convert colour profiles" in note
    assert "no readable description" in str(profile_note(b"junk", "x.png"))


def test_read_profile_from_headers(tmp_path):
    from PIL import Image

    path = tmp_path / "p.png"
    Image.new("RGB", (4, 4)).save(path, icc_profile=_v4_profile("Display P3"))
    assert read_profile(str(path)) == _v4_profile("Display P3")
    assert read_profile("-", path.read_bytes()) == _v4_profile("Display P3")
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    assert read_profile(str(tmp_path / "plain.png")) is None
    assert read_profile(str(tmp_path / "missing.png")) is None
