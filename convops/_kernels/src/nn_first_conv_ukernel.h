/* One copy of the first-layer gradient kernel (nn_first_conv_simd.h), for one element type and
 * instruction set (simd_instantiate.h sets UK_T, UK_I, UK_VBYTES, UK_TARGET and UK_NAME(x)).
 *
 * A model's first Conv2D needs no input gradient, only
 *     dW[ky, kx, ci, co] = sum over (n, oy, ox) of x[n, oy*sh + ky*dh - top, ox*sw + kx*dw - left, ci] * dz[n, oy, ox, co]
 *     db[co]             = sum over (n, oy, ox) of dz[n, oy, ox, co]
 * and when a max pool with windows that do not overlap sits on it, dz is zero but at one cell per
 * pooled output and channel: its argmax, where it is the pool's gradient dy, masked by the ReLU
 * (on where the pooled value -- the ReLU's output at the argmax -- is > 0). So the sums run over
 * the pooled outputs, reading dy, the pooled values and the one-byte positions (codes), and dz is
 * never written: for the tutorial's first layer 1.4 MB read instead of a 5.5 MB dz written by the
 * pool's backward, read and rewritten by the ReLU's, and read by the filter gradient.
 *
 * Per pooled output and vector of channels: g = dy masked by the ReLU; the bias sums (double) add
 * g; each tap's sum adds g * x at the tap's input cell for the window position each channel's code
 * names (a permutation of the window's cells by the codes, or a select among them; a cell on the
 * conv's padding is 0, and multiplied, as TensorFlow multiplies it: 0 * inf = NaN). Up to four
 * vectors of channels run together, reading each tap's cells once: the tutorial's first layer
 * (batch 64, 1 thread, thread time, alternating builds) took 1.43-1.46 ms with AVX2 and 0.66 with
 * AVX-512 when each vector read them and selected with a mask per position, 1.09-1.14 and 0.50-0.54
 * now, and half the time in double (Emerald Rapids). So each sum adds the dense filter gradient's products
 * with dz's nonzero entries, one per pooled output in order; the products with its zeros are left
 * out, which changes nothing for a finite x (the caller checks). Channels past the last whole
 * vector take the same steps one at a time, so every copy gives the same bits (nn is compiled
 * with -ffp-contract=off). Each call sums images
 * [n0, n1) into its own dw (K x C_out, K = kh * kw * c_in in HWIO order) and bias sums; the caller
 * adds the calls' partial sums in a fixed order. */

#define FC_V ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))   /* channels per vector */
typedef UK_T UK_NAME(fvec) __attribute__((vector_size(UK_VBYTES)));
typedef UK_I UK_NAME(fivec) __attribute__((vector_size(UK_VBYTES)));
typedef double UK_NAME(fdvec) __attribute__((vector_size(FC_V * sizeof(double)))); /* g's lanes, widened */

/* A zero input cell for taps on the conv's padding: c_in <= 256 (the caller checks K <= 256). */
#ifndef CONVOPS_FIRST_CONV_ZEROS
#define CONVOPS_FIRST_CONV_ZEROS
static const double convops_first_conv_zeros[256];
#endif

/* One vector of codes, widened to the lanes' integers: vpmovzx on x86 (GCC 12 widens the
 * generic vectors byte by byte through general registers there). */
static inline __attribute__((always_inline)) UK_TARGET UK_NAME(fivec) UK_NAME(fc_codes)(const unsigned char* codes)
{
    UK_NAME(fivec) wide;
#if CONVOPS_SIMD_X86 && UK_VBYTES == 64 && !CONVOPS_EMULATE_AVX512
    const __m512i lanes = UK_PER_TYPE(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)codes)),
                                      _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i*)codes)));
    memcpy(&wide, &lanes, sizeof(wide));
