/*
 * bm_check.c — a block manager against the reference model, step by step
 * (bm_check.h).
 */
#include "bm_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const kvc_bm_impl kvc_builtin_bm = {
    "libkvattn", kva_bm_bytes, kva_bm_init, kva_bm_append, kva_bm_fork,
    kva_bm_rollback, kva_bm_free, kva_bm_seq, kva_bm_ref_count,
    kva_bm_num_free,
};

#define POISON 0xdeadbeefcafef00dULL

typedef struct bm_run {
    const kvc_bm_impl *impl;
    kvc_bm_model *model;
    kva_bm_config cfg;
    void *state;
    uint64_t *pool; /* [num_blocks][B] the value each slot holds */
    int *row;       /* [max_blocks_per_seq] scratch */
    int64_t *slots; /* [KVC_BM_MAX_APPEND] */
} bm_run;

/* The value standing for the K/V of position pos of a token list: a hash
 * of the whole prefix (FNV-1a), as K/V depend on every earlier token. */
static uint64_t prefix_value(const int32_t *tok, int64_t pos)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i <= pos; i++)
        h = (h ^ (uint32_t)tok[i]) * 0x100000001b3ULL;
    return h;
}

static int fail(kvc_bm_result *r, const char *fmt, const char *detail)
{
    snprintf(r->message, sizeof r->message, fmt, detail);
    return 0;
}

/* Rows, lengths, reference counts and the free count against the model. */
static int compare_state(bm_run *x, kvc_bm_result *r)
{
    const kva_bm_config *c = &x->cfg;
    for (int s = 0; s < c->max_seqs; s++) {
        int64_t len = -2;
        kva_error e;
        if (x->impl->seq(x->state, s, x->row, &len, &e) != KVA_OK) {
            snprintf(r->message, sizeof r->message,
                     "reading seq %d failed: %s", s, e.msg);
            return 0;
        }
        const int *want = kvc_bm_model_row(x->model, s);
        if (len != kvc_bm_model_len(x->model, s)) {
            snprintf(r->message, sizeof r->message,
                     "seq %d holds %" PRId64 " tokens, the model %" PRId64, s,
                     len, kvc_bm_model_len(x->model, s));
            return 0;
        }
        for (int k = 0; k < c->max_blocks_per_seq; k++)
            if (x->row[k] != want[k]) {
                snprintf(r->message, sizeof r->message,
                         "seq %d row[%d] is %d, the model %d", s, k,
                         x->row[k], want[k]);
                return 0;
            }
    }
    for (int b = 0; b < c->num_blocks; b++) {
        int got = x->impl->ref_count(x->state, b), want = kvc_bm_model_ref(x->model, b);
        if (got != want) {
            snprintf(r->message, sizeof r->message,
                     "block %d has %d references, the rows hold it %d times",
                     b, got, want);
            return 0;
        }
    }
    int nf = x->impl->num_free(x->state), want = kvc_bm_model_num_free(x->model);
    if (nf != want) {
        snprintf(r->message, sizeof r->message,
                 "%d free blocks, the model has %d", nf, want);
        return 0;
    }
    return 1;
}

/* Every live sequence reads its own values through its row. */
static int compare_pool(bm_run *x, kvc_bm_result *r)
{
    int B = x->cfg.block_size;
    for (int s = 0; s < x->cfg.max_seqs; s++) {
        int64_t len = kvc_bm_model_len(x->model, s);
        const int32_t *tok = kvc_bm_model_tokens(x->model, s);
        const int *row = kvc_bm_model_row(x->model, s);
        uint64_t h = 0xcbf29ce484222325ULL;
        for (int64_t p = 0; p < len; p++) {
            h = (h ^ (uint32_t)tok[p]) * 0x100000001b3ULL;
            if (x->pool[(int64_t)row[p / B] * B + p % B] != h) {
                snprintf(r->message, sizeof r->message,
                         "seq %d position %" PRId64 " (block %d offset %"
                         PRId64 ") holds another token's K/V%s", s, p,
                         row[p / B], p % B,
                         x->pool[(int64_t)row[p / B] * B + p % B] == POISON
                             ? " (never written)" : "");
                return 0;
            }
        }
    }
    return 1;
}

/* The manager's effect on the pool: the copy first, then the writes. */
static void apply_pool(bm_run *x, const kvc_bm_op *op, const kva_bm_copy *cp,
                       int ncopies)
{
    int B = x->cfg.block_size;
    if (ncopies == 1)
        memcpy(x->pool + (int64_t)cp->dst * B, x->pool + (int64_t)cp->src * B,
               sizeof(uint64_t) * (size_t)B);
    const int32_t *tok = kvc_bm_model_tokens(x->model, op->seq);
    int64_t len = kvc_bm_model_len(x->model, op->seq);
    for (int t = 0; t < op->n; t++)
        if (x->slots[t] >= 0)
            x->pool[x->slots[t]] = prefix_value(tok, len - op->n + t);
}

