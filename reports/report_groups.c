/*
 * report_groups.c — the failures grouped by verdict kind and by flag, each
 * group with its worst few (report_groups.h); the run's state and exit
 * status.
 *
 * Grouping sorts (name, record) pairs: one pair per failure for the kinds,
 * one per (record, flag) for the flags, every record included so a flag
 * also says how many cases carried it. A name repeated inside one record's
 * flags lands next to itself after the sort and counts once.
 */
#include "report_groups.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_stats.h"

/* A name (not NUL-terminated: flags are cut out of a record's array) and
 * the record it came from. */
typedef struct tok {
    const char *s;
    size_t len, pos;
} tok;

static int is_sep(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == ',';
}

int kvr_flag_next(const char *s, size_t n, size_t *at, size_t *start,
                  size_t *len)
{
    size_t i = *at;

    while (i < n && s[i] && is_sep(s[i]))
        i++;
    *start = i;
    while (i < n && s[i] && !is_sep(s[i]))
        i++;
    *at = i;
    *len = i - *start;
    return *len > 0;
}

int kvr_fail_cmp(const kvc_run_report *r, size_t a, size_t b)
{
    const kvc_case_record *x = &r->records[a], *y = &r->records[b];
    int vx = x->has_verdict != 0, vy = y->has_verdict != 0;

    if (vx != vy)
        return vx ? -1 : 1;
    if (vx) {
        int nx = isnan(x->ratio), ny = isnan(y->ratio);
        if (nx != ny)
            return nx ? -1 : 1;
        if (!nx && x->ratio != y->ratio)
            return x->ratio > y->ratio ? -1 : 1;
    }
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return (a > b) - (a < b);
}

