"""Run every convops op next to its tf.nn twin on the same inputs and print how closely they agree.

    python examples/compare_with_tensorflow.py

Pooling and padding must agree bit for bit; convolution sums in a different order than
TensorFlow, so it is compared relative to the largest output value.
"""

import os
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF's reference kernels: see docs, "testing"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import convops  # noqa: E402

t0 = time.perf_counter()
import tensorflow as tf  # noqa: E402

print(
    f"convops {convops.__version__} (OpenMP: {convops.openmp_enabled()}), TensorFlow {tf.__version__} "
    f"(imported in {time.perf_counter() - t0:.1f} s)\n"
)

rng = np.random.default_rng(0)
digits = rng.standard_normal((8, 28, 28, 1)).astype(np.float32)
features = rng.standard_normal((8, 13, 13, 32)).astype(np.float32)
maps = rng.standard_normal((8, 26, 26, 32)).astype(np.float32)
w1 = rng.standard_normal((3, 3, 1, 32)).astype(np.float32)
w2 = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
w_grouped = rng.standard_normal((3, 3, 8, 64)).astype(np.float32)

cases = [
    (
        "conv2d 28x28x1 -> 32, k3 VALID",
        lambda m: m.conv2d(digits, w1, 1, "VALID"),
        lambda: tf.nn.conv2d(digits, w1, 1, "VALID"),
    ),
    (
        "conv2d 13x13x32 -> 64, k3 SAME stride 2",
        lambda m: m.conv2d(features, w2, 2, "SAME"),
        lambda: tf.nn.conv2d(features, w2, 2, "SAME"),
    ),
    (
        "conv2d dilation 2, explicit padding",
        lambda m: m.conv2d(features, w2, 1, [[0, 0], [2, 1], [0, 3], [0, 0]], 2),
        lambda: tf.nn.conv2d(features, w2, 1, [[0, 0], [2, 1], [0, 3], [0, 0]], dilations=2),
    ),
    (
        "conv2d grouped (4 groups)",
        lambda m: m.conv2d(features, w_grouped, 1, "SAME"),
        lambda: tf.nn.conv2d(features, w_grouped, 1, "SAME"),
    ),
    (
        "max_pool2d 2x2/2 (26 -> 13)",
        lambda m: m.max_pool2d(maps, 2, 2),
        lambda: tf.nn.max_pool2d(tf.constant(maps), 2, 2, "VALID"),
    ),
    (
        "max_pool2d 3x3/2 SAME",
        lambda m: m.max_pool2d(features, 3, 2, "SAME"),
        lambda: tf.nn.max_pool2d(tf.constant(features), 3, 2, "SAME"),
    ),
    (
        "avg_pool2d 3x3/2 SAME",
        lambda m: m.avg_pool2d(features, 3, 2, "SAME"),
        lambda: tf.nn.avg_pool2d(tf.constant(features), 3, 2, "SAME"),
    ),
    (
        "pad CONSTANT 1 (value 0.5)",
        lambda m: m.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=0.5),
        lambda: tf.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=0.5),
    ),
    (
        "pad REFLECT 2",
        lambda m: m.pad(features, [[0, 0], [2, 2], [2, 2], [0, 0]], "REFLECT"),
        lambda: tf.pad(features, [[0, 0], [2, 2], [2, 2], [0, 0]], "REFLECT"),
    ),
    (
        "pad SYMMETRIC 3",
        lambda m: m.pad(features, [[0, 0], [3, 3], [3, 3], [0, 0]], "SYMMETRIC"),
        lambda: tf.pad(features, [[0, 0], [3, 3], [3, 3], [0, 0]], "SYMMETRIC"),
    ),
]

width = max(len(name) for name, *_ in cases)
failures = 0
print(f"{'op':<{width}}  {'shape':>18}  agreement")
for name, ours, theirs in cases:
    got, want = ours(convops), theirs().numpy()
    if got.shape != want.shape:
        failures += 1
        verdict = f"SHAPE DIFFERS: {got.shape} vs {want.shape}"
    elif name.startswith("conv2d"):
        rel = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
        ok = rel < 1e-5
        failures += not ok
        verdict = f"max |diff| / max |tf| = {rel:.1e}" + ("" if ok else "  <-- TOO LARGE")
    else:
        ok = np.array_equal(got, want)
        failures += not ok
        verdict = "bit-identical" if ok else "DIFFERS"
    print(f"{name:<{width}}  {str(got.shape):>18}  {verdict}")
print("\nall ops agree with TensorFlow" if not failures else f"\n{failures} op(s) disagree")
raise SystemExit(1 if failures else 0)
