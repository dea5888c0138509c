"""Kernel files: every format read, written and round-tripped; every error names file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convcli.errors import KernelError, KernelFileError
from convcli.kernels import Kernel, kernel
from convcli.kernels.files import kernel_file_format, load_kernel_file, save_kernel_file

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- reading each format ------------------------------------------------------------


def test_text_rows_comments_blank_lines_and_separators(tmp_path: Path) -> None:
    path = write(tmp_path / "k.txt", "# a comment\n\n 1  2\t3   # trailing comment\n4,5 ,6\n\n  \n7, 8, 9\n")
    k = load_kernel_file(path)
    np.testing.assert_array_equal(k.matrix, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert k.anchor is None and k.offset == 0.0
    assert k.spec == str(path)


def test_csv_tsv_crlf_and_bom(tmp_path: Path) -> None:
    (tmp_path / "k.csv").write_bytes(b"\xef\xbb\xbf0.5,-1e-3\r\n2,3\r\n")
    np.testing.assert_array_equal(load_kernel_file(tmp_path / "k.csv").matrix, [[0.5, -0.001], [2, 3]])
    write(tmp_path / "k.tsv", "1\t2\n3\t4\n")
    np.testing.assert_array_equal(load_kernel_file(tmp_path / "k.tsv").matrix, [[1, 2], [3, 4]])


def test_one_line_file_is_one_row(tmp_path: Path) -> None:
    assert load_kernel_file(write(tmp_path / "row.txt", "1 2 1\n")).shape == (1, 3)


def test_json_nested_list_flat_list_and_object(tmp_path: Path) -> None:
    np.testing.assert_array_equal(load_kernel_file(write(tmp_path / "a.json", "[[1, 2], [3, 4]]")).matrix,
                                  [[1, 2], [3, 4]])
    assert load_kernel_file(write(tmp_path / "b.json", "[1, 2, 1]")).shape == (1, 3)
    k = load_kernel_file(write(tmp_path / "c.json", json.dumps(
        {"kernel": [[1, 2, 1], [2, 4, 2], [1, 2, 1]], "scale": 16, "offset": -0.5, "anchor": [0, 2]})))
    np.testing.assert_array_equal(k.matrix, np.outer([1, 2, 1], [1, 2, 1]) / 16)
    assert k.offset == -0.5
    assert k.anchor == (0, 2)


def test_json_defaults(tmp_path: Path) -> None:
    k = load_kernel_file(write(tmp_path / "k.json", '{"kernel": [[1, -1]]}'))
    assert k.matrix.tolist() == [[1.0, -1.0]] and k.offset == 0.0 and k.anchor is None


def test_npy(tmp_path: Path) -> None:
    matrix = np.random.default_rng(3).standard_normal((4, 6))
    np.save(tmp_path / "k.npy", matrix)
    np.testing.assert_array_equal(load_kernel_file(tmp_path / "k.npy").matrix, matrix)
    np.save(tmp_path / "int.npy", np.arange(6, dtype=np.int16).reshape(2, 3))
    assert load_kernel_file(tmp_path / "int.npy").matrix.tolist() == [[0, 1, 2], [3, 4, 5]]
    np.save(tmp_path / "row.npy", np.array([1.0, 2.0]))
    assert load_kernel_file(tmp_path / "row.npy").shape == (1, 2)


def test_mat_scale_and_offset(tmp_path: Path) -> None:
    k = load_kernel_file(write(tmp_path / "k.mat", "3 2 4 10\n1 2 1\n-1 -2 -1\n"))
    np.testing.assert_array_equal(k.matrix, np.array([[1, 2, 1], [-1, -2, -1]]) / 4)
    assert k.offset == 10.0
    assert k.shape == (2, 3)  # W=3 columns, H=2 rows


def test_mat_header_variants(tmp_path: Path) -> None:
    plain = load_kernel_file(write(tmp_path / "a.mat", "2 1\n1 2\n"))
    assert plain.matrix.tolist() == [[1.0, 2.0]] and plain.offset == 0.0
    scaled = load_kernel_file(write(tmp_path / "b.mat", "2 1 -2\n1 2\n"))
    assert scaled.matrix.tolist() == [[-0.5, -1.0]]
    quoted = load_kernel_file(write(tmp_path / "c.mat", '"2","1","1","0.5"\n"1","2"\n# note\n\n'))
    assert quoted.matrix.tolist() == [[1.0, 2.0]] and quoted.offset == 0.5


def test_format_override_and_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path / "k.kernel", "3 1 1\n1 2 3\n")
    assert load_kernel_file(path).shape == (2, 3)  # unknown extension: text
    assert load_kernel_file(path, format="mat").shape == (1, 3)
    assert load_kernel_file(write(tmp_path / "j.kernel", '{"kernel": [[1, 2]]}')).shape == (1, 2)
    with pytest.raises(ValueError, match="format must be one of text, csv, tsv, json, npy, mat, got 'xml'"):
        load_kernel_file(path, format="xml")  # type: ignore[arg-type]


def test_kernel_file_format() -> None:
    assert [kernel_file_format(p) for p in ("a.txt", "a.CSV", "a.tsv", "a.json", "a.npy", "a.mat", "a")] == [
        "text", "csv", "tsv", "json", "npy", "mat", "text"]


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "k.txt", "1 2\n")
    assert kernel("@~/k.txt").matrix.tolist() == [[1.0, 2.0]]


# --- the examples in kernels/ ----------------------------------------------------


def test_example_kernels_folder() -> None:
    folder = REPO / "kernels"
    emboss = kernel(str(folder / "emboss.txt"))
    np.testing.assert_array_equal(emboss.matrix, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    sharpen = kernel(str(folder / "sharpen.json"))
    np.testing.assert_allclose(sharpen.matrix, np.array([[-1, -1, -1], [-1, 17, -1], [-1, -1, -1]]) / 9,
                               rtol=1e-15)
    np.testing.assert_allclose(sharpen.matrix, kernel("sharpen").matrix, rtol=1e-15, atol=1e-16)
    edge = kernel(str(folder / "edge.mat"))
    np.testing.assert_array_equal(edge.matrix, [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    assert edge.offset == 128.0
    blur = kernel(str(folder / "blur7x7.csv"), normalize=True)
    assert blur.shape == (7, 7)
    assert blur.sum == pytest.approx(1.0, abs=1e-15)
    y, x = np.mgrid[-3:4, -3:4]
    np.testing.assert_array_equal(blur.matrix, (x**2 + y**2 <= 10) / 37)
    gauss = kernel(str(folder / "gaussian5x5.npy"))
    np.testing.assert_array_equal(gauss.matrix, np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256)


# --- round trips ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["k.txt", "k.csv", "k.tsv", "k.json", "k.npy", "k.mat", "k.other"])
def test_round_trip_random_matrix(tmp_path: Path, name: str) -> None:
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((5, 3)) * 10.0 ** rng.integers(-8, 8, (5, 3))
    matrix[0, 0] = 3.0  # an integer-valued entry is written without ".0"
    save_kernel_file(matrix, tmp_path / name)
    np.testing.assert_array_equal(load_kernel_file(tmp_path / name).matrix, matrix)


def test_round_trip_keeps_offset_and_anchor(tmp_path: Path) -> None:
    k = Kernel([[1.0, 2.5], [-3.0, 0.125]], anchor=(1, 0), offset=-7.25)
    save_kernel_file(k, tmp_path / "k.json")
    back = load_kernel_file(tmp_path / "k.json")
    np.testing.assert_array_equal(back.matrix, k.matrix)
    assert back.anchor == (1, 0) and back.offset == -7.25
    with_offset = Kernel([[0.1, 0.2]], offset=128)
    save_kernel_file(with_offset, tmp_path / "k.mat")
    assert (tmp_path / "k.mat").read_text() == "2 1 1 128\n0.1 0.2\n"
    back = load_kernel_file(tmp_path / "k.mat")
    assert back.matrix.tolist() == [[0.1, 0.2]] and back.offset == 128.0


def test_written_forms(tmp_path: Path) -> None:
    m = [[1, 0.5], [-2, 0]]
    for name, text in [("a.txt", "1 0.5\n-2 0\n"), ("a.csv", "1,0.5\n-2,0\n"), ("a.tsv", "1\t0.5\n-2\t0\n"),
                       ("a.json", "[[1, 0.5], [-2, 0]]\n"), ("a.mat", "2 2\n1 0.5\n-2 0\n")]:
        save_kernel_file(m, tmp_path / name)
        assert (tmp_path / name).read_text() == text
    save_kernel_file(m, tmp_path / "b.dat", format="csv")
    assert (tmp_path / "b.dat").read_text() == "1,0.5\n-2,0\n"
    save_kernel_file(m, tmp_path / "c.bin", format="npy")
    assert not (tmp_path / "c.bin.npy").exists()
    np.testing.assert_array_equal(load_kernel_file(tmp_path / "c.bin", format="npy").matrix, m)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    matrix=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                      elements=st.floats(allow_nan=False, allow_infinity=False, width=64)),
    name=st.sampled_from(["h.txt", "h.csv", "h.json", "h.npy", "h.mat"]),
)
def test_round_trip_property(tmp_path: Path, matrix: np.ndarray, name: str) -> None:
    save_kernel_file(matrix, tmp_path / name)
    back = load_kernel_file(tmp_path / name).matrix
    np.testing.assert_array_equal(back, matrix + 0.0)


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("k.txt", "1 2 3\n# c\n4 5\n",
         r"k\.txt, line 3: this row has 2 values but the first row \(line 1\) has 3; every row needs"),
        ("k.csv", "1,2\n\n3,x\n", r"k\.csv, line 3: column 2: 'x' is not a number; write values like 1"),
        ("k.csv", "1,,2\n", r"k\.csv, line 1: column 2: an empty value \(two separators in a row\?\)"),
        ("k.txt", "1 2\nnan 2\n", r"k\.txt, line 2: column 1: nan is not allowed; every value must be"),
        ("k.txt", "1 -inf\n", r"line 1: column 2: -inf is not allowed"),
        ("k.txt", "# only a comment\n\n", r"k\.txt: no kernel values found \(only blank lines or comments\)"),
        ("k.txt", "", r"k\.txt: no kernel values found"),
        ("k.mat", "", r"k\.mat: is empty; the first line must be 'W H \[scale \[offset\]\]'"),
        ("k.mat", "3\n1 2 3\n", r"k\.mat, line 1: header has 1 value; the first line must be 'W H"),
        ("k.mat", "3 1 1 0 9\n1 2 3\n", r"line 1: header has 5 values"),
        ("k.mat", "3.5 1\n1 2 3\n", r"line 1: header W = '3\.5' is not a positive integer"),
        ("k.mat", "3 0\n", r"line 1: header H = '0' is not a positive integer"),
        ("k.mat", "3 1 0\n1 2 3\n", r"line 1: header scale is 0; the kernel is divided by it"),
        ("k.mat", "3 1 x\n1 2 3\n", r"line 1: column 3: 'x' is not a number"),
        ("k.mat", "3 2\n1 2 3\n", r"k\.mat: the header \(line 1\) says 2 rows, but the file has 1; fix H"),
        ("k.mat", "3 1\n1 2 3\n4 5 6\n",
         r"k\.mat, line 3: the header \(line 1\) says 1 row, but there are more; fix H in the header"),
        ("k.mat", "3 2\n1 2 3\n4 5\n",
         r"k\.mat, line 3: this row has 2 values but the header \(line 1\) says W=3"),
        ("k.mat", "2000 1\n", r"line 1: header asks for 2000x1; the limit is 1025 per side"),
        ("k.mat", "2 1\n1 nan\n", r"line 2: column 2: nan is not allowed"),
        ("k.json", "[[1, 2],\n [3, 4]", r"k\.json, line 2: is not valid JSON: Expecting ',' delimiter"),
        ("k.json", "[[1, 2], [3]]", r"k\.json: kernel row 2 has 1 value but row 1 has 2"),
        ("k.json", '[[1, "a"]]', r"kernel row 1, column 2 is \"a\", not a number"),
        ("k.json", "[[1, true]]", r"kernel row 1, column 2 is true, not a number"),
        ("k.json", "[[1, NaN]]", r"kernel row 1, column 2 is nan; every value must be finite"),
        ("k.json", "[[1, 1e999]]", r"kernel row 1, column 2 is inf; every value must be finite"),
        ("k.json", "[]", r"the kernel must be a non-empty list of rows"),
        ("k.json", "[[1], []]", r"kernel row 2 is \[\], not a list of numbers"),
        ("k.json", "[[1], 2]", r"kernel row 2 is 2, not a list of numbers"),
        ("k.json", "3", r"the kernel must be a non-empty list of rows"),
        ("k.json", '{"matrix": [[1]]}', r"unknown key 'matrix'; valid keys: kernel, scale, offset, anchor"),
        ("k.json", '{"scale": 2}', r'has no "kernel" key'),
        ("k.json", '{"kernel": [[1]], "scale": 0}', r'"scale" must be a non-zero number, got 0'),
        ("k.json", '{"kernel": [[1]], "scale": "2"}', r'"scale" must be a non-zero number, got "2"'),
        ("k.json", '{"kernel": [[1]], "offset": null}', r'"offset" must be a finite number, got null'),
        ("k.json", '{"kernel": [[1, 2]], "anchor": [0, 2]}',
         r'"anchor" must be \[row, col\] with 0 <= row < 1 and 0 <= col < 2 \(0-based\), got \[0, 2\]'),
        ("k.json", '{"kernel": [[1, 2]], "anchor": [0]}', r'"anchor" must be \[row, col\]'),
        ("k.json", '{"kernel": [[1, 2]], "anchor": [0, 1.0]}', r'"anchor" must be \[row, col\]'),
    ],
)
def test_file_errors(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(KernelFileError, match=match) as info:
        load_kernel_file(path)
    assert str(info.value).startswith(str(path))
    assert info.value.path == str(path)


def test_error_line_numbers_are_exposed(tmp_path: Path) -> None:
    path = write(tmp_path / "k.txt", "1 2\n\n# c\n3\n")
    with pytest.raises(KernelFileError, match="line 4") as info:
        load_kernel_file(path)
    assert info.value.line == 4


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(KernelFileError, match=r"nope\.txt: no such file; check the path$"):
        load_kernel_file(tmp_path / "nope.txt")
    with pytest.raises(KernelFileError, match=r": is a folder, not a kernel file$"):
        load_kernel_file(tmp_path)
    with pytest.raises(KernelFileError, match=r"nope\.csv: no such file"):
        kernel(str(tmp_path / "nope.csv"))


def test_not_text_and_matlab_files(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"1 2\n3 \xff\n")
    with pytest.raises(KernelFileError, match=r"bin\.txt, line 2: is not UTF-8 text \(byte 0xff\)"):
        load_kernel_file(tmp_path / "bin.txt")
    (tmp_path / "m.mat").write_bytes(b"MATLAB 5.0 MAT-file, Platform: x\x00\x01")
    with pytest.raises(KernelFileError, match=r"is a MATLAB \.mat file, but convcli reads libvips \.mat"):
        load_kernel_file(tmp_path / "m.mat")


def test_npy_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(KernelFileError, match=r"junk\.npy: is not a readable \.npy array"):
        load_kernel_file(tmp_path / "junk.npy")
    np.save(tmp_path / "obj.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    with pytest.raises(KernelFileError, match=r"obj\.npy: is not a readable \.npy array \(.*allow_pickle"):
        load_kernel_file(tmp_path / "obj.npy")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(KernelFileError, match=r"holds an array of shape \(2, 2, 2\); a kernel must be 2-D"):
        load_kernel_file(tmp_path / "cube.npy")
    np.save(tmp_path / "complex.npy", np.zeros((2, 2), dtype=complex))
    with pytest.raises(KernelFileError, match=r"holds complex128 values; a kernel must hold real numbers"):
        load_kernel_file(tmp_path / "complex.npy")
    np.save(tmp_path / "nan.npy", np.array([[1.0, 2.0], [np.nan, 0.0]]))
    with pytest.raises(KernelFileError, match=r"nan\.npy: row 2, column 1 is nan; every value must be"):
        load_kernel_file(tmp_path / "nan.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 3)))
    with pytest.raises(KernelFileError, match=r"holds an empty array \(shape \(0, 3\)\)"):
        load_kernel_file(tmp_path / "empty.npy")
    np.save(tmp_path / "big.npy", np.zeros((1, 1026)))
    with pytest.raises(KernelFileError, match=r"holds a 1x1026 kernel; the limit is 1025 per side"):
        load_kernel_file(tmp_path / "big.npy")
    np.save(tmp_path / "npz.npy", np.zeros(1))
    np.savez(tmp_path / "two.npz", a=np.zeros(1), b=np.zeros(1))
    with pytest.raises(KernelFileError, match=r"holds several arrays \(\.npz\)"):
        load_kernel_file(tmp_path / "two.npz", format="npy")


def test_text_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.txt", " ".join(["1"] * 1026) + "\n")
    with pytest.raises(KernelFileError, match=r"line 1: the kernel is larger than 1025 per side"):
        load_kernel_file(path)
    path = write(tmp_path / "tall.txt", "1\n" * 1026)
    with pytest.raises(KernelFileError, match=r"line 1026: the kernel is larger than 1025 per side"):
        load_kernel_file(path)


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import convcli.kernels.files as kf

    monkeypatch.setattr(kf, "MAX_FILE_BYTES", 10)
    path = write(tmp_path / "k.txt", "1 2 3 4 5 6 7\n")
    with pytest.raises(KernelFileError, match=r"k\.txt: is 0 MiB; kernel files may be at most 0 MiB"):
        load_kernel_file(path)


def test_save_refuses_what_a_format_cannot_hold(tmp_path: Path) -> None:
    k = Kernel([[1.0, 2.0]], offset=3.0)
    message = r"k\.csv: the csv format holds only the matrix, but the kernel has offset 3\.0; save it as"
    with pytest.raises(KernelFileError, match=message + r" \.json or \.mat"):
        save_kernel_file(k, tmp_path / "k.csv")
    with pytest.raises(KernelFileError, match=r"the npy format holds only the matrix.*offset 3\.0"):
        save_kernel_file(k, tmp_path / "k.npy")
    anchored = Kernel([[1.0, 2.0]], anchor=(0, 0))
    with pytest.raises(KernelFileError, match=r"the mat format holds only the matrix, but the kernel has "
                                              r"anchor \(0, 0\); save it as \.json"):
        save_kernel_file(anchored, tmp_path / "k.mat")
    with pytest.raises(KernelError, match="is an operator"):
        save_kernel_file(kernel("sobel:axis=both"), tmp_path / "k.json")
    with pytest.raises(KernelFileError, match=r"cannot be written: No such file or directory"):
        save_kernel_file([[1.0]], tmp_path / "missing" / "k.txt")
    with pytest.raises(ValueError, match="format must be one of"):
        save_kernel_file([[1.0]], tmp_path / "k.txt", format="yaml")  # type: ignore[arg-type]
    assert not any(p.name.startswith("k.") for p in tmp_path.iterdir())


