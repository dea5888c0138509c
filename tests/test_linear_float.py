"""``--linear`` with a float output (issue 23): the library and the command line give the same dtype and values.

The reference for the values is float64 NumPy: decode sRGB exactly, correlate in float64, encode back, scaled to
full scale 1.0.  ``stream_filter(..., linear=True, depth="float")`` and ``apply --linear --depth float`` must
give the same dtype (float32; float64 for a float64 input) and the same bytes; the float result of
``stream_filter(..., linear=True)`` (no depth) is float64, as docs/apply-and-batches.md says.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.colour import linear_to_srgb, srgb_to_linear
from convcli.depth import to_depth
from convcli.operations import Convolve
from convcli.streaming import stream_filter


def inputs():
    rng = np.random.default_rng(11)
    return {
        "gray8": rng.integers(0, 256, (31, 23)).astype(np.uint8),
        "rgb8": rng.integers(0, 256, (31, 23, 3)).astype(np.uint8),
        "gray16": rng.integers(0, 65536, (31, 23)).astype(np.uint16),
        "float32": rng.random((31, 23)).astype(np.float32),
        "float64": rng.random((31, 23)),
    }


def reference(image: np.ndarray) -> np.ndarray:
    top = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(image.dtype, 1.0)
    linear = srgb_to_linear(image.astype(np.float64) / top)
    k = convcli.kernel("box:size=3").matrix
    if linear.ndim == 2:
        out = ndimage.correlate(linear, k, mode="mirror")
    else:
        out = np.stack([ndimage.correlate(linear[..., c], k, mode="mirror") for c in range(linear.shape[2])], -1)
    return linear_to_srgb(out)


@pytest.mark.parametrize("name", list(inputs()))
def test_cli_and_library_linear_float_output_agree(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    image = inputs()[name]
    np.save("in.npy", image)
    result = CliRunner().invoke(app, ["apply", "in.npy", "-k", "box:size=3", "--linear", "--depth", "float",
                                      "-o", "out.npy"])
    assert result.exit_code == 0, result.output
    cli = np.load("out.npy")
    library = stream_filter(image, [Convolve("box:size=3")], linear=True, depth="float").collect()
    want_dtype = np.float64 if image.dtype == np.float64 else np.float32
    assert cli.dtype == library.dtype == want_dtype
    assert cli.shape == library.shape
    assert cli.tobytes() == library.tobytes()
    np.testing.assert_allclose(cli, reference(image), rtol=0, atol=2e-6 if want_dtype == np.float32 else 1e-12)


def test_the_two_step_linear_float_result_is_float64_and_rounds_to_the_cli():
    image = inputs()["rgb8"]
    whole = stream_filter(image, [Convolve("box:size=3")], linear=True).collect()
    assert whole.dtype == np.float64
    one_step = stream_filter(image, [Convolve("box:size=3")], linear=True, depth="float").collect()
    assert np.array_equal(to_depth(whole, "float", source_max=255).astype(np.float32), one_step)
    eight = stream_filter(image, [Convolve("box:size=3")], linear=True, depth="8").collect()
    assert np.array_equal(to_depth(whole, "8", source_max=255), eight)
