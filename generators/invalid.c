/*
 * invalid.c — invalid variants of valid cases (invalid.h): which rules
 * apply to a case, and how each is broken. Every choice comes from an RNG
 * seeded by the caller, so a variant replays from (seed, index).
 */
#include "invalid.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_internal.h"

static const struct {
    const char *name;
    int flag;
} rules[KVC_INV_COUNT] = {
    [KVC_INV_NONE] = {"none", -1},
    [KVC_INV_BLOCK_MINUS_1] = {"block_minus_1", KVC_FLAG_BAD_BLOCK_ID},
    [KVC_INV_BLOCK_PAST_POOL] = {"block_past_pool", KVC_FLAG_BAD_BLOCK_ID},
    [KVC_INV_BLOCK_WINDOW_EDGE] = {"block_window_edge", KVC_FLAG_BAD_BLOCK_ID},
    [KVC_INV_SLOT_RANGE] = {"slot_range", KVC_FLAG_BAD_SLOT},
    [KVC_INV_SLOT_DUPLICATE] = {"slot_duplicate", KVC_FLAG_DUPLICATE_SLOT},
    [KVC_INV_SEQ_BEYOND_TABLE] = {"seq_beyond_table", KVC_FLAG_SEQ_BEYOND_TABLE},
    [KVC_INV_QSL_DECREASING] = {"qsl_decreasing", KVC_FLAG_QSL_DECREASING},
    [KVC_INV_HEADS_RATIO] = {"heads_ratio", KVC_FLAG_BAD_SHAPE},
    [KVC_INV_HEAD_DIM_0] = {"head_dim_0", KVC_FLAG_BAD_SHAPE},
    [KVC_INV_SCALE_NONFINITE] = {"scale_nonfinite", KVC_FLAG_BAD_PARAM},
    [KVC_INV_SOFTCAP_NEGATIVE] = {"softcap_negative", KVC_FLAG_BAD_PARAM},
    [KVC_INV_WINDOW_BELOW] = {"window_below", KVC_FLAG_BAD_PARAM},
    [KVC_INV_STRIDES_OVERLAP] = {"strides_overlap", KVC_FLAG_BAD_SHAPE},
    [KVC_INV_FORMAT_UNKNOWN] = {"format_unknown", KVC_FLAG_BAD_KV_FORMAT},
    [KVC_INV_STATIC_SCALE] = {"static_scale", KVC_FLAG_BAD_KV_FORMAT},
    [KVC_INV_NVFP4_HEAD_DIM] = {"nvfp4_head_dim", KVC_FLAG_BAD_KV_FORMAT},
    [KVC_INV_QEFF_CROSSING] = {"qeff_crossing", KVC_FLAG_QEFF_CROSSING_WRITE},
    [KVC_INV_QEFF_SLOT_ID] = {"qeff_slot_id", KVC_FLAG_QEFF_SLOT_ID_MISMATCH},
    [KVC_INV_QEFF_POSITIONS] = {"qeff_positions", KVC_FLAG_QEFF_POSITIONS},
    [KVC_INV_TILE_COUNT] = {"tile_count", KVC_FLAG_BAD_TILE_COUNT},
};

const char *kvc_invalid_rule_name(kvc_invalid_rule r)
{
    return (int)r >= 0 && r < KVC_INV_COUNT ? rules[r].name : "?";
}

int kvc_invalid_rule_flag(kvc_invalid_rule r)
{
    return (int)r >= 0 && r < KVC_INV_COUNT ? rules[r].flag : -1;
}

/* Distinct from kvc_case_seed and every kvc_attempt_seed of the index: the
 * valid draw never sees these bits. */
uint64_t kvc_invalid_seed(uint64_t seed, uint64_t index)
{
    return kvcg_splitmix64(kvc_case_seed(seed, index) ^ 0x1417a11dULL);
}

int kvc_invalid_slot(uint64_t seed, uint64_t index)
{
    return kvcg_splitmix64(kvc_invalid_seed(seed, index)) %
               KVC_INVALID_EVERY == 0;
}

