"""Each conv2d algorithm's rounding error against an extended-precision reference.

``python -m benchmarks.algorithm_error`` writes benchmarks/results/algorithm-error.json (the
docs plot it; convops/_algorithms.py's "auto" policy is justified by it).

For every algorithm, float32 data, a 3x3 SAME convolution of ``N x 16 x 16 x C_in`` images to
8 channels, the input channels ``C_in`` from 1 to 512 (reduction length ``K = 9 * C_in``) and
several kinds of input data, it records

    ratio = max over outputs of |got - ref| / (eps * magnitude),   magnitude = sum |x| |w|

with ``eps`` float32's machine epsilon and ``ref`` computed in long double (64-bit mantissa on
x86) from the float32 operands. The TF-parity tests allow ``ratio <= K + 1`` (tests/checks.py,
conv_bound), so ``ratio / (K + 1)`` is the fraction of that bound an algorithm uses. Outputs
with ``magnitude == 0`` (an all-zero window, common in images and after ReLU) are counted
apart: any error there is outside every relative bound (``zero_window_errors``).

Optionally (``--speed``) it times each algorithm on a few 3x3 and 7x7 shapes (min of N runs,
1 thread): the "auto" policy's speed side.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import convops
from benchmarks.machine import machine_info
from convops import _fft_conv, _winograd

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "algorithm-error.json")
C_INS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
SIDE, C_OUT, BATCH = 16, 8, 2
EPS32 = float(np.finfo(np.float32).eps)


def make_data(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """Input values of one kind (float32). Scale matters for float rounding only through
    under/overflow, but mixed scales in one window do matter: small outputs next to large ones."""
    if kind.startswith("normal"):
        return (rng.standard_normal(shape) * float(kind.split("x")[1])).astype(np.float32)
    if kind == "mixed-scale":  # random signs, magnitudes log-uniform over 1e-3 .. 1e3
        return (rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-3, 3, shape)).astype(np.float32)
    if kind == "pixels":  # MNIST-like: mostly black, the rest k/255
        values = rng.integers(1, 256, shape) / 255.0
        return np.where(rng.random(shape) < 0.7, 0.0, values).astype(np.float32)
    if kind == "relu":  # activations after a ReLU: half zeros, half positive
        return np.maximum(rng.standard_normal(shape), 0.0).astype(np.float32)
    raise ValueError(f"unknown data kind {kind!r}")


DATA_KINDS = ("normal x1e-3", "normal x1", "normal x1e3", "mixed-scale", "pixels", "relu")


def _patches(xp: np.ndarray) -> np.ndarray:
    n, h, w, c = xp.shape
    rows = [xp[:, ky : ky + h - 2, kx : kx + w - 2, :] for ky in range(3) for kx in range(3)]
    return np.stack(rows, axis=3).reshape(n * (h - 2) * (w - 2), 9 * c)


def reference(xp: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(result in long double, magnitude in float64) of the VALID 3x3 conv of padded ``xp``."""
    p = _patches(xp)
    wm = w.reshape(-1, w.shape[3])
    ref = p.astype(np.longdouble) @ wm.astype(np.longdouble)
    mag = np.abs(p.astype(np.float64)) @ np.abs(wm.astype(np.float64))
    return ref, mag


def algorithms() -> dict:
    """name -> f(padded x, w) computing the VALID conv; the public ones through conv2d."""

    def public(name):
        return lambda xp, w: convops.conv2d(xp, w, padding="VALID", algorithm=name)

    return {
        "direct": public("direct"),
        "im2col": public("im2col"),
        "naive": public("naive"),
        "winograd F(2x2,3x3)": lambda xp, w: _winograd.conv2d_winograd_valid(xp, w, 2, 1),
        "winograd F(4x4,3x3)": lambda xp, w: _winograd.conv2d_winograd_valid(xp, w, 4, 1),
        "fft (float64 transforms)": lambda xp, w: _fft_conv.conv2d_fft_valid(xp, w),
        "fft (float32 transforms)": lambda xp, w: _fft_conv.conv2d_fft_valid(xp, w, compute=np.float32),
    }


