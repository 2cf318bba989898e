/*
 * test_special_inputs.c — special inputs (NaN, +-inf, values past the
 * largest finite, subnormals, -0) in campaign K/V (generators/special.c),
 * how the oracle and the judge treat non-finite exact values
 * (oracle/tolerance.md, "Non-finite exact values"), and the planted
 * kernels of tests/planted_special.h (a) and (b).
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "../generators/case.h"
#include "../oracle/kv_format.h"
#include "../oracle/reference.h"
#include "../oracle/tolerance.h"
#include "../tools/campaign.h"
#include "planted_special.h"

enum { K_NAN, K_PINF, K_NINF, K_BEYOND, K_SUB, K_NZERO, K_COUNT };
static const char *const kind_name[K_COUNT] = {"NaN", "+inf", "-inf", "beyond",
                                               "subnormal", "-0"};

/* Largest finite value and smallest normal of a format, in t = x / s. */
static double fmt_max(kvc_kv_dtype d)
{
    static const double m[] = {FLT_MAX, 65504.0, 0x1.fep127, 448.0, 57344.0,
                               127.0, 6.0};
    return m[d];
}

static double fmt_min_normal(kvc_kv_dtype d)
{
    static const double m[] = {0x1p-126, 0x1p-14, 0x1p-126, 0x1p-6, 0x1p-14,
                               1.0, 1.0};
    return m[d];
}

/* Largest finite |x| of n elements. */
static double finite_amax(const float *x, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && fabs(x[i]) > m)
            m = fabs(x[i]);
    return m;
}

/* Class of special element d of a row of K (which 0) or V, head h; -1:
 * none. Dynamic scales: the row's (group's) finite amax maps to R. */
static int classify(const kvc_problem *p, int which, int h, const float *row,
                    int d)
{
    const kvc_kv_quant *q = &p->quant;
    const float x = row[d];
    if (isnan(x))
        return K_NAN;
    if (isinf(x))
        return x > 0 ? K_PINF : K_NINF;
    if (x == 0.0f)
        return signbit(x) ? K_NZERO : -1;
    double s = 1.0;
    if (q->kind == KVC_SCALE_TENSOR)
        s = which ? q->v_scale : q->k_scale;
    else if (q->kind == KVC_SCALE_HEAD)
        s = which ? q->v_head_scale[h] : q->k_head_scale[h];
    else if (q->kind == KVC_SCALE_TOKEN)
        s = finite_amax(row, p->cfg.head_dim) /
            (q->dtype == KVC_KV_FP8_E4M3 ? 448.0
             : q->dtype == KVC_KV_FP8_E5M2 ? 57344.0 : 127.5);
    else if (q->kind == KVC_SCALE_GROUP)
        s = finite_amax(row + d / 16 * 16, 16) / 6.0;
    if (!(s > 0.0))
        return -1;
    double t = fabs(x) / s;
    if (t > fmt_max(q->dtype))
        return K_BEYOND;
    if (t < fmt_min_normal(q->dtype))
        return K_SUB;
    return -1;
}

/* Kinds a format x strategy must show: all, except "beyond" where the
 * format or a dynamic scale has none (f32, token, group). */
static int kind_expected(kvc_kv_dtype d, kvc_scale_kind k, int kind)
{
    if (kind != K_BEYOND)
        return 1;
    return d != KVC_KV_F32 && k != KVC_SCALE_TOKEN && k != KVC_SCALE_GROUP;
}

#define NUM_FMT (KVC_KV_DTYPE_COUNT * KVC_SCALE_KIND_COUNT)

typedef struct coverage {
    int seen[NUM_FMT][K_COUNT];
    int visible[NUM_FMT], invisible[NUM_FMT]; /* specials a row can / cannot see */
} coverage;

/* Whether some row of sequence s sees key j (vis 1) or some does not. */
static void visibility(const kvc_problem *p, int s, int j, int *some_see,
                       int *some_not)
{
    *some_see = *some_not = 0;
    for (int i = 0; i < p->q_len[s]; i++) {
        if (kvc_visible(p, s, i, j))
            *some_see = 1;
        else
            *some_not = 1;
    }
}

