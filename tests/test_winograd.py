"""Winograd F(2x2, 3x3) and F(4x4, 3x3) (convops/_winograd.py) against TensorFlow, the readable
reference, and itself across thread counts.

The error bound (measured and justified in :func:`winograd_bound`) is wider than the direct
kernels' ``eps * (K + 1) * sum|x||w|``: the transforms mix every input of a tile into every output
of that tile, so an output's rounding error scales with the magnitudes of its whole
``(m + 2) x (m + 2)`` input tile, not only its 3 x 3 window.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import convops
import oracle
from checks import assert_bits_equal, assert_within, repro
from convops import _winograd
from convops._winograd import (
    conv2d_backprop_input_winograd,
    conv2d_winograd_numpy,
    conv2d_winograd_valid,
    transform_matrices,
    winograd_reference,
)
from strategies import make_values

DTYPES = ("float32", "float64")
#: The instruction sets beside the portable one whose transforms this CPU runs.
WINOGRAD_ISAS = [isa for isa in __import__("convops._kernels.simd", fromlist=["x"]).supported_isas() if isa != "base"]

#: Extra rounding terms per tile size, on top of the channel sum's K + 1 (see winograd_bound).
TRANSFORM_TERMS = {2: 8, 4: 64}


def tile_magnitude(x: np.ndarray, w: np.ndarray, tile: int) -> np.ndarray:
    """Per output of a VALID 3x3 conv: ``sum_c (sum of |x[., ., c]| over the output's input tile)
    * (sum_{ky,kx} |w[ky, kx, c, o]|)``, in float64; (N, H - 2, W - 2, C_out)."""
    n, height, width, c_in = x.shape
    h_out, w_out, alpha = height - 2, width - 2, tile + 2
    tiles_h, tiles_w = -(-h_out // tile), -(-w_out // tile)
    padded = np.zeros((n, tiles_h * tile + 2, tiles_w * tile + 2, c_in))
    padded[:, :height, :width] = np.abs(x.astype(np.float64))
    sums = np.zeros((n, tiles_h, tiles_w, c_in))
    for i in range(alpha):
        for j in range(alpha):
            sums += padded[:, i : i + tiles_h * tile : tile, j : j + tiles_w * tile : tile]
    per_tile = sums @ np.abs(w.astype(np.float64)).sum(axis=(0, 1))
    return np.repeat(np.repeat(per_tile, tile, axis=1), tile, axis=2)[:, :h_out, :w_out]


def winograd_bound(x: np.ndarray, w: np.ndarray, tile: int) -> np.ndarray:
    """Allowed ``|got - exact|`` per output: ``eps * (K + 1 + T_m) * tile_magnitude``, K = 9 * C_in.

    Why: F(m x m, 3 x 3) computes every output of a tile from every input of the tile; an input
    term ``|d_p| |g_k|`` reaches an output through the transforms with a factor at most
    ``(max_{r,k,p} sum_i |A^T_ri| |G_ik| |B^T_ip|)**2`` = 4 (m = 2) and 113.8 (m = 4), even when
    it cancels exactly (a tap outside the output's window). So the error is bounded by the tile's
    magnitude, not the window's. Measured worst ``max |err| / (eps * tile_magnitude)`` against a
    long-double reference, float32 and float64, C_in 1..64, normal / uniform [0, 1) / one 1e4
    spike per image: 0.44 (m = 2) and 12.9 (m = 4, one channel with a spike), decreasing with
    C_in. ``K + 1 + T_m`` with T_2 = 8, T_4 = 64 keeps >= 5x margin there, while an indexing bug
    (a whole missing term, ~``magnitude / K``) still exceeds it by ~10x for every C_in.
    """
    eps = float(np.finfo(x.dtype).eps)
    k = 9 * x.shape[3]
    return eps * (k + 1 + TRANSFORM_TERMS[tile]) * tile_magnitude(x, w, tile)


def check(got: np.ndarray, want: np.ndarray, x: np.ndarray, w: np.ndarray, tile: int, call, what: str) -> None:
    # Both sides err: the oracle by the direct bound, Winograd by its own (the larger).
    assert_within(got, want, 2 * winograd_bound(x, w, tile), call, what, dtype=x.dtype)


@st.composite
def winograd_cases(draw, max_side: int = 40, max_channels: int = 40, max_batch: int = 2):
    """(x, w, tile): a VALID 3x3 stride-1 conv with H, W in 3..max_side and 1..max_channels
    channels each way, float32 or float64, finite values in several styles."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES), label="dtype"))
    tile = draw(st.sampled_from(_winograd.TILES), label="tile")
    n = draw(st.integers(1, max_batch), label="N")
    height = draw(st.integers(3, max_side), label="H")
    width = draw(st.integers(3, max_side), label="W")
    c_in = draw(st.integers(1, max_channels), label="C_in")
    c_out = draw(st.integers(1, max_channels), label="C_out")
    style = draw(st.sampled_from(("normal", "ties", "negative")), label="value style")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    x = make_values(rng, (n, height, width, c_in), dtype, style)
    w = make_values(rng, (3, 3, c_in, c_out), dtype, "ties" if style == "ties" else "normal")
    return x, w, tile


def pinned(shape, c_out: int, tile: int, dtype: str = "float32"):
    x = (np.arange(np.prod(shape)) % 7 - 3).reshape(shape).astype(dtype)
    w = (np.arange(9 * shape[3] * c_out) % 5 - 2).reshape(3, 3, shape[3], c_out).astype(dtype)
    return x, w, tile


# --------------------------------------------------------------------------- the matrices


@pytest.mark.parametrize("tile", [2, 4])
def test_transforms_compute_a_1d_correlation(tile):
    """``A^T [(G g) * (B^T d)]`` equals the 3-tap correlation of d with g (the 1-D F(m, 3)),
    in exact arithmetic up to float64 rounding, for random tiles and filters."""
    bt, g_mat, at = transform_matrices(tile)
    assert bt.shape == (tile + 2, tile + 2) and g_mat.shape == (tile + 2, 3) and at.shape == (tile, tile + 2)
    rng = np.random.default_rng(tile)
    for _ in range(20):
        d, g = rng.integers(-9, 10, tile + 2).astype(float), rng.integers(-9, 10, 3).astype(float)
        want = np.correlate(d, g, mode="valid")
        np.testing.assert_allclose(at @ ((g_mat @ g) * (bt @ d)), want, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- forward


@pytest.mark.tf
@given(case=winograd_cases())
@example(case=pinned((1, 3, 3, 1), 1, 4))  # one output, tile larger than the output
@example(case=pinned((2, 7, 11, 3), 5, 4))  # ragged: 5 x 9 outputs in 4 x 4 tiles
@example(case=pinned((1, 8, 5, 2), 3, 2))  # ragged along W only
@example(case=pinned((1, 4, 40, 40), 40, 4, "float64"))  # tiny H, wide channels
def test_winograd_matches_tensorflow(case):
    x, w, tile = case
    want = oracle.conv2d(x, w, (1, 1), "VALID", (1, 1))
    got = conv2d_winograd_valid(x, w, tile, 1)
    check(got, want, x, w, tile, repro("_winograd.conv2d_winograd_valid", x, w, tile, 1), "TensorFlow")


@given(case=winograd_cases(max_side=12, max_channels=6))
def test_reference_matches_kernel(case):
    """The one-tile-at-a-time reference, the batched NumPy twin and the compiled kernel agree
    within the bound (each sums in its own order)."""
    x, w, tile = case
    got = conv2d_winograd_valid(x, w, tile, 1)
    call = repro("_winograd.conv2d_winograd_valid", x, w, tile, 1)
    check(got, winograd_reference(x, w, tile), x, w, tile, call, "winograd_reference")
    check(got, conv2d_winograd_numpy(x, w, tile), x, w, tile, call, "conv2d_winograd_numpy")


@pytest.mark.tf
@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_matches_tensorflow(tile, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 6, 3)).astype(dtype)
    w = rng.standard_normal((3, 3, 3, 4)).astype(dtype)
    want = oracle.conv2d(x, w, (1, 1), "VALID", (1, 1))
    check(winograd_reference(x, w, tile), want, x, w, tile, repro("_winograd.winograd_reference", x, w, tile), "TF")


@given(case=winograd_cases(max_side=14, max_channels=70))
def test_every_instruction_set_gives_the_same_bits(case):
    """The transforms are compiled once per instruction set (src/winograd.h), each vectorised for
    its registers, channel counts across whole vectors and tails (1..70 of 4, 8 or 16 lanes):
    every copy this CPU runs gives the bits of the portable one (no multiply-add fused)."""
    x, w, tile = case
    call = repro("_winograd.conv2d_winograd_valid", x, w, tile, 1)
    with convops.dispatch.force(isa="base"):
        portable = conv2d_winograd_valid(x, w, tile, 1)
    for isa in WINOGRAD_ISAS:
        with convops.dispatch.force(isa=isa):
            assert_bits_equal(conv2d_winograd_valid(x, w, tile, 1), portable, call, f"the {isa} transforms")


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_thread_count(tile, dtype, monkeypatch):
    """Bit-identical on 1, 2 and 3 threads and across runs; small chunks (16 tiles) so that the
    call has many tasks, with a ragged last chunk."""
    monkeypatch.setattr(_winograd, "_SCRATCH_BYTES", 1)
    rng = np.random.default_rng(3)
    # Enough work (tiles * alpha**2 * C_in * C_out >= 2**21) that the kernel uses the threads.
    x = rng.standard_normal((3, 23, 19, 32)).astype(dtype)
    w = rng.standard_normal((3, 3, 32, 24)).astype(dtype)
    call = repro("_winograd.conv2d_winograd_valid", x, w, tile, 1)
    first = conv2d_winograd_valid(x, w, tile, 1)
    assert _winograd.chunk_tiles(tile, 32, 24, x.dtype.itemsize, 3 * -(-21 // tile) * -(-17 // tile)) == 16
    for threads in (1, 2, 3, 2):
        assert_bits_equal(conv2d_winograd_valid(x, w, tile, threads), first, call, f"{threads} threads")


@pytest.mark.parametrize("tile", [2, 4])
def test_chunk_size_bounds_scratch_and_makes_even_tasks(tile):
    """Where chunks of 12 tiles or more keep each product within OpenBLAS's small-matrix limit,
    they do: tasks fit the scratch budget, are at least 8 where the tiles allow tasks of 16 or
    more, and the last is short by fewer tiles than there are tasks (a function of the shapes
    only: the signature takes no thread count)."""
    for c_in, c_out in ((1, 1), (32, 64), (64, 64), (128, 128), (200, 400), (256, 256)):
        product_fit = 100**3 // (c_in * c_out)
        assert product_fit >= 12
        for n_tiles in (1, 15, 16, 127, 128, 129, 784, 2304, 6272, 100_000):
            chunk = _winograd.chunk_tiles(tile, c_in, c_out, 4, n_tiles)
            least = min(16, product_fit)
            assert least <= chunk <= 512
            assert chunk == least or chunk * (tile + 2) ** 2 * (c_in + c_out) * 4 <= _winograd._SCRATCH_BYTES
            # Each product small enough for OpenBLAS's small-matrix kernels (no packing).
            assert chunk * c_in * c_out <= 100**3, (c_in, c_out, n_tiles, chunk)
            tasks = -(-n_tiles // chunk)
            assert tasks >= min(8, n_tiles // least), (c_in, c_out, n_tiles, chunk)
            if tasks > 1 and chunk > least:  # (tasks of the least size may leave a short last one)
                assert n_tiles - (tasks - 1) * chunk >= chunk - tasks, (c_in, c_out, n_tiles, chunk)
    # 4 x 28 x 28 x 32 -> 64 by F(2x2): 784 tiles that once made 5 tasks (3 against 2 on 2 threads).
    assert -(-784 // _winograd.chunk_tiles(2, 32, 64, 4, 784)) == 8
    # 128 -> 128 by F(2x2): the scratch alone allowed 64 tiles, products of 64 * 128 * 128 > 100**3.
    assert _winograd.chunk_tiles(2, 128, 128, 4, 100_000) == 61
    # 256 -> 256: a floor of 16 tiles made 16 * 256 * 256 > 100**3 (packed); 15 do not.
    assert _winograd.chunk_tiles(tile, 256, 256, 4, 1568) == 15


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("itemsize", [4, 8])
def test_packed_products_get_long_chunks_in_even_tasks(tile, itemsize):
    """Where even 12 tiles would make products OpenBLAS packs (C_in * C_out above 100**3 / 12),
    chunks are long -- every chunk reads all of U -- within 32 MiB of scratch, cut into 2, 4 or 8
    tasks of about one size (2 from 32 tiles on), never fewer than a 64-tile chunk allows."""
    for c_in, c_out in ((320, 320), (384, 384), (256, 512), (512, 256), (512, 512), (2048, 2048)):
        per_tile = (tile + 2) ** 2 * (c_in + c_out) * itemsize
        for n_tiles in (1, 16, 31, 32, 64, 100, 128, 196, 392, 784, 1568, 100_000):
            chunk = _winograd.chunk_tiles(tile, c_in, c_out, itemsize, n_tiles)
            tasks = -(-n_tiles // chunk)
            assert 1 <= chunk <= 512
            assert chunk <= 64 or chunk * per_tile <= 32 << 20, (c_in, c_out, n_tiles, chunk)
            if n_tiles < 32:
                assert chunk == n_tiles
                continue
            least_tasks = max(2, min(8, n_tiles // 64))
            assert tasks >= 1 << (least_tasks.bit_length() - 1), (c_in, c_out, n_tiles, chunk)
            assert n_tiles < 64 or chunk >= 32, (c_in, c_out, n_tiles, chunk)
            if 128 * per_tile <= 32 << 20:  # room for two tasks of 64 (all but 2048 -> 2048)
                assert chunk >= min(64, -(-n_tiles // 2)), (c_in, c_out, n_tiles, chunk)
            assert n_tiles - (tasks - 1) * chunk >= chunk - tasks, (c_in, c_out, n_tiles, chunk)
    # 8 x 14 x 14 x 512 -> 512 by F(2x2): 392 tiles in 4 tasks of 98, where chunks of 16 (the old
    # floor) ran 2.4-2.9x slower on Zen 4.
    assert _winograd.chunk_tiles(2, 512, 512, 4, 392) == 98


@pytest.mark.parametrize("tile", [2, 4])
def test_packed_chunks_give_the_same_bits_on_any_thread_count(tile):
    """320 -> 320 channels (the packed regime): 2 x 18 x 18 inputs make 128 F(2x2) tiles (2 tasks of
    64) or 32 F(4x4) tiles (2 of 16); 1, 2 and 3 threads give the same bits, and both agree with
    the float64 reference within the documented bound."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 18, 18, 320)).astype(np.float32)
    w = rng.standard_normal((3, 3, 320, 320)).astype(np.float32)
    call = repro("_winograd.conv2d_winograd_valid", x, w, tile, 1)
    first = conv2d_winograd_valid(x, w, tile, 1)
    for threads in (2, 3, 2):
        assert_bits_equal(conv2d_winograd_valid(x, w, tile, threads), first, call, f"{threads} threads")
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (3, 3), axis=(1, 2))
    want = np.tensordot(windows, w.astype(np.float64), axes=([3, 4, 5], [2, 0, 1]))  # (N, 16, 16, C_out)
    check(first, want, x, w, tile, call, "float64 sum")


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize(
    "shape",
    [(1, 3, 3, 2), (2, 3, 9, 1), (1, 5, 4, 3), (1, 6, 6, 2), (2, 7, 3, 1), (1, 2, 6, 2), (1, 9, 2, 1)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_tiny_inputs(tile, shape):
    """Sides smaller than a tile (H or W < m + 2), including empty outputs (a side of 2)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(shape), rng.standard_normal((3, 3, shape[3], 3))
    got = conv2d_winograd_valid(x, w, tile, 1)
    want = convops.conv2d(x, w, 1, "VALID")
    assert got.shape == want.shape == (shape[0], shape[1] - 2, shape[2] - 2, 3)
    check(got, want, x, w, tile, repro("_winograd.conv2d_winograd_valid", x, w, tile, 1), "convops.conv2d")


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_operands(tile, dtype):
    x = np.ones((0, 6, 6, 3), dtype)
    w = np.ones((3, 3, 3, 2), dtype)
    got = conv2d_winograd_valid(x, w, tile, 2)
    assert got.shape == (0, 4, 4, 2) and got.dtype == dtype
    got = conv2d_winograd_valid(np.ones((2, 6, 6, 0), dtype), np.ones((3, 3, 0, 2), dtype), tile, 1)
    assert got.shape == (2, 4, 4, 2) and not got.any()  # an empty channel sum is 0
    got = conv2d_winograd_valid(np.ones((2, 6, 6, 3), dtype), np.ones((3, 3, 3, 0), dtype), tile, 1)
    assert got.shape == (2, 4, 4, 0)


# --------------------------------------------------------------------------- padding in place


@st.composite
def padded_cases(draw):
    """(x, w, padding_pairs, tile, threads): ``x`` a view (a channel slice of a wider array, rows
    reversed, or contiguous) and signed padding (negative = cropped) leaving sides >= 2."""
    x, w, tile = draw(winograd_cases(max_side=14, max_channels=20))
    pads = [draw(st.integers(-3, 4), label=f"pad {side}") for side in ("top", "bottom", "left", "right")]
    n, height, width, c_in = x.shape
    assume(height + min(pads[0], 0) + min(pads[1], 0) >= 0 and height + pads[0] + pads[1] >= 2)
    assume(width + min(pads[2], 0) + min(pads[3], 0) >= 0 and width + pads[2] + pads[3] >= 2)
    layout = draw(st.sampled_from(("contiguous", "channel slice", "rows reversed")), label="layout")
    if layout == "channel slice":
        wide = np.full((n, height, width, c_in + 3), np.nan, x.dtype)  # the other channels must not be read
        wide[..., 1 : 1 + c_in] = x
        x = wide[..., 1 : 1 + c_in]
    elif layout == "rows reversed":
        x = np.ascontiguousarray(x[:, ::-1])[:, ::-1]
    threads = draw(st.integers(1, 3), label="threads")
    return x, w, ((pads[0], pads[1]), (pads[2], pads[3])), tile, threads


@given(case=padded_cases())
@example(case=(*pinned((1, 5, 6, 3), 2, 2)[:2], ((1, 1), (1, 1)), 2, 1))  # SAME
@example(case=(*pinned((1, 5, 6, 3), 2, 4)[:2], ((-2, 4), (3, -1)), 4, 2))  # crop one side, pad the other
@example(case=(*pinned((1, 0, 3, 2), 2, 2)[:2], ((2, 1), (0, 0)), 2, 1))  # all padding: no input rows
def test_padding_in_place_is_the_padded_copy_bit_for_bit(case):
    """conv2d_winograd reads zeros outside ``x`` instead of copying it padded: every tile's
    transforms see the values of the padded (cropped) copy, so the result is the VALID kernel's
    on that copy, bit for bit, whatever the strides of ``x`` and the thread count."""
    x, w, padding, tile, threads = case
    (top, bottom), (left, right) = padding
    copy = _winograd._pad_or_crop(np.ascontiguousarray(x), (top, bottom), (left, right))
    want = conv2d_winograd_valid(copy, w, tile, 1)
    got = _winograd.conv2d_winograd(x, w, padding, tile, threads)
    assert_bits_equal(got, want, repro("_winograd.conv2d_winograd", x, w, padding, tile, threads), "the padded copy")


@pytest.mark.parametrize(
    ("padding", "fragment"),
    [
        (((1, 1), (0, "a")), "of ints; got"),
        (((-2, -2), (0, 0)), "must have H and W >= 2"),
        (((0, 0), (-6, 5)), "crops more rows or columns"),
        ("SAME", "'SAME'"),
    ],
)
def test_padding_in_place_bad_arguments(padding, fragment):
    with pytest.raises(ValueError, match="`padding_pairs`") as info:
        _winograd.conv2d_winograd(_X, _W, padding, 2, 1)
    assert fragment in str(info.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_filter_transform_threads_and_exact_sums(dtype):
    """The filter transform splits its C_in * C_out positions over threads: the same bits on any
    count. For F(2x2) (G's entries 0, 1/2, 1) on float32 filters, the float64 sums are exact
    (small integers times powers of 2), so the result is G w G^T rounded once to float32."""
    kernel = _winograd.load("winograd")
    rng = np.random.default_rng(2)
    w = rng.integers(-64, 65, (3, 3, 96, 80)).astype(dtype) / 8
    for tile in (2, 4):
        g = transform_matrices(tile)[1]
        us = []
        for threads in (1, 2, 3):
            u = np.empty(((tile + 2) ** 2, 96, 80), dtype)
            kernel.filter_transform(w, g, u, threads)
            us.append(u)
        for threads, u in zip((2, 3), us[1:]):
            assert_bits_equal(u, us[0], f"filter_transform(tile={tile}, {threads} threads)", "1 thread")
        if tile == 2:
            exact = np.einsum("ik,klco,jl->ijco", g, w.astype(np.float64), g).reshape(us[0].shape)
            assert_bits_equal(us[0], exact.astype(dtype), "filter_transform(tile=2)", "G w G^T in float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_max_abs_is_the_largest_magnitude_or_minus_one_for_non_finite(dtype, size):
    """The one-pass scan that lets "auto" run Winograd: max |a| (0 when empty), -1 as soon as one
    value is inf or NaN, wherever it is (in the vectorised body or the tail)."""
    kernel = _winograd.load("winograd")
    rng = np.random.default_rng(size)
    info = np.finfo(dtype)
    for special in (None, np.inf, -np.inf, np.nan, -np.nan, info.max, -info.max, info.smallest_subnormal, -0.0):
        for _ in range(8):
            a = (rng.standard_normal(size) * 10.0 ** rng.integers(-30, 30)).astype(dtype)
            if special is not None and size:
                a[rng.integers(size)] = special
            want = float(np.abs(a).max()) if size else 0.0
            assert kernel.max_abs(a) == (want if np.isfinite(a).all() else -1.0), (a, special)


# --------------------------------------------------------------------------- input gradient


def tf_backprop_input(shape, w, dy, padding):
    tf = oracle.load()
    (top, bottom), (left, right) = padding
    result = tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.constant(shape, dtype=tf.int32),
        filter=tf.constant(w),
        out_backprop=tf.constant(dy),
        strides=[1, 1, 1, 1],
        padding="EXPLICIT",
        explicit_paddings=[0, 0, top, bottom, left, right, 0, 0],
    )
    return result.numpy()


@st.composite
def backprop_cases(draw):
    x, w, tile = draw(winograd_cases(max_side=20, max_channels=12))
    pads = tuple(draw(st.integers(0, 4), label=f"pad {side}") for side in ("top", "bottom", "left", "right"))
    padding = ((pads[0], pads[1]), (pads[2], pads[3]))
    h_out, w_out = x.shape[1] + pads[0] + pads[1] - 2, x.shape[2] + pads[2] + pads[3] - 2
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="dy seed"))
    dy = make_values(rng, (x.shape[0], h_out, w_out, w.shape[3]), x.dtype, "normal")
    return x.shape, w, dy, padding, tile


@pytest.mark.tf
@given(case=backprop_cases())
@example(case=((1, 3, 3, 1), np.ones((3, 3, 1, 1)), np.ones((1, 1, 1, 1)), ((0, 0), (0, 0)), 4))
@example(case=((1, 4, 5, 2), np.ones((3, 3, 2, 3)), np.ones((1, 8, 3, 3)), ((4, 2), (0, 0)), 2))  # pad > 2
def test_backprop_input_matches_tensorflow_and_convops(case):
    """dx by Winograd equals TF's Conv2DBackpropInput and convops.conv2d_backprop_input. The
    bound is the forward one for the equivalent VALID conv: dy padded by (2 - pad) per side
    with the rotated, channel-swapped filters."""
    shape, w, dy, padding, tile = case
    got = conv2d_backprop_input_winograd(dy, w, shape, padding, tile, 1)
    (top, bottom), (left, right) = padding
    dy2 = _winograd._pad_or_crop(dy, (2 - top, 2 - bottom), (2 - left, 2 - right))
    w_rot = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    call = repro("_winograd.conv2d_backprop_input_winograd", dy, w, shape, padding, tile, 1)
    for want, what in (
        (tf_backprop_input(shape, w, dy, padding), "TensorFlow"),
        (convops.conv2d_backprop_input(shape, w, dy, 1, padding), "convops.conv2d_backprop_input"),
    ):
        check(got, want, dy2, w_rot, tile, call, what)


@pytest.mark.parametrize("threads", [2, 3])
def test_backprop_input_thread_count_bit_identical(threads, monkeypatch):
    monkeypatch.setattr(_winograd, "_SCRATCH_BYTES", 1)
    rng = np.random.default_rng(5)
    w, dy = rng.standard_normal((3, 3, 24, 32)), rng.standard_normal((3, 21, 19, 32))
    args = (dy, w, (3, 21, 19, 24), ((1, 1), (2, 0)))
    call = repro("_winograd.conv2d_backprop_input_winograd", *args, 4, threads)
    one = conv2d_backprop_input_winograd(*args, 4, 1)
    assert_bits_equal(conv2d_backprop_input_winograd(*args, 4, threads), one, call, "1 thread")


# --------------------------------------------------------------------------- bad arguments

_X = np.zeros((1, 5, 5, 2), np.float32)
_W = np.zeros((3, 3, 2, 3), np.float32)


@pytest.mark.parametrize(
    ("kwargs", "name", "fragment"),
    [
        ({"tile": 3}, "tile", "got 3"),
        ({"tile": True}, "tile", "got True"),
        ({"tile": 4.0}, "tile", "got 4.0"),
        ({"num_threads": 0}, "num_threads", "got 0"),
        ({"num_threads": 1.5}, "num_threads", "got 1.5"),
        ({"x": _X[0]}, "x", "4-D"),
        ({"x": _X.astype(np.int32)}, "x", "int32"),
        ({"x": _X.astype(np.float16), "w": _W.astype(np.float16)}, "x", "float16"),
        ({"x": [[[[1.0]]]]}, "x", "list"),
        ({"x": np.zeros((1, 1, 5, 2), np.float32)}, "x", "H >= 2"),
        ({"w": np.zeros((3, 2, 2, 3), np.float32)}, "w", "(3, 2, 2, 3)"),
        ({"w": _W.astype(np.float64)}, "w", "float64"),
        ({"w": np.zeros((3, 3, 4, 3), np.float32)}, "w", "channels (2)"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name, fragment):
    args = {"x": _X, "w": _W, "tile": 2, "num_threads": 1} | kwargs
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        conv2d_winograd_valid(**args)
    assert fragment in str(info.value)
    if name not in ("num_threads",):
        with pytest.raises(ValueError, match=f"`{name}`"):
            winograd_reference(args["x"], args["w"], args["tile"])


@pytest.mark.parametrize(
    ("kwargs", "name", "fragment"),
    [
        ({"input_shape": (1, 5, 5)}, "input_shape", "(1, 5, 5)"),
        ({"input_shape": (2, 5, 5, 2)}, "input_shape", "N = dy.shape[0] (1)"),
        ({"input_shape": (1, 5, 5, 3)}, "input_shape", "C_in = w.shape[2] (2)"),
        ({"padding_pairs": ((1, 1), (1, -1))}, "padding_pairs", "non-negative"),
        ({"padding_pairs": "SAME"}, "padding_pairs", "'SAME'"),
        ({"padding_pairs": ((1, 1), (1, 1))}, "dy", "(5, 5)"),
        ({"dy": np.zeros((1, 3, 3, 2), np.float32)}, "w", "channels (2)"),
        ({"tile": 6}, "tile", "got 6"),
    ],
)
def test_backprop_input_bad_arguments(kwargs, name, fragment):
    args = {
        "dy": np.zeros((1, 3, 3, 3), np.float32),
        "w": _W,
        "input_shape": (1, 5, 5, 2),
        "padding_pairs": ((0, 0), (0, 0)),
        "tile": 2,
        "num_threads": 1,
    } | kwargs
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        conv2d_backprop_input_winograd(**args)
    assert fragment in str(info.value)


def test_non_finite_inputs():
    """Documented difference from the direct convolution (why callers must not route non-finite
    inputs here). F(2x2)'s output row r reads only input rows r..r+2 (the zeros of B^T and A^T),
    so an inf reaches the same outputs as in the direct sum, but as NaN where the transforms
    compute inf - inf. F(4x4)'s outputs read rows beyond their window (B^T's row 0 reads input
    row 4): an inf poisons every output of each tile whose input tile holds it."""
    x = np.ones((1, 10, 10, 1))
    x[0, 3, 3, 0] = np.inf
    w = np.ones((3, 3, 1, 1))
    direct = convops.conv2d(x, w, 1, "VALID")[0, :, :, 0]
    got = conv2d_winograd_valid(x, w, 2, 1)[0, :, :, 0]
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(direct))
    assert np.isnan(got).any()
    np.testing.assert_array_equal(got[np.isfinite(direct)], 9.0)
    got = conv2d_winograd_valid(x, w, 4, 1)[0, :, :, 0]
    # Output tile t reads input rows 4t .. 4t + 5; only tile 0 (and its column tile 0) holds 3.
    assert not np.isfinite(got[:4, :4]).any()
    # Elsewhere finite and right (F(4x4)'s 1/6 and 1/24 are inexact: within a few ulps).
    np.testing.assert_allclose(got[4:, :], 9.0, rtol=1e-14)
    np.testing.assert_allclose(got[:, 4:], 9.0, rtol=1e-14)
