/*
 * test_kernel_formats.c — libkvattn's number-format codecs (kernels/
 * kva_format.c) against expectations derived by hand from
 * docs/kv-formats.md.
 *
 * Nothing here reuses the codec's technique. Code values come from a
 * separate, deliberately plain formula in double (sign, exponent field,
 * mantissa field, subnormal when the exponent field is 0, via ldexp).
 * Encoding is checked against the code table that formula gives: every
 * finite code value encodes to its code, every midpoint between neighbouring
 * codes goes to the even code, one binary32 ulp either side goes to the
 * nearer code, the overflow boundary is exact, and random inputs go to the
 * nearest entry of the table found by binary search (int8: rint in double).
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../kernels/kva_format.h"

/* ---- helpers ------------------------------------------------------------ */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The value of a sign-magnitude code with the given field widths and bias,
 * read straight from the definition; the exponent field's all-ones value is
 * treated like any other (callers deal with inf/NaN codes first). */
static double ref_value(unsigned code, int ebits, int mbits, int bias)
{
    const unsigned m = code & ((1u << mbits) - 1u);
    const unsigned e = (code >> mbits) & ((1u << ebits) - 1u);
    const int neg = (code >> (ebits + mbits)) & 1u;
    double v;
    if (e == 0)
        v = ((double)m / (double)(1u << mbits)) * ldexp(1.0, 1 - bias);
    else
        v = (1.0 + (double)m / (double)(1u << mbits)) * ldexp(1.0, (int)e - bias);
    return neg ? -v : v;
}

/* got must be exactly want (a binary32 number), sign of zero included. */
#define EXPECT_VALUE(got, want, fmtname, code)                                  \
    do {                                                                        \
        const float g_ = (got);                                                 \
        const double w_ = (want);                                               \
        cr_assert_eq((double)(float)w_, w_, "%s code 0x%x: reference %a is not binary32", \
                     fmtname, (unsigned)(code), w_);                            \
        cr_expect_eq(bits_of(g_), bits_of((float)w_),                           \
                     "%s decode(0x%x) = %a, want %a", fmtname, (unsigned)(code), \
                     (double)g_, w_);                                           \
    } while (0)

/* ---- the formats, as the encode tests see them -------------------------- */

typedef enum { OVF_SAT, OVF_INF } ovf_kind;

typedef struct fmt {
    const char *name;
    int ebits, mbits, bias;
    unsigned sign_bit;  /* the code's sign bit */
    unsigned max_code;  /* largest finite magnitude code */
    ovf_kind ovf;
    unsigned inf_code;  /* OVF_INF: +inf code */
    unsigned nan_pos, nan_neg; /* code written for +NaN / -NaN */
    unsigned (*enc)(float);
    float (*dec)(unsigned);
} fmt;

static unsigned enc_f16(float t) { return kva_f16_encode(t); }
static unsigned enc_bf16(float t) { return kva_bf16_encode(t); }
static unsigned enc_e4m3(float t) { return kva_e4m3_encode(t); }
static unsigned enc_e5m2(float t) { return kva_e5m2_encode(t); }
static unsigned enc_e2m1(float t) { return kva_e2m1_encode(t); }
static float dec_f16(unsigned c) { return kva_f16_decode((uint16_t)c); }
static float dec_bf16(unsigned c) { return kva_bf16_decode((uint16_t)c); }
static float dec_e4m3(unsigned c) { return kva_e4m3_decode((uint8_t)c); }
static float dec_e5m2(unsigned c) { return kva_e5m2_decode((uint8_t)c); }
static float dec_e2m1(unsigned c) { return kva_e2m1_decode((uint8_t)c); }

static const fmt F16 = {"f16", 5, 10, 15, 0x8000, 0x7BFF, OVF_INF, 0x7C00,
                        0x7E00, 0xFE00, enc_f16, dec_f16};
static const fmt BF16 = {"bf16", 8, 7, 127, 0x8000, 0x7F7F, OVF_INF, 0x7F80,
                         0x7FC0, 0xFFC0, enc_bf16, dec_bf16};
static const fmt E4M3 = {"e4m3", 4, 3, 7, 0x80, 0x7E, OVF_SAT, 0,
                         0x7F, 0x7F, enc_e4m3, dec_e4m3};
static const fmt E5M2 = {"e5m2", 5, 2, 15, 0x80, 0x7B, OVF_SAT, 0,
                         0x7F, 0x7F, enc_e5m2, dec_e5m2};
