"""Named kernels, inline matrices and kernel files behind one spec.

:func:`kernel` turns what a user typed after ``-k/--kernel`` into a
:class:`Kernel`.  A spec is one of:

1. a named kernel ``name[:key=value,...]`` (the grammar of :mod:`convcli.specs`),
   e.g. ``gaussian:sigma=2``, ``sobel:axis=y``, ``box:size=5x3``; names are
   case-insensitive and ImageMagick's ``Gaussian:0x2`` (radius x sigma) reads too;
2. an inline matrix, rows separated by ``;`` and values by spaces or commas,
   e.g. ``"1 2 1; 0 0 0; -1 -2 -1"`` (or a JSON nested list ``"[[1, 2], [3, 4]]"``,
   or ImageMagick's ``"3x3: 1,2,1, 2,4,2, 1,2,1"`` with an optional anchor ``"3x3+0+0: …"``);
3. a kernel file: ``@path``, or anything containing a path separator or ending in
   a known extension (``.txt .csv .tsv .json .npy .mat``), read by
   :mod:`convcli.kernels.files`.

The package is laid out one concern per module:

================ ==============================================================
module           owns
================ ==============================================================
``_kernel``      :class:`Kernel` (matrix, anchor, offset; operators)
``_inline``      the one parser of inline matrices (also used by ``explain``)
``named``        the registry of named kernels and their builders
``files``        kernel files: text/CSV/TSV, JSON, ``.npy``, libvips ``.mat``
``_spec``        :func:`kernel`, the one entry point from a spec to a :class:`Kernel`
``info``         what ``convcli kernels show`` reports, as plain data
================ ==============================================================

Kernels are applied by **correlation** (convcli's default, like OpenCV's
``filter2D``): ``out[y, x] = sum K[i, j] * in[y + i - ay, x + j - ax]`` with the
anchor ``(ay, ax)``.  Sign conventions below are stated for correlation;
``--flip`` (true convolution) rotates every kernel by 180°.

Named kernels (identity, box, gaussian, sobel, scharr, prewitt, laplacian, log,
dog, sharpen, unsharp, emboss, motion) and their definitions are tabled in
:mod:`convcli.kernels.named`; ``convcli kernels`` lists them.

``sobel/scharr/prewitt:axis=both`` is not one matrix but an **operator**: the
gradient magnitude ``hypot(gx, gy)`` of the two linear kernels, represented as
a :class:`Kernel` whose ``components`` are the two kernels and whose
``combine`` is ``"hypot"``.

Every kernel side is at most :data:`convcli.shapes.MAX_KERNEL_SIDE` (1025); larger requests
are refused before anything is allocated.

Examples
--------
>>> k = kernel("sobel:axis=x")
>>> k.matrix.tolist()
[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
>>> kernel("1 2 1; 2 4 2; 1 2 1", normalize=True).sum
1.0
>>> kernel("gaussian:sigma=2").shape
(17, 17)
>>> grad = kernel("sobel:axis=both")
>>> grad.combine, [c.spec for c in grad.components]
('hypot', ['sobel:axis=x,size=3', 'sobel:axis=y,size=3'])
"""

from __future__ import annotations

from ._inline import looks_like_matrix, parse_number, parse_rows, split_values
from ._kernel import Combine, Kernel
from ._spec import FILE_EXTENSIONS, kernel
from .files import KernelFormat, kernel_file_format, load_kernel_file, save_kernel_file
from .info import kernel_info
from .named import KernelParam, NamedKernel, named_kernel, named_kernels

__all__ = [
    "FILE_EXTENSIONS",
    "Combine",
    "Kernel",
    "KernelFormat",
    "KernelParam",
    "NamedKernel",
    "kernel",
    "kernel_file_format",
    "kernel_info",
    "load_kernel_file",
    "looks_like_matrix",
    "named_kernel",
    "named_kernels",
    "parse_number",
    "parse_rows",
    "save_kernel_file",
    "split_values",
]
