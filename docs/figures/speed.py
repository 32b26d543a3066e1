"""Page 12: from naive Python to Cython: timings measured while the docs are built."""

from __future__ import annotations

import functools
import os
import time

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops.reference import conv2d_reference

from . import grammar as g


def conv2d_python(x, w):
    """Step 1: pure Python, nested lists, VALID, stride 1. x: (N, H, W, C_in), w: (KH, KW, C_in, C_out)."""
    n, h, wd, c_in = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    kh, kw, c_out = len(w), len(w[0]), len(w[0][0][0])
    out = [[[[0.0] * c_out for _ in range(wd - kw + 1)] for _ in range(h - kh + 1)] for _ in range(n)]
    for b in range(n):
        for y in range(h - kh + 1):
            for x_ in range(wd - kw + 1):
                acc = out[b][y][x_]
                for ky in range(kh):
                    for kx in range(kw):
                        pixel = x[b][y + ky][x_ + kx]
                        for c in range(c_in):
                            value = pixel[c]
                            taps = w[ky][kx][c]
                            for o in range(c_out):
                                acc[o] += value * taps[o]
    return out


def conv2d_numpy_im2col(x, w):
    """Step 3: vectorised NumPy: all windows as a strided view, one tensordot."""
    kh, kw = w.shape[:2]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))   # (N, Ho, Wo, C, KH, KW)
    return np.tensordot(windows, w, axes=([4, 5, 3], [0, 1, 2]))


def best_time(func, budget: float = 0.25, repeats: int = 5) -> float:
    """Best of `repeats` runs of `func`, each run looping until `budget` / repeats seconds."""
    start = time.perf_counter()
    func()
    once = time.perf_counter() - start
    loops = max(1, int(budget / repeats / max(once, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            func()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def tensorflow():
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf


CASES = {
    "MNIST layer 1, one image\nx (1, 28, 28, 1) ⋆ w (3, 3, 1, 32)": ((1, 28, 28, 1), (3, 3, 1, 32)),
    "MNIST layer 2, batch of 32\nx (32, 13, 13, 32) ⋆ w (3, 3, 32, 64)": ((32, 13, 13, 32), (3, 3, 32, 64)),
}


@functools.lru_cache(maxsize=None)
def measure():
    """{case: [(step, seconds or None)]} measured now, with each result checked against convops."""
    rng = np.random.default_rng(0)
    tf = tensorflow()
    results = {}
    for case, (xs, ws) in CASES.items():
        x = rng.normal(size=xs).astype(np.float32)
        w = rng.normal(size=ws).astype(np.float32)
        xi = rng.integers(-8, 8, size=xs, dtype=np.int32)
        wi = rng.integers(-8, 8, size=ws, dtype=np.int32)
        expected = convops.conv2d(x, w)
        steps = []
        if xs[0] == 1:
            xl, wl = x.tolist(), w.tolist()
            got = np.array(conv2d_python(xl, wl), np.float32)
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
            steps.append(("1. pure Python loops", best_time(lambda: conv2d_python(xl, wl), repeats=2)))
        # (pure Python is left out of the batch case: seconds per call would dominate the build)
        no_pad = ((0, 0), (0, 0))
        np.testing.assert_allclose(conv2d_reference(x, w, (1, 1), no_pad), expected, rtol=1e-4, atol=1e-4)
        steps.append(("2. convops.reference\n(NumPy, loop over positions)",
                      best_time(lambda: conv2d_reference(x, w, (1, 1), no_pad))))
        np.testing.assert_allclose(conv2d_numpy_im2col(x, w), expected, rtol=1e-4, atol=1e-4)
        steps.append(("3. NumPy, all windows at once", best_time(lambda: conv2d_numpy_im2col(x, w))))
        np.testing.assert_array_equal(convops.conv2d(xi, wi), conv2d_numpy_im2col(xi.astype(np.int64), wi))
        steps.append(("4. Cython direct loops\n(convops int32 kernel)", best_time(lambda: convops.conv2d(xi, wi))))
        # step 5 is measured with one thread and with the default; the page discusses the difference
        with convops.num_threads(1):
            steps.append(("5. Cython im2col + BLAS\n(convops float32, 1 thread)", best_time(lambda: convops.conv2d(x, w))))
        steps.append((f"5. Cython im2col + BLAS\n(convops float32, {convops.get_num_threads()} threads)",
                      best_time(lambda: convops.conv2d(x, w))))
        if tf is not None:
            tx, tw = tf.constant(x), tf.constant(w)
            np.testing.assert_allclose(tf.nn.conv2d(tx, tw, 1, "VALID").numpy(), expected, rtol=1e-4, atol=1e-4)
            steps.append(("TensorFlow tf.nn.conv2d", best_time(lambda: tf.nn.conv2d(tx, tw, 1, "VALID"))))
        results[case] = steps
    return results


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def timings():
    results = measure()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.2))
    for ax, (case, steps) in zip(axes, results.items()):
        names = [name for name, _ in steps][::-1]
        values = [t for _, t in steps][::-1]
        colours = [g.WINDOW if "TensorFlow" in n else (g.OUTPUT if "Cython" in n else g.INPUT) for n in names]
        bars = ax.barh(names, values, color=colours, log=True)
        reference = dict(steps)["2. convops.reference\n(NumPy, loop over positions)"]
        for bar, value in zip(bars, values):
            y = bar.get_y() + bar.get_height() / 2
            ax.text(value * 1.15, y, f"{_fmt_time(value)}  (×{reference / value:.3g})", va="center", fontsize=8)
        ax.set_xlim(min(values) / 2, max(values) * 200)
        ax.set_title(case, fontsize=9.5)
        ax.set_xlabel("seconds per call (log scale)")
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    note = ("" if tensorflow() is not None else "TensorFlow was not importable in this build. ")
    fig.text(0.01, 0.01, note + f"Measured while building these docs, float32 (step 4: int32); "
             f"convops threads: {convops.get_num_threads()}, OpenMP: {convops.openmp_enabled()}. "
             "(×n) = speed-up over step 2.", fontsize=8.5)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
