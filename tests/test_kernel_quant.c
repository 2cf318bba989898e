/*
 * test_kernel_quant.c — libkvattn's reduced-precision KV caches through the
 * public API (kvattn.h): the cache write's codes and scales, the new
 * refusals, attention over a quantized cache, and calibration.
 *
 * Expected codes are worked out by hand from docs/kv-formats.md and written
 * as literals (each with its derivation); the test never calls the
 * library's codecs. Attention over a quantized cache is compared with
 * attention over an F32 cache holding the stored values
 * fp32(decode(code) * s), where decode is this file's own reading of the
 * format definitions (sign, exponent field, mantissa field, via ldexp) and
 * s is the scale read back from the cache (or given): the kernel computes
 * exactly that product, then the same arithmetic as for F32, so the two
 * must agree bit for bit.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kernels/kvattn.h"

#define POISON 0xA5 /* byte pattern of "never written" */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- this file's decoders, from the definitions ------------------------ */

/* The magnitude of exponent field e, mantissa field m (mbits bits), bias:
 * subnormal when e == 0. Exact in double, and every value used here is a
 * binary32 number. */
static double field_value(unsigned e, unsigned m, int mbits, int bias)
{
    if (e == 0)
        return ldexp((double)m, 1 - bias - mbits);
    return ldexp((double)((1u << mbits) + m), (int)e - bias - mbits);
}

static float signed_value(int neg, double mag)
{
    return (float)(neg ? -mag : mag);
}

static float ref_f16(uint16_t c)
{
    const unsigned e = (c >> 10) & 31u, m = c & 0x3FFu;
    if (e == 31)
        return m ? NAN : signed_value(c >> 15, INFINITY);
    return signed_value(c >> 15, field_value(e, m, 10, 15));
}

static float ref_bf16(uint16_t c)
{
    const unsigned e = (c >> 7) & 255u, m = c & 0x7Fu;
    if (e == 255)
        return m ? NAN : signed_value(c >> 15, INFINITY);
    return signed_value(c >> 15, field_value(e, m, 7, 127));
}

static float ref_e4m3(uint8_t c)
{
    if ((c & 0x7F) == 0x7F)
        return NAN;
    return signed_value(c >> 7, field_value((c >> 3) & 15u, c & 7u, 3, 7));
}

static float ref_e5m2(uint8_t c)
{
    const unsigned e = (c >> 2) & 31u, m = c & 3u;
    if (e == 31)
        return m ? NAN : signed_value(c >> 7, INFINITY);
    return signed_value(c >> 7, field_value(e, m, 2, 15));
}

