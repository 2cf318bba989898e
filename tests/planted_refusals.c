/* planted_refusals.c — kernels that refuse wrongly (planted_refusals.h). */
#include "planted_refusals.h"

#include <stdlib.h>
#include <string.h>

/* ---- (a) validation interleaved with the writes ------------------------- */

static kva_status partial_write(const kva_paged_cache *cache, const float *k,
                                const float *v, const int64_t *slots,
                                int64_t n, kva_error *err)
{
    if (n < 0 || (n > 0 && (!k || !v || !slots)))
        return kva_cache_write(cache, k, v, slots, n, err);
    int64_t row = (int64_t)cache->num_kv_heads * cache->head_dim;
    /* one token per call: each call validates only its own token, after
     * the earlier tokens are written */
    for (int64_t t = 0; t < n; t++) {
        kva_status s = kva_cache_write(cache, k + t * row, v + t * row,
                                       slots + t, 1, err);
        if (s != KVA_OK)
            return s;
    }
    return KVA_OK;
}

const kvc_kernel kvc_planted_partial_write = {
    .name = "planted-partial-write",
    .cache_write = partial_write,
    .paged_attention = kva_paged_attention,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* ---- (b) a QEfficient write that crosses a block ------------------------ */

/* The crossing check left out: a row whose valid positions span two blocks
 * is moved to start at its last block (slot_id 0), which libkvattn then
 * accepts. */
static kva_status qeff_crossing(const kva_qeff_inputs *in,
                                kva_general_inputs *out, kva_error *err)
{
    if (!in || !in->position_ids || !in->slot_id || in->num_seqs < 1 ||
        in->max_q < 1 || in->block_size < 1)
        return kva_qeff_to_general(in, out, err);
    size_t n = (size_t)in->num_seqs * (size_t)in->max_q;
    int *pos = malloc(n * sizeof *pos);
    int *sid = malloc((size_t)in->num_seqs * sizeof *sid);
    if (!pos || !sid) {
        free(pos);
        free(sid);
        return kva_qeff_to_general(in, out, err);
    }
    memcpy(pos, in->position_ids, n * sizeof *pos);
    memcpy(sid, in->slot_id, (size_t)in->num_seqs * sizeof *sid);
    int B = in->block_size;
    for (int s = 0; s < in->num_seqs; s++) {
        int *row = pos + (size_t)s * in->max_q, lo = -1, hi = -1;
        for (int i = 0; i < in->max_q; i++)
            if (row[i] >= 0) {
                lo = lo < 0 ? row[i] : lo;
                hi = row[i];
            }
        if (lo < 0 || lo / B == hi / B)
            continue;
        for (int i = 0; i < in->max_q; i++)
            if (row[i] >= 0)
                row[i] += (hi / B) * B - lo;
        sid[s] = 0;
    }
    kva_qeff_inputs mod = *in;
    mod.position_ids = pos;
    mod.slot_id = sid;
    kva_status st = kva_qeff_to_general(&mod, out, err);
    free(pos);
    free(sid);
    return st;
}

const kvc_kernel kvc_planted_qeff_crossing = {
    .name = "planted-qeff-crossing",
    .cache_write = kva_cache_write,
    .paged_attention = kva_paged_attention,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = qeff_crossing,
};

/* ---- (c) a negative softcap taken as off -------------------------------- */

static const kva_attn_params *softcap_off(const kva_attn_params *p,
                                          kva_attn_params *copy)
{
    if (!p || !(p->softcap < 0))
        return p;
    *copy = *p;
    copy->softcap = 0;
    return copy;
}

static kva_status paged_softcap(const kva_attn_params *p,
                                const kva_paged_cache *c,
                                const kva_paged_batch *b, const float *q,
                                int64_t n, float *out, float *lse,
                                kva_error *err)
{
    kva_attn_params copy;
    return kva_paged_attention(softcap_off(p, &copy), c, b, q, n, out, lse,
                               err);
}

static kva_status blocked_softcap(const kva_attn_params *p,
                                  const kva_blocked_cache *c, int tiles,
                                  int S, const int64_t *qsl, const int *lens,
                                  const uint8_t *const *masks, const float *q,
                                  int64_t n, float *out, float *lse,
                                  kva_error *err)
{
    kva_attn_params copy;
    return kva_blocked_attention(softcap_off(p, &copy), c, tiles, S, qsl,
                                 lens, masks, q, n, out, lse, err);
}

const kvc_kernel kvc_planted_negative_softcap = {
    .name = "planted-negative-softcap",
    .cache_write = kva_cache_write,
    .paged_attention = paged_softcap,
    .blocked_attention = blocked_softcap,
    .qeff_to_general = kva_qeff_to_general,
};

/* ---- (d) the window's edge block unchecked ------------------------------ */

static kva_status paged_window_edge(const kva_attn_params *p,
                                    const kva_paged_cache *c,
                                    const kva_paged_batch *b, const float *q,
                                    int64_t n, float *out, float *lse,
                                    kva_error *err)
{
    if (!p || !c || !b || !b->block_table || !b->seq_lens ||
        !b->query_start_loc || p->window_left < 0 || b->num_seqs < 1 ||
        b->max_blocks_per_seq < 1 || c->block_size < 1)
        return kva_paged_attention(p, c, b, q, n, out, lse, err);
    size_t cells = (size_t)b->num_seqs * (size_t)b->max_blocks_per_seq;
    int *table = malloc(cells * sizeof *table);
    if (!table)
        return kva_paged_attention(p, c, b, q, n, out, lse, err);
    memcpy(table, b->block_table, cells * sizeof *table);
    for (int s = 0; s < b->num_seqs; s++) {
        int64_t q_len = b->query_start_loc[s + 1] - b->query_start_loc[s];
        int64_t lo = b->seq_lens[s] - q_len - p->window_left;
        int64_t blk = lo / c->block_size;
        if (q_len <= 0 || lo <= 0 || blk >= b->max_blocks_per_seq)
            continue;
        int *e = &table[(size_t)s * (size_t)b->max_blocks_per_seq + (size_t)blk];
        if (*e < 0 || *e >= c->num_blocks)
            *e = 0; /* never checked: whatever block 0 holds is read */
    }
    kva_paged_batch mod = *b;
    mod.block_table = table;
    kva_status st = kva_paged_attention(p, c, &mod, q, n, out, lse, err);
    free(table);
    return st;
}

const kvc_kernel kvc_planted_window_edge = {
    .name = "planted-window-edge",
    .cache_write = kva_cache_write,
    .paged_attention = paged_window_edge,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* ---- (e) a wrong status --------------------------------------------------- */

static kva_status paged_wrong_status(const kva_attn_params *p,
                                     const kva_paged_cache *c,
                                     const kva_paged_batch *b, const float *q,
                                     int64_t n, float *out, float *lse,
                                     kva_error *err)
{
    kva_status s = kva_paged_attention(p, c, b, q, n, out, lse, err);
    if (s != KVA_ERR_BLOCK)
        return s;
    if (err)
        err->status = KVA_ERR_LENGTH;
    return KVA_ERR_LENGTH;
}

const kvc_kernel kvc_planted_wrong_status = {
    .name = "planted-wrong-status",
    .cache_write = kva_cache_write,
    .paged_attention = paged_wrong_status,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};

/* ---- (f) an output row written before the refusal ------------------------ */

static kva_status paged_output_first(const kva_attn_params *p,
                                     const kva_paged_cache *c,
                                     const kva_paged_batch *b, const float *q,
                                     int64_t n, float *out, float *lse,
                                     kva_error *err)
{
    if (n > 0 && out)
        out[0] = 0.0f;
    if (n > 0 && lse)
        lse[0] = 0.0f;
    return kva_paged_attention(p, c, b, q, n, out, lse, err);
}

const kvc_kernel kvc_planted_output_then_refuse = {
    .name = "planted-output-then-refuse",
    .cache_write = kva_cache_write,
    .paged_attention = paged_output_first,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};
