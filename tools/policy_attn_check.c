/*
 * policy_attn_check.c — a policy cache end to end against the model and
 * the oracle (policy_attn_check.h).
 */
#include "policy_attn_check.h"

#include "../generators/policy_ops.h"
#include "../oracle/key_weights.h"
#include "../oracle/policy_model.h"
#include "../oracle/tolerance.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const kvc_policy_attn_impl kvc_builtin_policy_attn = {
    {"libkvattn", kva_policy_bytes, kva_policy_init, kva_policy_append,
     kva_policy_observe, kva_policy_slots},
    kva_cache_write_heads,
    kva_policy_attention,
};

/* The formats a scenario draws: every dtype, 8-bit ones with per-token
 * scales (static scales need a calibration a policy scenario has not
 * got), nvfp4 with a global scale for data of amax about 4. */
static const struct {
    kva_dtype dtype;
    kva_scale_kind kind;
    int unit_bytes, halves;
} formats[] = {
    {KVA_DTYPE_F32, KVA_SCALE_NONE, 4, 0},  {KVA_DTYPE_F16, KVA_SCALE_NONE, 2, 0},
    {KVA_DTYPE_BF16, KVA_SCALE_NONE, 2, 0}, {KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN, 1, 0},
    {KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN, 1, 0}, {KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 1, 0},
    {KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 1, 1},
};
#define NFORMATS 7
#define NVFP4_GLOBAL 672.0f /* 448 * 6 / 4 */

typedef struct pa_run {
    const kvc_policy_attn_impl *impl;
    kva_policy_config pcfg;
    kva_attn_params prm;
    kva_paged_cache cache;
    int fmt;
    int *row, nrow;
    kvc_policy_model *model;
    void *state;
    gsl_rng *rng;
    float *q, *k, *v;  /* every token so far: [T][Hq][D], [T][H][D] x 2 */
    int64_t T, cap;
    int64_t *pos, *phys, *qpos;
    float *score, *out, *lse, *w;
    int *slots;
} pa_run;

#define MAX_APPEND 256

static void pa_release(pa_run *x)
{
    kvc_policy_model_free(x->model);
    gsl_rng_free(x->rng);
    free(x->state);
    free(x->cache.k);
    free(x->cache.v);
    free(x->cache.scales.k_pool);
    free(x->cache.scales.v_pool);
    free(x->row);
    free(x->q);
    free(x->k);
    free(x->v);
    free(x->pos);
    free(x->phys);
    free(x->qpos);
    free(x->score);
    free(x->out);
    free(x->lse);
    free(x->w);
    free(x->slots);
}

/* The attention shape, format and paged layout of scenario seed. */
static void pa_draw(pa_run *x, uint64_t seed)
{
    gsl_rng *r = x->rng;
    static const int groups[] = {1, 2, 3, 4}, dims[] = {4, 8, 16, 32},
                     blocks[] = {1, 2, 3, 4, 8, 16};
    x->fmt = (int)gsl_rng_uniform_int(r, NFORMATS);
    const int H = x->pcfg.num_kv_heads, G = groups[gsl_rng_uniform_int(r, 4)];
    int D = dims[gsl_rng_uniform_int(r, 4)];
    if (formats[x->fmt].halves && D < 16)
        D = 16;
    x->prm = (kva_attn_params){H * G, H, D, 1.0f / sqrtf((float)D), 0.0f, 1, -1, 0};
    if (gsl_rng_uniform(r) < 0.2)
        x->prm.softcap = 5.0f;
    x->prm.causal = gsl_rng_uniform(r) < 0.9;
    if (gsl_rng_uniform(r) < 0.25)
        x->prm.window_left = (int)gsl_rng_uniform_int(r, (unsigned long)x->pcfg.num_slots + 1);
    x->cache.block_size = blocks[gsl_rng_uniform_int(r, 6)];
    (void)seed;
}

/* The paged cache: NHD, ceil(L / B) row blocks of a pool with 2 more,
 * the row a permutation of the pool. */
