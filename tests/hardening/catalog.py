"""Every op and gradient of convops, each as a zero-argument call on fixed inputs — the shared
workload of the concurrency, leak and determinism tests.

Each kernel path appears at least once: conv2d's compiled fast path (float NHWC, VALID/SAME), its
general path (NCHW, explicit padding, dilation, groups, lists), the one-channel image kernel, the
int32 and float16 paths, the im2col+BLAS fallback (non-finite filters with padding); pools of
several dtypes and float16's Python average; every pad mode; every gradient. ``size="small"``
calls take microseconds (for 10^4 repetitions); ``size="parallel"`` inputs are large enough that
the kernels split the work over threads (``convops.num_threads``), so that thread-count
independence is tested where it can fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

import convops


def _inputs(size: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    if size == "small":
        n, h, w, c, o = 2, 7, 6, 4, 4
    else:
        n, h, w, c, o = 4, 40, 36, 16, 16  # conv: ~30 M multiply-adds; pools: ~1 M cells
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    return rng, x, (n, h, w, c, o)


def calls(size: str = "small") -> dict[str, Callable[[], Any]]:
    rng, x, (n, h, w, c, o) = _inputs(size)
    f = np.float32
    w3 = rng.standard_normal((3, 3, c, o)).astype(f)
    w1 = rng.standard_normal((1, 1, c, o)).astype(f)
    wg = rng.standard_normal((3, 2, c // 2, o)).astype(f)  # C_in / 2: two groups
    x64, w64 = x.astype(np.float64), w3.astype(np.float64)
    x16, w16 = x.astype(np.float16), w3.astype(np.float16)
    xi, wi = rng.integers(-50, 50, x.shape).astype(np.int32), rng.integers(-5, 5, w3.shape).astype(np.int32)
    w_inf = w3.copy()
    w_inf[0, 0, 0, 0] = np.inf  # non-finite filters: the BLAS fallback
    image = rng.standard_normal((h * 2, w * 2)).astype(f)
    x_nan = x.copy()
    x_nan[:, ::3, ::2, :] = np.nan
    xu8 = rng.integers(0, 255, x.shape).astype(np.uint8)
    x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    y_valid = convops.conv2d(x, w3)  # shapes of the gradients
    y_same2 = convops.conv2d(x, w3, strides=2, padding="SAME")
    dy_valid = rng.standard_normal(y_valid.shape).astype(f)
    dy_same2 = rng.standard_normal(y_same2.shape).astype(f)
    pool_out = convops.max_pool2d(x, 3, 2, "SAME")
    dy_pool = rng.standard_normal(pool_out.shape).astype(f)
    padded = convops.pad(x, [[0, 0], [2, 1], [1, 2], [0, 0]], "REFLECT")
    dy_pad = rng.standard_normal(padded.shape).astype(f)
    explicit = [[0, 0], [1, 2], [2, 0], [0, 0]]
    # One image: the input gradient is one chunk, a single BLAS call large enough for OpenBLAS to
    # thread it if allowed (its bits then depend on its thread count: found by these tests).
    side = 24 if size == "small" else 96
    x1 = rng.standard_normal((1, side, side, 32)).astype(f)
    w1x = rng.standard_normal((3, 3, 32, 32)).astype(f)
    dy1 = rng.standard_normal((1, side - 2, side - 2, 32)).astype(f)
    return {
        "conv2d_backprop_input, one image": lambda: convops.conv2d_backprop_input(x1.shape, w1x, dy1),
        "conv2d_backprop_filter, one image": lambda: convops.conv2d_backprop_filter(x1, w1x.shape, dy1),
        "conv2d fast VALID f32": lambda: convops.conv2d(x, w3),
        "conv2d fast SAME stride 2 f64": lambda: convops.conv2d(x64, w64, strides=2, padding="SAME"),
        "conv2d 1x1": lambda: convops.conv2d(x, w1),
        "conv2d explicit padding, dilation 2": lambda: convops.conv2d(x, w3, padding=explicit, dilations=2),
        "conv2d NCHW": lambda: convops.conv2d(x_nchw, w3, strides=(1, 2), padding="SAME", data_format="NCHW"),
        "conv2d grouped": lambda: convops.conv2d(x, wg, strides=(2, 1), padding="SAME"),
        "conv2d int32": lambda: convops.conv2d(xi, wi, padding="SAME"),
        "conv2d float16": lambda: convops.conv2d(x16, w16, padding="SAME"),
        "conv2d non-finite filters (BLAS fallback)": lambda: convops.conv2d(x, w_inf, padding="SAME"),
        "conv2d one-channel image": lambda: convops.conv2d(image, w3[:, :, 0, 0], padding="SAME"),
        "conv2d Fortran-order input": lambda: convops.conv2d(np.asfortranarray(x), w3),
        "max_pool2d SAME f32": lambda: convops.max_pool2d(x, 3, 2, "SAME"),
        "max_pool2d NaN": lambda: convops.max_pool2d(x_nan, 2, 2),
        "max_pool2d uint8 explicit": lambda: convops.max_pool2d(xu8, 3, 1, [[0, 0], [1, 2], [2, 1], [0, 0]]),
        "max_pool2d NCHW f64": lambda: convops.max_pool2d(
            np.ascontiguousarray(x64.transpose(0, 3, 1, 2)), 2, 1, "VALID", "NCHW"
        ),
        "avg_pool2d SAME f32": lambda: convops.avg_pool2d(x, 3, 2, "SAME"),
        "avg_pool2d count_include_pad f64": lambda: convops.avg_pool2d(x64, (2, 3), 1, "SAME", count_include_pad=True),
        "avg_pool2d float16": lambda: convops.avg_pool2d(x16[:1, :8, :8], 2, 2),
        "pad CONSTANT": lambda: convops.pad(x, [[0, 0], [2, 3], [1, 1], [0, 0]], constant_values=1.5),
        "pad REFLECT": lambda: convops.pad(x, [[0, 0], [2, 1], [1, 2], [0, 0]], "REFLECT"),
        "pad SYMMETRIC int32": lambda: convops.pad(xi, [[1, 0], [2, 2], [0, 3], [0, 0]], "SYMMETRIC"),
        "pad EDGE": lambda: convops.pad(x, [[0, 0], [3, 0], [0, 3], [0, 0]], "EDGE"),
        "pad CIRCULAR": lambda: convops.pad(x, [[0, 0], [4, 4], [4, 4], [0, 0]], "CIRCULAR"),
        "pad MEAN": lambda: convops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "MEAN"),
        "padding_index": lambda: convops.padding_index(h, 3, 5, "SYMMETRIC"),
        "conv2d_backprop_input": lambda: convops.conv2d_backprop_input(x.shape, w3, dy_valid),
        "conv2d_backprop_input SAME stride 2": lambda: convops.conv2d_backprop_input(x.shape, w3, dy_same2, 2, "SAME"),
        "conv2d_transpose": lambda: convops.conv2d_transpose(dy_same2, w3, x.shape, 2, "SAME"),
        "conv2d_backprop_filter": lambda: convops.conv2d_backprop_filter(x, w3.shape, dy_valid),
        "conv2d_backprop_filter SAME stride 2": lambda: convops.conv2d_backprop_filter(
            x, w3.shape, dy_same2, 2, "SAME"
        ),
        "max_pool2d_grad": lambda: convops.max_pool2d_grad(x, dy_pool, 3, 2, "SAME"),
        "max_pool2d_with_argmax": lambda: convops.max_pool2d_with_argmax(x, 3, 2, "SAME", include_batch_in_index=True),
        "avg_pool2d_grad": lambda: convops.avg_pool2d_grad(x.shape, dy_pool, 3, 2, "SAME"),
        "pad_grad REFLECT": lambda: convops.pad_grad(dy_pad, [[0, 0], [2, 1], [1, 2], [0, 0]], "REFLECT"),
        "pad_grad MEAN": lambda: convops.pad_grad(dy_pad, [[0, 0], [2, 1], [1, 2], [0, 0]], "MEAN"),
    }


def failing_calls() -> dict[str, Callable[[], Any]]:
    """Calls that raise (ValueError/TypeError/MemoryError): their error paths must not leak either."""
    x = np.ones((1, 5, 5, 2), np.float32)
    w = np.ones((3, 3, 2, 2), np.float32)
    return {
        "conv2d bad strides": lambda: convops.conv2d(x, w, strides=0),
        "conv2d dtype mismatch": lambda: convops.conv2d(x, w.astype(np.float64)),
        "conv2d channel mismatch": lambda: convops.conv2d(x, np.ones((3, 3, 3, 2), np.float32)),
        "conv2d absurd output (MemoryError)": lambda: convops.conv2d(
            np.broadcast_to(np.float32(1), (10**4, 1, 1, 1)),
            np.ones((1, 1, 1, 1), np.float32),
            padding=[[10**6, 10**6], [10**6, 10**6]],
        ),
        "max_pool2d bad padding": lambda: convops.max_pool2d(x, 2, 1, [[0, 0], [2, 0], [0, 0], [0, 0]]),
        "avg_pool2d int input": lambda: convops.avg_pool2d(x.astype(np.int32), 2, 2),
        "pad REFLECT too far": lambda: convops.pad(x, [[0, 0], [5, 0], [0, 0], [0, 0]], "REFLECT"),
        "pad bad mode": lambda: convops.pad(x, [[0, 0]] * 4, "WRAP"),
        "padding_index bad size": lambda: convops.padding_index(-1, 1, 1),
        "conv2d_backprop_input impossible sizes": lambda: convops.conv2d_backprop_input(
            (1, 9, 9, 2), w, np.ones((1, 3, 3, 2), np.float32)
        ),
        "max_pool2d_grad wrong gradient shape": lambda: convops.max_pool2d_grad(
            x, np.ones((1, 3, 3, 2), np.float32), 2, 2
        ),
        "pad_grad bad paddings": lambda: convops.pad_grad(x, [[0, 0], [9, 0], [0, 0], [0, 0]]),
    }


def digest(result: Any) -> str:
    """A fingerprint of a result's exact bits, shape and dtype (tuples of arrays too)."""
    h = hashlib.sha256()
    for part in result if isinstance(result, tuple) else (result,):
        part = np.asarray(part)
        h.update(f"{part.shape}{part.dtype.str}".encode())
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()
