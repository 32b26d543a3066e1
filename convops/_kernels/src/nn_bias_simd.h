/* The bias + ReLU backward kernel (nn_bias_ukernel.h) for every element type and instruction set,
 * and the tables convops/_kernels/nn.pyx calls it through.
 *
 * Why C: the kernel keeps a block of sums in SIMD registers, and Cython has no vector types and no
 * per-function target attribute; simd_instantiate.h compiles the body once per (float, double) x
 * (portable, AVX2, AVX-512), as for the pools (pool_simd.h). The instruction set is chosen by the
 * caller (convops/pooling.py's _float_isa, which convops.dispatch.force sets). */
#ifndef CONVOPS_NN_BIAS_SIMD_H
#define CONVOPS_NN_BIAS_SIMD_H
#include <stddef.h>

#include "simd_isa.h"

#define CONVOPS_BODY "nn_bias_ukernel.h"
#include "simd_instantiate.h"

typedef void (*convops_bias_bwd_f32)(float*, const float*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, int);
typedef void (*convops_bias_bwd_f64)(double*, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, int);

CONVOPS_ISA_TABLE(convops_bias_bwd_f32, convops_bias_bwds_f32, f32, bias_relu_backward);
CONVOPS_ISA_TABLE(convops_bias_bwd_f64, convops_bias_bwds_f64, f64, bias_relu_backward);

#endif /* CONVOPS_NN_BIAS_SIMD_H */
