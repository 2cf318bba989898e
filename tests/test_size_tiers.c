/*
 * test_size_tiers.c — the size tiers of the draw (generators/size_tier.c):
 * their shares, their shapes, the size filters, the size options of the
 * CLI, and the proof that the main campaign (seed 7, 20,000 cases) reaches
 * the planted bugs that live above a size threshold.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../generators/case.h"
#include "../golden/golden.h"
#include "../tools/campaign.h"
#include "../tools/claim.h"
#include "../tools/runner.h"
#include "planted_kernels.h"
#include "subprocess.h"

#define KVCHECK KVC_BUILD_DIR "/kvcheck"
#define SEED 7

/* QEfficient writes may not cross a block boundary (the spec validation
 * refuses them): every shortening of a tier's lengths keeps the rule. */
static void assert_qeff_fits(const kvc_case_spec *sp, uint64_t i)
{
    for (int s = 0; sp->mode == KVC_MODE_QEFF && s < sp->num_seqs; s++)
        cr_assert(sp->q_len[s] == 0
                      ? sp->ctx_len[s] == 0
                      : sp->q_len[s] <= sp->block_size - sp->ctx_len[s] % sp->block_size,
                  "case %llu seq %d: ctx %d q %d B %d", (unsigned long long)i, s,
                  sp->ctx_len[s], sp->q_len[s], sp->block_size);
}

static int max_q(const kvc_case_spec *sp)
{
    int m = 0;
    for (int s = 0; s < sp->num_seqs; s++)
        m = sp->q_len[s] > m ? sp->q_len[s] : m;
    return m;
}

static int max_kv(const kvc_case_spec *sp)
{
    int m = 0;
    for (int s = 0; s < sp->num_seqs; s++)
        m = sp->ctx_len[s] + sp->q_len[s] > m ? sp->ctx_len[s] + sp->q_len[s] : m;
    return m;
}

/* Over n draws, each tier's count is Binomial(n, share): within 5 standard
 * deviations (+1 for the discreteness of tiny shares). The draws are fixed
 * by the seed, so this either always passes or points at a wrong share; 5
 * sigma makes a chance miss of a correct table below 1e-6 per tier. */
static void check_shares(kvc_size_policy pol, int n)
{
    int count[KVC_TIER_COUNT] = {0};
    kvc_size_opts o = {.size = pol};
    for (int i = 0; i < n; i++)
        count[kvc_tier_of(kvc_case_seed(SEED, (uint64_t)i), &o)]++;
    double sum = 0;
    for (int t = 0; t < KVC_TIER_COUNT; t++) {
        double p = kvc_tier_share(pol, (kvc_size_tier)t);
        double mean = n * p, sd = sqrt(n * p * (1 - p));
        sum += p;
        cr_expect_leq(fabs(count[t] - mean), 5 * sd + 1,
                      "%s: tier %s drawn %d times of %d, share %g",
                      kvc_size_policy_name(pol), kvc_tier_name((kvc_size_tier)t),
                      count[t], n, p);
    }
    cr_assert_float_eq(sum, 1.0, 1e-12, "shares of %s sum to %g",
                       kvc_size_policy_name(pol), sum);
}

Test(size_tiers, shares_are_what_the_docs_say)
{
    check_shares(KVC_SIZE_DEFAULT, 20000);
    check_shares(KVC_SIZE_LARGE, 20000);
    check_shares(KVC_SIZE_SMALL, 2000);
    /* the documented figures: SMALL base only, DEFAULT ~3.06% above base,
     * LARGE ~60% */
    cr_assert_eq(kvc_tier_share(KVC_SIZE_SMALL, KVC_TIER_BASE), 1.0);
    cr_assert(fabs(1 - kvc_tier_share(KVC_SIZE_DEFAULT, KVC_TIER_BASE) - 0.0306) < 0.0001);
    cr_assert(fabs(1 - kvc_tier_share(KVC_SIZE_LARGE, KVC_TIER_BASE) - 0.60) < 0.001);
}

/* The base tier is exactly today's draw: a campaign's base cases (and the
 * golden set, drawn by kvc_spec_draw) did not move. */
