/*
 * planted_refusals.h — test-only kernels that refuse wrongly, each with one
 * known bug in its validation, to prove that the campaign's invalid
 * variants (generators/invalid.h) catch what the 14 invalid golden vectors
 * alone would not. Each is libkvattn with a wrapper; on valid input each
 * behaves exactly as libkvattn.
 */
#ifndef KVC_PLANTED_REFUSALS_H
#define KVC_PLANTED_REFUSALS_H

#include "../tools/runner.h"

/* The cache write validates token by token as it writes: the tokens before
 * a bad slot are already in the cache when it refuses, and a duplicate
 * slot (each token alone is fine) is never refused. */
extern const kvc_kernel kvc_planted_partial_write;

/* The QEfficient conversion does not check that a row's write stays in one
 * block: a crossing row is written from the start of its last block. */
extern const kvc_kernel kvc_planted_qeff_crossing;

/* Attention takes a negative softcap as "off" instead of refusing it. */
extern const kvc_kernel kvc_planted_negative_softcap;

/* Paged attention checks the block table from the block after the
 * window's first needed one (lo / B + 1): the edge block's entry is never
 * checked (the planted kernel reads block 0 there). */
extern const kvc_kernel kvc_planted_window_edge;

/* Paged attention refuses bad block ids with KVA_ERR_LENGTH instead of
 * KVA_ERR_BLOCK (every other status right). */
extern const kvc_kernel kvc_planted_wrong_status;

/* Paged attention writes the first output row and lse before it validates
 * (then refuses a bad input as libkvattn does). */
extern const kvc_kernel kvc_planted_output_then_refuse;

#endif
