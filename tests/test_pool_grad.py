"""Gradients of the pooling ops (``max_pool2d_grad``, ``max_pool2d_with_argmax``,
``avg_pool2d_grad``) against ``tf.GradientTape``, plus finite-difference checks that need no TF.

Compared bit for bit with TF: both add the same terms in the same order. One exception, where
TF is wrong: the gradient of a SAME average pool whose window is wider than the input (TF's
AvgPoolGrad, checked with TF 2.21, differs from the derivative on such geometries). Those are
checked against the NumPy reference and float64 central differences instead (the last section).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_exact, assert_within, call_op, central_differences, nhwc
from convops import reference
from convops.dispatch import force
from strategies import PoolCase, make_values, pool2d_cases

FLOAT_DTYPES = ("float32", "float64")


# --------------------------------------------------------------------------- helpers


def upstream_for(case, shape, dtype=None) -> np.ndarray:
    """A reproducible upstream gradient dL/dy for ``case`` (seeded by the case)."""
    rng = np.random.default_rng((case.seed or 0) + 1)
    return make_values(rng, shape, dtype or case.x.dtype, "normal")


def to_format(array: np.ndarray, data_format: str) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if data_format == "NCHW" else array


def sizes_in(shape_nhwc, data_format: str):
    n, h, w, c = shape_nhwc
    return (n, h, w, c) if data_format == "NHWC" else (n, c, h, w)


def with_examples(examples, **extra):
    """@example(case=...) for each pinned case (with the same extra arguments)."""

    def decorate(test):
        for case in reversed(examples):
            test = example(case=case, **extra)(test)
        return test

    return decorate


def _fd_check(loss, x: np.ndarray, grad: np.ndarray, what: str, h: float = 1e-6, rtol: float = 1e-6) -> None:
    """Central differences of the scalar ``loss`` at ``x`` against ``grad``, element by element."""
    numeric = central_differences(loss, x, h).reshape(-1)
    scale = max(1.0, float(np.abs(grad).max()))
    error = np.abs(numeric - grad.reshape(-1))
    worst = int(np.argmax(error))
    assert error[worst] <= rtol * scale * 100, (
        f"{what}: finite difference {numeric[worst]!r} vs gradient {grad.reshape(-1)[worst]!r} at flat index {worst}"
    )


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
    kwargs = {
        "ksize": case.spelled.get("ksize", case.ksize),
        "strides": case.spelled.get("strides", case.strides),
        "padding": case.spelled.get("padding", case.padding),
    }
    if case.data_format != "NHWC":
        kwargs["data_format"] = case.data_format
    return kwargs


def pinned_pool(values, ksize, strides, padding="VALID", **kwargs) -> PoolCase:
    x = np.asarray(values, dtype=np.float64)[None, :, :, None]
    return PoolCase(x, ksize, strides, padding, **kwargs)


_SQUARE = np.arange(25, dtype=np.float64).reshape(5, 5) % 7 - 3
POOL_EXAMPLES = [
    pinned_pool(_SQUARE, (1, 1), (1, 1)),  # identity
    pinned_pool(_SQUARE, (5, 5), (1, 1)),  # window = input
    pinned_pool(_SQUARE, (2, 1), (3, 4)),  # stride > window: gaps
    pinned_pool(_SQUARE, (3, 3), (1, 1)),  # heavy overlap
    pinned_pool(-1 - np.arange(20).reshape(4, 5), (3, 3), (2, 2), "SAME"),  # padding never wins
    pinned_pool(-1 - np.arange(20).reshape(4, 5), (3, 2), (1, 1), ((2, 1), (0, 1))),
    pinned_pool([[1, 1, 0], [1, 1, 0], [0, 0, 0]], (2, 2), (1, 1)),  # ties
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
    got, repro = call_op(
        convops.max_pool2d_grad, "max_pool2d_grad", x_arg, to_format(dy, case.data_format), **pool_kwargs(case)
    )
    assert_exact(nhwc(got, case.data_format), want, repro, "tf.GradientTape")


def _tf_rule(values, ksize=(2, 2), strides=(2, 2), padding="VALID", dtype=np.float32):
    """(TF's max-pool gradient of ones, convops') for a literal (H, W) image."""
    case = pinned_pool(values, ksize, strides, padding).with_dtype(dtype)
    dy = np.ones((1, *case.output_hw, 1), dtype)
    return tf_pool_grad("max_pool2d", case, dy)[0, :, :, 0], convops.max_pool2d_grad(
        case.x, dy, ksize, strides, padding
    )[0, :, :, 0]


@pytest.mark.tf
@pytest.mark.parametrize(
    "values, expected",
    [
        ([[1, 3], [3, 3]], [[0, 1], [0, 0]]),  # ties: the first maximum, row-major
        ([[np.nan, 3], [4, 1]], [[1, 0], [0, 0]]),  # NaN first: keeps it (forward gives 4)
        ([[1, np.nan], [4, 1]], [[0, 0], [1, 0]]),  # a later NaN is ignored
        ([[np.nan, np.nan], [np.nan, np.nan]], [[1, 0], [0, 0]]),
        ([[-np.inf, -np.inf], [-np.inf, -np.inf]], [[1, 0], [0, 0]]),
    ],
)
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
@given(
    case=pool2d_cases(
        data_formats=("NHWC",), paddings=("SAME", "VALID"), layouts=("C", "F", "negative"), image_2d=False
    ),
    batch_index=st.booleans(),
    index32=st.booleans(),
)
@with_examples(
    [pinned_pool([[np.nan, 1, 2], [3, np.nan, 0], [-np.inf, 5, np.nan]], (2, 2), (1, 1))],
    batch_index=True,
    index32=False,
)
def test_max_pool2d_with_argmax_matches_tensorflow(dtype, case, batch_index, index32):
    """Values and indices ``(y*W + x)*C + c`` (plus the batch offset when asked), bit for bit."""
    if case.seed is None and np.dtype(dtype).kind != "f":
        # A pinned float example cast to integers: NaN and inf have no integer value.
        case = replace(case, x=np.nan_to_num(case.x, nan=0.0, posinf=7.0, neginf=-7.0))
    case = case.with_dtype(dtype)
    tf = oracle.load()
    index_dtype = np.int32 if index32 else np.int64
    want_out, want_arg = tf.nn.max_pool_with_argmax(
        tf.constant(case.x),
        [1, *case.ksize, 1],
        [1, *case.strides, 1],
        case.padding,
        output_dtype=tf.int32 if index32 else tf.int64,
        include_batch_in_index=batch_index,
    )
    (x_arg,), _ = case.convops_args()
    (out, arg), repro = call_op(
        convops.max_pool2d_with_argmax,
        "max_pool2d_with_argmax",
        x_arg,
        case.ksize,
        case.strides,
        case.padding,
        output_dtype=index_dtype,
        include_batch_in_index=batch_index,
    )
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
@with_examples(
    [
        pinned_pool(_SQUARE, (3, 3), (1, 1), "SAME"),
        pinned_pool(_SQUARE, (2, 3), (2, 2), "SAME"),
        pinned_pool(_SQUARE, (2, 2), (3, 3), "VALID", data_format="NCHW"),
    ]
)
def test_avg_pool2d_grad_matches_tensorflow_exactly(dtype, case):
    """Shares of 1/count (real cells only) added in TF's order: bit for bit."""
    case = case.with_dtype(dtype)
    dy = upstream_for(case, (case.x.shape[0], *case.output_hw, case.x.shape[3]))
    want = tf_pool_grad("avg_pool2d", case, dy)
    got, repro = call_op(
        convops.avg_pool2d_grad,
        "avg_pool2d_grad",
        sizes_in(case.x.shape, case.data_format),
        to_format(dy, case.data_format),
        **pool_kwargs(case),
    )
    assert_exact(nhwc(got, case.data_format), want, repro, "tf.GradientTape")


