/*
 * test_sparse_repro.c — a large-offset failure (block ids above a huge
 * unused stretch of a sparse pool) becomes a small reproducer that keeps
 * its offsets, replays, and stays as a regression vector.
 *
 * The kernel with the bug is the planted one that computes block offsets
 * in 32 bits: it passes every small pool, so a reproducer that lost the
 * large offsets would not fail any more.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../tools/commands.h"
#include "../tools/golden_verify.h"
#include "../tools/pool.h"
#include "../tools/reproducer.h"
#include "planted_kernels.h"
#include "sparse_fixture.h"

#define SEED 1

/* The first large-offset case of campaign SEED (any mode) that the 32-bit
 * offset kernel fails. Specs are drawn first: only large-offset ones are
 * built and run. */
static uint64_t first_offset_failure(void)
{
    for (uint64_t i = 0; i < 2000; i++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw(SEED, i, -1, &sp), 0);
        if (!sp.large_offsets)
            continue;
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(SEED, i, -1, &c, err, sizeof err), 0,
                     "%s", err);
        kvc_result r;
        kvc_outcome o = kvc_run_case(&c, &kvc_planted_offset32, &r);
        kvc_case_free(&c);
        if (o != KVC_PASS)
            return i;
    }
    cr_assert_fail("no large-offset failure in 2000 cases");
    return 0;
}

/* Shrink the first failure into dir/name; returns the path (malloc'd). */
static char *write_offset_repro(const char *dir, const char *name,
                                kvc_repro *info)
{
    char err[512];
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    cr_assert_not_null(path);
    sprintf(path, "%s/%s", dir, name);
    uint64_t idx = first_offset_failure();
    cr_assert_eq(kvc_write_reproducer(SEED, idx, -1, &kvc_planted_offset32,
                                      path, info, err, sizeof err),
                 0, "%s", err);
    cr_assert_neq(info->outcome, KVC_PASS);
    return path;
}

/* Every block the test's sequences use starts past 2^32 bytes of the
 * pool, and the pool is mapped the way a campaign maps it. */
static void assert_keeps_large_offsets(const kvc_golden_test *t)
{
    const kvc_case *c = &t->c;
    const kvc_layout *L = &c->layout;
    const int64_t ub = kvc_unit_bytes(c->prob.quant.dtype);
    cr_assert(t->flags & (1ull << KVC_FLAG_LARGE_OFFSETS),
              "the flag large_offsets was lost");
    cr_assert(c->spec.large_offsets, "the reader did not see a sparse pool");
    cr_assert_gt(L->pool_elems * ub, KVC_POOL_SPARSE_BYTES,
                 "the runner would not map it sparsely");
    int used = 0;
    for (int s = 0; s < c->prob.num_seqs; s++) {
        int64_t blocks = (kvc_kv_len(&c->prob, s) + L->block_size - 1) /
                         L->block_size;
        for (int64_t b = 0; b < blocks; b++) {
            int64_t id = L->block_table[s * L->max_blocks_per_seq + b];
            cr_assert_gt(id * L->stride_block * ub, INT64_C(1) << 32,
                         "block %lld starts below 2^32 bytes", (long long)id);
            used++;
        }
    }
    cr_assert_gt(used, 0, "no block is used: nothing can overflow");
}

Test(sparse_repro, shrinks_writes_and_replays, .timeout = 120)
{
    char *dir = sparse_tmp_dir();
    kvc_repro info;
    char *path = write_offset_repro(dir, "repro.json", &info);
    cr_assert_lt(info.attempts, 500, "%d attempts", info.attempts);
    cr_assert(strstr(info.after, "large_offsets") != NULL, "%s", info.after);

    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_lt(st.st_size, 1 << 20, "the reproducer is %lld bytes",
                 (long long)st.st_size);

    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.num_tests, 1);
    const kvc_golden_test *t = &f.tests[0];
    assert_keeps_large_offsets(t);
    cr_assert_eq(t->c.prob.num_seqs, 1, "shrunk to %s", info.after);
    cr_assert_eq(t->c.prob.cfg.num_q_heads, 1, "shrunk to %s", info.after);

    kvc_result r;
    cr_assert_neq(kvc_golden_run_test(t, &kvc_planted_offset32, &r), KVC_PASS,
                  "the reproducer no longer fails");
    cr_assert_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &r), KVC_PASS,
                 "%s", r.message);
    kvc_golden_free(&f);
    free(path);
    sparse_rm_dir(dir);
}

