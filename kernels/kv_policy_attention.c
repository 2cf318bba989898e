/*
 * kv_policy_attention.c — kva_policy_attention: attention of a sequence's
 * new queries over its policy cache (kvattn.h), masked by the positions
 * the policy stored, with the per-slot weights H2O accumulates.
 *
 * A policy cache is small (its slots are bounded), so each KV head's
 * occupied rows are decoded once into fp32 scratch and every query of the
 * group reads them there: a two-pass softmax per row in fp32.
 */
#include "kva_format.h"
#include "kva_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Element d of an 8-bit code row. */
static float decode8(kva_dtype d, uint8_t c)
{
    switch (d) {
    case KVA_DTYPE_FP8_E4M3: return kva_e4m3_decode(c);
    case KVA_DTYPE_FP8_E5M2: return kva_e5m2_decode(c);
    default: return (float)(int8_t)c;
    }
}

/* Decode the row of KV head h at cache slot s (validated) into x [D]. */
static void decode_row(const kva_paged_cache *c, int is_v, int64_t s, int h,
                       float *x)
{
    const int B = c->block_size, D = c->head_dim;
    const kva_kv_scales *sc = &c->scales;
    const int64_t blk = s / B, pos = s % B;
    const int64_t off = blk * c->stride_block + pos * c->stride_slot + h * c->stride_head;
    const void *pool = is_v ? c->v : c->k;
    const int pooled = sc->kind == KVA_SCALE_TOKEN || sc->kind == KVA_SCALE_GROUP;
    const int64_t soff = pooled ? blk * sc->stride_block + pos * sc->stride_slot +
                                      h * sc->stride_head : 0;
    const void *spool = is_v ? sc->v_pool : sc->k_pool;
    float scale = is_v ? sc->v_tensor : sc->k_tensor;
    if (sc->kind == KVA_SCALE_HEAD)
        scale = is_v ? sc->v_head[h] : sc->k_head[h];
    if (sc->kind == KVA_SCALE_TOKEN)
        scale = ((const float *)spool)[soff];
    switch (c->dtype) {
    case KVA_DTYPE_F32:
        memcpy(x, (const float *)pool + off, sizeof(float) * (size_t)D);
        return;
    case KVA_DTYPE_F16:
    case KVA_DTYPE_BF16: {
        const uint16_t *r = (const uint16_t *)pool + off;
        for (int d = 0; d < D; d++)
            x[d] = c->dtype == KVA_DTYPE_F16 ? kva_f16_decode(r[d]) : kva_bf16_decode(r[d]);
        return;
    }
    case KVA_DTYPE_NVFP4: {
        const uint8_t *r = (const uint8_t *)pool + off;
        const uint8_t *codes = (const uint8_t *)spool + soff;
        for (int d = 0; d < D; d++) {
            uint8_t nib = d % 2 ? r[d / 2] >> 4 : r[d / 2] & 15;
            x[d] = kva_e2m1_decode(nib) * kva_nvfp4_effective_scale(codes[d / 16], scale);
        }
        return;
    }
    default: {
        const uint8_t *r = (const uint8_t *)pool + off;
        for (int d = 0; d < D; d++)
            x[d] = decode8(c->dtype, r[d]) * scale;
        return;
    }
    }
}

typedef struct pol_call {
    const kva_attn_params *p;
    const kva_paged_cache *c;
    const int *row;
    int L, H;
    const int64_t *pos; /* [H][L] */
    const float *q;
    const int64_t *q_pos;
    int n;
    float *out, *lse, *weights;
    float *k, *v, *s; /* scratch: [L][D], [L][D], [L] */
} pol_call;

static kva_status check_call(const pol_call *x, int num_row_blocks,
                             kva_error *err)
{
    const kva_paged_cache *c = x->c;
    if (x->H != c->num_kv_heads)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "policy has %d KV heads, the cache %d", x->H,
                        c->num_kv_heads);
    if (x->n < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_tokens %d is negative", x->n);
    if ((int64_t)num_row_blocks * c->block_size < x->L)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "%d row blocks of %d slots hold fewer than the "
                        "policy's %d slots", num_row_blocks, c->block_size,
                        x->L);
    for (int i = 0; i < x->n; i++)
        if (x->q_pos[i] < 0)
            return kva_fail(err, KVA_ERR_LENGTH, "q_pos[%d] = %" PRId64
                            " is negative", i, x->q_pos[i]);
    for (int h = 0; h < x->H; h++)
        for (int j = 0; j < x->L; j++) {
            int b = x->row[j / c->block_size];
            if (x->pos[(int64_t)h * x->L + j] >= 0 && (b < 0 || b >= c->num_blocks))
                return kva_fail(err, KVA_ERR_BLOCK,
                                "block_row[%d] = %d holds occupied slot %d "
                                "(head %d) but is not in [0, %" PRId64 ")",
                                j / c->block_size, b, j, h, c->num_blocks);
        }
    return KVA_OK;
}

static int visible(const pol_call *x, int64_t kp, int64_t qp)
{
    /* KVA_MUT(46): a query does not see its own position */
    if (kp < 0 || (x->p->causal && kp > qp - KVA_MUT(46)))
        return 0;
    return x->p->window_left < 0 || kp >= qp - x->p->window_left;
}

