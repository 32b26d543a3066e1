# Size: the properties of conv2d's three gradient functions against TensorFlow.
"""conv2d's gradients against ``tf.GradientTape``, plus finite-difference checks that need no TF.

The oracle is TensorFlow with oneDNN off, which cannot differentiate two things (checked with TF
2.21): a dilated convolution ("Current CPU implementations do not yet support dilation rates
larger than 1") and a grouped one ("Gradients for grouped convolutions are not supported on
CPU"). So the conv oracle below differentiates an *equivalent* network that TF can handle:

* dilated conv ≡ conv with the zero-inserted kernel (taps ``d`` apart, zeros between); the
  filter gradient is the zero-inserted kernel's gradient read at the taps;
* grouped conv ≡ the concatenation of one conv per group.

One test also runs TF's own dilated-conv gradient (float32, oneDNN on) in a subprocess.

Tolerances: convolution gradients are compared within :class:`checks.Tolerance`'s bound, where the reduction
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
from checks import assert_within, call_op, central_differences, conv_bound, nhwc
from convops.dispatch import force
from strategies import ConvCase, conv2d_cases, make_values

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
        parts = [
            tf.nn.conv2d(
                X[..., g * c_group : (g + 1) * c_group],
                W[..., g * c_out_group : (g + 1) * c_out_group],
                strides=[1, *strides, 1],
                padding=pad,
            )
            for g in range(groups)
        ]
        y = parts[0] if groups == 1 else tf.concat(parts, axis=3)
    upstream = tf.constant(dy)
    dx = tape.gradient(y, X, output_gradients=upstream).numpy()
    dw = tape.gradient(y, W, output_gradients=upstream).numpy()[:: dilations[0], :: dilations[1]]
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
    kwargs = {
        "strides": case.spelled.get("strides", case.strides),
        "padding": case.spelled.get("padding", case.padding),
        "dilations": case.spelled.get("dilations", case.dilations),
    }
    if case.data_format != "NHWC":
        kwargs["data_format"] = case.data_format
    return kwargs


def conv_grad_bounds(case: ConvCase, dy: np.ndarray, want_dx: np.ndarray, want_dw: np.ndarray):
    """Per-element bounds for (dx, dw): Tolerance with K = products per element, magnitude = the
    same gradients of |x|, |w|, |dy| in float64 (the oracle gives both in one call)."""
    mag_dx, mag_dw = tf_conv_grads(
        np.abs(case.x).astype(np.float64),
        np.abs(case.w).astype(np.float64),
        np.abs(dy).astype(np.float64),
        case.strides,
        case.explicit_padding,
        case.dilations,
    )
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
    pinned_conv((2, 3, 4, 2), (1, 1, 2, 3)),  # 1x1: a matmul
    pinned_conv((1, 3, 4, 2), (3, 4, 2, 2)),  # kernel = input
    pinned_conv((1, 7, 8, 1), (2, 1, 1, 2), strides=(3, 4)),  # stride > kernel: gaps
    pinned_conv((1, 8, 9, 1), (3, 3, 1, 1), strides=(2, 2)),  # VALID drops a row
    pinned_conv((1, 5, 6, 1), (2, 4, 1, 1), strides=(2, 2), padding="SAME"),  # odd pad goes after
    pinned_conv((1, 9, 8, 2), (2, 3, 2, 1), strides=(2, 3), padding="SAME", dilations=(2, 2)),
    pinned_conv((1, 4, 4, 4), (3, 3, 2, 4), padding="SAME"),  # 2 groups
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
        form = "tuple"  # (H, W) alone implies C_in = filters' in-channels
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    sizes = case.x.shape[1:3] if form == "hw" else spelled_sizes(sizes_in(case.x.shape, case.data_format), form)
    (_, w_arg), _ = case.convops_args()
    got, repro = call_op(
        convops.conv2d_backprop_input,
        "conv2d_backprop_input",
        sizes,
        w_arg,
        to_format(dy, case.data_format),
        **conv_kwargs(case),
    )
    bound_dx, _ = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(nhwc(got, case.data_format), want_dx, bound_dx, repro, "tf.GradientTape", dtype=case.x.dtype)


@pytest.mark.tf
@pytest.mark.parametrize("method", ["direct", "gemm"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "x_shape, w_shape, padding, dilations, bad_filter, direct_applies",
    [
        ((2, 7, 8, 5), (3, 3, 5, 6), "VALID", (1, 1), False, True),
        ((2, 7, 8, 5), (3, 2, 5, 17), "SAME", (1, 1), False, True),
        ((1, 9, 7, 4), (3, 3, 2, 6), "SAME", (1, 1), False, True),  # groups = 2
        ((1, 9, 9, 3), (2, 3, 3, 4), ((2, 0), (1, 2)), (2, 1), False, True),  # explicit, uneven, dilated
        ((1, 6, 6, 2), (2, 2, 2, 3), ((3, 0), (0, 1)), (1, 1), False, False),  # pad beyond the kernel
        ((1, 6, 5, 2), (3, 3, 2, 3), "SAME", (1, 1), True, False),  # inf filter, dy gets padded
        ((1, 6, 5, 2), (3, 3, 2, 3), ((2, 2), (2, 2)), (1, 1), True, True),  # inf filter, dy needs no pad
    ],
)
def test_conv2d_backprop_input_each_method_matches_tensorflow(
    method, dtype, x_shape, w_shape, padding, dilations, bad_filter, direct_applies, monkeypatch
):
    """Stride-1 input gradients run conv2d's direct kernel on dy with flipped filters
    (convops._conv_dispatch.choose_input_grad_kernel) where it applies, else im2col + BLAS + col2im; both against TF,
    with the shapes where the direct path must hand over to GEMM."""
    blas_calls = []
    run_blas = convops._threads.run_blas_kernel
    monkeypatch.setattr(convops._threads, "run_blas_kernel", lambda *args: blas_calls.append(1) or run_blas(*args))
    rng = np.random.default_rng(3)
    case = ConvCase(
        rng.uniform(-1, 1, x_shape).astype(dtype), rng.uniform(-1, 1, w_shape).astype(dtype), (1, 1), padding, dilations
    )
    if bad_filter:
        case.w[1, 1, 0, 0] = np.inf
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    with force(conv2d_backprop_input=method):
        got, repro = call_op(
            convops.conv2d_backprop_input,
            "conv2d_backprop_input",
            case.x.shape,
            case.w,
            dy,
            padding=padding,
            dilations=dilations,
        )
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
    got, repro = call_op(
        convops.conv2d_backprop_filter,
        "conv2d_backprop_filter",
        x_arg,
        list(case.w.shape),
        to_format(dy, case.data_format),
        **conv_kwargs(case),
    )
    _, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(got, want_dw, bound_dw, repro, "tf.GradientTape", dtype=case.x.dtype)


FILTER_ISAS = __import__("convops._kernels.simd", fromlist=["supported_isas"]).supported_isas()


@contextlib.contextmanager
def forced_filter_path(method, isa):
    """conv2d_backprop_filter with its path (None = by shape) and instruction set forced inside
    the block; yields the list that records each call of the GEMM path (_run_blas_kernel). A
    context manager, not a fixture: Hypothesis runs many examples in one fixture scope."""
    from convops import _threads

    blas_calls = []
    run_blas = convops._threads.run_blas_kernel
    _threads.run_blas_kernel = lambda *args: blas_calls.append(1) or run_blas(*args)
    try:
        with force(isa=isa, **({"conv2d_backprop_filter": method} if method else {})):
            yield blas_calls
    finally:
        _threads.run_blas_kernel = run_blas


@pytest.mark.tf
@pytest.mark.parametrize("method, isa", [("gemm", None)] + [("direct", isa) for isa in FILTER_ISAS])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=conv2d_cases(dtypes=FLOAT_DTYPES))
@with_examples(CONV_EXAMPLES)
def test_conv2d_backprop_filter_each_method_matches_tensorflow(method, isa, dtype, case):
    """Both filter-gradient paths, forced, for every conv option: the direct SIMD kernel in every
    instruction set this CPU runs (convops._conv_dispatch.choose_filter_grad_kernel; C_out/groups of whole vectors
    read dy in place, other widths a zero-padded copy) and im2col + BLAS."""
    case = case.with_dtype(dtype)
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    (x_arg, _), _ = case.convops_args()
    with forced_filter_path(method, isa) as blas_calls:
        got, repro = call_op(
            convops.conv2d_backprop_filter,
            "conv2d_backprop_filter",
            x_arg,
            list(case.w.shape),
            to_format(dy, case.data_format),
            **conv_kwargs(case),
        )
    _, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    what = f"tf.GradientTape (method {method}, instruction set {isa})"
    assert_within(got, want_dw, bound_dw, repro, what, dtype=case.x.dtype)
    if np.isfinite(dy).all() and case.x.size and dy.size:
        assert bool(blas_calls) == (method == "gemm"), f"wrong path taken: {repro}"


@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "x_shape, w_shape, strides, padding, bad_dy, direct",
    [
        ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "SAME", None, True),  # whole vectors: direct
        ((2, 9, 9, 4), (3, 3, 2, 128), (2, 2), "SAME", None, True),  # 2 groups of 64, stride 2
        ((2, 7, 8, 5), (3, 3, 5, 3), (1, 1), "SAME", None, True),  # 3 lanes: zero-padded dy copy
        ((1, 8, 8, 4), (3, 3, 1, 12), (1, 1), "VALID", None, True),  # depthwise, groups of 3 lanes
        ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "SAME", (0, 0, 3), False),  # inf where a window reads padding
        ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "SAME", (1, 3, 4), True),  # inf away from the padding
        ((2, 7, 8, 5), (3, 3, 5, 64), (1, 1), "VALID", (0, 0, 0), True),  # VALID: no padding at all
    ],
)
def test_conv2d_backprop_filter_default_path_matches_tensorflow(
    dtype, x_shape, w_shape, strides, padding, bad_dy, direct
):
    """The default choice of the filter-gradient path, against TF: the direct kernel skips
    the taps on padding, so a non-finite out_backprop where a window reaches the padding must go
    to im2col + BLAS, which multiplies it by the padding zeros as TF does (inf * 0 = NaN)."""
    rng = np.random.default_rng(5)
    case = ConvCase(
        rng.uniform(-1, 1, x_shape).astype(dtype), rng.uniform(-1, 1, w_shape).astype(dtype), strides, padding
    )
    dy = conv_dy(case)
    if bad_dy is not None:
        dy[bad_dy] = np.inf
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    with forced_filter_path(None, None) as blas_calls:
        got, repro = call_op(
            convops.conv2d_backprop_filter,
            "conv2d_backprop_filter",
            case.x,
            case.w.shape,
            dy,
            strides=strides,
            padding=padding,
        )
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
    across chunks) or one output row (filter gradient by the direct kernel, _D_FILTERS_CHUNK_BYTES):
    the results must not change."""
    from convops import _conv_dispatch

    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    kw = dict(strides=case.strides, padding=case.padding, dilations=case.dilations)
    saved = _conv_dispatch._SCRATCH_BYTES, _conv_dispatch._D_FILTERS_CHUNK_BYTES
    _conv_dispatch._SCRATCH_BYTES = _conv_dispatch._D_FILTERS_CHUNK_BYTES = scratch
    try:
        dx = convops.conv2d_backprop_input(case.x.shape, case.w, dy, **kw)
        with forced_filter_path(filter_method, None):
            dw = convops.conv2d_backprop_filter(case.x, case.w.shape, dy, **kw)
    finally:
        _conv_dispatch._SCRATCH_BYTES, _conv_dispatch._D_FILTERS_CHUNK_BYTES = saved
    bound_dx, bound_dw = conv_grad_bounds(case, dy, want_dx, want_dw)
    repro = f"with convops._conv_dispatch._SCRATCH_BYTES = _D_FILTERS_CHUNK_BYTES = {scratch}, {filter_method}: {case}"
    assert_within(dx, want_dx, bound_dx, repro, "tf.GradientTape")
    assert_within(dw, want_dw, bound_dw, repro, "tf.GradientTape")


