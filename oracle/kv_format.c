/*
 * kv_format.c — reduced-precision KV formats, from their definitions, in
 * double. See kv_format.h and ../docs/kv-formats.md.
 *
 * No bit tricks on binary32 here: values are built and compared as real
 * numbers. Every binary32 value, every grid point of these formats and every
 * midpoint between two neighbouring grid points is exactly representable in
 * double, so the comparisons below decide the rounding exactly.
 */
#include "kv_format.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Format descriptions                                                      */
/* ------------------------------------------------------------------------ */

/* Which codes are not finite numbers. */
typedef enum mf_specials {
    MF_IEEE, /* exponent field all ones: m == 0 -> +-inf, m != 0 -> NaN */
    MF_FN,   /* only exponent and mantissa all ones is NaN; no infinity */
    MF_NONE  /* every code is a finite number */
} mf_specials;

/* What happens to a value beyond the largest finite one. */
typedef enum mf_overflow {
    MF_TO_INF,    /* IEEE: a value that rounds past the largest finite -> inf */
    MF_SATFINITE  /* |t| > largest finite (inf included) -> +-largest finite */
} mf_overflow;

typedef struct mf_format {
    int ebits;          /* exponent field width */
    int mbits;          /* mantissa field width */
    int bias;
    mf_specials specials;
    mf_overflow overflow;
    double max_finite;  /* largest finite value (checked by the tests against
                           the decoder) */
    double min_normal;  /* 2^(1 - bias), the smallest normal value: a
                           literal, so encoding calls no ldexp (the
                           campaign's long tiers encode millions of values;
                           checked by the tests against the decoder) */
    uint32_t nan_code;  /* NaN written on encode (positive) */
    int nan_keeps_sign; /* NaN written as sign | nan_code */
} mf_format;

static const mf_format FMT_F16 = {5, 10, 15, MF_IEEE, MF_TO_INF,
                                  65504.0, 0x1p-14, 0x7E00u, 1};
static const mf_format FMT_BF16 = {8, 7, 127, MF_IEEE, MF_TO_INF,
                                   0x1.fep127, 0x1p-126, 0x7FC0u, 1};
static const mf_format FMT_E4M3 = {4, 3, 7, MF_FN, MF_SATFINITE,
                                   448.0, 0x1p-6, 0x7Fu, 0};
static const mf_format FMT_E5M2 = {5, 2, 15, MF_IEEE, MF_SATFINITE,
                                   57344.0, 0x1p-14, 0x7Fu, 0};
static const mf_format FMT_E2M1 = {2, 1, 1, MF_NONE, MF_SATFINITE,
                                   6.0, 0x1p0, 0x0u, 0};

static uint32_t mf_sign_bit(const mf_format *f)
{
    return (uint32_t)1 << (f->ebits + f->mbits);
}

static uint32_t mf_exp_all_ones(const mf_format *f)
{
    return ((uint32_t)1 << f->ebits) - 1u;
}

static uint32_t mf_man_all_ones(const mf_format *f)
{
    return ((uint32_t)1 << f->mbits) - 1u;
}

/* 2^mbits, the number of mantissa steps per binade (exact). */
static double mf_steps(const mf_format *f)
{
    return (double)((uint32_t)1 << f->mbits);
}

/* The spacing of the subnormals, 2^(emin - mbits) (an exact quotient). */
static double mf_sub_quantum(const mf_format *f)
{
    return f->min_normal / mf_steps(f);
}

/* ------------------------------------------------------------------------ */
/* Generic decode                                                           */
/* ------------------------------------------------------------------------ */

static double mf_decode(const mf_format *f, uint32_t code)
{
    uint32_t width_mask = (mf_sign_bit(f) << 1) - 1u;
    code &= width_mask;
    int negative = (code & mf_sign_bit(f)) != 0;
    uint32_t e = (code >> f->mbits) & mf_exp_all_ones(f);
    uint32_t m = code & mf_man_all_ones(f);
    double v;

    if (f->specials == MF_IEEE && e == mf_exp_all_ones(f)) {
        if (m != 0)
            return NAN;
        v = INFINITY;
    } else if (f->specials == MF_FN && e == mf_exp_all_ones(f) &&
               m == mf_man_all_ones(f)) {
        return NAN;
    } else if (e == 0) {
        /* subnormal: (m / 2^mb) * 2^(1 - bias) */
        v = (double)m * mf_sub_quantum(f);
    } else {
        /* normal: (1 + m / 2^mb) * 2^(e - bias) */
        v = ldexp(1.0 + (double)m / mf_steps(f), (int)e - f->bias);
    }
    return negative ? -v : v;
}