static const fmt E2M1 = {"e2m1", 2, 1, 1, 0x8, 0x7, OVF_SAT, 0,
                         0x0, 0x0, enc_e2m1, dec_e2m1};

static double fval(const fmt *f, unsigned code)
{
    return ref_value(code, f->ebits, f->mbits, f->bias);
}

/* ---- decode: every code against the definition -------------------------- */

Test(kernel_format_decode, e4m3_all_256_codes)
{
    for (unsigned c = 0; c < 256; c++) {
        const float got = kva_e4m3_decode((uint8_t)c);
        if ((c & 0x7F) == 0x7F) {
            cr_expect(isnan(got), "e4m3 0x%x must be NaN", c);
            continue;
        }
        /* no infinity in E4M3FN: exponent field 15 is ordinary */
        EXPECT_VALUE(got, ref_value(c, 4, 3, 7), "e4m3", c);
    }
}

Test(kernel_format_decode, e5m2_all_256_codes)
{
    for (unsigned c = 0; c < 256; c++) {
        const float got = kva_e5m2_decode((uint8_t)c);
        const unsigned e = (c >> 2) & 31u, m = c & 3u;
        if (e == 31 && m == 0) {
            cr_expect(isinf(got) && (signbit(got) != 0) == ((c & 0x80) != 0),
                      "e5m2 0x%x must be %sinf", c, (c & 0x80) ? "-" : "+");
            continue;
        }
        if (e == 31) {
            cr_expect(isnan(got), "e5m2 0x%x must be NaN", c);
            continue;
        }
        EXPECT_VALUE(got, ref_value(c, 5, 2, 15), "e5m2", c);
    }
}

Test(kernel_format_decode, e2m1_all_16_codes)
{
    static const double table[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6}; /* the doc */
    for (unsigned c = 0; c < 16; c++) {
        const double want = ref_value(c, 2, 1, 1);
        cr_expect_eq(fabs(want), table[c & 7], "e2m1 formula vs doc table, code %u", c);
        EXPECT_VALUE(kva_e2m1_decode((uint8_t)c), want, "e2m1", c);
        /* the high nibble is not part of the code */
        EXPECT_VALUE(kva_e2m1_decode((uint8_t)(c | 0xA0)), want, "e2m1 (high nibble set)", c);
    }
}

Test(kernel_format_decode, f16_all_65536_codes)
{
    for (unsigned c = 0; c < 65536; c++) {
        const float got = kva_f16_decode((uint16_t)c);
        const unsigned e = (c >> 10) & 31u, m = c & 0x3FFu;
        if (e == 31) {
            if (m == 0)
                cr_expect(isinf(got) && (signbit(got) != 0) == ((c & 0x8000) != 0),
                          "f16 0x%x must be inf", c);
            else
                cr_expect(isnan(got), "f16 0x%x must be NaN", c);
            continue;
        }
        EXPECT_VALUE(got, ref_value(c, 5, 10, 15), "f16", c);
    }
}

Test(kernel_format_decode, bf16_all_65536_codes)
{
    for (unsigned c = 0; c < 65536; c++) {
        const float got = kva_bf16_decode((uint16_t)c);
        const unsigned e = (c >> 7) & 255u, m = c & 0x7Fu;
        if (e == 255) {
            if (m == 0)
                cr_expect(isinf(got) && (signbit(got) != 0) == ((c & 0x8000) != 0),
                          "bf16 0x%x must be inf", c);
            else
                cr_expect(isnan(got), "bf16 0x%x must be NaN", c);
            continue;
        }
        EXPECT_VALUE(got, ref_value(c, 8, 7, 127), "bf16", c);
    }
}

