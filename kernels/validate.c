/*
 * validate.c — the checks more than one entry point runs: attention
 * parameters, a paged cache description (its format and scale pools
 * included), the variable-length batch fields.
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
        return kva_fail(err, KVA_MUT(19) ? KVA_ERR_SHAPE : KVA_ERR_PARAM,
                        "window_left %d must be >= -1 (-1 = no window)",
                        p->window_left);
    return KVA_OK;
}

/* ---- formats ------------------------------------------------------------ */

const char *kva_dtype_name(kva_dtype d)
{
    switch (d) {
    case KVA_DTYPE_F32: return "F32";
    case KVA_DTYPE_F16: return "F16";
    case KVA_DTYPE_BF16: return "BF16";
    case KVA_DTYPE_FP8_E4M3: return "FP8_E4M3";
    case KVA_DTYPE_FP8_E5M2: return "FP8_E5M2";
    case KVA_DTYPE_INT8: return "INT8";
    case KVA_DTYPE_NVFP4: return "NVFP4";
    }
    return "unknown";
}

const char *kva_scale_kind_name(kva_scale_kind k)
{
    switch (k) {
    case KVA_SCALE_NONE: return "NONE";
    case KVA_SCALE_TENSOR: return "TENSOR";
    case KVA_SCALE_HEAD: return "HEAD";
    case KVA_SCALE_TOKEN: return "TOKEN";
    case KVA_SCALE_GROUP: return "GROUP";
    }
    return "unknown";
}

int64_t kva_unit_bytes(kva_dtype d)
{
    switch (d) {
    case KVA_DTYPE_F32: return 4;
    case KVA_DTYPE_F16:
    case KVA_DTYPE_BF16: return 2;
    default: return 1;
    }
}

int64_t kva_row_units(kva_dtype d, int64_t head_dim)
{
    return d == KVA_DTYPE_NVFP4 ? head_dim / 2 : head_dim;
}

int64_t kva_scale_row_units(kva_scale_kind k, int64_t head_dim)
{
    return k == KVA_SCALE_GROUP ? head_dim / 16 : 1;
}

int64_t kva_scale_unit_bytes(kva_scale_kind k)
{
    return k == KVA_SCALE_GROUP ? 1 : (int64_t)sizeof(float);
}

/* The scale kinds a dtype takes (kva_scale_kind's comments). Both known. */
static int kind_fits(kva_dtype d, kva_scale_kind k)
{
    switch (d) {
    case KVA_DTYPE_F32:
    case KVA_DTYPE_F16:
    case KVA_DTYPE_BF16:
        return k == KVA_SCALE_NONE;
    case KVA_DTYPE_FP8_E4M3:
    case KVA_DTYPE_FP8_E5M2:
    case KVA_DTYPE_INT8:
        return k == KVA_SCALE_TENSOR || k == KVA_SCALE_HEAD ||
               k == KVA_SCALE_TOKEN;
    case KVA_DTYPE_NVFP4:
        return k == KVA_SCALE_GROUP;
    }
    return 0;
}

/* A static scale must be finite and > 0 (!(x > 0) also catches NaN). */
static int static_scale_ok(float x)
{
    return isfinite(x) && x > 0.0f;
}

kva_status kva_check_format(kva_dtype dtype, const kva_kv_scales *sc,
                            int num_kv_heads, int head_dim, kva_error *err)
{
    /* Compared as unsigned ints: a garbage enum value (negative included)
     * must be refused, not switched on. */
    if ((unsigned)dtype > (unsigned)KVA_DTYPE_NVFP4)
        return kva_fail(err, KVA_ERR_FORMAT, "cache dtype %d is unknown",
                        (int)dtype);
    if ((unsigned)sc->kind > (unsigned)KVA_SCALE_GROUP)
        return kva_fail(err, KVA_ERR_FORMAT,
                        "cache scales.kind %d is unknown", (int)sc->kind);
    if (!kind_fits(dtype, sc->kind))
        return kva_fail(err, KVA_ERR_FORMAT,
                        "cache scales.kind %s is not valid for dtype %s "
                        "(F32/F16/BF16: NONE; FP8/INT8: TENSOR, HEAD or "
                        "TOKEN; NVFP4: GROUP)",
                        kva_scale_kind_name(sc->kind), kva_dtype_name(dtype));
    if (dtype == KVA_DTYPE_NVFP4 && head_dim % 16 != 0)
        return kva_fail(err, KVA_ERR_FORMAT,
                        "cache head_dim %d must be a multiple of 16 for "
                        "NVFP4 (one block scale per 16 dims)",
                        head_dim);

    switch (sc->kind) {
    case KVA_SCALE_TENSOR:
    case KVA_SCALE_GROUP: {
        const char *what =
            sc->kind == KVA_SCALE_GROUP ? "global scale" : "scale";
        if (!static_scale_ok(sc->k_tensor))
            return kva_fail(err, KVA_ERR_FORMAT,
                            "cache scales.k_tensor %g (the K %s) must be "
                            "finite and > 0",
                            (double)sc->k_tensor, what);
        if (!static_scale_ok(sc->v_tensor))
            return kva_fail(err, KVA_ERR_FORMAT,
                            "cache scales.v_tensor %g (the V %s) must be "
                            "finite and > 0",
                            (double)sc->v_tensor, what);
        break;
    }
    case KVA_SCALE_HEAD:
        if (sc->k_head == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "cache scales.k_head is NULL with kind HEAD");
        if (sc->v_head == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "cache scales.v_head is NULL with kind HEAD");
        for (int h = 0; h < num_kv_heads; h++) {
            if (!static_scale_ok(sc->k_head[h]))
                return kva_fail(err, KVA_ERR_FORMAT,
                                "cache scales.k_head[%d] %g must be finite "
                                "and > 0",
                                h, (double)sc->k_head[h]);
            if (!static_scale_ok(sc->v_head[h]))
                return kva_fail(err, KVA_ERR_FORMAT,
                                "cache scales.v_head[%d] %g must be finite "
                                "and > 0",
                                h, (double)sc->v_head[h]);
        }
        break;
    default:
        break;
    }
    return KVA_OK;
}