/* One (query token i, query head hq) row of KV head h. */
static void attend_row(pol_call *x, int h, int i, int hq)
{
    const int D = x->p->head_dim, L = x->L, Hq = x->p->num_q_heads;
    const int G = Hq / x->H;
    const float *qr = x->q + ((int64_t)i * Hq + hq) * D;
    float *o = x->out + ((int64_t)i * Hq + hq) * D;
    const int64_t *pos = x->pos + (int64_t)h * L;
    float m = -INFINITY;
    for (int j = 0; j < L; j++) {
        if (!visible(x, pos[j], x->q_pos[i])) {
            x->s[j] = -INFINITY;
            continue;
        }
        float acc = 0.0f;
        for (int d = 0; d < D; d++)
            acc += qr[d] * x->k[(int64_t)j * D + d];
        float sc = x->p->scale * acc;
        if (x->p->softcap > 0.0f)
            sc = x->p->softcap * tanhf(sc / x->p->softcap);
        x->s[j] = sc;
        if (sc > m)
            m = sc;
    }
    memset(o, 0, sizeof(float) * (size_t)D);
    if (m == -INFINITY) {
        if (x->lse)
            x->lse[(int64_t)i * Hq + hq] = -INFINITY;
        return;
    }
    float sum = 0.0f;
    for (int j = 0; j < L; j++) {
        x->s[j] = x->s[j] == -INFINITY ? 0.0f : expf(x->s[j] - m);
        sum += x->s[j];
    }
    for (int j = 0; j < L; j++) {
        if (x->s[j] == 0.0f)
            continue;
        float pj = x->s[j] / sum;
        for (int d = 0; d < D; d++)
            o[d] += pj * x->v[(int64_t)j * D + d];
        if (x->weights)
            /* KVA_MUT(47): summed, not averaged, over the group */
            x->weights[(int64_t)h * L + j] += pj / (float)(KVA_MUT(47) ? 1 : G);
    }
    if (x->lse)
        x->lse[(int64_t)i * Hq + hq] = m + logf(sum);
}

static void attend_head(pol_call *x, int h)
{
    const int B = x->c->block_size, D = x->p->head_dim;
    for (int j = 0; j < x->L; j++) {
        if (x->pos[(int64_t)h * x->L + j] < 0)
            continue;
        int64_t slot = (int64_t)x->row[j / B] * B + j % B;
        decode_row(x->c, 0, slot, h, x->k + (int64_t)j * D);
        decode_row(x->c, 1, slot, h, x->v + (int64_t)j * D);
    }
    const int G = x->p->num_q_heads / x->H;
    for (int i = 0; i < x->n; i++)
        for (int g = 0; g < G; g++)
            attend_row(x, h, i, h * G + g);
}

kva_status kva_policy_attention(const kva_attn_params *params,
                                const kva_paged_cache *cache,
                                const int *block_row, int num_row_blocks,
                                const void *policy, const float *q,
                                const int64_t *q_pos, int num_tokens,
                                float *out, float *lse, float *weights,
                                kva_error *err)
{
    kva_clear_error(err);
    if (!params || !cache || !policy || !block_row ||
        (num_tokens > 0 && (!q || !q_pos || !out)))
        return kva_fail(err, KVA_ERR_NULL, "%s is NULL",
                        !params ? "params" : !cache ? "cache"
                        : !policy ? "policy" : !block_row ? "block_row"
                        : !q ? "q" : !q_pos ? "q_pos" : "out");
    kva_status st = kva_check_params(params, err);
    if (st == KVA_OK)
        st = kva_check_paged_cache(cache, err);
    if (st != KVA_OK)
        return st;
    if (cache->num_kv_heads != params->num_kv_heads || cache->head_dim != params->head_dim)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache has %d KV heads of dim %d, params %d of %d",
                        cache->num_kv_heads, cache->head_dim,
                        params->num_kv_heads, params->head_dim);
    pol_call x = {params, cache, block_row, 0, 0, NULL, q, q_pos, num_tokens,
                  out, lse, weights, NULL, NULL, NULL};
    if ((st = kva_policy_view(policy, &x.L, &x.H, &x.pos, err)) != KVA_OK ||
        (st = check_call(&x, num_row_blocks, err)) != KVA_OK)
        return st;
    int64_t rows;
    if (!kva_mul_nonneg(x.L, params->head_dim, &rows) ||
        (uint64_t)rows > SIZE_MAX / (2 * sizeof(float)) - x.L)
        return kva_fail(err, KVA_ERR_LENGTH, "policy slots x head_dim overflow");
    float *scratch = malloc(sizeof(float) * (size_t)(2 * rows + x.L));
    if (!scratch)
        return kva_fail(err, KVA_ERR_NOMEM, "cannot allocate %" PRId64
                        " floats of scratch", 2 * rows + x.L);
    x.k = scratch;
    x.v = scratch + rows;
    x.s = scratch + 2 * rows;
    if (weights)
        memset(weights, 0, sizeof(float) * (size_t)x.H * (size_t)x.L);
    for (int h = 0; h < x.H; h++)
        attend_head(&x, h);
    free(scratch);
    return KVA_OK;
}
