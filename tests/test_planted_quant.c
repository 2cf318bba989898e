/*
 * test_planted_quant.c — the gate catches the two classic bugs of a
 * reduced-precision KV cache (tests/planted_quant.h):
 *   - a kernel that forgets the scale on read: a numeric failure on every
 *     scaled format and strategy (fp8 e4m3/e5m2 and int8 per tensor, per
 *     KV head and per token; nvfp4 per group), in every mode;
 *   - a kernel whose cache write truncates instead of rounding to nearest
 *     even: a cache failure on every format (f16, bf16, the scaled ones),
 *     naming the token, the expected and the found code, the found code
 *     being the one below the expected one in magnitude;
 * the real kernel passing each of these cases, both planted kernels
 * passing f32 cases (the path without a format is untouched), and a random
 * campaign reporting them (truncation only as cache failures) while the
 * real kernel has no failure.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../generators/named.h"
#include "../tools/campaign.h"
#include "planted_quant.h"

typedef struct combo {
    kvc_kv_dtype dtype;
    kvc_scale_kind kind;
} combo;

/* Every format x strategy; the first two have no scale. */
static const combo combos[] = {
    {KVC_KV_F16, KVC_SCALE_NONE},      {KVC_KV_BF16, KVC_SCALE_NONE},
    {KVC_KV_FP8_E4M3, KVC_SCALE_TENSOR}, {KVC_KV_FP8_E4M3, KVC_SCALE_HEAD},
    {KVC_KV_FP8_E4M3, KVC_SCALE_TOKEN},  {KVC_KV_FP8_E5M2, KVC_SCALE_TENSOR},
    {KVC_KV_FP8_E5M2, KVC_SCALE_HEAD},   {KVC_KV_FP8_E5M2, KVC_SCALE_TOKEN},
    {KVC_KV_INT8, KVC_SCALE_TENSOR},     {KVC_KV_INT8, KVC_SCALE_HEAD},
    {KVC_KV_INT8, KVC_SCALE_TOKEN},      {KVC_KV_NVFP4, KVC_SCALE_GROUP},
};
#define NUM_COMBOS (sizeof combos / sizeof combos[0])
#define FIRST_SCALED 2

static const kvc_mode modes[] = {KVC_MODE_PAGED, KVC_MODE_BLOCKED,
                                 KVC_MODE_QEFF};

/* The named base (GQA 4/2, D 16, B 16) with four new tokens after a
 * 20-token context (one block for QEfficient's write), in the format. */
static kvc_case_spec quant_spec(kvc_mode mode, kvc_kv_dtype d,
                                kvc_scale_kind k, kvc_scale_family fam,
                                int edges)
{
    kvc_case_spec s = kvc_named_base(mode);
    s.ctx_len[0] = 20;
    s.q_len[0] = 4;
    s.kv_dtype = d;
    s.kv_scale = k;
    s.scale_family = fam;
    s.format_edges = edges;
    return s;
}

static void label_of(char *buf, size_t n, kvc_mode mode, const combo *f)
{
    snprintf(buf, n, "%s %s/%s", kvc_mode_name(mode),
             kvc_kv_dtype_name(f->dtype), kvc_scale_kind_name(f->kind));
}

/* The code pair of a pool diff message ("want code 0x.., found 0x.."). */
static void parse_codes(const char *msg, unsigned *want, unsigned *found)
{
    const char *at = strstr(msg, "want code 0x");
    cr_assert_not_null(at, "%s", msg);
    cr_assert_eq(sscanf(at, "want code 0x%x, found 0x%x", want, found), 2,
                 "%s", msg);
}

/* The found code is the expected one truncated: same format, strictly
 * smaller magnitude (RNE went up, truncation stayed below). */
static void assert_truncated(const kvc_case *c, const char *msg,
                             const char *label)
{
    unsigned want, found;
    parse_codes(msg, &want, &found);
    kvc_kv_dtype d = c->prob.quant.dtype;
    if (d == KVC_KV_NVFP4) { /* a byte of two codes: the nibble that differs */
        int shift = ((want ^ found) & 0xF) ? 0 : 4;
        want = want >> shift & 0xF;
        found = found >> shift & 0xF;
    }
    double w = kvc_decode(d, want), g = kvc_decode(d, found);
    cr_assert(fabs(g) < fabs(w),
              "%s: found code 0x%X (%g) is not the truncation of 0x%X (%g): %s",
              label, found, g, want, w, msg);
}

/* The real kernel passes the case; the planted one fails it with `want`.
 * Returns the planted kernel's result. */
