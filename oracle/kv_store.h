/*
 * kv_store.h — the oracle's model of a quantized KV cache: what the cache
 * must hold for every logical K/V element of a problem, and the values
 * attention must run on.
 *
 * For each position row r (0 .. kv_start[S]-1), KV head h and dim d of K
 * (likewise V), by the rules of docs/kv-formats.md, written from the text
 * with the codecs of kv_format.h (never with kernels/ code):
 *   scale      NONE: none; TENSOR: quant.k_scale; HEAD: quant.k_head_scale[h];
 *              TOKEN: kvc_scale_token over the row's D elements;
 *              GROUP: s = kvc_nvfp4_effective_scale(c, quant.k_scale) with
 *              c = kvc_nvfp4_block_code of the row's 16-element group;
 *   code       kvc_encode(dtype, x) for NONE, else
 *              kvc_encode(dtype, kvc_fp32_div(x, scale));
 *   stored     kvc_decode(dtype, code) for NONE (exact in binary32), else
 *              kvc_fp32_mul((float)kvc_decode(dtype, code), scale): the
 *              binary32 number a kernel computes with (one fp32 product,
 *              correctly rounded; the product of a decoded code and a
 *              binary32 scale is exact in double, so the cast is the one
 *              rounding).
 * An f32 problem stores the logical values unchanged.
 */
#ifndef KVC_KV_STORE_H
#define KVC_KV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "problem.h"

typedef struct kvc_kv_store {
    int64_t rows;        /* kv_start[S]: logical positions of every sequence */
    int num_kv_heads;    /* Hkv */
    int head_dim;        /* D */
    kvc_kv_dtype dtype;
    kvc_scale_kind kind;
    uint32_t *k_code;    /* [rows][Hkv][D]: the code in the format's low bits
                            (nvfp4: one 4-bit e2m1 code per element, unpacked) */
    uint32_t *v_code;
    float *k_token_scale; /* TOKEN: [rows][Hkv]; otherwise NULL */
    float *v_token_scale;
    uint8_t *k_group_code; /* GROUP: [rows][Hkv][D/16] e4m3 block-scale codes;
                              otherwise NULL */
    uint8_t *v_group_code;
    float *k;            /* [rows][Hkv][D] stored values (see above) */
    float *v;
} kvc_kv_store;

/* Compute the store of p (p must pass kvc_problem_check). Returns 0, or -1
 * with a message in err (invalid problem or out of memory; nothing left
 * allocated). */
int kvc_kv_store_compute(const kvc_problem *p, kvc_kv_store *st, char *err,
                         size_t errlen);

/* Free what kvc_kv_store_compute allocated; safe on a zeroed struct. */
void kvc_kv_store_free(kvc_kv_store *st);

/* The scale element (r, h, d) of K (which == 0) or V (which == 1) was
 * divided by; 1.0f for kind NONE. st must come from kvc_kv_store_compute on
 * p. */
float kvc_kv_store_scale(const kvc_problem *p, const kvc_kv_store *st,
                         int which, int64_t r, int h, int d);

#endif /* KVC_KV_STORE_H */
