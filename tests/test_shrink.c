/*
 * test_shrink.c — the failure shrinker: a random failure of a planted
 * kernel shrinks to a handful of tokens, what a failure needs is kept, the
 * result is deterministic and the attempt budget holds.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../generators/shrink.h"
#include "../golden/golden.h"
#include "../tools/reproducer.h"
#include "planted_kernels.h"
#include "planted_quant.h"

/* ---- predicates ---- */

/* Fails against kernel k with the outcome kind `want`. */
typedef struct kernel_pred {
    const kvc_kernel *k;
    kvc_outcome want;
    int calls;
} kernel_pred;

static int fails_like(const kvc_case *c, void *ctx)
{
    kernel_pred *p = ctx;
    kvc_result r;
    p->calls++;
    return kvc_run_case(c, p->k, &r) == p->want;
}

static int never_fails(const kvc_case *c, void *ctx)
{
    (void)c;
    ++*(int *)ctx;
    return 0;
}

static int always_fails(const kvc_case *c, void *ctx)
{
    (void)c;
    ++*(int *)ctx;
    return 1;
}

/* A synthetic "failure" that needs a sequence with kv_len >= 5 and Hq >= 3. */
static int needs_kv5_hq3(const kvc_case *c, void *ctx)
{
    (void)ctx;
    const kvc_case_spec *s = &c->spec;
    if (s->cfg.num_q_heads < 3)
        return 0;
    for (int i = 0; i < s->num_seqs; i++)
        if (s->ctx_len[i] + s->q_len[i] >= 5)
            return 1;
    return 0;
}

/* ---- helpers ---- */

typedef struct found_case {
    kvc_case_spec spec;
    uint64_t value_seed;
    uint64_t index;
} found_case;

typedef int (*spec_filter)(const kvc_case_spec *);

/* The first PAGED case of `seed` (index < limit) that fails against k with
 * outcome want and passes filter (NULL = any). Returns 0 when none. */
static int find_failure(uint64_t seed, const kvc_kernel *k, kvc_outcome want,
                        spec_filter filter, int limit, found_case *f)
{
    for (int i = 0; i < limit; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(seed, (uint64_t)i, KVC_MODE_PAGED, &c,
                                       err, sizeof err), 0, "%s", err);
        int hit = 0;
        if (!filter || filter(&c.spec)) {
            kvc_result r;
            hit = kvc_run_case(&c, k, &r) == want;
        }
        if (hit) {
            f->spec = c.spec;
            f->value_seed = c.value_seed;
            f->index = (uint64_t)i;
        }
        kvc_case_free(&c);
        if (hit)
            return 1;
    }
    return 0;
}

static int total_tokens(const kvc_case_spec *s)
{
    int t = 0;
    for (int i = 0; i < s->num_seqs; i++)
        t += s->ctx_len[i] + s->q_len[i];
    return t;
}

static void describe_spec(const kvc_case_spec *s, uint64_t value_seed,
                          char *buf, size_t n)
{
    kvc_case c;
    char err[256];
    if (kvc_case_build(s, value_seed, &c, err, sizeof err) != 0) {
        snprintf(buf, n, "(does not build: %s)", err);
        return;
    }
    kvc_case_describe(&c, buf, n);
    kvc_case_free(&c);
}

/* Rebuild spec and run it against k: the outcome. */
static kvc_outcome rerun(const kvc_case_spec *s, uint64_t value_seed,
                         const kvc_kernel *k)
{
    kvc_case c;
    char err[256];
    cr_assert_eq(kvc_case_build(s, value_seed, &c, err, sizeof err), 0,
                 "shrunk spec does not build: %s", err);
    kvc_result r;
    kvc_outcome o = kvc_run_case(&c, k, &r);
    kvc_case_free(&c);
    return o;
}

static void report(const char *what, const found_case *f,
                   const kvc_case_spec *out, const kvc_shrink_stats *st)
{
    char before[512], after[512];
    describe_spec(&f->spec, f->value_seed, before, sizeof before);
    describe_spec(out, f->value_seed, after, sizeof after);
    cr_log_info("%s: case %llu, %d tokens -> %d tokens, %d attempts, %d kept\n"
                "  before: %s\n  after:  %s",
                what, (unsigned long long)f->index, total_tokens(&f->spec),
                total_tokens(out), st->attempts, st->accepted, before, after);
}

