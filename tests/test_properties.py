"""Properties that need no oracle: identities every correct implementation satisfies.

* SAME is exactly its explicit padding (convops.arithmetic.same_padding);
* a dilated kernel is the kernel with zeros inserted between its taps;
* conv2d is linear in the filters, and batch images are independent;
* NCHW is NHWC transposed; a 2-D image is a 1-image, 1-channel batch;
* pooling commutes with exact shifts and scalings;
* padding then cropping gives the input back;
* results are bit-identical for any thread count and any memory layout of the inputs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convops
from checks import assert_bits_equal, assert_exact, assert_within, call_op, conv_bound, reduction_length, window_conv2d
from checks import repro as repro_call
from convops.arithmetic import same_padding
from strategies import (
    AVG_POOL_DTYPES,
    CONV_DTYPES,
    MAX_POOL_DTYPES,
    PAD_DTYPES,
    ConvCase,
    conv2d_cases,
    make_values,
    pad_cases,
    pool2d_cases,
)

_PLAIN = dict(data_formats=("NHWC",), layouts=("C",), spell=False)


def _float_bound(case: ConvCase, want: np.ndarray, scale: float = 1.0) -> np.ndarray:
    magnitude = window_conv2d(np.abs(case.x), np.abs(case.w), case.strides, case.explicit_padding, case.dilations)
    return conv_bound(want, scale * magnitude, reduction_length(case.w.shape), case.x.dtype)


# --------------------------------------------------------------------------- SAME == explicit


@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases(paddings=("SAME",), **_PLAIN))
def test_conv2d_same_is_its_explicit_padding(dtype, case):
    case = case.with_dtype(dtype)
    (sh, sw), (dh, dw) = case.strides, case.dilations
    explicit = (
        same_padding(case.x.shape[1], case.w.shape[0], sh, dh),
        same_padding(case.x.shape[2], case.w.shape[1], sw, dw),
    )
    same, repro = call_op(
        convops.conv2d, "conv2d", case.x, case.w, strides=case.strides, padding="SAME", dilations=case.dilations
    )
    padded = convops.conv2d(case.x, case.w, strides=case.strides, padding=explicit, dilations=case.dilations)
    assert_exact(same, padded, repro, f"the same call with padding={explicit}")


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES, paddings=("SAME",), image_2d=False, **_PLAIN))
def test_pools_same_is_their_explicit_padding(op, case):
    """SAME pads are always smaller than the window, so explicit pooling accepts them."""
    (kh, kw), (sh, sw) = case.ksize, case.strides
    explicit = (same_padding(case.x.shape[1], kh, sh), same_padding(case.x.shape[2], kw, sw))
    function = getattr(convops, op)
    same, repro = call_op(function, op, case.x, case.ksize, case.strides, "SAME")
    assert_exact(
        same, function(case.x, case.ksize, case.strides, explicit), repro, f"the same call with padding={explicit}"
    )


# --------------------------------------------------------------------------- dilation, linearity


def _dilate(w: np.ndarray, dh: int, dw: int) -> np.ndarray:
    kh, kw = w.shape[:2]
    wide = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1, *w.shape[2:]), dtype=w.dtype)
    wide[::dh, ::dw] = w
    return wide


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@given(case=conv2d_cases(**_PLAIN))
def test_dilated_kernel_is_zero_inserted_kernel(dtype, case):
    case = case.with_dtype(dtype)
    (dh, dw) = case.dilations
    got, repro = call_op(
        convops.conv2d, "conv2d", case.x, case.w, strides=case.strides, padding=case.padding, dilations=case.dilations
    )
    wide = _dilate(case.w, dh, dw)
    # SAME depends only on the span (k - 1) * d + 1, which the zero-inserted kernel keeps.
    want = convops.conv2d(case.x, wide, strides=case.strides, padding=case.padding)
    if case.x.dtype.kind in "iu":
        assert_exact(got, want, repro, "conv2d with the zero-inserted kernel")
    else:
        # The wide kernel sums more (zero) products in another order: the usual bound, with K of it.
        magnitude = window_conv2d(np.abs(case.x), np.abs(case.w), case.strides, case.explicit_padding, case.dilations)
        bound = conv_bound(want, magnitude, reduction_length(wide.shape), case.x.dtype)
        assert_within(got, want, bound, repro, "conv2d with the zero-inserted kernel")


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@given(case=conv2d_cases(**_PLAIN), a=st.integers(-3, 3), b=st.integers(-3, 3))
def test_conv2d_is_linear_in_the_filters(dtype, case, a, b):
    """conv(x, a*w1 + b*w2) == a*conv(x, w1) + b*conv(x, w2): exact for int32 (wrapping arithmetic
    is a ring), within the product bound for float64."""
    case = case.with_dtype(dtype)
    rng = np.random.default_rng(case.seed)
    w2 = make_values(rng, case.w.shape, case.x.dtype, "normal")
    kwargs = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    mixed = (a * case.w + b * w2).astype(case.x.dtype)
    got, repro = call_op(convops.conv2d, "conv2d", case.x, mixed, **kwargs)
    want = (a * convops.conv2d(case.x, case.w, **kwargs) + b * convops.conv2d(case.x, w2, **kwargs)).astype(got.dtype)
    if case.x.dtype.kind in "iu":
        assert_exact(got, want, repro, "a*conv(x, w1) + b*conv(x, w2)")
    else:
        magnitude = window_conv2d(
            np.abs(case.x),
            abs(a) * np.abs(case.w) + abs(b) * np.abs(w2),
            case.strides,
            case.explicit_padding,
            case.dilations,
        )
        bound = 3 * conv_bound(want, magnitude, reduction_length(case.w.shape), case.x.dtype)
        assert_within(got, want, bound, repro, "a*conv(x, w1) + b*conv(x, w2)")


@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases(**_PLAIN))
def test_conv2d_batch_images_are_independent(dtype, case):
    """Each image of a batch gives the result it gives alone."""
    case = case.with_dtype(dtype)
    kwargs = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    batch, repro = call_op(convops.conv2d, "conv2d", case.x, case.w, **kwargs)
    alone = np.concatenate([convops.conv2d(case.x[i : i + 1], case.w, **kwargs) for i in range(case.x.shape[0])])
    if case.x.dtype.kind in "iu":
        assert_exact(batch, alone, repro, "the images one at a time")
    else:
        assert_within(batch, alone, _float_bound(case, alone), repro, "the images one at a time")


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases(**_PLAIN))
def test_conv2d_nchw_is_nhwc_transposed(dtype, case):
    case = case.with_dtype(dtype)
    kwargs = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    nhwc = convops.conv2d(case.x, case.w, **kwargs)
    nchw, repro = call_op(
        convops.conv2d,
        "conv2d",
        np.ascontiguousarray(case.x.transpose(0, 3, 1, 2)),
        case.w,
        data_format="NCHW",
        **kwargs,
    )
    assert_exact(nchw, np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)), repro, "the NHWC result transposed")


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES, image_2d=False, **_PLAIN))
def test_pools_nchw_is_nhwc_transposed(op, case):
    function = getattr(convops, op)
    nhwc = function(case.x, case.ksize, case.strides, case.padding)
    nchw, repro = call_op(
        function,
        op,
        np.ascontiguousarray(case.x.transpose(0, 3, 1, 2)),
        case.ksize,
        case.strides,
        case.padding,
        data_format="NCHW",
    )
    assert_exact(nchw, nhwc.transpose(0, 3, 1, 2), repro, "the NHWC result transposed")


@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases(max_groups=1, **_PLAIN))
def test_conv2d_grayscale_is_a_one_image_one_channel_batch(dtype, case):
    case = case.with_dtype(dtype)
    x, w = case.x[:1, :, :, :1], case.w[:, :, :1, :1]
    kwargs = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    flat, repro = call_op(convops.conv2d, "conv2d", x[0, :, :, 0], w[:, :, 0, 0], **kwargs)
    assert_exact(flat, convops.conv2d(x, w, **kwargs)[0, :, :, 0], repro, "the 4-D call")


# --------------------------------------------------------------------------- pooling algebra


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16"])
@given(case=pool2d_cases(styles=("normal", "ties"), **_PLAIN), shift=st.integers(-20, 20))
def test_max_pool2d_commutes_with_shifts(dtype, case, shift):
    """max(x + c) = max(x) + c (values are small, so no wrap-around)."""
    case = case.with_dtype(dtype)
    if case.x.dtype.kind == "u":
        shift = abs(shift)
    shifted = (case.x.astype(np.int64) + shift).astype(case.x.dtype)
    got, repro = call_op(convops.max_pool2d, "max_pool2d", shifted, case.ksize, case.strides, case.padding)
    base = convops.max_pool2d(case.x, case.ksize, case.strides, case.padding)
    assert_exact(got, (base.astype(np.int64) + shift).astype(case.x.dtype), repro, f"max_pool2d(x) + {shift}")


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES, styles=("ties", "negative"), **_PLAIN), power=st.integers(-3, 3))
def test_pools_commute_with_powers_of_two(op, case, power):
    """Scaling by 2**p is exact in floating point (no overflow or underflow at these sizes), so
    pooling 2**p * x is exactly 2**p times pooling x — including the average's divisions."""
    function = getattr(convops, op)
    scale = case.x.dtype.type(2.0**power)
    got, repro = call_op(function, op, case.x * scale, case.ksize, case.strides, case.padding)
    assert_exact(got, function(case.x, case.ksize, case.strides, case.padding) * scale, repro, f"{op}(x) * 2**{power}")


