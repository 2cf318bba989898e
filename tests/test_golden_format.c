/*
 * test_golden_format.c — the golden-vector format (golden/golden.h,
 * golden/FORMAT.md): exact round trips of every field and bit (NaN
 * payloads, -0, -inf), byte-identical re-serialization, grouping, refusal
 * of truncated and mutated files with a message naming the file, the test
 * and the field, atomic writes, strict base64 and hex floats, and the
 * standard-library Python reader of FORMAT.md run on a real file.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "golden_reader.h"

#include "../generators/case.h"
#include "../golden/base64.h"
#include "../golden/golden.h"
#include "../golden/golden_internal.h"
#include "../oracle/kv_store.h"

/* ---- building a file ------------------------------------------------------ */

static kvc_case_spec spec_of(kvc_mode mode)
{
    kvc_case_spec s;
    memset(&s, 0, sizeof s);
    s.mode = mode;
    s.cfg = (kvc_config){4, 2, 16, 0.25f, 0.0f, 1, KVC_NO_WINDOW};
    s.num_seqs = 1;
    s.ctx_len[0] = 20;
    s.q_len[0] = 1;
    s.block_size = 16;
    s.extra_blocks = 2;
    s.table = KVC_TABLE_PERMUTED;
    s.cache_len = mode == KVC_MODE_BLOCKED ? 64 : 0;
    s.num_kv_blocks = mode == KVC_MODE_BLOCKED ? 4 : 0;
    s.leak_sensitive = 1;
    s.qeff_max_q = mode == KVC_MODE_QEFF ? 4 : 0;
    return s;
}

static void set_seqs(kvc_case_spec *s, int n, const int *ctx, const int *q)
{
    s->num_seqs = n;
    for (int i = 0; i < n; i++) {
        s->ctx_len[i] = ctx[i];
        s->q_len[i] = q[i];
    }
}

static void add_test(kvc_golden_file *f, int id, const kvc_case_spec *s,
                     kvc_expect result, const char *error,
                     void (*tweak)(kvc_golden_test *))
{
    kvc_golden_test *t = &f->tests[f->num_tests++];
    char err[512];
    memset(t, 0, sizeof *t);
    cr_assert_eq(kvc_case_build(s, 1000 + (uint64_t)id, &t->c, err, sizeof err),
                 0, "tcId %d: %s", id, err);
    t->tc_id = id;
    snprintf(t->comment, sizeof t->comment, "test %d: \"quoted\" \\ \t tab, "
             "caf\xc3\xa9", id);
    t->result = result;
    t->flags = t->c.flags;
    if (error)
        snprintf(t->error, sizeof t->error, "%s", error);
    if (tweak)
        tweak(t);
    if (result != KVC_EXPECT_INVALID)
        cr_assert_eq(kvc_golden_expect(t, err, sizeof err), 0, "tcId %d: %s",
                     id, err);
}

