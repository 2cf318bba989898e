/*
 * planted_kernels.c — deliberately wrong paged attentions (test only).
 *
 * kvc_planted_no_rescale:
 * A plain scalar online softmax over the cache blocks that keeps a running
 * max m, sum l and accumulator acc, but when a block raises m it does NOT
 * multiply l and acc by exp(m_old - m_new). Correct whenever the first
 * block holds the row max; wrong (by O(1)) whenever scores grow later.
 * Validation is left to the real kernel's contract tests: this variant
 * trusts its input. Reduced-precision caches go to the real kernel.
 *
 * kvc_planted_kv_head0: the real kernel with the KV head offset lost (see
 * the end of the file).
 */
#include "planted_kernels.h"

#include <math.h>
#include <stdlib.h>

static int visible(const kva_attn_params *p, const uint8_t *mask, int kv,
                   int i, int pos, int j)
{
    if (p->causal && j > pos)
        return 0;
    if (p->window_left >= 0 && j < pos - p->window_left)
        return 0;
    return !mask || mask[(int64_t)i * kv + j];
}

static const float *row_at(const kva_paged_cache *c, const float *base,
                           const int *table, int j, int kvh)
{
    int64_t blk = table[j / c->block_size];
    return base + blk * c->stride_block +
           (int64_t)(j % c->block_size) * c->stride_slot +
           (int64_t)kvh * c->stride_head;
}

/* One (token, head) row with the planted bug. */
static void attend_row(const kva_attn_params *p, const kva_paged_cache *c,
                       const int *table, const uint8_t *mask, int kv, int i,
                       int pos, const float *q, float *out, float *lse,
                       int kvh, float *acc)
{
    int D = p->head_dim;
    float m = -INFINITY, l = 0;
    for (int d = 0; d < D; d++)
        acc[d] = 0;
    for (int j0 = 0; j0 < kv; j0 += c->block_size) {
        int j1 = j0 + c->block_size < kv ? j0 + c->block_size : kv;
        for (int j = j0; j < j1; j++) {
            if (!visible(p, mask, kv, i, pos, j))
                continue;
            const float *k = row_at(c, c->k, table, j, kvh);
            const float *v = row_at(c, c->v, table, j, kvh);
            float x = 0;
            for (int d = 0; d < D; d++)
                x += q[d] * k[d];
            x *= p->scale;
            if (p->softcap > 0)
                x = p->softcap * tanhf(x / p->softcap);
            if (x > m)
                m = x; /* BUG: l and acc are not rescaled */
            float w = expf(x - m);
            l += w;
            for (int d = 0; d < D; d++)
                acc[d] += w * v[d];
        }
    }
    for (int d = 0; d < D; d++)
        out[d] = l > 0 ? acc[d] / l : 0.0f;
    if (lse)
        *lse = l > 0 ? m + logf(l) : -INFINITY;
}

static kva_status no_rescale_paged(const kva_attn_params *p,
                                   const kva_paged_cache *c,
                                   const kva_paged_batch *b, const float *q,
                                   int64_t num_tokens, float *out, float *lse,
                                   kva_error *err)
{
    /* The bug is in the arithmetic; it reads f32 caches only (a
     * reduced-precision cache goes to the real kernel). */
    if (c->dtype != KVA_DTYPE_F32)
        return kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    int Hq = p->num_q_heads, D = p->head_dim, group = Hq / p->num_kv_heads;
    float *acc = malloc(sizeof(float) * (size_t)D);
    if (!acc)
        return KVA_ERR_NOMEM;
    for (int s = 0; s < b->num_seqs; s++) {
        int qn = (int)(b->query_start_loc[s + 1] - b->query_start_loc[s]);
        int kv = b->seq_lens[s], ctx = kv - qn;
        const int *table = b->block_table + (int64_t)s * b->max_blocks_per_seq;
        const uint8_t *mask = b->masks ? b->masks[s] : NULL;
        for (int i = 0; i < qn; i++) {
            int64_t t = b->query_start_loc[s] + i;
            for (int h = 0; h < Hq; h++)
                attend_row(p, c, table, mask, kv, i, ctx + i,
                           q + (t * Hq + h) * D, out + (t * Hq + h) * D,
                           lse ? lse + t * Hq + h : NULL, h / group, acc);
        }
    }
    free(acc);
    return KVA_OK;
}

