"""Smoke test of an installed convops, without TensorFlow: run it from outside the source tree.

cibuildwheel runs it on every wheel it builds, and scripts/dist_check.sh on the repaired manylinux
wheel in a fresh venv. It checks what a broken wheel would get wrong: every compiled kernel is in
the wheel and loads, the thread pool gives the same numbers at any thread count, and conv2d,
max_pool2d and pad agree with NumPy references written here (not convops.reference: a wheel that
shipped a wrong reference would agree with itself). Exits non-zero on the first failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"smoke test FAILED: {message}")


def conv2d_reference(x, w, strides, padding):
    """TF's conv2d (NHWC, HWIO, no dilation) in float64 by direct summation over windows."""
    n, h, wd, c = x.shape
    kh, kw, _, c_out = w.shape
    sh, sw = strides
    if padding == "SAME":
        out_h, out_w = -(-h // sh), -(-wd // sw)
        pad_h = max((out_h - 1) * sh + kh - h, 0)
        pad_w = max((out_w - 1) * sw + kw - wd, 0)
        # TF puts the odd pixel at the bottom/right.
        x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        out_h, out_w = (h - kh) // sh + 1, (wd - kw) // sw + 1
    x = x.astype(np.float64)
    out = np.zeros((n, out_h, out_w, c_out))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
            out[:, i, j, :] = np.tensordot(window, w.astype(np.float64), axes=([1, 2, 3], [0, 1, 2]))
    return out


def main() -> None:
    check(importlib.util.find_spec("tensorflow") is None, "TensorFlow is installed: this test must run without it")
    import convops

    print(f"convops {convops.__version__} from {Path(convops.__file__).parent}")
    check("tensorflow" not in sys.modules, "`import convops` imported tensorflow")

    # Every kernel whose source the wheel carries is compiled and loads.
    kernels = Path(convops.__file__).parent / "_kernels"
    names = sorted(path.stem for path in kernels.glob("*.pyx"))
    check(len(names) >= 8, f"the wheel carries {len(names)} kernel sources under {kernels}")
    for name in names:
        importlib.import_module(f"convops._kernels.{name}")
    print(f"{len(names)} compiled kernels load: {', '.join(names)}; OpenMP {convops.openmp_enabled()}")

    rng = np.random.default_rng(0)
    cases = [  # (x shape, w shape, strides, padding): a tiny one and one large enough for the GEMM path
        ((2, 9, 8, 3), (3, 2, 3, 4), (2, 1), "SAME"),
        ((2, 32, 30, 16), (3, 3, 16, 32), (1, 1), "VALID"),
    ]
    for x_shape, w_shape, strides, padding in cases:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        y = convops.conv2d(x, w, strides=strides, padding=padding)
        ref = conv2d_reference(x, w, strides, padding)
        check(y.shape == ref.shape and y.dtype == np.float32, f"conv2d gave {y.shape} {y.dtype}, want {ref.shape}")
        # float32 sums of k = KH*KW*C_in products: error within a few k*eps of sum |x||w|.
        k = w_shape[0] * w_shape[1] * w_shape[2]
        scale = conv2d_reference(np.abs(x), np.abs(w), strides, padding)
        error = np.abs(y - ref)
        check(
            bool(np.all(error <= 2 * k * np.finfo(np.float32).eps * scale)),
            f"conv2d {x_shape}*{w_shape}: max error {error.max()}",
        )
        with convops.num_threads(1):
            one = convops.conv2d(x, w, strides=strides, padding=padding)
        check(np.array_equal(one, y), "conv2d differs between 1 thread and the default thread count")
        print(f"conv2d {x_shape} * {w_shape} {padding}: max error {error.max():.2e} vs float64 NumPy")

    x = rng.standard_normal((2, 8, 6, 5)).astype(np.float32)
    pooled = convops.max_pool2d(x, ksize=2, strides=2)
    check(np.array_equal(pooled, x.reshape(2, 4, 2, 3, 2, 5).max(axis=(2, 4))), "max_pool2d differs from NumPy")
    padded = convops.pad(x, [[0, 0], [2, 1], [1, 3], [0, 0]], "REFLECT")
    check(
        np.array_equal(padded, np.pad(x, ((0, 0), (2, 1), (1, 3), (0, 0)), "reflect")), "pad REFLECT differs from NumPy"
    )
    print("max_pool2d and pad: identical to NumPy")
    print("smoke test passed")


if __name__ == "__main__":
    main()
