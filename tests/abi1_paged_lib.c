/*
 * abi1_paged_lib.c — an ABI 1 library that exports kva_paged_attention
 * alone (build/tests/libkvattn_abi1_paged.so): the loader must take it as
 * claiming paged attention only, without the cache write (suite
 * kernel_lib). Its attention refuses everything; no test runs it.
 */
#include <string.h>

#include "../kernels/kvattn.h"

KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                                       const kva_paged_cache *cache,
                                       const kva_paged_batch *batch,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    (void)params, (void)cache, (void)batch, (void)q, (void)num_tokens;
    (void)out, (void)lse;
    if (err) {
        err->status = KVA_ERR_UNSUPPORTED;
        strcpy(err->msg, "a loader fixture: no arithmetic here");
    }
    return KVA_ERR_UNSUPPORTED;
}
