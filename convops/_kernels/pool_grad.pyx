# Pooling gradients: max pooling's argmax and its scatter, and average pooling's gradient (a
# readable gather loop and the fast one beside it). Private: convops/pooling.py has validated
# every argument, resolved padding to explicit integers, made the arrays C-contiguous NHWC and
# allocated every result. Each destination element is summed by one task in a fixed order, so
# results never depend on the thread count.
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from convops._kernels.parallel cimport effective_threads, parallel_for, chunk_for
from convops._kernels.common cimport floating, index_t, pool_t
from convops._kernels.pool cimport PoolPlan, plan_type, plan_window

# --------------------------------------------------------------------------- max pooling

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
    """Max pooling that also records where each maximum is: argmax = (y*W + x)*C + c in its image
    (the caller checks that H*W*C fits the 32-bit index the scan uses).

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
    plan_window(&p, x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2], kh, kw, sh, sw,
                pad_top, pad_left)
    plan_type(&p, lowest)
    p.x, p.out, p.argmax = &x[0, 0, 0, 0], &out[0, 0, 0, 0], &argmax[0, 0, 0, 0]
    p.index32 = index_t is int
    p.values_from_argmax = values_from_argmax
    with nogil:
        run_argmax(&p, rows, rows * out.shape[2] * kh * kw * x.shape[3], num_threads)
    if p.failed:
        raise MemoryError("max_pool_argmax: could not allocate a scratch row")


cdef void run_argmax(PoolPlan* plan, Py_ssize_t rows, Py_ssize_t work, int num_threads) noexcept nogil:
    cdef int threads = effective_threads(num_threads, work)
    plan.failed = False
    parallel_for(_argmax_chunk, plan, rows, chunk_for(rows, threads), threads)


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
    p.size_in, p.size_out = dx.shape[1], dy.shape[1]
    p.dx, p.dy, p.argmax = &dx[0, 0], &dy[0, 0], <void*>&argmax[0, 0]
    p.index32 = index_t is int
    plan_type(&p, <floating>0)
    with nogil:
        run_scatter(&p, dx.shape[0], num_threads)


cdef void run_scatter(PoolPlan* plan, Py_ssize_t n_batch, int num_threads) noexcept nogil:
    cdef int threads = effective_threads(num_threads, n_batch * (plan.size_in + plan.size_out))
    parallel_for(_scatter_chunk, plan, n_batch, chunk_for(n_batch, threads), threads)


# --------------------------------------------------------------------------- average pooling

# The readable loop: every input cell starts at 0 and gathers its windows' shares. Kept as the
# reference for the fast loops below (tests run both against TensorFlow, the readable one under
# convops.dispatch.force(avg_pool2d_grad="readable")).
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
    over input rows. `readable`: run the readable loop instead of the fast ones.
    """
    cdef PoolPlan p
    plan_window(&p, dx.shape[1], dx.shape[2], dx.shape[3], dy.shape[1], dy.shape[2], kh, kw, sh, sw,
                pad_top, pad_left)
    plan_type(&p, <floating>0)
    p.dy, p.dx = &dy[0, 0, 0, 0], &dx[0, 0, 0, 0]
    p.count_include_pad = count_include_pad
    p.readable = readable
    with nogil:
        run_avg_grad(&p, dx.shape[0] * dx.shape[1], num_threads)


cdef void run_avg_grad(PoolPlan* plan, Py_ssize_t rows, int num_threads) noexcept nogil:
    # `rows` input rows (N * H); the work per row: W * C cells, each gathering from up to
    # ceil(KH / sh) * ceil(KW / sw) windows (counted as max(1, KH // sh) * max(1, KW // sw)).
    cdef int threads = effective_threads(num_threads, rows * plan.width * plan.channels
                                         * max(1, plan.kh // plan.sh) * max(1, plan.kw // plan.sw))
    parallel_for(_avg_grad_chunk, plan, rows, chunk_for(rows, threads), threads)
