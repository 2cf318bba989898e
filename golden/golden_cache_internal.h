/*
 * golden_cache_internal.h — what the cache golden set's builder, writer
 * and reader share (not public): recording a step by letting the
 * reference model answer it, and growing a file's test list.
 */
#ifndef KVC_GOLDEN_CACHE_INTERNAL_H
#define KVC_GOLDEN_CACHE_INTERNAL_H

#include "../oracle/bm_model.h"
#include "../oracle/policy_model.h"
#include "golden_cache.h"

/* A new test at the end of f (tcId = its index + 1), config copied; NULL
 * when memory runs out. */
kvc_cache_test *kvcc_add_test(kvc_cache_file *f, const char *comment,
                              const char *flags, const kva_bm_config *bm,
                              const kva_policy_config *pol);

/* A new zeroed step at the end of t; NULL when memory runs out. */
kvc_cache_step *kvcc_add_step(kvc_cache_test *t);

/* Run one manager operation on the model (it answers it itself) and
 * record it, with the state after it, as the next step of t. op: a
 * kvc_bm_op_kind; tokens [n] for an append. 0 or -1 (memory). */
int kvcc_record_bm(kvc_cache_test *t, kvc_bm_model *m, int op, int seq,
                   int other, int n, const int32_t *tokens);

/* The same for a policy operation (kvc_policy_op_kind; weights [Hkv][L]
 * for an observe). -1 also when a score is not an fp32 value (the sums
 * would not be exact): err says so. */
int kvcc_record_policy(kvc_cache_test *t, kvc_policy_model *m, int op, int n,
                       const float *weights, char *err, size_t errlen);

/* Free one step's arrays. */
void kvcc_free_step(kvc_cache_step *s);

#endif /* KVC_GOLDEN_CACHE_INTERNAL_H */
