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
#define TOL_U_F16 0x1p-11      /* f16 unit roundoff (11 significant bits) */
#define TOL_U_BF16 0x1p-8      /* bf16 unit roundoff (8 significant bits) */
#define TOL_ETA_F16 0x1p-25    /* half f16's subnormal spacing 2^-24 */
#define TOL_ETA_BF16 0x1p-134  /* half bf16's subnormal spacing 2^-133 */

/* 2 |naive - exact|, FlashAttention's criterion. A non-finite naive
 * value (scores that overflowed, an emulated f16 accumulator past 65504)
 * says nothing about a kernel's error, so it contributes nothing and the
 * floor alone decides. */
static double naive_term(double naive, double exact)
{
    double e = 2.0 * fabs(naive - exact);
    return isfinite(e) ? e : 0.0;
}

static double larger(double a, double b)
{
    return a > b ? a : b;
}

static double smaller(double a, double b)
{
    return a < b ? a : b;
}

/* 4 (sqrt(D) + 4) S: score rounding carried through the softmax. */
static double score_term(int dim, double smax)
{
    return 4.0 * (sqrt((double)dim) + 4.0) * smax;
}

/* Reference row (t, h) if it exists; -1 otherwise. */
static int64_t row_index(const kvc_reference *ref, int64_t t, int h)
{
    if (!ref || t < 0 || t >= ref->rows || h < 0 || h >= ref->num_q_heads)
        return -1;
    return t * ref->num_q_heads + h;
}

static const kvc_arith fp32_arith = {KVC_PROFILE_FP32, KVC_KV_F32};

/* u_T and eta_T of a 16-bit type; 0 for fp32 outputs; -1 for anything
 * else (refused). */
static int out_rounding(kvc_kv_dtype t, double *u, double *eta)
{
    *u = *eta = 0.0;
    if (t == KVC_KV_F32)
        return 0;
    if (t == KVC_KV_F16) {
        *u = TOL_U_F16;
        *eta = TOL_ETA_F16;
        return 0;
    }
    if (t == KVC_KV_BF16) {
        *u = TOL_U_BF16;
        *eta = TOL_ETA_BF16;
        return 0;
    }
    return -1;
}

static int arith_ok(const kvc_arith *a)
{
    double u, eta;
    return (int)a->profile >= 0 && (int)a->profile < KVC_PROFILE_COUNT &&
           out_rounding(a->out_type, &u, &eta) == 0;
}

/* Out of range arguments get 0: nothing exists there to be allowed. */
double kvc_tol_allowed_out_arith(const kvc_problem *p,
                                 const kvc_reference *ref,
                                 const kvc_arith *a, int64_t t, int h, int d)
{
    if (!a)
        a = &fp32_arith;
    int64_t row = row_index(ref, t, h);
    if (!p || row < 0 || d < 0 || d >= ref->head_dim || ref->nvis[row] == 0 ||
        !arith_ok(a))
        return 0.0; /* empty rows are exact */
    int64_t e = row * ref->head_dim + d;
    if (!isfinite(ref->out[e]))
        return 0.0; /* judged exactly (tolerance.md, "Non-finite exact values") */
    double n = ref->nvis[row], rn = sqrt(n), S = ref->smax[row];
    double A = ref->absw[e], V = ref->vmax[row];
    double sig = smaller(A, ref->segw[e] + 2.0 * ref->tilew[e]);
    double dev = smaller(A, ref->devw[e]);
    double bound = KVC_TOL_LAMBDA * TOL_U *
                       (3.0 * rn * sig + score_term(p->cfg.head_dim, S) * dev +
                        8.0 * A) +
                   n * (TOL_FTZ * V + TOL_SUBNORMAL);
    if (a->profile == KVC_PROFILE_HALF_P) {
        kvc_kv_dtype T = kvc_profile_half_type(p->quant.dtype);
        double uT = T == KVC_KV_F16 ? TOL_U_F16 : TOL_U_BF16;
        double etaT = T == KVC_KV_F16 ? TOL_ETA_F16 : 0.0; /* bf16: in F32 */
        bound += KVC_TOL_LAMBDA * uT * (4.0 * S * dev + 2.0 * A) + n * etaT * V;
    } else if (a->profile == KVC_PROFILE_HALF_ACC) {
        bound += KVC_TOL_LAMBDA * TOL_U_F16 * (2.0 * S * dev + 2.0 * rn * sig) +
                 n * TOL_ETA_F16;
    }
    double allowed = larger(naive_term(ref->out32[e], ref->out[e]), bound);
    double uo, etao;
    out_rounding(a->out_type, &uo, &etao);
    if (uo > 0.0)
        allowed += uo * (fabs(ref->out[e]) + allowed) + etao;
    return allowed;
}

