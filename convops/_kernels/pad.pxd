# The padding copy on raw buffers, for the small-call fast path (fastpath.pyx): it has built the
# index maps and calls exactly this, as convops.padding would have.
cdef int _pad(Py_ssize_t ndim, const char* src_ptr, char* dst_ptr, const Py_ssize_t* in_shape,
              const Py_ssize_t* out_shape, const Py_ssize_t* index_map, const Py_ssize_t* map_offsets,
              const Py_ssize_t* befores, const char* value, Py_ssize_t itemsize, Py_ssize_t dst_bytes,
              int num_threads) except -1
