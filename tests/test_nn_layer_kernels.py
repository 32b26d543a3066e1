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


# ---------------------------------------------------------------- a first Conv2D under a max pool


@st.composite
def first_layer_cases(draw):
    """A Conv2D (any stride, dilation, padding; ReLU or none; bias or not) and a max pool whose
    windows hold at most 4 cells and do not overlap, on finite data."""
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64"])))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    conv = dict(
        filters=draw(st.sampled_from([1, 3, 8, 16, 21, 32, 40])),  # vectors of 4, 8, 16 and tails
        kernel_size=kernel,
        strides=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        dilation_rate=(1, 1),
        padding=draw(st.sampled_from(["valid", "same"])),
        activation=draw(st.sampled_from(["relu", None])),
        use_bias=draw(st.booleans()),
    )
    if conv["strides"] == (1, 1):  # Keras takes a dilation only with stride 1
        conv["dilation_rate"] = draw(st.sampled_from([(1, 1), (2, 1), (1, 2)]))
    pool_size = draw(st.sampled_from([(2, 2), (1, 2), (2, 1), (1, 1)]))
    pool = dict(
        pool_size=pool_size,
        strides=(pool_size[0] + draw(st.integers(0, 1)), pool_size[1] + draw(st.integers(0, 1))),
        padding=draw(st.sampled_from(["valid", "same"])),
    )
    shape = (draw(st.integers(4, 11)), draw(st.integers(4, 11)), draw(st.integers(1, 3)))
    n = draw(st.integers(1, 11))  # fewer images than lanes, and lanes of unequal size
    return dtype, conv, pool, shape, n, draw(st.integers(0, 2**32 - 1))


def _first_layer_and_pool(dtype, conv, pool, shape, seed):
    rng = np.random.default_rng(seed)
    conv_layer = layers.Conv2D(**conv, dtype=dtype.name)
    pool_layer = layers.MaxPooling2D(**pool, dtype=dtype.name)
    try:  # a window that does not fit is refused (tested elsewhere)
        conv_layer.build(shape)
        pool_layer.build(conv_layer.output_shape)
    except ValueError:
        return None
    conv_layer.params["kernel"] = rng.standard_normal(conv_layer.kernel.shape).astype(dtype)
    if conv_layer.use_bias:  # some channels mostly on, some mostly off
        conv_layer.params["bias"] = rng.normal(0, 1.5, conv_layer.filters).astype(dtype)
    return conv_layer, pool_layer, rng


def _steps(conv_layer, pool_layer, x, dy):
    """Both layers' training forward, as a model's step runs them."""
    pool_layer.forward(conv_layer.forward(x, training=True), training=True)
    return dy.copy()


@given(case=first_layer_cases(), isa=st.sampled_from([v for v in POOL_ISAS if v != "cython"]))
def test_first_layer_grads_from_a_max_pool_match_both_layers_backward(case, isa):
    """Conv2D._first_layer_grads_from_max_pool (one pass over the pool's gradient, no dL/dz)
    against the pool's backward then the conv's: the same bias gradient up to its final rounding,
    the kernel gradient inside the sum's rounding bound, and the same bits on 1 and 2 threads and
    in every SIMD copy (the lanes and their order do not depend on either)."""
    dtype, conv, pool, shape, n, seed = case
    built = _first_layer_and_pool(dtype, conv, pool, shape, seed)
    if built is None:
        return
    conv_layer, pool_layer, rng = built
    x = rng.standard_normal((n, *shape)).astype(dtype)
    dy = rng.standard_normal((n, *pool_layer.output_shape)).astype(dtype)
    dy[rng.random(dy.shape) < 0.1] = 0  # exact zeros and -0.0 among the gradients
    dy[rng.random(dy.shape) < 0.05] = -0.0

    got = []
    for variant in (isa, *[v for v in POOL_ISAS if v not in ("cython", isa)]):
        for threads in (1, 2):
            with force(isa=variant), convops.num_threads(threads):
                assert conv_layer._first_layer_grads_from_max_pool(pool_layer, _steps(conv_layer, pool_layer, x, dy))
            assert conv_layer._x is None and pool_layer._argmax is None and pool_layer._output is None
            got.append(dict(conv_layer.grads))
    for other in got[1:]:
        for key in got[0]:
            _assert_same_bits_or_both_nan(other[key], got[0][key])

    dz = pool_layer.backward(_steps(conv_layer, pool_layer, x, dy))
    assert conv_layer.backward(dz, need_input_grad=False) is None
    want = conv_layer.grads
    assert set(got[0]) == set(want)
    # dz with the ReLU's mask, as the conv's backward saw it; the bound of each sum's rounding
    # (M terms: N * H_out * W_out) on both results, against sum |x| |dz| in float64.
    y = conv_layer.forward(x, training=False)
    dz_masked = np.where(y > 0, dz, 0) if conv["activation"] == "relu" else dz
    terms = dz.shape[0] * dz.shape[1] * dz.shape[2]
    if "bias" in want:  # float64 sums of the same values in another order
        bias_bound = 2 * (terms + 1) * 2.0**-53 * np.abs(dz_masked).astype(np.float64).sum(axis=(0, 1, 2))
        bias_bound += np.finfo(dtype).eps * np.abs(want["bias"])  # and the rounding to float32
        assert np.all(np.abs(got[0]["bias"].astype(np.float64) - want["bias"]) <= bias_bound)
    magnitude = convops.conv2d_backprop_filter(
        np.abs(x).astype(np.float64),
        conv_layer.kernel.shape,
        np.abs(dz_masked).astype(np.float64),
        conv_layer.strides,
        conv_layer.padding.upper(),
        dilations=conv_layer.dilation_rate,
    )
    bound = 2 * (terms + 1) * np.finfo(dtype).eps * magnitude
    assert np.all(np.abs(got[0]["kernel"].astype(np.float64) - want["kernel"]) <= bound)


