/*
 * problem.h — the attention problem as logical tensors (no physical layout).
 *
 * This is what the oracle reads and what the generators produce. It knows
 * nothing of block tables or caches: those are the layout under test.
 * Semantics are those of docs/architecture.md, "The attention problem":
 *   - sequence s has ctx_len[s] cached tokens and q_len[s] new tokens; new
 *     token i of s sits at position ctx_len[s] + i and attends over keys
 *     j in [0, kv_len(s)) with kv_len(s) = ctx_len[s] + q_len[s];
 *   - query head h reads KV head h / (Hq / Hkv);
 *   - x = scale * q.k, then c * tanh(x / c) when softcap c > 0;
 *   - key j visible to the query at p iff (!causal || j <= p)
 *     && (window_left < 0 || j >= p - window_left) && mask[i][j];
 *   - out = softmax-weighted V over visible keys, lse = log sum exp(x);
 *     no visible key -> out = 0, lse = -inf.
 */
#ifndef KVC_PROBLEM_H
#define KVC_PROBLEM_H

#include <stddef.h>
#include <stdint.h>

#include "kv_format.h"

#define KVC_NO_WINDOW (-1)

typedef struct kvc_config {
    int num_q_heads;  /* Hq >= 1 */
    int num_kv_heads; /* Hkv >= 1, Hq % Hkv == 0 */
    int head_dim;     /* D >= 1 */
    float scale;      /* the exact fp32 value the kernel is given */
    float softcap;    /* 0 = off */
    int causal;       /* 1 causal, 0 bidirectional */
    int window_left;  /* KVC_NO_WINDOW or >= 0 */
} kvc_config;

/* Where the scale of a K/V element comes from (docs/kv-formats.md,
 * "Scales"; compressed-tensors' names). */
typedef enum kvc_scale_kind {
    KVC_SCALE_NONE = 0, /* f32, f16, bf16 */
    KVC_SCALE_TENSOR,   /* fp8/int8: static k_scale, v_scale */
    KVC_SCALE_HEAD,     /* fp8/int8 ("attn_head"): static [Hkv] each */
    KVC_SCALE_TOKEN,    /* fp8/int8: dynamic per (position, KV head) */
    KVC_SCALE_GROUP,    /* nvfp4: dynamic e4m3 code per 16 dims, static
                           global k_scale, v_scale */
    KVC_SCALE_KIND_COUNT
} kvc_scale_kind;

/* "none", "tensor", "attn_head", "token", "group"; "?" otherwise. */
const char *kvc_scale_kind_name(kvc_scale_kind k);
/* Parse a name above; 0, or -1 (k untouched). */
int kvc_scale_kind_parse(const char *s, kvc_scale_kind *k);

/* The KV cache format of a problem: the logical K/V are fp32; the cache
 * stores their codes, and attention runs on the stored values
 * (kv_store.h). A zeroed struct is f32 without scales. */
typedef struct kvc_kv_quant {
    kvc_kv_dtype dtype;
    kvc_scale_kind kind;
    float k_scale, v_scale; /* TENSOR: the static scales; GROUP: the nvfp4
                               global scales; else unused */
    float *k_head_scale;    /* HEAD: [Hkv], else NULL (kvc_problem_set_quant) */
    float *v_head_scale;
} kvc_kv_quant;

/*
 * Logical tensors of one batch. Offsets are derived by kvc_problem_alloc and
 * never set by hand:
 *   q_start[s]  first token row of sequence s in q (q_start[S] = real tokens)
 *   kv_start[s] first position row of sequence s in k and v
 *   mask_start[s] first byte of sequence s's [q_len][kv_len] mask
 * Token rows q_start[S] .. num_tokens-1 are padding tokens (no sequence):
 * they exist in q (their values are poison) but have no reference output.
 */
typedef struct kvc_problem {
    kvc_config cfg;
    int num_seqs;
    int *ctx_len;       /* [S] */
    int *q_len;         /* [S] */
    int64_t num_tokens; /* q_start[S] + padding tokens */
    int64_t *q_start;   /* [S+1] */
    int64_t *kv_start;  /* [S+1] */
    float *q;           /* [num_tokens][Hq][D] */
    float *k;           /* [kv_start[S]][Hkv][D], positions in order */
    float *v;           /* [kv_start[S]][Hkv][D] */
    int has_mask;       /* 0: mask == NULL */
    int64_t *mask_start; /* [S+1], NULL when !has_mask */
    uint8_t *mask;      /* concatenated [q_len][kv_len] per sequence */
    kvc_kv_quant quant; /* the cache format; zeroed = f32 */
} kvc_problem;

/* Allocate the arrays of a problem with these lengths (copied), compute the
 * offsets, zero the tensors. Returns 0, or -1 (nothing left allocated) when
 * out of memory or a length is negative. */
int kvc_problem_alloc(kvc_problem *p, const kvc_config *cfg, int num_seqs,
                      const int *ctx_len, const int *q_len,
                      int64_t pad_tokens, int with_mask);

/* Set the cache format of an allocated problem: dtype and kind, static
 * scales 1.0 (per-head arrays allocated for HEAD, filled with 1.0). Does not
 * check the combination (kvc_problem_check does). Returns 0 or -1 (out of
 * memory; quant left as it was). */
int kvc_problem_set_quant(kvc_problem *p, kvc_kv_dtype dtype,
                          kvc_scale_kind kind);

/* Whether a dtype takes a scale kind: none for f32/f16/bf16; tensor,
 * attn_head, token for fp8 and int8; group for nvfp4. */
int kvc_quant_kind_valid(kvc_kv_dtype dtype, kvc_scale_kind kind);

/* Free what kvc_problem_alloc allocated; safe on a zeroed struct. */
void kvc_problem_free(kvc_problem *p);

/* Deep copy (the cache format included). Returns 0 or -1. */
int kvc_problem_copy(kvc_problem *dst, const kvc_problem *src);

/* kv_len of sequence s. */
static inline int kvc_kv_len(const kvc_problem *p, int s)
{
    return p->ctx_len[s] + p->q_len[s];
}

/* Check a problem is well formed (counts, head divisibility, finite scale
 * and softcap, window >= -1; the cache format: a known dtype and a kind it
 * takes, static scales finite and > 0, head_dim % 16 == 0 for nvfp4).
 * Returns 0, or -1 with a message in err. */
int kvc_problem_check(const kvc_problem *p, char *err, size_t errlen);

#endif /* KVC_PROBLEM_H */
