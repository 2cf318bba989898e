/*
 * planted_quant.c — the two classic bugs of a reduced-precision KV cache,
 * planted on top of the real libkvattn (test only; see planted_quant.h).
 *
 * kvc_planted_forget_scale: paged and blocked attention get a copy of the
 * cache description in which every scale is 1 (TENSOR: k_tensor = v_tensor
 * = 1; HEAD: arrays of 1; TOKEN: scale pools of 1.0f; GROUP: global scales
 * 1 and every block code 0x38, the e4m3 code of 1.0), so the real kernel
 * decodes codes and never multiplies by the scale.
 *
 * kvc_planted_truncate: the real cache write, then every code of every
 * written (token, head) row replaced by the encoding of the same
 * t = fp32(x / s) with rounding toward zero. The truncating encoders are
 * written here from docs/kv-formats.md; they share nothing with the
 * kernels' or the oracle's codecs.
 */
#include "planted_quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- forget the scale on read ----------------------------------------- */

/* Scale pools above this size are mapped sparse (large-offset cases): only
 * the rows of the blocks the batch's table names are filled. */
#define SPARSE_POOL_BYTES (INT64_C(64) << 20)

/* The e4m3 code of 1.0: exponent field 7 (bias 7), mantissa 0. */
#define E4M3_ONE 0x38

/* A scale pool of ones (one of K, V). */
typedef struct ones_pool {
    unsigned char *data;
    size_t bytes;
    int mapped;
} ones_pool;

/* The copies a description with scales of 1 points at. */
typedef struct unscaled {
    float *k_head, *v_head;
    ones_pool k_pool, v_pool;
} unscaled;

static void ones_pool_free(ones_pool *p)
{
    if (p->data && p->mapped)
        munmap(p->data, p->bytes);
    else
        free(p->data);
    memset(p, 0, sizeof *p);
}

static void unscaled_free(unscaled *u)
{
    free(u->k_head);
    free(u->v_head);
    ones_pool_free(&u->k_pool);
    ones_pool_free(&u->v_pool);
}

/* Unit `at` of a pool of `units` units set to one (if in bounds). */
static void put_one(unsigned char *pool, int64_t units, int unit_bytes,
                    int64_t at)
{
    static const float one = 1.0f;
    if (at < 0 || at >= units)
        return;
    if (unit_bytes == 4)
        memcpy(pool + at * 4, &one, 4);
    else
        pool[at] = E4M3_ONE;
}

/* Fill every row (slot, head) of pool block `blk` with ones. */
static void fill_block(unsigned char *pool, const kva_kv_scales *s,
                       int unit_bytes, int64_t row_units, int64_t blk,
                       int block_size, int heads)
{
    for (int64_t t = 0; t < block_size; t++)
        for (int h = 0; h < heads; h++) {
            int64_t at = blk * s->stride_block + t * s->stride_slot +
                         (int64_t)h * s->stride_head;
            for (int64_t r = 0; r < row_units; r++)
                put_one(pool, s->pool_units, unit_bytes, at + r);
        }
}

/* A same-size copy of a scale pool filled with ones: every unit for a
 * dense pool; for a sparse one the rows of the blocks in `table` (n
 * entries; entries outside [0, num_blocks) are skipped). Returns 0 or -1. */
