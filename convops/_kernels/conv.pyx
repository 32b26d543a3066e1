# Convolution kernels. Private: the public layer (convops/conv.py) has validated every argument,
# resolved the padding to explicit integers, made the arrays C-contiguous and allocated `out`.
# These functions trust their inputs, hold no Python objects in their loops and release the GIL.
# Every kernel here runs the call it is given: convops.conv chose it, the instruction set (`isa`,
# an index into simd.ISA_NAMES) and the thread count. (The im2col + BLAS kernel lives in
# conv_gemm.pyx: it needs scipy.linalg, ~0.15-0.4 s to import, which the first conv2d call should
# not pay. The small-call fast path that parses Python objects lives in fastpath.pyx.)
# Size: one concept, the forward convolution's loops: the readable naive ones beside the blocked
# direct kernel's plan, task loop and calls, which share the Span and Plan structures.
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from convops._kernels.parallel cimport effective_threads, parallel_for
from convops._kernels.common cimport floating
from convops._kernels.simd cimport CONVOPS_ISA_AVX512

cdef struct IntPlan:
    const int* x
    const int* w
    int* out
    Py_ssize_t height, width, c_in, kh, kw, c_group, c_out, h_out, w_out, sh, sw, dil_h, dil_w, top, left, groups


cdef void _int32_rows(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    # Output rows [r0, r1) of the flattened (n, oy) range.
    cdef const IntPlan* p = <const IntPlan*>ctx
    cdef Py_ssize_t c_out_group = p.c_out // p.groups
    cdef Py_ssize_t row, n, oy, ox, ky, kx, iy, ix, ci, o, g
    cdef int value
    cdef int* acc
    cdef const int* w_row
    for row in range(r0, r1):
        n = row // p.h_out
        oy = row - n * p.h_out
        for ox in range(p.w_out):
            acc = p.out + (row * p.w_out + ox) * p.c_out
            memset(acc, 0, p.c_out * sizeof(int))
            for ky in range(p.kh):
                iy = oy * p.sh - p.top + ky * p.dil_h
                if iy < 0 or iy >= p.height:
                    continue
                for kx in range(p.kw):
                    ix = ox * p.sw - p.left + kx * p.dil_w
                    if ix < 0 or ix >= p.width:
                        continue
                    for g in range(p.groups):
                        for ci in range(p.c_group):
                            value = p.x[((n * p.height + iy) * p.width + ix) * p.c_in + g * p.c_group + ci]
                            w_row = p.w + ((ky * p.kw + kx) * p.c_group + ci) * p.c_out + g * c_out_group
                            for o in range(c_out_group):
                                acc[g * c_out_group + o] += value * w_row[o]


def conv2d_direct_int32(const int[:, :, :, ::1] x, const int[:, :, :, ::1] w, int[:, :, :, ::1] out,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h, Py_ssize_t dil_w,
                        Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups, int num_threads):
    """Direct int32 cross-correlation (no BLAS for integers). Overflow wraps modulo 2**32 as in
    TensorFlow; the extension is compiled with -fwrapv so that wrapping is defined behaviour."""
    cdef IntPlan p
    cdef Py_ssize_t rows = out.shape[0] * out.shape[1]
    cdef int threads = effective_threads(num_threads, rows * out.shape[2] * w.shape[0] * w.shape[1] * w.shape[2]
                                         * w.shape[3])
    p.x, p.w, p.out = &x[0, 0, 0, 0], &w[0, 0, 0, 0], &out[0, 0, 0, 0]
    p.height, p.width, p.c_in = x.shape[1], x.shape[2], x.shape[3]
    p.kh, p.kw, p.c_group, p.c_out = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
    p.h_out, p.w_out, p.sh, p.sw, p.dil_h, p.dil_w = out.shape[1], out.shape[2], sh, sw, dil_h, dil_w
    p.top, p.left, p.groups = pad_top, pad_left, groups
    with nogil:
        parallel_for(_int32_rows, &p, rows, max(1, rows // (threads * 16)), threads)


# ---------------------------------------------------------------------------------------------
# The readable kernel: the definition of conv2d as seven nested loops, compiled. It is the step
# between the NumPy reference and the fast kernels below (the docs' "naive to Cython" page) and a
# second oracle in tests. Serial, no blocking, no SIMD: ~1-2 GFLOP/s.

# [docs:conv2d-naive]
def conv2d_naive(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w, floating[:, :, :, ::1] out,
                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h, Py_ssize_t dil_w,
                 Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups):
    """out[n, oy, ox, o] = sum over ky, kx, c of x[n, iy, ix, g*C_g + c] * w[ky, kx, c, o],
    iy = oy*sh - pad_top + ky*dil_h, ix = ox*sw - pad_left + kx*dil_w, taps outside the image skipped
    (they would add zeros). x: (N, H, W, C_in), w: (KH, KW, C_in/groups, C_out),
    out: (N, H_out, W_out, C_out), allocated by the caller."""
    cdef Py_ssize_t n_batch = x.shape[0], height = x.shape[1], width = x.shape[2]
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], c_group = w.shape[2], c_out = w.shape[3]
    cdef Py_ssize_t h_out = out.shape[1], w_out = out.shape[2]
    cdef Py_ssize_t c_out_group = c_out // groups
    cdef Py_ssize_t n, oy, ox, o, g, ky, kx, c, iy, ix
    cdef floating total
    with nogil:
        for n in range(n_batch):
            for oy in range(h_out):
                for ox in range(w_out):
                    for o in range(c_out):
                        g = o // c_out_group
                        total = 0
                        for ky in range(kh):
                            iy = oy * sh - pad_top + ky * dil_h
                            if iy < 0 or iy >= height:
                                continue
                            for kx in range(kw):
                                ix = ox * sw - pad_left + kx * dil_w
                                if ix < 0 or ix >= width:
                                    continue
                                for c in range(c_group):
                                    total = total + x[n, iy, ix, g * c_group + c] * w[ky, kx, c, o]
                        out[n, oy, ox, o] = total
# [/docs:conv2d-naive]


# ---------------------------------------------------------------------------------------------
# [docs:direct-kernel-idea]
# The fast kernel: direct convolution, register-blocked. The loops of conv2d_naive, reordered:
#
#   for each block of V*L output channels (L = SIMD lanes)     <- weights packed per block
#     for each block of P output pixels                         <- any P pixels whose windows
#       acc[P][V] = 0                                              are clipped alike
#       for ky, kx, c in the window:
#         acc[p][v] += x[pixel p, ky, kx, c] * w[ky, kx, c, block v]   (broadcast x, vector w)
#       store acc
#
# P x V accumulators live in SIMD registers for the whole reduction, so each loaded weight vector
# feeds P multiply-adds and each input value V of them: the loop runs at the FMA units' speed
# rather than memory's. The micro-kernel is C (conv_ukernel.h), compiled for SSE2, AVX2 and
# AVX-512 and chosen at run time. Output channels are the vector axis because NHWC makes them
# contiguous in both the filters (HWIO) and the output.
#
# Padding is never materialised. Output rows are grouped into "spans" whose windows lose the same
# taps to the top/bottom padding, columns likewise; every (row span, column span) pair is a set of
# pixels with one clipped window [ky0, ky1) x [kx0, kx1), cut into blocks of P. Taps in the
# padding are skipped rather than multiplied by zero; that differs from TensorFlow only for
# non-finite filters (0 * inf = NaN): convops.conv never sends those here when a window reaches
# the padding (it chooses conv2d_gemm), so this kernel never has to decline.
# [/docs:direct-kernel-idea]


cdef extern from "conv_simd.h" nogil:
    ptrdiff_t convops_simd_lanes(int isa, ptrdiff_t itemsize)
    int convops_simd_pixels(int isa, int v, int choice)
    ctypedef void (*convops_ukernel_f32)(int, int, const float* const*, float* const*, const float*,
                                         ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                         ptrdiff_t, ptrdiff_t, ptrdiff_t, const float*, int) noexcept nogil
    ctypedef void (*convops_ukernel_f64)(int, int, const double* const*, double* const*, const double*,
                                         ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                         ptrdiff_t, ptrdiff_t, ptrdiff_t, const double*, int) noexcept nogil
    ctypedef void (*convops_run_f32)(int, int, const float*, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, const float*,
                                     ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, const float*, int) noexcept nogil
    ctypedef void (*convops_run_f64)(int, int, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                     const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, ptrdiff_t, const double*, int) noexcept nogil
    ctypedef void (*convops_image_f32)(const float*, float*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    ctypedef void (*convops_image_f64)(const double*, double*, const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    convops_ukernel_f32 convops_ukernels_f32[3]
    convops_ukernel_f64 convops_ukernels_f64[3]
    convops_run_f32 convops_runs_f32[3]
    convops_run_f64 convops_runs_f64[3]
    convops_image_f32 convops_images_f32[3]
    convops_image_f64 convops_images_f64[3]


def block_shape(Py_ssize_t itemsize, Py_ssize_t c_out_group, int isa, int max_vectors=4, int pixel_choice=0):
    """(V, P, lanes): vectors of output channels per block, pixels per block, lanes per vector,
    as conv2d_direct chooses them for this dtype size, group width, instruction set and blocking
    (`max_vectors` 1..4, `pixel_choice` 0 or 1: see conv2d_direct)."""
    cdef Py_ssize_t lanes = convops_simd_lanes(isa, itemsize)
    cdef Py_ssize_t vectors = (c_out_group + lanes - 1) // lanes
    cdef Py_ssize_t n_blocks = (vectors + max_vectors - 1) // max_vectors
    cdef int v = <int>((vectors + n_blocks - 1) // n_blocks)
    return v, convops_simd_pixels(isa, v, pixel_choice), lanes


cdef struct Span:
    # Output positions [start, stop) along one axis whose windows keep taps [k0, k1).
    Py_ssize_t start, stop, k0, k1


cdef Py_ssize_t _spans(Py_ssize_t n_out, Py_ssize_t n_in, Py_ssize_t k, Py_ssize_t s, Py_ssize_t d,
                       Py_ssize_t pad, Span* spans) noexcept nogil:
    cdef Py_ssize_t o, base, k0, k1, count = 0
    for o in range(n_out):
        base = o * s - pad                      # input index of tap 0
        k0 = 0 if base >= 0 else min(k, (-base + d - 1) // d)
        k1 = 0 if n_in - base <= 0 else min(k, (n_in - base + d - 1) // d)
        if k1 < k0:
            k1 = k0
        if count > 0 and spans[count - 1].k0 == k0 and spans[count - 1].k1 == k1:
            spans[count - 1].stop = o + 1
        else:
            spans[count].start = o
            spans[count].stop = o + 1
            spans[count].k0 = k0
            spans[count].k1 = k1
            count += 1
    return count


cdef struct Plan:
    const void* x
    void* out
    const void* wp             # weights: the HWIO filters, or a zero-padded copy [g][cb][ky][kx][ci][vb]
    bint packed
    Py_ssize_t w_ci_stride     # elements from one in-channel's weights to the next's
    Py_ssize_t height, width, c_in, h_out, w_out, c_out, n_batch
    Py_ssize_t kh, kw, c_group, c_out_group, sh, sw, dil_h, dil_w, top, left
    Py_ssize_t n_cb, vb, v, p, isa, choice
    Py_ssize_t taps, group         # taps per pass (0: all) and blocks per group (cache blocking)
    Span* rows
    Span* cols
    Py_ssize_t n_cols
    Py_ssize_t n_pairs
    Py_ssize_t* pair_first     # first block of each (row span, column span) pair; [n_pairs] = total
    Py_ssize_t n_blocks
    Py_ssize_t n_cobs          # channel blocks in all: groups * n_cb
    Py_ssize_t tile            # blocks of pixels per tile (the task order below)
    const void* bias           # the epilogue (conv_ukernel.h): (C_out,) added after the sum, or NULL
    bint relu                  # ... then max(., 0) as convops.nn's ReLU


# The most blocks of pixels one pass over a part of the taps visits (Plan.group).
cdef enum:
    _MAX_GROUP = 32

# Output pixels per tile when there are several channel blocks (the task order in _tasks).
cdef enum:
    _TILE_PIXELS = 256

# The longest reduction (taps x input channels per group) run a row of blocks per call. A short
# reduction pays per block about as much in set-up (the pointers, the call, the window's first
# tap) as in multiply-adds: one call per row made a first layer (9 per output) 1.3x faster, 27
# 1.15x, 144 1.04x; at 288 (3x3x32) the per-block calls were as fast or 1-3% faster (AMD EPYC
# Zen 3, AVX2, one thread). Blocks one AVX-512 vector wide run a row per call at any length: a
# run's pixels are evenly spaced and addressed from a few registers (conv_ukernel.h's even_pixel)
# instead of a pointer each, up to 16 of them (9x9 filters, 16 channels: with the tuner's 16
# pixels the call took 13.4-15.1 ms at best where it took 16.2-18.2, Emerald Rapids, 1 thread).
cdef enum:
    _RUN_MAX_REDUCTION = 160


cdef inline Py_ssize_t _out_row(const Plan* plan, const Span* rs, const Span* cs, Py_ssize_t n, Py_ssize_t r,
                                Py_ssize_t out_offset) noexcept nogil:
    # Where the output of pixel (n, rs.start + r, cs.start) starts, in elements.
    return ((n * plan.h_out + rs.start + r) * plan.w_out + cs.start) * plan.c_out + out_offset


cdef inline Py_ssize_t _x_row(const Plan* plan, const Span* rs, const Span* cs, Py_ssize_t n, Py_ssize_t r,
                              Py_ssize_t iy0, Py_ssize_t ix0, Py_ssize_t g) noexcept nogil:
    # Where the window of pixel (n, rs.start + r, cs.start) starts in x (its first kept tap), in
    # elements: an integer, made a pointer only for windows with a real tap (see _tasks).
    return ((n * plan.height + (rs.start + r) * plan.sh + iy0) * plan.width + cs.start * plan.sw + ix0) * plan.c_in \
        + g * plan.c_group


# Size: one task loop walks blocks, spans and tap passes with every pointer kept in registers; split
# into helpers it would recompute the decoded position per block (the cost this loop avoids).
cdef void _tasks(const Plan* plan, Py_ssize_t begin, Py_ssize_t end, floating dummy) noexcept nogil:
    # Tasks [begin, end): task i is block b of P pixels x channel block cob, in tiles of plan.tile
    # blocks: tile t = tasks [t * n_cobs * tile, ...) runs its blocks for channel block 0, then 1,
    # ..., so that the input of a tile's pixels is read from cache by every channel block, instead
    # of from memory once per channel block (64x11x11x64->128: two channel blocks, each streaming
    # the 2 MB input). Only the last tile is shorter. Consecutive blocks of one (row span, column
    # span) pair share their window and filters, and their pixels follow each other: decode the
    # first pixel once, then step.
    cdef Py_ssize_t i = begin, last, tile, cob, b, b0, n_tile, g, cb, lo, hi, mid, pair, j, n_pixels
    cdef Py_ssize_t n_rows, n_cols, n, r, c, p, _block
    cdef const Span* rs
    cdef const Span* cs
    cdef const floating* xs[16 * _MAX_GROUP]
    cdef floating* outs[16 * _MAX_GROUP]
    cdef floating scratch[64]
    cdef Py_ssize_t n_taps, per_pass, group, n_group, k, q, t0, t1, n_run
    cdef const floating* x = <const floating*>plan.x
    cdef floating* out = <floating*>plan.out
    cdef const floating* w
    cdef Py_ssize_t n_lanes, out_offset, iy0, ix0, row_stride = plan.dil_h * plan.width * plan.c_in
    cdef Py_ssize_t x_step = plan.sw * plan.c_in
    cdef floating* op
    cdef Py_ssize_t xo
    cdef bint taps, last_pass
    cdef const floating* bias                  # this channel block's bias, or NULL
    while i < end:
        tile = i // (plan.n_cobs * plan.tile)   # the tile, its first block and its length
        b0 = tile * plan.tile
        n_tile = min(plan.tile, plan.n_blocks - b0)
        cob = (i - tile * plan.n_cobs * plan.tile) // n_tile
        b = b0 + (i - tile * plan.n_cobs * plan.tile) - cob * n_tile
        g = cob // plan.n_cb
        cb = cob - g * plan.n_cb
        lo, hi = 0, plan.n_pairs
        while hi - lo > 1:                      # the pair block b belongs to
            mid = (lo + hi) // 2
            if plan.pair_first[mid] <= b:
                lo = mid
            else:
                hi = mid
        pair = lo
        last = min(end, i + min(b0 + n_tile, plan.pair_first[pair + 1]) - b)
        rs = &plan.rows[pair // plan.n_cols]
        cs = &plan.cols[pair % plan.n_cols]
        n_rows, n_cols = rs.stop - rs.start, cs.stop - cs.start
        n_pixels = plan.n_batch * n_rows * n_cols
        taps = rs.k1 > rs.k0 and cs.k1 > cs.k0
        n_lanes = min(plan.vb, plan.c_out_group - cb * plan.vb)
        out_offset = g * plan.c_out_group + cb * plan.vb
        bias = (<const floating*>plan.bias) + out_offset if plan.bias != NULL else NULL
        iy0 = rs.k0 * plan.dil_h - plan.top
        ix0 = cs.k0 * plan.dil_w - plan.left
        if plan.packed:
            w = (<const floating*>plan.wp) + cob * plan.kh * plan.kw * plan.c_group * plan.vb
        else:
            w = (<const floating*>plan.wp) + out_offset
        w += (rs.k0 * plan.kw + cs.k0) * plan.c_group * plan.w_ci_stride
        # Pixel j of the pair is (n, rs.start + r, cs.start + c), j = (n * n_rows + r) * n_cols + c.
        j = (b - plan.pair_first[pair]) * plan.p
        n = j // (n_rows * n_cols)
        r = (j - n * n_rows * n_cols) // n_cols
        c = j - (n * n_rows + r) * n_cols
        # Pointers of the current pixel; along a row they advance by constant steps.
        op = out + _out_row(plan, rs, cs, n, r, out_offset) + c * plan.c_out
        # The input offset is kept as an integer and made a pointer only for pixels whose window
        # has a real tap: for a window wholly in the padding (no taps) the offset may lie far
        # outside the array (a padding of 2**60), and forming such a pointer is undefined behaviour.
        xo = _x_row(plan, rs, cs, n, r, iy0, ix0, g) + c * x_step
        # Groups of up to plan.group blocks; each group's taps run in passes of plan.taps taps
        # (all of them when plan.taps is 0): the weights of one pass stay in cache for every
        # block of the group, and each pass resumes the sums the previous one stored.
        n_taps = (rs.k1 - rs.k0) * (cs.k1 - cs.k0)
        per_pass = n_taps if plan.taps == 0 or plan.taps >= n_taps else plan.taps
        group = 1 if per_pass == n_taps else plan.group
        while i < last:
            if per_pass == n_taps and taps and j < n_pixels and (
                    n_taps * plan.c_group <= _RUN_MAX_REDUCTION or (plan.v == 1 and plan.isa == CONVOPS_ISA_AVX512)):
                # Whole blocks left in this output row: one call runs them, computing their pixels'
                # pointers itself (the same multiply-adds as one call per block below).
                n_run = min((n_cols - c) // plan.p, last - i)
                if n_run >= 2:
                    if floating is float:
                        convops_runs_f32[plan.isa](<int>plan.v, <int>plan.choice, x + xo, op, x_step, plan.c_out,
                                                   n_run, w, 0, n_taps, cs.k1 - cs.k0, plan.c_group, row_stride,
                                                   plan.dil_w * plan.c_in, plan.kw, plan.w_ci_stride, n_lanes,
                                                   <const float*>bias, plan.relu)
                    else:
                        convops_runs_f64[plan.isa](<int>plan.v, <int>plan.choice, x + xo, op, x_step, plan.c_out,
                                                   n_run, w, 0, n_taps, cs.k1 - cs.k0, plan.c_group, row_stride,
                                                   plan.dil_w * plan.c_in, plan.kw, plan.w_ci_stride, n_lanes,
                                                   <const double*>bias, plan.relu)
                    i += n_run
                    j += n_run * plan.p
                    c += n_run * plan.p
                    if c < n_cols:
                        op += n_run * plan.p * plan.c_out
                        xo += n_run * plan.p * x_step
                    else:
                        c = 0
                        r += 1
                        if r == n_rows:
                            r = 0
                            n += 1
                        op = out + _out_row(plan, rs, cs, n, r, out_offset)
                        xo = _x_row(plan, rs, cs, n, r, iy0, ix0, g)
                    continue
            n_group = min(group, last - i)
            for k in range(n_group):
                for p in range(plan.p):
                    q = k * 16 + p
                    if j < n_pixels:
                        outs[q] = op
                        xs[q] = x + xo if taps else x
                        j += 1
                        c += 1
                        if c < n_cols:
                            op += plan.c_out
                            xo += x_step
                        else:
                            c = 0
                            r += 1
                            if r == n_rows:
                                r = 0
                                n += 1
                            op = out + _out_row(plan, rs, cs, n, r, out_offset)
                            xo = _x_row(plan, rs, cs, n, r, iy0, ix0, g)
                    else:                       # past the pair's last pixel: compute a copy, drop it
                        xs[q] = xs[k * 16]
                        outs[q] = scratch
            t0 = 0
            while True:
                t1 = min(n_taps, t0 + per_pass)
                last_pass = t1 >= n_taps        # the epilogue's pass
                for k in range(n_group):
                    if floating is float:
                        convops_ukernels_f32[plan.isa](<int>plan.v, <int>plan.choice, &xs[k * 16], &outs[k * 16], w,
                                                       t0, t1, cs.k1 - cs.k0, plan.c_group, row_stride,
                                                       plan.dil_w * plan.c_in, plan.kw, plan.w_ci_stride, n_lanes,
                                                       <const float*>bias if last_pass else NULL,
                                                       plan.relu and last_pass)
                    else:
                        convops_ukernels_f64[plan.isa](<int>plan.v, <int>plan.choice, &xs[k * 16], &outs[k * 16], w,
                                                       t0, t1, cs.k1 - cs.k0, plan.c_group, row_stride,
                                                       plan.dil_w * plan.c_in, plan.kw, plan.w_ci_stride, n_lanes,
                                                       <const double*>bias if last_pass else NULL,
                                                       plan.relu and last_pass)
                t0 = t1
                if t0 >= n_taps:
                    break
            i += n_group


cdef void _pack_filters(const floating* w, floating* packed, const Plan* plan, Py_ssize_t groups) noexcept nogil:
    # The HWIO filters as [g][cb][ky][kx][ci][vb]: each block of output channels padded with zeros
    # to whole vectors, so that the micro-kernel never reads past a group's channels.
    cdef Py_ssize_t i = 0, g, cb, tap, co
    for g in range(groups):
        for cb in range(plan.n_cb):
            co = min(plan.vb, plan.c_out_group - cb * plan.vb)     # real channels here
            for tap in range(plan.kh * plan.kw * plan.c_group):
                memcpy(packed + i, w + tap * plan.c_out + g * plan.c_out_group + cb * plan.vb, co * sizeof(floating))
                memset(packed + i + co, 0, (plan.vb - co) * sizeof(floating))
                i += plan.vb


# The blocking chooser of calls that arrive without one (fastpath.pyx's): convops/_autotune.py
# installs it through set_blocking_hook, and it is asked only about calls of at least
# _hook_min_flops (smaller ones run the default blocking, with no Python call).
cdef object _blocking_hook = None
cdef double _hook_min_flops = 0


def set_blocking_hook(hook, double min_flops):
    """Install `hook(itemsize, isa, c_group, c_out_group, kh, kw, stride1, flops, h_out, w_out) ->
    (max_vectors, pixel_choice, taps_per_pass, group_blocks)` (conv2d_direct's blocking arguments),
    asked for the blocking of fast-path calls of at least `min_flops`; None removes it."""
    global _blocking_hook, _hook_min_flops
    _blocking_hook, _hook_min_flops = hook, min_flops


# Output pixels from which packing the filters per block of channels pays for its copy (it reads
# and writes the filters once; every pixel does kh*kw*C_in/groups multiply-adds per channel).
cdef Py_ssize_t _PACK_MIN_PIXELS = 64


cdef int _direct(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width, Py_ssize_t c_in,
                 const floating* w, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t c_group, Py_ssize_t c_out,
                 floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh, Py_ssize_t sw,
                 Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                 int isa, int num_threads) except -1:
    # conv2d_direct on raw C-contiguous buffers (fastpath.pyx calls it): the blocking the hook
    # chooses for large calls, the default for the rest.
    cdef int max_vectors = 4, pixel_choice = 0, taps = 0, group = 1
    cdef double flops = 2.0 * n_batch * h_out * w_out * c_out * kh * kw * c_group
    if _blocking_hook is not None and flops >= _hook_min_flops:
        max_vectors, pixel_choice, taps, group = _blocking_hook(sizeof(floating), isa, c_group, c_out // groups,
                                                                kh, kw, sh == 1 and sw == 1, flops, h_out, w_out)
    return _direct_blocked(x, n_batch, height, width, c_in, w, kh, kw, c_group, c_out, out, h_out, w_out, sh, sw,
                           dil_h, dil_w, pad_top, pad_left, groups, isa, num_threads, max_vectors, pixel_choice,
                           taps, group, NULL, False)


cdef int _direct_blocked(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width,
                         Py_ssize_t c_in, const floating* w, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t c_group,
                         Py_ssize_t c_out, floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh,
                         Py_ssize_t sw, Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left,
                         Py_ssize_t groups, int isa, int num_threads, int max_vectors, int pixel_choice,
                         int taps, int group, const floating* bias, bint relu) except -1:
    # One call of conv2d_direct. The blocking (max_vectors, pixel_choice) changes which output
    # elements are computed together, never the order of any element's sum: any blocking gives
    # the same bits (tests/test_autotune.py forces each one).
    cdef Plan plan
    cdef Py_ssize_t lanes, vectors, i, n_tasks, n_row_spans, r, c, total, chunk
    cdef floating* packed
    cdef int threads
    cdef void* raw = NULL
    cdef void* spans_raw = NULL
    cdef void* pairs_raw = NULL
    plan.isa = isa
    plan.n_batch, plan.height, plan.width, plan.c_in = n_batch, height, width, c_in
    plan.kh, plan.kw, plan.c_group, plan.c_out = kh, kw, c_group, c_out
    plan.h_out, plan.w_out = h_out, w_out
    plan.c_out_group = c_out // groups
    plan.sh, plan.sw, plan.dil_h, plan.dil_w, plan.top, plan.left = sh, sw, dil_h, dil_w, pad_top, pad_left
    plan.bias, plan.relu = bias, relu
    lanes = convops_simd_lanes(<int>plan.isa, sizeof(floating))
    vectors = (plan.c_out_group + lanes - 1) // lanes
    plan.n_cb = (vectors + max_vectors - 1) // max_vectors   # blocks of at most max_vectors, as even as possible
    plan.v = (vectors + plan.n_cb - 1) // plan.n_cb
    plan.vb = plan.v * lanes
    plan.choice = pixel_choice
    plan.taps, plan.group = max(taps, 0), min(max(group, 1), <int>_MAX_GROUP)
    plan.p = convops_simd_pixels(<int>plan.isa, <int>plan.v, pixel_choice)
    plan.x, plan.out = x, out
    try:
        spans_raw = malloc((h_out + w_out) * sizeof(Span))
        if spans_raw == NULL:
            raise MemoryError("conv2d: could not allocate the block table")
        plan.rows = <Span*>spans_raw
        plan.cols = plan.rows + h_out
        n_row_spans = _spans(h_out, height, kh, sh, dil_h, pad_top, plan.rows)
        plan.n_cols = _spans(w_out, width, kw, sw, dil_w, pad_left, plan.cols)
        # The micro-kernel reads V whole vectors of channels per block from a copy of the filters
        # [g][cb][ky][kx][ci][vb] (missing channels zeros) when C_out/groups is not a multiple of
        # the block, or when a block is not the whole row of C_out and enough pixels will reuse
        # the copy: a block reading a part of each row of the HWIO filters touches lines it does
        # not use. (AVX2, 1 core of a busy Zen 4, 4x56x56x64 VALID: 32 output channels, one block
        # per row, 108-110 GFLOP/s; 64 channels in two blocks, 77-85 from the filters, up to 102
        # from the copy. Noisy: the machine ran ~10 other threads.) From the filters otherwise.
        plan.packed = plan.n_cb * plan.vb != plan.c_out_group or (
            plan.vb != c_out and n_batch * h_out * w_out >= _PACK_MIN_PIXELS)
        plan.wp = w
        plan.w_ci_stride = c_out
        if plan.packed:
            total = groups * plan.n_cb * kh * kw * c_group * plan.vb
            raw = malloc(total * sizeof(floating))
            if raw == NULL:
                raise MemoryError("conv2d: could not allocate the packed filters")
            packed = <floating*>raw
            plan.wp = packed
            plan.w_ci_stride = plan.vb
            with nogil:
                _pack_filters(w, packed, &plan, groups)
        plan.n_pairs = n_row_spans * plan.n_cols
        pairs_raw = malloc((plan.n_pairs + 1) * sizeof(Py_ssize_t))
        if pairs_raw == NULL:
            raise MemoryError("conv2d: could not allocate the block table")
        plan.pair_first = <Py_ssize_t*>pairs_raw
        with nogil:
            plan.pair_first[0] = 0
            for i in range(plan.n_pairs):
                r, c = i // plan.n_cols, i % plan.n_cols
                plan.pair_first[i + 1] = plan.pair_first[i] + (
                    n_batch * (plan.rows[r].stop - plan.rows[r].start) * (plan.cols[c].stop - plan.cols[c].start)
                    + plan.p - 1) // plan.p
            plan.n_blocks = plan.pair_first[plan.n_pairs]
            plan.n_cobs = groups * plan.n_cb
            n_tasks = plan.n_cobs * plan.n_blocks
            # One tile (every block of channel block 0, then of 1, ...) unless several channel
            # blocks read the same pixels; then ~_TILE_PIXELS pixels per tile: their input
            # (~64 KB at 64 channels) stays in L2 while each channel block runs over them.
            plan.tile = plan.n_blocks if plan.n_cobs == 1 else max(1, _TILE_PIXELS // plan.p)
        # Work in lane multiply-adds / 16: ~16 of them per scalar operation's time.
        threads = effective_threads(num_threads, n_tasks * plan.p * kh * kw * c_group * plan.vb // 16)
        with nogil:
            # Chunks of contiguous blocks (same filters, nearby pixels), claimed by whichever
            # thread is free (parallel.h: never waits for a helper that has no core).
            chunk = max(1, n_tasks // (threads * 16))
            if floating is float:
                parallel_for(_direct_chunk_f32, &plan, n_tasks, chunk, threads)
            else:
                parallel_for(_direct_chunk_f64, &plan, n_tasks, chunk, threads)
    finally:
        free(raw)
        free(spans_raw)
        free(pairs_raw)
    return 0


def conv2d_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w, floating[:, :, :, ::1] out,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h, Py_ssize_t dil_w,
                  Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups, int isa, int num_threads,
                  int max_vectors=4, int pixel_choice=0, int taps_per_pass=0, int group_blocks=1,
                  const floating[::1] bias=None, bint relu=False):
    """Register-blocked direct cross-correlation (see the comment above), in instruction set
    `isa` (an index into simd.ISA_NAMES that this CPU runs). The filters must be finite if any
    window reaches the padding (the caller chooses conv2d_gemm otherwise).

    Blocking (convops/_autotune.py chooses it; the result does not depend on it): blocks of at
    most `max_vectors` (1..4) SIMD vectors of output channels, split as evenly as possible, times
    P output pixels, P from src/conv_simd.h's first table (`pixel_choice` 0) or second (1); and
    cache blocking over taps: with `taps_per_pass` > 0, groups of `group_blocks` (1..32) blocks run
    that many taps (in ky, kx order) at a time, so that those taps' weights stay in cache for the
    whole group, each pass resuming the sums the previous one stored (0: all taps in one pass).

    x: (N, H, W, C_in), w: (KH, KW, C_in/groups, C_out), out: (N, H_out, W_out, C_out), non-empty.
    `bias` ((C_out,), or None) and `relu`: a Keras Conv2D's bias and ReLU applied to each sum as it
    is stored (out = max(sum + bias, 0)), bit for bit what nn.bias_act_forward does to the stored
    output: the layer's output is written once instead of twice.
    """
    cdef const floating* bias_ptr = NULL
    if bias is not None:
        if bias.shape[0] != w.shape[3]:
            raise ValueError(f"conv2d_direct: `bias` must hold C_out = {w.shape[3]} values; got {bias.shape[0]}")
        bias_ptr = &bias[0]
    if not 1 <= max_vectors <= 4 or pixel_choice not in (0, 1):
        raise ValueError(f"conv2d_direct: `max_vectors` must be 1..4 and `pixel_choice` 0 or 1; "
                         f"got {max_vectors}, {pixel_choice}")
    if taps_per_pass < 0 or not 1 <= group_blocks <= _MAX_GROUP:
        raise ValueError(f"conv2d_direct: `taps_per_pass` must be >= 0 and `group_blocks` 1..{_MAX_GROUP}; "
                         f"got {taps_per_pass}, {group_blocks}")
    return _direct_blocked(&x[0, 0, 0, 0], x.shape[0], x.shape[1], x.shape[2], x.shape[3], &w[0, 0, 0, 0],
                           w.shape[0], w.shape[1], w.shape[2], w.shape[3], &out[0, 0, 0, 0], out.shape[1],
                           out.shape[2], sh, sw, dil_h, dil_w, pad_top, pad_left, groups, isa, num_threads,
                           max_vectors, pixel_choice, taps_per_pass, group_blocks, bias_ptr, relu)


cdef int _image(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width, const floating* w,
                Py_ssize_t kh, Py_ssize_t kw, floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh,
                Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left, int isa,
                int num_threads) noexcept:
    # conv2d_image on raw C-contiguous buffers (fastpath.pyx calls it too).
    cdef Py_ssize_t rows = n_batch * h_out
    cdef int threads = effective_threads(num_threads, rows * w_out * kh * kw // 16)
    cdef ImagePlan plan
    plan.x, plan.out, plan.w = x, out, w
    plan.height, plan.width, plan.h_out, plan.w_out, plan.kh, plan.kw = height, width, h_out, w_out, kh, kw
    plan.sh, plan.dil_h, plan.dil_w, plan.top, plan.left, plan.isa = sh, dil_h, dil_w, pad_top, pad_left, isa
    with nogil:
        if floating is float:
            parallel_for(_image_chunk_f32, &plan, rows, max(1, rows // (threads * 16)), threads)
        else:
            parallel_for(_image_chunk_f64, &plan, rows, max(1, rows // (threads * 16)), threads)
    return 0


cdef struct ImagePlan:
    const void* x
    void* out
    const void* w
    Py_ssize_t height, width, h_out, w_out, kh, kw, sh, dil_h, dil_w, top, left
    int isa


cdef void _image_chunk_f32(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef ImagePlan* p = <ImagePlan*>ctx
    convops_images_f32[p.isa](<const float*>p.x, <float*>p.out, <const float*>p.w, p.height, p.width, p.h_out,
                              p.w_out, p.kh, p.kw, p.sh, p.dil_h, p.dil_w, p.top, p.left, r0, r1)


cdef void _image_chunk_f64(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef ImagePlan* p = <ImagePlan*>ctx
    convops_images_f64[p.isa](<const double*>p.x, <double*>p.out, <const double*>p.w, p.height, p.width, p.h_out,
                              p.w_out, p.kh, p.kw, p.sh, p.dil_h, p.dil_w, p.top, p.left, r0, r1)


cdef void _direct_chunk_f32(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    _tasks(<const Plan*>ctx, begin, end, <float>0)


cdef void _direct_chunk_f64(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    _tasks(<const Plan*>ctx, begin, end, <double>0)


def conv2d_image(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w, floating[:, :, :, ::1] out,
                 Py_ssize_t sh, Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left,
                 int isa, int num_threads):
    """One-channel images (C_in = C_out = 1) with horizontal stride 1: each tap is an axpy along
    an output row, vectorised over pixels (a channel-vectorised block would use 1 lane of L).
    Finite filters where a window reaches the padding, as conv2d_direct.
    x: (N, H, W, 1), w: (KH, KW, 1, 1), out: (N, H_out, W_out, 1), non-empty."""
    return _image(&x[0, 0, 0, 0], x.shape[0], x.shape[1], x.shape[2], &w[0, 0, 0, 0], w.shape[0], w.shape[1],
                  &out[0, 0, 0, 0], out.shape[1], out.shape[2], sh, dil_h, dil_w, pad_top, pad_left, isa, num_threads)
