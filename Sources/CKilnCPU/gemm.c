// C = A · Bᵀ for float32 activations A [m, k] and weights B [n, k] (float32, bfloat16, or
// llama.cpp blocks Q4_0/Q4_1/Q8_0, widened exactly in registers). Each call computes a range
// of B's rows for every row of A: one sequential stream per row for decode, packed panels
// for prefill.

#include "kiln_cpu.h"

// Weights are widened exactly as the reference dequantization rounds them (q·d, then + m):
// no fused multiply-adds there.
#pragma STDC FP_CONTRACT OFF

#include <stddef.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    union { uint32_t u; float f; } bits;
    if (exponent == 0) {
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    bits.u = exponent == 0x1F ? sign | 0x7F800000u | (mantissa << 13) : sign | ((exponent + 112) << 23) | (mantissa << 13);
    return bits.f;
}

static inline int is_block_format(kiln_weight_format format) { return format >= KILN_WEIGHTS_Q4_0; }

static inline int64_t block_bytes(kiln_weight_format format) {
    return format == KILN_WEIGHTS_Q4_0 ? 18 : format == KILN_WEIGHTS_Q4_1 ? 20 : 34;
}

/// Block `block` of a block-format matrix (blocks number consecutively across rows) as 32
/// floats, computed exactly as load_weight computes each.
static inline void widen_block(const void *b, kiln_weight_format format, int64_t block_index, float *out) {
    const uint8_t *block = (const uint8_t *)b + block_index * block_bytes(format);
    float d = half_to_float((uint16_t)(block[0] | block[1] << 8));
    if (format == KILN_WEIGHTS_Q8_0) {
        for (int t = 0; t < 32; t++) out[t] = (float)(int8_t)block[2 + t] * d;
        return;
    }
    const uint8_t *qs = block + (format == KILN_WEIGHTS_Q4_1 ? 4 : 2);
    if (format == KILN_WEIGHTS_Q4_0) {
        for (int t = 0; t < 16; t++) {
            out[t] = (float)((qs[t] & 0x0F) - 8) * d;
            out[t + 16] = (float)((qs[t] >> 4) - 8) * d;
        }
        return;
    }
    float m = half_to_float((uint16_t)(block[2] | block[3] << 8));
    for (int t = 0; t < 16; t++) {
        out[t] = (float)(qs[t] & 0x0F) * d + m;
        out[t + 16] = (float)(qs[t] >> 4) * d + m;
    }
}

/// Weight `index` (row * k + p) as float32; for block formats k % 32 == 0, so blocks number
/// consecutively across rows.
static inline float load_weight(const void *b, kiln_weight_format format, int64_t index) {
    if (format == KILN_WEIGHTS_F32) return ((const float *)b)[index];
    if (format == KILN_WEIGHTS_BF16) {
        union { uint32_t u; float f; } bits = { (uint32_t)((const uint16_t *)b)[index] << 16 };
        return bits.f;
    }
    const uint8_t *block = (const uint8_t *)b + (index / 32) * block_bytes(format);
    int j = (int)(index % 32);
    float d = half_to_float((uint16_t)(block[0] | block[1] << 8));
    if (format == KILN_WEIGHTS_Q8_0) return (float)(int8_t)block[2 + j] * d;
    const uint8_t *qs = block + (format == KILN_WEIGHTS_Q4_1 ? 4 : 2);
    int q = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
    if (format == KILN_WEIGHTS_Q4_0) return (float)(q - 8) * d;
    return (float)q * d + half_to_float((uint16_t)(block[2] | block[3] << 8));
}

// ---- baseline: plain C the compiler vectorizes for SSE2 ----

static void gemm_nt_generic(const float *a, int64_t m, int64_t k, const void *b, kiln_weight_format format,
                            int64_t row_begin, int64_t row_end, float *c, int64_t ldc) {
    for (int64_t j = row_begin; j < row_end; j++) {
        for (int64_t i = 0; i < m; i++) {
            const float *x = a + i * k;
            float s[8] = {0};
            int64_t p = 0;
            for (; p + 8 <= k; p += 8)
                for (int q = 0; q < 8; q++) s[q] += x[p + q] * load_weight(b, format, j * k + p + q);
            float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
            for (; p < k; p++) total += x[p] * load_weight(b, format, j * k + p);
            c[i * ldc + j] = total;
        }
    }
}

