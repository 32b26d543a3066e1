/* One copy of the float pooling kernels, for one element type and instruction set.
 *
 * Why C and not Cython: the kernels keep a block of SIMD vectors of running max/sum in registers,
 * and Cython has no vector types and no per-function target attribute. simd_instantiate.h
 * (through pool_simd.h) includes this file once per (element type, instruction set) with UK_T,
 * UK_I, UK_DOUBLE, UK_VBYTES, UK_TARGET and UK_NAME(x) set.
 *
 * The loops of _max_rows/_avg_rows in convops/_kernels/pool.pyx, with the channel axis cut into
 * blocks of 4, 2 or 1 SIMD vectors whose running max/sum stays in registers over the window (the
 * Cython version keeps it in the output row and re-reads it per window cell). Same arithmetic,
 * same order: max = "replace when value > running" (NaN ignored), avg = sum of the real cells in
 * row-major order in the input dtype, then one division. Bit-identical to the Cython loops.
 *
 * Why the window loops are unrolled for 2x2 and 3x3 windows: on inputs larger than the caches,
 * a loop over the window's cells reuses each load instruction for cells of two rows, so the
 * addresses one instruction sees jump back and forth, and the CPU's per-instruction stride
 * prefetcher gives up. Measured on 8x112x112x64 float32, 2x2/2, AVX-512, 1 core: 0.85-0.95 ms
 * with the loop, 0.48-0.57 ms fully unrolled (every load instruction then steps by the same
 * stride from cell to cell), the same as a hand-written 2x2 kernel. Cached inputs gain less
 * (less per-cell bookkeeping). So each output row is split into its border cells (window
 * clipped by padding: the general loop) and its interior run, whose windows all have the same
 * shape and divisor; 2x2 and 3x3 interior windows get unrolled copies, others the general loop.
 * A variant that accumulated into the output row (window offset outside, cells inside) was
 * slower still (1.15 ms). */

typedef UK_T UK_NAME(vec) __attribute__((vector_size(UK_VBYTES)));
typedef UK_I UK_NAME(ivec) __attribute__((vector_size(UK_VBYTES)));
#define PK_L ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))
#define PK_LOAD(dst, src) memcpy(&(dst), (src), sizeof(dst))
#define PK_STORE(dst, src) memcpy((dst), &(src), sizeof(src))
/* running = value > running ? value : running, lane by lane. x86's max instructions compute
 * exactly that (second operand when unordered); elsewhere, and for the AVX-512 copy of the
 * AVX2 test build (simd_isa.h), a compare and a bit select. */
#if CONVOPS_SIMD_X86 && UK_VBYTES == 64 && !CONVOPS_EMULATE_AVX512
#define PK_MAXV UK_PER_TYPE(_mm512_max_ps, _mm512_max_pd)
#elif CONVOPS_SIMD_X86 && UK_VBYTES == 32
#define PK_MAXV UK_PER_TYPE(_mm256_max_ps, _mm256_max_pd)
#elif CONVOPS_SIMD_X86 && UK_VBYTES == 16
#define PK_MAXV UK_PER_TYPE(_mm_max_ps, _mm_max_pd)
#endif
#ifdef PK_MAXV
#define PK_MAX(run, v) (run = (UK_NAME(vec))PK_MAXV((v), (run)))
#else
#define PK_MAX(run, v) do { UK_NAME(ivec) m_ = (UK_NAME(ivec))((v) > (run)); \
    run = (UK_NAME(vec))(((UK_NAME(ivec))(v) & m_) | ((UK_NAME(ivec))(run) & ~m_)); } while (0)
#endif
#define PK_ACC(run, v) do { if (is_max) PK_MAX(run, v); else run += (v); } while (0)
/* sum / count: a multiplication by 1/count when count is a power of two (then both are the
 * correctly rounded value of the same real number: bit-identical, and ~10x cheaper than a vector
 * division, which bounded the large average pools); a division otherwise. */
#define PK_DIV(a, d, inv, exact) ((exact) ? (a) * (inv) : (a) / (d))
/* Non-temporal ("streaming") stores write whole cache lines to memory without first reading
 * them into the cache (the write-allocate read a normal store triggers) and without evicting
 * the input. Used only for outputs too large to stay cached (pooling.py decides) and only when
 * every vector store is aligned (checked in pool_rows). Measured on the 8x112x112x64 float32
 * 2x2/2 average pool (6.4 MB out), 1 core: 0.71 -> 0.51 ms with 32-byte vectors. */
#if CONVOPS_SIMD_X86 && UK_VBYTES == 64 && !CONVOPS_EMULATE_AVX512
#define PK_NT(p, v) _mm512_stream_si512((__m512i*)(void*)(p), (__m512i)(v))
#elif CONVOPS_SIMD_X86 && UK_VBYTES == 32
#define PK_NT(p, v) _mm256_stream_si256((__m256i*)(void*)(p), (__m256i)(v))
#elif CONVOPS_SIMD_X86 && UK_VBYTES == 16
#define PK_NT(p, v) _mm_stream_si128((__m128i*)(void*)(p), (__m128i)(v))
#endif
#ifdef PK_NT
#define PK_PUT(p, v) do { if (stream) PK_NT(p, v); else PK_STORE(p, v); } while (0)
#else
#define PK_PUT(p, v) PK_STORE(p, v)
#endif
#define PK_INLINE static inline __attribute__((always_inline)) UK_TARGET