#elif CONVOPS_SIMD_X86 && UK_VBYTES >= 32
    for (int h = 0; h < UK_VBYTES / 32; h++) { /* 32 bytes of lanes at a time: AVX2's widening */
        const unsigned char* c = codes + h * (32 / sizeof(UK_T));
        int32_t four;
        memcpy(&four, c, sizeof(four));
        const __m256i lanes = UK_PER_TYPE(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)c)),
                                          _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(four)));
        memcpy((char*)&wide + h * 32, &lanes, 32);
    }
#else
    for (ptrdiff_t j = 0; j < FC_V; j++)
        wide[j] = codes[j];
#endif
    return wide;
}

/* Up to FC_GROUP vectors of channels are taken together, so that each tap's input cells are read
 * once for all of them (only the codes differ from one vector to the next). */
#define FC_GROUP 4

/* Where the instruction set can move lanes by an index vector, the cell a code names is one
 * permutation of a vector holding the window's cells in lanes 0-3: one instruction per vector of
 * channels instead of a broadcast and a select per window position. A selection either way: the
 * same bits. (The AVX-512 copy built for AVX2, for tests, selects.) */
#if CONVOPS_SIMD_X86 && UK_VBYTES >= 32 && !CONVOPS_EMULATE_AVX512
#define FC_PERMUTE 1
static inline __attribute__((always_inline)) UK_TARGET UK_NAME(fvec) UK_NAME(fc_pick)(UK_NAME(fvec) cells,
                                                                                      UK_NAME(fivec) code)
{
#if UK_VBYTES == 64
    return (UK_NAME(fvec))UK_PER_TYPE(_mm512_permutexvar_ps((__m512i)code, (__m512)cells),
                                      _mm512_permutexvar_pd((__m512i)code, (__m512d)cells));
#else
    /* AVX2 moves 32-bit lanes only: a double's two halves are lanes 2c and 2c + 1. */
    return (UK_NAME(fvec))UK_PER_TYPE(
        _mm256_permutevar8x32_ps((__m256)cells, (__m256i)code),
        (__m256d)_mm256_permutevar8x32_ps((__m256)cells, (__m256i)(code * 2 + ((code * 2 + 1) << 32))));
#endif
}
#else
#define FC_PERMUTE 0
#endif

/* nv (1..FC_GROUP) vectors of channels of one pooled output, its window having `positions`
 * (constant) cells: cells[t * 4 + q] is the input cell of tap t for window position q (only
 * q < positions are set). */
