/*
 * test_generators.c — the case generators: determinism, the GSL stream,
 * consistency of every built case, coverage of every flag and kind,
 * chunkings, leak sensitivity, case sizes, refusal of bad specs.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../generators/case.h"

#define SEED 1u

/* ---------- helpers written from problem.h, independently of generators/ */

static int t_visible(const kvc_problem *p, int s, int i, int j, int use_mask)
{
    long long pos = (long long)p->ctx_len[s] + i;
    if (p->cfg.causal && j > pos)
        return 0;
    if (p->cfg.window_left >= 0 && j < pos - p->cfg.window_left)
        return 0;
    if (use_mask && p->has_mask &&
        !p->mask[p->mask_start[s] + (int64_t)i * kvc_kv_len(p, s) + j])
        return 0;
    return 1;
}

static double t_score(const kvc_problem *p, int s, int i, int h, int j)
{
    int D = p->cfg.head_dim, G = p->cfg.num_q_heads / p->cfg.num_kv_heads;
    const float *q = p->q + ((p->q_start[s] + i) * p->cfg.num_q_heads + h) * (int64_t)D;
    const float *k = p->k + ((p->kv_start[s] + j) * p->cfg.num_kv_heads + h / G) * (int64_t)D;
    double acc = 0;
    for (int d = 0; d < D; d++)
        acc += (double)q[d] * k[d];
    return (double)p->cfg.scale * acc;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static void gen(uint64_t seed, uint64_t index, int mode, kvc_case *c)
{
    char err[256] = "";
    int rc = kvc_case_generate(seed, index, mode, c, err, sizeof err);
    cr_assert_eq(rc, 0, "case %llu: %s", (unsigned long long)index, err);
}

/* ---------- consistency of a built case ---------- */

static void check_tokens(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    const kvc_case_spec *sp = &c->spec;
    char err[256];
    cr_assert_eq(kvc_problem_check(p, err, sizeof err), 0, "problem: %s", err);
    cr_assert_eq(p->num_seqs, sp->num_seqs);
    for (int s = 0; s < sp->num_seqs; s++) {
        cr_assert_eq(p->ctx_len[s], sp->ctx_len[s]);
        cr_assert_eq(p->q_len[s], sp->q_len[s]);
    }
    cr_assert_eq(p->num_tokens, p->q_start[p->num_seqs] + sp->pad_tokens);
    cr_assert_eq(p->has_mask, sp->mask != KVC_MASK_NONE);
    int64_t hd = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    for (int64_t e = 0; e < p->q_start[p->num_seqs] * hd; e++)
        cr_assert(isfinite(p->q[e]), "q element %lld not finite", (long long)e);
    for (int64_t e = p->q_start[p->num_seqs] * hd; e < p->num_tokens * hd; e++)
        cr_assert(isnan(p->q[e]), "padding q element %lld is not poison", (long long)e);
    /* K/V are finite, except format edges of the formats that encode
     * infinities (and, int8 and nvfp4, NaN) as finite codes, in cases that
     * are not leak-sensitive (docs/kv-formats.md), and special inputs */
    const kvc_kv_dtype dt = p->quant.dtype;
    const int inf_ok = sp->format_edges && !sp->leak_sensitive &&
                       dt >= KVC_KV_FP8_E4M3;
    const int nan_ok = inf_ok && (dt == KVC_KV_INT8 || dt == KVC_KV_NVFP4);
    int64_t kvn = p->kv_start[p->num_seqs] * p->cfg.num_kv_heads * p->cfg.head_dim;
    for (int64_t e = 0; e < kvn; e++)
        for (int w = 0; w < 2; w++) {
            float x = w ? p->v[e] : p->k[e];
            /* special inputs (generators/special.c) may be anything */
            cr_assert(isfinite(x) || sp->special_inputs ||
                          (isinf(x) && inf_ok) || (isnan(x) && nan_ok),
                      "%s element %lld = %g in a %s case", w ? "V" : "K",
                      (long long)e, (double)x, kvc_kv_dtype_name(dt));
        }
}

static void check_blocked(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    const kvc_case_spec *sp = &c->spec;
    const kvc_layout *L = &c->layout;
    int S = p->num_seqs, CL = sp->cache_len;
    /* storage units of a head row: nvfp4 packs two codes per byte */
    int D = p->quant.dtype == KVC_KV_NVFP4 ? p->cfg.head_dim / 2 : p->cfg.head_dim;
    cr_assert_geq(CL, 1);
    cr_assert(sp->num_kv_blocks >= 1 && sp->num_kv_blocks <= CL);
    cr_assert_eq(L->block_size, CL);
    cr_assert_eq(L->num_blocks, S > 0 ? S : 1);
    cr_assert_eq(L->stride_slot, D);
    cr_assert_eq(L->stride_head, (int64_t)CL * D);
    cr_assert_eq(L->stride_block, (int64_t)p->cfg.num_kv_heads * CL * D);
    cr_assert_eq(L->pool_elems, L->num_blocks * L->stride_block);
    cr_assert_eq(L->max_blocks_per_seq, 1);
    for (int s = 0; s < S; s++) {
        cr_assert_leq(kvc_kv_len(p, s), CL, "BLOCKED kv_len beyond cache_len");
        cr_assert_eq(L->block_table[s], s);
        for (int i = 0; i < p->q_len[s]; i++)
            cr_assert_eq(L->slot_mapping[p->q_start[s] + i],
                         (int64_t)s * CL + p->ctx_len[s] + i);
    }
    for (int64_t t = p->q_start[S]; t < p->num_tokens; t++)
        cr_assert_eq(L->slot_mapping[t], -1);
}

/* Block id -> the (sequence, logical block) that first uses it: linear
 * probing over a power-of-two table sized for the table's entries. */
typedef struct owner_map {
    int64_t cap;
    int *id, *sb; /* id -1: empty; sb: [cap][2] */
} owner_map;

static void owner_map_init(owner_map *m, int64_t entries)
{
    m->cap = 16;
    while (m->cap < 2 * entries)
        m->cap *= 2;
    m->id = malloc((size_t)m->cap * sizeof *m->id);
    m->sb = malloc((size_t)m->cap * 2 * sizeof *m->sb);
    cr_assert(m->id && m->sb);
    for (int64_t i = 0; i < m->cap; i++)
        m->id[i] = -1;
}

static int64_t owner_map_slot(const owner_map *m, int id)
{
    int64_t i = (int64_t)(((uint64_t)(uint32_t)id * 0x9E3779B97F4A7C15ULL) &
                          (uint64_t)(m->cap - 1));
    while (m->id[i] != -1 && m->id[i] != id)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int *owner_map_get(const owner_map *m, int id)
{
    int64_t i = owner_map_slot(m, id);
    return m->id[i] == id ? &m->sb[2 * i] : NULL;
}

static void owner_map_put(owner_map *m, int id, int s, int b)
{
    int64_t i = owner_map_slot(m, id);
    m->id[i] = id;
    m->sb[2 * i] = s;
    m->sb[2 * i + 1] = b;
}

static void owner_map_free(owner_map *m)
{
    free(m->id);
    free(m->sb);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void check_paged(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    const kvc_case_spec *sp = &c->spec;
    const kvc_layout *L = &c->layout;
    int S = p->num_seqs, B = sp->block_size;
    int D = p->quant.dtype == KVC_KV_NVFP4 ? p->cfg.head_dim / 2 : p->cfg.head_dim;
    int Hkv = p->cfg.num_kv_heads, M = L->max_blocks_per_seq, wl = p->cfg.window_left;
    int64_t NB = L->num_blocks, row = (int64_t)D + sp->stride_pad;
    cr_assert_eq(L->block_size, B);
    cr_assert_geq(NB, 1);
    cr_assert_eq(L->hnd, sp->hnd);
    if (sp->hnd) {
        cr_assert_eq(L->stride_slot, row);
        cr_assert_eq(L->stride_head, B * row);
        cr_assert_eq(L->stride_block, Hkv * B * row);
    } else {
        cr_assert_eq(L->stride_head, row);
        cr_assert_eq(L->stride_slot, Hkv * row);
        cr_assert_eq(L->stride_block, B * Hkv * row);
    }
    cr_assert_eq(L->pool_elems, NB * L->stride_block);
    cr_assert_geq(M, 1);

    /* owner of each physical block among the needed entries: a map over
     * the ids the table uses, never an array over the pool (a large-offset
     * pool has billions of blocks) */
    owner_map own;
    owner_map_init(&own, (int64_t)(S > 0 ? S : 1) * M);
    int64_t distinct = 0;
    for (int s = 0; s < S; s++) {
        int kv = kvc_kv_len(p, s), ctx = p->ctx_len[s];
        int64_t nb = ceil_div(kv, B);
        cr_assert_leq(nb, M, "seq %d needs %lld blocks, table has %d", s, (long long)nb, M);
        int64_t lo = wl >= 0 ? (ctx - wl > 0 ? ctx - wl : 0) : 0;
        for (int64_t b = 0; b < nb; b++) {
            int id = L->block_table[(int64_t)s * M + b];
            if ((b + 1) * B <= lo && id == -1)
                continue; /* freed: left the window */
            cr_assert(id >= 0 && id < NB, "seq %d block %lld: id %d of %lld", s,
                      (long long)b, id, (long long)NB);
            int *owner = owner_map_get(&own, id);
            if (!owner) {
                owner_map_put(&own, id, s, (int)b);
                distinct++;
                continue;
            }
            /* a shared block: same logical block, wholly below both ctx */
            int s0 = owner[0];
            cr_assert_neq(s0, s, "seq %d maps two blocks to %d", s, id);
            cr_assert_eq(owner[1], b, "block %d shared at different offsets", id);
            cr_assert_leq((b + 1) * B, ctx, "shared block %d not below ctx of seq %d", id, s);
            cr_assert_leq((b + 1) * B, p->ctx_len[s0]);
            const int64_t hd = (int64_t)Hkv * p->cfg.head_dim;
            int64_t e0 = (p->kv_start[s0] + b * B) * hd;
            int64_t e1 = (p->kv_start[s] + b * B) * hd;
            size_t bytes = (size_t)(B * hd) * sizeof(float);
            cr_assert(memcmp(p->k + e0, p->k + e1, bytes) == 0, "shared K differs");
            cr_assert(memcmp(p->v + e0, p->v + e1, bytes) == 0, "shared V differs");
        }
    }
    cr_assert_leq(distinct, NB);
    /* poisoned entries never point at a used block */
    for (int s = 0; s < S; s++)
        for (int64_t b = ceil_div(kvc_kv_len(p, s), B); b < M; b++) {
            int id = L->block_table[(int64_t)s * M + b];
            cr_assert(id == -1 || id >= NB || (id >= 0 && !owner_map_get(&own, id)),
                      "seq %d unused entry %lld = %d is a used block", s, (long long)b, id);
        }
    /* slot mapping: each new token's slot, in range, none written twice */
    int64_t n_new = p->q_start[S], k = 0;
    int64_t *slots = malloc((size_t)(n_new + 1) * sizeof *slots);
    cr_assert_not_null(slots);
    for (int s = 0; s < S; s++)
        for (int i = 0; i < p->q_len[s]; i++) {
            int64_t pos = (int64_t)p->ctx_len[s] + i;
            int id = L->block_table[(int64_t)s * M + pos / B];
            int64_t slot = L->slot_mapping[p->q_start[s] + i];
            cr_assert_eq(slot, (int64_t)id * B + pos % B);
            cr_assert(slot >= 0 && slot < NB * B, "slot %lld out of range", (long long)slot);
            const int *owner = owner_map_get(&own, id);
            cr_assert(owner && owner[0] == s,
                      "a new token writes block %d of another sequence", id);
            slots[k++] = slot;
        }
    qsort(slots, (size_t)k, sizeof *slots, cmp_i64);
    for (int64_t i = 1; i < k; i++)
        cr_assert_neq(slots[i], slots[i - 1], "slot %lld written twice",
                      (long long)slots[i]);
    for (int64_t t = p->q_start[S]; t < p->num_tokens; t++)
        cr_assert_eq(L->slot_mapping[t], -1);
    free(slots);
    owner_map_free(&own);
}

static void check_qeff(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    const kvc_case_spec *sp = &c->spec;
    const kvc_qeff_layout *Q = &c->qeff;
    int B = sp->block_size, MQ = Q->max_q;
    cr_assert_eq(MQ, sp->qeff_max_q);
    cr_assert_geq(MQ, 1);
    cr_assert_geq(c->layout.max_blocks_per_seq, 1);
    for (int s = 0; s < p->num_seqs; s++) {
        int ctx = p->ctx_len[s], q = p->q_len[s];
        cr_assert_leq(q, MQ);
        const int *row = Q->position_ids + (int64_t)s * MQ;
        int valid = 0, first = -1;
        for (int k = 0; k < MQ; k++)
            if (row[k] >= 0) {
                if (first < 0)
                    first = k;
                cr_assert_eq(row[k], ctx + (k - first), "positions not consecutive");
                valid++;
            }
        cr_assert_eq(valid, q);
        if (q == 0)
            continue;
        cr_assert_eq(ctx / B, (ctx + q - 1) / B, "QEFF write crosses a block");
        cr_assert_eq(Q->slot_id[s], ctx % B);
        cr_assert_eq(first, sp->qeff_left_pad ? MQ - q : 0);
        int pmax = ctx + q - 1;
        int active = c->layout.block_table[(int64_t)s * c->layout.max_blocks_per_seq + pmax / B];
        cr_assert(active >= 0 && active < c->layout.num_blocks);
        for (int i = 0; i < q; i++) {
            int64_t r = Q->row_of_token[p->q_start[s] + i];
            cr_assert(r >= (int64_t)s * MQ && r < (int64_t)(s + 1) * MQ);
            cr_assert_eq(Q->position_ids[r], ctx + i);
        }
    }
}

static void check_case(const kvc_case *c)
{
    check_tokens(c);
    if (c->spec.mode == KVC_MODE_BLOCKED)
        check_blocked(c);
    else
        check_paged(c);
    if (c->spec.mode == KVC_MODE_QEFF)
        check_qeff(c);
    cr_assert_eq(c->flags >> KVC_FLAG_COUNT, 0, "flag beyond KVC_FLAG_COUNT");
}

/* ---------- the RNG ---------- */

Test(generators_rng, gsl_mt19937_reference_value)
{
    /* GSL's own rng/test.c: mt19937 seeded 4357, the 1000th output. */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    cr_assert_not_null(r);
    gsl_rng_set(r, 4357);
    unsigned long k = 0;
    for (int i = 0; i < 1000; i++)
        k = gsl_rng_get(r);
    gsl_rng_free(r);
    cr_assert_eq(k, 1186927261UL, "mt19937 stream differs from GSL's reference");
}

Test(generators_rng, case_seed_is_a_pure_distinct_hash)
{
    cr_assert_eq(kvc_case_seed(7, 3), kvc_case_seed(7, 3));
    for (uint64_t i = 0; i < 1000; i++) {
        cr_assert_neq(kvc_case_seed(SEED, i), kvc_case_seed(SEED, i + 1));
        cr_assert_neq(kvc_case_seed(SEED, i), kvc_case_seed(SEED + 1, i));
    }
}

/* ---------- determinism ---------- */

static void assert_same_case(const kvc_case *a, const kvc_case *b)
{
    cr_assert(memcmp(&a->spec, &b->spec, sizeof a->spec) == 0, "spec differs");
    const kvc_problem *p = &a->prob, *r = &b->prob;
    int64_t hq = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t hk = (int64_t)p->cfg.num_kv_heads * p->cfg.head_dim;
    cr_assert_eq(p->num_tokens, r->num_tokens);
    cr_assert(memcmp(p->q, r->q, (size_t)(p->num_tokens * hq) * sizeof(float)) == 0, "q differs");
    cr_assert(memcmp(p->k, r->k, (size_t)(p->kv_start[p->num_seqs] * hk) * sizeof(float)) == 0, "k differs");
    cr_assert(memcmp(p->v, r->v, (size_t)(p->kv_start[p->num_seqs] * hk) * sizeof(float)) == 0, "v differs");
    if (p->has_mask)
        cr_assert(memcmp(p->mask, r->mask, (size_t)p->mask_start[p->num_seqs]) == 0, "mask differs");
    const kvc_layout *x = &a->layout, *y = &b->layout;
    cr_assert_eq(x->num_blocks, y->num_blocks);
    cr_assert_eq(x->max_blocks_per_seq, y->max_blocks_per_seq);
    cr_assert_eq(x->poison_seed, y->poison_seed);
    cr_assert(memcmp(x->block_table, y->block_table,
                     (size_t)p->num_seqs * x->max_blocks_per_seq * sizeof(int)) == 0, "table differs");
    cr_assert(memcmp(x->slot_mapping, y->slot_mapping,
                     (size_t)p->num_tokens * sizeof(int64_t)) == 0, "slot mapping differs");
    if (a->spec.mode == KVC_MODE_QEFF) {
        cr_assert(memcmp(a->qeff.position_ids, b->qeff.position_ids,
                         (size_t)p->num_seqs * a->qeff.max_q * sizeof(int)) == 0);
        cr_assert(memcmp(a->qeff.slot_id, b->qeff.slot_id, (size_t)p->num_seqs * sizeof(int)) == 0);
    }
    cr_assert_eq(a->flags, b->flags);
    cr_assert_eq(a->num_leaks, b->num_leaks);
    cr_assert(memcmp(a->leaks, b->leaks, sizeof a->leaks) == 0);
}

Test(generators_determinism, same_seed_and_index_same_case)
{
    for (uint64_t i = 0; i < 150; i++) {
        kvc_case a, b;
        gen(SEED, i, -1, &a);
        gen(SEED, i, -1, &b);
        assert_same_case(&a, &b);
        cr_assert_eq(a.seed, SEED);
        cr_assert_eq(a.index, i);
        cr_assert_eq(a.value_seed, kvc_case_seed(SEED, i));
        /* and kvc_case_build alone reproduces it from the spec */
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&a.spec, a.value_seed, &c, err, sizeof err), 0, "%s", err);
        assert_same_case(&a, &c);
        kvc_case_free(&a);
        kvc_case_free(&b);
        kvc_case_free(&c);
    }
}

Test(generators_determinism, different_index_different_case)
{
    int same = 0;
    for (uint64_t i = 0; i < 200; i++) {
        kvc_case_spec a, b;
        cr_assert_eq(kvc_spec_draw(SEED, i, -1, &a), 0);
        cr_assert_eq(kvc_spec_draw(SEED, i + 1, -1, &b), 0);
        same += memcmp(&a, &b, sizeof a) == 0;
    }
    cr_assert_eq(same, 0, "%d neighbouring specs were identical", same);
    /* same spec, different value seed: different tensors */
    kvc_case_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.mode = KVC_MODE_PAGED;
    sp.cfg = (kvc_config){2, 1, 8, 0.35f, 0, 1, KVC_NO_WINDOW};
    sp.num_seqs = 1;
    sp.q_len[0] = 5;
    sp.block_size = 4;
    kvc_case a, b;
    char err[256];
    cr_assert_eq(kvc_case_build(&sp, 1, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kvc_case_build(&sp, 2, &b, err, sizeof err), 0, "%s", err);
    cr_assert(memcmp(a.prob.q, b.prob.q, 5 * 2 * 8 * sizeof(float)) != 0);
    kvc_case_free(&a);
    kvc_case_free(&b);
}

Test(generators_determinism, forced_mode_only_replaces_the_mode)
{
    for (uint64_t i = 0; i < 200; i++) {
        kvc_case_spec free_draw, forced;
        kvc_spec_draw(SEED, i, -1, &free_draw);
        kvc_spec_draw(SEED, i, (int)free_draw.mode, &forced);
        cr_assert(memcmp(&free_draw, &forced, sizeof forced) == 0);
        for (int m = 0; m < KVC_MODE_COUNT; m++) {
            kvc_spec_draw(SEED, i, m, &forced);
            cr_assert_eq((int)forced.mode, m);
        }
    }
    kvc_case_spec bad;
    cr_assert_eq(kvc_spec_draw(SEED, 0, KVC_MODE_COUNT, &bad), -1);
}

/* ---------- consistency and coverage ---------- */

Test(generators_consistency, every_case_is_consistent, .timeout = 120)
{
    for (uint64_t i = 0; i < 1500; i++) {
        kvc_case c;
        gen(SEED, i, -1, &c);
        check_case(&c);
        kvc_case_free(&c);
    }
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        for (uint64_t i = 0; i < 200; i++) {
            kvc_case c;
            gen(SEED + 7, i, m, &c);
            cr_assert_eq((int)c.spec.mode, m);
            check_case(&c);
            kvc_case_free(&c);
        }
}

Test(generators_coverage, every_flag_and_kind_within_3000_cases, .timeout = 120)
{
    uint64_t all = 0;
    int modes[KVC_MODE_COUNT] = {0}, values[KVC_VALUES_COUNT] = {0};
    int masks[KVC_MASK_COUNT] = {0}, tables[KVC_TABLE_COUNT] = {0};
    for (uint64_t i = 0; i < 3000; i++) {
        kvc_case c;
        gen(SEED, i, -1, &c);
        all |= c.flags;
        modes[c.spec.mode]++;
        values[c.spec.values]++;
        masks[c.spec.mask]++;
        if (c.spec.mode != KVC_MODE_BLOCKED)
            tables[c.spec.table]++;
        kvc_case_free(&c);
    }
    for (int b = 0; b < KVC_FLAG_COUNT; b++)
        cr_expect(all >> b & 1, "flag %s never hit in 3000 cases", kvc_flag_name(b));
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        cr_expect_gt(modes[m], 0, "mode %s never drawn", kvc_mode_name((kvc_mode)m));
    for (int v = 0; v < KVC_VALUES_COUNT; v++)
        cr_expect_gt(values[v], 0, "values %s never drawn", kvc_values_name((kvc_values_kind)v));
    for (int m = 0; m < KVC_MASK_COUNT; m++)
        cr_expect_gt(masks[m], 0, "mask %s never drawn", kvc_mask_name((kvc_mask_kind)m));
    for (int t = 0; t < KVC_TABLE_COUNT; t++)
        cr_expect_gt(tables[t], 0, "table %s never drawn", kvc_table_name((kvc_table_kind)t));
}

/* ---------- chunkings ---------- */

Test(generators_chunking, families_do_what_they_say)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 99);
    int chunks[64], multi[4] = {0};
    for (int iter = 0; iter < 4000; iter++) {
        int family = iter % 4;
        int total = 1 + (int)gsl_rng_uniform_int(r, 300);
        int B = 1 + (int)gsl_rng_uniform_int(r, 20);
        int max = 1 + (int)gsl_rng_uniform_int(r, 64);
        int n = kvc_gen_chunking(r, total, B, family, chunks, max);
        cr_assert(n >= 1 && n <= max, "family %d: %d chunks, max %d", family, n, max);
        int sum = 0;
        for (int k = 0; k < n; k++) {
            cr_assert_geq(chunks[k], 1);
            sum += chunks[k];
            if (family == 2 && k < n - 1)
                cr_assert_eq(sum % B, 0, "family 2 chunk %d ends at %d, B = %d", k, sum, B);
            if (family == 3 && k > 0)
                cr_assert_eq(chunks[k], 1, "family 3 step %d is not a decode", k);
        }
        cr_assert_eq(sum, total);
        if (family == 0)
            cr_assert_eq(n, 1);
        multi[family] += n > 1;
    }
    cr_assert_gt(multi[1], 0);
    cr_assert_gt(multi[2], 0);
    cr_assert_gt(multi[3], 0);
    cr_assert_eq(kvc_gen_chunking(r, 0, 16, 1, chunks, 64), 0);
    cr_assert_eq(kvc_gen_chunking(r, 10, 16, 4, chunks, 64), -1);
    cr_assert_eq(kvc_gen_chunking(r, 10, 16, 1, chunks, 0), -1);
    cr_assert_eq(kvc_gen_chunking(r, -1, 16, 1, chunks, 64), -1);
    cr_assert_eq(kvc_gen_chunking(NULL, 10, 16, 1, chunks, 64), -1);
    gsl_rng_free(r);
}