double kvc_tol_allowed_lse_arith(const kvc_problem *p,
                                 const kvc_reference *ref,
                                 const kvc_arith *a, int64_t t, int h)
{
    if (!a)
        a = &fp32_arith;
    int64_t row = row_index(ref, t, h);
    if (!p || row < 0 || ref->nvis[row] == 0 || !arith_ok(a) ||
        !isfinite(ref->lse[row]))
        return 0.0; /* -inf, or non-finite: exactly */
    double n = ref->nvis[row], S = ref->smax[row];
    double bound = KVC_TOL_LAMBDA * TOL_U *
                   (3.0 * sqrt(n) + score_term(p->cfg.head_dim, S) + 8.0 +
                    fabs(ref->lse[row]));
    if (a->profile == KVC_PROFILE_HALF_P) {
        kvc_kv_dtype T = kvc_profile_half_type(p->quant.dtype);
        double uT = T == KVC_KV_F16 ? TOL_U_F16 : TOL_U_BF16;
        bound += KVC_TOL_LAMBDA * 2.0 * uT * S;
    } else if (a->profile == KVC_PROFILE_HALF_ACC) {
        bound += KVC_TOL_LAMBDA * TOL_U_F16 * S;
    }
    return larger(naive_term(ref->lse32[row], ref->lse[row]), bound);
}

double kvc_tol_allowed_out(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h, int d)
{
    return kvc_tol_allowed_out_arith(p, ref, NULL, t, h, d);
}

double kvc_tol_allowed_lse(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h)
{
    return kvc_tol_allowed_lse_arith(p, ref, NULL, t, h);
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

/* err and ratio of one value (tolerance.md, "Non-finite exact values"). A
 * non-finite value on either side passes only when both are the same
 * non-finite value (the exact -inf of an empty row's lse, NaN from NaN or
 * infinite inputs), or, with nan_for_inf (out elements of a row with a
 * visible key), when the exact value is +-inf and the kernel's NaN: an fp32
 * weight exp(x - m) that underflows to 0 where the exact one does not, or
 * an online-softmax rescale by such a factor, turns 0 * inf into NaN.
 * Anything else (NaN or Inf against a finite reference, the other
 * infinity, a finite value against a non-finite one) is +inf. */
static double judge(double got, double want, double allowed, int nan_for_inf,
                    double *err)
{
    if (!isfinite(got) || !isfinite(want)) {
        int same = (isnan(got) && isnan(want)) || got == want ||
                   (nan_for_inf && isinf(want) && isnan(got));
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
                     double allowed, int nan_for_inf)
{
    double err;
    double ratio = judge(got, want, allowed, nan_for_inf, &err);
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
                        const kvc_arith *a, const float *out,
                        const float *lse, where at, kvc_verdict *v)
{
    int dim = ref->head_dim;
    int64_t row = at.token * ref->num_q_heads + at.head;
    for (int d = 0; d < dim; d++) {
        at.dim = d;
        consider(v, at, out[row * dim + d], ref->out[row * dim + d],
                 kvc_tol_allowed_out_arith(p, ref, a, at.token, at.head, d),
                 ref->nvis[row] > 0);
    }
    if (!lse)
        return;
    at.dim = -1;
    consider(v, at, lse[row], ref->lse[row],
             kvc_tol_allowed_lse_arith(p, ref, a, at.token, at.head), 0);
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
    char extra[96] = "";
    if (v->profile != KVC_PROFILE_FP32 || v->ratio_fp32 != v->ratio)
        snprintf(extra, sizeof extra, " (profile %s; fp32 ratio %.3g)",
                 kvc_profile_name(v->profile), v->ratio_fp32);
    snprintf(v->detail, sizeof v->detail,
             "%s: got %.9g want %.9g err %.3g allowed %.3g ratio %.3g%s",
             place, v->got, v->want, v->err, v->allowed, v->ratio, extra);
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
    v->ratio_fp32 = INFINITY;
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
        !ref->smax || !ref->vmax || !ref->nvis || !ref->segw || !ref->tilew ||
        !ref->devw)
        return "the reference is not computed";
    return NULL;
}

/* lse may be NULL: a kernel that does not produce it is judged on out. */
int kvc_compare_arith(const kvc_problem *p, const kvc_reference *ref,
                      const kvc_arith *a, const float *out, const float *lse,
                      kvc_verdict *v)
{
    if (!v)
        return 0;
    reset_verdict(v);
    if (!a)
        a = &fp32_arith;
    v->profile = a->profile;
    if (!arith_ok(a))
        return refuse(v, "unknown arithmetic profile or output type");
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
                compare_row(p, ref, a, out, lse, at, v);
            }
    v->ratio_fp32 = v->ratio;
    v->pass = v->ratio <= KVC_TOL_THRESHOLD;
    describe(v);
    return v->pass;
}

