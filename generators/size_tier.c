/*
 * size_tier.c — the size tiers of a draw (case.h, kvc_size_opts): which
 * tier a case is, the shapes and lengths of the tiers above BASE, and the
 * filters of `run --max-kv/--max-q/--heads/--head-dim/--block-size`.
 *
 * Real kernels switch algorithms by size (query tiles of 64 rows, split-KV
 * above a few thousand keys, page sizes >= 128): the base draw (lengths <=
 * 300, blocks <= 64) never reaches those paths, so every campaign spends a
 * small share of its cases on real sizes. The tiers keep their cost down
 * with cheap head shapes (few heads, small head_dim) except MODEL, which is
 * rare. All choices come from the tier's own RNG stream, so the base tier
 * consumes the case RNG exactly as kvc_spec_draw does.
 */
#include "gen_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Shares per policy, in kvc_size_tier order. DEFAULT: about 3.06% of the
 * cases are above the base sizes, priced so that the main campaign (20,000
 * cases) stays near a minute on two cores (docs/architecture.md): measured
 * per case, a MODEL case (4k..6k keys) costs ~1 s, LONG_DECODE ~0.1 s,
 * PREFILL ~0.04 s, BIG_BLOCKS ~0.013 s, GROUPS and BASE ~0.005 s (the
 * quantized formats' oracle encoding dominates the long tiers). Measured
 * on seed 7 (20,000 cases): 3.8% above base cost 19% more CPU than --size
 * small, 3.5% about 17.5% (prefill 34% of the tiers' time, long_decode
 * 24%, big_blocks 22%, model 15%); these shares aimed at about 10%. Since
 * the encoding lost its ldexp calls and the properties reuse the runner's
 * store, LONG_DECODE has three times its share (0.1% -> 0.3%, 3.06% above
 * base): about 60 long decodes a main campaign, so a window inside a
 * split-KV decode (kvcg_tier_window) comes up in the first thousand cases,
 * for 12% more CPU (96 -> 108 s of user time on seed 7). */
static const double shares[KVC_SIZE_COUNT][KVC_TIER_COUNT] = {
    [KVC_SIZE_DEFAULT] = {0.9694, 0.02, 0.006, 0.0015, 0.003, 0.0001},
    [KVC_SIZE_SMALL] = {1, 0, 0, 0, 0, 0},
    [KVC_SIZE_LARGE] = {0.40, 0.12, 0.16, 0.14, 0.13, 0.05},
};

static const int64_t work_caps[KVC_TIER_COUNT] = {
    KVC_CASE_WORK_CAP, KVC_CASE_WORK_CAP, 8000000, 70000000, 4000000,
    170000000};

static const char *const policy_names[KVC_SIZE_COUNT] = {"default", "small",
                                                         "large"};
static const char *const tier_names[KVC_TIER_COUNT] = {
    "base", "groups", "big_blocks", "prefill", "long_decode", "model"};

/* Block sizes of the big tiers: powers of two and not (48 = 3*16, ...). */
static const int big_blocks[] = {48, 96, 128, 160, 256, 272, 512};

const char *kvc_size_policy_name(kvc_size_policy p)
{
    return (int)p >= 0 && p < KVC_SIZE_COUNT ? policy_names[p] : "?";
}

int kvc_size_policy_parse(const char *s, kvc_size_policy *p)
{
    for (int i = 0; s && i < KVC_SIZE_COUNT; i++)
        if (strcmp(s, policy_names[i]) == 0) {
            *p = (kvc_size_policy)i;
            return 0;
        }
    return -1;
}

const char *kvc_tier_name(kvc_size_tier t)
{
    return (int)t >= 0 && t < KVC_TIER_COUNT ? tier_names[t] : "?";
}

double kvc_tier_share(kvc_size_policy p, kvc_size_tier t)
{
    if ((int)p < 0 || p >= KVC_SIZE_COUNT || (int)t < 0 || t >= KVC_TIER_COUNT)
        return 0;
    return shares[p][t];
}

int64_t kvc_tier_work_cap(kvc_size_tier t)
{
    return (int)t >= 0 && t < KVC_TIER_COUNT ? work_caps[t] : KVC_CASE_WORK_CAP;
}

int kvc_size_opts_is_default(const kvc_size_opts *o)
{
    static const kvc_size_opts zero;
    return !o || memcmp(o, &zero, sizeof zero) == 0;
}

int kvc_size_opts_check(const kvc_size_opts *o, char *err, size_t errlen)
{
#define BAD(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); \
                      return -1; } while (0)
    if ((int)o->size < 0 || o->size >= KVC_SIZE_COUNT)
        BAD("--size %d is not small, default or large", (int)o->size);
    if (o->max_kv < 0 || o->max_q < 0)
        BAD("--max-kv / --max-q must be >= 1");
    if ((o->hq == 0) != (o->hkv == 0))
        BAD("--heads needs both HQ and HKV (HQ/HKV)");
    if (o->hq && (o->hkv < 1 || o->hq < o->hkv || o->hq % o->hkv != 0 ||
                  o->hq > 256))
        BAD("--heads %d/%d: HQ must be a multiple of HKV, 1 <= HKV <= HQ <= 256",
            o->hq, o->hkv);
    if (o->head_dim < 0 || o->head_dim > 1024)
        BAD("--head-dim %d must be in 1..1024", o->head_dim);
    if (o->block_size < 0 || o->block_size > 4096)
        BAD("--block-size %d must be in 1..4096", o->block_size);
    return 0;
#undef BAD
}

