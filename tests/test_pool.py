"""max_pool2d and avg_pool2d against ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d``, compared exactly.

Pooling does no arithmetic that could legitimately differ (max is exact; avg sums the real cells
in TF's row-major order in the input dtype, then divides), so every comparison is bit for bit,
NaN where NaN. What TF cannot answer — ``count_include_pad``, explicit padding for avg-pool,
windows larger than the input — is compared with TF through an exact construction, or with the
NumPy reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given

import convops
import oracle
from checks import assert_exact, assert_within, call_op, flush_subnormals
from convops.reference import avg_pool2d_reference, max_pool2d_reference
from strategies import AVG_POOL_DTYPES, MAX_POOL_DTYPES, PoolCase, pool2d_cases, pool2d_empty_cases

pytestmark = [
    # The reference sums in the input dtype one addition at a time; inf - inf and overflow are
    # part of what is compared, NumPy's warnings about them are noise here.
    pytest.mark.filterwarnings("ignore::RuntimeWarning:convops.reference"),
]


def run(op: str, case: PoolCase, **extra):
    args, kwargs = case.convops_args()
    kwargs.update(extra)
    result, repro = call_op(getattr(convops, op), op, *args, **kwargs)
    return case.to_nhwc(result), repro


def pinned(values, ksize, strides, padding="VALID", **kwargs) -> PoolCase:
    """A pinned example from a literal (H, W) image (seen as (1, H, W, 1))."""
    x = np.asarray(values, dtype=np.float64)[None, :, :, None]
    return PoolCase(x, ksize, strides, padding, **kwargs)


_SQUARE = np.arange(25, dtype=np.float64).reshape(5, 5) % 7 - 3


@pytest.mark.tf
@pytest.mark.parametrize("dtype", MAX_POOL_DTYPES)
@given(case=pool2d_cases())
@example(case=pinned(_SQUARE, (1, 1), (1, 1)))  # 1x1 window: identity
@example(case=pinned(_SQUARE, (5, 5), (1, 1)))  # window = input
@example(case=pinned(_SQUARE, (2, 1), (3, 4)))  # stride > window
@example(case=pinned(_SQUARE, (2, 2), (2, 2), "SAME"))  # even window, SAME
@example(case=pinned(-1 - np.arange(20).reshape(4, 5), (3, 3), (2, 2), "SAME"))  # padding never wins
@example(case=pinned(-1 - np.arange(20).reshape(4, 5), (3, 2), (1, 1), ((2, 1), (0, 1))))
@example(case=pinned([[1, 1, 0], [1, 1, 0], [0, 0, 0]], (2, 2), (1, 1)))  # ties
@example(case=pinned(_SQUARE, (3, 2), (2, 1), "SAME", data_format="NCHW"))
@example(case=pinned([[np.nan, np.nan, 1], [np.nan, np.nan, np.nan]], (2, 2), (1, 1)))  # all-NaN window
@example(case=pinned([[np.nan, 2, 2], [-1, np.nan, 2]], (2, 2), (1, 1), "SAME"))  # NaN among ties
def test_max_pool2d_matches_tensorflow(dtype, case):
    """Every dtype TF's CPU max-pool has; SAME/VALID/explicit (pads < window); ksize and strides as
    int/pair/4-list; NCHW; NaN, ±inf, ties, dtype extremes; every memory layout."""
    case = case.with_dtype(dtype)
    want = oracle.max_pool2d(case.x, case.ksize, case.strides, case.padding)
    got, repro = run("max_pool2d", case)
    assert_exact(got, want, repro, "TensorFlow")
    # Our inputs hold no subnormals, so TF's flush-to-zero never shows in a max.


@pytest.mark.tf
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES, paddings=("VALID", "SAME")))
@example(case=pinned(_SQUARE, (1, 1), (1, 1)))
@example(case=pinned(_SQUARE, (5, 5), (1, 1)))
@example(case=pinned(_SQUARE, (2, 1), (3, 4)))
@example(case=pinned(_SQUARE, (2, 2), (2, 2), "SAME"))
@example(case=pinned(np.arange(9).reshape(3, 3), (2, 2), (2, 2), "SAME"))  # 4, 2, 2 and 1 real cells
@example(case=pinned(_SQUARE, (4, 3), (3, 2), "SAME", data_format="NCHW"))
def test_avg_pool2d_matches_tensorflow(dtype, case):
    """Divides by the number of real cells (padding excluded); NaN and inf propagate."""
    case = case.with_dtype(dtype)
    want = oracle.avg_pool2d(case.x, case.ksize, case.strides, case.padding)
    got, repro = run("avg_pool2d", case)
    # A mean of tiny normals can be subnormal: TF flushes it to zero, convops does not.
    assert_exact(flush_subnormals(got), want, repro, "TensorFlow (subnormals flushed)")
    reference = avg_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding)
    assert_exact(got, reference, repro, "the reference")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES))
@example(case=pinned(np.ones((3, 3)), (2, 2), (2, 2), "SAME"))
def test_avg_pool2d_count_include_pad_matches_zero_padded_tensorflow(dtype, case):
    """count_include_pad=True (PyTorch's default) has no TF switch; it *is* TF's VALID average of the
    input zero-padded by tf.pad (the zeros change no partial sum), so the comparison is exact."""
    case = case.with_dtype(dtype)
    want = oracle.avg_pool2d_zero_padded(case.x, case.ksize, case.strides, case.explicit_padding)
    got, repro = run("avg_pool2d", case, count_include_pad=True)
    assert_exact(flush_subnormals(got), want, repro, "TensorFlow on zero-padded input (subnormals flushed)")
    reference = avg_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding, count_include_pad=True)
    assert_exact(got, reference, repro, "the reference")


def test_avg_pool2d_count_include_pad_by_hand():
    """3x3 ones, 2x2 windows, stride 2, SAME pads one row/column after: the windows hold 4, 2, 2
    and 1 real cells. Excluding padding every mean is 1; including it, 4/4, 2/4, 2/4, 1/4."""
    x = np.ones((3, 3), dtype=np.float32)
    np.testing.assert_array_equal(convops.avg_pool2d(x, 2, 2, "SAME"), np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(
        convops.avg_pool2d(x, 2, 2, "SAME", count_include_pad=True), np.array([[1.0, 0.5], [0.5, 0.25]], np.float32)
    )


@pytest.mark.tf
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(case=pool2d_cases(dtypes=AVG_POOL_DTYPES, paddings=("explicit",), styles=("normal", "ties", "negative")))
@example(case=pinned(_SQUARE, (3, 2), (1, 2), ((2, 1), (0, 1))))
def test_avg_pool2d_explicit_padding(dtype, case):
    """Explicit padding is a convops extension: exact against the reference; against TF through
    sum / count of zero-padded averages (two extra roundings, so within a few ulps)."""
    case = case.with_dtype(dtype)
    got, repro = run("avg_pool2d", case)
    reference = avg_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding)
    assert_exact(got, reference, repro, "the reference")
    want = oracle.avg_pool2d_real_cells(case.x, case.ksize, case.strides, case.explicit_padding)
    # The convops sum rounds once per addition in the input dtype: at most (cells + 1) ulps of
    # the mean absolute value; the float64 oracle is exact by comparison.
    mean_abs = oracle.avg_pool2d_real_cells(np.abs(case.x), case.ksize, case.strides, case.explicit_padding)
    cells = case.ksize[0] * case.ksize[1]
    bound = (cells + 1) * float(np.finfo(case.x.dtype).eps) * mean_abs
    assert_within(got, want.astype(case.x.dtype), bound, repro, "TensorFlow (sum / count)", dtype=case.x.dtype)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@given(case=pool2d_empty_cases(dtypes=AVG_POOL_DTYPES))
@example(case=pinned(np.ones((2, 3)), (3, 2), (1, 1)))  # TF + oneDNN: SIGFPE here
def test_pool_empty_output_matches_reference(op, case):
    """A window larger than the (padded) input gives an empty axis, compared with the reference."""
    assert 0 in case.output_hw
    reference = {"max_pool2d": max_pool2d_reference, "avg_pool2d": avg_pool2d_reference}[op]
    want = reference(case.x, case.ksize, case.strides, case.explicit_padding)
    got, repro = run(op, case)
    assert got.shape == (case.x.shape[0], *case.output_hw, case.x.shape[3]), repro
    assert_exact(got, want, repro, "the reference")


@pytest.mark.tf
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("fill", [np.nan, -np.inf])
def test_max_pool2d_window_without_numbers_gives_lowest_finite(dtype, fill):
    """TF on x86-64 CPU starts each window at the dtype's lowest finite value and keeps only larger
    values: an all-NaN (or all -inf) window gives np.finfo(dtype).min, not NaN or -inf."""
    x = np.full((1, 2, 4, 1), fill, dtype=dtype)
    x[0, :, 2:, 0] = [[np.nan, 5], [1, np.nan]]  # second window: NaN ignored -> 5
    want = oracle.max_pool2d(x, (2, 2), (2, 2), "VALID")
    lowest = np.finfo(dtype).min
    assert want.ravel().tolist() == [lowest, 5], f"TensorFlow's rule changed: {want.ravel()}"
    got = convops.max_pool2d(x, 2, 2)
    assert_exact(got, want, f"convops.max_pool2d(np.full((1, 2, 4, 1), {fill}, np.{dtype}), 2, 2)", "TensorFlow")


@pytest.mark.tf
def test_max_pool2d_ignores_nan_like_tensorflow():
    """[1, NaN, 3, 2] -> 3 wherever the NaN sits (tests/TF-SEMANTICS.md, "Pools")."""
    for values in ([1, np.nan, 3, 2], [np.nan, 1, 3, 2], [3, 2, 1, np.nan]):
        x = np.array(values, dtype=np.float32).reshape(1, 2, 2, 1)
        assert oracle.max_pool2d(x, (2, 2), (2, 2), "VALID").item() == 3
        assert convops.max_pool2d(x, 2, 2).item() == 3


@pytest.mark.tf
def test_avg_pool2d_propagates_nan_like_tensorflow():
    x = np.array([1, np.nan, 3, 2], dtype=np.float32).reshape(1, 2, 2, 1)
    assert np.isnan(oracle.avg_pool2d(x, (2, 2), (2, 2), "VALID").item())
    assert np.isnan(convops.avg_pool2d(x, 2, 2).item())


@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
def test_pools_overflow_and_nan_quietly(dtype, recwarn):
    """inf - inf and overflow are results here, not events: no RuntimeWarning in any dtype (the
    float32/64 kernels are silent, so the float16 path must be too; TF is silent)."""
    big = np.finfo(dtype).max
    x = np.array([[big, big], [np.inf, -np.inf]], dtype=dtype)
    avg = convops.avg_pool2d(x, (1, 2), 1)
    assert avg[0, 0] == np.inf and np.isnan(avg[1, 0])
    assert convops.avg_pool2d(x, (1, 2), 1, "SAME", count_include_pad=True)[0, 0] == np.inf
    assert convops.max_pool2d(x, (1, 2), 1)[1, 0] == np.inf
    runtime = [w for w in recwarn.list if issubclass(w.category, RuntimeWarning)]
    assert not runtime, f"{dtype}: {[str(w.message) for w in runtime]}"


@pytest.mark.tf
def test_avg_pool2d_float16_counts_beyond_2048_cells():
    """2048 ones then 952 zeros: the sum (2048) is exact in half, the mean is 2048/3000. TF counts
    the cells in float16 one at a time, the count stops at 2048 and TF answers 1.0; convops
    divides by the true count (a deliberate difference, pinned here so a TF fix is noticed)."""
    x = np.zeros((1, 1, 3000, 1), dtype=np.float16)
    x[..., :2048, :] = 1
    assert oracle.avg_pool2d(x, (1, 3000), (1, 1), "VALID").item() == 1.0, "TF's float16 count no longer saturates"
    got = convops.avg_pool2d(x, (1, 3000), 1)
    assert got.item() == np.float16(2048 / 3000)
    assert_exact(
        got, avg_pool2d_reference(x, (1, 3000), (1, 1)), "convops.avg_pool2d(x, (1, 3000), 1)", "the reference"
    )


@pytest.mark.tf
@pytest.mark.parametrize("dtype", AVG_POOL_DTYPES)
@given(
    case=pool2d_cases(
        dtypes=AVG_POOL_DTYPES,
        max_window=16,
        max_stride=8,
        paddings=("VALID", "SAME"),
        styles=("normal", "ties", "negative"),
        image_2d=True,
        layouts=("C",),
    )
)
@example(case=pinned(np.arange(2500).reshape(50, 50) % 7, (50, 50), (1, 1)))  # 2500 cells
@example(case=pinned(np.arange(2401).reshape(49, 49) % 5, (49, 49), (49, 49), "SAME"))
def test_avg_pool2d_large_windows(dtype, case):
    """Windows of up to 256 cells (drawn) and 2401/2500 cells (pinned; the reference is slow beyond):
    exactly the reference; exactly TF where every window has at most 2048 real cells (beyond that
    TF's float16 count saturates, see above)."""
    case = case.with_dtype(dtype)
    got, repro = run("avg_pool2d", case)
    assert_exact(
        got, avg_pool2d_reference(case.x, case.ksize, case.strides, case.explicit_padding), repro, "the reference"
    )
    (kh, kw), (h, w) = case.ksize, case.x.shape[1:3]
    if case.x.dtype != np.float16 or min(kh, h) * min(kw, w) <= 2048:
        want = oracle.avg_pool2d(case.x, case.ksize, case.strides, case.padding)
        assert_exact(flush_subnormals(got), want, repro, "TensorFlow")
