"""Short, seeded slices of the fuzzers, and regressions for what the long runs found.

The properties live in ``tests/fuzz_inputs.py`` (kernel specs, kernel files,
``apply`` options) and ``tests/fuzz_images.py`` (corrupted image bytes); the
only outcomes they allow are a correct result or a ``ConvcliError``.  Long
runs::

    python -m tests.fuzz_inputs --minutes 10 --seed 1
    python -m tests.fuzz_images --minutes 10 --seed 1
"""

from __future__ import annotations

import io
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.errors import ConvcliError, ImageReadError, KernelError, KernelFileError
from convcli.imageio import count_frames, probe_image, read_image
from convcli.kernels import kernel, load_kernel_file
from tests import fuzz_images
from tests.fuzz_inputs import SPECS, apply_cases, check_apply, check_kernel_file, check_spec, kernel_files

REGRESSIONS = Path(__file__).resolve().parent / "fuzz_corpus" / "regressions"


# --- the hypothesis properties, a CI-sized slice -----------------------------------------------


@settings(max_examples=150, deadline=None)
@given(case=SPECS, normalize=st.booleans())
def test_kernel_specs_give_a_kernel_or_a_convcli_error(case, normalize):
    check_spec(case, normalize)


@settings(max_examples=150, deadline=None)
@given(case=kernel_files())
def test_kernel_files_give_their_matrix_or_a_convcli_error(tmp_path_factory, case):
    check_kernel_file(case, str(tmp_path_factory.getbasetemp()))


@settings(max_examples=40, deadline=None)
@given(case=apply_cases())
def test_apply_option_combinations_give_the_planned_image_or_one_error_line(case):
    check_apply(case)


def test_corrupted_images_give_an_image_or_a_convcli_error():
    report = fuzz_images.run(seed=20261122, cases=400)
    assert report.other_exceptions == 0, report.failures
    assert report.ok > 40 and report.convcli_errors > 40  # both outcomes are exercised
    assert set(report.by_mutation) == set(fuzz_images.MUTATIONS)


def test_the_corpus_is_small_and_covers_the_formats():
    seeds = fuzz_images.load_corpus()
    assert sum(len(data) for _, data in seeds) < 1_000_000
    suffixes = {Path(name).suffix for name, _ in seeds}
    assert {".png", ".jpg", ".tif", ".gif", ".bmp", ".webp", ".ppm", ".pgm", ".tga", ".npy"} <= suffixes


def test_mutations_are_reproducible():
    seeds = [data for _, data in fuzz_images.load_corpus()]
    first = [fuzz_images.mutate(seeds[3], np.random.default_rng(9), seeds) for _ in range(1)]
    again = [fuzz_images.mutate(seeds[3], np.random.default_rng(9), seeds) for _ in range(1)]
    assert first == again


# --- regressions: what the fuzzers found -----------------------------------------------------------


def _tiff_with_a_damaged_second_page() -> bytes:
    """Three pages; the second page's ImageWidth tag renamed, so Pillow cannot set it up ("Missing dimensions")."""
    pages = [Image.fromarray(np.full((6, 8), v, np.uint8)) for v in (10, 20, 30)]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buffer.getvalue())
    (first,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[first : first + 2])
    (second,) = struct.unpack("<I", data[first + 2 + 12 * count : first + 6 + 12 * count])
    (entries,) = struct.unpack("<H", data[second : second + 2])
    for k in range(entries):
        at = second + 2 + 12 * k
        if struct.unpack("<H", data[at : at + 2])[0] == 256:
            data[at : at + 2] = struct.pack("<H", 0x8001)
    return bytes(data)


def test_a_damaged_later_page_leaves_the_first_readable(monkeypatch):
    """Counting pages raised TypeError inside Pillow (and left it on the damaged page)."""
    data = _tiff_with_a_damaged_second_page()
    assert count_frames("pages.tif", data=data) == 3  # tifffile (issue 13) reads every directory
    array, _ = read_image("pages.tif", data=data)
    shape, dtype, _ = probe_image("pages.tif", data=data)
    assert array.shape == shape == (6, 8) and int(array[0, 0]) == 10 and dtype == array.dtype
    with pytest.raises(ImageReadError, match=r"pages.tif\[1\]: the page is empty \(0x6 pixels\); re-export it"):
        read_image("pages.tif", data=data, frame=1)
    assert int(read_image("pages.tif", data=data, frame=2)[0][0, 0]) == 30
    monkeypatch.setitem(sys.modules, "tifffile", None)  # without the formats extra: Pillow, as before
    assert count_frames("pages.tif", data=data) == 1
    assert int(read_image("pages.tif", data=data)[0][0, 0]) == 10
    with pytest.raises(ImageReadError, match=r"pages.tif: has 1 frame; frame 1 does not exist"):
        read_image("pages.tif", data=data, frame=1)


def test_a_gif_frame_declaring_a_huge_size_is_refused_quickly():
    """A frame of 1.7 billion pixels inside a 32x24 GIF took Pillow 40 s to fail on; now the bomb guard stops it."""
    data = (REGRESSIONS / "gif-frame-declares-huge-size.gif").read_bytes()
    start = time.monotonic()
    frames = count_frames("anim.gif", data=data)
    assert frames == 5
    read_image("anim.gif", data=data)  # the first frame is fine
    with pytest.raises(ImageReadError, match=r"anim.gif\[4\]: .*(limit of 256,000,000|damaged)"):
        read_image("anim.gif", data=data, frame=4)
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    "data",
    [
        b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'shape': (3,\n",  # tokenize.TokenError in numpy
        b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n",
        b"\x93NUMPY\x09\x00",
    ],
    ids=["unfinished-header", "bad-descr", "unknown-version"],
)
def test_a_damaged_npy_header_is_a_read_error(tmp_path, data):
    with pytest.raises(ImageReadError, match=r"x.npy: not a readable .npy array \(.+\); write it with numpy.save"):
        read_image("x.npy", data=data)
    (tmp_path / "k.npy").write_bytes(data)
    with pytest.raises(KernelFileError, match=r"k.npy: is not a readable .npy array \(.+\); save a 2-D float array"):
        load_kernel_file(tmp_path / "k.npy")


def test_errors_stay_on_one_line_whatever_the_file_name():
    """A newline in a path (a fuzzed spec) made a two-line error."""
    with pytest.raises(KernelError) as caught:
        kernel("no/such\nfile.txt")
    assert str(caught.value) == "no/such\\nfile.txt: no such file; check the path"
    with pytest.raises(ConvcliError) as caught:
        read_image("bad\x1b[31mname.png")
    assert "\x1b" not in str(caught.value) and "bad\\x1b[31mname.png" in str(caught.value)
