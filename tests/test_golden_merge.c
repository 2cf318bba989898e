/*
 * test_golden_merge.c — suite `golden_merge`: the merge vectors
 * (golden/golden_merge.h) round-trip, match the committed file, pass the
 * in-tree kva_merge_states and catch wrong merges.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../golden/golden_merge.h"
#include "../tools/golden_verify.h"
#include "planted_merges.h"

#define COMMITTED "golden/vectors/" KVC_MERGE_FILE

static void verify_with(const kvc_kernel *k, kvc_verify_counts *counts)
{
    kvc_merge_file f;
    char err[512];
    cr_assert_eq(kvc_merge_golden_read(COMMITTED, &f, err, sizeof err), 0, "%s",
                 err);
    kvc_verify_kernel vk = {k, NULL, 1, 0, NULL, 0};
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    memset(counts, 0, sizeof *counts);
    kvc_merge_verify_file(&f, COMMITTED, &vk, 0, devnull, counts);
    fclose(devnull);
    kvc_merge_golden_free(&f);
}

/* The committed file is the standard set, value for value. */
Test(golden_merge, committed_file_is_the_standard_set)
{
    kvc_merge_file want, got;
    char err[512];
    cr_assert_eq(kvc_merge_golden_standard(&want), 0);
    cr_assert_eq(kvc_merge_golden_read(COMMITTED, &got, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(got.num_tests, want.num_tests);
    for (int i = 0; i < want.num_tests; i++) {
        const kvc_merge_test *a = &want.tests[i], *b = &got.tests[i];
        cr_assert_eq(a->parts, b->parts);
        cr_assert_eq(a->rows, b->rows);
        int64_t n = a->rows * a->head_dim;
        for (int p = 0; p < a->parts; p++)
            cr_expect_eq(memcmp(a->part_lse[p], b->part_lse[p],
                                (size_t)a->rows * sizeof(float)), 0);
        for (int64_t e = 0; e < n; e++)
            cr_expect(a->out[e] == b->out[e] && a->tol_out[e] == b->tol_out[e],
                      "tcId %d out[%lld]", a->tc_id, (long long)e);
    }
    kvc_merge_golden_free(&want);
    kvc_merge_golden_free(&got);
}

/* Empty rows are exact, and an empty part's out is NaN in the file (a
 * merge that reads it fails). */
Test(golden_merge, empty_rows_exact_and_empty_parts_poisoned)
{
    kvc_merge_file f;
    cr_assert_eq(kvc_merge_golden_standard(&f), 0);
    int empty_rows = 0, poisoned = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_merge_test *t = &f.tests[i];
        for (int64_t r = 0; r < t->rows; r++) {
            if (t->lse[r] == -INFINITY) {
                empty_rows++;
                cr_expect_eq(t->tol_lse[r], 0.0);
                cr_expect_eq(t->out[r * t->head_dim], 0.0);
            }
            for (int p = 0; p < t->parts; p++)
                poisoned += t->part_lse[p][r] == -INFINITY &&
                            isnan(t->part_out[p][r * t->head_dim]);
        }
    }
    cr_expect_gt(empty_rows, 0);
    cr_expect_gt(poisoned, 0);
    kvc_merge_golden_free(&f);
}

Test(golden_merge, in_tree_merge_passes)
{
    kvc_verify_counts c;
    verify_with(&kvc_builtin_kernel, &c);
    cr_expect_eq(c.failed, 0);
    cr_expect_gt(c.passed, 0);
}

/* Wrong merges (planted_merges.h): ignoring the lse; no max subtracted
 * (exp overflows at lse 1e4). */
Test(golden_merge, wrong_merges_fail)
{
    kvc_kernel k = kvc_builtin_kernel;
    kvc_verify_counts c;
    k.merge_states = kvc_planted_merge_average;
    verify_with(&k, &c);
    cr_expect_gt(c.failed, 5, "average failed %d tests", c.failed);
    k.merge_states = kvc_planted_merge_no_max;
    verify_with(&k, &c);
    cr_expect_gt(c.failed, 1, "no-max merge failed %d tests", c.failed);
    k.merge_states = NULL; /* not exported: not covered */
    verify_with(&k, &c);
    cr_expect_eq(c.passed + c.failed, 0);
    cr_expect_eq(c.outside_claim, 11);
}
