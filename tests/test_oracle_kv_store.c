/*
 * test_oracle_kv_store.c — the oracle's model of a quantized KV cache:
 * the cache format of a problem (oracle/problem.c), the store of codes,
 * scales and stored values (oracle/kv_store.c), and the reference run on
 * the stored values (oracle/reference.c), against docs/kv-formats.md.
 *
 * Suite oracle_kv_store:
 *   names, kind/dtype table, kvc_problem_set_quant, copy and free of the
 *   per-head arrays, kvc_problem_check refusals;
 *   per format x strategy, small problems with known codes and stored
 *   values: ties to even, one ulp either side, saturation, +-0,
 *   subnormals, NaN and inf, all-zero rows and groups;
 *   the layout of codes, token scales and group codes;
 *   the reference on a quantized problem equals, bit for bit, the reference
 *   of an f32 problem whose K/V are the stored values written out here.
 *
 * Every expected code and stored value is derived in the comment beside it
 * from the doc's text (t = fp32(x / s), the format's RNE grid, stored =
 * decode(code) * s), never copied from a run. Where a scale is not a power
 * of two the expected value is computed with native binary32 arithmetic
 * (one IEEE operation, correctly rounded: the doc's "fp32(...)"), never with
 * the oracle's helpers.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/kv_store.h"
#include "../oracle/problem.h"
#include "../oracle/reference.h"

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

static float up(float x) { return nextafterf(x, INFINITY); }
static float down(float x) { return nextafterf(x, -INFINITY); }

static float bits_f32(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* NaN matches any NaN; otherwise equal with the sign of zero. */
static int same_float(float got, float want)
{
    if (isnan(want))
        return isnan(got);
    return got == want && !signbit(got) == !signbit(want);
}

#define SAME(got, want, ...)                                                  \
    do {                                                                      \
        float g_ = (got), w_ = (want);                                        \
        cr_assert(same_float(g_, w_), "%s = %a (%.9g), want %a (%.9g)",       \
                  #got, (double)g_, (double)g_, (double)w_, (double)w_);      \
    } while (0)

/* One sequence, ctx_len positions already cached and q_len new tokens, Hq
 * query heads over Hkv KV heads of dim D; causal, scale 0.5. */
static void make_problem(kvc_problem *p, int hq, int hkv, int dim, int ctx,
                         int ql)
{
    kvc_config c;
    memset(&c, 0, sizeof c);
    c.num_q_heads = hq;
    c.num_kv_heads = hkv;
    c.head_dim = dim;
    c.scale = 0.5f;
    c.softcap = 0.0f;
    c.causal = 1;
    c.window_left = KVC_NO_WINDOW;
    cr_assert_eq(kvc_problem_alloc(p, &c, 1, &ctx, &ql, 0, 0), 0);
}

static void set_quant(kvc_problem *p, kvc_kv_dtype dt, kvc_scale_kind kind)
{
    cr_assert_eq(kvc_problem_set_quant(p, dt, kind), 0);
}

static void store_of(const kvc_problem *p, kvc_kv_store *st)
{
    char err[256] = "";
    int rc = kvc_kv_store_compute(p, st, err, sizeof err);
    cr_assert_eq(rc, 0, "kvc_kv_store_compute: %s", err);
}

static void expect_refused(const kvc_problem *p, const char *needle)
{
    char err[512] = "";
    cr_assert_eq(kvc_problem_check(p, err, sizeof err), -1,
                 "kvc_problem_check accepted a bad format (dtype %s, kind %s)",
                 kvc_kv_dtype_name(p->quant.dtype),
                 kvc_scale_kind_name(p->quant.kind));
    cr_assert(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err,
              needle);
}

static void expect_accepted(const kvc_problem *p)
{
    char err[512] = "";
    cr_assert_eq(kvc_problem_check(p, err, sizeof err), 0,
                 "kvc_problem_check refused: %s", err);
}

/* One element of a table: the logical value, the code the cache must hold
 * and the stored value (NAN: any NaN). */
typedef struct elem {
    float x;
    uint32_t code;
    float stored;
} elem;

/* A problem of one position, one KV head and D = n dims whose K and V rows
 * are both the table's x, with the given static scale on both sides; every
 * code and stored value must be the table's. */
static void check_table(kvc_kv_dtype dt, kvc_scale_kind kind, float scale,
                        const elem *e, int n)
{
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 1, 1, n, 1, 0);
    set_quant(&p, dt, kind);
    p.quant.k_scale = scale;
    p.quant.v_scale = scale;
    for (int d = 0; d < n; d++) {
        p.k[d] = e[d].x;
        p.v[d] = e[d].x;
    }
    store_of(&p, &st);
    cr_assert_eq(st.rows, 1);
    for (int d = 0; d < n; d++) {
        cr_assert_eq(st.k_code[d], e[d].code,
                     "%s/%s: x = %a: K code 0x%X, want 0x%X",
                     kvc_kv_dtype_name(dt), kvc_scale_kind_name(kind),
                     (double)e[d].x, (unsigned)st.k_code[d],
                     (unsigned)e[d].code);
        cr_assert_eq(st.v_code[d], e[d].code, "%s: x = %a: V code 0x%X",
                     kvc_kv_dtype_name(dt), (double)e[d].x,
                     (unsigned)st.v_code[d]);
        cr_assert(same_float(st.k[d], e[d].stored),
                  "%s: x = %a: K stored %a, want %a", kvc_kv_dtype_name(dt),
                  (double)e[d].x, (double)st.k[d], (double)e[d].stored);
        cr_assert(same_float(st.v[d], e[d].stored),
                  "%s: x = %a: V stored %a, want %a", kvc_kv_dtype_name(dt),
                  (double)e[d].x, (double)st.v[d], (double)e[d].stored);
    }
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

#define TABLE(dt, kind, scale, t)                                             \
    check_table((dt), (kind), (scale), (t), (int)(sizeof(t) / sizeof((t)[0])))

static float neg_nan(void) { return copysignf(NAN, -1.0f); }

/* ======================================================================== */
/* Names and the dtype x kind table                                         */
/* ======================================================================== */

Test(oracle_kv_store, kind_names_and_parse)
{
    static const char *const want[] = {"none", "tensor", "attn_head", "token",
                                       "group"};
    cr_assert_eq(KVC_SCALE_KIND_COUNT, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(kvc_scale_kind_name((kvc_scale_kind)i), want[i]);
        kvc_scale_kind k = KVC_SCALE_NONE;
        cr_assert_eq(kvc_scale_kind_parse(want[i], &k), 0);
        cr_assert_eq((int)k, i);
        cr_assert_eq(kvc_scale_kind_parse(want[i], NULL), 0);
    }
    cr_assert_str_eq(kvc_scale_kind_name((kvc_scale_kind)5), "?");
    cr_assert_str_eq(kvc_scale_kind_name((kvc_scale_kind)-1), "?");
    static const char *const bad[] = {"Tensor", "head", "", "tokens", "?",
                                      "group "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvc_scale_kind k = KVC_SCALE_TOKEN;
        cr_assert_eq(kvc_scale_kind_parse(bad[i], &k), -1, "%s", bad[i]);
        cr_assert_eq(k, KVC_SCALE_TOKEN, "untouched on failure");
    }
    kvc_scale_kind k = KVC_SCALE_GROUP;
    cr_assert_eq(kvc_scale_kind_parse(NULL, &k), -1);
    cr_assert_eq(k, KVC_SCALE_GROUP);
}

/* The doc's table: none <-> f32/f16/bf16; tensor, attn_head, token <->
 * fp8_e4m3, fp8_e5m2, int8; group <-> nvfp4. Rows: dtype; columns: none,
 * tensor, attn_head, token, group. */
static const int VALID[KVC_KV_DTYPE_COUNT][KVC_SCALE_KIND_COUNT] = {
    /* f32      */ {1, 0, 0, 0, 0},
    /* f16      */ {1, 0, 0, 0, 0},
    /* bf16     */ {1, 0, 0, 0, 0},
    /* fp8_e4m3 */ {0, 1, 1, 1, 0},
    /* fp8_e5m2 */ {0, 1, 1, 1, 0},
    /* int8     */ {0, 1, 1, 1, 0},
    /* nvfp4    */ {0, 0, 0, 0, 1},
};

Test(oracle_kv_store, kind_valid_table)
{
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
        for (int k = 0; k < KVC_SCALE_KIND_COUNT; k++)
            cr_assert_eq(!!kvc_quant_kind_valid((kvc_kv_dtype)d,
                                                (kvc_scale_kind)k),
                         VALID[d][k], "%s x %s",
                         kvc_kv_dtype_name((kvc_kv_dtype)d),
                         kvc_scale_kind_name((kvc_scale_kind)k));
    cr_assert_eq(kvc_quant_kind_valid((kvc_kv_dtype)7, KVC_SCALE_NONE), 0);
    cr_assert_eq(kvc_quant_kind_valid((kvc_kv_dtype)-1, KVC_SCALE_NONE), 0);
    cr_assert_eq(kvc_quant_kind_valid(KVC_KV_F32, (kvc_scale_kind)5), 0);
    cr_assert_eq(kvc_quant_kind_valid(KVC_KV_INT8, (kvc_scale_kind)-1), 0);
}

/* ======================================================================== */
/* set_quant, copy, free                                                    */
/* ======================================================================== */

Test(oracle_kv_store, alloc_leaves_f32)
{
    kvc_problem p;
    make_problem(&p, 2, 2, 4, 1, 1);
    cr_assert_eq(p.quant.dtype, KVC_KV_F32);
    cr_assert_eq(p.quant.kind, KVC_SCALE_NONE);
    cr_assert_eq(p.quant.k_scale, 0.0f);
    cr_assert_eq(p.quant.v_scale, 0.0f);
    cr_assert_null(p.quant.k_head_scale);
    cr_assert_null(p.quant.v_head_scale);
    expect_accepted(&p);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, set_quant_scales_and_head_arrays)
{
    kvc_problem p;
    make_problem(&p, 6, 3, 4, 1, 1);

    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    cr_assert_eq(p.quant.dtype, KVC_KV_FP8_E4M3);
    cr_assert_eq(p.quant.kind, KVC_SCALE_TENSOR);
    cr_assert_eq(p.quant.k_scale, 1.0f);
    cr_assert_eq(p.quant.v_scale, 1.0f);
    cr_assert_null(p.quant.k_head_scale);
    cr_assert_null(p.quant.v_head_scale);

    set_quant(&p, KVC_KV_INT8, KVC_SCALE_HEAD);
    cr_assert_not_null(p.quant.k_head_scale);
    cr_assert_not_null(p.quant.v_head_scale);
    for (int h = 0; h < 3; h++) {
        cr_assert_eq(p.quant.k_head_scale[h], 1.0f);
        cr_assert_eq(p.quant.v_head_scale[h], 1.0f);
    }
    p.quant.k_head_scale[2] = 7.0f;
    p.quant.k_scale = 9.0f;

    /* HEAD again: fresh arrays of ones, the old ones freed (valgrind) */
    set_quant(&p, KVC_KV_FP8_E5M2, KVC_SCALE_HEAD);
    cr_assert_eq(p.quant.k_head_scale[2], 1.0f);
    cr_assert_eq(p.quant.k_scale, 1.0f);
    expect_accepted(&p);

    /* another kind: the arrays are freed and NULL */
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    cr_assert_null(p.quant.k_head_scale);
    cr_assert_null(p.quant.v_head_scale);
    cr_assert_eq(p.quant.k_scale, 1.0f);

    /* set_quant does not check the combination */
    cr_assert_eq(kvc_problem_set_quant(&p, KVC_KV_F32, KVC_SCALE_GROUP), 0);
    cr_assert_eq(p.quant.kind, KVC_SCALE_GROUP);
    expect_refused(&p, "group");

    /* free releases HEAD arrays (valgrind: no leak) */
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_HEAD);
    kvc_problem_free(&p);
    cr_assert_null(p.quant.k_head_scale);
    kvc_problem_free(&p); /* safe on the zeroed struct */

    cr_assert_eq(kvc_problem_set_quant(NULL, KVC_KV_F16, KVC_SCALE_NONE), -1);
}

