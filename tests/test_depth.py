"""The one depth vocabulary (depth.py): names, full scales, dtypes and the output range policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import convcli.imageio
from convcli.depth import (
    DEPTHS,
    FULL_SCALE,
    check_depth,
    depth_name,
    depth_of,
    natural_depth,
    nominal_max,
    sample_dtype,
    to_depth,
)
from convcli.errors import ImageWriteError, ParameterError


def test_the_vocabulary() -> None:
    assert DEPTHS == ("8", "16", "float")
    assert [depth_name(d) for d in DEPTHS] == ["8-bit", "16-bit", "float"]
    assert FULL_SCALE == {"8": float(np.iinfo(np.uint8).max), "16": float(np.iinfo(np.uint16).max), "float": 1.0}
    assert [sample_dtype(d) for d in DEPTHS] == [np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)]
    for d in DEPTHS:
        assert depth_of(sample_dtype(d)) == d
    assert depth_of(np.float64) is None and depth_of(np.int32) is None


@pytest.mark.parametrize("bad", ["32", "8bit", 8, None])
def test_an_unknown_depth_is_refused_everywhere_with_one_message(bad: object) -> None:
    message = rf"^unknown depth {bad!r}; use one of 8, 16, float$".replace("(", r"\(").replace(")", r"\)")
    for call in (lambda: check_depth(bad), lambda: depth_name(bad), lambda: sample_dtype(bad),  # type: ignore[arg-type]
                 lambda: to_depth(np.zeros(2), bad, source_max=255)):  # type: ignore[arg-type]
        with pytest.raises(ParameterError, match=message):
            call()


@pytest.mark.parametrize(
    ("dtype", "full", "natural"),
    [(np.uint8, 255.0, "8"), (np.int8, 255.0, "8"), (np.bool_, 255.0, "8"), (np.uint16, 65535.0, "16"),
     (np.int32, 65535.0, "16"), (np.float32, 1.0, "float"), (np.float64, 1.0, "float")],
)
def test_nominal_max_and_natural_depth(dtype: type, full: float, natural: str) -> None:
    assert nominal_max(dtype) == full
    assert natural_depth(dtype) == natural


def test_format_messages_name_depths_from_the_vocabulary() -> None:
    with pytest.raises(ImageWriteError, match=rf"JPEG cannot hold {depth_name('16')} gray data"):
        convcli.imageio.fit_depth("JPEG", "16", 1, strict=True)


@given(
    hnp.arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e4, 1e4)),
    st.sampled_from(["8", "16"]),
    st.floats(0.1, 4.0),
    st.floats(-300.0, 300.0),
)
def test_to_depth_clip_is_gain_offset_round_clip(values, out_depth, gain, offset) -> None:
    top = FULL_SCALE[out_depth]
    got = to_depth(values, out_depth, source_max=255, gain=gain, offset=offset)
    # the library works in the result's float type (float64 here, as the engine's work dtype for float64 data):
    # compute the reference the same way, step by step (a float32 reference rounds 1e-11 + 0.5 to 0.5)
    x = values * (top / 255)
    x = x * gain + offset
    want = np.clip(np.rint(x), 0, top)
    assert got.dtype == sample_dtype(out_depth)
    np.testing.assert_array_equal(got, want.astype(got.dtype))


def test_to_depth_range_policies_on_known_values() -> None:
    x = np.array([-20.0, 0.0, 10.0, 300.0])
    assert to_depth(x, "8", source_max=255).tolist() == [0, 0, 10, 255]
    assert to_depth(x, "8", source_max=255, range_mode="abs").tolist() == [20, 0, 10, 255]
    assert to_depth(x, "8", source_max=255, range_mode="normalize").tolist() == [0, 16, 24, 255]  # (x+20)*255/320
    assert to_depth(np.array([np.nan, np.inf, -np.inf]), "8", source_max=255).tolist() == [0, 255, 0]
    assert to_depth(np.array([255.0, 510.0]), "float", source_max=255).tolist() == [1.0, 2.0]  # never clipped


def test_to_depth_leaves_alpha_to_scaling_only() -> None:
    rgba = np.array([[[10.0, 20.0, 30.0, 255.0]]])
    out = to_depth(rgba, "16", source_max=255, gain=2.0, offset=100.0, alpha=True)
    assert out.tolist() == [[[5240, 10380, 15520, 65535]]]  # colour: 257*x*2 + 100; alpha: 257*255
