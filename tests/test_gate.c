/*
 * test_gate.c — nothing the kernel under test does may end, hang, silence
 * or green the gate. `kvcheck run` is run as a user runs it, against
 * build/tests/libkvattn_misbehave.so (tests/misbehave_lib.c), and judged on
 * its exit status, its log and the report it leaves.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "subprocess.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif
#define KVCHECK KVC_BUILD_DIR "/kvcheck"
#define MISBEHAVE KVC_BUILD_DIR "/tests/libkvattn_misbehave.so"

static void temp_dir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/kvcheck-gate-XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

static void remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* 40 paged cases against the misbehaving library, told how by `how`. */
static void run_misbehaving(kvc_proc *p, const char *how, const char *dir,
                            const char *jobs)
{
    char env[64];
    snprintf(env, sizeof env, "KVC_MISBEHAVE=%s", how);
    const char *envv[] = {env, NULL};
    const char *argv[] = {KVCHECK, "run", "--cases", "40", "--kernel",
                          "paged", "--kernel-lib", MISBEHAVE, "--timeout",
                          "2", "--jobs", jobs, "--report", dir,
                          "--no-progress", NULL};
    cr_assert_eq(kvc_proc_run(p, argv, envv, 240), 0);
    cr_assert(!p->timed_out, "kvcheck run did not end");
}

static cJSON *read_json(const char *path)
{
    char *text = kvc_read_file(path);
    cr_assert_not_null(text, "%s missing", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j, "%s is not valid JSON", path);
    return j;
}

/* Records of summary.json with this outcome; every record's index must be
 * one of 0..cases-1, each once. */
static int records_with(const cJSON *summary, const char *outcome, int cases)
{
    const cJSON *rec;
    int n = 0, seen[64] = {0};
    cJSON_ArrayForEach(rec, cJSON_GetObjectItem(summary, "cases")) {
        int idx = cJSON_GetObjectItem(rec, "index")->valueint;
        cr_assert(idx >= 0 && idx < cases && !seen[idx], "index %d", idx);
        seen[idx] = 1;
        n += !strcmp(cJSON_GetObjectItem(rec, "outcome")->valuestring,
                     outcome);
    }
    for (int i = 0; i < cases; i++)
        cr_assert(seen[i], "case %d missing from the report", i);
    return n;
}

/* The misbehaviour is its own verdict, naming the case, with a replay
 * command; the campaign goes on to its end; the report has it; exit 1. */
static void expect_verdict(const char *how, const char *verdict,
                           const char *detail)
{
    char dir[64], path[128], line[128];
    kvc_proc p;
    temp_dir(dir, sizeof dir);
    run_misbehaving(&p, how, dir, "2");
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s: exit %d\n%s\n%s", how,
                 kvc_proc_exit_code(&p), p.out, p.err);
    snprintf(line, sizeof line, "FAIL case 2 [paged] %s:", verdict);
    cr_assert_not_null(strstr(p.out, line), "%s: no '%s' in\n%s", how, line,
                       p.out);
    cr_assert_not_null(strstr(strstr(p.out, line), detail), "%s", p.out);
    /* the console names the case's flags too */
    cr_assert_not_null(strstr(strstr(p.out, line), "\n  flags: "), "%s",
                       p.out);
    const char *replay = strstr(strstr(p.out, line), "replay: kvcheck replay");
    cr_assert_not_null(replay, "%s", p.out);
    cr_assert_not_null(strstr(replay, "--kernel-lib"), "%s", replay);
    cr_assert_not_null(strstr(p.out, "40 cases (paged 40"),
                       "the campaign did not go on:\n%s", p.out);
    cr_assert_not_null(strstr(p.out, "\nFAILED\n"), "%s", p.out);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *summary = read_json(path);
    cr_assert_gt(records_with(summary, verdict, 40), 0, "%s", how);
    cr_assert_str_eq(cJSON_GetObjectItem(summary, "state")->valuestring,
                     "complete");
    cr_assert_eq(cJSON_GetObjectItem(summary, "exit_status")->valueint, 1);
    cJSON_Delete(summary);
    kvc_proc_free(&p);
    remove_dir(dir);
}

