"""conv2d's ``algorithm=`` argument: every algorithm against TensorFlow, each within its own bound.

Bounds (``want`` is TensorFlow's result, itself within :func:`checks.conv_bound` of the exact one):

* ``"direct"``, ``"im2col"``, ``"naive"`` and ``"auto"``: the TF-parity bound, ``conv_bound``
  (``eps * (K + 1) * sum |x||w|`` per output), as in test_conv.py; non-finite values as TF.
* ``"winograd"``: ``conv_bound`` plus the error of the transformed computation,
  ``eps * (C_in/groups + 16) * [A^T ([G] |w| [G]^T * [B^T] |d| [B]) A]`` -- the Winograd formula
  evaluated with the absolute values of the transform matrices and of the data (``d`` the
  input tile), i.e. the sizes of every term the algorithm adds, with ``C_in/groups + 16`` the
  longest chain of roundings (the channel sum plus the transforms) and a factor 2 of margin
  (``eps = 2u``). It is not relative to each output's own window: Winograd mixes a whole tile.
* ``"fft"``: ``conv_bound`` plus one rounding of the value (the float64 result rounded to the
  input dtype) plus the float64 transform error ``eps64 * 8 * log2(H W) * sum|x| * sum|w|``
  (image and filter L1 norms; the transform spreads error over the whole image).

Also: argument errors, geometries an algorithm cannot compute, the interplay with
:func:`convops.dispatch.force`, and bit-identical results for any thread count.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import convops
import oracle
from checks import (
    CONV_TOLERANCE,
    assert_bits_equal,
    assert_within,
    call_op,
    conv_bound,
    reduction_length,
    window_conv2d,
)
from convops import _algorithms, _winograd
from convops.dispatch import force
from strategies import ConvCase, conv2d_cases, make_values
from test_conv_grad import conv_dy, conv_grad_bounds, tf_conv_grads
from test_winograd_filter import winograd_filter_bound

FLOAT_DTYPES = ("float16", "float32", "float64")
EXPLICIT = ("direct", "winograd", "fft", "im2col", "naive")


# --------------------------------------------------------------------------- cases and bounds


@st.composite
def stride1_cases(draw, kernel: tuple[int, int] | None = None, **kwargs) -> ConvCase:
    """A conv2d case at stride 1 (dilation 1 with ``kernel``, whose size it then has): the
    geometries Winograd (3x3) and FFT compute, drawn by the conv tests' own strategy."""
    options = dict(max_stride=1, dtypes=FLOAT_DTYPES)
    if kernel is not None:
        options["max_dilation"] = 1
    case = draw(conv2d_cases(**{**options, **kwargs}))
    if kernel is not None:
        rng = np.random.default_rng(case.seed)
        w = make_values(rng, (*kernel, *case.w.shape[2:]), case.x.dtype, "normal" if case.style != "ties" else "ties")
        spelled = {"padding": case.spelled["padding"]} if "padding" in case.spelled else {}
        case = replace(case, w=w, dilations=(1, 1), spelled=spelled, seed=None)
    assume(min(case.output_hw) > 0)
    return case


def run(case: ConvCase, algorithm: str):
    args, kwargs = case.convops_args()
    got, repro = call_op(convops.conv2d, "conv2d", *args, algorithm=algorithm, **kwargs)
    return case.to_nhwc(got), repro


def magnitude(case: ConvCase) -> np.ndarray:
    return window_conv2d(np.abs(case.x), np.abs(case.w), case.strides, case.explicit_padding, case.dilations)