Test(size_tiers, base_tier_cases_are_the_small_draw)
{
    kvc_size_opts def = {0};
    int base = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        uint64_t cs = kvc_case_seed(SEED, i);
        kvc_case_spec a, b;
        cr_assert_eq(kvc_spec_draw_sized(cs, -1, &def, &a), 0);
        cr_assert_eq(kvc_spec_draw(SEED, i, -1, &b), 0);
        if (kvc_tier_of(cs, &def) != KVC_TIER_BASE)
            continue;
        base++;
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "case %llu",
                  (unsigned long long)i);
    }
    cr_assert_gt(base, 2800);
}

/* Each tier draws what its name says, under its work cap, and builds. */
Test(size_tiers, tiers_draw_real_sizes, .timeout = 120)
{
    kvc_size_opts o = {.size = KVC_SIZE_LARGE};
    int seen[KVC_TIER_COUNT] = {0}, q64 = 0, kv4k = 0, b128 = 0, odd_b = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        uint64_t cs = kvc_case_seed(SEED, i);
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw_sized(cs, -1, &o, &sp), 0);
        kvc_size_tier t = kvc_tier_of(cs, &o);
        seen[t]++;
        assert_qeff_fits(&sp, i);
        cr_assert_leq(kvc_spec_work(&sp), kvc_tier_work_cap(t),
                      "case %llu (%s): work %lld", (unsigned long long)i,
                      kvc_tier_name(t), (long long)kvc_spec_work(&sp));
        if (t == KVC_TIER_PREFILL && sp.mode != KVC_MODE_QEFF)
            cr_assert_geq(max_q(&sp), 63, "case %llu", (unsigned long long)i);
        if (t == KVC_TIER_LONG_DECODE)
            cr_assert_geq(max_kv(&sp), 2048, "case %llu", (unsigned long long)i);
        if (t == KVC_TIER_MODEL) {
            cr_assert(sp.cfg.num_q_heads == 32 && sp.cfg.num_kv_heads == 8 &&
                      sp.cfg.head_dim == 128, "case %llu", (unsigned long long)i);
            cr_assert_geq(max_kv(&sp), 4095, "case %llu", (unsigned long long)i);
        }
        if (t == KVC_TIER_BIG_BLOCKS)
            cr_assert_geq(sp.block_size, 48);
        q64 += max_q(&sp) >= 64;
        kv4k += max_kv(&sp) >= 4096;
        b128 += sp.mode != KVC_MODE_BLOCKED && sp.block_size >= 128;
        odd_b += sp.block_size == 48 || sp.block_size == 96 ||
                 sp.block_size == 160 || sp.block_size == 272;
        if (i < 40 && t != KVC_TIER_MODEL) { /* they build (valid specs) */
            kvc_case c;
            char err[256];
            cr_assert_eq(kvc_case_build(&sp, cs, &c, err, sizeof err), 0,
                         "case %llu: %s", (unsigned long long)i, err);
            kvc_case_free(&c);
        }
    }
    for (int t = 0; t < KVC_TIER_COUNT; t++)
        cr_assert_gt(seen[t], 50, "tier %s", kvc_tier_name((kvc_size_tier)t));
    cr_assert_gt(q64, 300);
    cr_assert_gt(kv4k, 300);
    cr_assert_gt(b128, 300);
    cr_assert_gt(odd_b, 100);
}

/* Every spec of the main command's draw (default policy, 20,000 cases)
 * keeps the QEfficient rule and its tier's cap (case 13520 of seed 7 once
 * crossed a block: a context halved under the cap moved the block edge). */
Test(size_tiers, main_draw_specs_are_valid)
{
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t cs = kvc_case_seed(SEED, i);
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw_sized(cs, -1, NULL, &sp), 0);
        assert_qeff_fits(&sp, i);
        cr_assert_leq(kvc_spec_work(&sp), kvc_tier_work_cap(kvc_tier_of(cs, NULL)));
    }
}

/* Every group size 1..16 is drawn, and KV head counts that are not powers
 * of two. */
Test(size_tiers, group_sizes_one_to_sixteen)
{
    int group[17] = {0}, odd_hkv = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw_sized(kvc_case_seed(SEED, i), -1, NULL, &sp), 0);
        int g = sp.cfg.num_q_heads / sp.cfg.num_kv_heads;
        if (g <= 16)
            group[g]++;
        int h = sp.cfg.num_kv_heads;
        odd_hkv += (h & (h - 1)) != 0;
    }
    for (int g = 1; g <= 16; g++)
        cr_assert_gt(group[g], 5, "group size %d drawn %d times", g, group[g]);
    cr_assert_gt(odd_hkv, 1000);
}

