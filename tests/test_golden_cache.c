/*
 * test_golden_cache.c — suite `golden_cache`: the cache operation vectors
 * (golden/golden_cache.h) are the regenerated standard set byte for byte,
 * read back whole, pass libkvattn's manager and policies (and a manager
 * that numbers its blocks otherwise), fail planted bugs at the step the
 * file itself says they show (planted_cache.h), refuse malformed files
 * naming the field, and run from the command line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../generators/bm_ops.h"
#include "../generators/policy_ops.h"
#include "../golden/golden_cache.h"
#include "../tools/golden_cache_verify.h"
#include "planted_cache.h"
#include "subprocess.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif

#define DIR_ "golden/vectors/"
#define MANAGER DIR_ KVC_CACHE_MANAGER_FILE
#define POLICY DIR_ KVC_CACHE_POLICY_FILE

static void read_ok(const char *path, kvc_cache_file *f)
{
    char err[512];
    cr_assert_eq(kvc_cache_golden_read(path, f, err, sizeof err), 0, "%s", err);
}

/* A fresh directory under /tmp. */
static void temp_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/kvc_golden_cache_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(const char *dir, const char *const *names, int n)
{
    char p[512];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        remove(p);
    }
    rmdir(dir);
}

/* Both committed files are the standard sets, byte for byte; and a file
 * read back and written again is the same bytes (the reader keeps every
 * field). */
Test(golden_cache, committed_files_are_the_standard_set)
{
    char dir[64], path[512], err[512];
    temp_dir(dir, sizeof dir);
    const char *committed[2] = {MANAGER, POLICY};
    const char *names[4] = {"std_manager.json", "std_policy.json",
                            "again_manager.json", "again_policy.json"};
    for (int k = 0; k < 2; k++) {
        kvc_cache_file f, g;
        cr_assert_eq(kvc_cache_golden_standard((kvc_cache_kind)k, &f, err,
                                               sizeof err), 0, "%s", err);
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        cr_assert_eq(kvc_cache_golden_write(&f, path, err, sizeof err), 0, "%s", err);
        char *want = kvc_read_file(committed[k]), *got = kvc_read_file(path);
        cr_assert(want && got);
        cr_expect(strcmp(want, got) == 0, "%s differs from the regenerated "
                  "standard set (run: build/kvcheck golden regen)", committed[k]);
        read_ok(committed[k], &g);
        cr_expect_eq((int)g.kind, k);
        cr_expect_eq(g.num_tests, f.num_tests);
        snprintf(path, sizeof path, "%s/%s", dir, names[k + 2]);
        cr_assert_eq(kvc_cache_golden_write(&g, path, err, sizeof err), 0, "%s", err);
        char *again = kvc_read_file(path);
        cr_expect(again && strcmp(again, want) == 0, "read + write is not the same bytes");
        free(want);
        free(got);
        free(again);
        kvc_cache_golden_free(&f);
        kvc_cache_golden_free(&g);
    }
    remove_dir(dir, names, 4);
}

/* The set covers what the issue asks: copies, shared blocks, every
 * refusal status, drawn scenarios; the policies' evictions within an
 * append, refused observes, H2O per head; within the size budget. */
