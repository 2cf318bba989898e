/*
 * tolerance.h — the tolerance model and the comparison of a kernel's output
 * with the oracle. The model is derived in tolerance.md beside this file.
 *
 * For each output element (token t, query head h, dim d) with n visible keys,
 * u = 2^-24 (fp32 unit roundoff), A = absw[t][h][d], S = smax[t][h],
 * V = vmax[t][h]:
 *
 *   floor   = KVC_TOL_LAMBDA * u * (3 sqrt(n) + 4 (sqrt(D) + 4) S + 8) * A
 *             + n * (2^-126 V + 2^-149)
 *   allowed = max(2 |out32 - out|, floor)
 *   err     = |kernel - out|              (NaN or Inf in the kernel: +inf)
 *   ratio   = err / allowed                (0/0 = 0, x/0 = +inf)
 *
 * and for lse (finite rows):
 *   allowed = max(2 |lse32 - lse|,
 *                 KVC_TOL_LAMBDA * u * (3 sqrt(n) + 4 (sqrt(D) + 4) S + 8 + |lse|))
 *
 * A row with no visible key must give out = +0 or -0 exactly and
 * lse = -inf exactly (allowed = 0). The case passes when every ratio is
 * <= 1 (KVC_TOL_THRESHOLD).
 */
#ifndef KVC_TOLERANCE_H
#define KVC_TOLERANCE_H

#include "problem.h"
#include "reference.h"

#define KVC_TOL_LAMBDA 4.0
#define KVC_TOL_THRESHOLD 1.0

#include "profile.h"

/* What a kernel declares about its arithmetic (kvattn.h kva_caps). */
typedef struct kvc_arith {
    kvc_profile profile;   /* profile.h */
    kvc_kv_dtype out_type; /* KVC_KV_F32, or F16/BF16 outputs (decoded) */
} kvc_arith;

/* The worst value of one comparison, with where it is. */
typedef struct kvc_verdict {
    int pass;       /* ratio <= KVC_TOL_THRESHOLD */
    double ratio;   /* worst err / allowed over all compared values */
    double ratio_fp32; /* the same outputs judged by the fp32 model */
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

/* Allowed error for output element (t, h, d), and for lse of row (t, h). */
double kvc_tol_allowed_out(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h, int d);
double kvc_tol_allowed_lse(const kvc_problem *p, const kvc_reference *ref,
                           int64_t t, int h);

/*
 * Compare a kernel's out [num_tokens][Hq][D] and lse [num_tokens][Hq]
 * (rows 0 .. q_start[S]-1; padding rows are not looked at) with the
 * reference. Fills *v (always) and returns v->pass.
 */
int kvc_compare(const kvc_problem *p, const kvc_reference *ref,
                const float *out, const float *lse, kvc_verdict *v);

/* Judge a kernel's outputs in its declared arithmetic (interim: the
 * profile's naive baseline with the fp32 floors). Returns 1 pass, 0 fail,
 * -1 error (message in err). lse may be NULL; store may be NULL. */
int kvc_judge_outputs(const kvc_problem *p, const kvc_kv_store *store,
                      const kvc_arith *a, const float *out, const float *lse,
                      kvc_verdict *v, char *err, size_t errlen);

#endif /* KVC_TOLERANCE_H */
