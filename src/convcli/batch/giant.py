"""One giant image on a Dask cluster: bands of output rows, each filtered by a worker, exact by construction.

When a batch on a cluster is one lazy input (a TIFF read by tifffile, or a Zarr
store: :func:`convcli.imageio.open_image` gives ``lazy``) going to a ``.zarr``
or ``.tif`` output, :func:`convcli.batch.cluster.run_on_cluster` hands it here
instead of to one worker:

1. The client opens the input's header and builds the recipe's stream
   (:func:`convcli.streaming.stream_filter`) only to learn the output's shape
   and dtype; no pixel is computed.
2. The output rows are cut into bands aligned to the output's chunk rows
   (``T`` = ``recipe.tile`` or 512 rows, or a multiple of ``T`` so that a band
   holds at least :data:`BAND_PIXELS` output pixels), and one task per band is
   submitted, a bounded window in flight (:func:`convcli.batch.cluster.window`).
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
retried (:data:`convcli.batch.cluster.RETRIES`).  A failure or Ctrl-C cancels
the rest, waits until no band task still writes (a cluster the run did not
start), and removes the temporary output: the target is then untouched.

What is not cut into bands (one worker filters it whole, as any batch file):
an input read into memory (PNG, JPEG, a TIFF turned by its orientation tag),
float samples, an alpha channel, ``--range normalize``, ``--mask``,
``--nan ignore``, ``--linear`` (each needs a pass over the whole image first)
and stdin.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ClusterError, ConvcliError
from .naming import Task
from .results import FileResult, _named, _result

if TYPE_CHECKING:
    from ..depth import Depth
    from ..recipe import Recipe
    from ..streaming import Stream

__all__ = ["BANDED_FORMATS", "BAND_PIXELS", "band_rows", "filter_on_cluster"]

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


def filter_on_cluster(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    recipe: Recipe,
    scheduler: str | Any,
    *,
    force: bool | None = None,
    frame: int | None = None,
    timeout: float | None = None,
) -> FileResult:
    """Filter one (giant) image on a Dask cluster, band by band, into ``output``.

    A tiled TIFF or a Zarr store going to a ``.zarr`` or ``.tif`` output is
    cut into bands of output rows that the workers filter in parallel, each
    reading only its rows (and their halo) from the shared path; any other
    image is filtered whole by one worker.  Either way the bytes are those of
    the local run (:meth:`convcli.recipe.Recipe.run`).

    Parameters
    ----------
    input : str or path-like
        The image, at a path the workers see too.
    output : str or path-like
        The output file (its format from its name: ``.zarr``, ``.tif``, …).
    recipe : Recipe
        From :func:`convcli.recipe.build_recipe` (its naming is not used).
    scheduler : str or distributed.Client
        A scheduler address, ``"local"``, or a connected client (left open);
        see :func:`convcli.batch.cluster.connect`.
    force : bool, optional
        Replace an existing output, once the new one is complete; by default
        as ``recipe.force``.
    frame : int, optional
        The TIFF page to filter (default the first).
    timeout : float, optional
        Seconds to reach the scheduler and see a worker.

    Returns
    -------
    FileResult
        ``written`` or ``failed`` (with the reason).

    Raises
    ------
    ClusterError, UsageError
        The cluster cannot be used (nothing is written).

    Examples
    --------
    >>> import os, tempfile, tifffile, zarr
    >>> import numpy as np
    >>> from convcli.recipe import build_recipe
    >>> folder = tempfile.mkdtemp()
    >>> big = os.path.join(folder, "big.tif")
    >>> tifffile.imwrite(big, np.eye(600, dtype=np.uint8) * 255, tile=(128, 128))
    >>> recipe = build_recipe(kernels=["gaussian:sigma=3"], outdir=folder)
    >>> result = filter_on_cluster(big, os.path.join(folder, "out.zarr"), recipe, "local")  # doctest: +SKIP
    >>> result.status, zarr.open_array(result.output).shape  # doctest: +SKIP
    ('written', (600, 600))
    """
    from ..imageio import format_for
    from .cluster import run_on_cluster

    path, target = os.fspath(input), os.fspath(output)
    task = Task(0, _source(path, frame), target, format_for(target))
    return run_on_cluster([task], recipe, scheduler=scheduler, force=force, timeout=timeout)[0]


def _source(path: str, frame: int | None) -> Any:
    from .inputs import Source

    return Source(path, PurePath(os.path.basename(path)), frame=frame)


def _candidate(task: Task, recipe: Recipe) -> bool:
    """Whether the options allow bands at all (before the input is opened)."""
    from ..operations import Convolve

    return (task.output not in (None, "-") and task.fmt in BANDED_FORMATS and task.source.data is None
            and recipe.mask is None and recipe.range_mode != "normalize" and not recipe.linear
            and not any(isinstance(op, Convolve) and op.normalized for op in recipe.operations))


def _banded(source: Any) -> bool:
    """Whether a band can be computed from its own rows: a lazy integer source without alpha."""
    shape = tuple(source.shape)
    has_alpha = bool(source.info.alpha) and len(shape) == 3 and shape[2] >= 2
    return bool(getattr(source, "lazy", False)) and np.dtype(source.dtype).kind in "biu" and not has_alpha


def _stream(source: Any, recipe: Recipe, depth: Depth, out_alpha: bool) -> Stream:
    """The recipe's stream of ``source``: :func:`convcli.batch.results.recipe_stream`, as every file has it."""
    from .results import recipe_stream

    stream: Stream = recipe_stream(source, recipe, depth=depth, out_alpha=out_alpha)
    return stream


