/*
 * report_stats.h — internal: the numbers every report shows, computed once
 * from a kvc_run_report: counts per kernel mode, the worst and median error
 * ratios and the records ordered from worst ratio to best.
 *
 * Ordering of ratios ("worse"): NaN is worst (a verdict that produced NaN
 * is broken), then larger ratios; ties go to the lower case index, then the
 * earlier record, so the order is total and the output deterministic.
 */
#ifndef KVR_REPORT_STATS_H
#define KVR_REPORT_STATS_H

#include <stddef.h>

#include "report.h"

#define KVR_NONE ((size_t)-1)

typedef struct kvr_mode {
    const char *name;  /* the record's mode, or "unknown" */
    size_t run, failed, verdicts;
    size_t worst;      /* record position of the worst ratio, KVR_NONE */
    double median;     /* median ratio over verdicts; NaN if none */
    double seconds;    /* sum of the cases' seconds (negatives as 0) */
} kvr_mode;

typedef struct kvr_stats {
    size_t cases, failed, verdicts;
    size_t worst;            /* record position of the worst ratio, KVR_NONE */
    size_t num_modes;
    kvr_mode *modes;         /* sorted by name */
    size_t *mode_of;         /* [cases]: index into modes */
    size_t *by_ratio;        /* [verdicts]: record positions, worst first */
} kvr_stats;

/* 0, or -1 on allocation failure (s is then empty and safe to free). */
int kvr_stats_init(kvr_stats *s, const kvc_run_report *r);
void kvr_stats_free(kvr_stats *s);

/* The record's mode / outcome names, never NULL. */
const char *kvr_mode_name(const kvc_case_record *c);
const char *kvr_outcome_name(const kvc_case_record *c);

/* Whether run report r passed: no record failed. */
int kvr_run_passed(const kvr_stats *s);

#endif /* KVR_REPORT_STATS_H */
