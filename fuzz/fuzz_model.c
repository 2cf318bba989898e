/* fuzz_model.c — see fuzz_model.h. Written from kernels/kvattn.h only. */
#include "fuzz_model.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- verdicts ---- */

void fzm_verdict_init(fzm_verdict *v)
{
    memset(v, 0, sizeof *v);
}

void fzm_must(fzm_verdict *v, kva_status st, const char *fmt, ...)
{
    if (!v->must_refuse) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->reason, sizeof v->reason, fmt, ap);
        va_end(ap);
    }
    v->must_refuse = 1;
    v->allowed |= 1u << st;
}

void fzm_may(fzm_verdict *v, kva_status st)
{
    v->allowed |= 1u << st;
}

int fzm_check_status(const char *what, kva_status st, const kva_error *err,
                     const fzm_verdict *v)
{
    FZ_ASSERT((int)st >= KVA_OK && (int)st <= KVA_ERR_NOMEM,
              "%s returned %d, not a kva_status", what, (int)st);
#ifdef FZ_TRACE
    /* -DFZ_TRACE: one line per call, to measure what a corpus exercises */
    fprintf(stderr, "FZ_TRACE %s %s must_refuse=%d\n", what,
            kva_status_name(st), v->must_refuse);
#endif
    if (st == KVA_OK) {
        FZ_ASSERT(!v->must_refuse, "%s accepted an input the contract says "
                  "it must refuse: %s", what, v->reason);
        return 0;
    }
    if (v->codes_known && st != KVA_ERR_NOMEM)
        FZ_ASSERT(v->allowed & (1u << st),
                  "%s refused with %s, not a status the contract gives for "
                  "this input (%s)", what, kva_status_name(st),
                  v->must_refuse ? v->reason : "the model expected success");
    if (err != NULL) {
        FZ_ASSERT(err->status == st, "%s returned %s but err->status is %s",
                  what, kva_status_name(st), kva_status_name(err->status));
        FZ_ASSERT(memchr(err->msg, '\0', sizeof err->msg) != NULL,
                  "%s: err->msg is not NUL-terminated", what);
        FZ_ASSERT(err->msg[0] != '\0', "%s refused (%s) with an empty message",
                  what, kva_status_name(st));
    }
    return 1;
}

/* ---- paged cache ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void fzm_check_cache(const kva_paged_cache *c, fzm_verdict *v)
{
    if (c->k == NULL || c->v == NULL) {
        fzm_must(v, KVA_ERR_NULL, "cache k or v is NULL");
        return;
    }
    if (c->num_blocks < 1 || c->block_size < 1 || c->num_kv_heads < 1 ||
        c->head_dim < 1) {
        fzm_must(v, KVA_ERR_SHAPE, "cache sizes num_blocks %" PRId64
                 " block_size %d heads %d head_dim %d must all be >= 1",
                 c->num_blocks, c->block_size, c->num_kv_heads, c->head_dim);
        return;
    }
    const int64_t D = c->head_dim;
    if (c->pool_elems < D) {
        fzm_must(v, KVA_ERR_SHAPE, "pool_elems %" PRId64 " cannot hold one row"
                 " of head_dim %" PRId64, c->pool_elems, D);
        return;
    }
    /* Every row lies inside [0, pool_elems) only if each dimension's last
     * index does on its own (the offsets add). */
    const int64_t stride[3] = {c->stride_block, c->stride_slot, c->stride_head};
    const int64_t count[3] = {c->num_blocks, c->block_size, c->num_kv_heads};
    const int64_t room = c->pool_elems - D;
    for (int i = 0; i < 3; i++) {
        if (count[i] == 1)
            continue; /* index always 0: the stride never matters */
        if (stride[i] < 0) {
            fzm_must(v, KVA_ERR_SHAPE, "stride %d is negative (%" PRId64
                     ") with %" PRId64 " indices: a row lies below 0",
                     i, stride[i], count[i]);
            return;
        }
        if (stride[i] > 0 && count[i] - 1 > room / stride[i]) {
            fzm_must(v, KVA_ERR_SHAPE, "dimension %d (stride %" PRId64
                     " x %" PRId64 ") reaches past pool_elems %" PRId64,
                     i, stride[i], count[i], c->pool_elems);
            return;
        }
    }
    /* Pigeonhole: non-overlapping rows of D elements need rows*D elements. */
    int64_t rows = count[0];
    for (int i = 1; i < 3; i++) {
        if (rows > c->pool_elems / count[i]) {
            rows = -1;
            break;
        }
        rows *= count[i];
    }
    if (rows < 0 || rows > c->pool_elems / D) {
        fzm_must(v, KVA_ERR_SHAPE, "%" PRId64 " x %" PRId64 " x %" PRId64
                 " rows of %" PRId64 " elements cannot fit in pool_elems %"
                 PRId64 " without overlapping", count[0], count[1], count[2],
                 D, c->pool_elems);
        return;
    }
    /* rows <= pool_elems: enumerate, sort, look for an overlap. Each term
     * is <= room, so the sums cannot overflow. */
    int64_t *off = fz_alloc((size_t)rows, sizeof *off);
    int64_t n = 0;
    for (int64_t b = 0; b < count[0]; b++)
        for (int64_t t = 0; t < count[1]; t++)
            for (int64_t h = 0; h < count[2]; h++)
                off[n++] = (count[0] > 1 ? b * stride[0] : 0) +
                           (count[1] > 1 ? t * stride[1] : 0) +
                           (count[2] > 1 ? h * stride[2] : 0);
    qsort(off, (size_t)n, sizeof *off, cmp_i64);
    for (int64_t i = 0; i < n; i++) {
        if (off[i] + D > c->pool_elems) {
            fzm_must(v, KVA_ERR_SHAPE, "a row at offset %" PRId64
                     " ends past pool_elems %" PRId64, off[i], c->pool_elems);
            break;
        }
        if (i + 1 < n && off[i + 1] < off[i] + D) {
            fzm_must(v, KVA_ERR_SHAPE, "rows at offsets %" PRId64 " and %"
                     PRId64 " overlap (head_dim %" PRId64 ")", off[i],
                     off[i + 1], D);
            break;
        }
    }
    free(off);
}

