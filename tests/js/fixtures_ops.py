"""Fixtures of tests/js/ops.test.mjs: inputs, and what convops computes from them, for every op of
docs/_static/explorer/ops.js (the explorer's JavaScript forward ops).

    python tests/js/fixtures_ops.py OUTDIR      writes OUTDIR/ops.json

Cases: random inputs (seeded) and real MNIST digits (docs/figures/mnist.py's test split, the digits
the explorer bundles; docs/_data/mnist_sample.npz's when the docs' copy is not fetched), for
every padding mode of convops.pad, strides 1-3, dilations 1-2, SAME / VALID / explicit padding,
multi-channel convolutions with a bias, max and average pooling, Dense, Flatten, ReLU and softmax.
Every expected value comes from convops (convops.pad, convops.conv2d, the pools, convops.nn's
layers), never from the JavaScript under test.

JSON has no NaN or infinity: a non-finite float is written as the string "NaN", "Infinity" or
"-Infinity", and the test turns it back into a number.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np

import convops
from convops.arithmetic import resolve_padding
from convops.nn import activations, layers

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODES = convops.PAD_MODES  # CONSTANT, REFLECT, SYMMETRIC, EDGE, CIRCULAR, MEAN


def _values(a: np.ndarray) -> list:
    """Float32 values as JSON numbers (exact: a float32 is a double), non-finite ones as strings."""
    return [
        float(v) if math.isfinite(v) else str(float(v)).replace("nan", "NaN").replace("inf", "Infinity")
        for v in np.asarray(a, dtype=np.float32).ravel().tolist()
    ]


def _tensor(a: np.ndarray) -> dict:
    return {"shape": list(a.shape), "data": _values(a)}


def _digits() -> np.ndarray:
    """A few real MNIST test digits as (28, 28, 1) float32 in [0, 1], the tutorial's input."""
    sys.path.append(str(ROOT / "docs"))  # the docs' `figures` package; appended: it shadows nothing
    try:
        from figures import mnist

        (_, _), (x_test, y_test) = mnist.load_split()
    except FileNotFoundError:  # the docs' copy not fetched: the 40 real digits committed with the docs
        with np.load(ROOT / "docs" / "_data" / "mnist_sample.npz", allow_pickle=False) as sample:
            x_test, y_test = sample["images"], sample["labels"]
    picks = [int(np.flatnonzero(y_test == label)[0]) for label in (0, 3, 7)]
    return np.asarray(x_test[picks], dtype=np.float32).reshape(-1, 28, 28, 1) / 255


