/* fuzz_spec.c — see fuzz_spec.h. */
#include "fuzz_spec.h"

#include <math.h>
#include <string.h>

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Sizes: small values in one byte, boundary values as specials, anything
 * else raw (then clamped by the repair). Small cases keep the fuzzer fast;
 * large ones still come up. */
static const int dim_specials[] = {63, 64, 65, 80, 96, 127, 128, 129};
static const int ctx_specials[] = {127, 128, 129, 255, 256, 257, 511, 512,
                                   1023, 1024, 1025, 1999, 2047};
static const int q_specials[] = {31, 32, 33, 63, 64, 65, 127, 128, 255};

/* Scale choices: 0 = 1/sqrt(D) (the default), 1.. = table, last = raw. */
static const float scale_table[] = {1.0f, 0.5f, 2.0f, -1.0f, -0.25f,
                                    0.05f, 0.0f, 1e-3f, 4.0f, 0.35f};
#define N_SCALES ((int)(sizeof scale_table / sizeof scale_table[0]))
static const float softcap_table[] = {5.0f, 30.0f, 50.0f, 1.0f};
#define N_CAPS ((int)(sizeof softcap_table / sizeof softcap_table[0]))

static float default_scale(int D)
{
    return 1.0f / sqrtf((float)(D > 0 ? D : 1));
}

/* The scale kinds a cache format takes (kvc_quant_kind_valid), in order:
 * the byte format stores the index of the kind among them. */
static int format_kinds(kvc_kv_dtype d, kvc_scale_kind *kinds)
{
    switch (d) {
    case KVC_KV_FP8_E4M3:
    case KVC_KV_FP8_E5M2:
    case KVC_KV_INT8:
        kinds[0] = KVC_SCALE_TENSOR;
        kinds[1] = KVC_SCALE_HEAD;
        kinds[2] = KVC_SCALE_TOKEN;
        return 3;
    case KVC_KV_NVFP4:
        kinds[0] = KVC_SCALE_GROUP;
        return 1;
    default:
        kinds[0] = KVC_SCALE_NONE;
        return 1;
    }
}

/* kv_dtype, its scale kind (an index among the kinds it takes: no byte when
 * there is one), scale_family, format_edges. */
static void io_format(fz_io *io, kvc_case_spec *sp)
{
    int dtype = (int)sp->kv_dtype;
    fz_io_int(io, &dtype, 0, KVC_KV_DTYPE_COUNT - 1);
    sp->kv_dtype = (kvc_kv_dtype)dtype;
    kvc_scale_kind kinds[3];
    int n = format_kinds(sp->kv_dtype, kinds), idx = 0;
    if (io->writing)
        for (idx = 0; idx < n && kinds[idx] != sp->kv_scale; idx++)
            ;
    fz_io_int(io, &idx, 0, n - 1); /* a writer aborts on a kind not taken */
    sp->kv_scale = kinds[idx];
    int family = (int)sp->scale_family;
    fz_io_int(io, &family, 0, KVC_SCALES_COUNT - 1);
    sp->scale_family = (kvc_scale_family)family;
    fz_io_bool(io, &sp->format_edges);
}

void fz_spec_io(fz_io *io, kvc_case_spec *sp, uint64_t *value_seed)
{
    if (!io->writing)
        memset(sp, 0, sizeof *sp);
    int mode = (int)sp->mode;
    fz_io_int(io, &mode, 0, KVC_MODE_COUNT - 1);
    sp->mode = (kvc_mode)mode;

    int hkv = sp->cfg.num_kv_heads;
    int group = io->writing ? sp->cfg.num_q_heads / sp->cfg.num_kv_heads : 0;
    fz_io_int(io, &hkv, 1, 8);
    fz_io_int(io, &group, 1, 16);
    sp->cfg.num_kv_heads = hkv;
    sp->cfg.num_q_heads = hkv * group;
    fz_io_int_special(io, &sp->cfg.head_dim, 1, 40, dim_specials,
                      NELEM(dim_specials));
    fz_io_float_choice(io, &sp->cfg.scale, default_scale(sp->cfg.head_dim),
                    scale_table, N_SCALES);
    fz_io_float_choice(io, &sp->cfg.softcap, 0.0f, softcap_table, N_CAPS);
    fz_io_bool(io, &sp->cfg.causal);
    fz_io_int(io, &sp->cfg.window_left, -1, 1000);

    fz_io_int(io, &sp->num_seqs, 0, KVC_MAX_SEQS);
    for (int s = 0; s < sp->num_seqs; s++) {
        fz_io_int_special(io, &sp->ctx_len[s], 0, 63, ctx_specials,
                          NELEM(ctx_specials));
        fz_io_int_special(io, &sp->q_len[s], 0, 17, q_specials,
                          NELEM(q_specials));
    }
    fz_io_int(io, &sp->pad_tokens, 0, 7);
    fz_io_int(io, &sp->block_size, 1, FZ_SPEC_MAX_B);
    fz_io_bool(io, &sp->hnd);
    fz_io_int(io, &sp->stride_pad, 0, 8);
    fz_io_int(io, &sp->extra_blocks, 0, 8);
    int table = (int)sp->table;
    fz_io_int(io, &table, 0, KVC_TABLE_COUNT - 1);
    sp->table = (kvc_table_kind)table;
    fz_io_int(io, &sp->cache_len, 0, 4095);
    fz_io_int(io, &sp->num_kv_blocks, 0, 255);
    int mask = (int)sp->mask;
    fz_io_int(io, &mask, 0, KVC_MASK_COUNT - 1);
    sp->mask = (kvc_mask_kind)mask;
    int values = (int)sp->values;
    fz_io_int(io, &values, 0, KVC_VALUES_COUNT - 1);
    sp->values = (kvc_values_kind)values;
    fz_io_bool(io, &sp->leak_sensitive);
    fz_io_bool(io, &sp->qeff_left_pad);
    fz_io_int(io, &sp->qeff_max_q, 0, 255);
    fz_io_u64(io, value_seed, 0, UINT32_MAX);
    /* Last, so inputs written before the fields existed still decode (past
     * the end every byte reads 0: no large offsets, an f32 cache). */
    fz_io_bool(io, &sp->large_offsets);
    io_format(io, sp);
}