/* Filters hold for every drawn case, in every tier and mode. */
Test(size_tiers, filters_hold_for_every_case, .timeout = 120)
{
    kvc_size_opts o = {.size = KVC_SIZE_LARGE, .max_kv = 5000, .max_q = 100,
                       .hq = 6, .hkv = 2, .head_dim = 24, .block_size = 96};
    char err[200];
    cr_assert_eq(kvc_size_opts_check(&o, err, sizeof err), 0, "%s", err);
    for (uint64_t i = 0; i < 2000; i++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw_sized(kvc_case_seed(SEED, i), -1, &o, &sp), 0);
        cr_assert(sp.cfg.num_q_heads == 6 && sp.cfg.num_kv_heads == 2 &&
                  sp.cfg.head_dim == 24 && sp.block_size == 96,
                  "case %llu", (unsigned long long)i);
        cr_assert_neq(sp.kv_dtype, KVC_KV_NVFP4); /* 24 % 16 != 0 */
        assert_qeff_fits(&sp, i);
        for (int s = 0; s < sp.num_seqs; s++) {
            cr_assert_leq(sp.q_len[s], 100, "case %llu", (unsigned long long)i);
            cr_assert_leq(sp.ctx_len[s] + sp.q_len[s], 5000, "case %llu",
                          (unsigned long long)i);
        }
        if (i < 30) {
            kvc_case c;
            cr_assert_eq(kvc_case_build(&sp, i, &c, err, sizeof err), 0,
                         "case %llu: %s", (unsigned long long)i, err);
            kvc_case_free(&c);
        }
    }
    kvc_size_opts bad = {.hq = 6, .hkv = 4};
    cr_assert_neq(kvc_size_opts_check(&bad, err, sizeof err), 0);
    cr_assert(strstr(err, "--heads"), "%s", err);
}

/* ---------- the CLI ---------- */

static void expect_usage(const char *const *argv, const char *needle)
{
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 60), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 2, "%s %s: exit %d\n%s", argv[1],
                 argv[2], kvc_proc_exit_code(&p), p.err);
    cr_assert(strstr(p.err, needle), "%s %s: stderr does not name %s:\n%s",
              argv[1], argv[2], needle, p.err);
    kvc_proc_free(&p);
}

Test(size_tiers, bad_size_options_exit_2_naming_the_option)
{
    const char *const cmds[] = {"run", "replay", "shrink"};
    for (int i = 0; i < 3; i++) {
        const char *c = cmds[i];
        expect_usage((const char *const[]){KVCHECK, c, "--size", "huge", "--case", "1", NULL}, "--size");
        expect_usage((const char *const[]){KVCHECK, c, "--heads", "6/4", "--case", "1", NULL}, "--heads");
        expect_usage((const char *const[]){KVCHECK, c, "--heads", "8", "--case", "1", NULL}, "--heads");
        expect_usage((const char *const[]){KVCHECK, c, "--max-kv", "0", "--case", "1", NULL}, "--max-kv");
        expect_usage((const char *const[]){KVCHECK, c, "--max-q", "-3", "--case", "1", NULL}, "--max-q");
        expect_usage((const char *const[]){KVCHECK, c, "--head-dim", "x", "--case", "1", NULL}, "--head-dim");
        expect_usage((const char *const[]){KVCHECK, c, "--block-size", "0", "--case", "1", NULL}, "--block-size");
    }
}

/* A campaign's replay command carries the size options: replayed, it runs
 * the case the campaign ran. */
Test(size_tiers, replay_command_carries_size_options)
{
    kvc_campaign_opts o = {.seed = 3, .forced_mode = -1,
                           .size = {.size = KVC_SIZE_LARGE, .max_kv = 900,
                                    .hq = 4, .hkv = 2, .block_size = 160}};
    char cmd[512];
    kvc_replay_command(&o, 12, cmd, sizeof cmd);
    cr_assert(strstr(cmd, "--size large --max-kv 900 --heads 4/2 --block-size 160"),
              "%s", cmd);
    kvc_proc p;
    const char *const argv[] = {KVCHECK, "replay", "--seed", "3", "--case", "12",
                                "--size", "large", "--max-kv", "900", "--heads",
                                "4/2", "--block-size", "160", NULL};
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 120), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_assert(strstr(p.out, "Hq/Hkv=4/2") && strstr(p.out, "B=160"), "%s", p.out);
    kvc_proc_free(&p);
}

