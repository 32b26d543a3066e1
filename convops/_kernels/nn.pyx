# The fused bias + ReLU steps of convops.nn's layers, forward and backward. Private: convops/nn
# has validated the arrays. Per-lane partial sums in a fixed order keep the bias gradient
# independent of the thread count.
from libc.stddef cimport ptrdiff_t

from convops._kernels.parallel cimport effective_threads, parallel_for, chunk_for
from convops._kernels.common cimport floating

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
        parallel_for(_bias_backward_chunk, &p, p.lanes, 1, threads)
