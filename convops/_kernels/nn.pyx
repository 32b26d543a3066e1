# The fused steps of convops.nn's layers: bias + ReLU forward and backward, MaxPooling2D's
# training pass for windows that do not overlap, and the optimizers' updates. Private:
# convops/nn has validated the arrays.
# Per-lane partial sums in a fixed order keep the bias gradient independent of the thread count;
# every other output element is written by one task.
from libc.stddef cimport ptrdiff_t
from libc.string cimport memset

from convops._kernels.parallel cimport effective_threads, parallel_for, chunk_for
from convops._kernels.common cimport floating

cdef extern from "nn_pool_simd.h" nogil:
    ctypedef void (*convops_pool2x2_f32)(const float*, ptrdiff_t, float*, unsigned char*, ptrdiff_t, ptrdiff_t,
                                         ptrdiff_t, float) noexcept nogil
    ctypedef void (*convops_pool2x2_f64)(const double*, ptrdiff_t, double*, unsigned char*, ptrdiff_t, ptrdiff_t,
                                         ptrdiff_t, double) noexcept nogil
    convops_pool2x2_f32 convops_pool2x2s_f32[3]
    convops_pool2x2_f64 convops_pool2x2s_f64[3]

cdef extern from "nn_bias_simd.h" nogil:
    ctypedef void (*convops_bias_bwd_f32)(float*, const float*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                          int) noexcept nogil
    ctypedef void (*convops_bias_bwd_f64)(double*, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                          int) noexcept nogil
    convops_bias_bwd_f32 convops_bias_bwds_f32[3]
    convops_bias_bwd_f64 convops_bias_bwds_f64[3]

cdef extern from "nn_first_conv_simd.h" nogil:
    ctypedef struct convops_first_conv_plan:
        ptrdiff_t height, width, c_in
        ptrdiff_t kh, kw, sh, sw, dh, dw, pad_top, pad_left
        ptrdiff_t conv_h, conv_w
        ptrdiff_t pool_h, pool_w, c_out
        ptrdiff_t pkh, pkw, psh, psw, ptop, pleft
        int relu
    ctypedef void (*convops_first_conv_f32)(const float*, const float*, const float*, const unsigned char*,
                                            float*, double*, ptrdiff_t, ptrdiff_t,
                                            const convops_first_conv_plan*) noexcept nogil
    ctypedef void (*convops_first_conv_f64)(const double*, const double*, const double*, const unsigned char*,
                                            double*, double*, ptrdiff_t, ptrdiff_t,
                                            const convops_first_conv_plan*) noexcept nogil
    convops_first_conv_f32 convops_first_convs_f32[3]
    convops_first_conv_f64 convops_first_convs_f64[3]

# --------------------------------------------------------------------------- bias + ReLU (convops.nn)

cdef struct BiasPlan:
    void* z
    const void* y
    const void* bias
    double* sums
    Py_ssize_t m, channels, lanes
    bint use_bias, relu
    int code
    int isa                     # the backward's SIMD variant (nn_bias_simd.h), -1: the Cython loop


