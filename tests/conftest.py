"""Shared test settings: hypothesis profiles and image fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True, print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """The 512x512 grayscale cameraman photograph as uint8."""
    from PIL import Image

    with Image.open(SAMPLES / "camera.png") as im:
        return np.asarray(im.convert("L"))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The 512x512 RGB astronaut photograph as uint8."""
    from PIL import Image

    with Image.open(SAMPLES / "astronaut.png") as im:
        return np.asarray(im.convert("RGB"))
