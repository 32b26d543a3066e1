"""The suite's own tools: a repro line must rebuild the very call that failed, and the assertions
must fail when they should (a checker that cannot fail would make every test above vacuous)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convops
from checks import assert_exact, assert_within, call_op, format_call, format_value, unchanged
from strategies import LAYOUTS, PAD_DTYPES, make_values, present

_NAMESPACE = {"np": np, "convops": convops}


@given(
    dtype=st.sampled_from(PAD_DTYPES),
    layout=st.sampled_from([lay for lay in LAYOUTS if lay != "list"]),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(["normal", "extremes", "nan"]),
)
def test_format_value_rebuilds_the_array_and_its_layout(dtype, layout, shape, seed, style):
    dtype = np.dtype(dtype)
    array = present(
        make_values(np.random.default_rng(seed), shape, dtype, style if dtype.kind == "f" else "normal"), layout
    )
    rebuilt = eval(format_value(array), _NAMESPACE)
    assert rebuilt.dtype == array.dtype and rebuilt.shape == array.shape
    assert np.array_equal(rebuilt, array, equal_nan=dtype.kind == "f")
    assert rebuilt.tobytes() == array.tobytes()  # -0.0 and NaN payloads included
    if array.size > 1:
        assert rebuilt.flags.writeable == array.flags.writeable
        assert rebuilt.flags.c_contiguous == array.flags.c_contiguous
        assert rebuilt.flags.f_contiguous == array.flags.f_contiguous
        assert (np.array(rebuilt.strides) < 0).tolist() == (np.array(array.strides) < 0).tolist()


@given(
    dtype=st.sampled_from(
        ["float32", ">f4", ">i4", "int16", "<U3", "S3", "complex64", "datetime64[s]", "timedelta64[s]", "V4", "bool"]
    ),
    layout=st.sampled_from(["C", "broadcast", "unaligned", "readonly", "negative"]),
    shape=st.lists(st.integers(0, 3), min_size=0, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_format_value_rebuilds_what_the_hardening_harness_draws(dtype, layout, shape, seed):
    """0-d arrays, non-native byte order, non-numeric dtypes, zero strides, odd addresses."""
    array = present(make_values(np.random.default_rng(seed), shape, np.dtype(dtype), "normal"), layout)
    rebuilt = eval(format_value(array), _NAMESPACE)
    assert rebuilt.dtype == array.dtype and rebuilt.shape == array.shape
    assert rebuilt.tobytes() == array.tobytes()
    assert rebuilt.flags.aligned == array.flags.aligned
    if array.size > 1 and array.ndim:
        assert (0 in rebuilt.strides) == (0 in array.strides)


def test_repro_line_reproduces_the_failing_call():
    x = present(np.arange(24, dtype=np.float32).reshape(1, 4, 3, 2) / 7, "F")
    w = np.ones((2, 2, 2, 1), dtype=np.float32)
    got, repro = call_op(convops.conv2d, "conv2d", x, w, strides=[1, 2], padding=((1, 0), (0, 1)), dilations=1)
    with pytest.raises(AssertionError, match=r"reproduce: convops\.conv2d\(np\.asfortranarray") as info:
        assert_exact(got, got + 1, repro, "a deliberately wrong answer")
    line = str(info.value).split("reproduce: ", 1)[1]
    np.testing.assert_array_equal(eval(line, _NAMESPACE), got)
    assert format_call("conv2d", x, w, strides=[1, 2]).startswith("convops.conv2d(np.asfortranarray(np.array(")


def test_assertions_fail_when_they_should():
    a = np.array([1.0, np.nan, np.inf])
    assert_exact(a, a.copy(), "x")
    for wrong in (np.array([1.0, np.nan, -np.inf]), np.array([1.0, 0.0, np.inf]), a.astype(np.float32), a[:2]):
        with pytest.raises(AssertionError):
            assert_exact(wrong, a, "x")
    bound = np.array([0.5, 0.0, 0.0])
    assert_within(np.array([1.4, np.nan, np.inf]), a, bound, "x")
    for wrong in (np.array([1.6, np.nan, np.inf]), np.array([1.0, 1.0, np.inf]), np.array([1.0, np.nan, 1e308])):
        with pytest.raises(AssertionError):
            assert_within(wrong, a, bound, "x")
    with pytest.raises(AssertionError):  # a NaN bound must not let anything through
        assert_within(np.array([9.0]), np.array([1.0]), np.array([np.nan]), "x")


def test_unchanged_catches_writes():
    x = np.zeros(3)
    with pytest.raises(AssertionError, match="modified in place"):
        with unchanged(x, call="f(x)"):
            x[1] = 1
    values = [1, [2, 3]]
    with pytest.raises(AssertionError, match="was modified"):
        with unchanged(values, call="f(values)"):
            values[1].append(4)
