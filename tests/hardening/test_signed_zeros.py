"""Signed zeros, compared bit for bit with TensorFlow under every kernel path convops can force.

Inputs made only of +0.0 and -0.0 (and some with zeros mixed with small dyadic values, whose sums
are exact in any order, so the only thing left to differ is the sign of a zero). IEEE 754 fixes
that sign for every operation: ``-0 + -0 = -0``, ``+0 + -0 = +0``, an exact cancellation gives
``+0``, a copy keeps it. TF's kernels start their sums from ``+0.0`` where a sum is defined that
way, so its results are well defined, and convops must give the same bits under every forced
path: conv2d's methods and ISAs, both gradient methods, the pool variants (the Cython loops and
each SIMD copy), pad's compiled fast path and its general path.

The rules pinned here (TensorFlow 2.21, oneDNN off):

* max-pool of tied zeros: the **first** zero of the window in row-major order wins
  (``max(+0, -0) = +0``, ``max(-0, +0) = -0``); the gradient goes to that cell, added to
  ``+0.0``, so a ``-0.0`` upstream gradient arrives as ``+0.0`` (avg-pool's shares likewise).
* avg-pool of an all ``-0.0`` window: ``+0.0`` (the sum starts at ``+0.0``).
* conv2d and its gradients: a sum of products; all products ``-0.0`` (even a single one, or none)
  give ``+0.0``, since TF's contraction starts from ``+0.0``.
* pad copies values, so ``-0.0`` in the input stays ``-0.0``. A ``-0.0`` *constant* is where TF
  differs: ``tf.pad`` writes ``+0.0``; convops keeps ``-0.0`` as NumPy and PyTorch do (checked
  against ``np.pad``, in every layout, paddings spelling and constant type, fast and general path).
* pad's gradient: CONSTANT crops (a copy, as TF's Slice); REFLECT/SYMMETRIC fold the border back
  and add, as TF's MirrorPadGrad, so a cell whose copies are all ``-0.0`` gets ``-0.0``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_bits_equal, assert_exact, format_call
from convops import padding as _padding
from convops._kernels import fastpath, simd
from convops._kernels import pool as _pool_kernels
from convops.dispatch import METHODS, force
from test_conv_grad import tf_conv_grads

pytestmark = pytest.mark.tf

FLOATS = ("float32", "float64")
POOL_VARIANTS = (None, *_pool_kernels.variants())  # None: the default choice
CONV_ISAS = (None, *simd.supported_isas())
# (method, isa) pairs: the ISA reaches the direct and image kernels only (naive and gemm have none).
CONV_PATHS = [(m, isa) for m in (None, "direct", "image") for isa in CONV_ISAS] + [("naive", None), ("gemm", None)]
GRAD_PATHS = [(m, isa) for m in (None, "direct") for isa in CONV_ISAS] + [("gemm", None)]
assert {m for m, _ in CONV_PATHS} - {None} == set(METHODS["conv2d"])
# A small dyadic value: products and sums of a few of them are exact in float16/32/64.
SMALL = (1.0, -1.0, 0.5, -0.5, 2.0, -0.25)


# --------------------------------------------------------------------------- strategies


@st.composite
def zeros(draw, shape, dtype, mixed=None):
    """An array of ``shape``: ±0 only, or (``mixed``) ±0 with some small dyadic values."""
    size = int(np.prod(shape))
    signs = draw(st.lists(st.booleans(), min_size=size, max_size=size), label="negative zeros")
    values = np.where(np.array(signs, dtype=bool), -0.0, 0.0)
    if mixed is None:
        mixed = draw(st.booleans(), label="mixed with small values")
    if mixed and size:
        picks = draw(st.lists(st.integers(-1, len(SMALL) - 1), min_size=size, max_size=size), label="small values")
        values = np.where(np.array(picks) >= 0, np.array(SMALL)[np.array(picks)], values)
    return values.reshape(shape).astype(dtype)


@st.composite
def geometries(draw, max_window=3, explicit=True):
    """(n, h, w, c, ksize, strides, padding) with the window inside the input (TF errs otherwise)."""
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ksize = (draw(st.integers(1, min(h, max_window))), draw(st.integers(1, min(w, max_window))))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    kinds = ["SAME", "VALID"] + (["explicit"] if explicit else [])
    padding = draw(st.sampled_from(kinds))
    if padding == "explicit":  # explicit pool pads must be smaller than the window
        padding = tuple((draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) for k in ksize)
    n = draw(st.integers(1, 2))
    c = draw(st.sampled_from([1, 2, 3, 8, 17]))  # 17: whole SIMD vectors and a tail
    return n, h, w, c, ksize, strides, padding


def _tf_padding(padding):
    return padding if isinstance(padding, str) else [[0, 0], *map(list, padding), [0, 0]]


def _out_size(size, k, s, mode, dilation=1):
    return convops.arithmetic.conv_output_size(size, k, s, mode, dilation)


# --------------------------------------------------------------------------- pooling


@given(dtype=st.sampled_from((*FLOATS, "float16")), data=st.data(), geometry=geometries())
@example(dtype=None, data=None, geometry=None)  # the pinned ties, below, in every dtype
def test_pools_of_signed_zeros_match_tensorflow_in_every_variant(dtype, data, geometry):
    """max_pool2d and avg_pool2d of ±0 (ties everywhere) under the default and every forced
    variant (Cython loops, each SIMD copy) = TF bit for bit."""
    if geometry is None:  # max(+0, -0) = +0, max(-0, +0) = -0, avg(-0, -0) = +0, avg(-0, 1, -1) = +0
        cases = [
            (np.array(v, t).reshape(1, 1, -1, 1), (1, len(v)), (1, 1), "VALID")
            for v in ([0.0, -0.0], [-0.0, 0.0], [-0.0, -0.0], [-0.0, 1.0, -1.0])
            for t in (*FLOATS, "float16")
        ]
    else:
        n, h, w, c, ksize, strides, padding = geometry
        cases = [(data.draw(zeros((n, h, w, c), dtype), label="x"), ksize, strides, padding)]
    for x, ksize, strides, padding in cases:
        want = {
            "max_pool2d": oracle.max_pool2d(x, ksize, strides, padding),
            "avg_pool2d": oracle.avg_pool2d(x, ksize, strides, padding) if isinstance(padding, str) else None,
        }
        for op, expected in want.items():
            if expected is None:
                continue
            for variant in POOL_VARIANTS:
                with force(isa=variant):
                    got = getattr(convops, op)(x, ksize, strides, padding)
                call = f"{format_call(op, x, ksize, strides, padding)}  [force(isa={variant!r})]"
                assert_exact(got, expected, call, f"tf.nn.{op}")


@given(dtype=st.sampled_from(FLOATS), data=st.data(), geometry=geometries())
def test_pool_gradients_of_signed_zeros_match_tensorflow_in_every_variant(dtype, data, geometry):
    """max_pool2d_grad (ties of ±0 decide where the gradient goes), max_pool2d_with_argmax and
    avg_pool2d_grad (both loops) with ±0 inputs and ±0 upstream gradients, every variant."""
    n, h, w, c, ksize, strides, padding = geometry
    tf = oracle.load()
    x = data.draw(zeros((n, h, w, c), dtype), label="x")
    out_hw = tuple(
        _out_size(x.shape[1 + a], ksize[a], strides[a], padding if isinstance(padding, str) else padding[a])
        for a in (0, 1)
    )
    dy = data.draw(zeros((n, *out_hw, c), dtype), label="dy")
    ops = {"max_pool2d": convops.max_pool2d_grad}
    if isinstance(padding, str):
        ops["avg_pool2d"] = convops.avg_pool2d_grad
    for op, grad_fn in ops.items():
        X = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(X)
            y = getattr(tf.nn, op)(X, [1, *ksize, 1], [1, *strides, 1], _tf_padding(padding))
        want = tape.gradient(y, X, output_gradients=tf.constant(dy)).numpy()
        first = x if op == "max_pool2d" else x.shape
        methods = METHODS["avg_pool2d_grad"] if op == "avg_pool2d" else (None,)
        for variant in POOL_VARIANTS:
            for method in methods:
                with force(isa=variant, **({"avg_pool2d_grad": method} if method else {})):
                    got = grad_fn(first, dy, ksize, strides, padding)
                call = f"{format_call(op + '_grad', first, dy, ksize, strides, padding)}  [{variant}, {method}]"
                assert_exact(got, want, call, f"tf.GradientTape of tf.nn.{op}")
    if isinstance(padding, str):
        want_out, want_arg = tf.nn.max_pool_with_argmax(tf.constant(x), [1, *ksize, 1], [1, *strides, 1], padding)
        for variant in POOL_VARIANTS:
            with force(isa=variant):
                out, arg = convops.max_pool2d_with_argmax(x, ksize, strides, padding)
            call = f"{format_call('max_pool2d_with_argmax', x, ksize, strides, padding)}  [{variant}]"
            assert_exact(out, want_out.numpy(), call, "tf.nn.max_pool_with_argmax")
            assert_exact(arg, want_arg.numpy(), call, "tf.nn.max_pool_with_argmax")


# --------------------------------------------------------------------------- conv2d and its gradients


@st.composite
def conv_geometries(draw, dilated=True):
    """(x shape, filters shape, strides, padding, dilations), groups 1-2, output non-empty."""
    groups, c_group = draw(st.integers(1, 2)), draw(st.sampled_from([1, 2, 3, 8]))
    c_out = groups * draw(st.sampled_from([1, 2, 5, 16]))
    if draw(st.integers(0, 3), label="one channel in and out") == 0:  # what the "image" kernel runs
        groups, c_group, c_out = 1, 1, 1
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    padding = draw(st.sampled_from(["SAME", "VALID", "explicit"]))
    if padding == "explicit":
        padding = (
            (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
            (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        )
    modes = (padding, padding) if isinstance(padding, str) else padding
    out_hw = [_out_size(s, k, st_, m, d) for s, k, st_, m, d in zip((h, w), (kh, kw), strides, modes, dilations)]
    assume(min(out_hw) > 0)
    return (draw(st.integers(1, 2)), h, w, groups * c_group), (kh, kw, c_group, c_out), strides, padding, dilations


@given(dtype=st.sampled_from((*FLOATS, "float16")), data=st.data(), geometry=conv_geometries())
def test_conv2d_of_signed_zeros_matches_tensorflow_on_every_path(dtype, data, geometry):
    """conv2d where every product is ±0 (or a few exact non-zero ones): every forced method
    (naive, direct, image, gemm) under every ISA this CPU runs, and the default choice."""
    x_shape, w_shape, strides, padding, dilations = geometry
    x = data.draw(zeros(x_shape, dtype), label="x")
    w = data.draw(zeros(w_shape, dtype), label="filters")
    want = oracle.conv2d(x, w, strides, padding, dilations)
    for method, isa in CONV_PATHS:
        with force(isa=isa, **({"conv2d": method} if method else {})):
            got = convops.conv2d(x, w, strides, padding, dilations=dilations)
        call = f"{format_call('conv2d', x, w, strides, padding, dilations=dilations)}  [{method}, {isa}]"
        assert_exact(got, want, call, "tf.nn.conv2d")


@given(dtype=st.sampled_from(FLOATS), data=st.data(), geometry=conv_geometries(dilated=False))
def test_conv2d_gradients_of_signed_zeros_match_tensorflow_on_every_path(dtype, data, geometry):
    """conv2d_backprop_input / _filter with ±0 inputs, filters and upstream gradients under both
    forced methods and every ISA, and conv2d_transpose (the input gradient by another name).
    Undilated only: TF's gradient oracle runs a dilated conv as its zero-inserted kernel, whose
    inserted +0 taps would change the sign of an all-zero sum."""
    x_shape, w_shape, strides, padding, _ = geometry
    x = data.draw(zeros(x_shape, dtype), label="x")
    w = data.draw(zeros(w_shape, dtype), label="filters")
    out_shape = oracle.conv2d(x, w, strides, padding, (1, 1)).shape
    dy = data.draw(zeros(out_shape, dtype), label="dy")
    want_dx, want_dw = tf_conv_grads(x, w, dy, strides, padding, (1, 1))
    for method, isa in GRAD_PATHS:
        methods = {"conv2d_backprop_input": method, "conv2d_backprop_filter": method} if method else {}
        with force(isa=isa, **methods):
            dx = convops.conv2d_backprop_input(x.shape, w, dy, strides, padding)
            dw = convops.conv2d_backprop_filter(x, w.shape, dy, strides, padding)
        tag = f"  [{method}, {isa}]"
        assert_exact(dx, want_dx, format_call("conv2d_backprop_input", x.shape, w, dy, strides, padding) + tag)
        assert_exact(dw, want_dw, format_call("conv2d_backprop_filter", x, w.shape, dy, strides, padding) + tag)
    if w_shape[2] == x_shape[3]:  # tf.nn.conv2d_transpose has no groups
        tf = oracle.load()
        want = tf.nn.conv2d_transpose(
            tf.constant(dy), tf.constant(w), list(x.shape), [1, *strides, 1], _tf_padding(padding)
        ).numpy()
        got = convops.conv2d_transpose(dy, w, x.shape, strides, padding)
        assert_exact(got, want, format_call("conv2d_transpose", dy, w, x.shape, strides, padding))


# --------------------------------------------------------------------------- pad and its gradient


@contextlib.contextmanager
def general_path():
    """pad without its compiled fast path (which declines by returning None)."""
    fast = _padding.pad_fast
    _padding.pad_fast = lambda *args: None
    try:
        yield
    finally:
        _padding.pad_fast = fast


LAYOUTS = {
    "C": np.ascontiguousarray,
    "F": np.asfortranarray,
    "negative": lambda a: np.ascontiguousarray(a[..., ::-1])[..., ::-1],
}
PADDINGS_SPELLED = {"list": lambda p: [list(q) for q in p], "tuple": lambda p: tuple(map(tuple, p)), "array": np.array}
CONSTANTS = {"float": float, "np.float32": np.float32, "np.float64": np.float64, "0-d array": np.array}


@st.composite
def pad_cases(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    x = draw(zeros(shape, dtype), label="x")
    pads = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in shape]
    return x, pads


def _fit(pads, shape, mode):
    """Pads allowed for ``mode``: REFLECT <= size - 1, SYMMETRIC <= size."""
    limit = {"REFLECT": -1, "SYMMETRIC": 0}.get(mode)
    if limit is None:
        return [tuple(p) for p in pads]
    return [(min(a, n + limit), min(b, n + limit)) for (a, b), n in zip(pads, shape)]


def _mean_padded(x, pads):
    """MEAN's definition: the border is the mean over the padded axes, one per index of the others."""
    padded_axes = tuple(axis for axis, pair in enumerate(pads) if pair != (0, 0))
    out = np.empty(tuple(n + a + b for n, (a, b) in zip(x.shape, pads)), x.dtype)
    out[...] = x.mean(axis=padded_axes, keepdims=True) if padded_axes else 0
    out[tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, pads))] = x
    return out


