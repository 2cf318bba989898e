/*
 * tolerance.c — the tolerance model (tolerance.h, derived in tolerance.md)
 * and the comparison of a kernel's output with the oracle.
 *
 * Errors are reported LAPACK-style: err / allowed, so 1 is the edge of
 * acceptance and a report shows how close a pass came to failing.
 */
#include "tolerance.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TOL_U 0x1p-24          /* fp32 unit roundoff */
#define TOL_FTZ 0x1p-126       /* smallest normal float: a flushed weight */
#define TOL_SUBNORMAL 0x1p-149 /* smallest subnormal float */

/* 2 |naive fp32 - exact|, FlashAttention's criterion. A non-finite naive
 * value (fp32 scores that overflowed) says nothing about a kernel's error,
 * so it contributes nothing and the floor alone decides. */
static double naive_term(double naive, double exact)
{
    double e = 2.0 * fabs(naive - exact);
    return isfinite(e) ? e : 0.0;
}

/* 3 sqrt(n) + 4 (sqrt(D) + 4) S + 8: sums and rescales, score rounding
 * carried through the softmax, and the fixed count of other roundings. */
static double rounding_terms(int n, int dim, double smax)
{
    return 3.0 * sqrt((double)n) + 4.0 * (sqrt((double)dim) + 4.0) * smax +
           8.0;
}

static double larger(double a, double b)
{
    return a > b ? a : b;
}

/* Reference row (t, h) if it exists; -1 otherwise. */
static int64_t row_index(const kvc_reference *ref, int64_t t, int h)
{
    if (!ref || t < 0 || t >= ref->rows || h < 0 || h >= ref->num_q_heads)
        return -1;
    return t * ref->num_q_heads + h;
}

/* Out of range arguments get 0: nothing exists there to be allowed. */
double kvc_tol_allowed_out(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h, int d)
{
    int64_t row = row_index(ref, t, h);
    if (row < 0 || d < 0 || d >= ref->head_dim || ref->nvis[row] == 0)
        return 0.0; /* empty rows are exact */
    int64_t e = row * ref->head_dim + d;
    int n = ref->nvis[row];
    double bound = KVC_TOL_LAMBDA * TOL_U *
                        rounding_terms(n, p->cfg.head_dim, ref->smax[row]) *
                        ref->absw[e] +
                    n * (TOL_FTZ * ref->vmax[row] + TOL_SUBNORMAL);
    return larger(naive_term(ref->out32[e], ref->out[e]), bound);
}

double kvc_tol_allowed_lse(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h)
{
    int64_t row = row_index(ref, t, h);
    if (row < 0 || ref->nvis[row] == 0)
        return 0.0; /* -inf exactly */
    int n = ref->nvis[row];
    double bound =
        KVC_TOL_LAMBDA * TOL_U *
        (rounding_terms(n, p->cfg.head_dim, ref->smax[row]) +
         fabs(ref->lse[row]));
    return larger(naive_term(ref->lse32[row], ref->lse[row]), bound);
}

/* ------------------------------------------------------------------------ */
/* Comparison                                                               */
/* ------------------------------------------------------------------------ */

/* err / allowed with 0/0 = 0 and x/0 = +inf. */
static double ratio_of(double err, double allowed)
{
    if (err == 0.0)
        return 0.0;
    if (allowed == 0.0)
        return INFINITY;
    double r = err / allowed;
    return isnan(r) ? INFINITY : r;
}

/* err and ratio of one value. A non-finite value on either side passes only
 * when both are the same non-finite value: the exact -inf of an empty row's
 * lse, or NaN from a problem whose inputs hold NaN. Anything else (NaN or
 * Inf against a finite reference, a finite lse for an empty row) is +inf. */
static double judge(double got, double want, double allowed, double *err)
{
    if (!isfinite(got) || !isfinite(want)) {
        int same = (isnan(got) && isnan(want)) || got == want;
        *err = same ? 0.0 : INFINITY;
        return same ? 0.0 : INFINITY;
    }
    *err = fabs(got - want);
    return ratio_of(*err, allowed);
}

/* Where a compared value lives. */
typedef struct where {
    int seq;
    int64_t token;
    int head;
    int dim; /* -1: lse */
} where;

/* Keep the first value with the largest ratio (ties: the earliest, so the
 * report is stable). */