static gsl_rng *tier_rng(uint64_t case_seed)
{
    return kvcg_rng_new(kvcg_splitmix64(case_seed ^ 0x73697a655f746965ULL));
}

static kvc_size_tier pick_tier(gsl_rng *t, const kvc_size_opts *o)
{
    kvc_size_policy p = o ? o->size : KVC_SIZE_DEFAULT;
    if ((int)p < 0 || p >= KVC_SIZE_COUNT)
        p = KVC_SIZE_DEFAULT;
    return (kvc_size_tier)kvcg_pick(t, shares[p], KVC_TIER_COUNT);
}

kvc_size_tier kvc_tier_of(uint64_t case_seed, const kvc_size_opts *opts)
{
    gsl_rng *t = tier_rng(case_seed);
    if (!t)
        return KVC_TIER_BASE;
    kvc_size_tier tier = pick_tier(t, opts);
    gsl_rng_free(t);
    return tier;
}

int kvcg_tier_begin(uint64_t case_seed, const kvc_size_opts *o, kvcg_tier *tp)
{
    memset(tp, 0, sizeof *tp);
    tp->o = o;
    tp->t = tier_rng(case_seed);
    if (!tp->t)
        return -1;
    tp->tier = pick_tier(tp->t, o);
    return 0;
}

void kvcg_tier_end(kvcg_tier *tp)
{
    gsl_rng_free(tp->t);
    tp->t = NULL;
}

/* Few heads and a small head_dim: Hq * D <= hqd_max. */
static void cheap_heads(gsl_rng *t, kvc_case_spec *sp, int hqd_max)
{
    static const int dims[] = {4, 8, 16, 32};
    int hkv = kvcg_int(t, 1, 2), grp = 1 << kvcg_int(t, 0, 3);
    int D = dims[kvcg_int(t, 0, NELEM(dims) - 1)];
    while (hkv * grp * D > hqd_max && grp > 1)
        grp /= 2;
    while (hkv * grp * D > hqd_max && D > 4)
        D /= 2;
    sp->cfg.num_kv_heads = hkv;
    sp->cfg.num_q_heads = hkv * grp;
    sp->cfg.head_dim = D;
}

static int pick_big_block(gsl_rng *t)
{
    return big_blocks[kvcg_int(t, 0, NELEM(big_blocks) - 1)];
}

