/*
 * kva_isa.c — the portable arithmetic kernels (plain C that GCC vectorizes
 * at baseline x86-64, or any target) and the one-time choice of the ISA
 * path (kva_active_ops).
 *
 * The choice is made once per process, on first use, under pthread_once:
 * the AVX2 path (attention_avx2.c) when the CPU has AVX2, FMA and F16C,
 * else the portable one. KVATTN_ISA=portable forces the portable path;
 * KVATTN_ISA=avx2 asks for AVX2 (given only when the CPU has it);
 * KVATTN_ISA=avx512 and unknown names give the best available path (there
 * is no AVX-512 path). The result is a pointer to a constant table: after
 * the once-only initialisation nothing is written, so every entry point
 * stays reentrant and thread-safe.
 */
#include "kva_format.h"
#include "kva_internal.h"

#include <math.h>
#include <pthread.h>
#ifdef KVA_HAVE_AVX2
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

/* Dot product in 8 independent lanes: a plain `s += a[d]*b[d]` is a serial
 * dependency chain the compiler may not reassociate (no fast-math), while
 * eight lanes map onto SIMD adds. The summation order is fixed by the
 * source, so results do not depend on the vector width the compiler
 * picks. */
static float dot(const float *restrict a, const float *restrict b, int n)
{
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++)
            lane[u] += a[d + u] * b[d + u];
    float tail = 0.0f;
    for (; d < n; d++)
        tail += a[d] * b[d];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
           ((lane[2] + lane[6]) + (lane[3] + lane[7])) + tail;
}

static void p_scores(float *s, int64_t lds, const float *q, int64_t ldq,
                     int nr, const float *const *k, int nk, int D,
                     float scale)
{
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nk; c++)
            s[r * lds + c] = scale * dot(q + r * ldq, k[c], D);
}

/* acc += w * x, in blocks of 8 (GCC vectorizes a fixed-size block at -O2;
 * element-wise, so the result does not depend on how it is compiled). */
static void axpy(float *restrict acc, float w, const float *restrict x, int n)
{
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++)
            acc[d + u] += w * x[d + u];
    for (; d < n - KVA_MUT(34); d++)
        acc[d] += w * x[d];
}

static void p_pv(float *acc, const float *p, int64_t ldp, int nr,
                 const float *const *v, int nk, int D)
{
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nk; c++)
            if (p[r * ldp + c] != KVA_P_SKIP)
                axpy(acc + (int64_t)r * D, p[r * ldp + c], v[c], D);
}

static float p_rowmax(const float *restrict x, int nk, int *live)
{
    float tmax = -INFINITY;
    int any = 0;
    for (int c = 0; c < nk; c++) {
        tmax = x[c] > tmax ? x[c] : tmax;
        any |= x[c] != -INFINITY;
    }
    *live = any;
    return tmax;
}

static float p_weights(float *restrict pw, const float *restrict x, int nk,
                       float m)
{
    float sum = 0.0f;
    for (int c = 0; c < nk; c++) {
        if (x[c] == -INFINITY) {
            pw[c] = KVA_P_SKIP;
            continue;
        }
        const float w = expf(x[c] - m);
        sum += w;
        pw[c] = w;
    }
    return sum;
}

static void p_scale(float *restrict acc, float w, int n)
{
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int u = 0; u < 8; u++)
            acc[d + u] *= w;
    for (; d < n; d++)
        acc[d] *= w;
}

static inline uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* kva_f16_decode without branches (every case computed, one selected), so
 * GCC vectorizes the loop; the subnormal value is the same exact int ->
 * float conversion and multiply by 2^-24, so no subnormal float is ever an
 * input (FTZ/DAZ-proof like kva_format.c). */
static void p_dec_f16(float *restrict dst, const uint16_t *restrict src,
                      int n)
{
    for (int d = 0; d < n; d++) {
        const uint32_t c = src[d];
        const uint32_t sign = (c & 0x8000u) << 16;
        const uint32_t em = c & 0x7FFFu, m = c & 0x03FFu;
        const uint32_t special =
            0x7F800000u | (m << 13) | (m != 0 ? 0x00400000u : 0u);
        const uint32_t normal = (em << 13) + ((127u - 15u) << 23);
        const uint32_t sub = bits_of((float)(int32_t)m * 0x1p-24f);
        const uint32_t b =
            em >= 0x7C00u ? special : (em >= 0x0400u ? normal : sub);
        const uint32_t u = sign | b;
        memcpy(&dst[d], &u, sizeof u);
    }
}

static void p_dec_bf16(float *restrict dst, const uint16_t *restrict src,
                       int n)
{
    for (int d = 0; d < n; d++)
        dst[d] = kva_bf16_decode(src[d]);
}

static void p_dec_lut8(float *restrict dst, const uint8_t *restrict src,
                       const float *restrict lut, float s, int n)
{
    for (int d = 0; d < n; d++)
        dst[d] = lut[src[d]] * s;
}

static void p_dec_fp8(float *restrict dst, const uint8_t *restrict src,
                      int e5m2, const float *restrict lut, float s, int n)
{
    (void)e5m2;
    p_dec_lut8(dst, src, lut, s, n);
}

const kva_ops kva_ops_portable = {
    KVA_ISA_PORTABLE, "portable", p_scores,   p_pv,       p_rowmax,
    p_weights,
    p_scale,          p_dec_f16,  p_dec_bf16, p_dec_lut8,
    p_dec_fp8,        NULL,       NULL,
};

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static const kva_ops *isa_ops = &kva_ops_portable; /* written once */

#ifdef KVA_HAVE_AVX2
/* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does
 * not know "f16c". AVX2 and FMA imply the OS saves YMM state (the builtin
 * checks XGETBV for them). */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1u);
}
#endif

static void choose_isa(void)
{
    const kva_ops *best = &kva_ops_portable;
#ifdef KVA_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        has_f16c())
        best = &kva_ops_avx2;
#endif
    const char *want = getenv("KVATTN_ISA");
    if (want != NULL && strcmp(want, "portable") == 0)
        best = &kva_ops_portable;
    /* "avx2", "avx512" (no such path) and unknown names: the best path */
    isa_ops = best;
}

const kva_ops *kva_active_ops(void)
{
    pthread_once(&isa_once, choose_isa);
    return isa_ops;
}
