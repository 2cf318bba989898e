/*
 * test_profile.c — the arithmetic-profile emulation (oracle/profile.h).
 *
 * Expected values are derived by hand in the comments (f16 / bf16 rounding
 * worked out bit by bit), never read back from the code under test.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../generators/case.h"
#include "../oracle/problem.h"
#include "../oracle/profile.h"
#include "../oracle/reference.h"

#define NEAR(got, want, tol)                                                  \
    cr_assert(fabs((double)(got) - (double)(want)) <= (tol),                  \
              "%s = %.17g, want %.17g (tol %g)", #got, (double)(got),         \
              (double)(want), (double)(tol))

static const kvc_profile all_profiles[KVC_PROFILE_COUNT] = {
    KVC_PROFILE_FP32, KVC_PROFILE_HALF_P, KVC_PROFILE_HALF_ACC};

static kvc_config config(int dim, float scale, int causal)
{
    kvc_config c;
    memset(&c, 0, sizeof c);
    c.num_q_heads = 1;
    c.num_kv_heads = 1;
    c.head_dim = dim;
    c.scale = scale;
    c.causal = causal;
    c.window_left = KVC_NO_WINDOW;
    return c;
}

/* One sequence, one new token, kv_len keys (ctx = kv_len - 1). */
static void one_row(kvc_problem *p, int dim, float scale, int kv_len,
                    int with_mask)
{
    kvc_config c = config(dim, scale, 1);
    int ctx = kv_len - 1, ql = 1;
    cr_assert_eq(kvc_problem_alloc(p, &c, 1, &ctx, &ql, 0, with_mask), 0);
}

static void compute(const kvc_problem *p, kvc_profile prof, kvc_reference *r)
{
    char err[256] = "";
    int rc = kvc_reference_compute_profile(p, NULL, prof, r, err, sizeof err);
    cr_assert_eq(rc, 0, "profile %s: %s", kvc_profile_name(prof), err);
}

Test(profile, names_round_trip)
{
    for (int i = 0; i < KVC_PROFILE_COUNT; i++) {
        kvc_profile got = KVC_PROFILE_COUNT;
        cr_assert_eq(kvc_profile_parse(kvc_profile_name(all_profiles[i]), &got), 0);
        cr_assert_eq(got, all_profiles[i]);
    }
    cr_assert_str_eq(kvc_profile_name(KVC_PROFILE_HALF_P), "half-p");
    cr_assert_str_eq(kvc_profile_name(KVC_PROFILE_HALF_ACC), "half-acc");
    cr_assert_str_eq(kvc_profile_name((kvc_profile)7), "?");
    kvc_profile keep = KVC_PROFILE_HALF_P;
    cr_assert_eq(kvc_profile_parse("half_p", &keep), -1);
    cr_assert_eq(kvc_profile_parse("FP32", &keep), -1);
    cr_assert_eq(kvc_profile_parse(NULL, &keep), -1);
    cr_assert_eq(keep, KVC_PROFILE_HALF_P);
}

Test(profile, bad_input_is_refused)
{
    kvc_problem p;
    one_row(&p, 1, 1.0f, 2, 0);
    kvc_reference r;
    char err[128] = "";
    cr_assert_eq(kvc_reference_compute_profile(&p, NULL, (kvc_profile)3, &r,
                                               err, sizeof err), -1);
    cr_assert(strstr(err, "profile") != NULL, "%s", err);
    cr_assert_null(r.out);
    cr_assert_eq(kvc_reference_compute_profile(NULL, NULL, KVC_PROFILE_FP32,
                                               &r, err, sizeof err), -1);
    p.cfg.head_dim = 0;
    cr_assert_eq(kvc_reference_compute_profile(&p, NULL, KVC_PROFILE_HALF_P,
                                               &r, err, sizeof err), -1);
    p.cfg.head_dim = 1;
    kvc_problem_free(&p);
}

/*
 * 4096 keys, all scores 0 (q = 1, k = 0), V all 1: every weight is
 * exp(0 - 0) = 1 and l = 4096 (exact in fp32).
 * half-acc: acc takes 1, 2, ..., 2048 exactly (integers up to 2^11 are f16
 * numbers). Then fp32(2048 + 1) = 2049, and f16 numbers in [2048, 4096) are
 * 2 apart (11 significant bits): 2049 is the midpoint of 2048 (significand
 * 1.0000000000, even) and 2050 (last bit 1, odd), so RNE gives 2048. The
 * accumulator stays at 2048 for the remaining 2047 keys: out = fp32(2048 /
 * 4096) = 0.5 exactly.
 * fp32: acc = 4096 exactly (integers below 2^24), out = 1; exact: 1.
 */