def _rng_tensor(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


def pad_cases(rng: np.random.Generator, digits: np.ndarray) -> list[dict]:
    cases = []
    x = _rng_tensor(rng, (4, 5, 2))
    paddings = {
        "CONSTANT": [[[1, 2], [0, 3]], [[2, 2], [2, 2]]],
        "REFLECT": [[[3, 3], [4, 4]], [[1, 0], [0, 2]]],  # 3 and 4 = size - 1, the limits
        "SYMMETRIC": [[[4, 4], [5, 5]], [[0, 1], [2, 0]]],  # = size, the limits
        "EDGE": [[[3, 1], [0, 6]], [[2, 2], [2, 2]]],
        "CIRCULAR": [[[9, 2], [1, 11]], [[1, 1], [1, 1]]],  # more than the size: wraps again
        "MEAN": [[[1, 2], [3, 0]], [[2, 1], [0, 0]], [[0, 0], [1, 2]]],  # both axes, height only, width only
    }
    for mode, pads in paddings.items():
        for p in pads:
            want = convops.pad(x, p + [[0, 0]], mode)
            cases.append(
                {
                    "op": "pad",
                    "name": f"random {x.shape} {mode} {p}",
                    "x": _tensor(x),
                    "paddings": p,
                    "mode": mode,
                    "expected": _tensor(want),
                }
            )
    want = convops.pad(x, [[1, 1], [1, 1], [0, 0]], "CONSTANT", constant_values=-2.5)
    cases.append(
        {
            "op": "pad",
            "name": "CONSTANT -2.5",
            "x": _tensor(x),
            "paddings": [[1, 1], [1, 1]],
            "mode": "CONSTANT",
            "constantValue": -2.5,
            "expected": _tensor(want),
        }
    )
    for mode in MODES:
        p = [[2, 2], [2, 2]]
        want = convops.pad(digits[0], p + [[0, 0]], mode)
        cases.append(
            {
                "op": "pad",
                "name": f"MNIST digit {mode} {p}",
                "x": _tensor(digits[0]),
                "paddings": p,
                "mode": mode,
                "expected": _tensor(want),
            }
        )
    return cases


def _conv(x, w, bias, strides, padding, dilations, pad_mode):
    """What convops computes for ops.js's conv2d: convops.pad then a VALID convops.conv2d when the
    border is not zeros, else convops.conv2d with the padding; then the bias added in float32."""
    if pad_mode != "CONSTANT" and padding != "VALID":
        pads = [
            resolve_padding(
                padding if isinstance(padding, str) else tuple(padding[a]),
                x.shape[a],
                w.shape[a],
                strides[a],
                dilations[a],
            )
            for a in (0, 1)
        ]
        x = convops.pad(x, [list(pads[0]), list(pads[1]), [0, 0]], pad_mode)
        padding = "VALID"
    out = convops.conv2d(x[None], w, strides=strides, padding=padding, dilations=dilations)[0]
    return out + bias if bias is not None else out


def conv_cases(rng: np.random.Generator, digits: np.ndarray) -> list[dict]:
    cases = []

    def add(name, x, w, bias, strides, padding, dilations, pad_mode):
        want = _conv(x, w, bias, strides, padding, dilations, pad_mode)
        cases.append(
            {
                "op": "conv2d",
                "name": name,
                "x": _tensor(x),
                "w": _tensor(w),
                "bias": None if bias is None else _values(bias),
                "options": {
                    "strides": list(strides),
                    "padding": padding,
                    "dilations": list(dilations),
                    "padMode": pad_mode,
                },
                "expected": _tensor(want),
            }
        )

    # Multi-channel with a bias: every padding, stride 1-3 (also non-square), dilation 1-2.
    x = _rng_tensor(rng, (9, 8, 3))
    w = _rng_tensor(rng, (3, 2, 3, 4))
    bias = _rng_tensor(rng, (4,))
    for padding in ("VALID", "SAME", [[2, 0], [1, 3]]):
        for strides in ((1, 1), (2, 2), (3, 3), (1, 2), (3, 1)):
            for dilations in ((1, 1), (2, 2), (1, 2)):
                add(f"random {padding} s{strides} d{dilations}", x, w, bias, strides, padding, dilations, "CONSTANT")
    # Every border mode (SAME and explicit, within REFLECT's limit), strides 1-3.
    for mode in MODES:
        for padding in ("SAME", [[1, 2], [2, 0]]):
            for strides in ((1, 1), (2, 2), (3, 3)):
                add(f"random {mode} {padding} s{strides}", x, w, bias, strides, padding, (1, 1), mode)
        add(f"random {mode} SAME dilated", x, w, None, (1, 1), "SAME", (2, 2), mode)
    # A 5x5 kernel and even kernels (SAME's odd pixel at the bottom/right).
    add("random 5x5 SAME s2", x, _rng_tensor(rng, (5, 5, 3, 2)), None, (2, 2), "SAME", (1, 1), "CONSTANT")
    add("random 4x2 SAME s1", x, _rng_tensor(rng, (4, 2, 3, 1)), None, (1, 1), "SAME", (1, 1), "CONSTANT")
    # Real digits with the filter lab's kernels: every border mode, stride 1 and 2, SAME and VALID.
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32).reshape(3, 3, 1, 1)
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32).reshape(3, 3, 1, 1)
    for digit, kernel in zip(digits, (sobel, laplacian, sobel)):
        add("MNIST digit VALID", digit, kernel, None, (1, 1), "VALID", (1, 1), "CONSTANT")
        for mode in MODES:
            for strides in ((1, 1), (2, 2)):
                add(f"MNIST digit {mode} SAME s{strides}", digit, kernel, None, strides, "SAME", (1, 1), mode)
    # The tutorial's first layer on a real digit: 32 filters, a bias.
    add(
        "MNIST digit 3x3x1x32 bias",
        digits[1],
        _rng_tensor(rng, (3, 3, 1, 32)),
        _rng_tensor(rng, (32,)),
        (1, 1),
        "VALID",
        (1, 1),
        "CONSTANT",
    )
    # Kernel larger than the input: the empty output.
    add(
        "empty output",
        _rng_tensor(rng, (2, 3, 1)),
        _rng_tensor(rng, (3, 3, 1, 2)),
        None,
        (1, 1),
        "VALID",
        (1, 1),
        "CONSTANT",
    )
    return cases