Test(kernel_format_decode, named_values)
{
    cr_expect_eq(kva_e4m3_decode(0x7E), 448.0f);
    cr_expect_eq(kva_e4m3_decode(0xFE), -448.0f);
    cr_expect_eq(kva_e4m3_decode(0x01), 0x1p-9f);
    cr_expect_eq(kva_e4m3_decode(0x07), 7 * 0x1p-9f);
    cr_expect_eq(kva_e4m3_decode(0x08), 0x1p-6f);
    cr_expect_eq(kva_e4m3_decode(0x38), 1.0f);
    cr_expect(isnan(kva_e4m3_decode(0x7F)));
    cr_expect(isnan(kva_e4m3_decode(0xFF)));
    cr_expect_eq(bits_of(kva_e4m3_decode(0x80)), 0x80000000u, "e4m3 0x80 is -0");

    cr_expect_eq(kva_e5m2_decode(0x7B), 57344.0f);
    cr_expect_eq(kva_e5m2_decode(0x01), 0x1p-16f);
    cr_expect_eq(kva_e5m2_decode(0x04), 0x1p-14f);
    cr_expect_eq(kva_e5m2_decode(0x3C), 1.0f);
    cr_expect(isinf(kva_e5m2_decode(0x7C)) && kva_e5m2_decode(0x7C) > 0);
    cr_expect(isinf(kva_e5m2_decode(0xFC)) && kva_e5m2_decode(0xFC) < 0);
    cr_expect(isnan(kva_e5m2_decode(0x7D)));
    cr_expect(isnan(kva_e5m2_decode(0x7F)));

    cr_expect_eq(kva_f16_decode(0x7BFF), 65504.0f);
    cr_expect_eq(kva_f16_decode(0x0001), 0x1p-24f);
    cr_expect_eq(kva_f16_decode(0x03FF), 1023 * 0x1p-24f);
    cr_expect_eq(kva_f16_decode(0x0400), 0x1p-14f);
    cr_expect_eq(kva_f16_decode(0x3C00), 1.0f);
    cr_expect(isinf(kva_f16_decode(0x7C00)));
    cr_expect(isnan(kva_f16_decode(0x7E00)));
    cr_expect(isnan(kva_f16_decode(0x7C01)));

    cr_expect_eq(kva_bf16_decode(0x7F7F), 0x1.FEp127f);
    cr_expect_eq(kva_bf16_decode(0x0001), 0x1p-133f);
    cr_expect_eq(kva_bf16_decode(0x3F80), 1.0f);
    cr_expect(isinf(kva_bf16_decode(0x7F80)));
    cr_expect(isnan(kva_bf16_decode(0x7FC0)));
    cr_expect(isnan(kva_bf16_decode(0x7F81)));

    cr_expect_eq(kva_e2m1_decode(0x7), 6.0f);
    cr_expect_eq(kva_e2m1_decode(0xF), -6.0f);
    cr_expect_eq(kva_e2m1_decode(0x1), 0.5f);
    cr_expect_eq(bits_of(kva_e2m1_decode(0x8)), 0x80000000u, "e2m1 0x8 is -0");
}

/* ---- encode: the code table, midpoints, ulps, boundaries ---------------- */

/* Encode t and -t; expect code and code | sign. */
static void expect_enc_pm(const fmt *f, float t, unsigned code, const char *what)
{
    const unsigned gp = f->enc(t), gn = f->enc(-t);
    cr_expect_eq(gp, code, "%s encode(%a) [%s] = 0x%x, want 0x%x", f->name,
                 (double)t, what, gp, code);
    cr_expect_eq(gn, code | f->sign_bit, "%s encode(%a) [%s] = 0x%x, want 0x%x",
                 f->name, (double)-t, what, gn, code | f->sign_bit);
}