Test(gate, segfaulting_kernel_is_a_crash_verdict, .timeout = 240)
{
    expect_verdict("crash", "crash", "SIGSEGV");
}

Test(gate, aborting_kernel_is_a_crash_verdict, .timeout = 240)
{
    expect_verdict("abort", "crash", "SIGABRT");
}

Test(gate, hanging_kernel_is_a_timeout_verdict, .timeout = 240)
{
    expect_verdict("hang", "timeout", "no result after 2.00 s");
}

Test(gate, kernel_calling_exit_0_is_an_exit_verdict, .timeout = 240)
{
    expect_verdict("exit0", "exit", "status 0");
}

Test(gate, kernel_calling__exit_0_is_an_exit_verdict, .timeout = 240)
{
    expect_verdict("_exit0", "exit", "status 0");
}

Test(gate, write_one_past_the_end_of_out_is_a_bounds_verdict, .timeout = 240)
{
    expect_verdict("out_end", "bounds", "0 bytes past the end of out");
}

Test(gate, write_one_past_the_end_of_lse_is_a_bounds_verdict, .timeout = 240)
{
    expect_verdict("lse_end", "bounds", "0 bytes past the end of lse");
}

/* Threads of a kernel that hit a guard page together: one whole report
 * naming the buffer (two threads once interleaved their notes and the
 * verdict became "broke the result protocol"). */
Test(gate, threads_faulting_together_give_one_bounds_verdict, .timeout = 240)
{
    expect_verdict("threads_table_end", "bounds",
                   "0 bytes past the end of block_table");
}

/* lse may be NULL, and the campaign passes NULL in some cases: a kernel
 * that writes it anyway crashes there, and the gate says so. */
Test(gate, writing_a_null_lse_is_a_crash_verdict, .timeout = 240)
{
    char dir[64];
    kvc_proc p;
    temp_dir(dir, sizeof dir);
    run_misbehaving(&p, "null_lse", dir, "2");
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s%s", p.out, p.err);
    cr_assert_not_null(strstr(p.out, "[paged] crash: the worker was killed "
                                     "by SIGSEGV"), "%s", p.out);
    cr_assert_not_null(strstr(p.out, "40 cases (paged 40"), "%s", p.out);
    kvc_proc_free(&p);
    remove_dir(dir);
}

Test(gate, write_before_out_is_a_bounds_verdict, .timeout = 240)
{
    expect_verdict("out_before", "bounds", "before the start of out");
}

Test(gate, write_into_q_is_an_input_written_verdict, .timeout = 240)
{
    expect_verdict("write_q", "input-written", "its input q");
}

Test(gate, write_into_the_block_table_is_an_input_written_verdict,
     .timeout = 240)
{
    expect_verdict("write_table", "input-written", "its input block_table");
}

/* replay runs the case in the foreground: a debugger or valgrind sees the
 * crash itself. */
Test(gate, replay_of_a_crash_crashes_in_the_foreground, .timeout = 120)
{
    /* (in the ASan build, AddressSanitizer's own SEGV handler would report
     * and exit 1: let the signal through as in a plain build) */
    const char *envv[] = {"KVC_MISBEHAVE=crash", "ASAN_OPTIONS=handle_segv=0",
                          NULL};
    const char *argv[] = {KVCHECK, "replay", "--seed", "1", "--case", "2",
                          "--kernel", "paged", "--kernel-lib", MISBEHAVE,
                          NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, envv, 100), 0);
    cr_assert_eq(kvc_proc_signal(&p), SIGSEGV, "status %d\n%s\n%s", p.status,
                 p.out, p.err);
    kvc_proc_free(&p);
}