cdef void _bias_forward_rows(floating* z, const floating* bias, const BiasPlan* p, Py_ssize_t r0,
                             Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, c, channels = p.channels
    cdef floating v
    cdef floating* zr
    for row in range(r0, r1):
        zr = z + row * channels
        if p.use_bias and p.relu:
            # One loop, the same two steps per element (the add rounds, then the select).
            for c in range(channels):
                v = zr[c] + bias[c]
                zr[c] = 0 if v <= 0 else v
        elif p.use_bias:
            for c in range(channels):
                zr[c] = zr[c] + bias[c]
        elif p.relu:
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
    p.isa = -1
    with nogil:
        parallel_for(_bias_forward_chunk, &p, p.m, chunk_for(p.m, threads), threads)


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
        if p.isa >= 0 and r1 > r0:
            if floating is float:
                convops_bias_bwds_f32[p.isa](dz, y, sums, r0, r1, channels, p.relu)
            else:
                convops_bias_bwds_f64[p.isa](dz, y, sums, r0, r1, channels, p.relu)
            continue
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
                      bint relu, int num_threads, int isa=-1):
    """The backward pass of bias + ReLU in one pass, in place: dz = dz * (y > 0) when `relu`, and
    the bias gradient's partial sums in double: rows are cut into len(partial_sums) fixed lanes
    and lane l adds its rows into partial_sums[l] (the caller adds the lanes in order, so the
    result does not depend on the thread count). dz, y: (M, C); partial_sums: (lanes, C). `isa`:
    the SIMD variant (an index into the tables of src/nn_bias_simd.h), or -1 for the Cython loop;
    both give the same bits."""
    cdef BiasPlan p
    cdef int threads = effective_threads(num_threads, dz.shape[0] * dz.shape[1])
    p.z, p.y, p.sums = &dz[0, 0], &y[0, 0], &partial_sums[0, 0]
    p.m, p.channels, p.lanes = dz.shape[0], dz.shape[1], partial_sums.shape[0]
    p.relu = relu
    p.code = 0 if floating is float else 1
    p.isa = isa
    with nogil:
        parallel_for(_bias_backward_chunk, &p, p.lanes, 1, threads)


# --------------------------------------------------------------------------- max pooling (MaxPooling2D)
#
# The training pass of MaxPooling2D with windows that do not overlap (KH <= sh and KW <= sw, Keras's
# default strides = pool_size): the forward pass writes the maxima and, per output element, the
# position of its argmax within its window (one byte: ky*KW + kx, so KH*KW <= 256); the backward
# pass writes every input cell once from those codes. pooling.py's general kernels (an int32 index
# per output, a zeroed dx and a scatter) give the same numbers for any window; these exist for speed.

cdef enum:
    _BLOCK = 64  # channels handled at once: running values in local arrays the compiler keeps apart


cdef struct PoolTrainPlan:
    const void* x
    void* out
    unsigned char* codes
    const void* dy
    void* dx
    Py_ssize_t height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left
    double lowest
    int code
    int isa                     # the 2x2 forward's SIMD variant (nn_pool_simd.h), -1: the Cython loop


cdef inline void _window_2x2(const floating* s0, const floating* s1, const floating* s2, const floating* s3,
                             floating* out, unsigned char* codes, Py_ssize_t channels, floating lowest) noexcept nogil:
    # _pool_forward_rows' two running values for a whole 2x2 window (cells s0..s3 in row-major
    # order) in registers: no round trip through the local arrays for each cell.
    cdef Py_ssize_t c
    cdef floating v, a, m
    cdef int w, mask
    for c in range(channels):
        v = s0[c]
        a, w = v, 0
        m = v if v > lowest else lowest
        v = s1[c]
        mask = -(<int>(v > a))
        w = (w & ~mask) | (1 & mask)
        a = v if v > a else a
        m = v if v > m else m
        v = s2[c]
        mask = -(<int>(v > a))
        w = (w & ~mask) | (2 & mask)
        a = v if v > a else a
        m = v if v > m else m
        v = s3[c]
        mask = -(<int>(v > a))
        w = (w & ~mask) | (3 & mask)
        m = v if v > m else m
        out[c] = m
        codes[c] = <unsigned char>w


