/*
 * fuzz_contract.h — the byte-format vocabulary of fuzz_contract.c that the
 * seed generator (make_seeds.c) shares: entry points and corruption kinds.
 *
 * Input layout: entry (one byte, 0..5); for the cache entries (paged,
 * blocked, write) the corruption count selector (one byte: < 64 none,
 * < 160 one, < 224 two, else three) and one byte per corruption kind,
 * the cache format section (fzm_format, fuzz_model.h: symmetric, so
 * make_seeds.c writes it), then the base input and the corruptions'
 * parameters (fuzz_contract.c). The qeff entry is followed by an
 * fzq_input, observe by an fzo_input, scale by an fzs_input
 * (fuzz_model.h).
 */
#ifndef KVC_FUZZ_CONTRACT_H
#define KVC_FUZZ_CONTRACT_H

#include "fuzz_model.h"

enum {
    FZC_PAGED,   /* kva_paged_attention */
    FZC_BLOCKED, /* kva_blocked_attention */
    FZC_WRITE,   /* kva_cache_write */
    FZC_QEFF,    /* kva_qeff_to_general */
    FZC_OBSERVE, /* kva_observer_update */
    FZC_SCALE,   /* kva_scale_from_amax */
    FZC_ENTRY_COUNT
};

#define FZC_P (1u << FZC_PAGED)
#define FZC_B (1u << FZC_BLOCKED)
#define FZC_W (1u << FZC_WRITE)
#define FZC_PBW (FZC_P | FZC_B | FZC_W)

/* X(name, entry points it applies to) — the order is the byte format. */
#define FZC_CORRUPTIONS(X)                                                    \
    X(NULL_PARAMS, FZC_P | FZC_B)                                             \
    X(NULL_CACHE, FZC_P | FZC_B | FZC_W)                                      \
    X(NULL_BATCH, FZC_P)                                                      \
    X(NULL_Q, FZC_P | FZC_B)                                                  \
    X(NULL_OUT, FZC_P | FZC_B)                                                \
    X(NULL_QSL, FZC_P | FZC_B)                                                \
    X(NULL_SEQ_LENS, FZC_P | FZC_B)                                           \
    X(NULL_TABLE, FZC_P)                                                      \
    X(NULL_CACHE_K, FZC_P | FZC_B | FZC_W)                                    \
    X(NULL_CACHE_V, FZC_P | FZC_B | FZC_W)                                    \
    X(NULL_SRC_K, FZC_W)                                                      \
    X(NULL_SRC_V, FZC_W)                                                      \
    X(NULL_SLOTS, FZC_W)                                                      \
    X(HQ, FZC_P | FZC_B)                                                      \
    X(HKV, FZC_P | FZC_B)                                                     \
    X(HEAD_DIM, FZC_P | FZC_B | FZC_W)                                        \
    X(SCALE, FZC_P | FZC_B)                                                   \
    X(SOFTCAP, FZC_P | FZC_B)                                                 \
    X(WINDOW, FZC_P | FZC_B)                                                  \
    X(CACHE_HKV, FZC_P | FZC_B)                                               \
    X(CACHE_D, FZC_P | FZC_B)                                                 \
    X(NUM_BLOCKS, FZC_P | FZC_W)                                              \
    X(BLOCK_SIZE, FZC_P | FZC_W)                                              \
    X(STRIDE, FZC_P | FZC_W)                                                  \
    X(POOL_SMALL, FZC_P | FZC_W)                                              \
    X(HUGE_GEOMETRY, FZC_P | FZC_W)                                           \
    X(NUM_SEQS, FZC_P | FZC_B)                                                \
    X(QSL0, FZC_P | FZC_B)                                                    \
    X(QSL_DECREASE, FZC_P | FZC_B)                                            \
    X(QSL_BEYOND, FZC_P | FZC_B)                                              \
    X(NUM_TOKENS, FZC_P | FZC_B)                                              \
    X(SEQ_LEN, FZC_P | FZC_B)                                                 \
    X(MAX_BLOCKS, FZC_P)                                                      \
    X(BLOCK_ID, FZC_P)                                                        \
    X(CACHE_LEN, FZC_B)                                                       \
    X(CACHE_SEQS, FZC_B)                                                      \
    X(NUM_KV_BLOCKS, FZC_B)                                                   \
    X(SLOT, FZC_W)                                                            \
    X(SLOT_DUP, FZC_W)                                                        \
    /* cache formats (from X_DTYPE on: the format corruptions) */             \
    X(DTYPE, FZC_PBW)            /* out of the enum, or another dtype */      \
    X(SCALE_KIND, FZC_PBW)       /* out of the enum, or another kind */       \
    X(STATIC_SCALE, FZC_PBW)     /* 0, -0, < 0, NaN, +-inf, -subnormal */     \
    X(NULL_HEADS, FZC_PBW)       /* k_head or v_head NULL */                  \
    X(NULL_SCALE_POOL, FZC_PBW)  /* k_pool or v_pool NULL */                  \
    X(SCALE_STRIDE, FZC_PBW)     /* overlapping, negative, huge */            \
    X(SCALE_POOL_SMALL, FZC_PBW) /* pool_units too small, 0, negative */      \
    X(NVFP4_DIM, FZC_PBW)        /* NVFP4 with head_dim % 16 != 0 */

#define FZC_ENUM_(name, entries) X_##name,
enum { FZC_CORRUPTIONS(FZC_ENUM_) X_COUNT };
#undef FZC_ENUM_

/* A corruption of the cache format only. */
#define FZC_IS_FORMAT(kind) ((kind) >= X_DTYPE)

/* For make_seeds (fuzz_contract.c): decode a paged/blocked/write input and
 * evaluate the model on it without calling the kernel. Returns 0 when the
 * harness would skip the input (or the entry is not a cache entry). */
typedef struct fzc_probe {
    fzm_verdict v;  /* the model's verdict (v.codes_known: exact) */
    int64_t tokens; /* real query tokens (attention) or named slots
                       (write) */
} fzc_probe;
int fzc_probe_input(const uint8_t *data, size_t size, fzc_probe *out);

#endif /* KVC_FUZZ_CONTRACT_H */
