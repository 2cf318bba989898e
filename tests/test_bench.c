/*
 * test_bench.c — suite `bench`: `kvcheck bench` as a CI smoke job runs it.
 * No timing is asserted (the machine may be busy): only that a quick run
 * exits 0 and writes JSON of the expected structure with positive finite
 * numbers, that the kernel and the oracle computed the same problem, and
 * that bad usage exits 2 and an unwritable file 3 before any timing.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "subprocess.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif
#define KVCHECK KVC_BUILD_DIR "/kvcheck"

static void run_bench(kvc_proc *p, const char *const *args, double timeout)
{
    const char *argv[40] = {KVCHECK, "bench"};
    int n = 2;
    for (; args[n - 2] && n < 39; n++)
        argv[n] = args[n - 2];
    argv[n] = NULL;
    const char *env[] = {"CI=true", NULL};
    cr_assert_eq(kvc_proc_run(p, argv, env, timeout), 0);
    cr_assert(!p->timed_out, "kvcheck bench timed out");
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "no number %s", key);
    return v->valuedouble;
}

static void positive(const cJSON *o, const char *key)
{
    double v = num(o, key);
    cr_assert(isfinite(v) && v > 0, "%s = %g is not positive and finite", key,
              v);
}

/* A decode or prefill row: every number there and sane. */
static void check_row(const cJSON *w, const char *len_key, int len)
{
    const cJSON *fmt = cJSON_GetObjectItem(w, "format");
    cr_assert(cJSON_IsString(fmt));
    cr_assert(!strcmp(fmt->valuestring, "f32") ||
                  !strcmp(fmt->valuestring, "f16"),
              "format %s outside --quick's", fmt->valuestring);
    cr_assert_eq(num(w, len_key), len);
    cr_assert_eq(num(w, "batch"), 1);
    int t = (int)num(w, "threads");
    cr_assert(t == 1 || t == 2, "threads %d", t);
    static const char *const keys[] = {
        "ms", "ms_min", "ms_max", "reps", "calls_per_rep", "kv_bytes",
        "flops", "gbs", "gflops", "bw_fraction", "peak_fraction",
        "roofline_fraction"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        positive(w, keys[i]);
    cr_assert(num(w, "ms_min") <= num(w, "ms") && num(w, "ms") <= num(w, "ms_max"));
    cr_assert(cJSON_IsBool(cJSON_GetObjectItem(w, "cold_sample")));
    /* The roofline fraction is the larger of the two bounds. */
    cr_assert(num(w, "roofline_fraction") >=
              0.999 * fmax(num(w, "bw_fraction"), num(w, "peak_fraction")));
}

/* The command the suite's brief names, with --threads 2 so that the rows
 * do not depend on the CPUs of the machine. */
Test(bench, quick_run_writes_complete_json, .timeout = 120)
{
    char path[] = "/tmp/kvcheck-bench-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    const char *args[] = {"--quick", "--reps", "1", "--bw-mib", "64",
                          "--contexts", "1024", "--prefill", "128",
                          "--threads", "2", "--json", path, NULL};
    kvc_proc p;
    run_bench(&p, args, 100);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_assert(strstr(p.out, "== ceilings"), "%s", p.out);
    cr_assert(strstr(p.out, "== decode"), "%s", p.out);
    cr_assert(strstr(p.out, "== causal prefill"), "%s", p.out);
    cr_assert(strstr(p.err, "kvcheck bench: decode f32 ctx=1024 b=1"),
              "no progress lines: %s", p.err);

    char *text = kvc_read_file(path);
    cr_assert_not_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j, "not JSON");
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "version")));
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "kernel")));
    cr_assert(cJSON_IsBool(cJSON_GetObjectItem(j, "kernel_takes_threads")));
    const cJSON *m = cJSON_GetObjectItem(j, "machine");
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(m, "cpu_model")));
    positive(m, "cpus_available");
    cr_assert(cJSON_IsBool(cJSON_GetObjectItem(m, "avx2")));
    cr_assert(cJSON_IsBool(cJSON_GetObjectItem(m, "avx512f")));
    const cJSON *o = cJSON_GetObjectItem(j, "options");
    cr_assert_eq(num(o, "threads"), 2);
    cr_assert_eq(num(o, "reps"), 1);
    cr_assert_eq(num(o, "bw_mib"), 64);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "quick")));
    const cJSON *shape = cJSON_GetObjectItem(j, "shape");
    cr_assert_eq(num(shape, "num_q_heads"), 32);
    cr_assert_eq(num(shape, "num_kv_heads"), 8);
    cr_assert_eq(num(shape, "head_dim"), 128);

    const cJSON *ce = cJSON_GetObjectItem(j, "ceilings"), *e;
    cr_assert_eq(cJSON_GetArraySize(ce), 2);
    int want = 1;
    cJSON_ArrayForEach(e, ce)
    {
        cr_assert_eq(num(e, "threads"), want);
        want = 2;
        positive(e, "read_gbs");
        positive(e, "fma_gflops");
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(e, "isa")));
    }
    /* f32 and f16, 1 and 2 threads each; every row is the smallest case,
     * so every row has its oracle, and the kernel and the oracle computed
     * the same problem (the kernel's error is far below 1e-3). */
    static const char *const sect[] = {"decode", "prefill"};
    static const char *const len_key[] = {"context", "tokens"};
    static const int len[] = {1024, 128};
    for (int s = 0; s < 2; s++) {
        const cJSON *rows = cJSON_GetObjectItem(j, sect[s]);
        cr_assert_eq(cJSON_GetArraySize(rows), 4, "%s rows", sect[s]);
        cJSON_ArrayForEach(e, rows)
        {
            check_row(e, len_key[s], len[s]);
            positive(e, "oracle_ms");
            positive(e, "speedup_vs_oracle");
            double d = num(e, "max_abs_diff_vs_oracle");
            cr_assert(d >= 0 && d < 1e-3, "%s: kernel vs oracle %g", sect[s], d);
        }
    }
    cJSON_Delete(j);
    kvc_proc_free(&p);
    unlink(path);
}

