"""The one spec grammar shared by kernels, pooling and layer chains.

It also holds the one parser of the number forms options take on the command
line: ``N``, ``HxW``, ``R,C`` and ``T,B,L,R`` (:func:`parse_ints`,
:func:`parse_pair`, :func:`parse_size`, :func:`parse_pad`, :func:`parse_anchor`) and of choices
(:func:`parse_choice`).  Those raise :class:`~convcli.errors.UsageError`
(exit code 2) with one wording in every command.

A spec is ``name[:key=value,...]``: ``gaussian:sigma=2``, ``max:size=2,stride=1``,
``conv:k=7,s=2,p=3``.  Names and keys are case-insensitive; values are kept as
text for the owner of the spec to convert (with :func:`spec_int` and friends so
that every error reads the same).

Examples
--------
>>> parse_spec("gaussian:sigma=2,radius=6")
Spec(name='gaussian', params={'sigma': '2', 'radius': '6'}, text='gaussian:sigma=2,radius=6')
>>> parse_spec("max")
Spec(name='max', params={}, text='max')
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .errors import ParameterError, UsageError

__all__ = [
    "PAD_MODES",
    "Spec",
    "closest",
    "parse_anchor",
    "parse_choice",
    "parse_ints",
    "parse_pad",
    "parse_pair",
    "parse_size",
    "parse_spec",
    "spec_bool",
    "spec_float",
    "spec_int",
    "spec_int_pair",
    "spec_pad",
]

#: the named pad amounts (numbers are the other choice)
PAD_MODES: tuple[str, ...] = ("same", "valid", "full")


@dataclass(frozen=True)
class Spec:
    """A parsed ``name[:key=value,...]`` spec.

    Attributes
    ----------
    name : str
        Lower-cased name before the colon.
    params : dict of str to str
        The ``key=value`` pairs in order, keys lower-cased, values as written.
    text : str
        The spec as it was given, for error messages.
    """

    name: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def check_keys(self, allowed: Iterable[str], *, what: str = "spec") -> None:
        """Raise a :class:`ParameterError` listing the valid keys if an unknown key is present.

        Examples
        --------
        >>> parse_spec("box:size=3").check_keys(["size"])
        >>> parse_spec("box:sise=3").check_keys(["size"], what="kernel 'box'")
        Traceback (most recent call last):
        ...
        convcli.errors.ParameterError: kernel 'box' has no parameter 'sise' ...; did you mean 'size'? valid: size
        """
        allowed = list(allowed)
        for key in self.params:
            if key not in allowed:
                hint = closest(key, allowed)
                did_you_mean = f"; did you mean {hint!r}?" if hint else ";"
                valid = ", ".join(allowed) if allowed else "none"
                raise ParameterError(
                    f"{what} has no parameter {key!r} (in {self.text!r}){did_you_mean} valid: {valid}"
                )


def parse_spec(text: str, *, what: str = "spec", keys: Sequence[str] = ()) -> Spec:
    """Parse ``name[:key=value,...]``.

    Parameters
    ----------
    text : str
        The spec.
    what : str, optional
        What the spec is for (``"kernel"``, ``"pooling"``), for error messages.
    keys : sequence of str, optional
        The spec's parameters in order, for error messages only: a value
        given without a key (``gaussian:2``) is shown with the first one
        (``gaussian:sigma=2``).

    Returns
    -------
    Spec

    Raises
    ------
    ParameterError
        If the name is empty, a pair lacks ``=``, or a key repeats.

    Examples
    --------
    >>> parse_spec("Sobel:Axis=y").params
    {'axis': 'y'}
    >>> parse_spec("gaussian:2", what="kernel", keys=["sigma", "radius"])
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: kernel 'gaussian:2': '2' is not key=value: name the parameter it sets, e.g. \
'gaussian:sigma=2' (parameters: sigma, radius)
    >>> parse_spec("box:size")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: spec 'box:size': 'size' is not key=value: the value is missing; write \
