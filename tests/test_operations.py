"""The operations apply runs (operations.py), each checked against an independent reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convcli.errors import ParameterError
from convcli.kernels import kernel
from convcli.operations import Activate, Convolve, Pool, check_operations
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
    op = Pool.from_spec(spec)
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
    check_operations([Convolve("box"), Activate("abs"), Pool()])
    with pytest.raises(TypeError, match=r"^operations must be Convolve, Activate or Pool, got dict$"):
        check_operations([{}])
    with pytest.raises(ParameterError, match="unknown activation 'softmax'"):
        Activate("softmax")
