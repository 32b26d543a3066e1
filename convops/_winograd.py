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
the docs show), the batched kernel wrapper and the input gradient. The API (convops.conv)
validates its arguments and pads the input; here ``x`` is already padded (a VALID conv).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convops._kernels import load

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
    threads = _check_threads(num_threads)
    n, height, width, c_in = x.shape
    c_out = w.shape[3]
    y = np.empty((n, height - 2, width - 2, c_out), dtype=x.dtype)
    if y.size == 0:
        return y
    if c_in == 0:
        y.fill(0)
        return y
    _run_kernel(x, w, y, tile, threads)
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
    dy2 = _pad_or_crop(dy, (2 - top, 2 - bottom), (2 - left, 2 - right))
    w_rot = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return conv2d_winograd_valid(dy2, w_rot, tile, threads)


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
    x: Any, w: Any, tile: Any, x_name: str = "x", w_in_axis: int = 2
) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated C-contiguous ``x`` (4-D, float32/64, spatial sides >= 2) and ``w`` (3, 3, ., .)
    of the same dtype whose axis ``w_in_axis`` matches ``x``'s channels; and the tile."""
    tile = _check_tile(tile)
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"`{x_name}` must be a 4-D float32 or float64 ndarray (N, H, W, C); got "
            f"{type(x).__name__} {getattr(x, 'shape', '')} {getattr(x, 'dtype', '')}"
        )
    if x_name == "x" and (x.shape[1] < 2 or x.shape[2] < 2):
        raise ValueError(f"`x` (already padded) must have H >= 2 and W >= 2 for a 3x3 VALID conv; got {x.shape}")
    if not isinstance(w, np.ndarray) or w.ndim != 4 or w.shape[:2] != (3, 3):
        raise ValueError(f"`w` must be an ndarray of shape (3, 3, C_in, C_out); got {getattr(w, 'shape', type(w))}")
    if w.dtype != x.dtype:
        raise ValueError(f"`w` must have the dtype of `{x_name}` ({x.dtype}); got {w.dtype}")
    if w.shape[w_in_axis] != x.shape[3]:
        raise ValueError(f"`w` axis {w_in_axis} must equal `{x_name}`'s channels ({x.shape[3]}); got w.shape {w.shape}")
    return np.ascontiguousarray(x), np.ascontiguousarray(w), tile


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


def _check_padding(padding_pairs: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    try:
        (top, bottom), (left, right) = ((int(a), int(b)) for a, b in padding_pairs)
    except (TypeError, ValueError):
        raise ValueError(
            f"`padding_pairs` must be ((top, bottom), (left, right)) of non-negative ints; got {padding_pairs!r}"
        ) from None
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"`padding_pairs` must be non-negative; got {padding_pairs!r}")
    return (top, bottom), (left, right)


#: Scratch per task (V and M of one chunk of tiles): measured, see chunk_tiles.
_SCRATCH_BYTES = 1 << 20
_BLAS_INT_MAX = 2**31 - 1


def chunk_tiles(tile: int, c_in: int, c_out: int, itemsize: int) -> int:
    """Tiles per task: as many as fit V and M (``alpha**2 * tiles * (C_in + C_out)`` values) in
    ``_SCRATCH_BYTES``, between 16 and 512.

    A function of the shapes only, never of the thread count, so that every task -- and every
    BLAS call, whose summation order may depend on its row count -- is the same on any number
    of threads.
    """
    alpha = tile + 2
    fit = _SCRATCH_BYTES // (alpha * alpha * (c_in + c_out) * itemsize)
    return int(max(16, min(512, fit)))


def _run_kernel(x: np.ndarray, w: np.ndarray, y: np.ndarray, tile: int, threads: int) -> None:
    from convops import _threads  # noqa: PLC0415 - imports threadpoolctl; only kernel calls need it

    c_in, c_out = w.shape[2], w.shape[3]
    chunk = chunk_tiles(tile, c_in, c_out, x.dtype.itemsize)
    if c_in * c_out > _BLAS_INT_MAX or chunk * max(c_in, c_out) > _BLAS_INT_MAX:
        raise ValueError(f"conv2d_winograd_valid: C_in * C_out ({c_in} * {c_out}) must be below 2**31")
    kernel = load("winograd")
    u = np.empty(((tile + 2) ** 2, c_in, c_out), dtype=x.dtype)
    kernel.filter_transform(w, _MATRICES[tile][1], u)
    blas = _threads.blas_threads
    if blas.available is None:
        blas.call(1, int)  # loads threadpoolctl's view first: `available` picks the count
    # BLAS on one thread always (its results depend on its thread count); ours over the chunks,
    # and only when BLAS can be held at one thread while our threads call it.
    blas.call(1, kernel.conv2d_winograd, x, u, y, tile, chunk, threads if blas.available else 1)
