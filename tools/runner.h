/*
 * runner.h — the cross-check of one case: lay it out, run the kernel, run
 * the oracle, judge. The only place where a kernel and the oracle meet.
 * Shared by the command line, the fuzz harnesses and the tests.
 */
#ifndef KVC_RUNNER_H
#define KVC_RUNNER_H

#include "../generators/case.h"
#include "../kernels/kvattn.h"
#include "../oracle/tolerance.h"

/* A kernel under test: the libkvattn entry points, swappable (tests plant
 * buggy variants; a kernel author's library fills the same table). */
typedef struct kvc_kernel {
    const char *name;
    kva_status (*cache_write)(const kva_paged_cache *, const float *,
                              const float *, const int64_t *, int64_t,
                              kva_error *);
    kva_status (*paged_attention)(const kva_attn_params *,
                                  const kva_paged_cache *,
                                  const kva_paged_batch *, const float *,
                                  int64_t, float *, float *, kva_error *);
    kva_status (*blocked_attention)(const kva_attn_params *,
                                    const kva_blocked_cache *, int, int,
                                    const int64_t *, const int *,
                                    const uint8_t *const *, const float *,
                                    int64_t, float *, float *, kva_error *);
    kva_status (*qeff_to_general)(const kva_qeff_inputs *,
                                  kva_general_inputs *, kva_error *);
} kvc_kernel;

/* The in-tree libkvattn. */
extern const kvc_kernel kvc_builtin_kernel;

typedef enum kvc_outcome {
    KVC_PASS = 0,
    KVC_FAIL_NUMERIC,   /* out/lse beyond tolerance (verdict says where) */
    KVC_FAIL_KERNEL,    /* the kernel refused a valid input */
    KVC_FAIL_CACHE,     /* the cache write changed a slot it did not name, or
                           wrote a wrong value */
    KVC_FAIL_PADDING,   /* a padding token's output row was written */
    KVC_FAIL_CONVERSION,/* QEfficient inputs converted to a wrong general form */
    KVC_FAIL_SETUP      /* the case itself could not be built or checked */
} kvc_outcome;

const char *kvc_outcome_name(kvc_outcome o);

typedef struct kvc_result {
    kvc_outcome outcome;
    kvc_verdict verdict;   /* numeric comparison (valid when it ran) */
    char message[512];     /* what went wrong, one line; "" on pass */
} kvc_result;

/* Run one case against a kernel. Returns r->outcome. Never aborts. */
kvc_outcome kvc_run_case(const kvc_case *c, const kvc_kernel *k,
                         kvc_result *r);

#endif /* KVC_RUNNER_H */
