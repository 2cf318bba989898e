/*
 * kvattn.h — libkvattn, the production KV-cache attention kernels under test.
 *
 * This header is the whole contract a kernel author reads. The library
 * depends on libc, libm and pthreads only and knows nothing of the rest of
 * kvcheck (the oracle, the generators, the runner), so it can be lifted out
 * alone.
 *
 * The attention problem (see docs/architecture.md, "The attention problem"):
 *   - A batch of S >= 0 sequences. Sequence s has ctx_len tokens already in
 *     the cache and q_len new tokens; new token i sits at absolute position
 *     p = ctx_len + i, and attends over keys j in [0, seq_len) where
 *     seq_len = ctx_len + q_len.
 *   - Query head h reads KV head h / (Hq / Hkv). K/V are never expanded.
 *   - score x = scale * q.k; with softcap c > 0, x = c * tanh(x / c).
 *   - key j is visible to the query at position p when
 *       (!causal || j <= p) && (window_left < 0 || j >= p - window_left)
 *       && (mask == NULL || mask[i][j] != 0).
 *   - out = sum_j softmax(x)_j v_j over visible keys; lse = log sum_j exp(x_j)
 *     (natural log). A query with no visible key gets out = 0, lse = -inf.
 *   - Non-finite K/V (stored NaN or +-inf) follow IEEE arithmetic through
 *     that definition with m = the row's largest visible score: a NaN or
 *     +inf score makes the row NaN; a key with a -inf score has weight 0
 *     and contributes nothing (as if masked, whatever its v), and a row
 *     whose every visible score is -inf gets out = 0, lse = -inf; every
 *     finite score has a weight > 0, however small, so an infinite v it
 *     meets gives +-inf in its element (NaN is accepted there: 0 * inf
 *     after underflow) and a NaN v gives NaN. A key the row cannot see never affects it, whatever
 *     it holds (oracle/tolerance.md, "Non-finite exact values").
 *   - Outputs out[token][Hq][D], lse[token][Hq], fp32, tokens in batch order.
 *     Tokens past query_start_loc[S] are padding: their rows are not written.
 *
 * Conventions of every entry point:
 *   - Everything is validated before anything is written. On failure the
 *     function returns a non-zero kva_status, fills *err (when err != NULL)
 *     with the status and a message naming the offending sequence, token or
 *     value, and leaves every output and cache buffer untouched.
 *   - No function aborts, exits, or reads or writes outside the buffers it is
 *     given (sizes are passed explicitly and checked).
 *   - Arithmetic is fp32 with fp32 accumulation; sizes and offsets are int64.
 *   - No hidden state: every function is reentrant. The one exception is
 *     internal and write-once: on first use the library picks its
 *     arithmetic path for the process (AVX2+FMA+F16C when the CPU has them,
 *     else portable C; the environment variable KVATTN_ISA=portable forces
 *     the portable one, avx2 or avx512 or any other name give the best
 *     available) under pthread_once, so it is thread-safe and never changes
 *     afterwards. Different paths may round differently (FMA); one path
 *     gives bitwise identical results for any thread count.
 */
#ifndef KVATTN_H
#define KVATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The exported C ABI: the library is built with -fvisibility=hidden, so
 * only these functions are visible in libkvattn.so. */
#if defined(__GNUC__)
#define KVA_API __attribute__((visibility("default")))
#else
#define KVA_API
#endif

typedef enum kva_status {
    KVA_OK = 0,
    KVA_ERR_NULL,       /* a required pointer is NULL */
    KVA_ERR_SHAPE,      /* a head count, head_dim, size or stride is invalid */
    KVA_ERR_PARAM,      /* scale/softcap non-finite or softcap < 0, window < -1 */
    KVA_ERR_LENGTH,     /* lengths inconsistent, negative, or beyond the table */
    KVA_ERR_BLOCK,      /* block id -1 or out of range where a position needs it */
    KVA_ERR_SLOT,       /* slot out of range or written twice in one call */
    KVA_ERR_CONVENTION, /* QEfficient input that breaks its write convention */
    KVA_ERR_NOMEM,      /* a temporary allocation failed */
    KVA_ERR_FORMAT,     /* unknown dtype or scale kind, a kind the dtype does
                           not take, a static scale not finite and > 0, NVFP4
                           head_dim not a multiple of 16 (a NULL scale array
                           or pool is KVA_ERR_NULL; bad scale-pool strides or
                           pool_units are KVA_ERR_SHAPE, as for k/v) */
    KVA_ERR_UNSUPPORTED,/* ABI v2: valid input outside what the library
                           claims in kva_capabilities (a mode, format,
                           layout, size or feature it does not implement).
                           Never an answer to input it claims. */
    KVA_ERR_FULL        /* the block manager has too few free blocks (or
                           too short a table row) for the request */
} kva_status;

/* Filled on failure; msg is NUL-terminated and names what is wrong. */
typedef struct kva_error {
    kva_status status;
    char msg[256];
} kva_error;

/* "KVA_OK", "KVA_ERR_SLOT", ... ; never NULL. */
KVA_API const char *kva_status_name(kva_status s);

