/* Winograd F(2, 3) and F(4, 3) 1-D transforms over vectors of channels (winograd.pyx), and the
 * one-pass finiteness and magnitude scan that decides whether "auto" may run them.
 *
 * Each function applies one transform matrix (B^T or A^T of convops/_winograd.py) to `alpha`
 * source vectors spaced `ss` apart, writing `alpha` (or m) destination vectors spaced `ds` apart,
 * each of `n` channels. In C rather than Cython for two reasons Cython cannot express: `restrict`
 * (one pointer per row, so that GCC vectorises over channels without alias checks; the Cython
 * loops stayed scalar) and float literals (Cython writes `4 * s` as `4.0 * s`, computing float32
 * transforms in double). Plain C99, no intrinsics: the compiler vectorises the loops for each
 * instruction set's copy (per-function target attributes, below).
 * Sources and destinations never overlap (the callers read one buffer and write another).
 */
#ifndef CONVOPS_WINOGRAD_H
#define CONVOPS_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simd_isa.h"

#define CONVOPS_WINOGRAD_TRANSFORMS(T, SUFFIX, ATTR)                                                   \
    ATTR static void convops_bt2_rows_##SUFFIX(const T* CONVOPS_RESTRICT s0, const T* CONVOPS_RESTRICT s1, \
                                          const T* CONVOPS_RESTRICT s2, const T* CONVOPS_RESTRICT s3,   \
                                          T* CONVOPS_RESTRICT d0, T* CONVOPS_RESTRICT d1,               \
                                          T* CONVOPS_RESTRICT d2, T* CONVOPS_RESTRICT d3, ptrdiff_t n)  \
    {                                                                                                  \
        /* B^T rows (1 0 -1 0), (0 1 1 0), (0 -1 1 0), (0 1 0 -1) */                                   \
        for (ptrdiff_t c = 0; c < n; c++) {                                                            \
            d0[c] = s0[c] - s2[c];                                                                     \
            d1[c] = s1[c] + s2[c];                                                                     \
            d2[c] = s2[c] - s1[c];                                                                     \
            d3[c] = s1[c] - s3[c];                                                                     \
        }                                                                                              \
    }                                                                                                  \
    ATTR static void convops_bt4_rows_##SUFFIX(const T* CONVOPS_RESTRICT s0, const T* CONVOPS_RESTRICT s1, \
                                          const T* CONVOPS_RESTRICT s2, const T* CONVOPS_RESTRICT s3,   \
                                          const T* CONVOPS_RESTRICT s4, const T* CONVOPS_RESTRICT s5,   \
                                          T* CONVOPS_RESTRICT d0, T* CONVOPS_RESTRICT d1,               \
                                          T* CONVOPS_RESTRICT d2, T* CONVOPS_RESTRICT d3,               \
                                          T* CONVOPS_RESTRICT d4, T* CONVOPS_RESTRICT d5, ptrdiff_t n)  \
    {                                                                                                  \
        /* B^T of F(4, 3), points 0, 1, -1, 2, -2, infinity; common sums shared between rows */       \
        for (ptrdiff_t c = 0; c < n; c++) {                                                            \
            T a = s4[c] - s2[c], b = s3[c] - s1[c], p = s3[c] + s4[c], q = s1[c] + s2[c];              \
            d0[c] = ((T)4 * s0[c] - (T)5 * s2[c]) + s4[c];                                             \
            d1[c] = p - (T)4 * q;                                                                      \
            d2[c] = (T)4 * (s1[c] - s2[c]) + (s4[c] - s3[c]);                                          \
            d3[c] = (T)2 * b + a;                                                                      \
            d4[c] = a - (T)2 * b;                                                                      \
            d5[c] = ((T)4 * s1[c] - (T)5 * s3[c]) + s5[c];                                             \
        }                                                                                              \
    }                                                                                                  \
    ATTR static void convops_at2_rows_##SUFFIX(const T* CONVOPS_RESTRICT s0, const T* CONVOPS_RESTRICT s1, \
                                          const T* CONVOPS_RESTRICT s2, const T* CONVOPS_RESTRICT s3,   \
                                          T* CONVOPS_RESTRICT d0, T* CONVOPS_RESTRICT d1, ptrdiff_t n)  \
    {                                                                                                  \
        /* A^T rows (1 1 1 0), (0 1 -1 -1) */                                                          \
        for (ptrdiff_t c = 0; c < n; c++) {                                                            \
            d0[c] = (s0[c] + s1[c]) + s2[c];                                                           \
            d1[c] = (s1[c] - s2[c]) - s3[c];                                                           \
        }                                                                                              \
    }                                                                                                  \
    ATTR static void convops_at4_rows_##SUFFIX(const T* CONVOPS_RESTRICT s0, const T* CONVOPS_RESTRICT s1, \
                                          const T* CONVOPS_RESTRICT s2, const T* CONVOPS_RESTRICT s3,   \
                                          const T* CONVOPS_RESTRICT s4, const T* CONVOPS_RESTRICT s5,   \
                                          T* CONVOPS_RESTRICT d0, T* CONVOPS_RESTRICT d1,               \
                                          T* CONVOPS_RESTRICT d2, T* CONVOPS_RESTRICT d3, ptrdiff_t n)  \
    {                                                                                                  \
        /* A^T row r is (0^r, 1, (-1)^r, 2^r, (-2)^r, [r == 3]) */                                     \
        for (ptrdiff_t c = 0; c < n; c++) {                                                            \
            T p12 = s1[c] + s2[c], m12 = s1[c] - s2[c], p34 = s3[c] + s4[c], m34 = s3[c] - s4[c];      \
            d0[c] = (s0[c] + p12) + p34;                                                               \
            d1[c] = m12 + (T)2 * m34;                                                                  \
            d2[c] = p12 + (T)4 * p34;                                                                  \
            d3[c] = (m12 + (T)8 * m34) + s5[c];                                                        \
        }                                                                                              \
    }                                                                                                  \
    /* Strided entry points: the row pointers of one transform. */                                     \
    ATTR static void convops_winograd_in_##SUFFIX(int tile, const T* s, ptrdiff_t ss, T* d, ptrdiff_t ds, \
                                                    ptrdiff_t n)                                       \
    {                                                                                                  \
        if (tile == 2)                                                                                 \
            convops_bt2_rows_##SUFFIX(s, s + ss, s + 2 * ss, s + 3 * ss, d, d + ds, d + 2 * ds, d + 3 * ds, n);  \
        else                                                                                           \
            convops_bt4_rows_##SUFFIX(s, s + ss, s + 2 * ss, s + 3 * ss, s + 4 * ss, s + 5 * ss, d, d + ds,  \
                                      d + 2 * ds, d + 3 * ds, d + 4 * ds, d + 5 * ds, n);               \
    }                                                                                                  \
    ATTR static void convops_winograd_out_##SUFFIX(int tile, const T* s, ptrdiff_t ss, T* d, ptrdiff_t ds, \
                                                     ptrdiff_t n)                                      \
    {                                                                                                  \
        if (tile == 2)                                                                                 \
            convops_at2_rows_##SUFFIX(s, s + ss, s + 2 * ss, s + 3 * ss, d, d + ds, n);                \
        else                                                                                           \
            convops_at4_rows_##SUFFIX(s, s + ss, s + 2 * ss, s + 3 * ss, s + 4 * ss, s + 5 * ss, d, d + ds,  \
                                      d + 2 * ds, d + 3 * ds, n);                                      \
    }