static int make_ones_pool(ones_pool *o, const kva_kv_scales *s,
                          int unit_bytes, int64_t row_units, int block_size,
                          int heads, int64_t num_blocks, const int *table,
                          int64_t n)
{
    memset(o, 0, sizeof *o);
    int64_t bytes = s->pool_units * unit_bytes;
    o->bytes = (size_t)(bytes > 0 ? bytes : 1);
    if (bytes <= SPARSE_POOL_BYTES || !table) {
        o->data = malloc(o->bytes);
        if (!o->data)
            return -1;
        for (int64_t i = 0; i < s->pool_units; i++)
            put_one(o->data, s->pool_units, unit_bytes, i);
        return 0;
    }
    void *p = mmap(NULL, o->bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    o->data = p;
    o->mapped = 1;
    if (s->stride_block < 0 || s->stride_slot < 0 || s->stride_head < 0)
        return 0; /* an invalid description: the kernel refuses it */
    for (int64_t e = 0; e < n; e++)
        if (table[e] >= 0 && table[e] < num_blocks)
            fill_block(o->data, s, unit_bytes, row_units, table[e],
                       block_size, heads);
    return 0;
}

/* `out` = `in` with every scale 1, pointing at copies held by u. For
 * TOKEN/GROUP the pools are addressed by (block, slot, head) with
 * block_size slots a block and num_blocks blocks; table/n name the blocks
 * that are read (sparse pools; NULL: fill everything). Descriptions the
 * kernel must refuse (NULL arrays or pools, bad sizes) are passed through
 * as they are. Returns 0 or -1 (out of memory). */
static int unscale(const kva_kv_scales *in, int heads, int head_dim,
                   int block_size, int64_t num_blocks, const int *table,
                   int64_t n, kva_kv_scales *out, unscaled *u)
{
    memset(u, 0, sizeof *u);
    *out = *in;
    switch (in->kind) {
    case KVA_SCALE_TENSOR:
        out->k_tensor = out->v_tensor = 1.0f;
        return 0;
    case KVA_SCALE_HEAD:
        if (heads < 1 || !in->k_head || !in->v_head)
            return 0;
        u->k_head = malloc((size_t)heads * sizeof(float));
        u->v_head = malloc((size_t)heads * sizeof(float));
        if (!u->k_head || !u->v_head) {
            unscaled_free(u);
            return -1;
        }
        for (int h = 0; h < heads; h++)
            u->k_head[h] = u->v_head[h] = 1.0f; /* BUG: the scales forgotten */
        out->k_head = u->k_head;
        out->v_head = u->v_head;
        return 0;
    case KVA_SCALE_TOKEN:
    case KVA_SCALE_GROUP: {
        const int group = in->kind == KVA_SCALE_GROUP;
        if (group)
            out->k_tensor = out->v_tensor = 1.0f;
        if (!in->k_pool || !in->v_pool || in->pool_units <= 0 || heads < 1 ||
            block_size < 1 || (group && head_dim < 16))
            return 0;
        const int ub = group ? 1 : 4;
        const int64_t row = group ? head_dim / 16 : 1;
        if (make_ones_pool(&u->k_pool, in, ub, row, block_size, heads,
                           num_blocks, table, n) != 0 ||
            make_ones_pool(&u->v_pool, in, ub, row, block_size, heads,
                           num_blocks, table, n) != 0) {
            unscaled_free(u);
            return -1;
        }
        out->k_pool = u->k_pool.data;
        out->v_pool = u->v_pool.data;
        return 0;
    }
    default:
        return 0; /* NONE (no scale) or unknown (refused by the kernel) */
    }
}

static kva_status nomem(kva_error *err)
{
    if (err) {
        err->status = KVA_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg,
                 "planted forget-scale: out of memory for the scale copies");
    }
    return KVA_ERR_NOMEM;
}

static kva_status forget_scale_paged(const kva_attn_params *p,
                                     const kva_paged_cache *c,
                                     const kva_paged_batch *b, const float *q,
                                     int64_t num_tokens, float *out,
                                     float *lse, kva_error *err)
{
    if (!c)
        return kva_paged_attention(p, c, b, q, num_tokens, out, lse, err);
    kva_paged_cache c1 = *c;
    const int *table = b ? b->block_table : NULL;
    int64_t n = b && b->num_seqs > 0 && b->max_blocks_per_seq > 0
                    ? (int64_t)b->num_seqs * b->max_blocks_per_seq
                    : 0;
    unscaled u;
    if (unscale(&c->scales, c->num_kv_heads, c->head_dim, c->block_size,
                c->num_blocks, table, n, &c1.scales, &u) != 0)
        return nomem(err);
    kva_status s = kva_paged_attention(p, &c1, b, q, num_tokens, out, lse, err);
    unscaled_free(&u);
    return s;
}

static kva_status forget_scale_blocked(const kva_attn_params *p,
                                       const kva_blocked_cache *c,
                                       int num_kv_blocks, int num_seqs,
                                       const int64_t *query_start_loc,
                                       const int *seq_lens,
                                       const uint8_t *const *masks,
                                       const float *q, int64_t num_tokens,
                                       float *out, float *lse, kva_error *err)
{
    if (!c)
        return kva_blocked_attention(p, c, num_kv_blocks, num_seqs,
                                     query_start_loc, seq_lens, masks, q,
                                     num_tokens, out, lse, err);
    kva_blocked_cache c1 = *c;
    unscaled u;
    /* pools of a contiguous cache: block = sequence, slot = position */
    if (unscale(&c->scales, c->num_kv_heads, c->head_dim, c->cache_len,
                c->num_seqs, NULL, 0, &c1.scales, &u) != 0)
        return nomem(err);
    kva_status s = kva_blocked_attention(p, &c1, num_kv_blocks, num_seqs,
                                         query_start_loc, seq_lens, masks, q,
                                         num_tokens, out, lse, err);
    unscaled_free(&u);
    return s;
}

