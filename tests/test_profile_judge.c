/*
 * test_profile_judge.c — suite profile_judge: kernels judged under their
 * declared arithmetic (tolerance.h kvc_judge_outputs, tolerance.md
 * "Arithmetic profiles" and "Sums that track the signal").
 *
 * The kernels are tests/planted_profiles.c: plain online-softmax kernels
 * (blocks of 64 keys) in fp32, half-acc and half-p arithmetic, and an fp32
 * one with a one-position causal mask error, written independently of
 * oracle/profile.c. What is asserted are directions and orders of
 * magnitude that follow from the documented model, never values copied
 * from the code under test.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/kv_store.h"
#include "../oracle/problem.h"
#include "../oracle/profile.h"
#include "../oracle/reference.h"
#include "../oracle/tolerance.h"
#include "planted_profiles.h"

/* xorshift64* and Box-Muller: reproducible N(0, 1) without GSL. */
typedef struct jrng {
    uint64_t s;
} jrng;

static double jr_unit(jrng *g)
{
    g->s ^= g->s >> 12;
    g->s ^= g->s << 25;
    g->s ^= g->s >> 27;
    return (double)((g->s * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
}

static double jr_normal(jrng *g)
{
    double a = jr_unit(g), b = jr_unit(g);
    if (a < 1e-300)
        a = 1e-300;
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

/* One sequence with ctx cached tokens and ql new ones, Hq = Hkv = heads,
 * scale 1/sqrt(D); q, k ~ N(0, 1), v ~ mean + N(0, 1). */
static void decode_problem(kvc_problem *p, int heads, int dim, int ctx,
                           int ql, double mean, uint64_t seed)
{
    kvc_config c;
    memset(&c, 0, sizeof c);
    c.num_q_heads = heads;
    c.num_kv_heads = heads;
    c.head_dim = dim;
    c.scale = (float)(1.0 / sqrt((double)dim));
    c.causal = 1;
    c.window_left = KVC_NO_WINDOW;
    cr_assert_eq(kvc_problem_alloc(p, &c, 1, &ctx, &ql, 0, 0), 0);
    jrng g = {seed * 0x9E3779B97F4A7C15ull + 1};
    for (int64_t e = 0; e < (int64_t)ql * heads * dim; e++)
        p->q[e] = (float)jr_normal(&g);
    for (int64_t e = 0; e < p->kv_start[1] * heads * dim; e++) {
        p->k[e] = (float)jr_normal(&g);
        p->v[e] = (float)(mean + jr_normal(&g));
    }
}

/* Outputs of a planted kernel on p (K/V as the cache stores them). */
typedef struct outputs {
    float *out, *lse;
} outputs;

static void run_planted(const kvc_problem *p, planted_kind kind,
                        outputs *o)
{
    int64_t rows = p->num_tokens * p->cfg.num_q_heads;
    o->out = calloc((size_t)(rows * p->cfg.head_dim), sizeof(float));
    o->lse = calloc((size_t)rows, sizeof(float));
    cr_assert(o->out && o->lse);
    kvc_kv_store st;
    memset(&st, 0, sizeof st);
    const float *k = p->k, *v = p->v;
    if (p->quant.dtype != KVC_KV_F32) {
        char err[200];
        cr_assert_eq(kvc_kv_store_compute(p, &st, err, sizeof err), 0, "%s",
                     err);
        k = st.k;
        v = st.v;
    }
    kvc_kv_dtype half = kvc_profile_half_type(p->quant.dtype);
    cr_assert_eq(planted_run(p, k, v, kind, half, o->out, o->lse), 0);
    kvc_kv_store_free(&st);
}

static void free_outputs(outputs *o)
{
    free(o->out);
    free(o->lse);
}

static int judge(const kvc_problem *p, kvc_profile prof, kvc_kv_dtype out_type,
                 const outputs *o, kvc_verdict *v)
{
    kvc_arith a = {prof, out_type};
    char err[256] = "";
    int rc = kvc_judge_outputs(p, NULL, &a, o->out, o->lse, v, err,
                               sizeof err);
    cr_assert(rc >= 0, "judge %s: %s", kvc_profile_name(prof), err);
    cr_assert_eq(rc, v->pass);
    return rc;
}

/* The plain fp32 judgement, independently of kvc_judge_outputs. */
static double fp32_ratio(const kvc_problem *p, const outputs *o)
{
    kvc_reference r;
    kvc_verdict v;
    char err[256];
    cr_assert_eq(kvc_reference_compute(p, &r, err, sizeof err), 0, "%s", err);
    kvc_compare(p, &r, o->out, o->lse, &v);
    kvc_reference_free(&r);
    return v.ratio;
}

static const kvc_profile every_profile[] = {
    KVC_PROFILE_FP32, KVC_PROFILE_HALF_P, KVC_PROFILE_HALF_ACC};
static const kvc_kv_dtype every_out_type[] = {KVC_KV_F32, KVC_KV_F16,
                                              KVC_KV_BF16};

Test(profile_judge, correct_fp32_kernel_passes_every_profile)
{
    /* A profile only widens the allowance: a correct fp32 kernel passes
     * under each, with each output type. */
    kvc_problem p;
    outputs o;
    decode_problem(&p, 2, 64, 999, 2, 0.0, 1);
    run_planted(&p, PLANTED_FP32, &o);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            kvc_verdict v;
            cr_assert_eq(judge(&p, every_profile[i], every_out_type[j], &o,
                               &v), 1, "%s", v.detail);
            cr_assert(v.ratio < 0.1, "%s", v.detail);
            cr_assert(v.ratio_fp32 < 0.1, "%s", v.detail);
        }
    free_outputs(&o);
    kvc_problem_free(&p);
}

Test(profile_judge, half_acc_passes_its_profile_and_fails_fp32)
{
    /* f16 accumulation: errors of ~2^-11 relative to the partial sums,
     * against an fp32 allowance of ~2^-24 times the same magnitudes. */
    kvc_problem p;
    outputs o;
    kvc_verdict v;
    decode_problem(&p, 2, 64, 4095, 1, 0.0, 2);
    run_planted(&p, PLANTED_HALF_ACC, &o);
    cr_assert_eq(judge(&p, KVC_PROFILE_HALF_ACC, KVC_KV_F32, &o, &v), 1,
                 "%s", v.detail);
    cr_assert_eq(v.profile, KVC_PROFILE_HALF_ACC);
    /* ratio_fp32 is the plain fp32 judgement of the same outputs */
    double r32 = fp32_ratio(&p, &o);
    cr_assert_eq(v.ratio_fp32, r32, "%g vs %g", v.ratio_fp32, r32);
    cr_assert_gt(v.ratio_fp32, 1.0, "%s", v.detail);
    cr_assert(strstr(v.detail, "half-acc") && strstr(v.detail, "fp32 ratio"),
              "%s", v.detail);
    kvc_verdict v32;
    cr_assert_eq(judge(&p, KVC_PROFILE_FP32, KVC_KV_F32, &o, &v32), 0);
    cr_assert_eq(v32.ratio, r32);
    cr_assert_eq(v32.ratio_fp32, v32.ratio);
    free_outputs(&o);
    kvc_problem_free(&p);
}

static void half_p_case(kvc_kv_dtype cache, uint64_t seed)
{
    kvc_problem p;
    outputs o;
    kvc_verdict v;
    decode_problem(&p, 2, 64, 1500, 2, 0.5, seed);
    if (cache != KVC_KV_F32)
        cr_assert_eq(kvc_problem_set_quant(&p, cache, KVC_SCALE_NONE), 0);
    run_planted(&p, PLANTED_HALF_P, &o);
    cr_assert_eq(judge(&p, KVC_PROFILE_HALF_P, KVC_KV_F32, &o, &v), 1,
                 "cache %d: %s", (int)cache, v.detail);
    /* The fp32 judgement of the same outputs: fails exactly when its
     * ratio exceeds 1. With T = bf16 (Q, K, V and P rounded to 8 bits,
     * 2^-9 relative) that is far beyond fp32's allowance; with an f16
     * cache only Q and P round (K, V are f16 values already), which may
     * stay within it. */
    kvc_verdict v32;
    int pass32 = judge(&p, KVC_PROFILE_FP32, KVC_KV_F32, &o, &v32);
    cr_assert_eq(v32.ratio, v.ratio_fp32);
    cr_assert_eq(pass32, v.ratio_fp32 <= 1.0);
    if (kvc_profile_half_type(cache) == KVC_KV_BF16)
        cr_assert_gt(v.ratio_fp32, 1.0, "cache %d: %s", (int)cache, v.detail);
    cr_log_info("half-p, cache %d: ratio %.3g, fp32 ratio %.3g", (int)cache,
                v.ratio, v.ratio_fp32);
    free_outputs(&o);
    kvc_problem_free(&p);
}

Test(profile_judge, half_p_passes_its_profile_and_fails_fp32)
{
    half_p_case(KVC_KV_F32, 3);  /* T = bf16 */
    half_p_case(KVC_KV_F16, 4);  /* T = f16 */
    half_p_case(KVC_KV_BF16, 5); /* T = bf16 */
}

Test(profile_judge, mask_error_fails_under_every_profile)
{
    /* Chunked prefill of 4 tokens after ctx cached ones: the key at p + 1
     * (which token p must not see) is 3 q_p, so its score 3 |q|^2 / sqrt(D)
     * ~ 3 sqrt(D) = 24 dominates the row if leaked (leak-sensitive input):
     * an O(1) error. ctx = 4095: past n = 2048, where the half-acc floor
     * used to exceed A and accept anything. */
    const int dim = 64, ctx = 4095, ql = 4;
    kvc_problem p;
    outputs o;
    decode_problem(&p, 1, dim, ctx, ql, 0.0, 6);
    for (int i = 0; i + 1 < ql; i++)
        for (int d = 0; d < dim; d++)
            p.k[(int64_t)(ctx + i + 1) * dim + d] = 3.0f * p.q[i * dim + d];
    run_planted(&p, PLANTED_MASK_OFF_BY_ONE, &o);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            kvc_verdict v;
            cr_assert_eq(judge(&p, every_profile[i], every_out_type[j], &o,
                               &v), 0, "%s", v.detail);
            /* half-p with T = bf16 (this f32 cache) has the widest
             * allowance: its score term 4 u_bf16 S is first order worst
             * case (tolerance.md); the O(1) error still fails by ~6x. */
            cr_assert_gt(v.ratio, 3.0, "%s", v.detail);
            cr_assert(v.token < ql - 1, "%s", v.detail);
            cr_log_info("mask error, profile %s, out type %d: ratio %.3g",
                        kvc_profile_name(every_profile[i]),
                        (int)every_out_type[j], v.ratio);
            /* out alone is enough */
            kvc_arith a = {every_profile[i], every_out_type[j]};
            char err[200];
            cr_assert_eq(kvc_judge_outputs(&p, NULL, &a, o.out, NULL, &v, err,
                                           sizeof err), 0, "%s", v.detail);
            cr_assert_gt(v.ratio, 3.0, "%s", v.detail);
        }
    free_outputs(&o);
    kvc_problem_free(&p);
}

Test(profile_judge, sixteen_bit_output_adds_its_rounding)
{
    /* tolerance.md: a 16-bit output type T adds u_T (|out| + allowed) +
     * eta_T to the allowance of each element, with u_f16 = 2^-11,
     * eta_f16 = 2^-25, u_bf16 = 2^-8, eta_bf16 = 2^-134. */
    kvc_problem p;
    kvc_reference r;
    char err[200];
    decode_problem(&p, 2, 32, 300, 3, 0.0, 7);
    cr_assert_eq(kvc_reference_compute(&p, &r, err, sizeof err), 0);
    const double ut[] = {0x1p-11, 0x1p-8}, eta[] = {0x1p-25, 0x1p-134};
    const kvc_kv_dtype t16[] = {KVC_KV_F16, KVC_KV_BF16};
    for (int k = 0; k < 2; k++)
        for (int64_t t = 0; t < 3; t++)
            for (int h = 0; h < 2; h++)
                for (int d = 0; d < 32; d++) {
                    kvc_arith a = {KVC_PROFILE_FP32, t16[k]};
                    double a32 = kvc_tol_allowed_out(&p, &r, t, h, d);
                    double out = r.out[(t * 2 + h) * 32 + d];
                    double want = a32 + ut[k] * (fabs(out) + a32) + eta[k];
                    double got = kvc_tol_allowed_out_arith(&p, &r, &a, t, h, d);
                    cr_assert(fabs(got - want) <= 1e-15 * want, "%g %g", got,
                              want);
                    /* lse is fp32 whatever the output type */
                    cr_assert_eq(kvc_tol_allowed_lse_arith(&p, &r, &a, t, h),
                                 kvc_tol_allowed_lse(&p, &r, t, h));
                }
    /* A correct fp32 output rounded to f16 / bf16: passes with that output
     * type, fails as an fp32 output (2^-12 relative is far beyond fp32's
     * allowance on this row). */
    for (int k = 0; k < 2; k++) {
        outputs o;
        run_planted(&p, PLANTED_FP32, &o);
        for (int64_t e = 0; e < 3 * 2 * 32; e++)
            o.out[e] = k == 0 ? planted_round_f16(o.out[e])
                              : planted_round_bf16(o.out[e]);
        kvc_verdict v;
        cr_assert_eq(judge(&p, KVC_PROFILE_FP32, t16[k], &o, &v), 1, "%s",
                     v.detail);
        cr_assert_gt(v.ratio_fp32, 1.0, "%s", v.detail);
        cr_assert_eq(judge(&p, KVC_PROFILE_FP32, KVC_KV_F32, &o, &v), 0);
        free_outputs(&o);
    }
    kvc_reference_free(&r);
    kvc_problem_free(&p);
}

Test(profile_judge, refuses_unknown_profile_and_output_type)
{
    kvc_problem p;
    outputs o;
    kvc_verdict v;
    decode_problem(&p, 1, 8, 10, 1, 0.0, 8);
    run_planted(&p, PLANTED_FP32, &o);
    char err[200] = "";
    kvc_arith bad = {(kvc_profile)7, KVC_KV_F32};
    cr_assert_eq(kvc_judge_outputs(&p, NULL, &bad, o.out, o.lse, &v, err,
                                   sizeof err), -1);
    cr_assert(err[0] != '\0');
    cr_assert_eq(v.pass, 0);
    kvc_arith bad_out = {KVC_PROFILE_FP32, KVC_KV_FP8_E4M3};
    cr_assert_eq(kvc_judge_outputs(&p, NULL, &bad_out, o.out, o.lse, &v, err,
                                   sizeof err), -1);
    cr_assert_eq(kvc_judge_outputs(&p, NULL, NULL, NULL, o.lse, &v, err,
                                   sizeof err), -1);
    free_outputs(&o);
    kvc_problem_free(&p);
}

/* Item 4 of the issue: the half-acc kernel judged under fp32 over growing
 * contexts. Returns the fp32 ratios at 1k, 4k, 16k, 64k keys, and checks
 * that the kernel passes its own profile at every length. */
static void ratios_over_context(double mean, double *ratio)
{
    const int n[] = {1024, 4096, 16384, 65536};
    for (int i = 0; i < 4; i++) {
        kvc_problem p;
        outputs o;
        kvc_verdict v;
        decode_problem(&p, 2, 128, n[i] - 1, 1, mean, 40 + (uint64_t)i);
        run_planted(&p, PLANTED_HALF_ACC, &o);
        judge(&p, KVC_PROFILE_HALF_ACC, KVC_KV_F32, &o, &v);
        cr_assert_eq(v.pass, 1, "n %d mean %g: %s", n[i], mean, v.detail);
        ratio[i] = v.ratio_fp32;
        cr_log_info("half-acc under fp32, mean %g, n %d: ratio %.3g "
                    "(own profile %.3g)", mean, n[i], ratio[i], v.ratio);
        free_outputs(&o);
        kvc_problem_free(&p);
    }
}

Test(profile_judge, fp32_ratio_of_half_acc_grows_with_context, .timeout = 120)
{
    /* V with a common mean (v ~ 0.2 + N(0, 1)): out ~ 0.2 whatever n,
     * while the f16 accumulator loses the small increments progressively
     * (stalls past 2048 increments): the error relative to the output
     * grows with n, and so must the ratio. */
    double r[4];
    ratios_over_context(0.2, r);
    for (int i = 1; i < 4; i++)
        cr_assert_gt(r[i], r[i - 1], "%g then %g", r[i - 1], r[i]);
    cr_assert_gt(r[3], 4.0 * r[0], "%g .. %g", r[0], r[3]);
    /* Zero-mean V: every kernel's absolute summation error (fp32 or f16)
     * stays ~constant in n while out ~ 1/sqrt(n); the allowance must not
     * grow as sqrt(n) A either (the old model's ratio fell to 0.6x from 1k
     * to 64k): the ratio holds. */
    ratios_over_context(0.0, r);
    for (int i = 0; i < 4; i++)
        cr_assert_gt(r[i], 1.0, "n index %d: %g", i, r[i]);
    cr_assert_gt(r[3], 0.85 * r[0], "%g .. %g", r[0], r[3]);
}
