"""The Winograd filter gradient F(3x3, 2x2) (convops/_winograd.py) against TensorFlow's
Conv2DBackpropFilter, the readable reference, the direct sum, and itself across thread counts.

The bound (:func:`winograd_filter_bound`) is the error analysis of the algorithm: every product
of a tile's 16 inputs with its 4 upstream values reaches each of the 9 taps through the
transforms, so a tap's error follows the magnitude of its whole tiles, not of its own products.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import oracle
from checks import assert_bits_equal, assert_within, repro
from convops import _winograd
from convops._winograd import conv2d_backprop_filter_winograd, transform_matrices, winograd_filter_reference
from strategies import make_values

DTYPES = ("float32", "float64")


def exact_filter_grad(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``sum_{n,y,x} x[n, y + ky, x + kx, c] dy[n, y, x, o]`` in float64, tap by tap."""
    h_out, w_out = dy.shape[1:3]
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    taps = [
        [np.einsum("nyxc,nyxo->co", x[:, ky : ky + h_out, kx : kx + w_out], dy) for kx in range(3)] for ky in range(3)
    ]
    return np.array(taps)


def winograd_filter_bound(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Allowed ``|got - exact|`` per tap: ``eps * (T + 8) * |G|^T [sum_t (|B^T| |d_t| |B|) *
    (|A| |dY_t| |A^T|)] |G|`` -- the algorithm evaluated on absolute values, T tiles.

    Why: V = B^T d B rounds twice, D = A dY A^T twice, their product once, the sum over the T
    tiles at most T - 1 times in any order (chunks and lanes included), and G^T M G once (in
    float64, then rounded): at most T + 6 roundings along any path, each relative to the terms
    that path adds, whose sizes are the absolute-value formula. eps = 2u leaves a factor 2.
    Measured (float32 and float64, C 1 to 64, 4x16x16 SAME, normal / ReLU-like / one-row data):
    the error is at most 0.3% of this bound and of the TF-parity one, ``(K + 1) eps sum|x||dy|``,
    except where the latter is 0 (see test_a_tap_with_only_zero_products_gets_residue).
    """
    bt, g, at = (np.abs(m) for m in transform_matrices(2))
    n, height, width, c_in = x.shape
    h_out, w_out, c_out = dy.shape[1:]
    th, tw = -(-h_out // 2), -(-w_out // 2)
    if th * tw == 0:
        return np.zeros((3, 3, c_in, c_out))
    xp = np.zeros((n, 2 * th + 2, 2 * tw + 2, c_in))
    xp[:, :height, :width] = np.abs(x)
    dp = np.zeros((n, 2 * th, 2 * tw, c_out))
    dp[:, :h_out, :w_out] = np.abs(dy)
    tiles = np.lib.stride_tricks.sliding_window_view(xp, (4, 4), axis=(1, 2))[:, ::2, ::2][:, :th, :tw]
    v = np.einsum("pi,nyxcij,qj->nyxcpq", bt, tiles, bt)
    d = np.einsum("ip,nyixjo,jq->nyxopq", at, dp.reshape(n, th, 2, tw, 2, c_out), at)
    m = np.einsum("nyxcpq,nyxopq->pqco", v, d)
    eps = float(np.finfo(x.dtype).eps)
    return eps * (n * th * tw + 8) * np.einsum("pk,pqco,ql->klco", g, m, g)


def tf_backprop_filter(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    tf = oracle.load()
    result = tf.raw_ops.Conv2DBackpropFilter(
        input=tf.constant(x),
        filter_sizes=tf.constant((3, 3, x.shape[3], dy.shape[3]), dtype=tf.int32),
        out_backprop=tf.constant(dy),
        strides=[1, 1, 1, 1],
        padding="VALID",
    )
    return result.numpy()


@st.composite
def filter_cases(draw, max_side: int = 24, max_channels: int = 12, max_batch: int = 3):
    """(x, dy): a VALID 3x3 stride-1 filter gradient, H and W in 2..max_side (a side of 2 has
    no outputs), float32 or float64, finite values in several styles."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES), label="dtype"))
    n = draw(st.integers(1, max_batch), label="N")
    height, width = draw(st.integers(2, max_side), label="H"), draw(st.integers(2, max_side), label="W")
    c_in, c_out = draw(st.integers(1, max_channels), label="C_in"), draw(st.integers(1, max_channels), label="C_out")
    style = draw(st.sampled_from(("normal", "ties", "negative")), label="value style")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    x = make_values(rng, (n, height, width, c_in), dtype, style)
    dy = make_values(rng, (n, height - 2, width - 2, c_out), dtype, "ties" if style == "ties" else "normal")
    return x, dy


def pinned(x_shape, c_out: int, dtype: str = "float32"):
    x = (np.arange(np.prod(x_shape)) % 7 - 3).reshape(x_shape).astype(dtype)
    dy = (np.arange(x_shape[0] * (x_shape[1] - 2) * (x_shape[2] - 2) * c_out) % 5 - 2).astype(dtype)
    return x, dy.reshape(x_shape[0], x_shape[1] - 2, x_shape[2] - 2, c_out)


# --------------------------------------------------------------------------- the transform


def test_tile_formula_is_the_transpose_of_the_forward_tile():
    """<dY, A^T [(G g G^T) * (B^T d B)] A> = <G^T [(B^T d B) * (A dY A^T)] G, g> for random
    tiles, filters and upstream values, in float64: the filter gradient of one tile."""
    bt, g_mat, at = transform_matrices(2)
    rng = np.random.default_rng(0)
    for _ in range(20):
        d, g, dy = rng.standard_normal((4, 4)), rng.standard_normal((3, 3)), rng.standard_normal((2, 2))
        forward = at @ ((g_mat @ g @ g_mat.T) * (bt @ d @ bt.T)) @ at.T
        tile_grad = g_mat.T @ ((bt @ d @ bt.T) * (at.T @ dy @ at)) @ g_mat
        direct = np.array([[np.sum(d[ky : ky + 2, kx : kx + 2] * dy) for kx in range(3)] for ky in range(3)])
        np.testing.assert_allclose(tile_grad, direct, rtol=0, atol=1e-12)
        assert abs(np.sum(dy * forward) - np.sum(tile_grad * g)) < 1e-10


# --------------------------------------------------------------------------- accuracy


@pytest.mark.tf
@given(case=filter_cases())
@example(case=pinned((1, 3, 3, 1), 1))  # one output, in a ragged tile
@example(case=pinned((2, 7, 12, 3), 5))  # ragged along H only
@example(case=pinned((1, 2, 9, 2), 2))  # no outputs
@example(case=pinned((3, 5, 4, 40), 40, "float64"))  # wide channels
def test_filter_gradient_matches_tensorflow_and_the_exact_sum(case):
    x, dy = case
    got = conv2d_backprop_filter_winograd(x, dy, 1)
    call = repro("_winograd.conv2d_backprop_filter_winograd", x, dy, 1)
    bound = winograd_filter_bound(x, dy)
    assert_within(got, exact_filter_grad(x, dy).astype(x.dtype), bound, call, "float64 sum", dtype=x.dtype)
    if dy.size == 0:
        return  # TF's Conv2DBackpropFilter leaves its result uninitialised then
    # TF errs too, by the TF-parity bound: well inside Winograd's (whose K-long sum it shares).
    assert_within(got, tf_backprop_filter(x, dy), 2 * bound, call, "TensorFlow", dtype=x.dtype)


@given(case=filter_cases(max_side=9, max_channels=4, max_batch=2))
def test_reference_matches_the_batched_kernel(case):
    x, dy = case
    got = conv2d_backprop_filter_winograd(x, dy, 1)
    want = winograd_filter_reference(x, dy)
    assert_within(got, want, 2 * winograd_filter_bound(x, dy), repro("_winograd.winograd_filter_reference", x, dy))
    exact = exact_filter_grad(x, dy).astype(x.dtype)
    assert_within(want, exact, winograd_filter_bound(x, dy), repro("_winograd.winograd_filter_reference", x, dy))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_tap_with_only_zero_products_gets_residue(dtype):
    """Why "auto" keeps the direct kernel for the filter gradient. SAME padding, an input
    nonzero only in its first row (padded row 1): tap row ky = 2 reads padded rows 2 and below,
    so its products are all zero and the direct sum (and TF, and the TF-parity bound) give exactly
    0. Winograd's tile reads that row at tile position 1, which B^T spreads over three transformed
    rows whose contributions to ky = 2 cancel only in exact arithmetic: residue, inside the
    Winograd bound."""
    rng = np.random.default_rng(4)
    x = np.zeros((2, 11, 10, 8), dtype)
    x[:, 0] = rng.standard_normal((2, 10, 8))
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    dy = rng.standard_normal((2, 11, 10, 6)).astype(dtype)
    got = conv2d_backprop_filter_winograd(xp, dy, 1)
    exact = exact_filter_grad(xp, dy)
    assert not exact[2].any()
    assert np.count_nonzero(got[2]) > got[2].size // 2, "expected rounding residue on the zero tap"
    assert_within(got, exact.astype(dtype), winograd_filter_bound(xp, dy), "zero-tap case", "float64 sum")


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_thread_count(dtype, monkeypatch):
    """Bit-identical on 1, 2 and 3 threads: one tile row per chunk, so 8 lanes of several
    chunks each, with images straddling chunks and lanes."""
    monkeypatch.setattr(_winograd, "_FILTER_SCRATCH_BYTES", 1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 21, 130, 16)).astype(dtype)
    dy = rng.standard_normal((5, 19, 128, 12)).astype(dtype)
    assert _winograd.filter_chunk_rows(64, 16, 12, x.dtype.itemsize) == 1
    call = repro("_winograd.conv2d_backprop_filter_winograd", x, dy, 1)
    first = conv2d_backprop_filter_winograd(x, dy, 1)
    assert_within(first, exact_filter_grad(x, dy).astype(dtype), winograd_filter_bound(x, dy), call, "float64 sum")
    for threads in (2, 3, 1):
        assert_bits_equal(conv2d_backprop_filter_winograd(x, dy, threads), first, call, f"{threads} threads")


