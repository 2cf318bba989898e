/*
 * reference.h — the naive attention oracle.
 *
 * Double precision, one query row at a time, written from the definition
 * (problem.h): gather the visible keys in logical order, compute all scores,
 * subtract the row max, exponentiate, sum, divide, weight V. Memory is
 * O(kv_len) per row. Built with -ffp-contract=off and no fast-math, so its
 * results are identical on every compiler and machine.
 *
 * It also runs the same naive algorithm in fp32 (float arithmetic, float
 * accumulation), the baseline of the tolerance model (tolerance.h), and
 * records per row the magnitudes the tolerance model needs.
 *
 * K and V are the values the problem's KV cache stores (kv_store.h): the
 * logical K/V for an f32 cache (read in place, so f32 results are unchanged),
 * decode(code) * scale for every other format. Everything below — out, lse,
 * out32, lse32, absw, smax, vmax — is computed on those stored values.
 *
 * The oracle shares no code with kernels/: nothing here may be called by the
 * kernels nor call them.
 */
#ifndef KVC_REFERENCE_H
#define KVC_REFERENCE_H

#include "kv_store.h"
#include "problem.h"

/*
 * Everything the oracle computes for one problem; arrays are indexed by
 * token row (0 .. q_start[S]-1; padding tokens have no row here), query head
 * and dim exactly as the kernel's outputs:
 *   out[t][h][d]   exact (double) attention output
 *   lse[t][h]      exact log-sum-exp, -INFINITY for a row with no visible key
 *   out32, lse32   the naive fp32 computation of the same
 *   absw[t][h][d]  sum_j w_j |v_jd| (w = exact softmax weights): the natural
 *                  scale of element d, |out| <= absw
 *   smax[t][h]     max_j |scale| * sum_i |q_i k_ji| over visible j: the scale of
 *                  score rounding errors (before soft-capping)
 *   vmax[t][h]     max_j max_d |v_jd| over visible j (underflow scale)
 *   nvis[t][h]     number of visible keys
 * and the signal-tracking magnitudes of element d (tolerance.md, "Sums that
 * track the signal"), with j running over the visible keys in position
 * order and w the exact softmax weights:
 *   segw[t][h][d]  max over contiguous runs a < j <= b of |sum w_j v_jd|
 *                  (the range of the prefix sums, 0 included): the largest
 *                  partial sum a kernel that accumulates contiguous runs of
 *                  keys can hold; |out| <= segw <= absw
 *   tilew[t][h][d] max over KVC_REF_TILE consecutive visible keys of
 *                  sum w_j |v_jd|: any partial sum inside one tile
 *   devw[t][h][d]  sum_j w_j |v_jd - out_d|: the spread of v_d about out_d
 *                  under the weights (score errors cancel on a common part)
 */
#define KVC_REF_TILE 64
typedef struct kvc_reference {
    int64_t rows; /* q_start[S] */
    int num_q_heads;
    int head_dim;
    double *out;
    double *lse;
    float *out32;
    float *lse32;
    double *absw;
    double *smax;
    double *vmax;
    int *nvis;
    double *segw;
    double *tilew;
    double *devw;
} kvc_reference;

/* Compute the reference of p (p must pass kvc_problem_check). Returns 0, or
 * -1 with a message in err (invalid problem or out of memory; nothing left
 * allocated). */
int kvc_reference_compute(const kvc_problem *p, kvc_reference *ref,
                          char *err, size_t errlen);

/* The same, given the store kvc_kv_store_compute made of p (so a caller
 * that already built it, to lay out a cache, does not pay for it twice);
 * store == NULL computes it. A store whose shape or format is not p's is
 * refused. */
int kvc_reference_compute_stored(const kvc_problem *p,
                                 const kvc_kv_store *store,
                                 kvc_reference *ref, char *err,
                                 size_t errlen);

void kvc_reference_free(kvc_reference *ref);

/* Visibility of key j to new token i of sequence s (the definition). */
int kvc_visible(const kvc_problem *p, int s, int i, int j);

/* Pieces of the naive algorithm the arithmetic profiles (profile.h) run
 * too, kept in one place: the visible positions of new token i of sequence
 * s, ascending (returns their count); the longest kv_len among sequences
 * with query rows; and the fp32 softmax of the naive fp32 baseline (x[c]
 * replaced by expf(x[c] - max), returns their sum l, *lse = max + logf(l);
 * n >= 1). */
int kvc_gather_visible(const kvc_problem *p, int s, int i, int *idx);
int kvc_longest_kv_len(const kvc_problem *p);
float kvc_softmax32(float *x, int n, float *lse);

#endif /* KVC_REFERENCE_H */