/* ------------------------------------------------------------------------ */
/* Generic encode                                                           */
/* ------------------------------------------------------------------------ */

/* The magnitude code of a finite grid value v (0 <= v <= max_finite):
 * subnormal v = m * 2^(emin - mb) -> (0, m); normal v in [2^E, 2^(E+1)):
 * v = (1 + m/2^mb) * 2^E -> (E + bias, m). */
static uint32_t mf_code_of_grid_value(const mf_format *f, double v)
{
    if (v == 0.0)
        return 0;
    if (v < f->min_normal) {
        double m = v / mf_sub_quantum(f); /* an integer: exact */
        return (uint32_t)m;
    }
    int k;
    double fr = frexp(v, &k); /* v = fr * 2^k, fr in [0.5, 1) */
    int E = k - 1;            /* v in [2^E, 2^(E+1)), v / 2^E = 2 fr */
    double m = (2.0 * fr - 1.0) * mf_steps(f);
    return ((uint32_t)(E + f->bias) << f->mbits) | (uint32_t)m;
}

static uint32_t mf_largest_finite_code(const mf_format *f)
{
    return mf_code_of_grid_value(f, f->max_finite);
}

static uint32_t mf_inf_code(const mf_format *f)
{
    return mf_exp_all_ones(f) << f->mbits;
}

static uint32_t mf_encode(const mf_format *f, float t)
{
    double x = (double)t; /* exact */
    uint32_t sign = signbit(x) ? mf_sign_bit(f) : 0u;

    if (isnan(x))
        return f->nan_keeps_sign ? (sign | f->nan_code) : f->nan_code;

    double a = fabs(x);

    if (f->overflow == MF_SATFINITE) {
        if (a > f->max_finite) /* +-inf included */
            return sign | mf_largest_finite_code(f);
    } else if (isinf(a)) {
        return sign | mf_inf_code(f);
    }

    if (a == 0.0)
        return sign;

    /* The grid spacing (quantum) q around a, and s = a / q, a in units of
     * it: q = 2^(emin - mb) below 2^emin; for a = fr * 2^k (fr in
     * [0.5, 1)), q = 2^(k-1-mb) and s = fr * 2^(mb+1). Both are exact:
     * scaling by a power of two is, and a / s is the power of two q. */
    double q, s;
    if (a < f->min_normal) {
        q = mf_sub_quantum(f);
        s = a / q;
    } else {
        int k;
        double fr = frexp(a, &k);
        s = fr * (2.0 * mf_steps(f));
        q = a / s;
    }

    /* Neighbours n*q <= a < (n+1)*q; frac = s - n in [0, 1) is exact (the
     * bits of s below its integer part). */
    double n = floor(s);
    double frac = s - n;
    if (frac > 0.5) {
        n = n + 1.0;
    } else if (frac == 0.5) {
        /* tie: the even multiple, i.e. the even mantissa (2^mb is even) */
        if (fmod(n, 2.0) != 0.0)
            n = n + 1.0;
    }
    double v = n * q; /* the rounded magnitude, exact */

    if (v > f->max_finite) {
        /* Only reachable for MF_TO_INF (a SATFINITE a <= max_finite never
         * rounds past max_finite, a grid point). */
        if (f->overflow == MF_TO_INF && f->specials == MF_IEEE)
            return sign | mf_inf_code(f);
        return sign | mf_largest_finite_code(f);
    }
    /* v == 0: the magnitude rounded to 0; the sign is kept. */
    return sign | mf_code_of_grid_value(f, v);
}

/* ------------------------------------------------------------------------ */
/* int8                                                                     */
/* ------------------------------------------------------------------------ */

static uint32_t int8_encode(float t)
{
    double x = (double)t;
    if (isnan(x))
        return 0;
    if (isinf(x))
        return x > 0 ? 127u : 128u; /* -128 as a byte */

    /* round to nearest integer, ties to even */
    double fl = floor(x);
    double r = x - fl; /* exact: 0 <= r < 1, and r = 0 when |x| >= 2^23 */
    double q;
    if (r > 0.5)
        q = fl + 1.0;
    else if (r < 0.5)
        q = fl;
    else
        q = (fmod(fl, 2.0) == 0.0) ? fl : fl + 1.0;

    if (q > 127.0)
        q = 127.0;
    if (q < -128.0)
        q = -128.0;
    int iq = (int)q; /* -0 -> 0 */
    return iq < 0 ? (uint32_t)(iq + 256) : (uint32_t)iq;
}