const kvc_kernel kvc_planted_forget_scale = {
    .name = "planted-forget-scale",
    .cache_write = kva_cache_write,
    .paged_attention = forget_scale_paged,
    .blocked_attention = forget_scale_blocked,
    .qeff_to_general = kva_qeff_to_general,
};

/* ---- truncate instead of rounding to nearest even --------------------- */

/* A minifloat of docs/kv-formats.md. */
typedef struct minifloat {
    int ebits, mbits, bias;
    uint32_t max_code; /* the largest finite positive code */
    uint32_t nan_code; /* written for NaN (sign added when nan_signed) */
    int nan_signed;
    int has_inf;       /* f16, bf16: infinities encode to infinities */
} minifloat;

static const minifloat F16 = {5, 10, 15, 0x7BFF, 0x7E00, 1, 1};
static const minifloat BF16 = {8, 7, 127, 0x7F7F, 0x7FC0, 1, 1};
static const minifloat E4M3 = {4, 3, 7, 0x7E, 0x7F, 0, 0};
static const minifloat E5M2 = {5, 2, 15, 0x7B, 0x7F, 0, 0};
static const minifloat E2M1 = {2, 1, 1, 0x7, 0x0, 0, 0};

/* Value of positive code c (exact in double). */
static double mini_decode(const minifloat *f, uint32_t c)
{
    uint32_t e = c >> f->mbits, m = c & ((1u << f->mbits) - 1);
    if (e == 0)
        return ldexp((double)m, 1 - f->bias - f->mbits);
    return ldexp((double)((1u << f->mbits) + m), (int)e - f->bias - f->mbits);
}

/* BUG (planted): the code of the largest grid value <= |t|, the sign kept
 * (round toward zero). Magnitudes at or past the largest finite value give
 * the largest finite code (saturating formats saturate like the real
 * encoders; f16/bf16 round toward zero never overflows); infinities stay
 * infinities where the format has them; NaN gives the format's NaN code. */
static uint32_t mini_truncate(const minifloat *f, float t)
{
    const int width = 1 + f->ebits + f->mbits;
    const uint32_t sign = signbit(t) ? 1u << (width - 1) : 0;
    if (isnan(t))
        return f->nan_code | (f->nan_signed ? sign : 0);
    if (isinf(t) && f->has_inf)
        return sign | (((1u << f->ebits) - 1) << f->mbits);
    double a = fabs((double)t);
    if (a >= mini_decode(f, f->max_code))
        return sign | f->max_code;
    double min_normal = ldexp(1.0, 1 - f->bias);
    if (a < min_normal) { /* subnormal or zero: exponent field 0 */
        double m = floor(a / ldexp(1.0, 1 - f->bias - f->mbits));
        return sign | (uint32_t)m;
    }
    int e2;
    (void)frexp(a, &e2); /* a = fr * 2^e2, fr in [0.5, 1) */
    int e = e2 - 1;      /* a in [2^e, 2^(e+1)) */
    double m = floor(a / ldexp(1.0, e - f->mbits)) - ldexp(1.0, f->mbits);
    return sign | (uint32_t)(e + f->bias) << f->mbits | (uint32_t)m;
}

/* BUG (planted): int8 toward zero, clamped; NaN 0, -0 0. */
static uint32_t int8_truncate(float t)
{
    int q;
    if (isnan(t))
        q = 0;
    else if (t >= 127.0f)
        q = 127;
    else if (t <= -128.0f)
        q = -128;
    else
        q = (int)t; /* C conversion truncates toward zero */
    return (uint32_t)(uint8_t)(int8_t)q;
}

