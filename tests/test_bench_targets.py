"""benchmarks/bench_targets.py (issue 15's one command) and the targets panel of benchmarks/chart.py.

The pieces on tiny inputs: goals and the met? column, interleaving, the regret children's tables, the
report read back by the chart, and small real runs of convcli against a fake peer.  No timing is asserted.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _load("bench_targets")
common = sys.modules["common"]  # imported by bench_targets from benchmarks/
chart = _load("chart")

#: a stand-in for the vips command: `gaussblur IN OUT SIGMA` copies IN to OUT; `fail` exits 1
FAKE_VIPS = """\
import shutil, sys
if sys.argv[1] != "gaussblur":
    sys.exit(f"fake vips: {sys.argv[1]}: boom")
shutil.copyfile(sys.argv[2], sys.argv[3])
"""


def _fake_vips(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_vips.py"
    script.write_text(FAKE_VIPS)
    return [sys.executable, str(script)]


def _tools(tmp_path: Path) -> object:
    return bench.Tools(bench.convcli_command(), vips=_fake_vips(tmp_path))


# ---- goals, rows, interleaving --------------------------------------------------------------------------------

def test_goals_print_parse_and_judge() -> None:
    at_most, band = common.Goal(1.3), common.Goal(1.1, 0.9)
    assert (str(at_most), str(band)) == ("≤ 1.3", "0.9–1.1")
    assert common.Goal.parse("≤ 1.3") == at_most and common.Goal.parse(" 0.9–1.1 ") == band
    assert common.Goal.parse("0.5-2") == common.Goal(2.0, 0.5)
    assert common.Goal.parse("fast") is None and common.Goal.parse("") is None
    assert at_most.met(1.3) and not at_most.met(1.31) and at_most.met(0.01)
    assert band.met(1.0) and not band.met(0.89) and not band.met(1.11)


def test_target_cells_say_met_missed_or_why_not() -> None:
    met = bench.Target("a", "1 s", "peer 2 s", 0.5, common.Goal(1.0))
    missed = bench.Target("b", "3 s", "peer 2 s", 1.5, common.Goal(1.0))
    absent = bench.Target("c", "3 s", "—", None, common.Goal(1.0), "libvips not installed")
    assert met.cells() == ["a", "1 s", "peer 2 s", "0.50", "≤ 1", "yes"]
    assert missed.cells()[-1] == "**no**"
    assert absent.cells()[3:] == ["—", "≤ 1", "not measured: libvips not installed"]


def test_read_table_picks_the_table_by_its_first_column() -> None:
    text = "intro\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\nprogress line\n| x | y |\n| --- | --- |\n| 3 | 4 |\n| 5 |\n"
    assert common.read_table(text, "x") == [{"x": "3", "y": "4"}]
    assert common.read_table(text, "a") == [{"a": "1", "b": "2"}]
    assert common.read_table(text, "z") == []


def test_run_rounds_interleaves_skips_warmups_and_notes_a_failure() -> None:
    calls: list[str] = []
    clock = iter(range(1, 100))

    def fake(commands):
        calls.append(commands[0][0])
        if commands[0][0] == "b" and calls.count("b") == 3:
            raise bench.MeasureError("b exited 2:\n  boom")
        return bench.Run(float(next(clock)), 10.0)

    out = bench.run_rounds({"a": [["a"]], "b": [["b"]]}, repeats=3, warmup=1, measure_fn=fake)
    assert calls == ["a", "b", "a", "b", "a", "b", "a"]
    assert [r.seconds for r in out["a"].runs] == [3.0, 5.0, 6.0]  # the warm-up (1.0) is not counted
    assert out["a"].seconds == 5.0 and out["b"].seconds is None
    assert out["b"].error == "b exited 2: boom"


def test_versus_divides_medians_and_says_what_is_missing() -> None:
    mine = bench.Outcome([bench.Run(3.0, 1.0), bench.Run(1.0, 1.0), bench.Run(2.0, 1.0)])
    theirs = bench.Outcome([bench.Run(4.0, 1.0)])
    target = bench.versus("t", mine, theirs, 1.3, peer="vips")
    assert (target.ratio, target.convcli, target.peer, target.why_not) == (0.5, "2.00 s", "vips 4.00 s", None)
    assert bench.versus("t", mine, None, 1.3, peer="vips").why_not == bench.VIPS_MISSING
    broken = bench.Outcome(error="exited 1: boom")
    assert bench.versus("t", mine, broken, 1.3, peer="vips").why_not == "vips: exited 1: boom"
    assert bench.versus("t", broken, theirs, 1.3, peer="vips").cells()[-1] == "not measured: convcli: exited 1: boom"


def test_child_env_drops_bytecode_setting_and_sets_openblas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    unset, one = bench.child_env(None), bench.child_env("1")
    assert "PYTHONDONTWRITEBYTECODE" not in unset and "OPENBLAS_NUM_THREADS" not in unset
    assert one["OPENBLAS_NUM_THREADS"] == "1" and "PYTHONDONTWRITEBYTECODE" not in one
    assert one["PATH"] == unset["PATH"]


def test_shown_names_tools_and_files(tmp_path: Path) -> None:
    tools = bench.Tools(["/venv/bin/convcli"], python="/venv/bin/python", vips=["/usr/bin/vips"])
    assert bench.shown(["/venv/bin/convcli", "apply", str(tmp_path / "a.png"), "-k", "1 2; 3 4"], tools,
                       tmp_path) == "convcli apply a.png -k '1 2; 3 4'"
    assert bench.shown(["/usr/bin/vips", "gaussblur", "/else/b.jpg"], tools, tmp_path) == "vips gaussblur /else/b.jpg"
    assert bench.shown(["/venv/bin/python", "-c", "import x\nx()"], tools, tmp_path) == "python -c SCRIPT"


def test_parse_args_refuses_unknown_sections(capsys: pytest.CaptureFixture[str]) -> None:
    args = bench.parse_args(["--sections", "png,engine", "--quick"])
    assert (args.sections, args.quick, args.out) == (["png", "engine"], True, None)
    assert bench.parse_args([]).sections == list(bench.SECTIONS)
    with pytest.raises(SystemExit):
        bench.parse_args(["--sections", "png,speed"])
    assert "unknown section(s) speed; choose from engine, library" in capsys.readouterr().err


# ---- the regret children ----------------------------------------------------------------------------------------

_REGRET_MD = """Auto chooser regret (median of 3 interleaved runs, float32); 2026-11-22; ...