/* ... and a guard page hit in the foreground names the buffer first. */
Test(gate, replay_of_a_bounds_fault_names_the_buffer, .timeout = 120)
{
    const char *envv[] = {"KVC_MISBEHAVE=lse_end", NULL};
    const char *argv[] = {KVCHECK, "replay", "--seed", "1", "--case", "2",
                          "--kernel", "paged", "--kernel-lib", MISBEHAVE,
                          NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, envv, 100), 0);
    cr_assert_eq(kvc_proc_signal(&p), SIGSEGV, "status %d", p.status);
    cr_assert_not_null(strstr(p.err, "kvcheck: bounds: kernel accessed 0 "
                                     "bytes past the end of lse"),
                       "%s", p.err);
    kvc_proc_free(&p);
}

/* A library whose constructor crashes or exits never runs in kvcheck's
 * own process, and never passes. */
Test(gate, library_that_crashes_or_exits_when_loaded_fails, .timeout = 120)
{
    const char *how[] = {"KVC_MISBEHAVE_AT_LOAD=crash",
                         "KVC_MISBEHAVE_AT_LOAD=exit0"};
    for (int i = 0; i < 2; i++) {
        const char *envv[] = {how[i], NULL};
        const char *argv[] = {KVCHECK, "run", "--cases", "5", "--kernel-lib",
                              MISBEHAVE, "--no-report", NULL};
        kvc_proc p;
        cr_assert_eq(kvc_proc_run(&p, argv, envv, 100), 0);
        cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s: %d\n%s", how[i],
                     kvc_proc_exit_code(&p), p.err);
        cr_assert_not_null(strstr(p.err, "loading"), "%s", p.err);
        kvc_proc_free(&p);
    }
}

/* Everything but timings is the same for one worker and for two. */
static char *without_timings(const char *out)
{
    char *copy = strdup(out), *dst = copy;
    for (const char *line = out; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        if (!strstr(buf, "cases/s") && strncmp(buf, "report:", 7) != 0) {
            memmove(dst, line, len);
            dst += len;
        }
        line += len;
    }
    *dst = '\0';
    return copy;
}

static void drop_seconds(cJSON *summary)
{
    cJSON *rec;
    cJSON_DeleteItemFromObject(summary, "seconds");
    cJSON_DeleteItemFromObject(summary, "started_utc");
    cJSON_DeleteItemFromObject(summary, "command");
    cJSON_ArrayForEach(rec, cJSON_GetObjectItem(summary, "cases"))
        cJSON_DeleteItemFromObject(rec, "seconds");
}

static void campaign(const char *jobs, const char *dir, kvc_proc *p)
{
    const char *envv[] = {"KVC_MISBEHAVE=crash", NULL};
    const char *argv[] = {KVCHECK, "run", "--cases", "300", "--seed", "5",
                          "--jobs", jobs, "--kernel-lib", MISBEHAVE,
                          "--report", dir, "--no-progress",
                          "--max-failures", "1000", NULL};
    cr_assert_eq(kvc_proc_run(p, argv, envv, 280), 0);
    cr_assert_eq(kvc_proc_exit_code(p), 1, "%s", p->err);
}

