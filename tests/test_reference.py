"""The NumPy reference (convops.reference) both ways: checked against TensorFlow, and used as the
oracle for convops where no TensorFlow is needed (these tests run without TF installed).

The reference takes canonical arguments: NHWC arrays and explicit ((top, bottom), (left, right))
padding, so SAME is resolved by the tests' own copy of TF's rule (strategies.resolve_same).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import convops
import oracle
from checks import (Repro, assert_exact, assert_within, call_op, conv_bound, flush_subnormals, reduction_length,
                    window_conv2d)
from convops.reference import avg_pool2d_reference, conv2d_reference, max_pool2d_reference, pad_reference
from strategies import (AVG_POOL_DTYPES, CONV_DTYPES, MAX_POOL_DTYPES, PAD_DTYPES, conv2d_cases, pad_cases,
                        pool2d_cases)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:convops.reference")

_CANONICAL = dict(data_formats=("NHWC",), layouts=("C",), spell=False)


def _conv_bound(case, want):
    magnitude = window_conv2d(np.abs(case.x), np.abs(case.w), case.strides, case.explicit_padding, case.dilations)
    return conv_bound(want, magnitude, reduction_length(case.w.shape), case.x.dtype)


def _reference_call(name, case, **extra) -> Repro:
    operands = (case.x, case.w) if hasattr(case, "w") else (case.x,)
    return Repro(name, operands, extra, module="convops.reference")


# --------------------------------------------------------------------------- reference vs TF

@pytest.mark.tf
@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases(**_CANONICAL))
def test_conv2d_reference_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    got = conv2d_reference(case.x, case.w, case.strides, case.explicit_padding, case.dilations)
    want = oracle.conv2d(case.x, case.w, case.strides, case.padding, case.dilations)
    call = _reference_call("conv2d_reference", case, strides=case.strides, padding=case.explicit_padding,
                           dilations=case.dilations)
    if case.x.dtype.kind in "iu":
        assert_exact(got, want, call, "TensorFlow")
    else:
        # The reference accumulates in float64 and rounds once: the same bound covers it.
        assert_within(got, want, _conv_bound(case, want), call, "TensorFlow", dtype=case.x.dtype)


@pytest.mark.tf
@pytest.mark.parametrize("dtype", MAX_POOL_DTYPES)
@given(case=pool2d_cases(image_2d=False, **_CANONICAL))
def test_max_pool2d_reference_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    got = max_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding)
    want = oracle.max_pool2d(case.x, case.ksize, case.strides, case.padding)
    call = _reference_call("max_pool2d_reference", case, ksize=case.ksize, strides=case.strides,
                           padding=case.explicit_padding)
    assert_exact(got, want, call, "TensorFlow")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(image_2d=False, paddings=("VALID", "SAME"), **_CANONICAL))
def test_avg_pool2d_reference_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    got = avg_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding)
    want = oracle.avg_pool2d(case.x, case.ksize, case.strides, case.padding)
    call = _reference_call("avg_pool2d_reference", case, ksize=case.ksize, strides=case.strides,
                           padding=case.explicit_padding)
    assert_exact(flush_subnormals(got), want, call, "TensorFlow (subnormals flushed)")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(layouts=("C",)))
def test_pad_reference_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    got = pad_reference(case.x, case.paddings, case.mode, case.constant_values)
    want = oracle.pad(case.x, case.paddings, case.mode, case.constant_values)
    assert_exact(got, want, _reference_call("pad_reference", case, paddings=case.paddings, mode=case.mode,
                                            constant_values=case.constant_values), "TensorFlow")


# --------------------------------------------------------------------------- convops vs reference

@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases())
def test_conv2d_matches_reference(dtype, case):
    """Every option convops has (NCHW, spellings, layouts), with the reference as the oracle."""
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    result, repro = call_op(convops.conv2d, "conv2d", *args, **kwargs)
    got = case.to_nhwc(result)
    want = conv2d_reference(case.x, case.w, case.strides, case.explicit_padding, case.dilations)
    if case.x.dtype.kind in "iu":
        assert_exact(got, want, repro, "the reference")
    else:
        assert_within(got, want, _conv_bound(case, want), repro, "the reference", dtype=case.x.dtype)


@pytest.mark.parametrize("dtype", MAX_POOL_DTYPES)
@given(case=pool2d_cases())
def test_max_pool2d_matches_reference(dtype, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    result, repro = call_op(convops.max_pool2d, "max_pool2d", *args, **kwargs)
    want = max_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding)
    assert_exact(case.to_nhwc(result), want, repro, "the reference")


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES))
def test_avg_pool2d_matches_reference(dtype, count_include_pad, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    kwargs["count_include_pad"] = count_include_pad
    result, repro = call_op(convops.avg_pool2d, "avg_pool2d", *args, **kwargs)
    want = avg_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding, count_include_pad)
    assert_exact(case.to_nhwc(result), want, repro, "the reference")


@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN")))
def test_pad_matches_reference(dtype, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    got, repro = call_op(convops.pad, "pad", *args, **kwargs)
    with np.errstate(invalid="ignore", over="ignore"):   # the mean of [inf, -inf] is NaN, quietly
        want = pad_reference(case.x, case.paddings, case.mode, case.constant_values)
    if case.mode.upper() == "MEAN" and case.x.dtype.kind == "f":
        # Both round a float64 mean (summed in different orders): one ulp of the dtype apart at most,
        # plus cancellation in float64 for float64 data.
        count = int(np.prod([s for s, p in zip(case.x.shape, case.paddings) if tuple(p) != (0, 0)]))
        with np.errstate(invalid="ignore", over="ignore"):
            absolute = pad_reference(np.abs(case.x.astype(np.float64)), case.paddings, "MEAN")
            bound = np.where(np.isfinite(want), np.spacing(np.abs(want)).astype(np.float64)
                             + (count + 1) * np.finfo(np.float64).eps * absolute, 0.0)
        assert_within(got, want, bound, repro, "the reference")
    else:
        assert_exact(got, want, repro, "the reference")
