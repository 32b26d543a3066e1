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
from checks import (
    Repro,
    assert_exact,
    assert_within,
    call_op,
    central_differences,
    conv_bound,
    flush_subnormals,
    reduction_length,
    window_conv2d,
)
from convops import reference
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
    got = reference.conv2d(case.x, case.w, case.strides, case.explicit_padding, case.dilations)
    want = oracle.conv2d(case.x, case.w, case.strides, case.padding, case.dilations)
    call = _reference_call(
        "conv2d", case, strides=case.strides, padding=case.explicit_padding, dilations=case.dilations
    )
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
    got = reference.max_pool2d(case.x, case.ksize, case.strides, case.explicit_padding)
    want = oracle.max_pool2d(case.x, case.ksize, case.strides, case.padding)
    call = _reference_call("max_pool2d", case, ksize=case.ksize, strides=case.strides, padding=case.explicit_padding)
    assert_exact(got, want, call, "TensorFlow")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(image_2d=False, paddings=("VALID", "SAME"), **_CANONICAL))
def test_avg_pool2d_reference_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    got = reference.avg_pool2d(case.x, case.ksize, case.strides, case.explicit_padding)
    want = oracle.avg_pool2d(case.x, case.ksize, case.strides, case.padding)
    call = _reference_call("avg_pool2d", case, ksize=case.ksize, strides=case.strides, padding=case.explicit_padding)
    assert_exact(flush_subnormals(got), want, call, "TensorFlow (subnormals flushed)")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(layouts=("C",)))
def test_pad_reference_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    got = reference.pad(case.x, case.paddings, case.mode, case.constant_values)
    want = oracle.pad(case.x, case.paddings, case.mode, case.constant_values)
    assert_exact(
        got,
        want,
        _reference_call("pad", case, paddings=case.paddings, mode=case.mode, constant_values=case.constant_values),
        "TensorFlow",
    )


# --------------------------------------------------------------------------- convops vs reference