def winograd_term_sizes(case: ConvCase, tile: int) -> np.ndarray:
    """``[A^T] ([G] |w| [G^T] * [B^T] |d| [B]) [A]`` summed over channels: the Winograd formula
    with every matrix and datum replaced by its absolute value (float64, NHWC like the output)."""
    bt, g, at = (np.abs(m) for m in _winograd.transform_matrices(tile))
    alpha = tile + 2
    (top, bottom), (left, right) = case.explicit_padding
    h_out, w_out = case.output_hw
    th, tw = -(-h_out // tile), -(-w_out // tile)
    x = np.abs(case.x.astype(np.float64))
    # Pad to whole tiles, as the kernel does: the extra zeros add nothing.
    extra_h, extra_w = th * tile + 2 - (x.shape[1] + top + bottom), tw * tile + 2 - (x.shape[2] + left + right)
    xp = np.pad(x, ((0, 0), (top, bottom + max(0, extra_h)), (left, right + max(0, extra_w)), (0, 0)))
    c_group = case.w.shape[2]
    groups = case.x.shape[3] // c_group
    c_out_group = case.w.shape[3] // groups
    u = np.einsum("pi,ijco,qj->pqco", g, np.abs(case.w.astype(np.float64)), g)  # (alpha, alpha, C_g, C_out)
    out = np.zeros((x.shape[0], th * tile, tw * tile, case.w.shape[3]))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (alpha, alpha), axis=(1, 2))[:, ::tile, ::tile]
    v = np.einsum("pi,nyxcij,qj->nyxcpq", bt, windows[:, :th, :tw], bt)  # (n, th, tw, C_in, alpha, alpha)
    for grp in range(groups):
        vg = v[:, :, :, grp * c_group : (grp + 1) * c_group]
        ug = u[:, :, :, grp * c_out_group : (grp + 1) * c_out_group]
        m = np.einsum("nyxcpq,pqco->nyxopq", vg, ug)
        y = np.einsum("ap,nyxopq,bq->nyaxbo", at, m, at).reshape(x.shape[0], th * tile, tw * tile, c_out_group)
        out[..., grp * c_out_group : (grp + 1) * c_out_group] = y
    return out[:, :h_out, :w_out]


def bound_for(case: ConvCase, algorithm: str, want: np.ndarray) -> np.ndarray:
    """The documented bound of ``algorithm`` (module docstring)."""
    tol = CONV_TOLERANCE[np.dtype(case.x.dtype)]
    base = conv_bound(want, magnitude(case), reduction_length(case.w.shape), case.x.dtype)
    if algorithm == "winograd":
        geo_tile = 4 if case.w.shape[2] >= _algorithms.WINOGRAD_F4_MIN_CHANNELS else 2
        return base + tol.term_eps * (case.w.shape[2] + 16) * winograd_term_sizes(case, geo_tile)
    if algorithm == "fft":
        (top, bottom), (left, right) = case.explicit_padding
        area = (case.x.shape[1] + top + bottom) * (case.x.shape[2] + left + right)
        c_group = case.w.shape[2]
        groups = case.x.shape[3] // c_group
        per_group = np.abs(case.x.astype(np.float64)).reshape(case.x.shape[0], -1, groups, c_group).sum(axis=(1, 3))
        l1_x = np.repeat(per_group, case.w.shape[3] // groups, axis=1)  # (N, C_out)
        l1_w = np.abs(case.w.astype(np.float64)).sum(axis=(0, 1, 2))  # (C_out,)
        transform = np.finfo(np.float64).eps * 8 * np.log2(max(area, 2)) * l1_x * l1_w
        return base + tol.term_eps * np.abs(want.astype(np.float64)) + transform[:, None, None, :]
    return base


def check_algorithm(case: ConvCase, algorithm: str) -> None:
    want = oracle.conv2d(case.x, case.w, case.strides, case.padding, case.dilations)
    got, repro = run(case, algorithm)
    assert_within(got, want, bound_for(case, algorithm, want), repro, f"TensorFlow ({algorithm})", dtype=case.x.dtype)


# --------------------------------------------------------------------------- against TensorFlow


@pytest.mark.tf
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "naive", "auto"])
@given(case=conv2d_cases(dtypes=FLOAT_DTYPES, styles=("normal", "ties", "negative", "sparse_nonfinite", "large")))
def test_exact_sum_algorithms_match_tensorflow(algorithm, case):
    """The algorithms that sum each output's own K products keep the TF-parity bound on every
    geometry, non-finite values and huge ones included (direct and naive hand calls with
    non-finite filters on the padding to im2col, which multiplies the padding zeros as TF does)."""
    check_algorithm(case, algorithm)