/* Attention parameters shared by every attention entry point. */
typedef struct kva_attn_params {
    int num_q_heads;  /* Hq >= 1 */
    int num_kv_heads; /* Hkv >= 1, Hq % Hkv == 0 */
    int head_dim;     /* D >= 1, any value */
    float scale;      /* finite (usually 1/sqrt(D)) */
    float softcap;    /* 0 = off; > 0 = soft-cap c; finite */
    int causal;       /* 1 = causal (j <= p), 0 = bidirectional */
    int window_left;  /* -1 = no window; >= 0 = keys j >= p - window_left */
    /* ABI v2 (a v1 library never reads it; callers always pass the whole
     * struct): worker threads the call may use, 0 = the library's default.
     * A library whose capabilities set takes_threads must give bitwise
     * identical results for equal counts. libkvattn takes it: 0 and 1 run
     * on the calling thread alone (no thread is created), N > 1 creates up
     * to N - 1 pthreads for the call and joins them before returning; its
     * results are bitwise identical for every count and do not depend on
     * the rest of the batch (work is split by sequence only). */
    int num_threads;
} kva_attn_params;

/*
 * The element format of a K/V cache (docs/kv-formats.md is the written
 * contract: encodings, rounding, saturation, NaN/inf/-0 rules). The cache
 * stores codes; kva_cache_write encodes fp32 K/V, attention decodes inside
 * its loop. A cache is addressed in *storage units*:
 *   F32 4 bytes, F16/BF16 2 bytes (a uint16 code in host byte order),
 *   FP8_E4M3/FP8_E5M2/INT8 1 byte (one code), NVFP4 1 byte holding two e2m1
 *   codes (dim d even in the low nibble, d odd in the high nibble).
 * A head row of D elements spans D units (D/2 for NVFP4).
 */
typedef enum kva_dtype {
    KVA_DTYPE_F32 = 0,
    KVA_DTYPE_F16,
    KVA_DTYPE_BF16,
    KVA_DTYPE_FP8_E4M3, /* OCP E4M3FN, saturating (SATFINITE) encode */
    KVA_DTYPE_FP8_E5M2, /* saturating encode; decodes infinities */
    KVA_DTYPE_INT8,     /* symmetric, round half even, clamp [-128, 127] */
    KVA_DTYPE_NVFP4     /* e2m1 + one e4m3 scale per 16 dims + fp32 global */
} kva_dtype;

/* Where the scale of an element comes from (compressed-tensors names). */
typedef enum kva_scale_kind {
    KVA_SCALE_NONE = 0, /* F32, F16, BF16: no scale (the only valid kind) */
    KVA_SCALE_TENSOR,   /* FP8/INT8: static k_tensor, v_tensor */
    KVA_SCALE_HEAD,     /* FP8/INT8 ("attn_head"): static k_head[h], v_head[h] */
    KVA_SCALE_TOKEN,    /* FP8/INT8: dynamic, computed by the cache write for
                           each (token, head) and stored as a float in the
                           scale pools */
    KVA_SCALE_GROUP     /* NVFP4 (the only valid kind for it): the cache write
                           computes an e4m3 block-scale code per 16 dims and
                           stores it in the scale pools; k_tensor, v_tensor
                           are the static fp32 global scales */
} kva_scale_kind;

/*
 * The scales of a cache. Static scales (k_tensor/v_tensor for TENSOR and
 * GROUP, k_head/v_head for HEAD) must be finite and > 0 (KVA_ERR_FORMAT;
 * a NULL k_head/v_head for HEAD is KVA_ERR_NULL).
 * TOKEN and GROUP keep per-row scales in two pools addressed like the cache
 * by (block, slot, head): the scale of (b, t, h) is
 *   TOKEN: ((float *)k_pool)[b*stride_block + t*stride_slot + h*stride_head]
 *   GROUP: ((uint8_t *)k_pool)[b*stride_block + t*stride_slot
 *                              + h*stride_head + g], g = d / 16
 * (likewise v_pool), strides in units of the pool (float for TOKEN, byte
 * for GROUP), rows of 1 (TOKEN) or D/16 (GROUP) units that must not
 * overlap and must lie inside pool_units (like the K/V strides: non-
 * negative, KVA_ERR_SHAPE otherwise; a NULL pool is KVA_ERR_NULL). Fields
 * a kind does not use are ignored: they may hold anything (garbage pointers
 * and strides included) and are never read.
 */
typedef struct kva_kv_scales {
    kva_scale_kind kind;
    float k_tensor, v_tensor;     /* TENSOR: the scales; GROUP: global scales */
    const float *k_head, *v_head; /* HEAD: [num_kv_heads] each */
    void *k_pool, *v_pool;        /* TOKEN, GROUP: the scale pools */
    int64_t pool_units;           /* units in each of k_pool and v_pool */
    int64_t stride_block, stride_slot, stride_head; /* units */
} kva_kv_scales;

/*
 * A paged K/V cache: a pool of num_blocks blocks of block_size token slots.
 * The element (block b, slot t, kv head h, dim d) of K lives in the row that
 * starts at storage unit
 *   b*stride_block + t*stride_slot + h*stride_head
 * of k (unit d of the row; for NVFP4, nibble d%2 of unit d/2), likewise for
 * V (same strides). NHD = [blocks][B][Hkv][D] has stride_slot = Hkv*R,
 * stride_head = R (R = the row's units: D, or D/2 for NVFP4); HND =
 * [blocks][Hkv][B][D] has stride_head = B*R, stride_slot = R; padded
 * variants use larger strides. The three strides must not make two
 * (block, slot, head) rows overlap, and every row must lie inside
 * pool_elems units of both k and v. Strides must also nest: taking the
 * dimensions with more than one index from the smallest stride up, each
 * stride is at least the extent of the row and the dimensions inside it
 * (NHD, HND and padded layouts all do); a layout that does not may be
 * refused (KVA_ERR_SHAPE) even when its rows happen to be disjoint. The
 * same holds for the scale pools' strides.
 * A contiguous cache [S][Hkv][CL][D] is the paged cache with num_blocks = S,
 * block_size = CL, HND strides: write it with kva_cache_write too.
 * dtype and scales default (zero-initialised) to F32 without scales.
 * Refused: an unknown dtype or kind, a kind the dtype does not take (see
 * kva_scale_kind), a static scale that is not finite and > 0, NVFP4 with a
 * head_dim that is not a multiple of 16, a NULL or too small scale pool.
 */
