"""The one global knob: how many threads the kernels may use (convops' own pool, _parallel.h).

The thread count never changes a result: every kernel splits work by output rows, and each
output element is computed by one thread in a fixed order.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType
from typing import Iterator, Optional

from convops._validation import as_int


def load_extension(name: str) -> ModuleType:
    """Import the compiled kernel module ``convops.<name>``; if it is missing (a source checkout
    whose Cython extensions were never built), say so and how to rebuild, whichever module it is."""
    try:
        return importlib.import_module(f"convops.{name}")
    except ImportError as exc:  # exercised by tests/test_package.py in a subprocess
        raise ImportError(
            f"convops' compiled kernels are missing: convops.{name} could not be imported (the Cython "
            "extensions were not built). Rebuild them with `pip install --no-build-isolation -e .` (or "
            f"`python setup.py build_ext --inplace`) from the source checkout. Original error: {exc}"
        ) from None


_openmp = load_extension("_openmp")

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
    return _openmp.max_threads()


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
    return _openmp.openmp_enabled()
