"""Folders, in-place batches, re-runs beside the inputs, --from-file places, --base, --ignore-case and the
ImageMagick argument order (issue 12, items 1, 2, 3, 7, 11 and 13's --ignore-case).

Every item is driven through the real command (CliRunner in a temporary current folder, or the installed
console script); outputs are compared with SciPy's ndimage on the decoded input, never with convcli's own output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

from convcli.batch import expand_inputs
from convcli.cli import app

CONVCLI = str(Path(sys.executable).parent / "convcli")
QUIET = pytest.mark.parametrize("quiet", [False, True], ids=["verbose", "quiet"])


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(app, ["apply", *args], input=input)


def run(*args: str, cwd: Path, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CONVCLI, "apply", *args], cwd=cwd, input=input, capture_output=True, timeout=120)


def image(path: Path, seed: int) -> np.ndarray:
    """A random 9x11 RGB PNG at ``path`` (folders made); its pixels are returned."""
    pixels = np.random.default_rng(seed).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im)


def boxed(pixels: np.ndarray) -> np.ndarray:
    """The 3x3 box filter with numpy's 'reflect' border (SciPy 'mirror'), rounded and clipped to 8 bits."""
    smooth = ndimage.correlate(pixels.astype(np.float64), np.ones((3, 3, 1)) / 9, mode="mirror")
    return np.clip(np.rint(smooth), 0, 255).astype(np.uint8)


