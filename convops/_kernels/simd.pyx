# The one place that names the SIMD instruction sets and asks the CPU which it runs.
#
# Kernels take the instruction set as an index into ISA_NAMES, chosen per call in Python (the
# widest supported, unless convops.dispatch.force(isa=...) asks for another): a kernel module
# holds no ISA state of its own.
from libc.stddef cimport ptrdiff_t

from convops._kernels.parallel cimport parallel_for
from convops._kernels.simd cimport (CONVOPS_ISA_AVX2, CONVOPS_ISA_AVX512, CONVOPS_SIMD_AVAILABLE,
                                    convops_avx2_fewer_idle, convops_block_isa, convops_simd_supported)

import sys
import time

#: The instruction sets of the C kernels, narrowest first; a kernel's `isa` argument indexes it.
ISA_NAMES = ("base", "avx2", "avx512")


def supported_isas():
    """The instruction sets this build has and this CPU runs, narrowest first."""
    return tuple(name for i, name in enumerate(ISA_NAMES) if convops_simd_supported(i))


def simd_build():
    """True when the extensions hold the C SIMD kernels (GCC or clang builds)."""
    return bool(CONVOPS_SIMD_AVAILABLE)


def block_isa(int isa, Py_ssize_t channel_bytes, avx512_halves=None):
    """The instruction set a register-blocked conv kernel runs when `isa` is the widest and each
    group has `channel_bytes` bytes of output channels: AVX2 in place of AVX-512 where AVX2
    leaves fewer lanes idle and either the channels fit one AVX2 vector or this CPU runs 512-bit
    FMAs as two halves (src/simd_isa.h, convops_block_isa, says why), else `isa`.
    `avx512_halves`: None (this CPU's answer, avx512_halves()) or a bool to ask about another."""
    if avx512_halves is None:
        return block_isa_here(isa, channel_bytes)
    return convops_block_isa(isa, channel_bytes, bool(avx512_halves))


cdef int _halves = -1   # avx512_halves(): -1 until measured
cdef double _halves_sink = 0   # keeps the probe's loops: their result is stored


cdef int block_isa_here(int isa, Py_ssize_t channel_bytes) except -1:
    # Measures only where the answer depends on it (channels past one AVX2 vector that fill their
    # last AVX-512 vector by half or less, as 17..24 float32 channels do), once per process.
    if isa == CONVOPS_ISA_AVX512 and channel_bytes > 32 and convops_avx2_fewer_idle(channel_bytes):
        return convops_block_isa(isa, channel_bytes, avx512_halves())
    return convops_block_isa(isa, channel_bytes, 0)


def avx512_halves():
    """Whether this CPU runs a 512-bit FMA as two 256-bit halves (AMD Zen 4) rather than whole
    (Intel Xeon): measured once per process, on first need, in ~0.3 ms. The same 12 FMA chains
    (fma_peak_gflops's loop) run in AVX2 and in AVX-512, in turn, three times each, timed by the
    thread's CPU time (the wall clock outside Linux); the best AVX-512 time at least 1.5x the
    best AVX2 time (about 2x where each instruction takes two passes, about 1x where it takes
    one) means halves. False where AVX-512 does not run. It only chooses between instruction
    sets that give the same bits."""
    global _halves, _halves_sink
    cdef double best_256 = 1e300, best_512 = 1e300, start
    cdef int _rep
    if _halves < 0:
        if not (convops_simd_supported(CONVOPS_ISA_AVX512) and convops_simd_supported(CONVOPS_ISA_AVX2)):
            _halves = 0
        else:
            # The thread's CPU time on Linux (ns); elsewhere it may tick every ~16 ms (Windows,
            # whatever its stated resolution), so the wall clock.
            clock = time.thread_time if sys.platform.startswith("linux") else time.perf_counter
            for _rep in range(3):
                start = clock()
                _halves_sink += convops_fma_peaks_f32[CONVOPS_ISA_AVX2](_HALVES_PROBE_ITERATIONS, 0.9999, 1e-4)
                best_256 = min(best_256, clock() - start)
                start = clock()
                _halves_sink += convops_fma_peaks_f32[CONVOPS_ISA_AVX512](_HALVES_PROBE_ITERATIONS, 0.9999, 1e-4)
                best_512 = min(best_512, clock() - start)
            _halves = best_256 > 0 and best_512 >= 1.5 * best_256   # a clock that saw nothing: whole
    return bool(_halves)