/* The file says what it is: version 3, the pool marked sparse. */
Test(sparse_repro, file_marks_the_sparse_pool, .timeout = 120)
{
    char *dir = sparse_tmp_dir();
    kvc_repro info;
    char *path = write_offset_repro(dir, "repro.json", &info);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    cr_assert(strstr(text, "\"schemaVersion\": 3,\n") != NULL);
    cr_assert(strstr(text, "\"sparse\": true,\n") != NULL);
    cr_assert(strstr(text, "\"large_offsets\"") != NULL);
    free(path);
    sparse_rm_dir(dir);
}

/* `kvcheck golden add` keeps it; regeneration (expected values recomputed)
 * gives the same bytes; golden verify runs it sparsely. */
Test(sparse_repro, golden_add_keeps_it, .timeout = 120)
{
    char *dir = sparse_tmp_dir();
    kvc_repro info;
    char *repro = write_offset_repro(dir, "repro.json", &info);
    char reg[600], err[512];
    snprintf(reg, sizeof reg, "%s/regressions.json", dir);
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
    for (int i = 0; i < 2; i++)
        assert_keeps_large_offsets(&f.tests[i]);
    FILE *devnull = fopen("/dev/null", "w");
    kvc_verify_counts good = {0}, bad = {0};
    kvc_golden_verify_file(&f, reg,
                           &(kvc_verify_kernel){&kvc_builtin_kernel, NULL, 1, 0, NULL, 0}, NULL, 0, devnull,
                           &good);
    kvc_golden_verify_file(&f, reg,
                           &(kvc_verify_kernel){&kvc_planted_offset32, NULL, 1, 0, NULL, 0}, NULL, 0, devnull,
                           &bad);
    fclose(devnull);
    cr_assert_eq(good.passed, 2);
    cr_assert_eq(bad.failed, 2);

    /* what `golden regen` does to regressions.json, byte for byte */
    FILE *fp = fopen(reg, "r");
    cr_assert_not_null(fp);
    static char text[1 << 21];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    for (int i = 0; i < f.num_tests; i++) {
        kvc_golden_expect_clear(&f.tests[i]);
        cr_assert_eq(kvc_golden_expect(&f.tests[i], err, sizeof err), 0, "%s",
                     err);
    }
    char *again = sparse_json(&f);
    cr_assert_str_eq(again, text, "regeneration changed the bytes");
    free(again);
    kvc_golden_free(&f);
    free(repro);
    sparse_rm_dir(dir);
}

/* The named large-offset cases (paged and QEfficient) survive a round
 * trip through the format, and the copy read back still catches the bug. */
Test(sparse_repro, named_cases_round_trip)
{
    static const char *const names[2] = {"paged.large_offsets",
                                         "qeff.large_offsets"};
    for (int i = 0; i < 2; i++) {
        kvc_golden_file f, g;
        char err[512];
        sparse_named_file(names[i], &f);
        char *text = sparse_json(&f);
        cr_assert_eq(kvc_golden_parse(text, strlen(text), names[i], &g, err,
                                      sizeof err), 0, "%s", err);
        const kvc_layout *a = &f.tests[0].c.layout, *b = &g.tests[0].c.layout;
        cr_assert_eq(a->num_blocks, b->num_blocks);
        cr_assert_eq(a->pool_elems, b->pool_elems);
        cr_assert_eq(memcmp(a->block_table, b->block_table,
                            (size_t)a->max_blocks_per_seq * sizeof(int)), 0);
        char *again = sparse_json(&g);
        cr_assert_str_eq(again, text);
        assert_keeps_large_offsets(&g.tests[0]);
        kvc_result r;
        cr_assert_eq(kvc_golden_run_test(&g.tests[0], &kvc_builtin_kernel, &r),
                     KVC_PASS, "%s: %s", names[i], r.message);
        if (i == 0)
            cr_assert_neq(kvc_golden_run_test(&g.tests[0],
                                              &kvc_planted_offset32, &r),
                          KVC_PASS, "32-bit offsets went unnoticed");
        free(text);
        free(again);
        kvc_golden_free(&f);
        kvc_golden_free(&g);
    }
}
