/* Which SIMD instruction sets convops' kernels were compiled for and the CPU runs. */
#ifndef CONVOPS_SIMD_ISA_H
#define CONVOPS_SIMD_ISA_H
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CONVOPS_SIMD_X86 1
#else
#define CONVOPS_SIMD_X86 0
#endif

#define CONVOPS_ISA_BASE 0
#define CONVOPS_ISA_AVX2 1
#define CONVOPS_ISA_AVX512 2

#if defined(__GNUC__)
#define CONVOPS_SIMD_AVAILABLE 1
#else
#define CONVOPS_SIMD_AVAILABLE 0
#endif

/* Whether this build has instruction set `isa` and this CPU (and OS) runs it. */
static int convops_simd_supported(int isa)
{
    if (isa == CONVOPS_ISA_BASE)
        return CONVOPS_SIMD_AVAILABLE;
#if CONVOPS_SIMD_X86
    __builtin_cpu_init();
    if (isa == CONVOPS_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == CONVOPS_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return 0;
}

#endif
