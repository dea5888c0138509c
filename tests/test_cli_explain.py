"""``convcli explain``, ``convcli seq`` and ``convcli multiply`` through Typer's CliRunner.

Exit codes: 0 for an answer, 1 for a value the library refuses (one ``Error: …``
line on stderr, nothing on stdout), 2 for a usage error.  The ``--json`` steps
are checked against a slow reference written here from the definitions.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.learn.sequences import EXACT_DIGITS, METHODS, PADS

runner = CliRunner()

NOTES_IMAGE = "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2"
NOTES_KERNEL = "1 0 1; 0 1 0; 1 0 1"
NOTES_X = np.array([[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]], float)
NOTES_K = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)


def run(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, env={"COLUMNS": "160"})


def ok(*args: str, input: str | None = None) -> str:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def error(*args: str, code: int = 1, input: str | None = None) -> str:
    """A failing command: exact exit code, nothing on stdout, one ``Error:`` line; returns it."""
    result = run(*args, input=input)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    return result.stderr.strip()


def slow_steps(x, k, *, pad, stride):
    """Every output position's window, products and sum, from the definition (zero padding)."""
    padded = np.pad(x, pad)
    kh, kw = k.shape
    rows = (padded.shape[0] - kh) // stride + 1
    cols = (padded.shape[1] - kw) // stride + 1
    steps = []
    for i in range(rows):
        for j in range(cols):
            window = padded[i * stride : i * stride + kh, j * stride : j * stride + kw]
            steps.append({"position": [i, j], "window": window.tolist(), "products": (window * k).tolist(),
                          "sum": float((window * k).sum())})
    return padded, steps


# --- explain -----------------------------------------------------------------------------------


