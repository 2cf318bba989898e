/*
 * bm_model.c — the block manager's reference model (bm_model.h): lists and
 * loops, nothing clever. Reference counts are never stored: every question
 * recounts them from the live rows.
 */
#include "bm_model.h"
#include "model_say.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kvc_bm_model {
    kva_bm_config cfg;
    int64_t cap;      /* tokens a sequence can hold: max_blocks_per_seq * B */
    int64_t *len;     /* [max_seqs] -1 = not live */
    int32_t *tokens;  /* [max_seqs][cap] */
    int *rows;        /* [max_seqs][max_blocks_per_seq] */
    int64_t *reg_len; /* [num_blocks] length of the prefix a registered
                         block ends; 0 = not registered */
    int32_t **reg_prefix; /* [num_blocks] that prefix (malloc'd) */
};

kvc_bm_model *kvc_bm_model_new(const kva_bm_config *cfg)
{
    if (!cfg || cfg->num_blocks < 1 || cfg->block_size < 1 ||
        cfg->max_seqs < 1 || cfg->max_blocks_per_seq < 1)
        return NULL;
    kvc_bm_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    m->cap = (int64_t)cfg->max_blocks_per_seq * cfg->block_size;
    m->len = malloc(sizeof(int64_t) * (size_t)cfg->max_seqs);
    m->tokens = calloc((size_t)(cfg->max_seqs * m->cap), sizeof(int32_t));
    m->rows = malloc(sizeof(int) * (size_t)cfg->max_seqs *
                     (size_t)cfg->max_blocks_per_seq);
    m->reg_len = calloc((size_t)cfg->num_blocks, sizeof(int64_t));
    m->reg_prefix = calloc((size_t)cfg->num_blocks, sizeof(int32_t *));
    if (!m->len || !m->tokens || !m->rows || !m->reg_len || !m->reg_prefix) {
        kvc_bm_model_free(m);
        return NULL;
    }
    for (int s = 0; s < cfg->max_seqs; s++)
        m->len[s] = -1;
    for (int i = 0; i < cfg->max_seqs * cfg->max_blocks_per_seq; i++)
        m->rows[i] = -1;
    return m;
}

void kvc_bm_model_free(kvc_bm_model *m)
{
    if (!m)
        return;
    if (m->reg_prefix)
        for (int b = 0; b < m->cfg.num_blocks; b++)
            free(m->reg_prefix[b]);
    free(m->reg_prefix);
    free(m->reg_len);
    free(m->rows);
    free(m->tokens);
    free(m->len);
    free(m);
}

/* ---- the view ------------------------------------------------------------- */

const kva_bm_config *kvc_bm_model_config(const kvc_bm_model *m) { return &m->cfg; }
int64_t kvc_bm_model_len(const kvc_bm_model *m, int seq) { return m->len[seq]; }

const int32_t *kvc_bm_model_tokens(const kvc_bm_model *m, int seq)
{
    return m->tokens + seq * m->cap;
}

const int *kvc_bm_model_row(const kvc_bm_model *m, int seq)
{
    return m->rows + seq * m->cfg.max_blocks_per_seq;
}

static int64_t nblocks(const kvc_bm_model *m, int64_t len)
{
    return len <= 0 ? 0 : (len + m->cfg.block_size - 1) / m->cfg.block_size;
}

int kvc_bm_model_ref(const kvc_bm_model *m, int block)
{
    int n = 0;
    for (int s = 0; s < m->cfg.max_seqs; s++)
        for (int64_t k = 0; k < nblocks(m, m->len[s]); k++)
            n += kvc_bm_model_row(m, s)[k] == block;
    return n;
}

int kvc_bm_model_num_free(const kvc_bm_model *m)
{
    int n = 0;
    for (int b = 0; b < m->cfg.num_blocks; b++)
        n += kvc_bm_model_ref(m, b) == 0;
    return n;
}

