/* One copy of the filter gradient's micro-kernel (conv2d_backprop_filter's direct path), for one
 * element type and instruction set.
 *
 * Why C and not Cython: the micro-kernel must keep R x V SIMD accumulators in registers, and
 * Cython has no vector types and no per-function target attribute. This file holds the loops;
 * simd_instantiate.h (through conv_grad_simd.h) includes it once per (element type, instruction
 * set) with UK_T, UK_VBYTES, UK_TARGET and UK_NAME(x) set, and UK_BLOCK(v) = filter-gradient rows
 * per block when the block is v (1..4) vectors of output channels wide. The C names say `dw` for
 * the filter gradient.
 *
 * The mirror image of conv2d's micro-kernel: there a block of output pixels x output channels
 * stays in registers while the reduction runs over (ky, kx, ci); here a block of R filter-gradient
 * rows (R consecutive input channels of one tap) x V vectors of output channels stays in
 * registers while the reduction runs over output positions. The same sum, im2col + GEMM, is
 * _filter_lane in convops/_kernels/conv_grad.pyx; its definition is
 * conv2d_backprop_filter_reference in convops/reference.py.
 */

typedef UK_T UK_NAME(vec) __attribute__((vector_size(UK_VBYTES)));
#define UK_L ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))

/* acc[i][v] = dw[i][v] + sum over the segments' positions j of x[j][i] * dy[j][v].
 *
 * dw      the filter gradient at the block's first element; R rows of dw_stride elements,
 *         n_lanes channels used
 * x, dy   the block's first input channel and first output channel (no position offset)
 * segs    n_seg triples (x index, dy index, count): `count` positions, the first at x + x index
 *         and dy + dy index, the next x_step and dy_step elements further
 * Every position's dy holds V whole vectors (V * UK_L readable elements; the caller pads narrow
 * groups into a scratch copy), but only n_lanes of the filter gradient are read and written (a
 * partial vector is copied through a zeroed one). The additions into each element run in segment
 * order, then position order: the same for any R, V or thread, so results are bit-identical for
 * any thread count. The loops over i and v are unrolled (R and V are constants here): GCC 12
 * otherwise left the AVX2 accumulators on the stack (see conv_simd.h).
 *
 * Rows come in G groups (a constant: 1 or 3) of R / G consecutive elements of x, `gs` elements
 * from one group to the next: G = 1 is R consecutive input channels (or a filter row's (kx, ci)
 * pairs); G = 3 is a whole filter of three rows (ky) when KW * C_in is small -- a first layer's
 * 3 x 3 x 1 filter is 9 rows, read in one pass over out_backprop instead of three. Row i is at
 * x + (i / (R / G)) * gs + i % (R / G): constant offsets from one register, and gs scaled by 1 or 2. */
