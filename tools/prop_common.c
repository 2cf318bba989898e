/* prop_common.c — the reference, the windowed one-sequence case and the
 * comparison shared by the tolerance-based properties (prop_internal.h). */
#include "prop_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

uint64_t kvc_prop_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int kvc_prop_pool_small(const kvc_case *c)
{
    return c->layout.pool_elems * kvc_unit_bytes(c->prob.quant.dtype) <=
           KVC_POOL_SPARSE_BYTES;
}

const kvc_reference *kvc_prop_reference(const kvc_case *c, const kvc_kernel *k,
                                        kvc_prop_ref *pr, kvc_result *r)
{
    kva_caps caps;
    kvc_kernel_caps(k, &caps);
    /* as the runner's oracle judge declares it (runner.c) */
    pr->arith.profile = (kvc_profile)caps.profile;
    pr->arith.out_type = caps.out_dtype == KVA_DTYPE_F32   ? KVC_KV_F32
                         : caps.out_dtype == KVA_DTYPE_F16 ? KVC_KV_F16
                                                           : KVC_KV_BF16;
    if (pr->state == 0) {
        pr->state = kvc_reference_compute_profile(&c->prob, NULL,
                                                  pr->arith.profile, &pr->ref,
                                                  pr->err, sizeof pr->err) == 0
                        ? 1
                        : -1;
    }
    if (pr->state < 0) {
        snprintf(r->message, sizeof r->message, "properties: oracle: %.400s",
                 pr->err);
        r->outcome = KVC_FAIL_SETUP;
        return NULL;
    }
    return &pr->ref;
}

void kvc_prop_ref_free(kvc_prop_ref *pr)
{
    if (pr->state == 1)
        kvc_reference_free(&pr->ref);
    pr->state = 0;
}

int kvc_prop_copy_quant(const kvc_problem *p, kvc_problem *o)
{
    const kvc_kv_quant *q = &p->quant;
    if (kvc_problem_set_quant(o, q->dtype, q->kind) != 0)
        return -1;
    o->quant.k_scale = q->k_scale;
    o->quant.v_scale = q->v_scale;
    if (q->kind == KVC_SCALE_HEAD)
        for (int h = 0; h < p->cfg.num_kv_heads; h++) {
            o->quant.k_head_scale[h] = q->k_head_scale[h];
            o->quant.v_head_scale[h] = q->v_head_scale[h];
        }
    return 0;
}

/* The logical tensors of the window. */
static int window_problem(const kvc_problem *p, int s, int a, int b,
                          kvc_problem *o)
{
    int ctx = p->ctx_len[s] + a, kv = ctx + b, kv0 = kvc_kv_len(p, s);
    if (kvc_problem_alloc(o, &p->cfg, 1, &ctx, &b, 0, p->has_mask) != 0 ||
        kvc_prop_copy_quant(p, o) != 0)
        return -1;
    int64_t hq = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t hkv = (int64_t)p->cfg.num_kv_heads * p->cfg.head_dim;
    memcpy(o->q, p->q + (p->q_start[s] + a) * hq, (size_t)(b * hq) * sizeof *o->q);
    memcpy(o->k, p->k + p->kv_start[s] * hkv, (size_t)(kv * hkv) * sizeof *o->k);
    memcpy(o->v, p->v + p->kv_start[s] * hkv, (size_t)(kv * hkv) * sizeof *o->v);
    if (p->has_mask)
        for (int i = 0; i < b; i++)
            memcpy(o->mask + (int64_t)i * kv,
                   p->mask + p->mask_start[s] + (int64_t)(a + i) * kv0,
                   (size_t)kv);
    return 0;
}

void kvc_prop_window_free(kvc_prop_window *w)
{
    kvc_problem_free(&w->c.prob);
    free(w->table);
    free(w->slots);
    free(w->positions);
    free(w->slot_id);
    free(w->row_of_token);
    memset(w, 0, sizeof *w);
}

