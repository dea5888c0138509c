"""nan="ignore" stays exact beside large holes on every method (issue 23).

A kernel's tail weights can be 1e-17 of its total: next to a hole wider than the kernel the weight sum of the
valid pixels is that small, below the FFT's rounding, and the ratio was noise (-1, 2, 0, 1.0035 where the answer is
1).  References: astropy.convolution.convolve(nan_treatment="interpolate", normalize_kernel=True) and a float64
NumPy normalised correlation summed tap by tap; the streamed strips must equal the whole call byte for byte.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import convcli
from tests.whole_reference import correlate_in_strips

METHODS = ["direct", "separable", "fft", "auto"]


def astropy_interpolate(image, kernel, **boundary):
    from astropy.convolution import convolve as astropy_convolve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return astropy_convolve(image, kernel, nan_treatment="interpolate", normalize_kernel=True, **boundary)


def reference_ignore(image, kernel, *, border_value=0.0, pad="same"):
    """float64 normalised correlation (constant border, finite value), every output summed tap by tap."""
    x = np.asarray(image, np.float64)
    k = np.asarray(kernel, np.float64)
    kh, kw = k.shape
    if pad == "same":
        widths = ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
    else:
        widths = (0, 0), (0, 0)
    valid = np.isfinite(x)
    data = np.pad(np.where(valid, x, 0.0), widths, constant_values=border_value)
    weights = np.pad(valid.astype(np.float64), widths, constant_values=1.0)
    view = np.lib.stride_tricks.sliding_window_view
    num = (view(data, k.shape) * k).sum(axis=(-2, -1))
    den = (view(weights, k.shape) * k).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def issue_reproducer():
    r = np.arange(-10, 11)
    k = np.exp(-r**2 / 2)
    x = np.ones(61)
    x[20:41] = np.nan
    return x, k / k.sum()


def rotated_gaussian():
    from astropy.convolution import Gaussian2DKernel

    return Gaussian2DKernel(2, 4, theta=0.5, x_size=41, y_size=41).array


def big_hole(seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:205, :205]
    image = 3.0 + np.sin(yy / 17.0) * np.cos(xx / 23.0) + 0.1 * rng.random((205, 205))
    image[60:150, 40:170] = np.nan  # far wider than the kernel: outputs inside see only the tails
    image[rng.random(image.shape) < 0.01] = np.nan
    return image


@pytest.mark.parametrize("method", METHODS)
def test_the_issue_reproducer_is_exact_on_every_method(method):
    x, k = issue_reproducer()
    got = convcli.convolve(x[None], k[None], nan="ignore", border="constant", method=method)[0]
    want = astropy_interpolate(x, k, boundary="fill", fill_value=0.0)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).sum() == 1  # the centre of the hole sees nothing valid
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got[25:36][~np.isnan(got[25:36])], 1.0, rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_the_issue_reproducer_with_pad_valid(method):
    x, k = issue_reproducer()
    got = convcli.convolve(x[None], k[None], nan="ignore", border="constant", method=method, pad="valid")[0]
    want = reference_ignore(x[None], k[None], pad="valid")[0]
    assert got.shape == want.shape == (41,)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(want).sum() == 1
    np.testing.assert_allclose(got[~np.isnan(want)], 1.0, rtol=0, atol=1e-9)


def test_auto_sends_the_41x41_gaussian_on_205x205_to_the_fft():
    assert convcli.choose_method((205, 205), rotated_gaussian(), dtype=np.float64).method == "fft"


@pytest.mark.parametrize("pad", ["same", "valid"])
@pytest.mark.parametrize("method", METHODS)
def test_a_41x41_gaussian_beside_a_large_hole_equals_float64_and_astropy(method, pad):
    image, kernel = big_hole(), rotated_gaussian()
    got = convcli.correlate(image, kernel, nan="ignore", border="constant", method=method, pad=pad)
    want = reference_ignore(image, kernel, pad=pad)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want))
    seen = ~np.isnan(want)
    np.testing.assert_allclose(got[seen], want[seen], rtol=0, atol=1e-9)
    if pad == "same":  # astropy convolves: the kernel is symmetric under the 180° rotation
        theirs = astropy_interpolate(image, kernel, boundary="fill", fill_value=0.0)
        both = seen & ~np.isnan(theirs)
        np.testing.assert_allclose(got[both], theirs[both], rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_float32_beside_a_large_hole_is_exact_to_float32(method):
    image, kernel = big_hole(1).astype(np.float32), rotated_gaussian()
    got = convcli.correlate(image, kernel, nan="ignore", border="constant", method=method)
    want = reference_ignore(image, kernel)
    seen = ~np.isnan(want)
    assert got.dtype == np.float32 and np.array_equal(np.isnan(got), ~seen)
    np.testing.assert_allclose(got[seen], want[seen], rtol=1e-5, atol=0)


@pytest.mark.parametrize("step", [7, 64])
@pytest.mark.parametrize("method", METHODS)
def test_streamed_strips_equal_the_whole_call_beside_a_large_hole(method, step):
    image, kernel = big_hole(2), rotated_gaussian()
    options = {"nan": "ignore", "border": "constant", "method": method}
    whole = convcli.correlate(image, kernel, **options)
    for lazy in (False, True):
        strips = correlate_in_strips(image, kernel, step, lazy=lazy, **options)
        assert strips.tobytes() == whole.tobytes()
    want = reference_ignore(image, kernel)
    seen = ~np.isnan(want)
    np.testing.assert_allclose(whole[seen], want[seen], rtol=0, atol=1e-9)


def test_the_recomputed_outputs_do_not_depend_on_how_many_are_recomputed_at_once(monkeypatch):
    from convcli.engine import _nan

    image, kernel = big_hole(3), rotated_gaussian()
    whole = convcli.correlate(image, kernel, nan="ignore", border="constant", method="fft")
    monkeypatch.setattr(_nan, "EXACT_CHUNK", 3000)  # one or two outputs per chunk
    assert convcli.correlate(image, kernel, nan="ignore", border="constant", method="fft").tobytes() == whole.tobytes()


@pytest.mark.parametrize(("stride", "dilation"), [((2, 3), (2, 1)), (1, (1, 2)), (3, 1)])
@pytest.mark.parametrize("method", METHODS)
def test_stride_and_dilation_beside_a_large_hole(method, stride, dilation):
    image, kernel = big_hole(4), rotated_gaussian()[:, :39]
    got = convcli.correlate(image, kernel, nan="ignore", method=method, pad="valid", stride=stride,
                            dilation=dilation)
    (dh, dw), (sh, sw) = (np.broadcast_to(dilation, 2), np.broadcast_to(stride, 2))
    spread = np.zeros(((kernel.shape[0] - 1) * dh + 1, (kernel.shape[1] - 1) * dw + 1))
    spread[::dh, ::dw] = kernel  # the dilated kernel, as a plain one
    want = reference_ignore(image, spread, pad="valid")[::sh, ::sw]
    assert got.shape == want.shape and np.array_equal(np.isnan(got), np.isnan(want))
    seen = ~np.isnan(want)
    np.testing.assert_allclose(got[seen], want[seen], rtol=0, atol=1e-9)