int kvc_bm_model_registered(const kvc_bm_model *m, int block)
{
    return m->reg_len[block] > 0;
}

static void unregister(kvc_bm_model *m, int b)
{
    free(m->reg_prefix[b]);
    m->reg_prefix[b] = NULL;
    m->reg_len[b] = 0;
}

/* The registered block whose prefix is p[0, n), or -1. */
static int registered_with(const kvc_bm_model *m, const int32_t *p, int64_t n)
{
    for (int b = 0; b < m->cfg.num_blocks; b++)
        if (m->reg_len[b] == n &&
            memcmp(m->reg_prefix[b], p, sizeof(int32_t) * (size_t)n) == 0)
            return b;
    return -1;
}

static int seq_ok(const kvc_bm_model *m, int seq)
{
    return seq >= 0 && seq < m->cfg.max_seqs;
}

static int status_is(kva_status want, kva_status got, const char *op,
                     char *why, size_t len)
{
    if (want == got)
        return 1;
    return kvc_model_say(why, len, "%s: status %s, the model says %s", op,
               kvc_model_status_name(got), kvc_model_status_name(want));
}

/* ---- append ------------------------------------------------------------- */

/* The prediction for an append: its status, the copy, and per new row entry
 * k0..k1-1 the block to share (-1: a free one). */
typedef struct plan {
    kva_status status;
    int64_t old_len, k0, k1;
    int cow_src; /* -1: no copy */
    int *shared; /* [k1 - k0] */
} plan;

static void plan_append(const kvc_bm_model *m, int seq, const int32_t *tok,
                        int n, int32_t *after, plan *p)
{
    int B = m->cfg.block_size;
    p->status = KVA_OK;
    p->shared = NULL;
    p->cow_src = -1;
    if (!seq_ok(m, seq)) {
        p->status = KVA_ERR_PARAM;
        return;
    }
    if (n < 0) {
        p->status = KVA_ERR_LENGTH;
        return;
    }
    p->old_len = m->len[seq] < 0 ? 0 : m->len[seq];
    p->k0 = nblocks(m, p->old_len);
    p->k1 = nblocks(m, p->old_len + n);
    if (p->k1 > m->cfg.max_blocks_per_seq) {
        p->status = KVA_ERR_FULL;
        return;
    }
    memcpy(after, kvc_bm_model_tokens(m, seq), sizeof(int32_t) * (size_t)p->old_len);
    memcpy(after + p->old_len, tok, sizeof(int32_t) * (size_t)n);
    const int *row = kvc_bm_model_row(m, seq);
    int need = 0;
    if (n > 0 && p->old_len % B != 0 &&
        kvc_bm_model_ref(m, row[p->old_len / B]) > 1) {
        p->cow_src = row[p->old_len / B];
        need++;
    }
    p->shared = malloc(sizeof(int) * (size_t)(p->k1 - p->k0 + 1));
    for (int64_t k = p->k0; k < p->k1; k++) {
        int whole = (k + 1) * B <= p->old_len + n;
        int b = whole && m->cfg.prefix_sharing
                    ? registered_with(m, after, (k + 1) * B) : -1;
        p->shared[k - p->k0] = b;
        need += b < 0;
    }
    if (need > kvc_bm_model_num_free(m))
        p->status = KVA_ERR_FULL;
}

/* A block the manager took must be free in the model and not taken twice. */
static int fresh_ok(const kvc_bm_model *m, int b, const int *taken, int ntaken)
{
    if (b < 0 || b >= m->cfg.num_blocks || kvc_bm_model_ref(m, b) != 0)
        return 0;
    for (int i = 0; i < ntaken; i++)
        if (taken[i] == b)
            return 0;
    return 1;
}

