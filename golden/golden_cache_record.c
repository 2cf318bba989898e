/*
 * golden_cache_record.c — a cache golden test's steps, recorded from the
 * reference models answering each operation themselves
 * (golden_cache_internal.h), and the file's memory.
 */
#include "golden_cache_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/bm_ops.h"
#include "../generators/policy_ops.h"

const char *kvc_cache_kind_name(kvc_cache_kind k)
{
    return k == KVC_CACHE_MANAGER ? "manager" : "policy";
}

const char *kvc_cache_op_name(kvc_cache_kind k, int op)
{
    if (k == KVC_CACHE_MANAGER)
        return kvc_bm_op_name((kvc_bm_op_kind)op);
    return op == KVC_POLICY_APPEND ? "append"
           : op == KVC_POLICY_OBSERVE ? "observe" : "unknown";
}

kvc_cache_test *kvcc_add_test(kvc_cache_file *f, const char *comment,
                              const char *flags, const kva_bm_config *bm,
                              const kva_policy_config *pol)
{
    kvc_cache_test *nt = realloc(f->tests, sizeof *nt * (size_t)(f->num_tests + 1));
    if (!nt)
        return NULL;
    f->tests = nt;
    kvc_cache_test *t = &nt[f->num_tests++];
    memset(t, 0, sizeof *t);
    t->tc_id = f->num_tests;
    snprintf(t->comment, sizeof t->comment, "%s", comment);
    snprintf(t->flags, sizeof t->flags, "%s", flags);
    if (bm)
        t->bm = *bm;
    if (pol)
        t->pol = *pol;
    return t;
}

kvc_cache_step *kvcc_add_step(kvc_cache_test *t)
{
    kvc_cache_step *ns = realloc(t->steps, sizeof *ns * (size_t)(t->num_steps + 1));
    if (!ns)
        return NULL;
    t->steps = ns;
    kvc_cache_step *s = &ns[t->num_steps++];
    memset(s, 0, sizeof *s);
    return s;
}

void kvcc_free_step(kvc_cache_step *s)
{
    free(s->tokens);
    free(s->weights);
    free(s->slots);
    free(s->lengths);
    free(s->rows);
    free(s->refs);
    free(s->positions);
    free(s->scores);
}

void kvc_cache_golden_free(kvc_cache_file *f)
{
    for (int i = 0; f->tests && i < f->num_tests; i++) {
        for (int k = 0; k < f->tests[i].num_steps; k++)
            kvcc_free_step(&f->tests[i].steps[k]);
        free(f->tests[i].steps);
    }
    free(f->tests);
    f->tests = NULL;
    f->num_tests = 0;
}

/* ---- the manager ---------------------------------------------------------- */

/* The model's whole state into s. */
static int bm_state(const kvc_bm_model *m, kvc_cache_step *s)
{
    const kva_bm_config *c = kvc_bm_model_config(m);
    int R = c->max_blocks_per_seq;
    s->lengths = malloc(sizeof(int64_t) * (size_t)c->max_seqs);
    s->rows = malloc(sizeof(int) * (size_t)c->max_seqs * (size_t)R);
    s->refs = malloc(sizeof(int) * (size_t)c->num_blocks);
    if (!s->lengths || !s->rows || !s->refs)
        return -1;
    for (int q = 0; q < c->max_seqs; q++) {
        s->lengths[q] = kvc_bm_model_len(m, q);
        memcpy(s->rows + (size_t)q * (size_t)R, kvc_bm_model_row(m, q),
               sizeof(int) * (size_t)R);
    }
    for (int b = 0; b < c->num_blocks; b++)
        s->refs[b] = kvc_bm_model_ref(m, b);
    s->num_free = kvc_bm_model_num_free(m);
    return 0;
}

