"""Concurrency: many Python threads calling every op at once, the GIL released in kernels, and
results independent of the thread count.

* THREADS Python threads each make CALLS calls, cycling through every op and gradient of
  ``catalog.py`` on shared (read-only) inputs, while one more thread keeps changing
  ``convops.set_num_threads`` between 1, 2 and 3. Every result must be bit-identical to the same
  call made serially before. Run on small inputs (the calls interleave finely) and on inputs
  large enough that the kernels split their work over helper threads, so that several callers
  share the kernels' thread pools at once.
* While one thread is inside a long kernel call, a second Python thread must keep running: the
  kernels release the GIL. (The benchmark of the same thing, two conv2d calls in two threads
  overlapping in time, is ``python -m benchmarks.gil_overlap``.)
* Every op gives bit-identical results with 1, 2, 3 and 8 threads.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import convops
from hardening import catalog

THREADS = 8
CALLS = 200  # per thread, on small inputs
CALLS_PARALLEL = 24  # per thread, on inputs large enough to use the kernels' helper threads


def _hammer(size: str, calls_per_thread: int) -> None:
    cases = list(catalog.calls(size).items())
    with convops.num_threads(2):
        serial = {name: catalog.digest(fn()) for name, fn in cases}
    errors = []
    barrier = threading.Barrier(THREADS + 1)
    stop = threading.Event()
    done_calls = [0] * THREADS

    def worker(k: int) -> None:
        barrier.wait()
        try:
            for i in range(calls_per_thread):
                name, fn = cases[(i * 7 + k * 5) % len(cases)]  # every thread its own order
                got = catalog.digest(fn())
                if got != serial[name]:
                    errors.append(f"thread {k}, call {i}: {name} differs from the serial result")
                done_calls[k] += 1
        except Exception as exc:  # noqa: BLE001 - reported below with the thread that raised
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")

    def knob() -> None:
        # The thread count is process-wide; changing it while kernels run must change nothing.
        barrier.wait()
        n = 0
        while not stop.is_set():
            convops.set_num_threads(1 + n % 3)
            n += 1
            time.sleep(0.0005)

    previous_switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # interleave the Python parts of the calls finely too
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    threads.append(threading.Thread(target=knob))
    try:
        for t in threads:
            t.start()
        for t in threads[:-1]:
            t.join(timeout=600)
        stop.set()
        threads[-1].join(timeout=60)
    finally:
        sys.setswitchinterval(previous_switch)
        stop.set()
        convops.set_num_threads(None)
    assert not any(t.is_alive() for t in threads), "a thread is still running after 10 minutes (deadlock?)"
    assert not errors, "\n".join(errors[:20])
    assert sum(done_calls) == THREADS * calls_per_thread


def test_threads_calling_every_op_at_once_match_serial_results():
    _hammer("small", CALLS)


def test_threads_sharing_the_kernels_thread_pools_match_serial_results():
    _hammer("parallel", CALLS_PARALLEL)


# --------------------------------------------------------------------------- the GIL


def long_call(name: str):
    """A single call of 10-150 ms on one thread (measured here), for each kernel family (inputs
    built here, only for the call asked for)."""
    rng = np.random.default_rng(1)
    f = np.float32
    if name.startswith("conv2d") or name.startswith("conv2d_backprop"):
        x = rng.standard_normal((16, 96, 96, 32)).astype(f)
        w = rng.standard_normal((3, 3, 32, 32)).astype(f)
        if name == "conv2d (direct kernel)":
            return lambda: convops.conv2d(x, w)
        if name == "conv2d (im2col + BLAS)":
            w[1, 1, 0, 0] = np.inf  # non-finite filters take the BLAS path
            return lambda: convops.conv2d(x, w, padding="SAME")
        if name == "conv2d int32":
            xi, wi = x[:2].astype(np.int32), w.astype(np.int32)
            return lambda: convops.conv2d(xi, wi)
        dy = rng.standard_normal((16, 94, 94, 32)).astype(f)
        if name == "conv2d_backprop_input":
            return lambda: convops.conv2d_backprop_input(x.shape, w, dy)
        return lambda: convops.conv2d_backprop_filter(x, w.shape, dy)
    big = rng.standard_normal((16, 256, 256, 32)).astype(f)
    return {
        "max_pool2d": lambda: convops.max_pool2d(big, 3, 1, "SAME"),
        "avg_pool2d": lambda: convops.avg_pool2d(big, 3, 1, "SAME"),
        "pad": lambda: convops.pad(big, [[0, 0], [9, 9], [9, 9], [0, 0]], "REFLECT"),
        "max_pool2d_grad": lambda: convops.max_pool2d_grad(big, big, 3, 1, "SAME"),
    }[name]


LONG_CALLS = [
    "conv2d (direct kernel)",
    "conv2d (im2col + BLAS)",
    "conv2d int32",
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "max_pool2d",
    "avg_pool2d",
    "pad",
    "max_pool2d_grad",
]


@pytest.mark.parametrize("name", LONG_CALLS)
def test_another_python_thread_runs_while_a_kernel_computes(name):
    call = long_call(name)
    call()  # warm up (lazy imports, thread pools)
    stop = threading.Event()
    counter = [0]

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    counting = threading.Thread(target=count)
    counting.start()
    try:
        # How fast the counter runs here and now while the main thread is idle (sleep releases
        # the GIL): the machine is shared, so the rate is measured, not assumed.
        time.sleep(0.05)
        c0, t0 = counter[0], time.perf_counter()
        time.sleep(0.2)
        idle_rate = (counter[0] - c0) / (time.perf_counter() - t0)
        with convops.num_threads(1):
            c0, t0 = counter[0], time.perf_counter()
            call()
            elapsed, during = time.perf_counter() - t0, counter[0] - c0
    finally:
        stop.set()
        counting.join()
    # A kernel holding the GIL would leave the counter still for the whole call (it could only
    # move in the microseconds of Python before and after the kernel); released, the counter
    # runs at a good fraction of its idle rate even on a loaded machine.
    expected = idle_rate * elapsed
    # (The counter steps millions of times a second: 5 ms is plenty to tell the two cases apart.)
    assert elapsed > 0.005, f"{name}: the call took only {elapsed * 1e3:.1f} ms, too short to tell"
    assert during > 0.2 * expected, (
        f"{name}: another Python thread made {during} steps during the {elapsed:.3f} s call, "
        f"{during / expected:.0%} of its idle rate: the kernel seems to hold the GIL"
    )


# --------------------------------------------------------------------------- thread count

PARALLEL = catalog.calls("parallel")


@pytest.mark.parametrize("name", list(PARALLEL))
def test_results_do_not_depend_on_the_thread_count(name):
    with convops.num_threads(1):
        want = catalog.digest(PARALLEL[name]())
    for n in (2, 3, 8):
        with convops.num_threads(n):
            assert catalog.digest(PARALLEL[name]()) == want, f"{name}: {n} threads give other bits than 1"