Test(golden_cache, the_set_hits_its_boundaries)
{
    kvc_cache_file m, p;
    read_ok(MANAGER, &m);
    read_ok(POLICY, &p);
    int copies = 0, shared = 0, drawn = 0, st[KVA_ERR_FULL + 1] = {0};
    for (int i = 0; i < m.num_tests; i++) {
        drawn += strstr(m.tests[i].flags, "drawn") != NULL;
        for (int k = 0; k < m.tests[i].num_steps; k++) {
            const kvc_cache_step *s = &m.tests[i].steps[k];
            st[s->status]++;
            copies += s->num_copies;
            for (int t = 0; s->slots && t < s->n; t++)
                shared += s->slots[t] == -1;
        }
    }
    cr_expect_gt(copies, 5);
    cr_expect_gt(shared, 20);
    cr_expect_geq(drawn, 2);
    cr_expect(st[KVA_ERR_PARAM] && st[KVA_ERR_LENGTH] && st[KVA_ERR_FULL]);
    int evicted_in_append = 0, refused_observe = 0, h2o_multi = 0;
    for (int i = 0; i < p.num_tests; i++) {
        const kvc_cache_test *t = &p.tests[i];
        h2o_multi += t->pol.kind == KVA_POLICY_H2O && t->pol.num_kv_heads > 1;
        for (int k = 0; k < t->num_steps; k++) {
            const kvc_cache_step *s = &t->steps[k];
            refused_observe += s->op == KVC_POLICY_OBSERVE && s->status == KVA_ERR_PARAM;
            for (int e = 0; s->slots && e < s->n * t->pol.num_kv_heads; e++)
                evicted_in_append += s->slots[e] == -1;
        }
    }
    cr_expect_gt(evicted_in_append, 10);
    cr_expect_geq(refused_observe, 4);
    cr_expect_geq(h2o_multi, 2);
    char *a = kvc_read_file(MANAGER), *b = kvc_read_file(POLICY);
    cr_assert(a && b);
    cr_expect_lt(strlen(a) + strlen(b), 600 * 1024, "FORMAT.md's size budget");
    free(a);
    free(b);
    kvc_cache_golden_free(&m);
    kvc_cache_golden_free(&p);
}

/* ---- the files agree with themselves (independently of the models) ---------------------- */

/* Manager step k of t against the state before it: a refused step changes
 * nothing; an accepted append's slots sit at block rows[seq][pos / B],
 * offset pos % B, or are -1; counts are the rows' occurrences; numFree the
 * blocks of count 0. */
static void manager_step_consistent(const kvc_cache_test *t, int k)
{
    const kva_bm_config *c = &t->bm;
    const kvc_cache_step *s = &t->steps[k], *p = k ? &t->steps[k - 1] : NULL;
    int R = c->max_blocks_per_seq, B = c->block_size, zeros = 0;
    size_t rows_bytes = sizeof(int) * (size_t)c->max_seqs * (size_t)R;
    if (s->status != KVA_OK && p)
        cr_expect(memcmp(s->rows, p->rows, rows_bytes) == 0 &&
                  memcmp(s->refs, p->refs, sizeof(int) * (size_t)c->num_blocks) == 0 &&
                  memcmp(s->lengths, p->lengths, sizeof(int64_t) * (size_t)c->max_seqs) == 0,
                  "tcId %d step %d: refused but the state changed", t->tc_id, k);
    if (s->op == KVC_BM_APPEND && s->status == KVA_OK) {
        int64_t old = p && p->lengths[s->seq] > 0 ? p->lengths[s->seq] : 0;
        cr_expect_eq(s->lengths[s->seq], old + s->n, "tcId %d step %d", t->tc_id, k);
        for (int i = 0; i < s->n; i++) {
            int64_t pos = old + i, b = s->rows[s->seq * R + pos / B];
            cr_expect(s->slots[i] == -1 || s->slots[i] == b * B + pos % B,
                      "tcId %d step %d: slot %d", t->tc_id, k, i);
        }
    }
    for (int b = 0; b < c->num_blocks; b++) {
        int n = 0;
        for (int e = 0; e < c->max_seqs * R; e++)
            n += s->rows[e] == b;
        cr_expect_eq(s->refs[b], n, "tcId %d step %d: block %d", t->tc_id, k, b);
        zeros += n == 0;
    }
    cr_expect_eq(s->num_free, zeros, "tcId %d step %d", t->tc_id, k);
}

/* Policy step k: a refused step changes nothing; an accepted append's
 * token i sits at its slot in each head (or is -1); no head holds a
 * position twice. */