static int cmp_tok(const void *pa, const void *pb)
{
    const tok *a = pa, *b = pb;
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

    if (c)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Most failures first, then by name. */
static int cmp_group(const void *pa, const void *pb)
{
    const kvr_fail_group *a = pa, *b = pb;

    if (a->failed != b->failed)
        return a->failed > b->failed ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Keep record pos among g's worst few (kept sorted, worst first). */
static void keep_worst(kvr_fail_group *g, const kvc_run_report *r, size_t pos)
{
    size_t k;

    if (g->nworst == KVR_GROUP_WORST) {
        if (kvr_fail_cmp(r, pos, g->worst[KVR_GROUP_WORST - 1]) >= 0)
            return;
        k = KVR_GROUP_WORST - 1; /* the best of the kept drops out */
    } else {
        k = g->nworst++;
    }
    while (k > 0 && kvr_fail_cmp(r, pos, g->worst[k - 1]) < 0) {
        g->worst[k] = g->worst[k - 1];
        k--;
    }
    g->worst[k] = pos;
}

static int same_name(const tok *a, const tok *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Groups from the sorted pairs t[0..n): those with a failure, their names
 * copied into *arena. */
static int build(kvr_fail_group **out, size_t *nout, char **arena,
                 const tok *t, size_t n, const kvc_run_report *r)
{
    size_t i, ng = 0, bytes = 0, used = 0;
    kvr_fail_group *g;

    for (i = 0; i < n; i++)
        if (i == 0 || !same_name(&t[i - 1], &t[i])) {
            ng++;
            bytes += t[i].len + 1;
        }
    *out = g = calloc(ng ? ng : 1, sizeof *g);
    *arena = malloc(bytes ? bytes : 1);
    if (!g || !*arena)
        return -1;
    ng = 0;
    for (i = 0; i < n; i++) {
        if (i == 0 || !same_name(&t[i - 1], &t[i])) {
            memcpy(*arena + used, t[i].s, t[i].len);
            (*arena)[used + t[i].len] = '\0';
            g[ng++].name = *arena + used;
            used += t[i].len + 1;
        } else if (t[i - 1].pos == t[i].pos) {
            continue; /* a flag named twice in one record */
        }
        g[ng - 1].run++;
        if (!r->records[t[i].pos].passed) {
            g[ng - 1].failed++;
            keep_worst(&g[ng - 1], r, t[i].pos);
        }
    }
    for (i = 0, *nout = 0; i < ng; i++) /* drop groups without a failure */
        if (g[i].failed)
            g[(*nout)++] = g[i];
    qsort(g, *nout, sizeof *g, cmp_group);
    return 0;
}

/* A growing array of pairs. */
typedef struct toks {
    tok *t;
    size_t n, cap;
} toks;

static int push(toks *v, const char *s, size_t len, size_t pos)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        tok *nt = realloc(v->t, cap * sizeof *nt);
        if (!nt)
            return -1;
        v->t = nt, v->cap = cap;
    }
    v->t[v->n].s = s, v->t[v->n].len = len, v->t[v->n++].pos = pos;
    return 0;
}

/* The (name, record) pairs: each failure's outcome (flags == 0), or each
 * record's flags. 0, or -1 on allocation failure. */
static int pairs(toks *v, const kvc_run_report *r, int flags)
{
    size_t i;

    for (i = 0; i < r->num_records; i++) {
        const kvc_case_record *c = &r->records[i];
        size_t at = 0, start, len;

        if (!flags) {
            const char *name = kvr_outcome_name(c);
            if (!c->passed && push(v, name, strlen(name), i))
                return -1;
            continue;
        }
        while (kvr_flag_next(c->flags, sizeof c->flags, &at, &start, &len))
            if (push(v, c->flags + start, len, i))
                return -1;
    }
    return 0;
}

int kvr_failures_init(kvr_failures *g, const kvc_run_report *r)
{
    kvr_fail_group **out[2] = {&g->kinds, &g->flags};
    size_t *nout[2] = {&g->nkinds, &g->nflags};
    size_t i;
    int f;

    memset(g, 0, sizeof *g);
    if (!r->records && r->num_records)
        return -1;
    for (i = 0; i < r->num_records; i++)
        g->failed += !r->records[i].passed;
    for (f = 0; f < 2; f++) {
        toks v = {0};
        int rc = pairs(&v, r, f);

        if (rc == 0) {
            if (v.n) /* qsort wants a valid pointer even for 0 */
                qsort(v.t, v.n, sizeof *v.t, cmp_tok);
            rc = build(out[f], nout[f], &g->names[f], v.t, v.n, r);
        }
        free(v.t);
        if (rc) {
            kvr_failures_free(g);
            return -1;
        }
    }
    return 0;
}

void kvr_failures_free(kvr_failures *g)
{
    free(g->kinds);
    free(g->flags);
    free(g->names[0]);
    free(g->names[1]);
    memset(g, 0, sizeof *g);
}

int kvr_worst_shown(const kvr_failures *g, size_t pos, size_t fi, size_t ki)
{
    size_t j, k;

    for (j = 0; j < g->nkinds; j++)
        for (k = 0; k < g->kinds[j].nworst; k++)
            if (g->kinds[j].worst[k] == pos)
                return 1;
    for (j = 0; j <= fi && j < g->nflags; j++)
        for (k = 0; k < (j == fi ? ki : g->flags[j].nworst); k++)
            if (g->flags[j].worst[k] == pos)
                return 1;
    return 0;
}

/* ---- the run's state ---- */

int kvr_interrupted(const kvc_run_report *r)
{
    return r->state && strcmp(r->state, "complete") != 0;
}

const char *kvr_state_name(const kvc_run_report *r)
{
    return r->state && r->state[0] ? r->state : "complete";
}

unsigned long long kvr_planned(const kvc_run_report *r)
{
    return r->cases_planned ? (unsigned long long)r->cases_planned
                            : (unsigned long long)r->num_records;
}

int kvr_exit_status(const kvc_run_report *r, size_t failed)
{
    if (r->exit_status != 0)
        return r->exit_status;
    if (failed)
        return 1;
    return r->num_records ? 0 : 4;
}

const char *kvr_exit_meaning(int status)
{
    switch (status) {
    case 0: return "every checked case passed";
    case 1: return "a case failed";
    case 2: return "usage error";
    case 3: return "I/O or internal error";
    case 4: return "nothing checked";
    default: return "unknown status";
    }
}

const char *kvr_status_word(const kvc_run_report *r, size_t failed)
{
    if (kvr_interrupted(r))
        return "INTERRUPTED";
    return kvr_exit_status(r, failed) == 0 ? "PASSED" : "FAILED";
}
