"""The method registry, the per-axis cost model, and the engine's single owners (kernel limit, dtype, borders)."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest
import scipy.ndimage as ndi

import convcli
from convcli import shapes
from convcli.engine import (
    BORDERS,
    METHODS,
    Method,
    MethodName,
    _cost,
    _direct,
    _plan,
    _separable,
    choose_method,
    correlate,
    correlate_strips,
    pad_image,
    resolve_border,
    work_dtype,
)
from convcli.engine import _cost_constants as K
from convcli.engine._registry import REGISTRY
from convcli.errors import KernelError, ParameterError

# --- the registry --------------------------------------------------------------------------------


def test_methods_is_auto_plus_one_frozen_entry_per_method():
    assert METHODS == ("auto", *REGISTRY) == ("auto", "direct", "separable", "fft")
    assert typing.get_args(MethodName) == METHODS
    for name, entry in REGISTRY.items():
        assert isinstance(entry, Method) and entry.name == name
        assert all(callable(f) for f in (entry.run, entry.granularity, entry.cost, entry.reason, entry.refuses))
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGISTRY["fft"].name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("name", "hint"), [("winograd", ""), ("separble", r" \(did you mean 'separable'\?\)")])
def test_unknown_method_lists_the_valid_names(name, hint):
    listed = "use one of auto, direct, separable, fft$"
    with pytest.raises(ParameterError, match=rf"unknown method '{name}'{hint}; {listed}"):
        correlate(np.ones((4, 4)), np.ones((3, 3)), method=name)  # type: ignore[arg-type]


def test_one_registry_entry_is_all_a_new_method_needs(monkeypatch, rng):
    ran = []

    def run(plan, *, rows=None):
        ran.append(rows)
        return _direct.run(plan, rows=rows)

    entry = Method("shifty", run, _direct.granularity, cost=lambda problem: 0.0, reason=lambda problem: "it is free")
    monkeypatch.setitem(REGISTRY, "shifty", entry)
    image, kernel = rng.normal(size=(300, 240)), rng.normal(size=(3, 3))
    choice = choose_method(image.shape, kernel)
    assert (choice.method, choice.reason) == ("shifty", "it is free") and choice.costs["shifty"] == 0.0
    want = correlate(image, kernel, method="direct")
    np.testing.assert_array_equal(correlate(image, kernel), want)  # auto runs it...
    np.testing.assert_array_equal(correlate(image, kernel, method="shifty"), want)  # ...and so does its name
    strips = list(correlate_strips(image, kernel, method="shifty", strip_elements=60))
    np.testing.assert_array_equal(np.vstack([s for _, s in strips]), want)
    assert ran[:2] == [None, None] and len(ran) == 2 + len(strips) > 3


def test_auto_passes_over_a_method_that_refuses_the_data(monkeypatch, rng):
    entry = Method("never", _direct.run, _direct.granularity, cost=lambda problem: 0.0,
                   reason=lambda problem: "cheap", refuses=lambda plan: "it does not like this data")
    monkeypatch.setitem(REGISTRY, "never", entry)
    called = []
    spy = dataclasses.replace(REGISTRY["direct"], cost=lambda problem: 1e-9,
                              run=lambda plan, **kw: called.append(1) or _direct.run(plan, **kw))
    monkeypatch.setitem(REGISTRY, "direct", spy)
    image = rng.normal(size=(20, 20))
    assert choose_method(image.shape, np.ones((3, 3))).method == "never"
    correlate(image, np.ones((3, 3)))
    assert called == [1]


# --- the cost model uses each axis' own numbers ------------------------------------------------------


@pytest.fixture
def fixed_constants(monkeypatch):
    """Round constants on a 2-core machine, so the hand computation below is exact and its choices are known."""
    for name, value in {"PASS": 3e-10, "GATHER": 1e-9, "GEMM_FLOP": 1.7e-11, "OVERHEAD": 2e-5,
                        "TERM_OVERHEAD": 6e-5, "PARALLEL_EFFICIENCY": 0.85}.items():
        monkeypatch.setattr(K, name, value)
    monkeypatch.setattr(_cost, "machine_threads", lambda: 2)


def _factors(rng, n: int) -> np.ndarray:
    """Distinct weights in (0.1, 0.9) and one 1.0: the kernel's largest entry is 1 and its factors are these."""
    taps = rng.uniform(0.1, 0.9, size=n)
    taps[n // 3] = 1.0
    return taps


def test_cost_of_unequal_kernel_sides_and_dilations_matches_a_hand_computation(fixed_constants, rng):
    col, row = _factors(rng, 31), _factors(rng, 5)
    kernel = np.outer(col, row)  # 31 x 5, rank 1
    choice = choose_method((600, 500), kernel, dilation=(1, 3))
    # by hand: output 600x500 (pad same); the padded rows/cols read: 600-1+31 = 630, 500-1+(3*4+1) = 512
    gathered = 630 * 512
    par = 1.0  # 600 * 500 output samples are below SERIAL_BELOW (2**19): the call runs on one thread
    assert 600 * 500 < 1 << 19
    # direct: one pass per tap plus one multiply per distinct weight other than 1: 155 + 154
    direct = 2e-5 + (gathered * 1e-9 + 600 * 500 * (155 + 154) * 3e-10) / par
    # vertical pass: 31 taps at row stride 1, row dilation 1, blocks of 32 rows:
    #   shift 31 + 30 passes, BLAS 2 * (31 * 1 + 1 * 30 + 1) = 124 flops per output -> BLAS
    vertical = min(61 * 3e-10, 124 * 1.7e-11)
    # horizontal pass: 5 taps at column stride 1, column dilation 3, blocks of 64 columns:
    #   shift 5 + 4 passes = 2.7e-9; BLAS 2 * (63 * 1 + 3 * 4 + 1) = 152 flops = 2.584e-9 -> BLAS
    #   (the row dilation would make it 2 * (63 + 7 * 4 + 1) = 184 flops = 3.128e-9 and pick the shift)
    horizontal = min(9 * 3e-10, 152 * 1.7e-11)
    assert horizontal == 152 * 1.7e-11
    work = 600 * 512 * vertical + 600 * 500 * (horizontal + 3e-10)
    separable = 2e-5 + (gathered * 1e-9 + work) / par + 6e-5
    assert choice.costs["direct"] == pytest.approx(direct, rel=1e-12)
    assert choice.costs["separable"] == pytest.approx(separable, rel=1e-12)
    assert choice.method == "separable" and "31x5 kernel has rank 1" in choice.reason


def test_direct_cost_counts_both_cores_only_above_the_serial_size(fixed_constants):
    kernel = np.array([[1.0, 2.0, 1.0]])  # 3 taps, one weight other than 1: 4 passes
    for h, w in ((600, 500), (1000, 800)):
        parallel = h * w >= 1 << 19
        gathered = h * (w + 2)
        want = 2e-5 + (gathered * 1e-9 + h * w * 4 * 3e-10) / (0.85 * 2 if parallel else 1.0)
        assert choose_method((h, w), kernel).costs["direct"] == pytest.approx(want, rel=1e-12), (h, w)


def test_each_separable_pass_runs_with_its_own_axis(fixed_constants, monkeypatch, rng):
    col, row = _factors(rng, 31), _factors(rng, 5)
    kernel = np.outer(col, row)
    calls = {"vertical": 0, "horizontal": 0}
    for name, key in (("_vertical_gemm", "vertical"), ("_horizontal_gemm", "horizontal")):
        original = getattr(_separable, name)

        def spy(*args, key=key, original=original):
            calls[key] += 1
            return original(*args)

        monkeypatch.setattr(_separable, name, spy)
    image = rng.random((90, 200), dtype=np.float32)
    got = correlate(image, kernel, method="separable", dilation=(1, 3), border="edge")
    assert calls["vertical"] > 0 and calls["horizontal"] > 0  # both passes chose BLAS, as computed by hand
    padded = np.pad(image.astype(np.float64), ((15, 15), (6, 6)), mode="edge")  # span 31 x 13, centred
    want = ndi.correlate(padded, _dilate(kernel, (1, 3)), mode="constant")[15:-15, 6:-6]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(kernel).sum())


