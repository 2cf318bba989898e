/*
 * test_calibration_draws.c — static scales calibrated by the kernel in
 * campaigns (tools/calibration_check.h): the draw, the oracle's model
 * (oracle/calibration.h), the contract of kva_observer_update and
 * kva_scale_from_amax (kernels/kvattn.h), and the planted kernel whose
 * observer files each head's amax under the next head.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "../generators/case.h"
#include "../kernels/kvattn.h"
#include "../oracle/calibration.h"
#include "../oracle/kv_format.h"
#include "../tools/calibration_check.h"
#include "../tools/campaign.h"
#include "planted_special.h"

/*
 * Cases with kernel_calibration appear for every format with static
 * scales within N cases of seed 7. The rarest, fp8_e5m2 with attn_head or
 * tensor scales: weight 0.08 / 3, CALIBRATED family 0.4, drawn 0.6:
 * p = 6.4e-3 per case; (1 - p)^N <= 1e-9 needs N >= 3,200.
 */
#define CALIB_N 3200

Test(calibration_draws, every_static_format_is_calibrated_by_the_kernel)
{
    int seen[KVC_KV_DTYPE_COUNT][KVC_SCALE_KIND_COUNT];
    memset(seen, 0, sizeof seen);
    for (uint64_t idx = 0; idx < CALIB_N; idx++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw(7, idx, -1, &sp), 0);
        if (!sp.kernel_calibration)
            continue;
        cr_assert(sp.kv_scale == KVC_SCALE_TENSOR || sp.kv_scale == KVC_SCALE_HEAD ||
                  sp.kv_scale == KVC_SCALE_GROUP);
        cr_assert_eq(sp.scale_family, KVC_SCALES_CALIBRATED);
        seen[sp.kv_dtype][sp.kv_scale]++;
    }
    for (int d = KVC_KV_FP8_E4M3; d <= KVC_KV_INT8; d++)
        for (int k = KVC_SCALE_TENSOR; k <= KVC_SCALE_HEAD; k++)
            cr_expect_gt(seen[d][k], 0, "%s/%s never calibrated by the kernel",
                         kvc_kv_dtype_name((kvc_kv_dtype)d),
                         kvc_scale_kind_name((kvc_scale_kind)k));
    cr_expect_gt(seen[KVC_KV_NVFP4][KVC_SCALE_GROUP], 0);
}

/* A problem of S = 2 sequences (2 and 1 positions), Hkv = 2, D = 2. */
static void two_heads(kvc_problem *p, kvc_kv_dtype d, kvc_scale_kind kind)
{
    kvc_config cfg = {0};
    cfg.num_q_heads = cfg.num_kv_heads = 2;
    cfg.head_dim = 2;
    cfg.scale = 1.0f;
    cfg.causal = 1;
    cfg.window_left = -1;
    int ctx[2] = {1, 0}, q[2] = {1, 1};
    cr_assert_eq(kvc_problem_alloc(p, &cfg, 2, ctx, q, 0, 0), 0);
    cr_assert_eq(kvc_problem_set_quant(p, d, kind), 0);
}

/* The oracle's amax ignores NaN and infinities, per tensor and per head;
 * its scales are the written rule's. */