void kvc_invalid_init(const kvc_case *c, kvc_invalid *inv)
{
    memset(inv, 0, sizeof *inv);
    inv->rule = KVC_INV_NONE;
    inv->cfg = c->prob.cfg;
    inv->cache_head_dim = c->prob.cfg.head_dim;
    inv->dtype = (int)c->prob.quant.dtype;
    inv->kind = (int)c->prob.quant.kind;
    inv->k_scale = c->prob.quant.k_scale;
    inv->v_scale = c->prob.quant.v_scale;
    inv->head_scale_index = -1;
    inv->stride_block = c->layout.stride_block;
    inv->stride_slot = c->layout.stride_slot;
    inv->stride_head = c->layout.stride_head;
    inv->qsl_index = -1;
}

/* ---- facts of a case ---------------------------------------------------- */

static int paged_like(const kvc_case *c)
{
    return c->spec.mode == KVC_MODE_PAGED || c->spec.mode == KVC_MODE_QEFF;
}

/* The first position a query of sequence s can see (kvattn.h: lo). */
static int first_needed(const kvc_case *c, int s)
{
    int W = c->prob.cfg.window_left;
    int lo = W >= 0 ? c->prob.ctx_len[s] - W : 0;
    return lo > 0 ? lo : 0;
}

/* Sequences with new tokens (their table entries over [lo, seq_len) are
 * needed, in every mode that has a table), in a bit set. */
static unsigned seqs_with_queries(const kvc_case *c)
{
    unsigned set = 0;
    for (int s = 0; s < c->prob.num_seqs; s++)
        if (c->prob.q_len[s] > 0)
            set |= 1u << s;
    return set;
}

/* Those whose window starts past position 0 (the edge block lo / B is
 * needed, the blocks below it are not). */
static unsigned seqs_with_window_edge(const kvc_case *c)
{
    unsigned set = 0;
    if (c->prob.cfg.window_left < 0)
        return 0;
    for (int s = 0; s < c->prob.num_seqs; s++)
        if (c->prob.q_len[s] > 0 && first_needed(c, s) > 0)
            set |= 1u << s;
    return set;
}

/* Those with at least n new tokens. */
static unsigned seqs_with_q(const kvc_case *c, int n)
{
    unsigned set = 0;
    for (int s = 0; s < c->prob.num_seqs; s++)
        if (c->prob.q_len[s] >= n)
            set |= 1u << s;
    return set;
}

/* QEfficient rows whose write can be moved down to cross a block: at least
 * two new tokens and a whole block below the first one. */
static unsigned seqs_qeff_crossable(const kvc_case *c)
{
    unsigned set = 0;
    int B = c->layout.block_size;
    for (int s = 0; s < c->prob.num_seqs; s++)
        if (c->prob.q_len[s] >= 2 && c->prob.ctx_len[s] >= B)
            set |= 1u << s;
    return set;
}

/* Tokens the cache write writes (slot >= 0). */
static int64_t written_tokens(const kvc_case *c)
{
    int64_t n = 0;
    for (int64_t t = 0; t < c->prob.num_tokens; t++)
        n += c->layout.slot_mapping[t] >= 0;
    return n;
}

/* Blocks the longest sequence with new tokens needs (0 without one). */
static int most_blocks_needed(const kvc_case *c)
{
    int most = 0, B = c->layout.block_size;
    for (int s = 0; s < c->prob.num_seqs; s++)
        if (c->prob.q_len[s] > 0) {
            int n = (kvc_kv_len(&c->prob, s) + B - 1) / B;
            if (n > most)
                most = n;
        }
    return most;
}

/* Dimensions of the paged row grid with more than one index: bit 0 block,
 * 1 slot, 2 head. */
static unsigned grid_dims(const kvc_case *c)
{
    return (c->layout.num_blocks > 1 ? 1u : 0u) |
           (c->layout.block_size > 1 ? 2u : 0u) |
           (c->prob.cfg.num_kv_heads > 1 ? 4u : 0u);
}

static int has_static_scales(const kvc_case *c)
{
    kvc_scale_kind k = c->prob.quant.kind;
    return k == KVC_SCALE_TENSOR || k == KVC_SCALE_GROUP ||
           k == KVC_SCALE_HEAD;
}

