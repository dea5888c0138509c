"""convcli.learn.explanation.inputs and explain_specs: what ``convcli explain`` reads (inline matrices, images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.errors import ImageReadError, ParameterError, UsageError
from convcli.learn.explanation import explain, explain_specs, read_input


def test_inline_matrices_in_both_syntaxes() -> None:
    np.testing.assert_array_equal(read_input("1 2; 3 4"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_input("[[1, 2], [3, 4]]"), [[1, 2], [3, 4]])
    with pytest.raises(ParameterError, match=r"^--image 'photo\.png' is neither a matrix like '1 2 3; 4 5 6' nor an "
                                             r"existing file; check the path$"):
        read_input("photo.png")
    with pytest.raises(UsageError, match="--crop and --channel select part of an image file"):
        read_input("1 2; 3 4", crop=(0, 0, 1, 1))


def test_images_crops_and_channels(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    path = str(tmp_path / "rgb.png")
    for channel in range(3):
        np.testing.assert_array_equal(read_input(path, channel=channel), rgb[:, :, channel])
    # (x, y, w, h): columns x..x+w-1 of rows y..y+h-1
    np.testing.assert_array_equal(read_input("@" + path, channel=1, crop=(2, 5, 4, 3)), rgb[5:8, 2:6, 1])
    with pytest.raises(ParameterError, match=r"has 3 channels; explain works on one: choose it with --channel"):
        read_input(path)
    with pytest.raises(ParameterError, match=r"^--channel 3: .* has channels 0 to 2$"):
        read_input(path, channel=3)
    with pytest.raises(ParameterError, match=r"^--crop 8,0,4,4: the 4x4 crop at column 8, row 0 does not fit the "
                                             r"10x12 \(width x height\) image"):
        read_input(path, channel=0, crop=(8, 0, 4, 4))
    with pytest.raises(ParameterError, match=r"--crop 0,0,0,2: the 0x2 crop"):
        read_input(path, channel=0, crop=(0, 0, 0, 2))
    gray = rgb[:, :, 0]
    np.save(tmp_path / "gray.npy", gray.astype(np.float32))
    np.testing.assert_array_equal(read_input(str(tmp_path / "gray.npy"), channel=0), gray)
    with pytest.raises(ParameterError, match=r"^--channel 1: .*gray\.npy has one channel \(0\)$"):
        read_input(str(tmp_path / "gray.npy"), channel=1)
    with pytest.raises(ImageReadError):
        read_input("@" + str(tmp_path / "missing.png"))


def test_explain_specs_is_explain_of_what_the_specs_name(tmp_path: Path) -> None:
    x = np.arange(20.0).reshape(4, 5)
    got = explain_specs("; ".join(" ".join(str(v) for v in row) for row in x), "sobel:axis=x", pad="same",
                        border="edge", stride=(1, 2), grad=None, backward=True)
    want = explain(x, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], pad="same", border="edge", stride=(1, 2),
                   backward=True)
    assert got.to_dict() == want.to_dict()
    # a file's anchor counts with pad="same" (and only then)
    path = tmp_path / "k.json"
    path.write_text('{"kernel": [[1, 2, 3]], "anchor": [0, 0]}')
    anchored = explain_specs("1 2 3 4", f"@{path}", pad="same")
    assert anchored.conv.pad == (0, 0, 0, 2)
    assert explain_specs("1 2 3 4", f"@{path}", pad=1).conv.pad == (1, 1, 1, 1)
    graded = explain_specs("1 2; 3 4", "1 1", grad="2; 3")
    np.testing.assert_array_equal(graded.backward.error, [[2], [3]])
    with pytest.raises(ParameterError, match=r"^--grad '2; x': 'x' at row 2, column 1 is not a finite number"):
        explain_specs("1 2; 3 4", "1 1", grad="2; x")
