"""``convcli outsize`` reports the shape the engine produces, for any chain.

For random chains of convolution and pooling layers, the sizes ``outsize --json``
prints are the shapes ``convcli.correlate`` and ``convcli.pool`` return on an array
of that size, layer by layer; where ``outsize`` refuses a layer (exit 1), the
engine refuses the same layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.errors import ParameterError
from convcli.kernels import kernel

runner = CliRunner()


def _hw(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


pairs = st.tuples(st.integers(1, 4), st.integers(1, 4))
small = st.tuples(st.integers(0, 2), st.integers(0, 2))

conv_layers = st.fixed_dictionaries(
    {
        "kind": st.just("conv"),
        "k": pairs,
        "s": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "p": st.one_of(st.sampled_from(["same", "valid", "full"]), small),
        "d": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    }
)
pool_layers = st.fixed_dictionaries(
    {
        "kind": st.just("pool"),
        "op": st.sampled_from(["max", "mean", "min"]),
        "k": pairs,
        "s": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "p": small,
        "ceil": st.booleans(),
    }
)


def _spec(layer: dict) -> str:
    if layer["kind"] == "conv":
        p = layer["p"] if isinstance(layer["p"], str) else _hw(layer["p"])
        return f"conv:k={_hw(layer['k'])},s={_hw(layer['s'])},p={p},d={_hw(layer['d'])}"
    ceil = "true" if layer["ceil"] else "false"
    return f"{layer['op']}:size={_hw(layer['k'])},stride={_hw(layer['s'])},pad={_hw(layer['p'])},ceil={ceil}"


def _engine(image: np.ndarray, layer: dict) -> np.ndarray:
    if layer["kind"] == "conv":
        return convcli.correlate(
            image,
            np.ones(layer["k"]),
            border="constant",
            pad=layer["p"],
            stride=layer["s"],
            dilation=layer["d"],
        )
    return convcli.pool(
        image, layer["k"], stride=layer["s"], op=layer["op"], pad=layer["p"], ceil_mode=layer["ceil"]
    )


@settings(max_examples=120, deadline=None)
@given(
    hw=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    chain=st.lists(st.one_of(conv_layers, pool_layers), min_size=1, max_size=4),
)
def test_outsize_reports_the_shapes_the_engine_produces(hw: tuple[int, int], chain: list[dict]) -> None:
    specs = [_spec(layer) for layer in chain]
    result = runner.invoke(app, ["outsize", _hw(hw), *specs, "--json"])
    assert result.exit_code in (0, 1), result.output

    image = np.zeros(hw, dtype=np.float32)
    for index, layer in enumerate(chain, start=1):
        if result.exit_code == 1 and result.stderr.startswith(f"Error: layer {index} ({specs[index - 1]}) "):
            with pytest.raises(ParameterError):
                _engine(image, layer)
            assert result.stdout == ""
            return
        image = _engine(image, layer)
        if result.exit_code == 0:
            assert json.loads(result.stdout)["layers"][index - 1]["output"] == list(image.shape)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["output"] == list(image.shape)


@pytest.mark.parametrize(
    ("args", "engine"),
    [
        (
            ["224x224", "--kernel", "7", "--stride", "2", "--pad", "3"],
            lambda x: convcli.correlate(x, np.ones((7, 7)), pad=3, stride=2),
        ),
        (
            ["37x50", "-k", "gaussian:sigma=1.5", "--stride", "3", "--pool", "mean:size=2,ceil=true"],
            lambda x: convcli.pool(
                convcli.correlate(x, kernel("gaussian:sigma=1.5").matrix, stride=3),
                2,
                op="mean",
                ceil_mode=True,
            ),
        ),
        (
            ["37x50", "-k", "4x2", "--dilation", "2", "--pad", "full"],
            lambda x: convcli.correlate(x, np.ones((4, 2)), pad="full", dilation=2, border="constant"),
        ),
    ],
    ids=["resnet-conv", "kernel-spec-and-pool", "dilated-full"],
)
def test_options_form_matches_the_engine(args: list[str], engine: Callable[[np.ndarray], np.ndarray]) -> None:
    result = runner.invoke(app, ["outsize", *args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    image = np.zeros(tuple(payload["input"]), dtype=np.float32)
    assert list(engine(image).shape) == payload["output"]
