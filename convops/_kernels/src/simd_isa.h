/* Which SIMD instruction sets convops' kernels were compiled for and the CPU runs, and how wide
 * their vectors are.
 *
 * Why C: the SIMD kernels are C (Cython has no vector types and no per-function target
 * attribute), and this is what the Cython modules ask about them. The extension is built for
 * the baseline of its platform (x86-64 = SSE2, no -march=native); on x86-64 with GCC or clang
 * simd_instantiate.h compiles each kernel again for AVX2+FMA and for AVX-512 through function
 * target attributes. The caller (convops/dispatch.py) chooses one of the sets this file reports
 * as supported. So one binary is safe everywhere and fast where it can be. Elsewhere (arm64,
 * MinGW's GCC) only the portable build exists: GCC's generic vectors of 16 bytes lower to SSE2
 * or NEON. Compilers without GCC's vector extension and target attributes (MSVC, clang-cl: they
 * do not define __GNUC__) get no C SIMD kernels at all: convops.dispatch then runs the Cython
 * kernels, which compute the same numbers (the tests compare the two bit for bit).
 *
 * Why not AVX on MinGW's GCC: the Windows x64 ABI keeps the stack 16-byte aligned and GCC
 * there never realigns it, yet spills 32- and 64-byte vectors with aligned moves, which fault
 * at random (GCC bug 54412, open for a decade; zlib-ng and aws-c-common turn AVX off there too).
 * clang realigns the stack, so clang-based MinGW toolchains keep the AVX copies. */
#ifndef CONVOPS_SIMD_ISA_H
#define CONVOPS_SIMD_ISA_H
#include <stddef.h>

/* C99's `restrict` (no two pointers reach the same memory: the compiler may vectorise); MSVC's
 * C spells it __restrict. */
#if defined(_MSC_VER)
#define CONVOPS_RESTRICT __restrict
#else
#define CONVOPS_RESTRICT restrict
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !(defined(_WIN32) && !defined(__clang__))
#define CONVOPS_SIMD_X86 1
#else
#define CONVOPS_SIMD_X86 0
#endif

/* A test build (setup.py's CONVOPS_AVX512_ON_AVX2=1, scripts/avx512_on_avx2.sh): the AVX-512
 * copies are compiled for AVX2+FMA (GCC splits each 64-byte vector operation into two 32-byte
 * ones, each multiply-add still one FMA: the same roundings) and reported as supported wherever
 * AVX2+FMA runs. Their logic -- 16 float lanes per vector, the AVX-512 block tables, the tails --
 * then runs and is tested on CPUs without AVX-512, which the shipped build cannot do. */
#ifndef CONVOPS_EMULATE_AVX512
#define CONVOPS_EMULATE_AVX512 0
#endif

#define CONVOPS_ISA_BASE 0
#define CONVOPS_ISA_AVX2 1
#define CONVOPS_ISA_AVX512 2
#define CONVOPS_ISA_COUNT 3

#if defined(__GNUC__)
#define CONVOPS_SIMD_AVAILABLE 1
#else
#define CONVOPS_SIMD_AVAILABLE 0
#endif

/* Marks the helpers below: some modules call only some of them (pool.pyx never asks for lanes,
 * conv_grad.pyx never asks what is supported). Not `inline`: that changes how the compiler
 * inlines into conv.pyx's callers. */
#if defined(__GNUC__)
#define CONVOPS_MAYBE_UNUSED __attribute__((unused))
#else
#define CONVOPS_MAYBE_UNUSED
#endif

/* Whether this build has instruction set `isa` and this CPU (and OS) runs it. */
static CONVOPS_MAYBE_UNUSED int convops_simd_supported(int isa)
{
    if (isa == CONVOPS_ISA_BASE)
        return CONVOPS_SIMD_AVAILABLE;
#if CONVOPS_SIMD_X86
    __builtin_cpu_init();
    if (isa == CONVOPS_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == CONVOPS_ISA_AVX512)
        return (CONVOPS_EMULATE_AVX512 || __builtin_cpu_supports("avx512f")) && __builtin_cpu_supports("avx2")
               && __builtin_cpu_supports("fma");
#endif
    return 0;
}

/* Lanes of one vector of `itemsize`-byte elements for an instruction set. */
static CONVOPS_MAYBE_UNUSED ptrdiff_t convops_simd_lanes(int isa, ptrdiff_t itemsize)
{
    return (isa == CONVOPS_ISA_AVX512 ? 64 : isa == CONVOPS_ISA_AVX2 ? 32 : 16) / itemsize;
}

/* Whether `channel_bytes` of channels leave fewer lanes idle in 32-byte vectors than in
 * 64-byte ones: they fill their last 64-byte vector by half or less. */
static CONVOPS_MAYBE_UNUSED int convops_avx2_fewer_idle(ptrdiff_t channel_bytes)
{
    return channel_bytes > 0 && (channel_bytes % 64 == 0 ? 0 : channel_bytes % 64 <= 32);
}

/* The instruction set of a register-blocked conv kernel (conv2d's direct kernel -- the forward
 * convolution and the input gradient, which is that kernel on flipped filters -- or the filter
 * gradient's) when convops chooses it: `isa`, the widest, except AVX2 in place of AVX-512 where
 * a group's output channels (`channel_bytes` of them) leave fewer lanes idle in AVX2's 32-byte
 * vectors than in AVX-512's 64-byte ones (the channels fill a last AVX-512 vector by half or
 * less), and either
 * - they fit one AVX2 vector (`channel_bytes` <= 32: float32 up to 8 channels, float64 up to
 *   4): one vector wide in either set, AVX-512 would leave half its lanes or more idle. Where
 *   512-bit operations run as two 256-bit halves (AMD Zen 4) AVX2 is 1.3-1.6x faster; cores
 *   with two 512-bit FMA units (Intel Xeon) issue as many 256-bit FMAs per cycle, so the same
 *   work takes the same cycles; or
 * - `avx512_halves`: this CPU runs a 512-bit FMA as two 256-bit halves (simd.pyx measures it
 *   once), so the cost is the 256-bit halves a block spends, and AVX2 spends fewer: float32
 *   17..24 channels take three AVX2 vectors against two AVX-512 ones, four halves (Zen 4, 1 and
 *   2 threads, 16x30x30 images, 3x3: AVX2 1.3x faster for 24 channels in all three kernels,
 *   float64 12 channels alike). Where the FMAs are whole (Intel) AVX-512's two vectors should
 *   take fewer cycles than AVX2's three; not measured there yet, so such cores keep AVX-512.
 * Elsewhere AVX-512 needs as many halves as AVX2 and fewer instructions, with twice the
 * registers: 9..16 float32 channels tie forward on Zen 4 and the filter gradient runs 1.1-1.25x
 * faster. `python -m benchmarks.isa_rule` measures every case on the CPU it runs on
 * (benchmarks/results/isa-rule.json). The multiply-adds and their order are the same in every
 * set, so are the bits (tests/test_autotune.py, tests/test_conv_kernels.py). */
static CONVOPS_MAYBE_UNUSED int convops_block_isa(int isa, ptrdiff_t channel_bytes, int avx512_halves)
{
    if (isa == CONVOPS_ISA_AVX512 && convops_avx2_fewer_idle(channel_bytes)
        && (channel_bytes <= 32 || avx512_halves))
        return CONVOPS_ISA_AVX2;
    return isa;
}

#endif /* CONVOPS_SIMD_ISA_H */