Test(gate, one_worker_or_two_give_identical_results, .timeout = 600)
{
    char d1[64], d2[64], path[128];
    kvc_proc p1, p2;
    temp_dir(d1, sizeof d1);
    temp_dir(d2, sizeof d2);
    campaign("1", d1, &p1);
    campaign("2", d2, &p2);
    char *o1 = without_timings(p1.out), *o2 = without_timings(p2.out);
    cr_assert_str_eq(o1, o2);
    cr_assert_not_null(strstr(o1, "crash"), "no crash verdicts: %s", o1);
    snprintf(path, sizeof path, "%s/summary.json", d1);
    cJSON *s1 = read_json(path);
    snprintf(path, sizeof path, "%s/summary.json", d2);
    cJSON *s2 = read_json(path);
    drop_seconds(s1);
    drop_seconds(s2);
    char *j1 = cJSON_PrintUnformatted(s1), *j2 = cJSON_PrintUnformatted(s2);
    cr_assert_str_eq(j1, j2);
    free(j1);
    free(j2);
    free(o1);
    free(o2);
    cJSON_Delete(s1);
    cJSON_Delete(s2);
    kvc_proc_free(&p1);
    kvc_proc_free(&p2);
    remove_dir(d1);
    remove_dir(d2);
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* SIGTERM (a CI time-out) stops the run cleanly: a valid partial report,
 * the summary printed, a non-zero status. */
Test(gate, sigterm_leaves_a_valid_partial_report, .timeout = 120)
{
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    const char *argv[] = {KVCHECK, "run", "--cases", "1000000", "--report",
                          dir, "--no-progress", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_start(&p, argv, NULL), 0);
    sleep_s(2.0);
    kill(p.pid, SIGTERM);
    cr_assert_eq(kvc_proc_wait(&p, 60), 0);
    cr_assert(!p.timed_out);
    cr_assert_eq(kvc_proc_exit_code(&p), 128 + SIGTERM, "%d\n%s",
                 kvc_proc_exit_code(&p), p.err);
    cr_assert_not_null(strstr(p.out, "\nINTERRUPTED\n"), "%s", p.out);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *summary = read_json(path);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(summary, "cases"));
    cr_assert(n > 0 && n < 1000000, "%d cases in the report", n);
    cr_assert_str_eq(cJSON_GetObjectItem(summary, "state")->valuestring,
                     "interrupted");
    cr_assert_eq(cJSON_GetObjectItem(summary, "cases_planned")->valuedouble,
                 1000000.0);
    cJSON_Delete(summary);
    kvc_proc_free(&p);
    remove_dir(dir);
}

/* SIGKILL leaves no chance to clean up: what was printed is there, whole
 * lines (stdout is line-buffered), and the report written after the first
 * failure is there too. */
Test(gate, sigkill_keeps_the_log_and_a_report, .timeout = 120)
{
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    const char *envv[] = {"KVC_MISBEHAVE=crash", NULL};
    const char *argv[] = {KVCHECK, "run", "--cases", "1000000", "--kernel",
                          "paged", "--kernel-lib", MISBEHAVE, "--report", dir,
                          "--no-progress", "--jobs", "1", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_start(&p, argv, envv), 0);
    sleep_s(3.0);
    kill(p.pid, SIGKILL);
    cr_assert_eq(kvc_proc_wait(&p, 60), 0);
    cr_assert_not_null(strstr(p.out, "FAIL case 2 [paged] crash:"), "%s",
                       p.out);
    size_t len = strlen(p.out);
    cr_assert(len > 0 && p.out[len - 1] == '\n', "a cut line: ...%s",
              p.out + (len > 80 ? len - 80 : 0));
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *summary = read_json(path);
    cr_assert_gt(cJSON_GetArraySize(cJSON_GetObjectItem(summary, "cases")), 0);
    /* the run was killed: its last snapshot says it had not finished */
    cr_assert_str_eq(cJSON_GetObjectItem(summary, "state")->valuestring,
                     "interrupted");
    cJSON_Delete(summary);
    kvc_proc_free(&p);
    remove_dir(dir);
}

Test(gate, a_run_that_checks_nothing_exits_4, .timeout = 60)
{
    /* case 0 of seed 1 is not nvfp4: the only case is skipped */
    const char *argv[] = {KVCHECK, "run", "--cases", "1", "--kv-dtype",
                          "nvfp4", "--no-report", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 50), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 4, "%s", p.out);
    cr_assert_not_null(strstr(p.out, "NOTHING CHECKED"), "%s", p.out);
    cr_assert_null(strstr(p.out, "PASSED"), "%s", p.out);
    kvc_proc_free(&p);
}

