/*
 * kva_internal.h — what the libkvattn source files share and nobody else
 * sees: error reporting, overflow-checked arithmetic, the validators that
 * more than one entry point runs, and the one "attend a row over a sequence
 * of tiles" routine that paged and blocked attention both use.
 *
 * Not installed, not part of the contract (that is kvattn.h).
 */
#ifndef KVA_INTERNAL_H
#define KVA_INTERNAL_H

#include "kvattn.h"

#include <stdint.h>

/* ---- error reporting (error.c) ---------------------------------------- */

/* Clear *err at the start of a call, so a caller that prints err->msg after
 * a success prints an empty line rather than a stale message. */
void kva_clear_error(kva_error *err);

/* Fill *err (when not NULL) with status and a printf-style message; return
 * status so validators can `return kva_fail(...)`. */
kva_status kva_fail(kva_error *err, kva_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- overflow-checked int64 arithmetic (validate.c) -------------------- */

/* *r = a * b for a, b >= 0; returns 0 (and leaves *r alone) when the product
 * does not fit in int64. Used on caller-supplied sizes before they become
 * offsets: garbage input must be refused, not turned into signed overflow. */
int kva_mul_nonneg(int64_t a, int64_t b, int64_t *r);

/* ---- shared validators (validate.c) ------------------------------------ */

/* The attention parameters: head counts and head_dim (SHAPE), scale,
 * softcap, window (PARAM). */
kva_status kva_check_params(const kva_attn_params *p, kva_error *err);

/* A paged cache description: k/v non-NULL (NULL), sizes >= 1, strides >= 0
 * and non-overlapping rows, every row inside pool_elems (SHAPE). */
kva_status kva_check_paged_cache(const kva_paged_cache *c, kva_error *err);

/* The variable-length batch fields paged and blocked attention share. */
typedef struct kva_varlen {
    int num_seqs;
    const int64_t *query_start_loc; /* [S+1]; may be NULL only when S == 0 */
    const int *seq_lens;            /* [S] */
    const uint8_t *const *masks;    /* NULL or [S] of NULL / [q_len][seq_len] */
} kva_varlen;

/* num_seqs >= 0, arrays present, qsl[0] == 0 and non-decreasing,
 * qsl[S] <= num_tokens, seq_len >= q_len, and q/out offsets of num_tokens
 * rows of Hq*D fit in int64. q and out are checked for NULL here too. */
kva_status kva_check_varlen(const kva_varlen *b, const kva_attn_params *p,
                            const float *q, int64_t num_tokens,
                            const float *out, kva_error *err);

/* ---- the online-softmax core (attention_core.c) ------------------------ */

/*
 * The keys and values one query row reads, as a sequence of tiles of
 * tile_len consecutive logical positions. Logical tile b lives at physical
 * tile id(b) = tile_ids ? tile_ids[b] : b, and position j of it at
 *   k + id(b)*tile_stride + (j - b*tile_len)*pos_stride
 * (likewise v). Paged attention: one tile = one cache block, tile_ids = the
 * sequence's block table row. Blocked attention: contiguous tiles,
 * tile_ids = NULL. k and v already point at the right KV head.
 */
typedef struct kva_kv_tiles {
    const float *k;
    const float *v;
    const int *tile_ids;
    int64_t tile_stride;
    int64_t pos_stride;
    int64_t tile_len; /* >= 1 */
} kva_kv_tiles;

/* Fills *t for sequence s and KV head kv_head. */
typedef void (*kva_tiles_fn)(const void *ctx, int s, int kv_head,
                             kva_kv_tiles *t);

/*
 * Attention for every real token of a validated batch: for each (token,
 * query head) row, an online softmax over the tiles that hold its visible
 * keys. Rows of padding tokens are not touched. max_tile_len bounds the
 * tile_len of every kva_kv_tiles the callback returns (it sizes the one
 * scratch buffer of the call). Returns KVA_OK or KVA_ERR_NOMEM (before any
 * write).
 */
kva_status kva_attend_batch(const kva_attn_params *p, const kva_varlen *b,
                            kva_tiles_fn tiles, const void *tiles_ctx,
                            int64_t max_tile_len, const float *q, float *out,
                            float *lse, kva_error *err);

#endif /* KVA_INTERNAL_H */
