/*
 * test_oracle_formats.c — the oracle's reduced-precision KV formats and
 * scales (oracle/kv_format.c), against docs/kv-formats.md.
 *
 * Suites:
 *   oracle_format_names  dtype names and parsing
 *   oracle_format_f16    IEEE binary16
 *   oracle_format_bf16   bfloat16
 *   oracle_format_e4m3   fp8 e4m3 (OCP E4M3FN, SATFINITE)
 *   oracle_format_e5m2   fp8 e5m2 (SATFINITE)
 *   oracle_format_int8   int8 RNE + clamp
 *   oracle_format_e2m1   nvfp4 elements
 *   oracle_format_cross  sweeps against references written here by other
 *                        means (compiler _Float16, the bf16 carry trick,
 *                        brute-force nearest search, native fp32 division)
 *   oracle_format_scale  per-token, nvfp4 group and calibration scales
 *
 * Every expected value of the hand-written cases is derived in the comment
 * beside it, never copied from a run.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../oracle/kv_format.h"

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

#define ENC(d, t, want)                                                       \
    do {                                                                      \
        float t_ = (t);                                                       \
        uint32_t got_ = kvc_encode((d), t_);                                  \
        cr_assert_eq(got_, (uint32_t)(want),                                  \
                     "encode(%s, %a = %.9g) = 0x%X, want 0x%X",               \
                     kvc_kv_dtype_name(d), (double)t_, (double)t_,            \
                     (unsigned)got_, (unsigned)(want));                       \
    } while (0)

/* exact equality, the sign of zero included */
#define DEC(d, code, want)                                                    \
    do {                                                                      \
        double got_ = kvc_decode((d), (code));                                \
        double want_ = (want);                                                \
        cr_assert(got_ == want_ && !signbit(got_) == !signbit(want_),         \
                  "decode(%s, 0x%X) = %a, want %a", kvc_kv_dtype_name(d),     \
                  (unsigned)(code), got_, want_);                             \
    } while (0)

#define DEC_NAN(d, code)                                                      \
    cr_assert(isnan(kvc_decode((d), (code))), "decode(%s, 0x%X) = %a, want NaN", \
              kvc_kv_dtype_name(d), (unsigned)(code), kvc_decode((d), (code)))

#define FEQ(got, want)                                                        \
    do {                                                                      \
        float g_ = (got), w_ = (want);                                        \
        cr_assert(g_ == w_, "%s = %a (%.9g), want %a (%.9g)", #got,           \
                  (double)g_, (double)g_, (double)w_, (double)w_);            \
    } while (0)

static float up(float x) { return nextafterf(x, INFINITY); }
static float down(float x) { return nextafterf(x, -INFINITY); }

