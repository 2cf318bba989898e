/*
 * test_kernel_validation.c — libkvattn's refusals and a few hand-computable
 * answers.
 *
 * One test per validation rule of each entry point: the bad input is
 * refused with the exact status, the message names the offending thing,
 * and nothing was written (every output, cache and conversion array is
 * filled with a byte pattern before the call and compared after). The
 * positive tests are small enough to check by hand; agreement with the
 * oracle on random problems is the cross-check runner's job, not this
 * file's.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../kernels/kvattn.h"

#define POISON 0xA5 /* byte pattern of "never written" */

/* ---- a small paged problem --------------------------------------------
 * Hq 4, Hkv 2, D 4, B 4, 4 blocks, NHD. Sequence 0: ctx 4 + q 2 (seq_len
 * 6, blocks {2, 0}); sequence 1: ctx 2 + q 1 (seq_len 3, blocks {1, -1}).
 * Four tokens, the last a padding token.
 */
enum { PHQ = 4, PHKV = 2, PD = 4, PB = 4, PNB = 4, PNT = 4, PS = 2, PMB = 2 };
#define PPOOL (PNB * PB * PHKV * PD)

typedef struct paged_fix {
    kva_attn_params p;
    float kpool[PPOOL], vpool[PPOOL];
    kva_paged_cache c;
    int64_t qsl[PS + 1];
    int seq_lens[PS];
    int table[PS * PMB];
    kva_paged_batch b;
    float q[PNT * PHQ * PD];
    float out[PNT * PHQ * PD], lse[PNT * PHQ];
    /* snapshots taken after setup */
    float kref[PPOOL], vref[PPOOL], outref[PNT * PHQ * PD], lseref[PNT * PHQ];
    /* what the call receives; tests replace one of them */
    const kva_attn_params *pp;
    const kva_paged_cache *cp;
    const kva_paged_batch *bp;
    const float *qp;
    float *outp, *lsep;
    int64_t num_tokens;
} paged_fix;