/* A small valid PAGED spec. */
static kvc_case_spec small_spec(kvc_mode mode)
{
    kvc_case_spec s;
    memset(&s, 0, sizeof s);
    s.mode = mode;
    s.cfg = (kvc_config){4, 2, 16, 0.25f, 0.0f, 1, KVC_NO_WINDOW};
    s.num_seqs = 2;
    s.ctx_len[0] = 20;
    s.q_len[0] = 1;
    s.ctx_len[1] = 3;
    s.q_len[1] = 4;
    s.block_size = 16;
    s.table = KVC_TABLE_PERMUTED;
    s.extra_blocks = 2;
    s.cache_len = 64;
    s.num_kv_blocks = 4;
    s.qeff_max_q = 4;
    return s;
}

#define NO_RESCALE_SEED 3
#define SEARCH_LIMIT 300

/* ---- the acceptance test ---- */

Test(shrink_planted, no_rescale_shrinks_to_a_handful_of_tokens, .timeout = 60)
{
    found_case f;
    cr_assert(find_failure(NO_RESCALE_SEED, &kvc_planted_no_rescale,
                           KVC_FAIL_NUMERIC, NULL, SEARCH_LIMIT, &f),
              "no numeric failure of the planted kernel in %d cases",
              SEARCH_LIMIT);

    kernel_pred p = {&kvc_planted_no_rescale, KVC_FAIL_NUMERIC, 0};
    kvc_case_spec out;
    kvc_shrink_stats st;
    int rc = kvc_shrink(&f.spec, f.value_seed, fails_like, &p, 5000, &out, &st);
    report("no-rescale", &f, &out, &st);

    cr_assert_eq(rc, KVC_SHRINK_DONE, "rc %d after %d attempts", rc, st.attempts);
    cr_assert_eq(p.calls, st.attempts);
    cr_assert_gt(st.accepted, 0);
    cr_assert_eq(out.num_seqs, 1);
    cr_assert_eq(out.cfg.num_q_heads, 1);
    cr_assert_eq(out.cfg.num_kv_heads, 1);
    cr_assert_leq(out.ctx_len[0] + out.q_len[0], 8);
    cr_assert_geq(out.ctx_len[0] + out.q_len[0], 2,
                  "a missed rescale needs two visible keys");
    cr_assert_eq(out.pad_tokens, 0);
    cr_assert_eq(rerun(&out, f.value_seed, &kvc_planted_no_rescale),
                 KVC_FAIL_NUMERIC);
    /* the reproducer blames the kernel, not the case */
    cr_assert_eq(rerun(&out, f.value_seed, &kvc_builtin_kernel), KVC_PASS);
}

/* Not just one lucky case: the first SEVERAL numeric failures of the seed
 * all shrink to one sequence, one head and a handful of tokens. */
#define SEVERAL 20

Test(shrink_planted, no_rescale_failures_all_shrink, .timeout = 60)
{
    int found = 0, worst_tokens = 0, worst_attempts = 0;
    for (int i = 0; i < 2000 && found < SEVERAL; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(NO_RESCALE_SEED, (uint64_t)i,
                                       KVC_MODE_PAGED, &c, err, sizeof err),
                     0, "%s", err);
        kvc_result r;
        kvc_outcome o = kvc_run_case(&c, &kvc_planted_no_rescale, &r);
        kvc_case_spec start = c.spec;
        uint64_t vs = c.value_seed;
        kvc_case_free(&c);
        if (o != KVC_FAIL_NUMERIC)
            continue;
        found++;
        kernel_pred p = {&kvc_planted_no_rescale, KVC_FAIL_NUMERIC, 0};
        kvc_case_spec out;
        kvc_shrink_stats st;
        cr_assert_eq(kvc_shrink(&start, vs, fails_like, &p, 5000, &out, &st),
                     KVC_SHRINK_DONE, "case %d", i);
        cr_assert_eq(out.num_seqs, 1, "case %d", i);
        cr_assert_eq(out.cfg.num_q_heads, 1, "case %d", i);
        cr_assert_leq(total_tokens(&out), 8, "case %d", i);
        if (total_tokens(&out) > worst_tokens)
            worst_tokens = total_tokens(&out);
        if (st.attempts > worst_attempts)
            worst_attempts = st.attempts;
    }
    cr_assert_eq(found, SEVERAL);
    cr_log_info("no-rescale: %d failures shrunk, at most %d tokens, at most "
                "%d attempts", found, worst_tokens, worst_attempts);
}

