# Size: one algorithm: the transforms, the readable references and the compiled wrappers of the
# forward conv and both gradients, sharing one set of matrices and argument checks.
"""Winograd convolution: F(2x2, 3x3) and F(4x4, 3x3) for 3x3, stride-1, dilation-1 convolutions.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016, arXiv:1509.09308).
A 1-D F(m, 3) computes m outputs of a 3-tap cross-correlation from an input tile of
``alpha = m + 2`` values with ``alpha`` multiplications instead of ``3 m``::

    y = A^T [ (G g) * (B^T d) ]          g: (3,) filter, d: (alpha,) input tile, y: (m,)

and nesting it in both dimensions gives the 2-D F(m x m, 3 x 3)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A   g: (3, 3), d: (alpha, alpha), Y: (m, m)

where ``*`` is the elementwise product. Why it pays (the cs231n habit of counting): per tile and
per (input channel, output channel) pair, F(2x2, 3x3) multiplies 4 x 4 = 16 numbers where the
direct convolution does 2 x 2 outputs x 9 taps = 36 multiplications (2.25x fewer), and
F(4x4, 3x3) does 6 x 6 = 36 where direct does 16 x 9 = 144 (4x fewer). The transforms
``B^T d B`` (once per tile and input channel) and ``A^T M A`` (once per tile and output
channel) are additions and small constant multiplications, cheap next to the channel sum, which
becomes ``alpha**2`` independent matrix products ``(tiles x C_in) @ (C_in x C_out)``. The filter
transform ``G g G^T`` is done once per call.

The price is rounding error. The transforms mix every input of an ``alpha x alpha`` tile into
every output of the tile, with factors up to ``(max sum_i |A^T_ri| |G_ik| |B^T_ip|)**2`` = 4 for
F(2x2) and 113.8 for F(4x4) (points +-2 bring 4, 5, 8 and 1/24), and for F(4x4) even from
inputs outside an output's 3 x 3 window, whose contributions cancel exactly. So an output's error follows the
magnitude of its whole input tile, not of its window: measured against a long-double reference
(tests/test_winograd.py, ``winograd_bound``), ``max |err| / (eps * tile magnitude)`` stays below
0.5 for F(2x2) and 13 for F(4x4). Against the direct kernels' per-window bound
``eps * (K + 1) * sum|x||w|`` (K = 9 C_in), on inputs of similar magnitudes F(2x2) stays inside
at every C_in (worst 0.35, at C_in = 1) and F(4x4) from C_in >= 4 on (0.64 at 4, 2.1 at 2, 5.4
at 1); one large input (1e4 among N(0, 1) values) breaks the window bound for
F(4x4) at every C_in measured (up to 256) and for F(2x2) below C_in = 4.

Non-finite inputs: F(2x2)'s output row r reads only input rows r..r+2 (the zeros of B^T and
A^T line up), so an inf reaches the outputs the direct sum would, but may arrive as NaN
(``inf - inf`` in the transforms); F(4x4)'s outputs read inputs beyond their window, so an inf
or NaN poisons every output of its tile. Intermediate values grow by up to the factors above,
so inputs within ~1/100 of the dtype's overflow threshold may overflow where the direct sum does
not.

This module holds the transform matrices, the readable reference (one tile at a time, the page
the docs show), the batched kernel wrapper, the input gradient and the filter gradient (F(3x3,
2x2), at the end). The API (convops.conv) validates its arguments; :func:`conv2d_winograd` reads
the input in place with the padding as offsets, the other functions take ``x`` already padded (a
VALID conv).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from convops._kernels import load

_memory = load("memory")  # large results from a cache of freed blocks: no new pages per call

#: The tiles implemented: output tile side m of F(m x m, 3 x 3).
TILES = (2, 4)

# F(2, 3), interpolation points 0, 1, -1 and infinity (Lavin & Gray, section 4.1).
_BT2 = np.array(
    [
        [1, 0, -1, 0],
        [0, 1, 1, 0],
        [0, -1, 1, 0],
        [0, 1, 0, -1],
    ],
    dtype=np.float64,
)
_G2 = np.array(
    [
        [1, 0, 0],
        [1 / 2, 1 / 2, 1 / 2],
        [1 / 2, -1 / 2, 1 / 2],
        [0, 0, 1],
    ],
    dtype=np.float64,
)
_AT2 = np.array(
    [
        [1, 1, 1, 0],
        [0, 1, -1, -1],
    ],
    dtype=np.float64,
)

# F(4, 3), points 0, 1, -1, 2, -2 and infinity (Lavin & Gray, section 4.2). Row i of G evaluates
# the filter polynomial at point i (scaled); column i of A^T evaluates the output powers there.
_BT4 = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float64,
)
_G4 = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    dtype=np.float64,
)
_AT4 = np.array(
    [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ],
    dtype=np.float64,
)

_MATRICES = {2: (_BT2, _G2, _AT2), 4: (_BT4, _G4, _AT4)}


def transform_matrices(tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(B^T, G, A^T)`` of F(tile x tile, 3 x 3), float64 copies.

    Shapes: ``B^T`` (alpha, alpha), ``G`` (alpha, 3), ``A^T`` (tile, alpha), alpha = tile + 2.
    """
    _check_tile(tile)
    return tuple(m.copy() for m in _MATRICES[tile])