@pytest.mark.tf
@pytest.mark.parametrize("readable", [False, True])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "ksize, strides, padding",
    [
        ((2, 2), (2, 2), "VALID"),  # disjoint windows (KH <= sh, KW <= sw): the write-once loop
        ((2, 2), (2, 2), "SAME"),  # ... with the last row and column clipped (odd sides)
        ((2, 1), (3, 2), "VALID"),  # ... with cells in no window (gaps) between and after windows
        ((3, 2), (3, 2), "SAME"),  # ... padding on both sides, clipped windows of 2-6 cells
        ((3, 3), (2, 2), "SAME"),  # overlapping windows: the gather loop, clipped windows
        ((3, 3), (1, 1), "VALID"),
        ((2, 3), (1, 2), "SAME"),
    ],
)
def test_avg_pool2d_grad_kernels_match_tensorflow(readable, dtype, ksize, strides, padding):
    """Each loop of the avg-pool gradient (_kernels/pool_grad.pyx: readable, write-once for disjoint
    windows, fast gather) bit for bit against TF, including the sign of zero: a -0.0 upstream
    value gives +0.0, as TF's zero-initialised sums do."""
    case = PoolCase(np.zeros((2, 7, 9, 5), dtype), ksize, strides, padding)
    out_shape = convops.avg_pool2d(case.x, ksize, strides, padding).shape
    dy = np.random.default_rng(7).uniform(-2.0, 2.0, out_shape).astype(dtype)
    dy[..., 0] = -0.0
    want = tf_pool_grad("avg_pool2d", case, dy)
    with force(avg_pool2d_grad="readable" if readable else "fast"):
        got, repro = call_op(convops.avg_pool2d_grad, "avg_pool2d_grad", case.x.shape, dy, ksize, strides, padding)
    what = f"tf.GradientTape (readable loop: {readable})"
    assert_exact(got, want, repro, what)
    assert np.array_equal(np.signbit(got), np.signbit(want)), f"signs of zeros differ from {what}\n  reproduce: {repro}"


