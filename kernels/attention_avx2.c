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
/* Every function of the file is compiled for AVX2 + FMA + F16C, whatever
 * the command line says (the test libraries and the fuzz builds compile
 * all of kernels/ with one set of flags): gcc's pragma, clang's attribute
 * (clang ignores the pragma). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include "kva_format.h"
#include "kva_internal.h"

#include <immintrin.h>
#include <math.h>

#define AI static inline __attribute__((always_inline))

/* Eight lane vectors to the vector of their eight sums, each summed as
 * ((l0+l1) + (l2+l3)) + ((l4+l5) + (l6+l7)): one fixed order. */
AI __m256 reduce8(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4,
                  __m256 v5, __m256 v6, __m256 v7)
{
    const __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1),
                                    _mm256_hadd_ps(v2, v3));
    const __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v4, v5),
                                    _mm256_hadd_ps(v6, v7));
    /* a = [v0 v1 v2 v3 low halves | v0 v1 v2 v3 high halves], b for 4..7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20),
                         _mm256_permute2f128_ps(a, b, 0x31));
}

/* ((l0+l1) + (l2+l3)) + ((l4+l5) + (l6+l7)) */
AI float hsum8_tree(__m256 v)
{
    float l[8];
    _mm256_storeu_ps(l, v);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* An NR x NK block of scores for NR >= 3 (NR <= 4, NK <= 2, constants once inlined):
 * always reduced as a full 4 x 2 block (absent entries zero), so each
 * (r, c) is summed the same way whatever block it falls in. */
AI void score_block42(float *s, int64_t lds, const float *q, int64_t ldq,
                    const float *const *k, int D, float scale, const int NR,
                    const int NK)
{
    __m256 acc[4][2];
    #pragma GCC unroll 8
    for (int r = 0; r < 4; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < 2; c++)
            acc[r][c] = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        __m256 kv[2];
        #pragma GCC unroll 8
        for (int c = 0; c < NK; c++)
            kv[c] = _mm256_loadu_ps(k[c] + d);
        #pragma GCC unroll 8
        for (int r = 0; r < NR; r++) {
            const __m256 qv = _mm256_loadu_ps(q + r * ldq + d);
            #pragma GCC unroll 8
            for (int c = 0; c < NK; c++)
                acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
        }
    }
    float sum[8];
    _mm256_storeu_ps(sum, reduce8(acc[0][0], acc[0][1], acc[1][0], acc[1][1],
                                  acc[2][0], acc[2][1], acc[3][0],
                                  acc[3][1]));
    #pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < NK; c++) {
            float t = 0.0f;
            for (int e = d; e < D; e++)
                t = fmaf(q[r * ldq + e], k[c][e], t);
            s[r * lds + c] = scale * (sum[r * 2 + c] + t);
        }
}

/* An NR x NK block of scores (NR * NK <= 8; constants once inlined):
 * always reduced as eight vectors (absent ones zero) by reduce8, which
 * sums every vector by the same tree, so each (r, c) is summed the same
 * way whatever block it falls in. */
AI void score_block(float *s, int64_t lds, const float *q, int64_t ldq,
                    const float *const *k, int D, float scale, const int NR,
                    const int NK, const int NKMAX)
{
    __m256 acc[8];
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++)
        acc[u] = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        __m256 kv[8];
#pragma GCC unroll 8
        for (int c = 0; c < NK; c++)
            kv[c] = _mm256_loadu_ps(k[c] + d);
#pragma GCC unroll 8
        for (int r = 0; r < NR; r++) {
            const __m256 qv = _mm256_loadu_ps(q + r * ldq + d);
#pragma GCC unroll 8
            for (int c = 0; c < NK; c++)
                acc[r * NKMAX + c] =
                    _mm256_fmadd_ps(qv, kv[c], acc[r * NKMAX + c]);
        }
    }
    float sum[8];
    _mm256_storeu_ps(sum, reduce8(acc[0], acc[1], acc[2], acc[3], acc[4],
                                  acc[5], acc[6], acc[7]));
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 8
        for (int c = 0; c < NK; c++) {
            float t = 0.0f;
            for (int e = d; e < D; e++)
                t = fmaf(q[r * ldq + e], k[c][e], t);
            s[r * lds + c] = scale * (sum[r * NKMAX + c] + t);
        }
}

#define SCORE_ROWS42(NR)                                                     \
    do {                                                                     \
        int c = 0;                                                           \
        for (; c + 2 <= nk; c += 2)                                          \
            score_block42(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,  \
                          scale, NR, 2);                                     \
        if (c < nk)                                                          \
            score_block42(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,  \
                          scale, NR, 1);                                     \
    } while (0)

/* Rows r .. r+NR-1 over all keys, NKMAX keys a block, then the rest one
 * block of fewer keys at a time. */
