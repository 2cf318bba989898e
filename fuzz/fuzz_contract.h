/*
 * fuzz_contract.h — the byte-format vocabulary of fuzz_contract.c that the
 * seed generator (make_seeds.c) shares: entry points and corruption kinds.
 *
 * Input layout: entry (one byte, 0..3); for entries other than qeff, the
 * corruption count selector (one byte: < 64 none, < 160 one, < 224 two,
 * else three) and one byte per corruption kind; then the base input and
 * the corruptions' parameters (fuzz_contract.c). The qeff entry is
 * followed by an fzq_input (fuzz_model.h).
 */
#ifndef KVC_FUZZ_CONTRACT_H
#define KVC_FUZZ_CONTRACT_H

enum { FZC_PAGED, FZC_BLOCKED, FZC_WRITE, FZC_QEFF, FZC_ENTRY_COUNT };

#define FZC_P (1u << FZC_PAGED)
#define FZC_B (1u << FZC_BLOCKED)
#define FZC_W (1u << FZC_WRITE)

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
    X(SLOT_DUP, FZC_W)

#define FZC_ENUM_(name, entries) X_##name,
enum { FZC_CORRUPTIONS(FZC_ENUM_) X_COUNT };
#undef FZC_ENUM_

#endif /* KVC_FUZZ_CONTRACT_H */
