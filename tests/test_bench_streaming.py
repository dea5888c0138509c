"""benchmarks/bench_streaming.py: its inputs, its measuring wrapper, its table, and a tiny run without vips.

No timing is asserted; the tiny run takes a few seconds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    path = ROOT / "benchmarks" / "bench_streaming.py"
    spec = importlib.util.spec_from_file_location("bench_streaming", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_streaming"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _bench()


# ---- inputs -------------------------------------------------------------------------------------------------

def _mirror_reference(base: np.ndarray, height: int, width: int) -> np.ndarray:
    """The mirror-tiled canvas by numpy.pad (symmetric: abc|cba|abc...), cropped."""
    return np.pad(base, ((0, height), (0, width)), mode="symmetric")[:height, :width]


def test_mirror_index_folds_like_symmetric_padding() -> None:
    assert bench.mirror_index(0, 10, 3).tolist() == [0, 1, 2, 2, 1, 0, 0, 1, 2, 2]
    assert bench.mirror_index(4, 7, 3).tolist() == [1, 0, 0]


def test_tiles_without_noise_are_the_mirror_tiled_base() -> None:
    base = np.random.default_rng(1).integers(0, 256, (5, 7), dtype=np.uint8)
    expected = _mirror_reference(base, 40, 40)
    for r0, c0 in ((0, 0), (8, 16), (24, 8)):
        got = bench.tile_pixels(base, r0, c0, 8, noise=0, seed=0)
        np.testing.assert_array_equal(got, expected[r0:r0 + 8, c0:c0 + 8])


def test_noise_is_bounded_seeded_by_place_and_clipped() -> None:
    base = np.array([[0, 255], [128, 3]], dtype=np.uint8)
    clean = bench.tile_pixels(base, 4, 6, 16, noise=0, seed=0).astype(int)
    noisy = bench.tile_pixels(base, 4, 6, 16, noise=4, seed=5)
    assert noisy.dtype == np.uint8
    diff = noisy.astype(int) - clean
    assert np.abs(diff).max() <= 4 and np.count_nonzero(diff) > 0
    np.testing.assert_array_equal(noisy, bench.tile_pixels(base, 4, 6, 16, noise=4, seed=5))
    assert not np.array_equal(noisy, bench.tile_pixels(base, 20, 6, 16, noise=4, seed=5))


def test_make_tiled_tiff_writes_a_tiled_tiff_and_keeps_a_matching_one(tmp_path: Path) -> None:
    base = np.random.default_rng(2).integers(0, 256, (50, 70), dtype=np.uint8)
    path = tmp_path / "t.tif"
    bench.make_tiled_tiff(path, height=150, width=200, tile=64, noise=0, base=base)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        assert (page.is_tiled, page.tilelength, page.tilewidth, tif.is_bigtiff) == (True, 64, 64, True)
        assert page.compression in (8, 32946)  # deflate
        np.testing.assert_array_equal(page.asarray(), _mirror_reference(base, 150, 200))
    stamp = path.stat().st_mtime_ns
    bench.make_tiled_tiff(path, height=150, width=200, tile=64, noise=0, base=base)
    assert path.stat().st_mtime_ns == stamp
    bench.make_tiled_tiff(path, height=150, width=200, tile=32, compression="none", noise=0, base=base)
    with tifffile.TiffFile(path) as tif:
        assert (tif.pages.first.tilewidth, tif.pages.first.compression) == (32, 1)
    assert not list(tmp_path.glob("*.part"))


def test_base_image_is_the_grey_photo_mosaic() -> None:
    base = bench.base_image(side=16)
    with Image.open(ROOT / "sample_images" / "camera.png") as im:
        camera = np.asarray(im.convert("L").resize((16, 16), Image.Resampling.LANCZOS))
    assert base.shape == (32, 32) and base.dtype == np.uint8
    np.testing.assert_array_equal(base[:16, :16], camera)


def test_make_jpeg_resizes_the_photo(tmp_path: Path) -> None:
    path = bench.make_jpeg(tmp_path / "p.jpg", width=90, height=60)
    with Image.open(path) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (90, 60))


def test_write_mat_is_a_vips_matrix(tmp_path: Path) -> None:
    text = bench.write_mat(tmp_path / "m.mat", [[1, 2, 3], [0.5, 0, -1]]).read_text()
    assert text == "3 2 1 0\n1 2 3\n0.5 0 -1\n"


# ---- measuring ----------------------------------------------------------------------------------------------

def test_measure_reports_the_peak_of_the_biggest_child() -> None:
    small = [sys.executable, "-c", "pass"]
    big = [sys.executable, "-c", "data = b'x' * (160 * 2**20)"]
    quiet = bench.measure([small])
    both = bench.measure([small, big])
    assert quiet.peak_mib < 100 <= 160 <= both.peak_mib < 400
    assert quiet.seconds > 0 and both.seconds > 0


def test_measure_names_the_failing_command() -> None:
    with pytest.raises(bench.MeasureError, match=r"exited 3: oops"):
        bench.measure([[sys.executable, "-c", "import sys; print('oops', file=sys.stderr); sys.exit(3)"]])


def test_run_case_interleaves_warms_up_and_notes_a_failure(tmp_path: Path) -> None:
    calls = []
    times = iter([9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])

    def fake(commands):
        calls.append(commands[0][0])
        if commands[0][0] == "vips" and len(calls) > 4:
            raise bench.MeasureError("vips broke")
        return bench.Run(next(times), 10.0 * len(calls))

    out = tmp_path / "o.png"
    Image.new("L", (4, 3)).save(out)
    case = bench.Case("c", [["convcli"]], [["vips"]], repeats=3, warmup=1, outputs={"convcli": (out, (3, 4))})
    result = bench.run_case(case, measure_fn=fake)
    assert calls == ["convcli", "vips", "convcli", "vips", "convcli", "vips", "convcli"]
    assert [r.seconds for r in result.convcli.runs] == [2.0, 4.0, 5.0]  # the warm-up (9.0) is not counted
    assert (result.convcli.seconds, result.convcli.peak_mib) == (4.0, 70.0)
    assert result.vips.error == "vips broke" and result.vips.seconds is None
    assert not out.exists()  # outputs are removed after the case


def test_run_case_reports_a_wrong_output_and_a_skipped_convcli(tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    Image.new("L", (4, 3)).save(out)
    case = bench.Case("c", [["convcli"]], None, repeats=1, warmup=0, outputs={"convcli": (out, (6, 8))})
    result = bench.run_case(case, measure_fn=lambda _: bench.Run(1.0, 5.0))
    assert result.convcli.error == "o.png is 3x4, expected 6x8" and result.convcli.peak_mib is None
    skipped = bench.Case("c", [["convcli"]], [["vips"]], repeats=1, warmup=0, skip="no --tile")
    result = bench.run_case(skipped, measure_fn=lambda _: bench.Run(1.0, 5.0))
    assert result.convcli.error == "no --tile" and result.vips.seconds == 1.0


def test_check_output_wants_tiled_tiffs(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((10, 20), np.uint8))
    tifffile.imwrite(tmp_path / "t.tif", np.zeros((32, 48), np.uint8), tile=(16, 16))
    assert bench.check_output(tmp_path / "s.tif", (10, 20)) == "s.tif is not tiled"
    assert bench.check_output(tmp_path / "t.tif", (32, 48)) is None
    assert bench.check_output(tmp_path / "none.tif", (1, 1)) == "no output none.tif"


# ---- the table ----------------------------------------------------------------------------------------------

def _result(label, mine, theirs=None, **targets):
    case = bench.Case(label, [["convcli"]], [["vips"]] if theirs else None, **targets)
    outcome = bench.Outcome([bench.Run(*r) for r in mine]) if isinstance(mine, list) else bench.Outcome(error=mine)
    return bench.Result(case, outcome, bench.Outcome([bench.Run(*r) for r in theirs]) if theirs else None)


def test_table_rows_ratios_and_verdicts() -> None:
    results = [
        _result("big", [(30.0, 500.0), (20.0, 550.0), (40.0, 520.0)], [(10.0, 90.0)],
                peak_target=600, time_target=1.5),
        _result("jpeg", [(2.0, 400.0)], [(1.0, 40.0)], peak_target=350),
        _result("h10", [(1.0, 100.0)], flat_group="h"),
        _result("h20", [(1.0, 109.0)], flat_group="h"),
        _result("h40", [(1.0, 111.0)], flat_group="h"),
        _result("tiff", "no --tile", peak_target=600, time_target=1.5),
        _result("alone", [(5.0, 200.0)], peak_target=600, time_target=1.5),
    ]
    lines = bench.render_table(results).splitlines()
    assert lines[0] == ("| case | convcli peak MiB | convcli s | vips peak MiB | vips s | ratio | target | met? |")
    assert lines[2] == ("| big | 550 | 30.00 | 90 | 10.00 | 3.00 | peak ≤ 600 MiB, time ≤ 1.5× vips |"
                        " no: time 3.00× > 1.5× |")
    assert lines[3] == "| jpeg | 400 | 2.00 | 40 | 1.00 | 2.00 | peak ≤ 350 MiB | no: peak 400 > 350 |"
    assert lines[4].endswith("| 100 | 1.00 | — | — | — | peak flat (≤ 1.1× the first height's) | yes |")
    assert lines[5].endswith("| yes |")
    assert lines[6].endswith("| no: peak 111 > 110 |")
    assert lines[7] == "| tiff | — | — | — | — | — | peak ≤ 600 MiB, time ≤ 1.5× vips | not run |"
    assert lines[8].endswith("| peak yes; time not measured (no vips) |")
    assert bench.failures(results) == ["tiff, convcli: no --tile"]


def test_parse_args_refuses_unknown_cases_and_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    args = bench.parse_args(["--cases", "jpeg,height", "--heights", "10,20", "--jpeg-size", "60x40"])
    assert (args.cases, args.heights, args.jpeg_size, args.repeats) == (["jpeg", "height"], [10, 20], (60, 40), 3)
    assert (args.big_outputs, bench.parse_args(["--big-outputs", "none"]).big_outputs) == (["deflate", "none"],
                                                                                          ["none"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--big-outputs", "zstd"])
    assert "unknown compression(s) zstd; choose from deflate, none" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--cases", "big,huge"])
    assert "unknown case(s) huge; choose from big, jpeg, height" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--jpeg-size", "60"])
    assert "expected WIDTHxHEIGHT, got '60'" in capsys.readouterr().err


# ---- a tiny run of the whole script, convcli only ---------------------------------------------------------------

def test_tiny_run_without_vips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "streaming.md"
    text = bench.main(["--workdir", str(tmp_path / "work"), "--out", str(report), "--no-peers", "--size", "200",
                       "--width", "200", "--heights", "128,256", "--jpeg-size", "120x80", "--tile", "64",
                       "--repeats", "1", "--big-repeats", "1", "--warmup", "0", "--big-outputs", "deflate"])
    assert report.read_text(encoding="utf-8") == text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0][0] == "| case" and len(rows) == 1 + 1 + 3 + 2
    labels = [row[0].removeprefix("| ") for row in rows[1:]]
    assert labels[0] == "200×200 grey tiled TIFF, gaussian:sigma=3 → tiled TIFF (deflate)"
    assert labels[1] == "120×80 (0.0096 MP) RGB JPEG, -k sobel:axis=both → JPEG"
    assert labels[-1] == "200×256 grey tiled TIFF, gaussian:sigma=2, laplacian, max pool 2 → tiled TIFF"
    for row in rows[1:]:
        assert float(row[1]) > 0 and float(row[2]) > 0  # convcli peak MiB and seconds
        assert row[3:6] == ["—", "—", "—"]  # no vips
    assert rows[1][-1] == "peak yes; time not measured (no vips) |"
    assert not list((tmp_path / "work" / "out").glob("*_convcli.*"))  # outputs removed
