"""One image through the operations (pipeline.py), checked against SciPy and the slow references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from convcli.depth import natural_depth, nominal_max, to_depth
from convcli.errors import ParameterError, ShapeError
from convcli.kernels import kernel
from convcli.operations import Activate, Convolve, Pooling
from convcli.pipeline import output_channels, plan_steps
from convcli.streaming import stream_filter
from tests.reference import ref_correlate, ref_pool

# numpy.pad border names -> scipy.ndimage modes
SCIPY_MODE = {"reflect": "mirror", "symmetric": "reflect", "edge": "nearest", "wrap": "wrap", "constant": "constant"}


def scipy_correlate(image, matrix, border="reflect", value=0.0):
    """Each channel with scipy.ndimage.correlate in float64 ('same' size, odd kernels)."""
    x = np.asarray(image, dtype=np.float64)
    k = np.asarray(matrix, dtype=np.float64)
    if x.ndim == 3:
        return np.stack([scipy_correlate(x[..., c], k, border, value) for c in range(x.shape[2])], axis=2)
    return ndimage.correlate(x, k, mode=SCIPY_MODE[border], cval=value)


# --- convolution ------------------------------------------------------------------


@pytest.mark.parametrize("border", ["reflect", "symmetric", "edge", "wrap", "constant"])
@pytest.mark.parametrize("spec", ["gaussian:sigma=1.5", "sobel:axis=y", "laplacian", "1 2 0; -1 3 1; 0 0 2"])
def test_convolve_matches_scipy_for_gray_and_colour(rng, border, spec):
    image = rng.integers(0, 256, (23, 31, 3)).astype(np.uint8)
    k = kernel(spec)
    out = stream_filter(image, [Convolve(k, border=border, border_value=17.0)]).collect()
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, scipy_correlate(image, k.matrix, border, 17.0), atol=2e-3)
    gray = stream_filter(image[..., 0], [Convolve(k, border=border, border_value=17.0)]).collect()
    np.testing.assert_allclose(gray, scipy_correlate(image[..., 0], k.matrix, border, 17.0), atol=2e-3)


def test_flip_is_true_convolution(rng):
    image = rng.random((15, 17))
    k = kernel("1 2 0; -1 3 1; 0 0 2")
    out = stream_filter(image, [Convolve(k, flip=True, border="edge")]).collect()
    np.testing.assert_allclose(out, ndimage.convolve(image, k.matrix, mode="nearest"), atol=1e-12)
    assert not np.allclose(out, stream_filter(image, [Convolve(k, border="edge")]).collect())


def test_operator_kernel_combines_components_with_hypot(rng):
    image = rng.random((20, 20))
    gx = ndimage.correlate(image, kernel("sobel:axis=x").matrix, mode="mirror")
    gy = ndimage.correlate(image, kernel("sobel:axis=y").matrix, mode="mirror")
    out = stream_filter(image, [Convolve(kernel("sobel:axis=both"))]).collect()
    np.testing.assert_allclose(out, np.hypot(gx, gy), atol=1e-12)


def test_kernel_offset_is_added(rng):
    from convcli.kernels import Kernel

    image = rng.random((9, 9))
    plain = stream_filter(image, [Convolve(Kernel(np.ones((3, 3)) / 9))]).collect()
    shifted = stream_filter(image, [Convolve(Kernel(np.ones((3, 3)) / 9, offset=0.25))]).collect()
    np.testing.assert_allclose(shifted - plain, 0.25, atol=1e-12)


@pytest.mark.parametrize(
    ("pad", "stride", "dilation"),
    [("valid", 1, 1), ("full", 2, 1), (1, (2, 1), 2), ((0, 2), 1, (1, 2)), ((1, 0, 2, 1), 3, 1)],
)
def test_pad_stride_dilation_match_the_slow_reference(rng, pad, stride, dilation):
    image = rng.random((13, 16, 2))
    matrix = rng.normal(size=(3, 2))
    op = Convolve(kernel(matrix), pad=pad, stride=stride, dilation=dilation, border="symmetric")
    out = stream_filter(image, [op]).collect()
    expected = ref_correlate(image, matrix, border="symmetric", pad=pad, stride=stride, dilation=dilation)
    assert out.shape == expected.shape == (*op.output_hw((13, 16)), 2)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_anchor_moves_the_kernel_and_only_applies_to_same(rng):
    image = rng.random((10, 10))
    k = kernel("box:size=3")
    moved = stream_filter(image, [Convolve(k, anchor=(0, 0), border="constant")]).collect()
    np.testing.assert_allclose(moved, ref_correlate(image, k.matrix, border="constant", anchor=(0, 0)), atol=1e-12)
    with pytest.raises(ParameterError, match=r"anchor only applies to pad='same'"):
        Convolve(k, anchor=(0, 0), pad="valid")
    with pytest.raises(ParameterError, match=r"anchor must lie inside the 3x3 kernel"):
        Convolve(k, anchor=(3, 0))


def test_kernel_file_anchor_positions_same_padding_only(rng):
    from convcli.kernels import Kernel

    image = rng.random((8, 8))
    k = Kernel(np.arange(9.0).reshape(3, 3), anchor=(0, 0))
    np.testing.assert_allclose(stream_filter(image, [Convolve(k, border="edge")]).collect(),
                               ref_correlate(image, k.matrix, border="edge", anchor=(0, 0)), atol=1e-12)
    np.testing.assert_allclose(stream_filter(image, [Convolve(k, pad="valid")]).collect(),
                               ref_correlate(image, k.matrix, pad="valid"), atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": 0}, "stride must be a positive integer"),
        ({"dilation": -1}, "dilation must be a positive integer"),
        ({"border": "mirror"}, "ambiguous"),
        ({"border": "bogus"}, "bogus"),
        ({"method": "magic"}, "unknown method 'magic'; use one of auto, direct, separable, fft"),
        ({"pad": -1}, "pad must be"),
    ],
)
def test_convolve_checks_its_options_when_made(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Convolve(kernel("box"), **kwargs)


def test_valid_padding_that_leaves_nothing_names_the_sizes():
    with pytest.raises(ShapeError, match=r"nothing is left along rows"):
        stream_filter(np.zeros((2, 9)), [Convolve(kernel("box:size=5"), pad="valid")]).collect()


def test_weight_matrix_is_absolute_and_sums_to_one():
    op = Convolve(kernel("sobel:axis=both"))
    w = op.weight_matrix()
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, (np.abs(kernel("sobel:axis=x").matrix) + np.abs(kernel("sobel:axis=y").matrix)) / 16)


# --- activation and pooling ---------------------------------------------------------


def test_activations():
    x = np.array([-200.0, 0.0, 100.0], np.float32)
    assert Activate("none").run(x).tolist() == x.tolist()
    assert Activate("relu").run(x).tolist() == [0.0, 0.0, 100.0]
    assert Activate("abs").run(x).tolist() == [200.0, 0.0, 100.0]
    np.testing.assert_allclose(Activate("sigmoid").run(x, scale=255.0), 255 / (1 + np.exp(-x / 255)), rtol=1e-6)
    np.testing.assert_allclose(Activate("tanh").run(x, scale=255.0), 255 * np.tanh(x / 255), rtol=1e-6)
    np.testing.assert_allclose(Activate("tanh").run(x), np.tanh(x), rtol=1e-6)
    with pytest.raises(ParameterError, match=r"unknown activation 'gelu'"):
        Activate("gelu")


def test_sigmoid_of_an_8bit_zero_is_mid_gray():
    out = stream_filter(np.zeros((2, 2), np.uint8), [Activate("sigmoid")]).collect()
    assert to_depth(out, "8", source_max=255).tolist() == [[128, 128], [128, 128]]


@pytest.mark.parametrize("op", ["max", "mean", "min"])
def test_pool_matches_reference(rng, op):
    image = rng.random((9, 11))
    out = stream_filter(image, [Pooling(op, size=(3, 2), stride=2, pad=1, ceil_mode=True)]).collect()
    np.testing.assert_allclose(out, ref_pool(image, (3, 2), stride=2, op=op, pad=1, ceil_mode=True), atol=1e-12)


def test_pool_checks_its_options():
    with pytest.raises(ParameterError, match=r"unknown pooling op 'median'"):
        Pooling("median")
    with pytest.raises(ParameterError, match=r"pooling pad must be at most half the window"):
        Pooling("max", size=2, pad=2)
    with pytest.raises(ParameterError, match=r"pooling stride"):
        Pooling("max", size=2, stride=0)


def test_operations_run_in_the_order_given(rng):
    image = rng.normal(size=(8, 8))
    box = Convolve(kernel("box:size=3"))
    a = stream_filter(image, [box, Activate("relu"), Pooling("max", 2)]).collect()
    b = ref_pool(np.maximum(ref_correlate(image, box.kernel.matrix), 0), 2)
    np.testing.assert_allclose(a, b, atol=1e-12)
    c = stream_filter(image, [Activate("relu"), box]).collect()
    assert not np.allclose(ref_pool(c, 2), a)


def test_pooling_alone_and_no_operation(rng):
    image = rng.integers(0, 256, (6, 6)).astype(np.uint8)
    assert stream_filter(image, [Pooling("max", 3)]).collect().tolist() == ref_pool(image, 3).tolist()
    same = stream_filter(image, []).collect()
    assert same.dtype == np.float32 and np.array_equal(same, image)


def test_rejects_what_is_not_an_operation():
    with pytest.raises(TypeError, match=r"operations must be Convolve, Activate or Pooling"):
        stream_filter(np.zeros((2, 2)), ["box"]).collect()  # type: ignore[list-item]


# --- channels ---------------------------------------------------------------------


def test_gray_converts_with_itu_601_weights_first(rng):
    image = rng.integers(0, 256, (12, 10, 3)).astype(np.uint8)
    k = kernel("gaussian:sigma=1")
    luma = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    out = stream_filter(image, [Convolve(k)], channels="gray").collect()
    assert out.shape == (12, 10)
    np.testing.assert_allclose(out, scipy_correlate(luma, k.matrix), atol=2e-3)


def test_sum_is_the_depth_sum_of_the_first_convolution(rng):
    image = rng.normal(size=(10, 10, 3))
    k = kernel("sobel:axis=x")
    depth_sum = scipy_correlate(image, k.matrix).sum(axis=2)
    out = stream_filter(image, [Convolve(k), Activate("relu")], channels="sum").collect()
    np.testing.assert_allclose(out, np.maximum(depth_sum, 0), atol=1e-10)  # relu after the sum, as in a CNN
    assert not np.allclose(out, np.maximum(scipy_correlate(image, k.matrix), 0).sum(axis=2))
    assert stream_filter(image, [Pooling("max", 2)], channels="sum").collect().shape == (5, 5)


def test_input_is_never_modified(rng):
    image = rng.integers(0, 256, (8, 8, 4)).astype(np.uint8)
    image[..., 3] = rng.integers(0, 256, (8, 8))
    before = image.copy()
    for channels in ("each", "sum", "gray"):
        stream_filter(image, [Convolve(kernel("box")), Activate("abs"), Pooling("min", 2)], channels=channels,
                     alpha=True).collect()
    assert np.array_equal(image, before)


def test_float64_stays_float64_and_integers_compute_in_float32(rng):
    ops = [Convolve(kernel("box"))]
    assert stream_filter(rng.random((5, 5)), ops).collect().dtype == np.float64
    assert stream_filter(rng.random((5, 5)).astype(np.float32), ops).collect().dtype == np.float32
    assert stream_filter(np.zeros((5, 5), np.uint16), ops).collect().dtype == np.float32


# --- alpha ------------------------------------------------------------------------


def _half_transparent(h=12, w=12):
    """Opaque red on the right half, fully transparent green on the left half."""
    image = np.zeros((h, w, 4), np.uint8)
    image[:, : w // 2] = (0, 255, 0, 0)
    image[:, w // 2 :] = (255, 0, 0, 255)
    return image


@pytest.mark.parametrize("spec", ["box:size=5", "gaussian:sigma=2", "sharpen", "sobel:axis=x"])
def test_transparent_colour_does_not_bleed_into_opaque_pixels(spec):
    image = _half_transparent()
    out = stream_filter(image, [Convolve(kernel(spec))], alpha=True).collect()
    opaque = out[:, 6:]
    np.testing.assert_allclose(opaque[..., 1], 0, atol=1e-3)  # no green at all
    np.testing.assert_allclose(opaque[..., 2], 0, atol=1e-3)


def test_blurred_alpha_and_colour_follow_premultiplied_filtering():
    image = _half_transparent()
    k = kernel("box:size=3")
    out = stream_filter(image, [Convolve(k)], alpha=True).collect()
    a = image[..., 3] / 255.0
    expected_alpha = scipy_correlate(a, k.matrix) * 255
    np.testing.assert_allclose(out[..., 3], expected_alpha, atol=1e-3)
    premultiplied = scipy_correlate(image[..., 0] * a, k.matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_red = np.where(expected_alpha > 0, premultiplied / (expected_alpha / 255), 0)
    np.testing.assert_allclose(out[..., 0], expected_red, atol=1e-2)
    # at the boundary the visible pixels are still full red, and alpha fades
    assert out[0, 5, 0] == pytest.approx(255, abs=1e-2) and out[0, 5, 3] == pytest.approx(85, abs=1e-2)


def test_an_opaque_rgba_image_filters_exactly_like_rgb(rng):
    rgb = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((16, 16, 1), 255, np.uint8)], axis=2)
    ops = [Convolve(kernel("sobel:axis=both"), border="constant", border_value=9), Pooling("max", 2)]
    out = stream_filter(rgba, ops, alpha=True).collect()
    assert np.array_equal(out[..., :3], stream_filter(rgb, ops).collect())
    assert np.all(out[..., 3] == 255)


def test_edge_filter_keeps_a_partly_transparent_image_visible(rng):
    image = rng.integers(0, 256, (10, 10, 4)).astype(np.uint8)
    image[..., 3] = 200
    image[0, 0, 3] = 0
    out = stream_filter(image, [Convolve(kernel("laplacian"))], alpha=True).collect()
    assert out[5, 5, 3] == pytest.approx(200, abs=1e-3)  # the alpha is averaged, not differentiated


def test_keep_alpha_keeps_the_input_alpha_and_refuses_a_size_change():
    image = _half_transparent()
    out = stream_filter(image, [Convolve(kernel("box:size=5"))], alpha=True, keep_alpha=True).collect()
    assert np.array_equal(out[..., 3], image[..., 3])
    np.testing.assert_allclose(out[:, 6:, 1], 0, atol=1e-3)
    with pytest.raises(ParameterError, match=r"keeping alpha .* needs the output to keep the input's size 12x12"):
        stream_filter(image, [Pooling("max", 2)], alpha=True, keep_alpha=True).collect()


def test_alpha_with_gray_and_sum():
    image = _half_transparent()
    gray = stream_filter(image, [Convolve(kernel("box"))], alpha=True, channels="gray").collect()
    assert gray.shape == (12, 12, 2)
    np.testing.assert_allclose(gray[:, 7:, 0], 255 * 0.299, atol=1e-2)
    summed = stream_filter(image, [Convolve(kernel("box"))], alpha=True, channels="sum").collect()
    assert summed.shape == (12, 12)
    np.testing.assert_allclose(summed[:, 7:], 255, atol=1e-2)


def test_max_pooling_ignores_fully_transparent_pixels():
    image = _half_transparent(4, 4)
    image[..., 1] = np.where(image[..., 3] == 0, 255, 10)  # green is high only where invisible
    out = stream_filter(image, [Pooling("max", size=(1, 4))], alpha=True).collect()
    assert out[0, 0].tolist() == [255, 10, 0, 255]
    out = stream_filter(image, [Pooling("mean", size=(1, 4))], alpha=True).collect()
    assert out[0, 0, 1] == pytest.approx(10) and out[0, 0, 3] == pytest.approx(127.5)


def test_activation_applies_to_colour_only():
    image = _half_transparent(4, 4)
    out = stream_filter(image, [Activate("sigmoid")], alpha=True).collect()
    assert out[0, 3, 3] == 255 and out[0, 0, 3] == 0


def test_output_channels():
    assert output_channels(1) == 1
    assert output_channels(3, channels="gray") == 1
    assert output_channels(2, alpha=True) == 2
    assert output_channels(4, channels="sum", alpha=True) == 1


# --- output samples ---------------------------------------------------------------


def test_to_depth_clip_rounds_half_to_even_and_clips():
    x = np.array([-3.0, 0.5, 1.5, 254.5, 255.4, 900.0], np.float32)
    assert to_depth(x, "8", source_max=255).tolist() == [0, 0, 2, 254, 255, 255]


def test_to_depth_scales_between_depths():
    x = np.array([0.0, 128.0, 255.0], np.float32)
    assert to_depth(x, "16", source_max=255).tolist() == [0, 32896, 65535]
    assert to_depth(np.array([0.0, 0.5, 1.0]), "8", source_max=1.0).tolist() == [0, 128, 255]
    np.testing.assert_allclose(to_depth(x, "float", source_max=255), [0, 128 / 255, 1])


def test_gain_and_offset_come_before_the_range_policy():
    edges = np.array([-100.0, 0.0, 100.0], np.float32)
    assert to_depth(edges, "8", source_max=255, gain=0.5, offset=128).tolist() == [78, 128, 178]
    assert to_depth(edges, "8", source_max=255, range_mode="abs").tolist() == [100, 0, 100]
    assert to_depth(edges, "8", source_max=255, range_mode="abs", offset=-50).tolist() == [150, 50, 50]
    assert to_depth(edges, "16", source_max=255, range_mode="normalize").tolist() == [0, 32768, 65535]
    assert to_depth(np.full(3, 7.0), "8", source_max=255, range_mode="normalize").tolist() == [0, 0, 0]


def test_float_output_is_unclipped_with_gain_and_offset():
    out = to_depth(np.array([-2.0, 3.0], np.float32), "float", source_max=1.0, gain=2.0, offset=0.5)
    assert out.dtype == np.float32 and out.tolist() == [-3.5, 6.5]
    assert to_depth(np.array([1.0]), "float", source_max=1.0).dtype == np.float64


def test_alpha_is_only_scaled():
    x = np.array([[[-50.0, 255.0], [50.0, 0.0]]], np.float32)
    out = to_depth(x, "8", source_max=255, gain=2, offset=10, range_mode="normalize", alpha=True)
    assert out.tolist() == [[[0, 255], [255, 0]]]


def test_nan_becomes_zero_in_integer_outputs():
    assert to_depth(np.array([np.nan, np.inf, -np.inf]), "8", source_max=255).tolist() == [0, 255, 0]


def test_to_depth_refuses_unknown_values():
    with pytest.raises(ParameterError, match=r"unknown depth '12'"):
        to_depth(np.zeros(2), "12", source_max=255)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"unknown range mode 'wrap'"):
        to_depth(np.zeros(2), "8", source_max=255, range_mode="wrap")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dtype", "top", "depth"),
    [(np.uint8, 255.0, "8"), (np.bool_, 255.0, "8"), (np.uint16, 65535.0, "16"), (np.int32, 65535.0, "16"),
     (np.float32, 1.0, "float"), (np.float64, 1.0, "float")],
)
def test_nominal_max_and_natural_depth(dtype, top, depth):
    assert nominal_max(dtype) == top
    assert natural_depth(dtype) == depth


# --- dry-run plans ------------------------------------------------------------------


def test_plan_steps_report_the_shapes_and_the_auto_method():
    from convcli.engine import choose_method

    ops = [Convolve(kernel("gaussian:sigma=3"), stride=2), Activate("relu"), Pooling("mean", 3, ceil_mode=True)]
    steps = plan_steps((101, 80, 4), ops, alpha=True, channels="gray")
    assert [s.input for s in steps] == [(101, 80, 4), (101, 80, 2), (51, 40, 2), (51, 40, 2)]
    assert steps[-1].output == (17, 14, 2)
    assert steps[1].method == choose_method((101, 80), kernel("gaussian:sigma=3").matrix, stride=2).method
    assert steps[1].reason
    forced = plan_steps((50, 50), [Convolve(kernel("box"), method="fft")])
    assert forced[0].method == "fft" and forced[0].reason == "forced by --method"


def test_plan_steps_name_the_step_that_leaves_nothing():
    with pytest.raises(ShapeError, match=r"step 2 \(max pool 4x4 stride 4x4\) on a 3x3 image: pooling leaves"):
        plan_steps((6, 6), [Pooling("max", 2), Pooling("max", 4)])


@given(
    h=st.integers(4, 20), w=st.integers(4, 20), c=st.sampled_from([1, 2, 3, 4]),
    kh=st.integers(1, 4), kw=st.integers(1, 4),
    pad=st.sampled_from(["same", "valid", "full", 1, (0, 2)]),
    stride=st.integers(1, 3), dilation=st.integers(1, 2),
    pool_size=st.sampled_from([None, 1, 2]),
    channels=st.sampled_from(["each", "sum", "gray"]), alpha=st.booleans(),
)
def test_plan_shapes_equal_the_filtered_shapes(h, w, c, kh, kw, pad, stride, dilation, pool_size, channels, alpha):
    rng = np.random.default_rng(h * 100 + w)
    shape = (h, w) if c == 1 else (h, w, c)
    image = rng.integers(0, 256, shape).astype(np.uint8)
    ops: list = [Convolve(kernel(rng.normal(size=(kh, kw))), pad=pad, stride=stride, dilation=dilation)]
    if pool_size:
        ops.append(Pooling("max", pool_size))
    try:
        steps = plan_steps(shape, ops, channels=channels, alpha=alpha)
    except ShapeError:
        with pytest.raises(ShapeError):
            stream_filter(image, ops, channels=channels, alpha=alpha).collect()
        return
    out = stream_filter(image, ops, channels=channels, alpha=alpha).collect()
    assert out.shape == steps[-1].output
    c_in = 1 if len(shape) == 2 else shape[2]
    assert (1 if out.ndim == 2 else out.shape[2]) == output_channels(c_in, channels=channels, alpha=alpha)


@given(seed=st.integers(0, 2**32 - 1), border=st.sampled_from(["reflect", "symmetric", "edge", "wrap", "constant"]))
def test_random_kernels_match_the_slow_reference(seed, border):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(int(rng.integers(3, 12)), int(rng.integers(3, 12)), 2))
    matrix = rng.normal(size=(int(rng.integers(1, 5)), int(rng.integers(1, 5))))
    out = stream_filter(image, [Convolve(kernel(matrix), border=border, border_value=0.5)]).collect()
    np.testing.assert_allclose(out, ref_correlate(image, matrix, border=border, border_value=0.5), atol=1e-9)


def test_convolve_takes_a_spec_or_a_matrix_for_python_callers(rng):
    image = rng.random((6, 6))
    by_spec = stream_filter(image, [Convolve("box:size=3")]).collect()
    by_matrix = stream_filter(image, [Convolve(np.ones((3, 3)) / 9)]).collect()
    np.testing.assert_allclose(by_spec, ref_correlate(image, np.ones((3, 3)) / 9), atol=1e-12)
    np.testing.assert_allclose(by_matrix, by_spec, atol=1e-12)
