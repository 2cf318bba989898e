/*
 * values.c — the logical q, k, v of a case, by value family.
 *
 *   NORMAL      N(0,1) everywhere.
 *   UNIFORM     U(-1,1) everywhere.
 *   OUTLIERS    N(0,1) with each entry multiplied by 100 with probability 1%.
 *   NEAR_TIES   one base key per KV head (shared by every sequence); each key
 *               is the base with every element moved by -2..2 ulps, so the
 *               scores of a row tie up to rounding.
 *   EQUAL_KEYS  every key of a KV head is the same vector (all sequences).
 *   ONE_HOT     per (sequence, KV head) one key j* at a random position
 *               (visible to every row when such a position exists) is
 *               lengthened to twice the largest other key norm + 1, and each
 *               row's q is aligned with it (or, for a row that cannot see
 *               j*, with its longest visible key) and scaled so that key's
 *               raw score exceeds every other visible key's by 21.
 *   GROWING     per KV head a unit direction u; q = u + N(0, 0.1^2) and key
 *               j = (delta / scale) (floor(j/T) + 0.5 (j mod T)/T) u + small
 *               noise (moving a score by ~delta/20), so raw scores grow
 *               with j and jump by >= delta/2 at every tile of T keys: the
 *               running max increases in every tile and every rescale is
 *               exercised (delta = clamp(300 / tiles, 0.25, 4)).
 * Padding-token q rows are NaN. With prefix sharing the members' shared
 * positions get the leader's K/V (families that depend on position are
 * written so the copy keeps their property).
 */
#include "gen_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

static float draw_value(gsl_rng *r, kvc_values_kind kind)
{
    if (kind == KVC_VALUES_UNIFORM)
        return (float)gsl_ran_flat(r, -1.0, 1.0);
    double v = gsl_ran_gaussian_ziggurat(r, 1.0);
    if (kind == KVC_VALUES_OUTLIERS && kvcg_chance(r, 0.01))
        v *= 100.0;
    return (float)v;
}

static float nudge_ulps(float v, int n)
{
    for (; n > 0; n--)
        v = nextafterf(v, INFINITY);
    for (; n < 0; n++)
        v = nextafterf(v, -INFINITY);
    return v;
}

static double dot(const float *a, const double *b, int D)
{
    double acc = 0.0;
    for (int d = 0; d < D; d++)
        acc += (double)a[d] * b[d];
    return acc;
}

static double norm_f(const float *a, int D)
{
    double acc = 0.0;
    for (int d = 0; d < D; d++)
        acc += (double)a[d] * a[d];
    return sqrt(acc);
}

static void random_unit(gsl_rng *r, double *u, int D)
{
    double n = 0.0;
    for (int d = 0; d < D; d++) {
        u[d] = gsl_ran_gaussian_ziggurat(r, 1.0);
        n += u[d] * u[d];
    }
    n = sqrt(n);
    if (n == 0.0) {
        u[0] = 1.0;
        n = 1.0;
        for (int d = 1; d < D; d++)
            u[d] = 0.0;
    }
    for (int d = 0; d < D; d++)
        u[d] /= n;
}

static float *krow(kvc_problem *p, int s, int j, int g)
{
    return p->k + ((p->kv_start[s] + j) * p->cfg.num_kv_heads + g) * (int64_t)p->cfg.head_dim;
}

static float *qrow(kvc_problem *p, int s, int i, int h)
{
    return p->q + ((p->q_start[s] + i) * p->cfg.num_q_heads + h) * (int64_t)p->cfg.head_dim;
}

/* Align one row's q with a visible key so that key's raw score exceeds
 * every other visible key's by 21. */
