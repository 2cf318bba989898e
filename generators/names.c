/* names.c — names of modes, kinds and flags; the one-line description. */
#include "gen_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const mode_names[KVC_MODE_COUNT] = {"paged", "blocked", "qeff"};
static const char *const table_names[KVC_TABLE_COUNT] = {
    "permuted", "reversed", "pool_end", "shared_prefix"};
static const char *const values_names[KVC_VALUES_COUNT] = {
    "normal", "uniform", "outliers", "near_ties", "equal_keys", "one_hot",
    "growing"};
static const char *const mask_names[KVC_MASK_COUNT] = {
    "none", "random", "first_block", "empty_rows"};
static const char *const flag_names[KVC_FLAG_ALL_COUNT] = {
    [KVC_FLAG_PREFILL] = "prefill",
    [KVC_FLAG_CHUNKED_PREFILL] = "chunked_prefill",
    [KVC_FLAG_DECODE] = "decode",
    [KVC_FLAG_SPEC_DECODE] = "spec_decode",
    [KVC_FLAG_MHA] = "mha",
    [KVC_FLAG_GQA] = "gqa",
    [KVC_FLAG_MQA] = "mqa",
    [KVC_FLAG_ODD_HEAD_DIM] = "odd_head_dim",
    [KVC_FLAG_BLOCK_SIZE_1] = "block_size_1",
    [KVC_FLAG_SEQ_ON_BLOCK_EDGE] = "seq_on_block_edge",
    [KVC_FLAG_CHUNK_ENDS_ON_BLOCK] = "chunk_ends_on_block",
    [KVC_FLAG_BIDIRECTIONAL] = "bidirectional",
    [KVC_FLAG_WINDOW] = "window",
    [KVC_FLAG_WINDOW_IN_BLOCK] = "window_in_block",
    [KVC_FLAG_SOFTCAP] = "softcap",
    [KVC_FLAG_CUSTOM_MASK] = "custom_mask",
    [KVC_FLAG_MASKED_FIRST_BLOCK] = "masked_first_block",
    [KVC_FLAG_EMPTY_ROW] = "empty_row",
    [KVC_FLAG_Q_LEN_0] = "q_len_0",
    [KVC_FLAG_KV_LEN_0] = "kv_len_0",
    [KVC_FLAG_PADDING_TOKENS] = "padding_tokens",
    [KVC_FLAG_SHARED_PREFIX] = "shared_prefix",
    [KVC_FLAG_TABLE_REVERSED] = "table_reversed",
    [KVC_FLAG_TABLE_POOL_END] = "table_pool_end",
    [KVC_FLAG_HND] = "hnd",
    [KVC_FLAG_PADDED_STRIDES] = "padded_strides",
    [KVC_FLAG_LEAK_SENSITIVE] = "leak_sensitive",
    [KVC_FLAG_OUTLIERS] = "outliers",
    [KVC_FLAG_NEAR_TIES] = "near_ties",
    [KVC_FLAG_EQUAL_KEYS] = "equal_keys",
    [KVC_FLAG_ONE_HOT] = "one_hot",
    [KVC_FLAG_GROWING_SCORES] = "growing_scores",
    [KVC_FLAG_QEFF_LEFT_PAD] = "qeff_left_pad",
    [KVC_FLAG_LARGE_OFFSETS] = "large_offsets",
    [KVC_FLAG_KV_F16] = "kv_f16",
    [KVC_FLAG_KV_BF16] = "kv_bf16",
    [KVC_FLAG_KV_FP8_E4M3] = "kv_fp8_e4m3",
    [KVC_FLAG_KV_FP8_E5M2] = "kv_fp8_e5m2",
    [KVC_FLAG_KV_INT8] = "kv_int8",
    [KVC_FLAG_KV_NVFP4] = "kv_nvfp4",
    [KVC_FLAG_SCALE_TENSOR] = "scale_tensor",
    [KVC_FLAG_SCALE_HEAD] = "scale_attn_head",
    [KVC_FLAG_SCALE_TOKEN] = "scale_token",
    [KVC_FLAG_SCALE_GROUP] = "scale_group",
    [KVC_FLAG_FORMAT_EDGES] = "format_edges",
    [KVC_FLAG_SCALE_HUGE] = "scale_huge",
    [KVC_FLAG_SCALE_TINY] = "scale_tiny",
    [KVC_FLAG_BAD_BLOCK_ID] = "bad_block_id",
    [KVC_FLAG_BAD_SLOT] = "bad_slot",
    [KVC_FLAG_DUPLICATE_SLOT] = "duplicate_slot",
    [KVC_FLAG_SEQ_BEYOND_TABLE] = "seq_beyond_table",
    [KVC_FLAG_QEFF_CROSSING_WRITE] = "qeff_crossing_write",
    [KVC_FLAG_QEFF_SLOT_ID_MISMATCH] = "qeff_slot_id_mismatch",
    [KVC_FLAG_BAD_TILE_COUNT] = "bad_tile_count",
    [KVC_FLAG_FREED_BELOW_WINDOW] = "freed_below_window",
    [KVC_FLAG_BAD_KV_FORMAT] = "bad_kv_format",
    [KVC_FLAG_UNNESTED_STRIDES] = "unnested_strides",
    [KVC_FLAG_OVERLAPPING_STRIDES] = "overlapping_strides",
    [KVC_FLAG_BAD_PARAM] = "bad_param",
    [KVC_FLAG_BAD_SHAPE] = "bad_shape",
    [KVC_FLAG_QSL_DECREASING] = "qsl_decreasing",
    [KVC_FLAG_QEFF_POSITIONS] = "qeff_positions",
};
static const char *const scale_family_names[KVC_SCALES_COUNT] = {
    "calibrated", "pow2", "huge", "tiny"};