def _band_on_worker(path: str, frame: int | None, recipe: Recipe, depth: Depth, out_alpha: bool,
                    shape: tuple[int, ...], dtype: np.dtype, rows: tuple[int, int],
                    store: str | None) -> np.ndarray | None:
    """Run on a Dask worker: output rows ``[a, b)``, written into the Zarr ``store``, or returned (TIFF)."""
    from ..engine import thread_limit
    from ..imageio import open_image

    a, b = rows
    with thread_limit(1), open_image(path, max_pixels=recipe.max_pixels, frame=frame) as source:
        stream = _stream(source, recipe, depth, out_alpha)
        if store is None:
            return stream.band(a, b).astype(dtype, copy=False).reshape((b - a, *shape[1:]))
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

    from .cluster import _scheduler_gone

    where = f"rows {rows[0]}-{rows[1] - 1}"
    try:
        return future.result()
    except ConvcliError:
        raise
    except KilledWorker:
        raise ClusterError(f"{label}: the Dask workers filtering its {where} died, again and again (out of "
                           "memory?); give the workers more memory (dask worker --memory-limit), or a smaller "
                           "--tile; nothing was written") from None
    except (CancelledError, OSError) as err:
        if _scheduler_gone(client):
            raise ClusterError(f"{label}: lost the Dask scheduler at {client.scheduler.address} while filtering "
                               "it; nothing was written; start it again and run again") from None
        raise ClusterError(f"{label}: the Dask task of its {where} was lost ({type(err).__name__}: {err}); run "
                           "again; nothing was written") from None
    except Exception as err:
        raise ClusterError(f"{label}: the Dask task of its {where} failed ({type(err).__name__}: {err}); check the "
                           "workers' logs, or filter it without --scheduler; nothing was written") from None


def _submit_band(client: Any, key: str, *args: Any) -> Any:
    """One band task on the cluster (a seam for tests that count them)."""
    from .cluster import RETRIES

    return client.submit(_band_on_worker, *args, key=key, pure=False, retries=RETRIES)


def _bands(client: Any, args: tuple[Any, ...], spans: Sequence[tuple[int, int]], *, label: str,
           store: str | None, wait_running: bool) -> Iterator[tuple[int, Any]]:
    """``(first_row, band)`` for every span, in order, a bounded window of tasks in flight (or held, done early).

    On any exception (or when the consumer stops) the tasks not done are
    cancelled and, when they write (``store``) on a cluster the run did not
    start, waited for, so that nothing still writes when this returns.
    """
    from distributed import as_completed

    from .cluster import _wait_for_running, window
    from .executor import _signals_ignored

    prefix = f"convcli-band-{uuid.uuid4().hex[:8]}-"
    size = window(sum(client.nthreads().values()))
    todo = iter(spans)
    running: dict[Any, tuple[int, int]] = {}
    held: dict[int, Any] = {}
    finished = as_completed(loop=client.loop)
    following = 0  # the next band to yield, as an index into spans
    try:
        while following < len(spans):
            while len(running) + len(held) < size:
                span = next(todo, None)
                if span is None:
                    break
                future = _submit_band(client, f"{prefix}{span[0]}", *args, span, store)
                running[future] = span
                finished.add(future)
            a = spans[following][0]
            while a not in held:
                future = next(finished)
                span = running.pop(future)
                held[span[0]] = _outcome(future, label, span, client)
            following += 1
            yield a, held.pop(a)
    except BaseException:
        with _signals_ignored():
            finished.clear()
            try:
                client.cancel(list(running))
            except Exception:  # the scheduler may be gone: nothing left to cancel
                pass
            if wait_running and store is not None and client.status == "running":
                _wait_for_running(client, prefix)
        raise


