/* prop_block_size.c — the same logical problem laid out with another block
 * size (properties.h). */
#include "prop_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int block_sizes[] = {1, 2, 3, 4, 8, 16, 32, 48, 64, 128, 256};
#define N_SIZES ((int)(sizeof block_sizes / sizeof block_sizes[0]))

static int in_set(const kva_int_set *s, int64_t x)
{
    if (s->count > 0) {
        for (int i = 0; i < s->count && i < KVA_SET_MAX; i++)
            if (s->values[i] == x)
                return 1;
        return 0;
    }
    return x >= s->min && (s->max == 0 || x <= s->max);
}

/* QEfficient writes may not cross a block: every sequence's new tokens
 * must lie in one block of size B. */
static int qeff_fits(const kvc_case *c, int B)
{
    const kvc_problem *p = &c->prob;
    for (int s = 0; s < p->num_seqs; s++)
        if (p->q_len[s] > 0 &&
            p->ctx_len[s] / B != (p->ctx_len[s] + p->q_len[s] - 1) / B)
            return 0;
    return 1;
}

/* Blocks the sequences need with block size B, plus one unused. */
static int64_t blocks_for(const kvc_problem *p, int B)
{
    int64_t n = 1;
    for (int s = 0; s < p->num_seqs; s++)
        n += ((int64_t)kvc_kv_len(p, s) + B - 1) / B;
    return n;
}

/* Another block size for c within the kernel's claim (and QEfficient's
 * convention), whose pool stays small; 0 when there is none. */
static int pick_block_size(const kvc_case *c, const kva_caps *caps,
                           int64_t row_units, uint64_t *st)
{
    const kvc_problem *p = &c->prob;
    int64_t unit = (int64_t)p->cfg.num_kv_heads * row_units, need = 0;
    for (int s = 0; s < p->num_seqs; s++)
        need += (int64_t)kvc_kv_len(p, s) * unit;
    int64_t cap = 4 * need > (INT64_C(1) << 18) ? 4 * need : INT64_C(1) << 18;
    int start = (int)(kvc_prop_mix(st) % N_SIZES);
    for (int i = 0; i < N_SIZES; i++) {
        int B = block_sizes[(start + i) % N_SIZES];
        if (B == c->layout.block_size || !in_set(&caps->block_sizes, B) ||
            (c->spec.mode == KVC_MODE_QEFF && !qeff_fits(c, B)) ||
            blocks_for(p, B) * B * unit > cap)
            continue;
        return B;
    }
    return 0;
}

/* c laid out anew with block size B: every sequence its own blocks (a
 * shared prefix is stored once per sequence: the same logical content),
 * drawn from a permutation of a pool with one unused block, unused table
 * entries -1, the same NHD/HND order and row padding. */
typedef struct relaid {
    kvc_case c;
    int *table;
    int64_t *slots;
    int *slot_id;
} relaid;

static void relaid_free(relaid *x)
{
    free(x->table);
    free(x->slots);
    free(x->slot_id);
}