@pytest.mark.tf
def test_dilated_conv_gradients_match_tensorflows_own_in_a_subprocess(tmp_path):
    """TF's own gradient of a dilated conv exists only with oneDNN on (float32, SAME/VALID), and oneDNN must
    be chosen before TF is imported, so it runs in a child process; this checks the
    zero-inserted-kernel oracle above against TF's real dilated backprop kernels too."""
    rng = np.random.default_rng(7)
    cases = [
        ((2, 11, 10, 3), (3, 2, 3, 4), (1, 1), "VALID", (2, 3)),
        ((1, 12, 9, 2), (2, 3, 2, 5), (2, 1), "SAME", (3, 2)),
        ((2, 9, 9, 4), (3, 3, 4, 2), (1, 2), "VALID", (2, 2)),
    ]  # explicit padding: TF refuses even here
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
    spec = json.dumps(
        [[list(s), p if isinstance(p, str) else [list(q) for q in p], list(d)] for _, _, s, p, d in cases]
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "in.npz"), spec, str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
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
    return (
        case,
        draw(st.integers(0, case.strides[0] - 1), label="extra rows"),
        draw(st.integers(0, case.strides[1] - 1), label="extra cols"),
    )


def transpose_output_hw(case: ConvCase, extra_rows: int, extra_cols: int):
    """The conv input size grown by the extra rows/cols where conv2d still maps it to the case's
    output size (TF's own rule, which the tests check separately), else the case's input size."""
    hw = []
    for axis, extra in enumerate((extra_rows, extra_cols)):
        mode = case.padding if isinstance(case.padding, str) else case.padding[axis]
        size = case.x.shape[1 + axis] + extra
        if (
            convops.arithmetic.conv_output_size(size, case.w.shape[axis], case.strides[axis], mode)
            != case.output_hw[axis]
        ):
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
    small = conv_dy(case)  # the transposed op's input: the conv's output shape
    pad = case.padding if isinstance(case.padding, str) else [[0, 0], *map(list, case.padding), [0, 0]]
    want = tf.nn.conv2d_transpose(
        tf.constant(small), tf.constant(case.w), [n, h, w, c], [1, *case.strides, 1], pad
    ).numpy()
    got, repro = call_op(
        convops.conv2d_transpose,
        "conv2d_transpose",
        to_format(small, case.data_format),
        case.w,
        sizes_in((n, h, w, c), case.data_format),
        case.strides,
        case.padding,
        data_format=case.data_format,
    )
    got = nhwc(got, case.data_format)
    mag = tf.nn.conv2d_transpose(
        tf.constant(np.abs(small).astype(np.float64)),
        tf.constant(np.abs(case.w).astype(np.float64)),
        [n, h, w, c],
        [1, *case.strides, 1],
        pad,
    ).numpy()
    bound = conv_bound(want, mag, case.w.shape[0] * case.w.shape[1] * case.w.shape[3], case.x.dtype)
    assert_within(got, want, bound, repro, "tf.nn.conv2d_transpose")
    same = convops.conv2d_backprop_input((n, h, w, c), case.w, small, case.strides, case.padding)
    assert np.array_equal(same, nhwc(got, "NHWC")), f"conv2d_transpose must equal conv2d_backprop_input\n{repro}"


