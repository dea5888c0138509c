"""Fitted constants of the cost model (seconds per unit).

Written by ``python benchmarks/fit_cost_model.py --write`` on:
2026-11-22; AMD EPYC (2 cores
usable); Python 3.11.7; NumPy 2.4.6; OpenCV 5.0.0; Scipy 1.17.1; Pillow 13.0.0;
OPENBLAS_NUM_THREADS=1 (BLAS single-threaded, as the engine now holds it with threadpoolctl)
"""

#: one shift-and-add pass over one float32 element, in cache
PASS = 3.038e-10
#: gathering (copy + convert) one element of the padded input
GATHER = 1.053e-09
#: one FFT unit: a point times (log2 of the transform size + 4), forward and back with the product
FFT = 8.533e-10
#: one floating-point operation of a single-threaded BLAS product (banded-Toeplitz 1-D passes)
GEMM_FLOP = 1.704e-11
#: fixed cost of one separable term (factors, Toeplitz matrices, per-band calls), not parallel;
#: measured by hand on 2026-11-26 (about 60 us a term on a 40x40 image); the fit script now fits it
TERM_OVERHEAD = 6e-05
#: fixed cost of one call
OVERHEAD = 2e-05
#: extra fixed cost of the FFT method (kernel spectrum, planning)
FFT_OVERHEAD = 0.0002
#: speed-up per extra thread (1.0 would be perfect scaling)
PARALLEL_EFFICIENCY = 0.85