cdef void _pool_forward_rows(const floating* x, floating* out, const PoolTrainPlan* p, Py_ssize_t r0,
                             Py_ssize_t r1) noexcept nogil:
    # Per channel, two running values over the window's cells in row-major order:
    # - `arg` and its position `where`: TensorFlow's argmax (start at the first real cell, move only
    #   to a strictly greater value; a NaN first cell keeps it), the cell MaxPoolGrad sends dy to;
    # - `best`: tf.nn.max_pool2d's value (start at `lowest`, keep strictly greater: NaN ignored).
    # GCC 12 vectorises the channel loop only in this form: loads into locals, each select with
    # its own comparison, the position picked by a 0/-1 mask (a float select sharing another's
    # comparison is left as a branch, as is a conditional float add).
    cdef Py_ssize_t row, n, oy, ox, y_start, x_start, y0, y1, x0, x1, iy, ix, b, c, c0, nc, lo, hi
    cdef Py_ssize_t channels = p.channels, width = p.width, kw = p.kw, block = _BLOCK
    cdef bint pair = p.kh == 2 and kw == 2
    cdef floating arg[_BLOCK]
    cdef floating best[_BLOCK]
    cdef int where[_BLOCK]
    cdef floating value, a, m, lowest = <floating>p.lowest
    cdef int k, mask
    cdef const floating* image
    cdef const floating* src
    cdef floating* o
    cdef unsigned char* codes
    for row in range(r0, r1):
        n = row // p.h_out
        oy = row - n * p.h_out
        image = x + n * p.height * width * channels
        y_start = oy * p.sh - p.top
        y0, y1 = max(y_start, 0), min(y_start + p.kh, p.height)
        # The run [lo, hi) of whole 2x2 windows (no cell in the padding) goes to the SIMD copy.
        lo = hi = 0
        if pair and p.isa >= 0 and y1 - y0 == 2 and width - 2 + p.left >= 0:
            lo = (p.left + p.sw - 1) // p.sw
            hi = min(p.w_out, (width - 2 + p.left) // p.sw + 1)
            if hi > lo:
                src = image + (y0 * width + lo * p.sw - p.left) * channels
                if floating is float:
                    convops_pool2x2s_f32[p.isa](src, width * channels, out + (row * p.w_out + lo) * channels,
                                                p.codes + (row * p.w_out + lo) * channels, hi - lo,
                                                p.sw * channels, channels, lowest)
                else:
                    convops_pool2x2s_f64[p.isa](src, width * channels, out + (row * p.w_out + lo) * channels,
                                                p.codes + (row * p.w_out + lo) * channels, hi - lo,
                                                p.sw * channels, channels, lowest)
        for ox in range(p.w_out):
            if lo <= ox < hi:
                continue
            x_start = ox * p.sw - p.left
            x0, x1 = max(x_start, 0), min(x_start + kw, width)
            o = out + (row * p.w_out + ox) * channels
            codes = p.codes + (row * p.w_out + ox) * channels
            if pair and y1 - y0 == 2 and x1 - x0 == 2:
                src = image + (y0 * width + x0) * channels
                _window_2x2(src, src + channels, src + width * channels, src + (width + 1) * channels, o, codes,
                            channels, lowest)
                continue
            for b in range((channels + block - 1) // block):
                c0 = b * block
                nc = min(block, channels - c0)
                src = image + (y0 * width + x0) * channels + c0
                k = <int>((y0 - y_start) * kw + (x0 - x_start))
                for c in range(nc):
                    value = src[c]
                    arg[c] = value
                    where[c] = k
                    best[c] = value if value > lowest else lowest
                for iy in range(y0, y1):
                    for ix in range(x0, x1):
                        if iy == y0 and ix == x0:
                            continue
                        src = image + (iy * width + ix) * channels + c0
                        k = <int>((iy - y_start) * kw + (ix - x_start))
                        for c in range(nc):
                            value, a, m = src[c], arg[c], best[c]
                            mask = -(<int>(value > a))
                            where[c] = (where[c] & ~mask) | (k & mask)
                            arg[c] = value if value > a else a
                            best[c] = value if value > m else m
                for c in range(nc):
                    o[c0 + c] = best[c]
                    codes[c0 + c] = <unsigned char>where[c]


cdef void _pool_forward_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const PoolTrainPlan* p = <const PoolTrainPlan*>ctx
    if p.code == 0:
        _pool_forward_rows(<const float*>p.x, <float*>p.out, p, r0, r1)
    else:
        _pool_forward_rows(<const double*>p.x, <double*>p.out, p, r0, r1)


cdef void _plan_pool(PoolTrainPlan* p, Py_ssize_t height, Py_ssize_t width, Py_ssize_t channels, Py_ssize_t h_out,
                     Py_ssize_t w_out, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t top,
                     Py_ssize_t left) noexcept nogil:
    p.height, p.width, p.channels, p.h_out, p.w_out = height, width, channels, h_out, w_out
    p.kh, p.kw, p.sh, p.sw, p.top, p.left = kh, kw, sh, sw, top, left


def max_pool_train_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                           unsigned char[:, :, :, ::1] codes, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                           Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left, floating lowest,
                           int num_threads, int isa):
    """out = tf.nn.max_pool2d(x) (running maximum from `lowest`, NaN ignored) and codes = the
    position ky*KW + kx of TensorFlow's argmax (first real cell, then strictly greater) in each
    window, counted from the window's unclipped corner. x: (N, H, W, C); out, codes:
    (N, H_out, W_out, C). The caller guarantees KH*KW <= 256 and that every window holds a real
    cell (a non-empty input). `isa`: the 2x2 windows' SIMD variant (an index into the tables of
    nn_pool_simd.h, which the caller checked this CPU runs), -1 for the Cython loops; the same
    bits either way. Parallel over output rows."""
    cdef PoolTrainPlan p
    cdef Py_ssize_t rows = out.shape[0] * out.shape[1]
    cdef int threads = effective_threads(num_threads, rows * out.shape[2] * out.shape[3] * kh * kw)
    _plan_pool(&p, x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2], kh, kw, sh, sw, pad_top, pad_left)
    p.x, p.out, p.codes = &x[0, 0, 0, 0], &out[0, 0, 0, 0], &codes[0, 0, 0, 0]
    p.lowest = lowest
    p.isa = isa
    p.code = 0 if floating is float else 1
    with nogil:
        parallel_for(_pool_forward_chunk, &p, rows, chunk_for(rows, threads), threads)


