/* MaxPooling2D's training pass for 2x2 windows (nn_pool_ukernel.h) for every element type and
 * instruction set, and the tables convops/_kernels/nn.pyx calls them through.
 *
 * Why C: the loops keep the window's running values in SIMD vectors, and Cython has no vector
 * types and no per-function target attribute; simd_instantiate.h compiles the body once per
 * (float, double) x (portable, AVX2, AVX-512), as for the pools (pool_simd.h). The instruction set
 * is chosen by the caller (convops/pooling.py's _float_isa, which convops.dispatch.force sets). */
#ifndef CONVOPS_NN_POOL_SIMD_H
#define CONVOPS_NN_POOL_SIMD_H
#include <stddef.h>
#include <stdint.h>

#include "simd_isa.h"
#if CONVOPS_SIMD_X86
#include <immintrin.h>   /* the AVX2 packs nn_pool_ukernel.h narrows the codes with */
#endif

#define CONVOPS_BODY "nn_pool_ukernel.h"
#include "simd_instantiate.h"

typedef void (*convops_pool2x2_f32)(const float*, ptrdiff_t, float*, unsigned char*, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, float);
typedef void (*convops_pool2x2_f64)(const double*, ptrdiff_t, double*, unsigned char*, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, double);

CONVOPS_ISA_TABLE(convops_pool2x2_f32, convops_pool2x2s_f32, f32, max_pool_2x2_codes);
CONVOPS_ISA_TABLE(convops_pool2x2_f64, convops_pool2x2s_f64, f64, max_pool_2x2_codes);

#endif /* CONVOPS_NN_POOL_SIMD_H */
