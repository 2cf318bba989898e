/*
 * cache_write.c — kva_cache_write: scatter new tokens' K/V into a paged
 * cache through a slot mapping, encoding each (token, head) row in the
 * cache's dtype (docs/kv-formats.md). All-or-nothing: every slot is checked
 * (range, then duplicates) before the first element is written, so a bad
 * slot late in the batch cannot leave the cache half-updated.
 */
#include "kva_format.h"
#include "kva_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A (slot, token) pair, sorted to find a slot written twice. */
typedef struct slot_use {
    int64_t slot;
    int64_t token;
} slot_use;

static int cmp_slot_use(const void *a, const void *b)
{
    const slot_use *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    return 0;
}

/* Refuse a slot that two tokens write: the result would depend on write
 * order. Sorting a copy keeps this O(n log n) with O(n) scratch. Token t's
 * slot is slots[t * stride]. */
static kva_status check_duplicates(const int64_t *slots, int64_t n,
                                   int64_t stride, kva_error *err)
{
    if (n < 2)
        return KVA_OK;
    if ((uint64_t)n > SIZE_MAX / sizeof(slot_use))
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate the duplicate-slot check for %" PRId64
                        " tokens",
                        n);
    slot_use *u = malloc((size_t)n * sizeof *u);
    if (u == NULL)
        return kva_fail(err, KVA_ERR_NOMEM,
                        "cannot allocate the duplicate-slot check for %" PRId64
                        " tokens",
                        n);
    int64_t m = 0;
    for (int64_t t = 0; t < n; t++)
        if (slots[t * stride] >= 0)
            u[m++] = (slot_use){slots[t * stride], t};
    qsort(u, (size_t)m, sizeof *u, cmp_slot_use);
    kva_status st = KVA_OK;
    for (int64_t i = 1; i < m; i++)
        if (u[i].slot == u[i - 1].slot) {
            st = kva_fail(err, KVA_ERR_SLOT,
                          "tokens %" PRId64 " and %" PRId64
                          " both write slot %" PRId64,
                          u[i - 1].token, u[i].token, u[i].slot);
            break;
        }
    free(u);
    return st;
}

/* The per-token range R of docs/kv-formats.md ("Per token"). */
static float token_range(kva_dtype d)
{
    switch (d) {
    case KVA_DTYPE_FP8_E4M3: return 448.0f;
    case KVA_DTYPE_FP8_E5M2: return 57344.0f;
    default: return 127.5f; /* INT8 */
    }
}

/* One 8-bit code of t = fp32(x / s) (FP8 / INT8). */
static uint8_t encode8(kva_dtype d, float t)
{
    switch (d) {
    case KVA_DTYPE_FP8_E4M3: return kva_e4m3_encode(t);
    case KVA_DTYPE_FP8_E5M2: return kva_e5m2_encode(t);
    default: return (uint8_t)kva_int8_encode(t);
    }
}

/* Where one (token, head) row goes, and its static scale for TENSOR / HEAD
 * (or the global scale for GROUP). */
typedef struct row_dst {
    void *pool;       /* K or V pool */
    int64_t off;      /* the row's first unit */
    void *spool;      /* TOKEN / GROUP scale pool */
    int64_t soff;     /* the row's first scale-pool unit */
    float scale;      /* TENSOR / HEAD scale, GROUP global scale */
} row_dst;

