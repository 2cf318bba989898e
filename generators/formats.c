/*
 * formats.c — the cache format of a case (docs/kv-formats.md): which K/V
 * values sit on the format's boundaries, and the static scales.
 *
 * Two build steps, both drawing from the value RNG only when the case has a
 * reduced-precision format (an f32 case draws exactly what it always did):
 *
 *   kvcg_format_edges (after values, before leak boosting): sets the
 *   problem's format, gives TENSOR/HEAD/GROUP provisional power-of-two
 *   static scales s0, and with spec.format_edges overlays about a third of
 *   the (position, KV head) rows of K and V with boundary values t * s,
 *   where t is drawn on the format's grid (edge_t) and s is a power of two,
 *   so that x / s == t exactly and the encoder sees the very midpoint:
 *     NONE (f16, bf16)  s = 1;
 *     TENSOR, HEAD      s = s0 (the provisional static scale);
 *     TOKEN             per row s = 2^k, with one element of the row set to
 *                       +-R * 2^k so that the dynamic scale fp32(amax / R)
 *                       is exactly 2^k (R = 448, 57344, 127.5);
 *     GROUP             per group of 16, s = 2^j with one element +-6 * 2^j,
 *                       and the global scale g0 = 2^m chosen so that
 *                       g0 * amax / 6 = 2^(m+j) is an e4m3 normal value: the
 *                       block code is exact and the effective scale is 2^j.
 *   Some rows (TOKEN) and groups (GROUP) are all zero: the 2^-23 token scale
 *   and the 0x01 block code. Values beyond the largest finite value
 *   (saturation) appear only under static scales; infinities (and NaN for
 *   int8 and nvfp4) only where the format encodes them to a finite code and
 *   the case is not leak-sensitive (leak.c computes scores on the logical
 *   values).
 *
 *   kvcg_choose_scales (after leak boosting): the final static scales by
 *   scale family, from the finished K/V: CALIBRATED the min-max rule
 *   (kvc_calib_scale, kvc_calib_nvfp4_global) on the amax of the tensor or
 *   head; POW2 the provisional s0 when edges were laid on it, else the
 *   power of two nearest the calibrated scale; HUGE the calibrated scale
 *   times 2^(B+1..B+6), B the binades of the format's range (fp8/int8 codes
 *   fall into the subnormals and zero), nvfp4 global times 2^8..2^20 (every
 *   block code saturates); TINY divided by 2^4..2^12 (codes saturate),
 *   nvfp4 global by 2^18..2^26 (block codes underflow to 0x01).
 *
 * f16 cases keep |x| < 65520 (larger values become 65504): an infinite
 * stored key would make every score NaN, and f16 overflow is the cache
 * write's business, checked byte for byte in tests/.
 */
#include "gen_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* The largest finite positive code, whose successor is the overflow. For
 * bf16 the grid is cut at 2^16: attention on 3e38 keys only overflows. */
static uint32_t top_code(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F16: return 0x7BFF;
    case KVC_KV_BF16: return 0x477F; /* < 2^16 */
    case KVC_KV_FP8_E4M3: return 0x7E;
    case KVC_KV_FP8_E5M2: return 0x7B;
    case KVC_KV_INT8: return 127;
    case KVC_KV_NVFP4: return 7;
    default: return 0;
    }
}

/* Codes below this one are the format's subnormals (int8: none). */
static uint32_t first_normal_code(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F16: return 0x0400;
    case KVC_KV_BF16: return 0x0080;
    case KVC_KV_FP8_E4M3: return 0x08;
    case KVC_KV_FP8_E5M2: return 0x04;
    case KVC_KV_NVFP4: return 2;
    default: return 1;
    }
}

/* Value of positive code c (int8: the integer). */
static double grid(kvc_kv_dtype d, uint32_t c)
{
    return d == KVC_KV_INT8 ? (double)c : kvc_decode(d, c);
}

/* The scale range R of a dynamic scale (amax maps to R). */
static double range_of(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_FP8_E4M3: return 448.0;
    case KVC_KV_FP8_E5M2: return 57344.0;
    case KVC_KV_INT8: return 127.5;
    case KVC_KV_NVFP4: return 6.0;
    default: return 1.0;
    }
}

