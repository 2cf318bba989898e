/*
 * test_crosscheck.c — each kernel against the oracle over a fixed list of
 * named boundary cases, a short random campaign (no false alarms), and the
 * proof that the gate bites (a planted online-softmax bug is reported).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../tools/campaign.h"
#include "planted_kernels.h"

/* A small, valid base: 1 sequence, GQA 4/2, D 16, B 16, decode at 20. */
static kvc_case_spec base_spec(kvc_mode mode)
{
    kvc_case_spec s;
    memset(&s, 0, sizeof s);
    s.mode = mode;
    s.cfg = (kvc_config){4, 2, 16, 0.25f, 0.0f, 1, KVC_NO_WINDOW};
    s.num_seqs = 1;
    s.ctx_len[0] = 20;
    s.q_len[0] = 1;
    s.block_size = 16;
    s.table = KVC_TABLE_PERMUTED;
    s.extra_blocks = 2;
    s.cache_len = 64;
    s.num_kv_blocks = 4;
    s.mask = KVC_MASK_NONE;
    s.values = KVC_VALUES_NORMAL;
    s.leak_sensitive = 1;
    s.qeff_max_q = 4;
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

typedef void (*tweak_fn)(kvc_case_spec *);

typedef struct named_case {
    const char *name;
    tweak_fn tweak;
} named_case;

static void t_decode(kvc_case_spec *s) { (void)s; }
static void t_prefill(kvc_case_spec *s) { set_seqs(s, 1, (int[]){0}, (int[]){16}); }
static void t_prefill_b_plus_1(kvc_case_spec *s) { set_seqs(s, 1, (int[]){0}, (int[]){17}); }
static void t_chunk_ends_on_block(kvc_case_spec *s) { set_seqs(s, 1, (int[]){20}, (int[]){12}); }
static void t_chunk_b_minus_1(kvc_case_spec *s) { set_seqs(s, 1, (int[]){16}, (int[]){15}); }
static void t_spec_decode(kvc_case_spec *s) { set_seqs(s, 2, (int[]){33, 7}, (int[]){4, 3}); }
static void t_block_size_1(kvc_case_spec *s) { s->block_size = 1; set_seqs(s, 2, (int[]){5, 0}, (int[]){3, 4}); }
static void t_block_size_3(kvc_case_spec *s) { s->block_size = 3; set_seqs(s, 2, (int[]){8, 9}, (int[]){1, 3}); }
static void t_mha(kvc_case_spec *s) { s->cfg.num_q_heads = 3; s->cfg.num_kv_heads = 3; }
static void t_mqa(kvc_case_spec *s) { s->cfg.num_q_heads = 8; s->cfg.num_kv_heads = 1; }
static void t_head_dim_1(kvc_case_spec *s) { s->cfg.head_dim = 1; s->cfg.scale = 1.0f; }
static void t_head_dim_17(kvc_case_spec *s) { s->cfg.head_dim = 17; s->cfg.scale = 1.0f / sqrtf(17.0f); }
static void t_head_dim_129(kvc_case_spec *s) { s->cfg.head_dim = 129; s->cfg.scale = 1.0f / sqrtf(129.0f); }
static void t_window_0(kvc_case_spec *s) { s->cfg.window_left = 0; set_seqs(s, 1, (int[]){10}, (int[]){5}); }
static void t_window_in_block(kvc_case_spec *s) { s->cfg.window_left = 9; set_seqs(s, 1, (int[]){40}, (int[]){6}); }
static void t_window_block_edge(kvc_case_spec *s) { s->cfg.window_left = 15; set_seqs(s, 1, (int[]){47}, (int[]){1}); }
static void t_softcap(kvc_case_spec *s) { s->cfg.softcap = 5.0f; s->values = KVC_VALUES_OUTLIERS; }
static void t_bidirectional(kvc_case_spec *s) { s->cfg.causal = 0; set_seqs(s, 1, (int[]){3}, (int[]){9}); }
static void t_custom_mask(kvc_case_spec *s) { s->mask = KVC_MASK_RANDOM; set_seqs(s, 2, (int[]){5, 17}, (int[]){6, 2}); }
static void t_masked_first_block(kvc_case_spec *s) { s->mask = KVC_MASK_FIRST_BLOCK; set_seqs(s, 1, (int[]){30}, (int[]){3}); }
static void t_empty_rows(kvc_case_spec *s) { s->mask = KVC_MASK_EMPTY_ROWS; set_seqs(s, 1, (int[]){4}, (int[]){6}); }
static void t_q_len_0(kvc_case_spec *s) { set_seqs(s, 3, (int[]){7, 12, 0}, (int[]){0, 2, 0}); }
static void t_no_seqs(kvc_case_spec *s) { s->num_seqs = 0; s->pad_tokens = 2; }
static void t_padding_tokens(kvc_case_spec *s) { s->pad_tokens = 3; set_seqs(s, 2, (int[]){5, 9}, (int[]){2, 1}); }
static void t_shared_prefix(kvc_case_spec *s) { s->table = KVC_TABLE_SHARED_PREFIX; set_seqs(s, 3, (int[]){40, 35, 33}, (int[]){1, 2, 1}); }
static void t_reversed(kvc_case_spec *s) { s->table = KVC_TABLE_REVERSED; set_seqs(s, 2, (int[]){50, 3}, (int[]){1, 1}); }
static void t_pool_end(kvc_case_spec *s) { s->table = KVC_TABLE_POOL_END; s->extra_blocks = 6; }
static void t_hnd(kvc_case_spec *s) { s->hnd = 1; set_seqs(s, 2, (int[]){31, 0}, (int[]){1, 5}); }
static void t_padded_strides(kvc_case_spec *s) { s->stride_pad = 3; s->hnd = 1; }
static void t_one_hot(kvc_case_spec *s) { s->values = KVC_VALUES_ONE_HOT; set_seqs(s, 1, (int[]){64}, (int[]){2}); }
static void t_growing(kvc_case_spec *s) { s->values = KVC_VALUES_GROWING; set_seqs(s, 1, (int[]){80}, (int[]){1}); }
static void t_near_ties(kvc_case_spec *s) { s->values = KVC_VALUES_NEAR_TIES; }
static void t_equal_keys(kvc_case_spec *s) { s->values = KVC_VALUES_EQUAL_KEYS; set_seqs(s, 1, (int[]){100}, (int[]){1}); }
static void t_long_context(kvc_case_spec *s) { s->cfg.head_dim = 8; s->cfg.scale = 0.35f; set_seqs(s, 1, (int[]){1999}, (int[]){1}); }

static named_case paged_cases[] = {
    {"decode", t_decode}, {"prefill", t_prefill},
    {"prefill_b_plus_1", t_prefill_b_plus_1},
    {"chunk_ends_on_block", t_chunk_ends_on_block},
    {"chunk_b_minus_1", t_chunk_b_minus_1}, {"spec_decode", t_spec_decode},
    {"block_size_1", t_block_size_1}, {"block_size_3", t_block_size_3},
    {"mha", t_mha}, {"mqa", t_mqa}, {"head_dim_1", t_head_dim_1},
    {"head_dim_17", t_head_dim_17}, {"head_dim_129", t_head_dim_129},
    {"window_0", t_window_0}, {"window_in_block", t_window_in_block},
    {"window_block_edge", t_window_block_edge}, {"softcap", t_softcap},
    {"bidirectional", t_bidirectional}, {"custom_mask", t_custom_mask},
    {"masked_first_block", t_masked_first_block},
    {"empty_rows", t_empty_rows}, {"q_len_0", t_q_len_0},
    {"no_seqs", t_no_seqs}, {"padding_tokens", t_padding_tokens},
    {"shared_prefix", t_shared_prefix}, {"reversed_table", t_reversed},
    {"pool_end", t_pool_end}, {"hnd", t_hnd},
    {"padded_strides", t_padded_strides}, {"one_hot", t_one_hot},
    {"growing_scores", t_growing}, {"near_ties", t_near_ties},
    {"equal_keys", t_equal_keys}, {"long_context", t_long_context},
};

/* Criterion may run each parameter in a re-executed process, where
 * pointers into this one mean nothing: parameters are table indices in
 * cr_malloc'd memory, resolved in the child. */
static int *index_params(size_t n)
{
    int *ix = cr_malloc(n * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = (int)i;
    return ix;
}

#define NAMED_COUNT(table) (sizeof table / sizeof table[0])

static void run_named(kvc_case_spec spec, const char *name)
{
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(&spec, 12345, &c, err, sizeof err), 0,
                 "%s: build failed: %s", name, err);
    kvc_result r;
    kvc_outcome o = kvc_run_case(&c, &kvc_builtin_kernel, &r);
    kvc_case_free(&c);
    cr_assert_eq(o, KVC_PASS, "%s [%s]: %s: %s", name,
                 kvc_mode_name(spec.mode), kvc_outcome_name(o), r.message);
    if (r.verdict.seq >= 0)
        cr_assert_leq(r.verdict.ratio, KVC_TOL_THRESHOLD);
}

ParameterizedTestParameters(crosscheck, paged_named)
{
    return cr_make_param_array(int, index_params(NAMED_COUNT(paged_cases)),
                               NAMED_COUNT(paged_cases));
}

ParameterizedTest(int *ix, crosscheck, paged_named)
{
    const named_case *nc = &paged_cases[*ix];
    kvc_case_spec s = base_spec(KVC_MODE_PAGED);
    nc->tweak(&s);
    run_named(s, nc->name);
}

/* Blocked: the same shapes over a contiguous cache, with tile counts that
 * do and do not divide the cache length. */
static void b_one_tile(kvc_case_spec *s) { s->num_kv_blocks = 1; }
static void b_uneven_tiles(kvc_case_spec *s) { s->cache_len = 50; s->num_kv_blocks = 3; set_seqs(s, 2, (int[]){30, 0}, (int[]){3, 17}); }
static void b_tile_per_pos(kvc_case_spec *s) { s->cache_len = 21; s->num_kv_blocks = 21; }
static void b_more_tiles_than_cl(kvc_case_spec *s) { s->cache_len = 21; s->num_kv_blocks = 8; s->values = KVC_VALUES_GROWING; }
static void b_full_cache(kvc_case_spec *s) { s->cache_len = 21; }
static void b_window_mask(kvc_case_spec *s) { s->cfg.window_left = 5; s->mask = KVC_MASK_RANDOM; set_seqs(s, 1, (int[]){12}, (int[]){7}); }

static named_case blocked_cases[] = {
    {"decode", t_decode}, {"prefill", t_prefill},
    {"one_tile", b_one_tile}, {"uneven_tiles", b_uneven_tiles},
    {"tile_per_position", b_tile_per_pos},
    {"more_tiles_than_cache", b_more_tiles_than_cl},
    {"full_cache", b_full_cache}, {"window_mask", b_window_mask},
    {"mqa", t_mqa}, {"head_dim_1", t_head_dim_1},
    {"masked_first_block", t_masked_first_block},
    {"growing_scores", t_growing}, {"softcap", t_softcap},
    {"q_len_0", t_q_len_0},
};

ParameterizedTestParameters(crosscheck, blocked_named)
{
    return cr_make_param_array(int, index_params(NAMED_COUNT(blocked_cases)),
                               NAMED_COUNT(blocked_cases));
}

ParameterizedTest(int *ix, crosscheck, blocked_named)
{
    const named_case *nc = &blocked_cases[*ix];
    kvc_case_spec s = base_spec(KVC_MODE_BLOCKED);
    s.cache_len = 128;
    nc->tweak(&s);
    run_named(s, nc->name);
}

/* QEfficient: writes that stay inside one block. */
static void q_decode_edge(kvc_case_spec *s) { set_seqs(s, 2, (int[]){15, 16}, (int[]){1, 1}); }
static void q_fill_block(kvc_case_spec *s) { set_seqs(s, 1, (int[]){16}, (int[]){16}); s->qeff_max_q = 16; }
static void q_left_pad(kvc_case_spec *s) { s->qeff_left_pad = 1; set_seqs(s, 3, (int[]){3, 40, 0}, (int[]){2, 1, 4}); }
static void q_idle_row(kvc_case_spec *s) { set_seqs(s, 2, (int[]){9, 5}, (int[]){0, 3}); }
static void q_hnd(kvc_case_spec *s) { t_hnd(s); s->qeff_max_q = 5; }
static void q_window(kvc_case_spec *s) { s->cfg.window_left = 2; set_seqs(s, 1, (int[]){10}, (int[]){4}); }

static named_case qeff_cases[] = {
    {"decode", t_decode}, {"decode_block_edge", q_decode_edge},
    {"fill_block", q_fill_block}, {"left_pad", q_left_pad},
    {"idle_row", q_idle_row}, {"hnd", q_hnd}, {"mqa", t_mqa},
    {"window_in_block", q_window},
};

ParameterizedTestParameters(crosscheck, qeff_named)
{
    return cr_make_param_array(int, index_params(NAMED_COUNT(qeff_cases)),
                               NAMED_COUNT(qeff_cases));
}

ParameterizedTest(int *ix, crosscheck, qeff_named)
{
    const named_case *nc = &qeff_cases[*ix];
    kvc_case_spec s = base_spec(KVC_MODE_QEFF);
    nc->tweak(&s);
    run_named(s, nc->name);
}

static kvc_campaign_opts quiet_campaign(uint64_t seed, uint64_t cases,
                                        int mode)
{
    kvc_campaign_opts o = {.seed = seed, .cases = cases, .forced_mode = mode,
                           .shard_index = 0, .shard_count = 1, .progress = 0,
                           .max_failures_listed = 0, .log = NULL};
    return o;
}

Test(crosscheck, random_campaign_has_no_false_alarms, .timeout = 300)
{
    kvc_campaign_opts o = quiet_campaign(99, 400, -1);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, &kvc_builtin_kernel, &st);
    cr_assert_eq(st.run, 400);
    for (int m = 0; m < KVC_MODE_COUNT; m++)
        cr_assert_gt(st.run_by_mode[m], 50, "mode %s ran %llu cases",
                     kvc_mode_name(m), (unsigned long long)st.run_by_mode[m]);
    cr_assert_eq(rc, 0, "%llu failures, first case %llu",
                 (unsigned long long)st.failed,
                 (unsigned long long)st.first_failure);
    cr_assert_leq(st.worst_ratio, KVC_TOL_THRESHOLD);
}