/* ---------- leak sensitivity ---------- */

Test(generators_leak, boosted_keys_dominate_their_rows, .timeout = 120)
{
    long leaks = 0;
    int causal_edge = 0, window_edge = 0, masked = 0;
    for (uint64_t i = 0; i < 1500; i++) {
        kvc_case c;
        gen(SEED, i, -1, &c);
        const kvc_problem *p = &c.prob;
        cr_assert_eq(!!(c.flags >> KVC_FLAG_LEAK_SENSITIVE & 1), c.num_leaks > 0);
        if (!c.spec.leak_sensitive)
            cr_assert_eq(c.num_leaks, 0);
        /* special inputs (NaN, inf) overwrite elements after the boosting:
         * scores are no longer comparable there */
        for (int t = 0; !c.spec.special_inputs && t < c.num_leaks; t++) {
            const kvc_leak *L = &c.leaks[t];
            cr_assert(L->seq >= 0 && L->seq < p->num_seqs);
            cr_assert(L->token >= 0 && L->token < p->q_len[L->seq]);
            cr_assert(L->head >= 0 && L->head < p->cfg.num_q_heads);
            cr_assert(L->key >= 0 && L->key < kvc_kv_len(p, L->seq));
            cr_assert(!t_visible(p, L->seq, L->token, L->key, 1),
                      "case %llu: boosted key %d is visible to its row",
                      (unsigned long long)i, L->key);
            double m = -INFINITY;
            int n = 0;
            for (int j = 0; j < kvc_kv_len(p, L->seq); j++)
                if (t_visible(p, L->seq, L->token, j, 1)) {
                    double x = t_score(p, L->seq, L->token, L->head, j);
                    m = x > m ? x : m;
                    n++;
                }
            if (n == 0)
                m = 0;
            double x = t_score(p, L->seq, L->token, L->head, L->key);
            cr_assert_geq(x, m + 20.0, "case %llu leak %d: score %g, visible max %g",
                          (unsigned long long)i, t, x, m);
            int pos = p->ctx_len[L->seq] + L->token;
            causal_edge += p->cfg.causal && L->key == pos + 1;
            window_edge += p->cfg.window_left >= 0 && L->key == pos - p->cfg.window_left - 1;
            masked += t_visible(p, L->seq, L->token, L->key, 0);
        }
        leaks += c.num_leaks;
        kvc_case_free(&c);
    }
    cr_assert_gt(leaks, 100);
    cr_assert_gt(causal_edge, 0, "no causal off-by-one key boosted");
    cr_assert_gt(window_edge, 0, "no key just outside a window boosted");
    cr_assert_gt(masked, 0, "no masked key boosted");
}