static int run_append(bm_run *x, const kvc_bm_op *op, kva_status *st,
                      kvc_bm_result *r)
{
    kva_bm_copy cp = {-1, -1};
    int nc = 0;
    kva_error e;
    for (int t = 0; t < op->n; t++)
        x->slots[t] = INT64_MIN;
    kvc_bm_answer a = {KVA_OK, x->row, x->slots, {0, 0}, 0};
    a.status = x->impl->append(x->state, op->seq, op->tokens, op->n, x->slots,
                               &cp, &nc, &e);
    a.copy = cp;
    a.num_copies = nc;
    *st = a.status;
    if (a.status == KVA_OK) {
        int64_t len;
        if (x->impl->seq(x->state, op->seq, x->row, &len, &e) != KVA_OK)
            return fail(r, "reading the row after an append failed: %s", e.msg);
    }
    if (!kvc_bm_model_append(x->model, op->seq, op->tokens, op->n, &a,
                             r->message, sizeof r->message))
        return 0;
    if (a.status == KVA_OK) {
        /* slots can be trusted now: the model checked every one */
        apply_pool(x, op, &cp, nc);
        r->copies += nc;
        for (int t = 0; t < op->n; t++)
            r->shared_blocks += x->slots[t] == -1 &&
                                (t == 0 || x->slots[t - 1] != -1);
    }
    return 1;
}

static int run_op(bm_run *x, const kvc_bm_op *op, kva_status *st,
                  kvc_bm_result *r)
{
    kva_error e;
    char *m = r->message;
    size_t n = sizeof r->message;
    switch (op->kind) {
    case KVC_BM_APPEND:
        return run_append(x, op, st, r);
    case KVC_BM_FORK:
        *st = x->impl->fork(x->state, op->seq, op->other, &e);
        return kvc_bm_model_fork(x->model, op->seq, op->other, *st, m, n);
    case KVC_BM_ROLLBACK:
        *st = x->impl->rollback(x->state, op->seq, op->n, &e);
        return kvc_bm_model_rollback(x->model, op->seq, op->n, *st, m, n);
    default:
        *st = x->impl->free_seq(x->state, op->seq, &e);
        return kvc_bm_model_free_seq(x->model, op->seq, *st, m, n);
    }
}

static void run_release(bm_run *x)
{
    kvc_bm_model_free(x->model);
    free(x->state);
    free(x->pool);
    free(x->row);
    free(x->slots);
}

static int run_setup(bm_run *x, const kvc_bm_impl *impl, uint64_t seed,
                     kvc_bm_result *r)
{
    memset(x, 0, sizeof *x);
    x->impl = impl;
    kvc_bm_draw_config(seed, &x->cfg);
    size_t bytes = impl->bytes(&x->cfg);
    int64_t slots = (int64_t)x->cfg.num_blocks * x->cfg.block_size;
    x->model = kvc_bm_model_new(&x->cfg);
    x->state = bytes ? aligned_alloc(8, (bytes + 7) / 8 * 8) : NULL;
    x->pool = malloc(sizeof(uint64_t) * (size_t)slots);
    x->row = malloc(sizeof(int) * (size_t)x->cfg.max_blocks_per_seq);
    x->slots = malloc(sizeof(int64_t) * KVC_BM_MAX_APPEND);
    if (!x->model || !x->state || !x->pool || !x->row || !x->slots) {
        snprintf(r->message, sizeof r->message, "%s",
                 bytes ? "out of memory" : "kva_bm_bytes refused the config");
        return -1;
    }
    for (int64_t i = 0; i < slots; i++)
        x->pool[i] = POISON;
    kva_error e;
    if (impl->init(x->state, bytes, &x->cfg, &e) != KVA_OK) {
        snprintf(r->message, sizeof r->message, "kva_bm_init: %s", e.msg);
        return 0;
    }
    return 1;
}

int kvc_bm_check(const kvc_bm_impl *impl, uint64_t seed, int64_t num_ops,
                 kvc_bm_result *r)
{
    memset(r, 0, sizeof *r);
    r->failed_step = -1;
    bm_run x;
    int ok = run_setup(&x, impl, seed, r);
    kvc_bm_gen g;
    kvc_bm_gen_init(&g, seed);
    kvc_bm_op *op = malloc(sizeof *op);
    if (!op && ok == 1) {
        snprintf(r->message, sizeof r->message, "out of memory");
        ok = -1;
    }
    for (int64_t i = 0; ok == 1 && i < num_ops; i++) {
        kva_status st = KVA_OK;
        if (kvc_bm_draw_op(&g, x.model, op) != 0) {
            snprintf(r->message, sizeof r->message, "out of memory");
            ok = -1;
            break;
        }
        r->steps++;
        r->count[op->kind]++;
        if (!run_op(&x, op, &st, r) || !compare_state(&x, r) ||
            !compare_pool(&x, r)) {
            r->failed_step = i;
            ok = 0;
            break;
        }
        r->refused += st != KVA_OK;
        r->full += st == KVA_ERR_FULL;
        kvc_bm_gen_after(&g, op, st);
    }
    if (ok == 0 && r->failed_step >= 0) {
        char what[sizeof r->message];
        memcpy(what, r->message, sizeof what);
        snprintf(r->message, sizeof r->message, "step %" PRId64 " (%s seq %d): %.400s",
                 r->failed_step, kvc_bm_op_name(op->kind), op->seq, what);
    }
    free(op);
    run_release(&x);
    r->passed = ok == 1;
    return ok < 0 ? -1 : r->passed;
}
