"""Expanding inputs, naming outputs, running workers and per-file results (batch.py)."""

from __future__ import annotations

import os
from pathlib import Path, PurePath

import numpy as np
import pytest
from PIL import Image

from convcli.batch import (
    FileResult,
    LocalExecutor,
    Recipe,
    Source,
    Task,
    check_inputs,
    default_jobs,
    dry_run,
    expand_inputs,
    load_path_list,
    plan_outputs,
    plan_task,
    process_task,
    read_path_list,
    run_batch,
)
from convcli.errors import ImageReadError, OutputConflict, ParameterError, UsageError
from convcli.imageio import read_image, write_image
from convcli.kernels import kernel
from convcli.operations import Activate, Convolve, Pooling
from convcli.recipe import Naming


def png(path: Path, value: int = 100, shape=(8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)
    return path


def names(sources):
    return [(Path(s.path).name, s.rel.as_posix(), s.error) for s in sources]


# --- inputs -------------------------------------------------------------------------


def test_files_folders_and_globs(tmp_path):
    for rel in ("a.png", "b.jpg", "sub/c.png", "sub/deep/d.tif", ".hidden.png", "notes.txt", ".git/e.png"):
        png(tmp_path / rel) if not rel.endswith(".txt") else (tmp_path / rel).write_text("x")
    walked = expand_inputs([str(tmp_path)], recursive=True)
    assert [s.rel.as_posix() for s in walked] == ["a.png", "b.jpg", "sub/c.png", "sub/deep/d.tif"]
    globbed = expand_inputs([str(tmp_path / "**" / "*.png")])
    assert [s.rel.as_posix() for s in globbed] == ["a.png", "sub/c.png"]
    top = expand_inputs([str(tmp_path / "*")])  # folders a glob matches are skipped without -r
    assert sorted(s.rel.as_posix() for s in top) == ["a.png", "b.jpg", "notes.txt"]
    assert all(s.error is None for s in top)


def test_a_folder_without_images_on_top_and_missing_inputs_are_failed_sources(tmp_path):
    (tmp_path / "empty").mkdir()
    sources = expand_inputs([str(tmp_path), str(tmp_path / "nope.png"), str(tmp_path / "zz*.png")])
    assert [s.error for s in sources] == [
        f"{tmp_path}: the folder holds no image files directly inside (.png, .jpg, .tif, .npy, …); "
        "pass -r to filter its sub-folders too",
        f"{tmp_path / 'nope.png'}: no such file or folder; check the path",
        f"{tmp_path / 'zz*.png'}: no file matches this pattern; check it (quote it so that convcli expands it)",
    ]
    empty = expand_inputs([str(tmp_path / "empty")], recursive=True)
    assert empty[0].error.endswith("the folder holds no image files (.png, .jpg, .tif, .npy, …)")


def test_each_file_once_and_the_output_folder_skipped(tmp_path):
    a = png(tmp_path / "a.png")
    png(tmp_path / "out" / "a.png")
    sources = expand_inputs([str(a), str(tmp_path / "*.png"), str(tmp_path)], recursive=True,
                            skip_dirs=[tmp_path / "out"])
    assert [s.path for s in sources] == [str(a)]


def test_listed_paths_are_literal_and_names_with_glob_characters_work(tmp_path):
    odd = png(tmp_path / "[x] a b.png")
    sources = expand_inputs([str(odd)], listed=[str(odd), str(tmp_path / "*.png")])
    assert sources[0].path == str(odd) and sources[0].error is None
    assert sources[1].error.endswith("no such file or folder; check the path")
    assert read_path_list("a.png\n\n  b c.png\r\n") == ["a.png", "  b c.png"]


def test_list_files_are_read_literally_and_a_missing_one_is_named(tmp_path):
    (tmp_path / "list.txt").write_text("a b.png\n\n*.png\r\n", encoding="utf-8")
    assert load_path_list(tmp_path / "list.txt") == ["a b.png", "*.png"]
    with pytest.raises(ImageReadError, match=r"^--from-file .*nope.txt: cannot read the list \(No such file"):
        load_path_list(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("patterns", "options", "message"),
    [
        ([], {}, r"^give at least one INPUT \(a file, folder, quoted glob or - for stdin\), or --from-file LIST"),
        (["-"], {"from_file": "-"}, r"^stdin can carry an image \(INPUT -\) or a list of paths \(--from-file -\), "
                                    "not both$"),
        ([], {"from_file": "l.txt", "listed": []}, r"^--from-file l.txt: the list holds no paths$"),
    ],
)
def test_inputs_are_checked_before_anything_is_read(patterns, options, message):
    with pytest.raises(UsageError, match=message):
        check_inputs(patterns, **options)


def test_inputs_that_make_a_batch_pass_the_check():
    check_inputs(["a.png"])
    check_inputs([], from_file="-")  # the list is not read yet
    check_inputs(["a.png"], from_file="l.txt", listed=[])  # an empty list beside an input
    check_inputs(["-"], from_file="l.txt", listed=["b.png"])


def test_stdin_is_a_source():
    sources = expand_inputs(["-", "-"], stdin_data=b"data")
    assert len(sources) == 1 and sources[0].data == b"data" and sources[0].rel == PurePath("stdin")
    with pytest.raises(ParameterError, match=r"'-' reads an image from stdin"):
        expand_inputs(["-"])


# --- naming -------------------------------------------------------------------------


def _sources(*paths: str) -> list[Source]:
    return [Source(p, PurePath(Path(p).name)) for p in paths]


def test_outdir_keeps_names_and_relative_folders(tmp_path):
    src = [Source("in/a.png", PurePath("a.png")), Source("in/sub/b.jpg", PurePath("sub/b.jpg"))]
    tasks = plan_outputs(src, Naming(outdir=str(tmp_path / "out")))
    assert [t.output for t in tasks] == [str(tmp_path / "out" / "a.png"), str(tmp_path / "out" / "sub" / "b.jpg")]
    assert [t.fmt for t in tasks] == ["PNG", "JPEG"] and all(t.make_folder for t in tasks)


def test_suffix_format_and_template(tmp_path):
    src = _sources(str(tmp_path / "x.png"), str(tmp_path / "y.tif"))
    beside = plan_outputs(src, Naming(suffix="_blur"))
    assert [Path(t.output).name for t in beside] == ["x_blur.png", "y_blur.tif"]
    assert not beside[0].make_folder and Path(beside[0].output).parent == tmp_path
    fmt = plan_outputs(src, Naming(outdir="o", format="JPG"))
    assert [Path(t.output).name for t in fmt] == ["x.jpg", "y.jpg"] and fmt[0].fmt == "JPEG"
    named = plan_outputs(src, Naming(outdir="o", template="{index}-{parent}-{stem}{suffix}.{ext}", suffix="_s"))
    assert [Path(t.output).name for t in named] == [f"1-{tmp_path.name}-x_s.png", f"2-{tmp_path.name}-y_s.tif"]


def test_frames_all_gives_each_frame_a_numbered_output(tmp_path):
    frames = [Image.fromarray(np.full((4, 5), v, np.uint8)) for v in range(12)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    png(tmp_path / "still.png")
    sources = expand_inputs([str(tmp_path / "anim.gif"), str(tmp_path / "still.png")], frames="all")
    assert [(s.label, s.frame, s.frames) for s in sources][:2] == [
        (f"{tmp_path / 'anim.gif'}[0]", 0, 12), (f"{tmp_path / 'anim.gif'}[1]", 1, 12)]
    assert sources[-1].frame is None and len(sources) == 13
    outputs = [Path(t.output).name for t in plan_outputs(sources, Naming(outdir="o", format="png"))]
    assert outputs[:2] == ["anim_00.png", "anim_01.png"] and outputs[-2:] == ["anim_11.png", "still.png"]
    named = plan_outputs(sources, Naming(outdir="o", template="{frame}-{stem}.{ext}"))
    assert [Path(t.output).name for t in named][-2:] == ["11-anim.gif", "0-still.png"]
    one = plan_outputs(sources[:12], Naming(output=str(tmp_path / "out.tif")))
    assert [Path(t.output).name for t in one][:2] == ["out_00.tif", "out_01.tif"]
    with pytest.raises(OutputConflict, match=r"-o - writes one image to stdout, but .*anim.gif has 12 frames"):
        plan_outputs(sources[:12], Naming(output="-"))
    assert len(expand_inputs([str(tmp_path / "anim.gif")])) == 1  # --frames first (the default)
    with pytest.raises(ParameterError, match=r"frames must be one of first, all, got 'every'"):
        expand_inputs([str(tmp_path / "anim.gif")], frames="every")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("naming", "message"),
    [
        ({}, "say where the outputs go: -o FILE"),
        ({"output": "a.png", "outdir": "o"}, "-o names the one output; it cannot be combined with --outdir"),
        ({"outdir": "o", "format": "xyz"}, "--format 'xyz' is not a format convcli writes"),
        ({"outdir": "o", "template": "{stem}_{size}.png"}, r"unknown field \{size\}; valid: \{stem\}, \{ext\}"),
        ({"outdir": "o", "template": "{stem"}, "is not a valid template"),
        ({"outdir": "o", "template": "fixed.png"}, "gives every input the same name"),
        ({"outdir": "o", "template": "../{stem}.png"}, "must be a relative name"),
    ],
)
def test_naming_is_checked(naming, message):
    with pytest.raises(OutputConflict, match=message) as info:
        Naming(**naming)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("naming", "fmt"),
    [
        ({"outdir": "o"}, None),
        ({"outdir": "o", "format": ".TIF"}, "TIFF"),
        ({"output": "x.jpeg"}, "JPEG"),
        ({"output": "x.xyz"}, None),
        ({"output": "x.xyz", "format": "npy"}, "NPY"),
        ({"output": "-"}, "PNG"),
        ({"output": "-", "format": "webp"}, "WEBP"),
    ],
)
def test_the_format_the_options_fix_is_the_one_plan_outputs_uses(naming, fmt):
    assert Naming(**naming).fixed_format() == fmt
    if fmt is not None:
        assert plan_outputs(_sources("in/a.bmp"), Naming(**naming))[0].fmt == fmt


