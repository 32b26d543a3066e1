# Size: the fast paths of seven public functions, each a screen of argument checks that mirror its
# general path's, sharing the argument readers and the result allocator at the top.
# The small-call fast paths of convops.conv2d, its input gradient, convops.pad, the pools and their
# gradients: the only compiled module that reads Python objects and cimports NumPy. Each accepts
# only the most common call, in exactly the form the general path would accept unchanged, and
# returns None for anything else -- including every argument that would raise and every call whose
# kernel choice needs more than these checks -- so every error, and every unusual call, still goes
# through the Python layer word for word. What they save is the general argument handling: ~6 us
# of Python per call (~13 us for a pool, ~10 for a pool gradient), most of a small call's cost.
# They run the same kernels (cimported from conv.pxd, pad.pxd, pool.pxd and pool_grad.pxd) with the
# same geometry, so results are bit-identical to the general path's.
import numpy as np

cimport numpy as cnp
from libc.float cimport DBL_MAX, FLT_MAX
from libc.stddef cimport ptrdiff_t
from libc.math cimport signbit
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from convops._kernels.conv cimport _direct, _image
from convops._kernels.common cimport floating, BLAS_INT_MAX
from convops._kernels.pad cimport _pad
from convops._kernels.pool cimport PoolPlan, plan_type, plan_window, run_pool
from convops._kernels.pool_grad cimport run_argmax, run_avg_grad, run_scatter
from convops._kernels.simd cimport block_isa_here

from convops._kernels import memory as _memory

cdef extern from "simd_isa.h" nogil:
    ptrdiff_t convops_simd_lanes(int isa, ptrdiff_t itemsize)

cnp.import_array()

cdef double _CACHED_MIN_BYTES = _memory.MIN_BYTES
_cached_empty = _memory.empty


cdef inline cnp.ndarray _result(int ndim, cnp.npy_intp* dims, int typenum, Py_ssize_t itemsize):
    # The result array: a large one from memory.pyx's cache of freed blocks (what the general path
    # allocates too), a small one straight from NumPy (no Python call: small calls stay cheap).
    cdef double nbytes = <double>itemsize
    cdef int i
    for i in range(ndim):
        nbytes *= <double>dims[i]
    if nbytes < _CACHED_MIN_BYTES:
        return cnp.PyArray_EMPTY(ndim, dims, typenum, 0)
    return _cached_empty(tuple([dims[i] for i in range(ndim)]), cnp.PyArray_DescrFromType(typenum))


