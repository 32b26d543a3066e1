# Winograd F(2x2, 3x3) and F(4x4, 3x3) (Lavin & Gray 2016): the input and output transforms per
# tile, the filter transform once per call, and the alpha**2 channel sums as BLAS GEMMs.
# convops/_winograd.py holds the matrices these loops spell out, and the NumPy twin.
#
# Work is split into chunks of `chunk_tiles` consecutive tiles (chosen by the caller from the
# shapes only). A chunk is one task: transform its tiles into V (alpha**2, tiles, C_in), run
# alpha**2 GEMMs M[e] = V[e] . U[e] into M (alpha**2, tiles, C_out), inverse-transform M into
# the output. Every output element belongs to one tile, hence one chunk, and each chunk's work
# (including every GEMM's shape) is the same whichever thread runs it: results do not depend on
# the thread count. The caller pins BLAS to one thread.
#
# The input is read where it lies, with the padding as offsets: the scatter of a tile reads zeros
# for rows and columns outside it (padding, or beyond the padded edge for the last tiles), so no
# padded copy is made and the transforms see exactly the values a padded copy would hold.
#
# Each transform is a 1-D transform applied to rows, then to columns, vectorised over channels
# (the contiguous axis of NHWC): `src`/`dst` are the first of alpha (or m) channel vectors spaced
# by a stride. The 1-D transforms are C (src/winograd.h: `restrict` and float literals).
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from convops._kernels.blas cimport _gemm
from convops._kernels.parallel cimport effective_threads, parallel_for
from convops._kernels.common cimport floating

# Channels of a tile at x's edge or y's transformed together: alpha * alpha * CB values of scratch stay in L1.
cdef enum:
    CB = 64

cdef extern from "winograd.h" nogil:
    # One tile's transforms, one copy per instruction set (indexed by convops.dispatch's ISA index).
    ctypedef void (*convops_winograd_in_fn_f32)(int tile, const float* s, ptrdiff_t sr, ptrdiff_t sc, float* d,
                                                ptrdiff_t de, ptrdiff_t n)
    ctypedef void (*convops_winograd_in_fn_f64)(int tile, const double* s, ptrdiff_t sr, ptrdiff_t sc, double* d,
                                                ptrdiff_t de, ptrdiff_t n)
    ctypedef void (*convops_winograd_out_fn_f32)(int tile, const float* s, ptrdiff_t se, float* d, ptrdiff_t dr,
                                                 ptrdiff_t dc, ptrdiff_t n)
    ctypedef void (*convops_winograd_out_fn_f64)(int tile, const double* s, ptrdiff_t se, double* d, ptrdiff_t dr,
                                                 ptrdiff_t dc, ptrdiff_t n)
    convops_winograd_in_fn_f32 convops_winograd_ins_f32[3]
    convops_winograd_in_fn_f64 convops_winograd_ins_f64[3]
    convops_winograd_out_fn_f32 convops_winograd_outs_f32[3]
    convops_winograd_out_fn_f64 convops_winograd_outs_f64[3]
    float convops_max_abs_f32(const float* a, ptrdiff_t n)
    double convops_max_abs_f64(const double* a, ptrdiff_t n)


cdef inline void _input_transform(const floating* s, Py_ssize_t sr, Py_ssize_t sc, floating* d, Py_ssize_t de,
                                  Py_ssize_t nc, int tile, int isa) noexcept nogil:
    # V[(i', j')] = (B^T D B)[i', j'] at d + (i' * alpha + j') * de, D[i][j] at s + i * sr + j * sc; nc channels.
    if floating is float:
        convops_winograd_ins_f32[isa](tile, s, sr, sc, d, de, nc)
    else:
        convops_winograd_ins_f64[isa](tile, s, sr, sc, d, de, nc)


cdef inline void _output_transform(const floating* s, Py_ssize_t se, floating* d, Py_ssize_t dr, Py_ssize_t dc,
                                   Py_ssize_t nc, int tile, int isa) noexcept nogil:
    # Y[i'][j'] = (A^T M A)[i', j'] at d + i' * dr + j' * dc, M[(i, j)] at s + (i * alpha + j) * se; nc channels.
    if floating is float:
        convops_winograd_outs_f32[isa](tile, s, se, d, dr, dc, nc)
    else:
        convops_winograd_outs_f64[isa](tile, s, se, d, dr, dc, nc)


# --------------------------------------------------------------------------- plan