/* ---- row grids ---------------------------------------------------------- */

/* One dimension of the (block, slot, head) row grid. */
typedef struct stride_dim {
    int64_t stride;
    int64_t count; /* >= 1 */
    const char *name;
} stride_dim;

/*
 * Rows of row_units units at offsets sum_i idx_i * dims[i].stride, idx_i in
 * [0, dims[i].count): strides >= 0, no two rows overlapping, every row
 * inside pool_units. Messages start with `what` ("cache") and name the
 * stride or pool field (pool_name) and its value; row_name says what a row
 * is (the innermost extent). KVA_ERR_SHAPE.
 */
static kva_status check_rows(const char *what, int64_t row_units,
                             const char *row_name, const stride_dim in[3],
                             int64_t pool_units, const char *pool_name,
                             kva_error *err)
{
    stride_dim dims[3] = {in[0], in[1], in[2]};
    for (int i = 0; i < 3; i++)
        if (dims[i].stride < 0)
            return kva_fail(err, KVA_ERR_SHAPE, "%s %s %" PRId64
                            " is negative",
                            what, dims[i].name, dims[i].stride);

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
    int64_t extent = row_units; /* units spanned by the inner dims */
    const char *inner = row_name;
    for (int i = 0; i < 3; i++) {
        if (dims[i].count == 1)
            continue;
        if (dims[i].stride < extent)
            return kva_fail(err, KVA_ERR_SHAPE,
                            "%s rows overlap: %s %" PRId64
                            " is less than %" PRId64
                            ", the extent of the dimensions inside it (up to "
                            "%s)",
                            what, dims[i].name, dims[i].stride, extent, inner);
        int64_t span;
        if (!kva_mul_nonneg(dims[i].stride, dims[i].count - 1, &span) ||
            span > INT64_MAX - extent)
            return kva_fail(err, KVA_ERR_SHAPE,
                            "%s extent overflows int64 at %s %" PRId64
                            " x %" PRId64,
                            what, dims[i].name, dims[i].stride,
                            dims[i].count);
        extent += span;
        inner = dims[i].name;
    }
    /* extent = largest row offset + row_units. */
    if (extent > pool_units)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "%s %s %" PRId64 " is too small: the strides span %"
                        PRId64 " units",
                        what, pool_name, pool_units, extent);
    return KVA_OK;
}

kva_status kva_check_scale_pools(const kva_kv_scales *sc, int64_t num_blocks,
                                 int64_t block_size, int num_kv_heads,
                                 int head_dim, kva_error *err)
{
    if (sc->kind != KVA_SCALE_TOKEN && sc->kind != KVA_SCALE_GROUP)
        return KVA_OK;
    const char *kind = kva_scale_kind_name(sc->kind);
    if (sc->k_pool == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "cache scales.k_pool is NULL with kind %s", kind);
    if (sc->v_pool == NULL)
        return kva_fail(err, KVA_ERR_NULL,
                        "cache scales.v_pool is NULL with kind %s", kind);
    const stride_dim dims[3] = {
        {sc->stride_block, num_blocks, "scales.stride_block"},
        {sc->stride_slot, block_size, "scales.stride_slot"},
        {sc->stride_head, num_kv_heads, "scales.stride_head"},
    };
    return check_rows("cache", kva_scale_row_units(sc->kind, head_dim),
                      sc->kind == KVA_SCALE_GROUP
                          ? "a scale row of head_dim/16 e4m3 codes"
                          : "a scale row of one float",
                      dims, sc->pool_units, "scales.pool_units", err);
}

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
    kva_status st = kva_check_format(c->dtype, &c->scales, c->num_kv_heads,
                                     c->head_dim, err);
    if (st != KVA_OK)
        return st;

    const stride_dim dims[3] = {
        {c->stride_block, c->num_blocks, "stride_block"},
        {c->stride_slot, c->block_size, "stride_slot"},
        {c->stride_head, c->num_kv_heads, "stride_head"},
    };
    st = check_rows("cache", kva_row_units(c->dtype, c->head_dim),
                    c->dtype == KVA_DTYPE_NVFP4 ? "head_dim/2 bytes of NVFP4"
                                                : "head_dim",
                    dims, c->pool_elems, "pool_elems", err);
    if (st != KVA_OK)
        return st;
    return kva_check_scale_pools(&c->scales, c->num_blocks, c->block_size,
                                 c->num_kv_heads, c->head_dim, err);
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
