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

/* ---- mutation points (kernels/mutants.def, `make mutants`) -------------
 * KVA_MUT(n) is 1 only in a build with -DKVA_MUTANT=n, a copy of this
 * library with one catalogued bug planted, used to measure whether the
 * campaign and the golden vectors catch it. In every other build it is the
 * constant 0, so each `KVA_MUT(n) ? bug : right` folds to `right` at
 * compile time: the default library is unchanged. */
#ifdef KVA_MUTANT
#define KVA_MUT(n) (KVA_MUTANT == (n))
#else
#define KVA_MUT(n) 0
#endif

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

/* A paged cache description: k/v non-NULL (NULL), sizes >= 1 (SHAPE), the
 * format (kva_check_format), strides >= 0 and non-overlapping rows of
 * kva_row_units units, every row inside pool_elems (SHAPE), then the scale
 * pools (kva_check_scale_pools). */
kva_status kva_check_paged_cache(const kva_paged_cache *c, kva_error *err);

/* ---- formats (validate.c) ----------------------------------------------- */

/* "F32", "FP8_E4M3", ... / "NONE", "TOKEN", ...; "unknown" out of range. */
const char *kva_dtype_name(kva_dtype d);
const char *kva_scale_kind_name(kva_scale_kind k);

/* Bytes in one storage unit of a valid dtype: 4, 2 or 1. */
int64_t kva_unit_bytes(kva_dtype d);

/* Storage units of one head row of a valid dtype: D, or D/2 for NVFP4. */
int64_t kva_row_units(kva_dtype d, int64_t head_dim);

/* Units of one scale-pool row of a valid TOKEN or GROUP kind: 1 float, or
 * D/16 e4m3 codes. Bytes per unit: 4 (TOKEN) or 1 (GROUP). */
int64_t kva_scale_row_units(kva_scale_kind k, int64_t head_dim);
int64_t kva_scale_unit_bytes(kva_scale_kind k);

/* The format of a cache whose num_kv_heads and head_dim are already >= 1:
 * a known dtype and kind, a kind the dtype takes, NVFP4 head_dim % 16 == 0,
 * static scales finite and > 0 (FORMAT); HEAD arrays non-NULL (NULL). */
kva_status kva_check_format(kva_dtype dtype, const kva_kv_scales *sc,
                            int num_kv_heads, int head_dim, kva_error *err);

/* The TOKEN / GROUP scale pools of a format that passed kva_check_format
 * (nothing to check for other kinds), over a (block, slot, head) grid of
 * num_blocks x block_size x num_kv_heads rows (each count >= 1): pools
 * non-NULL (NULL), strides >= 0, rows not overlapping and inside pool_units
 * (SHAPE). */
kva_status kva_check_scale_pools(const kva_kv_scales *sc, int64_t num_blocks,
                                 int64_t block_size, int num_kv_heads,
                                 int head_dim, kva_error *err);

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

/* ---- policy caches (kv_policy.c) ---------------------------------------- */

/* A set-up policy state's slots per head and KV heads, and its positions
 * [Hkv][L] (pointing into the state); KVA_ERR_NULL / KVA_ERR_SHAPE as the
 * kva_policy_* entry points. */
kva_status kva_policy_view(const void *pc, int *num_slots, int *num_kv_heads,
                           const int64_t **positions, kva_error *err);

/* ---- the online-softmax core (attention_core.c) ------------------------ */

/*
 * The keys and values one query row reads, as a sequence of tiles of
 * tile_len consecutive logical positions. Logical tile b lives at physical
 * tile id(b) = tile_ids ? tile_ids[b] : b, and the row of position j of it
 * starts at storage unit
 *   id(b)*tile_stride + (j - b*tile_len)*pos_stride
 * of k (likewise v), units of the dtype (kvattn.h). Paged attention: one
 * tile = one cache block, tile_ids = the sequence's block table row.
 * Blocked attention: contiguous tiles, tile_ids = NULL. k and v already
 * point at the right KV head (in bytes: unit offsets times the unit size
 * are applied by whoever fills the tiles).
 *
 * Scales, by kind: NONE none (F32, F16, BF16: the value is the decoded
 * code); TENSOR and HEAD the static k_scale / v_scale of this KV head;
 * TOKEN a float per position and GROUP D/16 e4m3 codes per position (with
 * k_scale / v_scale the global scales), in the scale pools k_scales /
 * v_scales (already at the KV head), the row of position j at unit
 *   id(b)*scale_tile_stride + (j - b*tile_len)*scale_pos_stride.
 */
