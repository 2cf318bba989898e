/*
 * test_mutants.c — the mutant catalog and `kvcheck mutants` (tools/
 * mutants.h): the catalog is complete (>= 30 mutants, each with a bug
 * class and a mutation point in its file), the driver reports an obvious
 * mutant killed and the unmutated library as "no failure", and
 * `run --stop-after` stops at the first failure.
 */
#include <cJSON.h>
#include <dirent.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/mutants.h"
#include "subprocess.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif
#define KVCHECK KVC_BUILD_DIR "/kvcheck"
/* The one mutant `make all` builds as a fixture: the causal mask off by
 * one, which nearly every causal case shows. */
#define FIXTURE_ID "30"
#define CONTROL_SO KVC_BUILD_DIR "/libkvattn.so"

/* Whether KVA_MUT(id) appears in a kernels/ source other than `where`. */
static int point_elsewhere(int id, const char *where, char *found, size_t n)
{
    char point[32], path[512];
    snprintf(point, sizeof point, "KVA_MUT(%d)", id);
    DIR *d = opendir("kernels");
    cr_assert_not_null(d, "kernels/ unreadable");
    int hit = 0;
    for (struct dirent *e; !hit && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 3 || !strcmp(e->d_name, where) ||
            (strcmp(e->d_name + len - 2, ".c") &&
             strcmp(e->d_name + len - 2, ".h")))
            continue;
        snprintf(path, sizeof path, "kernels/%s", e->d_name);
        char *src = kvc_read_file(path);
        cr_assert_not_null(src, "%s unreadable", path);
        if (strstr(src, point)) {
            hit = 1;
            snprintf(found, n, "%s", path);
        }
        free(src);
    }
    closedir(d);
    return hit;
}

Test(mutants, catalog_has_30_mutants_each_with_a_bug_class_and_a_point)
{
    cr_assert_geq(kvc_mutant_catalog_count, 30);
    for (int i = 0; i < kvc_mutant_catalog_count; i++) {
        const kvc_mutant_info *m = &kvc_mutant_catalog[i];
        cr_assert_geq(m->id, 1);
        for (int j = 0; j < i; j++)
            cr_assert_neq(kvc_mutant_catalog[j].id, m->id, "id %d twice",
                          m->id);
        cr_assert_gt(strlen(m->name), 3, "m%02d: a name", m->id);
        /* a line that names a bug class, not a placeholder */
        cr_assert_gt(strlen(m->bug_class), 20, "m%02d: a bug class", m->id);
        /* the mutation point is where the catalog says */
        char path[256], point[32];
        snprintf(path, sizeof path, "kernels/%s", m->where);
        char *src = kvc_read_file(path);
        cr_assert_not_null(src, "m%02d: %s unreadable", m->id, path);
        snprintf(point, sizeof point, "KVA_MUT(%d)", m->id);
        cr_assert_not_null(strstr(src, point), "m%02d: no %s in %s", m->id,
                           point, path);
        free(src);
        /* ... and nowhere else: make builds a mutant from that one file
         * (the other objects are the default build's) */
        char other[512];
        cr_assert_not(point_elsewhere(m->id, m->where, other, sizeof other),
                      "m%02d: %s also in %s", m->id, point, other);
    }
    cr_assert_null(kvc_mutant_find(0));
    cr_assert_eq(kvc_mutant_find(30)->id, 30);
}

Test(mutants, list_prints_every_catalog_entry)
{
    const char *argv[] = {KVCHECK, "mutants", "--list", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 30), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0);
    int lines = 0;
    for (const char *c = p.out; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, kvc_mutant_catalog_count);
    kvc_proc_free(&p);
}

Test(mutants, bad_ids_and_missing_libraries_are_errors)
{
    const char *unknown[] = {KVCHECK, "mutants", "--ids", "9999", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, unknown, NULL, 30), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 2);
    cr_assert_not_null(strstr(p.err, "no mutant 9999"));
    kvc_proc_free(&p);
    const char *missing[] = {KVCHECK, "mutants", "--ids", "1", "--lib-dir",
                             "/nonexistent", "--no-report", NULL};
    cr_assert_eq(kvc_proc_run(&p, missing, NULL, 30), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 3);
    cr_assert_not_null(strstr(p.err, "is missing"));
    kvc_proc_free(&p);
}

/* The control (the unmutated library) survives; the fixture mutant is
 * killed by the campaign, and the JSON report says both. */