/* Record the elements where the case differs from its twin without
 * special inputs (the same spec and value seed otherwise). */
static void record(coverage *cv, const kvc_case *c, const kvc_case *plain)
{
    const kvc_problem *p = &c->prob;
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    const int f = p->quant.dtype * KVC_SCALE_KIND_COUNT + p->quant.kind;
    for (int s = 0; s < p->num_seqs; s++)
        for (int j = 0; j < kvc_kv_len(p, s); j++)
            for (int h = 0; h < H; h++)
                for (int which = 0; which < 2; which++) {
                    int64_t at = ((p->kv_start[s] + j) * H + h) * (int64_t)D;
                    const float *x = (which ? p->v : p->k) + at;
                    const float *y = (which ? plain->prob.v : plain->prob.k) + at;
                    for (int d = 0; d < D; d++) {
                        if (memcmp(&x[d], &y[d], sizeof(float)) == 0)
                            continue;
                        int k = classify(p, which, h, x, d);
                        if (k >= 0)
                            cv->seen[f][k]++;
                        int see, not_see;
                        visibility(p, s, j, &see, &not_see);
                        cv->visible[f] += see;
                        cv->invisible[f] += not_see;
                    }
                }
}

/*
 * Every special kind of every format x strategy appears within N cases of
 * seed 7. N: the rarest format x strategy (fp8_e5m2/tensor) is drawn with
 * weight 0.08 / 3 and gets special inputs in 0.12 of its cases: p = 3.2e-3
 * per case; a special case has at least one special element, each of one
 * of 6 kinds with probability 1/6, so a given kind appears in a case with
 * p >= 5.3e-4. (1 - 5.3e-4)^N <= 1e-6 needs N >= 26,000; the draw is
 * deterministic, so the bound only says the seed is not a lucky one.
 */
#define COVER_N 26000

Test(special_inputs, every_kind_for_every_format, .timeout = 240)
{
    static coverage cv;
    memset(&cv, 0, sizeof cv);
    char err[256];
    for (uint64_t idx = 0; idx < COVER_N; idx++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw(7, idx, -1, &sp), 0);
        if (!sp.special_inputs || sp.large_offsets)
            continue;
        kvc_case c, plain;
        uint64_t vs = kvc_case_seed(7, idx);
        cr_assert_eq(kvc_case_build(&sp, vs, &c, err, sizeof err), 0, "%s", err);
        sp.special_inputs = 0;
        cr_assert_eq(kvc_case_build(&sp, vs, &plain, err, sizeof err), 0, "%s", err);
        /* a twin: the same shape, scales aside (kernel_calibration
         * recomputes them from the special values) */
        if (c.prob.kv_start[c.prob.num_seqs] ==
            plain.prob.kv_start[plain.prob.num_seqs])
            record(&cv, &c, &plain);
        kvc_case_free(&c);
        kvc_case_free(&plain);
    }
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
        for (int k = 0; k < KVC_SCALE_KIND_COUNT; k++) {
            if (!kvc_quant_kind_valid((kvc_kv_dtype)d, (kvc_scale_kind)k))
                continue;
            int f = d * KVC_SCALE_KIND_COUNT + k;
            for (int kind = 0; kind < K_COUNT; kind++)
                if (kind_expected((kvc_kv_dtype)d, (kvc_scale_kind)k, kind))
                    cr_expect_gt(cv.seen[f][kind], 0, "%s/%s: no %s in %d cases",
                                 kvc_kv_dtype_name((kvc_kv_dtype)d),
                                 kvc_scale_kind_name((kvc_scale_kind)k),
                                 kind_name[kind], COVER_N);
            cr_expect_gt(cv.visible[f], 0, "%s/%s: no visible special",
                         kvc_kv_dtype_name((kvc_kv_dtype)d),
                         kvc_scale_kind_name((kvc_scale_kind)k));
            cr_expect_gt(cv.invisible[f], 0, "%s/%s: no special a row must "
                         "not see", kvc_kv_dtype_name((kvc_kv_dtype)d),
                         kvc_scale_kind_name((kvc_scale_kind)k));
        }
}

