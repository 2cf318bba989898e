/*
 * planted_sizes.c — planted kernels whose only bug lives above a size
 * threshold (planted_kernels.h), to prove that the size tiers of the main
 * campaign (generators/size_tier.c) reach the paths real kernels switch to
 * at real sizes. Each is a plain scalar paged attention over f32 caches
 * (other formats go to the real kernel), exact two-pass softmax below its
 * threshold.
 */
#include "planted_kernels.h"

#include <math.h>

enum { BUG_QTILE, BUG_SPLIT_KV, BUG_PAGE7, BUG_SPLIT_WINDOW };

#define QTILE 64       /* query rows per tile */
#define SPLIT_MIN 4096 /* split-KV decode from this many keys */
#define SPLIT_KEYS 1024

typedef struct row_ctx {
    int bug;
    const kva_attn_params *p;
    const kva_paged_cache *c;
    const int *table;
    const uint8_t *mask;
    int kv, i, pos, kvh, qn;
    const float *q;
} row_ctx;

static const float *row_of(const row_ctx *x, const float *base, int j)
{
    int B = x->c->block_size;
    int64_t off = j % B;
    if (x->bug == BUG_PAGE7 && B >= 128)
        off &= 127; /* BUG: the in-block offset kept in 7 bits */
    return base + (int64_t)x->table[j / B] * x->c->stride_block +
           off * x->c->stride_slot + (int64_t)x->kvh * x->c->stride_head;
}

/* A split-KV decode (one query, >= SPLIT_MIN keys in its window) whose
 * window starts one key late: the split ranges begin at the edge + 1. */
static int split_window_edge(const row_ctx *x, int j)
{
    const kva_attn_params *p = x->p;
    return x->bug == BUG_SPLIT_WINDOW && x->qn == 1 && p->window_left >= 0 &&
           x->pos - p->window_left > 0 && p->window_left + 1 >= SPLIT_MIN &&
           j == x->pos - p->window_left;
}

static int seen(const row_ctx *x, int j)
{
    const kva_attn_params *p = x->p;
    if (x->table[j / x->c->block_size] < 0 || (p->causal && j > x->pos) ||
        (p->window_left >= 0 && j < x->pos - p->window_left) ||
        split_window_edge(x, j))
        return 0;
    return !x->mask || x->mask[(int64_t)x->i * x->kv + j];
}

static float score(const row_ctx *x, int j)
{
    const float *k = row_of(x, x->c->k, j);
    float s = 0;
    for (int d = 0; d < x->p->head_dim; d++)
        s += x->q[d] * k[d];
    s *= x->p->scale;
    if (x->p->softcap > 0)
        s = x->p->softcap * tanhf(s / x->p->softcap);
    return s;
}

/* Exact softmax state of keys [j0, j1): max m, sum l, acc (relative to m). */
static void part(const row_ctx *x, int j0, int j1, float *m, float *l,
                 float *acc)
{
    int D = x->p->head_dim;
    *m = -INFINITY;
    *l = 0;
    for (int d = 0; d < D; d++)
        acc[d] = 0;
    for (int j = j0; j < j1; j++)
        if (seen(x, j) && score(x, j) > *m)
            *m = score(x, j);
    for (int j = j0; j < j1 && *m > -INFINITY; j++)
        if (seen(x, j)) {
            float w = expf(score(x, j) - *m);
            const float *v = row_of(x, x->c->v, j);
            *l += w;
            for (int d = 0; d < D; d++)
                acc[d] += w * v[d];
        }
}

