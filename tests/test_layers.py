"""Layer chains (layers.py): layers, their default window, and the sizes and receptive fields through a chain."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from convcli.layer_specs import parse_layer, parse_pool
from convcli.layers import DEFAULT_POOL_SIZE, Layer, chain_sizes
from convcli.operations import Pooling


def torch_pool_hw(hw, **options):
    return tuple(F.max_pool2d(torch.zeros(1, 1, *hw), **options).shape[-2:])


def test_the_default_is_set_once() -> None:
    assert DEFAULT_POOL_SIZE == 2
    assert Layer.pool().kernel == parse_pool("max").kernel == (DEFAULT_POOL_SIZE,) * 2
    assert Pooling().size == Pooling.from_spec("max").size[0] == DEFAULT_POOL_SIZE  # type: ignore[index]


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