@pytest.mark.tf
@pytest.mark.parametrize("count_include_pad", [False, True])
@given(
    case=pool2d_cases(dtypes=("float64",), paddings=("explicit", "SAME"), styles=("normal",), data_formats=("NHWC",))
)
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
    magnitude = convops.avg_pool2d_grad(
        case.x.shape, np.abs(dy), case.ksize, case.strides, case.padding, count_include_pad=count_include_pad
    )
    assert_within(got, want, 8 * np.finfo(np.float64).eps * kh * kw * magnitude, repro, "TF construction")


def test_avg_pool2d_grad_errors():
    with pytest.raises(ValueError, match=r"`grad` must have the avg-pool output's shape \(1, 2, 2, 1\)"):
        convops.avg_pool2d_grad((1, 4, 4, 1), np.ones((1, 3, 3, 1)), 2, 2)
    with pytest.raises(ValueError, match=r"`orig_input_shape` must have 4 entries"):
        convops.avg_pool2d_grad((4, 4, 1), np.ones((1, 2, 2, 1)), 2, 2)
    with pytest.raises(TypeError, match=r"`grad` of avg_pool2d_grad must have one of the dtypes"):
        convops.avg_pool2d_grad((1, 4, 4, 1), np.ones((1, 2, 2, 1), np.int64), 2, 2)


# --------------------------------------------------------------------------- no TF: finite differences


@given(
    case=pool2d_cases(
        dtypes=("float64",), styles=("normal",), layouts=("C",), spell=False, data_formats=("NHWC",), image_2d=False
    )
)
def test_pool_gradients_finite_differences(case):
    """max_pool2d (distinct values, so no ties) and avg_pool2d, against their forward ops."""
    x = np.ascontiguousarray(case.x[:1, :, :, :2])  # one image, <= 2 channels: few evaluations
    case = replace(case, x=x)
    args = (case.ksize, case.strides, case.padding)
    dy = upstream_for(case, (x.shape[0], *case.output_hw, x.shape[3]))
    d_max = convops.max_pool2d_grad(x, dy, *args)
    d_avg = convops.avg_pool2d_grad(x.shape, dy, *args)
    _fd_check(lambda v: float(np.sum(convops.max_pool2d(v, *args) * dy)), x, d_max, f"max pool {case}")
    _fd_check(lambda v: float(np.sum(convops.avg_pool2d(v, *args) * dy)), x, d_avg, f"avg pool {case}")


