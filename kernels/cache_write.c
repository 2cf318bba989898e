/*
 * cache_write.c — kva_cache_write: scatter new tokens' K/V into a paged
 * cache through a slot mapping. All-or-nothing: every slot is checked
 * (range, then duplicates) before the first element is written, so a bad
 * slot late in the batch cannot leave the cache half-updated.
 */
#include "kva_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A (slot, token) pair, sorted to find a slot written twice. */
typedef struct slot_use {
    int64_t slot;
    int64_t token;
} slot_use;

static int cmp_slot_use(const void *a, const void *b)
{
    const slot_use *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    return 0;
}

/* Refuse a slot that two tokens write: the result would depend on write
 * order. Sorting a copy keeps this O(n log n) with O(n) scratch. */
static kva_status check_duplicates(const int64_t *slots, int64_t n,
                                   kva_error *err)
{
    if (n < 2)
        return KVA_OK;
    if ((uint64_t)n > SIZE_MAX / sizeof(slot_use))
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate the duplicate-slot check for %" PRId64
                        " tokens",
                        n);
    slot_use *u = malloc((size_t)n * sizeof *u);
    if (u == NULL)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate the duplicate-slot check for %" PRId64
                        " tokens",
                        n);
    int64_t m = 0;
    for (int64_t t = 0; t < n; t++)
        if (slots[t] >= 0)
            u[m++] = (slot_use){slots[t], t};
    qsort(u, (size_t)m, sizeof *u, cmp_slot_use);
    kva_status st = KVA_OK;
    for (int64_t i = 1; i < m; i++)
        if (u[i].slot == u[i - 1].slot) {
            st = kva_fail(err, KVA_ERR_SLOT,
                          "tokens %" PRId64 " and %" PRId64
                          " both write slot %" PRId64,
                          u[i - 1].token, u[i].token, u[i].slot);
            break;
        }
    free(u);
    return st;
}

kva_status kva_cache_write(const kva_paged_cache *cache, const float *k,
                           const float *v, const int64_t *slot_mapping,
                           int64_t num_tokens, kva_error *err)
{
    kva_clear_error(err);
    if (cache == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache is NULL");
    if (num_tokens < 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64 " is negative", num_tokens);
    if (num_tokens > 0) {
        if (k == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "k is NULL but num_tokens is %" PRId64,
                            num_tokens);
        if (v == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "v is NULL but num_tokens is %" PRId64,
                            num_tokens);
        if (slot_mapping == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "slot_mapping is NULL but num_tokens is %" PRId64,
                            num_tokens);
    }
    kva_status st = kva_check_paged_cache(cache, err);
    if (st != KVA_OK)
        return st;

    const int B = cache->block_size, H = cache->num_kv_heads,
              D = cache->head_dim;
    /* The cache check proved num_blocks*B*H*D rows fit in pool_elems, so
     * these products cannot overflow; the source offsets t*H*D must be
     * checked separately (num_tokens is the caller's claim). */
    const int64_t num_slots = cache->num_blocks * B;
    int64_t src_elems;
    if (!kva_mul_nonneg(num_tokens, (int64_t)H * D, &src_elems))
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64
                        " x %d heads x %d dims overflows int64",
                        num_tokens, H, D);

    for (int64_t t = 0; t < num_tokens; t++) {
        int64_t s = slot_mapping[t];
        if (s < -1 || s >= num_slots)
            return kva_fail(err, KVA_ERR_SLOT,
                            "token %" PRId64 ": slot %" PRId64
                            " is out of range [0, %" PRId64 ") (-1 = skip)",
                            t, s, num_slots);
    }
    st = check_duplicates(slot_mapping, num_tokens, err);
    if (st != KVA_OK)
        return st;

    for (int64_t t = 0; t < num_tokens; t++) {
        int64_t s = slot_mapping[t];
        if (s < 0)
            continue; /* padding token */
        int64_t row = (s / B) * cache->stride_block +
                      (s % B) * cache->stride_slot;
        const float *ks = k + t * H * D, *vs = v + t * H * D;
        for (int h = 0; h < H; h++) {
            int64_t off = row + h * cache->stride_head;
            memcpy(cache->k + off, ks + (int64_t)h * D,
                   (size_t)D * sizeof(float));
            memcpy(cache->v + off, vs + (int64_t)h * D,
                   (size_t)D * sizeof(float));
        }
    }
    return KVA_OK;
}