static int wide_batch(const kvc_case_spec *s)
{
    return s->cfg.num_q_heads >= 4 && s->cfg.num_kv_heads >= 2 &&
           s->num_seqs >= 2;
}

/* A bug that needs two KV heads: the shrinker must stop at Hq = Hkv = 2. */
Test(shrink_planted, kv_head0_keeps_two_heads, .timeout = 60)
{
    found_case f;
    cr_assert(find_failure(NO_RESCALE_SEED, &kvc_planted_kv_head0,
                           KVC_FAIL_NUMERIC, wide_batch, SEARCH_LIMIT, &f),
              "no numeric failure of the planted kernel in %d cases",
              SEARCH_LIMIT);

    kernel_pred p = {&kvc_planted_kv_head0, KVC_FAIL_NUMERIC, 0};
    kvc_case_spec out;
    kvc_shrink_stats st;
    int rc = kvc_shrink(&f.spec, f.value_seed, fails_like, &p, 5000, &out, &st);
    report("kv-head0", &f, &out, &st);

    cr_assert_eq(rc, KVC_SHRINK_DONE);
    cr_assert_eq(out.cfg.num_q_heads, 2);
    cr_assert_eq(out.cfg.num_kv_heads, 2);
    cr_assert_eq(out.num_seqs, 1);
    cr_assert_leq(out.ctx_len[0] + out.q_len[0], 2);
    cr_assert_eq(rerun(&out, f.value_seed, &kvc_planted_kv_head0),
                 KVC_FAIL_NUMERIC);
    cr_assert_eq(rerun(&out, f.value_seed, &kvc_builtin_kernel), KVC_PASS);
}

Test(shrink_planted, deterministic, .timeout = 60)
{
    found_case f;
    cr_assert(find_failure(NO_RESCALE_SEED, &kvc_planted_no_rescale,
                           KVC_FAIL_NUMERIC, NULL, SEARCH_LIMIT, &f));
    kernel_pred p = {&kvc_planted_no_rescale, KVC_FAIL_NUMERIC, 0};
    kvc_case_spec a, b;
    kvc_shrink_stats sa, sb;
    memset(&a, 0x55, sizeof a);
    memset(&b, 0xaa, sizeof b);
    int ra = kvc_shrink(&f.spec, f.value_seed, fails_like, &p, 5000, &a, &sa);
    int rb = kvc_shrink(&f.spec, f.value_seed, fails_like, &p, 5000, &b, &sb);
    cr_assert_eq(ra, rb);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_eq(sa.attempts, sb.attempts);
    cr_assert_eq(sa.accepted, sb.accepted);
}

Test(shrink_planted, max_attempts_is_respected, .timeout = 60)
{
    found_case f;
    cr_assert(find_failure(NO_RESCALE_SEED, &kvc_planted_no_rescale,
                           KVC_FAIL_NUMERIC, NULL, SEARCH_LIMIT, &f));
    for (int budget = 1; budget <= 7; budget += 3) {
        kernel_pred p = {&kvc_planted_no_rescale, KVC_FAIL_NUMERIC, 0};
        kvc_case_spec out;
        kvc_shrink_stats st;
        int rc = kvc_shrink(&f.spec, f.value_seed, fails_like, &p, budget,
                            &out, &st);
        cr_assert_eq(rc, KVC_SHRINK_BUDGET, "budget %d: rc %d", budget, rc);
        cr_assert_eq(st.attempts, budget);
        cr_assert_eq(p.calls, budget);
        /* whatever was kept still fails */
        cr_assert_eq(rerun(&out, f.value_seed, &kvc_planted_no_rescale),
                     KVC_FAIL_NUMERIC);
    }
}

/* ---- the API on synthetic predicates ---- */

Test(shrink_api, never_failing_returns_the_start)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_case_spec start = small_spec((kvc_mode)m), out;
        memset(&out, 0x77, sizeof out);
        int calls = 0;
        kvc_shrink_stats st;
        int rc = kvc_shrink(&start, 9, never_fails, &calls, 100, &out, &st);
        cr_assert_eq(rc, KVC_SHRINK_NOT_FAILING);
        cr_assert_eq(memcmp(&out, &start, sizeof out), 0);
        cr_assert_eq(st.attempts, 1);
        cr_assert_eq(st.accepted, 0);
        cr_assert_eq(calls, 1);
    }
}