def cpu_features():
    """What the SIMD kernels can use here (the benchmarks record it): whether this is a SIMD build,
    the supported instruction sets, the one a call uses by default (the widest) and whether
    512-bit FMAs run as two halves (avx512_halves)."""
    names = supported_isas()
    return {"simd_build": simd_build(), "supported": list(names),
            "in_use": names[len(names) - 1] if names else "base", "avx512_halves": avx512_halves()}


cdef extern from "fma_peak_simd.h" nogil:
    ctypedef float (*convops_fma_peak_f32)(ptrdiff_t, float, float) noexcept nogil
    ctypedef double (*convops_fma_peak_f64)(ptrdiff_t, double, double) noexcept nogil
    convops_fma_peak_f32 convops_fma_peaks_f32[3]
    convops_fma_peak_f64 convops_fma_peaks_f64[3]
    ptrdiff_t convops_simd_lanes(int isa, ptrdiff_t itemsize)

# 12 chains x 2 flops per lane per iteration (src/fma_peak_ukernel.h).
cdef enum:
    PEAK_FLOPS_PER_LANE = 24
    # avx512_halves()'s loops: 240,000 FMAs, ~30 us in AVX2 at two FMAs per cycle.
    _HALVES_PROBE_ITERATIONS = 20000


cdef struct PeakRun:
    int isa
    bint double_precision
    ptrdiff_t iterations
    double sink


cdef void _peak_task(void* ctx, ptrdiff_t begin, ptrdiff_t end) noexcept nogil:
    cdef PeakRun* run = <PeakRun*>ctx
    cdef ptrdiff_t _t
    cdef double total = 0
    for _t in range(begin, end):
        # a slightly below 1 and b small: the chains converge to b / (1 - a) and never overflow
        # or turn subnormal (which would slow some cores down).
        if run.double_precision:
            total += convops_fma_peaks_f64[run.isa](run.iterations, 0.999999, 1e-6)
        else:
            total += convops_fma_peaks_f32[run.isa](run.iterations, 0.9999, 1e-4)
    run.sink = total   # racy but harmless: only keeps the result alive


def fma_peak_gflops(isa, double seconds=0.2, int threads=1, dtype="float32"):
    """The measured fused-multiply-add peak of this CPU in GFLOP/s (1 FMA = 2 flops): `threads`
    copies (one per thread of convops' pool) of a loop of 12 independent vector FMA chains in
    instruction set `isa` ("base", "avx2" or "avx512", or its index in ISA_NAMES), the best of
    ten runs of about `seconds` / 10 each. The ceiling of any multiply-add kernel; "base" has no
    FMA (a multiply and an add, 16-byte vectors). `dtype` is "float32" or "float64".

    One thread is timed by its own CPU time (it runs on the calling thread), so other processes
    on a shared machine do not lower it; several threads by the wall clock, which they do (the
    benchmarks record the machine's load next to it)."""
    cdef PeakRun run
    cdef double best = 0, start, elapsed, flops
    cdef ptrdiff_t lanes
    cdef int _rep
    if isinstance(isa, str):
        if isa not in ISA_NAMES:
            raise ValueError(f"fma_peak_gflops: `isa` must be one of {ISA_NAMES}; got {isa!r}")
        isa = ISA_NAMES.index(isa)
    if not (0 <= isa < len(ISA_NAMES)) or not convops_simd_supported(isa):
        raise ValueError(f"fma_peak_gflops: `isa` must be one this build and CPU run, {supported_isas()}; "
                         f"got {isa!r}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"fma_peak_gflops: `dtype` must be 'float32' or 'float64'; got {dtype!r}")
    if threads < 1:
        raise ValueError(f"fma_peak_gflops: `threads` must be >= 1; got {threads}")
    if not seconds > 0:
        raise ValueError(f"fma_peak_gflops: `seconds` must be > 0; got {seconds}")
    run.isa = isa
    run.double_precision = dtype == "float64"
    lanes = convops_simd_lanes(isa, 8 if run.double_precision else 4)
    run.iterations = 1000
    while True:                 # calibrate: iterations for ~seconds / 10 on one thread
        start = time.thread_time()
        with nogil:
            _peak_task(&run, 0, 1)
        elapsed = time.thread_time() - start
        if elapsed > 2e-3 or run.iterations > (1 << 40):
            break
        run.iterations *= 4
    run.iterations = max(1, <ptrdiff_t>(run.iterations * (seconds / 10) / elapsed))
    flops = <double>threads * run.iterations * PEAK_FLOPS_PER_LANE * lanes
    clock = time.thread_time if threads == 1 else time.perf_counter
    for _rep in range(10):
        start = clock()
        with nogil:
            parallel_for(_peak_task, &run, threads, 1, threads)
        elapsed = clock() - start
        best = max(best, flops / elapsed / 1e9)
    return best