@pytest.mark.parametrize("dtype", CONV_DTYPES)
@given(case=conv2d_cases())
def test_conv2d_matches_reference(dtype, case):
    """Every option convops has (NCHW, spellings, layouts), with the reference as the oracle."""
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    result, repro = call_op(convops.conv2d, "conv2d", *args, **kwargs)
    got = case.to_nhwc(result)
    want = reference.conv2d(case.x, case.w, case.strides, case.explicit_padding, case.dilations)
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
    want = reference.max_pool2d(case.x, case.ksize, case.strides, case.explicit_padding)
    assert_exact(case.to_nhwc(result), want, repro, "the reference")


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES))
def test_avg_pool2d_matches_reference(dtype, count_include_pad, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    kwargs["count_include_pad"] = count_include_pad
    result, repro = call_op(convops.avg_pool2d, "avg_pool2d", *args, **kwargs)
    want = reference.avg_pool2d(case.x, case.ksize, case.strides, case.explicit_padding, count_include_pad)
    assert_exact(case.to_nhwc(result), want, repro, "the reference")


@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN")))
def test_pad_matches_reference(dtype, case):
    case = case.with_dtype(dtype)
    args, kwargs = case.convops_args()
    got, repro = call_op(convops.pad, "pad", *args, **kwargs)
    with np.errstate(invalid="ignore", over="ignore"):  # the mean of [inf, -inf] is NaN, quietly
        want = reference.pad(case.x, case.paddings, case.mode, case.constant_values)
    if case.mode.upper() == "MEAN" and case.x.dtype.kind == "f":
        # Both round a float64 mean (summed in different orders): one ulp of the dtype apart at most,
        # plus cancellation in float64 for float64 data.
        count = int(np.prod([s for s, p in zip(case.x.shape, case.paddings) if tuple(p) != (0, 0)]))
        with np.errstate(invalid="ignore", over="ignore"):
            absolute = reference.pad(np.abs(case.x.astype(np.float64)), case.paddings, "MEAN")
            bound = np.where(
                np.isfinite(want),
                np.spacing(np.abs(want)).astype(np.float64) + (count + 1) * np.finfo(np.float64).eps * absolute,
                0.0,
            )
        assert_within(got, want, bound, repro, "the reference")
    else:
        assert_exact(got, want, repro, "the reference")


# --------------------------------------------------------------------------- gradient references
#
# Each gradient reference against its fast twin in convops.gradients (Hypothesis, every geometry
# the canonical NHWC form allows), against tf.GradientTape on pinned cases, and the conv ones
# against central differences of a forward convolution.

GRAD_DTYPES = ("float16", "float32", "float64")


def _upstream(case, shape, dtype) -> np.ndarray:
    """A reproducible upstream gradient dL/dy of ``shape`` for ``case``."""
    return make_values(np.random.default_rng((case.seed or 0) + 1), shape, dtype, "normal")


def _conv_grad_bounds(case, dy, want_dx, want_dw):
    """:class:`checks.Tolerance` for (dx, dw): K = products summed per element (KH*KW*C_out/groups
    for dx, N*H_out*W_out for dw), magnitude = the same gradient of |filters|, |x|, |dy| in float64."""
    kh, kw, c_group, c_out = case.w.shape
    groups = case.x.shape[3] // c_group
    abs_x, abs_w, abs_dy = (np.abs(a).astype(np.float64) for a in (case.x, case.w, dy))
    mag_dx = convops.conv2d_backprop_input(
        case.x.shape, abs_w, abs_dy, case.strides, case.padding, dilations=case.dilations
    )
    mag_dw = convops.conv2d_backprop_filter(
        abs_x, case.w.shape, abs_dy, case.strides, case.padding, dilations=case.dilations
    )
    k_dx = kh * kw * (c_out // groups)
    k_dw = dy.shape[0] * dy.shape[1] * dy.shape[2]
    return (conv_bound(want_dx, mag_dx, k_dx, case.x.dtype), conv_bound(want_dw, mag_dw, k_dw, case.x.dtype))


def _grad_repro(name, *args, **kwargs) -> Repro:
    return Repro(name, args, kwargs, module="convops.reference")


@pytest.mark.parametrize("dtype", GRAD_DTYPES)
@given(case=conv2d_cases(dtypes=GRAD_DTYPES, **_CANONICAL))
def test_conv2d_gradient_references_match_convops(dtype, case):
    """Input and filter gradients (strides, dilations, SAME/VALID/explicit, groups) and the
    transposed convolution: convops within the tolerance table of the reference."""
    case = case.with_dtype(dtype)
    dy = _upstream(case, (case.x.shape[0], *case.output_hw, case.w.shape[3]), case.x.dtype)
    conv = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    want_dx = reference.conv2d_backprop_input(case.x.shape, case.w, dy, **conv)
    want_dw = reference.conv2d_backprop_filter(case.x, case.w.shape, dy, **conv)
    bound_dx, bound_dw = _conv_grad_bounds(case, dy, want_dx, want_dw)
    got_dx, repro = call_op(convops.conv2d_backprop_input, "conv2d_backprop_input", case.x.shape, case.w, dy, **conv)
    assert_within(got_dx, want_dx, bound_dx, repro, "conv2d_backprop_input", dtype=case.x.dtype)
    got_dw, repro = call_op(convops.conv2d_backprop_filter, "conv2d_backprop_filter", case.x, case.w.shape, dy, **conv)
    assert_within(got_dw, want_dw, bound_dw, repro, "conv2d_backprop_filter", dtype=case.x.dtype)
    # conv2d_transpose is the input gradient under TF's other name and argument order.
    want_t = reference.conv2d_transpose(dy, case.w, case.x.shape, **conv)
    got_t, repro = call_op(convops.conv2d_transpose, "conv2d_transpose", dy, case.w, case.x.shape, **conv)
    assert_within(got_t, want_t, bound_dx, repro, "conv2d_transpose", dtype=case.x.dtype)


@pytest.mark.parametrize("dtype", GRAD_DTYPES)
@given(case=pool2d_cases(dtypes=GRAD_DTYPES, image_2d=False, **_CANONICAL))
def test_max_pool2d_grad_reference_matches_convops(dtype, case):
    """Bit for bit, ties, NaN, ±inf and overlapping windows included (the value styles of
    pool2d_cases): the same cell chosen, the same additions in the same order."""
    case = case.with_dtype(dtype)
    dy = _upstream(case, (case.x.shape[0], *case.output_hw, case.x.shape[3]), case.x.dtype)
    want = reference.max_pool2d_grad(case.x, dy, case.ksize, case.strides, case.padding)
    got, repro = call_op(convops.max_pool2d_grad, "max_pool2d_grad", case.x, dy, case.ksize, case.strides, case.padding)
    assert_exact(got, want, repro, "max_pool2d_grad")


@pytest.mark.parametrize("include_batch_in_index", [False, True])
@given(case=pool2d_cases(image_2d=False, **_CANONICAL))
def test_max_pool2d_with_argmax_reference_matches_convops(include_batch_in_index, case):
    """Every dtype max-pooling has: the same values (the value *at* the argmax) and indices."""
    want_out, want_argmax = reference.max_pool2d_with_argmax(
        case.x, case.ksize, case.strides, case.padding, include_batch_in_index
    )
    (got_out, got_argmax), repro = call_op(
        convops.max_pool2d_with_argmax,
        "max_pool2d_with_argmax",
        case.x,
        case.ksize,
        case.strides,
        case.padding,
        include_batch_in_index=include_batch_in_index,
    )
    assert_exact(got_out, want_out, repro, "reference.max_pool2d_with_argmax (values)")
    assert_exact(got_argmax, want_argmax, repro, "reference.max_pool2d_with_argmax (argmax)")


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("dtype", GRAD_DTYPES)
@given(case=pool2d_cases(dtypes=GRAD_DTYPES, image_2d=False, **_CANONICAL))
def test_avg_pool2d_grad_reference_matches_convops(dtype, count_include_pad, case):
    """Bit for bit: the share 1/count rounded to the dtype, each cell adding its windows in order."""
    case = case.with_dtype(dtype)
    dy = _upstream(case, (case.x.shape[0], *case.output_hw, case.x.shape[3]), case.x.dtype)
    want = reference.avg_pool2d_grad(case.x.shape, dy, case.ksize, case.strides, case.padding, count_include_pad)
    got, repro = call_op(
        convops.avg_pool2d_grad,
        "avg_pool2d_grad",
        case.x.shape,
        dy,
        case.ksize,
        case.strides,
        case.padding,
        count_include_pad=count_include_pad,
    )
    assert_exact(got, want, repro, "avg_pool2d_grad")


@pytest.mark.parametrize("dtype", GRAD_DTYPES)
@given(
    case=pad_cases(
        dtypes=GRAD_DTYPES, modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"), layouts=("C",)
    )
)
def test_pad_grad_reference_matches_convops(dtype, case):
    """Every mode, any rank: bit for bit (the same copies added in the same order); MEAN within a
    few ulps (its border sums are ordered differently)."""
    case = case.with_dtype(dtype)
    shape = tuple(n + before + after for n, (before, after) in zip(case.x.shape, case.paddings))
    dy = _upstream(case, shape, case.x.dtype)
    want = reference.pad_grad(dy, case.paddings, case.spelled_mode)
    got, repro = call_op(convops.pad_grad, "pad_grad", dy, [list(p) for p in case.paddings], case.spelled_mode)
    if case.mode == "MEAN":
        count = int(np.prod([n for n, p in zip(case.x.shape, case.paddings) if tuple(p) != (0, 0)]))
        magnitude = reference.pad_grad(np.abs(dy.astype(np.float64)), case.paddings, "MEAN")
        eps = np.finfo(np.float32 if dtype == "float16" else dtype).eps
        bound = np.spacing(np.abs(want)).astype(np.float64) + (count + 2) * eps * magnitude
        assert_within(got, want, bound, repro, "pad_grad")
    else:
        assert_exact(got, want, repro, "pad_grad")


# --------------------------------------------------------------------------- no TF: finite differences


@given(case=conv2d_cases(dtypes=("float64",), max_kernel=3, max_dilation=2, max_groups=2, max_batch=1, **_CANONICAL))
def test_conv2d_gradient_references_are_finite_differences(case):
    """d/dx and d/dfilters of L = sum(conv2d(x, filters) * dy) by central differences in float64.
    The forward op differentiated is checks.window_conv2d (vectorised, so that the hundreds of
    evaluations stay fast), first checked equal to reference.conv2d, which is checked against TF."""
    pads, conv = case.explicit_padding, dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    x, w = case.x.copy(), case.w.copy()
    forward = reference.conv2d(x, w, case.strides, pads, case.dilations)
    assert np.allclose(window_conv2d(x, w, case.strides, pads, case.dilations), forward, rtol=1e-12, atol=1e-12)
    dy = _upstream(case, forward.shape, np.float64)
    dx = reference.conv2d_backprop_input(x.shape, w, dy, **conv)
    dw = reference.conv2d_backprop_filter(x, w.shape, dy, **conv)
    numeric_dx = central_differences(
        lambda v: float(np.sum(window_conv2d(v, w, case.strides, pads, case.dilations) * dy)), x, h=1e-5
    )
    numeric_dw = central_differences(
        lambda v: float(np.sum(window_conv2d(x, v, case.strides, pads, case.dilations) * dy)), w, h=1e-5
    )
    # L is linear in x and in w: central differences are exact up to rounding, ~1e-9 of the scale.
    scale = max(1.0, float(np.abs(dy).sum() * max(np.abs(w).max(), np.abs(x).max())))
    call = _grad_repro("conv2d_backprop_input", x.shape, w, dy, **conv)
    assert_within(dx, numeric_dx, np.full(dx.shape, 1e-8 * scale), call, "central differences")
    call = _grad_repro("conv2d_backprop_filter", x, w.shape, dy, **conv)
    assert_within(dw, numeric_dw, np.full(dw.shape, 1e-8 * scale), call, "central differences")


# --------------------------------------------------------------------------- gradient references vs TF


def _pinned_conv(x_shape, w_shape, **kwargs) -> ConvCase:
    """Small distinct integers (exact in float64), a float64 case."""
    x = (np.arange(np.prod(x_shape)) % 7 - 3).reshape(x_shape).astype(np.float64)
    w = (np.arange(np.prod(w_shape)) % 5 - 2).reshape(w_shape).astype(np.float64)
    return ConvCase(x, w, **kwargs)


# TF's CPU kernels cannot differentiate dilated or grouped convolutions with oneDNN off: those
# are covered by convops (above) and by finite differences.
_TF_CONV_CASES = [
    _pinned_conv((2, 5, 6, 2), (3, 3, 2, 3)),  # VALID, batch 2
    _pinned_conv((1, 8, 9, 1), (3, 3, 1, 2), strides=(2, 2)),  # VALID drops a row
    _pinned_conv((1, 5, 6, 2), (2, 4, 2, 1), strides=(2, 2), padding="SAME"),  # odd pad goes after
    _pinned_conv((1, 6, 5, 3), (3, 2, 3, 2), strides=(1, 2), padding=((2, 0), (1, 3))),
]


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _TF_CONV_CASES, ids=lambda c: f"{c.x.shape}-{c.w.shape}-{c.strides}-{c.padding}")
def test_conv2d_gradient_references_match_tensorflow(tf, dtype, case):
    """dL/dx and dL/dfilters of L = sum(conv2d(x, w) * dy) by tf.GradientTape, and
    tf.nn.conv2d_transpose, against the references."""
    case = case.with_dtype(dtype)
    dy = _upstream(case, (case.x.shape[0], *case.output_hw, case.w.shape[3]), case.x.dtype)
    x, w = tf.constant(case.x), tf.constant(case.w)
    pad = case.padding if isinstance(case.padding, str) else [[0, 0], *map(list, case.padding), [0, 0]]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        y = tf.nn.conv2d(x, w, strides=[1, *case.strides, 1], padding=pad)
    want_dx = tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()
    want_dw = tape.gradient(y, w, output_gradients=tf.constant(dy)).numpy()
    want_t = tf.nn.conv2d_transpose(tf.constant(dy), w, case.x.shape, [1, *case.strides, 1], pad).numpy()
    conv = dict(strides=case.strides, padding=case.padding)
    got_dx = reference.conv2d_backprop_input(case.x.shape, case.w, dy, **conv)
    got_dw = reference.conv2d_backprop_filter(case.x, case.w.shape, dy, **conv)
    got_t = reference.conv2d_transpose(dy, case.w, case.x.shape, **conv)
    bound_dx, bound_dw = _conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(
        got_dx,
        want_dx,
        bound_dx,
        _grad_repro("conv2d_backprop_input", case.x.shape, case.w, dy, **conv),
        "tf.GradientTape",
    )
    assert_within(
        got_dw,
        want_dw,
        bound_dw,
        _grad_repro("conv2d_backprop_filter", case.x, case.w.shape, dy, **conv),
        "tf.GradientTape",
    )
    assert_within(
        got_t,
        want_t,
        bound_dx,
        _grad_repro("conv2d_transpose", dy, case.w, case.x.shape, **conv),
        "tf.nn.conv2d_transpose",
    )


_POOL_IMAGE = np.array(
    [[1, 3, 2, 0, 4], [4, 6, 1, 6, 2], [0, 2, 5, 7, 1], [3, 6, 8, 2, 6], [2, 9, 0, 8, 5]], dtype=np.float64
)
_TF_POOL_CASES = [
    (_POOL_IMAGE[:4, :4], (2, 2), (2, 2), "VALID"),  # disjoint windows
    (_POOL_IMAGE, (3, 3), (2, 2), "VALID"),  # overlapping windows share a maximum
    (_POOL_IMAGE, (3, 3), (1, 1), "SAME"),  # heavy overlap, border windows
    (-1 - _POOL_IMAGE[:, :4], (2, 2), (2, 2), "SAME"),  # all negative: padding never wins
    (np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], np.float64), (2, 2), (1, 1), "VALID"),  # ties
    (np.array([[np.nan, 3, 1], [4, np.nan, 2], [-np.inf, 5, 0]]), (2, 2), (1, 1), "VALID"),  # NaN
]


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("image, ksize, strides, padding", _TF_POOL_CASES)
def test_pool_gradient_references_match_tensorflow(tf, dtype, image, ksize, strides, padding):
    """Max-pool (ties, NaN, overlap) and avg-pool gradients by tf.GradientTape, and
    tf.nn.max_pool_with_argmax: bit for bit."""
    x_np = np.stack([image, image[::-1, ::-1]], axis=-1)[None].astype(dtype)  # 2 channels
    x = tf.constant(x_np)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_max = tf.nn.max_pool2d(x, [1, *ksize, 1], [1, *strides, 1], padding)
        y_avg = tf.nn.avg_pool2d(x, [1, *ksize, 1], [1, *strides, 1], padding)
    dy = np.random.default_rng(4).uniform(-2, 2, y_max.shape).astype(dtype)
    want_max = tape.gradient(y_max, x, output_gradients=tf.constant(dy)).numpy()
    want_avg = tape.gradient(y_avg, x, output_gradients=tf.constant(dy)).numpy()
    args = (ksize, strides, padding)
    assert_exact(
        reference.max_pool2d_grad(x_np, dy, *args),
        want_max,
        _grad_repro("max_pool2d_grad", x_np, dy, *args),
        "tf.GradientTape",
    )
    if not np.isnan(x_np).any():  # avg-pool propagates NaN: nothing to compare in that case
        assert_exact(
            reference.avg_pool2d_grad(x_np.shape, dy, *args),
            want_avg,
            _grad_repro("avg_pool2d_grad", x_np.shape, dy, *args),
            "tf.GradientTape",
        )
    if padding == "VALID" or not np.isnan(x_np).any():
        want_out, want_argmax = tf.nn.max_pool_with_argmax(x, [1, *ksize, 1], [1, *strides, 1], padding)
        got_out, got_argmax = reference.max_pool2d_with_argmax(x_np, *args)
        call = _grad_repro("max_pool2d_with_argmax", x_np, *args)
        assert_exact(got_argmax, want_argmax.numpy(), call, "tf.nn.max_pool_with_argmax")
        assert_exact(got_out, want_out.numpy(), call, "tf.nn.max_pool_with_argmax")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