static uint32_t f32_bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static float bits_f32(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* xorshift64*: deterministic samples */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A random float with a random sign, exponent in [elo, ehi] and mantissa. */
static float rnd_float(uint64_t *s, int elo, int ehi)
{
    uint64_t r = rng_next(s);
    int e = elo + (int)(r % (uint64_t)(ehi - elo + 1));
    double m = 1.0 + (double)((r >> 20) & 0x7FFFFF) * 0x1p-23;
    float x = (float)ldexp(m, e); /* subnormal floats get rounded: fine */
    return ((r >> 50) & 1) ? -x : x;
}

/* ======================================================================== */
/* Names                                                                    */
/* ======================================================================== */

Test(oracle_format_names, names_and_parse)
{
    static const char *const want[] = {"f32",      "f16",  "bf16", "fp8_e4m3",
                                       "fp8_e5m2", "int8", "nvfp4"};
    for (int i = 0; i < KVC_KV_DTYPE_COUNT; i++) {
        cr_assert_str_eq(kvc_kv_dtype_name((kvc_kv_dtype)i), want[i]);
        kvc_kv_dtype d = KVC_KV_F32;
        cr_assert_eq(kvc_kv_dtype_parse(want[i], &d), 0);
        cr_assert_eq((int)d, i);
    }
    cr_assert_str_eq(kvc_kv_dtype_name((kvc_kv_dtype)7), "?");
    cr_assert_str_eq(kvc_kv_dtype_name((kvc_kv_dtype)-1), "?");
    kvc_kv_dtype d = KVC_KV_INT8;
    cr_assert_eq(kvc_kv_dtype_parse("e4m3", &d), -1);
    cr_assert_eq(kvc_kv_dtype_parse("F16", &d), -1);
    cr_assert_eq(kvc_kv_dtype_parse("", &d), -1);
    cr_assert_eq(kvc_kv_dtype_parse(NULL, &d), -1);
    cr_assert_eq(d, KVC_KV_INT8, "untouched on failure");
    cr_assert_eq(kvc_kv_dtype_parse("nvfp4", NULL), 0);
}

Test(oracle_format_names, f32_is_the_bits)
{
    ENC(KVC_KV_F32, 1.0f, 0x3F800000u);
    ENC(KVC_KV_F32, -0.0f, 0x80000000u);
    DEC(KVC_KV_F32, 0x3F800000u, 1.0);
    DEC(KVC_KV_F32, 0x00000001u, 0x1p-149);
    DEC(KVC_KV_F32, 0xFF800000u, -INFINITY);
    DEC_NAN(KVC_KV_F32, 0x7FC00001u);
    /* a NaN payload is kept */
    ENC(KVC_KV_F32, bits_f32(0x7FA12345u), 0x7FA12345u);
}

Test(oracle_format_names, unknown_dtype_never_aborts)
{
    cr_assert_eq(kvc_encode((kvc_kv_dtype)99, 1.0f), 0u);
    cr_assert(isnan(kvc_decode((kvc_kv_dtype)99, 0)));
    float x = 1.0f;
    cr_assert(isnan(kvc_scale_token(KVC_KV_F16, &x, 1)));
    cr_assert(isnan(kvc_scale_token(KVC_KV_NVFP4, &x, 1)));
    cr_assert(isnan(kvc_calib_scale(KVC_KV_BF16, 1.0f)));
}

/* ======================================================================== */
/* f16: s e5 m10, bias 15                                                   */
/* ======================================================================== */

Test(oracle_format_f16, named_values)
{
    const kvc_kv_dtype d = KVC_KV_F16;
    /* largest finite: e = 30, m = 1023: (1 + 1023/1024) 2^15 = 65504 */
    DEC(d, 0x7BFF, 65504.0);
    ENC(d, 65504.0f, 0x7BFF);
    /* smallest subnormal: m = 1: 2^-10 * 2^(1-15) = 2^-24 */
    DEC(d, 0x0001, 0x1p-24);
    ENC(d, 0x1p-24f, 0x0001);
    /* largest subnormal: 1023 * 2^-24 */
    DEC(d, 0x03FF, 1023 * 0x1p-24);
    /* smallest normal: e = 1: 2^-14 */
    DEC(d, 0x0400, 0x1p-14);
    ENC(d, 0x1p-14f, 0x0400);
    /* 1.0: e = 15 -> 15 << 10 = 0x3C00 */
    DEC(d, 0x3C00, 1.0);
    ENC(d, 1.0f, 0x3C00);
    ENC(d, -1.0f, 0xBC00);
    /* -0 */
    DEC(d, 0x8000, -0.0);
    ENC(d, -0.0f, 0x8000);
    ENC(d, 0.0f, 0x0000);
    /* infinities: e = 31, m = 0 */
    DEC(d, 0x7C00, INFINITY);
    DEC(d, 0xFC00, -INFINITY);
    ENC(d, INFINITY, 0x7C00);
    ENC(d, -INFINITY, 0xFC00);
    /* NaN: e = 31, m != 0; written as sign | 0x7E00 */
    DEC_NAN(d, 0x7C01);
    DEC_NAN(d, 0x7E00);
    DEC_NAN(d, 0xFFFF);
    ENC(d, NAN, 0x7E00);
    ENC(d, -NAN, 0xFE00);
    /* only the low 16 bits of a code are read */
    DEC(d, 0xABCD3C00u, 1.0);
}

Test(oracle_format_f16, ties_and_ulps)
{
    const kvc_kv_dtype d = KVC_KV_F16;
    /* spacing at 1 is 2^-10: 1 + 2^-11 is halfway between 1 (m = 0) and
     * 1 + 2^-10 (m = 1) -> even m = 0 */
    ENC(d, 1.0f + 0x1p-11f, 0x3C00);
    /* one binary32 ulp (2^-23) either side */
    ENC(d, up(1.0f + 0x1p-11f), 0x3C01);
    ENC(d, down(1.0f + 0x1p-11f), 0x3C00);
    /* 1 + 3*2^-11 is halfway between m = 1 and m = 2 -> m = 2 (1 + 2^-9) */
    ENC(d, 1.0f + 3 * 0x1p-11f, 0x3C02);
    ENC(d, down(1.0f + 3 * 0x1p-11f), 0x3C01);
    ENC(d, -(1.0f + 3 * 0x1p-11f), 0xBC02);
    /* 2048 + 1 = 2049: spacing 2 in [2^11, 2^12): between 2048 (m = 0) and
     * 2050 (m = 1) -> 2048; 2051 between 2050 and 2052 -> 2052 (m = 2) */
    ENC(d, 2049.0f, 0x6800);
    ENC(d, 2051.0f, 0x6802);
}

Test(oracle_format_f16, overflow)
{
    const kvc_kv_dtype d = KVC_KV_F16;
    /* 65520 = 65504 + 16 is halfway between 65504 (m = 1023, odd) and
     * 2^16 (the next binade, even) -> 2^16 -> past the largest -> inf */
    ENC(d, 65520.0f, 0x7C00);
    ENC(d, -65520.0f, 0xFC00);
    /* the float below 65520: ulp 2^(15-23) = 2^-8: 65519.99609375 -> 65504 */
    cr_assert_eq(down(65520.0f), 65519.99609375f);
    ENC(d, down(65520.0f), 0x7BFF);
    ENC(d, -down(65520.0f), 0xFBFF);
    ENC(d, 65535.0f, 0x7C00);
    ENC(d, 1e30f, 0x7C00);
    ENC(d, FLT_MAX, 0x7C00);
    ENC(d, -FLT_MAX, 0xFC00);
}

Test(oracle_format_f16, underflow)
{
    const kvc_kv_dtype d = KVC_KV_F16;
    /* 2^-25 is halfway between 0 and 2^-24 (m = 1) -> 0, sign kept */
    ENC(d, 0x1p-25f, 0x0000);
    ENC(d, -0x1p-25f, 0x8000);
    ENC(d, up(0x1p-25f), 0x0001);
    ENC(d, -up(0x1p-25f), 0x8001);
    /* 3 * 2^-25 is halfway between m = 1 and m = 2 -> m = 2 */
    ENC(d, 3 * 0x1p-25f, 0x0002);
    /* 2^-14 - 2^-25 = 1023.5 * 2^-24: halfway between the largest subnormal
     * (m = 1023, odd) and the smallest normal 1024 * 2^-24 -> 0x0400 */
    ENC(d, 0x1p-14f - 0x1p-25f, 0x0400);
    ENC(d, down(0x1p-14f - 0x1p-25f), 0x03FF);
    /* binary32 subnormals are far below: -> +-0 */
    ENC(d, 0x1p-149f, 0x0000);
    ENC(d, -0x1p-149f, 0x8000);
}

Test(oracle_format_f16, round_trip_every_code)
{
    for (uint32_t c = 0; c <= 0xFFFF; c++) {
        double v = kvc_decode(KVC_KV_F16, c);
        if (isnan(v)) {
            /* e = 31 and m != 0 */
            cr_assert((c & 0x7C00) == 0x7C00 && (c & 0x3FF) != 0);
            continue;
        }
        ENC(KVC_KV_F16, (float)v, c);
    }
}

/* ======================================================================== */
/* bf16: s e8 m7, bias 127                                                  */
/* ======================================================================== */

Test(oracle_format_bf16, named_values)
{
    const kvc_kv_dtype d = KVC_KV_BF16;
    /* largest finite: e = 254, m = 127: (1 + 127/128) 2^127 = 0x1.fep127 */
    DEC(d, 0x7F7F, 0x1.fep127);
    ENC(d, 0x1.fep127f, 0x7F7F);
    /* smallest subnormal: m = 1: 2^-7 * 2^-126 = 2^-133 */
    DEC(d, 0x0001, 0x1p-133);
    ENC(d, 0x1p-133f, 0x0001);
    /* smallest normal 2^-126 */
    DEC(d, 0x0080, 0x1p-126);
    /* 1.0: e = 127 -> 127 << 7 = 0x3F80 */
    DEC(d, 0x3F80, 1.0);
    ENC(d, 1.0f, 0x3F80);
    DEC(d, 0x8000, -0.0);
    ENC(d, -0.0f, 0x8000);
    DEC(d, 0x7F80, INFINITY);
    DEC(d, 0xFF80, -INFINITY);
    ENC(d, INFINITY, 0x7F80);
    ENC(d, -INFINITY, 0xFF80);
    DEC_NAN(d, 0x7F81);
    DEC_NAN(d, 0x7FC0);
    ENC(d, NAN, 0x7FC0);
    ENC(d, -NAN, 0xFFC0);
}

Test(oracle_format_bf16, ties_overflow_underflow)
{
    const kvc_kv_dtype d = KVC_KV_BF16;
    /* spacing at 1 is 2^-7: 1 + 2^-8 halfway between m = 0 and m = 1 -> 0 */
    ENC(d, 1.0f + 0x1p-8f, 0x3F80);
    ENC(d, up(1.0f + 0x1p-8f), 0x3F81);
    /* 1 + 3*2^-8 halfway between m = 1 and m = 2 -> m = 2 */
    ENC(d, 1.0f + 3 * 0x1p-8f, 0x3F82);
    ENC(d, down(1.0f + 3 * 0x1p-8f), 0x3F81);
    /* (2 - 2^-8) 2^127 = 0x1.ffp127 halfway between the largest finite
     * (m = 127, odd) and 2^128 -> 2^128 -> inf; FLT_MAX above it -> inf */
    ENC(d, 0x1.ffp127f, 0x7F80);
    ENC(d, down(0x1.ffp127f), 0x7F7F);
    ENC(d, FLT_MAX, 0x7F80);
    ENC(d, -FLT_MAX, 0xFF80);
    /* 2^-134 halfway between 0 and 2^-133 -> 0; 3 * 2^-134 -> m = 2 */
    ENC(d, 0x1p-134f, 0x0000);
    ENC(d, -0x1p-134f, 0x8000);
    ENC(d, up(0x1p-134f), 0x0001);
    ENC(d, 3 * 0x1p-134f, 0x0002);
    /* binary32 subnormal 2^-140 -> m = 2^-140 / 2^-133 = 2^-7 < 1/2 -> 0 */
    ENC(d, 0x1p-140f, 0x0000);
}

Test(oracle_format_bf16, decode_is_upper_half_of_binary32)
{
    for (uint32_t c = 0; c <= 0xFFFF; c++) {
        double v = kvc_decode(KVC_KV_BF16, c);
        float w = bits_f32(c << 16);
        if (isnan(w)) {
            cr_assert(isnan(v), "0x%X", (unsigned)c);
            continue;
        }
        DEC(KVC_KV_BF16, c, (double)w);
        ENC(KVC_KV_BF16, w, c); /* round trip */
    }
}

/* ======================================================================== */
/* fp8 e4m3: s e4 m3, bias 7, no inf, 0x7F/0xFF NaN, SATFINITE              */
/* ======================================================================== */

Test(oracle_format_e4m3, named_values)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E4M3;
    /* largest finite 0x7E: e = 15, m = 6: (1 + 6/8) 2^8 = 448 */
    DEC(d, 0x7E, 448.0);
    ENC(d, 448.0f, 0x7E);
    DEC(d, 0xFE, -448.0);
    /* smallest subnormal 0x01: (1/8) 2^-6 = 2^-9 */
    DEC(d, 0x01, 0x1p-9);
    ENC(d, 0x1p-9f, 0x01);
    /* smallest normal 0x08: e = 1: 2^-6 */
    DEC(d, 0x08, 0x1p-6);
    ENC(d, 0x1p-6f, 0x08);
    /* 1.0: e = 7 -> 7 << 3 = 0x38 */
    DEC(d, 0x38, 1.0);
    ENC(d, 1.0f, 0x38);
    ENC(d, -1.0f, 0xB8);
    DEC(d, 0x80, -0.0);
    ENC(d, -0.0f, 0x80);
    ENC(d, 0.0f, 0x00);
    /* NaN: 0x7F and 0xFF; written 0x7F whatever the sign */
    DEC_NAN(d, 0x7F);
    DEC_NAN(d, 0xFF);
    ENC(d, NAN, 0x7F);
    ENC(d, -NAN, 0x7F);
    /* no infinity: e = 15 with m < 7 are numbers; 0x78 = 2^8 = 256 */
    DEC(d, 0x78, 256.0);
}

