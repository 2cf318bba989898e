/*
 * test_claims.c — suite `claims`: what kvcheck does with an ABI 2
 * library's capabilities (kernels/kvattn.h, tools/claim.h), through the
 * command line and tests/claims_lib.c (libkvattn behind a claim chosen by
 * KVC_CLAIM).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/claim.h"
#include "../tools/runner.h"
#include "subprocess.h"

#ifndef KVC_BUILD_DIR
#define KVC_BUILD_DIR "build"
#endif
#define KVCHECK KVC_BUILD_DIR "/kvcheck"
#define CLAIMS KVC_BUILD_DIR "/tests/libkvattn_claims.so"
#define ABI1 KVC_BUILD_DIR "/tests/libkvattn_misbehave.so"

static void run_claim(kvc_proc *p, const char *claim, const char *const *args)
{
    char env[128];
    snprintf(env, sizeof env, "KVC_CLAIM=%s", claim);
    const char *envv[] = {env, "CI=true", NULL};
    const char *argv[32] = {KVCHECK};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    cr_assert_eq(kvc_proc_run(p, argv, envv, 300), 0);
}

static cJSON *read_json(const char *path)
{
    char *text = kvc_read_file(path);
    cr_assert_not_null(text, "cannot read %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j, "%s is not JSON", path);
    return j;
}

/* The claim row of `item` in summary.json. */
static const cJSON *claim_item(const cJSON *root, const char *item)
{
    const cJSON *items =
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "claim"), "items");
    const cJSON *e;
    cJSON_ArrayForEach(e, items)
    {
        const cJSON *name = cJSON_GetObjectItem(e, "item");
        if (cJSON_IsString(name) && strcmp(name->valuestring, item) == 0)
            return e;
    }
    cr_assert_fail("no claim row %s", item);
    return NULL;
}

/* The "done when": a paged-only, F32/F16-only library, no flag but
 * --kernel-lib: no refusal counted, every case inside the claim, a
 * coverage table of what it did not claim, exit 0. */
Test(claims, paged_f16_library_checked_with_no_other_flag, .timeout = 300)
{
    char dir[] = "/tmp/kvcheck-claims-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *args[] = {"run", "--kernel-lib", CLAIMS, "--cases", "300",
                          "--report", dir, NULL};
    kvc_proc p;
    run_claim(&p, "paged-f16", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_assert(strstr(p.out, "paged 300, blocked 0, qeff 0"), "%s", p.out);
    cr_assert(strstr(p.out, "not covered (outside the claim): mode blocked"),
              "%s", p.out);
    char path[256];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *j = read_json(path);
    const cJSON *cases = cJSON_GetObjectItem(j, "cases"), *c;
    int n = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const char *fmt = cJSON_GetObjectItem(c, "kv_format")->valuestring;
        cr_expect_str_eq(cJSON_GetObjectItem(c, "mode")->valuestring, "paged");
        cr_expect(strcmp(fmt, "f32") == 0 || strcmp(fmt, "f16") == 0, "%s",
                  fmt);
        cr_expect_leq(cJSON_GetObjectItem(c, "head_dim")->valueint, 128);
        n++;
    }
    cr_assert_eq(n, 300);
    const cJSON *blocked = claim_item(j, "mode blocked");
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(blocked, "claimed")));
    cr_expect_gt(cJSON_GetObjectItem(blocked, "draws_outside")->valuedouble, 0);
    cr_expect_eq(cJSON_GetObjectItem(blocked, "cases_run")->valuedouble, 0);
    const cJSON *f16 = claim_item(j, "format f16");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(f16, "claimed")));
    cr_expect_gt(cJSON_GetObjectItem(f16, "cases_run")->valuedouble, 0);
    const cJSON *cw = claim_item(j, "cache write (in place)");
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(cw, "claimed")));
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/summary.md", dir);
    char *md = kvc_read_file(path);
    cr_assert_not_null(md);
    cr_expect(strstr(md, "| mode qeff | **no: not covered**"), "%s", md);
    free(md);
    snprintf(path, sizeof path, "%s/index.html", dir);
    char *html = kvc_read_file(path);
    cr_assert_not_null(html);
    cr_expect(strstr(html, "What the kernel claims"));
    free(html);
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    char *junit = kvc_read_file(path);
    cr_assert_not_null(junit);
    cr_expect(strstr(junit, "name=\"not_covered\" value=\"mode blocked, mode qeff"),
              "%s", junit);
    free(junit);
    kvc_proc_free(&p);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    cr_assert_eq(system(rm), 0);
}

