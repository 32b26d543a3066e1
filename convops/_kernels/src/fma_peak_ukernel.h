/* One copy of the FMA-peak loop, for one element type and instruction set (fma_peak_simd.h).
 *
 * Why C: the loop must keep its accumulators in vector registers and use the instruction set's
 * fused multiply-add, which needs vector types and a per-function target attribute.
 *
 * 12 independent chains acc[i] = acc[i] * a + b: each multiply-add waits only for the previous
 * one of its own chain, and 12 chains cover the FMA latency x units of every x86-64 core made so
 * far (4 cycles x 2 units = 8 on Zen 4 and Sapphire Rapids). No loads or stores in the loop: it
 * runs at the core's FMA throughput, the ceiling of any multiply-add kernel. a and b come from
 * the caller so that nothing folds at compile time. */

typedef UK_T UK_NAME(peak_vec) __attribute__((vector_size(UK_VBYTES)));
#define UK_L ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))
#define UK_CHAINS 12

/* Runs `iterations` x 12 vector multiply-adds; returns a value that depends on all of them. The
 * flops: iterations x 12 x 2 x lanes. */
static UK_TARGET UK_T UK_NAME(fma_peak)(ptrdiff_t iterations, UK_T a, UK_T b)
{
    UK_NAME(peak_vec) acc[UK_CHAINS];
    const UK_NAME(peak_vec) va = a - (UK_NAME(peak_vec)){0}, vb = b - (UK_NAME(peak_vec)){0};
    UK_T total = 0;
    ptrdiff_t it;
    int i, l;
    _Pragma("GCC unroll 12") for (i = 0; i < UK_CHAINS; i++)
        acc[i] = (UK_NAME(peak_vec)){0} + (UK_T)i;
    for (it = 0; it < iterations; it++) {
        _Pragma("GCC unroll 12") for (i = 0; i < UK_CHAINS; i++)
            acc[i] = acc[i] * va + vb;
    }
    _Pragma("GCC unroll 12") for (i = 0; i < UK_CHAINS; i++)
        for (l = 0; l < UK_L; l++)
            total += acc[i][l];
    return total;
}

#undef UK_L
#undef UK_CHAINS
