"""Threads: how many the kernels may use (the process's one pool, ``_kernels/src/parallel.h``),
and BLAS held at one thread inside convops' own parallel loops.

The thread count never changes a result: every kernel splits work by output rows, and each
output element is computed by one thread in a fixed order.

Interrupts: a ``KeyboardInterrupt`` (or any exception a signal handler raises) can land between
any two bytecodes of the code below. So every change of process state is one store (an int, a
ContextVar value, a set member), every restore is idempotent and runs in two nested ``finally``
clauses -- an exception landing in the first one, before or during its restore, leaves the
second to finish it -- and the BLAS counts to restore are recorded only while BLAS is known not
to be lowered by us. tests/hardening/test_global_state.py raises at every line of this module
and of threadpoolctl in turn.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from convops._kernels import load
from convops._validation import as_int

_parallel = load("parallel")

#: Most threads a kernel may be asked for. The kernels take a C int, and the pool starts at most
#: MAX_THREADS - 1 helpers (``CONVOPS_MAX_HELPERS`` in parallel.h).
MAX_THREADS = 1024

_warned: set = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _positive_int(raw: str) -> int | None:
    """The value of a thread-count variable, or None when it is not a whole number >= 1."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 1 else None


def _read_default() -> int:
    """The default count from the environment, clamped to 1..MAX_THREADS (warning once, naming
    the variable, for every value out of range or not a number)."""
    rule = f"must be a whole number of threads from 1 to {MAX_THREADS}"
    raw = os.environ.get("CONVOPS_NUM_THREADS", "").strip()
    if raw:
        value = _positive_int(raw)
        if value is not None and value <= MAX_THREADS:
            return value
        if value is not None:
            _warn_once(f"CONVOPS_NUM_THREADS {rule}; got {raw!r}: using {MAX_THREADS}")
            return MAX_THREADS
    threads = _parallel.max_threads()
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    # OpenMP reads OMP_NUM_THREADS (first entry of a nested list), ignoring invalid values.
    omp_first = omp.split(",")[0].strip()
    if raw:
        _warn_once(f"CONVOPS_NUM_THREADS {rule}; got {raw!r}: ignoring it (using {min(threads, MAX_THREADS)})")
    if _parallel.openmp_enabled() and omp and _positive_int(omp_first) is None:
        _warn_once(f"OMP_NUM_THREADS {rule}; got {omp!r}: ignoring it (using {min(threads, MAX_THREADS)})")
    if threads > MAX_THREADS:
        source = "OMP_NUM_THREADS" if omp else "OpenMP's default thread count"
        _warn_once(f"{source} {rule}; got {threads}: convops uses {MAX_THREADS}")
        return MAX_THREADS
    return max(threads, 1)


#: The environment's count, read at import and again by ``set_num_threads(None)`` (reading the
#: environment on every call would cost ~1 us, and every small conv call asks for the count).
_default: int = _read_default()
#: ``set_num_threads``'s value, process-wide; None: the default.
_num_threads: int | None = None
#: ``with num_threads(n)``'s value in this thread or asyncio task; None: no override.
_override: contextvars.ContextVar[int | None] = contextvars.ContextVar("convops_num_threads", default=None)


def _check(n: Any) -> int | None:
    if n is None:
        return None
    n = as_int(n, "n")
    if n < 1 or n > MAX_THREADS:
        raise ValueError(f"`n` (number of threads) must be between 1 and {MAX_THREADS}; got {n}")
    return n


def get_num_threads() -> int:
    """Number of threads convops' kernels use for a call made from the calling thread.

    Returns
    -------
    int
        The innermost ``with num_threads(n)`` block's ``n`` in this thread (or asyncio task),
        else the process-wide :func:`set_num_threads` value, else the default:
        ``CONVOPS_NUM_THREADS``, else OpenMP's (``OMP_NUM_THREADS``, else the cores). Always
        between 1 and 1024: an environment value above that is clamped and one that is not a
        positive whole number is ignored, with a warning naming the variable.

    Examples
    --------
    >>> import convops
    >>> with convops.num_threads(3):
    ...     convops.get_num_threads()
    3
    """
    n = _override.get()
    if n is None:
        n = _num_threads
        if n is None:
            return _default
    return n


