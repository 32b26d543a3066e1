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

/* Output pixels per block for 1..4 vectors of channels, per instruction set: P x V accumulators
 * plus V weight vectors and one broadcast must fit the register file (32 vector registers with
 * AVX-512, 16 otherwise). The kernels take theirs at compile time, conv.pyx from the table. */
#define CONVOPS_BLOCKS_BASE 8, 6, 4, 3
#define CONVOPS_BLOCKS_AVX2 8, 6, 4, 3
#define CONVOPS_BLOCKS_AVX512 12, 12, 8, 6
static const int convops_pixels[CONVOPS_ISA_COUNT][4] = {
    {CONVOPS_BLOCKS_BASE}, {CONVOPS_BLOCKS_AVX2}, {CONVOPS_BLOCKS_AVX512}};

#define CONVOPS_BODY "conv_ukernel.h"
#include "simd_instantiate.h"

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

CONVOPS_ISA_TABLE(convops_ukernel_f32, convops_ukernels_f32, f32, ukernel);
CONVOPS_ISA_TABLE(convops_ukernel_f64, convops_ukernels_f64, f64, ukernel);
CONVOPS_ISA_TABLE(convops_image_f32, convops_images_f32, f32, image_rows);
CONVOPS_ISA_TABLE(convops_image_f64, convops_images_f64, f64, image_rows);

static int convops_simd_pixels(int isa, int v) { return convops_pixels[isa][v - 1]; }

#endif /* CONVOPS_CONV_SIMD_H */