/* Replaying a failure's case with the same library draws the same case
 * (the claim is part of the draw). */
Test(claims, replay_draws_the_same_case_inside_the_claim, .timeout = 120)
{
    kva_caps caps;
    kva_caps_everything(&caps);
    caps.modes = KVA_MODE_PAGED;
    memset(caps.formats, 0, sizeof caps.formats);
    caps.formats[KVA_DTYPE_F32] = caps.formats[KVA_DTYPE_F16] = 1u;
    caps.features &= ~(uint32_t)KVA_FEATURE_CACHE_WRITE;
    caps.head_dims.max = 128;
    /* an index whose first draw is outside the claim */
    uint64_t idx = 0;
    int attempt = 0;
    kvc_case_spec sp;
    for (; idx < 200; idx++) {
        cr_assert_eq(kvc_claimed_spec(&caps, 1, idx, -1, &sp, &attempt, NULL), 0);
        if (attempt > 0)
            break;
    }
    cr_assert_gt(attempt, 0);
    kvc_case c;
    char err[256], want[512];
    cr_assert_eq(kvc_claimed_generate(&caps, 1, idx, -1, &c, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(c.spec.mode, KVC_MODE_PAGED);
    kvc_case_describe(&c, want, sizeof want);
    kvc_case_free(&c);
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)idx);
    const char *args[] = {"replay", "--seed", "1", "--case", num,
                          "--kernel-lib", CLAIMS, NULL};
    kvc_proc p;
    run_claim(&p, "paged-f16", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_assert(strstr(p.out, want), "replay drew another case:\n%s\nwant %s",
              p.out, want);
    kvc_proc_free(&p);
}

Test(claims, lse_not_returned_is_not_covered)
{
    const char *args[] = {"run", "--kernel-lib", CLAIMS, "--cases", "150",
                          "--kernel", "paged", "--no-report", NULL};
    kvc_proc p;
    run_claim(&p, "lse-none", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "lse: not covered"), "%s", p.out);
    kvc_proc_free(&p);
}

Test(claims, base2_lse_converted_and_a_lie_caught)
{
    const char *args[] = {"run", "--kernel-lib", CLAIMS, "--cases", "150",
                          "--kernel", "paged", "--no-report", NULL};
    kvc_proc p;
    run_claim(&p, "lse-base2", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    kvc_proc_free(&p);
    run_claim(&p, "lse-lie", args); /* natural lse claimed as base 2 */
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "numeric: lse["), "%s", p.out);
    kvc_proc_free(&p);
}

Test(claims, unsupported_inside_the_claim_fails)
{
    const char *args[] = {"run", "--kernel-lib", CLAIMS, "--cases", "200",
                          "--kernel", "paged", "--no-report", NULL};
    kvc_proc p;
    run_claim(&p, "unsupported", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "unsupported: paged attention returned "
                            "KVA_ERR_UNSUPPORTED for a case inside its claim"),
              "%s", p.out);
    kvc_proc_free(&p);
}

/* Equal thread counts must give equal bits: a kernel that flips a bit on
 * every second call fails; one that does not passes. */
