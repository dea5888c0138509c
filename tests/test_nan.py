"""Missing data (issue 16, part 2): exact NaN propagation and normalised convolution (``nan="ignore"``).

References: a slow, obvious window count (numpy.pad of the NaN indicator, one shifted view per non-zero tap),
astropy.convolution.convolve(nan_treatment="interpolate", normalize_kernel=True) for the borders astropy has,
and a slow normalised convolution (numpy.pad, one view per tap) for the others.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.errors import ParameterError, ShapeError
from tests.whole_reference import correlate_in_strips

METHODS = ["auto", "direct", "separable", "fft"]
FORCED = ["direct", "separable", "fft"]
GEOMETRY = [(1, 1), (2, 1), (1, 2), (3, 2)]  # (stride, dilation)


def apply(*args: str):
    return CliRunner().invoke(app, ["apply", *args, "-j", "1", "--force"])


def issue_image(seed: int = 1, fraction: float = 0.05) -> np.ndarray:
    """The issue's example: 200x300 float32, ``fraction`` NaN pixels and a 20x20 hole."""
    rng = np.random.default_rng(seed)
    image = rng.random((200, 300)).astype(np.float32)
    image[rng.random(image.shape) < fraction] = np.nan
    image[80:100, 140:160] = np.nan
    return image


def same_pads(k: int, d: int) -> tuple[int, int]:
    total = d * (k - 1)
    return total // 2, total - total // 2


def taps(padded: np.ndarray, kernel: np.ndarray, out_hw, stride: int, dilation: int):
    """(weight, view) for every non-zero tap: the view of ``padded`` that tap reads for every output."""
    ho, wo = out_hw
    for a, b in zip(*np.nonzero(kernel), strict=True):
        r, c = a * dilation, b * dilation
        yield kernel[a, b], padded[r : r + (ho - 1) * stride + 1 : stride, c : c + (wo - 1) * stride + 1 : stride]


def out_size(n: int, k: int, stride: int, dilation: int) -> int:
    return (n - 1) // stride + 1  # pad "same"


def nan_windows(image: np.ndarray, kernel: np.ndarray, *, stride=1, dilation=1, border="reflect",
                border_value=0.0) -> np.ndarray:
    """Slow reference: the outputs whose window (non-zero taps) holds a NaN (pad 'same')."""
    kh, kw = kernel.shape
    pads = (same_pads(kh, dilation), same_pads(kw, dilation))
    bad = np.isnan(image).astype(np.float64)
    if border == "constant":
        padded = np.pad(bad, pads, mode="constant", constant_values=float(np.isnan(border_value)))
    else:
        padded = np.pad(bad, pads, mode=border)
    out_hw = (out_size(image.shape[0], kh, stride, dilation), out_size(image.shape[1], kw, stride, dilation))
    found = np.zeros(out_hw, bool)
    for _, view in taps(padded, kernel, out_hw, stride, dilation):
        found |= view > 0
    return found


def slow_ignore(image, kernel, *, border="reflect", border_value=0.0, stride=1, dilation=1, mask=None):
    """Slow reference of normalised convolution (correlation, pad 'same'); NaN where nothing valid is seen."""
    kh, kw = kernel.shape
    pads = (same_pads(kh, dilation), same_pads(kw, dilation))
    valid = np.isfinite(image) if mask is None else np.isfinite(image) & (mask != 0)
    data = np.where(valid, image, 0).astype(np.float64)
    if border == "constant":
        finite = np.isfinite(border_value)
        pd = np.pad(data, pads, mode="constant", constant_values=border_value if finite else 0.0)
        pv = np.pad(valid.astype(np.float64), pads, mode="constant", constant_values=1.0 if finite else 0.0)
    else:
        pd, pv = np.pad(data, pads, mode=border), np.pad(valid.astype(np.float64), pads, mode=border)
    out_hw = (out_size(image.shape[0], kh, stride, dilation), out_size(image.shape[1], kw, stride, dilation))
    num, den, seen = np.zeros(out_hw), np.zeros(out_hw), np.zeros(out_hw)
    for (w, vd), (_, vv) in zip(taps(pd, kernel, out_hw, stride, dilation), taps(pv, kernel, out_hw, stride, dilation),
                                strict=True):
        num += w * vd
        den += w * vv
        seen += vv
    if (kernel < 0).any():  # rounding noise of a signed kernel's weights is no weight (float64 work)
        seen[np.abs(den) <= 1e-12 * np.abs(kernel).sum()] = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(seen > 0, num / den, np.nan)


