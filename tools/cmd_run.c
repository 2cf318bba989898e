/* cmd_run.c — `kvcheck run`: a campaign, its report, its reproducers. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "campaign.h"
#include "cli_parse.h"
#include "commands.h"
#include "kernel_probe.h"
#include "run_report.h"
#include "run_shrink.h"
#include "size_cli.h"
#include "workers.h"

static const char run_usage[] =
    "usage: kvcheck run [--cases N] [--seed S] [--kernel paged|blocked|qeff|all]\n"
    "                   [--shard i/n] [--jobs N] [--timeout SECONDS] [--in-process]\n"
    "                   [--max-failures N] [--progress|--no-progress]\n"
    "                   [--report DIR | --no-report] [--shrink] [--kernel-lib PATH]\n"
    "                   [--kv-dtype LIST] [--profile P] [--kernel-threads N]\n"
    "                   [--stop-after N]\n"
    "                   [--size small|default|large] [--max-kv N] [--max-q N]\n"
    "                   [--heads HQ/HKV] [--head-dim D] [--block-size B]\n"
    "\n"
    "Generate cases (seed, 0..N-1), write their new tokens through the\n"
    "kernel's cache write, run the kernel's attention and the oracle, and\n"
    "compare. Prints each failure with a replay command and a summary.\n"
    "\n"
    "Only cases inside the kernel's claim are drawn (kva_capabilities of an\n"
    "ABI 2 library: modes, formats, layouts, sizes, features); the report's\n"
    "coverage table lists what it does not claim as not covered.\n"
    "\n"
    "The cases run in worker processes: a case whose worker crashes, exits\n"
    "or runs past its deadline is a failure of its own (crash, bounds, exit,\n"
    "timeout) and the campaign goes on.\n"
    "\n"
    "  --cases N         number of cases before sharding (default 2000)\n"
    "  --seed S          campaign seed (default 1)\n"
    "  --kernel K        paged, blocked, qeff, or all (default all: drawn per case)\n"
    "  --shard i/n       run only the cases with index % n == i (default 0/1)\n"
    "  --jobs N          worker processes in parallel (default: the CPUs\n"
    "                    available); verdicts and reports do not depend on it\n"
    "  --timeout SECONDS deadline of every case (default: 10 s plus time in\n"
    "                    proportion to the case's work; x20 under valgrind)\n"
    "  --in-process      run the cases in this process, one at a time (for a\n"
    "                    debugger: a crashing kernel ends the campaign)\n"
    "  --max-failures N  failures printed in full (default 20; all are counted)\n"
    "  --stop-after N    fail fast: start no new case once N cases have failed\n"
    "                    (cases already running finish, so with --jobs > 1 a\n"
    "                    few more may fail); default: run every case\n"
    "  --progress        live progress line on stderr (default: on a terminal,\n"
    "                    and off when CI is set)\n"
    "  --no-progress     no progress line\n"
    "  --report DIR      write summary.json, junit.xml, summary.md and index.html\n"
    "                    to DIR (default: a new reports/out/<UTC time>/); the\n"
    "                    report is kept current while the campaign runs\n"
    "  --no-report       write no report\n"
    "  --shrink          shrink the first 5 failures and write each smallest\n"
    "                    failing case to the report folder as\n"
    "                    repro-case-I.json (kvcheck replay FILE.json runs it)\n"
    KVC_KERNEL_LIB_HELP
    KVC_ARITH_HELP
    KVC_KV_DTYPE_HELP
    KVC_SIZE_HELP
    "\n"
    KVC_EXIT_HELP
    "Stopped by SIGINT or SIGTERM: 1 if a case had failed, else 128 + the\n"
    "signal; the report then says \"interrupted\".\n";

enum { OPT_NO_PROGRESS = 256, OPT_MAX_FAIL, OPT_REPORT, OPT_NO_REPORT,
       OPT_SHRINK, OPT_KERNEL_LIB, OPT_KV_DTYPE, OPT_JOBS, OPT_TIMEOUT,
       OPT_IN_PROCESS, OPT_PROFILE, OPT_KERNEL_THREADS, OPT_STOP_AFTER };

/* The signal that asked the run to stop (0: none). The one piece of
 * process state a signal handler may write. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signo)
{
    stop_signal = signo;
}

/* SIGINT and SIGTERM stop the campaign cleanly; a second one kills. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The command line as one string, for the report. */
static void join_args(int argc, char **argv, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "kvcheck");
    for (int i = 0; i < argc && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, " %s", argv[i]);
}