static void policy_step_consistent(const kvc_cache_test *t, int k, int64_t *next)
{
    int Hk = t->pol.num_kv_heads, L = t->pol.num_slots;
    const kvc_cache_step *s = &t->steps[k], *p = k ? &t->steps[k - 1] : NULL;
    size_t ns = (size_t)Hk * (size_t)L;
    if (s->status != KVA_OK || s->op == KVC_POLICY_OBSERVE)
        cr_expect(!p || memcmp(s->positions, p->positions, sizeof(int64_t) * ns) == 0,
                  "tcId %d step %d: positions changed", t->tc_id, k);
    if (s->status != KVA_OK && p)
        cr_expect(memcmp(s->scores, p->scores, sizeof(float) * ns) == 0,
                  "tcId %d step %d: refused but the scores changed", t->tc_id, k);
    if (s->op == KVC_POLICY_APPEND && s->status == KVA_OK) {
        for (int64_t e = 0; e < (int64_t)s->n * Hk; e++)
            cr_expect(s->slots[e] < 0 ||
                      s->positions[(e % Hk) * L + s->slots[e]] == *next + e / Hk,
                      "tcId %d step %d: token %lld", t->tc_id, k, (long long)(e / Hk));
        *next += s->n;
    }
    for (size_t a = 0; a < ns; a++)
        for (size_t b = a + 1; b < ns && b / (size_t)L == a / (size_t)L; b++)
            cr_expect(s->positions[a] < 0 || s->positions[a] != s->positions[b],
                      "tcId %d step %d: a position twice", t->tc_id, k);
}

Test(golden_cache, the_files_agree_with_themselves)
{
    kvc_cache_file m, p;
    read_ok(MANAGER, &m);
    read_ok(POLICY, &p);
    for (int i = 0; i < m.num_tests; i++)
        for (int k = 0; k < m.tests[i].num_steps; k++)
            manager_step_consistent(&m.tests[i], k);
    for (int i = 0; i < p.num_tests; i++) {
        int64_t next = 0;
        for (int k = 0; k < p.tests[i].num_steps; k++)
            policy_step_consistent(&p.tests[i], k, &next);
    }
    kvc_cache_golden_free(&m);
    kvc_cache_golden_free(&p);
}

/* ---- verification ------------------------------------------------------------------ */

static void verify_impl(const char *path, const kvc_bm_impl *bm,
                        const kvc_policy_impl *pol, kvc_verify_counts *c)
{
    kvc_cache_file f;
    read_ok(path, &f);
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    memset(c, 0, sizeof *c);
    kvc_cache_verify_impl(&f, path, bm, pol, 2, 0, devnull, c);
    fclose(devnull);
    kvc_cache_golden_free(&f);
}

Test(golden_cache, in_tree_manager_and_policies_pass)
{
    kvc_verify_counts c;
    verify_impl(MANAGER, &kvc_builtin_bm, NULL, &c);
    cr_expect_eq(c.failed, 0);
    cr_expect_gt(c.passed, 10);
    cr_expect_eq(c.outside_claim, 0);
    verify_impl(POLICY, NULL, &kvc_builtin_policy, &c);
    cr_expect_eq(c.failed, 0);
    cr_expect_gt(c.passed, 10);
    verify_impl(POLICY, &kvc_builtin_bm, NULL, &c); /* no policies: not covered */
    cr_expect_eq(c.passed + c.failed, 0);
    cr_expect_gt(c.outside_claim, 10);
    /* through the kernel of a verification, as `golden verify` runs it */
    kvc_cache_file f;
    read_ok(MANAGER, &f);
    kvc_verify_kernel vk = {&kvc_builtin_kernel, NULL, 1, 0, NULL, 0};
    FILE *devnull = fopen("/dev/null", "w");
    memset(&c, 0, sizeof c);
    kvc_cache_verify_file(&f, MANAGER, &vk, 0, devnull, &c);
    fclose(devnull);
    cr_expect_eq(c.failed, 0);
    cr_expect_eq(c.passed, f.num_tests);
    kvc_cache_golden_free(&f);
}

/* Block numbers are the manager's own choice: another numbering passes. */
Test(golden_cache, a_renamed_manager_passes)
{
    kvc_verify_counts c;
    verify_impl(MANAGER, &kvc_planted_bm_renamed, NULL, &c);
    cr_expect_eq(c.failed, 0);
    cr_expect_gt(c.passed, 10);
}

/* ---- planted bugs fail at the step the file says ------------------------------------- */

/* The step at which a bug must first show in test t (-1: it never does). */
typedef int (*first_step)(const kvc_cache_test *t);

/* Whether msg says one of the '|'-separated needles. */
static int says(const char *msg, const char *needles)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", needles);
    for (char *save, *n = strtok_r(buf, "|", &save); n; n = strtok_r(NULL, "|", &save))
        if (strstr(msg, n))
            return 1;
    return 0;
}