| image | kernel | kind | auto chose | fastest | auto ms | fastest ms | regret |
| --- | --- | --- | --- | --- | --- | --- | --- |
| 256² | 3×3 | separable | separable | separable | 1.6 | 0.8 | {a} |
| 256² | 3×3 | random | direct | direct | 3.6 | 1.5 | 1.10 |
| 512² | 3×3 | separable | separable | direct | 3.0 | 1.6 | 0.95 |
| 512² | 3×3 | random | direct | separable | 3.2 | 1.9 | {b} |

Worst regret: 9.99
"""


def test_regret_runs_two_children_and_reports_the_worst_cells(tmp_path: Path) -> None:
    seen = []

    def runner(command, *, env, **_):
        seen.append((command, env.get("OPENBLAS_NUM_THREADS"), "PYTHONDONTWRITEBYTECODE" in env))
        out = Path(command[command.index("--out") + 1])
        values = {"a": "1.05", "b": "1.38"} if env.get("OPENBLAS_NUM_THREADS") is None else {"a": "1.21", "b": "1.19"}
        out.write_text(_REGRET_MD.format(**values), encoding="utf-8")
        return subprocess.CompletedProcess(command, 0, "", "")

    s = bench.Settings(regret_groups=(((256, 512), 3),), regret_kernels=(3,))
    section = bench.regret_section(s, bench.Tools(["convcli"]), tmp_path, runner=runner)
    assert [(blas, dont) for _, blas, dont in seen] == [(None, False), ("1", False)]
    command = seen[0][0]
    assert command[1].endswith("bench_regret.py")
    assert command[2:] == ["--sizes", "256", "512", "--kernels", "3", "--repeats", "3", "--out", command[-1]]
    unset, one = section.targets
    assert (unset.ratio, one.ratio) == (1.38, 1.21)
    assert unset.convcli == "1.38: 512², 3×3 random (auto direct, fastest separable)"
    assert (unset.met, one.met) == ("**no**", "**no**")
    assert "| 256² | 1.10 (3×3 random) | 1.21 (3×3 separable) |" in section.detail
    assert "| 512² | **1.38** / 0.95 |" not in section.detail  # separable first, then random
    assert "| 512² | 0.95 / **1.38** |" in section.detail


def test_regret_child_failure_is_a_note_not_a_crash(tmp_path: Path) -> None:
    def runner(command, **_):
        return subprocess.CompletedProcess(command, 1, "", "Traceback ...\nImportError: no convcli")

    s = bench.Settings(regret_groups=(((256,), 1),), regret_kernels=(3,))
    section = bench.regret_section(s, bench.Tools(["convcli"]), tmp_path, runner=runner)
    assert [t.ratio for t in section.targets] == [None, None]
    assert section.targets[0].met == "not measured: bench_regret.py exited 1: Traceback ... ImportError: no convcli"


# ---- the report and the chart -------------------------------------------------------------------------------------

def _sections() -> list:
    return [
        bench.Section("1. A", [bench.Target("fast thing", "1 s", "peer 2 s", 0.5, common.Goal(1.3)),
                               bench.Target("slow thing", "3 s", "peer 1 s", 3.0, common.Goal(1.0))], "detail A"),
        bench.Section("2. B", [bench.Target("same", "1 ms", "1 ms", 1.04, common.Goal(1.1, 0.9)),
                               bench.Target("absent", "1 s", "—", None, common.Goal(1.0), "no vips")], "detail B",
                      ["a note"]),
    ]


def test_report_has_the_header_the_summary_and_the_details() -> None:
    text = bench.report(_sections(), settings=bench.QUICK, seconds=90.0)
    lines = text.splitlines()
    assert lines[0].startswith("Machine and versions: ") and "libvips" in lines[0] and "git" in lines[0]
    for name in ("Python", "NumPy", "Pillow", "OPENBLAS_NUM_THREADS"):
        assert name in lines[0]
    assert "--quick" in lines[2] and "1.5 min" in lines[2] and "PYTHONDONTWRITEBYTECODE removed" in lines[2]
    assert lines[4] == "| target | convcli | peer | ratio | goal | met? |"
    assert lines[6] == "| fast thing | 1 s | peer 2 s | 0.50 | ≤ 1.3 | yes |"
    assert lines[9] == "| absent | 1 s | — | — | ≤ 1 | not measured: no vips |"
    assert "Met: 2 of 3 measured targets (1 not measured)." in text
    assert "## 2. B\n\ndetail B\n\n- a note" in text


def test_chart_reads_the_targets_back(tmp_path: Path) -> None:
    path = tmp_path / "targets.md"
    path.write_text(bench.report(_sections(), settings=bench.FULL, seconds=60.0), encoding="utf-8")
    assert chart.read_targets(path) == [("fast thing", 0.5, common.Goal(1.3)), ("slow thing", 3.0, common.Goal(1.0)),
                                        ("same", 1.04, common.Goal(1.1, 0.9))]


def _goal_pixels(path: Path) -> int:
    """Pixels of the goal ticks' colour (#1d3557)."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    return int(np.count_nonzero(np.abs(rgb - [0x1D, 0x35, 0x57]).sum(axis=2) < 30))


