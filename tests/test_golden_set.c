/*
 * test_golden_set.c — the committed golden set (golden/vectors/) covers what
 * it promises, the in-tree kernels pass it, and a planted bug fails it.
 * Regeneration byte-for-byte and the oracle's bit-exactness across
 * compilers are checked by `make golden-check` (part of `make test`).
 * Runs from the source tree's root (make test does).
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <string.h>

#include "../tools/golden_set.h"
#include "../tools/golden_verify.h"
#include "planted_kernels.h"

typedef struct set_summary {
    uint64_t flags;
    int per_mode[KVC_MODE_COUNT];
    int per_result[3];
    int block_sizes[4]; /* 1, 3, 16, > 16 */
    int mha, gqa, mqa, odd_head_dim;
    int tests;
} set_summary;

static void summarize_file(const kvc_golden_file *f, set_summary *s)
{
    for (int i = 0; i < f->num_tests; i++) {
        const kvc_golden_test *t = &f->tests[i];
        const kvc_config *cfg = &t->c.prob.cfg;
        s->tests++;
        s->flags |= t->flags;
        s->per_mode[t->c.spec.mode]++;
        s->per_result[t->result]++;
        int B = t->c.layout.block_size;
        if (t->c.spec.mode != KVC_MODE_BLOCKED) {
            s->block_sizes[0] += B == 1;
            s->block_sizes[1] += B == 3;
            s->block_sizes[2] += B == 16;
            s->block_sizes[3] += B > 16;
        }
        int group = cfg->num_q_heads / cfg->num_kv_heads;
        s->mha += group == 1;
        s->gqa += group > 1 && cfg->num_kv_heads > 1;
        s->mqa += cfg->num_kv_heads == 1 && cfg->num_q_heads > 1;
        s->odd_head_dim += cfg->head_dim % 2 == 1;
    }
}

static set_summary summarize_committed(void)
{
    set_summary s;
    memset(&s, 0, sizeof s);
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0,
                 "no golden/vectors/*.json: run the tests from the source root");
    for (size_t i = 0; i < g.gl_pathc; i++) {
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(g.gl_pathv[i], &f, err, sizeof err), 0,
                     "%s", err);
        summarize_file(&f, &s);
        kvc_golden_free(&f);
    }
    globfree(&g);
    return s;
}

Test(golden_set, covers_every_flag_mode_and_result)
{
    set_summary s = summarize_committed();
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++)
        if (b != KVC_FLAG_LARGE_OFFSETS) /* left out: see golden_set.h */
            cr_expect(s.flags & (1ull << b), "no committed vector has flag %s",
                      kvc_flag_name(b));
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        cr_expect_geq(s.per_mode[m], 5, "mode %s: %d tests",
                      kvc_mode_name(m), s.per_mode[m]);
    for (int r = 0; r < 3; r++)
        cr_expect_gt(s.per_result[r], 0, "no %s test",
                     kvc_expect_name((kvc_expect)r));
    const char *bs[4] = {"1", "3", "16", "> 16"};
    for (int i = 0; i < 4; i++)
        cr_expect_gt(s.block_sizes[i], 0, "no test with block size %s", bs[i]);
    cr_expect_gt(s.mha, 0);
    cr_expect_gt(s.gqa, 0);
    cr_expect_gt(s.mqa, 0);
    cr_expect_gt(s.odd_head_dim, 0);
}

/* The committed files are exactly what the set's definition builds now
 * (same tests, same bytes), file by file, for the standard files. */
Test(golden_set, committed_files_match_their_definition, .timeout = 120)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_golden_file f;
        char err[512], path[256];
        cr_assert_eq(kvc_golden_standard((kvc_mode)m, &f, err, sizeof err), 0,
                     "%s", err);
        char *text = kvc_golden_to_json(&f, err, sizeof err);
        cr_assert_not_null(text, "%s", err);
        snprintf(path, sizeof path, "golden/vectors/%s",
                 kvc_golden_file_name((kvc_mode)m));
        FILE *fp = fopen(path, "rb");
        cr_assert_not_null(fp, "cannot open %s", path);
        size_t n = strlen(text);
        char *disk = malloc(n + 1);
        size_t got = fread(disk, 1, n + 1, fp);
        fclose(fp);
        cr_expect(got == n && memcmp(disk, text, n) == 0,
                  "%s differs from its definition: run `build/kvcheck golden "
                  "regen`", path);
        free(disk);
        free(text);
        kvc_golden_free(&f);
    }
}

/* A kernel that forgets the online-softmax rescale must fail the vectors
 * built to need rescaling. (Valid tests only: the planted kernel trusts its
 * input and would read out of bounds on the invalid ones.) */
Test(golden_set, planted_bug_fails_the_vectors)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read("golden/vectors/paged_attention.json", &f, err,
                                 sizeof err),
                 0, "%s", err);
    int valid = 0, good_failed = 0, bad_failed = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (t->result != KVC_EXPECT_VALID)
            continue;
        valid++;
        kvc_result r;
        good_failed += kvc_golden_run_test(t, &kvc_builtin_kernel, &r) != KVC_PASS;
        bad_failed += kvc_golden_run_test(t, &kvc_planted_no_rescale, &r) != KVC_PASS;
    }
    kvc_golden_free(&f);
    cr_assert_gt(valid, 10);
    cr_assert_eq(good_failed, 0);
    cr_assert_gt(bad_failed, 0, "the planted no-rescale kernel passed");
}

/* Invalid vectors: the in-tree kernel refuses each with the status the
 * file names. */
Test(golden_set, invalid_vectors_are_refused_with_their_status)
{
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0);
    int invalid = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        kvc_golden_file f;
        char err[512];
        cr_assert_eq(kvc_golden_read(g.gl_pathv[i], &f, err, sizeof err), 0,
                     "%s", err);
        for (int j = 0; j < f.num_tests; j++) {
            const kvc_golden_test *t = &f.tests[j];
            if (t->result != KVC_EXPECT_INVALID)
                continue;
            invalid++;
            kvc_result r;
            cr_expect_eq(kvc_golden_run_test(t, &kvc_builtin_kernel, &r),
                         KVC_PASS, "%s tcId %d: %s", g.gl_pathv[i], t->tc_id,
                         r.message);
            cr_expect_str_eq(kva_status_name(r.refused), t->error,
                             "%s tcId %d", g.gl_pathv[i], t->tc_id);
        }
        kvc_golden_free(&f);
    }
    globfree(&g);
    cr_assert_geq(invalid, 8);
}
