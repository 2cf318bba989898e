/*
 * fuzz_model.h — an independent model of the kernels/kvattn.h contract,
 * written from the header's text (not from the kernel sources), for the
 * contract harnesses:
 *
 *   - fzm_verdict: what the header says about an input: the kernel MUST
 *     refuse it (with which statuses), or it is valid as far as the model
 *     can tell. The model is deliberately conservative: it only demands a
 *     refusal where the header demands one, and demands acceptance only
 *     where the caller says the model sees every rule that applies
 *     (codes_known: the QEfficient conversion, the calibration entry
 *     points, and contract inputs whose only departures from a valid base
 *     are format corruptions on a dense layout); elsewhere a kernel's checks
 *     may be stricter (e.g. its stride-layout rule). KVA_ERR_FORMAT is
 *     never allowed without a format violation;
 *   - the paged-cache description rule ("rows must not overlap and must lie
 *     inside pool_elems"), checked by brute force over every row, in
 *     storage units of the cache's dtype;
 *   - the cache-format rules (dtype x scale kind, static scales finite and
 *     > 0, NVFP4 head_dim % 16, NULL head arrays and scale pools, the scale
 *     pools' row rule), and a reference cache write of one head row: the
 *     codes and TOKEN/GROUP scales a correct kernel stores, computed with
 *     the oracle's codecs (oracle/kv_format.h, written from
 *     docs/kv-formats.md, no kernel code), and the stored values they
 *     decode to;
 *   - the calibration entry points (kva_observer_update,
 *     kva_scale_from_amax): input formats, refusal rules, the expected
 *     amax and scales computed here from docs/kv-formats.md, and one
 *     complete fuzz iteration each;
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
    unsigned must;       /* 1u << status of every required refusal */
    int codes_known;     /* 1: check the returned status against allowed
                            (so an input without a violation must be
                            accepted: no status is allowed for it) */
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
 * refusal with a status outside v->allowed aborts too (KVA_ERR_NOMEM is
 * always allowed), and KVA_ERR_FORMAT outside v->allowed aborts in any
 * case. `what` names the entry point in messages. Returns 1 when the call
 * refused. */
int fzm_check_status(const char *what, kva_status st, const kva_error *err,
                     const fzm_verdict *v);

/* ---- paged cache ---- */

/* Check a cache description against the header's rule (sizes >= 1, k/v
 * non-NULL, the format rules below with counts (num_blocks, block_size,
 * Hkv), every (block, slot, head) row of fzm_row_units(dtype, head_dim)
 * units inside [0, pool_elems) and no two rows overlapping). Adds a
 * must-refuse to v when it is broken. Brute force: O(rows log rows),
 * rows <= pool_elems. */
void fzm_check_cache(const kva_paged_cache *c, fzm_verdict *v);

/* The row rule alone: count[i] indices of stride[i] units (a count-1
 * dimension's stride is never used), rows of `row` units, all inside
 * [0, units) and disjoint; a broken rule is a must-refuse KVA_ERR_SHAPE
 * naming `what`, a negative stride on a count-1 dimension or strides that
 * do not nest (kvattn.h) a may. Counts and row must be >= 1. */
void fzm_check_rows(const char *what, const int64_t count[3],
                    const int64_t stride[3], int64_t row, int64_t units,
                    fzm_verdict *v);

/* ---- cache formats (kva_dtype, kva_kv_scales) ---- */

#define FZM_MAX_HEADS 8

/* Bytes of one storage unit: 4 F32, 2 F16/BF16, 1 FP8/INT8/NVFP4 (1 for a
 * dtype outside the enum). */
int fzm_unit_bytes(int dtype);
/* Units of a head row of D elements: D, (D + 1) / 2 for NVFP4. */
int64_t fzm_row_units(int dtype, int64_t D);
/* The dtype takes the kind (kva_scale_kind's table); 0 when either is
 * outside its enum. */
int fzm_kind_valid(int dtype, int kind);
/* Scale pools: units per (block, slot, head) row (TOKEN 1, GROUP D/16) and
 * bytes per unit (TOKEN 4, GROUP 1); 0 for the other kinds. */
int64_t fzm_scale_row_units(int kind, int64_t D);
int fzm_scale_unit_bytes(int kind);

/* The format rules of kvattn.h for a cache of Hkv heads of head_dim D whose
 * scale pools hold count[3] (block, slot, head) rows (paged: num_blocks,
 * block_size, Hkv; blocked: S, cache_len, Hkv); pools_needed is 0 where
 * the header exempts the pools (blocked with num_seqs == 0). Adds the
 * must-refuses: KVA_ERR_FORMAT (unknown dtype or kind, a kind the dtype
 * does not take, a static scale of the kind not finite and > 0, NVFP4 with
 * D % 16 != 0), KVA_ERR_NULL (HEAD without head arrays, TOKEN/GROUP
 * without pools), KVA_ERR_SHAPE (a scale pool breaking the row rule).
 * Head arrays are read for Hkv entries when non-NULL. */
void fzm_check_format(int dtype, const kva_kv_scales *sc, int Hkv, int D,
                      const int64_t count[3], int pools_needed,
                      fzm_verdict *v);