#define UK_DW_ROW(i) (((i) / (R / G)) * gs + (i) % (R / G))
static inline __attribute__((always_inline)) UK_TARGET void UK_NAME(dw_block)(
        const int R, const int V, const int partial, const int G, const UK_T* x, const UK_T* dy, UK_T* dw,
        const ptrdiff_t* segs, ptrdiff_t n_seg, ptrdiff_t x_step, ptrdiff_t dy_step, ptrdiff_t dw_stride,
        ptrdiff_t n_lanes, ptrdiff_t gs)
{
    UK_NAME(vec) acc[12][4];
    UK_NAME(vec) dv[4];
    UK_NAME(vec) bv[12];
    const ptrdiff_t tail = n_lanes - (V - 1) * UK_L;   /* lanes of the last vector, 1..UK_L */
    ptrdiff_t s, j;
    int i, v;
    _Pragma("GCC unroll 16") for (i = 0; i < R; i++) {
        _Pragma("GCC unroll 16") for (v = 0; v < V; v++) {
            acc[i][v] = (UK_NAME(vec)){0};
            if (partial && v == V - 1)
                memcpy(&acc[i][v], dw + i * dw_stride + v * UK_L, (size_t)tail * sizeof(UK_T));
            else
                memcpy(&acc[i][v], dw + i * dw_stride + v * UK_L, sizeof(acc[i][v]));
        }
    }
    for (s = 0; s < n_seg; s++) {
        const UK_T* xs = x + segs[3 * s];
        const UK_T* ds = dy + segs[3 * s + 1];
        const ptrdiff_t count = segs[3 * s + 2];
        for (j = 0; j < count; j++) {
            /* By index, not by stepping pointers: no pointer is formed past the last position
             * (UBSan's pointer-overflow check). */
            const UK_T* xp = xs + j * x_step;
            const UK_T* dp = ds + j * dy_step;
            if (V > R) {   /* hold R broadcasts rather than V vectors of dy (conv_ukernel.h) */
                _Pragma("GCC unroll 16") for (i = 0; i < R; i++)
                    bv[i] = xp[UK_DW_ROW(i)] - (UK_NAME(vec)){0};   /* broadcast (x - 0 is x, -0 too) */
                _Pragma("GCC unroll 16") for (v = 0; v < V; v++) {
                    memcpy(&dv[v], dp + v * UK_L, sizeof(dv[v]));   /* an unaligned vector load */
                    _Pragma("GCC unroll 16") for (i = 0; i < R; i++)
                        acc[i][v] += bv[i] * dv[v];
                }
            } else {
                _Pragma("GCC unroll 16") for (v = 0; v < V; v++)
                    memcpy(&dv[v], dp + v * UK_L, sizeof(dv[v]));
                _Pragma("GCC unroll 16") for (i = 0; i < R; i++) {
                    const UK_NAME(vec) b = xp[UK_DW_ROW(i)] - (UK_NAME(vec)){0};
                    _Pragma("GCC unroll 16") for (v = 0; v < V; v++)
                        acc[i][v] += b * dv[v];
                }
            }
        }
    }
    _Pragma("GCC unroll 16") for (i = 0; i < R; i++) {
        _Pragma("GCC unroll 16") for (v = 0; v < V; v++) {
            if (partial && v == V - 1)
                memcpy(dw + i * dw_stride + v * UK_L, &acc[i][v], (size_t)tail * sizeof(UK_T));
            else
                memcpy(dw + i * dw_stride + v * UK_L, &acc[i][v], sizeof(acc[i][v]));
        }
    }
}

#undef UK_DW_ROW

#define UK_DW_CASE_R(RR, VV, PART) \
    UK_NAME(dw_block)(RR, VV, PART, 1, x, dy, dw, segs, n_seg, x_step, dy_step, dw_stride, n_lanes, 0)
#define UK_DW_CASE_G3(RR, VV, PART) \
    UK_NAME(dw_block)(RR, VV, PART, 3, x, dy, dw, segs, n_seg, x_step, dy_step, dw_stride, n_lanes, group_stride)
/* Whole 3-row filters: R = 3, 6 or 9 rows (9 only with 1 or 2 vectors, where the register tables
 * have room for them; conv_grad.pyx asks for no more rows than UK_BLOCK(V)). */
#define UK_DW_SW_G3_9(VV, PART) \
    switch (R) { \
    case 3: UK_DW_CASE_G3(3, VV, PART); break; \
    case 6: UK_DW_CASE_G3(6, VV, PART); break; \
    default: UK_DW_CASE_G3(9, VV, PART); break; \
    }
#define UK_DW_SW_G3_6(VV, PART) \
    switch (R) { \
    case 3: UK_DW_CASE_G3(3, VV, PART); break; \
    default: UK_DW_CASE_G3(6, VV, PART); break; \
    }

/* R rows (1..UK_BLOCK(V) for V vectors) x V vectors, both chosen at run time: full blocks use
 * R = UK_BLOCK(V), the last rows of a tap a smaller R. */
#define UK_DW_SW_3(VV, PART) \
    switch (R) { \
    case 1: UK_DW_CASE_R(1, VV, PART); break; \
    case 2: UK_DW_CASE_R(2, VV, PART); break; \
    default: UK_DW_CASE_R(3, VV, PART); break; \
    }
#define UK_DW_SW_4(VV, PART) \
    switch (R) { \
    case 1: UK_DW_CASE_R(1, VV, PART); break; \
    case 2: UK_DW_CASE_R(2, VV, PART); break; \
    case 3: UK_DW_CASE_R(3, VV, PART); break; \
    default: UK_DW_CASE_R(4, VV, PART); break; \
    }
#define UK_DW_SW_6(VV, PART) \
    switch (R) { \
    case 1: UK_DW_CASE_R(1, VV, PART); break; \
    case 2: UK_DW_CASE_R(2, VV, PART); break; \
    case 3: UK_DW_CASE_R(3, VV, PART); break; \
    case 4: UK_DW_CASE_R(4, VV, PART); break; \
    case 5: UK_DW_CASE_R(5, VV, PART); break; \
    default: UK_DW_CASE_R(6, VV, PART); break; \
    }