/* With every candidate "failing", each mode shrinks to its smallest valid
 * canonical spec. */
Test(shrink_api, always_failing_reaches_the_minimal_spec)
{
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        kvc_case_spec start = small_spec((kvc_mode)m), out;
        start.pad_tokens = 3;
        start.mask = KVC_MASK_RANDOM;
        start.values = KVC_VALUES_GROWING;
        start.leak_sensitive = 1;
        start.cfg.window_left = 4;
        start.cfg.softcap = 30.0f;
        start.cfg.causal = 0;
        if (m != KVC_MODE_BLOCKED) {
            start.hnd = 1;
            start.stride_pad = 3;
            start.table = KVC_TABLE_REVERSED;
        }
        if (m == KVC_MODE_QEFF)
            start.qeff_left_pad = 1;
        int calls = 0;
        kvc_shrink_stats st;
        int rc = kvc_shrink(&start, 9, always_fails, &calls, 0, &out, &st);
        cr_assert_eq(rc, KVC_SHRINK_DONE);
        cr_assert_eq(calls, st.attempts);
        cr_assert_eq(out.num_seqs, 0, "mode %d", m);
        cr_assert_eq(out.pad_tokens, 0);
        cr_assert_eq(out.cfg.num_q_heads, 1);
        cr_assert_eq(out.cfg.num_kv_heads, 1);
        cr_assert_eq(out.cfg.head_dim, 1);
        cr_assert_eq(out.cfg.scale, 1.0f);
        cr_assert_eq(out.cfg.window_left, KVC_NO_WINDOW);
        cr_assert_eq(out.cfg.softcap, 0.0f);
        cr_assert_eq(out.cfg.causal, 1);
        cr_assert_eq(out.mask, KVC_MASK_NONE);
        cr_assert_eq(out.values, KVC_VALUES_NORMAL);
        cr_assert_eq(out.leak_sensitive, 0);
        if (m == KVC_MODE_BLOCKED) {
            cr_assert_eq(out.cache_len, 1);
            cr_assert_eq(out.num_kv_blocks, 1);
        } else {
            cr_assert_eq(out.block_size, 1);
            cr_assert_eq(out.extra_blocks, 0);
            cr_assert_eq(out.stride_pad, 0);
            cr_assert_eq(out.hnd, 0);
            cr_assert_eq(out.table, KVC_TABLE_PERMUTED);
        }
        if (m == KVC_MODE_QEFF) {
            cr_assert_eq(out.qeff_max_q, 1);
            cr_assert_eq(out.qeff_left_pad, 0);
        }
    }
}

/* A format bug shrinks but keeps its format: the truncating cache write of
 * an nvfp4 case and of an fp8 per-token case shrink to one sequence, one
 * head and a token or two, still in their format (dropping to f32 would
 * pass), still a cache failure, and nvfp4's head_dim stays a multiple of
 * 16 (whole groups). */
static int is_nvfp4(const kvc_case_spec *s) { return s->kv_dtype == KVC_KV_NVFP4; }
static int is_e4m3_token(const kvc_case_spec *s)
{
    return s->kv_dtype == KVC_KV_FP8_E4M3 && s->kv_scale == KVC_SCALE_TOKEN;
}

Test(shrink_planted, truncation_keeps_its_format, .timeout = 60)
{
    const spec_filter filters[2] = {is_nvfp4, is_e4m3_token};
    for (int i = 0; i < 2; i++) {
        found_case f;
        cr_assert(find_failure(5, &kvc_planted_truncate, KVC_FAIL_CACHE,
                               filters[i], SEARCH_LIMIT, &f));
        kernel_pred p = {&kvc_planted_truncate, KVC_FAIL_CACHE, 0};
        kvc_case_spec out;
        kvc_shrink_stats st;
        int rc = kvc_shrink(&f.spec, f.value_seed, fails_like, &p, 5000, &out,
                            &st);
        report("truncate", &f, &out, &st);
        cr_assert_eq(rc, KVC_SHRINK_DONE);
        cr_assert_eq(out.kv_dtype, f.spec.kv_dtype);
        cr_assert_eq(out.kv_scale, f.spec.kv_scale);
        cr_assert_eq(out.num_seqs, 1);
        cr_assert_eq(out.cfg.num_kv_heads, 1);
        cr_assert_leq(out.ctx_len[0] + out.q_len[0], 2);
        cr_assert_eq(out.cfg.head_dim % (i == 0 ? 16 : 1), 0);
        cr_assert_eq(rerun(&out, f.value_seed, &kvc_planted_truncate),
                     KVC_FAIL_CACHE);
        cr_assert_eq(rerun(&out, f.value_seed, &kvc_builtin_kernel), KVC_PASS);
    }
}

