"""Layer specs (layer_specs.py): the grammar of ``conv:``/``pool:`` layers and the one pooling-spec parser.

The sizes a parsed layer gives are checked against PyTorch, the reference the project promises to match.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convcli.errors import ParameterError
from convcli.layer_specs import parse_layer, parse_pool
from convcli.layers import Layer, chain_sizes


def torch_pool_hw(hw, **options):
    return tuple(F.max_pool2d(torch.zeros(1, 1, *hw), **options).shape[-2:])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conv:k=7,s=2,p=3", Layer("conv", (7, 7), (2, 2), (3, 3), text="conv:k=7,s=2,p=3")),
        ("conv:k=3", Layer("conv", (3, 3), (1, 1), (0, 0), text="conv:k=3")),  # pad 0, as PyTorch
        ("CONV:K=3x5,P=Same,D=2",
         Layer("conv", (3, 5), (1, 1), "same", (2, 2), text="CONV:K=3x5,P=Same,D=2")),
        ("conv:k=3,p=full", Layer("conv", (3, 3), (1, 1), "full", text="conv:k=3,p=full")),
        ("conv:k=3,p=1x0", Layer("conv", (3, 3), (1, 1), (1, 0), text="conv:k=3,p=1x0")),
        ("pool:k=3", Layer("pool", (3, 3), (3, 3), (0, 0), text="pool:k=3")),  # stride = window
        ("pool:k=2x3,s=1", Layer("pool", (2, 3), (1, 1), (0, 0), text="pool:k=2x3,s=1")),
        (
            "max:size=3,stride=2,pad=1,ceil=true",
            Layer("pool", (3, 3), (2, 2), (1, 1), ceil_mode=True, op="max",
                  text="max:size=3,stride=2,pad=1,ceil=true"),
        ),
        ("mean:k=2,ceil=false", Layer("pool", (2, 2), (2, 2), (0, 0), op="mean", text="mean:k=2,ceil=false")),
        ("conv:kernel=5,stride=2,pad=same,dilation=3",
         Layer("conv", (5, 5), (2, 2), "same", (3, 3), text="conv:kernel=5,stride=2,pad=same,dilation=3")),
    ],
)
def test_parse_layer(text: str, expected: Layer) -> None:
    assert parse_layer(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cnv:k=3", r"layer 'cnv:k=3' has an unknown kind 'cnv'; did you mean 'conv'\? valid: conv, pool"),
        ("relu", r"unknown kind 'relu'; valid: conv, pool, max, mean, min"),
        ("conv", r"'conv' needs k=<N or HxW>"),
        ("conv:s=2", r"'conv:s=2' needs k=<N or HxW>"),
        ("conv:k=0", r"k must be N or HxW with integers >= 1 in 'conv:k=0', got '0'"),
        ("conv:k=3x4x5", r"got '3x4x5'"),
        ("conv:k=3,s=0", r"s must be N or HxW with integers >= 1 in 'conv:k=3,s=0', got '0'"),
        ("conv:k=3,p=sam", r"p must be same, valid, full, N or HxW \(integers >= 0\) in 'conv:k=3,p=sam'"),
        ("pool:k=2,p=same", r"p must be N or HxW with integers >= 0 in 'pool:k=2,p=same', got 'same'"),
        ("conv:k=3,ceil=true", r"a conv layer has no parameter 'ceil' \(in 'conv:k=3,ceil=true'\)"),
        ("pool:k=3,d=2", r"a pool layer has no parameter 'd' \(in 'pool:k=3,d=2'\); valid: k, s, p, ceil"),
        ("max:size=3,k=2", r"gives 'k' twice \(as 'size' and 'k'\); give it once"),
        ("max:size=0", r"size must be N or HxW with integers >= 1 in 'max:size=0'"),
        ("pool:k=2,ceil=maybe", r"ceil must be true or false in 'pool:k=2,ceil=maybe', got 'maybe'"),
        ("conv:k", r"'k' is not key=value"),
    ],
)
def test_parse_layer_errors_quote_the_spec(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_layer(text)


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