/* Run every test of path on bm / pol here: each must fail exactly at the
 * step `want` names, saying one of `needle`'s alternatives, or pass where
 * it names none; at least one must fail. */
static void fails_where_the_file_says(const char *path, const kvc_bm_impl *bm,
                                      const kvc_policy_impl *pol, first_step want,
                                      const char *needle)
{
    kvc_cache_file f;
    read_ok(path, &f);
    int failed = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_cache_test *t = &f.tests[i];
        kvc_cache_verdict v;
        kvc_cache_verify_test(f.kind, t, bm, pol, &v);
        int w = want(t);
        cr_assert(v.covered);
        if (w < 0) {
            cr_expect(v.passed, "%s tcId %d: %s", path, t->tc_id, v.message);
            continue;
        }
        failed++;
        cr_expect(!v.passed, "%s tcId %d passed, want a failure at step %d",
                  path, t->tc_id, w);
        cr_expect_eq(v.failed_step, w, "%s tcId %d: %s (want step %d)", path,
                     t->tc_id, v.message, w);
        cr_expect(says(v.message, needle), "%s tcId %d: '%s' lacks '%s'",
                  path, t->tc_id, v.message, needle);
    }
    cr_expect_gt(failed, 0, "no test of %s shows the bug", path);
    kvc_cache_golden_free(&f);
}

static int first_copy(const kvc_cache_test *t)
{
    for (int k = 0; k < t->num_steps; k++)
        if (t->steps[k].num_copies)
            return k;
    return -1;
}

/* Sequences 0 and 1 both hold a first block, and not the same one. */
static int first_two_first_blocks(const kvc_cache_test *t)
{
    int R = t->bm.max_blocks_per_seq;
    for (int k = 0; t->bm.max_seqs >= 2 && k < t->num_steps; k++) {
        const kvc_cache_step *s = &t->steps[k];
        if (s->lengths[0] > 0 && s->lengths[1] > 0 && s->rows[0] != s->rows[R])
            return k;
    }
    return -1;
}

/* A block of a freed row whose count is 0 (then or later). */
static int first_freed_block_at_zero(const kvc_cache_test *t)
{
    int R = t->bm.max_blocks_per_seq, *was = calloc((size_t)t->bm.num_blocks, sizeof(int));
    int at = -1;
    for (int k = 0; was && at < 0 && k < t->num_steps; k++) {
        const kvc_cache_step *s = &t->steps[k];
        if (k > 0 && s->op == KVC_BM_FREE && s->status == KVA_OK)
            for (int e = 0; e < R; e++) {
                int b = t->steps[k - 1].rows[s->seq * R + e];
                if (b >= 0)
                    was[b] = 1;
            }
        for (int b = 0; at < 0 && b < t->bm.num_blocks; b++)
            if (was[b] && s->refs[b] == 0)
                at = k;
    }
    free(was);
    return at;
}

static int first_shared_block(const kvc_cache_test *t)
{
    for (int k = 0; k < t->num_steps; k++)
        for (int b = 0; b < t->bm.num_blocks; b++)
            if (t->steps[k].refs[b] >= 2)
                return k;
    return -1;
}

static int first_rollback_length(const kvc_cache_test *t)
{
    for (int k = 0; k < t->num_steps; k++)
        if (t->steps[k].op == KVC_BM_ROLLBACK && t->steps[k].status == KVA_ERR_LENGTH)
            return k;
    return -1;
}

Test(golden_cache, planted_manager_bugs_fail_at_their_step)
{
    fails_where_the_file_says(MANAGER, &kvc_planted_bm_no_copy, NULL, first_copy,
                              "copies");
    fails_where_the_file_says(MANAGER, &kvc_planted_bm_reused, NULL,
                              first_two_first_blocks,
                              /* seq 1 took it while seq 0 held it; or seq 0
                               * started later and seq 1's is shown as its */
                              "taken while live|seq 1 row[0]: block");
    fails_where_the_file_says(MANAGER, &kvc_planted_bm_freed_referenced, NULL,
                              first_freed_block_at_zero, ": 1, the file says 0");
    fails_where_the_file_says(MANAGER, &kvc_planted_bm_ref_off, NULL,
                              first_shared_block, "ref count");
    fails_where_the_file_says(MANAGER, &kvc_planted_bm_wrong_status, NULL,
                              first_rollback_length,
                              "status KVA_ERR_PARAM, the file says KVA_ERR_LENGTH");
}

