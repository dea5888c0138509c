"""Every chain streams strip by strip, with exactly the bytes of the whole-array path.

The oracle is the whole-array implementation as it was before streaming (tests/whole_reference.py: every
operation on the whole image at once), plus SciPy and the slow references for a few chains end to end.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from convcli.engine import _fft
from convcli.engine._direct import BAND_ELEMENTS
from convcli.kernels import kernel
from convcli.operations import Activate, Convolve, Pooling
from convcli.streaming import stream_filter
from tests.reference import ref_correlate, ref_pool
from tests.whole_reference import filter_image as whole_filter_image
from tests.whole_reference import whole_to_depth


class LazyImage:
    """An image read band by band, as a tiled file is: records every band read, never hands out the whole."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape, self.dtype = array.shape, array.dtype
        self.reads: list[tuple[int, int]] = []

    def read(self, r0: int, r1: int) -> np.ndarray:
        assert 0 <= r0 < r1 <= self.shape[0]
        self.reads.append((r0, r1))
        return self.array[r0:r1].copy()

    @property
    def most_rows(self) -> int:
        return max(b - a for a, b in self.reads)


@pytest.fixture(autouse=True)
def small_fft_tiles(monkeypatch):
    monkeypatch.setattr(_fft, "TILE_OVERHEAD_UNITS", 0.0)  # small FFT tiles, so FFT strips are many too


CHAINS = {
    "gauss": ([Convolve("gaussian:sigma=3")], {}),
    "sharpen": ([Convolve("0 -1 0; -1 5 -1; 0 -1 0", border="wrap")], {}),
    "sobel-x-abs": ([Convolve("sobel:axis=x", border="constant", border_value=9)], {"range_mode": "abs"}),
    "sobel-both": ([Convolve("sobel:axis=both")], {}),
    "two-kernels": ([Convolve("gaussian:sigma=1"), Convolve("laplacian", border="symmetric")], {"offset": 128.0}),
    "three+pool": ([Convolve("box:size=3", stride=2), Activate("relu"), Convolve("sobel:axis=y", pad="valid"),
                    Activate("abs"), Pooling("max", 2)], {}),
    "gauss-lap-pool": ([Convolve("gaussian:sigma=1"), Convolve("laplacian"), Pooling("max", 2)], {"gain": 4.0}),
    "pool-first": ([Pooling("mean", 3, stride=2, pad=1, ceil_mode=True), Convolve("box:size=4x6", flip=True)], {}),
    "min-pool": ([Convolve("emboss", dilation=2), Pooling("min", (3, 2), stride=(2, 3), ceil_mode=True)], {}),
    "fft-then-direct": ([Convolve("motion:length=31,angle=30", method="fft"), Activate("sigmoid"),
                         Convolve("box", method="direct", border="wrap")], {}),
    "separable-wrap": ([Convolve("gaussian:sigma=2", method="separable", border="wrap"),
                        Convolve("gaussian:sigma=2", method="separable", stride=(3, 1))], {}),
    "auto-fft-second": ([Convolve("box:size=3"), Convolve(np.random.default_rng(5).random((25, 25)) - 0.5)], {}),
    "normalize": ([Convolve("log:sigma=2"), Activate("tanh")], {"range_mode": "normalize"}),
    "offset-kernel": ([Convolve("kernels/edge.mat"), Pooling("mean", 2)], {}),
}


def _image(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) * 2 - 0.5).astype(dtype)
    top = np.iinfo(dtype).max
    return rng.integers(0, top + 1, size=shape).astype(dtype)


def _depth(dtype) -> str:
    return {np.dtype(np.uint8): "8", np.dtype(np.uint16): "16"}.get(np.dtype(dtype), "float")


@pytest.mark.parametrize("name", list(CHAINS))
@pytest.mark.parametrize(("shape", "dtype"), [((101, 37), np.uint8), ((83, 29, 3), np.uint16),
                                              ((77, 31, 2), np.float32)], ids=["gray8", "rgb16", "float2"])
