/*
 * test_invalid_draws.c — the campaign's invalid variants
 * (generators/invalid.h): every rule is drawn, every variant really breaks
 * its rule, a variant replays from (seed, index), and kernels with planted
 * validation bugs (tests/planted_refusals.h) fail the campaign.
 *
 * How many cases: in the main campaign (seed 7, 20,000 cases) about 1 case
 * in 16 is a variant (1,265 for seed 7). The rarest rule is the QEfficient
 * crossing write: it needs a QEfficient row with >= 2 new tokens and a
 * whole block below them, and was drawn 10 times in those 20,000 cases, a
 * rate near p = 1/2,000 per case. For any seed, the chance that 20,000
 * cases miss it is about (1 - p)^20000 = e^-10 (4.5e-5); every other rule
 * is drawn 30 times or more. So N = 20,000, the main campaign itself:
 * every rule is asserted there.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/campaign.h"
#include "../tools/refusal.h"
#include "planted_refusals.h"

#define MAIN_SEED 7
#define MAIN_CASES 20000

/* Generate case (MAIN_SEED, i) as the campaign does for a kernel that
 * claims everything. */
static void generate(const kva_caps *claim, uint64_t i, kvc_case *c,
                     kvc_invalid *inv)
{
    char err[256];
    cr_assert_eq(kvc_campaign_generate(claim, MAIN_SEED, i, -1, NULL, c, inv, NULL,
                                       err, sizeof err),
                 0, "case %llu: %s", (unsigned long long)i, err);
}

Test(invalid_draws, every_rule_in_the_main_campaign, .timeout = 300)
{
    uint64_t count[KVC_INV_COUNT] = {0}, slots = 0;
    for (uint64_t i = 0; i < MAIN_CASES; i++) {
        if (!kvc_invalid_slot(MAIN_SEED, i))
            continue;
        slots++;
        kvc_case c;
        kvc_invalid inv;
        generate(NULL, i, &c, &inv);
        count[inv.rule]++;
        cr_assert(inv.rule == KVC_INV_NONE ||
                      (c.flags >> kvc_invalid_rule_flag(inv.rule) & 1u),
                  "case %llu: rule %s without its flag", (unsigned long long)i,
                  kvc_invalid_rule_name(inv.rule));
        kvc_case_free(&c);
    }
    /* 1 in 16: 1,250 expected, standard deviation 34; 5 of them either
     * way is a broken hash, not chance */
    cr_assert(slots > 1080 && slots < 1420, "%llu invalid slots",
              (unsigned long long)slots);
    for (int r = 1; r < KVC_INV_COUNT; r++)
        cr_assert_gt(count[r], 0, "rule %s never drawn in %d cases",
                     kvc_invalid_rule_name((kvc_invalid_rule)r), MAIN_CASES);
}

/* Same (seed, index), same variant; an index that is not an invalid slot
 * is the valid case the campaign always drew. */
Test(invalid_draws, a_variant_replays_and_valid_cases_are_unchanged)
{
    int seen = 0;
    for (uint64_t i = 0; i < 200; i++) {
        kvc_case a, b, plain;
        kvc_invalid ia, ib;
        char err[256];
        generate(NULL, i, &a, &ia);
        generate(NULL, i, &b, &ib);
        cr_assert_eq(ia.rule, ib.rule);
        cr_assert_str_eq(ia.what, ib.what);
        cr_assert_eq(a.flags, b.flags);
        cr_assert_eq(kvc_claimed_generate(NULL, MAIN_SEED, i, -1, &plain, err,
                                          sizeof err), 0);
        if (!kvc_invalid_slot(MAIN_SEED, i)) {
            cr_assert_eq(ia.rule, KVC_INV_NONE);
            cr_assert_eq(memcmp(&a.spec, &plain.spec, sizeof a.spec), 0);
            cr_assert_eq(a.flags, plain.flags);
        } else {
            seen++;
            cr_assert_neq(a.flags, plain.flags, "case %llu", (unsigned long long)i);
        }
        kvc_case_free(&a);
        kvc_case_free(&b);
        kvc_case_free(&plain);
    }
    cr_assert_gt(seen, 0);
}

