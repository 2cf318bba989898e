/*
 * test_merge.c — suite `merge`: kva_merge_states, by hand and through the
 * campaign's check (tools/merge_check.h), and planted merges the check must
 * catch.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../generators/case.h"
#include "../kernels/kvattn.h"
#include "../tools/merge_check.h"
#include "planted_merges.h"

/* Two single-key parts: the merge is the two-key softmax, by hand. Keys
 * with scores 0 and log 3 and values 1 and 5: weights 1/4, 3/4, out = 4,
 * lse = log 4. Each part alone: out = its value, lse = its score. */
Test(merge, two_parts_by_hand)
{
    const float o0[1] = {1.0f}, o1[1] = {5.0f};
    const float l0[1] = {0.0f}, l1[1] = {logf(3.0f)};
    const float *outs[2] = {o0, o1}, *lses[2] = {l0, l1};
    float out[1], lse[1];
    kva_error e;
    cr_assert_eq(kva_merge_states(outs, lses, 2, 1, 1, out, lse, &e), KVA_OK);
    /* about six fp32 roundings (log 3, the subtraction, exp, the sum, the
     * product, the division), each <= 2^-24 relative: 6 * 2^-24 * 4 */
    cr_expect_float_eq(out[0], 4.0f, 1.5e-6f);
    cr_expect_float_eq(lse[0], logf(4.0f), 6 * 0x1p-24f * 2.0f);
}

/* An empty part (lse -inf) contributes nothing, never NaN; all parts empty
 * give out = 0 and lse = -inf exactly. */
Test(merge, empty_parts)
{
    const float o0[2] = {7.0f, NAN}, o1[2] = {2.0f, 3.0f};
    const float l0[2] = {-INFINITY, -INFINITY}, l1[2] = {1.5f, -INFINITY};
    const float *outs[2] = {o0, o1}, *lses[2] = {l0, l1};
    float out[2], lse[2];
    cr_assert_eq(kva_merge_states(outs, lses, 2, 2, 1, out, lse, NULL), KVA_OK);
    cr_expect_eq(out[0], 2.0f);
    cr_expect_eq(lse[0], 1.5f);
    cr_expect_eq(out[1], 0.0f);
    cr_expect(isinf(lse[1]) && lse[1] < 0);
}

/* In place: out may be a part's own array. */
Test(merge, in_place)
{
    float o0[2] = {1.0f, 2.0f}, o1[2] = {3.0f, 4.0f};
    float l0[1] = {0.0f}, l1[1] = {0.0f};
    const float *outs[2] = {o0, o1}, *lses[2] = {l0, l1};
    cr_assert_eq(kva_merge_states(outs, lses, 2, 1, 2, o0, l0, NULL), KVA_OK);
    cr_expect_float_eq(o0[0], 2.0f, 1e-7f);
    cr_expect_float_eq(o0[1], 3.0f, 1e-7f);
    cr_expect_float_eq(l0[0], logf(2.0f), 1e-7f);
}

Test(merge, bad_input_refused_untouched)
{
    const float o0[1] = {1.0f}, l0[1] = {NAN}, lp[1] = {INFINITY};
    const float *outs[1] = {o0}, *lses[1] = {l0}, *lpos[1] = {lp};
    float out[1] = {-9.0f}, lse[1] = {-9.0f};
    kva_error e;
    cr_expect_eq(kva_merge_states(outs, lses, 1, 1, 1, out, lse, &e),
                 KVA_ERR_PARAM);
    cr_expect(strstr(e.msg, "NaN or +inf"), "%s", e.msg);
    cr_expect_eq(kva_merge_states(outs, lpos, 1, 1, 1, out, lse, &e),
                 KVA_ERR_PARAM);
    cr_expect_eq(kva_merge_states(outs, lses, 0, 1, 1, out, lse, &e),
                 KVA_ERR_SHAPE);
    cr_expect_eq(kva_merge_states(outs, lses, 1, -1, 1, out, lse, &e),
                 KVA_ERR_LENGTH);
    cr_expect_eq(kva_merge_states(NULL, lses, 1, 1, 1, out, lse, &e),
                 KVA_ERR_NULL);
    cr_expect_eq(kva_merge_states(outs, lses, 1, 1, 0, out, lse, &e),
                 KVA_ERR_SHAPE);
    cr_expect_eq(out[0], -9.0f);
    cr_expect_eq(lse[0], -9.0f);
    cr_expect_eq(kva_merge_states(NULL, NULL, 1, 0, 1, NULL, NULL, &e), KVA_OK);
}

/* ---- planted merges the campaign's check must catch ------------------- */

/* Campaign cases through the merge check with a given merge. */
static int failures_with(kva_status (*merge)(const float *const *,
                                             const float *const *, int,
                                             int64_t, int, float *, float *,
                                             kva_error *),
                         int cases)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.merge_states = merge;
    int failed = 0;
    for (int i = 0; i < cases; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(21, (uint64_t)i, -1, &c, err, sizeof err),
                     0, "%s", err);
        kvc_result r;
        memset(&r, 0, sizeof r);
        kvc_outcome o = kvc_check_merge(&c, &k, NULL, &r);
        cr_assert(o == KVC_PASS || o == KVC_FAIL_MERGE, "case %d: %s", i,
                  r.message);
        failed += o == KVC_FAIL_MERGE;
        kvc_case_free(&c);
    }
    return failed;
}

Test(merge, in_tree_merge_passes_the_campaign_check, .timeout = 120)
{
    cr_expect_eq(failures_with(kva_merge_states, 400), 0);
}

Test(merge, planted_merges_are_caught, .timeout = 120)
{
    /* of 400 cases about 100 are checked (KVC_MERGE_EVERY = 4) */
    int avg = failures_with(kvc_planted_merge_average, 400);
    int nan = failures_with(kvc_planted_merge_nan_on_empty, 400);
    /* a merge that ignores lse is wrong wherever two non-empty parts differ;
     * one that forgets empty parts wherever a row has one (every third cut
     * is pinned to 0 or kv_len, so most cases have one) */
    cr_expect_gt(avg, 50, "plain average caught in %d of 400", avg);
    cr_expect_gt(nan, 20, "NaN on empty parts caught in %d of 400", nan);
}
