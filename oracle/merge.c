/* merge.c — the exact merge of partial states and its allowance (merge.h). */
#include "merge.h"

#include <math.h>

#define MERGE_U 0x1p-24      /* fp32 unit roundoff */
#define MERGE_LAMBDA 4.0     /* as KVC_TOL_LAMBDA (tolerance.h) */

void kvc_merge_exact(const float *const *part_out,
                     const float *const *part_lse, int parts, int64_t rows,
                     int head_dim, double *out, double *lse)
{
    for (int64_t r = 0; r < rows; r++) {
        double m = -INFINITY;
        for (int p = 0; p < parts; p++)
            if (part_lse[p][r] > m)
                m = part_lse[p][r];
        double s = 0.0;
        for (int p = 0; p < parts; p++)
            if (part_lse[p][r] != -INFINITY)
                s += exp((double)part_lse[p][r] - m);
        lse[r] = m == -INFINITY ? -INFINITY : m + log(s);
        for (int d = 0; d < head_dim; d++) {
            double a = 0.0;
            for (int p = 0; m != -INFINITY && p < parts; p++)
                if (part_lse[p][r] != -INFINITY)
                    a += exp((double)part_lse[p][r] - lse[r]) *
                         part_out[p][r * head_dim + d];
            out[r * head_dim + d] = a;
        }
    }
}

/* The largest |lse_p| of the non-empty parts (0 when none). */
static double largest_lse(const double *lse_row, int parts)
{
    double L = 0.0;
    for (int p = 0; p < parts; p++)
        if (lse_row[p] != -INFINITY && fabs(lse_row[p]) > L)
            L = fabs(lse_row[p]);
    return L;
}

double kvc_merge_allowed_out(const double *const *part_out,
                             const double *part_lse_row, int parts,
                             int64_t row, int head_dim, int d,
                             double merged_lse)
{
    if (merged_lse == -INFINITY)
        return 0.0;
    double a = 0.0, mx = 0.0;
    for (int p = 0; p < parts; p++) {
        if (part_lse_row[p] == -INFINITY)
            continue;
        double o = fabs(part_out[p][row * head_dim + d]);
        a += exp(part_lse_row[p] - merged_lse) * o;
        if (o > mx)
            mx = o;
    }
    double L = largest_lse(part_lse_row, parts);
    return MERGE_LAMBDA * MERGE_U * (6.0 * L + 8.0 + parts) * a +
           parts * (0x1p-126 * mx + 0x1p-149);
}

double kvc_merge_allowed_lse(const double *part_lse_row, int parts,
                             double merged_lse)
{
    if (merged_lse == -INFINITY)
        return 0.0;
    double L = largest_lse(part_lse_row, parts);
    return MERGE_LAMBDA * MERGE_U *
           (3.0 * L + 4.0 + parts + fabs(merged_lse));
}