/* The spec stream of a case is unchanged by the new draw: the same shapes
 * as a spec with the new fields cleared (they come from their own RNG). */
Test(special_inputs, draws_keep_every_shape)
{
    int special = 0;
    for (uint64_t idx = 0; idx < 2000; idx++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw(7, idx, -1, &sp), 0);
        special += sp.special_inputs;
        cr_assert(sp.special_inputs == 0 || sp.special_inputs == 1);
        cr_assert(!sp.kernel_calibration || sp.scale_family == KVC_SCALES_CALIBRATED);
    }
    /* 0.44 * 0.03 + 0.56 * 0.12 = 8 %: 160 of 2000, +- 5 sigma */
    cr_expect(special > 100 && special < 220, "%d special cases of 2000", special);
}

/* ------------------------------------------------------------------------ */
/* The oracle on hand-built problems                                        */
/* ------------------------------------------------------------------------ */

/* One causal prefill of 3 tokens, D = 2, one head, f32 or f16; q = (1, 1),
 * k_j = (j + 1, 0) / 4, v_j = (j, -j). */
static void small_problem(kvc_problem *p, kvc_kv_dtype dtype)
{
    kvc_config cfg = {0};
    cfg.num_q_heads = cfg.num_kv_heads = 1;
    cfg.head_dim = 2;
    cfg.scale = 1.0f;
    cfg.causal = 1;
    cfg.window_left = -1;
    int ctx = 0, q = 3;
    cr_assert_eq(kvc_problem_alloc(p, &cfg, 1, &ctx, &q, 0, 0), 0);
    if (dtype != KVC_KV_F32)
        cr_assert_eq(kvc_problem_set_quant(p, dtype, KVC_SCALE_NONE), 0);
    for (int j = 0; j < 3; j++) {
        p->q[2 * j] = p->q[2 * j + 1] = 1.0f;
        p->k[2 * j] = (float)(j + 1) / 4.0f;
        p->k[2 * j + 1] = 0.0f;
        p->v[2 * j] = (float)j;
        p->v[2 * j + 1] = (float)-j;
    }
}

