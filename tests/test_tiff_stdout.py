"""A TIFF written to stdout (``-o - --format tif``) goes through a bounded temporary file, not memory.

The TIFF sink streams its bands into a temporary file in ``TMPDIR`` (its name
removed as soon as it is open), then copies it to stdout in chunks: the bytes
are those of a file output, memory is that of a file output, nothing reaches
stdout unless the image is complete, and nothing is left in ``TMPDIR`` after
success, a failure or Ctrl-C.  Files are read back with tifffile; memory is
the child process's own peak (``os.wait4``).
"""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from convcli.imageio import SINKS, write_bands

CONVCLI = str(Path(sys.executable).parent / "convcli")
TIME = "/usr/bin/time"


def _default_sigint() -> None:
    """In the child, before exec: SIGINT's default disposition, whatever the test runner's was (``pytest &``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _tall_tiff(path: Path, height: int, width: int = 2000) -> np.ndarray:
    """A tiled uint16 TIFF of ``height`` x ``width`` (random rows repeated: cheap to make, hard to compress)."""
    rows = np.random.default_rng(height).integers(0, 65536, size=(500, width), dtype=np.uint16)
    image = np.tile(rows, (height // 500, 1))
    tifffile.imwrite(path, image, tile=(256, 256))
    return image


def _run(args: list[str], stdout: Path, tmpdir: Path) -> tuple[int, int, str]:
    """Run convcli with stdout into a file and TMPDIR set: exit code, its peak RSS in bytes, stderr.

    The peak is measured by ``/usr/bin/time``, whose child starts from time's small memory: a child forked
    from this test process would report at least this process's own peak (Linux keeps it across exec).
    """
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    errors, timing = stdout.with_name(stdout.name + ".stderr"), stdout.with_name(stdout.name + ".time")
    with open(stdout, "wb") as out, open(errors, "wb") as err:
        code = subprocess.run([TIME, "-f", "%M", "-o", str(timing), CONVCLI, *args], stdout=out, stderr=err,
                              env=env, preexec_fn=_default_sigint, check=False).returncode
    peak_kib = int(timing.read_text().split()[-1])
    return code, peak_kib * 1024, errors.read_text()


@pytest.fixture
def tmpdir_(tmp_path: Path) -> Path:
    """An empty TMPDIR of the test's own."""
    folder = tmp_path / "TMPDIR"
    folder.mkdir()
    return folder


@pytest.mark.skipif(not os.access(TIME, os.X_OK), reason="needs /usr/bin/time to measure the child's peak")
def test_a_tall_tiff_to_stdout_equals_the_file_output_and_peaks_far_below_the_image(tmp_path, tmpdir_):
    """Before: the image was assembled in memory (about 2.8x the image's bytes at the peak)."""
    big = tmp_path / "big.tif"
    image = _tall_tiff(big, 30000)
    small = tmp_path / "small.tif"
    _tall_tiff(small, 500)
    code, baseline, err = _run(["apply", str(small), "-k", "box", "-o", "-", "--format", "tif", "-q"],
                               tmp_path / "small_out.tif", tmpdir_)
    assert code == 0, err
    code, file_peak, err = _run(["apply", str(big), "-k", "box", "-o", str(tmp_path / "file.tif"), "-q"],
                                tmp_path / "nothing", tmpdir_)
    assert code == 0, err
    code, stdout_peak, err = _run(["apply", str(big), "-k", "box", "-o", "-", "--format", "tif", "-q"],
                                  tmp_path / "piped.tif", tmpdir_)
    assert code == 0, err
    assert (tmp_path / "piped.tif").read_bytes() == (tmp_path / "file.tif").read_bytes()
    got = tifffile.imread(tmp_path / "piped.tif")
    assert got.shape == image.shape and got.dtype == np.uint16
    assert list(tmpdir_.iterdir()) == [], "the temporary file must be gone"
    mib = 2**20
    assert stdout_peak - baseline < image.nbytes / 2, (
        f"peak {stdout_peak / mib:.0f} MiB over a {baseline / mib:.0f} MiB baseline for a {image.nbytes / mib:.0f} "
        "MiB image")
    assert stdout_peak < file_peak + 16 * mib, f"stdout {stdout_peak / mib:.0f} MiB, file {file_peak / mib:.0f} MiB"


