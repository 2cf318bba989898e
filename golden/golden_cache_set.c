/*
 * golden_cache_set.c — the standard cache golden sets
 * (kvc_cache_golden_standard): hand-shaped scenarios that hit each
 * boundary of kvattn.h's block manager and eviction policies on purpose,
 * then a few scenarios drawn from the operation generators
 * (generators/bm_ops.h, policy_ops.h; policy weights moved to the 2^-8
 * grid so that every score is exact). Expected values: the reference
 * models answering each operation themselves (golden_cache_record.c).
 */
#include "golden_cache_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/bm_ops.h"
#include "../generators/policy_ops.h"

/* ---- the manager's scripted scenarios -------------------------------------- */

#define MAX_SCRIPT 24
#define MAX_TOK 12

/* One scripted operation: 'a' append (tok[0..n), tokens past the 12 listed
 * are 100 + their index), 'f' fork seq -> other, 'r' rollback n, 'x' free. */
typedef struct sop {
    char op;
    int seq, other, n;
    int32_t tok[MAX_TOK];
} sop;

typedef struct bm_script {
    const char *comment, *flags;
    kva_bm_config cfg; /* num_blocks, block_size, max_seqs, max_blocks_per_seq,
                          prefix_sharing */
    sop ops[MAX_SCRIPT];
} bm_script;

#define A(s, n, ...) {'a', s, 0, n, {__VA_ARGS__}}
#define F(p, c) {'f', p, c, 0, {0}}
#define R(s, n) {'r', s, 0, n, {0}}
#define X(s) {'x', s, 0, 0, {0}}