cdef inline void _cells_1x2(const floating* g, const unsigned char* codes, floating* d, Py_ssize_t channels,
                            unsigned char k) noexcept nogil:
    # _pool_backward_rows for the two cells (codes k, k + 1) of one row of a full window 2 wide.
    cdef Py_ssize_t c
    cdef floating value, zero = 0
    cdef unsigned char code
    for c in range(channels):
        value = zero + g[c]
        code = codes[c]
        d[c] = value if code == k else zero
        d[channels + c] = value if code == k + 1 else zero


cdef void _pool_backward_rows(const floating* dy, floating* dx, const PoolTrainPlan* p, Py_ssize_t r0,
                              Py_ssize_t r1) noexcept nogil:
    # Windows do not overlap, so an input cell receives at most one dy: MaxPoolGrad's zeroed
    # cell plus that dy, `zero + g` (a -0.0 gradient gives +0.0, as the sum does), or 0. The
    # sums go to a local array first: GCC 12 leaves a select that guards a float add as a branch.
    cdef Py_ssize_t row, n, iy, oy, ox, y_start, x_start, x0, x1, ix, j, b, c, c0, nc, offset
    cdef Py_ssize_t channels = p.channels, width = p.width, kw = p.kw, w_out = p.w_out, block = _BLOCK
    cdef unsigned char k
    cdef floating zero = 0
    cdef floating grad[_BLOCK]
    cdef floating* d
    cdef const floating* g
    cdef const unsigned char* codes
    for row in range(r0, r1):
        n = row // p.height
        iy = row - n * p.height
        d = dx + row * width * channels
        oy = (iy + p.top) // p.sh                   # the only window that can hold row iy
        y_start = oy * p.sh - p.top
        if oy >= p.h_out or iy >= y_start + p.kh:
            memset(d, 0, width * channels * sizeof(floating))
            continue
        ix = 0
        for ox in range(w_out):
            x_start = ox * p.sw - p.left
            x0, x1 = max(x_start, 0), min(x_start + kw, width)
            if x0 > ix:                             # columns between windows
                memset(d + ix * channels, 0, (x0 - ix) * channels * sizeof(floating))
            offset = ((n * p.h_out + oy) * w_out + ox) * channels
            if kw == 2 and x1 - x0 == 2:
                _cells_1x2(dy + offset, p.codes + offset, d + x0 * channels, channels,
                           <unsigned char>((iy - y_start) * 2))
                ix = max(ix, x1)
                continue
            for b in range((channels + block - 1) // block):
                c0 = b * block
                nc = min(block, channels - c0)
                g = dy + offset + c0
                codes = p.codes + offset + c0
                for c in range(nc):
                    grad[c] = zero + g[c]
                for j in range(x0, x1):
                    k = <unsigned char>((iy - y_start) * kw + (j - x_start))
                    for c in range(nc):
                        d[j * channels + c0 + c] = grad[c] if codes[c] == k else zero
            ix = max(ix, x1)
        if width > ix:
            memset(d + ix * channels, 0, (width - ix) * channels * sizeof(floating))


cdef void _pool_backward_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const PoolTrainPlan* p = <const PoolTrainPlan*>ctx
    if p.code == 0:
        _pool_backward_rows(<const float*>p.dy, <float*>p.dx, p, r0, r1)
    else:
        _pool_backward_rows(<const double*>p.dy, <double*>p.dx, p, r0, r1)


def max_pool_train_backward(const floating[:, :, :, ::1] dy, const unsigned char[:, :, :, ::1] codes,
                            floating[:, :, :, ::1] dx, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                            Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left, int num_threads):
    """dx = MaxPoolGrad: every dy goes to the cell its code names (max_pool_train_forward's), for
    windows that do not overlap (KH <= sh, KW <= sw). dy, codes: (N, H_out, W_out, C); dx:
    (N, H, W, C), overwritten (every cell is written). Parallel over input rows."""
    cdef PoolTrainPlan p
    cdef Py_ssize_t rows = dx.shape[0] * dx.shape[1]
    cdef int threads = effective_threads(num_threads, rows * dx.shape[2] * dx.shape[3])
    _plan_pool(&p, dx.shape[1], dx.shape[2], dx.shape[3], dy.shape[1], dy.shape[2], kh, kw, sh, sw, pad_top,
               pad_left)
    p.dy, p.dx, p.codes = &dy[0, 0, 0, 0], &dx[0, 0, 0, 0], <unsigned char*>&codes[0, 0, 0, 0]
    p.code = 0 if floating is float else 1
    with nogil:
        parallel_for(_pool_backward_chunk, &p, rows, chunk_for(rows, threads), threads)


# --------------------------------------------------------------------------- a first Conv2D under a max pool


cdef struct FirstConvTask:
    convops_first_conv_plan plan
    const void* x
    const void* dy
    const void* pooled
    const unsigned char* codes
    void* dw                    # a row of dw_size per lane, K x C_out partial sums at its start
    double* bias                # a row of bias_size per lane, C_out partial sums at its start
    Py_ssize_t n, lanes, dw_size, bias_size
    int code, isa


cdef void _first_conv_chunk(void* ctx, ptrdiff_t l0, ptrdiff_t l1) noexcept nogil:
    cdef const FirstConvTask* t = <const FirstConvTask*>ctx
    cdef Py_ssize_t lane, n0, n1
    for lane in range(l0, l1):
        n0 = lane * t.n // t.lanes
        n1 = (lane + 1) * t.n // t.lanes
        if t.code == 0:
            convops_first_convs_f32[t.isa](<const float*>t.x, <const float*>t.dy, <const float*>t.pooled, t.codes,
                                           <float*>t.dw + lane * t.dw_size, t.bias + lane * t.bias_size, n0, n1,
                                           &t.plan)
        else:
            convops_first_convs_f64[t.isa](<const double*>t.x, <const double*>t.dy, <const double*>t.pooled,
                                           t.codes, <double*>t.dw + lane * t.dw_size, t.bias + lane * t.bias_size,
                                           n0, n1, &t.plan)


def first_conv_grads_from_max_pool(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dy,
                                   const floating[:, :, :, ::1] pooled, const unsigned char[:, :, :, ::1] codes,
                                   floating[:, ::1] dw_partial, double[:, ::1] bias_partial, tuple conv,
                                   Py_ssize_t conv_h, Py_ssize_t conv_w, tuple pool, bint relu, int num_threads,
                                   int isa):
    """The filter and bias gradients of a Conv2D (+ bias, + ReLU when `relu`) whose output a max
    pool with windows that do not overlap reads, from that pool's gradient, without dL/dz
    (src/nn_first_conv_ukernel.h). x: (N, H, W, C_in), the conv's input; dy, pooled, codes:
    (N, PH, PW, C_out), the pool's gradient, output and argmax positions (ky*PKW + kx from the
    window's unclipped corner). conv = (KH, KW, sh, sw, dh, dw, pad_top, pad_left); the conv's
    output is conv_h x conv_w; pool = (PKH, PKW, psh, psw, pad_top, pad_left), PKH*PKW <= 4.
    dw_partial: (lanes, >= KH*KW*C_in*C_out), bias_partial: (lanes, >= C_out), both zeroed by the
    caller, each lane's row a cache line or more from the next (threads write them at every pooled
    output); lane l sums images [l*N // lanes, (l+1)*N // lanes) into the start of its rows (dw in
    HWIO order) and the caller adds the lanes in order, so the result does not depend on the thread
    count. `isa`: the SIMD variant (an index into the tables of src/nn_first_conv_simd.h, which the
    caller checked this CPU runs); every variant gives the same bits."""
    cdef FirstConvTask t
    cdef Py_ssize_t lanes = dw_partial.shape[0]
    if x.shape[0] == 0 or lanes == 0:
        return
    t.plan.height, t.plan.width, t.plan.c_in = x.shape[1], x.shape[2], x.shape[3]
    t.plan.kh, t.plan.kw, t.plan.sh, t.plan.sw, t.plan.dh, t.plan.dw, t.plan.pad_top, t.plan.pad_left = conv
    t.plan.conv_h, t.plan.conv_w = conv_h, conv_w
    t.plan.pool_h, t.plan.pool_w, t.plan.c_out = dy.shape[1], dy.shape[2], dy.shape[3]
    t.plan.pkh, t.plan.pkw, t.plan.psh, t.plan.psw, t.plan.ptop, t.plan.pleft = pool
    t.plan.relu = relu
    t.x, t.dy, t.pooled, t.codes = &x[0, 0, 0, 0], &dy[0, 0, 0, 0], &pooled[0, 0, 0, 0], &codes[0, 0, 0, 0]
    t.dw, t.bias = &dw_partial[0, 0], &bias_partial[0, 0]
    t.n, t.lanes, t.dw_size, t.bias_size = x.shape[0], lanes, dw_partial.shape[1], bias_partial.shape[1]
    t.code = 0 if floating is float else 1
    t.isa = isa
    cdef int threads = effective_threads(num_threads, dy.size * t.plan.kh * t.plan.kw * t.plan.c_in * 4)
    with nogil:
        parallel_for(_first_conv_chunk, &t, lanes, 1, threads)


# --------------------------------------------------------------------------- optimizer updates
#
# One pass per variable for convops.nn.optimizers, which keeps the NumPy form of each update as
# its reference (`_update_reference`); the loops are in src/nn_optim.h (same operations, same
# order, same bits). NumPy made eight to eleven passes and temporaries for a Keras RMSprop or Adam
# step: ~0.2 ms of the tutorial's 10 ms training step. The caller passes C-contiguous 1-D arrays
# of one dtype, no two sharing memory; `average` / `momentum_slot` may be None.

cdef extern from "nn_optim.h" nogil:
    void convops_rmsprop_f32(ptrdiff_t, float*, const float*, float*, float*, float*, float, float, float, float,
                             float)
    void convops_rmsprop_f64(ptrdiff_t, double*, const double*, double*, double*, double*, double, double, double,
                             double, double)
    void convops_adam_f32(ptrdiff_t, float*, const float*, float*, float*, double, float, float, float)
    void convops_adam_f64(ptrdiff_t, double*, const double*, double*, double*, double, double, double, double)
    void convops_sgd_f32(ptrdiff_t, float*, const float*, float*, float, float, int)
    void convops_sgd_f64(ptrdiff_t, double*, const double*, double*, double, double, int)


def rmsprop_update(floating[::1] var, const floating[::1] grad, floating[::1] velocity, floating[::1] average,
                   floating[::1] momentum_slot, floating learning_rate, floating rho, floating one_minus_rho,
                   floating epsilon, floating momentum):
    """Keras's RMSprop step in place (optimizers.RMSprop._update_reference): v = v*rho +
    one_minus_rho*g*g; with `average` (centered) a = a*rho + one_minus_rho*g and d = (v - a*a) +
    epsilon, else d = v + epsilon; inc = g*lr / sqrt(d); with `momentum_slot` m = m*momentum + inc
    and var -= m, else var -= inc."""
    cdef Py_ssize_t n = var.shape[0]
    if n == 0:
        return
    cdef floating* avg = NULL if average is None else &average[0]
    cdef floating* mom = NULL if momentum_slot is None else &momentum_slot[0]
    with nogil:
        if floating is float:
            convops_rmsprop_f32(n, &var[0], &grad[0], &velocity[0], avg, mom, learning_rate, rho, one_minus_rho,
                                epsilon, momentum)
        else:
            convops_rmsprop_f64(n, &var[0], &grad[0], &velocity[0], avg, mom, learning_rate, rho, one_minus_rho,
                                epsilon, momentum)


def adam_update(floating[::1] var, const floating[::1] grad, floating[::1] m_slot, floating[::1] v_slot,
                double alpha, floating one_minus_beta_1, floating one_minus_beta_2, floating epsilon):
    """Keras's Adam step in place (optimizers.Adam._update_reference): m += (g - m)*(1 - b1);
    v += (g*g - v)*(1 - b2); var -= (m*alpha) / (sqrt(v) + epsilon), the quotient in float64
    (`alpha`, the step with both bias corrections, is a float64 scalar there)."""
    cdef Py_ssize_t n = var.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            convops_adam_f32(n, &var[0], &grad[0], &m_slot[0], &v_slot[0], alpha, one_minus_beta_1,
                             one_minus_beta_2, epsilon)
        else:
            convops_adam_f64(n, &var[0], &grad[0], &m_slot[0], &v_slot[0], alpha, one_minus_beta_1,
                             one_minus_beta_2, epsilon)


def sgd_update(floating[::1] var, const floating[::1] grad, floating[::1] momentum_slot, floating learning_rate,
               floating momentum, bint nesterov):
    """Keras's SGD step in place (optimizers.SGD._update_reference): s = g*lr; without
    `momentum_slot` var -= s; else m = m*momentum - s and var += m (Nesterov: var += m*momentum - s)."""
    cdef Py_ssize_t n = var.shape[0]
    if n == 0:
        return
    cdef floating* mom = NULL if momentum_slot is None else &momentum_slot[0]
    with nogil:
        if floating is float:
            convops_sgd_f32(n, &var[0], &grad[0], mom, learning_rate, momentum, nesterov)
        else:
            convops_sgd_f64(n, &var[0], &grad[0], mom, learning_rate, momentum, nesterov)
