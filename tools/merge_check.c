/* merge_check.c — kva_merge_states against the oracle (merge_check.h). */
#include "merge_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../oracle/merge.h"
#include "../oracle/reference.h"
#include "guard.h"

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Cut points 0 = cuts[0] <= ... <= cuts[parts] = n of one sequence's n
 * keys; interior cuts anywhere in [0, n], a third of them pinned to 0 or
 * n, so empty parts come often (equal cuts make them too). */
static void draw_cuts(uint64_t *st, int n, int parts,
                      int cuts[KVC_MERGE_MAX_PARTS + 1])
{
    cuts[0] = 0;
    for (int i = 1; i < parts; i++) {
        uint64_t r = mix(st);
        switch (r % 6) {
        case 0: cuts[i] = 0; break;
        case 1: cuts[i] = n; break;
        default: cuts[i] = (int)((r >> 8) % (uint64_t)(n + 1)); break;
        }
    }
    cuts[parts] = n;
    qsort(cuts + 1, (size_t)(parts - 1), sizeof cuts[0], cmp_int);
}

/* p with an extra custom mask: only keys [lo[s], hi[s]) of sequence s. */
static int part_problem(const kvc_problem *p, const int *lo, const int *hi,
                        kvc_problem *out)
{
    const kvc_config *cfg = &p->cfg;
    int S = p->num_seqs;
    if (kvc_problem_alloc(out, cfg, S, p->ctx_len, p->q_len,
                          p->num_tokens - p->q_start[S], 1) != 0)
        return -1;
    memcpy(out->q, p->q, (size_t)(p->num_tokens * cfg->num_q_heads *
                                  cfg->head_dim) * sizeof(float));
    size_t kv = (size_t)(p->kv_start[S] * cfg->num_kv_heads * cfg->head_dim);
    memcpy(out->k, p->k, kv * sizeof(float));
    memcpy(out->v, p->v, kv * sizeof(float));
    if (kvc_problem_set_quant(out, p->quant.dtype, p->quant.kind) != 0) {
        kvc_problem_free(out);
        return -1;
    }
    out->quant.k_scale = p->quant.k_scale;
    out->quant.v_scale = p->quant.v_scale;
    if (p->quant.k_head_scale && out->quant.k_head_scale) {
        memcpy(out->quant.k_head_scale, p->quant.k_head_scale,
               (size_t)cfg->num_kv_heads * sizeof(float));
        memcpy(out->quant.v_head_scale, p->quant.v_head_scale,
               (size_t)cfg->num_kv_heads * sizeof(float));
    }
    for (int s = 0; s < S; s++) {
        int n = kvc_kv_len(p, s);
        for (int i = 0; i < p->q_len[s]; i++)
            for (int j = 0; j < n; j++) {
                int64_t at = (int64_t)i * n + j;
                int base = p->has_mask ? p->mask[p->mask_start[s] + at] != 0 : 1;
                out->mask[out->mask_start[s] + at] =
                    (uint8_t)(base && j >= lo[s] && j < hi[s]);
            }
    }
    return 0;
}

/* One merged value against the oracle: err / allowed (0/0 = 0; a
 * non-finite value passes only as the exact -inf of an empty row). */
static double value_ratio(double got, double want, double allowed)
{
    if (!isfinite(got) || !isfinite(want))
        return got == want ? 0.0 : INFINITY;
    double err = fabs(got - want);
    if (err == 0.0)
        return 0.0;
    return allowed > 0.0 ? err / allowed : INFINITY;
}

typedef struct merge_in {
    int parts;
    kvc_reference ref[KVC_MERGE_MAX_PARTS];
    const float *out[KVC_MERGE_MAX_PARTS], *lse[KVC_MERGE_MAX_PARTS];
} merge_in;