static void paged_setup(paged_fix *f)
{
    memset(f, 0, sizeof *f);
    f->p = (kva_attn_params){PHQ, PHKV, PD, 0.5f, 0.0f, 1, -1, 0};
    for (int i = 0; i < PPOOL; i++) {
        f->kpool[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
        f->vpool[i] = (float)((i * 5) % 13) / 13.0f;
    }
    f->c = (kva_paged_cache){f->kpool, f->vpool, PPOOL, PNB, PB, PHKV, PD,
                             PB * PHKV * PD, PHKV * PD, PD, KVA_DTYPE_F32,
                             {0}};
    f->qsl[0] = 0, f->qsl[1] = 2, f->qsl[2] = 3;
    f->seq_lens[0] = 6, f->seq_lens[1] = 3;
    f->table[0] = 2, f->table[1] = 0, f->table[2] = 1, f->table[3] = -1;
    f->b = (kva_paged_batch){PS, f->qsl, f->seq_lens, f->table, PMB, NULL};
    for (int i = 0; i < PNT * PHQ * PD; i++)
        f->q[i] = (float)((i * 3) % 7) / 7.0f - 0.4f;
    memset(f->out, POISON, sizeof f->out);
    memset(f->lse, POISON, sizeof f->lse);
    f->pp = &f->p, f->cp = &f->c, f->bp = &f->b, f->qp = f->q;
    f->outp = f->out, f->lsep = f->lse, f->num_tokens = PNT;
}

static void paged_snapshot(paged_fix *f)
{
    memcpy(f->kref, f->kpool, sizeof f->kref);
    memcpy(f->vref, f->vpool, sizeof f->vref);
    memcpy(f->outref, f->out, sizeof f->outref);
    memcpy(f->lseref, f->lse, sizeof f->lseref);
}

static kva_status paged_call(paged_fix *f, kva_error *err)
{
    return kva_paged_attention(f->pp, f->cp, f->bp, f->qp, f->num_tokens,
                               f->outp, f->lsep, err);
}

/* Refused with `want`, a message containing `needle`, nothing written. */
static void paged_refused(paged_fix *f, kva_status want, const char *needle)
{
    kva_error err;
    memset(&err, 0, sizeof err);
    paged_snapshot(f);
    kva_status st = paged_call(f, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert_eq(err.status, want);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle);
    cr_assert(memcmp(f->out, f->outref, sizeof f->out) == 0, "out written");
    cr_assert(memcmp(f->lse, f->lseref, sizeof f->lse) == 0, "lse written");
    cr_assert(memcmp(f->kpool, f->kref, sizeof f->kpool) == 0, "K written");
    cr_assert(memcmp(f->vpool, f->vref, sizeof f->vpool) == 0, "V written");
}

/* ---- a small blocked problem ------------------------------------------
 * Hq 2, Hkv 1, D 4, cache_len 8, 3 KV blocks (tiles of 3), 2 sequences:
 * q 2 / seq_len 5 and q 1 / seq_len 8; four tokens, the last padding.
 */
enum { BHQ = 2, BHKV = 1, BD = 4, BCL = 8, BS = 2, BNT = 4, BNKB = 3 };
#define BCACHE (BS * BHKV * BCL * BD)

typedef struct blocked_fix {
    kva_attn_params p;
    float k[BCACHE], v[BCACHE];
    kva_blocked_cache c;
    int64_t qsl[BS + 1];
    int seq_lens[BS];
    float q[BNT * BHQ * BD];
    float out[BNT * BHQ * BD], lse[BNT * BHQ];
    float outref[BNT * BHQ * BD], lseref[BNT * BHQ];
    const kva_attn_params *pp;
    const kva_blocked_cache *cp;
    int num_kv_blocks, num_seqs;
    const int64_t *qslp;
    const int *seq_lensp;
    const float *qp;
    float *outp, *lsep;
    int64_t num_tokens;
} blocked_fix;

static void blocked_setup(blocked_fix *f)
{
    memset(f, 0, sizeof *f);
    f->p = (kva_attn_params){BHQ, BHKV, BD, 0.5f, 0.0f, 1, -1, 0};
    for (int i = 0; i < BCACHE; i++) {
        f->k[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
        f->v[i] = (float)((i * 5) % 13) / 13.0f;
    }
    f->c = (kva_blocked_cache){f->k, f->v, BS, BHKV, BCL, BD, KVA_DTYPE_F32,
                               {0}};
    f->qsl[0] = 0, f->qsl[1] = 2, f->qsl[2] = 3;
    f->seq_lens[0] = 5, f->seq_lens[1] = 8;
    for (int i = 0; i < BNT * BHQ * BD; i++)
        f->q[i] = (float)((i * 3) % 7) / 7.0f - 0.4f;
    memset(f->out, POISON, sizeof f->out);
    memset(f->lse, POISON, sizeof f->lse);
    f->pp = &f->p, f->cp = &f->c, f->num_kv_blocks = BNKB, f->num_seqs = BS;
    f->qslp = f->qsl, f->seq_lensp = f->seq_lens, f->qp = f->q;
    f->outp = f->out, f->lsep = f->lse, f->num_tokens = BNT;
}

static kva_status blocked_call(blocked_fix *f, kva_error *err)
{
    return kva_blocked_attention(f->pp, f->cp, f->num_kv_blocks, f->num_seqs,
                                 f->qslp, f->seq_lensp, NULL, f->qp,
                                 f->num_tokens, f->outp, f->lsep, err);
}

static void blocked_refused(blocked_fix *f, kva_status want,
                            const char *needle)
{
    kva_error err;
    memset(&err, 0, sizeof err);
    memcpy(f->outref, f->out, sizeof f->out);
    memcpy(f->lseref, f->lse, sizeof f->lse);
    kva_status st = blocked_call(f, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert_eq(err.status, want);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle);
    cr_assert(memcmp(f->out, f->outref, sizeof f->out) == 0, "out written");
    cr_assert(memcmp(f->lse, f->lseref, sizeof f->lse) == 0, "lse written");
}

/* ---- a small cache write ----------------------------------------------
 * The paged fixture's cache shape (16 slots, NHD, pool_elems PPOOL) in
 * buffers with room for padded strides; three tokens to slots {5, -1, 9}.
 */
enum { WNT = 3, WPOOL = 192 };

typedef struct write_fix {
    float kpool[WPOOL], vpool[WPOOL], kref[WPOOL], vref[WPOOL];
    kva_paged_cache c;
    float k[WNT * PHKV * PD], v[WNT * PHKV * PD];
    int64_t slots[WNT];
    const kva_paged_cache *cp;
    const float *kp, *vp;
    const int64_t *slotp;
    int64_t num_tokens;
} write_fix;

static void write_setup(write_fix *f)
{
    memset(f, 0, sizeof *f);
    memset(f->kpool, POISON, sizeof f->kpool);
    memset(f->vpool, POISON, sizeof f->vpool);
    f->c = (kva_paged_cache){f->kpool, f->vpool, PPOOL, PNB, PB, PHKV, PD,
                             PB * PHKV * PD, PHKV * PD, PD, KVA_DTYPE_F32,
                             {0}};
    for (int i = 0; i < WNT * PHKV * PD; i++) {
        f->k[i] = (float)i;
        f->v[i] = (float)-i;
    }
    f->slots[0] = 5, f->slots[1] = -1, f->slots[2] = 9;
    f->cp = &f->c, f->kp = f->k, f->vp = f->v, f->slotp = f->slots;
    f->num_tokens = WNT;
}

static void write_refused(write_fix *f, kva_status want, const char *needle)
{
    kva_error err;
    memset(&err, 0, sizeof err);
    memcpy(f->kref, f->kpool, sizeof f->kref);
    memcpy(f->vref, f->vpool, sizeof f->vref);
    kva_status st = kva_cache_write(f->cp, f->kp, f->vp, f->slotp,
                                    f->num_tokens, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert_eq(err.status, want);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle);
    cr_assert(memcmp(f->kpool, f->kref, sizeof f->kpool) == 0, "K written");
    cr_assert(memcmp(f->vpool, f->vref, sizeof f->vpool) == 0, "V written");
}

/* ---- a small QEfficient conversion ------------------------------------
 * B 16, 3 sequences x max_q 4, 4 KV blocks per sequence, 8 physical
 * blocks. Sequence 0: decode at position 21 (block_table[0][1] = 6,
 * slot_id 5); sequence 1: prefill chunk 16..18 with a padding entry in
 * between (block_table[1][1] = 3, slot_id 0); sequence 2: all padding.
 */
enum { QS = 3, QMQ = 4, QNKB = 4, QB = 16 };

typedef struct qeff_fix {
    int pos[QS * QMQ];
    int slot_id[QS];
    int table[QS * QNKB];
    kva_qeff_inputs in;
    int64_t qsl[QS + 1];
    int seq_lens[QS];
    int64_t slot_mapping[QS * QMQ], src_row[QS * QMQ];
    kva_general_inputs o;
    unsigned char oref[sizeof(int64_t) * (QS + 1) + sizeof(int) * QS +
                       2 * sizeof(int64_t) * QS * QMQ + sizeof(int64_t)];
    const kva_qeff_inputs *inp;
    kva_general_inputs *op;
} qeff_fix;

static void qeff_setup(qeff_fix *f)
{
    static const int pos[QS * QMQ] = {21, -1, -1, -1, 16, -1, 17, 18,
                                      -1, -1, -1, -1};
    static const int table[QS * QNKB] = {0, 6, -1, -1, 2, 3, -1, -1,
                                         -1, -1, -1, -1};
    memset(f, 0, sizeof *f);
    memcpy(f->pos, pos, sizeof pos);
    memcpy(f->table, table, sizeof table);
    f->slot_id[0] = 5, f->slot_id[1] = 0, f->slot_id[2] = 0;
    f->in = (kva_qeff_inputs){QS, QMQ, f->pos, f->slot_id, f->table,
                              QNKB, QB, 8};
    memset(f->qsl, POISON, sizeof f->qsl);
    memset(f->seq_lens, POISON, sizeof f->seq_lens);
    memset(f->slot_mapping, POISON, sizeof f->slot_mapping);
    memset(f->src_row, POISON, sizeof f->src_row);
    f->o = (kva_general_inputs){f->qsl, f->seq_lens, f->slot_mapping,
                                f->src_row, 0};
    memset(&f->o.num_tokens, POISON, sizeof f->o.num_tokens);
    f->inp = &f->in, f->op = &f->o;
}

/* Every output array, flattened, to compare before and after. */
static void qeff_flatten(const qeff_fix *f, unsigned char *dst)
{
    size_t n = 0;
    memcpy(dst + n, f->qsl, sizeof f->qsl), n += sizeof f->qsl;
    memcpy(dst + n, f->seq_lens, sizeof f->seq_lens), n += sizeof f->seq_lens;
    memcpy(dst + n, f->slot_mapping, sizeof f->slot_mapping),
        n += sizeof f->slot_mapping;
    memcpy(dst + n, f->src_row, sizeof f->src_row), n += sizeof f->src_row;
    memcpy(dst + n, &f->o.num_tokens, sizeof f->o.num_tokens);
}

static void qeff_refused(qeff_fix *f, kva_status want, const char *needle)
{
    kva_error err;
    unsigned char now[sizeof f->oref];
    memset(&err, 0, sizeof err);
    qeff_flatten(f, f->oref);
    kva_status st = kva_qeff_to_general(f->inp, f->op, &err);
    cr_assert_eq(st, want, "status %s, want %s (%s)", kva_status_name(st),
                 kva_status_name(want), err.msg);
    cr_assert_eq(err.status, want);
    cr_assert(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
              err.msg, needle);
    qeff_flatten(f, now);
    cr_assert(memcmp(now, f->oref, sizeof now) == 0, "outputs written");
}

/* ======================================================================
 * kva_status_name
 * ====================================================================== */

Test(kernel_status, names_every_code)
{
    cr_assert_str_eq(kva_status_name(KVA_OK), "KVA_OK");
    cr_assert_str_eq(kva_status_name(KVA_ERR_SLOT), "KVA_ERR_SLOT");
    cr_assert_str_eq(kva_status_name(KVA_ERR_CONVENTION),
                     "KVA_ERR_CONVENTION");
    cr_assert_str_eq(kva_status_name(KVA_ERR_NOMEM), "KVA_ERR_NOMEM");
    cr_assert_not_null(kva_status_name((kva_status)12345));
}

/* ======================================================================
 * kva_cache_write
 * ====================================================================== */

Test(kernel_cache_write, writes_exactly_the_named_slots)
{
    write_fix f;
    write_setup(&f);
    kva_error err;
    cr_assert_eq(kva_cache_write(f.cp, f.kp, f.vp, f.slotp, f.num_tokens,
                                 &err),
                 KVA_OK, "%s", err.msg);
    /* slot 5 = block 1 offset 1; slot 9 = block 2 offset 1 (NHD). */
    float expect_k[WPOOL], expect_v[WPOOL];
    memset(expect_k, POISON, sizeof expect_k);
    memset(expect_v, POISON, sizeof expect_v);
    const int stride_block = PB * PHKV * PD, stride_slot = PHKV * PD;
    memcpy(expect_k + 1 * stride_block + 1 * stride_slot, f.k + 0,
           sizeof(float) * PHKV * PD);
    memcpy(expect_v + 1 * stride_block + 1 * stride_slot, f.v + 0,
           sizeof(float) * PHKV * PD);
    memcpy(expect_k + 2 * stride_block + 1 * stride_slot, f.k + 2 * PHKV * PD,
           sizeof(float) * PHKV * PD);
    memcpy(expect_v + 2 * stride_block + 1 * stride_slot, f.v + 2 * PHKV * PD,
           sizeof(float) * PHKV * PD);
    cr_assert(memcmp(f.kpool, expect_k, sizeof expect_k) == 0);
    cr_assert(memcmp(f.vpool, expect_v, sizeof expect_v) == 0);
}

Test(kernel_cache_write, hnd_layout)
{
    write_fix f;
    write_setup(&f);
    /* HND: [blocks][Hkv][B][D] */
    f.c.stride_head = PB * PD;
    f.c.stride_slot = PD;
    f.slots[0] = 6; /* block 1, offset 2 */
    f.num_tokens = 1;
    kva_error err;
    cr_assert_eq(kva_cache_write(f.cp, f.kp, f.vp, f.slotp, 1, &err), KVA_OK,
                 "%s", err.msg);
    for (int h = 0; h < PHKV; h++)
        for (int d = 0; d < PD; d++) {
            int64_t off = 1 * f.c.stride_block + h * f.c.stride_head +
                          2 * f.c.stride_slot + d;
            cr_assert_eq(f.kpool[off], f.k[h * PD + d]);
            cr_assert_eq(f.vpool[off], f.v[h * PD + d]);
        }
}

Test(kernel_cache_write, empty_call_accepts_null_arrays)
{
    write_fix f;
    write_setup(&f);
    kva_error err;
    cr_assert_eq(kva_cache_write(f.cp, NULL, NULL, NULL, 0, &err), KVA_OK,
                 "%s", err.msg);
}

Test(kernel_cache_write, null_cache)
{
    write_fix f;
    write_setup(&f);
    f.cp = NULL;
    write_refused(&f, KVA_ERR_NULL, "cache");
}

Test(kernel_cache_write, null_cache_k)
{
    write_fix f;
    write_setup(&f);
    f.c.k = NULL;
    write_refused(&f, KVA_ERR_NULL, "cache->k");
}

Test(kernel_cache_write, null_k)
{
    write_fix f;
    write_setup(&f);
    f.kp = NULL;
    write_refused(&f, KVA_ERR_NULL, "k is NULL");
}

Test(kernel_cache_write, null_v)
{
    write_fix f;
    write_setup(&f);
    f.vp = NULL;
    write_refused(&f, KVA_ERR_NULL, "v is NULL");
}

Test(kernel_cache_write, null_slot_mapping)
{
    write_fix f;
    write_setup(&f);
    f.slotp = NULL;
    write_refused(&f, KVA_ERR_NULL, "slot_mapping");
}

Test(kernel_cache_write, negative_num_tokens)
{
    write_fix f;
    write_setup(&f);
    f.num_tokens = -1;
    write_refused(&f, KVA_ERR_LENGTH, "num_tokens -1");
}

Test(kernel_cache_write, slot_out_of_range)
{
    write_fix f;
    write_setup(&f);
    f.slots[2] = PNB * PB; /* one past the last slot */
    write_refused(&f, KVA_ERR_SLOT, "token 2: slot 16 is out of range [0, 16)");
}

Test(kernel_cache_write, slot_below_minus_one)
{
    write_fix f;
    write_setup(&f);
    f.slots[1] = -2;
    write_refused(&f, KVA_ERR_SLOT, "token 1: slot -2");
}

Test(kernel_cache_write, duplicate_slot_writes_nothing)
{
    write_fix f;
    write_setup(&f);
    /* token 0 (slot 5) is valid and comes first: it must not be written
     * either, the call is all-or-nothing. */
    f.slots[1] = 9;
    write_refused(&f, KVA_ERR_SLOT, "tokens 1 and 2 both write slot 9");
}

Test(kernel_cache_write, zero_blocks)
{
    write_fix f;
    write_setup(&f);
    f.c.num_blocks = 0;
    write_refused(&f, KVA_ERR_SHAPE, "num_blocks 0");
}

Test(kernel_cache_write, zero_block_size)
{
    write_fix f;
    write_setup(&f);
    f.c.block_size = 0;
    write_refused(&f, KVA_ERR_SHAPE, "block_size 0");
}

Test(kernel_cache_write, zero_heads)
{
    write_fix f;
    write_setup(&f);
    f.c.num_kv_heads = 0;
    write_refused(&f, KVA_ERR_SHAPE, "num_kv_heads 0");
}

Test(kernel_cache_write, zero_head_dim)
{
    write_fix f;
    write_setup(&f);
    f.c.head_dim = 0;
    write_refused(&f, KVA_ERR_SHAPE, "head_dim 0");
}

Test(kernel_cache_write, negative_stride)
{
    write_fix f;
    write_setup(&f);
    f.c.stride_head = -4;
    write_refused(&f, KVA_ERR_SHAPE, "stride_head -4");
}

Test(kernel_cache_write, overlapping_rows)
{
    write_fix f;
    write_setup(&f);
    f.c.stride_slot = PD; /* slot rows now land on the other head's row */
    write_refused(&f, KVA_ERR_SHAPE, "overlap");
}

Test(kernel_cache_write, head_stride_shorter_than_head_dim)
{
    write_fix f;
    write_setup(&f);
    f.c.stride_head = PD - 1;
    write_refused(&f, KVA_ERR_SHAPE, "stride_head 3");
}

Test(kernel_cache_write, pool_too_small)
{
    write_fix f;
    write_setup(&f);
    f.c.pool_elems = PPOOL - 1;
    write_refused(&f, KVA_ERR_SHAPE, "pool_elems 127");
}

Test(kernel_cache_write, padded_strides_accepted)
{
    write_fix f;
    write_setup(&f);
    /* NHD with head rows padded to 5 and slot rows to 11: the last row
     * (block 3, slot 3, head 1) ends at 3*44 + 3*11 + 1*5 + D = 174, so
     * a pool of exactly 174 elements is enough and 173 is not. */
    f.c.stride_head = 5, f.c.stride_slot = 11, f.c.stride_block = 44;
    f.c.pool_elems = 3 * 44 + 3 * 11 + 1 * 5 + PD;
    kva_error err;
    cr_assert_eq(kva_cache_write(f.cp, f.kp, f.vp, f.slotp, f.num_tokens,
                                 &err),
                 KVA_OK, "%s", err.msg);
    f.c.pool_elems -= 1;
    write_refused(&f, KVA_ERR_SHAPE, "pool_elems 173");
}

Test(kernel_cache_write, extent_overflowing_int64)
{
    write_fix f;
    write_setup(&f);
    /* Garbage strides must be refused, not multiplied into an overflow. */
    f.c.stride_block = INT64_MAX / 2;
    write_refused(&f, KVA_ERR_SHAPE, "overflows int64");
}

/* ======================================================================
 * kva_paged_attention: refusals
 * ====================================================================== */

Test(kernel_paged, valid_fixture_leaves_padding_row)
{
    paged_fix f;
    paged_setup(&f);
    paged_snapshot(&f);
    kva_error err;
    cr_assert_eq(paged_call(&f, &err), KVA_OK, "%s", err.msg);
    /* token 3 is padding: its row is untouched; tokens 0..2 are written. */
    cr_assert(memcmp(f.out + 3 * PHQ * PD, f.outref + 3 * PHQ * PD,
                     sizeof(float) * PHQ * PD) == 0);
    cr_assert(memcmp(f.lse + 3 * PHQ, f.lseref + 3 * PHQ,
                     sizeof(float) * PHQ) == 0);
    for (int i = 0; i < 3 * PHQ; i++)
        cr_assert(isfinite(f.lse[i]));
    cr_assert(memcmp(f.kpool, f.kref, sizeof f.kpool) == 0);
}

Test(kernel_paged, lse_may_be_null)
{
    paged_fix f;
    paged_setup(&f);
    f.lsep = NULL;
    kva_error err;
    cr_assert_eq(paged_call(&f, &err), KVA_OK, "%s", err.msg);
}

Test(kernel_paged, empty_batch_accepts_null_arrays)
{
    paged_fix f;
    paged_setup(&f);
    kva_paged_batch b = {0, NULL, NULL, NULL, 0, NULL};
    kva_error err;
    cr_assert_eq(kva_paged_attention(&f.p, &f.c, &b, NULL, 0, NULL, NULL,
                                     &err),
                 KVA_OK, "%s", err.msg);
}

Test(kernel_paged, null_params)
{
    paged_fix f;
    paged_setup(&f);
    f.pp = NULL;
    paged_refused(&f, KVA_ERR_NULL, "params");
}

Test(kernel_paged, null_cache)
{
    paged_fix f;
    paged_setup(&f);
    f.cp = NULL;
    paged_refused(&f, KVA_ERR_NULL, "cache");
}

Test(kernel_paged, null_cache_v)
{
    paged_fix f;
    paged_setup(&f);
    f.c.v = NULL;
    paged_refused(&f, KVA_ERR_NULL, "cache->v");
}

Test(kernel_paged, null_batch)
{
    paged_fix f;
    paged_setup(&f);
    f.bp = NULL;
    paged_refused(&f, KVA_ERR_NULL, "batch");
}

Test(kernel_paged, null_q)
{
    paged_fix f;
    paged_setup(&f);
    f.qp = NULL;
    paged_refused(&f, KVA_ERR_NULL, "q is NULL");
}

Test(kernel_paged, null_out)
{
    paged_fix f;
    paged_setup(&f);
    f.outp = NULL;
    paged_refused(&f, KVA_ERR_NULL, "out is NULL");
}

Test(kernel_paged, null_query_start_loc)
{
    paged_fix f;
    paged_setup(&f);
    f.b.query_start_loc = NULL;
    paged_refused(&f, KVA_ERR_NULL, "query_start_loc");
}

Test(kernel_paged, null_seq_lens)
{
    paged_fix f;
    paged_setup(&f);
    f.b.seq_lens = NULL;
    paged_refused(&f, KVA_ERR_NULL, "seq_lens");
}

Test(kernel_paged, null_block_table)
{
    paged_fix f;
    paged_setup(&f);
    f.b.block_table = NULL;
    paged_refused(&f, KVA_ERR_NULL, "block_table");
}

Test(kernel_paged, zero_q_heads)
{
    paged_fix f;
    paged_setup(&f);
    f.p.num_q_heads = 0;
    paged_refused(&f, KVA_ERR_SHAPE, "num_q_heads 0");
}

Test(kernel_paged, zero_kv_heads)
{
    paged_fix f;
    paged_setup(&f);
    f.p.num_kv_heads = 0;
    paged_refused(&f, KVA_ERR_SHAPE, "num_kv_heads 0");
}

Test(kernel_paged, hq_not_multiple_of_hkv)
{
    paged_fix f;
    paged_setup(&f);
    f.p.num_q_heads = 3;
    paged_refused(&f, KVA_ERR_SHAPE,
                  "num_q_heads 3 is not a multiple of num_kv_heads 2");
}

Test(kernel_paged, zero_head_dim)
{
    paged_fix f;
    paged_setup(&f);
    f.p.head_dim = 0;
    paged_refused(&f, KVA_ERR_SHAPE, "head_dim 0");
}

Test(kernel_paged, nan_scale)
{
    paged_fix f;
    paged_setup(&f);
    f.p.scale = NAN;
    paged_refused(&f, KVA_ERR_PARAM, "scale");
}

Test(kernel_paged, inf_scale)
{
    paged_fix f;
    paged_setup(&f);
    f.p.scale = INFINITY;
    paged_refused(&f, KVA_ERR_PARAM, "scale inf");
}

Test(kernel_paged, negative_softcap)
{
    paged_fix f;
    paged_setup(&f);
    f.p.softcap = -1.0f;
    paged_refused(&f, KVA_ERR_PARAM, "softcap -1");
}

Test(kernel_paged, nan_softcap)
{
    paged_fix f;
    paged_setup(&f);
    f.p.softcap = NAN;
    paged_refused(&f, KVA_ERR_PARAM, "softcap");
}

Test(kernel_paged, window_below_minus_one)
{
    paged_fix f;
    paged_setup(&f);
    f.p.window_left = -2;
    paged_refused(&f, KVA_ERR_PARAM, "window_left -2");
}

Test(kernel_paged, cache_heads_differ_from_params)
{
    paged_fix f;
    paged_setup(&f);
    f.c.num_kv_heads = 1;
    paged_refused(&f, KVA_ERR_SHAPE, "num_kv_heads 1");
}

Test(kernel_paged, cache_head_dim_differs_from_params)
{
    paged_fix f;
    paged_setup(&f);
    f.c.head_dim = 2;
    paged_refused(&f, KVA_ERR_SHAPE, "head_dim 2");
}

Test(kernel_paged, overlapping_cache_rows)
{
    paged_fix f;
    paged_setup(&f);
    f.c.stride_block = PHKV * PD; /* a block is one slot wide */
    paged_refused(&f, KVA_ERR_SHAPE, "cache rows overlap");
}

Test(kernel_paged, cache_pool_too_small)
{
    paged_fix f;
    paged_setup(&f);
    f.c.pool_elems = 100;
    paged_refused(&f, KVA_ERR_SHAPE, "pool_elems 100");
}

Test(kernel_paged, negative_num_seqs)
{
    paged_fix f;
    paged_setup(&f);
    f.b.num_seqs = -1;
    paged_refused(&f, KVA_ERR_LENGTH, "num_seqs -1");
}

Test(kernel_paged, negative_num_tokens)
{
    paged_fix f;
    paged_setup(&f);
    f.num_tokens = -3;
    paged_refused(&f, KVA_ERR_LENGTH, "num_tokens -3");
}

Test(kernel_paged, qsl_not_starting_at_zero)
{
    paged_fix f;
    paged_setup(&f);
    f.qsl[0] = 1;
    paged_refused(&f, KVA_ERR_LENGTH, "query_start_loc[0] = 1");
}

Test(kernel_paged, qsl_decreasing)
{
    paged_fix f;
    paged_setup(&f);
    f.qsl[2] = 1;
    paged_refused(&f, KVA_ERR_LENGTH, "sequence 1: query_start_loc[2] = 1");
}

Test(kernel_paged, qsl_beyond_num_tokens)
{
    paged_fix f;
    paged_setup(&f);
    f.num_tokens = 2; /* sequence 1's token would be token 2 */
    paged_refused(&f, KVA_ERR_LENGTH,
                  "query_start_loc[2] = 3 is beyond num_tokens 2");
}

Test(kernel_paged, num_tokens_overflowing_offsets)
{
    paged_fix f;
    paged_setup(&f);
    /* A garbage token count whose row offsets t*Hq*D overflow int64. */
    f.num_tokens = INT64_MAX / 8;
    paged_refused(&f, KVA_ERR_LENGTH, "overflows int64");
}

Test(kernel_paged, seq_len_below_q_len)
{
    paged_fix f;
    paged_setup(&f);
    f.seq_lens[0] = 1; /* q_len 2 */
    paged_refused(&f, KVA_ERR_LENGTH, "sequence 0: seq_len 1");
}

Test(kernel_paged, seq_len_beyond_table)
{
    paged_fix f;
    paged_setup(&f);
    f.seq_lens[1] = 2 * PB + 1; /* needs 3 blocks, the table has 2 */
    paged_refused(&f, KVA_ERR_LENGTH, "sequence 1: seq_len 9");
}

Test(kernel_paged, negative_max_blocks_per_seq)
{
    paged_fix f;
    paged_setup(&f);
    f.b.max_blocks_per_seq = -1;
    paged_refused(&f, KVA_ERR_LENGTH, "max_blocks_per_seq -1");
}

Test(kernel_paged, block_minus_one_where_needed)
{
    paged_fix f;
    paged_setup(&f);
    f.table[2] = -1; /* sequence 1, block 0: positions 0..2 */
    paged_refused(&f, KVA_ERR_BLOCK,
                  "sequence 1: block_table[1][0] = -1 but position 0 needs "
                  "a block");
}

Test(kernel_paged, block_out_of_range)
{
    paged_fix f;
    paged_setup(&f);
    f.table[1] = PNB; /* sequence 0, block 1: positions 4..5 */
    paged_refused(&f, KVA_ERR_BLOCK, "block_table[0][1] = 4 but position 4");
}

Test(kernel_paged, block_minus_one_below_window_accepted)
{
    paged_fix f;
    paged_setup(&f);
    /* window_left 0: each query sees only itself. Sequence 0's queries sit
     * at positions 4 and 5, so block 0 (positions 0..3) is never needed. */
    f.p.window_left = 0;
    f.table[0] = -1;
    kva_error err;
    cr_assert_eq(paged_call(&f, &err), KVA_OK, "%s", err.msg);
    /* One visible key: out = v exactly. Token 0 (position 4) reads slot 0
     * of physical block 0 (table[0][1]). */
    for (int h = 0; h < PHQ; h++) {
        const int kvh = h / (PHQ / PHKV);
        const float *v = f.vpool + 0 * f.c.stride_block + kvh * PD;
        for (int d = 0; d < PD; d++)
            cr_assert_eq(f.out[h * PD + d], v[d], "head %d dim %d", h, d);
    }
}

Test(kernel_paged, block_minus_one_inside_window_refused)
{
    paged_fix f;
    paged_setup(&f);
    /* window_left 1: position 4 sees position 3, which is in block 0. */
    f.p.window_left = 1;
    f.table[0] = -1;
    paged_refused(&f, KVA_ERR_BLOCK, "block_table[0][0] = -1 but position 3");
}

/* ======================================================================
 * kva_blocked_attention: refusals
 * ====================================================================== */

Test(kernel_blocked, valid_fixture_leaves_padding_row)
{
    blocked_fix f;
    blocked_setup(&f);
    memcpy(f.outref, f.out, sizeof f.out);
    memcpy(f.lseref, f.lse, sizeof f.lse);
    kva_error err;
    cr_assert_eq(blocked_call(&f, &err), KVA_OK, "%s", err.msg);
    cr_assert(memcmp(f.out + 3 * BHQ * BD, f.outref + 3 * BHQ * BD,
                     sizeof(float) * BHQ * BD) == 0);
    cr_assert(memcmp(f.lse + 3 * BHQ, f.lseref + 3 * BHQ,
                     sizeof(float) * BHQ) == 0);
    for (int i = 0; i < 3 * BHQ; i++)
        cr_assert(isfinite(f.lse[i]));
}

Test(kernel_blocked, null_params)
{
    blocked_fix f;
    blocked_setup(&f);
    f.pp = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "params");
}

Test(kernel_blocked, null_cache)
{
    blocked_fix f;
    blocked_setup(&f);
    f.cp = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "cache");
}