static float ref_e2m1(unsigned nib)
{
    static const float mag[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    return (nib & 8u) ? -mag[nib & 7u] : mag[nib & 7u];
}

/* ---- a quantized paged cache in malloc'd pools ------------------------- */

typedef struct qcache {
    kva_paged_cache c;
    uint8_t *k, *v, *ks, *vs;    /* K/V pools and scale pools */
    size_t kv_bytes, s_bytes;
    float k_head[4], v_head[4];  /* HEAD scales */
    int64_t row_units, srow_units; /* K/V row, scale-pool row */
    int mapped;                  /* pools from mmap (guard-page tests) */
} qcache;

static int64_t unit_bytes(kva_dtype d)
{
    return d == KVA_DTYPE_F32 ? 4 : d == KVA_DTYPE_F16 || d == KVA_DTYPE_BF16 ? 2 : 1;
}

/*
 * num_blocks x B x H rows of D elements; hnd != 0 for [blocks][H][B][R],
 * else NHD. Scale pools (TOKEN, GROUP) NHD with spad units of padding
 * after each block; every pool exactly as large as the strides need.
 * Static scales: tensor 1, heads 1 until a test sets them.
 */
static void qc_init(qcache *q, kva_dtype dt, kva_scale_kind kind, int nb,
                    int B, int H, int D, int hnd, int spad)
{
    memset(q, 0, sizeof *q);
    const int64_t R = dt == KVA_DTYPE_NVFP4 ? D / 2 : D;
    q->row_units = R;
    kva_paged_cache *c = &q->c;
    c->num_blocks = nb, c->block_size = B, c->num_kv_heads = H;
    c->head_dim = D, c->dtype = dt;
    if (hnd)
        c->stride_slot = R, c->stride_head = B * R;
    else
        c->stride_head = R, c->stride_slot = H * R;
    c->stride_block = (int64_t)B * H * R;
    c->pool_elems = (int64_t)nb * B * H * R;
    q->kv_bytes = (size_t)(c->pool_elems * unit_bytes(dt));
    q->k = malloc(q->kv_bytes), q->v = malloc(q->kv_bytes);
    cr_assert(q->k && q->v);
    memset(q->k, POISON, q->kv_bytes), memset(q->v, POISON, q->kv_bytes);
    c->k = q->k, c->v = q->v;

    kva_kv_scales *s = &c->scales;
    s->kind = kind;
    s->k_tensor = s->v_tensor = 1.0f;
    for (int h = 0; h < 4; h++)
        q->k_head[h] = q->v_head[h] = 1.0f;
    s->k_head = q->k_head, s->v_head = q->v_head;
    if (kind == KVA_SCALE_TOKEN || kind == KVA_SCALE_GROUP) {
        const int64_t SR = kind == KVA_SCALE_GROUP ? D / 16 : 1;
        const int64_t sub = kind == KVA_SCALE_GROUP ? 1 : 4;
        q->srow_units = SR;
        s->stride_head = SR, s->stride_slot = H * SR;
        s->stride_block = (int64_t)B * H * SR + spad;
        s->pool_units = (int64_t)(nb - 1) * s->stride_block +
                        (int64_t)(B - 1) * s->stride_slot +
                        (int64_t)(H - 1) * s->stride_head + SR;
        q->s_bytes = (size_t)(s->pool_units * sub);
        q->ks = malloc(q->s_bytes), q->vs = malloc(q->s_bytes);
        cr_assert(q->ks && q->vs);
        memset(q->ks, POISON, q->s_bytes), memset(q->vs, POISON, q->s_bytes);
        s->k_pool = q->ks, s->v_pool = q->vs;
    }
}

static void qc_free(qcache *q)
{
    if (q->mapped) {
        munmap(q->k, q->kv_bytes), munmap(q->v, q->kv_bytes);
        if (q->s_bytes)
            munmap(q->ks, q->s_bytes), munmap(q->vs, q->s_bytes);
        return;
    }
    free(q->k), free(q->v), free(q->ks), free(q->vs);
}

/* First unit of row (block b, slot t, head h) and of its scale row. */
static int64_t qc_row(const qcache *q, int64_t b, int t, int h)
{
    const kva_paged_cache *c = &q->c;
    return b * c->stride_block + t * c->stride_slot + h * c->stride_head;
}

static int64_t qc_srow(const qcache *q, int64_t b, int t, int h)
{
    const kva_kv_scales *s = &q->c.scales;
    return b * s->stride_block + t * s->stride_slot + h * s->stride_head;
}

static const uint8_t *qc_pool(const qcache *q, int is_v)
{
    return is_v ? q->v : q->k;
}

/* Code of element d of row (b, t, h) (uint16 for F16/BF16, a nibble for
 * NVFP4). */
static unsigned qc_code(const qcache *q, int is_v, int64_t b, int t, int h,
                        int d)
{
    const int64_t off = qc_row(q, b, t, h);
    const uint8_t *p = qc_pool(q, is_v);
    switch (q->c.dtype) {
    case KVA_DTYPE_F16:
    case KVA_DTYPE_BF16: {
        uint16_t u;
        memcpy(&u, p + 2 * (off + d), 2);
        return u;
    }
    case KVA_DTYPE_NVFP4: {
        const uint8_t byte = p[off + d / 2];
        return d % 2 ? byte >> 4 : byte & 15u;
    }
    default:
        return p[off + d];
    }
}

static float qc_token_scale(const qcache *q, int is_v, int64_t b, int t, int h)
{
    float s;
    memcpy(&s, (is_v ? q->vs : q->ks) + 4 * qc_srow(q, b, t, h), 4);
    return s;
}

static uint8_t qc_group_code(const qcache *q, int is_v, int64_t b, int t,
                             int h, int g)
{
    return (is_v ? q->vs : q->ks)[qc_srow(q, b, t, h) + g];
}

/* The stored value of element d of row (b, t, h): decode(code), times the
 * scale in one fp32 multiply for the scaled formats. */
static float qc_stored(const qcache *q, int is_v, int64_t b, int t, int h,
                       int d)
{
    const unsigned c = qc_code(q, is_v, b, t, h, d);
    const kva_kv_scales *s = &q->c.scales;
    float scale = is_v ? s->v_tensor : s->k_tensor;
    if (s->kind == KVA_SCALE_HEAD)
        scale = is_v ? s->v_head[h] : s->k_head[h];
    else if (s->kind == KVA_SCALE_TOKEN)
        scale = qc_token_scale(q, is_v, b, t, h);
    switch (q->c.dtype) {
    case KVA_DTYPE_F16: return ref_f16((uint16_t)c);
    case KVA_DTYPE_BF16: return ref_bf16((uint16_t)c);
    case KVA_DTYPE_FP8_E4M3: return ref_e4m3((uint8_t)c) * scale;
    case KVA_DTYPE_FP8_E5M2: return ref_e5m2((uint8_t)c) * scale;
    case KVA_DTYPE_INT8: return (float)(int8_t)(uint8_t)c * scale;
    case KVA_DTYPE_NVFP4: {
        /* effective scale fp32(decode_e4m3(code) / g) */
        const float es =
            ref_e4m3(qc_group_code(q, is_v, b, t, h, d / 16)) / scale;
        return ref_e2m1(c) * es;
    }
    default: {
        float f;
        memcpy(&f, qc_pool(q, is_v) + 4 * (qc_row(q, b, t, h) + d), 4);
        return f;
    }
    }
}

/* Every pool byte, for "nothing was written". */
typedef struct qsnap {
    uint8_t *k, *v, *ks, *vs;
} qsnap;

static void qc_snap(const qcache *q, qsnap *s)
{
    s->k = malloc(q->kv_bytes), s->v = malloc(q->kv_bytes);
    memcpy(s->k, q->k, q->kv_bytes), memcpy(s->v, q->v, q->kv_bytes);
    s->ks = s->vs = NULL;
    if (q->s_bytes) {
        s->ks = malloc(q->s_bytes), s->vs = malloc(q->s_bytes);
        memcpy(s->ks, q->ks, q->s_bytes), memcpy(s->vs, q->vs, q->s_bytes);
    }
}

static void qc_assert_unchanged(const qcache *q, qsnap *s)
{
    cr_assert(memcmp(q->k, s->k, q->kv_bytes) == 0, "K pool written");
    cr_assert(memcmp(q->v, s->v, q->kv_bytes) == 0, "V pool written");
    if (q->s_bytes) {
        cr_assert(memcmp(q->ks, s->ks, q->s_bytes) == 0, "K scales written");
        cr_assert(memcmp(q->vs, s->vs, q->s_bytes) == 0, "V scales written");
    }
    free(s->k), free(s->v), free(s->ks), free(s->vs);
}

static void write_ok(const qcache *q, const float *k, const float *v,
                     const int64_t *slots, int64_t n)
{
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = kva_cache_write(&q->c, k, v, slots, n, &err);
    cr_assert_eq(st, KVA_OK, "%s: %s", kva_status_name(st), err.msg);
}

/* Refused with `want`, a message containing every needle, and not one
 * byte of any pool written. */
static void write_refused(const qcache *q, const float *k, const float *v,
                          const int64_t *slots, int64_t n, kva_status want,
                          const char *needle1, const char *needle2)
{
    qsnap snap;
    qc_snap(q, &snap);
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = kva_cache_write(&q->c, k, v, slots, n, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert_eq(err.status, want);
    cr_assert(strstr(err.msg, needle1) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle1);
    if (needle2 != NULL)
        cr_assert(strstr(err.msg, needle2) != NULL,
                  "message \"%s\" lacks \"%s\"", err.msg, needle2);
    qc_assert_unchanged(q, &snap);
}

/* One token written to slot 5 (block 2, offset 1) and one padding token;
 * K/V of H heads x D are given per token. */
static void write_one(const qcache *q, const float *k1, const float *v1,
                      int H, int D)
{
    const int64_t n = (int64_t)H * D;
    float *k = malloc(2 * n * sizeof *k), *v = malloc(2 * n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        k[i] = 1e30f, v[i] = -1e30f; /* the padding token: never written */
        k[n + i] = k1[i], v[n + i] = v1[i];
    }
    const int64_t slots[2] = {-1, 5};
    write_ok(q, k, v, slots, 2);
    free(k), free(v);
}

/* Every row other than (block 2, slot 1, *) still holds the poison, and so
 * does every scale-pool unit outside its rows. */
static void assert_only_slot5(const qcache *q)
{
    const kva_paged_cache *c = &q->c;
    const int64_t ub = unit_bytes(c->dtype);
    for (int is_v = 0; is_v < 2; is_v++) {
        const uint8_t *p = qc_pool(q, is_v);
        for (int64_t b = 0; b < c->num_blocks; b++)
            for (int t = 0; t < c->block_size; t++)
                for (int h = 0; h < c->num_kv_heads; h++) {
                    if (b == 2 && t == 1)
                        continue;
                    const int64_t off = qc_row(q, b, t, h) * ub;
                    for (int64_t i = 0; i < q->row_units * ub; i++)
                        cr_assert_eq(p[off + i], POISON,
                                     "%s row (%lld, %d, %d) written",
                                     is_v ? "V" : "K", (long long)b, t, h);
                }
    }
    if (q->s_bytes) {
        const int64_t sub = c->scales.kind == KVA_SCALE_GROUP ? 1 : 4;
        for (size_t i = 0; i < q->s_bytes; i++) {
            const int64_t unit = (int64_t)i / sub;
            int mine = 0;
            for (int h = 0; h < c->num_kv_heads; h++) {
                const int64_t r = qc_srow(q, 2, 1, h);
                mine |= unit >= r && unit < r + q->srow_units;
            }
            if (!mine) {
                cr_assert_eq(q->ks[i], POISON, "K scale byte %zu written", i);
                cr_assert_eq(q->vs[i], POISON, "V scale byte %zu written", i);
            }
        }
    }
}

static void expect_codes(const qcache *q, int is_v, int h, const unsigned *want,
                         int D)
{
    for (int d = 0; d < D; d++) {
        const unsigned got = qc_code(q, is_v, 2, 1, h, d);
        cr_expect_eq(got, want[d], "%s head %d dim %d: code 0x%x, want 0x%x",
                     is_v ? "V" : "K", h, d, got, want[d]);
    }
}

/* ======================================================================
 * The cache write: codes and scales
 * ====================================================================== */

Test(kernel_quant, status_name_format)
{
    cr_assert_str_eq(kva_status_name(KVA_ERR_FORMAT), "KVA_ERR_FORMAT");
}

Test(kernel_quant, write_f16_codes)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_F16, KVA_SCALE_NONE, 3, 2, 1, 8, 0, 0);
    /* 65520 is the midpoint of 65504 (0x7BFF, odd) and 2^16: even -> inf;
     * 2^-25 is half of 2^-24: even -> 0; 3*2^-25 = 1.5 units -> 2 units;
     * 1 + 2^-11 is half an ulp above 1: even -> 1. */
    const float k[8] = {1.0f, -0.0f, 65520.0f, NAN, -INFINITY, 0x1p-25f,
                        0x3p-25f, 1.0f + 0x1p-11f};
    const unsigned kc[8] = {0x3C00, 0x8000, 0x7C00, 0x7E00, 0xFC00, 0x0000,
                            0x0002, 0x3C00};
    /* -NaN keeps its sign; 2^-14 is the smallest normal; 1 + 3*2^-11 is
     * the midpoint of 0x3C01 and 0x3C02: even 0x3C02; 2^-26 -> 0. */
    const float v[8] = {-2.0f, copysignf(NAN, -1.0f), 65504.0f, 0x1p-24f,
                        -0x1p-14f, 1.0f + 0x3p-11f, 100000.0f, 0x1p-26f};
    const unsigned vc[8] = {0xC000, 0xFE00, 0x7BFF, 0x0001, 0x8400, 0x3C02,
                            0x7C00, 0x0000};
    write_one(&q, k, v, 1, 8);
    expect_codes(&q, 0, 0, kc, 8);
    expect_codes(&q, 1, 0, vc, 8);
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_bf16_codes)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_BF16, KVA_SCALE_NONE, 3, 2, 1, 8, 1, 0);
    /* 1 + 2^-8: half an ulp (2^-7) above 1 -> even 0x3F80; 1 + 3*2^-8:
     * midpoint of 0x3F81 and 0x3F82 -> 0x3F82; FLT_MAX rounds past
     * 0x7F7F -> inf; 2^-133 is the smallest subnormal. */
    const float k[8] = {1.0f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f,
                        copysignf(NAN, -1.0f), FLT_MAX, -0.0f, INFINITY,
                        0x1p-133f};
    const unsigned kc[8] = {0x3F80, 0x3F80, 0x3F82, 0xFFC0, 0x7F80, 0x8000,
                            0x7F80, 0x0001};
    /* 2^-134 = half the smallest subnormal -> 0; 3*2^-134 -> 2 units;
     * 2^16 = 0x47800000. */
    const float v[8] = {-1.5f, 3.0f, 0x1p-134f, 0x3p-134f, 0.0f, -INFINITY,
                        NAN, 65536.0f};
    const unsigned vc[8] = {0xBFC0, 0x4040, 0x0000, 0x0002, 0x0000, 0xFF80,
                            0x7FC0, 0x4780};
    write_one(&q, k, v, 1, 8);
    expect_codes(&q, 0, 0, kc, 8);
    expect_codes(&q, 1, 0, vc, 8);
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_f32_unchanged)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_F32, KVA_SCALE_NONE, 3, 2, 2, 3, 1, 0);
    /* F32 ignores every scale field, garbage included. */
    q.c.scales.k_tensor = NAN, q.c.scales.stride_block = -7;
    q.c.scales.k_head = NULL;
    const float k[6] = {1.5f, NAN, -0.0f, 1e-45f, -INFINITY, 3.0f};
    const float v[6] = {-1, -2, -3, -4, -5, -6};
    write_one(&q, k, v, 2, 3);
    for (int h = 0; h < 2; h++)
        for (int d = 0; d < 3; d++) {
            float got;
            memcpy(&got, q.k + 4 * (qc_row(&q, 2, 1, h) + d), 4);
            cr_expect_eq(bits_of(got), bits_of(k[h * 3 + d]));
            memcpy(&got, q.v + 4 * (qc_row(&q, 2, 1, h) + d), 4);
            cr_expect_eq(bits_of(got), bits_of(v[h * 3 + d]));
        }
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_e4m3_tensor_scale)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 3, 2, 1, 8, 0, 0);
    q.c.scales.k_tensor = 2.0f, q.c.scales.v_tensor = 0.5f;
    /* K / 2: 1 (0x38); 500 > 448 and -inf saturate (0x7E, 0xFE); NaN 0x7F;
     * -0 keeps its sign; 1.0625 is the midpoint of 1 (0x38) and 1.125
     * (0x39) -> 0x38; 1.1875 the midpoint of 0x39 and 1.25 (0x3A) ->
     * 0x3A; 2^-10 is half the smallest subnormal 2^-9 -> +0. */
    const float k[8] = {2.0f, 1000.0f, -INFINITY, NAN, -0.0f, 2.125f, 2.375f,
                        0x1p-9f};
    const unsigned kc[8] = {0x38, 0x7E, 0xFE, 0x7F, 0x80, 0x38, 0x3A, 0x00};
    /* V / 0.5: 1; 3*2^-9 subnormal 0x03; -448 0xFE; 464 > 448 -> 0x7E;
     * 480 -> 0x7E; -2^-10 -> -0 (0x80); 3*2^-10 = 1.5 subnormal units ->
     * 2 (0x02); 15 = 1.875 * 2^3 -> e 10, m 7 = 0x57. */
    const float v[8] = {0.5f, 0x3p-10f, -224.0f, 232.0f, 240.0f, -0x1p-11f,
                        0x3p-11f, 7.5f};
    const unsigned vc[8] = {0x38, 0x03, 0xFE, 0x7E, 0x7E, 0x80, 0x02, 0x57};
    write_one(&q, k, v, 1, 8);
    expect_codes(&q, 0, 0, kc, 8);
    expect_codes(&q, 1, 0, vc, 8);
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_e5m2_head_scale)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_FP8_E5M2, KVA_SCALE_HEAD, 3, 2, 2, 8, 1, 0);
    q.k_head[0] = 1.0f, q.k_head[1] = 4.0f;
    q.v_head[0] = 0.25f, q.v_head[1] = 3.0f;
    /* head 0, scale 1: 57344 = 1.75 * 2^15 = 0x7B; 61440 (the midpoint to
     * 2^16) and inf saturate to 0x7B; 2^-16 = 0x01, 2^-17 -> 0; 1.125 is
     * the midpoint of 0x3C and 0x3D -> 0x3C; 1.375 of 0x3D and 0x3E ->
     * 0x3E. head 1, scale 4: 1 -> 0x3C; -2 -> 0xC0; -2.5e8 -> 0xFB;
     * 3*2^-18 = 0.75 units of 2^-16 -> 0x01; 0.25 -> 0x34; 0.75 -> 0x3A;
     * -0 -> 0x80; 25 = 1.5625 * 16 -> nearer 1.5 * 16: 0x4E. */
    const float k[16] = {57344.0f, 61440.0f, INFINITY, NAN, 0x1p-16f,
                         0x1p-17f, 1.125f, 1.375f,
                         4.0f, -8.0f, -1e9f, 0x3p-16f, 1.0f, 3.0f, -0.0f,
                         100.0f};
    const unsigned kc0[8] = {0x7B, 0x7B, 0x7B, 0x7F, 0x01, 0x00, 0x3C, 0x3E};
    const unsigned kc1[8] = {0x3C, 0xC0, 0xFB, 0x01, 0x34, 0x3A, 0x80, 0x4E};
    /* head 0, scale 0.25: 1, -4 (0xC4), 57344, 0, 2 (0x40). head 1, scale
     * 3: 1; fp32(1/3) = 1.333 * 2^-2, nearer 1.25 than 1.5 -> 0x35; -2. */
    const float v[16] = {0.25f, -1.0f, 14336.0f, 0.0f, 0.5f, 0, 0, 0,
                         3.0f, 1.0f, -6.0f, 0, 0, 0, 0, 0};
    const unsigned vc0[8] = {0x3C, 0xC4, 0x7B, 0x00, 0x40, 0, 0, 0};
    const unsigned vc1[8] = {0x3C, 0x35, 0xC0, 0, 0, 0, 0, 0};
    write_one(&q, k, v, 2, 8);
    expect_codes(&q, 0, 0, kc0, 8);
    expect_codes(&q, 0, 1, kc1, 8);
    expect_codes(&q, 1, 0, vc0, 8);
    expect_codes(&q, 1, 1, vc1, 8);
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_int8_token_scale)
{
    qcache q;
    /* padded scale pool: 3 extra floats after each block */
    qc_init(&q, KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 3, 2, 2, 8, 0, 3);
    /* K head 0: amax 63.75 (NaN, inf ignored) -> s = 63.75 / 127.5 = 0.5.
     * t: 127.5 -> RNE 128 -> clamp 127; -127.5 -> -128 (even); 2.5 -> 2;
     * 3.5 -> 4; -2.5 -> -2; NaN -> 0; inf -> 127; -0 -> 0.
     * K head 1: no finite non-zero -> amax 0 -> s = 2^-23; -inf -> -128. */
    const float k[16] = {63.75f, -63.75f, 1.25f, 1.75f, -1.25f, NAN, INFINITY,
                         -0.0f,
                         0.0f, -0.0f, NAN, -INFINITY, 0, 0, 0, 0};
    const unsigned kc0[8] = {0x7F, 0x80, 0x02, 0x04, 0xFE, 0x00, 0x7F, 0x00};
    const unsigned kc1[8] = {0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0};
    /* V head 0: amax 31.875 -> s = 0.25: t 127.5 -> 127; -1.5 -> -2;
     * 0.5 -> 0; 20; -127.5 -> -128; 2.5 -> 2; 3.5 -> 4; fp32(0.3/0.25)
     * = 1.2 -> 1. V head 1: amax 255 -> s = 2: -127.5 -> -128; 0.5 -> 0;
     * 1.5 -> 2; 2.5 -> 2; 3.5 -> 4; -1.5 -> -2; 0; 4.5 -> 4. */
    const float v[16] = {31.875f, -0.375f, 0.125f, 5.0f, -31.875f, 0.625f,
                         0.875f, 0.3f,
                         -255.0f, 1.0f, 3.0f, 5.0f, 7.0f, -3.0f, 0.0f, 9.0f};
    const unsigned vc0[8] = {0x7F, 0xFE, 0x00, 0x14, 0x80, 0x02, 0x04, 0x01};
    const unsigned vc1[8] = {0x80, 0x00, 0x02, 0x02, 0x04, 0xFE, 0x00, 0x04};
    write_one(&q, k, v, 2, 8);
    expect_codes(&q, 0, 0, kc0, 8);
    expect_codes(&q, 0, 1, kc1, 8);
    expect_codes(&q, 1, 0, vc0, 8);
    expect_codes(&q, 1, 1, vc1, 8);
    cr_expect_eq(qc_token_scale(&q, 0, 2, 1, 0), 0.5f);
    cr_expect_eq(qc_token_scale(&q, 0, 2, 1, 1), 0x1p-23f);
    cr_expect_eq(qc_token_scale(&q, 1, 2, 1, 0), 0.25f);
    cr_expect_eq(qc_token_scale(&q, 1, 2, 1, 1), 2.0f);
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_fp8_token_scale)
{
    /* e4m3: amax 1792 = 448 * 4 -> s = 4: 1792 -> 448 (0x7E); -1 ->
     * -0.25 = 2^-2 (e 5: 0xA8); 6 -> 1.5 (0x3C). e5m2: amax 56 = 57344 *
     * 2^-10 -> s = 2^-10: 56 -> 57344 (0x7B); 2^-10 -> 1 (0x3C); -2^-26 ->
     * -2^-16 (0x81). */
    qcache q;
    qc_init(&q, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN, 3, 2, 1, 4, 1, 1);
    const float k[4] = {1792.0f, -1.0f, 6.0f, NAN};
    const unsigned kc[4] = {0x7E, 0xA8, 0x3C, 0x7F};
    write_one(&q, k, k, 1, 4);
    expect_codes(&q, 0, 0, kc, 4);
    expect_codes(&q, 1, 0, kc, 4);
    cr_expect_eq(qc_token_scale(&q, 0, 2, 1, 0), 4.0f);
    cr_expect_eq(qc_token_scale(&q, 1, 2, 1, 0), 4.0f);
    assert_only_slot5(&q);
    qc_free(&q);

    qc_init(&q, KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN, 3, 2, 1, 4, 0, 0);
    const float k2[4] = {56.0f, 0x1p-10f, -0x1p-26f, -INFINITY};
    const unsigned kc2[4] = {0x7B, 0x3C, 0x81, 0xFB};
    write_one(&q, k2, k2, 1, 4);
    expect_codes(&q, 0, 0, kc2, 4);
    cr_expect_eq(qc_token_scale(&q, 0, 2, 1, 0), 0x1p-10f);
    assert_only_slot5(&q);
    qc_free(&q);
}