static void check_grid(const fmt *f)
{
    /* the table is increasing in the code (a property of these formats,
     * checked rather than assumed) */
    for (unsigned k = 0; k < f->max_code; k++)
        cr_assert(fval(f, k) < fval(f, k + 1), "%s: table not increasing at 0x%x",
                  f->name, k);

    for (unsigned k = 0; k <= f->max_code; k++) {
        const double v = fval(f, k);
        cr_assert_eq((double)(float)v, v);
        expect_enc_pm(f, (float)v, k, "exact code value");
        if (k == f->max_code)
            break;
        const double mid = (v + fval(f, k + 1)) / 2; /* exact in double */
        const float midf = (float)mid;
        cr_assert_eq((double)midf, mid, "%s: midpoint %a not binary32", f->name, mid);
        const unsigned even = (k & 1u) ? k + 1 : k;
        expect_enc_pm(f, midf, even, "midpoint -> even");
        expect_enc_pm(f, nextafterf(midf, 0.0f), k, "midpoint - 1 ulp");
        expect_enc_pm(f, nextafterf(midf, INFINITY), k + 1, "midpoint + 1 ulp");
    }

    /* beyond the largest finite: the top binade's spacing continues to a
     * virtual next value (the inf code's place for IEEE-style formats) */
    const double max = fval(f, f->max_code);
    const double next = 2 * max - fval(f, f->max_code - 1);
    const double mid = (max + next) / 2;
    const float midf = (float)mid;
    cr_assert_eq((double)midf, mid);
    expect_enc_pm(f, nextafterf((float)max, INFINITY), f->max_code, "max + 1 ulp");
    expect_enc_pm(f, nextafterf(midf, 0.0f), f->max_code, "overflow midpoint - 1 ulp");
    if (f->ovf == OVF_SAT) {
        expect_enc_pm(f, midf, f->max_code, "overflow midpoint saturates");
        expect_enc_pm(f, nextafterf(midf, INFINITY), f->max_code, "saturates");
        if (next < FLT_MAX)
            expect_enc_pm(f, (float)next, f->max_code, "saturates");
        expect_enc_pm(f, 1e6f, f->max_code, "saturates");
        expect_enc_pm(f, FLT_MAX, f->max_code, "FLT_MAX saturates");
        expect_enc_pm(f, INFINITY, f->max_code, "inf saturates");
    } else {
        /* IEEE: the max is odd, the inf code even: the tie overflows */
        expect_enc_pm(f, midf, f->inf_code, "overflow midpoint -> inf");
        expect_enc_pm(f, nextafterf(midf, INFINITY), f->inf_code, "overflow");
        expect_enc_pm(f, FLT_MAX, f->inf_code, "FLT_MAX overflows");
        expect_enc_pm(f, INFINITY, f->inf_code, "inf");
    }

    /* zeros and underflow keep the sign */
    expect_enc_pm(f, 0.0f, 0, "zero");
    expect_enc_pm(f, FLT_TRUE_MIN, 0, "binary32 subnormal underflows");
    if (f->bias < 127) /* FLT_MIN = 2^-126 is a bf16 code (0x0080) */
        expect_enc_pm(f, FLT_MIN, 0, "FLT_MIN underflows");
    expect_enc_pm(f, (float)(fval(f, 1) / 4), 0, "quarter of the smallest");

    /* NaNs: quiet, signalling, with payloads, either sign */
    static const uint32_t pos_nans[] = {0x7FC00000u, 0x7F800001u, 0x7FBFFFFFu,
                                        0x7FFFFFFFu, 0x7FC12345u};
    for (size_t i = 0; i < sizeof pos_nans / sizeof pos_nans[0]; i++) {
        const float pn = float_of(pos_nans[i]), nn = float_of(pos_nans[i] | 0x80000000u);
        cr_expect_eq(f->enc(pn), f->nan_pos, "%s encode(NaN 0x%08x)", f->name,
                     (unsigned)pos_nans[i]);
        cr_expect_eq(f->enc(nn), f->nan_neg, "%s encode(-NaN 0x%08x)", f->name,
                     (unsigned)(pos_nans[i] | 0x80000000u));
    }
}

Test(kernel_format_encode, e4m3_grid) { check_grid(&E4M3); }
Test(kernel_format_encode, e5m2_grid) { check_grid(&E5M2); }
Test(kernel_format_encode, e2m1_grid) { check_grid(&E2M1); }
Test(kernel_format_encode, f16_all_codes) { check_grid(&F16); }
Test(kernel_format_encode, bf16_all_codes) { check_grid(&BF16); }

