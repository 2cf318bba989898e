/* named.c — the named boundary cases (see named.h). */
#include "named.h"

#include <math.h>
#include <string.h>

kvc_case_spec kvc_named_base(kvc_mode mode)
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
    s.cache_len = mode == KVC_MODE_BLOCKED ? 128 : 0;
    s.num_kv_blocks = mode == KVC_MODE_BLOCKED ? 4 : 0;
    s.mask = KVC_MASK_NONE;
    s.values = KVC_VALUES_NORMAL;
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

static void t_decode(kvc_case_spec *s) { (void)s; }
static void t_prefill(kvc_case_spec *s) { set_seqs(s, 1, (int[]){0}, (int[]){16}); }
static void t_prefill_b_plus_1(kvc_case_spec *s) { set_seqs(s, 1, (int[]){0}, (int[]){17}); }
static void t_chunk_ends_on_block(kvc_case_spec *s) { set_seqs(s, 1, (int[]){20}, (int[]){12}); }
static void t_chunk_b_minus_1(kvc_case_spec *s) { set_seqs(s, 1, (int[]){16}, (int[]){15}); }
static void t_spec_decode(kvc_case_spec *s) { set_seqs(s, 2, (int[]){33, 7}, (int[]){4, 3}); }
static void t_block_size_1(kvc_case_spec *s) { s->block_size = 1; set_seqs(s, 2, (int[]){5, 0}, (int[]){3, 4}); }
static void t_block_size_3(kvc_case_spec *s) { s->block_size = 3; set_seqs(s, 2, (int[]){8, 9}, (int[]){1, 3}); }
static void t_block_size_64(kvc_case_spec *s) { s->block_size = 64; set_seqs(s, 2, (int[]){130, 63}, (int[]){3, 2}); }
static void t_large_offsets(kvc_case_spec *s) { s->large_offsets = 1; set_seqs(s, 2, (int[]){40, 3}, (int[]){1, 2}); }
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

/* KV cache formats: every format x strategy, on values laid on the
 * format's rounding midpoints (format_edges), two sequences so context and
 * new tokens both carry codes. Not leak-sensitive where the format turns
 * infinities (and for int8/nvfp4 NaN) into finite codes, so those inputs
 * appear too. */
static void kv(kvc_case_spec *s, kvc_kv_dtype d, kvc_scale_kind k,
               kvc_scale_family f)
{
    s->kv_dtype = d;
    s->kv_scale = k;
    s->scale_family = f;
    s->format_edges = 1;
    s->leak_sensitive = 0;
    set_seqs(s, 2, (int[]){20, 5}, (int[]){1, 3});
}
static void f_f16(kvc_case_spec *s) { kv(s, KVC_KV_F16, KVC_SCALE_NONE, KVC_SCALES_CALIBRATED); }
static void f_bf16(kvc_case_spec *s) { kv(s, KVC_KV_BF16, KVC_SCALE_NONE, KVC_SCALES_CALIBRATED); }
static void f_e4m3_tensor(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR, KVC_SCALES_POW2); }
static void f_e4m3_head(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E4M3, KVC_SCALE_HEAD, KVC_SCALES_POW2); }
static void f_e4m3_token(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E4M3, KVC_SCALE_TOKEN, KVC_SCALES_CALIBRATED); }
static void f_e5m2_tensor(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E5M2, KVC_SCALE_TENSOR, KVC_SCALES_POW2); }
static void f_e5m2_head(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E5M2, KVC_SCALE_HEAD, KVC_SCALES_POW2); }
static void f_e5m2_token(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E5M2, KVC_SCALE_TOKEN, KVC_SCALES_CALIBRATED); }
static void f_int8_tensor(kvc_case_spec *s) { kv(s, KVC_KV_INT8, KVC_SCALE_TENSOR, KVC_SCALES_POW2); }
static void f_int8_head(kvc_case_spec *s) { kv(s, KVC_KV_INT8, KVC_SCALE_HEAD, KVC_SCALES_POW2); }
static void f_int8_token(kvc_case_spec *s) { kv(s, KVC_KV_INT8, KVC_SCALE_TOKEN, KVC_SCALES_CALIBRATED); }
static void f_nvfp4_group(kvc_case_spec *s) { kv(s, KVC_KV_NVFP4, KVC_SCALE_GROUP, KVC_SCALES_POW2); }
/* calibrated static scales on plain data, leak-sensitive: the common case */
static void f_e4m3_calibrated(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR, KVC_SCALES_CALIBRATED); s->format_edges = 0; s->leak_sensitive = 1; }
static void f_nvfp4_calibrated(kvc_case_spec *s) { kv(s, KVC_KV_NVFP4, KVC_SCALE_GROUP, KVC_SCALES_CALIBRATED); s->cfg.head_dim = 32; s->format_edges = 0; s->leak_sensitive = 1; }
/* extreme static scales: every code saturates, or underflows */
static void f_e4m3_tiny(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR, KVC_SCALES_TINY); }
static void f_e5m2_huge(kvc_case_spec *s) { kv(s, KVC_KV_FP8_E5M2, KVC_SCALE_HEAD, KVC_SCALES_HUGE); }
static void f_int8_huge(kvc_case_spec *s) { kv(s, KVC_KV_INT8, KVC_SCALE_TENSOR, KVC_SCALES_HUGE); }
static void f_int8_tiny(kvc_case_spec *s) { kv(s, KVC_KV_INT8, KVC_SCALE_HEAD, KVC_SCALES_TINY); }
static void f_nvfp4_huge(kvc_case_spec *s) { kv(s, KVC_KV_NVFP4, KVC_SCALE_GROUP, KVC_SCALES_HUGE); }
static void f_nvfp4_tiny(kvc_case_spec *s) { kv(s, KVC_KV_NVFP4, KVC_SCALE_GROUP, KVC_SCALES_TINY); }
/* storage units in the strides: odd byte padding, HND */
static void f_nvfp4_padded(kvc_case_spec *s) { f_nvfp4_group(s); s->cfg.head_dim = 48; s->stride_pad = 3; s->hnd = 1; }
static void f_e5m2_token_hnd(kvc_case_spec *s) { f_e5m2_token(s); s->stride_pad = 1; s->hnd = 1; }
static void f_f16_odd_dim(kvc_case_spec *s) { f_f16(s); s->cfg.head_dim = 17; s->cfg.scale = 1.0f / sqrtf(17.0f); }

