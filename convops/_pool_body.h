/* One instantiation of the float pooling kernels (see _pool_simd.h for the macros).
 *
 * The loops of _pool_kernels.pyx's _max_rows/_avg_rows, with the channel axis cut into blocks of
 * 4 SIMD vectors whose running max/sum stays in registers over the window (the Cython version
 * keeps it in the output row and re-reads it per window cell). Same arithmetic, same order:
 * max = "replace when value > running" (NaN ignored), avg = sum of the real cells in row-major
 * order in the input dtype, then one division. Bit-identical to the Cython loops. */

typedef PK_T PK_NAME(vec) __attribute__((vector_size(PK_VBYTES)));
typedef PK_I PK_NAME(ivec) __attribute__((vector_size(PK_VBYTES)));
#define PK_L ((ptrdiff_t)(PK_VBYTES / sizeof(PK_T)))
#define PK_LOAD(dst, src) memcpy(&(dst), (src), sizeof(dst))
#define PK_STORE(dst, src) memcpy((dst), &(src), sizeof(src))
/* running = value > running ? value : running, lane by lane. x86's max instructions compute
 * exactly that (second operand when unordered); elsewhere a compare and a bit select. */
#ifdef PK_MAXV
#define PK_MAX(run, v) (run = (PK_NAME(vec))PK_MAXV((v), (run)))
#else
#define PK_MAX(run, v) do { PK_NAME(ivec) m_ = (PK_NAME(ivec))((v) > (run)); \
    run = (PK_NAME(vec))(((PK_NAME(ivec))(v) & m_) | ((PK_NAME(ivec))(run) & ~m_)); } while (0)
#endif
/* sum / count: a multiplication by 1/count when count is a power of two (then both are the
 * correctly rounded value of the same real number: bit-identical, and ~10x cheaper than a vector
 * division, which bounded the large average pools); a division otherwise. */
#define PK_DIV(a, d, inv, exact) ((exact) ? (a) * (inv) : (a) / (d))

static PK_TARGET void PK_NAME(pool_rows)(
        int is_max, const PK_T* x, PK_T* out, ptrdiff_t height, ptrdiff_t width, ptrdiff_t channels,
        ptrdiff_t h_out, ptrdiff_t w_out, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t sw, ptrdiff_t top,
        ptrdiff_t left, int count_include_pad, PK_T lowest, ptrdiff_t r0, ptrdiff_t r1)
{
    ptrdiff_t row, ox, iy, ix, c;
    for (row = r0; row < r1; row++) {
        const ptrdiff_t n = row / h_out, oy = row - n * h_out;
        const ptrdiff_t y0 = oy * sh - top > 0 ? oy * sh - top : 0;
        const ptrdiff_t y1 = oy * sh - top + kh < height ? oy * sh - top + kh : height;
        for (ox = 0; ox < w_out; ox++) {
            const ptrdiff_t x0 = ox * sw - left > 0 ? ox * sw - left : 0;
            const ptrdiff_t x1 = ox * sw - left + kw < width ? ox * sw - left + kw : width;
            PK_T* o = out + (row * w_out + ox) * channels;
            const PK_T start = is_max ? lowest : (PK_T)0;
            const PK_T divisor = count_include_pad ? (PK_T)kh * (PK_T)kw : (PK_T)((y1 - y0) * (x1 - x0));
            const PK_T inverse = (PK_T)1 / divisor;
            const ptrdiff_t cells = (y1 - y0) * (x1 - x0);
            const int exact = count_include_pad ? ((kh & (kh - 1)) == 0 && (kw & (kw - 1)) == 0)
                                                : (cells > 0 && (cells & (cells - 1)) == 0);
            for (c = 0; c + 4 * PK_L <= channels; c += 4 * PK_L) {
                PK_NAME(vec) a0, a1, a2, a3, v0, v1, v2, v3;
                a0 = a1 = a2 = a3 = (PK_NAME(vec)){0} + start;
                for (iy = y0; iy < y1; iy++) {
                    for (ix = x0; ix < x1; ix++) {
                        const PK_T* s = x + ((n * height + iy) * width + ix) * channels + c;
                        PK_LOAD(v0, s); PK_LOAD(v1, s + PK_L); PK_LOAD(v2, s + 2 * PK_L); PK_LOAD(v3, s + 3 * PK_L);
                        if (is_max) {
                            PK_MAX(a0, v0); PK_MAX(a1, v1); PK_MAX(a2, v2); PK_MAX(a3, v3);
                        } else {
                            a0 += v0; a1 += v1; a2 += v2; a3 += v3;
                        }
                    }
                }
                if (!is_max) {
                    a0 = PK_DIV(a0, divisor, inverse, exact); a1 = PK_DIV(a1, divisor, inverse, exact);
                    a2 = PK_DIV(a2, divisor, inverse, exact); a3 = PK_DIV(a3, divisor, inverse, exact);
                }
                PK_STORE(o + c, a0); PK_STORE(o + c + PK_L, a1); PK_STORE(o + c + 2 * PK_L, a2);
                PK_STORE(o + c + 3 * PK_L, a3);
            }
            for (; c + PK_L <= channels; c += PK_L) {
                PK_NAME(vec) a0 = (PK_NAME(vec)){0} + start, v0;
                for (iy = y0; iy < y1; iy++)
                    for (ix = x0; ix < x1; ix++) {
                        PK_LOAD(v0, x + ((n * height + iy) * width + ix) * channels + c);
                        if (is_max)
                            PK_MAX(a0, v0);
                        else
                            a0 += v0;
                    }
                if (!is_max)
                    a0 = PK_DIV(a0, divisor, inverse, exact);
                PK_STORE(o + c, a0);
            }
            for (; c < channels; c++) {
                PK_T a = start, v;
                for (iy = y0; iy < y1; iy++)
                    for (ix = x0; ix < x1; ix++) {
                        v = x[((n * height + iy) * width + ix) * channels + c];
                        if (is_max)
                            a = v > a ? v : a;
                        else
                            a = a + v;
                    }
                o[c] = is_max ? a : a / divisor;
            }
        }
    }
}

#undef PK_L
#undef PK_LOAD
#undef PK_STORE
#undef PK_MAX
#undef PK_DIV
