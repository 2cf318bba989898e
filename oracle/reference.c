/*
 * reference.c — the naive attention oracle (reference.h).
 *
 * Written from the definition in problem.h and nothing else: for every query
 * row, gather the visible keys in logical order, score them, subtract the
 * maximum, exponentiate, normalise, weight V. K and V are the values the
 * cache stores (kv_store.h): the logical values for an f32 cache, the
 * decoded codes times their scales otherwise, so quantization error is part
 * of the problem, never of the verdict. The same naive algorithm runs
 * a second time in float, as the baseline of the tolerance model. Speed is
 * not a goal; plainness and reproducibility are. Every sum runs in a fixed
 * order (d = 0..D-1, then visible keys in position order) and the file is
 * compiled with -ffp-contract=off, so no compiler may reassociate or fuse
 * anything and the results are the same on every machine.
 */
#include "reference.h"

#include "kv_store.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-row scratch, sized once to the longest kv_len of the batch, so the
 * memory is O(kv_len) whatever the number of rows. */
typedef struct row_scratch {
    int *idx;     /* visible positions, ascending */
    double *x;    /* double scores, then unnormalised weights */
    float *x32;   /* float scores, then unnormalised weights */
} row_scratch;

/* The K and V attention runs on, [kv_start[S]][Hkv][D]: the problem's own
 * for an f32 cache, else the stored values of its cache (kv_store.h). */
typedef struct kv_values {
    const float *k;
    const float *v;
} kv_values;

/* The inputs of one query row: the query vector and the rows of its KV head.
 * Key c (c-th visible key) is at k0 + idx[c] * stride. */
typedef struct row_view {
    const float *q;
    const float *k0;
    const float *v0;
    int64_t stride; /* Hkv * D: elements from one position to the next */
    int dim;
    const int *idx;
    int n;
} row_view;

/* ------------------------------------------------------------------------ */
/* Visibility                                                               */
/* ------------------------------------------------------------------------ */