def measure(trials: int) -> list[dict]:
    rows = []
    runs = algorithms()
    for c_in in C_INS:
        k = 9 * c_in
        for kind in DATA_KINDS:
            worst = {name: [0.0, 0.0] for name in runs}
            for trial in range(trials):
                rng = np.random.default_rng([c_in, DATA_KINDS.index(kind), trial])
                x = make_data(rng, kind, (BATCH, SIDE, SIDE, c_in))
                # He-initialised filters: mixed signs, the scale a trained layer keeps.
                w = (rng.standard_normal((3, 3, c_in, C_OUT)) * np.sqrt(2.0 / k)).astype(np.float32)
                xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
                ref, mag = reference(xp, w)
                for name, run in runs.items():
                    got = run(xp, w).reshape(ref.shape).astype(np.longdouble)
                    err = np.abs(got - ref).astype(np.float64)
                    nonzero = mag > 0
                    ratio = float((err[nonzero] / (EPS32 * mag[nonzero])).max()) if nonzero.any() else 0.0
                    zero_err = float(err[~nonzero].max()) if (~nonzero).any() else 0.0
                    worst[name][0] = max(worst[name][0], ratio)
                    worst[name][1] = max(worst[name][1], zero_err)
            for name, (ratio, zero_err) in worst.items():
                rows.append(
                    {
                        "algorithm": name,
                        "c_in": c_in,
                        "K": k,
                        "data": kind,
                        "ratio": ratio,
                        "fraction_of_tf_bound": ratio / (k + 1),
                        "zero_window_errors": zero_err,
                    }
                )
            print(f"C_in={c_in:4d} {kind:13s} " + " ".join(f"{r['ratio']:9.3g}" for r in rows[-len(runs) :]))
    return rows


def _time(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


SPEED_CASES = (
    # (N, H, W, C_in, C_out, K): the tutorial's conv2 and a ResNet stage, then large kernels.
    (64, 13, 13, 32, 64, 3),
    (8, 56, 56, 64, 64, 3),
    (4, 28, 28, 128, 128, 3),
    (8, 28, 28, 16, 16, 3),
    (4, 64, 64, 16, 16, 7),
    (2, 128, 128, 8, 8, 11),
    (1, 256, 256, 3, 8, 15),
)


def measure_speed(repeats: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    with convops.num_threads(1):
        for n, h, w_, c_in, c_out, k in SPEED_CASES:
            x = rng.standard_normal((n, h, w_, c_in)).astype(np.float32)
            w = rng.standard_normal((k, k, c_in, c_out)).astype(np.float32)
            names = ["direct", "im2col", "fft"] + (["winograd"] if k == 3 else [])
            row = {"shape": [n, h, w_, c_in, c_out, k]}
            for name in names:
                row[name] = _time(
                    lambda x=x, w=w, name=name: convops.conv2d(x, w, padding="SAME", algorithm=name), repeats
                )
            if k == 3:
                xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
                for tile in (2, 4):
                    row[f"winograd F({tile})"] = _time(
                        lambda xp=xp, w=w, tile=tile: _winograd.conv2d_winograd_valid(xp, w, tile, 1), repeats
                    )
            print(row)
            rows.append(row)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=2, help="random draws per (C_in, data) cell; the worst is kept")
    p.add_argument("--speed", action="store_true", help="also time each algorithm (min of --repeats, 1 thread)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=OUT)
    args = p.parse_args(argv)
    result = {"machine": machine_info({}), "setup": {"dtype": "float32", "side": SIDE, "c_out": C_OUT, "batch": BATCH}}
    result["error"] = measure(args.trials)
    if args.speed:
        result["speed_seconds"] = measure_speed(args.repeats)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
