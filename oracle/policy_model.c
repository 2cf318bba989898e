/*
 * policy_model.c — the eviction policies' reference model
 * (policy_model.h): slots simulated one token at a time.
 */
#include "policy_model.h"
#include "model_say.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kvc_policy_model {
    kva_policy_config cfg;
    int64_t next;      /* tokens appended so far */
    int64_t observes;  /* kva_policy_observe calls applied */
    int ring;          /* RECENT: the next ring slot to overwrite */
    int64_t *pos;      /* [H][L] */
    double *score;     /* [H][L] */
};

kvc_policy_model *kvc_policy_model_new(const kva_policy_config *cfg)
{
    if (!cfg || cfg->num_slots < 1 || cfg->num_kv_heads < 1)
        return NULL;
    kvc_policy_model *m = calloc(1, sizeof *m);
    size_t n = (size_t)cfg->num_slots * (size_t)cfg->num_kv_heads;
    if (!m)
        return NULL;
    m->cfg = *cfg;
    m->ring = cfg->sinks;
    m->pos = malloc(sizeof(int64_t) * n);
    m->score = calloc(n, sizeof(double));
    if (!m->pos || !m->score) {
        kvc_policy_model_free(m);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        m->pos[i] = -1;
    return m;
}

void kvc_policy_model_free(kvc_policy_model *m)
{
    if (!m)
        return;
    free(m->pos);
    free(m->score);
    free(m);
}

const int64_t *kvc_policy_model_positions(const kvc_policy_model *m) { return m->pos; }
int64_t kvc_policy_model_next(const kvc_policy_model *m) { return m->next; }
const kva_policy_config *kvc_policy_model_config(const kvc_policy_model *m) { return &m->cfg; }

/* How far an fp32 running sum of k terms may be from the double one:
 * each addition rounds once, by at most 2^-24 of the running value, which
 * never exceeds the final one: k * 2^-24 * |s|, doubled for safety of the
 * bound on intermediate magnitudes. */
static double sum_allowance(int64_t k, double s)
{
    return 2.0 * (double)(k + 1) * 0x1p-24 * fabs(s) + 0x1p-126;
}

/* 1 when head h of the kernel's final positions still holds position p. */
static int kernel_holds(const kvc_policy_model *m, const int64_t *kpos, int h,
                        int64_t p)
{
    for (int j = 0; j < m->cfg.num_slots; j++)
        if (kpos[(int64_t)h * m->cfg.num_slots + j] == p)
            return 1;
    return 0;
}

/* H2O: the victim for position p in head h. Candidates are the tokens
 * older than the kept window; the lowest score wins, the oldest on equal
 * scores. Candidates within the fp32 allowance of the lowest are near
 * ties: then the one the kernel's final state lacks is followed. near[0]
 * counts evictions with near ties, near[1] those where the model followed
 * the kernel to another victim than its own. */
static int h2o_victim(const kvc_policy_model *m, int h, int64_t p,
                      const int64_t *kpos, int64_t *near)
{
    int L = m->cfg.num_slots, best = -1;
    const int64_t *pos = m->pos + (int64_t)h * L;
    const double *sc = m->score + (int64_t)h * L;
    for (int j = 0; j < L; j++) {
        if (pos[j] >= p - m->cfg.recent)
            continue;
        if (best < 0 || sc[j] < sc[best] || (sc[j] == sc[best] && pos[j] < pos[best]))
            best = j;
    }
    if (best < 0)
        return best;
    /* near ties: candidates the fp32 sums cannot tell from the lowest; if
     * the kernel kept the exact victim and lost one of them, follow it */
    int follow = -1, ties = 0;
    for (int j = 0; j < L; j++) {
        if (j == best || pos[j] >= p - m->cfg.recent)
            continue;
        double tol = sum_allowance(m->observes, sc[j]) +
                     sum_allowance(m->observes, sc[best]);
        if (sc[j] - sc[best] > tol)
            continue;
        ties++;
        if (follow < 0 && kpos && kernel_holds(m, kpos, h, pos[best]) &&
            !kernel_holds(m, kpos, h, pos[j]))
            follow = j;
    }
    near[0] += ties > 0;
    near[1] += follow >= 0;
    return follow >= 0 ? follow : best;
}

/* The slot the model gives position p in head h. */
static int model_slot(kvc_policy_model *m, int h, int64_t p,
                      const int64_t *kpos, int64_t *near)
{
    const kva_policy_config *c = &m->cfg;
    switch (c->kind) {
    case KVA_POLICY_RECENT:
        if (p < c->sinks)
            return (int)p;
        return m->ring; /* advanced once per token by the caller */
    case KVA_POLICY_H2O:
        if (p < c->num_slots)
            return (int)p; /* the lowest empty slot: slots fill in order */
        return h2o_victim(m, h, p, kpos, near);
    default:
        return (int)p;
    }
}

static kva_status append_status(const kvc_policy_model *m, int n)
{
    if (n < 0)
        return KVA_ERR_LENGTH;
    if (m->cfg.kind == KVA_POLICY_DENSE && m->next + n > m->cfg.num_slots)
        return KVA_ERR_FULL;
    return KVA_OK;
}

/* Place n tokens (positions next..next+n-1) in the model's slots, token by
 * token; want_slots [n][H] gets each one's slot, -1 when evicted by a later
 * token of the same append. kpos: the kernel's positions to follow on near
 * ties (NULL: the model's own choice). Does not advance next. */
static void place(kvc_policy_model *m, int n, const int64_t *kpos,
                  int64_t *near, int *want_slots)
{
    const kva_policy_config *c = &m->cfg;
    const int H = c->num_kv_heads, L = c->num_slots;
    for (int i = 0; i < n; i++) {
        int64_t p = m->next + i;
        for (int h = 0; h < H; h++) {
            int j = model_slot(m, h, p, kpos, near);
            int64_t *hp = m->pos + (int64_t)h * L;
            if (hp[j] >= m->next) /* evicted by its own append */
                want_slots[(hp[j] - m->next) * H + h] = -1;
            hp[j] = p;
            m->score[(int64_t)h * L + j] = 0.0;
            want_slots[(int64_t)i * H + h] = j;
        }
        if (c->kind == KVA_POLICY_RECENT && p >= c->sinks)
            m->ring = m->ring + 1 == L ? c->sinks : m->ring + 1;
    }
}

int kvc_policy_model_append(kvc_policy_model *m, int n, kva_status got,
                            const int *slots, const int64_t *positions,
                            int64_t near_ties[2], char *why, size_t len)
{
    const kva_policy_config *c = &m->cfg;
    kva_status want = append_status(m, n);
    if (got != want)
        return kvc_model_say(why, len, "append of %d tokens: status %s, the model says %s",
                   n, kvc_model_status_name(got), kvc_model_status_name(want));
    if (want != KVA_OK)
        return 1;
    const int H = c->num_kv_heads, L = c->num_slots;
    size_t ns = (size_t)H * (size_t)L;
    int64_t *pos0 = malloc(sizeof(int64_t) * ns);
    double *sc0 = malloc(sizeof(double) * ns);
    int *want_slots = malloc(sizeof(int) * ((size_t)n * (size_t)H + 1));
    int ring0 = m->ring, ok = 1;
    int64_t near[2] = {0, 0};
    if (!pos0 || !sc0 || !want_slots) {
        ok = kvc_model_say(why, len, "out of memory");
        goto done;
    }
    memcpy(pos0, m->pos, sizeof(int64_t) * ns);
    memcpy(sc0, m->score, sizeof(double) * ns);
    place(m, n, positions, near, want_slots);
    for (int64_t t = 0; ok && t < (int64_t)n * H; t++)
        if (slots[t] != want_slots[t])
            ok = kvc_model_say(why, len, "append: token %" PRId64 " (position %" PRId64
                     ") head %d went to slot %d, the model says %d",
                     t / H, m->next + t / H, (int)(t % H), slots[t],
                     want_slots[t]);
    if (ok) {
        m->next += n;
        near_ties[0] += near[0];
        near_ties[1] += near[1];
    } else { /* unchanged on a failure */
        memcpy(m->pos, pos0, sizeof(int64_t) * ns);
        memcpy(m->score, sc0, sizeof(double) * ns);
        m->ring = ring0;
    }
done:
    free(pos0);
    free(sc0);
    free(want_slots);
    return ok;
}

static kva_status observe_status(const kvc_policy_model *m, const float *w)
{
    size_t ns = (size_t)m->cfg.num_kv_heads * (size_t)m->cfg.num_slots;
    for (size_t i = 0; i < ns; i++)
        if (!(w[i] >= 0.0f) || !isfinite(w[i]))
            return KVA_ERR_PARAM;
    return KVA_OK;
}

int kvc_policy_model_observe(kvc_policy_model *m, const float *w,
                             kva_status got, char *why, size_t len)
{
    size_t ns = (size_t)m->cfg.num_kv_heads * (size_t)m->cfg.num_slots;
    kva_status want = observe_status(m, w);
    if (got != want)
        return kvc_model_say(why, len, "observe: status %s, the model says %s",
                   kvc_model_status_name(got), kvc_model_status_name(want));
    if (want != KVA_OK || m->cfg.kind != KVA_POLICY_H2O)
        return 1;
    for (size_t i = 0; i < ns; i++)
        if (m->pos[i] >= 0)
            m->score[i] += (double)w[i];
    m->observes++;
    return 1;
}

int kvc_policy_model_compare(const kvc_policy_model *m,
                             const int64_t *positions, const float *scores,
                             char *why, size_t len)
{
    int L = m->cfg.num_slots;
    size_t ns = (size_t)m->cfg.num_kv_heads * (size_t)L;
    for (size_t i = 0; i < ns; i++) {
        if (positions[i] != m->pos[i])
            return kvc_model_say(why, len, "head %zu slot %zu holds position %" PRId64
                       ", the model %" PRId64, i / (size_t)L, i % (size_t)L,
                       positions[i], m->pos[i]);
        if (scores && fabs((double)scores[i] - m->score[i]) >
                          sum_allowance(m->observes, m->score[i]))
            return kvc_model_say(why, len, "head %zu slot %zu (position %" PRId64
                       ") has score %.9g, the model %.9g", i / (size_t)L,
                       i % (size_t)L, positions[i], (double)scores[i],
                       m->score[i]);
    }
    return 1;
}

/* ---- the model answering itself ------------------------------------------ */

const double *kvc_policy_model_scores(const kvc_policy_model *m) { return m->score; }

int kvc_policy_model_answer_append(kvc_policy_model *m, int n, kva_status *st,
                                   int *slots)
{
    *st = append_status(m, n);
    if (*st != KVA_OK)
        return 0;
    int64_t near[2] = {0, 0};
    place(m, n, NULL, near, slots);
    m->next += n;
    return 0;
}

kva_status kvc_policy_model_answer_observe(kvc_policy_model *m, const float *w)
{
    kva_status st = observe_status(m, w);
    kvc_policy_model_observe(m, w, st, NULL, 0);
    return st;
}
