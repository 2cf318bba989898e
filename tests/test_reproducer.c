/*
 * test_reproducer.c — a failure found once becomes a small reproducer file
 * and then a permanent regression vector: shrink (against a planted bug),
 * write, replay, `golden add`.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/commands.h"
#include "../tools/golden_verify.h"
#include "../tools/reproducer.h"
#include "planted_kernels.h"

/* The first case of campaign (3, paged) the planted kernel fails. */
static uint64_t first_planted_failure(void)
{
    for (uint64_t i = 0; i < 500; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(3, i, KVC_MODE_PAGED, &c, err,
                                       sizeof err), 0, "%s", err);
        kvc_result r;
        kvc_outcome o = kvc_run_case(&c, &kvc_planted_no_rescale, &r);
        kvc_case_free(&c);
        if (o != KVC_PASS)
            return i;
    }
    cr_assert_fail("no failing case in 500");
    return 0;
}

static void temp_dir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/kvcheck-repro-XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

Test(reproducer, shrinks_writes_and_replays, .timeout = 120)
{
    uint64_t idx = first_planted_failure();
    char dir[64], path[128], err[512];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/repro.json", dir);
    kvc_repro info;
    cr_assert_eq(kvc_write_reproducer(3, idx, KVC_MODE_PAGED,
                                      &kvc_planted_no_rescale, path, &info,
                                      err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(info.outcome, KVC_FAIL_NUMERIC);

    kvc_golden_file f;
    cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.num_tests, 1);
    const kvc_golden_test *t = &f.tests[0];
    const kvc_problem *p = &t->c.prob;
    cr_assert_eq(p->num_seqs, 1, "shrunk to %s", info.after);
    cr_assert_eq(p->cfg.num_q_heads, 1, "shrunk to %s", info.after);
    cr_assert_leq(kvc_kv_len(p, 0), 8, "shrunk to %s", info.after);
    cr_assert(strstr(t->comment, "--case") != NULL);

    kvc_result r;
    cr_assert_eq(kvc_golden_run_test(t, &kvc_planted_no_rescale, &r),
                 KVC_FAIL_NUMERIC, "the reproducer no longer fails");
    cr_assert_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &r), KVC_PASS,
                 "%s", r.message);
    kvc_golden_free(&f);
    unlink(path);
    rmdir(dir);
}

Test(reproducer, passing_case_writes_nothing)
{
    char dir[64], path[128], err[512];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/repro.json", dir);
    kvc_repro info;
    cr_assert_eq(kvc_write_reproducer(3, 0, -1, &kvc_builtin_kernel, path,
                                      &info, err, sizeof err),
                 1);
    cr_assert_eq(access(path, F_OK), -1);
    rmdir(dir);
}

/* `kvcheck golden add` appends with fresh ids and recomputed expected
 * values; adding twice gives two tests. */
Test(reproducer, golden_add_appends_regressions, .timeout = 120)
{
    uint64_t idx = first_planted_failure();
    char dir[64], repro[128], reg[128], err[512];
    temp_dir(dir, sizeof dir);
    snprintf(repro, sizeof repro, "%s/repro.json", dir);
    snprintf(reg, sizeof reg, "%s/regressions.json", dir);
    kvc_repro info;
    cr_assert_eq(kvc_write_reproducer(3, idx, KVC_MODE_PAGED,
                                      &kvc_planted_no_rescale, repro, &info,
                                      err, sizeof err),
                 0, "%s", err);
    char *argv[] = {"golden", "add", repro, "--to", reg, NULL};
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc1 = kvc_cmd_golden(5, argv);
    int rc2 = kvc_cmd_golden(5, argv);
    fclose(stdout);
    stdout = saved;
    cr_assert_eq(rc1, 0);
    cr_assert_eq(rc2, 0);
    kvc_golden_file f;
    cr_assert_eq(kvc_golden_read(reg, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.num_tests, 2);
    cr_assert_eq(f.tests[0].tc_id, 1);
    cr_assert_eq(f.tests[1].tc_id, 2);
    kvc_verify_counts counts = {0};
    FILE *devnull = fopen("/dev/null", "w");
    kvc_golden_verify_file(&f, reg, &(kvc_verify_kernel){&kvc_builtin_kernel, NULL, 1, 0, NULL, 0}, NULL, 0, devnull,
                           &counts);
    fclose(devnull);
    cr_assert_eq(counts.passed, 2);
    kvc_golden_free(&f);
    unlink(repro);
    unlink(reg);
    rmdir(dir);
}

/* A kernel with two bugs: NaN in out[0] when the batch has 4 or more
 * tokens, a 1e-3 relative error otherwise. */
static kva_status two_bugs_paged(const kva_attn_params *p,
                                 const kva_paged_cache *c,
                                 const kva_paged_batch *b, const float *q,
                                 int64_t n, float *out, float *lse,
                                 kva_error *e)
{
    kva_status s = kva_paged_attention(p, c, b, q, n, out, lse, e);
    if (s != KVA_OK || b->num_seqs == 0)
        return s;
    int64_t rows = b->query_start_loc[b->num_seqs];
    if (rows >= 4) {
        out[0] = NAN;
        return s;
    }
    for (int64_t i = 0; i < rows * p->num_q_heads * p->head_dim; i++)
        out[i] *= 1.001f;
    return s;
}

/* Shrinking keeps the mechanism: a NaN failure shrinks to a NaN failure,
 * not to the smaller case where the other bug gives a finite error. */
Test(reproducer, shrinking_keeps_a_nonfinite_failure_nonfinite, .timeout = 120)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.name = "two-bugs";
    k.paged_attention = two_bugs_paged;
    uint64_t idx = 0;
    for (;; idx++) { /* a paged case that fails with NaN */
        cr_assert_lt(idx, 500);
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(5, idx, KVC_MODE_PAGED, &c, err,
                                       sizeof err), 0, "%s", err);
        kvc_result r;
        kvc_outcome o = kvc_run_case(&c, &k, &r);
        int nan = o == KVC_FAIL_NUMERIC && r.verdict.seq >= 0 &&
                  isnan(r.verdict.got) && c.prob.num_tokens >= 6;
        kvc_case_free(&c);
        if (nan)
            break;
    }
    char dir[64], path[128], err[512];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/repro.json", dir);
    kvc_repro info;
    cr_assert_eq(kvc_write_reproducer(5, idx, KVC_MODE_PAGED, &k, path, &info,
                                      err, sizeof err), 0, "%s", err);
    kvc_golden_file f;
    cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
    kvc_result r;
    kvc_run_case(&f.tests[0].c, &k, &r);
    cr_expect_eq(r.outcome, KVC_FAIL_NUMERIC, "%s", r.message);
    cr_expect(isnan(r.verdict.got), "shrunk to a finite failure: %s (%s)",
              r.message, info.after);
    cr_expect_geq(f.tests[0].c.prob.q_start[f.tests[0].c.prob.num_seqs], 4,
                  "%s", info.after);
    kvc_golden_free(&f);
    unlink(path);
    rmdir(dir);
}
