/* cmd_run.c — `kvcheck run`: a campaign, its report, its reproducers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "campaign.h"
#include "reproducer.h"
#include "cli_parse.h"
#include "commands.h"

static const char run_usage[] =
    "usage: kvcheck run [--cases N] [--seed S] [--kernel paged|blocked|qeff|all]\n"
    "                   [--shard i/n] [--max-failures N] [--progress|--no-progress]\n"
    "                   [--report DIR | --no-report] [--shrink] [--kernel-lib PATH]\n"
    "                   [--kv-dtype LIST]\n"
    "\n"
    "Generate cases (seed, 0..N-1), write their new tokens through the\n"
    "kernel's cache write, run the kernel's attention and the oracle, and\n"
    "compare. Prints each failure with a replay command and a summary.\n"
    "\n"
    "  --cases N         number of cases before sharding (default 2000)\n"
    "  --seed S          campaign seed (default 1)\n"
    "  --kernel K        paged, blocked, qeff, or all (default all: drawn per case)\n"
    "  --shard i/n       run only the cases with index %% n == i (default 0/1)\n"
    "  --max-failures N  failures printed in full (default 20; all are counted)\n"
    "  --progress        live progress line on stderr (default: on a terminal,\n"
    "                    and off when CI is set)\n"
    "  --no-progress     no progress line\n"
    "  --report DIR      write summary.json, junit.xml, summary.md and index.html\n"
    "                    to DIR (default reports/out/<UTC time>/)\n"
    "  --no-report       write no report\n"
    "  --shrink          shrink the first 5 failures and write each smallest\n"
    "                    failing case to the report folder as\n"
    "                    repro-case-I.json (kvcheck replay FILE.json runs it)\n"
    KVC_KERNEL_LIB_HELP
    KVC_KV_DTYPE_HELP
    "\n"
    "Exit status: 0 every case passed, 1 a case failed, 2 bad usage.\n";

enum { OPT_NO_PROGRESS = 256, OPT_MAX_FAIL, OPT_REPORT, OPT_NO_REPORT,
       OPT_SHRINK, OPT_KERNEL_LIB, OPT_KV_DTYPE };



#define SHRINK_FIRST_FAILURES 5

/* Shrink the first failures of a finished campaign into dir. */
static int shrink_failures(const kvc_campaign_opts *o,
                           const kvc_campaign_stats *st, const char *dir,
                           const kvc_kernel *k)
{
    int done = 0, rc = 0;
    for (size_t i = 0; i < st->num_records && done < SHRINK_FIRST_FAILURES;
         i++) {
        if (st->records[i].passed)
            continue;
        char path[1024], err[512];
        kvc_repro info;
        snprintf(path, sizeof path, "%s/repro-case-%llu.json", dir,
                 (unsigned long long)st->records[i].index);
        done++;
        if (kvc_write_reproducer(o->seed, st->records[i].index,
                                 o->forced_mode, k, path, &info, err,
                                 sizeof err) == 0) {
            kvc_print_repro(path, &info);
        } else {
            fprintf(stderr, "kvcheck run: shrink case %llu: %s\n",
                    (unsigned long long)st->records[i].index, err);
            rc = -1;
        }
    }
    return rc;
}

#include "version.h"

/* The command line as one string, for the report. */
static void join_args(int argc, char **argv, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "kvcheck");
    for (int i = 0; i < argc && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, " %s", argv[i]);
}

static int write_report(const kvc_campaign_opts *o,
                        const kvc_campaign_stats *st, const char *dir,
                        const char *command, const char *started,
                        const char *kernel_name)
{
    kvc_run_report rep = {KVC_VERSION, command, kernel_name,
                          o->seed, o->shard_index, o->shard_count,
                          KVC_TOL_THRESHOLD, st->seconds, started,
                          st->num_records, st->records};
    char err[512];
    if (kvc_report_write(&rep, dir, err, sizeof err) != 0) {
        fprintf(stderr, "kvcheck run: report: %s\n", err);
        return -1;
    }
    printf("report: %s/index.html (also summary.md, summary.json, junit.xml)\n",
           dir);
    return 0;
}

