"""Gradients of every op against ``tf.GradientTape``, plus finite-difference checks that need no TF.

The oracle is TensorFlow with oneDNN off, which cannot differentiate two things (checked with TF
2.21): a dilated convolution ("Current CPU implementations do not yet support dilation rates
larger than 1") and a grouped one ("Gradients for grouped convolutions are not supported on
CPU"). So the conv oracle below differentiates an *equivalent* network that TF can handle:

* dilated conv ≡ conv with the zero-inserted kernel (taps ``d`` apart, zeros between); the
  filter gradient is the zero-inserted kernel's gradient read at the taps;
* grouped conv ≡ the concatenation of one conv per group.

One test also runs TF's own dilated-conv gradient (float32, oneDNN on) in a subprocess.

Tolerances: pooling and padding gradients are compared bit for bit with TF (same sums in the
same order), convolution gradients within :class:`checks.Tolerance`'s bound, where the reduction
length is the number of products summed per gradient element (``KH*KW*C_out/groups`` for the
input gradient, ``N*H_out*W_out`` for the filter gradient) and the magnitude is the same
gradient taken of ``|x|``, ``|filters|``, ``|dy|`` in float64.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_exact, assert_within, call_op, central_differences, conv_bound, nhwc
from strategies import ConvCase, PadCase, PoolCase, conv2d_cases, make_values, pad_cases, pool2d_cases

FLOAT_DTYPES = ("float32", "float64")


# --------------------------------------------------------------------------- the TF oracle

def zero_inserted(w: np.ndarray, dilations) -> np.ndarray:
    """The dilated kernel written out: taps ``d`` apart with zeros between (KH_eff, KW_eff, ...)."""
    dh, dw = dilations
    kh, kw = w.shape[:2]
    wide = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1) + w.shape[2:], dtype=w.dtype)
    wide[::dh, ::dw] = w
    return wide


def tf_conv_grads(x: np.ndarray, w: np.ndarray, dy: np.ndarray, strides, padding, dilations):
    """(dL/dx, dL/dw) of ``L = sum(conv2d(x, w) * dy)`` by tf.GradientTape, NHWC/HWIO.

    Grouped convs are run as one conv per group and dilated ones with the zero-inserted kernel
    (SAME padding depends only on the kernel's span, which both share)."""
    tf = oracle.load()
    c_group = w.shape[2]
    groups = x.shape[3] // c_group
    c_out_group = w.shape[3] // groups
    X, W = tf.constant(x), tf.constant(zero_inserted(w, dilations))
    pad = padding if isinstance(padding, str) else [[0, 0], list(padding[0]), list(padding[1]), [0, 0]]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(X)
        tape.watch(W)
        parts = [tf.nn.conv2d(X[..., g * c_group:(g + 1) * c_group], W[..., g * c_out_group:(g + 1) * c_out_group],
                              strides=[1, *strides, 1], padding=pad) for g in range(groups)]
        y = parts[0] if groups == 1 else tf.concat(parts, axis=3)
    upstream = tf.constant(dy)
    dx = tape.gradient(y, X, output_gradients=upstream).numpy()
    dw = tape.gradient(y, W, output_gradients=upstream).numpy()[::dilations[0], ::dilations[1]]
    return dx, dw


def upstream_for(case, shape, dtype=None) -> np.ndarray:
    """A reproducible upstream gradient dL/dy for ``case`` (seeded by the case)."""
    rng = np.random.default_rng((case.seed or 0) + 1)
    return make_values(rng, shape, dtype or case.x.dtype, "normal")


def conv_dy(case: ConvCase) -> np.ndarray:
    n, c_out = case.x.shape[0], case.w.shape[3]
    return upstream_for(case, (n, *case.output_hw, c_out))


def to_format(array: np.ndarray, data_format: str) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if data_format == "NCHW" else array


def sizes_in(shape_nhwc, data_format: str):
    n, h, w, c = shape_nhwc
    return (n, h, w, c) if data_format == "NHWC" else (n, c, h, w)


def spelled_sizes(sizes, form: str):
    return {"tuple": tuple(sizes), "list": list(sizes), "array": np.array(sizes)}[form]


def conv_kwargs(case: ConvCase) -> dict:
    kwargs = {"strides": case.spelled.get("strides", case.strides),
              "padding": case.spelled.get("padding", case.padding),
              "dilations": case.spelled.get("dilations", case.dilations)}
    if case.data_format != "NHWC":
        kwargs["data_format"] = case.data_format
    return kwargs


def conv_grad_bounds(case: ConvCase, dy: np.ndarray, want_dx: np.ndarray, want_dw: np.ndarray):
    """Per-element bounds for (dx, dw): Tolerance with K = products per element, magnitude = the
    same gradients of |x|, |w|, |dy| in float64 (the oracle gives both in one call)."""
    mag_dx, mag_dw = tf_conv_grads(np.abs(case.x).astype(np.float64), np.abs(case.w).astype(np.float64),
                                   np.abs(dy).astype(np.float64), case.strides, case.explicit_padding,
                                   case.dilations)
    kh, kw, c_group, c_out = case.w.shape
    groups = case.x.shape[3] // c_group
    k_dx = kh * kw * (c_out // groups)
    k_dw = case.x.shape[0] * case.output_hw[0] * case.output_hw[1]
    return (conv_bound(want_dx, mag_dx, k_dx, case.x.dtype), conv_bound(want_dw, mag_dw, k_dw, case.x.dtype))


def pinned_conv(x_shape, w_shape, **kwargs) -> ConvCase:
    """Small distinct integers: exact in every dtype."""
    x = (np.arange(np.prod(x_shape)) % 7 - 3).reshape(x_shape).astype(np.float64)
    w = (np.arange(np.prod(w_shape)) % 5 - 2).reshape(w_shape).astype(np.float64)
    return ConvCase(x, w, **kwargs)


CONV_EXAMPLES = [
    pinned_conv((2, 3, 4, 2), (1, 1, 2, 3)),                                        # 1x1: a matmul
    pinned_conv((1, 3, 4, 2), (3, 4, 2, 2)),                                        # kernel = input
    pinned_conv((1, 7, 8, 1), (2, 1, 1, 2), strides=(3, 4)),                        # stride > kernel: gaps
    pinned_conv((1, 8, 9, 1), (3, 3, 1, 1), strides=(2, 2)),                        # VALID drops a row
    pinned_conv((1, 5, 6, 1), (2, 4, 1, 1), strides=(2, 2), padding="SAME"),        # odd pad goes after
    pinned_conv((1, 9, 8, 2), (2, 3, 2, 1), strides=(2, 3), padding="SAME", dilations=(2, 2)),
    pinned_conv((1, 4, 4, 4), (3, 3, 2, 4), padding="SAME"),                        # 2 groups
    pinned_conv((2, 7, 6, 6), (2, 3, 2, 3), strides=(1, 2), dilations=(3, 1), padding=((2, 0), (1, 3))),
    pinned_conv((2, 4, 5, 3), (2, 2, 3, 2), padding=((1, 0), (0, 2)), data_format="NCHW"),
]


def with_examples(examples, **extra):
    """@example(case=...) for each pinned case (with the same extra arguments)."""
    def decorate(test):
        for case in reversed(examples):
            test = example(case=case, **extra)(test)
        return test
    return decorate


# --------------------------------------------------------------------------- conv2d vs TF

@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=conv2d_cases(dtypes=FLOAT_DTYPES), form=st.sampled_from(["tuple", "list", "array", "hw"]))
@with_examples(CONV_EXAMPLES, form="tuple")
def test_conv2d_backprop_input_matches_tensorflow(dtype, case, form):
    """Every conv option: strides/dilations as int/pair/4-list, SAME/VALID/explicit, dilation with
    stride, groups, NCHW; filters as any memory layout or a list; input_sizes in every form."""
    case = case.with_dtype(dtype)
    groups = case.x.shape[3] // case.w.shape[2]
    if form == "hw" and groups > 1:
        form = "tuple"                      # (H, W) alone implies C_in = filters' in-channels
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    sizes = case.x.shape[1:3] if form == "hw" else spelled_sizes(sizes_in(case.x.shape, case.data_format), form)
    (_, w_arg), _ = case.convops_args()
    got, repro = call_op(convops.conv2d_backprop_input, "conv2d_backprop_input", sizes, w_arg,
                         to_format(dy, case.data_format), **conv_kwargs(case))
    bound_dx, _ = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(nhwc(got, case.data_format), want_dx, bound_dx, repro, "tf.GradientTape", dtype=case.x.dtype)


@pytest.mark.tf
@pytest.mark.parametrize("method", ["direct", "gemm"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, padding, dilations, bad_filter, direct_applies", [
    ((2, 7, 8, 5), (3, 3, 5, 6), "VALID", (1, 1), False, True),
    ((2, 7, 8, 5), (3, 2, 5, 17), "SAME", (1, 1), False, True),
    ((1, 9, 7, 4), (3, 3, 2, 6), "SAME", (1, 1), False, True),             # groups = 2
    ((1, 9, 9, 3), (2, 3, 3, 4), ((2, 0), (1, 2)), (2, 1), False, True),   # explicit, uneven, dilated
    ((1, 6, 6, 2), (2, 2, 2, 3), ((3, 0), (0, 1)), (1, 1), False, False),  # pad beyond the kernel
    ((1, 6, 5, 2), (3, 3, 2, 3), "SAME", (1, 1), True, False),             # inf filter, dy gets padded
    ((1, 6, 5, 2), (3, 3, 2, 3), ((2, 2), (2, 2)), (1, 1), True, True),    # inf filter, dy needs no pad
])
def test_conv2d_backprop_input_each_method_matches_tensorflow(method, dtype, x_shape, w_shape, padding, dilations,
                                                              bad_filter, direct_applies, monkeypatch):
    """Stride-1 input gradients run conv2d's direct kernel on dy with flipped filters
    (convops.conv._input_grad_direct) where it applies, else im2col + BLAS + col2im; both against TF,
    with the shapes where the direct path must hand over to GEMM."""
    from convops import gradients

    monkeypatch.setattr(convops.conv, "_INPUT_GRAD_METHOD", method)
    blas_calls = []
    run_blas = convops._threads.run_blas_kernel
    monkeypatch.setattr(convops._threads, "run_blas_kernel", lambda *args: blas_calls.append(1) or run_blas(*args))
    rng = np.random.default_rng(3)
    case = ConvCase(rng.uniform(-1, 1, x_shape).astype(dtype), rng.uniform(-1, 1, w_shape).astype(dtype),
                    (1, 1), padding, dilations)
    if bad_filter:
        case.w[1, 1, 0, 0] = np.inf
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    got, repro = call_op(convops.conv2d_backprop_input, "conv2d_backprop_input", case.x.shape, case.w, dy,
                         padding=padding, dilations=dilations)
    bound_dx, _ = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(got, want_dx, bound_dx, repro, f"tf.GradientTape (method {method})", dtype=case.x.dtype)
    assert bool(blas_calls) == (method == "gemm" or not direct_applies), f"wrong path taken: {repro}"


@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=conv2d_cases(dtypes=FLOAT_DTYPES))
@with_examples(CONV_EXAMPLES)
def test_conv2d_backprop_filter_matches_tensorflow(dtype, case):
    """The filter gradient for every conv option, input in any memory layout or a list."""
    case = case.with_dtype(dtype)
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    (x_arg, _), _ = case.convops_args()
    got, repro = call_op(convops.conv2d_backprop_filter, "conv2d_backprop_filter", x_arg, list(case.w.shape),
                         to_format(dy, case.data_format), **conv_kwargs(case))
    _, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(got, want_dw, bound_dw, repro, "tf.GradientTape", dtype=case.x.dtype)