def set_num_threads(n: int | None) -> None:
    """Set the kernels' thread count for the whole process. Results do not change.

    The count applies from the next call on, whatever ran before: it also ends the pool's
    back-off (after a call whose helper threads were late, e.g. on a core taken by another
    process, the next 10-160 ms of calls run on the calling thread alone).

    Parameters
    ----------
    n : int or None
        Threads, 1 to 1024; ``None`` goes back to the default (reading ``CONVOPS_NUM_THREADS`` and
        ``OMP_NUM_THREADS`` again). A ``with num_threads(...)`` block still running in any thread
        keeps its own count until it ends.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is outside 1..1024.

    Examples
    --------
    >>> import convops
    >>> convops.set_num_threads(2)
    >>> convops.get_num_threads()
    2
    >>> convops.set_num_threads(None)
    """
    global _num_threads, _default
    n = _check(n)
    if n is None:
        _default = _read_default()
    _num_threads = n  # one store: an interrupt leaves the old or the new value
    # A new count takes effect at once: end the pool's back-off (after a call whose helpers were
    # late, the next 10-160 ms of calls run on one thread; parallel.h).
    _parallel.end_backoff()


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` threads for the calls made inside the ``with`` block by this thread only.

    The count belongs to the calling thread (and asyncio task, which copies its creator's count):
    blocks in other threads, overlapping or not, neither see nor change it, and the process-wide
    :func:`set_num_threads` value is left alone. A thread started inside the block starts from the
    process-wide count. Blocks nest; on leaving one, however it is left (an exception, an
    interrupt), the count is what it was before.

    Parameters
    ----------
    n : int or None
        Threads, 1 to 1024; ``None`` uses the process-wide count inside the block.

    Returns
    -------
    context manager

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is outside 1..1024.

    Examples
    --------
    >>> import convops
    >>> convops.set_num_threads(2)
    >>> with convops.num_threads(1):
    ...     with convops.num_threads(3):
    ...         inner = convops.get_num_threads()
    ...     outer = convops.get_num_threads()
    >>> inner, outer, convops.get_num_threads()
    (3, 1, 2)
    >>> convops.set_num_threads(None)
    """
    n = _check(n)
    previous = _override.get()
    try:
        try:
            _override.set(n)
            yield
        finally:
            _override.set(previous)
    finally:
        _override.set(previous)  # again: an interrupt may have landed before the first one


def openmp_enabled() -> bool:
    """Whether the kernels were compiled with OpenMP.

    OpenMP only supplies the default thread count (``OMP_NUM_THREADS``, else the cores); without
    it the default is the number of processors online and ``OMP_NUM_THREADS`` is not read
    (``set_num_threads`` and ``CONVOPS_NUM_THREADS`` still apply: the kernels' pool uses its own
    POSIX or Windows threads).

    Returns
    -------
    bool
        True when the extensions were compiled with OpenMP.
    """
    return _parallel.openmp_enabled()


class BlasThreads:
    """Run NumPy's and SciPy's BLAS with a given number of threads inside a ``with`` block.

    The conv-gradient kernels call BLAS from their own threads, each on its own chunk; OpenBLAS's
    threads on top of those would fight over the cores (measured on 2 cores: a tutorial-sized
    filter gradient took 50-110 ms instead of 3 ms). threadpoolctl finds the BLAS libraries; an
    OpenBLAS with its own threads has its count set by its own ``openblas_set_num_threads``, any
    other library through threadpoolctl (:meth:`_openblas_functions`). The limit is shared: while
    any ``with`` block (in any Python thread) is running, BLAS is limited; when the last one ends,
    the counts recorded before the first one are restored -- so concurrent callers can never leave
    BLAS limited. Without threadpoolctl the kernels run their chunks one after the other and leave
    BLAS's threading alone.

    State, each part changed by one store so an interrupt between two bytecodes leaves it
    consistent: ``_holders`` (the running blocks), ``_lowered`` (True from just before BLAS is
    first lowered until just after it is restored: while it is True the counts BLAS has now may
    be ours, so they are never recorded as the originals) and ``_originals``. ``_settle`` brings
    BLAS to what ``_holders`` asks for; it is idempotent, so a restore cut short by an interrupt
    is finished by the next ``_settle``.
    """

    def __init__(self) -> None:
        self._libs: list = []
        # Per library: a function returning its thread count and one setting it; the libraries
        # whose counts threadpoolctl sets (_load).
        self._getters: list = []
        self._setters: list = []
        self._by_threadpoolctl: list = []
        self.available: bool | None = None
        # Re-entrant: a signal handler running convops while this thread holds the lock must not
        # deadlock; _settle is idempotent, so re-entering it is harmless.
        self._lock = threading.RLock()
        self._holders: set = set()
        self._lowered = False
        self._applied: int | None = None  # the count BLAS was last fully set to while lowered
        self._originals: list = []

    def _load(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            self.available = False
            return
        # After a BLAS-using kernel module is imported: SciPy's OpenBLAS must be loaded to be found.
        load("conv_gemm")
        libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        getters, setters, by_threadpoolctl = [], [], []
        for lib in libs:
            direct = self._openblas_functions(lib)
            if direct is not None:
                getters.append(direct[0])
                setters.append(direct[1])
            else:
                getters.append(lambda lib=lib: lib.num_threads)
                setters.append(lambda threads, lib=lib: self._set(lib, threads))
                by_threadpoolctl.append(lib)
        self._libs, self._getters, self._setters, self._by_threadpoolctl = libs, getters, setters, by_threadpoolctl
        self.available = bool(libs)

    @staticmethod
    def _openblas_functions(lib: Any) -> tuple[Any, Any] | None:
        """OpenBLAS's own get and set functions for its thread count, when ``lib`` is an OpenBLAS
        with its own threads (pthreads): ctypes functions called directly.

        Why not threadpoolctl's ``num_threads`` and ``set_num_threads``: in Python they cost
        ~0.4-0.6 us each, a lowering and restoring of two libraries (NumPy's and SciPy's OpenBLAS
        in the wheels) ~13 us -- a third of a small gradient call (1 x 28 x 28 x 1 -> 32 by im2col:
        44 us, AMD Zen 4); the C functions ~0.1-0.15 us. An interrupt cannot land inside a C call.
        They also ignore threadpoolctl's rule that only the first Python thread to set a pthreads
        OpenBLAS's count may change it, which :meth:`_set` overrides anyway. Another threading
        layer (OpenMP: per-thread counts) keeps threadpoolctl's functions."""
        if lib.internal_api != "openblas" or lib.threading_layer != "pthreads":
            return None
        try:
            dll = ctypes.CDLL(lib.filepath)
        except OSError:
            return None
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_", "_64"):
                get = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
                set_ = getattr(dll, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    set_.restype, set_.argtypes = None, [ctypes.c_int]
                    return get, set_
        return None

    @contextlib.contextmanager
    def limit(self, threads: int) -> Iterator[None]:
        if self.available is None:
            with self._lock:
                if self.available is None:
                    self._load()
        if not self.available:
            yield
            return
        holder = object()
        try:
            try:
                self._holders.add(holder)
                self._settle(threads)
                yield
            finally:
                self._holders.discard(holder)
                self._settle(threads)
        finally:
            self._holders.discard(holder)  # again: an interrupt may have cut the first short
            self._settle(threads)

    def call(self, threads: int, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` with BLAS limited to ``threads``: :meth:`limit` without a ``with``.

        contextlib's ``__enter__``/``__exit__`` are Python functions, so a signal can land in
        them before our generator resumes (then the generator restores BLAS only when it is
        garbage-collected: late, if a notebook keeps the traceback). Here every point where a
        signal can land lies inside a ``try`` whose ``finally`` restores."""
        if self.available is None:
            with self._lock:
                if self.available is None:
                    self._load()
        if not self.available:
            return fn(*args)
        holder = object()
        try:
            try:
                self._holders.add(holder)
                self._settle(threads)
                return fn(*args)
            finally:
                self._holders.discard(holder)
                self._settle(threads)
        finally:
            self._holders.discard(holder)  # again: an interrupt may have cut the first short
            self._settle(threads)

    def _settle(self, threads: int) -> None:
        with self._lock:
            if self._holders:
                if not self._lowered:
                    self._originals = [get() for get in self._getters]
                    self._lowered = True
                if self._applied != threads:
                    self._applied = None
                    for set_ in self._setters:
                        set_(threads)
                    self._applied = threads
            elif self._lowered:
                self._applied = None
                for set_, count in zip(self._setters, self._originals):
                    set_(count)
                for lib in self._by_threadpoolctl:
                    # Let go: another Python thread (or the user's own threadpoolctl) may set it next.
                    if hasattr(type(lib), "clear_controlling_thread"):
                        type(lib).clear_controlling_thread()
                self._lowered = False

    @staticmethod
    def _set(lib: Any, threads: int) -> None:
        # threadpoolctl (>= 3.6) lets only one Python thread -- the first to call set_num_threads
        # on a pthreads OpenBLAS -- change its thread count; calls from any other thread silently
        # do nothing. Found by tests/hardening: a gradient called from a second Python thread ran
        # with OpenBLAS's own threads under ours, and OpenBLAS's results depend on its thread
        # count (different bits than the same call from the main thread). Our lock and holder set
        # already serialise the changes, so take control when another thread holds it.
        lib.set_num_threads(threads)
        if lib.num_threads != threads and hasattr(type(lib), "clear_controlling_thread"):
            type(lib).clear_controlling_thread(force=True)
            lib.set_num_threads(threads)


blas_threads = BlasThreads()


def run_blas_kernel(kernel: Any, parallel: bool, *args: Any) -> None:
    """Call a BLAS-using kernel: our threads over its chunks (``parallel``: more than one), BLAS
    single-threaded in every case."""
    # BLAS always runs single-threaded, even for a single chunk: OpenBLAS's results depend on its
    # own thread count (a batch-1 input gradient differed in the last bits between
    # convops.num_threads(1) and (2)), and every concurrent caller must ask for the same count
    # for the limit to be shared (tests/hardening). The parallelism is ours, over chunks.
    threads = get_num_threads()
    if blas_threads.available is None:
        blas_threads.call(1, int)  # loads threadpoolctl's view first: `available` picks the count
    blas_threads.call(1, kernel, *args, threads if parallel and blas_threads.available else 1)