#if defined(__x86_64__)

// Calls `tile` with the tile size as constants, so each size compiles to its own fully
// unrolled loop with the accumulators in registers (a runtime size spills them to memory).
#define TILE_CASE(tile, M, N, ...) case (M) * 8 + (N): tile(__VA_ARGS__, M, N); break;
#define TILE_DISPATCH(tile, mi, nj, a, k, b, format, i, j, c, ldc)                                   \
    switch ((mi) * 8 + (nj)) {                                                                    \
    TILE_CASE(tile, 1, 1, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 1, 2, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 1, 3, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 1, 4, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 2, 1, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 2, 2, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 2, 3, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 2, 4, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 3, 1, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 3, 2, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 3, 3, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 3, 4, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 4, 1, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 4, 2, a, k, b, format, i, j, c, ldc) \
    TILE_CASE(tile, 4, 3, a, k, b, format, i, j, c, ldc) TILE_CASE(tile, 4, 4, a, k, b, format, i, j, c, ldc) \
    }

// ---- AVX-512: 4 weight rows × 4 activation rows per tile, 16 floats per step ----

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

AVX512 static inline __m512 load16_avx512(const void *b, kiln_weight_format format, int64_t index, __mmask16 mask) {
    if (format == KILN_WEIGHTS_F32) return _mm512_maskz_loadu_ps(mask, (const float *)b + index);
    __m256i halves = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)b + index);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}

AVX512 static inline __m512 load16_full_avx512(const void *b, kiln_weight_format format, int64_t index) {
    if (format == KILN_WEIGHTS_F32) return _mm512_loadu_ps((const float *)b + index);
    __m256i halves = _mm256_loadu_si256((const __m256i *)((const uint16_t *)b + index));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}

/// A tile of up to 4 × 4 outputs: rows i0..<i0+mi of A against weight rows j0..<j0+nj.
AVX512 static inline __attribute__((always_inline)) void tile_avx512(const float *a, int64_t k, const void *b, kiln_weight_format format,
                                      int64_t i0, int64_t j0, float *c, int64_t ldc, const int mi, const int nj) {
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 16 <= k; p += 16) {
        __m512 w[4];
        for (int j = 0; j < 4; j++) if (j < nj) w[j] = load16_full_avx512(b, format, (j0 + j) * k + p);
        for (int i = 0; i < 4; i++) {
            if (i >= mi) break;
            __m512 x = _mm512_loadu_ps(a + (i0 + i) * k + p);
            for (int j = 0; j < 4; j++) if (j < nj) acc[i][j] = _mm512_fmadd_ps(x, w[j], acc[i][j]);
        }
    }
    if (p < k) {
        __mmask16 mask = (__mmask16)((1u << (k - p)) - 1);
        __m512 w[4];
        for (int j = 0; j < 4; j++) if (j < nj) w[j] = load16_avx512(b, format, (j0 + j) * k + p, mask);
        for (int i = 0; i < mi; i++) {
            __m512 x = _mm512_maskz_loadu_ps(mask, a + (i0 + i) * k + p);
            for (int j = 0; j < 4; j++) if (j < nj) acc[i][j] = _mm512_fmadd_ps(x, w[j], acc[i][j]);
        }
    }
    for (int i = 0; i < mi; i++)
        for (int j = 0; j < nj; j++) c[(i0 + i) * ldc + j0 + j] = _mm512_reduce_add_ps(acc[i][j]);
}

/// m = 1 (decode): weight rows are read one after another, a single sequential stream that
/// the hardware prefetcher follows; four accumulators hide the FMA latency.
AVX512 static inline __attribute__((always_inline)) void gemv_avx512(const float *x, int64_t k, const void *b,
                                                                     const kiln_weight_format format,
                                                                     int64_t row_begin, int64_t row_end, float *c) {
    for (int64_t j = row_begin; j < row_end; j++) {
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        int64_t base = j * k, p = 0;
        for (; p + 64 <= k; p += 64) {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p), load16_full_avx512(b, format, base + p), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p + 16), load16_full_avx512(b, format, base + p + 16), s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p + 32), load16_full_avx512(b, format, base + p + 32), s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p + 48), load16_full_avx512(b, format, base + p + 48), s3);
        }
        for (; p < k; p += 16) {
            __mmask16 mask = k - p >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - p)) - 1);
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + p), load16_avx512(b, format, base + p, mask), s0);
        }
        c[j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    }
}