def test_every_chain_streams_to_the_whole_arrays_bytes(name, shape, dtype, rng):
    ops, kw = CHAINS[name]
    image = _image(rng, shape, dtype)
    depth = _depth(dtype)
    want = whole_to_depth(image, ops, depth=depth, **kw)
    for rows in (1, 7):
        source = LazyImage(image)
        got = stream_filter(source, ops, depth=depth, strip_rows=rows, **kw).collect()
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    in_memory = stream_filter(image, ops, depth=depth, strip_rows=5, **kw).collect()
    np.testing.assert_array_equal(in_memory, want)


ALPHA_CASES = {
    "blur": ([Convolve("box:size=5")], {}),
    "chain+max-pool": ([Convolve("gaussian:sigma=1"), Activate("relu"), Pooling("max", 2), Convolve("sharpen")], {}),
    "mean-pool": ([Pooling("mean", 3, stride=1, pad=1), Convolve("sobel:axis=both")], {}),
    "gray": ([Convolve("box:size=3")], {"channels": "gray"}),
    "sum": ([Activate("relu"), Convolve("box:size=3")], {"channels": "sum"}),
    "keep": ([Convolve("gaussian:sigma=2")], {"keep_alpha": True}),
    "linear": ([Convolve("box:size=4")], {"linear": True}),
}


@pytest.mark.parametrize("name", list(ALPHA_CASES))
@pytest.mark.parametrize("opaque", [False, True], ids=["translucent", "opaque"])
def test_alpha_chains_stream_exactly(name, opaque, rng):
    ops, kw = ALPHA_CASES[name]
    image = rng.integers(0, 256, size=(61, 23, 4)).astype(np.uint8)
    image[..., 3] = 255 if opaque else np.where(rng.random((61, 23)) < 0.3, 0, image[..., 3])
    out_alpha = kw.get("channels") != "sum"
    want = whole_to_depth(image, ops, depth="8", alpha=True, out_alpha=out_alpha, **kw)
    got = stream_filter(LazyImage(image), ops, depth="8", alpha=True, out_alpha=out_alpha, strip_rows=3,
                        **kw).collect()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(stream_filter(image, ops, alpha=True, **kw).collect(),
                                  whole_filter_image(image, ops, alpha=True, **kw))


@pytest.mark.parametrize("channels", ["each", "gray", "sum"])
@pytest.mark.parametrize("linear", [False, True])
def test_channel_modes_and_linear_light_stream_exactly(channels, linear, rng):
    image = rng.integers(0, 65536, size=(57, 41, 3)).astype(np.uint16)
    ops = [Convolve("gaussian:sigma=1.5"), Activate("abs"), Convolve("sobel:axis=x"), Pooling("max", 2)]
    for depth in ("16", "float"):
        want = whole_to_depth(image, ops, depth=depth, channels=channels, linear=linear, range_mode="abs")
        got = stream_filter(LazyImage(image), ops, depth=depth, channels=channels, linear=linear, range_mode="abs",
                            strip_rows=4).collect()
        np.testing.assert_array_equal(got, want)


def test_float_source_with_nan_streams_exactly(rng):
    """NaN input: the engine's exact NaN rules work on each strip's rows (tests/test_nan_streaming.py has more)."""
    image = rng.random((70, 33)).astype(np.float32)
    image[rng.random(image.shape) < 0.02] = np.nan
    ops = [Convolve("gaussian:sigma=1"), Convolve("box:size=3", method="separable"), Pooling("max", 2)]
    want = whole_filter_image(image, ops)
    got = stream_filter(LazyImage(image), ops, strip_rows=6).collect()
    np.testing.assert_array_equal(got, want)
    ignore = [Convolve("box:size=5", nan="ignore", nan_fill=-1.0), Activate("relu")]
    np.testing.assert_array_equal(stream_filter(LazyImage(image), ignore, strip_rows=6).collect(),
                                  whole_filter_image(image, ignore))


def test_mask_streams_exactly(rng):
    image = rng.integers(0, 256, size=(48, 40, 3)).astype(np.uint8)
    mask = rng.random((48, 40)) > 0.2
    ops = [Convolve("gaussian:sigma=2"), Pooling("mean", 2)]
    want = whole_to_depth(image, ops, depth="8", mask=mask)
    np.testing.assert_array_equal(stream_filter(image, ops, depth="8", mask=mask).collect(), want)
    np.testing.assert_array_equal(stream_filter(LazyImage(image), ops, depth="8", mask=mask, strip_rows=5).collect(),
                                  want)


