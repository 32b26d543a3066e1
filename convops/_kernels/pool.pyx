# Pooling kernels. Private: convops/pooling.py validates, resolves padding to explicit integers,
# makes the input C-contiguous NHWC and allocates `out`. Chunks of output rows run in parallel
# (parallel.h); the innermost loop runs over channels, which are contiguous in NHWC, and is
# vectorised by the compiler. Both ops are memory-bound: ~30-40 GB/s per core here.
from libc.stddef cimport ptrdiff_t

from convops._kernels.parallel cimport effective_threads, parallel_for
from convops._kernels.common cimport floating, pool_t
# PoolPlan, plan_window and plan_type come from pool.pxd (shared with pool_grad.pyx).

cdef extern from "pool_simd.h" nogil:
    ctypedef void (*convops_pool_f32)(int, const float*, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                      ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                      int, float, int, ptrdiff_t, ptrdiff_t) noexcept nogil
    ctypedef void (*convops_pool_f64)(int, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                      ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                      int, double, int, ptrdiff_t, ptrdiff_t) noexcept nogil
    convops_pool_f32 convops_pools_f32[3]
    convops_pool_f64 convops_pools_f64[3]

# float32/float64 pools run the SIMD copies of the loops below (pool_ukernel.h: the channel axis in
# register blocks, compiled for SSE2/AVX2/AVX-512; bit-identical results). convops/pooling.py
# chooses the variant and passes its index as `isa`. The integer types run the Cython loops,
# which the compiler vectorises for the baseline ISA. Which instruction sets exist and run here
# is decided in one place, convops/_kernels/simd.pyx.
from convops._kernels.simd import supported_isas

#: The float kernels' variant without SIMD (isa=-1): the Cython loops below, which builds without
#: the SIMD copies (compilers other than GCC/Clang, e.g. MSVC) run for every dtype.
SCALAR = "cython"


def variants():
    """Every float-kernel variant this machine can run: ``"cython"`` (no SIMD), then the ISAs."""
    return (SCALAR,) + supported_isas()


