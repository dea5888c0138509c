"""Fitted constants of the cost model (seconds per unit).

Written by ``python benchmarks/fit_cost_model.py``; edit by re-running it.
"""

#: one shift-and-add pass over one float32 element, in cache
PASS = 6.0e-10
#: gathering (copy + convert) one element of the padded input
GATHER = 1.0e-9
#: one FFT unit: a point times (log2 of the transform size + 4), forward and back with the product
FFT = 1.2e-9
#: fixed cost of one call
OVERHEAD = 2.0e-5
#: extra fixed cost of the FFT method (kernel spectrum, planning)
FFT_OVERHEAD = 2.0e-4
#: speed-up per extra thread (1.0 would be perfect scaling)
PARALLEL_EFFICIENCY = 0.85
#: one floating-point operation of a single-threaded BLAS product (banded-Toeplitz 1-D passes)
GEMM_FLOP = 2.5e-11