typedef struct kva_kv_tiles {
    kva_dtype dtype;
    const void *k;
    const void *v;
    const int *tile_ids;
    int64_t tile_stride;
    int64_t pos_stride;
    int64_t tile_len; /* >= 1 */
    kva_scale_kind kind;
    float k_scale, v_scale;
    const void *k_scales;
    const void *v_scales;
    int64_t scale_tile_stride;
    int64_t scale_pos_stride;
} kva_kv_tiles;

/* Whether a kind keeps scales in pools (TOKEN, GROUP): only then are the
 * pool pointers and strides validated, and only then may they take part
 * in any arithmetic (for other kinds they may hold anything). */
static inline int kva_scales_pooled(kva_scale_kind k)
{
    return k == KVA_SCALE_TOKEN || k == KVA_SCALE_GROUP;
}

/* The scale fields of *t for KV head kv_head: the static scale (TENSOR,
 * HEAD; GROUP's global scale), or for TOKEN and GROUP the scale pools
 * offset by pool_row units (the head's row of the first tile), rows of
 * successive positions stride_slot apart and of successive tiles
 * tile_stride apart (callers pass 0, 0 for kinds without pools). Unused
 * kinds leave scale 1 and no pools. */
void kva_tiles_set_scales(kva_kv_tiles *t, const kva_kv_scales *sc,
                          int kv_head, int64_t pool_row, int64_t tile_stride);

/* Fills *t for sequence s and KV head kv_head. */
typedef void (*kva_tiles_fn)(const void *ctx, int s, int kv_head,
                             kva_kv_tiles *t);

/*
 * Attention for every real token of a validated batch: for each (token,
 * query head) row, an online softmax over the tiles that hold its visible
 * keys. Rows of padding tokens are not touched. dtype is the (validated)
 * dtype of every kva_kv_tiles the callback returns; max_tile_len bounds
 * their tile_len. The work is split into units (sequence, KV head, query
 * block[, KV split]) run on p->num_threads threads (0 or 1: the calling
 * thread only); the callback must be safe to call from several threads
 * at once (it only reads). Returns KVA_OK or KVA_ERR_NOMEM (before any
 * write).
 */
kva_status kva_attend_batch(const kva_attn_params *p, const kva_varlen *b,
                            kva_dtype dtype, kva_tiles_fn tiles,
                            const void *tiles_ctx, int64_t max_tile_len,
                            const float *q, float *out, float *lse,
                            kva_error *err);

/* ---- the arithmetic kernels, one table per ISA (kva_isa.c) ------------ */

/* A P.V weight that means "this key is not visible to the row: skip it"
 * (never produced by expf, which gives >= 0 or NaN). */
#define KVA_P_SKIP (-1.0f)

typedef enum kva_isa {
    KVA_ISA_PORTABLE = 0, /* plain C, baseline x86-64 (or any target) */
    KVA_ISA_AVX2 = 1      /* AVX2 + FMA + F16C intrinsics */
} kva_isa;

/* Rows straight from the cache, for the raw kernels of kva_ops: row c
 * holds D elements of dtype (F32, F16, BF16, FP8_E4M3, FP8_E5M2, INT8 or
 * NVFP4) and, for FP8 and INT8, scale[c] is its scale (the element's
 * value is fp32(decode(code) * scale[c]), as dec_fp8 / dec_lut8 give);
 * for NVFP4, gscale[c * D/16 + g] is the effective scale of its group g
 * (the value is fp32(e2m1(code) * gscale), as attention_core decodes). */
