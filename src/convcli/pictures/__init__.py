"""Pictures that show what convcli computes: drawn with Pillow, deterministic, written atomically.

================ ==============================================================
module           owns
================ ==============================================================
``_draw``        shared primitives: fonts, numbers, cell grids, colours,
                 palette and encoding (PNG/GIF), checked atomic writes
``explain``      ``convcli explain --picture``: the window sliding step by step
``kernels``      ``convcli kernels show --picture``: heat map and ``|FFT|``
``compare``      ``convcli apply --compare``: input and output side by side
================ ==============================================================

Examples
--------
>>> import tempfile, os
>>> from convcli.learn import explain
>>> target = os.path.join(tempfile.mkdtemp(), "pool.png")
>>> explain_picture(explain([[1, 3], [4, 2]], pool="max:size=2"), target)
1
"""

from __future__ import annotations

from .compare import compare_picture
from .explain import explain_frames, explain_picture
from .kernels import draw_kernel, kernel_picture

__all__ = ["compare_picture", "draw_kernel", "explain_frames", "explain_picture", "kernel_picture"]
