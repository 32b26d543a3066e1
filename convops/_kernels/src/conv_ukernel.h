/* One copy of conv2d's register-blocked micro-kernels, for one element type and instruction set.
 *
 * Why C and not Cython: a micro-kernel must keep P x V SIMD accumulators in registers, and
 * Cython has no vector types and no per-function target attribute. This file holds the loops;
 * simd_instantiate.h (through conv_simd.h) includes it once per (element type, instruction set)
 * with UK_T, UK_VBYTES, UK_TARGET and UK_NAME(x) set, and UK_BLOCK(v) = output pixels per block
 * when the block is v (1..4) vectors of channels wide (UK_ALT(v) the second choice, conv_simd.h).
 * The readable Cython versions of the same loops are conv2d_naive and conv2d_direct in
 * convops/_kernels/conv.pyx.
 */

typedef UK_T UK_NAME(vec) __attribute__((vector_size(UK_VBYTES)));
#define UK_L ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))

/* Pixel p's input in a block of evenly spaced pixels (UK_NAME(block) with `even`, which only
 * blocks one AVX-512 vector wide are: UK_NAME(run), UK_BLOCK_CASE): xb is pixel 0's input, b3
 * and b10 pixels 3 and 10's (formed only when the block has them), s1 and s3 one and three
 * pixels' distance in bytes. Every address is one base plus a scaled index, as x86 addresses
 * memory ([base + index * 1, 2, 4 or 8]): pixels 0-15 take three bases and two indices, five
 * registers for any P. UK_EVEN_ADDRESS(SCALED, ONE) names pixel p's as SCALED(base, index, scale)
 * or ONE(base).
 *
 * Why: a block of one vector of output channels holds up to 16 pixels, and with a pointer per
 * pixel 16 pointers do not fit x86-64's 15 free general registers: GCC kept some in vector
 * registers and moved them back per multiply-add, on an FMA port (9 x 9 filters, 16 channels,
 * Emerald Rapids). Written in C (xb + p * s1), GCC hoists each p * s1 into a register of its own,
 * the same problem, so on x86-64 each multiply-add is one instruction naming its base, index and
 * scale (UK_NAME(even_madd)). The narrower sets' blocks hold at most 12 pixels, and two-vector
 * blocks measured as fast with a pointer per pixel. */
#define UK_EVEN_ADDRESS(SCALED, ONE) \
    switch (p) { \
    case 0: ONE(xb); break; \
    case 1: SCALED(xb, s1, 1); break; \
    case 2: SCALED(xb, s1, 2); break; \
    case 3: SCALED(xb, s3, 1); break; \
    case 4: SCALED(xb, s1, 4); break; \
    case 5: SCALED(b3, s1, 2); break; \
    case 6: SCALED(xb, s3, 2); break; \
    case 7: SCALED(b3, s1, 4); break; \
    case 8: SCALED(xb, s1, 8); break; \
    case 9: SCALED(b3, s3, 2); break; \
    case 10: ONE(b10); break; \
    case 11: SCALED(b3, s1, 8); break; \
    case 12: SCALED(xb, s3, 4); break; \
    case 13: SCALED(b10, s3, 1); break; \
    case 14: SCALED(b10, s1, 4); break; \
    default: SCALED(b3, s3, 4); break; \
    }

/* acc + x[pixel p] * w. On x86-64 with AVX-512: one FMA whose broadcast is its memory operand
 * ({1to16}), which reads memory and says so ("memory"). Folding the broadcast into the FMA pays
 * on AMD Zen 4, where a separate broadcast into a 512-bit register takes a vector pipe the FMAs
 * need, and a block one vector wide needs a broadcast per multiply-add: 9 x 9 filters on 16
 * channels (4x112x112, 1 thread) ran 23.6 ms at 75% of the FMA peak with vbroadcastss, 17.9 ms
 * (99%) folded. On Intel Emerald Rapids a trial of the fold ran as fast as the broadcast.
 *
 * The FMA rounds once, as the C form's acc + r * w does only where the compiler fuses it: GCC
 * from -O2, and at -O1 with -fexpensive-optimizations (setup.py's sanitizer build), clang at
 * every level. So the asm is compiled only in optimised builds (__OPTIMIZE__), where every copy
 * rounds each multiply-add once; elsewhere (the AVX-512 copy built for AVX2 for tests,
 * simd_isa.h; builds without optimisation) the C form: the same values and roundings, so the
 * same bits on every instruction set. */
