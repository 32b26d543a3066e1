# Backward kernels: the gradients of conv2d, max/avg pooling and pad, plus the fused bias+ReLU
# steps of the network module. Private: convops/gradients.py (and convops/nn) have validated
# every argument, resolved padding to explicit integers, made the arrays C-contiguous NHWC and
# allocated every result. These functions trust their inputs, hold no Python objects in their
# loops and release the GIL. Scratch buffers (patch matrices, partial sums) are theirs.
#
# Parallel work goes through convops_parallel_for (_parallel.h, shared with the forward
# kernels): chunks of independent tasks claimed by whichever thread is free, the caller never
# waiting for a helper that has no core. Wherever several sources add into one destination the
# loops are *gathers*: each destination element is summed by one task in a fixed order, so
# results never depend on the thread count and there are no races.
cimport cython
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sgemm, dgemm

from convops._openmp cimport effective_threads

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int
    long long

ctypedef fused pool_t:
    signed char
    short
    int
    long long
    unsigned char
    unsigned short
    float
    double


cdef extern from "_parallel.h" nogil:
    ctypedef void (*convops_task_fn)(void*, ptrdiff_t, ptrdiff_t) noexcept nogil
    void convops_parallel_for(convops_task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads)


cdef inline ptrdiff_t _chunk(ptrdiff_t n, int threads) noexcept nogil:
    # ~16 chunks per thread: small enough to balance, big enough to amortise claiming one.
    return max(1, n // (max(threads, 1) * 16))


# --------------------------------------------------------------------------- BLAS and im2col

cdef inline void _gemm(bint trans_a, bint trans_b, int m, int n, int k, const floating* a, int lda,
                       const floating* b, int ldb, floating beta, floating* c, int ldc) noexcept nogil:
    # Column-major C(m x n) = op(A) . op(B) + beta * C (BLAS's convention; a row-major matrix is
    # the column-major transpose, which is how the callers below read their arguments).
    cdef float one_s = 1.0, beta_s
    cdef double one_d = 1.0, beta_d
    cdef char transa = b'T' if trans_a else b'N'
    cdef char transb = b'T' if trans_b else b'N'
    if floating is float:
        beta_s = beta
        sgemm(&transa, &transb, &m, &n, &k, &one_s, <float*>a, &lda, <float*>b, &ldb, &beta_s,
              <float*>c, &ldc)
    else:
        beta_d = beta
        dgemm(&transa, &transb, &m, &n, &k, &one_d, <double*>a, &lda, <double*>b, &ldb, &beta_d,
              <double*>c, &ldc)


cdef struct ConvPlan:
    # One conv-gradient call: raw C-contiguous buffers and the geometry.
    const void* x            # forward input (filter gradient) or upstream gradient dy (input gradient)
    const void* y            # dy (filter gradient) or the filters (input gradient)
    void* out                # dw or dx
    void* partials           # filter gradient: one partial dw per lane after the first
    Py_ssize_t n_batch, height, width, c_in, h_out, w_out, kh, kw, c_group, c_out, groups
    Py_ssize_t sh, sw, dh, dw, top, left
    Py_ssize_t chunk_rows, lanes, m_total       # filter gradient
    Py_ssize_t chunk_images                     # input gradient
    int code                                    # 0: float, 1: double
    bint failed                                 # a task could not allocate its scratch


cdef inline void _im2col_row(const floating* x, const ConvPlan* p, floating* dst, Py_ssize_t m,
                             Py_ssize_t c_offset) noexcept nogil:
    # One row of the patch matrix: the receptive field of output position m in (ky, kx, c) order
    # (the order of the HWIO filter's first three axes), zeros where the window is over padding.
    # A private copy of the forward kernels' routine: the two modules evolve independently.
    cdef Py_ssize_t n = m // (p.h_out * p.w_out)
    cdef Py_ssize_t rem = m - n * p.h_out * p.w_out
    cdef Py_ssize_t oy = rem // p.w_out
    cdef Py_ssize_t ox = rem - oy * p.w_out
    cdef Py_ssize_t ky, kx, iy, ix, c, c_group = p.c_group
    cdef const floating* src
    for ky in range(p.kh):
        iy = oy * p.sh - p.top + ky * p.dh
        for kx in range(p.kw):
            ix = ox * p.sw - p.left + kx * p.dw
            # Plain loops, not memcpy: with one input channel (a first layer) a call per tap
            # costs more than the copy.
            if 0 <= iy < p.height and 0 <= ix < p.width:
                src = x + ((n * p.height + iy) * p.width + ix) * p.c_in + c_offset
                for c in range(c_group):
                    dst[c] = src[c]
            else:
                for c in range(c_group):
                    dst[c] = 0
            dst += c_group


# --------------------------------------------------------------------------- conv2d: filter gradient

cdef void _filter_lane(const floating* x, const floating* dy, floating* dw, ConvPlan* p, Py_ssize_t lane) noexcept nogil:
    # Lane `lane` owns chunks lane, lane + lanes, ...; it accumulates P^T . dy_g over them into
    # its own target (dw itself for lane 0, a partial otherwise).
    cdef Py_ssize_t k = p.kh * p.kw * p.c_group, kc = k * p.c_out, c_out_group = p.c_out // p.groups
    cdef Py_ssize_t n_chunks = (p.m_total + p.chunk_rows - 1) // p.chunk_rows
    cdef Py_ssize_t chunk, m0, rows, r, g
    cdef floating beta
    cdef floating* target = dw if lane == 0 else (<floating*>p.partials) + (lane - 1) * kc
    cdef floating* patches = <floating*>malloc(p.chunk_rows * k * sizeof(floating))
    if patches == NULL:
        p.failed = True
        return
    chunk = lane
    while chunk < n_chunks:
        m0 = chunk * p.chunk_rows
        rows = min(p.chunk_rows, p.m_total - m0)
        beta = 0 if chunk == lane else 1
        for g in range(p.groups):
            for r in range(rows):
                _im2col_row(x, p, patches + r * k, m0 + r, g * p.c_group)
            # Row-major dw_g (K x C_out_g, row stride C_out) is column-major (C_out_g x K):
            # dw_g^T = dy_g^T . P, with dy_g^T read as column-major (C_out_g x rows).
            _gemm(False, True, <int>c_out_group, <int>k, <int>rows, dy + m0 * p.c_out + g * c_out_group,
                  <int>p.c_out, patches, <int>k, beta, target + g * c_out_group, <int>p.c_out)
        chunk = chunk + p.lanes
    free(patches)


cdef void _filter_lanes(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef ConvPlan* p = <ConvPlan*>ctx
    cdef ptrdiff_t lane
    for lane in range(begin, end):
        if p.code == 0:
            _filter_lane(<const float*>p.x, <const float*>p.y, <float*>p.out, p, lane)
        else:
            _filter_lane(<const double*>p.x, <const double*>p.y, <double*>p.out, p, lane)


cdef void _sum_lanes_typed(floating* dw, const floating* partials, const ConvPlan* p, Py_ssize_t e0,
                           Py_ssize_t e1) noexcept nogil:
    cdef Py_ssize_t kc = p.kh * p.kw * p.c_group * p.c_out, e, lane
    cdef floating total
    for e in range(e0, e1):
        total = dw[e]
        for lane in range(1, p.lanes):
            total = total + partials[(lane - 1) * kc + e]
        dw[e] = total


cdef void _sum_lanes(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef ConvPlan* p = <ConvPlan*>ctx
    if p.code == 0:
        _sum_lanes_typed(<float*>p.out, <const float*>p.partials, p, begin, end)
    else:
        _sum_lanes_typed(<double*>p.out, <const double*>p.partials, p, begin, end)


def conv2d_backprop_filter(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dy,
                           floating[:, :, :, ::1] dw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                           Py_ssize_t dwl, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                           Py_ssize_t chunk_rows, Py_ssize_t lanes, int num_threads):
    """Filter gradient: dw[ky, kx, c, o] = sum_m patch[m, (ky, kx, c)] * dy[m, o], per group.

    x: (N, H, W, C_in), dy: (N, H_out, W_out, C_out), dw: (KH, KW, C_in/groups, C_out), overwritten.
    `dwl` is the width dilation. The M = N*H_out*W_out output positions are cut into chunks of
    `chunk_rows`; chunk i belongs to lane i % `lanes`. Each lane (one task) builds the patch
    matrix P of its chunks (rows x K, K = KH*KW*C_in/groups) in its own scratch and accumulates
    P^T . dy_g into its own partial sum with one BLAS call per chunk and group; the partials are
    then added in lane order. Chunks and lanes are chosen by the caller from the problem size
    alone, so the result is the same for any thread count. With several lanes BLAS must run
    single-threaded (the caller arranges it): the parallelism is ours. The caller guarantees
    BLAS-sized dimensions and non-empty x, dy.
    """
    cdef ConvPlan p
    cdef Py_ssize_t k = dw.shape[0] * dw.shape[1] * dw.shape[2], kc = k * dw.shape[3]
    cdef Py_ssize_t n_chunks
    cdef int threads
    p.n_batch, p.height, p.width, p.c_in = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    p.h_out, p.w_out = dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.c_group, p.c_out, p.groups = dw.shape[0], dw.shape[1], dw.shape[2], dw.shape[3], groups
    p.sh, p.sw, p.dh, p.dw, p.top, p.left = sh, sw, dh, dwl, pad_top, pad_left
    p.m_total = dy.shape[0] * dy.shape[1] * dy.shape[2]
    p.chunk_rows = chunk_rows
    n_chunks = (p.m_total + chunk_rows - 1) // chunk_rows
    p.lanes = max(1, min(lanes, n_chunks))
    p.x, p.y, p.out = &x[0, 0, 0, 0], &dy[0, 0, 0, 0], &dw[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    p.partials = NULL
    if p.lanes > 1:
        # Lane 0 accumulates straight into dw; the others into scratch partials.
        p.partials = malloc((p.lanes - 1) * kc * sizeof(floating))
        if p.partials == NULL:
            raise MemoryError("conv2d_backprop_filter: could not allocate the partial sums")
    threads = effective_threads(num_threads, p.m_total * kc // 16) if p.lanes > 1 else 1
    try:
        with nogil:
            convops_parallel_for(_filter_lanes, &p, p.lanes, 1, threads)
            if p.lanes > 1 and not p.failed:
                convops_parallel_for(_sum_lanes, &p, kc, _chunk(kc, threads),
                                     effective_threads(num_threads, kc * p.lanes))
    finally:
        free(p.partials)
    if p.failed:
        raise MemoryError("conv2d_backprop_filter: could not allocate a patch buffer")


# --------------------------------------------------------------------------- conv2d: filter gradient, direct

cdef extern from "_dw_simd.h" nogil:
    ctypedef void (*convops_dw_f32)(int, int, const float*, const float*, float*, const ptrdiff_t*, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    ctypedef void (*convops_dw_f64)(int, int, const double*, const double*, double*, const ptrdiff_t*,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    convops_dw_f32 convops_dw_ukernels_f32[3]
    convops_dw_f64 convops_dw_ukernels_f64[3]
    ptrdiff_t convops_dw_lanes(int isa, ptrdiff_t itemsize)
    int convops_dw_block_rows(int isa, int v)


cdef struct DwPlan:
    const void* x
    const void* dy
    void* dw
    Py_ssize_t height, width, c_in, h_out, w_out, kh, kw, c_group, c_out, c_out_group, groups
    Py_ssize_t sh, sw, dh, dw_dil, top, left
    Py_ssize_t out_rows           # N * H_out: the flattened (n, oy) output rows
    Py_ssize_t chunk_rows         # output rows streamed per pass (a cache block of dy and x)
    Py_ssize_t rows_per_block     # R: filter-gradient rows (input channels of one tap) per block
    Py_ssize_t ci_blocks          # ceil(C_in/groups / R)
    Py_ssize_t parts              # tasks per group, each a range of (tap, ci block) units
    Py_ssize_t lanes, vec_per_block, co_blocks
    Py_ssize_t co_pad             # 0, or the padded row of a scratch copy of dy (narrow groups)
    int isa, code
    bint failed


cdef Py_ssize_t _dw_segments(const DwPlan* p, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t ky, Py_ssize_t kx,
                             ptrdiff_t* segs) noexcept nogil:
    # The positions of output rows [r0, r1) whose tap (ky, kx) reads the input (not padding): per
    # row one run of consecutive ox, as (x index, dy index, count) at the first one. The dy index
    # is into dy itself, or into the chunk's padded copy (rows of co_pad) when there is one.
    cdef Py_ssize_t r, n, oy, iy, ix0, lo, hi, n_seg = 0
    ix0 = kx * p.dw_dil - p.left                  # input column of ox = 0
    # lo: the first ox with ox*sw + ix0 >= 0; hi: one past the last with ox*sw + ix0 <= W - 1.
    lo = 0 if ix0 >= 0 else (-ix0 + p.sw - 1) // p.sw
    if p.width - 1 - ix0 < 0:
        return 0
    hi = min(p.w_out, (p.width - 1 - ix0) // p.sw + 1)
    if lo >= hi:
        return 0
    for r in range(r0, r1):
        n = r // p.h_out
        oy = r - n * p.h_out
        iy = oy * p.sh - p.top + ky * p.dh
        if iy < 0 or iy >= p.height:
            continue
        segs[3 * n_seg] = ((n * p.height + iy) * p.width + lo * p.sw + ix0) * p.c_in
        if p.co_pad:
            segs[3 * n_seg + 1] = ((r - r0) * p.w_out + lo) * p.co_pad
        else:
            segs[3 * n_seg + 1] = (r * p.w_out + lo) * p.c_out
        segs[3 * n_seg + 2] = hi - lo
        n_seg += 1
    return n_seg


cdef void _dw_task_typed(const floating* x, const floating* dy, floating* dw, DwPlan* p,
                         Py_ssize_t task) noexcept nogil:
    # Task = (group g, part): the (tap, ci block) units [u0, u1) of group g, over every output
    # position, chunk of output rows by chunk (the chunk's dy and input rows stay in cache while
    # every unit of the task streams them). Each dw element belongs to one unit: it is summed by
    # one task, in position order.
    cdef Py_ssize_t g = task // p.parts, part = task - g * p.parts
    cdef Py_ssize_t units = p.kh * p.kw * p.ci_blocks
    cdef Py_ssize_t u0 = part * units // p.parts, u1 = (part + 1) * units // p.parts
    cdef Py_ssize_t r0, r1, u, tap, cur_tap, cb, ci0, n_rows, b, co0, n_lanes, n_seg = 0, pos
    cdef Py_ssize_t dy_step = p.co_pad if p.co_pad else p.c_out
    cdef const floating* xg = x + g * p.c_group
    cdef const floating* dyg = dy + g * p.c_out_group
    cdef const floating* dyg_src = dyg
    cdef const floating* src
    cdef floating* dst
    cdef floating* padded = NULL
    cdef Py_ssize_t c
    cdef ptrdiff_t* segs = <ptrdiff_t*>malloc(max(1, p.chunk_rows) * 3 * sizeof(ptrdiff_t))
    if segs == NULL:
        p.failed = True
        return
    if p.co_pad:
        # Groups narrower than whole vectors: the micro-kernel loads whole vectors of dy, so each
        # chunk's dy is copied into rows of co_pad with zeros after the group's channels.
        padded = <floating*>malloc(p.chunk_rows * p.w_out * p.co_pad * sizeof(floating))
        if padded == NULL:
            free(segs)
            p.failed = True
            return
        dyg = padded
    r0 = 0
    while r0 < p.out_rows:
        r1 = min(p.out_rows, r0 + p.chunk_rows)
        if p.co_pad:
            # Plain loops, not memcpy/memset: with a few channels per group (depthwise) two calls
            # per position cost more than the copy.
            for pos in range((r1 - r0) * p.w_out):
                src = dyg_src + (r0 * p.w_out + pos) * p.c_out
                dst = padded + pos * p.co_pad
                for c in range(p.c_out_group):
                    dst[c] = src[c]
                for c in range(p.c_out_group, p.co_pad):
                    dst[c] = 0
        cur_tap = -1
        for u in range(u0, u1):
            tap = u // p.ci_blocks
            cb = u - tap * p.ci_blocks
            if tap != cur_tap:
                n_seg = _dw_segments(p, r0, r1, tap // p.kw, tap - (tap // p.kw) * p.kw, segs)
                cur_tap = tap
            if n_seg == 0:
                continue
            ci0 = cb * p.rows_per_block
            n_rows = min(p.rows_per_block, p.c_group - ci0)
            for b in range(p.co_blocks):
                co0 = b * p.vec_per_block * p.lanes
                n_lanes = min(p.vec_per_block * p.lanes, p.c_out_group - co0)
                if floating is float:
                    convops_dw_ukernels_f32[p.isa](
                        <int>n_rows, <int>((n_lanes + p.lanes - 1) // p.lanes), xg + ci0, dyg + co0,
                        dw + (tap * p.c_group + ci0) * p.c_out + g * p.c_out_group + co0, segs, n_seg,
                        p.sw * p.c_in, dy_step, p.c_out, n_lanes)
                else:
                    convops_dw_ukernels_f64[p.isa](
                        <int>n_rows, <int>((n_lanes + p.lanes - 1) // p.lanes), xg + ci0, dyg + co0,
                        dw + (tap * p.c_group + ci0) * p.c_out + g * p.c_out_group + co0, segs, n_seg,
                        p.sw * p.c_in, dy_step, p.c_out, n_lanes)
        r0 = r1
    free(segs)
    free(padded)


cdef void _dw_tasks(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef DwPlan* p = <DwPlan*>ctx
    cdef ptrdiff_t task
    for task in range(begin, end):
        if p.code == 0:
            _dw_task_typed(<const float*>p.x, <const float*>p.dy, <float*>p.dw, p, task)
        else:
            _dw_task_typed(<const double*>p.x, <const double*>p.dy, <double*>p.dw, p, task)


def conv2d_backprop_filter_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dy,
                                  floating[:, :, :, ::1] dw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                                  Py_ssize_t dwl, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                                  int isa, Py_ssize_t chunk_bytes, int num_threads):
    """Filter gradient by a register-blocked direct kernel (no patch matrix, no BLAS).

    Same contract and result layout as conv2d_backprop_filter (x, dy, dw, `dwl` the width
    dilation), with `isa` the instruction set (_conv_kernels.ISA_NAMES index, supported here).
    dw[ky, kx, ci, o] = sum over output positions m (in order) of x[m's input at tap (ky, kx),
    g*C_g + ci] * dy[m, o], taps on padding skipped: the caller routes dy with non-finite values
    where a window reaches the padding to the GEMM path (which multiplies them by the padding
    zeros, as TF does). A block of R input channels of one tap x V vectors of output channels
    of dw stays in SIMD registers while the positions of a chunk of output rows stream past
    (`chunk_bytes` of dy per chunk, so that they stay in cache for all the blocks; groups whose
    C_out/groups is not a whole number of vectors stream a zero-padded copy of the chunk). Tasks are
    ranges of blocks; every dw element is summed by one task in position order, so the result
    does not depend on the thread count.
    """
    cdef DwPlan p
    cdef Py_ssize_t vectors, tasks
    cdef int threads
    p.height, p.width, p.c_in = x.shape[1], x.shape[2], x.shape[3]
    p.h_out, p.w_out = dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.c_group, p.c_out, p.groups = dw.shape[0], dw.shape[1], dw.shape[2], dw.shape[3], groups
    p.c_out_group = p.c_out // groups
    p.sh, p.sw, p.dh, p.dw_dil, p.top, p.left = sh, sw, dh, dwl, pad_top, pad_left
    p.out_rows = dy.shape[0] * dy.shape[1]
    p.isa = isa
    p.lanes = convops_dw_lanes(isa, sizeof(floating))
    vectors = (p.c_out_group + p.lanes - 1) // p.lanes
    p.co_blocks = (vectors + 3) // 4
    p.vec_per_block = (vectors + p.co_blocks - 1) // p.co_blocks
    p.rows_per_block = convops_dw_block_rows(isa, <int>p.vec_per_block)
    p.ci_blocks = (p.c_group + p.rows_per_block - 1) // p.rows_per_block
    p.co_pad = 0 if p.c_out_group % p.lanes == 0 else vectors * p.lanes
    p.chunk_rows = max(1, min(p.out_rows, chunk_bytes // max(1, p.w_out * vectors * p.lanes * sizeof(floating))))
    p.x, p.dy, p.dw = &x[0, 0, 0, 0], &dy[0, 0, 0, 0], &dw[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    if (floating is float and convops_dw_ukernels_f32[isa] == NULL) or \
            (floating is double and convops_dw_ukernels_f64[isa] == NULL):
        raise ValueError(f"conv2d_backprop_filter_direct: instruction set {isa} is not in this build")
    threads = effective_threads(num_threads, p.out_rows * p.w_out * p.kh * p.kw * p.c_group * p.c_out // 16)
    # Parts per group: one per thread (with fewer groups than threads), as few as possible
    # because every part streams all of the group's dy and x through the cache once (8 parts per
    # group on 2 threads: a first layer with one input channel ran no faster than on one).
    p.parts = max(1, min(p.kh * p.kw * p.ci_blocks, threads // min(groups, threads)))
    tasks = groups * p.parts
    with nogil:
        memset(p.dw, 0, p.kh * p.kw * p.c_group * p.c_out * sizeof(floating))
        convops_parallel_for(_dw_tasks, &p, tasks, 1, threads if tasks > 1 else 1)
    if p.failed:
        raise MemoryError("conv2d_backprop_filter_direct: could not allocate a segment buffer")


# --------------------------------------------------------------------------- conv2d: input gradient

cdef void _input_chunk_typed(const floating* dy, const floating* w, floating* dx, ConvPlan* p,
                             Py_ssize_t chunk) noexcept nogil:
    # One chunk of images: dP = dy_g . w_g^T by BLAS into this task's scratch, then every input
    # cell of these images gathers the dP entries of the taps that read it (col2im).
    cdef Py_ssize_t k = p.kh * p.kw * p.c_group, c_out_group = p.c_out // p.groups
    cdef Py_ssize_t per_image = p.h_out * p.w_out, c_group = p.c_group
    cdef Py_ssize_t n0 = chunk * p.chunk_images
    cdef Py_ssize_t images = min(p.chunk_images, p.n_batch - n0)
    cdef Py_ssize_t rows = images * per_image
    cdef Py_ssize_t row, nl, iy, ix, ky, kx, ty, tx, oy, ox, c, g
    cdef floating* acc
    cdef const floating* src
    cdef floating* buf = <floating*>malloc(rows * k * sizeof(floating))
    if buf == NULL:
        p.failed = True
        return
    for g in range(p.groups):
        # Row-major dP (rows x K) is column-major dP^T (K x rows) = w_g (K x C_out_g) . dy_g^T,
        # where row-major w (K x C_out) read column-major is w^T, hence trans_a.
        _gemm(True, False, <int>k, <int>rows, <int>c_out_group, w + g * c_out_group, <int>p.c_out,
              dy + n0 * per_image * p.c_out + g * c_out_group, <int>p.c_out, <floating>0, buf, <int>k)
        for row in range(images * p.height):
            nl = row // p.height
            iy = row - nl * p.height
            for ix in range(p.width):
                acc = dx + (((n0 + nl) * p.height + iy) * p.width + ix) * p.c_in + g * c_group
                memset(acc, 0, c_group * sizeof(floating))
                for ky in range(p.kh):
                    # Tap ky of output row oy reads input row oy*sh - top + ky*dh.
                    ty = iy + p.top - ky * p.dh
                    if ty < 0:
                        break          # ty only decreases with ky
                    if ty % p.sh != 0:
                        continue
                    oy = ty // p.sh
                    if oy >= p.h_out:
                        continue
                    for kx in range(p.kw):
                        tx = ix + p.left - kx * p.dw
                        if tx < 0:
                            break
                        if tx % p.sw != 0:
                            continue
                        ox = tx // p.sw
                        if ox >= p.w_out:
                            continue
                        src = buf + ((nl * p.h_out + oy) * p.w_out + ox) * k + (ky * p.kw + kx) * c_group
                        for c in range(c_group):
                            acc[c] = acc[c] + src[c]
    free(buf)


cdef void _input_chunks(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef ConvPlan* p = <ConvPlan*>ctx
    cdef ptrdiff_t chunk
    for chunk in range(begin, end):
        if p.code == 0:
            _input_chunk_typed(<const float*>p.x, <const float*>p.y, <float*>p.out, p, chunk)
        else:
            _input_chunk_typed(<const double*>p.x, <const double*>p.y, <double*>p.out, p, chunk)


def conv2d_backprop_input(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] w,
                          floating[:, :, :, ::1] dx, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                          Py_ssize_t dwl, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                          Py_ssize_t chunk_images, int num_threads):
    """Input gradient (= transposed convolution) as GEMM + col2im, one task per chunk of images.

    dy: (N, H_out, W_out, C_out), w: (KH, KW, C_in/groups, C_out), dx: (N, H, W, C_in), overwritten.
    For each chunk of `chunk_images` images and each group: the patch gradient
    dP = dy_g . w_g^T (rows x K) is one BLAS call into the task's scratch; then every input cell
    of those images *gathers* the entries of dP that its taps touched (col2im). Cells no window
    reaches (rows dropped by a VALID stride) get 0. Every dx element is summed by one task in a
    fixed order: the result does not depend on the thread count. With several chunks BLAS must
    run single-threaded (the caller arranges it). The caller guarantees BLAS-sized dimensions
    and non-empty dy, w and dx.
    """
    cdef ConvPlan p
    cdef Py_ssize_t n_chunks
    cdef int threads
    p.n_batch, p.height, p.width, p.c_in = dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]
    p.h_out, p.w_out = dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.c_group, p.c_out, p.groups = w.shape[0], w.shape[1], w.shape[2], w.shape[3], groups
    p.sh, p.sw, p.dh, p.dw, p.top, p.left = sh, sw, dh, dwl, pad_top, pad_left
    p.chunk_images = chunk_images
    p.x, p.y, p.out = &dy[0, 0, 0, 0], &w[0, 0, 0, 0], &dx[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    p.partials = NULL
    n_chunks = (p.n_batch + chunk_images - 1) // chunk_images
    threads = effective_threads(num_threads, p.n_batch * p.h_out * p.w_out * p.kh * p.kw * p.c_group
                                * (p.c_out // groups) // 16) if n_chunks > 1 else 1
    with nogil:
        convops_parallel_for(_input_chunks, &p, n_chunks, 1, threads)
    if p.failed:
        raise MemoryError("conv2d_backprop_input: could not allocate a patch-gradient buffer")


# --------------------------------------------------------------------------- max pooling

cdef struct PoolPlan:
    const void* x
    void* out
    void* dx
    const void* dy
    void* argmax                # int (index32) or long long
    bint index32
    Py_ssize_t height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left
    Py_ssize_t size_in, size_out
    bint values_from_argmax, count_include_pad, failed
    bint readable               # avg_pool_grad: the readable loop instead of the fast one
    int code
    double lowest_f
    long long lowest_i


cdef void _argmax_rows(const pool_t* x, pool_t* out, const PoolPlan* p, pool_t lowest, Py_ssize_t r0,
                       Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, n, oy, ox, y0, y1, x0, x1, iy, ix, c, channels = p.channels
    cdef int base, first, mask
    cdef pool_t value, best
    cdef pool_t* acc
    cdef int* idx
    cdef long long* arg64
    cdef int* arg32
    cdef const pool_t* src
    cdef const pool_t* image
    # The index within the image as a 32-bit int while the window is scanned (the caller checks
    # that H*W*C fits), so that the compiler vectorises the scan (measured 20x faster than
    # `if value > acc: acc = value; idx = i` on 64-bit indices).
    cdef int* idx_row = <int*>malloc(max(1, p.w_out * channels) * sizeof(int))
    if idx_row == NULL:
        (<PoolPlan*>p).failed = True
        return
    for row in range(r0, r1):
        n = row // p.h_out
        oy = row - n * p.h_out
        image = x + n * p.height * p.width * channels
        y0 = max(oy * p.sh - p.top, 0)
        y1 = min(oy * p.sh - p.top + p.kh, p.height)
        for ox in range(p.w_out):
            x0 = max(ox * p.sw - p.left, 0)
            x1 = min(ox * p.sw - p.left + p.kw, p.width)
            acc = out + (row * p.w_out + ox) * channels
            idx = idx_row + ox * channels
            # TF's argmax rule: take the first real cell (every window has one: explicit pads
            # are smaller than the window), then move only to strictly greater values. `acc`
            # holds the value at the argmax, so the comparison needs no indirect load.
            first = <int>((y0 * p.width + x0) * channels)
            for c in range(channels):
                acc[c] = image[first + c]
                idx[c] = first + <int>c
            for iy in range(y0, y1):
                for ix in range(x0, x1):
                    base = <int>((iy * p.width + ix) * channels)
                    src = image + base
                    for c in range(channels):
                        # Branch-free: a 0/-1 mask picks the new index, a select the new value.
                        # (`idx = i if value > acc else idx` is not if-converted by GCC and runs
                        # ~10x slower, mispredicting on every other cell of random data.)
                        value = src[c]
                        mask = -(<int>(value > acc[c]))
                        idx[c] = (idx[c] & ~mask) | ((base + <int>c) & mask)
                        acc[c] = value if value > acc[c] else acc[c]
            if not p.values_from_argmax:
                # max_pool2d's rule (start at `lowest`) gives the same value unless the first cell
                # was NaN (the argmax then stays on it) or nothing beat `lowest`: only then
                # rescan the window with that rule.
                for c in range(channels):
                    if not (acc[c] > lowest):
                        best = lowest
                        for iy in range(y0, y1):
                            for ix in range(x0, x1):
                                value = image[(iy * p.width + ix) * channels + c]
                                if value > best:
                                    best = value
                        acc[c] = best
        if p.index32:
            arg32 = (<int*>p.argmax) + row * p.w_out * channels
            for c in range(p.w_out * channels):
                arg32[c] = idx_row[c]
        else:
            arg64 = (<long long*>p.argmax) + row * p.w_out * channels
            for c in range(p.w_out * channels):
                arg64[c] = idx_row[c]
    free(idx_row)


cdef void _argmax_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const PoolPlan* p = <const PoolPlan*>ctx
    if p.code == 0:
        _argmax_rows(<const signed char*>p.x, <signed char*>p.out, p, <signed char>p.lowest_i, r0, r1)
    elif p.code == 1:
        _argmax_rows(<const short*>p.x, <short*>p.out, p, <short>p.lowest_i, r0, r1)
    elif p.code == 2:
        _argmax_rows(<const int*>p.x, <int*>p.out, p, <int>p.lowest_i, r0, r1)
    elif p.code == 3:
        _argmax_rows(<const long long*>p.x, <long long*>p.out, p, <long long>p.lowest_i, r0, r1)
    elif p.code == 4:
        _argmax_rows(<const unsigned char*>p.x, <unsigned char*>p.out, p, <unsigned char>p.lowest_i, r0, r1)
    elif p.code == 5:
        _argmax_rows(<const unsigned short*>p.x, <unsigned short*>p.out, p, <unsigned short>p.lowest_i, r0, r1)
    elif p.code == 6:
        _argmax_rows(<const float*>p.x, <float*>p.out, p, <float>p.lowest_f, r0, r1)
    else:
        _argmax_rows(<const double*>p.x, <double*>p.out, p, <double>p.lowest_f, r0, r1)


def max_pool_argmax(const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, index_t[:, :, :, ::1] argmax,
                    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top,
                    Py_ssize_t pad_left, pool_t lowest, bint values_from_argmax, int num_threads):
    """Max pooling that also records where each maximum is: argmax = (y*W + x)*C + c in its image.

    The argmax follows TensorFlow's CPU gradient kernel (SpatialMaxPoolWithArgMaxHelper): the
    window's first real cell in row-major order is taken, then replaced only by a strictly
    greater value. So ties go to the first maximum, and a NaN in the first cell keeps the
    argmax (NaN > v and v > NaN are both false).

    `out` follows one of TensorFlow's two forward rules:
    values_from_argmax=False: tf.nn.max_pool2d's (start at `lowest`, keep strictly greater: NaN
    ignored, all-NaN/-inf windows give `lowest`); True: tf.nn.max_pool_with_argmax's (the value
    at the argmax, which can be NaN or -inf). Parallel over output rows.
    """
    cdef PoolPlan p
    cdef Py_ssize_t rows = out.shape[0] * out.shape[1]
    cdef int threads = effective_threads(num_threads, rows * out.shape[2] * kh * kw * x.shape[3])
    p.height, p.width, p.channels, p.h_out, p.w_out = x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2]
    p.kh, p.kw, p.sh, p.sw, p.top, p.left = kh, kw, sh, sw, pad_top, pad_left
    p.x, p.out, p.argmax = &x[0, 0, 0, 0], &out[0, 0, 0, 0], &argmax[0, 0, 0, 0]
    p.index32 = index_t is int
    p.values_from_argmax = values_from_argmax
    p.code = (0 if pool_t is cython.schar else 1 if pool_t is short else 2 if pool_t is int
              else 3 if pool_t is cython.longlong else 4 if pool_t is cython.uchar else 5 if pool_t is cython.ushort
              else 6 if pool_t is float else 7)
    if pool_t is float or pool_t is double:
        p.lowest_f = lowest
    else:
        p.lowest_i = lowest
    if x.shape[1] * x.shape[2] * x.shape[3] > 2147483647:
        raise ValueError("max_pool_argmax: an image of more than 2**31 - 1 elements")
    p.failed = False
    with nogil:
        convops_parallel_for(_argmax_chunk, &p, rows, _chunk(rows, threads), threads)
    if p.failed:
        raise MemoryError("max_pool_argmax: could not allocate a scratch row")


cdef void _scatter_images(floating* dx, const floating* dy, const index_t* argmax, const PoolPlan* p,
                          Py_ssize_t n0, Py_ssize_t n1) noexcept nogil:
    cdef Py_ssize_t n, j
    cdef index_t a
    cdef floating* image
    cdef const floating* grad
    cdef const index_t* arg
    for n in range(n0, n1):
        image = dx + n * p.size_in
        grad = dy + n * p.size_out
        arg = argmax + n * p.size_out
        memset(image, 0, p.size_in * sizeof(floating))
        for j in range(p.size_out):
            a = arg[j]
            if a >= 0:
                image[a] = image[a] + grad[j]


cdef void _scatter_chunk(void* ctx, ptrdiff_t n0, ptrdiff_t n1) noexcept nogil:
    cdef const PoolPlan* p = <const PoolPlan*>ctx
    if p.code == 6 and p.index32:
        _scatter_images(<float*>p.dx, <const float*>p.dy, <const int*>p.argmax, p, n0, n1)
    elif p.code == 6:
        _scatter_images(<float*>p.dx, <const float*>p.dy, <const long long*>p.argmax, p, n0, n1)
    elif p.index32:
        _scatter_images(<double*>p.dx, <const double*>p.dy, <const int*>p.argmax, p, n0, n1)
    else:
        _scatter_images(<double*>p.dx, <const double*>p.dy, <const long long*>p.argmax, p, n0, n1)


def max_pool_grad_scatter(const floating[:, ::1] dy, const index_t[:, ::1] argmax, floating[:, ::1] dx,
                          int num_threads):
    """dx[n, argmax[n, j]] += dy[n, j] for every output element j, in output order (TensorFlow's
    order, so float sums are bit-identical). dy, argmax (int32 or int64): (N, H_out*W_out*C);
    dx: (N, H*W*C), overwritten. Windows of one image may overlap, so the tasks are whole images."""
    cdef PoolPlan p
    cdef Py_ssize_t n_batch = dx.shape[0]
    cdef int threads = effective_threads(num_threads, n_batch * (dx.shape[1] + dy.shape[1]))
    p.size_in, p.size_out = dx.shape[1], dy.shape[1]
    p.dx, p.dy, p.argmax = &dx[0, 0], &dy[0, 0], <void*>&argmax[0, 0]
    p.index32 = index_t is int
    p.code = 6 if floating is float else 7
    with nogil:
        convops_parallel_for(_scatter_chunk, &p, n_batch, _chunk(n_batch, threads), threads)


# --------------------------------------------------------------------------- average pooling

# The readable loop: every input cell starts at 0 and gathers its windows' shares. Kept as the
# reference for the fast loop below (tests run both against TensorFlow: `readable=True`).
cdef void _avg_grad_rows(const floating* dy, floating* dx, const PoolPlan* p, Py_ssize_t r0,
                         Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, n, iy, ix, oy, ox, oy0, oy1, ox0, ox1, rows_in, cols_in, c, channels = p.channels
    cdef floating coeff
    cdef floating* acc
    cdef const floating* src
    for row in range(r0, r1):
        n = row // p.height
        iy = row - n * p.height
        # Windows oy with oy*sh - top <= iy < oy*sh - top + kh.
        oy0 = (iy + p.top - p.kh + p.sh) // p.sh if iy + p.top - p.kh + 1 > 0 else 0
        oy1 = min((iy + p.top) // p.sh + 1, p.h_out)
        for ix in range(p.width):
            ox0 = (ix + p.left - p.kw + p.sw) // p.sw if ix + p.left - p.kw + 1 > 0 else 0
            ox1 = min((ix + p.left) // p.sw + 1, p.w_out)
            acc = dx + (row * p.width + ix) * channels
            for c in range(channels):
                acc[c] = 0
            for oy in range(oy0, oy1):
                rows_in = min(oy * p.sh - p.top + p.kh, p.height) - max(oy * p.sh - p.top, 0)
                for ox in range(ox0, ox1):
                    if p.count_include_pad:
                        coeff = <floating>(1.0 / (<double>p.kh * <double>p.kw))
                    else:
                        cols_in = min(ox * p.sw - p.left + p.kw, p.width) - max(ox * p.sw - p.left, 0)
                        coeff = <floating>(1.0 / <double>(rows_in * cols_in))
                    src = dy + ((n * p.h_out + oy) * p.w_out + ox) * channels
                    for c in range(channels):
                        acc[c] = acc[c] + src[c] * coeff


cdef void _avg_grad_rows_fast(const floating* dy, floating* dx, const PoolPlan* p, Py_ssize_t r0,
                              Py_ssize_t r1) noexcept nogil:
    # The same sums in the same order as _avg_grad_rows, without its per-cell bookkeeping, which
    # cost more than the arithmetic on small channel counts (64x26x26x32, 2x2/2: 0.41 ms, TF 0.31):
    # - the windows covering column ix are tracked incrementally across the row (no divisions);
    # - the share of a window lying wholly inside the input (count = KH*KW) is computed once,
    #   only clipped windows divide;
    # - the first window's term is stored (as 0 + term, so a -0.0 term still gives +0.0 as in
    #   TF's zero-initialised sum) instead of zeroing the cell and reading it back.
    # Baseline-ISA C: the compiler vectorises the channel loops and cannot fuse the multiply and
    # the add into an FMA (that would round once instead of twice: not TF's result).
    cdef Py_ssize_t row, n, iy, ix, oy, ox, oy0, oy1, ox0, ox1, rows_in, cols_in, c, channels = p.channels
    cdef floating coeff, full, zero = 0
    cdef floating* acc
    cdef const floating* src
    cdef bint first
    full = <floating>(1.0 / (<double>p.kh * <double>p.kw))
    for row in range(r0, r1):
        n = row // p.height
        iy = row - n * p.height
        oy0 = (iy + p.top - p.kh + p.sh) // p.sh if iy + p.top - p.kh + 1 > 0 else 0
        oy1 = min((iy + p.top) // p.sh + 1, p.h_out)
        ox0 = 0
        ox1 = 0
        for ix in range(p.width):
            # Windows ox with ox*sw - left <= ix < ox*sw - left + kw: [ox0, ox1), both non-decreasing.
            while ox0 < p.w_out and ox0 * p.sw - p.left + p.kw <= ix:
                ox0 += 1
            while ox1 < p.w_out and ox1 * p.sw - p.left <= ix:
                ox1 += 1
            acc = dx + (row * p.width + ix) * channels
            first = True
            for oy in range(oy0, oy1):
                rows_in = min(oy * p.sh - p.top + p.kh, p.height) - max(oy * p.sh - p.top, 0)
                for ox in range(ox0, ox1):
                    cols_in = min(ox * p.sw - p.left + p.kw, p.width) - max(ox * p.sw - p.left, 0)
                    if p.count_include_pad or (rows_in == p.kh and cols_in == p.kw):
                        coeff = full
                    else:
                        coeff = <floating>(1.0 / <double>(rows_in * cols_in))
                    src = dy + ((n * p.h_out + oy) * p.w_out + ox) * channels
                    if first:
                        for c in range(channels):
                            acc[c] = zero + src[c] * coeff
                        first = False
                    else:
                        for c in range(channels):
                            acc[c] = acc[c] + src[c] * coeff
            if first:
                for c in range(channels):
                    acc[c] = 0


cdef void _avg_grad_rows_disjoint(const floating* dy, floating* dx, const PoolPlan* p, Py_ssize_t r0,
                                  Py_ssize_t r1) noexcept nogil:
    # Windows that do not overlap (KH <= sh and KW <= sw: the usual 2x2/2): each input cell lies
    # in at most one window, so its sum is one term, 0 + share (TF's zero-initialised sum: a
    # -0.0 share gives +0.0), or 0 outside every window. Written once per cell, row by row,
    # window by window: no search for the windows of a cell. 64x26x26x32 float32 2x2/2, 1 core:
    # 0.32 ms with the gather loop above, 0.23 ms here (TF 0.31).
    cdef Py_ssize_t row, n, iy, oy, ox, ix, j, x_start, x0, x1, y_start, rows_in, c
    cdef Py_ssize_t channels = p.channels, width = p.width, height = p.height, kh = p.kh, kw = p.kw
    cdef Py_ssize_t sw = p.sw, left = p.left, w_out = p.w_out
    cdef bint include_pad = p.count_include_pad
    cdef floating coeff, zero = 0
    cdef floating full = <floating>(1.0 / (<double>kh * <double>kw))
    cdef floating* d
    cdef const floating* src
    for row in range(r0, r1):
        n = row // height
        iy = row - n * height
        d = dx + row * width * channels
        oy = (iy + p.top) // p.sh                   # the only window that can hold row iy
        y_start = oy * p.sh - p.top
        if oy >= p.h_out or iy >= y_start + kh:
            memset(d, 0, width * channels * sizeof(floating))
            continue
        rows_in = min(y_start + kh, height) - max(y_start, 0)
        ix = 0
        for ox in range(w_out):
            x_start = ox * sw - left
            x0 = max(x_start, 0)
            x1 = min(x_start + kw, width)
            if x1 <= x0:                            # no real column (cannot happen for TF's shapes)
                continue
            if x0 > ix:                             # columns between windows
                memset(d + ix * channels, 0, (x0 - ix) * channels * sizeof(floating))
            if include_pad or (rows_in == kh and x1 - x0 == kw):
                coeff = full
            else:
                coeff = <floating>(1.0 / <double>(rows_in * (x1 - x0)))
            src = dy + ((n * p.h_out + oy) * w_out + ox) * channels
            for j in range(x0, x1):
                for c in range(channels):
                    d[j * channels + c] = zero + src[c] * coeff
            ix = x1
        if width > ix:
            memset(d + ix * channels, 0, (width - ix) * channels * sizeof(floating))


cdef void _avg_grad_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const PoolPlan* p = <const PoolPlan*>ctx
    cdef bint disjoint = p.kh <= p.sh and p.kw <= p.sw
    if p.code == 6:
        if p.readable:
            _avg_grad_rows(<const float*>p.dy, <float*>p.dx, p, r0, r1)
        elif disjoint:
            _avg_grad_rows_disjoint(<const float*>p.dy, <float*>p.dx, p, r0, r1)
        else:
            _avg_grad_rows_fast(<const float*>p.dy, <float*>p.dx, p, r0, r1)
    elif p.readable:
        _avg_grad_rows(<const double*>p.dy, <double*>p.dx, p, r0, r1)
    elif disjoint:
        _avg_grad_rows_disjoint(<const double*>p.dy, <double*>p.dx, p, r0, r1)
    else:
        _avg_grad_rows_fast(<const double*>p.dy, <double*>p.dx, p, r0, r1)


def avg_pool_grad(const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx, Py_ssize_t kh, Py_ssize_t kw,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
                  bint count_include_pad, int num_threads, bint readable=False):
    """Each input cell gathers dy * (1 / count) from every window that covers it.

    count = real cells of the window (TensorFlow) or KH*KW (`count_include_pad`). The
    coefficient is 1/count computed in double and rounded to the dtype, and the terms are added in
    row-major order of the windows: TensorFlow's AvgPoolGrad does both, so results match bit for
    bit. dy: (N, H_out, W_out, C); dx: (N, H, W, C), overwritten (every cell is written). Parallel
    over input rows. `readable`: run the readable loop instead of the fast one (tests).
    """
    cdef PoolPlan p
    cdef Py_ssize_t rows = dx.shape[0] * dx.shape[1]
    cdef int threads = effective_threads(num_threads, rows * dx.shape[2] * dx.shape[3]
                                         * max(1, kh // sh) * max(1, kw // sw))
    p.height, p.width, p.channels, p.h_out, p.w_out = dx.shape[1], dx.shape[2], dx.shape[3], dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.sh, p.sw, p.top, p.left = kh, kw, sh, sw, pad_top, pad_left
    p.dy, p.dx = &dy[0, 0, 0, 0], &dx[0, 0, 0, 0]
    p.count_include_pad = count_include_pad
    p.readable = readable
    p.code = 6 if floating is float else 7
    with nogil:
        convops_parallel_for(_avg_grad_chunk, &p, rows, _chunk(rows, threads), threads)


# --------------------------------------------------------------------------- pad

cdef struct FoldPlan:
    const void* src
    void* dst
    const Py_ssize_t* indptr
    const Py_ssize_t* indices
    Py_ssize_t n_out, n_in, inner
    int code


cdef void _fold_rows(const floating* src, floating* dst, const FoldPlan* p, Py_ssize_t r0,
                     Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, o, j, t, c, inner = p.inner
    cdef floating* d
    cdef const floating* s
    for row in range(r0, r1):
        o = row // p.n_in
        j = row - o * p.n_in
        d = dst + row * inner
        memset(d, 0, inner * sizeof(floating))
        for t in range(p.indptr[j], p.indptr[j + 1]):
            s = src + (o * p.n_out + p.indices[t]) * inner
            for c in range(inner):
                d[c] = d[c] + s[c]


cdef void _fold_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const FoldPlan* p = <const FoldPlan*>ctx
    if p.code == 0:
        _fold_rows(<const float*>p.src, <float*>p.dst, p, r0, r1)
    else:
        _fold_rows(<const double*>p.src, <double*>p.dst, p, r0, r1)


def pad_fold_axis(const floating[:, :, ::1] src, floating[:, :, ::1] dst, const Py_ssize_t[::1] indptr,
                  const Py_ssize_t[::1] indices, int num_threads):
    """The gradient of padding along one axis: fold the padded axis back onto the input.

    src: (outer, n_out, inner), dst: (outer, n_in, inner), overwritten. Input index j receives
    src[:, i, :] for every output index i in indices[indptr[j]:indptr[j + 1]] (the inverse of the
    padding's index map, in increasing i). Constant-border indices appear in no list: a CONSTANT
    border's gradient goes to the constant, not to the input. Parallel over (outer, j) rows.
    """
    cdef FoldPlan p
    cdef Py_ssize_t rows = dst.shape[0] * dst.shape[1]
    cdef int threads = effective_threads(num_threads, dst.shape[0] * src.shape[1] * dst.shape[2])
    p.n_out, p.n_in, p.inner = src.shape[1], dst.shape[1], dst.shape[2]
    p.src, p.dst = &src[0, 0, 0], &dst[0, 0, 0]
    p.indptr, p.indices = &indptr[0], &indices[0] if indices.shape[0] else NULL
    p.code = 0 if floating is float else 1
    with nogil:
        convops_parallel_for(_fold_chunk, &p, rows, _chunk(rows, threads), threads)


# --------------------------------------------------------------------------- bias + ReLU (convops.nn)

cdef struct BiasPlan:
    void* z
    const void* y
    const void* bias
    double* sums
    Py_ssize_t m, channels, lanes
    bint use_bias, relu
    int code


cdef void _bias_forward_rows(floating* z, const floating* bias, const BiasPlan* p, Py_ssize_t r0,
                             Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, c, channels = p.channels
    cdef floating v
    cdef floating* zr
    for row in range(r0, r1):
        zr = z + row * channels
        if p.use_bias:
            for c in range(channels):
                zr[c] = zr[c] + bias[c]
        if p.relu:
            # A select (vectorised), keeping NaN as np.maximum(z, 0) does: NaN <= 0 is false.
            for c in range(channels):
                v = zr[c]
                zr[c] = 0 if v <= 0 else v


cdef void _bias_forward_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const BiasPlan* p = <const BiasPlan*>ctx
    if p.code == 0:
        _bias_forward_rows(<float*>p.z, <const float*>p.bias, p, r0, r1)
    else:
        _bias_forward_rows(<double*>p.z, <const double*>p.bias, p, r0, r1)


def bias_act_forward(floating[:, ::1] z, const floating[::1] bias, bint use_bias, bint relu, int num_threads):
    """z = z + bias (broadcast over rows), then max(z, 0) when `relu`, in place: one pass over a
    layer's output instead of NumPy's two. z: (M, C), bias: (C,)."""
    cdef BiasPlan p
    cdef int threads = effective_threads(num_threads, z.shape[0] * z.shape[1])
    p.z, p.bias, p.m, p.channels = &z[0, 0], &bias[0], z.shape[0], z.shape[1]
    p.use_bias, p.relu = use_bias, relu
    p.code = 0 if floating is float else 1
    with nogil:
        convops_parallel_for(_bias_forward_chunk, &p, p.m, _chunk(p.m, threads), threads)


cdef void _bias_backward_lanes(floating* dz, const floating* y, const BiasPlan* p, Py_ssize_t l0,
                               Py_ssize_t l1) noexcept nogil:
    cdef Py_ssize_t lane, row, r0, r1, c, channels = p.channels, per_lane = (p.m + p.lanes - 1) // p.lanes
    cdef floating* d
    cdef const floating* yr
    cdef double* sums
    for lane in range(l0, l1):
        sums = p.sums + lane * channels
        for c in range(channels):
            sums[c] = 0
        r0 = lane * per_lane
        r1 = min(r0 + per_lane, p.m)
        for row in range(r0, r1):
            d = dz + row * channels
            yr = y + row * channels
            if p.relu:
                # A select, not `if not y > 0: d = 0`: only this form vectorises.
                for c in range(channels):
                    d[c] = d[c] if yr[c] > 0 else 0
            for c in range(channels):
                sums[c] = sums[c] + d[c]


cdef void _bias_backward_chunk(void* ctx, ptrdiff_t l0, ptrdiff_t l1) noexcept nogil:
    cdef const BiasPlan* p = <const BiasPlan*>ctx
    if p.code == 0:
        _bias_backward_lanes(<float*>p.z, <const float*>p.y, p, l0, l1)
    else:
        _bias_backward_lanes(<double*>p.z, <const double*>p.y, p, l0, l1)


def bias_act_backward(floating[:, ::1] dz, const floating[:, ::1] y, double[:, ::1] partial_sums,
                      bint relu, int num_threads):
    """The backward pass of bias + ReLU in one pass, in place: dz = dz * (y > 0) when `relu`, and
    the bias gradient's partial sums in double: rows are cut into len(partial_sums) fixed lanes
    and lane l adds its rows into partial_sums[l] (the caller adds the lanes in order, so the
    result does not depend on the thread count). dz, y: (M, C); partial_sums: (lanes, C)."""
    cdef BiasPlan p
    cdef int threads = effective_threads(num_threads, dz.shape[0] * dz.shape[1])
    p.z, p.y, p.sums = &dz[0, 0], &y[0, 0], &partial_sums[0, 0]
    p.m, p.channels, p.lanes = dz.shape[0], dz.shape[1], partial_sums.shape[0]
    p.relu = relu
    p.code = 0 if floating is float else 1
    with nogil:
        convops_parallel_for(_bias_backward_chunk, &p, p.lanes, 1, threads)