def pool_cases(rng: np.random.Generator, digits: np.ndarray) -> list[dict]:
    cases = []
    x = _rng_tensor(rng, (7, 9, 3))
    feature_map = np.maximum(convops.conv2d(digits[2][None], _rng_tensor(rng, (3, 3, 1, 4)))[0], 0)
    with_nan = _rng_tensor(rng, (4, 4, 1))
    with_nan[0, 0, 0] = with_nan[0, 1, 0] = with_nan[1, 0, 0] = with_nan[1, 1, 0] = np.nan  # a window of NaN only
    with_nan[2, 2, 0] = np.nan
    with_nan[0, 3, 0] = -np.inf
    for op, fn in (("maxPool2d", convops.max_pool2d), ("avgPool2d", convops.avg_pool2d)):
        for padding in ("VALID", "SAME", [[1, 0], [0, 1]]):
            for ksize in ((2, 2), (3, 3), (3, 2)):
                for strides in ((1, 1), (2, 2), (3, 3), (2, 1)):
                    if not isinstance(padding, str) and max(max(p) for p in padding) >= min(ksize):
                        continue
                    want = fn(x[None], ksize, strides, padding)[0]
                    cases.append(
                        {
                            "op": op,
                            "name": f"random {padding} k{ksize} s{strides}",
                            "x": _tensor(x),
                            "options": {"ksize": list(ksize), "strides": list(strides), "padding": padding},
                            "expected": _tensor(want),
                        }
                    )
        for padding in ("VALID", "SAME"):
            want = fn(feature_map[None], 2, 2, padding)[0]
            cases.append(
                {
                    "op": op,
                    "name": f"MNIST feature map {padding} 2x2",
                    "x": _tensor(feature_map),
                    "options": {"ksize": [2, 2], "strides": [2, 2], "padding": padding},
                    "expected": _tensor(want),
                }
            )
    want = convops.max_pool2d(with_nan[None], 2, 2, "VALID")[0]
    cases.append(
        {
            "op": "maxPool2d",
            "name": "NaN ignored, NaN-only window",
            "x": _tensor(with_nan),
            "options": {"ksize": [2, 2], "strides": [2, 2], "padding": "VALID"},
            "expected": _tensor(want),
        }
    )
    return cases


def layer_cases(rng: np.random.Generator, digits: np.ndarray) -> list[dict]:
    cases = []
    x = _rng_tensor(rng, (3, 3, 128)) * 4  # the tutorial's last feature map
    flatten = layers.Flatten()
    flatten.build(x.shape)
    vector = flatten.forward(x[None])[0]
    cases.append({"op": "flatten", "name": "3x3x128", "x": _tensor(x), "expected": _tensor(vector)})
    dense = layers.Dense(10)
    dense.build((vector.size,))
    w, b = _rng_tensor(rng, (vector.size, 10)) * 0.1, _rng_tensor(rng, (10,))
    dense.set_weights([w, b])
    cases.append(
        {
            "op": "dense",
            "name": "1152 -> 10 with bias",
            "vector": _values(vector),
            "w": _tensor(w),
            "b": _values(b),
            "expected": _tensor(dense.forward(vector[None])[0]),
        }
    )
    logits = dense.forward(vector[None])[0]
    cases.append(
        {
            "op": "softmax",
            "name": "logits of the dense case",
            "vector": _values(logits),
            "expected": _tensor(activations.softmax(logits)),
        }
    )
    big = np.array([1000, 999, -1000, 0, 3], np.float32)  # exp would overflow without the max shift
    cases.append(
        {"op": "softmax", "name": "large logits", "vector": _values(big), "expected": _tensor(activations.softmax(big))}
    )
    response = convops.conv2d(digits[0][None], _rng_tensor(rng, (3, 3, 1, 2)))[0]
    cases.append(
        {
            "op": "relu",
            "name": "response maps of a digit",
            "x": _tensor(response),
            "expected": _tensor(activations.relu(response)),
        }
    )
    special = np.array([-0.0, -1.0, np.nan, 2.5, np.inf, -np.inf], np.float32).reshape(1, 2, 3)
    cases.append(
        {
            "op": "relu",
            "name": "-0, NaN and infinities",
            "x": _tensor(special),
            "expected": _tensor(activations.relu(special)),
        }
    )
    return cases


def main(outdir: str) -> None:
    rng = np.random.default_rng(20261203)
    digits = _digits()
    cases = pad_cases(rng, digits) + conv_cases(rng, digits) + pool_cases(rng, digits) + layer_cases(rng, digits)
    path = pathlib.Path(outdir) / "ops.json"
    path.write_text(json.dumps({"cases": cases}))
    print(f"fixtures_ops.py: {len(cases)} cases of ops.js -> {path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/js/fixtures_ops.py OUTDIR")
    main(sys.argv[1])
