/*
 * runner.h — the cross-check of one case: lay it out, run the kernel, run
 * the oracle, judge. The only place where a kernel and the oracle meet.
 * Shared by the command line, the fuzz harnesses and the tests.
 */
#ifndef KVC_RUNNER_H
#define KVC_RUNNER_H

#include "../generators/case.h"
#include "../generators/invalid.h"
#include "../golden/golden.h"
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
    /* ABI v2 (kvattn.h): what the kernel claims, with kvcheck's overrides
     * (--profile) applied; caps_set 0 = everything (kva_caps_everything).
     * Entry points the claim does not need may be NULL. */
    int caps_set;
    kva_caps caps;
    int threads; /* num_threads passed when caps.takes_threads (0 = 1) */
    /* kva_merge_states, or NULL (optional in a library: checked when
     * present, tools/merge_check.h) */
    kva_status (*merge_states)(const float *const *, const float *const *,
                               int, int64_t, int, float *, float *,
                               kva_error *);
    /* kva_observer_update and kva_scale_from_amax, or both NULL (optional
     * in a library: then cases with kernel_calibration use the generator's
     * scales, computed by the oracle's rule; tools/calibration_check.h) */
    kva_status (*observer_update)(kva_observer *, const float *, int64_t,
                                  kva_error *);
    kva_status (*scale_from_amax)(kva_dtype, float, float *, kva_error *);
} kvc_kernel;

/* The in-tree libkvattn. */
extern const kvc_kernel kvc_builtin_kernel;

/* k's claim: k->caps, or everything when caps_set is 0. */
void kvc_kernel_caps(const kvc_kernel *k, kva_caps *caps);

typedef enum kvc_outcome {
    KVC_PASS = 0,
    KVC_FAIL_NUMERIC,   /* out/lse beyond tolerance (verdict says where) */
    KVC_FAIL_KERNEL,    /* the kernel refused a valid input */
    KVC_FAIL_CACHE,     /* the cache write changed a slot it did not name, or
                           wrote a wrong value */
    KVC_FAIL_PADDING,   /* a padding token's output row was written */
    KVC_FAIL_CONVERSION,/* QEfficient inputs converted to a wrong general form */
    KVC_FAIL_ACCEPTED,  /* the kernel accepted an input it must refuse */
    KVC_FAIL_REFUSAL,   /* the kernel refused, but wrote something or gave no
                           message */
    /* a reference-free property broke (properties.h), one outcome each: */
    KVC_FAIL_PROP_RELABEL,    /* relabelling physical blocks changed a bit */
    KVC_FAIL_PROP_BATCH,      /* a sequence alone differs from its batch */
    KVC_FAIL_PROP_CHUNKED,    /* a prefill in chunks differs from it whole */
    KVC_FAIL_PROP_DECODE,     /* its last tokens as decode steps differ */
    KVC_FAIL_PROP_BLOCK_SIZE, /* another block size (tile count) differs */
    KVC_FAIL_BOUNDS,    /* the kernel touched a guard zone around a buffer it
                           was given (message: buffer, side, offset) */
    KVC_FAIL_INPUT,     /* the kernel wrote into one of its input buffers */
    KVC_FAIL_CRASH,     /* the worker running the case died by a signal */
    KVC_FAIL_TIMEOUT,   /* the case ran past its deadline */
    KVC_FAIL_EXIT,      /* the worker exited (any status) during the case */
    KVC_FAIL_MEMORY,    /* valgrind reported errors while the case ran */
    KVC_FAIL_UNSUPPORTED, /* KVA_ERR_UNSUPPORTED for a case inside the
                           kernel's claim */
    KVC_FAIL_NONDETERMINISTIC, /* two runs with the same thread count gave
                           different bits */
    KVC_FAIL_MERGE,     /* kva_merge_states of the case's partial states is
                           not the attention over all its keys */
    KVC_FAIL_MANAGER,   /* a block manager's operation disagreed with the
                           model (a stateful index, tools/stateful_run.h) */
    KVC_FAIL_POLICY,    /* an eviction policy's, or its attention's */
    KVC_FAIL_SETUP,     /* the case itself could not be built or checked */
    KVC_FAIL_CALIBRATION, /* the kernel's observer or scale_from_amax gave
                           an amax or a static scale other than the
                           oracle's (tools/calibration_check.h) */
    KVC_OUTCOME_COUNT
} kvc_outcome;

const char *kvc_outcome_name(kvc_outcome o);

typedef struct kvc_result {
    kvc_outcome outcome;
    kvc_verdict verdict;   /* numeric comparison (valid when verdict.seq >= 0) */
    kva_status refused;    /* KVA_OK, or the status of the call that refused */
    char message[512];     /* what went wrong, one line; "" on pass; for a
                              refusal that passes, the kernel's message */
} kvc_result;

/* Judges out [rows][Hq][D] and lse [rows][Hq] of a case; returns 1 on pass
 * and fills *v. The default judge is the oracle with the tolerance model. */
typedef int (*kvc_judge_fn)(const kvc_case *c, const float *out,
                            const float *lse, kvc_verdict *v, void *ctx);

typedef struct kvc_run_opts {
    kvc_expect expect;     /* valid: run and judge; invalid: some kernel call
                              must refuse, leaving what it was given
                              untouched; acceptable: either */
    kvc_judge_fn judge;    /* NULL: the oracle, in the kernel's profile */
    void *judge_ctx;
    int skip_properties;   /* 1: no reference-free properties (they run on
                              valid cases judged by the oracle) */
    const kvc_invalid *inv; /* an invalid variant (generators/invalid.h):
                              the attention parameters, query_start_loc
                              and cache description the kernel gets are
                              inv's, not the case's; NULL = the case's */
} kvc_run_opts;

/* Run one valid case against a kernel, judged by the oracle. Returns
 * r->outcome. Never aborts; but every buffer the kernel gets sits between
 * guard pages (tools/guard.h), so a kernel that reads or writes past one
 * dies by SIGSEGV (run it in a worker process; kvc_guard_fault_text names
 * the buffer). */
kvc_outcome kvc_run_case(const kvc_case *c, const kvc_kernel *k,
                         kvc_result *r);

/* The same with an expectation and a judge (golden vectors). */
kvc_outcome kvc_run_case_opts(const kvc_case *c, const kvc_kernel *k,
                              const kvc_run_opts *o, kvc_result *r);

/* Run a valid case's kernel calls and hand back their outputs, unjudged:
 * *out [*rows][Hq][D] and *lse [*rows][Hq] (malloc'd; the caller frees).
 * Returns KVC_PASS, or the failure of a kernel call (then *out = *lse =
 * NULL). For properties that compare a kernel with itself.
 * store: the oracle's store of c->prob (oracle/kv_store.h) when the caller
 * has one -- a variant with the same K/V rows and format, e.g. the blocks
 * relabelled or the same case run again -- so the long tiers' encoding is
 * not done again; NULL: computed here. */
struct kvc_kv_store;
kvc_outcome kvc_run_outputs(const kvc_case *c, const kvc_kernel *k,
                            const struct kvc_kv_store *store, float **out,
                            float **lse, int64_t *rows, kvc_result *r);

#endif /* KVC_RUNNER_H */
