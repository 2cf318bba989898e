/*
 * planted_kernels.c — deliberately wrong kernels that prove the fuzz
 * harnesses bite (fuzz/prove-planted.sh). Fuzz-only; separate from
 * tests/planted_kernels.c. Each is libkvattn with one entry point replaced
 * by a small scalar paged attention carrying one classic bug:
 *
 *   fz_planted_past_end        the key loop runs to j <= hi instead of
 *                              j < hi (hi = pos + 1 causal, seq_len
 *                              otherwise): the last query row reads the
 *                              slot one past the sequence's end (poison, a
 *                              -1 table entry, or past the table), other
 *                              rows see one future key.
 *   fz_planted_no_block_check  validates everything the real kernel does
 *                              except the block ids (it validates a copy of
 *                              the table whose out-of-range entries are
 *                              replaced by 0), then reads through the real
 *                              table: a -1 or too-large id reads outside
 *                              the pool.
 *
 * Both first run the real kva_paged_attention (for validation and a correct
 * result), then overwrite the rows with their own arithmetic. They only do
 * so for an F32 cache (their scalar loop reads floats): on the reduced-
 * precision formats they are the real kernel, so a proof run can only
 * catch the planted bug.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/runner.h"

extern const kvc_kernel fz_planted_past_end;
extern const kvc_kernel fz_planted_no_block_check;

/* Scalar two-pass softmax over keys [lo, hi_excl) of one row. */
static void attend_row(const kva_attn_params *p, const kva_paged_cache *c,
                       const int *table, const uint8_t *mrow, int64_t lo,
                       int64_t hi_excl, const float *q, int kvh, float *out,
                       float *lse)
{
    const int D = p->head_dim;
    float m = -INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        float l = 0.0f;
        for (int d = 0; pass == 1 && d < D; d++)
            out[d] = 0.0f;
        for (int64_t j = lo; j < hi_excl; j++) {
            if (mrow && !mrow[j])
                continue;
            int64_t blk = table[j / c->block_size];
            int64_t off = blk * c->stride_block +
                          (j % c->block_size) * c->stride_slot +
                          (int64_t)kvh * c->stride_head;
            const float *k = (const float *)c->k + off;
            const float *v = (const float *)c->v + off;
            float x = 0.0f;
            for (int d = 0; d < D; d++)
                x += q[d] * k[d];
            x *= p->scale;
            if (p->softcap > 0.0f)
                x = p->softcap * tanhf(x / p->softcap);
            if (pass == 0) {
                if (x > m)
                    m = x;
                continue;
            }
            float w = expf(x - m);
            l += w;
            for (int d = 0; d < D; d++)
                out[d] += w * v[d];
        }
        if (pass == 1) {
            for (int d = 0; d < D; d++)
                out[d] = l > 0.0f ? out[d] / l : 0.0f;
            if (lse)
                *lse = l > 0.0f ? m + logf(l) : -INFINITY;
        }
        if (pass == 0 && m == -INFINITY) {
            memset(out, 0, (size_t)D * sizeof *out);
            if (lse)
                *lse = -INFINITY;
            return;
        }
    }
}

/* Every real row with the scalar kernel; past_end adds one key. */
static void attend_all(const kva_attn_params *p, const kva_paged_cache *c,
                       const kva_paged_batch *b, const float *q, float *out,
                       float *lse, int past_end)
{
    const int Hq = p->num_q_heads, D = p->head_dim;
    const int group = Hq / p->num_kv_heads;
    for (int s = 0; s < b->num_seqs; s++) {
        int64_t qn = b->query_start_loc[s + 1] - b->query_start_loc[s];
        int64_t kv = b->seq_lens[s], ctx = kv - qn;
        const int *table = b->block_table + (int64_t)s * b->max_blocks_per_seq;
        const uint8_t *mask = b->masks ? b->masks[s] : NULL;
        for (int64_t i = 0; i < qn; i++) {
            int64_t pos = ctx + i, t = b->query_start_loc[s] + i;
            int64_t hi = p->causal && pos + 1 < kv ? pos + 1 : kv;
            int64_t lo = p->window_left >= 0 && pos - p->window_left > 0
                             ? pos - p->window_left : 0;
            if (past_end)
                hi += 1; /* BUG: j <= hi */
            for (int h = 0; h < Hq; h++)
                attend_row(p, c, table, mask ? mask + i * kv : NULL, lo, hi,
                           q + (t * Hq + h) * D, h / group,
                           out + (t * Hq + h) * D, lse ? lse + t * Hq + h : NULL);
        }
    }
}

static kva_status past_end_paged(const kva_attn_params *p,
                                 const kva_paged_cache *c,
                                 const kva_paged_batch *b, const float *q,
                                 int64_t num_tokens, float *out, float *lse,
                                 kva_error *err)
{
    kva_status st = kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    if (st == KVA_OK && c->dtype == KVA_DTYPE_F32)
        attend_all(p, c, b, q, out, lse, 1);
    return st;
}

static kva_status no_block_check_paged(const kva_attn_params *p,
                                       const kva_paged_cache *c,
                                       const kva_paged_batch *b,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    if (!p || !c || !b || !b->block_table || b->num_seqs <= 0 ||
        b->max_blocks_per_seq <= 0 || c->num_blocks < 1)
        return kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    /* BUG: the ids are "validated" on a sanitized copy */
    size_t n = (size_t)b->num_seqs * (size_t)b->max_blocks_per_seq;
    int *clean = malloc(n * sizeof *clean);
    if (!clean)
        return KVA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        clean[i] = b->block_table[i] >= 0 && b->block_table[i] < c->num_blocks
                       ? b->block_table[i] : 0;
    kva_paged_batch vb = *b;
    vb.block_table = clean;
    kva_status st = kva_paged_attention(p, c, &vb, q, num_tokens, out, lse, err);
    free(clean);
    if (st == KVA_OK && c->dtype == KVA_DTYPE_F32)
        attend_all(p, c, b, q, out, lse, 0);
    return st;
}

const kvc_kernel fz_planted_past_end = {
    .name = "planted-past-end",
    .cache_write = kva_cache_write,
    .paged_attention = past_end_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

const kvc_kernel fz_planted_no_block_check = {
    .name = "planted-no-block-check",
    .cache_write = kva_cache_write,
    .paged_attention = no_block_check_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};
