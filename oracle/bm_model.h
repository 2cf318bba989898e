/*
 * bm_model.h — the reference model of the block manager (kernels/kvattn.h,
 * "The block manager"), written as plainly as possible: each sequence is a
 * list of token ids and a row of physical block ids; reference counts and
 * the free count are recomputed from the rows at every question; a
 * registered block remembers the whole token prefix it ends (no hashing:
 * two blocks have the same content when their prefixes are equal).
 *
 * Which free block a manager takes is its own choice, so the model judges
 * each answer and then follows it: a new block must be free in the model
 * and distinct from the other new ones; everything else (the status, which
 * block is shared, which one is copied, the slots) is predicted exactly.
 * Shares no code with kernels/.
 */
#ifndef KVC_BM_MODEL_H
#define KVC_BM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/kvattn.h"

typedef struct kvc_bm_model kvc_bm_model;

/* A model for cfg (NULL on an invalid cfg or no memory). */
kvc_bm_model *kvc_bm_model_new(const kva_bm_config *cfg);
void kvc_bm_model_free(kvc_bm_model *m);

/* What a manager answered to one operation. row_after is the sequence's
 * row read back after the call ([max_blocks_per_seq]); slots and copy only
 * for appends. */
typedef struct kvc_bm_answer {
    kva_status status;
    const int *row_after;
    const int64_t *slots;
    kva_bm_copy copy;
    int num_copies;
} kvc_bm_answer;

/* Judge a manager's answer to each operation; on a pass (1) the model
 * applies the operation as the manager did; on a failure (0) why names the
 * first difference and the model is unchanged. */
int kvc_bm_model_append(kvc_bm_model *m, int seq, const int32_t *tokens,
                        int n, const kvc_bm_answer *a, char *why, size_t len);
int kvc_bm_model_fork(kvc_bm_model *m, int parent, int child,
                      kva_status got, char *why, size_t len);
int kvc_bm_model_rollback(kvc_bm_model *m, int seq, int n, kva_status got,
                          char *why, size_t len);
int kvc_bm_model_free_seq(kvc_bm_model *m, int seq, kva_status got,
                          char *why, size_t len);

/* The model answering an operation itself (golden files, golden/
 * golden_cache.h): it predicts the status and, for an append, takes its
 * new blocks as the lowest-numbered free blocks, in order (the copy's
 * destination first, then each new row entry that shares nothing); it
 * fills *a (row_after, slots and copy point into the caller's buffers:
 * row [max_blocks_per_seq], slots [n]) and applies the operation as for a
 * judged answer. Return 0, or -1 when memory runs out (model unchanged). */
typedef struct kvc_bm_reply {
    kva_status status;
    int *row_after;  /* [max_blocks_per_seq]: the sequence's row after */
    int64_t *slots;  /* [n] (append only) */
    kva_bm_copy copy;
    int num_copies;
} kvc_bm_reply;
int kvc_bm_model_answer_append(kvc_bm_model *m, int seq, const int32_t *tokens,
                               int n, kvc_bm_reply *a);
kva_status kvc_bm_model_answer_fork(kvc_bm_model *m, int parent, int child);
kva_status kvc_bm_model_answer_rollback(kvc_bm_model *m, int seq, int n);
kva_status kvc_bm_model_answer_free(kvc_bm_model *m, int seq);

/* The model's view: a sequence's length (-1 not live), its tokens and row
 * ([max_blocks_per_seq], -1 past its blocks); reference counts recomputed
 * from every live row; the free count. */
int64_t kvc_bm_model_len(const kvc_bm_model *m, int seq);
const int32_t *kvc_bm_model_tokens(const kvc_bm_model *m, int seq);
const int *kvc_bm_model_row(const kvc_bm_model *m, int seq);
int kvc_bm_model_ref(const kvc_bm_model *m, int block);
int kvc_bm_model_num_free(const kvc_bm_model *m);
/* 1 when block is registered for sharing in the model. */
int kvc_bm_model_registered(const kvc_bm_model *m, int block);
const kva_bm_config *kvc_bm_model_config(const kvc_bm_model *m);

#endif /* KVC_BM_MODEL_H */
