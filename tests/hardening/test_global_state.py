"""Process-global state survives asynchronous exceptions.

A ``KeyboardInterrupt`` (a notebook's "interrupt kernel") or any exception a signal handler
raises can land between any two bytecodes. Whatever it interrupts, convops must leave behind
exactly the state it found: NumPy/SciPy's BLAS thread counts (lowered to 1 while convops' own
threads run BLAS), convops' thread count (``set_num_threads``, ``with num_threads``) and the
kernel switchboard (``with convops.dispatch.force``).

* Injection at every step: a trace hook raises ``KeyboardInterrupt`` at the k-th line executed in
  the module that changes the state (and in threadpoolctl, which does the BLAS changes), for
  k = 1, 2, ... until the call runs to the end without reaching the k-th line; after each
  interrupted call the state must be exactly what it was, and a later clean call must still
  restore the true BLAS counts (the lowered count must never be recorded as the original).
* Real signals: a timer's SIGALRM handler raises ``KeyboardInterrupt`` at random moments during
  long filter-gradient calls (which lower and restore BLAS's threads on each call); the state is
  checked after every interrupt.
"""

from __future__ import annotations

import linecache
import random
import signal
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import convops
import convops._threads as threads_module
from convops import dispatch

threadpoolctl = pytest.importorskip("threadpoolctl")

THREADS_FILE = threads_module.__file__
TPC_FILE = threadpoolctl.__file__
DISPATCH_FILE = dispatch.__file__


def blas_counts() -> list[int]:
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


def state() -> dict[str, Any]:
    return {
        "blas": blas_counts(),
        "num_threads": convops.get_num_threads(),
        "process_num_threads": threads_module._num_threads,
        "forced": (dispatch.forced_method("conv2d_backprop_filter"), dispatch.forced_isa()),
    }


class Interrupt:
    """A trace hook that raises KeyboardInterrupt at the k-th line event in `files`.

    One line event is skipped: the return to a ``with`` line when its block ends, where CPython
    then calls ``__exit__``. A signal cannot land there (the interpreter checks for signals after
    calls, at function entry and on backward jumps, and none lies between a block's last
    instruction and its ``__exit__`` call), but a trace hook can, and would leave the lock of any
    ``with lock:`` held, in threadpoolctl as in convops."""

    def __init__(self, k: int, files: tuple[str, ...]) -> None:
        self.k, self.files, self.lines, self.where, self.function = k, files, 0, None, None
        self.last_line: dict[Any, int] = {}

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        return self.local if frame.f_code.co_filename in self.files else None

    def local(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            last, self.last_line[frame] = self.last_line.get(frame), frame.f_lineno
            if (
                last is not None
                and frame.f_lineno < last
                and linecache.getline(frame.f_code.co_filename, frame.f_lineno).lstrip().startswith("with ")
            ):
                return self.local
            self.lines += 1
            if self.lines == self.k:
                self.where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
                self.function = frame.f_code.co_name
                raise KeyboardInterrupt(f"injected at line event {self.k}: {self.where}")
        return self.local


def inject_everywhere(
    call: Callable[[], Any], files: tuple[str, ...], check: Callable[[Interrupt], None], limit: int = 5000
) -> set[str]:
    """Run `call` with an interrupt at line event k = 1, 2, ... of `files`; `check` after each
    interrupted run. Returns the functions in which interrupts landed."""
    functions = set()
    for k in range(1, limit):
        hook = Interrupt(k, files)
        sys.settrace(hook)
        try:
            call()
        except KeyboardInterrupt:
            assert hook.where is not None, "a KeyboardInterrupt that the test did not inject"
        finally:
            sys.settrace(None)
        if hook.where is None:
            assert hook.lines > 0, f"no line of {files} ran: the injection tests nothing"
            return functions
        functions.add(hook.function)
        check(hook)
    raise AssertionError(f"the call ran more than {limit} lines of {files}")


@pytest.fixture(autouse=True)
def gemm_filter_gradient(monkeypatch):
    """The filter gradient by im2col + BLAS, the path that lowers BLAS's threads (the direct
    kernel, its default, uses no BLAS)."""
    monkeypatch.setattr("convops.conv._FILTER_GRAD_METHOD", "gemm", raising=False)


@pytest.fixture(params=["openblas", "threadpoolctl"])
def blas_route(request, monkeypatch):
    """How convops sets BLAS's thread counts: OpenBLAS's own functions (pthreads OpenBLAS, as in
    the NumPy and SciPy wheels) or threadpoolctl's (any other library or threading layer; here
    forced by finding no OpenBLAS functions). The limiter is loaded afresh for each, and again
    after the test."""
    if request.param == "threadpoolctl":
        monkeypatch.setattr(threads_module.BlasThreads, "_openblas_functions", staticmethod(lambda lib: None))
    threads_module.blas_threads.available = None
    yield request.param
    monkeypatch.undo()
    threads_module.blas_threads.available = None


@pytest.fixture
def blas_at_3(blas_route):
    """BLAS at 3 threads (neither 1, what convops lowers it to, nor this machine's default), and
    convops's BLAS limiter loaded before the hook is installed."""
    controller = threadpoolctl.ThreadpoolController()
    if not controller.select(user_api="blas").lib_controllers:
        pytest.skip("threadpoolctl finds no BLAS library")
    x, dy = _grad_inputs(1, 8)
    _filter_grad(x, dy)  # loads threadpoolctl's view of SciPy's OpenBLAS too
    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        assert blas_counts() == [3] * len(blas_counts())
        yield
    convops.set_num_threads(None)


def _grad_inputs(n: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, side, side, 8)).astype(np.float32)
    dy = rng.standard_normal((n, side - 2, side - 2, 16)).astype(np.float32)
    return x, dy


