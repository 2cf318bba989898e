/*
 * model_say.h — how the reference models of the cache's other half
 * (bm_model.h, policy_model.h) give a verdict: a failing judgement writes
 * why into the caller's buffer and returns 0.
 */
#ifndef KVC_MODEL_SAY_H
#define KVC_MODEL_SAY_H

#include <stddef.h>

#include "../kernels/kvattn.h" /* the contract's types only: no kernel code */

/* printf into why[len] (nothing when why is NULL or len 0); returns 0. */
int kvc_model_say(char *why, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* "KVA_OK", "KVA_ERR_FULL", ...: the status names kvattn.h lists, written
 * here again (the oracle links no kernel code); "KVA_ERR_UNKNOWN" out of
 * range. */
const char *kvc_model_status_name(kva_status s);

#endif /* KVC_MODEL_SAY_H */
