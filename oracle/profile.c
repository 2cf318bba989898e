/*
 * profile.c — the naive attention algorithm in a kernel's arithmetic
 * profile (profile.h).
 *
 * The exact reference and the fp32 baseline come from reference.c
 * (kvc_reference_compute_stored), written once. This file then replaces the
 * baseline out32 / lse32 of every non-empty row by the same naive algorithm
 * run in the profile's arithmetic. Every float operation below is one
 * binary32 operation (the file is compiled with -ffp-contract=off, so none
 * is fused); every rounding to a 16-bit type goes through the oracle's own
 * codecs (kv_format.h), never through kernels/.
 */
#include "profile.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROF_FAIL(...)                                                       \
    do {                                                                     \
        if (err && n)                                                        \
            snprintf(err, n, __VA_ARGS__);                                   \
        return -1;                                                           \
    } while (0)

static const char *const profile_names[KVC_PROFILE_COUNT] = {
    "fp32", "half-p", "half-acc"};

const char *kvc_profile_name(kvc_profile prof)
{
    if ((int)prof < 0 || (int)prof >= KVC_PROFILE_COUNT)
        return "?";
    return profile_names[prof];
}

int kvc_profile_parse(const char *s, kvc_profile *prof)
{
    if (!s)
        return -1;
    for (int i = 0; i < KVC_PROFILE_COUNT; i++)
        if (strcmp(s, profile_names[i]) == 0) {
            if (prof)
                *prof = (kvc_profile)i;
            return 0;
        }
    return -1;
}

kvc_kv_dtype kvc_profile_half_type(kvc_kv_dtype cache)
{
    return cache == KVC_KV_F16 ? KVC_KV_F16 : KVC_KV_BF16;
}

/* x rounded to the 16-bit type t (f16 or bf16): RNE, gradual underflow,
 * overflow to +-inf (kv_format.h). The decoded value is exact in float. */
static float round16(kvc_kv_dtype t, float x)
{
    return (float)kvc_decode(t, kvc_encode(t, x));
}

/* ------------------------------------------------------------------------ */
/* One row                                                                  */
/* ------------------------------------------------------------------------ */

/* The inputs of one query row: key c (the c-th visible key) is at
 * k0 + idx[c] * stride, its value at v0 + idx[c] * stride. */
typedef struct prow {
    const float *q;
    const float *k0;
    const float *v0;
    int64_t stride;
    int dim;
    const int *idx;
    int n;
    float scale;
    float cap;
    kvc_profile prof;
    kvc_kv_dtype half; /* half-p: T; half-acc: f16 */
} prow;

typedef struct pscratch {
    int *idx;  /* visible positions, ascending */
    float *x;  /* scores, then unnormalised weights */
    float *qh; /* the rounded query */
} pscratch;

/* The score of key c in fp32 with the rounded query qh: float products and
 * sums in order d = 0..D-1, then scale, then soft-cap (as score32 in
 * reference.c). half-p rounds each key element to T; half-acc reads K as
 * stored. */
static float score(const prow *r, const float *qh, int c)
{
    const float *k = r->k0 + (int64_t)r->idx[c] * r->stride;
    float dot = 0.0f;
    for (int d = 0; d < r->dim; d++) {
        float kd = r->prof == KVC_PROFILE_HALF_P ? round16(r->half, k[d]) : k[d];
        float prod = qh[d] * kd;
        dot += prod;
    }
    float x = r->scale * dot;
    if (r->cap > 0.0f)
        x = r->cap * tanhf(x / r->cap);
    return x;
}

/* Element d of P.V / l. half-p: p and v rounded to T, fp32 accumulation.
 * half-acc: acc = f16(acc + p * v) after every key (ggml_vec_mad_f16). */
static float weigh(const prow *r, const float *w, float l, int d)
{
    float acc = 0.0f;
    for (int c = 0; c < r->n; c++) {
        float vd = r->v0[(int64_t)r->idx[c] * r->stride + d];
        if (r->prof == KVC_PROFILE_HALF_P) {
            float prod = round16(r->half, w[c]) * round16(r->half, vd);
            acc += prod;
        } else {
            float prod = w[c] * vd;
            float sum = acc + prod;
            acc = round16(KVC_KV_F16, sum);
        }
    }
    return acc / l;
}

