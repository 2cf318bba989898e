/*
 * attention_avx2.c — the AVX2 + FMA + F16C arithmetic kernels (kva_ops,
 * kva_internal.h). Compiled for those extensions (the pragma below, and
 * the Makefile's per-file flags) but only ever called after
 * kva_active_ops() has seen them in the CPU (kva_isa.c).
 *
 * Same contracts as the portable kernels, rounded differently only in that
 * products and sums are fused (FMA): Q.K is summed in 8 lanes over d with
 * one fused multiply-add per element, then a fixed tree over the lanes,
 * then the tail d >= 8*floor(D/8) in order; P.V accumulates each d in key
 * order (lanes over d only, never over keys). Decoding is exact and gives
 * the same values as the portable path.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")

#include "kva_format.h"
#include "kva_internal.h"

#include <immintrin.h>
#include <math.h>

#define AI static inline __attribute__((always_inline))

/* ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)): one fixed order. */
AI float hsum8(__m256 v)
{
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v),
                                _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

/* An NR x NK block of scores (NR <= 4, NK <= 2, constants once inlined). */
AI void score_block(float *s, int64_t lds, const float *q, int64_t ldq,
                    const float *const *k, int D, float scale, const int NR,
                    const int NK)
{
    __m256 acc[4][2];
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NK; c++)
            acc[r][c] = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        __m256 kv[2];
        for (int c = 0; c < NK; c++)
            kv[c] = _mm256_loadu_ps(k[c] + d);
        for (int r = 0; r < NR; r++) {
            const __m256 qv = _mm256_loadu_ps(q + r * ldq + d);
            for (int c = 0; c < NK; c++)
                acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NK; c++) {
            float t = 0.0f;
            for (int e = d; e < D; e++)
                t = fmaf(q[r * ldq + e], k[c][e], t);
            s[r * lds + c] = scale * (hsum8(acc[r][c]) + t);
        }
}

#define SCORE_ROWS(NR)                                                       \
    do {                                                                     \
        int c = 0;                                                           \
        for (; c + 2 <= nk; c += 2)                                          \
            score_block(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,    \
                        scale, NR, 2);                                       \
        if (c < nk)                                                          \
            score_block(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,    \
                        scale, NR, 1);                                       \
    } while (0)

static void a_scores(float *s, int64_t lds, const float *q, int64_t ldq,
                     int nr, const float *const *k, int nk, int D,
                     float scale)
{
    int r = 0;
    for (; r + 4 <= nr; r += 4)
        SCORE_ROWS(4);
    switch (nr - r) {
    case 3:
        SCORE_ROWS(3);
        break;
    case 2:
        SCORE_ROWS(2);
        break;
    case 1:
        SCORE_ROWS(1);
        break;
    default:
        break;
    }
}

static void a_pv(float *acc, const float *p, const float *const *v, int nk,
                 int D)
{
    int d = 0;
    for (; d + 64 <= D; d += 64) {
        __m256 a[8];
        for (int u = 0; u < 8; u++)
            a[u] = _mm256_loadu_ps(acc + d + 8 * u);
        for (int c = 0; c < nk; c++) {
            if (p[c] == KVA_P_SKIP)
                continue;
            const __m256 w = _mm256_set1_ps(p[c]);
            const float *vr = v[c] + d;
            for (int u = 0; u < 8; u++)
                a[u] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vr + 8 * u), a[u]);
        }
        for (int u = 0; u < 8; u++)
            _mm256_storeu_ps(acc + d + 8 * u, a[u]);
    }
    for (; d + 8 <= D; d += 8) {
        __m256 a = _mm256_loadu_ps(acc + d);
        for (int c = 0; c < nk; c++)
            if (p[c] != KVA_P_SKIP)
                a = _mm256_fmadd_ps(_mm256_set1_ps(p[c]),
                                    _mm256_loadu_ps(v[c] + d), a);
        _mm256_storeu_ps(acc + d, a);
    }
    for (; d < D; d++) {
        float a = acc[d];
        for (int c = 0; c < nk; c++)
            if (p[c] != KVA_P_SKIP)
                a = fmaf(p[c], v[c][d], a);
        acc[d] = a;
    }
}

static void a_scale(float *acc, float w, int D)
{
    const __m256 wv = _mm256_set1_ps(w);
    int d = 0;
    for (; d + 8 <= D; d += 8)
        _mm256_storeu_ps(acc + d, _mm256_mul_ps(wv, _mm256_loadu_ps(acc + d)));
    for (; d < D; d++)
        acc[d] *= w;
}

static void a_dec_f16(float *dst, const uint16_t *src, int n)
{
    int d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(dst + d, _mm256_cvtph_ps(_mm_loadu_si128(
                                      (const __m128i *)(src + d))));
    for (; d < n; d++)
        dst[d] = kva_f16_decode(src[d]);
}

static void a_dec_bf16(float *dst, const uint16_t *src, int n)
{
    const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    const __m256i qnan = _mm256_set1_epi32(0x00400000);
    int d = 0;
    for (; d + 8 <= n; d += 8) {
        __m256i b = _mm256_slli_epi32(
            _mm256_cvtepu16_epi32(
                _mm_loadu_si128((const __m128i *)(src + d))),
            16);
        const __m256i nan =
            _mm256_cmpgt_epi32(_mm256_and_si256(b, absm), inf);
        b = _mm256_or_si256(b, _mm256_and_si256(nan, qnan));
        _mm256_storeu_ps(dst + d, _mm256_castsi256_ps(b));
    }
    for (; d < n; d++)
        dst[d] = kva_bf16_decode(src[d]);
}

static void a_dec_lut8(float *dst, const uint8_t *src, const float *lut,
                       float s, int n)
{
    const __m256 sv = _mm256_set1_ps(s);
    int d = 0;
    for (; d + 8 <= n; d += 8) {
        const __m256i idx = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64((const __m128i *)(src + d)));
        _mm256_storeu_ps(dst + d,
                         _mm256_mul_ps(_mm256_i32gather_ps(lut, idx, 4), sv));
    }
    for (; d < n; d++)
        dst[d] = lut[src[d]] * s;
}

const kva_ops kva_ops_avx2 = {
    KVA_ISA_AVX2, "avx2", a_scores,   a_pv,
    a_scale,      a_dec_f16, a_dec_bf16, a_dec_lut8,
};

#else
/* Not x86-64 with GCC/Clang: no AVX2 path (KVA_HAVE_AVX2 is not set). */
typedef int kva_no_avx2_path;
#endif
