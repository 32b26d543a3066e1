/* The filter-gradient micro-kernels (see conv_grad_ukernel.h), compiled for several instruction
 * sets in one build exactly as conv2d's (conv_simd.h): the portable 16-byte build everywhere
 * GCC-compatible compilers are, plus AVX2+FMA and AVX-512 through function target attributes on
 * x86-64; the caller picks the instruction set (the one conv2d's kernels use, _conv_kernels.get_isa). */
#ifndef CONVOPS_DW_SIMD_H
#define CONVOPS_DW_SIMD_H
#include <stddef.h>
#include <string.h>

#include "simd_isa.h"

/* Filter-gradient rows per block for 1..4 vectors of output channels: R x V accumulators plus
 * V vectors of dy and one broadcast fit the register file (32 vector registers with AVX-512,
 * 16 otherwise). */
static const int convops_dw_rows[3][4] = {{8, 6, 4, 3}, {8, 6, 4, 3}, {12, 12, 8, 6}};

#if defined(__GNUC__)
#define UK_VBYTES 16
#define UK_TARGET
#define UK_R1 8
#define UK_R2 6
#define UK_R3 4
#define UK_R4 3
#define UK_T float
#define UK_NAME(x) convops_f32_base_##x
#include "conv_grad_ukernel.h"
#undef UK_T
#undef UK_NAME
#define UK_T double
#define UK_NAME(x) convops_f64_base_##x
#include "conv_grad_ukernel.h"
#undef UK_T
#undef UK_NAME
#undef UK_VBYTES
#undef UK_TARGET

#if CONVOPS_SIMD_X86
#define UK_VBYTES 32
#define UK_TARGET __attribute__((target("avx2,fma")))
#define UK_T float
#define UK_NAME(x) convops_f32_avx2_##x
#include "conv_grad_ukernel.h"
#undef UK_T
#undef UK_NAME
#define UK_T double
#define UK_NAME(x) convops_f64_avx2_##x
#include "conv_grad_ukernel.h"
#undef UK_T
#undef UK_NAME
#undef UK_VBYTES
#undef UK_TARGET
#undef UK_R1
#undef UK_R2
#undef UK_R3
#undef UK_R4

#define UK_VBYTES 64
#define UK_TARGET __attribute__((target("avx512f,avx2,fma")))
#define UK_R1 12
#define UK_R2 12
#define UK_R3 8
#define UK_R4 6
#define UK_T float
#define UK_NAME(x) convops_f32_avx512_##x
#include "conv_grad_ukernel.h"
#undef UK_T
#undef UK_NAME
#define UK_T double
#define UK_NAME(x) convops_f64_avx512_##x
#include "conv_grad_ukernel.h"
#undef UK_T
#undef UK_NAME
#undef UK_VBYTES
#undef UK_TARGET
#endif /* CONVOPS_SIMD_X86 */
#undef UK_R1
#undef UK_R2
#undef UK_R3
#undef UK_R4
#endif /* __GNUC__ */

typedef void (*convops_dw_f32)(int, int, const float*, const float*, float*, const ptrdiff_t*, ptrdiff_t,
                               ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*convops_dw_f64)(int, int, const double*, const double*, double*, const ptrdiff_t*, ptrdiff_t,
                               ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);

/* Function tables indexed by instruction set (NULL where this build lacks one). */
static convops_dw_f32 convops_dw_ukernels_f32[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_f32_base_dw_ukernel,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_f32_avx2_dw_ukernel, convops_f32_avx512_dw_ukernel
#else
    0, 0
#endif
};
static convops_dw_f64 convops_dw_ukernels_f64[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_f64_base_dw_ukernel,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_f64_avx2_dw_ukernel, convops_f64_avx512_dw_ukernel
#else
    0, 0
#endif
};

static ptrdiff_t convops_dw_lanes(int isa, ptrdiff_t itemsize)
{
    return (isa == CONVOPS_ISA_AVX512 ? 64 : isa == CONVOPS_ISA_AVX2 ? 32 : 16) / itemsize;
}

static int convops_dw_block_rows(int isa, int v) { return convops_dw_rows[isa][v - 1]; }

#endif /* CONVOPS_DW_SIMD_H */