#define SCORE_ROWS(NR, NKMAX)                                                \
    do {                                                                     \
        int c = 0;                                                           \
        for (; c + NKMAX <= nk; c += NKMAX)                                  \
            score_block(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,    \
                        scale, NR, NKMAX, NKMAX);                            \
        for (; c + 2 <= nk; c += 2)                                          \
            score_block(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,    \
                        scale, NR, 2, NKMAX);                                \
        if (c < nk)                                                          \
            score_block(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,    \
                        scale, NR, 1, NKMAX);                                \
    } while (0)

static void a_scores(float *s, int64_t lds, const float *q, int64_t ldq,
                     int nr, const float *const *k, int nk, int D,
                     float scale)
{
    int r = 0;
    for (; r + 4 <= nr; r += 4)
        SCORE_ROWS42(4);
    switch (nr - r) {
    case 3:
        SCORE_ROWS42(3);
        break;
    case 2:
        SCORE_ROWS(2, 4);
        break;
    case 1:
        SCORE_ROWS(1, 8);
        break;
    default:
        break;
    }
}

/* P.V two rows at a time over 32 dims (8 accumulators, the V loads
 * shared), then 8 dims, then single dims: each element is one FMA per
 * key, in key order, wherever it falls. */
static void a_pv(float *acc, const float *p, int64_t ldp, int nr,
                 const float *const *v, int nk, int D)
{
    for (int r0 = 0; r0 < nr; r0 += 2) {
        const int two = r0 + 1 < nr;
        float *acc0 = acc + (int64_t)r0 * D;
        float *acc1 = acc0 + D;
        const float *p0 = p + r0 * ldp;
        const float *p1 = p0 + ldp;
        int d = 0;
        for (; d + 32 <= D; d += 32) {
            __m256 a0[4], a1[4];
            #pragma GCC unroll 8
            for (int u = 0; u < 4; u++) {
                a0[u] = _mm256_loadu_ps(acc0 + d + 8 * u);
                a1[u] = two ? _mm256_loadu_ps(acc1 + d + 8 * u)
                            : _mm256_setzero_ps();
            }
            for (int c = 0; c < nk; c++) {
                const float *vr = v[c] + d;
                __m256 vv[4];
                #pragma GCC unroll 8
                for (int u = 0; u < 4; u++)
                    vv[u] = _mm256_loadu_ps(vr + 8 * u);
                if (p0[c] != KVA_P_SKIP) {
                    const __m256 w = _mm256_set1_ps(p0[c]);
                    #pragma GCC unroll 8
                    for (int u = 0; u < 4; u++)
                        a0[u] = _mm256_fmadd_ps(w, vv[u], a0[u]);
                }
                if (two && p1[c] != KVA_P_SKIP) {
                    const __m256 w = _mm256_set1_ps(p1[c]);
                    #pragma GCC unroll 8
                    for (int u = 0; u < 4; u++)
                        a1[u] = _mm256_fmadd_ps(w, vv[u], a1[u]);
                }
            }
            #pragma GCC unroll 8
            for (int u = 0; u < 4; u++) {
                _mm256_storeu_ps(acc0 + d + 8 * u, a0[u]);
                if (two)
                    _mm256_storeu_ps(acc1 + d + 8 * u, a1[u]);
            }
        }
        for (int r = r0; r < r0 + 1 + two; r++) {
            float *ar = acc + (int64_t)r * D;
            const float *pr = p + r * ldp;
            int e = d;
            for (; e + 8 <= D; e += 8) {
                __m256 a = _mm256_loadu_ps(ar + e);
                for (int c = 0; c < nk; c++)
                    if (pr[c] != KVA_P_SKIP)
                        a = _mm256_fmadd_ps(_mm256_set1_ps(pr[c]),
                                            _mm256_loadu_ps(v[c] + e), a);
                _mm256_storeu_ps(ar + e, a);
            }
            for (; e < D - KVA_MUT(33); e++) {
                float a = ar[e];
                for (int c = 0; c < nk; c++)
                    if (pr[c] != KVA_P_SKIP)
                        a = fmaf(pr[c], v[c][e], a);
                ar[e] = a;
            }
        }
    }
}

static float a_rowmax(const float *x, int nk, int *live)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 mx = ninf, lv = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= nk; c += 8) {
        const __m256 xv = _mm256_loadu_ps(x + c);
        mx = _mm256_max_ps(xv, mx); /* a NaN x gives mx back */
        lv = _mm256_or_ps(lv, _mm256_cmp_ps(xv, ninf, _CMP_NEQ_UQ));
    }
    float m8[8];
    _mm256_storeu_ps(m8, mx);
    float tmax = -INFINITY;
    for (int u = 0; u < 8; u++)
        tmax = m8[u] > tmax ? m8[u] : tmax;
    int any = _mm256_movemask_ps(lv) != 0;
    for (; c < nk; c++) {
        tmax = x[c] > tmax ? x[c] : tmax;
        any |= x[c] != -INFINITY;
    }
    *live = any;
    return tmax;
}

