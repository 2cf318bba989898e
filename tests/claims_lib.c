/*
 * claims_lib.c — libkvattn behind a claim chosen by the environment
 * (build/tests/libkvattn_claims.so), to prove what kvcheck does with an
 * ABI 2 library's capabilities. KVC_CLAIM is a comma-separated list:
 *   paged-f16   modes paged only, formats f32 and f16, no cache write
 *               (kvcheck writes the cache), head dims <= 128
 *   lse-none    returns no lse (the real kernel gets lse = NULL)
 *   lse-base2   returns lse in base 2 (converted from the real one)
 *   lse-lie     claims base 2 but returns the natural lse (a bug)
 *   out-f16     writes out as f16 codes, rounded to nearest even
 *   threads     takes a thread count (ignored: one thread)
 *   nondet      takes a thread count and flips the last bit of out[0]
 *               on every second call (a nondeterministic kernel)
 *   unsupported claims everything but answers KVA_ERR_UNSUPPORTED for
 *               head_dim 8
 *   half-acc    declares the half-acc profile (the arithmetic stays fp32)
 *   no-large    does not claim large offsets (no 16 GiB sparse pools: the
 *               valgrind gate's threaded run, tools/... check-valgrind)
 *   bad-modes   claims no mode at all (kvcheck must refuse the library)
 * Unset: claims everything, like libkvattn.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kva_format.h"
#include "../kernels/kvattn.h"

kva_status kva_real_paged_attention(const kva_attn_params *params,
                                    const kva_paged_cache *cache,
                                    const kva_paged_batch *batch,
                                    const float *q, int64_t num_tokens,
                                    float *out, float *lse, kva_error *err);

static int has(const char *word)
{
    const char *list = getenv("KVC_CLAIM");
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

KVA_API void kva_capabilities(kva_caps *c)
{
    kva_caps_everything(c);
    if (has("paged-f16")) {
        c->modes = KVA_MODE_PAGED;
        memset(c->formats, 0, sizeof c->formats);
        c->formats[KVA_DTYPE_F32] = c->formats[KVA_DTYPE_F16] =
            1u << KVA_SCALE_NONE;
        c->features &= ~(uint32_t)KVA_FEATURE_CACHE_WRITE;
        c->head_dims.max = 128;
    }
    if (has("lse-none"))
        c->lse = KVA_LSE_NONE;
    if (has("lse-base2") || has("lse-lie"))
        c->lse = KVA_LSE_BASE2;
    if (has("out-f16"))
        c->out_dtype = KVA_DTYPE_F16;
    if (has("threads") || has("nondet"))
        c->takes_threads = 1;
    if (has("half-acc"))
        c->profile = KVA_PROFILE_HALF_ACC;
    if (has("no-large"))
        c->features &= ~(uint32_t)KVA_FEATURE_LARGE_OFFSETS;
    if (has("bad-modes"))
        c->modes = 0;
}

KVA_API int kva_abi_version(void)
{
    return KVA_ABI_VERSION;
}

/* out and lse in the claimed forms, from the real kernel's fp32 answer. */
static void convert(const kva_attn_params *p, int64_t rows, const float *o32,
                    float *out, const float *l32, float *lse)
{
    int64_t n = rows * p->num_q_heads * p->head_dim;
    if (has("out-f16"))
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)out)[i] = kva_f16_encode(o32[i]);
    else
        memcpy(out, o32, (size_t)n * sizeof *out);
    if (!lse)
        return;
    for (int64_t i = 0; i < rows * p->num_q_heads; i++)
        lse[i] = has("lse-base2") ? (float)(l32[i] / M_LN2) : l32[i];
}

/* The rows of padding tokens are left as they were: only rows of the
 * batch's sequences are converted (the real kernel wrote just those). */
KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                                       const kva_paged_cache *cache,
                                       const kva_paged_batch *batch,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    static int calls; /* nondet: the point is hidden state */
    if (has("unsupported") && params && params->head_dim == 8) {
        if (err) {
            err->status = KVA_ERR_UNSUPPORTED;
            strcpy(err->msg, "head_dim 8 is not implemented");
        }
        return KVA_ERR_UNSUPPORTED;
    }
    if (!params || !batch || num_tokens < 0 || !out)
        return kva_real_paged_attention(params, cache, batch, q, num_tokens,
                                        out, lse, err);
    int64_t rows = batch->num_seqs > 0 && batch->query_start_loc
                       ? batch->query_start_loc[batch->num_seqs]
                       : 0;
    if (rows < 0 || rows > num_tokens)
        rows = num_tokens;
    size_t n = (size_t)(num_tokens * params->num_q_heads * params->head_dim);
    float *o32 = malloc((n ? n : 1) * sizeof *o32);
    float *l32 = malloc((size_t)(num_tokens * params->num_q_heads + 1) *
                        sizeof *l32);
    kva_status s = KVA_ERR_NOMEM;
    if (o32 && l32)
        s = kva_real_paged_attention(params, cache, batch, q, num_tokens, o32,
                                     has("lse-none") ? NULL : l32, err);
    if (s == KVA_OK) {
        convert(params, rows, o32, out, l32, has("lse-none") ? NULL : lse);
        if (has("nondet") && rows > 0 && (calls++ & 1))
            ((uint32_t *)out)[0] ^= 1u;
    }
    free(o32);
    free(l32);
    return s;
}
