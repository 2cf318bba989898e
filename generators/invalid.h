/*
 * invalid.h — invalid variants of valid campaign cases: a drawn valid case
 * with exactly one refusal rule of kernels/kvattn.h broken, so that every
 * campaign checks the refusal contract, not only the 14 invalid golden
 * vectors.
 *
 * Which cases: case (seed, index) is an invalid slot when
 * kvc_invalid_slot(seed, index) (one index in KVC_INVALID_EVERY, by a hash
 * of the case seed that the valid draw never sees, so the valid draws of
 * the other indices are unchanged). Its valid case is drawn as always;
 * kvc_invalid_draw then picks, with an RNG seeded from (seed, index) alone,
 * one rule among those that apply to it (kvc_invalid_applies) and breaks
 * it. A case no rule applies to (say, an empty batch) stays valid and runs
 * as such. Replaying (seed, index) rebuilds the same variant.
 *
 * How a rule is broken: rules about arrays the case holds (block table,
 * slot mapping, QEfficient inputs, the blocked tile count) are broken in
 * the case itself; rules about what the runner derives from the case (the
 * attention parameters, query_start_loc, the cache description's format,
 * static scales, strides and head_dim) are recorded in kvc_invalid as the
 * values to hand the kernel instead (tools/runner.c applies them). The
 * problem itself (c->prob) stays valid: the oracle's store and the pool
 * are built as for the valid case, so a kernel that writes before it
 * validates is caught writing into real data.
 *
 * Each rule adds one KVC_FLAG_* bit (case.h) to c->flags; the statuses the
 * kernel may answer are those kvattn.h gives for that flag's rule
 * (tools/refusal.h, shared with the golden invalid vectors).
 *
 * Generators never call a kernel and never include kvattn.h: the values
 * here are plain numbers the runner converts.
 */
#ifndef KVC_INVALID_H
#define KVC_INVALID_H

#include <stddef.h>
#include <stdint.h>

#include "case.h"

/* One campaign index in KVC_INVALID_EVERY is an invalid slot. 16: a 20,000
 * case campaign draws about 1,250 variants, over 40 of each rule (enough
 * for every rule at every run; tests/test_invalid_draws.c), while 15 in 16
 * cases stay valid numeric checks. */
#define KVC_INVALID_EVERY 16

typedef enum kvc_invalid_rule {
    KVC_INV_NONE = 0,
    KVC_INV_BLOCK_MINUS_1,    /* a needed table entry is -1 */
    KVC_INV_BLOCK_PAST_POOL,  /* a needed entry is num_blocks or beyond */
    KVC_INV_BLOCK_WINDOW_EDGE,/* the first block the window needs (lo / B,
                                 lo > 0) is -1 or num_blocks; blocks wholly
                                 below it are left alone (they may be -1:
                                 KVC_FLAG_FREED_BELOW_WINDOW) */
    KVC_INV_SLOT_RANGE,       /* the last written token's slot is < -1 or
                                 >= num_blocks * B (behind valid ones) */
    KVC_INV_SLOT_DUPLICATE,   /* the last written token's slot repeats an
                                 earlier token's */
    KVC_INV_SEQ_BEYOND_TABLE, /* the table row loses its last column */
    KVC_INV_QSL_DECREASING,   /* query_start_loc[s] < query_start_loc[s-1] */
    KVC_INV_HEADS_RATIO,      /* Hq % Hkv != 0 */
    KVC_INV_HEAD_DIM_0,       /* params head_dim 0 */
    KVC_INV_SCALE_NONFINITE,  /* params scale NaN or +-inf */
    KVC_INV_SOFTCAP_NEGATIVE, /* params softcap < 0 */
    KVC_INV_WINDOW_BELOW,     /* params window_left < -1 */
    KVC_INV_STRIDES_OVERLAP,  /* two cache rows overlap */
    KVC_INV_FORMAT_UNKNOWN,   /* dtype unknown, or a scale kind unknown or
                                 not one the dtype takes */
    KVC_INV_STATIC_SCALE,     /* a static scale 0, negative, NaN or inf */
    KVC_INV_NVFP4_HEAD_DIM,   /* nvfp4 with head_dim % 16 != 0 */
    KVC_INV_QEFF_CROSSING,    /* a QEfficient write crosses a block */
    KVC_INV_QEFF_SLOT_ID,     /* slot_id != p0 mod B */
    KVC_INV_QEFF_POSITIONS,   /* valid positions not consecutive */
    KVC_INV_TILE_COUNT,       /* blocked num_kv_blocks < 1 */
    KVC_INV_COUNT
} kvc_invalid_rule;

