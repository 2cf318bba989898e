/*
 * mutants_exec.c — one library through the two checks of mutants.h, each
 * a child kvcheck whose stdout and stderr are read through a pipe for the
 * first failure line.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mutants.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The verdict name of a failure line, or "" when the line is none:
 *   run:    "FAIL case I [MODE] OUTCOME: message" ("FAIL case I setup: ...")
 *   golden: "FAIL FILE tcId N [MODE] EXPECT [FLAGS]...: OUTCOME: message" */
static int failure_outcome(const char *line, int golden, char *out,
                           size_t n)
{
    if (strncmp(line, "FAIL ", 5) != 0)
        return 0;
    const char *p;
    if (!golden) {
        p = strchr(line, ']');
        p = p ? p + 1 : strstr(line, " setup:");
        if (!p)
            return 0;
        while (*p == ' ')
            p++;
    } else {
        p = strchr(line, ']');
        p = p ? strchr(p + 1, ']') : NULL; /* the flags' bracket */
        p = p ? strstr(p, ": ") : NULL;
        if (!p)
            return 0;
        p += 2;
    }
    size_t len = strcspn(p, ":\n");
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return 1;
}

/* Run argv (with env, "NAME=value", added to the environment when not
 * NULL); read its output for the first failure line. Returns the exit
 * status (128 + signal when killed by one; -1 when it could not start). */
static int run_child(char *const argv[], char *env, int golden,
                     char *outcome, size_t on, char *line_out, size_t ln)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        dup2(fd[1], STDERR_FILENO);
        close(fd[0]);
        close(fd[1]);
        if (env)
            putenv(env);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    if (in == NULL) {
        close(fd[0]);
    } else {
        char line[2048];
        while (fgets(line, sizeof line, in))
            if (!outcome[0] && failure_outcome(line, golden, outcome, on)) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(line_out, ln, "%.500s", line);
            }
        fclose(in);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

void kvc_mutant_check(const kvc_mutant_opts *o, kvc_mutant_result *r)
{
    char cases[32], seed[32], jobs[32];
    char *lib = r->lib;
    snprintf(cases, sizeof cases, "%llu", (unsigned long long)o->cases);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(jobs, sizeof jobs, "%d", o->jobs);
    char *run_argv[] = {(char *)o->kvcheck, "run", "--cases", cases,
                        "--seed", seed, "--kernel-lib", lib,
                        "--stop-after", "1", "--no-report", "--no-progress",
                        o->jobs > 0 ? "--jobs" : NULL, jobs, NULL};
    char *golden_argv[] = {(char *)o->kvcheck, "golden", "verify",
                           "--kernel-lib", lib, NULL};
    r->killed = r->error = 0;
    r->killed_by = "";
    r->outcome[0] = r->first_failure[0] = '\0';
    r->golden_rc = -1;
    r->golden_s = r->kill_s = 0;
    const double t0 = now_s();
    r->run_rc = run_child(run_argv, NULL, 0, r->outcome, sizeof r->outcome,
                          r->first_failure, sizeof r->first_failure);
    r->run_s = now_s() - t0;
    if (r->run_rc == 1) {
        r->killed = 1;
        r->killed_by = "run";
        r->kill_s = r->run_s;
    }
    /* golden verify runs even after a kill: which checks kill is data. It
     * runs on each of libkvattn's paths: the one the CPU dispatches to, then
     * the portable one (KVATTN_ISA, kva_internal.h), as a kernel author
     * verifies every path a library ships (the campaign checks the
     * dispatched one only); a few seconds each. */
    const double t1 = now_s();
    char g_outcome[48] = "", g_line[512] = "";
    static char portable[] = "KVATTN_ISA=portable";
    r->golden_rc = run_child(golden_argv, NULL, 1, g_outcome,
                             sizeof g_outcome, g_line, sizeof g_line);
    if (r->golden_rc == 0) {
        r->golden_rc = run_child(golden_argv, portable, 1, g_outcome,
                                 sizeof g_outcome, g_line, sizeof g_line);
        if (r->golden_rc == 1) {
            char tagged[sizeof g_line];
            snprintf(tagged, sizeof tagged, "%s: %.480s", portable, g_line);
            memcpy(g_line, tagged, sizeof g_line);
        }
    }
    r->golden_s = now_s() - t1;
    /* a campaign's timeout may be the machine's load, not the mutant
     * (wall-clock deadlines): a golden failure is the firmer kill */
    const int run_timeout = r->killed && !strcmp(r->outcome, "timeout");
    if (r->golden_rc == 1 && (!r->killed || run_timeout)) {
        r->killed = 1;
        r->killed_by = "golden";
        r->kill_s = r->golden_s; /* its own time: it does not need the run */
        snprintf(r->outcome, sizeof r->outcome, "%s", g_outcome);
        snprintf(r->first_failure, sizeof r->first_failure, "%s", g_line);
    }
    if (r->killed && !r->outcome[0]) /* exit 1 without a FAIL line */
        snprintf(r->outcome, sizeof r->outcome, "load");
    r->error = !r->killed && (r->run_rc != 0 || r->golden_rc != 0);
}
