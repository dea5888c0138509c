"""apply's options into one validated Recipe (recipe.py): every option counts, every bad value is named."""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.batch import Recipe, dry_run, plan_task, plan_tasks, run_batch
from convcli.errors import KernelError, OutputConflict, UsageError, exit_code_for
from convcli.imageio import DEFAULT_MAX_PIXELS
from convcli.operations import Activate, Convolve, Pooling
from convcli.recipe import Naming, build_recipe

OUT = {"outdir": "out"}


def recipe(**options):
    return build_recipe(**{**OUT, **options})


def conv(r: Recipe, index: int = 0) -> Convolve:
    op = r.operations[index]
    assert isinstance(op, Convolve)
    return op


# --- every option changes the recipe ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "read", "default", "changed"),
    [
        ({"kernels": ["box:size=5"]}, lambda r: [op.kernel.shape for op in r.operations], [], [(5, 5)]),
        ({"flip": True}, lambda r: conv(r).flip, False, True),
        ({"normalize": True, "kernels": ["1 2 1"]}, lambda r: conv(r).kernel.matrix.sum(), 4.0, 1.0),
        ({"border": "replicate"}, lambda r: conv(r).border, "reflect", "edge"),
        ({"border": "constant", "border_value": 7}, lambda r: conv(r).border_value, 0.0, 7.0),
        ({"pad": "1x2"}, lambda r: conv(r).pad, "same", (1, 2)),
        ({"stride": "2x3"}, lambda r: conv(r).stride, (1, 1), (2, 3)),
        ({"dilation": "2"}, lambda r: conv(r).dilation, (1, 1), (2, 2)),
        ({"anchor": "0,1"}, lambda r: conv(r).anchor, None, (0, 1)),
        ({"method": "FFT"}, lambda r: conv(r).method, "auto", "fft"),
        ({"activation": "tanh"}, lambda r: [op.name for op in r.operations if isinstance(op, Activate)], [],
         ["tanh"]),
        ({"pool": "mean:size=3,stride=1"}, lambda r: [(op.op, op.size, op.stride) for op in r.operations
                                                      if isinstance(op, Pooling)], [], [("mean", (3, 3), (1, 1))]),
        ({"channels": "gray"}, lambda r: r.channels, "each", "gray"),
        ({"alpha": "keep"}, lambda r: r.keep_alpha, False, True),
        ({"range_mode": "normalize"}, lambda r: r.range_mode, "clip", "normalize"),
        ({"gain": 0.5}, lambda r: r.gain, 1.0, 0.5),
        ({"offset": 128}, lambda r: r.offset, 0.0, 128.0),
        ({"depth": "16"}, lambda r: r.depth, None, "16"),
        ({"quality": 30}, lambda r: r.quality, None, 30),
        ({"max_pixels": 0}, lambda r: r.max_pixels, DEFAULT_MAX_PIXELS, None),
        ({"max_pixels": 1000}, lambda r: r.max_pixels, DEFAULT_MAX_PIXELS, 1000),
        ({"suffix": "_x"}, lambda r: r.naming.suffix, "", "_x"),
        ({"format": "jpg"}, lambda r: r.naming.fixed_format(), None, "JPEG"),
        ({"name": "{stem}_b.{ext}"}, lambda r: r.naming.template, None, "{stem}_b.{ext}"),
        ({"frames": "all"}, lambda r: r.frames, "first", "all"),
        ({"force": True}, lambda r: r.force, False, True),
        ({"skip_existing": True}, lambda r: r.skip_existing, False, True),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_every_option_changes_the_recipe(options, read, default, changed):
    kernels = options.get("kernels", ["box"])
    others = {key: value for key, value in options.items() if key != "kernels"}
    assert read(recipe(kernels=kernels if others else [])) == default
    assert read(recipe(kernels=kernels, **others)) == changed


def test_output_and_outdir_name_the_outputs():
    assert recipe().naming == Naming(outdir="out")
    assert build_recipe(output="-").naming.fixed_format() == "PNG"
    assert build_recipe(output="x.tif").naming.fixed_format() == "TIFF"


def test_operations_run_in_the_cnn_order_whatever_the_keyword_order():
    r = build_recipe(pool="max", activation="relu", kernels=["box", "sobel:axis=x"], outdir="o")
    assert [op.describe() for op in r.operations] == [
        "correlate box (3x3)", "correlate sobel:axis=x (3x3)", "activation relu", "max pool 2x2 stride 2x2"]
    assert build_recipe(kernels=["box"], activation="none", outdir="o").operations[-1].describe().startswith("corr")


def test_a_border_value_without_a_constant_border_is_noted():
    assert recipe(kernels=["box"], border_value=9).notes == (
        "--border-value 9 has no effect with --border reflect; it is the value of --border constant",)
    assert recipe(kernels=["box"], border="constant", border_value=9).notes == ()
    assert recipe(kernels=["box"]).notes == ()


# --- every bad value is a usage error naming the option ----------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stride": "0"}, "--stride must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '0'"),
        ({"dilation": "-1x2"}, "--dilation must be N or HxW (e.g. 2 or 2x1) with integers >= 1, got '-1x2'"),
        ({"pad": "lots"}, "--pad must be same, valid, full, N, HxW or T,B,L,R (e.g. 2, 1x2 or 0,1,0,1) with "
                          "integers >= 0, got 'lots'"),
        ({"anchor": "1"}, "--anchor must be R,C (e.g. 1,1) with integers >= 0, got '1'"),
        ({"channels": "rgb"}, "--channels must be one of each, sum, gray, got 'rgb'"),
        ({"channels": "gary"}, "--channels must be one of each, sum, gray, got 'gary'; did you mean 'gray'?"),
        ({"alpha": "drop"}, "--alpha must be one of filter, keep, got 'drop'"),
        ({"range_mode": "wrap"}, "--range must be one of clip, abs, normalize, got 'wrap'"),
        ({"activation": "softmax"}, "--activation must be one of none, relu, abs, sigmoid, tanh, got 'softmax'"),
        ({"method": "slow"}, "--method must be one of auto, direct, separable, fft, got 'slow'"),
        ({"depth": "32"}, "--depth must be one of 8, 16, float, got '32'"),
        ({"frames": "every"}, "--frames must be one of first, all, got 'every'"),
        ({"gain": math.nan}, "--gain must be a finite number, got nan"),
        ({"offset": math.inf}, "--offset must be a finite number in output units (e.g. 128) or a percentage"),
        ({"border_value": -math.inf}, "--border-value must be a finite number, got -inf"),
        ({"gain": "x"}, "--gain must be a finite number, got x"),
        ({"quality": 0}, "--quality must be an integer from 1 to 100, got 0"),
        ({"quality": 101}, "--quality must be an integer from 1 to 100, got 101"),
        ({"max_pixels": -1}, "--max-pixels must be an integer >= 0, got -1"),
        ({"border": "mirror"}, "border 'mirror' is ambiguous"),
        ({"kernels": ["box"], "anchor": "5,5"}, "anchor must lie inside the 3x3 kernel"),
        ({"pool": "median:size=2"}, "--pool 'median:size=2': the operation must be max, mean or min"),
        ({"pool": "max:size=2,pad=2"}, "pooling pad must be at most half the window"),
        ({"force": True, "skip_existing": True},
         "--force replaces existing outputs and --skip-existing keeps them; choose one"),
        ({"output": "-", "outdir": None, "json_report": True},
         "--json prints its report on stdout, which -o - uses for the image; write the image to a file or drop "
         "--json"),
        ({"output": "x.jpg", "outdir": None, "depth": "16"},
         "--depth 16: JPEG cannot hold 16-bit samples; write .png or .tif for 16-bit, .tif or .npy for float, "
         "or drop --depth"),
        ({"format": "png", "depth": "float"}, "--depth float: PNG cannot hold float samples"),
        ({"output": "-", "outdir": None, "depth": "float"}, "--depth float: PNG cannot hold float samples"),
        ({"outdir": None}, "say where the outputs go: -o FILE (or -o - for stdout), --outdir DIR, or --suffix"),
        ({"format": "docx"}, "--format 'docx' is not a format convcli writes"),
        ({"name": "{stem}_{when}.png"}, r"--name '{stem}_{when}.png' uses an unknown field {when}"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option(options, message):
    with pytest.raises(UsageError) as info:
        recipe(**options)
    assert str(info.value).startswith(message), str(info.value)
    assert exit_code_for(info.value) == 2


def test_exact_messages_of_a_few():
    with pytest.raises(UsageError, match=r"^--stride must be N or HxW \(e\.g\. 2 or 2x1\) with integers >= 1, "
                                         r"got '0'$"):
        recipe(stride="0")
    with pytest.raises(OutputConflict, match=r"^-o names the one output; it cannot be combined with --outdir$"):
        build_recipe(output="x.png", outdir="o")
    with pytest.raises(UsageError, match=r"^--gain must be a finite number, got nan$"):
        recipe(gain=float("nan"))


def test_a_bad_kernel_stays_a_kernel_error():
    with pytest.raises(KernelError, match=r"unknown kernel 'gausian'.*did you mean 'gaussian'\?") as info:
        recipe(kernels=["gausian:sigma=2"])
    assert not isinstance(info.value, UsageError) and exit_code_for(info.value) == 1
    with pytest.raises(KernelError, match="sums to 0, so --normalize cannot divide"):
        recipe(kernels=["1 -1"], normalize=True)
    # a bad value inside a kernel spec is the kernel's error (exit 1), never turned into a usage error
    with pytest.raises(ValueError, match=r"size must be N or HxW with integers >= 1 .* in 'box:size=0'") as bad:
        recipe(kernels=["box:size=0"])
    assert not isinstance(bad.value, UsageError) and exit_code_for(bad.value) == 1


def test_a_depth_the_format_holds_is_accepted():
    assert build_recipe(output="x.tif", depth="float").depth == "float"
    assert build_recipe(output="x.png", depth="16").depth == "16"
    assert recipe(depth="float").depth == "float"  # each input keeps its own format: checked per file


# --- the recipe is one picklable object that run and dry-run share --------------------------------


def _image(tmp_path: Path, name: str = "in.png", shape=(30, 26, 3)) -> str:
    rng = np.random.default_rng(9)
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8)).save(path)
    return str(path)