def test_explain_the_notes_example():
    out = ok("explain", "--image", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2")
    assert "correlation of a 5x5 input with a 3x3 kernel, pad 1 (constant 0), stride 2 -> 3x3 output" in out
    assert "N = (O + 2P - K) / S + 1" in out
    assert "rows, columns: floor((5 + 2*1 - 3) / 2) + 1 = floor(4/2) + 1 = 3" in out
    assert "step 1 of 9: out[0, 0] from input rows -1..1, columns -1..1" in out
    assert "sum = 0 + 0 + 0 + 0 + 1 + 0 + 0 + 0 + 5 = 6" in out
    assert "step 9 of 9" in out
    # the padded input is labelled with input coordinates: -1 and 5 are the border
    assert "-1 0 1 2 3 4 5" in out
    lines = out.splitlines()
    start = lines.index("output (3x3)")
    assert [line.split() for line in lines[start + 1 : start + 4]] == [["6", "9", "2"], ["12", "17", "4"],
                                                                       ["0", "2", "4"]]


def test_explain_json_steps_against_a_slow_reference():
    data = json.loads(ok("explain", "--image", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2",
                         "--json"))
    padded, steps = slow_steps(NOTES_X, NOTES_K, pad=1, stride=2)
    assert data["input"] == NOTES_X.tolist()
    assert data["kernel"] == NOTES_K.tolist()
    assert data["padded"] == padded.tolist()
    assert [{key: s[key] for key in ("position", "window", "products", "sum")} for s in data["steps"]] == steps
    assert data["output"] == [[6, 9, 2], [12, 17, 4], [0, 2, 4]]
    assert data["output"] == convcli.correlate(NOTES_X, NOTES_K, pad=1, stride=2, border="constant").tolist()
    assert data["formula"]["rows"] == "floor((5 + 2*1 - 3) / 2) + 1 = floor(4/2) + 1 = 3"


def test_explain_defaults_to_no_padding_as_the_notes():
    data = json.loads(ok("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--json"))
    _, steps = slow_steps(NOTES_X, NOTES_K, pad=0, stride=1)
    assert [s["sum"] for s in data["steps"]] == [s["sum"] for s in steps]
    assert len(data["output"]) == 3  # N = (5 - 3)/1 + 1


def test_explain_step():
    out = ok("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--step", "5")
    assert "step 5 of 25: out[0, 4]" in out
    assert "step 1 of" not in out
    data = json.loads(ok("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--step", "2", "--json"))
    assert [s["position"] for s in data["steps"]] == [[0, 1]]
    assert error("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--step", "10", code=2) == (
        "Error: --step 10: there are 9 output positions; give 1 to 9")


def test_explain_flip_shows_the_rotated_kernel():
    out = ok("explain", "-i", "1 2 3; 4 5 6; 7 8 9", "-k", "1 2; 3 4", "--flip")
    assert "convolution of a 3x3 input" in out
    assert "rotated 180°" in out
    data = json.loads(ok("explain", "-i", "1 2 3; 4 5 6; 7 8 9", "-k", "1 2; 3 4", "--flip", "--json"))
    assert data["rotated_kernel"] == [[4, 3], [2, 1]]
    x = np.arange(1, 10, dtype=float).reshape(3, 3)
    assert data["output"] == convcli.convolve(x, [[1, 2], [3, 4]], pad="valid").tolist()


def test_explain_pooling():
    out = ok("explain", "-i", "1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4", "--pool", "max:size=2")
    assert "max pooling of a 4x4 input: 2x2 windows, stride 2 -> 2x2" in out
    assert "out[0, 0] (rows 0..1, columns 0..1): max(1, 3, 4, 2) = 4, from row 1, column 0" in out
    data = json.loads(ok("explain", "-i", "1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4", "--pool", "mean", "--json"))
    assert data["kernel"] is None
    assert data["output"] == [[2.5, 1.0], [6.5, 2.5]]
    data = json.loads(ok("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--pool", "max:size=2",
                         "--json"))
    conv = convcli.correlate(NOTES_X, NOTES_K, pad=1, border="constant")
    assert data["pool"]["output"] == convcli.pool(conv, 2).tolist()
    assert data["result"] == data["pool"]["output"]


def test_explain_backward_against_torch():
    grad = "1 2 0; 0 1 0; 3 0 1"
    data = json.loads(ok("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2",
                         "--grad", grad, "--json"))
    x = torch.tensor(NOTES_X[None, None], requires_grad=True)
    k = torch.tensor(NOTES_K[None, None], requires_grad=True)
    out = F.conv2d(x, k, padding=1, stride=2)
    (out * torch.tensor([[[[1.0, 2, 0], [0, 1, 0], [3, 0, 1]]]], dtype=torch.float64)).sum().backward()
    assert data["backward"]["conv"]["grad_input"] == x.grad[0, 0].tolist()
    assert data["backward"]["conv"]["grad_kernel"] == k.grad[0, 0].tolist()


def test_explain_backward_text():
    out = ok("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2", "--backward",
             "--step", "1")
    assert "backward pass (backpropagation)" in out
    assert "full convolution of δ with the kernel" in out
    assert "δ with stride - 1 zeros between its terms" in out
    assert "kernel gradient: ∇w[a, b] = Σ δ[m, n] · x_padded[a + m·2, b + n·2]" in out
    lines = out.splitlines()
    start = lines.index("∇w (3x3)")
    assert [line.split() for line in lines[start + 1 : start + 4]] == [["8", "15", "8"], ["14", "24", "14"],
                                                                       ["8", "15", "8"]]
    out = ok("explain", "-i", "1 3; 4 2", "--pool", "max", "--backward")
    assert "δ[0, 0] = 1 -> 1 to (1, 0)" in out
    assert error("explain", "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--grad", "1 1; 1 1") == (
        "Error: the error term must have the result's shape 3x3, got 2x2; give one value per output")


def test_explain_image_files(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, size=(40, 30), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    data = json.loads(ok("explain", "--image", str(tmp_path / "gray.png"), "--crop", "3,5,6,4", "-k", "1 1; 1 1",
                         "--json"))
    crop = gray[5:9, 3:9].astype(float)
    assert data["input"] == crop.tolist()
    assert data["output"] == convcli.correlate(crop, np.ones((2, 2)), pad="valid").tolist()
    np.save(tmp_path / "small.npy", np.arange(9.0).reshape(3, 3))
    data = json.loads(ok("explain", "-i", "@" + str(tmp_path / "small.npy"), "--pool", "max", "--json"))
    assert data["output"] == [[4.0]]
    rgb = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    data = json.loads(ok("explain", "-i", str(tmp_path / "rgb.png"), "--channel", "2", "-k", "1", "--json"))
    assert data["input"] == rgb[:, :, 2].astype(float).tolist()


def test_explain_image_file_errors(tmp_path):
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, size=(40, 30), dtype=np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    big = str(tmp_path / "big.png")
    message = error("explain", "-i", big, "-k", "1")
    assert message.startswith("Error: the input is 40x30, but explain shows at most 16x16")
    assert "--crop x,y,w,h" in message
    assert error("explain", "-i", big, "--crop", "25,0,8,8", "-k", "1") == (
        f"Error: --crop 25,0,8,8: the 8x8 crop at column 25, row 0 does not fit the 30x40 (width x height) image "
        f"{big}; keep x + w <= 30 and y + h <= 40")
    assert error("explain", "-i", str(tmp_path / "rgb.png"), "-k", "1") == (
        f"Error: {tmp_path / 'rgb.png'} has 3 channels; explain works on one: choose it with --channel "
        "(0 to 2, e.g. --channel 0)")
    assert error("explain", "-i", big, "--crop", "1,2,3", "-k", "1", code=2) == (
        "Error: --crop must be x,y,w,h (e.g. 100,40,8,8) with integers >= 0, got '1,2,3'")
    assert error("explain", "-i", "1 2; 3 4", "--crop", "0,0,1,1", "-k", "1", code=2).startswith(
        "Error: --crop and --channel select part of an image file")


def test_explain_errors():
    assert error("explain", "-i", "1 2; 3", "-k", "1") == (
        "Error: --image '1 2; 3': row 2 has 1 value but row 1 has 2; every row needs the same number of values")
    assert error("explain", "-i", "photo.png", "-k", "1") == (
        "Error: --image 'photo.png' is neither a matrix like '1 2 3; 4 5 6' nor an existing file; check the path")
    assert error("explain", "-i", "1 2; 3 4", code=2) == (
        "Error: give a kernel (-k), a pooling spec (--pool) or both; there is nothing to explain")
    # the same bad value, the same words and exit code as in apply
    assert error("explain", "-i", "1 2; 3 4", "-k", "1", "--border", "mirror", code=2).startswith(
        "Error: border 'mirror' is ambiguous")
    assert error("explain", "-i", "1 2; 3 4", "--pool", "max:size=0", code=2) == error(
        "apply", "x.png", "--pool", "max:size=0", code=2)
    assert error("explain", "-i", "1 2; 3 4", "-k", "1 2 3").startswith("Error: nothing is left along columns")
    assert error("explain", "-i", "1 2; 3 4", "-k", "sobel:axis=both").startswith(
        "Error: kernel 'sobel:axis=both' is an operator")
    assert error("explain", "-i", "1 2; 3 4", "-k", "1", "--pad", "-1", code=2) == (
        "Error: --pad must be same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1) with integers >= 0, "
        "got '-1'")
    assert error("explain", "-i", "1 2; 3 4", "-k", "1", "--stride", "0", code=2).startswith(
        "Error: --stride must be N or HxW")
    result = run("explain", "-k", "1")
    assert result.exit_code == 2
    assert "Missing option '--image'" in result.output


def test_explain_help_has_the_notes_examples():
    out = ok("explain", "--help")
    assert NOTES_IMAGE in out and NOTES_KERNEL in out
    assert "--pool max:size=2" in out and "--backward" in out


# --- seq -----------------------------------------------------------------------------------------


def test_seq_seed_004():
    assert ok("seq", "2,4", "7,3,1") == "14 34 14 4\n"
    assert ok("seq", "2 4", "7 3 1", "--method", "fft") == "14 34 14 4\n"


def test_seq_from_stdin_with_a_kernel_spec():
    numbers = "\n".join(str(v) for v in range(1, 101)) + "\n"  # what `seq 1 100` prints
    out = ok("seq", "-", "-k", "box:size=5", input=numbers)
    values = [float(v) for v in out.split()]
    x = np.arange(1, 101, dtype=float)
    expected = [sum(x[max(0, n - 4) : n + 1]) / 5 for n in range(104)]  # moving sums over the zero-padded series
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    out = ok("seq", "-", "-k", "box:size=5", "--pad", "valid", "--lines", input=numbers)
    assert out.splitlines() == [str(v) for v in range(3, 99)]  # the average of n-2..n+2 is n


def test_seq_pads_and_files(tmp_path):
    (tmp_path / "a.txt").write_text("1\n2\n3\n4\n5\n", encoding="utf-8")
    (tmp_path / "k.csv").write_text("1,1,1\n", encoding="utf-8")
    a = str(tmp_path / "a.txt")
    assert ok("seq", a, "@" + str(tmp_path / "k.csv"), "--pad", "same") == "3 6 9 12 9\n"
    assert ok("seq", a, "1,1,1", "--pad", "valid") == "6 9 12\n"
    assert ok("seq", a, "1 2", "--pad", "full", "--method", "direct") == "1 4 7 10 13 10\n"
    assert ok("seq", "1,2,3", "-", input="0.5\n0.25\n") == "0.5 1.25 2 0.75\n"
    assert ok("seq", "--", "-1,2", "3") == "-3 6\n"


def test_seq_errors(tmp_path):
    assert error("seq", "1,2", code=2) == "Error: give the second sequence B or a kernel with -k (one of them)"
    assert error("seq", "1,2", "3", "-k", "box", code=2) == (
        "Error: give the second sequence B or a kernel with -k (one of them)")
    assert error("seq", "-", "-", code=2) == "Error: only one of A and B can come from stdin (-)"
    assert error("seq", "1,2", "3", "--pad", "wrap", code=2) == (
        "Error: --pad must be one of full, same, valid, got 'wrap'")
    assert error("seq", "1,2", "3", "--method", "fast", code=2) == (
        "Error: --method must be one of auto, direct, fft, got 'fast'")
    assert error("seq", "1,x", "3") == (
        "Error: sequence A '1,x' is neither numbers (e.g. \"2,4\" or \"7 3 1\") nor an existing file; check the path")
    assert error("seq", "1,,2", "3") == (
        "Error: sequence A: '(nothing)' (line 1, item 2) is not a number; write numbers like 2, -0.5 or 1e3")
    assert error("seq", "1,2", "-k", "sobel:axis=x").startswith(
        "Error: kernel 'sobel:axis=x' is 3x3 and not v times v^T for a 1-D kernel v")
    assert error("seq", "1,2", "1,2,3", "--pad", "valid").startswith(
        "Error: pad='valid' keeps only full overlaps, but the kernel (3 values) is longer than the sequence (2)")
    assert error("seq", "@" + str(tmp_path / "missing.txt"), "1").startswith(
        f"Error: sequence A: cannot read {tmp_path / 'missing.txt'}: No such file")
    assert error("seq", "-", "1", input="\n") == (
        "Error: sequence A (stdin) holds no numbers; give them comma separated (2,4) or one per line")


def test_seq_help_has_the_notes_example():
    out = ok("seq", "--help")
    # the choices shown are the library's own
    assert f"[{'|'.join(PADS)}]" in out and f"[{'|'.join(METHODS)}]" in out
    assert 'convcli seq "2,4" "7,3,1"' in out and "14 34 14 4" in out
    assert "seq 1 100 | convcli seq - -k box:size=5" in out


# --- multiply ------------------------------------------------------------------------------------


def test_multiply_seed_004():
    assert ok("multiply", "42", "137") == "5754\n"


def test_multiply_random_numbers_against_python_ints(tmp_path):
    rng = random.Random(8)
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        for n in (1, 7, 80, 900, 6000):
            a = str(rng.randrange(10 ** (n - 1), 10**n))
            b = str(rng.randrange(1, 10 ** (n + 3)))
            assert ok("multiply", a, b) == str(int(a) * int(b)) + "\n"
        big = "".join(rng.choices("0123456789", k=20_000))
        wrapped = "\n".join(big[i : i + 80] for i in range(0, len(big), 80)) + "\n"
        (tmp_path / "a.txt").write_text(wrapped, encoding="utf-8")
        expected = str(int(big) * int(big[::-1])) + "\n"
        assert ok("multiply", str(tmp_path / "a.txt"), big[::-1]) == expected
        assert ok("multiply", "@" + str(tmp_path / "a.txt"), big[::-1]) == expected
    finally:
        sys.set_int_max_str_digits(old)


def test_multiply_errors(tmp_path):
    assert error("multiply", "42", "x1") == (
        "Error: B 'x1' is neither a non-negative decimal integer (digits 0-9 only, e.g. 42) nor an existing file")
    assert error("multiply", "4.2", "1") == (
        "Error: A '4.2' is neither a non-negative decimal integer (digits 0-9 only, e.g. 42) nor an existing file")
    (tmp_path / "bad.txt").write_text("12 34\n5a\n", encoding="utf-8")
    assert error("multiply", str(tmp_path / "bad.txt"), "2") == (
        f"Error: A: {tmp_path / 'bad.txt'}, line 2, column 2: 'a' is not a digit; the file should hold one "
        "non-negative decimal integer (line breaks and spaces are ignored)")
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    assert error("multiply", "@" + str(tmp_path / "empty.txt"), "2") == (
        f"Error: A: {tmp_path / 'empty.txt'} is empty; it should hold the digits of a number")
    result = run("multiply", "42")
    assert result.exit_code == 2 and "Missing argument 'B'" in result.output


def test_multiply_help_states_the_exact_sizes():
    out = ok("multiply", "--help")
    assert "convcli multiply 42 137" in out and "5754" in out
    flat = " ".join(out.split())
    for digits, words in ((4, "390,000"), (3, "22 million"), (2, "1.1 billion")):
        assert f"{digits}-digit limbs up to about {words}" in flat
    # the numbers in the help are the computed limits, rounded
    assert (EXACT_DIGITS[4] // 10_000, EXACT_DIGITS[3] // 10**6, EXACT_DIGITS[2] // 10**8) == (39, 22, 11)