typedef struct kva_paged_cache {
    void *k;
    void *v;
    int64_t pool_elems;   /* storage units in each of k and v */
    int64_t num_blocks;   /* >= 1 */
    int block_size;       /* B >= 1 */
    int num_kv_heads;     /* Hkv >= 1 */
    int head_dim;         /* D >= 1 */
    int64_t stride_block; /* storage units */
    int64_t stride_slot;  /* storage units */
    int64_t stride_head;  /* storage units; one head row is contiguous */
    kva_dtype dtype;      /* KVA_DTYPE_F32 = 0 */
    kva_kv_scales scales; /* kind KVA_SCALE_NONE = 0 */
} kva_paged_cache;

/*
 * Write the K/V of num_tokens new tokens into the cache, encoding them in
 * the cache's dtype (computing TOKEN and GROUP scales and storing them in
 * the scale pools).
 *   k, v:          [num_tokens][Hkv][D], contiguous fp32. Any value is
 *                  accepted (NaN and infinities are encoded by the rules of
 *                  docs/kv-formats.md).
 *   slot_mapping:  [num_tokens]; slot = block_id*B + offset, -1 = skip
 *                  (a padding token).
 * Refused: a slot < -1 or >= num_blocks*B, the same slot twice, a NULL
 * pointer (k/v/slot_mapping may be NULL only when num_tokens == 0),
 * num_tokens < 0, an invalid cache description. All-or-nothing.
 */
KVA_API kva_status kva_cache_write(const kva_paged_cache *cache, const float *k,
                           const float *v, const int64_t *slot_mapping,
                           int64_t num_tokens, kva_error *err);

/*
 * A variable-length batch over a paged cache.
 *   query_start_loc [S+1]: qsl[0] = 0, non-decreasing; sequence s owns
 *       tokens [qsl[s], qsl[s+1]) so q_len = qsl[s+1] - qsl[s];
 *       qsl[S] <= num_tokens (the rest are padding tokens).
 *   seq_lens [S]: kv length ctx_len + q_len (>= q_len);
 *       ceil(seq_len / B) <= max_blocks_per_seq.
 *   block_table [S][max_blocks_per_seq]: entry b is the physical block that
 *       holds positions [b*B, (b+1)*B). Entries must be valid block ids for
 *       every position a query can see, [lo, seq_len) with lo = 0 without a
 *       window and lo = max(0, ctx_len - window_left) with one (ctx_len =
 *       seq_len - q_len). Entries wholly outside that range are never read
 *       and may hold anything (-1, garbage): engines free blocks that left
 *       the sliding window.
 *   masks: NULL, or S pointers each NULL (no custom mask) or a row-major
 *       [q_len][seq_len] byte mask, non-zero = visible, ANDed with the rest.
 */
typedef struct kva_paged_batch {
    int num_seqs;
    const int64_t *query_start_loc;
    const int *seq_lens;
    const int *block_table;
    int max_blocks_per_seq;
    const uint8_t *const *masks;
} kva_paged_batch;

/*
 * Paged attention over a variable-length batch (online softmax block by
 * block).
 *   q   [num_tokens][Hq][D] contiguous.
 *   out [num_tokens][Hq][D]; lse [num_tokens][Hq] or NULL. Rows of padding
 *       tokens are left untouched.
 * The cache's num_kv_heads and head_dim must equal the params'.
 */
KVA_API kva_status kva_paged_attention(const kva_attn_params *params,
                               const kva_paged_cache *cache,
                               const kva_paged_batch *batch, const float *q,
                               int64_t num_tokens, float *out, float *lse,
                               kva_error *err);

/*
 * QEfficient BlockedKV: a contiguous cache k, v [S][Hkv][cache_len][D]
 * (storage units: rows of D units, D/2 for NVFP4, no padding), read and
 * reduced in num_kv_blocks blocks of ceil(cache_len/num_kv_blocks)
 * positions with an online softmax. num_kv_blocks >= 1 (else
 * KVA_ERR_SHAPE); it may exceed cache_len: tiles are then one position
 * long and the tiles past position cache_len - 1 are empty (they change
 * nothing). The tiling never changes the result beyond rounding: out and
 * lse are the attention of the contract above. Batch fields as in kva_paged_batch,
 * without a block table; seq_lens[s] <= cache_len. dtype and scales as in
 * kva_paged_cache; TOKEN/GROUP scale pools are addressed with block =
 * sequence s, slot = position (num_blocks = S, block_size = cache_len for
 * their bounds; like k and v they are only required when num_seqs > 0).
 */
typedef struct kva_blocked_cache {
    const void *k;
    const void *v;
    int num_seqs;     /* S, must equal the batch's num_seqs */
    int num_kv_heads; /* Hkv */
    int cache_len;    /* CL >= 1 */
    int head_dim;     /* D */
    kva_dtype dtype;      /* KVA_DTYPE_F32 = 0 */
    kva_kv_scales scales; /* kind KVA_SCALE_NONE = 0 */
} kva_blocked_cache;

