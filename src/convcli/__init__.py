"""convcli: exact, fast image convolution for the command line and for Python.

The public API is re-exported here and loaded lazily, so that ``convcli --help``
and ``convcli --version`` start without importing NumPy or Pillow.

Examples
--------
>>> import numpy as np
>>> import convcli
>>> image = np.arange(16, dtype=np.float32).reshape(4, 4)
>>> convcli.correlate(image, np.ones((3, 3)) / 9, border="edge").shape
(4, 4)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .engine import MethodChoice, choose_method, convolve, correlate
    from .errors import (
        ConvcliError,
        ImageReadError,
        ImageWriteError,
        KernelError,
        KernelFileError,
        ParameterError,
        ShapeError,
    )
    from .kernel_files import load_kernel_file, save_kernel_file
    from .kernels import Kernel, kernel, named_kernels
    from .pooling import pool
    from .shapes import output_size, pool_output_size

__all__ = [
    "ConvcliError",
    "ImageReadError",
    "ImageWriteError",
    "Kernel",
    "KernelError",
    "KernelFileError",
    "MethodChoice",
    "ParameterError",
    "ShapeError",
    "__version__",
    "choose_method",
    "convolve",
    "correlate",
    "kernel",
    "load_kernel_file",
    "named_kernels",
    "output_size",
    "pool",
    "pool_output_size",
    "save_kernel_file",
]

# name -> submodule that defines it; other issues add their public names here.
_LAZY: dict[str, str] = {
    "correlate": "engine",
    "convolve": "engine",
    "choose_method": "engine",
    "MethodChoice": "engine",
    "pool": "pooling",
    "output_size": "shapes",
    "pool_output_size": "shapes",
    "ConvcliError": "errors",
    "ImageReadError": "errors",
    "ImageWriteError": "errors",
    "KernelError": "errors",
    "KernelFileError": "errors",
    "ParameterError": "errors",
    "ShapeError": "errors",
    "kernel": "kernels",
    "Kernel": "kernels",
    "named_kernels": "kernels",
    "load_kernel_file": "kernel_files",
    "save_kernel_file": "kernel_files",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
