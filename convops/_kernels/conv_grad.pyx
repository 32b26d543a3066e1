# conv2d's gradients: the filter gradient (im2col + GEMM, and the register-blocked direct kernel
# of src/conv_grad_ukernel.h) and the input gradient. Private: convops/conv.py has validated every
# argument, resolved padding to explicit integers, made the arrays C-contiguous NHWC and allocated
# every result. These functions trust their inputs, hold no Python objects in their loops and
# release the GIL. Scratch buffers (patch matrices, partial sums) are theirs.
#
# Parallel work goes through parallel_for (the process's one pool, parallel.pyx): chunks of
# independent tasks claimed by whichever thread is free. Wherever several sources add into one
# destination the loops are *gathers*: each destination element is summed by one task in a fixed
# order, so results never depend on the thread count and there are no races.
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from convops._kernels.blas cimport _gemm, _im2col_row
from convops._kernels.parallel cimport effective_threads, parallel_for, chunk_for
from convops._kernels.common cimport floating, BLAS_INT_MAX

# --------------------------------------------------------------------------- plans

cdef struct FilterGradPlan:
    # One filter-gradient call by im2col + GEMM: raw C-contiguous buffers and the geometry.
    const void* x                # the forward input (N, H, W, C_in)
    const void* dy               # the upstream gradient (N, H_out, W_out, C_out)
    void* d_filters              # the result (KH, KW, C_in/groups, C_out)
    void* partials               # one partial d_filters per lane after the first
    Py_ssize_t n_batch, height, width, c_in, h_out, w_out, kh, kw, c_group, c_out, groups
    Py_ssize_t sh, sw, dil_h, dil_w, top, left
    Py_ssize_t chunk_rows, lanes, m_total
    int code                     # 0: float, 1: double
    bint failed                  # a task could not allocate its scratch


cdef struct InputGradPlan:
    # One input-gradient call by GEMM + col2im: raw C-contiguous buffers and the geometry.
    const void* dy               # the upstream gradient (N, H_out, W_out, C_out)
    const void* w                # the forward filters (KH, KW, C_in/groups, C_out)
    void* d_input                # the result (N, H, W, C_in)
    Py_ssize_t n_batch, height, width, c_in, h_out, w_out, kh, kw, c_group, c_out, groups
    Py_ssize_t sh, sw, dil_h, dil_w, top, left
    Py_ssize_t chunk_images
    # col2im's tap tables, one per axis, built once per call: input row iy is read by
    # row_count[iy] taps, whose offsets into an image's dP are row_offset[iy*kh : ...]
    # (oy*W_out*K + ky*KW*C_group, in ascending ky); columns alike (ox*K + kx*C_group, ascending kx).
    Py_ssize_t* row_count
    Py_ssize_t* row_offset
    Py_ssize_t* col_count
    Py_ssize_t* col_offset
    int code
    bint failed


# --------------------------------------------------------------------------- conv2d: filter gradient

cdef void _filter_lane(const floating* x, const floating* dy, floating* d_filters, FilterGradPlan* p,
                       Py_ssize_t lane) noexcept nogil:
    # Lane `lane` owns chunks lane, lane + lanes, ...; it accumulates P^T . dy_g over them into
    # its own target (d_filters itself for lane 0, a partial otherwise).
    cdef Py_ssize_t k = p.kh * p.kw * p.c_group, kc = k * p.c_out, c_out_group = p.c_out // p.groups
    cdef Py_ssize_t n_chunks = (p.m_total + p.chunk_rows - 1) // p.chunk_rows
    cdef Py_ssize_t chunk, m0, rows, r, g
    cdef floating beta
    cdef floating* target = d_filters if lane == 0 else (<floating*>p.partials) + (lane - 1) * kc
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
                _im2col_row(x, p.height, p.width, p.c_in, patches + r * k, m0 + r, p.h_out, p.w_out, p.kh, p.kw,
                            p.c_group, g * p.c_group, p.sh, p.sw, p.dil_h, p.dil_w, p.top, p.left)
            # Row-major d_filters_g (K x C_out_g, row stride C_out) is column-major (C_out_g x K):
            # d_filters_g^T = dy_g^T . P, with dy_g^T read as column-major (C_out_g x rows).
            _gemm(False, True, <int>c_out_group, <int>k, <int>rows, dy + m0 * p.c_out + g * c_out_group,
                  <int>p.c_out, patches, <int>k, beta, target + g * c_out_group, <int>p.c_out)
        chunk = chunk + p.lanes
    free(patches)