int kvc_invalid_applies(const kvc_case *c, kvc_invalid_rule r,
                        const kvc_invalid_opts *o)
{
    kvc_mode m = c->spec.mode;
    int writes = o && o->kernel_writes_cache;
    switch (r) {
    case KVC_INV_BLOCK_MINUS_1:
    case KVC_INV_BLOCK_PAST_POOL:
        return paged_like(c) && seqs_with_queries(c) != 0;
    case KVC_INV_BLOCK_WINDOW_EDGE:
        return paged_like(c) && seqs_with_window_edge(c) != 0;
    case KVC_INV_SLOT_RANGE:
        return m != KVC_MODE_QEFF && writes && written_tokens(c) >= 1;
    case KVC_INV_SLOT_DUPLICATE:
        return m != KVC_MODE_QEFF && writes && written_tokens(c) >= 2;
    case KVC_INV_SEQ_BEYOND_TABLE:
        return paged_like(c) && most_blocks_needed(c) >= 2;
    case KVC_INV_QSL_DECREASING:
        return m != KVC_MODE_QEFF && c->prob.num_seqs >= 1;
    case KVC_INV_HEADS_RATIO:
    case KVC_INV_HEAD_DIM_0:
    case KVC_INV_SCALE_NONFINITE:
    case KVC_INV_SOFTCAP_NEGATIVE:
    case KVC_INV_WINDOW_BELOW:
    case KVC_INV_FORMAT_UNKNOWN:
        return 1;
    case KVC_INV_STRIDES_OVERLAP:
        return paged_like(c) && grid_dims(c) != 0;
    case KVC_INV_STATIC_SCALE:
        return has_static_scales(c);
    case KVC_INV_NVFP4_HEAD_DIM:
        return c->prob.quant.dtype == KVC_KV_NVFP4 &&
               c->prob.cfg.head_dim >= 16;
    case KVC_INV_QEFF_CROSSING:
        return m == KVC_MODE_QEFF && seqs_qeff_crossable(c) != 0;
    case KVC_INV_QEFF_SLOT_ID:
        return m == KVC_MODE_QEFF && seqs_with_q(c, 1) != 0;
    case KVC_INV_QEFF_POSITIONS:
        return m == KVC_MODE_QEFF && seqs_with_q(c, 2) != 0;
    case KVC_INV_TILE_COUNT:
        return m == KVC_MODE_BLOCKED;
    default:
        return 0;
    }
}

/* ---- breaking ----------------------------------------------------------- */

/* A member of a non-empty bit set, uniformly. */
static int pick_member(gsl_rng *rng, unsigned set)
{
    int n = __builtin_popcount(set), k = kvcg_int(rng, 0, n - 1);
    for (int s = 0; s < 32; s++)
        if (set >> s & 1u && k-- == 0)
            return s;
    return 0;
}

static int *entry(kvc_case *c, int s, int b)
{
    return &c->layout.block_table[(int64_t)s * c->layout.max_blocks_per_seq + b];
}

/* A table entry past the pool: num_blocks itself, a little beyond, or the
 * largest int. */
static int past_pool(gsl_rng *rng, int64_t num_blocks)
{
    int64_t v;
    switch (kvcg_int(rng, 0, 2)) {
    case 0: v = num_blocks; break;
    case 1: v = num_blocks + kvcg_int(rng, 1, 1000); break;
    default: v = INT_MAX; break;
    }
    return v > INT_MAX ? INT_MAX : (int)v;
}

/* A needed entry of a sequence with queries: the first needed block (the
 * window's edge with a window), the last (the active block of a QEfficient
 * write) or one between. */
static void break_block(kvc_case *c, gsl_rng *rng, kvc_invalid_rule r,
                        kvc_invalid *inv)
{
    int B = c->layout.block_size;
    unsigned set = r == KVC_INV_BLOCK_WINDOW_EDGE ? seqs_with_window_edge(c)
                                                  : seqs_with_queries(c);
    int s = pick_member(rng, set);
    int first = first_needed(c, s) / B;
    int last = (kvc_kv_len(&c->prob, s) - 1) / B, b;
    if (r == KVC_INV_BLOCK_WINDOW_EDGE) {
        b = first;
    } else {
        int where = kvcg_int(rng, 0, 2);
        b = where == 0 ? first : where == 1 ? last : kvcg_int(rng, first, last);
    }
    int value = r == KVC_INV_BLOCK_MINUS_1 ? -1
                : r == KVC_INV_BLOCK_PAST_POOL
                    ? past_pool(rng, c->layout.num_blocks)
                    : (kvcg_chance(rng, 0.5) ? -1
                                             : past_pool(rng, c->layout.num_blocks));
    int old = *entry(c, s, b);
    *entry(c, s, b) = value;
    snprintf(inv->what, sizeof inv->what,
             "block_table[%d][%d] = %d (was %d; num_blocks %lld; sequence %d "
             "needs blocks %d..%d)", s, b, value, old,
             (long long)c->layout.num_blocks, s, first, last);
}