def test_one_output_for_several_inputs_is_a_usage_error():
    with pytest.raises(OutputConflict, match=r"-o out.png names one output, but there are 2 inputs"):
        plan_outputs(_sources("a.png", "b.png"), Naming(output="out.png"))
    with pytest.raises(OutputConflict, match=r"-o out.xyz: cannot tell the format"):
        plan_outputs(_sources("a.png"), Naming(output="out.xyz"))
    assert plan_outputs(_sources("a.png"), Naming(output="out.xyz", format="png"))[0].fmt == "PNG"
    assert plan_outputs(_sources("a.png"), Naming(output="-"))[0].fmt == "PNG"


def test_collisions_are_reported_before_anything_is_written(tmp_path):
    src = [Source("a/x.png", PurePath("x.png")), Source("b/x.png", PurePath("x.png"))]
    with pytest.raises(OutputConflict, match=r"2 inputs would write the same file: a/x.png and b/x.png -> "
                                             r".*x.png; use --name with \{parent\}"):
        plan_outputs(src, Naming(outdir=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


def test_an_output_equal_to_its_input_needs_force(tmp_path):
    a = png(tmp_path / "a.png")
    with pytest.raises(OutputConflict, match=r"a.png would replace its own input; pass --force"):
        plan_outputs(_sources(str(a)), Naming(outdir=str(tmp_path)))
    task = plan_outputs(_sources(str(a)), Naming(outdir=str(tmp_path)), force=True)[0]
    assert task.output == str(a) and task.error is None


def test_an_input_that_is_another_inputs_output_is_that_output_not_an_input(tmp_path):
    a, a_blur = png(tmp_path / "a.png"), png(tmp_path / "a_blur.png")
    first, again = plan_outputs(_sources(str(a), str(a_blur)), Naming(suffix="_blur"), force=True)
    assert (first.output, first.skip, first.error) == (str(a_blur), False, None)  # --force replaces it
    assert (again.output, again.skip, again.reason) == (
        None, True, f"the output of {a} in this batch, not a new input")


def test_existing_outputs_fail_skip_or_are_replaced(tmp_path):
    a = png(tmp_path / "a.png")
    png(tmp_path / "o" / "a.png")
    naming = Naming(outdir=str(tmp_path / "o"))
    assert "exists already; pass --force" in plan_outputs(_sources(str(a)), naming)[0].error
    assert plan_outputs(_sources(str(a)), naming, skip_existing=True)[0].skip
    assert plan_outputs(_sources(str(a)), naming, force=True)[0].error is None
    with pytest.raises(OutputConflict, match=r"--force replaces existing outputs and --skip-existing keeps them"):
        plan_outputs(_sources(str(a)), naming, force=True, skip_existing=True)


def test_stdin_needs_a_named_output():
    src = [Source("-", PurePath("stdin"), data=b"")]
    assert plan_outputs(src, Naming(outdir="o"))[0].output == os.path.join("o", "stdin.png")
    assert "stdin has no folder to write beside" in plan_outputs(src, Naming(suffix="_x"))[0].error


# --- running ------------------------------------------------------------------------


RECIPE = Recipe(operations=(Convolve(kernel("gaussian:sigma=1.5")), Activate("relu")))


def _batch(tmp_path, count=4, shape=(24, 20, 3)):
    rng = np.random.default_rng(3)
    paths = []
    for i in range(count):
        arr = rng.integers(0, 256, shape).astype(np.uint8)
        path = tmp_path / "in" / f"img{i}.png"
        path.parent.mkdir(exist_ok=True)
        write_image(path, arr)
        paths.append(str(path))
    return paths


def test_run_batch_writes_every_file_and_reports_in_order(tmp_path):
    paths = _batch(tmp_path)
    (tmp_path / "in" / "img1.png").write_bytes(b"broken")
    tasks = plan_outputs(expand_inputs(paths), Naming(outdir=str(tmp_path / "out")))
    seen: list[FileResult] = []
    results = run_batch(tasks, RECIPE, on_result=seen.append)
    assert [r.status for r in results] == ["written", "failed", "written", "written"]
    assert results[1].error.startswith(f"{paths[1]}: not an image Pillow can read")
    assert sorted(r.index for r in seen) == [0, 1, 2, 3]
    assert sorted(os.listdir(tmp_path / "out")) == ["img0.png", "img2.png", "img3.png"]
    out, _ = read_image(tmp_path / "out" / "img0.png")
    assert out.shape == (24, 20, 3) and results[0].depth == "8" and results[0].output_shape == (24, 20, 3)


def test_fail_fast_stops_starting_new_files(tmp_path):
    paths = _batch(tmp_path)
    (tmp_path / "in" / "img0.png").write_bytes(b"broken")
    tasks = plan_outputs(expand_inputs(paths), Naming(outdir=str(tmp_path / "out")))
    results = run_batch(tasks, RECIPE, fail_fast=True)
    assert [r.status for r in results] == ["failed", "skipped", "skipped", "skipped"]
    why = f"not started: --fail-fast stopped the batch after {paths[0]} failed"
    assert results[1].error == why and results[1].reason == why  # the reason reaches --json and the summary
    assert results[1].to_dict()["reason"] == why
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


@pytest.mark.slow
def test_worker_processes_write_the_same_bytes_as_one_process(tmp_path):
    paths = _batch(tmp_path, count=5, shape=(300, 260, 3))
    recipe = Recipe(operations=(Convolve(kernel("gaussian:sigma=4")), Convolve(kernel("sobel:axis=both")),
                                Pooling("max", 2)), range_mode="normalize")
    for jobs in (1, 3):
        tasks = plan_outputs(expand_inputs(paths), Naming(outdir=str(tmp_path / f"j{jobs}")))
        assert all(r.status == "written" for r in run_batch(tasks, recipe, executor=LocalExecutor(jobs=jobs)))
    for name in os.listdir(tmp_path / "j1"):
        assert (tmp_path / "j1" / name).read_bytes() == (tmp_path / "j3" / name).read_bytes()


def test_process_task_turns_errors_into_results(tmp_path):
    tasks = plan_outputs(expand_inputs([str(tmp_path / "missing.png")]), Naming(outdir=str(tmp_path)))
    result = process_task(tasks[0], RECIPE)
    assert result.status == "failed" and result.error.endswith("missing.png: no such file or folder; check the path")
    path = png(tmp_path / "small.png", shape=(2, 2))
    task = plan_outputs(expand_inputs([str(path)]), Naming(outdir=str(tmp_path / "o")))[0]
    result = process_task(task, Recipe(operations=(Convolve(kernel("box:size=5"), pad="valid"),)))
    assert result.status == "failed" and "nothing is left along rows" in result.error


def test_output_depth_follows_the_input_and_falls_back(tmp_path):
    write_image(tmp_path / "f.npy", np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    sources = expand_inputs([str(tmp_path / "f.npy")])
    task = plan_outputs(sources, Naming(outdir=str(tmp_path / "o"), format="png"))[0]
    task = task.__class__(**{**task.__dict__, "make_folder": True})
    (tmp_path / "o").mkdir()
    result = process_task(task, Recipe())
    assert result.depth == "16" and any("PNG cannot hold float data here; wrote 16-bit" in w for w in result.warnings)
    arr, _ = read_image(tmp_path / "o" / "f.png")
    assert arr.dtype == np.uint16 and arr[-1, -1] == 65535
    strict = process_task(plan_outputs(sources, Naming(outdir=str(tmp_path / "o"), format="jpg"))[0],
                          Recipe(depth="16"))
    assert "JPEG cannot hold 16-bit gray data" in strict.error


def test_stdout_payload(tmp_path):
    path = png(tmp_path / "a.png")
    task = plan_outputs(expand_inputs([str(path)]), Naming(output="-", format="npy"))[0]
    result = process_task(task, RECIPE)
    assert result.payload is not None and result.payload[:6] == b"\x93NUMPY" and result.format == "NPY"


def test_dry_run_plans_without_writing(tmp_path):
    paths = _batch(tmp_path, count=2)
    tasks = plan_outputs(expand_inputs(paths), Naming(outdir=str(tmp_path / "out")))
    recipe = Recipe(operations=(Convolve(kernel("box:size=3"), stride=2), Pooling("mean", 2)))
    planned = dry_run(tasks, recipe)
    assert [r.status for r in planned] == ["planned", "planned"]
    assert planned[0].output_shape == (6, 5, 3) and [s.output for s in planned[0].steps] == [(12, 10, 3), (6, 5, 3)]
    assert planned[0].steps[1].method is None  # pooling has no method
    assert not (tmp_path / "out").exists()
    ran = run_batch(tasks, recipe)
    assert ran[0].output_shape == planned[0].output_shape


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_dry_run_reports_a_forced_method(tmp_path, method):
    path = png(tmp_path / "a.png")
    task = plan_outputs(expand_inputs([str(path)]), Naming(outdir=str(tmp_path / "out")))[0]
    [step] = dry_run([task], Recipe(operations=(Convolve(kernel("box:size=3"), method=method),)))[0].steps
    assert (step.method, step.reason) == (method, "forced by --method")


def _full_rank(size: int) -> np.ndarray:
    matrix = np.random.default_rng(1).normal(size=(size, size))
    assert np.linalg.matrix_rank(matrix) == size
    return matrix


@pytest.mark.parametrize(
    ("shape", "matrix", "expected"),
    [
        # 5 non-zero taps (rank 2): 5 multiply-adds a pixel directly, 2 x (3 + 3) in separable passes, and an
        # FFT's transforms cost more than 5 taps on any image
        ((400, 400), [[0, 1, 0], [1, -4, 1], [0, 1, 0]], "direct"),
        # a 65x65 Gaussian has rank 1: 130 taps in two 1-D passes instead of 4225, and an FFT of a 2000x2000
        # image costs more than 130 multiply-adds a pixel
        ((2000, 2000), "gaussian:sigma=8", "separable"),
        # a full-rank 101x101 kernel: 10201 taps directly, 101 pairs of passes (20402 taps) separably; the FFT
        # does it in O(log) work a pixel
        ((1000, 1000), _full_rank(101), "fft"),
    ],
    ids=["tiny-full-rank", "big-rank-1", "huge-full-rank"],
)
def test_dry_run_reports_the_method_auto_must_choose(tmp_path, shape, matrix, expected):
    path = png(tmp_path / "big.png", shape=shape)
    matrix = kernel(matrix) if isinstance(matrix, str) else kernel(np.asarray(matrix, dtype=float))
    task = plan_outputs(expand_inputs([str(path)]), Naming(outdir=str(tmp_path / "out")))[0]
    [step] = dry_run([task], Recipe(operations=(Convolve(matrix),)))[0].steps
    assert step.method == expected, step.reason


def test_an_interrupted_batch_leaves_complete_outputs_only(tmp_path, monkeypatch):
    paths = _batch(tmp_path, count=3)
    tasks = plan_outputs(expand_inputs(paths), Naming(outdir=str(tmp_path / "out")))
    real_fsync = os.fsync
    calls = []

    def fsync_then_interrupt(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file, half written
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_batch(tasks, RECIPE)
    assert sorted(os.listdir(tmp_path / "out")) == ["img0.png"]
    read_image(tmp_path / "out" / "img0.png")


def test_the_recipe_force_replaces_existing_outputs(tmp_path):
    paths = _batch(tmp_path, count=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "img0.png").write_bytes(b"old")
    tasks = plan_outputs(expand_inputs(paths), Naming(outdir=str(tmp_path / "out")), force=True)
    kept = run_batch(tasks, RECIPE)[0]
    assert kept.status == "failed" and "exists" in kept.error and (tmp_path / "out" / "img0.png").read_bytes() == b"old"
    assert run_batch(tasks, Recipe(operations=RECIPE.operations, force=True))[0].status == "written"
    read_image(tmp_path / "out" / "img0.png")


def test_planning_a_task_that_needs_no_work():
    source = Source("a.png", PurePath("a.png"))
    assert plan_task(Task(0, source, "o/a.png", "PNG", skip=True), RECIPE).status == "skipped"
    failed = plan_task(Task(3, source, None, None, error="a.png: no such file"), RECIPE)
    assert (failed.status, failed.error, failed.index) == ("failed", "a.png: no such file", 3)


@pytest.mark.parametrize(("count", "threads"), [(1, None), (3, 1)])
def test_several_files_in_one_process_use_one_engine_thread_each(tmp_path, monkeypatch, count, threads):
    """The engine's thread count comes from a context (engine.thread_limit), never the environment."""
    import convcli.batch.bookkeeping as bookkeeping
    from convcli.engine import thread_count
    from convcli.engine._threads import machine_threads

    seen = []

    def spy(task, recipe, *, overwrite=False, stdout=True):
        seen.append(thread_count())
        return process_task(task, recipe, overwrite=overwrite, stdout=stdout)

    monkeypatch.setattr(bookkeeping, "process_task", spy)
    before = dict(os.environ)
    tasks = plan_outputs(expand_inputs(_batch(tmp_path, count=count)), Naming(outdir=str(tmp_path / "out")))
    assert [r.status for r in run_batch(tasks, RECIPE, executor=LocalExecutor(jobs=1))] == ["written"] * count
    assert seen == [threads or machine_threads()] * count
    assert thread_count() == machine_threads() and dict(os.environ) == before


def test_default_jobs_is_the_number_of_usable_cores():
    assert default_jobs() == len(os.sched_getaffinity(0))


# --- where a batch runs: --jobs, --scheduler and DASK_SCHEDULER_ADDRESS (batch.command) -----------------


@pytest.mark.parametrize(("jobs", "scheduler", "environ", "kind", "where", "noted"), [
    (None, None, {}, "LocalExecutor", None, False),
    (3, None, {}, "LocalExecutor", 3, False),
    (None, "tcp://h:8786", {}, "DaskExecutor", "tcp://h:8786", False),
    (None, None, {"DASK_SCHEDULER_ADDRESS": "tcp://e:8786"}, "DaskExecutor", "tcp://e:8786", False),
    (None, "local", {"DASK_SCHEDULER_ADDRESS": "tcp://e:8786"}, "DaskExecutor", "local", False),
    (2, None, {"DASK_SCHEDULER_ADDRESS": "tcp://e:8786"}, "LocalExecutor", 2, True),
    (None, None, {"DASK_SCHEDULER_ADDRESS": ""}, "LocalExecutor", None, False),
])
def test_choose_executor_follows_jobs_then_scheduler_then_the_variable(jobs, scheduler, environ, kind, where, noted):
    from convcli.batch import choose_executor

    executor, notes = choose_executor(jobs=jobs, scheduler=scheduler, environ=environ)
    assert type(executor).__name__ == kind
    if kind == "LocalExecutor":
        assert executor.jobs == (where or default_jobs())
    else:
        assert executor.scheduler == where
    assert notes == ([f"--jobs {jobs} runs on this machine; DASK_SCHEDULER_ADDRESS=tcp://e:8786 is not used (drop "
                      "--jobs to run on that cluster)"] if noted else [])


@pytest.mark.parametrize(("jobs", "scheduler", "message"), [
    (0, None, r"^--jobs must be an integer >= 1, got 0$"),
    (2, "local", r"^--jobs 2 sets local worker processes and --scheduler local runs on a Dask cluster"),
])
def test_choose_executor_refuses_bad_jobs_and_both(jobs, scheduler, message):
    from convcli.batch import choose_executor

    with pytest.raises(UsageError, match=message):
        choose_executor(jobs=jobs, scheduler=scheduler, environ={})