def _dilate(kernel: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    dh, dw = dilation
    out = np.zeros(((kernel.shape[0] - 1) * dh + 1, (kernel.shape[1] - 1) * dw + 1))
    out[::dh, ::dw] = kernel
    return out


# --- one owner for the kernel limit, the work dtype and the border value ----------------------------------


def test_the_engine_takes_the_one_kernel_limit_from_shapes():
    assert _plan.MAX_KERNEL_SIDE is shapes.MAX_KERNEL_SIDE == 1025
    with pytest.raises(KernelError, match=r"kernel is 1x1026; the limit is 1025 per side"):
        correlate(np.ones((4, 4)), np.ones((1, 1026)))
    with pytest.raises(KernelError, match=r"kernel is 1026x1; the limit is 1025 per side"):
        choose_method((4, 4), np.ones((1026, 1)))
    assert correlate(np.ones((3, 3)), np.ones((1, 1025)), border="wrap").shape == (3, 3)


@pytest.mark.parametrize(
    ("dtype", "work"),
    [(np.uint8, np.float32), (np.uint16, np.float32), (np.int32, np.float32), (np.bool_, np.float32),
     (np.float16, np.float32), (np.float32, np.float32), (np.float64, np.float64)],
)
def test_work_dtype_is_what_correlate_returns(dtype, work):
    assert work_dtype(dtype) == work_dtype(np.dtype(dtype)) == np.dtype(work)
    assert correlate(np.ones((4, 4), dtype=dtype), np.ones((3, 3))).dtype == np.dtype(work)
    assert convcli.engine.work_dtype is _plan.work_dtype


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (2, 1, 0, 3), (7, 5, 6, 9)], ids=str)
def test_pad_image_is_numpy_pad(border, pads, rng):
    image = rng.normal(size=(4, 5, 2))
    top, bottom, left, right = pads
    widths = ((top, bottom), (left, right), (0, 0))
    if border == "constant":
        want = np.pad(image, widths, mode="constant", constant_values=-3.5)
    else:
        want = np.pad(image, widths, mode=border)  # type: ignore[call-overload]
    got = pad_image(image, pads, border=border, border_value=-3.5)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("border", "value", "want"),
    [("zeros", 0, ("constant", 0.0)), ("Replicate", 9, ("edge", 9.0)), ("grid-mirror", "2.5", ("symmetric", 2.5)),
     ("constant", float("nan"), ("constant", float("nan")))],
)
def test_resolve_border(border, value, want):
    got = resolve_border(border, value)
    assert got[0] == want[0] and (got[1] == want[1] or (np.isnan(got[1]) and np.isnan(want[1])))


