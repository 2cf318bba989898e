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
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* A loaded vector pinned in a register: GCC otherwise folds the load into
 * every FMA that uses it, loading it again for each (the load ports, not
 * the FMA units, then bound the loop). */
AI __m256 pin_reg(__m256 v)
{
    __asm__("" : "+x"(v));
    return v;
}
#define IN_REG(v) pin_reg(v)

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

/* One step of a 4 x 2 score block: the four Q rows' vectors at d (q0 ..
 * q3), each loaded once and pinned, times the two keys' x0, x1, into the
 * named accumulators a00 .. a31 of the enclosing block. A macro, not a
 * function: the accumulators must stay named registers. */
#define FMA_4X2(x0, x1, d)                                                  \
    do {                                                                    \
        __m256 qv = IN_REG(_mm256_loadu_ps(q0 + (d)));                      \
        a00 = _mm256_fmadd_ps(qv, x0, a00);                                 \
        a01 = _mm256_fmadd_ps(qv, x1, a01);                                 \
        qv = IN_REG(_mm256_loadu_ps(q1 + (d)));                             \
        a10 = _mm256_fmadd_ps(qv, x0, a10);                                 \
        a11 = _mm256_fmadd_ps(qv, x1, a11);                                 \
        qv = IN_REG(_mm256_loadu_ps(q2 + (d)));                             \
        a20 = _mm256_fmadd_ps(qv, x0, a20);                                 \
        a21 = _mm256_fmadd_ps(qv, x1, a21);                                 \
        qv = IN_REG(_mm256_loadu_ps(q3 + (d)));                             \
        a30 = _mm256_fmadd_ps(qv, x0, a30);                                 \
        a31 = _mm256_fmadd_ps(qv, x1, a31);                                 \
    } while (0)

/* Four rows by two keys of scores, the rows ldq apart: the same sums as
 * score_block's (8 lanes over d by FMA, reduce8's tree, then the tail in
 * order). Eight named accumulators: with an array GCC 12 kept one on the
 * stack, a store-to-load round trip in every iteration's chain. */
static void score_4x2(float *s, int64_t lds, const float *q, int64_t ldq,
                      const float *k0, const float *k1, int D, float scale)
{
    const float *q0 = q, *q1 = q + ldq, *q2 = q + 2 * ldq, *q3 = q + 3 * ldq;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        const __m256 x0 = _mm256_loadu_ps(k0 + d);
        const __m256 x1 = _mm256_loadu_ps(k1 + d);
        FMA_4X2(x0, x1, d);
    }
    /* lanes r0c0 r0c1 r1c0 r1c1 ...: scale * (sum + tail), each row's
     * pair stored at once */
    float t[8] = {0};
    const float *const k[2] = {k0, k1};
    for (int r = 0; r < 4 && d < D; r++)
        for (int c = 0; c < 2; c++)
            for (int e = d; e < D; e++)
                t[r * 2 + c] = fmaf(q[r * ldq + e], k[c][e], t[r * 2 + c]);
    const __m256 v = _mm256_mul_ps(
        _mm256_set1_ps(scale),
        _mm256_add_ps(reduce8(a00, a01, a10, a11, a20, a21, a30, a31),
                      _mm256_loadu_ps(t)));
    const __m128 lo = _mm256_castps256_ps128(v);
    const __m128 hi = _mm256_extractf128_ps(v, 1);
    _mm_storel_pi((__m64 *)s, lo);
    _mm_storeh_pi((__m64 *)(s + lds), lo);
    _mm_storel_pi((__m64 *)(s + 2 * lds), hi);
    _mm_storeh_pi((__m64 *)(s + 3 * lds), hi);
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
    for (; r + 4 <= nr; r += 4) {
        int c = 0;
        for (; c + 2 <= nk; c += 2)
            score_4x2(s + r * lds + c, lds, q + r * ldq, ldq, k[c],
                      k[c + 1], D, scale);
        if (c < nk) /* the odd key: the same sums as a 4 x 2 block's */
            score_block(s + r * lds + c, lds, q + r * ldq, ldq, k + c, D,
                        scale, 4, 1, 2);
    }
    switch (nr - r) {
    case 3:
        SCORE_ROWS(3, 2);
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

/* Whether some p[c], c < nk, is KVA_P_SKIP. */
static int has_skip(const float *p, int nk)
{
    const __m256 skip = _mm256_set1_ps(KVA_P_SKIP);
    __m256 any = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= nk; c += 8)
        any = _mm256_or_ps(any, _mm256_cmp_ps(_mm256_loadu_ps(p + c), skip,
                                              _CMP_EQ_OQ));
    int found = _mm256_movemask_ps(any) != 0;
    for (; c < nk; c++)
        found |= p[c] == KVA_P_SKIP;
    return found;
}

