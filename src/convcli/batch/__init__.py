"""Many images: expanding inputs, naming outputs, workers and per-file results.

A batch runs in three steps, each a function here; none of them prints.

The steps live in one module each: :mod:`.inputs` (step 1), :mod:`.naming`
(step 2, and :func:`plan_tasks` for both), :mod:`.results` (one file:
:func:`process_task`, :func:`plan_task`) and :mod:`.executor` (step 3: one
:class:`Executor` interface; :class:`LocalExecutor` here, :class:`DaskExecutor` in
:mod:`.cluster`, whose giant-image strategy is :mod:`.giant`; what they share
is :mod:`.bookkeeping` and, for Dask, :mod:`.scheduler`).  What is done to each
image is a :class:`~convcli.recipe.Recipe`, plain data; the batch runs it.

1. :func:`expand_inputs` turns what was typed into :class:`Source` s: files,
   folders (the image files directly inside; all below with ``recursive``;
   hidden ones skipped), glob patterns expanded by convcli itself (quote them:
   ``'photos/**/*.jpg'``; ``ignore_case`` for any case), ``-`` for stdin, and
   the literal paths of a list file (:func:`read_path_list`), each kept
   relative to ``base`` (the current folder by default) below ``--outdir``,
   as rsync's ``--files-from``.  An input that is missing, a folder without
   images or a pattern that matches nothing becomes a failed source; the
   others still run.  Files found in an output folder that lies inside a
   walked folder are sources marked ``skipped``, with the reason: they are
   reported, not filtered (an output folder that *is* the walked folder is
   in-place work, and its files are inputs).
2. :func:`plan_outputs` names every output (:class:`convcli.recipe.Naming`) and checks the
   whole plan before anything is written: two inputs that would write the same
   file, or an output equal to its own input without ``force``, raise
   :class:`convcli.errors.OutputConflict` (a usage error, exit code 2).  An input that is
   another input's planned output (an earlier run's ``a_b.png`` beside
   ``a.png``) is that output, not a new input: it is skipped, with the
   reason, so a re-run with ``skip_existing`` finishes an interrupted batch.
   Existing outputs are skipped (``skip_existing``), replaced (``force``) or
   reported as failures.
3. :func:`run_batch` reads, filters and writes each file (:func:`process_task`)
   on an executor (this process, worker processes, a Dask cluster), and returns one
   :class:`FileResult` per input, in input order.  Results are byte for byte
   the same for any number of jobs.  Writes are atomic; on Ctrl-C or
   ``SIGTERM`` the workers are stopped, their temporary files removed, and
   :class:`Interrupted` (or ``KeyboardInterrupt``) raised.

Output names, with ``--outdir DIR``: ``DIR/<relative folder>/<name>``, where the
relative folder is the file's place below the folder (or the glob's fixed
leading folder) it was found in, and ``<name>`` is the template, by default
``{stem}{suffix}.{ext}``.  Template fields: ``{stem}`` (input name without
extension), ``{ext}`` (``--format`` or the input's extension), ``{suffix}``,
``{name}`` (the input's file name), ``{parent}`` (the input's folder name),
``{index}`` (1-based position in the batch) and ``{frame}``.  Without
``--outdir``, a suffix or template writes beside each input.

Frames: by default an animated GIF or multi-page TIFF gives its first frame
(with a warning).  With ``--frames all`` each frame is an input of its own,
read with :func:`convcli.imageio.read_image`'s ``frame`` and named in messages
``anim.gif[2]``; its output is ``{stem}_{frame}{suffix}.{ext}``, the frame
number from 0, zero-padded to the width of the last one (``anim_0.png`` …
``anim_2.png``; ``-o out.png`` gives ``out_0.png`` …).  A template that uses
``{frame}`` places it itself (single-frame files give ``0``).  Several frames
cannot go to stdout.

Examples
--------
>>> import os, tempfile
>>> from convcli.recipe import Naming
>>> folder = tempfile.mkdtemp()
>>> for name in ("a.png", "b.png"):
...     open(os.path.join(folder, name), "wb").close()
>>> sources = expand_inputs([os.path.join(folder, "*.png")])
>>> [s.rel.as_posix() for s in sources]
['a.png', 'b.png']
>>> tasks = plan_outputs(sources, Naming(outdir="out", suffix="_blur", format="jpg"))
>>> [os.path.basename(t.output) for t in tasks]
['a_blur.jpg', 'b_blur.jpg']
"""

from __future__ import annotations

from ..recipe import Recipe, build_recipe
from .bookkeeping import terminate_on_sigterm
from .cluster import DaskExecutor, filter_on_cluster
from .command import Applied, Streams, apply_batch, choose_executor
from .executor import Executor, LocalExecutor, default_jobs, run_batch
from .inputs import Source, check_inputs, expand_inputs, load_path_list, read_path_list
from .naming import Task, plan_outputs, plan_tasks
from .results import FileResult, Status, dry_run, plan_task, process_task

__all__ = [
    "Applied",
    "DaskExecutor",
    "Executor",
    "FileResult",
    "LocalExecutor",
    "Recipe",
    "Source",
    "Status",
    "Streams",
    "Task",
    "apply_batch",
    "build_recipe",
    "check_inputs",
    "choose_executor",
    "default_jobs",
    "dry_run",
    "expand_inputs",
    "filter_on_cluster",
    "load_path_list",
    "plan_outputs",
    "plan_task",
    "plan_tasks",
    "process_task",
    "read_path_list",
    "run_batch",
    "terminate_on_sigterm",
]