/* ---------- planted size-threshold bugs and the main campaign ---------- */

typedef int (*trigger_fn)(const kvc_case_spec *sp);

static int paged_f32(const kvc_case_spec *sp)
{
    return sp->mode != KVC_MODE_BLOCKED && sp->kv_dtype == KVC_KV_F32;
}

static int trig_q64(const kvc_case_spec *sp)
{
    return paged_f32(sp) && max_q(sp) >= 64;
}

static int trig_split(const kvc_case_spec *sp)
{
    for (int s = 0; paged_f32(sp) && s < sp->num_seqs; s++)
        if (sp->q_len[s] == 1 && sp->ctx_len[s] + 1 >= 4096)
            return 1;
    return 0;
}

static int trig_split_window(const kvc_case_spec *sp)
{
    int w = sp->cfg.window_left;
    for (int s = 0; paged_f32(sp) && w >= 4095 && s < sp->num_seqs; s++)
        if (sp->q_len[s] == 1 && sp->ctx_len[s] > w)
            return 1;
    return 0;
}

static int trig_page7(const kvc_case_spec *sp)
{
    return paged_f32(sp) && sp->block_size > 128 && max_kv(sp) > 128;
}

/*
 * Walk the cases of `kvcheck run --cases 20000 --seed 7 --kernel all` (the
 * README's main command: the default policy, the in-tree kernel's claim)
 * and run the planted kernel on the first cases that reach its path: the
 * campaign runs those very cases, so a failure here is a failure it
 * reports. Also: the in-tree kernel passes them (the failure is the bug),
 * and the planted kernel passes the first cases that do not reach the path
 * when judged by the oracle alone (its only bug lives above the threshold).
 */
static long long caught_by_main_campaign(const kvc_kernel *planted, trigger_fn hit)
{
    kva_caps caps;
    kvc_kernel_caps(&kvc_builtin_kernel, &caps);
    int tried = 0, below = 0;
    long long first = -1;
    for (uint64_t i = 0; i < 20000 && (first < 0 || below < 10); i++) {
        kvc_case_spec sp;
        int attempt;
        if (kvc_claimed_spec_sized(&caps, SEED, i, -1, NULL, &sp, &attempt,
                                   NULL) != 0)
            continue;
        int reach = hit(&sp);
        if ((reach && (first >= 0 || tried >= 30)) ||
            (!reach && (below >= 10 || !paged_f32(&sp))))
            continue;
        kvc_case c;
        kvc_result r;
        char err[256];
        cr_assert_eq(kvc_claimed_generate(&caps, SEED, i, -1, &c, err, sizeof err),
                     0, "%s", err);
        /* below the threshold, the oracle alone: the block-size property
         * re-lays a case out with pages of 256 and so reaches the path */
        kvc_run_opts judge_only = {.expect = KVC_EXPECT_VALID,
                                   .skip_properties = 1};
        kvc_outcome got = reach ? kvc_run_case(&c, planted, &r)
                                : kvc_run_case_opts(&c, planted, &judge_only, &r);
        if (reach) {
            tried++;
            if (got != KVC_PASS) {
                first = (long long)i;
                kvc_result rb;
                cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &rb), KVC_PASS,
                             "case %llu: the in-tree kernel fails too: %s",
                             (unsigned long long)i, rb.message);
            }
        } else {
            below++;
            cr_assert_eq(got, KVC_PASS, "%s fails case %llu below its "
                         "threshold: %s", planted->name, (unsigned long long)i,
                         r.message);
        }
        kvc_case_free(&c);
    }
    cr_assert_geq(first, 0, "%s: none of the first %d cases of the main "
                  "campaign that reach its path fails", planted->name, tried);
    cr_log_info("%s: first caught at case %lld of seed 7 (%d reaching cases "
                "tried)", planted->name, first, tried);
    return first;
}

Test(size_tiers, main_campaign_catches_qtile_rescale_bug, .timeout = 300)
{
    caught_by_main_campaign(&kvc_planted_qtile_rescale, trig_q64);
}