FILTER_ISAS = __import__("convops._kernels.conv", fromlist=["supported_isas"]).supported_isas()


@contextlib.contextmanager
def forced_filter_path(method, isa):
    """conv2d_backprop_filter with its path (None = by shape) and instruction set forced inside
    the block; yields the list that records each call of the GEMM path (_run_blas_kernel). A
    context manager, not a fixture: Hypothesis runs many examples in one fixture scope."""
    from convops import _threads, conv as gradients
    from convops._kernels import conv as _conv_kernels

    blas_calls = []
    run_blas = convops._threads.run_blas_kernel
    saved = gradients._FILTER_GRAD_METHOD
    gradients._FILTER_GRAD_METHOD = method
    _threads.run_blas_kernel = lambda *args: blas_calls.append(1) or run_blas(*args)
    _conv_kernels.set_isa(isa)
    try:
        yield blas_calls
    finally:
        _conv_kernels.set_isa(None)
        _threads.run_blas_kernel = run_blas
        gradients._FILTER_GRAD_METHOD = saved


@pytest.mark.tf
@pytest.mark.parametrize("method, isa", [("gemm", None)] + [("direct", isa) for isa in FILTER_ISAS])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=conv2d_cases(dtypes=FLOAT_DTYPES))
@with_examples(CONV_EXAMPLES)
def test_conv2d_backprop_filter_each_method_matches_tensorflow(method, isa, dtype, case):
    """Both filter-gradient paths, forced, for every conv option: the direct SIMD kernel in every
    instruction set this CPU runs (convops.conv._filter_grad_direct; C_out/groups of whole vectors
    read dy in place, other widths a zero-padded copy) and im2col + BLAS."""
    case = case.with_dtype(dtype)
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    (x_arg, _), _ = case.convops_args()
    with forced_filter_path(method, isa) as blas_calls:
        got, repro = call_op(convops.conv2d_backprop_filter, "conv2d_backprop_filter", x_arg, list(case.w.shape),
                             to_format(dy, case.data_format), **conv_kwargs(case))
    _, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    what = f"tf.GradientTape (method {method}, instruction set {isa})"
    assert_within(got, want_dw, bound_dw, repro, what, dtype=case.x.dtype)
    if np.isfinite(dy).all() and case.x.size and dy.size:
        assert bool(blas_calls) == (method == "gemm"), f"wrong path taken: {repro}"