static const bm_script bm_scripts[] = {
    {"appends that fill a block exactly (4 tokens, then 1 + 3), then open "
     "the next one: a new block only when the previous is full",
     "block_boundary", {8, 4, 2, 4, 1},
     {A(0, 4, 1, 2, 3, 4), A(0, 1, 5), A(0, 3, 6, 7, 8), A(0, 1, 9),
      A(0, 0), A(1, 0), A(1, 8, 11, 12, 13, 14, 15, 16, 17, 18)}},
    {"fork of a partly filled last block, then an append on the child: copy "
     "on write {shared block -> a free one}; the parent then writes its own "
     "block without a copy", "fork copy_on_write", {8, 4, 3, 4, 1},
     {A(0, 6, 1, 2, 3, 4, 5, 6), F(0, 1), A(1, 1, 7), A(0, 1, 8),
      A(1, 2, 9, 10), A(0, 2, 11, 12)}},
    {"fork of a partly filled last block, then an append on the parent: the "
     "parent is the one moved to a fresh block", "fork copy_on_write",
     {8, 4, 3, 4, 1},
     {A(0, 5, 1, 2, 3, 4, 5), F(0, 1), A(0, 3, 6, 7, 8), A(1, 3, 9, 10, 11),
      F(1, 2), A(2, 1, 12), A(1, 1, 13)}},
    {"fork of a sequence whose blocks are all full: an append opens a new "
     "block, no copy", "fork", {8, 2, 2, 4, 1},
     {A(0, 4, 1, 2, 3, 4), F(0, 1), A(1, 1, 5), A(0, 1, 6)}},
    {"prefix sharing of full prompt blocks: a second sequence with the same "
     "8-token prompt shares both blocks (slots -1, counts 2), its partly "
     "filled third block is its own; the same ids after a DIFFERENT first "
     "block must not share", "prefix_sharing", {12, 4, 3, 4, 1},
     {A(0, 8, 1, 2, 3, 4, 5, 6, 7, 8), A(1, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
      A(2, 8, 50, 51, 52, 53, 5, 6, 7, 8), A(2, 4, 1, 2, 3, 4)}},
    {"prefix sharing across appends: a block shared when an append fills it "
     "from its first slot to its last (a chunk of one whole block, then "
     "token by token: no sharing of a block filled by pieces)",
     "prefix_sharing", {12, 4, 3, 4, 1},
     {A(0, 8, 1, 2, 3, 4, 5, 6, 7, 8), A(1, 4, 1, 2, 3, 4), A(1, 4, 5, 6, 7, 8),
      A(2, 2, 1, 2), A(2, 2, 3, 4), A(2, 4, 5, 6, 7, 8)}},
    {"prefix_sharing 0: the same prompts never share", "no_prefix_sharing",
     {12, 4, 3, 4, 0},
     {A(0, 8, 1, 2, 3, 4, 5, 6, 7, 8), A(1, 8, 1, 2, 3, 4, 5, 6, 7, 8),
      R(1, 2), A(1, 2, 7, 8)}},
    {"rollback into a registered block leaves it registered: another "
     "sequence with the whole prefix shares it (the partly filled block, "
     "count 2), and the re-append of the first then copies it",
     "rollback prefix_sharing copy_on_write", {8, 4, 2, 4, 1},
     {A(0, 8, 1, 2, 3, 4, 5, 6, 7, 8), R(0, 2), A(1, 8, 1, 2, 3, 4, 5, 6, 7, 8),
      A(0, 2, 7, 8), A(0, 1, 9), A(1, 1, 9)}},
    {"rollback into a registered block held alone, then re-append: written "
     "in place (unregistered), registered again when full, then shared",
     "rollback prefix_sharing", {8, 4, 2, 4, 1},
     {A(0, 8, 1, 2, 3, 4, 5, 6, 7, 8), R(0, 1), A(0, 1, 20),
      A(1, 8, 1, 2, 3, 4, 5, 6, 7, 20), A(1, 1, 9), R(0, 8), R(0, 0),
      A(0, 4, 1, 2, 3, 4)}},
    {"rollback of whole blocks drops their references (a shared one stays "
     "with its other holder); rollback of the whole sequence keeps it live "
     "at length 0", "rollback fork", {8, 2, 2, 4, 1},
     {A(0, 7, 1, 2, 3, 4, 5, 6, 7), F(0, 1), R(0, 3), R(1, 7), A(1, 1, 9),
      A(0, 2, 5, 6)}},
    {"free of a shared block: its count drops to 1 and the other holder "
     "keeps it; a freed registered block is unregistered (the same prompt "
     "later takes fresh blocks)", "free fork prefix_sharing", {8, 4, 3, 4, 1},
     {A(0, 8, 1, 2, 3, 4, 5, 6, 7, 8), F(0, 1), X(0), A(1, 1, 9), X(1),
      A(2, 8, 1, 2, 3, 4, 5, 6, 7, 8), X(2), A(0, 0), X(0)}},
    {"KVA_ERR_FULL leaves the state unchanged: a pool with too few free "
     "blocks, a row too short, and a copy on write with no free block",
     "full", {3, 2, 3, 3, 1},
     {A(0, 4, 1, 2, 3, 4), A(1, 3, 7, 8, 9), A(0, 3, 5, 6, 7), A(1, 1, 7),
      F(1, 2), A(2, 1, 9), X(0), A(2, 1, 9), A(2, 3, 1, 2, 3), A(1, 1, 8),
      A(0, 6, 1, 2, 3, 4, 5, 6)}},
    {"refusals: seq out of range (-1, maxSeqs) for every operation; "
     "negative append and rollback counts; an empty append starts a "
     "sequence at length 0", "refusal", {4, 2, 2, 2, 1},
     {A(-1, 1, 1), A(2, 1, 1), A(0, -1), R(-1, 0), R(2, 0), X(-1), X(2),
      F(-1, 0), F(0, 2), A(0, 0), R(0, -1), R(0, 1), R(0, 0), A(0, 3, 1, 2, 3),
      R(0, -2), R(0, 4)}},
    {"refusals of fork and free: a live child, child == parent, a parent "
     "not live; rollback and free of a sequence not live",
     "refusal fork", {4, 2, 3, 2, 1},
     {A(0, 3, 1, 2, 3), A(1, 1, 4), F(0, 1), F(0, 0), F(2, 1), R(2, 0), X(2),
      F(0, 2), F(2, 2), X(1), F(1, 0), F(1, 1)}},
    {"block size 1 and one-block rows: every token its own block, sharing "
     "of single tokens after the same prefix", "block_boundary prefix_sharing",
     {6, 1, 3, 3, 1},
     {A(0, 3, 5, 6, 7), A(1, 2, 5, 6), A(1, 1, 8), A(2, 1, 6), F(1, 2), R(2, 1),
      X(0), A(0, 4, 1, 2, 3, 4)}},
};

static void script_tokens(const sop *o, int32_t *tok)
{
    for (int i = 0; i < o->n; i++)
        tok[i] = i < MAX_TOK ? o->tok[i] : 100 + i;
}

static int bm_scripted(kvc_cache_file *f)
{
    int32_t tok[64];
    for (size_t i = 0; i < sizeof bm_scripts / sizeof bm_scripts[0]; i++) {
        const bm_script *sc = &bm_scripts[i];
        kvc_cache_test *t = kvcc_add_test(f, sc->comment, sc->flags, &sc->cfg, NULL);
        kvc_bm_model *m = t ? kvc_bm_model_new(&sc->cfg) : NULL;
        if (!m)
            return -1;
        int rc = 0;
        for (int k = 0; rc == 0 && k < MAX_SCRIPT && sc->ops[k].op; k++) {
            const sop *o = &sc->ops[k];
            static const char ops[] = "afrx";
            script_tokens(o, tok);
            rc = kvcc_record_bm(t, m, (int)(strchr(ops, o->op) - ops), o->seq,
                                o->other, o->n, tok);
        }
        kvc_bm_model_free(m);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- the policies' scripted scenarios ------------------------------------- */

#define MAX_W 16

/* 'a' append n; 'o' observe: w[h * L + j] in units of 2^-8, then entry
 * bad_at (when bad is set) replaced by -1 ('-'), NaN ('n'), +inf ('i') or
 * -inf ('j'). */
typedef struct pop {
    char op;
    int n;
    int w[MAX_W];
    char bad;
    int bad_at;
} pop;

typedef struct policy_script {
    const char *comment, *flags;
    kva_policy_config cfg; /* kind, num_slots, num_kv_heads, sinks, recent */
    pop ops[MAX_SCRIPT];
} policy_script;

#define PA(n) {'a', n, {0}, 0, 0}
#define PO(...) {'o', 0, {__VA_ARGS__}, 0, 0}
#define PBAD(c, at) {'o', 0, {0}, c, at}

static const policy_script policy_scripts[] = {
    {"dense fills slot n with token n up to full, then KVA_ERR_FULL changes "
     "nothing (an empty append still passes); observe is accepted and "
     "ignored (scores stay 0); a negative count is KVA_ERR_LENGTH",
     "dense full", {KVA_POLICY_DENSE, 4, 2, 0, 0},
     {PA(3), PO(8, 8, 8, 0, 8, 8, 8, 0), PA(2), PA(1), PA(0), PA(-1), PA(5)}},
    {"recent without sinks: a ring over every slot, one token at a time and "
     "in chunks that wrap", "recent", {KVA_POLICY_RECENT, 4, 1, 0, 0},
     {PA(3), PA(2), PA(1), PA(1), PA(3), PA(0), PA(-1)}},
    {"recent with 2 sinks: tokens 0 and 1 stay in slots 0 and 1 for ever, "
     "the ring turns over slots 2..4; a chunk longer than the ring keeps its "
     "last tokens (the others get slot -1)", "recent sinks prefill_longer",
     {KVA_POLICY_RECENT, 5, 2, 2, 0},
     {PA(2), PA(3), PA(1), PA(7), PA(1), PA(2)}},
    {"recent with 1 sink, a first prefill of 10 tokens into 4 slots: the "
     "sink and the last 3 kept, every other token slot -1",
     "recent sinks prefill_longer", {KVA_POLICY_RECENT, 4, 1, 1, 0},
     {PA(10), PA(1)}},
    {"recent with 1 slot: every token replaces the last", "recent",
     {KVA_POLICY_RECENT, 1, 1, 0, 0}, {PA(1), PA(1), PA(3)}},
    {"h2o, exact ties: equal scores evict the oldest candidate; the new "
     "token's score starts at 0 (the slot is reused)", "h2o ties slot_reuse",
     {KVA_POLICY_H2O, 4, 1, 0, 1},
     {PA(4), PO(64, 64, 64, 64), PA(1), PO(16, 32, 16, 32), PA(1), PA(1),
      PO(1, 1, 1, 1), PA(1)}},
    {"h2o, a tie for the lowest score between two tokens that are not the "
     "oldest: head 0 evicts the older of the two, head 1 its single lowest; "
     "with recent 0 the newest token (score 0) is the next victim",
     "h2o ties per_head", {KVA_POLICY_H2O, 4, 2, 0, 0},
     {PA(4), PO(128, 64, 64, 96, 64, 128, 96, 96), PA(1), PO(8, 8, 8, 8, 8, 8, 8, 8),
      PA(1), PA(1)}},
    {"h2o with 2 KV heads whose weights differ: each head evicts its own "
     "lowest score, so the heads keep different tokens", "h2o per_head",
     {KVA_POLICY_H2O, 4, 2, 0, 1},
     {PA(4), PO(128, 32, 64, 32, 32, 128, 32, 64), PA(1),
      PO(0, 16, 16, 0, 16, 0, 0, 16), PA(2), PO(4, 8, 12, 16, 16, 12, 8, 4),
      PA(1)}},
    {"h2o keeps the `recent` most recent tokens whatever their score (here "
     "the lowest): the victim is the lowest-scored older token",
     "h2o recent_window", {KVA_POLICY_H2O, 5, 1, 0, 2},
     {PA(5), PO(40, 30, 20, 0, 0), PA(1), PO(0, 0, 0, 0, 0), PA(1),
      PO(1, 2, 3, 4, 5), PA(3)}},
    {"h2o with recent 0 and an append longer than the cache: tokens of the "
     "same append evict each other (score 0, the oldest first)",
     "h2o prefill_longer", {KVA_POLICY_H2O, 3, 2, 0, 0},
     {PA(2), PO(8, 4, 0, 4, 8, 0), PA(4), PO(1, 2, 3, 3, 2, 1), PA(1)}},
    {"observe refuses a negative, NaN or infinite weight (KVA_ERR_PARAM, "
     "scores unchanged), then takes a valid one", "h2o refusal",
     {KVA_POLICY_H2O, 3, 1, 0, 0},
     {PA(3), PBAD('-', 1), PBAD('n', 0), PBAD('i', 2), PBAD('j', 1),
      PO(3, 2, 1), PA(1)}},
    {"recent and dense refuse a bad weight too (validated before the kind "
     "ignores it)", "recent refusal", {KVA_POLICY_RECENT, 2, 1, 1, 0},
     {PA(1), PBAD('n', 0), PBAD('-', 1), PO(1, 1), PA(2)}},
};

static void script_weights(const pop *o, size_t ns, float *w)
{
    for (size_t i = 0; i < ns; i++)
        w[i] = i < MAX_W ? (float)(o->w[i] * KVC_CACHE_WEIGHT_GRID) : 0.0f;
    if (o->bad)
        w[o->bad_at] = o->bad == '-' ? -1.0f
                       : o->bad == 'n' ? NAN
                       : o->bad == 'i' ? INFINITY : -INFINITY;
}

static int policy_scripted(kvc_cache_file *f, char *err, size_t errlen)
{
    float w[MAX_W];
    for (size_t i = 0; i < sizeof policy_scripts / sizeof policy_scripts[0]; i++) {
        const policy_script *sc = &policy_scripts[i];
        kvc_cache_test *t = kvcc_add_test(f, sc->comment, sc->flags, NULL, &sc->cfg);
        kvc_policy_model *m = t ? kvc_policy_model_new(&sc->cfg) : NULL;
        snprintf(err, errlen, "out of memory");
        if (!m)
            return -1;
        size_t ns = (size_t)sc->cfg.num_slots * (size_t)sc->cfg.num_kv_heads;
        int rc = 0;
        for (int k = 0; rc == 0 && k < MAX_SCRIPT && sc->ops[k].op; k++) {
            const pop *o = &sc->ops[k];
            script_weights(o, ns, w);
            rc = kvcc_record_policy(t, m, o->op == 'a' ? KVC_POLICY_APPEND
                                                       : KVC_POLICY_OBSERVE,
                                    o->n, w, err, errlen);
        }
        kvc_policy_model_free(m);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- drawn scenarios ------------------------------------------------------- */

/* Manager scenarios of these generator seeds, this many operations each;
 * then the first seed from 1 whose manager shares no prefixes. */
static const uint64_t bm_seeds[] = {3, 11, 0};
#define BM_DRAWN_OPS 200

static uint64_t bm_seed_without_sharing(void)
{
    kva_bm_config cfg;
    for (uint64_t s = 1;; s++) {
        kvc_bm_draw_config(s, &cfg);
        if (!cfg.prefix_sharing)
            return s;
    }
}

static int bm_drawn(kvc_cache_file *f)
{
    kvc_bm_op *op = malloc(sizeof *op);
    int rc = op ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < sizeof bm_seeds / sizeof bm_seeds[0]; i++) {
        kva_bm_config cfg;
        uint64_t seed = bm_seeds[i] ? bm_seeds[i] : bm_seed_without_sharing();
        kvc_bm_draw_config(seed, &cfg);
        char comment[200];
        snprintf(comment, sizeof comment, "drawn: %d operations of generator "
                 "seed %llu (generators/bm_ops.h): prefills of shared prompt "
                 "families, decodes, speculation and rollbacks, forks, frees, "
                 "running out of blocks, refusals", BM_DRAWN_OPS,
                 (unsigned long long)seed);
        kvc_cache_test *t = kvcc_add_test(f, comment, "drawn", &cfg, NULL);
        kvc_bm_model *m = t ? kvc_bm_model_new(&cfg) : NULL;
        kvc_bm_gen g;
        kvc_bm_gen_init(&g, seed);
        rc = m ? 0 : -1;
        for (int k = 0; rc == 0 && k < BM_DRAWN_OPS; k++) {
            rc = kvc_bm_draw_op(&g, m, op);
            if (rc == 0)
                rc = kvcc_record_bm(t, m, op->kind, op->seq, op->other, op->n,
                                    op->tokens);
            if (rc == 0)
                kvc_bm_gen_after(&g, op, t->steps[t->num_steps - 1].status);
        }
        kvc_bm_model_free(m);
    }
    free(op);
    return rc;
}

/* The first generator seed from `from` whose policy is of kind k, with 2
 * KV heads or more, 5 slots or more and at most max_slots slots in all
 * heads (a small file), sinks for RECENT and a window of at most half the
 * slots for H2O (so that evictions have candidates to choose from). */
static uint64_t policy_seed(kva_policy_kind k, uint64_t from, int max_slots,
                            kva_policy_config *cfg)
{
    for (uint64_t s = from;; s++) {
        kvc_policy_draw_config(s, cfg);
        if (cfg->kind == k && cfg->num_kv_heads >= 2 && cfg->num_slots >= 5 &&
            cfg->num_slots * cfg->num_kv_heads <= max_slots &&
            (k != KVA_POLICY_RECENT || cfg->sinks > 0) &&
            (k != KVA_POLICY_H2O || (cfg->recent > 0 && 2 * cfg->recent <= cfg->num_slots)))
            return s;
    }
}

/* A drawn weight on the 2^-8 grid (refusal weights, -1 and NaN, kept). */
static float on_grid(float w)
{
    if (!(w >= 0.0f) || !isfinite(w))
        return w;
    return (float)(nearbyint((double)w / KVC_CACHE_WEIGHT_GRID) * KVC_CACHE_WEIGHT_GRID);
}

/* Operations drawn for each kind: a full dense cache only observes and
 * refuses, so it gets few. */
static const int policy_drawn_ops[3] = {40, 100, 250};

static int policy_drawn(kvc_cache_file *f, char *err, size_t errlen)
{
    for (int k = 0; k < 3; k++) {
        kva_policy_config cfg;
        uint64_t seed = policy_seed((kva_policy_kind)k, 1, 40, &cfg);
        char comment[200];
        snprintf(comment, sizeof comment, "drawn: %d operations of generator "
                 "seed %llu (generators/policy_ops.h), weights rounded to "
                 "multiples of 2^-8", policy_drawn_ops[k], (unsigned long long)seed);
        kvc_cache_test *t = kvcc_add_test(f, comment, "drawn", NULL, &cfg);
        kvc_policy_model *m = t ? kvc_policy_model_new(&cfg) : NULL;
        size_t ns = (size_t)cfg.num_slots * (size_t)cfg.num_kv_heads;
        float *w = calloc(ns, sizeof(float));
        int rc = m && w ? 0 : -1;
        snprintf(err, errlen, "out of memory");
        for (int i = 0; rc == 0 && i < policy_drawn_ops[k]; i++) {
            kvc_policy_op op = {KVC_POLICY_APPEND, 0, w};
            rc = kvc_policy_draw_op(seed, (uint64_t)i, &cfg,
                                    kvc_policy_model_positions(m), &op);
            for (size_t e = 0; rc == 0 && op.kind == KVC_POLICY_OBSERVE && e < ns; e++)
                w[e] = on_grid(w[e]);
            if (rc == 0)
                rc = kvcc_record_policy(t, m, op.kind, op.n, w, err, errlen);
        }
        free(w);
        kvc_policy_model_free(m);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- the sets ---------------------------------------------------------------- */

int kvc_cache_golden_standard(kvc_cache_kind kind, kvc_cache_file *f,
                              char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    int rc;
    snprintf(err, errlen, "out of memory");
    if (kind == KVC_CACHE_MANAGER)
        rc = bm_scripted(f) == 0 && bm_drawn(f) == 0 ? 0 : -1;
    else
        rc = policy_scripted(f, err, errlen) == 0 &&
             policy_drawn(f, err, errlen) == 0 ? 0 : -1;
    if (rc != 0)
        kvc_cache_golden_free(f);
    return rc;
}