void kvcg_tier_shape(kvcg_tier *tp, kvc_case_spec *sp)
{
    gsl_rng *t = tp->t;
    switch (tp->tier) {
    case KVC_TIER_GROUPS: {
        static const int hkvs[] = {1, 2, 3, 5, 6, 7, 8};
        static const int dims[] = {1, 2, 3, 4, 7, 8, 15, 16, 17, 32};
        int hkv = hkvs[kvcg_int(t, 0, NELEM(hkvs) - 1)];
        int grp = kvcg_int(t, 1, 16);
        int D = dims[kvcg_int(t, 0, NELEM(dims) - 1)];
        while (hkv * grp * D > 512 && D > 1)
            D /= 2;
        sp->cfg.num_kv_heads = hkv;
        sp->cfg.num_q_heads = hkv * grp;
        sp->cfg.head_dim = D;
        break;
    }
    case KVC_TIER_BIG_BLOCKS:
        sp->block_size = pick_big_block(t);
        while (sp->cfg.num_q_heads * sp->cfg.head_dim > 256 && sp->cfg.head_dim > 1)
            sp->cfg.head_dim /= 2;
        break;
    case KVC_TIER_PREFILL:
        cheap_heads(t, sp, 32);
        if (kvcg_chance(t, 0.5))
            sp->block_size = pick_big_block(t);
        break;
    case KVC_TIER_LONG_DECODE:
        cheap_heads(t, sp, 16);
        if (kvcg_chance(t, 0.5))
            sp->block_size = pick_big_block(t);
        break;
    case KVC_TIER_MODEL: {
        static const int bs[] = {16, 32, 64, 128, 256};
        sp->cfg.num_q_heads = 32;
        sp->cfg.num_kv_heads = 8;
        sp->cfg.head_dim = 128;
        sp->block_size = bs[kvcg_int(t, 0, NELEM(bs) - 1)];
        break;
    }
    default: break;
    }
    const kvc_size_opts *o = tp->o;
    if (o && o->hq) {
        sp->cfg.num_q_heads = o->hq;
        sp->cfg.num_kv_heads = o->hkv;
    }
    if (o && o->head_dim)
        sp->cfg.head_dim = o->head_dim;
    if (o && o->block_size)
        sp->block_size = o->block_size;
    if (sp->kv_dtype == KVC_KV_NVFP4 && sp->cfg.head_dim % 16 != 0) {
        if (o && o->head_dim) { /* the filter wins: a format without groups */
            sp->kv_dtype = KVC_KV_F16;
            sp->kv_scale = KVC_SCALE_NONE;
            sp->scale_family = KVC_SCALES_CALIBRATED;
            sp->kernel_calibration = 0; /* f16 has no static scale */
        } else {
            sp->cfg.head_dim = (sp->cfg.head_dim + 15) / 16 * 16;
        }
    }
}

int kvcg_tier_maxlen(const kvcg_tier *tp, int base_maxlen)
{
    return tp->tier == KVC_TIER_BIG_BLOCKS ? 2048 : base_maxlen;
}

static int log_uniform(gsl_rng *t, int lo, int hi)
{
    double v = exp(log((double)lo) + gsl_rng_uniform(t) * (log((double)hi) - log((double)lo)));
    int x = (int)v;
    return x < lo ? lo : x > hi ? hi : x;
}

/* Query rows of a big prefill: 64 and its neighbours, multiples of 64
 * (+-1: a partial last tile), any count up to 4096. */
static int big_q(gsl_rng *t)
{
    static const double w[] = {0.15, 0.10, 0.10, 0.30, 0.35};
    switch (kvcg_pick(t, w, NELEM(w))) {
    case 0: return 64;
    case 1: return kvcg_chance(t, 0.5) ? 63 : 65;
    case 2: return 128 + kvcg_int(t, -1, 1);
    case 3: return kvcg_int(t, 2, 64) * 64 + kvcg_int(t, -1, 1);
    default: return log_uniform(t, 64, 4096);
    }
}

/* A long context: next to a power of two (split-KV thresholds), on a
 * block boundary, or anywhere in [lo, hi]. */
static int long_ctx(gsl_rng *t, int B, int lo, int hi)
{
    static const double w[] = {0.3, 0.3, 0.4};
    int v;
    switch (kvcg_pick(t, w, NELEM(w))) {
    case 0: {
        int e = 12; /* the largest power of two <= hi, 2^17 at most */
        while (e < 17 && (2 << e) <= hi)
            e++;
        int p = 1 << kvcg_int(t, 12, e);
        v = p + kvcg_int(t, -1, 1);
        break;
    }
    case 1: v = log_uniform(t, lo, hi) / B * B + kvcg_int(t, -1, 1); break;
    default: v = log_uniform(t, lo, hi); break;
    }
    return v < lo ? lo : v > hi ? hi : v;
}

