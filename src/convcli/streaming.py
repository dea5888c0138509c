"""Every chain of operations, strip by strip: each stage pulls the rows (plus halo) it needs from the one before.

:func:`stream_filter` builds, for one image and the operations of
:mod:`convcli.pipeline`, a small graph of *stages*, each of which can give any
band of its output rows on demand (:meth:`Stage.read`):

=================  ===============================================================
stage              computes
=================  ===============================================================
:class:`Source`    rows of the image (an array, or an image source read lazily)
:class:`Map`       an element-wise function of one or more stages' rows (decoding
                   sRGB, luminance, channel sums, activations, alpha weighting,
                   the magnitude of an operator's components)
:class:`Correlate` rows of one correlation (the engine's
                   :class:`~convcli.engine._window.StripCorrelation`)
:class:`Pooled`    rows of a pooling (:func:`convcli.pooling.pool_rows`)
=================  ===============================================================

A correlation asks its input for exactly the rows its next strip reads (the
border rows too, through the same index maps as the whole image), in strips
aligned to the method's granularity; a pooling asks for its windows' rows.
Each stage keeps the last band it computed, so the halo shared by
consecutive strips is computed once.  The result of every stage is, row for
row, the same bytes as the whole-image computation: that is what the tests
check, chain by chain, against the whole-array path.

Memory follows the strip, not the image: the output is produced in strips of
about :data:`STRIP_ELEMENTS` samples, and each stage holds one band plus its
halo.  The input is read as the first stage needs it; a source in memory (an
image Pillow decoded) is only read, never copied whole.

Missing data streams too: NaN propagation, normalised convolution
(``nan="ignore"``) and a mask (an array, or a source read by rows alongside
the image, :func:`convcli.batch.results.read_mask`) are computed from each
strip's rows by the engine (:mod:`convcli.engine._window`).  What needs the
whole image: a float input whose values ``auto`` must see to judge the FFT's
precision (one streamed pass over the stage's input, not a copy), and
``range_mode="normalize"``, which needs the whole result's minimum and
maximum: the chain runs twice, once to find them and once to convert.

Examples
--------
>>> from convcli.operations import Activate, Convolve, Pooling
>>> image = (np.arange(40 * 30) % 251).astype(np.uint8).reshape(40, 30)
>>> stream = stream_filter(image, [Convolve("gaussian:sigma=1"), Activate("relu"), Pooling("max", 2)], depth="8",
...                        strip_rows=4)
>>> stream.shape, stream.dtype
((20, 15), dtype('uint8'))
>>> [first for first, band in stream][:3]
[0, 4, 8]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from .colour import decode_samples, encode_samples
from .depth import Depth, RangeMode, finite_range, nominal_max, to_depth
from .engine import work_dtype
from .engine._window import StripCorrelation
from .errors import ParameterError
from .operations import Activate, Convolve, Operation, Pooling, check_operations
from .pooling import pool_input_rows, pool_rows
from .shapes import resolve_pool

__all__ = ["CHANNELS", "STRIP_ELEMENTS", "ImageLike", "Stage", "Stream", "check_mask", "stream_filter", "stream_image",
           "sum_point"]

#: aim for strips in which no stage computes more than about this many samples (float32: 8 MiB)
STRIP_ELEMENTS = 1 << 20

#: ``channels=``: filter every channel alike, depth-sum the first convolution's responses, or luminance first
CHANNELS: tuple[str, ...] = ("each", "sum", "gray")

#: ITU-R 601-2 luma weights, as Pillow's "L" conversion
LUMA = (0.299, 0.587, 0.114)


class ImageLike(Protocol):
    """What :func:`stream_filter` reads: an :class:`~convcli.imageio.ImageSource` or anything alike."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def read(self, r0: int, r1: int) -> np.ndarray: ...


#: ``mask=``: an array, or a source read by rows as the image is (:func:`convcli.batch.results.read_mask`)
MaskLike = np.ndarray | ImageLike