/* Encode the D elements of x into one cache row (validated cache). */
static void encode_row(const kva_paged_cache *c, const row_dst *r,
                       const float *x)
{
    const int D = c->head_dim;
    switch (c->dtype) {
    case KVA_DTYPE_F32:
        memcpy((float *)r->pool + r->off, x, (size_t)D * sizeof(float));
        return;
    case KVA_DTYPE_F16: {
        uint16_t *dst = (uint16_t *)r->pool + r->off;
        for (int d = 0; d < D; d++)
            dst[d] = kva_f16_encode(x[d]);
        return;
    }
    case KVA_DTYPE_BF16: {
        uint16_t *dst = (uint16_t *)r->pool + r->off;
        for (int d = 0; d < D; d++)
            dst[d] = kva_bf16_encode(x[d]);
        return;
    }
    case KVA_DTYPE_FP8_E4M3:
    case KVA_DTYPE_FP8_E5M2:
    case KVA_DTYPE_INT8: {
        uint8_t *dst = (uint8_t *)r->pool + r->off;
        float s = r->scale;
        if (c->scales.kind == KVA_SCALE_TOKEN) {
            s = kva_scale_token(x, D, token_range(c->dtype));
            ((float *)r->spool)[r->soff] = s;
        }
        for (int d = 0; d < D; d++)
            dst[d] = encode8(c->dtype, x[d] / s);
        return;
    }
    case KVA_DTYPE_NVFP4: {
        uint8_t *dst = (uint8_t *)r->pool + r->off;
        uint8_t *codes = (uint8_t *)r->spool + r->soff;
        const float g = r->scale;
        for (int grp = 0; grp < D / 16; grp++) {
            const float *x16 = x + grp * 16;
            const uint8_t bc = kva_nvfp4_group_scale(x16, g);
            codes[grp] = bc;
            const float s = kva_nvfp4_effective_scale(bc, g);
            for (int i = 0; i < 16; i += 2) {
                const uint8_t lo = kva_e2m1_encode(x16[i] / s);
                const uint8_t hi = kva_e2m1_encode(x16[i + 1] / s);
                dst[(grp * 16 + i) / 2] = (uint8_t)(lo | (hi << 4));
            }
        }
        return;
    }
    }
}

/* The arguments both writes share: pointers, the cache, a source size
 * that fits in int64. */
static kva_status check_write(const kva_paged_cache *cache, const float *k,
                              const float *v, const int64_t *slots,
                              int64_t num_tokens, kva_error *err)
{
    if (cache == NULL)
        return kva_fail(err, KVA_ERR_NULL, "cache is NULL");
    if (num_tokens < 0)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64 " is negative", num_tokens);
    if (num_tokens > 0) {
        if (k == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "k is NULL but num_tokens is %" PRId64,
                            num_tokens);
        if (v == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "v is NULL but num_tokens is %" PRId64,
                            num_tokens);
        if (slots == NULL)
            return kva_fail(err, KVA_ERR_NULL,
                            "slot_mapping is NULL but num_tokens is %" PRId64,
                            num_tokens);
    }
    kva_status st = kva_check_paged_cache(cache, err);
    if (st != KVA_OK)
        return st;
    /* The cache check proved every (block, slot, head) row fits in
     * pool_elems (and the scale pools), so the row offsets cannot
     * overflow; the source offsets t*H*D must be checked separately
     * (num_tokens is the caller's claim). */
    int64_t src_elems;
    if (!kva_mul_nonneg(num_tokens, (int64_t)cache->num_kv_heads * cache->head_dim,
                        &src_elems))
        return kva_fail(err, KVA_ERR_LENGTH,
                        "num_tokens %" PRId64
                        " x %d heads x %d dims overflows int64",
                        num_tokens, cache->num_kv_heads, cache->head_dim);
    return KVA_OK;
}

/* Every slot in [-1, num_blocks * B): token t's at slots[t * stride]. */
static kva_status check_slot_range(const kva_paged_cache *cache,
                                   const int64_t *slots, int64_t n,
                                   int64_t stride, kva_error *err)
{
    const int64_t num_slots = cache->num_blocks * cache->block_size;
    for (int64_t t = 0; t < n; t++) {
        int64_t s = slots[t * stride];
        if (s < -1 || s >= num_slots)
            return kva_fail(err, KVA_ERR_SLOT,
                            "token %" PRId64 ": slot %" PRId64
                            " is out of range [0, %" PRId64 ") (-1 = skip)",
                            t, s, num_slots);
    }
    return KVA_OK;
}

