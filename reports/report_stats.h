/*
 * report_stats.h — internal: the numbers every report shows, computed once
 * from a kvc_run_report: counts per group of records (one grouping by
 * kernel mode, one by KV cache format; the same code computes both), the
 * worst and median error ratios and the records ordered from worst ratio
 * to best.
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

/* The records that share one key (a mode, a KV cache format). */
typedef struct kvr_group {
    const char *name;  /* the key, or "unknown"; points into the records */
    size_t run, failed, verdicts;
    size_t worst;      /* record position of the worst ratio, KVR_NONE */
    double median;     /* median ratio over verdicts; NaN if none */
    double seconds;    /* sum of the cases' seconds (negatives as 0) */
} kvr_group;

/* The key of a record: never NULL, valid as long as the record is. */
typedef const char *(*kvr_key_fn)(const kvc_case_record *c);

/* The records grouped by one key. */
typedef struct kvr_grouping {
    size_t n;
    kvr_group *groups; /* [n], sorted by name (strcmp) */
    size_t *of;        /* [cases]: index into groups of each record */
} kvr_grouping;

typedef struct kvr_stats {
    size_t cases, failed, verdicts;
    size_t invalid, invalid_failed; /* invalid variants (records with an
                                invalid_rule) and those that failed */
    size_t stateful, stateful_failed; /* stateful sequences (records with
                                a stateful kind) and those that failed */
    size_t worst;            /* record position of the worst ratio, KVR_NONE */
    kvr_grouping modes;      /* by kvr_mode_name */
    kvr_grouping formats;    /* by kvr_format_name */
    size_t *by_ratio;        /* [verdicts]: record positions, worst first */
} kvr_stats;

/* 0, or -1 on allocation failure (s is then empty and safe to free). */
int kvr_stats_init(kvr_stats *s, const kvc_run_report *r);
void kvr_stats_free(kvr_stats *s);

/* The record's mode / KV cache format / outcome names, never NULL
 * ("unknown" when unset; a kv_format without a NUL is "unknown" too). */
const char *kvr_mode_name(const kvc_case_record *c);
const char *kvr_format_name(const kvc_case_record *c);
const char *kvr_outcome_name(const kvc_case_record *c);

/* "1250 invalid variants, all refused correctly" (or "..., 3 not
 * refused correctly"), the line every report shows. */
void kvr_invalid_summary(const kvr_stats *s, char *buf, size_t n);

/* "156 stateful sequences, all agree with the models" (or "..., 2
 * disagree"), the line every report shows. */
void kvr_stateful_summary(const kvr_stats *s, char *buf, size_t n);

/* Whether run report r passed: no record failed. */
int kvr_run_passed(const kvr_stats *s);

#endif /* KVR_REPORT_STATS_H */
