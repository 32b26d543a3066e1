"""One benchmark mode (a fixed thread count for everyone), run in one process.

Started by :mod:`benchmarks.run` with the thread variables already in the environment. Imports
the libraries, pins every thread pool, measures the machine's limits, then times each case.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time

from benchmarks.machine import LoadProbe, describe_cpu, machine_info

PAUSE_S = 0.02  # between two implementations' samples (see measure_interleaved)
# After NumPy's baseline: its tensordot runs OpenBLAS, whose idle threads spin for ~2**28
# cycles (~0.1 s) after a call. Measured here: a 2-thread convops conv2d (3.8 ms alone) took
# 5.7 ms 20 ms after an OpenBLAS sgemm and 3.8 ms after 0.1 s.
PAUSE_AFTER_BLAS_S = 0.15
BLAS_IMPLS = ("numpy",)
IMPL_ORDER = ("convops", "tf_eager", "tf_function", "torch_cl", "torch_nchw", "numpy", "reference")
# convops.conv2d with an explicit algorithm= (cases.ALGORITHM_IMPLS), timed after the others.
ALGORITHM_IMPLS = ("alg_direct", "alg_winograd", "alg_fft", "alg_im2col", "alg_naive")
# Give the slowest implementations half the time budget (their samples are few anyway).
SLOW_IMPLS = ("reference", "alg_naive", "alg_fft")
# Winograd and FFT round differently from the in-order sums (their documented error bounds are
# larger): the agreement check allows them more.
LOOSE_IMPLS = ("alg_winograd", "alg_fft")
PEERS = ("tf_eager", "tf_function", "torch_cl", "torch_nchw")


def measure(fn, repeats=7, min_sample=0.025, warmup=2, budget=3.0):
    """Median and minimum seconds per call of ``fn()``.

    Each of ``repeats`` samples times a loop of ``number`` calls, ``number`` chosen so that a
    sample lasts at least ``min_sample`` seconds (small calls are timed in bulk so the clock's
    resolution does not matter). A slow function gets fewer samples so that one implementation
    never takes more than about ``budget`` seconds.
    """
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
        if time.perf_counter() - start > budget / 3:
            break
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_sample / once))
    repeats = max(1, min(repeats, int(budget / (once * number))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "samples": len(samples), "number": number}


def measure_interleaved(fns: dict, repeats=7, min_sample=0.025, warmup=2, budget=2.0, slow=("reference",)):
    """``measure`` for several implementations of one case, sampled round-robin.

    Sample k of every implementation is taken before sample k+1 of any: on a shared machine a
    burst of load then slows all of them alike instead of whichever one happened to be running,
    so the ratios (which use the medians) are far steadier than with one block per implementation.
    """
    plan = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        for _ in range(warmup):
            fn()
            if time.perf_counter() - start > budget / 3:
                break
        t0 = time.perf_counter()
        fn()
        once = max(time.perf_counter() - t0, 1e-7)
        number = max(1, int(min_sample / once))
        cap = budget / 2 if name in slow else budget
        plan[name] = (number, max(1, min(repeats, int(cap / (once * number)))))
    samples = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    previous = None
    for k in range(max(r for _, r in plan.values())):
        for name, fn in fns.items():
            number, reps = plan[name]
            if k >= reps:
                continue
            # Let the previous library's idle threads stop spinning first (OpenMP and Eigen pools
            # spin for ~1 ms after a call, OpenBLAS's for ~0.1 s): they would otherwise take the
            # second core from this one's threads, and a 2-thread result would measure their
            # neighbour, not them.
            time.sleep(PAUSE_AFTER_BLAS_S if previous in BLAS_IMPLS else PAUSE_S)
            previous = name
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
            cpu[name].append((time.process_time() - c0) / number)
    # cpu_s: CPU time of the whole process (all its threads) per call. With one thread for
    # everyone it is the time the call would take on a machine of its own, whatever the load;
    # with more threads it is the total work, not a duration.
    return {
        name: {
            "median_s": statistics.median(v),
            "min_s": min(v),
            "samples": len(v),
            "number": plan[name][0],
            "cpu_s": statistics.median(cpu[name]),
        }
        for name, v in samples.items()
    }


def _matmul_limit(np, dtype, quick):
    """BLAS's n x n matrix product in ``dtype``, counted as 2 n**3 flops (best and median rate)."""
    n = 2048 if quick else 4096
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype)
    with LoadProbe() as probe:
        t = measure(lambda: np.matmul(a, b, out=c), repeats=3 if quick else 5, warmup=1, budget=10)
    return {
        "n": n,
        "gflops": 2.0 * n**3 / t["min_s"] / 1e9,
        "gflops_median": 2.0 * n**3 / t["median_s"] / 1e9,
        **t,
        "load": probe.result,
    }