@given(case=conv2d_cases(dtypes=FLOAT_DTYPES, styles=("normal", "ties", "sparse_nonfinite")))
def test_auto_below_the_winograd_rule_is_the_direct_choice_bit_for_bit(case):
    """Small channel counts: "auto" runs exactly what conv2d ran before ``algorithm=`` existed."""
    args, kwargs = case.convops_args()
    auto = convops.conv2d(*args, **kwargs)
    assert_bits_equal(auto, convops.conv2d(*args, **kwargs, algorithm="direct"), repr(case), "algorithm='direct'")


@pytest.mark.tf
@given(case=stride1_cases(kernel=(3, 3)))
def test_winograd_matches_tensorflow(case):
    check_algorithm(case, "winograd")


@pytest.mark.tf
@given(case=stride1_cases(kernel=(3, 3), max_group_channels=80, max_groups=1, max_batch=1, wide_channels=False))
def test_winograd_many_channels_matches_tensorflow(case):
    """Up to 80 input channels: F(4x4, 3x3) from WINOGRAD_F4_MIN_CHANNELS on."""
    check_algorithm(case, "winograd")


@pytest.mark.tf
@given(case=stride1_cases())
def test_fft_matches_tensorflow(case):
    """Any kernel size and dilation (zero-stuffed), groups, every padding."""
    check_algorithm(case, "fft")


@pytest.mark.tf
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "winograd", "auto"])
@given(case=stride1_cases(kernel=(3, 3), dtypes=("float32", "float64")))
def test_input_gradient_algorithms_match_tensorflow(algorithm, case):
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.explicit_padding, case.dilations)
    (top, bottom), (left, right) = case.explicit_padding
    if algorithm == "direct" and max(top, bottom, left, right) > 2:
        with pytest.raises(ValueError, match="padding at most"):
            convops.conv2d_backprop_input(case.x.shape, case.w, dy, padding=case.explicit_padding, algorithm=algorithm)
        return
    got, repro = call_op(
        convops.conv2d_backprop_input,
        "conv2d_backprop_input",
        case.x.shape,
        case.w,
        dy,
        padding=case.explicit_padding,
        algorithm=algorithm,
    )
    bound, _ = conv_grad_bounds(case, dy, want_dx, want_dw)
    if algorithm == "winograd":
        # The transposed conv's own Winograd bound: dy padded by 2 - pad, flipped filters.
        kh, kw, c_group, c_out = case.w.shape
        groups = case.x.shape[3] // c_group
        c_out_group = c_out // groups
        flipped = np.ascontiguousarray(
            case.w[::-1, ::-1]
            .reshape(kh, kw, c_group, groups, c_out_group)
            .transpose(0, 1, 4, 3, 2)
            .reshape(kh, kw, c_out_group, groups * c_group)
        )
        pads = ((2 - top, 2 - bottom), (2 - left, 2 - right))
        cropped = dy[:, max(0, -pads[0][0]) : dy.shape[1] - max(0, -pads[0][1]), max(0, -pads[1][0]) :]
        cropped = cropped[:, :, : cropped.shape[2] - max(0, -pads[1][1])]
        transposed = ConvCase(cropped, flipped, padding=tuple((max(0, a), max(0, b)) for a, b in pads))
        tol = CONV_TOLERANCE[np.dtype(case.x.dtype)]
        tile = 4 if c_out_group >= _algorithms.WINOGRAD_F4_MIN_CHANNELS else 2
        bound = bound + tol.term_eps * (c_out_group + 16) * winograd_term_sizes(transposed, tile)
    assert_within(got, want_dx, bound, repro, f"tf.GradientTape ({algorithm})", dtype=case.x.dtype)


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 28, 28, 32, 64), (1, 56, 60, 96, 40)])
def test_auto_keeps_the_tf_parity_bound_where_it_chooses_winograd(dtype, shape, monkeypatch):
    """Where "auto" runs Winograd (many channels), it still keeps the TF-parity bound, on
    mixed-sign data and on image-like data with all-zero windows (which must stay exactly 0)."""
    calls = _spy(monkeypatch, _winograd, "conv2d_winograd")
    n, h, w_, c_in, c_out = shape
    rng = np.random.default_rng(7)
    for data in ("normal", "pixels"):
        x = rng.standard_normal((n, h, w_, c_in))
        if data == "pixels":
            x = np.where(rng.random(x.shape) < 0.7, 0.0, rng.integers(1, 256, x.shape) / 255.0)
            x[:, : h // 2, : w_ // 2] = 0.0  # a black corner: windows of zeros next to bright pixels
        case = ConvCase(x.astype(dtype), (rng.standard_normal((3, 3, c_in, c_out)) / 24).astype(dtype), padding="SAME")
        check_algorithm(case, "auto")
        assert calls, "auto did not choose Winograd here: the policy changed, update the shapes"
        calls.clear()


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("padding", ["SAME", "VALID", ((2, 0), (1, 2))])
def test_auto_input_gradient_keeps_the_tf_parity_bound_where_it_chooses_winograd(dtype, padding, monkeypatch):
    calls = _spy(monkeypatch, _winograd, "conv2d_winograd")
    rng = np.random.default_rng(11)
    case = ConvCase(
        rng.standard_normal((4, 28, 29, 48)).astype(dtype),
        (rng.standard_normal((3, 3, 48, 64)) / 24).astype(dtype),
        padding=padding,
    )
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.explicit_padding, case.dilations)
    got, repro = call_op(
        convops.conv2d_backprop_input, "conv2d_backprop_input", case.x.shape, case.w, dy, padding=padding
    )
    bound, _ = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(got, want_dx, bound, repro, "tf.GradientTape (auto)", dtype=case.x.dtype)
    assert calls, "auto did not choose Winograd here: the policy changed, update the shapes"


