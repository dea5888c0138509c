"""convcli.kernels.info.kernel_info: what ``convcli kernels show`` reports, as plain data.

Every value is checked against NumPy computed here (rank, sum, anchor), and the whole dict must survive
``json.dumps`` unchanged: the command line renders it without NumPy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from convcli.engine import METHODS
from convcli.errors import KernelError
from convcli.kernels import Kernel, kernel, kernel_info


def plain(value: object) -> bool:
    """Only Python's own JSON types, all the way down."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


@pytest.mark.parametrize("spec", ["sobel:axis=y", "laplacian:neighbors=8", "gaussian:sigma=1.3", "1 2; 3 4",
                                  "box:size=4x2", "0 0; 0 0"])
def test_linear_kernel_facts_against_numpy(spec: str) -> None:
    info = kernel_info(spec, image_size=(64, 48))
    assert plain(info) and json.loads(json.dumps(info)) == info
    m = kernel(spec).matrix
    h, w = m.shape
    assert info["spec"] == spec and info["shape"] == [h, w]
    assert info["matrix"] == m.tolist()
    assert info["sum"] == math.fsum(m.ravel().tolist())
    assert info["rank"] == np.linalg.matrix_rank(m)
    assert info["separable"] is bool(np.linalg.matrix_rank(m) <= 1)
    assert info["anchor"] == [(h - 1) // 2, (w - 1) // 2] and info["default_anchor"] is True
    assert info["offset"] == 0.0
    assert info["method"]["name"] in METHODS[1:] and info["method"]["image_size"] == [64, 48]
    assert info["method"]["reason"]


def test_operator_has_no_matrix_but_its_components() -> None:
    info = kernel_info(kernel("prewitt:axis=both"))
    assert plain(info)
    assert info["matrix"] is None and info["sum"] is None and info["separable"] is None
    assert info["combine"] == "hypot" and info["shape"] == [3, 3] and info["anchor"] == [1, 1]
    assert [c["matrix"] for c in info["components"]] == [
        [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
        [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    ]
    assert all(c["rank"] == 1 for c in info["components"])


def test_normalize_and_image_size_change_the_answer() -> None:
    plain_info = kernel_info("1 2 1; 2 4 2; 1 2 1")
    normalized = kernel_info("1 2 1; 2 4 2; 1 2 1", normalize=True)
    assert plain_info["sum"] == 16.0 and normalized["sum"] == 1.0
    assert normalized["matrix"][1] == [0.125, 0.25, 0.125]
    assert plain_info["method"]["image_size"] == [1024, 1024]
    with pytest.raises(KernelError, match="sums to 0, so --normalize cannot divide"):
        kernel_info("laplacian", normalize=True)


def test_anchor_and_offset_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text('{"kernel": [[1, 2, 3]], "anchor": [0, 2], "offset": -4}')
    info = kernel_info(f"@{path}")
    assert info["anchor"] == [0, 2] and info["default_anchor"] is False and info["offset"] == -4.0
    same = kernel_info(Kernel([[1, 2, 3]], anchor=(0, 2), offset=-4.0, spec=f"@{path}"))
    assert same == info