static float bits_f32(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* NaN payloads in the padding rows of q, -0 among the inputs. */
static void poke_specials(kvc_golden_test *t)
{
    kvc_problem *p = &t->c.prob;
    int64_t row = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t first_pad = p->q_start[p->num_seqs] * row;
    cr_assert_gt(p->num_tokens * row, first_pad + 2);
    p->q[first_pad] = bits_f32(0x7FC12345u);     /* quiet NaN, payload */
    p->q[first_pad + 1] = bits_f32(0xFF800001u); /* signalling, negative */
    p->q[first_pad + 2] = -0.0f;
    p->q[0] = -0.0f;
    p->k[1] = -0.0f;
    p->v[2] = bits_f32(0x00000001u); /* smallest subnormal */
}

static void bad_slot(kvc_golden_test *t)
{
    kvc_layout *L = &t->c.layout;
    L->slot_mapping[0] = L->num_blocks * L->block_size + 5;
    t->flags |= (uint64_t)1 << KVC_FLAG_BAD_SLOT;
}

static void bad_tiles(kvc_golden_test *t)
{
    t->c.spec.num_kv_blocks = 0;
    t->flags |= (uint64_t)1 << KVC_FLAG_BAD_TILE_COUNT;
}

static void slot_id_off(kvc_golden_test *t)
{
    t->c.qeff.slot_id[0] += 1;
    t->flags |= (uint64_t)1 << KVC_FLAG_QEFF_SLOT_ID_MISMATCH;
}

static void odd_scale(kvc_golden_test *t)
{
    t->c.prob.cfg.scale = t->c.spec.cfg.scale = -0x1.8p-3f;
}

static void set_format(kvc_case_spec *s, kvc_kv_dtype d, kvc_scale_kind k)
{
    s->kv_dtype = d;
    s->kv_scale = k;
}

/* bad_kv_format: a NaN K scale (written "nan") */
static void k_scale_nan(kvc_golden_test *t)
{
    t->c.prob.quant.k_scale = NAN;
    t->flags |= (uint64_t)1 << KVC_FLAG_BAD_KV_FORMAT;
}

/* bad_kv_format: per-head scales with a NaN payload and -inf (f32 arrays
 * keep every bit) */
static void head_scales_bad(kvc_golden_test *t)
{
    t->c.prob.quant.v_head_scale[0] = bits_f32(0x7FA00001u);
    t->c.prob.quant.k_head_scale[1] = -INFINITY;
    t->flags |= (uint64_t)1 << KVC_FLAG_BAD_KV_FORMAT;
}

/* bad_kv_format: nvfp4 global scales -inf and -0 */
static void global_scales_bad(kvc_golden_test *t)
{
    t->c.prob.quant.k_scale = -INFINITY;
    t->c.prob.quant.v_scale = -0.0f;
    t->flags |= (uint64_t)1 << KVC_FLAG_BAD_KV_FORMAT;
}

#define NTESTS 18

/* Nine f32 tests: paged NHD (two with one config, so one group), paged HND
 * with padded strides and empty rows, blocked, QEfficient left-padded, and
 * invalid and acceptable ones of each mode. Then nine of the other cache
 * formats (tcId 10..18): every format, every scale strategy, valid and
 * invalid (bad_kv_format), in each mode. */
static void build_file(kvc_golden_file *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->generator, sizeof f->generator, "test_golden_format");
    snprintf(f->oracle_version, sizeof f->oracle_version, "%s", KVC_ORACLE_VERSION);
    f->tests = calloc(NTESTS, sizeof *f->tests);
    cr_assert_not_null(f->tests);

    kvc_case_spec s = spec_of(KVC_MODE_PAGED);
    s.mask = KVC_MASK_RANDOM;
    s.pad_tokens = 3;
    set_seqs(&s, 2, (int[]){5, 17}, (int[]){6, 2});
    add_test(f, 1, &s, KVC_EXPECT_VALID, NULL, poke_specials);

    s = spec_of(KVC_MODE_PAGED);
    add_test(f, 2, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_PAGED);
    s.hnd = 1;
    s.stride_pad = 3;
    s.mask = KVC_MASK_EMPTY_ROWS;
    s.cfg.window_left = 2;
    set_seqs(&s, 1, (int[]){4}, (int[]){6});
    add_test(f, 3, &s, KVC_EXPECT_VALID, NULL, odd_scale);

    s = spec_of(KVC_MODE_BLOCKED);
    s.cache_len = 50;
    s.num_kv_blocks = 3;
    s.cfg.softcap = 5.0f;
    set_seqs(&s, 2, (int[]){30, 0}, (int[]){3, 17});
    add_test(f, 4, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_QEFF);
    s.qeff_left_pad = 1;
    set_seqs(&s, 3, (int[]){3, 40, 0}, (int[]){2, 1, 4});
    add_test(f, 5, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_PAGED);
    s.pad_tokens = 1;
    add_test(f, 6, &s, KVC_EXPECT_INVALID, "KVA_ERR_SLOT", bad_slot);

    s = spec_of(KVC_MODE_PAGED);
    s.num_seqs = 0;
    s.pad_tokens = 2;
    add_test(f, 7, &s, KVC_EXPECT_ACCEPTABLE, "KVA_ERR_LENGTH", NULL);

    s = spec_of(KVC_MODE_BLOCKED);
    add_test(f, 8, &s, KVC_EXPECT_INVALID, "KVA_ERR_SHAPE", bad_tiles);

    s = spec_of(KVC_MODE_QEFF);
    add_test(f, 9, &s, KVC_EXPECT_INVALID, "KVA_ERR_CONVENTION", slot_id_off);

    s = spec_of(KVC_MODE_PAGED); /* fp8 e4m3, per-tensor, format edges */
    set_format(&s, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    s.scale_family = KVC_SCALES_POW2;
    s.format_edges = 1;
    s.values = KVC_VALUES_NORMAL;
    add_test(f, 10, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_PAGED); /* int8 per KV head, HND, tiny scales */
    set_format(&s, KVC_KV_INT8, KVC_SCALE_HEAD);
    s.hnd = 1;
    s.scale_family = KVC_SCALES_TINY;
    add_test(f, 11, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_PAGED); /* fp8 e5m2 per token, padded NHD */
    set_format(&s, KVC_KV_FP8_E5M2, KVC_SCALE_TOKEN);
    s.stride_pad = 5;
    set_seqs(&s, 2, (int[]){7, 0}, (int[]){2, 3});
    add_test(f, 12, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_BLOCKED); /* nvfp4, two groups per row */
    set_format(&s, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    s.cfg.head_dim = 32;
    s.format_edges = 1;
    add_test(f, 13, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_QEFF); /* bf16 */
    set_format(&s, KVC_KV_BF16, KVC_SCALE_NONE);
    add_test(f, 14, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_PAGED); /* f16 */
    set_format(&s, KVC_KV_F16, KVC_SCALE_NONE);
    s.format_edges = 1;
    add_test(f, 15, &s, KVC_EXPECT_VALID, NULL, NULL);

    s = spec_of(KVC_MODE_PAGED);
    set_format(&s, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    add_test(f, 16, &s, KVC_EXPECT_INVALID, "KVA_ERR_FORMAT", k_scale_nan);

    s = spec_of(KVC_MODE_BLOCKED);
    set_format(&s, KVC_KV_INT8, KVC_SCALE_HEAD);
    add_test(f, 17, &s, KVC_EXPECT_INVALID, "KVA_ERR_FORMAT", head_scales_bad);

    s = spec_of(KVC_MODE_QEFF);
    set_format(&s, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    add_test(f, 18, &s, KVC_EXPECT_INVALID, "KVA_ERR_FORMAT", global_scales_bad);
    cr_assert_eq(f->num_tests, NTESTS);
}

static char *build_text(size_t *len)
{
    kvc_golden_file f;
    char err[512];
    build_file(&f);
    char *text = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    kvc_golden_free(&f);
    *len = strlen(text);
    return text;
}

/* ---- comparing ------------------------------------------------------------ */

#define SAME_BYTES(a, b, n, what)                                             \
    cr_assert((n) == 0 || memcmp((a), (b), (size_t)(n)) == 0,                 \
              "tcId %d: %s differs", x->tc_id, what)

static void compare_tests(const kvc_golden_test *x, const kvc_golden_test *y)
{
    const kvc_case *a = &x->c, *b = &y->c;
    const kvc_problem *p = &a->prob, *q = &b->prob;
    cr_assert_eq(x->tc_id, y->tc_id);
    cr_assert_str_eq(x->comment, y->comment);
    cr_assert_eq(x->flags, y->flags, "tcId %d: flags", x->tc_id);
    cr_assert_eq(x->result, y->result);
    cr_assert_str_eq(x->error, y->error);
    cr_assert_eq(b->flags, y->flags, "the parsed case carries the test's flags");

    /* spec: everything the format carries */
    const kvc_case_spec *s = &a->spec, *t = &b->spec;
    cr_assert_eq(s->mode, t->mode);
    SAME_BYTES(&s->cfg, &t->cfg, sizeof s->cfg, "spec.cfg");
    SAME_BYTES(&p->cfg, &q->cfg, sizeof p->cfg, "prob.cfg");
    cr_assert_eq(s->num_seqs, t->num_seqs);
    SAME_BYTES(s->ctx_len, t->ctx_len, s->num_seqs * sizeof(int), "spec.ctx_len");
    SAME_BYTES(s->q_len, t->q_len, s->num_seqs * sizeof(int), "spec.q_len");
    cr_assert_eq(s->pad_tokens, t->pad_tokens);
    if (s->mode == KVC_MODE_BLOCKED) {
        cr_assert_eq(s->cache_len, t->cache_len);
        cr_assert_eq(s->num_kv_blocks, t->num_kv_blocks);
    } else {
        cr_assert_eq(s->block_size, t->block_size);
        cr_assert_eq(s->hnd, t->hnd);
        cr_assert_eq(s->stride_pad, t->stride_pad);
    }
    if (s->mode == KVC_MODE_QEFF) {
        cr_assert_eq(s->qeff_max_q, t->qeff_max_q);
        cr_assert_eq(s->qeff_left_pad, t->qeff_left_pad, "tcId %d", x->tc_id);
    }
    cr_assert_eq(s->mask == KVC_MASK_NONE, t->mask == KVC_MASK_NONE);
    cr_assert_eq(s->kv_dtype, t->kv_dtype, "tcId %d: spec.kv_dtype", x->tc_id);
    cr_assert_eq(s->kv_scale, t->kv_scale, "tcId %d: spec.kv_scale", x->tc_id);
    cr_assert_eq(s->format_edges, t->format_edges, "tcId %d: spec.format_edges",
                 x->tc_id);
    if (s->kv_scale == KVC_SCALE_TENSOR || s->kv_scale == KVC_SCALE_HEAD ||
        s->kv_scale == KVC_SCALE_GROUP)
        cr_assert_eq(s->scale_family == KVC_SCALES_HUGE,
                     t->scale_family == KVC_SCALES_HUGE);

    /* problem */
    int S = p->num_seqs;
    cr_assert_eq(S, q->num_seqs);
    cr_assert_eq(p->num_tokens, q->num_tokens);
    SAME_BYTES(p->ctx_len, q->ctx_len, S * sizeof(int), "ctx_len");
    SAME_BYTES(p->q_len, q->q_len, S * sizeof(int), "q_len");
    SAME_BYTES(p->q_start, q->q_start, (S + 1) * sizeof(int64_t), "q_start");
    SAME_BYTES(p->kv_start, q->kv_start, (S + 1) * sizeof(int64_t), "kv_start");
    int64_t hq = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t hkv = (int64_t)p->cfg.num_kv_heads * p->cfg.head_dim;
    SAME_BYTES(p->q, q->q, p->num_tokens * hq * 4, "q");
    SAME_BYTES(p->k, q->k, p->kv_start[S] * hkv * 4, "k");
    SAME_BYTES(p->v, q->v, p->kv_start[S] * hkv * 4, "v");
    cr_assert_eq(p->has_mask, q->has_mask);
    if (p->has_mask) {
        SAME_BYTES(p->mask_start, q->mask_start, (S + 1) * sizeof(int64_t),
                   "mask_start");
        SAME_BYTES(p->mask, q->mask, p->mask_start[S], "mask");
    }
    /* the cache format: static scales bit for bit, except that any NaN
     * scalar is written "nan" (the quiet NaN back) */
    const kvc_kv_quant *qa = &p->quant, *qb = &q->quant;
    cr_assert_eq(qa->dtype, qb->dtype, "tcId %d: quant.dtype", x->tc_id);
    cr_assert_eq(qa->kind, qb->kind, "tcId %d: quant.kind", x->tc_id);
    if (qa->kind == KVC_SCALE_TENSOR || qa->kind == KVC_SCALE_GROUP) {
        const float sa[2] = {qa->k_scale, qa->v_scale};
        const float sb[2] = {qb->k_scale, qb->v_scale};
        for (int w = 0; w < 2; w++)
            if (isnan(sa[w]))
                cr_assert(isnan(sb[w]), "tcId %d: scale %d", x->tc_id, w);
            else
                SAME_BYTES(&sa[w], &sb[w], 4, "static scale");
    }
    if (qa->kind == KVC_SCALE_HEAD) {
        int H = p->cfg.num_kv_heads;
        SAME_BYTES(qa->k_head_scale, qb->k_head_scale, H * 4, "k_head_scale");
        SAME_BYTES(qa->v_head_scale, qb->v_head_scale, H * 4, "v_head_scale");
    } else {
        cr_assert_null(qb->k_head_scale);
    }

    /* layout */
    const kvc_layout *L = &a->layout, *K = &b->layout;
    cr_assert_eq(L->block_size, K->block_size);
    cr_assert_eq(L->num_blocks, K->num_blocks);
    cr_assert_eq(L->hnd, K->hnd);
    cr_assert_eq(L->stride_block, K->stride_block);
    cr_assert_eq(L->stride_slot, K->stride_slot);
    cr_assert_eq(L->stride_head, K->stride_head);
    cr_assert_eq(L->pool_elems, K->pool_elems);
    cr_assert_eq(L->scale_stride_block, K->scale_stride_block);
    cr_assert_eq(L->scale_stride_slot, K->scale_stride_slot);
    cr_assert_eq(L->scale_stride_head, K->scale_stride_head);
    cr_assert_eq(L->scale_pool_units, K->scale_pool_units);
    cr_assert_eq(L->max_blocks_per_seq, K->max_blocks_per_seq);
    cr_assert_eq(L->poison_seed, K->poison_seed);
    SAME_BYTES(L->block_table, K->block_table,
               (int64_t)S * L->max_blocks_per_seq * sizeof(int), "block_table");
    SAME_BYTES(L->slot_mapping, K->slot_mapping,
               p->num_tokens * sizeof(int64_t), "slot_mapping");
    if (s->mode == KVC_MODE_QEFF) {
        const kvc_qeff_layout *Q = &a->qeff, *R = &b->qeff;
        cr_assert_eq(Q->max_q, R->max_q);
        SAME_BYTES(Q->position_ids, R->position_ids,
                   (int64_t)S * Q->max_q * sizeof(int), "position_ids");
        SAME_BYTES(Q->slot_id, R->slot_id, S * sizeof(int), "slot_id");
        SAME_BYTES(Q->row_of_token, R->row_of_token,
                   p->q_start[S] * sizeof(int64_t), "row_of_token");
    }

    /* expected */
    int64_t rows = p->q_start[S];
    if (x->result == KVC_EXPECT_INVALID) {
        cr_assert_null(y->out);
        cr_assert_null(y->tol_lse);
        cr_assert_null(y->k_codes);
    } else {
        SAME_BYTES(x->out, y->out, rows * hq * 8, "out");
        SAME_BYTES(x->tol_out, y->tol_out, rows * hq * 8, "tol_out");
        SAME_BYTES(x->lse, y->lse, rows * p->cfg.num_q_heads * 8, "lse");
        SAME_BYTES(x->tol_lse, y->tol_lse, rows * p->cfg.num_q_heads * 8,
                   "tol_lse");
        int64_t nrow = p->kv_start[S] * p->cfg.num_kv_heads;
        int64_t ncode = nrow * p->cfg.head_dim, ngroup = nrow * (p->cfg.head_dim / 16);
        if (p->quant.dtype == KVC_KV_F32) {
            cr_assert_null(y->k_codes);
        } else {
            cr_assert_not_null(y->k_codes, "tcId %d: no codes", x->tc_id);
            SAME_BYTES(x->k_codes, y->k_codes, ncode * 2, "k_codes");
            SAME_BYTES(x->v_codes, y->v_codes, ncode * 2, "v_codes");
        }
        if (p->quant.kind == KVC_SCALE_TOKEN) {
            SAME_BYTES(x->k_token_scales, y->k_token_scales, nrow * 4, "k_token_scales");
            SAME_BYTES(x->v_token_scales, y->v_token_scales, nrow * 4, "v_token_scales");
        } else {
            cr_assert_null(y->k_token_scales);
        }
        if (p->quant.kind == KVC_SCALE_GROUP) {
            SAME_BYTES(x->k_group_codes, y->k_group_codes, ngroup, "k_group_codes");
            SAME_BYTES(x->v_group_codes, y->v_group_codes, ngroup, "v_group_codes");
        } else {
            cr_assert_null(y->k_group_codes);
        }
    }
}

static void compare_files(const kvc_golden_file *a, const kvc_golden_file *b)
{
    cr_assert_str_eq(a->generator, b->generator);
    cr_assert_str_eq(a->oracle_version, b->oracle_version);
    cr_assert_eq(a->num_tests, b->num_tests);
    for (int i = 0; i < a->num_tests; i++)
        compare_tests(&a->tests[i], &b->tests[i]);
}

static char *tmp_dir(void)
{
    char *d = strdup("/tmp/kvc_golden_XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void remove_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- round trip ------------------------------------------------------------ */

Test(golden_roundtrip, every_field_and_bit)
{
    kvc_golden_file f, g;
    char err[512];
    build_file(&f);
    char *t1 = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_not_null(t1, "%s", err);
    char *t2 = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_not_null(t2, "%s", err);
    cr_assert_str_eq(t1, t2, "serializing twice differs");
    size_t n = strlen(t1);
    cr_assert_eq(t1[n - 1], '\n');
    cr_assert_eq(kvc_golden_parse(t1, n, "rt.json", &g, err, sizeof err), 0,
                 "%s", err);
    compare_files(&f, &g);
    char *t3 = kvc_golden_to_json(&g, err, sizeof err);
    cr_assert_not_null(t3, "%s", err);
    cr_assert_str_eq(t1, t3, "re-serializing a parsed file differs");

    /* the specials made it through */
    const kvc_problem *p = &g.tests[0].c.prob;
    int64_t row = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    uint32_t bits;
    memcpy(&bits, &p->q[p->q_start[p->num_seqs] * row], 4);
    cr_assert_eq(bits, 0x7FC12345u);
    memcpy(&bits, &p->q[p->q_start[p->num_seqs] * row + 1], 4);
    cr_assert_eq(bits, 0xFF800001u);
    cr_assert(signbit(p->k[1]) && p->k[1] == 0.0f);
    int minus_inf = 0;
    const kvc_golden_test *e = &g.tests[2]; /* empty rows */
    int64_t lrows = e->c.prob.q_start[e->c.prob.num_seqs] * e->c.prob.cfg.num_q_heads;
    for (int64_t i = 0; i < lrows; i++)
        if (isinf(e->lse[i]) && e->lse[i] < 0) {
            minus_inf++;
            cr_assert_eq(e->tol_lse[i], 0.0);
        }
    cr_assert_gt(minus_inf, 0, "the empty-rows test has no -inf lse");
    cr_assert_eq(g.tests[2].c.prob.cfg.scale, -0x1.8p-3f);
    cr_assert_eq(g.tests[4].c.spec.qeff_left_pad, 1);
    free(t1);
    free(t2);
    free(t3);
    kvc_golden_free(&f);
    kvc_golden_free(&g);
}

Test(golden_roundtrip, write_and_read_a_file)
{
    kvc_golden_file f, g;
    char err[512], path[600];
    build_file(&f);
    char *dir = tmp_dir();
    snprintf(path, sizeof path, "%s/v.json", dir);
    cr_assert_eq(kvc_golden_write(&f, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kvc_golden_read(path, &g, err, sizeof err), 0, "%s", err);
    compare_files(&f, &g);
    char *text = kvc_golden_to_json(&f, err, sizeof err);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    char *buf = calloc(strlen(text) + 2, 1);
    size_t got = fread(buf, 1, strlen(text) + 1, fp);
    fclose(fp);
    cr_assert_eq(got, strlen(text));
    cr_assert_str_eq(buf, text, "the file is not the serialized text");
    /* only the file itself is left in the directory */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *de; (de = readdir(d));)
        entries += de->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 1);
    free(buf);
    free(text);
    remove_dir(dir);
    free(dir);
    kvc_golden_free(&f);
    kvc_golden_free(&g);
}

Test(golden_roundtrip, groups_share_configs_in_order)
{
    size_t n;
    char *text = build_text(&n);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    cJSON *groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups");
    /* tests 1 and 2 share a config, and so do 6 and 7; the others each
     * start a group (16 has the config of 10, but 15 comes between) */
    cr_assert_eq(cJSON_GetArraySize(groups), 16);
    static const char *const types[16] = {
        "PagedAttention", "PagedAttention", "BlockedAttention",
        "QEffPagedAttention", "PagedAttention", "BlockedAttention",
        "QEffPagedAttention", "PagedAttention", "PagedAttention",
        "PagedAttention", "BlockedAttention", "QEffPagedAttention",
        "PagedAttention", "PagedAttention", "BlockedAttention",
        "QEffPagedAttention"};
    static const int sizes[16] = {2, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const char *const formats[16][2] = {
        {"f32", "none"}, {"f32", "none"}, {"f32", "none"}, {"f32", "none"},
        {"f32", "none"}, {"f32", "none"}, {"f32", "none"},
        {"fp8_e4m3", "tensor"}, {"int8", "attn_head"}, {"fp8_e5m2", "token"},
        {"nvfp4", "group"}, {"bf16", "none"}, {"f16", "none"},
        {"fp8_e4m3", "tensor"}, {"int8", "attn_head"}, {"nvfp4", "group"}};
    for (int i = 0; i < 16; i++) {
        cJSON *cf = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(groups, i),
                                                     "config");
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cf, "kvDtype")->valuestring,
                         formats[i][0], "group %d", i);
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cf, "kvScale")->valuestring,
                         formats[i][1], "group %d", i);
    }
    for (int i = 0; i < 16; i++) {
        cJSON *g = cJSON_GetArrayItem(groups, i);
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(g, "type")->valuestring,
                         types[i]);
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "tests")),
                     sizes[i], "group %d", i);
    }
    /* every flag used has a note, and each result kind too */
    cJSON *notes = cJSON_GetObjectItemCaseSensitive(root, "notes");
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(notes, "gqa"));
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(notes, "bad_slot"));
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(notes, "acceptable"));
    cr_assert_not_null(strstr(text, "\"scale\": \"0x1p-2\""));
    cr_assert_not_null(strstr(text, "\"scale\": \"-0x1.8p-3\""));
    /* non-finite static scales of invalid tests */
    cr_assert_not_null(strstr(text, "\"kScale\": \"nan\""));
    cr_assert_not_null(strstr(text, "\"kScale\": \"-inf\""));
    cr_assert_not_null(strstr(text, "\"vScale\": \"-0x0p+0\""));
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(notes, "kv_nvfp4"));
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(notes, "scale_token"));
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(notes, "bad_kv_format"));
    cJSON_Delete(root);
    free(text);
}