/* RECENT with sinks: the first token past the slots overwrites a sink. */
static int first_past_the_slots(const kvc_cache_test *t)
{
    if (t->pol.kind != KVA_POLICY_RECENT || t->pol.sinks == 0)
        return -1;
    int64_t next = 0;
    for (int k = 0; k < t->num_steps; k++) {
        const kvc_cache_step *s = &t->steps[k];
        if (s->op != KVC_POLICY_APPEND || s->status != KVA_OK)
            continue;
        if (next + s->n > t->pol.num_slots)
            return k;
        next += s->n;
    }
    return -1;
}

/* H2O: an accepted observe whose weights differ from the next head's on
 * a slot that holds a token. */
static int first_head_difference(const kvc_cache_test *t)
{
    int Hk = t->pol.num_kv_heads, L = t->pol.num_slots;
    for (int k = 1; t->pol.kind == KVA_POLICY_H2O && k < t->num_steps; k++) {
        const kvc_cache_step *s = &t->steps[k];
        if (s->op != KVC_POLICY_OBSERVE || s->status != KVA_OK)
            continue;
        for (int h = 0; h < Hk; h++)
            for (int j = 0; j < L; j++)
                if (t->steps[k - 1].positions[h * L + j] >= 0 &&
                    s->weights[h * L + j] != s->weights[((h + 1) % Hk) * L + j])
                    return k;
    }
    return -1;
}

Test(golden_cache, planted_policy_bugs_fail_at_their_step)
{
    fails_where_the_file_says(POLICY, NULL, &kvc_planted_policy_sink_overwritten,
                              first_past_the_slots, "went to slot");
    fails_where_the_file_says(POLICY, NULL, &kvc_planted_policy_wrong_head,
                              first_head_difference, "score");
}

/* The FAIL line names the file, tcId, kind, step and op. */
Test(golden_cache, a_failure_line_names_test_step_and_op)
{
    kvc_cache_file f;
    read_ok(MANAGER, &f);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    kvc_verify_counts c = {0};
    kvc_cache_verify_impl(&f, MANAGER, &kvc_planted_bm_no_copy, NULL, 0, 0, out, &c);
    fclose(out);
    int id = -1, step = -1;
    for (int i = 0; id < 0 && i < f.num_tests; i++)
        if ((step = first_copy(&f.tests[i])) >= 0)
            id = f.tests[i].tc_id;
    char want[256];
    snprintf(want, sizeof want, "FAIL %s tcId %d [manager] step %d (op append", MANAGER,
             id, step);
    cr_expect(strstr(buf, want) != NULL, "'%s' not in:\n%s", want, buf);
    cr_expect(strstr(buf, "  comment: ") != NULL);
    cr_expect_gt(c.failed, 0);
    free(buf);
    kvc_cache_golden_free(&f);
}

/* ---- malformed files ------------------------------------------------------------------ */

/* The committed file at src with the first `from` replaced by `to`, read:
 * refused, with every needle in the message, nothing left in f. */
static void refused(const char *src, const char *from, const char *to,
                    const char *const *needles)
{
    char *text = kvc_read_file(src);
    cr_assert_not_null(text);
    char *at = strstr(text, from);
    cr_assert_not_null(at, "'%s' not in %s", from, src);
    char path[] = "/tmp/kvc_golden_cache_bad_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *fp = fdopen(fd, "w");
    fwrite(text, 1, (size_t)(at - text), fp);
    fputs(to, fp);
    fputs(at + strlen(from), fp);
    fclose(fp);
    free(text);
    kvc_cache_file f;
    char err[512] = "";
    cr_expect_eq(kvc_cache_golden_read(path, &f, err, sizeof err), -1,
                 "'%s' -> '%s' was read", from, to);
    cr_expect_eq(f.num_tests, 0);
    cr_expect_null(f.tests);
    cr_expect(strstr(err, path) != NULL, "%s", err);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(err, needles[i]) != NULL, "'%s' lacks '%s'", err, needles[i]);
    remove(path);
}