@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, strides, padding, bad_dy, direct", [
    ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "SAME", None, True),        # whole vectors: direct
    ((2, 9, 9, 4), (3, 3, 2, 128), (2, 2), "SAME", None, True),       # 2 groups of 64, stride 2
    ((2, 7, 8, 5), (3, 3, 5, 3), (1, 1), "SAME", None, True),         # 3 lanes: zero-padded dy copy
    ((1, 8, 8, 4), (3, 3, 1, 12), (1, 1), "VALID", None, True),       # depthwise, groups of 3 lanes
    ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "SAME", (0, 0, 3), False),  # inf where a window reads padding
    ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "SAME", (1, 3, 4), True),   # inf away from the padding
    ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "VALID", (0, 0, 0), True),  # VALID: no padding at all
])
def test_conv2d_backprop_filter_default_path_matches_tensorflow(dtype, x_shape, w_shape, strides, padding, bad_dy,
                                                                 direct):
    """The default choice of the filter-gradient path, against TF: the direct kernel skips
    the taps on padding, so a non-finite out_backprop where a window reaches the padding must go
    to im2col + BLAS, which multiplies it by the padding zeros as TF does (inf * 0 = NaN)."""
    rng = np.random.default_rng(5)
    case = ConvCase(rng.uniform(-1, 1, x_shape).astype(dtype), rng.uniform(-1, 1, w_shape).astype(dtype),
                    strides, padding)
    dy = conv_dy(case)
    if bad_dy is not None:
        dy[bad_dy] = np.inf
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    with forced_filter_path(None, None) as blas_calls:
        got, repro = call_op(convops.conv2d_backprop_filter, "conv2d_backprop_filter", case.x, case.w.shape, dy,
                             strides=strides, padding=padding)
    _, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(got, want_dw, bound_dw, repro, "tf.GradientTape", dtype=case.x.dtype)
    if bad_dy is not None and padding == "SAME" and not direct:
        assert np.isnan(got).any(), f"inf x padding zero should give NaN somewhere: {repro}"
    assert bool(blas_calls) == (not direct), f"wrong path taken: {repro}"


@pytest.mark.tf
@pytest.mark.parametrize("filter_method", ["direct", "gemm"])
@given(case=conv2d_cases(dtypes=("float64",), layouts=("C",), spell=False), scratch=st.integers(1, 4096))
def test_conv2d_gradients_in_small_chunks_match_tensorflow(filter_method, case, scratch):
    """The kernels work through the batch in chunks sized by a scratch budget (a few MiB in
    practice, so tiny test cases fit in one). With a budget of a few bytes every chunk is one
    image (input gradient) or a few output positions (filter gradient by GEMM, accumulated
    across chunks) or one output row (filter gradient by the direct kernel, _DW_CHUNK_BYTES):
    the results must not change."""
    from convops import gradients
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    kw = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    saved = convops.conv._SCRATCH_BYTES, convops.conv._DW_CHUNK_BYTES
    convops.conv._SCRATCH_BYTES = convops.conv._DW_CHUNK_BYTES = scratch
    try:
        dx = convops.conv2d_backprop_input(case.x.shape, case.w, dy, **kw)
        with forced_filter_path(filter_method, None):
            dw = convops.conv2d_backprop_filter(case.x, case.w.shape, dy, **kw)
    finally:
        convops.conv._SCRATCH_BYTES, convops.conv._DW_CHUNK_BYTES = saved
    bound_dx, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    repro = f"with convops.convops.conv._SCRATCH_BYTES = _DW_CHUNK_BYTES = {scratch}, {filter_method}: {case}"
    assert_within(dx, want_dx, bound_dx, repro, "tf.GradientTape")
    assert_within(dw, want_dw, bound_dw, repro, "tf.GradientTape")


@pytest.mark.tf
def test_dilated_conv_gradients_match_tensorflows_own_in_a_subprocess(tmp_path):
    """TF's own gradient of a dilated conv exists only with oneDNN on (float32, SAME/VALID), and oneDNN must
    be chosen before TF is imported, so it runs in a child process; this checks the
    zero-inserted-kernel oracle above against TF's real dilated backprop kernels too."""
    rng = np.random.default_rng(7)
    cases = [((2, 11, 10, 3), (3, 2, 3, 4), (1, 1), "VALID", (2, 3)),
             ((1, 12, 9, 2), (2, 3, 2, 5), (2, 1), "SAME", (3, 2)),
             ((2, 9, 9, 4), (3, 3, 4, 2), (1, 2), "VALID", (2, 2))]   # explicit padding: TF refuses even here
    arrays = {}
    for i, (xs, ws, s, p, d) in enumerate(cases):
        case = ConvCase(np.zeros(xs), np.zeros(ws), s, p, d)
        arrays[f"x{i}"] = rng.standard_normal(xs).astype(np.float32)
        arrays[f"w{i}"] = rng.standard_normal(ws).astype(np.float32)
        arrays[f"dy{i}"] = rng.standard_normal((xs[0], *case.output_hw, ws[3])).astype(np.float32)
    np.savez(tmp_path / "in.npz", **arrays)
    script = textwrap.dedent("""
        import json, os, sys
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import numpy as np, tensorflow as tf
        data = dict(np.load(sys.argv[1]))
        cases = json.loads(sys.argv[2])
        out = {}
        for i, (s, p, d) in enumerate(cases):
            pad = p if isinstance(p, str) else [[0, 0], p[0], p[1], [0, 0]]
            x, w = tf.constant(data[f"x{i}"]), tf.constant(data[f"w{i}"])
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x); tape.watch(w)
                y = tf.nn.conv2d(x, w, strides=[1, *s, 1], padding=pad, dilations=[1, *d, 1])
            out[f"dx{i}"] = tape.gradient(y, x, output_gradients=tf.constant(data[f"dy{i}"])).numpy()
            out[f"dw{i}"] = tape.gradient(y, w, output_gradients=tf.constant(data[f"dy{i}"])).numpy()
        np.savez(sys.argv[3], **out)
    """)
    spec = json.dumps([[list(s), p if isinstance(p, str) else [list(q) for q in p], list(d)]
                       for _, _, s, p, d in cases])
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "in.npz"), spec, str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"TF subprocess failed:\n{done.stderr[-3000:]}"
    tf_out = np.load(tmp_path / "out.npz")
    for i, (xs, ws, s, p, d) in enumerate(cases):
        x, w, dy = arrays[f"x{i}"], arrays[f"w{i}"], arrays[f"dy{i}"]
        case = ConvCase(x, w, s, p, d)
        got_dx = convops.conv2d_backprop_input(x.shape, w, dy, s, p, dilations=d)
        got_dw = convops.conv2d_backprop_filter(x, w.shape, dy, s, p, dilations=d)
        bound_dx, bound_dw = conv_grad_bounds(case, dy, tf_out[f"dx{i}"], tf_out[f"dw{i}"])
        repro = f"case {i}: x {xs}, w {ws}, strides {s}, padding {p}, dilations {d}"
        # oneDNN's float32 kernels may use a different (blocked) summation: twice the bound.
        assert_within(got_dx, tf_out[f"dx{i}"], 2 * bound_dx, repro, "TF oneDNN dilated gradient")
        assert_within(got_dw, tf_out[f"dw{i}"], 2 * bound_dw, repro, "TF oneDNN dilated gradient")