/* One copy per instruction set, as the other kernel families have (simd_instantiate.h), each the
 * same loops vectorised for that set's registers, chosen by the caller (winograd.pyx, from
 * convops.dispatch's instruction set): the SSE2 baseline on its own spent 15-20% of an F(2x2)
 * call's time in these loops. The module is compiled with -ffp-contract=off (setup.py), so no
 * copy fuses a multiply and an add: every copy rounds every operation alike, the same bits. */
CONVOPS_WINOGRAD_TRANSFORMS(float, f32, )
CONVOPS_WINOGRAD_TRANSFORMS(double, f64, )
#if CONVOPS_SIMD_X86
CONVOPS_WINOGRAD_TRANSFORMS(float, avx2_f32, __attribute__((target("avx2"))))
CONVOPS_WINOGRAD_TRANSFORMS(double, avx2_f64, __attribute__((target("avx2"))))
#if CONVOPS_EMULATE_AVX512
#define CONVOPS_WINOGRAD_AVX512 __attribute__((target("avx2")))
#else
/* 512-bit vectors asked for: the compilers' generic tuning would otherwise vectorise these loops
 * with 256 (GCC's target option; clang's attribute of its own). */
#if defined(__clang__)
#define CONVOPS_WINOGRAD_AVX512 __attribute__((target("avx512f,avx2"), min_vector_width(512)))
#else
#define CONVOPS_WINOGRAD_AVX512 __attribute__((target("avx512f,avx2,prefer-vector-width=512")))
#endif
#endif
CONVOPS_WINOGRAD_TRANSFORMS(float, avx512_f32, CONVOPS_WINOGRAD_AVX512)
CONVOPS_WINOGRAD_TRANSFORMS(double, avx512_f64, CONVOPS_WINOGRAD_AVX512)
#undef CONVOPS_WINOGRAD_AVX512
#define CONVOPS_WINOGRAD_COPIES(name, t) {convops_winograd_##name##_##t, convops_winograd_##name##_avx2_##t, \
                                          convops_winograd_##name##_avx512_##t}
#else
#define CONVOPS_WINOGRAD_COPIES(name, t) {convops_winograd_##name##_##t, convops_winograd_##name##_##t, \
                                          convops_winograd_##name##_##t}
#endif