/// m ≥ 4 (prefill): each block of 16 weight rows is widened and transposed once into a
/// panel [k][16]; then 6 rows of A at a time broadcast one element per step against it,
/// keeping 6 accumulators of 16 outputs in registers. No horizontal sums, and the panel
/// stays in L1/L2 while all of A streams past it.
AVX512 static inline __attribute__((always_inline)) void gemm_packed_avx512(const float *a, int64_t m, int64_t k, const void *b,
                                                                            const kiln_weight_format format, int64_t row_begin,
                                                                            int64_t row_end, float *c, int64_t ldc) {
    float *panel = aligned_alloc(64, (size_t)k * 16 * sizeof(float));
    if (!panel) return gemm_nt_generic(a, m, k, b, format, row_begin, row_end, c, ldc);
    for (int64_t j0 = row_begin; j0 < row_end; j0 += 16) {
        int nj = row_end - j0 < 16 ? (int)(row_end - j0) : 16;
        for (int j = 0; j < 16; j++) {
            if (j >= nj) {
                for (int64_t p = 0; p < k; p++) panel[p * 16 + j] = 0.0f;
            } else if (is_block_format(format)) {
                float widened[32];
                for (int64_t q = 0; q < k / 32; q++) {
                    widen_block(b, format, (j0 + j) * (k / 32) + q, widened);
                    for (int t = 0; t < 32; t++) panel[(q * 32 + t) * 16 + j] = widened[t];
                }
            } else {
                for (int64_t p = 0; p < k; p++) panel[p * 16 + j] = load_weight(b, format, (j0 + j) * k + p);
            }
        }
        __mmask16 store = (__mmask16)((1u << nj) - 1);
        int64_t i = 0;
        for (; i + 6 <= m; i += 6) {
            const float *x0 = a + i * k, *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k, *x4 = x3 + k, *x5 = x4 + k;
            __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
            for (int64_t p = 0; p < k; p++) {
                __m512 w = _mm512_load_ps(panel + p * 16);
                c0 = _mm512_fmadd_ps(_mm512_set1_ps(x0[p]), w, c0);
                c1 = _mm512_fmadd_ps(_mm512_set1_ps(x1[p]), w, c1);
                c2 = _mm512_fmadd_ps(_mm512_set1_ps(x2[p]), w, c2);
                c3 = _mm512_fmadd_ps(_mm512_set1_ps(x3[p]), w, c3);
                c4 = _mm512_fmadd_ps(_mm512_set1_ps(x4[p]), w, c4);
                c5 = _mm512_fmadd_ps(_mm512_set1_ps(x5[p]), w, c5);
            }
            _mm512_mask_storeu_ps(c + (i + 0) * ldc + j0, store, c0);
            _mm512_mask_storeu_ps(c + (i + 1) * ldc + j0, store, c1);
            _mm512_mask_storeu_ps(c + (i + 2) * ldc + j0, store, c2);
            _mm512_mask_storeu_ps(c + (i + 3) * ldc + j0, store, c3);
            _mm512_mask_storeu_ps(c + (i + 4) * ldc + j0, store, c4);
            _mm512_mask_storeu_ps(c + (i + 5) * ldc + j0, store, c5);
        }
        for (; i < m; i++) {
            const float *x = a + i * k;
            __m512 acc = _mm512_setzero_ps();
            for (int64_t p = 0; p < k; p++) acc = _mm512_fmadd_ps(_mm512_set1_ps(x[p]), _mm512_load_ps(panel + p * 16), acc);
            _mm512_mask_storeu_ps(c + i * ldc + j0, store, acc);
        }
    }
    free(panel);
}