# --------------------------------------------------------------------------- conv2d_transpose

@st.composite
def transpose_cases(draw):
    """A conv2d case TF can run transposed (no groups, no dilation), with an output size drawn
    among all the sizes conv2d maps to the case's output (the ambiguity of stride > 1)."""
    case = draw(conv2d_cases(dtypes=FLOAT_DTYPES, max_groups=1, max_dilation=1, layouts=("C",), spell=False))
    return case, draw(st.integers(0, case.strides[0] - 1), label="extra rows"), \
        draw(st.integers(0, case.strides[1] - 1), label="extra cols")


def transpose_output_hw(case: ConvCase, extra_rows: int, extra_cols: int):
    """The conv input size grown by the extra rows/cols where conv2d still maps it to the case's
    output size (TF's own rule, which the tests check separately), else the case's input size."""
    hw = []
    for axis, extra in enumerate((extra_rows, extra_cols)):
        mode = case.padding if isinstance(case.padding, str) else case.padding[axis]
        size = case.x.shape[1 + axis] + extra
        if convops.arithmetic.conv_output_size(size, case.w.shape[axis], case.strides[axis], mode) \
                != case.output_hw[axis]:
            size = case.x.shape[1 + axis]
        hw.append(size)
    return tuple(hw)


@pytest.mark.tf
@given(data=transpose_cases())
def test_conv2d_transpose_matches_tensorflow(data):
    """tf.nn.conv2d_transpose's contract: filters (KH, KW, C_out, C_in), output_shape chooses among
    the sizes a strided conv maps to the same input size; NHWC and NCHW."""
    case, extra_rows, extra_cols = data
    tf = oracle.load()
    h, w = transpose_output_hw(case, extra_rows, extra_cols)
    n, c = case.x.shape[0], case.x.shape[3]
    small = conv_dy(case)        # the transposed op's input: the conv's output shape
    pad = case.padding if isinstance(case.padding, str) else [[0, 0], *map(list, case.padding), [0, 0]]
    want = tf.nn.conv2d_transpose(tf.constant(small), tf.constant(case.w), [n, h, w, c], [1, *case.strides, 1],
                                  pad).numpy()
    got, repro = call_op(convops.conv2d_transpose, "conv2d_transpose", to_format(small, case.data_format), case.w,
                         sizes_in((n, h, w, c), case.data_format), case.strides, case.padding,
                         data_format=case.data_format)
    got = nhwc(got, case.data_format)
    mag = tf.nn.conv2d_transpose(tf.constant(np.abs(small).astype(np.float64)),
                                 tf.constant(np.abs(case.w).astype(np.float64)), [n, h, w, c],
                                 [1, *case.strides, 1], pad).numpy()
    bound = conv_bound(want, mag, case.w.shape[0] * case.w.shape[1] * case.w.shape[3], case.x.dtype)
    assert_within(got, want, bound, repro, "tf.nn.conv2d_transpose")
    same = convops.conv2d_backprop_input((n, h, w, c), case.w, small, case.strides, case.padding)
    assert np.array_equal(same, nhwc(got, "NHWC")), f"conv2d_transpose must equal conv2d_backprop_input\n{repro}"


@pytest.mark.tf
@given(k=st.integers(1, 4), s=st.integers(1, 4), small=st.integers(1, 5), big=st.integers(0, 20),
       padding=st.sampled_from(["SAME", "VALID"]))
def test_conv2d_transpose_refuses_exactly_the_sizes_tensorflow_refuses(k, s, small, big, padding):
    """An output size is possible iff conv2d maps it back to the input size; convops and TF agree
    on every size, and convops' message lists the possible ones."""
    tf = oracle.load()
    x = np.ones((1, small, 1, 1), np.float64)
    w = np.ones((k, 1, 1, 1), np.float64)
    try:
        tf.nn.conv2d_transpose(tf.constant(x), tf.constant(w), [1, big, 1, 1], [1, s, 1, 1], padding)
        tf_ok = True
    except Exception:  # noqa: BLE001 - TF raises InvalidArgumentError (or ValueError) for bad shapes
        tf_ok = False
    try:
        convops.conv2d_transpose(x, w, (1, big, 1, 1), (s, 1), padding)
        ok, message = True, ""
    except ValueError as exc:
        ok, message = False, str(exc)
    assert ok == tf_ok, (f"conv2d_transpose(input height {small}, kernel {k}, stride {s}, {padding}, output height "
                         f"{big}): TensorFlow {'accepts' if tf_ok else 'refuses'}, convops "
                         f"{'accepts' if ok else 'refuses: ' + message}")
    if not ok:
        possible = [i for i in range(0, 40) if convops.arithmetic.conv_output_size(i, k, s, padding) == small]
        assert "impossible" in message and "output_shape height" in message, message
        if possible:
            assert str(possible[0]) in message and str(possible[-1]) in message, (possible, message)


def test_conv2d_transpose_error_names_the_possible_sizes():
    x = np.ones((1, 3, 3, 4), np.float32)
    w = np.ones((3, 3, 2, 4), np.float32)
    with pytest.raises(ValueError, match=r"output_shape height 7 is impossible .* maps height 7 to 4, not 3; "
                                         r"output_shape heights 5 to 6 give 3"):
        convops.conv2d_transpose(x, w, (1, 7, 6, 2), 2, "SAME")
    with pytest.raises(ValueError, match=r"must have 4 channels"):
        convops.conv2d_transpose(np.ones((1, 3, 3, 5), np.float32), w, (1, 6, 6, 2), 2)
    with pytest.raises(ValueError, match=r"batch \(2\) must equal the batch of `input` \(1\)"):
        convops.conv2d_transpose(x, w, (2, 6, 6, 2), 2)
    with pytest.raises(ValueError, match=r"output_shape.*must have 2 or 4 entries"):
        convops.conv2d_transpose(x, w, (1, 6, 6), 2)
    with pytest.raises(TypeError, match=r"dtype must match"):
        convops.conv2d_transpose(x, w.astype(np.float64), (1, 6, 6, 2), 2)
    with pytest.raises(ValueError, match=r"multiple of `filters`.shape\[2\] = 2"):
        convops.conv2d_transpose(x, w, (1, 6, 6, 3), 2)


