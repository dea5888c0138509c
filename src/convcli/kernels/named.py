"""Named kernels: a registry of builders, one entry per name.

Every entry of the registry is a :class:`NamedKernel`: the name, its
parameters with their defaults, a one-line definition and the builder that
turns a parsed spec (:class:`convcli.specs.Spec`) into a :class:`Kernel`.
:func:`named_kernel` looks a spec up; adding a kernel is adding one entry.

Named kernels (``r`` is a radius; a kernel of radius ``r`` is ``2r+1`` wide):

========== ================================= ==========================================================
name       parameters (defaults)             definition
========== ================================= ==========================================================
identity   size=1 (N or HxW)                 a single 1 at the default anchor ((H-1)//2, (W-1)//2)
box        size=3 (N or HxW)                 every value 1/(H*W): the mean
gaussian   sigma=1, sigma_y=sigma,           exp(-x²/2σx² - y²/2σy²) sampled at integer offsets,
           radius=int(4*sigma+0.5)           normalised to sum 1 (SciPy's ``gaussian_filter``, truncate=4)
sobel      axis=x (x, y, both), size=3       outer(smooth, deriv) as OpenCV ``getDerivKernels``; x is
           (3, 5, 7)                         [[-1,0,1],[-2,0,2],[-1,0,1]]: positive where intensity
                                             rises to the right; y positive where it rises downward
scharr     axis=x                            as sobel with smooth [3,10,3] (OpenCV ``Scharr``)
prewitt    axis=x                            as sobel with smooth [1,1,1]
laplacian  neighbors=4 (4 or 8)              [[0,1,0],[1,-4,1],[0,1,0]] or [[1,1,1],[1,-8,1],[1,1,1]]
log        sigma=1, radius=int(4*sigma+0.5)  (x²+y²-2σ²)/σ⁴ · G, G the normalised gaussian, minus its
                                             mean so that it sums to 0 (MATLAB ``fspecial('log')``);
                                             negative centre like the laplacian
dog        sigma1=1, sigma2=1.6*sigma1,      G(sigma1) - G(sigma2), both normalised on the common
           radius=int(4*max(σ1,σ2)+0.5)      radius: sums to 0, positive centre when sigma1 < sigma2
sharpen    amount=1                          identity + amount·(identity - box 3x3)
unsharp    amount=1, sigma=1, radius         identity + amount·(identity - gaussian(sigma, radius))
emboss     direction=se (n ne e se s sw w    1 at the centre plus dy·uy + dx·ux at offset (dy, dx), u the
           nw)                               direction's step: se is [[-2,-1,0],[-1,1,1],[0,1,2]]; sums to 1
motion     length=9, angle=0 (degrees,       a line of ``length`` pixels through the centre, each cell
           counter-clockwise from +x)        weighted max(0, 1 - distance to the line), normalised to sum 1
========== ================================= ==========================================================

``sobel/scharr/prewitt:axis=both`` is not one matrix but an **operator**: the
gradient magnitude ``hypot(gx, gy)`` of the two linear kernels, represented as
a :class:`Kernel` whose ``components`` are the two kernels and whose
``combine`` is ``"hypot"``.

ImageMagick's geometry arguments read too (names are case-insensitive):
``Gaussian:RxS`` and ``LoG:RxS`` are radius x sigma (radius 0: automatic, as
``int(4*sigma+0.5)`` above), ``DoG:R,S1,S2`` radius and the two sigmas;
``x`` and ``,`` both separate the numbers.

Examples
--------
>>> named_kernel("sobel:axis=x").matrix.tolist()
[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
>>> named_kernel("gaussian:sigma=2").shape
(17, 17)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from ..errors import KernelError, ParameterError
from ..shapes import MAX_KERNEL_SIDE
from ..specs import Spec, closest, parse_spec, spec_float, spec_int, spec_int_pair
from ._inline import INLINE_EXAMPLE
from ._kernel import FloatMatrix, Kernel

__all__ = ["KernelParam", "NamedKernel", "is_kernel_name", "named_kernel", "named_kernels"]

_MAX_RADIUS: Final = (MAX_KERNEL_SIDE - 1) // 2

@dataclass(frozen=True)
class KernelParam:
    """One parameter of a named kernel: its key, its default (as text) and what it does."""

    name: str
    default: str
    help: str


@dataclass(frozen=True)
class NamedKernel:
    """A named kernel: its parameters, a one-line definition and its builder.

    Examples
    --------
    >>> [p.name for p in named_kernels()[2].params]
    ['sigma', 'sigma_y', 'radius']
    """

    name: str
    params: tuple[KernelParam, ...]
    summary: str
    build: Callable[[Spec], Kernel] = field(repr=False, compare=False)
    operator: str = ""

    def signature(self) -> str:
        """``name:key=default,...`` as shown by ``convcli kernels``.

        Examples
        --------
        >>> named_kernels()[1].signature()
        'box:size=3'
        """
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{p.name}={p.default}" for p in self.params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, signature, params (name, default, help), summary, operator (or None).

        Examples
        --------
        >>> named_kernels()[1].to_dict()["params"]
        [{'name': 'size', 'default': '3', 'help': 'N or HxW'}]
        """
        return {
            "name": self.name,
            "signature": self.signature(),
            "params": [{"name": p.name, "default": p.default, "help": p.help} for p in self.params],
            "summary": self.summary,
            "operator": self.operator or None,
        }


