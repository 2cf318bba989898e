/*
 * kv_policy.c — eviction policies of a bounded per-sequence cache
 * (kvattn.h, "Eviction policies"): dense, last-recent with attention sinks,
 * and heavy hitters (H2O) with a kept window of recent tokens.
 *
 * State: a header and two arrays per KV head, positions (int64, -1 empty)
 * and scores (fp32), in one caller-owned pointer-free buffer. Only DENSE
 * can run out of room, and it is checked before anything changes.
 */
#include "kva_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#define PC_MAGIC 0x6b76615f706f6c31ULL /* "kva_pol1" */

typedef struct pc_header {
    uint64_t magic;
    kva_policy_config cfg;
    int64_t next_pos; /* tokens appended so far */
    uint64_t bytes;
} pc_header;

typedef struct pc_view {
    pc_header *h;
    int64_t *pos; /* [Hkv][L] */
    float *score; /* [Hkv][L] */
} pc_view;

static int pcfg_ok(const kva_policy_config *c)
{
    if (c->num_slots < 1 || c->num_kv_heads < 1 || c->sinks < 0 ||
        c->recent < 0)
        return 0;
    switch (c->kind) {
    case KVA_POLICY_DENSE: return c->sinks == 0 && c->recent == 0;
    case KVA_POLICY_RECENT: return c->sinks < c->num_slots && c->recent == 0;
    case KVA_POLICY_H2O: return c->recent < c->num_slots && c->sinks == 0;
    }
    return 0;
}

/* Bytes for cfg, 0 on overflow. */
static size_t pc_bytes(const kva_policy_config *c)
{
    int64_t n;
    if (!kva_mul_nonneg(c->num_kv_heads, c->num_slots, &n) ||
        n > (int64_t)((SIZE_MAX - sizeof(pc_header)) / 16))
        return 0;
    return sizeof(pc_header) + (size_t)n * (sizeof(int64_t) + sizeof(float));
}

size_t kva_policy_bytes(const kva_policy_config *cfg)
{
    return cfg && pcfg_ok(cfg) ? pc_bytes(cfg) : 0;
}

static void pc_view_of(void *mem, pc_view *v)
{
    v->h = mem;
    int64_t n = (int64_t)v->h->cfg.num_kv_heads * v->h->cfg.num_slots;
    v->pos = (int64_t *)(void *)((char *)mem + sizeof(pc_header));
    v->score = (float *)(void *)(v->pos + n);
}

static kva_status pc_open(const void *mem, pc_view *v, kva_error *err)
{
    if (mem == NULL)
        return kva_fail(err, KVA_ERR_NULL, "policy state is NULL");
    const pc_header *h = mem;
    if ((uintptr_t)mem % _Alignof(int64_t) != 0 || h->magic != PC_MAGIC ||
        !pcfg_ok(&h->cfg) || pc_bytes(&h->cfg) != h->bytes || h->next_pos < 0)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "policy state was not set up by kva_policy_init "
                        "(or was overwritten)");
    pc_view_of((void *)(uintptr_t)mem, v);
    return KVA_OK;
}

kva_status kva_policy_init(void *mem, size_t bytes,
                           const kva_policy_config *cfg, kva_error *err)
{
    kva_clear_error(err);
    if (mem == NULL || cfg == NULL)
        return kva_fail(err, KVA_ERR_NULL, "%s is NULL",
                        mem == NULL ? "mem" : "cfg");
    if (!pcfg_ok(cfg))
        return kva_fail(err, KVA_ERR_SHAPE,
                        "policy kind %d, num_slots %d, num_kv_heads %d, sinks "
                        "%d, recent %d: slots and heads must be >= 1, sinks "
                        "(RECENT only) and recent (H2O only) in [0, num_slots)",
                        (int)cfg->kind, cfg->num_slots, cfg->num_kv_heads,
                        cfg->sinks, cfg->recent);
    size_t need = pc_bytes(cfg);
    if (need == 0)
        return kva_fail(err, KVA_ERR_SHAPE, "policy sizes overflow");
    if (bytes < need || (uintptr_t)mem % _Alignof(int64_t) != 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "state of %zu bytes at %p: needs %zu bytes aligned "
                        "to %zu", bytes, mem, need, (size_t)_Alignof(int64_t));
    memset(mem, 0, need);
    pc_view v;
    pc_view_of(mem, &v);
    v.h->magic = PC_MAGIC;
    v.h->cfg = *cfg;
    v.h->bytes = need;
    int64_t n = (int64_t)cfg->num_kv_heads * cfg->num_slots;
    for (int64_t i = 0; i < n; i++)
        v.pos[i] = -1;
    return KVA_OK;
}

/* The H2O victim among head h's slots for a token at position p: lowest
 * score among positions < p - recent, the oldest on equal scores. */