Test(oracle_kv_store, copy_is_deep)
{
    kvc_problem p, c;
    make_problem(&p, 4, 2, 3, 2, 1);
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_HEAD);
    p.quant.k_head_scale[0] = 0.5f;
    p.quant.k_head_scale[1] = 3.0f;
    p.quant.v_head_scale[0] = 0.25f;
    p.quant.v_head_scale[1] = 5.0f;
    p.quant.k_scale = 11.0f; /* unused by HEAD, copied anyway */
    cr_assert_eq(kvc_problem_copy(&c, &p), 0);
    cr_assert_eq(c.quant.dtype, KVC_KV_FP8_E4M3);
    cr_assert_eq(c.quant.kind, KVC_SCALE_HEAD);
    cr_assert_eq(c.quant.k_scale, 11.0f);
    cr_assert_neq(c.quant.k_head_scale, p.quant.k_head_scale);
    cr_assert_neq(c.quant.v_head_scale, p.quant.v_head_scale);
    cr_assert_eq(c.quant.k_head_scale[0], 0.5f);
    cr_assert_eq(c.quant.k_head_scale[1], 3.0f);
    cr_assert_eq(c.quant.v_head_scale[0], 0.25f);
    cr_assert_eq(c.quant.v_head_scale[1], 5.0f);
    c.quant.k_head_scale[1] = 8.0f;
    cr_assert_eq(p.quant.k_head_scale[1], 3.0f, "the copy shares nothing");
    kvc_problem_free(&p);
    cr_assert_eq(c.quant.v_head_scale[1], 5.0f, "the copy outlives p");
    kvc_problem_free(&c);

    /* TENSOR and GROUP: scalars copied, no arrays */
    make_problem(&p, 1, 1, 16, 1, 1);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    p.quant.k_scale = 0.75f;
    p.quant.v_scale = 2688.0f;
    cr_assert_eq(kvc_problem_copy(&c, &p), 0);
    cr_assert_eq(c.quant.dtype, KVC_KV_NVFP4);
    cr_assert_eq(c.quant.kind, KVC_SCALE_GROUP);
    cr_assert_eq(c.quant.k_scale, 0.75f);
    cr_assert_eq(c.quant.v_scale, 2688.0f);
    cr_assert_null(c.quant.k_head_scale);
    cr_assert_null(c.quant.v_head_scale);
    kvc_problem_free(&p);
    kvc_problem_free(&c);
}

/* ======================================================================== */
/* kvc_problem_check                                                        */
/* ======================================================================== */

Test(oracle_kv_store, check_every_combination)
{
    kvc_problem p;
    make_problem(&p, 2, 2, 16, 1, 1);
    for (int d = 0; d < KVC_KV_DTYPE_COUNT; d++)
        for (int k = 0; k < KVC_SCALE_KIND_COUNT; k++) {
            set_quant(&p, (kvc_kv_dtype)d, (kvc_scale_kind)k);
            if (VALID[d][k]) {
                expect_accepted(&p);
                continue;
            }
            /* the message names both */
            expect_refused(&p, kvc_kv_dtype_name((kvc_kv_dtype)d));
            expect_refused(&p, kvc_scale_kind_name((kvc_scale_kind)k));
        }
    set_quant(&p, KVC_KV_F32, KVC_SCALE_NONE);
    p.quant.dtype = (kvc_kv_dtype)7;
    expect_refused(&p, "dtype");
    p.quant.dtype = (kvc_kv_dtype)-1;
    expect_refused(&p, "dtype");
    p.quant.dtype = KVC_KV_F16;
    p.quant.kind = (kvc_scale_kind)5;
    expect_refused(&p, "kind");
    p.quant.kind = (kvc_scale_kind)-1;
    expect_refused(&p, "kind");
    kvc_problem_free(&p);
}

/* Values a static scale may not take, and some it may. */
static const float BAD_SCALES[] = {0.0f, -0.0f, -1.0f, -FLT_MIN, NAN,
                                   INFINITY, -INFINITY};
static const float GOOD_SCALES[] = {FLT_TRUE_MIN, FLT_MIN, 1e-30f, 0.5f, 1.0f,
                                    FLT_MAX};
#define NBAD ((int)(sizeof BAD_SCALES / sizeof BAD_SCALES[0]))
#define NGOOD ((int)(sizeof GOOD_SCALES / sizeof GOOD_SCALES[0]))

static void check_scalar_scales(kvc_kv_dtype dt, kvc_scale_kind kind,
                                int dim)
{
    kvc_problem p;
    make_problem(&p, 1, 1, dim, 1, 1);
    set_quant(&p, dt, kind);
    for (int i = 0; i < NBAD; i++) {
        p.quant.k_scale = BAD_SCALES[i];
        expect_refused(&p, "k_scale");
        p.quant.k_scale = 1.0f;
        p.quant.v_scale = BAD_SCALES[i];
        expect_refused(&p, "v_scale");
        p.quant.v_scale = 1.0f;
    }
    for (int i = 0; i < NGOOD; i++) {
        p.quant.k_scale = GOOD_SCALES[i];
        p.quant.v_scale = GOOD_SCALES[NGOOD - 1 - i];
        expect_accepted(&p);
    }
    kvc_problem_free(&p);
}

Test(oracle_kv_store, check_tensor_and_group_scales)
{
    check_scalar_scales(KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR, 3);
    check_scalar_scales(KVC_KV_FP8_E5M2, KVC_SCALE_TENSOR, 3);
    check_scalar_scales(KVC_KV_INT8, KVC_SCALE_TENSOR, 3);
    check_scalar_scales(KVC_KV_NVFP4, KVC_SCALE_GROUP, 16);
}

Test(oracle_kv_store, check_head_scales)
{
    kvc_problem p;
    make_problem(&p, 3, 3, 4, 1, 1);
    set_quant(&p, KVC_KV_INT8, KVC_SCALE_HEAD);
    expect_accepted(&p);
    for (int i = 0; i < NBAD; i++)
        for (int h = 0; h < 3; h++) {
            char want[32];
            p.quant.k_head_scale[h] = BAD_SCALES[i];
            snprintf(want, sizeof want, "k_head_scale[%d]", h);
            expect_refused(&p, want);
            p.quant.k_head_scale[h] = 1.0f;
            p.quant.v_head_scale[h] = BAD_SCALES[i];
            snprintf(want, sizeof want, "v_head_scale[%d]", h);
            expect_refused(&p, want);
            p.quant.v_head_scale[h] = 1.0f;
        }
    for (int i = 0; i < NGOOD; i++) {
        p.quant.k_head_scale[i % 3] = GOOD_SCALES[i];
        p.quant.v_head_scale[(i + 1) % 3] = GOOD_SCALES[i];
        expect_accepted(&p);
    }
    /* the tensor scalars are not read by HEAD */
    p.quant.k_scale = NAN;
    p.quant.v_scale = 0.0f;
    expect_accepted(&p);
    /* missing arrays */
    float *keep = p.quant.v_head_scale;
    p.quant.v_head_scale = NULL;
    expect_refused(&p, "v_head_scale");
    p.quant.v_head_scale = keep;
    keep = p.quant.k_head_scale;
    p.quant.k_head_scale = NULL;
    expect_refused(&p, "k_head_scale");
    p.quant.k_head_scale = keep;
    kvc_problem_free(&p);
}

Test(oracle_kv_store, check_dynamic_kinds_ignore_scalars)
{
    /* token and none have no static scale: the scalars are not read */
    kvc_problem p;
    make_problem(&p, 1, 1, 5, 1, 1);
    set_quant(&p, KVC_KV_FP8_E5M2, KVC_SCALE_TOKEN);
    p.quant.k_scale = NAN;
    p.quant.v_scale = -1.0f;
    expect_accepted(&p);
    set_quant(&p, KVC_KV_BF16, KVC_SCALE_NONE);
    p.quant.k_scale = 0.0f;
    p.quant.v_scale = INFINITY;
    expect_accepted(&p);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, check_nvfp4_head_dim)
{
    static const int bad[] = {1, 8, 15, 17, 24, 40};
    static const int good[] = {16, 32, 48, 128};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvc_problem p;
        make_problem(&p, 1, 1, bad[i], 1, 1);
        set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
        expect_refused(&p, "head_dim");
        expect_refused(&p, "16");
        /* fp8 has no such rule */
        set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TOKEN);
        expect_accepted(&p);
        kvc_problem_free(&p);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        kvc_problem p;
        make_problem(&p, 1, 1, good[i], 1, 1);
        set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
        expect_accepted(&p);
        kvc_problem_free(&p);
    }
}

Test(oracle_kv_store, refusals_reach_store_and_reference)
{
    kvc_problem p;
    kvc_kv_store st;
    kvc_reference r;
    char err[256];
    make_problem(&p, 1, 1, 24, 1, 1);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);

    err[0] = 0;
    memset(&st, 0x5A, sizeof st);
    cr_assert_eq(kvc_kv_store_compute(&p, &st, err, sizeof err), -1);
    cr_assert(strstr(err, "16") != NULL, "%s", err);
    cr_assert_null(st.k);
    cr_assert_null(st.k_code);
    kvc_kv_store_free(&st);

    err[0] = 0;
    cr_assert_eq(kvc_reference_compute(&p, &r, err, sizeof err), -1);
    cr_assert(strstr(err, "16") != NULL, "%s", err);
    kvc_reference_free(&r);

    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    p.quant.v_scale = -2.0f;
    err[0] = 0;
    cr_assert_eq(kvc_reference_compute(&p, &r, err, sizeof err), -1);
    cr_assert(strstr(err, "v_scale") != NULL, "%s", err);
    cr_assert_eq(kvc_kv_store_compute(NULL, &st, err, sizeof err), -1);
    cr_assert_eq(kvc_kv_store_compute(&p, NULL, err, sizeof err), -1);
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* f32: the logical values, bit for bit                                     */
/* ======================================================================== */

