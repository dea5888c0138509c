"""Writing and reading test images in tests (Pillow for image formats, numpy for .npy): one copy for all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def save(path: Path, arr: np.ndarray) -> Path:
    """Write ``arr`` to ``path`` (folders created), as .npy or through Pillow by the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, arr)
    else:
        Image.fromarray(arr).save(path)
    return path


def load(path: Path) -> np.ndarray:
    """Read ``path`` back as an array (.npy or any image Pillow reads)."""
    if path.suffix == ".npy":
        return np.load(path)
    with Image.open(path) as image:
        return np.array(image)
