"""pad against ``tf.pad`` (CONSTANT, REFLECT, SYMMETRIC, any case, ranks 1..5, every dtype), against
``np.pad`` for the modes TF lacks (EDGE = ``edge``, CIRCULAR = ``wrap``), and MEAN against its
definition (one mean per index of the unpadded axes, e.g. per image and channel). Exact."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_bits_equal, assert_exact, assert_within, call_op
from strategies import PAD_DTYPES, PadCase, make_values, pad_cases, present


def run(case: PadCase):
    args, kwargs = case.convops_args()
    return call_op(convops.pad, "pad", *args, **kwargs)


_X23 = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)


@pytest.mark.tf
@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases())
@example(case=PadCase(_X23, ((1, 1), (2, 2)), "REFLECT"))  # tests/TF-SEMANTICS.md's REFLECT example
@example(case=PadCase(_X23, ((1, 1), (2, 2)), "SYMMETRIC"))
@example(case=PadCase(_X23, ((1, 1), (2, 2)), "reflect", spelled_mode="reflect"))
@example(case=PadCase(_X23, ((0, 1), (2, 2)), "REFLECT"))  # pad = size - 1: the limit
@example(case=PadCase(_X23, ((2, 2), (3, 3)), "SYMMETRIC"))  # pad = size: the limit
@example(case=PadCase(np.zeros((0, 3)), ((1, 2), (0, 1)), "CONSTANT", constant_values=7))  # empty axis
@example(case=PadCase(np.arange(5.0), ((3, 0),), "CONSTANT", constant_values=-1))  # rank 1
@example(case=PadCase(np.arange(4.0).reshape(1, 1, 2, 2, 1), ((0, 0), (1, 0), (1, 1), (0, 1), (1, 1)), "SYMMETRIC"))
def test_pad_matches_tensorflow(dtype, case):
    case = case.with_dtype(dtype)
    want = oracle.pad(case.x, case.paddings, case.mode, case.constant_values)
    got, repro = run(case)
    assert_bits_equal(got, want, repro, "TensorFlow")  # pad only copies: the very bits, NaN payloads too


@pytest.mark.parametrize("dtype", PAD_DTYPES)
@given(case=pad_cases(modes=("EDGE", "CIRCULAR")))
@example(case=PadCase(np.arange(3.0), ((2, 2),), "EDGE"))  # a a a b c c c
@example(case=PadCase(np.arange(3.0), ((7, 5),), "CIRCULAR"))  # wraps more than once
def test_pad_edge_and_circular_match_numpy(dtype, case):
    """EDGE is np.pad's ``edge`` (PyTorch's ``replicate``), CIRCULAR np.pad's ``wrap``."""
    case = case.with_dtype(dtype)
    want = np.pad(case.x, case.paddings, mode={"EDGE": "edge", "CIRCULAR": "wrap"}[case.mode.upper()])
    got, repro = run(case)
    assert_bits_equal(got, want, repro, f"np.pad(mode={case.mode.lower()!r})")


def _exact_mean(values: np.ndarray):
    """The mean of ``values`` rounded once to their dtype (integers: half to even)."""
    if values.dtype.kind == "f":
        if np.isnan(values).any() or (np.isposinf(values).any() and np.isneginf(values).any()):
            return values.dtype.type(np.nan)
        if np.isinf(values).any():
            return values[np.isinf(values)][0]
        mean = sum((Fraction(float(v)) for v in values), Fraction(0)) / values.size
        return values.dtype.type(float(mean))  # Fraction -> float is correctly rounded
    mean = sum((int(v) for v in values), 0)
    return values.dtype.type(round(Fraction(mean, values.size)))  # round() halves to even


