# OpenMP status and the thread-count rule shared by every kernel.

cdef extern from "_omp_shim.h":
    const int CONVOPS_OPENMP
    int convops_omp_max_threads() noexcept nogil

# Below this many inner-loop operations (scalar element operations, ~20-40 us of work on one
# core) a parallel region costs more than it saves: waking an OpenMP team costs a few
# microseconds on an idle 2-core machine, and up to a scheduler time slice (ms) when other
# processes hold the cores. Kernels whose inner operation is a SIMD multiply-add pass a
# correspondingly scaled count.
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
