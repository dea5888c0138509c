"""Kernel files, re-exported from :mod:`convcli.kernels.files` (their owner) for old imports.

Examples
--------
>>> kernel_file_format("kernels/blur7x7.csv")
'csv'
"""

from __future__ import annotations

from .kernels.files import MAX_FILE_BYTES, KernelFormat, kernel_file_format, load_kernel_file, save_kernel_file

__all__ = ["MAX_FILE_BYTES", "KernelFormat", "kernel_file_format", "load_kernel_file", "save_kernel_file"]
