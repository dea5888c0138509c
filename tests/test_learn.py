"""convcli.learn: the package holding explanations, 1-D sequences and exact multiplication."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from convcli import learn
from convcli.learn.explanation import explain_specs
from convcli.learn.sequences import convolve_sequences


def test_the_package_exports_its_four_names() -> None:
    assert set(learn.__all__) == {"explain", "Explanation", "convolve1d", "multiply"}
    assert isinstance(learn.explain([[1.0]], [[2.0]]), learn.Explanation)
    assert callable(explain_specs) and callable(convolve_sequences)


@given(a=st.lists(st.integers(-50, 50), min_size=1, max_size=12),
       b=st.lists(st.integers(-50, 50), min_size=1, max_size=12))
def test_convolve1d_is_numpys_full_convolution(a: list[int], b: list[int]) -> None:
    np.testing.assert_allclose(learn.convolve1d(a, b), np.convolve(a, b), atol=1e-9)


@given(a=st.integers(0, 10**60), b=st.integers(0, 10**60))
def test_multiply_is_pythons_integer_product(a: int, b: int) -> None:
    assert learn.multiply(str(a), str(b)) == str(a * b)


def test_explain_output_is_the_sum_of_products_of_each_window() -> None:
    x = np.arange(16, dtype=float).reshape(4, 4)
    w = np.array([[1.0, -1.0], [2.0, 0.5]])
    want = np.array([[(x[i:i + 2, j:j + 2] * w).sum() for j in range(3)] for i in range(3)])
    conv = learn.explain(x, w).conv
    assert conv is not None
    np.testing.assert_allclose(conv.output, want)
