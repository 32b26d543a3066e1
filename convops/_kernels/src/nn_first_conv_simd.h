/* A model's first Conv2D under a MaxPooling2D: the filter and bias gradients straight from the
 * pool's gradient (nn_first_conv_ukernel.h) for every element type and instruction set, and the
 * tables convops/_kernels/nn.pyx calls them through.
 *
 * Why C: the kernel keeps a cell's masked gradients in SIMD vectors, and Cython has no vector
 * types and no per-function target attribute; simd_instantiate.h compiles the body once per
 * (float, double) x (portable, AVX2, AVX-512). nn is compiled with -ffp-contract=off, so every
 * copy does the same multiplications and additions in the same order: the same bits. */
#ifndef CONVOPS_NN_FIRST_CONV_SIMD_H
#define CONVOPS_NN_FIRST_CONV_SIMD_H
#include <stddef.h>

#include "simd_isa.h"
#if CONVOPS_SIMD_X86
#include <immintrin.h> /* the AVX2 widening of the codes in nn_first_conv_ukernel.h */
#endif

/* The shapes, as nn.pyx's first_conv_grads_from_max_pool documents them. */
typedef struct {
    ptrdiff_t height, width, c_in;                      /* x: N x height x width x c_in */
    ptrdiff_t kh, kw, sh, sw, dh, dw, pad_top, pad_left; /* the convolution */
    ptrdiff_t conv_h, conv_w;                           /* its output: the pool's input */
    ptrdiff_t pool_h, pool_w, c_out;                    /* dy, pooled, codes: N x pool_h x pool_w x c_out */
    ptrdiff_t pkh, pkw, psh, psw, ptop, pleft;           /* the pool (pkh * pkw <= 4) */
    int relu;
} convops_first_conv_plan;

#define CONVOPS_BODY "nn_first_conv_ukernel.h"
#include "simd_instantiate.h"

typedef void (*convops_first_conv_f32)(const float*, const float*, const float*, const unsigned char*, float*,
                                       double*, ptrdiff_t, ptrdiff_t, const convops_first_conv_plan*);
typedef void (*convops_first_conv_f64)(const double*, const double*, const double*, const unsigned char*, double*,
                                       double*, ptrdiff_t, ptrdiff_t, const convops_first_conv_plan*);

CONVOPS_ISA_TABLE(convops_first_conv_f32, convops_first_convs_f32, f32, first_conv_grads);
CONVOPS_ISA_TABLE(convops_first_conv_f64, convops_first_convs_f64, f64, first_conv_grads);

#endif /* CONVOPS_NN_FIRST_CONV_SIMD_H */
