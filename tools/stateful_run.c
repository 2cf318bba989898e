/*
 * stateful_run.c — one stateful campaign index (stateful_run.h).
 */
#include "stateful_run.h"

#include "../oracle/kv_format.h"
#include "cache_lib.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *policy_kind_name(kva_policy_kind k)
{
    switch (k) {
    case KVA_POLICY_DENSE: return "dense";
    case KVA_POLICY_RECENT: return "recent";
    default: return "h2o";
    }
}

static int run_manager(uint64_t s, const kvc_bm_impl *bm, kvc_stateful_result *r)
{
    kvc_bm_result br;
    kva_bm_config c;
    kvc_bm_draw_config(s, &c);
    int ok = kvc_bm_check(bm, s, KVC_STATEFUL_MANAGER_OPS, &br);
    snprintf(r->desc, sizeof r->desc,
             "manager: %d blocks of %d, %d sequences, rows of %d, sharing %s; "
             "%" PRId64 " ops: %" PRId64 " forks, %" PRId64 " rollbacks, %"
             PRId64 " frees, %" PRId64 " copies, %" PRId64 " shared, %" PRId64
             " full", c.num_blocks, c.block_size, c.max_seqs,
             c.max_blocks_per_seq, c.prefix_sharing ? "on" : "off", br.steps,
             br.count[KVC_BM_FORK], br.count[KVC_BM_ROLLBACK],
             br.count[KVC_BM_FREE], br.copies, br.shared_blocks, br.full);
    r->steps = br.steps;
    r->failed_step = br.failed_step;
    snprintf(r->message, sizeof r->message, "%s", br.message);
    return ok;
}

static int run_policy(uint64_t s, const kvc_policy_attn_impl *pol,
                      kvc_stateful_result *r)
{
    kvc_policy_result pr;
    kva_policy_config c;
    kvc_policy_draw_config(s, &c);
    int ok = kvc_policy_check(&pol->policy, s, KVC_STATEFUL_POLICY_OPS, &pr);
    snprintf(r->desc, sizeof r->desc,
             "policy %s: %d slots x %d KV heads, sinks %d, recent %d; %" PRId64
             " ops: %" PRId64 " evictions, %" PRId64 " near ties",
             policy_kind_name(c.kind), c.num_slots, c.num_kv_heads, c.sinks,
             c.recent, pr.steps, pr.evictions, pr.near_ties);
    r->steps = pr.steps;
    r->failed_step = pr.failed_step;
    snprintf(r->message, sizeof r->message, "%s", pr.message);
    return ok;
}

static int run_attention(uint64_t s, const kvc_policy_attn_impl *pol,
                         kvc_stateful_result *r)
{
    kvc_policy_attn_result ar;
    kva_policy_config c;
    kvc_policy_draw_config(s, &c);
    int ok = kvc_policy_attn_check(pol, s, KVC_STATEFUL_ATTN_STEPS, &ar);
    snprintf(r->desc, sizeof r->desc,
             "policy %s with attention: %d slots x %d KV heads, %s cache; %"
             PRId64 " steps, %" PRId64 " query rows, worst ratio %.3g",
             policy_kind_name(c.kind), c.num_slots, c.num_kv_heads,
             kvc_kv_dtype_name((kvc_kv_dtype)ar.dtype), ar.policy.steps, ar.attended_rows, ar.worst_ratio);
    r->steps = ar.policy.steps;
    r->failed_step = ar.policy.failed_step;
    snprintf(r->message, sizeof r->message, "%s", ar.policy.message);
    return ok;
}

uint32_t kvc_stateful_halves(const kva_caps *claim, int forced_mode)
{
    if (forced_mode >= 0)
        return 0;
    uint32_t modes = claim ? claim->modes
                           : (uint32_t)(KVA_MODE_MANAGER | KVA_MODE_POLICY);
    return modes & (KVA_MODE_MANAGER | KVA_MODE_POLICY);
}

kvc_stateful_kind kvc_stateful_index(const kva_caps *claim, int forced_mode,
                                     uint64_t seed, uint64_t index)
{
    kvc_stateful_kind k = kvc_stateful_slot(seed, index);
    uint32_t need = k == KVC_STATEFUL_MANAGER ? KVA_MODE_MANAGER : KVA_MODE_POLICY;
    if (k == KVC_STATEFUL_NONE || !(kvc_stateful_halves(claim, forced_mode) & need))
        return KVC_STATEFUL_NONE;
    return k;
}

int kvc_stateful_bind(void *handle, const char *path, const kva_caps *claim,
                      int forced_mode, kvc_bm_impl *bm,
                      kvc_policy_attn_impl *pol, char *err, size_t errlen)
{
    memset(bm, 0, sizeof *bm);
    memset(pol, 0, sizeof *pol);
    if (!handle) {
        *bm = kvc_builtin_bm;
        *pol = kvc_builtin_policy_attn;
        return 0;
    }
    uint32_t halves = kvc_stateful_halves(claim, forced_mode);
    if (halves == 0)
        return 0;
    return kvc_cache_lib_bind(handle, path, halves, 0, bm, pol, err, errlen) < 0
               ? -1 : 0;
}

int kvc_stateful_run(uint64_t seed, uint64_t index, const kvc_bm_impl *bm,
                     const kvc_policy_attn_impl *pol, kvc_stateful_result *r)
{
    memset(r, 0, sizeof *r);
    r->kind = kvc_stateful_slot(seed, index);
    r->failed_step = -1;
    uint64_t s = kvc_stateful_seed(seed, index);
    int need_pol = r->kind != KVC_STATEFUL_MANAGER;
    if (r->kind == KVC_STATEFUL_NONE || (need_pol ? !pol : !bm)) {
        r->skipped = 1;
        r->passed = 1;
        snprintf(r->desc, sizeof r->desc, "%s: not in the kernel's claim",
                 kvc_stateful_name(r->kind));
        return 1;
    }
    int ok = r->kind == KVC_STATEFUL_MANAGER ? run_manager(s, bm, r)
             : r->kind == KVC_STATEFUL_POLICY ? run_policy(s, pol, r)
                                              : run_attention(s, pol, r);
    r->passed = ok == 1;
    return ok;
}