/* One (token, head) row: out (D floats) and *lse. */
static void row(const row_ctx *x, int qn, float *out, float *lse)
{
    int D = x->p->head_dim;
    float m, l, acc[KVA_MAX_HEAD_DIM_PLANTED];
    if (x->bug == BUG_QTILE && qn >= QTILE && x->i >= (qn - 1) / QTILE * QTILE) {
        /* the last query tile: key tiles merged WITHOUT the rescale */
        float pm, pl, pacc[KVA_MAX_HEAD_DIM_PLANTED];
        m = -INFINITY, l = 0;
        for (int d = 0; d < D; d++)
            acc[d] = 0;
        for (int j0 = 0; j0 < x->kv; j0 += QTILE) {
            part(x, j0, j0 + QTILE < x->kv ? j0 + QTILE : x->kv, &pm, &pl, pacc);
            if (pl == 0)
                continue;
            float nm = pm > m ? pm : m, sp = expf(pm - nm);
            m = nm; /* BUG: l and acc (relative to the old max) kept as they are */
            l += pl * sp;
            for (int d = 0; d < D; d++)
                acc[d] += pacc[d] * sp;
        }
    } else if (x->bug == BUG_SPLIT_KV && qn == 1 && x->kv >= SPLIT_MIN) {
        /* split-KV decode: each split exact, merged WITHOUT rescaling */
        float pm, pl, pacc[KVA_MAX_HEAD_DIM_PLANTED];
        m = -INFINITY, l = 0;
        for (int d = 0; d < D; d++)
            acc[d] = 0;
        for (int j0 = 0; j0 < x->kv; j0 += SPLIT_KEYS) {
            part(x, j0, j0 + SPLIT_KEYS < x->kv ? j0 + SPLIT_KEYS : x->kv, &pm,
                 &pl, pacc);
            if (pm > m)
                m = pm;
            l += pl; /* BUG: each split's sum is relative to its own max */
            for (int d = 0; d < D; d++)
                acc[d] += pacc[d];
        }
    } else {
        part(x, 0, x->kv, &m, &l, acc);
    }
    for (int d = 0; d < D; d++)
        out[d] = l > 0 ? acc[d] / l : 0.0f;
    if (lse)
        *lse = l > 0 ? m + logf(l) : -INFINITY;
}

static kva_status sized_paged(int bug, const kva_attn_params *p,
                              const kva_paged_cache *c,
                              const kva_paged_batch *b, const float *q,
                              int64_t num_tokens, float *out, float *lse,
                              kva_error *err)
{
    if (c->dtype != KVA_DTYPE_F32 || p->head_dim > KVA_MAX_HEAD_DIM_PLANTED)
        return kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    int Hq = p->num_q_heads, D = p->head_dim, group = Hq / p->num_kv_heads;
    for (int s = 0; s < b->num_seqs; s++) {
        int qn = (int)(b->query_start_loc[s + 1] - b->query_start_loc[s]);
        row_ctx x = {.bug = bug, .p = p, .c = c, .kv = b->seq_lens[s],
                     .table = b->block_table + (int64_t)s * b->max_blocks_per_seq,
                     .mask = b->masks ? b->masks[s] : NULL, .qn = qn};
        for (int i = 0; i < qn; i++) {
            int64_t t = b->query_start_loc[s] + i;
            x.i = i;
            x.pos = x.kv - qn + i;
            for (int h = 0; h < Hq; h++) {
                x.kvh = h / group;
                x.q = q + (t * Hq + h) * D;
                row(&x, qn, out + (t * Hq + h) * D, lse ? lse + t * Hq + h : NULL);
            }
        }
    }
    return KVA_OK;
}

#define PLANTED(fn, bug)                                                      \
    static kva_status fn(const kva_attn_params *p, const kva_paged_cache *c,  \
                         const kva_paged_batch *b, const float *q, int64_t n, \
                         float *out, float *lse, kva_error *err)              \
    {                                                                         \
        return sized_paged(bug, p, c, b, q, n, out, lse, err);                \
    }
PLANTED(qtile_paged, BUG_QTILE)
PLANTED(split_kv_paged, BUG_SPLIT_KV)
PLANTED(page7_paged, BUG_PAGE7)
PLANTED(split_window_paged, BUG_SPLIT_WINDOW)

const kvc_kernel kvc_planted_qtile_rescale = {
    .name = "planted-qtile-rescale",
    .cache_write = kva_cache_write,
    .paged_attention = qtile_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

const kvc_kernel kvc_planted_split_kv_merge = {
    .name = "planted-split-kv-merge",
    .cache_write = kva_cache_write,
    .paged_attention = split_kv_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

const kvc_kernel kvc_planted_page_offset7 = {
    .name = "planted-page-offset7",
    .cache_write = kva_cache_write,
    .paged_attention = page7_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

const kvc_kernel kvc_planted_split_window_edge = {
    .name = "planted-split-window-edge",
    .cache_write = kva_cache_write,
    .paged_attention = split_window_paged,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};
