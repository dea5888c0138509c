"""One giant image on a Dask cluster: bands of output rows, each filtered by a worker, exact by construction.

When a batch on a cluster is one lazy input (a TIFF read by tifffile, or a Zarr
store: :func:`convcli.imageio.open_image` gives ``lazy``) going to a ``.zarr``
or ``.tif`` output, :func:`convcli.batch.run_batch` picks this strategy
(:meth:`convcli.batch.cluster.DaskExecutor.run_bands`) instead of one worker filtering it whole:

1. The client opens the input's header and builds the recipe's stream
   (:func:`convcli.streaming.stream_filter`) only to learn the output's shape
   and dtype; no pixel is computed.
2. The output rows are cut into bands aligned to the output's chunk rows
   (``T`` = ``recipe.tile`` or 512 rows, or a multiple of ``T`` so that a band
   holds at least :data:`BAND_PIXELS` output pixels), and one task per band is
   submitted, a bounded window in flight (:func:`convcli.batch.scheduler.in_window`).
3. Each task, on a worker, opens the input from the shared path, builds the
   same stream and computes its rows with :meth:`convcli.streaming.Stream.band`:
   every stage pulls exactly the input rows (plus halo, through the same border
   index maps) that the band needs, strip by strip, so a worker's memory
   follows the band, never the image, and the bytes are those of the local run.
4. Zarr output: the client creates the array in a temporary folder beside the
   target (:func:`convcli.imageio.zarr_store.create_zarr`, the chunks and
   attributes of a local run) and each task writes its band's chunk rows
   itself (no two tasks touch one chunk); when all are done the folder is
   renamed onto the target (:func:`convcli.imageio.write.atomic_folder`).
   TIFF output: tasks return their bands and the client writes them in order
   through :func:`convcli.imageio.write_bands`, holding at most the window's
   worth of bands that finished early.

A band whose worker dies is run again by the scheduler; a task that raised is
retried (:data:`convcli.batch.scheduler.RETRIES`).  A failure or Ctrl-C cancels
the rest, waits until no band task still writes (a cluster the run did not
start), and removes the temporary output: the target is then untouched.

Every feature of the chain is cut into bands: float samples (NaN data with
the default ``--nan propagate``), ``--nan ignore``, ``--mask`` (each band task
opens the mask from its shared path, :func:`convcli.batch.results.read_mask`,
and reads its rows as the band needs them) and ``--linear``.  ``--range
normalize`` needs the whole result's finite minimum and maximum: a streamed
pre-pass first (each band's range computed on the workers,
:meth:`convcli.streaming.Stream.finite_range`, folded here), then the bands
are converted with that range.  The result's ``bands`` says into how many
bands the image was cut.

What is not cut into bands (one worker filters it whole, as any batch file):
an input read into memory (PNG, JPEG, a TIFF turned by its orientation tag),
an alpha channel, and stdin.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ClusterError, ConvcliError
from .naming import Task
from .results import FileResult, file_result, named
from .scheduler import RETRIES, in_window, result_of, scheduler_gone

if TYPE_CHECKING:
    from ..depth import Depth
    from ..recipe import Recipe
    from ..streaming import Stream

__all__ = ["BANDED_FORMATS", "BAND_PIXELS", "band_rows", "filter_task"]

#: a band task computes at least this many output pixels (when the image has them): tasks are not too tiny
BAND_PIXELS = 1 << 22
#: Zarr: a band grows up to this many output pixels while the cluster keeps :data:`TASKS_PER_THREAD` tasks a thread
#: (a worker writes it chunk row by chunk row, so its memory does not grow; fewer bands, fewer halo rows read twice)
MAX_BAND_PIXELS = 1 << 26
#: Zarr: bands per worker thread at least, before a band grows past :data:`BAND_PIXELS`
TASKS_PER_THREAD = 4
#: outputs written band by band by the workers (ZARR) or in order by the client (TIFF)
BANDED_FORMATS = ("TIFF", "ZARR")
#: the chunk (Zarr) and band unit when the recipe gives no ``tile``
DEFAULT_CHUNK = 512


def band_rows(shape: Sequence[int], tile: int | None = None, *, threads: int = 0) -> int:
    """Output rows per band task: whole chunk rows (``tile``, default 512), at least :data:`BAND_PIXELS` pixels.

    With ``threads`` (the cluster's worker threads; Zarr outputs, which the
    workers write a chunk row at a time) a band grows, up to
    :data:`MAX_BAND_PIXELS`, as long as every thread still gets
    :data:`TASKS_PER_THREAD` bands: fewer halo rows are read twice.

    Examples
    --------
    >>> band_rows((40000, 40000)), band_rows((3000, 2500)), band_rows((3000, 2500), 256)
    (512, 2048, 1792)
    >>> band_rows((40000, 40000), threads=2), band_rows((40000, 40000), threads=100)
    (1536, 512)
    """
    side = tile or DEFAULT_CHUNK
    row_pixels = side * int(shape[1])
    least = max(1, math.ceil(BAND_PIXELS / row_pixels))
    if threads < 1:
        return side * least
    most = max(1, MAX_BAND_PIXELS // row_pixels)
    even = int(shape[0]) // (side * TASKS_PER_THREAD * threads)
    return side * max(least, min(most, even))


def _candidate(task: Task) -> bool:
    """Whether the output allows bands at all (before the input is opened)."""
    return task.output not in (None, "-") and task.fmt in BANDED_FORMATS and task.source.data is None


def _banded(source: Any, task: Task, recipe: Recipe) -> bool:
    """Whether a band can be computed from its own rows: a lazy source (integer or float) without alpha.

    A signed or 32-bit integer input whose output keeps its dtype (:func:`~convcli.batch.results.
    kept_integer_dtype`) is filtered by one worker, as any file, so that it gives the local run's bytes.
    """
    from .results import kept_integer_dtype

    shape = tuple(source.shape)
    has_alpha = bool(source.info.alpha) and len(shape) == 3 and shape[2] >= 2
    return (bool(getattr(source, "lazy", False)) and np.dtype(source.dtype).kind in "biuf" and not has_alpha
            and kept_integer_dtype(recipe, str(task.fmt), source.dtype) is None)


#: ``value_range`` for building a stream whose range does not matter (only its shape): skips the pre-pass
_ANY_RANGE = (math.nan, math.nan)


@contextlib.contextmanager
def _open_stream(path: str, frame: int | None, recipe: Recipe, depth: Depth, out_alpha: bool,
                 value_range: tuple[float, float] | None) -> Iterator[Stream]:
    """On a worker: the recipe's stream of the shared input (and of its ``--mask``), one engine thread."""
    from ..engine import thread_limit
    from ..imageio import open_image
    from .results import read_mask, recipe_stream

    with thread_limit(1), open_image(path, max_pixels=recipe.max_pixels, frame=frame) as source, \
            contextlib.ExitStack() as held:
        mask = (None if recipe.mask is None
                else held.enter_context(read_mask(recipe.mask, tuple(source.shape), recipe)))  # read by rows
        yield recipe_stream(source, recipe, depth=depth, out_alpha=out_alpha, mask=mask, value_range=value_range)


