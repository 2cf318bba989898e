/*
 * bm_ops.h — operation sequences for the block manager (kvattn.h, "The
 * block manager"): a batch of sequences started from a few prompt
 * families (so prefixes are shared), prefilled in chunks, decoded,
 * speculated and rolled back, forked and freed, with appends that must
 * fail for lack of room and operations the manager must refuse.
 *
 * Drawing is a pure function of the scenario seed and the state it is
 * drawn against (lengths, liveness and the free count of the reference
 * model, which do not depend on which free block a correct manager takes),
 * so a scenario replays from its seed. Generators never call a kernel.
 */
#ifndef KVC_BM_OPS_H
#define KVC_BM_OPS_H

#include <stdint.h>

#include "../oracle/bm_model.h"

typedef enum kvc_bm_op_kind {
    KVC_BM_APPEND = 0, /* seq, n tokens */
    KVC_BM_FORK,       /* seq = parent, other = child */
    KVC_BM_ROLLBACK,   /* seq, n */
    KVC_BM_FREE,       /* seq */
    KVC_BM_OP_KINDS
} kvc_bm_op_kind;

/* "append", "fork", "rollback", "free". */
const char *kvc_bm_op_name(kvc_bm_op_kind k);

#define KVC_BM_MAX_APPEND 4096 /* tokens of one drawn append */

typedef struct kvc_bm_op {
    kvc_bm_op_kind kind;
    int seq;
    int other;
    int n;
    int32_t tokens[KVC_BM_MAX_APPEND]; /* APPEND: the first n are used */
} kvc_bm_op;

/* The generator's own state between draws (plain data; zero it, then
 * kvc_bm_gen_init). */
#define KVC_BM_MAX_SEQS 16
typedef struct kvc_bm_gen {
    uint64_t seed;
    uint64_t step;
    int family[KVC_BM_MAX_SEQS];  /* prompt family of each sequence */
    int pending_rollback[KVC_BM_MAX_SEQS]; /* speculative tokens to reject */
} kvc_bm_gen;

/* The manager configuration of scenario seed (small pools, so that
 * running out of blocks happens). */
void kvc_bm_draw_config(uint64_t seed, kva_bm_config *cfg);

void kvc_bm_gen_init(kvc_bm_gen *g, uint64_t seed);

/* Draw the next operation against the model's state. 0, or -1 when the
 * RNG cannot be allocated. */
int kvc_bm_draw_op(kvc_bm_gen *g, const kvc_bm_model *m, kvc_bm_op *op);

/* Record what op does to the generator's own state once it was applied
 * (status: what the model said). */
void kvc_bm_gen_after(kvc_bm_gen *g, const kvc_bm_op *op, kva_status status);

#endif /* KVC_BM_OPS_H */
