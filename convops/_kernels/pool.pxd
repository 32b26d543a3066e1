# What the pooling kernels share (pool.pyx: forward; pool_grad.pyx: argmax, scatter, avg gradient):
# one call's plan and its set-up, declared once. Each kernel module keeps its own row loops and
# the switch from the plan's type code to them.
cimport cython

from convops._kernels.common cimport pool_t

cdef struct PoolPlan:
    # One call: raw C-contiguous NHWC buffers and the geometry. Rows are the flattened (n, y)
    # rows (output rows forward, input rows for the average gradient) that parallel_for hands
    # out in chunks; a field a kernel does not use stays unset.
    const void* x
    void* out
    const void* dy
    void* dx
    void* argmax                # int (index32) or long long
    bint index32
    Py_ssize_t height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left
    Py_ssize_t size_in, size_out
    bint count_include_pad
    bint values_from_argmax     # max_pool_argmax: the value at the argmax (tf.nn.max_pool_with_argmax)
    bint failed                 # a task could not allocate its scratch row
    bint stream                 # float forward kernels: non-temporal stores (pool_ukernel.h)
    bint readable               # avg_pool_grad: the readable loop instead of the fast one
    int isa                     # float forward kernels: index into convops_pools_f32/f64, -1 = Cython loops
    int code                    # element type, in pool_t's order: see plan_type
    double lowest_f
    long long lowest_i


# The forward pools' run of a planned call (pool.pyx), for its def functions and fastpath.pyx.
cdef void run_pool(PoolPlan* plan, bint is_max, Py_ssize_t rows, Py_ssize_t work, int num_threads) noexcept nogil


cdef inline void plan_window(PoolPlan* p, Py_ssize_t height, Py_ssize_t width, Py_ssize_t channels,
                             Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                             Py_ssize_t sw, Py_ssize_t top, Py_ssize_t left) noexcept nogil:
    p.height, p.width, p.channels, p.h_out, p.w_out = height, width, channels, h_out, w_out
    p.kh, p.kw, p.sh, p.sw, p.top, p.left = kh, kw, sh, sw, top, left


cdef inline void plan_type(PoolPlan* p, pool_t lowest) noexcept nogil:
    """The element type's code (0-7: int8, int16, int32, int64, uint8, uint16, float32, float64)
    and `lowest`, the max kernels' starting value (unused by the average kernels)."""
    p.code = (0 if pool_t is cython.schar else 1 if pool_t is short else 2 if pool_t is int
              else 3 if pool_t is cython.longlong else 4 if pool_t is cython.uchar else 5 if pool_t is cython.ushort
              else 6 if pool_t is float else 7)
    if pool_t is float or pool_t is double:
        p.lowest_f = lowest
    else:
        p.lowest_i = lowest
