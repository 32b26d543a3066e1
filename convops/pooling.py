"""Max and average pooling with ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d``'s contract."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from convops import _config
from convops._validation import (
    check_data_format,
    check_dtype,
    check_output_size,
    check_rank,
    parse_padding,
    spatial_pair,
    to_array,
)
from convops.arithmetic import pool_output_size, resolve_padding

__all__ = ["max_pool2d", "avg_pool2d"]

_kernels = _config.load_extension("_pool_kernels")
avg_pool, max_pool = _kernels.avg_pool, _kernels.max_pool

MAX_POOL_DTYPES = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int8, np.int16,
                                              np.int32, np.int64, np.uint8, np.uint16))
AVG_POOL_DTYPES = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64))

# Float outputs of at least this many bytes are written with non-temporal stores (_pool_body.h):
# a normal store first reads each output line into the cache (write-allocate) and evicts input
# lines on the way; an output this large leaves a core's L2 (0.5-2 MiB on current x86) anyway.
# Measured, 1 core, 2x2/2 pools, AVX2: 8x112x112x64 float32 (6.4 MB out) avg 0.73 -> 0.61 ms,
# max 0.94 -> 0.71; 64x26x26x32 (1.4 MB out) 0.092 -> 0.087. Smaller outputs are usually read
# again soon (by the next layer) and stay cached.
STREAM_BYTES = 1 << 20


def _empty_output(shape, dtype: np.dtype) -> Tuple[np.ndarray, bool]:
    """``np.empty(shape, dtype)`` and whether the kernel should stream it; a streamed output is
    64-byte aligned (a view into a slightly larger buffer), which streaming stores require."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if dtype.kind != "f" or nbytes < STREAM_BYTES:
        return np.empty(shape, dtype=dtype), False
    buffer = np.empty(nbytes + 64, dtype=np.uint8)
    start = -buffer.ctypes.data % 64
    return buffer[start:start + nbytes].view(dtype).reshape(shape), True


def _prepare(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str, op: str, dtypes):
    """Shared argument handling: array, rank, layout, window, strides, explicit padding, out shape."""
    data_format = check_data_format(data_format)
    x = to_array(input, "input")
    check_dtype(x, "input", dtypes, op)
    image_2d = x.ndim == 2
    if image_2d:
        x = x[None, :, :, None]
    check_rank(x, "input", op, "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)")
    if data_format == "NCHW" and not image_2d:
        x = x.transpose(0, 2, 3, 1)
    kh, kw = spatial_pair(ksize, "ksize", data_format)
    sh, sw = spatial_pair(strides, "strides", data_format)
    pad = parse_padding(padding, data_format)
    n, height, width, channels = x.shape
    if pad in ("SAME", "VALID"):
        (top, bottom), (left, right) = resolve_padding(pad, height, kh, sh), resolve_padding(pad, width, kw, sw)
    else:
        (top, bottom), (left, right) = pad
        # TensorFlow's rule: a window may never lie entirely in the padding.
        if max(top, bottom) >= kh or max(left, right) >= kw:
            raise ValueError(f"explicit `padding` of {op} must be smaller than the window `ksize` {(kh, kw)} "
                             f"on each side; got ((top, bottom), (left, right)) = {((top, bottom), (left, right))}")
    h_out = pool_output_size(height, kh, sh, (top, bottom))
    w_out = pool_output_size(width, kw, sw, (left, right))
    return x, image_2d, data_format, (kh, kw), (sh, sw), (top, left), (n, h_out, w_out, channels)


def _finish(out: np.ndarray, image_2d: bool, data_format: str) -> np.ndarray:
    if image_2d:
        return out[0, :, :, 0]
    if data_format == "NCHW":
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    return out


def max_pool2d(input: Any, ksize: Any, strides: Any, padding: Any = "VALID",
               data_format: str = "NHWC") -> np.ndarray:
    """Maximum over each ``KH x KW`` window, as ``tf.nn.max_pool2d``.

    Parameters
    ----------
    input : array_like, shape (N, H, W, C)
        ``(N, C, H, W)`` when ``data_format="NCHW"``; a 2-D ``(H, W)`` array is one image and
        gives a 2-D result.
    ksize : int, (KH, KW) or TF's 4-list ``[1, KH, KW, 1]``
    strides : int, (sh, sw) or TF's 4-list
    padding : "VALID", "SAME" or explicit ``((top, bottom), (left, right))`` / TF's 4x2 form
        Explicit pads must be smaller than the window. Padded cells never win: they act as -inf.
    data_format : "NHWC" or "NCHW"

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C), dtype of ``input``
        ``H_out = floor((H + top + bottom - KH) / sh) + 1`` (0 if negative), e.g.
        26 x 26 -> 13 x 13 for a 2 x 2 window with stride 2.

    Notes
    -----
    NaN follows TensorFlow's CPU (x86-64) rule: NaN is ignored; a window with no number in it
    gives the dtype's lowest finite value (the running maximum starts there, so a window of only
    ``-inf`` also gives it). dtypes: float16/32/64, int8/16/32/64, uint8/16.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.array([[1, 2, 5, 0], [3, 4, 1, 1], [0, 0, 2, 2], [9, 0, 2, 7]], dtype=np.float32)
    >>> convops.max_pool2d(x, ksize=2, strides=2)
    array([[4., 5.],
           [9., 7.]], dtype=float32)
    """
    x, image_2d, data_format, (kh, kw), (sh, sw), (top, left), shape = _prepare(
        input, ksize, strides, padding, data_format, "max_pool2d", MAX_POOL_DTYPES)
    compute = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    check_output_size(shape, compute, "max_pool2d")
    # float16 is narrowed after the call: no point streaming its float32 temporary.
    out, stream = _empty_output(shape, compute) if x.dtype == compute else (np.empty(shape, dtype=compute), False)
    if out.size:
        lowest = np.finfo(compute).min if compute.kind == "f" else np.iinfo(compute).min
        # float16 is widened exactly to float32 and the maximum narrowed back exactly, except that
        # an empty/NaN window must give float16's own lowest value, so start from it.
        if x.dtype == np.float16:
            lowest = np.float32(np.finfo(np.float16).min)
        max_pool(np.ascontiguousarray(x, dtype=compute), out, kh, kw, sh, sw, top, left,
                 lowest, _config.get_num_threads(), stream)
    if compute != x.dtype:
        out = out.astype(x.dtype)
    return _finish(out, image_2d, data_format)