/* The cache format fields of each kind land where FORMAT.md says, with
 * the dtypes it says. */
Test(golden_roundtrip, format_fields_in_place)
{
    size_t n;
    char *text = build_text(&n);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    static const struct {
        int tc;
        const char *present[6];
        const char *absent[4];
        const char *code_dtype;
    } want[] = {
        {1, {NULL}, {"kScale", "kHeadScale", "scaleStrideBlock", "kCodes"}, NULL},
        {10, {"kScale", "vScale", NULL}, {"kHeadScale", "scalePoolUnits", "kTokenScales", NULL}, "u8"},
        {11, {"kHeadScale", "vHeadScale", NULL}, {"kScale", "scaleStrideSlot", "kGroupCodes", NULL}, "u8"},
        {12, {"scaleStrideBlock", "scalePoolUnits", "kTokenScales", "vTokenScales", NULL}, {"kScale", "kHeadScale", "kGroupCodes", NULL}, "u8"},
        {13, {"kScale", "vScale", "scaleStrideHead", "kGroupCodes", "vGroupCodes", NULL}, {"kHeadScale", "kTokenScales", NULL}, "u8"},
        {14, {NULL}, {"kScale", "scaleStrideBlock", "kTokenScales", NULL}, "u16"},
        {15, {NULL}, {"kScale", "kHeadScale", "kGroupCodes", NULL}, "u16"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cJSON *t = NULL, *g;
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
        {
            cJSON *x;
            cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(g, "tests"))
                if (cJSON_GetObjectItemCaseSensitive(x, "tcId")->valuedouble == want[i].tc)
                    t = x;
        }
        cr_assert_not_null(t);
        cJSON *lay = cJSON_GetObjectItemCaseSensitive(t, "layout");
        cJSON *exp = cJSON_GetObjectItemCaseSensitive(t, "expected");
        for (int k = 0; k < 6 && want[i].present[k]; k++) {
            const char *key = want[i].present[k];
            cr_assert(cJSON_GetObjectItemCaseSensitive(t, key) ||
                      cJSON_GetObjectItemCaseSensitive(lay, key) ||
                      cJSON_GetObjectItemCaseSensitive(exp, key),
                      "tcId %d: no %s", want[i].tc, key);
        }
        for (int k = 0; k < 4 && want[i].absent[k]; k++) {
            const char *key = want[i].absent[k];
            cr_assert(!cJSON_GetObjectItemCaseSensitive(t, key) &&
                      !cJSON_GetObjectItemCaseSensitive(lay, key) &&
                      !cJSON_GetObjectItemCaseSensitive(exp, key),
                      "tcId %d: has %s", want[i].tc, key);
        }
        if (want[i].code_dtype) {
            cJSON *kc = cJSON_GetObjectItemCaseSensitive(exp, "kCodes");
            cr_assert_not_null(kc, "tcId %d: no kCodes", want[i].tc);
            cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(kc, "dtype")->valuestring,
                             want[i].code_dtype, "tcId %d", want[i].tc);
        }
    }
    cJSON_Delete(root);
    free(text);
}