static inline __attribute__((always_inline)) UK_TARGET void UK_NAME(fc_group)(
        const int positions, int nv, const UK_T* dy, const UK_T* pooled, const unsigned char* codes, UK_T* dw,
        double* bias, const UK_T* const* cells, ptrdiff_t taps_hw, ptrdiff_t c_in, ptrdiff_t c_out, int relu)
{
    UK_NAME(fvec) g[FC_GROUP];
    UK_NAME(fivec) code[FC_GROUP];
#if !FC_PERMUTE
    UK_NAME(fivec) is[FC_GROUP][4];
#endif
    for (int v = 0; v < nv; v++) {
        UK_NAME(fvec) pv;
        memcpy(&g[v], dy + v * FC_V, sizeof(g[v]));
        if (relu) {
            memcpy(&pv, pooled + v * FC_V, sizeof(pv));
            g[v] = (UK_NAME(fvec))((UK_NAME(fivec))g[v] & (UK_NAME(fivec))(pv > (UK_NAME(fvec)){0}));
        }
        UK_NAME(fdvec) sums; /* the bias sums, in double */
        memcpy(&sums, bias + v * FC_V, sizeof(sums));
        sums += __builtin_convertvector(g[v], UK_NAME(fdvec));
        memcpy(bias + v * FC_V, &sums, sizeof(sums));
        code[v] = UK_NAME(fc_codes)(codes + v * FC_V);
#if !FC_PERMUTE
        for (int q = 1; q < positions; q++)
            is[v][q] = code[v] == (UK_I)q;
#endif
    }
    for (ptrdiff_t t = 0; t < taps_hw; t++) {
        const UK_T* const* tc = cells + t * 4;
        UK_T* row = dw + t * c_in * c_out;
        for (ptrdiff_t ci = 0; ci < c_in; ci++) {
#if FC_PERMUTE
            UK_NAME(fvec) four = (UK_NAME(fvec)){0};
            for (int q = 0; q < positions; q++)
                four[q] = tc[q][ci];
#else
            UK_NAME(fvec) bc[4];
            for (int q = 0; q < positions; q++)
                bc[q] = (UK_NAME(fvec)){0} + tc[q][ci];
#endif
            for (int v = 0; v < nv; v++) {
#if FC_PERMUTE
                const UK_NAME(fvec) xs = UK_NAME(fc_pick)(four, code[v]);
#else
                UK_NAME(fivec) bits = (UK_NAME(fivec))bc[0];
                for (int q = 1; q < positions; q++) /* a bit select (C has no vector ?:) */
                    bits = (is[v][q] & (UK_NAME(fivec))bc[q]) | (~is[v][q] & bits);
                const UK_NAME(fvec) xs = (UK_NAME(fvec))bits;
#endif
                UK_NAME(fvec) acc;
                memcpy(&acc, row + ci * c_out + v * FC_V, sizeof(acc));
                acc = acc + g[v] * xs;
                memcpy(row + ci * c_out + v * FC_V, &acc, sizeof(acc));
            }
        }
    }
}

