"""The optimizers' compiled updates against their NumPy form, bit for bit.

Each optimizer in :mod:`convops.nn.optimizers` keeps its formula in NumPy (``_update_reference``)
and runs a compiled twin (``_update``, convops/_kernels/nn.pyx) that must give the same bits:
every configuration, float32 and float64, over several steps (so the slots' values feed back),
on ordinary values and on the edges -- zero and tiny gradients (the square root of epsilon
alone), huge ones (inf after squaring), NaN and inf, signed zeros. The reference itself is
compared with Keras in tests/test_nn.py (test_optimizer_steps_match_keras).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convops.nn import optimizers

CONFIGS = [
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5}),
    ("RMSprop", {"centered": True, "rho": 0.8}),
    ("RMSprop", {"centered": True, "momentum": 0.9, "epsilon": 0.0, "learning_rate": 0.5}),
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "beta_2": 0.99, "epsilon": 0.0}),
]


def both_ways(name: str, kwargs: dict, start: np.ndarray, grads: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The variable after the same steps by the compiled update and by the reference."""
    fast, slow = getattr(optimizers, name)(**kwargs), getattr(optimizers, name)(**kwargs)
    slow._update = slow._update_reference  # every variable through NumPy
    mine, theirs = start.copy(), start.copy()
    for grad in grads:
        fast.apply_gradients([(grad.copy(), mine)])
        slow.apply_gradients([(grad.copy(), theirs)])
    for a, b in zip(fast._slots[0].values(), slow._slots[0].values()):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))  # the slots too, NaN bits and all
    return mine, theirs


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    # NaN payloads aside (a libm sqrt and a vector sqrt may differ in them), every bit; -0.0 != 0.0.
    both_nan = np.isnan(a) & np.isnan(b)
    np.testing.assert_array_equal(np.where(both_nan, 0, a).view(np.uint8), np.where(both_nan, 0, b).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_compiled_update_gives_the_reference_bits(name, kwargs, dtype):
    rng = np.random.default_rng(7)
    start = rng.standard_normal((5, 7, 3)).astype(dtype)
    grads = [
        (rng.standard_normal(start.shape) * 10.0 ** rng.integers(-8, 3, start.shape)).astype(dtype) for _ in range(6)
    ]
    mine, theirs = both_ways(name, kwargs, start, grads)
    assert_same_bits(mine, theirs)
    assert not np.array_equal(mine, start)  # the steps did move the variable


def edge_values(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    return np.array(
        [
            0.0,
            -0.0,
            info.tiny,
            -info.tiny,
            info.smallest_subnormal,
            1e-30,
            1.0,
            -1.0,
            info.max,
            -info.max,
            np.sqrt(info.max) * 2,
            np.inf,
            -np.inf,
            np.nan,
            3.0,
            -7.5,
        ],
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_compiled_update_on_edge_values(name, kwargs, dtype):
    values = edge_values(dtype)
    start = np.resize(values[::-1], (4, values.size))
    grads = [np.roll(np.resize(values, start.shape), k) for k in range(3)]
    with np.errstate(all="ignore"):
        mine, theirs = both_ways(name, kwargs, start, grads)
    assert_same_bits(mine, theirs)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    config=st.sampled_from(CONFIGS),
    dtype=st.sampled_from([np.float32, np.float64]),
    steps=st.integers(1, 4),
)
def test_compiled_update_property(data, config, dtype, steps):
    name, kwargs = config
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=9), label="shape")
    finite = hnp.arrays(dtype, shape, elements=st.floats(-1e6, 1e6, width=32 if dtype == np.float32 else 64))
    start = data.draw(finite, label="start")
    grads = [data.draw(finite, label=f"grad {k}") for k in range(steps)]
    with np.errstate(all="ignore"):
        mine, theirs = both_ways(name, kwargs, start, grads)
    assert_same_bits(mine, theirs)


def test_arrays_the_kernel_does_not_take_run_the_reference():
    """A strided variable, a gradient sharing the variable's memory and float16 take the NumPy
    path, with NumPy's result (overlapping operands are copied first)."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal(12).astype(np.float32)
    for make in (
        lambda a: (a[::2], a[1::2]),  # strided views of one buffer
        lambda a: (a[1:], a[:-1]),  # overlapping contiguous views: element i reads what i-1 wrote
    ):
        var, grad = make(base.copy())
        want_var, want_grad = make(base.copy())
        optimizers.RMSprop(momentum=0.5).apply_gradients([(grad, var)])
        slots = {"velocity": np.zeros_like(want_var), "momentum": np.zeros_like(want_var)}
        optimizers.RMSprop(momentum=0.5)._update_reference(want_grad, want_var, slots)
        assert_same_bits(var, want_var)
        assert not np.array_equal(var, make(base.copy())[0])
    half = rng.standard_normal(6).astype(np.float16)
    want = half.copy()
    optimizers.SGD(0.5).apply_gradients([(np.ones(6, np.float16), half)])
    np.testing.assert_array_equal(half, want - np.float16(0.5))