int kvcg_tier_lengths(kvcg_tier *tp, kvc_case_spec *sp)
{
    gsl_rng *t = tp->t;
    int B = sp->block_size;
    switch (tp->tier) {
    case KVC_TIER_PREFILL:
        sp->num_seqs = kvcg_chance(t, 0.3) ? 2 : 1;
        for (int s = 0; s < sp->num_seqs; s++) {
            sp->q_len[s] = big_q(t);
            sp->ctx_len[s] = kvcg_chance(t, 0.5) ? 0
                             : kvcg_chance(t, 0.5) ? kvcg_int(t, 1, 16) * B
                                                   : log_uniform(t, 1, 4096);
        }
        return 1;
    case KVC_TIER_LONG_DECODE:
        sp->num_seqs = kvcg_int(t, 1, 2);
        for (int s = 0; s < sp->num_seqs; s++) {
            sp->ctx_len[s] = long_ctx(t, B, 2048, 131072);
            sp->q_len[s] = kvcg_chance(t, 0.7) ? 1 : kvcg_int(t, 2, 8);
        }
        return 1;
    case KVC_TIER_MODEL:
        /* 4k..6k keys by default (~1 s a case); up to 32k under LARGE */
        sp->num_seqs = 1;
        sp->ctx_len[0] = long_ctx(t, B, 4095, tp->o && tp->o->size ==
                                                  KVC_SIZE_LARGE ? 32768 : 6144);
        sp->q_len[0] = kvcg_chance(t, 0.8) ? 1 : kvcg_int(t, 2, 4);
        return 1;
    default: return 0;
    }
}

/* The longest sequence's keys and context. */
static void longest(const kvc_case_spec *sp, int *kv, int *ctx)
{
    *kv = *ctx = 0;
    for (int s = 0; s < sp->num_seqs; s++)
        if (sp->ctx_len[s] + sp->q_len[s] > *kv) {
            *kv = sp->ctx_len[s] + sp->q_len[s];
            *ctx = sp->ctx_len[s];
        }
}

int kvcg_tier_window(kvcg_tier *tp, const kvc_case_spec *sp, int base)
{
    gsl_rng *t = tp->t;
    if (tp->tier < KVC_TIER_PREFILL || !kvcg_chance(t, 0.5))
        return base;
    int kv, ctx;
    longest(sp, &kv, &ctx);
    if (kv < 2)
        return base;
    /* A window whose left edge lies deep in a long context (most keys
     * visible: a split-KV decode splits what the window leaves), one next
     * to a power of two (path thresholds: 64-row tiles, 2k/4k-key splits),
     * or any scale, log-uniform. */
    static const double w[] = {0.4, 0.3, 0.3};
    switch (kvcg_pick(t, w, NELEM(w))) {
    case 0:
        if (ctx >= 2)
            return ctx - log_uniform(t, 1, ctx / 2 > 1 ? ctx / 2 : 1);
        return base;
    case 1: {
        int e = 6;
        while (e < 17 && (2 << e) <= kv)
            e++;
        return (1 << kvcg_int(t, 6, e)) + kvcg_int(t, -1, 1);
    }
    default: return log_uniform(t, 1, kv);
    }
}

int kvcg_tier_num_kv_blocks(kvcg_tier *tp, int CL, int B)
{
    gsl_rng *t = tp->t;
    static const double w[] = {0.2, 0.3, 0.3, 0.2};
    int nkb;
    switch (kvcg_pick(t, w, NELEM(w))) {
    case 0: nkb = kvcg_int(t, 1, 4); break;
    case 1: nkb = (CL + B - 1) / B; break;
    case 2: nkb = kvcg_int(t, 64, 512); break; /* hundreds of tiles */
    default: nkb = (CL + 15) / 16; break;
    }
    if (nkb > CL)
        nkb = CL;
    return nkb < 1 ? 1 : nkb;
}

void kvcg_filter_lengths(const kvc_size_opts *o, kvc_case_spec *sp)
{
    if (!o)
        return;
    for (int s = 0; s < sp->num_seqs; s++) {
        if (o->max_q && sp->q_len[s] > o->max_q)
            sp->q_len[s] = o->max_q;
        if (o->max_kv && sp->ctx_len[s] + sp->q_len[s] > o->max_kv) {
            if (sp->q_len[s] > o->max_kv)
                sp->q_len[s] = o->max_kv;
            sp->ctx_len[s] = o->max_kv - sp->q_len[s];
        }
    }
}
