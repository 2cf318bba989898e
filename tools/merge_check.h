/*
 * merge_check.h — kva_merge_states checked by the campaign.
 *
 * For a valid case, every sequence's keys are split into KVC_MERGE_MAX_PARTS
 * or fewer contiguous parts at cut points drawn from the case's value seed
 * (equal cuts, a cut at 0 and a cut at kv_len make empty parts; a row's
 * window or mask can empty a part too). The oracle computes each part's
 * exact state (the problem with the part's keys as an extra custom mask),
 * rounds it to fp32 as a kernel would hand it over, and the kernel's
 * kva_merge_states merges them; the result must be the oracle's attention
 * over all the keys, within the merge's own allowance
 * (oracle/tolerance.md, "Merging partial states"), exactly out = 0 and
 * lse = -inf for a row with no visible key, never NaN.
 */
#ifndef KVC_MERGE_CHECK_H
#define KVC_MERGE_CHECK_H

#include "runner.h"

#define KVC_MERGE_MAX_PARTS 4

/* The check runs on one valid case in KVC_MERGE_EVERY (chosen by the case's
 * value seed, so a replay checks it exactly when the campaign did): it
 * costs about two oracle runs, and every case of the campaign would double
 * its time. */
#define KVC_MERGE_EVERY 4

/* full: the case's reference if the caller has it (its exact out and lse
 * are the target; NULL: computed here). Returns KVC_PASS (also when k has
 * no merge entry point), or
 * KVC_FAIL_MERGE / KVC_FAIL_KERNEL / KVC_FAIL_SETUP with r's message. */
kvc_outcome kvc_check_merge(const kvc_case *c, const kvc_kernel *k,
                            const kvc_reference *full, kvc_result *r);

#endif
