"""`convcli --version` and `--help` start without NumPy or Pillow (issue 6's start-up rule)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
sys.argv = ["convcli", {flag!r}]
from convcli.cli import main
try:
    main()
except SystemExit:
    pass
print("numpy" in sys.modules, "PIL" in sys.modules)
"""


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_neither_numpy_nor_pillow(flag):
    out = subprocess.run([sys.executable, "-c", PROBE.format(flag=flag)], capture_output=True, text=True,
                         check=True, env={"COLUMNS": "100", "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "False False", out.stdout


# `convcli apply` of one small file loads only what it uses (issue 15): the other commands, Rich (nothing is
# printed), the process pool (one file runs in this process), Pillow's plugins beyond PNG/JPEG/BMP/GIF/PPM
# (Image.preinit's: the input's extension needs no list of every format), and json (no --json) stay unimported.
NOT_LOADED_BY_APPLY = (
    "convcli.cli.explain", "convcli.cli.kernels", "convcli.cli.learn", "convcli.cli.outsize",
    "rich", "concurrent.futures.process", "multiprocessing", "json",
    "PIL.TiffImagePlugin", "PIL.WebPImagePlugin", "PIL.PdfImagePlugin", "PIL.IcnsImagePlugin", "PIL.features",
)

APPLY_PROBE = """
import sys
sys.argv = ["convcli", "apply", "in.png", "-k", "gaussian:sigma=2", "-o", "out.png", *{extra!r}]
from convcli.cli import main
try:
    main()
except SystemExit as done:
    print("exit", done.code)
print(" ".join(sorted(sys.modules)))
"""


def _apply_modules(tmp_path, extra: tuple[str, ...]) -> tuple[list[str], set[str], str]:
    """What the probe printed on stdout before the module list, the modules loaded, and stderr."""
    out = subprocess.run([sys.executable, "-c", APPLY_PROBE.format(extra=extra)], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env={"COLUMNS": "100", "PATH": ""})
    *lines, modules = out.stdout.strip().splitlines()
    return lines, set(modules.split()), out.stderr


@pytest.mark.parametrize("extra", [(), ("--quiet",)], ids=["default", "quiet"])
def test_apply_of_one_png_loads_only_what_it_uses(tmp_path, extra):
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 90)).save(tmp_path / "in.png")
    lines, modules, stderr = _apply_modules(tmp_path, extra)
    assert lines == ["exit 0"] and stderr == ""
    with Image.open(tmp_path / "out.png") as written:  # it did the work: a 64x48 RGB PNG, the flat colour kept
        assert (written.format, written.size, written.mode) == ("PNG", (64, 48), "RGB")
        assert written.getpixel((31, 23)) == (200, 30, 90)
    assert {"numpy", "PIL.Image", "PIL.PngImagePlugin", "convcli.cli.apply"} <= modules  # the probe sees imports
    assert sorted(m for m in modules if m in NOT_LOADED_BY_APPLY or m.split(".")[0] == "rich") == []


def test_a_failed_file_is_still_reported_through_rich(tmp_path):
    """The console is made when something is printed: a failure still prints its one ``Error:`` line."""
    (tmp_path / "in.png").write_bytes(b"not a png")
    lines, modules, stderr = _apply_modules(tmp_path, ("--quiet",))
    assert lines == ["exit 1"] and "rich.console" in modules
    [line] = stderr.splitlines()  # one line, as before the console was made lazily (tests/test_messages.py has it)
    assert line.startswith("Error: in.png: not an image")
    assert not (tmp_path / "out.png").exists()


COMMANDS_PROBE = """
import sys
sys.argv = ["convcli", *{args!r}]
from convcli.cli import main
try:
    main()
except SystemExit:
    pass
import typer.main
from convcli.cli import app
group = typer.main.get_command(app)
print(" ".join(group.list_commands(None)))
"""


@pytest.mark.parametrize("args", [["seq", "1,2", "3"], ["kernels"], ["outsize", "8x8", "conv:k=3"]])
def test_after_running_one_command_the_app_has_every_command_in_help_order(args):
    out = subprocess.run([sys.executable, "-c", COMMANDS_PROBE.format(args=args)], capture_output=True, text=True,
                         check=True, env={"COLUMNS": "100", "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "apply explain seq multiply outsize kernels"
