/*
 * test_kernel_isa.c — libkvattn's tiled attention engine on each ISA path
 * (kernels/kva_isa.c: portable, AVX2; KVATTN_ISA picks one per process)
 * and thread count:
 *   - kvcheck campaigns with KVATTN_ISA forced in the kvcheck process and
 *     --kernel-threads 1, 2, 3: every mode and format, all must pass;
 *   - in process (Criterion runs each test in a process of its own, so
 *     setenv before the first call chooses the path): long decodes that
 *     take the KV-split path, prefill, windows, masks and empty rows against
 *     a double-precision reference, bitwise equal across thread counts 1, 2
 *     and 3, and a sequence alone bitwise equal to the same in its batch.
 * Different ISA paths may round differently (FMA), so their outputs are
 * not compared with each other bitwise.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kva_format.h"
#include "../kernels/kva_internal.h"
#include "../kernels/kvattn.h"
#include "subprocess.h"

#define KVCHECK KVC_BUILD_DIR "/kvcheck"

/* ---- campaigns through kvcheck, one per (ISA, threads) ------------------ */

static void campaign(const char *isa, const char *threads, const char *seed)
{
    char env[64];
    snprintf(env, sizeof env, "KVATTN_ISA=%s", isa);
    const char *envv[] = {env, NULL};
    const char *argv[] = {KVCHECK,     "run",      "--cases",
                          "300",       "--seed",   seed,
                          "--kernel-threads",      threads,
                          "--jobs",    "2",        "--no-report",
                          "--no-progress",         NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, envv, 500), 0);
    cr_assert(!p.timed_out, "kvcheck run did not end");
    cr_assert_eq(kvc_proc_exit_code(&p), 0,
                 "KVATTN_ISA=%s --kernel-threads %s: exit %d\n%s%s", isa,
                 threads, kvc_proc_exit_code(&p), p.out, p.err);
    kvc_proc_free(&p);
}

Test(kernel_isa, campaign_portable_threads_1_2_3, .timeout = 600)
{
    campaign("portable", "1", "11");
    campaign("portable", "2", "12");
    campaign("portable", "3", "13");
}

Test(kernel_isa, campaign_avx2_threads_1_2_3, .timeout = 600)
{
    campaign("avx2", "1", "21");
    campaign("avx2", "2", "22");
    campaign("avx2", "3", "23");
}

/* avx512 has no path of its own: the best available one runs. */
Test(kernel_isa, campaign_avx512_falls_back, .timeout = 600)
{
    campaign("avx512", "2", "31");
    campaign("no-such-isa", "1", "32");
}

/* ---- in-process problems ------------------------------------------------ */

#define BS 16 /* block size */

typedef struct seqdef {
    int q_len, seq_len;
    int masked; /* 1: a random mask, with token 0 seeing nothing */
} seqdef;

typedef struct prob {
    int S, Hq, Hkv, D, causal, window;
    float softcap;
    kva_dtype dtype;
    const seqdef *seqs;
    /* built */
    kva_paged_cache cache;
    int64_t *qsl;
    int *seq_lens, *table;
    int max_blocks;
    uint8_t **masks;
    float *q;
    int64_t num_tokens;
    float *kval, *vval; /* [S][seq_len][Hkv][D] values as the cache holds */
    int64_t *kv_off;    /* [S] start of each sequence's K/V values */
} prob;

static uint64_t rng = 88172645463325252ull;
static float urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* The value a cache of dtype holds for x (F32 and F16 only here). */
static float held(kva_dtype dt, float x)
{
    return dt == KVA_DTYPE_F16 ? kva_f16_decode(kva_f16_encode(x)) : x;
}