@given(
    case=pad_cases(),
    mode=st.sampled_from(["CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"]),
    negative_constant=st.booleans(),
    layout=st.sampled_from(sorted(LAYOUTS)),
    spelling=st.sampled_from(sorted(PADDINGS_SPELLED)),
    constant_type=st.sampled_from(sorted(CONSTANTS)),
)
def test_pad_keeps_every_zeros_sign_on_every_path(case, mode, negative_constant, layout, spelling, constant_type):
    """Copies keep ±0 (TF for CONSTANT/REFLECT/SYMMETRIC, np.pad for EDGE/CIRCULAR); a -0.0
    constant stays -0.0 as in np.pad (TF writes +0.0 there: the one rule convops does not take
    from TF); MEAN of zeros is np.mean's (+0.0: NumPy's sums start from +0.0).
    The same bits from the fast path, the general path, every layout and spelling."""
    x, pads = case
    pads = _fit(pads, x.shape, mode)
    constant = -0.0 if negative_constant else 0.0
    if mode == "MEAN":  # zeros only (x * 0 keeps each sign): no rounding in the mean to compare
        x = x * 0
        want, what = _mean_padded(x, pads), "np.mean over the padded axes"
    elif mode == "CONSTANT" and negative_constant:
        want, what = np.pad(x, pads, constant_values=np.array(constant, x.dtype)), "np.pad"
    elif mode in ("EDGE", "CIRCULAR"):
        want, what = np.pad(x, pads, mode={"EDGE": "edge", "CIRCULAR": "wrap"}[mode]), "np.pad"
    else:
        want, what = oracle.pad(x, pads, mode, constant), "tf.pad"
    arg, spelled, value = LAYOUTS[layout](x), PADDINGS_SPELLED[spelling](pads), CONSTANTS[constant_type](constant)
    call = format_call("pad", arg, spelled, mode, constant_values=value)
    assert_bits_equal(convops.pad(arg, spelled, mode, constant_values=value), want, call, what)
    with general_path():
        assert_bits_equal(convops.pad(arg, spelled, mode, value), want, call + "  [general path]", what)
    fast = fastpath.pad_fast(arg, spelled, mode, value, 1)
    if fast is not None:
        assert_bits_equal(fast, want, call + "  [fastpath.pad_fast]", what)


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
@given(data=st.data(), case=pad_cases())
@example(data=None, case=(np.zeros(3), [(1, 1)]))  # dy all -0.0: the middle cell has 3 copies
def test_pad_grad_of_signed_zeros_matches_tensorflow(mode, data, case):
    """pad_grad with ±0 upstream gradients vs TF's gradient of tf.pad (Slice for CONSTANT,
    MirrorPadGrad for REFLECT/SYMMETRIC): a cell whose copies are all -0.0 gets -0.0."""
    tf = oracle.load()
    x, pads = case
    pads = _fit(pads, x.shape, mode)
    out_shape = tuple(n + a + b for n, (a, b) in zip(x.shape, pads))
    dy = np.full(out_shape, -0.0) if data is None else data.draw(zeros(out_shape, x.dtype), label="dy")
    X = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(X)
        y = tf.pad(X, [list(p) for p in pads], mode=mode)
    want = tape.gradient(y, X, output_gradients=tf.constant(dy)).numpy()
    got = convops.pad_grad(dy, pads, mode)
    assert_exact(got, want, format_call("pad_grad", dy, pads, mode), "tf.GradientTape of tf.pad")


