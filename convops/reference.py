"""Readable NumPy reference implementations, with TensorFlow's semantics.

Written for a reader, not for speed: one loop per output position, the window taken with a
slice, the arithmetic spelled out. They are the first oracle of the test suite (and are
themselves checked against TensorFlow), and the "step 0" of the docs' road to Cython.

They take already-validated NHWC arrays and explicit paddings; the public ops in
:mod:`convops` do the argument handling.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence, Tuple

import numpy as np

__all__ = ["conv2d_reference", "max_pool2d_reference", "avg_pool2d_reference", "pad_reference"]

Pair = Tuple[int, int]


def conv2d_reference(x: np.ndarray, filters: np.ndarray, strides: Pair = (1, 1),
                     padding: Tuple[Pair, Pair] = ((0, 0), (0, 0)), dilations: Pair = (1, 1)) -> np.ndarray:
    """Cross-correlation of ``x`` (N, H, W, C_in) with ``filters`` (KH, KW, C_in/groups, C_out).

    Accumulates in float64 (int64 for integers, wrapped back to int32) and returns the input dtype.
    """
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = strides, padding, dilations
    n, height, width, c_in = x.shape
    kh, kw, c_group, c_out = filters.shape
    groups = c_in // c_group
    c_out_group = c_out // groups
    acc_dtype = np.int64 if x.dtype.kind in "iu" else np.float64

    # 1. Pad with zeros so that every window lies inside the array.
    xp = np.pad(x.astype(acc_dtype), ((0, 0), (top, bottom), (left, right), (0, 0)))
    # 2. The span of the dilated kernel, and how many positions fit.
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    h_out = max((xp.shape[1] - span_h) // sh + 1, 0)
    w_out = max((xp.shape[2] - span_w) // sw + 1, 0)
    out = np.zeros((n, h_out, w_out, c_out), dtype=acc_dtype)
    w = filters.astype(acc_dtype)
    # 3. Slide the window: at each position, multiply the patch by each filter and sum.
    for y in range(h_out):
        for x_ in range(w_out):
            # Every dh-th row and dw-th column of the span: the taps of the dilated kernel.
            patch = xp[:, y * sh:y * sh + span_h:dh, x_ * sw:x_ * sw + span_w:dw, :]  # (N, KH, KW, C_in)
            for g in range(groups):
                channels = slice(g * c_group, (g + 1) * c_group)
                outputs = slice(g * c_out_group, (g + 1) * c_out_group)
                # sum over ky, kx, c of patch[n, ky, kx, c] * w[ky, kx, c, o]
                # (einsum, not tensordot: tensordot goes through BLAS, whose matrix-vector
                # kernels skip zero multipliers, so NaN * 0 came out 0 instead of NaN)
                out[:, y, x_, outputs] = np.einsum("nhwc,hwco->no", patch[..., channels], w[..., outputs])
    return out.astype(x.dtype)


def _windows(height: int, width: int, ksize: Pair, strides: Pair, padding: Tuple[Pair, Pair]):
    """Yield (y, x, rows, cols): each output position and the *real* input cells of its window."""
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = ksize, strides, padding
    h_out = max((height + top + bottom - kh) // sh + 1, 0)
    w_out = max((width + left + right - kw) // sw + 1, 0)
    for y in range(h_out):
        for x in range(w_out):
            y0, x0 = y * sh - top, x * sw - left
            yield y, x, slice(max(y0, 0), min(y0 + kh, height)), slice(max(x0, 0), min(x0 + kw, width))


def _pool_shape(x: np.ndarray, ksize: Pair, strides: Pair, padding: Tuple[Pair, Pair]):
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = ksize, strides, padding
    return (x.shape[0], max((x.shape[1] + top + bottom - kh) // sh + 1, 0),
            max((x.shape[2] + left + right - kw) // sw + 1, 0), x.shape[3])


def max_pool2d_reference(x: np.ndarray, ksize: Pair, strides: Pair,
                         padding: Tuple[Pair, Pair] = ((0, 0), (0, 0))) -> np.ndarray:
    """Max pooling of ``x`` (N, H, W, C). Padded cells are not part of any window.

    TensorFlow's CPU rule: start from the dtype's lowest finite value and keep any larger value;
    NaN is never larger, so it is ignored.
    """
    lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    out = np.full(_pool_shape(x, ksize, strides, padding), lowest, dtype=x.dtype)
    if out.size == 0:
        return out  # (no image or no channel: the window reshape below would be ambiguous)
    for y, x_, rows, cols in _windows(x.shape[1], x.shape[2], ksize, strides, padding):
        window = x[:, rows, cols, :].reshape(x.shape[0], -1, x.shape[3])   # (N, cells, C)
        if window.shape[1]:
            best = np.fmax.reduce(window, axis=1)                           # fmax skips NaN
            out[:, y, x_, :] = np.where(best > lowest, best, lowest)        # NaN/-inf -> lowest
    return out


def avg_pool2d_reference(x: np.ndarray, ksize: Pair, strides: Pair,
                         padding: Tuple[Pair, Pair] = ((0, 0), (0, 0)),
                         count_include_pad: bool = False) -> np.ndarray:
    """Average pooling of ``x`` (N, H, W, C): sum the real cells in row-major order in the input
    dtype, then divide by their number (or by KH*KW when ``count_include_pad``)."""
    out = np.zeros(_pool_shape(x, ksize, strides, padding), dtype=x.dtype)
    for y, x_, rows, cols in _windows(x.shape[1], x.shape[2], ksize, strides, padding):
        total = np.zeros((x.shape[0], x.shape[3]), dtype=x.dtype)
        for iy in range(rows.start, rows.stop):
            for ix in range(cols.start, cols.stop):
                total = total + x[:, iy, ix, :]          # one addition at a time, in the input dtype
        cells = ksize[0] * ksize[1] if count_include_pad else (rows.stop - rows.start) * (cols.stop - cols.start)
        with np.errstate(invalid="ignore", divide="ignore"):
            # The count is exact (a float16 count would round above 2048); one rounding of the quotient.
            out[:, y, x_, :] = (total.astype(np.float64) / cells).astype(x.dtype)
    return out


def pad_reference(x: np.ndarray, paddings: Sequence[Pair], mode: str = "CONSTANT",
                  constant_values: Any = 0) -> np.ndarray:
    """Padding by NumPy's own ``np.pad`` (an independent implementation of the same modes).

    REFLECT = ``reflect``, SYMMETRIC = ``symmetric``, EDGE = ``edge``, CIRCULAR = ``wrap``.
    MEAN is one mean per index of the unpadded axes, over the padded axes (see :func:`convops.pad`).
    """
    mode = mode.upper()
    paddings = [tuple(p) for p in paddings]
    if mode == "CONSTANT":
        return np.pad(x, paddings, mode="constant", constant_values=np.asarray(constant_values, x.dtype))
    if mode == "MEAN":
        axes = tuple(i for i, p in enumerate(paddings) if p != (0, 0))
        count = int(np.prod([x.shape[i] for i in axes]))
        if not axes:
            mean = x
        elif x.dtype.kind in "iub":
            # Exactly: Python ints do not overflow, and round(Fraction) rounds half to even.
            total = x.astype(object).sum(axis=axes, keepdims=True)
            mean = np.vectorize(lambda t: round(Fraction(int(t), count)), otypes=[object])(total)
        else:
            # Divide first: summing float64 values near the maximum would overflow to inf.
            mean = (x.astype(np.float64) / count).sum(axis=axes, keepdims=True)
        out = np.broadcast_to(mean.astype(x.dtype), [s + a + b for s, (a, b) in zip(x.shape, paddings)]).copy()
        out[tuple(slice(a, a + s) for s, (a, _) in zip(x.shape, paddings))] = x
        return out
    numpy_mode = {"REFLECT": "reflect", "SYMMETRIC": "symmetric", "EDGE": "edge", "CIRCULAR": "wrap"}[mode]
    return np.pad(x, paddings, mode=numpy_mode)