/* What an average divides by: the window's cell count, and whether 1/count is exact. */
typedef struct { UK_T divisor, inverse; int exact; } UK_NAME(div);

PK_INLINE UK_NAME(div) UK_NAME(divisor)(int count_include_pad, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t cells)
{
    UK_NAME(div) d;
    /* In floating point: kh * kw in ptrdiff_t wraps for windows near the 2**60 limit. */
    d.divisor = count_include_pad ? (UK_T)kh * (UK_T)kw : (UK_T)cells;
    d.inverse = (UK_T)1 / d.divisor;
    d.exact = count_include_pad ? ((kh & (kh - 1)) == 0 && (kw & (kw - 1)) == 0)
                                : (cells > 0 && (cells & (cells - 1)) == 0);
    return d;
}

/* `ncells` output cells o, o + channels, ... whose windows (rows x cols real cells, top-left at
 * s, s + step, ...) have the same shape. Inlined with constant rows/cols for the unrolled copies. */
PK_INLINE void UK_NAME(cells)(const int is_max, const UK_T* s, UK_T* o, const ptrdiff_t ncells,
                              const ptrdiff_t step, const ptrdiff_t rows, const ptrdiff_t cols,
                              const ptrdiff_t row_stride, const ptrdiff_t channels, const UK_T start,
                              const UK_NAME(div) d, const int stream)
{
    ptrdiff_t k, c, iy, ix;
    const UK_T* const s0 = s;
    UK_T* const o0 = o;
    for (k = 0; k < ncells; k++) {
        /* Indexed, not advanced after each cell: a pointer stepped past the last cell by a huge
         * stride would overflow (undefined behaviour, caught by UBSan). */
        s = s0 + k * step;
        o = o0 + k * channels;
        for (c = 0; c + 4 * PK_L <= channels; c += 4 * PK_L) {
            UK_NAME(vec) a0, a1, a2, a3, v0, v1, v2, v3;
            a0 = a1 = a2 = a3 = (UK_NAME(vec)){0} + start;
            for (iy = 0; iy < rows; iy++)
                for (ix = 0; ix < cols; ix++) {
                    const UK_T* p = s + iy * row_stride + ix * channels + c;
                    PK_LOAD(v0, p); PK_LOAD(v1, p + PK_L); PK_LOAD(v2, p + 2 * PK_L); PK_LOAD(v3, p + 3 * PK_L);
                    PK_ACC(a0, v0); PK_ACC(a1, v1); PK_ACC(a2, v2); PK_ACC(a3, v3);
                }
            if (!is_max) {
                a0 = PK_DIV(a0, d.divisor, d.inverse, d.exact); a1 = PK_DIV(a1, d.divisor, d.inverse, d.exact);
                a2 = PK_DIV(a2, d.divisor, d.inverse, d.exact); a3 = PK_DIV(a3, d.divisor, d.inverse, d.exact);
            }
            PK_PUT(o + c, a0); PK_PUT(o + c + PK_L, a1); PK_PUT(o + c + 2 * PK_L, a2);
            PK_PUT(o + c + 3 * PK_L, a3);
        }
        /* Two vectors: 32 float32 channels on AVX-512 (the 26x26x32 pools) in one block. */
        if (c + 2 * PK_L <= channels) {
            UK_NAME(vec) a0, a1, v0, v1;
            a0 = a1 = (UK_NAME(vec)){0} + start;
            for (iy = 0; iy < rows; iy++)
                for (ix = 0; ix < cols; ix++) {
                    const UK_T* p = s + iy * row_stride + ix * channels + c;
                    PK_LOAD(v0, p); PK_LOAD(v1, p + PK_L);
                    PK_ACC(a0, v0); PK_ACC(a1, v1);
                }
            if (!is_max) {
                a0 = PK_DIV(a0, d.divisor, d.inverse, d.exact); a1 = PK_DIV(a1, d.divisor, d.inverse, d.exact);
            }
            PK_PUT(o + c, a0); PK_PUT(o + c + PK_L, a1);
            c += 2 * PK_L;
        }
        if (c + PK_L <= channels) {
            UK_NAME(vec) a0 = (UK_NAME(vec)){0} + start, v0;
            for (iy = 0; iy < rows; iy++)
                for (ix = 0; ix < cols; ix++) {
                    PK_LOAD(v0, s + iy * row_stride + ix * channels + c);
                    PK_ACC(a0, v0);
                }
            if (!is_max)
                a0 = PK_DIV(a0, d.divisor, d.inverse, d.exact);
            PK_PUT(o + c, a0);
            c += PK_L;
        }
        for (; c < channels; c++) {
            UK_T a = start, v;
            for (iy = 0; iy < rows; iy++)
                for (ix = 0; ix < cols; ix++) {
                    v = s[iy * row_stride + ix * channels + c];
                    if (is_max)
                        a = v > a ? v : a;
                    else
                        a = a + v;
                }
            o[c] = is_max ? a : a / d.divisor;
        }
    }
}