Test(kernel_format_encode, named_boundaries)
{
    /* f16 overflow boundary */
    cr_expect_eq(kva_f16_encode(65504.0f), 0x7BFF);
    cr_expect_eq(kva_f16_encode(65519.996f), 0x7BFF);
    cr_expect_eq(bits_of(65519.996f), bits_of(nextafterf(65520.0f, 0.0f)));
    cr_expect_eq(kva_f16_encode(65520.0f), 0x7C00);
    cr_expect_eq(kva_f16_encode(-65520.0f), 0xFC00);
    cr_expect_eq(kva_f16_encode(INFINITY), 0x7C00);
    cr_expect_eq(kva_f16_encode(-INFINITY), 0xFC00);
    cr_expect_eq(kva_f16_encode(NAN), 0x7E00);
    cr_expect_eq(kva_f16_encode(-NAN), 0xFE00);
    cr_expect_eq(kva_f16_encode(-0.0f), 0x8000);
    /* f16 subnormals: 2^-25 ties to 0, 3 * 2^-25 ties to 2 * 2^-24 */
    cr_expect_eq(kva_f16_encode(0x1p-25f), 0x0000);
    cr_expect_eq(kva_f16_encode(0x1.000002p-25f), 0x0001);
    cr_expect_eq(kva_f16_encode(-0x1p-25f), 0x8000);
    cr_expect_eq(kva_f16_encode(0x3p-25f), 0x0002);
    cr_expect_eq(kva_f16_encode(0x5p-25f), 0x0002);
    /* largest subnormal + half an ulp ties up into the smallest normal */
    cr_expect_eq(kva_f16_encode(0x7FFp-25f), 0x0400);
    cr_expect_eq(kva_f16_encode(1.0f + 0x1p-11f), 0x3C00);
    cr_expect_eq(kva_f16_encode(1.0f + 0x3p-11f), 0x3C02);

    /* bf16 */
    cr_expect_eq(kva_bf16_encode(1.0f), 0x3F80);
    cr_expect_eq(kva_bf16_encode(float_of(0x3F808000u)), 0x3F80); /* tie, even */
    cr_expect_eq(kva_bf16_encode(float_of(0x3F818000u)), 0x3F82); /* tie, even */
    cr_expect_eq(kva_bf16_encode(float_of(0x3F808001u)), 0x3F81);
    cr_expect_eq(kva_bf16_encode(float_of(0x7F7F7FFFu)), 0x7F7F);
    cr_expect_eq(kva_bf16_encode(float_of(0x7F7F8000u)), 0x7F80);
    cr_expect_eq(kva_bf16_encode(FLT_MAX), 0x7F80);
    cr_expect_eq(kva_bf16_encode(-FLT_MAX), 0xFF80);
    cr_expect_eq(kva_bf16_encode(-INFINITY), 0xFF80);
    cr_expect_eq(kva_bf16_encode(NAN), 0x7FC0);
    cr_expect_eq(kva_bf16_encode(-NAN), 0xFFC0);
    cr_expect_eq(kva_bf16_encode(float_of(0x7F800001u)), 0x7FC0, "sNaN, payload lost");
    cr_expect_eq(kva_bf16_encode(-0.0f), 0x8000);
    cr_expect_eq(kva_bf16_encode(0x1p-134f), 0x0000);
    cr_expect_eq(kva_bf16_encode(0x3p-134f), 0x0002);
    cr_expect_eq(kva_bf16_encode(-0x1.8p-134f), 0x8001);

    /* e4m3 */
    cr_expect_eq(kva_e4m3_encode(448.0f), 0x7E);
    cr_expect_eq(kva_e4m3_encode(nextafterf(448.0f, INFINITY)), 0x7E);
    cr_expect_eq(kva_e4m3_encode(464.0f), 0x7E);
    cr_expect_eq(kva_e4m3_encode(480.0f), 0x7E);
    cr_expect_eq(kva_e4m3_encode(INFINITY), 0x7E);
    cr_expect_eq(kva_e4m3_encode(-INFINITY), 0xFE);
    cr_expect_eq(kva_e4m3_encode(NAN), 0x7F);
    cr_expect_eq(kva_e4m3_encode(-NAN), 0x7F);
    cr_expect_eq(kva_e4m3_encode(1.0f), 0x38);
    cr_expect_eq(kva_e4m3_encode(0x1p-10f), 0x00);     /* tie with 0 -> 0 */
    cr_expect_eq(kva_e4m3_encode(-0x1p-10f), 0x80);
    cr_expect_eq(kva_e4m3_encode(0x1.000002p-10f), 0x01);
    cr_expect_eq(kva_e4m3_encode(0x3p-10f), 0x02);     /* tie 1|2 -> 2 */
    cr_expect_eq(kva_e4m3_encode(0x5p-10f), 0x02);     /* tie 2|3 -> 2 */
    cr_expect_eq(kva_e4m3_encode(0xFp-10f), 0x08);     /* tie 7|8 -> 8 = 2^-6 */
    cr_expect_eq(kva_e4m3_encode(-0x1p-11f), 0x80);
    cr_expect_eq(kva_e4m3_encode(-0.0f), 0x80);

    /* e5m2 */
    cr_expect_eq(kva_e5m2_encode(57344.0f), 0x7B);
    cr_expect_eq(kva_e5m2_encode(61440.0f), 0x7B);
    cr_expect_eq(kva_e5m2_encode(65536.0f), 0x7B);
    cr_expect_eq(kva_e5m2_encode(INFINITY), 0x7B);
    cr_expect_eq(kva_e5m2_encode(-INFINITY), 0xFB);
    cr_expect_eq(kva_e5m2_encode(NAN), 0x7F);
    cr_expect_eq(kva_e5m2_encode(-NAN), 0x7F);
    cr_expect_eq(kva_e5m2_encode(0x1p-17f), 0x00);
    cr_expect_eq(kva_e5m2_encode(0x3p-17f), 0x02);
    cr_expect_eq(kva_e5m2_encode(0x7p-17f), 0x04);     /* tie 3|4 -> 4 = 2^-14 */
    cr_expect_eq(kva_e5m2_encode(-0.0f), 0x80);

    /* e2m1: the doc's ties */
    cr_expect_eq(kva_e2m1_encode(0.25f), 0x0);
    cr_expect_eq(kva_e2m1_encode(0.75f), 0x2);
    cr_expect_eq(kva_e2m1_encode(1.25f), 0x2);
    cr_expect_eq(kva_e2m1_encode(1.75f), 0x4);
    cr_expect_eq(kva_e2m1_encode(2.5f), 0x4);
    cr_expect_eq(kva_e2m1_encode(3.5f), 0x6);
    cr_expect_eq(kva_e2m1_encode(5.0f), 0x6);
    cr_expect_eq(kva_e2m1_encode(-5.0f), 0xE);
    cr_expect_eq(kva_e2m1_encode(6.0f), 0x7);
    cr_expect_eq(kva_e2m1_encode(7.0f), 0x7);
    cr_expect_eq(kva_e2m1_encode(-1e30f), 0xF);
    cr_expect_eq(kva_e2m1_encode(INFINITY), 0x7);
    cr_expect_eq(kva_e2m1_encode(-INFINITY), 0xF);
    cr_expect_eq(kva_e2m1_encode(NAN), 0x0);
    cr_expect_eq(kva_e2m1_encode(-NAN), 0x0);
    cr_expect_eq(kva_e2m1_encode(-0.0f), 0x8);
    cr_expect_eq(kva_e2m1_encode(-0.25f), 0x8);
    cr_expect_eq(kva_e2m1_encode(-0.1f), 0x8);
}