# --------------------------------------------------------------------------- windows wider than the input


@pytest.mark.parametrize("method", ["fast", "readable"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(
    case=pool2d_cases(
        dtypes=FLOAT_DTYPES,
        paddings=("SAME",),
        styles=("normal",),
        layouts=("C",),
        spell=False,
        data_formats=("NHWC",),
        image_2d=False,
        max_window=8,
    )
)
@example(case=PoolCase(np.arange(8.0).reshape(1, 4, 1, 2), (5, 2), (1, 1), "SAME"))
@example(case=PoolCase(np.arange(24.0).reshape(1, 4, 3, 2), (5, 5), (1, 3), "SAME"))
def test_avg_pool2d_grad_of_windows_wider_than_the_input(method, dtype, case):
    """SAME windows up to 8 wide on inputs of 1-8 cells, where TensorFlow is wrong.

    TF's AvgPoolGrad (TF 2.21, oneDNN off) differs from the derivative of its own avg_pool2d on
    some SAME geometries whose window is wider than the input -- the pinned examples (a 5-row
    window on 4 rows) among them; the other tests of this file cap the window at 4, where TF is
    right. The oracles here: the NumPy reference ``reference.avg_pool2d_grad`` (bit for bit: same
    shares, same order) and, in float64, central differences of ``avg_pool2d`` itself.
    """
    case = case.with_dtype(dtype)
    x = case.x
    args = (case.ksize, case.strides, case.padding)
    dy = upstream_for(case, (x.shape[0], *case.output_hw, x.shape[3]))
    with force(avg_pool2d_grad=method):
        got, repro = call_op(convops.avg_pool2d_grad, "avg_pool2d_grad", x.shape, dy, *args)
    assert_exact(
        got, reference.avg_pool2d_grad(x.shape, dy, *args), repro, f"reference.avg_pool2d_grad (convops' {method} loop)"
    )
    if dtype == "float64":
        one = np.ascontiguousarray(x[:1, :, :, :2])  # one image, <= 2 channels: few evaluations
        dy1 = np.ascontiguousarray(dy[:1, :, :, :2])
        with force(avg_pool2d_grad=method):
            grad = convops.avg_pool2d_grad(one.shape, dy1, *args)
        _fd_check(lambda v: float(np.sum(convops.avg_pool2d(v, *args) * dy1)), one, grad, f"avg pool {case}")


# --------------------------------------------------------------------------- one geometry check


@pytest.mark.parametrize(
    "bad",
    [
        {"ksize": 0},
        {"ksize": (2, 2, 2)},
        {"ksize": 2.0},
        {"strides": 0},
        {"strides": [1, 2, 2, 2]},
        {"padding": "FULL"},
        {"padding": ((2, 0), (0, 0))},
        {"padding": ((0, 0), (0, 3))},
    ],
)
def test_pool_ops_and_gradients_give_one_message_per_bad_window(bad):
    """The forward pools and their three gradients validate the window with one function
    (pooling.pool_geometry): the same bad ksize/strides/padding gets the same error, word for
    word apart from the op's name."""
    x = np.ones((1, 4, 4, 1))
    dy = np.ones((1, 2, 2, 1))
    args = {"ksize": 2, "strides": 2, "padding": "VALID", **bad}
    calls = {
        "max_pool2d": lambda: convops.max_pool2d(x, **args),
        "avg_pool2d": lambda: convops.avg_pool2d(x, **args),
        "max_pool2d_grad": lambda: convops.max_pool2d_grad(x, dy, **args),
        "max_pool2d_with_argmax": lambda: convops.max_pool2d_with_argmax(x, **args),
        "avg_pool2d_grad": lambda: convops.avg_pool2d_grad(x.shape, dy, **args),
    }
    messages = {}
    for op, call in calls.items():
        with pytest.raises((TypeError, ValueError)) as error:
            call()
        messages[op] = (type(error.value), str(error.value).replace(op, "<op>"))
    assert len(set(messages.values())) == 1, messages


def test_argmax_refuses_images_beyond_32_bit_positions_before_any_work():
    """The argmax kernel scans with 32-bit positions within an image; Python refuses a larger
    image (H*W*C > 2**31 - 1) up front, so the kernel never has to decline. Broadcast views: no
    memory is used."""
    x = np.broadcast_to(np.float32(0), (1, 50000, 50000, 1))
    dy = np.broadcast_to(np.float32(0), (1, 25000, 25000, 1))
    message = (
        r"images must have at most 2\*\*31 - 1 elements \(H\*W\*C\) for the argmax; got \(H, W, C\) = "
        r"\(50000, 50000, 1\), 2500000000 elements"
    )
    with pytest.raises(ValueError, match="`orig_input` " + message):
        convops.max_pool2d_grad(x, dy, 2, 2)
    with pytest.raises(ValueError, match="`input` " + message):
        convops.max_pool2d_with_argmax(x, 2, 2)


# --------------------------------------------------------------------------- the compiled fast paths

_fastpath = __import__("convops._kernels", fromlist=["load"]).load("fastpath")


def _general(op, *args):
    """`op(*args)` the general way: forcing anything (here the default ISA) skips the fast paths."""
    from convops import pooling

    with force(isa=pooling._DEFAULT_ISA):
        return op(*args)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_pool_grad_fast_paths_take_the_plain_call_and_agree_bit_for_bit(dtype):
    """max_pool2d_grad and avg_pool2d_grad take the compiled path for plain calls and give the
    general path's bits: VALID and SAME, unequal pairs, overlapping windows, windows as tall as
    the image, ties, NaN and inf, both average conventions, and a batch large enough for threads."""
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, (3, 11, 10, 37)).astype(dtype)  # small integers: ties in most windows
    x[0, 0, 0, :5] = np.nan
    x[1, 3:5, 2:4, 7] = -np.inf
    x[2, 4, 4, 9] = np.inf
    big = rng.standard_normal((16, 28, 28, 32)).astype(dtype)
    cases = [
        (x, 2, 2, "VALID"),
        (x, 3, 2, "SAME"),
        (x, 3, 1, "SAME"),  # every cell in up to nine windows
        (x, (3, 2), [1, 2], "same"),
        (x, [2, 3], (3, 1), "valid"),
        (x, (11, 3), 1, "VALID"),
        (big, 2, 2, "VALID"),
        (big, 3, 2, "SAME"),
    ]
    for data, ksize, strides, padding in cases:
        call = f"<{data.dtype} {data.shape}>, ksize={ksize!r}, strides={strides!r}, padding={padding!r}"
        dy = rng.standard_normal(convops.max_pool2d(data, ksize, strides, padding).shape).astype(dtype)
        want = _general(convops.max_pool2d_grad, data, dy, ksize, strides, padding)
        fast = _fastpath.max_pool2d_grad_fast(data, dy, ksize, strides, padding, "NHWC", 2)
        assert fast is not None, call
        assert_exact(fast, want, "max_pool2d_grad" + call, "the general path")
        assert_exact(convops.max_pool2d_grad(data, dy, ksize, strides, padding), want, call, "the general path")
        for shape in (data.shape, list(data.shape)):
            for include in (False, True):
                want = _general(convops.avg_pool2d_grad, shape, dy, ksize, strides, padding, "NHWC", include)
                fast = _fastpath.avg_pool2d_grad_fast(shape, dy, ksize, strides, padding, "NHWC", include, 2)
                assert fast is not None, call
                assert_exact(fast, want, f"avg_pool2d_grad{call}, count_include_pad={include}", "the general path")
                got = convops.avg_pool2d_grad(shape, dy, ksize, strides, padding, count_include_pad=include)
                assert_exact(got, want, call, "the general path")


def test_pool_grad_fast_paths_run_the_general_kernels_on_one_thread_too():
    x = np.random.default_rng(8).standard_normal((16, 28, 28, 32)).astype(np.float32)
    dy = np.random.default_rng(9).standard_normal((16, 14, 14, 32)).astype(np.float32)
    for threads in (1, 2, 3):
        assert np.array_equal(
            _fastpath.max_pool2d_grad_fast(x, dy, 2, 2, "VALID", "NHWC", threads),
            _general(convops.max_pool2d_grad, x, dy, 2, 2),
        )
        assert np.array_equal(
            _fastpath.avg_pool2d_grad_fast(x.shape, dy, 2, 2, "VALID", "NHWC", False, threads),
            _general(convops.avg_pool2d_grad, x.shape, dy, 2, 2),
        )


_DECLINED = {
    # None = "not mine": the general path then handles it, including every error.
    "list input": {"x": "list"},
    "float16": {"x": np.float16, "dy": np.float16},
    "int32": {"x": np.int32, "dy": np.int32},
    "dtypes differ": {"dy": np.float64},
    "strided view": {"x": "strided"},
    "fortran order": {"x": "fortran"},
    "big-endian": {"x": ">f4", "dy": ">f4"},
    "3-D": {"x": "3-D", "dy": "3-D"},
    "NCHW": {"data_format": "NCHW"},
    "lowercase nhwc": {"data_format": "nhwc"},
    "data_format None": {"data_format": None},
    "grad of the wrong shape": {"dy": "wrong shape"},
    "4-element ksize": {"ksize": [1, 2, 2, 1]},
    "stride 0": {"strides": 0},
    "bool stride": {"strides": True},
    "float stride": {"strides": 2.0},
    "numpy int window": {"ksize": np.int64(2)},
    "explicit padding": {"padding": [[0, 0], [1, 1]]},
    "bad padding string": {"padding": "FULL"},
    "empty output": {"ksize": 7, "dy": "empty"},
    "zero batch": {"x": "zero batch", "dy": "zero batch"},
}


@pytest.mark.parametrize("case", list(_DECLINED))
def test_pool_grad_fast_paths_decline_everything_else(case):
    x = np.random.default_rng(1).standard_normal((2, 6, 6, 4)).astype(np.float32)
    dy = np.ones((2, 3, 3, 4), np.float32)
    args = {"ksize": 2, "strides": 2, "padding": "VALID", "data_format": "NHWC"}
    change = dict(_DECLINED[case])
    forms = {
        "list": lambda a: a.tolist(),
        "strided": lambda a: np.ones((2, 12, 6, 4), a.dtype)[:, ::2],
        "fortran": np.asfortranarray,
        "3-D": lambda a: a[0],
        "wrong shape": lambda a: np.ones((2, 2, 2, 4), a.dtype),
        "empty": lambda a: np.ones((2, 0, 0, 4), a.dtype),
        "zero batch": lambda a: a[:0],
    }
    for name, array in (("x", x), ("dy", dy)):
        form = change.pop(name, None)
        if form is not None:
            array = forms[form](array) if isinstance(form, str) and form in forms else array.astype(form)
        if name == "x":
            x = array
        else:
            dy = array
    args.update(change)
    shape = np.shape(x)
    assert _fastpath.max_pool2d_grad_fast(x, dy, *args.values(), 2) is None
    if case not in ("list input", "strided view", "fortran order", "dtypes differ"):  # x is only its shape here
        assert _fastpath.avg_pool2d_grad_fast(shape, dy, *args.values(), False, 2) is None


@pytest.mark.parametrize(
    "sizes",
    [np.array([2, 6, 6, 4]), (2, 6, 6), (2, 6, 6, np.int64(4)), (2, 6, 6, 4.0), (2, 6, 6, True), (0, 6, 6, 4), "2664"],
)
def test_avg_pool_grad_fast_path_takes_only_a_list_or_tuple_of_four_ints(sizes):
    dy = np.ones((2, 3, 3, 4), np.float32)
    assert _fastpath.avg_pool2d_grad_fast(sizes, dy, 2, 2, "VALID", "NHWC", False, 2) is None
    assert _fastpath.avg_pool2d_grad_fast((2, 6, 6, 4), dy, 2, 2, "VALID", "NHWC", np.bool_(False), 2) is None
    assert _fastpath.avg_pool2d_grad_fast((2, 6, 6, 4), dy, 2, 2, "VALID", "NHWC", False, 2) is not None
