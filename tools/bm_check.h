/*
 * bm_check.h — checking a block manager step by step against the
 * reference model (oracle/bm_model.h) over a drawn operation sequence
 * (generators/bm_ops.h).
 *
 * After every operation: the status and, for an append, the copy, the
 * slots and the new row entries are judged by the model; then every
 * sequence's row and length, every block's reference count and the free
 * count are compared with the model, and a simulated cache pool -- each
 * slot holding a value that stands for the token's K/V (a hash of the
 * sequence's whole prefix up to it, as real K/V depend on it), moved by the
 * manager's copies and written through its slots -- must give every live
 * sequence its own values through its row. A manager that skips a copy,
 * frees a block still referenced or shares a block of another prefix fails
 * at the step that does it.
 */
#ifndef KVC_BM_CHECK_H
#define KVC_BM_CHECK_H

#include <stdint.h>

#include "../generators/bm_ops.h"
#include "../kernels/kvattn.h"

/* A block manager under test: the kva_bm_* entry points. */
typedef struct kvc_bm_impl {
    const char *name;
    size_t (*bytes)(const kva_bm_config *);
    kva_status (*init)(void *, size_t, const kva_bm_config *, kva_error *);
    kva_status (*append)(void *, int, const int32_t *, int, int64_t *,
                         kva_bm_copy *, int *, kva_error *);
    kva_status (*fork)(void *, int, int, kva_error *);
    kva_status (*rollback)(void *, int, int, kva_error *);
    kva_status (*free_seq)(void *, int, kva_error *);
    kva_status (*seq)(const void *, int, int *, int64_t *, kva_error *);
    int (*ref_count)(const void *, int);
    int (*num_free)(const void *);
} kvc_bm_impl;

/* libkvattn's manager. */
extern const kvc_bm_impl kvc_builtin_bm;

typedef struct kvc_bm_result {
    int passed;            /* 1: every step agreed */
    int64_t steps;         /* operations run (the failing one included) */
    int64_t failed_step;   /* -1 on a pass */
    int64_t count[KVC_BM_OP_KINDS]; /* operations of each kind */
    int64_t refused;       /* operations the model said must be refused */
    int64_t full;          /* of those, KVA_ERR_FULL */
    int64_t copies, shared_blocks; /* copies on write, blocks shared */
    char message[512];     /* the first difference; "" on a pass */
} kvc_bm_result;

/* A manager and its model side by side, operation by operation (for
 * operation lists that do not come from the generator: fuzzing, replay,
 * golden files). NULL (err) when the config is refused or memory runs
 * out. */
typedef struct kvc_bm_run kvc_bm_run;
kvc_bm_run *kvc_bm_run_new(const kvc_bm_impl *impl, const kva_bm_config *cfg,
                           char *err, size_t errlen);
void kvc_bm_run_free(kvc_bm_run *x);
/* Apply op to both and compare everything; 1 (*st = the status both
 * agree on) or 0 (r->message says what differs). Counts go to *r. An
 * append of more than KVC_BM_MAX_APPEND tokens is not run (0). */
int kvc_bm_run_op(kvc_bm_run *x, const kvc_bm_op *op, kva_status *st,
                  kvc_bm_result *r);
const kvc_bm_model *kvc_bm_run_model(const kvc_bm_run *x);

/* Run num_ops operations of scenario seed (kvc_bm_draw_config's manager)
 * on impl. Returns r->passed; -1 (message set) when memory runs out. */
int kvc_bm_check(const kvc_bm_impl *impl, uint64_t seed, int64_t num_ops,
                 kvc_bm_result *r);

#endif /* KVC_BM_CHECK_H */