/* An exponent k with R * 2^k in [1, 8): boundary rows of moderate size. */
static int moderate_exponent(gsl_rng *r, kvc_kv_dtype d)
{
    int kmin = (int)ceil(-log2(range_of(d)));
    return kvcg_int(r, kmin, kmin + 2);
}

/* What edge_t may produce besides values on and around the grid. */
typedef struct edge_rules {
    uint32_t top;  /* the largest code drawn (top_code, or lower) */
    int beyond;    /* values past the largest finite (static scales) */
    int infinite;  /* +-inf (saturating formats only) */
    int nan;       /* NaN (int8, nvfp4: encoded as 0) */
} edge_rules;

/* Midpoint of codes c, c+1 (exact in binary32: one bit more than c). */
static float midpoint(kvc_kv_dtype d, uint32_t c)
{
    return (float)((grid(d, c) + grid(d, c + 1)) / 2.0);
}

/* One boundary value in the scaled domain (t = x / s), random sign. */
static float edge_t(gsl_rng *r, kvc_kv_dtype d, const edge_rules *e)
{
    const uint32_t top = e->top, sub = first_normal_code(d);
    float t;
    switch (kvcg_int(r, 0, 8)) {
    case 0: t = midpoint(d, (uint32_t)kvcg_int(r, 0, (int)top - 1)); break;
    case 1:
        t = nextafterf(midpoint(d, (uint32_t)kvcg_int(r, 0, (int)top - 1)),
                       INFINITY);
        break;
    case 2:
        t = nextafterf(midpoint(d, (uint32_t)kvcg_int(r, 0, (int)top - 1)),
                       0.0f);
        break;
    case 3: t = 0.0f; break;
    case 4: /* a subnormal of the format, or the tie below the smallest */
        t = sub > 1 ? (float)grid(d, (uint32_t)kvcg_int(r, 1, (int)sub - 1))
                    : midpoint(d, 0);
        break;
    case 5: t = (float)grid(d, top); break;
    case 6:
        if (e->beyond) { /* the overflow tie, or well past it */
            t = kvcg_chance(r, 0.5)
                    ? (float)(grid(d, top) * (1.0 + kvcg_int(r, 1, 8) / 4.0))
                    : (float)(grid(d, top) + (grid(d, top) - grid(d, top - 1)) / 2.0);
        } else if (d == KVC_KV_F16 && top == top_code(d)) {
            t = nextafterf(65520.0f, 0.0f); /* rounds down to 65504 */
        } else {
            t = (float)grid(d, top);
        }
        break;
    case 7:
        if (e->infinite || e->nan) {
            t = e->nan && kvcg_chance(r, 0.5) ? NAN : INFINITY;
            break;
        }
        /* fall through */
    default: t = (float)grid(d, (uint32_t)kvcg_int(r, 0, (int)top)); break;
    }
    return kvcg_chance(r, 0.5) ? -t : t;
}

/* Overlay one row x[0..n) (n = D, or 16 for a group) with edges at scale
 * 2^k. With anchor (TOKEN, GROUP) one element is +-R * 2^k, the row's amax,
 * so that the dynamic scale is exactly 2^k; zero_chance makes the whole row
 * zero. */
static void edge_row(gsl_rng *r, kvc_kv_dtype d, float *x, int n, double s,
                     int anchor, const edge_rules *e)
{
    if (anchor && kvcg_chance(r, 0.1)) {
        memset(x, 0, (size_t)n * sizeof *x);
        return;
    }
    for (int i = 0; i < n; i++)
        x[i] = (float)(edge_t(r, d, e) * s);
    if (anchor) {
        int a = kvcg_int(r, 0, n - 1);
        x[a] = (float)((kvcg_chance(r, 0.5) ? -1.0 : 1.0) * range_of(d) * s);
    }
}

/* Provisional power-of-two static scales s0 (and the nvfp4 global scale
 * g0 = 2^m): per tensor one exponent, per head one each. */