KVA_API kva_status kva_blocked_attention(const kva_attn_params *params,
                                 const kva_blocked_cache *cache,
                                 int num_kv_blocks, int num_seqs,
                                 const int64_t *query_start_loc,
                                 const int *seq_lens,
                                 const uint8_t *const *masks, const float *q,
                                 int64_t num_tokens, float *out, float *lse,
                                 kva_error *err);

/*
 * QEfficient paged inputs, padded per sequence:
 *   position_ids [S][max_q]: the new tokens' absolute positions, -1 marks a
 *       padding entry; the valid entries of a row, in row order, must be
 *       consecutive increasing positions p0, p0+1, ..., pmax.
 *   slot_id [S]: entries already filled in the active block, which is
 *       block_table[s][pmax / B]; new tokens go to offsets slot_id.. of it.
 *   block_table [S][num_kv_blocks].
 * Refused (KVA_ERR_CONVENTION unless said): a write that crosses a block
 * boundary (p0/B != pmax/B), slot_id != p0 mod B, positions that are not
 * consecutive; pmax/B >= num_kv_blocks (KVA_ERR_LENGTH); an active block of
 * -1 or out of [0, num_blocks) (KVA_ERR_BLOCK).
 */
typedef struct kva_qeff_inputs {
    int num_seqs;
    int max_q;
    const int *position_ids;
    const int *slot_id;
    const int *block_table;
    int num_kv_blocks;
    int block_size;
    int64_t num_blocks;
} kva_qeff_inputs;

/*
 * The general form, in caller-allocated arrays:
 *   query_start_loc [S+1], seq_lens [S] (pmax + 1; 0 for a row with no
 *   valid entry), slot_mapping [S*max_q] and src_row [S*max_q].
 * General token t < num_tokens is row src_row[t] (= s*max_q + i) of the
 * padded inputs; tokens t >= num_tokens are padding (slot -1, src_row -1).
 * The block table is used unchanged (max_blocks_per_seq = num_kv_blocks).
 */
typedef struct kva_general_inputs {
    int64_t *query_start_loc;
    int *seq_lens;
    int64_t *slot_mapping;
    int64_t *src_row;
    int64_t num_tokens;
} kva_general_inputs;

KVA_API kva_status kva_qeff_to_general(const kva_qeff_inputs *in,
                               kva_general_inputs *outp, kva_error *err);

/*
 * Calibration of static scales: a min-max observer. The caller owns the
 * state (no hidden state): zero-initialise one observer per tensor (K, V),
 * set num_kv_heads and head_dim and point head_amax at num_kv_heads
 * zeroed floats (or NULL for per-tensor only), then feed it batches.
 */
typedef struct kva_observer {
    int num_kv_heads; /* Hkv >= 1 */
    int head_dim;     /* D >= 1 */
    float amax;       /* largest finite |x| seen so far (0 at start) */
    float *head_amax; /* [num_kv_heads]: the same per KV head, or NULL */
} kva_observer;

/* Consume x [num_tokens][Hkv][D] (fp32, contiguous): amax and head_amax
 * become the largest finite |x| seen (NaN and infinities are ignored).
 * Refused: NULL observer or x (x may be NULL when num_tokens == 0;
 * KVA_ERR_NULL), num_tokens < 0 (KVA_ERR_LENGTH), Hkv or D < 1
 * (KVA_ERR_SHAPE), a size that overflows (KVA_ERR_LENGTH), a negative or
 * non-finite amax or head_amax entry in the state (KVA_ERR_PARAM).
 * All-or-nothing. */
KVA_API kva_status kva_observer_update(kva_observer *o, const float *x,
                                       int64_t num_tokens, kva_error *err);

/* The static scale for an observed amax (finite, >= 0), by the symmetric
 * min-max rule of compressed-tensors, scale = amax / ((qmax - qmin) / 2):
 *   FP8_E4M3 fp32(amax / 448), FP8_E5M2 fp32(amax / 57344), INT8
 *   fp32(amax / 127.5), a zero result replaced by 2^-23;
 *   NVFP4 the global scale fp32(2688 / max(amax, 2^-23)) (448 * 6).
 * Refused: scale == NULL (KVA_ERR_NULL), a dtype without static scales
 * (F32, F16, BF16) or an unknown one (KVA_ERR_FORMAT), an amax that is
 * negative, NaN or infinite (KVA_ERR_PARAM); *scale is then untouched. */
KVA_API kva_status kva_scale_from_amax(kva_dtype dtype, float amax,
                                       float *scale, kva_error *err);


/*
 * Merge partial attention states of disjoint key sets, as engines do for
 * split-KV (flash-decoding) and cascade / prefix attention. For each of
 * num_rows rows, part p (0 <= p < num_parts) holds out_p [D] and lse_p,
 * the attention over key set K_p; the merge is the attention over their
 * union:
 *   lse = log sum_p exp(lse_p),   out = sum_p exp(lse_p - lse) out_p.
 * A part with lse_p = -inf is empty and contributes nothing (never NaN):
 * its out_p row may hold anything (a split without keys often leaves it
 * unwritten) and is not read. A row whose parts are all empty gets out = 0
 * and lse = -inf.
 *   part_out[p]: [num_rows][head_dim] fp32; part_lse[p]: [num_rows] (natural
 *   log); out [num_rows][head_dim]; lse [num_rows] or NULL. out may be one
 *   of part_out (in place), lse one of part_lse.
 * Refused: NULL arrays (KVA_ERR_NULL; they may be NULL when num_rows == 0),
 * num_parts < 1, head_dim < 1 (KVA_ERR_SHAPE), num_rows < 0 or a size that
 * overflows (KVA_ERR_LENGTH), an lse_p that is NaN or +inf (KVA_ERR_PARAM);
 * KVA_ERR_NOMEM when its scratch of num_parts floats cannot be allocated.
 * All-or-nothing; fp32 arithmetic.
 */
