/*
 * policy_attn_check.h — a policy cache end to end: each step appends
 * tokens (the policy picks their slots, judged by the model), writes their
 * K/V head by head into a paged cache (kva_cache_write_heads), runs
 * kva_policy_attention for the new queries, and judges, per KV head, out
 * and lse against the oracle's logical attention with the kept set as a
 * custom mask, and the per-slot weights against the oracle's
 * (oracle/key_weights.h); an H2O policy then observes those weights.
 * Every KV format, GQA groups, windows, soft-cap.
 */
#ifndef KVC_POLICY_ATTN_CHECK_H
#define KVC_POLICY_ATTN_CHECK_H

#include <stdint.h>

#include "policy_check.h"

typedef struct kvc_policy_attn_impl {
    kvc_policy_impl policy;
    kva_status (*write_heads)(const kva_paged_cache *, const float *,
                              const float *, const int64_t *, int64_t,
                              kva_error *);
    kva_status (*attention)(const kva_attn_params *, const kva_paged_cache *,
                            const int *, int, const void *, const float *,
                            const int64_t *, int, float *, float *, float *,
                            kva_error *);
} kvc_policy_attn_impl;

extern const kvc_policy_attn_impl kvc_builtin_policy_attn;

typedef struct kvc_policy_attn_result {
    kvc_policy_result policy; /* the policy's own counts and verdict */
    kva_dtype dtype;
    int64_t attended_rows;   /* query rows judged */
    double worst_ratio;      /* out/lse error / allowance, worst */
    double worst_weight_ratio;
} kvc_policy_attn_result;

/* Run num_steps steps of scenario seed. Returns 1 pass, 0 fail (message in
 * r->policy.message), -1 out of memory. */
int kvc_policy_attn_check(const kvc_policy_attn_impl *impl, uint64_t seed,
                          int64_t num_steps, kvc_policy_attn_result *r);

#endif /* KVC_POLICY_ATTN_CHECK_H */
