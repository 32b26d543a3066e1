/* convops' SIMD convolution micro-kernels, compiled for several instruction sets in one build.
 *
 * The extension is built for the baseline of its platform (x86-64 = SSE2): no -march=native.
 * On x86-64 with GCC or clang the same source is compiled twice more, for AVX2+FMA and for
 * AVX-512, through function target attributes, and convops_simd_best() picks the widest set
 * the running CPU (and OS) supports. So one binary is safe everywhere and fast where it can be.
 * Elsewhere (other compilers, arm64) only the portable build exists: GCC's generic vectors of
 * 16 bytes lower to SSE2 or NEON.
 */
#ifndef CONVOPS_CONV_SIMD_H
#define CONVOPS_CONV_SIMD_H
#include <stddef.h>
#include <string.h>

#include "simd_isa.h"

/* Output pixels per block for 1..4 vectors of channels: P x V accumulators plus V weight
 * vectors and one broadcast must fit the register file (32 vector registers with AVX-512,
 * 16 otherwise). */
static const int convops_pixels[3][4] = {{8, 6, 4, 3}, {8, 6, 4, 3}, {12, 12, 8, 6}};

#if defined(__GNUC__)
/* ---- portable: 16-byte generic vectors -------------------------------------------------- */
#define UK_VBYTES 16
#define UK_TARGET
#define UK_P1 8
#define UK_P2 6
#define UK_P3 4
#define UK_P4 3
#define UK_T float
#define UK_NAME(x) convops_f32_base_##x
#include "conv_ukernel.h"
#undef UK_T
#undef UK_NAME
#define UK_T double
#define UK_NAME(x) convops_f64_base_##x
#include "conv_ukernel.h"
#undef UK_T
#undef UK_NAME
#undef UK_VBYTES
#undef UK_TARGET

#if CONVOPS_SIMD_X86
/* ---- AVX2 + FMA: 32-byte vectors ---------------------------------------------------------- */
#define UK_VBYTES 32
#define UK_TARGET __attribute__((target("avx2,fma")))
#define UK_T float
#define UK_NAME(x) convops_f32_avx2_##x
#include "conv_ukernel.h"
#undef UK_T
#undef UK_NAME
#define UK_T double
#define UK_NAME(x) convops_f64_avx2_##x
#include "conv_ukernel.h"
#undef UK_T
#undef UK_NAME
#undef UK_VBYTES
#undef UK_TARGET
#undef UK_P1
#undef UK_P2
#undef UK_P3
#undef UK_P4

/* ---- AVX-512F: 64-byte vectors, 32 registers ---------------------------------------------- */
#define UK_VBYTES 64
#define UK_TARGET __attribute__((target("avx512f,avx2,fma")))
#define UK_P1 12
#define UK_P2 12
#define UK_P3 8
#define UK_P4 6
#define UK_T float
#define UK_NAME(x) convops_f32_avx512_##x
#include "conv_ukernel.h"
#undef UK_T
#undef UK_NAME
#define UK_T double
#define UK_NAME(x) convops_f64_avx512_##x
#include "conv_ukernel.h"
#undef UK_T
#undef UK_NAME
#undef UK_VBYTES
#undef UK_TARGET
#endif /* CONVOPS_SIMD_X86 */
#undef UK_P1
#undef UK_P2
#undef UK_P3
#undef UK_P4
#endif /* __GNUC__ */

typedef void (*convops_ukernel_f32)(int, const float* const*, float* const*, const float*, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*convops_ukernel_f64)(int, const double* const*, double* const*, const double*, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*convops_image_f32)(const float*, float*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t);
typedef void (*convops_image_f64)(const double*, double*, const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t, ptrdiff_t);

/* Function tables indexed by instruction set (NULL where this build lacks one). */
static convops_ukernel_f32 convops_ukernels_f32[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_f32_base_ukernel,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_f32_avx2_ukernel, convops_f32_avx512_ukernel
#else
    0, 0
#endif
};
static convops_ukernel_f64 convops_ukernels_f64[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_f64_base_ukernel,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_f64_avx2_ukernel, convops_f64_avx512_ukernel
#else
    0, 0
#endif
};
static convops_image_f32 convops_images_f32[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_f32_base_image_rows,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_f32_avx2_image_rows, convops_f32_avx512_image_rows
#else
    0, 0
#endif
};
static convops_image_f64 convops_images_f64[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_f64_base_image_rows,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_f64_avx2_image_rows, convops_f64_avx512_image_rows
#else
    0, 0
#endif
};

/* Lanes of one vector of `itemsize`-byte elements for an instruction set. */
static ptrdiff_t convops_simd_lanes(int isa, ptrdiff_t itemsize)
{
    return (isa == CONVOPS_ISA_AVX512 ? 64 : isa == CONVOPS_ISA_AVX2 ? 32 : 16) / itemsize;
}

static int convops_simd_pixels(int isa, int v) { return convops_pixels[isa][v - 1]; }

#endif /* CONVOPS_CONV_SIMD_H */
