"""The public API (convcli/__init__.py and the sub-packages): small, grouped by concept, loaded lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import convcli

#: the top level, by concept (issue 22): the engine, the filtering entry points, the errors
ENGINE = {"correlate", "convolve", "pool", "kernel", "Kernel", "output_size", "pool_output_size", "choose_method",
          "MethodChoice", "thread_limit"}
FILTERING = {"stream_filter", "Convolve", "Activate", "Pooling"}
ERRORS = {"ConvcliError", "UsageError", "ParameterError", "ShapeError", "KernelError", "KernelFileError",
          "ImageReadError", "ImageWriteError"}

#: what each sub-package holds for library users
SUBPACKAGES = {
    "convcli.imageio": {"read_image", "write_image", "open_image", "write_bands", "ImageInfo", "probe_size"},
    "convcli.kernels": {"named_kernels", "load_kernel_file", "save_kernel_file", "kernel", "Kernel"},
    "convcli.learn": {"explain", "Explanation", "convolve1d", "multiply"},
    "convcli.gradients": {"correlate_backward", "pool_backward"},
    "convcli.depth": {"to_depth"},
}


def test_the_top_level_is_the_engine_the_filtering_entry_points_and_the_errors() -> None:
    assert len(convcli.__all__) <= 25
    assert len(set(convcli.__all__)) == len(convcli.__all__)
    assert set(convcli.__all__) == ENGINE | FILTERING | ERRORS | {"__version__"}
    for name in ERRORS:
        assert issubclass(getattr(convcli, name), convcli.ConvcliError) or name == "ConvcliError"


@pytest.mark.parametrize("name", sorted(ENGINE | FILTERING | ERRORS))
def test_every_public_name_resolves_to_its_owner(name: str) -> None:
    value = getattr(convcli, name)
    assert value.__module__.startswith("convcli.")
    assert getattr(importlib.import_module(value.__module__), value.__name__) is value
    assert name in dir(convcli)


@pytest.mark.parametrize("name", ["filter_image", "filter_to_depth", "Pool", "read_image", "explain", "Recipe"])
def test_names_that_left_the_top_level_are_gone(name: str) -> None:
    with pytest.raises(AttributeError, match=rf"^module 'convcli' has no attribute '{name}'$"):
        getattr(convcli, name)


@pytest.mark.parametrize(("package", "names"), sorted(SUBPACKAGES.items()))
def test_sub_packages_hold_the_rest(package: str, names: set[str]) -> None:
    module = importlib.import_module(package)
    assert names <= set(module.__all__), names - set(module.__all__)
    for name in names:
        assert getattr(module, name) is not None


def test_the_filtering_entry_point_takes_arrays_and_collects() -> None:
    import numpy as np

    image = np.arange(36, dtype=np.float64).reshape(6, 6)
    ops = [convcli.Convolve(convcli.kernel("box:size=3"), pad="valid"), convcli.Pooling("max", 2)]
    out = convcli.stream_filter(image, ops)
    # the mean of a 3x3 window of i*6+j is the value at its centre; max-pooling keeps each 2x2 block's largest
    centres = image[1:5, 1:5]
    want = centres.reshape(2, 2, 2, 2).max(axis=(1, 3))
    np.testing.assert_allclose(out.collect(), want)


def test_importing_convcli_loads_neither_numpy_nor_the_engine() -> None:
    code = ("import sys, convcli; convcli.__all__; dir(convcli)\n"
            "print(sorted(m for m in sys.modules if m in ('numpy', 'convcli.engine')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_dir_lists_the_public_names_only() -> None:
    assert dir(convcli) == sorted(convcli.__all__)


def test_the_engine_names_what_to_pass_when_given_a_kernel_object() -> None:
    import numpy as np

    with pytest.raises(convcli.KernelError, match=r"got the Kernel 'sobel:axis=y'; pass its \.matrix"):
        convcli.correlate(np.ones((5, 5)), convcli.kernel("sobel:axis=y"))
    from scipy import ndimage

    matrix = np.asarray(convcli.kernel("sobel:axis=y").matrix, dtype=np.float64)
    image = np.arange(30, dtype=np.float64).reshape(5, 6) ** 1.5
    np.testing.assert_allclose(convcli.correlate(image, matrix, border="constant"),
                               ndimage.correlate(image, matrix, mode="constant"), rtol=1e-12, atol=1e-9)
