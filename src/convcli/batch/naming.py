"""Naming the outputs of a batch and checking the plan as a whole before anything is written.

The naming options themselves (:class:`convcli.recipe.Naming`) are part of the recipe.

Examples
--------
>>> from convcli.recipe import Naming
>>> from pathlib import PurePath
>>> [t.output for t in plan_outputs([Source("a.png", PurePath("a.png"))], Naming(suffix="_b"))]
['a_b.png']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConvcliError, OutputConflict
from ..recipe import DEFAULT_TEMPLATE, Naming, Recipe, check_overwrite
from .inputs import Source, expand_inputs

__all__ = ["Task", "plan_outputs", "plan_tasks"]

@dataclass(frozen=True)
class Task:
    """One input with its planned output.

    Attributes
    ----------
    index : int
        0-based position in the batch.
    source : Source
    output : str or None
        The output file, ``-`` for stdout, or None when naming failed.
    fmt : str or None
        The output format (``PNG``, ``NPY``, …).
    make_folder : bool
        Create the output's folder (below ``--outdir``) before writing.
    skip : bool
        Left alone: the output exists and ``skip_existing`` was given, or the
        input is not filtered (see ``reason``).
    error : str or None
        Why this input fails before any work (bad input, output exists, …).
    reason : str or None
        Why it is skipped: its output exists (``output`` set), or the input is
        itself the output of another input of the batch, or lies in the
        output folder (``output`` None).
    """

    index: int
    source: Source
    output: str | None
    fmt: str | None
    make_folder: bool = False
    skip: bool = False
    error: str | None = None
    reason: str | None = None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def plan_outputs(
    sources: Sequence[Source],
    naming: Naming,
    *,
    force: bool = False,
    skip_existing: bool = False,
) -> list[Task]:
    """Name every output and check the plan as a whole before anything is written.

    Parameters
    ----------
    sources : sequence of Source
        From :func:`expand_inputs`.
    naming : Naming
        The naming options.
    force : bool, optional
        Replace existing outputs, and allow an output to replace its own input.
    skip_existing : bool, optional
        Leave existing outputs alone and mark their inputs skipped.

    Returns
    -------
    list of Task
        One per source, in order.  A source that is the planned output of
        another source (an earlier run's output found again: ``a_b.png``
        beside ``a.png`` with ``--suffix _b``) is that output, not a new
        input: its task is skipped, with the reason, and has no output of
        its own.  So is a source found in the output folder (``skipped``).

    Raises
    ------
    OutputConflict
        For ``-o`` with several inputs, two inputs with one output, or
        (without ``force``) an output that is its own input; every conflict
        is listed.

    Examples
    --------
    >>> from pathlib import PurePath
    >>> src = [Source("a/x.png", PurePath("x.png")), Source("b/x.png", PurePath("x.png"))]
    >>> plan_outputs(src, Naming(outdir="out"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.OutputConflict: 2 inputs would write the same file: a/x.png and b/x.png -> out/x.png; ...
    >>> again = [Source("p/a.png", PurePath("a.png")), Source("p/a_b.png", PurePath("a_b.png"))]
    >>> [(t.output, t.skip, t.reason) for t in plan_outputs(again, Naming(suffix="_b"))]
    [('p/a_b.png', False, None), (None, True, 'the output of p/a.png in this batch, not a new input')]
    """
    from ..imageio import FORMATS, format_for

    check_overwrite(force=force, skip_existing=skip_existing)
    forced_ext = naming.extension
    files = list(dict.fromkeys(s.path for s in sources))  # the frames of one file count once
    if naming.output is not None and len(files) > 1:
        names = ", ".join(files[:3]) + (", …" if len(files) > 3 else "")
        raise OutputConflict(
            f"-o {naming.output} names one output, but there are {len(files)} inputs ({names}); "
            "use --outdir DIR (and --suffix/--name) for several"
        )
    if naming.output == "-" and len(sources) > 1:
        raise OutputConflict(
            f"-o - writes one image to stdout, but {sources[0].path} has {sources[0].frames} frames "
            "(--frames all); use -o FILE or --outdir DIR for them, or --frames first"
        )
    uses_frame = naming.template is not None and "{frame" in naming.template
    if (naming.output not in (None, "-") and os.path.isdir(naming.output)
            and "ZARR" not in (naming.fixed_format(), FORMATS.get(Path(naming.output).suffix.lower()))):
        raise OutputConflict(f"-o {naming.output} is a folder, and -o names one output file; use --outdir "
                             f"{naming.output} to write into it, or give -o a file name")
    tasks: list[Task] = []
    for index, source in enumerate(sources):
        if source.error is not None:
            tasks.append(Task(index, source, None, None, error=source.error))
            continue
        if source.skipped is not None:
            tasks.append(Task(index, source, None, None, skip=True, reason=source.skipped))
            continue
        frame = _frame_text(source)
        if naming.output is not None:
            try:  # format_for names the unknown extension when the options fix no format
                fmt = naming.fixed_format() or format_for(naming.output)
            except ConvcliError as err:
                raise OutputConflict(f"-o {naming.output}: {err}; or give --format") from None
            out_path = naming.output
            if source.frame is not None and out_path != "-":
                named = Path(naming.output)
                out_path = str(named.with_name(f"{named.stem}_{frame}{named.suffix}"))
            tasks.append(Task(index, source, out_path, fmt))
            continue
        in_path = Path(source.rel.as_posix()) if source.path == "-" else Path(source.path)
        stem, in_ext = in_path.stem, in_path.suffix
        if source.frame is not None and not uses_frame:
            stem = f"{stem}_{frame}"
        ext = forced_ext or (in_ext if source.path != "-" else ".png")
        out_fmt = FORMATS.get(ext.lower())
        name = (naming.template or DEFAULT_TEMPLATE).format(
            stem=stem, ext=ext.lstrip("."), suffix=naming.suffix, name=in_path.name,
            parent=Path(os.path.abspath(source.path)).parent.name if source.path != "-" else "stdin",
            index=index + 1, frame=frame,
        )
        if naming.outdir is not None:
            out = Path(naming.outdir) / Path(source.rel.as_posix()).parent / name
        elif source.path == "-":
            tasks.append(Task(index, source, None, None, error="-: stdin has no folder to write beside; "
                              "use -o FILE, -o - or --outdir"))
            continue
        else:
            out = in_path.parent / name
        if out_fmt is None:
            from ..imageio import image_extensions

            if ext and ext.lower() not in image_extensions():
                problem = (f"{source.path}: {ext} is not an image format convcli reads; convert it to PNG, JPEG or "
                           "TIFF, or give a .npy array (or, if Pillow reads it anyway, choose --format png)")
            else:
                problem = (f"{source.path}: cannot write {ext or 'files without an extension'}; choose an output "
                           "format with --format (e.g. --format png)")
            tasks.append(Task(index, source, str(out), None, error=problem))
            continue
        tasks.append(Task(index, source, str(out), out_fmt, make_folder=naming.outdir is not None))
    tasks = _outputs_found_again(tasks)
    _check_conflicts(tasks, force=force)
    return [_existing(t, force=force, skip_existing=skip_existing) for t in tasks]


def _key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _outputs_found_again(tasks: list[Task]) -> list[Task]:
    """Tasks whose input is another task's planned output, made skipped: that file is an output, not an input."""
    owners: dict[str, Task] = {}
    for task in tasks:
        if task.output not in (None, "-") and task.error is None and not task.skip:
            assert task.output is not None
            owners.setdefault(_key(task.output), task)
    found: list[Task] = []
    for task in tasks:
        owner = owners.get(_key(task.source.path)) if task.source.path != "-" and task.source.error is None else None
        if (owner is None or owner.source.path == task.source.path
                or _same_file(owner.source.path, task.source.path)):
            found.append(task)
            continue
        found.append(replace(task, output=None, fmt=None, make_folder=False, skip=True, error=None,
                             reason=f"the output of {owner.source.label} in this batch, not a new input"))
    return found


def _frame_text(source: Source) -> str:
    """The frame number as written in output names: from 0, padded to the width of the last one."""
    if source.frame is None:
        return "0"
    return str(source.frame).zfill(len(str(source.frames - 1)))


def _check_conflicts(tasks: Sequence[Task], *, force: bool) -> None:
    # an output that is another input cannot happen here: _outputs_found_again made that input skipped
    problems: list[str] = []
    by_output: dict[str, list[Task]] = {}
    in_place: list[str] = []
    for task in tasks:
        if task.output is None or task.output == "-" or task.error is not None or task.skip:
            continue
        by_output.setdefault(_key(task.output), []).append(task)
        if not force and task.source.path != "-" and _same_file(task.output, task.source.path):
            in_place.append(task.output)
    if in_place:  # one advice however many files: the count and the first few names
        shown = ", ".join(in_place[:3]) + (f" and {len(in_place) - 3} more" if len(in_place) > 3 else "")
        what = (f"{in_place[0]} would replace its own input" if len(in_place) == 1
                else f"{len(in_place)} outputs would replace their own inputs ({shown})")
        problems.append(f"{what}; pass --force to filter in place, or choose --outdir/--suffix")
    for group in by_output.values():
        if len(group) > 1:
            names = " and ".join(t.source.label for t in group[:3]) + (" and more" if len(group) > 3 else "")
            problems.append(
                f"{len(group)} inputs would write the same file: {names} -> {group[0].output}; "
                "use --name with {parent} or {index}, or separate --outdir runs"
            )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise OutputConflict("; ".join(problems[:5]) + more + "; nothing was written")


def _existing(task: Task, *, force: bool, skip_existing: bool) -> Task:
    if task.error is not None or task.skip or task.output in (None, "-") or force:
        return task
    assert task.output is not None
    if not os.path.lexists(task.output):
        return task
    if os.path.isdir(task.output) and task.fmt != "ZARR":  # a Zarr store is a folder
        return replace(task, error=f"{task.output}: is a folder; choose another output name")
    if skip_existing:
        return replace(task, skip=True, reason="the output exists (--skip-existing)")
    return replace(task, error=f"{task.output}: exists already; pass --force to overwrite it or "
                               "--skip-existing to keep it")



def plan_tasks(
    recipe: Recipe,
    inputs: Sequence[str],
    *,
    listed: Sequence[str] = (),
    recursive: bool = False,
    stdin_data: bytes | None = None,
    base: str | None = None,
    ignore_case: bool = False,
) -> list[Task]:
    """The tasks of ``recipe`` over ``inputs`` (expanded, every output named), for :func:`run_batch`.

    :func:`convcli.batch.expand_inputs` with the recipe's frames, pixel limit
    and output folder (files found in an ``--outdir`` below a walked folder
    are skipped, with the reason; ``base`` and ``ignore_case`` are ``--base``
    and ``--ignore-case``), then :func:`plan_outputs` with its naming and
    overwrite policy (an input that is another input's planned output is
    skipped as that output).

    Raises
    ------
    OutputConflict
        When outputs collide or replace inputs (see :func:`plan_outputs`).
    ValueError
        When the recipe has no naming.

    Examples
    --------
    >>> import os, tempfile
    >>> from convcli.recipe import build_recipe
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "a.png"), "wb").close()
    >>> recipe = build_recipe(kernels=["box"], suffix="_box")
    >>> [os.path.basename(t.output) for t in plan_tasks(recipe, [os.path.join(folder, "*.png")])]
    ['a_box.png']
    """
    if recipe.naming is None:
        raise ValueError("this recipe has no naming; build it with build_recipe(output=..., outdir=..., ...)")
    sources = expand_inputs(inputs, listed=listed, recursive=recursive, stdin_data=stdin_data,
                            outdir=recipe.naming.outdir, base=base, ignore_case=ignore_case,
                            frames=recipe.frames, max_pixels=recipe.max_pixels)
    return plan_outputs(sources, recipe.naming, force=recipe.force, skip_existing=recipe.skip_existing)