Test(kernel_blocked, null_cache_k)
{
    blocked_fix f;
    blocked_setup(&f);
    f.c.k = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "cache->k");
}

Test(kernel_blocked, null_q)
{
    blocked_fix f;
    blocked_setup(&f);
    f.qp = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "q is NULL");
}

Test(kernel_blocked, null_out)
{
    blocked_fix f;
    blocked_setup(&f);
    f.outp = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "out is NULL");
}

Test(kernel_blocked, null_query_start_loc)
{
    blocked_fix f;
    blocked_setup(&f);
    f.qslp = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "query_start_loc");
}

Test(kernel_blocked, null_seq_lens)
{
    blocked_fix f;
    blocked_setup(&f);
    f.seq_lensp = NULL;
    blocked_refused(&f, KVA_ERR_NULL, "seq_lens");
}

Test(kernel_blocked, hq_not_multiple_of_hkv)
{
    blocked_fix f;
    blocked_setup(&f);
    f.p.num_kv_heads = 2, f.p.num_q_heads = 3;
    blocked_refused(&f, KVA_ERR_SHAPE, "not a multiple");
}

Test(kernel_blocked, zero_head_dim)
{
    blocked_fix f;
    blocked_setup(&f);
    f.p.head_dim = 0;
    blocked_refused(&f, KVA_ERR_SHAPE, "head_dim 0");
}