static void reference(const kvc_problem *p, kvc_reference *ref)
{
    char err[256];
    kvc_kv_store st;
    memset(&st, 0, sizeof st);
    if (p->quant.dtype != KVC_KV_F32)
        cr_assert_eq(kvc_kv_store_compute(p, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kvc_reference_compute_stored(p, p->quant.dtype != KVC_KV_F32
                                                     ? &st : NULL, ref, err,
                                              sizeof err), 0, "%s", err);
    kvc_kv_store_free(&st);
}

/* Row r (token r, the only head) is finite / NaN everywhere. */
static int row_finite(const kvc_reference *ref, int r)
{
    return isfinite(ref->out[2 * r]) && isfinite(ref->out[2 * r + 1]) &&
           isfinite(ref->lse[r]);
}

static int row_nan(const kvc_reference *ref, int r)
{
    return isnan(ref->out[2 * r]) && isnan(ref->out[2 * r + 1]) &&
           isnan(ref->lse[r]);
}

/* A NaN key at position 2 is seen by row 2 only (causal). */
Test(special_inputs, nan_key_poisons_only_the_rows_that_see_it)
{
    kvc_problem p;
    small_problem(&p, KVC_KV_F32);
    p.k[2 * 2 + 1] = NAN;
    kvc_reference ref;
    reference(&p, &ref);
    cr_expect(row_finite(&ref, 0) && row_finite(&ref, 1));
    cr_expect(row_nan(&ref, 2));
    kvc_reference_free(&ref);
    kvc_problem_free(&p);
}

/* An f16 key past 65504 is stored as +inf: q.k = +inf, the row that sees
 * it is NaN (inf - inf in the max subtraction), the others finite. */
Test(special_inputs, f16_overflow_is_an_infinite_key)
{
    kvc_problem p;
    small_problem(&p, KVC_KV_F16);
    p.k[2 * 1] = 70000.0f;
    kvc_reference ref;
    reference(&p, &ref);
    cr_expect(row_finite(&ref, 0));
    cr_expect(row_nan(&ref, 1) && row_nan(&ref, 2));
    kvc_reference_free(&ref);
    kvc_problem_free(&p);
}

/* An infinite v element: +inf in the rows that see it (weight > 0), in
 * that dim only; a -inf score has weight 0; every score -inf is an empty
 * row (out 0, lse -inf). */
Test(special_inputs, infinite_values_and_minus_infinite_scores)
{
    kvc_problem p;
    small_problem(&p, KVC_KV_F32);
    p.v[2 * 1] = INFINITY;     /* v_1 = (inf, -1) */
    p.k[2 * 0] = -INFINITY;    /* x_0 = -inf */
    p.v[2 * 0 + 1] = NAN;      /* v_0 = (0, NaN): key 0 contributes nothing */
    kvc_reference ref;
    reference(&p, &ref);
    /* row 0 sees key 0 only, whose score is -inf: an empty row */
    cr_expect_eq(ref.out[0], 0.0);
    cr_expect_eq(ref.out[1], 0.0);
    cr_expect(isinf(ref.lse[0]) && ref.lse[0] < 0);
    /* row 1: key 0 has weight 0 (as if masked: its NaN v is not read as
     * 0 * NaN), key 1 weight 1: out = v_1 */
    cr_expect(isinf(ref.out[2]) && ref.out[2] > 0);
    cr_expect_eq(ref.out[3], -1.0);
    cr_expect_eq(ref.lse[1], 0.5); /* x_1 = 2/4 */
    /* row 2: v_1's +inf with weight > 0 */
    cr_expect(isinf(ref.out[4]) && ref.out[4] > 0);
    cr_expect(isfinite(ref.out[5]));
    /* the allowance of a finite element stays finite */
    double a = kvc_tol_allowed_out(&p, &ref, 2, 0, 1);
    cr_expect(isfinite(a) && a > 0.0, "allowed %g", a);
    kvc_reference_free(&ref);
    kvc_problem_free(&p);
}

/* A finite score far below the row's max has a weight that underflows in
 * double and in fp32, but is > 0: an infinite v there is still +inf in its
 * element, a NaN v NaN; the other element stays finite. */
Test(special_inputs, underflowed_weight_still_carries_an_infinite_value)
{
    kvc_problem p;
    small_problem(&p, KVC_KV_F32);
    p.k[2 * 1] = -1000.0f;  /* x_1 = -1000: exp(-1000.25) == 0 in double */
    p.v[2 * 1] = INFINITY;  /* v_1 = (inf, -1) */
    p.k[2 * 2] = -2000.0f;  /* x_2 = -2000 */
    p.v[2 * 2 + 1] = NAN;   /* v_2 = (2, NaN) */
    kvc_reference ref;
    reference(&p, &ref);
    cr_expect(isinf(ref.out[2]) && ref.out[2] > 0, "row 1 dim 0: %g", ref.out[2]);
    cr_expect_eq(ref.out[3], 0.0); /* v_0 = 0 with weight 1, v_1's -1 * 0 */
    cr_expect_eq(ref.lse[1], 0.25);
    cr_expect(isinf(ref.out[4]) && isnan(ref.out[5]), "row 2: %g %g",
              ref.out[4], ref.out[5]);
    kvc_reference_free(&ref);
    kvc_problem_free(&p);
}

/* The judge: NaN must be NaN, +-inf the same infinity (or NaN for an out
 * element), finite must be finite and within tolerance. */
Test(special_inputs, judge_of_non_finite_exact_values)
{
    kvc_problem p;
    small_problem(&p, KVC_KV_F32);
    p.k[2 * 2 + 1] = NAN;  /* row 2 NaN */
    p.v[2 * 1] = INFINITY; /* rows 1, 2: dim 0 +inf */
    kvc_reference ref;
    reference(&p, &ref);
    float out[6], lse[3];
    for (int e = 0; e < 6; e++)
        out[e] = (float)ref.out[e];
    for (int r = 0; r < 3; r++)
        lse[r] = (float)ref.lse[r];
    kvc_verdict v;
    cr_expect(kvc_compare(&p, &ref, out, lse, &v), "%s", v.detail);
    out[2] = NAN; /* exact +inf: NaN is accepted (fp32 underflow: 0 * inf) */
    cr_expect(kvc_compare(&p, &ref, out, lse, &v), "%s", v.detail);
    out[2] = -INFINITY;
    cr_expect_not(kvc_compare(&p, &ref, out, lse, &v), "the other infinity");
    out[2] = FLT_MAX;
    cr_expect_not(kvc_compare(&p, &ref, out, lse, &v), "finite for +inf");
    out[2] = INFINITY;
    out[4] = 0.0f; /* exact NaN row */
    cr_expect_not(kvc_compare(&p, &ref, out, lse, &v), "finite for NaN");
    out[4] = NAN;
    lse[2] = INFINITY;
    cr_expect_not(kvc_compare(&p, &ref, out, lse, &v), "inf lse for NaN");
    lse[2] = NAN;
    out[1] = NAN; /* row 0 is finite */
    cr_expect_not(kvc_compare(&p, &ref, out, lse, &v), "NaN for finite");
    kvc_reference_free(&ref);
    kvc_problem_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Planted kernels through the campaign                                     */
/* ------------------------------------------------------------------------ */

static kvc_campaign_opts quiet_campaign(uint64_t seed, uint64_t cases)
{
    kvc_campaign_opts o = {.seed = seed, .cases = cases, .forced_mode = -1,
                           .shard_index = 0, .shard_count = 1, .progress = 0,
                           .max_failures_listed = 0, .log = NULL,
                           .collect_records = 0};
    return o;
}

/* Cases 0 .. CAUGHT_N-1 of seed 7 (the campaign's own seed): the real
 * kernel passes them all, and each planted kernel fails, as its own
 * outcome. CAUGHT_N: `kvcheck run --cases 20000 --seed 7 --kernel all`
 * with the planted library (built from tests/planted_special.c, measured)
 * first fails at case 119 (masked NaN: 317 numeric failures in the first
 * 16,284 cases, 2 block-size) and case 72 (f16 saturation: 12 cache
 * failures in 3,000 cases); 1,000 cases leave room for a change of the
 * draw. */
#define CAUGHT_N 1000

static void caught(const kvc_kernel *k, kvc_outcome only)
{
    kvc_campaign_opts o = quiet_campaign(7, CAUGHT_N);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, k, &st);
    cr_assert_eq(st.run, CAUGHT_N);
    cr_expect_eq(rc, 1, "%s went unnoticed in %d cases", k->name, CAUGHT_N);
    cr_expect_gt(st.failed, 0);
    /* caught as `only` (a property may see the same bug too) */
    cr_expect_gt(st.failed_by_outcome[only], 0, "%s: %llu failures, none %s",
                 k->name, (unsigned long long)st.failed, kvc_outcome_name(only));
    cr_expect_eq(st.failed_by_outcome[KVC_FAIL_CALIBRATION], 0);
    kvc_campaign_stats_free(&st);
}

Test(special_inputs, builtin_passes_and_plants_are_caught, .timeout = 600)
{
    kvc_campaign_opts o = quiet_campaign(7, CAUGHT_N);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, &kvc_builtin_kernel, &st);
    cr_assert_eq(rc, 0, "builtin: %llu failures, first case %llu",
                 (unsigned long long)st.failed,
                 (unsigned long long)st.first_failure);
    kvc_campaign_stats_free(&st);
    caught(&kvc_planted_masked_nan, KVC_FAIL_NUMERIC);
    caught(&kvc_planted_f16_saturate, KVC_FAIL_CACHE);
}
