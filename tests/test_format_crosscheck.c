/*
 * test_format_crosscheck.c — the kernels' codecs (bit manipulation,
 * kernels/kva_format.c) against the oracle's (plain definitions in double,
 * oracle/kv_format.c), written independently from docs/kv-formats.md:
 * every code decodes to the same value, and the same inputs encode to the
 * same codes — every code value, every midpoint between neighbouring codes
 * and one binary32 ulp either side, the specials, and random bit patterns;
 * and the kernels' calibration (min-max observer, scale from amax) against
 * the oracle's rules.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "../kernels/kva_format.h"
#include "../kernels/kvattn.h"
#include "../oracle/kv_format.h"

typedef struct codec {
    kvc_kv_dtype dtype;
    int bits;                       /* code width */
    uint32_t (*encode)(float);      /* the kernel's, widened */
    float (*decode)(uint32_t);
} codec;

static uint32_t k_f16_enc(float t) { return kva_f16_encode(t); }
static float k_f16_dec(uint32_t c) { return kva_f16_decode((uint16_t)c); }
static uint32_t k_bf16_enc(float t) { return kva_bf16_encode(t); }
static float k_bf16_dec(uint32_t c) { return kva_bf16_decode((uint16_t)c); }
static uint32_t k_e4m3_enc(float t) { return kva_e4m3_encode(t); }
static float k_e4m3_dec(uint32_t c) { return kva_e4m3_decode((uint8_t)c); }
static uint32_t k_e5m2_enc(float t) { return kva_e5m2_encode(t); }
static float k_e5m2_dec(uint32_t c) { return kva_e5m2_decode((uint8_t)c); }
static uint32_t k_int8_enc(float t) { return (uint8_t)kva_int8_encode(t); }
static float k_int8_dec(uint32_t c) { return (float)(int8_t)(uint8_t)c; }
static uint32_t k_e2m1_enc(float t) { return kva_e2m1_encode(t); }
static float k_e2m1_dec(uint32_t c) { return kva_e2m1_decode((uint8_t)c); }