static double int8_decode(uint32_t code)
{
    int v = (int)(code & 0xFFu);
    if (v >= 128)
        v -= 256;
    return (double)v;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

static const char *const dtype_names[KVC_KV_DTYPE_COUNT] = {
    "f32", "f16", "bf16", "fp8_e4m3", "fp8_e5m2", "int8", "nvfp4",
};

const char *kvc_kv_dtype_name(kvc_kv_dtype d)
{
    if ((int)d < 0 || (int)d >= KVC_KV_DTYPE_COUNT)
        return "?";
    return dtype_names[d];
}

int kvc_kv_dtype_parse(const char *s, kvc_kv_dtype *d)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < KVC_KV_DTYPE_COUNT; i++) {
        if (strcmp(s, dtype_names[i]) == 0) {
            if (d)
                *d = (kvc_kv_dtype)i;
            return 0;
        }
    }
    return -1;
}

static const mf_format *minifloat_of(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_F16: return &FMT_F16;
    case KVC_KV_BF16: return &FMT_BF16;
    case KVC_KV_FP8_E4M3: return &FMT_E4M3;
    case KVC_KV_FP8_E5M2: return &FMT_E5M2;
    case KVC_KV_NVFP4: return &FMT_E2M1;
    default: return NULL;
    }
}

uint32_t kvc_encode(kvc_kv_dtype d, float t)
{
    if (d == KVC_KV_F32) {
        uint32_t bits;
        memcpy(&bits, &t, sizeof bits);
        return bits;
    }
    if (d == KVC_KV_INT8)
        return int8_encode(t);
    const mf_format *f = minifloat_of(d);
    return f ? mf_encode(f, t) : 0u;
}

double kvc_decode(kvc_kv_dtype d, uint32_t code)
{
    if (d == KVC_KV_F32) {
        float t;
        memcpy(&t, &code, sizeof t);
        return (double)t;
    }
    if (d == KVC_KV_INT8)
        return int8_decode(code);
    const mf_format *f = minifloat_of(d);
    return f ? mf_decode(f, code) : NAN;
}

float kvc_fp32_div(float a, float b)
{
    return (float)((double)a / (double)b);
}

float kvc_fp32_mul(float a, float b)
{
    return (float)((double)a * (double)b);
}

/* Largest |x_i| over finite x_i; 0 when there is none. */
static float finite_amax(const float *x, int n)
{
    float amax = 0.0f;
    if (x == NULL)
        return amax;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        float a = fabsf(x[i]);
        if (a > amax)
            amax = a;
    }
    return amax;
}

/* The R of the symmetric rule for the fp8/int8 formats; 0 for the others. */
static float scale_range(kvc_kv_dtype d)
{
    switch (d) {
    case KVC_KV_FP8_E4M3: return 448.0f;
    case KVC_KV_FP8_E5M2: return 57344.0f;
    case KVC_KV_INT8: return 127.5f;
    default: return 0.0f;
    }
}

#define KVC_SCALE_EPS 0x1p-23f /* torch.finfo(float32).eps */

float kvc_scale_token(kvc_kv_dtype d, const float *x, int n)
{
    float r = scale_range(d);
    if (r == 0.0f)
        return NAN;
    float s = kvc_fp32_div(finite_amax(x, n), r);
    return s == 0.0f ? KVC_SCALE_EPS : s;
}

uint32_t kvc_nvfp4_block_code(const float *x16, float global_scale)
{
    float amax = finite_amax(x16, 16);
    float t = kvc_fp32_mul(global_scale, kvc_fp32_div(amax, 6.0f));
    uint32_t c = mf_encode(&FMT_E4M3, t);
    if (mf_decode(&FMT_E4M3, c) == 0.0) /* 0x00 and 0x80 */
        c = 0x01u;
    return c;
}

float kvc_nvfp4_effective_scale(uint32_t block_code, float global_scale)
{
    /* the e4m3 value is a binary32 number: the cast is exact */
    float v = (float)mf_decode(&FMT_E4M3, block_code);
    return kvc_fp32_div(v, global_scale);
}

float kvc_calib_scale(kvc_kv_dtype d, float amax)
{
    float r = scale_range(d);
    if (r == 0.0f)
        return NAN;
    float s = kvc_fp32_div(amax, r);
    return s == 0.0f ? KVC_SCALE_EPS : s;
}

float kvc_calib_nvfp4_global(float amax)
{
    if (amax < KVC_SCALE_EPS)
        amax = KVC_SCALE_EPS;
    return kvc_fp32_div(448.0f * 6.0f, amax);
}
