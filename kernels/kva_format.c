/*
 * kva_format.c — the KV-cache number-format codecs (see kva_format.h and
 * docs/kv-formats.md, the contract).
 *
 * Encoding works on the binary32 bit pattern. For a sign-magnitude target
 * with M mantissa bits and exponent bias B, let a = |t| as bits, e = a >> 23
 * (the binary32 biased exponent):
 *   - normal target (|t| >= 2^(1-B), i.e. e >= 128 - B): the binary32
 *     exponent/mantissa fields are a fixed-point number whose top bits are
 *     already the target's exponent/mantissa, up to a re-bias. RNE-shift a
 *     right by 23 - M and subtract (127 - B) << M. A mantissa carry ripples
 *     into the exponent field, which is exactly right (1.11..1 rounds to
 *     2.0), and a carry past the largest finite lands on the next code,
 *     which the caller saturates or turns into inf.
 *   - subnormal target (e < 128 - B): the value is (1.f) * 2^(e-150) with
 *     the 24-bit integer significand mm = f | 2^23; in units of the target's
 *     smallest subnormal 2^(1-B-M) it is mm >> s with s = 151 - B - M - e,
 *     RNE'd. A round up to 2^M is the smallest normal code, also exactly
 *     right. Shifts of 25 or more give 0 (mm < 2^24 <= half), so s is
 *     clamped to 25; binary32 subnormal inputs (e == 0) are far below every
 *     target subnormal handled this way, and they do give 0.
 * Both candidates are computed and one is selected, so the compiler can use
 * conditional moves. NaN is decided first (a > 0x7F800000); ±inf goes
 * through the normal path and lands above the largest finite code.
 *
 * RNE of x by s bits: (x + 2^(s-1) - 1 + lsb) >> s, lsb = bit s of x. With
 * remainder r: r > half carries; r == half carries iff lsb; r < half does
 * not.
 *
 * Decoding of the small formats builds the binary32 bits of a normal code by
 * shifting the code's exponent/mantissa into place and re-biasing; a
 * subnormal code is the small integer m times a power of two (an exact
 * int -> float conversion and an exact multiply by a normal power of two).
 */
#include "kva_format.h"
#include "kva_internal.h" /* KVA_MUT */

#include <string.h>

/* ---- bit helpers -------------------------------------------------------- */

static inline uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#define F32_ABS_MASK 0x7FFFFFFFu
#define F32_INF_BITS 0x7F800000u
#define F32_QNAN_BIT 0x00400000u

/* RNE of x >> s, 1 <= s <= 25 where used; x + 2^(s-1) must not wrap (true
 * for every caller: x < 2^24, or x <= 0x7F800000 with s <= 22). */
static inline uint32_t rne_shr(uint32_t x, uint32_t s)
{
    return (x + ((1u << (s - 1)) - 1u) + ((x >> s) & 1u)) >> s;
}

/* Magnitude code of a = |t| (bits, not NaN; ±inf allowed) on the grid of a
 * sign-magnitude format with M mantissa bits and bias B, before saturation
 * or overflow handling: the result may exceed the largest finite code (a
 * carry past it, or inf and large values far past it). Requires B + M <= 124
 * (true for f16, e4m3, e5m2, e2m1; not bf16, which has its own path): then
 * a binary32 subnormal or zero input (e == 0) shifts by >= 25 and gives 0,
 * which is right since it is below half the target's smallest subnormal. */
static inline uint32_t enc_mag(uint32_t a, uint32_t M, uint32_t B)
{
    const uint32_t e = a >> 23;

    /* normal target */
    const uint32_t nrm = rne_shr(a, 23u - M) - ((127u - B) << M);

    /* subnormal target */
    const uint32_t mm = (a & 0x007FFFFFu) | 0x00800000u;
    const uint32_t s0 = 151u - B - M; /* shift when e == 0 */
    uint32_t s = e < s0 ? s0 - e : 1u; /* only used when e < 128 - B */
    s = s > 25u ? 25u : s;
    const uint32_t sub = rne_shr(mm, s);

    return e >= 128u - B ? nrm : sub;
}

