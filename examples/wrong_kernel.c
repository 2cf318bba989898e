/*
 * wrong_kernel.c — an example plugin that is deliberately WRONG, to show
 * what kvcheck does with a buggy kernel: it must reject it with numeric
 * failures.
 *
 * It is a plain fp32 paged-attention kernel (online softmax over the keys
 * in order, fp32 accumulation; F32 caches only, paged mode only) with one
 * realistic bug, an off-by-one in the causal mask: the query at position p
 * also sees key p + 1 when the sequence has one (see `BUG` below). Decode
 * rows (the last token of a sequence) are right; every other causal row of
 * a prefill or chunked prefill attends to one future token.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kvattn.h"

static kva_status fail(kva_error *err, kva_status st, const char *msg)
{
    if (err) {
        err->status = st;
        snprintf(err->msg, sizeof err->msg, "wrong_kernel: %s", msg);
    }
    return st;
}

/* One row: new token i of sequence s (batch token t), query head h. */
static void attend_row(const kva_attn_params *p, const kva_paged_cache *c,
                       const kva_paged_batch *b, const float *q, float *out,
                       float *lse, float *acc, int s, int64_t t, int i, int h)
{
    int D = p->head_dim, B = c->block_size;
    int64_t qlen = b->query_start_loc[s + 1] - b->query_start_loc[s];
    int64_t seq_len = b->seq_lens[s], pos = seq_len - qlen + i;
    int kvh = h / (p->num_q_heads / p->num_kv_heads);
    const uint8_t *mask = b->masks ? b->masks[s] : NULL;
    const float *qr = q + (t * p->num_q_heads + h) * D;
    const float *K = c->k, *V = c->v;

    int64_t lo = 0, hi = p->causal ? pos + 2 : seq_len; /* BUG: pos + 1 */
    if (p->window_left >= 0 && pos - p->window_left > lo)
        lo = pos - p->window_left;
    if (hi > seq_len)
        hi = seq_len;

    memset(acc, 0, (size_t)D * sizeof *acc);
    float m = -INFINITY, l = 0.0f;
    int seen = 0;
    for (int64_t j = lo; j < hi; j++) {
        if (mask && !mask[(int64_t)i * seq_len + j])
            continue;
        int64_t blk = b->block_table[(int64_t)s * b->max_blocks_per_seq + j / B];
        int64_t off = blk * c->stride_block + (j % B) * c->stride_slot +
                      (int64_t)kvh * c->stride_head;
        float dot = 0.0f;
        for (int d = 0; d < D; d++)
            dot += qr[d] * K[off + d];
        float x = p->scale * dot;
        if (p->softcap > 0.0f)
            x = p->softcap * tanhf(x / p->softcap);
        float w = 1.0f;
        if (x > m) {
            float ms = expf(m - x);
            for (int d = 0; d < D; d++)
                acc[d] *= ms;
            l *= ms;
            m = x;
        } else {
            w = expf(x - m);
        }
        l += w;
        for (int d = 0; d < D; d++)
            acc[d] += w * V[off + d];
        seen = 1;
    }
    float *o = out + (t * p->num_q_heads + h) * D;
    for (int d = 0; d < D; d++)
        o[d] = seen ? acc[d] / l : 0.0f;
    if (lse)
        lse[t * p->num_q_heads + h] = seen ? m + logf(l) : -INFINITY;
}

KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                                       const kva_paged_cache *cache,
                                       const kva_paged_batch *batch,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    if (!params || !cache || !batch || !batch->query_start_loc)
        return fail(err, KVA_ERR_NULL, "a required pointer is NULL");
    if (cache->dtype != KVA_DTYPE_F32 || cache->scales.kind != KVA_SCALE_NONE)
        return fail(err, KVA_ERR_UNSUPPORTED, "only F32 caches are implemented");
    if (params->num_q_heads < 1 || params->num_kv_heads < 1 ||
        params->num_q_heads % params->num_kv_heads != 0 ||
        params->head_dim < 1 || cache->block_size < 1 ||
        cache->num_kv_heads != params->num_kv_heads ||
        cache->head_dim != params->head_dim || batch->num_seqs < 0)
        return fail(err, KVA_ERR_SHAPE, "inconsistent heads or sizes");
    float *acc = malloc((size_t)params->head_dim * sizeof *acc);
    if (!acc)
        return fail(err, KVA_ERR_NOMEM, "out of memory");
    for (int s = 0; s < batch->num_seqs; s++)
        for (int64_t t = batch->query_start_loc[s];
             t < batch->query_start_loc[s + 1]; t++)
            for (int h = 0; h < params->num_q_heads; h++)
                attend_row(params, cache, batch, q, out, lse, acc, s, t,
                           (int)(t - batch->query_start_loc[s]), h);
    free(acc);
    return KVA_OK;
}

KVA_API int kva_abi_version(void) { return KVA_ABI_VERSION; }

KVA_API void kva_capabilities(kva_caps *caps)
{
    kva_caps c = {0};
    c.modes = KVA_MODE_PAGED;
    c.formats[KVA_DTYPE_F32] = 1u << KVA_SCALE_NONE;
    c.layouts = KVA_LAYOUT_NHD | KVA_LAYOUT_HND | KVA_LAYOUT_PADDED;
    c.features = KVA_FEATURE_CAUSAL | KVA_FEATURE_BIDIRECTIONAL |
                 KVA_FEATURE_WINDOW | KVA_FEATURE_SOFTCAP |
                 KVA_FEATURE_CUSTOM_MASK | KVA_FEATURE_PADDING_TOKENS;
    c.head_dims.min = 1;
    c.block_sizes.min = 1;
    c.lse = KVA_LSE_NATURAL;
    c.out_dtype = KVA_DTYPE_F32;
    c.profile = KVA_PROFILE_FP32;
    *caps = c;
}
