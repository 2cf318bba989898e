/*
 * paged_attention.c — kva_paged_attention: attention over a paged K/V
 * cache through a block table. Validation here is what is specific to the
 * paged form (the cache against the params, the block table against the
 * positions the queries can see); the arithmetic is attention_core.c with
 * one tile per cache block.
 */
#include "kva_internal.h"

#include <inttypes.h>

/* Tiles of sequence s, KV head h: cache blocks in block-table order. */
typedef struct paged_ctx {
    const kva_paged_cache *cache;
    const kva_paged_batch *batch;
    int group; /* query heads per KV head (KVA_MUT(21) only) */
} paged_ctx;

static void paged_tiles(const void *ctx, int s, int kv_head, kva_kv_tiles *t)
{
    const paged_ctx *pc = ctx;
    const kva_paged_cache *c = pc->cache;
    const kva_kv_scales *sc = &c->scales;
    /* Offsets in units, proven in bounds by the cache check; the pools are
     * addressed in bytes here, units inside the tile loop. */
    const int64_t head_off =
        (int64_t)kv_head * c->stride_head * kva_unit_bytes(c->dtype);
    t->dtype = c->dtype;
    t->k = (const char *)c->k + head_off;
    t->v = (const char *)c->v + head_off;
    t->tile_ids = pc->batch->block_table +
                  (int64_t)s * pc->batch->max_blocks_per_seq;
    t->tile_stride = c->stride_block;
    t->pos_stride = c->stride_slot;
    t->tile_len = c->block_size;
    /* scale rows of head kv_head; tile = block, stride_block apart. The
     * strides are only arithmetic when the kind has pools: for the others
     * they may hold anything (kvattn.h) */
    const int pooled = kva_scales_pooled(sc->kind);
    /* KVA_MUT(21): the per-head scale of the group's first query head */
    kva_tiles_set_scales(t, sc, KVA_MUT(21) ? kv_head * pc->group : kv_head,
                         pooled ? (int64_t)kv_head * sc->stride_head : 0,
                         pooled ? sc->stride_block : 0);
}

/*
 * Every sequence fits its block table, and every entry a query can read is
 * a real block. The entries checked are those of positions [lo, seq_len),
 * lo = 0 without a window and max(0, ctx_len - window_left) with one: the
 * earliest position any of the sequence's queries can see. Entries below
 * lo are never read (attention_core skips their tiles), so -1 there is
 * accepted, as engines free blocks that slid out of the window.
 */
static kva_status check_block_table(const kva_attn_params *p,
                                    const kva_paged_cache *c,
                                    const kva_paged_batch *b, kva_error *err)
{
    const int S = b->num_seqs, mb = b->max_blocks_per_seq;
    const int64_t B = c->block_size;
    if (S > 0 && mb < 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "max_blocks_per_seq %d is negative", mb);
    if (S > 0 && b->block_table == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "block_table is NULL with num_seqs %d", S);
    for (int s = 0; s < S; s++) {
        const int64_t seq_len = b->seq_lens[s];
        const int64_t q_len =
            b->query_start_loc[s + 1] - b->query_start_loc[s];
        const int64_t blocks = (seq_len + B - 1) / B;
        if (blocks > mb)
            return kva_fail(err, KVA_ERR_LENGTH,
                            "sequence %d: seq_len %" PRId64 " needs %" PRId64
                            " blocks of %" PRId64
                            " but max_blocks_per_seq is %d",
                            s, seq_len, blocks, B, mb);
        if (seq_len == 0)
            continue;
        int64_t lo = 0;
        if (p->window_left >= 0) {
            lo = seq_len - q_len - p->window_left + KVA_MUT(4);
            if (lo < 0)
                lo = 0;
        }
        const int *row = b->block_table + (int64_t)s * mb;
        for (int64_t blk = lo / B; blk < blocks; blk++) {
            const int id = row[blk];
            if (id < 0 || id >= c->num_blocks) {
                const int64_t pos = blk * B > lo ? blk * B : lo;
                return kva_fail(err, KVA_ERR_BLOCK,
                                "sequence %d: block_table[%d][%" PRId64
                                "] = %d but position %" PRId64
                                " needs a block (valid ids [0, %" PRId64 "))",
                                s, s, blk, id, pos, c->num_blocks);
            }
        }
    }
    return KVA_OK;
}

kva_status kva_paged_attention(const kva_attn_params *params,
                               const kva_paged_cache *cache,
                               const kva_paged_batch *batch, const float *q,
                               int64_t num_tokens, float *out, float *lse,
                               kva_error *err)
{
    kva_clear_error(err);
    if (params == NULL)
        return kva_fail(err, KVA_ERR_NULL, "params is NULL");
    if (cache == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache is NULL");
    if (batch == NULL)
        return kva_fail(err, KVA_ERR_NULL, "batch is NULL");
    kva_status st = kva_check_params(params, err);
    if (st != KVA_OK)
        return st;
    if (cache->num_kv_heads != params->num_kv_heads)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache num_kv_heads %d differs from params "
                        "num_kv_heads %d",
                        cache->num_kv_heads, params->num_kv_heads);
    if (cache->head_dim != params->head_dim)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache head_dim %d differs from params head_dim %d",
                        cache->head_dim, params->head_dim);
    st = kva_check_paged_cache(cache, err);
    if (st != KVA_OK)
        return st;

    const kva_varlen vl = {batch->num_seqs, batch->query_start_loc,
                           batch->seq_lens, batch->masks};
    st = kva_check_varlen(&vl, params, q, num_tokens, out, err);
    if (st != KVA_OK)
        return st;
    st = check_block_table(params, cache, batch, err);
    if (st != KVA_OK)
        return st;

    const paged_ctx pc = {cache, batch,
                          params->num_q_heads / params->num_kv_heads};
    return kva_attend_batch(params, &vl, cache->dtype, paged_tiles, &pc,
                            cache->block_size, q, out, lse, err);
}