cdef inline void same_padding(Py_ssize_t size, Py_ssize_t k, Py_ssize_t s, Py_ssize_t d, Py_ssize_t* before,
                              Py_ssize_t* after) noexcept nogil:
    # convops.arithmetic.same_padding: o = ceil(i / s), total = max((o - 1)*s + k_eff - i, 0),
    # before = total // 2 and the odd pixel after, as TensorFlow does.
    cdef Py_ssize_t k_eff = (k - 1) * d + 1
    cdef Py_ssize_t total = ((size + s - 1) // s - 1) * s + k_eff - size
    if total < 0:
        total = 0
    before[0] = total // 2
    after[0] = total - total // 2


# --------------------------------------------------------------------------- conv2d
# The plain call: two float32/float64 NHWC C-contiguous ndarrays, an int stride (or two equal),
# "VALID"/"SAME", no dilation, no groups, a non-empty result.

cdef Py_ssize_t _stride_of(object strides) except -2:
    # An exact int or a list/tuple of 2 equal exact ints; -1 = not this fast path's business.
    cdef Py_ssize_t s
    if type(strides) is int:
        s = strides
    elif (type(strides) is tuple or type(strides) is list) and len(strides) == 2 \
            and type(strides[0]) is int and type(strides[1]) is int and strides[0] == strides[1]:
        s = strides[0]
    else:
        return -1
    return s if 1 <= s <= 65536 else -1


cdef int _same_of(object padding):
    # 1 for "SAME"/"same", 0 for "VALID"/"valid", -1 (not this fast path's business) otherwise.
    if type(padding) is not str:
        return -1
    if padding == "VALID" or padding == "valid":
        return 0
    if padding == "SAME" or padding == "same":
        return 1
    return -1


cdef bint _nhwc_of(object data_format):
    # Exactly the string "NHWC" (lowercase, NCHW and None are the general path's).
    return type(data_format) is str and data_format == "NHWC"


cdef bint _four_sizes(object sizes, Py_ssize_t* out) except -1:
    # A list/tuple of 4 exact ints >= 1 (TF's short form (H, W) and anything else: False).
    if (type(sizes) is not tuple and type(sizes) is not list) or len(sizes) != 4:
        return False
    for i in range(4):
        v = sizes[i]
        if type(v) is not int or not 1 <= v <= (1 << 40):
            return False
        out[i] = v
    return True


cdef bint _float_array(cnp.ndarray a):
    # A 4-D C-contiguous float32 or float64 array in native byte order.
    cdef int typenum = cnp.PyArray_TYPE(a)
    return (cnp.PyArray_NDIM(a) == 4 and (typenum == cnp.NPY_FLOAT32 or typenum == cnp.NPY_FLOAT64)
            and cnp.PyArray_ISCARRAY_RO(a) and cnp.PyArray_ISNOTSWAPPED(a))


cdef bint _float_pair(cnp.ndarray a, cnp.ndarray b):
    # Two such arrays of one dtype.
    return cnp.PyArray_TYPE(a) == cnp.PyArray_TYPE(b) and _float_array(a) and _float_array(b)


cdef bint _finite(const char* data, Py_ssize_t count, bint is_float) noexcept nogil:
    # False if any of `count` values is inf or NaN (x - x is NaN exactly for those).
    cdef Py_ssize_t i
    cdef const float* f = <const float*>data
    cdef const double* d = <const double*>data
    for i in range(count):
        if (f[i] - f[i] != 0) if is_float else (d[i] - d[i] != 0):
            return False
    return True


def conv2d_fast(input, filters, strides, padding, dilations, data_format, int isa, int num_threads):
    """``convops.conv2d(input, filters, strides, padding, dilations, data_format)`` for the plain
    case described above, run by the kernel convops.conv would choose (conv2d_image for one
    channel in and out at stride 1, else conv2d_direct) in instruction set `isa` (the direct
    kernel: AVX2 in place of AVX-512 where it leaves fewer lanes idle, simd.pyx, block_isa_here); or None (then
    nothing was done: the caller takes the general path). Non-finite filters whose windows reach
    the padding are the general path's business (it chooses conv2d_gemm)."""
    cdef cnp.ndarray x, w, out
    cdef Py_ssize_t n, height, width, c_in, kh, kw, c_out, h_out, w_out, s
    cdef Py_ssize_t top = 0, bottom = 0, left = 0, right = 0
    cdef cnp.npy_intp dims[4]
    cdef int typenum
    cdef int same
    cdef bint is_float, image
    if type(input) is not np.ndarray or type(filters) is not np.ndarray:
        return None
    if not (type(dilations) is int and dilations == 1) or not _nhwc_of(data_format):
        return None
    same = _same_of(padding)
    if same < 0:
        return None
    s = _stride_of(strides)
    if s < 0:
        return None
    x, w = input, filters
    if not _float_pair(x, w):
        return None
    typenum = cnp.PyArray_TYPE(x)
    n, height, width, c_in = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    kh, kw, c_out = w.shape[0], w.shape[1], w.shape[3]
    if w.shape[2] != c_in or n < 1 or height < 1 or width < 1 or c_in < 1 or kh < 1 or kw < 1 or c_out < 1:
        return None
    if same:
        same_padding(height, kh, s, 1, &top, &bottom)
        same_padding(width, kw, s, 1, &left, &right)
        h_out, w_out = (height + s - 1) // s, (width + s - 1) // s
    else:
        if kh > height or kw > width:
            return None                          # empty result: the general path's business
        h_out, w_out = (height - kh) // s + 1, (width - kw) // s + 1
    is_float = typenum == cnp.NPY_FLOAT32
    # SAME padding is reached exactly when it is not zero (the first window starts at -top, the
    # last ends at H - 1 + bottom); VALID never reaches it.
    if (top or bottom or left or right) and not _finite(<const char*>cnp.PyArray_DATA(w), w.size, is_float):
        return None
    dims[0], dims[1], dims[2], dims[3] = n, h_out, w_out, c_out
    out = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(x))
    image = c_in == 1 and c_out == 1 and s == 1   # conv2d_image, else conv2d_direct (as run_conv chooses)
    if not image:
        isa = block_isa_here(isa, c_out * cnp.PyArray_ITEMSIZE(x))   # the direct kernel's, as run_conv's
    if is_float:
        if image:
            _image(<const float*>cnp.PyArray_DATA(x), n, height, width, <const float*>cnp.PyArray_DATA(w),
                   kh, kw, <float*>cnp.PyArray_DATA(out), h_out, w_out, s, 1, 1, top, left, isa, num_threads)
        else:
            _direct(<const float*>cnp.PyArray_DATA(x), n, height, width, c_in,
                    <const float*>cnp.PyArray_DATA(w), kh, kw, c_in, c_out, <float*>cnp.PyArray_DATA(out),
                    h_out, w_out, s, s, 1, 1, top, left, 1, isa, num_threads)
    else:
        if image:
            _image(<const double*>cnp.PyArray_DATA(x), n, height, width, <const double*>cnp.PyArray_DATA(w),
                   kh, kw, <double*>cnp.PyArray_DATA(out), h_out, w_out, s, 1, 1, top, left, isa, num_threads)
        else:
            _direct(<const double*>cnp.PyArray_DATA(x), n, height, width, c_in,
                    <const double*>cnp.PyArray_DATA(w), kh, kw, c_in, c_out, <double*>cnp.PyArray_DATA(out),
                    h_out, w_out, s, s, 1, 1, top, left, 1, isa, num_threads)
    return out


