/*
 * spec_draw.c — kvc_spec_draw: every shape, length and layout choice of a
 * case, boundary-biased, drawn from the case's RNG only (a pure function of
 * (seed, index, forced_mode)).
 *
 * Size policy: the base tier is small (a campaign of 2000 runs in
 * seconds, 200 under valgrind in minutes). Lengths are mostly <= 300, now
 * and then 1000..2000 for cached context when Hq*D is small; a draw whose
 * work (kvc_spec_work) exceeds its tier's cap is redrawn with shorter
 * lengths, and shrunk deterministically as a last resort. The tiers above
 * base (size_tier.c) replace the shape and lengths of a share of cases
 * with real sizes; kvc_spec_draw draws the base tier only.
 */
#include "gen_internal.h"

#include <math.h>
#include <string.h>

enum { SEQ_PREFILL, SEQ_CHUNKED, SEQ_DECODE, SEQ_SPEC, SEQ_Q0, SEQ_KV0, SEQ_KINDS };

static const int head_dims[] = {1,  2,  3,  4,  7,  8,   15,  16,  17,  31, 32,
                                33, 63, 64, 65, 80, 96, 127, 128, 129, 256};
static const double head_dim_w[] = {4, 4, 4, 4, 4, 4, 3, 3, 3, 2, 2,
                                    2, 1.5, 1.5, 1.5, 1, 1, 1, 1, 1, 0.5};
static const int block_sizes[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 32, 64};
static const double block_w[] = {1, 1, 1, 1, 1, 1, 1.5, 1.5, 6, 1.5, 1.5, 1};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SHORT_MAX_LEN 300

int64_t kvc_spec_work(const kvc_case_spec *spec)
{
    int64_t hq_d = (int64_t)spec->cfg.num_q_heads * spec->cfg.head_dim;
    int64_t hkv_d = (int64_t)spec->cfg.num_kv_heads * spec->cfg.head_dim;
    int64_t w = 0;
    for (int s = 0; s < spec->num_seqs && s < KVC_MAX_SEQS; s++) {
        int64_t q = spec->q_len[s];
        int64_t kv = (int64_t)spec->ctx_len[s] + q;
        w += q * kv * hq_d + kv * hkv_d;
    }
    return w;
}

/* A length biased toward block boundaries, in [0, maxlen]. */
static int draw_len(gsl_rng *r, int B, int maxlen)
{
    static const double w[] = {0.04, 0.08, 0.10, 0.10, 0.10, 0.12, 0.06, 0.25, 0.15};
    int kmax = maxlen / B < 2 ? 2 : maxlen / B;
    if (kmax > 8)
        kmax = 8;
    int v;
    switch (kvcg_pick(r, w, NELEM(w))) {
    case 0: v = 0; break;
    case 1: v = 1; break;
    case 2: v = B - 1; break;
    case 3: v = B; break;
    case 4: v = B + 1; break;
    case 5: v = kvcg_int(r, 2, kmax) * B; break;
    case 6: v = kvcg_int(r, 2, kmax) * B + (kvcg_chance(r, 0.5) ? 1 : -1); break;
    case 7: v = kvcg_int(r, 1, maxlen < 48 ? maxlen : 48); break;
    default: v = kvcg_int(r, 1, maxlen); break;
    }
    if (v > maxlen)
        v = maxlen;
    return v < 0 ? 0 : v;
}

/* A long cached context, 1000..2000, often next to a block boundary. */
static int draw_long_len(gsl_rng *r, int B)
{
    int v = kvcg_int(r, 1000, 2000);
    if (kvcg_chance(r, 0.6))
        v = v / B * B + kvcg_int(r, -1, 1);
    return v < 1 ? 1 : v;
}

