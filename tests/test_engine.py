"""The engine against a slow reference, SciPy, PyTorch and analytic answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as sig
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import convcli
from convcli.engine import BORDERS, METHODS, choose_method, convolve, correlate
from convcli.errors import ConvcliError, KernelError, ParameterError, ShapeError
from convcli.shapes import output_size

from .reference import ref_convolve_full_1d, ref_correlate

FORCED = [m for m in METHODS if m != "auto"]
ALL_METHODS = list(METHODS)
PADS = ["same", "valid", "full", 2, (1, 3), (0, 2, 3, 1)]
KERNEL_SHAPES = [(3, 3), (2, 4), (1, 5), (5, 2), (4, 4), (1, 1)]


def tol(dtype) -> dict:
    return {"rtol": 1e-4, "atol": 1e-4} if np.dtype(dtype) != np.float64 else {"rtol": 1e-10, "atol": 1e-10}


def scaled_tol(result_dtype, image, kernel) -> float:
    """Absolute tolerance scaled to the data's magnitude (FFT rounding grows with it)."""
    scale = float(np.abs(np.asarray(image, np.float64)).max() * np.abs(kernel).sum()) + 1.0
    return scale * (2e-6 if np.dtype(result_dtype) != np.float64 else 1e-12)


# --- every method against the reference --------------------------------------------------------

@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("pad", PADS, ids=str)
def test_methods_borders_pads_match_reference(method, border, pad, rng):
    image = rng.normal(size=(9, 11))
    kernel = rng.normal(size=(3, 4))
    got = correlate(image, kernel, border=border, border_value=0.75, pad=pad, method=method)
    want = ref_correlate(image, kernel, border=border, border_value=0.75, pad=pad)
    np.testing.assert_allclose(got, want, **tol(np.float64))


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("kshape", KERNEL_SHAPES, ids=str)
@pytest.mark.parametrize("stride", [1, 2, (1, 3)], ids=str)
@pytest.mark.parametrize("dilation", [1, 2, (3, 1)], ids=str)
def test_methods_kernels_stride_dilation_match_reference(method, kshape, stride, dilation, rng):
    image = rng.normal(size=(13, 12))
    kernel = rng.normal(size=kshape)
    got = correlate(image, kernel, border="symmetric", pad="same", stride=stride, dilation=dilation,
                    method=method)
    want = ref_correlate(image, kernel, border="symmetric", pad="same", stride=stride, dilation=dilation)
    np.testing.assert_allclose(got, want, **tol(np.float64))


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.bool_, np.float16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_dtypes_and_channels(method, dtype, channels, rng):
    shape = (10, 9) if channels is None else (10, 9, channels)
    if dtype == np.bool_:
        image = rng.random(shape) > 0.5
    elif np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        image = rng.integers(max(info.min, -1000), min(info.max, 60000), size=shape).astype(dtype)
    else:
        image = rng.normal(size=shape).astype(dtype)
    kernel = rng.normal(size=(3, 3))
    before = image.copy()
    got = correlate(image, kernel, method=method, border="wrap", stride=(2, 1))
    assert np.array_equal(image, before), "the input must not be modified"
    expected_dtype = np.float64 if dtype == np.float64 else np.float32
    assert got.dtype == expected_dtype
    want = ref_correlate(image.astype(np.float64), kernel, border="wrap", stride=(2, 1))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=scaled_tol(got.dtype, image, kernel))


def test_channels_are_filtered_alike(astronaut):
    kernel = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
    rgb = correlate(astronaut, kernel)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], correlate(astronaut[..., c], kernel))


def test_noncontiguous_input(rng):
    base = rng.normal(size=(20, 30, 4))
    view = base[::2, 1::3, 1:3]
    kernel = rng.normal(size=(3, 2))
    np.testing.assert_allclose(correlate(view, kernel), ref_correlate(np.ascontiguousarray(view), kernel),
                               **tol(np.float64))


@pytest.mark.parametrize("border", BORDERS)
def test_pads_larger_than_image_follow_numpy_pad(border, rng):
    image = rng.normal(size=(3, 2))
    kernel = rng.normal(size=(2, 3))
    for method in ALL_METHODS:
        got = correlate(image, kernel, border=border, pad=(7, 1, 2, 9), method=method)
        np.testing.assert_allclose(got, ref_correlate(image, kernel, border=border, pad=(7, 1, 2, 9)),
                                   **tol(np.float64))


