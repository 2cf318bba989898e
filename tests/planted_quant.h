/*
 * planted_quant.h — test-only kernel variants with the two classic bugs of
 * a reduced-precision KV cache (docs/kv-formats.md), to prove the gate
 * catches them: tests/test_planted_quant.c.
 */
#ifndef KVC_PLANTED_QUANT_H
#define KVC_PLANTED_QUANT_H

#include "../tools/runner.h"

/* libkvattn, except paged and blocked attention read the cache as if every
 * scale were 1: the stored value of an element is taken as decode(code)
 * instead of decode(code) * scale (per tensor, per head, per token, and for
 * nvfp4 the global scale and every e4m3 block scale). The cache write is
 * the real one. F32, F16 and BF16 caches have no scale: unaffected. */
extern const kvc_kernel kvc_planted_forget_scale;

/* libkvattn, except the cache write rounds toward zero instead of to
 * nearest even: every code of every written (token, head) row is the
 * truncating encoding of t = fp32(x / s), s the scale the real write used
 * (static, or the token / group scale it stored). Validation, the token and
 * group scales themselves and all-or-nothing behaviour are the real
 * write's. F32 caches are unaffected. */
extern const kvc_kernel kvc_planted_truncate;

#endif
