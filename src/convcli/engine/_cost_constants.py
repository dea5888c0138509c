"""Fitted constants of the cost model (seconds per unit).

Written by ``python benchmarks/fit_cost_model.py --write`` on:
2026-11-26; Intel(R) Xeon(R) Processor (2 cores usable); Python 3.11.7; NumPy 2.4.6; OpenCV 5.0.0;
Scipy 1.17.1; Pillow 13.0.0; OPENBLAS_NUM_THREADS=unset
"""

#: one shift-and-add pass over one float32 element, in cache
PASS = 3.144e-10
#: gathering (copy + convert) one element of the padded input
GATHER = 1.251e-09
#: one FFT unit: a point times (log2 of the transform size + 4), forward and back with the product
FFT = 1.067e-09
#: one floating-point operation of a single-threaded BLAS product (banded-Toeplitz 1-D passes)
GEMM_FLOP = 1.428e-11
#: fixed cost of one separable term (factors, Toeplitz matrices, band calls), serial
TERM_OVERHEAD = 0.000113
#: fixed cost of one call
OVERHEAD = 2e-05
#: extra fixed cost of the FFT method (kernel spectrum, planning)
FFT_OVERHEAD = 0.0002
#: speed-up per extra thread (1.0 would be perfect scaling)
PARALLEL_EFFICIENCY = 0.85
