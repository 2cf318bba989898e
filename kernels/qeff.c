/*
 * qeff.c — kva_qeff_to_general: QEfficient's padded paged inputs
 * (position_ids with -1 padding, slot_id, block table) converted to the
 * general varlen form (query_start_loc, seq_lens, slot_mapping), refusing
 * inputs that break QEfficient's write convention.
 *
 * The convention: a sequence's new tokens all go to its active block,
 * block_table[s][pmax / B], from offset slot_id[s] on. So the valid
 * positions must be consecutive, must not cross a block boundary, and must
 * start at offset slot_id[s] of that block. Every sequence is checked
 * before any output array is touched.
 */
#include "kva_internal.h"

#include <inttypes.h>
#include <limits.h>

/* The valid entries of one padded row, once checked. */
typedef struct qeff_row {
    int count; /* valid entries */
    int p0;    /* first position */
    int pmax;  /* last position */
} qeff_row;

static kva_status check_row(const kva_qeff_inputs *in, int s, qeff_row *r,
                            kva_error *err)
{
    const int B = in->block_size;
    r->count = 0;
    r->p0 = r->pmax = -1;
    if (in->max_q == 0)
        return KVA_OK; /* no entries (position_ids may be NULL) */
    const int *pos = in->position_ids + (int64_t)s * in->max_q;
    for (int i = 0; i < in->max_q; i++) {
        const int p = pos[i];
        if (p == -1)
            continue; /* padding entry */
        if (p < -1)
            return kva_fail(err, KVA_ERR_CONVENTION,
                            "sequence %d: position_ids[%d][%d] = %d is "
                            "negative (only -1 marks padding)",
                            s, s, i, p);
        /* In int64: pmax may be INT_MAX (refused below, after the loop). */
        if (r->count > 0 && (int64_t)p != (int64_t)r->pmax + 1)
            return kva_fail(err, KVA_ERR_CONVENTION,
                            "sequence %d: positions are not consecutive: "
                            "position_ids[%d][%d] = %d follows %d",
                            s, s, i, p, r->pmax);
        if (r->count == 0)
            r->p0 = p;
        r->pmax = p;
        r->count++;
    }
    if (r->count == 0)
        return KVA_OK; /* no new token: nothing to write or check */

    const int p0 = r->p0, pmax = r->pmax;
    if (p0 / B != pmax / B)
        return kva_fail(err, KVA_ERR_CONVENTION,
                        "sequence %d: positions %d..%d cross the block "
                        "boundary at %" PRId64 " (block_size %d)",
                        s, p0, pmax, ((int64_t)p0 / B + 1) * B, B);
    if (in->slot_id[s] != p0 % B)
        return kva_fail(err, KVA_ERR_CONVENTION,
                        "sequence %d: slot_id %d disagrees with first "
                        "position %d (%d mod %d = %d)",
                        s, in->slot_id[s], p0, p0, B, p0 % B);
    if (pmax == INT_MAX)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "sequence %d: position %d leaves no room for "
                        "seq_len = position + 1",
                        s, pmax);
    const int blk = pmax / B;
    if (blk >= in->num_kv_blocks)
        return kva_fail(err, KVA_ERR_LENGTH,
                        "sequence %d: position %d needs block_table[%d][%d] "
                        "but num_kv_blocks is %d",
                        s, pmax, s, blk, in->num_kv_blocks);
    const int active = in->block_table[(int64_t)s * in->num_kv_blocks + blk];
    if (active < 0 || active >= in->num_blocks)
        return kva_fail(err, KVA_ERR_BLOCK,
                        "sequence %d: active block block_table[%d][%d] = %d "
                        "for positions %d..%d is not in [0, %" PRId64 ")",
                        s, s, blk, active, p0, pmax, in->num_blocks);
    return KVA_OK;
}