Test(oracle_kv_store, f32_keeps_every_bit)
{
    static const uint32_t bits[] = {
        0x3FC00000u, /* 1.5 */
        0x80000000u, /* -0 */
        0x7FC12345u, /* quiet NaN with a payload */
        0x7F800001u, /* signalling NaN */
        0xFFC00001u, /* negative NaN with a payload */
        0x7F800000u, /* +inf */
        0x00000001u, /* smallest subnormal */
        0xFF7FFFFFu, /* -FLT_MAX */
    };
    const int n = (int)(sizeof bits / sizeof bits[0]);
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 1, 1, n, 1, 0);
    for (int d = 0; d < n; d++) {
        memcpy(&p.k[d], &bits[d], sizeof bits[d]);
        memcpy(&p.v[n - 1 - d], &bits[d], sizeof bits[d]);
    }
    store_of(&p, &st);
    cr_assert_eq(st.dtype, KVC_KV_F32);
    cr_assert_eq(st.kind, KVC_SCALE_NONE);
    cr_assert_null(st.k_token_scale);
    cr_assert_null(st.k_group_code);
    for (int d = 0; d < n; d++) {
        uint32_t kb, vb; /* bytes, so no float move can touch an sNaN */
        memcpy(&kb, &st.k[d], sizeof kb);
        memcpy(&vb, &st.v[n - 1 - d], sizeof vb);
        cr_assert_eq(kb, bits[d], "K[%d] = 0x%08X, want 0x%08X", d,
                     (unsigned)kb, (unsigned)bits[d]);
        cr_assert_eq(vb, bits[d]);
        cr_assert_eq(st.k_code[d], bits[d]);
        cr_assert_eq(st.v_code[n - 1 - d], bits[d]);
        cr_assert_eq(kvc_kv_store_scale(&p, &st, 0, 0, 0, d), 1.0f);
    }
    kvc_kv_store_free(&st);
    kvc_kv_store_free(&st); /* safe on the zeroed struct */
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* f16, bf16 (no scale)                                                     */
/* ======================================================================== */

Test(oracle_kv_store, f16_none)
{
    /* binary16: 1 + m/1024, bias 15; subnormals m * 2^-24 */
    const elem t[] = {
        {1.0f, 0x3C00, 1.0f},
        /* 1 + 2^-11: midpoint of 1 (m 0) and 1 + 2^-10 (m 1): even, m 0 */
        {1.0f + 0x1p-11f, 0x3C00, 1.0f},
        {up(1.0f + 0x1p-11f), 0x3C01, 1.0f + 0x1p-10f},
        {down(1.0f + 0x1p-11f), 0x3C00, 1.0f},
        /* 1 + 3 * 2^-11: midpoint of m 1 and m 2: even, m 2 */
        {1.0f + 0x1.8p-10f, 0x3C02, 1.0f + 0x1p-9f},
        {65504.0f, 0x7BFF, 65504.0f},
        /* 65520: midpoint of 65504 (m 0x3FF, odd) and 2^16: rounds up, past
         * the largest finite: IEEE overflow to +inf */
        {65520.0f, 0x7C00, INFINITY},
        {down(65520.0f), 0x7BFF, 65504.0f},
        {-1e10f, 0xFC00, -INFINITY},
        {0x1p-24f, 0x0001, 0x1p-24f},
        /* 2^-25: midpoint of 0 and 2^-24: even, 0 */
        {0x1p-25f, 0x0000, 0.0f},
        {up(0x1p-25f), 0x0001, 0x1p-24f},
        {-0x1p-25f, 0x8000, -0.0f},
        /* 3 * 2^-25: midpoint of 1 and 2 quanta: even, 2 */
        {0x1.8p-24f, 0x0002, 0x1p-23f},
        /* just below the smallest normal 2^-14: rounds up to it */
        {down(0x1p-14f), 0x0400, 0x1p-14f},
        {-0.0f, 0x8000, -0.0f},
        {INFINITY, 0x7C00, INFINITY},
        {-INFINITY, 0xFC00, -INFINITY},
        {NAN, 0x7E00, NAN},
        {neg_nan(), 0xFE00, NAN},
    };
    TABLE(KVC_KV_F16, KVC_SCALE_NONE, 0.0f, t);
}

Test(oracle_kv_store, bf16_none)
{
    /* bfloat16: 1 + m/128, bias 127; subnormals m * 2^-133 */
    const elem t[] = {
        {1.0f, 0x3F80, 1.0f},
        /* 1 + 2^-8: midpoint of m 0 and m 1: even, m 0 */
        {1.0f + 0x1p-8f, 0x3F80, 1.0f},
        {up(1.0f + 0x1p-8f), 0x3F81, 1.0f + 0x1p-7f},
        /* 1 + 3 * 2^-8: midpoint of m 1 and m 2: even, m 2 */
        {1.0f + 0x1.8p-7f, 0x3F82, 1.0f + 0x1p-6f},
        {-(1.0f + 0x1.8p-7f), 0xBF82, -(1.0f + 0x1p-6f)},
        {0x1.fep127f, 0x7F7F, 0x1.fep127f},
        /* (2 - 2^-8) 2^127: midpoint of the largest finite (m 0x7F, odd)
         * and 2^128: rounds up: +inf */
        {0x1.ffp127f, 0x7F80, INFINITY},
        {down(0x1.ffp127f), 0x7F7F, 0x1.fep127f},
        {-FLT_MAX, 0xFF80, -INFINITY},
        {0x1p-126f, 0x0080, 0x1p-126f},
        {0x1p-133f, 0x0001, 0x1p-133f},
        /* 2^-134: midpoint of 0 and 2^-133: even, 0 */
        {0x1p-134f, 0x0000, 0.0f},
        {up(0x1p-134f), 0x0001, 0x1p-133f},
        {-0x1p-134f, 0x8000, -0.0f},
        /* 3 * 2^-134: midpoint of 1 and 2 quanta: 2 */
        {0x1.8p-133f, 0x0002, 0x1p-132f},
        {-0.0f, 0x8000, -0.0f},
        {INFINITY, 0x7F80, INFINITY},
        {-INFINITY, 0xFF80, -INFINITY},
        {NAN, 0x7FC0, NAN},
        {neg_nan(), 0xFFC0, NAN},
    };
    TABLE(KVC_KV_BF16, KVC_SCALE_NONE, 0.0f, t);
}

/* ======================================================================== */
/* fp8 and int8 with a tensor scale                                         */
/* ======================================================================== */

Test(oracle_kv_store, e4m3_tensor)
{
    /* scale 2: t = x / 2 (exact), stored = decode * 2. e4m3: (1 + m/8)
     * 2^(e-7), code (e << 3) | m; subnormals m * 2^-9; 448 = 0x7E. */
    const elem t[] = {
        {2.0f, 0x38, 2.0f},               /* t 1 */
        /* t 1.0625: midpoint of 1 (m 0) and 1.125 (m 1): m 0 */
        {2.125f, 0x38, 2.0f},
        {up(2.125f), 0x39, 2.25f},        /* t just above: 1.125 */
        {down(2.125f), 0x38, 2.0f},
        /* t 1.1875: midpoint of m 1 and m 2: m 2 (1.25) */
        {2.375f, 0x3A, 2.5f},
        {896.0f, 0x7E, 896.0f},           /* t 448 */
        /* t 464: half way to the NaN slot 480, beyond 448: saturates */
        {928.0f, 0x7E, 896.0f},
        {up(896.0f), 0x7E, 896.0f},
        /* t = 448 - 1 ulp: RNE on the grid of [256, 512) (step 32): 448 */
        {down(896.0f), 0x7E, 896.0f},
        {-1e30f, 0xFE, -896.0f},
        {INFINITY, 0x7E, 896.0f},
        {-INFINITY, 0xFE, -896.0f},
        {NAN, 0x7F, NAN},
        {neg_nan(), 0x7F, NAN},           /* the NaN code has no sign */
        {0x1p-8f, 0x01, 0x1p-8f},         /* t 2^-9: smallest subnormal */
        {0x1p-9f, 0x00, 0.0f},            /* t 2^-10: midpoint, to 0 */
        {up(0x1p-9f), 0x01, 0x1p-8f},
        {-0x1p-9f, 0x80, -0.0f},          /* rounds to 0, sign kept */
        /* t 3 * 2^-10: midpoint of 1 and 2 quanta: 2 -> 2 * 2^-9 * 2 */
        {0x1.8p-8f, 0x02, 0x1p-7f},
        {0x1.cp-6f, 0x07, 0x1.cp-6f},     /* t 7 * 2^-9: largest subnormal */
        {0x1p-5f, 0x08, 0x1p-5f},         /* t 2^-6: smallest normal */
        {-0.0f, 0x80, -0.0f},
        {0.0f, 0x00, 0.0f},
    };
    TABLE(KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR, 2.0f, t);
}

Test(oracle_kv_store, e5m2_tensor)
{
    /* scale 0.5: t = 2x, stored = decode / 2. e5m2: (1 + m/4) 2^(e-15),
     * code (e << 2) | m; subnormals m * 2^-16; 57344 = 0x7B. */
    const elem t[] = {
        {0.5f, 0x3C, 0.5f},               /* t 1 */
        /* t 1.125: midpoint of 1 (m 0) and 1.25 (m 1): m 0 */
        {0.5625f, 0x3C, 0.5f},
        {up(0.5625f), 0x3D, 0.625f},
        /* t 1.375: midpoint of m 1 and m 2: m 2 (1.5) */
        {0.6875f, 0x3E, 0.75f},
        {28672.0f, 0x7B, 28672.0f},       /* t 57344 */
        /* t 61440: half way to 2^16 (inf), beyond 57344: saturates */
        {30720.0f, 0x7B, 28672.0f},
        {1e30f, 0x7B, 28672.0f},
        {INFINITY, 0x7B, 28672.0f},       /* inf is never written */
        {-INFINITY, 0xFB, -28672.0f},
        {NAN, 0x7F, NAN},
        {0x1p-17f, 0x01, 0x1p-17f},       /* t 2^-16 */
        {0x1p-18f, 0x00, 0.0f},           /* t 2^-17: midpoint, to 0 */
        {up(0x1p-18f), 0x01, 0x1p-17f},
        {-0x1p-18f, 0x80, -0.0f},
        {0x1.8p-17f, 0x02, 0x1p-16f},     /* t 3 * 2^-17: to 2 quanta */
        {0x1p-15f, 0x04, 0x1p-15f},       /* t 2^-14: smallest normal */
        {-0.0f, 0x80, -0.0f},
    };
    TABLE(KVC_KV_FP8_E5M2, KVC_SCALE_TENSOR, 0.5f, t);
}

