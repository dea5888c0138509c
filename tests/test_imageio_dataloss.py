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


# --- item: damaged TIFFs: tifffile's log, PlanarConfiguration 0, byte counts -----------------------------------


def _patched_tiff(path, image, patches, **options):
    """``image`` written by tifffile, then tag values overwritten in place: {tag: (index, value)}."""
    import struct

    tifffile.imwrite(path, image, **options)
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        for code, (index, value) in patches.items():
            tag = tags[code]
            size = {3: 2, 4: 4, 16: 8}[int(tag.dtype)]
            where = tag.valueoffset + index * size
            data[where : where + size] = struct.pack({2: "<H", 4: "<I", 8: "<Q"}[size], value)
    path.write_bytes(bytes(data))
    return path


def _rgb(shape=(64, 64, 3)):
    return np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("tiled", [True, False])
def test_an_invalid_planar_configuration_fails_with_one_error_line_and_nothing_from_tifffile(tmp_path, tiled):
    layout = {"tile": (16, 16)} if tiled else {"rowsperstrip": 8}
    _patched_tiff(tmp_path / "pc0.tif", _rgb(), {284: (0, 0)}, photometric="rgb", planarconfig="contig", **layout)
    result = _convcli(["apply", "pc0.tif", "-k", "identity", "-o", "out.tif"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: pc0.tif: "), result.stderr
    assert "PlanarConfiguration is 0" in result.stderr and "tifffile.Tiff" not in result.stderr
    assert not (tmp_path / "out.tif").exists()


def test_a_tifffile_problem_with_a_pixel_tag_fails_and_with_another_tag_is_a_warning(capfd):
    import logging

    from convcli.imageio.tiff_checks import judged, tifffile_log

    with tifffile_log() as said:
        logging.getLogger("tifffile").warning("<tifffile.TiffTag 258 @10> raised ValueError('bad')")
        logging.getLogger("tifffile").warning("<tifffile.TiffTag 305 @30> coercing invalid ASCII to bytes")
    assert capfd.readouterr().err == ""  # never on stderr
    fatal, harmless = judged(said, samples=3)
    assert fatal == "<tifffile.TiffTag 258 @10> raised ValueError('bad')"
    assert harmless == ["<tifffile.TiffTag 305 @30> coercing invalid ASCII to bytes"]


def test_a_tifffile_warning_about_a_text_tag_is_a_warning_and_the_pixels_are_right(tmp_path, monkeypatch):
    """A damaged Software tag (bytes that are not ASCII): tifffile logs; convcli warns and reads the pixels."""
    import logging

    image = _rgb()
    tifffile.imwrite(tmp_path / "t.tif", image, photometric="rgb", tile=(16, 16), software="abc")
    from convcli.imageio import open_image

    real = tifffile.TiffFile.__init__

    def noisy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        logging.getLogger("tifffile").warning("<tifffile.TiffTag 305 @30> coercing invalid ASCII to bytes")

    monkeypatch.setattr(tifffile.TiffFile, "__init__", noisy)
    with open_image(tmp_path / "t.tif") as source:
        np.testing.assert_array_equal(source.read(), tifffile.imread(tmp_path / "t.tif"))
        assert any("coercing invalid ASCII" in note for note in source.info.notes)


def test_a_tile_with_byte_count_0_at_a_real_offset_is_said(tmp_path):
    image = _rgb((32, 32, 3))
    _patched_tiff(tmp_path / "bc0.tif", image, {325: (1, 0)}, photometric="rgb", tile=(16, 16))
    result = _convcli(["apply", "bc0.tif", "-k", "identity", "-o", "out.tif"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Warning: bc0.tif: 1 tile(s) of 4 (2) have a byte count of 0 at a real offset")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), tifffile.imread(tmp_path / "bc0.tif"))


# --- item: under a memory limit a damaged TIFF still says "damaged" ----------------------------------------------


@pytest.mark.parametrize("limit", [None, 1500 * 2**20])
@pytest.mark.parametrize("damage", ["byte count 2**32-1", "SamplesPerPixel 65535"])
@pytest.mark.parametrize("output", ["out.npy", "out.tif"])
def test_a_damaged_tiff_says_damaged_with_or_without_a_memory_limit(tmp_path, limit, damage, output):
    pytest.importorskip("imagecodecs")
    patch = {325: (1, 2**32 - 1)} if damage.startswith("byte") else {277: (0, 65535)}
    _patched_tiff(tmp_path / "d.tif", _rgb((512, 512, 3)), patch, photometric="rgb", tile=(256, 256),
                  compression="zlib")
    result = _convcli(["apply", "d.tif", "-k", "identity", "-o", output], tmp_path,
                      memory=limit or 2**62)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: d.tif: the image is damaged"), result.stderr
    assert "memory" not in lines[0].replace("MemoryError", "")


# --- item: a missing Zarr chunk reads as the fill value; the code and the docs say so -----------------------------


def test_a_missing_zarr_chunk_reads_as_the_fill_value_and_a_damaged_one_fails(tmp_path):
    import inspect
    from pathlib import Path

    zarr = pytest.importorskip("zarr")
    from convcli.errors import ImageReadError
    from convcli.imageio import open_image
    from convcli.imageio.zarr_store import ZarrSource

    image = np.arange(1, 32 * 32 + 1, dtype=np.uint16).reshape(32, 32)
    array = zarr.create_array(store=str(tmp_path / "a.zarr"), shape=image.shape, chunks=(16, 16), dtype="uint16",
                              fill_value=7)
    array[:] = image
    chunk = tmp_path / "a.zarr" / "c" / "1" / "0"
    assert chunk.is_file()
    chunk.unlink()
    expected = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")[:]  # zarr's own reading: the fill value
    assert (expected[16:, :16] == 7).all()
    with open_image(tmp_path / "a.zarr") as source:
        np.testing.assert_array_equal(source.read(), expected)
    (tmp_path / "a.zarr" / "c" / "0" / "0").write_bytes(b"not a chunk")
    with open_image(tmp_path / "a.zarr") as source, pytest.raises(ImageReadError, match="cannot decode rows"):
        source.read()
    # the code's comment and the docs say what happens
    said = inspect.getsource(ZarrSource._read)
    assert "missing one reads as the fill value" in said and "missing or" not in said.replace("\n", " ")
    docs = (Path(__file__).parent.parent / "docs" / "deep-and-huge.md").read_text()
    assert "A Zarr chunk that is missing reads as the\narray's fill value" in docs