/* Under a predicate that always fails, the format is dropped too: f32, no
 * edges, calibrated scales. */
Test(shrink_api, always_failing_drops_the_format)
{
    kvc_case_spec start = small_spec(KVC_MODE_PAGED), out;
    start.kv_dtype = KVC_KV_NVFP4;
    start.kv_scale = KVC_SCALE_GROUP;
    start.scale_family = KVC_SCALES_HUGE;
    start.format_edges = 1;
    int calls = 0;
    kvc_shrink_stats st;
    cr_assert_eq(kvc_shrink(&start, 9, always_fails, &calls, 0, &out, &st),
                 KVC_SHRINK_DONE);
    cr_assert_eq(out.kv_dtype, KVC_KV_F32);
    cr_assert_eq(out.kv_scale, KVC_SCALE_NONE);
    cr_assert_eq(out.scale_family, KVC_SCALES_CALIBRATED);
    cr_assert_eq(out.format_edges, 0);
    cr_assert_eq(out.cfg.head_dim, 1);
}

/* Random specs of every mode, shrunk under a predicate that needs kv_len
 * >= 5 and Hq >= 3: the result keeps exactly that, and every mode's
 * constraints (QEFF writes inside a block, BLOCKED cache_len >= kv_len)
 * hold because only specs that build are ever handed to the predicate. */
Test(shrink_api, keeps_what_the_failure_needs, .timeout = 60)
{
    int shrunk[KVC_MODE_COUNT] = {0};
    for (int m = 0; m < KVC_MODE_COUNT; m++) {
        for (uint64_t i = 0; i < 200 && shrunk[m] < 3; i++) {
            kvc_case_spec start, out;
            cr_assert_eq(kvc_spec_draw(11, i, m, &start), 0);
            kvc_case c;
            char err[256];
            cr_assert_eq(kvc_case_build(&start, 5, &c, err, sizeof err), 0,
                         "%s", err);
            int fails = needs_kv5_hq3(&c, NULL);
            kvc_case_free(&c);
            if (!fails)
                continue;
            kvc_shrink_stats st;
            int rc = kvc_shrink(&start, 5, needs_kv5_hq3, NULL, 0, &out, &st);
            cr_assert_eq(rc, KVC_SHRINK_DONE);
            cr_log_info("%s case %llu: %d -> %d tokens, %d attempts",
                        kvc_mode_name((kvc_mode)m), (unsigned long long)i,
                        total_tokens(&start), total_tokens(&out), st.attempts);
            cr_assert_eq(out.num_seqs, 1, "mode %d case %llu", m,
                         (unsigned long long)i);
            cr_assert_eq(out.ctx_len[0] + out.q_len[0], 5);
            cr_assert_eq(out.cfg.num_q_heads, 3);
            cr_assert_eq(out.cfg.num_kv_heads, 1);
            cr_assert_eq(out.cfg.head_dim, 1);
            cr_assert_eq(kvc_case_build(&out, 5, &c, err, sizeof err), 0,
                         "%s", err);
            kvc_case_free(&c);
            shrunk[m]++;
        }
        cr_assert_eq(shrunk[m], 3, "mode %s: too few starts",
                     kvc_mode_name((kvc_mode)m));
    }
}