static int h2o_victim(const pc_view *v, int h, int64_t p)
{
    int L = v->h->cfg.num_slots, best = -1;
    const int64_t *pos = v->pos + (int64_t)h * L;
    /* KVA_MUT(43): ranked by the next KV head's scores */
    const float *sc = v->score +
                      (int64_t)(KVA_MUT(43) ? (h + 1) % v->h->cfg.num_kv_heads : h) * L;
    for (int j = 0; j < L; j++) {
        /* KVA_MUT(45): the kept window one token short */
        if (pos[j] >= p - v->h->cfg.recent + KVA_MUT(45))
            continue;
        if (best < 0 || sc[j] < sc[best] ||
            (sc[j] == sc[best] && pos[j] < pos[best]))
            best = j;
    }
    return best;
}

/* The slot of the token at position p in head h. */
static int place(const pc_view *v, int h, int64_t p)
{
    const kva_policy_config *c = &v->h->cfg;
    switch (c->kind) {
    case KVA_POLICY_RECENT:
        /* KVA_MUT(42): the ring runs over the sinks' slots too */
        return p < c->sinks ? (int)p
               : KVA_MUT(42) ? (int)(p % c->num_slots)
                             : c->sinks + (int)((p - c->sinks) % (c->num_slots - c->sinks));
    case KVA_POLICY_H2O:
        return p < c->num_slots ? (int)p : h2o_victim(v, h, p);
    default:
        return (int)p;
    }
}

kva_status kva_policy_append(void *pc, int num_tokens, int *slots,
                             kva_error *err)
{
    kva_clear_error(err);
    pc_view v;
    kva_status st = pc_open(pc, &v, err);
    if (st != KVA_OK)
        return st;
    if (num_tokens > 0 && slots == NULL)
        return kva_fail(err, KVA_ERR_NULL, "slots is NULL");
    if (num_tokens < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_tokens %d is negative",
                        num_tokens);
    const kva_policy_config *c = &v.h->cfg;
    int64_t p0 = v.h->next_pos;
    if (c->kind == KVA_POLICY_DENSE && p0 + num_tokens > c->num_slots)
        return kva_fail(err, KVA_ERR_FULL,
                        "dense policy cache of %d slots holds %" PRId64
                        " tokens: %d more do not fit", c->num_slots, p0,
                        num_tokens);
    const int H = c->num_kv_heads, L = c->num_slots;
    for (int i = 0; i < num_tokens; i++) {
        int64_t p = p0 + i;
        for (int h = 0; h < H; h++) {
            int j = place(&v, h, p);
            int64_t *pos = v.pos + (int64_t)h * L;
            if (pos[j] >= p0) /* a token of this append: never stored */
                slots[(pos[j] - p0) * H + h] = -1;
            pos[j] = p;
            if (!KVA_MUT(44)) /* KVA_MUT(44): a reused slot keeps its score */
                v.score[(int64_t)h * L + j] = 0.0f;
            slots[(int64_t)i * H + h] = j;
        }
    }
    v.h->next_pos = p0 + num_tokens;
    return KVA_OK;
}

kva_status kva_policy_observe(void *pc, const float *weights, kva_error *err)
{
    kva_clear_error(err);
    pc_view v;
    kva_status st = pc_open(pc, &v, err);
    if (st != KVA_OK)
        return st;
    if (weights == NULL)
        return kva_fail(err, KVA_ERR_NULL, "weights is NULL");
    int64_t n = (int64_t)v.h->cfg.num_kv_heads * v.h->cfg.num_slots;
    for (int64_t i = 0; i < n; i++)
        if (!(weights[i] >= 0.0f) || !isfinite(weights[i]))
            return kva_fail(err, KVA_ERR_PARAM,
                            "weight [%" PRId64 "][%" PRId64 "] = %g must be "
                            "finite and >= 0", i / v.h->cfg.num_slots,
                            i % v.h->cfg.num_slots, (double)weights[i]);
    if (v.h->cfg.kind != KVA_POLICY_H2O)
        return KVA_OK;
    for (int64_t i = 0; i < n; i++)
        if (v.pos[i] >= 0)
            v.score[i] += weights[i];
    return KVA_OK;
}

kva_status kva_policy_slots(const void *pc, int64_t *positions, float *scores,
                            kva_error *err)
{
    kva_clear_error(err);
    pc_view v;
    kva_status st = pc_open(pc, &v, err);
    if (st != KVA_OK)
        return st;
    if (positions == NULL)
        return kva_fail(err, KVA_ERR_NULL, "positions is NULL");
    int64_t n = (int64_t)v.h->cfg.num_kv_heads * v.h->cfg.num_slots;
    memcpy(positions, v.pos, sizeof(int64_t) * (size_t)n);
    if (scores)
        memcpy(scores, v.score, sizeof(float) * (size_t)n);
    return KVA_OK;
}

kva_status kva_policy_view(const void *pc, int *num_slots, int *num_kv_heads,
                           const int64_t **positions, kva_error *err)
{
    pc_view v;
    kva_status st = pc_open(pc, &v, err);
    if (st != KVA_OK)
        return st;
    *num_slots = v.h->cfg.num_slots;
    *num_kv_heads = v.h->cfg.num_kv_heads;
    *positions = v.pos;
    return KVA_OK;
}
