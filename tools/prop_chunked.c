/* prop_chunked.c — chunked prefill and decode steps against the whole
 * prefill (properties.h). */
#include "prop_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pick-th (drawn from st) sequence with at least two new tokens, or
 * -1. */
static int pick_seq(const kvc_case *c, uint64_t *st)
{
    const kvc_problem *p = &c->prob;
    int n = 0;
    for (int s = 0; s < p->num_seqs; s++)
        n += p->q_len[s] >= 2;
    if (n == 0)
        return -1;
    int pick = (int)(kvc_prop_mix(st) % (uint64_t)n);
    for (int s = 0; s < p->num_seqs; s++)
        if (p->q_len[s] >= 2 && pick-- == 0)
            return s;
    return -1;
}

/* Splitting new tokens into separate runs is the same problem only when a
 * query never sees a later new token: causal attention. */
static int applies(const kvc_case *c)
{
    return c->prob.cfg.causal && c->prob.num_seqs > 0 && kvc_prop_pool_small(c);
}

/* Run new tokens [a, a + b) of sequence s as their own kernel call and
 * compare their rows with the whole run's. KVC_PASS, `fail` with the
 * message `what: ...` in r, or a setup failure. */
static kvc_outcome run_window(const kvc_case *c, const kvc_kernel *k, int s,
                              int a, int b, const float *out, const float *lse,
                              const kvc_prop_ref *pr, kvc_outcome fail,
                              const char *what, kvc_result *r)
{
    kvc_prop_window w;
    if (kvc_prop_window_make(c, s, a, b, &w) != 0) {
        snprintf(r->message, sizeof r->message, "%s: out of memory", what);
        return r->outcome = KVC_FAIL_SETUP;
    }
    float *vout, *vlse;
    int64_t vrows;
    kvc_result vr;
    kvc_outcome o = kvc_run_outputs(&w.c, k, NULL, &vout, &vlse, &vrows, &vr);
    char msg[400];
    if (o != KVC_PASS) {
        snprintf(r->message, sizeof r->message, "%.200s: %s: %.250s", what,
                 kvc_outcome_name(o), vr.message);
        o = fail;
    } else if (!kvc_prop_compare(c, pr, out, lse, c->prob.q_start[s] + a, vout,
                                 vlse, 0, b, msg, sizeof msg)) {
        snprintf(r->message, sizeof r->message, "%.200s: %.300s", what, msg);
        o = fail;
    }
    free(vout);
    free(vlse);
    kvc_prop_window_free(&w);
    if (o != KVC_PASS)
        r->outcome = o;
    return o;
}

/* The tile a kernel walks the keys by: B (paged, QEfficient), or
 * ceil(CL / num_kv_blocks) (blocked). */
static int tile_of(const kvc_case *c)
{
    if (c->spec.mode != KVC_MODE_BLOCKED)
        return c->layout.block_size;
    int nkb = c->spec.num_kv_blocks > 0 ? c->spec.num_kv_blocks : 1;
    return (c->layout.block_size + nkb - 1) / nkb;
}

/* Interior cut points 0 < cuts[0] < ... < n of n new tokens after ctx:
 * one or two, each either anywhere or where the chunk ends on a tile
 * boundary (ctx + cut a multiple of the tile). Returns how many. */
static int draw_cuts(uint64_t *st, int ctx, int n, int tile, int cuts[2])
{
    int want = n >= 3 && kvc_prop_mix(st) % 2 ? 2 : 1, got = 0;
    for (int i = 0; i < want; i++) {
        uint64_t r = kvc_prop_mix(st);
        int x = 1 + (int)((r >> 8) % (uint64_t)(n - 1));
        if (r % 2 && tile > 0) { /* end the chunk on a tile boundary */
            int64_t e = ((int64_t)ctx + x + tile - 1) / tile * tile;
            if (e - ctx >= n)
                e = ((int64_t)ctx + x) / tile * tile;
            if (e - ctx >= 1 && e - ctx <= n - 1)
                x = (int)(e - ctx);
        }
        cuts[got++] = x;
    }
    if (got == 2) {
        if (cuts[0] > cuts[1]) {
            int t = cuts[0];
            cuts[0] = cuts[1];
            cuts[1] = t;
        }
        if (cuts[0] == cuts[1])
            got = 1;
    }
    return got;
}

kvc_outcome kvc_prop_chunked_prefill_ref(const kvc_case *c,
                                         const kvc_kernel *k, const float *out,
                                         const float *lse, kvc_prop_ref *pr,
                                         kvc_result *r)
{
    if (!applies(c))
        return KVC_PASS;
    uint64_t st = c->value_seed ^ 0x4348554E4B4544ULL; /* "CHUNKED" */
    int s = pick_seq(c, &st);
    if (s < 0)
        return KVC_PASS;
    if (!kvc_prop_reference(c, k, pr, r))
        return r->outcome;
    const kvc_problem *p = &c->prob;
    int ctx = p->ctx_len[s], n = p->q_len[s];
    int cuts[4];
    int nc = draw_cuts(&st, ctx, n, tile_of(c), cuts + 1);
    cuts[0] = 0;
    cuts[nc + 1] = n;
    char plan[64] = "", what[200];
    for (int i = 0; i <= nc; i++) {
        size_t len = strlen(plan);
        snprintf(plan + len, sizeof plan - len, "%s%d", i ? "+" : "",
                 cuts[i + 1] - cuts[i]);
    }
    for (int i = 0; i <= nc; i++) {
        int a = cuts[i], b = cuts[i + 1] - cuts[i];
        snprintf(what, sizeof what,
                 "sequence %d (ctx %d, %d new tokens) prefilled in chunks %s: "
                 "chunk of tokens %d..%d",
                 s, ctx, n, plan, a, a + b - 1);
        kvc_outcome o = run_window(c, k, s, a, b, out, lse, pr,
                                   KVC_FAIL_PROP_CHUNKED, what, r);
        if (o != KVC_PASS)
            return o;
    }
    return KVC_PASS;
}

kvc_outcome kvc_prop_decode_steps_ref(const kvc_case *c, const kvc_kernel *k,
                                      const float *out, const float *lse,
                                      kvc_prop_ref *pr, kvc_result *r)
{
    if (!applies(c))
        return KVC_PASS;
    uint64_t st = c->value_seed ^ 0x4445434F4445ULL; /* "DECODE" */
    int s = pick_seq(c, &st);
    if (s < 0)
        return KVC_PASS;
    if (!kvc_prop_reference(c, k, pr, r))
        return r->outcome;
    const kvc_problem *p = &c->prob;
    int ctx = p->ctx_len[s], n = p->q_len[s];
    int steps = 2 + (int)(kvc_prop_mix(&st) % 3);
    if (steps > n)
        steps = n;
    char what[200];
    for (int t = n - steps; t < n; t++) {
        snprintf(what, sizeof what,
                 "sequence %d (ctx %d, %d new tokens): new token %d as a "
                 "decode step (ctx %d, q_len 1)",
                 s, ctx, n, t, ctx + t);
        kvc_outcome o = run_window(c, k, s, t, 1, out, lse, pr,
                                   KVC_FAIL_PROP_DECODE, what, r);
        if (o != KVC_PASS)
            return o;
    }
    return KVC_PASS;
}