@pytest.mark.parametrize(
    ("border", "value", "match"),
    [("zeros", 2.0, r"border 'zeros' means a constant 0 border, but border_value=2.0"),
     ("constant", "x", r"border_value must be a number, got 'x'"),
     ("mirror", 0.0, r"'mirror' is ambiguous")],
)
def test_resolve_border_refuses(border, value, match):
    with pytest.raises(ParameterError, match=match):
        resolve_border(border, value)


# --- non-finite data never meets a matrix product ----------------------------------------------------


def test_forced_separable_keeps_nan_in_the_windows_that_hold_it(rng):
    image = rng.random((150, 140)).astype(np.float32)
    image[70, 60] = np.nan
    g = np.hanning(33)[1:-1]
    kernel = np.outer(g, g)  # 31 x 31, rank 1: on finite data its passes run through BLAS
    out = correlate(image, kernel, method="separable", border="edge")
    footprint = ndi.binary_dilation(np.isnan(image), structure=np.ones(kernel.shape, bool))
    np.testing.assert_array_equal(np.isnan(out), footprint)


@pytest.mark.parametrize("method", ["auto", "separable"])
def test_strips_of_an_image_with_nan_stack_to_the_whole_result(method, rng):
    image = rng.random((700, 61, 2)).astype(np.float32)
    image[100, 30, 0] = np.nan  # one band falls back to shift-and-add, the others use BLAS
    g = np.hanning(23)[1:-1]
    kernel = np.outer(g, g)
    whole = correlate(image, kernel, method=method)
    strips = list(correlate_strips(image, kernel, method=method, strip_elements=4000))
    assert len(strips) > 2
    np.testing.assert_array_equal(np.concatenate([s for _, s in strips]), whole)
    assert np.isnan(whole).sum() == 21 * 21


def test_separable_on_plus_and_minus_inf_and_huge_values_warns_nothing(rng):
    image = rng.random((80, 90)).astype(np.float32)
    image[10, 10], image[60, 70], image[40, 5] = np.inf, -np.inf, 3e38  # warnings are errors in the test suite
    kernel = np.outer(np.hanning(19)[1:-1], np.hanning(19)[1:-1])
    out = correlate(image, kernel, method="separable", border="edge")
    assert np.isposinf(out[10, 10]) and np.isneginf(out[60, 70]) and np.isfinite(out[30:50, 30:50]).all()
