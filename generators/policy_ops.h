/*
 * policy_ops.h — operation sequences for the eviction policies (kvattn.h,
 * "Eviction policies"): prefill chunks (some longer than the cache),
 * decode steps, and H2O observations whose weights are softmax-like rows
 * with exact ties and ties one ulp apart; now and then an operation the
 * policy must refuse. A pure function of the scenario seed.
 */
#ifndef KVC_POLICY_OPS_H
#define KVC_POLICY_OPS_H

#include <stdint.h>

#include "../kernels/kvattn.h"

typedef enum kvc_policy_op_kind {
    KVC_POLICY_APPEND = 0, /* n tokens */
    KVC_POLICY_OBSERVE,    /* weights [Hkv][L] */
    KVC_POLICY_OP_KINDS
} kvc_policy_op_kind;

typedef struct kvc_policy_op {
    kvc_policy_op_kind kind;
    int n;
    float *weights; /* [Hkv][L], owned by the caller of kvc_policy_draw_op */
} kvc_policy_op;

/* The policy of scenario seed: every kind, 1..48 slots, 1..4 KV heads. */
void kvc_policy_draw_config(uint64_t seed, kva_policy_config *cfg);

/* Draw operation `step` of scenario seed; positions [Hkv][L] say which
 * slots are occupied (weights go to those). op->weights must hold Hkv*L
 * floats. 0, or -1 when the RNG cannot be allocated. */
int kvc_policy_draw_op(uint64_t seed, uint64_t step,
                       const kva_policy_config *cfg, const int64_t *positions,
                       kvc_policy_op *op);

#endif /* KVC_POLICY_OPS_H */
