/*
 * kv_store.c — the oracle's model of a quantized KV cache (kv_store.h).
 *
 * Written from docs/kv-formats.md ("Scales") with the codecs of kv_format.h
 * and nothing else: for every (position row, KV head) of K and of V, find
 * the scale, encode each element divided by it, and decode the code back
 * times the scale. Each element's computation depends only on its own row
 * (token scales) or group (nvfp4), so the order of the loops is free; they
 * run in memory order.
 */
#include "kv_store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_FAIL(...)                                                      \
    do {                                                                     \
        if (err && errlen)                                                   \
            snprintf(err, errlen, __VA_ARGS__);                              \
        return -1;                                                           \
    } while (0)

#define NVFP4_GROUP 16

/* One tensor (K or V) of the store. */
typedef struct store_side {
    const float *x;        /* logical values [rows][Hkv][D] */
    float static_scale;    /* TENSOR scale or GROUP global scale */
    const float *head_scale; /* HEAD: [Hkv] */
    uint32_t *code;
    float *token_scale;
    uint8_t *group_code;
    float *val;
} store_side;

/* ------------------------------------------------------------------------ */
/* Allocation                                                               */
/* ------------------------------------------------------------------------ */

/* calloc of count elements with the byte count checked; a zero count gets
 * one element, so NULL means only "out of memory". */
static void *alloc_array(int64_t count, size_t size)
{
    if (count < 0 || (uint64_t)count > SIZE_MAX / size)
        return NULL;
    return calloc(count > 0 ? (size_t)count : 1, size);
}

void kvc_kv_store_free(kvc_kv_store *st)
{
    if (!st)
        return;
    free(st->k_code);
    free(st->v_code);
    free(st->k_token_scale);
    free(st->v_token_scale);
    free(st->k_group_code);
    free(st->v_group_code);
    free(st->k);
    free(st->v);
    memset(st, 0, sizeof *st);
}