Test(oracle_kv_store, int8_tensor)
{
    /* scale 0.25: t = 4x, code = clamp(RNE(t), -128, 127) as a byte,
     * stored = q / 4 */
    const elem t[] = {
        {0.625f, 2, 0.5f},                /* t 2.5: tie, even 2 */
        {up(0.625f), 3, 0.75f},
        {down(0.625f), 2, 0.5f},
        {0.875f, 4, 1.0f},                /* t 3.5: tie, even 4 */
        {-0.625f, 0xFE, -0.5f},           /* t -2.5: -2 */
        {0.125f, 0, 0.0f},                /* t 0.5: tie, 0 */
        {0.375f, 2, 0.5f},                /* t 1.5: 2 */
        {31.75f, 127, 31.75f},            /* t 127 */
        {31.875f, 127, 31.75f},           /* t 127.5: 128, clamped */
        {50.0f, 127, 31.75f},             /* t 200 */
        {-32.0f, 0x80, -32.0f},           /* t -128 */
        {-32.125f, 0x80, -32.0f},         /* t -128.5: tie, even -128 */
        {-75.0f, 0x80, -32.0f},
        {NAN, 0, 0.0f},
        {INFINITY, 127, 31.75f},
        {-INFINITY, 0x80, -32.0f},
        {-0.0f, 0, 0.0f},                 /* -0 -> 0: stored +0 */
        {-0.1f, 0, 0.0f},                 /* t -0.4: 0, stored +0 */
        {1e-30f, 0, 0.0f},
    };
    TABLE(KVC_KV_INT8, KVC_SCALE_TENSOR, 0.25f, t);
}

Test(oracle_kv_store, tensor_scales_differ_for_k_and_v)
{
    /* e4m3, K scale 1, V scale 4, both rows [3, 500]:
     *   K: t 3 = 1.5 * 2 -> 0x44; t 500 > 448 -> 0x7E, stored 448
     *   V: t 0.75 = 1.5 * 2^-1 -> (6 << 3) | 4 = 0x34, stored 3;
     *      t 125 in [64, 128), step 8: 15.625 -> 16 -> 128 = 0x70,
     *      stored 512 */
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 1, 1, 2, 1, 0);
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    p.quant.v_scale = 4.0f;
    p.k[0] = p.v[0] = 3.0f;
    p.k[1] = p.v[1] = 500.0f;
    store_of(&p, &st);
    cr_assert_eq(st.k_code[0], 0x44);
    cr_assert_eq(st.k_code[1], 0x7E);
    cr_assert_eq(st.v_code[0], 0x34);
    cr_assert_eq(st.v_code[1], 0x70);
    SAME(st.k[0], 3.0f);
    SAME(st.k[1], 448.0f);
    SAME(st.v[0], 3.0f);
    SAME(st.v[1], 512.0f);
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 1), 1.0f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 1), 4.0f);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* Per KV head                                                              */
/* ======================================================================== */

Test(oracle_kv_store, e4m3_head)
{
    /* Hkv 2, D 3, one position; K scales [1, 4], V scales [0.5, 8]; every
     * row [3, 10, 500].
     *   K h0 (t = x): 3 = 1.5*2 -> e 8, m 4: 0x44; 10 = 1.25*8 -> e 10,
     *     m 2: 0x52; 500 > 448: 0x7E, stored 448
     *   K h1 (t = x/4): 0.75 -> e 6, m 4: 0x34; 2.5 -> e 8, m 2: 0x42;
     *     125 -> step 8: 15.625 -> 16 -> 128 = e 14, m 0: 0x70, stored 512
     *   V h0 (t = 2x): 6 -> e 9, m 4: 0x4C; 20 -> e 11, m 2: 0x5A;
     *     1000 -> 0x7E, stored 448 * 0.5 = 224
     *   V h1 (t = x/8): 0.375 -> e 5, m 4: 0x2C; 1.25 -> e 7, m 2: 0x3A;
     *     62.5 in [32, 64), step 4: 15.625 -> 16 -> 64 = e 13: 0x68,
     *     stored 512 */
    static const uint32_t kc[2][3] = {{0x44, 0x52, 0x7E}, {0x34, 0x42, 0x70}};
    static const uint32_t vc[2][3] = {{0x4C, 0x5A, 0x7E}, {0x2C, 0x3A, 0x68}};
    static const float ks[2][3] = {{3, 10, 448}, {3, 10, 512}};
    static const float vs[2][3] = {{3, 10, 224}, {3, 10, 512}};
    static const float x[3] = {3.0f, 10.0f, 500.0f};
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 2, 2, 3, 1, 0);
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_HEAD);
    p.quant.k_head_scale[1] = 4.0f;
    p.quant.v_head_scale[0] = 0.5f;
    p.quant.v_head_scale[1] = 8.0f;
    for (int h = 0; h < 2; h++)
        for (int d = 0; d < 3; d++)
            p.k[h * 3 + d] = p.v[h * 3 + d] = x[d];
    store_of(&p, &st);
    for (int h = 0; h < 2; h++)
        for (int d = 0; d < 3; d++) {
            cr_assert_eq(st.k_code[h * 3 + d], kc[h][d], "K h%d d%d: 0x%X", h,
                         d, (unsigned)st.k_code[h * 3 + d]);
            cr_assert_eq(st.v_code[h * 3 + d], vc[h][d], "V h%d d%d: 0x%X", h,
                         d, (unsigned)st.v_code[h * 3 + d]);
            SAME(st.k[h * 3 + d], ks[h][d]);
            SAME(st.v[h * 3 + d], vs[h][d]);
        }
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 2), 1.0f);
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 1, 0), 4.0f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 1), 0.5f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 1, 2), 8.0f);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, int8_head)
{
    /* Hkv 2, D 2, K scales [0.5, 2] (V the same), rows [3, -1]:
     *   h0: t 6 -> 6, stored 3; t -2 -> 0xFE, stored -1
     *   h1: t 1.5 -> tie, even 2, stored 4; t -0.5 -> tie, 0 (-0 -> 0),
     *       stored +0 */
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 2, 2, 2, 1, 0);
    set_quant(&p, KVC_KV_INT8, KVC_SCALE_HEAD);
    p.quant.k_head_scale[0] = p.quant.v_head_scale[0] = 0.5f;
    p.quant.k_head_scale[1] = p.quant.v_head_scale[1] = 2.0f;
    for (int h = 0; h < 2; h++) {
        p.k[h * 2] = p.v[h * 2] = 3.0f;
        p.k[h * 2 + 1] = p.v[h * 2 + 1] = -1.0f;
    }
    store_of(&p, &st);
    static const uint32_t c[4] = {6, 0xFE, 2, 0};
    static const float s[4] = {3.0f, -1.0f, 4.0f, 0.0f};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(st.k_code[i], c[i], "K %d: 0x%X", i,
                     (unsigned)st.k_code[i]);
        cr_assert_eq(st.v_code[i], c[i]);
        SAME(st.k[i], s[i]);
        SAME(st.v[i], s[i]);
    }
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* Per token                                                                */
/* ======================================================================== */

/* A problem of `rows` positions, one KV head, D = dim; K and V rows both
 * x[r][.]; the store of it in *st. */
static void token_store(kvc_problem *p, kvc_kv_store *st, kvc_kv_dtype dt,
                        int rows, int dim, const float *x)
{
    make_problem(p, 1, 1, dim, rows, 0);
    set_quant(p, dt, KVC_SCALE_TOKEN);
    memcpy(p->k, x, (size_t)(rows * dim) * sizeof *x);
    memcpy(p->v, x, (size_t)(rows * dim) * sizeof *x);
    store_of(p, st);
    cr_assert_not_null(st->k_token_scale);
    cr_assert_not_null(st->v_token_scale);
    cr_assert_null(st->k_group_code);
}

static void expect_row(const kvc_kv_store *st, int r, int dim,
                       const uint32_t *code, const float *stored)
{
    for (int d = 0; d < dim; d++) {
        int64_t i = (int64_t)r * dim + d;
        cr_assert_eq(st->k_code[i], code[d], "row %d d %d: K code 0x%X, want "
                     "0x%X", r, d, (unsigned)st->k_code[i], (unsigned)code[d]);
        cr_assert_eq(st->v_code[i], code[d]);
        cr_assert(same_float(st->k[i], stored[d]),
                  "row %d d %d: K stored %a, want %a", r, d, (double)st->k[i],
                  (double)stored[d]);
        cr_assert(same_float(st->v[i], stored[d]));
    }
}

