/*
 * report_groups.h — internal: the failures of a run grouped the way a
 * person triages them: by verdict kind (the record's outcome: numeric,
 * cache, crash, ...) and by flag (each space-separated name in
 * record.flags; a failure counts once under every flag its case has).
 * Each group keeps its count and its worst few failures, so every report
 * can open with "what failed, and where to start".
 *
 * "Worse" between two failures: one with a numeric verdict before one
 * without; among verdicts NaN first, then the higher ratio; then the lower
 * case index, then the earlier record (a total order: deterministic
 * output).
 *
 * The run's state and exit status live here too: the banner of every
 * report is built from them.
 */
#ifndef KVR_REPORT_GROUPS_H
#define KVR_REPORT_GROUPS_H

#include <stddef.h>

#include "report.h"

#define KVR_GROUP_WORST 3

typedef struct kvr_fail_group {
    const char *name;  /* the kind or flag (owned by the kvr_failures) */
    size_t run;        /* records with this key: failures for a kind; every
                          record carrying the flag for a flag */
    size_t failed;
    size_t nworst;
    size_t worst[KVR_GROUP_WORST]; /* record positions, worst first */
} kvr_fail_group;

typedef struct kvr_failures {
    size_t failed;
    size_t nkinds, nflags;
    kvr_fail_group *kinds; /* [nkinds]: most failures first, then by name */
    kvr_fail_group *flags; /* [nflags]: flags with at least one failure,
                              same order */
    char *names[2];        /* storage of the kind and flag names */
} kvr_failures;

/* 0, or -1 on allocation failure (g is then empty and safe to free). */
int kvr_failures_init(kvr_failures *g, const kvc_run_report *r);
void kvr_failures_free(kvr_failures *g);

/* < 0 when record a is the worse failure, > 0 when b is, 0 if a == b. */
int kvr_fail_cmp(const kvc_run_report *r, size_t a, size_t b);

/* Whether record pos is among the worst of a kind, or of a flag before
 * flag fi, or of flag fi before its slot ki: the reports show each worst
 * failure once, kinds first, then flags in order. */
int kvr_worst_shown(const kvr_failures *g, size_t pos, size_t fi, size_t ki);

/* The next flag name in s[0..n) from *at on: sets *start and *len and
 * returns 1, or returns 0 at the end. Names are separated by spaces, tabs,
 * newlines or commas. */
int kvr_flag_next(const char *s, size_t n, size_t *at, size_t *start,
                  size_t *len);

/* ---- the run's state ---- */

/* Whether the run had not finished when the report was written (state set
 * and not "complete"). */
int kvr_interrupted(const kvc_run_report *r);

/* The state's name: "complete" when NULL. */
const char *kvr_state_name(const kvc_run_report *r);

/* The cases the run set out to check: cases_planned, or the records when
 * it is 0 (unknown). */
unsigned long long kvr_planned(const kvc_run_report *r);

/* The exit status to report. A run exits 0 only when cases were checked
 * and all passed, so a report that says 0 while a case failed (1) or none
 * ran (4) comes from a caller that did not fill the field: the records
 * decide then. */
int kvr_exit_status(const kvc_run_report *r, size_t failed);

/* What an exit status means, in a few words. */
const char *kvr_exit_meaning(int status);

/* "PASSED", "FAILED" or "INTERRUPTED". */
const char *kvr_status_word(const kvc_run_report *r, size_t failed);

#endif /* KVR_REPORT_GROUPS_H */
