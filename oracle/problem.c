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
    return 0;
}

int kvc_problem_check(const kvc_problem *p, char *err, size_t errlen)
{
    const kvc_config *c = &p->cfg;
#define FAIL(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)
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
