"""`convcli apply`: CliRunner and real runs of the installed console script.

Filtered outputs are compared with independent references (SciPy's ndimage on the
decoded input, then the documented rounding: half to even, clipped), never with
convcli's own output.  Batch tests run with and without --quiet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

from convcli.cli import app
from tests.imagefiles import load, save
from tests.reference import ref_pool

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
CONVCLI = str(Path(sys.executable).parent / "convcli")
QUIET = pytest.mark.parametrize("quiet", [False, True], ids=["verbose", "quiet"])


# --- helpers ----------------------------------------------------------------------


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(app, ["apply", *args], input=input)


def run(*args: str, cwd: Path, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CONVCLI, "apply", *args], cwd=cwd, input=input, capture_output=True, timeout=timeout)




def gaussian_ref(arr: np.ndarray, sigma: float) -> np.ndarray:
    """SciPy's Gaussian (truncate 4, as the named kernel) with numpy's 'reflect' border (SciPy 'mirror')."""
    x = arr.astype(np.float64)
    sig = (sigma, sigma, 0) if x.ndim == 3 else sigma
    return ndimage.gaussian_filter(x, sig, mode="mirror", truncate=4.0)


def correlate_ref(arr: np.ndarray, matrix, mode: str = "mirror", cval: float = 0.0) -> np.ndarray:
    x = arr.astype(np.float64)
    k = np.asarray(matrix, dtype=np.float64)
    if x.ndim == 3:
        k = k[:, :, None]
    return ndimage.correlate(x, k, mode=mode, cval=cval)


def to_samples(x: np.ndarray, top: float = 255, dtype=np.uint8) -> np.ndarray:
    return np.clip(np.rint(x), 0, top).astype(dtype)


def assert_close_samples(out: np.ndarray, expected: np.ndarray, *, exact_share: float = 0.999) -> None:
    """Equal but for rare 1-LSB rounding ties (float32 engine vs float64 reference)."""
    assert out.shape == expected.shape and out.dtype == expected.dtype
    diff = np.abs(out.astype(np.int64) - expected.astype(np.int64))
    assert diff.max() <= 1
    assert (diff == 0).mean() >= exact_share


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".convcli-tmp")]


@pytest.fixture
def photos(tmp_path) -> Path:
    """Three small RGB photos (crops of the samples) in photos/, one in photos/sub/."""
    rng = np.random.default_rng(7)
    with Image.open(SAMPLES / "astronaut.png") as im:
        astro = np.array(im.convert("RGB"))
    for i, name in enumerate(["a.png", "b.png", "sub/c.png"]):
        r, c = rng.integers(0, 400, 2)
        save(tmp_path / "photos" / name, np.ascontiguousarray(astro[r : r + 60 + 10 * i, c : c + 80]))
    return tmp_path / "photos"


# --- a person's first use -----------------------------------------------------------


def test_the_readme_first_command_works_verbatim(tmp_path):
    shutil.copytree(SAMPLES, tmp_path / "sample_images")
    proc = subprocess.run(
        f"{CONVCLI} apply sample_images/astronaut.png -k gaussian:sigma=3 -o blurred.png",
        shell=True, cwd=tmp_path, capture_output=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert proc.stderr == b""  # a single-file run is silent on success (-v says what it wrote)
    source = load(tmp_path / "sample_images" / "astronaut.png")
    assert_close_samples(load(tmp_path / "blurred.png"), to_samples(gaussian_ref(source, 3)))


def test_single_file_edge_map_with_cli_runner(tmp_path):
    camera = save(tmp_path / "camera.png", load(SAMPLES / "camera.png"))
    result = invoke(str(camera), "-k", "sobel:axis=x", "--range", "abs", "-o", str(tmp_path / "edges.png"))
    assert result.exit_code == 0, result.stderr
    sobel = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    expected = to_samples(np.abs(correlate_ref(load(camera), sobel)))
    assert np.array_equal(load(tmp_path / "edges.png"), expected)  # integer kernel: exact


def test_signed_edges_with_gain_and_offset(tmp_path):
    step = save(tmp_path / "s.png", load(SAMPLES / "step_edge.png"))
    assert invoke(str(step), "-k", "sobel:axis=x", "--gain", "0.25", "--offset", "128",
                  "-o", str(tmp_path / "o.png")).exit_code == 0
    expected = to_samples(0.25 * correlate_ref(load(step), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) + 128)
    assert np.array_equal(load(tmp_path / "o.png"), expected)


# --- batches ------------------------------------------------------------------------


@QUIET
def test_a_folder_recursively(photos, tmp_path, quiet):
    out = tmp_path / "out"
    proc = run("-r", str(photos), "-k", "box:size=3", "--outdir", str(out), *(["-q"] if quiet else []), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["a.png", "b.png", "sub/c.png"]
    for rel in ("a.png", "sub/c.png"):
        expected = to_samples(correlate_ref(load(photos / rel), np.ones((3, 3)) / 9))
        assert_close_samples(load(out / rel), expected)
    stderr = proc.stderr.decode()
    if quiet:
        assert stderr == ""
    else:
        assert "3 written, 0 failed, 0 skipped" in stderr


def test_a_folder_without_recursive_filters_the_images_directly_inside(photos, tmp_path):
    result = invoke(str(photos), "-k", "box", "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "a.png", "b.png"]  # sub/c.png needs -r


@QUIET
def test_a_quoted_glob_is_expanded_by_convcli(photos, tmp_path, quiet):
    proc = run("photos/*.png", "-k", "gaussian:sigma=1", "--outdir", "blurred", "--suffix", "_b",
               *(["--quiet"] if quiet else []), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path / "blurred")) == ["a_b.png", "b_b.png"]
    assert_close_samples(load(tmp_path / "blurred" / "b_b.png"), to_samples(gaussian_ref(load(photos / "b.png"), 1)))
    assert (proc.stderr == b"") == quiet


def test_stdin_to_stdout_piped_through_a_second_process(photos, tmp_path):
    source = (photos / "a.png").read_bytes()
    with (
        subprocess.Popen([CONVCLI, "apply", "-", "-k", "box:size=3", "-o", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path) as first,
        subprocess.Popen([CONVCLI, "apply", "-", "-k", "sharpen", "-o", "final.png", "-q"], stdin=first.stdout,
                         stderr=subprocess.PIPE, cwd=tmp_path) as second,
    ):
        first.stdout.close()
        first.stdin.write(source)
        first.stdin.close()
        second_err = second.stderr.read()
        first_err = first.stderr.read()
        assert second.wait(timeout=120) == 0 and first.wait(timeout=120) == 0
    assert first_err == b"" and second_err == b""
    step1 = to_samples(correlate_ref(load(photos / "a.png"), np.ones((3, 3)) / 9))
    sharpen = 2 * np.pad([[1.0]], 1) - np.ones((3, 3)) / 9
    assert_close_samples(load(tmp_path / "final.png"), to_samples(correlate_ref(step1, sharpen)), exact_share=0.99)


def test_stdout_format_and_cli_runner_stdin(photos):
    result = invoke("-", "-k", "box", "-o", "-", "--format", "npy", "-q", input=(photos / "a.png").read_bytes())
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout_bytes[:6] == b"\x93NUMPY"


def test_paths_from_stdin_with_from_file(photos, tmp_path):
    listing = "\n".join(str(p) for p in sorted(photos.rglob("*.png"))) + "\n"
    proc = run("--from-file", "-", "-k", "box", "--outdir", "out", "--json", cwd=tmp_path, input=listing.encode())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [f["status"] for f in report["files"]] == ["written"] * 3
    # each listed path keeps its place relative to the current folder, as rsync --files-from
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "photos/a.png", "photos/b.png", "photos/sub/c.png"]
    assert report["summary"]["written"] == 3 and report["summary"]["failed"] == 0


def test_from_file_list_in_a_file(photos, tmp_path):
    (tmp_path / "list.txt").write_text(f"{photos / 'a.png'}\n\n{photos / 'missing.png'}\n")
    result = invoke("--from-file", str(tmp_path / "list.txt"), "-k", "box", "--outdir", str(tmp_path / "o"),
                    "--base", str(photos))
    assert result.exit_code == 1
    assert f"Error: {photos / 'missing.png'}: no such file or folder; check the path" in result.stderr.splitlines()
    assert os.listdir(tmp_path / "o") == ["a.png"]


@pytest.mark.parametrize("runner", ["cli_runner", "subprocess"])
def test_16bit_round_trip(tmp_path, runner):
    rng = np.random.default_rng(5)
    deep = ndimage.gaussian_filter(rng.random((40, 50)), 3) * 65535 * 1.5
    source = save(tmp_path / "deep.png", np.clip(deep, 0, 65535).astype(np.uint16))
    args = (str(source), "-k", "gaussian:sigma=2", "-o", str(tmp_path / "out.png"))
    code = invoke(*args).exit_code if runner == "cli_runner" else run(*args, cwd=tmp_path).returncode
    assert code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "I;16"
    expected = to_samples(gaussian_ref(load(source), 2), 65535, np.uint16)
    assert_close_samples(load(tmp_path / "out.png"), expected, exact_share=0.99)


def test_rgba_without_colour_bleeding(tmp_path):
    image = np.zeros((30, 40, 4), np.uint8)
    image[:, :20] = (0, 255, 0, 0)  # fully transparent green
    image[:, 20:] = (255, 0, 0, 255)  # opaque red
    source = save(tmp_path / "rgba.png", image)
    proc = run(str(source), "-k", "gaussian:sigma=3", "-o", "out.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = load(tmp_path / "out.png")
    assert out.shape == (30, 40, 4)
    visible = out[..., 3] > 0
    assert visible[:, 17:].all() and not visible[:, :5].any()
    assert np.all(out[visible][:, 0] == 255) and np.all(out[visible][:, 1:3] == 0)  # red only, never green
    expected_alpha = to_samples(gaussian_ref(image[..., 3], 3))
    assert_close_samples(out[..., 3], expected_alpha)
    kept = invoke(str(source), "-k", "gaussian:sigma=3", "--alpha", "keep", "-o", str(tmp_path / "kept.png"))
    assert kept.exit_code == 0 and np.array_equal(load(tmp_path / "kept.png")[..., 3], image[..., 3])


def test_npy_float_round_trip_equals_the_library(tmp_path):
    import convcli
    from convcli.kernels import kernel

    rng = np.random.default_rng(11)
    arr = rng.normal(size=(33, 29, 2)).astype(np.float32)
    source = save(tmp_path / "in.npy", arr)
    result = invoke(str(source), "-k", "gaussian:sigma=1.5", "--activation", "tanh", "--pool", "mean:size=2",
                    "-o", str(tmp_path / "out.npy"))
    assert result.exit_code == 0, result.stderr
    out = np.load(tmp_path / "out.npy")
    ops = [convcli.Convolve(kernel("gaussian:sigma=1.5")), convcli.Activate("tanh"), convcli.Pooling("mean", 2)]
    library = convcli.stream_filter(arr, ops).collect()
    assert out.dtype == np.float32 and np.array_equal(out, library)
    independent = np.stack([ref_pool(np.tanh(gaussian_ref(arr[..., c], 1.5)), 2, op="mean") for c in range(2)], 2)
    np.testing.assert_allclose(out, independent, atol=1e-5)  # unclipped float, in the input's units


@pytest.mark.slow
def test_jobs_2_writes_the_same_bytes_as_jobs_1(tmp_path):
    rng = np.random.default_rng(2)
    for i in range(6):
        save(tmp_path / "in" / f"{i}.png", rng.integers(0, 256, (180 + 10 * i, 240, 3)).astype(np.uint8))
    args = ["-r", "in", "-k", "gaussian:sigma=5", "-k", "sobel:axis=both", "--range", "normalize", "--pool",
            "max:size=2", "-q"]
    for jobs in ("1", "2"):
        proc = run(*args, "--outdir", f"j{jobs}", "--jobs", jobs, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(tmp_path / "j1"))
    assert names == [f"{i}.png" for i in range(6)] == sorted(os.listdir(tmp_path / "j2"))
    for name in names:
        assert (tmp_path / "j1" / name).read_bytes() == (tmp_path / "j2" / name).read_bytes(), name


@QUIET
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_corrupt_file_among_good_ones(photos, tmp_path, quiet, jobs):
    (photos / "broken.png").write_bytes((photos / "a.png").read_bytes()[:200])
    proc = run("photos/*.png", "-k", "box", "--outdir", "out", "-j", jobs, *(["-q"] if quiet else []), cwd=tmp_path)
    assert proc.returncode == 1
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]
    lines = proc.stderr.decode().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: photos/broken.png: the image is damaged or truncated")
    assert "Traceback" not in proc.stderr.decode()
    if quiet:
        assert lines == errors
    else:
        assert any("2 written, 1 failed, 0 skipped" in line for line in lines)
        assert lines[lines.index("Failed (1):") + 1].startswith("  photos/broken.png: the image is damaged")
    assert no_temp_files(tmp_path / "out")


def test_no_overwrite_without_force(photos, tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    result = invoke(str(photos / "a.png"), "-k", "box", "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {photos / 'a.png'}: {target}: exists already; pass --force to overwrite it "
                             "or --skip-existing to keep it\n")
    assert target.read_bytes() == b"precious"
    assert invoke(str(photos / "a.png"), "-k", "box", "-o", str(target), "--skip-existing").exit_code == 0
    assert target.read_bytes() == b"precious"
    assert invoke(str(photos / "a.png"), "-k", "box", "-o", str(target), "--force", "-q").exit_code == 0
    assert load(target).shape == load(photos / "a.png").shape


def test_an_output_equal_to_its_input_needs_force(photos):
    result = invoke(str(photos / "a.png"), "-k", "box", "-o", str(photos / "a.png"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {photos / 'a.png'} would replace its own input; pass --force")
    before = load(photos / "a.png")
    assert invoke(str(photos / "a.png"), "-k", "box", "-o", str(photos / "a.png"), "--force").exit_code == 0
    assert not np.array_equal(load(photos / "a.png"), before)


def test_two_inputs_with_one_output_are_reported_before_writing(photos, tmp_path):
    save(tmp_path / "other" / "a.png", np.zeros((4, 4), np.uint8))
    result = invoke(str(photos / "a.png"), str(tmp_path / "other" / "a.png"), "-k", "box",
                    "--outdir", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "2 inputs would write the same file" in result.stderr and "nothing was written" in result.stderr
    assert not (tmp_path / "out").exists()


# --- interruption -------------------------------------------------------------------


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C stops it, whatever the test run's own SIGINT disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_batch_leaves_only_complete_outputs(tmp_path, jobs, sig, code):
    with Image.open(SAMPLES / "coffee.png") as im:
        coffee = np.array(im.convert("RGB"))
    for i in range(12):
        save(tmp_path / "in" / f"{i:02d}.png", np.roll(coffee, i, axis=1))
    args = ["-r", "in", "-k", "gaussian:sigma=5", "--method", "direct", "--outdir", "out", "-j", jobs]
    out = tmp_path / "out"
    # a run started in the background (`pytest &`) ignores SIGINT, and a child inherits that: restore Ctrl-C's default
    with subprocess.Popen([CONVCLI, "apply", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, preexec_fn=_default_sigint) as proc:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
            time.sleep(0.02)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr.decode()
    assert stderr.decode().startswith("Interrupted after ")
    assert no_temp_files(out)
    written = sorted(p.name for p in out.iterdir())
    assert 1 <= len(written) < 12
    first = load(out / written[0])  # complete and correct
    assert_close_samples(first, to_samples(gaussian_ref(load(tmp_path / "in" / written[0]), 5)))
    for name in written:
        load(out / name)
    rerun = run(*args, "--skip-existing", "-q", cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert len(os.listdir(out)) == 12 and no_temp_files(out)


def test_a_closed_stdout_pipe_ends_quietly(tmp_path):
    save(tmp_path / "big.npy", np.zeros((1500, 1500, 3), np.float32))
    proc = subprocess.run(f"{CONVCLI} apply big.npy -k identity -o - --format npy | head -c 10 > head.bin",
                          shell=True, cwd=tmp_path, capture_output=True, timeout=120,
                          executable="/bin/bash")
    assert proc.stderr == b"" and (tmp_path / "head.bin").read_bytes() == b"\x93NUMPY\x01\x00v\x00"
    piped = subprocess.run(CONVCLI + " apply big.npy -k identity -o - --format npy | head -c 10 >/dev/null; "
                           "echo ${PIPESTATUS[0]}",
                           shell=True, cwd=tmp_path, capture_output=True, timeout=120, executable="/bin/bash")
    assert piped.stdout.strip() == b"141" and piped.stderr == b""


def _stderr_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    import pty

    master, slave = pty.openpty()
    with subprocess.Popen([CONVCLI, "apply", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=slave) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


@QUIET
def test_progress_bar_on_a_terminal(photos, tmp_path, quiet):
    code, text = _stderr_on_a_terminal(["-r", str(photos), "-k", "box", "--outdir", "out", "-j", "1",
                                        *(["-q"] if quiet else [])], tmp_path)
    assert code == 0
    if quiet:
        assert text == ""
    else:
        assert "files/s" in text and "ETA" in text and "3/3" in text
        assert "Done in " in text and "3 written, 0 failed, 0 skipped" in text


# --- dry run and reports --------------------------------------------------------------


def test_dry_run_shows_paths_shapes_and_methods_and_writes_nothing(photos, tmp_path):
    result = invoke(str(photos / "a.png"), "-k", "gaussian:sigma=8", "--stride", "2", "--pool", "max:size=2",
                    "--outdir", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{photos / 'a.png'} -> {tmp_path / 'out' / 'a.png'}  (60x80x3 in, 15x20x3 8-bit PNG out)"
    assert "60x80x3 -> 30x40x3" in lines[1] and "correlate gaussian:sigma=8 (65x65)" in lines[1]
    assert "[method " in lines[1]
    assert "30x40x3 -> 15x20x3" in lines[2] and "max pool 2x2 stride 2x2" in lines[2]
    assert "nothing was written" in result.stderr
    assert not (tmp_path / "out").exists()
    report = json.loads(invoke(str(photos / "a.png"), "-k", "box", "--method", "fft", "-o", str(tmp_path / "x.png"),
                               "--dry-run", "--json").stdout)
    assert report["dry_run"] and report["files"][0]["status"] == "planned"
    step = report["files"][0]["steps"][0]
    assert (step["method"], step["reason"], step["output"]) == ("fft", "forced by --method", [60, 80, 3])
    assert not (tmp_path / "x.png").exists()


def test_json_report_of_a_run(photos, tmp_path):
    result = invoke(str(photos / "a.png"), str(photos / "nope.png"), "-k", "box", "--outdir", str(tmp_path / "o"),
                    "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(f["status"], f["output_shape"]) for f in report["files"]] == [("written", [60, 80, 3]), ("failed", None)]
    assert report["files"][1]["error"].endswith("nope.png: no such file or folder; check the path")
    assert report["summary"] == {"total": 2, "written": 1, "planned": 0, "skipped": 0, "failed": 1,
                                 "seconds": report["summary"]["seconds"]}


# --- usage errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Error: give at least one INPUT (a file, folder, quoted glob or - for stdin), or --from-file LIST"),
        (["a.png", "b.png", "-k", "box", "-o", "x.png"], "Error: -o x.png names one output, but there are 2 inputs"),
        (["a.png"], "Error: say where the outputs go: -o FILE (or -o - for stdout), --outdir DIR, or --suffix"),
        (["a.png", "-o", "x.png", "--force", "--skip-existing"], "Error: --force replaces existing outputs"),
        (["a.png", "-o", "-", "--json"], "Error: --json prints its report on stdout, which -o - uses"),
        (["a.png", "-o", "x.png", "--channels", "rgb"], "Error: --channels must be one of each, sum, gray, got 'rgb'"),
        (["a.png", "-o", "x.png", "--stride", "0"],
         "Error: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'"),
        (["a.png", "-o", "x.png", "--pad", "lots"], "Error: --pad must be same, valid, full, N, HxW or T,B,L,R"),
        (["a.png", "-o", "x.png", "--anchor", "1"],
         "Error: --anchor must be R,C (e.g. 1,1) with integers >= 0, got '1'"),
        (["a.png", "-o", "x.jpg", "--depth", "16"], "Error: --depth 16: JPEG cannot hold 16-bit samples"),
        (["a.png", "-o", "-", "--depth", "float"], "Error: --depth float: PNG cannot hold float samples"),
        (["a.png", "-o", "x.png", "--border", "mirror"], "Error: border 'mirror' is ambiguous"),
        (["a.png", "-o", "x.png", "-k", "box", "--anchor", "5,5"], "Error: anchor must lie inside the 3x3 kernel"),
        (["a.png", "-o", "x.png", "--pool", "median:size=2"], "Error: --pool 'median:size=2': the operation must be"),
        (["a.png", "-o", "x.png", "--pool", "max:size=2,pad=2"], "Error: pooling pad must be at most half the window"),
        (["a.png", "--outdir", "o", "--name", "{stem}_{when}.png"], "Error: --name '{stem}_{when}.png' uses an"),
        (["a.png", "--outdir", "o", "--format", "docx"], "Error: --format 'docx' is not a format convcli writes"),
        (["-", "--from-file", "-", "-o", "x.png"], "Error: stdin can carry an image (INPUT -) or a list of paths"),
        (["a.png", "-o", "x.png", "--gain", "nan"], "Error: --gain must be a finite number, got nan"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1 and not os.listdir(tmp_path)


def test_a_bad_kernel_is_an_error_before_any_file(photos, tmp_path):
    result = invoke(str(photos / "a.png"), "-k", "gausian:sigma=2", "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown kernel 'gausian'") and "did you mean 'gaussian'?" in result.stderr
    result = invoke(str(photos / "a.png"), "-k", "1 -1", "--normalize", "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 1 and "sums to 0, so --normalize cannot divide" in result.stderr


def test_border_value_without_a_constant_border_warns(photos, tmp_path):
    result = invoke(str(photos / "a.png"), "-k", "box", "--border-value", "9", "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == ("Warning: --border-value 9 has no effect with --border reflect; "
                                             "it is the value of --border constant")
    quiet = invoke(str(photos / "a.png"), "-k", "box", "--border-value", "9", "-o", str(tmp_path / "y.png"), "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_max_pixels_guards_against_bombs(photos, tmp_path):
    result = invoke(str(photos / "a.png"), "-k", "box", "-o", str(tmp_path / "x.png"), "--max-pixels", "1000")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {photos / 'a.png'}: 80x60 is 4,800 pixels, over the limit of 1,000 (a "
                             "decompression bomb guard); raise it with --max-pixels if the image is real and fits in "
                             "memory, or convert it to a tiled TIFF, which convcli streams: vips tiffsave "
                             f"{photos / 'a.png'} {photos / 'a.tif'} --tile --bigtiff\n")
    assert invoke(str(photos / "a.png"), "-k", "box", "-o", str(tmp_path / "x.png"), "--max-pixels", "0").exit_code == 0


# --- every option changes the result as documented -------------------------------------


def _apply_gray(tmp_path, *options, source=None, name="o.png"):
    if source is None:
        rng = np.random.default_rng(4)
        source = save(tmp_path / "g.png", rng.integers(0, 256, (21, 26)).astype(np.uint8))
    result = invoke(str(source), *options, "-o", str(tmp_path / name), "-q", "--force")
    assert result.exit_code == 0, result.stderr
    return load(source), load(tmp_path / name)


ASYM = [[0, 0, 0], [1, 0, 0], [0, 0, 0]]  # takes the pixel on the left


@pytest.mark.parametrize(
    ("options", "reference"),
    [
        (["-k", "0 0 0; 1 0 0; 0 0 0"], lambda x: correlate_ref(x, ASYM)),
        (["-k", "0 0 0; 1 0 0; 0 0 0", "--flip"], lambda x: ndimage.convolve(x.astype(float), ASYM, mode="mirror")),
        (["-k", "1 2 1", "--normalize"], lambda x: correlate_ref(x, [[0.25, 0.5, 0.25]])),
        (["-k", "box:size=3", "--border", "constant", "--border-value", "200"],
         lambda x: correlate_ref(x, np.ones((3, 3)) / 9, mode="constant", cval=200)),
        (["-k", "box:size=3", "--border", "edge"], lambda x: correlate_ref(x, np.ones((3, 3)) / 9, mode="nearest")),
        (["-k", "box:size=3", "--pad", "valid"], lambda x: correlate_ref(x, np.ones((3, 3)) / 9)[1:-1, 1:-1]),
        (["-k", "box:size=3", "--stride", "2x3"], lambda x: correlate_ref(x, np.ones((3, 3)) / 9)[::2, ::3]),
        (["-k", "1 0 -1", "--dilation", "2"], lambda x: correlate_ref(x, [[1, 0, 0, 0, -1]]) + 0),
        (["-k", "1 2 4", "--anchor", "0,0", "--border", "constant"],
         lambda x: correlate_ref(x, [[0, 0, 1, 2, 4]], mode="constant")),
        (["-k", "laplacian", "--activation", "relu"],
         lambda x: np.maximum(correlate_ref(x, [[0, 1, 0], [1, -4, 1], [0, 1, 0]]), 0)),
        (["-k", "laplacian", "--range", "abs"], lambda x: np.abs(correlate_ref(x, [[0, 1, 0], [1, -4, 1], [0, 1, 0]]))),
        (["--pool", "max:size=2"], lambda x: ref_pool(x, 2)),
        (["--pool", "min:size=3,stride=1,pad=1"], lambda x: ref_pool(x, 3, stride=1, op="min", pad=1)),
        (["--pool", "mean:size=2,ceil=true"], lambda x: ref_pool(x, 2, op="mean", ceil_mode=True)),
        (["-k", "box", "--method", "fft"], lambda x: correlate_ref(x, np.ones((3, 3)) / 9)),
    ],
)
def test_options_match_references(tmp_path, options, reference):
    source, out = _apply_gray(tmp_path, *options)
    assert_close_samples(out, to_samples(reference(source)), exact_share=0.99)


def test_range_normalize_and_depth(tmp_path):
    source, out = _apply_gray(tmp_path, "-k", "sobel:axis=y", "--range", "normalize", "--depth", "16")
    edges = correlate_ref(source, [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    expected = (edges - edges.min()) * (65535 / (edges.max() - edges.min()))
    assert out.dtype == np.uint16 and out.min() == 0 and out.max() == 65535
    assert_close_samples(out, to_samples(expected, 65535, np.uint16), exact_share=0.99)
    result = invoke(str(tmp_path / "g.png"), "-k", "box", "--depth", "float", "-o", str(tmp_path / "f.tif"))
    assert result.exit_code == 0
    with Image.open(tmp_path / "f.tif") as image:
        assert image.mode == "F"
    np.testing.assert_allclose(load(tmp_path / "f.tif"), correlate_ref(source, np.ones((3, 3)) / 9) / 255, atol=1e-5)


def test_channels_gray_and_sum(photos, tmp_path):
    rgb = load(photos / "a.png")
    gray = invoke(str(photos / "a.png"), "-k", "box", "--channels", "gray", "-o", str(tmp_path / "g.png"))
    assert gray.exit_code == 0
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    assert_close_samples(load(tmp_path / "g.png"), to_samples(correlate_ref(luma, np.ones((3, 3)) / 9)))
    assert invoke(str(photos / "a.png"), "-k", "sobel:axis=x", "--channels", "sum", "--range", "abs", "-o",
                  str(tmp_path / "s.png")).exit_code == 0
    summed = correlate_ref(rgb, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]).sum(axis=2)
    assert np.array_equal(load(tmp_path / "s.png"), to_samples(np.abs(summed)))


def test_float_input_to_png_falls_back_to_16bit_with_a_warning(tmp_path):
    save(tmp_path / "f.npy", np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5))
    result = invoke(str(tmp_path / "f.npy"), "-k", "identity", "-o", str(tmp_path / "f.png"))
    assert result.exit_code == 0
    assert "PNG cannot hold float data here; wrote 16-bit" in result.stderr
    out = load(tmp_path / "f.png")
    assert out.dtype == np.uint16 and out[0, 0] == 0 and out[-1, -1] == 65535


def test_names_formats_and_quality(photos, tmp_path):
    out = tmp_path / "o"
    assert invoke(str(photos / "a.png"), str(photos / "b.png"), "-k", "box", "--outdir", str(out), "--name",
                  "{index}_{stem}{suffix}.{ext}", "--suffix", "_x", "--format", "jpg", "--quality", "30").exit_code == 0
    assert sorted(os.listdir(out)) == ["1_a_x.jpg", "2_b_x.jpg"]
    assert invoke(str(photos / "a.png"), "-k", "box", "-o", str(tmp_path / "hq.jpg"), "--quality", "95").exit_code == 0
    assert (tmp_path / "hq.jpg").stat().st_size > (out / "1_a_x.jpg").stat().st_size


def test_fail_fast_stops_the_batch(photos, tmp_path):
    (photos / "0bad.png").write_bytes(b"junk")
    result = invoke(str(photos / "*.png"), "-k", "box", "--outdir", str(tmp_path / "o"), "--fail-fast", "-j", "1")
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        f"Error: {photos / '0bad.png'}: not an image Pillow can read (unknown or corrupt format); convert it to "
        "PNG, JPEG or TIFF, or give a .npy array"]
    assert not (tmp_path / "o").exists() or os.listdir(tmp_path / "o") == []


def test_jpeg_orientation_and_icc_profile_are_honoured(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    icc = bytearray(128)
    icc[16:20] = b"RGB "
    Image.fromarray(arr).save(tmp_path / "o.jpg", exif=exif.tobytes(), icc_profile=bytes(icc), quality=100)
    assert invoke(str(tmp_path / "o.jpg"), "-k", "identity", "-o", str(tmp_path / "out.png")).exit_code == 0
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (20, 40) and out.info.get("icc_profile") == bytes(icc)
        assert out.getexif().get(0x0112) == 1
        assert np.array(out)[5, 10].mean() > 200


# --- help -----------------------------------------------------------------------------


def test_help_lists_every_option_with_an_example():
    import typer.main

    command = typer.main.get_command(app).commands["apply"]  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["apply", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for param in command.params:
        if param.name == "help":
            continue
        assert "E.g." in (param.help or ""), param.name
        for opt in param.opts:
            if opt.startswith("-"):
                assert opt in result.stdout, opt
    assert "convcli apply photo.png -k gaussian:sigma=3 -o blurred.png" in result.stdout
    assert ("Exit codes: 0 all done, 1 some file failed, 2 usage error, 130 Ctrl-C, 141 stdout closed early, "
            "143 SIGTERM.") in result.stdout
