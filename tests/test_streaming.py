"""The streamed apply path (filter_to_depth) writes exactly the bytes of the whole-image path."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from convcli.kernels import kernel
from convcli.pipeline import Activate, Convolve, Pool, filter_image, filter_to_depth, to_depth
from tests.reference import ref_correlate, ref_pool


def whole(image, ops, **kw):
    depth = kw.pop("depth")
    source_max = 65535.0 if image.dtype == np.uint16 else 255.0
    result = filter_image(image, ops)
    return to_depth(result, depth, source_max=source_max, **kw)


CASES = [
    ([Convolve(kernel("gaussian:sigma=3"))], {}),
    ([Convolve(kernel("0 -1 0; -1 5 -1; 0 -1 0"))], {}),
    ([Convolve(kernel("sobel:axis=x"), border="constant")], {"range_mode": "abs"}),
    ([Convolve(kernel("sobel:axis=y")), Activate("relu")], {"gain": 0.5, "offset": 128.0}),
    ([Convolve(kernel("laplacian"), stride=2, pad="valid")], {}),
    ([Convolve(kernel("box:size=4x6"), flip=True, dilation=2)], {}),
    ([Convolve(kernel("kernels/edge.mat"))], {}),
    ([Convolve(kernel("log:sigma=2")), Activate("sigmoid")], {}),
    ([Convolve(kernel("motion:length=31,angle=30"), method="fft")], {}),
]


@pytest.mark.parametrize(("ops", "kw"), CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("shape", [(700, 90), (650, 70, 3)], ids=["gray", "rgb"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_streamed_equals_whole(ops, kw, shape, dtype, rng, monkeypatch):
    import convcli.engine as engine
    from convcli.engine import _fft

    monkeypatch.setattr(engine, "STRIP_ELEMENTS", 4096)  # many strips
    monkeypatch.setattr(_fft, "TILE_OVERHEAD_UNITS", 0.0)  # and small FFT tiles, so FFT strips are many too
    top = 255 if dtype == np.uint8 else 65535
    image = rng.integers(0, top + 1, size=shape).astype(dtype)
    depth = "8" if dtype == np.uint8 else "16"
    calls = []
    original = engine.correlate_strips

    def spy(*args, **kwargs):
        for item in original(*args, **kwargs):
            calls.append(item[0])
            yield item

    monkeypatch.setattr(engine, "correlate_strips", spy)
    got = filter_to_depth(image, ops, depth=depth, **kw)
    # FFT strips follow tile rows: a narrow image may be one tile (the engine's strip tests cover FFT strips)
    if not any(isinstance(op, Convolve) and (op.method == "fft" or op.kernel.spec.startswith("log")) for op in ops):
        assert len(calls) >= 2, "the streamed path must have run in several strips"
    assert calls, "the streamed path must have been taken"
    want = whole(image, ops, depth=depth, **kw)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _per_channel(image, func):
    x = np.asarray(image, dtype=np.float64)
    return np.stack([func(x[..., c]) for c in range(x.shape[2])], axis=2) if x.ndim == 3 else func(x)


def _assert_samples(got, reference, top=255):
    """``got`` is ``reference`` (float64, output units) rounded half to even and clipped.

    The library computes in float32, so a reference within 1e-3 of a rounding
    boundary may land on either side; everywhere else the samples must be exact.
    """
    want = np.clip(np.rint(reference), 0, top)
    assert got.shape == want.shape and got.dtype == np.uint8
    near_half = np.abs(np.abs(reference - np.floor(reference)) - 0.5) < 1e-3
    assert np.abs(got.astype(np.int64) - want).max() <= 1
    np.testing.assert_array_equal(got[~near_half], want[~near_half])


def _sobel_magnitude(x):
    gx = ndimage.sobel(x, axis=1, mode="mirror")  # numpy's reflect is SciPy's mirror
    gy = ndimage.sobel(x, axis=0, mode="mirror")
    return np.hypot(gx, gy)


def _normalized(x):
    return (x - x.min()) * (255.0 / (x.max() - x.min()))


UNSTREAMABLE = [
    # an operator (two responses combined): SciPy's Sobel magnitude
    ([Convolve(kernel("sobel:axis=both"))], {}, lambda im: _per_channel(im, _sobel_magnitude)),
    # pooling after the convolution: the slow references, composed op by op
    ([Convolve(kernel("box:size=3")), Pool("max", 2)], {},
     lambda im: _per_channel(im, lambda c: ref_pool(ref_correlate(c, np.full((3, 3), 1 / 9)), 2))),
    # normalize needs the whole result's min and max before the first sample is written
    ([Convolve(kernel("box:size=3"))], {"range_mode": "normalize"},
     lambda im: _normalized(ref_correlate(im, np.full((3, 3), 1 / 9)))),
]


@pytest.mark.parametrize(("ops", "kw", "reference"), UNSTREAMABLE, ids=["operator", "pool", "normalize"])
def test_unstreamable_chains_fall_back_to_the_whole_image(ops, kw, reference, rng, monkeypatch):
    import convcli.engine as engine

    image = rng.integers(0, 256, size=(40, 30, 3)).astype(np.uint8)
    streamed = []
    original = engine.correlate_strips

    def spy(*args, **kwargs):
        streamed.append(args)
        yield from original(*args, **kwargs)

    monkeypatch.setattr(engine, "correlate_strips", spy)
    got = filter_to_depth(image, ops, depth="8", **kw)
    assert streamed == [], "this chain cannot stream: the whole-image path must run"
    _assert_samples(got, reference(image))