@pytest.mark.tf
@given(
    k=st.integers(1, 4),
    s=st.integers(1, 4),
    small=st.integers(1, 5),
    big=st.integers(0, 20),
    padding=st.sampled_from(["SAME", "VALID"]),
)
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
    assert ok == tf_ok, (
        f"conv2d_transpose(input height {small}, kernel {k}, stride {s}, {padding}, output height "
        f"{big}): TensorFlow {'accepts' if tf_ok else 'refuses'}, convops "
        f"{'accepts' if ok else 'refuses: ' + message}"
    )
    if not ok:
        possible = [i for i in range(0, 40) if convops.arithmetic.conv_output_size(i, k, s, padding) == small]
        assert "impossible" in message and "output_shape height" in message, message
        if possible:
            assert str(possible[0]) in message and str(possible[-1]) in message, (possible, message)


def test_conv2d_transpose_error_names_the_possible_sizes():
    x = np.ones((1, 3, 3, 4), np.float32)
    w = np.ones((3, 3, 2, 4), np.float32)
    with pytest.raises(
        ValueError,
        match=r"output_shape height 7 is impossible .* maps height 7 to 4, not 3; "
        r"output_shape heights 5 to 6 give 3",
    ):
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
        convops.conv2d_backprop_input(
            (1, 2 * 10**9 + 5, 5, 2), w, np.ones((1, 0, 3, 4), np.float32), dilations=(10**9, 1)
        )


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


