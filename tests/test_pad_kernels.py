"""The pad kernel's compiled fast path (``convops._kernels.fastpath.pad_fast``) against
``tf.pad``: it takes the plain call and agrees bit for bit, and declines everything else (the
general path then handles it, every error message included)."""

from __future__ import annotations

import numpy as np
import pytest

import convops
import oracle
from checks import assert_exact, format_call
from convops._kernels import fastpath

pytestmark = pytest.mark.tf


def _data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.bool_])
@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"])
@pytest.mark.parametrize(
    "paddings",
    [
        [[0, 0], [1, 1], [1, 1], [0, 0]],  # NHWC images: channels merge into one element
        ((1, 0), (0, 2), (2, 1), (0, 0)),  # tuples, asymmetric
        [[0, 0], [0, 0], [0, 0], [1, 2]],  # only the last axis
        [[1, 1], [0, 0], [3, 4], [0, 0]],  # the batch axis too; REFLECT up to size - 1
    ],
)
def test_pad_fast_path_matches_tf(dtype, mode, paddings):
    tf = oracle.load()
    x = _data((2, 4, 5, 3), np.float64, 0) * 50
    x = x.astype(dtype) if np.dtype(dtype).kind == "f" else (x > 0) if dtype == np.bool_ else np.abs(x).astype(dtype)
    fast = fastpath.pad_fast(x, paddings, mode, 0, 1)
    assert fast is not None
    want = tf.pad(tf.constant(x), [list(p) for p in paddings], mode.upper()).numpy()
    assert_exact(fast, want, format_call("pad", x, paddings, mode), "tf.pad")
    assert_exact(convops.pad(x, paddings, mode), want, format_call("pad", x, paddings, mode), "tf.pad")


@pytest.mark.parametrize(
    "case",
    [
        "list input",
        "constant 1",
        "EDGE",
        "MEAN",
        "reflect too far",
        "symmetric too far",
        "numpy paddings",
        "float pad",
        "negative pad",
        "wrong rank",
        "strided view",
        "empty output",
        "complex",
    ],
)
def test_pad_fast_path_declines_everything_else(case):
    x = _data((2, 3, 4), np.float32, 0)
    args = {"input": x, "paddings": [[0, 0], [1, 1], [1, 1]], "mode": "CONSTANT", "constant_values": 0}
    args.update(
        {
            "list input": {"input": x.tolist()},
            "constant 1": {"constant_values": 1},
            "EDGE": {"mode": "EDGE"},
            "MEAN": {"mode": "MEAN"},
            "reflect too far": {"mode": "REFLECT", "paddings": [[0, 0], [3, 0], [0, 0]]},
            "symmetric too far": {"mode": "SYMMETRIC", "paddings": [[0, 0], [0, 4], [0, 0]]},
            "numpy paddings": {"paddings": np.array([[0, 0], [1, 1], [1, 1]])},
            "float pad": {"paddings": [[0, 0], [1.0, 1], [1, 1]]},
            "negative pad": {"paddings": [[0, 0], [-1, 1], [1, 1]]},
            "wrong rank": {"paddings": [[1, 1], [1, 1]]},
            "strided view": {"input": x[:, ::2]},
            "empty output": {"input": x[:0]},
            "complex": {"input": x.astype(np.complex64)},
        }[case]
    )
    assert fastpath.pad_fast(*args.values(), 1) is None
