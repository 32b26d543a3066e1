# OpenMP status and the thread-count rule shared by every kernel.

cdef extern from "_omp_shim.h":
    const int CONVOPS_OPENMP
    int convops_omp_max_threads() noexcept nogil

# Below this many inner-loop operations (scalar element operations, ~20-40 us of work on one
# core) running in parallel costs more than it saves: waking helper threads costs microseconds
# to tens of microseconds (an OpenMP team, or the helpers of _parallel.h, which the conv, pool
# and pad kernels use), and on a loaded machine a helper may not get a core at all. Kernels
# whose inner operation is a SIMD multiply-add pass a correspondingly scaled count.
cdef enum:
    MIN_PARALLEL_WORK = 131072


cdef int effective_threads(int requested, Py_ssize_t work) noexcept nogil:
    if work < MIN_PARALLEL_WORK or requested < 1:
        return 1
    return requested


def openmp_enabled():
    """True when the extensions were compiled with OpenMP."""
    return bool(CONVOPS_OPENMP)


def max_threads():
    """OpenMP's default team size (1 when compiled without OpenMP)."""
    return convops_omp_max_threads()