AVX512 static inline __attribute__((always_inline)) void gemm_nt_avx512_format(const float *a, int64_t m, int64_t k, const void *b, const kiln_weight_format format,
                                  int64_t row_begin, int64_t row_end, float *c, int64_t ldc) {
    if (m == 1) return gemv_avx512(a, k, b, format, row_begin, row_end, c);
    if (m >= 4) return gemm_packed_avx512(a, m, k, b, format, row_begin, row_end, c, ldc);
    // 16 weight rows (a few KB) stay in cache while every row of A passes by them
    for (int64_t block = row_begin; block < row_end; block += 16) {
        int64_t block_end = block + 16 < row_end ? block + 16 : row_end;
        for (int64_t i = 0; i < m; i += 4) {
            int mi = m - i < 4 ? (int)(m - i) : 4;
            for (int64_t j = block; j < block_end; j += 4) {
                int nj = block_end - j < 4 ? (int)(block_end - j) : 4;
                TILE_DISPATCH(tile_avx512, mi, nj, a, k, b, format, i, j, c, ldc);
            }
        }
    }
}

/// m = 1 over block formats: each 32-weight block is widened in two registers and multiplied
/// by the activations, one sequential stream over the rows' blocks.
AVX512 static void gemv_blocks_avx512(const float *x, int64_t k, const void *b, kiln_weight_format format,
                                      int64_t row_begin, int64_t row_end, float *c) {
    const int64_t blocks = k / 32, stride = block_bytes(format);
    const __m128i low_mask = _mm_set1_epi8(0x0F);
    for (int64_t j = row_begin; j < row_end; j++) {
        const uint8_t *block = (const uint8_t *)b + j * blocks * stride;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        for (int64_t q = 0; q < blocks; q++, block += stride) {
            __m512 d = _mm512_set1_ps(half_to_float((uint16_t)(block[0] | block[1] << 8)));
            __m512 w0, w1;
            if (format == KILN_WEIGHTS_Q8_0) {
                w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(block + 2))));
                w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(block + 18))));
                w0 = _mm512_mul_ps(w0, d);
                w1 = _mm512_mul_ps(w1, d);
            } else {
                __m128i packed = _mm_loadu_si128((const __m128i *)(block + (format == KILN_WEIGHTS_Q4_1 ? 4 : 2)));
                __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(packed, low_mask)));
                __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask)));
                if (format == KILN_WEIGHTS_Q4_0) {
                    __m512 eight = _mm512_set1_ps(8.0f);
                    w0 = _mm512_mul_ps(_mm512_sub_ps(lo, eight), d);
                    w1 = _mm512_mul_ps(_mm512_sub_ps(hi, eight), d);
                } else {
                    __m512 m = _mm512_set1_ps(half_to_float((uint16_t)(block[2] | block[3] << 8)));
                    w0 = _mm512_add_ps(_mm512_mul_ps(lo, d), m);  // q·d + m rounded as the reference rounds it
                    w1 = _mm512_add_ps(_mm512_mul_ps(hi, d), m);
                }
            }
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + q * 32), w0, s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + q * 32 + 16), w1, s1);
        }
        c[j] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    }
}

/// One copy of the loops per weight format, so the format is a constant inside them.
AVX512 static void gemm_nt_avx512(const float *a, int64_t m, int64_t k, const void *b, kiln_weight_format format,
                              int64_t row_begin, int64_t row_end, float *c, int64_t ldc) {
    if (is_block_format(format)) {
        if (m == 1) return gemv_blocks_avx512(a, k, b, format, row_begin, row_end, c);
        return gemm_packed_avx512(a, m, k, b, format, row_begin, row_end, c, ldc);
    }
    if (format == KILN_WEIGHTS_F32) gemm_nt_avx512_format(a, m, k, b, KILN_WEIGHTS_F32, row_begin, row_end, c, ldc);
    else gemm_nt_avx512_format(a, m, k, b, KILN_WEIGHTS_BF16, row_begin, row_end, c, ldc);
}

// ---- AVX2 + FMA: 4 weight rows × 2 activation rows per tile, 8 floats per step ----

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 load8_avx2(const void *b, kiln_weight_format format, int64_t index) {
    if (format == KILN_WEIGHTS_F32) return _mm256_loadu_ps((const float *)b + index);
    __m128i halves = _mm_loadu_si128((const __m128i *)((const uint16_t *)b + index));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
}