@pytest.mark.parametrize("paddings", [[(2, 1)], [(1, 2), (2, 0)], [(0, 0), (2, 2), (1, 2), (0, 1)]])
def test_pad_grad_reference_matches_tensorflow(tf, dtype, mode, paddings):
    """tf.pad's modes by tf.GradientTape (a slice's gradient for CONSTANT, MirrorPadGrad for the
    mirrors): bit for bit, ranks 1, 2 and 4."""
    shape = {1: (5,), 2: (5, 4), 4: (2, 4, 3, 3)}[len(paddings)]
    x = tf.constant(np.zeros(shape, dtype))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.pad(x, [list(p) for p in paddings], mode=mode)
    dy = np.random.default_rng(len(paddings)).uniform(-2, 2, y.shape).astype(dtype)
    want = tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()
    got = reference.pad_grad(dy, paddings, mode)
    assert_exact(got, want, _grad_repro("pad_grad", dy, paddings, mode), "tf.GradientTape")


# --------------------------------------------------------------------------- names


def test_every_op_and_gradient_has_a_reference_named_after_it():
    """``reference.<op>`` for every public op and gradient of convops (TF's names), each with
    its formula's Parameters and Returns documented; the old ``<op>_reference`` names are the
    same functions."""
    ops = [
        "conv2d",
        "max_pool2d",
        "avg_pool2d",
        "pad",
        "conv2d_backprop_input",
        "conv2d_backprop_filter",
        "conv2d_transpose",
        "max_pool2d_grad",
        "max_pool2d_with_argmax",
        "avg_pool2d_grad",
        "pad_grad",
    ]
    assert sorted(reference.__all__) == sorted(ops)
    for op in ops:
        assert callable(getattr(convops, op)), f"convops.{op} is not a public op"
        function = getattr(reference, op)
        assert function.__name__ == op
        assert getattr(reference, f"{op}_reference") is function
        assert "Parameters\n" in function.__doc__ and "Returns\n" in function.__doc__, op
