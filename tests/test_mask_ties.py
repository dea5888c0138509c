"""--mask on integer images keeps round-half-to-even exact (issue 23).

With a box-like kernel (every non-zero weight equal) the normalised result is the mean of the valid pixels,
S / n with integer S and n; an exact tie (n even) must round half to even, as it does without a mask.
The reference is integer arithmetic on the padded image (NumPy reflect, the CLI's default border).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import convcli
from convcli.cli import app
from convcli.operations import Convolve
from convcli.streaming import stream_filter

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"


def window_sums(a: np.ndarray, pattern: np.ndarray, mode: str = "reflect") -> np.ndarray:
    """Integer sums of ``a`` (2-D) under the non-zero taps of ``pattern`` (odd sides, centred), exactly."""
    kh, kw = pattern.shape
    padded = np.pad(a.astype(np.int64), ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode=mode)
    out = np.zeros(a.shape, np.int64)
    for i, j in np.argwhere(pattern):
        out += padded[i : i + a.shape[0], j : j + a.shape[1]]
    return out


def rounded_mean(total: np.ndarray, count: np.ndarray, fill: int, top: int) -> np.ndarray:
    """total / count rounded half to even in exact integer arithmetic; ``fill`` where count is 0."""
    safe = np.maximum(count, 1)
    low, rem = np.divmod(total, safe)
    up = (2 * rem > safe) | ((2 * rem == safe) & (low % 2 == 1))
    out = np.clip(low + up, 0, top)
    return np.where(count > 0, out, fill)


def masked_reference(image, mask, pattern, fill, top):
    valid = (mask != 0).astype(np.int64)
    return rounded_mean(window_sums(image * valid, pattern), window_sums(valid, pattern), fill, top)


def camera_and_mask():
    image = np.asarray(Image.open(SAMPLES / "camera.png").convert("L"))
    rng = np.random.default_rng(23)
    mask = (rng.random(image.shape) > 0.3).astype(np.uint8) * 255
    mask[100:140, 200:260] = 0  # a hole wider than the kernel: nan-fill there
    return image, mask


def test_cli_box_with_a_mask_on_an_8_bit_image_rounds_every_tie_half_to_even(tmp_path):
    image, mask = camera_and_mask()
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "valid.png")
    result = CliRunner().invoke(app, ["apply", str(tmp_path / "in.png"), "-k", "box:size=5", "--mask",
                                      str(tmp_path / "valid.png"), "--nan-fill", "0", "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 0, result.output
    got = np.asarray(Image.open(tmp_path / "o.png"))
    want = masked_reference(image, mask, np.ones((5, 5)), 0, 255)
    valid = window_sums((mask != 0).astype(np.int64), np.ones((5, 5)))
    ties = (2 * (window_sums(image * (mask != 0), np.ones((5, 5))) % np.maximum(valid, 1)) == valid) & (valid > 0)
    assert ties.sum() > 1000  # the case matters: many exact ties
    assert np.array_equal(got, want), f"{int((got != want).sum())} pixels differ"


def box_like(name: str) -> np.ndarray:
    """Odd-sided kernels whose non-zero weights are all equal (the reference centres them)."""
    if name == "box4x6":  # an even box, padded with a zero row and column
        return np.pad(np.full((4, 6), 1 / 24), ((0, 1), (0, 1)))
    if name == "box5":
        return convcli.kernel("box:size=5").matrix
    yy, xx = np.mgrid[-3:4, -3:4]
    disk = (yy**2 + xx**2 <= 9).astype(np.float64)  # not separable: FFT or multi-term passes
    return disk / disk.sum()


@pytest.mark.parametrize("method", ["direct", "separable", "fft", "auto"])
@pytest.mark.parametrize("name", ["box4x6", "box5", "disk"])
def test_library_box_like_kernels_with_a_mask_on_8_bit(method, name):
    image, mask = camera_and_mask()
    image, mask = image[:160, :300], mask[:160, :300]
    k = box_like(name)
    pattern = k != 0
    assert np.all(k[pattern] == k[pattern][0])
    ops = [Convolve(k, method=method, nan_fill=0.0)]
    got = stream_filter(image, ops, depth="8", mask=mask, strip_rows=16).collect()
    assert np.array_equal(got, masked_reference(image, mask, pattern, 0, 255))


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
def test_16_bit_box_with_a_mask_rounds_every_tie_half_to_even(method):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 65536, (120, 90)).astype(np.uint16)
    mask = (rng.random(image.shape) > 0.4).astype(np.uint8)
    k = np.ones((41, 41))  # 65535 * 1681 > 2**24: float32 sums would not be exact
    got = stream_filter(image, [Convolve(k, method=method, nan_fill=0.0)], depth="16", mask=mask).collect()
    assert np.array_equal(got, masked_reference(image, mask, k, 0, 65535))