int kvc_compare(const kvc_problem *p, const kvc_reference *ref,
                const float *out, const float *lse, kvc_verdict *v)
{
    return kvc_compare_arith(p, ref, NULL, out, lse, v);
}

/* A judgement that could not run: -1, the message in err and in v. */
static int judge_error(kvc_verdict *v, const char *msg, char *err,
                       size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    if (v) {
        reset_verdict(v);
        refuse(v, msg);
    }
    return -1;
}

int kvc_judge_outputs(const kvc_problem *p, const kvc_kv_store *store,
                      const kvc_arith *a, const float *out, const float *lse,
                      kvc_verdict *v, char *err, size_t errlen)
{
    return kvc_judge_outputs_ref(p, store, a, out, lse, v, NULL, err, errlen);
}

int kvc_judge_outputs_ref(const kvc_problem *p, const kvc_kv_store *store,
                          const kvc_arith *a, const float *out,
                          const float *lse, kvc_verdict *v,
                          kvc_reference *keep, char *err, size_t errlen)
{
    if (keep)
        memset(keep, 0, sizeof *keep);
    char msg[200] = "";
    if (!v)
        return judge_error(NULL, "no verdict to fill", err, errlen);
    if (!a)
        a = &fp32_arith;
    if (!arith_ok(a))
        return judge_error(v, "unknown arithmetic profile or output type",
                           err, errlen);
    if (!p)
        return judge_error(v, "no problem given", err, errlen);
    /* One store for both references (an f32 cache is read in place). */
    kvc_kv_store own;
    memset(&own, 0, sizeof own);
    if (!store && p->quant.dtype != KVC_KV_F32) {
        if (kvc_kv_store_compute(p, &own, msg, sizeof msg) != 0)
            return judge_error(v, msg, err, errlen);
        store = &own;
    }
    kvc_reference ref;
    if (kvc_reference_compute_profile(p, store, a->profile, &ref, msg,
                                      sizeof msg) != 0) {
        kvc_kv_store_free(&own);
        return judge_error(v, msg, err, errlen);
    }
    int pass = kvc_compare_arith(p, &ref, a, out, lse, v);
    if (keep)
        *keep = ref; /* the caller's now */
    else
        kvc_reference_free(&ref);
    if (strncmp(v->detail, "cannot compare: ", 16) == 0) {
        snprintf(msg, sizeof msg, "%s", v->detail + 16);
        kvc_kv_store_free(&own);
        if (keep)
            kvc_reference_free(keep);
        return judge_error(v, msg, err, errlen);
    }
    if (a->profile != KVC_PROFILE_FP32 || a->out_type != KVC_KV_F32) {
        kvc_verdict v32;
        if (kvc_reference_compute_stored(p, store, &ref, msg, sizeof msg) !=
            0) {
            if (keep)
                kvc_reference_free(keep);
            kvc_kv_store_free(&own);
            return judge_error(v, msg, err, errlen);
        }
        kvc_compare(p, &ref, out, lse, &v32);
        kvc_reference_free(&ref);
        v->ratio_fp32 = v32.ratio;
        describe(v);
    }
    kvc_kv_store_free(&own);
    return pass;
}
