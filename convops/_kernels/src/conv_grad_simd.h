/* The filter gradient's SIMD micro-kernels (conv_grad_ukernel.h) for every element type and
 * instruction set, and the tables convops/_kernels/conv_grad.pyx calls them through. (The C
 * names say `dw` for the filter gradient.)
 *
 * Why C: the micro-kernels keep blocks of SIMD accumulators in registers, and Cython has no
 * vector types and no per-function target attribute. simd_instantiate.h compiles the body once
 * per (float, double) x (portable, AVX2, AVX-512), exactly as conv2d's (conv_simd.h); the caller
 * passes the instruction set conv2d's kernels use (convops/dispatch.py chooses it). */
#ifndef CONVOPS_DW_SIMD_H
#define CONVOPS_DW_SIMD_H
#include <stddef.h>

#include "simd_isa.h"

/* Filter-gradient rows per block for 1..4 vectors of output channels, per instruction set:
 * R x V accumulators plus V vectors of dy and one broadcast must fit the register file (32 vector
 * registers with AVX-512, 16 otherwise). The kernels take theirs at compile time, conv_grad.pyx
 * from the table. */
#define CONVOPS_BLOCKS_BASE 8, 6, 4, 3
#define CONVOPS_BLOCKS_AVX2 8, 6, 4, 3
#define CONVOPS_BLOCKS_AVX512 12, 12, 8, 6
static const int convops_dw_rows[CONVOPS_ISA_COUNT][4] = {
    {CONVOPS_BLOCKS_BASE}, {CONVOPS_BLOCKS_AVX2}, {CONVOPS_BLOCKS_AVX512}};

#define CONVOPS_BODY "conv_grad_ukernel.h"
#include "simd_instantiate.h"

typedef void (*convops_dw_f32)(int, int, const float*, const float*, float*, const ptrdiff_t*, ptrdiff_t,
                               ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*convops_dw_f64)(int, int, const double*, const double*, double*, const ptrdiff_t*, ptrdiff_t,
                               ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t);

CONVOPS_ISA_TABLE(convops_dw_f32, convops_dw_ukernels_f32, f32, dw_ukernel);
CONVOPS_ISA_TABLE(convops_dw_f64, convops_dw_ukernels_f64, f64, dw_ukernel);

/* The name conv_grad.pyx knows the one lanes function by. */
#define convops_dw_lanes convops_simd_lanes

static int convops_dw_block_rows(int isa, int v) { return convops_dw_rows[isa][v - 1]; }

#endif /* CONVOPS_DW_SIMD_H */
