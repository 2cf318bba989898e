/*
 * stateful.c — which campaign indices are stateful scenarios (stateful.h).
 */
#include "stateful.h"

#include "gen_internal.h"

uint64_t kvc_stateful_seed(uint64_t seed, uint64_t index)
{
    return kvcg_splitmix64(kvc_case_seed(seed, index) ^ 0x73746174656675ULL);
}

kvc_stateful_kind kvc_stateful_slot(uint64_t seed, uint64_t index)
{
    uint64_t h = kvcg_splitmix64(kvc_stateful_seed(seed, index));
    if (h % KVC_STATEFUL_EVERY != 0)
        return KVC_STATEFUL_NONE;
    /* manager 2 : policy 1 : policy with attention 1 */
    switch ((h / KVC_STATEFUL_EVERY) % 4) {
    case 0:
    case 1: return KVC_STATEFUL_MANAGER;
    case 2: return KVC_STATEFUL_POLICY;
    default: return KVC_STATEFUL_POLICY_ATTN;
    }
}

const char *kvc_stateful_name(kvc_stateful_kind k)
{
    switch (k) {
    case KVC_STATEFUL_MANAGER: return "manager";
    case KVC_STATEFUL_POLICY: return "policy";
    case KVC_STATEFUL_POLICY_ATTN: return "policy-attention";
    default: return "";
    }
}
