/*
 * model_say.h — how the reference models of the cache's other half
 * (bm_model.h, policy_model.h) give a verdict: a failing judgement writes
 * why into the caller's buffer and returns 0.
 */
#ifndef KVC_MODEL_SAY_H
#define KVC_MODEL_SAY_H

#include <stddef.h>

/* printf into why[len] (nothing when why is NULL or len 0); returns 0. */
int kvc_model_say(char *why, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* KVC_MODEL_SAY_H */
