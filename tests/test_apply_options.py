"""`convcli apply` options that users of ImageMagick, vips and cp expect (issue 12, items 4, 5, 6, 12-15).

Outputs are compared with independent NumPy arithmetic (a correlation written out with slices and the
documented rounding: half to even, clipped), or with the output of the spelling they are an alias of.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app
from tests.imagefiles import load, save

CONVCLI = str(Path(sys.executable).parent / "convcli")
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(app, ["apply", *args], input=input)




def correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlation in float64 with numpy.pad's reflect border (convcli's default), written out with slices."""
    kh, kw = kernel.shape
    pad = [((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image.astype(np.float64), pad, mode="reflect")
    h, w = image.shape[:2]
    return sum(kernel[i, j] * padded[i : i + h, j : j + w] for i in range(kh) for j in range(kw))


def samples(x: np.ndarray, top: int, dtype: type) -> np.ndarray:
    return np.clip(np.rint(x), 0, top).astype(dtype)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(12)
    return {
        "8": save(tmp_path / "rgb.png", rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)),
        "16": save(tmp_path / "deep.png", rng.integers(0, 65536, (12, 17), dtype=np.uint16)),
        "float": save(tmp_path / "data.npy", rng.random((12, 17), dtype=np.float32)),
    }


# --- 4: an output name that disagrees with --format ------------------------------------------------


@pytest.mark.parametrize(("naming", "message"), [
    (["-o", "x.png", "--format", "jpeg"],
     "Error: -o x.png is a PNG name but --format jpeg writes JPEG; name it x.jpeg, or drop --format\n"),
    (["-o", "x.tif", "--format", "png"],
     "Error: -o x.tif is a TIFF name but --format png writes PNG; name it x.png, or drop --format\n"),
    (["--outdir", "o", "--name", "{stem}.png", "--format", "tif"],
     "Error: --name {stem}.png is a PNG name but --format tif writes TIFF; end it in .{ext}, or drop --format\n"),
])
def test_an_output_extension_that_disagrees_with_format_is_a_usage_error(images, tmp_path, monkeypatch, naming,
                                                                         message):
    monkeypatch.chdir(tmp_path)
    result = invoke(str(images["8"]), "-k", "box", *naming)
    assert result.exit_code == 2
    assert result.stderr == message
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "deep.png", "rgb.png"]


@pytest.mark.parametrize(("name", "fmt"), [("x.jpg", "jpeg"), ("x.JPEG", "jpg"), ("x.tiff", "tif"), ("x", "png")])
def test_an_agreeing_or_unknown_extension_takes_the_format(images, tmp_path, name, fmt):
    result = invoke(str(images["8"]), "-k", "box", "-o", str(tmp_path / name), "--format", fmt)
    assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / name) as image:
        assert image.format == {"jpeg": "JPEG", "jpg": "JPEG", "tif": "TIFF", "png": "PNG"}[fmt]


# --- 5: no operation -------------------------------------------------------------------------------


def test_no_operation_is_a_usage_error_naming_it(images, tmp_path):
    result = invoke(str(images["8"]), "-o", str(tmp_path / "copy.png"))
    assert result.exit_code == 2
    assert result.stderr == ("Error: no operation given, so the output would be an unfiltered copy; give a kernel "
                             "(-k KERNEL, e.g. -k gaussian:sigma=2), --pool or --activation (-k identity copies on "
                             "purpose)\n")
    assert not (tmp_path / "copy.png").exists()


def test_explicit_identity_copies_and_pool_or_activation_alone_are_operations(images, tmp_path):
    assert invoke(str(images["8"]), "-k", "identity", "-o", str(tmp_path / "copy.png")).exit_code == 0
    assert np.array_equal(load(tmp_path / "copy.png"), load(images["8"]))
    assert invoke(str(images["8"]), "--activation", "relu", "-o", str(tmp_path / "relu.png")).exit_code == 0
    assert np.array_equal(load(tmp_path / "relu.png"), load(images["8"]))
    assert invoke(str(images["8"]), "--pool", "max", "-o", str(tmp_path / "pool.png")).exit_code == 0
    assert load(tmp_path / "pool.png").shape == (6, 8, 3)


# --- 6: --offset N% ----------------------------------------------------------------------------------