Test(oracle_format_e4m3, decode_table)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E4M3;
    /*
     * code  e  m   value
     * 0x00  0  0   0
     * 0x01  0  1   1/8 * 2^-6   = 2^-9
     * 0x07  0  7   7/8 * 2^-6   = 7 * 2^-9 = 0.013671875
     * 0x08  1  0   2^-6         = 0.015625
     * 0x0F  1  7   1.875 * 2^-6 = 0.029296875
     * 0x38  7  0   1
     * 0x39  7  1   1.125
     * 0x3F  7  7   1.875
     * 0x40  8  0   2
     * 0x77  14 7   1.875 * 2^7  = 240
     * 0x7D  15 5   1.625 * 2^8  = 416
     * 0x7E  15 6   448
     * 0xB9  sign | 0x39 = -1.125
     */
    DEC(d, 0x00, 0.0);
    DEC(d, 0x01, 0x1p-9);
    DEC(d, 0x07, 0.013671875);
    DEC(d, 0x08, 0.015625);
    DEC(d, 0x0F, 0.029296875);
    DEC(d, 0x38, 1.0);
    DEC(d, 0x39, 1.125);
    DEC(d, 0x3F, 1.875);
    DEC(d, 0x40, 2.0);
    DEC(d, 0x77, 240.0);
    DEC(d, 0x7D, 416.0);
    DEC(d, 0x7E, 448.0);
    DEC(d, 0xB9, -1.125);

    /* 0x00 .. 0x7E strictly increasing; negatives mirror */
    for (uint32_t c = 1; c <= 0x7E; c++)
        cr_assert(kvc_decode(d, c) > kvc_decode(d, c - 1), "0x%X", (unsigned)c);
    for (uint32_t c = 0; c <= 0x7E; c++)
        DEC(d, 0x80 | c, -kvc_decode(d, c));

    /* all 256 codes against the binary32 bit pattern built here: normal
     * code (s, e, m) -> s << 31 | (e - 7 + 127) << 23 | m << 20 */
    for (uint32_t c = 0; c <= 0xFF; c++) {
        uint32_t s = c >> 7, e = (c >> 3) & 0xF, m = c & 7;
        if (e == 15 && m == 7) {
            DEC_NAN(d, c);
            continue;
        }
        double want;
        if (e == 0)
            want = m * 0x1p-9;
        else
            want = bits_f32((e + 120) << 23 | m << 20);
        DEC(d, c, s ? -want : want);
    }
}