/* ---- f16 ---------------------------------------------------------------- */

uint16_t kva_f16_encode(float t)
{
    const uint32_t u = f2u(t);
    const uint32_t a = u & F32_ABS_MASK;
    const uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t mag = enc_mag(a, 10u, 15u);
    mag = mag > 0x7C00u ? 0x7C00u : mag; /* IEEE overflow: ±inf */
    mag = a > F32_INF_BITS ? 0x7E00u : mag;
    return (uint16_t)(sign | mag);
}

float kva_f16_decode(uint16_t c)
{
    const uint32_t sign = (uint32_t)(c & 0x8000u) << 16;
    const uint32_t em = c & 0x7FFFu;
    const uint32_t m = c & 0x03FFu;
    uint32_t bits;
    if (em >= 0x7C00u) /* inf, NaN (quieted, payload kept) */
        bits = F32_INF_BITS | (m << 13) | (m ? F32_QNAN_BIT : 0u);
    else if (em >= 0x0400u) /* normal: re-bias 15 -> 127 */
        bits = (em << 13) + ((127u - 15u) << 23);
    else /* subnormal or zero: m * 2^-24 */
        bits = f2u((float)(int32_t)m * 0x1p-24f);
    return u2f(sign | bits);
}

/* ---- bf16 --------------------------------------------------------------- */

uint16_t kva_bf16_encode(float t)
{
    const uint32_t u = f2u(t);
    const uint32_t a = u & F32_ABS_MASK;
    const uint32_t sign = (u >> 16) & 0x8000u;
    /* Same exponent range as binary32: RNE the low 16 bits away, for
     * normals and subnormals alike; a carry out of 0x7F7F gives 0x7F80
     * (inf), and inf stays inf. */
    uint32_t mag = rne_shr(a, 16u);
    mag = a > F32_INF_BITS ? 0x7FC0u : mag;
    return (uint16_t)(sign | mag);
}

float kva_bf16_decode(uint16_t c)
{
    uint32_t bits = (uint32_t)c << 16;
    /* quiet a NaN code (a signalling binary32 NaN would be a surprise) */
    if ((bits & F32_ABS_MASK) > F32_INF_BITS)
        bits |= F32_QNAN_BIT;
    return u2f(bits);
}

/* ---- fp8 e4m3 (E4M3FN, SATFINITE) --------------------------------------- */

/* The SATFINITE minifloats (e4m3, e5m2, e2m1): RNE magnitude (enc_mag),
 * saturated to max_mag (|t| beyond the largest finite, ±inf included),
 * the sign as sign_bit; NaN gives nan_code, without a sign. */
static uint32_t sat_encode(float t, uint32_t mbits, uint32_t bias,
                           uint32_t max_mag, uint32_t sign_bit,
                           uint32_t nan_code)
{
    const uint32_t u = f2u(t);
    const uint32_t a = u & F32_ABS_MASK;
    const uint32_t sign = (u >> 31) ? sign_bit : 0u;
    uint32_t mag = enc_mag(a, mbits, bias);
    mag = mag > max_mag ? max_mag : mag;
    return a > F32_INF_BITS ? nan_code : (sign | mag);
}

uint8_t kva_e4m3_encode(float t)
{
    /* |t| > 448 and ±inf: ±448 (0x7E); NaN: 0x7F */
    return (uint8_t)sat_encode(t, 3u, 7u, 0x7Eu, 0x80u, 0x7Fu);
}

float kva_e4m3_decode(uint8_t c)
{
    const uint32_t sign = (uint32_t)(c & 0x80u) << 24;
    const uint32_t em = c & 0x7Fu;
    const uint32_t m = c & 0x07u;
    uint32_t bits;
    if (em == 0x7Fu)
        bits = F32_INF_BITS | F32_QNAN_BIT;
    else if (em >= 0x08u) /* normal: re-bias 7 -> 127 */
        bits = (em << 20) + ((127u - 7u) << 23);
    else /* subnormal or zero: m * 2^-9 */
        bits = f2u((float)(int32_t)m * 0x1p-9f);
    return u2f(sign | bits);
}