Test(profile, half_acc_stalls_at_2048)
{
    kvc_problem p;
    one_row(&p, 1, 1.0f, 4096, 0);
    p.q[0] = 1.0f;
    for (int j = 0; j < 4096; j++) {
        p.k[j] = 0.0f;
        p.v[j] = 1.0f;
    }
    kvc_reference acc, f32;
    compute(&p, KVC_PROFILE_HALF_ACC, &acc);
    compute(&p, KVC_PROFILE_FP32, &f32);
    cr_assert_eq(acc.out32[0], 0.5f, "half-acc out = %.9g", acc.out32[0]);
    NEAR(f32.out32[0], 1.0, 1e-6);
    NEAR(acc.out[0], 1.0, 1e-12);
    NEAR(f32.out[0], 1.0, 1e-12);
    /* lse = 0 + log(4096) in every profile: the sum of P is fp32. */
    NEAR(acc.lse32[0], log(4096.0), 1e-6);
    NEAR(f32.lse32[0], log(4096.0), 1e-6);
    kvc_reference_free(&acc);
    kvc_reference_free(&f32);
    kvc_problem_free(&p);
}

/*
 * Two keys with equal scores (weights 1, 1; l = 2), V = (60000, -60000) in
 * both. 60000 = 1875 * 32 is an f16 number ([32768, 65536) has spacing 32),
 * so the first addition gives acc = +-60000 exactly. The second gives
 * fp32(+-120000), beyond 65520 (the midpoint of 65504 and 2^16, from which
 * RNE overflows): acc = +-inf, out = +-inf / 2 = +-inf. This is the
 * emulation's definition: an overflowed f16 accumulator gives an infinite
 * output (never NaN), as llama.cpp's kernel does. fp32 and exact: +-60000.
 */
Test(profile, half_acc_overflows_to_inf)
{
    kvc_problem p;
    one_row(&p, 2, 1.0f, 2, 0);
    for (int d = 0; d < 2; d++)
        p.q[d] = 1.0f;
    for (int j = 0; j < 2; j++) {
        p.k[j * 2] = 0.5f;
        p.k[j * 2 + 1] = 0.5f;
        p.v[j * 2] = 60000.0f;
        p.v[j * 2 + 1] = -60000.0f;
    }
    kvc_reference acc, f32;
    compute(&p, KVC_PROFILE_HALF_ACC, &acc);
    compute(&p, KVC_PROFILE_FP32, &f32);
    cr_assert(isinf(acc.out32[0]) && acc.out32[0] > 0, "%g", acc.out32[0]);
    cr_assert(isinf(acc.out32[1]) && acc.out32[1] < 0, "%g", acc.out32[1]);
    cr_assert_eq(f32.out32[0], 60000.0f);
    cr_assert_eq(f32.out32[1], -60000.0f);
    NEAR(acc.out[0], 60000.0, 1e-9);
    NEAR(acc.lse32[0], 1.0 + log(2.0), 1e-6); /* score 1, two keys */
    kvc_reference_free(&acc);
    kvc_reference_free(&f32);
    kvc_problem_free(&p);
}

/*
 * Two keys, D = 1, q = 1, k = (0, -1), scale = ln 3, V = (0, 1): every
 * input is exact in f16 and bf16, so only P's rounding matters. Scores 0 and
 * -ln 3: weights w0 = 1, w1 = expf(-ln 3) = 1/3 (to within a few fp32 ulps),
 * l = 4/3, exact out = (1/3) / (4/3) = 1/4.
 * The rounding is of the unnormalised weight (FlashAttention rounds
 * P = exp(S - m) and divides by l at the end); 1 stays 1.
 *   bf16 (8 significant bits): 1/3 = 1.0101010|1010... * 2^-2, the bits
 *   after the 8th are 1010... > half: round up to 1.0101011 * 2^-2 =
 *   171/512 = 0.333984375. out = (171/512) / (4/3) = 513/2048.
 *   f16 (11 significant bits): 1/3 = 1.0101010101|0101... * 2^-2, the rest
 *   0101... < half: round down to 1365/4096 = 0.333251953125.
 *   out = (1365/4096) / (4/3) = 4095/16384.
 * w1 sits ~3e-4 (bf16) / ~4e-5 (f16) from the nearest rounding midpoint, so
 * the few-ulp uncertainty of expf cannot change these roundings.
 */
static void third_case(kvc_problem *p, kvc_kv_dtype cache)
{
    one_row(p, 1, logf(3.0f), 2, 0);
    if (cache != KVC_KV_F32)
        cr_assert_eq(kvc_problem_set_quant(p, cache, KVC_SCALE_NONE), 0);
    p->q[0] = 1.0f;
    p->k[0] = 0.0f;
    p->k[1] = -1.0f;
    p->v[0] = 0.0f;
    p->v[1] = 1.0f;
}

