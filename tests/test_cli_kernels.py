"""Tests of ``convcli kernels`` and ``convcli kernels show``.

Exit codes: 0 for an answer, 1 for a spec the library refuses (one ``Error: …``
line on stderr, nothing on stdout), 2 for a usage error (Click's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from convcli.cli import app
from convcli.engine import METHODS
from convcli.kernels import kernel, named_kernels

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def run(*args: str, columns: int = 200) -> Any:
    """Invoke ``convcli kernels ...`` with a terminal ``columns`` wide (Rich reads COLUMNS)."""
    return runner.invoke(app, ["kernels", *args], env={"COLUMNS": str(columns)})


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def error(*args: str, code: int = 1) -> str:
    """Run a failing command: exact exit code, nothing on stdout; returns stderr."""
    result = run(*args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    if code == 1:
        assert result.stderr.startswith("Error: ")
        assert result.stderr.count("\n") == 1  # one line
        assert "Traceback" not in result.stderr
    return result.stderr


# --- convcli kernels ----------------------------------------------------------------


def test_list_shows_every_named_kernel_with_defaults() -> None:
    out = ok()
    for entry in named_kernels():
        assert entry.name in out
        for param in entry.params:
            assert f"{param.name}={param.default}" in out
    assert "Named kernels" in out
    assert "hypot(gx, gy)" in out  # the operator is explained
    assert "convcli kernels show SPEC" in out


def test_list_json() -> None:
    data = json.loads(ok("--json"))
    assert [d["name"] for d in data] == [k.name for k in named_kernels()]
    gaussian = data[2]
    assert gaussian["signature"] == "gaussian:sigma=1,sigma_y=sigma,radius=int(4*sigma+0.5)"
    assert [p["name"] for p in gaussian["params"]] == ["sigma", "sigma_y", "radius"]
    sigma = {"name": "sigma", "default": "1", "help": "standard deviation in pixels (> 0)"}
    assert gaussian["params"][0] == sigma
    assert gaussian["operator"] is None
    assert data[3]["operator"].startswith("axis=both")


def test_list_in_a_narrow_terminal() -> None:
    result = run(columns=60)
    assert result.exit_code == 0
    assert "identity" in result.stdout and "motion" in result.stdout


# --- convcli kernels show -------------------------------------------------------------


def test_show_named_kernel() -> None:
    out = ok("show", "sobel:axis=x")
    lines = out.splitlines()
    assert lines[0] == "sobel:axis=x  3x3"
    assert [line.split() for line in lines if line.strip()][1:4] == [["-1", "0", "1"], ["-2", "0", "2"],
                                                                     ["-1", "0", "1"]]
    assert "sum         0\n" in out
    assert "anchor      (1, 1) (the default, ((H-1)//2, (W-1)//2))\n" in out
    assert "separable   yes: rank 1, a 3-tap column times a 3-tap row\n" in out
    method = json.loads(ok("show", "sobel:axis=x", "--json"))["method"]
    assert method["name"] in METHODS[1:]
    assert f"auto method {method['name']} for a 1024x1024 float32 image: {method['reason']}\n" in out
    assert_reason_fits(method, kernel("sobel:axis=x").matrix)


def test_show_json_has_the_promised_keys() -> None:
    data = json.loads(ok("show", "laplacian:neighbors=8", "--json"))
    assert {"spec", "matrix", "anchor", "sum", "separable"} <= set(data)
    assert data["spec"] == "laplacian:neighbors=8"
    assert data["matrix"] == [[1, 1, 1], [1, -8, 1], [1, 1, 1]]
    assert data["anchor"] == [1, 1]
    assert data["sum"] == 0.0
    assert data["separable"] is False
    assert data["rank"] == 2 and data["shape"] == [3, 3] and data["offset"] == 0.0
    assert set(data["method"]) == {"name", "reason", "image_size"}
    assert data["method"]["image_size"] == [1024, 1024]
    assert_reason_fits(data["method"], np.array(data["matrix"]))


def test_show_json_matrix_is_exact() -> None:
    data = json.loads(ok("show", "gaussian:sigma=1.3", "--json"))
    np.testing.assert_array_equal(np.array(data["matrix"]), kernel("gaussian:sigma=1.3").matrix)
    assert data["separable"] is True
    assert data["anchor"] == [5, 5]


def test_show_even_kernel_anchor() -> None:
    data = json.loads(ok("show", "box:size=4x2", "--json"))
    assert data["anchor"] == [1, 0]
    assert data["sum"] == 1.0


def assert_reason_fits(method: dict[str, Any], matrix: np.ndarray) -> None:
    """The reason names facts of this kernel, computed here independently of the engine."""
    h, w = matrix.shape
    if method["name"] == "direct":
        assert f"{np.count_nonzero(matrix)} non-zero" in method["reason"]
    elif method["name"] == "separable":
        assert f"rank {np.linalg.matrix_rank(matrix)}" in method["reason"]
    else:
        assert method["name"] == "fft" and f"{h}x{w}" in method["reason"]


def random_kernel_file(folder: Path, side: int = 61) -> Path:
    """A full-rank random kernel (no zero tap, no structure): only the FFT makes it cheap on a large image."""
    path = folder / f"random{side}.npy"
    np.save(path, np.random.default_rng(61).uniform(0.5, 1.5, size=(side, side)))
    return path


@pytest.mark.parametrize(
    ("spec", "size", "expected"),
    [
        # one tap: one shift-and-add pass; a separable or FFT evaluation can only add work
        ("identity", "1024x1024", "direct"),
        # 41x41 of rank 1: 2 x 41 taps per pixel in two 1-D passes against 1681 taps of shift-and-add
        ("gaussian:sigma=5", "1024x1024", "separable"),
        # 61x61 of full rank: 3721 taps, or 61 pairs of 1-D passes, against an FFT of a megapixel
        ("@random61", "1024x1024", "fft"),
    ],
)
def test_show_reports_the_method_that_is_cheapest_by_construction(
    tmp_path: Path, spec: str, size: str, expected: str
) -> None:
    if spec == "@random61":
        spec = str(random_kernel_file(tmp_path))
    data = json.loads(ok("show", spec, "--image-size", size, "--json"))
    assert data["method"]["name"] == expected
    assert_reason_fits(data["method"], np.array(data["matrix"]))
    assert f"auto method {expected} for a {size} float32 image: " in ok("show", spec, "--image-size", size)


def test_show_image_size_changes_the_method_question(tmp_path: Path) -> None:
    path = str(random_kernel_file(tmp_path))
    large = json.loads(ok("show", path, "--image-size", "1024x1024", "--json"))["method"]
    tiny = json.loads(ok("show", path, "--image-size", "4x4", "--json"))["method"]
    assert large["name"] == "fft" and large["image_size"] == [1024, 1024]
    # 16 pixels: the FFT's fixed cost (transforming the kernel) cannot pay off
    assert tiny["name"] != "fft" and tiny["image_size"] == [4, 4]
    square = json.loads(ok("show", "box", "--image-size", "300", "--json"))
    assert square["method"]["image_size"] == [300, 300]


def test_show_normalize() -> None:
    plain = json.loads(ok("show", "1 2 1; 2 4 2; 1 2 1", "--json"))
    normalized = json.loads(ok("show", "1 2 1; 2 4 2; 1 2 1", "--normalize", "--json"))
    assert plain["sum"] == 16.0
    assert normalized["sum"] == 1.0
    assert normalized["matrix"][1] == [0.125, 0.25, 0.125]


def test_show_inline_matrix_starting_with_minus() -> None:
    out = ok("show", "--", "-1 0 1")
    assert out.splitlines()[0] == "-1 0 1  1x3"
    assert "separable   yes: rank 1, a 1-tap column times a 3-tap row\n" in out


def test_show_operator() -> None:
    out = ok("show", "sobel:axis=both")
    assert out.splitlines()[0].startswith("sobel:axis=both  3x3  operator: hypot of 2 kernels")
    assert "component 1: sobel:axis=x,size=3" in out
    assert "component 2: sobel:axis=y,size=3" in out
    data = json.loads(ok("show", "sobel:axis=both", "--json"))
    assert data["matrix"] is None and data["sum"] is None and data["separable"] is None
    assert data["combine"] == "hypot"
    assert data["anchor"] == [1, 1]
    assert [c["spec"] for c in data["components"]] == ["sobel:axis=x,size=3", "sobel:axis=y,size=3"]
    assert data["components"][1]["matrix"] == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert all(c["separable"] for c in data["components"])


def test_show_files() -> None:
    out = ok("show", str(REPO / "kernels" / "edge.mat"))
    assert "offset      128 (added to every output value)\n" in out
    assert "separable   no: rank 2\n" in out
    data = json.loads(ok("show", str(REPO / "kernels" / "blur7x7.csv"), "--normalize", "--json"))
    assert data["sum"] == pytest.approx(1.0, abs=1e-15)
    assert len(data["matrix"]) == 7


def test_show_file_anchor(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text('{"kernel": [[1, 2, 3]], "anchor": [0, 0], "offset": 2}')
    out = ok("show", f"@{path}")
    assert "anchor      (0, 0) (from the file)\n" in out
    data = json.loads(ok("show", str(path), "--json"))
    assert data["anchor"] == [0, 0] and data["offset"] == 2.0


def test_show_large_matrix_is_elided_but_json_is_complete() -> None:
    out = ok("show", "box:size=40")
    assert "(showing the corners of 40x40; --json prints every value)" in out
    assert "…" in out and "⋮" in out and "⋱" in out
    table_rows = [line for line in out.splitlines() if "0.000625" in line]
    assert len(table_rows) == 12 and all(len(line.split()) == 13 for line in table_rows)
    data = json.loads(ok("show", "box:size=40", "--json"))
    assert np.array(data["matrix"]).shape == (40, 40)


def test_matrix_is_never_squeezed_in_a_narrow_terminal() -> None:
    result = run("show", "gaussian:sigma=0.7", columns=40)
    assert result.exit_code == 0
    assert "3.42513e-09" in result.stdout  # full values, not "3.4…"
    assert "…" not in result.stdout


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gausian:sigma=2",
         "Error: unknown kernel 'gausian' in 'gausian:sigma=2'; did you mean 'gaussian'? named kernels: "
         "identity, box, gaussian, sobel, scharr, prewitt, laplacian, log, dog, sharpen, unsharp, emboss, "
         "motion (see 'convcli kernels')\n"),
        ("box:sise=3",
         "Error: kernel 'box' has no parameter 'sise' (in 'box:sise=3'); did you mean 'size'? valid: size\n"),
        ("gaussian:sigma=0", "Error: sigma must be a number > 0 in 'gaussian:sigma=0', got '0'\n"),
        ("gaussian:sigma=x", "Error: sigma must be a number > 0 in 'gaussian:sigma=x', got 'x'\n"),
        ("box:size=0",
         "Error: size must be N or HxW with integers >= 1 and <= 1025 in 'box:size=0', got '0'\n"),
        ("gaussian:sigma=300",
         "Error: 'gaussian:sigma=300': sigma=300 needs radius int(4*sigma+0.5) = 1200, beyond the limit of "
         "512 (1025 per side); use a smaller sigma or set radius= explicitly\n"),
        ("1 2 1; 0 0",
         "Error: inline kernel '1 2 1; 0 0': row 2 has 2 values but row 1 has 3; every row needs the same "
         "number of values\n"),
        ("1 nan; 0 0",
         "Error: kernel '1 nan; 0 0' has nan at row 1, column 2; every value must be a finite number\n"),
        ("missing.txt", "Error: missing.txt: no such file; check the path\n"),
        ("", "Error: the kernel spec is empty; give a name like 'gaussian:sigma=2', an inline matrix like "
             "'1 2 1; 0 0 0; -1 -2 -1' or a file like 'kernels/emboss.txt'\n"),
    ],
)
def test_show_errors(spec: str, message: str) -> None:
    assert error("show", spec) == message


def test_show_normalize_zero_sum_error() -> None:
    assert error("show", "laplacian", "--normalize") == (
        "Error: kernel 'laplacian' sums to 0, so --normalize cannot divide; drop --normalize\n"
    )
    assert "is an operator" in error("show", "sobel:axis=both", "--normalize")


def test_show_file_errors(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("1 2 3\n4 5\n")
    assert error("show", str(ragged)) == (
        f"Error: {ragged}, line 2: this row has 2 values but the first row (line 1) has 3; "
        "every row needs the same number of values\n"
    )
    bad = tmp_path / "bad.mat"
    bad.write_text("3 2\n1 2 3\n")
    assert error("show", str(bad)) == (
        f"Error: {bad}: the header (line 1) says 2 rows, but the file has 1; fix H in the header or add the "
        "missing rows\n"
    )
    word = tmp_path / "word.csv"
    word.write_text("1,2\n3,x\n")
    assert error("show", str(word), "--json") == (
        f"Error: {word}, line 2: column 2: 'x' is not a number; write values like 1, -0.5 or 2e-3\n"
    )


def test_usage_errors() -> None:
    assert "Missing argument 'SPEC'" in error("show", code=2)
    assert error("show", "box", "--image-size", "0", code=2) == (
        "Error: --image-size must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'\n")
    assert "No such option" in error("show", "-1 0 1", code=2)  # needs '--' first


def test_help_texts_have_examples() -> None:
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert top.exit_code == 0 and "kernels" in top.stdout
    group = ok("--help")
    assert "convcli kernels show sobel:axis=both" in group
    assert "operator" in group and "correlation" in group
    show = ok("show", "--help")
    assert "convcli kernels show gaussian:sigma=1,radius=2" in show
    assert "--image-size" in show and "--normalize" in show and "--json" in show


def test_a_closed_stdout_ends_quietly_with_exit_code_141(tmp_path: Path) -> None:
    """``… | head``: the reader leaves early; nothing on stderr, the shell's 128 + SIGPIPE (errors.EXIT_CODES)."""
    import subprocess
    import sys

    convcli = Path(sys.executable).parent / "convcli"
    proc = subprocess.run(f"{convcli} kernels show gaussian:sigma=60 | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}",
                          shell=True, cwd=tmp_path, capture_output=True, timeout=120, executable="/bin/bash")
    assert proc.stdout.strip() == b"141" and proc.stderr == b""