static UK_TARGET void UK_NAME(first_conv_grads)(const UK_T* x, const UK_T* dy, const UK_T* pooled,
                                                const unsigned char* codes, UK_T* dw, double* bias,
                                                ptrdiff_t n0, ptrdiff_t n1, const convops_first_conv_plan* p)
{
    const ptrdiff_t c_out = p->c_out, c_in = p->c_in, positions = p->pkh * p->pkw, taps_hw = p->kh * p->kw;
    const ptrdiff_t whole = c_out / FC_V * FC_V;
    const UK_T* zeros = (const UK_T*)convops_first_conv_zeros;
    const UK_T* cells[256 * 4];
    /* Input rows and columns of tap t for window position q, relative to the pooled output's
     * (py * psh * sh, px * psw * sw): no division per pooled output. */
    ptrdiff_t rel_y[256 * 4], rel_x[256 * 4], rel[256 * 4];
    ptrdiff_t lo_y = 0, hi_y = 0, lo_x = 0, hi_x = 0; /* their range over every t and q */
    for (ptrdiff_t t = 0; t < taps_hw; t++) {
        for (ptrdiff_t q = positions; q < 4; q++) /* unused slots, set all the same */
            rel_y[t * 4 + q] = rel_x[t * 4 + q] = rel[t * 4 + q] = 0;
        for (ptrdiff_t q = 0; q < positions; q++) {
            const ptrdiff_t ry = (q / p->pkw - p->ptop) * p->sh + t / p->kw * p->dh - p->pad_top;
            const ptrdiff_t rx = (q % p->pkw - p->pleft) * p->sw + t % p->kw * p->dw - p->pad_left;
            rel_y[t * 4 + q] = ry;
            rel_x[t * 4 + q] = rx;
            rel[t * 4 + q] = (ry * p->width + rx) * c_in;
            lo_y = (t | q) == 0 || ry < lo_y ? ry : lo_y;
            hi_y = (t | q) == 0 || ry > hi_y ? ry : hi_y;
            lo_x = (t | q) == 0 || rx < lo_x ? rx : lo_x;
            hi_x = (t | q) == 0 || rx > hi_x ? rx : hi_x;
        }
    }
    for (ptrdiff_t n = n0; n < n1; n++) {
        const UK_T* image = x + n * p->height * p->width * c_in;
        for (ptrdiff_t py = 0; py < p->pool_h; py++) {
            const ptrdiff_t oy = py * p->psh * p->sh, cy0 = py * p->psh - p->ptop;
            /* Every window row inside the conv's output and every tap row inside the image. */
            const int rows_inside = cy0 >= 0 && cy0 + p->pkh <= p->conv_h && oy + lo_y >= 0 && oy + hi_y < p->height;
            for (ptrdiff_t px = 0; px < p->pool_w; px++) {
                const ptrdiff_t cell = ((n * p->pool_h + py) * p->pool_w + px) * c_out;
                const ptrdiff_t ox = px * p->psw * p->sw, cx0 = px * p->psw - p->pleft;
                const int inside = rows_inside && cx0 >= 0 && cx0 + p->pkw <= p->conv_w && ox + lo_x >= 0 &&
                                   ox + hi_x < p->width;
                /* Each tap's input cell for each window position: zeros where the window is
                 * clipped (no code names those) or the tap is on the conv's padding. */
                if (inside) {
                    const UK_T* base = image + (oy * p->width + ox) * c_in;
                    for (ptrdiff_t i = 0; i < taps_hw * 4; i++)
                        cells[i] = base + rel[i];
                } else {
                    for (ptrdiff_t t = 0; t < taps_hw; t++) {
                        for (ptrdiff_t q = 0; q < positions; q++) {
                            const ptrdiff_t iy = oy + rel_y[t * 4 + q], ix = ox + rel_x[t * 4 + q];
                            const ptrdiff_t cy = cy0 + q / p->pkw, cx = cx0 + q % p->pkw;
                            const int real = cy >= 0 && cy < p->conv_h && cx >= 0 && cx < p->conv_w && iy >= 0 &&
                                             iy < p->height && ix >= 0 && ix < p->width;
                            cells[t * 4 + q] = real ? image + (iy * p->width + ix) * c_in : zeros;
                        }
                    }
                }
                ptrdiff_t c0 = 0;
                while (c0 < whole) {
                    const ptrdiff_t at = cell + c0;
                    const int nv = (int)((whole - c0) / FC_V < FC_GROUP ? (whole - c0) / FC_V : FC_GROUP);
                    switch (positions) { /* a constant count: the selects unrolled */
                    case 4: UK_NAME(fc_group)(4, nv, dy + at, pooled + at, codes + at, dw + c0, bias + c0, cells, taps_hw, c_in, c_out, p->relu); break;
                    case 3: UK_NAME(fc_group)(3, nv, dy + at, pooled + at, codes + at, dw + c0, bias + c0, cells, taps_hw, c_in, c_out, p->relu); break;
                    case 2: UK_NAME(fc_group)(2, nv, dy + at, pooled + at, codes + at, dw + c0, bias + c0, cells, taps_hw, c_in, c_out, p->relu); break;
                    default: UK_NAME(fc_group)(1, nv, dy + at, pooled + at, codes + at, dw + c0, bias + c0, cells, taps_hw, c_in, c_out, p->relu); break;
                    }
                    c0 += nv * FC_V;
                }
                for (; c0 < c_out; c0++) { /* the last channels, one at a time: the same steps */
                    UK_T g = dy[cell + c0];
                    if (p->relu)
                        g = pooled[cell + c0] > 0 ? g : 0;
                    bias[c0] = bias[c0] + (double)g;
                    const ptrdiff_t code = codes[cell + c0];
                    for (ptrdiff_t t = 0; t < taps_hw; t++) {
                        const UK_T* xs = cells[t * 4 + code];
                        UK_T* row = dw + t * c_in * c_out + c0;
                        for (ptrdiff_t ci = 0; ci < c_in; ci++)
                            row[ci * c_out] = row[ci * c_out] + g * xs[ci];
                    }
                }
            }
        }
    }
}

#undef FC_V
#undef FC_GROUP
#undef FC_PERMUTE