int kvc_visible(const kvc_problem *p, int s, int i, int j)
{
    if (!p || s < 0 || s >= p->num_seqs || i < 0 || i >= p->q_len[s] ||
        j < 0 || j >= kvc_kv_len(p, s))
        return 0;
    /* int64: ctx_len + i and pos - window_left must not overflow. */
    int64_t pos = (int64_t)p->ctx_len[s] + i;
    const kvc_config *c = &p->cfg;
    if (c->causal && j > pos)
        return 0;
    if (c->window_left >= 0 && j < pos - c->window_left)
        return 0;
    if (p->has_mask) {
        if (!p->mask || !p->mask_start)
            return 0; /* a mask was promised but is missing: see nothing */
        int64_t at = p->mask_start[s] + (int64_t)i * kvc_kv_len(p, s) + j;
        if (!p->mask[at])
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Checks beyond kvc_problem_check: what the oracle itself dereferences.     */
/* ------------------------------------------------------------------------ */

#define REF_FAIL(...)                                                        \
    do {                                                                     \
        if (err && errlen)                                                   \
            snprintf(err, errlen, __VA_ARGS__);                              \
        return -1;                                                           \
    } while (0)

static int check_tensors(const kvc_problem *p, char *err, size_t errlen)
{
    for (int s = 0; s < p->num_seqs; s++) {
        /* kvc_kv_len sums two ints: keep it representable. */
        if ((int64_t)p->ctx_len[s] + p->q_len[s] > INT_MAX)
            REF_FAIL("sequence %d: kv_len = %d + %d overflows int", s,
                     p->ctx_len[s], p->q_len[s]);
    }
    int64_t rows = p->num_seqs > 0 ? p->q_start[p->num_seqs] : 0;
    int64_t kv_rows = p->num_seqs > 0 ? p->kv_start[p->num_seqs] : 0;
    if (rows > 0 && !p->q)
        REF_FAIL("q is not allocated");
    if (kv_rows > 0 && (!p->k || !p->v))
        REF_FAIL("k or v is not allocated");
    if (!p->has_mask)
        return 0;
    if (p->num_seqs > 0 && (!p->mask_start || !p->mask))
        REF_FAIL("has_mask is set but the mask is not allocated");
    for (int s = 0; s < p->num_seqs; s++) {
        int64_t want = (int64_t)p->q_len[s] * kvc_kv_len(p, s);
        if (p->mask_start[s + 1] - p->mask_start[s] != want)
            REF_FAIL("sequence %d: mask_start disagrees with q_len x kv_len",
                     s);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Allocation                                                               */
/* ------------------------------------------------------------------------ */

/* calloc of count elements, with the byte count checked and a zero count
 * given one element, so NULL means only "out of memory". */
static void *alloc_array(int64_t count, size_t size)
{
    if (count < 0 || (uint64_t)count > SIZE_MAX / size)
        return NULL;
    return calloc(count > 0 ? (size_t)count : 1, size);
}

void kvc_reference_free(kvc_reference *ref)
{
    if (!ref)
        return;
    free(ref->out);
    free(ref->lse);
    free(ref->out32);
    free(ref->lse32);
    free(ref->absw);
    free(ref->smax);
    free(ref->vmax);
    free(ref->nvis);
    free(ref->segw);
    free(ref->tilew);
    free(ref->devw);
    memset(ref, 0, sizeof *ref);
}

static int alloc_reference(kvc_reference *ref, int64_t rows, int hq, int dim)
{
    memset(ref, 0, sizeof *ref);
    ref->rows = rows;
    ref->num_q_heads = hq;
    ref->head_dim = dim;
    int64_t nrow = rows * hq;   /* (token, head) rows */
    int64_t nelem = nrow * dim; /* (token, head, dim) elements */
    ref->out = alloc_array(nelem, sizeof *ref->out);
    ref->out32 = alloc_array(nelem, sizeof *ref->out32);
    ref->absw = alloc_array(nelem, sizeof *ref->absw);
    ref->segw = alloc_array(nelem, sizeof *ref->segw);
    ref->tilew = alloc_array(nelem, sizeof *ref->tilew);
    ref->devw = alloc_array(nelem, sizeof *ref->devw);
    ref->lse = alloc_array(nrow, sizeof *ref->lse);
    ref->lse32 = alloc_array(nrow, sizeof *ref->lse32);
    ref->smax = alloc_array(nrow, sizeof *ref->smax);
    ref->vmax = alloc_array(nrow, sizeof *ref->vmax);
    ref->nvis = alloc_array(nrow, sizeof *ref->nvis);
    if (!ref->out || !ref->out32 || !ref->absw || !ref->segw ||
        !ref->tilew || !ref->devw || !ref->lse || !ref->lse32 ||
        !ref->smax || !ref->vmax || !ref->nvis) {
        kvc_reference_free(ref);
        return -1;
    }
    return 0;
}

/* The longest kv_len among sequences that have query rows. */
int kvc_longest_kv_len(const kvc_problem *p)
{
    int longest = 0;
    for (int s = 0; s < p->num_seqs; s++)
        if (p->q_len[s] > 0 && kvc_kv_len(p, s) > longest)
            longest = kvc_kv_len(p, s);
    return longest;
}

static void free_scratch(row_scratch *sc)
{
    free(sc->idx);
    free(sc->x);
    free(sc->x32);
    memset(sc, 0, sizeof *sc);
}

static int alloc_scratch(row_scratch *sc, int n)
{
    sc->idx = alloc_array(n, sizeof *sc->idx);
    sc->x = alloc_array(n, sizeof *sc->x);
    sc->x32 = alloc_array(n, sizeof *sc->x32);
    if (!sc->idx || !sc->x || !sc->x32) {
        free_scratch(sc);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One row, in double                                                       */
/* ------------------------------------------------------------------------ */

static const float *key_of(const row_view *r, int c)
{
    return r->k0 + (int64_t)r->idx[c] * r->stride;
}

static const float *value_of(const row_view *r, int c)
{
    return r->v0 + (int64_t)r->idx[c] * r->stride;
}

/* scale * q.k, then soft-capping. Each product of two floats is exact in
 * double (24 + 24 bits <= 53), so only the sum rounds. */
static double score64(const float *q, const float *k, int dim, double scale,
                      double cap)
{
    double dot = 0.0;
    for (int d = 0; d < dim; d++)
        dot += (double)q[d] * (double)k[d];
    double x = scale * dot;
    if (cap > 0.0)
        x = cap * tanh(x / cap);
    return x;
}

/* Replace the scores x[0..n) by exp(x - max) and return their sum; *lse
 * gets max + log(sum). Subtracting the maximum keeps every exponent <= 0,
 * so nothing overflows and the largest weight is exactly 1 (sum >= 1).
 * Non-finite scores (special inputs; tolerance.md, "Non-finite exact
 * values") follow IEEE arithmetic: a NaN or +inf score makes the row NaN
 * (inf - inf); a -inf score has weight 0 and contributes nothing, while
 * every finite score has a weight > 0 (wterm); a row whose every score is
 * -inf is an empty row (weights 0, sum 0, lse -inf): -inf is the masking
 * value, and kvattn.h gives a row without a key out = 0, never NaN. */
static double softmax64(double *x, int n, double *lse)
{
    double m = x[0];
    for (int c = 1; c < n; c++)
        if (x[c] > m || isnan(x[c]))
            m = x[c];
    if (m == -INFINITY) {
        for (int c = 0; c < n; c++)
            x[c] = 0.0;
        *lse = -INFINITY;
        return 0.0;
    }
    double l = 0.0;
    for (int c = 0; c < n; c++) {
        /* -0 marks a -inf score: weight 0, as if masked (wterm) */
        x[c] = x[c] == -INFINITY ? -0.0 : exp(x[c] - m);
        l += x[c];
    }
    *lse = m + log(l);
    return l;
}

/* Per element d, with p_j = w_j / l: out_d = sum_j p_j v_jd,
 * absw_d = sum_j p_j |v_jd|, and the signal-tracking magnitudes of
 * reference.h: segw_d (max prefix sum - min prefix sum, prefixes from 0),
 * tilew_d (largest sum of p_j |v_jd| over KVC_REF_TILE consecutive keys) and
 * devw_d = sum_j p_j |v_jd - out_d| (a second pass, after out_d). */
/* w * x for a weight w of the softmax (tolerance.md, "Non-finite exact
 * values"). softmax64 gives a -inf score the weight -0: such a key is as
 * good as masked and contributes nothing, whatever its v holds. Any finite
 * score has a weight > 0 however small, so a +0 weight (exp underflowed in
 * double) times an infinite or NaN x is x itself (tiny * inf = inf). For
 * finite x a zero weight gives 0, as w * x would (adding +-0 changes no
 * sum). */
static double wterm(double w, double x)
{
    if (w != 0.0)
        return w * x;
    if (signbit(w))
        return 0.0;
    return isfinite(x) ? 0.0 : x;
}

typedef struct elem_mags {
    double *out, *absw, *segw, *tilew, *devw;
} elem_mags;

static void weigh_values64(const row_view *r, const double *w, double l,
                           const elem_mags *m)
{
    if (l == 0.0) { /* every score -inf: an empty row, out = 0 */
        for (int d = 0; d < r->dim; d++)
            m->out[d] = m->absw[d] = m->segw[d] = m->tilew[d] = m->devw[d] = 0.0;
        return;
    }
    for (int d = 0; d < r->dim; d++) {
        double acc = 0.0, acc_abs = 0.0;
        double pre = 0.0, lo = 0.0, hi = 0.0; /* prefix sums of p_j v_jd */
        double win = 0.0, tw = 0.0; /* sums of p_j |v_jd| over a tile */
        for (int c = 0; c < r->n; c++) {
            double vd = (double)value_of(r, c)[d];
            acc += wterm(w[c], vd);
            acc_abs += wterm(w[c], fabs(vd));
            double pc = w[c] / l;
            pre += wterm(pc, vd);
            if (pre < lo)
                lo = pre;
            if (pre > hi)
                hi = pre;
            /* Every window of KVC_REF_TILE consecutive keys as a running
             * sum (add the entering key, subtract the leaving one): the
             * terms are >= 0, so the drift is a few double ulps of the
             * largest window, far below what the tolerance resolves. */
            win += wterm(pc, fabs(vd));
            if (c >= KVC_REF_TILE)
                win -= wterm(w[c - KVC_REF_TILE] / l,
                             fabs((double)value_of(r, c - KVC_REF_TILE)[d]));
            if (win > tw)
                tw = win;
        }
        m->out[d] = acc / l;
        m->absw[d] = acc_abs / l;
        m->segw[d] = hi - lo;
        m->tilew[d] = tw;
        double dev = 0.0;
        for (int c = 0; c < r->n; c++)
            dev += wterm(w[c] / l, fabs((double)value_of(r, c)[d] - m->out[d]));
        m->devw[d] = dev;
    }
}

static void row_double(const row_view *r, double scale, double cap,
                       double *x, const elem_mags *m, double *lse)
{
    for (int c = 0; c < r->n; c++)
        x[c] = score64(r->q, key_of(r, c), r->dim, scale, cap);
    double l = softmax64(x, r->n, lse);
    weigh_values64(r, x, l, m);
}

/* ------------------------------------------------------------------------ */
/* One row, the same naive algorithm in float                              */
/* ------------------------------------------------------------------------ */

/* Every operation below is a float operation rounded to float: float
 * products, float sums in the same order as the double path. */
static float score32(const float *q, const float *k, int dim, float scale,
                     float cap)
{
    float dot = 0.0f;
    for (int d = 0; d < dim; d++) {
        float prod = q[d] * k[d];
        dot += prod;
    }
    float x = scale * dot;
    if (cap > 0.0f)
        x = cap * tanhf(x / cap);
    return x;
}

float kvc_softmax32(float *x, int n, float *lse)
{
    float m = x[0];
    for (int c = 1; c < n; c++)
        if (x[c] > m || isnan(x[c]))
            m = x[c];
    if (m == -INFINITY) { /* as softmax64 */
        for (int c = 0; c < n; c++)
            x[c] = 0.0f;
        *lse = -INFINITY;
        return 0.0f;
    }
    float l = 0.0f;
    for (int c = 0; c < n; c++) {
        x[c] = expf(x[c] - m);
        l += x[c];
    }
    *lse = m + logf(l);
    return l;
}

static void weigh_values32(const row_view *r, const float *w, float l,
                           float *out)
{
    for (int d = 0; d < r->dim; d++) {
        float acc = 0.0f;
        for (int c = 0; c < r->n; c++) {
            float prod = w[c] == 0.0f ? 0.0f : w[c] * value_of(r, c)[d];
            acc += prod;
        }
        out[d] = l == 0.0f ? 0.0f : acc / l;
    }
}

static void row_float(const row_view *r, float scale, float cap, float *x,
                      float *out, float *lse)
{
    for (int c = 0; c < r->n; c++)
        x[c] = score32(r->q, key_of(r, c), r->dim, scale, cap);
    float l = kvc_softmax32(x, r->n, lse);
    weigh_values32(r, x, l, out);
}

/* ------------------------------------------------------------------------ */
/* One row, the magnitudes the tolerance model needs                        */
/* ------------------------------------------------------------------------ */

/* sum_d |q_d| |k_d|: the size of the dot product's rounding errors. */
static double abs_dot(const float *q, const float *k, int dim)
{
    double acc = 0.0;
    for (int d = 0; d < dim; d++)
        acc += fabs((double)q[d]) * fabs((double)k[d]);
    return acc;
}

static double score_scale(const row_view *r, double scale)
{
    double smax = 0.0;
    for (int c = 0; c < r->n; c++) {
        /* a non-finite score has weight 0 or makes the row NaN (judged
         * exactly): it has no rounding error to scale */
        double sc = fabs(scale) * abs_dot(r->q, key_of(r, c), r->dim);
        if (isfinite(sc) && sc > smax)
            smax = sc;
    }
    return smax;
}

static double value_scale(const row_view *r)
{
    double vmax = 0.0;
    for (int c = 0; c < r->n; c++)
        for (int d = 0; d < r->dim; d++) {
            double a = fabs((double)value_of(r, c)[d]);
            if (isfinite(a) && a > vmax) /* an infinite v: judged exactly */
                vmax = a;
        }
    return vmax;
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */
/* ------------------------------------------------------------------------ */

/* Visible positions of new token i of sequence s, ascending; returns n. */
int kvc_gather_visible(const kvc_problem *p, int s, int i, int *idx)
{
    int n = 0;
    int kv_len = kvc_kv_len(p, s);
    for (int j = 0; j < kv_len; j++)
        if (kvc_visible(p, s, i, j))
            idx[n++] = j;
    return n;
}

/* The definition of a row with no visible key: out = 0, lse = -inf, and
 * nothing to scale an error by. */
static void set_empty_row(kvc_reference *ref, int64_t row)
{
    int dim = ref->head_dim;
    for (int d = 0; d < dim; d++) {
        ref->out[row * dim + d] = 0.0;
        ref->out32[row * dim + d] = 0.0f;
        ref->absw[row * dim + d] = 0.0;
        ref->segw[row * dim + d] = 0.0;
        ref->tilew[row * dim + d] = 0.0;
        ref->devw[row * dim + d] = 0.0;
    }
    ref->lse[row] = -INFINITY;
    ref->lse32[row] = -INFINITY;
    ref->smax[row] = 0.0;
    ref->vmax[row] = 0.0;
    ref->nvis[row] = 0;
}

/* Row (s, i, h): token row t = q_start[s] + i, reference row t*Hq + h. The
 * visible positions are the same for every head of a token, so the caller
 * gathers them once into r->idx, r->n. */
static void compute_row(const kvc_problem *p, const kv_values *kv, int s,
                        int i, int h, row_view *r, row_scratch *sc,
                        kvc_reference *ref)
{
    const kvc_config *c = &p->cfg;
    int dim = c->head_dim;
    int group = c->num_q_heads / c->num_kv_heads;
    int kvh = h / group;
    int64_t t = p->q_start[s] + i;
    int64_t row = t * c->num_q_heads + h;

    r->q = p->q + row * dim;
    r->k0 = kv->k + p->kv_start[s] * r->stride + (int64_t)kvh * dim;
    r->v0 = kv->v + p->kv_start[s] * r->stride + (int64_t)kvh * dim;
    if (r->n == 0) {
        set_empty_row(ref, row);
        return;
    }
    ref->nvis[row] = r->n;
    elem_mags m = {ref->out + row * dim, ref->absw + row * dim,
                   ref->segw + row * dim, ref->tilew + row * dim,
                   ref->devw + row * dim};
    row_double(r, (double)c->scale, (double)c->softcap, sc->x, &m,
               ref->lse + row);
    row_float(r, c->scale, c->softcap, sc->x32, ref->out32 + row * dim,
              ref->lse32 + row);
    ref->smax[row] = score_scale(r, (double)c->scale);
    ref->vmax[row] = value_scale(r);
}

static void compute_all(const kvc_problem *p, const kv_values *kv,
                        row_scratch *sc, kvc_reference *ref)
{
    const kvc_config *c = &p->cfg;
    row_view r;
    memset(&r, 0, sizeof r);
    r.dim = c->head_dim;
    r.stride = (int64_t)c->num_kv_heads * c->head_dim;
    r.idx = sc->idx;
    for (int s = 0; s < p->num_seqs; s++)
        for (int i = 0; i < p->q_len[s]; i++) {
            r.n = kvc_gather_visible(p, s, i, sc->idx);
            for (int h = 0; h < c->num_q_heads; h++)
                compute_row(p, kv, s, i, h, &r, sc, ref);
        }
}

/* The values attention runs on. An f32 cache stores the logical values
 * unchanged (kv_store.h), so they are read in place, with no copy (st is
 * left zeroed); any other format runs on the stored values of its codes. */
static int values_of(const kvc_problem *p, const kvc_kv_store *given,
                     kvc_kv_store *st, kv_values *kv, char *err,
                     size_t errlen)
{
    memset(st, 0, sizeof *st);
    kv->k = p->k;
    kv->v = p->v;
    if (p->quant.dtype == KVC_KV_F32)
        return 0;
    if (given) { /* the caller's store of this very problem */
        kv->k = given->k;
        kv->v = given->v;
        return 0;
    }
    if (kvc_kv_store_compute(p, st, err, errlen) != 0)
        return -1;
    kv->k = st->k;
    kv->v = st->v;
    return 0;
}

int kvc_reference_compute(const kvc_problem *p, kvc_reference *ref,
                          char *err, size_t errlen)
{
    return kvc_reference_compute_stored(p, NULL, ref, err, errlen);
}

int kvc_reference_compute_stored(const kvc_problem *p,
                                 const kvc_kv_store *store,
                                 kvc_reference *ref, char *err, size_t errlen)
{
    if (!ref)
        return -1;
    memset(ref, 0, sizeof *ref);
    if (!p)
        REF_FAIL("no problem given");
    if (kvc_problem_check(p, err, errlen) != 0 ||
        check_tensors(p, err, errlen) != 0)
        return -1;
    const kvc_config *c = &p->cfg;
    int64_t rows = p->num_seqs > 0 ? p->q_start[p->num_seqs] : 0;
    row_scratch sc;
    memset(&sc, 0, sizeof sc);
    if (alloc_scratch(&sc, kvc_longest_kv_len(p)) != 0)
        REF_FAIL("out of memory (scratch for kv_len %d)", kvc_longest_kv_len(p));
    if (alloc_reference(ref, rows, c->num_q_heads, c->head_dim) != 0) {
        free_scratch(&sc);
        REF_FAIL("out of memory (%lld rows x %d heads x %d dims)",
                 (long long)rows, c->num_q_heads, c->head_dim);
    }
    kvc_kv_store st;
    kv_values kv;
    if (store && (store->rows != (p->num_seqs > 0 ? p->kv_start[p->num_seqs] : 0) ||
                  store->num_kv_heads != c->num_kv_heads ||
                  store->head_dim != c->head_dim ||
                  store->dtype != p->quant.dtype)) {
        free_scratch(&sc);
        kvc_reference_free(ref);
        REF_FAIL("the given store is not the store of this problem");
    }
    if (values_of(p, store, &st, &kv, err, errlen) != 0) {
        free_scratch(&sc);
        kvc_reference_free(ref);
        return -1;
    }
    compute_all(p, &kv, &sc, ref);
    kvc_kv_store_free(&st);
    free_scratch(&sc);
    return 0;
}