def test_auto_never_runs_winograd_outside_the_error_rule_nor_behind_the_fast_path():
    """Two reasons the policy's constants must respect whatever the timings say: F(2x2) is outside
    the TF-parity bound below 4 input channels per group (the error study above the constants),
    and conv2d's compiled fast path, which runs the direct kernels without asking the policy,
    takes every filter smaller than AUTO_FAST_PATH_MAX_FILTER_SIZE: no channel pair it takes may
    be one where the policy would choose Winograd."""
    for c_in in range(1, 300):
        for c_out in range(1, 300):
            pays = _algorithms._winograd_channels_pay(c_in, c_out)
            assert not (pays and min(c_in, c_out) < 4), (c_in, c_out)
            assert not (pays and 9 * c_in * c_out < _algorithms.AUTO_FAST_PATH_MAX_FILTER_SIZE), (c_in, c_out)


def test_auto_chooses_winograd_exactly_inside_the_rule(monkeypatch):
    """At the smallest size the rule admits (channels, output side, positions), "auto" runs
    F(2x2, 3x3); one step below any of them, or with a non-finite value, it runs the direct
    kernels (bit for bit algorithm="direct")."""
    calls = _spy(monkeypatch, _winograd, "conv2d_winograd")
    c_in = _algorithms.AUTO_WINOGRAD_MIN_CHANNELS
    c_out = -(-_algorithms.AUTO_WINOGRAD_MIN_CHANNEL_PRODUCT // c_in)
    side = _algorithms.AUTO_WINOGRAD_MIN_SIDE
    n = -(-_algorithms.AUTO_WINOGRAD_MIN_POSITIONS // side**2)
    rng = np.random.default_rng(3)

    def runs_winograd(n, side, c_in, c_out, poison=False):
        x = rng.standard_normal((n, side, side, c_in)).astype(np.float32)
        if poison:
            x[-1, -1, -1, -1] = np.inf
        w = rng.standard_normal((3, 3, c_in, c_out)).astype(np.float32)
        calls.clear()
        got = convops.conv2d(x, w, padding="SAME")
        if not calls:
            assert_bits_equal(got, convops.conv2d(x, w, padding="SAME", algorithm="direct"), "auto", "direct")
        return bool(calls)

    assert runs_winograd(n, side, c_in, c_out)
    assert not runs_winograd(n, side, c_in, c_out, poison=True), "non-finite data must not run Winograd"
    assert not runs_winograd(4 * n, side - 1, c_in, c_out), "sides below the minimum"
    if (n - 1) * side**2 < _algorithms.AUTO_WINOGRAD_MIN_POSITIONS:
        assert not runs_winograd(n - 1, side, c_in, c_out), "fewer positions than the minimum"
    assert not runs_winograd(n, side, c_in - 1, c_out), "fewer channels than the minimum"
    assert not runs_winograd(n, side, c_in, _algorithms.AUTO_WINOGRAD_MAX_CHANNELS + 1), "more than the maximum"


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("bad", ["Winograd", "gemm", "", None, 3, ["direct"]])
def test_unknown_algorithm_is_refused_naming_the_argument(bad):
    x, w = np.ones((1, 4, 4, 1), np.float32), np.ones((3, 3, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: `algorithm` must be one of \('auto', 'direct', 'winograd'") as info:
        convops.conv2d(x, w, algorithm=bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="conv2d_backprop_input: `algorithm` must be one of"):
        convops.conv2d_backprop_input(x.shape, w, np.ones((1, 2, 2, 1), np.float32), algorithm=bad)


@pytest.mark.parametrize(
    "algorithm, kwargs, w_shape, dtype, reason",
    [
        ("winograd", {}, (3, 2, 1, 1), "float32", "3x3 filters only; got 3x2"),
        ("winograd", {"strides": 2}, (3, 3, 1, 1), "float32", r"stride 1 only; got strides \(2, 2\)"),
        ("winograd", {"dilations": 2}, (3, 3, 1, 1), "float32", r"dilation 1 only; got dilations \(2, 2\)"),
        ("fft", {"strides": (1, 2)}, (2, 2, 1, 1), "float64", r"stride 1 only .* got strides \(1, 2\)"),
        ("fft", {}, (2, 2, 1, 1), "int32", "int32 .* algorithm='direct'"),
        ("im2col", {}, (2, 2, 1, 1), "int32", "int32"),
        ("naive", {}, (2, 2, 1, 1), "int32", "int32"),
        ("winograd", {}, (3, 3, 1, 1), "int32", "int32"),
    ],
)
def test_an_algorithm_that_cannot_compute_the_call_says_why(algorithm, kwargs, w_shape, dtype, reason):
    x, w = np.ones((1, 9, 9, 1), dtype), np.ones(w_shape, dtype)
    with pytest.raises(
        ValueError, match=f"conv2d: algorithm='{algorithm}' cannot compute this convolution: .*{reason}"
    ):
        convops.conv2d(x, w, **kwargs, algorithm=algorithm)
    convops.conv2d(x, w, **kwargs, algorithm="auto")  # "auto" computes every call


def test_input_gradient_algorithms_refuse_what_they_cannot_compute():
    w, dy = np.ones((3, 3, 1, 1), np.float32), np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match=r"algorithm='direct' cannot .* stride 1 only; got strides \(2, 2\)"):
        convops.conv2d_backprop_input((1, 9, 9, 1), w, dy, strides=2, algorithm="direct")
    with pytest.raises(ValueError, match=r"algorithm='winograd' cannot .* got strides \(2, 2\)"):
        convops.conv2d_backprop_input((1, 9, 9, 1), w, dy, strides=2, algorithm="winograd")
    with pytest.raises(
        ValueError, match=r"`algorithm` must be one of \('auto', 'direct', 'winograd', 'im2col'\); got 'fft'"
    ):
        convops.conv2d_backprop_input((1, 6, 6, 1), w, dy, algorithm="fft")
    got = convops.conv2d_backprop_input((1, 9, 9, 1), w, dy, strides=2, algorithm="im2col")
    assert_bits_equal(got, convops.conv2d_backprop_input((1, 9, 9, 1), w, dy, strides=2), "im2col vs auto")


# --------------------------------------------------------------------------- force() and threads


def _spy(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(name) or original(*a, **k))
    return calls


def test_an_explicit_algorithm_wins_over_force_and_force_steers_auto(monkeypatch):
    """force(conv2d=...) overrides only "auto"; an explicit algorithm runs what it names."""
    from convops import _conv_dispatch

    kernels = _conv_dispatch._conv
    naive = _spy(monkeypatch, kernels, "conv2d_naive")
    direct = _spy(monkeypatch, kernels, "conv2d_direct")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 6, 6, 2)), rng.standard_normal((3, 3, 2, 3))
    with force(conv2d="naive"):
        convops.conv2d(x, w, algorithm="direct")
        assert (naive, direct) == ([], ["conv2d_direct"]), "explicit 'direct' must not run the forced naive kernel"
        convops.conv2d(x, w)
        assert naive == ["conv2d_naive"], "'auto' must run the forced kernel"
    winograd = _spy(monkeypatch, _winograd, "conv2d_winograd")
    big_x, big_w = rng.standard_normal((1, 8, 8, 64)), rng.standard_normal((3, 3, 64, 64))
    with force(conv2d="direct"):
        convops.conv2d(big_x, big_w, padding="SAME")
    assert winograd == [], "under a forced kernel 'auto' must not choose Winograd"
    with force(conv2d="naive"):
        convops.conv2d(big_x, big_w, padding="SAME", algorithm="winograd")
    assert winograd == ["conv2d_winograd"]


def test_explicit_direct_takes_the_compiled_path_with_the_general_paths_result(monkeypatch):
    """An explicit "direct" runs the same kernels as the general path (which a forced ISA equal
    to the default takes), at any filter size, and never Winograd."""
    from convops import _conv_dispatch

    winograd = _spy(monkeypatch, _winograd, "conv2d_winograd")
    default_isa = _conv_dispatch._ISA_NAMES[_conv_dispatch.default_isa()]
    rng = np.random.default_rng(7)
    cases = [
        ((1, 5, 5, 1), (3, 3, 1, 1), "VALID"),
        ((2, 9, 8, 3), (3, 3, 3, 5), "SAME"),
        ((1, 12, 12, 64), (3, 3, 64, 64), "SAME"),  # large enough for "auto" to consider Winograd
    ]
    for x_shape, w_shape, padding in cases:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        fast = convops.conv2d(x, w, padding=padding, algorithm="direct")
        with force(isa=default_isa):  # anything forced takes the general path
            general = convops.conv2d(x, w, padding=padding, algorithm="direct")
        assert_bits_equal(fast, general, f"direct {x_shape} {w_shape}", "general path")
    assert winograd == []
    # Non-finite filters: TensorFlow's 0 * inf = NaN where a window reaches the padding, and
    # 1 * inf summed = inf in the one window that does not.
    x, w = np.ones((1, 3, 3, 1), np.float32), np.full((3, 3, 1, 1), np.inf, np.float32)
    got = convops.conv2d(x, w, padding="SAME", algorithm="direct")[0, :, :, 0]
    expected = np.full((3, 3), np.nan, np.float32)
    expected[1, 1] = np.inf
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("algorithm", ["auto", *EXPLICIT])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_algorithm_is_bit_identical_for_any_thread_count(algorithm, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 19, 17, 64)).astype(dtype)
    w = rng.standard_normal((3, 3, 64, 65)).astype(dtype)
    results = []
    for threads in (1, 2, 3):
        with convops.num_threads(threads):
            results.append(convops.conv2d(x, w, padding="SAME", algorithm=algorithm))
    for threads, got in zip((2, 3), results[1:]):
        assert_bits_equal(got, results[0], f"conv2d(algorithm={algorithm!r}) with {threads} threads", "1 thread")


# --------------------------------------------------------------------------- filter gradient and transpose


def filter_grad(case: ConvCase, dy: np.ndarray, algorithm: str):
    return call_op(
        convops.conv2d_backprop_filter,
        "conv2d_backprop_filter",
        case.x,
        case.w.shape,
        dy,
        strides=case.strides,
        padding=case.explicit_padding,
        dilations=case.dilations,
        algorithm=algorithm,
    )


@pytest.mark.tf
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "winograd", "auto"])
@given(case=stride1_cases(kernel=(3, 3), dtypes=("float32", "float64")))
def test_filter_gradient_algorithms_match_tensorflow(algorithm, case):
    """Groups and every padding; Winograd within the TF-parity bound plus its own
    (test_winograd_filter.winograd_filter_bound) per group, on the padded input."""
    dy = conv_dy(case)
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.explicit_padding, case.dilations)
    got, repro = filter_grad(case, dy, algorithm)
    _, bound = conv_grad_bounds(case, dy, want_dx, want_dw)
    if algorithm == "winograd":
        (top, bottom), (left, right) = case.explicit_padding
        xp = np.pad(case.x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        c_group, c_out = case.w.shape[2:]
        c_out_group = c_out // (case.x.shape[3] // c_group)
        for g in range(case.x.shape[3] // c_group):
            outs = slice(g * c_out_group, (g + 1) * c_out_group)
            bound[..., outs] += winograd_filter_bound(xp[..., g * c_group : (g + 1) * c_group], dy[..., outs])
    assert_within(got, want_dw, bound, repro, f"tf.GradientTape ({algorithm})", dtype=case.x.dtype)


@given(case=conv2d_cases(dtypes=("float32", "float64"), styles=("normal", "ties", "negative")))
def test_filter_gradient_auto_is_the_direct_kernel_bit_for_bit(case):
    """ "auto" runs the direct kernel on every geometry (Winograd leaves residue on taps whose
    products are all zero: test_winograd_filter)."""
    dy = conv_dy(case)
    auto, repro = filter_grad(case, dy, "auto")
    assert_bits_equal(auto, filter_grad(case, dy, "direct")[0], repro, "algorithm='direct'")


@pytest.mark.tf
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "auto"])
def test_filter_gradient_non_finite_upstream_on_the_padding_as_tensorflow(algorithm):
    """An inf in dy at a position whose window reaches the padding: TF multiplies the padding
    zeros (NaN on those taps); "direct" keeps that rule by running im2col there."""
    rng = np.random.default_rng(2)
    case = ConvCase(rng.standard_normal((1, 5, 6, 2)), rng.standard_normal((3, 3, 2, 3)), padding="SAME")
    dy = conv_dy(case)
    dy[0, 0, 0, 1] = np.inf
    want_dx, want_dw = tf_conv_grads(case.x, case.w, dy, case.strides, case.explicit_padding, case.dilations)
    assert np.isnan(want_dw).any()
    got, repro = filter_grad(case, dy, algorithm)
    _, bound = conv_grad_bounds(case, dy, want_dx, want_dw)
    assert_within(got, want_dw, bound, repro, f"tf.GradientTape ({algorithm})", dtype=case.x.dtype)