static int pa_cache(pa_run *x)
{
    kva_paged_cache *c = &x->cache;
    const int B = c->block_size, H = x->prm.num_kv_heads, D = x->prm.head_dim;
    x->nrow = (x->pcfg.num_slots + B - 1) / B;
    c->num_blocks = x->nrow + 2;
    c->num_kv_heads = H;
    c->head_dim = D;
    c->dtype = formats[x->fmt].dtype;
    int64_t R = formats[x->fmt].halves ? D / 2 : D;
    c->stride_head = R;
    c->stride_slot = H * R;
    c->stride_block = B * H * R;
    c->pool_elems = c->num_blocks * c->stride_block;
    c->k = calloc((size_t)c->pool_elems, (size_t)formats[x->fmt].unit_bytes);
    c->v = calloc((size_t)c->pool_elems, (size_t)formats[x->fmt].unit_bytes);
    kva_kv_scales *s = &c->scales;
    s->kind = formats[x->fmt].kind;
    s->k_tensor = s->v_tensor = s->kind == KVA_SCALE_GROUP ? NVFP4_GLOBAL : 1.0f;
    if (s->kind == KVA_SCALE_TOKEN || s->kind == KVA_SCALE_GROUP) {
        int64_t per = s->kind == KVA_SCALE_TOKEN ? 1 : D / 16;
        size_t ub = s->kind == KVA_SCALE_TOKEN ? sizeof(float) : 1;
        s->stride_head = per;
        s->stride_slot = H * per;
        s->stride_block = B * H * per;
        s->pool_units = c->num_blocks * s->stride_block;
        s->k_pool = calloc((size_t)s->pool_units, ub);
        s->v_pool = calloc((size_t)s->pool_units, ub);
        if (!s->k_pool || !s->v_pool)
            return -1;
    }
    x->row = malloc(sizeof(int) * (size_t)c->num_blocks);
    if (!c->k || !c->v || !x->row)
        return -1;
    for (int b = 0; b < c->num_blocks; b++)
        x->row[b] = b;
    gsl_ran_shuffle(x->rng, x->row, (size_t)c->num_blocks, sizeof(int));
    return 0;
}

static int pa_setup(pa_run *x, const kvc_policy_attn_impl *impl,
                    uint64_t seed, kvc_policy_attn_result *r)
{
    memset(x, 0, sizeof *x);
    x->impl = impl;
    kvc_policy_draw_config(seed, &x->pcfg);
    r->policy.kind = x->pcfg.kind;
    x->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!x->rng)
        return -1;
    gsl_rng_set(x->rng, (unsigned long)(seed * 2654435761u + 17));
    pa_draw(x, seed);
    r->dtype = formats[x->fmt].dtype;
    const int H = x->pcfg.num_kv_heads, L = x->pcfg.num_slots,
              Hq = x->prm.num_q_heads, D = x->prm.head_dim;
    size_t ns = (size_t)H * (size_t)L, bytes = impl->policy.bytes(&x->pcfg);
    x->model = kvc_policy_model_new(&x->pcfg);
    x->state = bytes ? aligned_alloc(8, (bytes + 7) / 8 * 8) : NULL;
    x->pos = malloc(sizeof(int64_t) * ns);
    x->score = malloc(sizeof(float) * ns);
    x->w = malloc(sizeof(float) * ns);
    x->slots = malloc(sizeof(int) * MAX_APPEND * (size_t)H);
    x->phys = malloc(sizeof(int64_t) * MAX_APPEND * (size_t)H);
    x->qpos = malloc(sizeof(int64_t) * MAX_APPEND);
    x->out = malloc(sizeof(float) * MAX_APPEND * (size_t)Hq * (size_t)D);
    x->lse = malloc(sizeof(float) * MAX_APPEND * (size_t)Hq);
    if (!x->model || !x->state || !x->pos || !x->score || !x->w || !x->slots ||
        !x->phys || !x->qpos || !x->out || !x->lse || pa_cache(x) != 0)
        return -1;
    kva_error e;
    if (impl->policy.init(x->state, bytes, &x->pcfg, &e) != KVA_OK) {
        snprintf(r->policy.message, sizeof r->policy.message,
                 "kva_policy_init: %s", e.msg);
        return 0;
    }
    return 1;
}