/* Two rows' P.V over 32 dims at d when no weight of either is a skip:
 * the same FMAs in the same order as the general loop, without its
 * per-key tests. */
static void pv_pair32(float *acc0, float *acc1, const float *p0,
                      const float *p1, const float *const *v, int nk, int d)
{
    __m256 a0 = _mm256_loadu_ps(acc0 + d), a1 = _mm256_loadu_ps(acc0 + d + 8);
    __m256 a2 = _mm256_loadu_ps(acc0 + d + 16);
    __m256 a3 = _mm256_loadu_ps(acc0 + d + 24);
    __m256 b0 = _mm256_loadu_ps(acc1 + d), b1 = _mm256_loadu_ps(acc1 + d + 8);
    __m256 b2 = _mm256_loadu_ps(acc1 + d + 16);
    __m256 b3 = _mm256_loadu_ps(acc1 + d + 24);
    for (int c = 0; c < nk; c++) {
        const float *vr = v[c] + d;
        const __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8);
        const __m256 v2 = _mm256_loadu_ps(vr + 16);
        const __m256 v3 = _mm256_loadu_ps(vr + 24);
        const __m256 w0 = _mm256_broadcast_ss(p0 + c);
        const __m256 w1 = _mm256_broadcast_ss(p1 + c);
        a0 = _mm256_fmadd_ps(w0, v0, a0);
        a1 = _mm256_fmadd_ps(w0, v1, a1);
        a2 = _mm256_fmadd_ps(w0, v2, a2);
        a3 = _mm256_fmadd_ps(w0, v3, a3);
        b0 = _mm256_fmadd_ps(w1, v0, b0);
        b1 = _mm256_fmadd_ps(w1, v1, b1);
        b2 = _mm256_fmadd_ps(w1, v2, b2);
        b3 = _mm256_fmadd_ps(w1, v3, b3);
    }
    _mm256_storeu_ps(acc0 + d, a0);
    _mm256_storeu_ps(acc0 + d + 8, a1);
    _mm256_storeu_ps(acc0 + d + 16, a2);
    _mm256_storeu_ps(acc0 + d + 24, a3);
    _mm256_storeu_ps(acc1 + d, b0);
    _mm256_storeu_ps(acc1 + d + 8, b1);
    _mm256_storeu_ps(acc1 + d + 16, b2);
    _mm256_storeu_ps(acc1 + d + 24, b3);
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
        if (two && !has_skip(p0, nk) && !has_skip(p1, nk))
            for (; d + 32 <= D; d += 32)
                pv_pair32(acc0, acc1, p0, p1, v, nk, d);
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

/* 8 bf16 codes to fp32: the code in the top half, NaNs quieted (as
 * kva_bf16_decode). */
AI __m256 bf16x8(const uint16_t *src)
{
    const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    const __m256i qnan = _mm256_set1_epi32(0x00400000);
    __m256i b = _mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)src)), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, absm), inf);
    b = _mm256_or_si256(b, _mm256_and_si256(nan, qnan));
    return _mm256_castsi256_ps(b);
}

static void a_dec_bf16(float *dst, const uint16_t *src, int n)
{
    int d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(dst + d, bf16x8(src + d));
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
AI __m256 fp8x8(const uint8_t *src, int e5m2, __m256 sv)
{
    __m128i nan;
    const __m128i h =
        fp8_as_f16(_mm_loadl_epi64((const __m128i *)src), e5m2, &nan);
    __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h),
                             _mm256_set1_ps(e5m2 ? 1.0f : 256.0f));
    const __m256 isnan = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan));
    v = _mm256_blendv_ps(v, _mm256_set1_ps(NAN), isnan);
    return _mm256_mul_ps(v, sv);
}

