"""The same mistake gives the same exit code and the same words in every command (issue 11)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from convcli.cli import app

#: each command's minimal valid invocation, to which one bad option is added
BASE = {
    "apply": ["apply", "in.png", "-k", "box", "-o", "out.png"],  # options are checked before the file is looked at
    "outsize": ["outsize", "224", "-k", "3"],
    "explain": ["explain", "-i", "1 2 3; 4 5 6; 7 8 9", "-k", "1 0; 0 1"],
}

#: a bad value, the commands that take that option, and the exact message
CASES = [
    (["--stride", "0"], ["apply", "outsize", "explain"],
     "Error: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'"),
    (["--stride", "1x2x3"], ["apply", "outsize", "explain"],
     "Error: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '1x2x3'"),
    (["--dilation", "0"], ["apply", "outsize", "explain"],
     "Error: --dilation must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'"),
    (["--pad", "-1"], ["apply", "outsize", "explain"],
     "Error: --pad must be same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1) with integers >= 0, "
     "got '-1'"),
    (["--border", "mirror"], ["apply", "explain"], None),
    (["--border", "bogus"], ["apply", "explain"], None),
    (["--pool", "max:size=0"], ["apply", "outsize", "explain"], None),
    (["--pool", "max:size=3,pad=2"], ["apply", "outsize", "explain"],
     "Error: pooling pad must be at most half the window (pad <= size // 2, as PyTorch), got pad=2 for a 3-row "
     "window"),
    # (outsize also takes the name `pool`, for sizes only, and its message lists it)
    (["--pool", "median"], ["apply", "explain"],
     "Error: --pool 'median': the operation must be max, mean or min, e.g. max:size=2"),
]


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


@pytest.mark.parametrize(("bad", "commands", "message"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_same_bad_value_same_code_and_words(bad, commands, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    answers = {}
    for command in commands:
        code, stderr = _run([*BASE[command], *bad])
        assert code == 2, f"{command} {bad}: exit {code}, {stderr}"
        assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
        answers[command] = stderr.strip()
    assert len(set(answers.values())) == 1, answers
    if message is not None:
        assert next(iter(answers.values())) == message
    assert not (tmp_path / "out.png").exists()


def test_the_base_invocations_are_valid(tmp_path, monkeypatch):
    """The comparisons above are about the bad option alone: without it, each command succeeds."""
    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in.png")
    for args in BASE.values():
        code, stderr = _run(args)
        assert code == 0, (args, stderr)


def test_a_bad_kernel_is_exit_1_in_every_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    answers = set()
    for args in (["apply", "in.png", "-k", "gausian", "-o", "out.png"], ["outsize", "224", "-k", "gausian"],
                 ["explain", "-i", "1 2; 3 4", "-k", "gausian"], ["kernels", "show", "gausian"]):
        code, stderr = _run(args)
        assert code == 1, (args, stderr)
        answers.add(stderr.strip())
    assert len(answers) == 1, answers
    assert "did you mean 'gaussian'?" in answers.pop()