# --------------------------------------------------------------------------- no TF: finite differences


def _fd_check(loss, x: np.ndarray, grad: np.ndarray, what: str, h: float = 1e-6, rtol: float = 1e-6) -> None:
    """Central differences of the scalar ``loss`` at ``x`` against ``grad``, element by element."""
    numeric = central_differences(loss, x, h).reshape(-1)
    scale = max(1.0, float(np.abs(grad).max()))
    error = np.abs(numeric - grad.reshape(-1))
    worst = int(np.argmax(error))
    assert error[worst] <= rtol * scale * 100, (
        f"{what}: finite difference {numeric[worst]!r} vs gradient {grad.reshape(-1)[worst]!r} at flat index {worst}"
    )


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
            runs.append(
                [
                    convops.conv2d_backprop_input(x.shape, w, dy, 2, "SAME"),
                    convops.conv2d_backprop_filter(x, w.shape, dy, 2, "SAME"),
                    convops.max_pool2d_grad(x, dp, 3, 2, "SAME"),
                    convops.avg_pool2d_grad(x.shape, dp, 3, 2, "SAME"),
                    convops.pad_grad(x, [[0, 0], [2, 3], [1, 4], [0, 0]], "REFLECT"),
                ]
            )
    for one, two in zip(*runs):
        assert np.array_equal(one, two)