static kvc_result caught(const kvc_case_spec *s, uint64_t seed,
                         const kvc_kernel *planted, kvc_outcome want,
                         const char *label)
{
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(s, seed, &c, err, sizeof err), 0,
                 "%s: build failed: %s", label, err);
    kvc_result r;
    kvc_outcome o = kvc_run_case(&c, &kvc_builtin_kernel, &r);
    cr_assert_eq(o, KVC_PASS, "%s: builtin: %s: %s", label,
                 kvc_outcome_name(o), r.message);
    o = kvc_run_case(&c, planted, &r);
    cr_assert_eq(o, want, "%s: %s: %s, want %s: %s", label, planted->name,
                 kvc_outcome_name(o), kvc_outcome_name(want), r.message);
    if (want == KVC_FAIL_CACHE) {
        cr_assert_not_null(strstr(r.message, "after the cache write"), "%s: %s",
                           label, r.message);
        cr_assert_not_null(strstr(r.message, "want code"), "%s: %s", label,
                           r.message);
        cr_assert_not_null(strstr(r.message, "found"), "%s: %s", label,
                           r.message);
        cr_assert_not_null(strstr(r.message, ", token "), "%s: no token: %s",
                           label, r.message);
        cr_assert_null(strstr(r.message, "scale pool"),
                       "%s: the scales are the real write's: %s", label,
                       r.message);
        assert_truncated(&c, r.message, label);
    } else if (want == KVC_FAIL_NUMERIC) {
        cr_assert_geq(r.verdict.seq, 0, "%s: no verdict", label);
        cr_assert_gt(r.verdict.ratio, KVC_TOL_THRESHOLD, "%s", label);
    }
    kvc_case_free(&c);
    return r;
}

ParameterizedTestParameters(planted_quant, truncation_is_a_cache_failure)
{
    int *ix = cr_malloc(NUM_COMBOS * sizeof *ix);
    for (size_t i = 0; i < NUM_COMBOS; i++)
        ix[i] = (int)i;
    return cr_make_param_array(int, ix, NUM_COMBOS);
}

/* Every format x strategy, every mode: values on the format's midpoints and
 * one ulp either side (power-of-two static scales keep x / s on them), so
 * RNE and truncation surely differ. */
ParameterizedTest(int *ix, planted_quant, truncation_is_a_cache_failure)
{
    const combo *f = &combos[*ix];
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char label[96];
        label_of(label, sizeof label, modes[m], f);
        kvc_case_spec s =
            quant_spec(modes[m], f->dtype, f->kind, KVC_SCALES_POW2, 1);
        caught(&s, 1, &kvc_planted_truncate, KVC_FAIL_CACHE, label);
        /* plain random values are caught too */
        s = quant_spec(modes[m], f->dtype, f->kind, KVC_SCALES_CALIBRATED, 0);
        caught(&s, 2, &kvc_planted_truncate, KVC_FAIL_CACHE, label);
    }
}

ParameterizedTestParameters(planted_quant, forgotten_scale_is_a_numeric_failure)
{
    size_t n = NUM_COMBOS - FIRST_SCALED;
    int *ix = cr_malloc(n * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = (int)(FIRST_SCALED + i);
    return cr_make_param_array(int, ix, n);
}

/* Every scaled format x strategy, every mode (paged, blocked, QEfficient
 * through paged attention): calibrated scales for N(0,1) data are far from
 * 1 (e4m3 ~1/150, e5m2 ~1/20000, int8 ~1/40, nvfp4 block scales ~1/3),
 * so values read without them are off by those factors. */
ParameterizedTest(int *ix, planted_quant, forgotten_scale_is_a_numeric_failure)
{
    const combo *f = &combos[*ix];
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char label[96];
        label_of(label, sizeof label, modes[m], f);
        kvc_case_spec s =
            quant_spec(modes[m], f->dtype, f->kind, KVC_SCALES_CALIBRATED, 0);
        caught(&s, 3, &kvc_planted_forget_scale, KVC_FAIL_NUMERIC, label);
        if (f->kind != KVC_SCALE_TOKEN) { /* static scales: powers of two */
            s = quant_spec(modes[m], f->dtype, f->kind, KVC_SCALES_POW2, 0);
            caught(&s, 4, &kvc_planted_forget_scale, KVC_FAIL_NUMERIC, label);
        }
    }
}

/* Large offsets: block ids above a huge unused stretch, so the TOKEN and
 * GROUP scale pools are sparse (the forget-scale kernel fills only the
 * blocks the table names). Both bugs are still caught. */
