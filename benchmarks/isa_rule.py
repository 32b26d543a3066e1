"""Where AVX2 or AVX-512 runs the register-blocked convolution kernels faster, on this CPU.

``python -m benchmarks.isa_rule`` times the three register-blocked kernels -- conv2d's direct
kernel, the input gradient (the same kernel on flipped filters: its outputs are the forward
C_in) and the filter gradient's direct kernel -- with the instruction set forced to AVX2 and to
AVX-512 (``convops.dispatch.force(isa=...)``; the same bits either way), for a block of output
channels from 1 up to a few AVX-512 vectors, float32 and float64, 3x3 VALID on 16 images of
30 x 30 with 32 channels on the other side. The two run in turn, in pairs (a burst of other load
slows both); each cell is the median over the pairs of AVX2 time / AVX-512 time (above 1:
AVX-512 is faster). 1 thread is timed by the thread's CPU time, more by the wall clock.

Beside each cell: which set the default rule picks (``convops_block_isa`` in
``convops/_kernels/src/simd_isa.h``: AVX2 where a block's channels fit one AVX2 vector) and
whether that pick is the faster one or within ``--margin`` of it. The table is printed and merged
into ``benchmarks/results/isa-rule.json`` under this CPU's description (one entry per kind of CPU,
the newest run replacing an older one): the evidence the rule cites. A CPU without AVX-512 has
nothing to compare; the command says so and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

import convops
from benchmarks.machine import describe_cpu, machine_info, merge_per_cpu
from convops import _conv_dispatch, dispatch
from convops._kernels import load

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "isa-rule.json")
KERNELS = ("forward", "input_grad", "filter_grad")
# Output channels of a block (the forward's C_out, the input gradient's C_in, the filter
# gradient's C_out): both sides of one AVX2 vector (8 float32, 4 float64) and of one AVX-512
# vector, partial vectors included.
CHANNELS = {"float32": (2, 4, 8, 9, 12, 15, 16, 24, 32), "float64": (2, 4, 5, 7, 8, 12, 16)}
BATCH, SIDE, OTHER = 16, 30, 32  # images, input side, channels on the other side of the filters


def problem(kernel: str, channels: int, dtype: str, seed: int = 0) -> Callable[[], object]:
    """One call of ``kernel`` whose register blocks hold ``channels`` output channels."""
    rng = np.random.default_rng(seed)
    out_side = SIDE - 2
    if kernel == "forward":
        x = rng.standard_normal((BATCH, SIDE, SIDE, OTHER)).astype(dtype)
        w = rng.standard_normal((3, 3, OTHER, channels)).astype(dtype)
        return lambda: convops.conv2d(x, w, algorithm="direct")
    if kernel == "input_grad":
        w = rng.standard_normal((3, 3, channels, OTHER)).astype(dtype)
        dy = rng.standard_normal((BATCH, out_side, out_side, OTHER)).astype(dtype)
        return lambda: convops.conv2d_backprop_input((BATCH, SIDE, SIDE, channels), w, dy, 1, "VALID")
    x = rng.standard_normal((BATCH, SIDE, SIDE, OTHER)).astype(dtype)
    dy = rng.standard_normal((BATCH, out_side, out_side, channels)).astype(dtype)
    return lambda: convops.conv2d_backprop_filter(x, (3, 3, OTHER, channels), dy, 1, "VALID")


def rule_pick(channels: int, dtype: str) -> str:
    """The set the default rule runs for a block of ``channels`` output channels."""
    return _conv_dispatch._ISA_NAMES[_conv_dispatch.block_isa(np.dtype(dtype), channels)]


def cell(kernel: str, channels: int, dtype: str, threads: int, pairs: int, margin: float) -> dict:
    """One (kernel, channels, dtype, threads) cell: the median ratio, both medians in ms, the
    rule's pick and whether it is the faster or within ``margin``."""
    call = problem(kernel, channels, dtype)
    clock = time.thread_time if threads == 1 else time.perf_counter
    forced = {"conv2d": "direct", "conv2d_backprop_input": "direct", "conv2d_backprop_filter": "direct"}

    def best_of_3(isa: str) -> float:
        times = []
        with dispatch.force(isa=isa, **forced):
            for _ in range(3):
                start = clock()
                call()
                times.append(clock() - start)
        return min(times)

    with convops.num_threads(threads):
        best_of_3("avx2"), best_of_3("avx512")  # warm-up: each set's autotuned blocking
        times = [(best_of_3("avx2"), best_of_3("avx512")) for _ in range(pairs)]
    ratio = statistics.median(a / b for a, b in times)
    pick = rule_pick(channels, dtype)
    return {
        "kernel": kernel,
        "dtype": dtype,
        "channels": channels,
        "threads": threads,
        "ratio": ratio,
        "avx2_ms": 1e3 * statistics.median(a for a, _ in times),
        "avx512_ms": 1e3 * statistics.median(b for _, b in times),
        "rule": pick,
        "rule_ok": pick_cost(ratio, pick) <= 1 + margin,
    }


