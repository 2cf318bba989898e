/*
 * kvattn.h — libkvattn, the production KV-cache attention kernels under test.
 *
 * This header is the whole contract a kernel author reads. The library
 * depends on libc, libm and pthreads only and knows nothing of the rest of
 * kvcheck (the oracle, the generators, the runner), so it can be lifted out
 * alone.
 *
 * The attention problem (see ../shared/DESIGN.md, "The attention problem"):
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
 *   - No hidden state: every function is reentrant.
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
    KVA_ERR_NOMEM       /* a temporary allocation failed */
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
} kva_attn_params;

/*
 * A paged K/V cache: a pool of num_blocks blocks of block_size token slots.
 * The element (block b, slot t, kv head h, dim d) of K lives at
 *   k[b*stride_block + t*stride_slot + h*stride_head + d]
 * and likewise for V (same strides). NHD = [blocks][B][Hkv][D] has
 * stride_slot = Hkv*D, stride_head = D; HND = [blocks][Hkv][B][D] has
 * stride_head = B*D, stride_slot = D; padded variants use larger strides.
 * The three strides must not make two (block, slot, head) rows overlap, and
 * every row must lie inside pool_elems elements of both k and v.
 * A contiguous cache [S][Hkv][CL][D] is the paged cache with num_blocks = S,
 * block_size = CL, HND strides: write it with kva_cache_write too.
 */
typedef struct kva_paged_cache {
    float *k;
    float *v;
    int64_t pool_elems;   /* elements in each of k and v */
    int64_t num_blocks;   /* >= 1 */
    int block_size;       /* B >= 1 */
    int num_kv_heads;     /* Hkv >= 1 */
    int head_dim;         /* D >= 1 */
    int64_t stride_block; /* elements */
    int64_t stride_slot;  /* elements */
    int64_t stride_head;  /* elements; D elements of one head are contiguous */
} kva_paged_cache;

/*
 * Write the K/V of num_tokens new tokens into the cache.
 *   k, v:          [num_tokens][Hkv][D], contiguous.
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
 * QEfficient BlockedKV: a contiguous cache k, v [S][Hkv][cache_len][D],
 * read and reduced in num_kv_blocks blocks of ceil(cache_len/num_kv_blocks)
 * positions with an online softmax. Batch fields as in kva_paged_batch,
 * without a block table; seq_lens[s] <= cache_len.
 */
typedef struct kva_blocked_cache {
    const float *k;
    const float *v;
    int num_seqs;     /* S, must equal the batch's num_seqs */
    int num_kv_heads; /* Hkv */
    int cache_len;    /* CL >= 1 */
    int head_dim;     /* D */
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

#ifdef __cplusplus
}
#endif
#endif /* KVATTN_H */
