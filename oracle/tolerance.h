/*
 * tolerance.h — the tolerance model and the comparison of a kernel's output
 * with the oracle. The model is derived in tolerance.md beside this file.
 *
 * For each output element (token t, query head h, dim d) with n visible keys,
 * u = 2^-24 (fp32 unit roundoff), A = absw, M = segw, W = tilew, B = devw
 * (per element, reference.h), S = smax[t][h], V = vmax[t][h]:
 *
 *   Sig     = min(A, M + 2 W)     the largest partial sum a kernel holds
 *   Dev     = min(A, B)           what a score error can move
 *   F32     = KVC_TOL_LAMBDA * u * (3 sqrt(n) Sig + 4 (sqrt(D) + 4) S Dev
 *                                   + 8 A) + n * (2^-126 V + 2^-149)
 *   floor   = F32 plus the profile's own terms (tolerance.md, "Arithmetic
 *             profiles"; fp32 adds nothing)
 *   allowed = max(2 |naive_P - out|, floor)
 *             + (16-bit output type T) u_T (|out| + that max) + eta_T
 *   err     = |kernel - out|              (NaN or Inf in the kernel: +inf)
 *   ratio   = err / allowed                (0/0 = 0, x/0 = +inf)
 *
 * naive_P is ref->out32: the naive algorithm in the profile's arithmetic
 * (kvc_reference_compute_profile; fp32: kvc_reference_compute). For lse
 * (finite rows):
 *   allowed = max(2 |lse32 - lse|,
 *                 KVC_TOL_LAMBDA * u * (3 sqrt(n) + 4 (sqrt(D) + 4) S + 8 + |lse|)
 *                 plus the profile's lse terms)
 *
 * A row with no visible key must give out = +0 or -0 exactly and
 * lse = -inf exactly (allowed = 0). The case passes when every ratio is
 * <= 1 (KVC_TOL_THRESHOLD).
 */
#ifndef KVC_TOLERANCE_H
#define KVC_TOLERANCE_H

#include "problem.h"
#include "profile.h"
#include "reference.h"

#define KVC_TOL_LAMBDA 4.0
#define KVC_TOL_THRESHOLD 1.0

/* The worst value of one comparison, with where it is. */
typedef struct kvc_verdict {
    int pass;       /* ratio <= KVC_TOL_THRESHOLD */
    double ratio;   /* worst err / allowed over all compared values */
    double ratio_fp32; /* the worst ratio of the same outputs under the fp32
                          model with fp32 outputs (kvc_compare): what the
                          kernel's design costs here. kvc_compare: = ratio */
    kvc_profile profile; /* the profile the verdict judged */
    double err;     /* at the worst value */
    double allowed; /* at the worst value */
    double got;     /* the kernel's value there */
    double want;    /* the oracle's value there */
    int seq;        /* worst location; -1 when nothing was compared */
    int64_t token;  /* token row in batch order */
    int head;
    int dim;        /* -1: the lse of that row */
    char detail[256]; /* one line: what, where, got, want, err, allowed, ratio */
} kvc_verdict;

/* What a kernel declares about its arithmetic (kvattn.h kva_caps). */
typedef struct kvc_arith {
    kvc_profile profile;   /* profile.h */
    kvc_kv_dtype out_type; /* KVC_KV_F32, or F16 / BF16 when the kernel
                              writes 16-bit outputs (already decoded to float
                              by the caller): the allowance adds the output's
                              rounding. Any other value is refused. */
} kvc_arith;

/* Allowed error for output element (t, h, d), and for lse of row (t, h),
 * under the fp32 model (profile fp32, fp32 outputs). */
double kvc_tol_allowed_out(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h, int d);
double kvc_tol_allowed_lse(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h);

/* The same under a declared arithmetic; ref must be the reference of that
 * profile (its out32 / lse32 the naive algorithm in it). a == NULL: fp32.
 * An unknown profile or output type allows nothing (0). */
double kvc_tol_allowed_out_arith(const kvc_problem *p,
                                 const kvc_reference *ref,
                                 const kvc_arith *a, int64_t t, int h, int d);
double kvc_tol_allowed_lse_arith(const kvc_problem *p,
                                 const kvc_reference *ref,
                                 const kvc_arith *a, int64_t t, int h);

/*
 * Compare a kernel's out [num_tokens][Hq][D] and lse [num_tokens][Hq]
 * (rows 0 .. q_start[S]-1; padding rows are not looked at) with the
 * reference. Fills *v (always) and returns v->pass.
 */
int kvc_compare(const kvc_problem *p, const kvc_reference *ref,
                const float *out, const float *lse, kvc_verdict *v);

/* kvc_compare under a declared arithmetic (a == NULL: fp32, fp32 outputs,
 * exactly kvc_compare); ref is the reference of a->profile
 * (kvc_reference_compute_profile). v->ratio_fp32 is set to v->ratio: the
 * caller that wants the fp32 judgement too uses kvc_judge_outputs. */
int kvc_compare_arith(const kvc_problem *p, const kvc_reference *ref,
                      const kvc_arith *a, const float *out, const float *lse,
                      kvc_verdict *v);

/*
 * The whole judgement of a kernel's outputs: the reference in the declared
 * profile (kvc_reference_compute_profile) judged with that profile's
 * allowance -> v (v->pass decides); and, when the profile is not fp32 or
 * the outputs are 16-bit, also the plain fp32 judgement (kvc_compare
 * against the fp32 reference), whose ratio goes to v->ratio_fp32 (profile
 * fp32 with fp32 outputs: ratio_fp32 = ratio). lse may be NULL (then not
 * judged). store: kvc_kv_store_compute of p, or NULL (computed here when
 * needed). Returns 1 pass, 0 fail, -1 error (message in err; v says
 * "cannot compare").
 */
int kvc_judge_outputs(const kvc_problem *p, const kvc_kv_store *store,
                      const kvc_arith *a, const float *out, const float *lse,
                      kvc_verdict *v, char *err, size_t errlen);

/* The same, handing the profile's reference (exact out, lse, magnitudes)
 * to *keep for other checks of the same case (the caller frees it with
 * kvc_reference_free; zeroed on error). keep may be NULL. */
int kvc_judge_outputs_ref(const kvc_problem *p, const kvc_kv_store *store,
                          const kvc_arith *a, const float *out,
                          const float *lse, kvc_verdict *v,
                          kvc_reference *keep, char *err, size_t errlen);

#endif /* KVC_TOLERANCE_H */
