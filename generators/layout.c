/*
 * layout.c — physical layouts as plain data: the paged pool (PAGED, QEFF),
 * the contiguous cache (BLOCKED), and the QEfficient padded inputs.
 *
 * Paged pool: num_blocks = distinct blocks the sequences need (sum of
 * ceil(kv_len / B), shared prefix blocks counted once) + extra_blocks
 * (at least 1). Strides (elements), pad = stride_pad:
 *   NHD: stride_head = D + pad, stride_slot = Hkv*stride_head,
 *        stride_block = B*stride_slot
 *   HND: stride_slot = D + pad, stride_head = B*stride_slot,
 *        stride_block = Hkv*stride_head
 * pool_elems = num_blocks * stride_block.
 * Block table [S][max_blocks_per_seq], max_blocks_per_seq = the largest
 * need + 0..2 spare columns (>= 1). Physical ids of the needed blocks, in
 * sequence order, by table kind:
 *   PERMUTED, SHARED_PREFIX  the first ones of a random permutation of the
 *                            pool (gsl_ran_shuffle);
 *   REVERSED                 num_blocks-1, num_blocks-2, ...;
 *   POOL_END                 the last blocks of the pool, ascending.
 * Shared prefix members reuse the leader's ids for the shared blocks.
 * Entries past a sequence's need are poison: -1, an unused (poisoned) block
 * id when there is one, INT_MAX, or num_blocks (just out of range). With a
 * sliding window, half the cases free (set to -1) the entries that lie
 * wholly below lo = max(0, ctx_len - window_left), as engines do; no query
 * can see them and no new token writes them (a runner that fills the
 * context through the table must skip -1 entries).
 * slot_mapping[token] = block_table[s][pos / B] * B + pos % B; -1 for
 * padding tokens. With large_offsets every id is raised past a huge unused
 * stretch (raise_block_ids).
 *
 * BLOCKED: the contiguous cache [S][Hkv][CL][D] as a paged cache with
 * num_blocks = max(S, 1), block_size = CL, HND strides without padding,
 * block_table[s][0] = s, slot_mapping = s * CL + pos.
 *
 * Strides count storage units of the cache format (kvattn.h): a head row is
 * R = D units (D/2 bytes for nvfp4) plus stride_pad. TOKEN and GROUP scale
 * pools follow the same NHD/HND order with unpadded rows of 1 float or D/16
 * codes (scale_layout).
 */
#include "gen_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

/* Units of one head row of K or V. */
static int64_t row_units(const kvc_case_spec *sp)
{
    int D = sp->cfg.head_dim;
    return sp->kv_dtype == KVC_KV_NVFP4 ? D / 2 : D;
}

/* The scale pools of TOKEN / GROUP strategies: the cache's (block, slot,
 * head) order with rows of 1 (TOKEN) or D/16 (GROUP) units. */
static void scale_layout(kvc_layout *L, const kvc_case_spec *sp)
{
    int64_t r = sp->kv_scale == KVC_SCALE_TOKEN   ? 1
                : sp->kv_scale == KVC_SCALE_GROUP ? sp->cfg.head_dim / 16
                                                  : 0;
    int64_t B = L->block_size, H = sp->cfg.num_kv_heads;
    if (r == 0) {
        L->scale_stride_block = L->scale_stride_slot = L->scale_stride_head = 0;
        L->scale_pool_units = 0;
        return;
    }
    if (L->hnd) {
        L->scale_stride_slot = r;
        L->scale_stride_head = B * r;
        L->scale_stride_block = H * B * r;
    } else {
        L->scale_stride_head = r;
        L->scale_stride_slot = H * r;
        L->scale_stride_block = B * H * r;
    }
    L->scale_pool_units = L->num_blocks * L->scale_stride_block;
}

static int build_blocked(kvcg_ctx *x)
{
    kvc_case *c = x->c;
    const kvc_case_spec *sp = x->spec;
    kvc_layout *L = &c->layout;
    const kvc_problem *p = &c->prob;
    int S = sp->num_seqs, CL = sp->cache_len;
    int64_t R = row_units(sp);
    L->block_size = CL;
    L->num_blocks = S > 0 ? S : 1;
    L->hnd = 1;
    L->stride_slot = R;
    L->stride_head = (int64_t)CL * R;
    L->stride_block = (int64_t)sp->cfg.num_kv_heads * L->stride_head;
    L->pool_elems = L->num_blocks * L->stride_block;
    scale_layout(L, sp);
    L->max_blocks_per_seq = 1;
    L->block_table = malloc((size_t)(S > 0 ? S : 1) * sizeof *L->block_table);
    L->slot_mapping = malloc((size_t)(p->num_tokens > 0 ? p->num_tokens : 1) *
                             sizeof *L->slot_mapping);
    if (!L->block_table || !L->slot_mapping)
        return -1;
    L->block_table[0] = -1;
    for (int s = 0; s < S; s++) {
        L->block_table[s] = s;
        for (int i = 0; i < p->q_len[s]; i++)
            L->slot_mapping[p->q_start[s] + i] = (int64_t)s * CL + p->ctx_len[s] + i;
    }
    for (int64_t t = p->q_start[S]; t < p->num_tokens; t++)
        L->slot_mapping[t] = -1;
    L->poison_seed = kvcg_rng_u64(x->rng);
    return 0;
}