static void one_hot_row(kvc_problem *p, gsl_rng *r, int s, int i, int h,
                        int jstar, double *dir, double *noise, int *vis)
{
    int D = p->cfg.head_dim, G = p->cfg.num_q_heads / p->cfg.num_kv_heads;
    int g = h / G, kv = kvc_kv_len(p, s);
    int n = 0, has_star = 0;
    for (int j = 0; j < kv; j++)
        if (kvcg_visible(p, s, i, j, 1)) {
            vis[n++] = j;
            has_star |= j == jstar;
        }
    if (n == 0)
        return;
    int target = jstar;
    if (!has_star) { /* the longest visible key is a vertex of their hull */
        double best = -1.0;
        for (int t = 0; t < n; t++) {
            double nn = norm_f(krow(p, s, vis[t], g), D);
            if (nn > best) {
                best = nn;
                target = vis[t];
            }
        }
    }
    const float *kt = krow(p, s, target, g);
    double kn = norm_f(kt, D);
    if (kn == 0.0)
        return;
    for (int d = 0; d < D; d++)
        dir[d] = kt[d] / kn;
    if (has_star && D > 1) { /* a little noise off the key's axis */
        random_unit(r, noise, D);
        for (int d = 0; d < D; d++)
            dir[d] += 0.1 * noise[d];
    }
    double top = dot(kt, dir, D), gap = INFINITY;
    for (int t = 0; t < n; t++) {
        if (vis[t] == target)
            continue;
        double gp = top - dot(krow(p, s, vis[t], g), dir, D);
        if (gp < gap)
            gap = gp;
    }
    double sc = fabs((double)p->cfg.scale);
    if (!isfinite(gap))
        gap = fabs(top) > 0 ? fabs(top) : 1.0; /* a single visible key */
    if (gap <= 1e-6 * (1.0 + kn))
        return;
    double alpha = 21.0 / (sc * gap);
    if (alpha > 1e6)
        return;
    if (p->cfg.scale < 0)
        alpha = -alpha;
    float *qv = qrow(p, s, i, h);
    for (int d = 0; d < D; d++)
        qv[d] = (float)(alpha * dir[d]);
}

static int fill_one_hot(kvcg_ctx *x)
{
    kvc_problem *p = &x->c->prob;
    gsl_rng *r = x->rng;
    int D = p->cfg.head_dim, Hkv = p->cfg.num_kv_heads;
    int G = p->cfg.num_q_heads / Hkv, wl = p->cfg.window_left;
    int maxkv = 0;
    for (int s = 0; s < p->num_seqs; s++)
        if (kvc_kv_len(p, s) > maxkv)
            maxkv = kvc_kv_len(p, s);
    double *dir = malloc((size_t)D * 2 * sizeof *dir);
    int *vis = malloc((size_t)(maxkv > 0 ? maxkv : 1) * sizeof *vis);
    if (!dir || !vis) {
        free(dir);
        free(vis);
        return -1;
    }
    double *noise = dir + D;
    for (int s = 0; s < p->num_seqs; s++) {
        int ctx = p->ctx_len[s], q = p->q_len[s], kv = ctx + q;
        if (q == 0 || kv == 0)
            continue;
        /* keys every row can see (ignoring the custom mask) */
        int lo = wl >= 0 ? ctx + q - 1 - wl : 0, hi = p->cfg.causal ? ctx : kv - 1;
        if (lo < 0)
            lo = 0;
        int floor_j = 0;
        if (kvcg_in_shared(x, s, 0)) /* leave the shared prefix alone */
            floor_j = x->share.blocks * x->spec->block_size;
        if (lo < floor_j)
            lo = floor_j;
        for (int g = 0; g < Hkv; g++) {
            int jstar = lo <= hi ? kvcg_int(r, lo, hi) : kvcg_int(r, floor_j, kv - 1);
            double other = 0.0;
            for (int j = 0; j < kv; j++)
                if (j != jstar) {
                    double nn = norm_f(krow(p, s, j, g), D);
                    if (nn > other)
                        other = nn;
                }
            float *ks = krow(p, s, jstar, g);
            double kn = norm_f(ks, D), R = 2.0 * other + 1.0;
            if (kn == 0.0) {
                ks[0] = 1.0f;
                kn = 1.0;
            }
            for (int d = 0; d < D; d++)
                ks[d] = (float)(ks[d] * (R / kn));
            for (int i = 0; i < q; i++)
                for (int h = g * G; h < (g + 1) * G; h++)
                    one_hot_row(p, r, s, i, h, jstar, dir, noise, vis);
        }
    }
    free(dir);
    free(vis);
    return 0;
}