/* The last token the cache write writes (a sequential writer reaches it
 * after every other). */
static int64_t last_written(const kvc_case *c)
{
    for (int64_t t = c->prob.num_tokens - 1; t >= 0; t--)
        if (c->layout.slot_mapping[t] >= 0)
            return t;
    return -1;
}

static void break_slot(kvc_case *c, gsl_rng *rng, kvc_invalid_rule r,
                       kvc_invalid *inv)
{
    int64_t *sm = c->layout.slot_mapping;
    int64_t t = last_written(c), slots = c->layout.num_blocks * c->layout.block_size;
    int64_t old = sm[t];
    if (r == KVC_INV_SLOT_RANGE) {
        switch (kvcg_int(rng, 0, 3)) {
        case 0: sm[t] = slots; break;
        case 1: sm[t] = slots + kvcg_int(rng, 1, 1000); break;
        case 2: sm[t] = -2 - kvcg_int(rng, 0, 1000); break;
        default: sm[t] = INT64_MAX; break;
        }
        snprintf(inv->what, sizeof inv->what,
                 "slot_mapping[%lld] = %lld (was %lld; slots 0..%lld, -1 = "
                 "skip), the last token written", (long long)t,
                 (long long)sm[t], (long long)old, (long long)(slots - 1));
        return;
    }
    /* an earlier written token, uniformly */
    int64_t n = 0, k;
    for (int64_t u = 0; u < t; u++)
        n += sm[u] >= 0;
    k = kvcg_int(rng, 0, (int)(n - 1 < INT_MAX ? n - 1 : INT_MAX));
    for (int64_t u = 0; u < t; u++)
        if (sm[u] >= 0 && k-- == 0) {
            sm[t] = sm[u];
            snprintf(inv->what, sizeof inv->what,
                     "slot_mapping[%lld] = %lld (was %lld), the slot of token "
                     "%lld: written twice", (long long)t, (long long)sm[t],
                     (long long)old, (long long)u);
            return;
        }
}

/* Drop table columns until the longest sequence with queries needs one
 * more than the row holds. */
static void break_table(kvc_case *c, kvc_invalid *inv)
{
    kvc_layout *l = &c->layout;
    int old = l->max_blocks_per_seq, cols = most_blocks_needed(c) - 1;
    for (int s = 0; s < c->prob.num_seqs; s++)
        for (int b = 0; b < cols; b++)
            l->block_table[(int64_t)s * cols + b] =
                l->block_table[(int64_t)s * old + b];
    l->max_blocks_per_seq = cols;
    snprintf(inv->what, sizeof inv->what,
             "max_blocks_per_seq = %d (was %d): a sequence of %d blocks no "
             "longer fits its row", cols, old, cols + 1);
}

static void break_qsl(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int s = kvcg_int(rng, 1, c->prob.num_seqs);
    inv->qsl_index = s;
    inv->qsl_value = c->prob.q_start[s - 1] - 1 - kvcg_int(rng, 0, 2);
    snprintf(inv->what, sizeof inv->what,
             "query_start_loc[%d] = %lld (was %lld; query_start_loc[%d] = "
             "%lld)", s, (long long)inv->qsl_value,
             (long long)c->prob.q_start[s], s - 1,
             (long long)c->prob.q_start[s - 1]);
}

static void break_heads(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int Hq = c->prob.cfg.num_q_heads, Hkv = c->prob.cfg.num_kv_heads;
    if (Hkv > 1)
        inv->cfg.num_q_heads = kvcg_chance(rng, 0.5) ? Hq - 1 : Hq + 1;
    else
        inv->cfg.num_kv_heads = Hq + kvcg_int(rng, 1, 3);
    snprintf(inv->what, sizeof inv->what,
             "params num_q_heads %d, num_kv_heads %d (was %d, %d): not a "
             "multiple", inv->cfg.num_q_heads, inv->cfg.num_kv_heads, Hq, Hkv);
}

