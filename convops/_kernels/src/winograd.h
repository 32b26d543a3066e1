/* Winograd's F(2x2, 3x3) and F(4x4, 3x3) tile transforms over vectors of channels (winograd.pyx),
 * and the one-pass finiteness and magnitude scan that decides whether "auto" may run them.
 *
 * One call transforms one tile for every channel: the input transform V = B^T D B of an
 * alpha x alpha window D, scattering V's alpha * alpha values to the GEMM operands, and the output
 * transform Y = A^T M A, gathering M's values from the GEMM results (B^T and A^T are
 * convops/_winograd.py's matrices). In C rather than Cython for what Cython cannot express: vector
 * types (the channels of a tile go through the transforms a whole SIMD vector at a time, each
 * value in registers from its load to its store) and float literals (Cython writes `4 * s` as
 * `4.0 * s`, computing float32 transforms in double). The vectors are GCC's vector extension (also
 * clang's); elsewhere (MSVC) the same loops run one channel at a time.
 * Sources and destinations never overlap (the callers read one buffer and write another).
 */
#ifndef CONVOPS_WINOGRAD_H
#define CONVOPS_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simd_isa.h"

/* The vector type of a copy: VBYTES bytes of T, unaligned (`aligned` lowered to the element's)
 * and reading arrays of T (`may_alias`), as the compilers' own headers declare unaligned SIMD
 * loads; its lanes; and full unrolling of the loops over a tile's rows and columns, so that every
 * value of the tile stays in a register. */
#if CONVOPS_SIMD_AVAILABLE
#define CONVOPS_WINOGRAD_VECTOR(T, name, VBYTES)                                                       \
    typedef T name __attribute__((vector_size(VBYTES), aligned(sizeof(T)), may_alias));
#define CONVOPS_WINOGRAD_LANES(T, VBYTES) ((ptrdiff_t)((VBYTES) / sizeof(T)))
#define CONVOPS_UNROLL_(text) _Pragma(#text)
#define CONVOPS_UNROLL(n) CONVOPS_UNROLL_(GCC unroll n)
#else
#define CONVOPS_WINOGRAD_VECTOR(T, name, VBYTES) typedef T name;
#define CONVOPS_WINOGRAD_LANES(T, VBYTES) ((ptrdiff_t)1)
#define CONVOPS_UNROLL(n)
#endif

/* The 1-D transforms of x[0..alpha) into y, each of type E (one channel's value or a vector of
 * channels, of element type T): B^T (inputs) and A^T (outputs) of convops/_winograd.py, common
 * sums shared between rows. Every copy evaluates these same expressions in this order. */
#define CONVOPS_BT2(E, T, x, y)                                                                        \
    do {                                                                                               \
        /* B^T rows (1 0 -1 0), (0 1 1 0), (0 -1 1 0), (0 1 0 -1) */                                   \
        (y)[0] = (x)[0] - (x)[2];                                                                      \
        (y)[1] = (x)[1] + (x)[2];                                                                      \
        (y)[2] = (x)[2] - (x)[1];                                                                      \
        (y)[3] = (x)[1] - (x)[3];                                                                      \
    } while (0)
#define CONVOPS_BT4(E, T, x, y)                                                                        \
    do {                                                                                               \
        /* B^T of F(4, 3), points 0, 1, -1, 2, -2, infinity */                                         \
        E a_ = (x)[4] - (x)[2], b_ = (x)[3] - (x)[1], p_ = (x)[3] + (x)[4], q_ = (x)[1] + (x)[2];      \
        (y)[0] = ((T)4 * (x)[0] - (T)5 * (x)[2]) + (x)[4];                                             \
        (y)[1] = p_ - (T)4 * q_;                                                                       \
        (y)[2] = (T)4 * ((x)[1] - (x)[2]) + ((x)[4] - (x)[3]);                                         \
        (y)[3] = (T)2 * b_ + a_;                                                                       \
        (y)[4] = a_ - (T)2 * b_;                                                                       \
        (y)[5] = ((T)4 * (x)[1] - (T)5 * (x)[3]) + (x)[5];                                             \
    } while (0)
