/*
 * run_report.h — the report of `kvcheck run`, kept so that it survives the
 * run: its directory is created and proven writable before the first case
 * (a default directory is unique to the run, never shared by two runs
 * started in the same second), the report is rewritten while the campaign
 * runs (marked "interrupted": the run had not finished when it was
 * written), and a last time when it ends ("complete", or "interrupted"
 * when a signal stopped it).
 */
#ifndef KVC_RUN_REPORT_H
#define KVC_RUN_REPORT_H

#include <stddef.h>

#include "campaign.h"

typedef struct kvc_run_reporter {
    char dir[1024];
    const kvc_campaign_opts *o;
    const char *command;     /* the command line, for the report */
    const char *started;     /* ISO 8601 UTC */
    const char *kernel_name;
    int snapshot_failed;     /* a snapshot could not be written (err) */
    char err[512];
} kvc_run_reporter;

/* Create the report directory: `dir`, or NULL for a new
 * reports/out/<UTC time>[-N] of its own; prove it writable. Returns 0, or
 * -1 with a message. */
int kvc_run_report_open(kvc_run_reporter *rr, const char *dir, char *err,
                        size_t errlen);

/* A snapshot while the campaign runs (kvc_campaign_opts.snapshot; ctx is
 * the reporter). A failure is kept in rr->err and reported at the end. */
void kvc_run_report_snapshot(void *ctx, const kvc_campaign_stats *s);

/* The final report, with the exit status the run ends with. Returns 0, or
 * -1 with a message. */
int kvc_run_report_final(kvc_run_reporter *rr, const kvc_campaign_stats *s,
                         int exit_status, char *err, size_t errlen);

#endif