# --------------------------------------------------------------------------- pad
# The plain call: an ndarray, a list/tuple of (before, after) int pairs, CONSTANT with 0 /
# REFLECT / SYMMETRIC within their limits. The index maps are built here in C (the general path
# builds them with NumPy, ~30 us for a 4-D array).

cdef enum:
    MODE_CONSTANT = 0
    MODE_REFLECT = 1
    MODE_SYMMETRIC = 2


cdef int _mode_of(object mode):
    if type(mode) is not str:
        return -1
    if mode == "CONSTANT" or mode == "constant":
        return MODE_CONSTANT
    if mode == "REFLECT" or mode == "reflect":
        return MODE_REFLECT
    if mode == "SYMMETRIC" or mode == "symmetric":
        return MODE_SYMMETRIC
    return -1


def pad_fast(input, paddings, mode, constant_values, int num_threads):
    """``convops.pad(input, paddings, mode, constant_values)`` for the plain case above, or None."""
    cdef cnp.ndarray x, out
    cdef Py_ssize_t ndim, axis, i, k, size, total = 0, count = 1
    cdef Py_ssize_t in_shape[64]
    cdef Py_ssize_t out_shape[64]
    cdef Py_ssize_t befores[64]
    cdef Py_ssize_t offsets[64]
    cdef cnp.npy_intp dims[64]
    cdef Py_ssize_t* maps
    cdef char zero[16]
    cdef int code = _mode_of(mode)
    if code < 0 or type(input) is not np.ndarray:
        return None
    # Only +0 fills with memset; -0.0 is a different constant (its sign bit is kept, as tf.pad,
    # np.pad and PyTorch keep it) and goes the general way.
    if not ((type(constant_values) is int or type(constant_values) is float) and constant_values == 0):
        return None
    if type(constant_values) is float and signbit(<double>constant_values):
        return None
    if type(paddings) is not list and type(paddings) is not tuple:
        return None
    x = input
    ndim = cnp.PyArray_NDIM(x)
    if ndim < 1 or ndim > 64 or len(paddings) != ndim or x.dtype.kind not in "biuf" or x.dtype.itemsize > 16:
        return None
    if not cnp.PyArray_ISCARRAY_RO(x) or not cnp.PyArray_ISNOTSWAPPED(x):
        return None
    for axis in range(ndim):
        pair = paddings[axis]
        if (type(pair) is not list and type(pair) is not tuple) or len(pair) != 2:
            return None
        before, after = pair
        if type(before) is not int or type(after) is not int or not (0 <= before <= 65536 and 0 <= after <= 65536):
            return None
        size = x.shape[axis]
        befores[axis], in_shape[axis] = before, size
        if code == MODE_REFLECT and (before > size - 1 or after > size - 1):
            return None
        if code == MODE_SYMMETRIC and (before > size or after > size):
            return None
        out_shape[axis] = size + before + after
        dims[axis] = out_shape[axis]
        offsets[axis] = total
        total += out_shape[axis]
        count *= out_shape[axis]
        if count == 0 or count > (1 << 40):
            return None                          # empty or huge: the general path's business
    out = _result(<int>ndim, dims, cnp.PyArray_TYPE(x), cnp.PyArray_ITEMSIZE(x))
    maps = <Py_ssize_t*>malloc(total * sizeof(Py_ssize_t))
    if maps == NULL:
        raise MemoryError("pad: could not allocate the index maps")
    try:
        # The index maps of padding.padding_index, mode by mode.
        for axis in range(ndim):
            size = in_shape[axis]
            for i in range(out_shape[axis]):
                k = i - befores[axis]
                if k < 0 or k >= size:
                    if code == MODE_CONSTANT:
                        k = -1
                    elif code == MODE_REFLECT:
                        k = -k if k < 0 else 2 * (size - 1) - k
                    else:
                        k = -k - 1 if k < 0 else 2 * size - 1 - k
                maps[offsets[axis] + i] = k
        memset(zero, 0, sizeof(zero))
        _pad(ndim, <const char*>cnp.PyArray_DATA(x) if x.size else NULL, <char*>cnp.PyArray_DATA(out), in_shape,
             out_shape, maps, offsets, befores, zero, x.dtype.itemsize, count * x.dtype.itemsize, num_threads)
    finally:
        free(maps)
    return out


