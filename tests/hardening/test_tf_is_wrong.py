"""Where TensorFlow is wrong, convops is tested against a better oracle, never against TF.

Every place convops knowingly gives another answer than TensorFlow 2.21 (CPU), why, and where
the test is:

* **Gradients of a convolution whose output is empty** (the kernel larger than the padded input,
  a zero batch, zero output channels, a zero height or width): nothing flows back, so the input
  and filter gradients are zeros of the right shape. TF's ``Conv2DBackpropInput`` /
  ``Conv2DBackpropFilter`` there crash the process or return NaN and uninitialised memory. This
  file: the NumPy reference (``convops.reference``) and exact ``+0.0`` zeros by definition, under
  every forced method and ISA; TF is never called on these shapes. Also the pool gradients of an
  empty pool output (a window larger than the input, zero batch, channels, height or width).
* **avg-pool gradient of a SAME window wider than the input**: TF's ``AvgPoolGrad`` differs from
  the derivative of its own ``avg_pool2d`` on some such geometries (a 5-row window on 4 rows);
  convops is right. tests/test_pool_grad.py, ``test_avg_pool2d_grad_of_windows_wider_than_the_input``
  (the reference bit for bit and float64 central differences).
* **Empty forward outputs with oneDNN on** (TF's default): ``conv2d(VALID)`` with a kernel larger
  than the input returns uninitialised memory, ``max_pool2d`` of a window larger than the input
  dies of SIGFPE. convops returns the empty array (TF with oneDNN off agrees): the oracle runs with
  oneDNN off (tests/oracle.py); the reference in tests/test_reference.py.
* **Subnormal results**: TF's float32/64 kernels flush them to zero; convops keeps IEEE gradual
  underflow. tests/test_pool.py and tests/test_conv.py compare after flushing convops' subnormals,
  and with the reference exactly. The gradients too: TF's AvgPoolGrad hands a window of 3 cells
  ``0, 0, 0`` for an upstream 3e-38 (float32); convops the true share, 1e-38 (this file, below).
* **float16 avg-pool over more than 2048 cells**: TF counts the cells in float16, which stops at
  2048, so the mean is wrong; convops divides by the true count. tests/test_pool.py (reference,
  and a canary that pins TF's behaviour).
* **pad with a -0.0 constant**: ``tf.pad`` writes +0.0; convops keeps -0.0, as NumPy and PyTorch
  do. tests/hardening/test_signed_zeros.py (against ``np.pad``).
* **Gradients TF cannot take on CPU** (dilated conv with oneDNN off or in float64, grouped conv):
  convops computes them; tests/test_conv_grad.py differentiates TF-differentiable equivalents.
* **Extensions TF lacks** (``count_include_pad``, explicit avg-pool padding, EDGE/CIRCULAR/MEAN
  pad): tested against TF constructions, ``np.pad`` and their definitions (tests/README.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import convops
import tf_rules
from checks import assert_exact, format_call
from convops import reference
from convops._kernels import pool as _pool_kernels
from convops._kernels import simd
from convops.dispatch import METHODS, force

FLOATS = ("float16", "float32", "float64")
KINDS = ("kernel larger than the padded input", "zero batch", "zero output channels", "zero height", "zero width")


def _axis_out(size, k, s, padding, axis, d=1):
    """TF's output extent along one axis (tests/tf_rules.py, independent of convops)."""
    if padding == "SAME":
        return tf_rules.same_output_size(size, s)
    pads = (0, 0) if padding == "VALID" else padding[axis]
    return tf_rules.output_size(size, k, s, pads, d)