static int judge_append(const kvc_bm_model *m, int seq, int n, const plan *p,
                        const kvc_bm_answer *a, char *why, size_t len)
{
    int B = m->cfg.block_size;
    const int *row = kvc_bm_model_row(m, seq);
    int nt = (int)(p->k1 - p->k0) + 1, ntaken = 0;
    int *taken = calloc((size_t)nt, sizeof(int));
    if (!taken)
        return kvc_model_say(why, len, "append seq %d: out of memory", seq);
    int ok = 1;
    if (a->num_copies != (p->cow_src >= 0))
        ok = kvc_model_say(why, len, "append seq %d: %d copies, the model says %d", seq,
                 a->num_copies, p->cow_src >= 0);
    else if (p->cow_src >= 0 && (a->copy.src != p->cow_src ||
                                 !fresh_ok(m, a->copy.dst, taken, ntaken)))
        ok = kvc_model_say(why, len, "append seq %d: copy %d -> %d, the model says %d "
                 "-> a free block", seq, a->copy.src, a->copy.dst, p->cow_src);
    if (ok && p->cow_src >= 0)
        taken[ntaken++] = a->copy.dst;
    for (int64_t k = 0; ok && k < p->k0; k++) {
        int want = (p->cow_src >= 0 && k == p->old_len / B) ? a->copy.dst : row[k];
        if (a->row_after[k] != want)
            ok = kvc_model_say(why, len, "append seq %d: row[%" PRId64 "] %d, was %d",
                     seq, k, a->row_after[k], want);
    }
    for (int64_t k = p->k0; ok && k < p->k1; k++) {
        int got = a->row_after[k], sh = p->shared[k - p->k0];
        if (sh >= 0 && got != sh)
            ok = kvc_model_say(why, len, "append seq %d: row[%" PRId64 "] %d, the model "
                     "shares block %d (same prefix of %" PRId64 " tokens)",
                     seq, k, got, sh, (k + 1) * B);
        else if (sh < 0 && !fresh_ok(m, got, taken, ntaken))
            ok = kvc_model_say(why, len, "append seq %d: row[%" PRId64 "] %d %s", seq,
                     k, got,
                     got >= 0 && got < m->cfg.num_blocks &&
                             kvc_bm_model_ref(m, got) > 0
                         ? "is in use: shared, but no registered block has "
                           "this prefix (or it was not registered)"
                         : "is not a free block (or is taken twice)");
        else if (sh < 0)
            taken[ntaken++] = got;
    }
    for (int64_t k = p->k1; ok && k < m->cfg.max_blocks_per_seq; k++)
        if (a->row_after[k] != -1)
            ok = kvc_model_say(why, len, "append seq %d: row[%" PRId64 "] %d past its "
                     "blocks (want -1)", seq, k, a->row_after[k]);
    for (int t = 0; ok && t < n; t++) {
        int64_t pos = p->old_len + t, k = pos / B;
        int64_t want = (k >= p->k0 && p->shared[k - p->k0] >= 0)
                           ? -1 : (int64_t)a->row_after[k] * B + pos % B;
        if (a->slots[t] != want)
            ok = kvc_model_say(why, len, "append seq %d: slot of token %d (position %"
                     PRId64 ") %" PRId64 ", the model says %" PRId64, seq, t,
                     pos, a->slots[t], want);
    }
    free(taken);
    return ok;
}

/* Apply a judged append: the rows and tokens as the manager chose, then
 * registration of each block the append filled (not a shared one). */
static void apply_append(kvc_bm_model *m, int seq, int n, const plan *p,
                         const int32_t *after, const int *row_after)
{
    int B = m->cfg.block_size;
    int *row = m->rows + seq * m->cfg.max_blocks_per_seq;
    /* a block written into is unregistered: it is this sequence's alone
     * (a shared one was copied, and the copy is not registered) */
    if (n > 0 && p->old_len % B != 0 && p->cow_src < 0)
        unregister(m, row[p->old_len / B]);
    memcpy(row, row_after, sizeof(int) * (size_t)m->cfg.max_blocks_per_seq);
    memcpy(m->tokens + seq * m->cap, after,
           sizeof(int32_t) * (size_t)(p->old_len + n));
    m->len[seq] = p->old_len + n;
    if (!m->cfg.prefix_sharing)
        return;
    for (int64_t k = p->old_len / B; (k + 1) * B <= p->old_len + n; k++) {
        if (k >= p->k0 && p->shared[k - p->k0] >= 0)
            continue;
        int64_t plen = (k + 1) * B;
        if (registered_with(m, after, plen) >= 0)
            continue;
        m->reg_prefix[row[k]] = malloc(sizeof(int32_t) * (size_t)plen);
        memcpy(m->reg_prefix[row[k]], after, sizeof(int32_t) * (size_t)plen);
        m->reg_len[row[k]] = plen;
    }
}

