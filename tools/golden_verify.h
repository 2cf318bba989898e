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

/* Run one golden test against a kernel with its expectation. */
kvc_outcome kvc_golden_run_test(const kvc_golden_test *t, const kvc_kernel *k,
                                kvc_result *r);

typedef struct kvc_verify_counts {
    int passed, failed, skipped; /* skipped: mode not selected */
    int refused_acceptable;      /* acceptable tests the kernel refused */
    int unreadable;              /* files that could not be read */
} kvc_verify_counts;

/* Verify every test of a file whose mode matches (mode < 0: all), printing
 * one line per failure (and per test when verbose) to out. */
void kvc_golden_verify_file(const kvc_golden_file *f, const char *name,
                            const kvc_kernel *k, int mode, int verbose,
                            FILE *out, kvc_verify_counts *counts);

/* Read and verify each file; a file that cannot be read is reported on
 * stderr (prefixed with `who`) and counted in counts->unreadable. */
void kvc_golden_verify_paths(char **paths, int n, const kvc_kernel *k,
                             int mode, int verbose, const char *who,
                             kvc_verify_counts *counts);

#endif /* KVC_GOLDEN_VERIFY_H */
