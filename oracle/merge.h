/*
 * merge.h — the oracle's merge of partial attention states (the exact
 * answer kva_merge_states is judged against) and its allowance, derived in
 * tolerance.md ("Merging partial states").
 *
 * Given P parts of a row, out_p[D] and lse_p (natural log) over disjoint
 * key sets, the merge is the attention over their union:
 *   lse = log sum_p exp(lse_p),  out = sum_p exp(lse_p - lse) out_p,
 * computed in double with the largest lse subtracted first. Parts with
 * lse_p = -inf are empty; all parts empty give out = 0, lse = -inf.
 * Shares no code with kernels/.
 */
#ifndef KVC_MERGE_H
#define KVC_MERGE_H

#include <stdint.h>

/* The exact merge of rows rows of head_dim values: part_out[p] [rows][D],
 * part_lse[p] [rows] (finite or -inf) -> out [rows][D], lse [rows]. */
void kvc_merge_exact(const float *const *part_out,
                     const float *const *part_lse, int parts, int64_t rows,
                     int head_dim, double *out, double *lse);

/* The allowed error of merged out[row][d] and lse[row] for a correct fp32
 * merge of these parts, against their exact merge (0 for a row whose parts
 * are all empty: it must be exact). */
double kvc_merge_allowed_out(const double *const *part_out,
                             const double *part_lse_row, int parts,
                             int64_t row, int head_dim, int d,
                             double merged_lse);
double kvc_merge_allowed_lse(const double *part_lse_row, int parts,
                             double merged_lse);

#endif