'box:size=VALUE'
    """
    raw = text.strip()
    name, _, rest = raw.partition(":")
    name = name.strip().lower()
    if not name:
        raise ParameterError(f"{what} {text!r} has no name; write it as name[:key=value,...], e.g. 'box:size=3'")
    params: dict[str, str] = {}
    if rest.strip():
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq or not key or not value.strip():
                raise ParameterError(f"{what} {text!r}: {_not_key_value(name, item, keys)}")
            if key in params:
                raise ParameterError(f"{what} {text!r} gives {key!r} twice; give each parameter once")
            params[key] = value.strip()
    return Spec(name=name, params=params, text=raw)


def _not_key_value(name: str, item: str, keys: Sequence[str]) -> str:
    """Why ``item`` is not ``key=value``, and what to write instead (a value is never shown as a key)."""
    key, eq, value = (part.strip() for part in item.partition("="))
    listed = f" (parameters: {', '.join(keys)})" if keys else ""
    first = keys[0] if keys else "KEY"
    if not key and not value:
        return f"{item.strip()!r} is not key=value (a stray comma?); separate key=value pairs with commas"
    if eq and not value:
        return f"{item.strip()!r} is not key=value: the value is missing; write '{name}:{key.lower()}=VALUE'"
    if eq:  # a value without its key: '=3'
        return f"{item.strip()!r} is not key=value: the key is missing; write '{name}:{first}={value}'{listed}"
    if key.lower() in keys or (not keys and not _NUMBER_START.match(key)):  # a key without its value
        return f"{key!r} is not key=value: the value is missing; write '{name}:{key.lower()}=VALUE'"
    return f"{key!r} is not key=value: name the parameter it sets, e.g. '{name}:{first}={key}'{listed}"


#: what a value given without its key usually starts with (a number)
_NUMBER_START = re.compile(r"[-+.\d]")


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, or ``None`` when nothing is close.

    Examples
    --------
    >>> closest("gausian", ["box", "gaussian", "sobel"])
    'gaussian'
    """
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def spec_float(spec: Spec, key: str, default: float | None = None, *, minimum: float | None = None,
               exclusive: bool = False) -> float:
    """A finite float parameter of ``spec``, checked against a lower bound.

    Examples
    --------
    >>> spec_float(parse_spec("gaussian:sigma=2.5"), "sigma", minimum=0, exclusive=True)
    2.5
    >>> spec_float(parse_spec("gaussian:sigma=0"), "sigma", minimum=0, exclusive=True)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: sigma must be a number > 0 in 'gaussian:sigma=0', got '0'
    """
    bound = "" if minimum is None else f" {'>' if exclusive else '>='} {minimum:g}"
    if key not in spec.params:
        if default is None:
            raise ParameterError(f"{spec.text!r} needs {key}=<number{bound}>")
        return default
    value = spec.params[key]
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    bad = not math.isfinite(number) or (
        minimum is not None and (number <= minimum if exclusive else number < minimum)
    )
    if bad:
        raise ParameterError(f"{key} must be a number{bound} in {spec.text!r}, got {value!r}")
    return number


def spec_int(spec: Spec, key: str, default: int | None = None, *, minimum: int | None = None,
             maximum: int | None = None) -> int:
    """An integer parameter of ``spec`` within ``[minimum, maximum]``.

    Examples
    --------
    >>> spec_int(parse_spec("box:size=5"), "size", minimum=1)
    5
    >>> spec_int(parse_spec("box:size=2.5"), "size", minimum=1)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: size must be an integer >= 1 in 'box:size=2.5', got '2.5'
    """
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    bound = (" " + " and ".join(parts)) if parts else ""
    if key not in spec.params:
        if default is None:
            raise ParameterError(f"{spec.text!r} needs {key}=<integer{bound}>")
        return default
    value = spec.params[key]
    try:
        number = int(value)
    except ValueError:
        raise ParameterError(f"{key} must be an integer{bound} in {spec.text!r}, got {value!r}") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ParameterError(f"{key} must be an integer{bound} in {spec.text!r}, got {value!r}")
    return number


