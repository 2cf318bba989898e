/* planted_merges.c — wrong merges of partial states (planted_merges.h). */
#include "planted_merges.h"

#include <math.h>

kva_status kvc_planted_merge_average(const float *const *po,
                                     const float *const *pl, int P,
                                     int64_t rows, int D, float *out,
                                     float *lse, kva_error *err)
{
    (void)err;
    for (int64_t r = 0; r < rows; r++) {
        for (int d = 0; d < D; d++) {
            float a = 0.0f;
            for (int p = 0; p < P; p++)
                a += po[p][r * D + d] / (float)P;
            out[r * D + d] = a;
        }
        if (lse)
            lse[r] = pl[0][r];
    }
    return KVA_OK;
}

/* The merge with the row's offset m: the largest lse, or 0 (no_max). */
static void merge_with(const float *const *po, const float *const *pl, int P,
                       int64_t r, int D, int skip_empty, float m, float *o,
                       float *l)
{
    float s = 0.0f;
    for (int p = 0; p < P; p++)
        if (!skip_empty || pl[p][r] != -INFINITY)
            s += expf(pl[p][r] - m);
    for (int d = 0; d < D; d++) {
        float a = 0.0f;
        for (int p = 0; p < P; p++)
            if (!skip_empty || pl[p][r] != -INFINITY)
                a += expf(pl[p][r] - m) * po[p][r * D + d];
        o[d] = a / s;
    }
    if (l)
        *l = m + logf(s);
}

kva_status kvc_planted_merge_nan_on_empty(const float *const *po,
                                          const float *const *pl, int P,
                                          int64_t rows, int D, float *out,
                                          float *lse, kva_error *err)
{
    (void)err;
    for (int64_t r = 0; r < rows; r++) {
        float m = -INFINITY;
        for (int p = 0; p < P; p++)
            m = pl[p][r] > m ? pl[p][r] : m;
        merge_with(po, pl, P, r, D, 0, m, out + r * D, lse ? lse + r : NULL);
    }
    return KVA_OK;
}

kva_status kvc_planted_merge_no_max(const float *const *po,
                                    const float *const *pl, int P,
                                    int64_t rows, int D, float *out,
                                    float *lse, kva_error *err)
{
    (void)err;
    for (int64_t r = 0; r < rows; r++)
        merge_with(po, pl, P, r, D, 1, 0.0f, out + r * D, lse ? lse + r : NULL);
    return KVA_OK;
}
