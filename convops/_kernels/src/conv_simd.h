/* conv2d's SIMD micro-kernels (conv_ukernel.h) for every element type and instruction set, and
 * the tables convops/_kernels/conv.pyx calls them through.
 *
 * Why C: the micro-kernels keep blocks of SIMD accumulators in registers, and Cython has no
 * vector types and no per-function target attribute. simd_instantiate.h compiles the body once
 * per (float, double) x (portable, AVX2, AVX-512); the instruction set is chosen by the caller
 * (convops/dispatch.py) among those convops_simd_supported (simd_isa.h) reports. */
#ifndef CONVOPS_CONV_SIMD_H
#define CONVOPS_CONV_SIMD_H
#include <stddef.h>

#include "simd_isa.h"
#if CONVOPS_SIMD_X86
#include <immintrin.h>   /* AVX-512's masked loads and stores for partial vectors (conv_ukernel.h) */
#endif

/* Output pixels per block for 1..4 vectors of channels, per instruction set: P x V accumulators
 * plus min(P, V) weight vectors or broadcasts and one more must fit the register file (32 vector
 * registers with AVX-512, 16 otherwise; conv_ukernel.h). Two choices per width, both compiled:
 * CONVOPS_BLOCKS_<set> is the default, CONVOPS_ALT_BLOCKS_<vector bytes> the other one that
 * convops/_autotune.py may pick when it is faster on this CPU (results are identical).
 *
 * The AVX2 V = 4 block (3 x 4 = 12 accumulators + 4 weights + 1 broadcast = 17 registers) ran
 * at 17 GFLOP/s where AVX-512 ran at 100 on the same Zen 4 core (8x56x56x64->64): GCC 12 had
 * not unrolled the loop over v, so the accumulators and weights lived on the stack. The loops
 * are now unrolled and that block holds 3 broadcasts instead of 4 weights (16 registers). */
#define CONVOPS_BLOCKS_BASE 8, 6, 4, 3
#define CONVOPS_BLOCKS_AVX2 8, 6, 4, 3
#define CONVOPS_BLOCKS_AVX512 12, 12, 8, 6
#define CONVOPS_ALT_BLOCKS_16 12, 4, 3, 2
#define CONVOPS_ALT_BLOCKS_32 12, 4, 3, 2
#define CONVOPS_ALT_BLOCKS_64 16, 14, 9, 4
static const int convops_pixels[CONVOPS_ISA_COUNT][2][4] = {
    {{CONVOPS_BLOCKS_BASE}, {CONVOPS_ALT_BLOCKS_16}},
    {{CONVOPS_BLOCKS_AVX2}, {CONVOPS_ALT_BLOCKS_32}},
    {{CONVOPS_BLOCKS_AVX512}, {CONVOPS_ALT_BLOCKS_64}}};

#define CONVOPS_BODY "conv_ukernel.h"
#include "simd_instantiate.h"

typedef void (*convops_ukernel_f32)(int, int, const float* const*, float* const*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, const float*, int);
typedef void (*convops_ukernel_f64)(int, int, const double* const*, double* const*, const double*, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                    const double*, int);
typedef void (*convops_run_f32)(int, int, const float*, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, const float*,
                                ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                ptrdiff_t, const float*, int);
typedef void (*convops_run_f64)(int, int, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, const double*,
                                ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                ptrdiff_t, const double*, int);
typedef void (*convops_image_f32)(const float*, float*, const float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t);
typedef void (*convops_image_f64)(const double*, double*, const double*, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                  ptrdiff_t, ptrdiff_t, ptrdiff_t);

CONVOPS_ISA_TABLE(convops_ukernel_f32, convops_ukernels_f32, f32, ukernel);
CONVOPS_ISA_TABLE(convops_ukernel_f64, convops_ukernels_f64, f64, ukernel);
CONVOPS_ISA_TABLE(convops_run_f32, convops_runs_f32, f32, ukernel_run);
CONVOPS_ISA_TABLE(convops_run_f64, convops_runs_f64, f64, ukernel_run);
CONVOPS_ISA_TABLE(convops_image_f32, convops_images_f32, f32, image_rows);
CONVOPS_ISA_TABLE(convops_image_f64, convops_images_f64, f64, image_rows);

/* Pixels per block of v vectors in instruction set isa, choice 0 (default) or 1. */
static int convops_simd_pixels(int isa, int v, int choice) { return convops_pixels[isa][choice][v - 1]; }

#undef CONVOPS_ALT_BLOCKS_16
#undef CONVOPS_ALT_BLOCKS_32
#undef CONVOPS_ALT_BLOCKS_64

#endif /* CONVOPS_CONV_SIMD_H */