Test(planted_quant, large_offsets_sparse_scale_pools)
{
    static const combo sparse[] = {{KVC_KV_FP8_E4M3, KVC_SCALE_TOKEN},
                                   {KVC_KV_NVFP4, KVC_SCALE_GROUP}};
    for (size_t i = 0; i < sizeof sparse / sizeof sparse[0]; i++) {
        char label[96];
        label_of(label, sizeof label, KVC_MODE_PAGED, &sparse[i]);
        kvc_case_spec s = quant_spec(KVC_MODE_PAGED, sparse[i].dtype,
                                     sparse[i].kind, KVC_SCALES_CALIBRATED, 0);
        s.large_offsets = 1;
        s.num_seqs = 2;
        s.ctx_len[0] = 40, s.q_len[0] = 1;
        s.ctx_len[1] = 3, s.q_len[1] = 2;
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&s, 11, &c, err, sizeof err), 0, "%s", err);
        cr_assert(c.flags & (1ull << KVC_FLAG_LARGE_OFFSETS), "%s", label);
        cr_assert_gt(c.layout.scale_pool_units, INT64_C(1) << 26, "%s", label);
        kvc_case_free(&c);
        caught(&s, 11, &kvc_planted_forget_scale, KVC_FAIL_NUMERIC, label);
        caught(&s, 11, &kvc_planted_truncate, KVC_FAIL_CACHE, label);
    }
}

/* f16 and bf16 have no scale to forget: the forget-scale kernel is the real
 * one on them. */
Test(planted_quant, unscaled_formats_have_no_scale_to_forget)
{
    for (size_t i = 0; i < FIRST_SCALED; i++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            char label[96];
            label_of(label, sizeof label, modes[m], &combos[i]);
            kvc_case_spec s = quant_spec(modes[m], combos[i].dtype,
                                         combos[i].kind, KVC_SCALES_CALIBRATED,
                                         1);
            kvc_case c;
            char err[256];
            cr_assert_eq(kvc_case_build(&s, 5, &c, err, sizeof err), 0,
                         "%s: %s", label, err);
            kvc_result r;
            kvc_outcome o = kvc_run_case(&c, &kvc_planted_forget_scale, &r);
            cr_assert_eq(o, KVC_PASS, "%s: %s: %s", label, kvc_outcome_name(o),
                         r.message);
            kvc_case_free(&c);
        }
}

/* The f32 path is untouched by both bugs: hand-written f32 cases in every
 * mode, and the f32 cases among the first generated ones, pass. */
Test(planted_quant, f32_cases_pass_both_planted_kernels, .timeout = 120)
{
    const kvc_kernel *planted[2] = {&kvc_planted_truncate,
                                    &kvc_planted_forget_scale};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        kvc_case_spec s = quant_spec(modes[m], KVC_KV_F32, KVC_SCALE_NONE,
                                     KVC_SCALES_CALIBRATED, 0);
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_build(&s, 6, &c, err, sizeof err), 0, "%s", err);
        for (int k = 0; k < 2; k++) {
            kvc_result r;
            kvc_outcome o = kvc_run_case(&c, planted[k], &r);
            cr_assert_eq(o, KVC_PASS, "%s f32: %s: %s: %s",
                         kvc_mode_name(modes[m]), planted[k]->name,
                         kvc_outcome_name(o), r.message);
        }
        kvc_case_free(&c);
    }
    int f32_cases = 0;
    for (uint64_t i = 0; f32_cases < 40 && i < 400; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(21, i, -1, &c, err, sizeof err), 0,
                     "case %llu: %s", (unsigned long long)i, err);
        if (c.prob.quant.dtype == KVC_KV_F32) {
            f32_cases++;
            for (int k = 0; k < 2; k++) {
                kvc_result r;
                kvc_outcome o = kvc_run_case(&c, planted[k], &r);
                cr_assert_eq(o, KVC_PASS, "seed 21 case %llu (f32): %s: %s: %s",
                             (unsigned long long)i, planted[k]->name,
                             kvc_outcome_name(o), r.message);
            }
        }
        kvc_case_free(&c);
    }
    cr_assert_eq(f32_cases, 40, "only %d f32 cases in 400", f32_cases);
}

static kvc_campaign_opts quiet_campaign(uint64_t seed, uint64_t cases)
{
    kvc_campaign_opts o = {.seed = seed, .cases = cases, .forced_mode = -1,
                           .shard_index = 0, .shard_count = 1, .progress = 0,
                           .max_failures_listed = 0, .log = NULL,
                           .collect_records = 1};
    return o;
}