/* The codes kvc_golden_expect stores are the oracle's kv_store codes; the
 * nvfp4 ones are 4-bit, f16 codes of finite values finite, and so on. */
Test(golden_roundtrip, codes_are_the_oracle_store)
{
    kvc_golden_file f;
    build_file(&f);
    int checked = 0;
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        const kvc_problem *p = &t->c.prob;
        if (t->result == KVC_EXPECT_INVALID || p->quant.dtype == KVC_KV_F32) {
            cr_assert_null(t->k_codes, "tcId %d", t->tc_id);
            continue;
        }
        kvc_kv_store st;
        char err[256];
        cr_assert_eq(kvc_kv_store_compute(p, &st, err, sizeof err), 0, "%s", err);
        int64_t nrow = st.rows * st.num_kv_heads, n = nrow * st.head_dim;
        for (int64_t e = 0; e < n; e++) {
            cr_assert_eq(t->k_codes[e], st.k_code[e], "tcId %d k %lld", t->tc_id,
                         (long long)e);
            cr_assert_eq(t->v_codes[e], st.v_code[e], "tcId %d v %lld", t->tc_id,
                         (long long)e);
            if (p->quant.dtype == KVC_KV_NVFP4)
                cr_assert_leq(t->k_codes[e], 15);
        }
        if (st.kind == KVC_SCALE_TOKEN)
            cr_assert_eq(memcmp(t->k_token_scales, st.k_token_scale, (size_t)nrow * 4), 0);
        if (st.kind == KVC_SCALE_GROUP)
            cr_assert_eq(memcmp(t->v_group_codes, st.v_group_code,
                                (size_t)(nrow * (st.head_dim / 16))), 0);
        kvc_kv_store_free(&st);
        checked++;
    }
    cr_assert_eq(checked, 6);
    kvc_golden_free(&f);
}

Test(golden_roundtrip, every_flag_has_a_note)
{
    kvc_golden_file f;
    char err[512];
    build_file(&f);
    /* claim every flag on test 1 (flags are descriptive) */
    f.tests[0].flags = ((uint64_t)1 << KVC_FLAG_ALL_COUNT) - 1;
    char *text = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    cJSON *root = cJSON_Parse(text);
    cJSON *notes = cJSON_GetObjectItemCaseSensitive(root, "notes");
    for (int b = 0; b < KVC_FLAG_ALL_COUNT; b++) {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(notes, kvc_flag_name(b));
        cr_assert_not_null(n, "no note for %s", kvc_flag_name(b));
        cJSON *d = cJSON_GetObjectItemCaseSensitive(n, "description");
        cr_assert_gt(strlen(d->valuestring), 60, "note of %s is too short",
                     kvc_flag_name(b));
    }
    cJSON_Delete(root);
    free(text);
    kvc_golden_free(&f);
}

Test(golden_roundtrip, expect_is_the_oracle)
{
    kvc_golden_file f;
    build_file(&f);
    for (int i = 0; i < f.num_tests; i++) {
        const kvc_golden_test *t = &f.tests[i];
        if (t->result == KVC_EXPECT_INVALID)
            continue;
        const kvc_problem *p = &t->c.prob;
        int64_t n = p->q_start[p->num_seqs] * p->cfg.num_q_heads;
        for (int64_t r = 0; r < n; r++) {
            cr_assert(t->tol_lse[r] >= 0);
            if (isinf(t->lse[r]))
                cr_assert_eq(t->tol_lse[r], 0.0);
            else
                cr_assert_gt(t->tol_lse[r], 0.0);
            for (int d = 0; d < p->cfg.head_dim; d++) {
                double o = t->out[r * p->cfg.head_dim + d];
                double tol = t->tol_out[r * p->cfg.head_dim + d];
                cr_assert(isfinite(o) && tol >= 0);
                if (isinf(t->lse[r]))
                    cr_assert(o == 0.0 && tol == 0.0);
            }
        }
    }
    kvc_golden_free(&f);
}

/* ---- refusals ------------------------------------------------------------- */

static const kvc_golden_file zero_file;

static void expect_refusal(const char *text, size_t n, const char *name,
                           const char *want1, const char *want2,
                           const char *label)
{
    kvc_golden_file g;
    char err[512];
    memset(&g, 0x5A, sizeof g);
    int rc = kvc_golden_parse(text, n, name, &g, err, sizeof err);
    cr_assert_eq(rc, -1, "%s: accepted", label);
    cr_assert_eq(memcmp(&g, &zero_file, sizeof g), 0, "%s: *f not zeroed", label);
    cr_assert_eq(strncmp(err, name, strlen(name)), 0,
                 "%s: message does not start with the file name: %s", label, err);
    if (want1)
        cr_assert_not_null(strstr(err, want1), "%s: '%s' not in: %s", label,
                           want1, err);
    if (want2)
        cr_assert_not_null(strstr(err, want2), "%s: '%s' not in: %s", label,
                           want2, err);
}

Test(golden_reject, truncated_files)
{
    size_t n;
    char *text = build_text(&n);
    for (int k = 0; k < 50; k++) {
        size_t cut = k < 10 ? (size_t)k : n * (size_t)k / 50 + (size_t)k;
        if (cut >= n - 2) /* the last bytes are whitespace after the value */
            continue;
        char label[64];
        snprintf(label, sizeof label, "prefix of %zu bytes", cut);
        char *copy = malloc(cut + 1); /* exactly the prefix, no terminator read */
        memcpy(copy, text, cut);
        expect_refusal(copy, cut, "cut.json", NULL, NULL, label);
        free(copy);
    }
    /* not JSON at all, or JSON followed by more */
    expect_refusal("", 0, "e.json", "not JSON", NULL, "empty");
    expect_refusal("{} x", 4, "e.json", "not JSON", "after", "trailing");
    expect_refusal("{\"a\":\"\xff\"}", 9, "e.json", "invalid UTF-8", NULL, "utf8");
    expect_refusal("{\"a\":1}\0", 8, "e.json", "NUL", NULL, "nul");
    free(text);
}

/* Mutations, as JSON edits of a valid file: path segments separated by '/',
 * "tc:N" selects the test with tcId N, a number indexes an array. json ==
 * NULL deletes the item, "@b64" corrupts the string in place, "@bytes:HH"
 * replaces a base64 string by the encoding of as many bytes, all 0xHH,
 * anything else replaces (or adds) it. */
typedef struct mutation {
    const char *path;
    const char *json;
    const char *want1, *want2; /* substrings of the message */
} mutation;

static cJSON *find_test(cJSON *root, int id)
{
    cJSON *groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups"), *g;
    cJSON_ArrayForEach(g, groups)
    {
        cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(g, "tests"))
        {
            cJSON *x = cJSON_GetObjectItemCaseSensitive(t, "tcId");
            if (x && x->valuedouble == id)
                return t;
        }
    }
    return NULL;
}

