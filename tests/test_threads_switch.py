"""Thread-count changes take full effect, whatever ran before (the pool of ``_kernels/src/parallel.h``).

The pool backs off -- runs the next calls, for 10 ms and up to 160 ms when late calls repeat, on
the calling thread alone -- after a call whose helper threads made it slower than the caller alone
would have been because their chunks ran over twice as slowly as the caller's (they lost their
core, not just woke late). Measured before
these tests: a filter gradient of one chunk per thread whose helper woke 0.7 ms after the caller
(2.2 ms of the caller's own work) counted as late, and a 2-thread benchmark that followed ran at
the 1-thread speed. None of these tests times anything: the pool's own record of its last
parallel loop (``parallel.last_call()``: threads allowed, chunks each thread ran, whether it
backed off) and a probe loop whose helper finishes a set time after the caller (whatever the
scheduler does, the helper's chunk keeps it busy that long) are the observations.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import convops
from convops._kernels import load
from hardening.test_threads import _fresh as fresh_process  # a clean child process, its JSON report

parallel = load("parallel")

pytestmark = pytest.mark.skipif(parallel.pool_backend() == "none", reason="the pool runs every call on the caller")


@pytest.fixture(autouse=True)
def two_threads():
    convops.set_num_threads(2)
    yield
    convops.set_num_threads(None)


@pytest.mark.parametrize(
    ("own", "wait", "chunks", "mine", "helper_chunk", "late"),
    [
        (2.2e-3, 0.7e-3, 2, 1, 2.2e-3, False),  # one chunk each, the helper 0.7 ms behind: 2.9 ms vs 4.4 alone
        (4.0e-3, 3.9e-3, 2, 1, 7.9e-3, False),
        (4.0e-3, 4.1e-3, 2, 1, 8.1e-3, True),  # 8.1 ms vs 8.0 alone, its chunk twice as slow
        (4.0e-3, 4.1e-3, 2, 1, 4.0e-3, False),  # as slow a call, but the helper only woke 4.1 ms late
        (2.0e-3, 3.0e-3, 32, 20, 0.45e-3, True),  # a helper lost its core: 5 ms vs 3.2 alone
        (2.0e-3, 3.0e-3, 32, 20, 0.1e-3, False),  # its chunks ran at the caller's speed
        (2.0e-3, 0.1e-3, 32, 20, 0.1e-3, False),
        (0.3e-3, 0.2e-3, 33, 17, 0.05e-3, False),
        (1.0e-3, 1.0, 2, 0, 1.0, False),  # the caller ran no chunk: nothing to compare with
    ],
)
def test_back_off_only_when_a_slow_helper_made_the_call_slower_than_the_caller_alone(
    own, wait, chunks, mine, helper_chunk, late
):
    # Alone the caller would have spent `own` plus its time per chunk for each helper chunk; the
    # helper lost its core (rather than waking late) when its chunks ran over twice as long.
    per_chunk = own / mine if mine else float("inf")
    alone = own + per_chunk * (chunks - mine)
    assert (own + wait > alone and helper_chunk > 2 * per_chunk) == late
    assert parallel.helpers_late(own, wait, chunks, mine, helper_chunk) is late


def _probe(caller_seconds: float, helper_seconds: float) -> dict:
    record = parallel.probe(caller_seconds, helper_seconds)
    assert record["allowed"] == 2 and record["caller_chunks"] == 1, f"the helper took no chunk: {record}"
    return record


def _next_call() -> dict:
    # A loop with no staggering: what the pool allows a call right after the previous one.
    return parallel.probe(0.0, 0.0)


def test_a_helper_behind_by_less_than_its_work_keeps_the_threads():
    # The helper's chunk ends 10 ms after the caller's 20 ms: slower than a balanced call, much
    # faster than the caller alone (40 ms). The next call must still get both threads. (A helper
    # that loses its core for 10 ms more does make the call slower: then try again.)
    records = []
    for _ in range(3):
        convops.set_num_threads(2)
        records.append(_probe(0.020, 0.030))
        following = _next_call()
        if not records[-1]["backed_off"]:
            assert following["allowed"] == 2, (records, following)
            return
    pytest.fail(f"every staggered call backed off: {records}")


def test_a_late_helper_backs_off_and_set_num_threads_ends_it():
    # The helper's chunk ends 19 ms after the caller's 1 ms: the caller alone would have taken
    # 2 ms. The following calls run on one thread -- until the count is set again.
    record = _probe(0.001, 0.020)
    after = time.perf_counter()
    assert record["backed_off"], record
    following = _next_call()
    if time.perf_counter() - after < 0.009:  # inside the first, 10 ms back-off (a stalled host may not be)
        assert following["allowed"] == 1, following
    convops.set_num_threads(2)
    assert _probe(0.0, 0.0)["allowed"] == 2


def test_back_offs_lengthen_while_calls_stay_late_and_shorten_when_on_time():
    # set_num_threads (the fixture) left the shortest: 10 ms. Each late call starts a back-off
    # of the current length and doubles the next, up to 160 ms; each 8 on-time calls of two
    # threads in a row halve it. (A sleep may last longer than asked, never shorter. The on-time
    # calls give the helper a twentieth of the caller's work: a host that stalls the helper's
    # vCPU for a few milliseconds, as this one does, still leaves them on time.)
    assert parallel.next_backoff() == pytest.approx(0.01)
    assert _probe(0.001, 0.020)["backed_off"]
    assert parallel.next_backoff() == pytest.approx(0.02)
    time.sleep(0.015)  # past the 10 ms back-off: two threads again
    assert _probe(0.001, 0.020)["backed_off"]
    assert parallel.next_backoff() == pytest.approx(0.04)
    time.sleep(0.025)  # past the 20 ms one
    for _ in range(7):
        assert not _probe(0.020, 0.001)["backed_off"]
    assert parallel.next_backoff() == pytest.approx(0.04)
    assert not _probe(0.020, 0.001)["backed_off"]
    assert parallel.next_backoff() == pytest.approx(0.02)
    convops.set_num_threads(2)
    assert parallel.next_backoff() == pytest.approx(0.01)


def _tutorial_layers(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    # The tutorial network's three convolutions (batch 8), fresh arrays per layer.
    layers = []
    for n, size, c_in, c_out in [(8, 28, 1, 32), (8, 13, 32, 64), (8, 5, 64, 128)]:
        x = rng.standard_normal((n, size, size, c_in)).astype(np.float32)
        w = rng.standard_normal((3, 3, c_in, c_out)).astype(np.float32)
        dy = rng.standard_normal((n, size - 2, size - 2, c_out)).astype(np.float32)
        layers.append((x, w, dy))
    return layers


def test_two_threads_after_one_thread_convolutions_and_gradients():
    """1 thread over every layer's conv2d and gradients, then 2: the 2-thread calls are allowed
    2 threads and the helper takes part; the results keep their bits."""
    rng = np.random.default_rng(0)
    layers = _tutorial_layers(rng)
    convops.set_num_threads(1)
    serial = []
    for x, w, dy in layers:
        serial.append(
            (
                convops.conv2d(x, w),
                convops.conv2d_backprop_input(x.shape, w, dy),
                convops.conv2d_backprop_filter(x, w.shape, dy),
            )
        )
        assert parallel.last_call()["threads"] == 1
    convops.set_num_threads(2)
    x, w, dy = layers[1]
    y = convops.conv2d(x, w)
    record = parallel.last_call()
    assert (record["threads"], record["allowed"]) == (2, 2), record
    np.testing.assert_array_equal(y, serial[1][0])
    _probe(0.001, 0.001)  # both threads run a chunk
    for (x, w, dy), (y1, dx1, dw1) in zip(layers, serial):
        np.testing.assert_array_equal(convops.conv2d(x, w), y1)
        np.testing.assert_array_equal(convops.conv2d_backprop_input(x.shape, w, dy), dx1)
        np.testing.assert_array_equal(convops.conv2d_backprop_filter(x, w.shape, dy), dw1)


def test_the_call_that_starts_a_helper_gets_its_help():
    # A fresh process at 1 thread (no helper yet), then 2: the helper started by the first
    # 2-thread call joins that very call (the probe's chunks wait for each other, so a helper
    # that skipped it would leave the caller both chunks).
    code = """
        import json
        import convops
        from convops._kernels import load
        parallel = load("parallel")
        convops.conv2d([[[[1.0]]]], [[[[1.0]]]])
        before = parallel.helper_threads()
        convops.set_num_threads(2)
        record = parallel.probe(0.001, 0.001)
        print(json.dumps({"before": before, "after": parallel.helper_threads(), "record": record}))
    """
    report = fresh_process({"CONVOPS_NUM_THREADS": "1"}, code)
    assert (report["before"], report["after"]) == (0, 1), report
    assert report["record"]["caller_chunks"] == 1, report
