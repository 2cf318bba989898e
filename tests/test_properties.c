/*
 * test_properties.c — the tolerance-based properties (tools/properties.h):
 * the in-tree kernel passes them, and each catches its planted bug on
 * cases the oracle alone passes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/named.h"
#include "../tools/properties.h"
#include "planted_kernels.h"

typedef kvc_outcome (*prop_fn)(const kvc_case *, const kvc_kernel *,
                               const float *, const float *, kvc_result *);

static const kvc_run_opts oracle_only = {KVC_EXPECT_VALID, NULL, NULL, 1, NULL};

/* The oracle's verdict alone (no properties) on c. */
static kvc_outcome oracle_verdict(const kvc_case *c, const kvc_kernel *k,
                                  kvc_result *r)
{
    return kvc_run_case_opts(c, k, &oracle_only, r);
}

/* Run c whole through k, then the property. */
static kvc_outcome run_prop(const kvc_case *c, const kvc_kernel *k, prop_fn f,
                            kvc_result *r)
{
    float *out, *lse;
    int64_t rows;
    kvc_outcome o = kvc_run_outputs(c, k, NULL, &out, &lse, &rows, r);
    if (o != KVC_PASS)
        return o;
    memset(r, 0, sizeof *r);
    o = f(c, k, out, lse, r);
    free(out);
    free(lse);
    return o;
}

static void build(const kvc_case_spec *s, uint64_t seed, kvc_case *c)
{
    char err[256];
    cr_assert_eq(kvc_case_build(s, seed, c, err, sizeof err), 0, "%s", err);
}

Test(properties, outcome_names_are_distinct)
{
    const char *want[] = {"relabel", "batch-invariance", "chunked-prefill",
                          "decode-steps", "block-size"};
    kvc_outcome o[] = {KVC_FAIL_PROP_RELABEL, KVC_FAIL_PROP_BATCH,
                       KVC_FAIL_PROP_CHUNKED, KVC_FAIL_PROP_DECODE,
                       KVC_FAIL_PROP_BLOCK_SIZE};
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(kvc_outcome_name(o[i]), want[i]);
}

/* The in-tree kernel passes the three, unsampled, on generated cases of
 * every mode and format. */
Test(properties, builtin_kernel_passes_on_generated_cases, .timeout = 300)
{
    prop_fn f[] = {kvc_check_chunked_prefill, kvc_check_decode_steps,
                   kvc_check_block_size};
    int checked = 0;
    for (uint64_t i = 0; i < 300; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(11, i, -1, &c, err, sizeof err), 0,
                     "%s", err);
        kvc_result r;
        cr_assert_eq(kvc_run_case(&c, &kvc_builtin_kernel, &r), KVC_PASS,
                     "case %llu: %s: %s", (unsigned long long)i,
                     kvc_outcome_name(r.outcome), r.message);
        for (int p = 0; p < 3; p++) {
            kvc_outcome o = run_prop(&c, &kvc_builtin_kernel, f[p], &r);
            cr_assert_eq(o, KVC_PASS, "case %llu property %d: %s: %s",
                         (unsigned long long)i, p, kvc_outcome_name(o),
                         r.message);
        }
        checked++;
        kvc_case_free(&c);
    }
    cr_assert_eq(checked, 300);
}

/* Named shapes the properties must handle: masks, windows, softcap, GQA,
 * every cache format, QEfficient left padding, blocked tiles. */
Test(properties, builtin_kernel_passes_on_named_cases, .timeout = 120)
{
    prop_fn f[] = {kvc_check_chunked_prefill, kvc_check_decode_steps,
                   kvc_check_block_size};
    for (size_t i = 0; i < kvc_named_count(); i++) {
        const kvc_named_case *nc = kvc_named_get(i);
        kvc_case_spec s = kvc_named_spec(nc);
        kvc_case c;
        build(&s, 5, &c);
        kvc_result r;
        if (oracle_verdict(&c, &kvc_builtin_kernel, &r) != KVC_PASS) {
            kvc_case_free(&c);
            continue;
        }
        for (int p = 0; p < 3; p++) {
            kvc_outcome o = run_prop(&c, &kvc_builtin_kernel, f[p], &r);
            cr_assert_eq(o, KVC_PASS, "%s property %d: %s: %s", nc->name, p,
                         kvc_outcome_name(o), r.message);
        }
        kvc_case_free(&c);
    }
}

/* A whole prefill (ctx 0) is right with the chunk-position bug, so the
 * oracle passes it; split into chunks, the second chunk (ctx > 0, q > 1)
 * is wrong. */