static void build(prob *pb)
{
    const int S = pb->S, Hkv = pb->Hkv, D = pb->D;
    pb->qsl = calloc((size_t)S + 1, sizeof *pb->qsl);
    pb->seq_lens = calloc((size_t)S, sizeof(int));
    pb->kv_off = calloc((size_t)S, sizeof(int64_t));
    pb->masks = calloc((size_t)S, sizeof(uint8_t *));
    int64_t nb = 0, kv_total = 0;
    pb->max_blocks = 1;
    for (int s = 0; s < S; s++) {
        pb->qsl[s + 1] = pb->qsl[s] + pb->seqs[s].q_len;
        pb->seq_lens[s] = pb->seqs[s].seq_len;
        const int blocks = (pb->seqs[s].seq_len + BS - 1) / BS;
        nb += blocks;
        if (blocks > pb->max_blocks)
            pb->max_blocks = blocks;
        pb->kv_off[s] = kv_total;
        kv_total += (int64_t)pb->seqs[s].seq_len * Hkv * D;
    }
    pb->num_tokens = pb->qsl[S] + 2; /* two padding tokens */
    /* blocks handed out in a scrambled order */
    pb->table = malloc((size_t)S * pb->max_blocks * sizeof(int));
    for (int64_t e = 0; e < (int64_t)S * pb->max_blocks; e++)
        pb->table[e] = -1;
    int64_t next = 0;
    for (int s = 0; s < S; s++)
        for (int b = 0; b < (pb->seqs[s].seq_len + BS - 1) / BS; b++) {
            pb->table[s * pb->max_blocks + b] =
                (int)((next * 7919) % nb); /* nb is not a multiple */
            next++;
        }
    /* 7919 is prime; make the map a permutation by requiring coprimality */
    cr_assert(nb % 7919 != 0);

    kva_paged_cache *c = &pb->cache;
    memset(c, 0, sizeof *c);
    c->num_blocks = nb;
    c->block_size = BS;
    c->num_kv_heads = Hkv;
    c->head_dim = D;
    c->stride_head = D;
    c->stride_slot = (int64_t)Hkv * D;
    c->stride_block = (int64_t)BS * Hkv * D;
    c->pool_elems = c->stride_block * nb;
    c->dtype = pb->dtype;
    const size_t ub = pb->dtype == KVA_DTYPE_F32 ? 4 : 2;
    c->k = calloc((size_t)c->pool_elems, ub);
    c->v = calloc((size_t)c->pool_elems, ub);
    pb->kval = malloc((size_t)kv_total * sizeof(float));
    pb->vval = malloc((size_t)kv_total * sizeof(float));
    for (int s = 0; s < S; s++) {
        const int L = pb->seqs[s].seq_len;
        float *k = pb->kval + pb->kv_off[s], *v = pb->vval + pb->kv_off[s];
        int64_t *slots = malloc((size_t)L * sizeof *slots);
        for (int64_t i = 0; i < (int64_t)L * Hkv * D; i++) {
            k[i] = held(pb->dtype, urand());
            v[i] = held(pb->dtype, urand());
        }
        for (int j = 0; j < L; j++)
            slots[j] = (int64_t)pb->table[s * pb->max_blocks + j / BS] * BS +
                       j % BS;
        kva_error err;
        cr_assert_eq(kva_cache_write(c, k, v, slots, L, &err), KVA_OK, "%s",
                     err.msg);
        free(slots);
        if (pb->seqs[s].masked) {
            const int ql = pb->seqs[s].q_len;
            uint8_t *m = malloc((size_t)ql * L);
            for (int64_t i = 0; i < (int64_t)ql * L; i++)
                m[i] = urand() < 0.4f;
            memset(m, 0, (size_t)L); /* token 0 sees nothing */
            pb->masks[s] = m;
        }
    }
    const int64_t nq = pb->num_tokens * pb->Hq * D;
    pb->q = malloc((size_t)nq * sizeof(float));
    for (int64_t i = 0; i < nq; i++)
        pb->q[i] = urand();
}

static void free_prob(prob *pb)
{
    for (int s = 0; s < pb->S; s++)
        free(pb->masks[s]);
    free(pb->masks);
    free(pb->qsl);
    free(pb->seq_lens);
    free(pb->kv_off);
    free(pb->table);
    free(pb->cache.k);
    free(pb->cache.v);
    free(pb->kval);
    free(pb->vval);
    free(pb->q);
}