static void provisional_scales(gsl_rng *r, kvc_problem *p)
{
    kvc_kv_quant *q = &p->quant;
    if (q->kind == KVC_SCALE_GROUP) {
        q->k_scale = ldexpf(1.0f, kvcg_int(r, -4, 6));
        q->v_scale = ldexpf(1.0f, kvcg_int(r, -4, 6));
        return;
    }
    q->k_scale = ldexpf(1.0f, moderate_exponent(r, q->dtype));
    q->v_scale = ldexpf(1.0f, moderate_exponent(r, q->dtype));
    if (q->kind == KVC_SCALE_HEAD)
        for (int h = 0; h < p->cfg.num_kv_heads; h++) {
            q->k_head_scale[h] = ldexpf(1.0f, moderate_exponent(r, q->dtype));
            q->v_head_scale[h] = ldexpf(1.0f, moderate_exponent(r, q->dtype));
        }
}

/* The static scale an element of head h of K (which 0) or V (1) is divided
 * by: s0, or 1 for NONE. */
static double static_scale(const kvc_kv_quant *q, int which, int h)
{
    if (q->kind == KVC_SCALE_TENSOR)
        return which ? q->v_scale : q->k_scale;
    if (q->kind == KVC_SCALE_HEAD)
        return which ? q->v_head_scale[h] : q->k_head_scale[h];
    return 1.0;
}

/* One (position, head) row of K or V. */
static void edge_kv_row(gsl_rng *r, const kvc_problem *p, int which, int h,
                        float *x, const edge_rules *e)
{
    const kvc_kv_quant *q = &p->quant;
    const int D = p->cfg.head_dim;
    if (q->kind == KVC_SCALE_TOKEN) {
        edge_row(r, q->dtype, x, D, ldexp(1.0, moderate_exponent(r, q->dtype)),
                 1, e);
    } else if (q->kind == KVC_SCALE_GROUP) {
        int m = (int)log2(which ? q->v_scale : q->k_scale);
        for (int g = 0; g < D / 16; g++) {
            /* m + j in [-6, 8]: 2^(m+j) is an e4m3 normal value */
            int j = kvcg_int(r, -6 - m > -3 ? -6 - m : -3, 8 - m < 1 ? 8 - m : 1);
            edge_row(r, q->dtype, x + 16 * g, 16, ldexp(1.0, j), 1, e);
        }
    } else {
        edge_row(r, q->dtype, x, D, static_scale(q, which, h), 0, e);
    }
}

int kvcg_format_edges(kvcg_ctx *x)
{
    const kvc_case_spec *sp = x->spec;
    kvc_problem *p = &x->c->prob;
    if (sp->kv_dtype == KVC_KV_F32)
        return 0;
    if (kvc_problem_set_quant(p, sp->kv_dtype, sp->kv_scale) != 0)
        return -1;
    provisional_scales(x->rng, p);
    if (!sp->format_edges)
        return 0;
    const kvc_kv_dtype d = sp->kv_dtype;
    const int saturating = d == KVC_KV_FP8_E4M3 || d == KVC_KV_FP8_E5M2 ||
                           d == KVC_KV_INT8 || d == KVC_KV_NVFP4;
    const int stat = sp->kv_scale == KVC_SCALE_TENSOR ||
                     sp->kv_scale == KVC_SCALE_HEAD;
    /* leak boosting (after this) scales keys up from the largest visible
     * score: keep unscaled formats' edges moderate there, so boosted keys
     * stay inside f16's range */
    const int moderate = !saturating && sp->leak_sensitive;
    const edge_rules e = {
        moderate ? (d == KVC_KV_F16 ? 0x5BFFu : 0x437Fu) : top_code(d),
        saturating && stat, saturating && !sp->leak_sensitive,
        (d == KVC_KV_INT8 || d == KVC_KV_NVFP4) && !sp->leak_sensitive};
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    for (int s = 0; s < p->num_seqs; s++)
        for (int j = 0; j < kvc_kv_len(p, s); j++) {
            if (kvcg_in_shared(x, s, j))
                continue; /* members must keep the leader's copy */
            for (int h = 0; h < H; h++)
                for (int which = 0; which < 2; which++) {
                    if (!kvcg_chance(x->rng, 0.3))
                        continue;
                    float *t = which ? p->v : p->k;
                    int64_t at = ((p->kv_start[s] + j) * H + h) * (int64_t)D;
                    edge_kv_row(x->rng, p, which, h, t + at, &e);
                }
        }
    return 0;
}

