# im2col + BLAS convolution: conv2d's fallback for non-finite filters with padding (see
# _conv_kernels.pyx). A module of its own because it cimports SciPy's BLAS, whose import
# (scipy.linalg, ~0.15-0.4 s) only calls that need it should pay.
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport sgemm, dgemm
from convops._kernels.common cimport floating

cdef inline void _gemm(int m, int n, int k, const floating* a, int lda, const floating* b, int ldb,
                       floating* c, int ldc) noexcept nogil:
    # Column-major C(m x n) = A(m x k) . B(k x n), i.e. row-major C^T = B^T . A^T.
    cdef float one_s = 1.0, zero_s = 0.0
    cdef double one_d = 1.0, zero_d = 0.0
    cdef char no = b'N'
    if floating is float:
        sgemm(&no, &no, &m, &n, &k, &one_s, <float*>a, &lda, <float*>b, &ldb, &zero_s, <float*>c, &ldc)
    else:
        dgemm(&no, &no, &m, &n, &k, &one_d, <double*>a, &lda, <double*>b, &ldb, &zero_d, <double*>c, &ldc)


cdef inline void _im2col_row(const floating* x, Py_ssize_t height, Py_ssize_t width,
                             Py_ssize_t c_in, floating* dst, Py_ssize_t m,
                             Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t kh, Py_ssize_t kw,
                             Py_ssize_t c_group, Py_ssize_t c_offset, Py_ssize_t sh, Py_ssize_t sw,
                             Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pad_top,
                             Py_ssize_t pad_left) noexcept nogil:
    # One row of the patch matrix: the receptive field of output position m, in (ky, kx, c) order
    # (the order of the HWIO filter's first three axes), zeros where the window hangs over padding.
    cdef Py_ssize_t n = m // (h_out * w_out)
    cdef Py_ssize_t rem = m - n * h_out * w_out
    cdef Py_ssize_t oy = rem // w_out
    cdef Py_ssize_t ox = rem - oy * w_out
    cdef Py_ssize_t ky, kx, iy, ix
    cdef size_t nbytes = c_group * sizeof(floating)
    for ky in range(kh):
        iy = oy * sh - pad_top + ky * dh
        for kx in range(kw):
            ix = ox * sw - pad_left + kx * dw
            if 0 <= iy < height and 0 <= ix < width:
                memcpy(dst, x + ((n * height + iy) * width + ix) * c_in + c_offset, nbytes)
            else:
                memset(dst, 0, nbytes)
            dst += c_group


def conv2d_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                floating[:, :, :, ::1] out, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups, Py_ssize_t chunk_rows,
                int num_threads):
    """Cross-correlation as im2col + GEMM, one chunk of output positions at a time.

    x: (N, H, W, C_in), w: (KH, KW, C_in/groups, C_out), out: (N, H_out, W_out, C_out).
    The patch matrix of `chunk_rows` output positions is built in a scratch buffer and multiplied
    by the filter matrix with BLAS (threaded by BLAS itself). The fallback of conv2d_direct: it
    multiplies the zeros of the padding by the filters, so non-finite filters give TensorFlow's
    NaN at the border. The caller guarantees that every
    BLAS dimension fits in a C int and that out is non-empty.
    """
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], c_group = w.shape[2], c_out = w.shape[3]
    cdef Py_ssize_t h_out = out.shape[1], w_out = out.shape[2]
    cdef Py_ssize_t m_total = out.shape[0] * h_out * w_out
    cdef Py_ssize_t k = kh * kw * c_group
    cdef Py_ssize_t c_out_group = c_out // groups
    cdef Py_ssize_t m0, rows, r, g
    cdef floating* out_ptr = &out[0, 0, 0, 0]
    cdef const floating* w_ptr = &w[0, 0, 0, 0]
    cdef const floating* x_ptr = &x[0, 0, 0, 0]
    cdef Py_ssize_t height = x.shape[1], width = x.shape[2], c_in = x.shape[3]
    cdef floating* buf
    cdef bint pointwise = (kh == 1 and kw == 1 and sh == 1 and sw == 1 and pad_top == 0
                           and pad_left == 0 and groups == 1 and x.shape[1] == h_out
                           and x.shape[2] == w_out and m_total <= 2147483647)
    if pointwise:
        # A 1x1 convolution with stride 1 is a plain matrix product: no patch matrix needed.
        with nogil:
            _gemm(<int>c_out, <int>m_total, <int>k, w_ptr, <int>c_out, x_ptr, <int>k,
                  out_ptr, <int>c_out)
        return
    buf = <floating*>malloc(chunk_rows * k * sizeof(floating))
    if buf == NULL:
        raise MemoryError("conv2d: could not allocate the patch buffer")
    try:
        with nogil:
            m0 = 0
            while m0 < m_total:
                rows = min(chunk_rows, m_total - m0)
                for g in range(groups):
                    # Serial on purpose: an OpenMP team filling patches while OpenBLAS's own
                    # threads wait to multiply them oversubscribes the cores (measured 40x
                    # slower on 2 cores). BLAS threads the multiplication.
                    for r in range(rows):
                        _im2col_row(x_ptr, height, width, c_in, buf + r * k, m0 + r, h_out, w_out, kh, kw, c_group,
                                    g * c_group, sh, sw, dh, dw, pad_top, pad_left)
                    _gemm(<int>c_out_group, <int>rows, <int>k, w_ptr + g * c_out_group, <int>c_out,
                          buf, <int>k, out_ptr + m0 * c_out + g * c_out_group, <int>c_out)
                m0 += rows
    finally:
        free(buf)
