"""convcli.dask: correlate/convolve of a dask array equal the in-memory call byte for byte, for any chunking.

The in-memory :func:`convcli.correlate` is the specification of this API (the
engine itself is checked against independent references elsewhere); one test
also checks a dask result against the float64 reference of tests/reference.py.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcli
import convcli.dask as cdask

from .reference import ref_correlate, ref_pool

BORDERS = ["constant", "edge", "reflect", "symmetric", "wrap"]


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _chunks(draw, n: int) -> tuple[int, ...]:
    """A random chunking of ``n`` (sizes >= 1 summing to n)."""
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=min(5, n - 1)))) if n > 1 else []
    edges = [0, *cuts, n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@st.composite
def cases(draw):
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    channels = draw(st.sampled_from([None, 1, 3]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint8, np.uint16]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if np.dtype(dtype).kind == "u":
        image = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    else:
        image = (rng.normal(size=shape) * draw(st.sampled_from([1.0, 1e3]))).astype(dtype)
        if draw(st.booleans()):
            image[rng.random(shape) < 0.05] = np.nan
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kernel = draw(st.sampled_from(["random", "ones", "outer"]))
    if kernel == "ones":
        weights = np.ones((kh, kw))
    elif kernel == "outer":
        weights = np.outer(rng.normal(size=kh), rng.normal(size=kw))
    else:
        weights = rng.normal(size=(kh, kw))
    options = {
        "border": draw(st.sampled_from(BORDERS)),
        "border_value": draw(st.sampled_from([0.0, 2.5])),
        "pad": draw(st.sampled_from(["same", "full", (1, 0, 2, 3)])),
        "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "dilation": (draw(st.integers(1, 3)), draw(st.integers(1, 2))),
        "method": draw(st.sampled_from(["auto", "direct", "fft", "separable"])),
        "nan": draw(st.sampled_from(["propagate", "ignore"])),
    }
    if options["pad"] == "same" and draw(st.booleans()):
        options["anchor"] = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    if options["method"] == "separable" and kernel == "random":
        options["method"] = "auto"
    if options["nan"] == "ignore":
        weights = np.abs(weights) + 0.1  # kernels summing to about 0 are refused by normalised convolution
        options["nan_fill"] = draw(st.sampled_from([None, -1.0]))
    chunks = (_chunks(draw, h), _chunks(draw, w)) + ((_chunks(draw, channels),) if channels else ())
    return image, weights, options, chunks


def _both(func, dfunc, image, weights, options, chunks):
    try:
        expected = func(image, weights, **options)
    except convcli.ConvcliError as error:  # e.g. a kernel larger than a reflected image: refused alike
        with pytest.raises(type(error)):
            dfunc(da.from_array(image, chunks=chunks), weights, **options)
        return None, None
    lazy = dfunc(da.from_array(image, chunks=chunks), weights, **options)
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    return lazy.compute(), expected


@settings(max_examples=60, deadline=None)
@given(cases())
def test_correlate_equals_in_memory_for_any_chunking(case):
    got, expected = _both(convcli.correlate, cdask.correlate, *case)
    if got is not None:
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected, equal_nan=True)
        assert got.tobytes() == expected.tobytes() or np.isnan(expected).any()


@settings(max_examples=40, deadline=None)
@given(cases())
def test_convolve_equals_in_memory_for_any_chunking(case):
    got, expected = _both(convcli.convolve, cdask.convolve, *case)
    if got is not None:
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("border", BORDERS)
def test_every_border_against_the_float64_reference(border):
    rng = np.random.default_rng(7)
    image = rng.normal(size=(23, 17))
    kernel = rng.normal(size=(5, 4))
    lazy = cdask.correlate(da.from_array(image, chunks=(4, 6)), kernel, border=border, border_value=1.5,
                           stride=(2, 3), dilation=(2, 1), method="direct")
    expected = ref_correlate(image, kernel, border=border, border_value=1.5, stride=(2, 3), dilation=(2, 1))
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["auto", "fft"])
@pytest.mark.parametrize("nan", ["propagate", "ignore"])
@pytest.mark.parametrize("chunks", [(7, 200), (50, 13), (160, 190)])
def test_large_kernels_through_fft_tiles(method, nan, chunks):
    """Kernels large enough that auto picks the FFT: its tiles span several chunks."""
    rng = np.random.default_rng(11)
    image = rng.normal(size=(160, 190)).astype(np.float32)
    image[rng.random(image.shape) < 0.01] = np.nan
    kernel = np.abs(rng.normal(size=(31, 27))) + 0.1
    options = {"border": "wrap", "method": method, "nan": nan, "stride": (1, 2)}
    got = cdask.correlate(da.from_array(image, chunks=chunks), kernel, **options).compute()
    assert np.array_equal(got, convcli.correlate(image, kernel, **options), equal_nan=True)


def test_wrap_reads_rows_from_the_far_end_in_another_chunk():
    image = np.zeros((30, 5))
    image[29] = 1.0  # the last row, which the first output row reads through the wrap border
    lazy = cdask.correlate(da.from_array(image, chunks=(3, 5)), np.ones((3, 1)), border="wrap", method="direct")
    assert lazy.numblocks[0] > 1
    assert lazy.compute()[0].tolist() == [1.0] * 5


def test_auto_judges_the_fft_from_the_whole_array():
    """A huge value in one chunk makes auto avoid the FFT for every band, as for the whole array."""
    rng = np.random.default_rng(3)
    image = rng.normal(size=(64, 64)).astype(np.float32)
    image[60, 60] = 1e12
    kernel = rng.normal(size=(15, 15))
    got = cdask.correlate(da.from_array(image, chunks=(8, 64)), kernel).compute()
    assert np.array_equal(got, convcli.correlate(image, kernel))


def test_result_is_lazy_and_chunked_in_row_bands():
    calls = []

    def source(block):
        calls.append(block.shape)
        return block

    image = da.from_array(np.arange(400.0).reshape(20, 20), chunks=(5, 5)).map_blocks(source)
    calls.clear()  # map_blocks probes its function on empty blocks for the meta
    lazy = cdask.correlate(image, np.ones((3, 3)), method="direct")
    assert calls == [] and lazy.numblocks[0] > 1 and lazy.numblocks[1] > 1
    assert np.array_equal(lazy.compute(), convcli.correlate(np.arange(400.0).reshape(20, 20), np.ones((3, 3)),
                                                            method="direct"))


def test_refuses_other_arrays():
    with pytest.raises(TypeError):
        cdask.correlate(np.zeros((4, 4)), np.ones((3, 3)))
    with pytest.raises(ValueError):
        cdask.correlate(da.zeros((2, 4, 4, 1)), np.ones((3, 3)))


def test_import_convcli_does_not_import_dask():
    code = "import sys, convcli; convcli.correlate; print('dask' in sys.modules, 'convcli.dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_threaded_scheduler_and_picklable_tasks():
    """The bands run in parallel threads and travel to workers (pickled) as they are."""
    import pickle

    rng = np.random.default_rng(5)
    image = rng.normal(size=(90, 70, 2))
    image[rng.random(image.shape) < 0.02] = np.nan
    kernel = np.ones((5, 3))
    options = {"border": "symmetric", "method": "separable", "nan": "propagate", "dilation": 2}
    lazy = cdask.correlate(da.from_array(image, chunks=(11, 30, 1)), kernel, **options)
    lazy = pickle.loads(pickle.dumps(lazy))
    with dask.config.set(scheduler="threads", num_workers=2):
        got = lazy.compute()
    assert np.array_equal(got, convcli.correlate(image, kernel, **options), equal_nan=True)


@st.composite
def pool_cases(draw):
    h, w = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    channels = draw(st.sampled_from([None, 2]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint8, np.uint16]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = (rng.normal(size=shape) * 1000).astype(dtype) if np.dtype(dtype).kind == "f" else \
        rng.integers(0, 200, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "f" and draw(st.booleans()):
        image[rng.random(shape) < 0.05] = np.nan
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    options = {
        "stride": draw(st.sampled_from([None, 1, (2, 3)])),
        "op": draw(st.sampled_from(["max", "mean", "min"])),
        "pad": (draw(st.integers(0, size[0] // 2)), draw(st.integers(0, size[1] // 2))),
        "ceil_mode": draw(st.booleans()),
    }
    chunks = (_chunks(draw, h), _chunks(draw, w)) + ((_chunks(draw, channels),) if channels else ())
    return image, size, options, chunks


@settings(max_examples=60, deadline=None)
@given(pool_cases())
def test_pool_equals_in_memory_for_any_chunking(case):
    image, size, options, chunks = case
    got, expected = _both(convcli.pool, cdask.pool, image, size, options, chunks)
    if got is not None:
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected, equal_nan=True)


def test_pool_against_the_reference():
    rng = np.random.default_rng(9)
    image = rng.normal(size=(19, 23))
    got = cdask.pool(da.from_array(image, chunks=(4, 5)), 3, stride=2, op="mean", pad=1, ceil_mode=True).compute()
    np.testing.assert_allclose(got, ref_pool(image, 3, stride=2, op="mean", pad=1, ceil_mode=True), rtol=1e-12)