/* Largest finite |x| over heads [h0, h1) of every position of K or V. */
static float amax_of(const kvc_problem *p, int which, int h0, int h1)
{
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    const float *t = which ? p->v : p->k;
    float m = 0.0f;
    for (int64_t r = 0; r < p->kv_start[p->num_seqs]; r++)
        for (int h = h0; h < h1; h++)
            for (int d = 0; d < D; d++) {
                float a = fabsf(t[(r * H + h) * D + d]);
                if (isfinite(a) && a > m)
                    m = a;
            }
    return m;
}

/* Binades between a format's largest finite value and the point where its
 * codes round to zero: a static scale this many binades too large leaves
 * every code zero or subnormal (int8: rounding to 0 below 0.5). */
static int underflow_binades(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_FP8_E4M3: return 15; /* 448 / 2^-6 */
    case KVC_KV_FP8_E5M2: return 30; /* 57344 / 2^-14 */
    default: return 8;               /* int8: 127.5 / 0.5 */
    }
}

/* The final static scale of one tensor or head, s0 the provisional one.
 * For nvfp4 the global scale multiplies the block scales: a huge g makes
 * them saturate at 448, a g 2^18.. too small makes them round to zero
 * (replaced by 0x01). */
static float family_scale(gsl_rng *r, const kvc_case_spec *sp, float s0,
                          float amax)
{
    const int group = sp->kv_scale == KVC_SCALE_GROUP;
    const float base = group ? kvc_calib_nvfp4_global(amax)
                             : kvc_calib_scale(sp->kv_dtype, amax);
    float s = base;
    switch (sp->scale_family) {
    case KVC_SCALES_POW2:
        s = sp->format_edges ? s0 : ldexpf(1.0f, (int)lrint(log2(base)));
        break;
    case KVC_SCALES_HUGE:
        s = ldexpf(base, group ? kvcg_int(r, 8, 20)
                               : underflow_binades(sp->kv_dtype) + kvcg_int(r, 1, 6));
        break;
    case KVC_SCALES_TINY:
        s = ldexpf(base, group ? -kvcg_int(r, 18, 26) : -kvcg_int(r, 4, 12));
        break;
    default: break;
    }
    /* keep decode(max code) * s finite: the stored values must be */
    if (!(isfinite(s) && s > 0.0f && s < FLT_MAX / 65536.0f))
        s = base;
    return s;
}

void kvcg_choose_scales(kvcg_ctx *x)
{
    const kvc_case_spec *sp = x->spec;
    kvc_problem *p = &x->c->prob;
    kvc_kv_quant *q = &p->quant;
    const int H = p->cfg.num_kv_heads;
    if (sp->kv_dtype == KVC_KV_F16) /* see the header: stay finite */
        for (int which = 0; which < 2; which++) {
            float *t = which ? p->v : p->k;
            int64_t n = p->kv_start[p->num_seqs] * H * (int64_t)p->cfg.head_dim;
            for (int64_t i = 0; i < n; i++)
                if (fabsf(t[i]) >= 65520.0f) /* would encode as inf */
                    t[i] = copysignf(65504.0f, t[i]);
        }
    if (q->kind == KVC_SCALE_TENSOR || q->kind == KVC_SCALE_GROUP) {
        q->k_scale = family_scale(x->rng, sp, q->k_scale, amax_of(p, 0, 0, H));
        q->v_scale = family_scale(x->rng, sp, q->v_scale, amax_of(p, 1, 0, H));
    } else if (q->kind == KVC_SCALE_HEAD) {
        for (int h = 0; h < H; h++) {
            q->k_head_scale[h] = family_scale(x->rng, sp, q->k_head_scale[h],
                                              amax_of(p, 0, h, h + 1));
            q->v_head_scale[h] = family_scale(x->rng, sp, q->v_head_scale[h],
                                              amax_of(p, 1, h, h + 1));
        }
    }
}