/* Run sequences [s0, s1) of the problem as a batch of their own. */
static void run_range(const prob *pb, int s0, int s1, int threads,
                      float *out, float *lse)
{
    const int n = s1 - s0;
    int64_t *qsl = calloc((size_t)n + 1, sizeof *qsl);
    for (int s = 0; s <= n; s++)
        qsl[s] = pb->qsl[s0 + s] - pb->qsl[s0];
    const uint8_t *const *masks = (const uint8_t *const *)pb->masks + s0;
    kva_paged_batch b = {n, qsl, pb->seq_lens + s0,
                         pb->table + (int64_t)s0 * pb->max_blocks,
                         pb->max_blocks, masks};
    kva_attn_params p = {pb->Hq,      pb->Hkv,    pb->D,
                         1.0f / sqrtf((float)pb->D), pb->softcap,
                         pb->causal,  pb->window, threads};
    const int64_t rowf = (int64_t)pb->Hq * pb->D;
    kva_error err;
    cr_assert_eq(kva_paged_attention(&p, &pb->cache, &b,
                                     pb->q + pb->qsl[s0] * rowf,
                                     qsl[n], out, lse, &err),
                 KVA_OK, "%s", err.msg);
    free(qsl);
}

/* Double-precision attention of every real row, compared with out/lse. */
static void check_reference(const prob *pb, const float *out,
                            const float *lse)
{
    const int Hq = pb->Hq, D = pb->D, group = pb->Hq / pb->Hkv;
    const float fscale = 1.0f / sqrtf((float)D);
    double *x = NULL;
    for (int s = 0; s < pb->S; s++) {
        const int ql = pb->seqs[s].q_len, L = pb->seqs[s].seq_len;
        x = realloc(x, (size_t)L * sizeof *x);
        for (int i = 0; i < ql; i++) {
            const int64_t t = pb->qsl[s] + i, pos = L - ql + i;
            for (int h = 0; h < Hq; h++) {
                const int kvh = h / group;
                const float *q = pb->q + (t * Hq + h) * D;
                double mx = -INFINITY;
                for (int j = 0; j < L; j++) {
                    int vis = (!pb->causal || j <= pos) &&
                              (pb->window < 0 || j >= pos - pb->window) &&
                              (pb->masks[s] == NULL ||
                               pb->masks[s][(int64_t)i * L + j]);
                    if (!vis) {
                        x[j] = -INFINITY;
                        continue;
                    }
                    const float *k = pb->kval + pb->kv_off[s] +
                                     ((int64_t)j * pb->Hkv + kvh) * D;
                    double d = 0;
                    for (int e = 0; e < D; e++)
                        d += (double)q[e] * k[e];
                    d *= fscale;
                    if (pb->softcap > 0)
                        d = pb->softcap * tanh(d / pb->softcap);
                    x[j] = d;
                    if (d > mx)
                        mx = d;
                }
                const float *o = out + (t * Hq + h) * D;
                if (mx == -INFINITY) {
                    for (int e = 0; e < D; e++)
                        cr_assert(o[e] == 0.0f, "empty row not zero");
                    cr_assert(isinf(lse[t * Hq + h]) &&
                                  lse[t * Hq + h] < 0,
                              "empty row lse %g", lse[t * Hq + h]);
                    continue;
                }
                double l = 0;
                for (int j = 0; j < L; j++)
                    if (x[j] != -INFINITY)
                        l += exp(x[j] - mx);
                cr_assert(fabs(lse[t * Hq + h] - (mx + log(l))) < 1e-4,
                          "seq %d token %d head %d: lse %.9g ref %.9g", s, i,
                          h, lse[t * Hq + h], mx + log(l));
                for (int e = 0; e < D; e++) {
                    double a = 0;
                    for (int j = 0; j < L; j++)
                        if (x[j] != -INFINITY)
                            a += exp(x[j] - mx) *
                                 pb->vval[pb->kv_off[s] +
                                          ((int64_t)j * pb->Hkv + kvh) * D +
                                          e];
                    a /= l;
                    cr_assert(fabs(o[e] - a) < 2e-5,
                              "seq %d token %d head %d d %d: out %.9g ref "
                              "%.9g",
                              s, i, h, e, o[e], a);
                }
            }
        }
    }
    free(x);
}

