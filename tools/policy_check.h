/*
 * policy_check.h — checking eviction policies step by step against the
 * reference model (oracle/policy_model.h) over drawn operations
 * (generators/policy_ops.h): after every append the slot of every token
 * and head, after every step every head's slot positions and scores.
 */
#ifndef KVC_POLICY_CHECK_H
#define KVC_POLICY_CHECK_H

#include <stdint.h>

#include "../generators/policy_ops.h"
#include "../kernels/kvattn.h"
#include "../oracle/policy_model.h"

/* A policy implementation under test: the kva_policy_* entry points. */
typedef struct kvc_policy_impl {
    const char *name;
    size_t (*bytes)(const kva_policy_config *);
    kva_status (*init)(void *, size_t, const kva_policy_config *, kva_error *);
    kva_status (*append)(void *, int, int *, kva_error *);
    kva_status (*observe)(void *, const float *, kva_error *);
    kva_status (*slots)(const void *, int64_t *, float *, kva_error *);
} kvc_policy_impl;

extern const kvc_policy_impl kvc_builtin_policy;

typedef struct kvc_policy_result {
    int passed;
    kva_policy_kind kind;
    int64_t steps, failed_step;
    int64_t appends, observes, refused, evictions;
    int64_t near_ties, followed; /* H2O evictions with near ties; those
                                    where the kernel's victim was not the
                                    model's own (accepted, followed) */
    char message[512];
} kvc_policy_result;

/* A policy and its model side by side, operation by operation (operation
 * lists from fuzzing, replay or golden files). NULL (err) when the config
 * is refused or memory runs out. An append of more than
 * KVC_POLICY_MAX_APPEND tokens is not run (a failure of the op list). */
#define KVC_POLICY_MAX_APPEND 256
typedef struct kvc_policy_run kvc_policy_run;
kvc_policy_run *kvc_policy_run_new(const kvc_policy_impl *impl,
                                   const kva_policy_config *cfg, char *err,
                                   size_t errlen);
void kvc_policy_run_free(kvc_policy_run *x);
/* Apply op (its weights: [Hkv][L]) to both and compare; 1 or 0 (why in
 * r->message). */
int kvc_policy_run_op(kvc_policy_run *x, const kvc_policy_op *op,
                      kvc_policy_result *r);
/* A buffer of Hkv * L floats for an op's weights. */
float *kvc_policy_run_weights(kvc_policy_run *x);
const kvc_policy_model *kvc_policy_run_model(const kvc_policy_run *x);

/* Run num_ops operations of scenario seed. Returns r->passed, -1 when
 * memory runs out. */
int kvc_policy_check(const kvc_policy_impl *impl, uint64_t seed,
                     int64_t num_ops, kvc_policy_result *r);

#endif /* KVC_POLICY_CHECK_H */