#if UK_VBYTES == 64 && defined(__x86_64__) && !CONVOPS_EMULATE_AVX512 && defined(__OPTIMIZE__)
#define UK_FMA_INSN UK_PER_TYPE("vfmadd231ps", "vfmadd231pd")
#define UK_FMA_BC UK_PER_TYPE("%{1to16%}", "%{1to8%}")
#define UK_SCALED(base, idx, sc) \
    __asm__ volatile(UK_FMA_INSN " (%1,%2," #sc ")" UK_FMA_BC ", %3, %0" : "+v"(acc) : "r"(base), "r"(idx), "v"(w) : "memory")
#define UK_ONE(base) __asm__ volatile(UK_FMA_INSN " (%1)" UK_FMA_BC ", %2, %0" : "+v"(acc) : "r"(base), "v"(w) : "memory")
#else
#define UK_SCALED(base, idx, sc) acc += (*(const UK_T*)((base) + (sc) * (idx)) - (UK_NAME(vec)){0}) * w
#define UK_ONE(base) acc += (*(const UK_T*)(base) - (UK_NAME(vec)){0}) * w
#endif
static inline __attribute__((always_inline)) UK_TARGET UK_NAME(vec) UK_NAME(even_madd)(
        const int p, UK_NAME(vec) acc, const UK_NAME(vec) w, const char* xb, const char* b3, const char* b10,
        ptrdiff_t s1, ptrdiff_t s3)
{
    UK_EVEN_ADDRESS(UK_SCALED, UK_ONE);
    return acc;
}
#undef UK_SCALED
#undef UK_ONE

/* A partial vector: the first n (0 < n < UK_L) lanes of src into dst (the other lanes 0), and
 * back. With AVX-512, one masked load or store. Elsewhere a memcpy of n elements, which GCC makes
 * a call or a byte loop: the accumulator goes through the stack, which the narrower sets' blocks
 * pay only at the block's ends. The AVX-512 blocks one vector wide multiply-add by inline
 * assembly (UK_NAME(even_madd)), and there a memcpy made GCC keep the accumulator in memory
 * around every FMA: forced to AVX-512, 64x30x30x32 -> 12 channels (one partial vector, 1 thread,
 * Zen 4) took 9.7 ms, 4.7 with the masked copies (AVX2: 4.6). Only the lanes' bits move, so
 * every copy gives the same results. */
#if UK_VBYTES == 64 && CONVOPS_SIMD_X86 && !CONVOPS_EMULATE_AVX512
#define UK_LOAD_PART(dst, src, n) \
    ((dst) = (UK_NAME(vec))UK_PER_TYPE(_mm512_maskz_loadu_ps, _mm512_maskz_loadu_pd)( \
         (UK_PER_TYPE(__mmask16, __mmask8))((1u << (n)) - 1u), (src)))
#define UK_STORE_PART(dst, src, n) \
    UK_PER_TYPE(_mm512_mask_storeu_ps((dst), (__mmask16)((1u << (n)) - 1u), (__m512)(src)), \
                _mm512_mask_storeu_pd((dst), (__mmask8)((1u << (n)) - 1u), (__m512d)(src)))
#else
#define UK_LOAD_PART(dst, src, n) memcpy(&(dst), (src), (size_t)(n) * sizeof(UK_T))
#define UK_STORE_PART(dst, src, n) memcpy((dst), &(src), (size_t)(n) * sizeof(UK_T))
#endif


/* acc[p][v] += x[pixel p][tap] * w[tap][v] over taps [t0, t1) of one clipped window (nky x nkx
 * taps numbered ky * nkx + kx), acc starting at 0 when t0 = 0, at outs' values otherwise.
 *
 * xs[p]  input of pixel p at the window's first valid tap (ky0, kx0), channel offset of the group
 * outs[p] where pixel p's n_lanes output channels go
 * w      weights at (ky0, kx0) and this block's first channel, laid out [ky][kx][ci][channel]
 *        with w_ci_stride elements from one ci to the next (KW * C_g * w_ci_stride per ky):
 *        the HWIO filters themselves, or a zero-padded copy when the block overhangs C_out
 * The order of the additions is ky, kx, ci for every output element, whatever P, V or thread:
 * each lane of each accumulator is one output element's running sum, one multiply-add per tap,
 * so results are bit-identical for any blocking (P, V) and any thread count.
 *
 * Every loop over p and v is unrolled (P and V are constants here): an accumulator indexed by a
 * loop variable lives on the stack, and GCC 12 left the AVX2 blocks with V = 4 that way (a
 * load-FMA-store chain per multiply-add: 6x slower than AVX-512, see conv_simd.h). When V > P the
 * V weight vectors are not held: the loop runs over v outside p, keeping P broadcasts instead
 * (P x V + P + 1 registers rather than P x V + V + 1: 16 for 3 x 4, which AVX2 has).
 *
 * `whole` (a constant here) = 1 promises n_lanes >= V * UK_L: every vector is loaded and stored
 * whole. Without that promise the partial copies (a run-time length) make GCC keep acc on the
 * stack and spend ~40 stack moves and branches per block: at C_in = 8 the prologue and epilogue
 * took ~30% of the kernel's time (perf, 8x30x30x8->64); with it they are register moves.
 *
 * The epilogue (a Keras Conv2D's bias and ReLU, fused so that the layer's output is written once):
 * with `bias` (not NULL; this block's first channel) each sum then gets bias added, one rounding,
 * and with `relu` it is replaced by +0 where it is <= 0 (NaN stays NaN): exactly what
 * convops/_kernels/nn.pyx's bias_act_forward does to the stored sums, so the bits are the same.
 * Only the last pass over the taps passes them.
 *
 * `even` (a constant here) = 1: the P pixels are evenly spaced, pixel p's input at
 * x_even + p * x_even_step and its output at out_even + p * out_even_step (xs and outs unused),
 * and each multiply-add is UK_NAME(even_madd): the same values and roundings, so the same bits. */
static inline __attribute__((always_inline)) UK_TARGET void UK_NAME(block)(
        const int V, const int P, const int whole, const int even, const UK_T* const* xs, const UK_T* x_even,
        ptrdiff_t x_even_step, UK_T* const* outs, UK_T* out_even, ptrdiff_t out_even_step, const UK_T* w,
        ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t nkx, ptrdiff_t cg, ptrdiff_t row_stride, ptrdiff_t col_stride,
        ptrdiff_t kw, ptrdiff_t w_ci_stride, ptrdiff_t n_lanes, const UK_T* bias, int relu)
{
    /* Pixel distances in bytes for `even` blocks (UK_NAME(even_madd)). */
    const ptrdiff_t s1 = x_even_step * (ptrdiff_t)sizeof(UK_T), s3 = 3 * s1, s10 = 10 * s1;
#define UK_OUT(p) (even ? out_even + (p) * out_even_step : outs[p])
    UK_NAME(vec) acc[16][4];
    UK_NAME(vec) wv[4];
    UK_NAME(vec) bv[16];
    ptrdiff_t t, ky = nkx > 0 ? t0 / nkx : 0, kx = t0 - ky * nkx, ci;
    int p, v;
    _Pragma("GCC unroll 16") for (p = 0; p < P; p++) {
        _Pragma("GCC unroll 4") for (v = 0; v < V; v++) {
            const ptrdiff_t left = whole ? UK_L : n_lanes - v * UK_L;
            /* Ask for the output's lines now, for writing: they are stored after the whole
             * reduction, so a write miss to L3 or memory is hidden behind it instead of stalling
             * the stores (a hint only: nothing computed depends on it). */
            if (left > 0)
                __builtin_prefetch(UK_OUT(p) + v * UK_L, 1, 3);
            acc[p][v] = (UK_NAME(vec)){0};
            /* A later pass continues the sums an earlier one stored (exactly: same type). */
            if (t0 > 0 && left >= UK_L)
                memcpy(&acc[p][v], UK_OUT(p) + v * UK_L, sizeof(acc[p][v]));
            else if (t0 > 0 && left > 0)
                UK_LOAD_PART(acc[p][v], UK_OUT(p) + v * UK_L, left);
        }
    }
    /* The taps run a row at a time (or the part of a row in [t0, t1)). Where a pixel's inputs of
     * consecutive taps kx are adjacent (col_stride == cg: dilation 1, one group), the row's
     * (kx, ci) pairs are one run of inputs and one run of weight rows, so a single loop takes
     * them: a first layer (cg = 1) then pays the loop's set-up once per row, not once per tap.
     * The order of the multiply-adds is (ky, kx, ci) either way. */
    t = t0;
    while (t < t1) {
        ptrdiff_t n = nkx - kx, r, rows, steps, off;
        const UK_T* wk = w + ((ky * kw + kx) * cg) * w_ci_stride;
        if (n > t1 - t)
            n = t1 - t;
        rows = col_stride == cg ? 1 : n;
        steps = col_stride == cg ? n * cg : cg;
        for (r = 0; r < rows; r++) {
            off = ky * row_stride + (kx + r) * col_stride;
            for (ci = 0; ci < steps; ci++) {
                const char* xb = even ? (const char*)(x_even + off + ci) : NULL;
                const char* b3 = even && P > 3 ? xb + s3 : NULL;
                const char* b10 = even && P > 10 ? xb + s10 : NULL;
#define UK_PIXEL(p) (xs[p][off + ci] - (UK_NAME(vec)){0})
                /* x - 0 is x for every x (0 + x would turn -0 into +0): a plain broadcast. */
                if (even) {
                    _Pragma("GCC unroll 4") for (v = 0; v < V; v++)
                        memcpy(&wv[v], wk + v * UK_L, sizeof(wv[v]));
                    _Pragma("GCC unroll 16") for (p = 0; p < P; p++) {
                        _Pragma("GCC unroll 4") for (v = 0; v < V; v++)
                            acc[p][v] = UK_NAME(even_madd)(p, acc[p][v], wv[v], xb, b3, b10, s1, s3);
                    }
                } else if (V > P) {
                    _Pragma("GCC unroll 16") for (p = 0; p < P; p++)
                        bv[p] = UK_PIXEL(p);
                    _Pragma("GCC unroll 4") for (v = 0; v < V; v++) {
                        memcpy(&wv[v], wk + v * UK_L, sizeof(wv[v]));   /* an unaligned vector load */
                        _Pragma("GCC unroll 16") for (p = 0; p < P; p++)
                            acc[p][v] += bv[p] * wv[v];
                    }
                } else {
                    _Pragma("GCC unroll 4") for (v = 0; v < V; v++)
                        memcpy(&wv[v], wk + v * UK_L, sizeof(wv[v]));
                    _Pragma("GCC unroll 16") for (p = 0; p < P; p++) {
                        const UK_NAME(vec) b = UK_PIXEL(p);
                        _Pragma("GCC unroll 4") for (v = 0; v < V; v++)
                            acc[p][v] += b * wv[v];
                    }
                }
#undef UK_PIXEL
                wk += w_ci_stride;                  /* the next ci, or kx + 1's first */
            }
        }
        t += n;
        kx += n;
        if (kx == nkx) {
            kx = 0;
            ky++;
        }
    }
    /* Pixel p's output is recomputed here, not kept from the prologue through the loop, where
     * P pointers would take the registers the loop needs. */
    if (even)
        __asm__("" : "+r"(out_even));
    if (bias != NULL) {
        _Pragma("GCC unroll 4") for (v = 0; v < V; v++) {
            const ptrdiff_t left = whole ? UK_L : n_lanes - v * UK_L;
            wv[v] = (UK_NAME(vec)){0};
            if (left >= UK_L)
                memcpy(&wv[v], bias + v * UK_L, sizeof(wv[v]));
            else if (left > 0)
                UK_LOAD_PART(wv[v], bias + v * UK_L, left);
            _Pragma("GCC unroll 16") for (p = 0; p < P; p++)
                acc[p][v] += wv[v];
        }
    }
    if (relu) {
        /* 0 where the sum is <= 0 (both zeros), else the sum (NaN too): the comparison's lanes are
         * all ones where <= 0 holds, and clearing those lanes' bits leaves +0. */
        _Pragma("GCC unroll 16") for (p = 0; p < P; p++) {
            _Pragma("GCC unroll 4") for (v = 0; v < V; v++) {
                const __typeof__(acc[p][v] <= acc[p][v]) off = acc[p][v] <= (UK_NAME(vec)){0};
                acc[p][v] = (UK_NAME(vec))((__typeof__(off))acc[p][v] & ~off);
            }
        }
    }
    _Pragma("GCC unroll 16") for (p = 0; p < P; p++) {
        _Pragma("GCC unroll 4") for (v = 0; v < V; v++) {
            const ptrdiff_t left = whole ? UK_L : n_lanes - v * UK_L;
            if (left >= UK_L)
                memcpy(UK_OUT(p) + v * UK_L, &acc[p][v], sizeof(acc[p][v]));
            else if (left > 0)
                UK_STORE_PART(UK_OUT(p) + v * UK_L, acc[p][v], left);
        }
    }
#undef UK_OUT
}

/* The second pixel count per width for this instruction set (conv_simd.h), chosen by
 * UK_VBYTES, which names the set among those simd_instantiate.h compiles. */
#define UK_ALT(v) UK_ALT_(v, UK_VBYTES)
#define UK_ALT_(v, bytes) UK_ALT__(v, bytes)
#define UK_ALT__(v, bytes) UK_BLOCK_(v, CONVOPS_ALT_BLOCKS_##bytes)

/* Whether the P pixels' inputs and outputs are evenly spaced (a block along a row, or down a
 * column span within one image), and their steps in elements. Compared as integers: a block's
 * last pointers may be a scratch row's (conv.pyx), and pointers into different arrays are not
 * subtracted in C. */
static inline __attribute__((always_inline)) int UK_NAME(evenly_spaced)(
        const int P, const UK_T* const* xs, UK_T* const* outs, ptrdiff_t* x_step, ptrdiff_t* out_step)
{
    const ptrdiff_t dx = (ptrdiff_t)((uintptr_t)xs[1] - (uintptr_t)xs[0]);
    const ptrdiff_t d_out = (ptrdiff_t)((uintptr_t)outs[1] - (uintptr_t)outs[0]);
    int p;
    if (dx % (ptrdiff_t)sizeof(UK_T) != 0 || d_out % (ptrdiff_t)sizeof(UK_T) != 0)
        return 0;
    for (p = 2; p < P; p++) {
        if ((ptrdiff_t)((uintptr_t)xs[p] - (uintptr_t)xs[p - 1]) != dx ||
                (ptrdiff_t)((uintptr_t)outs[p] - (uintptr_t)outs[p - 1]) != d_out)
            return 0;
    }
    *x_step = dx / (ptrdiff_t)sizeof(UK_T);
    *out_step = d_out / (ptrdiff_t)sizeof(UK_T);
    return 1;
}

/* Blocks one AVX-512 vector wide (up to 16 pixels) whose pixels are evenly spaced are addressed
 * from a few registers (UK_NAME(even_madd)); any other block through its pointers. */
#define UK_BLOCK_CASE(VV, PP, WHOLE) \
    do { \
        ptrdiff_t x_step_, out_step_; \
        if (VV == 1 && UK_VBYTES == 64 && UK_NAME(evenly_spaced)(PP, xs, outs, &x_step_, &out_step_)) \
            UK_NAME(block)(VV, PP, WHOLE, 1, NULL, xs[0], x_step_, NULL, outs[0], out_step_, w, t0, t1, nkx, cg, \
                           row_stride, col_stride, kw, w_ci_stride, n_lanes, bias, relu); \
        else \
            UK_NAME(block)(VV, PP, WHOLE, 0, xs, NULL, 0, outs, NULL, 0, w, t0, t1, nkx, cg, row_stride, col_stride, \
                           kw, w_ci_stride, n_lanes, bias, relu); \
    } while (0)
#define UK_WIDTH_CASE(VV) \
    if (n_lanes >= VV * UK_L) { \
        if (choice == 0) UK_BLOCK_CASE(VV, UK_BLOCK(VV), 1); else UK_BLOCK_CASE(VV, UK_ALT(VV), 1); \
    } else { \
        if (choice == 0) UK_BLOCK_CASE(VV, UK_BLOCK(VV), 0); else UK_BLOCK_CASE(VV, UK_ALT(VV), 0); \
    }

/* The entry points are aligned to 64 bytes so that their loops sit at the same place in the
 * instruction cache's lines whatever code comes before them in the module: adding one unrelated
 * function had moved these by 48 bytes and made the unchanged 3x3 kernels 2-5% slower (Zen 3). */

/* The entry point: V (1..4 vectors of output channels) and the pixel count chosen at run time:
 * choice 0 = UK_BLOCK(V) pixels, 1 = UK_ALT(V) pixels (conv_simd.h's tables). Taps [t0, t1) of
 * the clipped window, numbered ky * nkx + kx: from 0 to all of them in one call, or in several
 * consecutive passes (cache blocking over taps, conv.pyx), each after the first resuming the sums
 * the one before stored in outs -- the same multiply-adds in the same order. `bias` (or NULL) and
 * `relu`: the epilogue (UK_NAME(block)), for the last pass only. */
static UK_TARGET __attribute__((aligned(64))) void UK_NAME(ukernel)(
        int V, int choice, const UK_T* const* xs, UK_T* const* outs, const UK_T* w, ptrdiff_t t0,
        ptrdiff_t t1, ptrdiff_t nkx, ptrdiff_t cg, ptrdiff_t row_stride, ptrdiff_t col_stride, ptrdiff_t kw,
        ptrdiff_t w_ci_stride, ptrdiff_t n_lanes, const UK_T* bias, int relu)
{
    switch (V) {
    case 1: UK_WIDTH_CASE(1); break;
    case 2: UK_WIDTH_CASE(2); break;
    case 3: UK_WIDTH_CASE(3); break;
    default: UK_WIDTH_CASE(4); break;
    }
}

/* A run of n_blocks blocks of P pixels (P = UK_BLOCK(V) or UK_ALT(V)) along one output row: pixel
 * q of the run reads x0 + q * x_step and writes out0 + q * out_step. The same multiply-adds as
 * n_blocks calls of the entry point above with those pointers; here the pointers are computed in
 * registers and the window's set-up (ky, kx of t0) is done once, not per block. A first layer
 * (9 multiply-adds per accumulator) spent as much time per block in the caller's pointer
 * bookkeeping, the call and that set-up as in its arithmetic. */
static inline __attribute__((always_inline)) UK_TARGET void UK_NAME(run)(
        const int V, const int P, const int whole, const UK_T* x0, UK_T* out0, ptrdiff_t x_step,
        ptrdiff_t out_step, ptrdiff_t n_blocks, const UK_T* w, ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t nkx,
        ptrdiff_t cg, ptrdiff_t row_stride, ptrdiff_t col_stride, ptrdiff_t kw, ptrdiff_t w_ci_stride,
        ptrdiff_t n_lanes, const UK_T* bias, int relu)
{
    const UK_T* xs[16];
    UK_T* outs[16];
    ptrdiff_t b;
    int p;
    for (b = 0; b < n_blocks; b++) {
        if (V == 1 && UK_VBYTES == 64) {   /* up to 16 pixels: addressed from bases (UK_NAME(even_madd)) */
            UK_NAME(block)(V, P, whole, 1, NULL, x0 + b * P * x_step, x_step, NULL, out0 + b * P * out_step,
                           out_step, w, t0, t1, nkx, cg, row_stride, col_stride, kw, w_ci_stride, n_lanes, bias, relu);
            continue;
        }
        /* Wider blocks have at most 12 pixels, and a pointer each measured as fast or faster
         * (32 channels, 9 x 9 and first layers, AVX-512, Emerald Rapids). */
        _Pragma("GCC unroll 16") for (p = 0; p < P; p++) {
            xs[p] = x0 + (b * P + p) * x_step;
            outs[p] = out0 + (b * P + p) * out_step;
        }
        UK_NAME(block)(V, P, whole, 0, xs, NULL, 0, outs, NULL, 0, w, t0, t1, nkx, cg, row_stride, col_stride, kw,
                       w_ci_stride, n_lanes, bias, relu);
    }
}

#define UK_RUN_CASE(VV, PP, WHOLE) \
    UK_NAME(run)(VV, PP, WHOLE, x0, out0, x_step, out_step, n_blocks, w, t0, t1, nkx, cg, row_stride, col_stride, \
                 kw, w_ci_stride, n_lanes, bias, relu)
#define UK_RUN_WIDTH_CASE(VV) \
    if (n_lanes >= VV * UK_L) { \
        if (choice == 0) UK_RUN_CASE(VV, UK_BLOCK(VV), 1); else UK_RUN_CASE(VV, UK_ALT(VV), 1); \
    } else { \
        if (choice == 0) UK_RUN_CASE(VV, UK_BLOCK(VV), 0); else UK_RUN_CASE(VV, UK_ALT(VV), 0); \
    }

/* The entry point for runs (above): V and the pixel choice as for UK_NAME(ukernel). */
static UK_TARGET __attribute__((aligned(64))) void UK_NAME(ukernel_run)(
        int V, int choice, const UK_T* x0, UK_T* out0, ptrdiff_t x_step, ptrdiff_t out_step, ptrdiff_t n_blocks,
        const UK_T* w, ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t nkx, ptrdiff_t cg, ptrdiff_t row_stride,
        ptrdiff_t col_stride, ptrdiff_t kw, ptrdiff_t w_ci_stride, ptrdiff_t n_lanes, const UK_T* bias, int relu)
{
    switch (V) {
    case 1: UK_RUN_WIDTH_CASE(1); break;
    case 2: UK_RUN_WIDTH_CASE(2); break;
    case 3: UK_RUN_WIDTH_CASE(3); break;
    default: UK_RUN_WIDTH_CASE(4); break;
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
#undef UK_WIDTH_CASE
#undef UK_RUN_CASE
#undef UK_RUN_WIDTH_CASE
#undef UK_ALT
#undef UK_ALT_
#undef UK_ALT__
#undef UK_L
#undef UK_LOAD_PART
#undef UK_STORE_PART