/* Apply m to a copy of text; returns the new text (caller frees). */
static char *mutate(const char *text, const mutation *m)
{
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    char path[256];
    snprintf(path, sizeof path, "%s", m->path);
    cJSON *parent = NULL, *node = root;
    char *save = NULL, *last = NULL;
    for (char *seg = strtok_r(path, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        parent = node;
        last = seg;
        if (strncmp(seg, "tc:", 3) == 0)
            node = find_test(root, atoi(seg + 3));
        else if (cJSON_IsArray(parent))
            node = cJSON_GetArrayItem(parent, atoi(seg));
        else
            node = cJSON_GetObjectItemCaseSensitive(parent, seg);
        if (!node)
            break;
    }
    if (!last) { /* the root itself */
        cJSON_Delete(root);
        return strdup(m->json);
    }
    cr_assert(node || m->json, "%s: no such item", m->path);
    if (!m->json) {
        if (cJSON_IsArray(parent))
            cJSON_DeleteItemFromArray(parent, atoi(last));
        else
            cJSON_DeleteItemFromObjectCaseSensitive(parent, last);
    } else if (strcmp(m->json, "@b64") == 0) {
        cr_assert(cJSON_IsString(node) && strlen(node->valuestring) > 8);
        char *s = strdup(node->valuestring);
        s[5] = '*';
        cJSON_SetValuestring(node, s);
        free(s);
    } else if (strncmp(m->json, "@bytes:", 7) == 0) {
        cr_assert(cJSON_IsString(node), "%s: not a string", m->path);
        size_t nb = 0, enc = 0;
        cr_assert_eq(kvc_base64_decoded_len(node->valuestring,
                                            strlen(node->valuestring), &nb), 0);
        uint8_t *raw = malloc(nb + 1);
        memset(raw, (int)strtol(m->json + 7, NULL, 16), nb + 1);
        cr_assert(kvc_base64_encoded_len(nb, &enc));
        char *b64 = malloc(enc + 1);
        kvc_base64_encode(raw, nb, b64);
        b64[enc] = '\0';
        cJSON_SetValuestring(node, b64);
        free(b64);
        free(raw);
    } else {
        cJSON *v = cJSON_Parse(m->json);
        cr_assert_not_null(v, "%s: bad replacement %s", m->path, m->json);
        if (!node)
            cJSON_AddItemToObject(parent, last, v);
        else if (cJSON_IsArray(parent))
            cJSON_ReplaceItemInArray(parent, atoi(last), v);
        else
            cJSON_ReplaceItemInObjectCaseSensitive(parent, last, v);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static const mutation mutations[] = {
    /* top level */
    {"", "[]", "top level", NULL},
    {"schema", "\"wycheproof\"", "top level", "'schema'"},
    {"schemaVersion", "1", "'schemaVersion'", "not supported"},
    {"schemaVersion", "4", "'schemaVersion'", "not supported"},
    {"schemaVersion", NULL, "'schemaVersion'", "missing"},
    {"generator", "7", "'generator'", "a string"},
    {"numberOfTests", "3", "'numberOfTests'", NULL},
    {"numberOfTests", "-1", "'numberOfTests'", NULL},
    {"header", "[1]", "'header[0]'", NULL},
    {"encoding", NULL, "'encoding'", "missing"},
    {"notes", NULL, "'notes'", "missing"},
    {"notes/gqa", NULL, "'notes.gqa'", "missing"},
    {"notes/bogus", "{\"bugType\":\"x\",\"description\":\"y\"}", "'notes.bogus'", NULL},
    {"notes/gqa/bugType", "1", "'notes.gqa.bugType'", NULL},
    {"testGroups", "{}", "'testGroups'", NULL},
    {"extra", "1", "'extra'", "unknown key"},
    /* group level */
    {"testGroups/0/type", "\"Paged\"", "testGroups[0]", "'type'"},
    {"testGroups/1/config", NULL, "testGroups[1]", "'config'"},
    {"testGroups/0/config/headDim", "0", "testGroups[0]", "'config.headDim'"},
    {"testGroups/0/config/headDim", "5000", "'config.headDim'", NULL},
    {"testGroups/0/config/numKvHeads", "3", "'config.numKvHeads'", "multiple"},
    {"testGroups/0/config/scale", "0.125", "'config.scale'", NULL},
    {"testGroups/0/config/scale", "\"0.125\"", "'config.scale'", NULL},
    {"testGroups/0/config/scale", "\"0x1.000001p+0\"", "'config.scale'", NULL},
    {"testGroups/0/config/scale", "\"inf\"", "'config.scale'", NULL},
    {"testGroups/0/config/softcap", "\"-0x1p+0\"", "'config.softcap'", NULL},
    {"testGroups/0/config/layout", "\"XYZ\"", "'config.layout'", NULL},
    {"testGroups/0/config/causal", "1", "'config.causal'", NULL},
    {"testGroups/0/config/windowLeft", "-2", "'config.windowLeft'", NULL},
    {"testGroups/0/config/blockSize", "0", "'config.blockSize'", NULL},
    {"testGroups/0/config/cacheLen", "3", "'config.cacheLen'", "unknown key"},
    {"testGroups/2/config/cacheLen", "0", "'config.cacheLen'", NULL},
    {"testGroups/0/tests", "[]", "'tests'", NULL},
    {"testGroups/0/tests/0", "5", "testGroups[0].tests[0]", NULL},
    /* test level */
    {"tc:1/tcId", NULL, "testGroups[0].tests[0]", "'tcId'"},
    {"tc:1/tcId", "0", "'tcId'", NULL},
    {"tc:1/tcId", "\"1\"", "'tcId'", NULL},
    {"tc:2/tcId", "1", "tcId 1", "appears twice"},
    {"tc:1/comment", "5", "tcId 1", "'comment'"},
    {"tc:1/flags/0", "\"nonsense\"", "tcId 1", "'flags[0]'"},
    {"tc:1/flags", "\"gqa\"", "tcId 1", "'flags'"},
    {"tc:1/result", "\"maybe\"", "tcId 1", "'result'"},
    {"tc:1/result", "\"invalid\"", "tcId 1", "'error'"},
    {"tc:1/error", "\"KVA_ERR_SLOT\"", "tcId 1", "'error'"},
    {"tc:6/error", NULL, "tcId 6", "'error'"},
    {"tc:6/error", "\"no spaces\"", "tcId 6", "'error'"},
    {"tc:6/error", "\"\"", "tcId 6", "'error'"},
    {"tc:7/error", "\"\"", "tcId 7", "'error'"},
    {"tc:1/numSeqs", "1000", "tcId 1", "'numSeqs'"},
    {"tc:1/numSeqs", "3", "tcId 1", "'ctxLen'"},
    {"tc:1/ctxLen/0", "-1", "tcId 1", "'ctxLen[0]'"},
    {"tc:1/qLen/1", "2.5", "tcId 1", "'qLen[1]'"},
    {"tc:1/qLen/1", "16777216", "tcId 1", "'qLen'"},
    {"tc:1/qLen", "{}", "tcId 1", "'qLen'"},
    {"tc:1/padTokens", "-1", "tcId 1", "'padTokens'"},
    {"tc:1/padTokens", "1e300", "tcId 1", "'padTokens'"},
    {"tc:1/q", NULL, "tcId 1", "'q'"},
    {"tc:1/q", "[1, 2]", "tcId 1", "'q'"},
    {"tc:1/q/dtype", "\"f64\"", "tcId 1", "'q.dtype'"},
    {"tc:1/q/shape/0", "7", "tcId 1", "'q.shape'"},
    {"tc:1/q/shape", "[1, 2]", "tcId 1", "'q.shape'"},
    {"tc:1/q/data", "\"abc\"", "tcId 1", "'q.data'"},
    {"tc:1/q/data", "@b64", "tcId 1", "'q.data'"},
    {"tc:1/q/data", "\"\"", "tcId 1", "'q.data'"},
    {"tc:1/q/extra", "1", "tcId 1", "'q.extra'"},
    {"tc:1/k/data", "\"AAAA\"", "tcId 1", "'k.data'"},
    {"tc:1/v/shape/2", "15", "tcId 1", "'v.shape'"},
    {"tc:1/mask/shape/0", "3", "tcId 1", "'mask.shape'"},
    {"tc:1/mask/dtype", "\"f32\"", "tcId 1", "'mask.dtype'"},
    {"tc:1/layout", NULL, "tcId 1", "'layout'"},
    {"tc:1/layout/blockTable/1", "[1]", "tcId 1", "'layout.blockTable[1]'"},
    {"tc:1/layout/blockTable", "[]", "tcId 1", "'layout.blockTable'"},
    {"tc:1/layout/blockTable/0/0", "4294967296", "tcId 1", "'layout.blockTable[0][0]'"},
    {"tc:1/layout/slotMapping", "[1, 2]", "tcId 1", "'layout.slotMapping'"},
    {"tc:1/layout/slotMapping/0", "1e17", "tcId 1", "'layout.slotMapping[0]'"},
    {"tc:1/layout/strideHead", "17", "tcId 1", "'layout.strideHead'"},
    {"tc:1/layout/strideBlock", "-1", "tcId 1", "'layout.strideBlock'"},
    {"tc:1/layout/poolElems", "5", "tcId 1", "'layout.poolElems'"},
    {"tc:1/layout/numBlocks", "-3", "tcId 1", "'layout.numBlocks'"},
    {"tc:1/layout/numBlocks", "1000000", "tcId 1", "'layout.poolElems'"},
    {"tc:1/layout/poisonSeed", "5", "tcId 1", "'layout.poisonSeed'"},
    {"tc:1/layout/poisonSeed", "\"18446744073709551616\"", "tcId 1", "'layout.poisonSeed'"},
    {"tc:1/layout/poisonSeed", "\"-1\"", "tcId 1", "'layout.poisonSeed'"},
    {"tc:1/layout/maxBlocksPerSeq", "9", "tcId 1", "'layout.blockTable"},
    {"tc:1/layout/maxBlocksPerSeq", "0", "tcId 1", "'layout.maxBlocksPerSeq'"},
    {"tc:1/layout/extra", "1", "tcId 1", "'layout.extra'"},
    {"tc:1/expected", NULL, "tcId 1", "'expected'"},
    {"tc:1/expected/out/data", "\"AAAA\"", "tcId 1", "'expected.out.data'"},
    {"tc:1/expected/lse/shape/1", "3", "tcId 1", "'expected.lse.shape'"},
    {"tc:1/expected/tolOut/dtype", "\"f32\"", "tcId 1", "'expected.tolOut.dtype'"},
    {"tc:1/expected/tolLse", NULL, "tcId 1", "'expected.tolLse'"},
    {"tc:1/qeff", "{}", "tcId 1", "'qeff'"},
    {"tc:6/expected", "{}", "tcId 6", "'expected'"},
    {"tc:7/expected", NULL, "tcId 7", "'expected'"},
    {"tc:5/qeff", NULL, "tcId 5", "'qeff'"},
    {"tc:5/qeff/maxQ", "1", "tcId 5", "'qeff.maxQ'"},
    {"tc:5/qeff/positionIds/0", "[1]", "tcId 5", "'qeff.positionIds[0]'"},
    {"tc:5/qeff/rowOfToken", "[]", "tcId 5", "'qeff.rowOfToken'"},
    {"tc:5/qeff/slotId", "[0]", "tcId 5", "'qeff.slotId'"},
    {"tc:4/layout/numBlocks", "3", "tcId 4", "'layout.numBlocks'"},
    {"tc:4/layout/maxBlocksPerSeq", "2", "tcId 4", "'layout.maxBlocksPerSeq'"},
    {"tc:4/layout/strideHead", "16", "tcId 4", "'layout.strideHead'"},
    /* valid tests must be self-consistent */
    {"tc:1/layout/slotMapping/0", "1000000", "tcId 1", "'layout.slotMapping[0]'"},
    {"tc:2/layout/slotMapping/0", "-1", "tcId 2", "'layout.slotMapping[0]'"},
    {"tc:1/layout/slotMapping/8", "3", "tcId 1", "'layout.slotMapping[8]'"},
    {"tc:1/layout/blockTable/0/0", "99", "tcId 1", "'layout.blockTable[0][0]'"},
    {"tc:1/layout/blockTable/0/0", "-1", "tcId 1", "'layout.blockTable[0][0]'"},
    {"tc:4/layout/blockTable/0/0", "1", "tcId 4", "'layout.blockTable[0][0]'"},
    {"tc:4/layout/slotMapping/0", "0", "tcId 4", "'layout.slotMapping[0]'"},
    {"tc:4/qLen/0", "21", "tcId 4", NULL},
    {"testGroups/2/config/numKvBlocks", "0", "tcId 4", "'config.numKvBlocks'"},
    {"tc:5/qeff/slotId/0", "7", "tcId 5", "'qeff.slotId[0]'"},
    {"tc:5/qeff/positionIds/0/3", "9", "tcId 5", "'qeff.positionIds"},
    {"tc:5/qeff/rowOfToken/0", "5", "tcId 5", "'qeff.rowOfToken[0]'"},
    {"tc:1/expected/tolOut/data", "@b64", "tcId 1", "'expected.tolOut.data'"},
    /* the cache format: config */
    {"testGroups/7/config/kvDtype", NULL, "testGroups[7]", "'config.kvDtype'"},
    {"testGroups/7/config/kvDtype", "\"fp8\"", "testGroups[7]", "'config.kvDtype'"},
    {"testGroups/7/config/kvDtype", "3", "testGroups[7]", "'config.kvDtype'"},
    {"testGroups/7/config/kvScale", NULL, "testGroups[7]", "'config.kvScale'"},
    {"testGroups/7/config/kvScale", "\"per_tensor\"", "'config.kvScale'", NULL},
    {"testGroups/7/config/kvScale", "\"none\"", "'config.kvScale'", "not a scale strategy"},
    {"testGroups/10/config/kvScale", "\"tensor\"", "'config.kvScale'", "nvfp4"},
    {"testGroups/12/config/kvScale", "\"group\"", "'config.kvScale'", NULL},
    {"testGroups/0/config/kvDtype", "\"F32\"", "'config.kvDtype'", NULL},
    /* static scales */
    {"tc:10/kScale", NULL, "tcId 10", "'kScale'"},
    {"tc:10/vScale", "0.5", "tcId 10", "'vScale'"},
    {"tc:10/kScale", "\"0x1p+0x\"", "tcId 10", "'kScale'"},
    {"tc:10/kScale", "\"NaN\"", "tcId 10", "'kScale'"},
    {"tc:10/kScale", "\"0x0p+0\"", "tcId 10", "finite and > 0"},
    {"tc:10/kScale", "\"-0x1p-3\"", "tcId 10", "'kScale'"},
    {"tc:10/vScale", "\"nan\"", "tcId 10", "'vScale'"},
    {"tc:10/kScale", "\"inf\"", "tcId 10", "'kScale'"},
    {"tc:10/kHeadScale", "{}", "tcId 10", "'kHeadScale'"},
    {"tc:13/kScale", "\"-inf\"", "tcId 13", "'kScale'"},
    {"tc:11/kHeadScale", NULL, "tcId 11", "'kHeadScale'"},
    {"tc:11/vHeadScale/shape/0", "3", "tcId 11", "'vHeadScale.shape'"},
    {"tc:11/kHeadScale/dtype", "\"f64\"", "tcId 11", "'kHeadScale.dtype'"},
    {"tc:11/kHeadScale/data", "@bytes:00", "tcId 11", "'kHeadScale'"},
    {"tc:11/vHeadScale/data", "@bytes:FF", "tcId 11", "finite and > 0"},
    {"tc:11/kScale", "\"0x1p+0\"", "tcId 11", "'kScale'"},
    {"tc:1/kScale", "\"0x1p+0\"", "tcId 1", "'kScale'"},
    {"tc:12/vHeadScale", "{}", "tcId 12", "'vHeadScale'"},
    /* storage units and scale pools */
    {"tc:13/layout/strideSlot", "32", "tcId 13", "'layout.strideSlot'"},
    {"tc:13/layout/poolElems", "100", "tcId 13", "'layout.poolElems'"},
    {"tc:12/layout/scaleStrideHead", "5", "tcId 12", "'layout.scaleStrideHead'"},
    {"tc:12/layout/scaleStrideBlock", NULL, "tcId 12", "'layout.scaleStrideBlock'"},
    {"tc:12/layout/scaleStrideSlot", "-2", "tcId 12", "'layout.scaleStrideSlot'"},
    {"tc:12/layout/scalePoolUnits", "1", "tcId 12", "'layout.scalePoolUnits'"},
    {"tc:12/layout/scalePoolUnits", "\"64\"", "tcId 12", "'layout.scalePoolUnits'"},
    {"tc:13/layout/scaleStrideSlot", "1", "tcId 13", "'layout.scaleStrideSlot'"},
    {"tc:10/layout/scalePoolUnits", "10", "tcId 10", "'layout.scalePoolUnits'"},
    {"tc:1/layout/scaleStrideBlock", "1", "tcId 1", "'layout.scaleStrideBlock'"},
    /* the oracle's cache contents */
    {"tc:10/expected/kCodes", NULL, "tcId 10", "'expected.kCodes'"},
    {"tc:10/expected/vCodes/dtype", "\"u16\"", "tcId 10", "'expected.vCodes.dtype'"},
    {"tc:15/expected/kCodes/dtype", "\"u8\"", "tcId 15", "'expected.kCodes.dtype'"},
    {"tc:15/expected/vCodes/shape/2", "8", "tcId 15", "'expected.vCodes.shape'"},
    {"tc:14/expected/kCodes/data", "\"AAAA\"", "tcId 14", "'expected.kCodes.data'"},
    {"tc:14/expected/kCodes/data", "@b64", "tcId 14", "'expected.kCodes.data'"},
    {"tc:1/expected/kCodes", "{\"dtype\": \"u8\", \"shape\": [1], \"data\": \"AA==\"}",
     "tcId 1", "f32 cache has no codes"},
    {"tc:12/expected/kTokenScales", NULL, "tcId 12", "'expected.kTokenScales'"},
    {"tc:12/expected/vTokenScales/shape", "[9, 2, 1]", "tcId 12", "'expected.vTokenScales.shape'"},
    {"tc:12/expected/kTokenScales/data", "@bytes:00", "tcId 12", "token scales are finite and > 0"},
    {"tc:12/expected/vTokenScales/data", "@bytes:FF", "tcId 12", "'expected.vTokenScales'"},
    {"tc:12/expected/kGroupCodes", "{}", "tcId 12", "'expected.kGroupCodes'"},
    {"tc:13/expected/vGroupCodes", NULL, "tcId 13", "'expected.vGroupCodes'"},
    {"tc:13/expected/kGroupCodes/data", "@bytes:00", "tcId 13", "0x01..0x7e"},
    {"tc:13/expected/vGroupCodes/data", "@bytes:7F", "tcId 13", "'expected.vGroupCodes'"},
    {"tc:13/expected/kCodes/data", "@bytes:10", "tcId 13", "4-bit"},
    {"tc:13/expected/kTokenScales", "{}", "tcId 13", "'expected.kTokenScales'"},
    {"tc:10/expected/kGroupCodes", "{}", "tcId 10", "'expected.kGroupCodes'"},
};

Test(golden_reject, mutated_fields)
{
    size_t n;
    char *text = build_text(&n);
    /* the edit machinery itself keeps a valid file valid */
    mutation same = {"tc:1/comment", "\"still fine\"", NULL, NULL};
    char *ok = mutate(text, &same);
    kvc_golden_file g;
    char err[512];
    cr_assert_eq(kvc_golden_parse(ok, strlen(ok), "ok.json", &g, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(g.tests[0].comment, "still fine");
    kvc_golden_free(&g);
    free(ok);
    size_t nm = sizeof mutations / sizeof mutations[0];
    for (size_t i = 0; i < nm; i++) {
        const mutation *m = &mutations[i];
        char *bad = mutate(text, m);
        char label[320];
        snprintf(label, sizeof label, "%s <- %s", m->path, m->json ? m->json : "(deleted)");
        expect_refusal(bad, strlen(bad), "mutant.json", m->want1, m->want2, label);
        free(bad);
    }
    free(text);
}

/* Invalid and acceptable tests keep deliberately bad inputs. */
Test(golden_reject, invalid_tests_keep_bad_inputs)
{
    size_t n;
    char *text = build_text(&n);
    static const mutation keep[] = {
        {"tc:6/layout/slotMapping/0", "123456789", NULL, NULL},
        {"tc:6/layout/blockTable/0/0", "-7", NULL, NULL},
        {"tc:7/layout/slotMapping/0", "5", NULL, NULL},
        {"testGroups/5/config/numKvBlocks", "-4", NULL, NULL},
        {"tc:9/qeff/positionIds/0/0", "77", NULL, NULL},
        {"tc:9/qeff/slotId/0", "-3", NULL, NULL},
        {"tc:7/error", NULL, NULL, NULL}, /* optional for acceptable tests */
        /* bad_kv_format: static scales the kernel must refuse */
        {"tc:16/kScale", "\"0x0p+0\"", NULL, NULL},
        {"tc:16/kScale", "\"-0x1.8p+2\"", NULL, NULL},
        {"tc:16/vScale", "\"inf\"", NULL, NULL},
        {"tc:17/kHeadScale/data", "@bytes:00", NULL, NULL},
        {"tc:17/vHeadScale/data", "@bytes:FF", NULL, NULL},
        {"tc:18/vScale", "\"nan\"", NULL, NULL},
        /* codes may be any byte a format holds */
        {"tc:10/expected/kCodes/data", "@bytes:FF", NULL, NULL},
        {"tc:15/expected/vCodes/data", "@bytes:FF", NULL, NULL},
        {"tc:13/expected/kCodes/data", "@bytes:0F", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        char *t = mutate(text, &keep[i]);
        kvc_golden_file g;
        char err[512];
        cr_assert_eq(kvc_golden_parse(t, strlen(t), "k.json", &g, err, sizeof err),
                     0, "%s: %s", keep[i].path, err);
        kvc_golden_free(&g);
        free(t);
    }
    free(text);
}

/* Random byte edits: refused or accepted, never a crash (ASan build). */
Test(golden_reject, random_byte_edits)
{
    size_t n;
    char *text = build_text(&n);
    char *copy = malloc(n);
    uint64_t st = 12345;
    static const char pool[] = "{}[]\",:0123456789-.eE tfnu\\AZaz+/=x";
    for (int it = 0; it < 1500; it++) {
        memcpy(copy, text, n);
        int edits = 1 + it % 4;
        for (int e = 0; e < edits; e++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(st >> 33) % n;
            copy[at] = pool[(st >> 20) % (sizeof pool - 1)];
        }
        kvc_golden_file g;
        char err[512];
        if (kvc_golden_parse(copy, n, "rnd.json", &g, err, sizeof err) == 0)
            kvc_golden_free(&g);
        else
            cr_assert_eq(strncmp(err, "rnd.json: ", 10), 0, "%s", err);
    }
    free(copy);
    free(text);
}

/* ---- writing ---------------------------------------------------------------- */

Test(golden_write, unwritable_path_leaves_nothing)
{
    kvc_golden_file f;
    char err[512], path[600];
    build_file(&f);
    const char *missing = "/nonexistent-kvcheck-dir/sub/v.json";
    cr_assert_eq(kvc_golden_write(&f, missing, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, missing), "%s", err);
    struct stat sb;
    cr_assert_neq(stat(missing, &sb), 0);

    /* the target is a directory: the rename fails, the temporary goes */
    char *dir = tmp_dir();
    snprintf(path, sizeof path, "%s/target", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    char inner[700];
    snprintf(inner, sizeof inner, "%s/keep", path);
    FILE *fp = fopen(inner, "w");
    fclose(fp);
    cr_assert_eq(kvc_golden_write(&f, path, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, path), "%s", err);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.') {
            entries++;
            cr_assert_str_eq(de->d_name, "target");
        }
    closedir(d);
    cr_assert_eq(entries, 1);
    remove_dir(dir);
    free(dir);
    kvc_golden_free(&f);
}

Test(golden_write, refuses_what_the_reader_would_refuse)
{
    kvc_golden_file f;
    char err[512];
    build_file(&f);
    f.tests[1].tc_id = f.tests[0].tc_id; /* duplicate id */
    cr_assert_null(kvc_golden_to_json(&f, err, sizeof err));
    cr_assert_not_null(strstr(err, "appears twice"), "%s", err);
    f.tests[1].tc_id = 2;
    f.tests[1].flags |= (uint64_t)1 << 62; /* no such flag */
    cr_assert_null(kvc_golden_to_json(&f, err, sizeof err));
    cr_assert_not_null(strstr(err, "flag"), "%s", err);
    f.tests[1].flags = f.tests[1].c.flags;
    f.tests[1].c.prob.cfg.scale = NAN;
    cr_assert_null(kvc_golden_to_json(&f, err, sizeof err));
    cr_assert_not_null(strstr(err, "tcId 2"), "%s", err);
    f.tests[1].c.prob.cfg.scale = 0.25f;
    free(f.tests[2].out);
    f.tests[2].out = NULL; /* a valid test without expected values */
    cr_assert_null(kvc_golden_to_json(&f, err, sizeof err));
    cr_assert_not_null(strstr(err, "tcId 3"), "%s", err);
    kvc_golden_free(&f);
}

Test(golden_write, empty_file)
{
    kvc_golden_file f, g;
    char err[512];
    memset(&f, 0, sizeof f);
    snprintf(f.generator, sizeof f.generator, "empty");
    char *text = kvc_golden_to_json(&f, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    cr_assert_eq(kvc_golden_parse(text, strlen(text), "e.json", &g, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(g.num_tests, 0);
    kvc_golden_free(&g);
    free(text);
}

/* ---- encodings -------------------------------------------------------------- */

Test(golden_base64, rfc4648_vectors)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
                                        "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[32];
        size_t len;
        cr_assert(kvc_base64_encoded_len(strlen(plain[i]), &len));
        cr_assert_eq(len, strlen(coded[i]));
        kvc_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out);
        cr_assert_str_eq(out, coded[i]);
        uint8_t back[32];
        size_t want;
        cr_assert_eq(kvc_base64_decoded_len(coded[i], strlen(coded[i]), &want), 0);
        cr_assert_eq(want, strlen(plain[i]));
        cr_assert_eq(kvc_base64_decode(coded[i], strlen(coded[i]), back, sizeof back,
                                       NULL), (int64_t)strlen(plain[i]));
        cr_assert_eq(memcmp(back, plain[i], strlen(plain[i])), 0);
    }
    uint8_t all[256], back[256];
    char enc[400];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    kvc_base64_encode(all, 256, enc);
    cr_assert_eq(kvc_base64_decode(enc, strlen(enc), back, 256, NULL), 256);
    cr_assert_eq(memcmp(all, back, 256), 0);
}

Test(golden_base64, strict_decoder)
{
    static const char *const bad[] = {
        "Zg=",  "Zg",   "Z===", "Zg=a", "Z=g=", "Zh==", "Zm9=", "Zg==Zg==",
        "Zm9v\n", " Zm9", "Zm-v", "Zm_v", "Zm9v====", "=Zg=", "Zm9\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        size_t pos = 999;
        cr_assert_eq(kvc_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, &pos),
                     -1, "accepted \"%s\"", bad[i]);
        cr_assert_leq(pos, strlen(bad[i]));
    }
    uint8_t small[2];
    cr_assert_eq(kvc_base64_decode("Zm9v", 4, small, sizeof small, NULL), -1);
}

Test(golden_scalars, hex_floats_are_exact_and_canonical)
{
    static const struct {
        float f;
        const char *text;
    } known[] = {
        {0.25f, "0x1p-2"},         {-0x1.8p-3f, "-0x1.8p-3"},
        {0.0f, "0x0p+0"},          {-0.0f, "-0x0p+0"},
        {1.0f, "0x1p+0"},          {0x1.6a09e6p-2f, "0x1.6a09e6p-2"},
        {0x1p-149f, "0x1p-149"},   {0x1.fffffep+127f, "0x1.fffffep+127"},
        {0x1.8p-140f, "0x1.8p-140"}, {30.0f, "0x1.ep+4"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char buf[32];
        cr_assert_eq(kvcg_format_hex_float(known[i].f, buf), 0);
        cr_assert_str_eq(buf, known[i].text);
        float back;
        cr_assert_eq(kvcg_parse_hex_float(buf, &back), 0);
        cr_assert_eq(memcmp(&back, &known[i].f, 4), 0, "%s", buf);
    }
    /* every exponent, random mantissas: exact round trip */
    uint32_t st = 1;
    for (int i = 0; i < 20000; i++) {
        st = st * 1664525u + 1013904223u;
        uint32_t bits = st & 0xFF7FFFFFu; /* exponent < 255: finite */
        float f = bits_f32(bits), back;
        char buf[32];
        cr_assert_eq(kvcg_format_hex_float(f, buf), 0);
        cr_assert_eq(kvcg_parse_hex_float(buf, &back), 0, "%s", buf);
        cr_assert_eq(memcmp(&back, &f, 4), 0, "%s", buf);
    }
    char buf[32];
    cr_assert_eq(kvcg_format_hex_float(INFINITY, buf), -1);
    cr_assert_eq(kvcg_format_hex_float(NAN, buf), -1);
    static const char *const refused[] = {
        "0.25", "1e3", "inf", "nan", "-inf", "0x", "0xp+0", "0x1", "0x1p",
        "0x1p+", "0x1.8p-3 ", " 0x1p+0", "0x1.000001p+0", "0x1p+128",
        "0x1p-150", "+0x1p+0", "0x1g+0", ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        float f;
        cr_assert_eq(kvcg_parse_hex_float(refused[i], &f), -1, "accepted \"%s\"",
                     refused[i]);
    }
    float f;
    cr_assert_eq(kvcg_parse_hex_float("0x1.0000000000000p-1", &f), 0);
    cr_assert_eq(f, 0.5f);
}



/* A file whose first valid PagedAttention test of an f32, f16 or bf16
 * cache (dtype) has GQA, a mask, a window, soft-capping, empty rows and
 * padding tokens; an invalid paged test, a blocked one and a paged fp8 one
 * come first, so the reader has to pick. */
static void python_file(kvc_golden_file *f, kvc_kv_dtype dtype)
{
    memset(f, 0, sizeof *f);
    snprintf(f->generator, sizeof f->generator, "python check");
    snprintf(f->oracle_version, sizeof f->oracle_version, "%s", KVC_ORACLE_VERSION);
    f->tests = calloc(4, sizeof *f->tests);
    kvc_case_spec s = spec_of(KVC_MODE_PAGED);
    s.pad_tokens = 1;
    add_test(f, 1, &s, KVC_EXPECT_INVALID, "KVA_ERR_SLOT", bad_slot);
    s = spec_of(KVC_MODE_BLOCKED);
    add_test(f, 2, &s, KVC_EXPECT_VALID, NULL, NULL);
    s = spec_of(KVC_MODE_PAGED);
    set_format(&s, KVC_KV_FP8_E5M2, KVC_SCALE_TOKEN);
    add_test(f, 3, &s, KVC_EXPECT_VALID, NULL, NULL);
    s = spec_of(KVC_MODE_PAGED);
    set_format(&s, dtype, KVC_SCALE_NONE);
    s.format_edges = dtype != KVC_KV_F32;
    s.cfg.num_q_heads = 6;
    s.cfg.num_kv_heads = 2;
    s.cfg.head_dim = 9;
    s.cfg.scale = 0.3f;
    s.cfg.softcap = 5.0f;
    s.cfg.window_left = 6;
    s.block_size = 4;
    s.hnd = 1;
    s.mask = KVC_MASK_EMPTY_ROWS;
    s.pad_tokens = 2;
    set_seqs(&s, 3, (int[]){9, 0, 3}, (int[]){3, 5, 0});
    add_test(f, 4, &s, KVC_EXPECT_VALID, NULL, NULL);
}

static int run_python(const char *script, const char *file, char *out, size_t n)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' 2>&1", script, file);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The snippet reads every test of a file and recomputes out and lse of the
 * valid ones: of an f32 cache from k and v, of an f16 or bf16 cache from
 * the decoded u16 codes (not the logical values: the difference is far
 * above the tolerance), of an fp8 cache with token scales from its codes
 * and scales; the empty rows' lse = -inf passes; it catches a wrong value
 * and a wrong code. (tests/test_golden_python.c runs it on every committed
 * file.) */
Test(golden_python, format_md_snippet_checks_a_file)
{
    static const kvc_kv_dtype dtypes[3] = {KVC_KV_F32, KVC_KV_F16, KVC_KV_BF16};
    char *dir = tmp_dir();
    char script[600], path[600], out[4096], err[512];
    kvc_extract_golden_reader(dir, script, sizeof script);
    for (int i = 0; i < 3; i++) {
        kvc_golden_file f;
        python_file(&f, dtypes[i]);
        snprintf(path, sizeof path, "%s/py.json", dir);
        cr_assert_eq(kvc_golden_write(&f, path, err, sizeof err), 0, "%s", err);
        int rc = run_python(script, path, out, sizeof out);
        cr_assert_eq(rc, 0, "python3 reader failed on %s (%d): %s",
                     kvc_kv_dtype_name(dtypes[i]), rc, out);
        /* test 4 is checked whole: every out value and every lse value */
        char line[96];
        snprintf(line, sizeof line, "tcId 4 (PagedAttention %s cache, valid): checked ",
                 kvc_kv_dtype_name(dtypes[i]));
        const char *c = strstr(out, line);
        cr_assert_not_null(c, "no '%s' line: %s", line, out);
        long checked = strtol(c + strlen(line), NULL, 10);
        const kvc_problem *p = &f.tests[3].c.prob;
        long want = (long)(p->q_start[p->num_seqs] * p->cfg.num_q_heads *
                           (p->cfg.head_dim + 1));
        cr_assert_eq(checked, want, "%s", out);
        /* and so are the blocked and fp8 ones; the invalid one is read */
        cr_assert_not_null(strstr(out, "tcId 2 (BlockedAttention"), "%s", out);
        cr_assert_not_null(strstr(out, "tcId 3 (PagedAttention fp8_e5m2 cache"), "%s", out);
        cr_assert_not_null(strstr(out, ": read 4 tests, checked "), "%s", out);

        /* a wrong expected value is caught */
        f.tests[3].out[5] += 0.25;
        cr_assert_eq(kvc_golden_write(&f, path, err, sizeof err), 0, "%s", err);
        rc = run_python(script, path, out, sizeof out);
        cr_assert_neq(rc, 0, "python3 reader accepted a wrong value: %s", out);
        f.tests[3].out[5] -= 0.25;

        if (dtypes[i] != KVC_KV_F32) {
            /* so is a wrong code: every V code one binade off */
            int64_t n = p->kv_start[p->num_seqs] * p->cfg.num_kv_heads * p->cfg.head_dim;
            for (int64_t e = 0; e < n; e++)
                f.tests[3].v_codes[e] ^= dtypes[i] == KVC_KV_F16 ? 0x0400 : 0x0080;
            cr_assert_eq(kvc_golden_write(&f, path, err, sizeof err), 0, "%s", err);
            rc = run_python(script, path, out, sizeof out);
            cr_assert_neq(rc, 0, "python3 reader accepted wrong codes: %s", out);
        }
        kvc_golden_free(&f);
    }
    remove_dir(dir);
    free(dir);
}

/* ---- schema.json --------------------------------------------------------------- */

static int have_jsonschema(void)
{
    return system("python3 -c 'import jsonschema' > /dev/null 2>&1") == 0;
}

/* Validate files against golden/schema.json with Python's jsonschema
 * (draft 2020-12); prints "ok N" or the first errors. */
static const char schema_check_py[] =
    "import json, sys, jsonschema\n"
    "schema = json.load(open('golden/schema.json', encoding='utf-8'))\n"
    "jsonschema.Draft202012Validator.check_schema(schema)\n"
    "v = jsonschema.Draft202012Validator(schema)\n"
    "bad = 0\n"
    "for p in sys.argv[1:]:\n"
    "    for e in v.iter_errors(json.load(open(p, encoding='utf-8'))):\n"
    "        bad += 1\n"
    "        print(p, list(e.absolute_path)[:6], e.message[:200])\n"
    "        break\n"
    "print('ok', len(sys.argv) - 1 - bad)\n"
    "sys.exit(1 if bad else 0)\n";

static int run_schema_check(const char *dir, const char *files, char *out,
                            size_t n)
{
    char script[600], cmd[2400];
    snprintf(script, sizeof script, "%s/schema_check.py", dir);
    FILE *fp = fopen(script, "w");
    cr_assert_not_null(fp);
    fputs(schema_check_py, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "python3 '%s' %s 2>&1", script, files);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What the writer produces, every committed file, and a refusal: the schema
 * and the C reader agree on the structure. */
Test(golden_schema, written_and_committed_files_validate, .timeout = 120)
{
    if (!have_jsonschema())
        cr_skip_test("python3 with jsonschema is not installed");
    char *dir = tmp_dir();
    char path[600], files[1600], out[4096], err[512];
    kvc_golden_file f;
    build_file(&f);
    snprintf(path, sizeof path, "%s/all.json", dir);
    cr_assert_eq(kvc_golden_write(&f, path, err, sizeof err), 0, "%s", err);
    kvc_golden_free(&f);
    snprintf(files, sizeof files, "'%s' golden/vectors/*.json", path);
    int rc = run_schema_check(dir, files, out, sizeof out);
    cr_assert_eq(rc, 0, "schema check failed (%d): %s", rc, out);

    /* the schema refuses a missing format field and a valid NaN scale */
    size_t n;
    char *text = build_text(&n);
    static const mutation bad[] = {
        {"testGroups/7/config/kvDtype", NULL, NULL, NULL},
        {"tc:10/kScale", "\"nan\"", NULL, NULL},
        {"tc:12/expected/kTokenScales", NULL, NULL, NULL},
        {"tc:14/expected/kCodes/dtype", "\"u8\"", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = mutate(text, &bad[i]);
        snprintf(path, sizeof path, "%s/bad.json", dir);
        FILE *fp = fopen(path, "w");
        fputs(t, fp);
        fclose(fp);
        free(t);
        snprintf(files, sizeof files, "'%s'", path);
        rc = run_schema_check(dir, files, out, sizeof out);
        cr_assert_eq(rc, 1, "schema accepted %s: %s", bad[i].path, out);
    }
    free(text);
    remove_dir(dir);
    free(dir);
}
