/*
 * test_stateful.c — suite `stateful`: the campaign's stateful indices
 * (generators/stateful.h): which indices they are, every kind run by a
 * campaign with its own counts, the replay of one alone, and a run
 * narrowed by --kernel that keeps its attention cases.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../generators/stateful.h"
#include "../tools/campaign.h"
#include "../tools/stateful_run.h"
#include "subprocess.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif

/* About 1 index in KVC_STATEFUL_EVERY, kinds 2 : 1 : 1: over 64,000
 * indices the count is binomial (n 64000, p 1/128: mean 500, sd 22), so
 * [400, 600] fails only on a broken draw; the same for each kind's share. */
Test(stateful, slots_are_a_fixed_share_of_indices)
{
    int n[KVC_STATEFUL_KINDS] = {0};
    for (uint64_t i = 0; i < 64000; i++)
        n[kvc_stateful_slot(7, i)]++;
    int run = n[1] + n[2] + n[3];
    cr_expect(run >= 400 && run <= 600, "%d stateful indices", run);
    cr_expect(n[KVC_STATEFUL_MANAGER] >= 190 && n[KVC_STATEFUL_MANAGER] <= 310,
              "%d manager", n[KVC_STATEFUL_MANAGER]);
    cr_expect(n[KVC_STATEFUL_POLICY] >= 80 && n[KVC_STATEFUL_POLICY] <= 170);
    cr_expect(n[KVC_STATEFUL_POLICY_ATTN] >= 80 && n[KVC_STATEFUL_POLICY_ATTN] <= 170);
    /* another seed, other indices */
    int same = 0;
    for (uint64_t i = 0; i < 64000; i++)
        same += kvc_stateful_slot(7, i) && kvc_stateful_slot(8, i);
    cr_expect_lt(same, 20);
}

/* A campaign runs every kind, each a sequence of thousands of operations,
 * all agreeing with the models, with counts of their own; --kernel (a
 * forced mode) keeps attention cases only. */
Test(stateful, a_campaign_runs_every_kind, .timeout = 300)
{
    kvc_kernel k = kvc_builtin_kernel;
    kvc_campaign_opts o = {.seed = 7, .cases = 1500, .forced_mode = -1,
                           .shard_count = 1, .collect_records = 1};
    kvc_campaign_stats st;
    kvc_campaign_run(&o, &k, &st);
    cr_expect_eq(st.failed, 0);
    uint64_t seqs = 0;
    for (int kd = 1; kd < KVC_STATEFUL_KINDS; kd++) {
        cr_expect_gt(st.stateful_run[kd], 0, "%s never ran",
                     kvc_stateful_name((kvc_stateful_kind)kd));
        seqs += st.stateful_run[kd];
    }
    cr_expect_geq(st.stateful_steps, seqs * KVC_STATEFUL_ATTN_STEPS);
    size_t recs = 0;
    for (size_t i = 0; i < st.num_records; i++)
        if (st.records[i].stateful[0]) {
            recs++;
            cr_expect_str_eq(st.records[i].mode, st.records[i].stateful);
            cr_expect(strstr(st.records[i].replay, "--case") != NULL);
        }
    cr_expect_eq(recs, seqs);
    kvc_campaign_stats_free(&st);

    o.forced_mode = KVC_MODE_PAGED;
    o.cases = 300;
    kvc_campaign_run(&o, &k, &st);
    for (int kd = 1; kd < KVC_STATEFUL_KINDS; kd++)
        cr_expect_eq(st.stateful_run[kd], 0);
    cr_expect_eq(st.run_by_mode[KVC_MODE_PAGED], st.run);
    kvc_campaign_stats_free(&st);
}

/* `replay --seed 7 --case I` of a stateful index runs its scenario. */
Test(stateful, replay_runs_the_scenario, .timeout = 120)
{
    uint64_t idx = 0;
    while (kvc_stateful_slot(7, idx) != KVC_STATEFUL_MANAGER)
        idx++;
    char cs[32];
    snprintf(cs, sizeof cs, "%llu", (unsigned long long)idx);
    const char *argv[] = {KVC_BUILD_DIR "/kvcheck", "replay", "--seed", "7",
                          "--case", cs, NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 60), 0);
    cr_expect_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "stateful manager scenario") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "operations agree with the models") != NULL, "%s", p.out);
    kvc_proc_free(&p);
}

/* A library that claims only a block manager: its campaign draws no
 * attention case (all "not covered"), runs the manager sequences against
 * its manager, and passes; the same library with copy on write skipped
 * fails them with outcome `manager`. */
Test(stateful, a_manager_only_library, .timeout = 120)
{
    const char *argv[] = {KVC_BUILD_DIR "/kvcheck", "run", "--cases", "2000",
                          "--seed", "7", "--no-report", "--kernel-lib",
                          KVC_BUILD_DIR "/tests/libkvattn_manager_only.so", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 100), 0);
    cr_expect_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "stateful: ") && strstr(p.out, "all agree"), "%s", p.out);
    cr_expect(strstr(p.out, "not covered (outside the claim): mode paged"), "%s", p.out);
    kvc_proc_free(&p);
    argv[8] = KVC_BUILD_DIR "/tests/libkvattn_manager_no_cow.so";
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 100), 0);
    cr_expect_eq(kvc_proc_exit_code(&p), 1, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "[manager] manager:") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "copies, the model says") != NULL, "%s", p.out);
    kvc_proc_free(&p);
}