Test(calibration_draws, oracle_model)
{
    kvc_problem p;
    two_heads(&p, KVC_KV_FP8_E4M3, KVC_SCALE_HEAD);
    /* K rows [pos][head][d]: head 0 gets 3, NaN, -7; head 1 gets inf, 0.5 */
    const float k[12] = {1, 3, INFINITY, 0.5f, NAN, -7, 0, 0, 2, 0, -INFINITY, 0};
    memcpy(p.k, k, sizeof k);
    cr_expect_eq(kvc_calib_amax(&p, 0, 0, 2), 7.0f);
    cr_expect_eq(kvc_calib_amax(&p, 0, 0, 1), 7.0f);
    cr_expect_eq(kvc_calib_amax(&p, 0, 1, 2), 0.5f);
    cr_expect_eq(kvc_calib_amax(&p, 1, 0, 2), 0.0f); /* V all zero */
    cr_expect_eq(kvc_calib_expected_scale(KVC_KV_FP8_E4M3, 448.0f), 1.0f);
    cr_expect_eq(kvc_calib_expected_scale(KVC_KV_FP8_E5M2, 57344.0f), 1.0f);
    cr_expect_eq(kvc_calib_expected_scale(KVC_KV_INT8, 127.5f), 1.0f);
    cr_expect_eq(kvc_calib_expected_scale(KVC_KV_INT8, 0.0f), 0x1p-23f);
    cr_expect_eq(kvc_calib_expected_scale(KVC_KV_NVFP4, 2688.0f), 1.0f);
    cr_expect_eq(kvc_calib_expected_scale(KVC_KV_NVFP4, 0.0f), 2688.0f * 0x1p23f);
    cr_expect(isnan(kvc_calib_expected_scale(KVC_KV_F16, 1.0f)));
    kvc_problem_free(&p);
}

/* kva_observer_update: the running maximum over calls, NaN and infinities
 * ignored, refusals all-or-nothing (kvattn.h). */
Test(calibration_draws, observer_contract)
{
    float ha[2] = {0, 0};
    kva_observer o = {2, 2, 0.0f, ha};
    kva_error e;
    const float a[4] = {1, -3, NAN, 0.5f};      /* token 0: head 0, head 1 */
    const float b[4] = {INFINITY, 2, -4, -INFINITY};
    cr_assert_eq(kva_observer_update(&o, a, 1, &e), KVA_OK);
    cr_assert_eq(kva_observer_update(&o, b, 1, &e), KVA_OK);
    cr_expect_eq(o.amax, 4.0f);
    cr_expect_eq(ha[0], 3.0f);
    cr_expect_eq(ha[1], 4.0f);
    cr_expect_eq(kva_observer_update(&o, NULL, 0, &e), KVA_OK);
    cr_expect_eq(kva_observer_update(&o, NULL, 1, &e), KVA_ERR_NULL);
    cr_expect_eq(kva_observer_update(NULL, a, 1, &e), KVA_ERR_NULL);
    cr_expect_eq(kva_observer_update(&o, a, -1, &e), KVA_ERR_LENGTH);
    ha[1] = NAN; /* a broken state is refused, nothing changes */
    const float big[4] = {100, 100, 100, 100};
    cr_expect_eq(kva_observer_update(&o, big, 1, &e), KVA_ERR_PARAM);
    cr_expect_eq(o.amax, 4.0f);
    cr_expect_eq(ha[0], 3.0f);
    kva_observer bad = {0, 2, 0.0f, NULL};
    cr_expect_eq(kva_observer_update(&bad, a, 1, &e), KVA_ERR_SHAPE);
}

/* kva_scale_from_amax: the written rule, refusals leave *scale alone. */
Test(calibration_draws, scale_from_amax_contract)
{
    float s = -1.0f;
    kva_error e;
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_FP8_E4M3, 448.0f, &s, &e), KVA_OK);
    cr_expect_eq(s, 1.0f);
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_INT8, 0.0f, &s, &e), KVA_OK);
    cr_expect_eq(s, 0x1p-23f);
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_NVFP4, 1.0f, &s, &e), KVA_OK);
    cr_expect_eq(s, 2688.0f);
    for (int d = KVA_DTYPE_FP8_E4M3; d <= KVA_DTYPE_NVFP4; d++)
        for (float amax = 0x1p-30f; amax < 1e6f; amax *= 3.7f) {
            cr_assert_eq(kva_scale_from_amax((kva_dtype)d, amax, &s, &e), KVA_OK);
            cr_assert_eq(s, kvc_calib_expected_scale((kvc_kv_dtype)d, amax),
                         "dtype %d amax %a: kernel %a", d, amax, s);
        }
    s = -1.0f;
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_F16, 1.0f, &s, &e), KVA_ERR_FORMAT);
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_INT8, NAN, &s, &e), KVA_ERR_PARAM);
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_INT8, INFINITY, &s, &e), KVA_ERR_PARAM);
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_INT8, -1.0f, &s, &e), KVA_ERR_PARAM);
    cr_expect_eq(s, -1.0f);
    cr_expect_eq(kva_scale_from_amax(KVA_DTYPE_INT8, 1.0f, NULL, &e), KVA_ERR_NULL);
}

