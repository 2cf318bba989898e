/*
 * shrink.c — kvc_shrink: greedy delta debugging over a case spec (see
 * shrink.h for the reductions and their order).
 *
 * The search walks a fixed list of reduction groups. A group turns the
 * current spec into a short list of candidates, smallest first; the first
 * candidate that builds and still fails replaces the current spec and the
 * same group is tried again on it, otherwise the next group is tried. A
 * pass over every group that keeps nothing is a fixed point of single
 * reductions; then pairs of moves are tried (pair_pass), and a kept pair
 * starts the single reductions again.
 *
 * Termination: order specs by (size, canonical) lexicographically, where
 * size sums num_seqs, lengths, head counts, D, B, pad/extra/stride,
 * cache_len, num_kv_blocks and qeff_max_q, and canonical counts the 0/1
 * "not canonical" flags (table, hnd, mask, leak, window, softcap, left pad,
 * values, bidirectional, non-default scale, format edges, scale family,
 * a cache format other than f32). A single reduction lowers one
 * of the two sums and raises neither; the lateral pair (values kind, then a
 * size reduction) lowers size. Every kept move goes down a well-founded
 * order.
 */
#include "shrink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Enough for the longest group: a length ladder (<= 2 + 31 entries) or one
 * candidate per sequence. */
#define MAX_CANDS 40

/* Reduction groups, in order. Per-sequence groups take KVC_MAX_SEQS slots. */
enum {
    G_KEEP_ONLY = 0,                   /* one group: keep only sequence s */
    G_DROP,                            /* + s: drop sequence s */
    G_PAD = G_DROP + KVC_MAX_SEQS,
    G_HEADS,
    G_Q,                               /* + s */
    G_CTX = G_Q + KVC_MAX_SEQS,        /* + s */
    G_HEAD_DIM = G_CTX + KVC_MAX_SEQS,
    G_BLOCK_SIZE,
    G_EXTRA_BLOCKS,
    G_STRIDE_PAD,
    G_LARGE_OFFSETS,
    G_TABLE,
    G_HND,
    G_MASK,
    G_LEAK,
    G_WINDOW,
    G_SOFTCAP,
    G_CACHE_LEN,
    G_NUM_KV_BLOCKS,
    G_QEFF_MAX_Q,
    G_QEFF_LEFT_PAD,
    G_VALUES,
    G_CAUSAL,
    G_SCALE,
    G_FORMAT_EDGES,
    G_SCALE_FAMILY,
    G_KV_FORMAT,
    G_COUNT
};

typedef struct cand_list {
    kvc_case_spec spec[MAX_CANDS];
    int n;
} cand_list;

/* A copy of cur to modify; NULL when the list is full. */
static kvc_case_spec *cand_new(cand_list *L, const kvc_case_spec *cur)
{
    if (L->n >= MAX_CANDS)
        return NULL;
    kvc_case_spec *c = &L->spec[L->n];
    memcpy(c, cur, sizeof *c);
    return c;
}

/* Keep the candidate just written by cand_new unless it equals cur or an
 * earlier candidate of the list. */
static void cand_commit(cand_list *L, const kvc_case_spec *cur)
{
    const kvc_case_spec *c = &L->spec[L->n];
    if (memcmp(c, cur, sizeof *c) == 0)
        return;
    for (int i = 0; i < L->n; i++)
        if (memcmp(c, &L->spec[i], sizeof *c) == 0)
            return;
    L->n++;
}

/* Values below x to try, smallest first: target, then x/2, x - x/4,
 * x - x/8, ..., x - 1; only those in [lo, x). Returns the count. */
static int ladder(int x, int target, int lo, int *v, int max)
{
    int n = 0;
    int cand[2 + 32];
    int m = 0;
    cand[m++] = target;
    for (int k = 1; k < 31 && (x >> k) > 0; k++)
        cand[m++] = k == 1 ? x / 2 : x - (x >> k);
    cand[m++] = x - 1;
    for (int i = 0; i < m && n < max; i++) {
        int c = cand[i];
        if (c >= x || c < lo)
            continue;
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= v[j] == c;
        if (!dup)
            v[n++] = c;
    }
    return n;
}

static int paged_like(const kvc_case_spec *s)
{
    return s->mode == KVC_MODE_PAGED || s->mode == KVC_MODE_QEFF;
}