Test(mutants, control_survives_and_an_obvious_mutant_is_killed,
     .timeout = 300)
{
    char dir[] = "/tmp/kvc-mutants-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *argv[] = {KVCHECK, "mutants", "--ids", FIXTURE_ID,
                          "--lib-dir", KVC_BUILD_DIR "/mutants",
                          "--control", CONTROL_SO, "--cases", "300",
                          "--seed", "7", "--jobs", "1", "--report", dir,
                          NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 280), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "out:\n%s\nerr:\n%s", p.out,
                 p.err);
    cr_assert_not_null(strstr(p.out, "kill rate 100.0 %"));
    char path[128];
    snprintf(path, sizeof path, "%s/mutants.json", dir);
    char *text = kvc_read_file(path);
    cr_assert_not_null(text);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    const cJSON *ctl = cJSON_GetObjectItem(root, "control");
    cr_assert_str_eq(cJSON_GetObjectItem(ctl, "result")->valuestring,
                     "no failure");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(ctl, "killed")));
    cr_assert_eq(cJSON_GetObjectItem(ctl, "runExitStatus")->valueint, 0);
    cr_assert_eq(cJSON_GetObjectItem(ctl, "goldenExitStatus")->valueint, 0);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "mutants"), 0);
    cr_assert_eq(cJSON_GetObjectItem(m, "id")->valueint, 30);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "killed")));
    cr_assert_str_eq(cJSON_GetObjectItem(m, "killedBy")->valuestring, "run");
    cr_assert_gt(strlen(cJSON_GetObjectItem(m, "outcome")->valuestring), 0);
    cr_assert_eq(cJSON_GetObjectItem(root, "killRate")->valuedouble, 1.0);
    cJSON_Delete(root);
    free(text);
    /* junit.xml: two testcases, no failure element (nothing survived) */
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    text = kvc_read_file(path);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "tests=\"2\" failures=\"0\""));
    cr_assert_null(strstr(text, "<failure"));
    free(text);
    kvc_proc_free(&p);
    const char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    cr_assert_eq(kvc_proc_run(&p, rm, NULL, 30), 0);
    kvc_proc_free(&p);
}

/* A bug on libkvattn's portable path only (m34, the fallback's tail loop)
 * passes a campaign on the dispatched AVX2 path; golden verify runs the
 * portable path as well and kills it, timed by its own run. */
Test(mutants, golden_verify_checks_the_portable_path_too, .timeout = 300)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        cr_log_info("no AVX2 here: the campaign runs the portable path too");
    const char *argv[] = {KVCHECK, "mutants", "--ids", "34", "--lib-dir",
                          KVC_BUILD_DIR "/mutants", "--no-control",
                          "--cases", "20", "--seed", "7", "--jobs", "1",
                          "--no-report", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 280), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_assert_not_null(strstr(p.out, "kill rate 100.0 %"), "%s", p.out);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        cr_assert_not_null(strstr(p.out, "killed      golden"), "%s", p.out);
    kvc_proc_free(&p);
}

/* A library no check fails is reported as a survivor: exit 1, and a
 * junit failure. The unmutated library stands in for a mutant (a link
 * named libkvattn-m01.so): what it is called does not change a verdict. */
Test(mutants, a_survivor_is_a_failure_of_the_run, .timeout = 300)
{
    char dir[] = "/tmp/kvc-mutants-XXXXXX", lib[160], real[4096];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(realpath(CONTROL_SO, real));
    snprintf(lib, sizeof lib, "%s/libkvattn-m01.so", dir);
    cr_assert_eq(symlink(real, lib), 0);
    const char *argv[] = {KVCHECK, "mutants", "--ids", "1", "--lib-dir", dir,
                          "--no-control", "--cases", "40", "--seed", "7",
                          "--jobs", "1", "--report", dir, NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 280), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s", p.out);
    cr_assert_not_null(strstr(p.out, "SURVIVED"), "%s", p.out);
    cr_assert_not_null(strstr(p.out, "kill rate 0.0 %"), "%s", p.out);
    char path[128];
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    char *text = kvc_read_file(path);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "tests=\"1\" failures=\"1\""));
    cr_assert_not_null(strstr(text, "type=\"survived\""));
    free(text);
    kvc_proc_free(&p);
    const char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    cr_assert_eq(kvc_proc_run(&p, rm, NULL, 30), 0);
    kvc_proc_free(&p);
}

/* --stop-after 1 with one worker: one failure printed, and the campaign
 * ends there instead of running its 2000 cases. */
Test(mutants, run_stop_after_stops_at_the_first_failure, .timeout = 300)
{
    const char *argv[] = {KVCHECK, "run", "--cases", "2000", "--seed", "7",
                          "--kernel-lib",
                          KVC_BUILD_DIR "/mutants/libkvattn-m" FIXTURE_ID ".so",
                          "--stop-after", "1", "--jobs", "1", "--no-report",
                          "--no-progress", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 280), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 1);
    int fails = 0;
    for (const char *c = p.out; (c = strstr(c, "FAIL case ")); c++)
        fails++;
    cr_assert_eq(fails, 1, "one failure with --jobs 1:\n%s", p.out);
    const char *sum = strstr(p.out, "shard 0/1, ");
    cr_assert_not_null(sum, "%s", p.out);
    unsigned long long ran = strtoull(sum + strlen("shard 0/1, "), NULL, 10);
    cr_assert_geq(ran, 1);
    cr_assert_lt(ran, 2000, "the run went on after its failure: %s", p.out);
    kvc_proc_free(&p);
}