def _mean_border(x: np.ndarray, paddings) -> np.ndarray:
    """MEAN padding by its definition, with loops: for each index of the unpadded axes, the exact
    mean (Fractions) of the values along the padded axes, rounded once."""
    padded_axes = [axis for axis, p in enumerate(paddings) if tuple(p) != (0, 0)]
    kept_axes = [axis for axis in range(x.ndim) if axis not in padded_axes]
    out_shape = [s + a + b for s, (a, b) in zip(x.shape, paddings)]
    out = np.empty(out_shape, dtype=x.dtype)
    for kept in np.ndindex(*[x.shape[a] for a in kept_axes]):
        source = [slice(None)] * x.ndim
        target = [slice(None)] * x.ndim
        for axis, index in zip(kept_axes, kept):
            source[axis] = index
            target[axis] = index
        out[tuple(target)] = _exact_mean(x[tuple(source)].ravel())
    interior = tuple(slice(a, a + s) for s, (a, _) in zip(x.shape, paddings))
    out[interior] = x
    return out


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint8", "int64", "float16", "float32", "float64"])
@given(case=pad_cases(modes=("MEAN",), min_rank=1, max_rank=5))
@example(case=PadCase(np.array([[1.0, 2.0], [3.0, 6.0]]), ((1, 0), (0, 1)), "MEAN"))
def test_pad_mean_matches_its_definition(dtype, case):
    """MEAN pads with the mean along the padded axes, separately for every index of the others.
    Integers exactly (half to even); floats within 1 ulp of the exactly rounded mean (convops sums
    in float64, which rounds a little). NaN in the data makes the mean NaN."""
    case = case.with_dtype(dtype)
    want = _mean_border(case.x, case.paddings)
    got, repro = run(case)
    if case.x.dtype.kind in "iub":  # bool: the mean of 0/1 rounded half to even, like the integers
        assert_exact(got, want, repro, "the definition of MEAN")
        return
    # convops' float64 sum errs by up to (count + 1) * eps64 * mean(|x|) (cancellation), then the
    # result is rounded once more to the dtype: one ulp there.
    count = int(np.prod([size for size, p in zip(case.x.shape, case.paddings) if tuple(p) != (0, 0)]))
    with np.errstate(invalid="ignore", over="ignore"):
        mean_abs = _mean_border(np.abs(case.x.astype(np.float64)), case.paddings)
        ulp = np.spacing(np.abs(want).astype(want.dtype)).astype(np.float64)
        bound = np.where(np.isfinite(want), ulp + (count + 1) * np.finfo(np.float64).eps * mean_abs, 0.0)
    assert_within(got, want, bound, repro, "the definition of MEAN")


def test_pad_mean_is_per_image_and_channel_not_whole_tensor(tf):
    """Two 2x2 images x 2 channels padded in H and W: each (image, channel) plane gets its own mean.
    tf.pad(x, p, constant_values=tf.reduce_mean(x)) is the whole tensor's mean — a different thing."""
    x = np.zeros((2, 2, 2, 2), dtype=np.float64)
    x[0, :, :, 0] = [[1, 1], [1, 1]]  # mean 1
    x[0, :, :, 1] = [[0, 2], [4, 6]]  # mean 3
    x[1, :, :, 0] = [[-4, -4], [0, 0]]  # mean -2
    x[1, :, :, 1] = [[10, 10], [10, 10]]  # mean 10
    paddings = [[0, 0], [1, 1], [1, 1], [0, 0]]
    got = convops.pad(x, paddings, "MEAN")
    assert got.shape == (2, 4, 4, 2)
    expected_means = {(0, 0): 1.0, (0, 1): 3.0, (1, 0): -2.0, (1, 1): 10.0}
    for (n, c), mean in expected_means.items():
        plane = got[n, :, :, c]
        border = np.concatenate([plane[0], plane[-1], plane[1:-1, 0], plane[1:-1, -1]])
        assert np.all(border == mean), f"image {n}, channel {c}: border {border}, expected {mean}"
        np.testing.assert_array_equal(plane[1:-1, 1:-1], x[n, :, :, c])
    whole = tf.pad(tf.constant(x), paddings, constant_values=tf.reduce_mean(x)).numpy()
    assert not np.array_equal(got, whole), "MEAN must not be the whole-tensor mean"
    # The documented way to get the whole-tensor mean is CONSTANT with constant_values=x.mean().
    assert_exact(
        convops.pad(x, paddings, "CONSTANT", constant_values=x.mean()),
        whole,
        "convops.pad(x, paddings, 'CONSTANT', constant_values=x.mean())",
        "TensorFlow",
    )


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR"])
def test_padding_index_maps_agree_with_pad(mode):
    """pad's output is the input read through padding_index's per-axis maps (the documented model)."""
    x = np.arange(12).reshape(3, 4)
    pairs = [(2, 1), (3, 3)]
    maps = [convops.padding_index(size, before, after, mode) for size, (before, after) in zip(x.shape, pairs)]
    np.testing.assert_array_equal(convops.pad(x, pairs, mode), x[np.ix_(*maps)])
    assert (
        convops.padding_index(3, 2, 2, mode).tolist()
        == {
            "REFLECT": [2, 1, 0, 1, 2, 1, 0],
            "SYMMETRIC": [1, 0, 0, 1, 2, 2, 1],
            "EDGE": [0, 0, 0, 1, 2, 2, 2],
            "CIRCULAR": [1, 2, 0, 1, 2, 0, 1],
        }[mode]
    )


