# The one thread pool of the process and the thread-count rule shared by every kernel.
#
# src/parallel.h keeps its pool in static C state, so it must be compiled into exactly one
# extension module: this one. Other kernel modules `cimport` parallel_for from here (a call
# through a function pointer Cython exports at import), so `set_num_threads(n)` means at most
# n threads in the process, not n per module.
from libc.stddef cimport ptrdiff_t

cdef extern from "omp_shim.h":
    const int CONVOPS_OPENMP
    int convops_omp_max_threads() noexcept nogil

cdef extern from "parallel.h" nogil:
    ctypedef void (*convops_task_fn)(void*, ptrdiff_t, ptrdiff_t) noexcept nogil
    void convops_parallel_for(convops_task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads)
    int convops_pool_helper_count()
    void convops_pool_end_backoff()
    double convops_pool_next_backoff()
    bint convops_pool_helpers_late(double own, double wait, ptrdiff_t n_chunks, ptrdiff_t mine, double helper_chunk)
    ptrdiff_t convops_pool_last_call(int field)
    void convops_pool_probe(double caller_seconds, double helper_seconds, double timeout)
    const char* CONVOPS_POOL_BACKEND

# Below this many inner-loop operations (scalar element operations, ~20-40 us of work on one
# core) running in parallel costs more than it saves: waking helper threads costs microseconds
# to tens of microseconds, and on a loaded machine a helper may not get a core at all. Kernels
# whose inner operation is a SIMD multiply-add pass a correspondingly scaled count.
cdef enum:
    MIN_PARALLEL_WORK = 131072


cdef void parallel_for(task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads) noexcept nogil:
    """Run fn(ctx, begin, end) over [0, n_tasks) in chunks on up to `threads` threads (caller included)."""
    convops_parallel_for(<convops_task_fn>fn, ctx, n_tasks, chunk, threads)


cdef int effective_threads(int requested, Py_ssize_t work) noexcept nogil:
    if work < MIN_PARALLEL_WORK or requested < 1:
        return 1
    return requested


cdef ptrdiff_t chunk_for(ptrdiff_t n, int threads) noexcept nogil:
    # ~16 chunks per thread: small enough to balance, big enough to amortise claiming one.
    return max(1, n // (max(threads, 1) * 16))


def openmp_enabled():
    """True when the extensions were compiled with OpenMP (it only supplies the default count)."""
    return bool(CONVOPS_OPENMP)


def max_threads():
    """OpenMP's default team size; without OpenMP, the processors online."""
    return convops_omp_max_threads()


def helper_threads():
    """Helper threads the pool has started so far (the caller of a kernel is not counted)."""
    return convops_pool_helper_count()


def pool_backend():
    """The threads the pool runs on: "posix", "win32", or "none" (every call on the caller)."""
    return CONVOPS_POOL_BACKEND.decode("ascii")


def end_backoff():
    """Let the next calls use their threads again at once: ends the pool's back-off (the 10-160 ms
    of one-thread calls that follow a call whose helpers were late) and makes the next one the
    shortest. set_num_threads calls it."""
    convops_pool_end_backoff()


def next_backoff():
    """How long the next back-off would last, in seconds: 0.01 after on-time calls, doubled by
    each late call up to 0.16, halved by each 8 on-time calls of several threads in a row
    (parallel.h)."""
    return convops_pool_next_backoff()


def helpers_late(double own, double wait, ptrdiff_t n_chunks, ptrdiff_t mine, double helper_chunk):
    """The back-off rule: True when a call whose caller ran `mine` of `n_chunks` chunks in `own`
    seconds, then waited `wait` seconds for the helpers, took longer than the caller alone would,
    and the helpers' chunks took `helper_chunk` seconds each once claimed, more than twice the
    caller's (a helper that lost its core, not one that woke late)."""
    return convops_pool_helpers_late(own, wait, n_chunks, mine, helper_chunk)


_LAST_CALL_FIELDS = ("threads", "allowed", "chunks", "caller_chunks", "backed_off", "own_us", "wait_us")


def last_call():
    """The last parallel loop in the process, as a dict: the threads asked for, the threads
    allowed (1 in a back-off or for a single chunk), the chunks, the chunks the calling thread
    ran (the rest ran on helpers), whether it started a back-off, and the calling thread's time
    on its own chunks and then waiting for the helpers' (microseconds; 0 when it ran alone);
    None with the "none" pool."""
    values = [convops_pool_last_call(i) for i in range(len(_LAST_CALL_FIELDS))]
    if values[0] < 0:
        return None
    record = dict(zip(_LAST_CALL_FIELDS, values))
    record["backed_off"] = bool(record["backed_off"])
    return record


def probe(double caller_seconds, double helper_seconds, double timeout=2.0):
    """Run a two-chunk loop on two threads whose helper finishes a set time after the caller: each
    chunk waits (at most `timeout` s) until both are held, then keeps its thread busy for
    `caller_seconds` on the calling thread or `helper_seconds` on a helper. Returns last_call()."""
    with nogil:
        convops_pool_probe(caller_seconds, helper_seconds, timeout)
    return last_call()