Test(shrink_api, bad_arguments)
{
    kvc_case_spec start = small_spec(KVC_MODE_PAGED), out, bad;
    int calls = 0;
    kvc_shrink_stats st = {42, 42};
    cr_assert_eq(kvc_shrink(NULL, 1, always_fails, &calls, 10, &out, &st),
                 KVC_SHRINK_ERROR);
    cr_assert_eq(st.attempts, 0);
    cr_assert_eq(kvc_shrink(&start, 1, NULL, &calls, 10, &out, &st),
                 KVC_SHRINK_ERROR);
    cr_assert_eq(kvc_shrink(&start, 1, always_fails, &calls, 10, NULL, &st),
                 KVC_SHRINK_ERROR);
    bad = start;
    bad.cfg.num_q_heads = 3; /* not a multiple of Hkv = 2 */
    cr_assert_eq(kvc_shrink(&bad, 1, always_fails, &calls, 10, &out, NULL),
                 KVC_SHRINK_ERROR);
    cr_assert_eq(memcmp(&out, &bad, sizeof out), 0);
    bad = start;
    bad.mode = KVC_MODE_QEFF;
    bad.ctx_len[0] = 15;
    bad.q_len[0] = 2; /* crosses a block */
    cr_assert_eq(kvc_shrink(&bad, 1, always_fails, &calls, 10, &out, NULL),
                 KVC_SHRINK_ERROR);
    cr_assert_eq(calls, 0);
    /* out may alias start */
    kvc_case_spec inout = start;
    cr_assert_eq(kvc_shrink(&inout, 1, always_fails, &calls, 0, &inout, NULL),
                 KVC_SHRINK_DONE);
    cr_assert_eq(inout.num_seqs, 0);
}

/* ---- shrinking keeps the failure's mechanism (tools/reproducer.c) ----
 *
 * Each kernel below fails one way on a large case and another way on a
 * small one, so a shrinker that only kept "it fails" would trade the
 * first for the second. The reproducer must fail as the original did. */

/* A sequence of >= 24 keys in the batch. */
static int big_batch(const kva_paged_batch *b)
{
    for (int s = 0; s < b->num_seqs; s++)
        if (b->seq_lens[s] >= 24)
            return 1;
    return 0;
}

/* libkvattn, then out[0] becomes NaN in a big batch, else off by 0.5. */
static kva_status nan_when_big(const kva_attn_params *p,
                               const kva_paged_cache *c,
                               const kva_paged_batch *b, const float *q,
                               int64_t n, float *out, float *lse, kva_error *e)
{
    kva_status st = kvc_builtin_kernel.paged_attention(p, c, b, q, n, out, lse, e);
    if (st == KVA_OK && b->num_seqs > 0 && b->query_start_loc[b->num_seqs] > 0)
        out[0] = big_batch(b) ? NAN : out[0] + 0.5f;
    return st;
}

/* libkvattn, then out[0] is off by 1000 in a big batch, else by 0.01:
 * ratios five decades apart. */
static kva_status far_off_when_big(const kva_attn_params *p,
                                   const kva_paged_cache *c,
                                   const kva_paged_batch *b, const float *q,
                                   int64_t n, float *out, float *lse,
                                   kva_error *e)
{
    kva_status st = kvc_builtin_kernel.paged_attention(p, c, b, q, n, out, lse, e);
    if (st == KVA_OK && b->num_seqs > 0 && b->query_start_loc[b->num_seqs] > 0)
        out[0] += big_batch(b) ? 1000.0f : 0.01f;
    return st;
}

/* libkvattn's cache write, then (f32 caches) dim 0 of head 0 of the first
 * written token is off by one: in V when >= 3 tokens are written, else in
 * K. Two kinds of cache failure ("V cache token", "K cache token"). */
static kva_status cache_v_when_many(const kva_paged_cache *c, const float *k,
                                    const float *v, const int64_t *slots,
                                    int64_t n, kva_error *e)
{
    kva_status st = kvc_builtin_kernel.cache_write(c, k, v, slots, n, e);
    if (st != KVA_OK || c->dtype != KVA_DTYPE_F32)
        return st;
    int64_t written = 0, first = -1;
    for (int64_t t = 0; t < n; t++)
        if (slots[t] >= 0) {
            written++;
            first = first < 0 ? slots[t] : first;
        }
    if (first < 0)
        return st;
    int64_t u = first / c->block_size * c->stride_block +
                first % c->block_size * c->stride_slot;
    float *buf = written >= 3 ? c->v : c->k;
    buf[u] += 1.0f;
    return st;
}

typedef int (*case_filter)(const kvc_case *);
static int f32_big(const kvc_case *c)
{
    const kvc_problem *p = &c->prob;
    if (p->quant.dtype != KVC_KV_F32 || p->q_start[p->num_seqs] == 0)
        return 0;
    for (int s = 0; s < p->num_seqs; s++)
        if (kvc_kv_len(p, s) >= 24)
            return 1;
    return 0;
}
static int f32_many_new(const kvc_case *c)
{
    return c->prob.quant.dtype == KVC_KV_F32 && c->prob.q_start[c->prob.num_seqs] >= 3;
}