def pick_cost(ratio: float, pick: str) -> float:
    """The picked set's time over the faster set's, from the ratio AVX2 time / AVX-512 time: 1
    when the pick is the faster."""
    return max(1.0, 1 / ratio) if pick == "avx512" else max(1.0, ratio)


def table(cells: list[dict]) -> str:
    """Markdown: a row per (kernel, dtype, threads), a column per channel count; each entry the
    ratio, the rule's pick and "!" where the pick is slower by more than the margin."""
    lines = []
    for dtype, counts in CHANNELS.items():
        lines += [
            f"| {dtype}: kernel | threads | " + " | ".join(f"{c} ch" for c in counts) + " |",
            "|---|---|" + "---|" * len(counts),
        ]
        rows: dict[tuple, dict[int, dict]] = {}
        for c in cells:
            if c["dtype"] == dtype:
                rows.setdefault((c["kernel"], c["threads"]), {})[c["channels"]] = c
        for (kernel, threads), by_count in rows.items():
            entries = []
            for n in counts:
                c = by_count.get(n)
                mark = "" if c is None or c["rule_ok"] else " !"
                entries.append("" if c is None else f"{c['ratio']:.2f} {c['rule']}{mark}")
            lines.append(f"| {kernel} | {threads} | " + " | ".join(entries) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.isa_rule", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts (default 1)")
    p.add_argument("--pairs", type=int, default=9, help="interleaved pairs per cell (default 9)")
    p.add_argument("--margin", type=float, default=0.05, help="slowdown the rule may cost (default 0.05)")
    p.add_argument("--out", default=OUT, help="JSON to merge this CPU's table into")
    args = p.parse_args(argv)
    supported = load("simd").supported_isas()
    if "avx2" not in supported or "avx512" not in supported:
        print(f"this CPU and build run {supported}: no AVX2 / AVX-512 choice to measure; nothing written")
        return 0
    cells = [
        cell(kernel, channels, dtype, threads, args.pairs, args.margin)
        for threads in args.threads
        for dtype, counts in CHANNELS.items()
        for kernel in KERNELS
        for channels in counts
    ]
    machine = machine_info({})
    cpu = describe_cpu(machine)
    wrong = sum(not c["rule_ok"] for c in cells)
    print(
        f"AVX2 time / AVX-512 time (above 1: AVX-512 faster; the rule's pick beside it, '!' where it is "
        f"more than {args.margin:.0%} slower), {cpu}:\n\n{table(cells)}\n"
        f"the rule's pick is the faster or within {args.margin:.0%} in {len(cells) - wrong} of {len(cells)} cells"
    )
    merge_per_cpu(
        args.out,
        cpu,
        {
            "date": machine["date"],
            "convops": machine.get("git_commit"),
            "pairs": args.pairs,
            "margin": args.margin,
            "shape": {"batch": BATCH, "side": SIDE, "other_channels": OTHER, "kernel": [3, 3], "padding": "VALID"},
            "cells": cells,
        },
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