static void break_param(kvc_case *c, gsl_rng *rng, kvc_invalid_rule r,
                        kvc_invalid *inv)
{
    kvc_config *g = &inv->cfg;
    int k = kvcg_int(rng, 0, 2);
    if (r == KVC_INV_HEAD_DIM_0) {
        g->head_dim = 0;
        snprintf(inv->what, sizeof inv->what, "params head_dim 0 (was %d)",
                 c->prob.cfg.head_dim);
    } else if (r == KVC_INV_SCALE_NONFINITE) {
        g->scale = k == 0 ? NAN : k == 1 ? INFINITY : -INFINITY;
        snprintf(inv->what, sizeof inv->what, "params scale %g (was %g)",
                 (double)g->scale, (double)c->prob.cfg.scale);
    } else if (r == KVC_INV_SOFTCAP_NEGATIVE) {
        float cap = c->prob.cfg.softcap > 0 ? c->prob.cfg.softcap : 30.0f;
        g->softcap = k == 0 ? -cap : k == 1 ? -1.0f : -0x1p-126f;
        snprintf(inv->what, sizeof inv->what, "params softcap %g (was %g)",
                 (double)g->softcap, (double)c->prob.cfg.softcap);
    } else {
        g->window_left = k == 0 ? -2 : k == 1 ? -3 - kvcg_int(rng, 0, 1000)
                                              : INT_MIN;
        snprintf(inv->what, sizeof inv->what, "params window_left %d (was %d)",
                 g->window_left, c->prob.cfg.window_left);
    }
}

/* One grid dimension with more than one index gets stride 0, or the
 * stride of another such dimension: two rows then start at one unit. */
static void break_strides(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    static const char *const names[3] = {"stride_block", "stride_slot",
                                         "stride_head"};
    int64_t *st[3] = {&inv->stride_block, &inv->stride_slot,
                      &inv->stride_head};
    unsigned dims = grid_dims(c);
    int d = pick_member(rng, dims);
    unsigned others = dims & ~(1u << d);
    int64_t old = *st[d];
    if (others && kvcg_chance(rng, 0.5))
        *st[d] = *st[pick_member(rng, others)];
    else
        *st[d] = 0;
    snprintf(inv->what, sizeof inv->what,
             "cache %s = %lld (was %lld; strides %lld, %lld, %lld): rows "
             "overlap", names[d], (long long)*st[d], (long long)old,
             (long long)inv->stride_block, (long long)inv->stride_slot,
             (long long)inv->stride_head);
}

/* A dtype code outside the enum, a kind code outside its enum, or a kind
 * the case's dtype does not take (the dtype kept: the one the kernel
 * claims). */
static void break_format(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int k = kvcg_int(rng, 0, 2);
    if (k == 0) {
        static const int codes[] = {KVC_KV_DTYPE_COUNT, 99, -1};
        inv->dtype = codes[kvcg_int(rng, 0, 2)];
    } else if (k == 1) {
        inv->kind = kvcg_chance(rng, 0.5) ? KVC_SCALE_KIND_COUNT : -1;
    } else {
        int kind;
        do
            kind = kvcg_int(rng, 0, KVC_SCALE_KIND_COUNT - 1);
        while (kvc_quant_kind_valid(c->prob.quant.dtype, (kvc_scale_kind)kind));
        inv->kind = kind;
    }
    snprintf(inv->what, sizeof inv->what, "cache dtype %d, scale kind %d "
             "(was %s/%s)", inv->dtype, inv->kind,
             kvc_kv_dtype_name(c->prob.quant.dtype),
             kvc_scale_kind_name(c->prob.quant.kind));
}

static float bad_static_scale(gsl_rng *rng, float was)
{
    switch (kvcg_int(rng, 0, 4)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return -was;
    case 3: return NAN;
    default: return INFINITY;
    }
}

static void break_static_scale(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    const kvc_kv_quant *q = &c->prob.quant;
    int v = kvcg_chance(rng, 0.5);
    if (q->kind == KVC_SCALE_HEAD) {
        int h = kvcg_int(rng, 0, c->prob.cfg.num_kv_heads - 1);
        float was = (v ? q->v_head_scale : q->k_head_scale)[h];
        inv->head_scale_side = v ? 2 : 1;
        inv->head_scale_index = h;
        inv->head_scale_value = bad_static_scale(rng, was);
        snprintf(inv->what, sizeof inv->what, "cache scales.%s_head[%d] = %g "
                 "(was %g)", v ? "v" : "k", h,
                 (double)inv->head_scale_value, (double)was);
        return;
    }
    float *s = v ? &inv->v_scale : &inv->k_scale;
    float was = *s;
    *s = bad_static_scale(rng, was);
    snprintf(inv->what, sizeof inv->what, "cache scales.%s_tensor = %g (was "
             "%g)", v ? "v" : "k", (double)*s, (double)was);
}

