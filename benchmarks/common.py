"""Shared helpers for the benchmark scripts: timing, environment, Markdown tables."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from collections.abc import Callable


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
