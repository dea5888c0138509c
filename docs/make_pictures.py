"""Regenerate the README's pictures: ``python docs/make_pictures.py`` (from the repository root or anywhere).

Linear light (README "Linear light"): a high-contrast crop of the shipped
sample_images/astronaut.png (the black helmet with its white highlight and rim,
and the mission patch), and that crop blurred by ``convcli apply -k gaussian:sigma=4`` without
and with ``--linear``.  The blurs are exactly these commands::

    convcli apply docs/linear_crop.png -k gaussian:sigma=4 -o docs/linear_blur_encoded.png --force
    convcli apply docs/linear_crop.png -k gaussian:sigma=4 --linear -o docs/linear_blur_linear.png --force

run here through the same recipe ``convcli apply`` builds (``convcli.build_recipe``).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

import convcli

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
#: the crop of astronaut.png (left, top, right, bottom): the helmet and the patch
CROP = (272, 330, 464, 512)
KERNEL = "gaussian:sigma=4"


def blur(source: Path, output: Path, *, linear: bool) -> None:
    """``convcli apply SOURCE -k gaussian:sigma=4 [--linear] -o OUTPUT --force``."""
    recipe = convcli.build_recipe(kernels=[KERNEL], linear=linear, output=str(output), force=True)
    for task in recipe.plan([str(source)]):
        result = recipe.run(task)
        if result.status != "written":
            raise SystemExit(f"{source}: {result.error}")


def main() -> None:
    crop = DOCS / "linear_crop.png"
    with Image.open(ROOT / "sample_images" / "astronaut.png") as image:
        image.convert("RGB").crop(CROP).save(crop, optimize=True)
    blur(crop, DOCS / "linear_blur_encoded.png", linear=False)
    blur(crop, DOCS / "linear_blur_linear.png", linear=True)
    for name in ("linear_crop.png", "linear_blur_encoded.png", "linear_blur_linear.png"):
        path = DOCS / name
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
