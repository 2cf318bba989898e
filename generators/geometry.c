/* geometry.c — tile size, visibility and raw scores as the generators see
 * them (written from problem.h's definition; the generators never call the
 * oracle or a kernel). */
#include "gen_internal.h"

#include <math.h>

int kvcg_tile(const kvc_case_spec *s)
{
    if (s->mode == KVC_MODE_BLOCKED) {
        int cl = s->cache_len > 0 ? s->cache_len : 1;
        int nkb = s->num_kv_blocks > 0 ? s->num_kv_blocks : 1;
        return (cl + nkb - 1) / nkb;
    }
    return s->block_size > 0 ? s->block_size : 1;
}

int kvcg_visible(const kvc_problem *p, int s, int i, int j, int use_mask)
{
    int64_t pos = (int64_t)p->ctx_len[s] + i;
    if (p->cfg.causal && j > pos)
        return 0;
    if (p->cfg.window_left >= 0 && j < pos - p->cfg.window_left)
        return 0;
    if (use_mask && p->has_mask) {
        int64_t kv = kvc_kv_len(p, s);
        if (!p->mask[p->mask_start[s] + (int64_t)i * kv + j])
            return 0;
    }
    return 1;
}

double kvcg_raw_score(const kvc_problem *p, int s, int i, int h, int j)
{
    int D = p->cfg.head_dim;
    int G = p->cfg.num_q_heads / p->cfg.num_kv_heads;
    const float *q = p->q + ((p->q_start[s] + i) * p->cfg.num_q_heads + h) * (int64_t)D;
    const float *k = p->k + ((p->kv_start[s] + j) * p->cfg.num_kv_heads + h / G) * (int64_t)D;
    double acc = 0.0;
    for (int d = 0; d < D; d++)
        acc += (double)q[d] * (double)k[d];
    return (double)p->cfg.scale * acc;
}

double kvcg_row_max(const kvc_problem *p, int s, int i, int h, int *nvis)
{
    int kv = kvc_kv_len(p, s);
    double m = -INFINITY;
    int n = 0;
    for (int j = 0; j < kv; j++) {
        if (!kvcg_visible(p, s, i, j, 1))
            continue;
        double x = kvcg_raw_score(p, s, i, h, j);
        if (x > m)
            m = x;
        n++;
    }
    if (nvis)
        *nvis = n;
    return m;
}
