/*
 * pool.h — the physical K/V pool of a case, built by the runner from the
 * generator's plain-data layout (never by a kernel), and the runner's own
 * independent model of what a cache write must change.
 */
#ifndef KVC_POOL_H
#define KVC_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "../generators/case.h"

/* A pool is dense (malloc, every element poisoned and compared) or, when
 * larger than KVC_POOL_SPARSE_BYTES per tensor (large-offset cases, whose
 * block ids sit above a huge unused stretch), sparse: mapped with
 * MAP_NORESERVE so only touched pages use memory, and only the blocks the
 * layout references (and their neighbours) are poisoned and compared. */
#define KVC_POOL_SPARSE_BYTES (INT64_C(256) << 20)

typedef struct kvc_pool {
    int64_t elems;      /* per tensor */
    float *k;
    float *v;
    int sparse;         /* mmap'ed; only `ranges` are poisoned/compared */
    int64_t num_ranges;
    int64_t *ranges;    /* [num_ranges][2]: first element, element count */
} kvc_pool;

/* Allocate k and v of layout->pool_elems elements each, every element of
 * the checked ranges poison (NaN, +-1e30 or +-FLT_MAX, from
 * layout->poison_seed), so that a read of anything but a written slot shows
 * in the output. Returns 0 or -1. */
int kvc_pool_alloc_poisoned(kvc_pool *pool, const kvc_layout *layout,
                            int num_seqs);

void kvc_pool_free(kvc_pool *pool);

/* Deep copy (dst allocated here). Returns 0 or -1. */
int kvc_pool_copy(kvc_pool *dst, const kvc_pool *src);

/* Offset of (block, slot-in-block, kv head) in the pool. */
int64_t kvc_pool_offset(const kvc_layout *l, int64_t block, int64_t slot,
                        int head);

/* Store the context positions [0, ctx_len) of every sequence (the tokens
 * already in the cache before this step) at their slots. Table entries below
 * a sliding window may be -1 (freed): those positions are skipped. */
void kvc_pool_store_context(kvc_pool *pool, const kvc_case *c);

/* The runner's model of the cache write of this step: store the new tokens'
 * K/V at the slots of c->layout.slot_mapping. */
void kvc_pool_store_new_tokens(kvc_pool *pool, const kvc_case *c);

/* Compare two pools bit for bit over want's checked ranges. Returns 0 when
 * identical, else 1 and a message naming the first differing element
 * (block, slot, head, dim). */
int kvc_pool_diff(const kvc_pool *want, const kvc_pool *got,
                  const kvc_layout *l, int num_kv_heads, int head_dim,
                  char *msg, size_t n);

/* The new tokens' K and V as a kernel's cache write takes them,
 * [num_tokens][Hkv][D]; padding tokens get NaN. Caller frees. */
int kvc_new_token_kv(const kvc_case *c, float **k, float **v);

#endif /* KVC_POOL_H */