Test(size_tiers, main_campaign_catches_split_kv_merge_bug, .timeout = 300)
{
    caught_by_main_campaign(&kvc_planted_split_kv_merge, trig_split);
}

/* the long tiers' windows (kvcg_tier_window) reach inside split decodes */
Test(size_tiers, main_campaign_catches_split_window_edge_bug, .timeout = 300)
{
    /* within the first 9,000 cases: under 30 s of the main command at its
     * ~300 cases/s here ([H]: every kill in under 30 s); the base draw's
     * windows alone first reached it at case 14,020 */
    long long first = caught_by_main_campaign(&kvc_planted_split_window_edge,
                                              trig_split_window);
    cr_assert_lt(first, 9000, "first caught at case %lld", first);
}

Test(size_tiers, main_campaign_catches_page_offset7_bug, .timeout = 300)
{
    caught_by_main_campaign(&kvc_planted_page_offset7, trig_page7);
}

/* ---------- kvcheck case ---------- */

/* `case` writes the case its options describe, and the file replays. */
Test(size_tiers, case_command_writes_a_replayable_case, .timeout = 120)
{
    char path[] = "/tmp/kvc-case-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    kvc_proc p;
    const char *const argv[] = {KVCHECK, "case", "--out", path, "--heads", "8/2",
                                "--head-dim", "32", "--block-size", "272",
                                "--seq", "0+64", "--seq", "300+1", "--kv-dtype",
                                "int8", "--kv-scale", "token", "--values",
                                "growing", "--window", "100", "--softcap", "30",
                                "--mask", "random", NULL};
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 60), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s", p.err);
    kvc_proc_free(&p);
    kvc_golden_file f;
    char err[256];
    cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.num_tests, 1);
    const kvc_case_spec *sp = &f.tests[0].c.spec;
    cr_assert(sp->mode == KVC_MODE_PAGED && sp->cfg.num_q_heads == 8 &&
              sp->cfg.num_kv_heads == 2 && sp->cfg.head_dim == 32);
    const kvc_problem *pr = &f.tests[0].c.prob;
    cr_assert_eq(pr->num_seqs, 2);
    cr_assert(pr->ctx_len[0] == 0 && pr->q_len[0] == 64);
    cr_assert(pr->ctx_len[1] == 300 && pr->q_len[1] == 1);
    cr_assert_eq(f.tests[0].c.layout.block_size, 272);
    cr_assert(pr->quant.dtype == KVC_KV_INT8 && pr->quant.kind == KVC_SCALE_TOKEN);
    cr_assert(f.tests[0].c.prob.cfg.window_left == 100 &&
              f.tests[0].c.prob.cfg.softcap == 30.0f);
    kvc_golden_free(&f);
    const char *const rargv[] = {KVCHECK, "replay", path, NULL};
    cr_assert_eq(kvc_proc_run(&p, rargv, NULL, 60), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_assert(strstr(p.out, "1 passed"), "%s", p.out);
    kvc_proc_free(&p);
    unlink(path);
}

Test(size_tiers, case_command_bad_values_exit_2_naming_the_option)
{
    expect_usage((const char *const[]){KVCHECK, "case", "--out", "/tmp/x.json", "--heads", "6/4", NULL}, "--heads");
    expect_usage((const char *const[]){KVCHECK, "case", "--out", "/tmp/x.json", "--seq", "7", NULL}, "--seq");
    expect_usage((const char *const[]){KVCHECK, "case", "--out", "/tmp/x.json", "--kv-dtype", "fp6", NULL}, "--kv-dtype");
    expect_usage((const char *const[]){KVCHECK, "case", "--out", "/tmp/x.json", "--softcap", "-1", NULL}, "--softcap");
    expect_usage((const char *const[]){KVCHECK, "case", "--out", "/tmp/x.json", "--mask", "half", NULL}, "--mask");
    expect_usage((const char *const[]){KVCHECK, "case", "--seq", "0+3", NULL}, "--out");
    /* a spec the validation refuses names its field */
    expect_usage((const char *const[]){KVCHECK, "case", "--out", "/tmp/x.json", "--kv-dtype", "nvfp4", "--head-dim", "24", NULL}, "head_dim");
}