static int default_progress(void)
{
    const char *ci = getenv("CI");
    return isatty(STDERR_FILENO) && !(ci && *ci);
}

typedef struct run_args {
    kvc_campaign_opts o;
    kva_caps claim;
    int profile; /* --profile, or -1 */
    const char *report_dir;
    int want_report, want_shrink;
} run_args;

/* Parse the options; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, run_args *a)
{
    static const struct option longopts[] = {
        {"cases", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},
        {"kernel", required_argument, 0, 'k'},
        {"shard", required_argument, 0, 'S'},
        {"jobs", required_argument, 0, OPT_JOBS},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"in-process", no_argument, 0, OPT_IN_PROCESS},
        {"max-failures", required_argument, 0, OPT_MAX_FAIL},
        {"progress", no_argument, 0, 'p'},
        {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
        {"report", required_argument, 0, OPT_REPORT},
        {"no-report", no_argument, 0, OPT_NO_REPORT},
        {"shrink", no_argument, 0, OPT_SHRINK},
        {"kernel-lib", required_argument, 0, OPT_KERNEL_LIB},
        {"kv-dtype", required_argument, 0, OPT_KV_DTYPE},
        {"profile", required_argument, 0, OPT_PROFILE},
        {"kernel-threads", required_argument, 0, OPT_KERNEL_THREADS},
        {"stop-after", required_argument, 0, OPT_STOP_AFTER},
        KVC_SIZE_LONGOPTS,
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    kvc_campaign_opts *o = &a->o;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (kvc_is_size_opt(c)) {
            if (kvc_parse_size_opt("run", c, optarg, &o->size))
                return 2;
            continue;
        }
        switch (c) {
        case 'n':
            if (kvc_parse_u64("run", "--cases", optarg, &o->cases)) return 2;
            break;
        case 's':
            if (kvc_parse_u64("run", "--seed", optarg, &o->seed)) return 2;
            break;
        case 'k':
            if (kvc_parse_kernel("run", optarg, &o->forced_mode)) return 2;
            break;
        case 'S':
            if (kvc_parse_shard("run", optarg, &o->shard_index,
                                &o->shard_count))
                return 2;
            break;
        case OPT_JOBS:
            if (kvc_parse_int("run", "--jobs", optarg, 1, 1024, &o->jobs))
                return 2;
            break;
        case OPT_TIMEOUT:
            if (kvc_parse_seconds("run", "--timeout", optarg, &o->timeout))
                return 2;
            break;
        case OPT_IN_PROCESS: o->in_process = 1; break;
        case OPT_MAX_FAIL:
            if (kvc_parse_int("run", "--max-failures", optarg, 0, 1000000,
                              &o->max_failures_listed))
                return 2;
            break;
        case 'p': o->progress = 1; break;
        case OPT_NO_PROGRESS: o->progress = 0; break;
        case OPT_REPORT: a->report_dir = optarg; a->want_report = 1; break;
        case OPT_NO_REPORT: a->want_report = 0; break;
        case OPT_SHRINK: a->want_shrink = 1; break;
        case OPT_KERNEL_LIB: o->kernel_lib = optarg; break;
        case OPT_KV_DTYPE:
            if (kvc_parse_kv_dtypes("run", optarg, &o->kv_dtypes)) return 2;
            break;
        case OPT_PROFILE:
            if (kvc_parse_profile("run", optarg, &a->profile))
                return 2;
            o->profile = optarg;
            break;
        case OPT_KERNEL_THREADS:
            if (kvc_parse_int("run", "--kernel-threads", optarg, 1, 1024,
                              &o->kernel_threads))
                return 2;
            break;
        case OPT_STOP_AFTER:
            if (kvc_parse_u64("run", "--stop-after", optarg, &o->stop_after))
                return 2;
            break;
        case 'h': fputs(run_usage, stdout); return 0;
        default:
            kvc_option_error("run", argv, c);
            fputs(run_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvcheck run: unexpected argument '%s'\n\n%s",
                argv[optind], run_usage);
        return 2;
    }
    return kvc_check_size_opts("run", &o->size) ? 2 : -1;
}

/* The exit status of a finished (or stopped) campaign. io_failed: a report
 * could not be written, or a worker ended badly between cases. */