/* exp(x) for x in [-87, 0] (Cephes' expf: x = n ln2 + r, |r| <= ln2/2,
 * a degree-7 polynomial; about 1 ulp), 2^n built in the exponent field. */
AI __m256 exp_neg(__m256 x)
{
    const __m256 n = _mm256_round_ps(
        _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* Lanes of 8 keys: weights in place, the sum in 8 lanes then
 * ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), then the tail in order. A lane
 * below -87 (subnormal or zero weight) or NaN takes expf. */
static float a_weights(float *pw, const float *x, int nk, float m)
{
    const __m256 mv = _mm256_set1_ps(m);
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    const __m256 skip = _mm256_set1_ps(KVA_P_SKIP);
    __m256 sum = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= nk; c += 8) {
        const __m256 xv = _mm256_loadu_ps(x + c);
        const __m256 t = _mm256_sub_ps(xv, mv);
        const __m256 is_skip = _mm256_cmp_ps(xv, ninf, _CMP_EQ_OQ);
        /* ordered and >= -87: the fast path */
        const __m256 ok = _mm256_cmp_ps(t, lo, _CMP_GE_OQ);
        __m256 w = exp_neg(_mm256_max_ps(t, lo));
        if (_mm256_movemask_ps(_mm256_or_ps(ok, is_skip)) != 0xFF) {
            float tv[8], wv[8];
            _mm256_storeu_ps(tv, t);
            _mm256_storeu_ps(wv, w);
            const int okm = _mm256_movemask_ps(ok);
            for (int u = 0; u < 8; u++)
                if (!(okm >> u & 1))
                    wv[u] = expf(tv[u]);
            w = _mm256_loadu_ps(wv);
        }
        sum = _mm256_add_ps(sum, _mm256_andnot_ps(is_skip, w));
        _mm256_storeu_ps(pw + c, _mm256_blendv_ps(w, skip, is_skip));
    }
    float s = hsum8_tree(sum);
    for (; c < nk; c++) {
        if (x[c] == -INFINITY) {
            pw[c] = KVA_P_SKIP;
            continue;
        }
        const float w = expf(x[c] - m);
        s += w;
        pw[c] = w;
    }
    return s;
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

/* 8 FP8 codes to the f16 bits of the same value (e5m2: the code is the
 * top byte of an f16; e4m3: sign, then the 7 magnitude bits at the f16
 * exponent's place, which is the value / 256 for normals and subnormals
 * alike: (1 + m/8) 2^(e-7) = (1 + m/8) 2^(e-15) * 256, m 2^-9 = m 2^-17
 * * 256), and the lanes whose code is e4m3's NaN (magnitude 0x7F). */
static __m128i fp8_as_f16(__m128i codes8, int e5m2, __m128i *nan)
{
    const __m128i c = _mm_cvtepu8_epi16(codes8);
    if (e5m2) {
        *nan = _mm_setzero_si128();
        return _mm_slli_epi16(c, 8);
    }
    const __m128i mag = _mm_and_si128(c, _mm_set1_epi16(0x7F));
    *nan = _mm_cmpeq_epi16(mag, _mm_set1_epi16(0x7F));
    const __m128i sign = _mm_slli_epi16(_mm_and_si128(c, _mm_set1_epi16(0x80)), 8);
    return _mm_or_si128(sign, _mm_slli_epi16(mag, 7));
}

/* FP8 without a gather (gathers cost about as much as the whole decode
 * on this core): the f16 conversion is exact, the e4m3 * 256 too, so
 * dst = exact value * s rounded once, as lut[code] * s. */
static void a_dec_fp8(float *dst, const uint8_t *src, int e5m2,
                      const float *lut, float s, int n)
{
    const __m256 sv = _mm256_set1_ps(s);
    const __m256 k = _mm256_set1_ps(e5m2 ? 1.0f : 256.0f);
    int d = 0;
    for (; d + 8 <= n; d += 8) {
        __m128i nan;
        const __m128i h = fp8_as_f16(
            _mm_loadl_epi64((const __m128i *)(src + d)), e5m2, &nan);
        __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h), k);
        const __m256 isnan = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan));
        v = _mm256_blendv_ps(v, _mm256_set1_ps(NAN), isnan);
        _mm256_storeu_ps(dst + d, _mm256_mul_ps(v, sv));
    }
    for (; d < n; d++)
        dst[d] = lut[src[d]] * s;
}

const kva_ops kva_ops_avx2 = {
    KVA_ISA_AVX2, "avx2",    a_scores,   a_pv,      a_rowmax, a_weights,
    a_scale,      a_dec_f16, a_dec_bf16, a_dec_lut8, a_dec_fp8,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
/* Not x86-64 with GCC/Clang: no AVX2 path (KVA_HAVE_AVX2 is not set). */
typedef int kva_no_avx2_path;
#endif
