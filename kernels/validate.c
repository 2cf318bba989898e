/*
 * validate.c — the checks more than one entry point runs: attention
 * parameters, a paged cache description, the variable-length batch fields.
 *
 * Every check runs before anything is written, and every size is checked
 * before it is multiplied into an offset: the inputs may be garbage (a fuzz
 * harness feeds them), and garbage must be refused with a message, never
 * turned into signed overflow or an out-of-bounds read.
 */
#include "kva_internal.h"

#include <inttypes.h>
#include <math.h>

int kva_mul_nonneg(int64_t a, int64_t b, int64_t *r)
{
    if (a < 0 || b < 0)
        return 0;
    if (a != 0 && b > INT64_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

kva_status kva_check_params(const kva_attn_params *p, kva_error *err)
{
    if (p == NULL)
        return kva_fail(err, KVA_ERR_NULL, "params is NULL");
    if (p->num_q_heads < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "num_q_heads %d must be >= 1",
                        p->num_q_heads);
    if (p->num_kv_heads < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "num_kv_heads %d must be >= 1",
                        p->num_kv_heads);
    if (p->num_q_heads % p->num_kv_heads != 0)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "num_q_heads %d is not a multiple of num_kv_heads %d",
                        p->num_q_heads, p->num_kv_heads);
    if (p->head_dim < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "head_dim %d must be >= 1",
                        p->head_dim);
    if (!isfinite(p->scale))
        return kva_fail(err, KVA_ERR_PARAM, "scale %g is not finite",
                        (double)p->scale);
    /* !(x >= 0) also catches NaN. */
    if (!isfinite(p->softcap) || !(p->softcap >= 0.0f))
        return kva_fail(err, KVA_ERR_PARAM,
                        "softcap %g must be finite and >= 0 (0 = off)",
                        (double)p->softcap);
    if (p->window_left < -1)
        return kva_fail(err, KVA_ERR_PARAM,
                        "window_left %d must be >= -1 (-1 = no window)",
                        p->window_left);
    return KVA_OK;
}

/* One dimension of the (block, slot, head) row grid. */
typedef struct stride_dim {
    int64_t stride;
    int64_t count;
    const char *name;
} stride_dim;

kva_status kva_check_paged_cache(const kva_paged_cache *c, kva_error *err)
{
    if (c == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache is NULL");
    if (c->k == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache->k is NULL");
    if (c->v == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache->v is NULL");
    if (c->num_blocks < 1)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache num_blocks %" PRId64 " must be >= 1",
                        c->num_blocks);
    if (c->block_size < 1)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache block_size %d must be >= 1", c->block_size);
    if (c->num_kv_heads < 1)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache num_kv_heads %d must be >= 1",
                        c->num_kv_heads);
    if (c->head_dim < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "cache head_dim %d must be >= 1",
                        c->head_dim);

    stride_dim dims[3] = {
        {c->stride_block, c->num_blocks, "stride_block"},
        {c->stride_slot, c->block_size, "stride_slot"},
        {c->stride_head, c->num_kv_heads, "stride_head"},
    };
    for (int i = 0; i < 3; i++)
        if (dims[i].stride < 0)
            return kva_fail(err, KVA_ERR_SHAPE,
                            "cache %s %" PRId64 " is negative", dims[i].name,
                            dims[i].stride);

    /* Rows cannot overlap when, taking the dimensions from the smallest
     * stride up, each stride is at least the extent of everything inside
     * it (a mixed-radix layout: NHD, HND and padded variants all are). A
     * dimension of count 1 never multiplies a non-zero index, so its
     * stride is free. Insertion sort: three elements, and stable, so ties
     * report the same dimension every time. */
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && dims[j].stride < dims[j - 1].stride; j--) {
            stride_dim t = dims[j];
            dims[j] = dims[j - 1];
            dims[j - 1] = t;
        }
    int64_t extent = c->head_dim; /* elements spanned by the inner dims */
    const char *inner = "head_dim";
    for (int i = 0; i < 3; i++) {
        if (dims[i].count == 1)
            continue;
        if (dims[i].stride < extent)
            return kva_fail(err, KVA_ERR_SHAPE,
                            "cache rows overlap: %s %" PRId64
                            " is less than %" PRId64
                            ", the extent of the dimensions inside it (up to "
                            "%s)",
                            dims[i].name, dims[i].stride, extent, inner);
        int64_t span;
        if (!kva_mul_nonneg(dims[i].stride, dims[i].count - 1, &span) ||
            span > INT64_MAX - extent)
            return kva_fail(err, KVA_ERR_SHAPE,
                            "cache extent overflows int64 at %s %" PRId64
                            " x %" PRId64,
                            dims[i].name, dims[i].stride, dims[i].count);
        extent += span;
        inner = dims[i].name;
    }
    /* extent = largest row offset + head_dim. */
    if (extent > c->pool_elems)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "cache pool_elems %" PRId64
                        " is too small: the strides span %" PRId64
                        " elements",
                        c->pool_elems, extent);
    return KVA_OK;
}

kva_status kva_check_varlen(const kva_varlen *b, const kva_attn_params *p,
                            const float *q, int64_t num_tokens,
                            const float *out, kva_error *err)
{
    const int S = b->num_seqs;
    if (S < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_seqs %d is negative", S);
    if (num_tokens < 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64 " is negative", num_tokens);
    if (num_tokens > 0 && q == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "q is NULL but num_tokens is %" PRId64, num_tokens);
    if (num_tokens > 0 && out == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "out is NULL but num_tokens is %" PRId64, num_tokens);
    if (S > 0 && b->query_start_loc == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "query_start_loc is NULL with num_seqs %d", S);
    if (S > 0 && b->seq_lens == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "seq_lens is NULL with num_seqs %d", S);

    /* Row offsets t*Hq*D (q, out) and t*Hq (lse) must fit in int64. */
    int64_t row_elems = (int64_t)p->num_q_heads * p->head_dim, total;
    if (!kva_mul_nonneg(num_tokens, row_elems, &total))
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64 " x %" PRId64
                        " elements per token overflows int64",
                        num_tokens, row_elems);

    const int64_t *qsl = b->query_start_loc;
    if (qsl == NULL)
        return KVA_OK; /* S == 0 and no tokens */
    if (qsl[0] != 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "query_start_loc[0] = %" PRId64 ", must be 0", qsl[0]);
    for (int s = 0; s < S; s++)
        if (qsl[s + 1] < qsl[s])
            return kva_fail(err, KVA_ERR_LENGTH,
                            "sequence %d: query_start_loc[%d] = %" PRId64
                            " is less than query_start_loc[%d] = %" PRId64
                            " (decreasing)",
                            s, s + 1, qsl[s + 1], s, qsl[s]);
    if (qsl[S] > num_tokens)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "query_start_loc[%d] = %" PRId64
                        " is beyond num_tokens %" PRId64,
                        S, qsl[S], num_tokens);
    for (int s = 0; s < S; s++) {
        int64_t q_len = qsl[s + 1] - qsl[s];
        if ((int64_t)b->seq_lens[s] < q_len)
            return kva_fail(err, KVA_ERR_LENGTH,
                            "sequence %d: seq_len %d is less than its q_len %"
                            PRId64,
                            s, b->seq_lens[s], q_len);
    }
    return KVA_OK;
}