Test(generators_values, one_hot_rows_have_a_dominant_key, .timeout = 60)
{
    long rows = 0, hot = 0;
    for (uint64_t i = 0; i < 3000 && rows < 5000; i++) {
        kvc_case_spec sp;
        kvc_spec_draw(SEED, i, -1, &sp);
        if (sp.values != KVC_VALUES_ONE_HOT || sp.leak_sensitive || sp.cfg.scale == 0)
            continue;
        kvc_case c;
        gen(SEED, i, -1, &c);
        const kvc_problem *p = &c.prob;
        for (int s = 0; s < p->num_seqs; s++)
            for (int t = 0; t < p->q_len[s]; t++)
                for (int h = 0; h < p->cfg.num_q_heads; h++) {
                    double m1 = -INFINITY, m2 = -INFINITY;
                    int n = 0;
                    for (int j = 0; j < kvc_kv_len(p, s); j++) {
                        if (!t_visible(p, s, t, j, 1))
                            continue;
                        double x = t_score(p, s, t, h, j);
                        n++;
                        if (x > m1) {
                            m2 = m1;
                            m1 = x;
                        } else if (x > m2) {
                            m2 = x;
                        }
                    }
                    if (n < 2)
                        continue;
                    rows++;
                    hot += m1 - m2 >= 19.0;
                }
        kvc_case_free(&c);
    }
    cr_log_info("one-hot: %ld of %ld rows dominate", hot, rows);
    cr_assert_gt(rows, 100);
    cr_assert_geq((double)hot / rows, 0.95, "only %ld of %ld one-hot rows dominate", hot, rows);
}

