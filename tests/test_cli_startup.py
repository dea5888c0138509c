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
