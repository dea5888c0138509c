"""Pictures of kernels (``kernels show --picture``) and of a run (``apply --compare``): what they must show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app
from convcli.errors import ImageWriteError, UsageError
from convcli.pictures.compare import MAX_WIDTH, check_compare, display_rgb, draw_compare, scaled_sizes
from convcli.pictures.kernels import MAX_VALUES_SIDE, KernelPanel, draw_kernel, kernel_picture

runner = CliRunner()


def _luminance(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def _cell_brightness(lum: np.ndarray, panel: KernelPanel) -> np.ndarray:
    """Each tap's cell brightness, sampled a fifth of a cell in from its top-left corner (away from text and grid)."""
    h, w = panel.shape
    x, y = panel.heat_box[:2]
    cw, ch = panel.cell
    out = np.empty((h, w))
    for r in range(h):
        for c in range(w):
            out[r, c] = lum[int(y + (r + 0.2) * ch), int(x + (c + 0.2) * cw)]
    return out


def _fft_centre_and_border(lum: np.ndarray, panel: KernelPanel) -> tuple[float, float]:
    x, y, w, h = panel.fft_box
    spectrum = lum[y:y + h, x:x + w]
    q = w // 8
    centre = spectrum[h // 2 - q:h // 2 + q, w // 2 - q:w // 2 + q].mean()
    border = np.concatenate([spectrum[:q].ravel(), spectrum[-q:].ravel(), spectrum[:, :q].ravel(),
                             spectrum[:, -q:].ravel()]).mean()
    return float(centre), float(border)


# ---- the heat map --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["sobel:axis=x", "gaussian:sigma=1", "3 -1 0; 7 2 -5; 1 0 4", "random"])
def test_heat_map_brightest_cell_is_largest_value(spec: str, rng: np.random.Generator) -> None:
    matrix = rng.normal(size=(5, 6)) if spec == "random" else None
    picture = draw_kernel(matrix if matrix is not None else spec)
    panel = picture.panels[0]
    cells = _cell_brightness(_luminance(picture.image), panel)
    from convcli.kernels import kernel

    values = kernel(matrix if matrix is not None else spec).matrix
    assert np.unravel_index(np.argmax(cells), cells.shape) == np.unravel_index(np.argmax(values), values.shape)
    assert np.unravel_index(np.argmin(cells), cells.shape) == np.unravel_index(np.argmin(values), values.shape)
    # brightness rises with the value: the cells sort as the values do
    assert np.all(np.diff(cells.ravel()[np.argsort(values.ravel(), kind="stable")]) >= -1)


def test_large_kernel_gets_colour_bar_not_values_and_no_error(tmp_path: Path) -> None:
    small = draw_kernel("box:size=15").panels[0]
    large = draw_kernel("box:size=17").panels[0]
    assert small.values_shown and not large.values_shown
    assert max(large.shape) > MAX_VALUES_SIDE
    result = runner.invoke(app, ["kernels", "show", "gaussian:sigma=8", "--picture", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert _read(tmp_path / "g.png").size[0] > 0


def test_large_kernel_heat_map_brightest_cell(rng: np.random.Generator) -> None:
    matrix = rng.random((40, 33))
    matrix[31, 7] = 3.0
    picture = draw_kernel(matrix)
    panel = picture.panels[0]
    lum = _luminance(picture.image)
    hx, hy, hw, hh = panel.heat_box
    x, y = panel.cell_center(31, 7)
    assert lum[int(y), int(x)] == lum[hy:hy + hh, hx:hx + hw].max()
    assert np.unravel_index(np.argmax(lum[hy:hy + hh, hx:hx + hw]), (hh, hw))[0] // panel.cell[1] == 31


@pytest.mark.parametrize(("spec", "anchor"), [("laplacian", (1, 1)), ("1 2 3 4", (0, 1)), ("box:size=4", (1, 1))])
def test_anchor_mark_is_at_the_anchor_cell(spec: str, anchor: tuple[int, int]) -> None:
    picture = draw_kernel(spec)
    panel = picture.panels[0]
    assert panel.anchor == anchor
    rgb = np.asarray(picture.image)
    cyan = np.all(rgb == (0, 220, 255), axis=2)
    ys, xs = np.nonzero(cyan)
    assert len(xs) > 0
    x0, y0 = panel.heat_box[:2]
    cw, ch = panel.cell
    cols, rows = (xs - x0) // cw, (ys - y0) // ch
    assert set(zip(rows.astype(int), cols.astype(int), strict=True)) <= {
        (anchor[0] + dr, anchor[1] + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
    # the outline surrounds the anchor cell's centre
    cx, cy = panel.cell_center(*anchor)
    assert xs.min() < cx < xs.max() and ys.min() < cy < ys.max()
    assert xs.max() - xs.min() <= cw + 2 and ys.max() - ys.min() <= ch + 2


def test_operator_draws_each_component() -> None:
    picture = draw_kernel("sobel:axis=both")
    assert [p.spec for p in picture.panels] == ["sobel:axis=x,size=3", "sobel:axis=y,size=3"]
    assert picture.panels[1].heat_box[1] > picture.panels[0].heat_box[1] + picture.panels[0].fft_box[3]


# ---- the frequency response ---------------------------------------------------------------------------------

def test_gaussian_frequency_picture_is_brightest_at_centre() -> None:
    picture = draw_kernel("gaussian:sigma=2")
    centre, border = _fft_centre_and_border(_luminance(picture.image), picture.panels[0])
    assert centre > 3 * border and border < 30


@pytest.mark.parametrize("spec", ["laplacian", "0 -1 0; -1 4 -1; 0 -1 0"])
def test_laplacian_frequency_picture_is_brightest_at_edges(spec: str) -> None:
    picture = draw_kernel(spec)
    centre, border = _fft_centre_and_border(_luminance(picture.image), picture.panels[0])
    assert border > 3 * centre
    assert centre < 30


def test_sobel_frequency_picture_is_directional() -> None:
    picture = draw_kernel("sobel:axis=x")
    lum = _luminance(picture.image)
    x, y, w, h = picture.panels[0].fft_box
    spectrum = lum[y:y + h, x:x + w]
    # bright left and right of the centre (horizontal frequencies), dark above and below it (the x axis kernel
    # does not see vertical change)
    assert spectrum[h // 2, w // 4] > 150 and spectrum[h // 2, 3 * w // 4] > 150
    assert spectrum[h // 4, w // 2] < 30 and spectrum[3 * h // 4, w // 2] < 30


# ---- files and the CLI ----------------------------------------------------------------------------------------

def test_kernels_show_picture_writes_deterministic_png(tmp_path: Path) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for target in (first, second):
        result = runner.invoke(app, ["kernels", "show", "sobel:axis=both", "--picture", str(target)])
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sobel:axis=both" in result.output  # the text is still printed


def test_kernels_show_picture_missing_folder_exit_1(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "k.png"
    result = runner.invoke(app, ["kernels", "show", "laplacian", "--picture", str(target)])
    assert result.exit_code == 1
    assert result.output.count("Error:") == 1 and "does not exist" in result.output and "mkdir -p" in result.output
    assert not target.parent.exists()


@pytest.mark.parametrize("name", ["k.jpg", "k", "k.gif"])
def test_kernels_show_picture_unknown_extension_exit_2(tmp_path: Path, name: str) -> None:
    result = runner.invoke(app, ["kernels", "show", "laplacian", "--picture", str(tmp_path / name)])
    assert result.exit_code == 2
    assert result.output.count("Error:") == 1 and "give a file ending in .png" in result.output
    assert list(tmp_path.iterdir()) == []


def test_kernel_picture_library_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--picture '.*k\.svg': unknown picture type '\.svg'; give a file ending in"):
        kernel_picture("laplacian", tmp_path / "k.svg")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        kernel_picture("laplacian", tmp_path / "dir.png")
    with pytest.raises(ValueError, match="nosuchkernel"):
        kernel_picture("nosuchkernel", tmp_path / "k.png")
    assert [p.name for p in tmp_path.iterdir()] == ["dir.png"]


# ---- apply --compare --------------------------------------------------------------------------------------------

def _read(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def _write(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path)
    return path


def test_compare_sizes_side_by_side(tmp_path: Path, rng: np.random.Generator) -> None:
    source = _write(tmp_path / "in.png", (rng.random((200, 300, 3)) * 255).astype(np.uint8))
    result = runner.invoke(app, ["apply", str(source), "-k", "gaussian:sigma=1", "-o", str(tmp_path / "out.png"),
                                 "--compare", str(tmp_path / "pair.png")])
    assert result.exit_code == 0, result.output
    pair = _read(tmp_path / "pair.png")
    assert pair.size[0] == 600 and 200 < pair.size[1] <= 240  # 300 + 300 wide; 200 high plus the labels
    pixels = np.asarray(pair.convert("RGB"))
    label = pair.size[1] - 200
    np.testing.assert_array_equal(pixels[label:, :300], np.asarray(_read(source)))
    np.testing.assert_array_equal(pixels[label:, 300:], np.asarray(_read(tmp_path / "out.png")))


def test_compare_scales_wide_pairs_and_other_output_sizes(tmp_path: Path, rng: np.random.Generator) -> None:
    source = _write(tmp_path / "in.png", (rng.random((500, 1000)) * 255).astype(np.uint8))
    result = runner.invoke(app, ["apply", str(source), "-k", "box:size=3", "-o", str(tmp_path / "out.png"),
                                 "--compare", str(tmp_path / "pair.png")])
    assert result.exit_code == 0, result.output
    pair = _read(tmp_path / "pair.png")
    assert pair.size[0] == MAX_WIDTH  # 1000 + 1000 wide, scaled by 0.8 to 800 + 800
    assert 400 < pair.size[1] <= 440  # 500 * 0.8 high plus the labels
    # an output of another size (stride 2) keeps its size relative to the input; 1000 + 500 fits unscaled
    strided = draw_compare(np.zeros((500, 1000), np.uint8), np.zeros((250, 500), np.float32))
    assert (strided.before[2:], strided.after[2:], strided.scale) == ((1000, 500), (500, 250), 1.0)
    assert strided.image.size == (1500, 500 + strided.before[1])
    wide = draw_compare(np.zeros((300, 1200), np.uint8), np.zeros((150, 600), np.uint8))
    assert wide.image.size[0] <= MAX_WIDTH and (wide.before[2:], wide.after[2:]) == ((1066, 266), (533, 133))
    assert scaled_sizes((3000, 10), (1, 1)) == ((1599, 5), (1, 1))


def test_compare_deterministic_and_float_output_through_display(tmp_path: Path, rng: np.random.Generator) -> None:
    source = _write(tmp_path / "in.png", (rng.random((40, 50)) * 65535).astype(np.uint16))
    pictures = []
    for number in (1, 2):
        picture = tmp_path / f"pair{number}.png"
        result = runner.invoke(app, ["apply", str(source), "-k", "sobel:axis=x", "--depth", "float", "--format",
                                     "npy", "-o", str(tmp_path / f"out{number}.npy"), "--compare", str(picture)])
        assert result.exit_code == 0, result.output
        pictures.append(picture.read_bytes())
    assert pictures[0] == pictures[1]
    assert display_rgb(np.array([[65535, 0]], np.uint16)).tolist() == [[[255] * 3, [0] * 3]]
    assert display_rgb(np.array([[1.5, -0.5, np.nan]])).tolist() == [[[255] * 3, [0] * 3, [0] * 3]]


def test_compare_several_inputs_is_usage_error(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    b = _write(tmp_path / "b.png", np.zeros((4, 4), np.uint8))
    result = runner.invoke(app, ["apply", str(a), str(b), "-k", "box", "--outdir", str(tmp_path / "out"),
                                 "--compare", str(tmp_path / "pair.png")])
    assert result.exit_code == 2
    assert "--compare takes one input, got 2" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "pair.png").exists()


def test_compare_errors_before_the_run(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["apply", str(a), "-k", "box", "-o", str(out), "--compare",
                                 str(tmp_path / "no" / "pair.png")])
    assert result.exit_code == 1 and "does not exist" in result.output and not out.exists()
    result = runner.invoke(app, ["apply", str(a), "-k", "box", "-o", str(out), "--compare", str(tmp_path / "p.tif")])
    assert result.exit_code == 2 and "unknown picture type '.tif'" in result.output and not out.exists()
    with pytest.raises(UsageError, match="not stdin"):
        check_compare(tmp_path / "p.png", ["-"])
    with pytest.raises(UsageError, match="is also the input or the output"):
        check_compare(out, [str(a)], output=str(out))


# ---- the benchmark chart (benchmarks/chart.py) ---------------------------------------------------------------

def _chart_module():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "chart.py"
    spec = importlib.util.spec_from_file_location("bench_chart", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ENGINE_MD = """done: Laplacian 3x3, 1 ch

| case | implementation | median ms | convcli auto / peer |
| --- | --- | --- | --- |
| Laplacian 3x3, 1 ch | convcli auto | 34.3 |  |
| Laplacian 3x3, 1 ch | cv2.filter2D | 10.6 | 3.25 |
done: box
| Laplacian 3x3, 1 ch | ndimage.correlate | 172.6 | 0.20 |
"""
_E2E_MD = """| input | filter | tool | median s | peak MiB | convcli / tool |
| --- | --- | --- | --- | --- | --- |
| 12 MP JPG | 3x3 sharpen | convcli | 1.21 | 170 |  |
| 12 MP JPG | 3x3 sharpen | vips | 0.30 | 43 | 4.02 |

| size | median s | ms per MP | peak MiB |
| --- | --- | --- | --- |
| 1 MP | 1.22 | 1221 | 83 |
"""


def test_chart_reads_the_ratio_rows_of_both_tables(tmp_path: Path) -> None:
    chart = _chart_module()
    (tmp_path / "engine.md").write_text(_ENGINE_MD, encoding="utf-8")
    (tmp_path / "e2e.md").write_text(_E2E_MD, encoding="utf-8")
    assert chart.read_ratios(tmp_path / "engine.md") == [
        ("Laplacian 3x3, 1 ch: cv2.filter2D", 3.25), ("Laplacian 3x3, 1 ch: ndimage.correlate", 0.2)]
    assert chart.read_ratios(tmp_path / "e2e.md") == [("12 MP JPG, 3x3 sharpen: vips", 4.02)]


def test_chart_draws_a_deterministic_png(tmp_path: Path) -> None:
    chart = _chart_module()
    (tmp_path / "engine.md").write_text(_ENGINE_MD, encoding="utf-8")
    (tmp_path / "e2e.md").write_text(_E2E_MD, encoding="utf-8")
    chart.main(["--engine", str(tmp_path / "engine.md"), "--out", str(tmp_path / "a.png")])
    chart.main(["--engine", str(tmp_path / "engine.md"), "--out", str(tmp_path / "b.png")])
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert _read(tmp_path / "a.png").size[0] > 300
