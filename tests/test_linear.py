"""Gamma-correct filtering (issue 16, part 1): ``convcli apply --linear`` and ``linear=True`` in the library.

The references decode and encode with the IEC 61966-2-1 formulas written out here,
one value at a time in float64 (``_decode_one``/``_encode_one``), and filter with
SciPy's ndimage in float64; they share no code with :mod:`convcli.colour`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png"]


# --- the standard, written out ------------------------------------------------------


def _decode_one(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else math.pow((c + 0.055) / 1.055, 2.4)


def _encode_one(v: float) -> float:
    """Encoding, extended to negative values as convcli documents: f(-x) = -f(x)."""
    if v < 0:
        return -_encode_one(-v)
    return 12.92 * v if v <= 0.0031308 else 1.055 * math.pow(v, 1 / 2.4) - 0.055


def ref_decode(samples: np.ndarray, top: float) -> np.ndarray:
    """Linear light 0..1 of integer samples: every level once, through the formula."""
    levels = np.array([_decode_one(v / top) for v in range(int(top) + 1)])
    return levels[samples]


def ref_encode(linear: np.ndarray) -> np.ndarray:
    """Encoded 0..1 values of linear light, one value at a time."""
    flat = [_encode_one(float(v)) for v in np.asarray(linear, dtype=np.float64).ravel()]
    return np.array(flat).reshape(np.shape(linear))


def ref_correlate(x: np.ndarray, matrix) -> np.ndarray:
    """float64 correlation with numpy's 'reflect' border (SciPy's 'mirror'), 'same' size."""
    k = np.asarray(matrix, dtype=np.float64)
    if x.ndim == 3:
        k = k[:, :, None]
    return ndimage.correlate(x.astype(np.float64), k, mode="mirror")


# --- helpers --------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(app, ["apply", *args])


def load(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)
    with Image.open(path) as image:
        return np.array(image)


def photo(name: str) -> np.ndarray:
    return load(SAMPLES / name)


def checkerboard(size: int = 32) -> np.ndarray:
    return (np.indices((size, size)).sum(axis=0) % 2 * 255).astype(np.uint8)


def rgba_image() -> np.ndarray:
    """A crop of coffee.png under an alpha ramp: transparent on the left, opaque on the right."""
    rgb = photo("coffee.png")[100:228, 200:360]
    rows, cols = np.indices(rgb.shape[:2])
    alpha = ((cols * 7 + rows * 3) % 256).astype(np.uint8)
    alpha[:, :40] = 0
    alpha[:, 120:] = 255
    return np.dstack([rgb, alpha])


def pixels_hash(path: Path) -> str:
    arr = load(path)
    return hashlib.sha256(f"{arr.dtype}{arr.shape}".encode() + np.ascontiguousarray(arr).tobytes()).hexdigest()


def within_half_a_level(out: np.ndarray, exact: np.ndarray) -> float:
    """The largest distance of the written samples from the exact (unrounded) result, in output levels."""
    worst = float(np.abs(out.astype(np.float64) - exact).max())
    assert worst <= 0.5 + 1e-9, worst
    return worst


# --- the checkerboard of the issue ----------------------------------------------------


def test_checkerboard_blurs_to_188_in_linear_light_and_128_without(tmp_path):
    Image.fromarray(checkerboard()).save(tmp_path / "check.png")
    for flags, value in (([], 128), (["--linear"], 188)):
        out = tmp_path / f"out{value}.png"
        result = invoke(str(tmp_path / "check.png"), "-k", "box:size=2", *flags, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert np.unique(load(out)).tolist() == [value]
    assert round(_encode_one(0.5) * 255) == 188


# --- real photographs against the float64 reference -----------------------------------

KERNELS = {"astronaut.png": "gaussian:sigma=2", "camera.png": "box:size=5", "chelsea.png": "gaussian:sigma=1.5",
           "coffee.png": "gaussian:sigma=3"}


@pytest.mark.parametrize("depth", ["8", "16"])
@pytest.mark.parametrize("name", PHOTOS)
def test_photographs_match_the_float64_reference_within_half_a_level(name, depth, tmp_path):
    from convcli import kernel

    spec = KERNELS[name]
    out = tmp_path / ("out.png" if depth == "8" else "out.npy")
    result = invoke(str(SAMPLES / name), "-k", spec, "--linear", "--depth", depth, "-o", str(out))
    assert result.exit_code == 0, result.output
    source = photo(name)
    exact = ref_encode(ref_correlate(ref_decode(source, 255), kernel(spec).matrix))
    got = load(out)
    assert got.dtype == (np.uint8 if depth == "8" else np.uint16) and got.shape == source.shape
    within_half_a_level(got, exact * (255 if depth == "8" else 65535))
    if depth == "8":  # and it is not what filtering the encoded samples gives
        plain = tmp_path / "plain.png"
        assert invoke(str(SAMPLES / name), "-k", spec, "-o", str(plain)).exit_code == 0
        assert np.abs(load(plain).astype(int) - got).max() >= 5


def test_16_bit_inputs_decode_from_their_normalised_values(tmp_path):
    from convcli import kernel

    ramp = photo("ramp16.png")  # a real 16-bit gray PNG
    low_bits = (np.arange(451) * 37 % 256).astype(np.uint16)[:, None]  # 16 significant bits
    colour = photo("chelsea.png").astype(np.uint16) * 256 + low_bits
    np.save(tmp_path / "chelsea16.npy", colour)
    for path, source in ((SAMPLES / "ramp16.png", ramp), (tmp_path / "chelsea16.npy", colour)):
        out = tmp_path / f"{path.stem}_lin{path.suffix}"
        assert invoke(str(path), "-k", "gaussian:sigma=2", "--linear", "-o", str(out)).exit_code == 0
        got = load(out)
        assert got.dtype == np.uint16
        exact = ref_encode(ref_correlate(ref_decode(source, 65535), kernel("gaussian:sigma=2").matrix))
        within_half_a_level(got, exact * 65535)


def test_float_inputs_are_encoded_values_in_0_to_1(tmp_path):
    from convcli import kernel

    source = photo("coffee.png")[:200, :300].astype(np.float32) / 255
    np.save(tmp_path / "f.npy", source)
    assert invoke(str(tmp_path / "f.npy"), "-k", "box:size=3", "--linear", "-o", str(tmp_path / "o.npy")).exit_code == 0
    got = load(tmp_path / "o.npy")
    assert got.dtype == np.float32  # float in, float of the same type out
    linear = np.vectorize(_decode_one)(source.astype(np.float64))
    np.testing.assert_allclose(got, ref_encode(ref_correlate(linear, kernel("box:size=3").matrix)), atol=1e-6)


# --- unchanged without --linear -----------------------------------------------------

#: pixel hashes of the outputs of the code before issue 16 (/tmp/base12 with its own venv, same commands)
UNCHANGED = {
    "gaussian_rgb": ("astronaut.png", ["-k", "gaussian:sigma=3"], ".png",
                     "e962e78c4c6296b01ac3bc071dbb78d0ef7483e9550dd9fdb7b25291c46d0fb9"),
    "sobel_gray_abs": ("camera.png", ["-k", "sobel:axis=both", "--range", "abs"], ".png",
                       "0c832bf0584ab1896f3414cd6fa6769829ec654a276997b43b6b3800df2ebd9e"),
    "box_stride_pool": ("coffee.png", ["-k", "box:size=5", "--stride", "2", "--pool", "mean"], ".png",
                        "6e48ef709e0041c108dd9af9876409eff0203b4bd953eef45e470dbf3adf15ce"),
    "ramp16": ("ramp16.png", ["-k", "gaussian:sigma=1.5"], ".png",
               "e0c283469653cb2c256796821d35a6d849f159fa907e56ff8842cf3f70b3a066"),
    "rgba_alpha": ("rgba.png", ["-k", "gaussian:sigma=2"], ".png",
                   "885bad1028e068d2adfc58a854c4a5cb30a0d95310f04e5f4ba7dec37b020b03"),
    "sharpen16_npy": ("chelsea.png", ["-k", "sharpen", "--depth", "16"], ".npy",
                      "0f6cf7133212f856c035a3b302d24cb46f5adde311c209f7124fad39f9f26cd3"),
    "gray_offset": ("chelsea.png", ["-k", "sobel:axis=x", "--channels", "gray", "--gain", "0.5", "--offset", "128"],
                    ".png", "cb8607ccbb0bedfae3d8f87d2ca8e09ed70c9379f8d1719230bddf442ae2d273"),
}


@pytest.mark.parametrize("case", sorted(UNCHANGED))
def test_without_linear_the_pixels_are_unchanged(case, tmp_path):
    source, args, ext, digest = UNCHANGED[case]
    if source == "rgba.png":
        Image.fromarray(rgba_image()).save(tmp_path / "rgba.png")
    path = tmp_path / source if source == "rgba.png" else SAMPLES / source
    out = tmp_path / f"{case}{ext}"
    assert invoke(str(path), *args, "-o", str(out)).exit_code == 0
    assert pixels_hash(out) == digest


# --- alpha, channels, zero-sum kernels ------------------------------------------------


def test_alpha_weighted_filtering_premultiplies_in_linear_light(tmp_path):
    from convcli import kernel

    rgba = rgba_image()
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    result = invoke(str(tmp_path / "rgba.png"), "-k", "gaussian:sigma=2", "--linear", "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 0, result.output
    got = load(tmp_path / "o.png")
    k = kernel("gaussian:sigma=2").matrix
    a = rgba[..., 3].astype(np.float64) / 255  # alpha is never transfer-coded
    lin = ref_decode(rgba[..., :3], 255)
    num, den = ref_correlate(lin * a[..., None], k), ref_correlate(a, k)
    safe = np.where(den > 0, den, 1)[..., None]
    colour = np.where(den[..., None] > 1e-12, ref_encode(num / safe) * 255, 0)
    within_half_a_level(got[..., 3], den * 255)
    seen = den > 1e-6  # where alpha reaches: the colour of the visible pixels only, in linear light
    within_half_a_level(got[..., :3][seen], colour[seen])
    # the opaque part equals the RGB result
    opaque = np.ascontiguousarray(rgba[:, 120:, :3])
    Image.fromarray(opaque).save(tmp_path / "rgb.png")
    Image.fromarray(rgba[:, 120:]).save(tmp_path / "opaque.png")
    for name in ("rgb", "opaque"):
        assert invoke(str(tmp_path / f"{name}.png"), "-k", "gaussian:sigma=2", "--linear",
                      "-o", str(tmp_path / f"{name}_o.png")).exit_code == 0
    assert np.array_equal(load(tmp_path / "opaque_o.png")[..., :3], load(tmp_path / "rgb_o.png"))


def test_gray_images_and_channels_gray_filter_linear_values():
    from convcli import kernel
    from convcli.operations import Convolve
    from convcli.streaming import stream_filter

    camera = photo("camera.png")
    ops = [Convolve(kernel("box:size=3"))]
    exact = ref_encode(ref_correlate(ref_decode(camera, 255), kernel("box:size=3").matrix)) * 255
    np.testing.assert_allclose(stream_filter(camera, ops, linear=True).collect(), exact, atol=1e-9)
    rgb = photo("chelsea.png")[:64, :64]
    lin = ref_decode(rgb, 255)
    luma = lin[..., 0] * 0.299 + lin[..., 1] * 0.587 + lin[..., 2] * 0.114
    want = ref_encode(ref_correlate(luma, kernel("box:size=3").matrix)) * 255
    np.testing.assert_allclose(stream_filter(rgb, ops, channels="gray", linear=True).collect(), want, atol=1e-9)


def test_zero_sum_kernels_are_computed_on_linear_values_and_encoded_sign_preserving(tmp_path):
    from convcli import kernel
    from convcli.operations import Convolve
    from convcli.streaming import stream_filter

    camera = photo("camera.png")
    response = ref_correlate(ref_decode(camera, 255), kernel("sobel:axis=x").matrix)
    signed = ref_encode(response) * 255
    got = stream_filter(camera, [Convolve(kernel("sobel:axis=x"))], linear=True).collect()
    assert (got < 0).any() and (got > 255).any()
    np.testing.assert_allclose(got, signed, atol=1e-8)
    np.testing.assert_allclose(got[got < 0], -ref_encode(-response[got < 0]) * 255, atol=1e-8)
    for flags, exact in ((["--range", "abs"], np.abs(signed)), (["--gain", "0.5", "--offset", "50%"],
                                                                 0.5 * signed + 127.5)):
        out = tmp_path / "edges.png"
        assert invoke(str(SAMPLES / "camera.png"), "-k", "sobel:axis=x", "--linear", *flags, "-o", str(out),
                      "-f").exit_code == 0
        within_half_a_level(load(out), np.clip(exact, 0, 255))


# --- streamed and whole, library and command line -------------------------------------

STREAM_CASES = [
    (["gaussian:sigma=3"], [], {}),
    (["sobel:axis=y"], ["relu"], {"gain": 0.5, "offset": 128.0}),
    (["0 -1 0; -1 5 -1; 0 -1 0"], [], {}),
    (["sobel:axis=x"], [], {"range_mode": "abs"}),
    (["log:sigma=2"], ["sigmoid"], {}),
]


@pytest.mark.parametrize(("specs", "acts", "kw"), STREAM_CASES, ids=[str(i) for i in range(len(STREAM_CASES))])
@pytest.mark.parametrize("shape", [(1400, 90), (1300, 70, 3)], ids=["gray", "rgb"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_streamed_equals_whole_in_linear_light(specs, acts, kw, shape, dtype, monkeypatch):
    import convcli.streaming as streaming
    from convcli import kernel
    from convcli.engine import _fft
    from convcli.operations import Activate, Convolve
    from convcli.streaming import stream_filter
    from tests.whole_reference import whole_to_depth

    monkeypatch.setattr(streaming, "STRIP_ELEMENTS", 4096)  # many strips
    monkeypatch.setattr(_fft, "TILE_OVERHEAD_UNITS", 0.0)  # and small FFT tiles
    top = 255 if dtype == np.uint8 else 65535
    image = np.random.default_rng(16).integers(0, top + 1, size=shape).astype(dtype)
    ops = [Convolve(kernel(s)) for s in specs] + [Activate(a) for a in acts]
    depth = "8" if dtype == np.uint8 else "16"
    strips = []
    original = streaming.Stream.__iter__

    def spy(self):
        for item in original(self):
            strips.append(item[0])
            yield item

    monkeypatch.setattr(streaming.Stream, "__iter__", spy)
    streamed = stream_filter(image, ops, depth=depth, linear=True, **kw).collect()
    assert len(strips) >= 2, "the streamed path must have run in several strips"
    whole = whole_to_depth(image, ops, depth=depth, linear=True, **kw)  # the whole-array path, as it was
    assert np.array_equal(streamed, whole)
    assert not np.array_equal(streamed, stream_filter(image, ops, depth=depth, **kw).collect())


def test_the_readme_library_recipe_with_linear_gives_the_command_line_bytes(tmp_path):
    import convcli
    from convcli.depth import to_depth
    from convcli.imageio import read_image, write_image

    image, info = read_image(str(SAMPLES / "astronaut.png"))
    ops = [convcli.Convolve(convcli.kernel("gaussian:sigma=3"))]
    result = convcli.stream_filter(image, ops, alpha=info.alpha, linear=True).collect()
    write_image(str(tmp_path / "lib.png"), to_depth(result, "8", source_max=255, alpha=info.alpha), info=info)
    assert invoke(str(SAMPLES / "astronaut.png"), "-k", "gaussian:sigma=3", "--linear",
                  "-o", str(tmp_path / "cli.png")).exit_code == 0
    assert np.array_equal(load(tmp_path / "lib.png"), load(tmp_path / "cli.png"))
    streamed = convcli.stream_filter(image, ops, depth="8", linear=True).collect()
    assert np.array_equal(streamed, load(tmp_path / "cli.png"))


def test_linear_is_keyword_only_and_checked():
    from convcli import UsageError
    from convcli.operations import Convolve
    from convcli.recipe import build_recipe
    from convcli.streaming import stream_filter

    image = checkerboard(8)
    ops = [Convolve("box:size=2")]
    with pytest.raises(TypeError, match="positional"):
        stream_filter(image, ops, "8").collect()  # type: ignore[misc]
    assert build_recipe(kernels=["box"], linear=True, outdir="o").linear
    assert not build_recipe(kernels=["box"], outdir="o").linear
    with pytest.raises(UsageError, match=r"^--linear is a flag \(True or False\), got 'yes'$"):
        build_recipe(kernels=["box"], linear="yes", outdir="o")  # type: ignore[arg-type]
    notes = build_recipe(pool="max", activation="relu", linear=True, outdir="o").notes
    assert notes == ("--linear has no effect on max/min pooling, relu and abs (they commute with the sRGB curve); "
                     "it changes kernels, mean pooling, sigmoid and tanh",)
    assert build_recipe(pool="max", channels="gray", linear=True, outdir="o").notes == ()


# --- what --dry-run and --json say ----------------------------------------------------


def test_dry_run_and_json_show_linear_light(tmp_path):
    src = str(SAMPLES / "camera.png")
    out = str(tmp_path / "o.png")
    plan = invoke(src, "-k", "box:size=3", "--linear", "-o", out, "--dry-run")
    assert plan.exit_code == 0, plan.output
    lines = plan.stdout.splitlines()
    assert lines[1].split() == ["512x512", "->", "512x512", "decode", "sRGB", "to", "linear", "light"]
    assert lines[3].split() == ["512x512", "->", "512x512", "encode", "linear", "light", "to", "sRGB"]
    plain = invoke(src, "-k", "box:size=3", "-o", out, "--dry-run")
    assert "linear light" not in plain.stdout
    steps = []
    for extra in (["--dry-run"], []):
        report = json.loads(invoke(src, "-k", "box:size=3", "--linear", "-o", out, "--json", "-f", *extra).stdout)
        file = report["files"][0]
        assert file["linear"] is True
        assert [s["operation"] for s in file["steps"]] == ["decode sRGB to linear light", "correlate box:size=3 (3x3)",
                                                            "encode linear light to sRGB"]
        steps.append(file["steps"])
    assert steps[0] == steps[1]  # the plan names the method the run uses (on float64 linear values)
    report = json.loads(invoke(src, "-k", "box:size=3", "-o", out, "--json", "-f").stdout)
    assert report["files"][0]["linear"] is False and len(report["files"][0]["steps"]) == 1


# --- ICC profiles -------------------------------------------------------------------


def test_a_profile_that_is_not_srgb_is_named_in_a_warning_and_filtered_as_asked(tmp_path):
    from PIL import ImageCms

    crop = photo("astronaut.png")[:64, :64]
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(crop).save(tmp_path / "lab.png", icc_profile=lab)
    Image.fromarray(crop).save(tmp_path / "srgb.png", icc_profile=srgb)
    Image.fromarray(crop).save(tmp_path / "none.png")
    warning = (f"Warning: {tmp_path / 'lab.png'}: its ICC profile is not sRGB ('Lab identity built-in'); --linear "
               "decodes the samples with the sRGB curve as asked (convcli does not convert colour profiles: convert "
               "the image to sRGB first for exact linear light)")
    outputs = {}
    for name in ("lab", "srgb", "none"):
        out = tmp_path / f"{name}_o.png"
        result = invoke(str(tmp_path / f"{name}.png"), "-k", "box:size=3", "--linear", "-o", str(out))
        assert result.exit_code == 0, result.output
        assert result.stderr.replace("\n", " ").strip() == (warning if name == "lab" else "")
        outputs[name] = load(out)
        plan = invoke(str(tmp_path / f"{name}.png"), "-k", "box:size=3", "--linear", "-o",
                      str(tmp_path / f"{name}_plan.png"), "--dry-run", "--json")  # from the header only
        assert plan.exit_code == 0, plan.output
        planned = json.loads(plan.stdout)["files"][0]["warnings"]
        assert planned == ([warning.removeprefix("Warning: ")] if name == "lab" else [])
    assert np.array_equal(outputs["lab"], outputs["none"]) and np.array_equal(outputs["srgb"], outputs["none"])
    plain = invoke(str(tmp_path / "lab.png"), "-k", "box:size=3", "-o", str(tmp_path / "p.png"))
    assert plain.exit_code == 0 and plain.stderr == ""
    report = json.loads(invoke(str(tmp_path / "lab.png"), "-k", "box:size=3", "--linear", "-o",
                               str(tmp_path / "j.png"), "--json").stdout)
    assert report["files"][0]["warnings"] == [warning.removeprefix("Warning: ")]


def test_help_lists_linear():
    result = CliRunner().invoke(app, ["apply", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and "--linear" in result.stdout


# --- the README's pictures ----------------------------------------------------------


def test_the_readme_pictures_are_what_docs_make_pictures_makes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pictures", ROOT / "docs" / "make_pictures.py")
    assert spec is not None and spec.loader is not None
    pictures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pictures)
    crop = ROOT / "docs" / "linear_crop.png"
    left, top, right, bottom = pictures.CROP
    assert np.array_equal(load(crop), photo("astronaut.png")[top:bottom, left:right])
    for linear, name in ((False, "linear_blur_encoded.png"), (True, "linear_blur_linear.png")):
        pictures.blur(crop, tmp_path / name, linear=linear)
        assert np.array_equal(load(tmp_path / name), load(ROOT / "docs" / name)), name
    for name in ("linear_crop.png", "linear_blur_encoded.png", "linear_blur_linear.png"):
        assert (ROOT / "docs" / name).stat().st_size < 300_000
        assert f"]({name})" in (ROOT / "docs" / "apply-and-batches.md").read_text(encoding="utf-8")