Test(oracle_format_e4m3, ties)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E4M3;
    /* spacing 1/8 in [1, 2): 1.0625 halfway between 1.0 (m = 0) and 1.125
     * (m = 1) -> 1.0; 1.1875 halfway between 1.125 and 1.25 (m = 2) -> 1.25 */
    ENC(d, 1.0625f, 0x38);
    ENC(d, 1.1875f, 0x3A);
    ENC(d, -1.0625f, 0xB8);
    ENC(d, -1.1875f, 0xBA);
    /* one binary32 ulp either side of the midpoints */
    ENC(d, up(1.0625f), 0x39);
    ENC(d, down(1.0625f), 0x38);
    ENC(d, up(1.1875f), 0x3A);
    ENC(d, down(1.1875f), 0x39);
    /* [256, 512): spacing 32; 432 halfway between 416 (m = 5) and 448
     * (m = 6) -> 448; 440 above the midpoint -> 448 */
    ENC(d, 432.0f, 0x7E);
    ENC(d, down(432.0f), 0x7D);
    ENC(d, 440.0f, 0x7E);
    /* [0.5, 1): spacing 1/16, e = 6; 0.9375 = 1.875 * 2^-1 is m = 7 (0x37);
     * 31/32 = 0.96875 is halfway between it (m odd) and 1.0 (the next
     * binade, m = 0 after the carry) -> 1.0 */
    ENC(d, 0.9375f, 0x37);
    ENC(d, 0.96875f, 0x38);
    ENC(d, down(0.96875f), 0x37);
}

Test(oracle_format_e4m3, saturation)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E4M3;
    /* 464 would be the midpoint of 448 and 480, but |t| > 448 saturates */
    ENC(d, 464.0f, 0x7E);
    /* the next float: 464 + 2^(8-23) = 464.000030517578125 */
    cr_assert_eq(up(464.0f), 464.000030517578125f);
    ENC(d, up(464.0f), 0x7E);
    ENC(d, down(464.0f), 0x7E);
    ENC(d, up(448.0f), 0x7E);
    ENC(d, 449.0f, 0x7E);
    ENC(d, 1e30f, 0x7E);
    ENC(d, FLT_MAX, 0x7E);
    ENC(d, INFINITY, 0x7E);
    ENC(d, -464.0f, 0xFE);
    ENC(d, -1e30f, 0xFE);
    ENC(d, -INFINITY, 0xFE);
}

Test(oracle_format_e4m3, subnormals)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E4M3;
    /* subnormal spacing 2^-9: 2^-10 is halfway between 0 and 2^-9 -> 0 */
    ENC(d, 0x1p-10f, 0x00);
    ENC(d, -0x1p-10f, 0x80);
    ENC(d, up(0x1p-10f), 0x01);
    ENC(d, -up(0x1p-10f), 0x81);
    /* 3 * 2^-10 halfway between 2^-9 (m = 1) and 2^-8 (m = 2) -> m = 2 */
    ENC(d, 3 * 0x1p-10f, 0x02);
    ENC(d, down(3 * 0x1p-10f), 0x01);
    /* 2^-6 - 2^-10 = 7.5 * 2^-9: halfway between 0x07 and 0x08 -> 0x08 */
    ENC(d, 0x1p-6f - 0x1p-10f, 0x08);
    ENC(d, down(0x1p-6f - 0x1p-10f), 0x07);
    /* tiny values keep their sign */
    ENC(d, 0x1p-149f, 0x00);
    ENC(d, -0x1p-149f, 0x80);
    ENC(d, -1e-20f, 0x80);
}

Test(oracle_format_e4m3, round_trip)
{
    for (uint32_t c = 0; c <= 0xFF; c++) {
        if ((c & 0x7F) == 0x7F)
            continue;
        ENC(KVC_KV_FP8_E4M3, (float)kvc_decode(KVC_KV_FP8_E4M3, c), c);
    }
}

/* ======================================================================== */
/* fp8 e5m2: s e5 m2, bias 15, IEEE-like specials, SATFINITE                */
/* ======================================================================== */

Test(oracle_format_e5m2, named_values)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E5M2;
    /* largest finite 0x7B: e = 30, m = 3: 1.75 * 2^15 = 57344 */
    DEC(d, 0x7B, 57344.0);
    ENC(d, 57344.0f, 0x7B);
    /* smallest subnormal: (1/4) 2^-14 = 2^-16 */
    DEC(d, 0x01, 0x1p-16);
    ENC(d, 0x1p-16f, 0x01);
    /* largest subnormal 0x03: 0.75 * 2^-14; smallest normal 0x04: 2^-14 */
    DEC(d, 0x03, 0.75 * 0x1p-14);
    DEC(d, 0x04, 0x1p-14);
    /* 1.0: e = 15 -> 15 << 2 = 0x3C */
    DEC(d, 0x3C, 1.0);
    ENC(d, 1.0f, 0x3C);
    DEC(d, 0x80, -0.0);
    ENC(d, -0.0f, 0x80);
    /* 0x7C = +inf, 0xFC = -inf (decoded, never written) */
    DEC(d, 0x7C, INFINITY);
    DEC(d, 0xFC, -INFINITY);
    DEC_NAN(d, 0x7D);
    DEC_NAN(d, 0x7E);
    DEC_NAN(d, 0x7F);
    DEC_NAN(d, 0xFD);
    DEC_NAN(d, 0xFF);
    ENC(d, NAN, 0x7F);
    ENC(d, -NAN, 0x7F);
}

Test(oracle_format_e5m2, decode_table)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E5M2;
    /*
     * code  e  m   value
     * 0x3D  15 1   1.25
     * 0x3E  15 2   1.5
     * 0x40  16 0   2
     * 0x7A  30 2   1.5 * 2^15 = 49152
     * 0xBD  -1.25
     */
    DEC(d, 0x3D, 1.25);
    DEC(d, 0x3E, 1.5);
    DEC(d, 0x40, 2.0);
    DEC(d, 0x7A, 49152.0);
    DEC(d, 0xBD, -1.25);
    /* 0x00 .. 0x7C strictly increasing (inf last) */
    for (uint32_t c = 1; c <= 0x7C; c++)
        cr_assert(kvc_decode(d, c) > kvc_decode(d, c - 1), "0x%X", (unsigned)c);
    /* e5m2 is the upper byte of binary16: same value as f16 code c << 8 */
    for (uint32_t c = 0; c <= 0xFF; c++) {
        double h = kvc_decode(KVC_KV_F16, c << 8);
        if (isnan(h))
            DEC_NAN(d, c);
        else
            DEC(d, c, h);
    }
}