/* Blocked: the same shapes over a contiguous cache, with tile counts that
 * do and do not divide the cache length. */
static void b_one_tile(kvc_case_spec *s) { s->num_kv_blocks = 1; }
static void b_uneven_tiles(kvc_case_spec *s) { s->cache_len = 50; s->num_kv_blocks = 3; set_seqs(s, 2, (int[]){30, 0}, (int[]){3, 17}); }
static void b_tile_per_pos(kvc_case_spec *s) { s->cache_len = 21; s->num_kv_blocks = 21; }
static void b_more_tiles_than_cl(kvc_case_spec *s) { s->cache_len = 21; s->num_kv_blocks = 8; s->values = KVC_VALUES_GROWING; }
static void b_full_cache(kvc_case_spec *s) { s->cache_len = 21; }
static void b_window_mask(kvc_case_spec *s) { s->cfg.window_left = 5; s->mask = KVC_MASK_RANDOM; set_seqs(s, 1, (int[]){12}, (int[]){7}); }

/* QEfficient: writes that stay inside one block. */
static void q_decode_edge(kvc_case_spec *s) { set_seqs(s, 2, (int[]){15, 16}, (int[]){1, 1}); }
static void q_fill_block(kvc_case_spec *s) { set_seqs(s, 1, (int[]){16}, (int[]){16}); s->qeff_max_q = 16; }
static void q_left_pad(kvc_case_spec *s) { s->qeff_left_pad = 1; set_seqs(s, 3, (int[]){3, 40, 0}, (int[]){2, 1, 4}); }
static void q_idle_row(kvc_case_spec *s) { set_seqs(s, 2, (int[]){9, 5}, (int[]){0, 3}); }
static void q_hnd(kvc_case_spec *s) { t_hnd(s); s->qeff_max_q = 5; }
static void q_large_offsets(kvc_case_spec *s) { s->large_offsets = 1; s->block_size = 1; set_seqs(s, 2, (int[]){7, 0}, (int[]){1, 1}); }
static void q_window(kvc_case_spec *s) { s->cfg.window_left = 2; set_seqs(s, 1, (int[]){10}, (int[]){4}); }

