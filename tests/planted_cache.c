/* planted_cache.c — managers and policies around libkvattn's
 * (planted_cache.h). */
#include "planted_cache.h"

#include <stdlib.h>
#include <string.h>

/* The wrappers' header, in front of the real state. */
#define HEAD 512
#define MAX_FREED 100
typedef struct head {
    kva_bm_config bm;
    kva_policy_config pol;
    int nfreed;
    int freed[MAX_FREED];
} head;
_Static_assert(sizeof(head) <= HEAD, "the wrappers' header fits");

static head *H(void *s) { return s; }
static const head *CH(const void *s) { return s; }
static void *real(void *s) { return (char *)s + HEAD; }
static const void *real_c(const void *s) { return (const char *)s + HEAD; }

/* ---- the manager ------------------------------------------------------------- */

static size_t w_bytes(const kva_bm_config *c)
{
    size_t b = kva_bm_bytes(c);
    return b ? b + HEAD : 0;
}

static kva_status w_init(void *s, size_t bytes, const kva_bm_config *c, kva_error *e)
{
    memset(s, 0, HEAD);
    H(s)->bm = *c;
    return kva_bm_init(real(s), bytes - HEAD, c, e);
}

static kva_status w_append(void *s, int q, const int32_t *t, int n, int64_t *slots,
                           kva_bm_copy *cp, int *nc, kva_error *e)
{
    return kva_bm_append(real(s), q, t, n, slots, cp, nc, e);
}

static kva_status w_fork(void *s, int p, int c, kva_error *e)
{
    return kva_bm_fork(real(s), p, c, e);
}

static kva_status w_rollback(void *s, int q, int n, kva_error *e)
{
    return kva_bm_rollback(real(s), q, n, e);
}

static kva_status w_free(void *s, int q, kva_error *e)
{
    return kva_bm_free(real(s), q, e);
}

static kva_status w_seq(const void *s, int q, int *row, int64_t *n, kva_error *e)
{
    return kva_bm_seq(real_c(s), q, row, n, e);
}

static int w_ref(const void *s, int b) { return kva_bm_ref_count(real_c(s), b); }
static int w_num_free(const void *s) { return kva_bm_num_free(real_c(s)); }

/* renamed: b -> N - 1 - b (its own inverse) */
static int64_t flip(const void *s, int64_t b) { return CH(s)->bm.num_blocks - 1 - b; }

static kva_status r_append(void *s, int q, const int32_t *t, int n, int64_t *slots,
                           kva_bm_copy *cp, int *nc, kva_error *e)
{
    kva_status st = w_append(s, q, t, n, slots, cp, nc, e);
    int B = H(s)->bm.block_size;
    for (int i = 0; st == KVA_OK && i < n; i++)
        if (slots[i] >= 0)
            slots[i] = flip(s, slots[i] / B) * B + slots[i] % B;
    if (st == KVA_OK && *nc) {
        cp->src = (int)flip(s, cp->src);
        cp->dst = (int)flip(s, cp->dst);
    }
    return st;
}

static kva_status r_seq(const void *s, int q, int *row, int64_t *n, kva_error *e)
{
    kva_status st = w_seq(s, q, row, n, e);
    for (int k = 0; st == KVA_OK && k < CH(s)->bm.max_blocks_per_seq; k++)
        if (row[k] >= 0)
            row[k] = (int)flip(s, row[k]);
    return st;
}

static int r_ref(const void *s, int b)
{
    return b < 0 || b >= CH(s)->bm.num_blocks ? -1 : w_ref(s, (int)flip(s, b));
}

const kvc_bm_impl kvc_planted_bm_renamed = {
    "renamed", w_bytes, w_init, r_append, w_fork, w_rollback, w_free, r_seq,
    r_ref, w_num_free};

static kva_status nc_append(void *s, int q, const int32_t *t, int n, int64_t *slots,
                            kva_bm_copy *cp, int *nc, kva_error *e)
{
    kva_status st = w_append(s, q, t, n, slots, cp, nc, e);
    if (st == KVA_OK)
        *nc = 0;
    return st;
}

const kvc_bm_impl kvc_planted_bm_no_copy = {
    "no copy", w_bytes, w_init, nc_append, w_fork, w_rollback, w_free, w_seq,
    w_ref, w_num_free};

/* Sequence q's first row entry, or -1. */
static int first_block(const void *s, int q)
{
    int R = CH(s)->bm.max_blocks_per_seq, *row = malloc(sizeof(int) * (size_t)R);
    int64_t n;
    kva_error e;
    int b = row && kva_bm_seq(real_c(s), q, row, &n, &e) == KVA_OK ? row[0] : -1;
    free(row);
    return b;
}

/* Sequence 1's first block is shown as sequence 0's (when both have one):
 * in its row and in the slots of the tokens an append puts there. */
static kva_status ru_seq(const void *s, int q, int *row, int64_t *n, kva_error *e)
{
    kva_status st = w_seq(s, q, row, n, e);
    int b0 = first_block(s, 0);
    if (st == KVA_OK && q == 1 && b0 >= 0 && row[0] >= 0)
        row[0] = b0;
    return st;
}