def test_the_recipe_is_frozen_and_pickles(tmp_path):
    r = recipe(kernels=["gaussian:sigma=1.5", "sobel:axis=both"], activation="relu", pool="max:size=2",
               range_mode="normalize", depth="16", gain=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.gain = 2.0  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(r))
    assert [op.describe() for op in copy.operations] == [op.describe() for op in r.operations]
    assert (copy.range_mode, copy.depth, copy.gain, copy.naming) == ("normalize", "16", 0.5, r.naming)
    source = _image(tmp_path)
    for name, used in (("a", r), ("b", copy)):
        task = dataclasses.replace(plan_tasks(used, [source])[0], output=str(tmp_path / f"{name}.png"))
        assert run_batch([task], used)[0].status == "written"
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize(
    "options",
    [
        {"kernels": ["box:size=3"], "stride": "2", "pool": "mean:size=2"},
        {"kernels": ["gaussian:sigma=1"], "pad": "valid", "dilation": "2", "channels": "gray"},
        {"kernels": ["sobel:axis=x"], "channels": "sum", "range_mode": "abs", "depth": "16", "format": "tif"},
        {"pool": "max:size=3,stride=2,ceil=true"},
    ],
)
def test_dry_run_plans_what_run_does(tmp_path, options):
    r = build_recipe(outdir=str(tmp_path / "out"), **options)
    tasks = plan_tasks(r, [_image(tmp_path, "a.png"), _image(tmp_path, "b.png", (21, 40))])
    planned = [plan_task(t, r) for t in tasks]
    assert [p.to_dict() for p in planned] == [p.to_dict() for p in dry_run(tasks, r)]
    assert [p.status for p in planned] == ["planned", "planned"]
    assert not (tmp_path / "out").exists()
    ran = run_batch(tasks, r)
    assert [x.status for x in ran] == ["written", "written"]
    for plan, done in zip(planned, ran, strict=True):
        assert (plan.output, plan.output_shape, plan.depth, plan.format) == (
            done.output, done.output_shape, done.depth, done.format)
        with Image.open(done.output) as written:
            assert written.size[::-1] == done.output_shape[:2]


