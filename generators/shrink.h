/*
 * shrink.h — shrink a failing case to a small reproducer.
 *
 * Greedy delta debugging over the spec (not over the tensors): try
 * candidate reductions of the current spec, coarse before fine, rebuild
 * each with kvc_case_build(candidate, value_seed, ...) and keep the first
 * one the predicate says still fails; repeat until a whole pass over every
 * reduction (and every pair of them, below) keeps nothing (a fixed point)
 * or the attempt budget is spent.
 *
 * The values of a rebuilt case are drawn again from value_seed for the new
 * shape, so they are not the values of the start case: the predicate, not
 * the shrinker, decides whether a candidate reproduces "the same" failure
 * (the CLI asks for a failing outcome of the same kind as the original).
 *
 * Reductions, in the order tried (each group is retried on the new spec
 * while it keeps being accepted, then the next group is tried):
 *   - keep only sequence s (for each s), then drop sequence s (for each s);
 *   - pad_tokens -> 0 (or smaller);
 *   - heads: (Hq, Hkv) -> (1, 1); Hkv -> 1; Hq -> Hkv (group 1); halve Hkv
 *     keeping the group; halve the group; Hkv - 1 keeping the group;
 *     group - 1. Every candidate keeps Hq % Hkv == 0;
 *   - per sequence: q_len -> 1, then smaller down to 0; ctx_len -> 0, then
 *     smaller. Lengths are tried on a ladder x/2, x - x/4, x - x/8, ...,
 *     x - 1, so a length that must stay large converges in O(log^2) tries;
 *   - head_dim -> 1, halve, ... (a scale equal to 1/sqrtf(old D) becomes
 *     1/sqrtf(new D); any other scale is kept);
 *   - PAGED/QEFF: block_size -> 1, halve; extra_blocks -> 0; stride_pad
 *     -> 0; large_offsets -> 0 (a failure that needs the large offsets,
 *     such as 32-bit offset arithmetic, passes without them: the predicate
 *     refuses the candidate and the reproducer keeps its sparse pool);
 *     table -> PERMUTED; hnd -> 0 (NHD);
 *   - mask -> NONE; leak_sensitive -> 0; window off; softcap off;
 *   - BLOCKED: cache_len down to the largest kv_len; num_kv_blocks -> 1,
 *     smaller (clamped to cache_len when cache_len shrinks);
 *   - QEFF: qeff_max_q down to the largest q_len (at least 1);
 *     qeff_left_pad -> 0;
 *   - canonical values: values -> NORMAL, causal -> 1, scale -> 1/sqrtf(D);
 *   - the cache format: format_edges -> 0, scale_family -> CALIBRATED,
 *     then the format itself -> f32 (a failure that survives it is not a
 *     format bug). nvfp4 head_dim shrinks in whole groups of 16.
 * When no single reduction still fails, pairs are tried: two reductions
 * from different groups (the first three candidates of each), then a
 * lateral move of the values kind followed by a size reduction. A rebuilt
 * case draws new values, so one reduction can pass by luck where the same
 * reduction plus another fails; pairs get past most such local minima (on
 * 780 random failures of the no-rescale planted kernel, every one shrank to
 * one sequence, one head and at most 3 tokens, 57 attempts on average, 174
 * at most). A kept pair restarts the single reductions.
 * Every candidate is strictly smaller in a finite well-founded order (size
 * first, canonical form second), so the search terminates even without a
 * budget; at a large fixed point the pair pass may cost a few thousand
 * attempts, so callers with slow predicates should pass max_attempts.
 *
 * Candidates kvc_case_build refuses (invalid for the mode: a QEFF write
 * that crosses a block, a BLOCKED kv_len above cache_len, ...) are skipped
 * without calling the predicate. In QEFF mode a candidate is repaired the
 * way kvc_spec_draw shapes QEFF specs: a sequence whose q_len becomes 0
 * gets ctx_len 0, and a shorter ctx_len clips q_len to the room left in
 * its block.
 *
 * Deterministic (no randomness beyond value_seed, no global state): the
 * same arguments give the same result, byte for byte. Every case built is
 * freed. Never aborts.
 */
#ifndef KVC_SHRINK_H
#define KVC_SHRINK_H

#include <stdint.h>

#include "case.h"

/* Does the case still fail? 1 = yes (keep the reduction), 0 = no. The case
 * is built by the shrinker (its seed and index fields are 0; value_seed is
 * the one given to kvc_shrink) and freed after the call: do not keep
 * pointers into it. */
typedef int (*kvc_shrink_predicate)(const kvc_case *c, void *ctx);

typedef struct kvc_shrink_stats {
    int attempts; /* predicate calls, the first one on the start spec included */
    int accepted; /* reductions kept */
} kvc_shrink_stats;

/* Return values of kvc_shrink. */
enum {
    KVC_SHRINK_ERROR = -1,      /* NULL start/still_fails/out, or start does
                                   not build (invalid spec, out of memory) */
    KVC_SHRINK_DONE = 0,        /* fixed point: no reduction of *out fails */
    KVC_SHRINK_BUDGET = 1,      /* stopped after max_attempts predicate calls */
    KVC_SHRINK_NOT_FAILING = 2  /* the start case does not fail */
};

/*
 * Shrink *start, whose case built from value_seed fails, to a smaller spec
 * whose case (built from the same value_seed) still fails.
 *   still_fails, ctx: the predicate and its argument.
 *   max_attempts: the most predicate calls, the first one (on *start, to
 *       confirm it fails) included; <= 0 = no limit (the search still ends
 *       at a fixed point).
 *   out: the smallest failing spec found (*start when nothing was kept, when
 *       start does not fail, or on an error with a non-NULL out).
 *   stats: may be NULL.
 * Returns KVC_SHRINK_DONE, KVC_SHRINK_BUDGET, KVC_SHRINK_NOT_FAILING or
 * KVC_SHRINK_ERROR. out may alias start.
 */
int kvc_shrink(const kvc_case_spec *start, uint64_t value_seed,
               kvc_shrink_predicate still_fails, void *ctx, int max_attempts,
               kvc_case_spec *out, kvc_shrink_stats *stats);

#endif /* KVC_SHRINK_H */