def _limits(np, threads, quick):
    """The machine's own ceilings in this mode: BLAS matmul in float32 and in float64 (each
    dtype's convolutions are compared with their own: float64 does half the multiply-adds per
    instruction), and a large copy."""
    matmul = _matmul_limit(np, np.float32, quick)
    matmul_f64 = _matmul_limit(np, np.float64, quick)
    src = np.ones(2**26, np.float32)  # 256 MiB: far beyond the last-level cache
    dst = np.empty_like(src)
    with LoadProbe() as probe:
        t = measure(lambda: np.copyto(dst, src), repeats=5, warmup=1, budget=5)
    copy = {
        "bytes": 2 * src.nbytes,
        "gbs": 2 * src.nbytes / t["min_s"] / 1e9,
        "gbs_median": 2 * src.nbytes / t["median_s"] / 1e9,
        **t,
        "load": probe.result,
    }
    return {"matmul_f32": matmul, "matmul_f64": matmul_f64, "copy": copy}


def _fma_ceiling(info: dict, threads: int) -> dict | None:
    """This mode's FMA ceiling from the machine section's measured peak (benchmarks.machine):
    the instruction set in use, float32 and float64, the 1-thread peak (timed by the core's own CPU
    time, so load-proof) times the thread count, and the all-threads value measured under load."""
    peak = info.get("fma_peak_gflops")
    isa = (info.get("convops_cpu_features") or {}).get("in_use")
    if not peak or isa not in peak:
        return None
    row = peak[isa]
    out = {"isa": isa, "threads": threads}
    for dtype in ("float32", "float64"):
        out[dtype] = row[f"{dtype}_1_thread"] * threads
        out[f"{dtype}_measured_all_threads"] = row[f"{dtype}_all_threads"]
    return out


# The FMA peak timed beside each case, as one more implementation in its interleaved rounds
# (below). The host this was written on changes speed by phases of minutes (up to 2x); a peak
# measured once, in the machine section, put the same kernel at 69-79% of it in one run and at
# 91-94% of a peak measured next to it in another.
PEAK_IMPL = "fma_peak"
PEAK_SAMPLE_S = 0.02


def _peak_beside(info: dict, dtype: str, threads: int):
    """A function for measure_interleaved that measures the FMA peak (the machine section's
    micro-kernel, ``PEAK_SAMPLE_S`` per sample, this mode's threads, the case's dtype) and the
    list its values go to; (None, None) when the kernels have no peak to measure."""
    import sys

    kernels = sys.modules.get("convops._kernels.simd")
    isa = (info.get("convops_cpu_features") or {}).get("in_use")
    if kernels is None or not hasattr(kernels, "fma_peak_gflops") or isa is None:
        return None, None
    values: list[float] = []

    def sample():
        values.append(kernels.fma_peak_gflops(isa, PEAK_SAMPLE_S, threads, dtype))

    return sample, values


def _agree(name, expected, got, dtype, case, to_numpy):
    import numpy as np

    if name.startswith("torch") and not case.extra.get("torch_exact", True):
        return None
    got = to_numpy(name, got)
    if got.shape != expected.shape:
        return f"shape {got.shape} != {expected.shape}"
    scale = max(float(np.max(np.abs(expected))), 1.0) if expected.size else 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - expected))) / scale if expected.size else 0.0
    tol = 1e-4 if dtype == "float32" else 1e-10
    if name in LOOSE_IMPLS:
        tol *= 10
    return None if err <= tol else f"max relative error {err:.2e} > {tol:g}"