Test(kernel_blocked, nan_scale)
{
    blocked_fix f;
    blocked_setup(&f);
    f.p.scale = NAN;
    blocked_refused(&f, KVA_ERR_PARAM, "scale");
}

Test(kernel_blocked, window_below_minus_one)
{
    blocked_fix f;
    blocked_setup(&f);
    f.p.window_left = -5;
    blocked_refused(&f, KVA_ERR_PARAM, "window_left -5");
}

Test(kernel_blocked, cache_head_dim_differs)
{
    blocked_fix f;
    blocked_setup(&f);
    f.c.head_dim = 8;
    blocked_refused(&f, KVA_ERR_SHAPE, "head_dim 8");
}

Test(kernel_blocked, zero_cache_len)
{
    blocked_fix f;
    blocked_setup(&f);
    f.c.cache_len = 0;
    blocked_refused(&f, KVA_ERR_SHAPE, "cache_len 0");
}

Test(kernel_blocked, num_seqs_differs_from_cache)
{
    blocked_fix f;
    blocked_setup(&f);
    f.num_seqs = 1;
    blocked_refused(&f, KVA_ERR_SHAPE, "num_seqs 1 differs from cache num_seqs 2");
}

Test(kernel_blocked, zero_kv_blocks)
{
    blocked_fix f;
    blocked_setup(&f);
    f.num_kv_blocks = 0;
    blocked_refused(&f, KVA_ERR_SHAPE, "num_kv_blocks 0");
}

