# im2col + BLAS convolution: the kernel convops.conv chooses for non-finite filters whose windows
# reach the padding (it multiplies the padding's zeros by the filters, as TensorFlow does; the
# direct kernels skip those taps). A module of its own because it cimports SciPy's BLAS, whose
# import (scipy.linalg, ~0.15-0.4 s) only calls that need it should pay.
from libc.stdlib cimport malloc, free

from convops._kernels.blas cimport _gemm, _im2col_row
from convops._kernels.common cimport floating, BLAS_INT_MAX


def conv2d_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                floating[:, :, :, ::1] out, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dil_h, Py_ssize_t dil_w,
                Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups, Py_ssize_t chunk_rows):
    """Cross-correlation as im2col + GEMM, one chunk of output positions at a time.

    x: (N, H, W, C_in), w: (KH, KW, C_in/groups, C_out), out: (N, H_out, W_out, C_out).
    The patch matrix of `chunk_rows` output positions is built in a scratch buffer and multiplied
    by the filter matrix with one BLAS call per group; the caller runs BLAS on one thread (its
    results depend on its thread count). It multiplies the zeros of the padding by the filters,
    so non-finite filters give TensorFlow's NaN at the border. The caller guarantees that every
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
                           and x.shape[2] == w_out and m_total <= BLAS_INT_MAX)
    if pointwise:
        # A 1x1 convolution with stride 1 is a plain matrix product: no patch matrix needed.
        with nogil:
            _gemm(False, False, <int>c_out, <int>m_total, <int>k, w_ptr, <int>c_out, x_ptr, <int>k,
                  <floating>0, out_ptr, <int>c_out)
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
                    # Serial, like the BLAS call (pinned to one thread by the caller): this path
                    # serves only non-finite filters. Filling patches on other threads while a
                    # threaded BLAS multiplied them measured 40x slower on 2 cores.
                    for r in range(rows):
                        _im2col_row(x_ptr, height, width, c_in, buf + r * k, m0 + r, h_out, w_out, kh, kw, c_group,
                                    g * c_group, sh, sw, dil_h, dil_w, pad_top, pad_left)
                    _gemm(False, False, <int>c_out_group, <int>rows, <int>k, w_ptr + g * c_out_group,
                          <int>c_out, buf, <int>k, <floating>0, out_ptr + m0 * c_out + g * c_out_group, <int>c_out)
                m0 += rows
    finally:
        free(buf)