def test_anchor_overrides_same_padding(rng):
    image = rng.normal(size=(8, 8))
    kernel = rng.normal(size=(3, 4))
    for anchor in [(0, 0), (2, 3), (1, 0)]:
        got = correlate(image, kernel, anchor=anchor, border="edge")
        np.testing.assert_allclose(got, ref_correlate(image, kernel, border="edge", anchor=anchor),
                                   **tol(np.float64))


# --- convolve ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ALL_METHODS)
def test_convolve_is_correlate_with_rotated_kernel(method, rng):
    image = rng.normal(size=(9, 10))
    kernel = rng.normal(size=(3, 5))
    for pad in ["valid", "full", (1, 2, 0, 3)]:
        np.testing.assert_allclose(
            convolve(image, kernel, pad=pad, method=method),
            ref_correlate(image, kernel[::-1, ::-1], pad=pad),
            **tol(np.float64),
        )


def test_convolve_anchor_is_in_unrotated_coordinates(rng):
    image = rng.normal(size=(6, 7))
    kernel = np.zeros((3, 3))
    kernel[0, 2] = 1.0  # with anchor (0, 2) this tap multiplies the pixel itself: identity
    np.testing.assert_allclose(convolve(image, kernel, anchor=(0, 2)), image, atol=1e-12)


def test_convolve_delta_reproduces_kernel():
    image = np.zeros((7, 7))
    image[3, 3] = 1.0
    kernel = np.arange(9.0).reshape(3, 3)
    out = convolve(image, kernel, border="constant")
    np.testing.assert_array_equal(out[2:5, 2:5], kernel)  # true convolution: the kernel, not rotated
    out = correlate(image, kernel, border="constant")
    np.testing.assert_array_equal(out[2:5, 2:5], kernel[::-1, ::-1])


# --- SciPy, PyTorch ------------------------------------------------------------------------------

#: convcli border -> scipy.ndimage mode (the table in docs/conventions.md)
SCIPY_MODE = {"constant": "constant", "edge": "nearest", "reflect": "mirror", "symmetric": "reflect",
              "wrap": "wrap"}


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("kshape", [(3, 3), (5, 3), (2, 2), (4, 3)], ids=str)
@pytest.mark.parametrize("method", ALL_METHODS)
def test_matches_scipy_ndimage_correlate(border, kshape, method, camera, rng):
    image = camera[100:164, 200:280].astype(np.float64)
    kernel = rng.normal(size=kshape)
    # even sizes: SciPy centres at k//2; convcli's anchor is (k-1)//2, i.e. SciPy's origin -1
    origin = [-1 if n % 2 == 0 else 0 for n in kshape]
    want = ndi.correlate(image, kernel, mode=SCIPY_MODE[border], cval=3.5, origin=origin)
    got = correlate(image, kernel, border=border, border_value=3.5, method=method)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4)], ids=str)