Test(kernel_blocked, qsl_decreasing)
{
    blocked_fix f;
    blocked_setup(&f);
    f.qsl[1] = 4, f.qsl[2] = 3;
    blocked_refused(&f, KVA_ERR_LENGTH, "query_start_loc[2] = 3");
}

Test(kernel_blocked, seq_len_below_q_len)
{
    blocked_fix f;
    blocked_setup(&f);
    f.seq_lens[1] = 0;
    blocked_refused(&f, KVA_ERR_LENGTH, "sequence 1: seq_len 0");
}

Test(kernel_blocked, seq_len_beyond_cache_len)
{
    blocked_fix f;
    blocked_setup(&f);
    f.seq_lens[0] = BCL + 1;
    blocked_refused(&f, KVA_ERR_LENGTH,
                    "sequence 0: seq_len 9 exceeds cache_len 8");
}

/* ======================================================================
 * kva_qeff_to_general
 * ====================================================================== */

Test(kernel_qeff, converts_with_padding)
{
    qeff_fix f;
    qeff_setup(&f);
    kva_error err;
    cr_assert_eq(kva_qeff_to_general(f.inp, f.op, &err), KVA_OK, "%s",
                 err.msg);
    cr_assert_eq(f.o.num_tokens, 4);
    const int64_t qsl[QS + 1] = {0, 1, 4, 4};
    const int seq_lens[QS] = {22, 19, 0};
    const int64_t slots[QS * QMQ] = {6 * 16 + 5, 3 * 16 + 0, 3 * 16 + 1,
                                     3 * 16 + 2, -1, -1, -1, -1,
                                     -1, -1, -1, -1};
    const int64_t src[QS * QMQ] = {0, 4, 6, 7, -1, -1, -1, -1,
                                   -1, -1, -1, -1};
    cr_assert(memcmp(f.qsl, qsl, sizeof qsl) == 0);
    cr_assert(memcmp(f.seq_lens, seq_lens, sizeof seq_lens) == 0);
    cr_assert(memcmp(f.slot_mapping, slots, sizeof slots) == 0);
    cr_assert(memcmp(f.src_row, src, sizeof src) == 0);
}