def spec_int_pair(spec: Spec, key: str, default: tuple[int, int] | None = None, *,
                  minimum: int = 1, maximum: int | None = None) -> tuple[int, int]:
    """An ``N`` or ``HxW`` parameter as a pair of integers.

    Examples
    --------
    >>> spec_int_pair(parse_spec("box:size=3x5"), "size")
    (3, 5)
    >>> spec_int_pair(parse_spec("box:size=4"), "size")
    (4, 4)
    """
    if key not in spec.params:
        if default is None:
            raise ParameterError(f"{spec.text!r} needs {key}=<N or HxW>")
        return default
    value = spec.params[key]
    pieces = value.lower().split("x")
    bound = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    message = f"{key} must be N or HxW with integers {bound} in {spec.text!r}, got {value!r}"
    if len(pieces) not in (1, 2):
        raise ParameterError(message)
    try:
        numbers = [int(p) for p in pieces]
    except ValueError:
        raise ParameterError(message) from None
    if any(n < minimum or (maximum is not None and n > maximum) for n in numbers):
        raise ParameterError(message)
    return (numbers[0], numbers[-1])


def spec_bool(spec: Spec, key: str, default: bool = False) -> bool:
    """A boolean parameter (``true/false/yes/no/1/0``).

    Examples
    --------
    >>> spec_bool(parse_spec("max:size=2,ceil=true"), "ceil")
    True
    """
    if key not in spec.params:
        return default
    value = spec.params[key].lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ParameterError(f"{key} must be true or false in {spec.text!r}, got {spec.params[key]!r}")


# --- option values: N, HxW, R,C, T,B,L,R and choices ---------------------------


def spec_pad(spec: Spec, key: str, default: str | tuple[int, int]) -> str | tuple[int, int]:
    """A convolution pad parameter of ``spec``: ``same``, ``valid``, ``full``, ``N`` or ``HxW``.

    Parameters
    ----------
    spec : Spec
        The parsed spec.
    key : str
        The parameter's key (``"p"`` in ``conv:k=3,p=same``).
    default : str or pair of int
        Returned when ``key`` is absent.

    Returns
    -------
    str or tuple of int
        A pad mode, or ``(rows, cols)`` padded on both sides of each axis.

    Examples
    --------
    >>> spec_pad(parse_spec("conv:k=3,p=SAME"), "p", (0, 0))
    'same'
    >>> spec_pad(parse_spec("conv:k=3,p=1x2"), "p", (0, 0))
    (1, 2)
    >>> spec_pad(parse_spec("conv:k=3,p=-1"), "p", (0, 0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: p must be same, valid, full, N or HxW (integers >= 0) in ..., got '-1'
    """
    value = spec.params.get(key)
    if value is None:
        return default
    if value.strip().lower() in PAD_MODES:
        return value.strip().lower()
    try:
        return spec_int_pair(spec, key, minimum=0)
    except ParameterError:
        raise ParameterError(
            f"{key} must be same, valid, full, N or HxW (integers >= 0) in {spec.text!r}, got {value!r}"
        ) from None


def parse_ints(text: str, *, what: str, counts: tuple[int, ...] = (1, 2), minimum: int = 1,
               example: str = "N or HxW (e.g. 2 or 2x1)") -> tuple[int, ...]:
    """Integers written as ``N``, ``HxW`` or comma-separated, checked for count and lower bound.

    Parameters
    ----------
    text : str
        The value as typed.
    what : str
        The option it belongs to (``"--stride"``), for the message.
    counts : tuple of int, optional
        How many numbers are allowed.
    minimum : int, optional
        The smallest allowed number.
    example : str, optional
        The forms allowed, for the message.

    Raises
    ------
    UsageError
        Naming the option, the forms allowed and the value.

    Examples
    --------
    >>> parse_ints("3x5", what="--stride")
    (3, 5)
    >>> parse_ints("0,1,0,1", what="--pad", counts=(4,), minimum=0, example="T,B,L,R")
    (0, 1, 0, 1)
    >>> parse_ints("0", what="--stride")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'
    """
    clean = str(text).strip().lower().replace(" ", "")
    parts = clean.split(",") if "," in clean else clean.split("x")
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) not in counts or min(numbers, default=minimum - 1) < minimum:
        raise UsageError(f"{what} must be {example} with integers >= {minimum}, got {text!r}")
    return numbers