/* Room for n more tokens, and their random q, k, v. */
static int pa_values(pa_run *x, int n)
{
    const int Hq = x->prm.num_q_heads, H = x->prm.num_kv_heads, D = x->prm.head_dim;
    if (x->T + n > x->cap) {
        int64_t cap = (x->T + n) * 2;
        float *q = realloc(x->q, sizeof(float) * (size_t)(cap * Hq * D));
        if (q)
            x->q = q;
        float *k = realloc(x->k, sizeof(float) * (size_t)(cap * H * D));
        if (k)
            x->k = k;
        float *v = realloc(x->v, sizeof(float) * (size_t)(cap * H * D));
        if (v)
            x->v = v;
        if (!q || !k || !v)
            return -1;
        x->cap = cap;
    }
    for (int64_t i = x->T * Hq * D; i < (x->T + n) * Hq * D; i++)
        x->q[i] = (float)gsl_ran_gaussian(x->rng, 1.0);
    for (int64_t i = x->T * H * D; i < (x->T + n) * H * D; i++) {
        x->k[i] = (float)gsl_ran_gaussian(x->rng, 1.0);
        x->v[i] = (float)gsl_ran_gaussian(x->rng, 1.0);
    }
    return 0;
}

/* The oracle's problem for KV head h of the step that appended n tokens
 * after T0: the group's queries, every token's K/V of head h, and as
 * custom mask the positions the policy keeps in head h. */
static int head_problem(const pa_run *x, int h, int64_t T0, int n,
                        kvc_problem *p)
{
    const int Hq = x->prm.num_q_heads, H = x->prm.num_kv_heads,
              D = x->prm.head_dim, G = Hq / H, L = x->pcfg.num_slots;
    kvc_config cfg = {G, 1, D, x->prm.scale, x->prm.softcap, x->prm.causal,
                      x->prm.window_left < 0 ? KVC_NO_WINDOW : x->prm.window_left};
    int ctx = (int)T0, ql = n;
    if (kvc_problem_alloc(p, &cfg, 1, &ctx, &ql, 0, 1) != 0)
        return -1;
    const int64_t kv = T0 + n;
    for (int i = 0; i < n; i++)
        memcpy(p->q + (int64_t)i * G * D, x->q + ((T0 + i) * Hq + h * G) * D,
               sizeof(float) * (size_t)(G * D));
    for (int64_t j = 0; j < kv; j++) {
        memcpy(p->k + j * D, x->k + (j * H + h) * D, sizeof(float) * (size_t)D);
        memcpy(p->v + j * D, x->v + (j * H + h) * D, sizeof(float) * (size_t)D);
    }
    memset(p->mask, 0, (size_t)(n * kv));
    for (int s = 0; s < L; s++) {
        int64_t q = x->pos[(int64_t)h * L + s];
        for (int i = 0; q >= 0 && i < n; i++)
            p->mask[i * kv + q] = 1;
    }
    if (formats[x->fmt].dtype != KVA_DTYPE_F32) {
        if (kvc_problem_set_quant(p, (kvc_kv_dtype)formats[x->fmt].dtype,
                                  (kvc_scale_kind)formats[x->fmt].kind) != 0)
            return -1;
        if (formats[x->fmt].kind == KVA_SCALE_GROUP)
            p->quant.k_scale = p->quant.v_scale = NVFP4_GLOBAL;
    }
    return 0;
}

/* The kernel's weights of head h's slots against the oracle's per-key
 * weights; returns the worst ratio, or -1 (why) for an occupied slot
 * beyond its allowance or an empty one with a weight. */