Test(kernel_quant, write_nvfp4_groups_and_nibbles)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 3, 2, 1, 32, 0, 2);
    q.c.scales.k_tensor = 1.0f; /* K global scale */
    q.c.scales.v_tensor = 4.0f; /* V global scale */
    float k[32] = {0}, v[32] = {0};
    /* K group 0: amax 6 -> e4m3(1 * 6/6) = 1.0 = 0x38, s = 1. Elements:
     * 0.25 -> 0 (tie, even); 0.75 -> 1 (code 2); 1.25 -> 1 (2); 1.75 -> 2
     * (4); 2.5 -> 2 (4); 3.5 -> 4 (6); 5 -> 4 (6); 6 (7); -0 (8); -0.25
     * -> -0 (8); NaN -> +0 (0); inf -> 6 (7); -inf -> -6 (F); -3 (D); 0.5
     * (1); -1.5 (B). Even d in the low nibble. */
    const float g0[16] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f,
                          -0.0f, -0.25f, NAN, INFINITY, -INFINITY, -3.0f,
                          0.5f, -1.5f};
    memcpy(k, g0, sizeof g0);
    /* K group 1: amax 12 -> e4m3(2) = 0x40, s = 2: 12 -> 6 (7), 1 -> 0.5
     * (1), -2.5 -> -1.25 -> -1 (A), zeros. */
    k[16] = 12.0f, k[17] = 1.0f, k[18] = -2.5f;
    /* V group 0, g = 4: amax 3 -> e4m3(4 * 0.5) = 0x40, s = 2 / 4 = 0.5:
     * 3 -> 6 (7), 0.25 -> 0.5 (1), -0.375 -> -0.75 -> -1 (A), 0.125 ->
     * 0.25 -> 0. V group 1: all zero -> e4m3 0 replaced by 0x01; -0 keeps
     * its sign (8). */
    v[0] = 3.0f, v[1] = 0.25f, v[2] = -0.375f, v[3] = 0.125f;
    v[17] = -0.0f;
    write_one(&q, k, v, 1, 32);

    const uint8_t kb[16] = {0x20, 0x42, 0x64, 0x76, 0x88, 0x70, 0xDF, 0xB1,
                            0x17, 0x0A, 0, 0, 0, 0, 0, 0};
    const uint8_t vb[16] = {0x17, 0x0A, 0, 0, 0, 0, 0, 0,
                            0x80, 0, 0, 0, 0, 0, 0, 0};
    const int64_t off = qc_row(&q, 2, 1, 0);
    for (int i = 0; i < 16; i++) {
        cr_expect_eq(q.k[off + i], kb[i], "K byte %d: 0x%02x, want 0x%02x", i,
                     q.k[off + i], kb[i]);
        cr_expect_eq(q.v[off + i], vb[i], "V byte %d: 0x%02x, want 0x%02x", i,
                     q.v[off + i], vb[i]);
    }
    cr_expect_eq(qc_group_code(&q, 0, 2, 1, 0, 0), 0x38);
    cr_expect_eq(qc_group_code(&q, 0, 2, 1, 0, 1), 0x40);
    cr_expect_eq(qc_group_code(&q, 1, 2, 1, 0, 0), 0x40);
    cr_expect_eq(qc_group_code(&q, 1, 2, 1, 0, 1), 0x01);
    assert_only_slot5(&q);
    qc_free(&q);
}

/* The NVFP4 row is D/2 units: NHD rows D/2 apart, a pool of exactly
 * blocks * B * H * D/2 bytes, are accepted. */
Test(kernel_quant, nvfp4_rows_are_half_head_dim_units)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 3, 2, 2, 16, 0, 0);
    cr_assert_eq(q.c.stride_head, 8);
    cr_assert_eq(q.c.pool_elems, 3 * 2 * 2 * 8);
    float k[32], v[32];
    for (int i = 0; i < 32; i++)
        k[i] = (float)(i % 7) - 3.0f, v[i] = (float)(i % 5);
    write_one(&q, k, v, 2, 16);
    assert_only_slot5(&q);
    q.c.pool_elems -= 1;
    write_refused(&q, k, v, (const int64_t[]){5}, 1, KVA_ERR_SHAPE,
                  "pool_elems 95", NULL);
    q.c.pool_elems += 1;
    q.c.stride_head = 7;
    write_refused(&q, k, v, (const int64_t[]){5}, 1, KVA_ERR_SHAPE,
                  "overlap", "stride_head 7");
    qc_free(&q);
}

/* ======================================================================
 * Refusals of a cache description
 * ====================================================================== */

/* A 2-head, D-16 cache of dtype/kind, the write of one token to slot 5 is
 * refused with want and the needles, nothing written. */
typedef void (*qc_mutate)(qcache *q);

