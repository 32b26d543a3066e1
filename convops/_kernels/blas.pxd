# BLAS and the patch-matrix row, shared by the im2col + GEMM kernels (conv_gemm.pyx, conv_grad.pyx):
# inline functions declared and defined once here, as scikit-learn's _cython_blas.pxd does.
# Only modules that multiply matrices cimport this file (it pulls in scipy.linalg, whose import
# costs ~0.15-0.4 s).
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport sgemm, dgemm

from convops._kernels.common cimport floating


cdef inline void _gemm(bint trans_a, bint trans_b, int m, int n, int k, const floating* a, int lda,
                       const floating* b, int ldb, floating beta, floating* c, int ldc) noexcept nogil:
    # Column-major C(m x n) = op(A) . op(B) + beta * C (BLAS's convention; a row-major matrix is
    # the column-major transpose, which is how the callers read their arguments).
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


# [docs:im2col-row]
cdef inline void _im2col_row(const floating* x, Py_ssize_t height, Py_ssize_t width, Py_ssize_t c_in,
                             floating* dst, Py_ssize_t m, Py_ssize_t h_out, Py_ssize_t w_out,
                             Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t c_group, Py_ssize_t c_offset,
                             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h, Py_ssize_t dil_w,
                             Py_ssize_t pad_top, Py_ssize_t pad_left) noexcept nogil:
    # One row of the patch matrix: the receptive field of output position m, in (ky, kx, c) order
    # (the order of the HWIO filter's first three axes), zeros where the window hangs over padding.
    cdef Py_ssize_t n = m // (h_out * w_out)
    cdef Py_ssize_t rem = m - n * h_out * w_out
    cdef Py_ssize_t oy = rem // w_out
    cdef Py_ssize_t ox = rem - oy * w_out
    cdef Py_ssize_t ky, kx, iy, ix, c
    cdef size_t nbytes = c_group * sizeof(floating)
    cdef const floating* src
    for ky in range(kh):
        iy = oy * sh - pad_top + ky * dil_h
        for kx in range(kw):
            ix = ox * sw - pad_left + kx * dil_w
            # memcpy per tap for 4+ channels, plain loops below: measured on one core, memcpy is
            # 1.4x faster with 32-64 channels (64x13x13x32 3x3: 0.40 -> 0.26 ms per pass) and a
            # call per tap 1.3x slower with one channel (8x28x28x1 5x5: 0.51 -> 0.69 ms).
            if 0 <= iy < height and 0 <= ix < width:
                src = x + ((n * height + iy) * width + ix) * c_in + c_offset
                if c_group >= 4:
                    memcpy(dst, src, nbytes)
                else:
                    for c in range(c_group):
                        dst[c] = src[c]
            elif c_group >= 4:
                memset(dst, 0, nbytes)
            else:
                for c in range(c_group):
                    dst[c] = 0
            dst += c_group
# [/docs:im2col-row]