/* The arrays of st for its rows, heads, dims and kind. */
static int alloc_store(kvc_kv_store *st)
{
    int64_t nrow = st->rows * st->num_kv_heads;
    int64_t nelem = nrow * st->head_dim;
    st->k_code = alloc_array(nelem, sizeof *st->k_code);
    st->v_code = alloc_array(nelem, sizeof *st->v_code);
    st->k = alloc_array(nelem, sizeof *st->k);
    st->v = alloc_array(nelem, sizeof *st->v);
    if (!st->k_code || !st->v_code || !st->k || !st->v)
        return -1;
    if (st->kind == KVC_SCALE_TOKEN) {
        st->k_token_scale = alloc_array(nrow, sizeof *st->k_token_scale);
        st->v_token_scale = alloc_array(nrow, sizeof *st->v_token_scale);
        if (!st->k_token_scale || !st->v_token_scale)
            return -1;
    }
    if (st->kind == KVC_SCALE_GROUP) {
        int64_t ngroup = nrow * (st->head_dim / NVFP4_GROUP);
        st->k_group_code = alloc_array(ngroup, sizeof *st->k_group_code);
        st->v_group_code = alloc_array(ngroup, sizeof *st->v_group_code);
        if (!st->k_group_code || !st->v_group_code)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One row of one head                                                      */
/* ------------------------------------------------------------------------ */

/* Elements x[0..n) with the scale s: code = encode(fp32(x / s)), stored =
 * fp32(decode(code) * s). */
static void encode_scaled(kvc_kv_dtype dt, const float *x, int n, float s,
                          uint32_t *code, float *val)
{
    for (int d = 0; d < n; d++) {
        code[d] = kvc_encode(dt, kvc_fp32_div(x[d], s));
        val[d] = kvc_fp32_mul((float)kvc_decode(dt, code[d]), s);
    }
}

/* No scale: code = encode(x); stored = decode(code), exact in binary32. An
 * f32 row is stored as is, bit for bit (NaN payloads included). */
static void encode_unscaled(kvc_kv_dtype dt, const float *x, int n,
                            uint32_t *code, float *val)
{
    if (dt == KVC_KV_F32) {
        /* the code is the bits; copied as bytes so that no float move can
         * touch a signalling NaN */
        for (int d = 0; d < n; d++)
            memcpy(&code[d], &x[d], sizeof code[d]);
        memcpy(val, x, (size_t)n * sizeof *val);
        return;
    }
    for (int d = 0; d < n; d++) {
        code[d] = kvc_encode(dt, x[d]);
        val[d] = (float)kvc_decode(dt, code[d]);
    }
}

/* nvfp4: a block code per 16 elements, then e2m1 with the group's
 * effective scale. */
static void encode_groups(const float *x, int dim, float global,
                          uint32_t *code, uint8_t *gcode, float *val)
{
    for (int g = 0; g < dim / NVFP4_GROUP; g++) {
        int at = g * NVFP4_GROUP;
        uint32_t c = kvc_nvfp4_block_code(x + at, global);
        gcode[g] = (uint8_t)c;
        float s = kvc_nvfp4_effective_scale(c, global);
        encode_scaled(KVC_KV_NVFP4, x + at, NVFP4_GROUP, s, code + at,
                      val + at);
    }
}

/* Row r, KV head h of one side. */
static void store_row(const kvc_kv_store *st, const store_side *sd,
                      int64_t r, int h)
{
    int dim = st->head_dim;
    int64_t hr = r * st->num_kv_heads + h; /* (row, head) index */
    int64_t at = hr * dim;
    const float *x = sd->x + at;
    uint32_t *code = sd->code + at;
    float *val = sd->val + at;
    float s;

    switch (st->kind) {
    case KVC_SCALE_TENSOR:
        s = sd->static_scale;
        break;
    case KVC_SCALE_HEAD:
        s = sd->head_scale[h];
        break;
    case KVC_SCALE_TOKEN:
        s = kvc_scale_token(st->dtype, x, dim);
        sd->token_scale[hr] = s;
        break;
    case KVC_SCALE_GROUP:
        encode_groups(x, dim, sd->static_scale, code,
                      sd->group_code + hr * (dim / NVFP4_GROUP), val);
        return;
    default:
        encode_unscaled(st->dtype, x, dim, code, val);
        return;
    }
    encode_scaled(st->dtype, x, dim, s, code, val);
}

static void store_side_all(const kvc_kv_store *st, const store_side *sd)
{
    for (int64_t r = 0; r < st->rows; r++)
        for (int h = 0; h < st->num_kv_heads; h++)
            store_row(st, sd, r, h);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

int kvc_kv_store_compute(const kvc_problem *p, kvc_kv_store *st, char *err,
                         size_t errlen)
{
    if (!st)
        return -1;
    memset(st, 0, sizeof *st);
    if (!p)
        STORE_FAIL("no problem given");
    if (kvc_problem_check(p, err, errlen) != 0)
        return -1;
    st->rows = p->num_seqs > 0 ? p->kv_start[p->num_seqs] : 0;
    st->num_kv_heads = p->cfg.num_kv_heads;
    st->head_dim = p->cfg.head_dim;
    st->dtype = p->quant.dtype;
    st->kind = p->quant.kind;
    if (st->rows > 0 && (!p->k || !p->v)) {
        memset(st, 0, sizeof *st);
        STORE_FAIL("k or v is not allocated");
    }
    if (alloc_store(st) != 0) {
        int64_t rows = st->rows;
        kvc_kv_store_free(st);
        STORE_FAIL("out of memory (kv store of %lld rows x %d heads x %d "
                   "dims)", (long long)rows, p->cfg.num_kv_heads,
                   p->cfg.head_dim);
    }
    store_side ks = {p->k, p->quant.k_scale, p->quant.k_head_scale,
                     st->k_code, st->k_token_scale, st->k_group_code, st->k};
    store_side vs = {p->v, p->quant.v_scale, p->quant.v_head_scale,
                     st->v_code, st->v_token_scale, st->v_group_code, st->v};
    store_side_all(st, &ks);
    store_side_all(st, &vs);
    return 0;
}

float kvc_kv_store_scale(const kvc_problem *p, const kvc_kv_store *st,
                         int which, int64_t r, int h, int d)
{
    if (!p || !st || (which != 0 && which != 1) || r < 0 || r >= st->rows ||
        h < 0 || h >= st->num_kv_heads || d < 0 || d >= st->head_dim)
        return NAN;
    int64_t hr = r * st->num_kv_heads + h;
    switch (st->kind) {
    case KVC_SCALE_NONE:
        return 1.0f;
    case KVC_SCALE_TENSOR:
        return which == 0 ? p->quant.k_scale : p->quant.v_scale;
    case KVC_SCALE_HEAD:
        return which == 0 ? p->quant.k_head_scale[h] : p->quant.v_head_scale[h];
    case KVC_SCALE_TOKEN:
        return which == 0 ? st->k_token_scale[hr] : st->v_token_scale[hr];
    case KVC_SCALE_GROUP: {
        const uint8_t *g = which == 0 ? st->k_group_code : st->v_group_code;
        float global = which == 0 ? p->quant.k_scale : p->quant.v_scale;
        int64_t gi = hr * (st->head_dim / NVFP4_GROUP) + d / NVFP4_GROUP;
        return kvc_nvfp4_effective_scale(g[gi], global);
    }
    default:
        return NAN;
    }
}
