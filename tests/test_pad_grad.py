"""pad's gradient against ``tf.GradientTape`` (bit for bit for tf.pad's own modes), plus
finite-difference checks that need no TF."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_exact, assert_within, call_op, central_differences
from strategies import PadCase, make_values, pad_cases

FLOAT_DTYPES = ("float32", "float64")


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
    assert error[worst] <= rtol * scale * 100, (
        f"{what}: finite difference {numeric[worst]!r} vs gradient {grad.reshape(-1)[worst]!r} at flat index {worst}"
    )


@given(
    case=pad_cases(
        dtypes=("float64",),
        modes=("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"),
        layouts=("C",),
        allow_zero_size=False,
        max_rank=3,
    )
)
def test_pad_grad_finite_differences(case):
    """Every mode (MEAN too: its border moves with every cell it averages), any rank <= 3."""
    x = np.random.default_rng(case.x.size).standard_normal(case.x.shape)  # finite values, any style
    dy = pad_dy(replace(case, x=x))
    grad = convops.pad_grad(dy, case.paddings, case.mode)
    _fd_check(lambda v: float(np.sum(convops.pad(v, case.paddings, case.mode) * dy)), x, grad, f"pad {case.mode}")
