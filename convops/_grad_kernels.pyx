# Backward kernels: the gradients of conv2d, max/avg pooling and pad. Private: convops/gradients.py
# has validated every argument, resolved padding to explicit integers, made the arrays
# C-contiguous NHWC and allocated every result. These functions trust their inputs, hold no Python
# objects in their loops and release the GIL. Scratch buffers (patch matrices) are theirs.
#
# Parallel loops are written as *gathers* wherever several sources add into one destination: each
# destination element is summed by one thread in a fixed order, so results never depend on the
# thread count and there are no races (a scatter with atomics would be neither).
from cython.parallel cimport prange, threadid
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport sgemm, dgemm

from convops._openmp cimport effective_threads

ctypedef fused floating:
    float
    double

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


cdef inline void _im2col_row(const floating* x, Py_ssize_t height, Py_ssize_t width,
                             Py_ssize_t c_in, floating* dst, Py_ssize_t m,
                             Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t kh, Py_ssize_t kw,
                             Py_ssize_t c_group, Py_ssize_t c_offset, Py_ssize_t sh, Py_ssize_t sw,
                             Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pad_top,
                             Py_ssize_t pad_left) noexcept nogil:
    # One row of the patch matrix: the receptive field of output position m in (ky, kx, c) order
    # (the order of the HWIO filter's first three axes), zeros where the window is over padding.
    # A private copy of the forward kernel's routine: the two modules evolve independently.
    cdef Py_ssize_t n = m // (h_out * w_out)
    cdef Py_ssize_t rem = m - n * h_out * w_out
    cdef Py_ssize_t oy = rem // w_out
    cdef Py_ssize_t ox = rem - oy * w_out
    cdef Py_ssize_t ky, kx, iy, ix, c
    cdef const floating* src
    for ky in range(kh):
        iy = oy * sh - pad_top + ky * dh
        for kx in range(kw):
            ix = ox * sw - pad_left + kx * dw
            # Plain loops, not memcpy: with one input channel (a first layer) a call per tap
            # costs more than the copy.
            if 0 <= iy < height and 0 <= ix < width:
                src = x + ((n * height + iy) * width + ix) * c_in + c_offset
                for c in range(c_group):
                    dst[c] = src[c]
            else:
                for c in range(c_group):
                    dst[c] = 0
            dst += c_group


