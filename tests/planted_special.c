/*
 * planted_special.c — the bugs of tests/planted_special.h, each wrapped
 * around the real libkvattn entry point it breaks.
 */
#include "planted_special.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* (a) masked keys read with weight 0                                       */
/* ------------------------------------------------------------------------ */

/* Whether element d of the row at storage unit `at` is NaN or infinite
 * once decoded (int8 and nvfp4 have no such code). */
static int stored_nonfinite(const kva_paged_cache *c, const void *base,
                            int64_t at, int d)
{
    switch (c->dtype) {
    case KVA_DTYPE_F32: return !isfinite(((const float *)base)[at + d]);
    case KVA_DTYPE_F16: return (((const uint16_t *)base)[at + d] & 0x7C00) == 0x7C00;
    case KVA_DTYPE_BF16: return (((const uint16_t *)base)[at + d] & 0x7F80) == 0x7F80;
    case KVA_DTYPE_FP8_E4M3: return (((const uint8_t *)base)[at + d] & 0x7F) == 0x7F;
    case KVA_DTYPE_FP8_E5M2: return (((const uint8_t *)base)[at + d] & 0x7C) == 0x7C;
    default: return 0;
    }
}

/* Whether key j is visible to new token i of a sequence (kvattn.h). */
static int visible(const kva_attn_params *p, const uint8_t *mask, int ctx,
                   int kv, int i, int j)
{
    int64_t pos = (int64_t)ctx + i;
    if (p->causal && j > pos)
        return 0;
    if (p->window_left >= 0 && j < pos - p->window_left)
        return 0;
    return !mask || mask[(int64_t)i * kv + j];
}

/* Poison row (token t, query head h) as weight-0 reads of key j would. */
static void poison(const kva_attn_params *p, const kva_paged_cache *c,
                   int64_t row_unit, float *out_row, float *lse_cell)
{
    int D = p->head_dim;
    for (int d = 0; d < D; d++)
        if (stored_nonfinite(c, c->k, row_unit, d)) { /* score NaN */
            for (int e = 0; e < D; e++)
                out_row[e] = NAN;
            if (lse_cell)
                *lse_cell = NAN;
            return;
        }
    for (int d = 0; d < D; d++)
        if (stored_nonfinite(c, c->v, row_unit, d))
            out_row[d] = NAN; /* 0 * inf, 0 * NaN */
}

static void poison_sequence(const kva_attn_params *p, const kva_paged_cache *c,
                            const kva_paged_batch *b, int s, float *out,
                            float *lse)
{
    int64_t t0 = b->query_start_loc[s];
    int q = (int)(b->query_start_loc[s + 1] - t0), kv = b->seq_lens[s];
    int ctx = kv - q, Hq = p->num_q_heads, G = Hq / p->num_kv_heads;
    const uint8_t *mask = b->masks ? b->masks[s] : NULL;
    for (int i = 0; i < q; i++)
        for (int j = 0; j < kv; j++) {
            if (visible(p, mask, ctx, kv, i, j))
                continue;
            int blk = b->block_table[(int64_t)s * b->max_blocks_per_seq +
                                     j / c->block_size];
            if (blk < 0 || blk >= c->num_blocks)
                continue; /* freed below the window: nothing to read */
            for (int h = 0; h < Hq; h++) {
                int64_t at = blk * c->stride_block +
                             (int64_t)(j % c->block_size) * c->stride_slot +
                             (int64_t)(h / G) * c->stride_head;
                poison(p, c, at, out + ((t0 + i) * Hq + h) * p->head_dim,
                       lse ? lse + (t0 + i) * Hq + h : NULL);
            }
        }
}

static kva_status masked_nan_paged(const kva_attn_params *p,
                                   const kva_paged_cache *c,
                                   const kva_paged_batch *b, const float *q,
                                   int64_t n, float *out, float *lse,
                                   kva_error *err)
{
    kva_status st = kva_paged_attention(p, c, b, q, n, out, lse, err);
    if (st != KVA_OK || c->dtype == KVA_DTYPE_NVFP4)
        return st; /* nvfp4's nibbles have no non-finite code */
    for (int s = 0; s < b->num_seqs; s++)
        poison_sequence(p, c, b, s, out, lse);
    return st;
}

const kvc_kernel kvc_planted_masked_nan = {
    .name = "planted-masked-nan",
    .cache_write = kva_cache_write,
    .paged_attention = masked_nan_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
    .merge_states = kva_merge_states,
    .observer_update = kva_observer_update,
    .scale_from_amax = kva_scale_from_amax,
};

/* ------------------------------------------------------------------------ */
/* (b) f16 overflow saturated                                               */
/* ------------------------------------------------------------------------ */

static void saturate_row(uint16_t *row, const float *x, int D)
{
    for (int d = 0; d < D; d++)
        if (isfinite(x[d]) && fabsf(x[d]) >= 65520.0f)
            row[d] = (uint16_t)(signbit(x[d]) ? 0xFBFF : 0x7BFF);
}

static kva_status f16_saturate_write(const kva_paged_cache *c, const float *k,
                                     const float *v, const int64_t *slots,
                                     int64_t n, kva_error *err)
{
    kva_status st = kva_cache_write(c, k, v, slots, n, err);
    if (st != KVA_OK || c->dtype != KVA_DTYPE_F16)
        return st;
    const int H = c->num_kv_heads, D = c->head_dim;
    for (int64_t t = 0; t < n; t++) {
        if (slots[t] < 0)
            continue;
        int64_t b = slots[t] / c->block_size, o = slots[t] % c->block_size;
        for (int h = 0; h < H; h++) {
            int64_t at = b * c->stride_block + o * c->stride_slot +
                         (int64_t)h * c->stride_head;
            const int64_t src = (t * H + h) * (int64_t)D;
            saturate_row((uint16_t *)c->k + at, k + src, D);
            saturate_row((uint16_t *)c->v + at, v + src, D);
        }
    }
    return st;
}

const kvc_kernel kvc_planted_f16_saturate = {
    .name = "planted-f16-saturate",
    .cache_write = f16_saturate_write,
    .paged_attention = kva_paged_attention,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
    .merge_states = kva_merge_states,
    .observer_update = kva_observer_update,
    .scale_from_amax = kva_scale_from_amax,
};

/* ------------------------------------------------------------------------ */
/* (c) calibration from the wrong head                                      */
/* ------------------------------------------------------------------------ */

static kva_status wrong_head_update(kva_observer *o, const float *x,
                                    int64_t n, kva_error *err)
{
    /* the real update validates and computes the tensor amax */
    float *ha = o ? o->head_amax : NULL;
    if (o)
        o->head_amax = NULL;
    kva_status st = kva_observer_update(o, x, n, err);
    if (o)
        o->head_amax = ha;
    if (st != KVA_OK || !ha)
        return st;
    const int H = o->num_kv_heads, D = o->head_dim;
    for (int64_t t = 0; t < n; t++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                float a = fabsf(x[(t * H + h) * (int64_t)D + d]);
                if (isfinite(a) && a > ha[(h + 1) % H])
                    ha[(h + 1) % H] = a; /* the bug: the next head's slot */
            }
    return st;
}

const kvc_kernel kvc_planted_calib_wrong_head = {
    .name = "planted-calib-wrong-head",
    .cache_write = kva_cache_write,
    .paged_attention = kva_paged_attention,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
    .merge_states = kva_merge_states,
    .observer_update = wrong_head_update,
    .scale_from_amax = kva_scale_from_amax,
};