static void break_nvfp4_dim(kvc_case *c, kvc_invalid *inv)
{
    int D = c->prob.cfg.head_dim;
    inv->cfg.head_dim = inv->cache_head_dim = D - 8;
    snprintf(inv->what, sizeof inv->what, "nvfp4 cache and params head_dim "
             "%d (was %d): not a multiple of 16", D - 8, D);
}

/* ---- QEfficient inputs -------------------------------------------------- */

/* Row s of position_ids and its valid entries' range. */
static int *qeff_row(kvc_case *c, int s)
{
    return c->qeff.position_ids + (int64_t)s * c->qeff.max_q;
}

/* Move row s's positions down so that the first sits on the last slot of
 * the block below: q >= 2 positions then cross into the next block, whose
 * entries (the row's own blocks) are valid, with slot_id following them. */
static void break_qeff_crossing(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int s = pick_member(rng, seqs_qeff_crossable(c)), B = c->layout.block_size;
    int p0 = c->prob.ctx_len[s], np0 = (p0 / B) * B - 1, *row = qeff_row(c, s);
    for (int i = 0; i < c->qeff.max_q; i++)
        if (row[i] >= 0)
            row[i] += np0 - p0;
    c->qeff.slot_id[s] = np0 % B;
    snprintf(inv->what, sizeof inv->what,
             "sequence %d: positions %d..%d, slot_id %d (B = %d): the write "
             "crosses from block %d into %d", s, np0,
             np0 + c->prob.q_len[s] - 1, np0 % B, B, np0 / B, np0 / B + 1);
}

static void break_qeff_slot_id(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int s = pick_member(rng, seqs_with_q(c, 1)), B = c->layout.block_size;
    int want = c->prob.ctx_len[s] % B, k = kvcg_int(rng, 0, 2);
    int v = k == 0 && B > 1 ? (want + kvcg_int(rng, 1, B - 1)) % B
            : k == 1        ? want + B
                            : -1;
    c->qeff.slot_id[s] = v;
    snprintf(inv->what, sizeof inv->what,
             "sequence %d: slot_id %d, first position %d mod B = %d", s, v,
             c->prob.ctx_len[s], want);
}

/* The last two valid entries of a row swapped, or the last repeating the
 * one before: never consecutive increasing, every position still inside
 * the row's blocks. */
static void break_qeff_positions(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int s = pick_member(rng, seqs_with_q(c, 2)), *row = qeff_row(c, s);
    int a = -1, b = -1;
    for (int i = 0; i < c->qeff.max_q; i++)
        if (row[i] >= 0) {
            a = b;
            b = i;
        }
    int swap = kvcg_chance(rng, 0.5), pa = row[a], pb = row[b];
    row[b] = pa;
    if (swap)
        row[a] = pb;
    snprintf(inv->what, sizeof inv->what,
             "sequence %d: position_ids[%d][%d] = %d, [%d][%d] = %d (were %d, "
             "%d): not consecutive", s, s, a, row[a], s, b, row[b], pa, pb);
}

static void break_tiles(kvc_case *c, gsl_rng *rng, kvc_invalid *inv)
{
    int old = c->spec.num_kv_blocks, k = kvcg_int(rng, 0, 2);
    c->spec.num_kv_blocks = k == 0 ? 0 : k == 1 ? -1 : INT_MIN;
    snprintf(inv->what, sizeof inv->what, "num_kv_blocks %d (was %d)",
             c->spec.num_kv_blocks, old);
}

