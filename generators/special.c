/*
 * special.c — special inputs of a cache format in a case's K/V
 * (docs/kv-formats.md, "Special inputs in campaigns").
 *
 * Two steps, each on its own RNG stream, so that every other draw of a case
 * (its shape from the spec stream, its values from the value stream) is
 * what it was before this file existed:
 *
 *   kvcg_draw_special (spec stream of the case seed, decorrelated): about
 *   one reduced-precision case in eight and one f32 case in thirty gets
 *   special_inputs; six in ten cases with CALIBRATED static scales
 *   (tensor, attn_head, nvfp4 global; about a quarter of the static cases)
 *   get kernel_calibration: the kernel's observer computes them
 *   (tools/calibration_check.h).
 *
 *   kvcg_special_inputs (after the static scales are chosen, before the
 *   layout): in every sequence 1..3 (position, KV head, K or V) rows get
 *   one or two elements replaced by a special input of the format:
 *     NaN (either sign), +inf, -inf,
 *     beyond: a value whose x / s is past the largest finite value (f16:
 *       65520 .. 2^20, which round to inf; bf16: FLT_MAX, which rounds to
 *       inf; e4m3, e5m2, int8: saturates; f32 and the dynamic scales have
 *       no such value: an infinity takes its place),
 *     subnormal: a subnormal of the format times the row's scale (int8 and
 *       nvfp4: the tie 0.5 below the smallest code, which rounds to 0),
 *     -0.
 *   Positions: the sequence's newest key (kv_len - 1: invisible to every
 *   earlier row of a causal sequence), a key below the window of every row
 *   (when there is one), or any key. So a special sits in a position some
 *   rows must not see in most cases: a kernel that reads a masked key with
 *   weight 0 (0 * NaN) poisons a row the oracle keeps finite.
 *   Shared-prefix positions are left alone (members keep the leader's copy).
 *   With kernel_calibration the static scales are recomputed afterwards
 *   from the final K/V (NaN and infinities ignored, beyond values counted).
 */
#include "gen_internal.h"

#include <float.h>
#include <math.h>

enum { SP_NAN, SP_POS_INF, SP_NEG_INF, SP_BEYOND, SP_SUBNORMAL, SP_NEG_ZERO,
       SP_COUNT };

int kvcg_draw_special(uint64_t case_seed, kvc_case_spec *sp)
{
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(case_seed ^ 0x7370656369616c31ULL));
    if (!r)
        return -1;
    sp->special_inputs = kvcg_chance(r, sp->kv_dtype == KVC_KV_F32 ? 0.03 : 0.12);
    int stat = sp->kv_scale == KVC_SCALE_TENSOR || sp->kv_scale == KVC_SCALE_HEAD ||
               sp->kv_scale == KVC_SCALE_GROUP;
    /* only among CALIBRATED (4 in 10 static cases): the family of every
     * case stays what draw_format made it */
    sp->kernel_calibration = stat && sp->scale_family == KVC_SCALES_CALIBRATED &&
                             kvcg_chance(r, 0.6);
    gsl_rng_free(r);
    return 0;
}

/* Largest finite |x| of n elements (0 when none). */
static float row_amax(const float *x, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && fabsf(x[i]) > m)
            m = fabsf(x[i]);
    return m;
}

/* The scale element d of a row is divided by: the static scale, or for
 * TOKEN / GROUP an estimate from the row's (group's) finite amax. */
static double scale_at(const kvc_problem *p, int which, int h, const float *row,
                       int d)
{
    const kvc_kv_quant *q = &p->quant;
    switch (q->kind) {
    case KVC_SCALE_TENSOR: return which ? q->v_scale : q->k_scale;
    case KVC_SCALE_HEAD: return which ? q->v_head_scale[h] : q->k_head_scale[h];
    case KVC_SCALE_TOKEN: {
        double R = q->dtype == KVC_KV_FP8_E4M3 ? 448.0
                   : q->dtype == KVC_KV_FP8_E5M2 ? 57344.0 : 127.5;
        double a = row_amax(row, p->cfg.head_dim);
        return a > 0.0 ? a / R : 0x1p-23;
    }
    case KVC_SCALE_GROUP: {
        double a = row_amax(row + d / 16 * 16, 16);
        return a > 0.0 ? a / 6.0 : 0x1p-23;
    }
    default: return 1.0;
    }
}

/* A subnormal of the format in the scaled domain t (int8, nvfp4: the tie
 * below their smallest non-zero code). */
