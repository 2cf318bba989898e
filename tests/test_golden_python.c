/*
 * test_golden_python.c — the Python reader of golden/FORMAT.md (the
 * ```python golden-reader block, the code a user copies) on every committed
 * attention file, every .json file of golden/vectors (not merge/ nor cache/: other
 * schemas). It must exit 0 having read every test of every file: for each
 * file it prints "FILE: read N tests, checked M values, V variants", and N
 * (and V, the invalid tests with a variant) must be the
 * number of tests the C reader reads, M the number of out and lse values of
 * the file's valid and acceptable tests (it recomputes them all, every
 * cache format). A reader that stops early, skips a kind of test or throws
 * on a file fails here. python3 is a declared dependency of the test gate
 * (tools/install-deps.sh): without it the test fails, saying so.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../golden/golden.h"
#include "golden_reader.h"
#include "subprocess.h"

/* python3 on PATH, into buf; 0, or -1 when there is none. */
static int find_python3(char *buf, size_t n)
{
    const char *path = getenv("PATH");
    char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    cr_assert_not_null(dirs);
    int found = -1;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && found;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, n, "%s/python3", *d ? d : ".");
        if (access(buf, X_OK) == 0)
            found = 0;
    }
    free(dirs);
    return found;
}


/* What the C reader reads of a file: its tests, and the out and lse values
 * of its valid and acceptable tests (those the Python reader recomputes). */
static void c_counts(const char *path, long *tests, long *values,
                     long *variants)
{
    kvc_golden_file f;
    char err[512];
    cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
    *tests = f.num_tests;
    *values = *variants = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        const kvc_problem *p = &t->c.prob;
        *variants += t->has_variant;
        if (t->result != KVC_EXPECT_INVALID)
            *values += (long)(p->q_start[p->num_seqs] * p->cfg.num_q_heads *
                              (p->cfg.head_dim + 1));
    }
    kvc_golden_free(&f);
}

Test(golden_python, format_md_reader_reads_every_committed_file, .timeout = 300)
{
    char python[4096];
    if (find_python3(python, sizeof python) != 0)
        cr_assert_fail("python3 is not on PATH: it is a declared dependency of "
                       "the test gate (tools/install-deps.sh installs it); this "
                       "test runs the Python reader of golden/FORMAT.md with it");
    glob_t g;
    cr_assert_eq(glob("golden/vectors/*.json", 0, NULL, &g), 0,
                 "no golden/vectors/*.json (run from the repository root)");
    char dir[] = "/tmp/kvc-golden-py-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char script[256];
    kvc_extract_golden_reader(dir, script, sizeof script);

    const char **argv = calloc(g.gl_pathc + 3, sizeof *argv);
    cr_assert_not_null(argv);
    argv[0] = python;
    argv[1] = script;
    for (size_t i = 0; i < g.gl_pathc; i++)
        argv[2 + i] = g.gl_pathv[i];
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 240), 0);
    cr_assert(!p.timed_out, "the Python reader ran past 240 s");
    cr_assert_eq(kvc_proc_exit_code(&p), 0,
                 "the Python reader of golden/FORMAT.md failed (exit %d):\n%s\n%s",
                 kvc_proc_exit_code(&p), p.err, p.out);

    for (size_t i = 0; i < g.gl_pathc; i++) {
        long want_tests, want_values, want_variants;
        c_counts(g.gl_pathv[i], &want_tests, &want_values, &want_variants);
        char head[600];
        snprintf(head, sizeof head, "\n%s: read ", g.gl_pathv[i]);
        const char *at = strstr(p.out, head);
        if (!at && strncmp(p.out, head + 1, strlen(head) - 1) == 0)
            at = p.out - 1; /* the first line */
        cr_assert_not_null(at, "no '%s: read N tests' line: the Python reader "
                           "did not finish this file:\n%s", g.gl_pathv[i], p.out);
        long tests = -1, values = -1, variants = -1;
        cr_assert_eq(sscanf(at + strlen(head),
                            "%ld tests, checked %ld values, %ld variants",
                            &tests, &values, &variants), 3, "%s", at + 1);
        cr_assert_eq(variants, want_variants,
                     "%s: the Python reader read %ld variants, the C reader %ld",
                     g.gl_pathv[i], variants, want_variants);
        cr_assert_eq(tests, want_tests,
                     "%s: the Python reader read %ld tests, the C reader %ld",
                     g.gl_pathv[i], tests, want_tests);
        cr_assert_eq(values, want_values,
                     "%s: the Python reader checked %ld out and lse values, the "
                     "valid and acceptable tests hold %ld", g.gl_pathv[i], values,
                     want_values);
    }
    kvc_proc_free(&p);
    free(argv);
    unlink(script);
    rmdir(dir);
    globfree(&g);
}