@pytest.mark.parametrize("c_in", [1, 3])
def test_a_first_layer_s_filter_gradient_splits_its_channels_between_threads_with_the_same_bits(c_in):
    """A first layer's filter gradient has one or three units of rows (a whole 3x3x1 filter, or
    its three filter rows): on two threads each takes half of the output channels instead, every
    element still summed in position order by one of them -- the same bits as one thread."""
    rng = np.random.default_rng(c_in)
    x = rng.standard_normal((16, 28, 28, c_in)).astype(np.float32)
    dy = rng.standard_normal((16, 26, 26, 32)).astype(np.float32)
    with convops.num_threads(1):
        one = convops.conv2d_backprop_filter(x, (3, 3, c_in, 32), dy, 1, "VALID")
    with convops.num_threads(2):
        two = convops.conv2d_backprop_filter(x, (3, 3, c_in, 32), dy, 1, "VALID")
    assert np.array_equal(one.view(np.uint32), two.view(np.uint32))
    want = np.einsum(
        "nhwc,nhwo->co",
        np.lib.stride_tricks.sliding_window_view(x, (3, 3), (1, 2)).reshape(16, 26, 26, c_in * 9),
        dy,
        dtype=np.float64,
    )
    np.testing.assert_allclose(one.transpose(2, 0, 1, 3).reshape(c_in * 9, 32), want, rtol=1e-4, atol=1e-3)


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