int kvc_bm_model_append(kvc_bm_model *m, int seq, const int32_t *tokens,
                        int n, const kvc_bm_answer *a, char *why, size_t len)
{
    int32_t *after = malloc(sizeof(int32_t) * (size_t)(m->cap + (n > 0 ? n : 0) + 1));
    plan p;
    plan_append(m, seq, tokens, n, after, &p);
    int ok = status_is(p.status, a->status, "append", why, len);
    if (ok && p.status == KVA_OK) {
        ok = judge_append(m, seq, n, &p, a, why, len);
        if (ok)
            apply_append(m, seq, n, &p, after, a->row_after);
    }
    free(p.shared);
    free(after);
    return ok;
}

/* ---- fork, rollback, free --------------------------------------------------- */

static kva_status fork_status(const kvc_bm_model *m, int parent, int child)
{
    if (!seq_ok(m, parent) || !seq_ok(m, child) || m->len[parent] < 0 ||
        m->len[child] >= 0)
        return KVA_ERR_PARAM;
    return KVA_OK;
}

int kvc_bm_model_fork(kvc_bm_model *m, int parent, int child, kva_status got,
                      char *why, size_t len)
{
    kva_status want = fork_status(m, parent, child);
    if (!status_is(want, got, "fork", why, len))
        return 0;
    if (want != KVA_OK)
        return 1;
    int R = m->cfg.max_blocks_per_seq;
    memcpy(m->rows + child * R, m->rows + parent * R, sizeof(int) * (size_t)R);
    memcpy(m->tokens + child * m->cap, m->tokens + parent * m->cap,
           sizeof(int32_t) * (size_t)m->len[parent]);
    m->len[child] = m->len[parent];
    return 1;
}

/* Cut sequence seq to new_len: entries past it become -1; a block no row
 * holds any more is unregistered. */
static void cut(kvc_bm_model *m, int seq, int64_t new_len)
{
    int *row = m->rows + seq * m->cfg.max_blocks_per_seq;
    int64_t keep = nblocks(m, new_len), had = nblocks(m, m->len[seq]);
    m->len[seq] = new_len;
    for (int64_t k = keep; k < had; k++) {
        int b = row[k];
        row[k] = -1;
        if (kvc_bm_model_ref(m, b) == 0)
            unregister(m, b);
    }
}

static kva_status rollback_status(const kvc_bm_model *m, int seq, int n)
{
    if (!seq_ok(m, seq) || m->len[seq] < 0)
        return KVA_ERR_PARAM;
    if (n < 0 || n > m->len[seq])
        return KVA_ERR_LENGTH;
    return KVA_OK;
}

int kvc_bm_model_rollback(kvc_bm_model *m, int seq, int n, kva_status got,
                          char *why, size_t len)
{
    kva_status want = rollback_status(m, seq, n);
    if (!status_is(want, got, "rollback", why, len))
        return 0;
    if (want == KVA_OK)
        cut(m, seq, m->len[seq] - n);
    return 1;
}

static kva_status free_status(const kvc_bm_model *m, int seq)
{
    return !seq_ok(m, seq) || m->len[seq] < 0 ? KVA_ERR_PARAM : KVA_OK;
}

