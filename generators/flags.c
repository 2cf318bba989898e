/*
 * flags.c — the KVC_FLAG_* bits a built case actually exercises, computed
 * from the case itself (lengths, config, mask, layout), not from the
 * intentions of the spec. "Block" means the kernel's block unit T: B for
 * PAGED/QEFF, the tile ceil(CL / num_kv_blocks) for BLOCKED.
 */
#include "gen_internal.h"

#define SET(bit) (flags |= (uint64_t)1 << (bit))

/* Some row of some sequence has no visible key. */
static int has_empty_row(const kvc_problem *p)
{
    if (!p->has_mask)
        return 0; /* without a mask key p itself is always visible */
    for (int s = 0; s < p->num_seqs; s++) {
        int kv = kvc_kv_len(p, s);
        for (int i = 0; i < p->q_len[s]; i++) {
            int any = 0;
            for (int j = 0; j < kv && !any; j++)
                any = kvcg_visible(p, s, i, j, 1);
            if (!any)
                return 1;
        }
    }
    return 0;
}

/* Some sequence with queries has every key j < T masked in every row. */
static int has_masked_first_block(const kvc_problem *p, int T)
{
    if (!p->has_mask)
        return 0;
    for (int s = 0; s < p->num_seqs; s++) {
        int q = p->q_len[s], kv = kvc_kv_len(p, s);
        if (q == 0)
            continue;
        const uint8_t *m = p->mask + p->mask_start[s];
        int all = 1;
        for (int i = 0; i < q && all; i++)
            for (int j = 0; j < kv && j < T && all; j++)
                all = !m[(int64_t)i * kv + j];
        if (all)
            return 1;
    }
    return 0;
}

/* A physical block id appears among the needed entries of two sequences. */
static int has_shared_block(const kvc_case *c)
{
    const kvc_layout *L = &c->layout;
    const kvc_problem *p = &c->prob;
    int B = L->block_size, M = L->max_blocks_per_seq;
    for (int s = 0; s < p->num_seqs; s++) {
        int nb = (kvc_kv_len(p, s) + B - 1) / B;
        for (int b = 0; b < nb; b++) {
            int id = L->block_table[(int64_t)s * M + b];
            if (id < 0)
                continue;
            for (int s2 = s + 1; s2 < p->num_seqs; s2++) {
                int nb2 = (kvc_kv_len(p, s2) + B - 1) / B;
                for (int b2 = 0; b2 < nb2; b2++)
                    if (L->block_table[(int64_t)s2 * M + b2] == id)
                        return 1;
            }
        }
    }
    return 0;
}

/* The cache format and scale strategy; edges and extreme static scales
 * only count when the cache holds something. */
static uint64_t format_flags(const kvc_case *c)
{
    static const int dtype_flag[KVC_KV_DTYPE_COUNT] = {
        -1, KVC_FLAG_KV_F16, KVC_FLAG_KV_BF16, KVC_FLAG_KV_FP8_E4M3,
        KVC_FLAG_KV_FP8_E5M2, KVC_FLAG_KV_INT8, KVC_FLAG_KV_NVFP4};
    static const int kind_flag[KVC_SCALE_KIND_COUNT] = {
        -1, KVC_FLAG_SCALE_TENSOR, KVC_FLAG_SCALE_HEAD, KVC_FLAG_SCALE_TOKEN,
        KVC_FLAG_SCALE_GROUP};
    const kvc_kv_quant *q = &c->prob.quant;
    uint64_t flags = 0;
    if (c->prob.num_seqs == 0 || c->prob.kv_start[c->prob.num_seqs] == 0)
        return 0;
    if ((int)q->dtype > 0 && (int)q->dtype < KVC_KV_DTYPE_COUNT)
        SET(dtype_flag[q->dtype]);
    if ((int)q->kind > 0 && (int)q->kind < KVC_SCALE_KIND_COUNT)
        SET(kind_flag[q->kind]);
    if (c->spec.format_edges)
        SET(KVC_FLAG_FORMAT_EDGES);
    if (q->kind == KVC_SCALE_TENSOR || q->kind == KVC_SCALE_HEAD ||
        q->kind == KVC_SCALE_GROUP) {
        if (c->spec.scale_family == KVC_SCALES_HUGE)
            SET(KVC_FLAG_SCALE_HUGE);
        if (c->spec.scale_family == KVC_SCALES_TINY)
            SET(KVC_FLAG_SCALE_TINY);
    }
    return flags;
}