/* Encode token t's K/V rows of KV head h into cache slot s (validated). */
static void write_head(const kva_paged_cache *cache, const float *k,
                       const float *v, int64_t t, int h, int64_t s)
{
    const int B = cache->block_size, H = cache->num_kv_heads,
              D = cache->head_dim;
    const kva_kv_scales *sc = &cache->scales;
    /* Offsets proven in bounds by the cache check (rows of the K/V pools
     * and, for TOKEN / GROUP, of the scale pools). */
    /* KVA_MUT(29): a power-of-two block size assumed */
    const int64_t blk = s / B, pos = KVA_MUT(29) ? s & (B - 1) : s % B;
    /* KVA_MUT(11): the row offset computed in 32 bits */
    const int64_t row =
        KVA_MUT(11) ? (int32_t)((uint32_t)blk * (uint32_t)cache->stride_block +
                                (uint32_t)(pos * cache->stride_slot))
                    : blk * cache->stride_block + pos * cache->stride_slot;
    /* The scale-pool strides are garbage-tolerant fields unless the kind
     * uses a pool: never multiply them otherwise. */
    const int pooled = sc->kind == KVA_SCALE_TOKEN || sc->kind == KVA_SCALE_GROUP;
    const int64_t srow = pooled ? blk * sc->stride_block + pos * sc->stride_slot : 0;
    const int64_t off = row + h * cache->stride_head;
    const int64_t soff = pooled ? srow + h * sc->stride_head : 0;
    row_dst kd = {cache->k, off, sc->k_pool, soff, sc->k_tensor};
    row_dst vd = {cache->v, off, sc->v_pool, soff, sc->v_tensor};
    if (sc->kind == KVA_SCALE_HEAD) {
        kd.scale = sc->k_head[h];
        vd.scale = sc->v_head[h];
    }
    encode_row(cache, &kd, k + (t * H + h) * D);
    encode_row(cache, &vd, v + (t * H + h) * D);
}

kva_status kva_cache_write(const kva_paged_cache *cache, const float *k,
                           const float *v, const int64_t *slot_mapping,
                           int64_t num_tokens, kva_error *err)
{
    kva_clear_error(err);
    kva_status st = check_write(cache, k, v, slot_mapping, num_tokens, err);
    if (st == KVA_OK)
        st = check_slot_range(cache, slot_mapping, num_tokens, 1, err);
    /* KVA_MUT(20): the duplicate check after the scatter (a partial
     * write before the refusal) */
    if (st == KVA_OK && !KVA_MUT(20))
        st = check_duplicates(slot_mapping, num_tokens, 1, err);
    if (st != KVA_OK)
        return st;
    for (int64_t t = 0; t < num_tokens; t++) {
        if (slot_mapping[t] < 0 && !KVA_MUT(8))
            continue; /* padding token (KVA_MUT(8): -1 used as a slot) */
        for (int h = 0; h < cache->num_kv_heads; h++)
            write_head(cache, k, v, t, h, slot_mapping[t]);
    }
    if (KVA_MUT(20))
        return check_duplicates(slot_mapping, num_tokens, 1, err);
    return KVA_OK;
}

kva_status kva_cache_write_heads(const kva_paged_cache *cache, const float *k,
                                 const float *v, const int64_t *slots,
                                 int64_t num_tokens, kva_error *err)
{
    kva_clear_error(err);
    kva_status st = check_write(cache, k, v, slots, num_tokens, err);
    if (st != KVA_OK)
        return st;
    const int H = cache->num_kv_heads;
    for (int h = 0; h < H && st == KVA_OK; h++) {
        st = check_slot_range(cache, slots + h, num_tokens, H, err);
        if (st == KVA_OK)
            st = check_duplicates(slots + h, num_tokens, H, err);
    }
    if (st != KVA_OK)
        return st;
    for (int64_t t = 0; t < num_tokens; t++)
        for (int h = 0; h < H; h++)
            if (slots[t * H + h] >= 0)
                write_head(cache, k, v, t, h, slots[t * H + h]);
    return KVA_OK;
}
