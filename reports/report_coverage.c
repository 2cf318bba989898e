/*
 * report_coverage.c — counts of cases per (mode, GQA bucket, head_dim,
 * block_size) cell for the coverage grids (report_coverage.h).
 */
#include "report_coverage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH "\xe2\x80\x93" /* en dash */

static const char *const gqa_labels[KVR_COV_GQA] = {
    "1", "2" DASH "3", "4" DASH "7", "8+", "invalid"};

const char *kvr_cov_gqa_label(int gqa)
{
    return gqa >= 0 && gqa < KVR_COV_GQA ? gqa_labels[gqa] : "?";
}

static int gqa_bucket(const kvc_case_record *c)
{
    int q;

    if (c->num_kv_heads < 1 || c->num_q_heads < c->num_kv_heads)
        return 4;
    q = c->num_q_heads / c->num_kv_heads;
    return q >= 8 ? 3 : q >= 4 ? 2 : q >= 2 ? 1 : 0;
}

/* floor(log2(v)) for v >= 1. */
static int ilog2(int v)
{
    int k = 0;

    while (v > 1) {
        v >>= 1;
        k++;
    }
    return k;
}

/* head_dim buckets: 1, 2-7, then powers of two up to 128+. */
static int head_dim_bucket(int v)
{
    int k = ilog2(v);

    if (v == 1)
        return 0;
    if (k <= 2)
        return 1;
    return k >= 7 ? 6 : k - 1;
}

static const char *const head_dim_labels[7] = {
    "1", "2" DASH "7", "8" DASH "15", "16" DASH "31",
    "32" DASH "63", "64" DASH "127", "128+"};

static int cmp_int(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

/* Build an axis from the values vals[0..n) (sorted in place). */
static void axis_build(kvr_cov_axis *ax, int *vals, size_t n,
                       size_t exact_max, int head_dim)
{
    size_t i, d = 0;
    int below = 0, top = 0;

    memset(ax, 0, sizeof *ax);
    qsort(vals, n, sizeof *vals, cmp_int);
    for (i = 0; i < n; i++)
        if (d == 0 || vals[i] != vals[d - 1])
            vals[d++] = vals[i];
    if (d <= exact_max) {
        ax->exact = 1;
        ax->n = d;
        for (i = 0; i < d; i++) {
            ax->values[i] = vals[i];
            snprintf(ax->labels[i], KVR_COV_LABEL, "%d", vals[i]);
        }
    } else {
        below = vals[0] < 1;
        ax->below_one = below;
        if (below)
            snprintf(ax->labels[ax->n++], KVR_COV_LABEL, "<1");
        if (head_dim) {
            for (i = 0; i < 7; i++)
                snprintf(ax->labels[ax->n++], KVR_COV_LABEL, "%s",
                         head_dim_labels[i]);
        } else {
            top = vals[d - 1] >= 1 ? ilog2(vals[d - 1]) : 0;
            for (i = 0; i <= (size_t)top; i++) {
                unsigned lo = 1u << i, hi = (1u << (i + 1)) - 1u;
                if (i == 0)
                    snprintf(ax->labels[ax->n++], KVR_COV_LABEL, "1");
                else
                    snprintf(ax->labels[ax->n++], KVR_COV_LABEL,
                             "%u" DASH "%u", lo, hi);
            }
        }
    }
    for (i = 0; i < ax->n; i++)
        ax->label_ptr[i] = ax->labels[i];
}

static size_t axis_index(const kvr_cov_axis *ax, int v, int head_dim)
{
    size_t lo = 0, hi = ax->n;

    if (ax->exact) {
        while (lo < hi) { /* values are sorted and contain v */
            size_t mid = lo + (hi - lo) / 2;
            if (ax->values[mid] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    if (v < 1)
        return 0;
    return (size_t)ax->below_one +
           (size_t)(head_dim ? head_dim_bucket(v) : ilog2(v));
}

size_t kvr_cov_grid_offset(const kvr_coverage *cv, size_t mode, int gqa)
{
    return (mode * KVR_COV_GQA + (size_t)gqa) * cv->rows.n * cv->cols.n;
}

int kvr_coverage_init(kvr_coverage *cv, const kvc_run_report *r,
                      const kvr_stats *s)
{
    size_t i, cells;
    int *vals;

    memset(cv, 0, sizeof *cv);
    cv->num_modes = s->modes.n;
    if (r->num_records == 0)
        return 0;
    vals = malloc(r->num_records * sizeof *vals);
    if (!vals)
        return -1;
    for (i = 0; i < r->num_records; i++)
        vals[i] = r->records[i].head_dim;
    axis_build(&cv->rows, vals, r->num_records, KVR_COV_EXACT_ROWS, 1);
    for (i = 0; i < r->num_records; i++)
        vals[i] = r->records[i].block_size;
    axis_build(&cv->cols, vals, r->num_records, KVR_COV_EXACT_COLS, 0);
    free(vals);

    cells = s->modes.n * KVR_COV_GQA * cv->rows.n * cv->cols.n;
    cv->counts = calloc(cells, sizeof *cv->counts);
    cv->fails = calloc(cells, sizeof *cv->fails);
    if (!cv->counts || !cv->fails) {
        kvr_coverage_free(cv);
        return -1;
    }
    for (i = 0; i < r->num_records; i++) {
        const kvc_case_record *c = &r->records[i];
        int g = gqa_bucket(c);
        size_t at = kvr_cov_grid_offset(cv, s->modes.of[i], g) +
                    axis_index(&cv->rows, c->head_dim, 1) * cv->cols.n +
                    axis_index(&cv->cols, c->block_size, 0);
        cv->gqa_hit[g] = 1;
        cv->counts[at]++;
        if (!c->passed)
            cv->fails[at]++;
        if (cv->counts[at] > cv->max_count)
            cv->max_count = cv->counts[at];
    }
    return 0;
}

void kvr_coverage_free(kvr_coverage *cv)
{
    free(cv->counts);
    free(cv->fails);
    cv->counts = cv->fails = NULL;
}
