"""Issue 23: every install command convcli prints or documents works where convcli is on no package index.

``pip install 'convcli[formats]'`` resolves nothing from a clone; the messages and docs give
``pip install '.[formats]'`` and, for cluster workers, a wheel built once and installed with its extra.
The commands the messages print are run here (offline, ``--dry-run``) to show that pip accepts them.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from convcli.batch import scheduler
from convcli.imageio import _extra

ROOT = Path(__file__).resolve().parent.parent
#: where the words may be found: the package's messages and docstrings, the README and the docs
TEXTS = [*sorted((ROOT / "src" / "convcli").rglob("*.py")), ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_no_text_tells_to_install_convcli_from_an_index():
    """``convcli[extra]`` is named only after ``--find-links`` (a local wheel) or as what does not work."""
    found = []
    for path in TEXTS:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"convcli\[\w+\]", text):
            before = text[max(0, match.start() - 120): match.start()]
            after = text[match.end(): match.end() + 40]
            if "--find-links" in before or "alone finds nothing" in after:
                continue
            found.append(f"{path.relative_to(ROOT)}: …{before[-60:]}{match.group()}")
    assert found == []


def test_the_formats_message_gives_the_command_from_a_clone():
    message = _extra.missing_extra("zarr")
    assert "pip install '.[formats]'" in message and "source folder" in message


def test_the_dask_message_gives_the_clone_and_the_wheel_commands(monkeypatch):
    from convcli.errors import ClusterError

    monkeypatch.setitem(sys.modules, "distributed", None)  # dask.distributed not installed
    with pytest.raises(ClusterError) as caught:
        scheduler._distributed()
    message = str(caught.value)
    assert "pip install '.[dask]'" in message
    assert "pip wheel --no-deps . -w dist" in message
    assert "pip install --find-links dist 'convcli[dask]'" in message


def _pip_commands(message: str) -> list[list[str]]:
    return [shlex.split(m) for m in re.findall(r"pip (?:install|wheel) [^;)]*?(?=(?: in | on each|;|\)|$))", message)]


@pytest.mark.slow
def test_the_printed_commands_work_from_a_clone(tmp_path):
    """Run what the messages print, in a copy of the source folder, offline and as a dry run."""
    clone = tmp_path / "convcli"
    clone.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, clone / name)
    shutil.copytree(ROOT / "src", clone / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    offline = ["--no-index", "--no-deps", "--no-build-isolation", "--disable-pip-version-check"]

    def run(words: list[str], *extra: str) -> dict:
        report = tmp_path / "report.json"
        args = [*pip, *words[1:], *offline, *extra]
        if words[1] == "install":
            args += ["--dry-run", "--ignore-installed", "--report", str(report)]
        done = subprocess.run(args, cwd=clone, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return json.loads(report.read_text()) if words[1] == "install" else {}

    (formats,) = _pip_commands(_extra.EXTRA_HINT)
    installed = run(formats)["install"]
    assert [(i["metadata"]["name"], i["requested_extras"]) for i in installed] == [("convcli", ["formats"])]

    clone_install, wheel, worker = _pip_commands(scheduler.INSTALL_HINT)
    assert run(clone_install)["install"][0]["requested_extras"] == ["dask"]
    run(wheel)
    (built,) = (clone / "dist").glob("convcli-*.whl")
    installed = run(worker)["install"]
    assert len(installed) == 1 and installed[0]["download_info"]["url"].endswith(built.name)
    assert installed[0]["requested_extras"] == ["dask"]