static void break_rule(kvc_case *c, gsl_rng *rng, kvc_invalid_rule r,
                       kvc_invalid *inv)
{
    switch (r) {
    case KVC_INV_BLOCK_MINUS_1:
    case KVC_INV_BLOCK_PAST_POOL:
    case KVC_INV_BLOCK_WINDOW_EDGE: break_block(c, rng, r, inv); break;
    case KVC_INV_SLOT_RANGE:
    case KVC_INV_SLOT_DUPLICATE: break_slot(c, rng, r, inv); break;
    case KVC_INV_SEQ_BEYOND_TABLE: break_table(c, inv); break;
    case KVC_INV_QSL_DECREASING: break_qsl(c, rng, inv); break;
    case KVC_INV_HEADS_RATIO: break_heads(c, rng, inv); break;
    case KVC_INV_STRIDES_OVERLAP: break_strides(c, rng, inv); break;
    case KVC_INV_FORMAT_UNKNOWN: break_format(c, rng, inv); break;
    case KVC_INV_STATIC_SCALE: break_static_scale(c, rng, inv); break;
    case KVC_INV_NVFP4_HEAD_DIM: break_nvfp4_dim(c, inv); break;
    case KVC_INV_QEFF_CROSSING: break_qeff_crossing(c, rng, inv); break;
    case KVC_INV_QEFF_SLOT_ID: break_qeff_slot_id(c, rng, inv); break;
    case KVC_INV_QEFF_POSITIONS: break_qeff_positions(c, rng, inv); break;
    case KVC_INV_TILE_COUNT: break_tiles(c, rng, inv); break;
    default: break_param(c, rng, r, inv); break;
    }
}

int kvc_invalid_break(kvc_case *c, kvc_invalid_rule r, uint64_t rng_seed,
                      const kvc_invalid_opts *o, kvc_invalid *inv)
{
    kvc_invalid_init(c, inv);
    if (r == KVC_INV_NONE || !kvc_invalid_applies(c, r, o))
        return -1;
    gsl_rng *rng = kvcg_rng_new(rng_seed);
    if (!rng)
        return -1;
    break_rule(c, rng, r, inv);
    gsl_rng_free(rng);
    inv->rule = r;
    c->flags |= 1ull << kvc_invalid_rule_flag(r);
    return 0;
}

/* Rules every case can break (attention parameters, the format code):
 * drawn uniformly with the rest they would crowd out the rules that need
 * a particular case (a window, a QEfficient row, a static scale, nvfp4). */
static int universal(kvc_invalid_rule r)
{
    return r == KVC_INV_HEADS_RATIO || r == KVC_INV_HEAD_DIM_0 ||
           r == KVC_INV_SCALE_NONFINITE || r == KVC_INV_SOFTCAP_NEGATIVE ||
           r == KVC_INV_WINDOW_BELOW || r == KVC_INV_FORMAT_UNKNOWN;
}

kvc_invalid_rule kvc_invalid_draw(kvc_case *c, uint64_t rng_seed,
                                  const kvc_invalid_opts *o, kvc_invalid *inv)
{
    kvc_invalid_init(c, inv);
    int n[2] = {0, 0};
    kvc_invalid_rule apply[2][KVC_INV_COUNT];
    for (int r = 1; r < KVC_INV_COUNT; r++)
        if (kvc_invalid_applies(c, (kvc_invalid_rule)r, o)) {
            int u = universal((kvc_invalid_rule)r);
            apply[u][n[u]++] = (kvc_invalid_rule)r;
        }
    if (n[0] + n[1] == 0)
        return KVC_INV_NONE;
    /* The rule from hashes of its own, the choices inside it from the RNG:
     * a rule that needs this case 3 times in 4 when one applies, else a
     * universal one. */
    /* (not splitmix64(rng_seed) itself: kvc_invalid_slot tests that
     * value's low bits, so they are always 0 here) */
    uint64_t h = kvcg_splitmix64(rng_seed ^ 0x7e1e5ULL);
    /* The window's edge, the rule an off-by-one check misses, needs a
     * window cutting into the context of a paged row: rare, so it takes
     * half of the cases where it applies. */
    if (kvc_invalid_applies(c, KVC_INV_BLOCK_WINDOW_EDGE, o) && h >> 32 & 1u)
        return kvc_invalid_break(c, KVC_INV_BLOCK_WINDOW_EDGE, rng_seed, o,
                                 inv) == 0
                   ? KVC_INV_BLOCK_WINDOW_EDGE
                   : KVC_INV_NONE;
    int tier = n[0] > 0 && (n[1] == 0 || h % 4 != 0) ? 0 : 1;
    h = kvcg_splitmix64(h);
    kvc_invalid_rule r = apply[tier][h % (uint64_t)n[tier]];
    return kvc_invalid_break(c, r, rng_seed, o, inv) == 0 ? r : KVC_INV_NONE;
}
