/* golden_set.c — what the committed golden files contain (golden_set.h). */
#include "golden_set.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/named.h"

/* Random cover cases must stay small: the whole set is a few MB. */
#define COVER_MAX_WORK 60000
#define COVER_MAX_INDEX 20000
/* Cases kept only for their cache format are smaller still. */
#define FORMAT_MAX_WORK 20000

const char *kvc_golden_file_name(kvc_mode mode)
{
    switch (mode) {
    case KVC_MODE_PAGED: return "paged_attention.json";
    case KVC_MODE_BLOCKED: return "blocked_attention.json";
    case KVC_MODE_QEFF: return "qeff_paged_attention.json";
    default: return "unknown.json";
    }
}

int kvc_golden_append(kvc_golden_file *f, kvc_golden_test *t)
{
    kvc_golden_test *nt =
        realloc(f->tests, ((size_t)f->num_tests + 1) * sizeof *nt);
    if (!nt) {
        kvc_golden_test_free(t);
        return -1;
    }
    f->tests = nt;
    f->tests[f->num_tests++] = *t;
    memset(t, 0, sizeof *t);
    return 0;
}

/* Whether a paged or QEfficient case has a table entry that is not a block
 * id (-1, as engines free it) wholly below the sliding window of its
 * sequence: kvattn.h says such entries are never read and may hold
 * anything, so a test that has one is valid, flagged freed_below_window
 * wherever it comes from (a named case, the random cover, a mutation). */
static int has_freed_below_window(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    const kvc_layout *L = &c->layout;
    int W = p->cfg.window_left, B = L->block_size, M = L->max_blocks_per_seq;
    if (c->spec.mode == KVC_MODE_BLOCKED || W < 0 || B < 1)
        return 0;
    for (int s = 0; s < p->num_seqs; s++) {
        int64_t lo = (int64_t)p->ctx_len[s] - W; /* first key any row sees */
        for (int b = 0; b < M && (int64_t)(b + 1) * B <= lo; b++) {
            int id = L->block_table[(int64_t)s * M + b];
            if (id < 0 || id >= L->num_blocks)
                return 1;
        }
    }
    return 0;
}

uint64_t kvc_golden_flags(const kvc_case *c)
{
    uint64_t f = c->flags;
    if (has_freed_below_window(c))
        f |= 1ull << KVC_FLAG_FREED_BELOW_WINDOW;
    return f;
}

/* Start a test from a spec: build, set id/comment/flags. */
static int test_from_spec(kvc_golden_test *t, const kvc_case_spec *spec,
                          uint64_t value_seed, const char *comment,
                          char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (kvc_case_build(spec, value_seed, &t->c, err, errlen) != 0)
        return -1;
    snprintf(t->comment, sizeof t->comment, "%s", comment);
    t->flags = kvc_golden_flags(&t->c);
    t->result = KVC_EXPECT_VALID;
    return 0;
}