def test_chart_draws_targets_with_goals_deterministically(tmp_path: Path) -> None:
    path = tmp_path / "targets.md"
    path.write_text(bench.report(_sections(), settings=bench.FULL, seconds=60.0), encoding="utf-8")
    engine = "| case | implementation | median ms | convcli auto / peer |\n| --- | --- | --- | --- |\n" \
             "| box | cv2.blur | 10.0 | 2.50 |\n| box | cv2.boxFilter | 10.0 | 2.40 |\n"
    (tmp_path / "engine.md").write_text(engine, encoding="utf-8")
    chart.main(["--targets", str(path), "--out", str(tmp_path / "a.png")])  # the targets alone
    chart.main(["--targets", str(path), "--out", str(tmp_path / "b.png")])
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert _goal_pixels(tmp_path / "a.png") > 50
    chart.main(["--engine", str(tmp_path / "engine.md"), "--out", str(tmp_path / "c.png")])  # + targets.md beside
    with Image.open(tmp_path / "a.png") as one, Image.open(tmp_path / "c.png") as both:
        assert both.size[1] > one.size[1]  # a second panel
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "engine.md").write_text(engine, encoding="utf-8")
    chart.main(["--engine", str(alone / "engine.md")])
    assert _goal_pixels(alone / "ratios.png") == 0  # the engine's panel has no goals