static void refuse_case(kva_dtype dt, kva_scale_kind kind, int D,
                        qc_mutate mutate, kva_status want,
                        const char *needle1, const char *needle2)
{
    qcache q;
    const int Dinit = D % 16 == 0 ? D : 16;
    qc_init(&q, (unsigned)dt > KVA_DTYPE_NVFP4 ? KVA_DTYPE_F32 : dt,
            (unsigned)kind > KVA_SCALE_GROUP ? KVA_SCALE_NONE : kind, 3, 2, 2,
            Dinit, 0, 0);
    q.c.dtype = dt, q.c.scales.kind = kind, q.c.head_dim = D;
    if (mutate)
        mutate(&q);
    float k[64], v[64];
    for (int i = 0; i < 64; i++)
        k[i] = (float)i, v[i] = (float)-i;
    const int64_t slot = 5;
    write_refused(&q, k, v, &slot, 1, want, needle1, needle2);
    qc_free(&q);
}

Test(kernel_quant, refuses_unknown_dtype)
{
    refuse_case((kva_dtype)99, KVA_SCALE_NONE, 16, NULL, KVA_ERR_FORMAT,
                "dtype 99", "unknown");
    refuse_case((kva_dtype)-1, KVA_SCALE_NONE, 16, NULL, KVA_ERR_FORMAT,
                "dtype -1", "unknown");
}

Test(kernel_quant, refuses_unknown_kind)
{
    refuse_case(KVA_DTYPE_F32, (kva_scale_kind)5, 16, NULL, KVA_ERR_FORMAT,
                "kind 5", "unknown");
    refuse_case(KVA_DTYPE_FP8_E4M3, (kva_scale_kind)-3, 16, NULL,
                KVA_ERR_FORMAT, "kind -3", "unknown");
}

Test(kernel_quant, refuses_kind_the_dtype_does_not_take)
{
    static const struct {
        kva_dtype dt;
        kva_scale_kind kind;
        const char *dn, *kn;
    } bad[] = {
        /* the message names both: "kind K is not valid for dtype D" */
        {KVA_DTYPE_F32, KVA_SCALE_TENSOR, "F32", "TENSOR"},
        {KVA_DTYPE_F32, KVA_SCALE_GROUP, "F32", "GROUP"},
        {KVA_DTYPE_F16, KVA_SCALE_TOKEN, "F16", "TOKEN"},
        {KVA_DTYPE_BF16, KVA_SCALE_HEAD, "BF16", "HEAD"},
        {KVA_DTYPE_FP8_E4M3, KVA_SCALE_NONE, "FP8_E4M3", "NONE"},
        {KVA_DTYPE_FP8_E5M2, KVA_SCALE_GROUP, "FP8_E5M2", "GROUP"},
        {KVA_DTYPE_INT8, KVA_SCALE_NONE, "INT8", "NONE"},
        {KVA_DTYPE_INT8, KVA_SCALE_GROUP, "INT8", "GROUP"},
        {KVA_DTYPE_NVFP4, KVA_SCALE_NONE, "NVFP4", "NONE"},
        {KVA_DTYPE_NVFP4, KVA_SCALE_TENSOR, "NVFP4", "TENSOR"},
        {KVA_DTYPE_NVFP4, KVA_SCALE_HEAD, "NVFP4", "HEAD"},
        {KVA_DTYPE_NVFP4, KVA_SCALE_TOKEN, "NVFP4", "TOKEN"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[96];
        snprintf(want, sizeof want, "kind %s is not valid for dtype %s",
                 bad[i].kn, bad[i].dn);
        refuse_case(bad[i].dt, bad[i].kind, 16, NULL, KVA_ERR_FORMAT, want,
                    NULL);
    }
}

Test(kernel_quant, accepts_every_valid_pair)
{
    static const struct {
        kva_dtype dt;
        kva_scale_kind kind;
    } ok[] = {
        {KVA_DTYPE_F32, KVA_SCALE_NONE},      {KVA_DTYPE_F16, KVA_SCALE_NONE},
        {KVA_DTYPE_BF16, KVA_SCALE_NONE},     {KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR},
        {KVA_DTYPE_FP8_E4M3, KVA_SCALE_HEAD}, {KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN},
        {KVA_DTYPE_FP8_E5M2, KVA_SCALE_TENSOR}, {KVA_DTYPE_FP8_E5M2, KVA_SCALE_HEAD},
        {KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN}, {KVA_DTYPE_INT8, KVA_SCALE_TENSOR},
        {KVA_DTYPE_INT8, KVA_SCALE_HEAD},     {KVA_DTYPE_INT8, KVA_SCALE_TOKEN},
        {KVA_DTYPE_NVFP4, KVA_SCALE_GROUP},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        qcache q;
        qc_init(&q, ok[i].dt, ok[i].kind, 3, 2, 2, 16, (int)i % 2, (int)i % 3);
        float k[32], v[32];
        for (int j = 0; j < 32; j++)
            k[j] = (float)j, v[j] = (float)-j;
        write_one(&q, k, v, 2, 16);
        assert_only_slot5(&q);
        qc_free(&q);
    }
}

static void set_k_tensor_0(qcache *q) { q->c.scales.k_tensor = 0.0f; }
static void set_k_tensor_neg(qcache *q) { q->c.scales.k_tensor = -1.0f; }
static void set_k_tensor_nan(qcache *q) { q->c.scales.k_tensor = NAN; }
static void set_v_tensor_inf(qcache *q) { q->c.scales.v_tensor = INFINITY; }
static void set_v_tensor_ninf(qcache *q) { q->c.scales.v_tensor = -INFINITY; }
static void set_k_head_null(qcache *q) { q->c.scales.k_head = NULL; }
static void set_v_head_null(qcache *q) { q->c.scales.v_head = NULL; }
static void set_k_head1_zero(qcache *q) { q->k_head[1] = 0.0f; }
static void set_v_head0_nan(qcache *q) { q->v_head[0] = NAN; }
static void set_v_head1_inf(qcache *q) { q->v_head[1] = INFINITY; }

Test(kernel_quant, refuses_bad_static_scales)
{
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 16, set_k_tensor_0,
                KVA_ERR_FORMAT, "k_tensor 0", "finite and > 0");
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_TENSOR, 16, set_k_tensor_neg,
                KVA_ERR_FORMAT, "k_tensor -1", NULL);
    refuse_case(KVA_DTYPE_FP8_E5M2, KVA_SCALE_TENSOR, 16, set_k_tensor_nan,
                KVA_ERR_FORMAT, "k_tensor nan", NULL);
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 16, set_v_tensor_inf,
                KVA_ERR_FORMAT, "v_tensor inf", NULL);
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_HEAD, 16, set_k_head1_zero,
                KVA_ERR_FORMAT, "k_head[1] 0", "finite and > 0");
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_HEAD, 16, set_v_head0_nan,
                KVA_ERR_FORMAT, "v_head[0] nan", NULL);
    refuse_case(KVA_DTYPE_FP8_E5M2, KVA_SCALE_HEAD, 16, set_v_head1_inf,
                KVA_ERR_FORMAT, "v_head[1] inf", NULL);
    /* NVFP4 global scales */
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 16, set_k_tensor_0,
                KVA_ERR_FORMAT, "k_tensor 0", "global scale");
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 16, set_v_tensor_ninf,
                KVA_ERR_FORMAT, "v_tensor -inf", NULL);
    /* unused by TOKEN: accepted (covered by accepts_every_valid_pair with
     * tensor 1; here garbage) */
    qcache q;
    qc_init(&q, KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 3, 2, 2, 16, 0, 0);
    q.c.scales.k_tensor = NAN, q.c.scales.k_head = NULL;
    float k[32] = {0}, v[32] = {0};
    write_one(&q, k, v, 2, 16);
    qc_free(&q);
}

Test(kernel_quant, refuses_null_head_arrays)
{
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_HEAD, 16, set_k_head_null,
                KVA_ERR_NULL, "k_head", "NULL");
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_HEAD, 16, set_v_head_null,
                KVA_ERR_NULL, "v_head", "NULL");
}

Test(kernel_quant, refuses_nvfp4_head_dim)
{
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 24, NULL, KVA_ERR_FORMAT,
                "head_dim 24", "multiple of 16");
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 8, NULL, KVA_ERR_FORMAT,
                "head_dim 8", "multiple of 16");
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 17, NULL, KVA_ERR_FORMAT,
                "head_dim 17", "multiple of 16");
}

static void set_k_pool_null(qcache *q) { q->c.scales.k_pool = NULL; }
static void set_v_pool_null(qcache *q) { q->c.scales.v_pool = NULL; }
static void set_sstride_slot_neg(qcache *q) { q->c.scales.stride_slot = -1; }
static void set_sstride_block_neg(qcache *q) { q->c.scales.stride_block = -8; }
static void set_sstride_head_zero(qcache *q) { q->c.scales.stride_head = 0; }
static void set_spool_short(qcache *q) { q->c.scales.pool_units -= 1; }
static void set_sstride_huge(qcache *q)
{
    q->c.scales.stride_block = INT64_MAX / 2;
}
/* GROUP rows of D/16 = 2 codes: heads 1 apart overlap */
static void set_sstride_head_one(qcache *q) { q->c.scales.stride_head = 1; }

Test(kernel_quant, refuses_bad_scale_pools)
{
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 16, set_k_pool_null,
                KVA_ERR_NULL, "k_pool", "NULL");
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN, 16, set_v_pool_null,
                KVA_ERR_NULL, "v_pool", NULL);
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 16, set_k_pool_null,
                KVA_ERR_NULL, "k_pool", NULL);
    refuse_case(KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN, 16, set_sstride_slot_neg,
                KVA_ERR_SHAPE, "scales.stride_slot -1", "negative");
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 16, set_sstride_block_neg,
                KVA_ERR_SHAPE, "scales.stride_block -8", NULL);
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 16, set_sstride_head_zero,
                KVA_ERR_SHAPE, "overlap", "scales.stride_head 0");
    /* pool of 3*2*2 floats, one short */
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 16, set_spool_short,
                KVA_ERR_SHAPE, "scales.pool_units 11", "too small");
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN, 16, set_sstride_huge,
                KVA_ERR_SHAPE, "overflows int64", NULL);
    /* 32 dims: 2 group codes per row */
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 32, set_sstride_head_one,
                KVA_ERR_SHAPE, "overlap", "scales.stride_head 1");
    /* 3 blocks x 2 slots x 2 heads x 2 codes = 24, one short */
    refuse_case(KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 32, set_spool_short,
                KVA_ERR_SHAPE, "scales.pool_units 23", NULL);
}

/* A K/V problem the format does not hide: the usual refusals still come. */
static void set_stride_head_neg(qcache *q) { q->c.stride_head = -2; }
static void set_k_null(qcache *q) { q->c.k = NULL; }

Test(kernel_quant, kv_pool_checks_still_apply)
{
    refuse_case(KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 16, set_stride_head_neg,
                KVA_ERR_SHAPE, "stride_head -2", NULL);
    refuse_case(KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 16, set_k_null, KVA_ERR_NULL,
                "cache->k", NULL);
}

/* Scale pools sized exactly by their strides are accepted; a pool that
 * would be too small for the F32 rows is fine for 1-byte rows. */