/* Finish a test (expected values unless invalid) and add it to f. */
static int add_test(kvc_golden_file *f, kvc_golden_test *t, char *err,
                    size_t errlen)
{
    t->tc_id = f->num_tests + 1;
    if (t->result != KVC_EXPECT_INVALID &&
        kvc_golden_expect(t, err, errlen) != 0) {
        kvc_golden_test_free(t);
        return -1;
    }
    if (kvc_golden_append(f, t) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int add_named(kvc_golden_file *f, kvc_mode mode, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        kvc_case_spec spec = kvc_named_spec(nc);
        if (nc->mode != mode || spec.large_offsets)
            continue;
        kvc_golden_test t;
        char comment[256];
        snprintf(comment, sizeof comment, "%s (named case %s)", nc->comment,
                 nc->name);
        if (test_from_spec(&t, &spec, kvc_case_seed(KVC_GOLDEN_SEED, i),
                           comment, err, errlen) != 0 ||
            add_test(f, &t, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* A campaign spec as the golden set was frozen with: the draws added to
 * campaigns since (special inputs, kernel calibration; generators/special.c)
 * are cleared, so `golden regen` stays byte-identical. */
static int golden_draw(uint64_t idx, kvc_mode mode, kvc_case_spec *spec)
{
    if (kvc_spec_draw(KVC_GOLDEN_SEED, idx, (int)mode, spec) != 0)
        return -1;
    spec->special_inputs = 0;
    spec->kernel_calibration = 0;
    return 0;
}

/* Greedy cover: walk the campaign (KVC_GOLDEN_SEED, mode) and keep each
 * small case that exercises a flag no earlier test of the file has. */
static int add_cover(kvc_golden_file *f, kvc_mode mode, char *err,
                     size_t errlen)
{
    uint64_t covered = 0;
    for (int i = 0; i < f->num_tests; i++)
        covered |= f->tests[i].flags;
    for (uint64_t idx = 0; idx < COVER_MAX_INDEX; idx++) {
        kvc_case_spec spec;
        if (golden_draw(idx, mode, &spec) != 0 ||
            kvc_spec_work(&spec) > COVER_MAX_WORK || spec.large_offsets)
            continue;
        kvc_golden_test t;
        char comment[256];
        snprintf(comment, sizeof comment,
                 "random case %llu of campaign seed %u, kept for a flag no "
                 "earlier test covers",
                 (unsigned long long)idx, KVC_GOLDEN_SEED);
        if (test_from_spec(&t, &spec, kvc_case_seed(KVC_GOLDEN_SEED, idx),
                           comment, err, errlen) != 0)
            return -1;
        if ((t.flags & ~covered) == 0) {
            kvc_golden_test_free(&t);
            continue;
        }
        covered |= t.flags;
        if (add_test(f, &t, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Whether f holds a valid test of this cache format with K/V in the cache. */
static int has_format(const kvc_golden_file *f, kvc_kv_dtype dt,
                      kvc_scale_kind kind)
{
    for (int i = 0; i < f->num_tests; i++) {
        const kvc_golden_test *t = &f->tests[i];
        const kvc_problem *p = &t->c.prob;
        if (t->result == KVC_EXPECT_VALID && p->quant.dtype == dt &&
            p->quant.kind == kind && p->num_seqs > 0 &&
            p->kv_start[p->num_seqs] > 0)
            return 1;
    }
    return 0;
}

/* Every cache format x scale strategy in every file: for each combination
 * no valid test of the file has yet, the first small case of the campaign
 * (KVC_GOLDEN_SEED, mode) drawn with it. */
static int add_formats(kvc_golden_file *f, kvc_mode mode, char *err,
                       size_t errlen)
{
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
        for (int k = 0; k < KVC_SCALE_KIND_COUNT; k++) {
            kvc_kv_dtype dt = (kvc_kv_dtype)d;
            kvc_scale_kind kind = (kvc_scale_kind)k;
            if (!kvc_quant_kind_valid(dt, kind) || has_format(f, dt, kind))
                continue;
            for (uint64_t idx = 0; idx < COVER_MAX_INDEX; idx++) {
                kvc_case_spec spec;
                if (golden_draw(idx, mode, &spec) != 0 ||
                    spec.kv_dtype != dt || spec.kv_scale != kind ||
                    kvc_spec_work(&spec) > FORMAT_MAX_WORK || spec.large_offsets)
                    continue;
                kvc_golden_test t;
                char comment[256];
                snprintf(comment, sizeof comment,
                         "random case %llu of campaign seed %u, kept for the "
                         "cache format %s with scales %s",
                         (unsigned long long)idx, KVC_GOLDEN_SEED,
                         kvc_kv_dtype_name(dt), kvc_scale_kind_name(kind));
                if (test_from_spec(&t, &spec, kvc_case_seed(KVC_GOLDEN_SEED, idx),
                                   comment, err, errlen) != 0)
                    return -1;
                const kvc_problem *p = &t.c.prob;
                if (p->num_seqs == 0 || p->kv_start[p->num_seqs] == 0) {
                    kvc_golden_test_free(&t);
                    continue;
                }
                if (add_test(f, &t, err, errlen) != 0)
                    return -1;
                break;
            }
            if (!has_format(f, dt, kind)) {
                snprintf(err, errlen, "no small %s case of campaign seed %u "
                         "has the cache format %s with scales %s in its first "
                         "%d draws", kvc_mode_name(mode), KVC_GOLDEN_SEED,
                         kvc_kv_dtype_name(dt), kvc_scale_kind_name(kind),
                         COVER_MAX_INDEX);
                return -1;
            }
        }
    return 0;
}

/* ---- invalid and acceptable mutations of valid cases ---- */

typedef void (*mutate_fn)(kvc_case *c);

typedef struct mutation {
    kvc_mode mode;
    int flag;             /* KVC_FLAG_* added to the case's flags */
    kvc_expect result;
    const char *error;    /* the status libkvattn returns */
    const char *comment;
    void (*spec)(kvc_case_spec *s); /* shape the valid case first, or NULL */
    mutate_fn mutate;
} mutation;

static int *table_entry(kvc_case *c, int s, int b)
{
    return &c->layout.block_table[(int64_t)s * c->layout.max_blocks_per_seq + b];
}

static void spec_two_new(kvc_case_spec *s) { s->ctx_len[0] = 20; s->q_len[0] = 2; }
static void spec_qeff_two(kvc_case_spec *s) { s->ctx_len[0] = 13; s->q_len[0] = 2; }
static void spec_window(kvc_case_spec *s)
{
    s->cfg.window_left = 9;
    s->ctx_len[0] = 40;
    s->q_len[0] = 3;
}

static void spec_fp8_tensor(kvc_case_spec *s)
{
    s->kv_dtype = KVC_KV_FP8_E4M3;
    s->kv_scale = KVC_SCALE_TENSOR;
}
static void spec_nvfp4(kvc_case_spec *s)
{
    s->kv_dtype = KVC_KV_NVFP4;
    s->kv_scale = KVC_SCALE_GROUP;
}
static void spec_int8_head(kvc_case_spec *s)
{
    s->kv_dtype = KVC_KV_INT8;
    s->kv_scale = KVC_SCALE_HEAD;
}
/* head_dim 24 with a token-scaled fp8 cache, whose scale pool (rows of one
 * unit) is the nvfp4 group pool of D / 16 = 1 code per row */
static void spec_d24_fp8_token(kvc_case_spec *s)
{
    s->cfg.head_dim = 24;
    s->kv_dtype = KVC_KV_FP8_E4M3;
    s->kv_scale = KVC_SCALE_TOKEN;
}

static void m_context_block_minus_1(kvc_case *c) { *table_entry(c, 0, 0) = -1; }
static void m_block_out_of_range(kvc_case *c)
{
    *table_entry(c, 0, 0) = (int)c->layout.num_blocks;
}
static void m_slot_out_of_range(kvc_case *c)
{
    c->layout.slot_mapping[0] = c->layout.num_blocks * c->layout.block_size;
}
static void m_duplicate_slot(kvc_case *c)
{
    c->layout.slot_mapping[1] = c->layout.slot_mapping[0];
}
/* Drop the table's last column: seq 0 needs 2 blocks (ctx 20 + 1 > 16). */
static void m_table_too_short(kvc_case *c)
{
    kvc_layout *l = &c->layout;
    int old = l->max_blocks_per_seq, cols = 1;
    for (int s = 0; s < c->prob.num_seqs; s++)
        for (int b = 0; b < cols; b++)
            l->block_table[(int64_t)s * cols + b] =
                l->block_table[(int64_t)s * old + b];
    l->max_blocks_per_seq = cols;
}
static void m_zero_tiles(kvc_case *c) { c->spec.num_kv_blocks = 0; }
static void m_qeff_crossing(kvc_case *c)
{
    /* positions 13,14 -> 15,16: the write would cross into block 1 */
    int *pos = c->qeff.position_ids;
    for (int i = 0; i < c->qeff.max_q; i++)
        if (pos[i] >= 0)
            pos[i] += 2;
    c->qeff.slot_id[0] = 15;
}
static void m_qeff_slot_id(kvc_case *c) { c->qeff.slot_id[0] += 1; }
static void m_qeff_active_minus_1(kvc_case *c) { *table_entry(c, 0, 0) = -1; }
/* Free (set -1) every table entry wholly below the window of every row. */
static void m_free_below_window(kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    int B = c->layout.block_size, W = p->cfg.window_left;
    for (int s = 0; s < p->num_seqs; s++) {
        int lo = p->ctx_len[s] - W;
        for (int b = 0; (b + 1) * B <= lo; b++)
            *table_entry(c, s, b) = -1;
    }
}

/* head_dim 1, Hkv 2, block size 3 (f32, NHD): the shape of m_unnested. */
static void spec_unnested(kvc_case_spec *s)
{
    s->cfg.head_dim = 1;
    s->cfg.scale = 1.0f;
    s->block_size = 3;
    s->ctx_len[0] = 7;
    s->q_len[0] = 2;
}
/* Slot stride 2 (3 slots span 5 units) under head stride 3: the rows
 * h*3 + t*2 are 0, 2, 4 and 3, 5, 7, disjoint, but the head stride is
 * smaller than the slots' extent, so the strides do not nest; blocks of 8. */
static void m_unnested(kvc_case *c)
{
    kvc_layout *L = &c->layout;
    L->stride_slot = 2;
    L->stride_head = 3;
    L->stride_block = 8;
    L->pool_elems = L->num_blocks * L->stride_block;
}

/* The shape of m_unnested with head stride 2 = slot stride: head 1 of
 * slot t is head 0 of slot t + 1. */
static void m_overlapping(kvc_case *c)
{
    m_unnested(c);
    c->layout.stride_head = 2;
}

static void m_k_scale_zero(kvc_case *c) { c->prob.quant.k_scale = 0.0f; }
static void m_v_global_nan(kvc_case *c) { c->prob.quant.v_scale = NAN; }
static void m_k_head_negative(kvc_case *c)
{
    c->prob.quant.k_head_scale[1] = -c->prob.quant.k_head_scale[1];
}
/* The fp8/token case of spec_d24_fp8_token turned into nvfp4 with head_dim
 * 24: global scales 1, rows of D / 2 bytes (blocked: contiguous HND), the
 * same scale-pool geometry, the format flags of nvfp4. */
static void m_nvfp4_d24(kvc_case *c)
{
    kvc_problem *p = &c->prob;
    kvc_layout *L = &c->layout;
    (void)kvc_problem_set_quant(p, KVC_KV_NVFP4, KVC_SCALE_GROUP); /* no
                                                 allocation for GROUP */
    c->spec.kv_dtype = KVC_KV_NVFP4;
    c->spec.kv_scale = KVC_SCALE_GROUP;
    int64_t R = p->cfg.head_dim / 2, H = p->cfg.num_kv_heads;
    int64_t row = R + c->spec.stride_pad;
    if (L->hnd) {
        L->stride_slot = row;
        L->stride_head = L->block_size * row;
        L->stride_block = H * L->stride_head;
    } else {
        L->stride_head = row;
        L->stride_slot = H * row;
        L->stride_block = L->block_size * L->stride_slot;
    }
    L->pool_elems = L->num_blocks * L->stride_block;
    c->flags &= ~((1ull << KVC_FLAG_KV_FP8_E4M3) | (1ull << KVC_FLAG_SCALE_TOKEN));
    c->flags |= (1ull << KVC_FLAG_KV_NVFP4) | (1ull << KVC_FLAG_SCALE_GROUP);
}

static const mutation mutations[] = {
    {KVC_MODE_PAGED, KVC_FLAG_BAD_BLOCK_ID, KVC_EXPECT_INVALID, "KVA_ERR_BLOCK",
     "a context block's table entry is -1 although its positions are visible",
     NULL, m_context_block_minus_1},
    {KVC_MODE_PAGED, KVC_FLAG_BAD_BLOCK_ID, KVC_EXPECT_INVALID, "KVA_ERR_BLOCK",
     "a needed table entry equals num_blocks (one past the pool)", NULL,
     m_block_out_of_range},
    {KVC_MODE_PAGED, KVC_FLAG_BAD_SLOT, KVC_EXPECT_INVALID, "KVA_ERR_SLOT",
     "a new token's slot is num_blocks*block_size (one past the pool)", NULL,
     m_slot_out_of_range},
    {KVC_MODE_PAGED, KVC_FLAG_DUPLICATE_SLOT, KVC_EXPECT_INVALID,
     "KVA_ERR_SLOT", "two new tokens write the same slot", spec_two_new,
     m_duplicate_slot},
    {KVC_MODE_PAGED, KVC_FLAG_SEQ_BEYOND_TABLE, KVC_EXPECT_INVALID,
     "KVA_ERR_LENGTH", "seq_len 21 needs 2 blocks, the table row holds 1",
     NULL, m_table_too_short},
    {KVC_MODE_PAGED, KVC_FLAG_BAD_KV_FORMAT, KVC_EXPECT_INVALID,
     "KVA_ERR_FORMAT", "fp8_e4m3 cache with a per-tensor K scale of 0",
     spec_fp8_tensor, m_k_scale_zero},
    {KVC_MODE_PAGED, KVC_FLAG_BAD_KV_FORMAT, KVC_EXPECT_INVALID,
     "KVA_ERR_FORMAT", "nvfp4 cache whose V global scale is NaN", spec_nvfp4,
     m_v_global_nan},
    {KVC_MODE_PAGED, KVC_FLAG_FREED_BELOW_WINDOW, KVC_EXPECT_VALID, "",
     "table entries wholly below the sliding window are -1 (freed, as engines "
     "do): kvattn.h says they are never read, so a kernel must accept them",
     spec_window, m_free_below_window},
    {KVC_MODE_BLOCKED, KVC_FLAG_BAD_TILE_COUNT, KVC_EXPECT_INVALID,
     "KVA_ERR_SHAPE", "num_kv_blocks is 0", NULL, m_zero_tiles},
    {KVC_MODE_BLOCKED, KVC_FLAG_BAD_SLOT, KVC_EXPECT_INVALID, "KVA_ERR_SLOT",
     "a new token's slot is past the contiguous cache", NULL,
     m_slot_out_of_range},
    {KVC_MODE_BLOCKED, KVC_FLAG_BAD_KV_FORMAT, KVC_EXPECT_INVALID,
     "KVA_ERR_FORMAT", "nvfp4 cache with head_dim 24 (not a multiple of 16)",
     spec_d24_fp8_token, m_nvfp4_d24},
    {KVC_MODE_QEFF, KVC_FLAG_QEFF_CROSSING_WRITE, KVC_EXPECT_INVALID,
     "KVA_ERR_CONVENTION",
     "positions 15 and 16 with block_size 16: the write crosses a block",
     spec_qeff_two, m_qeff_crossing},
    {KVC_MODE_QEFF, KVC_FLAG_QEFF_SLOT_ID_MISMATCH, KVC_EXPECT_INVALID,
     "KVA_ERR_CONVENTION", "slot_id is one more than first position mod B",
     NULL, m_qeff_slot_id},
    {KVC_MODE_QEFF, KVC_FLAG_BAD_BLOCK_ID, KVC_EXPECT_INVALID, "KVA_ERR_BLOCK",
     "the active block (block_table[s][pmax / B]) is -1", spec_qeff_two,
     m_qeff_active_minus_1},
    {KVC_MODE_QEFF, KVC_FLAG_BAD_KV_FORMAT, KVC_EXPECT_INVALID,
     "KVA_ERR_FORMAT", "int8 cache whose K scale of KV head 1 is negative",
     spec_int8_head, m_k_head_negative},
    /* new mutations go last: each draws its values from its index */
    {KVC_MODE_PAGED, KVC_FLAG_UNNESTED_STRIDES, KVC_EXPECT_ACCEPTABLE,
     "KVA_ERR_SHAPE",
     "strides that keep the rows disjoint but do not nest (head_dim 1, Hkv 2, "
     "block 3, strideSlot 2, strideHead 3, strideBlock 8): kvattn.h lets a "
     "kernel refuse them or serve them", spec_unnested, m_unnested},
    {KVC_MODE_PAGED, KVC_FLAG_OVERLAPPING_STRIDES, KVC_EXPECT_INVALID,
     "KVA_ERR_SHAPE",
     "strides that make rows overlap (head_dim 1, Hkv 2, block 3, strideSlot "
     "2, strideHead 2: head 1 of slot t is head 0 of slot t + 1)",
     spec_unnested, m_overlapping},
};

static int add_mutations(kvc_golden_file *f, kvc_mode mode, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        const mutation *m = &mutations[i];
        if (m->mode != mode)
            continue;
        kvc_case_spec spec = kvc_named_base(mode);
        spec.leak_sensitive = 0;
        if (m->spec)
            m->spec(&spec);
        kvc_golden_test t;
        if (test_from_spec(&t, &spec, kvc_case_seed(KVC_GOLDEN_SEED, 1000 + i),
                           m->comment, err, errlen) != 0)
            return -1;
        m->mutate(&t.c);
        t.flags = kvc_golden_flags(&t.c) | 1ull << m->flag;
        t.result = m->result;
        snprintf(t.error, sizeof t.error, "%s", m->error);
        if (add_test(f, &t, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- shapes the named cases and the small random cover leave out ---- */

typedef struct extra_case {
    kvc_mode mode;
    const char *comment;
    void (*spec)(kvc_case_spec *s);
    void (*mutate)(kvc_case *c); /* after the build, or NULL */
} extra_case;

static void seqs(kvc_case_spec *s, int n, const int *ctx, const int *q)
{
    s->num_seqs = n;
    for (int i = 0; i < n; i++) {
        s->ctx_len[i] = ctx[i];
        s->q_len[i] = q[i];
    }
}
static void heads(kvc_case_spec *s, int hq, int hkv)
{
    s->cfg.num_q_heads = hq;
    s->cfg.num_kv_heads = hkv;
}
static void x_hkv3(kvc_case_spec *s) { heads(s, 6, 3); seqs(s, 2, (int[]){21, 0}, (int[]){1, 5}); }
static void x_hkv5(kvc_case_spec *s) { heads(s, 10, 5); s->cfg.head_dim = 8; s->cfg.scale = 0.35f; seqs(s, 2, (int[]){33, 16}, (int[]){2, 1}); }
static void x_hkv6(kvc_case_spec *s) { heads(s, 12, 6); s->cfg.head_dim = 8; s->cfg.scale = 0.35f; s->hnd = 1; }
static void x_prefill_64(kvc_case_spec *s) { seqs(s, 1, (int[]){0}, (int[]){72}); }
static void x_chunk_64(kvc_case_spec *s) { s->cfg.window_left = 40; seqs(s, 2, (int[]){100, 3}, (int[]){64, 1}); }
static void x_decode_4k(kvc_case_spec *s)
{
    heads(s, 2, 1);
    s->cfg.head_dim = 4;
    s->cfg.scale = 0.5f;
    seqs(s, 1, (int[]){4000}, (int[]){1});
}
static void x_block_128(kvc_case_spec *s) { s->block_size = 128; seqs(s, 2, (int[]){300, 127}, (int[]){2, 1}); }
static void x_block_48(kvc_case_spec *s) { s->block_size = 48; s->hnd = 1; seqs(s, 2, (int[]){95, 48}, (int[]){2, 49}); }
static void x_blocked_prefill_64(kvc_case_spec *s) { s->cache_len = 200; s->num_kv_blocks = 3; seqs(s, 1, (int[]){100}, (int[]){64}); }
static void x_blocked_tiles(kvc_case_spec *s) { s->cache_len = 21; s->num_kv_blocks = 21; seqs(s, 2, (int[]){12, 0}, (int[]){3, 5}); }
/* kvattn.h: tiles of ceil(CL / nkb) = 1 position past nkb = CL; the tiles
 * past position CL - 1 are empty and change nothing */
static void m_more_tiles(kvc_case *c) { c->spec.num_kv_blocks = 2 * c->spec.cache_len + 3; }

static const extra_case extras[] = {
    {KVC_MODE_PAGED, "Hkv 3 (GQA 6/3): a KV head count that is not a power of two", x_hkv3, NULL},
    {KVC_MODE_PAGED, "Hkv 5 (GQA 10/5), head_dim 8", x_hkv5, NULL},
    {KVC_MODE_PAGED, "Hkv 6 (GQA 12/6), head_dim 8, HND", x_hkv6, NULL},
    {KVC_MODE_PAGED, "prefill of 72 query rows (more than one 64-row query block) over 5 blocks", x_prefill_64, NULL},
    {KVC_MODE_PAGED, "a 64-token chunk after 100 cached tokens with a 41-token window, beside a decode", x_chunk_64, NULL},
    {KVC_MODE_PAGED, "decode over 4001 keys with small heads (head_dim 4, MQA 2/1): split-KV territory", x_decode_4k, NULL},
    {KVC_MODE_PAGED, "block size 128: a decode and a chunk crossing into the third block", x_block_128, NULL},
    {KVC_MODE_PAGED, "block size 48 (not a power of two), HND: chunks ending on and crossing block edges", x_block_48, NULL},
    {KVC_MODE_BLOCKED, "blocked: Hkv 3 (GQA 6/3)", x_hkv3, NULL},
    {KVC_MODE_BLOCKED, "blocked: a 64-row chunk over a 200-position cache in 3 tiles", x_blocked_prefill_64, NULL},
    {KVC_MODE_BLOCKED, "blocked: numKvBlocks 45 > cacheLen 21: tiles of one position, the last 24 empty", x_blocked_tiles, m_more_tiles},
    {KVC_MODE_QEFF, "QEfficient with Hkv 3 (GQA 6/3)", x_hkv3, NULL},
    {KVC_MODE_QEFF, "QEfficient with Hkv 6 (GQA 12/6), head_dim 8, HND", x_hkv6, NULL},
};

static int add_extras(kvc_golden_file *f, kvc_mode mode, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
        const extra_case *x = &extras[i];
        if (x->mode != mode)
            continue;
        kvc_case_spec spec = kvc_named_base(mode);
        x->spec(&spec);
        if (mode == KVC_MODE_QEFF) {
            int mq = 1;
            for (int s = 0; s < spec.num_seqs; s++)
                mq = spec.q_len[s] > mq ? spec.q_len[s] : mq;
            spec.qeff_max_q = mq;
        }
        kvc_golden_test t;
        if (test_from_spec(&t, &spec, kvc_case_seed(KVC_GOLDEN_SEED, 2000 + i),
                           x->comment, err, errlen) != 0)
            return -1;
        if (x->mutate) {
            x->mutate(&t.c);
            t.flags = kvc_golden_flags(&t.c);
        }
        if (add_test(f, &t, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- invalid parameters: a valid case, one value the kernel gets broken
 * (generators/invalid.h; FORMAT.md, "variant") ---- */

typedef struct variant_case {
    kvc_mode mode;
    kvc_invalid_rule rule;
    const char *error;  /* the status libkvattn returns */
    const char *refuses; /* what kvattn.h refuses, for the comment */
    void (*spec)(kvc_case_spec *s); /* the small valid case */
} variant_case;

/* 7 keys (one block of 4 and part of the next), Hq 4 / Hkv 2, head_dim 8 */
static void v_small(kvc_case_spec *s)
{
    s->cfg.head_dim = 8;
    s->cfg.scale = 0.35f;
    s->ctx_len[0] = 6;
    s->q_len[0] = 1;
    s->block_size = 4;
    s->extra_blocks = 1;
    s->cache_len = s->mode == KVC_MODE_BLOCKED ? 8 : 0;
    s->num_kv_blocks = s->mode == KVC_MODE_BLOCKED ? 2 : 0;
    s->qeff_max_q = s->mode == KVC_MODE_QEFF ? 1 : 0;
}
static void v_softcap(kvc_case_spec *s) { v_small(s); s->cfg.softcap = 0.5f; }
static void v_two_seqs(kvc_case_spec *s)
{
    v_small(s);
    seqs(s, 2, (int[]){3, 2}, (int[]){1, 2});
}
static void v_fp8_tensor(kvc_case_spec *s) { v_small(s); spec_fp8_tensor(s); }
static void v_int8_head(kvc_case_spec *s) { v_small(s); spec_int8_head(s); }
static void v_nvfp4(kvc_case_spec *s)
{
    v_small(s);
    s->cfg.head_dim = 32;
    spec_nvfp4(s);
}

#define P KVC_MODE_PAGED
#define BL KVC_MODE_BLOCKED
#define QE KVC_MODE_QEFF
static const variant_case variants[] = {
    {P, KVC_INV_HEADS_RATIO, "KVA_ERR_SHAPE", "num_q_heads not a multiple of num_kv_heads", v_small},
    {P, KVC_INV_HEAD_DIM_0, "KVA_ERR_SHAPE", "head_dim < 1", v_small},
    {P, KVC_INV_SCALE_NONFINITE, "KVA_ERR_PARAM", "a scale that is not finite", v_small},
    {P, KVC_INV_SOFTCAP_NEGATIVE, "KVA_ERR_PARAM", "a negative softcap", v_softcap},
    {P, KVC_INV_WINDOW_BELOW, "KVA_ERR_PARAM", "window_left < -1", v_small},
    {P, KVC_INV_STRIDES_OVERLAP, "KVA_ERR_SHAPE", "cache strides whose rows overlap", v_small},
    {P, KVC_INV_FORMAT_UNKNOWN, "KVA_ERR_FORMAT", "a dtype or scale kind it does not know or that the dtype does not take", v_small},
    {P, KVC_INV_STATIC_SCALE, "KVA_ERR_FORMAT", "a static scale that is 0, negative or not finite", v_fp8_tensor},
    {P, KVC_INV_STATIC_SCALE, "KVA_ERR_FORMAT", "a per-head static scale that is 0, negative or not finite", v_int8_head},
    {P, KVC_INV_NVFP4_HEAD_DIM, "KVA_ERR_FORMAT", "nvfp4 with head_dim not a multiple of 16", v_nvfp4},
    {P, KVC_INV_QSL_DECREASING, "KVA_ERR_LENGTH", "a decreasing query_start_loc", v_two_seqs},
    {BL, KVC_INV_HEADS_RATIO, "KVA_ERR_SHAPE", "num_q_heads not a multiple of num_kv_heads", v_small},
    {BL, KVC_INV_SOFTCAP_NEGATIVE, "KVA_ERR_PARAM", "a negative softcap", v_softcap},
    {BL, KVC_INV_SCALE_NONFINITE, "KVA_ERR_PARAM", "a scale that is not finite", v_small},
    {BL, KVC_INV_QSL_DECREASING, "KVA_ERR_LENGTH", "a decreasing query_start_loc", v_two_seqs},
    {QE, KVC_INV_HEAD_DIM_0, "KVA_ERR_SHAPE", "head_dim < 1", v_small},
    {QE, KVC_INV_WINDOW_BELOW, "KVA_ERR_PARAM", "window_left < -1", v_small},
    {QE, KVC_INV_STRIDES_OVERLAP, "KVA_ERR_SHAPE", "cache strides whose rows overlap", v_small},
};
#undef P
#undef BL
#undef QE

static int add_variants(kvc_golden_file *f, kvc_mode mode, char *err,
                        size_t errlen)
{
    kvc_invalid_opts io = {.kernel_writes_cache = 1};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const variant_case *v = &variants[i];
        if (v->mode != mode)
            continue;
        kvc_case_spec spec = kvc_named_base(mode);
        spec.leak_sensitive = 0;
        v->spec(&spec);
        kvc_golden_test t;
        if (test_from_spec(&t, &spec, kvc_case_seed(KVC_GOLDEN_SEED, 3000 + i),
                           "", err, errlen) != 0)
            return -1;
        if (kvc_invalid_break(&t.c, v->rule,
                              kvc_invalid_seed(KVC_GOLDEN_SEED, 3000 + i), &io,
                              &t.inv) != 0) {
            snprintf(err, errlen, "variant %zu: rule %s does not apply", i,
                     kvc_invalid_rule_name(v->rule));
            kvc_golden_test_free(&t);
            return -1;
        }
        t.has_variant = 1;
        t.flags = kvc_golden_flags(&t.c);
        t.result = KVC_EXPECT_INVALID;
        snprintf(t.error, sizeof t.error, "%s", v->error);
        snprintf(t.comment, sizeof t.comment, "%s: %s: kvattn.h refuses %s "
                 "with %s", kvc_invalid_rule_name(v->rule), t.inv.what,
                 v->refuses, v->error);
        if (add_test(f, &t, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int kvc_golden_standard(kvc_mode mode, kvc_golden_file *f, char *err,
                        size_t errlen)
{
    memset(f, 0, sizeof *f);
    snprintf(f->generator, sizeof f->generator, "kvcheck golden regen");
    snprintf(f->oracle_version, sizeof f->oracle_version, "%s",
             KVC_ORACLE_VERSION);
    if (add_named(f, mode, err, errlen) != 0 ||
        add_cover(f, mode, err, errlen) != 0 ||
        add_formats(f, mode, err, errlen) != 0 ||
        add_mutations(f, mode, err, errlen) != 0 ||
        add_extras(f, mode, err, errlen) != 0 ||
        add_variants(f, mode, err, errlen) != 0) {
        kvc_golden_free(f);
        return -1;
    }
    return 0;
}
