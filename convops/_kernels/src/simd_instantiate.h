/* Compiles one kernel body for every (element type, instruction set): float and double, each
 * for the portable 16-byte vectors and, on x86-64, for AVX2+FMA and AVX-512.
 *
 * Why C: the bodies keep blocks of SIMD accumulators in registers, and Cython has no vector
 * types and no per-function target attribute. Why one file: every kernel family needs the same
 * six copies and the same table of them per instruction set, so adding an instruction set
 * (NEON, AVX-512 FP16) is one section below, one slot in CONVOPS_ISA_TABLE, one case in
 * simd_isa.h and a CONVOPS_BLOCKS_<set> line in the families that block by registers.
 *
 * A family header (conv_simd.h, conv_grad_simd.h, pool_simd.h) uses it like this:
 *
 *     #define CONVOPS_BODY "conv_ukernel.h"
 *     #define CONVOPS_BLOCKS_BASE 8, 6, 4, 3        (optional: see UK_BLOCK)
 *     #define CONVOPS_BLOCKS_AVX2 8, 6, 4, 3
 *     #define CONVOPS_BLOCKS_AVX512 12, 12, 8, 6
 *     #include "simd_instantiate.h"
 *     CONVOPS_ISA_TABLE(convops_ukernel_f32, convops_ukernels_f32, f32, ukernel);
 *
 * and each inclusion of the body sees:
 *   UK_T         the element type: float or double
 *   UK_I         the signed integer type of the same width (for bit selects)
 *   UK_DOUBLE    0 for float, 1 for double; UK_PER_TYPE(a, b) is a for float, b for double
 *   UK_VBYTES    bytes per vector: 16 (SSE2 / NEON), 32 (AVX2), 64 (AVX-512)
 *   UK_TARGET    the function attribute that lets the compiler use the instruction set
 *   UK_NAME(x)   the name of x in this copy: convops_<f32|f64>_<base|avx2|avx512>_x
 *   UK_BLOCK(v)  rows of a register block v (1..4) vectors wide, from CONVOPS_BLOCKS_<set>
 * CONVOPS_BODY and CONVOPS_BLOCKS_* are undefined at the end, ready for the next family.
 */
#ifndef CONVOPS_SIMD_INSTANTIATE_H
#define CONVOPS_SIMD_INSTANTIATE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simd_isa.h"

/* static fn_type table[CONVOPS_ISA_COUNT]: the copies of function `fn` for element type `t`
 * (f32 or f64), indexed by instruction set (CONVOPS_ISA_*), NULL where this build lacks that set. */
#define CONVOPS_ISA_TABLE(fn_type, table, t, fn)                                                   \
    static fn_type table[CONVOPS_ISA_COUNT] = {CONVOPS_IF_SIMD(convops_##t##_base_##fn),           \
                                               CONVOPS_IF_X86(convops_##t##_avx2_##fn),            \
                                               CONVOPS_IF_X86(convops_##t##_avx512_##fn)}
#if CONVOPS_SIMD_AVAILABLE
#define CONVOPS_IF_SIMD(f) f
#else
#define CONVOPS_IF_SIMD(f) 0
#endif
#if CONVOPS_SIMD_X86
#define CONVOPS_IF_X86(f) f
#else
#define CONVOPS_IF_X86(f) 0
#endif

/* Each level of indirection lets the arguments expand (UK_DOUBLE to 0 or 1, UK_BLOCKS to its
 * list) before ## pastes or a list is split into arguments. */
#define UK_PER_TYPE(a, b) UK_PER_TYPE_(UK_DOUBLE, a, b)
#define UK_PER_TYPE_(d, a, b) UK_PER_TYPE__(d, a, b)
#define UK_PER_TYPE__(d, a, b) UK_PICK_##d(a, b)
#define UK_PICK_0(a, b) a
#define UK_PICK_1(a, b) b
#define UK_T UK_PER_TYPE(float, double)
#define UK_I UK_PER_TYPE(int32_t, int64_t)
#define UK_NAME(x) UK_NAME_(UK_PER_TYPE(f32, f64), UK_ISA, x)
#define UK_NAME_(t, isa, x) UK_NAME__(t, isa, x)
#define UK_NAME__(t, isa, x) convops_##t##_##isa##_##x
#define UK_BLOCK(v) UK_BLOCK_(v, UK_BLOCKS)
#define UK_BLOCK_(v, list) UK_BLOCK_##v(list)
#define UK_BLOCK_1(b1, b2, b3, b4) b1
#define UK_BLOCK_2(b1, b2, b3, b4) b2
#define UK_BLOCK_3(b1, b2, b3, b4) b3
#define UK_BLOCK_4(b1, b2, b3, b4) b4

#endif /* CONVOPS_SIMD_INSTANTIATE_H */

#if CONVOPS_SIMD_AVAILABLE
/* ---- portable: 16-byte generic vectors (SSE2 on x86-64, NEON on arm64), blocks for 16 registers ---- */
#define UK_ISA base
#define UK_VBYTES 16
#define UK_TARGET
#define UK_BLOCKS CONVOPS_BLOCKS_BASE
#define UK_DOUBLE 0
#include CONVOPS_BODY
#undef UK_DOUBLE
#define UK_DOUBLE 1
#include CONVOPS_BODY
#undef UK_DOUBLE
#undef UK_ISA
#undef UK_VBYTES
#undef UK_TARGET
#undef UK_BLOCKS

#if CONVOPS_SIMD_X86
/* ---- AVX2 + FMA: 32-byte vectors, 16 registers ---- */
#define UK_ISA avx2
#define UK_VBYTES 32
#define UK_TARGET __attribute__((target("avx2,fma")))
#define UK_BLOCKS CONVOPS_BLOCKS_AVX2
#define UK_DOUBLE 0
#include CONVOPS_BODY
#undef UK_DOUBLE
#define UK_DOUBLE 1
#include CONVOPS_BODY
#undef UK_DOUBLE
#undef UK_ISA
#undef UK_VBYTES
#undef UK_TARGET
#undef UK_BLOCKS

/* ---- AVX-512F: 64-byte vectors, 32 registers (AVX2+FMA in the test build of simd_isa.h) ---- */
#define UK_ISA avx512
#define UK_VBYTES 64
#if CONVOPS_EMULATE_AVX512
#define UK_TARGET __attribute__((target("avx2,fma")))
#else
#define UK_TARGET __attribute__((target("avx512f,avx2,fma")))
#endif
#define UK_BLOCKS CONVOPS_BLOCKS_AVX512
#define UK_DOUBLE 0
#include CONVOPS_BODY
#undef UK_DOUBLE
#define UK_DOUBLE 1
#include CONVOPS_BODY
#undef UK_DOUBLE
#undef UK_ISA
#undef UK_VBYTES
#undef UK_TARGET
#undef UK_BLOCKS
#endif /* CONVOPS_SIMD_X86 */
#endif /* CONVOPS_SIMD_AVAILABLE */

#undef CONVOPS_BODY
#undef CONVOPS_BLOCKS_BASE
#undef CONVOPS_BLOCKS_AVX2
#undef CONVOPS_BLOCKS_AVX512