def test_relative_offset_is_half_of_each_files_own_full_scale_in_one_mixed_batch(images, tmp_path):
    out = tmp_path / "out"
    result = invoke(str(images["8"]), str(images["16"]), str(images["float"]), "-k", "sobel:axis=x", "--gain", "0.5",
                    "--offset", "50%", "--outdir", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    eight = correlate(load(images["8"]), SOBEL_X) * 0.5 + 127.5
    assert np.array_equal(load(out / "rgb.png"), samples(eight, 255, np.uint8))
    sixteen = correlate(load(images["16"]), SOBEL_X) * 0.5 + 32767.5
    got16 = load(out / "deep.png")
    assert got16.dtype == np.uint16 and np.array_equal(got16, samples(sixteen, 65535, np.uint16))
    floats = correlate(load(images["float"]), SOBEL_X) * 0.5 + 0.5
    np.testing.assert_allclose(load(out / "data.npy"), floats, rtol=0, atol=1e-6)


def test_a_flat_image_with_relative_offset_is_mid_gray_at_every_depth(tmp_path):
    save(tmp_path / "flat8.png", np.full((5, 6), 200, np.uint8))
    save(tmp_path / "flat16.png", np.full((5, 6), 50000, np.uint16))
    result = invoke(str(tmp_path / "flat8.png"), str(tmp_path / "flat16.png"), "-k", "sobel:axis=x", "--offset",
                    "50%", "--outdir", str(tmp_path / "o"))
    assert result.exit_code == 0, result.stderr
    assert np.all(load(tmp_path / "o" / "flat8.png") == 128)  # 127.5 rounds half to even
    assert np.all(load(tmp_path / "o" / "flat16.png") == 32768)  # 32767.5 too


def test_a_plain_offset_stays_in_output_units(images, tmp_path):
    assert invoke(str(images["16"]), "-k", "sobel:axis=x", "--gain", "0.5", "--offset", "128", "-o",
                  str(tmp_path / "o.png")).exit_code == 0
    expected = samples(correlate(load(images["16"]), SOBEL_X) * 0.5 + 128, 65535, np.uint16)
    assert np.array_equal(load(tmp_path / "o.png"), expected)
    gray = save(tmp_path / "gray.png", load(images["8"])[..., 0])
    assert invoke(str(gray), "-k", "identity", "--offset", "-25%", "--depth", "16", "-o",
                  str(tmp_path / "n.png")).exit_code == 0  # 8-bit in, 16-bit out: the output's scale
    expected = samples(load(gray).astype(np.float64) * 257 - 16383.75, 65535, np.uint16)
    assert np.array_equal(load(tmp_path / "n.png"), expected)


def test_relative_offset_is_shown_in_dry_run_and_json(images, tmp_path):
    args = [str(images["8"]), str(images["16"]), str(images["float"]), "-k", "sobel:axis=x", "--offset", "50%",
            "--outdir", str(tmp_path / "o")]
    plan = invoke(*args, "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    lines = [line.strip() for line in plan.stdout.splitlines()]
    assert "offset 50% of 255 = 127.5 (8-bit)" in lines
    assert "offset 50% of 65535 = 32767.5 (16-bit)" in lines
    assert "offset 50% of 1 = 0.5 (float)" in lines
    for extra in (["--dry-run"], []):
        report = json.loads(invoke(*args, "--json", "--force", *extra).stdout)
        assert [f["offset"] for f in report["files"]] == [127.5, 32767.5, 0.5]


@pytest.mark.parametrize("value", ["5o%", "%", "nan%", "inf", "half"])
def test_a_bad_offset_is_a_usage_error(images, tmp_path, value):
    result = invoke(str(images["8"]), "-k", "box", "--offset", value, "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --offset must be a finite number in output units (e.g. 128) or a "
                                    "percentage of the output's full scale (e.g. 50%), got ")


# --- 12: no image bytes from or to a terminal ------------------------------------------------------


def _on_a_terminal(args: list[str], cwd: Path, *, stdin_tty: bool) -> tuple[int, bytes, bytes]:
    """Run convcli with stdin (or stdout) on a pseudo-terminal; return the exit code, stderr and the tty's bytes."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([CONVCLI, "apply", *args], cwd=cwd, timeout=30, stderr=subprocess.PIPE,
                              stdin=slave if stdin_tty else subprocess.DEVNULL,
                              stdout=subprocess.PIPE if stdin_tty else slave)
        os.set_blocking(master, False)
        try:
            shown = os.read(master, 1 << 16)
        except (BlockingIOError, OSError):
            shown = b""
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, proc.stderr, shown


def test_refuses_to_read_an_image_from_a_terminal(images, tmp_path):
    code, err, _ = _on_a_terminal(["-", "-k", "box", "-o", "x.png"], tmp_path, stdin_tty=True)
    assert code == 2
    assert err == (b"Error: refusing to read an image from a terminal; pipe or redirect one into stdin "
                   b"(convcli apply - ... < in.png) or give a file\n")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(("fmt", "name"), [([], "PNG"), (["--format", "tif"], "TIFF")])
def test_refuses_to_write_image_bytes_to_a_terminal(images, tmp_path, fmt, name):
    code, err, shown = _on_a_terminal([str(images["8"]), "-k", "box", "-o", "-", *fmt], tmp_path, stdin_tty=False)
    assert code == 2
    assert err == f"Error: refusing to write {name} bytes to a terminal; redirect stdout or use -o FILE\n".encode()
    assert shown == b""


def test_pipes_still_carry_images(images, tmp_path):
    proc = subprocess.run([CONVCLI, "apply", "-", "-k", "identity", "-o", "-"], input=images["8"].read_bytes(),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == b"" and proc.stdout.startswith(b"\x89PNG")


# --- 13: the spellings users bring -------------------------------------------------------------------


@pytest.mark.parametrize(("alias", "canonical"), [
    (["--pool", "avg:size=2"], ["--pool", "mean:size=2"]),
    (["--pool", "AVG"], ["--pool", "mean"]),
    (["-k", "box", "--channels", "grey"], ["-k", "box", "--channels", "gray"]),
    (["-k", "Gaussian:0x2"], ["-k", "gaussian:sigma=2"]),
    (["-k", "gaussian:3x1.5"], ["-k", "gaussian:sigma=1.5,radius=3"]),
    (["-k", "LoG:0x1"], ["-k", "log:sigma=1"]),
    (["-k", "DoG:0,1,1.6"], ["-k", "dog:sigma1=1,sigma2=1.6"]),
    (["-k", "3x3: 1,2,1, 2,4,2, 1,2,1", "--normalize"], ["-k", "1 2 1; 2 4 2; 1 2 1", "--normalize"]),
    (["-k", "GAUSSIAN:SIGMA=2"], ["-k", "gaussian:sigma=2"]),
    (["-k", "Sobel:Axis=Y"], ["-k", "sobel:axis=y"]),
])
def test_aliases_give_the_same_bytes_as_the_canonical_spelling(images, tmp_path, alias, canonical):
    assert invoke(str(images["8"]), *alias, "-o", str(tmp_path / "a.png")).exit_code == 0
    assert invoke(str(images["8"]), *canonical, "-o", str(tmp_path / "c.png")).exit_code == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "c.png").read_bytes()


def test_avg_pool_is_the_block_mean(images, tmp_path):
    assert invoke(str(images["16"]), "--pool", "avg", "-o", str(tmp_path / "p.png")).exit_code == 0
    x = load(images["16"]).astype(np.float64)[:12, :16]
    expected = samples(x.reshape(6, 2, 8, 2).mean(axis=(1, 3)), 65535, np.uint16)
    assert np.array_equal(load(tmp_path / "p.png"), expected)


def test_imagemagick_kernel_forms_match_numpy():
    from convcli.kernels import kernel

    r = np.arange(-8, 9, dtype=np.float64)
    g = np.exp(-(r**2) / 8.0)
    gauss = np.outer(g, g) / np.outer(g, g).sum()  # sigma 2, radius int(4*2+0.5) = 8
    np.testing.assert_allclose(kernel("Gaussian:0x2").matrix, gauss, rtol=0, atol=1e-15)
    assert kernel("Gaussian:4x2").shape == (9, 9)
    user = kernel("3x2: 1,2,3, 4,5,6")
    assert user.matrix.tolist() == [[1, 2, 3], [4, 5, 6]] and user.anchor is None
    assert kernel("3x3+0+2: 0,0,0, 0,0,0, 1,0,0").anchor == (2, 0)


@pytest.mark.parametrize(("spec", "message"), [
    ("3x3: 1,2,1", "Error: ImageMagick kernel '3x3: 1,2,1': 3x3 needs 9 values (row by row), got 3\n"),
    ("2x1+5+0: 1,2", "Error: ImageMagick kernel '2x1+5+0: 1,2': the anchor +5+0 (column, row) is outside the 2x1 "
                     "kernel\n"),
    ("2x1: 1,-", "Error: ImageMagick kernel '2x1: 1,-': value 2 ('-') is not a finite number; ImageMagick's '-' and "
                 "nan (outside the neighbourhood) are not supported, write 0\n"),
])
def test_bad_imagemagick_kernels_are_named(images, tmp_path, spec, message):
    result = invoke(str(images["8"]), "-k", spec, "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 1
    assert result.stderr == message


# --- 14: one message per failed file -----------------------------------------------------------------


def test_each_failure_is_printed_once_and_the_summary_lists_at_most_ten(images, tmp_path):
    bad = [tmp_path / f"bad{i:02d}.png" for i in range(13)]
    for path in bad:
        path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    args = [str(images["8"]), *map(str, bad), "-k", "box", "--outdir", str(tmp_path / "o"), "-j", "1"]
    result = invoke(*args)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert sum(line.startswith("Error: ") for line in lines) == 13
    for path in bad:
        assert sum(line.startswith(f"Error: {path}") for line in lines) == 1
    listed = lines[lines.index("Failed (13):") + 1 :]
    assert len(listed) == 11 and all(line.startswith(f"  {tmp_path}") for line in listed[:10])
    assert listed[10] == "  and 3 more; --json has all"
    assert lines[lines.index("Failed (13):") - 1].startswith("Done in ")
    report = json.loads(invoke(*args, "--json", "--force").stdout)
    assert sum(f["status"] == "failed" for f in report["files"]) == 13


def test_a_short_failed_list_is_shown_whole(images, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    result = invoke(str(images["8"]), str(tmp_path / "bad.png"), "-k", "box", "--outdir", str(tmp_path / "o"))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-2:] == ["Failed (1):", lines[0].replace("Error: ", "  ", 1)]
    assert not any("more; --json has all" in line for line in lines)


# --- 15: single-file runs are quiet on success ---------------------------------------------------------


def test_a_single_file_run_prints_nothing_on_success(images, tmp_path):
    result = invoke(str(images["8"]), "-k", "box", "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""
    assert (tmp_path / "x.png").exists()


def test_verbose_says_what_was_written(images, tmp_path):
    for flag in ("--verbose", "-v"):
        result = invoke(str(images["8"]), "-k", "box", "--pool", "max", "-o", str(tmp_path / "x.png"), flag,
                        "--force")
        assert result.exit_code == 0, result.stderr
        assert result.stderr.startswith(f"Wrote {tmp_path / 'x.png'}: 12x17x3 -> 6x8x3, 8-bit PNG (")
        assert len(result.stderr.splitlines()) == 1


def test_verbose_and_quiet_exclude_each_other(images, tmp_path):
    result = invoke(str(images["8"]), "-k", "box", "-o", str(tmp_path / "x.png"), "-v", "-q")
    assert result.exit_code == 2
    assert result.stderr == "Error: --verbose and --quiet exclude each other; give one\n"
    assert not (tmp_path / "x.png").exists()


def test_a_single_file_run_still_warns_and_still_reports_errors(tmp_path):
    save(tmp_path / "f.npy", np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5))
    warned = invoke(str(tmp_path / "f.npy"), "-k", "identity", "-o", str(tmp_path / "f.png"))
    assert warned.exit_code == 0
    assert warned.stderr.startswith("Warning: ") and len(warned.stderr.splitlines()) == 1
    (tmp_path / "bad.png").write_bytes(b"not a png")
    failed = invoke(str(tmp_path / "bad.png"), "-k", "box", "-o", str(tmp_path / "y.png"))
    assert failed.exit_code == 1 and failed.stderr.startswith(f"Error: {tmp_path / 'bad.png'}")
    assert len(failed.stderr.splitlines()) == 1


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "verbose"])
def test_batches_keep_their_summary(images, tmp_path, verbose):
    result = invoke(str(images["8"]), str(images["16"]), "-k", "box", "--outdir", str(tmp_path / "o"),
                    *(["-v"] if verbose else []))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("Done in ") and "2 written, 0 failed, 0 skipped" in lines[-1]
    wrote = sorted(line.split(":")[0] for line in lines if line.startswith("Wrote "))
    assert wrote == ([f"Wrote {tmp_path / 'o' / 'deep.png'}", f"Wrote {tmp_path / 'o' / 'rgb.png'}"]
                     if verbose else [])