static void a_dec_fp8(float *dst, const uint8_t *src, int e5m2,
                      const float *lut, float s, int n)
{
    const __m256 sv = _mm256_set1_ps(s);
    int d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(dst + d, fp8x8(src + d, e5m2, sv));
    for (; d < n; d++)
        dst[d] = lut[src[d]] * s;
}

/* ---- raw rows: straight from the cache (kva_raw_rows) ------------------ */

/* Elements d .. d+7 (d % 8 == 0) of an NVFP4 row: nibble 2k of the 4
 * bytes from d/2 on is byte k's low half, 2k+1 its high half; e2m1's
 * eight magnitudes by a lane permute, the sign by its bit; times the
 * group's effective scale es, rounded once (lut[code] * es). */
AI __m256 nvfp4x8(const uint8_t *row, int d, __m256 es)
{
    int32_t four;
    memcpy(&four, row + d / 2, 4);
    const __m256i bytes = _mm256_cvtepu8_epi32(_mm_shuffle_epi8(
        _mm_cvtsi32_si128(four),
        _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1, -1, -1, -1,
                      -1)));
    const __m256i code = _mm256_and_si256(
        _mm256_srlv_epi32(bytes, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4)),
        _mm256_set1_epi32(0xF));
    const __m256 mag = _mm256_permutevar8x32_ps(
        _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f), code);
    const __m256i sign = _mm256_slli_epi32(
        _mm256_and_si256(code, _mm256_set1_epi32(0x8)), 28);
    return _mm256_mul_ps(
        _mm256_xor_ps(mag, _mm256_castsi256_ps(sign)), es);
}

/* Elements d .. d+7 of a cache row of dtype DT (a constant once inlined)
 * as fp32, times the row's scale sv for FP8 and INT8 (NVFP4: its group's
 * effective scale): the values dec_* give. */
AI __m256 raw8(const void *row, int d, const kva_dtype DT, __m256 sv)
{
    switch (DT) {
    case KVA_DTYPE_NVFP4:
        return nvfp4x8((const uint8_t *)row, d, sv);
    case KVA_DTYPE_F16:
        return _mm256_cvtph_ps(
            _mm_loadu_si128((const __m128i *)((const uint16_t *)row + d)));
    case KVA_DTYPE_BF16:
        return bf16x8((const uint16_t *)row + d);
    case KVA_DTYPE_FP8_E4M3:
    case KVA_DTYPE_FP8_E5M2:
        return fp8x8((const uint8_t *)row + d, DT == KVA_DTYPE_FP8_E5M2, sv);
    case KVA_DTYPE_INT8: /* (float)code is exact: one rounding, by * s */
        return _mm256_mul_ps(
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                _mm_loadl_epi64((const __m128i *)((const int8_t *)row + d)))),
            sv);
    default: /* F32 */
        return _mm256_loadu_ps((const float *)row + d);
    }
}

/* The effective scale of the group of element d of NVFP4 raw row c (D
 * elements a row), as a vector; the row's scale for the other formats. */
AI __m256 raw_gscale(const kva_raw_rows *k, int c, int d, int D,
                     const kva_dtype DT, __m256 row_scale)
{
    return DT == KVA_DTYPE_NVFP4
               ? _mm256_set1_ps(k->gscale[(int64_t)c * (D / 16) + d / 16])
               : row_scale;
}

/* The scale of raw row c as a vector (1 for the formats without one). */
AI __m256 raw_scale(const kva_raw_rows *k, int c, const kva_dtype DT)
{
    return DT == KVA_DTYPE_FP8_E4M3 || DT == KVA_DTYPE_FP8_E5M2 ||
                   DT == KVA_DTYPE_INT8
               ? _mm256_set1_ps(k->scale[c])
               : _mm256_set1_ps(1.0f);
}

/* Scores of rows [0, nrows) x raw keys c0, c0 + 1 (nkeys of them; 1 or
 * 2; nrows 1..4): score_4x2's sums (an absent row repeats row 0, an
 * absent key key c0; neither is stored). D % 8 == 0. */
