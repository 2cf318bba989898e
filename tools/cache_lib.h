/*
 * cache_lib.h — the cache's other half of a kernel library: its block
 * manager (kva_bm_*) and eviction policies (kva_policy_*,
 * kva_cache_write_heads, kva_policy_attention), bound from a library
 * kvc_kernel_load opened, for the step-by-step checks (bm_check.h,
 * policy_attn_check.h).
 */
#ifndef KVC_CACHE_LIB_H
#define KVC_CACHE_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "bm_check.h"
#include "policy_attn_check.h"

/* Which halves a library has: KVA_MODE_MANAGER and KVA_MODE_POLICY bits of
 * its claim (an ABI 1 library: the ones whose every entry point it
 * exports). Binds each one claimed into *bm / *pol; a claimed half with a
 * symbol missing is an error (-1, err names it). Returns the bits bound. */
int kvc_cache_lib_bind(void *handle, const char *path, uint32_t claimed,
                       int abi1, kvc_bm_impl *bm, kvc_policy_attn_impl *pol,
                       char *err, size_t errlen);

#endif /* KVC_CACHE_LIB_H */