static const codec codecs[] = {
    {KVC_KV_F16, 16, k_f16_enc, k_f16_dec},
    {KVC_KV_BF16, 16, k_bf16_enc, k_bf16_dec},
    {KVC_KV_FP8_E4M3, 8, k_e4m3_enc, k_e4m3_dec},
    {KVC_KV_FP8_E5M2, 8, k_e5m2_enc, k_e5m2_dec},
    {KVC_KV_INT8, 8, k_int8_enc, k_int8_dec},
    {KVC_KV_NVFP4, 4, k_e2m1_enc, k_e2m1_dec},
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

static float next_up(float x) { return nextafterf(x, INFINITY); }
static float next_down(float x) { return nextafterf(x, -INFINITY); }

/* Both encoders agree on t; NaN in the message as bits. */
static void same_code(const codec *c, float t)
{
    uint32_t k = c->encode(t), o = kvc_encode(c->dtype, t);
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    cr_assert_eq(k, o, "%s: encode(%a = 0x%08x): kernel 0x%x, oracle 0x%x",
                 kvc_kv_dtype_name(c->dtype), (double)t, tb, k, o);
}

Test(format_crosscheck, every_code_decodes_alike)
{
    for (size_t i = 0; i < NCODECS; i++) {
        const codec *c = &codecs[i];
        for (uint32_t code = 0; code < (1u << c->bits); code++) {
            double o = kvc_decode(c->dtype, code);
            double k = c->decode(code);
            if (isnan(o)) {
                cr_assert(isnan(k), "%s code 0x%x: oracle NaN, kernel %a",
                          kvc_kv_dtype_name(c->dtype), code, k);
                continue;
            }
            cr_assert(k == o && signbit(k) == signbit(o),
                      "%s code 0x%x: kernel %a, oracle %a",
                      kvc_kv_dtype_name(c->dtype), code, k, o);
        }
    }
}

/* Every finite code value, the midpoints to the next code up and one ulp
 * either side: where rounding bugs live. */
Test(format_crosscheck, code_values_and_midpoints_encode_alike)
{
    for (size_t i = 0; i < NCODECS; i++) {
        const codec *c = &codecs[i];
        for (uint32_t code = 0; code < (1u << c->bits); code++) {
            double v = kvc_decode(c->dtype, code);
            if (!isfinite(v))
                continue;
            float fv = (float)v;
            same_code(c, fv);
            same_code(c, next_up(fv));
            same_code(c, next_down(fv));
            /* The next larger value of the format, by scanning codes of the
             * same sign (cheap at these widths; f16/bf16 use the bit
             * successor of a positive code). */
            double up = INFINITY;
            if (c->bits == 16) {
                double w = kvc_decode(c->dtype, code + 1);
                if (!signbit(v) && code + 1 < 0x8000 && isfinite(w))
                    up = w;
            } else {
                for (uint32_t o2 = 0; o2 < (1u << c->bits); o2++) {
                    double w = kvc_decode(c->dtype, o2);
                    if (isfinite(w) && w > v && w < up)
                        up = w;
                }
            }
            if (!isfinite(up))
                continue;
            float mid = (float)((v + up) / 2); /* exact in binary32 here? */
            if ((double)mid != (v + up) / 2)
                continue; /* midpoint not representable: no tie to test */
            same_code(c, mid);
            same_code(c, next_up(mid));
            same_code(c, next_down(mid));
            same_code(c, -mid);
        }
    }
}

Test(format_crosscheck, specials_encode_alike)
{
    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN,
                              FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
                              0x1p-149f, -0x1p-149f, 1e-45f, 1e30f, -1e30f,
                              448.0f, 464.0f, 57344.0f, 61440.0f, 65504.0f,
                              65520.0f, 127.5f, -128.5f, 6.0f, 7.0f};
    for (size_t i = 0; i < NCODECS; i++)
        for (size_t j = 0; j < sizeof specials / sizeof specials[0]; j++)
            same_code(&codecs[i], specials[j]);
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random binary32 bit patterns (every exponent alike), and random values
 * near each format's range. */
Test(format_crosscheck, random_values_encode_alike)
{
    uint32_t st = 0x9E3779B9u;
    for (size_t i = 0; i < NCODECS; i++) {
        const codec *c = &codecs[i];
        for (int n = 0; n < 200000; n++) {
            uint32_t bits = xorshift(&st);
            float t;
            memcpy(&t, &bits, sizeof t);
            same_code(c, t);
            /* within the format's range: scale a [-1,1) value by 2^k */
            float u = (float)((int32_t)xorshift(&st)) * 0x1p-31f;
            int k = (int)(xorshift(&st) % 40) - 20;
            same_code(c, ldexpf(u, k));
        }
    }
}

Test(format_crosscheck, scales_agree)
{
    static const struct { kvc_kv_dtype d; float range; } fmt[] = {
        {KVC_KV_FP8_E4M3, 448.0f}, {KVC_KV_FP8_E5M2, 57344.0f},
        {KVC_KV_INT8, 127.5f}};
    uint32_t st = 12345;
    float row[64], group[16];
    for (int n = 0; n < 20000; n++) {
        int k = (int)(xorshift(&st) % 60) - 30;
        for (int d = 0; d < 64; d++)
            row[d] = ldexpf((float)((int32_t)xorshift(&st)) * 0x1p-31f, k);
        if (n % 97 == 0)
            memset(row, 0, sizeof row); /* all-zero row: eps scale */
        if (n % 89 == 0)
            row[n % 64] = NAN;           /* non-finite values ignored */
        for (size_t f = 0; f < 3; f++) {
            float ks = kva_scale_token(row, 64, fmt[f].range);
            float os = kvc_scale_token(fmt[f].d, row, 64);
            cr_assert(memcmp(&ks, &os, sizeof ks) == 0,
                      "%s token scale: kernel %a, oracle %a",
                      kvc_kv_dtype_name(fmt[f].d), (double)ks, (double)os);
        }
        memcpy(group, row, sizeof group);
        float g = ldexpf(1.0f + (float)(xorshift(&st) % 1000) / 1000.0f,
                         (int)(xorshift(&st) % 30) - 10);
        uint32_t kc = kva_nvfp4_group_scale(group, g);
        uint32_t oc = kvc_nvfp4_block_code(group, g);
        cr_assert_eq(kc, oc, "nvfp4 block code: kernel 0x%x, oracle 0x%x", kc,
                     oc);
        float ke = kva_nvfp4_effective_scale((uint8_t)kc, g);
        float oe = kvc_nvfp4_effective_scale(oc, g);
        cr_assert(memcmp(&ke, &oe, sizeof ke) == 0,
                  "nvfp4 effective scale: kernel %a, oracle %a", (double)ke,
                  (double)oe);
    }
}

/* Calibration: the kernel's min-max observer fed several batches, and its
 * static scales, against the oracle's calibration rules applied to an amax
 * this test computes itself (largest finite |x|). Batches mix magnitudes
 * over many binades, NaN and infinities (ignored), zero heads (amax 0:
 * the 2^-23 floor) and -0. */
Test(format_crosscheck, calibration_agrees)
{
    enum { H = 3, D = 20, T = 7, BATCHES = 5 };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 42);
    for (int trial = 0; trial < 200; trial++) {
        float head_amax[H] = {0, 0, 0};
        kva_observer o = {H, D, 0.0f, head_amax};
        float want = 0.0f, want_head[H] = {0, 0, 0};
        const int zero_head = (int)gsl_rng_uniform_int(r, H + 1); /* H: none */
        for (int b = 0; b < BATCHES; b++) {
            float x[T * H * D];
            for (int i = 0; i < T * H * D; i++) {
                int h = i / D % H;
                double mag = ldexp(1.0, (int)gsl_rng_uniform_int(r, 60) - 30);
                x[i] = (float)(gsl_ran_gaussian(r, 1.0) * mag);
                unsigned u = (unsigned)gsl_rng_uniform_int(r, 50);
                if (u == 0)
                    x[i] = NAN;
                else if (u == 1)
                    x[i] = gsl_rng_uniform(r) < 0.5 ? INFINITY : -INFINITY;
                else if (u == 2)
                    x[i] = -0.0f;
                if (h == zero_head)
                    x[i] = u < 3 ? x[i] : 0.0f; /* zeros and non-finite only */
                float a = fabsf(x[i]);
                if (isfinite(a) && a > want)
                    want = a;
                if (isfinite(a) && a > want_head[h])
                    want_head[h] = a;
            }
            kva_error e;
            cr_assert_eq(kva_observer_update(&o, x, T, &e), KVA_OK, "%s", e.msg);
        }
        cr_assert_eq(o.amax, want, "trial %d: amax %a, want %a", trial,
                     (double)o.amax, (double)want);
        for (int h = 0; h < H; h++)
            cr_assert_eq(head_amax[h], want_head[h], "trial %d head %d", trial, h);
        static const kvc_kv_dtype dts[] = {KVC_KV_FP8_E4M3, KVC_KV_FP8_E5M2,
                                           KVC_KV_INT8, KVC_KV_NVFP4};
        for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++)
            for (int h = -1; h < H; h++) {
                float amax = h < 0 ? want : want_head[h];
                float got = -1.0f;
                kva_error e;
                cr_assert_eq(kva_scale_from_amax((kva_dtype)dts[i], amax, &got, &e),
                             KVA_OK, "%s", e.msg);
                float exp = dts[i] == KVC_KV_NVFP4 ? kvc_calib_nvfp4_global(amax)
                                                   : kvc_calib_scale(dts[i], amax);
                cr_assert(memcmp(&got, &exp, sizeof got) == 0,
                          "%s, amax %a: kernel scale %a, oracle %a",
                          kvc_kv_dtype_name(dts[i]), (double)amax, (double)got,
                          (double)exp);
                if (h == zero_head && dts[i] != KVC_KV_NVFP4)
                    cr_assert_eq(got, 0x1p-23f, "a zero head gets the 2^-23 floor");
            }
    }
    gsl_rng_free(r);
}
