/*
 * golden_verify.h — check a kernel against golden tests: each test's inputs
 * are run through the runner, and out/lse are judged against the file's
 * expected values and allowed errors (not against a fresh oracle run).
 */
#ifndef KVC_GOLDEN_VERIFY_H
#define KVC_GOLDEN_VERIFY_H

#include <stdio.h>

#include "../golden/golden.h"
#include "runner.h"

/* The runner judge for a golden test (ctx is the kvc_golden_test *):
 * |got - out| <= tolOut and |got - lse| <= tolLse for every value, ratio =
 * error / allowed (0 allowed means exact; a non-finite value where the
 * expected one is finite fails). */
int kvc_golden_judge(const kvc_case *c, const float *out, const float *lse,
                     kvc_verdict *v, void *ctx);

/* The codes, token scales and group codes a valid or acceptable test of a
 * reduced-precision format stores in expected (kCodes, ...) against the
 * oracle's (oracle/kv_store.h) for its inputs. Returns 0 when they agree
 * (or the test has none), 1 when the file is corrupt, -1 when the oracle
 * refuses the format; msg names the first differing value. */
int kvc_golden_check_codes(const kvc_golden_test *t, char *msg, size_t n);

/* Run one golden test against a kernel with its expectation (a test whose
 * stored codes disagree with the oracle fails as KVC_FAIL_SETUP, "corrupt
 * vector", without running the kernel). A kernel whose claim declares
 * another arithmetic than fp32, or 16-bit outputs, is judged by the oracle
 * in its profile instead of the file's fp32 allowances. */
kvc_outcome kvc_golden_run_test(const kvc_golden_test *t, const kvc_kernel *k,
                                kvc_result *r);

/* Which tests to run: a kernel mode (-1: all) and a set of cache formats
 * (bit 1u << kvc_kv_dtype; 0: all). NULL selects everything. */
typedef struct kvc_verify_select {
    int mode;
    unsigned kv_dtypes;
} kvc_verify_select;

typedef struct kvc_verify_counts {
    int passed, failed, skipped; /* skipped: mode or format not selected */
    int outside_claim;           /* not claimed by the kernel (claim.h):
                                    not covered */
    int refused_acceptable;      /* acceptable tests the kernel refused */
    int unreadable;              /* files that could not be read */
} kvc_verify_counts;

/* The exit status of a verification (tools/commands.h): 1 a test failed,
 * else 3 a file was unreadable, else 4 no test was run (all skipped, or
 * no tests), else 0. */
int kvc_verify_exit_status(const kvc_verify_counts *counts);

/* The kernel a verification runs, and where. `golden verify` is a gate:
 * its tests run in worker processes (tools/workers.h), so a kernel that
 * crashes, exits or hangs fails that test and the others still run;
 * `replay FILE.json` runs them here, in the foreground, for a debugger. */
typedef struct kvc_verify_kernel {
    const kvc_kernel *k;    /* the kernel; NULL: each worker loads kernel_lib */
    const char *kernel_lib;
    int jobs;               /* >= 1: worker processes; 0: this process */
    double timeout;         /* seconds per test; 0: from its size */
    const kva_caps *claim;  /* tests outside it are skipped (counted as
                               outside_claim); NULL: everything */
    int threads;            /* --kernel-threads (0 = 1) */
} kvc_verify_kernel;

/* Verify every selected test of a file, printing one line per failure (and
 * per test when verbose) to out, in test order. */
void kvc_golden_verify_file(const kvc_golden_file *f, const char *name,
                            const kvc_verify_kernel *vk,
                            const kvc_verify_select *sel, int verbose,
                            FILE *out, kvc_verify_counts *counts);

/* Verify the merge vectors of f (golden/golden_merge.h) against the
 * kernel's kva_merge_states, each test in a worker; a kernel without one
 * leaves them not covered (counts->outside_claim). */
struct kvc_merge_file;
void kvc_merge_verify_file(const struct kvc_merge_file *f, const char *name,
                           const kvc_verify_kernel *vk, int verbose, FILE *out,
                           kvc_verify_counts *counts);

/* Read and verify each file (merge vector files and cache operation
 * vector files too: golden_cache_verify.h); a file that cannot be read is reported on
 * stderr (prefixed with `who`) and counted in counts->unreadable. */
void kvc_golden_verify_paths(char **paths, int n, const kvc_verify_kernel *vk,
                             const kvc_verify_select *sel, int verbose,
                             const char *who, kvc_verify_counts *counts);

#endif /* KVC_GOLDEN_VERIFY_H */
