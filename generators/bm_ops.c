/*
 * bm_ops.c — drawing block-manager operations (bm_ops.h).
 *
 * Prompt families make shared prefixes: family 0 is a base prompt, family
 * 1 the same prompt with another first block (its later blocks have equal
 * ids after a different prefix: a manager that hashes a block without its
 * parent shares them wrongly), family 2 an unrelated prompt, family 3 the
 * base prompt again with another length. Tokens after the prompt are
 * random, so forks diverge.
 */
#include "bm_ops.h"

#include "gen_internal.h"

#include <string.h>

#define FAMILIES 4
#define VOCAB 64

const char *kvc_bm_op_name(kvc_bm_op_kind k)
{
    switch (k) {
    case KVC_BM_APPEND: return "append";
    case KVC_BM_FORK: return "fork";
    case KVC_BM_ROLLBACK: return "rollback";
    case KVC_BM_FREE: return "free";
    default: return "unknown";
    }
}

void kvc_bm_draw_config(uint64_t seed, kva_bm_config *cfg)
{
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(seed ^ 0x626d636f6e666967ULL));
    static const int bs[] = {1, 2, 3, 4, 5, 8, 16};
    memset(cfg, 0, sizeof *cfg);
    cfg->block_size = r ? bs[kvcg_int(r, 0, 6)] : 4;
    cfg->num_blocks = r ? kvcg_int(r, 4, 48) : 16;
    cfg->max_seqs = r ? kvcg_int(r, 2, KVC_BM_MAX_SEQS) : 4;
    cfg->max_blocks_per_seq = r ? kvcg_int(r, 2, 16) : 8;
    cfg->prefix_sharing = r ? kvcg_chance(r, 0.85) : 1;
    gsl_rng_free(r);
}

void kvc_bm_gen_init(kvc_bm_gen *g, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->seed = seed;
}

static int prompt_len(const kvc_bm_gen *g, int f, int B)
{
    uint64_t h = kvcg_splitmix64(g->seed * 31 + (uint64_t)(f == 3 ? 0 : f) + 7);
    int len = (int)(h % 5 + 1) * B + (int)((h >> 8) % (uint64_t)B);
    return f == 3 ? len + B + 1 : len;
}

static int32_t prompt_token(const kvc_bm_gen *g, int f, int64_t pos, int B)
{
    int base = (f == 1 && pos >= B) || f == 3 ? 0 : f;
    return (int32_t)(kvcg_splitmix64(g->seed ^ ((uint64_t)base << 40) ^
                                     (uint64_t)pos) % VOCAB);
}

/* Ids: from the sequence's prompt family while inside its prompt, random
 * after. */
static void fill_tokens(const kvc_bm_gen *g, gsl_rng *r, int f, int64_t pos,
                        int n, int B, int32_t *out)
{
    for (int i = 0; i < n; i++)
        out[i] = pos + i < prompt_len(g, f, B)
                     ? prompt_token(g, f, pos + i, B)
                     : (int32_t)kvcg_int(r, 0, VOCAB - 1);
}

static int pick_seq(gsl_rng *r, const kvc_bm_model *m, int live)
{
    int cand[KVC_BM_MAX_SEQS], n = 0;
    const kva_bm_config *c = kvc_bm_model_config(m);
    for (int s = 0; s < c->max_seqs && s < KVC_BM_MAX_SEQS; s++)
        if ((kvc_bm_model_len(m, s) >= 0) == live)
            cand[n++] = s;
    return n ? cand[kvcg_int(r, 0, n - 1)] : -1;
}

/* An operation the manager must refuse (or, for a large append, refuse
 * for lack of room). */
static void draw_invalid(gsl_rng *r, const kvc_bm_model *m, kvc_bm_op *op)
{
    const kva_bm_config *c = kvc_bm_model_config(m);
    int live = pick_seq(r, m, 1), dead = pick_seq(r, m, 0);
    switch (kvcg_int(r, 0, 4)) {
    case 0: /* fork into a live child */
        op->kind = KVC_BM_FORK;
        op->seq = live >= 0 ? live : 0;
        op->other = live >= 0 ? live : 0;
        break;
    case 1: /* roll back more than the sequence holds */
        op->kind = KVC_BM_ROLLBACK;
        op->seq = live >= 0 ? live : 0;
        op->n = live >= 0 ? (int)kvc_bm_model_len(m, live) + 1 : 1;
        break;
    case 2: /* free a sequence that is not live, or an id out of range */
        op->kind = KVC_BM_FREE;
        op->seq = dead >= 0 ? dead : c->max_seqs;
        break;
    case 3: /* more tokens than the row holds */
        op->kind = KVC_BM_APPEND;
        op->seq = live >= 0 ? live : 0;
        op->n = c->max_blocks_per_seq * c->block_size + 1;
        if (op->n > KVC_BM_MAX_APPEND)
            op->n = KVC_BM_MAX_APPEND;
        for (int i = 0; i < op->n; i++)
            op->tokens[i] = (int32_t)kvcg_int(r, 0, VOCAB - 1);
        break;
    default: /* an id out of range */
        op->kind = kvcg_chance(r, 0.5) ? KVC_BM_APPEND : KVC_BM_ROLLBACK;
        op->seq = kvcg_chance(r, 0.5) ? -1 : c->max_seqs;
        op->n = 1;
        op->tokens[0] = 1;
        break;
    }
}