def winograd_reference(x: np.ndarray, w: np.ndarray, tile: int) -> np.ndarray:
    """VALID 3x3 stride-1 cross-correlation by Winograd F(tile x tile, 3 x 3), one tile at a time.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in), float32 or float64
        The (already padded) input.
    w : ndarray, shape (3, 3, C_in, C_out), same dtype
        The filters (HWIO).
    tile : {2, 4}
        Output tile side m; input tiles are alpha x alpha, alpha = m + 2, overlapping by 2.

    Returns
    -------
    ndarray, shape (N, H - 2, W - 2, C_out), dtype of ``x``
        ``y[n, i, j, o] = sum_{dy, dx, c} x[n, i + dy, j + dx, c] * w[dy, dx, c, o]``.

    Notes
    -----
    For each output tile ``(ty, tx)`` (rows ``ty*m .. ty*m + m - 1``), each output channel ``o``::

        Y = A^T [ sum_c (G w[:, :, c, o] G^T) * (B^T d_c B) ] A

    with ``d_c`` the alpha x alpha input tile of channel ``c``. The channel sum moves inside the
    inverse transform because that transform is linear. Tiles at the bottom and right edges whose
    outputs would fall outside the result read zeros beyond the input and are cropped. Computed
    in the dtype of ``x`` (the matrices are rounded to it), so its error is the algorithm's.

    Examples
    --------
    A 5x5 ramp correlated with a 3x3 box filter: 3x3 outputs in 2x2 tiles of F(2x2, 3x3), the
    tiles on the right and bottom cropped; each output is the sum of its 3x3 window:

    >>> import numpy as np
    >>> from convops._winograd import winograd_reference
    >>> x = np.arange(25.0).reshape(1, 5, 5, 1)
    >>> w = np.ones((3, 3, 1, 1))
    >>> winograd_reference(x, w, tile=2)[0, :, :, 0]
    array([[ 54.,  63.,  72.],
           [ 99., 108., 117.],
           [144., 153., 162.]])
    """
    x, w, tile = _check_operands(x, w, tile)
    bt, g, at = (m.astype(x.dtype) for m in _MATRICES[tile])
    alpha = tile + 2
    n, height, width, c_in = x.shape
    c_out = w.shape[3]
    h_out, w_out = height - 2, width - 2
    y = np.zeros((n, h_out, w_out, c_out), dtype=x.dtype)
    # Filter transform, once: u[:, :, c, o] = G w[:, :, c, o] G^T.
    u = np.einsum("ik,klco,jl->ijco", g, w, g)
    for b in range(n):
        for oy in range(0, h_out, tile):
            for ox in range(0, w_out, tile):
                d = np.zeros((alpha, alpha, c_in), dtype=x.dtype)
                patch = x[b, oy : oy + alpha, ox : ox + alpha, :]
                d[: patch.shape[0], : patch.shape[1]] = patch
                v = np.einsum("ik,klc,jl->ijc", bt, d, bt)  # B^T d B, per input channel
                m = np.einsum("ijc,ijco->ijo", v, u)  # alpha**2 dot products over channels
                out = np.einsum("ik,klo,jl->ijo", at, m, at)  # A^T M A, per output channel
                rows, cols = min(tile, h_out - oy), min(tile, w_out - ox)
                y[b, oy : oy + rows, ox : ox + cols] = out[:rows, :cols]
    return y