/* The whole check of one problem on the process's ISA path. */
static void check_problem(prob *pb)
{
    build(pb);
    const int64_t rowf = (int64_t)pb->Hq * pb->D;
    const int64_t n_out = pb->num_tokens * rowf, n_lse = pb->num_tokens * pb->Hq;
    float *out[4], *lse[4];
    for (int t = 1; t <= 3; t++) {
        out[t] = malloc((size_t)n_out * sizeof(float));
        lse[t] = malloc((size_t)n_lse * sizeof(float));
        /* padding rows must stay as they are: fill the same on every run */
        memset(out[t], 0x5A, (size_t)n_out * sizeof(float));
        memset(lse[t], 0x5A, (size_t)n_lse * sizeof(float));
        run_range(pb, 0, pb->S, t, out[t], lse[t]);
    }
    check_reference(pb, out[1], lse[1]);
    for (int t = 2; t <= 3; t++) {
        cr_assert(memcmp(out[1], out[t], (size_t)n_out * sizeof(float)) == 0,
                  "out differs between 1 and %d threads", t);
        cr_assert(memcmp(lse[1], lse[t], (size_t)n_lse * sizeof(float)) == 0,
                  "lse differs between 1 and %d threads", t);
    }
    /* every sequence alone (2 threads) gives the bits it has in the batch */
    for (int s = 0; s < pb->S; s++) {
        const int64_t n = pb->qsl[s + 1] - pb->qsl[s];
        float *o1 = malloc((size_t)(n * rowf + 1) * sizeof(float));
        float *l1 = malloc((size_t)(n * pb->Hq + 1) * sizeof(float));
        run_range(pb, s, s + 1, 2, o1, l1);
        cr_assert(memcmp(o1, out[1] + pb->qsl[s] * rowf,
                         (size_t)(n * rowf) * sizeof(float)) == 0,
                  "sequence %d alone: other out than in its batch", s);
        cr_assert(memcmp(l1, lse[1] + pb->qsl[s] * pb->Hq,
                         (size_t)(n * pb->Hq) * sizeof(float)) == 0,
                  "sequence %d alone: other lse than in its batch", s);
        free(o1);
        free(l1);
    }
    for (int t = 1; t <= 3; t++) {
        free(out[t]);
        free(lse[t]);
    }
    free_prob(pb);
}

/* Long decodes (KV splits), a short prefill with a mask, GQA 4. */
static const seqdef decode_seqs[] = {
    {1, 5000, 0}, {3, 4200, 0}, {40, 300, 1}, {1, 9000, 0}, {2, 17, 1}};

static void run_all(kva_dtype dt)
{
    prob a = {.S = 5, .Hq = 8, .Hkv = 2, .D = 72, .causal = 1,
              .window = -1, .dtype = dt, .seqs = decode_seqs};
    check_problem(&a);
    /* sliding window (a window of 4500 keeps the 9000-key decode split),
     * soft-cap, MQA, head_dim 16 */
    prob b = {.S = 5, .Hq = 4, .Hkv = 1, .D = 16, .causal = 1,
              .window = 4500, .softcap = 30.0f, .dtype = dt,
              .seqs = decode_seqs};
    check_problem(&b);
    /* bidirectional, MHA, head_dim 130 (tails everywhere) */
    static const seqdef pre[] = {{70, 100, 0}, {5, 4100, 0}, {33, 33, 1}};
    prob c = {.S = 3, .Hq = 3, .Hkv = 3, .D = 130, .causal = 0,
              .window = -1, .dtype = dt, .seqs = pre};
    check_problem(&c);
}