Test(claims, thread_count_runs_are_bitwise_equal, .timeout = 120)
{
    const char *args[] = {"run", "--kernel-lib", CLAIMS, "--cases", "100",
                          "--kernel", "blocked", "--kernel-threads", "3",
                          "--no-report", NULL};
    kvc_proc p;
    run_claim(&p, "threads", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "3 threads per call"), "%s", p.out);
    kvc_proc_free(&p);
    /* through the command line the relabel property (an earlier rerun) is
     * what usually catches it; the thread property alone is proven below */
    const char *paged[] = {"run", "--kernel-lib", CLAIMS, "--cases", "100",
                           "--kernel", "paged", "--kernel-threads", "3",
                           "--no-report", "--max-failures", "50", NULL};
    run_claim(&p, "nondet", paged);
    cr_assert_eq(kvc_proc_exit_code(&p), 1, "%s%s", p.out, p.err);
    cr_expect(strstr(p.out, "--kernel-threads 3"), "replay lacks the count: %s",
              p.out);
    kvc_proc_free(&p);
}

Test(claims, a_claim_that_is_not_data_is_refused)
{
    const char *args[] = {"run", "--kernel-lib", CLAIMS, "--cases", "10",
                          "--no-report", NULL};
    kvc_proc p;
    run_claim(&p, "bad-modes", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 2, "%s%s", p.out, p.err);
    cr_expect(strstr(p.err, "kva_capabilities: modes 0x0"), "%s", p.err);
    kvc_proc_free(&p);
}

/* An ABI 1 library (no kva_capabilities) claims everything: the same
 * cases as the in-tree kernel. */
Test(claims, abi1_library_claims_everything)
{
    const char *argv[] = {KVCHECK, "run", "--kernel-lib", ABI1, "--cases",
                          "100", "--no-report", NULL};
    const char *env[] = {"CI=true", NULL};
    kvc_proc p;
    cr_assert_eq(kvc_proc_run(&p, argv, env, 120), 0);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    cr_expect(!strstr(p.out, "not covered"), "%s", p.out);
    const char *in_tree[] = {KVCHECK, "run", "--cases", "100", "--no-report",
                             NULL};
    kvc_proc q;
    cr_assert_eq(kvc_proc_run(&q, in_tree, env, 120), 0);
    /* the first summary line names the per-mode counts: identical draws */
    char *a = strstr(p.out, "kvcheck run: seed"), *b = strstr(q.out, "kvcheck run: seed");
    cr_assert(a && b);
    cr_expect_eq(strcspn(a, "\n"), strcspn(b, "\n"));
    cr_expect(strncmp(a, b, strcspn(a, "\n")) == 0, "%s\nvs\n%s", a, b);
    kvc_proc_free(&q);
    kvc_proc_free(&p);
}

Test(claims, golden_verify_skips_what_is_not_claimed, .timeout = 300)
{
    const char *args[] = {"golden", "verify", "--kernel-lib", CLAIMS, NULL};
    kvc_proc p;
    run_claim(&p, "paged-f16", args);
    cr_assert_eq(kvc_proc_exit_code(&p), 0, "%s%s", p.out, p.err);
    const char *s = strstr(p.out, "not covered (outside the kernel's claim)");
    cr_assert(s, "%s", p.out);
    /* "..., N not covered": N > 0 */
    const char *comma = s;
    while (comma > p.out && comma[-1] != ',')
        comma--;
    cr_expect_gt(atoi(comma + 1), 0, "%s", p.out);
    kvc_proc_free(&p);
}