def conv2d_backprop_filter(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dy,
                           floating[:, :, :, ::1] dw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                           Py_ssize_t dwl, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                           Py_ssize_t chunk_rows, Py_ssize_t lanes, int num_threads):
    """Filter gradient: dw[ky, kx, c, o] = sum_m patch[m, (ky, kx, c)] * dy[m, o], per group.

    x: (N, H, W, C_in), dy: (N, H_out, W_out, C_out), dw: (KH, KW, C_in/groups, C_out), overwritten.
    `dwl` is the width dilation. The M = N*H_out*W_out output positions are cut into chunks of
    `chunk_rows`; chunk i belongs to lane i % `lanes`. Each lane (one thread) builds the patch
    matrix P of its chunks (rows x K, K = KH*KW*C_in/groups) in its thread's scratch and
    accumulates P^T . dy_g into its own partial sum with one BLAS call per chunk and group; the
    lanes' partials are then added in lane order. Chunks and lanes are chosen by the caller from
    the problem size alone, so the result is the same for any thread count. BLAS must run
    single-threaded here (the caller arranges it): the parallelism is ours. The caller
    guarantees BLAS-sized dimensions and non-empty x, dy.
    """
    cdef Py_ssize_t kh = dw.shape[0], kw = dw.shape[1], c_group = dw.shape[2], c_out = dw.shape[3]
    cdef Py_ssize_t h_out = dy.shape[1], w_out = dy.shape[2]
    cdef Py_ssize_t m_total = dy.shape[0] * h_out * w_out
    cdef Py_ssize_t k = kh * kw * c_group
    cdef Py_ssize_t kc = k * c_out
    cdef Py_ssize_t c_out_group = c_out // groups
    cdef Py_ssize_t height = x.shape[1], width = x.shape[2], c_in = x.shape[3]
    cdef Py_ssize_t n_chunks = (m_total + chunk_rows - 1) // chunk_rows
    cdef Py_ssize_t lane, chunk, m0, rows, r, g, e, tid
    cdef int threads
    cdef floating beta, total
    cdef floating* dw_ptr = &dw[0, 0, 0, 0]
    cdef const floating* dy_ptr = &dy[0, 0, 0, 0]
    cdef const floating* x_ptr = &x[0, 0, 0, 0]
    cdef floating* patches
    cdef floating* partials
    cdef floating* target
    lanes = max(1, min(lanes, n_chunks))
    threads = effective_threads(num_threads, m_total * kc // 16) if lanes > 1 else 1
    threads = <int>min(<Py_ssize_t>threads, lanes)
    patches = <floating*>malloc(threads * chunk_rows * k * sizeof(floating))
    # Lane 0 accumulates straight into dw; the others into scratch partials.
    partials = <floating*>malloc(max(lanes - 1, 1) * kc * sizeof(floating))
    if patches == NULL or partials == NULL:
        free(patches)
        free(partials)
        raise MemoryError("conv2d_backprop_filter: could not allocate the patch buffers")
    try:
        with nogil:
            for lane in prange(lanes, num_threads=threads, schedule="static"):
                tid = threadid()
                target = dw_ptr if lane == 0 else partials + (lane - 1) * kc
                chunk = lane
                while chunk < n_chunks:
                    m0 = chunk * chunk_rows
                    rows = min(chunk_rows, m_total - m0)
                    beta = 0 if chunk == lane else 1
                    for g in range(groups):
                        for r in range(rows):
                            _im2col_row(x_ptr, height, width, c_in, patches + (tid * chunk_rows + r) * k, m0 + r,
                                        h_out, w_out, kh, kw, c_group, g * c_group, sh, sw, dh, dwl, pad_top,
                                        pad_left)
                        # Row-major dw_g (K x C_out_g, row stride C_out) is column-major (C_out_g x K):
                        # dw_g^T = dy_g^T . P, with dy_g^T read as column-major (C_out_g x rows).
                        _gemm(False, True, <int>c_out_group, <int>k, <int>rows,
                              dy_ptr + m0 * c_out + g * c_out_group, <int>c_out, patches + tid * chunk_rows * k,
                              <int>k, beta, target + g * c_out_group, <int>c_out)
                    chunk = chunk + lanes
            if lanes > 1:
                for e in prange(kc, num_threads=effective_threads(num_threads, kc * lanes), schedule="static"):
                    total = dw_ptr[e]
                    for lane in range(1, lanes):
                        total = total + partials[(lane - 1) * kc + e]
                    dw_ptr[e] = total
    finally:
        free(patches)
        free(partials)


def conv2d_backprop_input(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] w,
                          floating[:, :, :, ::1] dx, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
                          Py_ssize_t dwl, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                          Py_ssize_t chunk_images, int num_threads):
    """Input gradient (= transposed convolution) as GEMM + col2im, in parallel over image chunks.

    dy: (N, H_out, W_out, C_out), w: (KH, KW, C_in/groups, C_out), dx: (N, H, W, C_in), overwritten.
    For each chunk of `chunk_images` images (one thread per chunk) and each group: the patch
    gradient dP = dy_g . w_g^T (rows x K) is one single-threaded BLAS call into the thread's
    scratch; then every input cell of those images *gathers* the entries of dP that its taps
    touched (col2im). Cells no window reaches (rows dropped by a VALID stride) get 0. Every dx
    element is summed by one thread in a fixed order: the result does not depend on the thread
    count. The caller guarantees BLAS-sized dimensions and non-empty dy, w and dx.
    """
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], c_group = w.shape[2], c_out = w.shape[3]
    cdef Py_ssize_t n_batch = dx.shape[0], height = dx.shape[1], width = dx.shape[2], c_in = dx.shape[3]
    cdef Py_ssize_t h_out = dy.shape[1], w_out = dy.shape[2]
    cdef Py_ssize_t k = kh * kw * c_group
    cdef Py_ssize_t c_out_group = c_out // groups
    cdef Py_ssize_t per_image = h_out * w_out
    cdef Py_ssize_t n_chunks = (n_batch + chunk_images - 1) // chunk_images
    cdef Py_ssize_t chunk, n0, images, rows, row, nl, iy, ix, ky, kx, ty, tx, oy, ox, c, g, tid
    cdef int threads = effective_threads(num_threads, n_batch * per_image * k * c_out_group // 16) \
        if n_chunks > 1 else 1
    cdef floating* acc
    cdef const floating* src
    cdef floating* bufs
    cdef floating* buf
    cdef const floating* dy_ptr = &dy[0, 0, 0, 0]
    cdef const floating* w_ptr = &w[0, 0, 0, 0]
    cdef floating* dx_ptr = &dx[0, 0, 0, 0]
    threads = <int>min(<Py_ssize_t>threads, n_chunks)
    bufs = <floating*>malloc(threads * chunk_images * per_image * k * sizeof(floating))
    if bufs == NULL:
        raise MemoryError("conv2d_backprop_input: could not allocate the patch-gradient buffers")
    try:
        with nogil:
            for chunk in prange(n_chunks, num_threads=threads, schedule="static"):
                tid = threadid()
                buf = bufs + tid * chunk_images * per_image * k
                n0 = chunk * chunk_images
                images = min(chunk_images, n_batch - n0)
                rows = images * per_image
                for g in range(groups):
                    # Row-major dP (rows x K) is column-major dP^T (K x rows) = w_g (K x C_out_g) . dy_g^T,
                    # where row-major w (K x C_out) read column-major is w^T, hence trans_a.
                    _gemm(True, False, <int>k, <int>rows, <int>c_out_group, w_ptr + g * c_out_group, <int>c_out,
                          dy_ptr + n0 * per_image * c_out + g * c_out_group, <int>c_out, <floating>0, buf, <int>k)
                    for row in range(images * height):
                        nl = row // height
                        iy = row - nl * height
                        for ix in range(width):
                            acc = dx_ptr + (((n0 + nl) * height + iy) * width + ix) * c_in + g * c_group
                            memset(acc, 0, c_group * sizeof(floating))
                            for ky in range(kh):
                                # Tap ky of output row oy reads input row oy*sh - pad_top + ky*dh.
                                ty = iy + pad_top - ky * dh
                                if ty < 0:
                                    break          # ty only decreases with ky
                                if ty % sh != 0:
                                    continue
                                oy = ty // sh
                                if oy >= h_out:
                                    continue
                                for kx in range(kw):
                                    tx = ix + pad_left - kx * dwl
                                    if tx < 0:
                                        break
                                    if tx % sw != 0:
                                        continue
                                    ox = tx // sw
                                    if ox >= w_out:
                                        continue
                                    src = buf + ((nl * h_out + oy) * w_out + ox) * k + (ky * kw + kx) * c_group
                                    for c in range(c_group):
                                        acc[c] = acc[c] + src[c]
    finally:
        free(bufs)


ctypedef fused pool_t:
    signed char
    short
    int
    long long
    unsigned char
    unsigned short
    float
    double


def max_pool_argmax(const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, long long[:, :, :, ::1] argmax,
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
    cdef Py_ssize_t n_batch = x.shape[0], height = x.shape[1], width = x.shape[2], channels = x.shape[3]
    cdef Py_ssize_t h_out = out.shape[1], w_out = out.shape[2]
    cdef Py_ssize_t row, n, oy, ox, y0, y1, x0, x1, iy, ix, c, base
    cdef pool_t value, best
    cdef pool_t* acc
    cdef long long* arg
    cdef const pool_t* src
    cdef const pool_t* image
    cdef int threads = effective_threads(num_threads, n_batch * h_out * w_out * kh * kw * channels)
    with nogil:
        for row in prange(n_batch * h_out, num_threads=threads, schedule="static"):
            n = row // h_out
            oy = row - n * h_out
            image = &x[n, 0, 0, 0]
            y0 = max(oy * sh - pad_top, 0)
            y1 = min(oy * sh - pad_top + kh, height)
            for ox in range(w_out):
                x0 = max(ox * sw - pad_left, 0)
                x1 = min(ox * sw - pad_left + kw, width)
                acc = &out[n, oy, ox, 0]
                arg = &argmax[n, oy, ox, 0]
                # TF's argmax rule: take the first real cell (every window has one: explicit
                # pads are smaller than the window), then move only to strictly greater values.
                # `acc` holds the value at the argmax, so the comparison needs no indirect load.
                base = (y0 * width + x0) * channels
                for c in range(channels):
                    acc[c] = image[base + c]
                    arg[c] = base + c
                for iy in range(y0, y1):
                    for ix in range(x0, x1):
                        base = (iy * width + ix) * channels
                        src = image + base
                        for c in range(channels):
                            value = src[c]
                            if value > acc[c]:
                                acc[c] = value
                                arg[c] = base + c
                if not values_from_argmax:
                    # max_pool2d's rule (start at `lowest`) gives the same value unless the first
                    # cell was NaN (the argmax then stays on it) or nothing beat `lowest`: only
                    # then rescan the window with that rule.
                    for c in range(channels):
                        if not (acc[c] > lowest):
                            best = lowest
                            for iy in range(y0, y1):
                                for ix in range(x0, x1):
                                    value = image[(iy * width + ix) * channels + c]
                                    if value > best:
                                        best = value
                            acc[c] = best


def max_pool_grad_scatter(const floating[:, ::1] dy, const long long[:, ::1] argmax, floating[:, ::1] dx,
                          int num_threads):
    """dx[n, argmax[n, j]] += dy[n, j] for every output element j, in output order (TensorFlow's
    order, so float sums are bit-identical). dy, argmax: (N, H_out*W_out*C); dx: (N, H*W*C),
    overwritten. Windows of one image may overlap, so the parallel loop runs over images."""
    cdef Py_ssize_t n_batch = dx.shape[0], size_in = dx.shape[1], size_out = dy.shape[1]
    cdef Py_ssize_t n, j
    cdef long long a
    cdef int threads = effective_threads(num_threads, n_batch * (size_in + size_out))
    with nogil:
        for n in prange(n_batch, num_threads=threads, schedule="static"):
            memset(&dx[n, 0], 0, size_in * sizeof(floating))
            for j in range(size_out):
                a = argmax[n, j]
                if a >= 0:
                    dx[n, a] = dx[n, a] + dy[n, j]


def avg_pool_grad(const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx, Py_ssize_t kh, Py_ssize_t kw,
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
                  bint count_include_pad, int num_threads):
    """Each input cell gathers dy * (1 / count) from every window that covers it.

    count = real cells of the window (TensorFlow) or KH*KW (`count_include_pad`). The
    coefficient is 1/count computed in double and rounded to the dtype, and the terms are added in
    row-major order of the windows: TensorFlow's AvgPoolGrad does both, so results match bit for
    bit. dy: (N, H_out, W_out, C); dx: (N, H, W, C), overwritten. Parallel over input rows.
    """
    cdef Py_ssize_t n_batch = dx.shape[0], height = dx.shape[1], width = dx.shape[2], channels = dx.shape[3]
    cdef Py_ssize_t h_out = dy.shape[1], w_out = dy.shape[2]
    cdef Py_ssize_t row, n, iy, ix, oy, ox, oy0, oy1, ox0, ox1, rows_in, cols_in, c
    cdef floating coeff
    cdef floating* acc
    cdef const floating* src
    cdef int threads = effective_threads(num_threads, n_batch * height * width * channels * kh * kw // (sh * sw) + 1)
    with nogil:
        for row in prange(n_batch * height, num_threads=threads, schedule="static"):
            n = row // height
            iy = row - n * height
            # Windows oy with oy*sh - pad_top <= iy < oy*sh - pad_top + kh.
            oy0 = (iy + pad_top - kh + sh) // sh if iy + pad_top - kh + 1 > 0 else 0
            oy1 = min((iy + pad_top) // sh + 1, h_out)
            for ix in range(width):
                ox0 = (ix + pad_left - kw + sw) // sw if ix + pad_left - kw + 1 > 0 else 0
                ox1 = min((ix + pad_left) // sw + 1, w_out)
                acc = &dx[n, iy, ix, 0]
                for c in range(channels):
                    acc[c] = 0
                for oy in range(oy0, oy1):
                    rows_in = min(oy * sh - pad_top + kh, height) - max(oy * sh - pad_top, 0)
                    for ox in range(ox0, ox1):
                        if count_include_pad:
                            coeff = <floating>(1.0 / <double>(kh * kw))
                        else:
                            cols_in = min(ox * sw - pad_left + kw, width) - max(ox * sw - pad_left, 0)
                            coeff = <floating>(1.0 / <double>(rows_in * cols_in))
                        src = &dy[n, oy, ox, 0]
                        for c in range(channels):
                            acc[c] = acc[c] + src[c] * coeff


def pad_fold_axis(const floating[:, :, ::1] src, floating[:, :, ::1] dst, const Py_ssize_t[::1] indptr,
                  const Py_ssize_t[::1] indices, int num_threads):
    """The gradient of padding along one axis: fold the padded axis back onto the input.

    src: (outer, n_out, inner), dst: (outer, n_in, inner), overwritten. Input index j receives
    src[:, i, :] for every output index i in indices[indptr[j]:indptr[j + 1]] (the inverse of the
    padding's index map, in increasing i). Constant-border indices appear in no list: a CONSTANT
    border's gradient goes to the constant, not to the input. Parallel over (outer, j) rows.
    """
    cdef Py_ssize_t outer = dst.shape[0], n_in = dst.shape[1], inner = dst.shape[2]
    cdef Py_ssize_t row, o, j, t, c
    cdef floating* d
    cdef const floating* s
    cdef int threads = effective_threads(num_threads, outer * src.shape[1] * inner)
    with nogil:
        for row in prange(outer * n_in, num_threads=threads, schedule="static"):
            o = row // n_in
            j = row - o * n_in
            d = &dst[o, j, 0]
            memset(d, 0, inner * sizeof(floating))
            for t in range(indptr[j], indptr[j + 1]):
                s = &src[o, indices[t], 0]
                for c in range(inner):
                    d[c] = d[c] + s[c]


def bias_act_forward(floating[:, ::1] z, const floating[::1] bias, bint use_bias, bint relu, int num_threads):
    """z = z + bias (broadcast over rows), then max(z, 0) when `relu`, in place: one pass over a
    layer's output instead of NumPy's two. z: (M, C), bias: (C,)."""
    cdef Py_ssize_t m = z.shape[0], channels = z.shape[1], row, c
    cdef floating v
    cdef floating* zr
    cdef int threads = effective_threads(num_threads, m * channels)
    with nogil:
        for row in prange(m, num_threads=threads, schedule="static"):
            zr = &z[row, 0]
            for c in range(channels):
                v = zr[c]
                if use_bias:
                    v = v + bias[c]
                if relu and not (v > 0):
                    v = 0 if v == v else v          # ReLU keeps NaN, as tf.nn.relu does
                zr[c] = v


def bias_act_backward(floating[:, ::1] dz, const floating[:, ::1] y, double[:, ::1] partial_sums,
                      bint relu, int num_threads):
    """The backward pass of bias + ReLU in one pass, in place: dz = dz * (y > 0) when `relu`, and
    the bias gradient's partial sums in double: rows are cut into len(partial_sums) fixed lanes
    and lane l adds its rows into partial_sums[l] (the caller adds the lanes in order, so the
    result does not depend on the thread count). dz, y: (M, C); partial_sums: (lanes, C)."""
    cdef Py_ssize_t m = dz.shape[0], channels = dz.shape[1], lanes = partial_sums.shape[0]
    cdef Py_ssize_t lane, row, r0, r1, c, per_lane = (m + lanes - 1) // lanes
    cdef floating* d
    cdef const floating* yr
    cdef double* sums
    cdef int threads = effective_threads(num_threads, m * channels)
    with nogil:
        for lane in prange(lanes, num_threads=threads, schedule="static"):
            sums = &partial_sums[lane, 0]
            for c in range(channels):
                sums[c] = 0
            r0 = lane * per_lane
            r1 = min(r0 + per_lane, m)
            for row in range(r0, r1):
                d = &dz[row, 0]
                yr = &y[row, 0]
                for c in range(channels):
                    if relu and not (yr[c] > 0):
                        d[c] = 0
                    sums[c] = sums[c] + d[c]