/* The copies by instruction set (CONVOPS_ISA_*; the portable one wherever a set is missing). */
typedef void (*convops_winograd_f32)(int, const float*, ptrdiff_t, float*, ptrdiff_t, ptrdiff_t);
typedef void (*convops_winograd_f64)(int, const double*, ptrdiff_t, double*, ptrdiff_t, ptrdiff_t);
static const convops_winograd_f32 convops_winograd_ins_f32[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(in, f32);
static const convops_winograd_f64 convops_winograd_ins_f64[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(in, f64);
static const convops_winograd_f32 convops_winograd_outs_f32[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(out, f32);
static const convops_winograd_f64 convops_winograd_outs_f64[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(out, f64);
#undef CONVOPS_WINOGRAD_COPIES

/* max |a[i]| over n values, or -1 when one is inf or NaN: one pass over the bits. Clearing the
 * sign bit leaves a non-negative integer whose order is the order of |a| for every finite value
 * and that is at least the exponent mask (all exponent bits set) exactly for inf and NaN, so one
 * integer maximum answers both questions. Integer maxima vectorise (a float maximum with NaN
 * semantics does not); the running maxima of LANES interleaved streams are elementwise, so the
 * loop needs no reassociation. An AVX2 copy (simd_isa.h's target attributes) where the CPU has
 * it: 2.5x the SSE2 copy's speed here (0.08 vs 0.21 ms for 1.7M float32). */
#define CONVOPS_MAX_ABS_BODY(T, S, SIGN_CLEAR, EXPONENT, LANES)                                       \
    {                                                                                                  \
        S lane[LANES] = {0}, top = 0;                                                                  \
        ptrdiff_t i = 0;                                                                               \
        T value;                                                                                       \
        for (; i + (LANES) <= n; i += (LANES)) {                                                       \
            for (int k = 0; k < (LANES); k++) {                                                        \
                S bits;                                                                                \
                memcpy(&bits, a + i + k, sizeof bits);                                                 \
                bits &= (SIGN_CLEAR);                                                                  \
                lane[k] = bits > lane[k] ? bits : lane[k];                                             \
            }                                                                                          \
        }                                                                                              \
        for (; i < n; i++) {                                                                           \
            S bits;                                                                                    \
            memcpy(&bits, a + i, sizeof bits);                                                         \
            bits &= (SIGN_CLEAR);                                                                      \
            top = bits > top ? bits : top;                                                             \
        }                                                                                              \
        for (int k = 0; k < (LANES); k++)                                                              \
            top = lane[k] > top ? lane[k] : top;                                                       \
        if (top >= (EXPONENT))                                                                         \
            return (T)-1;                                                                              \
        memcpy(&value, &top, sizeof value);                                                            \
        return value;                                                                                  \
    }

#define CONVOPS_MAX_ABS(T, S, SIGN_CLEAR, EXPONENT, LANES, SUFFIX)                                     \
    static T convops_max_abs_base_##SUFFIX(const T* CONVOPS_RESTRICT a, ptrdiff_t n)                  \
    CONVOPS_MAX_ABS_BODY(T, S, SIGN_CLEAR, EXPONENT, LANES)                                           \
    CONVOPS_MAX_ABS_AVX2(T, S, SIGN_CLEAR, EXPONENT, LANES, SUFFIX)                                   \
    static inline T convops_max_abs_##SUFFIX(const T* a, ptrdiff_t n)                                 \
    {                                                                                                  \
        CONVOPS_MAX_ABS_CALL_AVX2(SUFFIX)                                                              \
        return convops_max_abs_base_##SUFFIX(a, n);                                                    \
    }

#if CONVOPS_SIMD_X86
#define CONVOPS_MAX_ABS_AVX2(T, S, SIGN_CLEAR, EXPONENT, LANES, SUFFIX)                                \
    __attribute__((target("avx2"))) static T convops_max_abs_avx2_##SUFFIX(const T* CONVOPS_RESTRICT a, \
                                                                            ptrdiff_t n)               \
    CONVOPS_MAX_ABS_BODY(T, S, SIGN_CLEAR, EXPONENT, LANES)
#define CONVOPS_MAX_ABS_CALL_AVX2(SUFFIX)                                                              \
    __builtin_cpu_init();                                                                              \
    if (__builtin_cpu_supports("avx2"))                                                                \
        return convops_max_abs_avx2_##SUFFIX(a, n);
#else
#define CONVOPS_MAX_ABS_AVX2(T, S, SIGN_CLEAR, EXPONENT, LANES, SUFFIX)
#define CONVOPS_MAX_ABS_CALL_AVX2(SUFFIX)
#endif

CONVOPS_MAX_ABS(float, int32_t, INT32_C(0x7fffffff), INT32_C(0x7f800000), 16, f32)
CONVOPS_MAX_ABS(double, int64_t, INT64_C(0x7fffffffffffffff), INT64_C(0x7ff0000000000000), 8, f64)

#endif