def test_chunk_rows_depend_on_shapes_only_and_bound_scratch():
    for tiles_w, c_in, c_out in ((1, 1, 1), (28, 64, 64), (7, 512, 512), (200, 3, 4)):
        rows = _winograd.filter_chunk_rows(tiles_w, c_in, c_out, 4)
        assert rows >= 1 and rows * tiles_w >= 64
        scratch = 16 * rows * tiles_w * (c_in + c_out) * 4
        assert rows * tiles_w < 64 + tiles_w or scratch <= _winograd._FILTER_SCRATCH_BYTES


# --------------------------------------------------------------------------- edges and errors


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 5, 5, 2, 3), (2, 5, 5, 0, 3), (2, 5, 5, 2, 0), (1, 2, 7, 2, 3)])
def test_empty_operands_give_zeros(dtype, shape):
    n, h, w, c_in, c_out = shape
    got = conv2d_backprop_filter_winograd(np.ones((n, h, w, c_in), dtype), np.ones((n, h - 2, w - 2, c_out), dtype), 2)
    assert got.shape == (3, 3, c_in, c_out) and got.dtype == dtype and not got.any()


_X = np.zeros((1, 5, 5, 2), np.float32)
_DY = np.zeros((1, 3, 3, 3), np.float32)


@pytest.mark.parametrize(
    ("kwargs", "name", "fragment"),
    [
        ({"x": _X[0]}, "x", "4-D"),
        ({"x": _X.astype(np.float16), "dy": _DY.astype(np.float16)}, "x", "float16"),
        ({"x": np.zeros((1, 1, 5, 2), np.float32)}, "x", "H >= 2"),
        ({"dy": _DY[:, :2]}, "dy", "(1, 3, 3)"),
        ({"dy": np.zeros((2, 3, 3, 3), np.float32)}, "dy", "got (2, 3, 3, 3)"),
        ({"dy": _DY.astype(np.float64)}, "dy", "float64"),
        ({"num_threads": 0}, "num_threads", "got 0"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name, fragment):
    args = {"x": _X, "dy": _DY, "num_threads": 1} | kwargs
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        conv2d_backprop_filter_winograd(**args)
    assert fragment in str(info.value)
    if name != "num_threads":
        with pytest.raises(ValueError, match=f"`{name}`"):
            winograd_filter_reference(args["x"], args["dy"])