def holey(shape=(60, 70), seed=0, fraction=0.08, dtype=np.float64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.normal(5.0, 2.0, size=shape)
    image[rng.random(shape) < fraction] = np.nan
    image[20:23, 30:34] = np.nan  # a hole smaller than the kernels: every window still sees valid pixels
    return image.astype(dtype)


def kernels() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[-2:3, -3:4]
    return {
        "gauss5x7": np.exp(-(x**2 + y**2) / 4.0),
        "random7x5": rng.random((7, 5)) + 0.1,
        "negative5x5": np.array([[-0.1, 0.2, 0.3, 0.2, -0.1]]).T @ np.array([[0.1, 0.5, 1.0, 0.5, 0.1]]) + 0.02,
    }


# --- 1. propagate: exactly the windows that hold a NaN --------------------------------------------------------


def gemm_kernel() -> np.ndarray:
    h = np.hanning(43)[1:-1]
    return np.outer(h, h)  # its 1-D passes are banded BLAS products (the cost model prefers them)


PROPAGATE_KERNELS = {
    "box5": np.ones((5, 5)) / 25,
    "hann41": gemm_kernel(),
    "rank2_zeros": np.array([[0.0, 1, 2], [1, 0, 1], [2, 1, 0]]),
    "sparse5": np.where(np.random.default_rng(4).random((5, 5)) < 0.5, np.random.default_rng(5).normal(size=(5, 5)), 0),
}


@pytest.mark.parametrize("geometry", GEOMETRY, ids=lambda g: f"s{g[0]}d{g[1]}")
@pytest.mark.parametrize("name", PROPAGATE_KERNELS)
@pytest.mark.parametrize("method", METHODS)
def test_propagate_marks_exactly_the_windows_holding_nan(method, name, geometry):
    kernel = PROPAGATE_KERNELS[name]
    stride, dilation = geometry
    image = issue_image(fraction=0.05 if name != "hann41" else 0.0005)
    out = convcli.correlate(image, kernel, method=method, stride=stride, dilation=dilation)
    want = nan_windows(image, kernel, stride=stride, dilation=dilation)
    assert np.isnan(out).sum() == want.sum()
    assert np.array_equal(np.isnan(out), want)


def test_propagate_keeps_the_values_outside_the_nan_windows():
    image = issue_image(fraction=0.001)
    kernel = PROPAGATE_KERNELS["sparse5"]
    direct = convcli.correlate(image, kernel, method="direct")
    for method in ("separable", "fft"):
        out = convcli.correlate(image, kernel, method=method)
        clean = ~np.isnan(direct)
        assert np.array_equal(np.isnan(out), ~clean)
        assert np.abs(out[clean] - direct[clean]).max() <= 1e-5 * np.abs(kernel).sum()


@pytest.mark.parametrize("method", METHODS)
def test_issue_example_through_convcli_apply(tmp_path, method):
    """The issue's numbers: a 5x5 box on 200x300 float32 with 5 % NaN and a 20x20 hole (42,725 there)."""
    image = issue_image()
    np.save(tmp_path / "in.npy", image)
    result = apply(str(tmp_path / "in.npy"), "-k", "box:size=5", "--method", method, "-o", str(tmp_path / "o.npy"))
    assert result.exit_code == 0, result.output
    out = np.load(tmp_path / "o.npy")
    want = nan_windows(image, np.ones((5, 5)))
    assert int(np.isnan(out).sum()) == int(want.sum())
    assert np.array_equal(np.isnan(out), want)


@pytest.mark.parametrize("method", FORCED)
def test_propagate_in_strips_and_channels(method):
    image = np.stack([issue_image(seed) for seed in (1, 2)], axis=2)
    kernel = PROPAGATE_KERNELS["rank2_zeros"]
    whole = convcli.correlate(image, kernel, method=method, stride=2)
    for lazy in (False, True):
        strips = correlate_in_strips(image, kernel, 7, lazy=lazy, method=method, stride=2)
        np.testing.assert_array_equal(strips, whole)
    for c in range(2):
        assert np.array_equal(np.isnan(whole[..., c]), nan_windows(image[..., c], kernel, stride=2))


@pytest.mark.parametrize("method", FORCED)
def test_a_nan_border_marks_the_windows_that_reach_it(method):
    image = np.random.default_rng(0).random((40, 50))
    out = convcli.correlate(image, np.ones((5, 3)), border="constant", border_value=np.nan, method=method)
    assert np.array_equal(np.isnan(out), nan_windows(image, np.ones((5, 3)), border="constant",
                                                     border_value=np.nan))


# --- 2. ignore: normalised convolution, astropy's interpolate ---------------------------------------------------

# astropy boundary -> convcli border (and border_value); None -> pad="valid" (astropy leaves the edges 0)
ASTROPY_BOUNDARIES = {
    "fill0": ({"boundary": "fill", "fill_value": 0.0}, {"border": "constant", "border_value": 0.0}),
    "fill2.5": ({"boundary": "fill", "fill_value": 2.5}, {"border": "constant", "border_value": 2.5}),
    "fillnan": ({"boundary": "fill", "fill_value": np.nan}, {"border": "constant", "border_value": np.nan}),
    "extend": ({"boundary": "extend"}, {"border": "edge"}),
    "wrap": ({"boundary": "wrap"}, {"border": "wrap"}),
    "none": ({"boundary": None}, {"pad": "valid"}),
}


def astropy_interpolate(image, kernel, **boundary):
    from astropy.convolution import convolve as astropy_convolve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return astropy_convolve(image, kernel, nan_treatment="interpolate", normalize_kernel=True, **boundary)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("method", [*FORCED, "auto"])
@pytest.mark.parametrize("kernel_name", list(kernels()))
@pytest.mark.parametrize("boundary", ASTROPY_BOUNDARIES)
def test_ignore_equals_astropy_interpolate(boundary, kernel_name, method, stride):
    kernel = kernels()[kernel_name]
    image = holey()
    theirs, ours = ASTROPY_BOUNDARIES[boundary]
    want = astropy_interpolate(image, kernel, **theirs)
    if boundary == "none":
        kh, kw = (s // 2 for s in kernel.shape)
        want = want[kh:-kh, kw:-kw]
    want = want[::stride, ::stride]
    got = convcli.convolve(image, kernel, nan="ignore", method=method, stride=stride, **ours)  # astropy convolves
    assert got.shape == want.shape
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("geometry", GEOMETRY, ids=lambda g: f"s{g[0]}d{g[1]}")
@pytest.mark.parametrize("method", FORCED)
@pytest.mark.parametrize("border", ["reflect", "symmetric", "edge", "wrap", "constant"])
def test_ignore_equals_the_slow_reference_for_every_border(border, method, geometry):
    stride, dilation = geometry
    image = holey(seed=1)
    image[40:52, 5:17] = np.nan  # larger than the kernel: some windows see nothing valid
    kernel = kernels()["negative5x5"][:, :4]  # even width, negative weights, positive sum
    got = convcli.correlate(image, kernel, nan="ignore", border=border, border_value=-1.0, method=method,
                            stride=stride, dilation=dilation)
    want = slow_ignore(image, kernel, border=border, border_value=-1.0, stride=stride, dilation=dilation)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(want).any()
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-8, atol=1e-9)


def test_ignore_fft_on_float32_stays_within_1e4_beside_holes():
    """float32 transforms lose ~0.4 % beside holes; the engine transforms in float64."""
    rng = np.random.default_rng(7)
    image = (rng.random((300, 400)) * 1000 + 100).astype(np.float32)
    image[rng.random(image.shape) < 0.02] = np.nan
    image[100:160, 200:280] = np.nan
    kernel = convcli.kernel("gaussian:sigma=6").matrix
    got = convcli.correlate(image, kernel, nan="ignore", method="fft")
    assert got.dtype == np.float32
    want = slow_ignore(image.astype(np.float64), kernel)
    seen = ~np.isnan(want)
    assert np.array_equal(np.isnan(got), ~seen)
    assert (np.abs(got[seen] - want[seen]) / np.abs(want[seen])).max() <= 1e-4


def test_nan_fill_is_used_where_nothing_valid_is_seen():
    image = holey()
    image[:, 30:45] = np.nan  # wider than the kernel
    kernel = np.ones((3, 5))
    default = convcli.correlate(image, kernel, nan="ignore")
    filled = convcli.correlate(image, kernel, nan="ignore", nan_fill=-7.0)
    empty = np.isnan(default)
    assert empty[:, 33:42].all() and not empty[:, :30].any()
    assert (filled[empty] == -7.0).all()
    assert np.array_equal(filled[~empty], default[~empty])


def test_ignore_changes_the_result_and_propagate_is_the_default():
    image = holey()
    kernel = np.ones((5, 5))
    assert np.array_equal(np.isnan(convcli.correlate(image, kernel)),
                          np.isnan(convcli.correlate(image, kernel, nan="propagate")))
    ignored = convcli.correlate(image, kernel, nan="ignore")
    assert np.isfinite(ignored).all() and np.isnan(convcli.correlate(image, kernel)).any()


def test_mask_on_an_integer_image_equals_nan_in_a_float_image():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(50, 60, 3), dtype=np.uint8)
    mask = (rng.random((50, 60)) > 0.1).astype(np.uint8) * 255
    holes = image.astype(np.float32)
    holes[mask == 0] = np.nan
    for method in FORCED:
        got = convcli.correlate(image, np.ones((5, 5)), mask=mask, method=method)
        want = convcli.correlate(holes, np.ones((5, 5)), nan="ignore", method=method)
        np.testing.assert_allclose(got, want, rtol=2e-6)
        np.testing.assert_allclose(got[..., 0], slow_ignore(holes[..., 0], np.ones((5, 5))), rtol=2e-6)


