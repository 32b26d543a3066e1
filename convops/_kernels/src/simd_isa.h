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

/* The instruction set of a register-blocked conv kernel (conv2d's direct kernel -- the forward
 * convolution and the input gradient, which is that kernel on flipped filters -- or the filter
 * gradient's) when convops chooses it: `isa`, the widest, except AVX2 in place of AVX-512 when a
 * group's output channels fit one 32-byte vector (`channel_bytes` <= 32: float32 up to 8
 * channels, float64 up to 4). Such a block is one vector wide in either set and AVX-512 would
 * leave half its lanes or more idle. Where 512-bit operations run as two 256-bit halves (AMD
 * Zen 4) AVX2 is 1.3-1.6x faster (64x28x28x32 -> 2..8, 3x3, float32 and float64, forward and
 * both gradients, 1 thread); cores with two 512-bit FMA units (Intel Xeon) issue as many 256-bit
 * FMAs per cycle, so the same work takes the same cycles.
 *
 * From 33 bytes AVX-512 needs half the multiply-adds of AVX2 (9..16 float32 channels: one vector
 * against two), which pays where its FMAs are whole (Intel) and costs little where they are not:
 * Zen 4, 64x30x30x32 -> 9..16 channels, 3x3, 1 thread, forward: AVX2 4.6-4.8 ms, AVX-512
 * 4.9-5.1 (16, whole vectors in both: 4.6-4.8 vs 4.9-5.0), input gradient a tie.
 * The multiply-adds and their order are the same in every set, so are the bits
 * (tests/test_autotune.py, tests/test_conv_kernels.py). */
static CONVOPS_MAYBE_UNUSED int convops_block_isa(int isa, ptrdiff_t channel_bytes)
{
    if (isa == CONVOPS_ISA_AVX512 && channel_bytes <= 32)
        return CONVOPS_ISA_AVX2;
    return isa;
}

#endif /* CONVOPS_SIMD_ISA_H */
