"""conv2d against TensorFlow's ``tf.nn.conv2d``: every option, every dtype, every input layout.

Floating results are compared within the bound of :class:`checks.Tolerance` (scaled by the
reduction length ``K = KH*KW*C_in/groups`` and the size of the products), int32 exactly (both
wrap modulo 2**32). Empty outputs are compared with the NumPy reference, not with TF.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_exact, assert_within, call_op, conv_bound, reduction_length, window_conv2d
from convops.reference import conv2d_reference
from strategies import CONV_DTYPES, ConvCase, conv2d_cases, conv2d_empty_cases, conv2d_image_cases


def run(case: ConvCase):
    """convops.conv2d on the case as spelled; returns (NHWC result, repro). Inputs must not change."""
    args, kwargs = case.convops_args()
    result, repro = call_op(convops.conv2d, "conv2d", *args, **kwargs)
    return case.to_nhwc(result), repro


def check_against(case: ConvCase, want: np.ndarray, what: str) -> None:
    got, repro = run(case)
    if case.x.dtype.kind in "iu":
        assert_exact(got, want, repro, what)
        return
    magnitude = window_conv2d(np.abs(case.x), np.abs(case.w), case.strides, case.explicit_padding, case.dilations)
    bound = conv_bound(want, magnitude, reduction_length(case.w.shape), case.x.dtype)
    assert_within(got, want, bound, repro, what, dtype=case.x.dtype)


def tf_answer(case: ConvCase) -> np.ndarray:
    return oracle.conv2d(case.x, case.w, case.strides, case.padding, case.dilations)


def pinned(x_shape, w_shape, **kwargs) -> ConvCase:
    """A pinned example with small distinct integers (exact in every dtype)."""
    x = (np.arange(np.prod(x_shape)) % 7 - 3).reshape(x_shape).astype(np.float64)
    w = (np.arange(np.prod(w_shape)) % 5 - 2).reshape(w_shape).astype(np.float64)
    return ConvCase(x, w, **kwargs)


@pytest.mark.tf
@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases())
@example(case=pinned((2, 3, 4, 2), (1, 1, 2, 3)))  # 1x1 kernel: a matmul
@example(case=pinned((1, 3, 4, 2), (3, 4, 2, 2)))  # kernel = input: 1x1 out
@example(case=pinned((1, 7, 8, 1), (2, 1, 1, 2), strides=(3, 4)))  # stride > kernel: gaps
@example(case=pinned((1, 5, 6, 1), (2, 4, 1, 1), padding="SAME"))  # even kernel, SAME
@example(case=pinned((1, 5, 6, 1), (2, 4, 1, 1), strides=(2, 2), padding="SAME"))  # odd pad goes after
@example(case=pinned((1, 9, 8, 2), (2, 3, 2, 1), strides=(2, 3), padding="SAME", dilations=(2, 2)))
@example(case=pinned((1, 4, 4, 4), (3, 3, 2, 4), padding="SAME"))  # 2 groups
@example(
    case=pinned(
        (2, 4, 5, 3),
        (2, 2, 3, 2),
        padding=((1, 0), (0, 2)),
        data_format="NCHW",
        spelled={"padding": [[0, 0], [0, 0], [1, 0], [0, 2]], "strides": [1, 1, 1, 1]},
    )
)
@example(case=pinned((1, 6, 6, 1), (3, 3, 1, 1), padding="SAME", spelled={"padding": "same"}))
def test_conv2d_matches_tensorflow(dtype, case):
    """Padding SAME/VALID/same/explicit (both forms), strides and dilations as int/pair/4-list,
    dilation with stride, groups, NCHW, non-contiguous/Fortran/negative-stride/read-only/list inputs."""
    case = case.with_dtype(dtype)
    check_against(case, tf_answer(case), "TensorFlow")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases(max_group_channels=24, max_out_per_group=40, max_groups=2, max_batch=2, max_kernel=3))
def test_conv2d_many_channels_matches_tensorflow(dtype, case):
    """Up to 48 input and 80 output channels: the vectorised kernels' channel blocks, their
    remainders, and long reductions (K up to 216)."""
    case = case.with_dtype(dtype)
    check_against(case, tf_answer(case), "TensorFlow")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@given(case=conv2d_cases(styles=("sparse_nonfinite", "large")))
@example(case=ConvCase(np.array([[[[1.0], [np.inf], [2.0]]]]), np.array([[[[0.0]], [[1.0]]]]), padding="SAME"))
@example(
    case=ConvCase(np.ones((1, 2, 2, 1)), np.array([[[[1.0]]], [[[np.inf]]]]), padding="SAME")
)  # 0 * inf in padding
def test_conv2d_non_finite_and_large_values_match_tensorflow(dtype, case):
    """NaN and inf propagate as in TF, including 0 * inf = NaN where an infinite weight meets a
    zero of the padding; float16 overflows to inf after the float32 sum, as in TF; huge finite
    values keep their relative accuracy."""
    case = case.with_dtype(dtype)
    check_against(case, tf_answer(case), "TensorFlow")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_image_cases())
@example(
    case=ConvCase(
        np.array([[[[0], [0], [1], [1]]] * 4], dtype=np.float64),
        np.array([[[[-1]], [[1]]]], dtype=np.float64),
        image_2d=True,
    )
)
def test_conv2d_grayscale_image_matches_tensorflow(dtype, case):
    """conv2d(image2d (H, W), kernel2d (KH, KW)) returns a 2-D (H_out, W_out) map."""
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    result, repro = call_op(convops.conv2d, "conv2d", *args, **kwargs)
    assert result.ndim == 2, f"2-D input and kernel must give a 2-D map; got shape {result.shape}\n  {repro}"
    check_against(case, tf_answer(case), "TensorFlow")


@pytest.mark.tf
@given(case=conv2d_cases(dtypes=("int32",), styles=("normal",), layouts=("C",)), scale=st.integers(16, 30))
def test_conv2d_int32_wraps_like_tensorflow(case, scale):
    """Huge int32 values overflow: both sides wrap modulo 2**32 (addition is associative there, so
    any summation order agrees)."""
    rng = np.random.default_rng(case.seed)
    big = 2**scale
    x = rng.integers(-big, big, size=case.x.shape, dtype=np.int64).astype(np.int32)
    w = rng.integers(-big, big, size=case.w.shape, dtype=np.int64).astype(np.int32)
    case = ConvCase(x, w, case.strides, case.padding, case.dilations, case.data_format, spelled=case.spelled)
    check_against(case, tf_answer(case), "TensorFlow")


@given(case=conv2d_empty_cases())
@example(case=pinned((1, 2, 2, 1), (3, 3, 1, 1)))  # kernel larger than input
@example(case=pinned((2, 5, 5, 3), (3, 3, 3, 4), dilations=(3, 1)))  # the dilated span is too large
def test_conv2d_empty_output_matches_reference(case):
    """A kernel (or its dilated span) larger than the padded input gives an empty axis, not an error
    and not garbage (TF with oneDNN returns uninitialised memory here, so it is not the oracle)."""
    assert 0 in case.output_hw
    want = conv2d_reference(case.x, case.w, case.strides, case.explicit_padding, case.dilations)
    got, repro = run(case)
    assert got.shape == (case.x.shape[0], *case.output_hw, case.w.shape[3]), repro
    assert_exact(got, want, repro, "the reference")


@pytest.mark.tf
def test_conv2d_float16_is_computed_in_float32():
    """TF's CPU kernel accumulates half in float32 and rounds once; a half accumulator would round
    2048 + 1 + 1 down to 2048 (half has 11 significant bits)."""
    x = np.array([2048, 1, 1], dtype=np.float16).reshape(1, 1, 3, 1)
    w = np.ones((1, 3, 1, 1), dtype=np.float16)
    want = oracle.conv2d(x, w, (1, 1), "VALID", (1, 1))
    assert want.ravel()[0] == 2050, "TensorFlow's half conv is not float32-accumulated any more"
    got = convops.conv2d(x, w)
    assert got.dtype == np.float16 and got.ravel()[0] == 2050
