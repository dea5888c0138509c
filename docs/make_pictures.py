"""Regenerate the pictures of the docs pages: ``python docs/make_pictures.py`` (from the repository root or anywhere).

Linear light (docs/apply-and-batches.md, "Linear light"): a high-contrast crop of the shipped
sample_images/astronaut.png (the black helmet with its white highlight and rim,
and the mission patch), and that crop blurred by ``convcli apply -k gaussian:sigma=4`` without
and with ``--linear``.  The blurs are exactly these commands::

    convcli apply docs/linear_crop.png -k gaussian:sigma=4 -o docs/linear_blur_encoded.png --force
    convcli apply docs/linear_crop.png -k gaussian:sigma=4 --linear -o docs/linear_blur_linear.png --force

run here through the same recipe ``convcli apply`` builds (``convcli.recipe.build_recipe``).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from convcli.batch import build_recipe, plan_tasks, run_batch

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
#: the crop of astronaut.png (left, top, right, bottom): the helmet and the patch
CROP = (272, 330, 464, 512)
KERNEL = "gaussian:sigma=4"


def blur(source: Path, output: Path, *, linear: bool) -> None:
    """``convcli apply SOURCE -k gaussian:sigma=4 [--linear] -o OUTPUT --force``."""
    recipe = build_recipe(kernels=[KERNEL], linear=linear, output=str(output), force=True)
    for result in run_batch(plan_tasks(recipe, [str(source)]), recipe):
        if result.status != "written":
            raise SystemExit(f"{source}: {result.error}")


def explain_pictures() -> list[str]:
    """The ``convcli explain`` pictures of docs/outsize-and-learning.md, exactly these commands::

        convcli explain -i "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2" -k "1 0 1; 0 1 0; 1 0 1" \\
                        --pad 1 --stride 2 --picture docs/explain.gif
        convcli explain -i "1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4" --pool max:size=2 --picture docs/pool.png
        convcli explain -i "1 2 3; 4 5 6; 7 8 9" -k "1 2; 3 4" --backward --picture docs/backward.png

    run here through the library calls the command makes.
    """
    from convcli.learn.explanation import explain_specs
    from convcli.pictures import explain_picture

    notes = "1 2 3 0 1; 4 5 6 1 0; 7 8 9 0 1; 1 0 1 2 3; 0 1 0 3 2"
    explain_picture(explain_specs(notes, "1 0 1; 0 1 0; 1 0 1", pad=1, stride=(2, 2)), DOCS / "explain.gif")
    explain_picture(explain_specs("1 3 2 1; 4 2 0 1; 5 6 1 2; 7 8 3 4", pool="max:size=2"), DOCS / "pool.png")
    explain_picture(explain_specs("1 2 3; 4 5 6; 7 8 9", "1 2; 3 4", backward=True), DOCS / "backward.png")
    return ["explain.gif", "pool.png", "backward.png"]


def kernel_pictures() -> list[str]:
    """The kernel pictures of docs/kernels.md: ``convcli kernels show SPEC --picture docs/kernel_NAME.png`` for
    gaussian:sigma=1 (low-pass), laplacian (high-pass) and sobel:axis=both (directional), through the library."""
    from convcli.pictures import kernel_picture

    shown = {"gaussian": "gaussian:sigma=1", "laplacian": "laplacian", "sobel": "sobel:axis=both"}
    for name, spec in shown.items():
        kernel_picture(spec, DOCS / f"kernel_{name}.png")
    return [f"kernel_{name}.png" for name in shown]


def main() -> None:
    crop = DOCS / "linear_crop.png"
    with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
        image.convert("RGB").crop(CROP).save(crop, optimize=True)
    blur(crop, DOCS / "linear_blur_encoded.png", linear=False)
    blur(crop, DOCS / "linear_blur_linear.png", linear=True)
    explained = explain_pictures() + kernel_pictures()
    for name in ("linear_crop.png", "linear_blur_encoded.png", "linear_blur_linear.png", *explained):
        path = DOCS / name
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