# ---- small real runs ------------------------------------------------------------------------------------------------

def test_png_section_against_a_fake_vips(tmp_path: Path) -> None:
    s = bench.Settings(photo=(48, 32), e2e_repeats=1, e2e_warmup=0)
    section = bench.png_section(s, _tools(tmp_path), tmp_path)
    timing, size = section.targets
    assert timing.ratio is not None and timing.ratio > 0 and str(timing.goal) == "≤ 1"
    assert timing.peer.startswith("vips gaussblur 2.5 ")
    rows = common.read_table(section.detail, "tool")
    assert [r["tool"] for r in rows] == ["convcli", "vips gaussblur 2.5"]
    source = (tmp_path / "photo_48x32.png").stat().st_size
    mine, theirs = (int(r["output bytes"].replace(",", "")) for r in rows)
    assert theirs == source  # the fake copies its input
    assert size.ratio == pytest.approx(mine / theirs)
    with Image.open(tmp_path / "photo_48x32.png") as im:
        assert (im.size, im.mode) == ((48, 32), "RGB")
    assert not list((tmp_path / "out").glob("png_*"))  # outputs removed


def test_a_failing_peer_is_noted(tmp_path: Path) -> None:
    s = bench.Settings(photo=(48, 32), e2e_repeats=1, e2e_warmup=0)
    tools = bench.Tools(bench.convcli_command(), vips=[*_fake_vips(tmp_path), "fail"])
    timing, size = bench.png_section(s, tools, tmp_path).targets
    assert timing.ratio is None and "fake vips: fail: boom" in timing.met
    assert size.ratio is None


def test_without_vips_convcli_is_measured_alone(tmp_path: Path) -> None:
    s = bench.Settings(photo=(48, 32), e2e_repeats=1, e2e_warmup=0)
    section = bench.png_section(s, bench.Tools(bench.convcli_command()), tmp_path)
    timing, size = section.targets
    assert timing.ratio is None and timing.met == f"not measured: {bench.VIPS_MISSING}"
    assert timing.convcli != "— s" and float(timing.convcli.removesuffix(" s")) > 0
    assert size.ratio is None
    assert [r["tool"] for r in common.read_table(section.detail, "tool")] == ["convcli"]


def test_batch_section_checks_every_output(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (24, 16), (40 * i, 90, 200)).save(folder / f"p{i}.jpg")
    s = bench.Settings(batch_repeats=1)
    section = bench.batch_section(s, _tools(tmp_path), tmp_path, folder)
    (target,) = section.targets
    assert target.ratio is not None and target.label.startswith("Batch of 3 12-MP JPEGs (--quick; the target is 100)")
    assert "`xargs -0 -P2 -n3 -a batch_vips.args vips gaussblur`" in section.detail
    assert not (tmp_path / "out" / "batch_convcli").exists()


def test_library_section_runs_both_paths_to_the_same_array(tmp_path: Path) -> None:
    s = bench.Settings(plane=(40, 50), library_repeats=1)
    section = bench.library_section(s, bench.Tools(bench.convcli_command()), tmp_path,
                                    measure_fn=lambda _: bench.Run(1.0, 10.0))
    assert [t.label.split(",")[1].strip() for t in section.targets] == ["Gaussian σ=2.5 (15x15)", "random 61x61"]
    assert all(t.ratio is not None and t.ratio > 0 for t in section.targets)
    rows = common.read_table(section.detail, "kernel")
    assert [r["same output"] for r in rows] == ["yes", "yes"]
    assert [r["difference s"] for r in rows] == ["+0.00", "+0.00"]


def test_engine_section_holds_each_case_to_its_peers() -> None:
    s = bench.Settings(plane=(64, 80), engine_repeats=1, crop=(40, 48))
    section, auto = bench.engine_section(s)
    labels = [t.label for t in section.targets]
    assert labels[0] == "Engine Laplacian 3x3: auto / cv2.filter2D"
    assert labels[-1] == "Engine random 61x61 on a 40×48 crop: auto / ndimage.correlate"
    assert len(labels) == sum(len(v) for v in bench.ENGINE_TARGETS.values()) + 1
    assert [str(t.goal) for t in section.targets[:2]] == ["≤ 1.1", "≤ 0.5"]
    assert all(t.ratio is not None and t.ratio > 0 for t in section.targets)
    assert set(auto) == set(bench.ENGINE_TARGETS)
