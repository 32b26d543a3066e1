# Convolution kernels. Private: the public layer (convops/conv.py) has validated every argument,
# resolved the padding to explicit integers, made the arrays C-contiguous and allocated `out`.
# These functions trust their inputs, hold no Python objects in their loops and release the GIL.
# (The im2col + BLAS kernel lives in _conv_gemm.pyx: it needs scipy.linalg, ~0.15-0.4 s to import,
# which the first conv2d call should not pay.)
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from convops._kernels.parallel cimport effective_threads, parallel_for
from convops._kernels.common cimport floating

cdef struct IntPlan:
    const int* x
    const int* w
    int* out
    Py_ssize_t height, width, c_in, kh, kw, c_group, c_out, h_out, w_out, sh, sw, dh, dw, top, left, groups


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
                iy = oy * p.sh - p.top + ky * p.dh
                if iy < 0 or iy >= p.height:
                    continue
                for kx in range(p.kw):
                    ix = ox * p.sw - p.left + kx * p.dw
                    if ix < 0 or ix >= p.width:
                        continue
                    for g in range(p.groups):
                        for ci in range(p.c_group):
                            value = p.x[((n * p.height + iy) * p.width + ix) * p.c_in + g * p.c_group + ci]
                            w_row = p.w + ((ky * p.kw + kx) * p.c_group + ci) * p.c_out + g * c_out_group
                            for o in range(c_out_group):
                                acc[g * c_out_group + o] += value * w_row[o]


