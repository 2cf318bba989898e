/*
 * stateful_run.h — one stateful campaign index (generators/stateful.h):
 * its scenario run against a kernel library's block manager or eviction
 * policies, step by step against the models and the oracle
 * (bm_check.h, policy_check.h, policy_attn_check.h). A failing scenario
 * stops at the first operation that disagrees, so the operations up to it
 * are the shortest failing prefix, and `replay --seed S --case I` runs
 * exactly that prefix again.
 */
#ifndef KVC_STATEFUL_RUN_H
#define KVC_STATEFUL_RUN_H

#include <stdint.h>

#include "../generators/stateful.h"
#include "bm_check.h"
#include "policy_attn_check.h"

typedef struct kvc_stateful_result {
    kvc_stateful_kind kind;
    int passed;           /* 1 every step agreed; 0 a step did not */
    int skipped;          /* the kernel has no such half: nothing ran */
    int64_t steps;        /* operations run, the failing one included */
    int64_t failed_step;  /* -1 on a pass */
    char desc[256];       /* the scenario in one line, with its counts */
    char message[512];    /* the first difference; "" on a pass */
} kvc_stateful_result;

/* The halves of the cache a run checks (KVA_MODE_MANAGER,
 * KVA_MODE_POLICY bits): what the claim has (NULL: the in-tree kernel,
 * both), none when --mode narrows the run to one attention mode. */
uint32_t kvc_stateful_halves(const kva_caps *claim, int forced_mode);

/* What index `index` of campaign `seed` runs: NONE when it is an attention
 * case, or when its half is not checked (it then keeps its attention
 * case). The campaign and `replay --case` decide alike. */
kvc_stateful_kind kvc_stateful_index(const kva_caps *claim, int forced_mode,
                                     uint64_t seed, uint64_t index);

/* The halves of a kernel: libkvattn's (handle NULL), or a library's bound
 * by cache_lib.c. 0, or -1 (err) when a claimed half lacks a symbol. */
int kvc_stateful_bind(void *handle, const char *path, const kva_caps *claim,
                      int forced_mode, kvc_bm_impl *bm,
                      kvc_policy_attn_impl *pol, char *err, size_t errlen);

/* Run stateful index `index` of campaign `seed` (its kind must not be
 * NONE). bm / pol: the kernel's halves, NULL when it has none (the result
 * is then skipped). Returns r->passed, -1 when memory runs out. */
int kvc_stateful_run(uint64_t seed, uint64_t index, const kvc_bm_impl *bm,
                     const kvc_policy_attn_impl *pol, kvc_stateful_result *r);

#endif /* KVC_STATEFUL_RUN_H */