KVA_API kva_status kva_merge_states(const float *const *part_out,
                                    const float *const *part_lse,
                                    int num_parts, int64_t num_rows,
                                    int head_dim, float *out, float *lse,
                                    kva_error *err);

/* ------------------------------------------------------------------------ */
/* The block manager: which physical block holds which token                */
/* ------------------------------------------------------------------------ */
/*
 * A pool of num_blocks physical blocks of block_size token slots and one
 * block-table row per sequence, in the manner of vLLM's block manager. Its
 * outputs are exactly what kva_cache_write and kva_paged_attention consume:
 * the slot mapping of new tokens (slot = block * B + offset; -1 = the
 * token's K/V are in the cache already, kva_cache_write skips it) and the
 * block-table rows (kva_bm_seq).
 *
 * State. The caller owns it (no hidden state): kva_bm_bytes(cfg) bytes,
 * aligned for int64_t, set up by kva_bm_init. It holds no pointers, so a
 * memcpy is a snapshot and the caller frees it as it likes. Every call
 * validates its arguments before it changes anything: a refused call
 * leaves the state as it was (all-or-nothing), and so does running out of
 * blocks (KVA_ERR_FULL).
 *
 * Sequences have ids 0 .. max_seqs-1 and are live from their first append
 * (or the fork that creates them) until kva_bm_free. A live sequence of n
 * tokens holds ceil(n / B) blocks in its row, position i in row entry i / B
 * at offset i % B.
 *
 * Reference counts: a block's count is the number of live sequences whose
 * row holds it; a block of count 0 is free. A block whose count is above 1
 * is never written.
 *
 * Copy on write: an append to a sequence whose partly filled last block is
 * shared first moves the sequence to a fresh block and returns the copy
 * {src, dst}: the caller copies every K/V (and scale) slot of block src to
 * block dst before it writes the new tokens. At most one copy per append.
 *
 * Prefix sharing (prefix_sharing = 1). A block is full when all its B slots
 * hold tokens of the sequence. When an append fills a block from its first
 * slot to its last, the manager first looks for a registered block of the
 * same content -- the same B token ids after the same token prefix (a hash
 * of the parent block's hash and the ids, then the ids compared) -- and,
 * when there is one, the sequence shares it (count + 1) instead of taking a
 * free block; those tokens get slot -1. A block that becomes full is
 * registered unless a block of the same content already is; a registered
 * block is unregistered when it is freed, or when a sequence is about to
 * write into it (it then holds it alone: a shared block is copied first).
 * A block left partly filled by a rollback stays registered until then, so
 * it may still be shared.
 *
 * Which free block an operation takes is the manager's own choice
 * (libkvattn: the last freed, initially 0, 1, ...); a checker follows it.
 */
typedef struct kva_bm_config {
    int num_blocks;         /* physical blocks, >= 1 */
    int block_size;         /* token slots per block, >= 1 */
    int max_seqs;           /* sequence ids 0 .. max_seqs-1, >= 1 */
    int max_blocks_per_seq; /* block-table row length, >= 1 */
    int prefix_sharing;     /* 1: share full blocks by content; 0: never */
} kva_bm_config;

/* One block to copy before new tokens are written (copy on write). */
typedef struct kva_bm_copy {
    int src;
    int dst;
} kva_bm_copy;

/* Bytes of state for cfg; 0 when cfg is NULL, a field is out of range
 * (prefix_sharing other than 0 or 1 included), or the size overflows. */
KVA_API size_t kva_bm_bytes(const kva_bm_config *cfg);

/* Set up the state in mem (bytes >= kva_bm_bytes(cfg), aligned for
 * int64_t): every block free, no sequence live. Refused: NULL mem or cfg
 * (KVA_ERR_NULL), an invalid cfg (KVA_ERR_SHAPE), bytes too small or mem
 * misaligned (KVA_ERR_LENGTH). */
KVA_API kva_status kva_bm_init(void *mem, size_t bytes,
                               const kva_bm_config *cfg, kva_error *err);

/*
 * Append num_tokens tokens (their ids; a prefill chunk, a decode step or
 * speculative tokens) to sequence seq, starting it when it is not live.
 *   slots [num_tokens]: the slot of each new token, or -1 when a shared
 *       block holds it already (prefix sharing).
 *   copy, *num_copies: the copy to perform first (*num_copies 0 or 1).
 * Refused: NULL state, num_copies, copy or (when num_tokens > 0) tokens or
 * slots (KVA_ERR_NULL); a state kva_bm_init did not set up (KVA_ERR_SHAPE);
 * seq out of range (KVA_ERR_PARAM); num_tokens < 0 (KVA_ERR_LENGTH); more
 * blocks than the row holds or the pool has free (KVA_ERR_FULL).
 */
