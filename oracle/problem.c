/* problem.c — allocation, copy and checking of the logical problem. */
#include "problem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kvc_problem_free(kvc_problem *p)
{
    if (!p)
        return;
    free(p->ctx_len);
    free(p->q_len);
    free(p->q_start);
    free(p->kv_start);
    free(p->q);
    free(p->k);
    free(p->v);
    free(p->mask_start);
    free(p->mask);
    free(p->quant.k_head_scale);
    free(p->quant.v_head_scale);
    memset(p, 0, sizeof *p);
}

/* calloc that treats a zero count as one element, so a batch with no tokens
 * still gets valid (empty) arrays and NULL only means out of memory. */
static void *alloc_zeroed(int64_t count, size_t size)
{
    if (count < 0)
        return NULL;
    return calloc(count > 0 ? (size_t)count : 1, size);
}

/* ------------------------------------------------------------------------ */
/* The cache format                                                         */
/* ------------------------------------------------------------------------ */

static const char *const scale_kind_names[KVC_SCALE_KIND_COUNT] = {
    "none", "tensor", "attn_head", "token", "group",
};

const char *kvc_scale_kind_name(kvc_scale_kind k)
{
    if ((int)k < 0 || (int)k >= KVC_SCALE_KIND_COUNT)
        return "?";
    return scale_kind_names[k];
}

int kvc_scale_kind_parse(const char *s, kvc_scale_kind *k)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < KVC_SCALE_KIND_COUNT; i++) {
        if (strcmp(s, scale_kind_names[i]) == 0) {
            if (k)
                *k = (kvc_scale_kind)i;
            return 0;
        }
    }
    return -1;
}

int kvc_quant_kind_valid(kvc_kv_dtype dtype, kvc_scale_kind kind)
{
    switch (dtype) {
    case KVC_KV_F32:
    case KVC_KV_F16:
    case KVC_KV_BF16:
        return kind == KVC_SCALE_NONE;
    case KVC_KV_FP8_E4M3:
    case KVC_KV_FP8_E5M2:
    case KVC_KV_INT8:
        return kind == KVC_SCALE_TENSOR || kind == KVC_SCALE_HEAD ||
               kind == KVC_SCALE_TOKEN;
    case KVC_KV_NVFP4:
        return kind == KVC_SCALE_GROUP;
    default:
        return 0;
    }
}

/* n entries of 1.0f, or NULL when out of memory. */
static float *ones(int n)
{
    float *a = alloc_zeroed(n, sizeof *a);
    if (a)
        for (int i = 0; i < n; i++)
            a[i] = 1.0f;
    return a;
}

int kvc_problem_set_quant(kvc_problem *p, kvc_kv_dtype dtype,
                          kvc_scale_kind kind)
{
    if (!p)
        return -1;
    float *kh = NULL, *vh = NULL;
    if (kind == KVC_SCALE_HEAD) {
        int hkv = p->cfg.num_kv_heads;
        kh = ones(hkv);
        vh = ones(hkv);
        if (!kh || !vh) {
            free(kh);
            free(vh);
            return -1;
        }
    }
    free(p->quant.k_head_scale);
    free(p->quant.v_head_scale);
    p->quant.dtype = dtype;
    p->quant.kind = kind;
    p->quant.k_scale = 1.0f;
    p->quant.v_scale = 1.0f;
    p->quant.k_head_scale = kh;
    p->quant.v_head_scale = vh;
    return 0;
}

