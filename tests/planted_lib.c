/*
 * planted_lib.c — exports kva_paged_attention for a test kernel library
 * (build/tests/libkvattn_planted_no_rescale.so): libkvattn whose paged
 * attention forgets the online-softmax rescale, to prove that a kernel
 * loaded through the C ABI (`--kernel-lib`) is really the one checked. The
 * library's other objects are built with kva_paged_attention renamed, so
 * this definition is the only one it exports.
 */
#include "planted_kernels.h"

kva_status kva_paged_attention(const kva_attn_params *params,
                               const kva_paged_cache *cache,
                               const kva_paged_batch *batch, const float *q,
                               int64_t num_tokens, float *out, float *lse,
                               kva_error *err)
{
    return kvc_planted_no_rescale.paged_attention(params, cache, batch, q,
                                                  num_tokens, out, lse, err);
}