static int max_kv_len(const kvc_case_spec *s)
{
    int m = 0;
    for (int i = 0; i < s->num_seqs && i < KVC_MAX_SEQS; i++)
        if (s->ctx_len[i] + s->q_len[i] > m)
            m = s->ctx_len[i] + s->q_len[i];
    return m;
}

static int max_q_len(const kvc_case_spec *s)
{
    int m = 0;
    for (int i = 0; i < s->num_seqs && i < KVC_MAX_SEQS; i++)
        if (s->q_len[i] > m)
            m = s->q_len[i];
    return m;
}

/* Remove sequence i, shifting the later ones down; the freed slot is 0. */
static void remove_seq(kvc_case_spec *s, int i)
{
    for (int j = i; j + 1 < s->num_seqs; j++) {
        s->ctx_len[j] = s->ctx_len[j + 1];
        s->q_len[j] = s->q_len[j + 1];
    }
    s->num_seqs--;
    s->ctx_len[s->num_seqs] = 0;
    s->q_len[s->num_seqs] = 0;
}

/* QEfficient shape rules kvc_spec_draw follows: a row without tokens has no
 * context, and a write stays inside one block. */
static void qeff_repair(kvc_case_spec *s, int i)
{
    if (s->mode != KVC_MODE_QEFF)
        return;
    if (s->q_len[i] == 0) {
        s->ctx_len[i] = 0;
        return;
    }
    if (s->block_size >= 1) {
        int room = s->block_size - s->ctx_len[i] % s->block_size;
        if (s->q_len[i] > room)
            s->q_len[i] = room;
    }
}

static void set_heads(cand_list *L, const kvc_case_spec *cur, int hq, int hkv)
{
    if (hq < 1 || hkv < 1 || hq % hkv != 0 || hq > cur->cfg.num_q_heads ||
        hkv > cur->cfg.num_kv_heads)
        return;
    kvc_case_spec *c = cand_new(L, cur);
    if (!c)
        return;
    c->cfg.num_q_heads = hq;
    c->cfg.num_kv_heads = hkv;
    cand_commit(L, cur);
}