static int run_status(const kvc_campaign_stats *st, int io_failed)
{
    if (st->failed)
        return 1;
    if (st->broken || io_failed)
        return 3;
    if (st->interrupted)
        return 128 + (stop_signal ? stop_signal : SIGINT);
    return st->run == 0 ? 4 : 0;
}

static const char *kernel_name(const kvc_campaign_opts *o)
{
    return o->kernel_lib ? o->kernel_lib : kvc_builtin_kernel.name;
}

/* After the campaign: shrink, final report. Returns the exit status. */
static int finish(run_args *a, kvc_run_reporter *rr, kvc_campaign_stats *st)
{
    const kvc_campaign_opts *o = &a->o;
    const kvc_kernel *k = o->kernel_lib ? NULL : &kvc_builtin_kernel;
    char err[600];
    int io_failed = 0;
    if (a->want_shrink && st->failed && !st->interrupted) {
        if (!a->want_report && kvc_run_report_open(rr, NULL, err, sizeof err))
            fprintf(stderr, "kvcheck run: %s\n", err), io_failed = 1;
        else
            kvc_run_shrink_failures(o, k, st, rr->dir);
    }
    if (st->worker_exit_status) {
        fprintf(stderr, "kvcheck run: a worker process exited with status %d "
                "after its last case (under valgrind --error-exitcode: errors "
                "at exit, such as leaks; see above)\n",
                st->worker_exit_status);
        io_failed = 1;
    }
    if (rr->snapshot_failed) {
        fprintf(stderr, "kvcheck run: report: %s\n", rr->err);
        io_failed = 1;
    }
    int rc = run_status(st, io_failed);
    if (a->want_report) {
        if (kvc_run_report_final(rr, st, rc, err, sizeof err) != 0) {
            fprintf(stderr, "kvcheck run: report: %s\n", err);
            rc = run_status(st, 1);
        } else {
            printf("report: %s/index.html (also summary.md, summary.json, "
                   "junit.xml)\n", rr->dir);
        }
    }
    return rc;
}

int kvc_cmd_run(int argc, char **argv)
{
    run_args a = {.want_report = 1};
    a.o = (kvc_campaign_opts){.seed = 1, .cases = 2000, .forced_mode = -1,
                              .shard_index = 0, .shard_count = 1,
                              .progress = default_progress(),
                              .max_failures_listed = 20, .log = stdout,
                              .jobs = kvc_cpus_available()};
    a.profile = -1;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if ((rc = kvc_resolve_claim("run", a.o.kernel_lib, a.profile,
                                &a.claim)) >= 0)
        return rc;
    a.o.claim = &a.claim;
    char started[32], command[1024], err[600];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    join_args(argc, argv, command, sizeof command);
    kvc_run_reporter rr = {.o = &a.o, .command = command, .started = started,
                           .kernel_name = kernel_name(&a.o)};
    if (a.want_report &&
        kvc_run_report_open(&rr, a.report_dir, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck run: %s\n", err);
        return 3;
    }
    kvc_campaign_opts *o = &a.o;
    o->collect_records = a.want_report || a.want_shrink;
    o->stop = &stop_signal;
    if (a.want_report) {
        o->snapshot = kvc_run_report_snapshot;
        o->snapshot_ctx = &rr;
        o->snapshot_seconds = 10.0;
    }
    catch_stop_signals();
    kvc_campaign_stats st;
    if (kvc_campaign_run(o, o->kernel_lib ? NULL : &kvc_builtin_kernel,
                         &st) < 0)
        fprintf(stderr, "kvcheck run: %s\n", st.error);
    kvc_campaign_print_summary(stdout, o, &st);
    rc = finish(&a, &rr, &st);
    kvc_campaign_stats_free(&st);
    return rc;
}
