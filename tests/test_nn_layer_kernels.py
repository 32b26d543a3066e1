"""The layers' own compiled paths, bit for bit:

* MaxPooling2D's training pass against TensorFlow: ``tf.nn.max_pool2d`` forward and its
  ``tf.GradientTape`` gradient (TF's MaxPoolGrad), for windows that do not overlap (the layer's
  one-byte positions) and windows that do (the general argmax and scatter), with ties, signed
  zeros, NaN, infinities and the dtype's lowest value, at one and two threads.
* Conv2D, which skips the public ops' argument checks, against those ops (conv2d and its
  gradients, themselves compared with TensorFlow in tests/test_conv*.py).
* Conv2D's bias and ReLU, applied by the direct kernel as it stores each sum, against the
  kernel's plain sums followed by the layer's separate pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convops
import oracle
from convops._kernels import load
from convops.dispatch import force
from convops.nn import layers

# Every variant of the 2x2 forward: "cython" (the Cython loop) and each SIMD copy this CPU runs.
POOL_ISAS = load("pool").variants()


def tf_pool_and_grad(x: np.ndarray, pool: tuple[int, int], strides: tuple[int, int], padding: str, dy: np.ndarray):
    tf = oracle.load()
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        y = tf.nn.max_pool2d(tx, [1, *pool, 1], [1, *strides, 1], padding.upper())
    return y.numpy(), tape.gradient(y, tx, output_gradients=tf.constant(dy)).numpy()


def special_values(dtype: np.dtype) -> list[float]:
    lowest = float(np.finfo(dtype).min)
    return [0.0, -0.0, 1.0, 1.0, 2.0, -1.0, np.inf, -np.inf, np.nan, lowest]


@st.composite
def pool_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64"])))
    pool = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    # Mostly strides >= pool (windows apart: the one-byte positions), sometimes smaller (overlap).
    if draw(st.booleans()):
        pool = (2, 2)  # the SIMD copies' windows
    strides = (draw(st.integers(max(1, pool[0] - 1), 4)), draw(st.integers(max(1, pool[1] - 1), 4)))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(pool[0], 9)), draw(st.integers(pool[1], 9))
    shape = (draw(st.integers(1, 3)), h, w, draw(st.sampled_from([1, 3, 8, 17, 70])))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    values = special_values(dtype)
    # Few distinct values (ties everywhere), special values in some cases, random ones in others.
    if draw(st.booleans()):
        x = rng.choice(np.array(values, dtype=dtype), size=shape)
    else:
        x = rng.integers(-3, 4, size=shape).astype(dtype)
    return x, pool, strides, padding, rng


@pytest.mark.tf
@given(case=pool_cases(), isa=st.sampled_from(POOL_ISAS))
def test_maxpool_layer_training_pass_matches_tf_bit_for_bit(case, isa):
    x, pool, strides, padding, rng = case
    layer = layers.MaxPooling2D(pool, strides, padding, dtype=x.dtype.name)
    layer.build(x.shape[1:])
    results = []
    for threads in (1, 2):
        with convops.num_threads(threads), force(isa=isa):
            y = layer.forward(x, training=True)
            dy = rng.standard_normal(y.shape).astype(x.dtype) if not results else results[0][2]
            dy.flat[:: max(1, dy.size // 3)] = -0.0  # a -0.0 gradient lands as +0.0 (TF's zeroed sum)
            dx = layer.backward(dy)
        results.append((y, dx, dy))
    want_y, want_dx = tf_pool_and_grad(x, pool, strides, padding, results[0][2])
    for y, dx, _ in results:
        assert y.dtype == x.dtype and dx.dtype == x.dtype
        np.testing.assert_array_equal(y.view(f"u{x.itemsize}"), want_y.view(f"u{x.itemsize}"))
        np.testing.assert_array_equal(dx.view(f"u{x.itemsize}"), want_dx.view(f"u{x.itemsize}"))


def test_maxpool_layer_runs_the_widest_variant_unless_one_is_forced(monkeypatch):
    """The layer's arrays come from the step allocator on 64-byte boundaries, so its 2x2 kernel
    runs the widest variant this CPU has (AVX-512 took 0.36 instead of 0.63 ms with AVX2 for
    64x26x26x32), not the public pools' AVX2 default; force(isa=...) still decides inside."""
    seen = []
    real = layers._nn_kernels.max_pool_train_forward

    def spy(*args):
        seen.append(args[-1])  # the `isa` argument
        return real(*args)

    monkeypatch.setattr(layers._nn_kernels, "max_pool_train_forward", spy)
    layer = layers.MaxPooling2D(2)
    layer.build((4, 4, 8))
    x = np.ones((1, 4, 4, 8), np.float32)
    layer.forward(x, training=True)
    with force(isa="cython"):
        layer.forward(x, training=True)
    widest = load("simd").supported_isas()
    assert seen == [load("simd").ISA_NAMES.index(widest[-1]) if widest else -1, -1]


