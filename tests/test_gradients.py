"""The backward pass: convcli.gradients against torch.autograd, finite differences and the adjoint identity.

torch (CPU, float64) is the oracle: ``conv2d`` on an input padded by ``F.pad``
(any border, asymmetric pads), ``max_pool2d`` and ``avg_pool2d(count_include_pad=False)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import convcli
from convcli.errors import ParameterError, ShapeError
from convcli.gradients import correlate_backward, dilate_error, pool_backward
from tests.reference import ref_correlate, ref_pads

TORCH_PAD_MODE = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def torch_correlate_grads(x, k, g, *, pad, stride, dilation, border="constant", border_value=0.0):
    """dL/dx and dL/dk for L = sum(g * correlate(x, k)) through torch.autograd (float64)."""
    kh, kw = k.shape
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    top, bottom, left, right = ref_pads(pad, kh, kw, dh, dw)
    channels_last = x.ndim == 3
    xt = torch.tensor(np.moveaxis(x, -1, 0)[:, None] if channels_last else x[None, None], requires_grad=True)
    kt = torch.tensor(k[None, None], requires_grad=True)
    widths = (left, right, top, bottom)
    if border == "constant":
        padded = F.pad(xt, widths, mode="constant", value=border_value)
    else:
        padded = F.pad(xt, widths, mode=TORCH_PAD_MODE[border])
    out = F.conv2d(padded, kt, stride=(sh, sw), dilation=(dh, dw))
    gt = torch.tensor(np.moveaxis(g, -1, 0)[:, None] if channels_last else g[None, None])
    (out * gt).sum().backward()
    gx = xt.grad.numpy()
    gx = np.moveaxis(gx[:, 0], 0, -1) if channels_last else gx[0, 0]
    return gx, kt.grad.numpy()[0, 0]


def random_problem(rng, *, channels=0):
    """A random correlation problem whose output is not empty."""
    while True:
        h, w = (int(v) for v in rng.integers(3, 13, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
        kind = rng.integers(0, 5)
        pad = {0: "same", 1: "valid", 2: "full", 3: int(rng.integers(0, 3)),
               4: tuple(int(v) for v in rng.integers(0, 4, size=4))}[int(kind)]
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        try:
            out = convcli.output_size((h, w), (kh, kw), pad=pad, stride=stride, dilation=dilation)
        except ShapeError:
            continue
        shape = (h, w, channels) if channels else (h, w)
        x = rng.normal(size=shape)
        k = rng.normal(size=(kh, kw))
        g = rng.normal(size=out + ((channels,) if channels else ()))
        return x, k, g, {"pad": pad, "stride": stride, "dilation": dilation}


@pytest.mark.parametrize("seed", range(40))
def test_correlate_backward_matches_torch(seed):
    rng = np.random.default_rng(seed)
    x, k, g, params = random_problem(rng)
    gx, gk = correlate_backward(g, x, k, **params)
    tx, tk = torch_correlate_grads(x, k, g, **params)
    np.testing.assert_allclose(gx, tx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gk, tk, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("border", ["reflect", "edge", "wrap"])
@pytest.mark.parametrize("seed", range(6))
def test_copying_borders_fold_the_gradient_back_as_torch(border, seed):
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(size=(7, 9))
    k = rng.normal(size=(3, 4))
    pad = (1, 2, 2, 1)  # asymmetric, smaller than the image (torch's reflect needs that)
    stride = (1 + seed % 2, 1 + seed % 3)
    out = convcli.output_size(x.shape, k.shape, pad=pad, stride=stride)
    g = rng.normal(size=out)
    gx, gk = correlate_backward(g, x, k, pad=pad, stride=stride, border=border)
    tx, tk = torch_correlate_grads(x, k, g, pad=pad, stride=stride, dilation=1, border=border)
    np.testing.assert_allclose(gx, tx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gk, tk, rtol=1e-10, atol=1e-10)


def test_constant_border_value_enters_the_kernel_gradient_only():
    rng = np.random.default_rng(7)
    x, k = rng.normal(size=(6, 6)), rng.normal(size=(3, 3))
    g = rng.normal(size=(6, 6))
    gx0, gk0 = correlate_backward(g, x, k, pad="same")
    gx5, gk5 = correlate_backward(g, x, k, pad="same", border_value=5.0)
    tx, tk = torch_correlate_grads(x, k, g, pad="same", stride=1, dilation=1, border_value=5.0)
    np.testing.assert_allclose(gx5, tx, atol=1e-10)
    np.testing.assert_allclose(gk5, tk, atol=1e-10)
    np.testing.assert_array_equal(gx0, gx5)
    assert not np.allclose(gk0, gk5)


@pytest.mark.parametrize("seed", range(5))
def test_channels_share_the_kernel(seed):
    rng = np.random.default_rng(200 + seed)
    x, k, g, params = random_problem(rng, channels=3)
    gx, gk = correlate_backward(g, x, k, **params)
    tx, tk = torch_correlate_grads(x, k, g, **params)
    assert gx.shape == x.shape
    np.testing.assert_allclose(gx, tx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gk, tk, rtol=1e-10, atol=1e-10)


def loss(x, k, g, **params):
    return float(np.sum(g * ref_correlate(x, k, **params)))


@pytest.mark.parametrize("border", ["constant", "reflect", "symmetric", "edge", "wrap"])
def test_finite_differences(border):
    """Central differences of L = sum(g * out) through the slow reference, for every pixel and tap."""
    rng = np.random.default_rng(11)
    x, k = rng.normal(size=(5, 6)), rng.normal(size=(3, 2))
    params = {"pad": (2, 1, 1, 2), "stride": (2, 1), "dilation": (1, 2), "border": border}
    out = convcli.output_size(x.shape, k.shape, pad=params["pad"], stride=(2, 1), dilation=(1, 2))
    g = rng.normal(size=out)
    gx, gk = correlate_backward(g, x, k, **params)
    h = 1e-4
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        numeric = (loss(x + e, k, g, **params) - loss(x - e, k, g, **params)) / (2 * h)
        assert gx[idx] == pytest.approx(numeric, abs=1e-7)
    for idx in np.ndindex(k.shape):
        e = np.zeros_like(k)
        e[idx] = h
        numeric = (loss(x, k + e, g, **params) - loss(x, k - e, g, **params)) / (2 * h)
        assert gk[idx] == pytest.approx(numeric, abs=1e-7)


@given(
    h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
    pad=st.tuples(*[st.integers(0, 3)] * 4), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 2**32 - 1),
)
def test_adjoint_identity(h, w, kh, kw, pad, stride, dilation, seed):
    """With zero padding the correlation is linear in the image: <g, corr(x, k)> = <dL/dx, x>, and in the kernel."""
    try:
        out = convcli.output_size((h, w), (kh, kw), pad=pad, stride=stride, dilation=dilation)
    except ShapeError:
        return
    rng = np.random.default_rng(seed)
    x, k, g = rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), rng.normal(size=out)
    gx, gk = correlate_backward(g, x, k, pad=pad, stride=stride, dilation=dilation)
    forward = float(np.sum(g * ref_correlate(x, k, border="constant", pad=pad, stride=stride, dilation=dilation)))
    assert float(np.sum(gx * x)) == pytest.approx(forward, rel=1e-9, abs=1e-9)
    assert float(np.sum(gk * k)) == pytest.approx(forward, rel=1e-9, abs=1e-9)


def test_seed_003_example_against_torch():
    x = np.array([[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]], float)
    k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
    g = np.ones((3, 3))
    gx, gk = correlate_backward(g, x, k, pad=1, stride=2)
    tx, tk = torch_correlate_grads(x, k, g, pad=1, stride=2, dilation=1)
    np.testing.assert_array_equal(gx, tx)
    np.testing.assert_array_equal(gk, tk)


def test_every_keyword_changes_the_result():
    rng = np.random.default_rng(3)
    x, k = rng.normal(size=(8, 8)), rng.normal(size=(3, 3))
    base_gx, base_gk = correlate_backward(np.ones((8, 8)), x, k)
    variants = {
        "pad": {"pad": (2, 0, 0, 2)},
        "border": {"border": "reflect"},
        "border_value": {"border_value": 3.0},
        "anchor": {"anchor": (0, 0)},
    }
    for name, kwargs in variants.items():
        gx, gk = correlate_backward(np.ones((8, 8)), x, k, **kwargs)
        assert not (np.allclose(gx, base_gx) and np.allclose(gk, base_gk)), name
    gx, _ = correlate_backward(np.ones((4, 4)), x, k, stride=2)
    assert not np.allclose(gx, base_gx)
    gx, _ = correlate_backward(np.ones((8, 8)), x, k, dilation=2)
    assert not np.allclose(gx, base_gx)


def test_dtypes():
    x32 = np.ones((5, 5), np.float32)
    gx, gk = correlate_backward(np.ones((5, 5), np.float32), x32, np.ones((3, 3)))
    assert gx.dtype == gk.dtype == np.float32
    gx, gk = correlate_backward(np.ones((5, 5)), x32, np.ones((3, 3)))
    assert gx.dtype == gk.dtype == np.float64
    gx = pool_backward(np.ones((2, 2), np.float32), np.ones((4, 4), np.uint8), 2)
    assert gx.dtype == np.float32


def test_inputs_are_not_modified():
    rng = np.random.default_rng(5)
    x, k, g = rng.normal(size=(6, 6)), rng.normal(size=(3, 3)), rng.normal(size=(6, 6))
    copies = [a.copy() for a in (x, k, g)]
    correlate_backward(g, x, k, border="reflect")
    pool_backward(g[:3, :3], x, 2)
    for a, b in zip((x, k, g), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrong_error_shape_is_refused():
    with pytest.raises(ShapeError, match=r"must have the shape of the forward output, \(3, 3\).*got \(2, 2\)"):
        correlate_backward(np.ones((2, 2)), np.ones((5, 5)), np.ones((3, 3)), pad=1, stride=2)
    with pytest.raises(ShapeError, match=r"shape of the forward output, \(2, 2\) \(max pooling.*got \(4, 4\)"):
        pool_backward(np.ones((4, 4)), np.ones((4, 4)), 2)
    with pytest.raises(ParameterError, match="unknown pooling op 'sum'; use one of max, mean, min"):
        pool_backward(np.ones((2, 2)), np.ones((4, 4)), 2, op="sum")


def test_dilate_error():
    np.testing.assert_array_equal(dilate_error([[1, 2]], (1, 3)), [[1, 0, 0, 2]])
    with pytest.raises(ParameterError, match="stride must be a positive integer"):
        dilate_error([[1]], 0)


# --- pooling ---------------------------------------------------------------------------------


def torch_pool_grad(x, g, size, *, stride=None, op="max", pad=0, ceil_mode=False):
    xt = torch.tensor(x[None, None], requires_grad=True)
    stride = size if stride is None else stride
    if op == "max":
        out = F.max_pool2d(xt, size, stride=stride, padding=pad, ceil_mode=ceil_mode)
    elif op == "min":
        out = -F.max_pool2d(-xt, size, stride=stride, padding=pad, ceil_mode=ceil_mode)
    else:
        out = F.avg_pool2d(xt, size, stride=stride, padding=pad, ceil_mode=ceil_mode, count_include_pad=False)
    (out * torch.tensor(g[None, None])).sum().backward()
    return xt.grad.numpy()[0, 0]


@pytest.mark.parametrize("op", ["max", "mean", "min"])
@pytest.mark.parametrize("seed", range(15))
def test_pool_backward_matches_torch(op, seed):
    rng = np.random.default_rng(300 + seed)
    h, w = (int(v) for v in rng.integers(3, 12, size=2))
    size = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    pad = (int(rng.integers(0, size[0] // 2 + 1)), int(rng.integers(0, size[1] // 2 + 1)))
    ceil_mode = bool(seed % 2)
    # small integers: many ties, which must be broken as PyTorch does (the first in row-major order)
    x = rng.integers(0, 3, size=(h, w)).astype(np.float64)
    try:
        out = convcli.pool_output_size((h, w), size, stride=stride, pad=pad, ceil_mode=ceil_mode)
    except ShapeError:
        return
    g = rng.normal(size=out)
    ours = pool_backward(g, x, size, stride=stride, op=op, pad=pad, ceil_mode=ceil_mode)
    theirs = torch_pool_grad(x, g, size, stride=stride, op=op, pad=pad, ceil_mode=ceil_mode)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_pool_backward_channels():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(6, 7, 2))
    g = rng.normal(size=(4, 4, 2))
    ours = pool_backward(g, x, 2, stride=2, pad=1)
    for c in range(2):
        np.testing.assert_allclose(ours[:, :, c], torch_pool_grad(x[:, :, c], g[:, :, c], 2, stride=2, pad=1))


def test_pool_finite_differences():
    """Distinct values: a small nudge does not change the winners, so differences are exact."""
    rng = np.random.default_rng(12)
    x = rng.permutation(36).reshape(6, 6).astype(np.float64)
    g = rng.normal(size=(3, 3))
    for op in ("max", "mean", "min"):
        grad = pool_backward(g, x, 3, stride=2, op=op, pad=1)
        for idx in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[idx] = 1e-3
            up = np.sum(g * convcli.pool(x + e, 3, stride=2, op=op, pad=1))
            down = np.sum(g * convcli.pool(x - e, 3, stride=2, op=op, pad=1))
            assert grad[idx] == pytest.approx((up - down) / 2e-3, abs=1e-8), (op, idx)


def test_mean_pooling_conserves_the_error():
    rng = np.random.default_rng(13)
    x, g = rng.normal(size=(7, 7)), rng.normal(size=(4, 4))
    grad = pool_backward(g, x, 2, op="mean", ceil_mode=True)
    assert grad.sum() == pytest.approx(g.sum())
    # the last row/column windows hold one pixel each: the whole error goes to it
    assert grad[6, 6] == pytest.approx(g[3, 3])


def test_seed_003_pooling_rules():
    x = np.array([[1.0, 3.0], [4.0, 2.0]])
    np.testing.assert_array_equal(pool_backward([[8.0]], x, 2), [[0, 0], [8, 0]])
    np.testing.assert_array_equal(pool_backward([[8.0]], x, 2, op="mean"), [[2, 2], [2, 2]])


@pytest.mark.parametrize("border", ["constant", "edge", "reflect", "symmetric", "wrap", "replicate"])
def test_fold_padding_is_the_adjoint_of_numpy_pad(border):
    """<pad(x), g> == <x, fold(g)> for every x and g: folding undoes numpy.pad's copying exactly."""
    from convcli.engine import normalize_border
    from convcli.gradients import fold_padding

    rng = np.random.default_rng(11)
    pads = (2, 1, 3, 4)
    for shape in [(5, 6), (4, 3, 2)]:
        x = rng.standard_normal(shape)
        widths = [(pads[0], pads[1]), (pads[2], pads[3])] + [(0, 0)] * (len(shape) - 2)
        mode = normalize_border(border)
        padded = np.pad(x, widths, mode=mode) if mode != "constant" else np.pad(x, widths)
        g = rng.standard_normal(padded.shape)
        kept = g.copy()
        folded = fold_padding(g, shape, pads, border=border)
        assert folded.shape == shape
        np.testing.assert_allclose(np.vdot(padded, g), np.vdot(x, folded), rtol=1e-12)
        folded[...] = 0  # a new array: writing to it leaves the caller's gradient untouched
        np.testing.assert_array_equal(g, kept)