static uint32_t truncate_code(kva_dtype d, float t)
{
    switch (d) {
    case KVA_DTYPE_F16: return mini_truncate(&F16, t);
    case KVA_DTYPE_BF16: return mini_truncate(&BF16, t);
    case KVA_DTYPE_FP8_E4M3: return mini_truncate(&E4M3, t);
    case KVA_DTYPE_FP8_E5M2: return mini_truncate(&E5M2, t);
    case KVA_DTYPE_INT8: return int8_truncate(t);
    case KVA_DTYPE_NVFP4: return mini_truncate(&E2M1, t);
    default: return 0;
    }
}

/* e4m3 code to its value (exact in binary32), for the stored block
 * codes of GROUP; NaN codes give NaN. */
static float e4m3_value(uint8_t c)
{
    if ((c & 0x7F) == 0x7F)
        return NAN;
    float v = (float)mini_decode(&E4M3, c & 0x7Fu);
    return c & 0x80 ? -v : v;
}

/* The scale the real write used for dim d of (block, slot, head) of K
 * (which 0) or V (1): 1 without one. */
static float scale_of(const kva_paged_cache *c, int which, int64_t blk,
                      int64_t slot, int h, int d)
{
    const kva_kv_scales *s = &c->scales;
    int64_t at = blk * s->stride_block + slot * s->stride_slot +
                 (int64_t)h * s->stride_head;
    switch (s->kind) {
    case KVA_SCALE_TENSOR: return which ? s->v_tensor : s->k_tensor;
    case KVA_SCALE_HEAD: return which ? s->v_head[h] : s->k_head[h];
    case KVA_SCALE_TOKEN: {
        float f;
        memcpy(&f, (const float *)(which ? s->v_pool : s->k_pool) + at,
               sizeof f);
        return f;
    }
    case KVA_SCALE_GROUP: {
        uint8_t code = ((const uint8_t *)(which ? s->v_pool : s->k_pool))[at + d / 16];
        float g = which ? s->v_tensor : s->k_tensor;
        return e4m3_value(code) / g; /* fp32(decode_e4m3(c) / g) */
    }
    default: return 1.0f;
    }
}

/* Re-encode one written head row x[0..D) of K or V with truncation. */
static void truncate_row(const kva_paged_cache *c, int which, const float *x,
                         int64_t blk, int64_t slot, int h)
{
    unsigned char *base = which ? c->v : c->k;
    int64_t row = blk * c->stride_block + slot * c->stride_slot +
                  (int64_t)h * c->stride_head;
    for (int d = 0; d < c->head_dim; d++) {
        float t = x[d];
        if (c->scales.kind != KVA_SCALE_NONE)
            t = x[d] / scale_of(c, which, blk, slot, h, d); /* fp32 */
        uint32_t code = truncate_code(c->dtype, t);
        switch (c->dtype) {
        case KVA_DTYPE_F16:
        case KVA_DTYPE_BF16: {
            uint16_t u16 = (uint16_t)code;
            memcpy(base + 2 * (row + d), &u16, 2);
            break;
        }
        case KVA_DTYPE_NVFP4: {
            unsigned char *u = base + row + d / 2;
            *u = d % 2 ? (unsigned char)((*u & 0x0F) | (code & 0xF) << 4)
                       : (unsigned char)((*u & 0xF0) | (code & 0xF));
            break;
        }
        default: base[row + d] = (unsigned char)code; break;
        }
    }
}

static kva_status truncate_write(const kva_paged_cache *c, const float *k,
                                 const float *v, const int64_t *slot_mapping,
                                 int64_t num_tokens, kva_error *err)
{
    kva_status s = kva_cache_write(c, k, v, slot_mapping, num_tokens, err);
    if (s != KVA_OK || c->dtype == KVA_DTYPE_F32)
        return s; /* refused (untouched), or nothing to round */
    const int H = c->num_kv_heads, D = c->head_dim;
    for (int64_t t = 0; t < num_tokens; t++) {
        int64_t slot = slot_mapping[t];
        if (slot < 0)
            continue;
        int64_t blk = slot / c->block_size, off = slot % c->block_size;
        for (int h = 0; h < H; h++) {
            int64_t at = (t * H + h) * (int64_t)D;
            truncate_row(c, 0, k + at, blk, off, h);
            truncate_row(c, 1, v + at, blk, off, h);
        }
    }
    return KVA_OK;
}

const kvc_kernel kvc_planted_truncate = {
    .name = "planted-truncate",
    .cache_write = truncate_write,
    .paged_attention = kva_paged_attention,
    .blocked_attention = kva_blocked_attention,
    .qeff_to_general = kva_qeff_to_general,
};