AI void score_raw_4x2(float *s, int64_t lds, const float *q, int64_t ldq,
                      int nrows, const kva_raw_rows *k, int c0, int nkeys,
                      int D, float scale, const kva_dtype DT)
{
    const float *q0 = q;
    const float *q1 = q + (nrows > 1 ? ldq : 0);
    const float *q2 = q + (nrows > 2 ? 2 * ldq : 0);
    const float *q3 = q + (nrows > 3 ? 3 * ldq : 0);
    const int c1 = nkeys > 1 ? c0 + 1 : c0;
    const void *k0 = k->rows[c0], *k1 = k->rows[c1];
    const __m256 s0 = raw_scale(k, c0, DT), s1 = raw_scale(k, c1, DT);
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (int d = 0; d < D; d += 8) {
        const __m256 x0 = raw8(k0, d, DT, raw_gscale(k, c0, d, D, DT, s0));
        const __m256 x1 = raw8(k1, d, DT, raw_gscale(k, c1, d, D, DT, s1));
        FMA_4X2(x0, x1, d);
    }
    /* + 0.0f: score_4x2 adds its (empty) tail sum, turning -0 into +0 */
    float v[8];
    _mm256_storeu_ps(
        v, _mm256_mul_ps(_mm256_set1_ps(scale),
                         _mm256_add_ps(reduce8(a00, a01, a10, a11, a20, a21,
                                               a30, a31),
                                       _mm256_setzero_ps())));
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < nkeys; c++)
            s[r * lds + c0 + c] = v[r * 2 + c];
}

/* The cache lines of next row c (kva_raw_rows.next), if there is one. */
AI void prefetch_next(const kva_raw_rows *k, int c)
{
    if (c < k->n_next)
        for (int64_t o = 0; o < k->next_bytes; o += 64)
            __builtin_prefetch((const char *)k->next[c] + o, 0, 2);
}

AI void scores_raw_t(float *s, int64_t lds, const float *q, int64_t ldq,
                     int nr, const kva_raw_rows *k, int nk, int D,
                     float scale, const kva_dtype DT)
{
    for (int r = 0; r < nr; r += 4) {
        const int nrows = nr - r < 4 ? nr - r : 4;
        for (int c = 0; c < nk; c += 2) {
            if (r == 0) {
                prefetch_next(k, c);
                prefetch_next(k, c + 1);
            }
            score_raw_4x2(s + r * lds, lds, q + r * ldq, ldq, nrows, k, c,
                          nk - c < 2 ? 1 : 2, D, scale, DT);
        }
    }
    for (int c = nk; c < k->n_next; c++) /* the rest of them */
        prefetch_next(k, c);
}

/* P.V of rows [0, nrows) (1..4) over dims d .. d + 8W - 1 (W = 1 or 2),
 * raw V rows: one FMA per element and live key, in key order (a_pv's
 * arithmetic). skips = 0: no weight is KVA_P_SKIP (no tests). An absent
 * row repeats row 0 and is not stored (row 0, stored last, wins). */
AI void pv_raw_rows(float *acc, const float *p, int64_t ldp, int nrows,
                    const kva_raw_rows *v, int nk, int D, int d, int skips,
                    const int W, const kva_dtype DT)
{
    const float *p1 = p + (nrows > 1 ? ldp : 0);
    const float *p2 = p + (nrows > 2 ? 2 * ldp : 0);
    const float *p3 = p + (nrows > 3 ? 3 * ldp : 0);
    float *acc1 = acc + (nrows > 1 ? D : 0);
    float *acc2 = acc + (nrows > 2 ? 2 * D : 0);
    float *acc3 = acc + (nrows > 3 ? 3 * D : 0);
    const int e = W > 1 ? 8 : 0; /* the second vector (W == 1: unused) */
    __m256 a00 = _mm256_loadu_ps(acc + d), a01 = _mm256_loadu_ps(acc + d + e);
    __m256 a10 = _mm256_loadu_ps(acc1 + d), a11 = _mm256_loadu_ps(acc1 + d + e);
    __m256 a20 = _mm256_loadu_ps(acc2 + d), a21 = _mm256_loadu_ps(acc2 + d + e);
    __m256 a30 = _mm256_loadu_ps(acc3 + d), a31 = _mm256_loadu_ps(acc3 + d + e);
    for (int c = 0; c < nk; c++) {
        if (d == 0)
            prefetch_next(v, c);
        const __m256 sv = raw_scale(v, c, DT);
        const __m256 v0 =
            raw8(v->rows[c], d, DT, raw_gscale(v, c, d, D, DT, sv));
        const __m256 v1 =
            W > 1 ? raw8(v->rows[c], d + e, DT,
                         raw_gscale(v, c, d + e, D, DT, sv))
                  : v0;
#define PV_ROW(pr, x0, x1)                                                  \
        if (!skips || pr[c] != KVA_P_SKIP) {                                \
            const __m256 w = _mm256_broadcast_ss(pr + c);                   \
            x0 = _mm256_fmadd_ps(w, v0, x0);                                \
            if (W > 1)                                                      \
                x1 = _mm256_fmadd_ps(w, v1, x1);                            \
        }
        PV_ROW(p, a00, a01)
        PV_ROW(p1, a10, a11)
        PV_ROW(p2, a20, a21)
        PV_ROW(p3, a30, a31)
#undef PV_ROW
    }
#define PV_STORE(ar, x0, x1)                                                \
    _mm256_storeu_ps(ar + d, x0);                                           \
    if (W > 1)                                                              \
        _mm256_storeu_ps(ar + d + e, x1);
    PV_STORE(acc3, a30, a31)
    PV_STORE(acc2, a20, a21)
    PV_STORE(acc1, a10, a11)
    PV_STORE(acc, a00, a01)
#undef PV_STORE
}

