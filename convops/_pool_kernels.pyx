# Pooling kernels. Private: convops/pooling.py validates, resolves padding to explicit integers,
# makes the input C-contiguous NHWC and allocates `out`. Loops run over output rows in parallel;
# the innermost loop runs over channels, which are contiguous in NHWC.
from cython.parallel cimport prange

from convops._openmp cimport effective_threads

ctypedef fused pool_t:
    signed char
    short
    int
    long long
    unsigned char
    unsigned short
    float
    double

ctypedef fused floating:
    float
    double


def max_pool(const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, Py_ssize_t kh, Py_ssize_t kw,
             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left, pool_t lowest,
             int num_threads):
    """Max over each window's real cells; padded cells are skipped (they act as -inf).

    The running maximum starts at `lowest` (the dtype's lowest finite value) and is replaced only
    when `value > running`: a NaN never compares greater, so NaN is ignored and an all-NaN window
    gives `lowest`, exactly TensorFlow's CPU rule on x86-64.
    """
    cdef Py_ssize_t n_batch = x.shape[0], height = x.shape[1], width = x.shape[2], channels = x.shape[3]
    cdef Py_ssize_t h_out = out.shape[1], w_out = out.shape[2]
    cdef Py_ssize_t row, n, oy, ox, y0, y1, x0, x1, iy, ix, c
    cdef pool_t value
    cdef pool_t* acc
    cdef const pool_t* src
    cdef int threads = effective_threads(num_threads, n_batch * h_out * w_out * kh * kw * channels)
    with nogil:
        # Dynamic chunks of rows: on a shared machine a descheduled thread's rows go to the others.
        for row in prange(n_batch * h_out, num_threads=threads, schedule="dynamic",
                          chunksize=max(1, n_batch * h_out // (threads * 8))):
            n = row // h_out
            oy = row - n * h_out
            y0 = max(oy * sh - pad_top, 0)
            y1 = min(oy * sh - pad_top + kh, height)
            for ox in range(w_out):
                x0 = max(ox * sw - pad_left, 0)
                x1 = min(ox * sw - pad_left + kw, width)
                acc = &out[n, oy, ox, 0]
                for c in range(channels):
                    acc[c] = lowest
                for iy in range(y0, y1):
                    for ix in range(x0, x1):
                        src = &x[n, iy, ix, 0]
                        for c in range(channels):
                            # A select, not `if value > acc[c]: acc[c] = value`: the compiler does
                            # not invent stores, so only this form vectorises (measured 15x faster).
                            # Same rule: NaN never compares greater, so it is ignored.
                            value = src[c]
                            acc[c] = value if value > acc[c] else acc[c]


def avg_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, Py_ssize_t kh, Py_ssize_t kw,
             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
             bint count_include_pad, int num_threads):
    """Mean of each window. The sum runs over real cells in row-major order in the input dtype
    (TensorFlow's order, so float32 results are bit-identical) and is divided by the number of
    real cells, or by KH*KW when `count_include_pad` (PyTorch's default convention)."""
    cdef Py_ssize_t n_batch = x.shape[0], height = x.shape[1], width = x.shape[2], channels = x.shape[3]
    cdef Py_ssize_t h_out = out.shape[1], w_out = out.shape[2]
    cdef Py_ssize_t row, n, oy, ox, y0, y1, x0, x1, iy, ix, c
    cdef floating divisor
    cdef floating* acc
    cdef const floating* src
    cdef int threads = effective_threads(num_threads, n_batch * h_out * w_out * kh * kw * channels)
    with nogil:
        # Dynamic chunks of rows: on a shared machine a descheduled thread's rows go to the others.
        for row in prange(n_batch * h_out, num_threads=threads, schedule="dynamic",
                          chunksize=max(1, n_batch * h_out // (threads * 8))):
            n = row // h_out
            oy = row - n * h_out
            y0 = max(oy * sh - pad_top, 0)
            y1 = min(oy * sh - pad_top + kh, height)
            for ox in range(w_out):
                x0 = max(ox * sw - pad_left, 0)
                x1 = min(ox * sw - pad_left + kw, width)
                acc = &out[n, oy, ox, 0]
                for c in range(channels):
                    acc[c] = 0
                for iy in range(y0, y1):
                    for ix in range(x0, x1):
                        src = &x[n, iy, ix, 0]
                        for c in range(channels):
                            acc[c] = acc[c] + src[c]
                if count_include_pad:
                    # Multiplied in floating point: kh * kw in Py_ssize_t wraps for windows near the
                    # 2**60 limit (a huge SAME window), and a wrapped divisor would be garbage.
                    divisor = (<floating>kh) * (<floating>kw)
                else:
                    divisor = <floating>((y1 - y0) * (x1 - x0))
                for c in range(channels):
                    acc[c] = acc[c] / divisor
