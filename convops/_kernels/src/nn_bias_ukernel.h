/* One copy of the bias + ReLU backward kernel (convops.nn's Conv2D and Dense), for one element
 * type and instruction set (simd_instantiate.h sets UK_T, UK_VBYTES, UK_TARGET and UK_NAME(x);
 * nn_bias_simd.h).
 *
 * The SIMD twin of _bias_backward_lanes in convops/_kernels/nn.pyx, for one lane's rows: the
 * ReLU's mask applied in place (dz = y > 0 ? dz : +0) and the bias gradient's partial sums, in
 * double, each channel's added in row order -- the same operations in the same order as the
 * Cython loop: bit-identical (tests/test_nn_layer_kernels.py runs both).
 *
 * Why this kernel: the Cython loop kept the sums in memory, loaded and stored once per row, and
 * ran 4-8x slower than the traffic it moves (0.6-1.2 ms for the tutorial's first layer, 64 x 26
 * x 26 x 32, where a copy of dz takes 0.3). Here a block of channels keeps its sums in registers
 * for a tile of rows. */

/* HL channels at a time: as many as one vector of doubles holds (the sums' width). */
#define NB_HL ((ptrdiff_t)(UK_VBYTES / sizeof(double)))
#define NB_GROUPS 8                 /* HL-channel groups per block: 8 accumulators in registers */
#define NB_TILE 256                 /* rows per tile: a block re-reads a tile's rows from cache */
typedef UK_T UK_NAME(bvec) __attribute__((vector_size(NB_HL * sizeof(UK_T))));
typedef UK_I UK_NAME(bivec) __attribute__((vector_size(NB_HL * sizeof(UK_T))));
typedef double UK_NAME(bdvec) __attribute__((vector_size(NB_HL * sizeof(double))));

static inline __attribute__((always_inline)) UK_TARGET void UK_NAME(bias_block)(
        const int groups, UK_T* dz, const UK_T* y, double* sums, ptrdiff_t rows, ptrdiff_t channels, int relu)
{
    UK_NAME(bdvec) acc[NB_GROUPS];
    int g;
    _Pragma("GCC unroll 8") for (g = 0; g < groups; g++)
        memcpy(&acc[g], sums + g * NB_HL, sizeof(acc[g]));
    for (ptrdiff_t r = 0; r < rows; r++) {
        UK_T* d = dz + r * channels;
        const UK_T* yr = y + r * channels;
        _Pragma("GCC unroll 8") for (g = 0; g < groups; g++) {
            UK_NAME(bvec) v, yv;
            memcpy(&v, d + g * NB_HL, sizeof(v));
            if (relu) {
                memcpy(&yv, yr + g * NB_HL, sizeof(yv));
                /* A bit select (C has no vector ?:): all ones where y > 0, so v or +0. */
                v = (UK_NAME(bvec))((UK_NAME(bivec))v & (UK_NAME(bivec))(yv > (UK_NAME(bvec)){0}));
                memcpy(d + g * NB_HL, &v, sizeof(v));
            }
            acc[g] += __builtin_convertvector(v, UK_NAME(bdvec));
        }
    }
    _Pragma("GCC unroll 8") for (g = 0; g < groups; g++)
        memcpy(sums + g * NB_HL, &acc[g], sizeof(acc[g]));
}

/* Rows [r0, r1) of dz and y (M x channels, C-contiguous): the mask when `relu`, and sums[c] +=
 * each row's dz[., c] in row order (sums: `channels` doubles, zeroed or holding earlier rows'). */
static UK_TARGET void UK_NAME(bias_relu_backward)(UK_T* dz, const UK_T* y, double* sums, ptrdiff_t r0, ptrdiff_t r1,
                                                  ptrdiff_t channels, int relu)
{
    const ptrdiff_t whole = channels / NB_HL;   /* groups of HL channels */
    for (ptrdiff_t t0 = r0; t0 < r1; t0 += NB_TILE) {
        const ptrdiff_t rows = r1 - t0 < NB_TILE ? r1 - t0 : NB_TILE;
        UK_T* d = dz + t0 * channels;
        const UK_T* yr = y + t0 * channels;
        ptrdiff_t g0 = 0;
        for (; g0 + NB_GROUPS <= whole; g0 += NB_GROUPS)
            UK_NAME(bias_block)(NB_GROUPS, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu);
        switch (whole - g0) {   /* the last groups: a block as narrow as they are */
        case 1: UK_NAME(bias_block)(1, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        case 2: UK_NAME(bias_block)(2, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        case 3: UK_NAME(bias_block)(3, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        case 4: UK_NAME(bias_block)(4, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        case 5: UK_NAME(bias_block)(5, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        case 6: UK_NAME(bias_block)(6, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        case 7: UK_NAME(bias_block)(7, d + g0 * NB_HL, yr + g0 * NB_HL, sums + g0 * NB_HL, rows, channels, relu); break;
        default: break;
        }
        /* The last channels (fewer than HL), one at a time: the same steps. */
        for (ptrdiff_t c = whole * NB_HL; c < channels; c++) {
            double s = sums[c];
            for (ptrdiff_t r = 0; r < rows; r++) {
                UK_T v = d[r * channels + c];
                if (relu) {
                    v = yr[r * channels + c] > 0 ? v : 0;
                    d[r * channels + c] = v;
                }
                s = s + v;
            }
            sums[c] = s;
        }
    }
}

#undef NB_HL
#undef NB_GROUPS
#undef NB_TILE
