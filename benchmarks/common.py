"""Shared helpers for the benchmark scripts: timing, environment, Markdown tables."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> str:
    """One line: date, CPU, cores, Python and library versions."""
    import numpy as np

    parts = [
        _dt.date.today().isoformat(),
        f"{cpu_name()} ({len(os.sched_getaffinity(0))} cores usable)",
        f"Python {platform.python_version()}",
        f"NumPy {np.__version__}",
    ]
    for name in ("cv2", "scipy", "PIL"):
        try:
            module = __import__(name)
            parts.append(f"{ {'cv2': 'OpenCV', 'PIL': 'Pillow'}.get(name, name.capitalize())} {module.__version__}")
        except ImportError:
            parts.append(f"{name}: not installed")
    parts.append(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    return "; ".join(parts)


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each callable, runs interleaved so drift hits all alike."""
    for _ in range(warmup):
        for func in cases.values():
            func()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, func in cases.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- shared by bench_targets.py and chart.py (issue 15) --------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Goal:
    """A target on a ratio: at most ``high``, or (with ``low``) between ``low`` and ``high``.

    >>> Goal(1.3).met(1.29), str(Goal(1.3)), Goal.parse("0.9–1.1")
    (True, '≤ 1.3', Goal(high=1.1, low=0.9))
    """

    high: float
    low: float | None = None

    def met(self, ratio: float) -> bool:
        return ratio <= self.high and (self.low is None or ratio >= self.low)

    def __str__(self) -> str:
        return f"≤ {self.high:g}" if self.low is None else f"{self.low:g}–{self.high:g}"

    @classmethod
    def parse(cls, text: str) -> Goal | None:
        """The goal written by ``str``, or None when ``text`` is not one."""
        if match := re.fullmatch(r"≤\s*([0-9.]+)", text.strip()):
            return cls(float(match[1]))
        if match := re.fullmatch(r"([0-9.]+)\s*[–-]\s*([0-9.]+)", text.strip()):
            return cls(float(match[2]), float(match[1]))
        return None


def read_table(text: str, first_column: str) -> list[dict[str, str]]:
    """The rows, as {column: cell}, of the first Markdown table in ``text`` whose first header is ``first_column``."""
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            if header is not None and rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells if cells[0] == first_column else None
        elif not set(line) <= set("|- ") and len(cells) == len(header):
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def photo_file(path: Path, *, size: tuple[int, int] = (4000, 3000), photo: str = "astronaut.png",
               quality: int = 95) -> Path:
    """A shipped photograph resized (Lanczos) to ``size`` (W, H), saved at ``path`` (JPEG at ``quality``, or
    any format by its suffix with Pillow's defaults), as bench_e2e.py makes its photo; kept when it exists."""
    import tempfile

    from PIL import Image

    try:
        with Image.open(path) as existing:
            if existing.size == tuple(size):
                return path
    except OSError:
        pass  # missing or unreadable: make it
    with Image.open(ROOT / "sample_images" / photo) as source:
        resized = source.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    options = {"quality": quality} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=path.suffix, delete=False) as handle:
        resized.save(handle, format=Image.registered_extensions()[path.suffix.lower()], **options)
    os.replace(handle.name, path)
    return path


def libvips_version() -> str | None:
    """``8.14.1`` from ``vips --version``, or None without the vips command."""
    if shutil.which("vips") is None:
        return None
    out = subprocess.run(["vips", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return out.removeprefix("vips-") or None


def git_commit() -> str:
    """The checkout's commit, and whether src/ differs from it (without touching the index)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(ROOT), *args], capture_output=True,
                              text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return commit + (f" + uncommitted changes in {len(dirty.splitlines())} file(s) of src/" if dirty else "")
