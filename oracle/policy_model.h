/*
 * policy_model.h — the reference model of the eviction policies
 * (kernels/kvattn.h, "Eviction policies"): per KV head, what each slot
 * holds (a position, a score in double), simulated token by token.
 *
 * H2O near-ties: the kernel sums scores in fp32, the model in double, so
 * two candidates whose scores differ by less than that rounding can
 * resolve are both acceptable victims. Where the set of acceptable victims
 * has more than one member the model follows the kernel (the one the
 * kernel's cache no longer holds) and counts a near tie; everything else
 * is predicted exactly. Shares no code with kernels/.
 */
#ifndef KVC_POLICY_MODEL_H
#define KVC_POLICY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/kvattn.h"

typedef struct kvc_policy_model kvc_policy_model;

kvc_policy_model *kvc_policy_model_new(const kva_policy_config *cfg);
void kvc_policy_model_free(kvc_policy_model *m);

/* Judge an append of n tokens: the kernel's status, its slots [n][Hkv]
 * and its positions [Hkv][L] read back after the call. 1 and the model
 * applies it (near_ties[0] += evictions that had near ties, near_ties[1]
 * += those where it followed the kernel to another victim), or 0 with
 * why. */
int kvc_policy_model_append(kvc_policy_model *m, int n, kva_status got,
                            const int *slots, const int64_t *positions,
                            int64_t near_ties[2], char *why, size_t len);

/* Judge kva_policy_observe of weights [Hkv][L] (status only); applies. */
int kvc_policy_model_observe(kvc_policy_model *m, const float *weights,
                             kva_status got, char *why, size_t len);

/* Compare the kernel's positions and scores [Hkv][L] with the model's:
 * positions exactly, scores within the fp32 summation allowance. */
int kvc_policy_model_compare(const kvc_policy_model *m,
                             const int64_t *positions, const float *scores,
                             char *why, size_t len);

/* The model answering itself (golden files, golden/golden_cache.h): the
 * status of an append of n tokens and, when KVA_OK, slots [n][Hkv] (-1:
 * evicted within the same append); on H2O's ties its own rule (lowest
 * score, then oldest: exact in double). Applies it. Returns 0. */
int kvc_policy_model_answer_append(kvc_policy_model *m, int n, kva_status *st,
                                   int *slots);
/* The status of kva_policy_observe(weights [Hkv][L]); applies it. */
kva_status kvc_policy_model_answer_observe(kvc_policy_model *m,
                                           const float *weights);
/* The model's scores [Hkv][L] (double; 0 for kinds other than H2O). */
const double *kvc_policy_model_scores(const kvc_policy_model *m);

/* The model's positions [Hkv][L] (-1 empty) and tokens appended so far. */
const int64_t *kvc_policy_model_positions(const kvc_policy_model *m);
int64_t kvc_policy_model_next(const kvc_policy_model *m);
const kva_policy_config *kvc_policy_model_config(const kvc_policy_model *m);

#endif /* KVC_POLICY_MODEL_H */