int kvc_problem_alloc(kvc_problem *p, const kvc_config *cfg, int num_seqs,
                      const int *ctx_len, const int *q_len,
                      int64_t pad_tokens, int with_mask)
{
    memset(p, 0, sizeof *p);
    if (num_seqs < 0 || pad_tokens < 0 || cfg->num_q_heads < 1 ||
        cfg->num_kv_heads < 1 || cfg->head_dim < 1)
        return -1;
    p->cfg = *cfg;
    p->num_seqs = num_seqs;
    p->ctx_len = alloc_zeroed(num_seqs, sizeof *p->ctx_len);
    p->q_len = alloc_zeroed(num_seqs, sizeof *p->q_len);
    p->q_start = alloc_zeroed(num_seqs + 1, sizeof *p->q_start);
    p->kv_start = alloc_zeroed(num_seqs + 1, sizeof *p->kv_start);
    if (with_mask)
        p->mask_start = alloc_zeroed(num_seqs + 1, sizeof *p->mask_start);
    if (!p->ctx_len || !p->q_len || !p->q_start || !p->kv_start ||
        (with_mask && !p->mask_start))
        goto fail;
    for (int s = 0; s < num_seqs; s++) {
        if (ctx_len[s] < 0 || q_len[s] < 0)
            goto fail;
        p->ctx_len[s] = ctx_len[s];
        p->q_len[s] = q_len[s];
        int64_t kv = (int64_t)ctx_len[s] + q_len[s];
        p->q_start[s + 1] = p->q_start[s] + q_len[s];
        p->kv_start[s + 1] = p->kv_start[s] + kv;
        if (with_mask)
            p->mask_start[s + 1] = p->mask_start[s] + (int64_t)q_len[s] * kv;
    }
    p->num_tokens = p->q_start[num_seqs] + pad_tokens;
    int64_t hd_q = (int64_t)cfg->num_q_heads * cfg->head_dim;
    int64_t hd_kv = (int64_t)cfg->num_kv_heads * cfg->head_dim;
    p->q = alloc_zeroed(p->num_tokens * hd_q, sizeof *p->q);
    p->k = alloc_zeroed(p->kv_start[num_seqs] * hd_kv, sizeof *p->k);
    p->v = alloc_zeroed(p->kv_start[num_seqs] * hd_kv, sizeof *p->v);
    if (!p->q || !p->k || !p->v)
        goto fail;
    if (with_mask) {
        p->has_mask = 1;
        p->mask = alloc_zeroed(p->mask_start[num_seqs], 1);
        if (!p->mask)
            goto fail;
    }
    return 0;
fail:
    kvc_problem_free(p);
    return -1;
}

/* A copy of a per-head scale array of n entries (NULL stays NULL); sets
 * *out and returns 0, or -1 when out of memory. */
static int dup_head_scales(float **out, const float *src, int n)
{
    *out = NULL;
    if (!src)
        return 0;
    *out = alloc_zeroed(n, sizeof **out);
    if (!*out)
        return -1;
    memcpy(*out, src, (size_t)n * sizeof **out);
    return 0;
}

/* Deep copy of a cache format whose head arrays hold hkv entries; dst is
 * overwritten (its own arrays must already be free). */
static int copy_quant(kvc_kv_quant *dst, const kvc_kv_quant *src, int hkv)
{
    *dst = *src;
    dst->k_head_scale = NULL;
    dst->v_head_scale = NULL;
    if (dup_head_scales(&dst->k_head_scale, src->k_head_scale, hkv) != 0 ||
        dup_head_scales(&dst->v_head_scale, src->v_head_scale, hkv) != 0) {
        free(dst->k_head_scale);
        free(dst->v_head_scale);
        dst->k_head_scale = NULL;
        dst->v_head_scale = NULL;
        return -1;
    }
    return 0;
}

int kvc_problem_copy(kvc_problem *dst, const kvc_problem *src)
{
    if (kvc_problem_alloc(dst, &src->cfg, src->num_seqs, src->ctx_len,
                          src->q_len, src->num_tokens - src->q_start[src->num_seqs],
                          src->has_mask) != 0)
        return -1;
    int64_t hd_q = (int64_t)src->cfg.num_q_heads * src->cfg.head_dim;
    int64_t hd_kv = (int64_t)src->cfg.num_kv_heads * src->cfg.head_dim;
    int64_t kv_rows = src->kv_start[src->num_seqs];
    memcpy(dst->q, src->q, (size_t)(src->num_tokens * hd_q) * sizeof *dst->q);
    memcpy(dst->k, src->k, (size_t)(kv_rows * hd_kv) * sizeof *dst->k);
    memcpy(dst->v, src->v, (size_t)(kv_rows * hd_kv) * sizeof *dst->v);
    if (src->has_mask)
        memcpy(dst->mask, src->mask, (size_t)src->mask_start[src->num_seqs]);
    if (copy_quant(&dst->quant, &src->quant, src->cfg.num_kv_heads) != 0) {
        kvc_problem_free(dst);
        return -1;
    }
    return 0;
}

#define FAIL(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* A static scale must be finite and > 0 (docs/kv-formats.md, "Scales"). */
static int check_static_scale(const char *name, int index, float s,
                              char *err, size_t errlen)
{
    if (isfinite(s) && s > 0.0f)
        return 0;
    if (index >= 0)
        FAIL("kv cache: %s[%d] = %g must be finite and > 0", name, index,
             (double)s);
    FAIL("kv cache: %s = %g must be finite and > 0", name, (double)s);
}