def test_first_layer_pass_declines_what_it_cannot_compute_and_leaves_the_layers_as_they_were():
    """Data that is not finite or could overflow (the pooled value would not be the ReLU's output
    at the argmax, and the dense sum's 0 * inf would be lost), windows of more than 4 cells or
    overlapping, grouped convs and the forced Cython loops go to the two layers' own backward."""
    rng = np.random.default_rng(3)

    def attempt(x, conv=None, pool=None, kernel=None, isa=None):
        conv_layer = layers.Conv2D(**(conv or dict(filters=4, kernel_size=3, activation="relu")))
        conv_layer.build(x.shape[1:])
        if kernel is not None:
            conv_layer.params["kernel"] = kernel
        pool_layer = layers.MaxPooling2D(**(pool or dict(pool_size=2)))
        pool_layer.build(conv_layer.output_shape)
        dy = rng.standard_normal((len(x), *pool_layer.output_shape)).astype(np.float32)
        with force(isa=isa) if isa else convops.num_threads(convops.get_num_threads()):
            out = pool_layer.forward(conv_layer.forward(x, training=True), training=True)
            done = conv_layer._first_layer_grads_from_max_pool(pool_layer, dy)
        if not done:  # nothing was consumed: the layers' own backward still runs
            assert conv_layer._x is not None and pool_layer._output is out and pool_layer._argmax is not None
            conv_layer.backward(pool_layer.backward(dy), need_input_grad=False)
        return done

    x = rng.standard_normal((2, 8, 8, 1)).astype(np.float32)
    assert attempt(x)
    for bad in (np.inf, -np.inf, np.nan):
        poisoned = x.copy()
        poisoned[1, 4, 5, 0] = bad
        assert not attempt(poisoned)
    kernel = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    kernel[0, 0, 0, 1] = np.nan
    assert not attempt(x, kernel=kernel)
    assert not attempt(x * np.float32(1e19), kernel=np.full((3, 3, 1, 4), 1e19, np.float32))  # sums could overflow
    assert not attempt(x, pool=dict(pool_size=3))  # 9 cells
    assert not attempt(x, pool=dict(pool_size=2, strides=1))  # overlapping
    assert not attempt(
        rng.standard_normal((2, 8, 8, 2)).astype(np.float32), conv=dict(filters=4, kernel_size=3, groups=2)
    )
    assert not attempt(x, isa="cython")
    assert not attempt(x, conv=dict(filters=4, kernel_size=3, activation="sigmoid"))


def test_a_model_step_takes_its_first_conv_and_pool_in_one_pass():
    """The tutorial's network (its first layer: Conv2D 32 + ReLU under a 2x2 max pool): a step
    runs that pass, every other gradient keeps its bits, and the first kernel's gradient stays
    inside the rounding bound of the two layers' backward."""
    from convops.nn import Sequential

    rng = np.random.default_rng(0)
    model = Sequential(
        [
            layers.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy")
    x, y = rng.random((16, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 16)
    first = model.layers[0]
    calls = []
    original = type(first)._first_layer_grads_from_max_pool

    def spy(layer, pool, dy):
        calls.append(layer.name)
        return original(layer, pool, dy)

    try:
        type(first)._first_layer_grads_from_max_pool = spy
        _, fused = model.loss_and_gradients(x, y)
        assert calls == [first.name]  # the first layer only: the second needs its input gradient
        type(first)._first_layer_grads_from_max_pool = lambda layer, pool, dy: False
        _, plain = model.loss_and_gradients(x, y)
    finally:
        type(first)._first_layer_grads_from_max_pool = original
    for got, want in zip(fused[1:], plain[1:]):
        _assert_same_bits_or_both_nan(got, want)
    assert np.abs(fused[0] - plain[0]).max() <= 1e-5 * np.abs(plain[0]).max()
    assert not np.array_equal(fused[0], np.zeros_like(fused[0]))
