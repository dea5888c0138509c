"""The streamed apply path (filter_to_depth) writes exactly the bytes of the whole-image path."""

from __future__ import annotations

import numpy as np
import pytest

from convcli.kernels import kernel
from convcli.pipeline import Activate, Convolve, Pool, filter_image, filter_to_depth, to_depth


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


def test_unstreamable_chains_fall_back(rng):
    image = rng.integers(0, 256, size=(40, 30, 3)).astype(np.uint8)
    for ops, kw in [
        ([Convolve(kernel("sobel:axis=both"))], {}),
        ([Convolve(kernel("box:size=3")), Pool("max", 2)], {}),
        ([Convolve(kernel("box:size=3"))], {"range_mode": "normalize"}),
    ]:
        np.testing.assert_array_equal(filter_to_depth(image, ops, depth="8", **kw), whole(image, ops, depth="8", **kw))
