/*
 * golden_cache_verify.h — a block manager and eviction policies against
 * the cache operation vectors (golden/golden_cache.h; FORMAT.md, "Cache
 * operation vectors"): every step's status, slots, copies and the whole
 * state after it. A manager's block numbers are judged up to a renaming:
 * the verifier keeps a bijection between the file's live block labels and
 * the manager's block ids (a label first seen binds to the manager's id,
 * which no other live label may hold; a bound label must be the same id
 * everywhere; blocks bound to no label must have count 0; a label whose
 * count in the file goes to 0 is unbound). Policies are compared exactly.
 */
#ifndef KVC_GOLDEN_CACHE_VERIFY_H
#define KVC_GOLDEN_CACHE_VERIFY_H

#include <stdio.h>

#include "../golden/golden_cache.h"
#include "bm_check.h"
#include "golden_verify.h"
#include "policy_check.h"

/* One test's verdict. */
typedef struct kvc_cache_verdict {
    int covered;      /* 0: the implementation lacks this half (not run) */
    int passed;       /* 1: every step agreed */
    int failed_step;  /* -1 on a pass */
    char message[480]; /* "step K (op ...): what differs"; "" on a pass */
} kvc_cache_verdict;

/* Run test t of a file of kind `kind` here, on bm (manager files) or pol
 * (policy files); NULL leaves the test not covered. Returns v->passed. */
int kvc_cache_verify_test(kvc_cache_kind kind, const kvc_cache_test *t,
                          const kvc_bm_impl *bm, const kvc_policy_impl *pol,
                          kvc_cache_verdict *v);

/* Verify every test of f, each in a worker process (jobs >= 1; 0: here,
 * in order) on the given tables: one line per failure to out ("FAIL
 * <name> tcId N [manager] step K (op ...): what differs", then the
 * comment), one per pass too when verbose. Counts passed, failed and not
 * covered (outside_claim). */
void kvc_cache_verify_impl(const kvc_cache_file *f, const char *name,
                           const kvc_bm_impl *bm, const kvc_policy_impl *pol,
                           int jobs, int verbose, FILE *out,
                           kvc_verify_counts *counts);

/* The same for the kernel of a verification (golden_verify.h): libkvattn's
 * halves, or those a --kernel-lib library claims (KVA_MODE_MANAGER,
 * KVA_MODE_POLICY; a half it does not claim leaves its tests not
 * covered), bound by each worker. */
void kvc_cache_verify_file(const kvc_cache_file *f, const char *name,
                           const kvc_verify_kernel *vk, int verbose, FILE *out,
                           kvc_verify_counts *counts);

#endif /* KVC_GOLDEN_CACHE_VERIFY_H */
