/*
 * planted_kernels.h — test-only kernel variants, each with one known bug,
 * to prove the gate bites: a campaign run against them must fail.
 */
#ifndef KVC_PLANTED_KERNELS_H
#define KVC_PLANTED_KERNELS_H

#include "../tools/runner.h"

/* libkvattn, except paged attention forgets to rescale the running sum and
 * accumulator when the running max grows (the classic online-softmax bug). */
extern const kvc_kernel kvc_planted_no_rescale;

/* libkvattn, except paged attention reads KV head 0 for every query head
 * (the cache treated as MQA): wrong for any query head h with h / group >= 1,
 * so a failure needs Hkv >= 2, hence Hq >= 2. */
extern const kvc_kernel kvc_planted_kv_head0;

/* libkvattn, except paged attention computes block offsets in 32 bits. */
extern const kvc_kernel kvc_planted_offset32;

/* libkvattn, except the first output depends on the first block's id
 * (within tolerance). */
extern const kvc_kernel kvc_planted_block_id_dependent;

/* libkvattn, except the first output depends on the batch size (within
 * tolerance). */
extern const kvc_kernel kvc_planted_batch_dependent;

/* Bugs only the tolerance-based properties see on cases the oracle passes
 * (tests/test_properties.c). Each is a plain scalar two-pass paged
 * attention over f32 caches (other formats go to the real kernel), correct
 * except for: */

/* a prefill path that takes its first new token to sit at position 0: with
 * ctx_len > 0 and q_len > 1 the causal bound (and window) is that of
 * position i instead of ctx_len + i. Whole prefills (ctx 0) and decodes are
 * right; the second chunk of a chunked prefill is not. */
extern const kvc_kernel kvc_planted_chunk_position;

/* a decode path (q_len == 1) that attends over ctx_len keys instead of
 * seq_len: the new token misses its own key. */
extern const kvc_kernel kvc_planted_decode_misses_own_key;

/* a large-page path (block size >= 32) whose causal bound is j < pos: the
 * query misses its own key. */
extern const kvc_kernel kvc_planted_big_block_diagonal;

/* Bugs above a size threshold (planted_sizes.c), each a plain scalar paged
 * attention over f32 caches, exact below its threshold: */
#define KVA_MAX_HEAD_DIM_PLANTED 1024

/* a query-tile path: a sequence of >= 64 query rows runs its last tile of
 * 64 rows over key tiles of 64 merged without the online-softmax rescale */
extern const kvc_kernel kvc_planted_qtile_rescale;

/* a split-KV decode (q_len 1, >= 4096 keys): splits of 1024 keys merged
 * without rescaling each split's sum and accumulator to the common max */
extern const kvc_kernel kvc_planted_split_kv_merge;

/* pages of >= 128 tokens address a key's slot with a 7-bit offset (wrong
 * for slots >= 128, so for block sizes above 128) */
extern const kvc_kernel kvc_planted_page_offset7;

/* a split-KV decode (q_len 1) whose window holds >= 4096 keys and cuts
 * into the context starts its splits one key late: the window's first key
 * is dropped (libkvattn's mutant m05, as a kernel of its own) */
extern const kvc_kernel kvc_planted_split_window_edge;

#endif
