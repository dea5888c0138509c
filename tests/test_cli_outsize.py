"""Tests of ``convcli outsize``: every form, ``--explain``, ``--json`` and the errors.

Exit codes: 0 for an answer, 1 for a value the library refuses (one ``Error: …``
line on stderr, nothing on stdout), 2 for a usage error (Click's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app

runner = CliRunner()


def run(*args: str, columns: int = 200) -> Any:
    """Invoke ``convcli outsize`` with a terminal ``columns`` wide (Rich reads COLUMNS)."""
    return runner.invoke(app, ["outsize", *args], env={"COLUMNS": str(columns)})


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
    return result.stderr


# --- one layer from options ---------------------------------------------------------------


def test_the_issue_example() -> None:
    assert ok("224x224", "--kernel", "7", "--stride", "2", "--pad", "3", "--dilation", "1") == "112x112\n"


def test_a_single_number_is_a_square() -> None:
    assert ok("224", "-k", "7", "--stride", "2", "--pad", "3") == "112x112\n"


def test_options_take_hxw() -> None:
    # rows: floor((100 + 2*2 - 5) / 2) + 1 = 50; cols: (60 + 2*1 - (2*(3-1)+1)) + 1 = 58
    assert ok("100x60", "-k", "5x3", "--stride", "2x1", "--pad", "2x1", "--dilation", "1x2") == "50x58\n"


@pytest.mark.parametrize(
    ("pad", "expected"),
    [(None, "224x224"), ("same", "224x224"), ("valid", "218x218"), ("full", "230x230"), ("0", "218x218")],
)
def test_pad_modes_default_same_as_apply(pad: str | None, expected: str) -> None:
    args = ["224", "-k", "7"] + ([] if pad is None else ["--pad", pad])
    assert ok(*args) == expected + "\n"


def test_same_at_stride_s_gives_ceil() -> None:
    assert ok("7x9", "-k", "4", "--stride", "2") == "4x5\n"


def test_kernel_spec_is_sized_through_the_kernel_library() -> None:
    # gaussian:sigma=2 is 17x17 (radius int(4*2 + 0.5) = 8)
    assert ok("224", "-k", "gaussian:sigma=2", "--pad", "valid") == "208x208\n"
    assert ok("224", "-k", "box:size=5x3", "--pad", "valid") == "220x222\n"
    assert ok("224", "-k", "sobel:axis=both", "--stride", "2") == "112x112\n"
    assert ok("224", "-k", "1 2 1; 2 4 2", "--pad", "valid") == "223x222\n"


def test_unknown_kernel_spec_is_a_clean_error() -> None:
    assert "unknown kernel 'gausian'" in error("224", "-k", "gausian:sigma=2")


def test_pool_defaults_as_in_apply() -> None:
    # the issue's example: a bare operation is a 2x2 window with stride 2 (seed 003), as apply --pool max
    assert ok("224", "-k", "3", "--pool", "max") == "112x112\n"
    assert ok("9", "--pool", "mean") == "4x4\n"
    assert ok("9", "--pool", "min:stride=1") == "8x8\n"
    assert ok("9", "max", "pool:stride=3") == "1x1\n"  # as layers too: 9 -> 4 -> floor((4-2)/3)+1 = 1
    payload = json.loads(ok("224", "-k", "3", "--pool", "max", "--json"))
    assert payload["layers"][1] == {"spec": "max", "kind": "pool", "input": [224, 224], "output": [112, 112],
                                    "pad": [0, 0, 0, 0], "receptive_field": [4, 4], "jump": [2, 2]}


def test_pool_option_follows_the_convolution() -> None:
    assert ok("224", "--pool", "max:size=2") == "112x112\n"
    assert ok("224", "-k", "3", "--stride", "2", "--pool", "mean:size=3,stride=2,pad=1") == "56x56\n"
    assert ok("5", "--pool", "min:size=2,ceil=true") == "3x3\n"
    assert ok("5", "--pool", "pool:k=2,s=2,p=1,ceil=true") == "3x3\n"


def test_no_layer_prints_the_input_size() -> None:
    assert ok("20x30") == "20x30\n"


# --- chains -------------------------------------------------------------------------------


def test_chain_from_the_issue() -> None:
    chain = ["conv:k=7,s=2,p=3", "pool:k=3,s=2,p=1", "conv:k=3,p=same", "pool:k=2,ceil=true"]
    assert ok("224x224", *chain) == "28x28\n"


def test_chain_conv_pad_defaults_to_zero_as_pytorch() -> None:
    assert ok("32", "conv:k=5", "pool:k=2", "conv:k=5", "pool:k=2") == "5x5\n"  # LeNet-5


def test_options_can_come_after_the_chain() -> None:
    assert json.loads(ok("8", "conv:k=3", "--json"))["output"] == [6, 6]


# --- the size from a file -----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_size_from_an_image_header_is_height_by_width(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"photo{suffix}"
    Image.new("RGB", (30, 20)).save(path)  # Pillow sizes are (width, height)
    assert ok(str(path)) == "20x30\n"
    assert ok(str(path), "-k", "3", "--stride", "2") == "10x15\n"


def test_huge_images_are_sized_without_a_decompression_bomb_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (30, 20)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 600 pixels is over twice the limit
    assert ok(str(path)) == "20x30\n"
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


@pytest.mark.parametrize(("shape", "expected"), [((20, 30), "20x30"), ((20, 30, 3), "20x30")])
def test_size_from_a_npy_array(tmp_path: Path, shape: tuple[int, ...], expected: str) -> None:
    path = tmp_path / "image.npy"
    np.save(path, np.zeros(shape, dtype=np.float32))
    assert ok(str(path)) == expected + "\n"


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(5), r"holds an array of shape \(5,\); an image is \(height, width\)"),
        (np.zeros((0, 4)), r"holds an array of shape \(0, 4\)"),
        (np.array([{}], dtype=object), r"cannot read the array in .*give a file written by numpy.save"),
    ],
)
def test_npy_errors_name_the_file(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    stderr = error(str(path))
    assert str(path) in stderr
    assert re.search(message, stderr)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert error(str(text)) == (
        f"Error: cannot read the size of '{text}': it is not an image Pillow can open; "
        "give a size such as 224x224, an image file or a .npy array\n"
    )
    missing = tmp_path / "missing.png"
    assert error(str(missing), "conv:k=3") == (
        f"Error: cannot read the size of '{missing}': no such file; check the path "
        "(a size is N or HxW, e.g. 224x224)\n"
    )
    assert f"cannot read the size of '{tmp_path}': it is a folder" in error(str(tmp_path))
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    assert f"cannot read the array in '{empty}'" in error(str(empty))


# --- --json and --explain -------------------------------------------------------------------


def test_json() -> None:
    payload = json.loads(ok("224x200", "conv:k=7,s=2,p=3", "pool:k=3,s=2,p=1", "--json"))
    assert payload == {
        "input": [224, 200],
        "layers": [
            {
                "spec": "conv:k=7,s=2,p=3",
                "kind": "conv",
                "input": [224, 200],
                "output": [112, 100],
                "pad": [3, 3, 3, 3],
                "receptive_field": [7, 7],
                "jump": [2, 2],
            },
            {
                "spec": "pool:k=3,s=2,p=1",
                "kind": "pool",
                "input": [112, 100],
                "output": [56, 50],
                "pad": [1, 1, 1, 1],
                "receptive_field": [11, 11],
                "jump": [4, 4],
            },
        ],
        "output": [56, 50],
    }


def test_json_of_the_options_form_names_canonical_specs() -> None:
    payload = json.loads(ok("224", "-k", "7", "--stride", "2", "--pool", "max:size=2", "--json"))
    assert [layer["spec"] for layer in payload["layers"]] == ["conv:k=7,s=2,p=same", "max:size=2"]
    assert payload["output"] == [56, 56]


def test_json_with_no_layer() -> None:
    assert json.loads(ok("9", "--json")) == {"input": [9, 9], "layers": [], "output": [9, 9]}


def test_explain_shows_each_layer_with_its_formula() -> None:
    out = ok("224", "conv:k=7,s=2,p=3", "pool:k=3,s=2,ceil=true", "--explain")
    lines = out.splitlines()
    assert lines[0].strip() == "224x224 -> 56x56"
    conv = next(line for line in lines if "conv:k=7,s=2,p=3" in line)
    assert "floor((224 + 2*3 - 7) / 2) + 1 = floor(223/2) + 1 = 112" in conv
    assert conv.split()[-3:] == ["112x112", "7x7", "2x2"]
    pool = next(line for line in lines if "pool:k=3,s=2,ceil=true" in line)
    assert "ceil((112 - 3) / 2) + 1 = ceil(109/2) + 1 = 56" in pool
    assert pool.split()[-3:] == ["56x56", "11x11", "4x4"]
    for header in ("layer", "input", "formula", "output", "receptive", "field", "total", "stride"):
        assert header in out


def test_explain_splits_rows_and_columns_when_they_differ(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (9, 5)).save(path)
    out = ok(str(path), "pool:k=2,p=1,ceil=true", "--explain")
    assert out.splitlines()[0].strip() == f"{path}: 5x9 -> 3x5"
    assert "H: ceil((5 + 2*1 - 2) / 2) + 1 = ceil(5/2) + 1 = 4; the last window would start at 6 >= 5" in out
    assert "W: ceil((9 + 2*1 - 2) / 2) + 1 = ceil(9/2) + 1 = 6; the last window would start at 10 >= 9" in out


def test_explain_fits_a_narrow_terminal() -> None:
    result = run("224", "conv:k=7,s=2,p=3", "--explain", columns=80)
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "112x112" in result.stdout


# --- errors ---------------------------------------------------------------------------------


def test_empty_output_names_the_layer_its_input_and_why() -> None:
    assert error("5", "conv:k=3", "conv:k=5", "--json") == (
        "Error: layer 2 (conv:k=5) on a 3x3 input: nothing is left along rows: (3 + 0 - 5) // 1 + 1 = -1; "
        "a 5-tap kernel needs at least 5 rows after padding (use more padding, e.g. pad='same', "
        "or a smaller kernel)\n"
    )


def test_empty_output_in_the_options_form() -> None:
    stderr = error("4", "-k", "3", "--pad", "valid", "--pool", "max:size=3")
    assert stderr.startswith("Error: layer 2 (max:size=3) on a 2x2 input: pooling leaves nothing along rows")


def test_pool_pad_over_half_the_window() -> None:
    assert error("8", "pool:k=3,p=2", "--explain") == (
        "Error: layer 1 (pool:k=3,p=2) on a 8x8 input: pooling pad must be at most half the window "
        "(pad <= size // 2, as PyTorch), got pad=2 for a 3-row window\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["224", "cnv:k=3"], "Error: layer 'cnv:k=3' has an unknown kind 'cnv'; did you mean 'conv'? valid: "
                             "conv, pool, max, mean, min (e.g. 'conv:k=3,p=same', 'pool:k=2')\n"),
        (["224", "conv:k=3,q=1"], "Error: a conv layer has no parameter 'q' (in 'conv:k=3,q=1'); valid: "
                                  "k, s, p, d, kernel, size, stride, pad, dilation\n"),
    ],
)
def test_bad_layer_specs_are_one_line_errors(args: list[str], message: str) -> None:
    assert error(*args) == message  # a bad spec (as a bad kernel spec) is exit 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["224x0"], "Error: INPUT must be N or HxW (e.g. 224 or 224x224) with integers >= 1, got '224x0'\n"),
        (["224", "-k", "0"], "Error: --kernel must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'\n"),
        (["224", "-k", "3", "--stride", "0"],
         "Error: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'\n"),
        (["224", "-k", "3", "--dilation", "2x"],
         "Error: --dilation must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '2x'\n"),
        (["224", "-k", "3", "--pad", "mirror"],
         "Error: --pad must be same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1) with integers >= 0, "
         "got 'mirror'\n"),
        (["224", "--pool", "max:size=2,d=2"],
         "Error: a pool layer has no parameter 'd' (in 'max:size=2,d=2'); valid: "
         "k, s, p, ceil, kernel, size, stride, pad\n"),
        (["224", "--pool", "conv:k=3"],
         "Error: --pool 'conv:k=3': the operation must be max, mean or min (or pool, for sizes only), "
         "e.g. max:size=2\n"),
    ],
)
def test_bad_option_values_are_usage_errors_worded_as_in_apply(args: list[str], message: str) -> None:
    # the same bad value gives exit code 2 and the wording of convcli.specs in every command
    assert error(*args, code=2) == message


def test_pad_takes_four_sides_as_in_apply() -> None:
    import torch
    import torch.nn.functional as F

    # torch: pad (left, right, top, bottom) explicitly, then a strided valid convolution
    padded = F.pad(torch.zeros(1, 1, 10, 12), (1, 0, 0, 2))
    want = F.conv2d(padded, torch.zeros(1, 1, 3, 3), stride=2).shape[-2:]
    assert ok("10x12", "-k", "3", "--pad", "0,2,1,0", "--stride", "2") == f"{want[0]}x{want[1]}\n"
    payload = json.loads(ok("10x12", "-k", "3", "--pad", "0,0,1,0", "--json"))
    assert payload["layers"][0]["pad"] == [0, 0, 1, 0]

@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["224", "conv:k=3", "-k", "3"], "give layer specs or --kernel, not both"),
        (["224", "conv:k=3", "--pool", "max:size=2"], "give layer specs or --pool, not both"),
        (["224", "--stride", "2"], "--stride, --pad and --dilation describe the convolution"),
        (["224", "--json", "--explain"], "choose one of --explain and --json"),
        ([], "Missing argument"),
        (["224", "--kernal", "3"], "No such option"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    stderr = error(*args, code=2)
    assert message in " ".join(stderr.replace("│", " ").split())


def test_help_lists_the_forms() -> None:
    out = ok("--help")
    for text in ("--kernel", "--stride", "--pad", "--dilation", "--pool", "--explain", "--json", "LAYER"):
        assert text in out