#define UK_DW_SW_8(VV, PART) \
    switch (R) { \
    case 1: UK_DW_CASE_R(1, VV, PART); break; \
    case 2: UK_DW_CASE_R(2, VV, PART); break; \
    case 3: UK_DW_CASE_R(3, VV, PART); break; \
    case 4: UK_DW_CASE_R(4, VV, PART); break; \
    case 5: UK_DW_CASE_R(5, VV, PART); break; \
    case 6: UK_DW_CASE_R(6, VV, PART); break; \
    case 7: UK_DW_CASE_R(7, VV, PART); break; \
    default: UK_DW_CASE_R(8, VV, PART); break; \
    }
#define UK_DW_SW_12(VV, PART) \
    switch (R) { \
    case 1: UK_DW_CASE_R(1, VV, PART); break; \
    case 2: UK_DW_CASE_R(2, VV, PART); break; \
    case 3: UK_DW_CASE_R(3, VV, PART); break; \
    case 4: UK_DW_CASE_R(4, VV, PART); break; \
    case 5: UK_DW_CASE_R(5, VV, PART); break; \
    case 6: UK_DW_CASE_R(6, VV, PART); break; \
    case 7: UK_DW_CASE_R(7, VV, PART); break; \
    case 8: UK_DW_CASE_R(8, VV, PART); break; \
    case 9: UK_DW_CASE_R(9, VV, PART); break; \
    case 10: UK_DW_CASE_R(10, VV, PART); break; \
    case 11: UK_DW_CASE_R(11, VV, PART); break; \
    default: UK_DW_CASE_R(12, VV, PART); break; \
    }
#define UK_DW_SW(N, VV, PART) UK_DW_SW_I(N, VV, PART)
#define UK_DW_SW_I(N, VV, PART) UK_DW_SW_##N(VV, PART)

/* Aligned to 64 bytes, as conv2d's entry points are (conv_ukernel.h): the loops' place in the
 * instruction cache's lines no longer depends on the code before them (2-14% here, Zen 3). */
static UK_TARGET __attribute__((aligned(64))) void UK_NAME(dw_ukernel)(
        int R, int V, const UK_T* x, const UK_T* dy, UK_T* dw, const ptrdiff_t* segs, ptrdiff_t n_seg,
        ptrdiff_t x_step, ptrdiff_t dy_step, ptrdiff_t dw_stride, ptrdiff_t n_lanes, ptrdiff_t group_stride)
{
    if (group_stride > 0) {   /* R rows of a whole 3-row filter (UK_NAME(dw_block)'s G = 3) */
        const int part = n_lanes < V * UK_L;
        switch (V) {
        case 1: if (part) UK_DW_SW_G3_9(1, 1) else UK_DW_SW_G3_9(1, 0) break;
        case 2: if (part) UK_DW_SW_G3_9(2, 1) else UK_DW_SW_G3_9(2, 0) break;
        case 3: if (part) UK_DW_SW_G3_6(3, 1) else UK_DW_SW_G3_6(3, 0) break;
        default: if (part) UK_DW_SW_G3_6(4, 1) else UK_DW_SW_G3_6(4, 0) break;
        }
        return;
    }
    if (n_lanes >= V * UK_L) {
        switch (V) {
        case 1: UK_DW_SW(UK_BLOCK(1), 1, 0); break;
        case 2: UK_DW_SW(UK_BLOCK(2), 2, 0); break;
        case 3: UK_DW_SW(UK_BLOCK(3), 3, 0); break;
        default: UK_DW_SW(UK_BLOCK(4), 4, 0); break;
        }
    } else {
        switch (V) {
        case 1: UK_DW_SW(UK_BLOCK(1), 1, 1); break;
        case 2: UK_DW_SW(UK_BLOCK(2), 2, 1); break;
        case 3: UK_DW_SW(UK_BLOCK(3), 3, 1); break;
        default: UK_DW_SW(UK_BLOCK(4), 4, 1); break;
        }
    }
}

#undef UK_DW_CASE_R
#undef UK_DW_CASE_G3
#undef UK_DW_SW_G3_9
#undef UK_DW_SW_G3_6
#undef UK_DW_SW
#undef UK_DW_SW_I
#undef UK_DW_SW_3
#undef UK_DW_SW_4
#undef UK_DW_SW_6
#undef UK_DW_SW_8
#undef UK_DW_SW_12
#undef UK_L
