/*
 * planted_profiles.c — test-only kernels in a declared arithmetic profile
 * (planted_profiles.h). Plain C, float arithmetic, no code shared with
 * oracle/profile.c or kernels/.
 */
#include "planted_profiles.h"

#include "../oracle/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keep `bits` significant bits (ties to even), with a subnormal quantum of
 * 2^min_q and overflow to +-inf beyond maxval. */
static float round_bits(float x, int bits, int min_q, float maxval)
{
    if (x == 0.0f || !isfinite(x))
        return x;
    int e;
    frexpf(x, &e); /* |x| in [2^(e-1), 2^e) */
    int quantum = e - bits;
    if (quantum < min_q)
        quantum = min_q;
    float r = ldexpf(rintf(ldexpf(x, -quantum)), quantum);
    return fabsf(r) > maxval ? copysignf(INFINITY, r) : r;
}

float planted_round_f16(float x)
{
    return round_bits(x, 11, -24, 65504.0f);
}

float planted_round_bf16(float x)
{
    /* 8 significant bits, fp32's exponent range; largest 0x1.fep127. */
    return round_bits(x, 8, -133, 0x1.fep127f);
}

static float to_half(kvc_kv_dtype t, float x)
{
    return t == KVC_KV_F16 ? planted_round_f16(x) : planted_round_bf16(x);
}

typedef struct prun {
    const kvc_problem *p;
    planted_kind kind;
    kvc_kv_dtype half;
    int s, i;
    const float *q; /* the query as the kernel uses it */
    const float *k0, *v0;
    int64_t stride;
} prun;

static int sees(const prun *r, int j)
{
    if (kvc_visible(r->p, r->s, r->i, j))
        return 1;
    if (r->kind != PLANTED_MASK_OFF_BY_ONE || !r->p->cfg.causal)
        return 0;
    /* BUG: j <= pos + 1 (the rest of the rule as it is) */
    int64_t pos = (int64_t)r->p->ctx_len[r->s] + r->i;
    if (j != pos + 1 || j >= kvc_kv_len(r->p, r->s))
        return 0;
    const kvc_config *c = &r->p->cfg;
    return c->window_left < 0 || j >= pos - c->window_left;
}

static float score(const prun *r, int j)
{
    const kvc_config *c = &r->p->cfg;
    const float *k = r->k0 + (int64_t)j * r->stride;
    float dot = 0.0f;
    for (int d = 0; d < c->head_dim; d++) {
        float kd = r->kind == PLANTED_HALF_P ? to_half(r->half, k[d]) : k[d];
        dot += r->q[d] * kd;
    }
    float x = c->scale * dot;
    if (c->softcap > 0.0f)
        x = c->softcap * tanhf(x / c->softcap);
    return x;
}

static void run_row(const prun *r, float *out, float *lse)
{
    const kvc_config *c = &r->p->cfg;
    int dim = c->head_dim, kv_len = kvc_kv_len(r->p, r->s);
    float acc[PLANTED_MAX_DIM];
    float x[PLANTED_BLOCK];
    float m = -INFINITY, l = 0.0f;
    memset(acc, 0, sizeof acc);
    for (int j0 = 0; j0 < kv_len; j0 += PLANTED_BLOCK) {
        int j1 = j0 + PLANTED_BLOCK < kv_len ? j0 + PLANTED_BLOCK : kv_len;
        float bm = -INFINITY;
        for (int j = j0; j < j1; j++) {
            x[j - j0] = sees(r, j) ? score(r, j) : -INFINITY;
            if (x[j - j0] > bm)
                bm = x[j - j0];
        }
        if (bm == -INFINITY)
            continue;
        float mnew = m > bm ? m : bm;
        float alpha = m == -INFINITY ? 0.0f : expf(m - mnew);
        l *= alpha;
        for (int d = 0; d < dim; d++) {
            acc[d] *= alpha;
            if (r->kind == PLANTED_HALF_ACC)
                acc[d] = planted_round_f16(acc[d]);
        }
        for (int j = j0; j < j1; j++) {
            if (x[j - j0] == -INFINITY)
                continue;
            float w = expf(x[j - j0] - mnew);
            l += w;
            float wp = r->kind == PLANTED_HALF_P ? to_half(r->half, w) : w;
            const float *v = r->v0 + (int64_t)j * r->stride;
            for (int d = 0; d < dim; d++) {
                float vd = r->kind == PLANTED_HALF_P ? to_half(r->half, v[d])
                                                     : v[d];
                float a = acc[d] + wp * vd;
                acc[d] = r->kind == PLANTED_HALF_ACC ? planted_round_f16(a) : a;
            }
        }
        m = mnew;
    }
    if (l == 0.0f) {
        memset(out, 0, (size_t)dim * sizeof *out);
        *lse = -INFINITY;
        return;
    }
    for (int d = 0; d < dim; d++)
        out[d] = acc[d] / l;
    *lse = m + logf(l);
}

int planted_run(const kvc_problem *p, const float *k, const float *v,
                planted_kind kind, kvc_kv_dtype half, float *out, float *lse)
{
    const kvc_config *c = &p->cfg;
    if (c->head_dim > PLANTED_MAX_DIM)
        return -1;
    int dim = c->head_dim, group = c->num_q_heads / c->num_kv_heads;
    float qh[PLANTED_MAX_DIM];
    prun r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.kind = kind;
    r.half = half;
    r.stride = (int64_t)c->num_kv_heads * dim;
    r.q = qh;
    for (int s = 0; s < p->num_seqs; s++)
        for (int i = 0; i < p->q_len[s]; i++)
            for (int h = 0; h < c->num_q_heads; h++) {
                int64_t row = (p->q_start[s] + i) * c->num_q_heads + h;
                const float *q = p->q + row * dim;
                for (int d = 0; d < dim; d++)
                    qh[d] = kind == PLANTED_HALF_ACC ? planted_round_f16(q[d])
                            : kind == PLANTED_HALF_P ? to_half(half, q[d])
                                                     : q[d];
                r.s = s;
                r.i = i;
                int64_t base = p->kv_start[s] * r.stride +
                               (int64_t)(h / group) * dim;
                r.k0 = k + base;
                r.v0 = v + base;
                run_row(&r, out + row * dim, lse + row);
            }
    return 0;
}
