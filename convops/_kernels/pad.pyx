# Padding kernel: one routine for every mode, rank and dtype. The public layer turns the mode into
# one index map per axis (output index -> input index, or -1 for "constant here"), so the kernel
# only copies bytes: it never needs to know which mode it is running. (The small-call fast path
# that reads Python objects lives in fastpath.pyx and calls _pad through pad.pxd.)
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from convops._kernels.parallel cimport effective_threads, parallel_for, chunk_for
from convops._kernels.common cimport floating

cdef void _fill_constant(char* dst, Py_ssize_t count, const char* value, Py_ssize_t itemsize) noexcept nogil:
    # Write `value` once, then double the filled prefix: log2(count) memcpy calls.
    cdef Py_ssize_t done, step
    if count <= 0:
        return
    memcpy(dst, value, itemsize)
    done = 1
    while done < count:
        step = min(done, count - done)
        memcpy(dst + done * itemsize, dst, step * itemsize)
        done += step


cdef void _fill(Py_ssize_t axis, Py_ssize_t ndim, const char* src, char* dst,
                const Py_ssize_t* out_shape, const Py_ssize_t* in_shape, const Py_ssize_t* src_strides,
                const Py_ssize_t* dst_strides, const Py_ssize_t* maps, const Py_ssize_t* map_offsets,
                const Py_ssize_t* befores, const char* value, Py_ssize_t itemsize) noexcept nogil:
    cdef const Py_ssize_t* index_map = maps + map_offsets[axis]
    cdef Py_ssize_t i, j, n_out = out_shape[axis]
    if axis == ndim - 1:
        # Innermost axis: the interior is one contiguous run; only the borders go through the map.
        if in_shape[axis] > 0:
            memcpy(dst + befores[axis] * itemsize, src, in_shape[axis] * itemsize)
        for i in range(befores[axis]):
            j = index_map[i]
            if j < 0:
                memcpy(dst + i * itemsize, value, itemsize)
            else:
                memcpy(dst + i * itemsize, src + j * itemsize, itemsize)
        for i in range(befores[axis] + in_shape[axis], n_out):
            j = index_map[i]
            if j < 0:
                memcpy(dst + i * itemsize, value, itemsize)
            else:
                memcpy(dst + i * itemsize, src + j * itemsize, itemsize)
        return
    for i in range(n_out):
        j = index_map[i]
        if j < 0:
            _fill_constant(dst + i * dst_strides[axis], dst_strides[axis] // itemsize, value, itemsize)
        else:
            _fill(axis + 1, ndim, src + j * src_strides[axis], dst + i * dst_strides[axis], out_shape,
                  in_shape, src_strides, dst_strides, maps, map_offsets, befores, value, itemsize)


def pad_copy(const unsigned char[::1] src, unsigned char[::1] dst, const Py_ssize_t[::1] in_shape,
             const Py_ssize_t[::1] out_shape, const Py_ssize_t[::1] maps,
             const Py_ssize_t[::1] map_offsets, const Py_ssize_t[::1] befores,
             const unsigned char[::1] value, Py_ssize_t itemsize, int num_threads):
    """Fill the C-contiguous `dst` (viewed as bytes) from the C-contiguous `src` through per-axis
    index maps. The caller guarantees: ndim >= 1, every input axis non-empty wherever a map
    points into it, and `dst` has prod(out_shape) * itemsize bytes."""
    _pad(in_shape.shape[0], <const char*>&src[0] if src.shape[0] else NULL, <char*>&dst[0], &in_shape[0],
         &out_shape[0], &maps[0], &map_offsets[0], &befores[0], <const char*>&value[0], itemsize, dst.shape[0],
         num_threads)


cdef int _pad(Py_ssize_t ndim, const char* src_ptr, char* dst_ptr, const Py_ssize_t* in_shape,
              const Py_ssize_t* out_shape, const Py_ssize_t* index_map, const Py_ssize_t* map_offsets,
              const Py_ssize_t* befores, const char* value, Py_ssize_t itemsize, Py_ssize_t dst_bytes,
              int num_threads) except -1:
    cdef Py_ssize_t src_strides[64]
    cdef Py_ssize_t dst_strides[64]
    cdef Py_ssize_t axis, item = itemsize
    cdef char* fill = NULL
    cdef int threads
    if ndim > 64:
        raise ValueError("pad supports at most 64 dimensions")
    # Trailing axes that are not padded (the channels of NHWC images) travel whole: they merge
    # into one bigger "element", so each pixel is one memcpy and each interior row is one.
    while ndim > 1 and befores[ndim - 1] == 0 and out_shape[ndim - 1] == in_shape[ndim - 1]:
        item *= in_shape[ndim - 1]
        ndim -= 1
    fill = <char*>malloc(item if item > 0 else 1)
    if fill == NULL:
        raise MemoryError("pad: could not allocate the constant element")
    _fill_constant(fill, item // itemsize, value, itemsize)
    src_strides[ndim - 1] = item
    dst_strides[ndim - 1] = item
    for axis in range(ndim - 2, -1, -1):
        src_strides[axis] = src_strides[axis + 1] * in_shape[axis + 1]
        dst_strides[axis] = dst_strides[axis + 1] * out_shape[axis + 1]
    threads = effective_threads(num_threads, dst_bytes // 8)
    _copy(ndim, src_ptr, dst_ptr, out_shape, in_shape, src_strides, dst_strides, index_map,
          map_offsets, befores, fill, item, threads)
    free(fill)
    return 0


cdef struct PadPlan:
    Py_ssize_t ndim
    const char* src
    char* dst
    const Py_ssize_t* out_shape
    const Py_ssize_t* in_shape
    const Py_ssize_t* src_strides
    const Py_ssize_t* dst_strides
    const Py_ssize_t* maps
    const Py_ssize_t* map_offsets
    const Py_ssize_t* befores
    const char* fill
    Py_ssize_t item


cdef void _rows_2d(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    # Output rows [begin, end) of a 2-D (after merging) array.
    cdef const PadPlan* p = <const PadPlan*>ctx
    cdef Py_ssize_t i, j
    for i in range(begin, end):
        j = p.maps[p.map_offsets[0] + i]
        if j < 0:
            _fill_constant(p.dst + i * p.dst_strides[0], p.out_shape[1], p.fill, p.item)
        else:
            _fill(1, 2, p.src + j * p.src_strides[0], p.dst + i * p.dst_strides[0], p.out_shape, p.in_shape,
                  p.src_strides, p.dst_strides, p.maps, p.map_offsets, p.befores, p.fill, p.item)


cdef void _rows_nd(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    # Output (axis 0, axis 1) pairs [begin, end) of an array of 3 or more (merged) dimensions.
    cdef const PadPlan* p = <const PadPlan*>ctx
    cdef Py_ssize_t k, i, j, jj
    for k in range(begin, end):
        i = k // p.out_shape[1]
        j = p.maps[p.map_offsets[0] + i]
        jj = p.maps[p.map_offsets[1] + k - i * p.out_shape[1]]
        if j < 0 or jj < 0:
            _fill_constant(p.dst + k * p.dst_strides[1], p.dst_strides[1] // p.item, p.fill, p.item)
        else:
            _fill(2, p.ndim, p.src + j * p.src_strides[0] + jj * p.src_strides[1], p.dst + k * p.dst_strides[1],
                  p.out_shape, p.in_shape, p.src_strides, p.dst_strides, p.maps, p.map_offsets, p.befores, p.fill,
                  p.item)


cdef void _copy(Py_ssize_t ndim, const char* src_ptr, char* dst_ptr, const Py_ssize_t* out_shape,
                const Py_ssize_t* in_shape, const Py_ssize_t* src_strides, const Py_ssize_t* dst_strides,
                const Py_ssize_t* index_map, const Py_ssize_t* map_offsets, const Py_ssize_t* befores,
                const char* fill, Py_ssize_t item, int threads) noexcept:
    # Nothing in here can fail: pad_copy allocates before and frees after. Rows are handed out in
    # chunks to whichever thread is free (parallel.h); the first two axes together when there
    # are three or more, so that one image alone still splits.
    cdef PadPlan plan
    cdef Py_ssize_t n_rows
    plan.ndim, plan.src, plan.dst, plan.out_shape, plan.in_shape = ndim, src_ptr, dst_ptr, out_shape, in_shape
    plan.src_strides, plan.dst_strides, plan.maps, plan.map_offsets = src_strides, dst_strides, index_map, map_offsets
    plan.befores, plan.fill, plan.item = befores, fill, item
    with nogil:
        if ndim == 1:
            _fill(0, 1, src_ptr, dst_ptr, out_shape, in_shape, src_strides, dst_strides,
                  index_map, map_offsets, befores, fill, item)
        elif ndim == 2:
            parallel_for(_rows_2d, &plan, out_shape[0], max(1, out_shape[0] // (threads * 16)), threads)
        else:
            n_rows = out_shape[0] * out_shape[1]
            parallel_for(_rows_nd, &plan, n_rows, max(1, n_rows // (threads * 16)), threads)


# --------------------------------------------------------------------------- pad

cdef struct FoldPlan:
    const void* src
    void* dst
    const Py_ssize_t* indptr
    const Py_ssize_t* indices
    Py_ssize_t n_out, n_in, inner
    int code


cdef void _fold_rows(const floating* src, floating* dst, const FoldPlan* p, Py_ssize_t r0,
                     Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t row, o, j, t, t0, t1, c, inner = p.inner
    cdef floating* d
    cdef const floating* s
    for row in range(r0, r1):
        o = row // p.n_in
        j = row - o * p.n_in
        d = dst + row * inner
        t0, t1 = p.indptr[j], p.indptr[j + 1]
        if t0 == t1:
            memset(d, 0, inner * sizeof(floating))
            continue
        # Start from the first copy rather than from +0.0: a sum of -0.0 copies stays -0.0, as in
        # TensorFlow's MirrorPadGrad (0.0 + -0.0 would be +0.0). Other sums are the same bits.
        memcpy(d, src + (o * p.n_out + p.indices[t0]) * inner, inner * sizeof(floating))
        for t in range(t0 + 1, t1):
            s = src + (o * p.n_out + p.indices[t]) * inner
            for c in range(inner):
                d[c] = d[c] + s[c]


cdef void _fold_chunk(void* ctx, ptrdiff_t r0, ptrdiff_t r1) noexcept nogil:
    cdef const FoldPlan* p = <const FoldPlan*>ctx
    if p.code == 0:
        _fold_rows(<const float*>p.src, <float*>p.dst, p, r0, r1)
    else:
        _fold_rows(<const double*>p.src, <double*>p.dst, p, r0, r1)


def pad_fold_axis(const floating[:, :, ::1] src, floating[:, :, ::1] dst, const Py_ssize_t[::1] indptr,
                  const Py_ssize_t[::1] indices, int num_threads):
    """The gradient of padding along one axis: fold the padded axis back onto the input.

    src: (outer, n_out, inner), dst: (outer, n_in, inner), overwritten. Input index j receives
    src[:, i, :] for every output index i in indices[indptr[j]:indptr[j + 1]] (the inverse of the
    padding's index map, in increasing i). Constant-border indices appear in no list: a CONSTANT
    border's gradient goes to the constant, not to the input. Parallel over (outer, j) rows.
    """
    cdef FoldPlan p
    cdef Py_ssize_t rows = dst.shape[0] * dst.shape[1]
    cdef int threads = effective_threads(num_threads, dst.shape[0] * src.shape[1] * dst.shape[2])
    p.n_out, p.n_in, p.inner = src.shape[1], dst.shape[1], dst.shape[2]
    p.src, p.dst = &src[0, 0, 0], &dst[0, 0, 0]
    p.indptr, p.indices = &indptr[0], &indices[0] if indices.shape[0] else NULL
    p.code = 0 if floating is float else 1
    with nogil:
        parallel_for(_fold_chunk, &p, rows, chunk_for(rows, threads), threads)