/* The candidates of group g for the current spec (possibly none). */
static void group_candidates(const kvc_case_spec *cur, int g, cand_list *L)
{
    L->n = 0;
    const kvc_config *k = &cur->cfg;
    int S = cur->num_seqs;
    int v[MAX_CANDS], n;
    kvc_case_spec *c;

    if (g == G_KEEP_ONLY) {
        if (S <= 1)
            return;
        for (int s = 0; s < S && s < KVC_MAX_SEQS; s++) {
            if (!(c = cand_new(L, cur)))
                return;
            int ctx = cur->ctx_len[s], q = cur->q_len[s];
            memset(c->ctx_len, 0, sizeof c->ctx_len);
            memset(c->q_len, 0, sizeof c->q_len);
            c->num_seqs = 1;
            c->ctx_len[0] = ctx;
            c->q_len[0] = q;
            cand_commit(L, cur);
        }
        return;
    }
    if (g >= G_DROP && g < G_DROP + KVC_MAX_SEQS) {
        int s = g - G_DROP;
        if (s >= S || !(c = cand_new(L, cur)))
            return;
        remove_seq(c, s);
        cand_commit(L, cur);
        return;
    }
    if (g == G_PAD) {
        n = ladder(cur->pad_tokens, 0, 0, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->pad_tokens = v[i];
            cand_commit(L, cur);
        }
        return;
    }
    if (g == G_HEADS) {
        int hq = k->num_q_heads, hkv = k->num_kv_heads;
        if (hq < 1 || hkv < 1 || hq % hkv != 0)
            return;
        int grp = hq / hkv;
        set_heads(L, cur, 1, 1);
        set_heads(L, cur, hq, 1);             /* MQA */
        set_heads(L, cur, hkv, hkv);          /* group 1 */
        if (hkv % 2 == 0)
            set_heads(L, cur, hq / 2, hkv / 2); /* halve Hkv, same group */
        if (grp % 2 == 0)
            set_heads(L, cur, hq / 2, hkv);     /* halve the group */
        if (hkv > 1)
            set_heads(L, cur, (hkv - 1) * grp, hkv - 1);
        if (grp > 1)
            set_heads(L, cur, hq - hkv, hkv);
        return;
    }
    if (g >= G_Q && g < G_Q + KVC_MAX_SEQS) {
        int s = g - G_Q;
        if (s >= S)
            return;
        n = ladder(cur->q_len[s], 1, 0, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->q_len[s] = v[i];
            qeff_repair(c, s);
            cand_commit(L, cur);
        }
        return;
    }
    if (g >= G_CTX && g < G_CTX + KVC_MAX_SEQS) {
        int s = g - G_CTX;
        if (s >= S)
            return;
        n = ladder(cur->ctx_len[s], 0, 0, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->ctx_len[s] = v[i];
            qeff_repair(c, s);
            cand_commit(L, cur);
        }
        return;
    }
    switch (g) {
    case G_HEAD_DIM: {
        int D = k->head_dim;
        int default_scale = D >= 1 && k->scale == 1.0f / sqrtf((float)D);
        /* nvfp4 keeps whole groups of 16: the ladder runs over groups */
        const int unit = cur->kv_dtype == KVC_KV_NVFP4 ? 16 : 1;
        n = ladder(D / unit, 1, 1, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            v[i] *= unit;
            c->cfg.head_dim = v[i];
            if (default_scale)
                c->cfg.scale = 1.0f / sqrtf((float)v[i]);
            cand_commit(L, cur);
        }
        return;
    }
    case G_BLOCK_SIZE: {
        int B = cur->block_size;
        if (!paged_like(cur) || B <= 1)
            return;
        int bs[2] = {1, B / 2};
        for (int i = 0; i < 2 && (c = cand_new(L, cur)); i++) {
            if (bs[i] < 1)
                continue;
            c->block_size = bs[i];
            cand_commit(L, cur);
        }
        return;
    }
    case G_EXTRA_BLOCKS:
        if (!paged_like(cur))
            return;
        n = ladder(cur->extra_blocks, 0, 0, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->extra_blocks = v[i];
            cand_commit(L, cur);
        }
        return;
    case G_STRIDE_PAD:
        if (!paged_like(cur) || !(c = cand_new(L, cur)))
            return;
        c->stride_pad = 0;
        cand_commit(L, cur);
        return;
    case G_LARGE_OFFSETS:
        if (!cur->large_offsets || !(c = cand_new(L, cur)))
            return;
        c->large_offsets = 0;
        cand_commit(L, cur);
        return;
    case G_TABLE:
        if (!paged_like(cur) || !(c = cand_new(L, cur)))
            return;
        c->table = KVC_TABLE_PERMUTED;
        cand_commit(L, cur);
        return;
    case G_HND:
        if (!paged_like(cur) || !(c = cand_new(L, cur)))
            return;
        c->hnd = 0;
        cand_commit(L, cur);
        return;
    case G_MASK:
        if (!(c = cand_new(L, cur)))
            return;
        c->mask = KVC_MASK_NONE;
        cand_commit(L, cur);
        return;
    case G_LEAK:
        if (!(c = cand_new(L, cur)))
            return;
        c->leak_sensitive = 0;
        cand_commit(L, cur);
        return;
    case G_WINDOW:
        if (!(c = cand_new(L, cur)))
            return;
        c->cfg.window_left = KVC_NO_WINDOW;
        cand_commit(L, cur);
        return;
    case G_SOFTCAP:
        if (!(c = cand_new(L, cur)))
            return;
        c->cfg.softcap = 0.0f;
        cand_commit(L, cur);
        return;
    case G_CACHE_LEN: {
        if (cur->mode != KVC_MODE_BLOCKED)
            return;
        int mk = max_kv_len(cur);
        if (mk < 1)
            mk = 1;
        n = ladder(cur->cache_len, mk, mk, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->cache_len = v[i];
            if (c->num_kv_blocks > v[i])
                c->num_kv_blocks = v[i];
            cand_commit(L, cur);
        }
        return;
    }
    case G_NUM_KV_BLOCKS:
        if (cur->mode != KVC_MODE_BLOCKED)
            return;
        n = ladder(cur->num_kv_blocks, 1, 1, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->num_kv_blocks = v[i];
            cand_commit(L, cur);
        }
        return;
    case G_QEFF_MAX_Q: {
        if (cur->mode != KVC_MODE_QEFF)
            return;
        int mq = max_q_len(cur);
        if (mq < 1)
            mq = 1;
        n = ladder(cur->qeff_max_q, mq, mq, v, MAX_CANDS);
        for (int i = 0; i < n && (c = cand_new(L, cur)); i++) {
            c->qeff_max_q = v[i];
            cand_commit(L, cur);
        }
        return;
    }
    case G_QEFF_LEFT_PAD:
        if (cur->mode != KVC_MODE_QEFF || !(c = cand_new(L, cur)))
            return;
        c->qeff_left_pad = 0;
        cand_commit(L, cur);
        return;
    case G_VALUES:
        if (!(c = cand_new(L, cur)))
            return;
        c->values = KVC_VALUES_NORMAL;
        cand_commit(L, cur);
        return;
    case G_CAUSAL:
        if (!(c = cand_new(L, cur)))
            return;
        c->cfg.causal = 1;
        cand_commit(L, cur);
        return;
    case G_SCALE:
        if (k->head_dim < 1 || !(c = cand_new(L, cur)))
            return;
        c->cfg.scale = 1.0f / sqrtf((float)k->head_dim);
        cand_commit(L, cur);
        return;
    case G_FORMAT_EDGES:
        if (!(c = cand_new(L, cur)))
            return;
        c->format_edges = 0;
        cand_commit(L, cur);
        return;
    case G_SCALE_FAMILY:
        if (!(c = cand_new(L, cur)))
            return;
        c->scale_family = KVC_SCALES_CALIBRATED;
        cand_commit(L, cur);
        return;
    case G_KV_FORMAT:
        if (!(c = cand_new(L, cur)))
            return;
        c->kv_dtype = KVC_KV_F32;
        c->kv_scale = KVC_SCALE_NONE;
        c->scale_family = KVC_SCALES_CALIBRATED;
        c->format_edges = 0;
        cand_commit(L, cur);
        return;
    default:
        return;
    }
}

