/*
 * key_weights.h — the attention weight each key receives (what an H2O
 * policy accumulates, kvattn.h kva_policy_observe), in double from the
 * stored K values and the reference's lse, with the allowance a fp32
 * kernel's weights are judged by.
 */
#ifndef KVC_KEY_WEIGHTS_H
#define KVC_KEY_WEIGHTS_H

#include "kv_store.h"
#include "problem.h"
#include "reference.h"

/*
 * For sequence s of p: w[h][j] (h < Hkv, j < kv_len) = the sum over its
 * query rows i and the query heads of KV group h of p_ij = exp(score_ij -
 * lse_i), divided by the group size; 0 for keys no row sees. allow[h][j]
 * (may be NULL) bounds |w_kernel - w|: each term's relative error is at
 * most the row's lse allowance (kvc_tol_allowed_lse) twice (the key's
 * score and the row's lse, each within it), plus fp32 exp and summation
 * roundings (2^-23 per term and 2^-24 per addition of the total). st is
 * kvc_kv_store_compute(p), ref kvc_reference_compute_stored(p, st) (fp32
 * profile). Returns 0, -1 on bad arguments.
 */
int kvc_key_weights(const kvc_problem *p, const kvc_kv_store *st,
                    const kvc_reference *ref, int s, double *w, double *allow);

#endif /* KVC_KEY_WEIGHTS_H */