Test(generators_values, growing_scores_raise_the_max_every_tile, .timeout = 60)
{
    /* For each row, the largest visible raw score of every tile (T keys:
     * B, or the BLOCKED tile) exceeds that of the tile before it. */
    long steps = 0, ups = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        kvc_case_spec sp;
        kvc_spec_draw(SEED, i, -1, &sp);
        if (sp.values != KVC_VALUES_GROWING || sp.leak_sensitive || sp.cfg.scale == 0)
            continue;
        kvc_case c;
        gen(SEED, i, -1, &c);
        const kvc_problem *p = &c.prob;
        int T = sp.mode == KVC_MODE_BLOCKED
                    ? (int)ceil_div(sp.cache_len, sp.num_kv_blocks) : sp.block_size;
        for (int s = 0; s < p->num_seqs; s++)
            for (int t = 0; t < p->q_len[s]; t++)
                for (int h = 0; h < p->cfg.num_q_heads; h++) {
                    double prev = -INFINITY;
                    int kv = kvc_kv_len(p, s);
                    for (int j0 = 0; j0 < kv; j0 += T) {
                        double m = -INFINITY;
                        for (int j = j0; j < j0 + T && j < kv; j++)
                            if (t_visible(p, s, t, j, 1)) {
                                double x = t_score(p, s, t, h, j);
                                m = x > m ? x : m;
                            }
                        if (m == -INFINITY)
                            continue;
                        if (prev > -INFINITY) {
                            steps++;
                            ups += m > prev;
                        }
                        prev = m;
                    }
                }
        kvc_case_free(&c);
    }
    cr_log_info("growing: the max rose in %ld of %ld tiles", ups, steps);
    cr_assert_gt(steps, 1000);
    cr_assert_geq((double)ups / steps, 0.99, "the max rose in only %ld of %ld tiles", ups, steps);
}