/* One sequence's (ctx, q) for a kind of step. */
static void draw_seq(gsl_rng *r, int kind, int B, int maxlen, int long_ctx,
                     int *ctx, int *q)
{
    switch (kind) {
    case SEQ_PREFILL:
        *ctx = 0;
        *q = draw_len(r, B, maxlen);
        break;
    case SEQ_CHUNKED: {
        /* A prefill of total tokens split into chunks; this step is one
         * chunk (not the first when there are several). */
        int total = draw_len(r, B, maxlen);
        if (total < 2)
            total = 2 < maxlen ? 2 : maxlen;
        int chunks[64];
        static const double fw[] = {0.5, 0.4, 0.1};
        int n = kvc_gen_chunking(r, total, B, 1 + kvcg_pick(r, fw, 3), chunks, 64);
        if (n < 1) {
            *ctx = 0;
            *q = total;
            break;
        }
        int k = n >= 2 ? kvcg_int(r, 1, n - 1) : 0;
        int before = 0;
        for (int i = 0; i < k; i++)
            before += chunks[i];
        *ctx = before;
        *q = chunks[k];
        break;
    }
    case SEQ_DECODE: {
        int L = long_ctx ? draw_long_len(r, B) : draw_len(r, B, maxlen);
        /* the token itself on the boundary, or the cache ending on it */
        *ctx = kvcg_chance(r, 0.5) ? L : (L > 0 ? L - 1 : 0);
        *q = 1;
        break;
    }
    case SEQ_SPEC: {
        int L = long_ctx ? draw_long_len(r, B) : draw_len(r, B, maxlen);
        *ctx = L < 1 ? 1 : L;
        *q = kvcg_int(r, 2, 8);
        break;
    }
    case SEQ_Q0:
        *ctx = long_ctx ? draw_long_len(r, B) : draw_len(r, B, maxlen);
        *q = 0;
        break;
    default: /* SEQ_KV0 */
        *ctx = 0;
        *q = 0;
        break;
    }
}

/* QEfficient writes may not cross a block boundary; a row with no token
 * has no position, hence no context either. Idempotent. */
static void qeff_fit(kvc_case_spec *sp, int s)
{
    if (sp->mode != KVC_MODE_QEFF)
        return;
    if (sp->q_len[s] == 0) {
        sp->ctx_len[s] = 0;
    } else {
        int room = sp->block_size - sp->ctx_len[s] % sp->block_size;
        if (sp->q_len[s] > room)
            sp->q_len[s] = room;
    }
}

static void draw_lengths(gsl_rng *r, kvc_case_spec *sp, int maxlen, int long_ctx)
{
    static const double kind_w[SEQ_KINDS] = {0.25, 0.20, 0.30, 0.15, 0.05, 0.05};
    int B = sp->block_size;
    for (int s = 0; s < sp->num_seqs; s++) {
        int kind = kvcg_pick(r, kind_w, SEQ_KINDS);
        draw_seq(r, kind, B, maxlen, long_ctx, &sp->ctx_len[s], &sp->q_len[s]);
        qeff_fit(sp, s);
    }
}

/* The filters (kvc_size_opts), then the QEfficient shape rules again. */
static void filter_lengths(const kvc_size_opts *o, kvc_case_spec *sp)
{
    kvcg_filter_lengths(o, sp);
    for (int s = 0; s < sp->num_seqs; s++)
        qeff_fit(sp, s);
}

/* Last resort: halve the largest sequence until the work fits (ctx_first:
 * its context before its query rows, for the tiers whose point is many
 * query rows or a long context). */
static void shrink_to_cap(kvc_case_spec *sp, int64_t cap, int ctx_first)
{
    while (kvc_spec_work(sp) > cap) {
        int best = 0;
        int64_t bw = -1;
        for (int s = 0; s < sp->num_seqs; s++) {
            int64_t w = (int64_t)sp->q_len[s] * (sp->ctx_len[s] + sp->q_len[s]) +
                        sp->ctx_len[s] + sp->q_len[s];
            if (w > bw) {
                bw = w;
                best = s;
            }
        }
        if (ctx_first && sp->ctx_len[best] > 1)
            sp->ctx_len[best] /= 2;
        else if (sp->q_len[best] > 1)
            sp->q_len[best] /= 2;
        else if (sp->ctx_len[best] > 0)
            sp->ctx_len[best] /= 2;
        else
            break;
        qeff_fit(sp, best); /* a shorter context moves the block edge */
    }
}

static int max_kv(const kvc_case_spec *sp)
{
    int m = 0;
    for (int s = 0; s < sp->num_seqs; s++)
        if (sp->ctx_len[s] + sp->q_len[s] > m)
            m = sp->ctx_len[s] + sp->q_len[s];
    return m;
}

/* window_left: none mostly; else 0, 1, B-1, B, random, or a value that puts
 * some query's first key strictly inside a block. */