def _choice(spec: Spec, key: str, choices: Sequence[str], default: str) -> str:
    value = spec.params.get(key, default).lower()
    if value not in choices:
        hint = closest(value, choices)
        did = f"; did you mean {hint!r}?" if hint else ""
        raise ParameterError(
            f"{key} must be one of {', '.join(choices)} in {spec.text!r}, got {spec.params[key]!r}{did}"
        )
    return value


def _radius(spec: Spec, key: str, sigma: float, *, what: str = "sigma") -> int:
    """The radius ``int(4*sigma + 0.5)`` unless ``radius=`` is given; refuses kernels over the limit."""
    if "radius" in spec.params:
        return spec_int(spec, "radius", minimum=0, maximum=_MAX_RADIUS)
    wanted = 4.0 * sigma + 0.5
    if not wanted < _MAX_RADIUS + 1:
        needed = f" = {wanted // 1:.0f}" if wanted < 1e9 else ""
        raise ParameterError(
            f"{spec.text!r}: {key}={sigma:g} needs radius int(4*{what}+0.5){needed}, beyond the limit "
            f"of {_MAX_RADIUS} ({MAX_KERNEL_SIDE} per side); use a smaller {key} or set radius= explicitly"
        )
    return int(wanted)


def _gaussian_1d(sigma: float, radius: int) -> FloatMatrix:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _gaussian_matrix(sigma_y: float, sigma_x: float, radius_y: int, radius_x: int) -> FloatMatrix:
    return np.outer(_gaussian_1d(sigma_y, radius_y), _gaussian_1d(sigma_x, radius_x))