/* The state of one shrink. */
typedef struct shrinker {
    uint64_t value_seed;
    kvc_shrink_predicate still_fails;
    void *ctx;
    int max_attempts;
    kvc_shrink_stats st;
    int out_of_budget;
} shrinker;

/* 1 when s builds and its case still fails; 0 when it does not build (not
 * a valid spec for its mode), passes, or the budget is spent (then
 * z->out_of_budget is set). */
static int try_spec(shrinker *z, const kvc_case_spec *s)
{
    kvc_case c;
    char err[256];
    if (z->out_of_budget)
        return 0;
    if (kvc_case_build(s, z->value_seed, &c, err, sizeof err) != 0)
        return 0;
    if (z->max_attempts > 0 && z->st.attempts >= z->max_attempts) {
        kvc_case_free(&c);
        z->out_of_budget = 1;
        return 0;
    }
    z->st.attempts++;
    int fails = z->still_fails(&c, z->ctx) != 0;
    kvc_case_free(&c);
    return fails;
}

/* Single reductions until none of the current spec still fails (or the
 * budget is spent). Returns 1 when something was kept. */
static int first_order(shrinker *z, kvc_case_spec *cur, cand_list *L)
{
    int any = 0;
    for (;;) {
        int kept_in_pass = 0;
        for (int g = 0; g < G_COUNT && !z->out_of_budget;) {
            group_candidates(cur, g, L);
            int kept = 0;
            for (int i = 0; i < L->n && !kept && !z->out_of_budget; i++) {
                if (try_spec(z, &L->spec[i])) {
                    memcpy(cur, &L->spec[i], sizeof *cur);
                    z->st.accepted++;
                    kept = 1;
                }
            }
            if (!kept)
                g++; /* else the same group again, on the smaller spec */
            kept_in_pass |= kept;
        }
        any |= kept_in_pass;
        if (z->out_of_budget || !kept_in_pass)
            return any;
    }
}

/* Groups that make the case smaller (the primary measure); the others only
 * make it more canonical (table, layout, mask, leak, window, softcap, left
 * pad, values, causality, scale). */
static int size_group(int g)
{
    return g < G_HEAD_DIM + 1 || g == G_BLOCK_SIZE || g == G_EXTRA_BLOCKS ||
           g == G_STRIDE_PAD || g == G_LARGE_OFFSETS || g == G_CACHE_LEN ||
           g == G_NUM_KV_BLOCKS ||
           g == G_QEFF_MAX_Q;
}

