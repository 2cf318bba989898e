/*
 * policy_ops.c — drawing eviction-policy operations (policy_ops.h).
 */
#include "policy_ops.h"

#include "gen_internal.h"

#include <math.h>
#include <string.h>

void kvc_policy_draw_config(uint64_t seed, kva_policy_config *cfg)
{
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(seed ^ 0x706f6c6963790000ULL));
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = r ? (kva_policy_kind)kvcg_int(r, 0, 2) : KVA_POLICY_H2O;
    cfg->num_slots = r ? (kvcg_chance(r, 0.3) ? kvcg_int(r, 1, 4) : kvcg_int(r, 5, 48)) : 8;
    cfg->num_kv_heads = r ? kvcg_int(r, 1, 4) : 2;
    if (cfg->kind == KVA_POLICY_RECENT && r)
        cfg->sinks = kvcg_chance(r, 0.3) ? 0 : kvcg_int(r, 0, cfg->num_slots - 1);
    if (cfg->kind == KVA_POLICY_H2O && r)
        cfg->recent = kvcg_chance(r, 0.3) ? 0 : kvcg_int(r, 0, cfg->num_slots - 1);
    gsl_rng_free(r);
}

/* One head's weights over its occupied slots: a softmax of random scores
 * times a few queries; some slots exactly equal, some one ulp apart. */
static void draw_weights(gsl_rng *r, int L, const int64_t *pos, float *w)
{
    double z = 0, s[512];
    if (L > 512) /* kvc_policy_draw_config never draws so many */
        L = 512;
    int queries = kvcg_int(r, 1, 4);
    for (int j = 0; j < L && j < 512; j++) {
        s[j] = pos[j] >= 0 ? exp(2.0 * (gsl_rng_uniform(r) - 0.5) * 3) : 0;
        z += s[j];
    }
    for (int j = 0; j < L; j++)
        w[j] = pos[j] >= 0 && z > 0 ? (float)(queries * s[j] / z) : 0.0f;
    if (L >= 2 && kvcg_chance(r, 0.4)) { /* exact and one-ulp ties */
        int a = kvcg_int(r, 0, L - 1), b = kvcg_int(r, 0, L - 1);
        w[b] = kvcg_chance(r, 0.5) ? w[a] : nextafterf(w[a], 1.0f);
        if (pos[b] < 0)
            w[b] = 0.0f;
    }
}

int kvc_policy_draw_op(uint64_t seed, uint64_t step,
                       const kva_policy_config *cfg, const int64_t *positions,
                       kvc_policy_op *op)
{
    gsl_rng *r = kvcg_rng_new(kvcg_splitmix64(seed ^ kvcg_splitmix64(step + 1)));
    if (!r)
        return -1;
    int L = cfg->num_slots, H = cfg->num_kv_heads;
    op->n = 0;
    /* a full dense cache mostly stops growing (an engine would end the
     * sequence), so that refusals stay events */
    int64_t used = 0;
    for (int j = 0; j < L; j++)
        used += positions[j] >= 0;
    int dense_full = cfg->kind == KVA_POLICY_DENSE && used == L && kvcg_chance(r, 0.9);
    if ((cfg->kind == KVA_POLICY_H2O && kvcg_chance(r, 0.45)) || dense_full) {
        op->kind = KVC_POLICY_OBSERVE;
        for (int h = 0; h < H; h++)
            draw_weights(r, L, positions + (int64_t)h * L, op->weights + (int64_t)h * L);
        if (kvcg_chance(r, 0.02)) /* must be refused */
            op->weights[kvcg_int(r, 0, H * L - 1)] = kvcg_chance(r, 0.5) ? -1.0f : NAN;
    } else {
        op->kind = KVC_POLICY_APPEND;
        static const double w[] = {0.7, 0.2, 0.08, 0.02};
        switch (kvcg_pick(r, w, 4)) {
        case 0: op->n = 1; break;                        /* decode */
        case 1: op->n = kvcg_int(r, 2, L + 1); break;     /* a chunk */
        case 2: op->n = kvcg_int(r, L, 2 * L + 3); break; /* longer than L */
        default: op->n = kvcg_chance(r, 0.5) ? -1 : 0; break;
        }
    }
    gsl_rng_free(r);
    return 0;
}