def parse_pair(text: str, *, what: str, minimum: int = 1) -> tuple[int, int]:
    """``N`` or ``HxW`` as ``(rows, cols)``.

    Examples
    --------
    >>> parse_pair("2", what="--stride")
    (2, 2)
    >>> parse_pair("2x1", what="--dilation")
    (2, 1)
    """
    numbers = parse_ints(text, what=what, counts=(1, 2), minimum=minimum)
    return numbers[0], numbers[-1]


def parse_size(text: str, *, what: str, example: str = "N or HxW (e.g. 2 or 2x1)") -> tuple[int, int] | None:
    """``N`` or ``HxW`` as ``(rows, cols)``, or None when ``text`` is not written as a size.

    For arguments that take a size or something else (``outsize INPUT``: a
    size or an image file; ``--kernel``: a size or a kernel spec).  Digits in
    the size form are checked as :func:`parse_pair` checks them.

    Examples
    --------
    >>> parse_size("224", what="INPUT"), parse_size(" 3 X 5 ", what="--kernel")
    ((224, 224), (3, 5))
    >>> parse_size("photo.png", what="INPUT") is None, parse_size("gaussian:sigma=2", what="--kernel") is None
    (True, True)
    >>> parse_size("0x3", what="INPUT", example="N or HxW (e.g. 224 or 224x224)")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: INPUT must be N or HxW (e.g. 224 or 224x224) with integers >= 1, got '0x3'
    """
    parts = str(text).strip().lower().replace(" ", "").split("x")
    if not 1 <= len(parts) <= 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    numbers = parse_ints(text, what=what, example=example)
    return numbers[0], numbers[-1]


def parse_pad(text: str, *, what: str = "--pad") -> str | int | tuple[int, ...]:
    """``same``, ``valid``, ``full``, ``N``, ``HxW`` or ``T,B,L,R``.

    Returns the word, an int (all sides), a pair ``(rows, cols)`` or four ints
    ``(top, bottom, left, right)``: the forms :func:`convcli.correlate` takes.

    Examples
    --------
    >>> parse_pad("Same")
    'same'
    >>> parse_pad("1x2")
    (1, 2)
    >>> parse_pad("0,1,0,1")
    (0, 1, 0, 1)
    >>> parse_pad("-1")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --pad must be same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1) \
with integers >= 0, got '-1'
    """
    word = str(text).strip().lower()
    if word in PAD_MODES:
        return word
    numbers = parse_ints(text, what=what, counts=(1, 2, 4), minimum=0,
                         example="same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1)")
    return numbers[0] if len(numbers) == 1 else numbers


def parse_anchor(text: str, *, what: str = "--anchor") -> tuple[int, int]:
    """``R,C`` (row, column of the kernel cell over the output pixel, from 0).

    Examples
    --------
    >>> parse_anchor("1,0")
    (1, 0)
    """
    numbers = parse_ints(text, what=what, counts=(2,), minimum=0, example="R,C (e.g. 1,1)")
    return numbers[0], numbers[1]


def parse_choice(text: str, choices: Iterable[str], *, what: str) -> str:
    """``text`` lower-cased when it is one of ``choices``; else a :class:`UsageError` listing them.

    Examples
    --------
    >>> parse_choice("Each", ("each", "sum", "gray"), what="--channels")
    'each'
    >>> parse_choice("gary", ("each", "sum", "gray"), what="--channels")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --channels must be one of each, sum, gray, got 'gary'; did you mean 'gray'?
    """
    options = list(choices)
    word = str(text).strip().lower()
    if word not in options:
        hint = closest(word, options)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        raise UsageError(f"{what} must be one of {', '.join(options)}, got {text!r}{suggestion}")
    return word