static const kvc_named_case named[] = {
    {"paged.decode", "decode: one new token attending over a partly filled last block", KVC_MODE_PAGED, t_decode},
    {"paged.prefill", "prefill of exactly one block (ctx 0, q = B)", KVC_MODE_PAGED, t_prefill},
    {"paged.prefill_b_plus_1", "prefill of B+1 tokens: the second block holds one key", KVC_MODE_PAGED, t_prefill_b_plus_1},
    {"paged.chunk_ends_on_block", "a prefill chunk that ends exactly on a block boundary", KVC_MODE_PAGED, t_chunk_ends_on_block},
    {"paged.chunk_b_minus_1", "a chunk of B-1 tokens starting on a block boundary", KVC_MODE_PAGED, t_chunk_b_minus_1},
    {"paged.spec_decode", "speculative decode: several new tokens after a long context", KVC_MODE_PAGED, t_spec_decode},
    {"paged.block_size_1", "block size 1: every position its own block", KVC_MODE_PAGED, t_block_size_1},
    {"paged.block_size_3", "block size 3: odd, not a power of two", KVC_MODE_PAGED, t_block_size_3},
    {"paged.block_size_64", "block size 64: long blocks, a chunk crossing from one into the next", KVC_MODE_PAGED, t_block_size_64},
    {"paged.large_offsets", "block ids above a huge unused stretch: element offsets past 2^32 (sparse pool)", KVC_MODE_PAGED, t_large_offsets},
    {"paged.mha", "MHA: Hq == Hkv (3 heads, not a power of two)", KVC_MODE_PAGED, t_mha},
    {"paged.mqa", "MQA: 8 query heads share one KV head", KVC_MODE_PAGED, t_mqa},
    {"paged.head_dim_1", "head_dim 1", KVC_MODE_PAGED, t_head_dim_1},
    {"paged.head_dim_17", "head_dim 17: not a multiple of any vector width", KVC_MODE_PAGED, t_head_dim_17},
    {"paged.head_dim_129", "head_dim 129: one past a common size", KVC_MODE_PAGED, t_head_dim_129},
    {"paged.window_0", "sliding window of 1 token (window_left 0): only the diagonal", KVC_MODE_PAGED, t_window_0},
    {"paged.window_in_block", "a sliding window whose first key is inside a block", KVC_MODE_PAGED, t_window_in_block},
    {"paged.window_block_edge", "a sliding window that starts exactly on a block boundary", KVC_MODE_PAGED, t_window_block_edge},
    {"paged.softcap", "soft-capping with outlier scores", KVC_MODE_PAGED, t_softcap},
    {"paged.bidirectional", "bidirectional attention in a chunk", KVC_MODE_PAGED, t_bidirectional},
    {"paged.custom_mask", "a random custom mask on two sequences", KVC_MODE_PAGED, t_custom_mask},
    {"paged.masked_first_block", "first block fully masked: the running max starts at -inf", KVC_MODE_PAGED, t_masked_first_block},
    {"paged.empty_rows", "rows with no visible key: out 0, lse -inf", KVC_MODE_PAGED, t_empty_rows},
    {"paged.q_len_0", "sequences with no new tokens, and one with no tokens at all", KVC_MODE_PAGED, t_q_len_0},
    {"paged.no_seqs", "an empty batch of padding tokens only", KVC_MODE_PAGED, t_no_seqs},
    {"paged.padding_tokens", "padding tokens after the last sequence: rows untouched", KVC_MODE_PAGED, t_padding_tokens},
    {"paged.shared_prefix", "three sequences sharing their prefix blocks", KVC_MODE_PAGED, t_shared_prefix},
    {"paged.reversed_table", "block table in reverse pool order", KVC_MODE_PAGED, t_reversed},
    {"paged.pool_end", "the last blocks of the pool", KVC_MODE_PAGED, t_pool_end},
    {"paged.hnd", "HND cache layout", KVC_MODE_PAGED, t_hnd},
    {"paged.padded_strides", "padded strides between head rows", KVC_MODE_PAGED, t_padded_strides},
    {"paged.one_hot", "one key dominates each row", KVC_MODE_PAGED, t_one_hot},
    {"paged.growing_scores", "scores grow block after block: every rescale matters", KVC_MODE_PAGED, t_growing},
    {"paged.near_ties", "scores equal up to an ulp", KVC_MODE_PAGED, t_near_ties},
    {"paged.equal_keys", "all keys equal: uniform weights over 100 keys", KVC_MODE_PAGED, t_equal_keys},
    {"paged.long_context", "a 2000-token context with small heads", KVC_MODE_PAGED, t_long_context},
    {"paged.kv_f16", "f16 cache: values on binary16 rounding midpoints +-1 ulp, subnormals, 65504", KVC_MODE_PAGED, f_f16},
    {"paged.kv_bf16", "bf16 cache: values on bfloat16 rounding midpoints +-1 ulp, subnormals", KVC_MODE_PAGED, f_bf16},
    {"paged.kv_fp8_e4m3_tensor", "fp8 e4m3, per-tensor power-of-two scale: midpoints, subnormals, saturation past 448, infinities", KVC_MODE_PAGED, f_e4m3_tensor},
    {"paged.kv_fp8_e4m3_attn_head", "fp8 e4m3, one scale per KV head: midpoints, saturation", KVC_MODE_PAGED, f_e4m3_head},
    {"paged.kv_fp8_e4m3_token", "fp8 e4m3, dynamic per-token scales exact powers of two; all-zero rows (scale 2^-23)", KVC_MODE_PAGED, f_e4m3_token},
    {"paged.kv_fp8_e5m2_tensor", "fp8 e5m2, per-tensor scale: midpoints, subnormals, saturation past 57344", KVC_MODE_PAGED, f_e5m2_tensor},
    {"paged.kv_fp8_e5m2_attn_head", "fp8 e5m2, one scale per KV head", KVC_MODE_PAGED, f_e5m2_head},
    {"paged.kv_fp8_e5m2_token", "fp8 e5m2, dynamic per-token scales", KVC_MODE_PAGED, f_e5m2_token},
    {"paged.kv_int8_tensor", "int8, per-tensor scale: half-integer ties, clamping to [-128, 127], NaN to 0", KVC_MODE_PAGED, f_int8_tensor},
    {"paged.kv_int8_attn_head", "int8, one scale per KV head", KVC_MODE_PAGED, f_int8_head},
    {"paged.kv_int8_token", "int8, dynamic per-token scales (amax / 127.5: the amax itself rounds to 128 and clamps)", KVC_MODE_PAGED, f_int8_token},
    {"paged.kv_nvfp4_group", "nvfp4: e2m1 ties (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5), exact block scales, all-zero groups (code 0x01)", KVC_MODE_PAGED, f_nvfp4_group},
    {"paged.kv_fp8_e4m3_calibrated", "fp8 e4m3 with the min-max calibrated tensor scale on plain normal data", KVC_MODE_PAGED, f_e4m3_calibrated},
    {"paged.kv_nvfp4_calibrated", "nvfp4 with the calibrated global scale 2688 / amax, head_dim 32 (two groups)", KVC_MODE_PAGED, f_nvfp4_calibrated},
    {"paged.kv_fp8_e4m3_tiny_scale", "fp8 e4m3 with a scale far below the data: codes saturate at +-448", KVC_MODE_PAGED, f_e4m3_tiny},
    {"paged.kv_fp8_e5m2_huge_scale", "fp8 e5m2 with per-head scales far above the data: subnormal and zero codes", KVC_MODE_PAGED, f_e5m2_huge},
    {"paged.kv_int8_huge_scale", "int8 with a scale far above the data: most codes round to 0", KVC_MODE_PAGED, f_int8_huge},
    {"paged.kv_int8_tiny_scale", "int8 with per-head scales far below the data: codes clamp", KVC_MODE_PAGED, f_int8_tiny},
    {"paged.kv_nvfp4_huge_global", "nvfp4 with a huge global scale: every block code saturates at 448", KVC_MODE_PAGED, f_nvfp4_huge},
    {"paged.kv_nvfp4_tiny_global", "nvfp4 with a tiny global scale: block codes underflow to 0x01", KVC_MODE_PAGED, f_nvfp4_tiny},
    {"paged.kv_nvfp4_padded_hnd", "nvfp4, head_dim 48, HND with 3 bytes of padding per head row (strides in bytes of two codes)", KVC_MODE_PAGED, f_nvfp4_padded},
    {"paged.kv_fp8_e5m2_token_hnd", "fp8 e5m2 per-token scales in an HND cache with padded rows", KVC_MODE_PAGED, f_e5m2_token_hnd},
    {"paged.kv_f16_head_dim_17", "f16 cache with head_dim 17", KVC_MODE_PAGED, f_f16_odd_dim},
    {"blocked.decode", "decode: one new token attending over a partly filled last block", KVC_MODE_BLOCKED, t_decode},
    {"blocked.prefill", "prefill of exactly one block (ctx 0, q = B)", KVC_MODE_BLOCKED, t_prefill},
    {"blocked.one_tile", "blocked: one tile over the whole cache", KVC_MODE_BLOCKED, b_one_tile},
    {"blocked.uneven_tiles", "blocked: ceil(CL/nkb) does not divide CL", KVC_MODE_BLOCKED, b_uneven_tiles},
    {"blocked.tile_per_position", "blocked: one tile per position", KVC_MODE_BLOCKED, b_tile_per_pos},
    {"blocked.more_tiles_than_cache", "blocked: tiles past the cache end are empty", KVC_MODE_BLOCKED, b_more_tiles_than_cl},
    {"blocked.full_cache", "blocked: kv_len == cache_len", KVC_MODE_BLOCKED, b_full_cache},
    {"blocked.window_mask", "blocked: sliding window and custom mask together", KVC_MODE_BLOCKED, b_window_mask},
    {"blocked.mqa", "MQA: 8 query heads share one KV head", KVC_MODE_BLOCKED, t_mqa},
    {"blocked.head_dim_1", "head_dim 1", KVC_MODE_BLOCKED, t_head_dim_1},
    {"blocked.masked_first_block", "first block fully masked: the running max starts at -inf", KVC_MODE_BLOCKED, t_masked_first_block},
    {"blocked.growing_scores", "scores grow block after block: every rescale matters", KVC_MODE_BLOCKED, t_growing},
    {"blocked.softcap", "soft-capping with outlier scores", KVC_MODE_BLOCKED, t_softcap},
    {"blocked.q_len_0", "sequences with no new tokens, and one with no tokens at all", KVC_MODE_BLOCKED, t_q_len_0},
    {"blocked.kv_fp8_e4m3_token", "blocked over an fp8 e4m3 cache with per-token scales", KVC_MODE_BLOCKED, f_e4m3_token},
    {"blocked.kv_int8_attn_head", "blocked over an int8 cache with per-head scales", KVC_MODE_BLOCKED, f_int8_head},
    {"blocked.kv_nvfp4_group", "blocked over an nvfp4 cache", KVC_MODE_BLOCKED, f_nvfp4_group},
    {"blocked.kv_bf16", "blocked over a bf16 cache", KVC_MODE_BLOCKED, f_bf16},
    {"qeff.decode", "decode: one new token attending over a partly filled last block", KVC_MODE_QEFF, t_decode},
    {"qeff.large_offsets", "QEfficient decode with block ids above a huge unused stretch (offsets past 2^32)", KVC_MODE_QEFF, q_large_offsets},
    {"qeff.decode_block_edge", "QEfficient decode on the last slot of a block and the first of the next", KVC_MODE_QEFF, q_decode_edge},
    {"qeff.fill_block", "QEfficient prefill filling one whole block", KVC_MODE_QEFF, q_fill_block},
    {"qeff.left_pad", "QEfficient rows padded on the left", KVC_MODE_QEFF, q_left_pad},
    {"qeff.idle_row", "QEfficient row with no new tokens", KVC_MODE_QEFF, q_idle_row},
    {"qeff.hnd", "HND cache layout", KVC_MODE_QEFF, q_hnd},
    {"qeff.mqa", "MQA: 8 query heads share one KV head", KVC_MODE_QEFF, t_mqa},
    {"qeff.window_in_block", "QEfficient write inside a block with a sliding window", KVC_MODE_QEFF, q_window},
    {"qeff.kv_fp8_e5m2_tensor", "QEfficient over an fp8 e5m2 cache with a tensor scale", KVC_MODE_QEFF, f_e5m2_tensor},
    {"qeff.kv_int8_token", "QEfficient over an int8 cache with per-token scales", KVC_MODE_QEFF, f_int8_token},
    {"qeff.kv_nvfp4_group", "QEfficient over an nvfp4 cache", KVC_MODE_QEFF, f_nvfp4_group},
    {"qeff.kv_f16", "QEfficient over an f16 cache", KVC_MODE_QEFF, f_f16},
};

size_t kvc_named_count(void)
{
    return sizeof named / sizeof named[0];
}

const kvc_named_case *kvc_named_get(size_t i)
{
    return i < kvc_named_count() ? &named[i] : NULL;
}

kvc_case_spec kvc_named_spec(const kvc_named_case *nc)
{
    kvc_case_spec s = kvc_named_base(nc->mode);
    nc->tweak(&s);
    return s;
}