def conv2d_direct_int32(const int[:, :, :, ::1] x, const int[:, :, :, ::1] w, int[:, :, :, ::1] out,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
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
    p.h_out, p.w_out, p.sh, p.sw, p.dh, p.dw = out.shape[1], out.shape[2], sh, sw, dh, dw
    p.top, p.left, p.groups = pad_top, pad_left, groups
    with nogil:
        parallel_for(_int32_rows, &p, rows, max(1, rows // (threads * 16)), threads)


# ---------------------------------------------------------------------------------------------
# The readable kernel: the definition of conv2d as seven nested loops, compiled. It is the step
# between the NumPy reference and the fast kernels below (the docs' "naive to Cython" page) and a
# second oracle in tests. Serial, no blocking, no SIMD: ~1-2 GFLOP/s.

def conv2d_naive(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w, floating[:, :, :, ::1] out,
                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                 Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups):
    """out[n, oy, ox, o] = sum over ky, kx, c of x[n, iy, ix, g*C_g + c] * w[ky, kx, c, o],
    iy = oy*sh - pad_top + ky*dh, ix = ox*sw - pad_left + kx*dw, taps outside the image skipped
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
                            iy = oy * sh - pad_top + ky * dh
                            if iy < 0 or iy >= height:
                                continue
                            for kx in range(kw):
                                ix = ox * sw - pad_left + kx * dw
                                if ix < 0 or ix >= width:
                                    continue
                                for c in range(c_group):
                                    total = total + x[n, iy, ix, g * c_group + c] * w[ky, kx, c, o]
                        out[n, oy, ox, o] = total


# ---------------------------------------------------------------------------------------------
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
# non-finite filters (0 * inf = NaN), which the caller sends to conv2d_gemm instead.


cdef extern from "conv_simd.h" nogil:
    int CONVOPS_ISA_BASE
    int CONVOPS_ISA_AVX2
    int CONVOPS_ISA_AVX512
    int CONVOPS_SIMD_AVAILABLE
    int convops_simd_supported(int isa)
    ptrdiff_t convops_simd_lanes(int isa, ptrdiff_t itemsize)
    int convops_simd_pixels(int isa, int v)
    ctypedef void (*convops_ukernel_f32)(int, const float* const*, float* const*, const float*, ptrdiff_t,
                                         ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                         ptrdiff_t) noexcept nogil
    ctypedef void (*convops_ukernel_f64)(int, const double* const*, double* const*, const double*, ptrdiff_t,
                                         ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                         ptrdiff_t) noexcept nogil
    ctypedef void (*convops_image_f32)(const float*, float*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    ctypedef void (*convops_image_f64)(const double*, double*, const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                       ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    convops_ukernel_f32 convops_ukernels_f32[3]
    convops_ukernel_f64 convops_ukernels_f64[3]
    convops_image_f32 convops_images_f32[3]
    convops_image_f64 convops_images_f64[3]

ISA_NAMES = ("base", "avx2", "avx512")
cdef int _isa = -1


def supported_isas():
    """The instruction sets this build has and this CPU runs, narrowest first."""
    return tuple(name for i, name in enumerate(ISA_NAMES) if convops_simd_supported(i))


def get_isa():
    """The instruction set the direct kernels use now (the widest supported, unless set_isa)."""
    global _isa
    if _isa < 0:
        names = supported_isas()
        # (wraparound is off in this module: no negative indexing, even of tuples)
        _isa = ISA_NAMES.index(names[len(names) - 1]) if names else 0
    return ISA_NAMES[_isa]


def set_isa(name):
    """Force an instruction set (tests use this to run every variant); None = the widest."""
    global _isa
    if name is None:
        _isa = -1
        get_isa()
        return
    if name not in ISA_NAMES or not convops_simd_supported(ISA_NAMES.index(name)):
        raise ValueError(f"instruction set {name!r} is not available here; choose from {supported_isas()}")
    _isa = ISA_NAMES.index(name)


def cpu_features():
    """What the direct kernels can use here (reported by the benchmark)."""
    return {"simd_build": bool(CONVOPS_SIMD_AVAILABLE), "supported": list(supported_isas()), "in_use": get_isa()}


def block_shape(Py_ssize_t itemsize, Py_ssize_t c_out_group):
    """(V, P, lanes): vectors of output channels per block, pixels per block, lanes per vector,
    as conv2d_direct chooses them for this dtype size and group width."""
    cdef int isa = ISA_NAMES.index(get_isa())
    cdef Py_ssize_t lanes = convops_simd_lanes(isa, itemsize)
    cdef Py_ssize_t vectors = (c_out_group + lanes - 1) // lanes
    cdef Py_ssize_t n_blocks = (vectors + 3) // 4
    cdef int v = <int>((vectors + n_blocks - 1) // n_blocks)
    return v, convops_simd_pixels(isa, v), lanes


cdef int _threads(int requested, Py_ssize_t work) except -1:
    # The thread count for `work`; requested <= 0 means "convops' default", looked up only when
    # the work is big enough to run in parallel at all: the lookup (os.environ) costs ~0.5 us,
    # half of a small call's whole fixed cost.
    if effective_threads(2, work) == 1:
        return 1
    if requested > 0:
        return requested
    from convops._threads import get_num_threads
    return get_num_threads()


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
    Py_ssize_t kh, kw, c_group, c_out_group, sh, sw, dh, dw, top, left
    Py_ssize_t n_cb, vb, v, p, isa
    Span* rows
    Span* cols
    Py_ssize_t n_cols
    Py_ssize_t n_pairs
    Py_ssize_t* pair_first     # first block of each (row span, column span) pair; [n_pairs] = total
    Py_ssize_t n_blocks


cdef void _tasks(const Plan* plan, Py_ssize_t begin, Py_ssize_t end, floating dummy) noexcept nogil:
    # Tasks [begin, end): task i is block b of P pixels x channel block cob, i = cob * n_blocks + b.
    # Consecutive blocks of one (row span, column span) pair share their window and filters, and
    # their pixels follow each other: decode the first pixel once, then step.
    cdef Py_ssize_t i = begin, last, cob, b, g, cb, lo, hi, mid, pair, j, n_pixels, n_rows, n_cols, n, r, c, p, t
    cdef const Span* rs
    cdef const Span* cs
    cdef const floating* xs[12]
    cdef floating* outs[12]
    cdef floating scratch[64]
    cdef const floating* x = <const floating*>plan.x
    cdef floating* out = <floating*>plan.out
    cdef const floating* w
    cdef Py_ssize_t n_lanes, out_offset, iy0, ix0, row_stride = plan.dh * plan.width * plan.c_in
    cdef Py_ssize_t x_step = plan.sw * plan.c_in
    cdef floating* op
    cdef const floating* xp
    cdef bint taps
    while i < end:
        cob = i // plan.n_blocks
        b = i - cob * plan.n_blocks
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
        last = min(end, cob * plan.n_blocks + plan.pair_first[pair + 1])
        rs = &plan.rows[pair // plan.n_cols]
        cs = &plan.cols[pair % plan.n_cols]
        n_rows, n_cols = rs.stop - rs.start, cs.stop - cs.start
        n_pixels = plan.n_batch * n_rows * n_cols
        taps = rs.k1 > rs.k0 and cs.k1 > cs.k0
        n_lanes = min(plan.vb, plan.c_out_group - cb * plan.vb)
        out_offset = g * plan.c_out_group + cb * plan.vb
        iy0 = rs.k0 * plan.dh - plan.top
        ix0 = cs.k0 * plan.dw - plan.left
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
        op = out + ((n * plan.h_out + rs.start + r) * plan.w_out + cs.start + c) * plan.c_out + out_offset
        xp = x + ((n * plan.height + (rs.start + r) * plan.sh + iy0) * plan.width
                  + (cs.start + c) * plan.sw + ix0) * plan.c_in + g * plan.c_group
        for t in range(i, last):
            for p in range(plan.p):
                if j < n_pixels:
                    outs[p] = op
                    xs[p] = xp if taps else x
                    j += 1
                    c += 1
                    if c < n_cols:
                        op += plan.c_out
                        xp += x_step
                    else:
                        c = 0
                        r += 1
                        if r == n_rows:
                            r = 0
                            n += 1
                        op = out + ((n * plan.h_out + rs.start + r) * plan.w_out + cs.start) * plan.c_out + out_offset
                        xp = x + ((n * plan.height + (rs.start + r) * plan.sh + iy0) * plan.width
                                  + cs.start * plan.sw + ix0) * plan.c_in + g * plan.c_group
                else:                           # past the pair's last pixel: compute a copy, drop it
                    xs[p] = xs[0]
                    outs[p] = scratch
            if floating is float:
                convops_ukernels_f32[plan.isa](<int>plan.v, xs, outs, w, rs.k1 - rs.k0, cs.k1 - cs.k0,
                                               plan.c_group, row_stride, plan.dw * plan.c_in, plan.kw,
                                               plan.w_ci_stride, n_lanes)
            else:
                convops_ukernels_f64[plan.isa](<int>plan.v, xs, outs, w, rs.k1 - rs.k0, cs.k1 - cs.k0,
                                               plan.c_group, row_stride, plan.dw * plan.c_in, plan.kw,
                                               plan.w_ci_stride, n_lanes)
        i = last


cdef int _direct(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width, Py_ssize_t c_in,
                 const floating* w, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t c_group, Py_ssize_t c_out,
                 floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh, Py_ssize_t sw,
                 Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                 int num_threads) except -1:
    # conv2d_direct on raw C-contiguous buffers: 1 = done, 0 = declined (non-finite filters with
    # padding in use; nothing written).
    cdef Plan plan
    cdef Py_ssize_t lanes, vectors, i, g, cb, ky, co, n_tasks, n_row_spans, r, c, total, chunk
    cdef floating* packed
    cdef bint finite = True, clipped = False
    cdef int threads
    cdef void* raw = NULL
    cdef void* spans_raw = NULL
    cdef void* pairs_raw = NULL
    plan.isa = _isa if _isa >= 0 else ISA_NAMES.index(get_isa())
    plan.n_batch, plan.height, plan.width, plan.c_in = n_batch, height, width, c_in
    plan.kh, plan.kw, plan.c_group, plan.c_out = kh, kw, c_group, c_out
    plan.h_out, plan.w_out = h_out, w_out
    plan.c_out_group = c_out // groups
    plan.sh, plan.sw, plan.dh, plan.dw, plan.top, plan.left = sh, sw, dh, dw, pad_top, pad_left
    lanes = convops_simd_lanes(<int>plan.isa, sizeof(floating))
    vectors = (plan.c_out_group + lanes - 1) // lanes
    plan.n_cb = (vectors + 3) // 4             # blocks of at most 4 vectors, as even as possible
    plan.v = (vectors + plan.n_cb - 1) // plan.n_cb
    plan.vb = plan.v * lanes
    plan.p = convops_simd_pixels(<int>plan.isa, <int>plan.v)
    plan.x, plan.out = x, out
    try:
        spans_raw = malloc((h_out + w_out) * sizeof(Span))
        if spans_raw == NULL:
            raise MemoryError("conv2d: could not allocate the block table")
        plan.rows = <Span*>spans_raw
        plan.cols = plan.rows + h_out
        n_row_spans = _spans(h_out, height, kh, sh, dh, pad_top, plan.rows)
        plan.n_cols = _spans(w_out, width, kw, sw, dw, pad_left, plan.cols)
        for r in range(n_row_spans):
            clipped = clipped or plan.rows[r].k0 > 0 or plan.rows[r].k1 < kh
        for c in range(plan.n_cols):
            clipped = clipped or plan.cols[c].k0 > 0 or plan.cols[c].k1 < kw
        if clipped:
            # Skipping padded taps equals adding 0 * w only for finite w (see the comment above).
            with nogil:
                for i in range(kh * kw * c_group * c_out):
                    if w[i] - w[i] != 0:        # inf or NaN
                        finite = False
                        break
            if not finite:
                return 0
        # The micro-kernel reads V whole vectors of channels per block straight from the HWIO
        # filters when every block is full; otherwise (C_out/groups not a multiple of the block)
        # from a copy [g][cb][ky][kx][ci][vb] whose missing channels are zeros.
        plan.packed = plan.n_cb * plan.vb != plan.c_out_group
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
                i = 0
                for g in range(groups):
                    for cb in range(plan.n_cb):
                        co = min(plan.vb, plan.c_out_group - cb * plan.vb)     # real channels here
                        for ky in range(kh * kw * c_group):
                            memcpy(packed + i, w + ky * c_out + g * plan.c_out_group + cb * plan.vb,
                                   co * sizeof(floating))
                            memset(packed + i + co, 0, (plan.vb - co) * sizeof(floating))
                            i += plan.vb
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
            n_tasks = groups * plan.n_cb * plan.n_blocks
        # Work in lane multiply-adds / 16: ~16 of them per scalar operation's time.
        threads = _threads(num_threads, n_tasks * plan.p * kh * kw * c_group * plan.vb // 16)
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
    return 1


def conv2d_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w, floating[:, :, :, ::1] out,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                  Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups, int num_threads):
    """Register-blocked direct cross-correlation (see the comment above). Returns False, having
    written nothing, when the filters hold inf/NaN and some window reaches into the padding (the
    caller then uses conv2d_gemm, which multiplies the padding's zeros as TensorFlow does).

    x: (N, H, W, C_in), w: (KH, KW, C_in/groups, C_out), out: (N, H_out, W_out, C_out), non-empty.
    """
    return _direct(&x[0, 0, 0, 0], x.shape[0], x.shape[1], x.shape[2], x.shape[3], &w[0, 0, 0, 0], w.shape[0],
                   w.shape[1], w.shape[2], w.shape[3], &out[0, 0, 0, 0], out.shape[1], out.shape[2], sh, sw, dh,
                   dw, pad_top, pad_left, groups, num_threads) == 1


cdef int _image(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width, const floating* w,
                Py_ssize_t kh, Py_ssize_t kw, floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh,
                Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pad_top, Py_ssize_t pad_left, int num_threads) noexcept:
    cdef Py_ssize_t rows = n_batch * h_out, r, i
    cdef int isa = _isa if _isa >= 0 else ISA_NAMES.index(get_isa())
    cdef int threads = _threads(num_threads, rows * w_out * kh * kw // 16)
    cdef bint clipped = (pad_top > 0 or pad_left > 0 or (h_out - 1) * sh - pad_top + (kh - 1) * dh >= height
                         or w_out - 1 - pad_left + (kw - 1) * dw >= width)
    if clipped:
        for i in range(kh * kw):
            if w[i] - w[i] != 0:                # inf or NaN: let conv2d_gemm do it
                return 0
    cdef ImagePlan plan
    plan.x, plan.out, plan.w = x, out, w
    plan.height, plan.width, plan.h_out, plan.w_out, plan.kh, plan.kw = height, width, h_out, w_out, kh, kw
    plan.sh, plan.dh, plan.dw, plan.top, plan.left, plan.isa = sh, dh, dw, pad_top, pad_left, isa
    with nogil:
        if floating is float:
            parallel_for(_image_chunk_f32, &plan, rows, max(1, rows // (threads * 16)), threads)
        else:
            parallel_for(_image_chunk_f64, &plan, rows, max(1, rows // (threads * 16)), threads)
    return 1


cdef struct ImagePlan:
    const void* x
    void* out
    const void* w
    Py_ssize_t height, width, h_out, w_out, kh, kw, sh, dh, dw, top, left
    int isa


cdef void _image_chunk_f32(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef ImagePlan* p = <ImagePlan*>ctx
    convops_images_f32[p.isa](<const float*>p.x, <float*>p.out, <const float*>p.w, p.height, p.width, p.h_out,
                              p.w_out, p.kh, p.kw, p.sh, p.dh, p.dw, p.top, p.left, r0, r1)


cdef void _image_chunk_f64(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef ImagePlan* p = <ImagePlan*>ctx
    convops_images_f64[p.isa](<const double*>p.x, <double*>p.out, <const double*>p.w, p.height, p.width, p.h_out,
                              p.w_out, p.kh, p.kw, p.sh, p.dh, p.dw, p.top, p.left, r0, r1)


cdef void _direct_chunk_f32(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    _tasks(<const Plan*>ctx, begin, end, <float>0)


cdef void _direct_chunk_f64(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    _tasks(<const Plan*>ctx, begin, end, <double>0)


def conv2d_image(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w, floating[:, :, :, ::1] out,
                 Py_ssize_t sh, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pad_top, Py_ssize_t pad_left,
                 int num_threads):
    """One-channel images (C_in = C_out = 1) with horizontal stride 1: each tap is an axpy along
    an output row, vectorised over pixels (a channel-vectorised block would use 1 lane of L).
    Returns False, having written nothing, for non-finite filters with padding (as conv2d_direct).
    x: (N, H, W, 1), w: (KH, KW, 1, 1), out: (N, H_out, W_out, 1), non-empty."""
    return _image(&x[0, 0, 0, 0], x.shape[0], x.shape[1], x.shape[2], &w[0, 0, 0, 0], w.shape[0], w.shape[1],
                  &out[0, 0, 0, 0], out.shape[1], out.shape[2], sh, dh, dw, pad_top, pad_left, num_threads) == 1


# ---------------------------------------------------------------------------------------------
# The fast path of convops.conv2d for its most common call: two float32/float64 NHWC ndarrays, an
# int stride, "VALID"/"SAME", no dilation, no groups. Its whole job is to skip the general
# argument handling (~6 us of Python) when there is nothing to handle: it accepts only arguments
# that the general path would accept unchanged and returns None for anything else — including
# everything that would raise — so every error still comes from the general path, word for word.

import numpy as np
cimport numpy as cnp
cnp.import_array()


cdef Py_ssize_t _stride_of(object strides) except -2:
    # An exact int or a list/tuple of 2 equal exact ints; -1 = not this fast path's business.
    cdef Py_ssize_t s
    if type(strides) is int:
        s = strides
    elif (type(strides) is tuple or type(strides) is list) and len(strides) == 2 \
            and type(strides[0]) is int and type(strides[1]) is int and strides[0] == strides[1]:
        s = strides[0]
    else:
        return -1
    return s if 1 <= s <= 65536 else -1


def conv2d_fast(input, filters, strides, padding, dilations, data_format, int num_threads):
    """``convops.conv2d(input, filters, strides, padding, dilations, data_format)`` for the plain
    case described above, or None (then nothing was done; the caller takes the general path).
    ``num_threads`` <= 0: convops' default, looked up only if the call is big enough to use it."""
    cdef cnp.ndarray x, w, out
    cdef Py_ssize_t n, height, width, c_in, kh, kw, c_out, h_out, w_out, s, total, top = 0, left = 0
    cdef cnp.npy_intp dims[4]
    cdef int typenum, done
    cdef bint same
    if type(input) is not np.ndarray or type(filters) is not np.ndarray:
        return None
    if not (type(dilations) is int and dilations == 1) or not (data_format == "NHWC" and type(data_format) is str):
        return None
    if type(padding) is not str:
        return None
    if padding == "VALID" or padding == "valid":
        same = False
    elif padding == "SAME" or padding == "same":
        same = True
    else:
        return None
    s = _stride_of(strides)
    if s < 0:
        return None
    x, w = input, filters
    typenum = cnp.PyArray_TYPE(x)
    if (cnp.PyArray_NDIM(x) != 4 or cnp.PyArray_NDIM(w) != 4 or cnp.PyArray_TYPE(w) != typenum
            or (typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64)
            or not cnp.PyArray_ISCARRAY_RO(x) or not cnp.PyArray_ISCARRAY_RO(w)
            or not cnp.PyArray_ISNOTSWAPPED(x) or not cnp.PyArray_ISNOTSWAPPED(w)):
        return None
    n, height, width, c_in = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    kh, kw, c_out = w.shape[0], w.shape[1], w.shape[3]
    if w.shape[2] != c_in or n < 1 or height < 1 or width < 1 or c_in < 1 or kh < 1 or kw < 1 or c_out < 1:
        return None
    if same:
        h_out, w_out = (height + s - 1) // s, (width + s - 1) // s
        total = (h_out - 1) * s + kh - height
        top = total // 2 if total > 0 else 0
        total = (w_out - 1) * s + kw - width
        left = total // 2 if total > 0 else 0
    else:
        if kh > height or kw > width:
            return None                          # empty result: the general path's business
        h_out, w_out = (height - kh) // s + 1, (width - kw) // s + 1
    dims[0], dims[1], dims[2], dims[3] = n, h_out, w_out, c_out
    out = cnp.PyArray_EMPTY(4, dims, typenum, 0)
    if typenum == cnp.NPY_FLOAT32:
        if c_in == 1 and c_out == 1 and s == 1:
            done = _image(<const float*>cnp.PyArray_DATA(x), n, height, width, <const float*>cnp.PyArray_DATA(w),
                          kh, kw, <float*>cnp.PyArray_DATA(out), h_out, w_out, s, 1, 1, top, left, num_threads)
        else:
            done = _direct(<const float*>cnp.PyArray_DATA(x), n, height, width, c_in,
                           <const float*>cnp.PyArray_DATA(w), kh, kw, c_in, c_out, <float*>cnp.PyArray_DATA(out),
                           h_out, w_out, s, s, 1, 1, top, left, 1, num_threads)
    else:
        if c_in == 1 and c_out == 1 and s == 1:
            done = _image(<const double*>cnp.PyArray_DATA(x), n, height, width, <const double*>cnp.PyArray_DATA(w),
                          kh, kw, <double*>cnp.PyArray_DATA(out), h_out, w_out, s, 1, 1, top, left, num_threads)
        else:
            done = _direct(<const double*>cnp.PyArray_DATA(x), n, height, width, c_in,
                           <const double*>cnp.PyArray_DATA(w), kh, kw, c_in, c_out, <double*>cnp.PyArray_DATA(out),
                           h_out, w_out, s, s, 1, 1, top, left, 1, num_threads)
    return out if done else None
