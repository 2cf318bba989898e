/*
 * planted_profiles.h — test-only attention kernels with a declared
 * arithmetic profile, written plainly and independently of oracle/profile.c
 * (their own 16-bit rounding, an online softmax over blocks of 64 keys).
 * They read a kvc_problem (shape, Q, visibility) and the K/V values the
 * cache stores (kvc_kv_store k/v, or p->k / p->v for an f32 cache) and write
 * out [tokens][Hq][D] and lse [tokens][Hq] in fp32.
 */
#ifndef KVC_PLANTED_PROFILES_H
#define KVC_PLANTED_PROFILES_H

#include "../oracle/kv_format.h"
#include "../oracle/problem.h"

typedef enum planted_kind {
    PLANTED_FP32 = 0,      /* correct fp32 online softmax */
    PLANTED_HALF_ACC,      /* Q -> f16, P.V accumulated in f16 */
    PLANTED_HALF_P,        /* Q, K, V, P -> T, fp32 accumulation */
    PLANTED_MASK_OFF_BY_ONE /* fp32, but a causal row also sees key p + 1 */
} planted_kind;

#define PLANTED_BLOCK 64

/* Round to the nearest f16 / bf16 value (ties to even), kept in a float. */
float planted_round_f16(float x);
float planted_round_bf16(float x);

/* Run the kernel over every real token row; half is T for PLANTED_HALF_P
 * (KVC_KV_F16 or KVC_KV_BF16), ignored otherwise. Returns 0, -1 when the
 * head dimension exceeds PLANTED_MAX_DIM or memory runs out. */
#define PLANTED_MAX_DIM 512
int planted_run(const kvc_problem *p, const float *k, const float *v,
                planted_kind kind, kvc_kv_dtype half, float *out, float *lse);

#endif /* KVC_PLANTED_PROFILES_H */