def test_conv2d_backprop_errors_name_the_argument():
    x = np.ones((1, 5, 5, 2), np.float32)
    w = np.ones((3, 3, 2, 4), np.float32)
    dy = np.ones((1, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"input height 6 is impossible with out_backprop height 3"):
        convops.conv2d_backprop_input((1, 6, 5, 2), w, dy)
    with pytest.raises(ValueError, match=r"`out_backprop` must have 4 channels"):
        convops.conv2d_backprop_input((1, 5, 5, 2), w, dy[..., :3])
    with pytest.raises(ValueError, match=r"`filter_sizes` must have 4 entries"):
        convops.conv2d_backprop_filter(x, (3, 3, 2), dy)
    with pytest.raises(ValueError, match=r"input channels \(2\) must be a positive multiple of filter_sizes\[2\] = 3"):
        convops.conv2d_backprop_filter(x, (3, 3, 3, 4), dy)
    with pytest.raises(ValueError, match=r"input width 5 is impossible with out_backprop width 2"):
        convops.conv2d_backprop_filter(x, (3, 3, 2, 4), dy[:, :, :2])
    with pytest.raises(TypeError, match=r"`input` of conv2d_backprop_filter must have one of the dtypes"):
        convops.conv2d_backprop_filter(x.astype(np.int32), (3, 3, 2, 4), dy.astype(np.int32))
    with pytest.raises(ValueError, match=r"`out_backprop` of conv2d_backprop_input must be 4-D"):
        convops.conv2d_backprop_input((1, 5, 5, 2), w, dy[0])
    # Huge geometry: the possible sizes are solved for, not searched (this returns at once).
    with pytest.raises(ValueError, match=r"maps height 2000000005 to 5, not 0; input heights 0 to 2000000000 give 0"):
        convops.conv2d_backprop_input((1, 2 * 10**9 + 5, 5, 2), w, np.ones((1, 0, 3, 4), np.float32),
                                      dilations=(10**9, 1))


def test_conv2d_gradients_of_an_empty_output_are_zero():
    """A kernel larger than the input: the forward output is empty, so nothing flows back."""
    x = np.ones((2, 2, 3, 1), np.float32)
    dy = np.ones((2, 0, 1, 4), np.float32)
    dx = convops.conv2d_backprop_input(x.shape, np.ones((3, 3, 1, 4), np.float32), dy)
    dw = convops.conv2d_backprop_filter(x, (3, 3, 1, 4), dy)
    assert dx.shape == x.shape and not dx.any()
    assert dw.shape == (3, 3, 1, 4) and not dw.any()


def test_conv2d_gradients_float16_are_float32_rounded_once():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float16)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float16)
    dy = rng.standard_normal((2, 4, 4, 4)).astype(np.float16)
    dx = convops.conv2d_backprop_input(x.shape, w, dy)
    dw = convops.conv2d_backprop_filter(x, w.shape, dy)
    assert dx.dtype == dw.dtype == np.float16
    want_dx = convops.conv2d_backprop_input(x.shape, w.astype(np.float32), dy.astype(np.float32))
    want_dw = convops.conv2d_backprop_filter(x.astype(np.float32), w.shape, dy.astype(np.float32))
    assert np.array_equal(dx, want_dx.astype(np.float16)) and np.array_equal(dw, want_dw.astype(np.float16))


# --------------------------------------------------------------------------- max pool

def tf_pool_grad(op: str, case: PoolCase, dy: np.ndarray) -> np.ndarray:
    tf = oracle.load()
    x = tf.constant(case.x)
    pad = case.padding if isinstance(case.padding, str) else [[0, 0], *map(list, case.padding), [0, 0]]
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = getattr(tf.nn, op)(x, [1, *case.ksize, 1], [1, *case.strides, 1], pad)
    return tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()


def pool_kwargs(case: PoolCase) -> dict:
    kwargs = {"ksize": case.spelled.get("ksize", case.ksize), "strides": case.spelled.get("strides", case.strides),
              "padding": case.spelled.get("padding", case.padding)}
    if case.data_format != "NHWC":
        kwargs["data_format"] = case.data_format
    return kwargs


def pinned_pool(values, ksize, strides, padding="VALID", **kwargs) -> PoolCase:
    x = np.asarray(values, dtype=np.float64)[None, :, :, None]
    return PoolCase(x, ksize, strides, padding, **kwargs)


_SQUARE = np.arange(25, dtype=np.float64).reshape(5, 5) % 7 - 3
POOL_EXAMPLES = [
    pinned_pool(_SQUARE, (1, 1), (1, 1)),                                   # identity
    pinned_pool(_SQUARE, (5, 5), (1, 1)),                                   # window = input
    pinned_pool(_SQUARE, (2, 1), (3, 4)),                                   # stride > window: gaps
    pinned_pool(_SQUARE, (3, 3), (1, 1)),                                   # heavy overlap
    pinned_pool(-1 - np.arange(20).reshape(4, 5), (3, 3), (2, 2), "SAME"),  # padding never wins
    pinned_pool(-1 - np.arange(20).reshape(4, 5), (3, 2), (1, 1), ((2, 1), (0, 1))),
    pinned_pool([[1, 1, 0], [1, 1, 0], [0, 0, 0]], (2, 2), (1, 1)),         # ties
    pinned_pool([[np.nan, 1, 2], [3, np.nan, 0], [-np.inf, 5, np.nan]], (2, 2), (1, 1)),
    pinned_pool(_SQUARE, (3, 2), (2, 1), "SAME", data_format="NCHW"),
]


@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=pool2d_cases(dtypes=FLOAT_DTYPES, image_2d=False))
@with_examples(POOL_EXAMPLES)
def test_max_pool2d_grad_matches_tensorflow_exactly(dtype, case):
    """Ties, NaN (first cell / later / all), ±inf, overlap, SAME/VALID/explicit, NCHW, layouts: bit
    for bit, since both add the same terms in output order."""
    case = case.with_dtype(dtype)
    dy = upstream_for(case, (case.x.shape[0], *case.output_hw, case.x.shape[3]))
    want = tf_pool_grad("max_pool2d", case, dy)
    (x_arg,), _ = case.convops_args()
    got, repro = call_op(convops.max_pool2d_grad, "max_pool2d_grad", x_arg, to_format(dy, case.data_format),
                         **pool_kwargs(case))
    assert_exact(nhwc(got, case.data_format), want, repro, "tf.GradientTape")


def _tf_rule(values, ksize=(2, 2), strides=(2, 2), padding="VALID", dtype=np.float32):
    """(TF's max-pool gradient of ones, convops') for a literal (H, W) image."""
    case = pinned_pool(values, ksize, strides, padding).with_dtype(dtype)
    dy = np.ones((1, *case.output_hw, 1), dtype)
    return tf_pool_grad("max_pool2d", case, dy)[0, :, :, 0], \
        convops.max_pool2d_grad(case.x, dy, ksize, strides, padding)[0, :, :, 0]


@pytest.mark.tf
@pytest.mark.parametrize("values, expected", [
    ([[1, 3], [3, 3]], [[0, 1], [0, 0]]),                    # ties: the first maximum, row-major
    ([[np.nan, 3], [4, 1]], [[1, 0], [0, 0]]),               # NaN first: keeps it (forward gives 4)
    ([[1, np.nan], [4, 1]], [[0, 0], [1, 0]]),               # a later NaN is ignored
    ([[np.nan, np.nan], [np.nan, np.nan]], [[1, 0], [0, 0]]),
    ([[-np.inf, -np.inf], [-np.inf, -np.inf]], [[1, 0], [0, 0]]),
])
def test_max_pool2d_grad_tie_and_nan_rules_are_tensorflows(values, expected):
    """Checked with tf.constant inputs in TF 2.21 (oneDNN off), and pinned here by hand so a
    change in either TF or convops shows up."""
    want, got = _tf_rule(values)
    assert np.array_equal(want, np.array(expected, np.float32)), f"TensorFlow's rule changed: {want}"
    assert np.array_equal(got, want), f"convops {got} != TensorFlow {want} for {values}"


