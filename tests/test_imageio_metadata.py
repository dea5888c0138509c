"""What outputs keep of their inputs (issue 12): JPEG quality and subsampling, dpi, PNG text, TIFF resolution;
GIF output of colour; float colour TIFFs; ``--json`` steps on a real run; the README's library recipe.

Every check reads the output back with Pillow (quantisation tables, ``get_sampling``, ``info['dpi']``,
``text``, TIFF tags) or compares with what Pillow itself writes, never with convcli's own reading.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin, PngImagePlugin
from typer.testing import CliRunner

from convcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
PHOTOS = [SAMPLES / name for name in ("astronaut.png", "chelsea.png", "coffee.png", "camera.png")]  # real photos
CONVCLI = str(Path(sys.executable).parent / "convcli")


def invoke(*args: str):
    return CliRunner().invoke(app, ["apply", *args])


def photo(name: str = "chelsea.png") -> Image.Image:
    with Image.open(SAMPLES / name) as image:
        return image.convert("RGB")


def pillow_tables(quality: int, subsampling: int = 2) -> dict[int, list[int]]:
    """The quantisation tables Pillow (libjpeg) writes at ``quality``: the independent reference."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 30)).save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    with Image.open(buffer) as image:
        return {k: list(v) for k, v in image.quantization.items()}


def jpeg_facts(path: Path) -> tuple[dict[int, list[int]], int, object]:
    with Image.open(path) as image:
        return ({k: list(v) for k, v in image.quantization.items()}, JpegImagePlugin.get_sampling(image),
                image.info.get("dpi"))


# --- 8: JPEG quality and chroma subsampling -------------------------------------------------------------------


@pytest.mark.parametrize(("quality", "subsampling"), [(72, 0), (88, 1), (40, 2), (97, 0)])
def test_jpeg_output_keeps_the_input_quality_and_subsampling(tmp_path, quality, subsampling):
    photo().save(tmp_path / "in.jpg", quality=quality, subsampling=subsampling)
    result = invoke(str(tmp_path / "in.jpg"), "-k", "box", "-o", str(tmp_path / "out.jpg"))
    assert result.exit_code == 0, result.output
    tables, sampling, _ = jpeg_facts(tmp_path / "out.jpg")
    assert tables == jpeg_facts(tmp_path / "in.jpg")[0] == pillow_tables(quality, subsampling)
    assert sampling == subsampling


def test_a_gray_jpeg_keeps_its_quality(tmp_path):
    photo().convert("L").save(tmp_path / "in.jpg", quality=63)
    assert invoke(str(tmp_path / "in.jpg"), "-k", "sharpen", "-o", str(tmp_path / "out.jpg")).exit_code == 0
    tables, _, _ = jpeg_facts(tmp_path / "out.jpg")
    assert tables[0] == pillow_tables(63)[0]


def test_quality_given_wins_and_the_subsampling_is_still_kept(tmp_path):
    photo().save(tmp_path / "in.jpg", quality=70, subsampling=0)
    assert invoke(str(tmp_path / "in.jpg"), "-k", "box", "-o", str(tmp_path / "out.jpg"),
                  "--quality", "50").exit_code == 0
    tables, sampling, _ = jpeg_facts(tmp_path / "out.jpg")
    assert tables == pillow_tables(50, 0) and sampling == 0


def test_a_png_source_still_gives_quality_95_and_420(tmp_path):
    photo().save(tmp_path / "in.png")
    assert invoke(str(tmp_path / "in.png"), "-k", "box", "-o", str(tmp_path / "out.jpg")).exit_code == 0
    tables, sampling, _ = jpeg_facts(tmp_path / "out.jpg")
    assert tables == pillow_tables(95) and sampling == 2


def test_estimate_jpeg_quality_finds_what_libjpeg_wrote():
    from convcli.imageio.metadata import estimate_jpeg_quality, ijg_luminance_table

    for quality in range(1, 101):
        assert estimate_jpeg_quality(pillow_tables(quality)[0]) == quality
        assert list(ijg_luminance_table(quality)) == pillow_tables(quality)[0]
    near = list(ijg_luminance_table(80))
    near[5] += 1
    near[40] -= 1  # not libjpeg's table: the closest quality
    assert estimate_jpeg_quality(near) == 80
    with pytest.raises(ValueError, match="64 entries"):
        estimate_jpeg_quality([1, 2, 3])


