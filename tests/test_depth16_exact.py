"""16-bit samples rounded to an integer depth equal a float64 reference, also beside ties (issue 23).

float32 holds integers only up to 2**24; a Gaussian over 16-bit samples sums past it, and 827 of 2.6 M
samples came out one level off, all within 0.008 of a tie.  16-bit (and wider) integer inputs going to an
integer depth are now computed in float64.  Reference: scipy.ndimage.correlate in float64, rounded half to even;
only outputs within 1e-7 of a tie (where float64 itself cannot tell) are left out.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.operations import Convolve
from convcli.streaming import stream_filter


def sixteen_bit(seed=0, shape=(300, 280)):
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.random(shape), 3)
    smooth = (smooth - smooth.min()) / np.ptp(smooth)
    return np.clip(smooth * 60000 + rng.normal(0, 900, shape) + 2000, 0, 65535).astype(np.uint16)


def rounded_reference(image, kernel, top=65535):
    exact = ndimage.correlate(image.astype(np.float64), kernel, mode="mirror")  # numpy reflect, convcli's default
    frac = exact - np.floor(exact)
    decided = np.abs(frac - 0.5) > 1e-7
    return np.clip(np.rint(exact), 0, top).astype(np.int64), decided


@pytest.mark.parametrize("method", ["direct", "separable", "fft", "auto"])
@pytest.mark.parametrize("sigma", [1.5, 4])
def test_16_bit_gaussian_to_16_bit_equals_the_float64_reference(method, sigma):
    image = sixteen_bit()
    kernel = convcli.kernel(f"gaussian:sigma={sigma}").matrix
    got = stream_filter(image, [Convolve(kernel, method=method)], depth="16", strip_rows=37).collect()
    want, decided = rounded_reference(image, kernel)
    assert decided.mean() > 0.999
    wrong = (got.astype(np.int64) != want) & decided
    assert not wrong.any(), f"{int(wrong.sum())} samples one level off"


def test_cli_16_bit_png_gaussian_equals_the_float64_reference(tmp_path):
    image = sixteen_bit(1, (512, 384))
    Image.fromarray(image).save(tmp_path / "in.png")
    result = CliRunner().invoke(app, ["apply", str(tmp_path / "in.png"), "-k", "gaussian:sigma=2",
                                      "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    got = np.asarray(Image.open(tmp_path / "out.png")).astype(np.int64)
    want, decided = rounded_reference(image, convcli.kernel("gaussian:sigma=2").matrix)
    assert not ((got != want) & decided).any()


def test_the_float_result_of_16_bit_input_stays_float32():
    image = sixteen_bit(2, (40, 30))
    assert stream_filter(image, [Convolve("gaussian:sigma=2")]).collect().dtype == np.float32
    assert stream_filter(image, [Convolve("gaussian:sigma=2")], depth="float").collect().dtype == np.float32
