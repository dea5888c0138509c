"""Messages and listings that speak to users (issue 12, items 16 and 17).

Each message names what came and what to write instead; help texts use the name of a concept, never a
reference to the notes convcli was built from; ``convcli kernels`` and ``outsize --explain`` keep every spec,
value and formula step whole on an 80-column terminal, and carry no padding when piped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rich.cells import cell_len
from typer.testing import CliRunner

from convcli.cli import app
from convcli.errors import ParameterError
from convcli.kernels import kernel, named_kernels

runner = CliRunner()


def run(*args: str, columns: int | None = 200, input: str | None = None) -> Any:
    """Invoke ``convcli …``; ``columns=None`` is a pipe (no COLUMNS, stdout not a terminal)."""
    env = {"COLUMNS": None if columns is None else str(columns)}
    return runner.invoke(app, list(args), env=env, input=input)


def image(path: Path) -> Path:
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(path)
    return path


# --- item 16: messages that mislead ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fix"),
    [("gaussian:2", "'gaussian:sigma=2'"), ("sobel:y", "'sobel:axis=y'"), ("box:5", "'box:size=5'")],
)
def test_a_value_without_its_key_is_shown_with_the_parameter_it_sets(spec, fix):
    with pytest.raises(ParameterError, match=rf"^kernel '{spec}': '{spec.split(':')[1]}' is not key=value: name "
                                             rf"the parameter it sets, e.g. {re.escape(fix)} \(parameters: "):
        kernel(spec)


def test_gaussian_2_on_the_command_line_says_sigma_2(tmp_path):
    result = run("apply", str(image(tmp_path / "in.png")), "-o", str(tmp_path / "out.png"), "-k", "gaussian:2")
    assert result.exit_code != 0
    assert "e.g. 'gaussian:sigma=2' (parameters: sigma, sigma_y, radius)" in result.stderr
    assert "2=3" not in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gaussian:sigma", "'sigma' is not key=value: the value is missing; write 'gaussian:sigma=VALUE'"),
        ("sobel:axis=", "'axis=' is not key=value: the value is missing; write 'sobel:axis=VALUE'"),
        ("gaussian:=2", "'=2' is not key=value: the key is missing; write 'gaussian:sigma=2'"),
        ("box:size=3,", "'' is not key=value (a stray comma?); separate key=value pairs with commas"),
    ],
)
def test_a_half_pair_says_which_half_is_missing(spec, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        kernel(spec)


def test_outdir_that_is_a_file_is_named_as_a_file(tmp_path):
    src = image(tmp_path / "in.png")
    before = src.read_bytes()
    result = runner.invoke(app, ["apply", str(src), "-k", "box", "--outdir", str(src)])
    assert result.exit_code == 1
    assert f"cannot create the folder '{src}': it is a file, not a folder; give --outdir a folder" in result.stderr
    assert "permission" not in result.stderr
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_a_file_in_the_way_below_outdir_is_named(tmp_path):
    src = image(tmp_path / "in.png")
    (tmp_path / "out").write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["apply", str(src), "-k", "box", "--outdir", str(tmp_path / "out" / "sub")])
    assert result.exit_code == 1
    assert f"'{tmp_path / 'out'}' is a file, not a folder" in result.stderr and "permission" not in result.stderr


@pytest.mark.parametrize(("args", "stdin"), [(["-", "137"], "42\n"), (["42", "-"], "1\n37\n")])
def test_multiply_reads_stdin_like_seq(args, stdin):
    result = run("multiply", *args, input=stdin)
    assert result.exit_code == 0, result.output
    assert result.stdout == "5754\n"


def test_multiply_stdin_errors():
    result = run("multiply", "-", "-", input="1\n")
    assert result.exit_code == 2 and "only one of A and B can come from stdin (-)" in result.stderr
    result = run("multiply", "-", "2", input="12\n3x\n")
    assert result.exit_code == 1
    assert result.stderr == ("Error: A: stdin, line 2, column 2: 'x' is not a digit; stdin should hold one "
                             "non-negative decimal integer (line breaks and spaces are ignored)\n")
    result = run("multiply", "-", "2", input=" \n")
    assert result.exit_code == 1
    assert result.stderr == "Error: A: stdin is empty; it should hold the digits of a number\n"


#: a citation of the reference notes instead of the concept's name
_NOTES = re.compile(r"\bseeds? ?\d{3}|\bthe notes\b|\bnotes'", flags=re.IGNORECASE)

_HELP = [["apply"], ["explain"], ["seq"], ["multiply"], ["outsize"], ["kernels"], ["kernels", "show"]]


@pytest.mark.parametrize("command", _HELP, ids=" ".join)
def test_help_speaks_of_concepts_not_of_the_notes(command):
    result = run(*command, "--help", columns=300)
    assert result.exit_code == 0, result.output
    text = re.sub(r"[\s│]+", " ", result.stdout)
    assert not _NOTES.search(text), _NOTES.search(text)


def test_explain_output_speaks_of_concepts_not_of_the_notes():
    result = run("explain", "-i", "1 2 3; 4 5 6; 7 8 9", "-k", "1 0; 0 1", "--pad", "1", "--backward")
    assert result.exit_code == 0, result.output
    assert not _NOTES.search(result.stdout), _NOTES.search(result.stdout)
    assert "backward pass (backpropagation)" in result.stdout
    assert "N = (O + 2P - K) / S + 1  (rounded down when S does not divide)" in result.stdout


# --- item 17: listings on an 80-column terminal and in a pipe -------------------------------------------


def _tokens(text: str) -> set[str]:
    return set(text.split())


def _check_layout(stdout: str, width: int | None) -> None:
    lines = stdout.splitlines()
    assert lines
    assert [line for line in lines if line != line.rstrip()] == []  # no padding
    if width is not None:
        assert [line for line in lines if cell_len(line) > width] == []


@pytest.mark.parametrize("columns", [80, 60, None], ids=["80 columns", "60 columns", "piped"])
def test_kernels_list_keeps_every_spec_and_value_whole(columns):
    result = run("kernels", columns=columns)
    assert result.exit_code == 0, result.output
    _check_layout(result.stdout, columns)
    shown = _tokens(result.stdout)
    for entry in named_kernels():
        assert entry.name in shown
        for param in entry.params:
            assert f"{param.name}={param.default}" in shown  # e.g. radius=int(4*max(sigma1,sigma2)+0.5)
        for paragraph in (entry.summary, entry.operator or ""):
            assert _tokens(paragraph) <= shown, _tokens(paragraph) - shown  # no word split mid-way
    assert '"1 2 1; 0 0 0; -1 -2 -1"' in result.stdout


def test_kernels_list_keeps_the_table_on_a_wide_terminal():
    lines = run("kernels", columns=200).stdout.splitlines()
    assert any(re.match(r"\s+name\s+parameters \(default\)\s+definition$", line) for line in lines)
    assert any(re.match(r"\s+gaussian\s+sigma=1\s+exp\(", line) for line in lines)


_CHAIN = ["224", "conv:k=7,s=2,p=3", "pool:k=3,s=2,p=1", "conv:k=3x5,s=1x2,p=same,d=2", "pool:k=2,ceil=true"]


@pytest.mark.parametrize("columns", [80, None], ids=["80 columns", "piped"])
def test_outsize_explain_keeps_every_spec_and_formula_step_whole(columns):
    result = run("outsize", *_CHAIN, "--explain", columns=columns)
    assert result.exit_code == 0, result.output
    _check_layout(result.stdout, columns)
    shown = _tokens(result.stdout)
    assert set(_CHAIN[1:]) <= shown
    data = run("outsize", *_CHAIN, "--json").stdout
    assert '"output": [28, 14]' in data
    text = re.sub(r"\s+", " ", result.stdout)
    for formula in ("floor((224 + 2*3 - 7) / 2) + 1", "floor(55/2) + 1 = 28", "ceil((28 - 2) / 2) + 1",
                    "(56 + 2*2 - 2*(3-1) - 1) + 1 = 56"):
        assert formula in text
    for line in result.stdout.splitlines():  # a step of a formula is never cut: a line never ends in an operator
        assert not re.search(r"[-+*/(]$", line), line


def test_outsize_explain_on_80_columns_lists_the_formulas_under_the_table():
    lines = run("outsize", *_CHAIN, "--explain", columns=80).stdout.splitlines()
    assert lines[0] == "224x224 -> 28x14"
    assert "formulas (output size of each layer, per axis)" in lines
    assert "  1  H, W: floor((224 + 2*3 - 7) / 2) + 1 = floor(223/2) + 1 = 112" in lines
    assert "     W: floor((56 + 2*4 - 2*(5-1) - 1) / 2) + 1 = floor(55/2) + 1 = 28" in lines


@pytest.mark.parametrize("columns", [80, None], ids=["80 columns", "piped"])
def test_kernels_show_wraps_its_notes_at_words(columns):
    result = run("kernels", "show", "sobel:axis=both", columns=columns)
    assert result.exit_code == 0, result.output
    _check_layout(result.stdout, columns)
    reasons = [part["method"]["reason"] for part in kernel_info_parts("sobel:axis=both")]
    text = re.sub(r"\s+", " ", result.stdout)
    for reason in reasons:
        assert reason in text


def kernel_info_parts(spec: str) -> list[dict[str, Any]]:
    from convcli.kernels import kernel_info

    return kernel_info(spec)["components"]