def assert_boxed(out: Path, source: np.ndarray) -> None:
    """``out`` is ``source`` box-filtered (1 LSB for rounding ties of float32 against float64)."""
    diff = np.abs(load(out).astype(int) - boxed(source).astype(int))
    assert diff.max() <= 1, out


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """A temporary current folder, so that paths are typed as a user types them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- 1: in place, and an --outdir inside the input tree ---------------------------------------------------


IN_PLACE = ("a.png", "b.png", "s1/c.png", "s1/d.png", "s2/e.png", "s2/f.png", "s2/g/h.png")


@QUIET
def test_in_place_over_a_folder_filters_every_file_top_ones_included(here, quiet):
    sources = {rel: image(here / "ip" / rel, seed) for seed, rel in enumerate(IN_PLACE)}
    result = invoke("-r", "ip", "-k", "box", "--outdir", "ip", "--force", "-j", "1", *(["-q"] if quiet else []))
    assert result.exit_code == 0, result.stderr
    for rel, pixels in sources.items():
        assert_boxed(here / "ip" / rel, pixels)
    assert tree(here / "ip") == sorted(IN_PLACE)
    assert result.stderr == "" if quiet else "7 written, 0 failed, 0 skipped" in result.stderr


def test_in_place_json_reports_every_input_written(here):
    for seed, rel in enumerate(IN_PLACE):
        image(here / "ip" / rel, seed)
    result = invoke("-r", "ip", "-k", "box", "--outdir", "ip", "--force", "--json", "-j", "1")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(f["input"] for f in report["files"]) == sorted(f"ip/{rel}" for rel in IN_PLACE)
    assert {f["status"] for f in report["files"]} == {"written"}
    assert report["summary"]["total"] == report["summary"]["written"] == 7


@QUIET
@pytest.mark.parametrize("typed", [("-r", "ip4"), ("ip4/**/*.png",)], ids=["folder", "glob"])
def test_an_outdir_inside_the_input_tree_reports_its_files_as_skipped_with_the_reason(here, quiet, typed):
    x = image(here / "ip4" / "x.png", 1)
    for seed, name in enumerate(("y.png", "z.png"), 2):
        image(here / "ip4" / "a" / name, seed)
    before = {name: (here / "ip4" / "a" / name).read_bytes() for name in ("y.png", "z.png")}
    args = (*typed, "-k", "box", "--outdir", "ip4/a", "-j", "1")
    result = invoke(*args, *(["-q"] if quiet else []))
    assert result.exit_code == 0, result.stderr
    assert_boxed(here / "ip4" / "a" / "x.png", x)
    assert {name: (here / "ip4" / "a" / name).read_bytes() for name in before} == before
    reason = ("in the output folder ip4/a below ip4, so taken for an earlier output; choose an --outdir outside "
              "ip4 to filter it")
    if quiet:
        assert result.stderr == ""
    else:
        assert result.stderr.splitlines()[-3:] == [
            "Skipped, not filtered (2):", f"  ip4/a/y.png: {reason}", f"  ip4/a/z.png: {reason}"]
        assert "1 written, 0 failed, 2 skipped" in result.stderr
    report = json.loads(invoke(*args, "--json", "--skip-existing").stdout)
    expected = {
        "ip4/x.png": ("skipped", "the output exists (--skip-existing)"),
        "ip4/a/x.png": ("skipped", "the output of ip4/x.png in this batch, not a new input"),
        "ip4/a/y.png": ("skipped", reason),
        "ip4/a/z.png": ("skipped", reason),
    }
    assert {f["input"]: (f["status"], f["reason"]) for f in report["files"]} == expected
    assert report["summary"]["skipped"] == report["summary"]["total"] == 4


# --- 2: a re-run with --skip-existing beside the inputs ---------------------------------------------------


@QUIET
@pytest.mark.parametrize("typed", [("photos/*.png",), ("-r", "photos")], ids=["glob", "recursive"])
def test_a_rerun_with_skip_existing_beside_the_inputs_finishes_the_batch(here, quiet, typed):
    names = ("a.png", "b.png", "c.png") if typed[0] != "-r" else ("a.png", "b.png", "c.png", "sub/d.png")
    sources = {name: image(here / "photos" / name, seed) for seed, name in enumerate(names)}
    # the interrupted first run wrote a_b.png only
    assert invoke("photos/a.png", "-k", "box", "--suffix", "_b", "-q").exit_code == 0
    first = (here / "photos" / "a_b.png").read_bytes()
    args = (*typed, "-k", "box", "--suffix", "_b", "--skip-existing", "-j", "1")

    plan = invoke(*args, "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    assert "photos/a_b.png: skipped (the output of photos/a.png in this batch, not a new input)" in (
        plan.stdout.splitlines())
    assert "photos/a.png -> photos/a_b.png: skipped (exists)" in plan.stdout.splitlines()

    result = invoke(*args, *(["-q"] if quiet else []))
    assert result.exit_code == 0, result.stderr
    assert (here / "photos" / "a_b.png").read_bytes() == first
    for name, pixels in sources.items():
        assert_boxed(here / "photos" / name.replace(".png", "_b.png"), pixels)
    expected = sorted([*names, *(n.replace(".png", "_b.png") for n in names)])
    assert tree(here / "photos") == expected  # no a_b_b.png
    if not quiet:
        assert f"{len(names) - 1} written, 0 failed, 2 skipped" in result.stderr
        assert "  photos/a_b.png: the output of photos/a.png in this batch, not a new input" in result.stderr

    again = invoke(*args, "--json")  # the batch is complete: every file is skipped, each with its reason
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert report["summary"]["skipped"] == report["summary"]["total"] == 2 * len(names)
    assert all(f["reason"] for f in report["files"])


def test_the_same_rerun_through_the_console_script(here):
    for seed, name in enumerate(("a.png", "b.png")):
        image(here / "photos" / name, seed)
    assert run("photos/a.png", "-k", "box", "--suffix", "_b", "-q", cwd=here).returncode == 0
    proc = run("photos/*.png", "-k", "box", "--suffix", "_b", "--skip-existing", "-q", cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert tree(here / "photos") == ["a.png", "a_b.png", "b.png", "b_b.png"]


# --- 3: a folder without -r ---------------------------------------------------------------------------------


@QUIET
def test_a_folder_without_r_filters_the_images_directly_inside_and_r_descends(here, quiet):
    sources = {rel: image(here / "photos" / rel, seed) for seed, rel in enumerate(("a.png", "b.png", "sub/c.png"))}
    (here / "photos" / "notes.txt").write_text("not an image")
    top = invoke("photos", "-k", "box", "--outdir", "top", "-j", "1", *(["-q"] if quiet else []))
    assert top.exit_code == 0, top.stderr
    assert tree(here / "top") == ["a.png", "b.png"]
    assert_boxed(here / "top" / "b.png", sources["b.png"])
    deep = invoke("-r", "photos", "-k", "box", "--outdir", "deep", "-j", "1", *(["-q"] if quiet else []))
    assert deep.exit_code == 0, deep.stderr
    assert tree(here / "deep") == ["a.png", "b.png", "sub/c.png"]
    assert_boxed(here / "deep" / "sub" / "c.png", sources["sub/c.png"])


def test_a_folder_with_images_only_below_says_to_pass_r(here):
    image(here / "photos" / "sub" / "c.png", 1)
    image(here / "good.png", 2)
    result = invoke("photos", "good.png", "-k", "box", "--outdir", "out", "-q")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: photos: the folder holds no image files directly inside (.png, .jpg, .tif, .npy, …); pass -r to "
        "filter its sub-folders too"]
    assert tree(here / "out") == ["good.png"]


# --- 7: --from-file keeps each path's place, relative to the current folder or --base ------------------------


def test_from_file_stdin_keeps_paths_relative_to_the_current_folder(here):
    x, y = image(here / "t7" / "x" / "a.png", 1), image(here / "t7" / "y" / "a.png", 2)
    proc = run("--from-file", "-", "-k", "box", "--outdir", "o7", "-q", "-j", "1", cwd=here,
               input=b"t7/x/a.png\nt7/y/a.png\n")
    assert proc.returncode == 0, proc.stderr  # two a.png are no longer one output
    assert tree(here / "o7") == ["t7/x/a.png", "t7/y/a.png"]
    assert_boxed(here / "o7" / "t7" / "x" / "a.png", x)
    assert_boxed(here / "o7" / "t7" / "y" / "a.png", y)


def test_from_file_with_base_keeps_paths_relative_to_it_absolute_ones_too(here):
    image(here / "t7" / "x" / "a.png", 1)
    image(here / "t7" / "y" / "a.png", 2)
    listing = f"{here / 't7' / 'x' / 'a.png'}\nt7/y/a.png\nt7/y\n"
    result = invoke("--from-file", "-", "--base", "t7", "-k", "box", "--outdir", "o", "-q", "-j", "1",
                    input=listing.encode())
    assert result.exit_code == 0, result.stderr
    assert tree(here / "o") == ["x/a.png", "y/a.png"]  # the listed folder y gives y/a.png once


def test_a_listed_path_outside_the_base_keeps_its_place_as_written(here):
    a = image(here / "in" / "a.png", 1)
    b = image(here / "elsewhere" / "b.png", 2)
    result = invoke("--from-file", "-", "--base", "in", "-k", "box", "--outdir", "o", "-q",
                    input=b"in/a.png\nelsewhere/b.png\n")
    assert result.exit_code == 0, result.stderr  # issue 23: never an error
    assert result.stderr == ""
    assert tree(here / "o") == ["a.png", "elsewhere/b.png"]  # as cp --parents keeps it
    assert_boxed(here / "o" / "a.png", a)
    assert_boxed(here / "o" / "elsewhere" / "b.png", b)
    beside = invoke("--from-file", "-", "--base", "in", "-k", "box", "--suffix", "_b", "-q",
                    input=b"elsewhere/b.png\n")  # without --outdir the place does not matter
    assert beside.exit_code == 0, beside.stderr
    assert (here / "elsewhere" / "b_b.png").exists()


def test_absolute_listed_paths_outside_the_current_folder_keep_their_structure_without_the_leading_slash(
        tmp_path, monkeypatch):
    """find /data -name '*.png' | convcli apply --from-file - --outdir out/ (issue 23), as cp --parents and tar."""
    data, work = tmp_path / "data", tmp_path / "work"
    x, y = image(data / "2024" / "a.png", 1), image(data / "a.png", 2)
    up = image(tmp_path / "up.png", 3)
    work.mkdir()
    monkeypatch.chdir(work)
    listing = f"{data / '2024' / 'a.png'}\n{data / 'a.png'}\n../up.png\n"
    result = invoke("--from-file", "-", "-k", "box", "--outdir", "out", "-q", "-j", "1", input=listing.encode())
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    root = Path(*Path(tmp_path).parts[1:])  # the absolute path without its leading /
    expected = sorted((root / rel).as_posix() for rel in ("data/2024/a.png", "data/a.png", "up.png"))
    assert tree(work / "out") == expected
    assert_boxed(work / "out" / root / "data" / "2024" / "a.png", x)
    assert_boxed(work / "out" / root / "data" / "a.png", y)
    assert_boxed(work / "out" / root / "up.png", up)
    based = invoke("--from-file", "-", "--base", str(data), "-k", "box", "--outdir", "out2", "-q",
                   input=listing.encode())  # --base says otherwise for the paths below it
    assert based.exit_code == 0, based.stderr
    assert tree(work / "out2") == sorted(["2024/a.png", "a.png", (root / "up.png").as_posix()])


def test_a_nul_separated_list_from_find_print0_keeps_spaces_and_newlines(here):
    """find . -name '*.png' -print0 | convcli apply --from-file - -0 (issue 23), as xargs -0."""
    names = ["./in/a b.png", "./in/c\nd.png", "./in/e.png"]
    pixels = [image(here / name, seed) for seed, name in enumerate(names)]
    listing = b"".join(os.fsencode(name) + b"\0" for name in names)
    for args in (("--from-file", "-", "-0"), ("--from-file", "-", "--null")):
        out = f"o{args[-1]}"
        proc = run(*args, "-k", "box", "--outdir", out, "-q", "-j", "1", cwd=here, input=listing)
        assert proc.returncode == 0, proc.stderr
        assert tree(here / out) == sorted(["in/a b.png", "in/c\nd.png", "in/e.png"])
        for name, source in zip(names, pixels, strict=True):
            assert_boxed(here / out / name, source)
    (here / "list0").write_bytes(listing)
    listed = invoke("--from-file", "list0", "-0", "-k", "box", "--outdir", "of", "-q", "-j", "1")
    assert listed.exit_code == 0, listed.stderr
    assert tree(here / "of") == sorted(["in/a b.png", "in/c\nd.png", "in/e.png"])
    alone = invoke("in/e.png", "-0", "-k", "box", "--outdir", "o")
    assert alone.exit_code == 2
    assert alone.stderr.splitlines() == [
        "Error: -0/--null says the --from-file list is NUL-separated (find -print0); add --from-file LIST or drop -0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a.png", "--base", "in", "-o", "x.png"),
         "Error: --base in is the folder --from-file paths are relative to; add --from-file LIST or drop --base"),
        (("--from-file", "-", "--base", "nowhere", "--outdir", "o"),
         "Error: --base nowhere: no such folder; give the folder the listed paths are relative to"),
    ],
    ids=["without-from-file", "missing-folder"],
)
def test_base_misuse_is_a_usage_error(here, args, message):
    (here / "in").mkdir()
    result = invoke(*args, "-k", "box", input=b"a.png\n")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message


# --- 11: the ImageMagick/vips order `in.jpg out.jpg` ---------------------------------------------------------


def test_in_and_out_as_two_paths_suggests_o(here):
    image(here / "in.png", 1)
    result = invoke("in.png", "out.jpg", "-k", "box")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: out.jpg does not exist, and INPUT... takes only inputs; did you mean -o out.jpg? (convcli apply "
        "in.png -o out.jpg ...)"]
    assert not (here / "out.jpg").exists()


def test_the_hint_only_for_that_shape(here):
    image(here / "in.png", 1)
    image(here / "other.png", 2)
    # an existing second file is a second input: the usual question of where the outputs go
    both = invoke("in.png", "other.png", "-k", "box")
    assert both.exit_code == 2 and "did you mean" not in both.stderr
    assert both.stderr.startswith("Error: say where the outputs go")
    # with an output option, a missing second path is a missing input (that file fails, the other is done)
    missing = invoke("in.png", "out.jpg", "-k", "box", "--outdir", "o", "-q")
    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == ["Error: out.jpg: no such file or folder; check the path"]
    # not an image extension: no guess
    notes = invoke("in.png", "notes.txt", "-k", "box")
    assert notes.exit_code == 2 and "did you mean" not in notes.stderr


# --- 13: --ignore-case ----------------------------------------------------------------------------------------


@QUIET
def test_ignore_case_globs_match_any_case(here, quiet):
    for seed, name in enumerate(("A.PNG", "b.Png", "c.png")):
        image(here / "pics" / name, seed)
    plain = invoke("pics/*.png", "-k", "box", "--outdir", "o1", "-q")
    assert plain.exit_code == 0 and tree(here / "o1") == ["c.png"]
    folded = invoke("pics/*.png", "-k", "box", "--outdir", "o2", "--ignore-case", "-j", "1",
                    *(["-q"] if quiet else []))
    assert folded.exit_code == 0, folded.stderr
    assert tree(here / "o2") == ["A.PNG", "b.Png", "c.png"]
    ranged = invoke("pics/[a-b].*", "-k", "box", "--outdir", "o3", "--ignore-case", "-q")
    assert ranged.exit_code == 0 and tree(here / "o3") == ["A.PNG", "b.Png"]


def test_ignore_case_in_the_library_keeps_the_leading_folders_as_typed(tmp_path):
    image(tmp_path / "Pics" / "Sub" / "X.PNG", 1)
    pattern = os.path.join(str(tmp_path), "Pics", "s*", "*.png")
    found = expand_inputs([pattern], ignore_case=True)  # s* matched Sub, *.png matched X.PNG
    assert [(s.rel.as_posix(), s.error) for s in found] == [("Sub/X.PNG", None)]
    typed = os.path.join(str(tmp_path), "pics", "*", "*.png")  # 'pics' is a fixed folder: taken as typed
    assert expand_inputs([typed], ignore_case=True)[0].error.endswith("no file matches this pattern; check it "
                                                                      "(quote it so that convcli expands it)")