static const char *name_of(const char *const *names, int n, int v)
{
    return (v >= 0 && v < n && names[v]) ? names[v] : "?";
}

static int parse_in(const char *const *names, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *kvc_mode_name(kvc_mode m)
{
    return name_of(mode_names, KVC_MODE_COUNT, (int)m);
}

int kvc_mode_parse(const char *s, kvc_mode *m)
{
    int i = parse_in(mode_names, KVC_MODE_COUNT, s);
    if (i < 0)
        return -1;
    if (m)
        *m = (kvc_mode)i;
    return 0;
}

const char *kvc_flag_name(int bit)
{
    if (bit < 0 || bit >= KVC_FLAG_ALL_COUNT)
        return NULL;
    return flag_names[bit];
}

const char *kvc_table_name(kvc_table_kind t)
{
    return name_of(table_names, KVC_TABLE_COUNT, (int)t);
}

int kvc_table_parse(const char *s, kvc_table_kind *t)
{
    int i = parse_in(table_names, KVC_TABLE_COUNT, s);
    if (i < 0)
        return -1;
    if (t)
        *t = (kvc_table_kind)i;
    return 0;
}

const char *kvc_values_name(kvc_values_kind v)
{
    return name_of(values_names, KVC_VALUES_COUNT, (int)v);
}

int kvc_values_parse(const char *s, kvc_values_kind *v)
{
    int i = parse_in(values_names, KVC_VALUES_COUNT, s);
    if (i < 0)
        return -1;
    if (v)
        *v = (kvc_values_kind)i;
    return 0;
}

const char *kvc_scale_family_name(kvc_scale_family f)
{
    return name_of(scale_family_names, KVC_SCALES_COUNT, (int)f);
}

int kvc_scale_family_parse(const char *s, kvc_scale_family *f)
{
    int i = parse_in(scale_family_names, KVC_SCALES_COUNT, s);
    if (i < 0)
        return -1;
    if (f)
        *f = (kvc_scale_family)i;
    return 0;
}

const char *kvc_mask_name(kvc_mask_kind m)
{
    return name_of(mask_names, KVC_MASK_COUNT, (int)m);
}

int kvc_mask_parse(const char *s, kvc_mask_kind *m)
{
    int i = parse_in(mask_names, KVC_MASK_COUNT, s);
    if (i < 0)
        return -1;
    if (m)
        *m = (kvc_mask_kind)i;
    return 0;
}

/* Append to buf at *used, never past n (output is truncated, always
 * NUL-terminated). */
static void put(char *buf, size_t n, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *used, n - *used, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    *used += (size_t)w;
    if (*used >= n)
        *used = n - 1;
}

void kvc_case_describe(const kvc_case *c, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    buf[0] = '\0';
    if (!c)
        return;
    const kvc_case_spec *s = &c->spec;
    const kvc_config *g = &s->cfg;
    size_t u = 0;
    put(buf, n, &u, "%s S=%d Hq/Hkv=%d/%d D=%d", kvc_mode_name(s->mode),
        s->num_seqs, g->num_q_heads, g->num_kv_heads, g->head_dim);
    if (s->mode == KVC_MODE_BLOCKED)
        put(buf, n, &u, " CL=%d nkb=%d", s->cache_len, s->num_kv_blocks);
    else
        put(buf, n, &u, " B=%d", s->block_size);
    put(buf, n, &u, " ctx+q=[");
    for (int i = 0; i < s->num_seqs && i < KVC_MAX_SEQS; i++)
        put(buf, n, &u, "%s%d+%d", i ? "," : "", s->ctx_len[i], s->q_len[i]);
    put(buf, n, &u, "]");
    if (s->pad_tokens)
        put(buf, n, &u, " pad=%d", s->pad_tokens);
    put(buf, n, &u, " %s", g->causal ? "causal" : "bidir");
    if (g->window_left >= 0)
        put(buf, n, &u, " win=%d", g->window_left);
    put(buf, n, &u, " scale=%.9g", (double)g->scale);
    if (g->softcap > 0)
        put(buf, n, &u, " softcap=%g", (double)g->softcap);
    put(buf, n, &u, " mask=%s values=%s", kvc_mask_name(s->mask),
        kvc_values_name(s->values));
    if (s->mode != KVC_MODE_BLOCKED) {
        put(buf, n, &u, " table=%s %s", kvc_table_name(s->table),
            s->hnd ? "hnd" : "nhd");
        if (s->stride_pad)
            put(buf, n, &u, "+%d", s->stride_pad);
        if (s->extra_blocks)
            put(buf, n, &u, " extra=%d", s->extra_blocks);
    }
    if (s->mode == KVC_MODE_QEFF)
        put(buf, n, &u, " max_q=%d%s", s->qeff_max_q,
            s->qeff_left_pad ? " left_pad" : "");
    if (s->leak_sensitive)
        put(buf, n, &u, " leak=%d", c->num_leaks);
    if (s->kv_dtype != KVC_KV_F32) {
        put(buf, n, &u, " kv=%s", kvc_kv_dtype_name(s->kv_dtype));
        if (s->kv_scale != KVC_SCALE_NONE)
            put(buf, n, &u, "/%s", kvc_scale_kind_name(s->kv_scale));
        if (s->kv_scale == KVC_SCALE_TENSOR || s->kv_scale == KVC_SCALE_HEAD ||
            s->kv_scale == KVC_SCALE_GROUP)
            put(buf, n, &u, " scales=%s",
                kvc_scale_family_name(s->scale_family));
        if (s->format_edges)
            put(buf, n, &u, " edges");
        if (s->kernel_calibration)
            put(buf, n, &u, " kernel_calibration");
    }
    if (s->special_inputs)
        put(buf, n, &u, " specials");
}