static int relay(const kvc_case *c, int B, uint64_t *st, relaid *x)
{
    memset(x, 0, sizeof *x);
    const kvc_layout *l = &c->layout;
    const kvc_problem *p = &c->prob;
    int S = p->num_seqs, Hkv = p->cfg.num_kv_heads;
    int64_t nb = blocks_for(p, B);
    int M = 1;
    for (int s = 0; s < S; s++) {
        int need = (int)(((int64_t)kvc_kv_len(p, s) + B - 1) / B);
        if (need > M)
            M = need;
    }
    int64_t *perm = malloc((size_t)nb * sizeof *perm);
    x->table = malloc((size_t)(S > 0 ? S : 1) * M * sizeof *x->table);
    x->slots = malloc((size_t)(p->num_tokens > 0 ? p->num_tokens : 1) *
                      sizeof *x->slots);
    x->slot_id = malloc((size_t)(S > 0 ? S : 1) * sizeof *x->slot_id);
    if (!perm || !x->table || !x->slots || !x->slot_id) {
        free(perm);
        relaid_free(x);
        return -1;
    }
    for (int64_t i = 0; i < nb; i++)
        perm[i] = i;
    for (int64_t i = nb - 1; i > 0; i--) {
        int64_t j = (int64_t)(kvc_prop_mix(st) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int64_t next = 0;
    for (int64_t e = 0; e < (int64_t)(S > 0 ? S : 1) * M; e++)
        x->table[e] = -1;
    for (int s = 0; s < S; s++) {
        int need = (int)(((int64_t)kvc_kv_len(p, s) + B - 1) / B);
        for (int b = 0; b < need; b++)
            x->table[(int64_t)s * M + b] = (int)perm[next++];
        for (int i = 0; i < p->q_len[s]; i++) {
            int64_t pos = (int64_t)p->ctx_len[s] + i;
            x->slots[p->q_start[s] + i] =
                (int64_t)x->table[(int64_t)s * M + pos / B] * B + pos % B;
        }
        x->slot_id[s] = p->q_len[s] > 0 ? p->ctx_len[s] % B : 0;
    }
    for (int64_t t = p->q_start[S]; t < p->num_tokens; t++)
        x->slots[t] = -1;
    if (S == 0)
        x->slot_id[0] = 0;
    free(perm);

    x->c = *c; /* shallow: the logical problem is shared */
    kvc_layout *L = &x->c.layout;
    int64_t row = l->hnd ? l->stride_slot : l->stride_head;
    int64_t srow = l->scale_pool_units == 0 ? 0
                   : l->hnd                 ? l->scale_stride_slot
                                            : l->scale_stride_head;
    L->block_size = B;
    L->num_blocks = nb;
    if (l->hnd) {
        L->stride_slot = row;
        L->stride_head = (int64_t)B * row;
        L->stride_block = Hkv * L->stride_head;
        L->scale_stride_slot = srow;
        L->scale_stride_head = (int64_t)B * srow;
        L->scale_stride_block = Hkv * L->scale_stride_head;
    } else {
        L->stride_head = row;
        L->stride_slot = Hkv * row;
        L->stride_block = (int64_t)B * L->stride_slot;
        L->scale_stride_head = srow;
        L->scale_stride_slot = Hkv * srow;
        L->scale_stride_block = (int64_t)B * L->scale_stride_slot;
    }
    L->pool_elems = nb * L->stride_block;
    L->scale_pool_units = srow ? nb * L->scale_stride_block : 0;
    L->max_blocks_per_seq = M;
    L->block_table = x->table;
    L->slot_mapping = x->slots;
    x->c.spec.block_size = B;
    x->c.spec.extra_blocks = 1;
    x->c.spec.table = KVC_TABLE_PERMUTED;
    x->c.spec.large_offsets = 0;
    if (c->spec.mode == KVC_MODE_QEFF)
        x->c.qeff.slot_id = x->slot_id;
    return 0;
}

kvc_outcome kvc_prop_block_size_ref(const kvc_case *c, const kvc_kernel *k,
                                    const float *out, const float *lse,
                                    kvc_prop_ref *pr, kvc_result *r)
{
    const kvc_problem *p = &c->prob;
    int64_t rows = p->num_seqs > 0 ? p->q_start[p->num_seqs] : 0;
    if (rows == 0)
        return KVC_PASS;
    uint64_t st = c->value_seed ^ 0x424C4F434B53ULL; /* "BLOCKS" */
    relaid x;
    char what[160];
    if (c->spec.mode == KVC_MODE_BLOCKED) {
        /* the blocked kernel's tile is ceil(CL / num_kv_blocks): another
         * tile count */
        int CL = c->layout.block_size > 0 ? c->layout.block_size : 1;
        int cand[] = {1, 2, 3, 4, 7, 16, CL}, n = 7;
        int start = (int)(kvc_prop_mix(&st) % (uint64_t)n), nkb = 0;
        for (int i = 0; i < n && !nkb; i++) {
            int v = cand[(start + i) % n];
            if (v != c->spec.num_kv_blocks && v <= CL)
                nkb = v;
        }
        if (!nkb)
            return KVC_PASS;
        memset(&x, 0, sizeof x);
        x.c = *c;
        x.c.spec.num_kv_blocks = nkb;
        snprintf(what, sizeof what,
                 "the blocked cache read in %d tiles instead of %d", nkb,
                 c->spec.num_kv_blocks);
    } else {
        if (!kvc_prop_pool_small(c))
            return KVC_PASS;
        kva_caps caps;
        kvc_kernel_caps(k, &caps);
        const kvc_layout *l = &c->layout;
        int B = pick_block_size(c, &caps, l->hnd ? l->stride_slot : l->stride_head,
                                &st);
        if (B == 0)
            return KVC_PASS;
        if (relay(c, B, &st, &x) != 0) {
            snprintf(r->message, sizeof r->message, "block size: out of memory");
            return r->outcome = KVC_FAIL_SETUP;
        }
        snprintf(what, sizeof what, "laid out with block size %d instead of %d",
                 B, l->block_size);
    }
    if (!kvc_prop_reference(c, k, pr, r)) {
        relaid_free(&x);
        return r->outcome;
    }
    float *vout, *vlse;
    int64_t vrows;
    kvc_result vr;
    kvc_outcome o = kvc_run_outputs(&x.c, k, NULL, &vout, &vlse, &vrows, &vr);
    char msg[400];
    if (o != KVC_PASS) {
        snprintf(r->message, sizeof r->message, "%s: %s: %.300s", what,
                 kvc_outcome_name(o), vr.message);
        o = KVC_FAIL_PROP_BLOCK_SIZE;
    } else if (!kvc_prop_compare(c, pr, out, lse, 0, vout, vlse, 0, rows, msg,
                                 sizeof msg)) {
        snprintf(r->message, sizeof r->message, "%.150s: %.350s", what, msg);
        o = KVC_FAIL_PROP_BLOCK_SIZE;
    }
    free(vout);
    free(vlse);
    relaid_free(&x);
    if (o != KVC_PASS)
        r->outcome = o;
    return o;
}
