/* The FMA-peak loop (fma_peak_ukernel.h) for every element type and instruction set, and the
 * table convops/_kernels/simd.pyx calls it through: convops._kernels.simd.fma_peak_gflops, which
 * the benchmarks record as the machine's ceiling for multiply-add kernels.
 *
 * Why C: vector types and per-function target attributes (simd_instantiate.h compiles the body
 * once per (float, double) x (portable, AVX2, AVX-512)). On the portable build (SSE2) there is no
 * FMA instruction: its "peak" is a multiply and an add per element, which is what its kernels do. */
#ifndef CONVOPS_FMA_PEAK_SIMD_H
#define CONVOPS_FMA_PEAK_SIMD_H
#include <stddef.h>

#include "simd_isa.h"

#define CONVOPS_BODY "fma_peak_ukernel.h"
#include "simd_instantiate.h"

typedef float (*convops_fma_peak_f32)(ptrdiff_t, float, float);
typedef double (*convops_fma_peak_f64)(ptrdiff_t, double, double);

CONVOPS_ISA_TABLE(convops_fma_peak_f32, convops_fma_peaks_f32, f32, fma_peak);
CONVOPS_ISA_TABLE(convops_fma_peak_f64, convops_fma_peaks_f64, f64, fma_peak);

#endif /* CONVOPS_FMA_PEAK_SIMD_H */
