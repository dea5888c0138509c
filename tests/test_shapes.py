"""Tests of convcli.shapes: the size arithmetic of convolution, pooling and chains.

Three kinds of evidence:

* hand-checked tables (the formula applied on paper to well-known networks);
* hypothesis properties against PyTorch, the reference the project promises to
  match: for random configurations the shape ``torch.nn.functional`` produces on
  a tiny zero tensor equals ours, and we refuse exactly what PyTorch refuses;
* the grammar and the messages of layer specs.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import pytest
import torch  # the oracle is in the test extra: a missing torch must fail, never skip
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli.errors import ParameterError, ShapeError
from convcli.layer_specs import parse_layer
from convcli.layers import Layer, chain_sizes
from convcli.shapes import (
    as_pair,
    check_anchor,
    check_hw,
    conv_output_length,
    flipped_anchor,
    input_extent,
    output_size,
    pool_output_length,
    pool_output_size,
    resolve_pad,
    resolve_pool,
    resolve_pool_pad,
)

# --- the basic functions ------------------------------------------------------------------


def test_as_pair_accepts_int_and_pair_and_names_the_parameter() -> None:
    assert as_pair(3, "stride") == (3, 3)
    assert as_pair([2, 5], "stride") == (2, 5)
    assert as_pair(0, "pad", minimum=0) == (0, 0)
    with pytest.raises(ParameterError, match=r"^stride must be a positive integer or a pair of them, got 0$"):
        as_pair(0, "stride")
    with pytest.raises(ParameterError, match=r"dilation must be .* got True"):
        as_pair(True, "dilation")
    with pytest.raises(ParameterError, match=r"got \(1, 2, 3\)"):
        as_pair((1, 2, 3), "kernel size")


@pytest.mark.parametrize(
    ("size", "kernel", "pad_total", "stride", "dilation", "expected"),
    [
        (5, 3, 0, 1, 1, 3),  # seed 002: valid output m - p + 1
        (5, 3, 2, 1, 1, 5),  # seed 003: P = (K-1)/2 keeps the size
        (7, 3, 0, 2, 1, 3),  # floor((7 - 3) / 2) + 1
        (8, 3, 0, 2, 1, 3),  # floor(5 / 2) + 1: the last column is dropped
        (9, 3, 0, 1, 2, 5),  # dilation 2 spreads 3 taps over 5
        (1, 1, 0, 5, 1, 1),
    ],
)
def test_conv_output_length_by_hand(
    size: int, kernel: int, pad_total: int, stride: int, dilation: int, expected: int
) -> None:
    assert (
        conv_output_length(size, kernel, pad_total=pad_total, stride=stride, dilation=dilation) == expected
    )


def test_conv_output_length_refuses_an_empty_output_naming_the_axis() -> None:
    with pytest.raises(ShapeError, match=r"nothing is left along columns: \(4 \+ 0 - 5\) // 1 \+ 1 = 0"):
        conv_output_length(4, 5, axis="columns")
    with pytest.raises(ShapeError, match=r"dilation 3 spreads it over 7"):
        conv_output_length(6, 3, dilation=3)


@pytest.mark.parametrize(
    ("pad", "kernel", "dilation", "expected"),
    [
        ("same", (3, 3), 1, (1, 1, 1, 1)),
        ("same", (4, 2), 1, (1, 2, 0, 1)),  # even kernel: the extra row/column goes bottom/right
        ("same", (3, 3), 2, (2, 2, 2, 2)),
        ("valid", (5, 5), 1, (0, 0, 0, 0)),
        ("full", (3, 5), 1, (2, 2, 4, 4)),
        (2, (3, 3), 1, (2, 2, 2, 2)),
        ((1, 0), (3, 3), 1, (1, 1, 0, 0)),
        ((1, 2, 3, 4), (3, 3), 1, (1, 2, 3, 4)),
    ],
)
def test_resolve_pad(pad: object, kernel: tuple[int, int], dilation: int, expected: tuple[int, ...]) -> None:
    assert resolve_pad(pad, kernel, dilation=dilation) == expected


def test_resolve_pad_refuses_bad_values() -> None:
    with pytest.raises(ParameterError, match=r"pad must be 'same', 'valid', 'full'.* got 'mirror'"):
        resolve_pad("mirror", (3, 3))
    with pytest.raises(ParameterError, match=r"got -1"):
        resolve_pad(-1, (3, 3))
    with pytest.raises(ParameterError, match=r"anchor only applies to pad='same'"):
        resolve_pad(1, (3, 3), anchor=(0, 0))


def test_output_size_same_keeps_size_at_stride_1_and_gives_ceil_at_stride_s() -> None:
    assert output_size((7, 9), (4, 3), pad="same") == (7, 9)
    assert output_size((7, 9), (4, 3), pad="same", stride=(2, 4)) == (math.ceil(7 / 2), math.ceil(9 / 4))


@pytest.mark.parametrize(
    ("size", "window", "stride", "pad", "ceil_mode", "expected"),
    [
        (4, 2, 2, 0, False, 2),  # seed 003: 2x2 windows with stride 2 halve the image
        (5, 2, 2, 0, False, 2),  # floor drops the last column
        (5, 2, 2, 0, True, 3),  # ceil keeps a partial window
        (5, 2, 2, 1, True, 3),  # ceil(5/2)+1 = 4, but the 4th window would start at 6 >= 5 + 1
        (112, 3, 2, 1, False, 56),
    ],
)
def test_pool_output_length_by_hand(
    size: int, window: int, stride: int, pad: int, ceil_mode: bool, expected: int
) -> None:
    assert pool_output_length(size, window, stride=stride, pad=pad, ceil_mode=ceil_mode) == expected


def test_pool_output_size_defaults_stride_to_the_window_and_checks_the_pad() -> None:
    assert pool_output_size((6, 9), (2, 3)) == (3, 3)
    assert resolve_pool_pad((1, 2), (3, 4)) == (1, 2)
    with pytest.raises(ParameterError, match=r"pad=2 for a 3-row window"):
        pool_output_size((9, 9), 3, pad=2)
    with pytest.raises(ShapeError, match=r"pooling leaves nothing along rows"):
        pool_output_size((1, 9), 3)


# --- well-known networks, checked by hand -------------------------------------------------

VGG_BLOCK = ["conv:k=3,p=1"]

# (network, input, layers, sizes after each layer, receptive field and total stride of the last layer).
# Every size is the formula done by hand, e.g. AlexNet conv1: (227 - 11) / 4 + 1 = 55.
NETWORKS = [
    (
        "AlexNet (227)",
        227,
        ["conv:k=11,s=4", "pool:k=3,s=2", "conv:k=5,p=2", "pool:k=3,s=2",
         "conv:k=3,p=1", "conv:k=3,p=1", "conv:k=3,p=1", "pool:k=3,s=2"],
        # 216/4+1, 52/2+1, (27+4-5)+1, 24/2+1, (13+2-3)+1 x3, 10/2+1
        [55, 27, 27, 13, 13, 13, 13, 6],
        (195, 32),  # rf 11, 11+2*4, 19+4*8, 51+2*8, 67+2*16 (x3), 163+2*16
    ),
    (
        "ResNet stem (224)",
        224,
        ["conv:k=7,s=2,p=3", "pool:k=3,s=2,p=1"],
        [112, 56],  # floor((224+6-7)/2)+1 = floor(111.5)+1 = 112; floor((112+2-3)/2)+1 = 56
        (11, 4),  # rf 7, 7+2*2
    ),
    (
        "ResNet stem (odd 225)",
        225,
        ["conv:k=7,s=2,p=3", "pool:k=3,s=2,p=1"],
        [113, 57],  # floor(224/2)+1 = 113; floor(112/2)+1 = 57
        (11, 4),
    ),
    (
        "VGG-16 (224)",
        224,
        [*VGG_BLOCK * 2, "pool:k=2", *VGG_BLOCK * 2, "pool:k=2", *VGG_BLOCK * 3, "pool:k=2",
         *VGG_BLOCK * 3, "pool:k=2", *VGG_BLOCK * 3, "pool:k=2"],
        [224, 224, 112, 112, 112, 56, 56, 56, 56, 28, 28, 28, 28, 14, 14, 14, 14, 7],
        (212, 32),  # conv5_3 sees 196 pixels, pool5 212
    ),
    (
        "GoogLeNet (224, ceil_mode)",
        224,
        ["conv:k=7,s=2,p=3", "pool:k=3,s=2,ceil=true", "conv:k=1", "conv:k=3,p=1",
         "pool:k=3,s=2,ceil=true", "pool:k=3,s=2,ceil=true", "pool:k=2,s=2,ceil=true"],
        # ceil(109/2)+1 = 56, ceil(53/2)+1 = 28, ceil(25/2)+1 = 14, ceil(12/2)+1 = 7
        [112, 56, 56, 56, 28, 14, 7],
        (59, 32),  # rf 7, 7+2*2, 11, 11+2*4, 19+2*4, 27+2*8, 43+1*16
    ),
    (
        "Inception-v3 stem (299)",
        299,
        ["conv:k=3,s=2", "conv:k=3", "conv:k=3,p=1", "pool:k=3,s=2", "conv:k=1", "conv:k=3", "pool:k=3,s=2"],
        [149, 147, 147, 73, 73, 71, 35],  # floor(296/2)+1, 147, 147, floor(144/2)+1, 73, 71, floor(68/2)+1
        (31, 8),  # rf 3, 3+2*2, 7+2*2, 11+2*2, 15, 15+2*4, 23+2*4
    ),
    (
        "LeNet-5 (32)",
        32,
        ["conv:k=5", "pool:k=2", "conv:k=5", "pool:k=2"],
        [28, 14, 10, 5],
        (16, 4),  # rf 5, 5+1*1, 6+4*2, 14+1*2
    ),
    (
        "DeepLab atrous (65)",
        65,
        ["conv:k=3,p=12,d=12"],
        [65],  # 65 + 24 - (12*2+1) + 1
        (25, 1),
    ),
]


@pytest.mark.parametrize(
    ("name", "size", "specs", "sizes", "last"), NETWORKS, ids=[row[0] for row in NETWORKS]
)
def test_well_known_networks(
    name: str, size: int, specs: list[str], sizes: list[int], last: tuple[int, int]
) -> None:
    steps = chain_sizes((size, size), [parse_layer(spec) for spec in specs])
    assert [step.output for step in steps] == [(s, s) for s in sizes]
    assert [step.input for step in steps] == [(s, s) for s in [size, *sizes[:-1]]]
    rf, jump = last
    assert steps[-1].receptive_field == (rf, rf)
    assert steps[-1].jump == (jump, jump)


def test_vgg_conv5_3_receptive_field_is_196() -> None:
    specs = NETWORKS[3][2]
    assert chain_sizes((224, 224), [parse_layer(s) for s in specs])[-2].receptive_field == (196, 196)


def test_chain_tracks_rows_and_columns_separately() -> None:
    steps = chain_sizes((30, 40), [parse_layer("conv:k=3x5,s=1x2,p=same,d=2x1"), parse_layer("pool:k=2x3")])
    assert steps[0].output == (30, 20)
    assert steps[0].pad == (2, 2, 2, 2)
    assert steps[0].receptive_field == (5, 5)
    assert steps[0].jump == (1, 2)
    assert steps[1].output == (15, 6)
    assert steps[1].receptive_field == (6, 5 + 2 * 2)
    assert steps[1].jump == (2, 6)


def test_chain_formula_shows_floor_and_ceil_with_the_numbers() -> None:
    stem = [parse_layer("conv:k=7,s=2,p=3"), parse_layer("pool:k=3,s=2,ceil=true")]
    conv, pool = chain_sizes((224, 224), stem)
    assert conv.formula == ("floor((224 + 2*3 - 7) / 2) + 1 = floor(223/2) + 1 = 112",) * 2
    assert pool.formula[0] == "ceil((112 - 3) / 2) + 1 = ceil(109/2) + 1 = 56"
    (dilated,) = chain_sizes((8, 8), [parse_layer("conv:k=4,p=same,d=2")])
    assert dilated.formula[0] == "(8 + 2*3 - 2*(4-1) - 1) + 1 = 8"
    (even,) = chain_sizes((8, 8), [parse_layer("conv:k=4,p=same")])
    assert even.formula[0] == "(8 + 1 + 2 - 4) + 1 = 8"  # the extra row goes bottom
    (corrected,) = chain_sizes((5, 5), [parse_layer("pool:k=2,p=1,ceil=true")])
    assert corrected.formula[0] == (
        "ceil((5 + 2*1 - 2) / 2) + 1 = ceil(5/2) + 1 = 4; the last window would start at 6 >= 5 + 1, so 3"
    )
    assert corrected.output == (3, 3)


def test_empty_chain_and_bad_input() -> None:
    assert chain_sizes((5, 7), []) == []
    with pytest.raises(ParameterError, match=r"input size must be two positive integers.* got \(0, 7\)"):
        chain_sizes((0, 7), [])


def test_chain_error_names_the_layer_its_input_and_why() -> None:
    layers = [parse_layer("conv:k=3,s=2"), parse_layer("pool:k=2"), parse_layer("conv:k=5")]
    with pytest.raises(
        ShapeError, match=r"^layer 3 \(conv:k=5\) on a 2x3 input: nothing is left along rows: \(2 \+ 0 - 5\)"
    ):
        chain_sizes((9, 13), layers)
    with pytest.raises(
        ParameterError,
        match=r"^layer 2 \(pool:k=3,p=2\) on a 8x8 input: pooling pad must be at most half the window",
    ):
        chain_sizes((8, 8), [parse_layer("conv:k=1"), parse_layer("pool:k=3,p=2")])


# --- layer specs -----------------------------------------------------------------------------


def test_layer_constructors_check_values_and_write_a_canonical_spec() -> None:
    assert Layer.conv(7, stride=2, pad=3).text == "conv:k=7,s=2,p=3"
    assert Layer.conv((3, 1), pad="SAME", dilation=(2, 1)).text == "conv:k=3x1,s=1,p=same,d=2x1"
    assert Layer.pool(3, stride=2, pad=(1, 0), ceil_mode=True).text == "pool:k=3,s=2,p=1x0,ceil=true"
    assert parse_layer(Layer.conv((5, 3), stride=(1, 2), pad=(2, 1), dilation=3).text) == Layer.conv(
        (5, 3), stride=(1, 2), pad=(2, 1), dilation=3
    )
    with pytest.raises(ParameterError, match=r"stride must be a positive integer"):
        Layer.conv(3, stride=0)
    with pytest.raises(ParameterError, match=r"pad must be 'same', 'valid', 'full', N or HxW, got 'edge'"):
        Layer.conv(3, pad="edge")
    with pytest.raises(ParameterError, match=r"pooling op must be one of max, mean, min, got 'median'"):
        Layer.pool(3, op="median")
    with pytest.raises(ParameterError, match=r"pooling pad must be an integer >= 0"):
        Layer.pool(3, pad=-1)


# --- agreement with PyTorch -----------------------------------------------------------------

sizes = st.integers(1, 14)
kernels = st.integers(1, 6)
strides = st.integers(1, 4)
dilations = st.integers(1, 3)
conv_pads = st.one_of(
    st.sampled_from(["same", "valid", "full"]), st.tuples(st.integers(0, 4), st.integers(0, 4))
)


def _torch_conv_shape(
    hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int], pad: object, d: tuple[int, int]
) -> tuple[int, int] | None:
    """The shape torch's conv2d gives on a zero tensor, or None when torch refuses.

    Pads are given to torch in its own terms ("same" is torch's padding="same"; it
    refuses strides, so a strided "same" is the stride-1 result sampled every s-th
    pixel, seed 004's definition); "full" is written out as d*(k-1) on every side.
    """
    x = torch.zeros((1, 1, *hw))
    w = torch.zeros((1, 1, *k))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about padding="same" with even kernels
            if pad == "same":
                y = F.conv2d(x, w, padding="same", dilation=d)[..., :: s[0], :: s[1]]
            elif pad == "full":
                full = (d[1] * (k[1] - 1),) * 2 + (d[0] * (k[0] - 1),) * 2
                y = F.conv2d(F.pad(x, full), w, stride=s, dilation=d)
            else:
                y = F.conv2d(x, w, stride=s, padding=0 if pad == "valid" else pad, dilation=d)
    except RuntimeError:
        return None
    return (y.shape[-2], y.shape[-1])


def _torch_pool_shape(
    hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], ceil_mode: bool, op: str
) -> tuple[int, int] | None:
    x = torch.zeros((1, 1, *hw))
    pool = F.max_pool2d if op == "max" else F.avg_pool2d
    try:
        y = pool(x, kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode)
    except RuntimeError:
        return None
    return (y.shape[-2], y.shape[-1])


@settings(max_examples=300, deadline=None)
@given(
    hw=st.tuples(sizes, sizes),
    k=st.tuples(kernels, kernels),
    s=st.tuples(strides, strides),
    d=st.tuples(dilations, dilations),
    pad=conv_pads,
)
def test_conv_shape_matches_torch_and_refuses_what_torch_refuses(
    hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int], d: tuple[int, int], pad: object
) -> None:
    expected = _torch_conv_shape(hw, k, s, pad, d)
    if expected is None:
        with pytest.raises(ShapeError, match=r"nothing is left along"):
            output_size(hw, k, pad=pad, stride=s, dilation=d)
    else:
        assert output_size(hw, k, pad=pad, stride=s, dilation=d) == expected


@settings(max_examples=300, deadline=None)
@given(
    hw=st.tuples(sizes, sizes),
    k=st.tuples(kernels, kernels),
    s=st.tuples(strides, strides),
    p=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    ceil_mode=st.booleans(),
    op=st.sampled_from(["max", "avg"]),
)
def test_pool_shape_matches_torch_and_refuses_what_torch_refuses(
    hw: tuple[int, int],
    k: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    ceil_mode: bool,
    op: str,
) -> None:
    expected = _torch_pool_shape(hw, k, s, p, ceil_mode, op)
    if expected is None:
        with pytest.raises(ParameterError, match=r"pooling (pad must be at most half|leaves nothing)"):
            pool_output_size(hw, k, stride=s, pad=p, ceil_mode=ceil_mode)
    else:
        assert pool_output_size(hw, k, stride=s, pad=p, ceil_mode=ceil_mode) == expected


def _pair_text(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


conv_specs = st.builds(
    lambda k, s, p, d: (
        f"conv:k={_pair_text(k)},s={_pair_text(s)},p={p if isinstance(p, str) else _pair_text(p)},"
        f"d={_pair_text(d)}",
        ("conv", k, s, p, d),
    ),
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.tuples(strides, strides),
    st.one_of(st.sampled_from(["same", "valid", "full"]), st.tuples(st.integers(0, 2), st.integers(0, 2))),
    st.tuples(st.integers(1, 2), st.integers(1, 2)),
)
pool_specs = st.builds(
    lambda k, s, p, c: (
        f"pool:k={_pair_text(k)},s={_pair_text(s)},p={_pair_text(p)},ceil={str(c).lower()}",
        ("pool", k, s, p, c),
    ),
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.tuples(strides, strides),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(hw=st.tuples(st.integers(1, 40), st.integers(1, 40)), chain=st.lists(st.one_of(conv_specs, pool_specs),
                                                                            min_size=1, max_size=5))
def test_chain_matches_torch_layer_by_layer(hw: tuple[int, int], chain: list[tuple[str, tuple]]) -> None:
    """Every layer's output as torch computes it, and the first layer torch refuses is the one we name."""
    torch_sizes: list[tuple[int, int]] = []
    current: tuple[int, int] | None = hw
    for _, (kind, k, s, p, extra) in chain:
        if kind == "conv":
            current = _torch_conv_shape(current, k, s, p, extra)
        else:
            current = _torch_pool_shape(current, k, s, p, extra, "max")
        if current is None:
            break
        torch_sizes.append(current)
    layers = [parse_layer(text) for text, _ in chain]
    if len(torch_sizes) == len(chain):
        assert [step.output for step in chain_sizes(hw, layers)] == torch_sizes
    else:
        failing = len(torch_sizes) + 1
        before = torch_sizes[-1] if torch_sizes else hw
        text = chain[failing - 1][0]
        where = rf"^layer {failing} \({text}\) on a {before[0]}x{before[1]} input: "
        with pytest.raises(ParameterError, match=where):
            chain_sizes(hw, layers)


# --- anchors, extents and sizes: the one check each ---------------------------------------


def test_check_anchor_is_the_one_anchor_check() -> None:
    assert check_anchor((2, 0), (3, 4)) == (2, 0)
    assert check_anchor([0, 3], (3, 4)) == (0, 3)
    with pytest.raises(ParameterError, match=r"^anchor must be a pair \(row, col\) of integers, got \(1.5, 0\)$"):
        check_anchor((1.5, 0), (3, 3))
    with pytest.raises(ParameterError, match=r"anchor must lie inside the 3x4 kernel .* got \(0, 4\)"):
        check_anchor((0, 4), (3, 4))
    with pytest.raises(ParameterError, match=r"anchor must lie inside"):
        resolve_pad("same", (3, 3), anchor=(-1, 0))  # resolve_pad goes through it too


@pytest.mark.parametrize(("kh", "kw"), [(1, 1), (3, 4), (5, 2)])
def test_flipped_anchor_follows_the_tap_through_a_180_degree_rotation(kh: int, kw: int) -> None:
    for r in range(kh):
        for c in range(kw):
            marked = torch.zeros(kh, kw)
            marked[r, c] = 1
            rotated = torch.rot90(marked, 2)
            fr, fc = flipped_anchor((r, c), (kh, kw))
            assert rotated[fr, fc] == 1
            assert flipped_anchor((fr, fc), (kh, kw)) == (r, c)


@given(
    st.integers(1, 40), st.integers(1, 9), st.integers(1, 4), st.integers(1, 3),
)
def test_input_extent_is_what_a_valid_convolution_of_that_many_outputs_reads(
    outputs: int, kernel: int, stride: int, dilation: int
) -> None:
    extent = input_extent(outputs, kernel, stride=stride, dilation=dilation)
    assert conv_output_length(extent, kernel, stride=stride, dilation=dilation) == outputs
    x = torch.zeros(1, 1, 1, extent)
    w = torch.zeros(1, 1, 1, kernel)
    assert F.conv2d(x, w, stride=stride, dilation=dilation).shape[-1] == outputs
    if extent > 1:  # up to stride-1 more samples give no more outputs; one fewer gives one fewer
        assert conv_output_length(extent + stride - 1, kernel, stride=stride, dilation=dilation) == outputs
        with pytest.raises(ShapeError) if outputs == 1 else contextlib.nullcontext():
            assert conv_output_length(extent - 1, kernel, stride=stride, dilation=dilation) == outputs - 1


def test_check_hw_names_what_it_checks() -> None:
    assert check_hw([3, 4], "input") == (3, 4)
    for bad in [(0, 4), (3,), (3.0, 4), "3x4", (True, 2)]:
        with pytest.raises(ParameterError, match=r"^input size must be two positive integers"):
            check_hw(bad, "input")


def test_resolve_pool_is_the_one_place_the_stride_defaults_to_the_window() -> None:
    assert resolve_pool((3, 2)) == ((3, 2), (3, 2), (0, 0))
    assert resolve_pool(3, stride=(1, 2), pad=1) == ((3, 3), (1, 2), (1, 1))
    # torch.nn.MaxPool2d: stride defaults to kernel_size
    assert torch.nn.MaxPool2d((3, 2)).stride == resolve_pool((3, 2))[1]
    with pytest.raises(ParameterError, match=r"pooling pad must be at most half the window"):
        resolve_pool(2, pad=2)
    with pytest.raises(ParameterError, match=r"^pooling stride must be a positive integer"):
        resolve_pool(2, stride=0)