static kvc_outcome judge_row(const merge_in *m, const kvc_reference *full,
                             int64_t row, const float *out, const float *lse,
                             kvc_result *r)
{
    int D = full->head_dim;
    double lrow[KVC_MERGE_MAX_PARTS];
    const double *pout[KVC_MERGE_MAX_PARTS];
    for (int p = 0; p < m->parts; p++) {
        lrow[p] = m->ref[p].lse[row];
        pout[p] = m->ref[p].out;
    }
    /* the allowance of oracle/merge.h (tolerance.md, "Merging partial
     * states"), against the oracle's attention over all the keys; plus that
     * reference's own double rounding, (n + 8) 2^-52 of its magnitudes:
     * parts that cancel exactly give a merge of exactly 0 where the double
     * sum over all keys leaves ~1e-18 (measured: seed 1, case 7263, nvfp4
     * with saturating scales) */
    double ref_eps = (full->nvis[row] + 8.0) * 0x1p-52;
    for (int d = 0; d < D; d++) {
        double want = full->out[row * D + d];
        double allowed = kvc_merge_allowed_out(pout, lrow, m->parts, row, D, d,
                                               full->lse[row]);
        if (full->nvis[row])
            allowed += ref_eps * full->absw[row * D + d];
        double q = value_ratio(out[row * D + d], want, allowed);
        if (q > KVC_TOL_THRESHOLD) {
            snprintf(r->message, sizeof r->message,
                     "kva_merge_states of %d parts: out[row %lld, dim %d]: "
                     "got %.9g want %.9g allowed %.3g ratio %.3g", m->parts,
                     (long long)row, d, (double)out[row * D + d], want,
                     allowed, q);
            return r->outcome = KVC_FAIL_MERGE;
        }
    }
    double want = full->lse[row];
    double allowed = kvc_merge_allowed_lse(lrow, m->parts, want);
    if (full->nvis[row])
        allowed += ref_eps * (1.0 + fabs(want));
    double q = value_ratio(lse[row], want, allowed);
    if (q > KVC_TOL_THRESHOLD) {
        snprintf(r->message, sizeof r->message,
                 "kva_merge_states of %d parts: lse[row %lld]: got %.9g want "
                 "%.9g allowed %.3g ratio %.3g", m->parts, (long long)row,
                 (double)lse[row], want, allowed, q);
        return r->outcome = KVC_FAIL_MERGE;
    }
    return KVC_PASS;
}

/* The parts' states as the kernel gets them: fp32, guarded inputs. */
static int part_states(const kvc_case *c, merge_in *m, kvc_guard_set *g,
                       char *err, size_t n)
{
    const kvc_problem *p = &c->prob;
    int S = p->num_seqs;
    int cuts[KVC_MAX_SEQS][KVC_MERGE_MAX_PARTS + 1];
    uint64_t st = c->value_seed ^ 0x4d45524745ULL; /* "MERGE" */
    m->parts = 1 + (int)(mix(&st) % KVC_MERGE_MAX_PARTS);
    for (int s = 0; s < S && s < KVC_MAX_SEQS; s++)
        draw_cuts(&st, kvc_kv_len(p, s), m->parts, cuts[s]);
    int64_t rows = p->q_start[S] * p->cfg.num_q_heads;
    int D = p->cfg.head_dim;
    for (int k = 0; k < m->parts; k++) {
        int lo[KVC_MAX_SEQS], hi[KVC_MAX_SEQS];
        for (int s = 0; s < S; s++)
            lo[s] = cuts[s][k], hi[s] = cuts[s][k + 1];
        kvc_problem part;
        if (part_problem(p, lo, hi, &part) != 0) {
            snprintf(err, n, "out of memory");
            return -1;
        }
        int rc = kvc_reference_compute(&part, &m->ref[k], err, n);
        kvc_problem_free(&part);
        if (rc != 0)
            return -1;
        float *o = kvc_guard_alloc(g, "merge part out", KVC_GUARD_ROLE_OUTPUT,
                                   (size_t)(rows * D) * sizeof(float),
                                   sizeof(float));
        float *l = kvc_guard_alloc(g, "merge part lse", KVC_GUARD_ROLE_OUTPUT,
                                   (size_t)rows * sizeof(float), sizeof(float));
        if (!o || !l) {
            snprintf(err, n, "out of memory");
            return -1;
        }
        /* an empty part's row (lse -inf) is NaN: kvattn.h says it may hold
         * anything and is not read, so a merge that reads it shows it */
        for (int64_t e = 0; e < rows * D; e++)
            o[e] = m->ref[k].lse[e / D] == -INFINITY ? NAN
                                                     : (float)m->ref[k].out[e];
        for (int64_t e = 0; e < rows; e++)
            l[e] = (float)m->ref[k].lse[e];
        kvc_guard_set_role(g, o, KVC_GUARD_ROLE_INPUT);
        kvc_guard_set_role(g, l, KVC_GUARD_ROLE_INPUT);
        m->out[k] = o;
        m->lse[k] = l;
    }
    return 0;
}

