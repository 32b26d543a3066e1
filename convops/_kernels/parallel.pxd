# The process's one thread pool (src/parallel.h), compiled into this module only; every kernel
# module cimports these, so the process holds one pool whatever the number of extension modules.
from libc.stddef cimport ptrdiff_t

ctypedef void (*task_fn)(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil

cdef void parallel_for(task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads) noexcept nogil
cdef int effective_threads(int requested, Py_ssize_t work) noexcept nogil
cdef ptrdiff_t chunk_for(ptrdiff_t n, int threads) noexcept nogil