Test(kernel_format_encode, int8)
{
    cr_expect_eq(kva_int8_encode(2.5f), 2);
    cr_expect_eq(kva_int8_encode(3.5f), 4);
    cr_expect_eq(kva_int8_encode(-2.5f), -2);
    cr_expect_eq(kva_int8_encode(-3.5f), -4);
    cr_expect_eq(kva_int8_encode(0.5f), 0);
    cr_expect_eq(kva_int8_encode(nextafterf(0.5f, 1.0f)), 1);
    cr_expect_eq(kva_int8_encode(nextafterf(0.5f, 0.0f)), 0);
    cr_expect_eq(kva_int8_encode(1.5f), 2);
    cr_expect_eq(kva_int8_encode(127.0f), 127);
    cr_expect_eq(kva_int8_encode(126.5f), 126);
    cr_expect_eq(kva_int8_encode(nextafterf(127.5f, 0.0f)), 127);
    cr_expect_eq(kva_int8_encode(127.5f), 127); /* RNE 128, clamped */
    cr_expect_eq(kva_int8_encode(128.0f), 127);
    cr_expect_eq(kva_int8_encode(-128.0f), -128);
    cr_expect_eq(kva_int8_encode(-128.5f), -128);
    cr_expect_eq(kva_int8_encode(-129.0f), -128);
    cr_expect_eq(kva_int8_encode(1e30f), 127);
    cr_expect_eq(kva_int8_encode(-1e30f), -128);
    cr_expect_eq(kva_int8_encode(INFINITY), 127);
    cr_expect_eq(kva_int8_encode(-INFINITY), -128);
    cr_expect_eq(kva_int8_encode(NAN), 0);
    cr_expect_eq(kva_int8_encode(-NAN), 0);
    cr_expect_eq(kva_int8_encode(float_of(0x7F800001u)), 0);
    cr_expect_eq(kva_int8_encode(-0.0f), 0);
    cr_expect_eq(kva_int8_encode(FLT_TRUE_MIN), 0);
    cr_expect_eq(kva_int8_encode(-0.3f), 0);

    /* every integer and half-integer in [-140, 140], and one ulp either
     * side, against rint in double (round to nearest even by default) */
    for (int i = -280; i <= 280; i++) {
        const float base = (float)i / 2;
        const float ts[3] = {base, nextafterf(base, -INFINITY), nextafterf(base, INFINITY)};
        for (int j = 0; j < 3; j++) {
            double r = rint((double)ts[j]);
            r = r > 127 ? 127 : r < -128 ? -128 : r;
            cr_expect_eq(kva_int8_encode(ts[j]), (int)r, "int8 encode(%a)", (double)ts[j]);
        }
    }
}