static void row_profile(const prow *r, pscratch *sc, float *out, float *lse)
{
    for (int d = 0; d < r->dim; d++)
        sc->qh[d] = round16(r->half, r->q[d]);
    for (int c = 0; c < r->n; c++)
        sc->x[c] = score(r, sc->qh, c);
    float l = kvc_softmax32(sc->x, r->n, lse);
    for (int d = 0; d < r->dim; d++)
        out[d] = weigh(r, sc->x, l, d);
}

/* ------------------------------------------------------------------------ */
/* All rows                                                                 */
/* ------------------------------------------------------------------------ */

/* Rows with no visible key keep reference.c's out32 = 0, lse32 = -inf. */
static void profile_all(const kvc_problem *p, const float *k, const float *v,
                        prow *r, pscratch *sc, kvc_reference *ref)
{
    const kvc_config *c = &p->cfg;
    int dim = c->head_dim;
    int group = c->num_q_heads / c->num_kv_heads;
    for (int s = 0; s < p->num_seqs; s++)
        for (int i = 0; i < p->q_len[s]; i++) {
            r->n = kvc_gather_visible(p, s, i, sc->idx);
            if (r->n == 0)
                continue;
            for (int h = 0; h < c->num_q_heads; h++) {
                int64_t row = (p->q_start[s] + i) * c->num_q_heads + h;
                int64_t base = p->kv_start[s] * r->stride +
                               (int64_t)(h / group) * dim;
                r->q = p->q + row * dim;
                r->k0 = k + base;
                r->v0 = v + base;
                row_profile(r, sc, ref->out32 + row * dim, ref->lse32 + row);
            }
        }
}

/* Scratch for the rows, then the rows; -1 when out of memory. */
static int run_profile(const kvc_problem *p, const float *k, const float *v,
                       kvc_profile prof, kvc_reference *ref)
{
    const kvc_config *c = &p->cfg;
    size_t kv = (size_t)kvc_longest_kv_len(p) + 1, dim = (size_t)c->head_dim;
    pscratch sc = {calloc(kv, sizeof(int)), calloc(kv, sizeof(float)),
                   calloc(dim, sizeof(float))};
    int rc = -1;
    if (sc.idx && sc.x && sc.qh) {
        prow r;
        memset(&r, 0, sizeof r);
        r.stride = (int64_t)c->num_kv_heads * c->head_dim;
        r.dim = c->head_dim;
        r.idx = sc.idx;
        r.scale = c->scale;
        r.cap = c->softcap;
        r.prof = prof;
        r.half = prof == KVC_PROFILE_HALF_P
                     ? kvc_profile_half_type(p->quant.dtype)
                     : KVC_KV_F16;
        profile_all(p, k, v, &r, &sc, ref);
        rc = 0;
    }
    free(sc.idx);
    free(sc.x);
    free(sc.qh);
    return rc;
}

int kvc_reference_compute_profile(const kvc_problem *p,
                                  const kvc_kv_store *st, kvc_profile prof,
                                  kvc_reference *out, char *err, size_t n)
{
    if (!out)
        PROF_FAIL("no reference to fill");
    memset(out, 0, sizeof *out);
    if ((int)prof < 0 || (int)prof >= KVC_PROFILE_COUNT)
        PROF_FAIL("unknown arithmetic profile %d", (int)prof);
    if (!p)
        PROF_FAIL("no problem given");
    if (kvc_problem_check(p, err, n) != 0)
        return -1;
    kvc_kv_store own;
    memset(&own, 0, sizeof own);
    if (!st && p->quant.dtype != KVC_KV_F32) {
        if (kvc_kv_store_compute(p, &own, err, n) != 0)
            return -1;
        st = &own;
    }
    int rc = kvc_reference_compute_stored(p, st, out, err, n);
    if (rc == 0 && prof != KVC_PROFILE_FP32) {
        int f32 = p->quant.dtype == KVC_KV_F32;
        rc = run_profile(p, f32 ? p->k : st->k, f32 ? p->v : st->v, prof,
                         out);
        if (rc != 0) {
            kvc_reference_free(out);
            if (err && n)
                snprintf(err, n, "out of memory (profile %s scratch)",
                         kvc_profile_name(prof));
        }
    }
    kvc_kv_store_free(&own);
    return rc;
}
