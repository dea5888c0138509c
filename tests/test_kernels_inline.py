"""The one inline-matrix parser (convcli.kernels._inline) behind ``-k "1 2; 3 4"`` and ``explain --image``.

It accepts the union of what the two old parsers did: ``;``-separated rows with values split by spaces or
commas (both) and JSON nested lists (kernels only, before).  Each caller keeps its own error type and wording.
"""

from __future__ import annotations

import numpy as np
import pytest

from convcli.errors import KernelError, ParameterError
from convcli.kernels import kernel, looks_like_matrix, parse_number, parse_rows, split_values
from convcli.learn.explanation import parse_matrix


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("1 2 1; 0 0 0; -1 -2 -1", [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]),
        ("1,2;3,4;", [[1, 2], [3, 4]]),  # one trailing ';'
        ("1\t2 ,3", [[1, 2, 3]]),
        ("[[1, 2], [3, 4.5]]", [[1, 2], [3, 4.5]]),
        ("[1, -2e-3]", [[1, -0.002]]),  # a flat JSON list is one row
    ],
)
def test_both_syntaxes_parse_the_same_everywhere(text: str, rows: list[list[float]]) -> None:
    assert parse_rows(text) == rows
    np.testing.assert_array_equal(kernel(text).matrix, np.array(rows, dtype=float))
    np.testing.assert_array_equal(parse_matrix(text), np.array(rows, dtype=float))


def test_the_old_explain_syntax_still_reads_and_json_is_new_there() -> None:
    np.testing.assert_array_equal(parse_matrix("1 2; 3,4;"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(parse_matrix("[[1, 2], [3, 4]]"), [[1, 2], [3, 4]])


def test_kernels_parse_nan_for_the_kernel_to_refuse_with_its_position() -> None:
    assert parse_rows("1 nan")[0][0] == 1.0 and np.isnan(parse_rows("1 nan")[0][1])
    with pytest.raises(KernelError, match=r"kernel '1 nan; 0 0' has nan at row 1, column 2; every value must be"):
        kernel("1 nan; 0 0")


def test_explain_refuses_nan_and_inf_as_not_finite() -> None:
    for token in ("nan", "inf", "-inf"):
        with pytest.raises(ParameterError, match=rf"'{token}' at row 1, column 2 is not a finite number"):
            parse_matrix(f"1 {token}")
    with pytest.raises(ParameterError, match=r"Infinity at row 1, column 1 is not a finite number"):
        parse_matrix("[[1e999]]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2; 3", r"row 2 has 1 value but row 1 has 2; every row needs the same number of values"),
        ("1;;2", r"row 2 is empty; separate rows by ';' and values by spaces or commas"),
        ("1,,2", r"'\(nothing\)' at row 1, column 2 is not"),
        ("1 x", r"'x' at row 1, column 2 is not"),
        ("1 1_0", r"'1_0' at row 1, column 2 is not"),  # Python's float() reads 1_0; a matrix does not
        ("[[1, 2]", r"is not a valid JSON nested list \(.* at character 8\)"),
        ("[[1], [true]]", r"true at row 2, column 1 is not a number"),
        ("[[]]", r"is empty at row 1"),
        ("[]", r"must be a list of rows"),
    ],
)
def test_errors_name_the_place_with_each_callers_type(text: str, message: str) -> None:
    with pytest.raises(KernelError, match=message) as from_kernel:
        parse_rows(text)
    assert not isinstance(from_kernel.value, ParameterError)
    with pytest.raises(ParameterError, match=message) as from_explain:
        parse_matrix(text, what="--image")
    assert str(from_explain.value).startswith(f"--image {text!r}")


def test_custom_error_type_label_and_example() -> None:
    with pytest.raises(ParameterError, match=r"^--grad '1;;2': row 2 is empty; .*e\.g\. 'a b; c d'$"):
        parse_rows("1;;2", label="--grad '1;;2'", error=ParameterError, example="'a b; c d'")
    with pytest.raises(KernelError, match=r"^inline kernel '1; ;2': row 2 is empty; .*-1 -2 -1'$"):
        parse_rows("1; ;2")


def test_split_values_and_parse_number() -> None:
    assert split_values("  1, 2\t3   4 ") == ["1", "2", "3", "4"]
    assert split_values("1,,2") == ["1", "", "2"]
    assert split_values("   ") == []
    assert parse_number("2e-3") == 0.002 and parse_number("-0") == 0.0
    assert parse_number("") is None and parse_number("1_000") is None and parse_number("one") is None
    assert parse_number("inf") == float("inf")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1 2", True), ("-1 0 1", True), ("[[1]]", True), ("a; b", True), (".5", True),
     ("box:size=3", False), ("gaussian", False), ("photo.png", False), ("", False)],
)
def test_looks_like_matrix(text: str, expected: bool) -> None:
    assert looks_like_matrix(text) is expected
