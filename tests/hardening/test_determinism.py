"""Determinism: the same inputs give bit-identical outputs — on every call, in other processes,
with any thread count, and whatever the memory layout of the inputs.

Every op and gradient of ``catalog.py`` is fingerprinted (SHA-256 of its result's bytes, shape
and dtype). Then:

* calling again in this process, after other calls have warmed caches and thread pools, gives
  the same fingerprints;
* two fresh processes (CONVOPS_NUM_THREADS=1 and =2, different hash seeds) give the same
  fingerprints as this one;
* inputs handed over as Fortran-ordered, negatively strided, gapped, read-only or unaligned views
  of the same values give the same bits as C-contiguous ones (the NumPy reference is not
  involved: this is convops against itself).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convops
from hardening import catalog
from strategies import present

HERE = Path(__file__).resolve().parent


def fingerprints(size: str) -> dict:
    return {name: catalog.digest(fn()) for name, fn in catalog.calls(size).items()}


def reproducer(name: str, size: str, threads: str = "") -> str:
    """A shell command that prints the catalogue call's result, to diff two runs by hand."""
    env = f"CONVOPS_NUM_THREADS={threads} " if threads else ""
    return (
        f"{env}python -c \"import sys, numpy as np; sys.path.insert(0, 'tests'); from hardening import catalog; "
        f"np.set_printoptions(threshold=50, floatmode='unique'); print(catalog.calls({size!r})[{name!r}]())\""
    )


def first_difference(got, want) -> str:
    """Where two results' bits first differ, with both values (tuples of arrays too)."""
    for k, (g, w) in enumerate(
        zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,))
    ):
        g, w = np.ascontiguousarray(g), np.ascontiguousarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            return f"part {k}: shape/dtype {g.shape} {g.dtype} vs {w.shape} {w.dtype}"
        differ = np.frombuffer(g.tobytes(), np.uint8).reshape(g.shape + (g.itemsize,)) != np.frombuffer(
            w.tobytes(), np.uint8
        ).reshape(w.shape + (w.itemsize,))
        bad = np.argwhere(differ.any(axis=-1))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            return f"part {k}, {len(bad)} elements; first at {index}: {g[index]!r} vs {w[index]!r}"
    return "no element differs"


@pytest.mark.parametrize("size", ["small", "parallel"])
def test_same_bits_on_every_call(size):
    first = fingerprints(size)
    for _name, fn in catalog.calls("small" if size == "parallel" else "parallel").items():
        fn()  # other work in between: caches, pools, BLAS state
    again = fingerprints(size)
    changed = [name for name in first if first[name] != again[name]]
    assert not changed, "different bits on a second call:\n" + "\n".join(
        f"  {name}: reproduce (run it twice in one process): {reproducer(name, size)}" for name in changed
    )


_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from hardening import catalog
print(json.dumps({{size: {{name: catalog.digest(fn()) for name, fn in catalog.calls(size).items()}}
                  for size in ("small", "parallel")}}))
"""


def test_same_bits_in_other_processes_and_thread_counts():
    here = {size: fingerprints(size) for size in ("small", "parallel")}
    for threads, seed in (("1", "1"), ("2", "2")):
        env = dict(os.environ, CONVOPS_NUM_THREADS=threads, PYTHONHASHSEED=seed)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD.format(tests=str(HERE.parent))],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=HERE.parent.parent,
        )
        assert child.returncode == 0, child.stderr[-3000:]
        there = json.loads(child.stdout.strip().splitlines()[-1])
        for size in here:
            changed = [name for name in here[size] if here[size][name] != there[size][name]]
            assert not changed, f"{threads} thread(s) in another process: different bits for\n" + "\n".join(
                f"  {name}: compare {reproducer(name, size, threads)}\n    with {reproducer(name, size, '1')}"
                for name in changed
            )


LAYOUTS = ["F", "negative", "gapped", "readonly", "unaligned"]


def _layout_cases():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 11, 10, 4))
    w = rng.standard_normal((3, 2, 4, 5))
    dy = rng.standard_normal((3, 9, 9, 5))
    cases = {}
    for dtype in (np.float32, np.float64, np.float16):
        xs, ws, dys = x.astype(dtype), w.astype(dtype), dy.astype(dtype)
        cases[f"conv2d {np.dtype(dtype).name}"] = (lambda a, b: convops.conv2d(a, b, padding="SAME"), (xs, ws))
        cases[f"conv2d_backprop_filter {np.dtype(dtype).name}"] = (
            lambda a, b: convops.conv2d_backprop_filter(a, (3, 2, 4, 5), b),
            (xs, dys),
        )
        cases[f"conv2d_backprop_input {np.dtype(dtype).name}"] = (
            lambda a, b, shape=xs.shape: convops.conv2d_backprop_input(shape, a, b),
            (ws, dys),
        )
        cases[f"avg_pool2d {np.dtype(dtype).name}"] = (lambda a: convops.avg_pool2d(a, 3, 2, "SAME"), (xs,))
        cases[f"pad MEAN {np.dtype(dtype).name}"] = (
            lambda a: convops.pad(a, [[0, 0], [2, 1], [1, 2], [0, 0]], "MEAN"),
            (xs,),
        )
    xi = rng.integers(-9, 9, x.shape).astype(np.int32)
    cases["conv2d int32"] = (
        lambda a, b: convops.conv2d(a, b, strides=2),
        (xi, rng.integers(-3, 3, w.shape).astype(np.int32)),
    )
    cases["max_pool2d int32"] = (lambda a: convops.max_pool2d(a, 2, 1, "SAME"), (xi,))
    cases["pad REFLECT"] = (lambda a: convops.pad(a, [[1, 1], [2, 2], [3, 3], [0, 1]], "REFLECT"), (x,))
    cases["max_pool2d_grad"] = (lambda a, b: convops.max_pool2d_grad(a, b, 3, 1, "VALID"), (x, dy[:, :, :8, :4]))
    cases["pad_grad SYMMETRIC"] = (lambda a: convops.pad_grad(a, [[0, 0], [1, 1], [2, 0], [0, 1]], "SYMMETRIC"), (x,))
    return cases


LAYOUT_CASES = _layout_cases()


@pytest.mark.parametrize("name", list(LAYOUT_CASES))
def test_same_bits_whatever_the_memory_layout(name):
    fn, arrays = LAYOUT_CASES[name]
    plain = fn(*[np.ascontiguousarray(a) for a in arrays])
    want = catalog.digest(plain)
    for layout in LAYOUTS:
        result = fn(*[present(a, layout) for a in arrays])
        assert catalog.digest(result) == want, (
            f"{name}: inputs laid out {layout!r} give other bits than C-contiguous ones: "
            f"{first_difference(result, plain)}\n  reproduce: python -c \"import sys; sys.path.insert(0, 'tests'); "
            f"from hardening.test_determinism import LAYOUT_CASES, first_difference; from strategies import "
            f"present; import numpy as np; fn, arrays = LAYOUT_CASES[{name!r}]; print(first_difference("
            f'fn(*[present(a, {layout!r}) for a in arrays]), fn(*[np.ascontiguousarray(a) for a in arrays])))"'
        )