_NUMPY_MODES = {
    "CONSTANT": "constant",
    "REFLECT": "reflect",
    "SYMMETRIC": "symmetric",
    "EDGE": "edge",
    "CIRCULAR": "wrap",
}


@pytest.mark.parametrize("mode", list(_NUMPY_MODES))
@given(data=st.data(), case=pad_cases())
@example(data=None, case=(np.zeros((2, 3)), [(1, 2), (2, 1)]))  # dy all -0.0: every cell's copies are -0.0
def test_pad_grad_of_zeros_is_negative_exactly_where_every_copy_is(mode, data, case):
    """The definition, for every mode (EDGE and CIRCULAR have no TF oracle): an input cell's
    gradient is the sum of dy over its copies, and a sum of zeros is -0.0 iff every term is.
    The copies are found with np.pad of the cells' own indices."""
    x, pads = case
    pads = _fit(pads, x.shape, mode)
    out_shape = tuple(n + a + b for n, (a, b) in zip(x.shape, pads))
    dy = np.full(out_shape, -0.0, x.dtype) if data is None else data.draw(zeros(out_shape, x.dtype, False), label="dy")
    index = np.arange(x.size).reshape(x.shape)
    kwargs = {"constant_values": -1} if mode == "CONSTANT" else {}
    source = np.pad(index, pads, mode=_NUMPY_MODES[mode], **kwargs).ravel()
    positive = np.zeros(x.size, dtype=bool)
    np.logical_or.at(positive, source[source >= 0], ~np.signbit(dy.ravel()[source >= 0]))
    want = np.where(positive, 0.0, -0.0).reshape(x.shape).astype(x.dtype)
    assert_exact(
        convops.pad_grad(dy, pads, mode), want, format_call("pad_grad", dy, pads, mode), "the sum of the copies"
    )