int fzm_visible(const kva_attn_params *p, int64_t pos, int64_t j,
                const uint8_t *mask_row)
{
    if (p->causal && j > pos)
        return 0;
    if (p->window_left >= 0 && j < pos - p->window_left)
        return 0;
    return mask_row == NULL || mask_row[j] != 0;
}

/* ---- QEfficient: byte format ---- */

static const int bad_counts[] = {-1, INT_MIN};
static const int bad_block_size[] = {0, -1, INT_MIN, INT_MAX};
static const int64_t bad_num_blocks[] = {0, -1, INT64_MAX, INT64_MIN,
                                         (int64_t)INT_MAX + 1};
static const int bad_pos[] = {INT_MAX, INT_MAX - 1, INT_MIN, -2};
static const int bad_slot[] = {-1, INT_MIN, INT_MAX};
static const int null_bits[] = {FZQ_NULL_IN,       FZQ_NULL_OUTP,
                                FZQ_NULL_POS,      FZQ_NULL_SLOT_ID,
                                FZQ_NULL_TABLE,    FZQ_NULL_QSL,
                                FZQ_NULL_SEQ_LENS, FZQ_NULL_SLOTS,
                                FZQ_NULL_SRC};
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int clampi(int x, int lo, int hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The structured form of a row: count consecutive positions p0.. starting
 * at column off, -1 elsewhere. Returns 1 (and fills) when row is of that
 * form. */
static int row_structure(const int *row, int mq, int *p0, int *count, int *off)
{
    int first = -1, n = 0;
    for (int i = 0; i < mq; i++)
        if (row[i] != -1) {
            if (first < 0)
                first = i;
            n++;
        }
    if (n == 0) {
        *p0 = 0;
        *count = 0;
        *off = 0;
        return 1;
    }
    for (int i = first; i < first + n; i++)
        if (i >= mq || row[i] < 0 ||
            (int64_t)row[i] != (int64_t)row[first] + (i - first))
            return 0;
    *p0 = row[first];
    *count = n;
    *off = first;
    return 1;
}

void fzq_io(fz_io *io, fzq_input *in)
{
    if (!io->writing) {
        memset(in, 0, sizeof *in);
        for (int s = 0; s < FZQ_MAX_S; s++)
            for (int i = 0; i < FZQ_MAX_Q; i++)
                in->pos[s][i] = -1;
    }
    fz_io_int_special(io, &in->num_seqs, 0, FZQ_MAX_S, bad_counts,
                      NELEM(bad_counts));
    fz_io_int_special(io, &in->max_q, 0, FZQ_MAX_Q, bad_counts,
                      NELEM(bad_counts));
    fz_io_int_special(io, &in->block_size, 1, 64, bad_block_size,
                      NELEM(bad_block_size));
    fz_io_int_special(io, &in->num_kv_blocks, 0, FZQ_MAX_NKB, bad_counts,
                      NELEM(bad_counts));
    fz_io_i64_special(io, &in->num_blocks, 1, 1024, bad_num_blocks,
                      NELEM(bad_num_blocks));
    /* A raw (selector >= 240) count above the array bounds is clamped:
     * the harness allocates exactly what the counts claim. */
    if (!io->writing) {
        if (in->num_seqs > FZQ_MAX_S)
            in->num_seqs = FZQ_MAX_S;
        if (in->max_q > FZQ_MAX_Q)
            in->max_q = FZQ_MAX_Q;
        if (in->num_kv_blocks > FZQ_MAX_NKB)
            in->num_kv_blocks = FZQ_MAX_NKB;
    }
    const int S = clampi(in->num_seqs, 0, FZQ_MAX_S);
    const int MQ = clampi(in->max_q, 0, FZQ_MAX_Q);
    const int NKB = clampi(in->num_kv_blocks, 0, FZQ_MAX_NKB);
    const int B = in->block_size;

    for (int s = 0; s < S; s++) {
        int *row = in->pos[s];
        int p0 = 0, count = 0, off = 0;
        int structured = 1;
        if (io->writing)
            structured = row_structure(row, MQ, &p0, &count, &off);
        fz_io_bool(io, &structured);
        if (structured) {
            fz_io_int_special(io, &p0, 0, 4095, bad_pos, NELEM(bad_pos));
            fz_io_int(io, &count, 0, MQ);
            fz_io_int(io, &off, 0, MQ - count);
            if (!io->writing)
                for (int k = 0; k < count; k++) {
                    int64_t p = (int64_t)p0 + k;
                    row[off + k] = p > INT_MAX ? INT_MAX : (int)p;
                }
        } else {
            for (int i = 0; i < MQ; i++)
                fz_io_int_special(io, &row[i], -1, 255, bad_pos,
                                  NELEM(bad_pos));
        }
        /* slot_id: "consistent with the row" or an explicit value */
        int consistent_slot = -1;
        {
            int q0, qn, qo;
            if (B >= 1 && row_structure(row, MQ, &q0, &qn, &qo))
                consistent_slot = qn > 0 ? q0 % B : 0;
        }
        int explicit_slot = 1;
        if (io->writing)
            explicit_slot = consistent_slot < 0 ||
                            in->slot_id[s] != consistent_slot;
        fz_io_bool(io, &explicit_slot);
        if (explicit_slot)
            fz_io_int_special(io, &in->slot_id[s], 0, 255, bad_slot,
                              NELEM(bad_slot));
        else if (!io->writing)
            in->slot_id[s] = consistent_slot < 0 ? 0 : consistent_slot;
    }
    const int nb_hi = in->num_blocks < 1 ? 0
                      : in->num_blocks > 1024 ? 1023
                      : (int)in->num_blocks - 1;
    const int table_specials[] = {INT_MAX, INT_MIN, -2,
                                  in->num_blocks > INT_MAX ? INT_MAX
                                  : in->num_blocks < INT_MIN ? INT_MIN
                                  : (int)in->num_blocks};
    for (int s = 0; s < S; s++)
        for (int b = 0; b < NKB; b++)
            fz_io_int_special(io, &in->table[s][b], -1, nb_hi, table_specials,
                              NELEM(table_specials));
    fz_io_int_special(io, &in->null_mask, 0, 0, null_bits, NELEM(null_bits));
    fz_io_bool(io, &in->err_null);
}

/* ---- QEfficient: the rules and the reference ---- */

/* The buffers of one call. */
typedef struct qeff_call {
    kva_qeff_inputs in;
    kva_general_inputs out;
    int64_t rows;
    size_t n_qsl, n_seq, n_rows; /* allocated elements of the outputs */
} qeff_call;

/* Row facts per the header: valid entries (!= -1), in row order. */
typedef struct row_facts {
    int count, p0, pmax;
    int bad_value;   /* an entry < -1 */
    int not_consecutive;
} row_facts;

static row_facts scan_row(const int *row, int mq)
{
    row_facts f = {0, -1, -1, 0, 0};
    for (int i = 0; i < mq; i++) {
        int p = row[i];
        if (p == -1)
            continue;
        if (p < -1) {
            f.bad_value = 1;
            continue;
        }
        if (f.count > 0 && (int64_t)p != (int64_t)f.pmax + 1)
            f.not_consecutive = 1;
        if (f.count == 0)
            f.p0 = p;
        f.pmax = p;
        f.count++;
    }
    return f;
}

static void qeff_verdict(const qeff_call *c, int in_null, int out_null,
                         fzm_verdict *v)
{
    fzm_verdict_init(v);
    v->codes_known = 1;
    if (in_null) {
        fzm_must(v, KVA_ERR_NULL, "inputs pointer is NULL");
        return;
    }
    if (out_null) {
        fzm_must(v, KVA_ERR_NULL, "general outputs pointer is NULL");
        return;
    }
    const kva_qeff_inputs *in = &c->in;
    const kva_general_inputs *o = &c->out;
    /* A NULL array may be reported before anything else. */
    if (in->position_ids == NULL || in->slot_id == NULL ||
        in->block_table == NULL || o->query_start_loc == NULL ||
        o->seq_lens == NULL || o->slot_mapping == NULL || o->src_row == NULL)
        fzm_may(v, KVA_ERR_NULL);
    int generic = 0;
    if (in->num_seqs < 0 || in->max_q < 0 || in->num_kv_blocks < 0) {
        fzm_must(v, KVA_ERR_LENGTH, "negative count (S %d, max_q %d, "
                 "num_kv_blocks %d)", in->num_seqs, in->max_q,
                 in->num_kv_blocks);
        generic = 1;
    }
    if (in->block_size < 1 || in->num_blocks < 1) {
        fzm_must(v, KVA_ERR_SHAPE, "block_size %d / num_blocks %" PRId64
                 " must be >= 1", in->block_size, in->num_blocks);
        generic = 1;
    }
    if (!generic && in->num_blocks > INT64_MAX / in->block_size)
        fzm_may(v, KVA_ERR_SHAPE); /* slot ids would not fit in int64 */
    if (generic)
        return;
    const int64_t rows = (int64_t)in->num_seqs * in->max_q;
    const int S = in->num_seqs;
    if (o->query_start_loc == NULL)
        fzm_must(v, KVA_ERR_NULL, "out query_start_loc is NULL");
    if (S > 0 && o->seq_lens == NULL)
        fzm_must(v, KVA_ERR_NULL, "out seq_lens is NULL");
    if (rows > 0 && (o->slot_mapping == NULL || o->src_row == NULL))
        fzm_must(v, KVA_ERR_NULL, "out slot_mapping/src_row is NULL");
    if (rows > 0 && in->position_ids == NULL) {
        fzm_must(v, KVA_ERR_NULL, "position_ids is NULL");
        return;
    }
    if (rows == 0)
        return;
    const int B = in->block_size;
    for (int s = 0; s < S; s++) {
        const int *row = in->position_ids + (int64_t)s * in->max_q;
        row_facts f = scan_row(row, in->max_q);
        if (f.bad_value)
            fzm_must(v, KVA_ERR_CONVENTION, "sequence %d: a position < -1", s);
        if (f.not_consecutive)
            fzm_must(v, KVA_ERR_CONVENTION,
                     "sequence %d: positions not consecutive", s);
        if (f.count == 0)
            continue;
        if (in->slot_id == NULL || in->block_table == NULL) {
            fzm_must(v, KVA_ERR_NULL, "sequence %d has tokens but slot_id/"
                     "block_table is NULL", s);
            continue;
        }
        if (f.p0 / B != f.pmax / B)
            fzm_must(v, KVA_ERR_CONVENTION, "sequence %d: positions %d..%d "
                     "cross a block boundary (B %d)", s, f.p0, f.pmax, B);
        if (in->slot_id[s] != f.p0 % B)
            fzm_must(v, KVA_ERR_CONVENTION, "sequence %d: slot_id %d != %d "
                     "mod %d", s, in->slot_id[s], f.p0, B);
        if (f.pmax == INT_MAX) {
            /* seq_len = pmax + 1 is not an int */
            fzm_must(v, KVA_ERR_LENGTH, "sequence %d: position INT_MAX", s);
            fzm_may(v, KVA_ERR_CONVENTION);
        }
        const int blk = f.pmax / B;
        if (blk >= in->num_kv_blocks) {
            fzm_must(v, KVA_ERR_LENGTH, "sequence %d: block %d of position %d"
                     " is beyond num_kv_blocks %d", s, blk, f.pmax,
                     in->num_kv_blocks);
            continue;
        }
        const int active =
            in->block_table[(int64_t)s * in->num_kv_blocks + blk];
        if (active < 0 || active >= in->num_blocks)
            fzm_must(v, KVA_ERR_BLOCK, "sequence %d: active block %d is not "
                     "in [0, %" PRId64 ")", s, active, in->num_blocks);
    }
}

/* The general form by the header's definition: tokens in batch order; the
 * k-th valid entry of row s goes to offset slot_id[s] + k of the active
 * block. */
static void qeff_expect(const kva_qeff_inputs *in, int64_t *qsl, int *seq_lens,
                        int64_t *slots, int64_t *src, int64_t *num_tokens)
{
    const int S = in->num_seqs, MQ = in->max_q, B = in->block_size;
    int64_t t = 0;
    qsl[0] = 0;
    for (int s = 0; s < S; s++) {
        /* (no pointer arithmetic on a NULL position_ids when MQ == 0) */
        const int *row = MQ > 0 ? in->position_ids + (int64_t)s * MQ : NULL;
        row_facts f = scan_row(row, MQ);
        int64_t active = f.count > 0
            ? in->block_table[(int64_t)s * in->num_kv_blocks + f.pmax / B]
            : -1;
        int k = 0;
        for (int i = 0; i < MQ; i++) {
            if (row[i] == -1)
                continue;
            slots[t] = active * B + in->slot_id[s] + k;
            src[t] = (int64_t)s * MQ + i;
            k++;
            t++;
        }
        qsl[s + 1] = t;
        seq_lens[s] = f.count > 0 ? f.pmax + 1 : 0;
    }
    for (int64_t u = t; u < (int64_t)S * MQ; u++)
        slots[u] = src[u] = -1;
    *num_tokens = t;
}

#define OUT_SENTINEL_TOKENS ((int64_t)0x5A5A5A5A5A5A5A5A)

void fzq_run(const fzq_input *fi, const kvc_kernel *k)
{
    qeff_call c;
    memset(&c, 0, sizeof c);
    const int S = fi->num_seqs, MQ = fi->max_q, NKB = fi->num_kv_blocks;
    /* Exactly-sized inputs (zero-sized where a count is negative). */
    const size_t n_s = S > 0 ? (size_t)S : 0;
    const size_t n_mq = MQ > 0 ? (size_t)MQ : 0;
    const size_t n_nkb = NKB > 0 ? (size_t)NKB : 0;
    const size_t n_rows = n_s * n_mq;
    int *pos = fz_alloc(n_rows, sizeof *pos);
    int *slot_id = fz_alloc(n_s, sizeof *slot_id);
    int *table = fz_alloc(n_s * n_nkb, sizeof *table);
    for (size_t s = 0; s < n_s; s++) {
        slot_id[s] = fi->slot_id[s];
        for (size_t i = 0; i < n_mq; i++)
            pos[s * n_mq + i] = fi->pos[s][i];
        for (size_t b = 0; b < n_nkb; b++)
            table[s * n_nkb + b] = fi->table[s][b];
    }
    const int nm = fi->null_mask;
    c.in = (kva_qeff_inputs){S,
                             MQ,
                             (nm & FZQ_NULL_POS) ? NULL : pos,
                             (nm & FZQ_NULL_SLOT_ID) ? NULL : slot_id,
                             (nm & FZQ_NULL_TABLE) ? NULL : table,
                             NKB,
                             fi->block_size,
                             fi->num_blocks};
    /* Exactly-sized outputs, filled with a pattern. */
    c.n_qsl = n_s + 1;
    c.n_seq = n_s;
    c.n_rows = n_rows;
    int64_t *qsl = fz_alloc(c.n_qsl, sizeof *qsl);
    int *seq_lens = fz_alloc(c.n_seq, sizeof *seq_lens);
    int64_t *slots = fz_alloc(c.n_rows, sizeof *slots);
    int64_t *src = fz_alloc(c.n_rows, sizeof *src);
    fz_fill_pattern(qsl, c.n_qsl * sizeof *qsl, 1);
    fz_fill_pattern(seq_lens, c.n_seq * sizeof *seq_lens, 2);
    fz_fill_pattern(slots, c.n_rows * sizeof *slots, 3);
    fz_fill_pattern(src, c.n_rows * sizeof *src, 4);
    c.out = (kva_general_inputs){(nm & FZQ_NULL_QSL) ? NULL : qsl,
                                 (nm & FZQ_NULL_SEQ_LENS) ? NULL : seq_lens,
                                 (nm & FZQ_NULL_SLOTS) ? NULL : slots,
                                 (nm & FZQ_NULL_SRC) ? NULL : src,
                                 OUT_SENTINEL_TOKENS};
    int64_t *qsl0 = fz_dup(qsl, c.n_qsl, sizeof *qsl);
    int *seq0 = fz_dup(seq_lens, c.n_seq, sizeof *seq_lens);
    int64_t *slots0 = fz_dup(slots, c.n_rows, sizeof *slots);
    int64_t *src0 = fz_dup(src, c.n_rows, sizeof *src);
    int *pos0 = fz_dup(pos, n_rows, sizeof *pos);
    int *slot_id0 = fz_dup(slot_id, n_s, sizeof *slot_id);
    int *table0 = fz_dup(table, n_s * n_nkb, sizeof *table);

    fzm_verdict v;
    qeff_verdict(&c, nm & FZQ_NULL_IN, nm & FZQ_NULL_OUTP, &v);

    kva_error err;
    memset(&err, 0x5A, sizeof err);
    kva_general_inputs out_copy = c.out;
    kva_status st = k->qeff_to_general((nm & FZQ_NULL_IN) ? NULL : &c.in,
                                       (nm & FZQ_NULL_OUTP) ? NULL : &c.out,
                                       fi->err_null ? NULL : &err);
    int refused = fzm_check_status("kva_qeff_to_general", st,
                                   fi->err_null ? NULL : &err, &v);

    /* Inputs are const: never modified. */
    FZ_ASSERT(memcmp(pos, pos0, n_rows * sizeof *pos) == 0 &&
              memcmp(slot_id, slot_id0, n_s * sizeof *slot_id) == 0 &&
              memcmp(table, table0, n_s * n_nkb * sizeof *table) == 0,
              "kva_qeff_to_general modified its inputs");
    if (refused) {
        FZ_ASSERT(memcmp(&c.out, &out_copy, sizeof c.out) == 0,
                  "refusal (%s) changed the general outputs struct "
                  "(num_tokens or a pointer)", kva_status_name(st));
        FZ_ASSERT(memcmp(qsl, qsl0, c.n_qsl * sizeof *qsl) == 0 &&
                  memcmp(seq_lens, seq0, c.n_seq * sizeof *seq_lens) == 0 &&
                  memcmp(slots, slots0, c.n_rows * sizeof *slots) == 0 &&
                  memcmp(src, src0, c.n_rows * sizeof *src) == 0,
                  "refusal (%s: %s) wrote an output array",
                  kva_status_name(st), fi->err_null ? "" : err.msg);
    } else {
        /* Accepted: the model found no violation, so every pointer the
         * reference needs is present. */
        int64_t *eq = fz_alloc(c.n_qsl, sizeof *eq);
        int *es = fz_alloc(c.n_seq, sizeof *es);
        int64_t *esl = fz_alloc(c.n_rows, sizeof *esl);
        int64_t *esr = fz_alloc(c.n_rows, sizeof *esr);
        int64_t en = 0;
        qeff_expect(&c.in, eq, es, esl, esr, &en);
        FZ_ASSERT(c.out.num_tokens == en, "num_tokens %" PRId64 ", want %"
                  PRId64, c.out.num_tokens, en);
        for (size_t s = 0; s <= n_s; s++)
            FZ_ASSERT(qsl[s] == eq[s], "query_start_loc[%zu] = %" PRId64
                      ", want %" PRId64, s, qsl[s], eq[s]);
        for (size_t s = 0; s < n_s; s++)
            FZ_ASSERT(seq_lens[s] == es[s], "seq_lens[%zu] = %d, want %d", s,
                      seq_lens[s], es[s]);
        for (size_t t = 0; t < c.n_rows; t++)
            FZ_ASSERT(slots[t] == esl[t] && src[t] == esr[t],
                      "token %zu: slot %" PRId64 " src_row %" PRId64
                      ", want slot %" PRId64 " src_row %" PRId64, t, slots[t],
                      src[t], esl[t], esr[t]);
        free(eq);
        free(es);
        free(esl);
        free(esr);
    }
    free(pos);
    free(slot_id);
    free(table);
    free(qsl);
    free(seq_lens);
    free(slots);
    free(src);
    free(qsl0);
    free(seq0);
    free(slots0);
    free(src0);
    free(pos0);
    free(slot_id0);
    free(table0);
}
