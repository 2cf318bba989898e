/*
 * masks.c — custom masks ([q_len][kv_len] per sequence, 1 = visible).
 *
 *   RANDOM       each entry visible with probability 0.7; in 30% of the
 *                sequences one row is the complement of its causal/window
 *                visibility, so mask AND causal/window leaves that row with
 *                no visible key although the mask row alone is not empty.
 *   FIRST_BLOCK  every key j < T (T = the kernel's block: B, or the BLOCKED
 *                tile) masked in every row, so the online softmax starts
 *                with a running max of -inf; the rest all visible or random.
 *   EMPTY_ROWS   random, and some rows (at least one) entirely zero.
 */
#include "gen_internal.h"

#include <gsl/gsl_randist.h>

void kvcg_fill_masks(kvcg_ctx *x)
{
    kvc_problem *p = &x->c->prob;
    if (!p->has_mask)
        return;
    gsl_rng *r = x->rng;
    int T = x->tile;
    for (int s = 0; s < p->num_seqs; s++) {
        int q = p->q_len[s], kv = kvc_kv_len(p, s);
        if (q == 0 || kv == 0)
            continue;
        uint8_t *m = p->mask + p->mask_start[s];
        switch (x->spec->mask) {
        case KVC_MASK_RANDOM:
            for (int64_t e = 0; e < (int64_t)q * kv; e++)
                m[e] = (uint8_t)gsl_ran_bernoulli(r, 0.7);
            if (kvcg_chance(r, 0.3)) {
                int i = kvcg_int(r, 0, q - 1);
                for (int j = 0; j < kv; j++)
                    m[(int64_t)i * kv + j] = !kvcg_visible(p, s, i, j, 0);
            }
            break;
        case KVC_MASK_FIRST_BLOCK: {
            int dense = kvcg_chance(r, 0.5);
            for (int i = 0; i < q; i++)
                for (int j = 0; j < kv; j++)
                    m[(int64_t)i * kv + j] =
                        j < T ? 0 : (dense ? 1 : (uint8_t)gsl_ran_bernoulli(r, 0.7));
            break;
        }
        case KVC_MASK_EMPTY_ROWS: {
            for (int64_t e = 0; e < (int64_t)q * kv; e++)
                m[e] = (uint8_t)gsl_ran_bernoulli(r, 0.7);
            int any = 0;
            for (int i = 0; i < q; i++) {
                if (kvcg_chance(r, 0.3)) {
                    for (int j = 0; j < kv; j++)
                        m[(int64_t)i * kv + j] = 0;
                    any = 1;
                }
            }
            if (!any) {
                int i = kvcg_int(r, 0, q - 1);
                for (int j = 0; j < kv; j++)
                    m[(int64_t)i * kv + j] = 0;
            }
            break;
        }
        default: /* NONE: has_mask is 0 */
            break;
        }
    }
}
