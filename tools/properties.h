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
 */
#ifndef KVC_PROPERTIES_H
#define KVC_PROPERTIES_H

#include "runner.h"

/* Check the properties of case c against the outputs out/lse (rows rows)
 * the kernel gave for it. Returns KVC_PASS or KVC_FAIL_PROPERTY (message
 * in r). Cases a property does not apply to (blocked mode, sparse pools)
 * pass it. */
kvc_outcome kvc_check_properties(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 int64_t rows, kvc_result *r);

#endif /* KVC_PROPERTIES_H */