AI void pv_raw_t(float *acc, const float *p, int64_t ldp, int nr,
                 const kva_raw_rows *v, int nk, int D, const kva_dtype DT)
{
    for (int r = 0; r < nr; r += 4) {
        const int nrows = nr - r < 4 ? nr - r : 4;
        float *ar = acc + (int64_t)r * D;
        const float *pr = p + r * ldp;
        int skips = 0;
        for (int i = 0; i < nrows && !skips; i++)
            skips = has_skip(pr + i * ldp, nk);
        int d = 0;
        for (; d + 16 <= D; d += 16)
            pv_raw_rows(ar, pr, ldp, nrows, v, nk, D, d, skips, 2, DT);
        if (d < D) /* D % 16 == 8 */
            pv_raw_rows(ar, pr, ldp, nrows, v, nk, D, d, skips, 1, DT);
    }
    for (int c = nk; c < v->n_next; c++) /* the rest of them */
        prefetch_next(v, c);
}

#define RAW_DISPATCH(call, dt)                                              \
    switch (dt) {                                                           \
    case KVA_DTYPE_F16: call(KVA_DTYPE_F16); break;                         \
    case KVA_DTYPE_BF16: call(KVA_DTYPE_BF16); break;                       \
    case KVA_DTYPE_FP8_E4M3: call(KVA_DTYPE_FP8_E4M3); break;               \
    case KVA_DTYPE_FP8_E5M2: call(KVA_DTYPE_FP8_E5M2); break;               \
    case KVA_DTYPE_INT8: call(KVA_DTYPE_INT8); break;                       \
    case KVA_DTYPE_NVFP4: call(KVA_DTYPE_NVFP4); break;                     \
    default: call(KVA_DTYPE_F32); break;                                    \
    }

static void a_scores_raw(float *s, int64_t lds, const float *q, int64_t ldq,
                         int nr, const kva_raw_rows *k, int nk, int D,
                         float scale)
{
#define CALL(DT) scores_raw_t(s, lds, q, ldq, nr, k, nk, D, scale, DT)
    RAW_DISPATCH(CALL, k->dtype)
#undef CALL
}

static void a_pv_raw(float *acc, const float *p, int64_t ldp, int nr,
                     const kva_raw_rows *v, int nk, int D)
{
#define CALL(DT) pv_raw_t(acc, p, ldp, nr, v, nk, D, DT)
    RAW_DISPATCH(CALL, v->dtype)
#undef CALL
}

const kva_ops kva_ops_avx2 = {
    KVA_ISA_AVX2, "avx2",    a_scores,   a_pv,       a_rowmax,
    a_weights,    a_scale,   a_dec_f16,  a_dec_bf16, a_dec_lut8,
    a_dec_fp8,    a_scores_raw, a_pv_raw,
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
/* Not x86-64 with GCC/Clang: no AVX2 path (KVA_HAVE_AVX2 is not set). */
typedef int kva_no_avx2_path;
#endif