def _filter_grad(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    with dispatch.force(conv2d_backprop_filter="gemm"):  # the BLAS path: lowers BLAS's threads
        return convops.conv2d_backprop_filter(x, (3, 3, 8, 16), dy)


def test_interrupt_at_every_line_of_blas_limit_and_thread_count(blas_at_3, blas_route):
    x, dy = _grad_inputs(2, 12)
    expected = _filter_grad(x, dy)
    convops.set_num_threads(3)
    before = state()

    def call() -> None:
        with convops.num_threads(2):
            with convops.num_threads(1):
                np.testing.assert_array_equal(_filter_grad(x, dy), expected)

    def check(hook: Interrupt) -> None:
        assert state() == before, f"state changed by an interrupt at {hook.where}"

    functions = inject_everywhere(call, (THREADS_FILE, TPC_FILE), check)
    # Interrupts landed while BLAS's counts were being lowered and restored, and in convops' count
    # (OpenBLAS's own functions are C: no line of them runs in Python).
    landed = {"_settle", "num_threads", "get_num_threads"}
    if blas_route == "threadpoolctl":
        landed |= {"_set", "set_num_threads"}
    assert landed <= functions, functions
    # The lowered count was never recorded as the original: a clean call restores 3, not 1.
    np.testing.assert_array_equal(_filter_grad(x, dy), expected)
    assert state() == before


def test_interrupt_while_blas_limit_is_shared_by_nested_blocks(blas_at_3):
    """A block already holding the limit (another caller) keeps it whatever lands in the inner one."""
    x, dy = _grad_inputs(1, 10)
    before = state()
    with threads_module.blas_threads.limit(1):
        inside = state()
        assert inside["blas"] == [1] * len(before["blas"])

        def check(hook: Interrupt) -> None:
            assert state() == inside, f"the outer limit was lost by an interrupt at {hook.where}"

        assert "_settle" in inject_everywhere(lambda: _filter_grad(x, dy), (THREADS_FILE, TPC_FILE), check)
    assert state() == before


def test_interrupt_at_every_line_of_a_limit_block(blas_at_3):
    """``with blas_threads.limit(1):`` around Python code (the nn models' training steps)."""
    before = state()

    with threads_module.blas_threads.limit(1):
        assert blas_counts() == [1] * len(before["blas"])

    def call() -> None:
        with threads_module.blas_threads.limit(1):
            pass

    def check(hook: Interrupt) -> None:
        assert state() == before, f"state changed by an interrupt at {hook.where}"

    assert {"limit", "_settle"} <= inject_everywhere(call, (THREADS_FILE, TPC_FILE), check)


def test_interrupt_at_every_line_of_set_num_threads():
    """set_num_threads is one store: an interrupt leaves the old value or the new one."""
    convops.set_num_threads(3)
    try:

        def check(hook: Interrupt) -> None:
            assert threads_module._num_threads in (3, None), hook.where
            assert convops.get_num_threads() in (3, threads_module._read_default()), hook.where
            convops.set_num_threads(3)

        functions = inject_everywhere(lambda: convops.set_num_threads(None), (THREADS_FILE,), check)
        assert "_read_default" in functions, functions
    finally:
        convops.set_num_threads(None)


def test_interrupt_at_every_line_of_dispatch_force():
    x, dy = _grad_inputs(1, 10)
    before = state()

    def call() -> None:
        with dispatch.force(conv2d_backprop_filter="direct", isa="base"):
            convops.conv2d_backprop_filter(x, (3, 3, 8, 16), dy)

    def check(hook: Interrupt) -> None:
        assert state() == before, f"state changed by an interrupt at {hook.where}"

    assert "force" in inject_everywhere(call, (DISPATCH_FILE,), check)


def test_real_signals_during_long_gradient_calls(blas_at_3):
    """SIGALRM raising KeyboardInterrupt at random moments of back-to-back filter gradients."""
    if not hasattr(signal, "setitimer"):
        pytest.skip("no setitimer on this platform")
    x, dy = _grad_inputs(8, 40)
    with convops.num_threads(1):
        expected = _filter_grad(x, dy)
    convops.set_num_threads(2)
    before = state()
    armed = [False]
    landed: dict[str, int] = {}

    def handler(signum: int, frame: Any) -> None:
        if armed[0]:
            armed[0] = False
            where = frame.f_code.co_filename.rsplit("/", 1)[-1] if frame is not None else "?"
            landed[where] = landed.get(where, 0) + 1
            raise KeyboardInterrupt

    rng = random.Random(0)
    previous = signal.signal(signal.SIGALRM, handler)
    interrupts = 0
    try:
        for _ in range(150):
            # Armed and disarmed inside the try (the handler disarms when it raises): a signal
            # still pending from the last round then cannot raise outside it.
            try:
                armed[0] = True
                signal.setitimer(signal.ITIMER_REAL, rng.uniform(1e-4, 4e-3))
                for _ in range(20):
                    with convops.num_threads(2):
                        np.testing.assert_array_equal(_filter_grad(x, dy), expected)
                armed[0] = False
            except KeyboardInterrupt:
                interrupts += 1
            signal.setitimer(signal.ITIMER_REAL, 0)
            assert state() == before, f"state changed after {interrupts} interrupts (last in {landed})"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert interrupts >= 100, f"only {interrupts} of 150 timers interrupted a call"
    assert landed.get("_threads.py", 0) >= 5, f"too few interrupts landed in the BLAS limit: {landed}"
    print(f"interrupts landed in: {landed}")


def test_pthreads_openblas_counts_are_set_by_openblas_itself():
    """NumPy's and SciPy's wheels bundle OpenBLAS with its own threads (pthreads): convops sets
    their counts with OpenBLAS's functions, and threadpoolctl (which reads them independently)
    sees each lowering and restoring."""
    threads_module.blas_threads.available = None
    threads_module.blas_threads.call(1, int)  # loads the limiter
    libs = threads_module.blas_threads._libs
    pthreads = [lib for lib in libs if lib.internal_api == "openblas" and lib.threading_layer == "pthreads"]
    assert pthreads, f"no pthreads OpenBLAS among {[lib.filepath for lib in libs]}: the wheels' BLAS changed"
    assert not any(lib in threads_module.blas_threads._by_threadpoolctl for lib in pthreads)
    with threadpoolctl.threadpool_limits(3, user_api="blas"):  # not 1, whatever the environment says
        before = blas_counts()
        assert before == [3] * len(before)
        with threads_module.blas_threads.limit(1):
            assert blas_counts() == [1] * len(before)
        assert blas_counts() == before
