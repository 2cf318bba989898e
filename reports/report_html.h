/*
 * report_html.h — internal: the parts of index.html about failures
 * (report_html_failures.c), used by report_html.c, which writes the page.
 */
#ifndef KVR_REPORT_HTML_H
#define KVR_REPORT_HTML_H

#include <stdio.h>

#include "report.h"
#include "report_groups.h"
#include "report_stats.h"

/* The full failure list shows at most this many rows (summary.json has
 * them all), so a run with thousands of failures stays a few MB. */
#define KVR_HTML_MAX_FAILURES 500

/* The CSS of these parts. */
extern const char kvr_html_failures_css[];

/* The status banner: PASSED / FAILED / INTERRUPTED, cases done of planned,
 * failures, the exit status and its meaning. */
void kvr_html_banner(FILE *f, const kvc_run_report *r, const kvr_stats *s);

/* "What failed": the failing modes and KV formats, counts by verdict kind
 * and by flag, and the worst few of
 * each kind, every one with its message, flags, replay command and
 * reproducer link (a card). Nothing when no case failed. */
void kvr_html_what_failed(FILE *f, const kvc_run_report *r,
                          const kvr_stats *s, const kvr_failures *g);

/* Cards of the worst few of each flag that kvr_html_what_failed did not
 * show (the flag table links to them). */
void kvr_html_flag_worst(FILE *f, const kvc_run_report *r,
                         const kvr_failures *g);

/* Every failure in case order, collapsed, at most KVR_HTML_MAX_FAILURES. */
void kvr_html_failure_list(FILE *f, const kvc_run_report *r,
                           const kvr_stats *s);

/* HTML-escaped text. */
void kvr_html_esc(FILE *f, const char *s, size_t n);

/* A replay command as a code block that wraps instead of being clipped. */
void kvr_html_replay(FILE *f, const kvc_case_record *c);

/* A link to the record's reproducer file, or nothing when it has none. */
void kvr_html_repro(FILE *f, const kvc_case_record *c);

/* The record's flags, each in its own span ("none" when it has none). */
void kvr_html_flags(FILE *f, const kvc_case_record *c);

#endif /* KVR_REPORT_HTML_H */