@pytest.mark.skipif(not os.access(TIME, os.X_OK), reason="runs convcli under /usr/bin/time")
def test_a_tiff_that_fails_midway_writes_nothing_to_stdout_and_leaves_no_temporary_file(tmp_path, tmpdir_):
    """A compressed tiled TIFF with a damaged tile three quarters down: the read fails after bands were written."""
    rows = np.random.default_rng(5).integers(0, 65536, size=(500, 2000), dtype=np.uint16)
    whole = tmp_path / "whole.tif"
    tifffile.imwrite(whole, np.tile(rows, (12, 1)), tile=(256, 256), compression="zlib")
    with tifffile.TiffFile(whole) as tif:
        page = tif.pages[0]
        tile = len(page.dataoffsets) * 3 // 4
        start, size = page.dataoffsets[tile], page.databytecounts[tile]
    data = bytearray(whole.read_bytes())
    data[start:start + size] = b"\xff" * size
    cut = tmp_path / "cut.tif"
    cut.write_bytes(bytes(data))
    code, _, err = _run(["apply", str(cut), "-k", "box", "-o", "-", "--format", "tif", "-q"],
                        tmp_path / "piped.tif", tmpdir_)
    assert code == 1, err
    assert "cut.tif: cannot decode rows 4097-4608" in err
    assert (tmp_path / "piped.tif").read_bytes() == b""
    assert list(tmpdir_.iterdir()) == []


