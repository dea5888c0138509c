"""The direct method's integer path (8/16-bit images, integer or one-weight kernels) gives the float path's bits.

Two independent oracles: the same values given as float32 (which the engine can only add up in float), and the
slow float64 loop of tests/reference.py (exact for these integer sums)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from convcli.engine import convolve, correlate
from convcli.engine._direct import integer_work
from convcli.engine._plan import make_plan

from .reference import ref_correlate

BORDERS = ("constant", "edge", "reflect", "symmetric", "wrap")


def _image(dtype: np.dtype, shape: tuple[int, ...], seed: int) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, int(info.max) + 1, shape, dtype=dtype)


def _plan(image, kernel, **options):
    args = {"flip": False, "border": "reflect", "border_value": 0.0, "pad": "same", "stride": 1, "dilation": 1,
            "anchor": None}
    args.update(options)
    return make_plan(image, kernel, **args)


KERNELS = {
    "sobel": np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]),
    "laplacian": np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    "box 5x5": np.full((5, 5), 1 / 25),
    "random integers 4x6": np.random.default_rng(3).integers(-3, 4, (4, 6)).astype(np.float64),
    "one tap": np.array([[0.0, 0.0], [0.0, -7.0]]),
}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("border", BORDERS)
def test_integer_path_gives_the_float_paths_bits(dtype, name, border):
    kernel = KERNELS[name]
    image = _image(np.dtype(dtype), (23, 19, 3), seed=zlib.crc32(f"{name} {border}".encode()))
    value = 5.0 if border == "constant" else 0.0
    found = integer_work(_plan(image, kernel, border=border, border_value=value))
    sum_abs = np.abs(kernel[kernel != 0]).sum() if name != "box 5x5" else 25
    peak = max(-int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    assert (found is not None) == (peak * sum_abs < 1 << 24)
    result = correlate(image, kernel, method="direct", border=border, border_value=value)
    float_path = correlate(image.astype(np.float32), kernel, method="direct", border=border, border_value=value)
    assert result.dtype == float_path.dtype == np.float32
    np.testing.assert_array_equal(result, float_path)
    reference = ref_correlate(image, kernel, border=border, border_value=value)
    np.testing.assert_allclose(result, reference, rtol=1e-6, atol=1e-6 * peak)


@pytest.mark.parametrize("options", [
    {"stride": 2}, {"dilation": 2}, {"stride": (2, 3), "dilation": (1, 2)}, {"pad": "valid"}, {"pad": "full"},
    {"pad": 7}, {"anchor": (0, 0)},
])
def test_strides_dilations_pads_and_anchors(options):
    image = _image(np.dtype(np.uint8), (31, 27), seed=5)
    kernel = KERNELS["sobel"]
    result = correlate(image, kernel, method="direct", **options)
    np.testing.assert_array_equal(result, correlate(image.astype(np.float32), kernel, method="direct", **options))
    np.testing.assert_array_equal(result, ref_correlate(image, kernel, **options).astype(np.float32))


def test_convolution_flips_first():
    image = _image(np.dtype(np.uint8), (17, 21, 3), seed=9)
    kernel = KERNELS["random integers 4x6"]
    result = convolve(image, kernel, method="direct")
    np.testing.assert_array_equal(result, ref_correlate(image, kernel[::-1, ::-1]).astype(np.float32))


def test_eight_bit_sums_use_int16_and_sixteen_bit_int32():
    u8, u16 = np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint16)
    assert integer_work(_plan(u8, KERNELS["sobel"]))[0] == np.int16  # 255 * 8 fits
    assert integer_work(_plan(u8, np.full((13, 13), 1.0)))[0] == np.int32  # 255 * 169 does not
    assert integer_work(_plan(u16, KERNELS["sobel"]))[0] == np.int32


@pytest.mark.parametrize("why, image, kernel, options", [
    ("float samples", np.zeros((8, 8), np.float32), KERNELS["sobel"], {}),
    ("32-bit samples", np.zeros((8, 8), np.int32), KERNELS["sobel"], {}),
    ("weights neither integers nor one value", np.zeros((8, 8), np.uint8), np.array([[0.5, 0.25]]), {}),
    ("a sum that float32 would round", np.zeros((8, 8), np.uint16), np.full((17, 17), 1.0), {}),
    ("a border value that is not an integer", np.zeros((8, 8), np.uint8), KERNELS["sobel"],
     {"border": "constant", "border_value": 0.5}),
    ("a border value beyond the samples' type", np.zeros((8, 8), np.uint8), KERNELS["sobel"],
     {"border": "constant", "border_value": -1.0}),
    ("a NaN border value", np.zeros((8, 8), np.uint8), KERNELS["sobel"],
     {"border": "constant", "border_value": float("nan")}),
])
def test_what_stays_on_the_float_path(why, image, kernel, options):
    assert integer_work(_plan(image, kernel, **options)) is None, why
    result = correlate(image, kernel, method="direct", **options)
    reference = ref_correlate(image, kernel, **options)
    np.testing.assert_allclose(result, reference, rtol=1e-6, atol=1e-6)


def test_extreme_samples_do_not_wrap_around():
    # every sample at the type's limits: the largest sums the int16 / int32 accumulators must hold
    for dtype, kernel in ((np.uint8, np.full((11, 11), 1.0)), (np.int8, KERNELS["sharpen"] * 10),
                          (np.uint16, np.full((16, 16), 1.0)), (np.int16, -KERNELS["laplacian"] * 60)):
        info = np.iinfo(dtype)
        image = np.where(np.indices((20, 20)).sum(axis=0) % 2 == 0, info.max, info.min).astype(dtype)
        assert integer_work(_plan(image, kernel)) is not None
        np.testing.assert_array_equal(correlate(image, kernel, method="direct"),
                                      ref_correlate(image, kernel).astype(np.float32))