Test(oracle_format_e5m2, ties_saturation_subnormals)
{
    const kvc_kv_dtype d = KVC_KV_FP8_E5M2;
    /* spacing 1/4 in [1, 2): 1.125 halfway between 1 (m = 0) and 1.25
     * (m = 1) -> 1; 1.375 halfway between 1.25 and 1.5 (m = 2) -> 1.5 */
    ENC(d, 1.125f, 0x3C);
    ENC(d, up(1.125f), 0x3D);
    ENC(d, 1.375f, 0x3E);
    ENC(d, down(1.375f), 0x3D);
    /* [2^15, 2^16): spacing 2^13 = 8192; 53248 halfway between 49152
     * (m = 2) and 57344 (m = 3) -> 49152 */
    ENC(d, 53248.0f, 0x7A);
    ENC(d, up(53248.0f), 0x7B);
    /* |t| > 57344 saturates (61440 would be the midpoint to 2^16) */
    ENC(d, up(57344.0f), 0x7B);
    ENC(d, 61440.0f, 0x7B);
    ENC(d, 1e30f, 0x7B);
    ENC(d, INFINITY, 0x7B);
    ENC(d, -up(57344.0f), 0xFB);
    ENC(d, -INFINITY, 0xFB);
    /* subnormal spacing 2^-16: 2^-17 halfway between 0 and 2^-16 -> 0;
     * 3 * 2^-17 between m = 1 and m = 2 -> m = 2 */
    ENC(d, 0x1p-17f, 0x00);
    ENC(d, -0x1p-17f, 0x80);
    ENC(d, up(0x1p-17f), 0x01);
    ENC(d, 3 * 0x1p-17f, 0x02);
    /* 3.5 * 2^-16 halfway between 0x03 and 0x04 (2^-14) -> 0x04 */
    ENC(d, 3.5f * 0x1p-16f, 0x04);
    ENC(d, down(3.5f * 0x1p-16f), 0x03);
}

Test(oracle_format_e5m2, round_trip)
{
    for (uint32_t c = 0; c <= 0xFF; c++) {
        uint32_t mag = c & 0x7F;
        if (mag >= 0x7C) /* inf and NaN */
            continue;
        ENC(KVC_KV_FP8_E5M2, (float)kvc_decode(KVC_KV_FP8_E5M2, c), c);
    }
    /* an infinity code decodes to inf, which re-encodes saturated */
    ENC(KVC_KV_FP8_E5M2, (float)kvc_decode(KVC_KV_FP8_E5M2, 0xFC), 0xFB);
}

/* ======================================================================== */
/* int8                                                                     */
/* ======================================================================== */

Test(oracle_format_int8, rne_and_clamps)
{
    const kvc_kv_dtype d = KVC_KV_INT8;
    ENC(d, 0.0f, 0x00);
    ENC(d, -0.0f, 0x00); /* -0 -> 0 */
    ENC(d, 1.0f, 0x01);
    ENC(d, -1.0f, 0xFF);
    /* ties to even */
    ENC(d, 0.5f, 0x00);
    ENC(d, 1.5f, 0x02);
    ENC(d, 2.5f, 0x02);
    ENC(d, 3.5f, 0x04);
    ENC(d, -0.5f, 0x00);
    ENC(d, -2.5f, 0xFE);  /* -2 */
    ENC(d, -3.5f, 0xFC);  /* -4 */
    ENC(d, 126.5f, 0x7E); /* 126 */
    /* one binary32 ulp either side of 2.5 */
    ENC(d, up(2.5f), 0x03);
    ENC(d, down(2.5f), 0x02);
    /* clamps: 127.5 rounds to 128 (even), clamped to 127 */
    ENC(d, 127.5f, 0x7F);
    ENC(d, down(127.5f), 0x7F);
    ENC(d, 128.0f, 0x7F);
    ENC(d, 1e30f, 0x7F);
    ENC(d, INFINITY, 0x7F);
    /* -128.5 rounds to -128 (even); -129 clamps to -128 */
    ENC(d, -128.5f, 0x80);
    ENC(d, up(-128.5f), 0x80);
    ENC(d, down(-128.5f), 0x80);
    ENC(d, -129.0f, 0x80);
    ENC(d, -1e30f, 0x80);
    ENC(d, -INFINITY, 0x80);
    ENC(d, NAN, 0x00);
    ENC(d, -NAN, 0x00);
    /* tiny */
    ENC(d, 0x1p-149f, 0x00);
    ENC(d, -0x1p-149f, 0x00);
}

Test(oracle_format_int8, decode_and_round_trip)
{
    const kvc_kv_dtype d = KVC_KV_INT8;
    DEC(d, 0x00, 0.0);
    DEC(d, 0x7F, 127.0);
    DEC(d, 0x80, -128.0);
    DEC(d, 0xFF, -1.0);
    DEC(d, 0xFE, -2.0);
    DEC(d, 0x1FF, -1.0); /* only the low byte is read */
    for (uint32_t c = 0; c <= 0xFF; c++)
        ENC(d, (float)kvc_decode(d, c), c);
}

/* ======================================================================== */
/* e2m1 (nvfp4 elements): s e2 m1, bias 1, no inf, no NaN                   */
/* ======================================================================== */

Test(oracle_format_e2m1, decode_table)
{
    const kvc_kv_dtype d = KVC_KV_NVFP4;
    /* code: e = 0: m/2 * 2^0 -> 0, 0.5; e = 1: 1, 1.5; e = 2: 2, 3;
     * e = 3: 4, 6 (the doc's table); bit 3 the sign */
    static const double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    for (uint32_t c = 0; c < 8; c++) {
        DEC(d, c, mag[c]);
        DEC(d, c | 8, -mag[c]);
        ENC(d, (float)mag[c], c);
        ENC(d, (float)-mag[c], c | 8);
    }
    DEC(d, 0x8, -0.0);
    DEC(d, 0x17, 6.0); /* only the low nibble is read */
}