def _range_on_worker(path: str, frame: int | None, recipe: Recipe, depth: Depth, out_alpha: bool,
                     rows: tuple[int, int]) -> tuple[float, float] | None:
    """Run on a Dask worker: the finite range of output rows ``[a, b)`` before conversion (the pre-pass)."""
    with _open_stream(path, frame, recipe, depth, out_alpha, _ANY_RANGE) as stream:
        found: tuple[float, float] | None = stream.finite_range(*rows, alpha=out_alpha)
    return found


def _band_on_worker(path: str, frame: int | None, recipe: Recipe, depth: Depth, out_alpha: bool,
                    shape: tuple[int, ...], dtype: np.dtype, value_range: tuple[float, float] | None,
                    rows: tuple[int, int], store: str | None) -> np.ndarray | None:
    """Run on a Dask worker: output rows ``[a, b)``, written into the Zarr ``store``, or returned (TIFF)."""
    a, b = rows
    with _open_stream(path, frame, recipe, depth, out_alpha, value_range) as stream:
        if store is None:
            band: np.ndarray = stream.band(a, b).astype(dtype, copy=False).reshape((b - a, *shape[1:]))
            return band
        import zarr

        array = zarr.open_array(store, mode="r+")
        step = array.chunks[0]
        for r in range(a, b, step):  # a chunk row at a time: the worker holds one, whatever the band
            e = min(r + step, b)
            array[r:e] = stream.band(r, e).astype(dtype, copy=False).reshape((e - r, *shape[1:]))
    return None