#define CONVOPS_AT2(E, T, x, y)                                                                        \
    do {                                                                                               \
        /* A^T rows (1 1 1 0), (0 1 -1 -1) */                                                          \
        (y)[0] = ((x)[0] + (x)[1]) + (x)[2];                                                           \
        (y)[1] = ((x)[1] - (x)[2]) - (x)[3];                                                           \
    } while (0)
#define CONVOPS_AT4(E, T, x, y)                                                                        \
    do {                                                                                               \
        /* A^T row r is (0^r, 1, (-1)^r, 2^r, (-2)^r, [r == 3]) */                                     \
        E p12_ = (x)[1] + (x)[2], m12_ = (x)[1] - (x)[2], p34_ = (x)[3] + (x)[4], m34_ = (x)[3] - (x)[4]; \
        (y)[0] = ((x)[0] + p12_) + p34_;                                                               \
        (y)[1] = m12_ + (T)2 * m34_;                                                                   \
        (y)[2] = p12_ + (T)4 * p34_;                                                                   \
        (y)[3] = (m12_ + (T)8 * m34_) + (x)[5];                                                        \
    } while (0)

/* One tile's 2-D input transform, V = B^T D B, for the channels c..c+lanes of E (T, or a vector
 * of T): D[i][j] at s[i * sr + j * sc + c], V[(i', j')] written to d[(i' * alpha + j') * de + c].
 * Rows first (the 1-D transform of each row i over j), then columns. */
#define CONVOPS_WINOGRAD_TILE_IN(E, T, ALPHA, BT, s, sr, sc, d, de, c)                                 \
    do {                                                                                               \
        E x_[ALPHA], r_[ALPHA][ALPHA], col_[ALPHA], v_[ALPHA];                                         \
        CONVOPS_UNROLL(6) for (int i = 0; i < (ALPHA); i++) {                                          \
            CONVOPS_UNROLL(6) for (int j = 0; j < (ALPHA); j++)                                        \
                x_[j] = *(const E*)((s) + i * (sr) + j * (sc) + (c));                                  \
            BT(E, T, x_, r_[i]);                                                                       \
        }                                                                                              \
        CONVOPS_UNROLL(6) for (int j = 0; j < (ALPHA); j++) {                                          \
            CONVOPS_UNROLL(6) for (int i = 0; i < (ALPHA); i++)                                        \
                col_[i] = r_[i][j];                                                                    \
            BT(E, T, col_, v_);                                                                        \
            CONVOPS_UNROLL(6) for (int i = 0; i < (ALPHA); i++)                                        \
                *(E*)((d) + (i * (ALPHA) + j) * (de) + (c)) = v_[i];                                   \
        }                                                                                              \
    } while (0)

/* One tile's 2-D output transform, Y = A^T M A, for the channels c..c+lanes of E: M[(i, j)] at
 * s[(i * alpha + j) * se + c], Y[i'][j'] written to d[i' * dr + j' * dc + c]. Columns first (the
 * 1-D transform over i of each column j), then rows. */
#define CONVOPS_WINOGRAD_TILE_OUT(E, T, ALPHA, M, AT, s, se, d, dr, dc, c)                             \
    do {                                                                                               \
        E x_[ALPHA], t_[M][ALPHA], y_[M];                                                              \
        CONVOPS_UNROLL(6) for (int j = 0; j < (ALPHA); j++) {                                          \
            CONVOPS_UNROLL(6) for (int i = 0; i < (ALPHA); i++)                                        \
                x_[i] = *(const E*)((s) + (i * (ALPHA) + j) * (se) + (c));                             \
            AT(E, T, x_, y_);                                                                          \
            CONVOPS_UNROLL(4) for (int i = 0; i < (M); i++)                                            \
                t_[i][j] = y_[i];                                                                      \
        }                                                                                              \
        CONVOPS_UNROLL(4) for (int i = 0; i < (M); i++) {                                              \
            AT(E, T, t_[i], y_);                                                                       \
            CONVOPS_UNROLL(4) for (int j = 0; j < (M); j++)                                            \
                *(E*)((d) + i * (dr) + j * (dc) + (c)) = y_[j];                                        \
        }                                                                                              \
    } while (0)

