/*
 * pool.h — the physical K/V pool of a case, built by the runner from the
 * generator's plain-data layout (never by a kernel), and the runner's own
 * model of what a cache write must change.
 *
 * The pool holds what a cache of the case's format holds (kvattn.h): codes
 * in storage units (4, 2 or 1 bytes; nvfp4 two codes per byte), plus the
 * TOKEN / GROUP scale pools. What belongs in it comes from the oracle
 * (oracle/kv_store.h: the codes and scales of every logical K/V element,
 * computed from the written rules); this file only places those bytes by
 * the layout, so a kernel's cache write is checked byte for byte.
 */
#ifndef KVC_POOL_H
#define KVC_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "../generators/case.h"
#include "../oracle/kv_store.h"
#include "guard.h"

/* A buffer larger than this is sparse (large-offset cases, whose block ids
 * sit above a huge unused stretch): mapped with MAP_NORESERVE so only
 * touched pages use memory, and only the blocks the layout references (and
 * their neighbours) are poisoned and compared. */
#define KVC_POOL_SPARSE_BYTES (INT64_C(256) << 20)

/* One tensor of the pool: K or V codes, or a scale pool. */
typedef struct kvc_pool_buf {
    unsigned char *data;
    int64_t units;      /* storage units */
    int unit_bytes;     /* bytes per unit */
    int sparse;         /* mmap'ed; only `ranges` are poisoned/compared */
    int guarded;        /* data belongs to a guard set (freed with it) */
    int64_t num_ranges;
    int64_t *ranges;    /* [num_ranges][2]: first unit, unit count */
} kvc_pool_buf;

typedef struct kvc_pool {
    kvc_kv_dtype dtype;
    kvc_scale_kind kind;
    kvc_pool_buf k, v;   /* the codes */
    kvc_pool_buf ks, vs; /* TOKEN: float scales; GROUP: e4m3 block codes;
                            empty (units 0, data NULL) otherwise */
} kvc_pool;

/* Bytes of one storage unit of a format: 4, 2, 1 (nvfp4: 1 byte = 2 codes). */
int kvc_unit_bytes(kvc_kv_dtype d);

/* Allocate the pool of a case (format and layout from c), every unit of the
 * checked ranges poison from layout.poison_seed: for f32 NaN, +-1e30 or
 * +-FLT_MAX; for the other formats their NaN, infinity or largest codes; for
 * scale pools NaN or huge scales. A read of anything but a written slot
 * shows in the output. Returns 0 or -1. */
int kvc_pool_alloc_poisoned(kvc_pool *pool, const kvc_case *c);

/* The same, for the pool a kernel is handed: every buffer is a guarded
 * OUTPUT of g ("K pool", "V pool", "K scale pool", "V scale pool"; sparse
 * ones limited to their ranges), unmapped by kvc_guard_free(g), not by
 * kvc_pool_free (which must still be called for the rest). Copies of it
 * (kvc_pool_copy) are plain. Returns 0 or -1. */
int kvc_pool_alloc_guarded(kvc_pool *pool, const kvc_case *c,
                           kvc_guard_set *g);

void kvc_pool_free(kvc_pool *pool);

/* Deep copy (dst allocated here). Returns 0 or -1. */
int kvc_pool_copy(kvc_pool *dst, const kvc_pool *src);

/* Offset (storage units) of (block, slot-in-block, kv head) in K or V. */
int64_t kvc_pool_offset(const kvc_layout *l, int64_t block, int64_t slot,
                        int head);

/* Store the context positions [0, ctx_len) of every sequence (the tokens
 * already in the cache before this step) at their slots, as the codes and
 * scales of st (the oracle's store of c->prob). Table entries below a
 * sliding window may be -1 (freed): those positions are skipped. */
void kvc_pool_store_context(kvc_pool *pool, const kvc_case *c,
                            const kvc_kv_store *st);

/* The runner's model of the cache write of this step: store the new
 * tokens' codes and scales at the slots of c->layout.slot_mapping. */
void kvc_pool_store_new_tokens(kvc_pool *pool, const kvc_case *c,
                               const kvc_kv_store *st);

/* Compare two pools byte for byte over want's checked ranges. Returns 0
 * when identical, else 1 and a message naming the first differing element:
 * the tensor (K, V, their token scales or group codes), where it lives
 * (block, slot, head, dim), the token (new token t, or context position)
 * and its fp32 input value, and the expected and found code. */
int kvc_pool_diff(const kvc_pool *want, const kvc_pool *got,
                  const kvc_case *c, char *msg, size_t n);

/* The new tokens' K and V as a kernel's cache write takes them,
 * [num_tokens][Hkv][D]; padding tokens get NaN. Caller frees. */
int kvc_new_token_kv(const kvc_case *c, float **k, float **v);

#endif /* KVC_POOL_H */
