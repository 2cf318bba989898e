/*
 * planted_cache.h — block managers and eviction policies built around
 * libkvattn's (the kva_bm_* / kva_policy_* function tables of
 * tools/bm_check.h and tools/policy_check.h), some right under another
 * block numbering, some with a planted bug, for suite golden_cache. Each
 * keeps what it needs in a header in front of the real state (no global
 * state).
 */
#ifndef KVC_PLANTED_CACHE_H
#define KVC_PLANTED_CACHE_H

#include "../tools/bm_check.h"
#include "../tools/policy_check.h"

/* Right: every block id b is shown as num_blocks - 1 - b (rows, slots,
 * copies, reference counts). */
extern const kvc_bm_impl kvc_planted_bm_renamed;
/* Copy on write skipped: an append that must copy reports no copy. */
extern const kvc_bm_impl kvc_planted_bm_no_copy;
/* A block id reused while live: sequence 1's first row entry is shown as
 * sequence 0's whenever both have one. */
extern const kvc_bm_impl kvc_planted_bm_reused;
/* A freed block still referenced: after kva_bm_free, the blocks of the
 * freed row keep count 1 where the real count is 0. */
extern const kvc_bm_impl kvc_planted_bm_freed_referenced;
/* Reference counts off by one on shared blocks (count >= 2). */
extern const kvc_bm_impl kvc_planted_bm_ref_off;
/* A wrong status: a rollback of too many tokens (or a negative count) is
 * KVA_ERR_PARAM instead of KVA_ERR_LENGTH. */
extern const kvc_bm_impl kvc_planted_bm_wrong_status;

/* RECENT ignores its sinks (a ring over every slot): overwrites them. */
extern const kvc_policy_impl kvc_planted_policy_sink_overwritten;
/* Each KV head takes the next head's weights: H2O evicts by another
 * head's scores. */
extern const kvc_policy_impl kvc_planted_policy_wrong_head;

#endif
