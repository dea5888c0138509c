"""Issue 23, data loss and leftovers: narrow tiled TIFFs, Zarr replacement, declared-huge inputs, damaged TIFFs."""

from __future__ import annotations

import io

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")

from convcli.imageio.tiff_write import write_tiff  # noqa: E402

_DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]


def _compressions() -> list[str]:
    names = ["none", "deflate", "lzw"]
    try:
        import imagecodecs  # noqa: F401

        names.append("zstd")
    except ImportError:
        pass
    return names


@pytest.mark.parametrize("compression", _compressions())
@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("channels", [None, 3])
def test_a_tiled_tiff_one_to_three_pixels_wide_or_high_reads_back_exactly(dtype, compression, channels):
    rng = np.random.default_rng(23)
    for height in (1, 2, 3, 17):
        for width in (1, 2, 3, 17):
            if height == 17 and width == 17:
                continue
            shape = (height, width) if channels is None else (height, width, channels)
            if np.dtype(dtype).kind == "f":
                image = rng.normal(0, 1000, shape).astype(dtype)
            else:
                info = np.iinfo(dtype)
                image = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
            buffer = io.BytesIO()
            write_tiff(buffer, [(0, image)], shape=shape, dtype=np.dtype(dtype), name="x.tif", tile=16,
                       compression=compression)
            back = tifffile.imread(io.BytesIO(buffer.getvalue()))
            assert back.shape == shape, (shape, back.shape)
            np.testing.assert_array_equal(back, image, err_msg=f"{shape} {dtype} {compression}")


def test_the_issue_reproducer_one_column_through_the_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from convcli.cli import app

    monkeypatch.chdir(tmp_path)
    image = (np.arange(9, dtype=np.uint16) * 1000).reshape(9, 1)
    np.save("w1.npy", image)
    result = CliRunner().invoke(app, ["apply", "w1.npy", "-k", "identity", "-o", "w1.tif", "--tile", "16"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(tifffile.imread("w1.tif"), image)


# --- item: a Zarr tile that is not a multiple of 16: one rule for the library and the CLI ------------------------


@pytest.mark.parametrize("tile", [100, 17, 40])
def test_a_zarr_tile_not_a_multiple_of_16_is_refused_by_the_library_as_by_the_cli(tmp_path, monkeypatch, tile):
    pytest.importorskip("zarr")
    from typer.testing import CliRunner

    from convcli.cli import app
    from convcli.errors import ParameterError
    from convcli.imageio import write_bands

    image = np.arange(40 * 30, dtype=np.uint8).reshape(40, 30)
    with pytest.raises(ParameterError, match=rf"multiple of 16 .*got {tile}"):
        write_bands(tmp_path / "lib.zarr", [(0, image)], shape=image.shape, dtype=image.dtype, fmt="ZARR", tile=tile)
    assert not (tmp_path / "lib.zarr").exists()
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", image)
    result = CliRunner().invoke(app, ["apply", "in.npy", "-k", "identity", "-o", "cli.zarr", "--tile", str(tile)])
    assert result.exit_code == 2 and "multiple of 16" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


# --- item: declared-huge Zarr inputs are refused from their metadata -----------------------------------------------


def _limited(memory: int = 3 * 2**30):
    def preexec() -> None:
        import resource
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return preexec


def _convcli(args: list[str], cwd, *, timeout: float = 60, memory: int = 3 * 2**30):
    import subprocess
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).parent / "convcli"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limited(memory))


@pytest.mark.parametrize(("shape", "chunks", "named"), [
    ((2**31, 2**31), (512, 512), "whole-image limit of 1,099,511,627,776"),
    ((34, 2**62), (34, 512), "2**62 bytes"),
    ((2**40, 281, 3), (512, 281, 3), "whole-image limit of 1,099,511,627,776"),
])
@pytest.mark.parametrize("output", ["out.tif", "out.zarr", "out.png"])
def test_a_declared_huge_zarr_input_fails_fast_from_its_metadata(tmp_path, shape, chunks, named, output):
    import time

    zarr = pytest.importorskip("zarr")
    zarr.create_array(store=str(tmp_path / "huge.zarr"), shape=shape, chunks=chunks, dtype="uint8")
    started = time.monotonic()
    result = _convcli(["apply", "huge.zarr", "-k", "box", "-o", output], tmp_path)
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: huge.zarr: declares "), result.stderr
    assert named in lines[0] and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.zarr"]


def test_the_whole_image_limit_follows_max_pixels_when_larger(tmp_path):
    zarr = pytest.importorskip("zarr")
    from convcli.errors import ImageReadError
    from convcli.imageio import open_image

    zarr.create_array(store=str(tmp_path / "big.zarr"), shape=(2**21, 2**20), chunks=(512, 512), dtype="uint8")
    with pytest.raises(ImageReadError, match=r"whole-image limit of 1,099,511,627,776 \(2\*\*40"):
        open_image(tmp_path / "big.zarr")
    with open_image(tmp_path / "big.zarr", max_pixels=2**42) as source:  # a larger --max-pixels raises it
        assert source.shape == (2**21, 2**20)
    with pytest.raises(ImageReadError, match=r"whole-image limit of 4,398,046,511,104 \(--max-pixels"):
        zarr.create_array(store=str(tmp_path / "bigger.zarr"), shape=(2**22, 2**21), chunks=(512, 512),
                          dtype="uint8")
        open_image(tmp_path / "bigger.zarr", max_pixels=2**42)