# --- 8: resolution and PNG text ----------------------------------------------------------------------------


def png_with_metadata(path: Path, image: Image.Image) -> dict[str, str]:
    info = PngImagePlugin.PngInfo()
    text = {"Title": "Chelsea", "Author": "S. van der Walt", "Comment": "naïve café ✓"}
    info.add_text("Title", text["Title"])
    info.add_text("Author", text["Author"], zip=True)  # zTXt
    info.add_itxt("Comment", text["Comment"])  # iTXt
    image.save(path, dpi=(150, 150), pnginfo=info)
    return text


@pytest.mark.parametrize("extra", [[], ["--depth", "16"]], ids=["8-bit", "16-bit colour"])
def test_png_output_keeps_dpi_and_text(tmp_path, extra):
    text = png_with_metadata(tmp_path / "in.png", photo())
    result = invoke(str(tmp_path / "in.png"), "-k", "box", "-o", str(tmp_path / "out.png"), *extra)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out.png") as out, Image.open(tmp_path / "in.png") as src:
        out.load()
        assert out.info["dpi"] == pytest.approx(src.info["dpi"])
        assert out.info["dpi"] == pytest.approx((150, 150), abs=0.02)
        assert dict(out.text) == text


def test_tiff_output_keeps_its_resolution(tmp_path):
    photo().save(tmp_path / "in.tif", dpi=(240, 180))
    assert invoke(str(tmp_path / "in.tif"), "-k", "box", "-o", str(tmp_path / "out.tif")).exit_code == 0
    with Image.open(tmp_path / "out.tif") as out:
        assert (float(out.tag_v2[282]), float(out.tag_v2[283]), out.tag_v2[296]) == (240.0, 180.0, 2)


def test_dpi_crosses_formats(tmp_path):
    photo().save(tmp_path / "in.jpg", dpi=(300, 300), quality=90)
    assert invoke(str(tmp_path / "in.jpg"), "-k", "box", "-o", str(tmp_path / "out.png")).exit_code == 0
    with Image.open(tmp_path / "out.png") as out:
        assert out.info["dpi"] == pytest.approx((300, 300), abs=0.02)
    assert invoke(str(tmp_path / "out.png"), "-k", "box", "-o", str(tmp_path / "back.jpg")).exit_code == 0
    assert jpeg_facts(tmp_path / "back.jpg")[2] == (300, 300)


def test_no_metadata_in_gives_none_out(tmp_path):
    photo().save(tmp_path / "in.png")
    assert invoke(str(tmp_path / "in.png"), "-k", "box", "-o", str(tmp_path / "out.png")).exit_code == 0
    with Image.open(tmp_path / "out.png") as out:
        out.load()
        assert "dpi" not in out.info and not out.text


# --- 9: --json on a real run reports the steps of --dry-run ------------------------------------------------


def test_json_of_a_real_run_reports_the_same_steps_as_the_dry_run(tmp_path):
    args = [str(SAMPLES / "chelsea.png"), "-k", "gaussian:sigma=2", "--stride", "2", "--pool", "max",
            "--activation", "relu", "-o", str(tmp_path / "out.png"), "--json"]
    planned = invoke(*args, "--dry-run")
    done = invoke(*args)
    assert planned.exit_code == 0 and done.exit_code == 0, done.output
    planned_steps = json.loads(planned.stdout)["files"][0]["steps"]
    done_file = json.loads(done.stdout)["files"][0]
    assert done_file["status"] == "written"
    assert len(planned_steps) == 3 and done_file["steps"] == planned_steps
    assert done_file["steps"][0]["method"] and done_file["steps"][-1]["output"] == done_file["output_shape"]


# --- 10: the README's library recipe and `convcli apply` give the same bytes ---------------------------------


