"""Leaks: 10^4 calls of every op and gradient, and of calls that raise, keep memory flat.

Each call of ``catalog.py`` (small inputs, ~20 us each) is warmed up, then

* repeated REPEATS = 10^4 times while the process's resident memory (RSS) is watched: it may
  grow by at most RSS_BOUND = 8 MiB, i.e. a leak of ~840 bytes per call (a scratch buffer, an
  output array, a kernel's malloc) fails;
* then 2 x TRACED = 2 x 2,000 more times under ``tracemalloc``, which sees every Python object
  and every NumPy array buffer: between the end of the first and of the second 2,000 calls the
  memory still allocated may grow by at most TRACED_BOUND = 16 KiB, i.e. 8 bytes per call (a
  leaked object is at least 16). Comparing two equal runs, not one run with nothing, lets caches
  that fill once (ctypes' symbol lookups in threadpoolctl, ~30 KiB) not count as leaks.

Under scripts/sanitize.sh (CONVOPS_SANITIZED=1) AddressSanitizer keeps freed memory in a
quarantine of up to 256 MiB, so RSS grows there without a leak: that run skips the RSS phase
and checks the tracemalloc bound only (its job there is finding memory errors on repeated calls).
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import pytest

from hardening import catalog

REPEATS = 10_000
TRACED = 2_000
WARMUP = 300
RSS_BOUND = 8 << 20
TRACED_BOUND = 16 << 10
SANITIZED = os.environ.get("CONVOPS_SANITIZED") == "1"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _calls():
    calls = {name: (fn, False) for name, fn in catalog.calls("small").items()}
    calls.update({f"raises: {name}": (fn, True) for name, fn in catalog.failing_calls().items()})
    return calls


CALLS = _calls()


@pytest.mark.parametrize("name", list(CALLS))
def test_repeated_calls_keep_memory_flat(name):
    fn, raises = CALLS[name]

    def call():
        try:
            fn()
        except (ValueError, TypeError, MemoryError):
            if not raises:
                raise
        else:
            assert not raises, f"{name} was expected to raise"

    for _ in range(WARMUP):
        call()
    gc.collect()
    before = rss_bytes()
    for _ in range(0 if SANITIZED else REPEATS):
        call()
    gc.collect()
    grown = rss_bytes() - before

    tracemalloc.start()
    try:
        for _ in range(TRACED):
            call()
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(TRACED):
            call()
        gc.collect()
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    still_allocated = second - first

    assert still_allocated < TRACED_BOUND, (
        f"{name}: {still_allocated} more bytes allocated after {TRACED} more calls "
        f"({still_allocated / TRACED:.1f} bytes per call)"
    )
    if not SANITIZED:
        assert grown < RSS_BOUND, (
            f"{name}: resident memory grew by {grown / 2**20:.1f} MiB over {REPEATS} calls "
            f"({grown / REPEATS:.0f} bytes per call)"
        )
    print(f"{name}: RSS {grown / 2**10:+.0f} KiB over {REPEATS} calls, traced {still_allocated:+d} B over {TRACED}")