def test_the_recipe_runs_what_an_independent_reference_computes(tmp_path):
    arr = np.random.default_rng(3).normal(size=(12, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", arr)
    r = build_recipe(kernels=["1 2; 3 4"], pad="valid", activation="relu", output=str(tmp_path / "y.npy"))
    [task] = plan_tasks(r, [str(tmp_path / "x.npy")])
    assert run_batch([task], r)[0].status == "written"
    windows = np.lib.stride_tricks.sliding_window_view(arr.astype(np.float64), (2, 2))
    expected = np.maximum((windows * np.array([[1, 2], [3, 4]])).sum(axis=(2, 3)), 0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-5)


def test_run_uses_the_recipe_pixel_limit(tmp_path):
    source = _image(tmp_path)  # 30x26 = 780 pixels
    for limit, status in ((779, "failed"), (780, "written"), (0, "written")):
        r = build_recipe(output=str(tmp_path / f"out{limit}.png"), max_pixels=limit)
        [result] = run_batch(plan_tasks(r, [source]), r)
        assert result.status == status, result.error
        if status == "failed":
            assert "26x30 is 780 pixels, over the limit of 779" in result.error


def test_plan_uses_the_recipe_frames_and_overwrite_policy(tmp_path):
    frames = [Image.fromarray(np.full((4, 5), v, np.uint8)) for v in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    out = tmp_path / "out"
    assert len(plan_tasks(build_recipe(outdir=str(out), format="png"), [str(tmp_path / "anim.gif")])) == 1
    every = plan_tasks(build_recipe(outdir=str(out), format="png", frames="all"), [str(tmp_path / "anim.gif")])
    assert [Path(t.output).name for t in every] == ["anim_0.png", "anim_1.png", "anim_2.png"]
    out.mkdir()
    (out / "anim_0.png").write_bytes(b"old")
    again = plan_tasks(build_recipe(outdir=str(out), format="png", frames="all", skip_existing=True),
                       [str(tmp_path / "anim.gif")])
    assert [t.skip for t in again] == [True, False, False]
    forced = build_recipe(outdir=str(out), format="png", frames="all", force=True)
    assert run_batch(plan_tasks(forced, [str(tmp_path / "anim.gif")])[:1], forced)[0].status == "written"
    assert (out / "anim_0.png").read_bytes() != b"old"
    # files in the output folder are found but left alone (skipped, with the reason): a re-run does not
    # filter its own outputs
    walked = plan_tasks(build_recipe(outdir=str(out), format="png", force=True), [str(tmp_path)], recursive=True)
    assert sorted((os.path.basename(t.source.path), t.skip) for t in walked) == [("anim.gif", False),
                                                                                 ("anim_0.png", True)]


def test_plan_needs_a_naming():
    with pytest.raises(ValueError, match="this recipe has no naming"):
        plan_tasks(Recipe(), ["a.png"])


def test_run_alone_creates_the_outdir_folders_like_a_batch(tmp_path):
    """A batch of one task writes into a missing --outdir sub-folder."""
    import numpy as np
    from scipy import ndimage

    from convcli.recipe import build_recipe

    (tmp_path / "in" / "sub").mkdir(parents=True)
    image = np.random.default_rng(3).random((9, 11), dtype=np.float32)
    np.save(tmp_path / "in" / "sub" / "a.npy", image)
    recipe = build_recipe(kernels=["box:size=3"], outdir=str(tmp_path / "out"))
    (task,) = plan_tasks(recipe, [str(tmp_path / "in")], recursive=True)
    [result] = run_batch([task], recipe)
    assert result.status == "written", result.error
    written = np.load(tmp_path / "out" / "sub" / "a.npy")
    np.testing.assert_allclose(written, ndimage.uniform_filter(image.astype(np.float64), 3, mode="mirror"),
                               rtol=1e-5, atol=1e-6)