# --------------------------------------------------------------------------- max_pool2d, avg_pool2d
# The plain call: a float32/float64 NHWC C-contiguous 4-D ndarray, an int window and stride (or
# pairs of ints), "VALID"/"SAME", data_format "NHWC" -- or not given, where the warning about a
# shape that looks like NCHW would not fire -- and a non-empty result.

cdef bint _pair_of(object value, Py_ssize_t* first, Py_ssize_t* second) except -1:
    # An exact int or a list/tuple of 2 exact ints, each in 1..65536, into first and second;
    # False = not this fast path's business.
    if type(value) is int:
        if not 1 <= value <= 65536:
            return False
        first[0] = second[0] = value
        return True
    if (type(value) is not tuple and type(value) is not list) or len(value) != 2:
        return False
    a, b = value
    if type(a) is not int or type(b) is not int or not (1 <= a <= 65536 and 1 <= b <= 65536):
        return False
    first[0], second[0] = a, b
    return True


cdef inline Py_ssize_t _valid_size(Py_ssize_t size, Py_ssize_t k, Py_ssize_t s) noexcept nogil:
    # convops.arithmetic.pool_output_size without padding: floor((size - k) / s) + 1, 0 if negative.
    return (size - k) // s + 1 if size >= k else 0


cdef bint _pool_window(object ksize, object strides, object padding, Py_ssize_t height, Py_ssize_t width,
                       Py_ssize_t* kh, Py_ssize_t* kw, Py_ssize_t* sh, Py_ssize_t* sw, Py_ssize_t* top,
                       Py_ssize_t* left, Py_ssize_t* h_out, Py_ssize_t* w_out) except -1:
    # The window, stride and padding of a plain call and the output size they give (False: not
    # this fast path's business), as pooling.pool_geometry computes them.
    cdef Py_ssize_t bottom, right
    cdef int same = _same_of(padding)
    if same < 0 or not _pair_of(ksize, kh, kw) or not _pair_of(strides, sh, sw):
        return False
    if same:
        same_padding(height, kh[0], sh[0], 1, top, &bottom)
        same_padding(width, kw[0], sw[0], 1, left, &right)
        h_out[0], w_out[0] = (height + sh[0] - 1) // sh[0], (width + sw[0] - 1) // sw[0]
    else:
        top[0] = left[0] = 0
        h_out[0], w_out[0] = _valid_size(height, kh[0], sh[0]), _valid_size(width, kw[0], sw[0])
    return True


