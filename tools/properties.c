/* properties.c — reference-free properties (properties.h). */
#include "properties.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "prop_internal.h"

/* Relabelling applies to pools small enough to permute whole. */
#define RELABEL_MAX_BLOCKS (1 << 20)

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A fixed permutation of the pool's blocks, from the case's poison seed
 * (Fisher-Yates; not a test input, so no GSL stream is needed). */
static int64_t *block_permutation(const kvc_layout *l)
{
    int64_t n = l->num_blocks;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t st = l->poison_seed ^ 0x52454C4142454CULL; /* "RELABEL" */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(mix(&st) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

/* c with its layout's block ids mapped through perm (entries that are not
 * block ids, -1 or poison past the pool, stay). Owns table and slots. */
typedef struct relabelled {
    kvc_case c;
    int *table;
    int64_t *slots;
} relabelled;

static int relabel(const kvc_case *c, const int64_t *perm, relabelled *out)
{
    const kvc_layout *l = &c->layout;
    int64_t cells = (int64_t)(c->prob.num_seqs > 0 ? c->prob.num_seqs : 1) *
                    l->max_blocks_per_seq;
    int64_t n_tok = c->prob.num_tokens > 0 ? c->prob.num_tokens : 1;
    out->table = malloc((size_t)cells * sizeof *out->table);
    out->slots = malloc((size_t)n_tok * sizeof *out->slots);
    if (!out->table || !out->slots) {
        free(out->table);
        free(out->slots);
        return -1;
    }
    for (int64_t e = 0; e < cells; e++) {
        int id = l->block_table[e];
        out->table[e] = id >= 0 && id < l->num_blocks ? (int)perm[id] : id;
    }
    for (int64_t t = 0; t < c->prob.num_tokens; t++) {
        int64_t s = l->slot_mapping[t];
        out->slots[t] = s < 0 ? s
                              : perm[s / l->block_size] * l->block_size +
                                    s % l->block_size;
    }
    out->c = *c; /* shallow: tensors and QEfficient inputs are shared */
    out->c.layout.block_table = out->table;
    out->c.layout.slot_mapping = out->slots;
    return 0;
}

/* First bitwise difference of two float arrays, or -1. */
static int64_t first_diff(const float *a, const float *b, int64_t n)
{
    if (!a || !b) /* no lse: nothing to compare */
        return -1;
    if (memcmp(a, b, (size_t)n * sizeof *a) == 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0)
            return i;
    return -1;
}

static kvc_outcome check_relabel(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 int64_t rows, const kvc_kv_store *store,
                                 kvc_result *r)
{
    const kvc_layout *l = &c->layout;
    if (c->spec.mode == KVC_MODE_BLOCKED || l->num_blocks > RELABEL_MAX_BLOCKS ||
        l->pool_elems * kvc_unit_bytes(c->prob.quant.dtype) >
            KVC_POOL_SPARSE_BYTES)
        return KVC_PASS;
    int64_t *perm = block_permutation(l);
    relabelled rc;
    if (!perm || relabel(c, perm, &rc) != 0) {
        free(perm);
        snprintf(r->message, sizeof r->message, "relabel: out of memory");
        return r->outcome = KVC_FAIL_SETUP;
    }
    free(perm);
    float *out2, *lse2;
    int64_t rows2;
    kvc_result r2;
    /* the same problem (only the blocks moved): the same store */
    kvc_outcome o = kvc_run_outputs(&rc.c, k, store, &out2, &lse2, &rows2, &r2);
    int Hq = c->prob.cfg.num_q_heads, D = c->prob.cfg.head_dim;
    if (o != KVC_PASS) {
        snprintf(r->message, sizeof r->message,
                 "with the blocks relabelled: %s: %.400s", kvc_outcome_name(o),
                 r2.message);
        o = KVC_FAIL_PROP_RELABEL;
    } else {
        int64_t d_out = first_diff(out, out2, rows * Hq * D);
        int64_t d_lse = first_diff(lse, lse2, rows * Hq);
        if (d_out >= 0 || d_lse >= 0) {
            int64_t i = d_out >= 0 ? d_out : d_lse;
            int per = d_out >= 0 ? Hq * D : Hq;
            snprintf(r->message, sizeof r->message,
                     "relabelling the physical blocks changed %s of token "
                     "%lld: %.9g became %.9g (must be bitwise identical)",
                     d_out >= 0 ? "out" : "lse", (long long)(i / per),
                     (double)(d_out >= 0 ? out[i] : lse[i]),
                     (double)(d_out >= 0 ? out2[i] : lse2[i]));
            o = KVC_FAIL_PROP_RELABEL;
        }
    }
    (void)rows2;
    free(out2);
    free(lse2);
    free(rc.table);
    free(rc.slots);
    r->outcome = o;
    return o;
}

/* ---- batch invariance ---- */

/* The case of sequence s alone: its logical tensors, its table row, its
 * slots (blocked: a one-sequence contiguous cache), its QEfficient row. The
 * pool ids stay the same, so it reads the same physical blocks. */
typedef struct alone {
    kvc_case c;
    int *table;
    int64_t *slots;
    int *positions, *slot_id;
    int64_t *row_of_token;
} alone;

static void alone_free(alone *a)
{
    kvc_problem_free(&a->c.prob);
    free(a->table);
    free(a->slots);
    free(a->positions);
    free(a->slot_id);
    free(a->row_of_token);
}

static int copy_problem_seq(const kvc_problem *p, int s, kvc_problem *o)
{
    if (kvc_problem_alloc(o, &p->cfg, 1, &p->ctx_len[s], &p->q_len[s], 0,
                          p->has_mask) != 0 ||
        kvc_prop_copy_quant(p, o) != 0)
        return -1;
    int64_t hq = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t hkv = (int64_t)p->cfg.num_kv_heads * p->cfg.head_dim;
    memcpy(o->q, p->q + p->q_start[s] * hq,
           (size_t)(p->q_len[s] * hq) * sizeof *o->q);
    memcpy(o->k, p->k + p->kv_start[s] * hkv,
           (size_t)(kvc_kv_len(p, s) * hkv) * sizeof *o->k);
    memcpy(o->v, p->v + p->kv_start[s] * hkv,
           (size_t)(kvc_kv_len(p, s) * hkv) * sizeof *o->v);
    if (p->has_mask)
        memcpy(o->mask, p->mask + p->mask_start[s],
               (size_t)(p->mask_start[s + 1] - p->mask_start[s]));
    return 0;
}

static int make_alone(const kvc_case *c, int s, alone *a)
{
    memset(a, 0, sizeof *a);
    const kvc_layout *l = &c->layout;
    int M = l->max_blocks_per_seq, n = c->prob.q_len[s];
    a->c = *c;
    a->table = malloc((size_t)M * sizeof *a->table);
    a->slots = malloc((size_t)(n > 0 ? n : 1) * sizeof *a->slots);
    if (!a->table || !a->slots || copy_problem_seq(&c->prob, s, &a->c.prob))
        return -1;
    a->c.spec.num_seqs = 1;
    a->c.spec.pad_tokens = 0;
    a->c.layout.block_table = a->table;
    a->c.layout.slot_mapping = a->slots;
    memcpy(a->table, l->block_table + (int64_t)s * M, (size_t)M * sizeof *a->table);
    memcpy(a->slots, l->slot_mapping + c->prob.q_start[s],
           (size_t)n * sizeof *a->slots);
    if (c->spec.mode == KVC_MODE_BLOCKED) {
        /* its own one-sequence contiguous cache */
        a->c.layout.num_blocks = 1;
        a->c.layout.pool_elems = l->stride_block;
        a->c.layout.scale_pool_units = l->scale_stride_block;
        a->table[0] = 0;
        for (int i = 0; i < n; i++)
            a->slots[i] -= (int64_t)s * l->block_size;
    }
    if (c->spec.mode == KVC_MODE_QEFF) {
        int mq = c->qeff.max_q;
        a->positions = malloc((size_t)(mq > 0 ? mq : 1) * sizeof *a->positions);
        a->slot_id = malloc(sizeof *a->slot_id);
        a->row_of_token = malloc((size_t)(n > 0 ? n : 1) * sizeof *a->row_of_token);
        if (!a->positions || !a->slot_id || !a->row_of_token)
            return -1;
        memcpy(a->positions, c->qeff.position_ids + (int64_t)s * mq,
               (size_t)mq * sizeof *a->positions);
        a->slot_id[0] = c->qeff.slot_id[s];
        for (int i = 0; i < n; i++)
            a->row_of_token[i] =
                c->qeff.row_of_token[c->prob.q_start[s] + i] - (int64_t)s * mq;
        a->c.qeff.position_ids = a->positions;
        a->c.qeff.slot_id = a->slot_id;
        a->c.qeff.row_of_token = a->row_of_token;
    }
    return 0;
}

/* A sequence's output must not depend on the rest of its batch: run the
 * first sequence with new tokens alone and compare its rows bit for bit. */
static kvc_outcome check_batch_invariance(const kvc_case *c,
                                          const kvc_kernel *k,
                                          const float *out, const float *lse,
                                          kvc_result *r)
{
    const kvc_problem *p = &c->prob;
    if (p->num_seqs < 2 ||
        c->layout.pool_elems * kvc_unit_bytes(p->quant.dtype) >
            KVC_POOL_SPARSE_BYTES)
        return KVC_PASS;
    int s = 0;
    while (s < p->num_seqs && p->q_len[s] == 0)
        s++;
    if (s == p->num_seqs)
        return KVC_PASS;
    alone a;
    if (make_alone(c, s, &a) != 0) {
        alone_free(&a);
        snprintf(r->message, sizeof r->message, "batch invariance: out of memory");
        return r->outcome = KVC_FAIL_SETUP;
    }
    float *out1, *lse1;
    int64_t rows1;
    kvc_result r1;
    kvc_outcome o = kvc_run_outputs(&a.c, k, NULL, &out1, &lse1, &rows1, &r1);
    int64_t per = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t first = p->q_start[s], n = p->q_len[s];
    if (o != KVC_PASS) {
        snprintf(r->message, sizeof r->message,
                 "sequence %d alone: %s: %.400s", s, kvc_outcome_name(o),
                 r1.message);
        o = KVC_FAIL_PROP_BATCH;
    } else {
        int64_t d_out = first_diff(out + first * per, out1, n * per);
        int64_t d_lse = first_diff(lse + first * p->cfg.num_q_heads, lse1,
                                   n * p->cfg.num_q_heads);
        if (d_out >= 0 || d_lse >= 0) {
            snprintf(r->message, sizeof r->message,
                     "sequence %d gives other %s alone than in its batch of "
                     "%d (token %lld; must be bitwise identical)",
                     s, d_out >= 0 ? "out" : "lse", p->num_seqs,
                     (long long)(first + (d_out >= 0 ? d_out / per
                                                     : d_lse / p->cfg.num_q_heads)));
            o = KVC_FAIL_PROP_BATCH;
        }
    }
    free(out1);
    free(lse1);
    alone_free(&a);
    r->outcome = o;
    return o;
}

/* A kernel that takes a thread count, run again with the same count, must
 * give the same bits (kvattn.h: num_threads). */
static kvc_outcome check_thread_determinism(const kvc_case *c,
                                            const kvc_kernel *k,
                                            const float *out, const float *lse,
                                            int64_t rows,
                                            const kvc_kv_store *store,
                                            kvc_result *r)
{
    kva_caps caps;
    kvc_kernel_caps(k, &caps);
    /* a sparse pool (large offsets) is not laid out twice: under valgrind
     * two 16 GiB reservations exhaust its address space */
    if (!caps.takes_threads ||
        c->layout.pool_elems * kvc_unit_bytes(c->prob.quant.dtype) >
            KVC_POOL_SPARSE_BYTES)
        return KVC_PASS;
    kvc_result r2;
    float *out2, *lse2;
    int64_t rows2;
    kvc_outcome o = kvc_run_outputs(c, k, store, &out2, &lse2, &rows2, &r2);
    if (o != KVC_PASS) {
        *r = r2;
        return o;
    }
    int Hq = c->prob.cfg.num_q_heads;
    int64_t per = (int64_t)Hq * c->prob.cfg.head_dim;
    int64_t d_out = first_diff(out, out2, rows * per);
    int64_t d_lse = first_diff(lse, lse2, rows * Hq);
    if (d_out >= 0 || d_lse >= 0) {
        int64_t i = d_out >= 0 ? d_out : d_lse;
        o = KVC_FAIL_NONDETERMINISTIC;
        r->outcome = o;
        snprintf(r->message, sizeof r->message,
                 "two runs with %d thread%s differ: %s of token %lld: %.9g "
                 "then %.9g", k->threads > 1 ? k->threads : 1,
                 k->threads > 1 ? "s" : "", d_out >= 0 ? "out" : "lse",
                 (long long)(i / (d_out >= 0 ? per : Hq)),
                 (double)(d_out >= 0 ? out[i] : lse[i]),
                 (double)(d_out >= 0 ? out2[i] : lse2[i]));
    }
    free(out2);
    free(lse2);
    return o;
}

int kvc_prop_sampled(const kvc_case *c)
{
    /* huge cases (the size tiers) would cost several oracle runs more */
    return (c->value_seed >> 29) % KVC_PROP_EVERY == 0 &&
           kvc_spec_work(&c->spec) <= KVC_SAMPLED_CHECK_MAX_WORK;
}

/* One sampled property with a reference of its own (the tests call these
 * alone; the runner lends its reference through kvc_check_properties). */
typedef kvc_outcome (*prop_fn)(const kvc_case *, const kvc_kernel *,
                               const float *, const float *, kvc_prop_ref *,
                               kvc_result *);

static kvc_outcome with_own_reference(prop_fn fn, const kvc_case *c,
                                      const kvc_kernel *k, const float *out,
                                      const float *lse, kvc_result *r)
{
    kvc_prop_ref pr = {0};
    kvc_outcome o = fn(c, k, out, lse, &pr, r);
    kvc_prop_ref_free(&pr);
    return o;
}

kvc_outcome kvc_check_chunked_prefill(const kvc_case *c, const kvc_kernel *k,
                                      const float *out, const float *lse,
                                      kvc_result *r)
{
    return with_own_reference(kvc_prop_chunked_prefill_ref, c, k, out, lse, r);
}

kvc_outcome kvc_check_decode_steps(const kvc_case *c, const kvc_kernel *k,
                                   const float *out, const float *lse,
                                   kvc_result *r)
{
    return with_own_reference(kvc_prop_decode_steps_ref, c, k, out, lse, r);
}

kvc_outcome kvc_check_block_size(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 kvc_result *r)
{
    return with_own_reference(kvc_prop_block_size_ref, c, k, out, lse, r);
}

kvc_outcome kvc_check_properties(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 int64_t rows, const kvc_reference *ref,
                                 const kvc_kv_store *store, kvc_result *r)
{
    kvc_outcome o = check_relabel(c, k, out, lse, rows, store, r);
    if (o == KVC_PASS)
        o = check_batch_invariance(c, k, out, lse, r);
    if (o == KVC_PASS)
        o = check_thread_determinism(c, k, out, lse, rows, store, r);
    if (o != KVC_PASS || !kvc_prop_sampled(c))
        return o;
    /* one reference of the case serves the three */
    kvc_prop_ref pr = {0};
    if (ref) { /* the runner's, from judging this case: not computed again */
        pr.ref = *ref;
        pr.state = 2;
    }
    o = kvc_prop_chunked_prefill_ref(c, k, out, lse, &pr, r);
    if (o == KVC_PASS)
        o = kvc_prop_decode_steps_ref(c, k, out, lse, &pr, r);
    if (o == KVC_PASS)
        o = kvc_prop_block_size_ref(c, k, out, lse, &pr, r);
    kvc_prop_ref_free(&pr);
    return o;
}