@pytest.mark.tf
def test_max_pool2d_grad_overlap_accumulates_and_padding_gets_nothing():
    want, got = _tf_rule([[1, 2, 3], [4, 9, 6], [7, 8, 5]], (2, 2), (1, 1))
    assert np.array_equal(want, [[0, 0, 0], [0, 4, 0], [0, 0, 0]]) and np.array_equal(got, want)
    # All negative with SAME padding: the padded cells (0 if they were zeros) never win.
    want, got = _tf_rule([[-5, -6, -7], [-8, -9, -1], [-3, -2, -4]], (2, 2), (2, 2), "SAME", np.float64)
    assert np.array_equal(want, [[1, 0, 0], [0, 0, 1], [0, 1, 1]]) and np.array_equal(got, want)


def test_max_pool2d_grad_errors():
    x = np.ones((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"`grad` must have the max-pool output's shape \(1, 2, 2, 2\)"):
        convops.max_pool2d_grad(x, np.ones((1, 3, 3, 2), np.float32), 2, 2)
    with pytest.raises(TypeError, match=r"`orig_input` of max_pool2d_grad must have one of the dtypes"):
        convops.max_pool2d_grad(x.astype(np.int32), np.ones((1, 2, 2, 2), np.int32), 2, 2)
    with pytest.raises(ValueError, match=r"smaller than the window"):
        convops.max_pool2d_grad(x, np.ones((1, 2, 2, 2), np.float32), 2, 2, ((2, 0), (0, 0)))


# --------------------------------------------------------------------------- argmax

@pytest.mark.tf
@pytest.mark.parametrize("dtype", ("float32", "float64", "int32", "uint8"))
@given(case=pool2d_cases(data_formats=("NHWC",), paddings=("SAME", "VALID"), layouts=("C", "F", "negative"),
                         image_2d=False),
       batch_index=st.booleans(), index32=st.booleans())
@with_examples([pinned_pool([[np.nan, 1, 2], [3, np.nan, 0], [-np.inf, 5, np.nan]], (2, 2), (1, 1))],
               batch_index=True, index32=False)
def test_max_pool2d_with_argmax_matches_tensorflow(dtype, case, batch_index, index32):
    """Values and indices ``(y*W + x)*C + c`` (plus the batch offset when asked), bit for bit."""
    if case.seed is None and np.dtype(dtype).kind != "f":
        # A pinned float example cast to integers: NaN and inf have no integer value.
        case = replace(case, x=np.nan_to_num(case.x, nan=0.0, posinf=7.0, neginf=-7.0))
    case = case.with_dtype(dtype)
    tf = oracle.load()
    index_dtype = np.int32 if index32 else np.int64
    want_out, want_arg = tf.nn.max_pool_with_argmax(tf.constant(case.x), [1, *case.ksize, 1],
                                                    [1, *case.strides, 1], case.padding,
                                                    output_dtype=tf.int32 if index32 else tf.int64,
                                                    include_batch_in_index=batch_index)
    (x_arg,), _ = case.convops_args()
    (out, arg), repro = call_op(convops.max_pool2d_with_argmax, "max_pool2d_with_argmax", x_arg, case.ksize,
                                case.strides, case.padding, output_dtype=index_dtype,
                                include_batch_in_index=batch_index)
    assert_exact(out, want_out.numpy(), repro, "tf.nn.max_pool_with_argmax")
    assert_exact(arg, want_arg.numpy(), repro, "tf.nn.max_pool_with_argmax")


@given(case=pool2d_cases(dtypes=("float64",), data_formats=("NHWC",), paddings=("explicit", "SAME")))
def test_argmax_is_where_the_gradient_goes(case):
    """No TF needed: max_pool2d_grad of a one-hot upstream gradient lands exactly at the argmax."""
    x = case.x
    _, arg = convops.max_pool2d_with_argmax(x, case.ksize, case.strides, case.padding)
    counts = convops.max_pool2d_grad(x, np.ones(arg.shape), case.ksize, case.strides, case.padding)
    want = np.zeros(x.shape)
    for n in range(x.shape[0]):
        np.add.at(want[n].reshape(-1), arg[n].reshape(-1), 1.0)
    assert np.array_equal(counts, want)


def test_max_pool2d_with_argmax_errors():
    x = np.ones((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"`data_format` of max_pool2d_with_argmax must be 'NHWC'"):
        convops.max_pool2d_with_argmax(x, 2, 2, data_format="NCHW")
    with pytest.raises(TypeError, match=r"`output_dtype` must be int64 or int32"):
        convops.max_pool2d_with_argmax(x, 2, 2, output_dtype=np.float32)


# --------------------------------------------------------------------------- avg pool

@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=pool2d_cases(dtypes=FLOAT_DTYPES, paddings=("SAME", "VALID"), styles=("normal",), image_2d=False))
@with_examples([pinned_pool(_SQUARE, (3, 3), (1, 1), "SAME"), pinned_pool(_SQUARE, (2, 3), (2, 2), "SAME"),
                pinned_pool(_SQUARE, (2, 2), (3, 3), "VALID", data_format="NCHW")])
def test_avg_pool2d_grad_matches_tensorflow_exactly(dtype, case):
    """Shares of 1/count (real cells only) added in TF's order: bit for bit."""
    case = case.with_dtype(dtype)
    dy = upstream_for(case, (case.x.shape[0], *case.output_hw, case.x.shape[3]))
    want = tf_pool_grad("avg_pool2d", case, dy)
    got, repro = call_op(convops.avg_pool2d_grad, "avg_pool2d_grad", sizes_in(case.x.shape, case.data_format),
                         to_format(dy, case.data_format), **pool_kwargs(case))
    assert_exact(nhwc(got, case.data_format), want, repro, "tf.GradientTape")


@pytest.mark.tf
@pytest.mark.parametrize("readable", [False, True])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("ksize, strides, padding", [
    ((2, 2), (2, 2), "VALID"),      # disjoint windows (KH <= sh, KW <= sw): the write-once loop
    ((2, 2), (2, 2), "SAME"),       # ... with the last row and column clipped (odd sides)
    ((2, 1), (3, 2), "VALID"),      # ... with cells in no window (gaps) between and after windows
    ((3, 2), (3, 2), "SAME"),       # ... padding on both sides, clipped windows of 2-6 cells
    ((3, 3), (2, 2), "SAME"),       # overlapping windows: the gather loop, clipped windows
    ((3, 3), (1, 1), "VALID"),
    ((2, 3), (1, 2), "SAME"),
])
def test_avg_pool2d_grad_kernels_match_tensorflow(readable, dtype, ksize, strides, padding, monkeypatch):
    """Each loop of the avg-pool gradient (_kernels/pool_grad.pyx: readable, write-once for disjoint
    windows, fast gather) bit for bit against TF, including the sign of zero: a -0.0 upstream
    value gives +0.0, as TF's zero-initialised sums do."""
    from convops import gradients

    monkeypatch.setattr(convops.pooling, "AVG_POOL_GRAD_READABLE", readable)
    case = PoolCase(np.zeros((2, 7, 9, 5), dtype), ksize, strides, padding)
    out_shape = convops.avg_pool2d(case.x, ksize, strides, padding).shape
    dy = np.random.default_rng(7).uniform(-2.0, 2.0, out_shape).astype(dtype)
    dy[..., 0] = -0.0
    want = tf_pool_grad("avg_pool2d", case, dy)
    got, repro = call_op(convops.avg_pool2d_grad, "avg_pool2d_grad", case.x.shape, dy, ksize, strides, padding)
    what = f"tf.GradientTape (readable loop: {readable})"
    assert_exact(got, want, repro, what)
    assert np.array_equal(np.signbit(got), np.signbit(want)), f"signs of zeros differ from {what}\n  reproduce: {repro}"


@pytest.mark.tf
@pytest.mark.parametrize("count_include_pad", [False, True])
@given(case=pool2d_cases(dtypes=("float64",), paddings=("explicit", "SAME"), styles=("normal",),
                         data_formats=("NHWC",)))
def test_avg_pool2d_grad_explicit_padding_and_count_include_pad(count_include_pad, case):
    """What tf.nn.avg_pool2d lacks, differentiated through TF: sum-pool of the zero-padded input
    divided by the real-cell count (or by KH*KW)."""
    tf = oracle.load()
    (top, bottom), (left, right) = case.explicit_padding
    paddings = [[0, 0], [top, bottom], [left, right], [0, 0]]
    kh, kw = case.ksize
    x = tf.constant(case.x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        sums = tf.nn.avg_pool2d(tf.pad(x, paddings), case.ksize, case.strides, "VALID") * (kh * kw)
        if count_include_pad:
            y = sums / (kh * kw)
        else:
            ones = tf.pad(tf.ones_like(x[..., :1]), paddings)
            y = sums / (tf.nn.avg_pool2d(ones, case.ksize, case.strides, "VALID") * (kh * kw))
    dy = upstream_for(case, y.shape)
    want = tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()
    got, repro = call_op(convops.avg_pool2d_grad, "avg_pool2d_grad", case.x.shape, dy, case.ksize, case.strides,
                         case.padding, count_include_pad=count_include_pad)
    magnitude = convops.avg_pool2d_grad(case.x.shape, np.abs(dy), case.ksize, case.strides, case.padding,
                                        count_include_pad=count_include_pad)
    assert_within(got, want, 8 * np.finfo(np.float64).eps * kh * kw * magnitude, repro, "TF construction")


def test_avg_pool2d_grad_errors():
    with pytest.raises(ValueError, match=r"`grad` must have the avg-pool output's shape \(1, 2, 2, 1\)"):
        convops.avg_pool2d_grad((1, 4, 4, 1), np.ones((1, 3, 3, 1)), 2, 2)
    with pytest.raises(ValueError, match=r"`orig_input_shape` must have 4 entries"):
        convops.avg_pool2d_grad((4, 4, 1), np.ones((1, 2, 2, 1)), 2, 2)
    with pytest.raises(TypeError, match=r"`grad` of avg_pool2d_grad must have one of the dtypes"):
        convops.avg_pool2d_grad((1, 4, 4, 1), np.ones((1, 2, 2, 1), np.int64), 2, 2)


# --------------------------------------------------------------------------- pad

def tf_pad_grad(case: PadCase, dy: np.ndarray) -> np.ndarray:
    """TF's gradient of tf.pad (CONSTANT/REFLECT/SYMMETRIC), of a gather along the same index
    maps (EDGE/CIRCULAR: written with NumPy's np.pad modes, not convops'), or of the MEAN
    construction (zero pad + the mean over the padded axes outside the interior)."""
    tf = oracle.load()
    x = tf.constant(case.x)
    mode = case.mode.upper()
    with tf.GradientTape() as tape:
        tape.watch(x)
        if mode in ("CONSTANT", "REFLECT", "SYMMETRIC"):
            y = tf.pad(x, [list(p) for p in case.paddings], mode=mode)
        elif mode in ("EDGE", "CIRCULAR"):
            y = x
            for axis, (before, after) in enumerate(case.paddings):
                size = case.x.shape[axis]
                index = np.pad(np.arange(size), (before, after), mode="edge" if mode == "EDGE" else "wrap")
                y = tf.gather(y, index, axis=axis)
        else:  # MEAN
            axes = [axis for axis, p in enumerate(case.paddings) if tuple(p) != (0, 0)]
            y = tf.pad(x, [list(p) for p in case.paddings])
            if axes:
                mean = tf.reduce_mean(x, axis=axes, keepdims=True)
                outside = tf.constant(1 - np.pad(np.ones(case.x.shape), case.paddings), dtype=x.dtype)
                y = y + outside * mean
    # A gather's gradient comes back as IndexedSlices: densify it.
    return tf.convert_to_tensor(tape.gradient(y, x, output_gradients=tf.constant(dy))).numpy()


def pad_dy(case: PadCase) -> np.ndarray:
    shape = tuple(n + a + b for n, (a, b) in zip(case.x.shape, case.paddings))
    return make_values(np.random.default_rng(sum(shape) + 17), shape, case.x.dtype, "normal")


@pytest.mark.tf
@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
@given(data=st.data())
def test_pad_grad_matches_tensorflow_exactly(mode, data):
    """tf.pad's own modes (MirrorPadGrad folds the border back): bit for bit, any rank."""
    case = data.draw(pad_cases(dtypes=FLOAT_DTYPES, modes=(mode,)), label="case")
    dy = pad_dy(case)
    want = tf_pad_grad(case, dy)
    got, repro = call_op(convops.pad_grad, "pad_grad", dy, [list(p) for p in case.paddings], case.spelled_mode)
    assert_exact(got, want, repro, "tf.GradientTape")


@pytest.mark.tf
@given(case=pad_cases(dtypes=FLOAT_DTYPES, modes=("EDGE", "CIRCULAR", "MEAN"), allow_zero_size=False))
@example(case=PadCase(np.arange(6.0).reshape(2, 3), ((1, 2), (4, 0)), "CIRCULAR"))
@example(case=PadCase(np.arange(6.0).reshape(2, 3), ((1, 2), (0, 0)), "MEAN"))
def test_pad_grad_other_modes_match_tensorflow(case):
    """EDGE and CIRCULAR (gradient of tf.gather along np.pad's index maps) and MEAN; the sums may
    be ordered differently, so within a few ulps of the summed magnitudes."""
    dy = pad_dy(case)
    want = tf_pad_grad(case, dy)
    got, repro = call_op(convops.pad_grad, "pad_grad", dy, [list(p) for p in case.paddings], case.mode)
    magnitude = tf_pad_grad(replace(case, x=np.abs(case.x)), np.abs(dy))
    # Any summation order is within (terms) * eps * sum|terms|; dy.size bounds the term count.
    bound = 2 * dy.size * np.finfo(case.x.dtype).eps * magnitude
    assert_within(got, want, bound, repro, "TF construction")


def test_pad_grad_errors():
    with pytest.raises(ValueError, match=r"`paddings` \(3, 3\) in dimension 0 exceed the size of `grad` there \(5\)"):
        convops.pad_grad(np.ones(5), [[3, 3]])
    with pytest.raises(ValueError, match=r"REFLECT mode must be <= size - 1 = 2 in dimension 0"):
        convops.pad_grad(np.ones(9), [[3, 3]], "REFLECT")
    with pytest.raises(ValueError, match=r"`mode` must be one of"):
        convops.pad_grad(np.ones(5), [[1, 1]], "WRAP")
    with pytest.raises(ValueError, match=r"`paddings` must have shape \[rank, 2\] = \[2, 2\]"):
        convops.pad_grad(np.ones((5, 5)), [[1, 1]])


# --------------------------------------------------------------------------- no TF: finite differences

def _fd_check(loss, x: np.ndarray, grad: np.ndarray, what: str, h: float = 1e-6, rtol: float = 1e-6) -> None:
    """Central differences of the scalar ``loss`` at ``x`` against ``grad``, element by element."""
    numeric = central_differences(loss, x, h).reshape(-1)
    scale = max(1.0, float(np.abs(grad).max()))
    error = np.abs(numeric - grad.reshape(-1))
    worst = int(np.argmax(error))
    assert error[worst] <= rtol * scale * 100, (f"{what}: finite difference {numeric[worst]!r} vs gradient "
                                                f"{grad.reshape(-1)[worst]!r} at flat index {worst}")


@given(case=conv2d_cases(dtypes=("float64",), layouts=("C",), spell=False, max_kernel=3, max_groups=2))
@with_examples(CONV_EXAMPLES[:3])
def test_conv2d_gradients_finite_differences(case):
    """float64, every option (groups, dilation, NCHW...), checked against the forward conv2d
    alone: d/dx and d/dw of sum(conv2d(x, w) * dy) by central differences (one image, so that
    the number of forward evaluations stays small)."""
    case = replace(case, x=np.ascontiguousarray(case.x[:1]))
    dy = conv_dy(case)
    kw = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    x, w = case.x.copy(), case.w.copy()
    dx = convops.conv2d_backprop_input(x.shape, w, dy, **kw)
    dw = convops.conv2d_backprop_filter(x, w.shape, dy, **kw)
    _fd_check(lambda v: float(np.sum(convops.conv2d(v, w, **kw) * dy)), x, dx, f"d/dx of {case}")
    _fd_check(lambda v: float(np.sum(convops.conv2d(x, v, **kw) * dy)), w, dw, f"d/dw of {case}")


@given(case=conv2d_cases(dtypes=("float64",), layouts=("C",), spell=False))
def test_conv2d_gradients_are_adjoint_to_conv2d(case):
    """conv2d is linear in x and in w, so <conv2d(v, w), dy> = <v, backprop_input(dy)> for any v
    (and likewise for w) — an exact identity, checked on larger cases than finite differences."""
    dy = conv_dy(case)
    kw = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    rng = np.random.default_rng((case.seed or 0) + 2)
    v, u = rng.standard_normal(case.x.shape), rng.standard_normal(case.w.shape)
    dx = convops.conv2d_backprop_input(case.x.shape, case.w, dy, **kw)
    dw = convops.conv2d_backprop_filter(case.x, case.w.shape, dy, **kw)
    lhs_x, rhs_x = np.sum(convops.conv2d(v, case.w, **kw) * dy), np.sum(v * dx)
    lhs_w, rhs_w = np.sum(convops.conv2d(case.x, u, **kw) * dy), np.sum(u * dw)
    scale_x = np.sum(convops.conv2d(np.abs(v), np.abs(case.w), **kw) * np.abs(dy))
    scale_w = np.sum(convops.conv2d(np.abs(case.x), np.abs(u), **kw) * np.abs(dy))
    assert abs(lhs_x - rhs_x) <= 1e-12 * scale_x + 1e-300, (lhs_x, rhs_x, case)
    assert abs(lhs_w - rhs_w) <= 1e-12 * scale_w + 1e-300, (lhs_w, rhs_w, case)


@given(case=pool2d_cases(dtypes=("float64",), styles=("normal",), layouts=("C",), spell=False,
                         data_formats=("NHWC",), image_2d=False))
def test_pool_gradients_finite_differences(case):
    """max_pool2d (distinct values, so no ties) and avg_pool2d, against their forward ops."""
    x = np.ascontiguousarray(case.x[:1, :, :, :2])        # one image, <= 2 channels: few evaluations
    case = replace(case, x=x)
    args = (case.ksize, case.strides, case.padding)
    dy = upstream_for(case, (x.shape[0], *case.output_hw, x.shape[3]))
    d_max = convops.max_pool2d_grad(x, dy, *args)
    d_avg = convops.avg_pool2d_grad(x.shape, dy, *args)
    _fd_check(lambda v: float(np.sum(convops.max_pool2d(v, *args) * dy)), x, d_max, f"max pool {case}")
    _fd_check(lambda v: float(np.sum(convops.avg_pool2d(v, *args) * dy)), x, d_avg, f"avg pool {case}")


@given(case=pad_cases(dtypes=("float64",), modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"),
                      layouts=("C",), allow_zero_size=False, max_rank=3))
def test_pad_grad_finite_differences(case):
    """Every mode (MEAN too: its border moves with every cell it averages), any rank <= 3."""
    x = np.random.default_rng(case.x.size).standard_normal(case.x.shape)   # finite values, any style
    dy = pad_dy(replace(case, x=x))
    grad = convops.pad_grad(dy, case.paddings, case.mode)
    _fd_check(lambda v: float(np.sum(convops.pad(v, case.paddings, case.mode) * dy)), x, grad, f"pad {case.mode}")


def test_gradients_do_not_depend_on_the_thread_count():
    """Every kernel gathers in a fixed order, so 1 and 2 threads give identical bits."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 20, 20, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    dy = rng.standard_normal((8, 10, 10, 32)).astype(np.float32)
    dp = rng.standard_normal((8, 10, 10, 16)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        with convops.num_threads(threads):
            runs.append([convops.conv2d_backprop_input(x.shape, w, dy, 2, "SAME"),
                         convops.conv2d_backprop_filter(x, w.shape, dy, 2, "SAME"),
                         convops.max_pool2d_grad(x, dp, 3, 2, "SAME"),
                         convops.avg_pool2d_grad(x.shape, dp, 3, 2, "SAME"),
                         convops.pad_grad(x, [[0, 0], [2, 3], [1, 4], [0, 0]], "REFLECT")])
    for one, two in zip(*runs):
        assert np.array_equal(one, two)


def test_concurrent_python_threads_get_the_same_results_and_leave_blas_alone():
    """The conv gradients run BLAS single-threaded inside their own parallel loops; calls from
    several Python threads at once must neither change the results nor leave NumPy's/SciPy's
    BLAS thread counts limited afterwards."""
    import threading

    from threadpoolctl import threadpool_info

    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 14, 14, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 16)).astype(np.float32)
    dy = rng.standard_normal((8, 12, 12, 16)).astype(np.float32)
    want = (convops.conv2d_backprop_filter(x, w.shape, dy), convops.conv2d_backprop_input(x.shape, w, dy))
    failures = []

    def work():
        for _ in range(10):
            got = (convops.conv2d_backprop_filter(x, w.shape, dy), convops.conv2d_backprop_input(x.shape, w, dy))
            if not all(np.array_equal(a, b) for a, b in zip(got, want)):
                failures.append("different result")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    after = [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    assert after == before
