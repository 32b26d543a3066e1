/* One copy of conv2d's register-blocked micro-kernels, for one element type and instruction set.
 *
 * Why C and not Cython: a micro-kernel must keep P x V SIMD accumulators in registers, and
 * Cython has no vector types and no per-function target attribute. This file holds the loops;
 * simd_instantiate.h (through conv_simd.h) includes it once per (element type, instruction set)
 * with UK_T, UK_VBYTES, UK_TARGET and UK_NAME(x) set, and UK_BLOCK(v) = output pixels per block
 * when the block is v (1..4) vectors of channels wide. The readable Cython versions of the same
 * loops are conv2d_naive and conv2d_direct in convops/_kernels/conv.pyx.
 */

typedef UK_T UK_NAME(vec) __attribute__((vector_size(UK_VBYTES)));
#define UK_L ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))

/* acc[p][v] += x[pixel p][tap] * w[tap][v] over the taps of one clipped window.
 *
 * xs[p]  input of pixel p at the window's first valid tap (ky0, kx0), channel offset of the group
 * outs[p] where pixel p's n_lanes output channels go
 * w      weights at (ky0, kx0) and this block's first channel, laid out [ky][kx][ci][channel]
 *        with w_ci_stride elements from one ci to the next (KW * C_g * w_ci_stride per ky):
 *        the HWIO filters themselves, or a zero-padded copy when the block overhangs C_out
 * The order of the additions is ky, kx, ci for every output element, whatever P, V or thread:
 * results are bit-identical for any thread count. */
static inline __attribute__((always_inline)) UK_TARGET void UK_NAME(block)(
        const int V, const int P, const UK_T* const* xs, UK_T* const* outs, const UK_T* w,
        ptrdiff_t nky, ptrdiff_t nkx, ptrdiff_t cg, ptrdiff_t row_stride, ptrdiff_t col_stride,
        ptrdiff_t kw, ptrdiff_t w_ci_stride, ptrdiff_t n_lanes)
{
    UK_NAME(vec) acc[12][4];
    UK_NAME(vec) wv[4];
    ptrdiff_t ky, kx, ci;
    int p, v;
    for (p = 0; p < P; p++)
        for (v = 0; v < V; v++)
            acc[p][v] = (UK_NAME(vec)){0};
    for (ky = 0; ky < nky; ky++) {
        for (kx = 0; kx < nkx; kx++) {
            const ptrdiff_t off = ky * row_stride + kx * col_stride;
            const UK_T* wk = w + ((ky * kw + kx) * cg) * w_ci_stride;
            for (ci = 0; ci < cg; ci++) {
                for (v = 0; v < V; v++)
                    memcpy(&wv[v], wk + v * UK_L, sizeof(wv[v]));   /* an unaligned vector load */
                wk += w_ci_stride;
                for (p = 0; p < P; p++) {
                    const UK_NAME(vec) b = (UK_NAME(vec)){0} + xs[p][off + ci];   /* broadcast */
                    for (v = 0; v < V; v++)
                        acc[p][v] += b * wv[v];
                }
            }
        }
    }
    for (p = 0; p < P; p++) {
        for (v = 0; v < V; v++) {
            ptrdiff_t left = n_lanes - v * UK_L;
            if (left >= UK_L)
                memcpy(outs[p] + v * UK_L, &acc[p][v], sizeof(acc[p][v]));
            else if (left > 0)
                memcpy(outs[p] + v * UK_L, &acc[p][v], (size_t)left * sizeof(UK_T));
        }
    }
}

#define UK_BLOCK_CASE(VV) \
    UK_NAME(block)(VV, UK_BLOCK(VV), xs, outs, w, nky, nkx, cg, row_stride, col_stride, kw, w_ci_stride, n_lanes)

/* The entry point: V (1..4 vectors of output channels) chosen at run time, P = UK_BLOCK(V). */
static UK_TARGET void UK_NAME(ukernel)(
        int V, const UK_T* const* xs, UK_T* const* outs, const UK_T* w, ptrdiff_t nky, ptrdiff_t nkx,
        ptrdiff_t cg, ptrdiff_t row_stride, ptrdiff_t col_stride, ptrdiff_t kw, ptrdiff_t w_ci_stride,
        ptrdiff_t n_lanes)
{
    switch (V) {
    case 1: UK_BLOCK_CASE(1); break;
    case 2: UK_BLOCK_CASE(2); break;
    case 3: UK_BLOCK_CASE(3); break;
    default: UK_BLOCK_CASE(4); break;
    }
}

/* One-channel image filter (C_in = C_out = 1, horizontal stride 1), output rows [r0, r1) of the
 * flattened (n, oy) range: every tap is an axpy over a contiguous output row, which the
 * compiler vectorises over output pixels. Taps that fall in the padding are skipped (the
 * caller only uses this path with finite filters, where they would add exact zeros). */
static UK_TARGET void UK_NAME(image_rows)(
        const UK_T* restrict x, UK_T* restrict out, const UK_T* restrict w, ptrdiff_t height, ptrdiff_t width,
        ptrdiff_t h_out, ptrdiff_t w_out, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t dil_h,
        ptrdiff_t dil_w, ptrdiff_t top, ptrdiff_t left, ptrdiff_t r0, ptrdiff_t r1)
{
    ptrdiff_t r, ky, kx, ox;
    for (r = r0; r < r1; r++) {
        const ptrdiff_t n = r / h_out, oy = r - n * h_out;
        UK_T* restrict o = out + r * w_out;
        for (ox = 0; ox < w_out; ox++)
            o[ox] = 0;
        for (ky = 0; ky < kh; ky++) {
            const ptrdiff_t iy = oy * sh - top + ky * dil_h;
            if (iy < 0 || iy >= height)
                continue;
            const UK_T* restrict row = x + (n * height + iy) * width;
            for (kx = 0; kx < kw; kx++) {
                const ptrdiff_t shift = kx * dil_w - left;           /* ix = ox + shift */
                const ptrdiff_t lo = shift < 0 ? -shift : 0;
                const ptrdiff_t hi = width - shift < w_out ? width - shift : w_out;
                const UK_T tap = w[ky * kw + kx];
                for (ox = lo; ox < hi; ox++)
                    o[ox] += tap * row[ox + shift];
            }
        }
    }
}

#undef UK_BLOCK_CASE
#undef UK_L
