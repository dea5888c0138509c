"""Issue 7's matrix of bad inputs and faults, each row through a real run of the installed ``convcli`` script.

Every failing row asserts the exact exit code, exactly one ``Error: …`` line on
stderr naming the file (and line, for kernel files) and the fix, no traceback,
no output for what failed, no temporary file left, and the rest of the batch
still written.  Runs use ``-q`` (so stderr holds only errors and warnings) and
``-j 1``; independent rows run concurrently (each in its own folder) to keep
the suite quick.

Rows covered elsewhere, not repeated here:

=================================================  ==========================================================
row                                                test
=================================================  ==========================================================
stdout is a closed pipe (``-o - | head -c 10``)    ``test_cli_apply.py::test_a_closed_stdout_pipe_ends_quietly``
                                                   (nothing on stderr, exit 141 in ``PIPESTATUS``)
SIGINT / SIGTERM during a batch, then              ``test_cli_apply.py::test_an_interrupted_batch_leaves_only_``
``--skip-existing`` finishes the rest              ``complete_outputs`` (jobs 1 and 2; exit 130/143)
every kernel error, in the library                 ``test_kernels.py``, ``test_kernel_files.py``
=================================================  ==========================================================

What is simulated, and how (tests run as root, for whom ``chmod`` stops nothing):

- a read-only folder: a real read-only bind mount made with ``unshare -rm``
  (an unprivileged user namespace), skipped where the kernel does not allow
  one; as a non-root user, ``chmod 555`` instead;
- a full disk: ``RLIMIT_FSIZE`` set in the child (writes past N bytes fail with
  ``EFBIG``, ``SIGXFSZ`` ignored), which runs everywhere; and a real 64 KiB
  ``tmpfs`` (``ENOSPC``) through ``unshare -rm``, skipped where not allowed.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"


def _script() -> str:
    """The installed console script: beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / "convcli"
    if beside.exists():
        return str(beside)
    found = shutil.which("convcli")
    if found is None:  # pragma: no cover - the package is not installed
        pytest.skip("the convcli console script is not installed")
    return found


CONVCLI = _script()


def run(args: list[str], cwd: Path, *, preexec: Callable[[], None] | None = None, prefix: list[str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), CONVCLI, "apply", *args], cwd=cwd, capture_output=True, timeout=timeout,
                          preexec_fn=preexec)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    text = proc.stderr.decode()
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if line.startswith("Error: ")]


def leftovers(folder: Path) -> list[str]:
    """Temporary or hidden files anywhere below ``folder``."""
    return [str(p) for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".convcli-tmp")]


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- input files ------------------------------------------------------------------------


def opened(path: Path) -> tuple[str, np.ndarray]:
    """A file's Pillow mode and pixels."""
    with Image.open(path) as im:
        return im.mode, np.array(im)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A 100-byte PNG whose header declares width x height 8-bit gray pixels (10 GB once decoded)."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + _chunk(b"IEND", b""))


@cache
def photo() -> np.ndarray:
    with Image.open(SAMPLES / "astronaut.png") as im:
        return np.array(im.convert("RGB"))[100:140, 200:250].copy()  # 40 x 50


def encoded(array: np.ndarray, fmt: str, **options: object) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


GOOD = {"good.png": lambda: encoded(photo(), "PNG")}


# --- rows that fail one file of a batch -------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One input of the matrix in a batch beside ``good.png``: what is written and the error it gets."""

    id: str
    files: dict[str, Callable[[], bytes] | None]  # None: a folder
    inputs: tuple[str, ...]
    error: str  # a regular expression matching the whole Error line
    args: tuple[str, ...] = ("-k", "box")
    code: int = 1
    written: tuple[str, ...] = ("good.png",)
    extra: dict[str, str] = field(default_factory=dict)


