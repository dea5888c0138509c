"""Named kernels, inline matrices and the Kernel type, against independent definitions.

Oracles: OpenCV (derivative kernels and filters), SciPy ndimage (gaussian,
Laplacian of Gaussian, correlation), and literal matrices from the issue.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import convcli
from convcli.errors import KernelError, KernelFileError, ParameterError
from convcli.kernels import Kernel, kernel, named_kernels
from convcli.shapes import MAX_KERNEL_SIDE


def impulse(size: int) -> np.ndarray:
    image = np.zeros((size, size))
    image[size // 2, size // 2] = 1.0
    return image


def random_image(seed: int = 0, shape: tuple[int, int] = (23, 31)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


# --- derivative kernels -------------------------------------------------------


@pytest.mark.parametrize("size", [3, 5, 7])
def test_sobel_matches_opencv_deriv_kernels(size: int) -> None:
    kx, ky = cv2.getDerivKernels(1, 0, size)
    expected_x = np.outer(ky.ravel(), kx.ravel())
    np.testing.assert_array_equal(kernel(f"sobel:size={size}").matrix, expected_x)
    kx, ky = cv2.getDerivKernels(0, 1, size)
    expected_y = np.outer(ky.ravel(), kx.ravel())
    np.testing.assert_array_equal(kernel(f"sobel:axis=y,size={size}").matrix, expected_y)


@pytest.mark.parametrize("size", [3, 5, 7])
@pytest.mark.parametrize(("axis", "dx", "dy"), [("x", 1, 0), ("y", 0, 1)])
def test_sobel_correlation_equals_cv2_sobel(size: int, axis: str, dx: int, dy: int) -> None:
    image = random_image(size)
    expected = cv2.Sobel(image, cv2.CV_64F, dx, dy, ksize=size, borderType=cv2.BORDER_REFLECT_101)
    got = ndi.correlate(image, kernel(f"sobel:axis={axis},size={size}").matrix, mode="mirror")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("axis", "dx", "dy"), [("x", 1, 0), ("y", 0, 1)])
def test_scharr_matches_opencv(axis: str, dx: int, dy: int) -> None:
    kx, ky = cv2.getDerivKernels(dx, dy, cv2.FILTER_SCHARR)
    np.testing.assert_array_equal(kernel(f"scharr:axis={axis}").matrix, np.outer(ky.ravel(), kx.ravel()))
    image = random_image(7)
    expected = cv2.Scharr(image, cv2.CV_64F, dx, dy, borderType=cv2.BORDER_REFLECT_101)
    got = ndi.correlate(image, kernel(f"scharr:axis={axis}").matrix, mode="mirror")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_prewitt_literal() -> None:
    x = [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]
    np.testing.assert_array_equal(kernel("prewitt").matrix, x)
    np.testing.assert_array_equal(kernel("prewitt:axis=y").matrix, np.transpose(x))


@pytest.mark.parametrize("name", ["sobel", "scharr", "prewitt"])
def test_derivative_sign_on_ramps(name: str) -> None:
    """x responds positively where intensity rises to the right, y where it rises downward."""
    rows, cols = np.mgrid[0:9, 0:9].astype(float)
    center = (4, 4)
    rising_right = ndi.correlate(cols, kernel(f"{name}:axis=x").matrix)
    rising_down = ndi.correlate(rows, kernel(f"{name}:axis=y").matrix)
    assert rising_right[center] > 0
    assert rising_down[center] > 0
    assert ndi.correlate(cols, kernel(f"{name}:axis=y").matrix)[center] == 0
    assert ndi.correlate(rows, kernel(f"{name}:axis=x").matrix)[center] == 0


@pytest.mark.parametrize("name", ["sobel", "scharr", "prewitt"])
def test_axis_both_is_a_hypot_operator(name: str) -> None:
    op = kernel(f"{name}:axis=both")
    assert op.is_operator
    assert op.combine == "hypot"
    assert len(op.components) == 2
    np.testing.assert_array_equal(op.components[0].matrix, kernel(f"{name}:axis=x").matrix)
    np.testing.assert_array_equal(op.components[1].matrix, kernel(f"{name}:axis=y").matrix)
    assert op.shape == (3, 3)
    assert op.effective_anchor == (1, 1)
    image = random_image(3)
    gx, gy = (ndi.correlate(image, c.matrix) for c in op.components)
    magnitude = op.combine_responses([gx, gy])
    np.testing.assert_allclose(magnitude, np.sqrt(gx**2 + gy**2), rtol=1e-12)


def test_axis_both_keeps_sobel_size() -> None:
    op = kernel("sobel:axis=both,size=5")
    assert [c.spec for c in op.components] == ["sobel:axis=x,size=5", "sobel:axis=y,size=5"]
    assert op.shape == (5, 5)


def test_operator_refuses_single_matrix_use() -> None:
    op = kernel("sobel:axis=both")
    with pytest.raises(KernelError, match=r"'sobel:axis=both' is an operator \(hypot of 'sobel:axis=x"):
        _ = op.matrix
    with pytest.raises(KernelError, match="is an operator"):
        _ = op.sum
    with pytest.raises(KernelError, match="is an operator"):
        op.rank()
    with pytest.raises(KernelError, match="not a sum to normalize by"):
        kernel("sobel:axis=both", normalize=True)
    with pytest.raises(ValueError, match="expected 2 responses, got 1"):
        op.combine_responses([np.zeros(3)])
    with pytest.raises(ValueError, match="is a linear kernel, not an operator"):
        kernel("box").combine_responses([np.zeros(3)])


def test_operator_construction_checks() -> None:
    gx = Kernel([[-1, 0, 1]])
    with pytest.raises(KernelError, match=r"needs components of one shape, got \(1, 3\) and \(3, 1\)"):
        Kernel.operator([gx, Kernel([[-1], [0], [1]])])
    with pytest.raises(KernelError, match="one anchor and no offset"):
        Kernel.operator([gx, Kernel([[1, 0, -1]], offset=1.0)])
    with pytest.raises(ValueError, match="at least two linear Kernel components"):
        Kernel.operator([gx])
    with pytest.raises(ValueError, match="combine must be 'hypot'"):
        Kernel.operator([gx, gx], combine="max")  # type: ignore[arg-type]
    assert "combine='hypot'" in repr(Kernel.operator([gx, gx], spec="g"))


# --- laplacian, emboss, identity, box -----------------------------------------


def test_laplacian_literal_matrices() -> None:
    np.testing.assert_array_equal(kernel("laplacian").matrix, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(kernel("laplacian:neighbors=4").matrix, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(kernel("laplacian:neighbors=8").matrix, [[1, 1, 1], [1, -8, 1], [1, 1, 1]])


def test_laplacian_matches_cv2_laplacian() -> None:
    image = random_image(11)
    expected = cv2.Laplacian(image, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    got = ndi.correlate(image, kernel("laplacian").matrix, mode="mirror")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_emboss_literal_and_default() -> None:
    se = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    np.testing.assert_array_equal(kernel("emboss").matrix, se)
    np.testing.assert_array_equal(kernel("emboss:direction=se").matrix, se)
    np.testing.assert_array_equal(kernel("emboss:direction=e").matrix, [[-1, 0, 1], [-1, 1, 1], [-1, 0, 1]])
    np.testing.assert_array_equal(kernel("emboss:direction=N").matrix, [[1, 1, 1], [0, 1, 0], [-1, -1, -1]])


@pytest.mark.parametrize(
    ("direction", "turned"),
    [("e", "n"), ("ne", "nw"), ("n", "w"), ("nw", "sw"), ("w", "s"), ("sw", "se"), ("s", "e"), ("se", "ne")],
)
def test_emboss_directions_rotate(direction: str, turned: str) -> None:
    """Turning the kernel 90° counter-clockwise turns its direction 90° counter-clockwise."""
    np.testing.assert_array_equal(
        np.rot90(kernel(f"emboss:direction={direction}").matrix), kernel(f"emboss:direction={turned}").matrix
    )
    assert kernel(f"emboss:direction={direction}").sum == 1.0


def test_identity_and_box_literals() -> None:
    np.testing.assert_array_equal(kernel("identity").matrix, [[1.0]])
    np.testing.assert_array_equal(kernel("identity:size=3").matrix, [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    # even sizes: the 1 sits at the default anchor ((H-1)//2, (W-1)//2)
    np.testing.assert_array_equal(kernel("identity:size=2x4").matrix, [[0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(kernel("box").matrix, np.full((3, 3), 1 / 9))
    np.testing.assert_array_equal(kernel("box:size=5").matrix, np.full((5, 5), 1 / 25))
    np.testing.assert_array_equal(kernel("box:size=2x3").matrix, np.full((2, 3), 1 / 6))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40))
def test_box_sums_to_one_and_is_the_mean(h: int, w: int) -> None:
    k = kernel(f"box:size={h}x{w}")
    assert k.shape == (h, w)
    assert k.sum == pytest.approx(1.0, abs=1e-12)
    assert k.separable
    image = random_image(h * 100 + w, (h, w))
    assert float((image * k.matrix).sum()) == pytest.approx(float(image.mean()), rel=1e-12)


# --- gaussian family ------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.3, 0.5, 1.0, 1.7, 2.0, 3.25, 6.0])
def test_gaussian_matches_scipy_gaussian_filter(sigma: float) -> None:
    k = kernel(f"gaussian:sigma={sigma}")
    radius = int(4 * sigma + 0.5)  # SciPy's default truncate=4.0
    assert k.shape == (2 * radius + 1, 2 * radius + 1)
    expected = ndi.gaussian_filter(impulse(2 * radius + 1), sigma, mode="constant")
    np.testing.assert_allclose(k.matrix, expected, rtol=1e-12, atol=1e-15)


def test_gaussian_radius_and_anisotropic_sigma_match_scipy() -> None:
    k = kernel("gaussian:sigma=2,radius=3")
    assert k.shape == (7, 7)
    np.testing.assert_allclose(k.matrix, ndi.gaussian_filter(impulse(7), 2, mode="constant", radius=3),
                               rtol=1e-12, atol=1e-15)
    k = kernel("gaussian:sigma=2,sigma_y=0.75")
    assert k.shape == (7, 17)
    image = np.zeros((7, 17))
    image[3, 8] = 1.0
    expected = ndi.gaussian_filter(image, (0.75, 2.0), mode="constant")
    np.testing.assert_allclose(k.matrix, expected, rtol=1e-12, atol=1e-15)


def test_gaussian_defaults() -> None:
    np.testing.assert_array_equal(kernel("gaussian").matrix, kernel("gaussian:sigma=1,radius=4").matrix)
    assert kernel("gaussian:sigma=0.1").matrix.tolist() == [[1.0]]


@settings(max_examples=60, deadline=None)
@given(sigma=st.floats(min_value=0.05, max_value=30.0))
def test_gaussian_properties(sigma: float) -> None:
    m = kernel(f"gaussian:sigma={sigma!r}").matrix
    radius = int(4 * sigma + 0.5)
    assert m.shape == (2 * radius + 1, 2 * radius + 1)
    assert math.fsum(m.ravel()) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(m, m[::-1, :])
    np.testing.assert_array_equal(m, m[:, ::-1])
    np.testing.assert_array_equal(m, m.T)
    assert m[radius, radius] == m.max()
    assert kernel(f"gaussian:sigma={sigma!r}").separable


@pytest.mark.parametrize("sigma", [0.6, 1.0, 1.4, 2.5])
def test_log_matches_scipy_gaussian_laplace_made_zero_sum(sigma: float) -> None:
    radius = int(4 * sigma + 0.5)
    reference = ndi.gaussian_laplace(impulse(2 * radius + 1), sigma, mode="constant")
    expected = reference - reference.mean()  # the zero-sum correction of MATLAB's fspecial('log')
    np.testing.assert_allclose(kernel(f"log:sigma={sigma}").matrix, expected, rtol=1e-9, atol=1e-14)


def test_log_explicit_formula_and_properties() -> None:
    sigma, radius = 1.3, 4
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(float)
    g = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    g /= g.sum()
    h = (x**2 + y**2 - 2 * sigma**2) / sigma**4 * g
    expected = h - h.sum() / h.size
    k = kernel(f"log:sigma={sigma},radius={radius}")
    np.testing.assert_allclose(k.matrix, expected, rtol=1e-12, atol=1e-15)
    assert abs(k.sum) < 1e-15
    assert k.matrix[radius, radius] == k.matrix.min() < 0  # negative centre, like the laplacian


def test_dog_matches_scipy_difference() -> None:
    k = kernel("dog:sigma1=1,sigma2=2")
    radius = int(4 * 2 + 0.5)
    image = impulse(2 * radius + 1)
    expected = (ndi.gaussian_filter(image, 1.0, mode="constant", radius=radius)
                - ndi.gaussian_filter(image, 2.0, mode="constant", radius=radius))
    np.testing.assert_allclose(k.matrix, expected, rtol=1e-12, atol=1e-15)
    assert abs(k.sum) < 1e-15
    assert k.matrix[radius, radius] > 0


def test_dog_defaults_and_radius() -> None:
    np.testing.assert_array_equal(kernel("dog").matrix, kernel("dog:sigma1=1,sigma2=1.6").matrix)
    assert kernel("dog").shape == (2 * int(4 * 1.6 + 0.5) + 1,) * 2
    assert kernel("dog:sigma1=2,sigma2=1,radius=3").shape == (7, 7)
    assert kernel("dog:sigma1=2,sigma2=1").matrix[8, 8] < 0  # sigma1 > sigma2 flips the sign


def test_sharpen_literals() -> None:
    np.testing.assert_allclose(kernel("sharpen").matrix,
                               np.array([[-1, -1, -1], [-1, 17, -1], [-1, -1, -1]]) / 9, rtol=1e-15)
    np.testing.assert_allclose(kernel("sharpen:amount=9").matrix, [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]],
                               rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(kernel("sharpen:amount=0").matrix, kernel("identity:size=3").matrix)


def test_unsharp_is_identity_plus_amount_times_detail() -> None:
    radius = int(4 * 1.5 + 0.5)
    blur = ndi.gaussian_filter(impulse(2 * radius + 1), 1.5, mode="constant")
    ident = impulse(2 * radius + 1)
    expected = ident + 0.7 * (ident - blur)
    got = kernel("unsharp:amount=0.7,sigma=1.5").matrix
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert kernel("unsharp").sum == pytest.approx(1.0, abs=1e-14)
    assert kernel("unsharp:radius=2").shape == (5, 5)


# --- motion -------------------------------------------------------------------


def test_motion_axis_aligned_literals() -> None:
    np.testing.assert_array_equal(kernel("motion:length=5").matrix, np.full((1, 5), 0.2))
    np.testing.assert_array_equal(kernel("motion:length=5,angle=180").matrix, np.full((1, 5), 0.2))
    np.testing.assert_array_equal(kernel("motion:length=5,angle=90").matrix, np.full((5, 1), 0.2))
    np.testing.assert_array_equal(kernel("motion:length=1,angle=33").matrix, [[1.0]])
    assert kernel("motion").shape == (1, 9)


def slow_motion(length: int, angle: float) -> np.ndarray:
    """Each cell weighted by 1 - its distance to a densely sampled segment, normalised."""
    half = (length - 1) / 2
    t = np.linspace(-half, half, 20001)
    px, py = t * math.cos(math.radians(angle)), -t * math.sin(math.radians(angle))
    out = np.zeros((length, length))
    for r in range(length):
        for c in range(length):
            d = np.hypot(c - half - px, r - half - py).min()
            out[r, c] = max(0.0, 1.0 - d)
    out[out < 1e-6] = 0
    return out / out.sum()


@pytest.mark.parametrize(("length", "angle"), [(5, 45), (7, 30), (9, 120), (6, 10)])
def test_motion_matches_slow_reference(length: int, angle: float) -> None:
    reference = slow_motion(length, angle)
    rows = np.flatnonzero(reference.any(axis=1))
    cols = np.flatnonzero(reference.any(axis=0))
    tr, tc = min(rows[0], length - 1 - rows[-1]), min(cols[0], length - 1 - cols[-1])
    reference = reference[tr:length - tr, tc:length - tc]
    k = kernel(f"motion:length={length},angle={angle}")
    assert k.shape == reference.shape
    np.testing.assert_allclose(k.matrix, reference, atol=2e-4)


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 31).map(lambda n: 2 * n - 1), angle=st.floats(-720, 720))
def test_motion_properties(length: int, angle: float) -> None:
    m = kernel(f"motion:length={length},angle={angle!r}").matrix
    assert math.fsum(m.ravel()) == pytest.approx(1.0, abs=1e-12)
    assert (m >= 0).all()
    np.testing.assert_allclose(m, m[::-1, ::-1], atol=1e-15)  # a line through the centre
    assert max(m.shape) <= length


def test_motion_angle_turns_the_line() -> None:
    np.testing.assert_array_equal(np.rot90(kernel("motion:length=7,angle=45").matrix),
                                  kernel("motion:length=7,angle=135").matrix)
    m = kernel("motion:length=5,angle=45").matrix
    assert m[0, -1] > 0 and m[-1, 0] > 0 and m[0, 0] == 0  # up and to the right


# --- every named kernel ---------------------------------------------------------


def test_named_kernel_table() -> None:
    names = [k.name for k in named_kernels()]
    assert names == ["identity", "box", "gaussian", "sobel", "scharr", "prewitt", "laplacian", "log", "dog",
                     "sharpen", "unsharp", "emboss", "motion"]
    assert named_kernels()[2].signature() == "gaussian:sigma=1,sigma_y=sigma,radius=int(4*sigma+0.5)"


@pytest.mark.parametrize("entry", named_kernels(), ids=lambda e: e.name)
def test_every_named_kernel_builds_and_takes_its_listed_parameters(entry: object) -> None:
    from convcli.kernels import NamedKernel

    assert isinstance(entry, NamedKernel)
    k = kernel(entry.name)
    assert k.spec == entry.name
    assert max(k.shape) <= MAX_KERNEL_SIDE
    for param in entry.params:
        value = {"axis": "y", "direction": "n", "neighbors": "8", "size": "3", "radius": "2",
                 "length": "3", "angle": "90"}.get(param.name, "1.5")
        kernel(f"{entry.name}:{param.name}={value}")


def test_names_and_values_are_case_insensitive() -> None:
    np.testing.assert_array_equal(kernel("Sobel:Axis=Y").matrix, kernel("sobel:axis=y").matrix)


# --- inline matrices and arrays -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1 2 1; 0 0 0; -1 -2 -1",
        "1,2,1;0,0,0;-1,-2,-1",
        " 1, 2 ,1 ;0 0 0; -1 -2 -1; ",
        "1\t2\t1;0 0 0;-1 -2 -1",
        "[[1, 2, 1], [0, 0, 0], [-1, -2, -1]]",
        "1e0 2.0 1; 0 -0 0; -1 -2 -1",
    ],
)
def test_inline_matrix_forms(text: str) -> None:
    np.testing.assert_array_equal(kernel(text).matrix, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])


def test_inline_single_row_and_value() -> None:
    assert kernel("1 2 1").shape == (1, 3)
    assert kernel("[1, 2, 1]").shape == (1, 3)
    assert kernel("5").matrix.tolist() == [[5.0]]
    assert kernel("-1 0 1").matrix.tolist() == [[-1.0, 0.0, 1.0]]


def test_arrays_and_kernels_are_accepted() -> None:
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    k = kernel(m)
    np.testing.assert_array_equal(k.matrix, m)
    assert k.matrix is not m and not k.matrix.flags.writeable
    m[0, 0] = 99.0
    assert k.matrix[0, 0] == 1.0  # a copy
    assert kernel(np.array([1, 2, 1])).shape == (1, 3)
    assert kernel([1, 2, 1]).shape == (1, 3)
    assert kernel([[1, 2], [3, 4]]).matrix.dtype == np.float64
    assert kernel(k) is k
    assert kernel(np.ones((2, 2), dtype=np.uint8)).sum == 4.0


def test_matrix_is_read_only() -> None:
    k = kernel("box")
    with pytest.raises(ValueError, match="read-only"):
        k.matrix[0, 0] = 1.0


def test_negative_zero_is_cleaned() -> None:
    m = kernel("emboss:direction=n").matrix
    assert not np.signbit(m[m == 0]).any()
    assert not np.signbit(kernel("-0 1").matrix).any()


# --- Kernel helpers -------------------------------------------------------------


def test_sum_rank_separable_factors() -> None:
    assert kernel("box:size=3").sum == 1.0
    assert kernel("sobel").rank() == 1 and kernel("sobel").separable
    assert kernel("laplacian").rank() == 2 and not kernel("laplacian").separable
    assert kernel("0 0; 0 0").rank() == 0 and kernel("0 0; 0 0").separable
    assert kernel("1 2; 2 4").rank() == 1
    col, row = kernel("sobel:size=5").factors()
    np.testing.assert_allclose(np.outer(col, row), kernel("sobel:size=5").matrix, atol=1e-12)
    assert col[np.argmax(np.abs(col))] > 0
    col, row = kernel("0 0 0").factors()
    assert col.tolist() == [0.0] and row.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(KernelError, match="kernel 'laplacian' has rank 2, so it is not a column times a row"):
        kernel("laplacian").factors()


def test_rank_tolerance_is_relative() -> None:
    nearly = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) * 1e6
    nearly[0, 0] += 1e-6  # 1e-12 relative
    assert kernel(nearly).rank() == 1
    assert kernel(nearly).rank(rtol=1e-14) == 2
    assert kernel(np.outer([1, 2, 1], [1, 2, 1]) * 1e-300).rank() == 1


def test_anchor_offset_and_effective_anchor() -> None:
    k = Kernel([[1, 2], [3, 4]], anchor=(0, 1), offset=2.5, spec="k")
    assert k.anchor == (0, 1) and k.effective_anchor == (0, 1) and k.offset == 2.5
    assert kernel("box:size=4x6").anchor is None
    assert kernel("box:size=4x6").effective_anchor == (1, 2)
    assert repr(k) == "Kernel('k', shape=(2, 2), anchor=(0, 1), offset=2.5)"


def test_normalize() -> None:
    k = kernel("1 2 1; 2 4 2; 1 2 1", normalize=True)
    np.testing.assert_allclose(k.matrix, np.outer([1, 2, 1], [1, 2, 1]) / 16, rtol=1e-15)
    assert kernel("1 2 1; 2 4 2; 1 2 1").sum == 16.0  # the keyword changes the result
    kept = Kernel([[2.0, 2.0]], anchor=(0, 1), offset=3.0).normalized()
    assert kept.anchor == (0, 1) and kept.offset == 3.0 and kept.matrix.tolist() == [[0.5, 0.5]]
    assert kernel("-1 -1", normalize=True).matrix.tolist() == [[0.5, 0.5]]


@pytest.mark.parametrize("spec", ["laplacian", "sobel:axis=y", "log", "dog", "1 -1", "0"])
def test_normalize_refuses_zero_sum(spec: str) -> None:
    with pytest.raises(KernelError, match=r"sums to 0, so --normalize cannot divide; drop --normalize"):
        kernel(spec, normalize=True)


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("gausian:sigma=2", KernelError,
         r"unknown kernel 'gausian' in 'gausian:sigma=2'; did you mean 'gaussian'\?"),
        ("blurry", KernelError,
         r"unknown kernel 'blurry'.*named kernels: identity, box, gaussian.*inline matrix"),
        ("box:sise=3", ParameterError,
         r"kernel 'box' has no parameter 'sise'.*did you mean 'size'\? valid: size"),
        ("sobel:sigma=1", ParameterError, r"kernel 'sobel' has no parameter 'sigma'.*valid: axis, size"),
        ("gaussian:sigma=0", ParameterError, r"sigma must be a number > 0 in 'gaussian:sigma=0', got '0'"),
        ("gaussian:sigma=-2", ParameterError, r"sigma must be a number > 0 in 'gaussian:sigma=-2', got '-2'"),
        ("gaussian:sigma=abc", ParameterError, r"sigma must be a number > 0 in '\S+', got 'abc'"),
        ("gaussian:sigma=nan", ParameterError, r"sigma must be a number > 0"),
        ("gaussian:sigma_y=0", ParameterError, r"sigma_y must be a number > 0"),
        ("gaussian:radius=-1", ParameterError, r"radius must be an integer >= 0 and <= 512"),
        ("gaussian:radius=600", ParameterError, r"radius must be an integer >= 0 and <= 512"),
        ("gaussian:sigma=200", ParameterError,
         r"sigma=200 needs radius int\(4\*sigma\+0\.5\) = 800, beyond the limit of 512 \(1025 per side\)"),
        ("gaussian:sigma=1e308", ParameterError, r"needs radius int\(4\*sigma\+0\.5\), beyond the limit"),
        ("log:sigma=0", ParameterError, r"sigma must be a number > 0 in 'log:sigma=0'"),
        ("dog:sigma1=2,sigma2=2", ParameterError, r"sigma1 and sigma2 must differ in 'dog:sigma1=2,"),
        ("dog:sigma1=200", ParameterError, r"sigma2=320 needs radius int\(4\*sigma2\+0\.5\) = 1280"),
        ("unsharp:sigma=0", ParameterError, r"sigma must be a number > 0"),
        ("box:size=0", ParameterError, r"size must be N or HxW with integers >= 1 and <= 1025 in 'box:"),
        ("box:size=1026", ParameterError, r"<= 1025 in 'box:size=1026', got '1026'"),
        ("box:size=3x", ParameterError, r"size must be N or HxW"),
        ("identity:size=-1", ParameterError, r"size must be N or HxW with integers >= 1"),
        ("sobel:axis=z", ParameterError, r"axis must be one of x, y, both in 'sobel:axis=z', got 'z'"),
        ("sobel:size=4", ParameterError, r"size must be one of 3, 5, 7 in 'sobel:size=4', got '4'"),
        ("laplacian:neighbors=6", ParameterError, r"neighbors must be one of 4, 8"),
        ("emboss:direction=up", ParameterError, r"direction must be one of n, ne, e, se, s, sw, w, nw"),
        ("emboss:direction=sx", ParameterError, r"got 'sx'; did you mean 's[ex]?'\?"),
        ("sharpen:amount=-1", ParameterError, r"amount must be a number >= 0 in 'sharpen:amount=-1'"),
        ("motion:length=0", ParameterError, r"length must be an integer >= 1 and <= 1025"),
        ("motion:length=2000", ParameterError, r"length must be an integer >= 1 and <= 1025"),
        ("motion:angle=east", ParameterError, r"angle must be a number in 'motion:angle=east'"),
        ("box:size", ParameterError, r"'size' is not key=value"),
        ("", KernelError, r"the kernel spec is empty; give a name like 'gaussian:sigma=2'"),
        ("   ", KernelError, r"the kernel spec is empty"),
    ],
)
def test_spec_errors(spec: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        kernel(spec)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("1 2 1; 0 0", r"inline kernel '1 2 1; 0 0': row 2 has 2 values but row 1 has 3; every row needs"),
        ("1 2; 3", r"row 2 has 1 value but row 1 has 2"),
        ("1 nan; 1 1", r"kernel '1 nan; 1 1' has nan at row 1, column 2; every value must be a finite"),
        ("1 1; 1 -inf", r"has -inf at row 2, column 2"),
        ("inf", r"has inf at row 1, column 1"),
        ("1 x 3", r"inline kernel '1 x 3': 'x' at row 1, column 2 is not a number; write values like 1"),
        ("1,,3", r"'\(nothing\)' at row 1, column 2 is not a number"),
        ("1 2;;3 4", r"row 2 is empty; separate rows by ';'"),
        (";", r"row 1 is empty"),
        ("[[1, 2], [3]]", r"row 2 has 1 value but row 1 has 2"),
        ("[[1, 2], [3, \"a\"]]", r"\"a\" at row 2, column 2 is not a number"),
        ("[[1, 2], [3, true]]", r"true at row 2, column 2 is not a number"),
        ("[[1, 2]", r"is not a valid JSON nested list"),
        ("[[]]", r"is empty"),
        ("[]", r"must be a list of rows"),
        ("[[NaN, 1]]", r"has nan at row 1, column 1"),
    ],
)
def test_inline_errors(spec: str, match: str) -> None:
    with pytest.raises(KernelError, match=match):
        kernel(spec)


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (np.zeros((0, 3)), r"kernel '<array>' is empty \(shape \(0, 3\)\)"),
        (np.zeros((2, 2, 2)), r"must be a 2-D matrix, got shape \(2, 2, 2\)"),
        (np.zeros((3, 3), dtype=complex), r"must hold real numbers, got dtype complex128"),
        (np.array([["a"]]), r"must hold real numbers"),
        (np.ones((1, MAX_KERNEL_SIDE + 1)), r"is 1x1026; the limit is 1025 per side"),
        ([[1, 2], [3]], r"row 2 has 1 value but row 1 has 2"),
        (np.array([[1.0, np.inf]]), r"has inf at row 1, column 2"),
    ],
)
def test_array_errors(matrix: object, match: str) -> None:
    with pytest.raises(KernelError, match=match):
        kernel(matrix)  # type: ignore[arg-type]


def test_kernel_constructor_checks_anchor_and_offset() -> None:
    message = r"kernel 'k' has anchor \(2, 0\); the anchor is \[row, col\] with 0 <= row < 2"
    with pytest.raises(KernelError, match=message):
        Kernel([[1, 2], [3, 4]], anchor=(2, 0), spec="k")
    with pytest.raises(KernelError, match=r"anchor \(0, True\)"):
        Kernel([[1, 2], [3, 4]], anchor=(0, True))  # type: ignore[arg-type]
    with pytest.raises(KernelError, match=r"has offset nan; the offset must be a finite number"):
        Kernel([[1]], offset=math.nan)


def test_size_limit_is_checked_before_allocating() -> None:
    assert kernel(f"box:size={MAX_KERNEL_SIDE}x1").shape == (MAX_KERNEL_SIDE, 1)
    assert kernel("gaussian:sigma=127.8").shape == (1023, 1023)
    assert kernel("gaussian:sigma=128").shape == (1025, 1025)  # int(4*128 + 0.5) = 512
    with pytest.raises(ParameterError, match=r"= 513, beyond the limit of 512"):
        kernel("gaussian:sigma=128.2")


# --- dispatch to files ------------------------------------------------------------


def test_paths_and_at_files_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "k.txt").write_text("1 2\n3 4\n")
    (tmp_path / "plain").write_text("5 6\n")
    monkeypatch.chdir(tmp_path)
    assert kernel("k.txt").matrix.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert kernel("./k.txt").spec == "./k.txt"
    assert kernel(tmp_path / "k.txt").shape == (2, 2)
    assert kernel("@plain").matrix.tolist() == [[5.0, 6.0]]
    assert kernel("@plain").spec == "@plain"
    with pytest.raises(KernelError, match=r"unknown kernel 'plain'.*to read the file 'plain' write '@plain'"):
        kernel("plain")
    with pytest.raises(KernelFileError, match=r"^missing\.csv: no such file; check the path$"):
        kernel("missing.csv")
    with pytest.raises(KernelFileError, match=r"^sub/missing: no such file"):
        kernel("sub/missing")
    with pytest.raises(KernelError, match=r"^'@' needs a file after it, e\.g\. '@kernels/emboss\.txt'$"):
        kernel("@ ")
    # a named kernel with a slash in a value is not a path
    with pytest.raises(ParameterError, match=r"number > 0 in 'gaussian:sigma=2/3', got '2/3'"):
        kernel("gaussian:sigma=2/3")


def test_lazy_public_names() -> None:
    assert convcli.kernel is kernel
    assert convcli.Kernel is Kernel