Test(kernel_qeff, null_inputs)
{
    qeff_fix f;
    qeff_setup(&f);
    f.inp = NULL;
    qeff_refused(&f, KVA_ERR_NULL, "inputs");
}

Test(kernel_qeff, null_outputs)
{
    qeff_fix f;
    qeff_setup(&f);
    f.op = NULL;
    qeff_refused(&f, KVA_ERR_NULL, "outputs");
}

Test(kernel_qeff, null_position_ids)
{
    qeff_fix f;
    qeff_setup(&f);
    f.in.position_ids = NULL;
    qeff_refused(&f, KVA_ERR_NULL, "position_ids");
}

Test(kernel_qeff, null_slot_id)
{
    qeff_fix f;
    qeff_setup(&f);
    f.in.slot_id = NULL;
    qeff_refused(&f, KVA_ERR_NULL, "slot_id");
}

Test(kernel_qeff, null_block_table)
{
    qeff_fix f;
    qeff_setup(&f);
    f.in.block_table = NULL;
    qeff_refused(&f, KVA_ERR_NULL, "block_table");
}

Test(kernel_qeff, null_out_slot_mapping)
{
    qeff_fix f;
    qeff_setup(&f);
    f.o.slot_mapping = NULL;
    qeff_refused(&f, KVA_ERR_NULL, "slot_mapping");
}