def truncated(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        data = encoded(photo(), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return data[: len(data) // 2]

    return make


BAD_INPUT_ROWS = [
    Row("missing-file", {}, ("missing.png", "good.png"),
        r"Error: missing\.png: no such file or folder; check the path"),
    Row("folder-without-recursive", {"photos/sub": None, "photos/sub/x.png": GOOD["good.png"]}, ("photos", "good.png"),
        r"Error: photos: the folder holds no image files directly inside \(\.png, \.jpg, \.tif, \.npy, …\); "
        r"pass -r to filter its sub-folders too"),
    Row("zero-byte-file", {"empty.png": lambda: b""}, ("empty.png", "good.png"),
        r"Error: empty\.png: the file is empty \(0 bytes\); it holds no image"),
    Row("truncated-png", {"cut.png": truncated("PNG")}, ("cut.png", "good.png"),
        r"Error: cut\.png: the image is damaged or truncated \(.+\); re-export it"),
    Row("truncated-jpeg", {"cut.jpg": truncated("JPEG")}, ("cut.jpg", "good.png"),
        r"Error: cut\.jpg: the image is damaged or truncated \(image file is truncated.*\); re-export it"),
    Row("text-named-png", {"notes.png": lambda: b"shopping list: milk, eggs\n"}, ("notes.png", "good.png"),
        r"Error: notes\.png: not an image Pillow can read \(unknown or corrupt format\); convert it to PNG, "
        r"JPEG or TIFF, or give a \.npy array"),
    Row("unsupported-format", {"logo.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'},
        ("logo.svg", "good.png"),
        r"Error: logo\.svg: \.svg is not an image format convcli reads; convert it to PNG, JPEG or TIFF, or give "
        r"a \.npy array \(or, if Pillow reads it anyway, choose --format png\)"),
    Row("unsupported-format-forced", {"logo.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'},
        ("logo.svg", "good.png"),
        r"Error: logo\.svg: not an image Pillow can read \(unknown or corrupt format\); convert it to PNG, "
        r"JPEG or TIFF, or give a \.npy array", args=("-k", "box", "--format", "png")),
    Row("decompression-bomb", {"bomb.png": bomb_png}, ("bomb.png", "good.png"),
        r"Error: bomb\.png: 100000x100000 is 10,000,000,000 pixels, over the limit of 256,000,000 \(a "
        r"decompression bomb guard\); raise it with --max-pixels if the image is real and fits in memory, or convert "
        r"it to a tiled TIFF, which convcli streams: vips tiffsave bomb\.png bomb\.tif --tile --bigtiff"),
    Row("device-not-file", {}, ("/dev/zero", "good.png"),
        r"Error: /dev/zero: is a device, not an image file; give a file, or - to read stdin",
        args=("-k", "box", "--format", "png")),
    Row("bad-npy", {"junk.npy": lambda: b"\x93NUMPY\x01\x00garbage"}, ("junk.npy", "good.png"),
        r"Error: junk\.npy: not a readable \.npy array \(.+\); write it with numpy\.save"),
    # options whose effect depends on the image: the small one fails, naming the sizes; the big one is done
    Row("pooling-leaves-nothing", {"small.png": lambda: encoded(photo()[:5, :6], "PNG")}, ("small.png", "good.png"),
        r"Error: small\.png: pooling leaves nothing along rows: floor\(\(5 \+ 2\*0 - 8\) / 8\) \+ 1 = 0; "
        r"a 8-wide window needs at least 8 rows after padding \(use a smaller window or pad\)",
        args=("--pool", "max:size=8")),
    Row("valid-padding-leaves-nothing", {"small.png": lambda: encoded(photo()[:5, :6], "PNG")},
        ("small.png", "good.png"),
        r"Error: small\.png: nothing is left along rows: \(5 \+ 0 - 7\) // 1 \+ 1 = -1; a 7-tap kernel needs at "
        r"least 7 rows after padding \(use more padding, e\.g\. pad='same', or a smaller kernel\)",
        args=("-k", "box:size=7", "--pad", "valid")),
]

# outputs that cannot be written, beside one that can
OUTPUT_ROWS = [
    Row("output-folder-is-a-file", {"blocker": lambda: b"a file, not a folder"}, ("good.png",),
        r"Error: good\.png: blocker/out\.png: the folder 'blocker' is not a folder; create it first "
        r"\(-o never creates folders; --outdir does\)",
        args=("-k", "box", "-o", "blocker/out.png"), written=()),
    Row("output-folder-missing", {}, ("good.png",),
        r"Error: good\.png: nowhere/out\.png: the folder 'nowhere' does not exist; create it first "
        r"\(-o never creates folders; --outdir does\)",
        args=("-k", "box", "-o", "nowhere/out.png"), written=()),
]


def _setup(folder: Path, row: Row) -> None:
    folder.mkdir(parents=True)
    for name, make in {**GOOD, **row.files}.items():
        path = folder / name
        if make is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(make())


@pytest.fixture(scope="module")
def batch_runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Every row of BAD_INPUT_ROWS and OUTPUT_ROWS, run concurrently, each in its own folder."""
    base = tmp_path_factory.mktemp("rows")

    def one(row: Row) -> tuple[str, tuple[Path, subprocess.CompletedProcess]]:
        folder = base / row.id
        _setup(folder, row)
        out_args = [] if "-o" in row.args else ["--outdir", "out"]
        return row.id, (folder, run([*row.inputs, *row.args, *out_args, "-q", "-j", "1"], folder))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, BAD_INPUT_ROWS + OUTPUT_ROWS))


@pytest.mark.parametrize("row", BAD_INPUT_ROWS + OUTPUT_ROWS, ids=lambda r: r.id)
def test_a_bad_file_fails_alone_and_the_batch_goes_on(batch_runs, row):
    folder, proc = batch_runs[row.id]
    assert proc.returncode == row.code, proc.stderr
    errors = error_lines(proc)
    assert len(errors) == 1 and re.fullmatch(row.error, errors[0]), errors
    assert proc.stderr.decode().splitlines() == errors  # -q: nothing but the error
    out = folder / "out"
    assert listing(out) == list(row.written)
    for name in row.written:  # complete images
        with Image.open(out / name) as im:
            im.load()
    assert not leftovers(folder)


def test_a_bomb_is_refused_before_decoding_in_bounded_memory(tmp_path):
    """10 GB of pixels declared; with the address space capped at 1 GiB the refusal still comes first."""
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "good.png").write_bytes(GOOD["good.png"]())

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = run(["bomb.png", "good.png", "-k", "box", "--outdir", "out", "-q", "-j", "1"], tmp_path, preexec=cap)
    assert proc.returncode == 1
    assert error_lines(proc) == ["Error: bomb.png: 100000x100000 is 10,000,000,000 pixels, over the limit of "
                                 "256,000,000 (a decompression bomb guard); raise it with --max-pixels if the image "
                                 "is real and fits in memory, or convert it to a tiled TIFF, which convcli streams: "
                                 "vips tiffsave bomb.png bomb.tif --tile --bigtiff"]
    assert listing(tmp_path / "out") == ["good.png"]
    raised = run(["good.png", "-k", "box", "-o", "small.png", "-q", "--max-pixels", "1999"], tmp_path)
    assert error_lines(raised) == ["Error: good.png: 50x40 is 2,000 pixels, over the limit of 1,999 (a decompression "
                                   "bomb guard); raise it with --max-pixels if the image is real and fits in memory, "
                                   "or convert it to a tiled TIFF, which convcli streams: vips tiffsave good.png "
                                   "good.tif --tile --bigtiff"]
    assert run(["good.png", "-k", "box", "-o", "small.png", "-q", "--max-pixels", "2000"], tmp_path).returncode == 0


# --- frames ---------------------------------------------------------------------------------


def _frames(tmp_path: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (20, 30)).astype(np.uint8) for _ in range(3)]
    images = [Image.fromarray(f) for f in frames]
    images[0].save(tmp_path / "anim.gif", save_all=True, append_images=images[1:], duration=40, loop=0)
    images[0].save(tmp_path / "pages.tif", save_all=True, append_images=images[1:])
    return frames


def _box(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(ndimage.uniform_filter(x.astype(np.float64), 3, mode="mirror")), 0, 255)


def test_animations_and_pages_give_the_first_frame_with_a_warning(tmp_path):
    frames = _frames(tmp_path)
    proc = run(["anim.gif", "pages.tif", "-k", "box", "--outdir", "out", "--format", "png", "-j", "1"], tmp_path)
    assert proc.returncode == 0 and not error_lines(proc)
    warnings = [line for line in proc.stderr.decode().splitlines() if line.startswith("Warning: ")]
    assert warnings == [f"Warning: {name}: has 3 frames; only the first is filtered (--frames all filters each)"
                        for name in ("anim.gif", "pages.tif")]
    assert listing(tmp_path / "out") == ["anim.png", "pages.png"]
    with Image.open(tmp_path / "out" / "pages.png") as im:
        page = np.array(im)
    assert np.abs(page.astype(int) - _box(frames[0])).max() <= 1


def test_frames_all_filters_every_frame_into_numbered_outputs(tmp_path):
    frames = _frames(tmp_path)
    proc = run(["anim.gif", "pages.tif", "-k", "box", "--outdir", "out", "--format", "png", "--frames", "all", "-q",
                "-j", "2"], tmp_path)
    assert proc.returncode == 0 and proc.stderr == b""
    assert listing(tmp_path / "out") == [f"{stem}_{i}.png" for stem in ("anim", "pages") for i in range(3)]
    for i, frame in enumerate(frames):
        with Image.open(tmp_path / "out" / f"pages_{i}.png") as im:
            assert np.abs(np.array(im).astype(int) - _box(frame)).max() <= 1
        with Image.open(tmp_path / "out" / f"anim_{i}.png") as im:
            assert np.array(im.convert("L")).shape == frame.shape
    one = run(["pages.tif", "-k", "box", "-o", "single.tif", "--frames", "all", "-q"], tmp_path)
    assert one.returncode == 0
    assert sorted(p.name for p in tmp_path.glob("single*")) == ["single_0.tif", "single_1.tif", "single_2.tif"]
    piped = run(["pages.tif", "-k", "box", "-o", "-", "--frames", "all"], tmp_path)
    assert piped.returncode == 2 and error_lines(piped) == [
        "Error: -o - writes one image to stdout, but pages.tif has 3 frames (--frames all); use -o FILE or --outdir "
        "DIR for them, or --frames first"]


# --- image modes ------------------------------------------------------------------------------


def test_every_pillow_mode_is_read_and_written_at_its_precision(tmp_path):
    rng = np.random.default_rng(11)
    rgb = photo()
    deep = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    wide = (rng.integers(-5000, 90000, (40, 50))).astype(np.int32)
    real = rng.normal(size=(40, 50)).astype(np.float32)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(tmp_path / "palette.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.tif")
    Image.fromarray(rgb).convert("LA").save(tmp_path / "la.png")
    Image.fromarray(deep).save(tmp_path / "deep.png")  # I;16
    Image.fromarray(wide).save(tmp_path / "wide.tif")  # I
    Image.fromarray(real).save(tmp_path / "real.tif")  # F
    modes = {name: opened(tmp_path / name)[0] for name in
             ("palette.png", "cmyk.tif", "la.png", "deep.png", "wide.tif", "real.tif")}
    assert modes == {"palette.png": "P", "cmyk.tif": "CMYK", "la.png": "LA", "deep.png": "I;16", "wide.tif": "I",
                     "real.tif": "F"}
    proc = run([*modes, "-k", "box", "--outdir", "out", "-j", "1"], tmp_path)
    assert proc.returncode == 0 and not error_lines(proc)
    warnings = [line for line in proc.stderr.decode().splitlines() if line.startswith("Warning: ")]
    assert warnings == []  # int32 kept as int32 in a TIFF output: nothing clipped (issue 24)
    out = tmp_path / "out"
    got = {name: opened(out / name) for name in modes}
    assert {n: (mode, arr.shape) for n, (mode, arr) in got.items()} == {
        "palette.png": ("RGB", (40, 50, 3)), "cmyk.tif": ("RGB", (40, 50, 3)), "la.png": ("LA", (40, 50, 2)),
        "deep.png": ("I;16", (40, 50)), "wide.tif": ("I", (40, 50)), "real.tif": ("F", (40, 50))}
    wide_ref = np.rint(ndimage.uniform_filter(wide.astype(np.float64), 3, mode="mirror"))
    assert np.array_equal(got["wide.tif"][1], wide_ref.astype(np.int32))  # signed 32-bit values kept
    exact = np.clip(np.rint(ndimage.uniform_filter(deep.astype(np.float64), 3, mode="mirror")), 0, 65535)
    assert np.abs(got["deep.png"][1].astype(np.int64) - exact).max() <= 1  # 16 bits kept
    real_ref = ndimage.uniform_filter(real.astype(np.float64), 3, mode="mirror")
    np.testing.assert_allclose(got["real.tif"][1], real_ref, rtol=1e-5, atol=1e-6)  # float kept, unclipped
    keep = run(["wide.tif", "-k", "box", "-o", "wide.npy", "--depth", "float", "-q"], tmp_path)
    assert keep.returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "wide.npy") * 65535,
                               ndimage.uniform_filter(wide.astype(np.float64), 3, mode="mirror"), rtol=1e-5)


# --- kernels ----------------------------------------------------------------------------------

KERNEL_FILES = {
    "ragged.txt": "1 2 1\n0 0\n-1 -2 -1\n",
    "nan.csv": "1,2,1\n0,nan,0\n",
    "comments.txt": "# only a comment\n\n",
    "bad.mat": "3 3 1 0\n0 1 0\n1 -4 1\n",
    "huge.mat": "5000 5000\n1\n",
    "bad.json": '{"kernel": [[1, 2], [3, 4]],\n "scale": 0}\n',
    "broken.json": "[[1, 2],\n [3, 4]\n",
    "cube.npy": None,  # written with numpy below
    "wide.npy": None,
}

KERNEL_ROWS = [
    ("unknown-name", "gausian:sigma=2", r"Error: unknown kernel 'gausian' in 'gausian:sigma=2'; did you mean "
                                        r"'gaussian'\? named kernels: identity, box, .*, motion "
                                        r"\(see 'convcli kernels'\)"),
    ("unknown-key", "box:sigma=2", r"Error: kernel 'box' has no parameter 'sigma' \(in 'box:sigma=2'\); valid: size"),
    ("not-a-number", "gaussian:sigma=two", r"Error: sigma must be a number > 0 in 'gaussian:sigma=two', got 'two'"),
    ("sigma-not-positive", "gaussian:sigma=0", r"Error: sigma must be a number > 0 in 'gaussian:sigma=0', got '0'"),
    ("size-below-one", "box:size=0", r"Error: size must be N or HxW with integers >= 1 and <= 1025 in 'box:size=0', "
                                     r"got '0'"),
    ("size-over-the-limit", "box:size=5000", r"Error: size must be N or HxW with integers >= 1 and <= 1025 in "
                                             r"'box:size=5000', got '5000'"),
    ("sigma-over-the-limit", "gaussian:sigma=1000",
     r"Error: 'gaussian:sigma=1000': sigma=1000 needs radius int\(4\*sigma\+0\.5\) = 4000, beyond the limit of 512 "
     r"\(1025 per side\); use a smaller sigma or set radius= explicitly"),
    ("ragged-inline", "1 2 1; 0 0", r"Error: inline kernel '1 2 1; 0 0': row 2 has 2 values but row 1 has 3; "
                                    r"every row needs the same number of values"),
    ("nan-inline", "1 nan; 0 1", r"Error: kernel '1 nan; 0 1' has nan at row 1, column 2; every value must be a "
                                 r"finite number"),
    ("empty-spec", "", r"Error: the kernel spec is empty; give a name like 'gaussian:sigma=2', an inline matrix like "
                       r"'1 2 1; 0 0 0; -1 -2 -1' or a file like 'kernels/emboss\.txt'"),
    ("zero-sum-normalize", "1 -1", r"Error: kernel '1 -1' sums to 0, so --normalize cannot divide; drop --normalize"),
    ("ragged-file", "ragged.txt", r"Error: ragged\.txt, line 2: this row has 2 values but the first row \(line 1\) "
                                  r"has 3; every row needs the same number of values"),
    ("nan-in-file", "nan.csv", r"Error: nan\.csv, line 2: column 2: nan is not allowed; every value must be finite"),
    ("empty-file", "comments.txt", r"Error: comments\.txt: no kernel values found \(only blank lines or comments\); "
                                   r"write one row of numbers per line"),
    ("missing-file", "kernels/none.csv", r"Error: kernels/none\.csv: no such file; check the path"),
    ("unreadable-file", "@/dev/zero", r"Error: /dev/zero: is a device, not a kernel file; give a text, CSV, JSON, "
                                      r"\.mat or \.npy file"),
    ("folder-as-file", "@kernels", r"Error: kernels: is a folder, not a kernel file"),
    ("mat-header-disagrees", "bad.mat", r"Error: bad\.mat: the header \(line 1\) says 3 rows, but the file has 2; "
                                        r"fix H in the header or add the missing rows"),
    ("mat-header-over-limit", "huge.mat", r"Error: huge\.mat, line 1: header asks for 5000x5000; the limit is 1025 "
                                          r"per side"),
    ("json-scale-zero", "bad.json", r"Error: bad\.json: \"scale\" must be a non-zero number, got 0"),
    ("json-invalid", "broken.json", r"Error: broken\.json, line 3: is not valid JSON: Expecting ',' delimiter "
                                    r"\(column 1\)"),
    ("npy-not-2d", "cube.npy", r"Error: cube\.npy: holds an array of shape \(2, 2, 2\); a kernel must be 2-D"),
    ("npy-over-limit", "wide.npy", r"Error: wide\.npy: holds a 1x5000 kernel; the limit is 1025 per side"),
]


@pytest.fixture(scope="module")
def kernel_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("kernels")
    (folder / "good.png").write_bytes(GOOD["good.png"]())
    (folder / "kernels").mkdir()
    for name, text in KERNEL_FILES.items():
        if text is not None:
            (folder / name).write_text(text)
    np.save(folder / "cube.npy", np.ones((2, 2, 2)))
    with open(folder / "wide.npy", "wb") as handle:  # a header declaring 1 x 5000 floats, and no data
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (1, 5000)})

    def one(row: tuple[str, str, str]) -> tuple[str, subprocess.CompletedProcess]:
        rid, spec, _ = row
        extra = ["--normalize"] if rid == "zero-sum-normalize" else []
        return rid, run(["good.png", "-k", spec, *extra, "--outdir", f"out-{rid}", "-q", "-j", "1"], folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(pool.map(one, KERNEL_ROWS))
    runs["__folder__"] = folder  # type: ignore[assignment]
    return runs


@pytest.mark.parametrize("row", KERNEL_ROWS, ids=lambda r: r[0])
def test_a_bad_kernel_is_one_error_before_any_file(kernel_runs, row):
    rid, _, pattern = row
    proc = kernel_runs[rid]
    assert proc.returncode == 1, proc.stderr
    errors = error_lines(proc)
    assert len(errors) == 1 and re.fullmatch(pattern, errors[0]), errors
    assert proc.stderr.decode().splitlines() == errors
    assert not (kernel_runs["__folder__"] / f"out-{rid}").exists()  # refused before anything was read or written


def test_a_huge_kernel_on_a_big_image_runs_in_bounded_memory(tmp_path):
    """A 1025x1025 kernel (the limit) on a 1200x1200 image: K²·image would be 5.5 TB of float32.

    The engine works in FFT tiles (and the direct method in row bands), so the
    run needs a few hundred MB; the result is checked at sample pixels against
    float64 sums over the windows.
    """
    rng = np.random.default_rng(5)
    image = rng.random((1200, 1200)).astype(np.float32)
    kernel = rng.normal(size=(1025, 1025))
    np.save(tmp_path / "big.npy", image)
    np.save(tmp_path / "k.npy", kernel)
    probe = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, CONVCLI, "apply", "big.npy", "-k", "k.npy", "-o", "out.npy",
                           "-q"], cwd=tmp_path, capture_output=True, timeout=300)
    code, peak_kib = (int(v) for v in proc.stdout.split())
    assert code == 0, proc.stderr
    assert peak_kib < 1_000_000  # < 1 GB (it needs about 250 MB)
    out = np.load(tmp_path / "out.npy")
    padded = np.pad(image.astype(np.float64), 512, mode="reflect")
    scale = float(np.abs(image).max() * np.abs(kernel).sum())
    for i, j in rng.integers(0, 1200, (12, 2)):
        want = float((padded[i : i + 1025, j : j + 1025] * kernel).sum())
        assert abs(float(out[i, j]) - want) <= 1e-5 * scale


# --- options ----------------------------------------------------------------------------------

OPTION_ROWS = [
    ("stride-0", ["--stride", "0"], "Error: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'"),
    ("stride-negative", ["--stride", "-2"],
     "Error: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '-2'"),
    ("dilation-0", ["--dilation", "0"],
     "Error: --dilation must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'"),
    ("dilation-negative", ["--dilation", "-1x2"],
     "Error: --dilation must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '-1x2'"),
    ("several-inputs-one-output", ["other.png", "-o", "x.png"],
     "Error: -o x.png names one output, but there are 2 inputs (good.png, other.png); use --outdir DIR (and "
     "--suffix/--name) for several"),
    ("unknown-output-extension", ["-o", "x.xyz"],
     "Error: -o x.xyz: cannot tell the format of 'x.xyz' from its extension '.xyz'; use one of .png, .jpg, .jpeg, "
     ".tif, .tiff, .bmp, .webp, .gif, .ppm, .pgm, .pnm, .tga, .npy, .zarr; or give --format"),
    ("quality-out-of-range", ["--quality", "0"],  # convcli's own check: the same words whatever Typer's version
     "Error: --quality must be an integer from 1 to 100, got 0"),
    ("not-an-integer-checked-by-click", ["--quality", "high"],  # Click's own type check, also one line
     "Error: Invalid value for '--quality': 'high' is not a valid integer. (see 'convcli apply --help')"),
    ("unknown-format", ["--outdir", "out", "--format", "docx"],
     "Error: --format 'docx' is not a format convcli writes; use one of png, jpg, jpeg, tif, tiff, bmp, webp, gif, "
     "ppm, pgm, pnm, tga, npy, zarr"),
]


@pytest.fixture(scope="module")
def option_runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    base = tmp_path_factory.mktemp("options")

    def one(row: tuple[str, list[str], str]) -> tuple[str, tuple[Path, subprocess.CompletedProcess]]:
        rid, args, _ = row
        folder = base / rid
        folder.mkdir()
        for name in ("good.png", "other.png"):
            (folder / name).write_bytes(GOOD["good.png"]())
        if "-o" not in args and "--outdir" not in args:
            args = [*args, "-o", "x.png"]
        return rid, (folder, run(["good.png", "-k", "box", *args], folder))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, OPTION_ROWS))


@pytest.mark.parametrize(("rid", "args", "message"), OPTION_ROWS, ids=[r[0] for r in OPTION_ROWS])
def test_usage_errors_exit_2_and_write_nothing(option_runs, rid, args, message):
    folder, proc = option_runs[rid]
    assert proc.returncode == 2
    assert proc.stderr.decode() == message + "\n"
    assert sorted(os.listdir(folder)) == ["good.png", "other.png"]


def test_border_value_on_a_non_constant_border_warns_and_runs(tmp_path):
    (tmp_path / "good.png").write_bytes(GOOD["good.png"]())
    proc = run(["good.png", "-k", "box", "--border", "edge", "--border-value", "7", "-o", "x.png", "-j", "1"], tmp_path)
    assert proc.returncode == 0
    lines = proc.stderr.decode().splitlines()
    assert lines[0] == ("Warning: --border-value 7 has no effect with --border edge; it is the value of --border "
                        "constant")
    assert len(lines) == 1  # a single-file run says nothing more on success


# --- outputs ----------------------------------------------------------------------------------


def test_outdir_is_created_but_o_never_creates_folders(tmp_path):
    (tmp_path / "good.png").write_bytes(GOOD["good.png"]())
    made = run(["good.png", "-k", "box", "--outdir", "new/deeper", "-q"], tmp_path)
    assert made.returncode == 0 and listing(tmp_path / "new") == ["deeper/good.png"]


@cache
def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(not _unshare_works(),
                                   reason="unprivileged user namespaces (unshare -rm) are not allowed here")


def _two_sizes(folder: Path) -> None:
    """small.png (a few KB once filtered) and big.png (about 300 KB of noise, which PNG cannot shrink)."""
    (folder / "small.png").write_bytes(GOOD["good.png"]())
    noise = np.random.default_rng(2).integers(0, 256, (300, 330, 3)).astype(np.uint8)
    (folder / "big.png").write_bytes(encoded(noise, "PNG"))


def _assert_disk_full(proc: subprocess.CompletedProcess, out: Path, reason: str, fix: str) -> None:
    assert proc.returncode == 1
    assert error_lines(proc) == [f"Error: big.png: out/big.png: cannot write ({reason}); {fix}"]
    assert listing(out) == ["small.png"]  # the other file is done, nothing partial is left
    assert not leftovers(out)


def test_a_write_past_the_file_size_limit_leaves_nothing(tmp_path):
    """RLIMIT_FSIZE of 100 KB in the child: the big output's write fails with EFBIG (a full disk's twin)."""
    _two_sizes(tmp_path)
    (tmp_path / "out").mkdir()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = run(["small.png", "big.png", "-k", "box:size=1", "--outdir", "out", "-q", "-j", "1"], tmp_path,
               preexec=limit)
    _assert_disk_full(proc, tmp_path / "out", "File too large",
                      "the file is larger than this disk or a size limit (ulimit -f) allows; nothing was written")


@needs_unshare
def test_a_full_disk_leaves_nothing_and_names_the_path(tmp_path):
    """A real 64 KiB tmpfs as the output folder (ENOSPC)."""
    _two_sizes(tmp_path)
    (tmp_path / "out").mkdir()
    script = ("mount -t tmpfs -o size=64k tmpfs out && \"$@\"; code=$?; "
              "ls -A out > listing.txt; exit $code")  # the tmpfs vanishes with the namespace: list it inside
    prefix = ["unshare", "-rm", "sh", "-c", script, "sh"]
    proc = run(["small.png", "big.png", "-k", "box:size=1", "--outdir", "out", "-q", "-j", "1"], tmp_path,
               prefix=prefix)
    assert proc.returncode == 1
    assert error_lines(proc) == ["Error: big.png: out/big.png: cannot write (No space left on device); free some "
                                 "space on the disk holding 'out', or write elsewhere; nothing was written"]
    assert (tmp_path / "listing.txt").read_text().split() == ["small.png"]


@pytest.mark.skipif(os.geteuid() == 0 and not _unshare_works(),
                    reason="root ignores permissions and no read-only mount can be made here")
def test_a_read_only_folder_is_reported_and_the_rest_is_kept(tmp_path):
    (tmp_path / "good.png").write_bytes(GOOD["good.png"]())
    (tmp_path / "other.png").write_bytes(GOOD["good.png"]())
    (tmp_path / "locked").mkdir()
    (tmp_path / "open").mkdir()
    args = ["good.png", "-k", "box", "-o", "locked/x.png", "-q"]
    if os.geteuid() == 0:  # a real read-only bind mount in a private mount namespace
        script = "mount --bind locked locked && mount -o remount,bind,ro locked && exec \"$@\""
        proc = run(args, tmp_path, prefix=["unshare", "-rm", "sh", "-c", script, "sh"])
        reason, fix = "Read-only file system", "'locked' is on a read-only filesystem; write elsewhere (-o or --outdir)"
    else:  # pragma: no cover - CI runs as root
        (tmp_path / "locked").chmod(0o555)
        proc = run(args, tmp_path)
        reason, fix = "Permission denied", "you may not write into 'locked'; check its permissions or write elsewhere"
    assert proc.returncode == 1
    assert error_lines(proc) == [f"Error: good.png: locked/x.png: cannot write ({reason}); {fix}"]
    assert os.listdir(tmp_path / "locked") == []