def _holds_a_file_in(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` has a file of ``folder`` open (its name removed or not)."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link.startswith(str(folder) + os.sep) for link in links)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see the temporary file")
def test_ctrl_c_while_the_tiff_is_spooled_leaves_no_temporary_file_and_writes_nothing(tmp_path, tmpdir_):
    """SIGINT once the child holds its temporary file in TMPDIR (before: it never had one, so this fails)."""
    big = tmp_path / "big.tif"
    _tall_tiff(big, 30000)
    piped = tmp_path / "piped.tif"
    env = {**os.environ, "TMPDIR": str(tmpdir_)}
    with open(piped, "wb") as out:
        proc = subprocess.Popen([CONVCLI, "apply", str(big), "-k", "gaussian:sigma=4", "-o", "-", "--format", "tif"],
                                stdout=out, stderr=subprocess.PIPE, env=env, start_new_session=True,
                                preexec_fn=_default_sigint)
        deadline = time.monotonic() + 60
        while not _holds_a_file_in(proc.pid, tmpdir_) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended without a temporary file in TMPDIR"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert piped.read_bytes() == b""
    assert list(tmpdir_.iterdir()) == []


# in this process: each step interrupted deterministically ----------------------------------------------------------


class _Stdout:
    """A stand-in for ``sys.stdout`` whose ``buffer`` records what is written."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()


def _bands(image: np.ndarray, rows: int, *, stop_at: int | None = None, error: type[BaseException] = RuntimeError):
    for i, first in enumerate(range(0, image.shape[0], rows)):
        if i == stop_at:
            raise error(f"band {i}")
        yield first, image[first:first + rows]


@pytest.fixture
def spied(monkeypatch, tmpdir_):
    """TMPDIR set, stdout captured, and the TIFF sink's writer watched: the handles it was given."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir_))
    stdout = _Stdout()  # put in place by each test (pytest sets its own sys.stdout again after the fixtures)
    handles: list[object] = []
    real = SINKS["TIFF"].write

    def write(handle, bands, **options):
        handles.append(handle)
        real(handle, bands, **options)

    monkeypatch.setitem(SINKS, "TIFF", dataclasses.replace(SINKS["TIFF"], write=write))
    return stdout, handles


def _captured(monkeypatch, stdout: _Stdout) -> _Stdout:
    monkeypatch.setattr(sys, "stdout", stdout)
    return stdout


def test_write_bands_to_stdout_goes_through_a_nameless_file_in_tmpdir(spied, tmpdir_, tmp_path, monkeypatch):
    stdout, handles = spied
    _captured(monkeypatch, stdout)
    image = np.random.default_rng(1).integers(0, 65536, size=(1000, 300), dtype=np.uint16)
    write_bands("-", _bands(image, 128), shape=image.shape, dtype=image.dtype, fmt="TIFF", tile=128)
    write_bands(tmp_path / "file.tif", _bands(image, 128), shape=image.shape, dtype=image.dtype, fmt="TIFF", tile=128)
    assert stdout.buffer.getvalue() == (tmp_path / "file.tif").read_bytes()
    np.testing.assert_array_equal(tifffile.imread(io.BytesIO(stdout.buffer.getvalue())), image)
    name = Path(handles[0].name)  # type: ignore[attr-defined]
    assert name.parent == tmpdir_ and not name.exists(), "a file in TMPDIR whose name is already gone"
    assert list(tmpdir_.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("step", range(8))
def test_an_error_or_ctrl_c_at_each_band_writes_nothing_to_stdout_and_leaves_nothing(spied, tmpdir_, step, error,
                                                                                     monkeypatch):
    stdout, handles = spied
    _captured(monkeypatch, stdout)
    image = np.random.default_rng(2).integers(0, 65536, size=(1000, 300), dtype=np.uint16)
    with pytest.raises(error, match=f"band {step}"):
        write_bands("-", _bands(image, 128, stop_at=step, error=error), shape=image.shape, dtype=image.dtype,
                    fmt="TIFF", tile=128)
    assert len(handles) == 1 and not isinstance(handles[0], io.BytesIO)
    assert stdout.buffer.getvalue() == b""
    assert list(tmpdir_.iterdir()) == []


def test_ctrl_c_while_copying_to_stdout_leaves_no_temporary_file(spied, tmpdir_, monkeypatch):
    stdout, _ = spied
    _captured(monkeypatch, stdout)
    written: list[int] = []

    def write(data) -> int:
        if written:
            raise KeyboardInterrupt("copying")
        written.append(len(data))
        return len(data)

    monkeypatch.setattr(stdout.buffer, "write", write)
    monkeypatch.setattr("convcli.imageio.sink._COPY_CHUNK", 4096)
    image = np.random.default_rng(3).integers(0, 65536, size=(400, 300), dtype=np.uint16)
    with pytest.raises(KeyboardInterrupt, match="copying"):
        write_bands("-", _bands(image, 100), shape=image.shape, dtype=image.dtype, fmt="TIFF")
    assert written == [4096], "copied in chunks, not in one piece"
    assert list(tmpdir_.iterdir()) == []


def test_other_formats_to_stdout_are_still_encoded_whole(spied, monkeypatch):
    stdout, _ = spied
    _captured(monkeypatch, stdout)
    image = np.random.default_rng(4).integers(0, 256, size=(40, 30), dtype=np.uint8)
    with pytest.raises(RuntimeError, match="band 1"):
        write_bands("-", _bands(image, 16, stop_at=1), shape=image.shape, dtype=image.dtype, fmt="PNG")
    assert stdout.buffer.getvalue() == b""
    write_bands("-", _bands(image, 16), shape=image.shape, dtype=image.dtype, fmt="PNG")
    assert stdout.buffer.getvalue()[:4] == b"\x89PNG"


def test_a_tiff_to_stdout_through_a_dask_cluster_comes_back_to_this_process(tmp_path, monkeypatch):
    """On a Dask worker ``-`` is not this process's stdout: the worker hands the bytes back (as before)."""
    pytest.importorskip("distributed")
    from typer.testing import CliRunner

    from convcli.cli import app

    monkeypatch.chdir(tmp_path)
    image = np.random.default_rng(6).integers(0, 65536, size=(300, 200), dtype=np.uint16)
    tifffile.imwrite("in.tif", image, tile=(128, 128))
    args = ["apply", "in.tif", "-k", "box", "-o", "-", "--format", "tif", "-q"]
    local = CliRunner().invoke(app, [*args, "--jobs", "1"])
    remote = CliRunner().invoke(app, [*args, "--scheduler", "local"])
    assert (local.exit_code, remote.exit_code) == (0, 0), remote.stderr
    assert remote.stdout_bytes == local.stdout_bytes
    assert tifffile.imread(io.BytesIO(local.stdout_bytes)).shape == (300, 200)


def test_a_reader_that_goes_away_ends_the_run_quietly_with_141(tmp_path, tmpdir_):
    """``-o - --format tif | head -c 10``: as for the other formats, exit 141 and nothing on stderr."""
    big = tmp_path / "big.tif"
    _tall_tiff(big, 6000)
    env = {**os.environ, "TMPDIR": str(tmpdir_)}
    proc = subprocess.Popen([CONVCLI, "apply", str(big), "-k", "box", "-o", "-", "--format", "tif"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_default_sigint)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)[:2] == b"II"
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert (proc.wait(timeout=60), err) == (141, "")
    assert list(tmpdir_.iterdir()) == []