Test(oracle_kv_store, e4m3_token)
{
    enum { D = 8, R = 5 };
    const float x[R][D] = {
        /* amax over the finite 896 (NaN, inf ignored): s = 896/448 = 2 */
        {896.0f, -896.0f, 1.0f, NAN, INFINITY, -INFINITY, 0.5f, -0.0f},
        /* all zero: amax 0, s = 0 -> 2^-23 */
        {0, 0, 0, 0, 0, 0, 0, 0},
        /* all non-finite: amax 0, s = 2^-23 */
        {NAN, INFINITY, -INFINITY, NAN, INFINITY, -INFINITY, NAN, NAN},
        /* amax 2^-149: 2^-149 / 448 rounds to 0 in fp32 -> 2^-23 */
        {0x1p-149f, 0, -0.0f, 0, 0, 0, 0, 0},
        /* amax 1: s = fp32(1/448), not a power of two */
        {1.0f, 0.5f, -1.0f, 0, 0, 0, 0, 0},
    };
    kvc_problem p;
    kvc_kv_store st;
    token_store(&p, &st, KVC_KV_FP8_E4M3, R, D, &x[0][0]);

    /* row 0, s 2: t 448 -> 0x7E; -448 -> 0xFE; 0.5 = 2^-1 -> e 6: 0x30;
     * NaN -> 0x7F; +-inf saturate; 0.25 -> e 5: 0x28; -0 -> 0x80 */
    static const uint32_t c0[D] = {0x7E, 0xFE, 0x30, 0x7F, 0x7E, 0xFE, 0x28,
                                   0x80};
    const float s0[D] = {896, -896, 1, NAN, 896, -896, 0.5f, -0.0f};
    SAME(st.k_token_scale[0], 2.0f);
    SAME(st.v_token_scale[0], 2.0f);
    expect_row(&st, 0, D, c0, s0);

    static const uint32_t zero[D] = {0};
    const float fzero[D] = {0};
    SAME(st.k_token_scale[1], 0x1p-23f);
    expect_row(&st, 1, D, zero, fzero);

    /* row 2, s 2^-23: NaN -> 0x7F, +-inf -> +-448 * 2^-23 */
    static const uint32_t c2[D] = {0x7F, 0x7E, 0xFE, 0x7F, 0x7E, 0xFE, 0x7F,
                                   0x7F};
    const float m = 448.0f * 0x1p-23f;
    const float s2[D] = {NAN, m, -m, NAN, m, -m, NAN, NAN};
    SAME(st.k_token_scale[2], 0x1p-23f);
    expect_row(&st, 2, D, c2, s2);

    /* row 3, s 2^-23: t = 2^-126, far below 2^-10: +0; -0 stays -0 */
    static const uint32_t c3[D] = {0, 0, 0x80, 0, 0, 0, 0, 0};
    const float s3[D] = {0, 0, -0.0f, 0, 0, 0, 0, 0};
    SAME(st.k_token_scale[3], 0x1p-23f);
    expect_row(&st, 3, D, c3, s3);

    /* row 4: s = fp32(1/448) (native float division, correctly rounded);
     * t = fp32(1/s) is 448 within an ulp: 0x7E either way (saturation or
     * RNE on the step-32 grid); t = fp32(0.5/s) is 224 within an ulp: in
     * [128, 256) step 16, 224 = 1.75 * 128 -> e 14, m 6: 0x76. Stored
     * fp32(448 * s), fp32(224 * s). */
    volatile float num = 1.0f;
    float s = num / 448.0f;
    static const uint32_t c4[D] = {0x7E, 0x76, 0xFE, 0, 0, 0, 0, 0};
    const float s4[D] = {448.0f * s, 224.0f * s, -448.0f * s, 0, 0, 0, 0, 0};
    SAME(st.k_token_scale[4], s);
    expect_row(&st, 4, D, c4, s4);
    for (int r = 0; r < R; r++)
        SAME(kvc_kv_store_scale(&p, &st, 1, r, 0, 3), st.v_token_scale[r]);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, e5m2_token)
{
    enum { D = 8 };
    /* amax 229376 = 57344 * 4: s = 4; t: 57344 -> 0x7B; 1 -> 0x3C;
     * 1.125 (midpoint of m 0, m 1) -> 0x3C; -1.125 -> 0xBC; 1.25 -> 0x3D;
     * NaN -> 0x7F; inf -> saturates 0x7B; 0 -> 0 */
    const float x[D] = {229376.0f, 4.0f, 4.5f, -4.5f, 5.0f, NAN, INFINITY, 0};
    static const uint32_t c[D] = {0x7B, 0x3C, 0x3C, 0xBC, 0x3D, 0x7F, 0x7B, 0};
    const float s[D] = {229376, 4, 4, -4, 5, NAN, 229376, 0};
    kvc_problem p;
    kvc_kv_store st;
    token_store(&p, &st, KVC_KV_FP8_E5M2, 1, D, x);
    SAME(st.k_token_scale[0], 4.0f);
    expect_row(&st, 0, D, c, s);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, int8_token)
{
    enum { D = 8, R = 2 };
    const float x[R][D] = {
        /* amax 127.5: s = 1 */
        {127.5f, 2.5f, -127.5f, 0.5f, NAN, INFINITY, -INFINITY, -0.0f},
        {0, 0, 0, 0, 0, 0, 0, 0},
    };
    /* 127.5 -> 128 clamped 127; 2.5 -> 2; -127.5 -> tie, even -128;
     * 0.5 -> 0; NaN -> 0; +inf -> 127; -inf -> -128; -0 -> 0 (+0) */
    static const uint32_t c0[D] = {127, 2, 0x80, 0, 0, 127, 0x80, 0};
    const float s0[D] = {127, 2, -128, 0, 0, 127, -128, 0};
    static const uint32_t zero[D] = {0};
    const float fzero[D] = {0};
    kvc_problem p;
    kvc_kv_store st;
    token_store(&p, &st, KVC_KV_INT8, R, D, &x[0][0]);
    SAME(st.k_token_scale[0], 1.0f);
    expect_row(&st, 0, D, c0, s0);
    SAME(st.k_token_scale[1], 0x1p-23f);
    expect_row(&st, 1, D, zero, fzero);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* nvfp4 groups                                                             */
/* ======================================================================== */

/* e2m1 codes: magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6 for codes 0..7, bit 3
 * the sign. */

Test(oracle_kv_store, nvfp4_group_grid)
{
    enum { D = 32 };
    /* K global 1, V global 2, both rows:
     *   group 0: amax 6 (NaN, inf ignored)
     *   group 1: all zero
     * K group 0: fp32(6/6) = 1, fp32(1 * 1) = 1 -> e4m3 0x38, s = 1/1 = 1.
     * V group 0: fp32(2 * 1) = 2 -> e4m3 e 8: 0x40, s = 2/2 = 1.
     * Group 1 (both): amax 0 -> e4m3 0x00 -> replaced by 0x01 (2^-9),
     * s = 2^-9 / g: 2^-9 (K), 2^-10 (V); codes +0, stored +0. */
    const elem g0[16] = {
        {6.0f, 0x7, 6.0f},
        {0.25f, 0x0, 0.0f},     /* tie 0 / 0.5: 0 */
        {0.75f, 0x2, 1.0f},     /* tie 0.5 / 1: 1 */
        {1.25f, 0x2, 1.0f},     /* tie 1 / 1.5: 1 */
        {1.75f, 0x4, 2.0f},     /* tie 1.5 / 2: 2 */
        {2.5f, 0x4, 2.0f},      /* tie 2 / 3: 2 */
        {3.5f, 0x6, 4.0f},      /* tie 3 / 4: 4 */
        {5.0f, 0x6, 4.0f},      /* tie 4 / 6: 4 */
        {-5.0f, 0xE, -4.0f},
        {up(0.25f), 0x1, 0.5f},
        {down(0.75f), 0x1, 0.5f},
        {-0.0f, 0x8, -0.0f},
        {-0.1f, 0x8, -0.0f},    /* rounds to 0, sign kept */
        {NAN, 0x0, 0.0f},       /* NaN -> +0 */
        {INFINITY, 0x7, 6.0f},  /* saturates */
        {-INFINITY, 0xF, -6.0f},
    };
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 1, 1, D, 1, 0);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    p.quant.k_scale = 1.0f;
    p.quant.v_scale = 2.0f;
    for (int d = 0; d < 16; d++)
        p.k[d] = p.v[d] = g0[d].x;
    store_of(&p, &st);
    cr_assert_not_null(st.k_group_code);
    cr_assert_null(st.k_token_scale);
    cr_assert_eq(st.k_group_code[0], 0x38);
    cr_assert_eq(st.k_group_code[1], 0x01);
    cr_assert_eq(st.v_group_code[0], 0x40);
    cr_assert_eq(st.v_group_code[1], 0x01);
    for (int d = 0; d < 16; d++) {
        cr_assert_eq(st.k_code[d], g0[d].code, "d %d (x %a): 0x%X, want 0x%X",
                     d, (double)g0[d].x, (unsigned)st.k_code[d],
                     (unsigned)g0[d].code);
        cr_assert_eq(st.v_code[d], g0[d].code);
        SAME(st.k[d], g0[d].stored);
        SAME(st.v[d], g0[d].stored);
    }
    for (int d = 16; d < D; d++) {
        cr_assert_eq(st.k_code[d], 0);
        cr_assert_eq(st.v_code[d], 0);
        SAME(st.k[d], 0.0f);
        SAME(st.v[d], 0.0f);
    }
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 15), 1.0f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 0), 1.0f);
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 16), 0x1p-9f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 31), 0x1p-10f);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, nvfp4_block_scales)
{
    enum { D = 48 };
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 1, 1, D, 1, 0);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    p.quant.k_scale = 1.0f;
    p.quant.v_scale = 2.0f;
    /* K (g 1):
     *  group 0, amax 6.375: fp32(6.375/6) = 1.0625, midpoint of e4m3 1 and
     *    1.125: 0x38, s 1. 6.375 -> t 6.375 > 6: saturates 7, stored 6;
     *    -6.375 -> 0xF; 2.9 -> nearer 3: 5, stored 3
     *  group 1, amax 3000: fp32(3000/6) = 500 > 448: 0x7E, s 448.
     *    3000 -> t = fp32(3000/448) = 6.69..: 7, stored 2688; 448 -> t 1:
     *    2, stored 448; 100 -> t 0.223 < 0.25: 0; -1000 -> t -2.23: 0xC,
     *    stored -896
     *  group 2, amax 1.5 * 2^-10: fp32(amax/6) = 2^-12, below half the
     *    smallest e4m3 subnormal: 0x00 -> 0x01, s 2^-9. 1.5 * 2^-10 ->
     *    t 0.75: tie, 1 (code 2), stored 2^-9; 2^-12 -> t 0.125: 0;
     *    -2^-11 -> t -0.25: tie, -0 (0x8), stored -0 */
    p.k[0] = 6.375f, p.k[1] = -6.375f, p.k[2] = 2.9f;
    p.k[16] = 3000.0f, p.k[17] = 448.0f, p.k[18] = 100.0f, p.k[19] = -1000.0f;
    p.k[32] = 0x1.8p-10f, p.k[33] = 0x1p-12f, p.k[34] = -0x1p-11f;
    /* V (g 2):
     *  group 0, amax 3: fp32(3/6) = 0.5, fp32(2 * 0.5) = 1: 0x38, s 0.5.
     *    3 -> t 6: 7, stored 3; 1 -> t 2: 4, stored 1; 0.3 -> t 0.6:
     *    0.5 (code 1), stored 0.25; -0.375 -> t -0.75: tie, 1: 0xA, stored
     *    -0.5; 0.125 -> t 0.25: tie, 0
     *  group 1, all -0: amax 0 -> 0x01, s = 2^-9/2 = 2^-10; every code
     *    0x8, stored -0
     *  group 2, amax 6.375: 1.0625 * 2 = 2.125, midpoint of e4m3 2 and
     *    2.25: even, 2 (0x40), s = 2/2 = 1. 6.375 -> 7, stored 6 */
    p.v[0] = 3.0f, p.v[1] = 1.0f, p.v[2] = 0.3f, p.v[3] = -0.375f;
    p.v[4] = 0.125f;
    for (int d = 16; d < 32; d++)
        p.v[d] = -0.0f;
    p.v[32] = 6.375f;
    store_of(&p, &st);

    cr_assert_eq(st.k_group_code[0], 0x38);
    cr_assert_eq(st.k_group_code[1], 0x7E);
    cr_assert_eq(st.k_group_code[2], 0x01);
    cr_assert_eq(st.v_group_code[0], 0x38);
    cr_assert_eq(st.v_group_code[1], 0x01);
    cr_assert_eq(st.v_group_code[2], 0x40);

    static const struct { int d; uint32_t code; float stored; } kw[] = {
        {0, 0x7, 6.0f},      {1, 0xF, -6.0f},   {2, 0x5, 3.0f},
        {3, 0x0, 0.0f},      {16, 0x7, 2688.0f}, {17, 0x2, 448.0f},
        {18, 0x0, 0.0f},     {19, 0xC, -896.0f}, {20, 0x0, 0.0f},
        {32, 0x2, 0x1p-9f},  {33, 0x0, 0.0f},   {34, 0x8, -0.0f},
        {35, 0x0, 0.0f},
    }, vw[] = {
        {0, 0x7, 3.0f},      {1, 0x4, 1.0f},    {2, 0x1, 0.25f},
        {3, 0xA, -0.5f},     {4, 0x0, 0.0f},    {5, 0x0, 0.0f},
        {16, 0x8, -0.0f},    {31, 0x8, -0.0f},  {32, 0x7, 6.0f},
        {33, 0x0, 0.0f},
    };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        int d = kw[i].d;
        cr_assert_eq(st.k_code[d], kw[i].code, "K d %d: 0x%X, want 0x%X", d,
                     (unsigned)st.k_code[d], (unsigned)kw[i].code);
        SAME(st.k[d], kw[i].stored);
    }
    for (size_t i = 0; i < sizeof vw / sizeof vw[0]; i++) {
        int d = vw[i].d;
        cr_assert_eq(st.v_code[d], vw[i].code, "V d %d: 0x%X, want 0x%X", d,
                     (unsigned)st.v_code[d], (unsigned)vw[i].code);
        SAME(st.v[d], vw[i].stored);
    }
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 20), 448.0f);
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 47), 0x1p-9f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 5), 0.5f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 17), 0x1p-10f);
    SAME(kvc_kv_store_scale(&p, &st, 1, 0, 0, 40), 1.0f);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, nvfp4_large_global)
{
    /* g 448 (K), one row of D 32:
     *  group 0, amax 6: fp32(6/6) = 1, fp32(448 * 1) = 448: 0x7E,
     *    s = fp32(448/448) = 1. 6 -> 7; 1.75 -> tie, 2 (code 4)
     *  group 1, amax 6 * 2^-20: 2^-20 * 448 = 1.75 * 2^-12 < 2^-10: 0x00
     *    -> 0x01, s = fp32(2^-9 / 448) (native division). 6 * 2^-20 ->
     *    t = fp32(x / s) ~ 6 * 2^-20 * 448 * 2^9 = 1.3125, nearer 1.5
     *    than 1 (midpoint 1.25): code 3, stored fp32(1.5 * s) */
    kvc_problem p;
    kvc_kv_store st;
    make_problem(&p, 1, 1, 32, 1, 0);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    p.quant.k_scale = 448.0f;
    p.k[0] = 6.0f;
    p.k[1] = 1.75f;
    p.k[16] = 6.0f * 0x1p-20f;
    store_of(&p, &st);
    volatile float tiny = 0x1p-9f;
    float s1 = tiny / 448.0f;
    cr_assert_eq(st.k_group_code[0], 0x7E);
    cr_assert_eq(st.k_group_code[1], 0x01);
    cr_assert_eq(st.k_code[0], 0x7);
    cr_assert_eq(st.k_code[1], 0x4);
    cr_assert_eq(st.k_code[16], 0x3);
    SAME(st.k[0], 6.0f);
    SAME(st.k[1], 2.0f);
    SAME(st.k[16], 1.5f * s1);
    SAME(kvc_kv_store_scale(&p, &st, 0, 0, 0, 16), s1);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* Layout: rows of every sequence, KV heads, groups                         */
/* ======================================================================== */

/* Two sequences (ctx 1 + q 1, ctx 2 + q 0): 4 position rows; Hkv 2. */
static void two_seq_problem(kvc_problem *p, int dim)
{
    kvc_config c;
    memset(&c, 0, sizeof c);
    c.num_q_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = dim;
    c.scale = 0.5f;
    c.causal = 1;
    c.window_left = KVC_NO_WINDOW;
    const int ctx[2] = {1, 2}, ql[2] = {1, 0};
    cr_assert_eq(kvc_problem_alloc(p, &c, 2, ctx, ql, 1, 0), 0);
    cr_assert_eq(p->kv_start[2], 4);
}

Test(oracle_kv_store, token_layout)
{
    /* every element of (r, h) of K is 448 * 2^(r - 2h), of V
     * -448 * 2^(h - r): token scales 2^(r - 2h) and 2^(h - r), codes 0x7E /
     * 0xFE, stored +-448 * scale */
    enum { D = 3 };
    kvc_problem p;
    kvc_kv_store st;
    two_seq_problem(&p, D);
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TOKEN);
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++)
            for (int d = 0; d < D; d++) {
                p.k[(r * 2 + h) * D + d] = ldexpf(448.0f, r - 2 * h);
                p.v[(r * 2 + h) * D + d] = -ldexpf(448.0f, h - r);
            }
    store_of(&p, &st);
    cr_assert_eq(st.rows, 4);
    cr_assert_eq(st.num_kv_heads, 2);
    cr_assert_eq(st.head_dim, D);
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++) {
            SAME(st.k_token_scale[r * 2 + h], ldexpf(1.0f, r - 2 * h));
            SAME(st.v_token_scale[r * 2 + h], ldexpf(1.0f, h - r));
            for (int d = 0; d < D; d++) {
                int i = (r * 2 + h) * D + d;
                cr_assert_eq(st.k_code[i], 0x7E);
                cr_assert_eq(st.v_code[i], 0xFE);
                SAME(st.k[i], ldexpf(448.0f, r - 2 * h));
                SAME(st.v[i], -ldexpf(448.0f, h - r));
                SAME(kvc_kv_store_scale(&p, &st, 0, r, h, d),
                     ldexpf(1.0f, r - 2 * h));
            }
        }
    /* out of range: NaN, no read */
    cr_assert(isnan(kvc_kv_store_scale(&p, &st, 0, 4, 0, 0)));
    cr_assert(isnan(kvc_kv_store_scale(&p, &st, 0, 0, 2, 0)));
    cr_assert(isnan(kvc_kv_store_scale(&p, &st, 0, 0, 0, D)));
    cr_assert(isnan(kvc_kv_store_scale(&p, &st, 2, 0, 0, 0)));
    cr_assert(isnan(kvc_kv_store_scale(&p, &st, 0, -1, 0, 0)));
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, group_layout)
{
    /* D 32, two groups; every element of group q of (r, h) of K is
     * 6 * 2^k with k = r + h - 2q (g 1): fp32(amax/6) = 2^k, e4m3 of 2^k is
     * ((k + 7) << 3) (k in [-2, 4]), s = 2^k, codes 7, stored 6 * 2^k.
     * V the same with g 4: t = 2^(k+2): ((k + 9) << 3), s = 2^k. */
    enum { D = 32 };
    kvc_problem p;
    kvc_kv_store st;
    two_seq_problem(&p, D);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    p.quant.v_scale = 4.0f;
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++)
            for (int d = 0; d < D; d++) {
                int k = r + h - 2 * (d / 16);
                p.k[(r * 2 + h) * D + d] = ldexpf(6.0f, k);
                p.v[(r * 2 + h) * D + d] = -ldexpf(6.0f, k);
            }
    store_of(&p, &st);
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++)
            for (int q = 0; q < 2; q++) {
                int k = r + h - 2 * q;
                int gi = (r * 2 + h) * 2 + q;
                cr_assert_eq(st.k_group_code[gi], (uint8_t)((k + 7) << 3),
                             "r %d h %d q %d: 0x%X", r, h, q,
                             (unsigned)st.k_group_code[gi]);
                cr_assert_eq(st.v_group_code[gi], (uint8_t)((k + 9) << 3));
                for (int d = q * 16; d < q * 16 + 16; d++) {
                    int i = (r * 2 + h) * D + d;
                    cr_assert_eq(st.k_code[i], 0x7);
                    cr_assert_eq(st.v_code[i], 0xF);
                    SAME(st.k[i], ldexpf(6.0f, k));
                    SAME(st.v[i], -ldexpf(6.0f, k));
                    SAME(kvc_kv_store_scale(&p, &st, 1, r, h, d),
                         ldexpf(1.0f, k));
                }
            }
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
}