def test_ignore_in_strips_equals_the_whole_result():
    image = holey((90, 80))
    mask = np.random.default_rng(1).random((90, 80)) > 0.2
    for method in FORCED:
        whole = convcli.correlate(image, kernels()["random7x5"], nan="ignore", mask=mask, method=method, stride=2)
        for lazy in (False, True):
            strips = correlate_in_strips(image, kernels()["random7x5"], 4, lazy=lazy, nan="ignore", mask=mask,
                                         method=method, stride=2)
            np.testing.assert_array_equal(strips, whole)


def test_ignore_refuses_zero_sum_kernels_and_bad_arguments():
    image = holey()
    with pytest.raises(ParameterError, match=r"kernel sums to 0; use nan='propagate'"):
        convcli.correlate(image, [[1, 0, -1]], nan="ignore")
    with pytest.raises(ParameterError, match=r"nan must be 'propagate' or 'ignore', got 'omit'"):
        convcli.correlate(image, np.ones((3, 3)), nan="omit")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"nan_fill must be a number, got 'x'"):
        convcli.correlate(image, np.ones((3, 3)), nan="ignore", nan_fill="x")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"mask is 70x61 \(width x height\) but the image is 70x60"):
        convcli.correlate(image, np.ones((3, 3)), mask=np.ones((61, 70)))