int kvcg_fill_values(kvcg_ctx *x)
{
    kvc_problem *p = &x->c->prob;
    const kvc_case_spec *sp = x->spec;
    gsl_rng *r = x->rng;
    kvc_values_kind kind = sp->values;
    int D = p->cfg.head_dim, Hq = p->cfg.num_q_heads, Hkv = p->cfg.num_kv_heads;
    int S = p->num_seqs;
    int64_t real_q = p->q_start[S] * Hq * D;
    int64_t all_q = p->num_tokens * Hq * D;
    int64_t kv_elems = p->kv_start[S] * Hkv * D;
    /* q and k of the score families are normal; v follows the family where
     * the family is about magnitudes */
    kvc_values_kind qk_kind = (kind == KVC_VALUES_UNIFORM || kind == KVC_VALUES_OUTLIERS)
                                  ? kind : KVC_VALUES_NORMAL;

    for (int64_t e = 0; e < real_q; e++)
        p->q[e] = draw_value(r, qk_kind);
    for (int64_t e = real_q; e < all_q; e++)
        p->q[e] = NAN; /* padding tokens: poison */
    for (int64_t e = 0; e < kv_elems; e++)
        p->v[e] = draw_value(r, qk_kind);

    int growing = kind == KVC_VALUES_GROWING && p->cfg.scale != 0.0f;
    if (kind == KVC_VALUES_NEAR_TIES || kind == KVC_VALUES_EQUAL_KEYS || growing) {
        double *base = malloc((size_t)Hkv * D * sizeof *base);
        if (!base)
            return -1;
        if (growing) {
            for (int g = 0; g < Hkv; g++)
                random_unit(r, base + (int64_t)g * D, D);
        } else {
            for (int64_t e = 0; e < (int64_t)Hkv * D; e++)
                base[e] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
        }
        int T = x->tile, maxkv = 0;
        for (int s = 0; s < S; s++)
            if (kvc_kv_len(p, s) > maxkv)
                maxkv = kvc_kv_len(p, s);
        double tiles = maxkv > 0 ? ceil((double)maxkv / T) : 1.0;
        double delta = 300.0 / tiles;
        delta = delta < 0.25 ? 0.25 : (delta > 4.0 ? 4.0 : delta);
        /* key noise moves a score by about |scale| |q| knoise = delta / 20 */
        double knoise = growing ? 0.05 * delta / (fabs((double)p->cfg.scale) *
                                                  sqrt(1.0 + 0.01 * D)) : 0.0;
        for (int s = 0; s < S; s++) {
            int kv = kvc_kv_len(p, s);
            for (int j = 0; j < kv; j++) {
                /* floor(j/T) + half a step across the tile: every key of a
                 * tile beats every key of the tile before by >= delta/2 */
                double stair = (double)(j / T) + 0.5 * (double)(j % T) / T;
                for (int g = 0; g < Hkv; g++) {
                    float *k = krow(p, s, j, g);
                    const double *b = base + (int64_t)g * D;
                    for (int d = 0; d < D; d++) {
                        if (growing)
                            k[d] = (float)(delta / p->cfg.scale * stair * b[d] +
                                           gsl_ran_gaussian_ziggurat(r, knoise));
                        else if (kind == KVC_VALUES_NEAR_TIES)
                            k[d] = nudge_ulps((float)b[d], kvcg_int(r, -2, 2));
                        else
                            k[d] = (float)b[d];
                    }
                }
            }
            if (growing) { /* queries along u */
                int G = Hq / Hkv;
                for (int i = 0; i < p->q_len[s]; i++)
                    for (int h = 0; h < Hq; h++) {
                        float *qv = qrow(p, s, i, h);
                        const double *b = base + (int64_t)(h / G) * D;
                        for (int d = 0; d < D; d++)
                            qv[d] = (float)(b[d] + gsl_ran_gaussian_ziggurat(r, 0.1));
                    }
            }
        }
        free(base);
    } else {
        for (int64_t e = 0; e < kv_elems; e++)
            p->k[e] = draw_value(r, qk_kind);
    }

    /* prefix sharing: members hold the leader's K/V in the shared blocks */
    if (x->share.active) {
        int L = x->share.leader;
        int64_t rows = (int64_t)x->share.blocks * sp->block_size;
        size_t bytes = (size_t)(rows * Hkv * D) * sizeof(float);
        for (int s = 0; s < S; s++) {
            if (!x->share.member[s] || s == L)
                continue;
            memcpy(p->k + p->kv_start[s] * Hkv * D, p->k + p->kv_start[L] * Hkv * D, bytes);
            memcpy(p->v + p->kv_start[s] * Hkv * D, p->v + p->kv_start[L] * Hkv * D, bytes);
        }
    }

    if (kind == KVC_VALUES_ONE_HOT && p->cfg.scale != 0.0f)
        return fill_one_hot(x);
    return 0;
}