/* The oracle's own validator (kvc_problem_check) on the problem with the
 * variant's attention parameters and static scales: the rules it knows
 * (parameters, formats) it must refuse too. */
static void oracle_agrees(const kvc_case *c, const kvc_invalid *inv)
{
    kvc_problem p = c->prob; /* shallow: only read */
    p.cfg = inv->cfg;
    p.quant.k_scale = inv->k_scale;
    p.quant.v_scale = inv->v_scale;
    float kh[64], vh[64];
    int H = c->prob.cfg.num_kv_heads;
    if (inv->head_scale_side && H <= 64) {
        memcpy(kh, c->prob.quant.k_head_scale, (size_t)H * sizeof *kh);
        memcpy(vh, c->prob.quant.v_head_scale, (size_t)H * sizeof *vh);
        (inv->head_scale_side == 1 ? kh : vh)[inv->head_scale_index] =
            inv->head_scale_value;
        p.quant.k_head_scale = kh;
        p.quant.v_head_scale = vh;
    }
    if (inv->rule == KVC_INV_NVFP4_HEAD_DIM)
        p.cfg.head_dim = inv->cache_head_dim;
    cr_assert_neq(kvc_problem_check(&p, NULL, 0), 0,
                  "the oracle accepts variant %s: %s",
                  kvc_invalid_rule_name(inv->rule), inv->what);
}

/* The generators' validator (generators/validate.c, run by kvc_case_build)
 * refuses the spec with the variant's parameters or tile count. */
static void generator_agrees(const kvc_case *c, const kvc_invalid *inv)
{
    kvc_case_spec sp = c->spec; /* a tile-count variant is in the spec */
    if (inv->rule != KVC_INV_TILE_COUNT)
        sp.cfg = inv->cfg; /* nvfp4's head_dim included */
    kvc_case built;
    char err[256];
    cr_assert_neq(kvc_case_build(&sp, c->value_seed, &built, err, sizeof err),
                  0, "the generators accept variant %s: %s",
                  kvc_invalid_rule_name(inv->rule), inv->what);
}

static int oracle_knows(kvc_invalid_rule r)
{
    return r == KVC_INV_HEADS_RATIO || r == KVC_INV_HEAD_DIM_0 ||
           r == KVC_INV_SCALE_NONFINITE || r == KVC_INV_SOFTCAP_NEGATIVE ||
           r == KVC_INV_WINDOW_BELOW || r == KVC_INV_STATIC_SCALE;
}

/* libkvattn refuses every variant of the first 4,000 cases with a status
 * kvattn.h gives for its rule, leaving its buffers untouched (the runner's
 * checks); the oracle's problem check and the generators' spec validator
 * refuse those whose rule they know. */
Test(invalid_draws, every_variant_breaks_its_rule, .timeout = 300)
{
    uint64_t count[KVC_INV_COUNT] = {0};
    for (uint64_t i = 0; i < 4000; i++) {
        if (!kvc_invalid_slot(MAIN_SEED, i))
            continue;
        kvc_case c;
        kvc_invalid inv;
        kvc_result r;
        generate(NULL, i, &c, &inv);
        count[inv.rule]++;
        kvc_outcome o = kvc_campaign_run_case(&c, &inv, &kvc_builtin_kernel, &r);
        cr_assert_eq(o, KVC_PASS, "case %llu: %s: %s", (unsigned long long)i,
                     kvc_outcome_name(o), r.message);
        if (inv.rule != KVC_INV_NONE) {
            cr_assert_neq(r.refused, KVA_OK);
            cr_assert(kvc_refusal_statuses(c.flags) >> r.refused & 1u,
                      "case %llu: %s", (unsigned long long)i, r.message);
            if (oracle_knows(inv.rule))
                oracle_agrees(&c, &inv);
            if ((oracle_knows(inv.rule) && inv.rule != KVC_INV_STATIC_SCALE) ||
                inv.rule == KVC_INV_TILE_COUNT ||
                inv.rule == KVC_INV_NVFP4_HEAD_DIM)
                generator_agrees(&c, &inv);
        }
        kvc_case_free(&c);
    }
    int drawn = 0;
    for (int k = 1; k < KVC_INV_COUNT; k++)
        drawn += count[k] > 0;
    cr_assert_geq(drawn, KVC_INV_COUNT - 3, "only %d rules drawn", drawn);
}

