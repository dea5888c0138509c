"""``--border-value nan`` (issue 23): accepted, and the border is missing data, as the library's border_value=np.nan."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import convcli
from convcli.cli import app


def float64_reference(image, kernel, nan):
    """Correlation with a NaN constant border, float64, tap by tap: propagate or normalised (ignore)."""
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)
    if nan == "propagate":
        return (windows * kernel).sum(axis=(-2, -1))
    valid = np.isfinite(windows)
    num = (np.where(valid, windows, 0.0) * kernel).sum(axis=(-2, -1))
    den = (valid * kernel).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


@pytest.mark.parametrize("nan", ["ignore", "propagate"])
def test_cli_border_value_nan_equals_the_library(tmp_path, monkeypatch, nan):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    image = rng.normal(10.0, 2.0, (23, 31))
    image[8:11, 4:9] = np.nan
    np.save("in.npy", image)
    result = CliRunner().invoke(app, ["apply", "in.npy", "-k", "box:size=3", "--border", "constant",
                                      "--border-value", "nan", "--nan", nan, "--depth", "float", "-o", "out.npy"])
    assert result.exit_code == 0, result.output
    got = np.load("out.npy")
    kernel = np.full((3, 3), 1 / 9)
    library = convcli.correlate(image, kernel, border="constant", border_value=np.nan, nan=nan)
    want = float64_reference(image, kernel, nan)
    assert np.array_equal(np.isnan(got), np.isnan(library)) and np.array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[0]).all() == (nan == "propagate")  # the border reaches the first row's windows
    seen = ~np.isnan(want)
    np.testing.assert_allclose(got[seen], library[seen], rtol=1e-6)
    np.testing.assert_allclose(got[seen], want[seen], rtol=1e-6)


@pytest.mark.parametrize("value", ["inf", "-inf", "abc"])
def test_cli_border_value_still_refuses_infinity_and_words(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", np.ones((4, 4)))
    result = CliRunner().invoke(app, ["apply", "in.npy", "-k", "box:size=3", "--border", "constant",
                                      "--border-value", value, "-o", "out.npy"])
    assert result.exit_code == 2
