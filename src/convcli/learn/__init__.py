"""Learning convolution: explanations step by step, 1-D sequences and exact multiplication.

=============== ===============================================================
module          owns
=============== ===============================================================
``explanation`` :func:`explain`: every window, product and sum of a correlation,
                convolution or pooling and its backward pass (``convcli explain``)
``sequences``   :func:`convolve1d` of number sequences and :func:`multiply`,
                exact long multiplication by FFT (``convcli seq``, ``convcli multiply``)
=============== ===============================================================

Examples
--------
>>> explain([[1, 2], [3, 4]], [[1, 0], [0, 1]]).conv.output.tolist()
[[5.0]]
>>> convolve1d([2, 4], [7, 3, 1]).tolist()
[14.0, 34.0, 14.0, 4.0]
>>> multiply("42", "137")
'5754'
"""

from __future__ import annotations

from .explanation import Explanation, explain
from .sequences import convolve1d, multiply

__all__ = ["Explanation", "convolve1d", "explain", "multiply"]
