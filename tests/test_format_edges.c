/*
 * test_format_edges.c — the generators really put K/V on each format's
 * boundaries: over the named kv_* cases, every format gets values exactly
 * on a rounding midpoint of its grid and one ulp either side, +-0, codes
 * among its subnormals, values beyond its largest finite value (saturating
 * formats with static scales), all-zero rows (per-token scale 2^-23) and
 * all-zero nvfp4 groups (block code 0x01); huge and tiny static scales do
 * underflow and saturate. The scaled value t = x / s of each element is
 * classified with the oracle's codecs (the trusted side) — this tests the
 * generators, not the codecs.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "../generators/case.h"
#include "../generators/named.h"
#include "../oracle/kv_store.h"

/* What was seen for one dtype. */
typedef struct seen {
    int cases;
    int midpoint, above_mid, below_mid, neg_zero, subnormal, beyond,
        nonfinite, zero_row, zero_group;
} seen;

/* Grid value of non-negative code c (int8: the integer). */
static double grid(kvc_kv_dtype d, uint32_t c)
{
    return d == KVC_KV_INT8 ? (double)c : kvc_decode(d, c);
}

/* Largest finite and smallest normal magnitudes (written from the table of
 * docs/kv-formats.md). */
static double largest(kvc_kv_dtype d)
{
    static const double v[KVC_KV_DTYPE_COUNT] = {0, 65504.0, 3.3895313892515355e38,
                                                 448.0, 57344.0, 127.0, 6.0};
    return v[d];
}

static double smallest_normal(kvc_kv_dtype d)
{
    static const double v[KVC_KV_DTYPE_COUNT] = {0, 0x1p-14, 0x1p-126, 0x1p-6,
                                                 0x1p-14, 1.0, 1.0};
    return v[d];
}

/* |t| is exactly halfway between two neighbouring grid values. */
static int is_midpoint(kvc_kv_dtype d, double a)
{
    if (d == KVC_KV_INT8)
        return a < 127.0 && a - floor(a) == 0.5;
    if (a >= largest(d))
        return 0;
    /* the code at or below a: scan is fine for 8-bit grids; for 16-bit
     * ones use the encoder's neighbour */
    uint32_t c = kvc_encode(d, (float)a) & (d == KVC_KV_NVFP4 ? 0x7u : 0x7FFFu);
    for (int k = -1; k <= 0; k++) {
        int64_t lo = (int64_t)c + k;
        if (lo < 0)
            continue;
        double m = (grid(d, (uint32_t)lo) + grid(d, (uint32_t)lo + 1)) / 2.0;
        if (a == m)
            return 1;
    }
    return 0;
}

static void classify(kvc_kv_dtype d, float x, float s, seen *sn)
{
    if (!isfinite(x)) {
        sn->nonfinite++;
        return;
    }
    float t = kvc_fp32_div(x, s);
    double a = fabs((double)t);
    if (t == 0.0f && signbit(t))
        sn->neg_zero++;
    if (a > largest(d))
        sn->beyond++;
    if (is_midpoint(d, a))
        sn->midpoint++;
    if (is_midpoint(d, fabs((double)nextafterf(t, 0.0f))))
        sn->above_mid++;
    if (is_midpoint(d, fabs((double)nextafterf(t, copysignf(INFINITY, t)))))
        sn->below_mid++;
    if (d != KVC_KV_INT8 && a > 0.0 && a < smallest_normal(d) &&
        (kvc_encode(d, t) & (d == KVC_KV_NVFP4 ? 0x7u : 0x7FFFu)) != 0)
        sn->subnormal++;
}

static void survey(const kvc_case *c, const kvc_kv_store *st, seen *sn)
{
    const kvc_problem *p = &c->prob;
    const int H = p->cfg.num_kv_heads, D = p->cfg.head_dim;
    for (int which = 0; which < 2; which++) {
        const float *x = which ? p->v : p->k;
        for (int64_t r = 0; r < st->rows; r++)
            for (int h = 0; h < H; h++) {
                const float *row = x + (r * H + h) * D;
                int zero = 1;
                for (int dd = 0; dd < D; dd++) {
                    classify(p->quant.dtype, row[dd],
                             kvc_kv_store_scale(p, st, which, r, h, dd), sn);
                    zero &= row[dd] == 0.0f;
                }
                const float *ts = which ? st->v_token_scale : st->k_token_scale;
                if (st->kind == KVC_SCALE_TOKEN && zero &&
                    ts[r * H + h] == 0x1p-23f)
                    sn->zero_row++;
                const uint8_t *gc = which ? st->v_group_code : st->k_group_code;
                for (int g = 0; st->kind == KVC_SCALE_GROUP && g < D / 16; g++) {
                    int z = 1;
                    for (int i = 0; i < 16; i++)
                        z &= row[16 * g + i] == 0.0f;
                    if (z && gc[(r * H + h) * (D / 16) + g] == 0x01)
                        sn->zero_group++;
                }
            }
    }
}