cdef struct Plan:
    const void* x           # (N, H, W, C_in) with unit channel stride: the input before padding
    const void* u           # (alpha**2, C_in, C_out), the transformed filters
    void* y                 # (N, H_out, W_out, C_out)
    Py_ssize_t sx_n, sx_h, sx_w     # x's strides in elements
    Py_ssize_t pad_top, pad_left    # x[r, c] is row r + pad_top, column c + pad_left of the padded input
    Py_ssize_t rows_end, cols_end   # x's rows and columns the padded input holds (H_out + 2 rows)
    Py_ssize_t n_batch, c_in, c_out, h_out, w_out
    Py_ssize_t tiles_h, tiles_w, n_tiles, chunk_tiles
    int tile, alpha, code
    int isa                 # the transforms' instruction set (winograd.h's tables)
    bint failed


cdef void _scatter_tile_input(const floating* x, Plan* p, Py_ssize_t tile_index, floating* v, floating* work,
                              Py_ssize_t t, Py_ssize_t rows_v) noexcept nogil:
    # V[e, t, :] for e = (i, j) = B^T d B of this tile. d is the padded input's alpha x alpha window
    # (zeros on the padding and beyond its edge). A window inside x is read in place; one that
    # crosses x's edge is first copied, CB channels at a time, into `work` (alpha * alpha * CB)
    # with zeros where the padded input has them, so the transforms see the same numbers.
    cdef int alpha = p.alpha, tile = p.tile
    cdef Py_ssize_t per_image = p.tiles_h * p.tiles_w
    cdef Py_ssize_t n = tile_index // per_image
    cdef Py_ssize_t rem = tile_index - n * per_image
    cdef Py_ssize_t ty = rem // p.tiles_w
    # The window's first row and column in x's coordinates (negative on the top/left padding).
    cdef Py_ssize_t iy0 = ty * tile - p.pad_top, ix0 = (rem - ty * p.tiles_w) * tile - p.pad_left
    # Its rows and columns inside x: i0 <= i < i1, j0 <= j < j1.
    cdef Py_ssize_t i0 = max(<Py_ssize_t>0, -iy0), i1 = min(<Py_ssize_t>alpha, p.rows_end - iy0)
    cdef Py_ssize_t j0 = max(<Py_ssize_t>0, -ix0), j1 = min(<Py_ssize_t>alpha, p.cols_end - ix0)
    cdef Py_ssize_t c0, nc, i, j, c_in = p.c_in, sw = p.sx_w, de = rows_v * c_in
    # The window's first cell as an offset into x: a pointer is formed only to cells inside x (x
    # itself is NULL when it has no rows or columns, and a window may start above or left of it).
    cdef Py_ssize_t start = n * p.sx_n + iy0 * p.sx_h + ix0 * sw
    if i0 == 0 and i1 == alpha and j0 == 0 and j1 == alpha:
        _input_transform(x + start, p.sx_h, sw, v + t * c_in, de, c_in, tile, p.isa)
        return
    c0 = 0
    while c0 < c_in:
        nc = min(<Py_ssize_t>CB, c_in - c0)
        memset(work, 0, alpha * alpha * CB * sizeof(floating))
        for i in range(i0, i1):
            for j in range(j0, j1):
                memcpy(work + (i * alpha + j) * CB, x + (start + i * p.sx_h + j * sw + c0), nc * sizeof(floating))
        _input_transform(work, alpha * CB, CB, v + t * c_in + c0, de, nc, tile, p.isa)
        c0 += nc


cdef void _gather_tile_output(const floating* m, Plan* p, Py_ssize_t tile_index, floating* y, floating* work,
                              Py_ssize_t t, Py_ssize_t rows_m) noexcept nogil:
    # y's tile (cropped at the edges) = A^T M A, M[e] = m[e, t, :]. A whole tile is written in
    # place; a cropped one goes through `work` (tile * tile * CB), CB channels at a time.
    cdef int tile = p.tile
    cdef Py_ssize_t per_image = p.tiles_h * p.tiles_w
    cdef Py_ssize_t n = tile_index // per_image
    cdef Py_ssize_t rem = tile_index - n * per_image
    cdef Py_ssize_t ty = rem // p.tiles_w
    cdef Py_ssize_t oy0 = ty * tile, ox0 = (rem - ty * p.tiles_w) * tile
    cdef Py_ssize_t rows = min(<Py_ssize_t>tile, p.h_out - oy0), cols = min(<Py_ssize_t>tile, p.w_out - ox0)
    cdef Py_ssize_t c0, nc, i, j, c_out = p.c_out, se = rows_m * c_out
    cdef floating* dst = y + ((n * p.h_out + oy0) * p.w_out + ox0) * c_out
    if rows == tile and cols == tile:
        _output_transform(m + t * c_out, se, dst, p.w_out * c_out, c_out, c_out, tile, p.isa)
        return
    c0 = 0
    while c0 < c_out:
        nc = min(<Py_ssize_t>CB, c_out - c0)
        _output_transform(m + t * c_out + c0, se, work, tile * CB, CB, nc, tile, p.isa)
        for i in range(rows):
            for j in range(cols):
                memcpy(dst + (i * p.w_out + j) * c_out + c0, work + (i * tile + j) * CB, nc * sizeof(floating))
        c0 += nc


