"""A user's habits with batches (issue 23): scripts without the main guard, NUL-separated lists, absolute paths."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
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