/* Large offsets: put every block id (and the just-out-of-range poison id
 * num_blocks) above `base` unused blocks, so that the first used block
 * starts past 2^32 + 2^20 elements (past 2^31 elements when block ids would
 * not fit an int). The unused stretch is never touched: a runner maps the
 * pool sparsely. */
static void raise_block_ids(kvc_layout *L, int S)
{
    const int64_t target = (INT64_C(1) << 32) + (INT64_C(1) << 20);
    int64_t base = (target + L->stride_block - 1) / L->stride_block;
    if (base > INT_MAX - L->num_blocks - 2)
        base = INT_MAX - L->num_blocks - 2;
    int64_t M = L->max_blocks_per_seq;
    for (int64_t e = 0; e < (S > 0 ? S : 1) * M; e++) {
        int id = L->block_table[e];
        if (id >= 0 && id <= L->num_blocks) /* INT_MAX and -1 stay */
            L->block_table[e] = (int)(id + base);
    }
    L->num_blocks += base;
    L->pool_elems = L->num_blocks * L->stride_block;
    L->scale_pool_units = L->num_blocks * L->scale_stride_block;
}

static int build_paged(kvcg_ctx *x)
{
    kvc_case *c = x->c;
    const kvc_case_spec *sp = x->spec;
    kvc_layout *L = &c->layout;
    const kvc_problem *p = &c->prob;
    gsl_rng *r = x->rng;
    int S = sp->num_seqs, B = sp->block_size;
    int Hkv = sp->cfg.num_kv_heads;
    int nb[KVC_MAX_SEQS];
    int64_t used = 0;
    int most = 0;
    for (int s = 0; s < S; s++) {
        nb[s] = (int)(((int64_t)kvc_kv_len(p, s) + B - 1) / B);
        used += nb[s];
        if (nb[s] > most)
            most = nb[s];
    }
    const kvcg_share *sh = &x->share;
    if (sh->active)
        for (int s = 0; s < S; s++)
            if (sh->member[s] && s != sh->leader)
                used -= sh->blocks;
    int64_t num_blocks = used + sp->extra_blocks;
    if (num_blocks < 1)
        num_blocks = 1;

    L->block_size = B;
    L->num_blocks = num_blocks;
    L->hnd = sp->hnd;
    int64_t row = row_units(sp) + sp->stride_pad;
    if (sp->hnd) {
        L->stride_slot = row;
        L->stride_head = (int64_t)B * row;
        L->stride_block = Hkv * L->stride_head;
    } else {
        L->stride_head = row;
        L->stride_slot = Hkv * row;
        L->stride_block = (int64_t)B * L->stride_slot;
    }
    L->pool_elems = num_blocks * L->stride_block;
    scale_layout(L, sp);
    L->max_blocks_per_seq = most + kvcg_int(r, 0, 2);
    if (L->max_blocks_per_seq < 1)
        L->max_blocks_per_seq = 1;
    int M = L->max_blocks_per_seq;

    int *ids = malloc((size_t)num_blocks * sizeof *ids);
    uint8_t *taken = calloc((size_t)num_blocks, 1);
    L->block_table = malloc((size_t)(S > 0 ? S : 1) * M * sizeof *L->block_table);
    L->slot_mapping = malloc((size_t)(p->num_tokens > 0 ? p->num_tokens : 1) *
                             sizeof *L->slot_mapping);
    if (!ids || !taken || !L->block_table || !L->slot_mapping) {
        free(ids);
        free(taken);
        return -1;
    }
    for (int64_t b = 0; b < num_blocks; b++)
        ids[b] = (int)b;
    switch (sp->table) {
    case KVC_TABLE_REVERSED:
        for (int64_t b = 0; b < num_blocks; b++)
            ids[b] = (int)(num_blocks - 1 - b);
        break;
    case KVC_TABLE_POOL_END:
        for (int64_t b = 0; b < used; b++)
            ids[b] = (int)(num_blocks - used + b);
        break;
    default: /* PERMUTED, SHARED_PREFIX */
        gsl_ran_shuffle(r, ids, (size_t)num_blocks, sizeof *ids);
        break;
    }
    int64_t next = 0;
    for (int s = 0; s < S; s++) {
        int *row_s = L->block_table + (int64_t)s * M;
        for (int b = 0; b < nb[s]; b++) {
            if (sh->active && sh->member[s] && s != sh->leader && b < sh->blocks) {
                row_s[b] = L->block_table[(int64_t)sh->leader * M + b];
            } else {
                row_s[b] = ids[next++];
                taken[row_s[b]] = 1;
            }
        }
    }
    /* unused blocks, for poisoned table entries */
    int64_t nfree = 0;
    for (int64_t b = 0; b < num_blocks; b++)
        if (!taken[b])
            ids[nfree++] = (int)b;
    for (int s = 0; s < S; s++) {
        int *row_s = L->block_table + (int64_t)s * M;
        for (int b = nb[s]; b < M; b++) {
            switch (kvcg_int(r, 0, 3)) {
            case 0: row_s[b] = -1; break;
            case 1: row_s[b] = nfree > 0 ? ids[kvcg_int(r, 0, (int)nfree - 1)] : -1; break;
            case 2: row_s[b] = INT_MAX; break;
            default: row_s[b] = (int)num_blocks; break;
            }
        }
    }
    if (S == 0) /* the one placeholder row: no sequence, no block */
        for (int b = 0; b < M; b++)
            L->block_table[b] = -1;
    free(ids);
    free(taken);

    /* engines free blocks that left the sliding window */
    int wl = sp->cfg.window_left;
    if (wl >= 0 && kvcg_chance(r, 0.5)) {
        for (int s = 0; s < S; s++) {
            int64_t lo = (int64_t)p->ctx_len[s] - wl;
            for (int b = 0; b < nb[s] && (int64_t)(b + 1) * B <= lo; b++)
                L->block_table[(int64_t)s * M + b] = -1;
        }
    }

    if (sp->large_offsets)
        raise_block_ids(L, S);

    for (int s = 0; s < S; s++)
        for (int i = 0; i < p->q_len[s]; i++) {
            int64_t pos = (int64_t)p->ctx_len[s] + i;
            int64_t blk = L->block_table[(int64_t)s * M + pos / B];
            L->slot_mapping[p->q_start[s] + i] = blk * B + pos % B;
        }
    for (int64_t t = p->q_start[S]; t < p->num_tokens; t++)
        L->slot_mapping[t] = -1;
    L->poison_seed = kvcg_rng_u64(r);
    return 0;
}