Test(crosscheck, shards_partition_the_cases)
{
    kvc_campaign_stats all, part;
    kvc_campaign_opts o = quiet_campaign(5, 30, -1);
    kvc_campaign_run(&o, &kvc_builtin_kernel, &all);
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        o.shard_index = i;
        o.shard_count = 4;
        kvc_campaign_run(&o, &kvc_builtin_kernel, &part);
        sum += part.run;
    }
    cr_assert_eq(sum, all.run);
}

/* The gate must bite: the same campaign code, run against a kernel that
 * forgets the online-softmax rescale, reports numeric failures. */
Test(crosscheck, campaign_catches_missing_rescale, .timeout = 300)
{
    kvc_campaign_opts o = quiet_campaign(3, 200, KVC_MODE_PAGED);
    kvc_campaign_stats st;
    int rc = kvc_campaign_run(&o, &kvc_planted_no_rescale, &st);
    cr_assert_eq(rc, 1);
    cr_assert_gt(st.failed_by_outcome[KVC_FAIL_NUMERIC], 0);
    cr_assert_gt(st.worst_ratio, 100.0,
                 "a missed rescale is an O(1) error, far above the bound");
}

/* And on one named case built to need rescaling, deterministically. */
Test(crosscheck, growing_scores_catch_missing_rescale)
{
    kvc_case_spec s = base_spec(KVC_MODE_PAGED);
    t_growing(&s);
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(&s, 7, &c, err, sizeof err), 0, "%s", err);
    kvc_result r;
    cr_assert_eq(kvc_run_case(&c, &kvc_planted_no_rescale, &r),
                 KVC_FAIL_NUMERIC, "%s", r.message);
    cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &r), KVC_PASS, "%s",
                 r.message);
    kvc_case_free(&c);
}