KVA_API kva_status kva_bm_append(void *bm, int seq, const int32_t *tokens,
                                 int num_tokens, int64_t *slots,
                                 kva_bm_copy *copy, int *num_copies,
                                 kva_error *err);

/* Make child (not live) a copy of live sequence parent that shares every
 * block (each count + 1). Refused: NULL or unset state (KVA_ERR_NULL /
 * KVA_ERR_SHAPE); an id out of range, parent not live, child live or
 * child == parent (KVA_ERR_PARAM). */
KVA_API kva_status kva_bm_fork(void *bm, int parent, int child,
                               kva_error *err);

/* Drop the last num_tokens tokens of live sequence seq (rejected
 * speculative tokens); blocks left empty lose a reference. Refused: as
 * fork for the state and seq; num_tokens < 0 or more than the sequence
 * holds (KVA_ERR_LENGTH). */
KVA_API kva_status kva_bm_rollback(void *bm, int seq, int num_tokens,
                                   kva_error *err);

/* End live sequence seq: each of its blocks loses a reference. Refused: as
 * fork for the state and seq (seq not live: KVA_ERR_PARAM). */
KVA_API kva_status kva_bm_free(void *bm, int seq, kva_error *err);

/* Read sequence seq: row [max_blocks_per_seq] gets its blocks, -1 past
 * them; *num_tokens its length, -1 when it is not live (row all -1).
 * Refused: NULL arguments (KVA_ERR_NULL), unset state (KVA_ERR_SHAPE), seq
 * out of range (KVA_ERR_PARAM). */
KVA_API kva_status kva_bm_seq(const void *bm, int seq, int *row,
                              int64_t *num_tokens, kva_error *err);

/* The reference count of block b; -1 for an unset state or b out of
 * range. */
KVA_API int kva_bm_ref_count(const void *bm, int b);

/* Free blocks; -1 for an unset state. */
KVA_API int kva_bm_num_free(const void *bm);

/* ------------------------------------------------------------------------ */
/* Eviction policies: which tokens a bounded cache keeps                    */
/* ------------------------------------------------------------------------ */
/*
 * A policy cache holds one sequence in num_slots slots per KV head, each
 * slot holding one token (its K/V row for that head) and the token's
 * absolute position; a slot is empty (position -1) until written. Tokens
 * arrive in order, positions 0, 1, 2, ... The policy decides, for each new
 * token and KV head, the slot it goes to, evicting the token there:
 *
 *   DENSE     keeps everything: the n-th token goes to slot n; an append
 *             beyond num_slots is KVA_ERR_FULL and changes nothing.
 *   RECENT    the first `sinks` tokens are pinned to slots 0 .. sinks-1
 *             for ever (attention sinks); token p >= sinks goes to slot
 *             sinks + (p - sinks) % (num_slots - sinks), a ring that keeps
 *             the most recent tokens. An append longer than the ring keeps
 *             its last tokens.
 *   H2O       heavy hitters: a new token takes the lowest empty slot; when
 *             none is empty it evicts, per KV head, the slot of lowest
 *             score among the tokens older than the `recent` most recent
 *             ones (which are always kept); equal scores evict the oldest
 *             token. A slot's score is the attention weight its token has
 *             received (kva_policy_observe) and starts at 0 for each new
 *             token. Evictions are therefore per KV head.
 *
 * The state is caller-owned, pointer-free and all-or-nothing, as the
 * block manager's. A token evicted by a later token of the same append
 * gets slot -1 (it is never stored). Attention over a policy cache masks
 * by the stored positions: a query at position p sees the slots of its KV
 * head holding a position <= p (and inside its window).
 */
typedef enum kva_policy_kind {
    KVA_POLICY_DENSE = 0,
    KVA_POLICY_RECENT,
    KVA_POLICY_H2O
} kva_policy_kind;

typedef struct kva_policy_config {
    kva_policy_kind kind;
    int num_slots;    /* L >= 1 */
    int num_kv_heads; /* >= 1 */
    int sinks;        /* RECENT: pinned first tokens, 0 <= sinks < L */
    int recent;       /* H2O: most recent tokens always kept, 0 <= recent < L */
} kva_policy_config;

/* Bytes of state for cfg; 0 when cfg is NULL or invalid (a field out of
 * range, sinks set for a kind other than RECENT, recent for other than
 * H2O) or the size overflows. */
KVA_API size_t kva_policy_bytes(const kva_policy_config *cfg);

/* Set up an empty policy cache (next position 0). Refused as kva_bm_init. */
KVA_API kva_status kva_policy_init(void *mem, size_t bytes,
                                   const kva_policy_config *cfg,
                                   kva_error *err);

/* Place the next num_tokens tokens: slots [num_tokens][num_kv_heads] get
 * the slot of each token in each head's slots, or -1 when a later token of
 * the same append evicts it. Refused: NULL state or (num_tokens > 0) slots
 * (KVA_ERR_NULL), a state not set up (KVA_ERR_SHAPE), num_tokens < 0
 * (KVA_ERR_LENGTH), DENSE beyond num_slots (KVA_ERR_FULL). */
KVA_API kva_status kva_policy_append(void *pc, int num_tokens, int *slots,
                                     kva_error *err);

/* H2O: add weights [num_kv_heads][num_slots] (this step's attention
 * probabilities summed over its queries and averaged over the query heads
 * of each KV group; kva_policy_attention computes them) to the slots'
 * scores; entries of empty slots are ignored. Other kinds ignore the call.
 * Refused: NULL arguments (KVA_ERR_NULL), a state not set up
 * (KVA_ERR_SHAPE), a weight that is negative or not finite
 * (KVA_ERR_PARAM). */
