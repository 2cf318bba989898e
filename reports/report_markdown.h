/*
 * report_markdown.h — internal: the failure parts of summary.md
 * (report_markdown_failures.c), used by report_markdown.c.
 */
#ifndef KVR_REPORT_MARKDOWN_H
#define KVR_REPORT_MARKDOWN_H

#include <stdio.h>

#include "report.h"
#include "report_groups.h"
#include "report_stats.h"

/* "What failed": the failing modes and KV formats, counts by verdict kind
 * and by flag, the worst few of
 * each kind. Nothing when no case failed. */
void kvr_md_what_failed(FILE *f, const kvc_run_report *r, const kvr_stats *s,
                        const kvr_failures *g);

/* The worst few of each flag that kvr_md_what_failed did not show. */
void kvr_md_flag_worst(FILE *f, const kvc_run_report *r,
                       const kvr_failures *g);

/* The record's flags as code spans ("none" without flags). */
void kvr_md_flags(FILE *f, const kvc_case_record *c, int in_table);

/* "Reproducer: [file](file)" and a blank line, or nothing without one. */
void kvr_md_repro(FILE *f, const kvc_case_record *c);

#endif /* KVR_REPORT_MARKDOWN_H */