const kvc_kernel kvc_planted_no_rescale = {
    .name = "planted-no-rescale",
    .cache_write = kva_cache_write,
    .paged_attention = no_rescale_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* The whole cache seen as one KV head: the real kernel, told Hkv = 1 in both
 * the parameters and the cache description, reads head 0 (its rows stay
 * where they are; only the head offset is lost). */
static kva_status kv_head0_paged(const kva_attn_params *p,
                                 const kva_paged_cache *c,
                                 const kva_paged_batch *b, const float *q,
                                 int64_t num_tokens, float *out, float *lse,
                                 kva_error *err)
{
    kva_attn_params p1 = *p;
    kva_paged_cache c1 = *c;
    p1.num_kv_heads = 1; /* BUG: every query head maps to KV head 0 */
    c1.num_kv_heads = 1;
    return kva_paged_attention(&p1, &c1, b, q, num_tokens, out, lse, err);
}

const kvc_kernel kvc_planted_kv_head0 = {
    .name = "planted-kv-head0",
    .cache_write = kva_cache_write,
    .paged_attention = kv_head0_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* 32-bit block offsets: the real kernel, given the block each table entry
 * would address if `id * stride_block` were computed in 32 bits (the
 * classic overflow of a kernel that indexes its pool with int/uint32).
 * Harmless on small pools; wrong as soon as an offset passes 2^32. */
static kva_status offset32_paged(const kva_attn_params *p,
                                 const kva_paged_cache *c,
                                 const kva_paged_batch *b, const float *q,
                                 int64_t num_tokens, float *out, float *lse,
                                 kva_error *err)
{
    int64_t n = (int64_t)b->num_seqs * b->max_blocks_per_seq;
    int *table = malloc((size_t)(n > 0 ? n : 1) * sizeof *table);
    if (!table)
        return KVA_ERR_NOMEM;
    for (int64_t e = 0; e < n; e++) {
        int id = b->block_table[e];
        uint32_t off32 = (uint32_t)((uint64_t)(id > 0 ? id : 0) *
                                    (uint64_t)c->stride_block);
        table[e] = id < 0 ? id : (int)(off32 / (uint64_t)c->stride_block);
    }
    kva_paged_batch b1 = *b;
    b1.block_table = table;
    kva_status s = kva_paged_attention(p, c, &b1, q, num_tokens, out, lse, err);
    free(table);
    return s;
}

const kvc_kernel kvc_planted_offset32 = {
    .name = "planted-offset32",
    .cache_write = kva_cache_write,
    .paged_attention = offset32_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* Output that depends on where a block lives: the real kernel, then the
 * first output element nudged by a few ulps times the first block id (as a
 * reduction ordered by physical id would do). Within the tolerance, so only
 * the relabelling property can see it. */
static kva_status block_id_paged(const kva_attn_params *p,
                                 const kva_paged_cache *c,
                                 const kva_paged_batch *b, const float *q,
                                 int64_t num_tokens, float *out, float *lse,
                                 kva_error *err)
{
    kva_status s = kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    if (s == KVA_OK && b->num_seqs > 0 && b->query_start_loc[1] > 0 &&
        b->block_table[0] > 0)
        out[0] += (float)b->block_table[0] * 0x1p-23f * fabsf(out[0]);
    return s;
}

const kvc_kernel kvc_planted_block_id_dependent = {
    .name = "planted-block-id-dependent",
    .cache_write = kva_cache_write,
    .paged_attention = block_id_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* Output that depends on the batch: the real kernel, then the first output
 * element nudged by a few ulps times the number of sequences (as a split
 * chosen from the batch's total size would do). Within the tolerance. */
static kva_status batch_dependent_paged(const kva_attn_params *p,
                                        const kva_paged_cache *c,
                                        const kva_paged_batch *b,
                                        const float *q, int64_t num_tokens,
                                        float *out, float *lse, kva_error *err)
{
    kva_status s = kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    if (s == KVA_OK && b->num_seqs > 1 && b->query_start_loc[1] > 0)
        out[0] += (float)b->num_seqs * 0x1p-23f * fabsf(out[0]);
    return s;
}

const kvc_kernel kvc_planted_batch_dependent = {
    .name = "planted-batch-dependent",
    .cache_write = kva_cache_write,
    .paged_attention = batch_dependent_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* ---- bugs for the tolerance-based properties (planted_kernels.h) ---- */

enum { BUG_CHUNK_POSITION, BUG_DECODE_OWN_KEY, BUG_BIG_BLOCK_DIAGONAL };

/* Score of key j for query q under KV head kvh. */
static float score_at(const kva_attn_params *p, const kva_paged_cache *c,
                      const int *table, int j, int kvh, const float *q)
{
    const float *k = row_at(c, c->k, table, j, kvh);
    float x = 0;
    for (int d = 0; d < p->head_dim; d++)
        x += q[d] * k[d];
    x *= p->scale;
    if (p->softcap > 0)
        x = p->softcap * tanhf(x / p->softcap);
    return x;
}

static kva_status buggy_scalar_paged(int bug, const kva_attn_params *p,
                                     const kva_paged_cache *c,
                                     const kva_paged_batch *b, const float *q,
                                     int64_t num_tokens, float *out,
                                     float *lse, kva_error *err)
{
    if (c->dtype != KVA_DTYPE_F32)
        return kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    int Hq = p->num_q_heads, D = p->head_dim, group = Hq / p->num_kv_heads;
    for (int s = 0; s < b->num_seqs; s++) {
        int qn = (int)(b->query_start_loc[s + 1] - b->query_start_loc[s]);
        int kv = b->seq_lens[s], ctx = kv - qn;
        const int *table = b->block_table + (int64_t)s * b->max_blocks_per_seq;
        const uint8_t *mask = b->masks ? b->masks[s] : NULL;
        for (int i = 0; i < qn; i++) {
            int pos = ctx + i, qpos = pos, end = kv, skip = -1;
            if (bug == BUG_CHUNK_POSITION && ctx > 0 && qn > 1)
                qpos = i; /* BUG: the chunk is taken to start at 0 (keys
                             in freed blocks it now admits are skipped) */
            if (bug == BUG_DECODE_OWN_KEY && qn == 1)
                end = ctx; /* BUG: ctx_len keys instead of seq_len */
            if (bug == BUG_BIG_BLOCK_DIAGONAL && c->block_size >= 32 &&
                p->causal)
                skip = pos; /* BUG: j < pos instead of j <= pos */
            int64_t t = b->query_start_loc[s] + i;
            for (int h = 0; h < Hq; h++) {
                const float *qh = q + (t * Hq + h) * D;
                float *o = out + (t * Hq + h) * D;
                float m = -INFINITY, l = 0;
                for (int j = 0; j < end; j++)
                    if (j != skip && table[j / c->block_size] >= 0 &&
                        visible(p, mask, kv, i, qpos, j)) {
                        float x = score_at(p, c, table, j, h / group, qh);
                        if (x > m)
                            m = x;
                    }
                for (int d = 0; d < D; d++)
                    o[d] = 0;
                for (int j = 0; j < end && m > -INFINITY; j++)
                    if (j != skip && table[j / c->block_size] >= 0 &&
                        visible(p, mask, kv, i, qpos, j)) {
                        float w = expf(score_at(p, c, table, j, h / group, qh) - m);
                        const float *v = row_at(c, c->v, table, j, h / group);
                        l += w;
                        for (int d = 0; d < D; d++)
                            o[d] += w * v[d];
                    }
                for (int d = 0; d < D; d++)
                    o[d] = l > 0 ? o[d] / l : 0.0f;
                if (lse)
                    lse[t * Hq + h] = l > 0 ? m + logf(l) : -INFINITY;
            }
        }
    }
    return KVA_OK;
}

static kva_status chunk_position_paged(const kva_attn_params *p,
                                       const kva_paged_cache *c,
                                       const kva_paged_batch *b, const float *q,
                                       int64_t n, float *out, float *lse,
                                       kva_error *err)
{
    return buggy_scalar_paged(BUG_CHUNK_POSITION, p, c, b, q, n, out, lse, err);
}

static kva_status decode_own_key_paged(const kva_attn_params *p,
                                       const kva_paged_cache *c,
                                       const kva_paged_batch *b, const float *q,
                                       int64_t n, float *out, float *lse,
                                       kva_error *err)
{
    return buggy_scalar_paged(BUG_DECODE_OWN_KEY, p, c, b, q, n, out, lse, err);
}

static kva_status big_block_paged(const kva_attn_params *p,
                                  const kva_paged_cache *c,
                                  const kva_paged_batch *b, const float *q,
                                  int64_t n, float *out, float *lse,
                                  kva_error *err)
{
    return buggy_scalar_paged(BUG_BIG_BLOCK_DIAGONAL, p, c, b, q, n, out, lse,
                              err);
}

const kvc_kernel kvc_planted_chunk_position = {
    .name = "planted-chunk-position",
    .cache_write = kva_cache_write,
    .paged_attention = chunk_position_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

const kvc_kernel kvc_planted_decode_misses_own_key = {
    .name = "planted-decode-misses-own-key",
    .cache_write = kva_cache_write,
    .paged_attention = decode_own_key_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

const kvc_kernel kvc_planted_big_block_diagonal = {
    .name = "planted-big-block-diagonal",
    .cache_write = kva_cache_write,
    .paged_attention = big_block_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};
