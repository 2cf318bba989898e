/*
 * policy_check.c — an eviction policy against its model, step by step
 * (policy_check.h).
 */
#include "policy_check.h"

#include "../generators/policy_ops.h"
#include "../oracle/policy_model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const kvc_policy_impl kvc_builtin_policy = {
    "libkvattn", kva_policy_bytes, kva_policy_init, kva_policy_append,
    kva_policy_observe, kva_policy_slots,
};


struct kvc_policy_run {
    const kvc_policy_impl *impl;
    kva_policy_config cfg;
    kvc_policy_model *model;
    void *state;
    int64_t *pos;  /* [H][L] the kernel's, read back */
    float *score;  /* [H][L] */
    float *weights;
    int *slots;    /* [KVC_POLICY_MAX_APPEND][H] */
};

void kvc_policy_run_free(kvc_policy_run *x)
{
    if (!x)
        return;
    kvc_policy_model_free(x->model);
    free(x->state);
    free(x->pos);
    free(x->score);
    free(x->weights);
    free(x->slots);
    free(x);
}

kvc_policy_run *kvc_policy_run_new(const kvc_policy_impl *impl,
                                   const kva_policy_config *cfg, char *err,
                                   size_t errlen)
{
    kvc_policy_run *x = calloc(1, sizeof *x);
    size_t bytes = impl->bytes(cfg);
    if (!x || !bytes) {
        snprintf(err, errlen, "%s", x ? "kva_policy_bytes refused the config" : "out of memory");
        free(x);
        return NULL;
    }
    x->impl = impl;
    x->cfg = *cfg;
    size_t ns = (size_t)cfg->num_slots * (size_t)cfg->num_kv_heads;
    x->model = kvc_policy_model_new(cfg);
    x->state = aligned_alloc(8, (bytes + 7) / 8 * 8);
    x->pos = malloc(sizeof(int64_t) * ns);
    x->score = malloc(sizeof(float) * ns);
    x->weights = malloc(sizeof(float) * ns);
    x->slots = malloc(sizeof(int) * KVC_POLICY_MAX_APPEND * (size_t)cfg->num_kv_heads);
    kva_error e;
    if (!x->model || !x->state || !x->pos || !x->score || !x->weights || !x->slots) {
        snprintf(err, errlen, "out of memory");
    } else if (impl->init(x->state, bytes, cfg, &e) != KVA_OK) {
        snprintf(err, errlen, "kva_policy_init refused a valid config: %s", e.msg);
    } else {
        return x;
    }
    kvc_policy_run_free(x);
    return NULL;
}

float *kvc_policy_run_weights(kvc_policy_run *x)
{
    return x->weights;
}

const kvc_policy_model *kvc_policy_run_model(const kvc_policy_run *x)
{
    return x->model;
}

static int read_back(kvc_policy_run *x, kvc_policy_result *r)
{
    kva_error e;
    if (x->impl->slots(x->state, x->pos, x->score, &e) != KVA_OK) {
        snprintf(r->message, sizeof r->message, "kva_policy_slots: %s", e.msg);
        return 0;
    }
    return 1;
}

int kvc_policy_run_op(kvc_policy_run *x, const kvc_policy_op *op,
                      kvc_policy_result *r)
{
    r->steps++;
    if (op->kind == KVC_POLICY_APPEND && op->n > KVC_POLICY_MAX_APPEND) {
        snprintf(r->message, sizeof r->message, "append of %d tokens: more "
                 "than the check's %d", op->n, KVC_POLICY_MAX_APPEND);
        return 0;
    }
    kva_error e;
    int ok;
    if (op->kind == KVC_POLICY_OBSERVE) {
        kva_status st = x->impl->observe(x->state, op->weights, &e);
        r->observes++;
        r->refused += st != KVA_OK;
        ok = kvc_policy_model_observe(x->model, op->weights, st, r->message,
                                      sizeof r->message) && read_back(x, r);
    } else {
        int64_t before = kvc_policy_model_next(x->model);
        kva_status st = x->impl->append(x->state, op->n, x->slots, &e);
        r->appends++;
        r->refused += st != KVA_OK;
        int64_t near[2] = {0, 0};
        ok = read_back(x, r) &&
             kvc_policy_model_append(x->model, op->n, st, x->slots, x->pos,
                                     near, r->message, sizeof r->message);
        r->near_ties += near[0];
        r->followed += near[1];
        if (ok && st == KVA_OK && before + op->n > x->cfg.num_slots)
            r->evictions += before + op->n - (before > x->cfg.num_slots ? before : x->cfg.num_slots);
    }
    return ok && kvc_policy_model_compare(x->model, x->pos, x->score,
                                          r->message, sizeof r->message);
}

int kvc_policy_check(const kvc_policy_impl *impl, uint64_t seed,
                     int64_t num_ops, kvc_policy_result *r)
{
    memset(r, 0, sizeof *r);
    r->failed_step = -1;
    kva_policy_config cfg;
    kvc_policy_draw_config(seed, &cfg);
    r->kind = cfg.kind;
    kvc_policy_run *x = kvc_policy_run_new(impl, &cfg, r->message, sizeof r->message);
    int ok = x ? 1 : 0;
    for (int64_t i = 0; ok == 1 && i < num_ops; i++) {
        kvc_policy_op op = {KVC_POLICY_APPEND, 0, x->weights};
        if (kvc_policy_draw_op(seed, (uint64_t)i, &cfg,
                               kvc_policy_model_positions(x->model), &op) != 0) {
            snprintf(r->message, sizeof r->message, "out of memory");
            ok = -1;
        } else if (!kvc_policy_run_op(x, &op, r)) {
            char what[sizeof r->message];
            memcpy(what, r->message, sizeof what);
            snprintf(r->message, sizeof r->message,
                     "step %" PRId64 " (%s): %.400s", i,
                     op.kind == KVC_POLICY_OBSERVE ? "observe" : "append", what);
            r->failed_step = i;
            ok = 0;
        }
    }
    kvc_policy_run_free(x);
    r->passed = ok == 1;
    return ok < 0 ? -1 : r->passed;
}