static kva_status check_inputs(const kva_qeff_inputs *in,
                               const kva_general_inputs *o, kva_error *err)
{
    const int S = in->num_seqs;
    if (S < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_seqs %d is negative", S);
    if (in->max_q < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "max_q %d is negative",
                        in->max_q);
    if (in->num_kv_blocks < 0)
        return kva_fail(err, KVA_ERR_LENGTH, "num_kv_blocks %d is negative",
                        in->num_kv_blocks);
    if (in->block_size < 1)
        return kva_fail(err, KVA_ERR_SHAPE, "block_size %d must be >= 1",
                        in->block_size);
    if (in->num_blocks < 1)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "num_blocks %" PRId64 " must be >= 1", in->num_blocks);
    /* slot = block * B + offset must fit in int64 for every block. */
    if (in->num_blocks > INT64_MAX / in->block_size)
        return kva_fail(err, KVA_ERR_SHAPE,
                        "num_blocks %" PRId64 " x block_size %d overflows "
                        "int64",
                        in->num_blocks, in->block_size);

    const int64_t rows = (int64_t)S * in->max_q;
    if (rows > 0 && in->position_ids == NULL)
        return kva_fail(err, KVA_ERR_NULL, "position_ids is NULL");
    if (S > 0 && in->slot_id == NULL)
        return kva_fail(err, KVA_ERR_NULL, "slot_id is NULL");
    if (S > 0 && in->block_table == NULL)
        return kva_fail(err, KVA_ERR_NULL, "block_table is NULL");
    if (o->query_start_loc == NULL)
        return kva_fail(err, KVA_ERR_NULL, "out query_start_loc is NULL");
    if (S > 0 && o->seq_lens == NULL)
        return kva_fail(err, KVA_ERR_NULL, "out seq_lens is NULL");
    if (rows > 0 && o->slot_mapping == NULL)
        return kva_fail(err, KVA_ERR_NULL, "out slot_mapping is NULL");
    if (rows > 0 && o->src_row == NULL)
        return kva_fail(err, KVA_ERR_NULL, "out src_row is NULL");

    for (int s = 0; s < S; s++) {
        qeff_row r;
        kva_status st = check_row(in, s, &r, err);
        if (st != KVA_OK)
            return st;
    }
    return KVA_OK;
}

kva_status kva_qeff_to_general(const kva_qeff_inputs *in,
                               kva_general_inputs *outp, kva_error *err)
{
    kva_clear_error(err);
    if (in == NULL)
        return kva_fail(err, KVA_ERR_NULL, "qeff inputs are NULL");
    if (outp == NULL)
        return kva_fail(err, KVA_ERR_NULL, "general outputs are NULL");
    kva_status st = check_inputs(in, outp, err);
    if (st != KVA_OK)
        return st;

    const int S = in->num_seqs, B = in->block_size;
    const int64_t rows = (int64_t)S * in->max_q;
    int64_t t = 0;
    outp->query_start_loc[0] = 0;
    for (int s = 0; s < S; s++) {
        qeff_row r;
        check_row(in, s, &r, NULL); /* already passed; recomputes p0/pmax */
        /* No pointer arithmetic on a NULL position_ids (max_q == 0). */
        const int *pos =
            in->max_q > 0 ? in->position_ids + (int64_t)s * in->max_q : NULL;
        int64_t base = 0;
        if (r.count > 0) {
            const int blk = r.pmax / B;
            base = (int64_t)in->block_table[(int64_t)s * in->num_kv_blocks +
                                            blk] * B;
        }
        for (int i = 0; i < in->max_q; i++) {
            if (pos[i] < 0)
                continue;
            outp->slot_mapping[t] = base + pos[i] % B;
            outp->src_row[t] = (int64_t)s * in->max_q + i;
            t++;
        }
        outp->query_start_loc[s + 1] = t;
        outp->seq_lens[s] = r.count > 0 ? r.pmax + 1 : 0;
    }
    for (int64_t u = t; u < rows; u++) {
        outp->slot_mapping[u] = -1;
        outp->src_row[u] = -1;
    }
    outp->num_tokens = t;
    return KVA_OK;
}