static int check_head_scales(const kvc_kv_quant *qn, int hkv, char *err,
                             size_t errlen)
{
    if (!qn->k_head_scale || !qn->v_head_scale)
        FAIL("kv cache: scale kind attn_head needs k_head_scale and "
             "v_head_scale arrays of %d entries (kvc_problem_set_quant)", hkv);
    for (int h = 0; h < hkv; h++)
        if (check_static_scale("k_head_scale", h, qn->k_head_scale[h], err,
                               errlen) != 0 ||
            check_static_scale("v_head_scale", h, qn->v_head_scale[h], err,
                               errlen) != 0)
            return -1;
    return 0;
}

/* The cache format: a known dtype, a scale kind it takes, static scales
 * finite and > 0, head_dim % 16 == 0 for nvfp4. */
static int check_quant(const kvc_problem *p, char *err, size_t errlen)
{
    const kvc_kv_quant *qn = &p->quant;
    if ((int)qn->dtype < 0 || (int)qn->dtype >= KVC_KV_DTYPE_COUNT)
        FAIL("kv cache: dtype %d is not a known format", (int)qn->dtype);
    if ((int)qn->kind < 0 || (int)qn->kind >= KVC_SCALE_KIND_COUNT)
        FAIL("kv cache: scale kind %d is not a known strategy", (int)qn->kind);
    if (!kvc_quant_kind_valid(qn->dtype, qn->kind))
        FAIL("kv cache: dtype %s does not take scale kind %s (f32, f16, bf16 "
             "take none; fp8_e4m3, fp8_e5m2, int8 take tensor, attn_head, "
             "token; nvfp4 takes group)", kvc_kv_dtype_name(qn->dtype),
             kvc_scale_kind_name(qn->kind));
    if (qn->dtype == KVC_KV_NVFP4 && p->cfg.head_dim % 16 != 0)
        FAIL("kv cache: nvfp4 needs head_dim %% 16 == 0 (groups of 16), "
             "head_dim = %d", p->cfg.head_dim);
    int global = qn->kind == KVC_SCALE_GROUP;
    switch (qn->kind) {
    case KVC_SCALE_TENSOR:
    case KVC_SCALE_GROUP:
        if (check_static_scale(global ? "k_scale (nvfp4 global)" : "k_scale",
                               -1, qn->k_scale, err, errlen) != 0 ||
            check_static_scale(global ? "v_scale (nvfp4 global)" : "v_scale",
                               -1, qn->v_scale, err, errlen) != 0)
            return -1;
        return 0;
    case KVC_SCALE_HEAD:
        return check_head_scales(qn, p->cfg.num_kv_heads, err, errlen);
    default:
        return 0;
    }
}

int kvc_problem_check(const kvc_problem *p, char *err, size_t errlen)
{
    const kvc_config *c = &p->cfg;
    if (p->num_seqs < 0)
        FAIL("num_seqs = %d is negative", p->num_seqs);
    if (c->num_q_heads < 1 || c->num_kv_heads < 1)
        FAIL("head counts Hq = %d, Hkv = %d must be >= 1", c->num_q_heads,
             c->num_kv_heads);
    if (c->num_q_heads % c->num_kv_heads != 0)
        FAIL("Hq = %d is not a multiple of Hkv = %d", c->num_q_heads,
             c->num_kv_heads);
    if (c->head_dim < 1)
        FAIL("head_dim = %d must be >= 1", c->head_dim);
    if (!isfinite(c->scale))
        FAIL("scale = %g is not finite", (double)c->scale);
    if (!isfinite(c->softcap) || c->softcap < 0)
        FAIL("softcap = %g must be finite and >= 0", (double)c->softcap);
    if (c->window_left < KVC_NO_WINDOW)
        FAIL("window_left = %d must be -1 (none) or >= 0", c->window_left);
    if (check_quant(p, err, errlen) != 0)
        return -1;
    if (p->num_seqs > 0 && (!p->ctx_len || !p->q_len || !p->q_start ||
                            !p->kv_start))
        FAIL("problem arrays are not allocated");
    for (int s = 0; s < p->num_seqs; s++) {
        if (p->ctx_len[s] < 0 || p->q_len[s] < 0)
            FAIL("sequence %d: ctx_len = %d, q_len = %d must be >= 0", s,
                 p->ctx_len[s], p->q_len[s]);
        if (p->q_start[s + 1] - p->q_start[s] != p->q_len[s] ||
            p->kv_start[s + 1] - p->kv_start[s] != kvc_kv_len(p, s))
            FAIL("sequence %d: offsets disagree with lengths", s);
    }
    if (p->num_tokens < p->q_start[p->num_seqs])
        FAIL("num_tokens = %lld is less than the %lld sequence tokens",
             (long long)p->num_tokens, (long long)p->q_start[p->num_seqs]);
#undef FAIL
    return 0;
}
