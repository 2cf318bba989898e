/*
 * key_weights.c — per-key attention weights in double (key_weights.h).
 */
#include "key_weights.h"

#include <math.h>
#include <string.h>

#include "tolerance.h"

/* score of row (s, i), query head hq, key j: scale * q.k over the stored
 * K, soft-capped. */
static double score(const kvc_problem *p, const kvc_kv_store *st, int s,
                    int i, int hq, int j)
{
    const int D = p->cfg.head_dim, Hq = p->cfg.num_q_heads,
              Hkv = p->cfg.num_kv_heads, h = hq / (Hq / Hkv);
    const float *q = p->q + ((p->q_start[s] + i) * Hq + hq) * D;
    const float *k = st->k + ((p->kv_start[s] + j) * Hkv + h) * D;
    double acc = 0.0;
    for (int d = 0; d < D; d++)
        acc += (double)q[d] * (double)k[d];
    double x = (double)p->cfg.scale * acc;
    if (p->cfg.softcap > 0.0f)
        x = (double)p->cfg.softcap * tanh(x / (double)p->cfg.softcap);
    return x;
}

int kvc_key_weights(const kvc_problem *p, const kvc_kv_store *st,
                    const kvc_reference *ref, int s, double *w, double *allow)
{
    if (!p || !st || !ref || !w || s < 0 || s >= p->num_seqs)
        return -1;
    const int Hq = p->cfg.num_q_heads, Hkv = p->cfg.num_kv_heads,
              G = Hq / Hkv, kv = kvc_kv_len(p, s);
    memset(w, 0, sizeof(double) * (size_t)Hkv * (size_t)kv);
    if (allow)
        memset(allow, 0, sizeof(double) * (size_t)Hkv * (size_t)kv);
    for (int i = 0; i < p->q_len[s]; i++) {
        int64_t row = p->q_start[s] + i;
        for (int hq = 0; hq < Hq; hq++) {
            double lse = ref->lse[row * Hq + hq];
            if (!isfinite(lse))
                continue;
            double tol = allow ? kvc_tol_allowed_lse(p, ref, row, hq) : 0.0;
            for (int j = 0; j < kv; j++) {
                if (!kvc_visible(p, s, i, j))
                    continue;
                double pij = exp(score(p, st, s, i, hq, j) - lse);
                int64_t at = (int64_t)(hq / G) * kv + j;
                w[at] += pij / G;
                if (allow)
                    allow[at] += (pij * (2.0 * tol + 0x1p-20) + 0x1p-23) / G;
            }
        }
    }
    if (allow)
        for (int64_t at = 0; at < (int64_t)Hkv * kv; at++)
            allow[at] += (double)p->q_len[s] * G * 0x1p-24 * w[at];
    return 0;
}
