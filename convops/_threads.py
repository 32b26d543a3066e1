"""Threads: how many the kernels may use (the process's one pool, ``_kernels/src/parallel.h``),
and BLAS held at one thread inside convops' own parallel loops.

The thread count never changes a result: every kernel splits work by output rows, and each
output element is computed by one thread in a fixed order.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator, Optional

from convops._kernels import load
from convops._validation import as_int


_parallel = load("parallel")

_num_threads: Optional[int] = None
#: Most threads a kernel may be asked for. The kernels take a C int, and libgomp ends the whole
#: process (exit status 1) when it cannot create a requested thread, as num_threads(10**5) would.
MAX_THREADS = 1024


def _default_threads() -> int:
    env = os.environ.get("CONVOPS_NUM_THREADS")
    if env:
        try:
            return min(max(1, int(env)), MAX_THREADS)
        except ValueError:
            pass
    return _parallel.max_threads()


def get_num_threads() -> int:
    """Threads the kernels use (``CONVOPS_NUM_THREADS``, else OpenMP's default)."""
    return _num_threads if _num_threads is not None else _default_threads()


def set_num_threads(n: Optional[int]) -> None:
    """Set the kernels' thread count; ``None`` restores the default. Results do not change."""
    global _num_threads
    if n is None:
        _num_threads = None
        return
    n = as_int(n, "n")
    if n < 1 or n > MAX_THREADS:
        raise ValueError(f"`n` (number of threads) must be between 1 and {MAX_THREADS}; got {n}")
    _num_threads = n


@contextlib.contextmanager
def num_threads(n: Optional[int]) -> Iterator[None]:
    """Context manager: ``with convops.num_threads(1): ...``."""
    global _num_threads
    previous = _num_threads
    set_num_threads(n)
    try:
        yield
    finally:
        _num_threads = previous


def openmp_enabled() -> bool:
    """Whether the kernels were compiled with OpenMP, which only supplies the default thread count
    (``OMP_NUM_THREADS``, else the cores); without it the default is 1 thread (``set_num_threads``
    and ``CONVOPS_NUM_THREADS`` still apply: the kernels' pool uses pthreads)."""
    return _parallel.openmp_enabled()


class BlasThreads:
    """Run NumPy's and SciPy's BLAS with a given number of threads inside a ``with`` block.

    The conv-gradient kernels call BLAS from their own threads, each on its own chunk; OpenBLAS's
    threads on top of those would fight over the cores (measured on 2 cores: a tutorial-sized
    filter gradient took 50-110 ms instead of 3 ms). threadpoolctl sets OpenBLAS's thread count
    (~10 us). The limit is shared: the first ``with`` (in any Python thread) sets it, nested and
    concurrent ones keep it, the last one out restores the original counts -- so concurrent
    callers can never leave BLAS limited. Without threadpoolctl the kernels run their chunks one
    after the other and leave BLAS's threading alone."""

    def __init__(self) -> None:
        self._libs: list = []
        self.available: Optional[bool] = None
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list = []

    def _load(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            self.available = False
            return
        # After a BLAS-using kernel module is imported: SciPy's OpenBLAS must be loaded to be found.
        load("conv_gemm")
        self._libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        self.available = bool(self._libs)

    @contextlib.contextmanager
    def limit(self, threads: int) -> Iterator[None]:
        if self.available is None:
            with self._lock:
                if self.available is None:
                    self._load()
        if not self.available:
            yield
            return
        with self._lock:
            if self._depth == 0:
                self._saved = [(lib, lib.num_threads) for lib in self._libs]
                for lib in self._libs:
                    self._set(lib, threads)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for lib, count in self._saved:
                        self._set(lib, count)
                        # Let go: another Python thread (or the user's own threadpoolctl) may set it next.
                        if hasattr(type(lib), "clear_controlling_thread"):
                            type(lib).clear_controlling_thread()

    @staticmethod
    def _set(lib: Any, threads: int) -> None:
        # threadpoolctl (>= 3.6) lets only one Python thread -- the first to call set_num_threads
        # on a pthreads OpenBLAS -- change its thread count; calls from any other thread silently
        # do nothing. Found by tests/hardening: a gradient called from a second Python thread ran
        # with OpenBLAS's own threads under ours, and OpenBLAS's results depend on its thread
        # count (different bits than the same call from the main thread). Our lock and depth
        # count already serialise the changes, so take control when another thread holds it.
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
    with blas_threads.limit(1):
        kernel(*args, threads if parallel and blas_threads.available else 1)