cdef void _filter_lanes(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef FilterGradPlan* p = <FilterGradPlan*>ctx
    cdef ptrdiff_t lane
    for lane in range(begin, end):
        if p.code == 0:
            _filter_lane(<const float*>p.x, <const float*>p.dy, <float*>p.d_filters, p, lane)
        else:
            _filter_lane(<const double*>p.x, <const double*>p.dy, <double*>p.d_filters, p, lane)


cdef void _sum_lanes_typed(floating* d_filters, const floating* partials, const FilterGradPlan* p, Py_ssize_t e0,
                           Py_ssize_t e1) noexcept nogil:
    cdef Py_ssize_t kc = p.kh * p.kw * p.c_group * p.c_out, e, lane
    cdef floating total
    for e in range(e0, e1):
        total = d_filters[e]
        for lane in range(1, p.lanes):
            total = total + partials[(lane - 1) * kc + e]
        d_filters[e] = total


cdef void _sum_lanes(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef FilterGradPlan* p = <FilterGradPlan*>ctx
    if p.code == 0:
        _sum_lanes_typed(<float*>p.d_filters, <const float*>p.partials, p, begin, end)
    else:
        _sum_lanes_typed(<double*>p.d_filters, <const double*>p.partials, p, begin, end)


def conv2d_backprop_filter(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dy,
                           floating[:, :, :, ::1] d_filters, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h,
                           Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                           Py_ssize_t chunk_rows, Py_ssize_t lanes, int num_threads):
    """Filter gradient: d_filters[ky, kx, c, o] = sum_m patch[m, (ky, kx, c)] * dy[m, o], per group.

    x: (N, H, W, C_in), dy: (N, H_out, W_out, C_out), d_filters: (KH, KW, C_in/groups, C_out),
    overwritten. The M = N*H_out*W_out output positions are cut into chunks of
    `chunk_rows`; chunk i belongs to lane i % `lanes`. Each lane (one task) builds the patch
    matrix P of its chunks (rows x K, K = KH*KW*C_in/groups) in its own scratch and accumulates
    P^T . dy_g into its own partial sum with one BLAS call per chunk and group; the partials are
    then added in lane order. Chunks and lanes are chosen by the caller from the problem size
    alone, so the result is the same for any thread count. With several lanes BLAS must run
    single-threaded (the caller arranges it): the parallelism is ours. The caller guarantees
    BLAS-sized dimensions and non-empty x, dy.
    """
    cdef FilterGradPlan p
    cdef Py_ssize_t k = d_filters.shape[0] * d_filters.shape[1] * d_filters.shape[2], kc = k * d_filters.shape[3]
    cdef Py_ssize_t n_chunks
    cdef int threads
    p.n_batch, p.height, p.width, p.c_in = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    p.h_out, p.w_out = dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.c_group = d_filters.shape[0], d_filters.shape[1], d_filters.shape[2]
    p.c_out, p.groups = d_filters.shape[3], groups
    p.sh, p.sw, p.dil_h, p.dil_w, p.top, p.left = sh, sw, dil_h, dil_w, pad_top, pad_left
    p.m_total = dy.shape[0] * dy.shape[1] * dy.shape[2]
    p.chunk_rows = chunk_rows
    n_chunks = (p.m_total + chunk_rows - 1) // chunk_rows
    p.lanes = max(1, min(lanes, n_chunks))
    p.x, p.dy, p.d_filters = &x[0, 0, 0, 0], &dy[0, 0, 0, 0], &d_filters[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    p.partials = NULL
    if p.lanes > 1:
        # Lane 0 accumulates straight into d_filters; the others into scratch partials.
        p.partials = malloc((p.lanes - 1) * kc * sizeof(floating))
        if p.partials == NULL:
            raise MemoryError("conv2d_backprop_filter: could not allocate the partial sums")
    threads = effective_threads(num_threads, p.m_total * kc // 16) if p.lanes > 1 else 1
    try:
        with nogil:
            parallel_for(_filter_lanes, &p, p.lanes, 1, threads)
            if p.lanes > 1 and not p.failed:
                parallel_for(_sum_lanes, &p, kc, chunk_for(kc, threads),
                             effective_threads(num_threads, kc * p.lanes))
    finally:
        free(p.partials)
    if p.failed:
        raise MemoryError("conv2d_backprop_filter: could not allocate a patch buffer")


# --------------------------------------------------------------------------- conv2d: filter gradient, direct

cdef extern from "conv_grad_simd.h" nogil:
    ctypedef void (*convops_dw_f32)(int, int, const float*, const float*, float*, const ptrdiff_t*, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    ctypedef void (*convops_dw_f64)(int, int, const double*, const double*, double*, const ptrdiff_t*,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t) noexcept nogil
    convops_dw_f32 convops_dw_ukernels_f32[3]
    convops_dw_f64 convops_dw_ukernels_f64[3]
    ptrdiff_t convops_dw_lanes(int isa, ptrdiff_t itemsize)
    int convops_dw_block_rows(int isa, int v)


cdef struct FilterGradDirectPlan:
    const void* x
    const void* dy
    void* d_filters
    Py_ssize_t height, width, c_in, h_out, w_out, kh, kw, c_group, c_out, c_out_group, groups
    Py_ssize_t sh, sw, dil_h, dil_w, top, left
    Py_ssize_t out_rows           # N * H_out: the flattened (n, oy) output rows
    Py_ssize_t chunk_rows         # output rows streamed per pass (a cache block of dy and x)
    Py_ssize_t rows_per_block     # R: the most filter-gradient rows per block
    # A line: the filter-gradient rows one block may take from, consecutive in d_filters and in x.
    # Normally one tap's C_g input channels (lines = KH*KW). With few input channels (C_g < R, no
    # groups, no horizontal dilation) and every tap of a filter row reading the same positions
    # (no padding clips one and not another), one filter row's KW*C_g rows (kx, ci): lines = KH,
    # so that a first layer's block holds 3 taps instead of 1 (three times the independent
    # multiply-adds per position, and dy streamed a third as often). Rows only change blocks: each
    # element's sum runs over the same positions in the same order (bit-identical).
    Py_ssize_t lines, line_rows
    bint whole_rows               # lines are filter rows (ky), not taps
    # A whole filter of KH = 3 rows as one line (lines = 1) when its 3 * KW * C_g rows fit a block
    # and every filter row reads the input at every output row (no vertical padding reached): a
    # first layer's 3 x 3 x 1 filter in one block of 9 rows, out_backprop streamed once instead of
    # three times. `group_stride`: the x elements from one filter row's rows to the next's (the
    # micro-kernel's G = 3); 0 otherwise.
    Py_ssize_t group_stride
    Py_ssize_t ci_blocks          # ceil(line_rows / R); block cb has rows [cb*T//ci_blocks, (cb+1)*T//ci_blocks)
    Py_ssize_t parts              # tasks per group, each a range of (line, row block) units
    Py_ssize_t co_splits          # tasks per part, each a range of the output-channel blocks
    Py_ssize_t lanes, vec_per_block, co_blocks
    Py_ssize_t co_pad             # 0, or the padded row of a scratch copy of dy (narrow groups)
    int isa, code
    bint failed


cdef inline Py_ssize_t _tap_columns(Py_ssize_t width, Py_ssize_t w_out, Py_ssize_t sw, Py_ssize_t ix0,
                                    Py_ssize_t* lo) noexcept nogil:
    # The output columns [lo, hi) whose tap at input column ox*sw + ix0 lies in the image: lo the
    # first with ox*sw + ix0 >= 0, hi (returned) one past the last with ox*sw + ix0 <= W - 1;
    # hi = lo when there is none.
    lo[0] = 0 if ix0 >= 0 else (-ix0 + sw - 1) // sw
    if width - 1 - ix0 < 0:
        return lo[0]
    return min(w_out, (width - 1 - ix0) // sw + 1)


cdef Py_ssize_t _filter_grad_segments(const FilterGradDirectPlan* p, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t ky,
                                      Py_ssize_t kx, ptrdiff_t* segs) noexcept nogil:
    # The positions of output rows [r0, r1) whose tap (ky, kx) reads the input (not padding): per
    # row one run of consecutive ox, as (x index, dy index, count) at the first one. The dy index
    # is into dy itself, or into the chunk's padded copy (rows of co_pad) when there is one.
    cdef Py_ssize_t r, n, oy, iy, ix0, lo, hi, n_seg = 0
    ix0 = kx * p.dil_w - p.left                  # input column of ox = 0
    hi = _tap_columns(p.width, p.w_out, p.sw, ix0, &lo)
    if lo >= hi:
        return 0
    for r in range(r0, r1):
        n = r // p.h_out
        oy = r - n * p.h_out
        iy = oy * p.sh - p.top + ky * p.dil_h
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


cdef bint _same_columns_for_every_kx(Py_ssize_t width, Py_ssize_t w_out, Py_ssize_t kw, Py_ssize_t sw,
                                     Py_ssize_t left) noexcept nogil:
    # Whether every tap kx of a filter row reads the input at the same output columns [lo, hi)
    # (_filter_grad_segments' run, dilation 1): true without horizontal padding (VALID), where
    # each column's window lies in the image.
    cdef Py_ssize_t kx, lo, hi, lo0 = 0, hi0 = 0
    for kx in range(kw):
        hi = _tap_columns(width, w_out, sw, kx - left, &lo)
        if lo >= hi:
            return False
        if kx == 0:
            lo0, hi0 = lo, hi
        elif lo != lo0 or hi != hi0:
            return False
    return True


cdef void _filter_grad_task(const floating* x, const floating* dy, floating* d_filters, FilterGradDirectPlan* p,
                            Py_ssize_t task) noexcept nogil:
    # Task = (group g, part, split): the (tap, ci block) units [u0, u1) of group g, for the output-
    # channel blocks [b0, b1) of the split (all of them unless a part has threads to spare), over every output
    # position, chunk of output rows by chunk (the chunk's dy and input rows stay in cache while
    # every unit of the task streams them). Each d_filters element belongs to one unit: it is summed by
    # one task, in position order.
    cdef Py_ssize_t g = task // (p.parts * p.co_splits), part = task // p.co_splits - g * p.parts
    cdef Py_ssize_t split = task - (task // p.co_splits) * p.co_splits
    cdef Py_ssize_t b0 = split * p.co_blocks // p.co_splits, b1 = (split + 1) * p.co_blocks // p.co_splits
    cdef Py_ssize_t units = p.lines * p.ci_blocks
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
            tap = u // p.ci_blocks                  # the line: a tap, or a filter row (whole_rows)
            cb = u - tap * p.ci_blocks
            if tap != cur_tap:
                if p.whole_rows:                    # every kx reads kx=0's positions, kx*C_in further
                    n_seg = _filter_grad_segments(p, r0, r1, tap, 0, segs)
                else:
                    n_seg = _filter_grad_segments(p, r0, r1, tap // p.kw, tap - (tap // p.kw) * p.kw, segs)
                cur_tap = tap
            if n_seg == 0:
                continue
            # Rows [ci0, ci0 + n_rows) of the line: input channels of a tap, or (kx, ci) pairs
            # kx*C_in + ci of a filter row (C_g = C_in, dilation 1: that is also their offset in x).
            ci0 = cb * p.line_rows // p.ci_blocks
            n_rows = (cb + 1) * p.line_rows // p.ci_blocks - ci0
            for b in range(b0, b1):
                co0 = b * p.vec_per_block * p.lanes
                n_lanes = min(p.vec_per_block * p.lanes, p.c_out_group - co0)
                if floating is float:
                    convops_dw_ukernels_f32[p.isa](
                        <int>n_rows, <int>((n_lanes + p.lanes - 1) // p.lanes), xg + ci0, dyg + co0,
                        d_filters + (tap * p.line_rows + ci0) * p.c_out + g * p.c_out_group + co0, segs, n_seg,
                        p.sw * p.c_in, dy_step, p.c_out, n_lanes, p.group_stride)
                else:
                    convops_dw_ukernels_f64[p.isa](
                        <int>n_rows, <int>((n_lanes + p.lanes - 1) // p.lanes), xg + ci0, dyg + co0,
                        d_filters + (tap * p.line_rows + ci0) * p.c_out + g * p.c_out_group + co0, segs, n_seg,
                        p.sw * p.c_in, dy_step, p.c_out, n_lanes, p.group_stride)
        r0 = r1
    free(segs)
    free(padded)


cdef void _filter_grad_tasks(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef FilterGradDirectPlan* p = <FilterGradDirectPlan*>ctx
    cdef ptrdiff_t task
    for task in range(begin, end):
        if p.code == 0:
            _filter_grad_task(<const float*>p.x, <const float*>p.dy, <float*>p.d_filters, p, task)
        else:
            _filter_grad_task(<const double*>p.x, <const double*>p.dy, <double*>p.d_filters, p, task)


cdef void _block_rows(FilterGradDirectPlan* p, Py_ssize_t vectors, int max_vectors, bint whole_rows,
                      bint whole_filter) noexcept nogil:
    # The register blocks of conv2d_backprop_filter_direct: output-channel blocks of at most
    # `max_vectors` vectors, and the filter-gradient rows each block takes (lines, rows, groups).
    p.co_blocks = (vectors + max_vectors - 1) // max_vectors
    p.vec_per_block = (vectors + p.co_blocks - 1) // p.co_blocks
    # R: at most the register table's rows, split as evenly as possible over the input channels
    # (32 channels in blocks of at most 6: four of 5 and two of 6 rather than 6,6,6,6,6,2, whose last block
    # would load as many dy vectors per position for a third of the multiply-adds). Which rows
    # share a block does not change any element's sum.
    p.rows_per_block = convops_dw_block_rows(p.isa, <int>p.vec_per_block)
    p.whole_rows = (whole_rows and p.groups == 1 and p.dil_w == 1 and p.kw > 1 and p.c_group < p.rows_per_block
                    and _same_columns_for_every_kx(p.width, p.w_out, p.kw, p.sw, p.left))
    p.lines = p.kh if p.whole_rows else p.kh * p.kw
    p.line_rows = p.kw * p.c_group if p.whole_rows else p.c_group
    p.group_stride = 0
    if (whole_filter and p.whole_rows and p.kh == 3 and p.line_rows <= 3 and 3 * p.line_rows <= p.rows_per_block
            and p.top == 0 and (p.h_out - 1) * p.sh + 2 * p.dil_h <= p.height - 1):
        p.lines, p.line_rows, p.group_stride = 1, 3 * p.line_rows, p.dil_h * p.width * p.c_in
    p.ci_blocks = (p.line_rows + p.rows_per_block - 1) // p.rows_per_block
    p.co_pad = 0 if p.c_out_group % p.lanes == 0 else vectors * p.lanes


cdef inline Py_ssize_t _parts(const FilterGradDirectPlan* p, int threads) noexcept nogil:
    # Parts per group: one per thread (with fewer groups than threads), as few as possible
    # because every part streams all of the group's dy and x through the cache once (8 parts per
    # group on 2 threads: a first layer with one input channel ran no faster than on one).
    cdef Py_ssize_t units = p.lines * p.ci_blocks
    cdef Py_ssize_t parts = max(1, min(units, threads // min(p.groups, threads)))
    if units < 2 * parts and units % parts:
        # Too few units to share evenly (a first layer's 3 filter rows on 2 threads: 1 and 2): the
        # larger part decides the time while both stream dy, and the pool would take the uneven
        # wait for a slow helper. One part ran faster (0.41 vs 0.45 ms, 64x28x28x1->32, Zen 3).
        parts = 1
    return parts


def conv2d_backprop_filter_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dy,
                                  floating[:, :, :, ::1] d_filters, Py_ssize_t sh, Py_ssize_t sw,
                                  Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left,
                                  Py_ssize_t groups, int isa, Py_ssize_t chunk_bytes, int num_threads,
                                  int max_vectors=4, bint whole_rows=True, bint whole_filter=True):
    """Filter gradient by a register-blocked direct kernel (no patch matrix, no BLAS).

    Same contract and result layout as conv2d_backprop_filter (x, dy, d_filters), with `isa` the
    instruction set (an index into simd.ISA_NAMES that this CPU runs).
    d_filters[ky, kx, ci, o] = sum over output positions m (in order) of x[m's input at tap (ky, kx),
    g*C_g + ci] * dy[m, o], taps on padding skipped: the caller sends dy with non-finite values
    where a window reaches the padding to the GEMM path instead (which multiplies them by the padding
    zeros, as TF does). A block of R input channels of one tap x V vectors of output channels
    of d_filters stays in SIMD registers while the positions of a chunk of output rows stream past
    (`chunk_bytes` of dy per chunk, so that they stay in cache for all the blocks; groups whose
    C_out/groups is not a whole number of vectors stream a zero-padded copy of the chunk). Tasks are
    ranges of blocks; every d_filters element is summed by one task in position order, so the result
    does not depend on the thread count. Nor on the blocking (convops/_autotune.py chooses it):
    `chunk_bytes`, and `max_vectors` (1..4), the widest block of output channels, in SIMD vectors;
    nor on `whole_rows` (False: blocks of one tap's channels even where a filter row's taps could
    share one, for tests) or `whole_filter` (False: no block of a whole 3-row filter). Returns the
    lines the blocks were cut from: 1 when a block holds a whole filter, KH when it may hold several
    taps of a filter row, else KH*KW (FilterGradDirectPlan).
    """
    cdef FilterGradDirectPlan p
    cdef Py_ssize_t vectors, tasks
    cdef int threads
    p.height, p.width, p.c_in = x.shape[1], x.shape[2], x.shape[3]
    p.h_out, p.w_out = dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.c_group = d_filters.shape[0], d_filters.shape[1], d_filters.shape[2]
    p.c_out, p.groups = d_filters.shape[3], groups
    p.c_out_group = p.c_out // groups
    p.sh, p.sw, p.dil_h, p.dil_w, p.top, p.left = sh, sw, dil_h, dil_w, pad_top, pad_left
    p.out_rows = dy.shape[0] * dy.shape[1]
    p.isa = isa
    p.lanes = convops_dw_lanes(isa, sizeof(floating))
    vectors = (p.c_out_group + p.lanes - 1) // p.lanes
    if not 1 <= max_vectors <= 4:
        raise ValueError(f"conv2d_backprop_filter_direct: `max_vectors` must be 1..4; got {max_vectors}")
    _block_rows(&p, vectors, max_vectors, whole_rows, whole_filter)
    p.chunk_rows = max(1, min(p.out_rows, chunk_bytes // max(1, p.w_out * vectors * p.lanes * sizeof(floating))))
    p.x, p.dy, p.d_filters = &x[0, 0, 0, 0], &dy[0, 0, 0, 0], &d_filters[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    if (floating is float and convops_dw_ukernels_f32[isa] == NULL) or \
            (floating is double and convops_dw_ukernels_f64[isa] == NULL):
        raise ValueError(f"conv2d_backprop_filter_direct: instruction set {isa} is not in this build")
    threads = effective_threads(num_threads, p.out_rows * p.w_out * p.kh * p.kw * p.c_group * p.c_out // 16)
    p.parts = _parts(&p, threads)
    p.co_splits = 1
    if groups * p.parts < threads and p.co_pad == 0:
        # Fewer tasks than threads (a first layer's whole filter is one unit): blocks of output
        # channels narrow enough for each thread to take its own -- each reads only its channels'
        # lines of dy, and every d_filters element is still summed by one task in position order.
        if (vectors + threads - 1) // threads < p.vec_per_block:
            _block_rows(&p, vectors, <int>((vectors + threads - 1) // threads), whole_rows, whole_filter)
            p.parts = _parts(&p, threads)
        p.co_splits = max(1, min(p.co_blocks, threads // (groups * p.parts)))
    tasks = groups * p.parts * p.co_splits
    with nogil:
        memset(p.d_filters, 0, p.kh * p.kw * p.c_group * p.c_out * sizeof(floating))
        parallel_for(_filter_grad_tasks, &p, tasks, 1, threads if tasks > 1 else 1)
    if p.failed:
        raise MemoryError("conv2d_backprop_filter_direct: could not allocate a segment buffer")
    return p.lines


# --------------------------------------------------------------------------- conv2d: input gradient

cdef void _input_chunk_typed(const floating* dy, const floating* w, floating* dx, InputGradPlan* p,
                             Py_ssize_t chunk) noexcept nogil:
    # One chunk of images: dP = dy_g . w_g^T by BLAS into this task's scratch, then every input
    # cell of these images gathers the dP entries of the taps that read it (col2im), in ascending
    # ky then kx, through the per-axis tap tables (no division in the loop).
    cdef Py_ssize_t k = p.kh * p.kw * p.c_group, c_out_group = p.c_out // p.groups
    cdef Py_ssize_t per_image = p.h_out * p.w_out, c_group = p.c_group
    cdef Py_ssize_t n0 = chunk * p.chunk_images
    cdef Py_ssize_t images = min(p.chunk_images, p.n_batch - n0)
    cdef Py_ssize_t rows = images * per_image
    cdef Py_ssize_t nl, iy, ix, a, b, c, g, n_rows, n_cols
    cdef const Py_ssize_t* roff
    cdef const Py_ssize_t* coff
    cdef floating total
    cdef floating* acc
    cdef const floating* image
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
        for nl in range(images):
            image = buf + nl * per_image * k
            for iy in range(p.height):
                n_rows = p.row_count[iy]
                roff = p.row_offset + iy * p.kh
                for ix in range(p.width):
                    n_cols = p.col_count[ix]
                    coff = p.col_offset + ix * p.kw
                    acc = dx + (((n0 + nl) * p.height + iy) * p.width + ix) * p.c_in + g * c_group
                    if c_group == 1:
                        # One channel: the sum stays in a register (the compiler cannot know that acc
                        # and dP never alias, so it would store acc after every add).
                        total = 0
                        for a in range(n_rows):
                            for b in range(n_cols):
                                total = total + image[roff[a] + coff[b]]
                        acc[0] = total
                        continue
                    memset(acc, 0, c_group * sizeof(floating))
                    for a in range(n_rows):
                        for b in range(n_cols):
                            src = image + roff[a] + coff[b]
                            for c in range(c_group):
                                acc[c] = acc[c] + src[c]
    free(buf)


cdef void _tap_table(Py_ssize_t size, Py_ssize_t n_taps, Py_ssize_t before, Py_ssize_t dilation,
                     Py_ssize_t stride, Py_ssize_t n_out, Py_ssize_t out_step, Py_ssize_t tap_step,
                     Py_ssize_t* count, Py_ssize_t* offset) noexcept nogil:
    # For every input index i along one axis: the taps t (ascending) whose window o reads it,
    # i = o*stride - before + t*dilation with 0 <= o < n_out, as offsets o*out_step + t*tap_step.
    cdef Py_ssize_t i, t, shifted, o, n
    for i in range(size):
        n = 0
        for t in range(n_taps):
            shifted = i + before - t * dilation
            if shifted < 0:
                break          # shifted only decreases with t
            if shifted % stride != 0:
                continue
            o = shifted // stride
            if o >= n_out:
                continue
            offset[i * n_taps + n] = o * out_step + t * tap_step
            n += 1
        count[i] = n


cdef void _input_chunks(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef InputGradPlan* p = <InputGradPlan*>ctx
    cdef ptrdiff_t chunk
    for chunk in range(begin, end):
        if p.code == 0:
            _input_chunk_typed(<const float*>p.dy, <const float*>p.w, <float*>p.d_input, p, chunk)
        else:
            _input_chunk_typed(<const double*>p.dy, <const double*>p.w, <double*>p.d_input, p, chunk)


def conv2d_backprop_input(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] w,
                          floating[:, :, :, ::1] dx, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h,
                          Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                          Py_ssize_t scratch_bytes, Py_ssize_t max_chunks, int num_threads):
    """Input gradient (= transposed convolution) as GEMM + col2im, one task per chunk of images.

    dy: (N, H_out, W_out, C_out), w: (KH, KW, C_in/groups, C_out), dx: (N, H, W, C_in), overwritten.
    The images are cut into chunks of whole images: at most `max_chunks` of them, more only where
    a chunk's patch gradients (H_out*W_out x K per image, K = KH*KW*C_in/groups) would not fit
    `scratch_bytes`. The cut depends on the shapes alone, never on the thread count. For each
    chunk and each group: the patch gradient dP = dy_g . w_g^T (rows x K) is one BLAS call into
    the task's scratch; then every input cell of those images *gathers* the entries of dP that
    its taps touched (col2im). Cells no window reaches (rows dropped by a VALID stride) get 0.
    Every dx element is summed by one task in a fixed order: the result does not depend on the
    thread count. BLAS must run single-threaded (the caller arranges it). The caller guarantees
    BLAS-sized dimensions (K, C_out and H_out*W_out below 2**31) and non-empty dy, w and dx.
    """
    cdef InputGradPlan p
    cdef Py_ssize_t n_chunks, patch_bytes
    cdef int threads
    p.n_batch, p.height, p.width, p.c_in = dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]
    p.h_out, p.w_out = dy.shape[1], dy.shape[2]
    p.kh, p.kw, p.c_group, p.c_out, p.groups = w.shape[0], w.shape[1], w.shape[2], w.shape[3], groups
    p.sh, p.sw, p.dil_h, p.dil_w, p.top, p.left = sh, sw, dil_h, dil_w, pad_top, pad_left
    patch_bytes = p.h_out * p.w_out * p.kh * p.kw * p.c_group * sizeof(floating)   # one image's dP
    p.chunk_images = max(1, min(scratch_bytes // patch_bytes, (p.n_batch + max_chunks - 1) // max_chunks,
                                BLAS_INT_MAX // (p.h_out * p.w_out)))
    p.dy, p.w, p.d_input = &dy[0, 0, 0, 0], &w[0, 0, 0, 0], &dx[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    p.failed = False
    n_chunks = (p.n_batch + p.chunk_images - 1) // p.chunk_images
    # The work in units of one vector multiply-add (parallel.pyx): the GEMM's multiply-adds / 16,
    # plus col2im's gathers, ~8 units each (~1 ns: 1 x 28 x 28 x 1 -> 32 took ~7 us for its 7,056,
    # AMD Zen 4). Counting only the GEMM kept 2-8 images of one channel on one thread (2 x 28 x
    # 28 x 1 -> 32: 24,336 units, 32 us).
    threads = effective_threads(num_threads, p.n_batch * p.h_out * p.w_out * p.kh * p.kw * p.c_group
                                * (p.c_out // groups) // 16
                                + 8 * p.n_batch * p.height * p.width * p.kh * p.kw * p.c_group) if n_chunks > 1 else 1
    p.row_count = <Py_ssize_t*>malloc((p.height + p.height * p.kh + p.width + p.width * p.kw) * sizeof(Py_ssize_t))
    if p.row_count == NULL:
        raise MemoryError("conv2d_backprop_input: could not allocate the tap tables")
    p.row_offset = p.row_count + p.height
    p.col_count = p.row_offset + p.height * p.kh
    p.col_offset = p.col_count + p.width
    with nogil:
        _tap_table(p.height, p.kh, p.top, p.dil_h, p.sh, p.h_out, p.w_out * p.kw * p.kh * p.c_group,
                   p.kw * p.c_group, p.row_count, p.row_offset)
        _tap_table(p.width, p.kw, p.left, p.dil_w, p.sw, p.w_out, p.kh * p.kw * p.c_group, p.c_group,
                   p.col_count, p.col_offset)
        parallel_for(_input_chunks, &p, n_chunks, 1, threads)
    free(p.row_count)
    if p.failed:
        raise MemoryError("conv2d_backprop_input: could not allocate a patch-gradient buffer")
