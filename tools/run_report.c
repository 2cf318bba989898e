/* run_report.c — the report directory and report writes of `kvcheck run`. */
#include "run_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../oracle/profile.h"
#include "claim.h"
#include "commands.h"
#include "version.h"

/* Writing a file in dir works (a probe file is created and removed). */
static int prove_writable(const char *dir, char *err, size_t errlen)
{
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/.kvcheck-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        snprintf(err, errlen, "report directory '%s' is not writable: %s",
                 dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* reports/out/<UTC time>, or <UTC time>-2, -3, ...: mkdir is atomic, so
 * two runs started in the same second get two directories. */
static int make_unique_dir(char *out, size_t n, char *err, size_t errlen)
{
    char base[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(base, sizeof base, "reports/out/%Y%m%dT%H%M%SZ", &tm);
    if (kvc_make_dirs("reports/out") != 0) {
        snprintf(err, errlen, "cannot create report directory "
                 "'reports/out': %s", strerror(errno));
        return -1;
    }
    for (int i = 1; i < 1000; i++) {
        if (i == 1)
            snprintf(out, n, "%s", base);
        else
            snprintf(out, n, "%s-%d", base, i);
        if (mkdir(out, 0777) == 0)
            return 0;
        if (errno != EEXIST) {
            snprintf(err, errlen, "cannot create report directory '%s': %s",
                     out, strerror(errno));
            return -1;
        }
    }
    snprintf(err, errlen, "cannot create a new report directory beside '%s'",
             base);
    return -1;
}

int kvc_run_report_open(kvc_run_reporter *rr, const char *dir, char *err,
                        size_t errlen)
{
    if (!dir)
        return make_unique_dir(rr->dir, sizeof rr->dir, err, errlen) == 0
                   ? prove_writable(rr->dir, err, errlen)
                   : -1;
    if (snprintf(rr->dir, sizeof rr->dir, "%s", dir) >= (int)sizeof rr->dir) {
        snprintf(err, errlen, "report directory name too long");
        return -1;
    }
    if (kvc_make_dirs(dir) != 0) {
        snprintf(err, errlen, "cannot create report directory '%s': %s", dir,
                 strerror(errno));
        return -1;
    }
    return prove_writable(dir, err, errlen);
}

static int write_state(kvc_run_reporter *rr, const kvc_campaign_stats *s,
                       const char *state, int exit_status, char *err,
                       size_t errlen)
{
    const kvc_campaign_opts *o = rr->o;
    kva_caps everything;
    const kva_caps *caps = o->claim;
    if (!caps) {
        kva_caps_everything(&everything);
        caps = &everything;
    }
    kvc_claim_row rows[KVC_CLAIM_ROWS];
    kvc_report_claim claim = {
        .num_rows = kvc_claim_rows(caps, s->cov_run, s->cov_outside, rows,
                                   KVC_CLAIM_ROWS),
        .rows = rows,
        .profile = kvc_profile_name((kvc_profile)caps->profile),
        .lse = kvc_claim_lse_name(caps),
        .out_type = kvc_claim_out_name(caps),
        .threads = caps->takes_threads
                       ? (o->kernel_threads > 0 ? o->kernel_threads : 1)
                       : 0,
        .not_covered = s->not_covered,
    };
    kvc_run_report rep = {
        .tool_version = KVC_VERSION,
        .command = rr->command,
        .kernel_name = rr->kernel_name,
        .seed = o->seed,
        .shard_index = o->shard_index,
        .shard_count = o->shard_count,
        .threshold = KVC_TOL_THRESHOLD,
        .seconds = s->seconds,
        .started_utc = rr->started,
        .num_records = s->num_records,
        .records = s->records,
        .state = state,
        .cases_planned = s->planned,
        .exit_status = exit_status,
        .claim = &claim,
    };
    return kvc_report_write(&rep, rr->dir, err, errlen);
}

void kvc_run_report_snapshot(void *ctx, const kvc_campaign_stats *s)
{
    kvc_run_reporter *rr = ctx;
    if (write_state(rr, s, "interrupted", 1, rr->err, sizeof rr->err) != 0)
        rr->snapshot_failed = 1;
}

int kvc_run_report_final(kvc_run_reporter *rr, const kvc_campaign_stats *s,
                         int exit_status, char *err, size_t errlen)
{
    return write_state(rr, s, s->interrupted ? "interrupted" : "complete",
                       exit_status, err, errlen);
}