@pytest.mark.tf
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "x_shape, w_shape, padding",
    [
        ((5, 24, 23, 1), (3, 3, 1, 20), "VALID"),  # the first layer of a small image network
        ((5, 18, 20, 2), (3, 2, 2, 33), "SAME"),
        ((16, 28, 28, 2), (3, 3, 2, 32), "VALID"),
        ((2, 13, 13, 4), (3, 3, 4, 64), "VALID"),  # im2col in float32, the direct kernel in float64
        ((2, 7, 6, 1), (3, 3, 1, 4), "SAME"),  # few output channels: the direct kernel
        ((1, 8, 8, 1), (3, 3, 1, 16), "VALID"),  # a small call (9,216 multiply-adds): the direct kernel
        ((5, 12, 11, 1), (3, 3, 1, 20), "VALID"),
        ((5, 20, 20, 3), (3, 3, 3, 16), ((2, 1), (0, 2))),
        ((5, 8, 9, 4), (2, 3, 4, 24), "SAME"),
        ((5, 8, 8, 8), (3, 3, 8, 16), "VALID"),
        ((5, 8, 9, 4), (3, 3, 2, 24), "SAME"),  # 2 groups of 2 channels: the direct kernel
    ],
)
def test_conv2d_backprop_input_of_few_channels_matches_tensorflow_on_any_thread_count(
    dtype, x_shape, w_shape, padding, monkeypatch
):
    """A stride-1 input gradient of one group with C_in at most half a SIMD vector (of the set
    the direct kernel would run: AVX2 for channels that fit one AVX2 vector) and C_out at least
    16 C_in runs im2col + BLAS + col2im by default, not the direct kernel, which would fill C_in
    of its lanes (convops._conv_dispatch.choose_input_grad_kernel) -- unless the call is small
    (fewer than 32,768 of the direct kernel's multiply-adds): within TF's bound, the same bits on
    1 and 2 threads (5 images: several chunks), and a forced "direct" still runs the direct
    kernel."""
    blas_calls = []
    run_blas = convops._threads.run_blas_kernel
    monkeypatch.setattr(convops._threads, "run_blas_kernel", lambda *args: blas_calls.append(1) or run_blas(*args))
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    case = ConvCase(
        rng.uniform(-1, 1, x_shape).astype(dtype), rng.uniform(-1, 1, w_shape).astype(dtype), (1, 1), padding
    )
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.padding, case.dilations)
    bound_dx, _ = conv_grad_bounds(case, dy, want_dx, want_dw)
    c_in, groups = x_shape[3], x_shape[3] // w_shape[2]
    isa = convops._conv_dispatch.default_isa()
    if convops._kernels.simd.ISA_NAMES[isa] == "avx512" and c_in * np.dtype(dtype).itemsize <= 32:
        isa = convops._kernels.simd.ISA_NAMES.index("avx2")
    lanes = convops._autotune.simd_lanes(np.dtype(dtype), isa)
    for method in (None, "direct"):
        runs = []
        for threads in (1, 2):
            blas_calls.clear()
            with convops.num_threads(threads), force(**({"conv2d_backprop_input": method} if method else {})):
                got, repro = call_op(
                    convops.conv2d_backprop_input, "conv2d_backprop_input", case.x.shape, case.w, dy, padding=padding
                )
            runs.append(got)
            assert_within(got, want_dx, bound_dx, repro, f"tf.GradientTape (method {method})", dtype=case.x.dtype)
            work = np.prod(x_shape[:3]) * np.prod(w_shape[:2]) * w_shape[3]  # N*H*W * KH*KW * C_out
            few_in_many_out = groups == 1 and 2 * c_in <= lanes and w_shape[3] >= 16 * c_in
            gemm = method is None and few_in_many_out and work >= 32_768
            assert bool(blas_calls) == gemm, f"wrong path taken: {repro} {method}"
        assert np.array_equal(runs[0], runs[1]), f"{method}: 1 and 2 threads differ"
