/*
 * test_crosscheck.c — each kernel against the oracle over a fixed list of
 * named boundary cases, a short random campaign (no false alarms), and the
 * proof that the gate bites (a planted online-softmax bug is reported).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../generators/named.h"
#include "../tools/campaign.h"
#include "../tools/stateful_run.h"
#include "planted_kernels.h"

/* Criterion may run each parameter in a re-executed process, where
 * pointers into this one mean nothing: parameters are indices into the
 * named-case list, in cr_malloc'd memory, resolved in the child. */
ParameterizedTestParameters(crosscheck, named)
{
    size_t n = kvc_named_count();
    int *ix = cr_malloc(n * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = (int)i;
    return cr_make_param_array(int, ix, n);
}

ParameterizedTest(int *ix, crosscheck, named)
{
    const kvc_named_case *nc = kvc_named_get((size_t)*ix);
    kvc_case_spec spec = kvc_named_spec(nc);
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(&spec, 12345, &c, err, sizeof err), 0,
                 "%s: build failed: %s", nc->name, err);
    kvc_result r;
    kvc_outcome o = kvc_run_case(&c, &kvc_builtin_kernel, &r);
    kvc_case_free(&c);
    cr_assert_eq(o, KVC_PASS, "%s: %s: %s", nc->name, kvc_outcome_name(o),
                 r.message);
    if (r.verdict.seq >= 0)
        cr_assert_leq(r.verdict.ratio, KVC_TOL_THRESHOLD, "%s", nc->name);
}

Test(crosscheck, named_cases_cover_every_mode_and_are_unique)
{
    int per_mode[KVC_MODE_COUNT] = {0};
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *a = kvc_named_get(i);
        per_mode[a->mode]++;
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(a->name, kvc_named_get(j)->name);
    }
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        cr_assert_geq(per_mode[m], 5, "mode %s", kvc_mode_name(m));
    cr_assert_null(kvc_named_get(kvc_named_count()));
}

static kvc_campaign_opts quiet_campaign(uint64_t seed, uint64_t cases,
                                        int mode)
{
    kvc_campaign_opts o = {.seed = seed, .cases = cases, .forced_mode = mode,
                           .shard_index = 0, .shard_count = 1, .progress = 0,
                           .max_failures_listed = 0, .log = NULL};
    return o;
}

Test(crosscheck, random_campaign_has_no_false_alarms, .timeout = 300)
{
    kvc_campaign_opts o = quiet_campaign(99, 400, -1);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, &kvc_builtin_kernel, &st);
    cr_assert_eq(st.run, 400);
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        cr_assert_gt(st.run_by_mode[m], 50, "mode %s ran %llu cases",
                     kvc_mode_name(m), (unsigned long long)st.run_by_mode[m]);
    cr_assert_eq(rc, 0, "%llu failures, first case %llu",
                 (unsigned long long)st.failed,
                 (unsigned long long)st.first_failure);
    cr_assert_leq(st.worst_ratio, KVC_TOL_THRESHOLD);
}

Test(crosscheck, shards_partition_the_cases)
{
    kvc_campaign_stats all, part;
    kvc_campaign_opts o = quiet_campaign(5, 30, -1);
    kvc_campaign_run(&o, &kvc_builtin_kernel, &all);
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        o.shard_index = i;
        o.shard_count = 4;
        kvc_campaign_run(&o, &kvc_builtin_kernel, &part);
        sum += part.run;
    }
    cr_assert_eq(sum, all.run);
}

/* --kv-dtype: only the chosen formats run, the others are skipped (not
 * redrawn: case i is case i of the full campaign), and together they are
 * the whole campaign. */
Test(crosscheck, campaign_format_filter)
{
    kvc_campaign_opts o = quiet_campaign(9, 300, -1);
    o.collect_records = 1;
    o.kv_dtypes = 1u << KVC_KV_NVFP4 | 1u << KVC_KV_F16;
    kvc_campaign_stats st;
    cr_assert_eq(kvc_campaign_run(&o, &kvc_builtin_kernel, &st), 0);
    cr_assert_gt(st.run, 0);
    cr_assert_gt(st.skipped, 0);
    cr_assert_eq(st.run + st.skipped, 300);
    for (size_t i = 0; i < st.num_records; i++) {
        const char *f = st.records[i].kv_format;
        cr_assert(!strcmp(f, "nvfp4/group") || !strcmp(f, "f16"),
                  "case %llu has format %s", (unsigned long long)st.records[i].index, f);
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(9, st.records[i].index, -1, &c, err,
                                       sizeof err), 0, "%s", err);
        cr_assert(c.prob.quant.dtype == KVC_KV_NVFP4 ||
                  c.prob.quant.dtype == KVC_KV_F16);
        kvc_case_free(&c);
    }
    uint64_t runs = st.run;
    kvc_campaign_stats_free(&st);
    o.kv_dtypes = ~(1u << KVC_KV_NVFP4 | 1u << KVC_KV_F16) & 0x7Fu;
    cr_assert_eq(kvc_campaign_run(&o, &kvc_builtin_kernel, &st), 0);
    /* the two filters partition the attention cases; the stateful
     * indices (no cache format of their own) run under neither */
    uint64_t stateful = 0;
    for (uint64_t i = 0; i < 300; i++)
        stateful += kvc_stateful_index(NULL, -1, 9, i) != KVC_STATEFUL_NONE;
    cr_assert_eq(st.run, 300 - runs - stateful);
    kvc_campaign_stats_free(&st);
}