KVA_API kva_status kva_policy_observe(void *pc, const float *weights,
                                      kva_error *err);

/* positions [num_kv_heads][num_slots]: the position each slot holds, -1
 * when empty; scores (NULL or the same shape): their scores (0 for other
 * kinds). Refused: NULL state or positions (KVA_ERR_NULL), a state not
 * set up (KVA_ERR_SHAPE). */
KVA_API kva_status kva_policy_slots(const void *pc, int64_t *positions,
                                    float *scores, kva_error *err);

/*
 * Write K/V rows head by head (a policy cache puts a token in another slot
 * in each KV head): slots [num_tokens][num_kv_heads] are cache slots
 * (block_id * B + offset), -1 = skip that (token, head). Encoding,
 * refusals and all-or-nothing as kva_cache_write, a slot written twice in
 * one head being KVA_ERR_SLOT; KVA_ERR_NOMEM when its scratch cannot be
 * allocated.
 */
KVA_API kva_status kva_cache_write_heads(const kva_paged_cache *cache,
                                         const float *k, const float *v,
                                         const int64_t *slots,
                                         int64_t num_tokens, kva_error *err);

/*
 * Attention of one sequence's num_tokens queries over its policy cache:
 * slot j of the policy lives at cache slot block_row[j / B] * B + j % B
 * (row entries beyond the slots in use may hold anything). Query token i
 * at absolute position q_pos[i] sees, in each KV head, the slots holding
 * a position p with p <= q_pos[i] (causal; any kept p when bidirectional)
 * and p >= q_pos[i] - window_left with a window; the usual scale,
 * soft-cap, out and lse otherwise (out 0 and lse -inf for no visible
 * slot).
 *   q, out [num_tokens][Hq][D]; lse [num_tokens][Hq] or NULL;
 *   weights NULL or [Hkv][num_slots]: for H2O, each slot's softmax
 *   probability summed over the queries and averaged over the query heads
 *   of its KV group (0 for slots no query sees): kva_policy_observe's
 *   input.
 * Refused: as kva_paged_attention for params and cache; NULL policy, q,
 * q_pos, out, block_row (KVA_ERR_NULL); a policy not set up or whose
 * num_kv_heads differs from the cache's (KVA_ERR_SHAPE); num_tokens < 0, a
 * negative q_pos, or num_row_blocks * B < num_slots (KVA_ERR_LENGTH); a
 * row entry out of [0, num_blocks) under an occupied slot (KVA_ERR_BLOCK);
 * KVA_ERR_NOMEM for its scratch. fp32 arithmetic.
 */
KVA_API kva_status kva_policy_attention(const kva_attn_params *params,
                                        const kva_paged_cache *cache,
                                        const int *block_row,
                                        int num_row_blocks, const void *policy,
                                        const float *q, const int64_t *q_pos,
                                        int num_tokens, float *out, float *lse,
                                        float *weights, kva_error *err);

/* ------------------------------------------------------------------------ */
/* ABI v2: the version and the capabilities of a library                    */
/* ------------------------------------------------------------------------ */
/*
 * A kernel library says what it implements, so that a checker draws cases
 * only inside that claim and reports the rest as not covered. Both entry
 * points are optional: a library without kva_abi_version is ABI 1 and one
 * without kva_capabilities claims everything (kva_caps_everything below:
 * every mode, format, layout, size and feature; it validates its input;
 * natural-log lse; fp32 output and arithmetic; no thread count).
 *
 * Entry points the claim does not need may be absent from the library:
 *   kva_paged_attention    unless modes has KVA_MODE_PAGED or KVA_MODE_QEFF
 *   kva_blocked_attention  unless modes has KVA_MODE_BLOCKED
 *   kva_qeff_to_general    unless modes has KVA_MODE_QEFF
 *   kva_cache_write        unless features has KVA_FEATURE_CACHE_WRITE (the
 *                          caller then writes the new tokens' codes itself)
 * For valid input outside the claim an entry point returns
 * KVA_ERR_UNSUPPORTED, untouched outputs as for any refusal; for input
 * inside it, KVA_ERR_UNSUPPORTED is a failure.
 */
#define KVA_ABI_VERSION 2

/* KVA_ABI_VERSION of the header the library was built with. */
KVA_API int kva_abi_version(void);

enum kva_mode_bits {
    KVA_MODE_PAGED = 1u << 0,   /* kva_paged_attention */
    KVA_MODE_BLOCKED = 1u << 1, /* kva_blocked_attention */
    KVA_MODE_QEFF = 1u << 2,    /* kva_qeff_to_general, then paged */
    KVA_MODE_ALL = (1u << 3) - 1, /* every attention mode */
    /* not attention, the cache's other half (never part of
     * kva_caps_everything; an ABI 1 library has what it exports):
     * the block manager, every kva_bm_* entry point */
    KVA_MODE_MANAGER = 1u << 3,
    /* the eviction policies: every kva_policy_* entry point,
     * kva_cache_write_heads and kva_policy_attention */
    KVA_MODE_POLICY = 1u << 4
};

/* Paged (and QEfficient) cache layouts; the blocked cache has one. */
enum kva_layout_bits {
    KVA_LAYOUT_NHD = 1u << 0,    /* [blocks][B][Hkv][R] */
    KVA_LAYOUT_HND = 1u << 1,    /* [blocks][Hkv][B][R] */
    KVA_LAYOUT_PADDED = 1u << 2, /* either, with strides beyond the rows */
    KVA_LAYOUT_ALL = (1u << 3) - 1
};

