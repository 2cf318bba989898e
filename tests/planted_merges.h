/*
 * planted_merges.h — wrong kva_merge_states the checks must catch (suites
 * merge and golden_merge).
 */
#ifndef KVC_PLANTED_MERGES_H
#define KVC_PLANTED_MERGES_H

#include "../kernels/kvattn.h"

/* Averages the parts' outputs, ignoring their lse (lse = part 0's). */
kva_status kvc_planted_merge_average(const float *const *po,
                                     const float *const *pl, int parts,
                                     int64_t rows, int head_dim, float *out,
                                     float *lse, kva_error *err);

/* Right, except that empty parts are not skipped: exp(-inf - -inf) = NaN. */
kva_status kvc_planted_merge_nan_on_empty(const float *const *po,
                                          const float *const *pl, int parts,
                                          int64_t rows, int head_dim,
                                          float *out, float *lse,
                                          kva_error *err);

/* No largest lse subtracted: exp overflows at lse near 1e4. */
kva_status kvc_planted_merge_no_max(const float *const *po,
                                    const float *const *pl, int parts,
                                    int64_t rows, int head_dim, float *out,
                                    float *lse, kva_error *err);

#endif