static int default_progress(void)
{
    const char *ci = getenv("CI");
    return isatty(STDERR_FILENO) && !(ci && *ci);
}

int kvc_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cases", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},
        {"kernel", required_argument, 0, 'k'},
        {"shard", required_argument, 0, 'S'},
        {"max-failures", required_argument, 0, OPT_MAX_FAIL},
        {"progress", no_argument, 0, 'p'},
        {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
        {"report", required_argument, 0, OPT_REPORT},
        {"no-report", no_argument, 0, OPT_NO_REPORT},
        {"shrink", no_argument, 0, OPT_SHRINK},
        {"kernel-lib", required_argument, 0, OPT_KERNEL_LIB},
        {"kv-dtype", required_argument, 0, OPT_KV_DTYPE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *report_dir = NULL, *kernel_lib = NULL;
    int want_report = 1, want_shrink = 0;
    kvc_campaign_opts o = {.seed = 1, .cases = 2000, .forced_mode = -1,
                           .shard_index = 0, .shard_count = 1,
                           .progress = default_progress(),
                           .max_failures_listed = 20, .log = stdout};
    uint64_t u;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (kvc_parse_u64("run", "--cases", optarg, &o.cases)) return 2;
            break;
        case 's':
            if (kvc_parse_u64("run", "--seed", optarg, &o.seed)) return 2;
            break;
        case 'k':
            if (kvc_parse_kernel("run", optarg, &o.forced_mode)) return 2;
            break;
        case 'S':
            if (kvc_parse_shard("run", optarg, &o.shard_index, &o.shard_count))
                return 2;
            break;
        case OPT_MAX_FAIL:
            if (kvc_parse_u64("run", "--max-failures", optarg, &u)) return 2;
            o.max_failures_listed = u > 1000000 ? 1000000 : (int)u;
            break;
        case 'p': o.progress = 1; break;
        case OPT_NO_PROGRESS: o.progress = 0; break;
        case OPT_REPORT: report_dir = optarg; want_report = 1; break;
        case OPT_NO_REPORT: want_report = 0; break;
        case OPT_SHRINK: want_shrink = 1; break;
        case OPT_KERNEL_LIB: kernel_lib = optarg; break;
        case OPT_KV_DTYPE:
            if (kvc_parse_kv_dtypes("run", optarg, &o.kv_dtypes)) return 2;
            break;
        case 'h': fputs(run_usage, stdout); return 0;
        default: fputs(run_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvcheck run: unexpected argument '%s'\n\n%s",
                argv[optind], run_usage);
        return 2;
    }
    char started[32], default_dir[64], command[1024];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(default_dir, sizeof default_dir, "reports/out/%Y%m%dT%H%M%SZ", &tm);
    join_args(argc, argv, command, sizeof command);
    kvc_kernel_choice kc;
    if (kvc_choose_kernel("run", kernel_lib, &kc) != 0)
        return 2;
    o.kernel_lib = kernel_lib;
    o.collect_records = want_report || want_shrink;
    const char *dir = report_dir ? report_dir : default_dir;
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, kc.k, &st);
    kvc_campaign_print_summary(stdout, &o, &st);
    if (want_report &&
        write_report(&o, &st, dir, command, started, kc.k->name) != 0 &&
        rc == 0)
        rc = 1;
    if (want_shrink && st.failed) {
        if (!want_report && kvc_make_dirs(dir) != 0)
            fprintf(stderr, "kvcheck run: cannot create %s\n", dir);
        else
            shrink_failures(&o, &st, dir, kc.k);
    }
    kvc_release_kernel(&kc);
    kvc_campaign_stats_free(&st);
    return rc;
}