static void consider(kvc_verdict *v, where at, double got, double want,
                     double allowed)
{
    double err;
    double ratio = judge(got, want, allowed, &err);
    if (v->seq >= 0 && !(ratio > v->ratio))
        return;
    v->ratio = ratio;
    v->err = err;
    v->allowed = allowed;
    v->got = got;
    v->want = want;
    v->seq = at.seq;
    v->token = at.token;
    v->head = at.head;
    v->dim = at.dim;
}

static void compare_row(const kvc_problem *p, const kvc_reference *ref,
                        const float *out, const float *lse, where at,
                        kvc_verdict *v)
{
    int dim = ref->head_dim;
    int64_t row = at.token * ref->num_q_heads + at.head;
    for (int d = 0; d < dim; d++) {
        at.dim = d;
        consider(v, at, out[row * dim + d], ref->out[row * dim + d],
                 kvc_tol_allowed_out(p, ref, at.token, at.head, d));
    }
    if (!lse)
        return;
    at.dim = -1;
    consider(v, at, lse[row], ref->lse[row],
             kvc_tol_allowed_lse(p, ref, at.token, at.head));
}

static void describe(kvc_verdict *v)
{
    if (v->seq < 0) {
        snprintf(v->detail, sizeof v->detail, "no rows to compare");
        return;
    }
    char place[96];
    if (v->dim >= 0)
        snprintf(place, sizeof place, "out[seq %d, token %lld, head %d, dim %d]",
                 v->seq, (long long)v->token, v->head, v->dim);
    else
        snprintf(place, sizeof place, "lse[seq %d, token %lld, head %d]",
                 v->seq, (long long)v->token, v->head);
    snprintf(v->detail, sizeof v->detail,
             "%s: got %.9g want %.9g err %.3g allowed %.3g ratio %.3g", place,
             v->got, v->want, v->err, v->allowed, v->ratio);
}

static void reset_verdict(kvc_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->seq = -1;
    v->token = -1;
    v->head = -1;
    v->dim = -1;
}

/* A comparison that could not run: fail, and say why. */
static int refuse(kvc_verdict *v, const char *why)
{
    v->pass = 0;
    v->ratio = INFINITY;
    snprintf(v->detail, sizeof v->detail, "cannot compare: %s", why);
    return 0;
}

/* The reference must be the one of this problem (same rows and shape). */
static const char *mismatch(const kvc_problem *p, const kvc_reference *ref)
{
    char err[128];
    if (kvc_problem_check(p, err, sizeof err) != 0)
        return "invalid problem";
    int64_t rows = p->q_start[p->num_seqs];
    if (ref->rows != rows || ref->num_q_heads != p->cfg.num_q_heads ||
        ref->head_dim != p->cfg.head_dim)
        return "the reference was computed for another problem";
    if (!ref->out || !ref->lse || !ref->out32 || !ref->lse32 || !ref->absw ||
        !ref->smax || !ref->vmax || !ref->nvis)
        return "the reference is not computed";
    return NULL;
}

/* lse may be NULL: a kernel that does not produce it is judged on out. */
int kvc_compare(const kvc_problem *p, const kvc_reference *ref,
                const float *out, const float *lse, kvc_verdict *v)
{
    if (!v)
        return 0;
    reset_verdict(v);
    if (!p || !ref)
        return refuse(v, "no problem or no reference");
    const char *why = mismatch(p, ref);
    if (why)
        return refuse(v, why);
    if (!out && ref->rows > 0)
        return refuse(v, "no kernel output");
    for (int s = 0; s < p->num_seqs; s++)
        for (int i = 0; i < p->q_len[s]; i++)
            for (int h = 0; h < p->cfg.num_q_heads; h++) {
                where at = {s, p->q_start[s] + i, h, 0};
                compare_row(p, ref, out, lse, at, v);
            }
    v->pass = v->ratio <= KVC_TOL_THRESHOLD;
    describe(v);
    return v->pass;
}

int kvc_judge_outputs(const kvc_problem *p, const kvc_kv_store *store,
                      const kvc_arith *a, const float *out, const float *lse,
                      kvc_verdict *v, char *err, size_t errlen)
{
    kvc_reference ref;
    if (kvc_reference_compute_profile(p, store, a->profile, &ref, err,
                                      errlen) != 0)
        return -1;
    int pass = kvc_compare(p, &ref, out, lse, v);
    kvc_reference_free(&ref);
    v->ratio_fp32 = v->ratio;
    return pass;
}
