/*
 * fuzz_spec.h — the byte format of fuzz_crosscheck: a kvc_case_spec and a
 * value seed, written once as symmetric fz_io field calls (decode in the
 * harness, encode in make_seeds.c), and the repair that turns any decoded
 * spec into a small, VALID one.
 *
 * Format (in order): mode, Hkv, group (Hq = Hkv*group), head_dim, scale
 * (a choice: 1/sqrt(D), a table value, or raw float bits), softcap (off, a
 * table value or raw), causal, window_left, num_seqs, (ctx_len, q_len) per
 * sequence, pad_tokens, block_size, hnd, stride_pad, extra_blocks, table
 * kind, cache_len, num_kv_blocks, mask kind, values kind, leak_sensitive,
 * qeff_left_pad, qeff_max_q, value_seed, large_offsets, and the cache
 * format: kv_dtype (f32, f16, bf16, fp8 e4m3, fp8 e5m2, int8, nvfp4), its
 * scale strategy as an index among the strategies that dtype takes (none;
 * tensor, attn_head, token; group — no byte where there is only one),
 * scale_family (calibrated, pow2, huge, tiny) and format_edges. The format
 * comes last: an input too short to reach it is an f32 case, as before the
 * formats existed.
 *
 * Sizes (head_dim, ctx_len, q_len) are small in one byte, boundary values
 * (B-multiples like 64, 128, 1024, 2047) as specials, or raw.
 *
 * Repair (fz_spec_repair) keeps every decoded input meaningful:
 *   - raw sizes clamped to 1..FZ_SPEC_MAX_D, 0..FZ_SPEC_MAX_CTX,
 *     0..FZ_SPEC_MAX_Q;
 *   - nvfp4: head_dim rounded up to a multiple of 16 (at most 128), and
 *     kept one when the work cap shrinks it (never below 16);
 *   - Hq <= 16; |scale| <= 4 and finite (else 1/sqrt(D)), and >= 1e-3
 *     or 0 when leak-sensitive (boosted keys stay far from FLT_MAX);
 *     softcap finite, >= 0, <= 1e4 (else off);
 *   - QEFF: a write stays inside one block (q_len <= B - ctx_len % B);
 *   - work (kvc_spec_work) <= FZ_SPEC_WORK_CAP and pool/cache elements <=
 *     FZ_SPEC_ELEMS_CAP: the largest sequence is halved until it fits, so
 *     one input runs in milliseconds (and in well under a second under
 *     valgrind);
 *   - BLOCKED: cache_len >= every kv_len (>= 1), num_kv_blocks in
 *     [1, cache_len]; QEFF: qeff_max_q >= every q_len (>= 1).
 * The repaired spec passes kvc_case_build's validation; a spec that is
 * already valid and small is left unchanged (make_seeds checks that every
 * seed decodes to exactly the spec it encoded).
 */
#ifndef KVC_FUZZ_SPEC_H
#define KVC_FUZZ_SPEC_H

#include <stdint.h>

#include "../generators/case.h"
#include "fuzz_helpers.h"

#define FZ_SPEC_WORK_CAP 100000
#define FZ_SPEC_ELEMS_CAP (1 << 16)
#define FZ_SPEC_MAX_HQ 16
#define FZ_SPEC_MAX_D 130
#define FZ_SPEC_MAX_CTX 2047
#define FZ_SPEC_MAX_Q 255
#define FZ_SPEC_MAX_B 64

/* Decode (reader) or encode (writer) a spec and its value seed. */
void fz_spec_io(fz_io *io, kvc_case_spec *spec, uint64_t *value_seed);

/* Make a decoded spec valid and small (see above). */
void fz_spec_repair(kvc_case_spec *spec);

#endif /* KVC_FUZZ_SPEC_H */
