/*
 * prop_internal.h — what the tolerance-based properties share (properties.h:
 * chunked prefill, decode steps, block size). Internal to tools/.
 */
#ifndef KVC_PROP_INTERNAL_H
#define KVC_PROP_INTERNAL_H

#include "properties.h"

#include "../oracle/profile.h"
#include "../oracle/reference.h"

/* The oracle's reference of the whole case in the kernel's profile,
 * computed at most once per case for every property that needs it. */
typedef struct kvc_prop_ref {
    int state;          /* 0 not yet, 1 computed, -1 failed, 2 lent by
                           the runner (not freed here) */
    kvc_reference ref;
    kvc_arith arith;    /* the kernel's profile and output type */
    char err[256];
} kvc_prop_ref;

/* The reference (computed on first use); NULL with r set to a setup
 * failure. */
const kvc_reference *kvc_prop_reference(const kvc_case *c, const kvc_kernel *k,
                                        kvc_prop_ref *pr, kvc_result *r);
void kvc_prop_ref_free(kvc_prop_ref *pr);

/* One sequence s of c alone with only new tokens [a, a + b) as its new
 * tokens: ctx_len = ctx_len[s] + a, q_len = b; the same logical q rows, the
 * K/V of its first ctx_len[s] + a + b positions, its mask rows a .. a+b-1
 * cut to the new kv_len (causal cases only: the cut columns are invisible
 * to those rows), the same table row and physical blocks (blocked: a
 * one-sequence cache of the same length), QEfficient inputs for the new
 * positions. */
typedef struct kvc_prop_window {
    kvc_case c;
    int *table;
    int64_t *slots;
    int *positions, *slot_id;
    int64_t *row_of_token;
} kvc_prop_window;

int kvc_prop_window_make(const kvc_case *c, int s, int a, int b,
                         kvc_prop_window *w);
void kvc_prop_window_free(kvc_prop_window *w);

/* Compare n rows of a variant run (vout/vlse from row vfirst) with the
 * same rows of the whole run (out/lse from row first, the reference's row
 * numbering): both are within the oracle's allowance of the exact answer,
 * so |variant - whole| <= 2 * allowed elementwise (allowed: the case's
 * allowance for that element in the kernel's arithmetic); a row with no
 * visible key must be out = 0, lse = -inf in both. Returns 1 when they
 * agree, else 0 with "what: token T head H dim D: whole X, variant Y, ..."
 * in msg. */
int kvc_prop_compare(const kvc_case *c, const kvc_prop_ref *pr,
                     const float *out, const float *lse, int64_t first,
                     const float *vout, const float *vlse, int64_t vfirst,
                     int64_t n, char *msg, size_t msglen);

/* The cache format and static scales of p, into o (same KV heads). */
int kvc_prop_copy_quant(const kvc_problem *p, kvc_problem *o);

/* splitmix64 step. */
uint64_t kvc_prop_mix(uint64_t *s);

/* Whether the case's pool is small enough for a variant to be built. */
int kvc_prop_pool_small(const kvc_case *c);

/* The three checks with a shared reference (properties.h describes them;
 * the public versions compute and free their own). */
kvc_outcome kvc_prop_chunked_prefill_ref(const kvc_case *c,
                                         const kvc_kernel *k, const float *out,
                                         const float *lse, kvc_prop_ref *pr,
                                         kvc_result *r);
kvc_outcome kvc_prop_decode_steps_ref(const kvc_case *c, const kvc_kernel *k,
                                      const float *out, const float *lse,
                                      kvc_prop_ref *pr, kvc_result *r);
kvc_outcome kvc_prop_block_size_ref(const kvc_case *c, const kvc_kernel *k,
                                    const float *out, const float *lse,
                                    kvc_prop_ref *pr, kvc_result *r);

#endif /* KVC_PROP_INTERNAL_H */