cdef void _chunk_typed(const floating* x, const floating* u, floating* y, Plan* p, ptrdiff_t begin,
                       ptrdiff_t end) noexcept nogil:
    cdef Py_ssize_t e, t, first, rows
    cdef Py_ssize_t a2 = p.alpha * p.alpha, c_in = p.c_in, c_out = p.c_out, chunk_tiles = p.chunk_tiles
    cdef Py_ssize_t work_len = p.alpha * p.alpha * CB
    # V and M, then the transforms' scratch; one allocation for this thread's run of chunks.
    cdef floating* v = <floating*>malloc((a2 * chunk_tiles * (c_in + c_out) + work_len) * sizeof(floating))
    cdef floating* m
    cdef floating* work
    cdef ptrdiff_t chunk
    if v == NULL:
        p.failed = True
        return
    m = v + a2 * chunk_tiles * c_in
    work = m + a2 * chunk_tiles * c_out
    for chunk in range(begin, end):
        first = chunk * chunk_tiles
        rows = min(chunk_tiles, p.n_tiles - first)
        for t in range(rows):
            _scatter_tile_input(x, p, first + t, v, work, t, rows)
        for e in range(a2):
            # Row-major M[e] (rows x C_out) = V[e] (rows x C_in) . U[e] (C_in x C_out), read
            # column-major as M^T = U^T . V^T.
            _gemm(False, False, <int>c_out, <int>rows, <int>c_in, u + e * c_in * c_out, <int>c_out,
                  v + e * rows * c_in, <int>c_in, <floating>0, m + e * rows * c_out, <int>c_out)
        for t in range(rows):
            _gather_tile_output(m, p, first + t, y, work, t, rows)
    free(v)