/* ======================================================================== */
/* The reference on stored values                                           */
/* ======================================================================== */

static void fill_q(kvc_problem *p)
{
    int64_t n = p->num_tokens * p->cfg.num_q_heads * p->cfg.head_dim;
    for (int64_t i = 0; i < n; i++)
        p->q[i] = (float)((int)((i * 7) % 11) - 5) * 0.125f;
}

static void compute(const kvc_problem *p, kvc_reference *r)
{
    char err[256] = "";
    int rc = kvc_reference_compute(p, r, err, sizeof err);
    cr_assert_eq(rc, 0, "kvc_reference_compute: %s", err);
}

#define SAME_ARRAY(a, b, field, n)                                            \
    cr_assert(memcmp((a)->field, (b)->field, (size_t)(n) * sizeof *(a)->field) \
                  == 0, "reference field %s differs", #field)

static void expect_identical(const kvc_reference *a, const kvc_reference *b)
{
    cr_assert_eq(a->rows, b->rows);
    cr_assert_eq(a->num_q_heads, b->num_q_heads);
    cr_assert_eq(a->head_dim, b->head_dim);
    int64_t nrow = a->rows * a->num_q_heads;
    int64_t nelem = nrow * a->head_dim;
    SAME_ARRAY(a, b, out, nelem);
    SAME_ARRAY(a, b, out32, nelem);
    SAME_ARRAY(a, b, absw, nelem);
    SAME_ARRAY(a, b, lse, nrow);
    SAME_ARRAY(a, b, lse32, nrow);
    SAME_ARRAY(a, b, smax, nrow);
    SAME_ARRAY(a, b, vmax, nrow);
    SAME_ARRAY(a, b, nvis, nrow);
}

static int differs(const kvc_reference *a, const kvc_reference *b)
{
    int64_t nelem = a->rows * a->num_q_heads * a->head_dim;
    return memcmp(a->out, b->out, (size_t)nelem * sizeof *a->out) != 0;
}

/* pq is quantized, with logical K/V set; k_want, v_want are the stored
 * values derived by hand. Checks the store holds them, that the reference
 * of pq equals, bit for bit, that of an f32 problem with K/V = the stored
 * values, and that it differs from the reference of the logical values. */
static void expect_reference_on(const kvc_problem *pq, const float *k_want,
                                const float *v_want)
{
    int64_t n = pq->kv_start[pq->num_seqs] * pq->cfg.num_kv_heads *
                pq->cfg.head_dim;
    kvc_kv_store st;
    store_of(pq, &st);
    for (int64_t i = 0; i < n; i++) {
        cr_assert(same_float(st.k[i], k_want[i]), "K[%lld] stored %a, want %a",
                  (long long)i, (double)st.k[i], (double)k_want[i]);
        cr_assert(same_float(st.v[i], v_want[i]), "V[%lld] stored %a, want %a",
                  (long long)i, (double)st.v[i], (double)v_want[i]);
    }
    kvc_kv_store_free(&st);

    kvc_problem pf, pl;
    cr_assert_eq(kvc_problem_copy(&pf, pq), 0);
    cr_assert_eq(kvc_problem_copy(&pl, pq), 0);
    set_quant(&pf, KVC_KV_F32, KVC_SCALE_NONE);
    set_quant(&pl, KVC_KV_F32, KVC_SCALE_NONE);
    memcpy(pf.k, k_want, (size_t)n * sizeof *pf.k);
    memcpy(pf.v, v_want, (size_t)n * sizeof *pf.v);

    kvc_reference rq, rf, rl;
    compute(pq, &rq);
    compute(&pf, &rf);
    compute(&pl, &rl);
    expect_identical(&rq, &rf);
    cr_assert(differs(&rq, &rl), "quantization changed nothing: the "
              "reference did not run on the stored values");
    kvc_reference_free(&rq);
    kvc_reference_free(&rf);
    kvc_reference_free(&rl);
    kvc_problem_free(&pf);
    kvc_problem_free(&pl);
}

Test(oracle_kv_store, reference_e4m3_tensor)
{
    /* Hq 2, Hkv 1, D 4, ctx 2 + q 2: 4 position rows. K scale 0.5
     * (t = 2x), V scale 2 (t = x/2). e4m3 step in [2^E, 2^(E+1)) is
     * 2^(E-3); subnormal step 2^-9. */
    static const float kx[16] = {
        0.5f, 0.53125f, -0.75f, 300.0f, 0.1f, 1e-4f, -3.0f, 7.0f,
        2.2f, -1.3f, 0.0f, 0.0078125f, 0.37f, 50.0f, -0.2f, 1.0f};
    static const float kw[16] = {
        0.5f,      /* t 1 */
        0.5f,      /* t 1.0625: tie, m 0 */
        -0.75f,    /* t -1.5 */
        224.0f,    /* t 600 > 448: 448 * 0.5 */
        0.1015625f,/* t 0.2 (step 2^-6): 12.8 -> 13: 0.203125 * 0.5 */
        0.0f,      /* t 2e-4 (step 2^-9): 0.10 -> 0 */
        -3.0f,     /* t -6 */
        7.0f,      /* t 14 */
        2.25f,     /* t 4.4 (step 0.5): 8.8 -> 9: 4.5 * 0.5 */
        -1.25f,    /* t -2.6 (step 0.25): 10.4 -> 10: -2.5 * 0.5 */
        0.0f,
        0.0078125f,/* t 2^-6 */
        0.375f,    /* t 0.74 (step 2^-4): 11.84 -> 12: 0.75 * 0.5 */
        48.0f,     /* t 100 (step 8): 12.5, tie -> 12: 96 * 0.5 */
        -0.203125f,/* t -0.4 (step 2^-5): 12.8 -> 13: -0.40625 * 0.5 */
        1.0f};     /* t 2 */
    static const float vx[16] = {
        1.0f, -2.0f, 3.0f, 5.0f, 0.3f, 1000.0f, -0.9f, 2.25f,
        0.01f, -7.0f, 11.0f, 4.25f, -0.5f, 6.0f, 0.75f, 13.0f};
    static const float vw[16] = {
        1.0f, -2.0f, 3.0f, 5.0f, /* t 0.5, -1, 1.5, 2.5: on the grid */
        0.3125f,   /* t 0.15 (step 2^-6): 9.6 -> 10: 0.15625 * 2 */
        896.0f,    /* t 500 > 448 */
        -0.875f,   /* t -0.45 (step 2^-5): 14.4 -> 14: -0.4375 * 2 */
        2.25f,     /* t 1.125 */
        0.01171875f, /* t 0.005 (step 2^-9): 2.56 -> 3: 3 * 2^-9 * 2 */
        -7.0f, 11.0f, /* t -3.5, 5.5 */
        4.0f,      /* t 2.125 (step 0.25): 8.5, tie -> 8: 2 * 2 */
        -0.5f, 6.0f, 0.75f, 13.0f}; /* t -0.25, 3, 0.375, 6.5 */
    kvc_problem p;
    make_problem(&p, 2, 1, 4, 2, 2);
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    p.quant.k_scale = 0.5f;
    p.quant.v_scale = 2.0f;
    memcpy(p.k, kx, sizeof kx);
    memcpy(p.v, vx, sizeof vx);
    fill_q(&p);
    expect_reference_on(&p, kw, vw);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, reference_int8_token)
{
    /* Hq 2, Hkv 1, D 4, 4 rows; token scales with exact quotients */
    static const float kx[16] = {
        127.5f, 1.3f, -2.5f, 0.5f,        /* s 1 */
        -63.75f, 10.1f, 0.3f, 3.125f,     /* s 0.5 */
        0, 0, 0, 0,                       /* s 2^-23 */
        255.0f, -100.0f, 7.0f, 0.9f};     /* s 2 */
    static const float kw[16] = {
        127.0f, 1.0f, -2.0f, 0.0f,  /* 127.5 -> 127 (clamped), 1.3 -> 1,
                                       -2.5 -> -2, 0.5 -> 0 */
        -64.0f, 10.0f, 0.5f, 3.0f,  /* t -127.5 -> -128, 20.2 -> 20,
                                       0.6 -> 1, 6.25 -> 6 */
        0, 0, 0, 0,
        254.0f, -100.0f, 8.0f, 0.0f}; /* t 127.5 -> 127, -50, 3.5 -> 4,
                                         0.45 -> 0 */
    static const float vx[16] = {
        31.875f, -1.0f, 0.05f, 3.0f,      /* s 0.25 */
        -1020.0f, 500.0f, 4.0f, -12.0f,   /* s 8 */
        0.498046875f, 0.25f, -0.125f, 0.001f, /* 127.5 * 2^-8: s 2^-8 */
        -31.875f, 2.0f, 1.0f, 0.5f};      /* s 0.25 */
    static const float vw[16] = {
        31.75f, -1.0f, 0.0f, 3.0f,   /* t 127.5 -> 127, -4, 0.2 -> 0, 12 */
        -1024.0f, 496.0f, 0.0f, -16.0f, /* t -127.5 -> -128, 62.5 -> 62,
                                           0.5 -> 0, -1.5 -> -2 */
        0.49609375f, 0.25f, -0.125f, 0.0f, /* t 127.5 -> 127, 64, -32,
                                              0.256 -> 0 */
        -32.0f, 2.0f, 1.0f, 0.5f};   /* t -127.5 -> -128, 8, 4, 2 */
    kvc_problem p;
    make_problem(&p, 2, 1, 4, 2, 2);
    set_quant(&p, KVC_KV_INT8, KVC_SCALE_TOKEN);
    memcpy(p.k, kx, sizeof kx);
    memcpy(p.v, vx, sizeof vx);
    fill_q(&p);
    expect_reference_on(&p, kw, vw);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, reference_e5m2_head)
{
    /* Hq 4, Hkv 2 (GQA), D 2, ctx 1 + q 2: 3 rows. K head scales [1, 0.25],
     * V [2, 0.5]. e5m2 step in [2^E, 2^(E+1)) is 2^(E-2). Layout
     * [r][h][d]. */
    static const float kx[12] = {
        1.1f, -3.0f,   0.5f, 0.3f,          /* r0: h0 | h1 */
        0.3f, 100.0f,  -0.28125f, 16000.0f, /* r1 */
        1.125f, -7.0f, 2.0f, 0.0001f};      /* r2 */
    static const float kw[12] = {
        1.0f, -3.0f,  /* 1.1 (step 0.25): 4.4 -> 4 */
        0.5f, 0.3125f, /* t 2; t 1.2: 4.8 -> 5: 1.25 * 0.25 */
        0.3125f, 96.0f, /* 0.3 (step 2^-4): 4.8 -> 5; 100 (step 16):
                           6.25 -> 6 */
        -0.25f, 14336.0f, /* t -1.125: tie -> -1; t 64000 > 57344 */
        1.0f, -7.0f,  /* 1.125: tie -> 1 */
        2.0f, 0x1.cp-14f}; /* t 8; t 4e-4 (step 2^-14): 6.55 -> 7:
                              7 * 2^-14 * 0.25 */
    static const float vx[12] = {
        2.0f, -5.0f,  0.625f, -0.1f,
        9.0f, 0.7f,   1.75f, -2.75f,
        -1.0f, 3.3f,  0.375f, 12.0f};
    static const float vw[12] = {
        2.0f, -5.0f,   /* t 1, -2.5 */
        0.625f, -0.09375f, /* t 1.25; t -0.2 (step 2^-5): 6.4 -> 6 */
        8.0f, 0.75f,   /* t 4.5 (step 1): tie -> 4; t 0.35 (step 2^-4):
                          5.6 -> 6 */
        1.75f, -3.0f,  /* t 3.5; t -5.5 (step 1): tie -> 6 (m 2) */
        -1.0f, 3.5f,   /* t -0.5; t 1.65 (step 0.25): 6.6 -> 7 */
        0.375f, 12.0f}; /* t 0.75, 24 */
    kvc_problem p;
    make_problem(&p, 4, 2, 2, 1, 2);
    set_quant(&p, KVC_KV_FP8_E5M2, KVC_SCALE_HEAD);
    p.quant.k_head_scale[0] = 1.0f;
    p.quant.k_head_scale[1] = 0.25f;
    p.quant.v_head_scale[0] = 2.0f;
    p.quant.v_head_scale[1] = 0.5f;
    memcpy(p.k, kx, sizeof kx);
    memcpy(p.v, vx, sizeof vx);
    fill_q(&p);
    expect_reference_on(&p, kw, vw);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, reference_f16)
{
    /* Hq 1, Hkv 1, D 4, ctx 1 + q 1: 2 rows. f16 step in [2^E, 2^(E+1))
     * is 2^(E-10); subnormal step 2^-24. */
    static const float kx[8] = {
        1.0f + 0x1p-11f, 1.0f + 0x1.8p-10f, 0.1f, -3.14159274f,
        0x1p-25f, 0x1.8p-24f, 65504.0f, -65519.0f};
    static const float kw[8] = {
        1.0f,              /* tie -> m 0 */
        1.0f + 0x1p-9f,    /* tie -> m 2 */
        0.0999755859375f,  /* step 2^-14: 1638.4 -> 1638 */
        -3.140625f,        /* step 2^-9: 1608.5 - 0.005 -> 1608 */
        0.0f,              /* tie -> 0 */
        0x1p-23f,          /* tie 1 / 2 quanta -> 2 */
        65504.0f,
        -65504.0f};        /* step 32: 2047.47 -> 2047 */
    static const float vx[8] = {
        0.5f, 0.33333334f, -2.0009765625f, 1000.3f,
        6e-5f, -0.0f, 7.0f, 1e-8f};
    static const float vw[8] = {
        0.5f,
        0.333251953125f,   /* step 2^-12: 1365.33 -> 1365 */
        -2.0f,             /* -(2 + 2^-10), step 2^-9: tie -> m 0 */
        1000.5f,           /* step 0.5: 2000.6 -> 2001 */
        0x1.f78p-15f,      /* subnormal, step 2^-24: 1006.63 -> 1007:
                              1007 * 2^-24 */
        -0.0f, 7.0f,
        0.0f};             /* 0.17 quanta -> 0 */
    kvc_problem p;
    make_problem(&p, 1, 1, 4, 1, 1);
    set_quant(&p, KVC_KV_F16, KVC_SCALE_NONE);
    memcpy(p.k, kx, sizeof kx);
    memcpy(p.v, vx, sizeof vx);
    fill_q(&p);
    expect_reference_on(&p, kw, vw);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, reference_nvfp4_group)
{
    /* Hq 1, Hkv 1, D 16, ctx 1 + q 1: 2 rows, one group each. Row r of K
     * is m_d * 2^k (k = 0, -3), of V m_(15-d) * 2^k (k = 2, -1): amax
     * 6 * 2^k, fp32(amax/6) = 2^k; K g 4: block t 2^(k+2), s =
     * 2^(k+2)/4 = 2^k; V g 0.5: block t 2^(k-1), s = 2^k. So t = m_d and
     * the stored value is e2m1(m_d) * 2^k with e2m1(m) below. */
    static const float m[16] = {6.0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f,
                                3.5f, 5.0f,  -5.0f, 0.3f,  -0.7f, 1.1f,
                                -2.2f, 4.4f, 0.0f,  -0.0f};
    static const float e2m1_m[16] = {
        6.0f, 0.0f, 1.0f, 1.0f, 2.0f, 2.0f, 4.0f, 4.0f, /* ties to even */
        -4.0f,
        0.5f,  /* 0.3 > 0.25 */
        -0.5f, /* 0.7 < 0.75 */
        1.0f,  /* 1.1 < 1.25 */
        -2.0f, /* 2.2 < 2.5 */
        4.0f,  /* 4.4 < 5 */
        0.0f, -0.0f};
    static const int kk[2] = {0, -3}, vk[2] = {2, -1};
    float kx[32], kw[32], vx[32], vw[32];
    for (int r = 0; r < 2; r++)
        for (int d = 0; d < 16; d++) {
            kx[r * 16 + d] = ldexpf(m[d], kk[r]);
            kw[r * 16 + d] = ldexpf(e2m1_m[d], kk[r]);
            vx[r * 16 + d] = ldexpf(m[15 - d], vk[r]);
            vw[r * 16 + d] = ldexpf(e2m1_m[15 - d], vk[r]);
        }
    kvc_problem p;
    make_problem(&p, 1, 1, 16, 1, 1);
    set_quant(&p, KVC_KV_NVFP4, KVC_SCALE_GROUP);
    p.quant.k_scale = 4.0f;
    p.quant.v_scale = 0.5f;
    memcpy(p.k, kx, sizeof kx);
    memcpy(p.v, vx, sizeof vx);
    fill_q(&p);
    expect_reference_on(&p, kw, vw);
    kvc_problem_free(&p);
}

/* A problem with values of both signs, several sequences and a mask. */
static void f32_problem(kvc_problem *p)
{
    kvc_config c;
    memset(&c, 0, sizeof c);
    c.num_q_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 16;
    c.scale = 0.25f;
    c.softcap = 0.0f;
    c.causal = 1;
    c.window_left = KVC_NO_WINDOW;
    const int ctx[3] = {3, 0, 5}, ql[3] = {2, 3, 1};
    cr_assert_eq(kvc_problem_alloc(p, &c, 3, ctx, ql, 2, 1), 0);
    fill_q(p);
    int64_t n = p->kv_start[3] * 2 * 16;
    for (int64_t i = 0; i < n; i++) {
        p->k[i] = (float)((int)((i * 13) % 17) - 8) * 0.0625f;
        p->v[i] = (float)((int)((i * 5) % 9) - 4) * 0.375f;
    }
    for (int64_t i = 0; i < p->mask_start[3]; i++)
        p->mask[i] = (uint8_t)(i % 5 != 3);
}

Test(oracle_kv_store, reference_f32_unchanged)
{
    /* The f32 reference runs on the logical values: a copy whose format
     * is zeroed by hand, one set to f32 by set_quant, and one where the
     * values are exactly representable in bf16 / e4m3 with scale 1 (the
     * store is then the identity) all give the same reference, bit for
     * bit. K values are j * 2^-4 with |j| <= 8, V values j * 0.375 =
     * 3j * 2^-3 with |j| <= 4: at most 4 significant bits, all >= 2^-4 in
     * magnitude (or 0), so exact in bf16 and on the e4m3 grid. */
    kvc_problem p, z, b, e;
    kvc_reference rp, rz, rb, re;
    f32_problem(&p);
    cr_assert_eq(kvc_problem_copy(&z, &p), 0);
    memset(&z.quant, 0, sizeof z.quant);
    cr_assert_eq(kvc_problem_copy(&b, &p), 0);
    set_quant(&b, KVC_KV_BF16, KVC_SCALE_NONE);
    cr_assert_eq(kvc_problem_copy(&e, &p), 0);
    set_quant(&e, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    compute(&p, &rp);
    compute(&z, &rz);
    compute(&b, &rb);
    compute(&e, &re);
    expect_identical(&rp, &rz);
    expect_identical(&rp, &rb);
    expect_identical(&rp, &re);
    kvc_reference_free(&rp);
    kvc_reference_free(&rz);
    kvc_reference_free(&rb);
    kvc_reference_free(&re);
    kvc_problem_free(&p);
    kvc_problem_free(&z);
    kvc_problem_free(&b);
    kvc_problem_free(&e);
}

Test(oracle_kv_store, reference_f32_nan_payloads_reach_the_reference)
{
    /* an f32 cache is read as is: a NaN K element (with a payload) in
     * position 1 makes the row that sees it NaN; the row that does not see
     * it (causal) is untouched */
    kvc_problem p;
    kvc_reference r;
    make_problem(&p, 1, 1, 2, 0, 2);
    p.q[0] = p.q[1] = p.q[2] = p.q[3] = 1.0f;
    p.k[0] = 1.0f;
    p.k[2] = bits_f32(0x7FC12345u);
    p.v[0] = 2.0f;
    p.v[2] = 3.0f;
    compute(&p, &r);
    cr_assert_eq(r.lse[0], 0.5);          /* one key, score 0.5 * 1 */
    cr_assert(isnan(r.lse[1]));
    cr_assert(isnan(r.lse32[1]));
    kvc_reference_free(&r);
    kvc_problem_free(&p);
}

Test(oracle_kv_store, reference_nan_and_inf_propagate)
{
    /* Stored NaN (e4m3 of NaN) and +-inf (f16 overflow) must flow through
     * without a crash or an out-of-bounds read; only rows that see them
     * are affected. Causal, 2 positions, query 0 sees key 0 only. */
    kvc_problem p;
    kvc_reference r;

    make_problem(&p, 1, 1, 2, 0, 2);
    set_quant(&p, KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR);
    p.q[0] = p.q[1] = p.q[2] = p.q[3] = 1.0f;
    p.k[0] = 1.0f;
    p.k[2] = NAN; /* code 0x7F: stored NaN */
    p.v[0] = 2.0f;
    p.v[2] = 3.0f;
    compute(&p, &r);
    cr_assert_eq(r.nvis[0], 1);
    cr_assert_eq(r.nvis[1], 2);
    cr_assert_eq(r.lse[0], 0.5);
    cr_assert_eq(r.out[0], 2.0);
    cr_assert(isnan(r.lse[1]), "lse %g", r.lse[1]);
    cr_assert(isnan(r.out[2]));
    kvc_reference_free(&r);
    kvc_problem_free(&p);

    make_problem(&p, 1, 1, 2, 0, 2);
    set_quant(&p, KVC_KV_F16, KVC_SCALE_NONE);
    p.q[0] = p.q[1] = p.q[2] = p.q[3] = 1.0f;
    p.k[0] = 1.0f;
    p.k[2] = -1e6f; /* f16: -inf, score -inf: weight 0 */
    p.v[0] = 2.0f;
    p.v[2] = 1e6f;  /* f16: +inf */
    p.v[3] = 65520.0f; /* tie rounding up: +inf */
    compute(&p, &r);
    cr_assert_eq(r.out[0], 2.0);
    cr_assert(isfinite(r.lse[1]), "a -inf score only drops the key");
    /* weight exactly 0: the key contributes nothing, whatever its V
     * (oracle/tolerance.md, "Non-finite exact values") */
    cr_assert_eq(r.out[2], 2.0, "out %g", r.out[2]);
    cr_assert_eq(r.out[3], 0.0, "out %g", r.out[3]);
    kvc_reference_free(&r);
    kvc_problem_free(&p);

    /* the same V with a finite score: the infinities propagate */
    make_problem(&p, 1, 1, 2, 0, 2);
    set_quant(&p, KVC_KV_F16, KVC_SCALE_NONE);
    p.q[0] = p.q[1] = p.q[2] = p.q[3] = 1.0f;
    p.k[0] = 1.0f;
    p.k[2] = 1.0f;
    p.v[0] = 2.0f;
    p.v[2] = 1e6f;     /* f16: +inf */
    p.v[3] = 65520.0f; /* tie rounding up: +inf */
    compute(&p, &r);
    cr_assert_eq(r.out[0], 2.0);
    cr_assert(isinf(r.out[2]) && r.out[2] > 0, "out %g", r.out[2]);
    cr_assert(isinf(r.out[3]) && r.out[3] > 0, "out %g", r.out[3]);
    /* row magnitudes leave non-finite terms out (tolerance.md), so the
     * allowance of the row's finite values stays finite */
    cr_assert(isfinite(r.vmax[1]) && r.vmax[1] >= 2.0, "vmax %g", r.vmax[1]);
    kvc_reference_free(&r);
    kvc_problem_free(&p);
}