def _identity_matrix(shape: tuple[int, int]) -> FloatMatrix:
    m = np.zeros(shape)
    m[(shape[0] - 1) // 2, (shape[1] - 1) // 2] = 1.0
    return m


def _build_identity(spec: Spec) -> Kernel:
    size = spec_int_pair(spec, "size", (1, 1), minimum=1, maximum=MAX_KERNEL_SIDE)
    return Kernel(_identity_matrix(size), spec=spec.text)


def _build_box(spec: Spec) -> Kernel:
    h, w = spec_int_pair(spec, "size", (3, 3), minimum=1, maximum=MAX_KERNEL_SIDE)
    return Kernel(np.full((h, w), 1.0 / (h * w)), spec=spec.text)


def _build_gaussian(spec: Spec) -> Kernel:
    sigma = spec_float(spec, "sigma", 1.0, minimum=0, exclusive=True)
    sigma_y = spec_float(spec, "sigma_y", sigma, minimum=0, exclusive=True)
    radius_x = _radius(spec, "sigma", sigma)
    radius_y = _radius(spec, "sigma_y", sigma_y, what="sigma_y")
    return Kernel(_gaussian_matrix(sigma_y, sigma, radius_y, radius_x), spec=spec.text)


_DERIVATIVE_SMOOTHING: Final = {"scharr": (3.0, 10.0, 3.0), "prewitt": (1.0, 1.0, 1.0)}


def _binomial(n: int) -> FloatMatrix:
    row = np.ones(1)
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _build_derivative(spec: Spec) -> Kernel:
    axis = _choice(spec, "axis", ("x", "y", "both"), "x")
    if spec.name == "sobel":
        size = int(_choice(spec, "size", ("3", "5", "7"), "3"))
        smooth = _binomial(size)
        deriv = np.convolve(_binomial(size - 2), [-1.0, 0.0, 1.0])
        suffix = f",size={size}"
    else:
        smooth = np.array(_DERIVATIVE_SMOOTHING[spec.name])
        deriv = np.array([-1.0, 0.0, 1.0])
        suffix = ""
    gx = np.outer(smooth, deriv)
    if axis == "x":
        return Kernel(gx, spec=spec.text)
    if axis == "y":
        return Kernel(gx.T, spec=spec.text)
    parts = [
        Kernel(gx, spec=f"{spec.name}:axis=x{suffix}"),
        Kernel(gx.T, spec=f"{spec.name}:axis=y{suffix}"),
    ]
    return Kernel.operator(parts, combine="hypot", spec=spec.text)


def _build_laplacian(spec: Spec) -> Kernel:
    neighbors = _choice(spec, "neighbors", ("4", "8"), "4")
    if neighbors == "4":
        m = [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]
    else:
        m = [[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]]
    return Kernel(m, spec=spec.text)


def _build_log(spec: Spec) -> Kernel:
    sigma = spec_float(spec, "sigma", 1.0, minimum=0, exclusive=True)
    r = _radius(spec, "sigma", sigma)
    x = np.arange(-r, r + 1, dtype=np.float64)
    rr = x[:, np.newaxis] ** 2 + x[np.newaxis, :] ** 2
    g = np.exp(-rr / (2.0 * sigma * sigma))
    g /= g.sum()
    h = g * (rr - 2.0 * sigma * sigma) / sigma**4
    return Kernel(h - h.mean(), spec=spec.text)


def _build_dog(spec: Spec) -> Kernel:
    sigma1 = spec_float(spec, "sigma1", 1.0, minimum=0, exclusive=True)
    sigma2 = spec_float(spec, "sigma2", 1.6 * sigma1, minimum=0, exclusive=True)
    if sigma1 == sigma2:
        raise ParameterError(
            f"sigma1 and sigma2 must differ in {spec.text!r} (both {sigma1:g}), or the difference is 0; "
            "the usual ratio is sigma2 = 1.6*sigma1"
        )
    key, big = ("sigma1", sigma1) if sigma1 > sigma2 else ("sigma2", sigma2)
    r = _radius(spec, key, big, what=key)
    g1 = _gaussian_matrix(sigma1, sigma1, r, r)
    g2 = _gaussian_matrix(sigma2, sigma2, r, r)
    return Kernel(g1 - g2, spec=spec.text)


def _amount(spec: Spec) -> float:
    return spec_float(spec, "amount", 1.0, minimum=0)


def _build_sharpen(spec: Spec) -> Kernel:
    amount = _amount(spec)
    ident = _identity_matrix((3, 3))
    return Kernel(ident + amount * (ident - np.full((3, 3), 1.0 / 9.0)), spec=spec.text)


def _build_unsharp(spec: Spec) -> Kernel:
    amount = _amount(spec)
    sigma = spec_float(spec, "sigma", 1.0, minimum=0, exclusive=True)
    r = _radius(spec, "sigma", sigma)
    blur = _gaussian_matrix(sigma, sigma, r, r)
    ident = _identity_matrix((2 * r + 1, 2 * r + 1))
    return Kernel(ident + amount * (ident - blur), spec=spec.text)


_COMPASS: Final = {
    "n": (-1, 0), "ne": (-1, 1), "e": (0, 1), "se": (1, 1),
    "s": (1, 0), "sw": (1, -1), "w": (0, -1), "nw": (-1, -1),
}


def _build_emboss(spec: Spec) -> Kernel:
    uy, ux = _COMPASS[_choice(spec, "direction", tuple(_COMPASS), "se")]
    d = np.arange(-1.0, 2.0)
    m = d[:, np.newaxis] * uy + d[np.newaxis, :] * ux
    m[1, 1] += 1.0
    return Kernel(m, spec=spec.text)


def _unit_direction(degrees: float) -> tuple[float, float]:
    """(cos, sin) of an angle, exact at multiples of 45°."""
    eighth = degrees / 45.0
    if eighth == round(eighth):
        root = math.sqrt(0.5)
        table = [(1.0, 0.0), (root, root), (0.0, 1.0), (-root, root),
                 (-1.0, 0.0), (-root, -root), (0.0, -1.0), (root, -root)]
        return table[round(eighth) % 8]
    radians = math.radians(degrees)
    return math.cos(radians), math.sin(radians)


def _build_motion(spec: Spec) -> Kernel:
    length = spec_int(spec, "length", 9, minimum=1, maximum=MAX_KERNEL_SIDE)
    angle = spec_float(spec, "angle", 0.0)
    c, s = _unit_direction(angle)
    half = (length - 1) / 2.0
    offsets = np.arange(length, dtype=np.float64) - half
    dx = offsets[np.newaxis, :]
    dy = offsets[:, np.newaxis]
    # the line runs along (c, -s) in (column, row) terms: rows grow downward
    t = np.clip(dx * c - dy * s, -half, half)
    distance = np.hypot(dx - t * c, dy + t * s)
    weights = np.clip(1.0 - distance, 0.0, None)
    weights[weights < 1e-9] = 0.0
    rows = np.flatnonzero(weights.any(axis=1))
    cols = np.flatnonzero(weights.any(axis=0))
    trim_r = min(int(rows[0]), length - 1 - int(rows[-1]))
    trim_c = min(int(cols[0]), length - 1 - int(cols[-1]))
    weights = weights[trim_r:length - trim_r, trim_c:length - trim_c]
    return Kernel(weights / weights.sum(), spec=spec.text)


_SIGMA = KernelParam("sigma", "1", "standard deviation in pixels (> 0)")
_RADIUS = KernelParam("radius", "int(4*sigma+0.5)", "half-width: the kernel is 2*radius+1 wide (<= 512)")
_AXIS = KernelParam("axis", "x", "x (rises to the right > 0), y (rises downward > 0) or both (hypot)")
_BOTH = "axis=both: the gradient magnitude hypot(gx, gy) of two kernels"

_NAMED: Final[tuple[NamedKernel, ...]] = (
    NamedKernel("identity", (KernelParam("size", "1", "N or HxW; the 1 sits at the default anchor"),),
                "a single 1: returns the image unchanged", _build_identity),
    NamedKernel("box", (KernelParam("size", "3", "N or HxW"),),
                "uniform mean: every value 1/(H*W), sums to 1", _build_box),
    NamedKernel("gaussian", (_SIGMA, KernelParam("sigma_y", "sigma", "vertical standard deviation (> 0)"),
                             _RADIUS),
                "exp(-x²/2σ² - y²/2σy²) sampled, normalised to sum 1 (SciPy gaussian_filter)",
                _build_gaussian),
    NamedKernel("sobel", (_AXIS, KernelParam("size", "3", "3, 5 or 7 (OpenCV getDerivKernels)")),
                "derivative ⊗ binomial smoothing; x = [[-1,0,1],[-2,0,2],[-1,0,1]] as OpenCV Sobel(dx=1)",
                _build_derivative, operator=_BOTH),
    NamedKernel("scharr", (_AXIS,), "derivative ⊗ [3,10,3]; x = [[-3,0,3],[-10,0,10],[-3,0,3]] (OpenCV)",
                _build_derivative, operator=_BOTH),
    NamedKernel("prewitt", (_AXIS,), "derivative ⊗ [1,1,1]; x = [[-1,0,1],[-1,0,1],[-1,0,1]]",
                _build_derivative, operator=_BOTH),
    NamedKernel("laplacian", (KernelParam("neighbors", "4", "4: [[0,1,0],[1,-4,1],[0,1,0]]; 8: all 1, -8"),),
                "second difference, sums to 0, negative centre", _build_laplacian),
    NamedKernel("log", (_SIGMA, _RADIUS),
                "Laplacian of Gaussian (x²+y²-2σ²)/σ⁴·G minus its mean: sums to 0, negative centre",
                _build_log),
    NamedKernel("dog", (KernelParam("sigma1", "1", "the narrow gaussian (> 0)"),
                        KernelParam("sigma2", "1.6*sigma1", "the wide gaussian (> 0, != sigma1)"),
                        KernelParam("radius", "int(4*max(sigma1,sigma2)+0.5)", "common half-width (<= 512)")),
                "difference of Gaussians G(sigma1) - G(sigma2): sums to 0", _build_dog),
    NamedKernel("sharpen",
                (KernelParam("amount", "1", "strength (>= 0); 9 gives 9 in the centre, -1 around"),),
                "identity + amount·(identity - 3x3 box)", _build_sharpen),
    NamedKernel("unsharp", (KernelParam("amount", "1", "strength (>= 0)"), _SIGMA, _RADIUS),
                "unsharp mask: identity + amount·(identity - gaussian(sigma))", _build_unsharp),
    NamedKernel("emboss",
                (KernelParam("direction", "se", "n, ne, e, se, s, sw, w or nw: the positive side"),),
                "relief: 1 at the centre plus the offset along direction; se = [[-2,-1,0],[-1,1,1],[0,1,2]]",
                _build_emboss),
    NamedKernel("motion", (KernelParam("length", "9", "line length in pixels (1..1025)"),
                           KernelParam("angle", "0", "degrees counter-clockwise from the +x axis")),
                "motion blur: an anti-aliased line through the centre, normalised to sum 1", _build_motion),
)
_BY_NAME: Final = {k.name: k for k in _NAMED}


def named_kernels() -> list[NamedKernel]:
    """The named kernels in documentation order.

    Examples
    --------
    >>> [k.name for k in named_kernels()][:4]
    ['identity', 'box', 'gaussian', 'sobel']
    >>> named_kernels()[3].signature()
    'sobel:axis=x,size=3'
    """
    return list(_NAMED)



def is_kernel_name(name: str) -> bool:
    """Whether ``name`` (case-insensitive) names a kernel of the registry.

    Examples
    --------
    >>> is_kernel_name("Gaussian"), is_kernel_name("gausian")
    (True, False)
    """
    return name.strip().lower() in _BY_NAME


def named_kernel(text: str) -> Kernel:
    """The kernel a ``name[:key=value,...]`` spec names.

    Raises
    ------
    KernelError
        For an unknown name (the closest one is suggested).
    ParameterError
        For an unknown key (the valid ones listed) or a bad value.

    Examples
    --------
    >>> named_kernel("box:size=2x3").shape
    (2, 3)
    >>> named_kernel("gausian")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: unknown kernel 'gausian' in 'gausian'; did you mean 'gaussian'? ...
    """
    text = _from_imagemagick(text)
    known = _BY_NAME.get(text.partition(":")[0].strip().lower())
    spec = parse_spec(text, what="kernel", keys=[p.name for p in known.params] if known else ())
    entry = _BY_NAME.get(spec.name)
    if entry is None:
        raise KernelError(_unknown_name_message(spec, text))
    spec.check_keys([p.name for p in entry.params], what=f"kernel {entry.name!r}")
    return entry.build(spec)


#: ImageMagick's geometry arguments of a kernel: ``Gaussian:0x2``, ``DoG:0,1,1.6``
_IMAGEMAGICK_ARGS: Final = re.compile(r"^\s*([A-Za-z]+)\s*:\s*([-+.\deE]+(?:\s*[x,]\s*[-+.\deE]+)+)\s*$")
#: the keys of those arguments, in ImageMagick's order (radius first; radius 0 = automatic)
_IMAGEMAGICK_KEYS: Final = {"gaussian": ("radius", "sigma"), "log": ("radius", "sigma"),
                            "dog": ("radius", "sigma1", "sigma2")}


def _from_imagemagick(text: str) -> str:
    """``Gaussian:0x2`` as ``gaussian:sigma=2`` (radius 0: automatic); any other spec unchanged.

    Examples
    --------
    >>> _from_imagemagick("Gaussian:0x2"), _from_imagemagick("LoG:3,1.5"), _from_imagemagick("DoG:0,1,1.6")
    ('gaussian:sigma=2', 'log:radius=3,sigma=1.5', 'dog:sigma1=1,sigma2=1.6')
    >>> _from_imagemagick("gaussian:sigma=2")
    'gaussian:sigma=2'
    """
    found = _IMAGEMAGICK_ARGS.match(text)
    if found is None:
        return text
    name = found.group(1).lower()
    values = [v.strip() for v in re.split(r"\s*[x,]\s*", found.group(2))]
    keys = _IMAGEMAGICK_KEYS.get(name)
    if keys is None or len(values) != len(keys):
        return text
    pairs = [f"{key}={value}" for key, value in zip(keys, values, strict=True)
             if not (key == "radius" and value in ("0", "0.0"))]
    return f"{name}:{','.join(pairs)}"


def _unknown_name_message(spec: Spec, text: str) -> str:
    names = [k.name for k in _NAMED]
    hint = closest(spec.name, names)
    did = f"did you mean {hint!r}? " if hint else ""
    message = (
        f"unknown kernel {spec.name!r} in {text!r}; {did}named kernels: {', '.join(names)} "
        "(see 'convcli kernels')"
    )
    if os.path.exists(text):
        message += f"; to read the file {text!r} write '@{text}'"
    elif not hint:
        message += f"; an inline matrix looks like {INLINE_EXAMPLE}, a file like 'kernels/emboss.txt'"
    return message