static kvc_outcome run_merge(const kvc_case *c, const kvc_kernel *k,
                             const kvc_reference *given, merge_in *m,
                             kvc_guard_set *g, kvc_result *r)
{
    const kvc_problem *p = &c->prob;
    int64_t rows = p->q_start[p->num_seqs] * p->cfg.num_q_heads;
    int D = p->cfg.head_dim;
    char err[256];
    kvc_reference full;
    memset(&full, 0, sizeof full);
    if (part_states(c, m, g, err, sizeof err) != 0 ||
        (!given && kvc_reference_compute(p, &full, err, sizeof err) != 0)) {
        snprintf(r->message, sizeof r->message, "merge check: %s", err);
        return r->outcome = KVC_FAIL_SETUP;
    }
    const float **po = kvc_guard_input(g, "merge part_out", m->out,
                                       sizeof m->out, sizeof m->out[0]);
    const float **pl = kvc_guard_input(g, "merge part_lse", m->lse,
                                       sizeof m->lse, sizeof m->lse[0]);
    float *out = kvc_guard_alloc(g, "merge out", KVC_GUARD_ROLE_OUTPUT,
                                 (size_t)(rows * D) * sizeof(float),
                                 sizeof(float));
    float *lse = kvc_guard_alloc(g, "merge lse", KVC_GUARD_ROLE_OUTPUT,
                                 (size_t)rows * sizeof(float), sizeof(float));
    kvc_outcome o = KVC_PASS;
    if (!po || !pl || !out || !lse) {
        snprintf(r->message, sizeof r->message, "merge check: out of memory");
        o = r->outcome = KVC_FAIL_SETUP;
    } else {
        kva_error e = {0};
        kva_status s = k->merge_states((const float *const *)po,
                                       (const float *const *)pl, m->parts,
                                       rows, D, out, lse, &e);
        char msg[400];
        kvc_guard_violation v = kvc_guard_check(g, msg, sizeof msg);
        if (v != KVC_GUARD_OK) {
            snprintf(r->message, sizeof r->message, "kva_merge_states: %s", msg);
            o = r->outcome = v == KVC_GUARD_BOUNDS ? KVC_FAIL_BOUNDS
                                                   : KVC_FAIL_INPUT;
        } else if (s != KVA_OK) {
            snprintf(r->message, sizeof r->message, "kva_merge_states refused "
                     "valid states: %s: %s", kva_status_name(s), e.msg);
            o = r->outcome = KVC_FAIL_KERNEL;
        }
        for (int64_t row = 0; o == KVC_PASS && row < rows; row++)
            o = judge_row(m, given ? given : &full, row, out, lse, r);
    }
    kvc_reference_free(&full);
    return o;
}

kvc_outcome kvc_check_merge(const kvc_case *c, const kvc_kernel *k,
                            const kvc_reference *full, kvc_result *r)
{
    /* special inputs give NaN part states, which the merge refuses by
     * contract (kvattn.h): nothing to check there */
    if (!k->merge_states || c->prob.q_start[c->prob.num_seqs] == 0 ||
        c->spec.special_inputs ||
        (c->value_seed >> 17) % KVC_MERGE_EVERY != 0 ||
        kvc_spec_work(&c->spec) > KVC_SAMPLED_CHECK_MAX_WORK) /* huge: see
                                                               case.h */
        return KVC_PASS;
    merge_in m;
    memset(&m, 0, sizeof m);
    kvc_guard_set g;
    kvc_guard_init(&g);
    kvc_outcome o = run_merge(c, k, full, &m, &g, r);
    for (int p = 0; p < KVC_MERGE_MAX_PARTS; p++)
        kvc_reference_free(&m.ref[p]);
    kvc_guard_free(&g);
    return o;
}