static void draw_append(kvc_bm_gen *g, gsl_rng *r, const kvc_bm_model *m,
                        int s, int kind, kvc_bm_op *op)
{
    int B = kvc_bm_model_config(m)->block_size;
    int64_t len = kvc_bm_model_len(m, s) < 0 ? 0 : kvc_bm_model_len(m, s);
    int f = kvc_bm_model_len(m, s) < 0 ? kvcg_int(r, 0, FAMILIES - 1)
                                       : g->family[s];
    int left = prompt_len(g, f, B) - (int)len;
    op->kind = KVC_BM_APPEND;
    op->seq = s;
    if (kind == 0 && left > 0) /* a prefill chunk: whole blocks, or any */
        op->n = kvcg_chance(r, 0.5) && left >= B ? B * kvcg_int(r, 1, left / B)
                                                 : kvcg_int(r, 1, left);
    else if (kind == 1)
        op->n = 1; /* a decode step */
    else
        op->n = kvcg_int(r, 2, 6); /* speculative tokens */
    const kva_bm_config *c = kvc_bm_model_config(m);
    if (len + op->n > (int64_t)c->max_blocks_per_seq * c->block_size &&
        kvcg_chance(r, 0.85)) {
        /* the row is full: the engine would finish this sequence */
        op->kind = KVC_BM_FREE;
        op->n = 0;
        return;
    }
    if (kvc_bm_model_len(m, s) < 0)
        g->family[s] = f; /* a start; kept when refused, harmlessly */
    fill_tokens(g, r, f, len, op->n, B, op->tokens);
}

int kvc_bm_draw_op(kvc_bm_gen *g, const kvc_bm_model *m, kvc_bm_op *op)
{
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(g->seed ^ kvcg_splitmix64(g->step++)));
    if (!r)
        return -1;
    memset(op, 0, offsetof(kvc_bm_op, tokens));
    int live = pick_seq(r, m, 1), dead = pick_seq(r, m, 0);
    if (live >= 0 && g->pending_rollback[live] > 0 && kvcg_chance(r, 0.8)) {
        op->kind = KVC_BM_ROLLBACK;
        op->seq = live;
        op->n = g->pending_rollback[live];
        gsl_rng_free(r);
        return 0;
    }
    /* start, prefill chunk, decode, speculate, fork, free, invalid; frees
     * grow likelier as the pool fills, so that running out of room stays
     * an event rather than the steady state */
    const kva_bm_config *c = kvc_bm_model_config(m);
    double used = 1.0 - (double)kvc_bm_model_num_free(m) / c->num_blocks;
    double w[] = {dead >= 0 ? 0.18 : 0, live >= 0 ? 0.25 : 0,
                  live >= 0 ? 0.25 : 0, live >= 0 ? 0.1 : 0,
                  live >= 0 && dead >= 0 ? 0.08 : 0,
                  live >= 0 ? 0.04 + 0.6 * used * used * used : 0, 0.05};
    switch (kvcg_pick(r, w, 7)) {
    case 0: draw_append(g, r, m, dead, 0, op); break;
    case 1: draw_append(g, r, m, live, 0, op); break;
    case 2: draw_append(g, r, m, live, 1, op); break;
    case 3: draw_append(g, r, m, live, 2, op); break;
    case 4:
        op->kind = KVC_BM_FORK;
        op->seq = live;
        op->other = dead;
        break;
    case 5:
        op->kind = KVC_BM_FREE;
        op->seq = live;
        break;
    default: draw_invalid(r, m, op); break;
    }
    gsl_rng_free(r);
    return 0;
}

void kvc_bm_gen_after(kvc_bm_gen *g, const kvc_bm_op *op, kva_status status)
{
    if (status != KVA_OK || op->seq < 0 || op->seq >= KVC_BM_MAX_SEQS)
        return;
    switch (op->kind) {
    case KVC_BM_APPEND:
        /* speculative tokens: reject some of them next */
        g->pending_rollback[op->seq] =
            op->n >= 2 && op->n <= 6 ? (int)(kvcg_splitmix64(g->seed + g->step) % (uint64_t)op->n) : 0;
        break;
    case KVC_BM_FORK:
        if (op->other >= 0 && op->other < KVC_BM_MAX_SEQS)
            g->family[op->other] = g->family[op->seq];
        break;
    default:
        g->pending_rollback[op->seq] = 0;
        break;
    }
}