/* The gate must bite: the same campaign code, run against a kernel that
 * forgets the online-softmax rescale, reports numeric failures. */
Test(crosscheck, campaign_catches_missing_rescale, .timeout = 300)
{
    kvc_campaign_opts o = quiet_campaign(3, 200, KVC_MODE_PAGED);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, &kvc_planted_no_rescale, &st);
    cr_assert_eq(rc, 1);
    cr_assert_gt(st.failed_by_outcome[KVC_FAIL_NUMERIC], 0);
    cr_assert_gt(st.worst_ratio, 100.0,
                 "a missed rescale is an O(1) error, far above the bound");
}

/* And on one named case built to need rescaling, deterministically. */
Test(crosscheck, growing_scores_catch_missing_rescale)
{
    const kvc_named_case *nc = NULL;
    for (size_t i = 0; i < kvc_named_count(); i++)
        if (!strcmp(kvc_named_get(i)->name, "paged.growing_scores"))
            nc = kvc_named_get(i);
    cr_assert_not_null(nc);
    kvc_case_spec s = kvc_named_spec(nc);
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(&s, 7, &c, err, sizeof err), 0, "%s", err);
    kvc_result r;
    cr_assert_eq(kvc_run_case(&c, &kvc_planted_no_rescale, &r),
                 KVC_FAIL_NUMERIC, "%s", r.message);
    cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &r), KVC_PASS, "%s",
                 r.message);
    kvc_case_free(&c);
}

/* Large offsets: block ids above a huge unused stretch of a sparse pool.
 * A kernel that computes block offsets in 32 bits passes every small case
 * and fails this one. */
Test(crosscheck, large_offsets_catch_32bit_offsets)
{
    const kvc_named_case *nc = NULL;
    for (size_t i = 0; i < kvc_named_count(); i++)
        if (!strcmp(kvc_named_get(i)->name, "paged.large_offsets"))
            nc = kvc_named_get(i);
    cr_assert_not_null(nc);
    kvc_case_spec s = kvc_named_spec(nc);
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(&s, 11, &c, err, sizeof err), 0, "%s", err);
    cr_assert(c.flags & (1ull << KVC_FLAG_LARGE_OFFSETS));
    cr_assert_gt(c.layout.pool_elems, INT64_C(1) << 32);
    kvc_result r;
    cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &r), KVC_PASS, "%s",
                 r.message);
    cr_assert_neq(kvc_run_case(&c, &kvc_planted_offset32, &r), KVC_PASS,
                  "32-bit offsets went unnoticed");
    kvc_case_free(&c);

    s.large_offsets = 0; /* the same bug is invisible on a small pool */
    cr_assert_eq(kvc_case_build(&s, 11, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kvc_run_case(&c, &kvc_planted_offset32, &r), KVC_PASS, "%s",
                 r.message);
    kvc_case_free(&c);
}

/* Relabelling the physical blocks must not change a single bit. A kernel
 * whose output depends on block ids (by less than the tolerance) passes
 * the oracle and fails the property. */
Test(crosscheck, relabelling_property_catches_block_id_dependence)
{
    kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
    s.ctx_len[0] = 40;
    s.extra_blocks = 8;
    int caught = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&s, seed, &c, err, sizeof err), 0, "%s",
                     err);
        kvc_result r;
        cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &r), KVC_PASS,
                     "%s", r.message);
        kvc_outcome o = kvc_run_case(&c, &kvc_planted_block_id_dependent, &r);
        cr_assert(o == KVC_PASS || o == KVC_FAIL_PROP_RELABEL, "%s: %s",
                  kvc_outcome_name(o), r.message);
        if (o == KVC_FAIL_PROP_RELABEL) {
            caught++;
            cr_assert(strstr(r.message, "relabelling") != NULL, "%s",
                      r.message);
        }
        kvc_case_free(&c);
    }
    /* a layout whose first block keeps its id under the permutation can
     * pass; most must not */
    cr_assert_geq(caught, 4, "caught %d of 5", caught);
}

/* A sequence alone must get bitwise the rows it gets in a batch. */
Test(crosscheck, batch_invariance_catches_batch_dependence)
{
    kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
    s.num_seqs = 3;
    s.ctx_len[0] = 30, s.q_len[0] = 2;
    s.ctx_len[1] = 5, s.q_len[1] = 1;
    s.ctx_len[2] = 17, s.q_len[2] = 3;
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(&s, 3, &c, err, sizeof err), 0, "%s", err);
    kvc_result r;
    cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &r), KVC_PASS, "%s",
                 r.message);
    cr_assert_eq(kvc_run_case(&c, &kvc_planted_batch_dependent, &r),
                 KVC_FAIL_PROP_BATCH, "%s: %s", kvc_outcome_name(r.outcome),
                 r.message);
    cr_assert(strstr(r.message, "alone") != NULL, "%s", r.message);
    kvc_case_free(&c);
}