def test_convolve_matches_scipy_ndimage_convolve(border, kshape, rng):
    image = rng.normal(size=(17, 19))
    kernel = rng.normal(size=kshape)
    want = ndi.convolve(image, kernel, mode=SCIPY_MODE[border], cval=-1.0)
    got = convolve(image, kernel, border=border, border_value=-1.0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["valid", "full"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_matches_scipy_signal_correlate2d(mode, method, rng):
    image = rng.normal(size=(21, 17))
    kernel = rng.normal(size=(4, 6))
    want = sig.correlate2d(image, kernel, mode=mode)
    got = correlate(image, kernel, pad=mode, border="constant", method=method)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    want = sig.convolve2d(image, kernel, mode=mode)
    got = convolve(image, kernel, pad=mode, border="constant", method=method)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


TORCH_CASES = list(
    itertools.product([(3, 3), (2, 5), (4, 4)], [0, 1, (2, 1)], [1, 2, (1, 3)], [1, 2, (2, 1)])
)


@pytest.mark.parametrize(("kshape", "padding", "stride", "dilation"), TORCH_CASES, ids=str)
@pytest.mark.parametrize("method", ALL_METHODS)
def test_matches_torch_conv2d(kshape, padding, stride, dilation, method, rng):
    image = rng.normal(size=(3, 19, 16))  # channels first for torch
    kernel = rng.normal(size=kshape)
    x = torch.from_numpy(image)[:, None]
    w = torch.from_numpy(kernel)[None, None]
    want = F.conv2d(x, w, padding=padding, stride=stride, dilation=dilation)[:, 0].numpy()
    got = correlate(np.moveaxis(image, 0, -1), kernel, border="constant", pad=padding, stride=stride,
                    dilation=dilation, method=method)
    np.testing.assert_allclose(np.moveaxis(got, -1, 0), want, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize("kshape", [(3, 3), (2, 2), (4, 3), (2, 5)], ids=str)
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_same_matches_torch_padding_same(kshape, dilation, rng):
    image = rng.normal(size=(15, 14))
    kernel = rng.normal(size=kshape)
    want = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None],
                    padding="same", dilation=dilation)[0, 0].numpy()
    for method in ALL_METHODS:
        got = correlate(image, kernel, border="constant", pad="same", dilation=dilation, method=method)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("torch_mode", "border"), [("reflect", "reflect"), ("replicate", "edge"),
                                                     ("circular", "wrap")])
def test_matches_torch_padding_modes(torch_mode, border, rng):
    image = rng.normal(size=(12, 13))
    kernel = rng.normal(size=(3, 5))
    padded = F.pad(torch.from_numpy(image)[None, None], (2, 2, 1, 1), mode=torch_mode)
    want = F.conv2d(padded, torch.from_numpy(kernel)[None, None], stride=2)[0, 0].numpy()
    got = correlate(image, kernel, border=torch_mode, pad=(1, 2), stride=2)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(got, correlate(image, kernel, border=border, pad=(1, 2), stride=2))


# --- analytic answers ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ALL_METHODS)
def test_constant_image_gives_kernel_sum(method):
    image = np.full((40, 50), 7.0, dtype=np.float32)
    kernel = np.arange(1.0, 26.0).reshape(5, 5)
    out = correlate(image, kernel, method=method, border="edge")
    np.testing.assert_allclose(out, 7.0 * kernel.sum(), rtol=1e-5)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_step_edge_sobel_sign(method):
    image = np.zeros((20, 20), dtype=np.float32)
    image[:, 10:] = 1.0  # intensity rises to the right
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    out = correlate(image, sobel_x, method=method, border="edge")
    np.testing.assert_allclose(out[:, 9:11], 4.0, atol=1e-5)  # positive response at the step
    np.testing.assert_allclose(out[:, :8], 0.0, atol=1e-5)
    np.testing.assert_allclose(out[:, 12:], 0.0, atol=1e-5)


def test_seed_004_long_multiplication():
    # (2, 4) * (7, 3, 1) = (14, 34, 14, 4): digits of 42 and 137, least significant first
    got = convolve(np.array([[2.0, 4.0]]), np.array([[7.0, 3.0, 1.0]]), pad="full", border="constant")
    assert got.tolist() == [[14.0, 34.0, 14.0, 4.0]]
    assert ref_convolve_full_1d([2, 4], [7, 3, 1]) == [14, 34, 14, 4]
    assert sum(int(v) * 10**i for i, v in enumerate(got[0])) == 42 * 137 == 5754


# --- properties ----------------------------------------------------------------------------------

small_images = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.floats(-100, 100, allow_nan=False, width=32),
)
small_kernels = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
    elements=st.floats(-10, 10, allow_nan=False, width=32),
)
pads = st.one_of(st.sampled_from(["same", "valid", "full"]), st.integers(0, 4),
                 st.tuples(st.integers(0, 3), st.integers(0, 3)),
                 st.tuples(*[st.integers(0, 3)] * 4))
strides = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@given(image=small_images, kernel=small_kernels, pad=pads, stride=strides, dilation=strides,
       border=st.sampled_from(BORDERS), method=st.sampled_from(ALL_METHODS))