int kvc_bm_model_free_seq(kvc_bm_model *m, int seq, kva_status got,
                          char *why, size_t len)
{
    kva_status want = free_status(m, seq);
    if (!status_is(want, got, "free", why, len))
        return 0;
    if (want == KVA_OK) {
        cut(m, seq, 0);
        m->len[seq] = -1;
    }
    return 1;
}

/* ---- the model answering itself ------------------------------------------ */

/* The lowest-numbered free block not in taken[0, ntaken), or -1. */
static int lowest_free(const kvc_bm_model *m, const int *taken, int ntaken)
{
    for (int b = 0; b < m->cfg.num_blocks; b++)
        if (fresh_ok(m, b, taken, ntaken))
            return b;
    return -1;
}

/* Fill a's row, copy and slots from plan p, new blocks lowest first. */
static void answer_from_plan(const kvc_bm_model *m, int seq, int n,
                             const plan *p, int *taken, kvc_bm_reply *a)
{
    int B = m->cfg.block_size, ntaken = 0;
    memcpy(a->row_after, kvc_bm_model_row(m, seq),
           sizeof(int) * (size_t)m->cfg.max_blocks_per_seq);
    a->num_copies = p->cow_src >= 0;
    if (p->cow_src >= 0) {
        a->copy.src = p->cow_src;
        a->copy.dst = lowest_free(m, taken, ntaken);
        taken[ntaken++] = a->copy.dst;
        a->row_after[p->old_len / B] = a->copy.dst;
    }
    for (int64_t k = p->k0; k < p->k1; k++) {
        int sh = p->shared[k - p->k0];
        a->row_after[k] = sh >= 0 ? sh : lowest_free(m, taken, ntaken);
        if (sh < 0)
            taken[ntaken++] = a->row_after[k];
    }
    for (int t = 0; t < n; t++) {
        int64_t pos = p->old_len + t, k = pos / B;
        a->slots[t] = (k >= p->k0 && p->shared[k - p->k0] >= 0)
                          ? -1 : (int64_t)a->row_after[k] * B + pos % B;
    }
}

int kvc_bm_model_answer_append(kvc_bm_model *m, int seq, const int32_t *tokens,
                               int n, kvc_bm_reply *a)
{
    int32_t *after = malloc(sizeof(int32_t) * (size_t)(m->cap + (n > 0 ? n : 0) + 1));
    int *taken = malloc(sizeof(int) * (size_t)(m->cfg.max_blocks_per_seq + 2));
    plan p = {.shared = NULL};
    int rc = after && taken ? 0 : -1;
    a->num_copies = 0;
    if (rc == 0)
        plan_append(m, seq, tokens, n, after, &p);
    a->status = p.status;
    if (rc == 0 && p.status == KVA_OK && !p.shared)
        rc = -1;
    if (rc == 0 && p.status == KVA_OK) {
        answer_from_plan(m, seq, n, &p, taken, a);
        kvc_bm_answer ans = {a->status, a->row_after, a->slots, a->copy,
                             a->num_copies};
        char why[256];
        /* the model judges its own answer: it must agree */
        rc = kvc_bm_model_append(m, seq, tokens, n, &ans, why, sizeof why) ? 0 : -1;
    }
    free(p.shared);
    free(taken);
    free(after);
    return rc;
}

kva_status kvc_bm_model_answer_fork(kvc_bm_model *m, int parent, int child)
{
    kva_status st = fork_status(m, parent, child);
    kvc_bm_model_fork(m, parent, child, st, NULL, 0);
    return st;
}

kva_status kvc_bm_model_answer_rollback(kvc_bm_model *m, int seq, int n)
{
    kva_status st = rollback_status(m, seq, n);
    kvc_bm_model_rollback(m, seq, n, st, NULL, 0);
    return st;
}

kva_status kvc_bm_model_answer_free(kvc_bm_model *m, int seq)
{
    kva_status st = free_status(m, seq);
    kvc_bm_model_free_seq(m, seq, st, NULL, 0);
    return st;
}
