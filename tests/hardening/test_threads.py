"""Thread counts: per-thread ``with num_threads``, environment values out of range, one pool.

* ``with convops.num_threads(k)`` belongs to the calling thread (and asyncio task): blocks that
  overlap in several threads, in every order a barrier forces, each see their own count, and the
  process-wide ``set_num_threads`` value is untouched after.
* ``CONVOPS_NUM_THREADS`` / ``OMP_NUM_THREADS`` too large, zero, negative or not a number: the
  count stays within 1..1024, ``set_num_threads(get_num_threads())`` works, and one warning names
  the variable, the value and what is used instead (fresh processes: the environment is read at
  import).
* One pool per process: conv2d, its gradients, pooling and its gradients and pad under
  ``num_threads(n)`` start at most n - 1 helper threads, and the process's OS threads grow by at
  most that; ``set_num_threads(64)`` and one parallel call start at most 63.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import convops
import convops._threads as threads_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def process_count_5():
    convops.set_num_threads(5)
    yield
    convops.set_num_threads(None)


def _after(barrier: threading.Barrier, steps: int) -> None:
    for _ in range(steps):
        barrier.wait(timeout=30)


def test_overlapping_blocks_in_two_threads():
    """A enters, B enters, A leaves while B is inside, B leaves: each sees its own count."""
    barrier = threading.Barrier(2)
    seen: dict[str, list[int]] = {"a": [], "b": []}

    def a() -> None:
        with convops.num_threads(2):
            _after(barrier, 2)  # B has entered its block
            seen["a"].append(convops.get_num_threads())
            _after(barrier, 1)
        seen["a"].append(convops.get_num_threads())  # left while B is still inside
        _after(barrier, 2)
        seen["a"].append(convops.get_num_threads())

    def b() -> None:
        _after(barrier, 1)
        with convops.num_threads(3):
            _after(barrier, 1)
            seen["b"].append(convops.get_num_threads())
            _after(barrier, 2)  # A has left its block
            seen["b"].append(convops.get_num_threads())
        _after(barrier, 1)
        seen["b"].append(convops.get_num_threads())

    _run_threads(a, b)
    assert seen == {"a": [2, 5, 5], "b": [3, 3, 5]}
    assert convops.get_num_threads() == 5 and threads_module._num_threads == 5


def _run_threads(*targets: Any) -> None:
    errors: list[BaseException] = []

    def guarded(target: Any) -> Any:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported in the main thread
                errors.append(exc)

        return run

    workers = [threading.Thread(target=guarded(t)) for t in targets]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("order", range(6))
def test_nested_blocks_in_four_threads_step_by_step(order):
    """Four threads, each with two nested blocks of its own counts, take every step (enter outer,
    enter inner, leave inner, leave outer) together, in a rotated order within each step."""
    parties = 4
    barrier = threading.Barrier(parties)
    turn = threading.Condition()
    state = {"next": 0}
    failures: list[str] = []

    def in_turn(i: int, step: int) -> None:
        # Within a step the threads go one after the other, starting with a rotating one.
        with turn:
            position = (i + order + step) % parties
            turn.wait_for(lambda: state["next"] == position, timeout=30)
            state["next"] = (state["next"] + 1) % parties
            turn.notify_all()

    def worker(i: int) -> None:
        outer, inner = 1 + i, 10 + i
        expected = []
        with convops.num_threads(outer):
            in_turn(i, 0)
            barrier.wait(timeout=30)
            with convops.num_threads(inner):
                in_turn(i, 1)
                barrier.wait(timeout=30)
                expected.append((inner, convops.get_num_threads()))
                in_turn(i, 2)
            barrier.wait(timeout=30)
            expected.append((outer, convops.get_num_threads()))
            in_turn(i, 3)
        barrier.wait(timeout=30)
        expected.append((5, convops.get_num_threads()))
        failures.extend(f"thread {i}: wanted {want}, saw {got}" for want, got in expected if want != got)

    _run_threads(*[lambda i=i: worker(i) for i in range(parties)])
    assert failures == []
    assert convops.get_num_threads() == 5 and threads_module._num_threads == 5


def test_set_num_threads_from_another_thread_inside_a_block():
    """set_num_threads is process-wide: a block keeps its own count, then sees the new value."""
    entered, changed = threading.Event(), threading.Event()
    seen = []

    def block() -> None:
        with convops.num_threads(2):
            entered.set()
            changed.wait(timeout=30)
            seen.append(convops.get_num_threads())
        seen.append(convops.get_num_threads())

    worker = threading.Thread(target=block)
    worker.start()
    entered.wait(timeout=30)
    convops.set_num_threads(7)
    changed.set()
    worker.join(timeout=30)
    assert seen == [2, 7] and convops.get_num_threads() == 7


def test_thread_started_inside_a_block_uses_the_process_count():
    seen = []
    with convops.num_threads(3):
        worker = threading.Thread(target=lambda: seen.append(convops.get_num_threads()))
        worker.start()
        worker.join(timeout=30)
        seen.append(convops.get_num_threads())
    assert seen == [5, 3]


def test_asyncio_tasks_each_keep_their_count():
    async def task(n: int, seen: list) -> None:
        with convops.num_threads(n):
            for _ in range(3):
                await asyncio.sleep(0)  # let the other tasks enter and leave theirs
                seen.append((n, convops.get_num_threads()))
        await asyncio.sleep(0)
        seen.append((5, convops.get_num_threads()))

    async def main() -> list:
        seen: list = []
        await asyncio.gather(task(2, seen), task(3, seen), task(4, seen))
        return seen

    seen = asyncio.run(main())
    assert len(seen) == 12 and all(want == got for want, got in seen), seen
    assert convops.get_num_threads() == 5


def test_block_restores_on_exception_and_validates():
    with pytest.raises(RuntimeError):
        with convops.num_threads(2):
            raise RuntimeError
    assert convops.get_num_threads() == 5
    for bad, error in ((0, ValueError), (1025, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="`n`"):
            with convops.num_threads(bad):
                pass
    assert convops.get_num_threads() == 5


# --------------------------------------------------------------------------- environment

_REPORT = """
    import json, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import convops
        n = convops.get_num_threads()
        convops.set_num_threads(n)                 # must accept what get_num_threads returned
        convops.set_num_threads(None)              # reads the environment again: no new warning
        convops.set_num_threads(None)
        again = convops.get_num_threads()
    print(json.dumps({"n": n, "again": again, "openmp": convops.openmp_enabled(),
                      "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]}))
"""


def _fresh(env_update: dict[str, str], code: str = _REPORT) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "HYPOTHESIS")) and k not in ("CONVOPS_NUM_THREADS", "OMP_NUM_THREADS")
    }
    env.update(env_update, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def unset() -> dict:
    return _fresh({})


@pytest.mark.parametrize("name", ["CONVOPS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_environment_too_large_is_clamped_with_one_warning(name, unset):
    if name == "OMP_NUM_THREADS" and not unset["openmp"]:
        pytest.skip("built without OpenMP: OMP_NUM_THREADS is not read")
    report = _fresh({name: "100000"})
    assert report["n"] == report["again"] == 1024
    assert len(report["warnings"]) == 1, report["warnings"]
    assert name in report["warnings"][0] and "100000" in report["warnings"][0] and "1024" in report["warnings"][0]


@pytest.mark.parametrize("name", ["CONVOPS_NUM_THREADS", "OMP_NUM_THREADS"])
@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5"])
def test_environment_not_a_positive_count_is_ignored_with_one_warning(name, value, unset):
    if name == "OMP_NUM_THREADS" and not unset["openmp"]:
        pytest.skip("built without OpenMP: OMP_NUM_THREADS is not read")
    report = _fresh({name: value})
    assert report["n"] == report["again"] == unset["n"]
    assert len(report["warnings"]) == 1, report["warnings"]
    assert name in report["warnings"][0] and repr(value) in report["warnings"][0]


def test_environment_in_range_is_used_silently(unset):
    assert 1 <= unset["n"] <= 1024 and unset["warnings"] == []
    report = _fresh({"CONVOPS_NUM_THREADS": "3", "OMP_NUM_THREADS": "100000"})
    assert report["n"] == 3 and report["warnings"] == []  # CONVOPS_NUM_THREADS wins: OMP not used
    if unset["openmp"]:
        report = _fresh({"OMP_NUM_THREADS": "3"})
        assert report["n"] == 3 and report["warnings"] == []


# --------------------------------------------------------------------------- one pool

_POOL = """
    import json, os, threading, time
    import numpy as np
    import convops
    from convops._kernels import load

    pool = load("parallel")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64, 64, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    pads = [[0, 0], [3, 3], [3, 3], [0, 0]]

    def tasks():
        return len(os.listdir("/proc/self/task"))

    def every_op():
        y = convops.conv2d(x, w, padding="SAME")
        convops.conv2d_backprop_input(x.shape, w, y, padding="SAME")
        convops.conv2d_backprop_filter(x, w.shape, y, padding="SAME")
        convops.conv2d_backprop_filter(x[:, ::2, ::2], w.shape, y[:, ::2, ::2], strides=1, padding="SAME")
        m = convops.max_pool2d(x, 2, 2)
        convops.max_pool2d_grad(x, m, 2, 2)
        a = convops.avg_pool2d(x, 3, 2, "SAME")
        convops.avg_pool2d_grad(x.shape, a, 3, 2, "SAME")
        p = convops.pad(x, pads, "REFLECT")
        convops.pad_grad(p, pads, "REFLECT")

    with convops.num_threads(1):
        every_op()          # loads every module and library (SciPy's BLAS starts its own threads)
    first = pool.helper_threads()
    base = tasks()
    report = {"first": first}
    for n in N_LIST:
        with convops.num_threads(n):
            for _ in range(3):
                every_op()
        report[n] = {"helpers": pool.helper_threads(), "grown": tasks() - base}
    # The count of a block in another thread reaches the kernels; the main thread's is untouched.
    def other():
        with convops.num_threads(CAP):
            convops.max_pool2d(x, 2, 2)
    time.sleep(0.2)         # past the pool's back-off (at most 0.16 s of serial calls after a late helper)
    t = threading.Thread(target=other)
    t.start(); t.join()
    report["cap"] = {"helpers": pool.helper_threads(), "grown": tasks() - base, "main": convops.get_num_threads()}
    print(json.dumps(report))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc/self/task")
@pytest.mark.parametrize("n", [2, 4])
def test_one_pool_for_every_op(n):
    report = _fresh({"CONVOPS_NUM_THREADS": "1"}, _POOL.replace("N_LIST", f"[{n}]").replace("CAP", "64"))
    assert report["first"] == 0, "one thread asked for, yet helper threads were started"
    helpers, grown = report[str(n)]["helpers"], report[str(n)]["grown"]
    assert 1 <= helpers <= n - 1, f"num_threads({n}): {helpers} pool helpers (one pool: at most {n - 1})"
    assert grown <= n - 1, f"num_threads({n}): the process gained {grown} threads (at most {n - 1})"
    # A 64-thread block in another thread: at most 63 helpers, in the one pool.
    cap = report["cap"]
    assert n <= cap["helpers"] <= 63 and cap["grown"] <= 63 + 1, cap  # + the Python thread itself
    assert cap["main"] == 1