/* The first paged case of seed 5 that passes filter and fails against k;
 * its result in *r. */
static uint64_t first_failing(const kvc_kernel *k, case_filter filter,
                              kvc_result *r)
{
    for (uint64_t i = 0; i < 400; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(5, i, KVC_MODE_PAGED, &c, err, sizeof err),
                     0, "%s", err);
        int hit = filter(&c) && kvc_run_case(&c, k, r) != KVC_PASS;
        kvc_case_free(&c);
        if (hit)
            return i;
    }
    cr_assert_fail("no case of seed 5 fits");
    return 0;
}

/* Shrink case idx against k into a reproducer; replay it: *r. */
static void shrink_and_replay(const kvc_kernel *k, uint64_t idx, kvc_repro *info,
                              kvc_result *r, kvc_case_spec *shrunk)
{
    char dir[] = "/tmp/kvc-shrink-mech-XXXXXX", path[96], err[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/repro.json", dir);
    cr_assert_eq(kvc_write_reproducer(5, idx, KVC_MODE_PAGED, k, path, info, err,
                                      sizeof err), 0, "%s", err);
    kvc_golden_file f;
    cr_assert_eq(kvc_golden_read(path, &f, err, sizeof err), 0, "%s", err);
    kvc_run_case(&f.tests[0].c, k, r);
    *shrunk = f.tests[0].c.spec;
    kvc_golden_free(&f);
    unlink(path);
    rmdir(dir);
}

Test(shrink_mechanism, non_finite_stays_non_finite, .timeout = 120)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.name = "planted-nan-when-big";
    k.paged_attention = nan_when_big;
    kvc_result r0, r1;
    uint64_t idx = first_failing(&k, f32_big, &r0);
    cr_assert_eq(r0.outcome, KVC_FAIL_NUMERIC);
    cr_assert(isnan(r0.verdict.got), "the original's worst value is %g", r0.verdict.got);
    kvc_repro info;
    kvc_case_spec s;
    shrink_and_replay(&k, idx, &info, &r1, &s);
    cr_expect_eq(r1.outcome, KVC_FAIL_NUMERIC, "%s", r1.message);
    cr_expect(!isfinite(r1.verdict.got), "shrunk %s -> %s: the reproducer's "
              "worst value is %g, finite", info.before, info.after, r1.verdict.got);
    cr_expect_gt(info.attempts, 0);
}

Test(shrink_mechanism, ratio_keeps_its_order_of_magnitude, .timeout = 120)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.name = "planted-far-off-when-big";
    k.paged_attention = far_off_when_big;
    kvc_result r0, r1;
    uint64_t idx = first_failing(&k, f32_big, &r0);
    cr_assert_eq(r0.outcome, KVC_FAIL_NUMERIC);
    kvc_repro info;
    kvc_case_spec s;
    shrink_and_replay(&k, idx, &info, &r1, &s);
    cr_assert_eq(r1.outcome, KVC_FAIL_NUMERIC, "%s", r1.message);
    double d = fabs(log10(r1.verdict.ratio) - log10(r0.verdict.ratio));
    cr_expect_lt(d, 2.0, "shrunk %s -> %s: ratio %g became %g", info.before,
                 info.after, r0.verdict.ratio, r1.verdict.ratio);
    cr_expect_neq(strcmp(info.before, info.after), 0, "nothing was shrunk");
}

Test(shrink_mechanism, cache_failure_keeps_its_kind, .timeout = 120)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.name = "planted-cache-v-when-many";
    k.cache_write = cache_v_when_many;
    kvc_result r0, r1;
    uint64_t idx = first_failing(&k, f32_many_new, &r0);
    cr_assert_eq(r0.outcome, KVC_FAIL_CACHE, "%s", r0.message);
    cr_assert_not_null(strstr(r0.message, "V cache"), "%s", r0.message);
    kvc_repro info;
    kvc_case_spec s;
    shrink_and_replay(&k, idx, &info, &r1, &s);
    cr_expect_eq(r1.outcome, KVC_FAIL_CACHE, "%s", r1.message);
    cr_expect_not_null(strstr(r1.message, "V cache"), "shrunk %s -> %s: %s",
                       info.before, info.after, r1.message);
    cr_expect_neq(strcmp(info.before, info.after), 0, "nothing was shrunk");
}