def conv2d_winograd_numpy(x: np.ndarray, w: np.ndarray, tile: int) -> np.ndarray:
    """The same convolution batched in NumPy: every tile transformed at once, then ``alpha**2``
    matrix products ``(tiles x C_in) @ (C_in x C_out)``, then every tile inverse-transformed.

    The layout and the order of operations the compiled kernel follows, written as array code.
    """
    x, w, tile = _check_operands(x, w, tile)
    bt, g, at = (m.astype(x.dtype) for m in _MATRICES[tile])
    alpha = tile + 2
    n, height, width, c_in = x.shape
    c_out = w.shape[3]
    h_out, w_out = height - 2, width - 2
    th, tw = -(-h_out // tile), -(-w_out // tile)
    # Ragged edges: zeros below and to the right so that every tile is whole; cropped at the end.
    xp = np.zeros((n, th * tile + 2, tw * tile + 2, c_in), dtype=x.dtype)
    xp[:, :height, :width] = x
    s = xp.strides
    tiles = np.lib.stride_tricks.as_strided(
        xp, (n, th, tw, alpha, alpha, c_in), (s[0], tile * s[1], tile * s[2], s[1], s[2], s[3]), writeable=False
    )
    v = np.einsum("ik,ntwklc,jl->ijntwc", bt, tiles, bt).reshape(alpha * alpha, n * th * tw, c_in)
    u = np.einsum("ik,klco,jl->ijco", g, w, g).reshape(alpha * alpha, c_in, c_out)
    m = np.matmul(v, u).reshape(alpha, alpha, n, th, tw, c_out)
    out = np.einsum("ik,klntwo,jl->ntiwjo", at, m, at).reshape(n, th * tile, tw * tile, c_out)
    return np.ascontiguousarray(out[:, :h_out, :w_out])


def conv2d_winograd_valid(x: np.ndarray, w: np.ndarray, tile: int, num_threads: int) -> np.ndarray:
    """VALID 3x3 stride-1 cross-correlation by Winograd F(tile x tile, 3 x 3), compiled.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in), float32 or float64, H and W >= 2
        The (already padded) input.
    w : ndarray, shape (3, 3, C_in, C_out), same dtype
    tile : {2, 4}
    num_threads : int >= 1
        Threads of the process's pool. The work is split into chunks of tiles whose size depends
        only on the shapes, and every BLAS call's shape only on its chunk, so the result is
        bit-identical for any thread count.

    Returns
    -------
    ndarray, shape (N, H - 2, W - 2, C_out), dtype of ``x``
    """
    x, w, tile = _check_operands(x, w, tile)
    return conv2d_winograd(x, w, ((0, 0), (0, 0)), tile, num_threads)


def conv2d_winograd(x: np.ndarray, w: np.ndarray, padding_pairs: Any, tile: int, num_threads: int) -> np.ndarray:
    """3x3 stride-1 cross-correlation of ``x`` zero-padded by ``padding_pairs``, by Winograd, with
    no padded copy of ``x``: the kernel reads zeros outside it.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in), float32 or float64
        The input before padding; any strides (a channel slice of a wider array is read in
        place when its channels are contiguous).
    w : ndarray, shape (3, 3, C_in, C_out), same dtype
    padding_pairs : ((top, bottom), (left, right)), ints
        Zeros added before/after each spatial axis; a negative amount removes rows (columns)
        instead, at most as many as ``x`` has. ``H + top + bottom`` and ``W + left + right``
        must be at least 2.
    tile, num_threads
        As in :func:`conv2d_winograd_valid`.

    Returns
    -------
    ndarray, shape (N, H + top + bottom - 2, W + left + right - 2, C_out), dtype of ``x``
        Bit for bit :func:`conv2d_winograd_valid` of the padded (cropped) ``x``: every tile's
        transform reads the same values.
    """
    x, w, tile = _check_operands(x, w, tile, contiguous=False)
    threads = _check_threads(num_threads)
    (top, bottom), (left, right) = _check_padding(padding_pairs, signed=True)
    n, height, width, c_in = x.shape
    h_out, w_out = height + top + bottom - 2, width + left + right - 2
    if min(top, 0) + min(bottom, 0) < -height or min(left, 0) + min(right, 0) < -width:
        raise ValueError(f"`padding_pairs` {padding_pairs!r} crops more rows or columns than x.shape {x.shape} has")
    if h_out < 0 or w_out < 0:
        raise ValueError(
            f"`x` padded by `padding_pairs` {padding_pairs!r} must have H and W >= 2 for a 3x3 VALID conv; "
            f"got {(height + top + bottom, width + left + right)} from x.shape {x.shape}"
        )
    c_out = w.shape[3]
    y = _memory.empty((n, h_out, w_out, c_out), x.dtype)
    if y.size == 0:
        return y
    if c_in == 0:
        y.fill(0)
        return y
    _run_kernel(x, w, y, tile, threads, (top, left))
    return y


def conv2d_backprop_input_winograd(
    dy: np.ndarray, w: np.ndarray, input_shape: Any, padding_pairs: Any, tile: int, num_threads: int
) -> np.ndarray:
    """Input gradient of a 3x3 stride-1 dilation-1 conv2d by Winograd.

    Parameters
    ----------
    dy : ndarray, shape (N, H_out, W_out, C_out)
        Upstream gradient, ``H_out = H + top + bottom - 2`` (likewise W_out).
    w : ndarray, shape (3, 3, C_in, C_out), same dtype
        The forward filters.
    input_shape : (N, H, W, C_in)
    padding_pairs : ((top, bottom), (left, right)), non-negative ints
        The forward conv's explicit padding.
    tile, num_threads
        As in :func:`conv2d_winograd_valid`.

    Returns
    -------
    ndarray, shape input_shape
        ``dx``.

    Notes
    -----
    With ``x_p`` the padded input, the forward op is ``y[i] = sum_k x_p[i + k] w[k]`` (one axis
    shown; channels summed), so ``dx_p[i] = sum_k dy[i - k] w[k]``. Padding ``dy`` with 2 zeros on
    each side (``dy_2[j] = dy[j - 2]``) and substituting ``k' = 2 - k``::

        dx_p[i] = sum_{k'} dy_2[i + k'] w[2 - k']

    a VALID correlation with the filters rotated by 180 degrees and their in/out channels
    swapped. ``dx[i] = dx_p[i + top]``, so only rows ``top .. top + H + 1`` of ``dy_2`` are read:
    pad ``dy`` by ``2 - top`` above and ``2 - bottom`` below (a negative amount crops rows that
    only ever saw padding).
    """
    dy, w, tile = _check_operands(dy, w, tile, x_name="dy", w_in_axis=3)
    threads = _check_threads(num_threads)
    shape = _check_input_shape(input_shape, dy, w)
    (top, bottom), (left, right) = _check_padding(padding_pairs)
    h_out, w_out = shape[1] + top + bottom - 2, shape[2] + left + right - 2
    if dy.shape[1:3] != (h_out, w_out):
        raise ValueError(
            f"`dy` must have spatial shape (H + top + bottom - 2, W + left + right - 2) = ({h_out}, {w_out}) "
            f"for input_shape {shape} and padding_pairs {((top, bottom), (left, right))}; got {dy.shape[1:3]}"
        )
    w_rot = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return conv2d_winograd(dy, w_rot, ((2 - top, 2 - bottom), (2 - left, 2 - right)), tile, threads)


# --------------------------------------------------------------------------- helpers


def _pad_or_crop(a: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """``a`` (N, H, W, C) with ``rows``/``cols`` zeros added before/after (negative: removed)."""
    crop = a[:, max(0, -rows[0]) : a.shape[1] - max(0, -rows[1]), max(0, -cols[0]) : a.shape[2] - max(0, -cols[1])]
    pads = ((0, 0), (max(0, rows[0]), max(0, rows[1])), (max(0, cols[0]), max(0, cols[1])), (0, 0))
    return np.ascontiguousarray(np.pad(crop, pads))


def _check_tile(tile: Any) -> int:
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or int(tile) not in TILES:
        raise ValueError(f"`tile` must be 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)); got {tile!r}")
    return int(tile)


def _check_threads(num_threads: Any) -> int:
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise ValueError(f"`num_threads` must be an int >= 1; got {num_threads!r}")
    return int(num_threads)


def _check_operands(
    x: Any, w: Any, tile: Any, x_name: str = "x", w_in_axis: int = 2, contiguous: bool = True
) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated ``x`` (4-D, float32/64, spatial sides >= 2 when named "x" and ``contiguous``) and
    ``w`` (3, 3, ., .) of the same dtype whose axis ``w_in_axis`` matches ``x``'s channels; and the
    tile. ``x`` is C-contiguous, or with ``contiguous=False`` only its channel axis is."""
    tile = _check_tile(tile)
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"`{x_name}` must be a 4-D float32 or float64 ndarray (N, H, W, C); got "
            f"{type(x).__name__} {getattr(x, 'shape', '')} {getattr(x, 'dtype', '')}"
        )
    if x_name == "x" and contiguous and (x.shape[1] < 2 or x.shape[2] < 2):
        raise ValueError(f"`x` (already padded) must have H >= 2 and W >= 2 for a 3x3 VALID conv; got {x.shape}")
    if not isinstance(w, np.ndarray) or w.ndim != 4 or w.shape[:2] != (3, 3):
        raise ValueError(f"`w` must be an ndarray of shape (3, 3, C_in, C_out); got {getattr(w, 'shape', type(w))}")
    if w.dtype != x.dtype:
        raise ValueError(f"`w` must have the dtype of `{x_name}` ({x.dtype}); got {w.dtype}")
    if w.shape[w_in_axis] != x.shape[3]:
        raise ValueError(f"`w` axis {w_in_axis} must equal `{x_name}`'s channels ({x.shape[3]}); got w.shape {w.shape}")
    if contiguous or not (x.strides[3] == x.itemsize or x.flags.c_contiguous):
        x = np.ascontiguousarray(x)
    return x, np.ascontiguousarray(w), tile


def _check_input_shape(input_shape: Any, dy: np.ndarray, w: np.ndarray) -> tuple[int, int, int, int]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 4 or shape[0] != dy.shape[0] or shape[3] != w.shape[2] or min(shape) < 0:
        raise ValueError(
            f"`input_shape` must be (N, H, W, C_in) with N = dy.shape[0] ({dy.shape[0]}) and "
            f"C_in = w.shape[2] ({w.shape[2]}); got {input_shape!r}"
        )
    return shape


def _check_padding(padding_pairs: Any, signed: bool = False) -> tuple[tuple[int, int], tuple[int, int]]:
    kind = "ints" if signed else "non-negative ints"
    try:
        (top, bottom), (left, right) = ((int(a), int(b)) for a, b in padding_pairs)
    except (TypeError, ValueError):
        raise ValueError(
            f"`padding_pairs` must be ((top, bottom), (left, right)) of {kind}; got {padding_pairs!r}"
        ) from None
    if not signed and min(top, bottom, left, right) < 0:
        raise ValueError(f"`padding_pairs` must be non-negative; got {padding_pairs!r}")
    return (top, bottom), (left, right)


#: Scratch per task (V and M of one chunk of tiles): measured, see chunk_tiles.
_SCRATCH_BYTES = 1 << 20
#: The most multiply-adds (rows x C_in x C_out) of one product that OpenBLAS runs with its small-
#: matrix kernels, which read both operands where they lie; above it they are first copied into
#: OpenBLAS's packed layout (its gemm_small_kernel_permit: M * N * K <= 100**3).
_BLAS_SMALL_PRODUCT = 100**3
#: Tasks a call is cut into at least, where it has the tiles: threads then share them evenly.
_MIN_TASKS = 8
#: Chunks whose products fit that limit only below this many tiles are not worth keeping
#: unpacked: each chunk reads all of U (``alpha**2 * C_in * C_out`` values), and so few tiles
#: cannot repay it (see chunk_tiles).
_UNPACKED_MIN_TILES = 12
#: Where the products are packed anyway: scratch per task, and the least tiles per task.
_PACKED_SCRATCH_BYTES = 32 << 20
_PACKED_MIN_TILES = 64
_BLAS_INT_MAX = 2**31 - 1


def chunk_tiles(tile: int, c_in: int, c_out: int, itemsize: int, n_tiles: int) -> int:
    """Tiles per task, from the shapes only. Two regimes, by whether a chunk of at least
    ``_UNPACKED_MIN_TILES`` keeps each product within ``_BLAS_SMALL_PRODUCT`` multiply-adds
    (``C_in * C_out`` up to 83,333: 256 -> 256 yes, 320 -> 320 no):

    * **Unpacked** (OpenBLAS's small-matrix kernels): at most as many tiles as fit V and M
      (``alpha**2 * tiles * (C_in + C_out)`` values) in ``_SCRATCH_BYTES`` and keep each product
      within the limit, between 16 (or the limit's count, if fewer) and 512, and few enough that
      the ``n_tiles`` tiles make at least ``_MIN_TASKS`` tasks (when they hold that many of 16),
      all of about one size.
    * **Packed** (every product of a useful size is packed anyway): as many tiles as fit V and M in
      ``_PACKED_SCRATCH_BYTES`` (but at least ``_PACKED_MIN_TILES``, at most 512), in tasks of
      about one size, at least 2, 4 or 8 of them as far as tasks of ``_PACKED_MIN_TILES`` allow (2
      from 32 tiles on), so that 2, 4 or 8 threads share them evenly.

    Why the product bound: at 128 -> 128 channels the scratch allowed 64 tiles, a product of
    64 x 128 x 128 = 1.05e6 multiply-adds, just above OpenBLAS's small-matrix limit, so every
    product first packed both operands; at 61 tiles they run unpacked, and F(2x2) took 1.27-1.4x
    less time (8x28x28, 64x13x13 and 4x56x56 x 128 -> 128, 1 and 2 threads, AMD Zen 4), with the
    same bits (both of OpenBLAS's paths add 128 channels' products in order). At 256 -> 256 a floor
    of 16 tiles made every product packed (16 x 256 x 256 > 100**3); chunks of 14-15 tiles ran
    F(2x2) and F(4x4) 1.6-2.4x faster (8x28x28 and 16x14x14, 1 and 2 threads, Zen 4), the same bits.

    Why large chunks once packed: each chunk reads all of U (and packs it), ``alpha**2 * C_in *
    C_out`` values -- 36 MB for F(4x4) at 512 -> 512 in float32 -- for a product of ``tiles``
    rows, so its cost per tile falls as the chunk grows, well past a scratch that fits in L2.
    Against the 16 tiles that were the floor (Zen 4, alternating timings, 320 -> 320 up to 768 ->
    768 and 256 <-> 512): chunks of 96-256 tiles 1.5-3.0x faster on 1 thread; on 2 threads 4 equal
    tasks of a 392-tile call 1.8-2.6x (8 of 49 tiles: 1.5-2.1x; 4 of 128 with a short last one
    less); a 32-tile call (2x14x14 x 512 -> 512, F(4x4)) ran 22 ms as 2 tasks, 28 as one. Unpacked
    chunks of 3-9 tiles there ran 0.25-0.9x (F(4x4)) the speed of those 16. The
    packed path's sum may split by its row count: a chunk size is a rounding choice, fixed by
    the shapes.

    A function of the shapes only, never of the thread count, so that every task -- and every
    BLAS call, whose summation order may depend on its row count -- is the same on any number
    of threads. Why a least number of tasks: 4 x 28 x 28 images of 32 channels (784 F(2x2) tiles)
    made 5 tasks of 170, 3 for one thread and 2 for the other, and F(2x2) ran at 0.82x the direct
    kernels' speed on 2 threads where it ran at 1.02x on one.
    """
    alpha = tile + 2
    per_tile = alpha * alpha * (c_in + c_out) * itemsize  # bytes of V and M per tile
    product_fit = _BLAS_SMALL_PRODUCT // (c_in * c_out)
    if product_fit >= _UNPACKED_MIN_TILES:
        least = min(16, product_fit)
        most = max(least, min(512, product_fit, _SCRATCH_BYTES // per_tile))
        tasks = max(-(-n_tiles // most), _MIN_TASKS)
        return max(least, -(-n_tiles // tasks))
    most = max(_PACKED_MIN_TILES, min(512, _PACKED_SCRATCH_BYTES // per_tile))
    even = min(_MIN_TASKS, max(2, n_tiles // _PACKED_MIN_TILES)) if n_tiles >= 32 else 1
    even = 1 << (even.bit_length() - 1)  # 1, 2, 4 or 8
    tasks = max(-(-n_tiles // most), even)
    return max(1, -(-n_tiles // tasks))


def _run_kernel(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, tile: int, threads: int, pad_before: tuple[int, int] = (0, 0)
) -> None:
    """Fill ``y`` with the conv of ``x`` zero-padded by ``pad_before`` = (top, left) rows and
    columns before, and below and to the right as far as ``y`` needs (a VALID conv by default)."""
    from convops import _threads  # noqa: PLC0415 - imports threadpoolctl; only kernel calls need it
    from convops._conv_dispatch import isa_index  # noqa: PLC0415 - the kernels load on first use only

    c_in, c_out = w.shape[2], w.shape[3]
    n_tiles = y.shape[0] * -(-y.shape[1] // tile) * -(-y.shape[2] // tile)
    chunk = chunk_tiles(tile, c_in, c_out, x.dtype.itemsize, n_tiles)
    if c_in * c_out > _BLAS_INT_MAX or chunk * max(c_in, c_out) > _BLAS_INT_MAX:
        raise ValueError(f"conv2d_winograd_valid: C_in * C_out ({c_in} * {c_out}) must be below 2**31")
    kernel = load("winograd")
    u = np.empty(((tile + 2) ** 2, c_in, c_out), dtype=x.dtype)
    kernel.filter_transform(w, _MATRICES[tile][1], u, threads)
    blas = _threads.blas_threads
    if blas.available is None:
        blas.call(1, int)  # loads threadpoolctl's view first: `available` picks the count
    # BLAS on one thread always (its results depend on its thread count); ours over the chunks,
    # and only when BLAS can be held at one thread while our threads call it.
    blas.call(
        1, kernel.conv2d_winograd, x, u, y, tile, chunk, threads if blas.available else 1, *pad_before, isa_index()
    )


# --------------------------------------------------------------------------- filter gradient
# dW[ky, kx, c, o] = sum_{n,y,x} x[n, y+ky, x+kx, c] dy[n, y, x, o] (stride 1, x padded) is the
# transpose of F(2x2, 3x3)'s map g -> A^T [(G g G^T) * (B^T d B)] A: per tile,
# G^T [(B^T d B) * (A dY A^T)] G, 16 products for the direct 36, the sum over tiles taken inside
# (16 GEMMs M[e] = V[e]^T D[e]) and G^T M G once. A tap's error follows its whole tiles, so a tap
# whose products are all zero gets rounding residue where the direct sum gives 0. Scratch per lane
# (V and D of a chunk of tile rows) and the most lanes (partial M's summed in lane order) depend
# on the shapes only, so the result never depends on the thread count.
_FILTER_SCRATCH_BYTES = 2 << 20
_FILTER_LANES = 8


def winograd_filter_reference(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Filter gradient of a VALID 3x3 stride-1 conv by F(3x3, 2x2), one tile at a time.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in), float32 or float64
        The forward op's (already padded) input.
    dy : ndarray, shape (N, H - 2, W - 2, C_out), same dtype
        The upstream gradient.

    Returns
    -------
    ndarray, shape (3, 3, C_in, C_out), dtype of ``x``
        ``dW[ky, kx, c, o] = sum_{n, y, x} x[n, y + ky, x + kx, c] * dy[n, y, x, o]``.

    Notes
    -----
    ``dy`` is cut into 2 x 2 tiles (zeros beyond its edge: they add exactly nothing), each
    reading the 4 x 4 input tile ``d`` at twice its index. With F(2, 3)'s ``B^T``, ``G``, ``A^T``::

        M[:, :, c, o] = sum over tiles of (B^T d_c B) * (A dY_o A^T)      (4 x 4)
        dW[:, :, c, o] = G^T M[:, :, c, o] G                               (3 x 3)

    the transpose of the forward tile map ``Y = A^T [(G g G^T) * (B^T d B)] A``. Computed in
    the dtype of ``x``.
    """
    x, dy = _check_filter_operands(x, dy)
    bt, g, at = (m.astype(x.dtype) for m in _MATRICES[2])
    n, _, _, c_in = x.shape
    h_out, w_out, c_out = dy.shape[1:]
    m = np.zeros((4, 4, c_in, c_out), dtype=x.dtype)
    for b in range(n):
        for oy in range(0, h_out, 2):
            for ox in range(0, w_out, 2):
                d = np.zeros((4, 4, c_in), dtype=x.dtype)
                patch = x[b, oy : oy + 4, ox : ox + 4]
                d[: patch.shape[0], : patch.shape[1]] = patch
                dy_tile = np.zeros((2, 2, c_out), dtype=x.dtype)
                part = dy[b, oy : oy + 2, ox : ox + 2]
                dy_tile[: part.shape[0], : part.shape[1]] = part
                v = np.einsum("ik,klc,jl->ijc", bt, d, bt)  # B^T d B, per input channel
                e = np.einsum("ki,klo,lj->ijo", at, dy_tile, at)  # A dY A^T, per output channel
                m += v[:, :, :, None] * e[:, :, None, :]
    return np.einsum("ik,ijco,jl->klco", g, m, g)


def conv2d_backprop_filter_winograd(x: np.ndarray, dy: np.ndarray, num_threads: int) -> np.ndarray:
    """Filter gradient of a VALID 3x3 stride-1 conv by F(3x3, 2x2), batched.

    Parameters
    ----------
    x, dy
        As in :func:`winograd_filter_reference`.
    num_threads : int >= 1
        Python threads over the lanes (each calls BLAS on one thread). The lanes, their chunks
        of tiles and the order their partial sums are added depend only on the shapes, so the
        result is bit-identical for any thread count.

    Returns
    -------
    ndarray, shape (3, 3, C_in, C_out), dtype of ``x``

    Notes
    -----
    Tiles are laid out as rows of 2 x 2 ``dy`` tiles, image after image; each image gets one
    extra zero row of ``dy`` tiles so that the flat tile rows are evenly spaced in ``x`` (that
    row's tiles straddle two images and add exactly zero). A lane transforms its chunks of tile
    rows into V (16, tiles, C_in) and D (16, tiles, C_out) with strided slices and runs the 16
    GEMMs ``V[e]^T D[e]``; ``G^T M G`` is summed in float64 and rounded once.
    """
    x, dy = _check_filter_operands(x, dy)
    threads = _check_threads(num_threads)
    n, height, width, c_in = x.shape
    h_out, w_out, c_out = dy.shape[1:]
    if 0 in (n, h_out, w_out, c_in, c_out):
        return np.zeros((3, 3, c_in, c_out), dtype=x.dtype)
    th, tw = -(-h_out // 2), -(-w_out // 2)
    xp = np.zeros((n, 2 * th + 2, 2 * tw + 2, c_in), dtype=x.dtype)
    xp[:, :height, :width] = x
    dp = np.zeros((n, 2 * th + 2, 2 * tw, c_out), dtype=x.dtype)
    dp[:, :h_out, :w_out] = dy
    # Row pairs: flat tile row f reads x pairs f and f + 1 and dy pair f.
    x_pairs, dy_pairs = xp.reshape(-1, 2, 2 * tw + 2, c_in), dp.reshape(-1, 2, 2 * tw, c_out)
    rows = n * (th + 1) - 1
    chunk = filter_chunk_rows(tw, c_in, c_out, x.dtype.itemsize)
    chunks = -(-rows // chunk)
    lanes = min(_FILTER_LANES, chunks)  # lane k: chunks chunks*k//lanes .. chunks*(k+1)//lanes - 1
    bounds = [min(rows, chunks * k // lanes * chunk) for k in range(lanes + 1)]
    work = [(x_pairs, dy_pairs, a, b, chunk, tw) for a, b in zip(bounds[:-1], bounds[1:])]
    from convops import _threads  # noqa: PLC0415 - imports threadpoolctl; only kernel calls need it

    blas = _threads.blas_threads
    if blas.available is None:
        blas.call(1, int)  # loads threadpoolctl's view first
    workers = min(threads, len(work)) if blas.available else 1
    # Our threads over the lanes (NumPy and BLAS release the GIL), BLAS on one thread.
    with ThreadPoolExecutor(workers) as pool:
        lanes_run = pool.map if workers > 1 else map
        partials = blas.call(1, lambda: list(lanes_run(lambda args: _filter_lane(*args), work)))
    m = partials[0]
    for part in partials[1:]:
        m += part
    # G^T M G with the sign of D's last row (A's -1, left out of the transform) folded into G.
    g = _G2 * np.array([1.0, 1.0, 1.0, -1.0])[:, None]
    dw = np.einsum("ik,ijco,jl->klco", g, m.reshape(4, 4, c_in, c_out).astype(np.float64), g)
    return dw.astype(x.dtype)


def filter_chunk_rows(tiles_w: int, c_in: int, c_out: int, itemsize: int) -> int:
    """Tile rows per chunk of the filter gradient, from the shapes only: V and D (``16 * tiles_w *
    rows * (C_in + C_out)`` values) within ``_FILTER_SCRATCH_BYTES``, at least one row and 64 tiles."""
    per_row = 16 * tiles_w * (c_in + c_out) * itemsize
    return max(1, -(-64 // tiles_w), _FILTER_SCRATCH_BYTES // per_row)


def _filter_lane(x_pairs: np.ndarray, dy_pairs: np.ndarray, first: int, end: int, chunk: int, tw: int) -> np.ndarray:
    """sum over the tile rows first..end - 1 of V^T D, chunk by chunk in order: (16, C_in, C_out)."""
    c_in, c_out = x_pairs.shape[3], dy_pairs.shape[3]
    v = np.empty((16, chunk * tw, c_in), dtype=x_pairs.dtype)
    d = np.empty((16, chunk * tw, c_out), dtype=x_pairs.dtype)
    m = np.zeros((16, c_in, c_out), dtype=x_pairs.dtype)
    for f0 in range(first, end, chunk):
        f1 = min(end, f0 + chunk)
        tiles = (f1 - f0) * tw
        _filter_transforms(x_pairs, dy_pairs, f0, f1, tw, v[:, :tiles], d[:, :tiles])
        m += np.matmul(v[:, :tiles].transpose(0, 2, 1), d[:, :tiles])
    return m


def _filter_transforms(
    x_pairs: np.ndarray, dy_pairs: np.ndarray, f0: int, f1: int, tw: int, v: np.ndarray, d: np.ndarray
) -> None:
    """V = B^T d B (every tile of rows f0..f1 - 1) and D = A dY A^T without A's last sign."""
    rows, c_in, c_out = f1 - f0, v.shape[2], d.shape[2]
    r0, r1 = x_pairs[f0:f1, 0], x_pairs[f0:f1, 1]
    r2, r3 = x_pairs[f0 + 1 : f1 + 1, 0], x_pairs[f0 + 1 : f1 + 1, 1]
    vv = v.reshape(4, 4, rows, tw, c_in)
    # B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], down rows then across.
    for a, t in enumerate((r0 - r2, r1 + r2, r2 - r1, r1 - r3)):
        c0, c1, c2, c3 = (t[:, j : j + 2 * tw : 2] for j in range(4))
        np.subtract(c0, c2, out=vv[a, 0])
        np.add(c1, c2, out=vv[a, 1])
        np.subtract(c2, c1, out=vv[a, 2])
        np.subtract(c1, c3, out=vv[a, 3])
    # A = [[1, 0], [1, 1], [1, -1], [0, -1]] with its last row's sign moved into G.
    s0, s1 = dy_pairs[f0:f1, 0], dy_pairs[f0:f1, 1]
    dd = d.reshape(4, 4, rows, tw, c_out)
    for a, q in enumerate((s0, s0 + s1, s0 - s1, s1)):
        e0, e1 = q[:, 0::2], q[:, 1::2]
        np.copyto(dd[a, 0], e0)
        np.add(e0, e1, out=dd[a, 1])
        np.subtract(e0, e1, out=dd[a, 2])
        np.copyto(dd[a, 3], e1)


def _check_filter_operands(x: Any, dy: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"`x` must be a 4-D float32 or float64 ndarray (N, H, W, C_in); got "
            f"{type(x).__name__} {getattr(x, 'shape', '')} {getattr(x, 'dtype', '')}"
        )
    if x.shape[1] < 2 or x.shape[2] < 2:
        raise ValueError(f"`x` (already padded) must have H >= 2 and W >= 2 for a 3x3 VALID conv; got {x.shape}")
    want = (x.shape[0], x.shape[1] - 2, x.shape[2] - 2)
    if not isinstance(dy, np.ndarray) or dy.ndim != 4 or dy.shape[:3] != want:
        raise ValueError(
            f"`dy` must be an ndarray of shape (N, H - 2, W - 2, C_out), {want} + (C_out,); got "
            f"{getattr(dy, 'shape', type(dy))}"
        )
    if dy.dtype != x.dtype:
        raise ValueError(f"`dy` must have the dtype of `x` ({x.dtype}); got {dy.dtype}")
    return np.ascontiguousarray(x), np.ascontiguousarray(dy)
