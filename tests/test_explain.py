"""convcli.learn.explain: every window, product and sum, checked against the engine, pooling, the
slow references of tests/reference.py and torch.autograd for the backward pass."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convcli
from convcli.errors import KernelError, ParameterError, ShapeError
from convcli.gradients import correlate_backward, pool_backward
from convcli.learn.explanation import MAX_SIDE, explain, parse_matrix
from tests.reference import ref_correlate, ref_pads, ref_pool

NOTES_X = np.array([[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]], float)
NOTES_K = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
BORDERS = ["constant", "edge", "reflect", "symmetric", "wrap"]


def random_case(rng):
    """A random problem with a non-empty output (pads small enough for numpy's reflect on any size)."""
    while True:
        h, w = (int(v) for v in rng.integers(2, 9, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        pad = [0, 1, "same", "valid", "full", (int(rng.integers(0, 3)), int(rng.integers(0, 3)), 1, 0)][
            int(rng.integers(0, 6))]
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        try:
            convcli.output_size((h, w), (kh, kw), pad=pad, stride=stride, dilation=dilation)
        except ShapeError:
            continue
        x = rng.integers(-5, 6, size=(h, w)).astype(float)
        k = rng.integers(-3, 4, size=(kh, kw)).astype(float)
        return x, k, {"pad": pad, "stride": stride, "dilation": dilation}


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_output_equals_the_engine(border, flip, seed):
    rng = np.random.default_rng(seed)
    x, k, params = random_case(rng)
    e = explain(x, k, border=border, border_value=2.5, flip=flip, **params)
    engine = (convcli.convolve if flip else convcli.correlate)(
        x, k, border=border, border_value=2.5, method="direct", **params)
    np.testing.assert_array_equal(e.conv.output, engine)  # integers: exact
    assert e.result is e.conv.output


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("seed", range(5))
def test_every_step_against_a_slow_reference(border, seed):
    """Window = numpy.pad'ed input at the dilated taps, products = kernel * window, sum = their total."""
    rng = np.random.default_rng(50 + seed)
    x, k, params = random_case(rng)
    (sh, sw), (dh, dw) = params["stride"], params["dilation"]
    top, bottom, left, right = ref_pads(params["pad"], *k.shape, dh, dw)
    widths = ((top, bottom), (left, right))
    padded = (np.pad(x, widths, mode="constant", constant_values=-1.5) if border == "constant"
              else np.pad(x, widths, mode=border))
    e = explain(x, k, border=border, border_value=-1.5, **params)
    np.testing.assert_array_equal(e.conv.padded, padded)
    inside = np.zeros(padded.shape, bool)
    inside[top : top + x.shape[0], left : left + x.shape[1]] = True
    np.testing.assert_array_equal(e.conv.border_cells, ~inside)
    reference = ref_correlate(x, k, border=border, border_value=-1.5, **params)
    assert len(e.conv.steps) == reference.size
    for step, (i, j) in zip(e.conv.steps, np.ndindex(reference.shape), strict=True):
        assert step.position == (i, j)
        window = np.array([[padded[i * sh + a * dh, j * sw + b * dw] for b in range(k.shape[1])]
                           for a in range(k.shape[0])])
        np.testing.assert_array_equal(step.window, window)
        np.testing.assert_array_equal(step.products, k * window)
        assert step.sum == reference[i, j]
        assert step.rows == tuple(i * sh + a * dh - top for a in range(k.shape[0]))
        assert step.cols == tuple(j * sw + b * dw - left for b in range(k.shape[1]))


def test_notes_example():
    e = explain(NOTES_X, NOTES_K, pad=1, stride=2)
    np.testing.assert_array_equal(e.conv.output, [[6, 9, 2], [12, 17, 4], [0, 2, 4]])
    assert e.conv.formula == ("floor((5 + 2*1 - 3) / 2) + 1 = floor(4/2) + 1 = 3",) * 2
    first = e.conv.steps[0]
    np.testing.assert_array_equal(first.window, [[0, 0, 0], [0, 1, 2], [0, 4, 5]])
    assert first.sum == 6
    assert explain(NOTES_X, NOTES_K).conv.formula[0] == "(5 - 3) + 1 = 3"  # N = (O - K)/S + 1


def test_formula_for_asymmetric_padding_and_dilation():
    e = explain(np.ones((6, 7)), np.ones((2, 3)), pad=(0, 1, 2, 0), dilation=(1, 2))
    rows, cols = e.conv.formula
    assert rows == "(6 + 0 + 1 - 2) + 1 = 6"
    assert cols == "(7 + 2 + 0 - 2*(3-1) - 1) + 1 = 5"
    assert e.conv.output.shape == (6, 5)


def test_flip_rotates_the_kernel_and_its_anchor():
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    e = explain(NOTES_X, k, flip=True, pad="same", anchor=(0, 0))
    np.testing.assert_array_equal(e.conv.applied, [[4, 3], [2, 1]])
    np.testing.assert_array_equal(e.conv.kernel, k)
    engine = convcli.convolve(NOTES_X, k, pad="same", anchor=(0, 0), border="constant", method="direct")
    np.testing.assert_array_equal(e.conv.output, engine)
    data = e.to_dict()
    assert data["operation"] == "convolve"
    assert data["rotated_kernel"] == [[4, 3], [2, 1]]


@pytest.mark.parametrize("op", ["max", "mean", "min"])
@pytest.mark.parametrize(
    "spec", ["{op}", "{op}:size=3,stride=2,pad=1", "{op}:size=2,stride=1", "{op}:size=3,ceil=true"]
)
def test_pooling_equals_convcli_pool(op, spec):
    rng = np.random.default_rng(8)
    x = rng.integers(0, 4, size=(7, 8)).astype(float)
    text = spec.format(op=op)
    e = explain(x, pool=text)
    layer = convcli.layer_specs.parse_layer(text if ":" in text else f"{text}:size=2")
    expected = convcli.pool(x, layer.kernel, stride=layer.stride, op=op, pad=layer.pad, ceil_mode=layer.ceil_mode)
    np.testing.assert_allclose(e.pool.output, expected, rtol=1e-12)
    np.testing.assert_allclose(e.pool.output, ref_pool(x, layer.kernel, stride=layer.stride, op=op, pad=layer.pad,
                                                       ceil_mode=layer.ceil_mode), rtol=1e-12)
    assert e.conv is None
    for step in e.pool.steps:
        inside = ~np.isnan(step.window)
        assert step.count == int(inside.sum())
        if op != "mean":
            values = np.where(inside, step.window, np.nan)
            best = np.nanmax(values) if op == "max" else np.nanmin(values)
            first = next(idx for idx in np.ndindex(values.shape) if values[idx] == best)  # row-major
            assert step.winner == first
            assert step.value == best
        else:
            assert step.winner is None


def test_pool_after_the_convolution():
    e = explain(NOTES_X, NOTES_K, pad=1, pool="max:size=2")
    conv = convcli.correlate(NOTES_X, NOTES_K, pad=1, border="constant")
    np.testing.assert_array_equal(e.conv.output, conv)
    np.testing.assert_array_equal(e.pool.output, convcli.pool(conv, 2))
    assert e.pool.formula[0] == "floor((5 - 2) / 2) + 1 = floor(3/2) + 1 = 2"
    np.testing.assert_array_equal(e.result, e.pool.output)


def torch_grads(x, k, g, *, pad, stride, dilation, flip=False, pool=None):
    """dL/dx, dL/dk through torch for correlate (or convolve) with zero padding, then optional pooling."""
    kh, kw = k.shape
    top, bottom, left, right = ref_pads(pad, kh, kw, *dilation)
    xt = torch.tensor(x[None, None], requires_grad=True)
    kt = torch.tensor(k, requires_grad=True)
    weight = torch.flip(kt, (0, 1)) if flip else kt
    out = F.conv2d(F.pad(xt, (left, right, top, bottom)), weight[None, None], stride=stride, dilation=dilation)
    if pool == "max":
        out = F.max_pool2d(out, 2)
    elif pool == "mean":
        out = F.avg_pool2d(out, 2, count_include_pad=False)
    (out * torch.tensor(g[None, None])).sum().backward()
    return xt.grad.numpy()[0, 0], kt.grad.numpy()


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_backward_matches_torch_and_gradients(flip, seed):
    rng = np.random.default_rng(90 + seed)
    x, k, params = random_case(rng)
    x, k = rng.normal(size=x.shape), rng.normal(size=k.shape)
    out_shape = convcli.output_size(x.shape, k.shape, pad=params["pad"], stride=params["stride"],
                                    dilation=params["dilation"])
    g = rng.normal(size=out_shape)
    e = explain(x, k, flip=flip, grad=g, **params)
    tx, tk = torch_grads(x, k, g, flip=flip, **params)
    np.testing.assert_allclose(e.backward.conv.grad_input, tx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(e.backward.conv.grad_kernel, tk, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(e.backward.grad_input, tx, rtol=1e-10, atol=1e-10)
    applied = k[::-1, ::-1] if flip else k
    gx, _ = correlate_backward(g, x, applied, border="constant", **params)
    np.testing.assert_allclose(e.backward.conv.grad_input, gx, rtol=1e-10, atol=1e-10)


def test_backward_with_a_copying_border_matches_gradients():
    rng = np.random.default_rng(5)
    x, k, g = rng.normal(size=(5, 6)), rng.normal(size=(3, 3)), rng.normal(size=(3, 6))
    e = explain(x, k, pad=(1, 1, 1, 1), stride=(2, 1), border="reflect", grad=g)
    gx, gk = correlate_backward(g, x, k, pad=1, stride=(2, 1), border="reflect")
    np.testing.assert_allclose(e.backward.conv.grad_input, gx, atol=1e-12)
    np.testing.assert_allclose(e.backward.conv.grad_kernel, gk, atol=1e-12)


@pytest.mark.parametrize("op", ["max", "mean"])
def test_backward_through_pooling_matches_torch(op):
    rng = np.random.default_rng(6)
    x, k = rng.normal(size=(6, 6)), rng.normal(size=(3, 3))
    g = rng.normal(size=(3, 3))
    e = explain(x, k, pad=1, pool=f"{op}:size=2", grad=g)
    tx, tk = torch_grads(x, k, g, pad=1, stride=(1, 1), dilation=(1, 1), pool=op)
    np.testing.assert_allclose(e.backward.grad_input, tx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(e.backward.conv.grad_kernel, tk, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(e.backward.pool.grad_input, pool_backward(g, e.conv.output, 2, op=op), atol=1e-12)


def test_backward_of_the_notes_example():
    e = explain(NOTES_X, NOTES_K, pad=1, stride=2, backward=True)
    back = e.backward.conv
    np.testing.assert_array_equal(back.error, np.ones((3, 3)))
    assert back.dilated_error.shape == (5, 5) and back.dilated_error.sum() == 9
    assert back.padded_error.shape == (9, 9)
    np.testing.assert_array_equal(back.rotated_kernel, NOTES_K[::-1, ::-1])
    np.testing.assert_array_equal(back.grad_input, [[1, 0, 1, 0, 1], [0, 4, 0, 4, 0], [1, 0, 1, 0, 1],
                                                    [0, 4, 0, 4, 0], [1, 0, 1, 0, 1]])
    np.testing.assert_array_equal(back.grad_kernel, [[8, 15, 8], [14, 24, 14], [8, 15, 8]])
    assert [s.sum for s in back.kernel_steps] == back.grad_kernel.ravel().tolist()


def test_pool_backward_routes():
    e = explain([[1, 3], [4, 2]], pool="max", grad=[[5.0]])
    route = e.backward.pool.routes[0]
    assert (route.targets, route.share) == (((1, 0),), 5.0)
    e = explain([[1, 3], [4, 2]], pool="mean", grad=[[8.0]])
    assert e.backward.pool.routes[0].share == 2.0
    np.testing.assert_array_equal(e.backward.grad_input, [[2, 2], [2, 2]])


def test_to_dict_is_json():
    e = explain(NOTES_X, NOTES_K, pad=1, stride=2, pool="max:size=2", backward=True)
    data = json.loads(json.dumps(e.to_dict()))
    assert {"input", "padded", "kernel", "steps", "output", "formula", "pool", "backward", "result"} <= set(data)
    assert data["steps"][0] == {"position": [0, 0], "rows": [-1, 0, 1], "cols": [-1, 0, 1],
                                "window": [[0, 0, 0], [0, 1, 2], [0, 4, 5]],
                                "products": [[0, 0, 0], [0, 1, 0], [0, 0, 5]], "sum": 6}
    assert data["result"] == [[17]]
    pooled = json.loads(json.dumps(explain([[1, 2, 3]], pool="max:size=2,ceil=true").to_dict()))
    assert pooled["kernel"] is None
    assert pooled["steps"][1]["window"] == [[3, None], [None, None]]  # the window runs past the 1x3 input


def test_size_limits():
    with pytest.raises(ShapeError, match=rf"the input is 17x3, but explain shows at most {MAX_SIDE}x{MAX_SIDE}.*crop"):
        explain(np.ones((17, 3)), [[1]])
    with pytest.raises(ShapeError, match=r"the kernel is 1x17, but explain shows kernels up to 16x16"):
        explain(np.ones((3, 3)), np.ones((1, 17)), pad="full")
    with pytest.raises(ShapeError, match=r"the padding \(17, 17, 17, 17\) .* is more than explain shows"):
        explain(np.ones((3, 3)), [[1]], pad=17)
    explain(np.ones((16, 16)), np.ones((16, 16)), pad=15)  # the limits themselves are fine


def test_errors():
    with pytest.raises(ParameterError, match="give a kernel, a pooling spec or both"):
        explain(NOTES_X)
    with pytest.raises(ParameterError, match=r"one channel of an image: pick it first\), got shape \(2, 2, 3\)"):
        explain(np.ones((2, 2, 3)), [[1]])
    with pytest.raises(ParameterError, match="the input holds nan at row 0, column 1"):
        explain([[1, float("nan")]], [[1]])
    with pytest.raises(ShapeError, match=r"the error term must have the result's shape 3x3, got 2x2"):
        explain(NOTES_X, NOTES_K, grad=np.ones((2, 2)))
    with pytest.raises(ShapeError, match="nothing is left along rows"):
        explain(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(ParameterError, match="the operation must be max, mean or min"):
        explain(NOTES_X, pool="sum:size=2")
    with pytest.raises(ParameterError, match="pooling pad must be at most half the window"):
        explain(NOTES_X, pool="max:size=2,pad=2")
    with pytest.raises(KernelError, match="every value must be a finite number"):
        explain(NOTES_X, [[float("inf")]])
    with pytest.raises(ParameterError, match="unknown border 'zigzag'"):
        explain(NOTES_X, NOTES_K, border="zigzag")


def test_every_keyword_changes_the_explanation():
    base = explain(NOTES_X, NOTES_K, pad=1).conv.output
    for kwargs in ({"pad": 0}, {"stride": 2}, {"dilation": 2, "pad": 2}, {"border": "edge"},
                   {"border_value": 1.0}, {"flip": True, "pad": "same", "anchor": (0, 0)}):
        kw = {"pad": 1, **kwargs}
        other = explain(NOTES_X, NOTES_K, **kw).conv.output
        assert other.shape != base.shape or not np.array_equal(other, base), kwargs


def test_parse_matrix():
    np.testing.assert_array_equal(parse_matrix("1 2; 3,4;"), [[1, 2], [3, 4]])
    with pytest.raises(ParameterError, match=r"--image '1 2; 3': row 2 has 1 value but row 1 has 2"):
        parse_matrix("1 2; 3", what="--image")
    with pytest.raises(ParameterError, match=r"'x' at row 1, column 2 is not a finite number"):
        parse_matrix("1 x")
    with pytest.raises(ParameterError, match="row 2 is empty"):
        parse_matrix("1;;2")