typedef struct kva_raw_rows {
    kva_dtype dtype;
    const void *const *rows;
    const float *scale;
    const float *gscale;
    /* Rows the caller reads next, prefetched a few cache lines per key
     * as the kernel goes (spread, not a burst that stalls on the miss
     * buffers): next[c] for c < n_next, next_bytes each (n_next 0: none).
     * A hint only: never changes a result. */
    const void *const *next;
    int n_next;
    int64_t next_bytes;
} kva_raw_rows;

typedef struct kva_ops {
    kva_isa isa;
    const char *name;
    /* s[r*lds + c] = scale * (q_r . k_c), r < nr, c < nk; q_r = q + r*ldq,
     * k_c = k[c], each D floats. Every (r, c) is summed in one fixed order
     * (lanes over d, a fixed tree, then the tail) whatever nr and nk. */
    void (*scores)(float *s, int64_t lds, const float *q, int64_t ldq,
                   int nr, const float *const *k, int nk, int D,
                   float scale);
    /* For each row r < nr: acc_r[d] += p_r[c] * v[c][d] for c = 0..nk-1
     * in order, skipping every c with p_r[c] == KVA_P_SKIP (lanes over d
     * only, never over keys); acc_r = acc + r*D, p_r = p + r*ldp. Each
     * element's arithmetic is the same whatever nr. */
    void (*pv)(float *acc, const float *p, int64_t ldp, int nr,
               const float *const *v, int nk, int D);
    /* The largest x[c] (NaN ignored; -inf when none); *live = whether
     * some x[c] != -inf (NaN included). */
    float (*rowmax)(const float *x, int nk, int *live);
    /* pw[c] = KVA_P_SKIP where x[c] == -inf, else exp(x[c] - m) (m >= every
     * x[c], finite; within 2 ulp of expf); returns the sum of the weights
     * that are not skips, in one fixed order for a given nk. */
    float (*weights)(float *pw, const float *x, int nk, float m);
    /* acc[d] *= w */
    void (*scale)(float *acc, float w, int D);
    /* n f16 / bf16 codes to fp32 (exact, kva_f16_decode/kva_bf16_decode) */
    void (*dec_f16)(float *dst, const uint16_t *src, int n);
    void (*dec_bf16)(float *dst, const uint16_t *src, int n);
    /* dst[d] = lut[src[d]] * s, n elements (INT8) */
    void (*dec_lut8)(float *dst, const uint8_t *src, const float *lut,
                     float s, int n);
    /* The same for FP8 codes (e5m2: 1, else e4m3; lut is that format's):
     * a path may decode the bits instead of reading lut, with the same
     * results (one rounding of the exact value times s). */
    void (*dec_fp8)(float *dst, const uint8_t *src, int e5m2,
                    const float *lut, float s, int n);
    /* scores and pv over rows read straight from the cache (D % 8 == 0,
     * the dtypes of kva_raw_rows): bitwise what decoding the rows with
     * dec_* and calling scores / pv gives, without the fp32 copy. For one
     * query token, whose rows each read once; NULL on a path without
     * them (the caller decodes to scratch instead). */
    void (*scores_raw)(float *s, int64_t lds, const float *q, int64_t ldq,
                       int nr, const kva_raw_rows *k, int nk, int D,
                       float scale);
    void (*pv_raw)(float *acc, const float *p, int64_t ldp, int nr,
                   const kva_raw_rows *v, int nk, int D);
} kva_ops;

extern const kva_ops kva_ops_portable;
#if defined(__x86_64__) && defined(__GNUC__)
#define KVA_HAVE_AVX2 1
extern const kva_ops kva_ops_avx2;
#endif

/* The process's ISA path: chosen once (pthread_once) from the CPU and the
 * environment variable KVATTN_ISA (portable | avx2 | avx512; a name the
 * CPU cannot run, or an unknown one, gives the best available). */
const kva_ops *kva_active_ops(void);

#endif /* KVA_INTERNAL_H */