def avg_pool2d(input: Any, ksize: Any, strides: Any, padding: Any = "VALID", data_format: str = "NHWC",
               count_include_pad: bool = False) -> np.ndarray:
    """Mean over each ``KH x KW`` window, as ``tf.nn.avg_pool2d``.

    Parameters
    ----------
    input : array_like, shape (N, H, W, C)
        ``(N, C, H, W)`` for NCHW; a 2-D ``(H, W)`` array is one image.
    ksize, strides : int, pair or TF's 4-list
    padding : "VALID", "SAME" or explicit ``((top, bottom), (left, right))``
        Explicit padding (smaller than the window) is a convops extension; ``tf.nn.avg_pool2d``
        accepts only the two strings.
    data_format : "NHWC" or "NCHW"
    count_include_pad : bool, default False
        False (TensorFlow): divide by the number of real cells in the window. True (PyTorch's
        default): divide by ``KH * KW``, as if padded cells were zeros.

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C), floating dtype of ``input``
        Output size as for :func:`max_pool2d`.

    Notes
    -----
    The sum runs over the window's real cells in row-major order in the input dtype, then is
    divided — TensorFlow's order, so results are bit-identical. NaN propagates.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.arange(9, dtype=np.float32).reshape(3, 3)
    >>> convops.avg_pool2d(x, 2, 2, padding="SAME")           # 2 x 2, 2 x 1, 1 x 2, 1 x 1 cells
    array([[2. , 3.5],
           [6.5, 8. ]], dtype=float32)
    >>> convops.avg_pool2d(x, 2, 2, padding="SAME", count_include_pad=True)
    array([[2.  , 1.75],
           [3.25, 2.  ]], dtype=float32)
    """
    x, image_2d, data_format, (kh, kw), (sh, sw), (top, left), shape = _prepare(
        input, ksize, strides, padding, data_format, "avg_pool2d", AVG_POOL_DTYPES)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"`count_include_pad` must be a bool; got {count_include_pad!r}")
    check_output_size(shape, x.dtype, "avg_pool2d")
    if x.dtype == np.float16:
        out = _avg_pool_float16(x, (kh, kw), (sh, sw), (top, left), shape, bool(count_include_pad))
    else:
        out, stream = _empty_output(shape, x.dtype)
        if out.size:
            avg_pool(np.ascontiguousarray(x), out, kh, kw, sh, sw, top, left, bool(count_include_pad),
                     _config.get_num_threads(), stream)
    return _finish(out, image_2d, data_format)


@np.errstate(over="ignore", invalid="ignore")  # overflow to inf and inf - inf are results, as in float32
def _avg_pool_float16(x: np.ndarray, ksize: Tuple[int, int], strides: Tuple[int, int],
                      pad_before: Tuple[int, int], shape, count_include_pad: bool) -> np.ndarray:
    """float16 average pooling, accumulated in float16 one cell at a time as TensorFlow's CPU
    kernel does (each addition rounds to half precision). Summing in float32 instead differs
    from TensorFlow in the last bit, so this path is plain NumPy over window offsets."""
    (kh, kw), (sh, sw), (top, left) = ksize, strides, pad_before
    n, h_out, w_out, channels = shape
    out = np.zeros(shape, dtype=np.float16)
    if out.size == 0:
        return out
    height, width = x.shape[1], x.shape[2]
    # The count is exact in float32: a float16 count rounds above 2048 (2051 cells became 2052).
    # TensorFlow counts in float16 one cell at a time, so its count stops at 2048 and its mean of
    # a window of more than 2048 cells is wrong; convops divides by the true count there.
    count = np.zeros((h_out, w_out), dtype=np.float32)
    for oy in range(h_out):
        y0, y1 = max(oy * sh - top, 0), min(oy * sh - top + kh, height)
        for ox in range(w_out):
            x0, x1 = max(ox * sw - left, 0), min(ox * sw - left + kw, width)
            acc = np.zeros((n, channels), dtype=np.float16)
            for iy in range(y0, y1):
                for ix in range(x0, x1):
                    acc = acc + x[:, iy, ix, :]
            out[:, oy, ox, :] = acc
            count[oy, ox] = kh * kw if count_include_pad else (y1 - y0) * (x1 - x0)
    with np.errstate(invalid="ignore"):  # a window with no real cell (H or W is 0) is 0/0 = NaN
        # float16 / float32 in float32, rounded once to half: what TF's half division does too.
        return (out / count[None, :, :, None]).astype(np.float16)