static void use_isa(const char *isa, const char *expect)
{
    setenv("KVATTN_ISA", isa, 1);
    const char *got = kva_active_ops()->name;
#ifdef KVA_HAVE_AVX2
    __builtin_cpu_init();
    const int have = __builtin_cpu_supports("avx2") &&
                     __builtin_cpu_supports("fma") &&
                     __builtin_cpu_supports("f16c");
#else
    const int have = 0;
#endif
    if (strcmp(expect, "avx2") == 0 && !have)
        expect = "portable";
    cr_assert_str_eq(got, expect, "KVATTN_ISA=%s chose %s", isa, got);
}

Test(kernel_isa, portable_f32, .timeout = 300)
{
    use_isa("portable", "portable");
    run_all(KVA_DTYPE_F32);
}

Test(kernel_isa, portable_f16, .timeout = 300)
{
    use_isa("portable", "portable");
    run_all(KVA_DTYPE_F16);
}

Test(kernel_isa, avx2_f32, .timeout = 300)
{
    use_isa("avx2", "avx2");
    run_all(KVA_DTYPE_F32);
}

Test(kernel_isa, avx2_f16, .timeout = 300)
{
    use_isa("avx2", "avx2");
    run_all(KVA_DTYPE_F16);
}

Test(kernel_isa, unknown_and_avx512_give_the_best_path)
{
    use_isa("avx512", "avx2");
}

/* ---- the decoders of each path equal kva_format.c, bit for bit --------- */

/* dec_fp8 (which may decode the bits instead of reading the table) equals
 * lut[code] * s for both FP8 formats, every code, and scales from
 * subnormal results to overflow, where a path that scaled twice would
 * round twice. */
static void check_fp8_decoder(const kva_ops *ops, const uint8_t *b8, int n)
{
    static const float scales[] = {0.37f, 1.0f, 0x1p-140f, 0x1.8p-126f,
                                   3e-39f, 1e30f, 0x1p120f, 0x1.fffffep127f,
                                   -2.5f};
    float lut[256], got[256 + 7];
    for (int fmt = 0; fmt < 2; fmt++) {
        for (int c = 0; c < 256; c++)
            lut[c] = fmt ? kva_e5m2_decode((uint8_t)c)
                         : kva_e4m3_decode((uint8_t)c);
        for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
            const float s = scales[k];
            ops->dec_fp8(got, b8, fmt, lut, s, n);
            for (int i = 0; i < n; i++) {
                const float want = lut[b8[i]] * s;
                cr_assert(memcmp(&got[i], &want, 4) == 0 ||
                              (isnan(got[i]) && isnan(want)),
                          "%s: %s code 0x%02x scale %a gives %a, want %a",
                          ops->name, fmt ? "e5m2" : "e4m3", b8[i], (double)s,
                          (double)got[i], (double)want);
            }
        }
    }
}

static void check_decoders(const kva_ops *ops)
{
    static uint16_t codes[65536];
    static float got[65536];
    for (int c = 0; c < 65536; c++)
        codes[c] = (uint16_t)c;
    /* odd lengths and offsets: the vector bodies and the scalar tails */
    const int n = 65536 - 3;
    ops->dec_f16(got, codes + 1, n);
    for (int i = 0; i < n; i++) {
        const float want = kva_f16_decode(codes[i + 1]);
        cr_assert(memcmp(&got[i], &want, 4) == 0,
                  "%s: f16 code 0x%04x gives %a, want %a", ops->name,
                  codes[i + 1], (double)got[i], (double)want);
    }
    ops->dec_bf16(got, codes + 1, n);
    for (int i = 0; i < n; i++) {
        const float want = kva_bf16_decode(codes[i + 1]);
        cr_assert(memcmp(&got[i], &want, 4) == 0,
                  "%s: bf16 code 0x%04x gives %a, want %a", ops->name,
                  codes[i + 1], (double)got[i], (double)want);
    }
    static uint8_t b8[256 + 7];
    float lut[256];
    for (int c = 0; c < 256; c++)
        lut[c] = kva_e4m3_decode((uint8_t)c);
    for (int c = 0; c < 256 + 7; c++)
        b8[c] = (uint8_t)(c * 7);
    ops->dec_lut8(got, b8, lut, 0.37f, 256 + 7);
    for (int i = 0; i < 256 + 7; i++) {
        const float want = lut[b8[i]] * 0.37f;
        cr_assert(memcmp(&got[i], &want, 4) == 0 || (isnan(got[i]) && isnan(want)),
                  "%s: e4m3 code 0x%02x gives %a, want %a", ops->name,
                  b8[i], (double)got[i], (double)want);
    }
    check_fp8_decoder(ops, b8, 256 + 7);
}