Test(properties, chunked_prefill_catches_chunk_position_bug)
{
    kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
    s.ctx_len[0] = 0;
    s.q_len[0] = 24;
    int caught = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        kvc_case c;
        build(&s, seed, &c);
        kvc_result r;
        cr_assert_eq(oracle_verdict(&c, &kvc_planted_chunk_position, &r),
                     KVC_PASS, "%s", r.message);
        kvc_outcome o = run_prop(&c, &kvc_planted_chunk_position,
                                 kvc_check_chunked_prefill, &r);
        cr_assert(o == KVC_PASS || o == KVC_FAIL_PROP_CHUNKED, "%s: %s",
                  kvc_outcome_name(o), r.message);
        if (o == KVC_FAIL_PROP_CHUNKED) {
            caught++;
            cr_assert(strstr(r.message, "chunks") != NULL, "%s", r.message);
        }
        cr_assert_eq(run_prop(&c, &kvc_builtin_kernel, kvc_check_chunked_prefill,
                              &r),
                     KVC_PASS, "%s", r.message);
        kvc_case_free(&c);
    }
    /* a plan whose later chunks are single tokens misses the bug */
    cr_assert_geq(caught, 7, "caught %d of 10", caught);
}

/* A prefill's rows are right with the decode bug (q_len > 1), so the
 * oracle passes; its last tokens as decode steps are wrong. */
Test(properties, decode_steps_catch_decode_only_bug)
{
    kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
    s.ctx_len[0] = 9;
    s.q_len[0] = 7;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        kvc_case c;
        build(&s, seed, &c);
        kvc_result r;
        cr_assert_eq(oracle_verdict(&c, &kvc_planted_decode_misses_own_key, &r),
                     KVC_PASS, "%s", r.message);
        kvc_outcome o = run_prop(&c, &kvc_planted_decode_misses_own_key,
                                 kvc_check_decode_steps, &r);
        cr_assert_eq(o, KVC_FAIL_PROP_DECODE, "%s: %s", kvc_outcome_name(o),
                     r.message);
        cr_assert(strstr(r.message, "decode step") != NULL, "%s", r.message);
        kvc_case_free(&c);
    }
}

/* Block size 16 is right with the large-page bug, so the oracle passes;
 * laid out with a block size >= 32 it is wrong. */
Test(properties, block_size_catches_big_block_bug)
{
    kvc_case_spec s = kvc_named_base(KVC_MODE_PAGED);
    s.num_seqs = 2;
    s.ctx_len[0] = 30, s.q_len[0] = 3;
    s.ctx_len[1] = 7, s.q_len[1] = 1;
    int caught = 0, big = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        kvc_case c;
        build(&s, seed, &c);
        kvc_result r;
        cr_assert_eq(oracle_verdict(&c, &kvc_planted_big_block_diagonal, &r),
                     KVC_PASS, "%s", r.message);
        kvc_outcome o = run_prop(&c, &kvc_planted_big_block_diagonal,
                                 kvc_check_block_size, &r);
        cr_assert(o == KVC_PASS || o == KVC_FAIL_PROP_BLOCK_SIZE, "%s: %s",
                  kvc_outcome_name(o), r.message);
        if (o == KVC_FAIL_PROP_BLOCK_SIZE) {
            caught++;
            int b = 0;
            cr_assert_eq(sscanf(strstr(r.message, "block size") ? strstr(r.message, "block size") : "",
                                "block size %d", &b), 1, "%s", r.message);
            cr_assert_geq(b, 32, "%s", r.message);
        }
        big += o == KVC_FAIL_PROP_BLOCK_SIZE;
        kvc_case_free(&c);
    }
    /* about 5 in 11 draws pick a block size >= 32 */
    cr_assert_geq(caught, 4, "caught %d of 20", caught);
    (void)big;
}

/* Catch rates on generated paged cases: how often the oracle alone
 * catches each bug, and how often the property catches it on a case the
 * oracle passed (printed; every property must catch some). */
Test(properties, catch_rates_on_generated_cases, .timeout = 300)
{
    struct {
        const kvc_kernel *k;
        prop_fn f;
        kvc_outcome want;
    } t[] = {
        {&kvc_planted_chunk_position, kvc_check_chunked_prefill,
         KVC_FAIL_PROP_CHUNKED},
        {&kvc_planted_decode_misses_own_key, kvc_check_decode_steps,
         KVC_FAIL_PROP_DECODE},
        {&kvc_planted_big_block_diagonal, kvc_check_block_size,
         KVC_FAIL_PROP_BLOCK_SIZE},
    };
    const int N = 200;
    for (int p = 0; p < 3; p++) {
        int oracle = 0, prop = 0, passed = 0;
        for (int i = 0; i < N; i++) {
            kvc_case c;
            char err[256];
            cr_assert_eq(kvc_case_generate(23, (uint64_t)i, KVC_MODE_PAGED, &c,
                                           err, sizeof err),
                         0, "%s", err);
            kvc_result r;
            if (oracle_verdict(&c, t[p].k, &r) != KVC_PASS) {
                oracle++;
            } else {
                passed++;
                kvc_outcome o = run_prop(&c, t[p].k, t[p].f, &r);
                cr_assert(o == KVC_PASS || o == t[p].want, "%s: %s: %s",
                          t[p].k->name, kvc_outcome_name(o), r.message);
                prop += o == t[p].want;
            }
            kvc_case_free(&c);
        }
        fprintf(stderr,
                "properties: %s: oracle catches %d of %d paged cases; "
                "%s catches %d of the %d the oracle passed\n",
                t[p].k->name, oracle, N, kvc_outcome_name(t[p].want), prop,
                passed);
        cr_assert_gt(prop, 0, "%s: the property caught nothing", t[p].k->name);
    }
}
