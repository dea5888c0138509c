"""Messages a new user meets (issue 23, "A user's habits"): each names what came and the fix, in one line.

Driven through the real command (CliRunner, or the console script where Click's own usage errors are
involved, since only ``main`` turns them into one ``Error:`` line); references are independent: the expected
words, NumPy's float64 range, the files on disk.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app
from convcli.errors import ParameterError
from convcli.learn import convolve1d

CONVCLI = str(Path(sys.executable).parent / "convcli")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def image(path: Path, value: int = 50) -> Path:
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)
    return path


def test_o_an_existing_folder_says_it_is_a_folder_and_suggests_outdir(tmp_path):
    (tmp_path / "somedir").mkdir()
    result = invoke("apply", str(image(tmp_path / "in.png")), "-k", "box", "-o", str(tmp_path / "somedir"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: -o {tmp_path / 'somedir'} is a folder, and -o names one output file; use --outdir "
        f"{tmp_path / 'somedir'} to write into it, or give -o a file name"]
    assert list((tmp_path / "somedir").iterdir()) == []


def test_mask_a_folder_says_it_is_a_folder(tmp_path):
    (tmp_path / "somedir").mkdir()
    result = invoke("apply", str(image(tmp_path / "in.png")), "-k", "box", "--mask", str(tmp_path / "somedir"),
                    "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: --mask {tmp_path / 'somedir'} is a folder; give an image file whose non-zero pixels are the valid "
        "ones"]
    assert "no such file" not in result.stderr


@pytest.mark.parametrize("count", [1, 2, 3, 4, 12])
def test_the_in_place_refusal_names_the_count_a_few_files_and_one_advice(tmp_path, monkeypatch, count):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    names = [f"imgs/photo_{i:02d}.png" for i in range(count)]
    for name in names:
        image(tmp_path / name)
    result = invoke("apply", *names, "-k", "box", "--outdir", "imgs")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].count("--force") == 1
    assert len(lines[0]) < 260
    if count == 1:
        assert lines[0] == ("Error: imgs/photo_00.png would replace its own input; pass --force to filter in place, "
                            "or choose --outdir/--suffix; nothing was written")
    else:
        shown = ", ".join(names[:3]) + (f" and {count - 3} more" if count > 3 else "")
        assert lines[0] == (f"Error: {count} outputs would replace their own inputs ({shown}); pass --force to "
                            "filter in place, or choose --outdir/--suffix; nothing was written")


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["-k", "gaussian", "--sigma", "2"], "-k gaussian:sigma=2"),
        (["--kernel", "gaussian:radius=4", "--sigma=1.5"], "-k gaussian:radius=4,sigma=1.5"),
    ],
)
def test_a_kernel_parameter_given_as_an_option_suggests_the_spec(tmp_path, args, hint):
    proc = subprocess.run([CONVCLI, "apply", "in.png", *args, "-o", "out.png"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"Error: No such option: {args[2].split('=')[0]}; a kernel's parameters go inside its spec: {hint} "
        "(see 'convcli apply --help')"]


def test_an_unknown_option_without_a_kernel_keeps_clicks_words(tmp_path):
    proc = subprocess.run([CONVCLI, "apply", "in.png", "-k", "box", "--bogus", "-o", "out.png"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: No such option: --bogus")
    assert "spec" not in proc.stderr


def test_seq_that_overflows_float64_is_an_error_not_inf():
    assert np.isinf(np.convolve([1e308, 1e308], [10.0])).all()  # the reference: float64 cannot hold it
    result = invoke("seq", "1e308,1e308", "10")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: the convolution overflows float64 (beyond ±1.8e+308) at item 1; scale the sequences down (e.g. "
        "divide by 1e300) and the result back up"]
    for method in ("direct", "fft"):
        with pytest.raises(ParameterError, match=r"^the convolution overflows float64 .* at item 1;"):
            convolve1d([1e308, 1e308], [10.0], method=method)
    # only the values returned count: "same" drops the overflowing first item of the full result
    a, k = [1e308, 1.0, 1.0], [10.0, 1.0, 1.0]
    with np.errstate(over="ignore"):
        full = np.convolve(a, k)
    assert np.isinf(full[0]) and np.isfinite(full[1:4]).all()
    assert convolve1d(a, k, pad="same", method="direct").tolist() == full[1:4].tolist()


@pytest.mark.parametrize("damage", ["first page offset past the end", "garbage after the header"])
def test_a_garbage_tiff_gives_one_error_line_and_nothing_from_its_decoder(tmp_path, damage):
    """Only convcli's own line: no tifffile log line, no '(IndexError: index 0 out of range(0))'."""
    import struct

    import tifffile

    tifffile.imwrite(tmp_path / "ok.tif", np.zeros((8, 8), np.uint8))
    data = bytearray((tmp_path / "ok.tif").read_bytes())
    if damage.startswith("first"):
        data[4:8] = struct.pack("<I", 10**6)
    else:
        data = bytearray(b"II*\x00" + bytes(range(256)) * 4)
    (tmp_path / "bad.tif").write_bytes(bytes(data))
    done = subprocess.run([CONVCLI, "apply", str(tmp_path / "bad.tif"), "-k", "box",
                           "-o", str(tmp_path / "out.png"), "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"Error: {tmp_path / 'bad.tif'}: the image is damaged or truncated; "
                                        "re-export it"]
    assert not (tmp_path / "out.png").exists()
