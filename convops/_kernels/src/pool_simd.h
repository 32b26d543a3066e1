/* The float pooling kernels (pool_ukernel.h) for every element type and instruction set, and the
 * tables convops/_kernels/pool.pyx calls them through.
 *
 * Why C: the kernels keep blocks of SIMD vectors in registers, and Cython has no vector types and
 * no per-function target attribute. simd_instantiate.h compiles the body once per (float,
 * double) x (portable, AVX2, AVX-512), as for conv2d (conv_simd.h); the instruction set is chosen
 * by the caller (convops/dispatch.py) among those convops_simd_supported (simd_isa.h) reports. */
#ifndef CONVOPS_POOL_SIMD_H
#define CONVOPS_POOL_SIMD_H
#include <stddef.h>
#include <stdint.h>

#include "simd_isa.h"
#if CONVOPS_SIMD_X86
#include <immintrin.h>   /* the max and streaming-store instructions pool_ukernel.h names */
#endif

#define CONVOPS_BODY "pool_ukernel.h"
#include "simd_instantiate.h"

typedef void (*convops_pool_f32)(int, const float*, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, int, float, int,
                                 ptrdiff_t, ptrdiff_t);
typedef void (*convops_pool_f64)(int, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, int,
                                 double, int, ptrdiff_t, ptrdiff_t);

CONVOPS_ISA_TABLE(convops_pool_f32, convops_pools_f32, f32, pool_rows);
CONVOPS_ISA_TABLE(convops_pool_f64, convops_pools_f64, f64, pool_rows);

#endif /* CONVOPS_POOL_SIMD_H */