/* The format section of a contract input (fuzz_contract.c; make_seeds.c
 * writes it): a valid format by construction — a dtype, a scale kind it
 * takes, static scales, the scale pools' layout — that corruptions then
 * break. Fields the kind does not read are not in the bytes: they hold
 * their defaults (valid scales 1, an NHD pool), so a corruption that
 * changes the kind finds valid fields. The harness fills the fields the
 * final kind does not use as `junk` says (NULL or junk pointers, NaN, 0
 * and -1 scales, junk strides): kvattn.h says they are ignored. */
typedef struct fzm_format {
    int dtype;        /* kva_dtype */
    int kind;         /* kva_scale_kind, one the dtype takes */
    int groups;       /* NVFP4: head_dim = 16 * groups (1 or 2) */
    float k_tensor, v_tensor;                         /* TENSOR, GROUP */
    float k_head[FZM_MAX_HEADS], v_head[FZM_MAX_HEADS]; /* HEAD */
    int pool_layout;  /* TOKEN, GROUP: 0 NHD, 1 HND, 2 raw strides */
    int pool_pad;     /* units after each scale row (NHD, HND) */
    int pool_slack;   /* units past the last row */
    int junk;         /* bits, see fuzz_contract.c make_scales */
} fzm_format;

/* A valid format with every field at the decoder's default (scales 1, an
 * NHD pool, no junk). */
void fzm_format_default(fzm_format *f, int dtype, int kind);

/* The scale kinds a dtype takes, in the byte format's order; returns how
 * many (1 or 3; 0 for an unknown dtype). */
int fzm_kinds_of(int dtype, int kinds[3]);

/* Decode (reader) or encode (writer) a format section. */
void fzm_format_io(fz_io *io, fzm_format *f);

/* Write val into unit `unit` of a pool of dtype, the way a cache written
 * elsewhere might hold it: F32 its bits, else its code (no scale; e5m2 an
 * infinity code for an infinite val, which no cache write produces). */
void fzm_put_value(int dtype, uint8_t *pool, int64_t unit, float val);

/* The reference cache write of one head row x[D] of K (which 0) or V
 * (which 1), head h, for a VALID format (docs/kv-formats.md with the
 * oracle's codecs): the codes into row (fzm_row_units units), and for
 * TOKEN/GROUP the row's scale entry (a float / D/16 e4m3 codes) into
 * srow (unused otherwise, may be NULL). */
void fzm_encode_row(int dtype, const kva_kv_scales *sc, int which, int h,
                    const float *x, int D, uint8_t *row, uint8_t *srow);

/* The stored value decode(code) * scale of element d of such a row, in
 * double (NaN or +-inf where the code or the scale is). */
double fzm_stored(int dtype, const kva_kv_scales *sc, int which, int h,
                  const uint8_t *row, const uint8_t *srow, int d);

/* A static scale of the calibration rules (docs/kv-formats.md,
 * "Calibration"), computed here: FP8_E4M3 fp32(amax / 448), FP8_E5M2
 * fp32(amax / 57344), INT8 fp32(amax / 127.5), a zero result replaced by
 * 2^-23; NVFP4 fp32(2688 / max(amax, 2^-23)). Other dtypes: NaN. */
float fzm_scale_from_amax(int dtype, float amax);

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

/* ---- calibration: kva_observer_update ---- */

#define FZO_MAX_INJECT 4
#define FZO_MAX_X 4096 /* elements of x the harness allocates at most */

/* Pointers an observer input may pass as NULL (fzo_input.null_mask). */
enum { FZO_NULL_OBS = 1 << 0, FZO_NULL_X = 1 << 1, FZO_NULL_ERR = 1 << 2 };

/* One kva_observer_update call: the observer state before it (counts may
 * be < 1, amax and head_amax entries anything; head_amax is passed only
 * with 1 <= num_kv_heads <= FZM_MAX_HEADS), num_tokens (negative, or huge
 * so that the size overflows), x as num_tokens*Hkv*D values
 * fz_small_float(seed, range) with a few injected floats. */
typedef struct fzo_input {
    int num_kv_heads, head_dim;
    int64_t num_tokens;
    float amax;
    int head_amax_on;
    float head_amax[FZM_MAX_HEADS];
    int null_mask;
    float range;
    uint64_t seed;
    int n_inject;
    uint32_t inject_pos[FZO_MAX_INJECT];
    float inject_val[FZO_MAX_INJECT];
} fzo_input;

void fzo_io(fz_io *io, fzo_input *in);

/* Run one input through kva_observer_update: required refusals (statuses
 * as the header gives them), a refusal leaves the observer and its
 * head_amax bitwise unchanged, an accepted call leaves amax and every
 * head_amax equal to the largest finite |x| seen (the old state
 * included), and x is never modified. Any refusal of a valid input
 * aborts. */
void fzo_run(const fzo_input *in);

/* ---- calibration: kva_scale_from_amax ---- */

enum { FZS_NULL_SCALE = 1 << 0, FZS_NULL_ERR = 1 << 1 };

typedef struct fzs_input {
    int dtype; /* may be outside the enum */
    float amax;
    int null_mask;
} fzs_input;

void fzs_io(fz_io *io, fzs_input *in);

/* Run one input through kva_scale_from_amax: refusals as the header gives
 * them with *scale untouched; an accepted call gives exactly
 * fzm_scale_from_amax (bitwise). Any refusal of a valid input aborts. */
void fzs_run(const fzs_input *in);

#endif /* KVC_FUZZ_MODEL_H */