cdef void _plan_float(PoolPlan* plan, int typenum, bint max_start) noexcept:
    # The plan's float type; with `max_start`, the max kernels' start: the lowest finite value.
    if typenum == cnp.NPY_FLOAT32:
        plan_type(plan, <float>(-FLT_MAX if max_start else 0))
    else:
        plan_type(plan, <double>(-DBL_MAX if max_start else 0))


def pool2d_fast(input, ksize, strides, padding, data_format, bint is_max, count_include_pad, int isa,
                int num_threads, Py_ssize_t stream_bytes):
    """``convops.max_pool2d(input, ksize, strides, padding, data_format)`` (``is_max``) or
    ``convops.avg_pool2d(..., count_include_pad=count_include_pad)`` for the plain call above,
    by the same kernel in the float variant `isa` (the one convops.pooling chooses when nothing
    is forced); or None. Outputs of at least `stream_bytes` on a 64-byte boundary are written with
    non-temporal stores, as the general path writes them."""
    cdef cnp.ndarray x, out
    cdef Py_ssize_t n, height, width, channels, kh, kw, sh, sw, top, left, h_out, w_out, rows
    cdef cnp.npy_intp dims[4]
    cdef int typenum
    cdef PoolPlan plan
    if type(input) is not np.ndarray:
        return None
    if not is_max and type(count_include_pad) is not bool:
        return None
    x = input
    if not _float_array(x):
        return None
    typenum = cnp.PyArray_TYPE(x)
    n, height, width, channels = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    if data_format is None:
        # pooling._warn_if_nchw's shapes: the general path warns about them.
        if (height == 1 or height == 3 or height == 4) and width == channels and width >= 8:
            return None
    elif not _nhwc_of(data_format):
        return None
    if not _pool_window(ksize, strides, padding, height, width, &kh, &kw, &sh, &sw, &top, &left, &h_out, &w_out):
        return None
    if n < 1 or h_out < 1 or w_out < 1 or channels < 1:
        return None                              # empty result: the general path's business
    dims[0], dims[1], dims[2], dims[3] = n, h_out, w_out, channels
    out = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(x))
    rows = n * h_out
    plan_window(&plan, height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left)
    _plan_float(&plan, typenum, True)
    plan.x, plan.out = cnp.PyArray_DATA(x), cnp.PyArray_DATA(out)
    plan.isa = isa
    plan.stream = out.nbytes >= stream_bytes and <size_t>cnp.PyArray_DATA(out) % 64 == 0
    plan.count_include_pad = not is_max and count_include_pad
    with nogil:
        run_pool(&plan, is_max, rows, rows * w_out * kh * kw * channels, num_threads)
    return out


# --------------------------------------------------------------------------- pool gradients
# The plain calls: float32/float64 NHWC C-contiguous ndarrays of one dtype, data_format "NHWC",
# window and stride as for the forward pools, VALID/SAME, a `grad` of exactly the forward output's
# shape, nothing empty. They run what the general path runs, by the same plans and runs
# (pool_grad.pxd): max pooling's argmax (int32 positions), then its scatter; average pooling's
# gather.