def test_property_shape_matches_output_size_and_reference(image, kernel, pad, stride, dilation, border, method):
    try:
        expected = output_size(image.shape, kernel.shape, pad=pad, stride=stride, dilation=dilation)
    except ShapeError:
        with pytest.raises(ShapeError):
            correlate(image, kernel, pad=pad, stride=stride, dilation=dilation, border=border, method=method)
        return
    got = correlate(image, kernel, pad=pad, stride=stride, dilation=dilation, border=border, method=method)
    assert got.shape == expected
    want = ref_correlate(image, kernel, pad=pad, stride=stride, dilation=dilation, border=border)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=scaled_tol(np.float64, image, kernel) + 1e-9)


@given(a=small_images, b=small_images, kernel=small_kernels, alpha=st.floats(-3, 3), beta=st.floats(-3, 3),
       method=st.sampled_from(ALL_METHODS))
def test_property_linearity(a, b, kernel, alpha, beta, method):
    b = np.resize(b, a.shape)
    lhs = correlate(alpha * a + beta * b, kernel, method=method)
    rhs = alpha * correlate(a, kernel, method=method) + beta * correlate(b, kernel, method=method)
    scale = (abs(alpha) + abs(beta) + 1) * scaled_tol(np.float64, np.concatenate([a, b]), kernel)
    np.testing.assert_allclose(lhs, rhs, atol=scale * 10)


@given(image=small_images, kernel=small_kernels, dy=st.integers(-20, 20), dx=st.integers(-20, 20),
       method=st.sampled_from(ALL_METHODS))
def test_property_shift_equivariance_under_wrap(image, kernel, dy, dx, method):
    shifted = np.roll(image, (dy, dx), axis=(0, 1))
    lhs = correlate(shifted, kernel, border="wrap", method=method)
    rhs = np.roll(correlate(image, kernel, border="wrap", method=method), (dy, dx), axis=(0, 1))
    np.testing.assert_allclose(lhs, rhs, atol=scaled_tol(np.float64, image, kernel))


@given(a=small_images, b=small_images, method=st.sampled_from(ALL_METHODS))
def test_property_full_convolution_commutes(a, b, method):
    ab = convolve(a, b, pad="full", border="constant", method=method)
    ba = convolve(b, a, pad="full", border="constant", method=method)
    scale = float(np.abs(a).max() * np.abs(b).sum() + np.abs(b).max() * np.abs(a).sum()) * 1e-12 + 1e-12
    np.testing.assert_allclose(ab, ba, atol=scale)


@given(image=small_images, kernel=small_kernels, method=st.sampled_from(ALL_METHODS))
def test_property_convolve_equals_correlate_rotated(image, kernel, method):
    np.testing.assert_allclose(
        convolve(image, kernel, pad="full", method=method),
        correlate(image, kernel[::-1, ::-1], pad="full", method=method),
        atol=scaled_tol(np.float64, image, kernel),
    )


@given(image=small_images,
       col=hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-5, 5, width=32)),
       row=hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-5, 5, width=32)),
       border=st.sampled_from(BORDERS), stride=strides)
def test_property_separable_equals_direct_for_outer_products(image, col, row, border, stride):
    kernel = np.outer(col, row)
    sep = correlate(image, kernel, method="separable", border=border, stride=stride)
    direct = correlate(image, kernel, method="direct", border=border, stride=stride)
    np.testing.assert_allclose(sep, direct, atol=scaled_tol(np.float64, image, kernel))


@given(image=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=40),
                        elements=st.floats(-1000, 1000, width=32)),
       kernel=small_kernels, border=st.sampled_from(BORDERS))
def test_property_fft_equals_direct_within_tolerance(image, kernel, border):
    fft = correlate(image, kernel, method="fft", border=border)
    direct = correlate(image, kernel, method="direct", border=border)
    bound = convcli.engine.FFT_TOLERANCE[np.dtype(np.float32)] * (
        float(np.abs(image).max()) * float(np.abs(kernel).sum())
    )
    assert np.abs(fft - direct).max() <= bound + 1e-6


# --- bigger images: bands, tiles, threads ------------------------------------------------------