/* ---------- sizes ---------- */

Test(generators_size, mean_work_below_budget, .timeout = 60)
{
    /* Work = sum over sequences of q*kv*Hq*D + kv*Hkv*D (case.h). The
     * campaign (2000 cases, kernel + double + float oracle) must stay well
     * under 2 minutes on 2 cores and 200 cases under valgrind in minutes:
     * mean below KVC_CASE_MEAN_WORK_BUDGET, every case below the cap.
     * kvc_spec_draw is the base tier (the SMALL policy): it is 97% of a
     * default campaign and all of `--size small`, so its budget still
     * prices the bulk; the tiers above it have caps of their own, checked
     * with their shares in tests/test_size_tiers.c. */
    double sum = 0;
    int64_t most = 0;
    const int n = 3000;
    for (uint64_t i = 0; i < (uint64_t)n; i++) {
        kvc_case_spec sp;
        cr_assert_eq(kvc_spec_draw(SEED, i, -1, &sp), 0);
        int64_t w = kvc_spec_work(&sp);
        cr_assert_leq(w, KVC_CASE_WORK_CAP, "case %llu: work %lld", (unsigned long long)i, (long long)w);
        sum += (double)w;
        most = w > most ? w : most;
    }
    cr_log_info("mean work %.0f, largest %lld", sum / n, (long long)most);
    cr_assert_lt(sum / n, KVC_CASE_MEAN_WORK_BUDGET, "mean work %.0f", sum / n);
}