def test_filter_gradient_algorithms_refuse_what_they_cannot_compute():
    x = np.ones((1, 9, 9, 2), np.float32)
    for kwargs, w_shape, dy_hw, reason in [
        ({"strides": 2}, (3, 3, 2, 1), (4, 4), r"stride 1 only; got strides \(2, 2\)"),
        ({"dilations": 2}, (3, 3, 2, 1), (5, 5), r"dilation 1 only; got dilations \(2, 2\)"),
        ({}, (2, 3, 2, 1), (8, 7), "3x3 filters only; got 2x3"),
    ]:
        dy = np.ones((1, *dy_hw, 1), np.float32)
        with pytest.raises(
            ValueError,
            match=f"conv2d_backprop_filter: algorithm='winograd' cannot compute this convolution: .*{reason}",
        ):
            convops.conv2d_backprop_filter(x, w_shape, dy, **kwargs, algorithm="winograd")
        for algorithm in ("direct", "im2col", "auto"):  # every geometry
            got = convops.conv2d_backprop_filter(x, w_shape, dy, **kwargs, algorithm=algorithm)
            assert_bits_equal(got, convops.conv2d_backprop_filter(x, w_shape, dy, **kwargs), f"{algorithm} {kwargs}")
    with pytest.raises(
        ValueError,
        match=r"conv2d_backprop_filter: `algorithm` must be one of \('auto', 'direct', 'winograd', 'im2col'\)",
    ):
        convops.conv2d_backprop_filter(x, (3, 3, 2, 1), np.ones((1, 7, 7, 1), np.float32), algorithm="fft")