/* An unwritable report directory is an I/O error found before any case. */
Test(gate, unwritable_report_dir_fails_before_the_first_case, .timeout = 60)
{
    char dir[64], file[128];
    temp_dir(dir, sizeof dir);
    snprintf(file, sizeof file, "%s/a-file", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    const char *bad[] = {"/proc/kvcheck-cannot-be-here", file};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {KVCHECK, "run", "--cases", "1000000",
                              "--report", bad[i], NULL};
        kvc_proc p;
        cr_assert_eq(kvc_proc_run(&p, argv, NULL, 30), 0);
        cr_assert(!p.timed_out, "the campaign ran before the check");
        cr_assert_eq(kvc_proc_exit_code(&p), 3, "%s", p.err);
        cr_assert_not_null(strstr(p.err, "kvcheck run: "), "%s", p.err);
        cr_assert_not_null(strstr(p.err, bad[i]), "%s", p.err);
        cr_assert_eq(p.out[0], '\0', "cases ran: %s", p.out);
        kvc_proc_free(&p);
    }
    remove_dir(dir);
}

/* Two runs started in the same second never share a default report
 * directory. */
Test(gate, default_report_dirs_are_unique_per_run, .timeout = 120)
{
    char dir[64], kvcheck[PATH_MAX];
    cr_assert_not_null(realpath(KVCHECK, kvcheck));
    temp_dir(dir, sizeof dir);
    cr_assert_eq(chdir(dir), 0);
    const char *argv[] = {kvcheck, "run", "--cases", "20", "--jobs", "1",
                          NULL};
    kvc_proc a, b;
    cr_assert_eq(kvc_proc_start(&a, argv, NULL), 0);
    cr_assert_eq(kvc_proc_start(&b, argv, NULL), 0);
    cr_assert_eq(kvc_proc_wait(&a, 100), 0);
    cr_assert_eq(kvc_proc_wait(&b, 100), 0);
    cr_assert_eq(kvc_proc_exit_code(&a), 0, "%s", a.err);
    cr_assert_eq(kvc_proc_exit_code(&b), 0, "%s", b.err);
    const char *ra = strstr(a.out, "report: "), *rb = strstr(b.out, "report: ");
    cr_assert(ra && rb);
    cr_assert_neq(strcmp(ra, rb), 0, "both wrote %s", ra);
    kvc_proc_free(&a);
    kvc_proc_free(&b);
    remove_dir(dir);
}

/* golden verify is a gate too: a kernel that crashes, hangs or exits
 * fails those tests, the others still run, the status is 1. */
Test(gate, golden_verify_survives_a_misbehaving_kernel, .timeout = 240)
{
    const char *how[] = {"KVC_MISBEHAVE=crash", "KVC_MISBEHAVE=hang",
                         "KVC_MISBEHAVE=exit0"};
    const char *verdict[] = {"]: crash: ", "]: timeout: ", "]: exit: "};
    for (int i = 0; i < 3; i++) {
        const char *envv[] = {how[i], NULL};
        const char *argv[] = {KVCHECK, "golden", "verify", "--kernel-lib",
                              MISBEHAVE, "--timeout", "1",
                              "golden/vectors/paged_attention.json", NULL};
        kvc_proc p;
        cr_assert_eq(kvc_proc_run(&p, argv, envv, 200), 0);
        cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s: %d\n%s\n%s", how[i],
                     kvc_proc_exit_code(&p), p.out, p.err);
        cr_assert_not_null(strstr(p.out, verdict[i]), "%s", p.out);
        cr_assert_not_null(strstr(p.out, " passed, "), "%s", p.out);
        cr_assert_null(strstr(p.out, " 0 passed, "), "nothing else ran: %s",
                       p.out);
        kvc_proc_free(&p);
    }
}

/* stdout and stderr in one log (a terminal, a CI job): the progress line
 * and the messages on stderr never split a failure's lines. */
