"""Slow, obviously correct references the engine is checked against.

Written from the definitions only (seed 003's sum over the window, numpy.pad for
borders, PyTorch's rules for 'same' padding and pooling); they share no code
with convcli.
"""

from __future__ import annotations

import math

import numpy as np

NUMPY_MODE = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric", "wrap": "wrap"}


def ref_pads(pad, kh, kw, dh=1, dw=1, anchor=None):
    """(top, bottom, left, right) from the written rules."""
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if pad == "same":
        if anchor is None:
            top, left = (eh - 1) // 2, (ew - 1) // 2  # PyTorch: total // 2 before
        else:
            top, left = anchor[0] * dh, anchor[1] * dw
        return top, eh - 1 - top, left, ew - 1 - left
    if pad == "valid":
        return 0, 0, 0, 0
    if pad == "full":
        return eh - 1, eh - 1, ew - 1, ew - 1
    if isinstance(pad, int):
        return pad, pad, pad, pad
    if len(pad) == 2:
        return pad[0], pad[0], pad[1], pad[1]
    return tuple(pad)


def ref_correlate(image, kernel, *, border="reflect", border_value=0.0, pad="same", stride=1,
                  dilation=1, anchor=None):
    """Loops over output pixels: out[i, j] = sum k[a, b] * P[i*sh + a*dh, j*sw + b*dw] (float64)."""
    x = np.asarray(image, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    kh, kw = k.shape
    top, bottom, left, right = ref_pads(pad, kh, kw, dh, dw, anchor)
    widths = ((top, bottom), (left, right), (0, 0))
    if border == "constant":
        padded = np.pad(x, widths, mode="constant", constant_values=border_value)
    else:
        padded = np.pad(x, widths, mode=NUMPY_MODE[border])
    hp, wp = padded.shape[:2]
    ho = (hp - (dh * (kh - 1) + 1)) // sh + 1
    wo = (wp - (dw * (kw - 1) + 1)) // sw + 1
    out = np.zeros((ho, wo, x.shape[2]))
    for i in range(ho):
        for j in range(wo):
            total = np.zeros(x.shape[2])
            for a in range(kh):
                for b in range(kw):
                    total += k[a, b] * padded[i * sh + a * dh, j * sw + b * dw]
            out[i, j] = total
    return out[:, :, 0] if squeeze else out


def ref_convolve_full_1d(a, b):
    """Long multiplication without carries: c[n] = sum a[i] * b[n - i]."""
    out = [0] * (len(a) + len(b) - 1)
    for i, av in enumerate(a):
        for j, bv in enumerate(b):
            out[i + j] += av * bv
    return out


def ref_pool(image, size, *, stride=None, op="max", pad=0, ceil_mode=False):
    """Loops over windows, PyTorch's output-size rule; mean counts only pixels inside the image."""
    x = np.asarray(image, dtype=np.float64)
    kh, kw = (size, size) if isinstance(size, int) else size
    stride = (kh, kw) if stride is None else stride
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    h, w = x.shape

    def length(n, k, s, p):
        num = n + 2 * p - k
        o = (math.ceil(num / s) if ceil_mode else num // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        return o

    ho, wo = length(h, kh, sh, ph), length(w, kw, sw, pw)
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sh - ph, j * sw - pw
            rows = range(max(r0, 0), min(r0 + kh, h))
            cols = range(max(c0, 0), min(c0 + kw, w))
            values = [x[r, c] for r in rows for c in cols]
            out[i, j] = {"max": max, "min": min, "mean": lambda v: sum(v) / len(v)}[op](values)
    return out