/* A kernel that does not claim to validate gets valid cases on invalid
 * slots; one that does not write the cache gets no slot rule (kvcheck
 * writes the cache for it: the kernel never sees the slots). */
Test(invalid_draws, variants_respect_the_claim, .timeout = 120)
{
    kva_caps silent, no_write;
    kva_caps_everything(&silent);
    silent.validates = 0;
    kva_caps_everything(&no_write);
    no_write.features &= ~(uint32_t)KVA_FEATURE_CACHE_WRITE;
    int slots = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        if (!kvc_invalid_slot(MAIN_SEED, i))
            continue;
        slots++;
        kvc_case c;
        kvc_invalid inv;
        generate(&silent, i, &c, &inv);
        cr_assert_eq(inv.rule, KVC_INV_NONE);
        kvc_case_free(&c);
        generate(&no_write, i, &c, &inv);
        cr_assert(inv.rule != KVC_INV_SLOT_RANGE &&
                  inv.rule != KVC_INV_SLOT_DUPLICATE);
        kvc_case_free(&c);
    }
    cr_assert_gt(slots, 50);
}

/* ---- planted validation bugs, caught by the campaign --------------------- */

static kvc_campaign_opts campaign(uint64_t cases, FILE *log)
{
    kvc_campaign_opts o = {.seed = MAIN_SEED, .cases = cases,
                           .forced_mode = -1, .shard_count = 1,
                           .max_failures_listed = 1, .log = log};
    return o;
}

/* The campaign of the main command's first `cases` cases fails against
 * kernel k, on invalid variants only, first at case `first`, with outcome
 * `want` among its failures; its summary counts the variants not refused
 * correctly and its failure prints a replay command. With cases = first +
 * 1 it is the smallest campaign of seed 7 that catches k. */
static void caught(const kvc_kernel *k, uint64_t cases, kvc_outcome want,
                   uint64_t first)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    cr_assert_not_null(log);
    kvc_campaign_opts o = campaign(cases, log);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, k, &st);
    kvc_campaign_print_summary(log, &o, &st);
    fclose(log);
    cr_assert_eq(rc, 1, "%s passed %llu cases:\n%s", k->name,
                 (unsigned long long)cases, buf);
    cr_assert_eq(st.failed, st.invalid_failed, "%s", buf);
    cr_assert_geq(st.failed_by_outcome[want], 1, "%s", buf);
    cr_assert_eq(st.first_failure, first, "%s", buf);
    cr_assert_not_null(strstr(buf, "not refused correctly"), "%s", buf);
    cr_assert_not_null(strstr(buf, "invalid variant"), "%s", buf);
    cr_assert_not_null(strstr(buf, "replay: kvcheck replay --seed 7 --case"),
                       "%s", buf);
    free(buf);
    kvc_campaign_stats_free(&st);
}

Test(invalid_draws, planted_partial_write_is_caught, .timeout = 300)
{
    /* case 11 duplicates a slot, which token-by-token validation never
     * sees; case 53 puts a slot past the pool behind 100 valid ones, which
     * are written before the refusal (the cache no longer as it was) */
    caught(&kvc_planted_partial_write, 12, KVC_FAIL_ACCEPTED, 11);
    caught(&kvc_planted_partial_write, 54, KVC_FAIL_REFUSAL, 11);
}

Test(invalid_draws, planted_qeff_crossing_is_caught, .timeout = 300)
{
    caught(&kvc_planted_qeff_crossing, 226, KVC_FAIL_ACCEPTED, 225);
}

