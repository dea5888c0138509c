"""Pooling against PyTorch's max_pool2d/avg_pool2d and a slow reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convcli.errors import ParameterError, ShapeError
from convcli.pooling import pool
from convcli.shapes import pool_output_size

from .reference import ref_pool


def torch_pool(image, size, stride, pad, ceil_mode, op):
    x = torch.from_numpy(np.asarray(image, dtype=np.float64))[None, None]
    stride = size if stride is None else stride
    if op == "max":
        return F.max_pool2d(x, size, stride, pad, ceil_mode=ceil_mode)[0, 0].numpy()
    if op == "min":
        return -F.max_pool2d(-x, size, stride, pad, ceil_mode=ceil_mode)[0, 0].numpy()
    return F.avg_pool2d(x, size, stride, pad, ceil_mode=ceil_mode, count_include_pad=False)[0, 0].numpy()


pair = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))


@given(h=st.integers(1, 15), w=st.integers(1, 15), size=pair, stride=st.one_of(st.none(), pair),
       pad=st.integers(0, 2), ceil_mode=st.booleans(), op=st.sampled_from(["max", "mean", "min"]),
       seed=st.integers(0, 2**32 - 1))
def test_pool_matches_torch(h, w, size, stride, pad, ceil_mode, op, seed):
    image = np.random.default_rng(seed).normal(size=(h, w))
    kh, kw = (size, size) if isinstance(size, int) else size
    try:
        want = torch_pool(image, size, stride, pad, ceil_mode, op)
    except RuntimeError:
        # torch refuses (pad > half the window, or an empty output): so must we
        with pytest.raises((ParameterError, ShapeError)):
            pool(image, size, stride=stride, op=op, pad=pad, ceil_mode=ceil_mode)
        return
    got = pool(image, size, stride=stride, op=op, pad=pad, ceil_mode=ceil_mode)
    assert got.shape == want.shape == pool_output_size((h, w), size, stride=stride, pad=pad, ceil_mode=ceil_mode)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, ref_pool(image, (kh, kw), stride=stride, op=op, pad=pad, ceil_mode=ceil_mode),
                               rtol=1e-12, atol=1e-12)


def test_seed_003_two_by_two_max_and_mean():
    x = np.array([[1.0, 1.0, 2.0, 4.0], [5.0, 6.0, 7.0, 8.0], [3.0, 2.0, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_array_equal(pool(x, 2), [[6.0, 8.0], [3.0, 4.0]])
    np.testing.assert_array_equal(pool(x, 2, op="mean"), [[3.25, 5.25], [2.0, 2.0]])


def test_channels_dtypes_and_input_untouched(rng):
    image = rng.integers(0, 255, size=(9, 8, 3)).astype(np.uint8)
    before = image.copy()
    out = pool(image, 3, stride=2, pad=1, op="max")
    assert np.array_equal(image, before)
    assert out.dtype == np.float32 and out.shape == (5, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], torch_pool(image[..., c], 3, 2, 1, False, "max"))
    assert pool(rng.normal(size=(4, 4)), 2).dtype == np.float64
    assert pool(rng.normal(size=(4, 4)).astype(np.float32), 2).dtype == np.float32


def test_each_keyword_changes_the_result(rng):
    x = rng.normal(size=(9, 9))
    base = pool(x, 2)
    for kwargs in [{"stride": 1}, {"op": "mean"}, {"op": "min"}, {"pad": 1}, {"ceil_mode": True}]:
        other = pool(x, 2, **kwargs)
        assert other.shape != base.shape or not np.allclose(other, base), kwargs


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": 0}, ParameterError, r"pooling size must be a positive integer"),
        ({"size": 2, "stride": 0}, ParameterError, r"pooling stride must be a positive integer"),
        ({"size": 3, "pad": 2}, ParameterError, r"pooling pad must be at most half the window"),
        ({"size": 2, "op": "median"}, ParameterError, r"unknown pooling op 'median'; use one of max, mean, min"),
        ({"size": 9}, ShapeError, r"pooling leaves nothing along rows"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        pool(np.zeros((5, 5)), **kwargs)
