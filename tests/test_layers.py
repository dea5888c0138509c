"""Layer chains (layers.py): the one pooling-spec parser, its defaults, and chains built as outsize does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convcli.shapes
from convcli import layers
from convcli.errors import KernelError, ParameterError, ShapeError
from convcli.layers import DEFAULT_POOL_SIZE, Layer, chain_sizes, outsize_chain, parse_layer, parse_pool
from convcli.pipeline import Pool


def torch_pool_hw(hw, **options):
    return tuple(F.max_pool2d(torch.zeros(1, 1, *hw), **options).shape[-2:])


@pytest.mark.parametrize("op", ["max", "mean", "min"])
def test_a_bare_operation_is_torchs_default_window(op: str) -> None:
    layer = parse_pool(op)
    assert (layer.op, layer.kernel, layer.stride, layer.pad, layer.ceil_mode) == (op, (2, 2), (2, 2), (0, 0), False)
    # PyTorch: MaxPool2d(2) has stride = kernel_size
    assert chain_sizes((9, 13), [layer])[0].output == torch_pool_hw((9, 13), kernel_size=2)


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("max:size=3", {"kernel_size": 3}),
        ("max:stride=1", {"kernel_size": 2, "stride": 1}),
        ("max:k=3,s=2,p=1,ceil=true", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
        ("max:kernel=3x2,stride=1x2", {"kernel_size": (3, 2), "stride": (1, 2)}),
        ("pool:pad=1", {"kernel_size": 2, "padding": 1}),
    ],
)
def test_pool_specs_size_as_torch(text: str, options: dict) -> None:
    layer = parse_pool(text, require_op=False)
    assert chain_sizes((17, 12), [layer])[0].output == torch_pool_hw((17, 12), **options)
    assert layer == parse_layer(text)  # one parser: the layer grammar gives the same layer


def test_the_default_is_set_once() -> None:
    assert DEFAULT_POOL_SIZE == 2
    assert Layer.pool().kernel == parse_pool("max").kernel == (DEFAULT_POOL_SIZE,) * 2
    assert Pool().size == Pool.from_spec("max").size[0] == DEFAULT_POOL_SIZE  # type: ignore[index]


def test_apply_and_outsize_build_the_same_pooling() -> None:
    text = "mean:size=3,stride=2,pad=1,ceil=true"
    op = Pool.from_spec(text)
    layer = parse_pool(text)
    assert op == Pool("mean", size=(3, 3), stride=(2, 2), pad=(1, 1), ceil_mode=True)
    from_chain = chain_sizes((31, 20), [layer])[0].output
    assert op.output_hw((31, 20)) == outsize_chain((31, 20), pool=text)[0].output == from_chain


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("conv:k=3", {}, r"^--pool 'conv:k=3': the operation must be max, mean or min, e.g. max:size=2$"),
        ("pool:k=2", {}, r"^--pool 'pool:k=2': the operation must be max, mean or min, e.g. max:size=2$"),
        ("median", {"what": "pooling spec"}, r"^pooling spec 'median': the operation must be max, mean or min"),
        ("conv", {"require_op": False}, r"must be max, mean or min \(or pool, for sizes only\)"),
        ("max:size=2,d=2", {}, r"a pool layer has no parameter 'd' \(in 'max:size=2,d=2'\)"),
        ("max:size=0", {}, r"size must be N or HxW with integers >= 1 in 'max:size=0', got '0'"),
        ("max:size", {}, r"^--pool 'max:size': 'size' is not key=value"),
    ],
)
def test_parse_pool_errors_quote_the_spec(text: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_pool(text, **kwargs)


def test_generic_pool_cannot_run() -> None:
    layer = parse_pool("pool:k=2", require_op=False)
    assert layer.op is None
    with pytest.raises(ParameterError, match=r"pooling 'pool:k=2': the operation must be max, mean or min"):
        Pool.from_layer(layer)


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


def test_shapes_still_exports_the_layer_names() -> None:
    for name in ("Layer", "LayerShape", "chain_sizes", "parse_layer", "parse_pool", "spec_pad"):
        assert getattr(convcli.shapes, name) is getattr(layers, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        convcli.shapes.nothing  # noqa: B018


def test_chain_receptive_field_grows_as_the_recursion_says() -> None:
    # one output pixel depends on exactly receptive_field input pixels: torch's gradient shows which
    # (mean pooling in torch, so every pixel of a window gets gradient; the shape is the same for any op)
    chain = [parse_layer("conv:k=3"), parse_layer("mean"), parse_layer("conv:k=3,d=2")]
    last = chain_sizes((40, 40), chain)[-1]
    x = torch.zeros(1, 1, 40, 40, requires_grad=True)
    y = F.conv2d(F.avg_pool2d(F.conv2d(x, torch.ones(1, 1, 3, 3)), 2), torch.ones(1, 1, 3, 3), dilation=2)
    y[0, 0, 0, 0].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())  # type: ignore[union-attr]
    seen = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    assert seen == last.receptive_field
