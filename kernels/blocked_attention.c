/*
 * blocked_attention.c — kva_blocked_attention: QEfficient's BlockedKV, a
 * contiguous cache [S][Hkv][CL][R] (R = the row's storage units: D, D/2
 * for NVFP4) reduced in num_kv_blocks tiles of ceil(CL / num_kv_blocks)
 * positions. Same arithmetic as paged attention
 * (attention_core.c); the tiles are simply consecutive. Tiles past seq_len
 * (the last ones may be partial or empty) are never read.
 */
#include "kva_internal.h"

#include <inttypes.h>

typedef struct blocked_ctx {
    const kva_blocked_cache *cache;
    int64_t tile_len;
} blocked_ctx;

static void blocked_tiles(const void *ctx, int s, int kv_head,
                          kva_kv_tiles *t)
{
    const blocked_ctx *bc = ctx;
    const kva_blocked_cache *c = bc->cache;
    const kva_kv_scales *sc = &c->scales;
    const int64_t R = kva_row_units(c->dtype, c->head_dim);
    /* Offsets proven to fit in int64 by the S*Hkv*CL*R check (in units;
     * the arrays hold that many units, so the byte offsets fit too). */
    const int64_t off = ((int64_t)s * c->num_kv_heads + kv_head) *
                        c->cache_len * R * kva_unit_bytes(c->dtype);
    t->dtype = c->dtype;
    t->k = (const char *)c->k + off;
    t->v = (const char *)c->v + off;
    t->tile_ids = NULL;
    t->tile_stride = (bc->tile_len - KVA_MUT(36)) * R;
    t->pos_stride = R;
    t->tile_len = bc->tile_len;
    /* block = sequence, slot = position (kvattn.h); rows proven in bounds
     * by the scale-pool check over S x CL x Hkv. Tile b starts at position
     * b*tile_len, so its scale rows are tile_len slots apart; that is a
     * real offset only when a second tile exists (tile_len < CL): with one
     * tile it is never used and may not even fit (a free stride_slot when
     * CL == 1). Only positions below seq_len <= CL are ever read. */
    const int pooled = kva_scales_pooled(sc->kind); /* else: junk allowed */
    kva_tiles_set_scales(
        t, sc, kv_head,
        pooled ? (int64_t)s * sc->stride_block +
                     (int64_t)kv_head * sc->stride_head
               : 0,
        pooled && bc->tile_len < c->cache_len ? bc->tile_len * sc->stride_slot
                                              : 0);
}

/* The cache's own description and its agreement with params and batch. */
static kva_status check_blocked_cache(const kva_attn_params *p,
                                      const kva_blocked_cache *c,
                                      int num_kv_blocks, int num_seqs,
                                      kva_error *err)
{
    if (c->num_kv_heads != p->num_kv_heads)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache num_kv_heads %d differs from params "
                        "num_kv_heads %d",
                        c->num_kv_heads, p->num_kv_heads);
    if (c->head_dim != p->head_dim)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache head_dim %d differs from params head_dim %d",
                        c->head_dim, p->head_dim);
    if (c->cache_len < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "cache_len %d must be >= 1",
                        c->cache_len);
    if (c->num_seqs != num_seqs)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "num_seqs %d differs from cache num_seqs %d",
                        num_seqs, c->num_seqs);
    if (num_kv_blocks < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "num_kv_blocks %d must be >= 1",
                        num_kv_blocks);
    kva_status st = kva_check_format(c->dtype, &c->scales, c->num_kv_heads,
                                     c->head_dim, err);
    if (st != KVA_OK)
        return st;
    if (num_seqs > 0) {
        if (c->k == NULL)
            return kva_fail(err, KVA_ERR_NULL, "cache->k is NULL");
        if (c->v == NULL)
            return kva_fail(err, KVA_ERR_NULL, "cache->v is NULL");
        int64_t n;
        const int64_t R = kva_row_units(c->dtype, c->head_dim);
        if (!kva_mul_nonneg((int64_t)num_seqs * c->num_kv_heads,
                            (int64_t)c->cache_len * R, &n))
            return kva_fail(err, KVA_ERR_SHAPE,
                            "cache of %d x %d x %d x %" PRId64
                            " units overflows int64",
                            num_seqs, c->num_kv_heads, c->cache_len, R);
        /* The scale pools: block = sequence, slot = position. */
        st = kva_check_scale_pools(&c->scales, num_seqs, c->cache_len,
                                   c->num_kv_heads, c->head_dim, err);
        if (st != KVA_OK)
            return st;
    }
    return KVA_OK;
}

kva_status kva_blocked_attention(const kva_attn_params *params,
                                 const kva_blocked_cache *cache,
                                 int num_kv_blocks, int num_seqs,
                                 const int64_t *query_start_loc,
                                 const int *seq_lens,
                                 const uint8_t *const *masks, const float *q,
                                 int64_t num_tokens, float *out, float *lse,
                                 kva_error *err)
{
    kva_clear_error(err);
    if (params == NULL)
        return kva_fail(err, KVA_ERR_NULL, "params is NULL");
    if (cache == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache is NULL");
    kva_status st = kva_check_params(params, err);
    if (st != KVA_OK)
        return st;
    st = check_blocked_cache(params, cache, num_kv_blocks, num_seqs, err);
    if (st != KVA_OK)
        return st;

    const kva_varlen vl = {num_seqs, query_start_loc, seq_lens, masks};
    st = kva_check_varlen(&vl, params, q, num_tokens, out, err);
    if (st != KVA_OK)
        return st;
    for (int s = 0; s < num_seqs; s++)
        if (seq_lens[s] > cache->cache_len)
            return kva_fail(err, KVA_ERR_LENGTH,
                            "sequence %d: seq_len %d exceeds cache_len %d", s,
                            seq_lens[s], cache->cache_len);

    /* ceil(CL / nkb) in int64: CL + nkb - 1 may not fit in int. */
    const int64_t tile_len =
        ((int64_t)cache->cache_len + num_kv_blocks - 1) / num_kv_blocks;
    const blocked_ctx bc = {cache, tile_len};
    return kva_attend_batch(params, &vl, cache->dtype, blocked_tiles, &bc,
                            tile_len, q, out, lse, err);
}