/* The first case of seed 7 with kernel calibration and attn_head scales
 * over >= 2 KV heads, built. */
static void calibration_case(kvc_case *c)
{
    char err[256];
    for (uint64_t idx = 0; idx < CALIB_N; idx++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw(7, idx, -1, &sp), 0);
        if (!sp.kernel_calibration || sp.kv_scale != KVC_SCALE_HEAD ||
            sp.cfg.num_kv_heads < 2 || sp.large_offsets)
            continue;
        cr_assert_eq(kvc_case_build(&sp, kvc_case_seed(7, idx), c, err, sizeof err),
                     0, "%s", err);
        return;
    }
    cr_assert_fail("no attn_head calibration case in %d", CALIB_N);
}

/* The check on one case: the real kernel agrees; the planted observer is
 * a calibration failure naming K or V and a head; a kernel without the
 * entry points is not checked; without kernel_calibration nothing runs. */
Test(calibration_draws, check_on_one_case)
{
    kvc_case c;
    calibration_case(&c);
    kvc_result r;
    memset(&r, 0, sizeof r);
    cr_expect_eq(kvc_check_calibration(&c, &kvc_builtin_kernel, &r), KVC_PASS,
                 "%s", r.message);
    cr_expect_eq(kvc_check_calibration(&c, &kvc_planted_calib_wrong_head, &r),
                 KVC_FAIL_CALIBRATION);
    cr_expect(strstr(r.message, "of head ") != NULL, "%s", r.message);
    cr_expect_eq(kvc_run_case(&c, &kvc_planted_calib_wrong_head, &r),
                 KVC_FAIL_CALIBRATION, "%s", r.message);
    kvc_kernel none = kvc_planted_calib_wrong_head;
    none.observer_update = NULL;
    cr_expect_eq(kvc_run_case(&c, &none, &r), KVC_PASS, "%s", r.message);
    c.spec.kernel_calibration = 0;
    cr_expect_eq(kvc_run_case(&c, &kvc_planted_calib_wrong_head, &r), KVC_PASS,
                 "%s", r.message);
    kvc_case_free(&c);
}

/* The campaign: seed 7's first cases pass the real kernel; the planted
 * observer fails only as calibration. CAUGHT_N: `kvcheck run --cases
 * 20000 --seed 7` with the planted library (measured) first fails at case 2, 156 calibration
 * failures in 3,000 cases (tensor, attn_head and nvfp4 cases: every head amax
 * is compared); 300
 * cases hold several attn_head calibration cases with Hkv >= 2. */
#define CAUGHT_N 300

Test(calibration_draws, wrong_head_is_caught_by_the_campaign, .timeout = 300)
{
    kvc_campaign_opts o = {.seed = 7, .cases = CAUGHT_N, .forced_mode = -1,
                           .shard_index = 0, .shard_count = 1};
    kvc_campaign_stats st;
    cr_assert_eq(kvc_campaign_run(&o, &kvc_builtin_kernel, &st), 0,
                 "builtin: %llu failures", (unsigned long long)st.failed);
    kvc_campaign_stats_free(&st);
    int rc = kvc_campaign_run(&o, &kvc_planted_calib_wrong_head, &st);
    cr_expect_eq(rc, 1);
    cr_expect_gt(st.failed, 0);
    cr_expect_eq(st.failed_by_outcome[KVC_FAIL_CALIBRATION], st.failed);
    kvc_campaign_stats_free(&st);
}