static double judge_weights(const pa_run *x, int h, const double *w,
                            const double *allow, char *why, size_t len)
{
    const int L = x->pcfg.num_slots;
    double worst = 0.0;
    for (int s = 0; s < L; s++) {
        float got = x->w[(int64_t)h * L + s];
        int64_t q = x->pos[(int64_t)h * L + s];
        double want = q >= 0 ? w[q] : 0.0, tol = q >= 0 ? allow[q] : 0.0;
        double ratio = fabs((double)got - want) / (tol > 0 ? tol : 1e-300);
        if (!(ratio <= 1.0) && !(got == want)) {
            snprintf(why, len, "head %d slot %d (position %" PRId64
                     "): weight %.9g, the oracle %.9g (allowed %.3g)", h, s,
                     q, (double)got, want, tol);
            return -1.0;
        }
        if (got != want && ratio > worst)
            worst = ratio;
    }
    return worst;
}

/* Judge head h of the step: out and lse of its query rows, its weights. */
static int judge_head(pa_run *x, int h, int64_t T0, int n,
                      kvc_policy_attn_result *r)
{
    const int Hq = x->prm.num_q_heads, D = x->prm.head_dim,
              G = Hq / x->prm.num_kv_heads;
    char *why = r->policy.message;
    size_t len = sizeof r->policy.message;
    kvc_problem p;
    kvc_kv_store st;
    kvc_reference ref;
    memset(&st, 0, sizeof st);
    memset(&ref, 0, sizeof ref);
    float *o = malloc(sizeof(float) * (size_t)(n * G * D));
    float *l = malloc(sizeof(float) * (size_t)(n * G));
    double *w = malloc(sizeof(double) * (size_t)(T0 + n));
    double *allow = malloc(sizeof(double) * (size_t)(T0 + n));
    int ok = -1;
    if (!o || !l || !w || !allow || head_problem(x, h, T0, n, &p) != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        memcpy(o + (int64_t)i * G * D, x->out + ((int64_t)i * Hq + h * G) * D,
               sizeof(float) * (size_t)(G * D));
        memcpy(l + (int64_t)i * G, x->lse + (int64_t)i * Hq + h * G,
               sizeof(float) * (size_t)G);
    }
    kvc_verdict v;
    char err[256];
    if (kvc_kv_store_compute(&p, &st, err, sizeof err) != 0 ||
        kvc_judge_outputs_ref(&p, &st, NULL, o, l, &v, &ref, err, sizeof err) < 0) {
        snprintf(why, len, "oracle: %s", err);
        goto free_problem;
    }
    ok = v.pass;
    if (!v.pass)
        snprintf(why, len, "KV head %d: %s", h, v.detail);
    if (v.ratio > r->worst_ratio)
        r->worst_ratio = v.ratio;
    if (ok && kvc_key_weights(&p, &st, &ref, 0, w, allow) == 0) {
        double wr = judge_weights(x, h, w, allow, why, len);
        ok = wr >= 0;
        if (wr > r->worst_weight_ratio)
            r->worst_weight_ratio = wr;
    }
free_problem:
    kvc_reference_free(&ref);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
out:
    free(o);
    free(l);
    free(w);
    free(allow);
    return ok;
}

/* Write the n new tokens head by head and attend; 1, 0 (why) or -1. */
static int attend(pa_run *x, int64_t T0, int n, kvc_policy_attn_result *r)
{
    const int H = x->prm.num_kv_heads, B = x->cache.block_size,
              Hq = x->prm.num_q_heads, D = x->prm.head_dim;
    kva_error e;
    for (int64_t t = 0; t < (int64_t)n * H; t++) {
        int s = x->slots[t];
        x->phys[t] = s < 0 ? -1 : (int64_t)x->row[s / B] * B + s % B;
    }
    if (x->impl->write_heads(&x->cache, x->k + T0 * H * D, x->v + T0 * H * D,
                             x->phys, n, &e) != KVA_OK) {
        snprintf(r->policy.message, sizeof r->policy.message,
                 "kva_cache_write_heads refused a valid write: %s", e.msg);
        return 0;
    }
    for (int i = 0; i < n; i++)
        x->qpos[i] = T0 + i;
    if (x->impl->attention(&x->prm, &x->cache, x->row, x->nrow, x->state,
                           x->q + T0 * Hq * D, x->qpos, n, x->out, x->lse,
                           x->w, &e) != KVA_OK) {
        snprintf(r->policy.message, sizeof r->policy.message,
                 "kva_policy_attention refused a valid call: %s", e.msg);
        return 0;
    }
    r->attended_rows += (int64_t)n * Hq;
    for (int h = 0; h < H; h++) {
        int ok = judge_head(x, h, T0, n, r);
        if (ok != 1)
            return ok;
    }
    return 1;
}