def _values(draw, shape, dtype):
    """Any values, NaN and ±inf included: no product of them reaches an empty output's gradient."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    x = rng.uniform(-4, 4, shape)
    if x.size:
        x.flat[rng.integers(0, x.size, 2)] = rng.choice([np.nan, np.inf, -np.inf], 2)
    return x.astype(dtype)


@st.composite
def empty_conv_cases(draw):
    """(x, filters, strides, padding, dilations, kind) whose conv2d output has no element."""
    kind = draw(st.sampled_from(KINDS), label="kind")
    n, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    groups, c_group = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["SAME", "VALID", "explicit"]))
    if padding == "explicit":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
    if kind == "kernel larger than the padded input":
        padding = "VALID" if padding == "SAME" else padding  # SAME never empties a non-empty axis
        extra = 0 if padding == "VALID" else sum(padding[0])
        kh = max(kh, (h + extra - 1) // dilations[0] + 2)  # the span (kh - 1) * d + 1 > h + pads
    elif kind == "zero batch":
        n = 0
    elif kind == "zero output channels":
        c_out = 0
    elif kind == "zero height":
        h, padding = 0, padding if isinstance(padding, str) else "VALID"  # explicit pads could fill the kernel
    else:
        w, padding = 0, padding if isinstance(padding, str) else "VALID"
    x = _values(draw, (n, h, w, groups * c_group), draw(st.sampled_from(FLOATS), label="dtype"))
    filters = _values(draw, (kh, kw, c_group, groups * c_out), x.dtype)
    out_hw = tuple(_axis_out(x.shape[1 + a], filters.shape[a], strides[a], padding, a, dilations[a]) for a in (0, 1))
    out_shape = (n, *out_hw, groups * c_out)
    assert 0 in out_shape, (kind, x.shape, filters.shape, strides, padding, dilations, out_shape)
    return x, filters, strides, padding, dilations, out_shape, kind


def _filter_isas():
    return (None, *simd.supported_isas())


@given(case=empty_conv_cases())
@example(
    case=(
        np.ones((2, 2, 3, 1), np.float32),
        np.ones((3, 3, 1, 4), np.float32),
        (1, 1),
        "VALID",
        (1, 1),
        (2, 0, 1, 4),
        "pinned: a 3x3 kernel on a 2x3 image",
    )
)
def test_conv2d_gradients_of_an_empty_output_are_zeros_on_every_path(case):
    """conv2d_backprop_input, conv2d_backprop_filter and conv2d_transpose of an empty dy: zeros
    (+0.0) of the input's / filters' shape, as the reference, under every method and ISA."""
    x, filters, strides, padding, dilations, out_shape, kind = case
    dy = np.empty(out_shape, x.dtype)
    kwargs = {"strides": strides, "padding": padding, "dilations": dilations}
    want_dx = reference.conv2d_backprop_input(x.shape, filters, dy, **kwargs)
    want_dw = reference.conv2d_backprop_filter(x, filters.shape, dy, **kwargs)
    for want, zeros_of in ((want_dx, x), (want_dw, filters)):  # the reference is itself the definition
        assert_exact(want, np.zeros(zeros_of.shape, x.dtype), f"reference for {kind}", "zeros")
    for method in (None, *METHODS["conv2d_backprop_input"]):
        for isa in _filter_isas():
            methods = {"conv2d_backprop_input": method, "conv2d_backprop_filter": method} if method else {}
            with force(isa=isa, **methods):
                dx = convops.conv2d_backprop_input(x.shape, filters, dy, **kwargs)
                dw = convops.conv2d_backprop_filter(x, filters.shape, dy, **kwargs)
            tag = f"  [{kind}; method {method}, isa {isa}]"
            assert_exact(dx, want_dx, format_call("conv2d_backprop_input", x.shape, filters, dy, **kwargs) + tag)
            assert_exact(dw, want_dw, format_call("conv2d_backprop_filter", x, filters.shape, dy, **kwargs) + tag)
    if filters.shape[2] == x.shape[3]:  # conv2d_transpose: no groups; filters (KH, KW, C_out, C_in)
        got = convops.conv2d_transpose(dy, filters, x.shape, strides, padding, dilations=dilations)
        want = reference.conv2d_transpose(dy, filters, x.shape, strides, padding, dilations)
        call = format_call("conv2d_transpose", dy, filters, x.shape, strides, padding, dilations=dilations)
        assert_exact(want, np.zeros(x.shape, x.dtype), call, "zeros")
        assert_exact(got, want, call, "reference.conv2d_transpose")


@st.composite
def empty_pool_cases(draw):
    """(x, ksize, strides, padding, out_shape, kind) whose pool output has no element."""
    kind = draw(st.sampled_from(("window larger than the input", *KINDS[1:])), label="kind")
    n, c = draw(st.integers(1, 2)), draw(st.sampled_from([1, 3, 17]))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ksize = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    if kind == "window larger than the input":
        padding, ksize = "VALID", (max(ksize[0], h + 1), ksize[1])
    elif kind == "zero batch":
        n = 0
    elif kind == "zero output channels":
        c = 0
    elif kind == "zero height":
        h = 0
    else:
        w = 0
    x = _values(draw, (n, h, w, c), draw(st.sampled_from(FLOATS[1:]), label="dtype"))
    out_shape = (n, *(_axis_out(x.shape[1 + a], ksize[a], strides[a], padding, a) for a in (0, 1)), c)
    assert 0 in out_shape, (kind, x.shape, ksize, strides, padding, out_shape)
    return x, ksize, strides, padding, out_shape, kind


@given(case=empty_pool_cases())
def test_pool_gradients_of_an_empty_output_are_zeros_in_every_variant(case):
    """max_pool2d_grad, avg_pool2d_grad (both loops, with and without count_include_pad) and
    max_pool2d_with_argmax of an empty pool output: zeros / empty arrays, as the reference."""
    x, ksize, strides, padding, out_shape, kind = case
    dy = np.empty(out_shape, x.dtype)
    zeros = np.zeros(x.shape, x.dtype)
    want_max = reference.max_pool2d_grad(x, dy, ksize, strides, padding)
    assert_exact(want_max, zeros, f"reference.max_pool2d_grad for {kind}", "zeros")
    for variant in (None, *_pool_kernels.variants()):
        with force(isa=variant):
            got = convops.max_pool2d_grad(x, dy, ksize, strides, padding)
            out, argmax = convops.max_pool2d_with_argmax(x, ksize, strides, padding)
        call = format_call("max_pool2d_grad", x, dy, ksize, strides, padding) + f"  [{kind}; isa {variant}]"
        assert_exact(got, want_max, call, "reference.max_pool2d_grad")
        assert out.shape == argmax.shape == out_shape, call
        for method in METHODS["avg_pool2d_grad"]:
            for include in (False, True):
                want = reference.avg_pool2d_grad(x.shape, dy, ksize, strides, padding, include)
                with force(isa=variant, avg_pool2d_grad=method):
                    got = convops.avg_pool2d_grad(x.shape, dy, ksize, strides, padding, count_include_pad=include)
                call = format_call("avg_pool2d_grad", x.shape, dy, ksize, strides, padding, count_include_pad=include)
                assert_exact(want, zeros, call, "zeros")
                assert_exact(got, want, f"{call}  [{kind}; isa {variant}, {method}]", "reference.avg_pool2d_grad")


def test_zero_input_channels_are_refused_by_name():
    """No input channels is not an empty output (conv2d of nothing is zeros of C_out channels);
    convops refuses it, naming the argument, rather than guess a group count."""
    with pytest.raises(ValueError, match=r"`filters` must have KH, KW and in-channels >= 1"):
        convops.conv2d_backprop_input(
            (1, 4, 4, 0), np.ones((3, 3, 0, 2), np.float32), np.ones((1, 2, 2, 2), np.float32)
        )
    with pytest.raises(ValueError, match=r"`filter_sizes` must have KH, KW and in-channels >= 1"):
        convops.conv2d_backprop_filter(
            np.ones((1, 4, 4, 0), np.float32), (3, 3, 0, 2), np.ones((1, 2, 2, 2), np.float32)
        )


@pytest.mark.parametrize("dtype, tiny", [("float32", 3e-38), ("float64", 3e-308)])
def test_avg_pool2d_grad_keeps_subnormal_shares(dtype, tiny):
    """TF flushes the share ``dy / count`` to zero when it is subnormal; the derivative is the
    share itself. Oracles: the reference and the share computed in float64 and rounded once."""
    dy = np.full((1, 1, 1, 1), tiny, dtype)
    args = ((1, 3), (1, 1), "VALID")
    want = reference.avg_pool2d_grad((1, 1, 3, 1), dy, *args)
    share = np.asarray(np.float64(dy.item()) / 3).astype(dtype)
    assert_exact(want, np.full((1, 1, 3, 1), share, dtype), "reference.avg_pool2d_grad", "dy / 3")
    assert 0 < abs(share) < np.finfo(dtype).tiny  # subnormal: where TF gives 0
    for method in METHODS["avg_pool2d_grad"]:
        with force(avg_pool2d_grad=method):
            got = convops.avg_pool2d_grad((1, 1, 3, 1), dy, *args)
        assert_exact(got, want, format_call("avg_pool2d_grad", (1, 1, 3, 1), dy, *args) + f"  [{method}]")
