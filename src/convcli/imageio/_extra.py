"""The optional ``formats`` extra: tifffile, imagecodecs and zarr, found without importing them.

``pip install '.[formats]'`` (in convcli's source folder: it is on no package
index) brings the field's own libraries for what
Pillow cannot do: tifffile (TIFF of any sample type, tiled, BigTIFF, streamed
tile by tile), imagecodecs (exact 16-bit colour PNG, TIFF compressions) and
zarr 3 (chunked ``.zarr`` stores; Python 3.11 and newer).  Without them
everything Pillow does keeps working; asking for what needs them raises one
clear error naming the extra (:func:`need`).

Availability is looked up each time (``importlib.util.find_spec``, a
dictionary look-up once a module is imported), never cached, so that a
module made unimportable (``sys.modules[name] = None``, as the tests do) is
seen as missing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

from ..errors import ImageReadError, ImageWriteError

__all__ = ["EXTRA_HINT", "available", "missing_extra", "need"]

#: how every message names the extra: the command that works in a clone (convcli is on no package index)
EXTRA_HINT = "pip install '.[formats]' in convcli's source folder"

#: the package each optional module comes from, and what it needs
_NEEDS = {"tifffile": "tifffile", "imagecodecs": "imagecodecs", "zarr": "zarr 3, Python 3.11+"}


def available(module: str) -> bool:
    """Whether the optional ``module`` (``tifffile``, ``imagecodecs``, ``zarr``) can be imported.

    Examples
    --------
    >>> available("no_such_module_here")
    False
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module without a spec
        return False
    if found and module == "zarr":
        return _zarr_major() >= 3
    return found


@functools.lru_cache(maxsize=1)
def _zarr_major() -> int:
    try:
        from importlib.metadata import version

        return int(version("zarr").split(".")[0])
    except Exception:  # no metadata (a vendored copy): ask the module itself
        try:
            return int(str(importlib.import_module("zarr").__version__).split(".")[0])
        except Exception:
            return 0


def need(module: str, what: str, *, writing: bool = False) -> Any:
    """Import the optional ``module``, or raise the one error naming the extra.

    Parameters
    ----------
    module : str
        ``tifffile``, ``imagecodecs`` or ``zarr``.
    what : str
        What asked for it, starting the message (``out.zarr: a Zarr output``).
    writing : bool, optional
        Raise :class:`~convcli.errors.ImageWriteError` rather than
        :class:`~convcli.errors.ImageReadError`.

    Examples
    --------
    >>> need("no_such_module_here", "x.tif: a tiled TIFF")
    Traceback (most recent call last):
    ...
    convcli.errors.ImageReadError: x.tif: a tiled TIFF needs convcli's formats extra (no_such_module_here): \
pip install '.[formats]' in convcli's source folder
    """
    error = ImageWriteError if writing else ImageReadError
    if available(module):
        try:
            return importlib.import_module(module)
        except ImportError as err:  # installed but broken (a missing shared library)
            raise error(f"{what} needs {_NEEDS.get(module, module)}, which is installed but fails to import "
                        f"({err}); reinstall it: {EXTRA_HINT}") from None
    raise error(f"{what} {missing_extra(module)}")


def missing_extra(module: str) -> str:
    """The end of a message about a missing optional module: ``needs convcli's formats extra (…): pip …``.

    Examples
    --------
    >>> missing_extra("zarr")
    "needs convcli's formats extra (zarr 3, Python 3.11+): pip install '.[formats]' in convcli's source folder"
    """
    return f"needs convcli's formats extra ({_NEEDS.get(module, module)}): {EXTRA_HINT}"
