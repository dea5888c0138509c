"""The operations apply runs (operations.py), each checked against an independent reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convcli.errors import KernelError, ParameterError, ShapeError
from convcli.kernels import kernel
from convcli.layer_specs import parse_pool
from convcli.layers import Layer, chain_sizes
from convcli.operations import Activate, Convolve, Pooling, check_operations, outsize_chain
from convcli.shapes import resolve_pad
from tests.reference import ref_correlate, ref_pool


def test_convolve_with_an_anchor_matches_the_slow_reference(rng) -> None:
    image = rng.random((9, 11))
    matrix = rng.random((3, 4))
    op = Convolve(matrix, anchor=(2, 0), border="edge")
    assert op.effective_anchor() == (2, 0)
    assert op.pad_for(op.matrices()[0]) == resolve_pad("same", (3, 4), anchor=(2, 0)) == (2, 0, 0, 3)
    np.testing.assert_allclose(op.run(image), ref_correlate(image, matrix, border="edge", anchor=(2, 0)),
                               rtol=1e-5, atol=1e-6)


def test_an_operator_filters_with_each_component() -> None:
    op = Convolve(kernel("sobel:axis=both"))
    assert [m.shape for m in op.matrices()] == [(3, 3), (3, 3)]
    assert not np.array_equal(op.matrices()[0], op.matrices()[1])


@pytest.mark.parametrize("spec", ["max", "mean:size=3,stride=1", "min:size=2x3,pad=1", "max:size=3,stride=2,ceil=true"])
def test_pool_from_spec_runs_as_the_slow_reference(rng, spec: str) -> None:
    image = rng.random((11, 10))
    op = Pooling.from_spec(spec)
    want = ref_pool(image, op.size, stride=op.stride, op=op.op, pad=op.pad, ceil_mode=op.ceil_mode)
    np.testing.assert_allclose(op.run(image), want, rtol=1e-6)
    if op.op == "max":
        torch_out = F.max_pool2d(torch.from_numpy(image)[None, None], op.size, stride=op.stride, padding=op.pad,
                                 ceil_mode=op.ceil_mode)[0, 0].numpy()
        np.testing.assert_allclose(op.run(image), torch_out, rtol=1e-6)


def test_activations_against_numpy() -> None:
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(Activate("relu").run(x), np.maximum(x, 0))
    np.testing.assert_allclose(Activate("tanh").run(x * 255, scale=255.0), np.tanh(x) * 255, rtol=1e-6)
    np.testing.assert_allclose(Activate("sigmoid").run(x), 1 / (1 + np.exp(-x)), rtol=1e-6)


def test_check_operations_refuses_other_objects() -> None:
    check_operations([Convolve("box"), Activate("abs"), Pooling()])
    with pytest.raises(TypeError, match=r"^operations must be Convolve, Activate or Pooling, got dict$"):
        check_operations([{}])
    with pytest.raises(ParameterError, match="unknown activation 'softmax'"):
        Activate("softmax")


def test_apply_and_outsize_build_the_same_pooling() -> None:
    text = "mean:size=3,stride=2,pad=1,ceil=true"
    op = Pooling.from_spec(text)
    layer = parse_pool(text)
    assert op == Pooling("mean", size=(3, 3), stride=(2, 2), pad=(1, 1), ceil_mode=True)
    from_chain = chain_sizes((31, 20), [layer])[0].output
    assert op.output_hw((31, 20)) == outsize_chain((31, 20), pool=text)[0].output == from_chain


def test_generic_pool_cannot_run() -> None:
    layer = parse_pool("pool:k=2", require_op=False)
    assert layer.op is None
    with pytest.raises(ParameterError, match=r"pooling 'pool:k=2': the operation must be max, mean or min"):
        Pooling.from_layer(layer)


def test_outsize_chain_builds_the_convolution_apply_runs() -> None:
    # gaussian:sigma=2 is 17x17; apply's default pad is same, then PyTorch's conv2d rules
    shapes = outsize_chain((224, 200), kernel="gaussian:sigma=2", stride=2, pool="max")
    assert [s.layer.text for s in shapes] == ["conv:k=17,s=2,p=same", "max"]
    x = torch.zeros(1, 1, 224, 200)
    conv = F.conv2d(F.pad(x, (8, 8, 8, 8)), torch.zeros(1, 1, 17, 17), stride=2)
    assert shapes[0].output == tuple(conv.shape[-2:])
    assert shapes[1].output == tuple(F.max_pool2d(conv, 2).shape[-2:])
    assert outsize_chain((5, 5)) == []


def test_outsize_chain_takes_four_pad_sides_and_layer_specs() -> None:
    shapes = outsize_chain((10, 12), kernel=(3, 3), pad=(0, 2, 1, 0), stride=2)
    want = F.conv2d(F.pad(torch.zeros(1, 1, 10, 12), (1, 0, 0, 2)), torch.zeros(1, 1, 3, 3), stride=2).shape[-2:]
    assert shapes[0].output == tuple(want) and shapes[0].pad == (0, 2, 1, 0)
    chain = outsize_chain((32, 32), ["conv:k=5", "max", "conv:k=5", Layer.pool(2)])
    assert chain[-1].output == (5, 5)  # LeNet-5


def test_outsize_chain_errors() -> None:
    with pytest.raises(KernelError, match="unknown kernel 'gausian'"):
        outsize_chain((8, 8), kernel="gausian:sigma=1")
    with pytest.raises(ShapeError, match=r"^layer 2 \(max\) on a 1x1 input: pooling leaves nothing"):
        outsize_chain((3, 3), kernel=(3, 3), pad="valid", pool="max")
    with pytest.raises(ParameterError, match=r"^pad must be 'same', 'valid', 'full', a non-negative integer"):
        Layer.conv(3, pad=(0, -1, 0, 0))
