"""Missing data on the streamed path: NaN propagate, nan="ignore", nan_fill and a mask, strip by strip.

The oracle is the whole-array engine call (``convcli.correlate(image, k, nan=..., mask=...)``, itself checked
against astropy and slow references in tests/test_nan.py): the image read only by rows (and the mask too) must
give its bytes, for every method, border, stride, dilation and strip height.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.engine import _fft
from convcli.engine._rows import image_stats, window_stats
from convcli.engine._window import StripCorrelation
from convcli.operations import Convolve
from convcli.streaming import stream_filter
from tests.whole_reference import RowsOf, correlate_in_strips

METHODS = ["auto", "direct", "separable", "fft"]
BORDERS = [{"border": "reflect"}, {"border": "wrap"}, {"border": "edge"}, {"border": "symmetric"},
           {"border": "constant", "border_value": 2.5}, {"border": "constant", "border_value": float("nan")}]
TREATMENTS = [{"nan": "propagate"}, {"nan": "ignore"}, {"nan": "ignore", "nan_fill": -3.0}, {"mask": True},
              {"mask": True, "nan_fill": 0.0}]


def holes(shape, seed, fraction=0.06, dtype=np.float32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.normal(4.0, 1.0, size=shape).astype(dtype)
    if not fraction:
        return image
    image[rng.random(shape) < fraction] = np.nan
    h, w = shape[:2]
    image[h // 3 : h // 3 + 6, w // 2 : w // 2 + 7] = np.nan  # a hole wider than some kernels
    image[0, 0] = np.inf
    return image


def kernel_of(seed: int, shape=(5, 4)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    col, row = np.hanning(shape[0] + 2)[1:-1], np.hanning(shape[1] + 2)[1:-1]
    return np.outer(col, row) + 0.3 * np.outer(rng.random(shape[0]), rng.random(shape[1]))  # rank 2, positive


def options(treatment: dict, shape, seed: int) -> dict:
    out = dict(treatment)
    if out.pop("mask", False):
        out["mask"] = (np.random.default_rng(seed + 1).random(shape[:2]) > 0.25).astype(np.uint8)
    return out


@pytest.fixture(autouse=True)
def small_fft_tiles(monkeypatch):
    monkeypatch.setattr(_fft, "TILE_OVERHEAD_UNITS", 0.0)  # many FFT tiles, so strips cut across them


@pytest.mark.parametrize("treatment", TREATMENTS, ids=lambda t: "-".join(f"{k}={v}" for k, v in t.items()))
@pytest.mark.parametrize("border", BORDERS, ids=lambda b: f"{b['border']}{b.get('border_value', '')}")
@pytest.mark.parametrize("method", METHODS)
def test_streamed_missing_data_equals_the_whole_call(method, border, treatment):
    image = holes((61, 47), seed=3)
    kernel = kernel_of(4)
    extra = options(treatment, image.shape, 3)
    whole = convcli.correlate(image, kernel, method=method, stride=(2, 1), dilation=(1, 2), **border, **extra)
    for step in (1, 5, 13):
        got = correlate_in_strips(image, kernel, step, lazy=True, method=method, stride=(2, 1), dilation=(1, 2),
                                  **border, **extra)
        np.testing.assert_array_equal(got, whole)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 40), w=st.integers(1, 30), channels=st.sampled_from([0, 1, 3]),
       dtype=st.sampled_from([np.float32, np.float64, np.uint8]), fraction=st.sampled_from([0.0, 0.1, 0.5]),
       kh=st.integers(1, 7), kw=st.integers(1, 6), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       method=st.sampled_from(METHODS), border=st.sampled_from(BORDERS), treatment=st.sampled_from(TREATMENTS),
       step=st.integers(1, 17), seed=st.integers(0, 10**6))
def test_any_geometry_streams_to_the_whole_bytes(h, w, channels, dtype, fraction, kh, kw, stride, dilation, method,
                                                 border, treatment, step, seed):
    shape = (h, w) if channels == 0 else (h, w, channels)
    image = holes(shape, seed, fraction=fraction if dtype != np.uint8 else 0.0, dtype=np.float64)
    if dtype == np.uint8:
        image = np.clip(image * 30, 0, 255).astype(np.uint8)
    else:
        image = image.astype(dtype)
    kernel = kernel_of(seed, (kh, kw))
    extra = options(treatment, shape, seed)
    geometry = {"stride": stride, "dilation": dilation, "method": method, "pad": "same"}
    whole = convcli.correlate(image, kernel, **geometry, **border, **extra)
    got = correlate_in_strips(image, kernel, step, lazy=True, **geometry, **border, **extra)
    np.testing.assert_array_equal(got, whole)


def test_the_mask_is_read_by_rows_never_whole():
    image = holes((300, 40), seed=1)
    mask = RowsOf((np.random.default_rng(2).random((300, 40)) > 0.3).astype(np.uint8))
    whole = convcli.correlate(image, np.ones((5, 5)), mask=mask.array, method="direct")
    got = correlate_in_strips(image, np.ones((5, 5)), 16, lazy=True, mask=mask, method="direct")
    np.testing.assert_array_equal(got, whole)
    assert max(b - a for a, b in mask.reads) <= 100  # a strip widened to whole bands (37 rows here), + halo


def test_a_finite_float_image_needs_no_finiteness_pass():
    """Propagate on a float image not known to be finite reads each row about once (no pass first)."""
    image = RowsOf(np.random.default_rng(0).random((400, 30)).astype(np.float32))
    strips = StripCorrelation(((*image.shape, 1), image.dtype, lambda a, b: image.read(a, b)[:, :, None]),
                              np.ones((5, 5)), method="direct")
    step = strips.unit  # as a chain asks: strips of whole units
    out = np.concatenate([strips.rows(i, min(i + step, 400)) for i in range(0, 400, step)])
    np.testing.assert_array_equal(out[..., 0], convcli.correlate(image.array, np.ones((5, 5)), method="direct"))
    assert sum(b - a for a, b in image.reads) <= 400 + (400 // step + 1) * 4


@pytest.mark.parametrize("fraction", [0.0, 0.05])
def test_streamed_stats_equal_the_whole_ones(fraction):
    image = holes((700, 333, 2), seed=5, fraction=fraction)
    for band in (1, 7, 256):
        got = window_stats(lambda a, b: image[a:b], 700, 333, band=band)
        want = image_stats(image)
        assert np.array_equal(np.array(got), np.array(want), equal_nan=True)
    if fraction:
        assert np.isnan(want[0]) and np.isnan(want[1])


@pytest.mark.parametrize("nan", ["propagate", "ignore"])
@pytest.mark.parametrize("fraction", [0.0, 0.05])
def test_auto_picks_the_same_method_streamed_as_whole(fraction, nan):
    """A 31x31 kernel (rank many): auto weighs the FFT, judged on NaN data exactly as the whole call judges it."""
    from convcli.engine._nan import runner
    from convcli.engine._plan import make_plan

    image = holes((200, 180), seed=2, fraction=fraction)
    kernel = np.random.default_rng(1).random((31, 31)) + 0.5
    plan = make_plan(image, kernel, flip=False, border="reflect", border_value=0.0, pad="same", stride=1,
                     dilation=1, anchor=None)
    whole = runner(plan, "auto", nan=nan).entry.name
    lazy = StripCorrelation(((200, 180, 1), image.dtype, lambda a, b: image[a:b, :, None]), kernel, nan=nan)
    assert lazy.method == whole
    got = correlate_in_strips(image, kernel, 23, lazy=True, nan=nan)
    np.testing.assert_array_equal(got, convcli.correlate(image, kernel, nan=nan))


def test_stream_filter_takes_a_mask_array_or_a_row_source():
    image = holes((90, 70), seed=8)
    mask = (np.random.default_rng(3).random((90, 70)) > 0.2).astype(np.uint8)
    ops = [Convolve("gaussian:sigma=2", nan="ignore", nan_fill=0.0)]
    want = convcli.correlate(image, convcli.kernel("gaussian:sigma=2").matrix, mask=mask, nan_fill=0.0)
    for given_mask in (mask, RowsOf(mask)):
        got = stream_filter(RowsOf(image), ops, mask=given_mask, strip_rows=7).collect()
        np.testing.assert_array_equal(got, want)


# --- through the CLI: a tiled TIFF read tile by tile gives the bytes of the same pixels given whole (.npy) -------


def apply(*args: str):
    return CliRunner().invoke(app, ["apply", *args, "-j", "1", "--force", "-q"])


def tiled(path, array: np.ndarray) -> str:
    import tifffile

    tifffile.imwrite(path, array, tile=(32, 32), compression="deflate")
    return str(path)


@pytest.mark.parametrize("case", ["propagate", "ignore", "mask", "finite"])
def test_cli_tiled_tiff_equals_npy(tmp_path, case):
    import tifffile

    rng = np.random.default_rng(11)
    if case == "mask":
        image = rng.integers(0, 65535, size=(300, 200), dtype=np.uint16)
        mask = (rng.random((300, 200)) > 0.2).astype(np.uint8)
        args = ["-k", "box:size=5", "--nan-fill", "0", "--mask", tiled(tmp_path / "mask.tif", mask)]
    else:
        image = holes((300, 200), seed=12, fraction=0.0 if case == "finite" else 0.05)
        kernel = "gaussian:sigma=2" if case == "ignore" else "box:size=5"
        args = ["-k", kernel, *(["--nan", "ignore"] if case == "ignore" else [])]
    np.save(tmp_path / "in.npy", image)
    tif = tiled(tmp_path / "in.tif", image)
    for source, out in ((str(tmp_path / "in.npy"), "whole.tif"), (tif, "tiled.tif")):
        result = apply(source, *args, "-o", str(tmp_path / out))
        assert result.exit_code == 0, result.output
    whole, streamed = tifffile.imread(tmp_path / "whole.tif"), tifffile.imread(tmp_path / "tiled.tif")
    assert whole.shape == image.shape
    np.testing.assert_array_equal(streamed, whole)
    if case in ("propagate", "ignore"):
        assert np.isnan(whole).any() == (case == "propagate")


@pytest.mark.parametrize("method", METHODS)
def test_a_colour_image_with_a_grey_mask_streams_exactly_through_blas_bands(method, monkeypatch):
    """A finite colour image: the whole call weighs with the mask's one channel, the strips (which cannot know the
    image is finite) with one per colour; the bytes agree, BLAS bands of the separable passes included."""
    from convcli.engine import _separable

    monkeypatch.setattr(_separable, "USE_GEMM", True)
    rng = np.random.default_rng(6)
    image = rng.random((700, 90, 3)).astype(np.float32)
    mask = (rng.random((700, 90)) > 0.2).astype(np.uint8)
    kernel = np.outer(np.hanning(23)[1:-1], np.hanning(23)[1:-1])
    whole = convcli.correlate(image, kernel, mask=mask, method=method)
    for step in (33, 100):
        np.testing.assert_array_equal(correlate_in_strips(image, kernel, step, lazy=True, mask=mask, method=method),
                                      whole)
