/* validate.c — what kvc_case_build refuses, with a message naming it. */
#include "gen_internal.h"

#include <math.h>
#include <stdio.h>

#define FAIL(...)                                                             \
    do {                                                                      \
        if (err && errlen)                                                    \
            snprintf(err, errlen, __VA_ARGS__);                               \
        return -1;                                                            \
    } while (0)

int kvcg_validate_spec(const kvc_case_spec *sp, char *err, size_t errlen)
{
    const kvc_config *g = &sp->cfg;
    if ((int)sp->mode < 0 || sp->mode >= KVC_MODE_COUNT)
        FAIL("spec: mode %d is not a mode", (int)sp->mode);
    if ((int)sp->table < 0 || sp->table >= KVC_TABLE_COUNT)
        FAIL("spec: table kind %d is unknown", (int)sp->table);
    if ((int)sp->mask < 0 || sp->mask >= KVC_MASK_COUNT)
        FAIL("spec: mask kind %d is unknown", (int)sp->mask);
    if ((int)sp->values < 0 || sp->values >= KVC_VALUES_COUNT)
        FAIL("spec: values kind %d is unknown", (int)sp->values);
    if ((int)sp->kv_dtype < 0 || sp->kv_dtype >= KVC_KV_DTYPE_COUNT)
        FAIL("spec: kv_dtype %d is unknown", (int)sp->kv_dtype);
    if (!kvc_quant_kind_valid(sp->kv_dtype, sp->kv_scale))
        FAIL("spec: kv_scale %s (%d) is not a strategy of kv_dtype %s",
             kvc_scale_kind_name(sp->kv_scale), (int)sp->kv_scale,
             kvc_kv_dtype_name(sp->kv_dtype));
    if ((int)sp->scale_family < 0 || sp->scale_family >= KVC_SCALES_COUNT)
        FAIL("spec: scale_family %d is unknown", (int)sp->scale_family);
    if (sp->kv_dtype == KVC_KV_NVFP4 && g->head_dim % 16 != 0)
        FAIL("spec: nvfp4 needs head_dim a multiple of 16, not %d",
             g->head_dim);
    if (sp->format_edges != 0 && sp->format_edges != 1)
        FAIL("spec: format_edges = %d must be 0 or 1", sp->format_edges);
    if (sp->special_inputs != 0 && sp->special_inputs != 1)
        FAIL("spec: special_inputs = %d must be 0 or 1", sp->special_inputs);
    if (sp->kernel_calibration != 0 &&
        (sp->kernel_calibration != 1 || sp->scale_family != KVC_SCALES_CALIBRATED ||
         !(sp->kv_scale == KVC_SCALE_TENSOR || sp->kv_scale == KVC_SCALE_HEAD ||
           sp->kv_scale == KVC_SCALE_GROUP)))
        FAIL("spec: kernel_calibration = %d needs 1, calibrated static scales "
             "(tensor, attn_head or group)", sp->kernel_calibration);
    if (sp->num_seqs < 0 || sp->num_seqs > KVC_MAX_SEQS)
        FAIL("spec: num_seqs = %d is outside 0..%d (KVC_MAX_SEQS)",
             sp->num_seqs, KVC_MAX_SEQS);
    if (g->num_q_heads < 1 || g->num_q_heads > KVCG_MAX_HEADS ||
        g->num_kv_heads < 1 || g->num_kv_heads > KVCG_MAX_HEADS)
        FAIL("spec: head counts Hq = %d, Hkv = %d must be in 1..%d",
             g->num_q_heads, g->num_kv_heads, KVCG_MAX_HEADS);
    if (g->num_q_heads % g->num_kv_heads != 0)
        FAIL("spec: Hq = %d is not a multiple of Hkv = %d", g->num_q_heads,
             g->num_kv_heads);
    if (g->head_dim < 1 || g->head_dim > KVCG_MAX_HEAD_DIM)
        FAIL("spec: head_dim = %d must be in 1..%d", g->head_dim,
             KVCG_MAX_HEAD_DIM);
    if (!isfinite(g->scale))
        FAIL("spec: scale = %g is not finite", (double)g->scale);
    if (!isfinite(g->softcap) || g->softcap < 0)
        FAIL("spec: softcap = %g must be finite and >= 0", (double)g->softcap);
    if (g->causal != 0 && g->causal != 1)
        FAIL("spec: causal = %d must be 0 or 1", g->causal);
    if (g->window_left < KVC_NO_WINDOW)
        FAIL("spec: window_left = %d must be -1 (none) or >= 0", g->window_left);
    if (sp->pad_tokens < 0 || sp->pad_tokens > KVCG_MAX_EXTRA)
        FAIL("spec: pad_tokens = %d must be in 0..%d", sp->pad_tokens,
             KVCG_MAX_EXTRA);

    int64_t tokens = sp->pad_tokens, kv_rows = 0, mask_bytes = 0;
    int max_kv = 0, max_q = 0;
    for (int s = 0; s < sp->num_seqs; s++) {
        if (sp->ctx_len[s] < 0 || sp->ctx_len[s] > KVCG_MAX_LEN ||
            sp->q_len[s] < 0 || sp->q_len[s] > KVCG_MAX_LEN)
            FAIL("spec: sequence %d: ctx_len = %d, q_len = %d must be in 0..%d",
                 s, sp->ctx_len[s], sp->q_len[s], KVCG_MAX_LEN);
        int kv = sp->ctx_len[s] + sp->q_len[s];
        if (kv > max_kv)
            max_kv = kv;
        if (sp->q_len[s] > max_q)
            max_q = sp->q_len[s];
        tokens += sp->q_len[s];
        kv_rows += kv;
        mask_bytes += (int64_t)sp->q_len[s] * kv;
    }
    if (tokens * g->num_q_heads > KVCG_MAX_ELEMS / g->head_dim ||
        kv_rows * g->num_kv_heads > KVCG_MAX_ELEMS / g->head_dim ||
        (sp->mask != KVC_MASK_NONE && mask_bytes > KVCG_MAX_ELEMS))
        FAIL("spec: case too large (%lld tokens, %lld kv rows; at most %lld "
             "elements per tensor)", (long long)tokens, (long long)kv_rows,
             (long long)KVCG_MAX_ELEMS);

    if (sp->mode == KVC_MODE_BLOCKED) {
        if (sp->cache_len < 1 || sp->cache_len > KVCG_MAX_LEN)
            FAIL("spec: BLOCKED cache_len = %d must be in 1..%d", sp->cache_len,
                 KVCG_MAX_LEN);
        for (int s = 0; s < sp->num_seqs; s++)
            if (sp->ctx_len[s] + sp->q_len[s] > sp->cache_len)
                FAIL("spec: BLOCKED sequence %d: kv_len = %d exceeds cache_len = %d",
                     s, sp->ctx_len[s] + sp->q_len[s], sp->cache_len);
        if (sp->num_kv_blocks < 1 || sp->num_kv_blocks > sp->cache_len)
            FAIL("spec: BLOCKED num_kv_blocks = %d must be in 1..cache_len (%d)",
                 sp->num_kv_blocks, sp->cache_len);
        int64_t nb = sp->num_seqs > 0 ? sp->num_seqs : 1;
        if (nb * sp->cache_len * g->num_kv_heads > KVCG_MAX_ELEMS / g->head_dim)
            FAIL("spec: BLOCKED cache of %lld x %d x %d x %d elements is too large",
                 (long long)nb, g->num_kv_heads, sp->cache_len, g->head_dim);
        if (sp->large_offsets)
            FAIL("spec: large_offsets applies to paged pools, not BLOCKED");
        return 0;
    }

    /* PAGED and QEFF */
    int B = sp->block_size;
    if (B < 1 || B > KVCG_MAX_BLOCK_SIZE)
        FAIL("spec: block_size = %d must be in 1..%d", B, KVCG_MAX_BLOCK_SIZE);
    if (sp->stride_pad < 0 || sp->stride_pad > KVCG_MAX_PAD)
        FAIL("spec: stride_pad = %d must be in 0..%d", sp->stride_pad, KVCG_MAX_PAD);
    if (sp->extra_blocks < 0 || sp->extra_blocks > KVCG_MAX_EXTRA)
        FAIL("spec: extra_blocks = %d must be in 0..%d", sp->extra_blocks,
             KVCG_MAX_EXTRA);
    int64_t blocks = sp->extra_blocks + 1;
    for (int s = 0; s < sp->num_seqs; s++)
        blocks += (sp->ctx_len[s] + sp->q_len[s] + (int64_t)B - 1) / B;
    int64_t row = (int64_t)g->head_dim + sp->stride_pad;
    if (blocks > KVCG_MAX_ELEMS ||
        blocks * B > KVCG_MAX_ELEMS / (row * g->num_kv_heads))
        FAIL("spec: pool of %lld blocks of %d x %d x %lld elements is too large",
             (long long)blocks, B, g->num_kv_heads, (long long)row);

    if (sp->mode == KVC_MODE_QEFF) {
        if (sp->qeff_max_q < 1 || sp->qeff_max_q < max_q ||
            sp->qeff_max_q > KVCG_MAX_LEN)
            FAIL("spec: QEFF qeff_max_q = %d must be >= 1 and >= every q_len "
                 "(largest %d)", sp->qeff_max_q, max_q);
        if ((int64_t)sp->num_seqs * sp->qeff_max_q > KVCG_MAX_ELEMS)
            FAIL("spec: QEFF inputs of %d x %d rows are too large", sp->num_seqs,
                 sp->qeff_max_q);
        for (int s = 0; s < sp->num_seqs; s++) {
            int c = sp->ctx_len[s], q = sp->q_len[s];
            if (q > 0 && c / B != (c + q - 1) / B)
                FAIL("spec: QEFF sequence %d: the write of q_len = %d tokens from "
                     "position ctx_len = %d crosses a block boundary (B = %d); "
                     "QEfficient requires q_len <= B - ctx_len %% B = %d",
                     s, q, c, B, B - c % B);
        }
    }
    return 0;
}