Test(profile, half_p_rounds_p_to_bf16)
{
    kvc_problem p;
    third_case(&p, KVC_KV_F32);
    kvc_reference hp, f32;
    compute(&p, KVC_PROFILE_HALF_P, &hp);
    compute(&p, KVC_PROFILE_FP32, &f32);
    NEAR(hp.out[0], 0.25, 1e-6);
    NEAR(f32.out32[0], 0.25, 1e-6);
    NEAR(hp.out32[0], 513.0 / 2048.0, 1e-6);
    /* the change is 1/2048 = 2^-11 */
    NEAR(hp.out32[0] - f32.out32[0], 0x1p-11, 2e-6);
    kvc_reference_free(&hp);
    kvc_reference_free(&f32);
    kvc_problem_free(&p);
}

Test(profile, half_p_type_follows_the_cache)
{
    cr_assert_eq(kvc_profile_half_type(KVC_KV_F16), KVC_KV_F16);
    cr_assert_eq(kvc_profile_half_type(KVC_KV_BF16), KVC_KV_BF16);
    cr_assert_eq(kvc_profile_half_type(KVC_KV_F32), KVC_KV_BF16);
    cr_assert_eq(kvc_profile_half_type(KVC_KV_FP8_E4M3), KVC_KV_BF16);
    cr_assert_eq(kvc_profile_half_type(KVC_KV_NVFP4), KVC_KV_BF16);

    kvc_problem p;
    third_case(&p, KVC_KV_F16);
    kvc_reference hp;
    compute(&p, KVC_PROFILE_HALF_P, &hp);
    NEAR(hp.out32[0], 4095.0 / 16384.0, 1e-6); /* f16, not bf16 */
    kvc_reference_free(&hp);
    kvc_problem_free(&p);

    third_case(&p, KVC_KV_BF16);
    compute(&p, KVC_PROFILE_HALF_P, &hp);
    NEAR(hp.out32[0], 513.0 / 2048.0, 1e-6);
    kvc_reference_free(&hp);
    kvc_problem_free(&p);
}

/* The fp32 profile is the reference's own fp32 baseline, bit for bit, on
 * generated cases (every mode, format and mask the generator draws). */
Test(profile, fp32_is_the_baseline_bit_for_bit)
{
    for (uint64_t i = 0; i < 12; i++) {
        kvc_case c;
        char err[256] = "";
        cr_assert_eq(kvc_case_generate(17, i, -1, &c, err, sizeof err), 0,
                     "%s", err);
        kvc_reference base, prof;
        cr_assert_eq(kvc_reference_compute(&c.prob, &base, err, sizeof err),
                     0, "%s", err);
        compute(&c.prob, KVC_PROFILE_FP32, &prof);
        size_t nrow = (size_t)(base.rows * base.num_q_heads);
        size_t nel = nrow * (size_t)base.head_dim;
        cr_assert_eq(memcmp(base.out32, prof.out32, nel * sizeof(float)), 0);
        cr_assert_eq(memcmp(base.lse32, prof.lse32, nrow * sizeof(float)), 0);
        cr_assert_eq(memcmp(base.out, prof.out, nel * sizeof(double)), 0);
        cr_assert_eq(memcmp(base.lse, prof.lse, nrow * sizeof(double)), 0);
        kvc_reference_free(&base);
        kvc_reference_free(&prof);
        kvc_case_free(&c);
    }
}

/* A row whose keys are all masked out: out = +-0, lse = -inf (never NaN),
 * in every profile. */
Test(profile, empty_row_in_every_profile)
{
    kvc_problem p;
    one_row(&p, 4, 0.5f, 3, 1);
    for (int j = 0; j < 3; j++)
        p.mask[j] = 0;
    for (int d = 0; d < 4; d++)
        p.q[d] = 1.0f;
    for (int e = 0; e < 12; e++) {
        p.k[e] = 1.0f;
        p.v[e] = 2.0f;
    }
    for (int i = 0; i < KVC_PROFILE_COUNT; i++) {
        kvc_reference r;
        compute(&p, all_profiles[i], &r);
        cr_assert_eq(r.nvis[0], 0);
        for (int d = 0; d < 4; d++)
            cr_assert(r.out32[d] == 0.0f, "%s: out[%d] = %g",
                      kvc_profile_name(all_profiles[i]), d, r.out32[d]);
        cr_assert(isinf(r.lse32[0]) && r.lse32[0] < 0, "%s: lse = %g",
                  kvc_profile_name(all_profiles[i]), r.lse32[0]);
        kvc_reference_free(&r);
    }
    kvc_problem_free(&p);
}

/* splitmix64: reproducible values. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s, float a) /* [-a, a) */
{
    return (float)(((double)(next(s) >> 11) * 0x1p-52 - 1.0) * a);
}

