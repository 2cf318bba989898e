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

#endif