def max_pool2d_grad_fast(orig_input, grad, ksize, strides, padding, data_format, int num_threads):
    """``convops.max_pool2d_grad(orig_input, grad, ksize, strides, padding, data_format)`` for the
    plain call above, or None."""
    cdef cnp.ndarray x, dy, dx, values, argmax
    cdef Py_ssize_t n, height, width, channels, kh, kw, sh, sw, top, left, h_out, w_out, rows
    cdef cnp.npy_intp dims[4]
    cdef int typenum
    cdef PoolPlan plan
    if type(orig_input) is not np.ndarray or type(grad) is not np.ndarray or not _nhwc_of(data_format):
        return None
    x, dy = orig_input, grad
    if not _float_pair(x, dy):
        return None
    n, height, width, channels = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    if not _pool_window(ksize, strides, padding, height, width, &kh, &kw, &sh, &sw, &top, &left, &h_out, &w_out):
        return None
    if (n < 1 or h_out < 1 or w_out < 1 or channels < 1 or dy.shape[0] != n or dy.shape[1] != h_out
            or dy.shape[2] != w_out or dy.shape[3] != channels):
        return None                              # an empty result or a wrong `grad`: the general path's
    if height * width * channels > 2147483647:
        return None                              # positions past int32: the general path refuses them
    typenum = cnp.PyArray_TYPE(x)
    dims[0], dims[1], dims[2], dims[3] = n, h_out, w_out, channels
    values = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(x))   # the kernel's window maxima (unused)
    argmax = _result(4, dims, cnp.NPY_INT32, 4)
    dims[1], dims[2] = height, width
    dx = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(x))
    rows = n * h_out
    plan_window(&plan, height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left)
    _plan_float(&plan, typenum, True)
    plan.x, plan.out, plan.argmax = cnp.PyArray_DATA(x), cnp.PyArray_DATA(values), cnp.PyArray_DATA(argmax)
    plan.index32, plan.values_from_argmax = True, False
    plan.size_in, plan.size_out = height * width * channels, h_out * w_out * channels
    plan.dy, plan.dx = cnp.PyArray_DATA(dy), cnp.PyArray_DATA(dx)
    with nogil:
        run_argmax(&plan, rows, rows * w_out * kh * kw * channels, num_threads)
        if not plan.failed:
            run_scatter(&plan, n, num_threads)
    if plan.failed:
        raise MemoryError("max_pool_argmax: could not allocate a scratch row")
    return dx


def avg_pool2d_grad_fast(orig_input_shape, grad, ksize, strides, padding, data_format, count_include_pad,
                         int num_threads):
    """``convops.avg_pool2d_grad(orig_input_shape, grad, ksize, strides, padding, data_format,
    count_include_pad)`` for the plain call above (`orig_input_shape` a list/tuple of 4 exact
    ints), or None."""
    cdef cnp.ndarray dy, dx
    cdef Py_ssize_t kh, kw, sh, sw, top, left, h_out, w_out
    cdef Py_ssize_t sizes[4]
    cdef cnp.npy_intp dims[4]
    cdef int typenum
    cdef PoolPlan plan
    if type(grad) is not np.ndarray or type(count_include_pad) is not bool or not _nhwc_of(data_format):
        return None
    if not _four_sizes(orig_input_shape, sizes):
        return None
    dy = grad
    if not _float_array(dy):
        return None
    typenum = cnp.PyArray_TYPE(dy)
    if <double>sizes[0] * sizes[1] * sizes[2] * sizes[3] * cnp.PyArray_ITEMSIZE(dy) > <double>(1 << 62):
        return None                              # the general path says it is too large
    if not _pool_window(ksize, strides, padding, sizes[1], sizes[2], &kh, &kw, &sh, &sw, &top, &left, &h_out,
                        &w_out):
        return None
    if (h_out < 1 or w_out < 1 or dy.shape[0] != sizes[0] or dy.shape[1] != h_out or dy.shape[2] != w_out
            or dy.shape[3] != sizes[3]):
        return None
    dims[0], dims[1], dims[2], dims[3] = sizes[0], sizes[1], sizes[2], sizes[3]
    dx = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(dy))
    plan_window(&plan, sizes[1], sizes[2], sizes[3], h_out, w_out, kh, kw, sh, sw, top, left)
    _plan_float(&plan, typenum, False)
    plan.dy, plan.dx = cnp.PyArray_DATA(dy), cnp.PyArray_DATA(dx)
    plan.count_include_pad, plan.readable = count_include_pad, False
    with nogil:
        run_avg_grad(&plan, sizes[0] * sizes[1], num_threads)
    return dx