def test_maxpool_layer_positions_follow_the_window_not_the_clipped_corner():
    """SAME padding clips the last window (5 -> 3 windows of 2): its positions still count from
    the unclipped corner, so the gradient lands on the cell that holds the maximum."""
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)[:, ::-1, ::-1].copy()
    layer = layers.MaxPooling2D(2, padding="same")
    layer.build((5, 5, 1))
    y = layer.forward(x, training=True)
    # Each window's maximum is its top-left real cell (values fall to the right and downwards).
    assert np.array_equal(y[0, :, :, 0], x[0, ::2, ::2, 0])
    dx = layer.backward(np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1))
    want = np.zeros((5, 5), np.float32)
    want[::2, ::2] = np.arange(1, 10).reshape(3, 3)
    assert np.array_equal(dx[0, :, :, 0], want)


# --------------------------------------------------------------------------- Conv2D's convolutions


@st.composite
def conv_layers(draw):
    dtype = draw(st.sampled_from(["float32", "float64"]))
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, 3))
    strides = draw(st.integers(1, 2))
    dilation = 1 if strides > 1 else draw(st.integers(1, 2))
    layer = layers.Conv2D(
        groups * draw(st.integers(1, 3)),
        (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        strides=strides,
        padding=draw(st.sampled_from(["valid", "same"])),
        dilation_rate=dilation,
        groups=groups,
        activation=draw(st.sampled_from(["relu", "linear", "tanh"])),
        dtype=dtype,
    )
    shape = (draw(st.integers(5, 9)), draw(st.integers(5, 9)), c_in)
    layer.build(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    return layer, rng.standard_normal((draw(st.integers(1, 3)), *shape)).astype(dtype), rng


@given(case=conv_layers())
def test_conv2d_layer_gives_the_public_ops_bits(case):
    """The layer validates its geometry once and calls the ops' internals: the same bits as
    conv2d + bias + activation forward and conv2d_backprop_filter / _input backward, whose own
    tests compare them with TensorFlow."""
    layer, x, rng = case
    padding = layer.padding.upper()
    args = (layer.strides, padding, "NHWC", layer.dilation_rate)
    for _ in range(2):  # the second pass runs on the cached geometry
        y = layer.forward(x, training=True)
        z = convops.conv2d(x, layer.kernel, layer.strides, padding, layer.dilation_rate) + layer.bias
        want_y = np.maximum(z, 0) if layer.activation_name == "relu" else np.tanh(z)
        if layer.activation_name == "linear":
            want_y = z
        np.testing.assert_array_equal(y, want_y)
        dy = rng.standard_normal(y.shape).astype(x.dtype)
        dz = np.where(want_y > 0, dy, 0) if layer.activation_name == "relu" else dy
        if layer.activation_name == "tanh":
            dz = layer._act_backward(dy, want_y)
        dx = layer.backward(dy.copy())
        want_dw = convops.conv2d_backprop_filter(x, layer.kernel.shape, dz, *args)
        np.testing.assert_array_equal(layer.grads["kernel"], want_dw)
        np.testing.assert_array_equal(dx, convops.conv2d_backprop_input(x.shape, layer.kernel, dz, *args))


@st.composite
def fused_conv_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64"])))
    groups = draw(st.sampled_from([1, 1, 2]))
    c_group, c_out = draw(st.integers(1, 9)), groups * draw(st.integers(1, 40))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, dilation, pad = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(
        (draw(st.integers(1, 3)), draw(st.integers(3, 12)), draw(st.integers(3, 12)), groups * c_group)
    )
    x[rng.random(x.shape) < 0.2] = 0.0  # all-zero windows: sums of exact zeros
    specials = np.array([-0.0, np.nan, np.inf, -np.inf])
    hit = rng.random(x.shape) < 0.02
    x[hit] = rng.choice(specials, size=int(hit.sum()))
    bias = rng.standard_normal(c_out)
    bias[rng.random(c_out) < 0.2] = -0.0
    w = rng.standard_normal((kh, kw, c_group, c_out))
    # Blockings that split the taps into passes too: only the last pass may apply the epilogue.
    blocking = draw(st.sampled_from([(4, 0, 0, 1), (2, 1, 0, 1), (3, 0, 2, 3), (1, 0, 1, 32)]))
    return x.astype(dtype), w.astype(dtype), bias.astype(dtype), (stride, dilation, pad, groups), blocking


@given(
    case=fused_conv_cases(),
    isa=st.sampled_from([convops._kernels.simd.ISA_NAMES.index(n) for n in convops._kernels.simd.supported_isas()]),
    use_bias=st.booleans(),
    relu=st.booleans(),
    threads=st.sampled_from([1, 2]),
)
def test_direct_kernel_bias_and_relu_give_the_separate_pass_bits(case, isa, use_bias, relu, threads):
    """max(sum + bias, 0) as each block is stored (conv_ukernel.h's epilogue) against the stored
    sums then nn.bias_act_forward, byte for byte (NaN payloads and -0.0 included), for every
    instruction set, blocking (tap passes too) and thread count."""
    x, w, bias, (stride, dilation, pad, groups), blocking = case
    conv, nn = load("conv"), load("nn")
    h_out = (x.shape[1] + 2 * pad - dilation * (w.shape[0] - 1) - 1) // stride + 1
    w_out = (x.shape[2] + 2 * pad - dilation * (w.shape[1] - 1) - 1) // stride + 1
    if h_out < 1 or w_out < 1:
        return
    args = (stride, stride, dilation, dilation, pad, pad, groups, isa, threads, *blocking)
    want = np.empty((x.shape[0], h_out, w_out, w.shape[3]), x.dtype)
    conv.conv2d_direct(x, w, want, *args)
    nn.bias_act_forward(want.reshape(-1, w.shape[3]), bias if use_bias else np.zeros_like(bias), use_bias, relu, 1)
    got = np.empty_like(want)
    conv.conv2d_direct(x, w, got, *args, bias=bias if use_bias else None, relu=relu)
    assert got.tobytes() == want.tobytes()


def test_conv2d_layer_fuses_bias_and_relu_only_on_the_direct_kernel():
    # The tutorial's first layers run the direct kernel: fused. A 1-in, 1-out image filter runs
    # another kernel: the layer's own pass. Both give the ops' bits.
    rng = np.random.default_rng(0)
    from convops.nn import _conv_calls

    for shape, filters, fused in [((28, 28, 1), 32, True), ((13, 13, 32), 64, True), ((9, 9, 1), 1, False)]:
        layer = layers.Conv2D(filters, 3, activation="relu")
        layer.build(shape)
        layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
        x = rng.standard_normal((2, *shape)).astype(np.float32)
        geo = layer._geometry(x.shape, False)
        assert _conv_calls.forward_fused(geo, x, layer.kernel, layer.bias, True)[1] is fused
        want = np.maximum(convops.conv2d(x, layer.kernel) + layer.bias, 0)
        np.testing.assert_array_equal(layer.forward(x), want)


@st.composite
def bias_backward_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64"])))
    # Channel counts around the SIMD blocks' widths (2-8 per vector, 8 vectors per block).
    channels = draw(st.sampled_from([1, 2, 3, 5, 8, 9, 16, 31, 32, 33, 64, 65, 130]))
    rows = draw(st.integers(1, 600))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dz = rng.standard_normal((rows, channels)).astype(dtype)
    y = np.maximum(rng.standard_normal((rows, channels)), 0).astype(dtype)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300], dtype=np.float64).astype(dtype)
    for a in (dz, y):
        hit = rng.random(a.shape) < 0.1
        a[hit] = rng.choice(specials, size=int(hit.sum()))
    return dz, y, draw(st.booleans())


