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

struct kvc_bm_run {
    const kvc_bm_impl *impl;
    kvc_bm_model *model;
    kva_bm_config cfg;
    void *state;
    uint64_t *pool; /* [num_blocks][B] the value each slot holds */
    int *row;       /* [max_blocks_per_seq] scratch */
    int64_t *slots; /* [KVC_BM_MAX_APPEND] */
};

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
static int compare_state(kvc_bm_run *x, kvc_bm_result *r)
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
static int compare_pool(kvc_bm_run *x, kvc_bm_result *r)
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
static void apply_pool(kvc_bm_run *x, const kvc_bm_op *op, const kva_bm_copy *cp,
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

static int run_append(kvc_bm_run *x, const kvc_bm_op *op, kva_status *st,
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

static int run_op(kvc_bm_run *x, const kvc_bm_op *op, kva_status *st,
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

void kvc_bm_run_free(kvc_bm_run *x)
{
    if (!x)
        return;
    kvc_bm_model_free(x->model);
    free(x->state);
    free(x->pool);
    free(x->row);
    free(x->slots);
    free(x);
}

kvc_bm_run *kvc_bm_run_new(const kvc_bm_impl *impl, const kva_bm_config *cfg,
                           char *err, size_t errlen)
{
    kvc_bm_run *x = calloc(1, sizeof *x);
    size_t bytes = impl->bytes(cfg);
    if (!x || !bytes) {
        snprintf(err, errlen, "%s", x ? "kva_bm_bytes refused the config" : "out of memory");
        free(x);
        return NULL;
    }
    x->impl = impl;
    x->cfg = *cfg;
    int64_t slots = (int64_t)cfg->num_blocks * cfg->block_size;
    x->model = kvc_bm_model_new(cfg);
    x->state = aligned_alloc(8, (bytes + 7) / 8 * 8);
    x->pool = malloc(sizeof(uint64_t) * (size_t)slots);
    x->row = malloc(sizeof(int) * (size_t)cfg->max_blocks_per_seq);
    x->slots = malloc(sizeof(int64_t) * KVC_BM_MAX_APPEND);
    if (!x->model || !x->state || !x->pool || !x->row || !x->slots) {
        snprintf(err, errlen, "out of memory");
        kvc_bm_run_free(x);
        return NULL;
    }
    for (int64_t i = 0; i < slots; i++)
        x->pool[i] = POISON;
    kva_error e;
    if (impl->init(x->state, bytes, cfg, &e) != KVA_OK) {
        snprintf(err, errlen, "kva_bm_init refused a valid config: %s", e.msg);
        kvc_bm_run_free(x);
        return NULL;
    }
    return x;
}

const kvc_bm_model *kvc_bm_run_model(const kvc_bm_run *x)
{
    return x->model;
}

int kvc_bm_run_op(kvc_bm_run *x, const kvc_bm_op *op, kva_status *st,
                  kvc_bm_result *r)
{
    *st = KVA_OK;
    r->steps++;
    if (op->kind == KVC_BM_APPEND && op->n > KVC_BM_MAX_APPEND) {
        snprintf(r->message, sizeof r->message, "append of %d tokens: more "
                 "than the check's %d", op->n, KVC_BM_MAX_APPEND);
        return 0;
    }
    if (op->kind >= 0 && op->kind < KVC_BM_OP_KINDS)
        r->count[op->kind]++;
    if (!run_op(x, op, st, r) || !compare_state(x, r) || !compare_pool(x, r))
        return 0;
    r->refused += *st != KVA_OK;
    r->full += *st == KVA_ERR_FULL;
    return 1;
}

int kvc_bm_check(const kvc_bm_impl *impl, uint64_t seed, int64_t num_ops,
                 kvc_bm_result *r)
{
    memset(r, 0, sizeof *r);
    r->failed_step = -1;
    kva_bm_config cfg;
    kvc_bm_draw_config(seed, &cfg);
    kvc_bm_run *x = kvc_bm_run_new(impl, &cfg, r->message, sizeof r->message);
    kvc_bm_op *op = malloc(sizeof *op);
    kvc_bm_gen g;
    kvc_bm_gen_init(&g, seed);
    int ok = x && op ? 1 : -1;
    if (x && !op)
        snprintf(r->message, sizeof r->message, "out of memory");
    for (int64_t i = 0; ok == 1 && i < num_ops; i++) {
        kva_status st;
        if (kvc_bm_draw_op(&g, x->model, op) != 0) {
            snprintf(r->message, sizeof r->message, "out of memory");
            ok = -1;
        } else if (!kvc_bm_run_op(x, op, &st, r)) {
            char what[sizeof r->message];
            memcpy(what, r->message, sizeof what);
            snprintf(r->message, sizeof r->message,
                     "step %" PRId64 " (%s seq %d): %.400s", i,
                     kvc_bm_op_name(op->kind), op->seq, what);
            r->failed_step = i;
            ok = 0;
        } else {
            kvc_bm_gen_after(&g, op, st);
        }
    }
    free(op);
    kvc_bm_run_free(x);
    r->passed = ok == 1;
    return ok < 0 ? -1 : r->passed;
}