Test(golden_cache, malformed_files_are_refused_naming_the_field)
{
    refused(MANAGER, "\"numFree\":\t7", "\"numFreeX\":\t7",
            (const char *[]){"tcId 1", "step 0", "numFree", NULL});
    refused(MANAGER, "\"schemaVersion\":\t1", "\"schemaVersion\":\t2",
            (const char *[]){"schemaVersion", NULL});
    refused(MANAGER, "\"op\":\t\"append\"", "\"op\":\t\"appendx\"",
            (const char *[]){"tcId 1", "step 0", "op", NULL});
    refused(MANAGER, "\"slots\":\t[0, 1, 2, 3]", "\"slots\":\t[0, 1, 2]",
            (const char *[]){"tcId 1", "step 0", "slots", NULL});
    refused(MANAGER, "\"status\":\t\"KVA_OK\"", "\"status\":\t\"KVA_FINE\"",
            (const char *[]){"status", NULL});
    refused(MANAGER, "\"numberOfTests\":\t", "\"numberOfTests\":\t1",
            (const char *[]){"numberOfTests", NULL});
    refused(MANAGER, "\"maxSeqs\":\t2", "\"maxSeqs\":\t3",
            (const char *[]){"tcId 1", "step 0", "lengths", NULL});
    refused(POLICY, "\"scores\":", "\"scorez\":",
            (const char *[]){"tcId 1", "step 0", "scores", NULL});
    refused(POLICY, "\"kind\":\t\"dense\"", "\"kind\":\t\"lru\"",
            (const char *[]){"tcId 1", "config.kind", NULL});
    refused(POLICY, "\"slots\":\t[[0, 0], [1, 1], [2, 2]]", "\"slots\":\t[[0, 0], [1, 1]]",
            (const char *[]){"tcId 1", "step 0", "slots", NULL});
    refused(POLICY, "\"weights\":\t[[0.03125", "\"weights\":\t[[\"much\"",
            (const char *[]){"step 1", "weights", NULL});
}

/* A file that cannot be written leaves nothing and says which. */
Test(golden_cache, an_unwritable_path_is_refused)
{
    kvc_cache_file f;
    char err[512];
    read_ok(POLICY, &f);
    cr_expect_eq(kvc_cache_golden_write(&f, "/nonexistent/dir/p.json", err,
                                        sizeof err), -1);
    cr_expect(strstr(err, "/nonexistent/dir/p.json") != NULL, "%s", err);
    cr_expect_eq(access("/nonexistent/dir/p.json.tmp", F_OK), -1);
    kvc_cache_golden_free(&f);
}

/* ---- the command line ----------------------------------------------------------------- */

static int count_tests(const char *path)
{
    kvc_cache_file f;
    read_ok(path, &f);
    int n = f.num_tests;
    kvc_cache_golden_free(&f);
    return n;
}

/* A library claiming only the manager: its tests pass and the policies'
 * are not covered (the default glob takes cache/); with copy on write
 * skipped, the manager tests fail. */
Test(golden_cache, cli_verify_of_a_manager_only_library, .timeout = 120)
{
    const char *argv[] = {KVC_BUILD_DIR "/kvcheck", "golden", "verify", "--jobs", "2",
                          "--kernel-lib", KVC_BUILD_DIR "/tests/libkvattn_manager_only.so",
                          NULL, NULL, NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 100), 0);
    cr_expect_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    char want[64];
    snprintf(want, sizeof want, " %d passed, 0 failed", count_tests(MANAGER));
    cr_expect(strstr(p.out, want) != NULL, "'%s' not in %s", want, p.out);
    kvc_proc_free(&p);
    /* the cache files alone: the policy tests are the not covered ones */
    argv[7] = MANAGER;
    argv[8] = POLICY;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 100), 0);
    cr_expect_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    snprintf(want, sizeof want, " %d not covered", count_tests(POLICY));
    cr_expect(strstr(p.out, want) != NULL, "'%s' not in %s", want, p.out);
    kvc_proc_free(&p);
    argv[6] = KVC_BUILD_DIR "/tests/libkvattn_manager_no_cow.so";
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 100), 0);
    cr_expect_eq(kvc_proc_exit_code(&p), 1, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "FAIL " MANAGER " tcId ") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "[manager] step ") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "copies, the file says 1") != NULL, "%s", p.out);
    kvc_proc_free(&p);
}