@given(case=bias_backward_cases(), isa=st.sampled_from(POOL_ISAS))
def test_bias_relu_backward_masks_and_sums_each_lane_in_row_order(case, isa):
    """Conv2D's bias + ReLU backward (the Cython loop and each SIMD copy): dz where the ReLU was
    on (y > 0; NaN counts as off) and +0 elsewhere, and the bias gradient as fixed lanes of rows,
    each summed in row order in float64, the lanes then added in order -- on 1 and 2 threads."""
    from convops.nn._layer import _LANES, _bias_act_backward

    dz, y, relu = case
    rows, channels = dz.shape
    want_dz = np.where(y > 0, dz, np.zeros((), dz.dtype)) if relu else dz
    lanes = max(1, min(_LANES, rows))
    per_lane = -(-rows // lanes)
    partials = []
    for lane in range(lanes):
        total = np.zeros(channels)
        for row in want_dz[lane * per_lane : (lane + 1) * per_lane]:
            total = total + row.astype(np.float64)  # one row at a time: the order is the point
        partials.append(total)
    want_bias = partials[0]
    for partial in partials[1:]:
        want_bias = want_bias + partial
    for threads in (1, 2):
        got_dz = dz.copy()
        with convops.num_threads(threads), force(isa=isa):
            got_bias = _bias_act_backward(got_dz, y if relu else None, channels, relu)
        _assert_same_bits_or_both_nan(got_dz, want_dz)
        _assert_same_bits_or_both_nan(got_bias, want_bias)


def _assert_same_bits_or_both_nan(got: np.ndarray, want: np.ndarray) -> None:
    # Which NaN a sum returns (its sign and payload) depends on the operand order of the one
    # addition that meets two NaNs, which IEEE 754 leaves open; every other value, -0.0
    # included, must match bit for bit.
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    keep = ~np.isnan(want)
    np.testing.assert_array_equal(got[keep].view(f"u{got.itemsize}"), want[keep].view(f"u{want.itemsize}"))