# Size: one child process's whole run, in the order it happens.
def run_child(args) -> int:
    threads = args.threads or (os.cpu_count() or 1)
    import numpy as np

    import convops
    from benchmarks import cases as cases_mod

    convops.set_num_threads(threads)
    tf = torch = None
    notes = []
    if not args.no_tf:
        import tensorflow as tf

        # Must happen before the first TensorFlow op creates the thread pools.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads if threads == 1 else 0)
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(threads)
            torch.set_grad_enabled(False)  # inference, as the other libraries here
        except ImportError:
            notes.append("PyTorch not installed: its columns are empty")
    # Load convops' kernels now so that the first case does not pay for it.
    convops.conv2d(np.ones((1, 3, 3, 1), np.float32), np.ones((3, 3, 1, 1), np.float32))

    info = machine_info(
        {
            name: os.environ.get(name)
            for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        }
    )
    info["tf_onednn"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0" if tf is not None else None
    repeats = 3 if args.quick else args.repeats
    min_sample = 0.005 if args.quick else 0.025
    pattern = re.compile(args.filter) if args.filter else None

    print(
        f"machine: {describe_cpu(info)}, {info['cores']} cores; threads for everyone: {threads}; "
        f"OpenBLAS pins: {os.environ.get('OPENBLAS_CORETYPE') or 'none'}",
        flush=True,
    )
    limits = _limits(np, threads, args.quick)
    limits["fma_peak"] = _fma_ceiling(info, threads)
    print(
        f"limits: matmul {limits['matmul_f32']['n']}^2 float32 {limits['matmul_f32']['gflops']:.0f}, "
        f"float64 {limits['matmul_f64']['gflops']:.0f} GFLOP/s, "
        f"copy {limits['copy']['gbs']:.1f} GB/s (read + write)",
        flush=True,
    )

    from benchmarks import report

    results = []
    for case in cases_mod.CASES:
        if pattern and not pattern.search(case.name):
            continue
        impls = cases_mod.build(case, tf=tf, torch=torch)
        expected = cases_mod.to_nhwc_numpy("convops", impls["convops"]()).astype(np.float64)
        entry = {
            "name": case.name,
            "label": case.describe(),
            "op": case.op,
            "dtype": case.dtype,
            "shape": list(case.shape),
            "kernel": list(case.kernel),
            "strides": case.strides,
            "padding": case.padding,
            "group": case.group,
            "flops": cases_mod.flops(case),
            "bytes": cases_mod.bytes_moved(case),
            "impls": {},
            "disagree": {},
        }
        ordered = {name: impls[name] for name in IMPL_ORDER + ALGORITHM_IMPLS if name in impls}
        for name, fn in ordered.items():
            problem = _agree(name, expected, fn(), case.dtype, case, cases_mod.to_nhwc_numpy)
            if problem:
                entry["disagree"][name] = problem
        timed = dict(ordered)
        peak_sample, peak_values = _peak_beside(info, case.dtype, threads) if entry["flops"] else (None, None)
        if peak_sample is not None:
            timed[PEAK_IMPL] = peak_sample
        with LoadProbe() as probe:
            entry["impls"] = measure_interleaved(timed, repeats=repeats, min_sample=min_sample, slow=SLOW_IMPLS)
        entry["impls"].pop(PEAK_IMPL, None)
        if peak_values:
            entry["fma_peak_beside_gflops"] = statistics.median(peak_values)
        entry["load"] = probe.result
        entry.update(report.derived(entry, limits))
        results.append(entry)
        print(report.line(entry), flush=True)
    run = {
        "threads": threads,
        "quick": bool(args.quick),
        "machine": info,
        "limits": limits,
        "notes": notes,
        "cases": results,
    }
    print()
    print(report.markdown({"machine": info, "runs": [run]}, header=False))
    with open(args.child_json, "w") as f:
        json.dump(run, f)
    return 0
