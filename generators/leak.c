/*
 * leak.c — leak-sensitive inputs: keys that a query must not see are given
 * a raw score that would dominate that query's row, so a one-position error
 * in a causal, window or mask test moves the output by O(1).
 *
 * Boosted keys (the targets), per sequence with q_len > 0 and per KV head,
 * each for one random query head of the head's group:
 *   - causal, q_len > 1: the first future key p + 1 of a random row (the
 *     off-by-one of j <= p), and a random future key of another random row;
 *   - sliding window: the key p - window_left - 1 just outside the window
 *     of up to two random rows (where that position exists);
 *   - custom mask: up to two keys masked by the mask although causality and
 *     the window would show them.
 * Keys in a shared prefix are never boosted (the members' copies must stay
 * identical).
 *
 * Boost: k_j += t q_row, with t chosen so that the target's raw score
 * scale * q.k_j reaches m + 20.5, m being the row's largest visible raw
 * score (0 for a row with no visible key). A boost can raise another row's
 * maximum, so up to four passes re-boost; then every target is checked once
 * more and only those whose key exceeds its row's maximum by >= 20 are
 * kept. The key may be visible to other rows (e.g. p + 1 to the row at
 * p + 1), where it is an ordinary large score. With soft-capping the +20
 * holds before the cap.
 *
 * A reduced-precision cache changes the keys a kernel sees: saturation
 * (a tiny static scale) or underflow can shrink a boosted key's lead to
 * nothing. So once the static scales are final, kvcg_record_leaks checks
 * every target again on the *stored* keys (fp32(decode(code) * scale),
 * computed by the oracle's store, oracle/kv_store.h, from the format's
 * written rules) and keeps in kvc_case.leaks, hence in the flag
 * leak_sensitive, only those that lead by >= 20 there too (so the record is
 * exactly true of what a kernel computes on).
 */
#include "gen_internal.h"

#include <math.h>
#include <stdio.h>

#include "../oracle/kv_store.h"

static void add_target(kvcg_ctx *x, int s, int i, int g, int j)
{
    kvc_case *c = x->c;
    if (c->num_leaks >= KVC_MAX_LEAKS || kvcg_in_shared(x, s, j))
        return;
    int G = c->prob.cfg.num_q_heads / c->prob.cfg.num_kv_heads;
    kvc_leak *L = &c->leaks[c->num_leaks++];
    L->seq = s;
    L->token = i;
    L->head = g * G + kvcg_int(x->rng, 0, G - 1);
    L->key = j;
}

static double row_ref(const kvc_problem *p, const kvc_leak *L)
{
    int n = 0;
    double m = kvcg_row_max(p, L->seq, L->token, L->head, &n);
    return n > 0 ? m : 0.0;
}

/* Boost one target if it falls short; returns 1 when it changed a key. */
static int boost(kvc_problem *p, const kvc_leak *L)
{
    double need = row_ref(p, L) + 20.5;
    double cur = kvcg_raw_score(p, L->seq, L->token, L->head, L->key);
    if (cur >= need)
        return 0;
    int D = p->cfg.head_dim, G = p->cfg.num_q_heads / p->cfg.num_kv_heads;
    const float *qv = p->q + ((p->q_start[L->seq] + L->token) * p->cfg.num_q_heads + L->head) * (int64_t)D;
    float *kv = p->k + ((p->kv_start[L->seq] + L->key) * p->cfg.num_kv_heads + L->head / G) * (int64_t)D;
    double qq = 0.0;
    for (int d = 0; d < D; d++)
        qq += (double)qv[d] * qv[d];
    if (!(qq > 0.0) || !isfinite(qq))
        return 0;
    /* scale * q.(k + t q) = cur + t scale qq; a little slack for rounding */
    double t = (need - cur) * (1.0 + 1e-6) / ((double)p->cfg.scale * qq);
    for (int d = 0; d < D; d++)
        kv[d] = (float)((double)kv[d] + t * qv[d]);
    return 1;
}

/* Keep (in order) the targets whose key leads its row by >= 20 in the keys
 * of p; clear the rest. */
static void keep_holding(kvc_case *c, const kvc_problem *p)
{
    int kept = 0;
    for (int t = 0; t < c->num_leaks; t++) {
        const kvc_leak *L = &c->leaks[t];
        double cur = kvcg_raw_score(p, L->seq, L->token, L->head, L->key);
        if (cur >= row_ref(p, L) + 20.0)
            c->leaks[kept++] = *L;
    }
    for (int t = kept; t < c->num_leaks; t++)
        c->leaks[t] = (kvc_leak){0, 0, 0, 0};
    c->num_leaks = kept;
}

void kvcg_boost_leaks(kvcg_ctx *x)
{
    kvc_case *c = x->c;
    kvc_problem *p = &c->prob;
    gsl_rng *r = x->rng;
    c->num_leaks = 0;
    if (p->cfg.scale == 0.0f)
        return; /* every score is 0: nothing can dominate */
    int wl = p->cfg.window_left;
    for (int s = 0; s < p->num_seqs; s++) {
        int ctx = p->ctx_len[s], q = p->q_len[s], kv = ctx + q;
        if (q == 0 || kv == 0)
            continue;
        for (int g = 0; g < p->cfg.num_kv_heads; g++) {
            if (p->cfg.causal && q > 1) {
                int i = kvcg_int(r, 0, q - 2);
                add_target(x, s, i, g, ctx + i + 1);
                i = kvcg_int(r, 0, q - 2);
                add_target(x, s, i, g, kvcg_int(r, ctx + i + 1, kv - 1));
            }
            if (wl >= 0) {
                int found = 0;
                for (int t = 0; t < 8 && found < 2; t++) {
                    int i = kvcg_int(r, 0, q - 1);
                    int64_t j = (int64_t)ctx + i - wl - 1;
                    if (j >= 0) {
                        add_target(x, s, i, g, (int)j);
                        found++;
                    }
                }
            }
            if (p->has_mask) {
                int found = 0;
                for (int t = 0; t < 16 && found < 2; t++) {
                    int i = kvcg_int(r, 0, q - 1), j = kvcg_int(r, 0, kv - 1);
                    if (kvcg_visible(p, s, i, j, 0) && !kvcg_visible(p, s, i, j, 1)) {
                        add_target(x, s, i, g, j);
                        found++;
                    }
                }
            }
        }
    }
    for (int pass = 0; pass < 4; pass++) {
        int changed = 0;
        for (int t = 0; t < c->num_leaks; t++)
            changed |= boost(p, &c->leaks[t]);
        if (!changed)
            break;
    }
    keep_holding(c, p);
}

void kvcg_record_leaks(kvcg_ctx *x)
{
    kvc_case *c = x->c;
    if (c->num_leaks == 0)
        return;
    if (c->prob.quant.dtype == KVC_KV_F32) {
        /* f32 stores the logical keys, but special inputs (special.c) may
         * have overwritten some after boosting */
        keep_holding(c, &c->prob);
        return;
    }
    kvc_kv_store st;
    char err[160];
    if (kvc_kv_store_compute(&c->prob, &st, err, sizeof err) != 0) {
        /* out of memory, or a problem kvc_case_build then refuses with its
         * own message: record no leak rather than an unchecked one */
        for (int t = 0; t < c->num_leaks; t++)
            c->leaks[t] = (kvc_leak){0, 0, 0, 0};
        c->num_leaks = 0;
        return;
    }
    kvc_problem stored = c->prob; /* a view: the same tensors, stored keys */
    stored.k = st.k;
    keep_holding(c, &stored);
    kvc_kv_store_free(&st);
}
