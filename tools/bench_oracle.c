/*
 * bench_oracle.c — the same decode or prefill problem on the oracle: a
 * kvc_problem with the values bench_attn_setup wrote (bench_fill_row),
 * the same cache format and static scales. The oracle's model of the
 * cache (kv_store.h, the encoding) is built once outside the timing, as
 * the kernel's cache write is; kvc_reference_compute_stored is timed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/reference.h"
#include "bench.h"

typedef struct oracle_ctx {
    const kvc_problem *p;
    const kvc_kv_store *st;
    kvc_reference ref;
    int have_ref;
    char err[256];
} oracle_ctx;

static int oracle_run(void *arg)
{
    oracle_ctx *o = arg;
    if (o->have_ref)
        kvc_reference_free(&o->ref);
    o->have_ref = 0;
    if (kvc_reference_compute_stored(o->p, o->st, &o->ref, o->err,
                                     sizeof o->err) != 0)
        return 1;
    o->have_ref = 1;
    return 0;
}

static int build_problem(kvc_problem *p, const bench_attn *a,
                         bench_format f, int keys, int batch, int prefill)
{
    kvc_config cfg = {.num_q_heads = BENCH_HQ,
                      .num_kv_heads = BENCH_HKV,
                      .head_dim = BENCH_D,
                      .scale = a->params.scale,
                      .softcap = 0.0f,
                      .causal = 1,
                      .window_left = KVC_NO_WINDOW};
    int seqs = prefill ? 1 : batch;
    int *ctx = malloc(sizeof *ctx * (size_t)seqs);
    int *ql = malloc(sizeof *ql * (size_t)seqs);
    int rc = -1;
    if (!ctx || !ql)
        goto out;
    for (int s = 0; s < seqs; s++) {
        ctx[s] = prefill ? 0 : keys - 1;
        ql[s] = prefill ? keys : 1;
    }
    if (kvc_problem_alloc(p, &cfg, seqs, ctx, ql, 0, 0) != 0)
        goto out;
    if (kvc_problem_set_quant(p, f.dtype, (kvc_scale_kind)f.kind) != 0) {
        kvc_problem_free(p);
        goto out;
    }
    if (f.kind == KVA_SCALE_TENSOR || f.kind == KVA_SCALE_GROUP) {
        p->quant.k_scale = a->cache.scales.k_tensor;
        p->quant.v_scale = a->cache.scales.v_tensor;
    }
    /* Token rows are in batch order in both. */
    memcpy(p->q, a->q, sizeof(float) * (size_t)a->num_tokens * BENCH_HQ *
                           BENCH_D);
    for (int s = 0; s < seqs; s++)
        for (int j = 0; j < keys; j++)
            for (int h = 0; h < BENCH_HKV; h++) {
                size_t off = ((size_t)(p->kv_start[s] + j) * BENCH_HKV + h) *
                             BENCH_D;
                bench_fill_row(1, s, j, h, p->k + off, BENCH_D);
                bench_fill_row(2, s, j, h, p->v + off, BENCH_D);
            }
    rc = 0;
out:
    free(ctx);
    free(ql);
    return rc;
}

int bench_oracle_time(const bench_attn *a, bench_format f, int keys,
                      int batch, int prefill, int reps, double min_time,
                      double max_time, bench_timing *t, double *max_diff, char *err,
                      size_t errlen)
{
    kvc_problem p;
    memset(&p, 0, sizeof p);
    if (build_problem(&p, a, f, keys, batch, prefill) != 0) {
        snprintf(err, errlen, "oracle: out of memory");
        return -1;
    }
    kvc_kv_store st;
    memset(&st, 0, sizeof st);
    oracle_ctx o = {.p = &p, .st = &st};
    int rc = -1;
    if (kvc_problem_check(&p, err, errlen) != 0 ||
        kvc_kv_store_compute(&p, &st, err, errlen) != 0)
        goto out;
    /* No warm-up: the oracle's calls are long; its first is a sample. */
    if (bench_time(oracle_run, &o, reps, min_time, max_time, 0, t) != 0) {
        snprintf(err, errlen, "oracle: %s", o.err[0] ? o.err : "out of memory");
        goto out;
    }
    double worst = 0;
    size_t n = (size_t)o.ref.rows * BENCH_HQ * BENCH_D;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a->out[i] - o.ref.out[i]);
        if (!(d <= worst)) /* NaN sticks */
            worst = d;
    }
    *max_diff = worst;
    rc = 0;
out:
    if (o.have_ref)
        kvc_reference_free(&o.ref);
    kvc_kv_store_free(&st);
    kvc_problem_free(&p);
    return rc;
}
