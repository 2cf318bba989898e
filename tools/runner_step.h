/*
 * runner_step.h — the runner's one run of a case's kernel calls, shared by
 * runner.c (the paged and blocked paths, judging) and runner_qeff.c (the
 * QEfficient path). Internal to tools/: nothing outside the runner uses it.
 */
#ifndef KVC_RUNNER_STEP_H
#define KVC_RUNNER_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "guard.h"
#include "pool.h"
#include "runner.h"

/* Everything one run holds; released by step_free. Every buffer a kernel
 * call gets lives in `guard` (guard.h): between guard pages, behind
 * checked sentinels, inputs snapshotted and checked after each call. */
typedef struct step {
    const kvc_case *c;
    const kvc_kernel *k;
    const kvc_run_opts *opts;
    kvc_result *r;
    int stopped;         /* a kernel call refused, as the case allowed */
    kvc_guard_set guard; /* the kernel's buffers */
    kvc_pool pool;       /* the kernel's cache (guarded) */
    kvc_pool before;     /* the pool before the cache write */
    kvc_pool want;       /* the runner's model of it after the write */
    const kvc_kv_store *store; /* the oracle's codes and scales of every
                                  K/V row: own_store, or the caller's */
    kvc_kv_store own_store;
    int no_model;        /* an invalid case whose cache format the oracle
                            refuses (bad_kv_format): the pool is poison
                            only, and every kernel call must refuse */
    char format_err[256]; /* why the oracle refuses it */
    /* guarded inputs */
    kva_attn_params *params;
    kva_paged_cache *cache;
    const float *q;        /* [num_tokens][Hq][D]; NULL for QEfficient */
    const int64_t *qsl;    /* [S+1] query_start_loc */
    const int *seq_lens;   /* [S] kv lengths */
    const int *block_table; /* [S][max_blocks_per_seq] */
    const int64_t *slots;  /* [num_tokens] slot mapping */
    const uint8_t *const *masks; /* [S] into one guarded mask, or NULL */
    int64_t rows;        /* output rows the kernel gets */
    kva_caps caps;       /* the kernel's claim (runner.h kvc_kernel_caps) */
    /* guarded outputs as the kernel writes them: kout [rows][Hq][D] of
     * out_elem bytes (fp32, or 16-bit codes: caps.out_dtype), klse
     * [rows][Hq] fp32 (NULL when the kernel returns no lse) */
    void *kout;
    size_t out_elem;
    float *klse;
    /* the same as fp32 natural-log values, for judging: out is kout itself
     * for fp32 output, else a decoded copy; lse is klse, a copy converted
     * from base 2, or NULL (lse not covered). Set by step_outputs. */
    float *out, *lse;
    float *out_copy, *lse_copy; /* what step_outputs allocated */
    kvc_reference ref;   /* the oracle's, once judged (zeroed before):
                            lent to the properties and the merge check */
} step;

/* Set r's outcome and message; returns the outcome. */
kvc_outcome step_fail(kvc_result *r, kvc_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A kernel call returned an error. For a valid case that is a failure.
 * For an invalid or acceptable one it is the expected answer, provided the
 * call left the pool as `untouched` and gave a message; the run stops. */
kvc_outcome step_refused(step *st, const char *what, kva_status status,
                         const kva_error *e, const kvc_pool *untouched);

/* After every kernel call (`what`, e.g. "paged attention"), whatever it
 * returned: no sentinel touched, every input as it was handed over. */
kvc_outcome step_guard_check(step *st, const char *what);

/* A guarded input copy of n elements of elem bytes (NULL: out of memory). */
const void *step_input(step *st, const char *name, const void *src, int64_t n,
                       size_t elem);

/* A guarded buffer the runner fills (then seals as an input) or the kernel
 * writes. */
void *step_scratch(step *st, const char *name, int64_t n, size_t elem);
int step_seal(step *st, const void *data);

/* The pool must be exactly `want`. */
kvc_outcome step_check_pool(step *st, const kvc_pool *want, const char *when);

/* Write the new tokens through the kernel and check the pool. */
kvc_outcome step_write_new_tokens(step *st, const int64_t *slot_mapping,
                                  int64_t n_tokens);

/* Paged attention with these query rows and batch arrays. */
kvc_outcome step_run_paged(step *st, const float *q, const int64_t *qsl,
                           const int *seq_lens);

/* QEfficient: convert, check the general form, write, attend. */
kvc_outcome step_run_qeff(step *st);

#endif /* KVC_RUNNER_STEP_H */