def test_filter_gradient_explicit_algorithm_wins_over_force(monkeypatch):
    from convops._kernels import load

    kernels = load("conv_grad")
    direct = _spy(monkeypatch, kernels, "conv2d_backprop_filter_direct")
    gemm = _spy(monkeypatch, kernels, "conv2d_backprop_filter")
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal((1, 6, 6, 2)), rng.standard_normal((1, 4, 4, 3))
    with force(conv2d_backprop_filter="gemm"):
        convops.conv2d_backprop_filter(x, (3, 3, 2, 3), dy, algorithm="direct")
        assert (direct, gemm) == (["conv2d_backprop_filter_direct"], [])
        convops.conv2d_backprop_filter(x, (3, 3, 2, 3), dy)
        assert gemm == ["conv2d_backprop_filter"], "'auto' must run the forced kernel"
    convops.conv2d_backprop_filter(x, (3, 3, 2, 3), dy, algorithm="im2col")
    assert gemm == ["conv2d_backprop_filter"] * 2


@pytest.mark.parametrize("algorithm", ["auto", "direct", "winograd", "im2col"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_filter_gradient_algorithms_are_bit_identical_for_any_thread_count(algorithm, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 23, 21, 32)).astype(dtype)
    dy = rng.standard_normal((6, 23, 21, 48)).astype(dtype)
    results = []
    for threads in (1, 2, 3):
        with convops.num_threads(threads):
            results.append(convops.conv2d_backprop_filter(x, (3, 3, 32, 48), dy, padding="SAME", algorithm=algorithm))
    for threads, got in zip((2, 3), results[1:]):
        assert_bits_equal(got, results[0], f"conv2d_backprop_filter({algorithm!r}) with {threads} threads", "1 thread")


@pytest.mark.parametrize("algorithm", ["auto", "direct", "winograd", "im2col"])
def test_conv2d_transpose_takes_the_input_gradient_algorithms(algorithm):
    """conv2d_transpose is conv2d_backprop_input: the same algorithm gives the same bits."""
    rng = np.random.default_rng(8)
    y, w = rng.standard_normal((2, 7, 9, 5)), rng.standard_normal((3, 3, 4, 5))
    got = convops.conv2d_transpose(y, w, (2, 7, 9, 4), 1, algorithm=algorithm)
    want = convops.conv2d_backprop_input((2, 7, 9, 4), w, y, 1, "SAME", algorithm=algorithm)
    assert_bits_equal(got, want, f"conv2d_transpose(algorithm={algorithm!r})", "conv2d_backprop_input")


def test_conv2d_transpose_algorithm_errors_name_the_op():
    y, w = np.ones((1, 4, 4, 1), np.float32), np.ones((3, 3, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"conv2d_transpose: algorithm='direct' cannot .* got strides \(2, 2\)"):
        convops.conv2d_transpose(y, w, (1, 8, 8, 1), 2, algorithm="direct")
    with pytest.raises(ValueError, match=r"conv2d_transpose: `algorithm` must be one of .*; got 'fft'"):
        convops.conv2d_transpose(y, w, (1, 4, 4, 1), 1, algorithm="fft")


def test_auto_keeps_the_compiled_path_where_winograd_cannot_be_chosen(monkeypatch):
    """Large filters on fewer input positions than Winograd's minimum of output positions take
    the compiled small-call path (the general path's Python costs tens of microseconds), with the
    general path's bits; with enough positions the call reaches the auto rule."""
    from convops import _algorithms as algorithms
    from convops import _conv_dispatch

    general = _spy(monkeypatch, algorithms, "run_conv")
    default_isa = _conv_dispatch._ISA_NAMES[_conv_dispatch.default_isa()]
    rng = np.random.default_rng(11)
    w = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    assert w.size >= algorithms.AUTO_FAST_PATH_MAX_FILTER_SIZE
    x = rng.standard_normal((1, 13, 13, 32)).astype(np.float32)
    assert x.shape[0] * x.shape[1] * x.shape[2] < algorithms.AUTO_WINOGRAD_MIN_POSITIONS
    fast = convops.conv2d(x, w, padding="SAME")
    assert general == [], "a call Winograd cannot take went through the general path"
    with force(isa=default_isa):
        assert_bits_equal(fast, convops.conv2d(x, w, padding="SAME"), "fast path", "general path")
    general.clear()
    big = rng.standard_normal((16, 14, 14, 32)).astype(np.float32)
    convops.conv2d(big, w, padding="SAME")
    assert general == ["run_conv"], "a call the auto rule may send to Winograd skipped it"
