"""Layer specs: ``conv:k=7,s=2,p=3``, ``pool:k=3,s=2,p=1,ceil=true`` and pooling specs, parsed into layers.

A layer spec shares the grammar of kernels and pooling (:mod:`convcli.specs`):
``conv:k=7,s=2,p=3``, ``pool:k=3,s=2,p=1,ceil=true``, or a pooling operation
(``max``, ``mean``, ``min``) with ``apply``'s keys (``max:size=3,stride=2``).
Defaults are set once, here: a pooling window is 2x2 unless given and its
stride is the window (seed 003).  :func:`parse_pool` is the one parser of
pooling specs (``apply --pool``, ``explain``, ``outsize --pool``).

Examples
--------
>>> parse_layer("conv:k=7,s=2,p=3").stride
(2, 2)
>>> parse_pool("max:size=3,stride=2").text
'max:size=3,stride=2'
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from .errors import ParameterError
from .layers import DEFAULT_POOL_SIZE, Layer, LayerKind
from .shapes import POOL_OPS, resolve_pool_pad
from .specs import Spec, closest, parse_spec, spec_bool, spec_int_pair, spec_pad

__all__ = ["parse_layer", "parse_pool"]

_LAYER_NAMES = ("conv", "pool", *POOL_OPS)
#: other names of pooling operations: ``avg:size=2`` is ``mean:size=2`` (PyTorch's AvgPool, vips' average)
_POOL_ALIASES: Final = {"avg": "mean", "average": "mean"}
#: Long key names accepted in layer specs, so that ``--pool max:size=3,stride=2``
#: (the ``apply`` grammar) and ``pool:k=3,s=2`` mean the same thing.
_KEY_ALIASES = {"kernel": "k", "size": "k", "stride": "s", "pad": "p", "dilation": "d"}
_LAYER_KEYS: dict[str, tuple[str, ...]] = {"conv": ("k", "s", "p", "d"), "pool": ("k", "s", "p", "ceil")}


def parse_layer(text: str) -> Layer:
    """Parse a layer spec such as ``conv:k=7,s=2,p=3`` or ``pool:k=3,s=2,p=1,ceil=true``.

    Parameters
    ----------
    text : str
        ``conv`` or ``pool`` (or a pooling op: ``max``, ``mean``, ``min``)
        followed by ``key=value`` pairs in the shared spec grammar:

        ========  ====================================  ==========================
        key       meaning                               default
        ========  ====================================  ==========================
        k         kernel / window: ``N`` or ``HxW``     conv: required; pooling 2
        s         stride: ``N`` or ``HxW``              conv 1, pooling the window
        p         pad: ``N`` or ``HxW``; conv also      0 (as PyTorch)
                  ``same``, ``valid``, ``full``
        d         conv dilation: ``N`` or ``HxW``       1
        ceil      pooling ``ceil_mode``: true/false     false
        ========  ====================================  ==========================

        ``size``/``kernel``, ``stride``, ``pad`` and ``dilation`` are accepted
        for ``k``, ``s``, ``p`` and ``d``, so ``apply``'s ``--pool`` specs
        (``max:size=3,stride=2``, or just ``max``) parse too.

    Returns
    -------
    Layer

    Raises
    ------
    ParameterError
        For an unknown layer name or key, a missing ``k`` or a bad value,
        quoting the spec.

    Examples
    --------
    >>> layer = parse_layer("conv:k=7,s=2,p=3")
    >>> layer.kind, layer.kernel, layer.stride, layer.pad, layer.dilation
    ('conv', (7, 7), (2, 2), (3, 3), (1, 1))
    >>> parse_layer("max:size=3,stride=2,ceil=true").stride
    (2, 2)
    >>> parse_layer("pool:k=3x2").stride
    (3, 2)
    >>> parse_layer("max").kernel, parse_layer("mean:stride=1").stride
    ((2, 2), (1, 1))
    >>> parse_layer("conv:k=3,ceil=true")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: a conv layer has no parameter 'ceil' (in 'conv:k=3,ceil=true'); valid: ...
    """
    spec = parse_spec(text, what="layer")
    return _layer_from_spec(spec)


def parse_pool(text: str, *, what: str = "--pool", require_op: bool = True) -> Layer:
    """Parse a pooling spec: ``max``, ``mean:size=3,stride=2``, ``min:k=2,ceil=true`` …

    The one parser of pooling specs: ``apply --pool`` (through
    :meth:`convcli.operations.Pooling.from_spec`), ``explain``'s pooling and
    ``outsize --pool`` all use it, so the defaults (a 2x2 window, the stride
    the window) and the keys (see :func:`parse_layer`) agree everywhere.

    Parameters
    ----------
    text : str
        ``OP[:key=value,...]`` with ``OP`` one of ``max``, ``mean`` (``avg``), ``min``.
    what : str, optional
        What the spec is given as (``"--pool"``, ``"pooling spec"``), for messages.
    require_op : bool, optional
        With ``False``, ``pool`` (any operation: sizes only) is accepted too.

    Returns
    -------
    Layer
        A pool layer whose ``op`` names the operation (``None`` for ``pool``).

    Raises
    ------
    ParameterError
        For another name, an unknown key or a bad value, quoting the spec.

    Examples
    --------
    >>> layer = parse_pool("max")
    >>> layer.op, layer.kernel, layer.stride, layer.pad, layer.ceil_mode
    ('max', (2, 2), (2, 2), (0, 0), False)
    >>> parse_pool("mean:size=3,stride=2,pad=1").stride
    (2, 2)
    >>> parse_pool("avg:size=3").op  # an alias
    'mean'
    >>> parse_pool("conv:k=3")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --pool 'conv:k=3': the operation must be max, mean or min, e.g. max:size=2
    >>> parse_pool("max:size=3,pad=2")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: pooling pad must be at most half the window ... got pad=2 for a 3-row window
    """
    spec = parse_spec(text, what=what, keys=("size", "stride", "pad", "ceil"))
    names = (*POOL_OPS, *_POOL_ALIASES) if require_op else (*POOL_OPS, *_POOL_ALIASES, "pool")
    if spec.name not in names:
        also = "" if require_op else " (or pool, for sizes only)"
        raise ParameterError(f"{what} {spec.text!r}: the operation must be max, mean or min{also}, e.g. max:size=2")
    layer = _layer_from_spec(spec)
    resolve_pool_pad(layer.pad, layer.kernel)  # the spec alone must be a valid pooling, wherever it is used
    return layer


def _layer_from_spec(spec: Spec) -> Layer:
    """A layer from a parsed spec (:func:`parse_layer`, :func:`parse_pool`): the defaults are set here."""
    spec = replace(spec, name=_POOL_ALIASES.get(spec.name, spec.name))  # avg:size=2 is mean:size=2
    if spec.name not in _LAYER_NAMES:
        hint = closest(spec.name, _LAYER_NAMES)
        did_you_mean = f" did you mean {hint!r}?" if hint else ""
        raise ParameterError(
            f"layer {spec.text!r} has an unknown kind {spec.name!r};{did_you_mean} valid: "
            f"{', '.join(_LAYER_NAMES)} (e.g. 'conv:k=3,p=same', 'pool:k=2')"
        )
    kind: LayerKind = "conv" if spec.name == "conv" else "pool"
    keys = _LAYER_KEYS[kind]
    spec.check_keys([*keys, *(alias for alias, key in _KEY_ALIASES.items() if key in keys)],
                    what=f"a {kind} layer")
    used: dict[str, str] = {}  # short key -> the key as written (``size`` for ``k``), for messages
    for key in spec.params:
        short = _KEY_ALIASES.get(key, key)
        if short in used:
            raise ParameterError(f"layer {spec.text!r} gives {short!r} twice (as {used[short]!r} and "
                                 f"{key!r}); give it once")
        used[short] = key
    default_size = None if kind == "conv" else (DEFAULT_POOL_SIZE, DEFAULT_POOL_SIZE)
    kernel = spec_int_pair(spec, used.get("k", "k"), default_size)
    if kind == "conv":
        return Layer.conv(
            kernel,
            stride=spec_int_pair(spec, used.get("s", "s"), (1, 1)),
            pad=spec_pad(spec, used.get("p", "p"), (0, 0)),
            dilation=spec_int_pair(spec, used.get("d", "d"), (1, 1)),
            text=spec.text,
        )
    return Layer.pool(
        kernel,
        stride=spec_int_pair(spec, used.get("s", "s"), kernel),
        pad=spec_int_pair(spec, used.get("p", "p"), (0, 0), minimum=0),
        ceil_mode=spec_bool(spec, "ceil"),
        op=None if spec.name == "pool" else spec.name,
        text=spec.text,
    )
