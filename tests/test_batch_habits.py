"""A user's habits with batches (issue 23): scripts without the main guard, NUL-separated lists, absolute paths."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = """\
import sys
from convcli.batch import LocalExecutor, build_recipe, plan_tasks, run_batch
{guard}recipe = build_recipe(kernels=["box:size=3"], outdir="out")
{guard_indent}tasks = plan_tasks(recipe, ["imgs"])
{guard_indent}for result in run_batch(tasks, recipe, executor=LocalExecutor(jobs=2)):
{guard_indent}    print(result.status, result.error)
"""


def _images(folder: Path, n: int = 3) -> None:
    folder.mkdir()
    for i in range(n):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(folder / f"a{i}.png")


def _script(tmp_path: Path, guarded: bool) -> subprocess.CompletedProcess:
    guard = 'if __name__ == "__main__":\n    ' if guarded else ""
    text = SCRIPT.format(guard=guard, guard_indent="    " if guarded else "")
    (tmp_path / "batch.py").write_text(textwrap.dedent(text))
    _images(tmp_path / "imgs")
    return subprocess.run([sys.executable, "batch.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_a_script_without_the_main_guard_gets_one_error_naming_it(tmp_path):
    proc = _script(tmp_path, guarded=False)
    assert proc.returncode == 1
    assert 'if __name__ == "__main__":' in proc.stderr
    assert proc.stderr.count("RuntimeError: ") == 1  # the script's own uncaught error, once
    assert "bootstrapping phase" not in proc.stderr  # no multiprocessing traceback from the workers
    assert "BrokenProcessPool" not in proc.stderr
    assert "worker process died" not in proc.stdout + proc.stderr
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True


def test_the_same_script_with_the_guard_filters_every_file(tmp_path):
    proc = _script(tmp_path, guarded=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["written", "None"] * 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a0.png", "a1.png", "a2.png"]


# --- Ctrl-C during a batch with --json: the report of what was done, every landed file counted ------------------

def _invoke_json(folder: Path, *args: str):
    from typer.testing import CliRunner

    from convcli.cli import app

    return CliRunner().invoke(app, ["apply", str(folder), "-k", "box:size=3", "--outdir", str(folder.parent / "out"),
                                    "--json", "-q", *args])


def _on_disk(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.png")) if out.exists() else []


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_ctrl_c_in_this_process_reports_json_of_every_landed_file(tmp_path, monkeypatch, step, when):
    """jobs=1: Ctrl-C at step N, before that file is filtered or after it landed but before it was recorded."""
    import json

    from convcli.batch import executor as executor_module

    _images(tmp_path / "imgs", 4)
    real, calls = executor_module.guarded, []

    def guarded(task, recipe, *, overwrite):
        calls.append(task.index)
        if len(calls) == step and when == "before":
            raise KeyboardInterrupt
        result = real(task, recipe, overwrite=overwrite)
        if len(calls) == step:
            raise KeyboardInterrupt  # the file is on disk, its result not yet recorded
        return result

    monkeypatch.setattr(executor_module, "guarded", guarded)
    result = _invoke_json(tmp_path / "imgs", "-j", "1")
    assert result.exit_code == 130
    landed = _on_disk(tmp_path / "out")
    assert len(landed) == (step if when == "after" else step - 1)
    report = json.loads(result.stdout)
    assert report["interrupted"] is True
    assert sorted(Path(f["output"]).name for f in report["files"] if f["status"] == "written") == landed
    assert report["summary"]["written"] == len(landed)
    assert f"Interrupted after {len(landed)} file(s) written" in result.stderr
    for name in landed:  # each counted file is whole: the 3x3 box of a constant image is that constant
        value = 10 * int(name[1])
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / name)), np.full((8, 8), value, np.uint8))


@pytest.mark.parametrize("step", [1, 2])
def test_ctrl_c_with_a_pool_counts_the_in_flight_files_that_finished(tmp_path, monkeypatch, step):
    """jobs=2: Ctrl-C while waiting for results, after the files in flight have all landed (at wait N)."""
    import concurrent.futures
    import json

    _images(tmp_path / "imgs", 6)
    real_wait, calls = concurrent.futures.wait, []

    def wait(futures, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
        calls.append(1)  # every file in flight finishes at each wait: the steps are the same on every run
        found = real_wait(futures, timeout=60, return_when=concurrent.futures.ALL_COMPLETED)
        if len(calls) == step:
            raise KeyboardInterrupt  # their results are in, not yet recorded
        return found

    monkeypatch.setattr(concurrent.futures, "wait", wait)
    result = _invoke_json(tmp_path / "imgs", "-j", "2")
    assert result.exit_code == 130
    landed = _on_disk(tmp_path / "out")
    assert len(landed) == (4 if step == 1 else 6)  # 2 jobs keep 4 files in flight
    report = json.loads(result.stdout)
    assert report["interrupted"] is True
    assert sorted(Path(f["output"]).name for f in report["files"] if f["status"] == "written") == landed
    assert f"Interrupted after {len(landed)} file(s) written" in result.stderr