Test(invalid_draws, planted_negative_softcap_is_caught, .timeout = 120)
{
    caught(&kvc_planted_negative_softcap, 6, KVC_FAIL_ACCEPTED, 5);
}

Test(invalid_draws, planted_window_edge_is_caught, .timeout = 300)
{
    caught(&kvc_planted_window_edge, 182, KVC_FAIL_ACCEPTED, 181);
}

Test(invalid_draws, planted_wrong_status_is_caught, .timeout = 300)
{
    caught(&kvc_planted_wrong_status, 182, KVC_FAIL_REFUSAL, 181);
}

/* The window-edge rule itself (not only a block rule that happens to hit
 * the edge) catches the off-by-one: every paged window-edge variant of
 * the first 2,000 cases is accepted by it, and libkvattn refuses them. */
Test(invalid_draws, window_edge_variants_catch_the_off_by_one, .timeout = 300)
{
    int edges = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        if (!kvc_invalid_slot(MAIN_SEED, i))
            continue;
        kvc_case c;
        kvc_invalid inv;
        kvc_result r;
        generate(NULL, i, &c, &inv);
        /* (in QEfficient mode the edge block may be the active one, which
         * the conversion checks before paged attention runs) */
        if (inv.rule == KVC_INV_BLOCK_WINDOW_EDGE &&
            c.spec.mode == KVC_MODE_PAGED) {
            edges++;
            cr_assert_eq(kvc_campaign_run_case(&c, &inv, &kvc_planted_window_edge,
                                               &r),
                         KVC_FAIL_ACCEPTED, "case %llu: %s",
                         (unsigned long long)i, r.message);
            cr_assert_eq(kvc_campaign_run_case(&c, &inv, &kvc_builtin_kernel, &r),
                         KVC_PASS, "case %llu: %s", (unsigned long long)i,
                         r.message);
            cr_assert_eq(r.refused, KVA_ERR_BLOCK);
        }
        kvc_case_free(&c);
    }
    cr_assert_gt(edges, 0);
}

/* The builtin kernel's campaign counts its variants in the summary. */
Test(invalid_draws, summary_counts_invalid_variants, .timeout = 300)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    cr_assert_not_null(log);
    kvc_campaign_opts o = campaign(200, log);
    kvc_campaign_stats st;
    cr_assert_eq(kvc_campaign_run(&o, &kvc_builtin_kernel, &st), 0);
    kvc_campaign_print_summary(log, &o, &st);
    fclose(log);
    uint64_t slots = 0;
    for (uint64_t i = 0; i < 200; i++)
        slots += (uint64_t)kvc_invalid_slot(MAIN_SEED, i);
    cr_assert_eq(st.invalid_run, slots);
    char want[96];
    snprintf(want, sizeof want, "invalid variants: %llu, all refused correctly",
             (unsigned long long)slots);
    cr_assert_not_null(strstr(buf, want), "%s", buf);
    free(buf);
    kvc_campaign_stats_free(&st);
}

/* A refusal that leaves an output row written is a bad refusal: case 5 of
 * the main campaign is a negative softcap that paged attention refuses
 * (the runner compares out and lse with the sentinel they were given). */
Test(invalid_draws, output_written_before_a_refusal_is_caught)
{
    kvc_case c;
    kvc_invalid inv;
    kvc_result r;
    generate(NULL, 5, &c, &inv);
    cr_assert_eq(inv.rule, KVC_INV_SOFTCAP_NEGATIVE);
    cr_assert_eq(kvc_campaign_run_case(&c, &inv, &kvc_builtin_kernel, &r),
                 KVC_PASS, "%s", r.message);
    cr_assert_eq(kvc_campaign_run_case(&c, &inv, &kvc_planted_output_then_refuse,
                                       &r),
                 KVC_FAIL_REFUSAL, "%s", r.message);
    cr_assert_not_null(strstr(r.message, "wrote output rows"), "%s", r.message);
    kvc_case_free(&c);
}