@pytest.mark.parametrize("method", FORCED)
def test_large_image_bands_and_tiles(method, monkeypatch, rng):
    from convcli.engine import _direct

    monkeypatch.setattr(_direct, "BAND_ELEMENTS", 2048)  # many small bands
    image = rng.random((157, 203, 2), dtype=np.float32)
    kernel = rng.normal(size=(7, 6))
    got = correlate(image, kernel, method=method, border="symmetric", stride=(2, 3))
    want = np.stack([ndi.correlate(image[..., c].astype(np.float64), kernel, mode="reflect",
                                   origin=(0, -1))[::2, ::3] for c in range(2)], axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", FORCED)
def test_thread_count_does_not_change_results(method, rng):
    image = rng.random((300, 257), dtype=np.float32)
    kernel = rng.normal(size=(5, 5))
    one = correlate(image, kernel, method=method, threads=1)
    three = correlate(image, kernel, method=method, threads=3)
    np.testing.assert_array_equal(one, three)


def test_fft_tiles_small_and_whole(rng):
    from convcli.engine import _fft

    image = rng.normal(size=(90, 70))
    kernel = rng.normal(size=(9, 8))
    want = ref_correlate(image, kernel, border="wrap", stride=(3, 2))
    for tiles in [(16, 16), (24, 30), (128, 96)]:
        from convcli.engine._plan import make_plan

        plan = make_plan(image, kernel, flip=False, border="wrap", border_value=0.0, pad="same",
                         stride=(3, 2), dilation=1, anchor=None)
        np.testing.assert_allclose(_fft.run(plan, tiles), want, rtol=1e-9, atol=1e-9)


# --- numerical safety ----------------------------------------------------------------------------

def test_nan_stays_local_under_auto():
    image = np.ones((200, 200), dtype=np.float32)
    image[100, 100] = np.nan
    kernel = np.random.default_rng(3).normal(size=(41, 41))
    assert choose_method(image.shape, kernel).method == "fft"  # auto would pick the FFT on clean data...
    out = correlate(image, kernel, border="edge")
    nan = np.isnan(out)
    assert nan[80:121, 80:121].all()  # ...but the NaN only reaches pixels whose window holds it
    assert not nan[:79].any() and not nan[122:].any() and not nan[:, :79].any()


def test_huge_dynamic_range_avoids_fft():
    rng = np.random.default_rng(5)
    image = rng.random((200, 200)).astype(np.float32)
    image[0, 0] = 1e12
    kernel = rng.random((41, 41))
    out = correlate(image, kernel)
    want = ndi.correlate(image.astype(np.float64), kernel, mode="mirror")
    far = (slice(100, None), slice(100, None))  # pixels whose windows never see the spike
    np.testing.assert_allclose(out[far], want[far], rtol=1e-5)


def test_uint16_fft_rounds_like_direct(rng):
    image = rng.integers(0, 65536, size=(64, 80)).astype(np.uint16)
    kernel = rng.integers(-3, 4, size=(9, 9)).astype(np.float64)
    exact = ndi.correlate(image.astype(np.float64), kernel, mode="mirror")
    fft = correlate(image, kernel, method="fft")
    assert np.array_equal(np.rint(fft.astype(np.float64)), exact)


# --- every public keyword changes the result ----------------------------------------------------

def test_each_keyword_changes_the_result(rng):
    image = rng.normal(size=(12, 12))
    kernel = rng.normal(size=(3, 3))
    base = correlate(image, kernel, border="constant")
    variants = {
        "border": correlate(image, kernel, border="edge"),
        "border_value": correlate(image, kernel, border="constant", border_value=5.0),
        "pad": correlate(image, kernel, border="constant", pad=(0, 2, 1, 1)),
        "stride": correlate(image, kernel, border="constant", stride=2),
        "dilation": correlate(image, kernel, border="constant", dilation=2),
        "anchor": correlate(image, kernel, border="constant", anchor=(0, 0)),
    }
    for name, out in variants.items():
        assert out.shape != base.shape or not np.allclose(out, base), name


@pytest.mark.parametrize("method", FORCED)
def test_method_keyword_selects_the_method(method, monkeypatch, rng):
    import dataclasses

    from convcli.engine._registry import REGISTRY

    called = []
    entry = REGISTRY[method]
    spy = dataclasses.replace(entry, run=lambda plan, **kw: called.append(method) or entry.run(plan, **kw))
    monkeypatch.setitem(REGISTRY, method, spy)
    correlate(rng.normal(size=(8, 8)), rng.normal(size=(3, 3)), method=method)
    assert called == [method]


def test_choose_method_picks_sensible_methods(rng):
    big = (3000, 4000)
    assert choose_method(big, rng.normal(size=(61, 61))).method == "fft"
    g = np.exp(-np.arange(-7, 8) ** 2 / 12.5)
    assert choose_method(big, np.outer(g, g)).method == "separable"
    assert choose_method(big, np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])).method == "direct"
    choice = choose_method(big, np.outer(g, g))
    assert "rank 1" in choice.reason and set(choice.costs) == {"direct", "separable", "fft"}


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"stride": 0}, ParameterError, r"stride must be a positive integer or a pair of them, got 0"),
        ({"stride": (1, -2)}, ParameterError, r"stride must be .* got \(1, -2\)"),
        ({"dilation": 0}, ParameterError, r"dilation must be a positive integer"),
        ({"border": "mirror"}, ParameterError, r"'mirror' is ambiguous.*SciPy.*'reflect'.*ImageMagick.*'symmetric'"),
        ({"border": "reflekt"}, ParameterError, r"unknown border 'reflekt' \(did you mean 'reflect'\?\)"),
        ({"border": "zeros", "border_value": 2.0}, ParameterError, r"'zeros' means a constant 0 border"),
        ({"method": "winograd"}, ParameterError, r"unknown method 'winograd'; use one of auto, direct"),
        ({"pad": -1}, ParameterError, r"pad must be 'same', 'valid', 'full', a non-negative integer"),
        ({"pad": "sam"}, ParameterError, r"pad must be 'same', 'valid', 'full'.*got 'sam'"),
        ({"pad": (1, 2, 3)}, ParameterError, r"pad must be .*got \(1, 2, 3\)"),
        ({"anchor": (0, 0), "pad": "valid"}, ParameterError, r"anchor only applies to pad='same'"),
        ({"anchor": (3, 0)}, ParameterError, r"anchor must lie inside the 3x3 kernel"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(kwargs, error, match):
    image = np.zeros((5, 5))
    with pytest.raises(error, match=match):
        correlate(image, np.ones((3, 3)), **kwargs)


@pytest.mark.parametrize(
    ("kernel", "match"),
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), r"kernel has nan at row 1, column 2; every value must be"),
        (np.array([[1.0, 1.0], [np.inf, 1.0]]), r"kernel has inf at row 2, column 1; every value must be"),
        (np.zeros((0, 3)), r"kernel is empty"),
        (np.ones(3), r"kernel must be 2-D, got 1-D of length 3"),
        (np.ones((2, 2, 2)), r"kernel must be a 2-D matrix, got shape \(2, 2, 2\)"),
        ([["a", "b"]], r"kernel must be a 2-D array of numbers"),
    ],
)
def test_bad_kernels(kernel, match):
    with pytest.raises(KernelError, match=match):
        correlate(np.zeros((5, 5)), kernel)


