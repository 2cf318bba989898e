/*
 * report_stats.c — counts per mode, worst/median ratios and the ordering of
 * records by ratio (report_stats.h).
 */
#include "report_stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *kvr_mode_name(const kvc_case_record *c)
{
    return c->mode && c->mode[0] ? c->mode : "unknown";
}

const char *kvr_outcome_name(const kvc_case_record *c)
{
    return c->outcome && c->outcome[0] ? c->outcome : "unknown";
}

int kvr_run_passed(const kvr_stats *s)
{
    return s->failed == 0;
}

/* A sort key: one ratio with what breaks ties. */
typedef struct key {
    double ratio;
    uint64_t index;
    size_t pos;
} key;

/* Worst first: NaN, then descending ratio, then index, then position. */
static int cmp_worst_first(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    int na = isnan(a->ratio), nb = isnan(b->ratio);

    if (na != nb)
        return na ? -1 : 1;
    if (!na && a->ratio != b->ratio)
        return a->ratio > b->ratio ? -1 : 1;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int cmp_str(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static size_t find_mode(const kvr_stats *s, const char *name)
{
    size_t lo = 0, hi = s->num_modes;

    while (lo < hi) { /* modes are sorted: binary search */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->modes[mid].name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return KVR_NONE;
}

/* The distinct mode names, sorted, into s->modes. */
static int collect_modes(kvr_stats *s, const kvc_run_report *r)
{
    const char **names;
    size_t i, n = 0;

    if (r->num_records == 0)
        return 0;
    names = malloc(r->num_records * sizeof *names);
    if (!names)
        return -1;
    for (i = 0; i < r->num_records; i++)
        names[i] = kvr_mode_name(&r->records[i]);
    qsort(names, r->num_records, sizeof *names, cmp_str);
    for (i = 0; i < r->num_records; i++)
        if (n == 0 || strcmp(names[n - 1], names[i]) != 0)
            names[n++] = names[i];
    s->modes = calloc(n, sizeof *s->modes);
    if (!s->modes) {
        free(names);
        return -1;
    }
    for (i = 0; i < n; i++) {
        s->modes[i].name = names[i];
        s->modes[i].worst = KVR_NONE;
        s->modes[i].median = NAN;
    }
    s->num_modes = n;
    free(names);
    return 0;
}

/* Median of the mode's ratios; keys are worst first, so walk backwards from
 * the best. */
static double median_of(const key *k, size_t n)
{
    double a, b;

    if (n == 0)
        return NAN;
    /* ascending position i is k[n - 1 - i] */
    a = k[n - 1 - (n - 1) / 2].ratio;
    b = k[n - 1 - n / 2].ratio;
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == b) /* also covers inf */
        return a;
    return a / 2 + b / 2;
}

int kvr_stats_init(kvr_stats *s, const kvc_run_report *r)
{
    key *keys = NULL, *mk = NULL;
    size_t i, m, nv = 0;

    memset(s, 0, sizeof *s);
    s->worst = KVR_NONE;
    if (!r->records && r->num_records) /* a malformed report */
        return -1;
    if (collect_modes(s, r))
        goto fail;
    if (r->num_records) {
        s->mode_of = malloc(r->num_records * sizeof *s->mode_of);
        keys = malloc(r->num_records * sizeof *keys);
        mk = malloc(r->num_records * sizeof *mk);
        if (!s->mode_of || !keys || !mk)
            goto fail;
    }
    s->cases = r->num_records;
    for (i = 0; i < r->num_records; i++) {
        const kvc_case_record *c = &r->records[i];
        kvr_mode *md;

        s->mode_of[i] = find_mode(s, kvr_mode_name(c));
        md = &s->modes[s->mode_of[i]];
        md->run++;
        if (c->seconds > 0 && isfinite(c->seconds))
            md->seconds += c->seconds;
        if (!c->passed) {
            md->failed++;
            s->failed++;
        }
        if (c->has_verdict) {
            keys[nv].ratio = c->ratio;
            keys[nv].index = c->index;
            keys[nv].pos = i;
            nv++;
            md->verdicts++;
        }
    }
    s->verdicts = nv;
    if (nv) {
        qsort(keys, nv, sizeof *keys, cmp_worst_first);
        s->by_ratio = malloc(nv * sizeof *s->by_ratio);
        if (!s->by_ratio)
            goto fail;
        for (i = 0; i < nv; i++)
            s->by_ratio[i] = keys[i].pos;
        s->worst = keys[0].pos;
    }
    for (m = 0; m < s->num_modes; m++) {
        size_t k = 0;
        for (i = 0; i < nv; i++) /* keeps the worst-first order */
            if (s->mode_of[keys[i].pos] == m)
                mk[k++] = keys[i];
        if (k) {
            s->modes[m].worst = mk[0].pos;
            s->modes[m].median = median_of(mk, k);
        }
    }
    free(keys);
    free(mk);
    return 0;
fail:
    free(keys);
    free(mk);
    kvr_stats_free(s);
    return -1;
}

void kvr_stats_free(kvr_stats *s)
{
    free(s->modes);
    free(s->mode_of);
    free(s->by_ratio);
    memset(s, 0, sizeof *s);
    s->worst = KVR_NONE;
}
