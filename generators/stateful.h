/*
 * stateful.h — stateful slots of a campaign: 1 index in
 * KVC_STATEFUL_EVERY runs an operation sequence over the cache's other
 * half instead of an attention case: the block manager
 * (generators/bm_ops.h), an eviction policy (policy_ops.h), or a policy
 * cache end to end with attention. Which indices, which kind and the
 * scenario's seed are pure functions of (seed, index), from a hash no
 * other draw uses, so every other index keeps its case.
 */
#ifndef KVC_STATEFUL_H
#define KVC_STATEFUL_H

#include <stdint.h>

#define KVC_STATEFUL_EVERY 128

typedef enum kvc_stateful_kind {
    KVC_STATEFUL_NONE = 0,
    KVC_STATEFUL_MANAGER,     /* block manager operations */
    KVC_STATEFUL_POLICY,      /* eviction policy operations */
    KVC_STATEFUL_POLICY_ATTN, /* a policy cache with attention */
    KVC_STATEFUL_KINDS
} kvc_stateful_kind;

/* Operations per scenario of each kind: thousands for the manager and the
 * policies alone, fewer where every step runs attention and the oracle. */
#define KVC_STATEFUL_MANAGER_OPS 3000
#define KVC_STATEFUL_POLICY_OPS 2000
#define KVC_STATEFUL_ATTN_STEPS 80

/* The kind of index `index` of campaign `seed` (NONE: an attention case). */
kvc_stateful_kind kvc_stateful_slot(uint64_t seed, uint64_t index);

/* The scenario seed of a stateful index. */
uint64_t kvc_stateful_seed(uint64_t seed, uint64_t index);

/* "manager", "policy", "policy-attention"; "" for NONE. */
const char *kvc_stateful_name(kvc_stateful_kind k);

#endif /* KVC_STATEFUL_H */
