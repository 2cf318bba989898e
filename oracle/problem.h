/*
 * problem.h — the attention problem as logical tensors (no physical layout).
 *
 * This is what the oracle reads and what the generators produce. It knows
 * nothing of block tables or caches: those are the layout under test.
 * Semantics are those of ../shared/DESIGN.md, "The attention problem":
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
} kvc_problem;

/* Allocate the arrays of a problem with these lengths (copied), compute the
 * offsets, zero the tensors. Returns 0, or -1 (nothing left allocated) when
 * out of memory or a length is negative. */
int kvc_problem_alloc(kvc_problem *p, const kvc_config *cfg, int num_seqs,
                      const int *ctx_len, const int *q_len,
                      int64_t pad_tokens, int with_mask);

/* Free what kvc_problem_alloc allocated; safe on a zeroed struct. */
void kvc_problem_free(kvc_problem *p);

/* Deep copy. Returns 0 or -1. */
int kvc_problem_copy(kvc_problem *dst, const kvc_problem *src);

/* kv_len of sequence s. */
static inline int kvc_kv_len(const kvc_problem *p, int s)
{
    return p->ctx_len[s] + p->q_len[s];
}

/* Check a problem is well formed (counts, head divisibility, finite scale
 * and softcap, window >= -1). Returns 0, or -1 with a message in err. */
int kvc_problem_check(const kvc_problem *p, char *err, size_t errlen);

#endif /* KVC_PROBLEM_H */
