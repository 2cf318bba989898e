/*
 * merge_states.c — kva_merge_states: partial attention states of disjoint
 * key sets merged by their lse (kvattn.h). The largest lse is subtracted
 * before exponentiating, so no weight overflows; an empty part (lse -inf)
 * gets weight exp(-inf) = 0 and is skipped, so -inf - -inf never occurs.
 */
#include "kva_internal.h"

#include <math.h>
#include <stdlib.h>

static kva_status check(const float *const *part_out,
                        const float *const *part_lse, int num_parts,
                        int64_t num_rows, int head_dim, const float *out,
                        kva_error *err)
{
    if (num_parts < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "num_parts %d < 1", num_parts);
    if (head_dim < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "head_dim %d < 1", head_dim);
    if (num_rows < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_rows %lld < 0",
                        (long long)num_rows);
    int64_t elems;
    if (!kva_mul_nonneg(num_rows, head_dim, &elems))
        return kva_fail(err, KVA_ERR_LENGTH, "num_rows %lld x head_dim %d "
                        "overflows", (long long)num_rows, head_dim);
    if (num_rows == 0)
        return KVA_OK;
    if (!part_out || !part_lse || !out)
        return kva_fail(err, KVA_ERR_NULL, "%s is NULL",
                        !part_out ? "part_out" : !part_lse ? "part_lse" : "out");
    for (int p = 0; p < num_parts; p++) {
        if (!part_out[p] || !part_lse[p])
            return kva_fail(err, KVA_ERR_NULL, "part %d: %s is NULL", p,
                            !part_out[p] ? "part_out" : "part_lse");
        for (int64_t r = 0; r < num_rows; r++) {
            float l = part_lse[p][r];
            if (isnan(l) || l == INFINITY)
                return kva_fail(err, KVA_ERR_PARAM, "part %d row %lld: lse "
                                "%g is not a log-sum-exp (NaN or +inf)", p,
                                (long long)r, (double)l);
        }
    }
    return KVA_OK;
}

/* One row, with w[num_parts] scratch for the parts' weights. out and lse
 * may alias a part's arrays: every part's element d is read before o[d]
 * is written, and lse is written by the caller after the row. */
static void merge_row(const float *const *part_out,
                      const float *const *part_lse, int num_parts, int64_t r,
                      int D, float *w, float *o, float *l)
{
    float m = -INFINITY;
    for (int p = 0; p < num_parts; p++)
        if (part_lse[p][r] > m)
            m = part_lse[p][r];
    if (m == -INFINITY && !KVA_MUT(16)) { /* every part empty */
        for (int d = 0; d < D; d++)
            o[d] = 0.0f;
        if (l)
            *l = -INFINITY;
        return;
    }
    float s = 0.0f;
    for (int p = 0; p < num_parts; p++) {
        /* an empty part's out may be anything (NaN): never read it */
        w[p] = part_lse[p][r] != -INFINITY ? expf(part_lse[p][r] - m) : 0.0f;
        s += w[p];
    }
    for (int d = 0; d < D; d++) {
        float acc = 0.0f;
        for (int p = 0; p < num_parts; p++)
            if (part_lse[p][r] != -INFINITY || KVA_MUT(17))
                acc += w[p] * part_out[p][r * D + d];
        o[d] = acc / s;
    }
    if (l)
        *l = m + logf(s);
}

kva_status kva_merge_states(const float *const *part_out,
                            const float *const *part_lse, int num_parts,
                            int64_t num_rows, int head_dim, float *out,
                            float *lse, kva_error *err)
{
    kva_clear_error(err);
    kva_status st = check(part_out, part_lse, num_parts, num_rows, head_dim,
                          out, err);
    if (st != KVA_OK || num_rows == 0)
        return st;
    float *w = malloc((size_t)num_parts * sizeof *w); /* before any write */
    if (!w)
        return kva_fail(err, KVA_ERR_NOMEM, "cannot allocate %d weights",
                        num_parts);
    for (int64_t r = 0; r < num_rows; r++) {
        /* lse may alias a part's lse array: compute the row before writing */
        float l = 0.0f;
        merge_row(part_out, part_lse, num_parts, r, head_dim, w,
                  out + r * head_dim, lse ? &l : NULL);
        if (lse)
            lse[r] = l;
    }
    free(w);
    return KVA_OK;
}