/* Each bad option: exit 2 at once, a message naming it, no JSON written. */
Test(bench, bad_usage_exits_2)
{
    static const char *const bad[][4] = {
        {"--reps", "0", NULL},
        {"--reps", "-1", NULL},
        {"--threads", "0", NULL},
        {"--threads", "4294967297", NULL},
        {"--bw-mib", "x", NULL},
        {"--min-time", "0", NULL},
        {"--max-time", "nan", NULL},
        {"--contexts", "1024,abc", NULL},
        {"--contexts", "", NULL},
        {"--batch", "none", NULL},
        {"--prefill", "0", NULL},
        {"--formats", "f32,f33", NULL},
        {"--bogus", NULL},
        {"--json", NULL},
        {"extra-argument", NULL},
        {"--kernel-lib", "/nonexistent/libnothing.so", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* --quick first: a missing value must not swallow it. */
        const char *args[8] = {"--quick"};
        int n = 1;
        for (int k = 0; bad[i][k]; k++)
            args[n++] = bad[i][k];
        args[n] = NULL;
        kvc_proc p;
        run_bench(&p, args, 30);
        cr_assert_eq(kvc_proc_exit_code(&p), 2, "%s %s: exit %d\n%s%s",
                     bad[i][0], bad[i][1] ? bad[i][1] : "",
                     kvc_proc_exit_code(&p), p.out, p.err);
        cr_assert(strstr(p.err, "kvcheck bench"), "%s", p.err);
        cr_assert(!strstr(p.out, "== ceilings"), "timed anyway: %s", p.out);
        kvc_proc_free(&p);
    }
}

Test(bench, unwritable_json_exits_3_before_timing)
{
    const char *args[] = {"--quick", "--json",
                          "/nonexistent-dir/kvcheck/bench.json", NULL};
    kvc_proc p;
    run_bench(&p, args, 30);
    cr_assert_eq(kvc_proc_exit_code(&p), 3, "%s%s", p.out, p.err);
    cr_assert(strstr(p.err, "/nonexistent-dir/kvcheck/bench.json"), "%s",
              p.err);
    cr_assert(!strstr(p.out, "== ceilings"), "%s", p.out);
    kvc_proc_free(&p);
}

Test(bench, help_says_a_bench_is_not_a_gate)
{
    const char *args[] = {"--help", NULL};
    kvc_proc p;
    run_bench(&p, args, 30);
    cr_assert_eq(kvc_proc_exit_code(&p), 0);
    cr_assert(strstr(p.out, "usage: kvcheck bench"), "%s", p.out);
    cr_assert(strstr(p.out, "not a gate"), "%s", p.out);
    cr_assert(strstr(p.out, "--json FILE"), "%s", p.out);
    kvc_proc_free(&p);
}