/* "block_minus_1", "slot_range", ...; "none" for KVC_INV_NONE, "?" outside
 * the enum. */
const char *kvc_invalid_rule_name(kvc_invalid_rule r);

/* The KVC_FLAG_* bit a rule adds to the case's flags (-1 for NONE). */
int kvc_invalid_rule_flag(kvc_invalid_rule r);

/* What the kernel under test does that decides which rules can be seen:
 * a rule about the slot mapping is only seen by a kernel that writes the
 * cache itself (KVA_FEATURE_CACHE_WRITE; otherwise kvcheck writes it). */
typedef struct kvc_invalid_opts {
    int kernel_writes_cache;
} kvc_invalid_opts;

/* A variant: its rule, a one-line description, and the values the runner
 * hands the kernel (the case's own values, one of them broken). */
typedef struct kvc_invalid {
    kvc_invalid_rule rule;       /* KVC_INV_NONE: the valid case */
    char what[200];              /* "slot_mapping[12] = 4096 (num_blocks*B
                                    = 4096), behind 11 valid slots" */
    kvc_config cfg;              /* the attention parameters */
    int cache_head_dim;          /* the cache description's head_dim */
    int dtype, kind;             /* the format codes (kvattn.h numbering,
                                    which is kvc_kv_dtype's and
                                    kvc_scale_kind's); may be unknown */
    float k_scale, v_scale;      /* TENSOR scales / GROUP global scales */
    int head_scale_side;         /* HEAD: 0 none broken, 1 K, 2 V */
    int head_scale_index;
    float head_scale_value;
    int64_t stride_block, stride_slot, stride_head; /* cache strides */
    int qsl_index;               /* < 0: query_start_loc as the case's */
    int64_t qsl_value;
} kvc_invalid;

/* Whether (seed, index) is an invalid slot of the campaign. */
int kvc_invalid_slot(uint64_t seed, uint64_t index);

/* The variant's RNG seed: a hash of (seed, index) apart from the case's. */
uint64_t kvc_invalid_seed(uint64_t seed, uint64_t index);

/* Whether rule r can be broken in case c for a kernel as o says. */
int kvc_invalid_applies(const kvc_case *c, kvc_invalid_rule r,
                        const kvc_invalid_opts *o);

/* *inv as the valid case: rule NONE, every value the case's own. */
void kvc_invalid_init(const kvc_case *c, kvc_invalid *inv);

/* Break rule r in c (r must apply): c's arrays and flags are changed,
 * *inv filled. rng_seed seeds the choices (kvc_invalid_seed). Returns 0,
 * or -1 when r does not apply (c and *inv untouched but for init). */
int kvc_invalid_break(kvc_case *c, kvc_invalid_rule r, uint64_t rng_seed,
                      const kvc_invalid_opts *o, kvc_invalid *inv);

/* Pick a rule that applies to c uniformly, with the RNG of rng_seed, and
 * break it. Returns the rule, or KVC_INV_NONE when none applies (c left
 * valid, *inv as kvc_invalid_init). */
kvc_invalid_rule kvc_invalid_draw(kvc_case *c, uint64_t rng_seed,
                                  const kvc_invalid_opts *o,
                                  kvc_invalid *inv);

#endif /* KVC_INVALID_H */