static kva_status ru_append(void *s, int q, const int32_t *t, int n, int64_t *slots,
                            kva_bm_copy *cp, int *nc, kva_error *e)
{
    kva_status st = w_append(s, q, t, n, slots, cp, nc, e);
    int b0 = first_block(s, 0), b1 = first_block(s, 1), B = H(s)->bm.block_size;
    for (int i = 0; st == KVA_OK && q == 1 && b0 >= 0 && i < n; i++)
        if (slots[i] >= 0 && slots[i] / B == b1)
            slots[i] = (int64_t)b0 * B + slots[i] % B;
    return st;
}

const kvc_bm_impl kvc_planted_bm_reused = {
    "reused", w_bytes, w_init, ru_append, w_fork, w_rollback, w_free, ru_seq,
    w_ref, w_num_free};

static kva_status fr_free(void *s, int q, kva_error *e)
{
    int R = H(s)->bm.max_blocks_per_seq, *row = malloc(sizeof(int) * (size_t)R);
    int64_t n;
    if (row && w_seq(s, q, row, &n, e) == KVA_OK)
        for (int k = 0; k < R && row[k] >= 0 && H(s)->nfreed < MAX_FREED; k++)
            H(s)->freed[H(s)->nfreed++] = row[k];
    free(row);
    return w_free(s, q, e);
}

static int fr_ref(const void *s, int b)
{
    int r = w_ref(s, b);
    for (int i = 0; r == 0 && i < CH(s)->nfreed; i++)
        if (CH(s)->freed[i] == b)
            return 1;
    return r;
}

const kvc_bm_impl kvc_planted_bm_freed_referenced = {
    "freed referenced", w_bytes, w_init, w_append, w_fork, w_rollback, fr_free,
    w_seq, fr_ref, w_num_free};

static int off_ref(const void *s, int b)
{
    int r = w_ref(s, b);
    return r >= 2 ? r + 1 : r;
}

const kvc_bm_impl kvc_planted_bm_ref_off = {
    "ref off", w_bytes, w_init, w_append, w_fork, w_rollback, w_free, w_seq,
    off_ref, w_num_free};

static kva_status ws_rollback(void *s, int q, int n, kva_error *e)
{
    kva_status st = w_rollback(s, q, n, e);
    return st == KVA_ERR_LENGTH ? KVA_ERR_PARAM : st;
}

const kvc_bm_impl kvc_planted_bm_wrong_status = {
    "wrong status", w_bytes, w_init, w_append, w_fork, ws_rollback, w_free,
    w_seq, w_ref, w_num_free};

/* ---- the policies --------------------------------------------------------------- */

static size_t p_bytes(const kva_policy_config *c)
{
    size_t b = kva_policy_bytes(c);
    return b ? b + HEAD : 0;
}

/* sink_overwritten: the real policy set up without its sinks */
static kva_status so_init(void *s, size_t bytes, const kva_policy_config *c,
                          kva_error *e)
{
    memset(s, 0, HEAD);
    H(s)->pol = *c;
    kva_policy_config c2 = *c;
    c2.sinks = 0;
    return kva_policy_init(real(s), bytes - HEAD, &c2, e);
}

static kva_status p_init(void *s, size_t bytes, const kva_policy_config *c,
                         kva_error *e)
{
    memset(s, 0, HEAD);
    H(s)->pol = *c;
    return kva_policy_init(real(s), bytes - HEAD, c, e);
}

static kva_status p_append(void *s, int n, int *slots, kva_error *e)
{
    return kva_policy_append(real(s), n, slots, e);
}

static kva_status p_observe(void *s, const float *w, kva_error *e)
{
    return kva_policy_observe(real(s), w, e);
}

static kva_status p_slots(const void *s, int64_t *pos, float *sc, kva_error *e)
{
    return kva_policy_slots(real_c(s), pos, sc, e);
}

const kvc_policy_impl kvc_planted_policy_sink_overwritten = {
    "sink overwritten", p_bytes, so_init, p_append, p_observe, p_slots};

/* wrong_head: head h gets head (h + 1) % Hkv's weights */
static kva_status wh_observe(void *s, const float *w, kva_error *e)
{
    int Hk = H(s)->pol.num_kv_heads, L = H(s)->pol.num_slots;
    float *rot = malloc(sizeof(float) * (size_t)Hk * (size_t)L);
    if (!rot)
        return KVA_ERR_NOMEM;
    for (int h = 0; h < Hk; h++)
        memcpy(rot + (size_t)h * (size_t)L, w + (size_t)((h + 1) % Hk) * (size_t)L,
               sizeof(float) * (size_t)L);
    kva_status st = p_observe(s, rot, e);
    free(rot);
    return st;
}

const kvc_policy_impl kvc_planted_policy_wrong_head = {
    "wrong head", p_bytes, p_init, p_append, wh_observe, p_slots};
