"""Benchmark: do two Python threads calling convops at once overlap in time?

    python -m benchmarks.gil_overlap [--repeats N]

For each kernel family, one call (with ``convops.num_threads(1)``, so each call uses one core)
is timed alone, then two threads make the same call at the same moment. If the kernels hold the
GIL the two calls run one after the other: wall time ~2x a single call. Released, they overlap:
~1x on two idle cores. Prints the median ratio of several repeats; on a shared machine other
processes push it up (the load average is printed too). Not a test: the test suite checks the
same property robustly (tests/hardening/test_concurrency.py: a second thread makes progress during
a call), and its long calls are the workload timed here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

# The workload is the concurrency test's long calls (tests/ is not a package on the path here).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import convops  # noqa: E402
from hardening.test_concurrency import LONG_CALLS, long_call  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def pair(fn) -> float:
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        fn()

    threads = [threading.Thread(target=run) for _ in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run")
    print(f"{'kernel':28s} {'one call':>10s} {'two threads':>12s} {'ratio':>6s}")
    with convops.num_threads(1):
        for name in LONG_CALLS:
            fn = long_call(name)
            fn()
            ratios, singles, pairs = [], [], []
            for _ in range(args.repeats):
                single = timed(fn)
                both = pair(fn)
                singles.append(single)
                pairs.append(both)
                ratios.append(both / single)
            print(
                f"{name:28s} {statistics.median(singles) * 1e3:8.1f} ms {statistics.median(pairs) * 1e3:10.1f} ms "
                f"{statistics.median(ratios):6.2f}"
            )
    print(f"load average {os.getloadavg()[0]:.2f} after the run")


if __name__ == "__main__":
    main()