@given(case=pool2d_cases(dtypes=MAX_POOL_DTYPES, styles=("normal", "ties", "negative", "extremes"), **_PLAIN))
def test_max_pool2d_picks_an_element_of_each_window(case):
    """Every max-pool output is the largest input value of its window (padding never wins), or the
    dtype's lowest finite value when the window holds only -inf."""
    out = convops.max_pool2d(case.x, case.ksize, case.strides, case.padding)
    lowest = np.finfo(case.x.dtype).min if case.x.dtype.kind == "f" else np.iinfo(case.x.dtype).min
    (top, _), (left, _) = case.explicit_padding
    (kh, kw), (sh, sw) = case.ksize, case.strides
    for y in range(out.shape[1]):
        for x_ in range(out.shape[2]):
            y0, x0 = y * sh - top, x_ * sw - left
            window = case.x[:, max(y0, 0) : y0 + kh, max(x0, 0) : x0 + kw, :].reshape(
                case.x.shape[0], -1, case.x.shape[3]
            )
            call = repro_call("max_pool2d", case.x, case.ksize, case.strides, case.padding)
            want = np.maximum(window.max(axis=1), lowest)
            assert np.all(out[:, y, x_, :] == want), f"window ({y}, {x_})\n  reproduce: {call}"


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"), layouts=("C",)))
def test_crop_after_pad_is_the_input(dtype, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    out, repro = call_op(convops.pad, "pad", *args, **kwargs)
    assert out.shape == tuple(s + a + b for s, (a, b) in zip(case.x.shape, case.paddings)), repro
    interior = tuple(slice(a, a + s) for s, (a, _) in zip(case.x.shape, case.paddings))
    assert_bits_equal(out[interior], case.x, repro, "the input (interior of the padded array)")


# --------------------------------------------------------------------------- threads

_THREAD_COUNTS = (1, 2, 3)


def _needs_openmp():
    # Without OpenMP every thread count runs serially and the property holds trivially; on CI
    # the extensions must have been built with OpenMP, so there this is a failure.
    if not convops.openmp_enabled():
        import os

        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("convops was built without OpenMP on CI: the thread-count property cannot be tested")
        pytest.skip("convops was built without OpenMP")


def _by_threads(function, *args, **kwargs):
    results = []
    for count in _THREAD_COUNTS:
        with convops.num_threads(count):
            results.append(function(*args, **kwargs))
    return results


# float16 is left out: its conv runs the float32 kernel, its avg-pool is NumPy code without threads.
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@given(
    seed=st.integers(0, 2**32 - 1),
    side=st.integers(19, 25),
    groups=st.integers(1, 2),
    kh=st.integers(2, 3),
    kw=st.integers(2, 3),
    d=st.integers(1, 2),
    padding=st.sampled_from(["SAME", "VALID"]),
    n=st.integers(3, 5),
)
def test_conv2d_is_identical_for_any_thread_count(dtype, seed, side, groups, kh, kw, d, padding, n):
    """Inputs just large enough (patch rows x K >= 32768: >= 3 images, K >= 32) that the kernels
    really split the work between threads. Odd batches and sides too: with an even number of
    rows every thread count splits evenly, and a split that dropped the last chunk would pass."""
    _needs_openmp()
    rng = np.random.default_rng(seed)
    x = make_values(rng, (n, side, side + 3, groups * 8), np.dtype(dtype), "normal")
    w = make_values(rng, (kh, kw, 8, 2 * groups), np.dtype(dtype), "normal")
    kwargs = dict(padding=padding, dilations=d)
    one, *others = _by_threads(convops.conv2d, x, w, **kwargs)
    for count, other in zip(_THREAD_COUNTS[1:], others):
        assert_bits_equal(other, one, repro_call("conv2d", x, w, **kwargs), f"the 1-thread result ({count} threads)")


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d", "pad"])
@given(
    seed=st.integers(0, 2**32 - 1),
    side=st.integers(24, 31),
    k=st.integers(2, 4),
    s=st.integers(1, 2),
    dtype=st.sampled_from(["float32", "float64"]),
    n=st.integers(3, 5),
)
def test_pool_and_pad_are_identical_for_any_thread_count(op, seed, side, k, s, dtype, n):
    """Pools: N*H_out*W_out*KH*KW*C >= 32768; pad: >= 256 KiB of output (the kernels' thresholds).
    Odd batches and rows as well as even ones (see the conv2d property)."""
    _needs_openmp()
    channels = 16 if op == "pad" else 8
    x = make_values(np.random.default_rng(seed), (n, side, side + 1, channels), np.dtype(dtype), "ties")
    if op == "pad":
        args, kwargs = (x, [[0, 0], [k, 1], [1, k], [0, 0]]), {"mode": "REFLECT"}
    else:
        args, kwargs = (x, k, s), {"padding": "SAME"}
    function = getattr(convops, op)
    one, *others = _by_threads(function, *args, **kwargs)
    for count, other in zip(_THREAD_COUNTS[1:], others):
        assert_bits_equal(other, one, repro_call(op, *args, **kwargs), f"the 1-thread result ({count} threads)")


# --------------------------------------------------------------------------- memory layout


@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases())
def test_conv2d_result_does_not_depend_on_memory_layout(dtype, case):
    """Fortran order, negative or gapped strides, read-only arrays and lists give the very bits that
    a C-contiguous array gives (the kernels copy to C order; nothing may depend on the layout)."""
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    got, call = call_op(convops.conv2d, "conv2d", *args, **kwargs)
    plain_args, _ = replace(case, layout="C", filter_layout="C").convops_args()
    assert_bits_equal(got, convops.conv2d(*plain_args, **kwargs), call, "the C-contiguous call")


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES))
def test_pools_result_does_not_depend_on_memory_layout(op, case):
    args, kwargs = case.convops_args()
    function = getattr(convops, op)
    got, call = call_op(function, op, *args, **kwargs)
    plain_args, _ = replace(case, layout="C").convops_args()
    assert_bits_equal(got, function(*plain_args, **kwargs), call, "the C-contiguous call")


@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN")))
def test_pad_result_does_not_depend_on_memory_layout(dtype, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    got, call = call_op(convops.pad, "pad", *args, **kwargs)
    plain_args, _ = replace(case, layout="C").convops_args()
    with np.errstate(invalid="ignore"):
        assert_bits_equal(got, convops.pad(*plain_args, **kwargs), call, "the C-contiguous call")