Test(kernel_qeff, negative_num_seqs)
{
    qeff_fix f;
    qeff_setup(&f);
    f.in.num_seqs = -2;
    qeff_refused(&f, KVA_ERR_LENGTH, "num_seqs -2");
}

Test(kernel_qeff, negative_max_q)
{
    qeff_fix f;
    qeff_setup(&f);
    f.in.max_q = -1;
    qeff_refused(&f, KVA_ERR_LENGTH, "max_q -1");
}

Test(kernel_qeff, zero_block_size)
{
    qeff_fix f;
    qeff_setup(&f);
    f.in.block_size = 0;
    qeff_refused(&f, KVA_ERR_SHAPE, "block_size 0");
}

Test(kernel_qeff, position_below_minus_one)
{
    qeff_fix f;
    qeff_setup(&f);
    f.pos[5] = -3;
    qeff_refused(&f, KVA_ERR_CONVENTION, "position_ids[1][1] = -3");
}

Test(kernel_qeff, crossing_write)
{
    qeff_fix f;
    qeff_setup(&f);
    /* sequence 1: 14, 15, 16, 17 cross the boundary at 16 */
    f.pos[4] = 14, f.pos[5] = 15, f.pos[6] = 16, f.pos[7] = 17;
    f.slot_id[1] = 14;
    qeff_refused(&f, KVA_ERR_CONVENTION,
                 "sequence 1: positions 14..17 cross the block boundary at "
                 "16 (block_size 16)");
}

Test(kernel_qeff, slot_id_disagrees)
{
    qeff_fix f;
    qeff_setup(&f);
    f.slot_id[0] = 3;
    qeff_refused(&f, KVA_ERR_CONVENTION,
                 "sequence 0: slot_id 3 disagrees with first position 21 "
                 "(21 mod 16 = 5)");
}

Test(kernel_qeff, positions_not_consecutive)
{
    qeff_fix f;
    qeff_setup(&f);
    f.pos[7] = 19; /* 16, 17, 19 */
    qeff_refused(&f, KVA_ERR_CONVENTION, "position_ids[1][3] = 19 follows 17");
}

Test(kernel_qeff, positions_decreasing)
{
    qeff_fix f;
    qeff_setup(&f);
    f.pos[4] = 18, f.pos[7] = 16; /* 18, 17, 16 */
    f.slot_id[1] = 2;
    qeff_refused(&f, KVA_ERR_CONVENTION, "not consecutive");
}

Test(kernel_qeff, active_block_minus_one)
{
    qeff_fix f;
    qeff_setup(&f);
    f.table[1] = -1; /* sequence 0's active block */
    qeff_refused(&f, KVA_ERR_BLOCK, "block_table[0][1] = -1");
}

Test(kernel_qeff, active_block_out_of_range)
{
    qeff_fix f;
    qeff_setup(&f);
    f.table[QNKB + 1] = 8; /* num_blocks is 8 */
    qeff_refused(&f, KVA_ERR_BLOCK, "block_table[1][1] = 8");
}

Test(kernel_qeff, pmax_beyond_table)
{
    qeff_fix f;
    qeff_setup(&f);
    f.pos[0] = QNKB * QB + 2; /* position 66 needs block 4 of 4 */
    f.slot_id[0] = 2;
    qeff_refused(&f, KVA_ERR_LENGTH,
                 "sequence 0: position 66 needs block_table[0][4] but "
                 "num_kv_blocks is 4");
}

/* ======================================================================
 * Hand-computable answers
 * ====================================================================== */

/* A one-sequence paged problem over B-sized blocks of a private pool:
 * Hq = Hkv = 1 unless the caller changes it. */
typedef struct tiny {
    kva_attn_params p;
    float k[64], v[64];
    kva_paged_cache c;
    int64_t qsl[2];
    int seq_len;
    int table[8];
    kva_paged_batch b;
} tiny;

static void tiny_setup(tiny *t, int D, int B, int seq_len, int q_len)
{
    memset(t, 0, sizeof *t);
    t->p = (kva_attn_params){1, 1, D, 0.5f, 0.0f, 1, -1, 0};
    t->c = (kva_paged_cache){t->k, t->v, 64, 64 / (B * D), B, 1, D,
                             (int64_t)B * D, D, D, KVA_DTYPE_F32, {0}};
    t->qsl[1] = q_len;
    t->seq_len = seq_len;
    for (int i = 0; i < 8; i++)
        t->table[i] = i;
    t->b = (kva_paged_batch){1, t->qsl, &t->seq_len, t->table, 8, NULL};
}