/* ---- encode: random inputs against the nearest table entry -------------- */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Expected code of a finite or infinite, non-NaN t: nearest magnitude in
 * the table (binary search), ties to the even code, then the format's
 * overflow rule; the sign of t is kept. */
static unsigned ref_encode(const fmt *f, const double *tab, float t)
{
    const double a = fabs((double)t);
    const unsigned sign = signbit(t) ? f->sign_bit : 0u;
    const double max = tab[f->max_code];
    if (a > max) {
        if (f->ovf == OVF_SAT)
            return sign | f->max_code;
        const double next = 2 * max - tab[f->max_code - 1];
        return sign | (a >= (max + next) / 2 ? f->inf_code : f->max_code);
    }
    unsigned lo = 0, hi = f->max_code; /* tab[lo] <= a <= tab[hi] */
    while (hi - lo > 1) {
        const unsigned mid = lo + (hi - lo) / 2;
        if (tab[mid] <= a)
            lo = mid;
        else
            hi = mid;
    }
    if (tab[lo] == a)
        return sign | lo;
    const double dl = a - tab[lo], dh = tab[hi] - a; /* exact enough: see below */
    unsigned k;
    if (dl < dh)
        k = lo;
    else if (dh < dl)
        k = hi;
    else
        k = (lo & 1u) ? hi : lo;
    return sign | k;
}

static void check_random(const fmt *f, int lo_exp, int hi_exp, int n)
{
    /* the differences a - tab[lo] are exact in double: both are binary32
     * numbers within a factor 2^(mbits+1) of each other, far below 53 bits */
    static double tab[0x8000];
    for (unsigned k = 0; k <= f->max_code; k++)
        tab[k] = fval(f, k);
    uint64_t s = 0x1234567ull + (uint64_t)f->max_code;
    for (int i = 0; i < n; i++) {
        const uint64_t r = rng_next(&s);
        /* uniform exponent in [lo_exp, hi_exp], random mantissa and sign */
        const int e = lo_exp + (int)(r % (uint64_t)(hi_exp - lo_exp + 1));
        const uint32_t mant = (uint32_t)(r >> 32) & 0x7FFFFFu;
        const uint32_t sign = (uint32_t)(r >> 63) << 31;
        const float t = float_of(sign | ((uint32_t)(e + 127) << 23) | mant);
        const unsigned want = ref_encode(f, tab, t);
        const unsigned got = f->enc(t);
        cr_expect_eq(got, want, "%s encode(%a) = 0x%x, want 0x%x", f->name,
                     (double)t, got, want);
        if (got != want)
            return;
    }
}

Test(kernel_format_encode, e4m3_random) { check_random(&E4M3, -13, 10, 200000); }
Test(kernel_format_encode, e5m2_random) { check_random(&E5M2, -20, 18, 200000); }
Test(kernel_format_encode, e2m1_random) { check_random(&E2M1, -4, 5, 200000); }
Test(kernel_format_encode, f16_random) { check_random(&F16, -27, 17, 200000); }
Test(kernel_format_encode, bf16_random) { check_random(&BF16, -126, 127, 200000); }

/* ---- round trip --------------------------------------------------------- */

static void check_round_trip(const fmt *f, unsigned ncodes)
{
    for (unsigned c = 0; c < ncodes; c++) {
        const float v = f->dec(c);
        if (!isfinite(v))
            continue;
        const float w = f->dec(f->enc(v));
        cr_expect_eq(bits_of(w), bits_of(v), "%s round trip of 0x%x: %a -> %a",
                     f->name, c, (double)v, (double)w);
    }
}

Test(kernel_format_round_trip, every_finite_code)
{
    check_round_trip(&E4M3, 256);
    check_round_trip(&E5M2, 256);
    check_round_trip(&E2M1, 16);
    check_round_trip(&F16, 65536);
    check_round_trip(&BF16, 65536);
}

/* ---- scales -------------------------------------------------------------- */