Test(kernel_quant, exact_pools_accepted)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN, 3, 2, 2, 16, 1, 5);
    /* (3-1)*(2*2+5) + (2-1)*2 + (2-1)*1 + 1 = 22 floats */
    cr_assert_eq(q.c.scales.pool_units, 22);
    float k[32], v[32];
    for (int i = 0; i < 32; i++)
        k[i] = (float)i, v[i] = (float)-i;
    write_one(&q, k, v, 2, 16);
    assert_only_slot5(&q);
    qc_free(&q);
}

/* ======================================================================
 * Attention over a quantized cache
 * ====================================================================== */

/*
 * Hq 4, Hkv 2, D 32, B 4, 6 blocks. Sequence 0: ctx 5 + q 2 (seq_len 7,
 * blocks {3, 1}); sequence 1: ctx 8 + q 1 (seq_len 9, blocks {4, 5, 2}).
 * Every position of both sequences is written (16 tokens); three query
 * tokens and one padding token.
 */
enum { AHQ = 4, AHKV = 2, AD = 32, AB = 4, ANB = 6, AS = 2, AMB = 3, ANT = 4 };
static const int a_seq_len[AS] = {7, 9};
static const int a_q_len[AS] = {2, 1};
static const int a_table[AS * AMB] = {3, 1, -1, 4, 5, 2};

typedef struct qconf {
    kva_dtype dt;
    kva_scale_kind kind;
    float kt, vt; /* tensor / global scales */
} qconf;

static const qconf CONFS[] = {
    {KVA_DTYPE_F16, KVA_SCALE_NONE, 0, 0},
    {KVA_DTYPE_BF16, KVA_SCALE_NONE, 0, 0},
    {KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 0.05f, 0.3f},
    {KVA_DTYPE_FP8_E4M3, KVA_SCALE_HEAD, 0.05f, 0.3f},
    {KVA_DTYPE_FP8_E4M3, KVA_SCALE_TOKEN, 0, 0},
    {KVA_DTYPE_FP8_E5M2, KVA_SCALE_TENSOR, 1.7f, 0.001f},
    {KVA_DTYPE_FP8_E5M2, KVA_SCALE_TOKEN, 0, 0},
    {KVA_DTYPE_INT8, KVA_SCALE_TENSOR, 0.07f, 0.11f},
    {KVA_DTYPE_INT8, KVA_SCALE_HEAD, 0.07f, 0.11f},
    {KVA_DTYPE_INT8, KVA_SCALE_TOKEN, 0, 0},
    {KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 300.0f, 0.7f},
};

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Deterministic K/V: mostly in [-3, 3], one element in 11 twenty times
 * larger (saturation for the static scales), a few exact zeros. */
static float kv_value(uint32_t *s)
{
    const uint32_t r = lcg(s);
    float x = ((float)(r % 60001u) / 10000.0f) - 3.0f;
    if (r % 11u == 0)
        x *= 20.0f;
    if (r % 37u == 0)
        x = 0.0f;
    return x;
}

/* Write every position of both sequences through the write table. */
static void att_fill(const qcache *q, uint32_t seed)
{
    const int n = a_seq_len[0] + a_seq_len[1];
    float *k = malloc(sizeof(float) * n * AHKV * AD);
    float *v = malloc(sizeof(float) * n * AHKV * AD);
    int64_t slots[16];
    int t = 0;
    for (int s = 0; s < AS; s++)
        for (int p = 0; p < a_seq_len[s]; p++, t++)
            slots[t] = (int64_t)a_table[s * AMB + p / AB] * AB + p % AB;
    for (int i = 0; i < n * AHKV * AD; i++)
        k[i] = kv_value(&seed), v[i] = kv_value(&seed);
    write_ok(q, k, v, slots, n);
    free(k), free(v);
}

/* An F32 NHD cache of the same shape holding every row's stored values. */
typedef struct f32cache {
    float k[ANB * AB * AHKV * AD], v[ANB * AB * AHKV * AD];
    kva_paged_cache c;
} f32cache;

static void f32_from(f32cache *f, const qcache *q)
{
    memset(&f->c, 0, sizeof f->c);
    f->c.k = f->k, f->c.v = f->v;
    f->c.pool_elems = ANB * AB * AHKV * AD;
    f->c.num_blocks = ANB, f->c.block_size = AB, f->c.num_kv_heads = AHKV;
    f->c.head_dim = AD;
    f->c.stride_block = AB * AHKV * AD, f->c.stride_slot = AHKV * AD;
    f->c.stride_head = AD;
    for (int b = 0; b < ANB; b++)
        for (int t = 0; t < AB; t++)
            for (int h = 0; h < AHKV; h++)
                for (int d = 0; d < AD; d++) {
                    const int64_t o = b * f->c.stride_block +
                                      t * f->c.stride_slot +
                                      h * f->c.stride_head + d;
                    f->k[o] = qc_stored(q, 0, b, t, h, d);
                    f->v[o] = qc_stored(q, 1, b, t, h, d);
                }
}

typedef struct att_run {
    kva_attn_params p;
    int64_t qsl[AS + 1];
    int seq_lens[AS];
    int table[AS * AMB];
    const uint8_t *masks[AS];
    uint8_t mask0[2 * 7];
    kva_paged_batch b;
    float q[ANT * AHQ * AD];
} att_run;

/* variant 0: causal. variant 1: causal, window 2, softcap 5, a mask on
 * sequence 0, block 0 of sequence 1 freed (-1). */
static void att_setup(att_run *r, int variant)
{
    memset(r, 0, sizeof *r);
    r->p = (kva_attn_params){.num_q_heads = AHQ, .num_kv_heads = AHKV,
                             .head_dim = AD, .scale = 0.17677669f,
                             .softcap = variant ? 5.0f : 0.0f, .causal = 1,
                             .window_left = variant ? 2 : -1};
    r->qsl[0] = 0, r->qsl[1] = a_q_len[0], r->qsl[2] = a_q_len[0] + a_q_len[1];
    r->seq_lens[0] = a_seq_len[0], r->seq_lens[1] = a_seq_len[1];
    memcpy(r->table, a_table, sizeof r->table);
    if (variant) {
        r->table[AMB + 0] = -1; /* positions 0..3 of seq 1: out of window */
        /* query rows at positions 5, 6; key 4 masked for both, key 3
         * masked for the first */
        for (int i = 0; i < 14; i++)
            r->mask0[i] = 1;
        r->mask0[0 * 7 + 4] = r->mask0[1 * 7 + 4] = 0;
        r->mask0[0 * 7 + 3] = 0;
        r->masks[0] = r->mask0, r->masks[1] = NULL;
    }
    r->b = (kva_paged_batch){.num_seqs = AS, .query_start_loc = r->qsl,
                             .seq_lens = r->seq_lens, .block_table = r->table,
                             .max_blocks_per_seq = AMB,
                             .masks = variant ? r->masks : NULL};
    uint32_t seed = 77;
    for (int i = 0; i < ANT * AHQ * AD; i++)
        r->q[i] = (float)(lcg(&seed) % 2001u) / 1000.0f - 1.0f;
}

static void run_paged(const att_run *r, const kva_paged_cache *c, float *out,
                      float *lse)
{
    memset(out, POISON, sizeof(float) * ANT * AHQ * AD);
    memset(lse, POISON, sizeof(float) * ANT * AHQ);
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = kva_paged_attention(&r->p, c, &r->b, r->q, ANT, out, lse,
                                        &err);
    cr_assert_eq(st, KVA_OK, "%s: %s", kva_status_name(st), err.msg);
}

/* Overwrite row (b, t, *) of K and V with codes that decode to NaN (or,
 * for INT8 with static scales, to the largest magnitude), and its scales
 * with NaN (TOKEN) or the e4m3 NaN code (GROUP). */
static void poison_row(qcache *q, int64_t b, int t)
{
    const kva_paged_cache *c = &q->c;
    for (int h = 0; h < AHKV; h++) {
        const int64_t off = qc_row(q, b, t, h);
        for (int is_v = 0; is_v < 2; is_v++) {
            uint8_t *p = is_v ? q->v : q->k;
            for (int64_t i = 0; i < q->row_units; i++) {
                switch (c->dtype) {
                case KVA_DTYPE_F16: {
                    const uint16_t nan16 = 0x7E00;
                    memcpy(p + 2 * (off + i), &nan16, 2);
                    break;
                }
                case KVA_DTYPE_BF16: {
                    const uint16_t nan16 = 0x7FC0;
                    memcpy(p + 2 * (off + i), &nan16, 2);
                    break;
                }
                case KVA_DTYPE_INT8: p[off + i] = 0x7F; break;
                case KVA_DTYPE_NVFP4: p[off + i] = 0x77; break;
                default: p[off + i] = 0x7F; break; /* fp8 NaN */
                }
            }
            if (c->scales.kind == KVA_SCALE_TOKEN) {
                const float nan = NAN;
                memcpy((is_v ? q->vs : q->ks) + 4 * qc_srow(q, b, t, h), &nan,
                       4);
            } else if (c->scales.kind == KVA_SCALE_GROUP) {
                for (int g = 0; g < AD / 16; g++)
                    (is_v ? q->vs : q->ks)[qc_srow(q, b, t, h) + g] = 0x7F;
            }
        }
    }
}

static void check_paged_equals_f32(const qconf *cf, int variant)
{
    qcache q;
    qc_init(&q, cf->dt, cf->kind, ANB, AB, AHKV, AD, 1, 3);
    q.c.scales.k_tensor = cf->kt, q.c.scales.v_tensor = cf->vt;
    q.k_head[0] = cf->kt, q.k_head[1] = cf->kt * 3.0f;
    q.v_head[0] = cf->vt * 0.5f, q.v_head[1] = cf->vt;
    att_fill(&q, 1234u + (uint32_t)cf->dt * 10u + (uint32_t)cf->kind);
    static f32cache f;
    f32_from(&f, &q);

    att_run r;
    att_setup(&r, variant);
    if (variant) {
        /* Never read: block 4 (freed, -1 in the table); sequence 0
         * positions 0..2 (below every window), 3 (inside the first
         * query's window but masked for it, below the second's) and 4
         * (masked for both queries): block 3 slots 0..3 and block 1 slot
         * 0; sequence 1 positions 4, 5 (below the window): block 5 slots
         * 0, 1. */
        for (int t = 0; t < AB; t++)
            poison_row(&q, 4, t);
        for (int t = 0; t < AB; t++)
            poison_row(&q, 3, t);
        poison_row(&q, 1, 0);
        poison_row(&q, 5, 0);
        poison_row(&q, 5, 1);
    }

    float out_q[ANT * AHQ * AD], lse_q[ANT * AHQ];
    float out_f[ANT * AHQ * AD], lse_f[ANT * AHQ];
    run_paged(&r, &q.c, out_q, lse_q);
    run_paged(&r, &f.c, out_f, lse_f);
    for (int i = 0; i < 3 * AHQ * AD; i++)
        cr_assert(isfinite(out_q[i]), "dtype %d kind %d: out[%d] = %g", cf->dt,
                  cf->kind, i, (double)out_q[i]);
    for (int i = 0; i < ANT * AHQ * AD; i++)
        cr_assert_eq(bits_of(out_q[i]), bits_of(out_f[i]),
                     "dtype %d kind %d variant %d: out[%d] %a != f32 %a",
                     cf->dt, cf->kind, variant, i, (double)out_q[i],
                     (double)out_f[i]);
    for (int i = 0; i < ANT * AHQ; i++)
        cr_assert_eq(bits_of(lse_q[i]), bits_of(lse_f[i]),
                     "dtype %d kind %d variant %d: lse[%d] %a != f32 %a",
                     cf->dt, cf->kind, variant, i, (double)lse_q[i],
                     (double)lse_f[i]);
    qc_free(&q);
}