/* The record label of a combo (report.h kv_format: "f16", "int8/token"). */
static void format_label(char *buf, size_t n, const combo *f)
{
    if (f->kind == KVC_SCALE_NONE)
        snprintf(buf, n, "%s", kvc_kv_dtype_name(f->dtype));
    else
        snprintf(buf, n, "%s/%s", kvc_kv_dtype_name(f->dtype),
                 kvc_scale_kind_name(f->kind));
}

/* Index in combos of a record's format, or -1 (f32). */
static int combo_of(const kvc_case_record *rec)
{
    for (size_t i = 0; i < NUM_COMBOS; i++) {
        char name[64];
        format_label(name, sizeof name, &combos[i]);
        if (!strcmp(rec->kv_format, name))
            return (int)i;
    }
    cr_assert_str_eq(rec->kv_format, "f32", "case %llu: unknown format",
                     (unsigned long long)rec->index);
    return -1;
}

/* Failures of a planted campaign: each of outcome `want`, none on the
 * formats the bug cannot touch (combos before `first`, and f32), and at
 * least one on every combo from `first` on. */
static void check_failures(const kvc_campaign_stats *st, const char *kernel,
                           const char *want, size_t first)
{
    uint64_t caught[NUM_COMBOS] = {0}, cases[NUM_COMBOS] = {0};
    cr_assert_eq(st->num_records, st->run);
    for (size_t i = 0; i < st->num_records; i++) {
        const kvc_case_record *rec = &st->records[i];
        if (rec->stateful[0]) { /* a manager or policy sequence: the
                                   planted kernel's are libkvattn's */
            cr_assert(rec->passed, "%s: %s", rec->stateful, rec->message);
            continue;
        }
        int f = combo_of(rec);
        if (f >= 0)
            cases[f]++;
        if (rec->passed)
            continue;
        cr_assert_str_eq(rec->outcome, want, "%s: case %llu (%s): %s", kernel,
                         (unsigned long long)rec->index, rec->kv_format,
                         rec->message);
        cr_assert(f >= (int)first, "%s: case %llu fails on %s: %s", kernel,
                  (unsigned long long)rec->index, rec->kv_format, rec->message);
        caught[f]++;
    }
    for (size_t i = first; i < NUM_COMBOS; i++) {
        char name[64];
        format_label(name, sizeof name, &combos[i]);
        cr_assert_gt(caught[i], 0, "%s: no failure on %s (%llu cases)", kernel,
                     name, (unsigned long long)cases[i]);
    }
}

/* The same random campaign: no failure against the real kernel; failures
 * against each planted one on every format it breaks and on no other,
 * truncation only ever as a cache failure and a forgotten scale only as a
 * numeric one. */
Test(planted_quant, campaign_catches_both_bugs, .timeout = 300)
{
    const uint64_t cases = 300;
    kvc_campaign_opts o = quiet_campaign(17, cases);
    kvc_campaign_stats st;

    int rc = kvc_campaign_run(&o, &kvc_builtin_kernel, &st);
    cr_assert_eq(st.run, cases);
    cr_assert_eq(rc, 0, "builtin: %llu failures, first case %llu",
                 (unsigned long long)st.failed,
                 (unsigned long long)st.first_failure);
    cr_assert_eq(st.failed, 0);
    kvc_campaign_stats_free(&st);

    rc = kvc_campaign_run(&o, &kvc_planted_truncate, &st);
    cr_assert_eq(st.run, cases);
    cr_assert_eq(rc, 1, "truncation went unnoticed in %llu cases",
                 (unsigned long long)cases);
    cr_assert_gt(st.failed, 0);
    cr_assert_eq(st.failed_by_outcome[KVC_FAIL_CACHE], st.failed,
                 "truncate: %llu failures, %llu of them cache failures",
                 (unsigned long long)st.failed,
                 (unsigned long long)st.failed_by_outcome[KVC_FAIL_CACHE]);
    check_failures(&st, "truncate", "cache", 0);
    kvc_campaign_stats_free(&st);

    rc = kvc_campaign_run(&o, &kvc_planted_forget_scale, &st);
    cr_assert_eq(st.run, cases);
    cr_assert_eq(rc, 1, "a forgotten scale went unnoticed in %llu cases",
                 (unsigned long long)cases);
    cr_assert_gt(st.failed, 0);
    cr_assert_eq(st.failed_by_outcome[KVC_FAIL_NUMERIC], st.failed,
                 "forget-scale: %llu failures, %llu of them numeric",
                 (unsigned long long)st.failed,
                 (unsigned long long)st.failed_by_outcome[KVC_FAIL_NUMERIC]);
    check_failures(&st, "forget-scale", "numeric", FIRST_SCALED);
    kvc_campaign_stats_free(&st);
}