static int max_kv_len(const kvc_case_spec *sp)
{
    int m = 0;
    for (int s = 0; s < sp->num_seqs; s++)
        if (sp->ctx_len[s] + sp->q_len[s] > m)
            m = sp->ctx_len[s] + sp->q_len[s];
    return m;
}

/* Elements of the largest tensor the case allocates (pool, cache, masks,
 * q), roughly: enough to keep memory and time bounded. */
static int64_t spec_elems(const kvc_case_spec *sp)
{
    const kvc_config *g = &sp->cfg;
    int64_t kv_rows = 0, tokens = sp->pad_tokens, blocks = sp->extra_blocks + 1,
            mask = 0;
    int B = sp->block_size > 0 ? sp->block_size : 1;
    for (int s = 0; s < sp->num_seqs; s++) {
        int64_t kv = (int64_t)sp->ctx_len[s] + sp->q_len[s];
        kv_rows += kv;
        tokens += sp->q_len[s];
        blocks += (kv + B - 1) / B;
        mask += (int64_t)sp->q_len[s] * kv;
    }
    int64_t m = kv_rows * g->num_kv_heads * g->head_dim;
    int64_t pool = blocks * B * g->num_kv_heads *
                   ((int64_t)g->head_dim + sp->stride_pad);
    if (sp->mode == KVC_MODE_BLOCKED) {
        int64_t S = sp->num_seqs > 0 ? sp->num_seqs : 1;
        pool = S * g->num_kv_heads * (int64_t)sp->cache_len * g->head_dim;
    }
    if (pool > m)
        m = pool;
    if (tokens * g->num_q_heads * g->head_dim > m)
        m = tokens * g->num_q_heads * g->head_dim;
    if (mask > m)
        m = mask;
    return m;
}

static void qeff_fit_block(kvc_case_spec *sp, int s)
{
    int B = sp->block_size;
    if (sp->q_len[s] > 0) {
        int room = B - sp->ctx_len[s] % B;
        if (sp->q_len[s] > room)
            sp->q_len[s] = room;
    }
}