Test(kernel_quant, paged_equals_f32_of_stored_values)
{
    for (size_t i = 0; i < sizeof CONFS / sizeof CONFS[0]; i++)
        check_paged_equals_f32(&CONFS[i], 0);
}

Test(kernel_quant, paged_window_mask_never_reads_hidden_rows)
{
    for (size_t i = 0; i < sizeof CONFS / sizeof CONFS[0]; i++)
        check_paged_equals_f32(&CONFS[i], 1);
}

/* ---- guard pages: hidden rows are never touched ----------------------
 * The attention fixture again, each (block, slot) in a page of its own in
 * every pool (K, V, and the scale pools), so the rows a query must not
 * read can be made PROT_NONE: touching one, K or V or scale, crashes the
 * test. */

static uint8_t *map_pool(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(p != MAP_FAILED, "mmap of %zu bytes", bytes);
    memset(p, POISON, bytes);
    return p;
}

static void qc_init_guarded(qcache *q, kva_dtype dt, kva_scale_kind kind)
{
    memset(q, 0, sizeof *q);
    const int64_t page = sysconf(_SC_PAGESIZE);
    const int64_t ub = unit_bytes(dt);
    const int64_t R = dt == KVA_DTYPE_NVFP4 ? AD / 2 : AD;
    kva_paged_cache *c = &q->c;
    q->mapped = 1;
    q->row_units = R;
    c->num_blocks = ANB, c->block_size = AB, c->num_kv_heads = AHKV;
    c->head_dim = AD, c->dtype = dt;
    c->stride_head = R, c->stride_slot = page / ub;
    c->stride_block = AB * c->stride_slot;
    c->pool_elems = ANB * c->stride_block;
    q->kv_bytes = (size_t)(c->pool_elems * ub);
    q->k = map_pool(q->kv_bytes), q->v = map_pool(q->kv_bytes);
    c->k = q->k, c->v = q->v;
    kva_kv_scales *s = &c->scales;
    s->kind = kind;
    s->k_head = q->k_head, s->v_head = q->v_head;
    if (kind == KVA_SCALE_TOKEN || kind == KVA_SCALE_GROUP) {
        const int64_t SR = kind == KVA_SCALE_GROUP ? AD / 16 : 1;
        const int64_t sub = kind == KVA_SCALE_GROUP ? 1 : 4;
        q->srow_units = SR;
        s->stride_head = SR, s->stride_slot = page / sub;
        s->stride_block = AB * s->stride_slot;
        s->pool_units = ANB * s->stride_block;
        q->s_bytes = (size_t)(s->pool_units * sub);
        q->ks = map_pool(q->s_bytes), q->vs = map_pool(q->s_bytes);
        s->k_pool = q->ks, s->v_pool = q->vs;
    }
}

/* Make the page of (block b, slot t) inaccessible in every pool. */
static void guard_row(qcache *q, int64_t b, int t)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t at = (size_t)(b * AB + t) * page;
    cr_assert_eq(mprotect(q->k + at, page, PROT_NONE), 0);
    cr_assert_eq(mprotect(q->v + at, page, PROT_NONE), 0);
    if (q->s_bytes) {
        cr_assert_eq(mprotect(q->ks + at, page, PROT_NONE), 0);
        cr_assert_eq(mprotect(q->vs + at, page, PROT_NONE), 0);
    }
}

Test(kernel_quant, hidden_rows_never_touched_guard_pages)
{
    for (size_t i = 0; i < sizeof CONFS / sizeof CONFS[0]; i++) {
        const qconf *cf = &CONFS[i];
        qcache q;
        qc_init_guarded(&q, cf->dt, cf->kind);
        q.c.scales.k_tensor = cf->kt, q.c.scales.v_tensor = cf->vt;
        q.k_head[0] = cf->kt, q.k_head[1] = cf->kt * 3.0f;
        q.v_head[0] = cf->vt * 0.5f, q.v_head[1] = cf->vt;
        att_fill(&q, 555u + (uint32_t)i);
        static f32cache f;
        f32_from(&f, &q);
        /* the rows of paged_window_mask_never_reads_hidden_rows */
        for (int t = 0; t < AB; t++)
            guard_row(&q, 4, t), guard_row(&q, 3, t);
        guard_row(&q, 1, 0);
        guard_row(&q, 5, 0), guard_row(&q, 5, 1);

        att_run r;
        att_setup(&r, 1);
        float out_q[ANT * AHQ * AD], lse_q[ANT * AHQ];
        float out_f[ANT * AHQ * AD], lse_f[ANT * AHQ];
        run_paged(&r, &q.c, out_q, lse_q);
        run_paged(&r, &f.c, out_f, lse_f);
        cr_assert(memcmp(out_q, out_f, sizeof out_q) == 0,
                  "dtype %d kind %d: out differs from F32", cf->dt, cf->kind);
        cr_assert(memcmp(lse_q, lse_f, sizeof lse_q) == 0,
                  "dtype %d kind %d: lse differs from F32", cf->dt, cf->kind);
        qc_free(&q);
    }
}

/* The stored values are what the attention reads: a one-key sequence
 * returns V's stored row and lse = scale * q.k of the stored K. */
