/*
 * properties.h — relations a correct kernel satisfies that need no oracle
 * (docs/architecture.md, "Properties beyond the oracle"), checked by the runner on
 * every valid case the oracle passed.
 *
 * Relabelling: the same logical content stored under other physical block
 * ids (a permutation of the pool, applied to the block table, the slot
 * mapping and so the pool itself) must give a BITWISE identical out and
 * lse. A kernel whose arithmetic depends on where a block lives (an order
 * of reduction by physical id, a stale read that happens to be right for
 * one layout) passes the tolerance and fails this.
 *
 * Batch invariance: a sequence run alone (its tensors, its table row, the
 * same physical blocks) must give BITWISE the rows it got in its batch. A
 * kernel whose reduction order or tiling depends on the batch (split-KV
 * chosen by total tokens, state shared across sequences) fails this.
 *
 * Thread determinism: a kernel that takes a thread count (kva_caps
 * takes_threads) run twice with the same count must give BITWISE the same
 * out and lse (KVC_FAIL_NONDETERMINISTIC otherwise): atomics or a
 * reduction order that depends on scheduling fail this.
 *
 * Each property has its own outcome (runner.h), so every report groups
 * them apart: "relabel", "batch-invariance", "chunked-prefill",
 * "decode-steps", "block-size" ("nondeterministic" for threads).
 *
 * Three more compare the kernel with itself WITHIN TOLERANCE, since a
 * different split of the work may round differently:
 *
 * Chunked prefill ("chunked-prefill"): a sequence with q_len >= 2 new
 * tokens (drawn from the case's value seed among those that have them) is
 * prefilled again in 2 or 3 chunks, each chunk its own kernel run with
 * ctx_len = ctx_len + the tokens before it: its q rows, the K/V of its
 * positions so far, its mask rows (cut to its kv_len), the same table row
 * and physical blocks (QEfficient: positions and slot_id of the chunk;
 * blocked: a one-sequence cache). Cuts fall anywhere or where a chunk ends
 * on a block (tile) boundary. Each run's pool holds the earlier chunks as
 * the runner's model stores them: the runner has checked byte for byte
 * that the kernel's own cache write leaves exactly that (the "cache"
 * check), so this is the pool the previous chunk's write left. The
 * chunks' rows must match the whole run's.
 *
 * Decode steps ("decode-steps"): the last 2 to 4 new tokens of such a
 * sequence, each run alone as a decode step (q_len 1, ctx_len = its
 * position), must match their rows of the whole run.
 *
 * Both need causal attention (a bidirectional query sees later new
 * tokens, which a chunk does not have): other cases pass them.
 *
 * Block size ("block-size"): the whole batch laid out anew with another
 * block size B' (paged and QEfficient; B' from {1, 2, 3, 4, 8, 16, 32, 48,
 * 64, 128, 256} by the value seed, within the kernel's claimed block
 * sizes, QEfficient's writes still inside one block, the pool at most
 * four times the data or 2^18 units): every sequence its own blocks from a
 * permuted pool, same NHD/HND order and row padding, same tensors. Blocked
 * cases are read with another tile count (num_kv_blocks). All rows must
 * match. Sparse (large-offset) pools are skipped by the first two and the
 * paged block-size variant.
 *
 * "Match within tolerance": the oracle's reference of the case is
 * computed once (in the kernel's profile, as the runner judges it) and
 * for each element |variant - whole| <= 2 * allowed, allowed being the
 * oracle's allowance for that element (oracle/tolerance.h). Both runs of a
 * correct kernel are within `allowed` of the exact answer, so this never
 * fails one; the allowance is row-local (the row's visible keys, D,
 * magnitudes), so a chunk's row has the same allowance as in the whole
 * problem. A row with no visible key must give out = 0 and lse = -inf in
 * both. The whole run passed the oracle already, so the test is as tight
 * as judging the variant against the oracle, up to a factor 3, and costs
 * one reference per case instead of one per variant run.
 *
 * Cost: one reference and a few kernel runs per case, so these three run
 * on one valid case in KVC_PROP_EVERY (chosen by the case's value seed,
 * kvc_prop_sampled); the kvc_check_* functions below run them always.
 */
#ifndef KVC_PROPERTIES_H
#define KVC_PROPERTIES_H

#include "runner.h"

#define KVC_PROP_EVERY 4

/* Whether the tolerance-based properties run on c in a campaign. */
int kvc_prop_sampled(const kvc_case *c);

/* Check the properties of case c against the outputs out/lse (rows rows)
 * the kernel gave for it (the oracle passed them). Returns KVC_PASS or the
 * failing property's outcome (message in r); a variant the kernel refuses
 * or fails to run is that property's failure too. Cases a property does
 * not apply to (blocked mode for relabelling, sparse pools, bidirectional
 * attention for chunks) pass it. */
/* ref: the reference the runner judged the case with, in the kernel's
 * profile (NULL: computed here when a sampled property needs it). */
/* store: the oracle's store of c->prob the runner judged with, lent to
 * the runs of the same problem (relabelled blocks, the same case again);
 * NULL: each computes its own. */
struct kvc_kv_store;
kvc_outcome kvc_check_properties(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 int64_t rows, const kvc_reference *ref,
                                 const struct kvc_kv_store *store,
                                 kvc_result *r);

/* One property each, on every case (no sampling); same contract. */
kvc_outcome kvc_check_chunked_prefill(const kvc_case *c, const kvc_kernel *k,
                                      const float *out, const float *lse,
                                      kvc_result *r);
kvc_outcome kvc_check_decode_steps(const kvc_case *c, const kvc_kernel *k,
                                   const float *out, const float *lse,
                                   kvc_result *r);
kvc_outcome kvc_check_block_size(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 kvc_result *r);

#endif /* KVC_PROPERTIES_H */