/* Build named case i and its store. */
static void build_named(size_t i, kvc_case *c, kvc_kv_store *st)
{
    const kvc_named_case *nc = kvc_named_get(i);
    char err[256] = "";
    kvc_case_spec spec = kvc_named_spec(nc);
    cr_assert_eq(kvc_case_build(&spec, 7u + i, c, err, sizeof err), 0, "%s: %s",
                 nc->name, err);
    cr_assert_eq(kvc_kv_store_compute(&c->prob, st, err, sizeof err), 0,
                 "%s: %s", nc->name, err);
}

Test(format_edges, every_format_gets_its_boundaries)
{
    seen by[KVC_KV_DTYPE_COUNT];
    memset(by, 0, sizeof by);
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        kvc_case_spec spec = kvc_named_spec(nc);
        if (!spec.format_edges)
            continue;
        kvc_case c;
        kvc_kv_store st;
        build_named(i, &c, &st);
        cr_assert(c.flags >> KVC_FLAG_FORMAT_EDGES & 1, "%s", nc->name);
        by[spec.kv_dtype].cases++;
        survey(&c, &st, &by[spec.kv_dtype]);
        kvc_kv_store_free(&st);
        kvc_case_free(&c);
    }
    for (int d = 1; d < KVC_KV_DTYPE_COUNT; d++) {
        const seen *s = &by[d];
        const char *n = kvc_kv_dtype_name((kvc_kv_dtype)d);
        cr_assert_gt(s->cases, 0, "%s: no named edge case", n);
        cr_expect_gt(s->midpoint, 0, "%s: no value on a midpoint", n);
        cr_expect_gt(s->above_mid, 0, "%s: no value one ulp above a midpoint", n);
        cr_expect_gt(s->below_mid, 0, "%s: no value one ulp below a midpoint", n);
        cr_expect_gt(s->neg_zero, 0, "%s: no -0", n);
        if (d != KVC_KV_INT8)
            cr_expect_gt(s->subnormal, 0, "%s: no subnormal code", n);
        if (d >= KVC_KV_FP8_E4M3) {
            cr_expect_gt(s->beyond, 0, "%s: nothing beyond the largest finite", n);
            cr_expect_gt(s->nonfinite, 0, "%s: no infinity or NaN input", n);
        } else {
            cr_expect_eq(s->nonfinite, 0, "%s: non-finite input would make "
                         "the stored value infinite", n);
        }
        if (d >= KVC_KV_FP8_E4M3 && d <= KVC_KV_INT8)
            cr_expect_gt(s->zero_row, 0, "%s: no all-zero row (token scale "
                         "2^-23)", n);
        if (d == KVC_KV_NVFP4)
            cr_expect_gt(s->zero_group, 0, "nvfp4: no all-zero group (0x01)");
    }
}

/* A tiny static scale saturates, a huge one underflows: over the named
 * extreme-scale cases, most K codes are at the largest magnitude, or are
 * zero or subnormal. */
Test(format_edges, extreme_scales_saturate_and_underflow)
{
    int tiny = 0, huge = 0;
    for (size_t i = 0; i < kvc_named_count(); i++) {
        kvc_case_spec spec = kvc_named_spec(kvc_named_get(i));
        if (spec.scale_family != KVC_SCALES_TINY &&
            spec.scale_family != KVC_SCALES_HUGE)
            continue;
        kvc_case c;
        kvc_kv_store st;
        build_named(i, &c, &st);
        const kvc_problem *p = &c.prob;
        int64_t n = st.rows * p->cfg.num_kv_heads * p->cfg.head_dim;
        int64_t top = 0, low = 0, groups_top = 0, groups_low = 0;
        const kvc_kv_dtype d = p->quant.dtype;
        for (int64_t e = 0; e < n; e++) {
            double a = fabs(kvc_decode(d, st.k_code[e]));
            if (d == KVC_KV_INT8)
                a = fabs((double)(int8_t)st.k_code[e]);
            top += a >= largest(d);
            low += a < smallest_normal(d);
        }
        for (int64_t g = 0; d == KVC_KV_NVFP4 && g < n / 16; g++) {
            groups_top += st.k_group_code[g] == 0x7E;
            groups_low += st.k_group_code[g] == 0x01;
        }
        const char *name = kvc_named_get(i)->name;
        if (spec.scale_family == KVC_SCALES_TINY) {
            tiny++;
            if (d == KVC_KV_NVFP4) /* g small: block codes underflow */
                cr_expect_gt(groups_low * 2, n / 16, "%s: %lld of %lld block "
                             "codes are 0x01", name, (long long)groups_low,
                             (long long)(n / 16));
            else
                cr_expect_gt(top * 4, n, "%s: only %lld of %lld codes "
                             "saturate", name, (long long)top, (long long)n);
            cr_assert(c.flags >> KVC_FLAG_SCALE_TINY & 1, "%s", name);
        } else {
            huge++;
            if (d == KVC_KV_NVFP4) /* g large: block codes saturate */
                cr_expect_gt(groups_top * 2, n / 16, "%s: %lld of %lld block "
                             "codes saturate", name, (long long)groups_top,
                             (long long)(n / 16));
            else
                cr_expect_gt(low * 2, n, "%s: only %lld of %lld codes below "
                             "the smallest normal", name, (long long)low,
                             (long long)n);
            cr_assert(c.flags >> KVC_FLAG_SCALE_HUGE & 1, "%s", name);
        }
        kvc_kv_store_free(&st);
        kvc_case_free(&c);
    }
    cr_assert_geq(tiny, 3);
    cr_assert_geq(huge, 3);
}