int kvcc_record_bm(kvc_cache_test *t, kvc_bm_model *m, int op, int seq,
                   int other, int n, const int32_t *tokens)
{
    kvc_cache_step *s = kvcc_add_step(t);
    if (!s)
        return -1;
    s->op = op;
    s->seq = seq;
    s->other = other;
    s->n = n;
    switch (op) {
    case KVC_BM_APPEND: {
        int nn = n > 0 ? n : 0;
        int R = kvc_bm_model_config(m)->max_blocks_per_seq;
        int *row = malloc(sizeof(int) * (size_t)R);
        s->slots = malloc(sizeof(int64_t) * (size_t)(nn + 1));
        s->tokens = malloc(sizeof(int32_t) * (size_t)(nn + 1));
        if (!row || !s->slots || !s->tokens) {
            free(row);
            return -1;
        }
        memcpy(s->tokens, tokens, sizeof(int32_t) * (size_t)nn);
        kvc_bm_reply a = {.row_after = row, .slots = s->slots};
        int rc = kvc_bm_model_answer_append(m, seq, tokens, n, &a);
        free(row);
        if (rc != 0)
            return -1;
        s->status = a.status;
        s->num_copies = a.num_copies;
        s->copy = a.copy;
        if (a.status != KVA_OK) {
            free(s->slots);
            s->slots = NULL;
        }
        break;
    }
    case KVC_BM_FORK: s->status = kvc_bm_model_answer_fork(m, seq, other); break;
    case KVC_BM_ROLLBACK: s->status = kvc_bm_model_answer_rollback(m, seq, n); break;
    default: s->status = kvc_bm_model_answer_free(m, seq); break;
    }
    return bm_state(m, s);
}

/* ---- the policies ---------------------------------------------------------- */

static int policy_state(const kvc_policy_model *m, kvc_cache_step *s,
                        char *err, size_t errlen)
{
    const kva_policy_config *c = kvc_policy_model_config(m);
    size_t ns = (size_t)c->num_kv_heads * (size_t)c->num_slots;
    s->positions = malloc(sizeof(int64_t) * ns);
    s->scores = malloc(sizeof(float) * ns);
    if (!s->positions || !s->scores)
        return -1;
    memcpy(s->positions, kvc_policy_model_positions(m), sizeof(int64_t) * ns);
    const double *sc = kvc_policy_model_scores(m);
    for (size_t i = 0; i < ns; i++) {
        s->scores[i] = (float)sc[i];
        if ((double)s->scores[i] != sc[i]) {
            snprintf(err, errlen, "a score (%.17g) is not an fp32 value: the "
                     "weights are not exact", sc[i]);
            return -1;
        }
    }
    return 0;
}

int kvcc_record_policy(kvc_cache_test *t, kvc_policy_model *m, int op, int n,
                       const float *weights, char *err, size_t errlen)
{
    const kva_policy_config *c = kvc_policy_model_config(m);
    size_t ns = (size_t)c->num_kv_heads * (size_t)c->num_slots;
    kvc_cache_step *s = kvcc_add_step(t);
    snprintf(err, errlen, "out of memory");
    if (!s)
        return -1;
    s->op = op;
    s->n = n;
    if (op == KVC_POLICY_OBSERVE) {
        s->weights = malloc(sizeof(float) * ns);
        if (!s->weights)
            return -1;
        memcpy(s->weights, weights, sizeof(float) * ns);
        s->status = kvc_policy_model_answer_observe(m, weights);
    } else {
        int nn = n > 0 ? n : 0;
        int *slots = malloc(sizeof(int) * ((size_t)nn * (size_t)c->num_kv_heads + 1));
        s->slots = malloc(sizeof(int64_t) * ((size_t)nn * (size_t)c->num_kv_heads + 1));
        if (!slots || !s->slots) {
            free(slots);
            return -1;
        }
        kvc_policy_model_answer_append(m, n, &s->status, slots);
        for (size_t i = 0; s->status == KVA_OK && i < (size_t)nn * (size_t)c->num_kv_heads; i++)
            s->slots[i] = slots[i];
        free(slots);
        if (s->status != KVA_OK) {
            free(s->slots);
            s->slots = NULL;
        }
    }
    return policy_state(m, s, err, errlen);
}