def _outcome(future: Any, label: str, rows: tuple[int, int], client: Any) -> Any:
    """The band a finished task gave; its failure as a :class:`ConvcliError` naming the file and the rows."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    where = f"rows {rows[0]}-{rows[1] - 1}"
    try:
        return result_of(future, client)  # every worker gone 60 s: a ClusterError, not a wait forever
    except ConvcliError:
        raise
    except KilledWorker:
        raise ClusterError(f"{label}: the Dask workers filtering its {where} died, again and again (out of "
                           "memory?); give the workers more memory (dask worker --memory-limit), or a smaller "
                           "--tile; nothing was written") from None
    except (CancelledError, OSError) as err:
        if scheduler_gone(client):
            raise ClusterError(f"{label}: lost the Dask scheduler at {client.scheduler.address} while filtering "
                               "it; nothing was written; start it again and run again") from None
        raise ClusterError(f"{label}: the Dask task of its {where} was lost ({type(err).__name__}: {err}); run "
                           "again; nothing was written") from None
    except Exception as err:
        raise ClusterError(f"{label}: the Dask task of its {where} failed ({type(err).__name__}: {err}); check the "
                           "workers' logs, or filter it without --scheduler; nothing was written") from None


def _submit_band(client: Any, key: str, *args: Any) -> Any:
    """One band task on the cluster (a seam for tests that count them)."""
    return client.submit(_band_on_worker, *args, key=key, pure=False, retries=RETRIES)


def _value_range(client: Any, args: tuple[Any, ...], spans: Sequence[tuple[int, int]], *,
                 label: str) -> tuple[float, float]:
    """``--range normalize``'s pre-pass: every band's finite range, on the workers, folded here (NaN: none)."""
    prefix = f"convcli-range-{uuid.uuid4().hex[:8]}-"

    def submit(span: tuple[int, int]) -> Any:
        return client.submit(_range_on_worker, *args[:5], span, key=f"{prefix}{span[0]}", pure=False,
                             retries=RETRIES)

    lo, hi = math.inf, -math.inf
    with contextlib.closing(in_window(client, spans, submit, prefix=prefix)) as done:
        for span, future in done:
            found = _outcome(future, label, span, client)
            if found is not None:
                lo, hi = min(lo, found[0]), max(hi, found[1])
    return (lo, hi) if lo <= hi else _ANY_RANGE


def _bands(client: Any, args: tuple[Any, ...], spans: Sequence[tuple[int, int]], *, label: str,
           store: str | None, wait_running: bool) -> Iterator[tuple[int, Any]]:
    """``(first_row, band)`` for every span, in order, through the one bounded window (:func:`in_window`).

    On any exception (or when the consumer stops) the tasks not done are
    cancelled and, when they write (``store``) on a cluster the run did not
    start, waited for, so that nothing still writes when this returns.
    """
    prefix = f"convcli-band-{uuid.uuid4().hex[:8]}-"

    def submit(span: tuple[int, int]) -> Any:
        return _submit_band(client, f"{prefix}{span[0]}", *args, span, store)

    with contextlib.closing(in_window(client, spans, submit, prefix=prefix, ordered=True,
                                      wait_running=wait_running and store is not None)) as done:
        for span, future in done:
            yield span[0], _outcome(future, label, span, client)


def filter_task(client: Any, task: Task, recipe: Recipe, *, overwrite: bool,
                wait_running: bool) -> FileResult | None:
    """Filter ``task`` band by band on ``client``'s workers; None when it cannot be cut into bands.

    ``wait_running``: after a failure or Ctrl-C, wait for band tasks still
    writing (a cluster the run did not start; one it started is stopped).
    """
    from ..imageio import open_image

    if not _candidate(task):
        return None
    start = time.perf_counter()
    try:
        with open_image(task.source.path, max_pixels=recipe.max_pixels, frame=task.source.frame) as source:
            if not _banded(source, task, recipe):
                return None
            found, args = _plan(task, recipe, source)
            info = source.info
        found.bands = _run(client, task, recipe, info, args, overwrite=overwrite, wait_running=wait_running)
    except ConvcliError as err:
        found = file_result(task, "failed", error=named(task.source.label, _as_typed(str(err), task, recipe)))
    except MemoryError:
        found = file_result(task, "failed", error=f"{task.source.label}: not enough memory to filter this image; "
                        "give the workers more memory or use a smaller --tile")
    found.seconds = time.perf_counter() - start
    return found


def _as_typed(message: str, task: Task, recipe: Recipe) -> str:
    """``message`` naming the paths as they were typed (the workers saw them absolute)."""
    for typed in (task.source.path, task.output, recipe.mask):
        if typed and not os.path.isabs(typed):
            message = message.replace(os.path.abspath(typed), typed)
    return message


def _plan(task: Task, recipe: Recipe, source: Any) -> tuple[FileResult, tuple[Any, ...]]:
    """The result to report and the band tasks' arguments (from the stream's shape and dtype only)."""
    from .results import output_dtype, prepare_output

    found, stream, depth, out_alpha = prepare_output(task, recipe, source, value_range=_ANY_RANGE)
    dtype = output_dtype(str(task.fmt), depth, stream.dtype)
    shape = tuple(stream.shape)
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    args = (os.path.abspath(task.source.path), task.source.frame, _shared(recipe), depth, out_alpha, shape, dtype)
    return found, args


def _shared(recipe: Recipe) -> Recipe:
    """``recipe`` with its ``--mask`` path absolute: the workers open it (their folder is not ours)."""
    from dataclasses import replace

    return recipe if recipe.mask is None else replace(recipe, mask=os.path.abspath(recipe.mask))


def _run(client: Any, task: Task, recipe: Recipe, info: Any, args: tuple[Any, ...], *,
         overwrite: bool, wait_running: bool) -> int:
    """Submit the bands and write the output (Zarr by the workers, TIFF here), atomically; the number of bands."""
    from ..imageio import compression_for, write_bands
    from ..imageio.write import atomic_folder
    from ..imageio.zarr_store import create_zarr

    assert task.output is not None
    shape, dtype = args[5], args[6]
    threads = sum(client.nthreads().values()) if task.fmt == "ZARR" else 0
    height, step = shape[0], band_rows(shape, recipe.tile, threads=threads)
    spans = [(a, min(a + step, height)) for a in range(0, height, step)]
    label = task.source.label
    found = _value_range(client, args, spans, label=label) if recipe.range_mode == "normalize" else None
    args = (*args, found)
    codec = compression_for(task.fmt, recipe.compression)  # a PNG level given to a batch leaves TIFF/Zarr at default
    if task.fmt == "ZARR":
        with atomic_folder(task.output, overwrite=overwrite) as folder:
            create_zarr(folder, shape=shape, dtype=dtype, name=task.output, info=info,
                        tile=recipe.tile or DEFAULT_CHUNK, compression=None if codec is None else str(codec))
            for _ in _bands(client, args, spans, label=label, store=os.path.abspath(folder),
                            wait_running=wait_running):
                pass
        return len(spans)
    write_bands(task.output, _bands(client, args, spans, label=label, store=None, wait_running=wait_running),
                shape=shape, dtype=dtype, fmt="TIFF", info=info, quality=recipe.quality,
                overwrite=overwrite, tile=recipe.tile, compression=codec)
    return len(spans)