Test(kernel_format_scale, per_token)
{
    const float r448[4] = {1.0f, -448.0f, 3.0f, 0.0f};
    cr_expect_eq(kva_scale_token(r448, 4, 448.0f), 1.0f);

    const float zeros[5] = {0.0f, -0.0f, 0.0f, 0.0f, 0.0f};
    cr_expect_eq(kva_scale_token(zeros, 5, 448.0f), 0x1p-23f);
    cr_expect_eq(kva_scale_token(NULL, 0, 448.0f), 0x1p-23f);

    const float nonfinite[6] = {1.0f, NAN, -INFINITY, -3.0f, INFINITY, -NAN};
    cr_expect_eq(bits_of(kva_scale_token(nonfinite, 6, 448.0f)), bits_of(3.0f / 448.0f));
    cr_expect_eq(kva_scale_token(nonfinite, 6, 127.5f), (float)(3.0 / 127.5));

    const float allbad[3] = {NAN, INFINITY, -INFINITY};
    cr_expect_eq(kva_scale_token(allbad, 3, 57344.0f), 0x1p-23f);

    /* amax 57344 in e5m2 -> 1; amax 127.5 in int8 -> 1 */
    const float r5[2] = {-57344.0f, 2.0f};
    cr_expect_eq(kva_scale_token(r5, 2, 57344.0f), 1.0f);
    const float ri[2] = {127.5f, -1.0f};
    cr_expect_eq(kva_scale_token(ri, 2, 127.5f), 1.0f);

    /* a quotient that underflows to 0 is replaced too */
    const float tiny[1] = {FLT_TRUE_MIN};
    cr_expect_eq(kva_scale_token(tiny, 1, 448.0f), 0x1p-23f);

    /* FLT_MAX is finite and counts */
    const float big[2] = {FLT_MAX, INFINITY};
    cr_expect_eq(kva_scale_token(big, 2, 448.0f), FLT_MAX / 448.0f);
}

Test(kernel_format_scale, nvfp4_group)
{
    float g[16];
    for (int i = 0; i < 16; i++)
        g[i] = (float)(i % 5) - 2.0f; /* |x| <= 2 */
    g[7] = -6.0f;
    cr_expect_eq(kva_nvfp4_group_scale(g, 1.0f), 0x38); /* e4m3 of 1.0 */
    cr_expect_eq(kva_nvfp4_effective_scale(0x38, 1.0f), 1.0f);

    /* non-finite elements are ignored */
    g[3] = NAN;
    g[4] = -INFINITY;
    cr_expect_eq(kva_nvfp4_group_scale(g, 1.0f), 0x38);

    float z[16] = {0};
    z[5] = -0.0f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x01);
    cr_expect_eq(kva_nvfp4_group_scale(z, 448.0f), 0x01);
    cr_expect_eq(kva_nvfp4_effective_scale(0x01, 1.0f), 0x1p-9f);

    /* g * amax/6 = 2^-10 ties to e4m3 zero -> 0x01; just above -> 0x01 too */
    z[0] = 6.0f * 0x1p-10f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x01);
    z[0] = 6.0f * 0x1p-11f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x01);
    z[0] = 6.0f * 0x1p-9f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x01);
    z[0] = 6.0f * 0x2p-9f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x02);

    /* saturation: the block scale never exceeds 448 (0x7E) */
    z[0] = 1e6f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x7E);
    z[0] = FLT_MAX;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1e30f), 0x7E); /* g * amax/6 = inf */

    /* the calibrated global scale g = 2688 / amax maps the tensor's amax to
     * block scale 448 */
    z[0] = 6.0f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 448.0f), 0x7E);
    cr_expect_eq(kva_nvfp4_effective_scale(0x7E, 448.0f), 1.0f);
    cr_expect_eq(kva_nvfp4_effective_scale(0x38, 2.0f), 0.5f);
    cr_expect_eq(kva_nvfp4_effective_scale(0x3C, 3.0f), 1.5f / 3.0f);

    /* rounding on the e4m3 grid: amax 6 * 1.0625 = 6.375, g 1 -> 1.0625
     * ties 1.0 (0x38) | 1.125 (0x39) -> even 0x38; 1.1875 -> 0x3A */
    z[0] = 6.375f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x38);
    z[0] = 7.125f;
    cr_expect_eq(kva_nvfp4_group_scale(z, 1.0f), 0x3A);
}