enum kva_feature_bits {
    KVA_FEATURE_CAUSAL = 1u << 0,
    KVA_FEATURE_BIDIRECTIONAL = 1u << 1,
    KVA_FEATURE_WINDOW = 1u << 2,         /* window_left >= 0 */
    KVA_FEATURE_SOFTCAP = 1u << 3,        /* softcap > 0 */
    KVA_FEATURE_CUSTOM_MASK = 1u << 4,    /* masks != NULL */
    KVA_FEATURE_PADDING_TOKENS = 1u << 5, /* num_tokens > query_start_loc[S] */
    KVA_FEATURE_CACHE_WRITE = 1u << 6,    /* in place: kva_cache_write
                                             encodes new tokens into the
                                             caller's cache */
    KVA_FEATURE_LARGE_OFFSETS = 1u << 7,  /* cache offsets beyond 2^31 units */
    KVA_FEATURE_FORMAT_EDGES = 1u << 8,   /* K/V at the cache format's
                                             extremes (largest finite
                                             values, subnormals, +-0,
                                             saturation): an f16
                                             accumulator overflows there */
    KVA_FEATURE_ALL = (1u << 9) - 1
};

/* What lse a library writes. */
typedef enum kva_lse_kind {
    KVA_LSE_NONE = 0,   /* none: lse is never written (pass NULL) */
    KVA_LSE_NATURAL,    /* log sum exp, natural log (the contract above) */
    KVA_LSE_BASE2       /* log2 sum 2^(x log2 e) = natural lse / ln 2, as
                           FlashInfer returns it by default */
} kva_lse_kind;

/* The arithmetic a library computes in (oracle/tolerance.md derives the
 * allowance of each). */
typedef enum kva_profile {
    KVA_PROFILE_FP32 = 0, /* fp32 products, sums and softmax */
    KVA_PROFILE_HALF_P,   /* GPU FlashAttention: Q, K, V in a 16-bit type,
                             scores and softmax in fp32, P rounded to the
                             16-bit type before P.V, fp32 accumulation */
    KVA_PROFILE_HALF_ACC  /* llama.cpp's CPU kernel: Q rounded to f16 for
                             the dot product, P.V accumulated in f16 */
} kva_profile;

/* A set of sizes: count > 0 lists them in values[]; count == 0 is the
 * range [min, max] (max 0 = no upper limit). */
#define KVA_SET_MAX 16
typedef struct kva_int_set {
    int count;
    int min, max;
    int values[KVA_SET_MAX];
} kva_int_set;

typedef struct kva_caps {
    uint32_t modes;      /* kva_mode_bits */
    /* formats[dtype] bit k: the cache format (dtype, scale kind k) is
     * implemented, e.g. formats[KVA_DTYPE_F16] = 1u << KVA_SCALE_NONE */
    uint32_t formats[8];
    uint32_t layouts;    /* kva_layout_bits */
    uint32_t features;   /* kva_feature_bits */
    kva_int_set head_dims;
    kva_int_set block_sizes; /* paged and QEfficient block sizes */
    int64_t max_seq_len; /* keys of one sequence; 0 = no limit */
    int64_t max_q_len;   /* new tokens of one sequence; 0 = no limit */
    int validates;       /* 1: refuses invalid input as this header says
                            (GPU kernels often do not: 0) */
    kva_lse_kind lse;
    kva_dtype out_dtype; /* F32; or F16 / BF16: out is then
                            [num_tokens][Hq][D] uint16 codes (host byte
                            order) at the address passed as `out` */
    kva_profile profile;
    int takes_threads;   /* 1: honours kva_attn_params.num_threads */
} kva_caps;

/* Fill *caps with what the library implements. The caller zeroes it
 * first; the library may start from kva_caps_everything. */
KVA_API void kva_capabilities(kva_caps *caps);

/* Everything an ABI 1 library claims: every mode, format, layout, size and
 * feature; validates; natural-log lse; fp32 output and arithmetic. */
static inline void kva_caps_everything(kva_caps *c)
{
    kva_caps all = {0};
    all.modes = KVA_MODE_ALL;
    all.formats[KVA_DTYPE_F32] = 1u << KVA_SCALE_NONE;
    all.formats[KVA_DTYPE_F16] = 1u << KVA_SCALE_NONE;
    all.formats[KVA_DTYPE_BF16] = 1u << KVA_SCALE_NONE;
    all.formats[KVA_DTYPE_FP8_E4M3] = all.formats[KVA_DTYPE_FP8_E5M2] =
        all.formats[KVA_DTYPE_INT8] = (1u << KVA_SCALE_TENSOR) |
                                      (1u << KVA_SCALE_HEAD) |
                                      (1u << KVA_SCALE_TOKEN);
    all.formats[KVA_DTYPE_NVFP4] = 1u << KVA_SCALE_GROUP;
    all.layouts = KVA_LAYOUT_ALL;
    all.features = KVA_FEATURE_ALL;
    all.head_dims.min = 1;
    all.block_sizes.min = 1;
    all.validates = 1;
    all.lse = KVA_LSE_NATURAL;
    all.out_dtype = KVA_DTYPE_F32;
    all.profile = KVA_PROFILE_FP32;
    *c = all;
}

#ifdef __cplusplus
}
#endif
#endif /* KVATTN_H */