def test_the_pipeline_streams_with_a_mask():
    from convcli.depth import to_depth
    from convcli.operations import Convolve
    from convcli.streaming import stream_filter

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(120, 90), dtype=np.uint8)
    mask = rng.random(image.shape) > 0.3
    ops = [Convolve("box:size=5", nan="ignore", nan_fill=0.0)]
    streamed = stream_filter(image, ops, depth="8", mask=mask).collect()
    whole = to_depth(stream_filter(image, ops, mask=mask).collect(), "8", source_max=255)
    np.testing.assert_array_equal(streamed, whole)


# --- 3. the command line ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_cli_nan_ignore_equals_the_library(tmp_path, method):
    image = holey(dtype=np.float32)
    np.save(tmp_path / "in.npy", image)
    result = apply(str(tmp_path / "in.npy"), "-k", "gaussian:sigma=1", "--nan", "ignore", "--method", method,
                   "--stride", "2", "-o", str(tmp_path / "o.npy"))
    assert result.exit_code == 0, result.output
    want = convcli.correlate(image, convcli.kernel("gaussian:sigma=1").matrix, nan="ignore", method=method, stride=2)
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), want, rtol=1e-5)


def test_cli_mask_on_an_8_bit_image(tmp_path):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(40, 50), dtype=np.uint8)
    mask = np.where(rng.random((40, 50)) > 0.2, 255, 0).astype(np.uint8)
    mask[10:25, 10:25] = 0  # a hole wider than the kernel: --nan-fill
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    result = apply(str(tmp_path / "in.png"), "-k", "box:size=5", "--mask", str(tmp_path / "mask.png"),
                   "--nan-fill", "7", "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 0, result.output
    holes = image.astype(np.float64)
    holes[mask == 0] = np.nan
    want = slow_ignore(holes, np.ones((5, 5)))
    want = np.where(np.isnan(want), 7, want)
    got = np.asarray(Image.open(tmp_path / "o.png"))
    assert np.abs(got.astype(int) - np.clip(np.round(want), 0, 255)).max() <= 1  # rounding ties of float32
    assert (got[15:20, 15:20] == 7).all()


def test_cli_refuses_bad_missing_data_options(tmp_path):
    image = holey(dtype=np.float32)
    np.save(tmp_path / "in.npy", image)
    np.save(tmp_path / "small.npy", np.ones((10, 20)))
    src, out = str(tmp_path / "in.npy"), str(tmp_path / "o.npy")
    bad = apply(src, "-k", "box", "--nan", "omit", "-o", out)
    assert bad.exit_code == 2 and "--nan must be one of propagate, ignore, got 'omit'" in bad.output
    zero = apply(src, "-k", "sobel:axis=x", "--nan", "ignore", "-o", out)
    assert zero.exit_code == 2 and "kernel 'sobel:axis=x' sums to 0; use --nan propagate" in zero.output
    missing = apply(src, "-k", "box", "--mask", str(tmp_path / "nope.png"), "-o", out)
    assert missing.exit_code == 2 and "--mask" in missing.output and "no such file" in missing.output
    size = apply(src, "-k", "box", "--mask", str(tmp_path / "small.npy"), "-o", out)
    assert size.exit_code == 1
    assert "small.npy is 20x10 but the image is 70x60 (width x height)" in size.output
    assert not (tmp_path / "o.npy").exists()


def test_dry_run_and_json_show_the_nan_treatment(tmp_path):
    np.save(tmp_path / "in.npy", holey(dtype=np.float32))
    np.save(tmp_path / "m.npy", np.ones((60, 70)))
    src, out = str(tmp_path / "in.npy"), str(tmp_path / "o.npy")
    dry = apply(src, "-k", "box", "--nan", "ignore", "--nan-fill", "0", "-o", out, "--dry-run")
    assert dry.exit_code == 0 and "correlate box (3x3), nan ignore, fill 0" in dry.output
    report = apply(src, "-k", "box", "--mask", str(tmp_path / "m.npy"), "-o", out, "--json")
    assert report.exit_code == 0, report.output
    step = json.loads(report.stdout)["files"][0]["steps"][0]["operation"]
    assert step == f"correlate box (3x3), nan ignore, mask {tmp_path / 'm.npy'}"
    plain = apply(src, "-k", "box", "-o", out, "--dry-run")
    assert "nan" not in plain.output


def test_recipe_notes_a_nan_fill_without_ignore():
    from convcli.recipe import build_recipe

    recipe = build_recipe(kernels=["box"], nan_fill=0.0, outdir="o")
    assert recipe.notes == ("--nan-fill 0 has no effect with --nan propagate; it is the value --nan ignore and "
                            "--mask give where no valid pixel is seen",)
    assert all(not op.normalized for op in recipe.operations)
    assert all(op.normalized for op in build_recipe(kernels=["box", "box"], nan="ignore", outdir="o").operations)


def test_cli_mask_on_an_8_bit_image_equals_astropy(tmp_path):
    """The issue's "done when": --mask on an 8-bit image plus a mask file is astropy's interpolate (mask True = bad)."""
    rng = np.random.default_rng(8)
    image = rng.integers(0, 256, size=(40, 50), dtype=np.uint8)
    valid = rng.random((40, 50)) > 0.25
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(valid.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    kernel = kernels()["random7x5"]
    np.save(tmp_path / "k.npy", kernel)
    result = apply(str(tmp_path / "in.png"), "-k", str(tmp_path / "k.npy"), "--flip", "--border", "edge",
                   "--mask", str(tmp_path / "mask.png"), "--depth", "float", "-o", str(tmp_path / "o.npy"))
    assert result.exit_code == 0, result.output
    want = astropy_interpolate(image.astype(np.float64), kernel, boundary="extend", mask=~valid) / 255
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), want, rtol=2e-6, atol=1e-7)


def test_missing_data_and_translucent_alpha_are_refused():
    from convcli.operations import Convolve
    from convcli.streaming import stream_filter

    rgba = np.full((8, 8, 4), 200, np.uint8)
    rgba[:4, :, 3] = 0
    with pytest.raises(ParameterError, match=r"cannot be combined with an alpha channel that is not fully opaque"):
        stream_filter(rgba, [Convolve("box", nan="ignore")], alpha=True).collect()
    rgba[..., 3] = 255  # opaque: the colour is filtered as without alpha
    out = stream_filter(rgba, [Convolve("box")], alpha=True, mask=np.ones((8, 8))).collect()
    assert out.shape == (8, 8, 4)
    with pytest.raises(ParameterError, match=r"a mask applies to the first operation, which must be a convolution"):
        stream_filter(rgba[..., 0], [convcli.Activate("relu")], mask=np.ones((8, 8))).collect()