def test_pad_mean_extremes(recwarn):
    """MEAN near the top of each range: exact for int64 (a float64 mean of int64.max is 2**63,
    which wrapped to int64.min), no float64 overflow, NaN for inf - inf, and no RuntimeWarning."""
    top = np.iinfo(np.int64).max
    assert convops.pad(np.array([top, top]), [[1, 0]], "MEAN").tolist() == [top, top, top]
    assert convops.pad(np.array([2**62 + 1, 2**62 + 3]), [[0, 1]], "MEAN")[-1] == 2**62 + 2
    assert convops.pad(np.array([2**64 - 1] * 3, np.uint64), [[0, 1]], "MEAN")[-1] == 2**64 - 1
    assert convops.pad(np.array([1, 2], np.uint8), [[0, 1]], "MEAN")[-1] == 2  # 1.5: half to even
    assert convops.pad(np.array([-3, -2], np.int8), [[0, 1]], "MEAN")[-1] == -2  # -2.5: half to even
    big = np.finfo(np.float64).max
    assert convops.pad(np.array([big, big]), [[0, 1]], "MEAN")[-1] == big
    assert np.isnan(convops.pad(np.array([np.inf, -np.inf, 1.0]), [[0, 1]], "MEAN")[-1])
    assert convops.pad(np.array([np.inf, -big, -big]), [[0, 1]], "MEAN")[-1] == np.inf
    runtime = [str(w.message) for w in recwarn.list if issubclass(w.category, RuntimeWarning)]
    assert not runtime, runtime


@given(
    shape=st.lists(st.integers(9, 14), min_size=2, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    pads=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=3, max_size=3),
    layout=st.sampled_from(["F", "negative", "gapped"]),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_pad_mean_does_not_depend_on_memory_layout(shape, seed, pads, layout, dtype):
    """MEAN sums along the padded axes, and NumPy's summation order follows the memory layout: a
    Fortran-ordered (or strided) float64 input with two or more padded axes and sides of nine or
    more is where a layout-dependent sum rounds differently. Compared bit for bit (signed zeros
    and NaN payloads count) with the C-ordered call."""
    rank = len(shape)
    paddings = [list(p) for p in pads[:rank]]
    paddings[0], paddings[1] = [1, paddings[0][1]], [paddings[1][0], 1]  # >= 2 padded axes
    x = make_values(np.random.default_rng(seed), shape, np.dtype(dtype), "normal")
    x *= np.random.default_rng(seed + 1).choice([1.0, 1e-8, 1e8], size=shape).astype(dtype)  # cancellation
    got = convops.pad(present(x, layout), paddings, "MEAN")
    want = convops.pad(np.ascontiguousarray(x), paddings, "MEAN")
    assert_bits_equal(
        got,
        want,
        f"convops.pad(<{dtype} {shape} array, {layout} layout>, {paddings}, 'MEAN')  "
        f"# values: make_values(default_rng({seed}), {shape}, {dtype!r}, 'normal')",
        "the C-ordered call",
    )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("layout", ["C", "F", "negative"])
@pytest.mark.parametrize("constant", [-0.0, 0.0, "numpy -0.0", "numpy 0.0"])
@pytest.mark.parametrize("paddings_as", ["list", "ndarray"])
def test_pad_keeps_the_sign_of_a_zero_constant_on_every_path(dtype, layout, constant, paddings_as):
    """``constant_values=-0.0`` pads with -0.0 (as tf.pad, np.pad and PyTorch do) whichever path the
    call takes: the compiled fast path (C-ordered input, list paddings, a Python float) or the
    general one (other layouts, ndarray paddings, NumPy scalars)."""
    value = np.dtype(dtype).type(float(constant.split()[-1])) if isinstance(constant, str) else constant
    x = present(np.arange(6, dtype=dtype).reshape(2, 3) + 1, layout)
    paddings = [[1, 0], [0, 2]]
    out = convops.pad(x, np.array(paddings) if paddings_as == "ndarray" else paddings, constant_values=value)
    border = np.concatenate([out[0], out[1:, 3:].ravel()])
    negative = bool(np.signbit(np.float64(value)))
    assert np.all(border == 0) and np.all(np.signbit(border) == negative), (
        f"border {border!r} (signbit {np.signbit(border)}), constant {value!r}"
    )
