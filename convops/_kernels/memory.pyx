# NumPy's array data from a cache that keeps freed large blocks for the next request of their size
# (src/memory_cache.h says why): installed by convops.nn around a training step, and the source of
# the public ops' large results (`empty`, `zeros`). With fastpath.pyx, the only module that uses
# NumPy's C API: here only to install an allocator.
from cpython.pycapsule cimport PyCapsule_New

from math import prod

import numpy as np

cimport numpy as cnp

cnp.import_array()

cdef extern from "memory_cache.h" nogil:
    """
    static PyDataMem_Handler convops_cache_handler = {
        "convops_cache", 1,
        {NULL, convops_cache_malloc, convops_cache_calloc, convops_cache_realloc, convops_cache_free}};
    """
    ctypedef struct PyDataMem_Handler:
        pass
    PyDataMem_Handler convops_cache_handler
    size_t convops_cache_release()
    size_t convops_cache_bytes
    int convops_cache_count
    size_t convops_cache_hits, convops_cache_misses
    size_t CONVOPS_CACHE_MIN_BYTES, CONVOPS_CACHE_MAX_BYTES
    int CONVOPS_CACHE_SLOTS

cdef extern from "numpy/arrayobject.h":
    object PyDataMem_SetHandler(object handler)

# One capsule for the process: every array made by this allocator holds a reference to it.
_HANDLER = PyCapsule_New(&convops_cache_handler, "mem_handler", NULL)
#: What the cache keeps: blocks of at least MIN_BYTES, at most SLOTS of them and MAX_BYTES in all.
MIN_BYTES, MAX_BYTES, SLOTS = CONVOPS_CACHE_MIN_BYTES, CONVOPS_CACHE_MAX_BYTES, CONVOPS_CACHE_SLOTS


def install():
    """Make the caching allocator NumPy's for this thread's context; returns the allocator it
    replaces (a capsule for `restore`)."""
    return PyDataMem_SetHandler(_HANDLER)


def empty(shape, dtype):
    """``np.empty(shape, dtype)`` for an op's result: from the cache when it has at least
    MIN_BYTES, so that a result of the same size, freed by the caller, serves the next call instead
    of new pages (each a page fault on first touch, ~2 us in a VM: a 2 MiB result cost a call
    ~0.9 ms). Such an array also starts on a 64-byte boundary. Smaller ones are NumPy's own."""
    return _allocate(np.empty, shape, dtype)


def zeros(shape, dtype):
    """``np.zeros(shape, dtype)``, from the cache as `empty` (a kept block is zeroed)."""
    return _allocate(np.zeros, shape, dtype)


cdef object _allocate(object make, tuple shape, object dtype):
    cdef object previous
    if np.dtype(dtype).itemsize * prod(shape) < CONVOPS_CACHE_MIN_BYTES:  # Python ints: no overflow
        return make(shape, dtype)
    previous = PyDataMem_SetHandler(_HANDLER)
    try:
        return make(shape, dtype)
    finally:
        PyDataMem_SetHandler(previous)


def restore(previous):
    """Put back the allocator `install` returned."""
    PyDataMem_SetHandler(previous)


def release():
    """Free every kept block (the arrays still alive are not touched); returns the bytes freed."""
    return convops_cache_release()


def stats():
    """{'kept_bytes', 'kept_blocks', 'hits', 'misses'}: the cache now, and the requests of at least
    MIN_BYTES it served (hits) or passed to malloc (misses) since the process started."""
    return {
        "kept_bytes": convops_cache_bytes,
        "kept_blocks": convops_cache_count,
        "hits": convops_cache_hits,
        "misses": convops_cache_misses,
    }