# --------------------------------------------------------------------------- conv2d_backprop_input
# The plain call of a small layer: `input_sizes` a list/tuple of 4 exact ints, float32/float64
# NHWC C-contiguous filters and out_backprop of one dtype, stride 1, "VALID"/"SAME", no dilation,
# no groups, finite filters of fewer than `max_filter_size` entries (below the size from which
# "auto" considers Winograd) and a non-empty result. It runs what the general path runs there
# (convops/_conv_dispatch.py, run_input_grad, choose_input_grad_kernel): for input channels that
# fill at most a `lane_share`-th of the direct kernel's SIMD vector, at least `min_out_per_in`
# output channels per input channel and at least `min_gemm_work` of the direct kernel's
# multiply-adds (input_grad_gemm_pays), im2col + BLAS + col2im with the general path's limits on
# its chunks of images (at most `max_chunks` of them, each within `scratch_bytes` of patches),
# with BLAS at one thread (by `run_blas`, convops._threads.run_blas_kernel: no compiled module
# imports Python-side convops); else the transposed convolution of out_backprop with the flipped
# filters by the direct kernel.

cdef void _flip(const floating* w, floating* flipped, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t c_in,
                Py_ssize_t c_out) noexcept nogil:
    # flipped[ky, kx, o, c] = w[KH-1-ky, KW-1-kx, c, o] (small filters only: a plain loop).
    cdef Py_ssize_t ky, kx, c, o
    cdef const floating* src
    cdef floating* dst
    for ky in range(kh):
        for kx in range(kw):
            src = w + ((kh - 1 - ky) * kw + kw - 1 - kx) * c_in * c_out
            dst = flipped + (ky * kw + kx) * c_out * c_in
            for o in range(c_out):
                for c in range(c_in):
                    dst[o * c_in + c] = src[c * c_out + o]


_input_grad_gemm_kernel = None


cdef object _input_grad_gemm():
    # conv_grad's im2col kernel, imported on first use: it cimports SciPy's BLAS, whose import
    # costs ~0.15-0.4 s (blas.pxd), which no other fast path needs.
    global _input_grad_gemm_kernel
    if _input_grad_gemm_kernel is None:
        from convops._kernels import conv_grad
        _input_grad_gemm_kernel = conv_grad.conv2d_backprop_input
    return _input_grad_gemm_kernel


