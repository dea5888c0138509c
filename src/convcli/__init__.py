"""convcli: exact, fast image convolution for the command line and for Python.

The top level holds three things, grouped below by concept:

* the engine: :func:`correlate`, :func:`convolve`, :func:`pool`, :func:`kernel`
  (and :class:`Kernel`), the size arithmetic (:func:`output_size`,
  :func:`pool_output_size`), the method chooser (:func:`choose_method`,
  :class:`MethodChoice`) and :func:`thread_limit`;
* filtering one image through a chain of operations, strip by strip:
  :func:`stream_filter` (arrays and image sources alike; ``.collect()`` gives
  the array) and the operations :class:`Convolve`, :class:`Activate`,
  :class:`Pooling`;
* the errors, every one a :class:`ConvcliError`.

Everything else lives in a sub-package: images in :mod:`convcli.imageio`,
kernel files and named kernels in :mod:`convcli.kernels`, output depths in
:mod:`convcli.depth`, batches and clusters in :mod:`convcli.batch`, learning
(``explain``, sequences, exact multiplication) in :mod:`convcli.learn` and
backward passes in :mod:`convcli.gradients`.

Names are loaded lazily, so that ``convcli --help`` and ``convcli --version``
start without importing NumPy or Pillow.

Examples
--------
>>> import numpy as np
>>> import convcli
>>> image = np.arange(16, dtype=np.float32).reshape(4, 4)
>>> convcli.correlate(image, np.ones((3, 3)) / 9, border="edge").shape
(4, 4)
>>> convcli.stream_filter(image, [convcli.Convolve("box:size=3"), convcli.Pooling("max", 2)]).collect().shape
(2, 2)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .engine import MethodChoice as MethodChoice
    from .engine import choose_method as choose_method
    from .engine import convolve as convolve
    from .engine import correlate as correlate
    from .engine import thread_limit as thread_limit
    from .errors import ConvcliError as ConvcliError
    from .errors import ImageReadError as ImageReadError
    from .errors import ImageWriteError as ImageWriteError
    from .errors import KernelError as KernelError
    from .errors import KernelFileError as KernelFileError
    from .errors import ParameterError as ParameterError
    from .errors import ShapeError as ShapeError
    from .errors import UsageError as UsageError
    from .kernels import Kernel as Kernel
    from .kernels import kernel as kernel
    from .operations import Activate as Activate
    from .operations import Convolve as Convolve
    from .operations import Pooling as Pooling
    from .pooling import pool as pool
    from .shapes import output_size as output_size
    from .shapes import pool_output_size as pool_output_size
    from .streaming import stream_filter as stream_filter

#: each public name -> the module that owns it, by concept
_GROUPS: dict[str, dict[str, str]] = {
    "engine": {
        "correlate": "engine",
        "convolve": "engine",
        "pool": "pooling",
        "kernel": "kernels",
        "Kernel": "kernels",
        "output_size": "shapes",
        "pool_output_size": "shapes",
        "choose_method": "engine",
        "MethodChoice": "engine",
        "thread_limit": "engine",
    },
    "filtering": {
        "stream_filter": "streaming",
        "Convolve": "operations",
        "Activate": "operations",
        "Pooling": "operations",
    },
    "errors": {
        "ConvcliError": "errors",
        "UsageError": "errors",
        "ParameterError": "errors",
        "ShapeError": "errors",
        "KernelError": "errors",
        "KernelFileError": "errors",
        "ImageReadError": "errors",
        "ImageWriteError": "errors",
    },
}

_LAZY: dict[str, str] = {name: module for group in _GROUPS.values() for name, module in group.items()}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