AVX2 static inline float sum8_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline __attribute__((always_inline)) void tile_avx2(const float *a, int64_t k, const void *b, kiln_weight_format format,
                                  int64_t i0, int64_t j0, float *c, int64_t ldc, const int mi, const int nj) {
    __m256 acc[2][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 w[4];
        for (int j = 0; j < 4; j++) if (j < nj) w[j] = load8_avx2(b, format, (j0 + j) * k + p);
        for (int i = 0; i < 2; i++) {
            if (i >= mi) break;
            __m256 x = _mm256_loadu_ps(a + (i0 + i) * k + p);
            for (int j = 0; j < 4; j++) if (j < nj) acc[i][j] = _mm256_fmadd_ps(x, w[j], acc[i][j]);
        }
    }
    for (int i = 0; i < mi; i++) {
        for (int j = 0; j < nj; j++) {
            float total = sum8_avx2(acc[i][j]);
            for (int64_t q = p; q < k; q++) total += a[(i0 + i) * k + q] * load_weight(b, format, (j0 + j) * k + q);
            c[(i0 + i) * ldc + j0 + j] = total;
        }
    }
}

/// m = 1 (decode): one sequential stream of weight rows, as in gemv_avx512.
AVX2 static inline __attribute__((always_inline)) void gemv_avx2(const float *x, int64_t k, const void *b,
                                                                 const kiln_weight_format format,
                                                                 int64_t row_begin, int64_t row_end, float *c) {
    for (int64_t j = row_begin; j < row_end; j++) {
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        int64_t base = j * k, p = 0;
        for (; p + 32 <= k; p += 32) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), load8_avx2(b, format, base + p), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 8), load8_avx2(b, format, base + p + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 16), load8_avx2(b, format, base + p + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 24), load8_avx2(b, format, base + p + 24), s3);
        }
        for (; p + 8 <= k; p += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), load8_avx2(b, format, base + p), s0);
        float total = sum8_avx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        for (; p < k; p++) total += x[p] * load_weight(b, format, base + p);
        c[j] = total;
    }
}

AVX2 static inline __attribute__((always_inline)) void gemm_nt_avx2_format(const float *a, int64_t m, int64_t k, const void *b, const kiln_weight_format format,
                              int64_t row_begin, int64_t row_end, float *c, int64_t ldc) {
    if (m == 1) return gemv_avx2(a, k, b, format, row_begin, row_end, c);
    for (int64_t block = row_begin; block < row_end; block += 16) {
        int64_t block_end = block + 16 < row_end ? block + 16 : row_end;
        for (int64_t i = 0; i < m; i += 2) {
            int mi = m - i < 2 ? (int)(m - i) : 2;
            for (int64_t j = block; j < block_end; j += 4) {
                int nj = block_end - j < 4 ? (int)(block_end - j) : 4;
                TILE_DISPATCH(tile_avx2, mi, nj, a, k, b, format, i, j, c, ldc);
            }
        }
    }
}

/// One copy of the loops per weight format, so the format is a constant inside them.
AVX2 static void gemm_nt_avx2(const float *a, int64_t m, int64_t k, const void *b, kiln_weight_format format,
                              int64_t row_begin, int64_t row_end, float *c, int64_t ldc) {
    if (format == KILN_WEIGHTS_F32) gemm_nt_avx2_format(a, m, k, b, KILN_WEIGHTS_F32, row_begin, row_end, c, ldc);
    else gemm_nt_avx2_format(a, m, k, b, KILN_WEIGHTS_BF16, row_begin, row_end, c, ldc);
}

#endif  // __x86_64__

// ---- dispatch ----

int kiln_cpu_vector_bits(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return 512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 256;
#endif
    return 128;
}

void kiln_gemm_nt(int vector_bits, const float *a, int64_t m, int64_t k, const void *b, kiln_weight_format format,
                  int64_t row_begin, int64_t row_end, float *c, int64_t ldc) {
#if defined(__x86_64__)
    if (vector_bits >= 512) return gemm_nt_avx512(a, m, k, b, format, row_begin, row_end, c, ldc);
    // the AVX2 kernels read only F32 and BF16 weights; block formats take the portable path
    if (vector_bits >= 256 && !is_block_format(format)) return gemm_nt_avx2(a, m, k, b, format, row_begin, row_end, c, ldc);
#endif
    gemm_nt_generic(a, m, k, b, format, row_begin, row_end, c, ldc);
}
