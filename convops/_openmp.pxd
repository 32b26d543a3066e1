cdef int effective_threads(int requested, Py_ssize_t work) noexcept nogil