/* Mean |out32 - out| over every element of a long-context problem. */
static double mean_error(const kvc_problem *p, kvc_profile prof)
{
    kvc_reference r;
    compute(p, prof, &r);
    size_t nel = (size_t)(r.rows * r.num_q_heads * r.head_dim);
    double sum = 0.0;
    for (size_t e = 0; e < nel; e++)
        sum += fabs((double)r.out32[e] - r.out[e]);
    kvc_reference_free(&r);
    return sum / (double)nel;
}

/*
 * Random cases, 1,500 - 3,000 keys, D = 64: fp32 (u = 2^-24 everywhere),
 * half-p (one bf16 rounding, u = 2^-9, per input and per weight; the errors
 * are independent and average out over the keys) and half-acc (f16's
 * u = 2^-11 at each of n accumulations of a running sum) must come out in
 * that order on every case (measured, seed 42: half-p is ~3000x fp32, and
 * half-acc 1.6x half-p at 1,503 keys, 2.3x at 2,903: half-p falls as 1/sqrt(n),
 * half-acc does not; asserted with margins 16x and 1.25x).
 */
Test(profile, error_grows_fp32_half_p_half_acc)
{
    uint64_t seed = 42;
    for (int cs = 0; cs < 3; cs++) {
        kvc_problem p;
        kvc_config c = config(64, 0.125f, 1);
        c.num_q_heads = 2;
        int ctx = 1500 + 700 * cs, ql = 3;
        cr_assert_eq(kvc_problem_alloc(&p, &c, 1, &ctx, &ql, 0, 0), 0);
        int64_t nq = (int64_t)ql * 2 * 64, nkv = (int64_t)(ctx + ql) * 64;
        for (int64_t e = 0; e < nq; e++)
            p.q[e] = uniform(&seed, 3.0f);
        for (int64_t e = 0; e < nkv; e++) {
            p.k[e] = uniform(&seed, 1.0f);
            p.v[e] = uniform(&seed, 1.0f);
        }
        double e32 = mean_error(&p, KVC_PROFILE_FP32);
        double ehp = mean_error(&p, KVC_PROFILE_HALF_P);
        double eha = mean_error(&p, KVC_PROFILE_HALF_ACC);
        cr_log_info("kv_len %d: fp32 %.3g half-p %.3g half-acc %.3g",
                    ctx + ql, e32, ehp, eha);
        cr_assert(e32 * 16 < ehp, "fp32 %.3g, half-p %.3g", e32, ehp);
        cr_assert(ehp * 1.25 < eha, "half-p %.3g, half-acc %.3g", ehp, eha);
        kvc_problem_free(&p);
    }
}

/* A store given by the caller and one computed inside give the same
 * profile results, bit for bit, on generated cases with reduced-precision
 * caches; and a store of another format is refused. */
Test(profile, given_store_equals_computed_store)
{
    int tried = 0;
    for (uint64_t i = 0; i < 40 && tried < 4; i++) {
        kvc_case c;
        char err[256] = "";
        cr_assert_eq(kvc_case_generate(23, i, -1, &c, err, sizeof err), 0,
                     "%s", err);
        if (c.prob.quant.dtype == KVC_KV_F32) {
            kvc_case_free(&c);
            continue;
        }
        tried++;
        kvc_kv_store st;
        cr_assert_eq(kvc_kv_store_compute(&c.prob, &st, err, sizeof err), 0,
                     "%s", err);
        for (int k = 1; k < KVC_PROFILE_COUNT; k++) {
            kvc_reference a, b;
            cr_assert_eq(kvc_reference_compute_profile(&c.prob, &st,
                             all_profiles[k], &a, err, sizeof err), 0, "%s", err);
            compute(&c.prob, all_profiles[k], &b);
            size_t nrow = (size_t)(a.rows * a.num_q_heads);
            size_t nel = nrow * (size_t)a.head_dim;
            cr_assert_eq(memcmp(a.out32, b.out32, nel * sizeof(float)), 0);
            cr_assert_eq(memcmp(a.lse32, b.lse32, nrow * sizeof(float)), 0);
            kvc_reference_free(&a);
            kvc_reference_free(&b);
        }
        kvc_kv_dtype keep = st.dtype;
        st.dtype = keep == KVC_KV_F16 ? KVC_KV_BF16 : KVC_KV_F16;
        kvc_reference r;
        cr_assert_eq(kvc_reference_compute_profile(&c.prob, &st,
                         KVC_PROFILE_HALF_P, &r, err, sizeof err), -1);
        cr_assert_null(r.out);
        st.dtype = keep;
        kvc_kv_store_free(&st);
        kvc_case_free(&c);
    }
    cr_assert_gt(tried, 0, "no reduced-precision case among the first 40");
}