static int clamp_int(int x, int lo, int hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* nvfp4 scales groups of 16 along head_dim: D rounded up to a multiple of
 * 16, at most FZ_SPEC_MAX_D. */
static int nvfp4_dim(int D)
{
    int r = (D + 15) / 16 * 16;
    return r > FZ_SPEC_MAX_D / 16 * 16 ? FZ_SPEC_MAX_D / 16 * 16 : r;
}

void fz_spec_repair(kvc_case_spec *sp)
{
    kvc_config *g = &sp->cfg;
    /* raw sizes back into range */
    g->head_dim = clamp_int(g->head_dim, 1, FZ_SPEC_MAX_D);
    const int nvfp4 = sp->kv_dtype == KVC_KV_NVFP4;
    if (nvfp4)
        g->head_dim = nvfp4_dim(g->head_dim);
    for (int s = 0; s < sp->num_seqs; s++) {
        sp->ctx_len[s] = clamp_int(sp->ctx_len[s], 0, FZ_SPEC_MAX_CTX);
        sp->q_len[s] = clamp_int(sp->q_len[s], 0, FZ_SPEC_MAX_Q);
    }
    if (g->num_kv_heads < 1)
        g->num_kv_heads = 1;
    while (g->num_q_heads > FZ_SPEC_MAX_HQ && g->num_q_heads > g->num_kv_heads)
        g->num_q_heads -= g->num_kv_heads; /* stays a multiple of Hkv */
    if (g->num_q_heads > FZ_SPEC_MAX_HQ) { /* Hkv alone too large */
        g->num_kv_heads = FZ_SPEC_MAX_HQ;
        g->num_q_heads = FZ_SPEC_MAX_HQ;
    }
    if (!isfinite(g->scale) || fabsf(g->scale) > 4.0f)
        g->scale = default_scale(g->head_dim);
    /* Leak boosting raises a key until scale * q.k beats the row by 20: a
     * tiny scale would need keys near FLT_MAX, whose fp32 dot products
     * overflow in any kernel (the generator draws |scale| >= 0.05). */
    if (sp->leak_sensitive && g->scale != 0.0f && fabsf(g->scale) < 1e-3f)
        g->scale = copysignf(1e-3f, g->scale);
    if (!isfinite(g->softcap) || !(g->softcap >= 0.0f) || g->softcap > 1e4f)
        g->softcap = 0.0f;
    if (sp->block_size < 1)
        sp->block_size = 1;

    if (sp->mode == KVC_MODE_QEFF)
        for (int s = 0; s < sp->num_seqs; s++)
            qeff_fit_block(sp, s);

    if (sp->mode == KVC_MODE_BLOCKED) {
        int mk = max_kv_len(sp);
        if (sp->cache_len < mk)
            sp->cache_len = mk;
        if (sp->cache_len < 1)
            sp->cache_len = 1;
    }

    /* Halve the largest sequence (q first) until work and memory fit. */
    for (int guard = 0; guard < 200; guard++) {
        if (kvc_spec_work(sp) <= FZ_SPEC_WORK_CAP &&
            spec_elems(sp) <= FZ_SPEC_ELEMS_CAP)
            break;
        int best = -1;
        int64_t bw = -1;
        for (int s = 0; s < sp->num_seqs; s++) {
            int64_t w = (int64_t)sp->q_len[s] * (sp->ctx_len[s] + sp->q_len[s]) +
                        sp->ctx_len[s] + sp->q_len[s];
            if (w > bw) {
                bw = w;
                best = s;
            }
        }
        if (best >= 0 && bw > 0) {
            if (sp->q_len[best] > 1)
                sp->q_len[best] /= 2;
            else if (sp->ctx_len[best] > 0)
                sp->ctx_len[best] /= 2;
            else
                sp->q_len[best] = 0;
            continue;
        }
        /* no length left to cut: shrink the shape itself */
        int mk = max_kv_len(sp) > 1 ? max_kv_len(sp) : 1;
        if (sp->mode == KVC_MODE_BLOCKED && sp->cache_len > mk) {
            sp->cache_len = sp->cache_len / 2 > mk ? sp->cache_len / 2 : mk;
            continue;
        }
        if (g->head_dim > (nvfp4 ? 16 : 1)) {
            g->head_dim = (g->head_dim + 1) / 2;
            if (nvfp4)
                g->head_dim = nvfp4_dim(g->head_dim);
            continue;
        }
        if (sp->stride_pad > 0 || sp->extra_blocks > 0 || sp->pad_tokens > 0) {
            sp->stride_pad = sp->extra_blocks = sp->pad_tokens = 0;
            continue;
        }
        break;
    }
    /* Shrinking kept QEFF writes inside their block (q and ctx only went
     * down, ctx halving may move a write: re-fit). */
    if (sp->mode == KVC_MODE_QEFF)
        for (int s = 0; s < sp->num_seqs; s++)
            qeff_fit_block(sp, s);

    if (sp->mode == KVC_MODE_BLOCKED) {
        sp->large_offsets = 0;
        int mk = max_kv_len(sp);
        if (sp->cache_len < mk)
            sp->cache_len = mk;
        if (sp->cache_len < 1)
            sp->cache_len = 1;
        if (sp->num_kv_blocks < 1)
            sp->num_kv_blocks = 1;
        if (sp->num_kv_blocks > sp->cache_len)
            sp->num_kv_blocks = sp->cache_len;
    }
    if (sp->mode == KVC_MODE_QEFF) {
        int mq = 0;
        for (int s = 0; s < sp->num_seqs; s++)
            if (sp->q_len[s] > mq)
                mq = sp->q_len[s];
        if (sp->qeff_max_q < mq)
            sp->qeff_max_q = mq;
        if (sp->qeff_max_q < 1)
            sp->qeff_max_q = 1;
    }
}