Test(kernel_isa, decoders_equal_the_codecs_portable)
{
    check_decoders(&kva_ops_portable);
}

Test(kernel_isa, decoders_equal_the_codecs_avx2)
{
#ifdef KVA_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        check_decoders(&kva_ops_avx2);
#endif
}

/* ---- raw kernels: rows straight from the cache -------------------------- */

/* Random codes of a raw dtype in a row of D elements; a few of them NaN or
 * infinite where the format has such codes, zeros and subnormals too. */
static void raw_fill(void *row, kva_dtype dt, int D, unsigned *seed)
{
    for (int d = 0; d < D; d++) {
        *seed = *seed * 1103515245u + 12345u;
        const unsigned r = *seed >> 8;
        switch (dt) {
        case KVA_DTYPE_F32:
            ((float *)row)[d] = (float)((int)(r % 2001) - 1000) / 337.0f;
            break;
        case KVA_DTYPE_F16:
        case KVA_DTYPE_BF16:
            /* mostly moderate values, now and then any code at all */
            ((uint16_t *)row)[d] =
                (uint16_t)(r % 16 == 0 ? r : (dt == KVA_DTYPE_F16 ? 0x3000
                                                                  : 0x3e00) +
                                                 (r & 0x3ff) +
                                                 ((r >> 12 & 1) << 15));
            break;
        default: /* FP8, INT8: every code */
            ((uint8_t *)row)[d] = (uint8_t)r;
            break;
        }
    }
}