Test(kernel_sanity, one_key_gives_v_and_lse_is_the_score)
{
    tiny t;
    tiny_setup(&t, 4, 4, 1, 1);
    const float q[4] = {1, 2, 0, 0};
    const float k0[4] = {1, 1, 0, 0}, v0[4] = {0.25f, -3, 7, 1e-3f};
    memcpy(t.k, k0, sizeof k0), memcpy(t.v, v0, sizeof v0);
    float out[4], lse;
    kva_error err;
    cr_assert_eq(kva_paged_attention(&t.p, &t.c, &t.b, q, 1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    cr_assert(memcmp(out, v0, sizeof v0) == 0);
    cr_assert_eq(lse, 1.5f); /* 0.5 * (1 + 2) */
}

Test(kernel_sanity, equal_scores_give_the_mean)
{
    tiny t;
    tiny_setup(&t, 4, 4, 2, 1); /* query at position 1 sees keys 0, 1 */
    const float q[4] = {1, 0, 0, 0};
    const float v01[8] = {1, 2, 3, 4, 3, 4, 5, 6};
    for (int i = 0; i < 8; i++)
        t.k[i] = 1.0f;
    memcpy(t.v, v01, sizeof v01);
    float out[4], lse;
    kva_error err;
    cr_assert_eq(kva_paged_attention(&t.p, &t.c, &t.b, q, 1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    const float mean[4] = {2, 3, 4, 5};
    cr_assert(memcmp(out, mean, sizeof mean) == 0);
    cr_assert_float_eq(lse, 0.5f + logf(2.0f), 1e-6f);
}

Test(kernel_sanity, larger_score_in_a_later_block_rescales)
{
    /* B = 1: each key is its own tile. Scores 0 then 1: the second tile
     * raises the running max, so the first tile's sum is rescaled. */
    tiny t;
    tiny_setup(&t, 2, 1, 2, 1);
    const float q[2] = {2, 0};
    t.k[0] = 0, t.k[1] = 0;      /* key 0: score 0 */
    t.k[2] = 1, t.k[3] = 0;      /* key 1: score 0.5 * 2 = 1 */
    t.v[0] = 1, t.v[1] = 0;
    t.v[2] = 0, t.v[3] = 1;
    t.table[0] = 5, t.table[1] = 1; /* keys live in blocks 5 and 1 */
    t.k[10] = t.k[0], t.k[11] = t.k[1], t.v[10] = t.v[0], t.v[11] = t.v[1];
    t.k[0] = NAN, t.v[0] = NAN; /* block 0 is not in the table */
    float out[2], lse;
    kva_error err;
    cr_assert_eq(kva_paged_attention(&t.p, &t.c, &t.b, q, 1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    const double e = exp(1.0);
    cr_assert_float_eq(out[0], 1.0 / (1.0 + e), 1e-6);
    cr_assert_float_eq(out[1], e / (1.0 + e), 1e-6);
    cr_assert_float_eq(lse, log(1.0 + e), 1e-6);
}

Test(kernel_sanity, fully_masked_row_is_zero_and_minus_inf)
{
    tiny t;
    tiny_setup(&t, 2, 2, 3, 2); /* queries at positions 1 and 2 */
    for (int i = 0; i < 6; i++)
        t.k[i] = 1, t.v[i] = 2;
    const uint8_t mask[2 * 3] = {0, 0, 0, /* query 0 sees nothing */
                                 1, 0, 1};
    const uint8_t *masks[1] = {mask};
    t.b.masks = masks;
    const float q[4] = {1, 1, 1, 1};
    float out[4], lse[2];
    kva_error err;
    cr_assert_eq(kva_paged_attention(&t.p, &t.c, &t.b, q, 2, out, lse, &err),
                 KVA_OK, "%s", err.msg);
    cr_assert_eq(out[0], 0.0f);
    cr_assert_eq(out[1], 0.0f);
    cr_assert(isinf(lse[0]) && lse[0] < 0);
    cr_assert_eq(out[2], 2.0f); /* keys 0 and 2, equal: mean of 2s */
    cr_assert_eq(out[3], 2.0f);
    cr_assert_float_eq(lse[1], 1.0f + logf(2.0f), 1e-6f);
}

Test(kernel_sanity, gqa_heads_read_their_kv_head)
{
    /* Hq 4, Hkv 2, one key: heads 0, 1 get kv head 0's v, heads 2, 3 get
     * kv head 1's v. */
    tiny t;
    tiny_setup(&t, 2, 2, 1, 1);
    t.p.num_q_heads = 4, t.p.num_kv_heads = 2;
    t.c.num_kv_heads = 2;
    t.c.stride_slot = 4, t.c.stride_head = 2, t.c.stride_block = 8;
    t.c.num_blocks = 8;
    t.v[0] = 10, t.v[1] = 11, t.v[2] = 20, t.v[3] = 21;
    const float q[8] = {0};
    float out[8];
    kva_error err;
    cr_assert_eq(kva_paged_attention(&t.p, &t.c, &t.b, q, 1, out, NULL, &err),
                 KVA_OK, "%s", err.msg);
    const float want[8] = {10, 11, 10, 11, 20, 21, 20, 21};
    cr_assert(memcmp(out, want, sizeof want) == 0);
}

Test(kernel_sanity, softcap_bounds_the_score)
{
    tiny t;
    tiny_setup(&t, 1, 4, 1, 1);
    t.p.softcap = 2.0f;
    t.p.scale = 1.0f;
    t.k[0] = 100.0f, t.v[0] = 3.0f;
    const float q[1] = {1.0f};
    float out[1], lse;
    kva_error err;
    cr_assert_eq(kva_paged_attention(&t.p, &t.c, &t.b, q, 1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    cr_assert_eq(out[0], 3.0f);
    cr_assert_float_eq(lse, 2.0f * tanhf(50.0f), 1e-6f);
}

Test(kernel_sanity, blocked_equal_scores_give_the_mean_across_tiles)
{
    /* CL 5 in 3 KV blocks: tiles {0,1}, {2,3}, {4}. A bidirectional query
     * sees all 5 keys; equal scores give the mean of v = 0..4, i.e. 2. */
    float k[5] = {1, 1, 1, 1, 1}, v[5] = {0, 1, 2, 3, 4};
    kva_blocked_cache c = {k, v, 1, 1, 5, 1, KVA_DTYPE_F32, {0}};
    kva_attn_params p = {1, 1, 1, 1.0f, 0.0f, 0, -1, 0};
    int64_t qsl[2] = {0, 1};
    int seq_len = 5;
    const float q[1] = {0.5f};
    float out[1], lse;
    kva_error err;
    cr_assert_eq(kva_blocked_attention(&p, &c, 3, 1, qsl, &seq_len, NULL, q,
                                       1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    cr_assert_float_eq(out[0], 2.0f, 1e-6f);
    cr_assert_float_eq(lse, 0.5f + logf(5.0f), 1e-6f);
}

Test(kernel_sanity, blocked_reads_nothing_past_seq_len)
{
    /* seq_len 2 of CL 4: positions 2, 3 hold NaN and must not be read. */
    float k[4] = {1, 1, NAN, NAN}, v[4] = {1, 3, NAN, NAN};
    kva_blocked_cache c = {k, v, 1, 1, 4, 1, KVA_DTYPE_F32, {0}};
    kva_attn_params p = {1, 1, 1, 1.0f, 0.0f, 1, -1, 0};
    int64_t qsl[2] = {0, 1};
    int seq_len = 2;
    const float q[1] = {1.0f};
    float out[1], lse;
    kva_error err;
    cr_assert_eq(kva_blocked_attention(&p, &c, 2, 1, qsl, &seq_len, NULL, q,
                                       1, out, &lse, &err),
                 KVA_OK, "%s", err.msg);
    cr_assert_eq(out[0], 2.0f);
}
