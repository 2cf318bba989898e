/*
 * report_stats.c — counts per group (kernel mode, KV cache format),
 * worst/median ratios and the ordering of records by ratio
 * (report_stats.h).
 */
#include "report_stats.h"

#include <stdio.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *kvr_mode_name(const kvc_case_record *c)
{
    return c->mode && c->mode[0] ? c->mode : "unknown";
}

const char *kvr_format_name(const kvc_case_record *c)
{
    if (!c->kv_format[0] || !memchr(c->kv_format, '\0', sizeof c->kv_format))
        return "unknown";
    return c->kv_format;
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

static size_t find_group(const kvr_grouping *g, const char *name)
{
    size_t lo = 0, hi = g->n;

    while (lo < hi) { /* groups are sorted: binary search */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->groups[mid].name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return KVR_NONE;
}

/* The distinct keys, sorted, into g->groups. */
static int collect_groups(kvr_grouping *g, const kvc_run_report *r,
                          kvr_key_fn key_of)
{
    const char **names;
    size_t i, n = 0;

    if (r->num_records == 0)
        return 0;
    names = malloc(r->num_records * sizeof *names);
    if (!names)
        return -1;
    for (i = 0; i < r->num_records; i++)
        names[i] = key_of(&r->records[i]);
    qsort(names, r->num_records, sizeof *names, cmp_str);
    for (i = 0; i < r->num_records; i++)
        if (n == 0 || strcmp(names[n - 1], names[i]) != 0)
            names[n++] = names[i];
    g->groups = calloc(n, sizeof *g->groups);
    if (!g->groups) {
        free(names);
        return -1;
    }
    for (i = 0; i < n; i++) {
        g->groups[i].name = names[i];
        g->groups[i].worst = KVR_NONE;
        g->groups[i].median = NAN;
    }
    g->n = n;
    free(names);
    return 0;
}

/* Median of a group's ratios; keys are worst first, so walk backwards from
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

/* Group the records by key_of: counts, seconds, and from the verdicts'
 * keys (sorted worst first, nv of them) each group's worst and median. */
static int group_by(kvr_grouping *g, const kvc_run_report *r,
                    kvr_key_fn key_of, const key *keys, size_t nv)
{
    key *gk = NULL;
    size_t *at = NULL;
    size_t i, m, off;

    if (collect_groups(g, r, key_of))
        return -1;
    if (r->num_records == 0)
        return 0;
    g->of = malloc(r->num_records * sizeof *g->of);
    at = malloc(g->n * sizeof *at);
    if (nv)
        gk = malloc(nv * sizeof *gk);
    if (!g->of || !at || (nv && !gk)) {
        free(at);
        free(gk);
        return -1;
    }
    for (i = 0; i < r->num_records; i++) {
        const kvc_case_record *c = &r->records[i];
        kvr_group *gr;

        g->of[i] = find_group(g, key_of(c));
        gr = &g->groups[g->of[i]];
        gr->run++;
        if (c->seconds > 0 && isfinite(c->seconds))
            gr->seconds += c->seconds;
        gr->failed += !c->passed;
        gr->verdicts += c->has_verdict != 0;
    }
    /* each group's keys, contiguous and still worst first */
    for (m = 0, off = 0; m < g->n; m++) {
        at[m] = off;
        off += g->groups[m].verdicts;
    }
    for (i = 0; i < nv; i++)
        gk[at[g->of[keys[i].pos]]++] = keys[i];
    for (m = 0, off = 0; m < g->n; m++) {
        kvr_group *gr = &g->groups[m];
        if (gr->verdicts) {
            gr->worst = gk[off].pos;
            gr->median = median_of(gk + off, gr->verdicts);
        }
        off += gr->verdicts;
    }
    free(at);
    free(gk);
    return 0;
}

static void grouping_free(kvr_grouping *g)
{
    free(g->groups);
    free(g->of);
    memset(g, 0, sizeof *g);
}

int kvr_stats_init(kvr_stats *s, const kvc_run_report *r)
{
    key *keys = NULL;
    size_t i, nv = 0;

    memset(s, 0, sizeof *s);
    s->worst = KVR_NONE;
    if (!r->records && r->num_records) /* a malformed report */
        return -1;
    if (r->num_records) {
        keys = malloc(r->num_records * sizeof *keys);
        if (!keys)
            goto fail;
    }
    s->cases = r->num_records;
    for (i = 0; i < r->num_records; i++) {
        const kvc_case_record *c = &r->records[i];

        s->failed += !c->passed;
        if (c->invalid_rule[0] != '\0') {
            s->invalid++;
            s->invalid_failed += !c->passed;
        }
        if (c->stateful[0] != '\0') {
            s->stateful++;
            s->stateful_failed += !c->passed;
        }
        if (c->has_verdict) {
            keys[nv].ratio = c->ratio;
            keys[nv].index = c->index;
            keys[nv].pos = i;
            nv++;
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
    if (group_by(&s->modes, r, kvr_mode_name, keys, nv) ||
        group_by(&s->formats, r, kvr_format_name, keys, nv))
        goto fail;
    free(keys);
    return 0;
fail:
    free(keys);
    kvr_stats_free(s);
    return -1;
}

void kvr_stats_free(kvr_stats *s)
{
    grouping_free(&s->modes);
    grouping_free(&s->formats);
    free(s->by_ratio);
    memset(s, 0, sizeof *s);
    s->worst = KVR_NONE;
}

void kvr_stateful_summary(const kvr_stats *s, char *buf, size_t n)
{
    if (s->stateful_failed)
        snprintf(buf, n, "%zu stateful sequences, %zu disagree with the models",
                 s->stateful, s->stateful_failed);
    else
        snprintf(buf, n, "%zu stateful sequences, all agree with the models",
                 s->stateful);
}

void kvr_invalid_summary(const kvr_stats *s, char *buf, size_t n)
{
    if (s->invalid_failed)
        snprintf(buf, n, "%zu invalid variants, %zu not refused correctly",
                 s->invalid, s->invalid_failed);
    else
        snprintf(buf, n, "%zu invalid variants, all refused correctly",
                 s->invalid);
}
