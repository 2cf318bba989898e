/*
 * fuzz_model.h — an independent model of the kernels/kvattn.h contract,
 * written from the header's text (not from the kernel sources), for the
 * contract harnesses:
 *
 *   - fzm_verdict: what the header says about an input: the kernel MUST
 *     refuse it (with which statuses), or it is valid as far as the model
 *     can tell. The model is deliberately conservative: it only demands a
 *     refusal where the header demands one, and never demands acceptance
 *     (a kernel's checks may be stricter, e.g. its stride-layout rule);
 *   - the paged-cache description rule ("rows must not overlap and must lie
 *     inside pool_elems"), checked by brute force over every row;
 *   - the visibility rule of a key;
 *   - the QEfficient conversion: its input byte format (symmetric fz_io,
 *     so make_seeds.c encodes seeds), its refusal rules, an independent
 *     recomputation of the general form, and one complete fuzz iteration
 *     (shared by fuzz_qeff.c and fuzz_contract.c);
 *   - the checks every refusal must pass (status, message, err->status).
 */
#ifndef KVC_FUZZ_MODEL_H
#define KVC_FUZZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/kvattn.h"
#include "../tools/runner.h"
#include "fuzz_helpers.h"

/* ---- verdicts ---- */

typedef struct fzm_verdict {
    int must_refuse;     /* the header requires a refusal */
    unsigned allowed;    /* 1u << status for every status the refusal may
                            carry; 0 = any status */
    int codes_known;     /* 1: check the returned status against allowed */
    char reason[200];    /* the first reason found */
} fzm_verdict;

void fzm_verdict_init(fzm_verdict *v);
/* The input must be refused, with status st among the allowed ones. */
void fzm_must(fzm_verdict *v, kva_status st, const char *fmt, ...)
    FZ_PRINTF(3, 4);
/* The kernel may refuse with st (a stricter-but-legal check). */
void fzm_may(fzm_verdict *v, kva_status st);

/* After a call: st must be a known status, and on refusal err (when given)
 * must carry st and a non-empty, terminated message. A required refusal
 * that did not happen aborts with the verdict's reason; with codes_known, a
 * refusal with a status outside v->allowed aborts too. `what` names the
 * entry point in messages. Returns 1 when the call refused. */
int fzm_check_status(const char *what, kva_status st, const kva_error *err,
                     const fzm_verdict *v);

/* ---- paged cache ---- */

/* Check a cache description against the header's rule (sizes >= 1, k/v
 * non-NULL, every (block, slot, head) row of head_dim elements inside
 * [0, pool_elems) and no two rows overlapping). Adds a must-refuse to v
 * when it is broken. Brute force: O(rows log rows), rows <= pool_elems. */
void fzm_check_cache(const kva_paged_cache *c, fzm_verdict *v);

/* Visibility of key j to the query at position pos (mask_row: the query's
 * row of the custom mask, or NULL). */
int fzm_visible(const kva_attn_params *p, int64_t pos, int64_t j,
                const uint8_t *mask_row);

/* ---- QEfficient conversion ---- */

#define FZQ_MAX_S 8
#define FZQ_MAX_Q 32
#define FZQ_MAX_NKB 32

/* Pointers a fuzz input may pass as NULL (bits of fzq_input.null_mask). */
enum {
    FZQ_NULL_IN = 1 << 0,
    FZQ_NULL_OUTP = 1 << 1,
    FZQ_NULL_POS = 1 << 2,
    FZQ_NULL_SLOT_ID = 1 << 3,
    FZQ_NULL_TABLE = 1 << 4,
    FZQ_NULL_QSL = 1 << 5,
    FZQ_NULL_SEQ_LENS = 1 << 6,
    FZQ_NULL_SLOTS = 1 << 7,
    FZQ_NULL_SRC = 1 << 8,
};

/* One QEfficient input as the fuzzer describes it. Arrays are stored with
 * fixed strides (FZQ_MAX_Q, FZQ_MAX_NKB); the harness copies the used part
 * into exactly-sized buffers. Counts may be negative or zero (bad input). */
typedef struct fzq_input {
    int num_seqs;
    int max_q;
    int block_size;
    int num_kv_blocks;
    int64_t num_blocks;
    int pos[FZQ_MAX_S][FZQ_MAX_Q];
    int slot_id[FZQ_MAX_S];
    int table[FZQ_MAX_S][FZQ_MAX_NKB];
    int null_mask;
    int err_null;
} fzq_input;

/* Decode (reader) or encode (writer) one input. */
void fzq_io(fz_io *io, fzq_input *in);

/* Run one input through k->qeff_to_general and check it against the
 * model: a required refusal happened (with an allowed status), outputs are
 * untouched on refusal, and on success the general form equals the
 * model's recomputation field by field. Aborts on a violation. */
void fzq_run(const fzq_input *in, const kvc_kernel *k);

#endif /* KVC_FUZZ_MODEL_H */