def conv2d_backprop_input_fast(input_sizes, filters, out_backprop, strides, padding, data_format, dilations,
                               Py_ssize_t max_filter_size, Py_ssize_t lane_share, Py_ssize_t min_out_per_in,
                               double min_gemm_work, Py_ssize_t scratch_bytes, Py_ssize_t max_chunks, run_blas,
                               int isa, int num_threads):
    """``convops.conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding,
    data_format, dilations)`` for the plain call above, in instruction set `isa`; or None."""
    cdef cnp.ndarray w, dy, dx
    cdef Py_ssize_t sizes[4]
    cdef Py_ssize_t n, height, width, c_in, kh, kw, c_out, h_out, w_out
    cdef bint gemm
    cdef Py_ssize_t top = 0, bottom = 0, left = 0, right = 0
    cdef cnp.npy_intp dims[4]
    cdef int typenum
    cdef int same
    cdef bint is_float
    cdef void* flipped = NULL
    if type(filters) is not np.ndarray or type(out_backprop) is not np.ndarray:
        return None
    if not (type(dilations) is int and dilations == 1) or not _nhwc_of(data_format):
        return None
    if _stride_of(strides) != 1 or not _four_sizes(input_sizes, sizes):
        return None
    same = _same_of(padding)
    if same < 0:
        return None
    w, dy = filters, out_backprop
    if not _float_pair(w, dy):
        return None
    typenum = cnp.PyArray_TYPE(w)
    n, height, width, c_in = sizes[0], sizes[1], sizes[2], sizes[3]
    kh, kw, c_out = w.shape[0], w.shape[1], w.shape[3]
    if w.shape[2] != c_in or c_out < 1 or kh < 1 or kw < 1 or w.size >= max_filter_size:
        return None
    isa = block_isa_here(isa, c_in * cnp.PyArray_ITEMSIZE(w))   # the direct kernel's: its outputs are C_in
    gemm = (c_in * lane_share <= convops_simd_lanes(isa, cnp.PyArray_ITEMSIZE(w)) and c_out >= min_out_per_in * c_in
            and <double>n * height * width * c_out * kh * kw >= min_gemm_work)   # few in, many out, a large call
    if same:
        same_padding(height, kh, 1, 1, &top, &bottom)
        same_padding(width, kw, 1, 1, &left, &right)
        h_out, w_out = height, width
    else:
        h_out, w_out = height - kh + 1, width - kw + 1
    # The shapes conv2d maps: anything else is the general path's to refuse.
    if h_out < 1 or w_out < 1 or dy.shape[0] != n or dy.shape[1] != h_out or dy.shape[2] != w_out:
        return None
    if dy.shape[3] != c_out:
        return None
    is_float = typenum == cnp.NPY_FLOAT32
    if not _finite(<const char*>cnp.PyArray_DATA(w), w.size, is_float):
        return None                              # im2col, as TensorFlow multiplies padding zeros
    dims[0], dims[1], dims[2], dims[3] = n, height, width, c_in
    if gemm:
        if h_out * w_out > BLAS_INT_MAX:         # a BLAS dimension (the filters are small)
            return None                          # the general path's to refuse
        dx = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(w))
        run_blas(_input_grad_gemm(), True, dy, w, dx, 1, 1, 1, 1, top, left, 1, scratch_bytes, max_chunks)
        return dx
    dx = _result(4, dims, typenum, cnp.PyArray_ITEMSIZE(w))
    flipped = malloc(w.size * cnp.PyArray_ITEMSIZE(w))
    if flipped == NULL:
        raise MemoryError("conv2d_backprop_input: could not allocate the flipped filters")
    try:
        # flipped[ky, kx, o, c] = w[KH-1-ky, KW-1-kx, c, o]: the transposed convolution's filters.
        if is_float:
            _flip(<const float*>cnp.PyArray_DATA(w), <float*>flipped, kh, kw, c_in, c_out)
            _direct(<const float*>cnp.PyArray_DATA(dy), n, h_out, w_out, c_out, <const float*>flipped, kh, kw, c_out,
                    c_in, <float*>cnp.PyArray_DATA(dx), height, width, 1, 1, 1, 1, kh - 1 - top, kw - 1 - left, 1,
                    isa, num_threads)
        else:
            _flip(<const double*>cnp.PyArray_DATA(w), <double*>flipped, kh, kw, c_in, c_out)
            _direct(<const double*>cnp.PyArray_DATA(dy), n, h_out, w_out, c_out, <const double*>flipped, kh, kw, c_out,
                    c_in, <double*>cnp.PyArray_DATA(dx), height, width, 1, 1, 1, 1, kh - 1 - top, kw - 1 - left, 1,
                    isa, num_threads)
    finally:
        free(flipped)
    return dx