/* ---------- hand-written specs ---------- */

static kvc_case_spec base_spec(kvc_mode mode)
{
    kvc_case_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.mode = mode;
    sp.cfg = (kvc_config){4, 2, 16, 0.25f, 0, 1, KVC_NO_WINDOW};
    sp.num_seqs = 2;
    sp.ctx_len[0] = 5;
    sp.q_len[0] = 3;
    sp.ctx_len[1] = 0;
    sp.q_len[1] = 1;
    sp.block_size = 8;
    sp.cache_len = 16;
    sp.num_kv_blocks = 3;
    sp.qeff_max_q = 3;
    return sp;
}

static void expect_refused(const kvc_case_spec *sp, const char *word)
{
    kvc_case c;
    char err[256] = "";
    cr_assert_eq(kvc_case_build(sp, 1, &c, err, sizeof err), -1, "accepted a bad spec");
    cr_assert(strstr(err, word) != NULL, "message '%s' lacks '%s'", err, word);
    cr_assert_null(c.prob.q);
    cr_assert_null(c.layout.block_table);
}

Test(generators_build, refuses_bad_specs)
{
    kvc_case_spec sp = base_spec(KVC_MODE_QEFF);
    sp.ctx_len[0] = 6; /* 6 + 3 crosses 8 */
    expect_refused(&sp, "crosses a block boundary");
    sp = base_spec(KVC_MODE_QEFF);
    sp.qeff_max_q = 2;
    expect_refused(&sp, "qeff_max_q");
    sp = base_spec(KVC_MODE_BLOCKED);
    sp.cache_len = 7;
    expect_refused(&sp, "exceeds cache_len");
    sp = base_spec(KVC_MODE_BLOCKED);
    sp.num_kv_blocks = 17;
    expect_refused(&sp, "num_kv_blocks");
    sp = base_spec(KVC_MODE_PAGED);
    sp.num_seqs = KVC_MAX_SEQS + 1;
    expect_refused(&sp, "KVC_MAX_SEQS");
    sp = base_spec(KVC_MODE_PAGED);
    sp.cfg.num_q_heads = 3;
    expect_refused(&sp, "multiple");
    sp = base_spec(KVC_MODE_PAGED);
    sp.cfg.scale = INFINITY;
    expect_refused(&sp, "scale");
    sp = base_spec(KVC_MODE_PAGED);
    sp.block_size = 0;
    expect_refused(&sp, "block_size");
    sp = base_spec(KVC_MODE_PAGED);
    sp.q_len[1] = -1;
    expect_refused(&sp, "sequence 1");
    sp = base_spec(KVC_MODE_PAGED);
    sp.q_len[0] = 1 << 23;
    sp.ctx_len[0] = 1 << 23;
    expect_refused(&sp, "too large");
}

