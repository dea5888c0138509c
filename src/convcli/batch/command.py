"""``convcli apply`` as one library call (:func:`apply_batch`), and where a batch runs (:func:`choose_executor`).

The command line parses its options, calls :func:`apply_batch` once and
renders what comes back (:mod:`convcli.cli.apply`); every decision between
(which options exclude each other, ``--jobs`` against ``--scheduler`` against
``DASK_SCHEDULER_ADDRESS``, what is read from stdin) is made here, and
reported as :class:`~convcli.errors.UsageError` (exit code 2) or as notes.

Examples
--------
>>> executor, notes = choose_executor(jobs=2, scheduler=None, environ={})
>>> type(executor).__name__, executor.jobs, notes
('LocalExecutor', 2, [])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .bookkeeping import terminate_on_sigterm
from .executor import Executor, LocalExecutor, default_jobs, run_batch
from .inputs import check_inputs, load_path_list, read_path_list
from .naming import Task, plan_tasks
from .results import FileResult, dry_run

if TYPE_CHECKING:
    from ..recipe import Recipe

__all__ = ["SCHEDULER_VARIABLE", "Applied", "Streams", "apply_batch", "choose_executor"]

#: Dask's own variable for the scheduler a client connects to (used when neither --jobs nor --scheduler is given)
SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"


def choose_executor(*, jobs: int | None, scheduler: str | None, environ: Mapping[str, str],
                    worker_timeout: float | None = None) -> tuple[Executor, list[str]]:
    """The executor ``--jobs``, ``--scheduler`` and ``DASK_SCHEDULER_ADDRESS`` ask for, with notes for the user.

    ``--scheduler`` runs on that Dask cluster; ``--jobs`` runs on this
    machine (even when the variable is set: a note says it is not used);
    neither runs on the variable's cluster when it is set, else on one local
    process per core (:func:`convcli.batch.default_jobs`).
    ``worker_timeout`` (``--worker-timeout``) is how long a Dask batch waits
    with every worker gone before it stops (a note says when it is unused).

    Raises
    ------
    UsageError
        ``jobs`` below 1, ``worker_timeout`` not above 0, or both ``jobs`` and ``scheduler``.

    Examples
    --------
    >>> executor, notes = choose_executor(jobs=2, scheduler=None, environ={SCHEDULER_VARIABLE: "tcp://h:8786"})
    >>> type(executor).__name__, notes
    ('LocalExecutor', ['--jobs 2 runs on this machine; DASK_SCHEDULER_ADDRESS=tcp://h:8786 is not used (drop --jobs \
to run on that cluster)'])
    >>> type(choose_executor(jobs=None, scheduler=None, environ={SCHEDULER_VARIABLE: "local"})[0]).__name__
    'DaskExecutor'
    >>> choose_executor(jobs=0, scheduler=None, environ={})
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: --jobs must be an integer >= 1, got 0
    """
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be an integer >= 1, got {jobs}")
    if worker_timeout is not None and not worker_timeout > 0:
        raise UsageError(f"--worker-timeout must be a number of seconds > 0, got {worker_timeout:g}")
    unused = ([] if worker_timeout is None else
              [f"--worker-timeout {worker_timeout:g} applies to a Dask cluster; this batch runs on this machine"])
    if jobs is not None and scheduler is not None:
        raise UsageError(f"--jobs {jobs} sets local worker processes and --scheduler {scheduler} runs on a Dask "
                         "cluster, whose workers set the parallelism; give one")
    from_env = (environ.get(SCHEDULER_VARIABLE) or None) if scheduler is None else None
    if jobs is not None:
        notes = [] if from_env is None else [f"--jobs {jobs} runs on this machine; {SCHEDULER_VARIABLE}={from_env} "
                                             "is not used (drop --jobs to run on that cluster)"]
        return LocalExecutor(jobs=jobs), notes + unused
    if scheduler is None and from_env is None:
        return LocalExecutor(jobs=default_jobs()), unused
    from .cluster import DaskExecutor
    from .scheduler import WORKERS_GONE

    return DaskExecutor(scheduler if scheduler is not None else from_env,
                        worker_timeout=WORKERS_GONE if worker_timeout is None else worker_timeout), []


@dataclass(frozen=True)
class Streams:
    """What a command needs of the process's standard streams (read only when an input is ``-``).

    Examples
    --------
    >>> import io
    >>> piped = Streams(io.BytesIO(b"PNG...").read, str, lambda: False, lambda: False)
    >>> piped.read_bytes(), piped.stdin_is_terminal()
    (b'PNG...', False)
    """

    read_bytes: Callable[[], bytes]
    read_text: Callable[[], str]
    stdin_is_terminal: Callable[[], bool]
    stdout_is_terminal: Callable[[], bool]


@dataclass
class Applied:
    """What :func:`apply_batch` did: the recipe it built, and one result per planned input, in order.

    Examples
    --------
    >>> from convcli.recipe import Recipe
    >>> Applied(Recipe(), []).results
    []
    """

    recipe: Recipe
    results: list[FileResult]


#: ``watch(tasks, on_cluster)``: a context giving the callback each result goes to as it is ready (progress)
Watch = Callable[[Sequence[Task], bool], contextlib.AbstractContextManager[Callable[[FileResult], None]]]


def apply_batch(
    inputs: Sequence[str],
    *,
    options: Mapping[str, Any],
    streams: Streams,
    from_file: str | None = None,
    null: bool = False,
    base: str | None = None,
    recursive: bool = False,
    ignore_case: bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
    worker_timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
    dry: bool = False,
    fail_fast: bool = False,
    compare: str | None = None,
    on_notes: Callable[[list[str]], None] = lambda notes: None,
    watch: Watch | None = None,
) -> Applied:
    """Check ``apply``'s options, plan every output, then run the batch (or plan it: ``dry``).

    Parameters
    ----------
    inputs : sequence of str
        As typed: files, folders, patterns, ``-``.
    options : mapping
        :func:`convcli.recipe.build_recipe`'s keywords (``require_operation`` is set here).
    streams : Streams
        stdin (read only for ``-`` or ``--from-file -``) and whether stdin and stdout are terminals.
    from_file, null, base, recursive, ignore_case : optional
        ``--from-file``, ``-0``/``--null`` (the list is NUL-separated), ``--base``, ``-r``, ``--ignore-case``.
    jobs, scheduler, worker_timeout, environ : optional
        Where it runs (:func:`choose_executor`; ``environ`` defaults to none).
    dry : bool
        ``--dry-run``: plan from the headers, write nothing.
    fail_fast : bool
        Stop at the first failed file.
    compare : str or None
        ``--compare``: a before/after picture of the one input.
    on_notes : callable
        Given the warnings about the options, once, before any file is read.
    watch : callable, optional
        ``watch(tasks, on_cluster)`` (see :data:`Watch`), entered around the run.

    Raises
    ------
    UsageError
        For a bad option, a bad combination, or an image read from (or written to) a terminal.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "a.npy"), np.eye(4, dtype=np.float32))
    >>> tty = Streams(bytes, str, lambda: False, lambda: False)
    >>> done = apply_batch([os.path.join(folder, "a.npy")], options={"kernels": ["box"], "outdir": folder,
    ...                    "suffix": "_box"}, streams=tty, jobs=1)
    >>> [(r.status, os.path.basename(r.output)) for r in done.results]
    [('written', 'a_box.npy')]
    """
    named_output = any(options.get(k) is not None for k in ("output", "outdir", "name")) or bool(options.get("suffix"))
    check_inputs(inputs, from_file=from_file, base=base, named_output=named_output, null=null)
    executor, notes = choose_executor(jobs=jobs, scheduler=scheduler, environ=environ or {},
                                      worker_timeout=worker_timeout)
    from ..recipe import build_recipe

    recipe = build_recipe(**{**options, "require_operation": True})
    _refuse_terminals(inputs, streams, output=options.get("output"), dry=dry,
                      fmt=recipe.naming.fixed_format() if recipe.naming else None)
    on_notes([*recipe.notes, *notes])
    stdin_data = streams.read_bytes() if "-" in inputs else None
    listed: list[str] = []
    if from_file is not None:
        if from_file != "-":
            listed = load_path_list(from_file, null=null)
        elif null:  # bytes: a NUL-separated name may hold any character, a carriage return too
            listed = read_path_list(streams.read_bytes().decode("utf-8", errors="surrogateescape"), null=True)
        else:
            listed = read_path_list(streams.read_text())
        check_inputs(inputs, from_file=from_file, listed=listed)
    tasks = plan_tasks(recipe, inputs, listed=listed, recursive=recursive, stdin_data=stdin_data, base=base,
                       ignore_case=ignore_case)
    if compare is not None:
        from ..pictures.compare import check_compare

        check_compare(compare, [t.source.path for t in tasks], output=tasks[0].output if tasks else None)
    if dry:
        return Applied(recipe, dry_run(tasks, recipe))
    watching = watch(tasks, not isinstance(executor, LocalExecutor)) if watch is not None else None
    with terminate_on_sigterm(), watching or contextlib.nullcontext() as on_result:
        results = run_batch(tasks, recipe, executor=executor, fail_fast=fail_fast, on_result=on_result)
    if compare is not None and results[0].output is not None and results[0].status in ("written", "skipped"):
        from ..pictures.compare import compare_picture

        compare_picture(results[0].input, results[0].output, compare)
    return Applied(recipe, results)


def _refuse_terminals(inputs: Sequence[str], streams: Streams, *, output: str | None, fmt: str | None,
                      dry: bool) -> None:
    """Refuse to read image bytes from a terminal (``-``) or to write them to one (``-o -``), as a usage error."""
    if "-" in inputs and streams.stdin_is_terminal():
        raise UsageError("refusing to read an image from a terminal; pipe or redirect one into stdin "
                         "(convcli apply - ... < in.png) or give a file")
    if output == "-" and not dry and streams.stdout_is_terminal():
        raise UsageError(f"refusing to write {fmt or 'image'} bytes to a terminal; redirect stdout or use -o FILE")