cdef void _chunks(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef Plan* p = <Plan*>ctx
    if p.code == 0:
        _chunk_typed(<const float*>p.x, <const float*>p.u, <float*>p.y, p, begin, end)
    else:
        _chunk_typed(<const double*>p.x, <const double*>p.u, <double*>p.y, p, begin, end)


# --------------------------------------------------------------------------- filter transform

cdef enum:
    # Filter values (C_in * C_out positions) per filter-transform task: float64 sums on the stack.
    FILTER_BLOCK = 512


cdef struct FilterPlan:
    const void* w           # (3, 3, C_in, C_out)
    const double* g         # (alpha, 3)
    void* u                 # (alpha**2, C_in, C_out)
    Py_ssize_t kc           # C_in * C_out
    int alpha, code


cdef void _filter_block_typed(const floating* wp, floating* up, FilterPlan* f, Py_ssize_t q0,
                              Py_ssize_t nq) noexcept nogil:
    # u[(i, j), q] = sum over taps (ky, kx) in order of G[i, ky] G[j, kx] w[ky, kx, q], float64.
    cdef double acc[FILTER_BLOCK]
    cdef double coef
    cdef Py_ssize_t i, j, ky, kx, q, kc = f.kc
    cdef int alpha = f.alpha
    for i in range(alpha):
        for j in range(alpha):
            memset(acc, 0, nq * sizeof(double))
            for ky in range(3):
                for kx in range(3):
                    coef = f.g[i * 3 + ky] * f.g[j * 3 + kx]
                    if coef != 0:
                        for q in range(nq):
                            acc[q] += coef * wp[(ky * 3 + kx) * kc + q0 + q]
            for q in range(nq):
                up[(i * alpha + j) * kc + q0 + q] = <floating>acc[q]


cdef void _filter_blocks(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef FilterPlan* f = <FilterPlan*>ctx
    cdef ptrdiff_t block
    cdef Py_ssize_t q0
    for block in range(begin, end):
        q0 = block * FILTER_BLOCK
        if f.code == 0:
            _filter_block_typed(<const float*>f.w, <float*>f.u, f, q0, min(<Py_ssize_t>FILTER_BLOCK, f.kc - q0))
        else:
            _filter_block_typed(<const double*>f.w, <double*>f.u, f, q0, min(<Py_ssize_t>FILTER_BLOCK, f.kc - q0))


# --------------------------------------------------------------------------- entry points

def filter_transform(const floating[:, :, :, ::1] w, const double[:, ::1] g, floating[:, :, ::1] u,
                     int num_threads=1):
    """u[(i, j), c, o] = (G w[:, :, c, o] G^T)[i, j], summed in float64 and rounded once.

    w: (3, 3, C_in, C_out), g: (alpha, 3), u: (alpha**2, C_in, C_out), overwritten. Every value
    of u is its own sum, so splitting the (c, o) positions over threads changes no bit.
    """
    cdef FilterPlan f
    cdef ptrdiff_t n_blocks
    cdef int threads
    f.kc = w.shape[2] * w.shape[3]
    if f.kc == 0:
        return
    f.alpha = g.shape[0]
    f.w, f.g, f.u = &w[0, 0, 0, 0], &g[0, 0], &u[0, 0, 0]
    f.code = 0 if floating is float else 1
    n_blocks = (f.kc + FILTER_BLOCK - 1) // FILTER_BLOCK
    threads = effective_threads(num_threads, f.alpha * f.alpha * 9 * f.kc) if n_blocks > 1 else 1
    with nogil:
        parallel_for(_filter_blocks, &f, n_blocks, 1, threads)


def conv2d_winograd(const floating[:, :, :, :] x, const floating[:, :, ::1] u, floating[:, :, :, ::1] y,
                    int tile, Py_ssize_t chunk_tiles, int num_threads,
                    Py_ssize_t pad_top=0, Py_ssize_t pad_left=0, int isa=0):
    """3x3 stride-1 cross-correlation of x zero-padded by (pad_top, pad_left) before, and below and
    to the right as far as y needs, by F(tile x tile, 3 x 3); a negative pad skips x's first rows
    (columns). Nothing is copied: the tile scatter reads zeros outside x.

    x: (N, H, W, C_in) with contiguous channels (any other strides, as for a channel slice), u: (alpha**2, C_in, C_out)
    from filter_transform, y: (N, H_out, W_out, C_out) overwritten; the padded input is
    (H_out + 2) x (W_out + 2), so x's rows from H_out + 2 - pad_top on are not read. Tiles are
    numbered image by image, row by row; each task is `chunk_tiles` consecutive tiles. The caller
    guarantees non-empty y, C_in >= 1, BLAS-sized dimensions (chunk_tiles * C_in,
    C_in * C_out < 2**31) and BLAS on one thread. `isa`: the transforms' copy (0 portable, 1 AVX2,
    2 AVX-512; the caller's choice among those this CPU runs), all of the same bits.
    """
    cdef Plan p
    cdef Py_ssize_t n_chunks, item = sizeof(floating)
    cdef int threads
    if x.shape[3] > 1 and x.strides[3] != item:
        raise ValueError(f"conv2d_winograd: `x` must have contiguous channels; got a stride of {x.strides[3]} bytes")
    p.n_batch, p.c_in = x.shape[0], x.shape[3]
    p.h_out, p.w_out, p.c_out = y.shape[1], y.shape[2], y.shape[3]
    p.pad_top, p.pad_left = pad_top, pad_left
    p.rows_end = min(x.shape[1], p.h_out + 2 - pad_top)
    p.cols_end = min(x.shape[2], p.w_out + 2 - pad_left)
    p.sx_n, p.sx_h, p.sx_w = x.strides[0] // item, x.strides[1] // item, x.strides[2] // item
    if not 0 <= isa < 3:
        raise ValueError(f"conv2d_winograd: `isa` must be 0, 1 or 2; got {isa}")
    p.tile, p.alpha, p.isa = tile, tile + 2, isa
    p.tiles_h = (p.h_out + tile - 1) // tile
    p.tiles_w = (p.w_out + tile - 1) // tile
    p.n_tiles = p.n_batch * p.tiles_h * p.tiles_w
    p.chunk_tiles = chunk_tiles
    # An x of no rows or columns (all padding) is never read.
    p.x = &x[0, 0, 0, 0] if x.shape[1] > 0 and x.shape[2] > 0 else NULL
    p.u, p.y = &u[0, 0, 0], &y[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    n_chunks = (p.n_tiles + chunk_tiles - 1) // chunk_tiles
    threads = effective_threads(num_threads, p.n_tiles * p.alpha * p.alpha * p.c_in * p.c_out // 16) \
        if n_chunks > 1 else 1
    with nogil:
        parallel_for(_chunks, &p, n_chunks, 1, threads)
    if p.failed:
        raise MemoryError("conv2d_winograd_valid: could not allocate a tile buffer")


def max_abs(const floating[::1] a):
    """max |a| over every value (0 for none), or -1 when one is inf or NaN; one pass, no copy."""
    cdef Py_ssize_t n = a.shape[0]
    cdef floating top = 0
    if n:
        with nogil:
            if floating is float:
                top = convops_max_abs_f32(&a[0], n)
            else:
                top = convops_max_abs_f64(&a[0], n)
    return float(top)