static double subnormal_t(gsl_rng *r, kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F32: return ldexp(kvcg_int(r, 1, 1 << 22), -149);
    case KVC_KV_F16: return ldexp(kvcg_int(r, 1, 1023), -24);
    case KVC_KV_BF16: return ldexp(kvcg_int(r, 1, 127), -133);
    case KVC_KV_FP8_E4M3: return ldexp(kvcg_int(r, 1, 7), -9);
    case KVC_KV_FP8_E5M2: return ldexp(kvcg_int(r, 1, 3), -16);
    case KVC_KV_INT8: return 0.5;
    default: return 0.25; /* nvfp4: half of 0.5, rounds to 0 */
    }
}

/* A value past the format's largest finite one, in the scaled domain; 0
 * where the format (or a dynamic scale) has none. */
static double beyond_t(gsl_rng *r, kvc_kv_dtype d, kvc_scale_kind k)
{
    if (k == KVC_SCALE_TOKEN || k == KVC_SCALE_GROUP)
        return 0.0; /* the row's amax maps to the largest code */
    switch (d) {
    case KVC_KV_F16: /* the overflow tie 65520 rounds to inf (even) */
        return kvcg_chance(r, 0.3) ? 65520.0 : ldexp(1.0, kvcg_int(r, 16, 20));
    case KVC_KV_BF16: return FLT_MAX;
    case KVC_KV_FP8_E4M3: return 448.0 * (1.0 + kvcg_int(r, 1, 64) / 8.0);
    case KVC_KV_FP8_E5M2: return 57344.0 * (1.0 + kvcg_int(r, 1, 8) / 4.0);
    case KVC_KV_INT8: return 127.5 + kvcg_int(r, 0, 200);
    default: return 0.0;
    }
}

/* One special value for element d of a row. */
static float special_value(gsl_rng *r, const kvc_problem *p, int which, int h,
                           const float *row, int d)
{
    const kvc_kv_quant *q = &p->quant;
    int kind = kvcg_int(r, 0, SP_COUNT - 1);
    double sign = kvcg_chance(r, 0.5) ? -1.0 : 1.0;
    if (kind == SP_BEYOND) {
        double t = beyond_t(r, q->dtype, q->kind);
        if (t == 0.0)
            return (float)(sign * INFINITY);
        float x = (float)(sign * t * scale_at(p, which, h, row, d));
        return isfinite(x) ? x : (float)(sign * FLT_MAX);
    }
    switch (kind) {
    case SP_NAN: return copysignf(NAN, (float)sign);
    case SP_POS_INF: return INFINITY;
    case SP_NEG_INF: return -INFINITY;
    case SP_SUBNORMAL:
        return (float)(sign * subnormal_t(r, q->dtype) *
                       (q->dtype == KVC_KV_F32 || q->kind == KVC_SCALE_NONE
                            ? 1.0 : scale_at(p, which, h, row, d)));
    default: return -0.0f;
    }
}

/* The key position of one special row of sequence s (kv > 0). */
static int special_position(gsl_rng *r, const kvc_problem *p, int s)
{
    int kv = kvc_kv_len(p, s), wl = p->cfg.window_left;
    int below = wl >= 0 ? p->ctx_len[s] - wl : 0; /* below every window */
    double u = gsl_rng_uniform(r);
    if (u < 0.4)
        return kv - 1;
    if (u < 0.6 && below > 0)
        return kvcg_int(r, 0, (below < kv ? below : kv) - 1);
    return kvcg_int(r, 0, kv - 1);
}

int kvcg_special_inputs(kvcg_ctx *x)
{
    const kvc_case_spec *sp = x->spec;
    kvc_problem *p = &x->c->prob;
    if (!sp->special_inputs)
        return 0;
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(x->c->value_seed ^
                                              0x7370656369616c32ULL));
    if (!r)
        return -1;
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    for (int s = 0; s < p->num_seqs; s++) {
        if (kvc_kv_len(p, s) == 0)
            continue;
        for (int n = kvcg_int(r, 1, 3); n > 0; n--) {
            int j = special_position(r, p, s), h = kvcg_int(r, 0, H - 1);
            int which = kvcg_int(r, 0, 1);
            if (kvcg_in_shared(x, s, j))
                continue;
            float *row = (which ? p->v : p->k) +
                         ((p->kv_start[s] + j) * H + h) * (int64_t)D;
            for (int e = kvcg_int(r, 1, 2); e > 0; e--) {
                int d = kvcg_int(r, 0, D - 1);
                row[d] = special_value(r, p, which, h, row, d);
            }
        }
    }
    gsl_rng_free(r);
    return 0;
}