Test(generators_build, boundary_specs_build)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        /* an empty batch */
        kvc_case_spec sp = base_spec((kvc_mode)m);
        sp.num_seqs = 0;
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&sp, 3, &c, err, sizeof err), 0, "%s", err);
        check_case(&c);
        kvc_case_free(&c);
        /* every option at once */
        sp = base_spec((kvc_mode)m);
        sp.num_seqs = 3;
        sp.ctx_len[2] = 16;
        sp.q_len[2] = 0;
        sp.pad_tokens = 3;
        sp.hnd = 1;
        sp.stride_pad = 3;
        sp.extra_blocks = 2;
        sp.cfg.window_left = 2;
        sp.cfg.softcap = 30;
        sp.mask = KVC_MASK_FIRST_BLOCK;
        sp.values = KVC_VALUES_GROWING;
        sp.leak_sensitive = 1;
        sp.qeff_left_pad = 1;
        sp.table = KVC_TABLE_SHARED_PREFIX;
        if (m == KVC_MODE_QEFF)
            sp.ctx_len[2] = 0;
        if (m == KVC_MODE_BLOCKED) {
            sp.hnd = sp.stride_pad = sp.extra_blocks = 0;
            sp.table = KVC_TABLE_PERMUTED;
        }
        cr_assert_eq(kvc_case_build(&sp, 4, &c, err, sizeof err), 0, "%s", err);
        check_case(&c);
        cr_assert(c.flags >> KVC_FLAG_PADDING_TOKENS & 1);
        cr_assert(c.flags >> KVC_FLAG_GQA & 1);
        cr_assert(c.flags >> KVC_FLAG_CUSTOM_MASK & 1);
        cr_assert(c.flags >> KVC_FLAG_SOFTCAP & 1);
        cr_assert(c.flags >> KVC_FLAG_WINDOW & 1);
        if (m != KVC_MODE_BLOCKED) {
            cr_assert(c.flags >> KVC_FLAG_HND & 1);
            cr_assert(c.flags >> KVC_FLAG_PADDED_STRIDES & 1);
        }
        kvc_case_free(&c);
    }
}

