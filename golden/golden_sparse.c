/*
 * golden_sparse.c — what the golden reader and writer need to know about
 * sparse pools (FORMAT.md, "Sparse pools"): when a pool is one, and which
 * of its blocks hold anything.
 *
 * A large-offset case puts every block id above a huge unused stretch of
 * the pool, so its K/V pools span tens of GiB that no reader should
 * allocate. The file stores the layout as it is (the offsets are what the
 * test is about); the reader bounds the virtual size and the blocks the
 * layout names, which are the only memory a runner touches.
 */
#include "golden_internal.h"

#include <stdlib.h>

int kvcg_unit_bytes(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F32: return 4;
    case KVC_KV_F16:
    case KVC_KV_BF16: return 2;
    default: return 1;
    }
}

int kvcg_scale_unit_bytes(kvc_scale_kind k)
{
    return k == KVC_SCALE_TOKEN ? 4 : k == KVC_SCALE_GROUP ? 1 : 0;
}

int kvcg_layout_sparse(const kvc_layout *L)
{
    return L->pool_elems > KVCG_GOLDEN_MAX_ELEMS ||
           L->scale_pool_units > KVCG_GOLDEN_MAX_ELEMS;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t kvcg_touched_blocks(const kvc_layout *L, int num_seqs,
                            int64_t num_tokens)
{
    int64_t entries = (int64_t)(num_seqs > 0 ? num_seqs : 1) *
                      L->max_blocks_per_seq;
    int64_t *ids = malloc((size_t)(entries + num_tokens + 1) * sizeof *ids);
    if (!ids)
        return -1;
    int64_t n = 0;
    for (int64_t e = 0; e < entries; e++)
        if (L->block_table[e] >= 0 && L->block_table[e] < L->num_blocks)
            ids[n++] = L->block_table[e];
    /* slots of invalid tests may name a block no table entry does */
    for (int64_t t = 0; t < num_tokens && L->block_size > 0; t++) {
        int64_t slot = L->slot_mapping[t];
        if (slot >= 0 && slot / L->block_size < L->num_blocks)
            ids[n++] = slot / L->block_size;
    }
    qsort(ids, (size_t)n, sizeof *ids, cmp_i64);
    int64_t distinct = 0;
    for (int64_t i = 0; i < n; i++)
        distinct += i == 0 || ids[i] != ids[i - 1];
    free(ids);
    return distinct;
}
