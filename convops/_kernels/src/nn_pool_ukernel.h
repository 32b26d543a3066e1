/* One copy of MaxPooling2D's 2x2 training kernel, for one element type and instruction set
 * (simd_instantiate.h sets UK_T, UK_I, UK_VBYTES, UK_TARGET and UK_NAME(x); nn_pool_simd.h).
 *
 * The SIMD twin of _window_2x2 in convops/_kernels/nn.pyx, over a run of whole windows: per
 * channel, TensorFlow's argmax (start at the first cell, move only to a strictly greater value)
 * with its position 0..3, and tf.nn.max_pool2d's value (start at `lowest`, keep strictly greater:
 * NaN ignored), each update a compare and a bit select in the same order as the Cython loop:
 * bit-identical (tests/test_nn_layer_kernels.py runs every variant). */

typedef UK_T UK_NAME(pvec) __attribute__((vector_size(UK_VBYTES)));
typedef UK_I UK_NAME(pivec) __attribute__((vector_size(UK_VBYTES)));
#define NP_L ((ptrdiff_t)(UK_VBYTES / sizeof(UK_T)))
/* The codes (0..3, one per lane) stored as one byte per lane. With AVX2, GCC narrows a vector lane
 * by lane through general registers (the lanes' extraction took longer than the rest of the
 * window); two or three packs do it in registers. Elsewhere __builtin_convertvector (one vpmovdb
 * or vpmovqb with AVX-512). */
typedef unsigned char UK_NAME(pcodes) __attribute__((vector_size(UK_VBYTES / sizeof(UK_T))));
static inline UK_TARGET void UK_NAME(store_codes)(unsigned char* code, UK_NAME(pivec) w)
{
#if CONVOPS_SIMD_X86 && UK_VBYTES == 32
    const __m256i v = (__m256i)w;
    /* float: eight int32 codes -> eight uint16; double: four int64 codes (int32 pairs (c, 0)) ->
     * (c, 0) uint16 pairs, read again as int32 and packed once more -> four uint16. */
    __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    if (sizeof(UK_T) == 8)
        words = _mm_packus_epi32(words, words);
    const __m128i bytes = _mm_packus_epi16(words, words);
    memcpy(code, &bytes, sizeof(UK_NAME(pcodes)));
#else
    const UK_NAME(pcodes) narrow = __builtin_convertvector(w, UK_NAME(pcodes));
    memcpy(code, &narrow, sizeof(narrow));
#endif
}
#define NP_SELECT(mask, a, b) \
    ((UK_NAME(pvec))(((UK_NAME(pivec))(a) & (mask)) | ((UK_NAME(pivec))(b) & ~(mask))))

/* `count` windows: window k's top-left cell at x + k*step, its second row at + row_stride; its
 * outputs at out + k*channels and codes + k*channels. */
static UK_TARGET void UK_NAME(max_pool_2x2_codes)(const UK_T* x, ptrdiff_t row_stride, UK_T* out,
                                                   unsigned char* codes, ptrdiff_t count, ptrdiff_t step,
                                                   ptrdiff_t channels, UK_T lowest)
{
    const UK_NAME(pvec) low = (UK_NAME(pvec)){0} + lowest;
    for (ptrdiff_t k = 0; k < count; k++) {
        const UK_T* s0 = x + k * step;
        const UK_T* s1 = s0 + channels;
        const UK_T* s2 = s0 + row_stride;
        const UK_T* s3 = s2 + channels;
        UK_T* o = out + k * channels;
        unsigned char* code = codes + k * channels;
        ptrdiff_t c = 0;
        for (; c + NP_L <= channels; c += NP_L) {
            UK_NAME(pvec) v, a, m;
            UK_NAME(pivec) w, gt;
            memcpy(&v, s0 + c, sizeof(v));
            a = v;
            w = (UK_NAME(pivec)){0};
            m = NP_SELECT((UK_NAME(pivec))(v > low), v, low);
            memcpy(&v, s1 + c, sizeof(v));
            gt = (UK_NAME(pivec))(v > a);
            w = (w & ~gt) | (gt & 1);
            a = NP_SELECT(gt, v, a);
            m = NP_SELECT((UK_NAME(pivec))(v > m), v, m);
            memcpy(&v, s2 + c, sizeof(v));
            gt = (UK_NAME(pivec))(v > a);
            w = (w & ~gt) | (gt & 2);
            a = NP_SELECT(gt, v, a);
            m = NP_SELECT((UK_NAME(pivec))(v > m), v, m);
            memcpy(&v, s3 + c, sizeof(v));
            gt = (UK_NAME(pivec))(v > a);
            w = (w & ~gt) | (gt & 3);
            m = NP_SELECT((UK_NAME(pivec))(v > m), v, m);
            memcpy(o + c, &m, sizeof(m));
            UK_NAME(store_codes)(code + c, w);
        }
        for (; c < channels; c++) {  /* the last channels, one at a time: the same steps */
            UK_T v = s0[c], a = v, m = v > lowest ? v : lowest;
            int w = 0;
            v = s1[c]; if (v > a) { a = v; w = 1; } m = v > m ? v : m;
            v = s2[c]; if (v > a) { a = v; w = 2; } m = v > m ? v : m;
            v = s3[c]; if (v > a) { w = 3; } m = v > m ? v : m;
            o[c] = m;
            code[c] = (unsigned char)w;
        }
    }
}

#undef NP_L
#undef NP_SELECT