Test(gate, stderr_never_splits_a_stdout_line, .timeout = 120)
{
    const char *envv[] = {"KVC_MISBEHAVE=crash", NULL};
    const char *argv[] = {KVCHECK, "run", "--cases", "400", "--kernel-lib",
                          MISBEHAVE, "--no-report", "--progress",
                          "--max-failures", "1000", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_start_merged(&p, argv, envv), 0);
    cr_assert_eq(kvc_proc_wait(&p, 100), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 1);
    int fails = 0;
    for (char *line = p.out; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        /* a failure's lines start where a line starts, and each is whole */
        char *f = strstr(line, "FAIL case ");
        if (f) {
            fails++;
            cr_assert_eq(f, line, "spliced: %s", line);
            cr_assert_not_null(strstr(line, ": the worker was killed by "
                                            "SIGSEGV"), "cut: %s", line);
        }
        cr_assert(strncmp(line, "  replay: ", 10) != 0 ||
                      strstr(line, "libkvattn_misbehave.so") != NULL,
                  "cut: %s", line);
        line = end ? end + 1 : NULL;
    }
    cr_assert_gt(fails, 10);
    kvc_proc_free(&p);
}

/* Every help text says what it prints, with no printf escapes left in. */
Test(gate, run_help_is_plain_text, .timeout = 30)
{
    const char *argv[] = {KVCHECK, "run", "--help", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 20), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0);
    cr_assert_null(strstr(p.out, "%%"), "%s", p.out);
    cr_assert_not_null(strstr(p.out, "index % n == i"), "%s", p.out);
    cr_assert_not_null(strstr(p.out, "--jobs N"), "%s", p.out);
    cr_assert_not_null(strstr(p.out, "4 nothing was checked"), "%s", p.out);
    kvc_proc_free(&p);
}

/* run --shrink: each reproducer's printed replay command names the
 * kernel library, so following it fails again; the report links it. */
Test(gate, run_shrink_reproducers_carry_the_kernel_lib, .timeout = 300)
{
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    const char *argv[] = {KVCHECK, "run", "--cases", "60", "--kernel",
                          "paged", "--kernel-lib",
                          KVC_BUILD_DIR "/tests/libkvattn_planted_no_rescale.so",
                          "--report", dir, "--shrink", "--no-progress", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, NULL, 280), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s", p.err);
    const char *run = strstr(p.out, "  run:  kvcheck replay ");
    cr_assert_not_null(run, "%s", p.out);
    cr_assert_not_null(strstr(run, "--kernel-lib "), "%s", run);
    snprintf(path, sizeof path, "%s/index.html", dir);
    char *html = kvc_read_file(path);
    cr_assert_not_null(html);
    cr_assert_not_null(strstr(html, "href=\"repro-case-"), "no repro link");
    free(html);
    kvc_proc_free(&p);
    remove_dir(dir);
}

/* kvcheck shrink runs the kernel in a worker too: a case that crashes is
 * reported with its replay command, not the end of the command. */
Test(gate, shrink_of_a_crashing_case_reports_it, .timeout = 120)
{
    const char *envv[] = {"KVC_MISBEHAVE=crash", NULL};
    const char *argv[] = {KVCHECK, "shrink", "--seed", "1", "--case", "2",
                          "--kernel", "paged", "--kernel-lib", MISBEHAVE,
                          "--out", "/tmp/kvcheck-gate-shrink.json", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, envv, 100), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%d\n%s", p.status, p.err);
    cr_assert_not_null(strstr(p.err, "SIGSEGV"), "%s", p.err);
    cr_assert_not_null(strstr(p.err, "kvcheck replay --seed 1 --case 2"),
                       "%s", p.err);
    cr_assert_neq(access("/tmp/kvcheck-gate-shrink.json", F_OK), 0,
                  "a reproducer was written");
    kvc_proc_free(&p);
}