Test(oracle_format_e2m1, ties)
{
    const kvc_kv_dtype d = KVC_KV_NVFP4;
    /* the doc's list: 0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2,
     * 3.5 -> 4, 5 -> 4 (each to the neighbour with the even code) */
    ENC(d, 0.25f, 0x0);
    ENC(d, 0.75f, 0x2);
    ENC(d, 1.25f, 0x2);
    ENC(d, 1.75f, 0x4);
    ENC(d, 2.5f, 0x4);
    ENC(d, 3.5f, 0x6);
    ENC(d, 5.0f, 0x6);
    ENC(d, -0.75f, 0xA);
    ENC(d, -5.0f, 0xE);
    /* one binary32 ulp either side */
    ENC(d, up(0.25f), 0x1);
    ENC(d, down(0.75f), 0x1);
    ENC(d, up(0.75f), 0x2);
    ENC(d, up(1.25f), 0x3);
    ENC(d, down(1.75f), 0x3);
    ENC(d, up(2.5f), 0x5);
    ENC(d, down(3.5f), 0x5);
    ENC(d, down(5.0f), 0x6);
    ENC(d, up(5.0f), 0x7);
}

Test(oracle_format_e2m1, saturation_nan_zero)
{
    const kvc_kv_dtype d = KVC_KV_NVFP4;
    ENC(d, up(6.0f), 0x7);
    ENC(d, 7.0f, 0x7);
    ENC(d, 1e30f, 0x7);
    ENC(d, INFINITY, 0x7);
    ENC(d, -7.0f, 0xF);
    ENC(d, -INFINITY, 0xF);
    ENC(d, NAN, 0x0);  /* NaN -> +0 */
    ENC(d, -NAN, 0x0);
    ENC(d, 0.0f, 0x0);
    ENC(d, -0.0f, 0x8);
    ENC(d, 0.2f, 0x0);
    ENC(d, -0.25f, 0x8); /* rounds to 0, sign kept */
    ENC(d, -0x1p-149f, 0x8);
}

/* ======================================================================== */
/* Cross-checks against references computed by other means                  */
/* ======================================================================== */

/* Brute force: the nearest of the non-negative finite codes 0..maxcode (whose
 * values are increasing), ties to the even code (the mantissa's last bit is
 * the code's last bit); then the saturation rule and the sign. */
static uint32_t nearest_ref(kvc_kv_dtype d, uint32_t maxcode, uint32_t signbit_,
                            float t)
{
    double a = fabs((double)t);
    uint32_t s = signbit(t) ? signbit_ : 0;
    double maxv = kvc_decode(d, maxcode);
    if (a > maxv)
        return s | maxcode;
    uint32_t best = 0;
    double bestd = INFINITY;
    for (uint32_t c = 0; c <= maxcode; c++) {
        double dist = fabs(kvc_decode(d, c) - a);
        if (dist < bestd || (dist == bestd && (c & 1) == 0)) {
            best = c;
            bestd = dist;
        }
    }
    return s | best;
}

/* midpoints of neighbouring codes, and one float ulp either side */
static void check_midpoints(kvc_kv_dtype d, uint32_t maxcode, uint32_t sb)
{
    for (uint32_t c = 0; c < maxcode; c++) {
        float m = (float)((kvc_decode(d, c) + kvc_decode(d, c + 1)) / 2);
        float probe[6] = {m, up(m), down(m), -m, -up(m), -down(m)};
        for (int i = 0; i < 6; i++)
            ENC(d, probe[i], nearest_ref(d, maxcode, sb, probe[i]));
    }
}

Test(oracle_format_cross, fp8_and_e2m1_brute_force)
{
    check_midpoints(KVC_KV_FP8_E4M3, 0x7E, 0x80);
    check_midpoints(KVC_KV_FP8_E5M2, 0x7B, 0x80);
    check_midpoints(KVC_KV_NVFP4, 0x7, 0x8);
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        float t = rnd_float(&s, -20, 10);
        ENC(KVC_KV_FP8_E4M3, t, nearest_ref(KVC_KV_FP8_E4M3, 0x7E, 0x80, t));
        t = rnd_float(&s, -20, 17);
        ENC(KVC_KV_FP8_E5M2, t, nearest_ref(KVC_KV_FP8_E5M2, 0x7B, 0x80, t));
        t = rnd_float(&s, -4, 4);
        ENC(KVC_KV_NVFP4, t, nearest_ref(KVC_KV_NVFP4, 0x7, 0x8, t));
    }
}