/* One copy of the tile transforms for element type T in vectors of VBYTES bytes, called by
 * winograd.pyx once per tile (and CB channels at a time at x's and y's edges). The channels go a
 * vector at a time, the remainder one at a time with the same expressions, so every copy and every
 * lane gives the same bits.
 * One call per tile: the 1-D loops these replace were called 2 alpha times per tile, and on 32
 * or 64 channels their calls and setup cost more than the arithmetic. */
#define CONVOPS_WINOGRAD_TRANSFORMS(T, SUFFIX, ATTR, VBYTES)                                           \
    CONVOPS_WINOGRAD_VECTOR(T, convops_winograd_vec_##SUFFIX, VBYTES)                                  \
    ATTR static void convops_winograd_in_##SUFFIX(int tile, const T* s, ptrdiff_t sr, ptrdiff_t sc,    \
                                                    T* d, ptrdiff_t de, ptrdiff_t n)                   \
    {                                                                                                  \
        const ptrdiff_t lanes = CONVOPS_WINOGRAD_LANES(T, VBYTES);                                     \
        ptrdiff_t c = 0;                                                                               \
        if (tile == 2) {                                                                               \
            for (; c + lanes <= n; c += lanes)                                                         \
                CONVOPS_WINOGRAD_TILE_IN(convops_winograd_vec_##SUFFIX, T, 4, CONVOPS_BT2, s, sr, sc, d, de, c); \
            for (; c < n; c++)                                                                         \
                CONVOPS_WINOGRAD_TILE_IN(T, T, 4, CONVOPS_BT2, s, sr, sc, d, de, c);                   \
        } else {                                                                                       \
            for (; c + lanes <= n; c += lanes)                                                         \
                CONVOPS_WINOGRAD_TILE_IN(convops_winograd_vec_##SUFFIX, T, 6, CONVOPS_BT4, s, sr, sc, d, de, c); \
            for (; c < n; c++)                                                                         \
                CONVOPS_WINOGRAD_TILE_IN(T, T, 6, CONVOPS_BT4, s, sr, sc, d, de, c);                   \
        }                                                                                              \
    }                                                                                                  \
    ATTR static void convops_winograd_out_##SUFFIX(int tile, const T* s, ptrdiff_t se, T* d,           \
                                                     ptrdiff_t dr, ptrdiff_t dc, ptrdiff_t n)          \
    {                                                                                                  \
        const ptrdiff_t lanes = CONVOPS_WINOGRAD_LANES(T, VBYTES);                                     \
        ptrdiff_t c = 0;                                                                               \
        if (tile == 2) {                                                                               \
            for (; c + lanes <= n; c += lanes)                                                         \
                CONVOPS_WINOGRAD_TILE_OUT(convops_winograd_vec_##SUFFIX, T, 4, 2, CONVOPS_AT2, s, se, d, dr, dc, c); \
            for (; c < n; c++)                                                                         \
                CONVOPS_WINOGRAD_TILE_OUT(T, T, 4, 2, CONVOPS_AT2, s, se, d, dr, dc, c);               \
        } else {                                                                                       \
            for (; c + lanes <= n; c += lanes)                                                         \
                CONVOPS_WINOGRAD_TILE_OUT(convops_winograd_vec_##SUFFIX, T, 6, 4, CONVOPS_AT4, s, se, d, dr, dc, c); \
            for (; c < n; c++)                                                                         \
                CONVOPS_WINOGRAD_TILE_OUT(T, T, 6, 4, CONVOPS_AT4, s, se, d, dr, dc, c);               \
        }                                                                                              \
    }

/* One copy per instruction set, as the other kernel families have (simd_instantiate.h), each the
 * same loops on that set's vectors, chosen by the caller (winograd.pyx, from convops.dispatch's
 * instruction set): the SSE2 baseline on its own spent 15-20% of an F(2x2) call's time in them. The module is compiled with -ffp-contract=off (setup.py), so no
 * copy fuses a multiply and an add: every copy rounds every operation alike, the same bits. */
CONVOPS_WINOGRAD_TRANSFORMS(float, f32, , 16)
CONVOPS_WINOGRAD_TRANSFORMS(double, f64, , 16)
#if CONVOPS_SIMD_X86
CONVOPS_WINOGRAD_TRANSFORMS(float, avx2_f32, __attribute__((target("avx2"))), 32)
CONVOPS_WINOGRAD_TRANSFORMS(double, avx2_f64, __attribute__((target("avx2"))), 32)
#if CONVOPS_EMULATE_AVX512
#define CONVOPS_WINOGRAD_AVX512 __attribute__((target("avx2")))
#else
/* 512-bit vectors asked for (GCC's target option; clang's attribute of its own): the compilers'
 * generic tuning would otherwise split what they vectorise themselves into 256-bit halves. */
#if defined(__clang__)
#define CONVOPS_WINOGRAD_AVX512 __attribute__((target("avx512f,avx2"), min_vector_width(512)))
#else
#define CONVOPS_WINOGRAD_AVX512 __attribute__((target("avx512f,avx2,prefer-vector-width=512")))
#endif
#endif
CONVOPS_WINOGRAD_TRANSFORMS(float, avx512_f32, CONVOPS_WINOGRAD_AVX512, 64)
CONVOPS_WINOGRAD_TRANSFORMS(double, avx512_f64, CONVOPS_WINOGRAD_AVX512, 64)
#undef CONVOPS_WINOGRAD_AVX512
#define CONVOPS_WINOGRAD_COPIES(name, t) {convops_winograd_##name##_##t, convops_winograd_##name##_avx2_##t, \
                                          convops_winograd_##name##_avx512_##t}
#else
#define CONVOPS_WINOGRAD_COPIES(name, t) {convops_winograd_##name##_##t, convops_winograd_##name##_##t, \
                                          convops_winograd_##name##_##t}
#endif

/* The copies by instruction set (CONVOPS_ISA_*; the portable one wherever a set is missing). */
typedef void (*convops_winograd_in_fn_f32)(int, const float*, ptrdiff_t, ptrdiff_t, float*, ptrdiff_t, ptrdiff_t);
typedef void (*convops_winograd_in_fn_f64)(int, const double*, ptrdiff_t, ptrdiff_t, double*, ptrdiff_t, ptrdiff_t);
typedef void (*convops_winograd_out_fn_f32)(int, const float*, ptrdiff_t, float*, ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*convops_winograd_out_fn_f64)(int, const double*, ptrdiff_t, double*, ptrdiff_t, ptrdiff_t, ptrdiff_t);
static const convops_winograd_in_fn_f32 convops_winograd_ins_f32[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(in, f32);
static const convops_winograd_in_fn_f64 convops_winograd_ins_f64[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(in, f64);
static const convops_winograd_out_fn_f32 convops_winograd_outs_f32[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(out, f32);
static const convops_winograd_out_fn_f64 convops_winograd_outs_f64[CONVOPS_ISA_COUNT] = CONVOPS_WINOGRAD_COPIES(out, f64);
#undef CONVOPS_WINOGRAD_COPIES

/* max |a[i]| over n values, or -1 when one is inf or NaN: one pass over the bits. Clearing the
 * sign bit leaves a non-negative integer whose order is the order of |a| for every finite value
 * and that is at least the exponent mask (all exponent bits set) exactly for inf and NaN, so one
 * integer maximum answers both questions. Integer maxima vectorise (a float maximum with NaN
 * semantics does not); the running maxima of LANES interleaved streams are elementwise, so the
 * loop needs no reassociation. An AVX2 copy (simd_isa.h's target attributes) where the CPU has
 * it: 2.5x the SSE2 copy's speed here (0.08 vs 0.21 ms for 1.7M float32). */
#define CONVOPS_MAX_ABS_BODY(T, S, SIGN_CLEAR, EXPONENT, LANES)                                        \
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
    static T convops_max_abs_base_##SUFFIX(const T* CONVOPS_RESTRICT a, ptrdiff_t n)                   \
    CONVOPS_MAX_ABS_BODY(T, S, SIGN_CLEAR, EXPONENT, LANES)                                            \
    CONVOPS_MAX_ABS_AVX2(T, S, SIGN_CLEAR, EXPONENT, LANES, SUFFIX)                                    \
    static inline T convops_max_abs_##SUFFIX(const T* a, ptrdiff_t n)                                  \
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
