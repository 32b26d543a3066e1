"""Where Winograd F(2x2, 3x3) beats the direct kernels below "auto"'s size rule, on this CPU.

``python -m benchmarks.winograd_rule`` times ``conv2d(algorithm="direct")`` against "auto" with its
Winograd size rule lifted -- F(2x2) with all the costs "auto" pays: the finiteness scan, the
filter transform, the tile transforms and the channel products -- on VALID 3x3 convolutions of
output side 9, 11, 13 and 14 (below ``AUTO_WINOGRAD_MIN_SIDE``), batch 8 and 64, for the channel
pairs "auto" considers, on 1 and 2 threads. The two run in turn, in pairs (a burst of other load
slows both); each cell is the median over the pairs of direct time / F(2x2) time (above 1: F(2x2)
is faster). 1 thread is timed by the thread's CPU time, 2 threads by the wall clock.

The table is printed and merged into ``benchmarks/results/winograd-rule.json`` under this CPU's
description (one entry per kind of CPU, the newest run replacing an older one): the evidence the
size rule in convops/_algorithms.py cites. "auto" must not choose by CPU (the same call would give
other bits on another machine), so the rule moves only where every kind of CPU measured agrees.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Iterator

import numpy as np

import convops
import convops.conv as _conv_api
from benchmarks.machine import describe_cpu, machine_info, merge_per_cpu
from convops import _algorithms

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "winograd-rule.json")
CHANNELS = ((32, 64), (64, 64), (64, 128), (128, 128))
SIDES = (9, 11, 13, 14)
BATCHES = (8, 64)


@contextlib.contextmanager
def size_rule_lifted() -> Iterator[None]:
    """ "auto" as it is but for the size rule: every shape its channel and finiteness rules allow
    runs F(2x2). (conv2d's compiled fast path keeps its own copy of the positions threshold.)"""
    names = ((_algorithms, "AUTO_WINOGRAD_MIN_SIDE"), (_algorithms, "AUTO_WINOGRAD_MIN_POSITIONS"))
    names += ((_conv_api, "_AUTO_MIN_POSITIONS"),)
    saved = [getattr(module, name) for module, name in names]
    for module, name in names:
        setattr(module, name, 1)
    try:
        yield
    finally:
        for (module, name), value in zip(names, saved):
            setattr(module, name, value)


def runs_winograd(x: np.ndarray, w: np.ndarray) -> bool:
    """Whether "auto" with the size rule lifted runs Winograd on this call (else the cell would
    time the direct kernels twice)."""
    ran = []
    original = _algorithms._winograd_forward

    def spy(*args, **kwargs):
        ran.append(True)
        return original(*args, **kwargs)

    _algorithms._winograd_forward = spy
    try:
        with size_rule_lifted():
            convops.conv2d(x, w)
    finally:
        _algorithms._winograd_forward = original
    return bool(ran)


def cell(c_in: int, c_out: int, side: int, batch: int, threads: int, pairs: int, seed: int = 0) -> dict:
    """One (channels, side, batch, threads) cell: the median ratio and both medians in ms."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, side + 2, side + 2, c_in)).astype(np.float32)
    w = rng.standard_normal((3, 3, c_in, c_out)).astype(np.float32)
    if not runs_winograd(x, w):
        raise RuntimeError(f"auto with the size rule lifted did not run Winograd on {x.shape} * {w.shape}")
    clock = time.thread_time if threads == 1 else time.perf_counter

    def best_of_3(fn) -> float:
        times = []
        for _ in range(3):
            start = clock()
            fn()
            times.append(clock() - start)
        return min(times)

    def direct() -> None:
        convops.conv2d(x, w, algorithm="direct")

    def winograd() -> None:
        with size_rule_lifted():
            convops.conv2d(x, w)

    with convops.num_threads(threads):
        direct(), winograd()  # warm-up: the autotuner's first call, the result cache
        times = [(best_of_3(direct), best_of_3(winograd)) for _ in range(pairs)]
    return {
        "c_in": c_in,
        "c_out": c_out,
        "side": side,
        "batch": batch,
        "threads": threads,
        "ratio": statistics.median(d / f for d, f in times),
        "direct_ms": 1e3 * statistics.median(d for d, _ in times),
        "winograd_ms": 1e3 * statistics.median(f for _, f in times),
    }


def table(cells: list[dict]) -> str:
    """Markdown: a row per (channels, batch, threads), a column per output side."""
    lines = [
        "| channels | batch | threads | " + " | ".join(f"side {s}" for s in SIDES) + " |",
        "|---|---|---|" + "---|" * len(SIDES),
    ]
    rows: dict[tuple, dict[int, float]] = {}
    for c in cells:
        rows.setdefault((c["c_in"], c["c_out"], c["batch"], c["threads"]), {})[c["side"]] = c["ratio"]
    for (c_in, c_out, batch, threads), by_side in rows.items():
        ratios = " | ".join(f"{by_side[s]:.2f}" if s in by_side else "" for s in SIDES)
        lines.append(f"| {c_in} -> {c_out} | {batch} | {threads} | {ratios} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.winograd_rule", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    p.add_argument("--pairs", type=int, default=9, help="interleaved pairs per cell (default 9)")
    p.add_argument("--out", default=OUT, help="JSON to merge this CPU's table into")
    args = p.parse_args(argv)
    cells = [
        cell(c_in, c_out, side, batch, threads, args.pairs)
        for threads in args.threads
        for c_in, c_out in CHANNELS
        for batch in BATCHES
        for side in SIDES
    ]
    machine = machine_info({})
    cpu = describe_cpu(machine)
    text = table(cells)
    print(f"F(2x2) against the direct kernels below the size rule (direct time / F(2x2) time), {cpu}:\n\n{text}")
    merge_per_cpu(
        args.out,
        cpu,
        {
            "date": machine["date"],
            "convops": machine.get("git_commit"),
            "blas": machine.get("blas"),  # the products run through it: its kernels and limits matter
            "pairs": args.pairs,
            "cells": cells,
        },
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
