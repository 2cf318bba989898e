/*
 * bench_simd.c — the inner loops of the machine ceilings (bench.h): a
 * streaming read (a sum of floats) and independent FMA chains, for
 * AVX-512F, AVX2+FMA and a portable fallback (GCC vector extensions).
 * The x86 loops carry __attribute__((target)) instead of per-file -m
 * flags, so every build of the tree (fuzz, sanitizers, clang) compiles
 * this file unchanged; bench_best_isa picks one at run time.
 */
#include "bench.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define BENCH_X86 1
#include <immintrin.h>
#endif

/* ---- portable: 8-lane vectors the compiler maps to what it has ---------- */

typedef float v8f __attribute__((vector_size(32)));

/* By pointer: a 32-byte vector passed by value changes the ABI without
 * AVX (-Wpsabi). */
static float hsum8(const v8f *v)
{
    float s = 0;
    for (int i = 0; i < 8; i++)
        s += (*v)[i];
    return s;
}

static float read_generic(const float *p, size_t n)
{
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (size_t i = 0; i < n; i += 32) {
        v8f x0, x1, x2, x3;
        __builtin_memcpy(&x0, p + i, sizeof x0);
        __builtin_memcpy(&x1, p + i + 8, sizeof x1);
        __builtin_memcpy(&x2, p + i + 16, sizeof x2);
        __builtin_memcpy(&x3, p + i + 24, sizeof x3);
        a0 += x0;
        a1 += x1;
        a2 += x2;
        a3 += x3;
    }
    v8f s = a0 + a1 + a2 + a3;
    return hsum8(&s);
}

/* acc = acc * m + c: a multiply and an add (no contraction here: the
 * fallback counts 2 flops per lane either way). */
static float fma_generic(long iters)
{
    v8f acc[BENCH_FMA_CHAINS];
    const v8f m = {0.9999f, 0.9999f, 0.9999f, 0.9999f,
                   0.9999f, 0.9999f, 0.9999f, 0.9999f};
    const v8f c = {1e-4f, 1e-4f, 1e-4f, 1e-4f, 1e-4f, 1e-4f, 1e-4f, 1e-4f};
    for (int j = 0; j < BENCH_FMA_CHAINS; j++)
        for (int l = 0; l < 8; l++)
            acc[j][l] = (float)(j + l) * 0.01f;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < BENCH_FMA_CHAINS; j++)
            acc[j] = acc[j] * m + c;
    v8f s = {0};
    for (int j = 0; j < BENCH_FMA_CHAINS; j++)
        s += acc[j];
    return hsum8(&s);
}

#ifdef BENCH_X86
/* ---- AVX2 + FMA ---------------------------------------------------------- */

__attribute__((target("avx2,fma"))) static float read_avx2(const float *p,
                                                            size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] +
           out[7];
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters)
{
    const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    __m256 a0 = _mm256_set1_ps(0.01f), a1 = _mm256_set1_ps(0.02f),
           a2 = _mm256_set1_ps(0.03f), a3 = _mm256_set1_ps(0.04f),
           a4 = _mm256_set1_ps(0.05f), a5 = _mm256_set1_ps(0.06f),
           a6 = _mm256_set1_ps(0.07f), a7 = _mm256_set1_ps(0.08f),
           a8 = _mm256_set1_ps(0.09f), a9 = _mm256_set1_ps(0.10f),
           a10 = _mm256_set1_ps(0.11f), a11 = _mm256_set1_ps(0.12f);
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
        _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9),
                                       _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

/* ---- AVX-512F ------------------------------------------------------------ */

__attribute__((target("avx512f"))) static float read_avx512(const float *p,
                                                            size_t n)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx512f"))) static float fma_avx512(long iters)
{
    const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    __m512 a0 = _mm512_set1_ps(0.01f), a1 = _mm512_set1_ps(0.02f),
           a2 = _mm512_set1_ps(0.03f), a3 = _mm512_set1_ps(0.04f),
           a4 = _mm512_set1_ps(0.05f), a5 = _mm512_set1_ps(0.06f),
           a6 = _mm512_set1_ps(0.07f), a7 = _mm512_set1_ps(0.08f),
           a8 = _mm512_set1_ps(0.09f), a9 = _mm512_set1_ps(0.10f),
           a10 = _mm512_set1_ps(0.11f), a11 = _mm512_set1_ps(0.12f);
    for (long i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, m, c);
        a1 = _mm512_fmadd_ps(a1, m, c);
        a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c);
        a4 = _mm512_fmadd_ps(a4, m, c);
        a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c);
        a7 = _mm512_fmadd_ps(a7, m, c);
        a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c);
        a10 = _mm512_fmadd_ps(a10, m, c);
        a11 = _mm512_fmadd_ps(a11, m, c);
    }
    __m512 s = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
        _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9),
                                       _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}
#endif /* BENCH_X86 */

const bench_isa *bench_best_isa(void)
{
    static const bench_isa generic = {"portable", read_generic, fma_generic,
                                      8};
#ifdef BENCH_X86
    static const bench_isa avx2 = {"avx2+fma", read_avx2, fma_avx2, 8};
    static const bench_isa avx512 = {"avx512f", read_avx512, fma_avx512, 16};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return &avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &avx2;
#endif
    return &generic;
}
