"""``convcli explain --picture``: what the pictures must show, not their bytes.

The window outline is the one red (``_draw.WINDOW``) in a frame, so its
bounding box is where the window is; the padded input's cells are where
:func:`convcli.pictures.explain.input_grid` says, and a point just inside a
cell's top-left corner shows its fill (the numbers are written at the centre).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app
from convcli.errors import ImageWriteError
from convcli.learn.explanation import explain
from convcli.pictures import explain_frames, explain_picture
from convcli.pictures._draw import BORDER_FILL, CURRENT_FILL, WINDOW, WINNER
from convcli.pictures.explain import input_grid

runner = CliRunner()

NOTES_IMAGE = "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2"
NOTES_KERNEL = "1 0 1; 0 1 0; 1 0 1"
NOTES_X = [[1, 2, 3, 0, 1], [4, 5, 6, 1, 0], [7, 8, 9, 0, 1], [1, 0, 1, 2, 3], [0, 1, 0, 3, 2]]
NOTES_K = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
POOL_IMAGE = "1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4"


def run(*args: str) -> Any:
    return runner.invoke(app, ["explain", *args], env={"COLUMNS": "160"})


def frames_of(path: Path) -> list[np.ndarray]:
    """Every frame of a picture file, as RGB arrays."""
    with Image.open(path) as image:
        frames = []
        for n in range(getattr(image, "n_frames", 1)):
            image.seek(n)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


def bbox(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """left, top, right, bottom of the pixels of exactly ``colour``."""
    ys, xs = np.nonzero((frame == colour).all(axis=2))
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def fill_at(frame: np.ndarray, grid: Any, i: int, j: int) -> tuple[int, ...]:
    left, top, _, _ = grid.box(i, j)
    return tuple(int(v) for v in frame[top + 5, left + 5])


def gif(tmp_path: Path, *args: str, name: str = "steps.gif") -> list[np.ndarray]:
    target = tmp_path / name
    result = run(*args, "--picture", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    return frames_of(target)


# --- frames: one per step ----------------------------------------------------------


@pytest.mark.parametrize(("args", "count"), [
    (("-i", NOTES_IMAGE, "-k", NOTES_KERNEL), 9),
    (("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2"), 9),
    (("-i", NOTES_IMAGE, "-k", "1 1; 1 1", "--pad", "1"), 36),
    (("-i", POOL_IMAGE, "--pool", "max:size=2"), 4),
    (("-i", NOTES_IMAGE, "-k", "1 0; 0 1", "--pool", "max:size=2"), 16 + 4),
])
def test_gif_has_one_frame_per_step(tmp_path, args, count):
    assert len(gif(tmp_path, *args)) == count


def test_backward_frames_follow_delta_back_then_one_sheet(tmp_path):
    x = [[1, 2, 3, 0], [4, 5, 6, 1], [7, 8, 9, 0], [1, 0, 1, 2]]
    frames = gif(tmp_path, "-i", "1 2 3 0; 4 5 6 1; 7 8 9 0; 1 0 1 2", "-k", "1 0; 0 1", "--pool", "max:size=2",
                 "--backward")
    e = explain(x, [[1, 0], [0, 1]], pool="max:size=2", backward=True)
    back = e.backward
    forward = len(e.conv.steps) + len(e.pool.steps)
    routes, sums = len(back.pool.routes), len(back.conv.input_steps)
    assert (forward, routes, sums) == (9 + 1, 1, 16)
    assert len(frames) == forward + routes + sums + 1
    # through pooling: the winner of the one window is ringed
    assert bbox(frames[forward], WINNER) is not None
    # through the correlation: the window slides one cell at a time over the zero-padded delta (4x4)
    boxes = [bbox(frame, WINDOW) for frame in frames[forward + routes: forward + routes + sums]]
    steps = [b[0] - boxes[0][0] for b in boxes[:4]]
    assert steps[0] == 0 and len(set(np.diff(steps))) == 1 and steps[1] > 0
    assert bbox(frames[-1], WINDOW) is not None  # the sheet: the example window on the padded delta
    assert bbox(frames[-1], CURRENT_FILL) is not None  # where the pooled delta and the example sum land


# --- the window moves by the stride -------------------------------------------------


@pytest.mark.parametrize(("pad", "stride", "dilation"), [(0, (1, 1), 1), (1, (2, 2), 1), (1, (1, 2), 1),
                                                         (2, (2, 1), 2)])
def test_window_outline_moves_by_the_stride(tmp_path, pad, stride, dilation):
    sh, sw = stride
    e = explain(NOTES_X, NOTES_K, pad=pad, stride=stride, dilation=dilation)
    frames = gif(tmp_path, "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", str(pad), "--stride", f"{sh}x{sw}",
                 "--dilation", str(dilation))
    grid = input_grid(e)
    ow = e.conv.output.shape[1]
    boxes = [bbox(frame, WINDOW) for frame in frames]
    assert all(box is not None for box in boxes)
    span = (len(NOTES_K) - 1) * dilation + 1
    for n, box in enumerate(boxes):
        i, j = divmod(n, ow)
        # the first window sits on the padded input's top-left cell; each step moves it by the stride in cells
        left, top, _, _ = grid.box(i * sh, j * sw)
        _, _, right, bottom = grid.box(i * sh + span - 1, j * sw + span - 1)
        assert abs(box[0] - left) <= 2 and abs(box[1] - top) <= 2, (n, box, left, top)
        assert abs(box[2] - right) <= 2 and abs(box[3] - bottom) <= 2
    for n in range(1, len(boxes)):
        if n % ow:  # along a row: stride[1] cells to the right, same height
            assert boxes[n][0] - boxes[n - 1][0] == sw * grid.cw
            assert boxes[n][1] == boxes[n - 1][1]
        else:  # the next row: stride[0] cells down, back to the left edge
            assert boxes[n][1] - boxes[n - 1][1] == sh * grid.ch
            assert boxes[n][0] == boxes[0][0]


def test_pooling_window_moves_by_its_stride_and_the_winner_is_ringed(tmp_path):
    frames = gif(tmp_path, "-i", POOL_IMAGE, "--pool", "max:size=2,stride=1")
    e = explain(np.array([[1, 3, 2, 1], [4, 2, 0, 1], [5, 6, 1, 2], [7, 8, 3, 4]]), pool="max:size=2,stride=1")
    grid = input_grid(e)
    boxes = [bbox(frame, WINDOW) for frame in frames]
    assert len(frames) == 9
    assert [b[0] - boxes[0][0] for b in boxes] == [0, grid.cw, 2 * grid.cw] * 3
    assert [b[1] - boxes[0][1] for b in boxes] == [0] * 3 + [grid.ch] * 3 + [2 * grid.ch] * 3
    for frame, step in zip(frames, e.pool.steps, strict=True):
        r, c = step.rows[step.winner[0]], step.cols[step.winner[1]]
        ring = bbox(frame, WINNER)
        left, top, right, bottom = grid.box(r, c)
        assert ring is not None and left < ring[0] < ring[2] < right and top < ring[1] < ring[3] < bottom
        assert step.window.max() == e.pool.input[r, c]


# --- the border is shaded where the padding is --------------------------------------


@pytest.mark.parametrize("pad", ["1", "2", "1,2,0,1", "0"])
def test_border_cells_are_shaded_exactly_where_the_padding_is(tmp_path, pad):
    pads = tuple(int(v) for v in pad.split(","))
    e = explain(NOTES_X, [[1, 1], [1, 1]], pad=pads if len(pads) == 4 else pads[0])
    frames = gif(tmp_path, "-i", NOTES_IMAGE, "-k", "1 1; 1 1", "--pad", pad)
    top, bottom, left, right = e.conv.pad
    grid = input_grid(e)
    assert (grid.rows, grid.cols) == (5 + top + bottom, 5 + left + right)
    for frame in (frames[0], frames[-1]):
        for i in range(grid.rows):
            for j in range(grid.cols):
                padding = not (top <= i < top + 5 and left <= j < left + 5)
                assert (fill_at(frame, grid, i, j) == BORDER_FILL) == padding, (i, j)


def test_pooling_padding_is_shaded(tmp_path):
    frames = gif(tmp_path, "-i", POOL_IMAGE, "--pool", "max:size=3,stride=2,pad=1")
    e = explain(np.arange(16.0).reshape(4, 4), pool="max:size=3,stride=2,pad=1")
    grid = input_grid(e)
    padding = np.isnan(e.pool.padded)
    assert padding.any() and not padding.all()
    for i in range(grid.rows):
        for j in range(grid.cols):
            assert (fill_at(frames[0], grid, i, j) == BORDER_FILL) == padding[i, j], (i, j)


# --- --step, .png, determinism --------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_step_gives_frame_n_of_the_gif(tmp_path, suffix):
    args = ("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2", "--pool", "max:size=2")
    frames = gif(tmp_path, *args)
    for n in (1, 5, len(frames)):
        one = gif(tmp_path, *args, "--step", str(n), name=f"one{n}{suffix}")
        assert len(one) == 1
        assert np.array_equal(one[0], frames[n - 1])


def test_png_is_the_last_frame_with_every_output_filled(tmp_path):
    frames = gif(tmp_path, "-i", NOTES_IMAGE, "-k", NOTES_KERNEL)
    sheet = gif(tmp_path, "-i", NOTES_IMAGE, "-k", NOTES_KERNEL, name="sheet.png")
    assert len(sheet) == 1 and np.array_equal(sheet[0], frames[-1])


def test_output_fills_in_cell_by_cell(tmp_path):
    frames = gif(tmp_path, "-i", NOTES_IMAGE, "-k", NOTES_KERNEL)
    current = [bbox(frame, CURRENT_FILL) for frame in frames]
    assert len({box[:2] for box in current}) == 9  # the highlighted output cell is a new one each step
    assert current[1][0] > current[0][0] and current[3][1] > current[0][1]
    ink = [int((frame < 100).all(axis=2)[current[0][1]:, current[0][0]:].sum()) for frame in frames]
    assert ink == sorted(ink) and ink[-1] > ink[0]  # numbers are only ever added to the output


def test_pictures_are_deterministic(tmp_path):
    e = explain(NOTES_X, NOTES_K, pad=1, stride=2, pool="max:size=2", backward=True)
    for name in ("a.gif", "b.gif", "a.png", "b.png"):
        explain_picture(e, tmp_path / name)
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    first = run("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--picture", str(tmp_path / "c.gif"))
    second = run("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--picture", str(tmp_path / "d.gif"))
    assert first.exit_code == second.exit_code == 0
    assert (tmp_path / "c.gif").read_bytes() == (tmp_path / "d.gif").read_bytes()


def test_library_frames_match_the_file(tmp_path):
    e = explain(NOTES_X, NOTES_K)
    assert explain_picture(e, tmp_path / "x.gif") == len(explain_frames(e)) == 9
    assert explain_picture(e, tmp_path / "x.png", step=2) == 1


# --- errors: one line, the fix, no file ------------------------------------------------


def error(*args: str, code: int) -> str:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    return result.stderr


@pytest.mark.parametrize("name", ["steps.svg", "steps.jpg", "steps"])
def test_unknown_extension_is_a_usage_error_naming_the_allowed_ones(tmp_path, name):
    message = error("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--picture", str(tmp_path / name), code=2)
    assert ".png or .gif" in message and name in message
    assert os.listdir(tmp_path) == []


def test_missing_folder_is_named(tmp_path):
    target = tmp_path / "missing" / "steps.gif"
    message = error("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--picture", str(target), code=1)
    assert str(tmp_path / "missing") in message and "create it" in message
    assert os.listdir(tmp_path) == []


def test_step_out_of_range_writes_nothing(tmp_path):
    message = error("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--step", "10", "--picture", str(tmp_path / "a.png"),
                    code=2)
    assert "--step 10" in message and "1 to 9" in message
    assert os.listdir(tmp_path) == []


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def full_disk(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)  # the rename that would publish the finished file
    with pytest.raises(ImageWriteError, match=r"x\.gif: cannot write \(No space left on device\)"):
        explain_picture(explain(NOTES_X, NOTES_K), tmp_path / "x.gif")
    assert os.listdir(tmp_path) == []


def test_a_folder_as_target_is_refused(tmp_path):
    (tmp_path / "x.png").mkdir()
    message = error("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--picture", str(tmp_path / "x.png"), code=1)
    assert "is a folder" in message


# --- the README's pictures ---------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
README_PICTURES = {
    "explain.gif": ("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--pad", "1", "--stride", "2"),
    "pool.png": ("-i", POOL_IMAGE, "--pool", "max:size=2"),
    "backward.png": ("-i", "1 2 3; 4 5 6; 7 8 9", "-k", "1 2; 3 4", "--backward"),
}


@pytest.mark.skipif(not (DOCS / "make_pictures.py").exists(), reason="needs the repository's docs folder")
@pytest.mark.parametrize("name", sorted(README_PICTURES))
def test_readme_pictures_are_shown_small_and_current(tmp_path, name):
    page = (DOCS / "outsize-and-learning.md").read_text(encoding="utf-8")
    assert f"]({name})" in page
    committed = DOCS / name
    assert committed.stat().st_size < 300_000
    fresh = tmp_path / name
    assert run(*README_PICTURES[name], "--picture", str(fresh)).exit_code == 0
    assert fresh.read_bytes() == committed.read_bytes(), "regenerate with: python docs/make_pictures.py"


def test_picture_with_json_is_refused(tmp_path):
    message = error("-i", NOTES_IMAGE, "-k", NOTES_KERNEL, "--json", "--picture", str(tmp_path / "a.png"), code=2)
    assert "--picture and --json" in message
    assert os.listdir(tmp_path) == []