static int draw_window(gsl_rng *r, const kvc_case_spec *sp)
{
    if (!kvcg_chance(r, 0.3))
        return KVC_NO_WINDOW;
    int B = sp->block_size;
    static const double w[] = {1, 1, 1, 1, 1, 2};
    switch (kvcg_pick(r, w, NELEM(w))) {
    case 0: return 0;
    case 1: return 1;
    case 2: return B - 1;
    case 3: return B;
    case 4: return kvcg_int(r, 0, max_kv(sp) + 1);
    default: {
        int cand[KVC_MAX_SEQS], n = 0;
        for (int s = 0; s < sp->num_seqs; s++)
            if (sp->q_len[s] > 0 && sp->ctx_len[s] + sp->q_len[s] >= 3)
                cand[n++] = s;
        if (n == 0)
            return kvcg_int(r, 0, B);
        int s = cand[kvcg_int(r, 0, n - 1)];
        int p = sp->ctx_len[s] + kvcg_int(r, 0, sp->q_len[s] - 1); /* a query */
        if (p < 2)
            p = sp->ctx_len[s] + sp->q_len[s] - 1;
        int j0 = kvcg_int(r, 1, p); /* its first visible key */
        if (B > 1 && j0 % B == 0)
            j0 = j0 > 1 ? j0 - 1 : 1;
        return p - j0;
    }
    }
}

static int draw_num_kv_blocks(gsl_rng *r, int CL, int B)
{
    static const double w[] = {0.15, 0.12, 0.12, 0.12, 0.10, 0.20, 0.19};
    int nkb;
    switch (kvcg_pick(r, w, NELEM(w))) {
    case 0: nkb = 1; break;
    case 1: nkb = 2; break;
    case 2: nkb = 3; break;
    case 3: nkb = 4; break;
    case 4: nkb = CL; break;
    case 5: /* ceil(CL / nkb) does not divide CL: a short last tile */
        nkb = 1;
        for (int t = 0; t < 32 && CL >= 3; t++) {
            int c = kvcg_int(r, 2, CL);
            int tile = (CL + c - 1) / c;
            if (CL % tile != 0) {
                nkb = c;
                break;
            }
        }
        break;
    default: nkb = (CL + B - 1) / B; break;
    }
    if (nkb > CL)
        nkb = CL;
    return nkb < 1 ? 1 : nkb;
}

/*
 * The cache format of a case, from its own RNG stream (seeded from the
 * case seed, decorrelated) so that the shape draws of every case stay what
 * they were before formats existed. About half the cases are f32; the rest
 * spread over every format and, for fp8/int8, every static or dynamic
 * strategy.
 */
static int draw_format(uint64_t case_seed, kvc_case_spec *sp)
{
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(case_seed ^ 0x6b765f666f726d74ULL));
    if (!r)
        return -1;
    static const double dtype_w[KVC_KV_DTYPE_COUNT] = {0.44, 0.07, 0.07, 0.1,
                                                       0.08, 0.1, 0.14};
    sp->kv_dtype = (kvc_kv_dtype)kvcg_pick(r, dtype_w, KVC_KV_DTYPE_COUNT);
    switch (sp->kv_dtype) {
    case KVC_KV_FP8_E4M3:
    case KVC_KV_FP8_E5M2:
    case KVC_KV_INT8:
        sp->kv_scale = (kvc_scale_kind)kvcg_int(r, KVC_SCALE_TENSOR, KVC_SCALE_TOKEN);
        break;
    case KVC_KV_NVFP4: sp->kv_scale = KVC_SCALE_GROUP; break;
    default: sp->kv_scale = KVC_SCALE_NONE; break;
    }
    static const double family_w[KVC_SCALES_COUNT] = {0.4, 0.3, 0.15, 0.15};
    sp->scale_family = (kvc_scale_family)kvcg_pick(r, family_w, KVC_SCALES_COUNT);
    if (sp->kv_scale == KVC_SCALE_NONE || sp->kv_scale == KVC_SCALE_TOKEN)
        sp->scale_family = KVC_SCALES_CALIBRATED; /* no static scale */
    sp->format_edges = sp->kv_dtype != KVC_KV_F32 && kvcg_chance(r, 0.35);
    gsl_rng_free(r);
    return 0;
}

int kvc_spec_draw(uint64_t seed, uint64_t index, int forced_mode,
                  kvc_case_spec *spec)
{
    return kvc_spec_draw_seeded(kvc_case_seed(seed, index), forced_mode, spec);
}

int kvc_spec_draw_seeded(uint64_t case_seed, int forced_mode,
                         kvc_case_spec *spec)
{
    static const kvc_size_opts small = {.size = KVC_SIZE_SMALL};
    return kvc_spec_draw_sized(case_seed, forced_mode, &small, spec);
}

