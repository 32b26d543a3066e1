/* convops' float pooling kernels for several instruction sets (see conv_simd.h for the scheme:
 * baseline build, AVX2 and AVX-512 copies through target attributes, chosen at run time). */
#ifndef CONVOPS_POOL_SIMD_H
#define CONVOPS_POOL_SIMD_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "simd_isa.h"
#if CONVOPS_SIMD_X86
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define PK_VBYTES 16
#define PK_TARGET
#if CONVOPS_SIMD_X86
#define PK_MAXV _mm_max_ps
#endif
#define PK_T float
#define PK_I int32_t
#define PK_NAME(x) convops_pf32_base_##x
#include "pool_ukernel.h"
#undef PK_T
#undef PK_I
#undef PK_NAME
#undef PK_MAXV
#if CONVOPS_SIMD_X86
#define PK_MAXV _mm_max_pd
#endif
#define PK_T double
#define PK_I int64_t
#define PK_NAME(x) convops_pf64_base_##x
#include "pool_ukernel.h"
#undef PK_T
#undef PK_I
#undef PK_NAME
#undef PK_VBYTES
#undef PK_TARGET
#if CONVOPS_SIMD_X86
#define PK_VBYTES 32
#define PK_TARGET __attribute__((target("avx2,fma")))
#undef PK_MAXV
#define PK_MAXV _mm256_max_ps
#define PK_T float
#define PK_I int32_t
#define PK_NAME(x) convops_pf32_avx2_##x
#include "pool_ukernel.h"
#undef PK_T
#undef PK_I
#undef PK_NAME
#undef PK_MAXV
#define PK_MAXV _mm256_max_pd
#define PK_T double
#define PK_I int64_t
#define PK_NAME(x) convops_pf64_avx2_##x
#include "pool_ukernel.h"
#undef PK_T
#undef PK_I
#undef PK_NAME
#undef PK_VBYTES
#undef PK_TARGET
#define PK_VBYTES 64
#define PK_TARGET __attribute__((target("avx512f,avx2,fma")))
#undef PK_MAXV
#define PK_MAXV _mm512_max_ps
#define PK_T float
#define PK_I int32_t
#define PK_NAME(x) convops_pf32_avx512_##x
#include "pool_ukernel.h"
#undef PK_T
#undef PK_I
#undef PK_NAME
#undef PK_MAXV
#define PK_MAXV _mm512_max_pd
#define PK_T double
#define PK_I int64_t
#define PK_NAME(x) convops_pf64_avx512_##x
#include "pool_ukernel.h"
#undef PK_T
#undef PK_I
#undef PK_NAME
#undef PK_VBYTES
#undef PK_TARGET
#endif
#undef PK_MAXV
#endif

typedef void (*convops_pool_f32)(int, const float*, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, int, float, int,
                                 ptrdiff_t, ptrdiff_t);
typedef void (*convops_pool_f64)(int, const double*, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, int,
                                 double, int, ptrdiff_t, ptrdiff_t);
static convops_pool_f32 convops_pools_f32[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_pf32_base_pool_rows,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_pf32_avx2_pool_rows, convops_pf32_avx512_pool_rows
#else
    0, 0
#endif
};
static convops_pool_f64 convops_pools_f64[3] = {
#if CONVOPS_SIMD_AVAILABLE
    convops_pf64_base_pool_rows,
#else
    0,
#endif
#if CONVOPS_SIMD_X86
    convops_pf64_avx2_pool_rows, convops_pf64_avx512_pool_rows
#else
    0, 0
#endif
};
#endif