cdef void _max_rows(const pool_t* x, pool_t* out, const PoolPlan* p, pool_t lowest, Py_ssize_t r0,
                    Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, n, oy, ox, y0, y1, x0, x1, iy, ix, c, channels = p.channels
    cdef pool_t value
    cdef pool_t* acc
    cdef const pool_t* src
    for row in range(r0, r1):
        n = row // p.h_out
        oy = row - n * p.h_out
        y0 = max(oy * p.sh - p.top, 0)
        y1 = min(oy * p.sh - p.top + p.kh, p.height)
        for ox in range(p.w_out):
            x0 = max(ox * p.sw - p.left, 0)
            x1 = min(ox * p.sw - p.left + p.kw, p.width)
            acc = out + (row * p.w_out + ox) * channels
            for c in range(channels):
                acc[c] = lowest
            for iy in range(y0, y1):
                for ix in range(x0, x1):
                    src = x + ((n * p.height + iy) * p.width + ix) * channels
                    for c in range(channels):
                        # A select, not `if value > acc[c]: acc[c] = value`: the compiler does
                        # not invent stores, so only this form vectorises (measured 15x faster).
                        # Same rule: NaN never compares greater, so it is ignored.
                        value = src[c]
                        acc[c] = value if value > acc[c] else acc[c]


cdef void _max_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const PoolPlan* p = <const PoolPlan*>ctx
    if p.code == 0:
        _max_rows(<const signed char*>p.x, <signed char*>p.out, p, <signed char>p.lowest_i, r0, r1)
    elif p.code == 1:
        _max_rows(<const short*>p.x, <short*>p.out, p, <short>p.lowest_i, r0, r1)
    elif p.code == 2:
        _max_rows(<const int*>p.x, <int*>p.out, p, <int>p.lowest_i, r0, r1)
    elif p.code == 3:
        _max_rows(<const long long*>p.x, <long long*>p.out, p, <long long>p.lowest_i, r0, r1)
    elif p.code == 4:
        _max_rows(<const unsigned char*>p.x, <unsigned char*>p.out, p, <unsigned char>p.lowest_i, r0, r1)
    elif p.code == 5:
        _max_rows(<const unsigned short*>p.x, <unsigned short*>p.out, p, <unsigned short>p.lowest_i, r0, r1)
    elif p.code == 6:
        if p.isa >= 0:
            convops_pools_f32[p.isa](1, <const float*>p.x, <float*>p.out, p.height, p.width, p.channels, p.h_out,
                                     p.w_out, p.kh, p.kw, p.sh, p.sw, p.top, p.left, 0, <float>p.lowest_f, p.stream,
                                     r0, r1)
        else:
            _max_rows(<const float*>p.x, <float*>p.out, p, <float>p.lowest_f, r0, r1)
    else:
        if p.isa >= 0:
            convops_pools_f64[p.isa](1, <const double*>p.x, <double*>p.out, p.height, p.width, p.channels, p.h_out,
                                     p.w_out, p.kh, p.kw, p.sh, p.sw, p.top, p.left, 0, p.lowest_f, p.stream,
                                     r0, r1)
        else:
            _max_rows(<const double*>p.x, <double*>p.out, p, <double>p.lowest_f, r0, r1)


cdef void _avg_rows(const floating* x, floating* out, const PoolPlan* p, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, n, oy, ox, y0, y1, x0, x1, iy, ix, c, channels = p.channels
    cdef floating divisor
    cdef floating* acc
    cdef const floating* src
    for row in range(r0, r1):
        n = row // p.h_out
        oy = row - n * p.h_out
        y0 = max(oy * p.sh - p.top, 0)
        y1 = min(oy * p.sh - p.top + p.kh, p.height)
        for ox in range(p.w_out):
            x0 = max(ox * p.sw - p.left, 0)
            x1 = min(ox * p.sw - p.left + p.kw, p.width)
            acc = out + (row * p.w_out + ox) * channels
            for c in range(channels):
                acc[c] = 0
            for iy in range(y0, y1):
                for ix in range(x0, x1):
                    src = x + ((n * p.height + iy) * p.width + ix) * channels
                    for c in range(channels):
                        acc[c] = acc[c] + src[c]
            if p.count_include_pad:
                # Multiplied in floating point: kh * kw in Py_ssize_t wraps for windows near the
                # 2**60 limit (a huge SAME window), and a wrapped divisor would be garbage.
                divisor = (<floating>p.kh) * (<floating>p.kw)
            else:
                divisor = <floating>((y1 - y0) * (x1 - x0))
            for c in range(channels):
                acc[c] = acc[c] / divisor


cdef void _avg_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const PoolPlan* p = <const PoolPlan*>ctx
    if p.isa >= 0 and p.code == 6:
        convops_pools_f32[p.isa](0, <const float*>p.x, <float*>p.out, p.height, p.width, p.channels, p.h_out,
                                 p.w_out, p.kh, p.kw, p.sh, p.sw, p.top, p.left, p.count_include_pad, 0, p.stream,
                                 r0, r1)
    elif p.isa >= 0:
        convops_pools_f64[p.isa](0, <const double*>p.x, <double*>p.out, p.height, p.width, p.channels, p.h_out,
                                 p.w_out, p.kh, p.kw, p.sh, p.sw, p.top, p.left, p.count_include_pad, 0, p.stream,
                                 r0, r1)
    elif p.code == 6:
        _avg_rows(<const float*>p.x, <float*>p.out, p, r0, r1)
    else:
        _avg_rows(<const double*>p.x, <double*>p.out, p, r0, r1)


def max_pool(const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, Py_ssize_t kh, Py_ssize_t kw,
             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left, pool_t lowest,
             int num_threads, int isa, bint stream=False):
    """Max over each window's real cells; padded cells are skipped (they act as -inf).

    The running maximum starts at `lowest` (the dtype's lowest finite value) and is replaced only
    when `value > running`: a NaN never compares greater, so NaN is ignored and an all-NaN window
    gives `lowest`, exactly TensorFlow's CPU rule on x86-64. `isa`: the float kernels' variant,
    an index into ISA_NAMES that this CPU runs, or -1 for the Cython loops (ignored for integers).
    `stream`: the float kernels write `out` with non-temporal stores when it is aligned for them
    (outputs larger than the caches).
    """
    cdef PoolPlan plan
    cdef Py_ssize_t rows = out.shape[0] * out.shape[1]
    plan_window(&plan, x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2], kh, kw, sh, sw,
                pad_top, pad_left)
    plan_type(&plan, lowest)
    plan.x, plan.out = &x[0, 0, 0, 0], &out[0, 0, 0, 0]
    plan.stream, plan.isa = stream, isa
    with nogil:
        run_pool(&plan, True, rows, rows * out.shape[2] * kh * kw * x.shape[3], num_threads)


def avg_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, Py_ssize_t kh, Py_ssize_t kw,
             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pad_top, Py_ssize_t pad_left,
             bint count_include_pad, int num_threads, int isa, bint stream=False):
    """Mean of each window. The sum runs over real cells in row-major order in the input dtype
    (TensorFlow's order, so float32 results are bit-identical) and is divided by the number of
    real cells, or by KH*KW when `count_include_pad` (PyTorch's default convention).
    `isa` and `stream` as for max_pool."""
    cdef PoolPlan plan
    cdef Py_ssize_t rows = out.shape[0] * out.shape[1]
    plan_window(&plan, x.shape[1], x.shape[2], x.shape[3], out.shape[1], out.shape[2], kh, kw, sh, sw,
                pad_top, pad_left)
    plan_type(&plan, <floating>0)
    plan.x, plan.out = &x[0, 0, 0, 0], &out[0, 0, 0, 0]
    plan.stream, plan.isa = stream, isa
    plan.count_include_pad = count_include_pad
    with nogil:
        run_pool(&plan, False, rows, rows * out.shape[2] * kh * kw * x.shape[3], num_threads)


cdef void run_pool(PoolPlan* plan, bint is_max, Py_ssize_t rows, Py_ssize_t work, int num_threads) noexcept nogil:
    # The forward pools' one run (max_pool and avg_pool above; fastpath.pyx's plain calls): chunks
    # of output rows claimed by whichever thread is free (parallel.h). `work`: multiply-adds'
    # worth of reads, rows * W_out * KH * KW * C, from which the thread count follows.
    cdef int threads = effective_threads(num_threads, work)
    parallel_for(_max_chunk if is_max else _avg_chunk, plan, rows, max(1, rows // (threads * 16)), threads)
