/* properties.c — reference-free properties (properties.h). */
#include "properties.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

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
    if (memcmp(a, b, (size_t)n * sizeof *a) == 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0)
            return i;
    return -1;
}

static kvc_outcome check_relabel(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 int64_t rows, kvc_result *r)
{
    const kvc_layout *l = &c->layout;
    if (c->spec.mode == KVC_MODE_BLOCKED || l->num_blocks > RELABEL_MAX_BLOCKS ||
        l->pool_elems > KVC_POOL_SPARSE_BYTES / (int64_t)sizeof(float))
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
    kvc_outcome o = kvc_run_outputs(&rc.c, k, &out2, &lse2, &rows2, &r2);
    int Hq = c->prob.cfg.num_q_heads, D = c->prob.cfg.head_dim;
    if (o != KVC_PASS) {
        snprintf(r->message, sizeof r->message,
                 "with the blocks relabelled: %s: %.400s", kvc_outcome_name(o),
                 r2.message);
        o = KVC_FAIL_PROPERTY;
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
            o = KVC_FAIL_PROPERTY;
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

kvc_outcome kvc_check_properties(const kvc_case *c, const kvc_kernel *k,
                                 const float *out, const float *lse,
                                 int64_t rows, kvc_result *r)
{
    return check_relabel(c, k, out, lse, rows, r);
}