def _finite(array: np.ndarray) -> bool:
    """Whether an array in memory holds no NaN/inf (one float64 summing pass; an overflow says no, safely)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(array, dtype=np.float64)))


class Stage:
    """Rows of one intermediate image (``H x W x C``), computed on demand and kept one band at a time.

    Attributes
    ----------
    shape : (int, int, int)
    dtype : numpy.dtype
    finite : bool
        Every value is known to be finite (so a correlation of it streams).
    unit : int
        Bands are computed in multiples of this many rows (from 0).
    """

    unit = 1
    inputs: tuple[Stage, ...] = ()

    def __init__(self, shape: tuple[int, int, int], dtype: Any, *, finite: bool) -> None:
        self.shape = (int(shape[0]), int(shape[1]), int(shape[2]))
        self.dtype = np.dtype(dtype)
        self.finite = finite
        self._first, self._block = 0, np.empty((0, *self.shape[1:]), self.dtype)

    def compute(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``[r0, r1)`` (``r0`` a multiple of :attr:`unit`), a fresh array."""
        raise NotImplementedError

    def read(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``[r0, r1)`` of this stage's output; callers must not modify them."""
        first, block = self._first, self._block
        last = first + block.shape[0]
        if first <= r0 and r1 <= last:
            return block[r0 - first : r1 - first]
        keep = first <= r0 < last  # moving down: keep the rows already computed, compute the rest
        start = last if keep else r0
        c0 = start // self.unit * self.unit
        c1 = min(-(-r1 // self.unit) * self.unit, self.shape[0])
        new = self.compute(c0, c1)
        if keep:
            self._first, self._block = r0, np.concatenate([block[r0 - first :], new[last - c0 :]])
        else:
            self._first, self._block = c0, new
        return self._block[r0 - self._first : r1 - self._first]

    def strip_rows(self, budget: int) -> int:
        """Output rows per strip such that no stage of the chain computes more than about ``budget`` samples a strip."""
        seen: dict[int, Stage] = {}
        todo: list[Stage] = [self]
        while todo:
            stage = todo.pop()
            if id(stage) not in seen:
                seen[id(stage)] = stage
                todo.extend(stage.inputs)
        h = self.shape[0]
        widest = max(s.shape[1] * s.shape[2] * s.shape[0] / h for s in seen.values())
        return max(1, int(budget // widest))


class Source(Stage):
    """The image itself: an array in memory (or a source holding one), or an image source read band by band."""

    def __init__(self, image: np.ndarray | ImageLike) -> None:
        held = getattr(image, "array", None) if getattr(image, "lazy", True) is False else None
        self.array = image if isinstance(image, np.ndarray) else (held if isinstance(held, np.ndarray) else None)
        shape = tuple(image.shape)
        shape3 = (*shape[:2], shape[2] if len(shape) == 3 else 1)
        dtype = np.dtype(image.dtype)
        self.image = image
        self.native = dtype.newbyteorder("=")  # byte order never changes a result: rows are read native
        super().__init__(shape3, self.native,
                         finite=dtype.kind in "biu" or (self.array is not None and _finite(self.array)))

    def compute(self, r0: int, r1: int) -> np.ndarray:
        rows = self.array[r0:r1] if self.array is not None else self.image.read(r0, r1)  # type: ignore[union-attr]
        rows = rows.astype(self.native, copy=False)
        return rows[:, :, None] if rows.ndim == 2 else rows

    def read(self, r0: int, r1: int) -> np.ndarray:
        if self.array is not None:  # a view: nothing to keep
            return self.compute(r0, r1)
        return super().read(r0, r1)


class Map(Stage):
    """An element-wise function of the same rows of one or more stages."""

    def __init__(self, func: Callable[..., np.ndarray], *inputs: Stage, channels: int | None = None,
                 dtype: Any = None, finite: bool | None = None) -> None:
        self.func, self.inputs = func, inputs
        base = inputs[0]
        shape = (base.shape[0], base.shape[1], base.shape[2] if channels is None else channels)
        super().__init__(shape, base.dtype if dtype is None else dtype,
                         finite=all(s.finite for s in inputs) if finite is None else finite)

    def compute(self, r0: int, r1: int) -> np.ndarray:
        return self.func(*(s.read(r0, r1) for s in self.inputs))


class Correlate(Stage):
    """One correlation (or convolution) of a stage with one matrix, exactly as :func:`convcli.correlate`.

    A finite array source is correlated in place; any other stage (a file
    read by rows, an earlier stage, an array that may hold NaN) is read strip
    by strip, NaN and mask included.
    """

    def __init__(self, upstream: Stage, op: Convolve, matrix: np.ndarray, *, border_value: float,
                 normalized: bool = False, mask: MaskLike | None = None, precise: bool = False) -> None:
        self.inputs = (upstream,)
        array = upstream.array if isinstance(upstream, Source) else None
        if array is None or normalized or mask is not None or not upstream.finite:
            array = None  # read by strips: missing data's derived images never exist whole, an array's neither
        source = array if array is not None else (upstream.shape, upstream.dtype, upstream.read)
        self.strips = StripCorrelation(
            source, matrix, flip=op.flip, border=op.border, border_value=border_value, pad=op.pad,
            stride=op.stride, dilation=op.dilation, method=op.method, anchor=op.effective_anchor(),
            nan="ignore" if normalized else "propagate", nan_fill=op.nan_fill, mask=mask, finite=upstream.finite,
            work=np.float64 if precise else None)
        c = upstream.shape[2]
        self.unit = self.strips.unit
        ho, wo = self.strips.out_hw
        finite = upstream.finite and bool(np.isfinite(border_value))
        super().__init__((ho, wo, c), self.strips.plan.dtype, finite=finite and not normalized)

    def compute(self, r0: int, r1: int) -> np.ndarray:
        return self.strips.rows(r0, r1)


class Pooled(Stage):
    """Pooling of a stage (:func:`convcli.pooling.pool_rows`)."""

    def __init__(self, upstream: Stage, op: Pooling, precise: bool = False) -> None:
        self.upstream, self.op, self.inputs = upstream, op, (upstream,)
        self.geometry = resolve_pool(op.size, stride=op.stride, pad=op.pad)
        h, w, c = upstream.shape
        ho, wo = op.output_hw((h, w))
        super().__init__((ho, wo, c), _work(upstream.dtype, precise),
                         finite=upstream.finite)

    def compute(self, r0: int, r1: int) -> np.ndarray:
        window, stride, pad = self.geometry
        a, b = pool_input_rows(window, stride, pad, (r0, r1), self.upstream.shape[0])
        band = self.upstream.read(a, b)
        if self.dtype == np.float64 and band.dtype != np.float64:  # precise: pool in float64 too
            band = band.astype(np.float64)
        return pool_rows(band, a, self.upstream.shape[:2], window, stride, pad, self.shape[:2], op=self.op.op,
                         rows=(r0, r1))


def _work(dtype: Any, precise: bool = False) -> type[np.floating]:
    """The float type a stage of ``dtype`` computes in: the engine's rule, or float64 when ``precise``."""
    return np.float64 if precise else work_dtype(np.dtype(dtype)).type


def _luma(stage: Stage, precise: bool = False) -> Stage:
    """Luminance (ITU-R 601-2), for ``channels="gray"`` (:mod:`convcli.pipeline`)."""
    dtype = _work(stage.dtype, precise)

    def luma(rows: np.ndarray) -> np.ndarray:
        c = rows.astype(dtype)
        if c.shape[2] < 3:
            return c[..., :1]
        return (c[..., 0:1] * dtype(LUMA[0]) + c[..., 1:2] * dtype(LUMA[1])
                + c[..., 2:3] * dtype(LUMA[2])).astype(dtype)

    return Map(luma, stage, channels=1, dtype=dtype)


def _sum(stage: Stage) -> Stage:
    return Map(lambda x: x.sum(axis=2, dtype=x.dtype, keepdims=True), stage, channels=1)


def _as_work(stage: Stage, precise: bool = False) -> Stage:
    dtype = _work(stage.dtype, precise)
    return stage if stage.dtype == dtype else Map(lambda x: x.astype(dtype), stage, dtype=dtype)


def _convolve(stage: Stage, op: Convolve, *, add_offset: bool = True, mask: MaskLike | None = None,
              precise: bool = False) -> Stage:
    """:meth:`Convolve.run` as stages: each matrix, the operator's combination, the offset."""
    responses = [Correlate(stage, op, m, border_value=float(op.border_value), normalized=op.normalized or
                           mask is not None, mask=mask, precise=precise) for m in op.matrices()]
    out: Stage = responses[0]
    if op.kernel.is_operator:
        out = Map(lambda *r: op.kernel.combine_responses(r), *responses)
    if add_offset and op.kernel.offset:
        offset = op.kernel.offset
        out = Map(lambda x: x + x.dtype.type(offset), out)
    return out


def _activate(stage: Stage, op: Activate, scale: float, precise: bool = False) -> Stage:
    return Map(lambda x: op.run(x, scale=scale), stage, dtype=_work(stage.dtype, precise))


def _plain(work: Stage, operations: Sequence[Operation], *, channels: str, scale: float,
           mask: MaskLike | None, precise: bool = False) -> Stage:
    """The operations without alpha (the plain path of :mod:`convcli.pipeline`'s rules)."""
    out = work
    sum_at = sum_point(operations) if channels == "sum" else None
    if sum_at == -1:
        out = _sum(_as_work(out, precise))
    for index, op in enumerate(operations):
        if isinstance(op, Activate):
            out = _activate(out, op, scale, precise)
        elif isinstance(op, Convolve):
            out = _convolve(out, op, mask=mask if index == 0 else None, precise=precise)
        else:
            out = Pooled(out, op, precise)
        if index == sum_at:
            out = _sum(out)
    target = _work(work.dtype, precise)
    if out is work or out.dtype != target:
        out = Map(lambda x: x.astype(target), out, dtype=target)
    return out


def sum_point(operations: Sequence[Operation]) -> int:
    """Index of the operation after which ``channels="sum"`` adds the channels (-1: before the first).

    Examples
    --------
    >>> from convcli.operations import Activate, Convolve
    >>> sum_point([Activate("relu"), Convolve("box")]), sum_point([Activate("relu")])
    (1, -1)
    """
    return next((i for i, op in enumerate(operations) if isinstance(op, Convolve)), -1)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0).astype(num.dtype)


def _alpha(colour: Stage, weight: Stage, operations: Sequence[Operation], *, channels: str,
           scale: float, precise: bool = False) -> tuple[Stage, Stage]:
    """Straight colour and alpha weight (0..1) through the operations (the pipeline's alpha notes)."""
    sum_at = sum_point(operations) if channels == "sum" else None
    if sum_at == -1:
        colour = _sum(colour)
    for index, op in enumerate(operations):
        if isinstance(op, Activate):
            colour = _activate(colour, op, scale, precise)
        elif isinstance(op, Convolve) or (isinstance(op, Pooling) and op.op == "mean"):
            premultiplied = Map(lambda c, w: c * w, colour, weight)
            if isinstance(op, Convolve):
                num = _convolve(premultiplied, op, add_offset=False, precise=precise)
                weight = Correlate(weight, op, op.weight_matrix(), border_value=1.0, precise=precise)
                offset = op.kernel.offset
            else:
                num, weight, offset = Pooled(premultiplied, op), Pooled(weight, op), 0.0
            colour = Map(_divide, num, weight)
            if offset:
                colour = Map(lambda x, o=offset: x + x.dtype.type(o), colour)
        else:  # max/min pooling: fully transparent pixels take no part
            fill = -np.inf if op.op == "max" else np.inf
            masked = Map(lambda c, w, f=fill: np.asarray(np.where(w > 0, c, f), c.dtype), colour, weight,
                         finite=True)  # the filled pixels never win a window that sees a visible one
            visible = Map(lambda w, d=colour.dtype: (w > 0).astype(d), weight, dtype=colour.dtype)
            seen = Pooled(visible, Pooling("max", op.size, op.stride, op.pad, op.ceil_mode))
            pooled = Pooled(masked, op)
            colour = Map(lambda p, s: np.where(s > 0, p, 0).astype(p.dtype), pooled, seen)
            weight = Pooled(weight, op)
        if index == sum_at:
            colour = _sum(colour)
    return colour, weight


def check_mask(operations: Sequence[Operation], mask: MaskLike | None, translucent: bool) -> None:
    """Refuse a mask without a first convolution, and missing data together with a (not opaque) alpha channel."""
    if mask is not None and not (operations and isinstance(operations[0], Convolve)):
        raise ParameterError("a mask applies to the first operation, which must be a convolution (give a kernel)")
    if translucent and (mask is not None or any(isinstance(op, Convolve) and op.normalized for op in operations)):
        raise ParameterError("ignoring missing data (--nan ignore, --mask) cannot be combined with an alpha channel "
                             "that is not fully opaque: alpha already weights the pixels; make transparent "
                             "pixels the missing ones instead, or drop the alpha channel")


def _all_opaque(source: Stage, scale: float) -> bool:
    """Whether the last channel (alpha) is at full scale everywhere (one pass for a file)."""
    h = source.shape[0]
    return all(bool(np.all(source.read(r, min(r + 256, h))[..., -1] == scale)) for r in range(0, h, 256))


def stream_image(
    image: np.ndarray | ImageLike,
    operations: Sequence[Operation],
    *,
    channels: str = "each",
    alpha: bool = False,
    keep_alpha: bool = False,
    linear: bool = False,
    mask: MaskLike | None = None,
    precise: bool = False,
) -> tuple[Stage, bool]:
    """The float result of the chain as a stage, and whether it is ``H x W``.

    Same arguments as :func:`stream_filter` with ``depth=None`` (which collects
    this stage's rows); ``image`` may also be an image source read band by band.
    ``precise``: compute every stage in float64 (:func:`stream_filter` asks it
    for 16-bit samples rounded to an integer depth: float32 sums above 2**24
    would put some outputs one level off beside a tie).
    """
    check_operations(operations)
    if channels not in CHANNELS:
        raise ParameterError(f"unknown channels mode {channels!r}; use one of {', '.join(CHANNELS)}")
    shape, dtype = tuple(image.shape), np.dtype(image.dtype)
    if dtype.kind not in "biuf" or len(shape) not in (2, 3) or min(shape) < 1:
        raise ParameterError(f"image must be a non-empty H x W or H x W x C array of real numbers, got shape "
                             f"{shape} and dtype {dtype}")
    scale = nominal_max(dtype)
    work = np.float64 if linear or precise else _work(dtype)
    source = Source(image)
    has_alpha = alpha and len(shape) == 3 and shape[2] >= 2
    opaque = has_alpha and _all_opaque(source, scale)
    check_mask(operations, mask, has_alpha and not opaque)
    if not has_alpha:
        stage: Stage = Map(lambda x: decode_samples(x, work), source, dtype=work) if linear else source
        if channels == "gray":
            stage = _luma(stage, precise)
        flat = len(shape) == 2 or channels in ("gray", "sum")
        out = _plain(stage, operations, channels=channels, scale=scale, mask=mask, precise=precise)
        return (Map(lambda x: encode_samples(x.copy(), scale), out) if linear else out), flat
    c = shape[2]
    colour: Stage = Map(lambda x: (decode_samples(x[..., :-1], work) if linear else x[..., :-1].astype(work)),
                        source, channels=c - 1, dtype=work)
    if channels == "gray":
        colour = _luma(colour, precise)
    if opaque:
        colour = _plain(colour, operations, channels=channels, scale=scale, mask=mask, precise=precise)
        weight: Stage = Map(lambda x: np.ones((*x.shape[:2], 1), x.dtype), colour, channels=1)
    else:
        weight = Map(lambda x: x[..., -1:].astype(work) / work(scale), source, channels=1, dtype=work)
        colour, weight = _alpha(colour, weight, operations, channels=channels, scale=scale, precise=precise)
    if linear:
        colour = Map(lambda x: encode_samples(x.copy(), scale), colour)
    if channels == "sum":
        return colour, True
    if keep_alpha:
        if weight.shape[:2] != source.shape[:2]:
            h, w = source.shape[:2]
            raise ParameterError(f"keeping alpha (--alpha keep) needs the output to keep the input's size {w}x{h}, "
                                 f"but the operations give {weight.shape[1]}x{weight.shape[0]}; use --alpha filter")
        alpha_stage: Stage = Map(lambda x: x[..., -1:].astype(work), source, channels=1, dtype=work)
    else:
        alpha_stage = Map(lambda x: x * work(scale), weight)
    return Map(lambda col, a: np.concatenate([col, a.astype(col.dtype)], axis=2), colour, alpha_stage,
               channels=colour.shape[2] + 1), False


class Stream:
    """The output samples of one image, in strips of rows: ``for first_row, band in stream``.

    Attributes
    ----------
    shape : tuple of int
        The whole output's shape (``H x W`` or ``H x W x C``).
    dtype : numpy.dtype
        The output samples' type (``uint8``, ``uint16``, float).
    rows : int
        Rows per strip.
    """

    def __init__(self, stage: Stage, flat: bool, convert: Callable[[np.ndarray], np.ndarray], dtype: Any,
                 rows: int) -> None:
        self.stage, self.flat, self.convert, self.rows = stage, flat, convert, rows
        h, w, c = stage.shape
        self.shape = (h, w) if flat else (h, w, c)
        self.dtype = np.dtype(dtype)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        h = self.shape[0]
        for r0 in range(0, h, self.rows):
            band = self.convert(self.stage.read(r0, min(r0 + self.rows, h)))
            yield r0, (band[..., 0] if self.flat else band)

    def band(self, r0: int, r1: int) -> np.ndarray:
        """Output rows ``[r0, r1)``, computed in strips of :attr:`rows` (the same bytes as those rows of the whole).

        Each stage reads only the rows (and halo) these strips need, so a band
        of a huge image costs the band, not the image.
        """
        if not 0 <= r0 < r1 <= self.shape[0]:
            raise ValueError(f"rows must satisfy 0 <= r0 < r1 <= {self.shape[0]}, got {r0}, {r1}")
        out = np.empty((r1 - r0, *self.shape[1:]), self.dtype)
        for r in range(r0, r1, self.rows):
            part = self.convert(self.stage.read(r, min(r + self.rows, r1)))
            out[r - r0 : r - r0 + part.shape[0]] = part[..., 0] if self.flat else part
        return out

    def finite_range(self, r0: int, r1: int, *, alpha: bool = False) -> tuple[float, float] | None:
        """The finite minimum and maximum of rows ``[r0, r1)`` before the depth conversion (None: none finite).

        The colour channels only (``alpha``: the last channel is alpha).  The
        range of the whole result is the fold of its bands' ranges: what
        ``range_mode="normalize"`` stretches, found strip by strip.

        Examples
        --------
        >>> image = np.arange(12.0).reshape(4, 3)
        >>> stream = stream_filter(image, [], strip_rows=1)
        >>> stream.finite_range(1, 3), stream.finite_range(0, 4)
        ((3.0, 8.0), (0.0, 11.0))
        """
        c = self.stage.shape[2]
        keep = c - 1 if alpha and c >= 2 else c
        parts = [finite_range(self.stage.read(r, min(r + self.rows, r1))[..., :keep]) for r in range(r0, r1, self.rows)]
        found = [p for p in parts if p is not None]
        return (min(p[0] for p in found), max(p[1] for p in found)) if found else None

    def collect(self) -> np.ndarray:
        """The whole output as one array (strip by strip into one allocation)."""
        out = np.empty(self.shape, self.dtype)
        for r0, band in self:
            out[r0 : r0 + band.shape[0]] = band
        return out


def stream_filter(
    image: np.ndarray | ImageLike,
    operations: Sequence[Operation],
    *,
    depth: Depth | None = None,
    channels: str = "each",
    alpha: bool = False,
    keep_alpha: bool = False,
    range_mode: RangeMode = "clip",
    gain: float = 1.0,
    offset: float | str = 0.0,
    out_alpha: bool = False,
    linear: bool = False,
    mask: MaskLike | None = None,
    strip_rows: int | None = None,
    value_range: tuple[float, float] | None = None,
) -> Stream:
    """One image through the operations (:mod:`convcli.pipeline`'s rules) as a :class:`Stream` of output strips.

    With ``depth=None`` the strips are the float result (``.collect()`` gives
    the array).  Otherwise each strip is converted
    by :func:`convcli.depth.to_depth` (``range_mode="normalize"`` first runs
    the chain once to find the whole result's range, :meth:`Stream.finite_range`,
    unless ``value_range`` gives it: the finite minimum and maximum of the
    colour channels, NaN for both when there is none; a cluster folds it from
    its bands).  ``strip_rows`` sets the strip height (default: about
    :data:`STRIP_ELEMENTS` samples a strip).

    Examples
    --------
    >>> from convcli.operations import Convolve
    >>> image = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(64, 48)
    >>> ops = [Convolve("sobel:axis=both")]
    >>> streamed = stream_filter(image, ops, depth="8", strip_rows=5).collect()
    >>> whole = stream_filter(image, ops).collect()  # the float result
    >>> np.array_equal(streamed, to_depth(whole, "8", source_max=255))
    True
    """
    source_dtype = np.dtype(image.dtype)
    # 16-bit samples to an integer depth: float64 throughout, so no sum above 2**24 rounds an output a level off
    precise = depth in ("8", "16") and source_dtype.kind in "iu" and source_dtype.itemsize >= 2
    stage, flat = stream_image(image, operations, channels=channels, alpha=alpha, keep_alpha=keep_alpha,
                               linear=linear, mask=mask, precise=precise)
    h, _, c = stage.shape
    rows = strip_rows or stage.strip_rows(STRIP_ELEMENTS)
    if strip_rows is None and stage.unit > 1:
        # whole units of the last stage: each strip is computed as it is asked for, never joined from two pieces
        rows = max(stage.unit, rows // stage.unit * stage.unit)
    if depth is None:
        return Stream(stage, flat, lambda x: x, stage.dtype, rows)
    source_max = nominal_max(np.dtype(image.dtype))
    if range_mode == "normalize" and value_range is None:  # the streamed pre-pass: the whole result's range
        value_range = Stream(stage, flat, lambda x: x, stage.dtype, rows).finite_range(0, h, alpha=out_alpha)
    float_out = np.dtype(_work(image.dtype)) if linear else None

    def convert(x: np.ndarray) -> np.ndarray:
        samples = to_depth(x, depth, source_max=source_max, range_mode=range_mode, gain=gain, offset=offset,
                           alpha=out_alpha, value_range=value_range)
        return samples.astype(float_out, copy=False) if float_out is not None and depth == "float" else samples

    probe = convert(np.zeros((1, 1, c), stage.dtype))
    return Stream(stage, flat, convert, probe.dtype, rows)