Test(kernel_quant, one_key_returns_the_stored_v)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 1, 1, 1, 4, 0, 0);
    q.c.scales.k_tensor = 0.5f, q.c.scales.v_tensor = 0.25f;
    /* K / 0.5 = {2, 0, 0, 0}: stored {1, 0, 0, 0}. V / 0.25 = {4, -1.0625
     * (-> -1, tie to even), 500 (-> 448), 2^-11 (-> 0)}: stored {1, -0.25,
     * 112, 0}. */
    const float k[4] = {1.0f, 0.0f, 0.0f, 0.0f};
    const float v[4] = {1.0f, -0.265625f, 125.0f, 0x1p-13f};
    const int64_t slot = 0;
    write_ok(&q, k, v, &slot, 1);
    const kva_attn_params p = {.num_q_heads = 1, .num_kv_heads = 1,
                               .head_dim = 4, .scale = 1.0f, .causal = 1,
                               .window_left = -1};
    const int64_t qsl[2] = {0, 1};
    const int seq_len = 1, table = 0;
    const kva_paged_batch b = {.num_seqs = 1, .query_start_loc = qsl,
                               .seq_lens = &seq_len, .block_table = &table,
                               .max_blocks_per_seq = 1};
    const float qv[4] = {3.0f, 5.0f, 7.0f, 9.0f};
    float out[4], lse;
    kva_error err;
    cr_assert_eq(kva_paged_attention(&p, &q.c, &b, qv, 1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    cr_expect_eq(out[0], 1.0f);
    cr_expect_eq(out[1], -0.25f);
    cr_expect_eq(out[2], 112.0f);
    cr_expect_eq(out[3], 0.0f);
    cr_expect_eq(lse, 3.0f);
    qc_free(&q);
}

/* ---- blocked attention ------------------------------------------------- */

/*
 * The same two sequences in a blocked cache [S][Hkv][CL = 12][R], written
 * with kva_cache_write through its paged view (num_blocks = S, block_size
 * = CL, HND strides). Blocked attention with 3 KV blocks reduces tiles of
 * 4 positions, exactly the paged cache's blocks of 4: the same partition,
 * so the same arithmetic and the same bits.
 */
enum { BCL = 12, BNKB = 3 };

static void check_blocked(const qconf *cf)
{
    const int64_t R = cf->dt == KVA_DTYPE_NVFP4 ? AD / 2 : AD;
    const int64_t ub = unit_bytes(cf->dt);
    qcache bq;
    /* 2 "blocks" (sequences) of 12 slots; HND K/V; scale pool NHD-padded */
    qc_init(&bq, cf->dt, cf->kind, AS, BCL, AHKV, AD, 1, 7);
    cr_assert_eq(bq.c.stride_block, AHKV * BCL * R);
    cr_assert_eq(bq.c.stride_head, BCL * R);
    cr_assert_eq((int64_t)bq.kv_bytes, AS * AHKV * BCL * R * ub);
    bq.c.scales.k_tensor = cf->kt, bq.c.scales.v_tensor = cf->vt;
    bq.k_head[0] = cf->kt, bq.k_head[1] = cf->kt * 3.0f;
    bq.v_head[0] = cf->vt * 0.5f, bq.v_head[1] = cf->vt;

    qcache pq;
    qc_init(&pq, cf->dt, cf->kind, ANB, AB, AHKV, AD, 0, 0);
    pq.c.scales.k_tensor = cf->kt, pq.c.scales.v_tensor = cf->vt;
    memcpy(pq.k_head, bq.k_head, sizeof pq.k_head);
    memcpy(pq.v_head, bq.v_head, sizeof pq.v_head);

    /* the same K/V into both */
    const int n = a_seq_len[0] + a_seq_len[1];
    float *k = malloc(sizeof(float) * n * AHKV * AD);
    float *v = malloc(sizeof(float) * n * AHKV * AD);
    int64_t pslots[16], bslots[16];
    uint32_t seed = 99u + (uint32_t)cf->dt;
    for (int i = 0; i < n * AHKV * AD; i++)
        k[i] = kv_value(&seed), v[i] = kv_value(&seed);
    int t = 0;
    for (int s = 0; s < AS; s++)
        for (int p = 0; p < a_seq_len[s]; p++, t++) {
            pslots[t] = (int64_t)a_table[s * AMB + p / AB] * AB + p % AB;
            bslots[t] = (int64_t)s * BCL + p;
        }
    write_ok(&pq, k, v, pslots, n);
    write_ok(&bq, k, v, bslots, n);
    free(k), free(v);

    att_run r;
    att_setup(&r, 0);
    const kva_blocked_cache bc = {
        .k = bq.k, .v = bq.v, .num_seqs = AS, .num_kv_heads = AHKV,
        .cache_len = BCL, .head_dim = AD, .dtype = cf->dt,
        .scales = bq.c.scales};
    float out_b[ANT * AHQ * AD], lse_b[ANT * AHQ];
    float out_p[ANT * AHQ * AD], lse_p[ANT * AHQ];
    memset(out_b, POISON, sizeof out_b), memset(lse_b, POISON, sizeof lse_b);
    kva_error err;
    kva_status st = kva_blocked_attention(&r.p, &bc, BNKB, AS, r.qsl,
                                          r.seq_lens, NULL, r.q, ANT, out_b,
                                          lse_b, &err);
    cr_assert_eq(st, KVA_OK, "%s: %s", kva_status_name(st), err.msg);
    run_paged(&r, &pq.c, out_p, lse_p);
    cr_assert(memcmp(out_b, out_p, sizeof out_b) == 0,
              "dtype %d kind %d: blocked out differs from paged", cf->dt,
              cf->kind);
    cr_assert(memcmp(lse_b, lse_p, sizeof lse_b) == 0,
              "dtype %d kind %d: blocked lse differs from paged", cf->dt,
              cf->kind);

    /* and the blocked cache's stored values in an F32 blocked cache */
    float *fk = malloc(sizeof(float) * AS * AHKV * BCL * AD);
    float *fv = malloc(sizeof(float) * AS * AHKV * BCL * AD);
    for (int s = 0; s < AS; s++)
        for (int h = 0; h < AHKV; h++)
            for (int p = 0; p < BCL; p++)
                for (int d = 0; d < AD; d++) {
                    const int64_t o = (((int64_t)s * AHKV + h) * BCL + p) * AD + d;
                    fk[o] = qc_stored(&bq, 0, s, p, h, d);
                    fv[o] = qc_stored(&bq, 1, s, p, h, d);
                }
    const kva_blocked_cache fc = {.k = fk, .v = fv, .num_seqs = AS,
                                  .num_kv_heads = AHKV, .cache_len = BCL,
                                  .head_dim = AD};
    float out_f[ANT * AHQ * AD], lse_f[ANT * AHQ];
    memset(out_f, POISON, sizeof out_f), memset(lse_f, POISON, sizeof lse_f);
    st = kva_blocked_attention(&r.p, &fc, BNKB, AS, r.qsl, r.seq_lens, NULL,
                               r.q, ANT, out_f, lse_f, &err);
    cr_assert_eq(st, KVA_OK, "%s", err.msg);
    cr_assert(memcmp(out_b, out_f, sizeof out_b) == 0,
              "dtype %d kind %d: blocked out differs from F32", cf->dt,
              cf->kind);
    cr_assert(memcmp(lse_b, lse_f, sizeof lse_b) == 0);
    for (int i = 0; i < 3 * AHQ * AD; i++)
        cr_assert(isfinite(out_b[i]));
    free(fk), free(fv);
    qc_free(&bq), qc_free(&pq);
}

Test(kernel_quant, blocked_equals_paged)
{
    for (size_t i = 0; i < sizeof CONFS / sizeof CONFS[0]; i++)
        check_blocked(&CONFS[i]);
}

/* Blocked refusals: the format and the scale pools (block = sequence,
 * slot = position). */
typedef struct bref {
    kva_attn_params p;
    uint8_t k[2 * 1 * 4 * 32], v[2 * 1 * 4 * 32];
    float ks[2 * 4], vs[2 * 4];
    float khead[1], vhead[1];
    kva_blocked_cache c;
    int64_t qsl[3];
    int seq_lens[2];
    float q[2 * 32], out[2 * 32], lse[2];
} bref;

static void bref_setup(bref *f)
{
    memset(f, 0, sizeof *f);
    f->p = (kva_attn_params){.num_q_heads = 1, .num_kv_heads = 1,
                             .head_dim = 32, .scale = 0.5f, .causal = 1,
                             .window_left = -1};
    f->khead[0] = f->vhead[0] = 1.0f;
    f->c = (kva_blocked_cache){
        .k = f->k, .v = f->v, .num_seqs = 2, .num_kv_heads = 1,
        .cache_len = 4, .head_dim = 32, .dtype = KVA_DTYPE_INT8,
        .scales = {.kind = KVA_SCALE_TOKEN, .k_pool = f->ks, .v_pool = f->vs,
                   .pool_units = 8, .stride_block = 4, .stride_slot = 1,
                   .stride_head = 0}};
    for (int i = 0; i < 8; i++)
        f->ks[i] = f->vs[i] = 0.125f;
    f->qsl[0] = 0, f->qsl[1] = 1, f->qsl[2] = 2;
    f->seq_lens[0] = 3, f->seq_lens[1] = 4;
    memset(f->out, POISON, sizeof f->out);
    memset(f->lse, POISON, sizeof f->lse);
}

static kva_status bref_call(bref *f, kva_error *err)
{
    return kva_blocked_attention(&f->p, &f->c, 2, f->c.num_seqs, f->qsl,
                                 f->seq_lens, NULL, f->q, 2, f->out, f->lse,
                                 err);
}

static void bref_refused(bref *f, kva_status want, const char *n1,
                         const char *n2)
{
    float out0[2 * 32], lse0[2];
    memcpy(out0, f->out, sizeof out0), memcpy(lse0, f->lse, sizeof lse0);
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = bref_call(f, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert(strstr(err.msg, n1) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, n1);
    if (n2)
        cr_assert(strstr(err.msg, n2) != NULL, "message \"%s\" lacks \"%s\"",
                  err.msg, n2);
    cr_assert(memcmp(out0, f->out, sizeof out0) == 0, "out written");
    cr_assert(memcmp(lse0, f->lse, sizeof lse0) == 0, "lse written");
}

Test(kernel_quant, blocked_refusals)
{
    bref f;
    kva_error err;
    bref_setup(&f);
    cr_assert_eq(bref_call(&f, &err), KVA_OK, "%s", err.msg);
    /* the scales were read: every output finite */
    for (int i = 0; i < 2 * 32; i++)
        cr_assert(isfinite(f.out[i]));

    bref_setup(&f);
    f.c.dtype = (kva_dtype)7;
    bref_refused(&f, KVA_ERR_FORMAT, "dtype 7", "unknown");
    bref_setup(&f);
    f.c.scales.kind = KVA_SCALE_GROUP;
    bref_refused(&f, KVA_ERR_FORMAT, "GROUP", "INT8");
    bref_setup(&f);
    f.c.dtype = KVA_DTYPE_NVFP4, f.c.scales.kind = KVA_SCALE_GROUP;
    f.c.scales.k_tensor = f.c.scales.v_tensor = 1.0f;
    f.c.head_dim = f.p.head_dim = 24;
    bref_refused(&f, KVA_ERR_FORMAT, "head_dim 24", "multiple of 16");
    bref_setup(&f);
    f.c.scales.kind = KVA_SCALE_TENSOR;
    f.c.scales.k_tensor = 1.0f, f.c.scales.v_tensor = -0.0f;
    bref_refused(&f, KVA_ERR_FORMAT, "v_tensor -0", "finite and > 0");
    bref_setup(&f);
    f.c.scales.kind = KVA_SCALE_HEAD;
    f.c.scales.k_head = f.khead;
    bref_refused(&f, KVA_ERR_NULL, "v_head", NULL);
    bref_setup(&f);
    f.c.scales.v_pool = NULL;
    bref_refused(&f, KVA_ERR_NULL, "v_pool", NULL);
    bref_setup(&f);
    f.c.scales.pool_units = 7; /* rows at s*4 + pos: 8 floats */
    bref_refused(&f, KVA_ERR_SHAPE, "scales.pool_units 7", NULL);
    bref_setup(&f);
    f.c.scales.stride_block = 3; /* sequence 1's slot 0 = sequence 0's 3 */
    bref_refused(&f, KVA_ERR_SHAPE, "overlap", "scales.stride_block 3");
    bref_setup(&f);
    f.c.scales.stride_slot = -1;
    bref_refused(&f, KVA_ERR_SHAPE, "scales.stride_slot -1", NULL);

    /* no sequence: pools need not exist (like k and v) */
    bref_setup(&f);
    f.c.num_seqs = 0;
    f.c.scales.k_pool = f.c.scales.v_pool = NULL;
    cr_assert_eq(kva_blocked_attention(&f.p, &f.c, 2, 0, NULL, NULL, NULL,
                                       NULL, 0, NULL, NULL, &err),
                 KVA_OK, "%s", err.msg);
}

Test(kernel_quant, paged_attention_refuses_bad_format)
{
    qcache q;
    qc_init(&q, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, ANB, AB, AHKV, AD, 0, 0);
    q.c.scales.k_tensor = 1.0f, q.c.scales.v_tensor = NAN;
    att_run r;
    att_setup(&r, 0);
    float out[ANT * AHQ * AD], lse[ANT * AHQ], out0[ANT * AHQ * AD];
    memset(out, POISON, sizeof out), memset(lse, POISON, sizeof lse);
    memcpy(out0, out, sizeof out);
    kva_error err;
    cr_assert_eq(kva_paged_attention(&r.p, &q.c, &r.b, r.q, ANT, out, lse,
                                     &err),
                 KVA_ERR_FORMAT);
    cr_assert(strstr(err.msg, "v_tensor nan") != NULL, "%s", err.msg);
    cr_assert(memcmp(out, out0, sizeof out) == 0);
    q.c.scales.v_tensor = 1.0f;
    q.c.scales.pool_units = 0;
    cr_assert_eq(kva_paged_attention(&r.p, &q.c, &r.b, r.q, ANT, out, lse,
                                     &err),
                 KVA_ERR_SHAPE);
    cr_assert(strstr(err.msg, "scales.pool_units 0") != NULL, "%s", err.msg);
    cr_assert(memcmp(out, out0, sizeof out) == 0);
    qc_free(&q);
}

/* ======================================================================
 * Calibration
 * ====================================================================== */

Test(kernel_quant, observer_batches)
{
    float head_amax[2] = {0, 0};
    kva_observer o = {.num_kv_heads = 2, .head_dim = 3, .amax = 0.0f,
                      .head_amax = head_amax};
    kva_error err;
    /* batch 1: 2 tokens x 2 heads x 3; NaN and infinities ignored */
    const float x1[12] = {1.5f, -2.0f, NAN,       /* t0 h0 */
                          INFINITY, 0.25f, -0.5f, /* t0 h1 */
                          -3.0f, 0.0f, -0.0f,     /* t1 h0 */
                          -INFINITY, -NAN, 0.75f}; /* t1 h1 */
    cr_assert_eq(kva_observer_update(&o, x1, 2, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(o.amax, 3.0f);
    cr_expect_eq(head_amax[0], 3.0f);
    cr_expect_eq(head_amax[1], 0.75f);
    /* batch 2: only head 1 grows; a smaller head 0 changes nothing */
    const float x2[6] = {1.0f, -2.5f, 0.0f, 7.0f, -9.5f, NAN};
    cr_assert_eq(kva_observer_update(&o, x2, 1, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(o.amax, 9.5f);
    cr_expect_eq(head_amax[0], 3.0f);
    cr_expect_eq(head_amax[1], 9.5f);
    /* batch 3: all non-finite: nothing changes */
    const float x3[6] = {NAN, INFINITY, -INFINITY, NAN, NAN, INFINITY};
    cr_assert_eq(kva_observer_update(&o, x3, 1, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(o.amax, 9.5f);
    cr_expect_eq(head_amax[0], 3.0f);
    cr_expect_eq(head_amax[1], 9.5f);
    /* empty batch, x NULL */
    cr_assert_eq(kva_observer_update(&o, NULL, 0, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(o.amax, 9.5f);
    /* FLT_MAX is finite */
    const float x4[6] = {0, 0, 0, 0, -FLT_MAX, 0};
    cr_assert_eq(kva_observer_update(&o, x4, 1, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(o.amax, FLT_MAX);
    cr_expect_eq(head_amax[1], FLT_MAX);
    cr_expect_eq(head_amax[0], 3.0f);

    /* per-tensor only */
    kva_observer t = {.num_kv_heads = 2, .head_dim = 3};
    cr_assert_eq(kva_observer_update(&t, x1, 2, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(t.amax, 3.0f);
    cr_assert_null(t.head_amax);
}

static void observer_refused(kva_observer *o, const float *x, int64_t n,
                             kva_status want, const char *needle)
{
    float h0 = 0, h1 = 0;
    if (o != NULL && o->head_amax != NULL)
        h0 = o->head_amax[0], h1 = o->head_amax[1];
    const float a = o != NULL ? o->amax : 0;
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = kva_observer_update(o, x, n, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert_eq(err.status, want);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle);
    if (o != NULL) {
        cr_assert_eq(bits_of(o->amax), bits_of(a), "amax changed");
        if (o->head_amax != NULL) {
            cr_assert_eq(bits_of(o->head_amax[0]), bits_of(h0));
            cr_assert_eq(bits_of(o->head_amax[1]), bits_of(h1));
        }
    }
}

Test(kernel_quant, observer_refusals)
{
    float ha[2] = {1.0f, 2.0f};
    const float x[12] = {100, 100, 100, 100, 100, 100,
                         100, 100, 100, 100, 100, 100};
    kva_observer o = {.num_kv_heads = 2, .head_dim = 3, .amax = 2.0f,
                      .head_amax = ha};
    observer_refused(NULL, x, 1, KVA_ERR_NULL, "observer");
    observer_refused(&o, NULL, 1, KVA_ERR_NULL, "x is NULL");
    observer_refused(&o, x, -1, KVA_ERR_LENGTH, "num_tokens -1");
    o.num_kv_heads = 0;
    observer_refused(&o, x, 1, KVA_ERR_SHAPE, "num_kv_heads 0");
    o.num_kv_heads = 2, o.head_dim = -4;
    observer_refused(&o, x, 1, KVA_ERR_SHAPE, "head_dim -4");
    o.head_dim = 3;
    observer_refused(&o, x, INT64_MAX / 2, KVA_ERR_LENGTH, "overflows");
    o.amax = NAN;
    observer_refused(&o, x, 2, KVA_ERR_PARAM, "amax nan");
    o.amax = -1.0f;
    observer_refused(&o, x, 2, KVA_ERR_PARAM, "amax -1");
    o.amax = INFINITY;
    observer_refused(&o, x, 2, KVA_ERR_PARAM, "amax inf");
    o.amax = 2.0f, ha[1] = -0.5f;
    observer_refused(&o, x, 2, KVA_ERR_PARAM, "head_amax[1] -0.5");
    ha[1] = NAN;
    observer_refused(&o, x, 2, KVA_ERR_PARAM, "head_amax[1] nan");
    ha[1] = 2.0f;
    kva_error err;
    cr_assert_eq(kva_observer_update(&o, x, 2, &err), KVA_OK, "%s", err.msg);
    cr_expect_eq(o.amax, 100.0f);
}

static float scale_ok(kva_dtype dt, float amax)
{
    float s = -1.0f;
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = kva_scale_from_amax(dt, amax, &s, &err);
    cr_assert_eq(st, KVA_OK, "dtype %d amax %g: %s", dt, (double)amax,
                 err.msg);
    return s;
}

Test(kernel_quant, scale_from_amax_values)
{
    /* amax / 448, / 57344, / 127.5: exact for these */
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E4M3, 448.0f), 1.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E4M3, 896.0f), 2.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E4M3, 112.0f), 0.25f);
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E5M2, 57344.0f), 1.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E5M2, 7168.0f), 0.125f);
    cr_expect_eq(scale_ok(KVA_DTYPE_INT8, 127.5f), 1.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_INT8, 255.0f), 2.0f);
    /* one rounding: the double quotient rounded once to binary32 is the
     * correctly rounded binary32 quotient */
    cr_expect_eq(bits_of(scale_ok(KVA_DTYPE_FP8_E4M3, 1.0f)),
                 bits_of((float)(1.0 / 448.0)));
    cr_expect_eq(bits_of(scale_ok(KVA_DTYPE_INT8, 3.0f)),
                 bits_of((float)(3.0 / 127.5)));
    cr_expect_eq(bits_of(scale_ok(KVA_DTYPE_FP8_E5M2, 10.0f)),
                 bits_of((float)(10.0 / 57344.0)));
    /* zero and an underflowing quotient become 2^-23 */
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E4M3, 0.0f), 0x1p-23f);
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E5M2, -0.0f), 0x1p-23f);
    cr_expect_eq(scale_ok(KVA_DTYPE_INT8, 0.0f), 0x1p-23f);
    cr_expect_eq(scale_ok(KVA_DTYPE_FP8_E4M3, FLT_TRUE_MIN), 0x1p-23f);
    /* a subnormal non-zero quotient is kept: 2^-126 / 127.5 -> nonzero */
    cr_expect_eq(bits_of(scale_ok(KVA_DTYPE_INT8, 0x1p-126f)),
                 bits_of((float)(0x1p-126 / 127.5)));
    cr_expect(scale_ok(KVA_DTYPE_INT8, 0x1p-126f) != 0x1p-23f);
    /* FLT_MAX is a valid amax */
    cr_expect_eq(bits_of(scale_ok(KVA_DTYPE_FP8_E4M3, FLT_MAX)),
                 bits_of((float)((double)FLT_MAX / 448.0)));
    /* NVFP4 global scale 2688 / amax, amax floored at 2^-23 */
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 2688.0f), 1.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 6.0f), 448.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 1.0f), 2688.0f);
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 0.0f), 2688.0f * 0x1p23f);
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 0x1p-30f), 2688.0f * 0x1p23f);
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 0x1p-23f), 2688.0f * 0x1p23f);
    cr_expect_eq(scale_ok(KVA_DTYPE_NVFP4, 0x1p-22f), 2688.0f * 0x1p22f);
    cr_expect_eq(bits_of(scale_ok(KVA_DTYPE_NVFP4, 7.0f)),
                 bits_of((float)(2688.0 / 7.0)));
}

