"""Every Examples section in the library's docstrings runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import convcli

MODULES = sorted(m.name for m in pkgutil.walk_packages(convcli.__path__, "convcli."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_public_functions_have_examples():
    for name in ["correlate", "convolve", "choose_method", "pool", "output_size", "pool_output_size"]:
        doc = getattr(convcli, name).__doc__ or ""
        assert "Examples" in doc and ">>>" in doc, name