static int same_float(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* scores_raw / pv_raw against decoding the same rows with dec_* and the
 * scratch kernels: bitwise equal (NaN payloads aside), for every raw
 * dtype, row counts 1..9 (4-row blocks and their remainders), key counts
 * 1..9 and 64, head dims of 8 (a lone half block), 24 and 128, and weights
 * with and without skips. */
static void check_raw_kernels(const kva_ops *ops)
{
    static const kva_dtype dts[] = {KVA_DTYPE_F32,      KVA_DTYPE_F16,
                                    KVA_DTYPE_BF16,     KVA_DTYPE_FP8_E4M3,
                                    KVA_DTYPE_FP8_E5M2, KVA_DTYPE_INT8,
                                    KVA_DTYPE_NVFP4};
    static const int dims[] = {8, 24, 128};
    static const int dims16[] = {16, 48, 128}; /* NVFP4: groups of 16 */
    enum { NK = 64, NR = 9, DMAX = 128 };
    static float gscale[NK * (DMAX / 16)];
    static float q[NR * DMAX], dec[NK * DMAX], s1[NR * NK], s2[NR * NK];
    static float p[NR * NK], acc1[NR * DMAX], acc2[NR * DMAX];
    static uint8_t store[NK][DMAX * 4];
    float lut[256], scale[NK];
    const void *rows[NK];
    const float *drows[NK];
    unsigned seed = 7;
    for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++) {
        const kva_dtype dt = dts[t];
        const int e5m2 = dt == KVA_DTYPE_FP8_E5M2;
        for (int c = 0; c < 256; c++)
            lut[c] = dt == KVA_DTYPE_INT8 ? (float)(int8_t)(uint8_t)c
                     : e5m2               ? kva_e5m2_decode((uint8_t)c)
                                          : kva_e4m3_decode((uint8_t)c);
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int D = dt == KVA_DTYPE_NVFP4 ? dims16[di] : dims[di];
            for (int i = 0; i < NK * (D / 16); i++)
                gscale[i] = 0.37f * (float)(i % 5 + 1) * (i % 3 ? 1.0f : 0x1p-20f);
            for (int c = 0; c < NK; c++) {
                raw_fill(store[c], dt, D, &seed);
                scale[c] = 0.01f + (float)(c % 7) * 0.3f;
                rows[c] = store[c];
                drows[c] = dec + c * D;
                float *o = dec + c * D;
                if (dt == KVA_DTYPE_F32)
                    memcpy(o, store[c], (size_t)D * 4);
                else if (dt == KVA_DTYPE_F16)
                    ops->dec_f16(o, (const uint16_t *)store[c], D);
                else if (dt == KVA_DTYPE_BF16)
                    ops->dec_bf16(o, (const uint16_t *)store[c], D);
                else if (dt == KVA_DTYPE_INT8)
                    ops->dec_lut8(o, store[c], lut, scale[c], D);
                else if (dt == KVA_DTYPE_NVFP4)
                    for (int d = 0; d < D; d++)
                        o[d] = kva_e2m1_decode((uint8_t)(store[c][d / 2] >>
                                                             (d % 2 * 4) &
                                                         0xF)) *
                               gscale[c * (D / 16) + d / 16];
                else
                    ops->dec_fp8(o, store[c], e5m2, lut, scale[c], D);
            }
            raw_fill(q, KVA_DTYPE_F32, NR * D, &seed);
            /* next: the same rows, so the prefetch hints run too */
            const kva_raw_rows raw = {dt,   rows, scale,      gscale,
                                      rows, NK,   (int64_t)D};
            for (int nr = 1; nr <= NR; nr++)
                for (int nk = 1; nk <= NK; nk = nk == 9 ? NK : nk + 1) {
                    ops->scores(s1, NK, q, D, nr, drows, nk, D, 0.125f);
                    ops->scores_raw(s2, NK, q, D, nr, &raw, nk, D, 0.125f);
                    for (int i = 0; i < nr * NK; i++)
                        if (i % NK < nk)
                            cr_assert(same_float(s1[i], s2[i]),
                                      "%s scores_raw dtype %d D %d nr %d nk "
                                      "%d: row %d key %d gives %a, want %a",
                                      ops->name, (int)dt, D, nr, nk, i / NK,
                                      i % NK, (double)s2[i], (double)s1[i]);
                    for (int i = 0; i < nr * NK; i++)
                        p[i] = (nk + i) % 5 == 0 && nr > 2 ? KVA_P_SKIP
                                                            : 0.25f * (float)(i % 3);
                    for (int i = 0; i < nr * D; i++)
                        acc1[i] = acc2[i] = (float)(i % 11) - 5.0f;
                    ops->pv(acc1, p, NK, nr, drows, nk, D);
                    ops->pv_raw(acc2, p, NK, nr, &raw, nk, D);
                    for (int i = 0; i < nr * D; i++)
                        cr_assert(same_float(acc1[i], acc2[i]),
                                  "%s pv_raw dtype %d D %d nr %d nk %d: "
                                  "row %d dim %d gives %a, want %a",
                                  ops->name, (int)dt, D, nr, nk, i / D,
                                  i % D, (double)acc2[i], (double)acc1[i]);
                }
        }
    }
}

Test(kernel_isa, raw_kernels_equal_decode_then_compute)
{
    cr_assert_null(kva_ops_portable.scores_raw,
                   "the portable path decodes to scratch");
#ifdef KVA_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        check_raw_kernels(&kva_ops_avx2);
#endif
}