Test(generators_build, shared_prefix_shares_blocks)
{
    kvc_case_spec sp = base_spec(KVC_MODE_PAGED);
    sp.num_seqs = 3;
    sp.ctx_len[0] = 20;
    sp.q_len[0] = 2;
    sp.ctx_len[1] = 17;
    sp.q_len[1] = 1;
    sp.ctx_len[2] = 33;
    sp.q_len[2] = 4;
    sp.block_size = 8;
    sp.table = KVC_TABLE_SHARED_PREFIX;
    int shared = 0;
    for (uint64_t vs = 0; vs < 20; vs++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&sp, vs, &c, err, sizeof err), 0, "%s", err);
        check_case(&c);
        shared += (int)(c.flags >> KVC_FLAG_SHARED_PREFIX & 1);
        kvc_case_free(&c);
    }
    cr_assert_eq(shared, 20);
}

/* ---------- names ---------- */

Test(generators_names, names_round_trip)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_mode out;
        cr_assert_eq(kvc_mode_parse(kvc_mode_name((kvc_mode)m), &out), 0);
        cr_assert_eq((int)out, m);
    }
    kvc_mode dummy;
    cr_assert_eq(kvc_mode_parse("nonsense", &dummy), -1);
    cr_assert_eq(kvc_mode_parse(NULL, &dummy), -1);
    for (int t = 0; t < KVC_TABLE_COUNT; t++) {
        kvc_table_kind out;
        cr_assert_eq(kvc_table_parse(kvc_table_name((kvc_table_kind)t), &out), 0);
        cr_assert_eq((int)out, t);
    }
    for (int v = 0; v < KVC_VALUES_COUNT; v++) {
        kvc_values_kind out;
        cr_assert_eq(kvc_values_parse(kvc_values_name((kvc_values_kind)v), &out), 0);
        cr_assert_eq((int)out, v);
    }
    for (int m = 0; m < KVC_MASK_COUNT; m++) {
        kvc_mask_kind out;
        cr_assert_eq(kvc_mask_parse(kvc_mask_name((kvc_mask_kind)m), &out), 0);
        cr_assert_eq((int)out, m);
    }
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++) {
        const char *n = kvc_flag_name(b);
        cr_assert_not_null(n, "flag %d has no name", b);
        for (const char *ch = n; *ch; ch++)
            cr_assert((*ch >= 'a' && *ch <= 'z') || (*ch >= '0' && *ch <= '9') || *ch == '_');
        for (int b2 = 0; b2 < b; b2++)
            cr_assert_str_neq(n, kvc_flag_name(b2));
    }
    cr_assert_null(kvc_flag_name(-1));
    cr_assert_null(kvc_flag_name(KVC_FLAG_ALL_COUNT));
}

Test(generators_names, describe_is_one_line)
{
    for (uint64_t i = 0; i < 50; i++) {
        kvc_case c;
        gen(SEED, i, -1, &c);
        char buf[512];
        kvc_case_describe(&c, buf, sizeof buf);
        cr_assert_gt(strlen(buf), 10);
        cr_assert_null(strchr(buf, '\n'));
        cr_assert(strncmp(buf, kvc_mode_name(c.spec.mode), strlen(kvc_mode_name(c.spec.mode))) == 0);
        char small[16];
        kvc_case_describe(&c, small, sizeof small);
        cr_assert_eq(strlen(small), 15);
        kvc_case_free(&c);
    }
}