/* One step: append (judged by the model), attend (judged by the oracle),
 * and for H2O observe the judged weights. */
static int pa_step(pa_run *x, int64_t step, uint64_t seed,
                   kvc_policy_attn_result *r)
{
    kvc_policy_op op = {KVC_POLICY_APPEND, 0, x->w};
    if (kvc_policy_draw_op(seed, (uint64_t)step, &x->pcfg,
                           kvc_policy_model_positions(x->model), &op) != 0)
        return -1;
    int n = op.kind == KVC_POLICY_OBSERVE ? 1 : op.n; /* observing follows attention here */
    if (n > 0 && pa_values(x, n) != 0)
        return -1;
    kva_error e;
    char *why = r->policy.message;
    size_t len = sizeof r->policy.message;
    int64_t T0 = x->T, near[2] = {0, 0};
    kva_status st = x->impl->policy.append(x->state, n, x->slots, &e);
    r->policy.appends++;
    r->policy.refused += st != KVA_OK;
    if (x->impl->policy.slots(x->state, x->pos, x->score, &e) != KVA_OK)
        return snprintf(why, len, "kva_policy_slots: %s", e.msg), 0;
    if (!kvc_policy_model_append(x->model, n, st, x->slots, x->pos, near, why, len) ||
        !kvc_policy_model_compare(x->model, x->pos, x->score, why, len))
        return 0;
    r->policy.near_ties += near[0];
    r->policy.followed += near[1];
    if (st != KVA_OK || n <= 0)
        return 1;
    x->T += n;
    int ok = attend(x, T0, n, r);
    if (ok != 1 || x->pcfg.kind != KVA_POLICY_H2O)
        return ok;
    st = x->impl->policy.observe(x->state, x->w, &e);
    r->policy.observes++;
    if (!kvc_policy_model_observe(x->model, x->w, st, why, len))
        return 0;
    if (x->impl->policy.slots(x->state, x->pos, x->score, &e) != KVA_OK)
        return snprintf(why, len, "kva_policy_slots: %s", e.msg), 0;
    return kvc_policy_model_compare(x->model, x->pos, x->score, why, len);
}

int kvc_policy_attn_check(const kvc_policy_attn_impl *impl, uint64_t seed,
                          int64_t num_steps, kvc_policy_attn_result *r)
{
    memset(r, 0, sizeof *r);
    r->policy.failed_step = -1;
    pa_run x;
    int ok = pa_setup(&x, impl, seed, r);
    if (ok < 0)
        snprintf(r->policy.message, sizeof r->policy.message, "out of memory");
    for (int64_t i = 0; ok == 1 && i < num_steps; i++) {
        r->policy.steps++;
        ok = pa_step(&x, i, seed, r);
        if (ok == 0) {
            char what[sizeof r->policy.message];
            memcpy(what, r->policy.message, sizeof what);
            snprintf(r->policy.message, sizeof r->policy.message,
                     "step %" PRId64 ": %.400s", i, what);
            r->policy.failed_step = i;
        } else if (ok < 0) {
            snprintf(r->policy.message, sizeof r->policy.message, "out of memory");
        }
    }
    pa_release(&x);
    r->policy.passed = ok == 1;
    return ok < 0 ? -1 : r->policy.passed;
}