def test_a_lazy_source_is_read_in_bands_not_whole(rng):
    """Rows held at once follow the strip, the halo and the engine's band, not the image's height."""
    ops = [Convolve("gaussian:sigma=2"), Convolve("laplacian"), Activate("abs"), Pooling("max", 2)]
    most = []
    for height in (12000, 24000):
        image = rng.integers(0, 256, size=(height, 400)).astype(np.uint8)
        source = LazyImage(image)
        bands = [(first, band.shape[0]) for first, band in stream_filter(source, ops, depth="8", strip_rows=16)]
        assert sum(n for _, n in bands) == height // 2 and len(bands) == -(-height // 32)
        covered = np.zeros(height, int)
        for a, b in source.reads:
            covered[a:b] += 1
        assert covered.min() == 1 and covered.max() <= 2, "each row is read once, halo rows at most twice"
        most.append(source.most_rows)
    # a strip computes at most two of the engine's bands (BAND_ELEMENTS work elements each) plus the halo
    assert most[1] == most[0] <= 2 * (BAND_ELEMENTS // 400) + 32, "the band read at once must not grow with the height"


@pytest.mark.parametrize("ops", [[Convolve("box:size=5", method="fft")],
                                 [Convolve("gaussian:sigma=2", nan="ignore"), Activate("abs")],
                                 [Convolve("laplacian", border="wrap"), Convolve("box:size=3", nan="ignore")]],
                         ids=["propagate-fft", "ignore", "wrap-then-ignore"])
def test_a_lazy_float_source_with_nan_is_read_in_bands_not_whole(ops, rng):
    """Missing data streams: no finiteness pass, no whole copy; rows held at once do not grow with the height."""
    most = []
    for height in (6000, 12000):
        image = rng.random((height, 300)).astype(np.float32)
        image[rng.random(image.shape) < 0.01] = np.nan
        source = LazyImage(image)
        got = stream_filter(source, ops, strip_rows=16).collect()
        if height == 6000:
            np.testing.assert_array_equal(got, whole_filter_image(image, ops))
        most.append(source.most_rows)
    # the FFT's tiles follow the image's geometry a little; a band read whole would be the height
    assert max(most) < 1000 and most[1] < 1.2 * most[0], "the band read at once must not grow with the height"


def test_strip_heights_never_change_the_result(rng):
    image = rng.integers(0, 256, size=(129, 64, 3)).astype(np.uint8)
    ops = [Convolve("gaussian:sigma=4"), Convolve("sobel:axis=both", stride=2), Pooling("max", 3, stride=2)]
    results = [stream_filter(LazyImage(image), ops, depth="8", strip_rows=rows).collect() for rows in (1, 2, 9, 64)]
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


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


INDEPENDENT = [
    ([Convolve(kernel("sobel:axis=both"))], {}, lambda im: _per_channel(im, _sobel_magnitude)),
    ([Convolve(kernel("box:size=3")), Pooling("max", 2)], {},
     lambda im: _per_channel(im, lambda c: ref_pool(ref_correlate(c, np.full((3, 3), 1 / 9)), 2))),
    ([Convolve(kernel("box:size=3"))], {"range_mode": "normalize"},
     lambda im: _normalized(ref_correlate(im, np.full((3, 3), 1 / 9)))),
    ([Convolve(kernel("gaussian:sigma=1")), Convolve(kernel("laplacian"))], {"range_mode": "abs"},
     lambda im: np.abs(_per_channel(im, lambda c: ref_correlate(ref_correlate(c, kernel("gaussian:sigma=1").matrix),
                                                               kernel("laplacian").matrix)))),
]


@pytest.mark.parametrize(("ops", "kw", "reference"), INDEPENDENT, ids=["operator", "pool", "normalize", "two"])
def test_streamed_chains_agree_with_scipy_and_slow_references(ops, kw, reference, rng):
    image = rng.integers(0, 256, size=(40, 30, 3)).astype(np.uint8)
    got = stream_filter(LazyImage(image), ops, depth="8", strip_rows=3, **kw).collect()
    _assert_samples(got, reference(image))