/* bf16 RNE by the carry trick on binary32 bits (non-NaN) */
static uint32_t bf16_ref(float t)
{
    uint32_t b = f32_bits(t);
    return (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
}

Test(oracle_format_cross, bf16_carry_trick)
{
    uint64_t s = 12345;
    for (int i = 0; i < 200000; i++) {
        float t = bits_f32((uint32_t)(rng_next(&s) >> 32));
        if (isnan(t))
            continue;
        ENC(KVC_KV_BF16, t, bf16_ref(t));
    }
    /* every bf16 midpoint and one ulp either side */
    for (uint32_t c = 0; c < 0x7F80; c++) {
        float m = bits_f32((c << 16) | 0x8000u);
        float probe[4] = {m, up(m), down(m), -m};
        for (int i = 0; i < 4; i++)
            ENC(KVC_KV_BF16, probe[i], bf16_ref(probe[i]));
    }
}

#ifdef __FLT16_MAX__
static uint32_t f16_ref(float t)
{
    _Float16 h = (_Float16)t;
    uint16_t b;
    memcpy(&b, &h, sizeof b);
    return b;
}

Test(oracle_format_cross, f16_compiler_conversion)
{
    uint64_t s = 777;
    for (int i = 0; i < 200000; i++) {
        float t = (i & 1) ? bits_f32((uint32_t)(rng_next(&s) >> 32))
                          : rnd_float(&s, -26, 17);
        if (isnan(t))
            continue;
        ENC(KVC_KV_F16, t, f16_ref(t));
    }
    /* decode of every code against the compiler's binary16 */
    for (uint32_t c = 0; c <= 0xFFFF; c++) {
        uint16_t b = (uint16_t)c;
        _Float16 h;
        memcpy(&h, &b, sizeof h);
        double w = (double)h;
        if (isnan(w))
            DEC_NAN(KVC_KV_F16, c);
        else
            DEC(KVC_KV_F16, c, w);
    }
    /* every f16 midpoint (a 12-bit value: a float) and one ulp either side */
    for (uint32_t c = 0; c < 0x7C00; c++) {
        float m = (float)((kvc_decode(KVC_KV_F16, c) +
                           (c + 1 < 0x7C00 ? kvc_decode(KVC_KV_F16, c + 1)
                                           : 65536.0)) / 2);
        float probe[4] = {m, up(m), down(m), -m};
        for (int i = 0; i < 4; i++)
            ENC(KVC_KV_F16, probe[i], f16_ref(probe[i]));
    }
}
#endif

Test(oracle_format_cross, fp32_ops_match_native_binary32)
{
    /* with FLT_EVAL_METHOD == 0 the native float operations are single
     * correctly rounded binary32 operations: the doc's fp32(.) */
    cr_assert_eq(FLT_EVAL_METHOD, 0);
    uint64_t s = 4242;
    for (int i = 0; i < 200000; i++) {
        volatile float a = rnd_float(&s, -149, 127);
        volatile float b = rnd_float(&s, -149, 127);
        if (b == 0.0f)
            continue;
        volatile float q = a / b, p = a * b;
        cr_assert_eq(f32_bits(kvc_fp32_div(a, b)), f32_bits(q),
                     "%a / %a", (double)a, (double)b);
        cr_assert_eq(f32_bits(kvc_fp32_mul(a, b)), f32_bits(p),
                     "%a * %a", (double)a, (double)b);
    }
}

/* ======================================================================== */
/* Scales                                                                   */
/* ======================================================================== */

Test(oracle_format_scale, fp32_ops)
{
    /* fp32(1/3): 1/3 = 1.0101...b * 2^-2; 23 fraction bits 0101...010, the
     * rest 0.1010...b = 2/3 > 1/2 rounds up: 0x1.555556p-2 */
    FEQ(kvc_fp32_div(1.0f, 3.0f), 0x1.555556p-2f);
    /* 3 * fp32(1/3) = 3 * 0x1555556 * 2^-26 = 0x4000002 * 2^-26 =
     * 1 + 2^-25, below half an ulp of 1 (2^-24) -> 1.0 */
    FEQ(kvc_fp32_mul(3.0f, 0x1.555556p-2f), 1.0f);
    /* (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: exactly halfway between 1 + 2^-11
     * and 1 + 2^-11 + 2^-23; the even one is 1 + 2^-11 */
    FEQ(kvc_fp32_mul(1.0f + 0x1p-12f, 1.0f + 0x1p-12f), 1.0f + 0x1p-11f);
    /* (1 + 2^-12)(1 + 3 * 2^-12) = 1 + 2^-10 + 3 * 2^-24: the 2^-24 part
     * 3 * 2^-24 = 1.5 ulp -> rounds to 2 ulps (1.5 is halfway, 2 even) */
    FEQ(kvc_fp32_mul(1.0f + 0x1p-12f, 1.0f + 3 * 0x1p-12f),
        1.0f + 0x1p-10f + 0x1p-22f);
    FEQ(kvc_fp32_div(448.0f, 448.0f), 1.0f);
}

Test(oracle_format_scale, per_token)
{
    const float e4[] = {1.0f, -448.0f, 3.0f};
    FEQ(kvc_scale_token(KVC_KV_FP8_E4M3, e4, 3), 1.0f); /* 448 / 448 */
    /* non-finite elements are ignored */
    const float e4n[] = {NAN, INFINITY, -INFINITY, -448.0f, 2.0f};
    FEQ(kvc_scale_token(KVC_KV_FP8_E4M3, e4n, 5), 1.0f);
    const float i8[] = {127.5f, -3.0f};
    FEQ(kvc_scale_token(KVC_KV_INT8, i8, 2), 1.0f); /* 127.5 / 127.5 */
    const float i8b[] = {-255.0f};
    FEQ(kvc_scale_token(KVC_KV_INT8, i8b, 1), 2.0f);
    const float e5[] = {-114688.0f, 1.0f};
    FEQ(kvc_scale_token(KVC_KV_FP8_E5M2, e5, 2), 2.0f); /* 2 * 57344 */
    /* fp32(1/448) = 2^-6 * fp32(1/7); 1/7 = 1.001001...b * 2^-3, fraction
     * bits 3, 6, ..., 21 set (0x124924), the rest 0.1001...b = 4/7 > 1/2
     * rounds up -> 0x124925 -> 0x1.24924ap-3; so 0x1.24924ap-9 */
    const float one[] = {1.0f};
    FEQ(kvc_scale_token(KVC_KV_FP8_E4M3, one, 1), 0x1.24924ap-9f);
    /* zero amax -> 2^-23 */
    const float z[] = {0.0f, -0.0f, 0.0f, 0.0f};
    FEQ(kvc_scale_token(KVC_KV_FP8_E4M3, z, 4), 0x1p-23f);
    FEQ(kvc_scale_token(KVC_KV_FP8_E5M2, z, 4), 0x1p-23f);
    FEQ(kvc_scale_token(KVC_KV_INT8, z, 4), 0x1p-23f);
    const float nf[] = {NAN, INFINITY, -INFINITY};
    FEQ(kvc_scale_token(KVC_KV_INT8, nf, 3), 0x1p-23f);
    FEQ(kvc_scale_token(KVC_KV_INT8, NULL, 0), 0x1p-23f);
    /* amax 2^-149 / 57344 underflows to 0 in binary32 -> 2^-23 */
    const float tiny[] = {0x1p-149f};
    FEQ(kvc_scale_token(KVC_KV_FP8_E5M2, tiny, 1), 0x1p-23f);
}

Test(oracle_format_scale, nvfp4_group)
{
    float x[16] = {0};
    /* amax 6, g = 1: fp32(6/6) = 1, fp32(1 * 1) = 1 -> e4m3 1.0 = 0x38;
     * effective scale fp32(1 / 1) = 1 */
    x[3] = -6.0f;
    x[7] = 2.0f;
    cr_assert_eq(kvc_nvfp4_block_code(x, 1.0f), 0x38u);
    FEQ(kvc_nvfp4_effective_scale(0x38, 1.0f), 1.0f);
    /* non-finite elements are ignored */
    x[0] = NAN;
    x[1] = INFINITY;
    x[2] = -INFINITY;
    cr_assert_eq(kvc_nvfp4_block_code(x, 1.0f), 0x38u);

    /* all zero: t = 0 -> 0x00 -> replaced by 0x01 (2^-9); effective scale
     * fp32(2^-9 / g): g = 1 -> 2^-9, g = 2 -> 2^-10, g = 3 -> 2^-9 *
     * fp32(1/3) = 0x1.555556p-11 */
    float z[16] = {0};
    z[5] = -0.0f;
    cr_assert_eq(kvc_nvfp4_block_code(z, 1.0f), 0x01u);
    cr_assert_eq(kvc_nvfp4_block_code(z, 2.0f), 0x01u);
    FEQ(kvc_nvfp4_effective_scale(0x01, 1.0f), 0x1p-9f);
    FEQ(kvc_nvfp4_effective_scale(0x01, 2.0f), 0x1p-10f);
    FEQ(kvc_nvfp4_effective_scale(0x01, 3.0f), 0x1.555556p-11f);
    /* outside the contract (g must be > 0), the formula as written: g = -1
     * gives t = -1 * +0 = -0 -> 0x80, whose value is 0 too -> 0x01 */
    cr_assert_eq(kvc_nvfp4_block_code(z, -1.0f), 0x01u);

    /* a block scale that rounds to 0: amax 6 * 2^-10, g = 1 -> t = 2^-10,
     * halfway between 0 and 2^-9 -> 0x00 -> 0x01; amax 18 * 2^-10 ->
     * t = 3 * 2^-10 -> 0x02 */
    float s[16] = {0};
    s[9] = 6 * 0x1p-10f;
    cr_assert_eq(kvc_nvfp4_block_code(s, 1.0f), 0x01u);
    s[9] = -18 * 0x1p-10f;
    cr_assert_eq(kvc_nvfp4_block_code(s, 1.0f), 0x02u);

    /* saturation: amax 2688 -> fp32(2688/6) = 448 -> 0x7E; 5376 -> 896 > 448
     * -> 0x7E */
    s[9] = 2688.0f;
    cr_assert_eq(kvc_nvfp4_block_code(s, 1.0f), 0x7Eu);
    s[9] = 5376.0f;
    cr_assert_eq(kvc_nvfp4_block_code(s, 1.0f), 0x7Eu);
}

Test(oracle_format_scale, nvfp4_group_encode)
{
    /* g = 0.5 (tensor amax 5376), group amax 12: fp32(12/6) = 2,
     * fp32(0.5 * 2) = 1 -> 0x38; s = fp32(1 / 0.5) = 2 */
    float x[16] = {12, -7, 3, 1, 0.5f, 0.4f, -0.0f, NAN,
                   INFINITY, 10, 5, -2.5f, 0, 0, 0, 0};
    float g = kvc_calib_nvfp4_global(5376.0f);
    FEQ(g, 0.5f);
    uint32_t c = kvc_nvfp4_block_code(x, g);
    cr_assert_eq(c, 0x38u);
    float sc = kvc_nvfp4_effective_scale(c, g);
    FEQ(sc, 2.0f);
    /* t = x / 2: 6 -> 7; -3.5 -> tie 3|4 -> 4 (code 6) | 8; 1.5 -> 3;
     * 0.5 -> 1; 0.25 -> tie 0|0.5 -> 0; 0.2 -> 0; -0 -> 8; NaN -> 0;
     * inf -> 7; 5 -> tie 4|6 -> 4 (6); 2.5 -> tie 2|3 -> 2 (4);
     * -1.25 -> tie 1|1.5 -> 1 (2) | 8 */
    static const uint32_t want[16] = {0x7, 0xE, 0x3, 0x1, 0x0, 0x0, 0x8, 0x0,
                                      0x7, 0x6, 0x4, 0xA, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        ENC(KVC_KV_NVFP4, kvc_fp32_div(x[i], sc), want[i]);

    /* an inexact block scale: group amax 1, g = 1: fp32(1/6) =
     * 0x1.555556p-3 (fp32(1/3) / 2); e4m3 spacing 2^-6 in [2^-3, 2^-2):
     * 0x1.555556p-3 / 2^-6 = 10.67 -> 11 * 2^-6 = 0.171875 = 1.375 * 2^-3
     * -> e = 4, m = 3 -> 0x23 */
    float y[16] = {1.0f, 0.5f};
    c = kvc_nvfp4_block_code(y, 1.0f);
    cr_assert_eq(c, 0x23u);
    sc = kvc_nvfp4_effective_scale(c, 1.0f);
    FEQ(sc, 0.171875f);
    /* 1 / 0.171875 = 64/11 = 5.82 > 5 -> 6 (7); 0.5 / 0.171875 = 32/11 =
     * 2.91 > 2.5 -> 3 (5) */
    ENC(KVC_KV_NVFP4, kvc_fp32_div(y[0], sc), 0x7);
    ENC(KVC_KV_NVFP4, kvc_fp32_div(y[1], sc), 0x5);
}

Test(oracle_format_scale, calibration)
{
    FEQ(kvc_calib_scale(KVC_KV_FP8_E4M3, 896.0f), 2.0f);    /* 896 / 448 */
    FEQ(kvc_calib_scale(KVC_KV_FP8_E5M2, 229376.0f), 4.0f); /* 4 * 57344 */
    FEQ(kvc_calib_scale(KVC_KV_INT8, 255.0f), 2.0f);        /* 255 / 127.5 */
    FEQ(kvc_calib_scale(KVC_KV_FP8_E4M3, 1.0f), 0x1.24924ap-9f); /* above */
    FEQ(kvc_calib_scale(KVC_KV_FP8_E4M3, 0.0f), 0x1p-23f);
    FEQ(kvc_calib_scale(KVC_KV_FP8_E5M2, 0.0f), 0x1p-23f);
    FEQ(kvc_calib_scale(KVC_KV_INT8, 0.0f), 0x1p-23f);
    cr_assert(isnan(kvc_calib_scale(KVC_KV_INT8, NAN)));

    /* nvfp4 global: fp32(2688 / amax) */
    FEQ(kvc_calib_nvfp4_global(2688.0f), 1.0f);
    FEQ(kvc_calib_nvfp4_global(5376.0f), 0.5f);
    FEQ(kvc_calib_nvfp4_global(1.0f), 2688.0f);
    /* amax below 2^-23 taken as 2^-23: 2688 * 2^23; 2688 = 0xA80 =
     * 1.0101b * 2^11 -> 1.3125 * 2^34 = 0x1.5p34 */
    FEQ(kvc_calib_nvfp4_global(0.0f), 0x1.5p34f);
    FEQ(kvc_calib_nvfp4_global(0x1p-24f), 0x1.5p34f);
    FEQ(kvc_calib_nvfp4_global(0x1p-23f), 0x1.5p34f);
    /* 2^-22 is not below: 2688 * 2^22 */
    FEQ(kvc_calib_nvfp4_global(0x1p-22f), 0x1.5p33f);
    /* 2688 / 7 = 384 exactly */
    FEQ(kvc_calib_nvfp4_global(7.0f), 384.0f);
}