/* The pool holds the small codes: a 4096-token cache takes a quarter of
 * the f32 bytes in fp8/int8, half in f16/bf16, an eighth in nvfp4 plus one
 * e4m3 code per 16 elements, plus 4 bytes per (token, head) for per-token
 * scales. Checked on the layouts the generators give the runner (which
 * allocates exactly pool_elems units). */
Test(format_edges, pool_bytes_per_format)
{
    static const struct {
        kvc_kv_dtype d;
        kvc_scale_kind k;
        int unit_bytes;   /* bytes per storage unit */
        int units_per_64; /* units of a 64-element row */
        int scale_bytes;  /* scale pool bytes per (token, head) row */
    } f[] = {
        {KVC_KV_F32, KVC_SCALE_NONE, 4, 64, 0},
        {KVC_KV_F16, KVC_SCALE_NONE, 2, 64, 0},
        {KVC_KV_BF16, KVC_SCALE_NONE, 2, 64, 0},
        {KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR, 1, 64, 0},
        {KVC_KV_FP8_E5M2, KVC_SCALE_TOKEN, 1, 64, 4},
        {KVC_KV_INT8, KVC_SCALE_HEAD, 1, 64, 0},
        {KVC_KV_NVFP4, KVC_SCALE_GROUP, 1, 32, 4},
    };
    int64_t f32_bytes = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
        s.cfg.head_dim = 64;
        s.cfg.scale = 0.125f;
        s.num_seqs = 1;
        s.ctx_len[0] = 4095;
        s.q_len[0] = 1;
        s.extra_blocks = 0;
        s.leak_sensitive = 0;
        s.kv_dtype = f[i].d;
        s.kv_scale = f[i].k;
        kvc_case c;
        char err[256] = "";
        cr_assert_eq(kvc_case_build(&s, 3, &c, err, sizeof err), 0, "%s", err);
        const kvc_layout *l = &c.layout;
        /* 4096 tokens = 256 blocks of 16 (+ 1 spare block the base needs) */
        int64_t slots = l->num_blocks * l->block_size;
        int64_t rows = slots * s.cfg.num_kv_heads;
        int64_t bytes = l->pool_elems * f[i].unit_bytes;
        cr_assert_eq(bytes, rows * f[i].units_per_64 * f[i].unit_bytes,
                     "%s: %lld bytes", kvc_kv_dtype_name(f[i].d),
                     (long long)bytes);
        cr_assert_eq(l->scale_pool_units *
                         (f[i].k == KVC_SCALE_TOKEN ? 4 : 1),
                     rows * f[i].scale_bytes, "%s scales",
                     kvc_kv_dtype_name(f[i].d));
        if (f[i].d == KVC_KV_F32)
            f32_bytes = bytes;
        else if (f[i].unit_bytes == 1 && f[i].d != KVC_KV_NVFP4)
            cr_assert_eq(bytes * 4, f32_bytes, "%s is not a quarter of f32",
                         kvc_kv_dtype_name(f[i].d));
        else if (f[i].d == KVC_KV_NVFP4)
            cr_assert_eq(bytes * 8, f32_bytes, "nvfp4 is not an eighth");
        else
            cr_assert_eq(bytes * 2, f32_bytes, "%s is not a half",
                         kvc_kv_dtype_name(f[i].d));
        kvc_case_free(&c);
    }
}