uint64_t kvcg_compute_flags(const kvc_case *c)
{
    const kvc_case_spec *sp = &c->spec;
    const kvc_problem *p = &c->prob;
    const kvc_config *g = &p->cfg;
    uint64_t flags = 0;
    int T = kvcg_tile(sp), S = p->num_seqs, wl = g->window_left;
    int rows = 0, long_q = 0, multi_tile = 0, used_blocks = 0;

    for (int s = 0; s < S; s++) {
        int ctx = p->ctx_len[s], q = p->q_len[s], kv = ctx + q;
        rows += q > 0 && kv > 0;
        used_blocks += (kv + T - 1) / T;
        if (q > 0 && kv > T)
            multi_tile = 1;
        if (q >= 2)
            long_q = 1;
        if (ctx == 0 && q > 1)
            SET(KVC_FLAG_PREFILL);
        if (ctx > 0 && q > 1)
            SET(KVC_FLAG_CHUNKED_PREFILL);
        if (q == 1)
            SET(KVC_FLAG_DECODE);
        if (ctx > 0 && q > 1 && q <= 8)
            SET(KVC_FLAG_SPEC_DECODE);
        if (kv > 0 && (kv == T - 1 || kv == T + 1 || kv % T == 0))
            SET(KVC_FLAG_SEQ_ON_BLOCK_EDGE);
        if (q > 0 && kv % T == 0)
            SET(KVC_FLAG_CHUNK_ENDS_ON_BLOCK);
        if (q == 0)
            SET(KVC_FLAG_Q_LEN_0);
        if (kv == 0)
            SET(KVC_FLAG_KV_LEN_0);
        if (wl >= 0)
            for (int i = 0; i < q; i++) {
                int64_t first = (int64_t)ctx + i - wl;
                if (first > 0) {
                    SET(KVC_FLAG_WINDOW);
                    if (first % T != 0)
                        SET(KVC_FLAG_WINDOW_IN_BLOCK);
                }
            }
    }

    if (g->num_q_heads == g->num_kv_heads)
        SET(KVC_FLAG_MHA);
    else if (g->num_kv_heads == 1)
        SET(KVC_FLAG_MQA);
    else
        SET(KVC_FLAG_GQA);
    if (g->head_dim % 8 != 0)
        SET(KVC_FLAG_ODD_HEAD_DIM);
    if (T == 1)
        SET(KVC_FLAG_BLOCK_SIZE_1);
    if (!g->causal && long_q)
        SET(KVC_FLAG_BIDIRECTIONAL);
    if (g->softcap > 0 && rows > 0)
        SET(KVC_FLAG_SOFTCAP);
    if (p->has_mask && rows > 0)
        SET(KVC_FLAG_CUSTOM_MASK);
    if (has_masked_first_block(p, T))
        SET(KVC_FLAG_MASKED_FIRST_BLOCK);
    if (has_empty_row(p))
        SET(KVC_FLAG_EMPTY_ROW);
    if (p->num_tokens > p->q_start[S])
        SET(KVC_FLAG_PADDING_TOKENS);

    if (sp->mode != KVC_MODE_BLOCKED) {
        const kvc_layout *L = &c->layout;
        if (has_shared_block(c))
            SET(KVC_FLAG_SHARED_PREFIX);
        if (sp->table == KVC_TABLE_REVERSED && used_blocks >= 2)
            SET(KVC_FLAG_TABLE_REVERSED);
        if (sp->table == KVC_TABLE_POOL_END && used_blocks >= 1 &&
            L->num_blocks > used_blocks)
            SET(KVC_FLAG_TABLE_POOL_END);
        if (L->hnd && used_blocks >= 1)
            SET(KVC_FLAG_HND);
        if (sp->stride_pad > 0 && used_blocks >= 1)
            SET(KVC_FLAG_PADDED_STRIDES);
        if (sp->large_offsets && used_blocks >= 1)
            SET(KVC_FLAG_LARGE_OFFSETS);
    }

    if (c->num_leaks > 0)
        SET(KVC_FLAG_LEAK_SENSITIVE);
    if (rows > 0) {
        switch (sp->values) {
        case KVC_VALUES_OUTLIERS: SET(KVC_FLAG_OUTLIERS); break;
        case KVC_VALUES_NEAR_TIES: SET(KVC_FLAG_NEAR_TIES); break;
        case KVC_VALUES_EQUAL_KEYS: SET(KVC_FLAG_EQUAL_KEYS); break;
        case KVC_VALUES_ONE_HOT:
            if (g->scale != 0.0f)
                SET(KVC_FLAG_ONE_HOT);
            break;
        case KVC_VALUES_GROWING:
            if (g->scale != 0.0f && multi_tile)
                SET(KVC_FLAG_GROWING_SCORES);
            break;
        default: break;
        }
    }

    flags |= format_flags(c);

    if (sp->mode == KVC_MODE_QEFF && sp->qeff_left_pad)
        for (int s = 0; s < S; s++)
            if (p->q_len[s] > 0 && p->q_len[s] < sp->qeff_max_q)
                SET(KVC_FLAG_QEFF_LEFT_PAD);
    return flags;
}