int kvc_prop_window_make(const kvc_case *c, int s, int a, int b,
                         kvc_prop_window *w)
{
    memset(w, 0, sizeof *w);
    const kvc_layout *l = &c->layout;
    const kvc_problem *p = &c->prob;
    int M = l->max_blocks_per_seq;
    w->c = *c;
    memset(&w->c.prob, 0, sizeof w->c.prob);
    w->table = malloc((size_t)M * sizeof *w->table);
    w->slots = malloc((size_t)(b > 0 ? b : 1) * sizeof *w->slots);
    if (!w->table || !w->slots || window_problem(p, s, a, b, &w->c.prob) != 0) {
        kvc_prop_window_free(w);
        return -1;
    }
    int ctx = p->ctx_len[s] + a;
    w->c.spec.num_seqs = 1;
    w->c.spec.pad_tokens = 0;
    w->c.spec.ctx_len[0] = ctx;
    w->c.spec.q_len[0] = b;
    w->c.layout.block_table = w->table;
    w->c.layout.slot_mapping = w->slots;
    w->c.num_leaks = 0;
    memcpy(w->table, l->block_table + (int64_t)s * M, (size_t)M * sizeof *w->table);
    memcpy(w->slots, l->slot_mapping + p->q_start[s] + a,
           (size_t)b * sizeof *w->slots);
    if (c->spec.mode == KVC_MODE_BLOCKED) {
        /* a one-sequence contiguous cache of the same length */
        w->c.layout.num_blocks = 1;
        w->c.layout.pool_elems = l->stride_block;
        w->c.layout.scale_pool_units = l->scale_stride_block;
        w->table[0] = 0;
        for (int i = 0; i < b; i++)
            w->slots[i] = ctx + i;
    }
    if (c->spec.mode == KVC_MODE_QEFF) {
        int mq = c->qeff.max_q;
        int off = c->spec.qeff_left_pad ? mq - b : 0;
        w->positions = malloc((size_t)(mq > 0 ? mq : 1) * sizeof *w->positions);
        w->slot_id = malloc(sizeof *w->slot_id);
        w->row_of_token = malloc((size_t)(b > 0 ? b : 1) * sizeof *w->row_of_token);
        if (!w->positions || !w->slot_id || !w->row_of_token) {
            kvc_prop_window_free(w);
            return -1;
        }
        for (int j = 0; j < mq; j++)
            w->positions[j] = -1;
        for (int i = 0; i < b; i++) {
            w->positions[off + i] = ctx + i;
            w->row_of_token[i] = off + i;
        }
        w->slot_id[0] = b > 0 ? ctx % l->block_size : 0;
        w->c.qeff.position_ids = w->positions;
        w->c.qeff.slot_id = w->slot_id;
        w->c.qeff.row_of_token = w->row_of_token;
    }
    return 0;
}

int kvc_prop_compare(const kvc_case *c, const kvc_prop_ref *pr,
                     const float *out, const float *lse, int64_t first,
                     const float *vout, const float *vlse, int64_t vfirst,
                     int64_t n, char *msg, size_t msglen)
{
    const kvc_problem *p = &c->prob;
    const kvc_reference *ref = &pr->ref;
    int Hq = p->cfg.num_q_heads, D = p->cfg.head_dim;
    for (int64_t i = 0; i < n; i++) {
        int64_t t = first + i, vt = vfirst + i;
        for (int h = 0; h < Hq; h++) {
            int empty = ref->nvis[t * Hq + h] == 0;
            for (int d = -1; d < D; d++) {
                double a, b, allowed;
                if (d < 0) {
                    if (!lse || !vlse)
                        continue;
                    a = vlse[vt * Hq + h];
                    b = lse[t * Hq + h];
                    allowed = empty ? 0
                                    : kvc_tol_allowed_lse_arith(p, ref, &pr->arith,
                                                                t, h);
                } else {
                    a = vout[(vt * Hq + h) * D + d];
                    b = out[(t * Hq + h) * D + d];
                    allowed = empty ? 0
                                    : kvc_tol_allowed_out_arith(p, ref, &pr->arith,
                                                                t, h, d);
                }
                int ok;
                if (empty)
                    ok = d < 0 ? a == -INFINITY : a == 0;
                else
                    ok = isfinite(b) ? isfinite(a) && fabs(a - b) <= 2 * allowed
                                     : (isnan(a) && isnan(b)) || a == b;
                /* non-finite (special inputs): the same value, bit
                 * patterns aside; the oracle judged it already */
                if (!ok) {
                    char what[32];
                    if (d < 0)
                        snprintf(what, sizeof what, "lse");
                    else
                        snprintf(what, sizeof what, "dim %d", d);
                    snprintf(msg, msglen,
                             "token %lld head %d %s: whole %.9g, here %.9g "
                             "(exact %.9g): |diff| %.3g > 2 x allowed %.3g",
                             (long long)t, h, what, b, a,
                             d < 0 ? ref->lse[t * Hq + h]
                                   : ref->out[(t * Hq + h) * D + d],
                             fabs(a - b), allowed);
                    return 0;
                }
            }
        }
    }
    return 1;
}