/* Claim helpers: coverage items of a spec, sets and ranges. */
Test(claims, sets_ranges_and_items)
{
    kva_caps caps;
    kva_caps_everything(&caps);
    kvc_case_facts f = {.mode = KVC_MODE_PAGED, .dtype = KVC_KV_F16,
                        .kind = KVC_SCALE_NONE, .causal = 1, .head_dim = 96,
                        .block_size = 16, .max_kv = 100, .max_q = 4};
    cr_expect_eq(kvc_claim_missing(&caps, &f), 0);
    caps.head_dims.count = 2;
    caps.head_dims.values[0] = 64;
    caps.head_dims.values[1] = 128;
    cr_expect_eq(kvc_claim_missing(&caps, &f), 1ull << KVC_COV_HEAD_DIM);
    f.head_dim = 128;
    caps.block_sizes.min = 32; /* 32 and up */
    cr_expect_eq(kvc_claim_missing(&caps, &f), 1ull << KVC_COV_BLOCK_SIZE);
    f.block_size = 32;
    caps.max_seq_len = 99;
    cr_expect_eq(kvc_claim_missing(&caps, &f), 1ull << KVC_COV_SEQ_LEN);
    caps.max_seq_len = 0;
    caps.features &= ~(uint32_t)KVA_FEATURE_CAUSAL;
    cr_expect_eq(kvc_claim_missing(&caps, &f), 1ull << KVC_COV_CAUSAL);
    f.causal = 0;
    f.mode = KVC_MODE_BLOCKED; /* no layout, no block size */
    f.block_size = 0;
    caps.layouts = 0;
    cr_expect_eq(kvc_claim_missing(&caps, &f), 0);
    char err[256];
    caps.layouts = KVA_LAYOUT_ALL;
    cr_expect_eq(kvc_caps_check(&caps, err, sizeof err), 0, "%s", err);
    caps.head_dims.count = KVA_SET_MAX + 1;
    cr_expect_eq(kvc_caps_check(&caps, err, sizeof err), -1);
    cr_expect(strstr(err, "head_dims.count"), "%s", err);
}

/* Blocked attention that flips the last bit of out[0] on every second
 * call: the state of a nondeterministic kernel. */
static int flip_calls;
static kva_status flipping_blocked(const kva_attn_params *p,
                                   const kva_blocked_cache *c, int nkb, int S,
                                   const int64_t *qsl, const int *lens,
                                   const uint8_t *const *masks, const float *q,
                                   int64_t n, float *out, float *lse,
                                   kva_error *e)
{
    kva_status st = kva_blocked_attention(p, c, nkb, S, qsl, lens, masks, q, n,
                                          out, lse, e);
    if (st == KVA_OK && S > 0 && qsl[S] > 0 && (flip_calls++ & 1)) {
        uint32_t bits;
        memcpy(&bits, &out[0], sizeof bits);
        bits ^= 1u;
        memcpy(&out[0], &bits, sizeof bits);
    }
    return st;
}

/* The thread-determinism property on its own: a one-sequence blocked case
 * (neither relabelling nor batch invariance applies) passes the oracle and
 * is caught as nondeterministic only when the kernel takes a thread
 * count. */
Test(claims, thread_determinism_property_alone)
{
    kvc_kernel k = kvc_builtin_kernel;
    k.blocked_attention = flipping_blocked;
    k.caps_set = 1;
    kva_caps_everything(&k.caps);
    k.threads = 2;
    int tried = 0;
    for (uint64_t i = 0; i < 400 && tried < 3; i++) {
        kvc_case c;
        char err[256];
        cr_assert_eq(kvc_case_generate(4, i, KVC_MODE_BLOCKED, &c, err,
                                       sizeof err), 0, "%s", err);
        if (c.prob.num_seqs != 1 || c.prob.q_start[1] == 0) {
            kvc_case_free(&c);
            continue;
        }
        kvc_result r;
        k.caps.takes_threads = 0;
        flip_calls = 0;
        kvc_outcome o0 = kvc_run_case(&c, &k, &r);
        k.caps.takes_threads = 1;
        flip_calls = 0;
        kvc_outcome o1 = kvc_run_case(&c, &k, &r);
        cr_expect_eq(o0, KVC_PASS, "case %llu without threads: %s",
                     (unsigned long long)i, kvc_outcome_name(o0));
        cr_expect_eq(o1, KVC_FAIL_NONDETERMINISTIC, "case %llu: %s: %s",
                     (unsigned long long)i, kvc_outcome_name(o1), r.message);
        kvc_case_free(&c);
        tried++;
    }
    cr_assert_eq(tried, 3);
}