@pytest.mark.parametrize("photo_path", PHOTOS, ids=[p.stem for p in PHOTOS])
@pytest.mark.parametrize(("spec", "extra"), [
    ("gaussian:sigma=3", {}),
    ("box:size=2", {}),
    ("sobel:axis=x", {"gain": 0.5, "offset": 128}),
    ("motion:length=21,angle=30", {}),
])
def test_the_readme_library_recipe_gives_the_bytes_of_convcli_apply(tmp_path, photo_path, spec, extra):
    """apply streams one convolution in strips (depth per strip); the recipe converts the whole float result.

    Both end in the one conversion, ``to_depth``: ties (``--gain 0.5 --offset 128`` on Sobel's integers makes
    many) round alike, half to even in float32, on both paths.
    """
    import convcli
    from convcli.depth import to_depth
    from convcli.imageio import read_image, write_image

    image, info = read_image(photo_path)  # the README's recipe
    result = convcli.stream_filter(image, [convcli.Convolve(convcli.kernel(spec))], alpha=info.alpha).collect()
    samples = to_depth(result, "8", source_max=255, alpha=info.alpha, **extra)
    write_image(tmp_path / "library.png", samples, info=info)
    options = [f"--{k}={v}" for k, v in extra.items()]
    proc = subprocess.run([CONVCLI, "apply", str(photo_path), "-k", spec, *options, "-o", str(tmp_path / "cli.png")],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cli.png").read_bytes() == (tmp_path / "library.png").read_bytes()


def readme_recipe() -> str:
    """The Python block after "From Python, the same work is" in docs/apply-and-batches.md of the convcli under test."""
    import convcli

    page = Path("docs", "apply-and-batches.md")
    beside = Path(convcli.__file__).resolve().parents[2] / page  # an editable install's own checkout
    text = (beside if beside.is_file() else Path(__file__).resolve().parents[1] / page).read_text(encoding="utf-8")
    start = text.index("From Python, the same work is")
    block = text[text.index("```python\n", start) + len("```python\n"):]
    return block[: block.index("```")]


def test_the_readme_block_itself_gives_the_bytes_of_convcli_apply_with_alpha_too(tmp_path):
    rgba = np.asarray(photo("coffee.png").convert("RGBA")).copy()
    rgba[:, : rgba.shape[1] // 3, 3] = 0  # a transparent third, a half-transparent band
    rgba[:, rgba.shape[1] // 3 : rgba.shape[1] // 2, 3] = 128
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    code = readme_recipe()
    assert 'read_image("sample_images/astronaut.png")' in code and 'write_image("blurred.png"' in code
    for source in (SAMPLES / "astronaut.png", SAMPLES / "camera.png", tmp_path / "rgba.png"):
        run = code.replace("sample_images/astronaut.png", str(source)).replace(
            '"blurred.png"', repr(str(tmp_path / "library.png")))
        exec(compile(run, "docs/apply-and-batches.md", "exec"), {})
        proc = subprocess.run([CONVCLI, "apply", str(source), "-k", "gaussian:sigma=3", "-o", str(tmp_path / "cli.png"),
                               "--force"], capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "cli.png").read_bytes() == (tmp_path / "library.png").read_bytes(), source.name


# --- 14: colour into GIF is quantised, with one warning -------------------------------------------------------


def test_rgb_into_gif_is_quantised_with_one_warning_naming_the_fix(tmp_path):
    result = invoke(str(SAMPLES / "coffee.png"), "-k", "box", "-o", str(tmp_path / "out.gif"))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("GIF holds at most 256 colours") == 1
    assert "--format png" in result.stderr
    assert invoke(str(SAMPLES / "coffee.png"), "-k", "box", "-o", str(tmp_path / "ref.png")).exit_code == 0
    with Image.open(tmp_path / "out.gif") as gif, Image.open(tmp_path / "ref.png") as ref:
        assert gif.mode == "P" and len(gif.getcolors(257) or []) <= 256
        error = np.abs(np.asarray(gif.convert("RGB"), float) - np.asarray(ref.convert("RGB"), float))
    assert error.mean() < 6  # a median-cut palette of a photograph


def test_rgba_into_gif_keeps_on_off_transparency(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = np.arange(30) * 8
    rgba[..., 3] = 255
    rgba[:, :10, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "in.png")
    result = invoke(str(tmp_path / "in.png"), "-k", "identity", "-o", str(tmp_path / "out.gif"))
    assert result.exit_code == 0, result.output
    assert "alpha to on/off transparency" in result.stderr
    with Image.open(tmp_path / "out.gif") as gif:
        back = np.asarray(gif.convert("RGBA"))
    assert (back[:, :10, 3] == 0).all() and (back[:, 10:, 3] == 255).all()
    assert np.array_equal(back[:, 10:, 0], rgba[:, 10:, 0])  # 20 colours fit a palette exactly


def test_a_batch_into_gif_warns_once_per_file(tmp_path):
    for name in ("a.png", "b.png"):
        photo().save(tmp_path / name)
    result = invoke(str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-k", "box", "--outdir",
                    str(tmp_path / "out"), "--format", "gif", "-j", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("GIF holds at most 256 colours") == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.gif", "b.gif"]


# --- 16: float colour TIFF; the float -> PNG warning ---------------------------------------------------------


def float_tiff(arr: np.ndarray) -> bytes:
    """A minimal uncompressed little-endian TIFF of 32-bit float samples (SampleFormat 3), built by hand."""
    arr = np.ascontiguousarray(arr, dtype="<f4")
    h, w = arr.shape[:2]
    c = 1 if arr.ndim == 2 else arr.shape[2]
    pixels = arr.tobytes()
    count = 10
    extra = 8 + 2 + 12 * count + 4
    bits_at, format_at, data_at = extra, extra + 2 * c, extra + 4 * c

    def short_or_offset(value: int, at: int) -> int:
        return value if c == 1 else at

    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, c, short_or_offset(32, bits_at)), (259, 3, 1, 1),
               (262, 3, 1, 2 if c >= 3 else 1), (273, 4, 1, data_at), (277, 3, 1, c), (278, 4, 1, h),
               (279, 4, 1, len(pixels)), (339, 3, c, short_or_offset(3, format_at))]
    out = b"II*\x00" + struct.pack("<IH", 8, count)
    out += b"".join(struct.pack("<HHII", *entry) for entry in entries) + struct.pack("<I", 0)
    return out + struct.pack(f"<{c}H", *[32] * c) + struct.pack(f"<{c}H", *[3] * c) + pixels


def test_a_float_colour_tiff_is_read_exactly(tmp_path):
    data = np.random.default_rng(0).random((8, 9, 3), np.float32)
    (tmp_path / "rgb.tif").write_bytes(float_tiff(data))
    result = invoke(str(tmp_path / "rgb.tif"), "-k", "box", "-o", str(tmp_path / "out.npy"))
    assert result.exit_code == 0, result.output
    padded = np.pad(data, ((1, 1), (1, 1), (0, 0)), mode="reflect").astype(np.float64)
    box = sum(padded[i : i + 8, j : j + 9] for i in range(3) for j in range(3)) / 9
    assert np.allclose(np.load(tmp_path / "out.npy"), box, atol=1e-6)


def test_a_float_colour_tiff_without_the_extra_is_not_supported_rather_than_corrupt(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tifffile", None)
    (tmp_path / "rgb.tif").write_bytes(float_tiff(np.random.default_rng(0).random((8, 9, 3), np.float32)))
    (tmp_path / "gray.tif").write_bytes(float_tiff(np.linspace(0, 1, 72, dtype=np.float32).reshape(8, 9)))
    with Image.open(tmp_path / "gray.tif") as gray:  # the same writer, one channel: Pillow reads it
        assert gray.mode == "F"
    result = invoke(str(tmp_path / "rgb.tif"), "-k", "box", "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert "rgb.tif: not supported (32-bit float colour TIFF;" in result.stderr
    assert "pip install '.[formats]'" in result.stderr
    assert ".npy" in result.stderr and "corrupt" not in result.stderr
    assert not (tmp_path / "out.png").exists()
    assert invoke(str(tmp_path / "gray.tif"), "-k", "box", "-o", str(tmp_path / "g.tif")).exit_code == 0


@pytest.mark.parametrize(("shape", "keep"), [((4, 5, 3), "write .tif, .zarr or .npy to keep float data"),
                                               ((4, 5), "write .tif, .zarr or .npy to keep float data")])
def test_the_float_to_png_warning_never_suggests_png(tmp_path, shape, keep):
    np.save(tmp_path / "f.npy", np.linspace(0, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape))
    result = invoke(str(tmp_path / "f.npy"), "-k", "box", "-o", str(tmp_path / "f.png"))
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stderr.splitlines() if "cannot hold float" in line)
    assert "wrote 16-bit" in warning and keep in warning and ".png" not in warning.split("wrote")[1]
