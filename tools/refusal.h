/*
 * refusal.h — which statuses kvattn.h gives for the refusal rules an input
 * breaks, and the judgement of a refusal's status. One table, shared by
 * the golden invalid vectors (golden_verify.c) and the campaign's invalid
 * variants (generators/invalid.h): a rule is named by its KVC_FLAG_* bit
 * (generators/case.h).
 */
#ifndef KVC_REFUSAL_H
#define KVC_REFUSAL_H

#include <stdint.h>

#include "runner.h"

/* The statuses kvattn.h allows for the rules the flags name, a bit per
 * kva_status (1u << KVA_ERR_BLOCK, ...); 0 when no flag names a rule. An
 * input that breaks several rules may be refused for any of them. */
unsigned kvc_refusal_statuses(uint64_t flags);

/* A call refused an invalid input (r->refused != KVA_OK): is the status
 * one of kvc_refusal_statuses(flags)? With no rule among the flags, the
 * status must be the one named `error` ("KVA_ERR_SLOT"; golden vectors).
 * Returns KVC_PASS, or KVC_FAIL_REFUSAL with r->message naming the status
 * given and the ones allowed (r->outcome set). */
kvc_outcome kvc_refusal_check(uint64_t flags, const char *error,
                              kvc_result *r);

#endif /* KVC_REFUSAL_H */