static void scale_refused(kva_dtype dt, float amax, float *out,
                          kva_status want, const char *needle)
{
    float before = 0;
    if (out)
        *out = 12345.0f, before = *out;
    kva_error err;
    memset(&err, 0, sizeof err);
    kva_status st = kva_scale_from_amax(dt, amax, out, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle);
    if (out)
        cr_assert_eq(*out, before, "*scale written");
}

Test(kernel_quant, scale_from_amax_refusals)
{
    float s;
    scale_refused(KVA_DTYPE_F32, 1.0f, &s, KVA_ERR_FORMAT, "F32");
    scale_refused(KVA_DTYPE_F16, 1.0f, &s, KVA_ERR_FORMAT, "F16");
    scale_refused(KVA_DTYPE_BF16, 1.0f, &s, KVA_ERR_FORMAT, "BF16");
    scale_refused((kva_dtype)42, 1.0f, &s, KVA_ERR_FORMAT, "42");
    scale_refused(KVA_DTYPE_FP8_E4M3, -1.0f, &s, KVA_ERR_PARAM, "amax -1");
    scale_refused(KVA_DTYPE_INT8, NAN, &s, KVA_ERR_PARAM, "amax nan");
    scale_refused(KVA_DTYPE_NVFP4, INFINITY, &s, KVA_ERR_PARAM, "amax inf");
    scale_refused(KVA_DTYPE_FP8_E5M2, -FLT_TRUE_MIN, &s, KVA_ERR_PARAM,
                  "amax");
    scale_refused(KVA_DTYPE_FP8_E4M3, 1.0f, NULL, KVA_ERR_NULL, "scale");
}

/* Calibrate, then write with the static scale: the observed amax lands on
 * the format's largest finite code. */
Test(kernel_quant, calibrated_scale_maps_amax_to_the_largest_code)
{
    const float x[8] = {0.5f, -3.5f, 1.0f, NAN, 2.0f, -1.0f, 0.25f, 0.0f};
    float ha[1] = {0};
    kva_observer o = {.num_kv_heads = 1, .head_dim = 8, .head_amax = ha};
    kva_error err;
    cr_assert_eq(kva_observer_update(&o, x, 1, &err), KVA_OK, "%s", err.msg);
    cr_assert_eq(o.amax, 3.5f);
    float s;
    cr_assert_eq(kva_scale_from_amax(KVA_DTYPE_FP8_E4M3, o.amax, &s, &err),
                 KVA_OK);
    qcache q;
    qc_init(&q, KVA_DTYPE_FP8_E4M3, KVA_SCALE_TENSOR, 3, 2, 1, 8, 0, 0);
    q.c.scales.k_tensor = q.c.scales.v_tensor = s; /* 3.5 / 448 = 2^-7 */
    cr_assert_eq(s, 0x1p-7f);
    write_one(&q, x, x, 1, 8);
    cr_expect_eq(qc_code(&q, 0, 2, 1, 0, 1), 0xFE); /* -3.5 -> -448 */
    cr_expect_eq(qc_code(&q, 0, 2, 1, 0, 0), 0x68); /* 0.5 / 2^-7 = 2^6 */
    qc_free(&q);

    /* NVFP4: g = 2688 / 3.5 = 768 (exact); the group of amax 3.5 gets
     * block scale e4m3(768 * 3.5/6) = e4m3(448) = 0x7E, effective scale
     * 448 / 768 = 0.5833... and 3.5 / it = 6 -> code 7. */
    cr_assert_eq(kva_scale_from_amax(KVA_DTYPE_NVFP4, 3.5f, &s, &err), KVA_OK);
    cr_assert_eq(s, 768.0f);
    float x16[16] = {0};
    x16[3] = -3.5f;
    qc_init(&q, KVA_DTYPE_NVFP4, KVA_SCALE_GROUP, 3, 2, 1, 16, 0, 0);
    q.c.scales.k_tensor = q.c.scales.v_tensor = s;
    write_one(&q, x16, x16, 1, 16);
    cr_expect_eq(qc_group_code(&q, 0, 2, 1, 0, 0), 0x7E);
    cr_expect_eq(qc_code(&q, 0, 2, 1, 0, 3), 0xF);
    qc_free(&q);
}
