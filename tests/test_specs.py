"""specs.py: the one spec grammar and the one parser of option number forms and choices."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli.errors import ParameterError, UsageError, exit_code_for
from convcli.specs import (
    PAD_MODES,
    closest,
    parse_anchor,
    parse_choice,
    parse_ints,
    parse_pad,
    parse_pair,
    parse_size,
    parse_spec,
    spec_bool,
    spec_float,
    spec_int,
    spec_int_pair,
    spec_pad,
)

# --- the spec grammar ------------------------------------------------------------------------------


def test_parse_spec_lowercases_name_and_keys_and_keeps_values_and_order():
    spec = parse_spec("  Gaussian:Sigma=2.5 , Radius=7 ")
    assert spec.name == "gaussian"
    assert list(spec.params.items()) == [("sigma", "2.5"), ("radius", "7")]
    assert spec.text == "Gaussian:Sigma=2.5 , Radius=7"


@pytest.mark.parametrize(("text", "message"), [
    ("", "has no name"),
    (":size=3", "has no name"),
    ("box:size", "'size' is not key=value"),
    ("box:=3", "is not key=value"),
    ("box:size=", "is not key=value"),
    ("box:size=3,size=4", "gives 'size' twice"),
])
def test_parse_spec_refuses_malformed_specs(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_spec(text, what="kernel")


def test_check_keys_suggests_the_closest_key_and_lists_the_valid_ones():
    with pytest.raises(ParameterError, match=r"no parameter 'sigam'.*did you mean 'sigma'\? valid: sigma, radius"):
        parse_spec("gaussian:sigam=2").check_keys(["sigma", "radius"], what="kernel 'gaussian'")
    parse_spec("gaussian:sigma=2").check_keys(["sigma", "radius"])  # no error


def test_closest_returns_none_when_nothing_is_close():
    assert closest("xyzzy", ["box", "gaussian"]) is None
    assert closest("sobbel", ["box", "sobel"]) == "sobel"


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), ("1e-3", 1e-3), ("7", 7.0)])
def test_spec_float_reads_finite_numbers(value, expected):
    assert spec_float(parse_spec(f"g:s={value}"), "s", minimum=0, exclusive=True) == expected


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_spec_float_refuses_out_of_range_and_non_finite(value):
    with pytest.raises(ParameterError, match=f"s must be a number > 0 in 'g:s={value}', got '{value}'"):
        spec_float(parse_spec(f"g:s={value}"), "s", minimum=0, exclusive=True)


def test_spec_defaults_apply_only_when_the_key_is_missing():
    spec = parse_spec("box")
    assert spec_int(spec, "size", 3) == 3
    assert spec_float(spec, "sigma", 1.5) == 1.5
    assert spec_int_pair(spec, "size", (2, 5)) == (2, 5)
    assert spec_bool(spec, "ceil") is False
    with pytest.raises(ParameterError, match="'box' needs size=<integer >= 1>"):
        spec_int(spec, "size", minimum=1)


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("YES", True), ("on", True), ("0", False),
                                                 ("False", False), ("off", False)])
def test_spec_bool_words(text, expected):
    assert spec_bool(parse_spec(f"max:ceil={text}"), "ceil") is expected


def test_spec_int_and_pair_bounds():
    assert spec_int(parse_spec("m:length=1025"), "length", maximum=1025) == 1025
    with pytest.raises(ParameterError, match="<= 1025"):
        spec_int(parse_spec("m:length=1026"), "length", maximum=1025)
    assert spec_int_pair(parse_spec("b:size=3X5"), "size") == (3, 5)
    with pytest.raises(ParameterError, match="N or HxW"):
        spec_int_pair(parse_spec("b:size=3x5x7"), "size")


# --- option number forms: one parser, one wording, exit code 2 ----------------------------------------


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_parse_pair_reads_n_and_hxw(h, w):
    assert parse_pair(str(h), what="--stride") == (h, h)
    assert parse_pair(f"{h}x{w}", what="--stride") == (h, w)
    assert parse_pair(f" {h} X {w} ", what="--stride") == (h, w)
    assert parse_pair(f"{h},{w}", what="--stride") == (h, w)


@pytest.mark.parametrize("text", ["0", "-1", "1x0", "x", "", "1x2x3", "2.5", "1,2,3"])
def test_parse_pair_refuses_with_one_wording_and_a_usage_error(text):
    with pytest.raises(UsageError) as info:
        parse_pair(text, what="--stride")
    assert str(info.value) == f"--stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got {text!r}"
    assert exit_code_for(info.value) == 2


def test_parse_pair_minimum_zero():
    assert parse_pair("0", what="--x", minimum=0) == (0, 0)


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_parse_size_reads_what_parse_pair_reads(h, w):
    for text in (str(h), f"{h}x{w}", f" {h} X {w} "):
        assert parse_size(text, what="INPUT") == parse_pair(text, what="INPUT")


@pytest.mark.parametrize("text", ["photo.png", "gaussian:sigma=2", "1 2; 3 4", "3x", "x3", "1x2x3", "2.5", "",
                                  "kernels/3x3.txt", "\u0663"])
def test_parse_size_is_none_for_anything_not_written_as_a_size(text):
    assert parse_size(text, what="--kernel") is None


def test_parse_size_checks_the_numbers_of_a_size():
    with pytest.raises(UsageError, match=r"^INPUT must be N or HxW \(e\.g\. 224 or 224x224\) with integers >= 1, "
                                         r"got '0x3'$"):
        parse_size("0x3", what="INPUT", example="N or HxW (e.g. 224 or 224x224)")


@pytest.mark.parametrize(("text", "expected"), [
    ("same", "same"), ("VALID", "valid"), (" full ", "full"),
    ("3", 3), ("0", 0), ("1x2", (1, 2)), ("0,1,2,3", (0, 1, 2, 3)),
])
def test_parse_pad_forms(text, expected):
    assert parse_pad(text) == expected


@pytest.mark.parametrize("text", ["-1", "1,2,3", "x", "samee", "1x2x3"])
def test_parse_pad_refuses(text):
    with pytest.raises(UsageError, match=r"^--pad must be same, valid, full, N, HxW or T,B,L,R .* got "):
        parse_pad(text)


def test_pad_modes_are_the_three_words():
    assert PAD_MODES == ("same", "valid", "full")


def test_parse_anchor_needs_two_non_negative_integers():
    assert parse_anchor("2,0") == (2, 0)
    for text in ["1", "-1,0", "a,b", "1,2,3"]:
        with pytest.raises(UsageError, match=r"--anchor must be R,C \(e.g. 1,1\) with integers >= 0"):
            parse_anchor(text)


def test_parse_ints_counts_and_minimum():
    assert parse_ints("1,2,3", what="--x", counts=(3,), minimum=-5, example="A,B,C") == (1, 2, 3)
    with pytest.raises(UsageError, match=r"^--x must be A,B,C with integers >= -5, got '1,2'$"):
        parse_ints("1,2", what="--x", counts=(3,), minimum=-5, example="A,B,C")


CHOICES = ("each", "sum", "gray")


@pytest.mark.parametrize(("text", "expected"), [(c.upper(), c) for c in CHOICES] + [(" sum ", "sum")])
def test_parse_choice_accepts_any_case(text, expected):
    assert parse_choice(text, CHOICES, what="--channels") == expected


def test_parse_choice_lists_values_and_suggests():
    with pytest.raises(UsageError, match=r"^--channels must be one of each, sum, gray, got 'gary'; did you mean "
                                         r"'gray'\?$"):
        parse_choice("gary", CHOICES, what="--channels")
    with pytest.raises(UsageError, match=r"^--channels must be one of each, sum, gray, got 'rgb'$"):
        parse_choice("rgb", CHOICES, what="--channels")


def test_every_parser_names_the_option_it_was_given():
    for parser, args in itertools.product([parse_pair, parse_pad, parse_anchor], [("bogus",)]):
        with pytest.raises(UsageError, match="--my-option"):
            parser(*args, what="--my-option")


def test_spec_pad() -> None:
    assert spec_pad(parse_spec("x:p=Valid"), "p", (0, 0)) == "valid"
    assert spec_pad(parse_spec("x:p=2"), "p", (0, 0)) == (2, 2)
    assert spec_pad(parse_spec("x"), "p", "same") == "same"