def test_kernel_larger_than_padded_image_under_valid():
    with pytest.raises(ShapeError, match=r"nothing is left along rows: \(4 \+ 0 - 5\) // 1 \+ 1 = 0"):
        correlate(np.zeros((4, 9)), np.ones((5, 3)), pad="valid")


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((3, 3), dtype=complex), r"image must hold real numbers .* got dtype complex128"),
        (np.zeros((2, 3, 3, 1)), r"image must be H x W or H x W x C, got an array of shape \(2, 3, 3, 1\)"),
        (np.zeros((0, 3)), r"image is empty \(shape \(0, 3\)\)"),
    ],
)
def test_bad_images(image, match):
    with pytest.raises(ParameterError, match=match):
        correlate(image, np.ones((3, 3)))


def test_errors_are_convcli_errors_and_value_errors():
    with pytest.raises(ConvcliError):
        correlate(np.zeros((3, 3)), np.ones((3, 3)), stride=0)
    with pytest.raises(ValueError, match="stride"):
        correlate(np.zeros((3, 3)), np.ones((3, 3)), stride=0)


# --- the banded-Toeplitz (BLAS) 1-D passes -------------------------------------------------------

@pytest.mark.parametrize("gemm", [False, True])
@pytest.mark.parametrize("kshape", [(15, 15), (1, 9), (9, 1), (4, 6)], ids=str)
@pytest.mark.parametrize("stride", [1, (2, 3)], ids=str)
@pytest.mark.parametrize("dilation", [1, (2, 1)], ids=str)
@pytest.mark.parametrize("channels", [None, 3])
def test_separable_passes_match_reference(gemm, kshape, stride, dilation, channels, monkeypatch, rng):
    from convcli.engine import _separable

    monkeypatch.setattr(_separable, "USE_GEMM", gemm)
    monkeypatch.setattr(_separable, "GEMM_BLOCK_ROWS", 8)  # several blocks, and a ragged last one
    monkeypatch.setattr(_separable, "GEMM_BLOCK_COLS", 16)
    shape = (70, 45) if channels is None else (70, 45, channels)
    image = rng.normal(size=shape).astype(np.float32)
    col, row = rng.normal(size=kshape[0]), rng.normal(size=kshape[1])
    kernel = np.outer(col, row)
    if kshape == (4, 6):  # rank 2: two separable terms
        kernel = kernel + np.outer(rng.normal(size=4), rng.normal(size=6))
    got = correlate(image, kernel, method="separable", stride=stride, dilation=dilation, border="reflect")
    want = ref_correlate(image, kernel, stride=stride, dilation=dilation, border="reflect")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(kernel).sum())