def filter_task(client: Any, task: Task, recipe: Recipe, *, overwrite: bool,
                wait_running: bool) -> FileResult | None:
    """Filter ``task`` band by band on ``client``'s workers; None when it cannot be cut into bands.

    ``wait_running``: after a failure or Ctrl-C, wait for band tasks still
    writing (a cluster the run did not start; one it started is stopped).
    """
    from ..imageio import open_image

    if not _candidate(task, recipe):
        return None
    start = time.perf_counter()
    try:
        with open_image(task.source.path, max_pixels=recipe.max_pixels, frame=task.source.frame) as source:
            if not _banded(source):
                return None
            found, args = _plan(task, recipe, source)
            info = source.info
        _run(client, task, recipe, info, args, overwrite=overwrite, wait_running=wait_running)
    except ConvcliError as err:
        found = _result(task, "failed", error=_named(task.source.label, _as_typed(str(err), task)))
    except MemoryError:
        found = _result(task, "failed", error=f"{task.source.label}: not enough memory to filter this image; "
                        "give the workers more memory or use a smaller --tile")
    found.seconds = time.perf_counter() - start
    return found


def _as_typed(message: str, task: Task) -> str:
    """``message`` naming the paths as they were typed (the workers saw them absolute)."""
    for typed in (task.source.path, task.output):
        if typed and not os.path.isabs(typed):
            message = message.replace(os.path.abspath(typed), typed)
    return message


def _plan(task: Task, recipe: Recipe, source: Any) -> tuple[FileResult, tuple[Any, ...]]:
    """The result to report and the band tasks' arguments (from the stream's shape and dtype only)."""
    from .results import prepare_output

    found, stream, depth, out_alpha = prepare_output(task, recipe, source)
    dtype = np.dtype(np.float32) if depth == "float" else stream.dtype
    shape = tuple(stream.shape)
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    args = (os.path.abspath(task.source.path), task.source.frame, recipe, depth, out_alpha, shape, dtype)
    return found, args


def _run(client: Any, task: Task, recipe: Recipe, info: Any, args: tuple[Any, ...], *,
         overwrite: bool, wait_running: bool) -> None:
    """Submit the bands and write the output (Zarr by the workers, TIFF here), atomically."""
    from ..imageio import compression_for, write_bands
    from ..imageio.write import atomic_folder
    from ..imageio.zarr_store import create_zarr

    assert task.output is not None
    shape, dtype = args[5], args[6]
    threads = sum(client.nthreads().values()) if task.fmt == "ZARR" else 0
    height, step = shape[0], band_rows(shape, recipe.tile, threads=threads)
    spans = [(a, min(a + step, height)) for a in range(0, height, step)]
    label = task.source.label
    codec = compression_for(task.fmt, recipe.compression)  # a PNG level given to a batch leaves TIFF/Zarr at default
    if task.fmt == "ZARR":
        with atomic_folder(task.output, overwrite=overwrite) as folder:
            create_zarr(folder, shape=shape, dtype=dtype, name=task.output, info=info,
                        tile=recipe.tile or DEFAULT_CHUNK, compression=None if codec is None else str(codec))
            for _ in _bands(client, args, spans, label=label, store=os.path.abspath(folder),
                            wait_running=wait_running):
                pass
        return
    write_bands(task.output, _bands(client, args, spans, label=label, store=None, wait_running=wait_running),
                shape=shape, dtype=dtype, fmt="TIFF", info=info, quality=recipe.quality,
                overwrite=overwrite, tile=recipe.tile, compression=codec)

