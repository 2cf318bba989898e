/* runner_qeff.c — the runner's QEfficient path: the conversion to the
 * general form (checked field by field), then the cache write and paged
 * attention with it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner_step.h"

/* The general form the QEfficient conversion must produce, checked field by
 * field against the generator's own layout. */
static kvc_outcome check_conversion(step *st, const kva_general_inputs *g,
                                    int64_t rows)
{
    const kvc_case *c = st->c;
    const kvc_problem *p = &c->prob;
    int64_t n = p->q_start[p->num_seqs];
    if (g->num_tokens != n)
        return step_fail(st->r, KVC_FAIL_CONVERSION, "num_tokens %lld, want %lld",
                         (long long)g->num_tokens, (long long)n);
    for (int s = 0; s <= p->num_seqs; s++)
        if (g->query_start_loc[s] != p->q_start[s])
            return step_fail(st->r, KVC_FAIL_CONVERSION,
                             "query_start_loc[%d] = %lld, want %lld", s,
                             (long long)g->query_start_loc[s],
                             (long long)p->q_start[s]);
    for (int s = 0; s < p->num_seqs; s++) {
        int want = p->q_len[s] > 0 ? kvc_kv_len(p, s) : 0;
        if (g->seq_lens[s] != want)
            return step_fail(st->r, KVC_FAIL_CONVERSION,
                        "sequence %d: seq_len %d, want %d", s, g->seq_lens[s],
                             want);
    }
    for (int64_t t = 0; t < rows; t++) {
        int64_t want_slot = t < n ? c->layout.slot_mapping[t] : -1;
        int64_t want_row = t < n ? c->qeff.row_of_token[t] : -1;
        if (g->slot_mapping[t] != want_slot || g->src_row[t] != want_row)
            return step_fail(st->r, KVC_FAIL_CONVERSION,
                        "token %lld: slot %lld row %lld, want slot %lld row %lld",
                             (long long)t, (long long)g->slot_mapping[t],
                             (long long)g->src_row[t], (long long)want_slot,
                             (long long)want_row);
    }
    return KVC_PASS;
}

static int all_bytes(const void *p, size_t n, unsigned char b)
{
    const unsigned char *x = p;
    for (size_t i = 0; i < n; i++)
        if (x[i] != b)
            return 0;
    return 1;
}

static int general_untouched(const kva_general_inputs *g, int S, int64_t rows)
{
    return all_bytes(g->query_start_loc, ((size_t)S + 1) * sizeof(int64_t), 0xA5) &&
           all_bytes(g->seq_lens, (size_t)S * sizeof(int), 0xA5) &&
           all_bytes(g->slot_mapping, (size_t)rows * sizeof(int64_t), 0xA5) &&
           all_bytes(g->src_row, (size_t)rows * sizeof(int64_t), 0xA5);
}

/* The conversion's outputs, guarded and filled with 0xA5 (a refusal must
 * leave them so); g holds the runner's own pointers to them. */
static int general_outputs(step *st, kva_general_inputs *g)
{
    int S = st->c->prob.num_seqs;
    int64_t rows = st->rows;
    memset(g, 0, sizeof *g);
    g->query_start_loc = step_scratch(st, "query_start_loc", S + 1, sizeof(int64_t));
    g->seq_lens = step_scratch(st, "seq_lens", S, sizeof(int));
    g->slot_mapping = step_scratch(st, "slot_mapping", rows, sizeof(int64_t));
    g->src_row = step_scratch(st, "src_row", rows, sizeof(int64_t));
    if (!g->query_start_loc || !g->seq_lens || !g->slot_mapping || !g->src_row)
        return -1;
    memset(g->query_start_loc, 0xA5, ((size_t)S + 1) * sizeof(int64_t));
    memset(g->seq_lens, 0xA5, (size_t)S * sizeof(int));
    memset(g->slot_mapping, 0xA5, (size_t)rows * sizeof(int64_t));
    memset(g->src_row, 0xA5, (size_t)rows * sizeof(int64_t));
    return 0;
}

/* Convert the QEfficient inputs into g (the runner's pointers; num_tokens
 * from the kernel). */
static kvc_outcome convert_qeff(step *st, kva_general_inputs *g)
{
    const kvc_case *c = st->c;
    int S = c->prob.num_seqs;
    kva_qeff_inputs in;
    memset(&in, 0, sizeof in); /* defined padding, as in run_paged */
    in.num_seqs = S;
    in.max_q = c->qeff.max_q;
    in.position_ids = step_input(st, "position_ids", c->qeff.position_ids,
                                 (int64_t)S * c->qeff.max_q, sizeof(int));
    in.slot_id = step_input(st, "slot_id", c->qeff.slot_id, S, sizeof(int));
    in.block_table = st->block_table;
    in.num_kv_blocks = c->layout.max_blocks_per_seq;
    in.block_size = c->layout.block_size;
    in.num_blocks = c->layout.num_blocks;
    const kva_qeff_inputs *gin = step_input(st, "QEfficient inputs", &in, 1,
                                            sizeof in);
    kva_general_inputs *gout = step_scratch(st, "general inputs", 1, sizeof *gout);
    if (!in.position_ids || !in.slot_id || !gin || !gout ||
        general_outputs(st, g) != 0)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    *gout = *g;
    kva_error e = {0};
    kva_status s = st->k->qeff_to_general(gin, gout, &e);
    kvc_outcome o = step_guard_check(st, "QEfficient conversion");
    if (o != KVC_PASS)
        return o;
    g->num_tokens = gout->num_tokens;
    if (s != KVA_OK) {
        o = step_refused(st, "QEfficient conversion", s, &e, &st->before);
        if (o == KVC_PASS && !general_untouched(g, S, st->rows))
            o = step_fail(st->r, KVC_FAIL_REFUSAL,
                     "QEfficient conversion refused (%s) but wrote its outputs",
                          kva_status_name(s));
        return o;
    }
    /* its outputs are what the next calls are given: inputs from now on */
    if (step_seal(st, g->query_start_loc) || step_seal(st, g->seq_lens) ||
        step_seal(st, g->slot_mapping) || step_seal(st, g->src_row))
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    return KVC_PASS;
}

/* QEfficient: convert, check the general form, then write and attend with
 * it over all S*max_q rows (the trailing ones are padding). */
kvc_outcome step_run_qeff(step *st)
{
    const kvc_problem *p = &st->c->prob;
    kva_general_inputs g;
    kvc_outcome o = convert_qeff(st, &g);
    if (o != KVC_PASS || st->stopped)
        return o;
    /* The exact general form is known only for inputs that follow the
     * convention; an invalid case may legitimately convert and be refused
     * later by attention. */
    if (st->opts->expect == KVC_EXPECT_VALID &&
        (o = check_conversion(st, &g, st->rows)) != KVC_PASS)
        return o;
    if ((o = step_write_new_tokens(st, g.slot_mapping, st->rows)) != KVC_PASS ||
        st->stopped)
        return o;
    int64_t per_row = (int64_t)p->cfg.num_q_heads * p->cfg.head_dim;
    int64_t n = p->q_start[p->num_seqs];
    float *q = step_scratch(st, "q", st->rows * per_row, sizeof(float));
    if (!q)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    memcpy(q, p->q, (size_t)(n * per_row) * sizeof(float));
    for (int64_t i = n * per_row; i < st->rows * per_row; i++)
        q[i] = NAN;
    if (step_seal(st, q) != 0)
        return step_fail(st->r, KVC_FAIL_SETUP, "out of memory");
    return step_run_paged(st, q, g.query_start_loc, g.seq_lens);
}