int kvcg_build_layout(kvcg_ctx *x)
{
    if (x->spec->mode == KVC_MODE_BLOCKED)
        return build_blocked(x);
    return build_paged(x);
}

/* QEfficient inputs: position_ids [S][max_q] with -1 padding (left or
 * right), slot_id[s] = ctx_len mod B (0 for a row without tokens), and
 * row_of_token mapping each token to its padded row s*max_q + column. */
int kvcg_build_qeff(kvcg_ctx *x)
{
    const kvc_case_spec *sp = x->spec;
    if (sp->mode != KVC_MODE_QEFF)
        return 0;
    kvc_case *c = x->c;
    const kvc_problem *p = &c->prob;
    kvc_qeff_layout *Q = &c->qeff;
    int S = sp->num_seqs, MQ = sp->qeff_max_q, B = sp->block_size;
    Q->max_q = MQ;
    Q->position_ids = malloc((size_t)(S > 0 ? S : 1) * MQ * sizeof *Q->position_ids);
    Q->slot_id = malloc((size_t)(S > 0 ? S : 1) * sizeof *Q->slot_id);
    Q->row_of_token = malloc((size_t)(p->q_start[S] > 0 ? p->q_start[S] : 1) *
                             sizeof *Q->row_of_token);
    if (!Q->position_ids || !Q->slot_id || !Q->row_of_token)
        return -1;
    Q->position_ids[0] = -1;
    Q->slot_id[0] = 0;
    for (int s = 0; s < S; s++) {
        int q = p->q_len[s];
        int off = sp->qeff_left_pad ? MQ - q : 0;
        int *row = Q->position_ids + (int64_t)s * MQ;
        for (int k = 0; k < MQ; k++)
            row[k] = -1;
        for (int i = 0; i < q; i++) {
            row[off + i] = p->ctx_len[s] + i;
            Q->row_of_token[p->q_start[s] + i] = (int64_t)s * MQ + off + i;
        }
        Q->slot_id[s] = q > 0 ? p->ctx_len[s] % B : 0;
    }
    return 0;
}