PK_INLINE void UK_NAME(rows)(
        const int is_max, const UK_T* x, UK_T* out, ptrdiff_t height, ptrdiff_t width, ptrdiff_t channels,
        ptrdiff_t h_out, ptrdiff_t w_out, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t sw, ptrdiff_t top,
        ptrdiff_t left, int count_include_pad, UK_T lowest, int stream, ptrdiff_t r0, ptrdiff_t r1)
{
    const UK_T start = is_max ? lowest : (UK_T)0;
    const ptrdiff_t row_stride = width * channels, step = sw * channels;
    /* Interior cells: ox in [ox_lo, ox_hi), the window inside the input horizontally. */
    ptrdiff_t ox_lo = (left + sw - 1) / sw, ox_hi = width + left - kw >= 0 ? (width + left - kw) / sw + 1 : 0;
    ptrdiff_t row, ox;
    ox_hi = ox_hi < w_out ? ox_hi : w_out;
    ox_lo = ox_lo < ox_hi ? ox_lo : ox_hi;
    for (row = r0; row < r1; row++) {
        const ptrdiff_t n = row / h_out, oy = row - n * h_out;
        const ptrdiff_t y0 = oy * sh - top > 0 ? oy * sh - top : 0;
        const ptrdiff_t y1 = oy * sh - top + kh < height ? oy * sh - top + kh : height;
        const ptrdiff_t rows = y1 > y0 ? y1 - y0 : 0;
        /* Not dereferenced when the window has no rows (H = 0 under explicit padding). */
        const UK_T* xr = rows ? x + (n * height + y0) * row_stride : x;
        UK_T* o = out + row * w_out * channels;
        for (ox = 0; ox < w_out; ox++) {
            if (ox == ox_lo) {
                /* The interior run, then continue with the border cells after it. */
                const ptrdiff_t run = ox_hi - ox_lo;
                /* Only formed for a non-empty run: with a huge stride, ox_lo * sw overflows. */
                const UK_T* s = rows && run ? xr + (ox_lo * sw - left) * channels : x;
                UK_T* oo = o + ox_lo * channels;
                const UK_NAME(div) d = UK_NAME(divisor)(count_include_pad, kh, kw, rows * kw);
                if (rows == 2 && kw == 2)
                    UK_NAME(cells)(is_max, s, oo, run, step, 2, 2, row_stride, channels, start, d, stream);
                else if (rows == 3 && kw == 3)
                    UK_NAME(cells)(is_max, s, oo, run, step, 3, 3, row_stride, channels, start, d, stream);
                else
                    UK_NAME(cells)(is_max, s, oo, run, step, rows, kw, row_stride, channels, start, d, stream);
                ox = ox_hi;
                if (ox >= w_out)
                    break;
            }
            {
                const ptrdiff_t x0 = ox * sw - left > 0 ? ox * sw - left : 0;
                const ptrdiff_t x1 = ox * sw - left + kw < width ? ox * sw - left + kw : width;
                const ptrdiff_t cols = x1 > x0 ? x1 - x0 : 0;
                const UK_NAME(div) d = UK_NAME(divisor)(count_include_pad, kh, kw, rows * cols);
                UK_NAME(cells)(is_max, rows && cols ? xr + x0 * channels : x, o + ox * channels, 1, step, rows,
                               cols, row_stride, channels, start, d, stream);
            }
        }
    }
}

/* is_max is a constant in each copy, so neither copy tests it per cell. `stream` asks for
 * non-temporal stores; they are used only if every vector store of the output is aligned (the
 * output and each cell's channels a multiple of the vector size), else ignored. */
static UK_TARGET void UK_NAME(pool_rows)(
        int is_max, const UK_T* x, UK_T* out, ptrdiff_t height, ptrdiff_t width, ptrdiff_t channels,
        ptrdiff_t h_out, ptrdiff_t w_out, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t sh, ptrdiff_t sw, ptrdiff_t top,
        ptrdiff_t left, int count_include_pad, UK_T lowest, int stream, ptrdiff_t r0, ptrdiff_t r1)
{
#ifdef PK_NT
    stream = stream && (uintptr_t)out % UK_VBYTES == 0 && channels % PK_L == 0;
#else
    stream = 0;
#endif
    if (is_max)
        UK_NAME(rows)(1, x, out, height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left, 0, lowest,
                      stream, r0, r1);
    else
        UK_NAME(rows)(0, x, out, height, width, channels, h_out, w_out, kh, kw, sh, sw, top, left,
                      count_include_pad, lowest, stream, r0, r1);
#ifdef PK_NT
    /* Streaming stores are weakly ordered: make them visible before the caller reports this
     * chunk done (and another thread, or Python, reads the output). */
    if (stream)
        _mm_sfence();
#endif
}

#undef PK_L
#undef PK_LOAD
#undef PK_STORE
#undef PK_MAX
#undef PK_MAXV
#undef PK_ACC
#undef PK_DIV
#undef PK_INLINE
#undef PK_PUT
#undef PK_NT