@pytest.mark.parametrize("gemm", [False, True])
@pytest.mark.parametrize("taps", [3, 31])
def test_separable_passes_agree_with_scipy_whether_or_not_blas_may_be_used(gemm, taps, monkeypatch, rng):
    """Both pass forms (the BLAS product and shift-and-add) give SciPy's result, short and long kernels alike."""
    from convcli.engine import _separable

    monkeypatch.setattr(_separable, "USE_GEMM", gemm)
    image = rng.random((97, 83))
    g = np.exp(-np.linspace(-2, 2, taps) ** 2)
    kernel = np.outer(g, g[::-1] + 0.5)
    got = correlate(image, kernel, method="separable", border="reflect")
    np.testing.assert_allclose(got, ndi.correlate(image, kernel, mode="mirror"), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("gemm", [False, True])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_results_are_bitwise_independent_of_threads(gemm, method, monkeypatch, rng):
    from convcli.engine import _separable, thread_limit

    image = rng.random((517, 301, 3), dtype=np.float32)
    g = np.exp(-np.arange(-7, 8) ** 2 / 12.5)
    kernel = np.outer(g, g) / g.sum() ** 2
    monkeypatch.setattr(_separable, "USE_GEMM", gemm)
    results = [correlate(image, kernel, method=method, threads=n) for n in (1, 2, 3)]
    with thread_limit(2):
        results.append(correlate(image, kernel, method=method))
    np.testing.assert_array_equal(results[0], results[3])
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


# --- strips ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gemm", [False, True])
@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("kshape", [(3, 3), (15, 15), (25, 1)], ids=str)
def test_strips_stack_to_the_full_result_bit_for_bit(gemm, method, flip, kshape, monkeypatch, rng):
    from convcli.engine import _fft, _separable
    from tests.whole_reference import correlate_in_strips

    monkeypatch.setattr(_separable, "USE_GEMM", gemm)
    monkeypatch.setattr(_fft, "TILE_OVERHEAD_UNITS", 0.0)  # small tiles, so strips cut across tile rows
    image = rng.random((1100, 61, 3), dtype=np.float32)
    g = np.hanning(kshape[0] + 2)[1:-1]
    kernel = np.outer(g, np.hanning(kshape[1] + 2)[1:-1]) if kshape[1] > 1 else g[:, None]
    kernel = kernel + (rng.normal(size=kshape) if method == "fft" else 0)
    kwargs = {"border": "symmetric", "stride": (2, 1), "method": method}
    full = (convolve if flip else correlate)(image, kernel, **kwargs)
    for step in (97, 160):  # strips that cut across bands and tiles
        for lazy in (False, True):
            np.testing.assert_array_equal(correlate_in_strips(image, kernel, step, lazy=lazy, flip=flip, **kwargs),
                                          full)
