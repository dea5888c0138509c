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
    from .engine import MethodChoice, choose_method, convolve, correlate, thread_limit
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
    "thread_limit",
]

# name -> submodule that defines it; other issues add their public names here.
_LAZY: dict[str, str] = {
    "correlate": "engine",
    "convolve": "engine",
    "choose_method": "engine",
    "MethodChoice": "engine",
    "thread_limit": "engine",
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

# issue 4 (convcli apply): one image through the operations, and image files in and out
_APPLY_NAMES = {
    "filter_image": "pipeline", "to_depth": "pipeline", "Convolve": "pipeline", "Activate": "pipeline",
    "Pool": "pipeline", "read_image": "imageio", "write_image": "imageio", "ImageInfo": "imageio",
}
_LAZY.update(_APPLY_NAMES)
__all__ += sorted(_APPLY_NAMES)
if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .imageio import ImageInfo as ImageInfo
    from .imageio import read_image as read_image
    from .imageio import write_image as write_image
    from .pipeline import Activate as Activate
    from .pipeline import Convolve as Convolve
    from .pipeline import Pool as Pool
    from .pipeline import filter_image as filter_image
    from .pipeline import to_depth as to_depth

# issue 8 (explain, seq, multiply): step-by-step explanations, 1-D sequences, exact multiplication, gradients
_LEARN_NAMES = {
    "explain": "explanation", "Explanation": "explanation", "convolve1d": "sequences", "multiply": "sequences",
    "correlate_backward": "gradients", "pool_backward": "gradients",
}
_LAZY.update(_LEARN_NAMES)
__all__ += sorted(_LEARN_NAMES)
if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .explanation import Explanation as Explanation
    from .explanation import explain as explain
    from .gradients import correlate_backward as correlate_backward
    from .gradients import pool_backward as pool_backward
    from .sequences import convolve1d as convolve1d
    from .sequences import multiply as multiply


# issue 11 (one owner per concept): the recipe apply runs, usage errors, header-only sizes
_RECIPE_NAMES = {
    "Recipe": "recipe", "build_recipe": "recipe", "UsageError": "errors", "probe_size": "imageio",
}
_LAZY.update(_RECIPE_NAMES)
__all__ += sorted(_RECIPE_NAMES)
if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .errors import UsageError as UsageError
    from .imageio import probe_size as probe_size
    from .recipe import Recipe as Recipe
    from .recipe import build_recipe as build_recipe

# issue 13 (deep and huge images): an image as a source of rows on demand
_SOURCE_NAMES = {"open_image": "imageio", "stream_filter": "streaming", "write_bands": "imageio"}
_LAZY.update(_SOURCE_NAMES)
__all__ += sorted(_SOURCE_NAMES)
if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .imageio import open_image as open_image
    from .imageio import write_bands as write_bands
    from .streaming import stream_filter as stream_filter

# issue 14 (beyond one machine): one giant image filtered band by band on a Dask cluster
_CLUSTER_NAMES = {"filter_on_cluster": "batch.cluster"}
_LAZY.update(_CLUSTER_NAMES)
__all__ += sorted(_CLUSTER_NAMES)
if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .batch.cluster import filter_on_cluster as filter_on_cluster


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