/* ---- fp8 e5m2 (SATFINITE) ----------------------------------------------- */

uint8_t kva_e5m2_encode(float t)
{
    /* |t| > 57344 and ±inf: ±57344 (0x7B); NaN: 0x7F */
    return (uint8_t)sat_encode(t, 2u, 15u, 0x7Bu, 0x80u, 0x7Fu);
}

float kva_e5m2_decode(uint8_t c)
{
    /* e5m2 is the upper byte of an f16 */
    return kva_f16_decode((uint16_t)((uint32_t)c << 8));
}

/* ---- int8 --------------------------------------------------------------- */

int8_t kva_int8_encode(float t)
{
    const uint32_t u = f2u(t);
    const uint32_t a = u & F32_ABS_MASK;
    const uint32_t e = a >> 23;
    /* |t| = mm * 2^(e-150). |t| >= 128 (e >= 134, inf included) clamps
     * whatever the sign (|q| >= 128); below, RNE mm >> (150 - e), with
     * s >= 17 and clamped to 25 (which gives 0, as every |t| < 0.5 must). */
    const uint32_t mm = (a & 0x007FFFFFu) | 0x00800000u;
    uint32_t s = e < 134u ? 150u - e : 17u;
    s = s > 25u ? 25u : s;
    /* KVA_MUT(24): round half away from zero instead of to even */
    const uint32_t q = e >= 134u  ? 128u
                       : KVA_MUT(24) ? (mm + (1u << (s - 1))) >> s
                                     : rne_shr(mm, s); /* <= 128 */
    int32_t v = (u >> 31) ? -(int32_t)q : (int32_t)(q > 127u ? 127u : q);
    v = a > F32_INF_BITS ? 0 : v;
    return (int8_t)v;
}

/* ---- e2m1 (nvfp4 element) ----------------------------------------------- */

uint8_t kva_e2m1_encode(float t)
{
    /* |t| > 6 and ±inf: ±6 (0x7); NaN: +0 */
    return (uint8_t)sat_encode(t, 1u, 1u, 0x7u, 0x8u, 0x0u);
}

float kva_e2m1_decode(uint8_t c)
{
    const uint32_t sign = (uint32_t)(c & 0x8u) << 28;
    const uint32_t em = c & 0x7u;
    uint32_t bits;
    if (em >= 0x2u) /* normal: re-bias 1 -> 127 */
        bits = (em << 22) + ((127u - 1u) << 23);
    else /* 0 or 0.5 */
        bits = em ? 0x3F000000u : 0u;
    return u2f(sign | bits);
}

/* ---- scales ------------------------------------------------------------- */

/* Largest |x[d]| over the finite x[d], 0 when none: the maximum of the
 * magnitude bit patterns below the inf pattern (unsigned order of binary32
 * magnitudes is numeric order). */
static float finite_amax(const float *x, int n)
{
    uint32_t best = 0;
    for (int d = 0; d < n; d++) {
        const uint32_t a = f2u(x[d]) & F32_ABS_MASK;
        const uint32_t c = a < F32_INF_BITS ? a : 0u;
        best = c > best ? c : best;
    }
    return u2f(best);
}

float kva_scale_token(const float *x, int n, float range)
{
    const float s = finite_amax(x, n) / range;
    return s == 0.0f ? 0x1p-23f : s;
}

uint8_t kva_nvfp4_group_scale(const float *x16, float global_scale)
{
    const float per = finite_amax(x16, 16) / 6.0f;
    const float t = global_scale * per;
    const uint8_t c = kva_e4m3_encode(t);
    return (c & 0x7Fu) == 0u ? (uint8_t)0x01u : c;
}

float kva_nvfp4_effective_scale(uint8_t block_code, float global_scale)
{
    return kva_e4m3_decode(block_code) / global_scale;
}