/* Try the first PAIR_WIDTH candidates of groups g0.. (only size groups when
 * size_only) applied to *a; keep the first that fails in *cur. */
#define PAIR_WIDTH 3

static int try_second(shrinker *z, const kvc_case_spec *a, int g0,
                      int size_only, kvc_case_spec *cur, cand_list *L)
{
    for (int g = g0; g < G_COUNT && !z->out_of_budget; g++) {
        if (size_only && !size_group(g))
            continue;
        group_candidates(a, g, L);
        for (int i = 0; i < L->n && i < PAIR_WIDTH && !z->out_of_budget; i++)
            if (try_spec(z, &L->spec[i])) {
                memcpy(cur, &L->spec[i], sizeof *cur);
                z->st.accepted++;
                return 1;
            }
    }
    return 0;
}

/*
 * At a fixed point of single reductions, pairs of moves. A rebuilt case
 * draws its values again, so a reduction can pass by chance where the same
 * reduction plus another one fails (and a QEFF block size reduction may
 * need a shorter write first). Tried in order:
 *   1. two reductions from two different groups, the first PAIR_WIDTH
 *      candidates of each;
 *   2. a lateral move, values -> another kind, followed by a reduction of
 *      size (so the pair is still smaller: size first, canonical form
 *      second, which keeps the search finite).
 * Returns 1 when a pair was kept (*cur replaced).
 */
static int pair_pass(shrinker *z, kvc_case_spec *cur, cand_list *L)
{
    typedef struct first { kvc_case_spec spec; int group; } first;
    first *A = malloc(sizeof *A * (size_t)G_COUNT * PAIR_WIDTH);
    cand_list *L2 = malloc(sizeof *L2);
    int na = 0, kept = 0;
    if (!A || !L2)
        goto done; /* out of memory: no pairs, the single fixed point stands */
    for (int g = 0; g < G_COUNT; g++) {
        group_candidates(cur, g, L);
        for (int i = 0; i < L->n && i < PAIR_WIDTH; i++) {
            memcpy(&A[na].spec, &L->spec[i], sizeof A[na].spec);
            A[na++].group = g;
        }
    }
    for (int a = 0; a < na && !kept && !z->out_of_budget; a++)
        kept = try_second(z, &A[a].spec, A[a].group + 1, 0, cur, L2);
    for (int v = 0; v < KVC_VALUES_COUNT && !kept && !z->out_of_budget; v++) {
        if (v == (int)cur->values)
            continue;
        kvc_case_spec lat;
        memcpy(&lat, cur, sizeof lat);
        lat.values = (kvc_values_kind)v;
        kept = try_second(z, &lat, 0, 1, cur, L2);
    }
done:
    free(A);
    free(L2);
    return kept;
}

int kvc_shrink(const kvc_case_spec *start, uint64_t value_seed,
               kvc_shrink_predicate still_fails, void *ctx, int max_attempts,
               kvc_case_spec *out, kvc_shrink_stats *stats)
{
    shrinker z = {value_seed, still_fails, ctx, max_attempts, {0, 0}, 0};
    kvc_case_spec cur;
    kvc_case c;
    char err[256];

    if (stats)
        *stats = z.st;
    if (!start)
        return KVC_SHRINK_ERROR;
    memcpy(&cur, start, sizeof cur);
    if (out && out != start)
        memcpy(out, &cur, sizeof cur);
    if (!still_fails || !out)
        return KVC_SHRINK_ERROR;

    /* The start must build and fail. */
    if (kvc_case_build(&cur, value_seed, &c, err, sizeof err) != 0)
        return KVC_SHRINK_ERROR;
    z.st.attempts++;
    int fails = still_fails(&c, ctx) != 0;
    kvc_case_free(&c);
    if (!fails) {
        if (stats)
            *stats = z.st;
        return KVC_SHRINK_NOT_FAILING;
    }

    cand_list L; /* MAX_CANDS specs, a few KiB */
    do
        first_order(&z, &cur, &L);
    while (!z.out_of_budget && pair_pass(&z, &cur, &L));

    memcpy(out, &cur, sizeof cur);
    if (stats)
        *stats = z.st;
    return z.out_of_budget ? KVC_SHRINK_BUDGET : KVC_SHRINK_DONE;
}