/* Lengths of a case under its tier's cap. */
static void draw_all_lengths(gsl_rng *r, kvcg_tier *tp, kvc_case_spec *sp,
                             int long_ctx)
{
    int64_t cap = kvc_tier_work_cap(tp->tier);
    if (kvcg_tier_lengths(tp, sp)) {
        filter_lengths(tp->o, sp);
        shrink_to_cap(sp, cap, 1);
        return;
    }
    int maxlen = kvcg_tier_maxlen(tp, SHORT_MAX_LEN);
    for (int attempt = 0;; attempt++) {
        draw_lengths(r, sp, maxlen, long_ctx);
        filter_lengths(tp->o, sp);
        if (kvc_spec_work(sp) <= cap)
            break;
        if (attempt >= 5) {
            shrink_to_cap(sp, cap, 0);
            break;
        }
        maxlen = maxlen / 2 < 4 ? 4 : maxlen / 2;
        long_ctx = 0;
    }
}

int kvc_spec_draw_sized(uint64_t case_seed, int forced_mode,
                        const kvc_size_opts *opts, kvc_case_spec *spec)
{
    if (!spec)
        return -1;
    memset(spec, 0, sizeof *spec);
    if (forced_mode >= KVC_MODE_COUNT)
        return -1;
    kvcg_tier tp;
    if (kvcg_tier_begin(case_seed, opts, &tp) != 0)
        return -1;
    gsl_rng *r = kvcg_rng_new(case_seed);
    if (!r) {
        kvcg_tier_end(&tp);
        return -1;
    }
    kvc_case_spec sp;
    memset(&sp, 0, sizeof sp);
    if (draw_format(case_seed, &sp) != 0 ||
        kvcg_draw_special(case_seed, &sp) != 0) {
        gsl_rng_free(r);
        kvcg_tier_end(&tp);
        return -1;
    }

    sp.mode = (kvc_mode)kvcg_int(r, 0, KVC_MODE_COUNT - 1);
    if (forced_mode >= 0 && forced_mode < KVC_MODE_COUNT)
        sp.mode = (kvc_mode)forced_mode;

    /* heads: Hkv in {1,...,6, 8} (not only powers of two: a GQA mapping
     * that assumes one fails on 3, 5 or 6), group in {1,2,3,4,8}, Hq <= 16 */
    static const int hkvs[] = {1, 2, 3, 4, 5, 6, 8};
    static const double hkv_w[] = {0.3, 0.2, 0.12, 0.15, 0.08, 0.08, 0.07};
    static const int groups[] = {1, 2, 3, 4, 8};
    static const double group_w[] = {0.3, 0.2, 0.1, 0.2, 0.2};
    int hkv = hkvs[kvcg_pick(r, hkv_w, NELEM(hkvs))];
    int grp = groups[kvcg_pick(r, group_w, NELEM(groups))];
    while (hkv * grp > 16)
        grp /= 2;
    sp.cfg.num_kv_heads = hkv;
    sp.cfg.num_q_heads = hkv * grp;
    sp.cfg.head_dim = head_dims[kvcg_pick(r, head_dim_w, NELEM(head_dims))];
    if (sp.kv_dtype == KVC_KV_NVFP4) /* groups of 16 along head_dim */
        sp.cfg.head_dim = (sp.cfg.head_dim + 15) / 16 * 16;
    sp.block_size = block_sizes[kvcg_pick(r, block_w, NELEM(block_sizes))];
    kvcg_tier_shape(&tp, &sp);
    int D = sp.cfg.head_dim;

    /* scale, softcap, causality */
    sp.cfg.scale = 1.0f / sqrtf((float)D);
    if (kvcg_chance(r, 0.2)) {
        float mag = (float)exp(log(0.05) + gsl_rng_uniform(r) * (log(2.0) - log(0.05)));
        sp.cfg.scale = kvcg_chance(r, 0.35) ? -mag : mag;
    }
    /* soft-cap: the usual values, and any in [0.25, 64] (log-uniform, small
     * ones included: tanh then bends every score) */
    static const float caps[] = {5.0f, 30.0f, 50.0f};
    sp.cfg.softcap = 0.0f;
    if (kvcg_chance(r, 0.2))
        sp.cfg.softcap = kvcg_chance(r, 0.5)
                             ? caps[kvcg_int(r, 0, 2)]
                             : (float)exp(log(0.25) + gsl_rng_uniform(r) *
                                                          (log(64.0) - log(0.25)));
    sp.cfg.causal = kvcg_chance(r, 0.8);

    /* layout choices */
    sp.table = (kvc_table_kind)kvcg_int(r, 0, KVC_TABLE_COUNT - 1);
    sp.hnd = kvcg_chance(r, 0.5);
    sp.stride_pad = kvcg_chance(r, 0.2) ? kvcg_int(r, 1, 8) : 0;
    sp.extra_blocks = kvcg_int(r, 0, 8);
    sp.pad_tokens = kvcg_chance(r, 0.2) ? kvcg_int(r, 1, 5) : 0;
    static const double mask_w[KVC_MASK_COUNT] = {0.55, 0.15, 0.15, 0.15};
    sp.mask = (kvc_mask_kind)kvcg_pick(r, mask_w, KVC_MASK_COUNT);
    sp.values = (kvc_values_kind)kvcg_int(r, 0, KVC_VALUES_COUNT - 1);
    /* an edge overlay would break the structure of the other families */
    if (sp.values != KVC_VALUES_NORMAL && sp.values != KVC_VALUES_UNIFORM &&
        sp.values != KVC_VALUES_OUTLIERS)
        sp.format_edges = 0;
    sp.leak_sensitive = kvcg_chance(r, 0.5);
    sp.qeff_left_pad = kvcg_chance(r, 0.5);
    sp.large_offsets = kvcg_chance(r, 0.03);
    /* a per-token scale pool is 4 bytes per row: with D < 4 it would
     * outgrow the code pool, and the sparse maps (three copies each in the
     * runner) would pass what valgrind can map */
    if (sp.kv_scale == KVC_SCALE_TOKEN && sp.cfg.head_dim < 4)
        sp.large_offsets = 0;
    /* the long tiers' pools are big already: the base tier covers offsets */
    if (tp.tier >= KVC_TIER_PREFILL)
        sp.large_offsets = 0;

    /* sequences */
    static const double nseq_w[] = {0.03, 0.30, 0.25, 0.18, 0.14,
                                    0.03, 0.03, 0.02, 0.02};
    sp.num_seqs = kvcg_pick(r, nseq_w, NELEM(nseq_w));
    int long_ctx = (sp.cfg.num_q_heads * D <= 256) && kvcg_chance(r, 0.1);
    if (tp.tier == KVC_TIER_BIG_BLOCKS)
        long_ctx = 0;
    draw_all_lengths(r, &tp, &sp, long_ctx);

    sp.cfg.window_left = kvcg_tier_window(&tp, &sp, draw_window(r, &sp));

    /* shared prefix needs two sequences with a full context block */
    if (sp.table == KVC_TABLE_SHARED_PREFIX) {
        int n = 0;
        for (int s = 0; s < sp.num_seqs; s++)
            n += sp.ctx_len[s] >= sp.block_size;
        if (n < 2)
            sp.table = (kvc_table_kind)kvcg_int(r, 0, KVC_TABLE_SHARED_PREFIX - 1);
    }

    if (sp.mode == KVC_MODE_BLOCKED) {
        int mk = max_kv(&sp) > 0 ? max_kv(&sp) : 1;
        static const double cl_w[] = {0.4, 0.3, 0.3};
        switch (kvcg_pick(r, cl_w, 3)) {
        case 0: sp.cache_len = mk; break;
        case 1: sp.cache_len = (mk + sp.block_size - 1) / sp.block_size * sp.block_size; break;
        default: sp.cache_len = mk + kvcg_int(r, 1, sp.block_size + 3); break;
        }
        sp.num_kv_blocks =
            tp.tier == KVC_TIER_BASE
                ? draw_num_kv_blocks(r, sp.cache_len, sp.block_size)
                : kvcg_tier_num_kv_blocks(&tp, sp.cache_len, sp.block_size);
    }
    if (sp.mode == KVC_MODE_QEFF) {
        int mq = 0;
        for (int s = 0; s < sp.num_seqs; s++)
            if (sp.q_len[s] > mq)
                mq = sp.q_len[s];
        static const double extra_w[] = {0.4, 0.3, 0.3};
        sp.qeff_max_q = mq + kvcg_pick(r, extra_w, 3);
        if (sp.qeff_max_q < 1)
            sp.qeff_max_q = 1;
    }

    /* canonical form: fields a mode ignores are zero */
    if (sp.mode == KVC_MODE_BLOCKED) {
        sp.hnd = 0;
        sp.stride_pad = 0;
        sp.extra_blocks = 0;
        sp.table = KVC_TABLE_PERMUTED;
        sp.large_offsets = 0;
    }
    if (sp.mode != KVC_MODE_QEFF) {
        sp.qeff_left_pad = 0;
        sp.qeff_max_q = 0;
    }

    gsl_rng_free(r);
    kvcg_tier_end(&tp);
    *spec = sp;
    return 0;
}
