/*
 * golden_cache_verify.c — one cache golden test against a manager or a
 * policy implementation, step by step (golden_cache_verify.h): the manager
 * judged up to a renaming of blocks, the policies exactly.
 */
#include "golden_cache_verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/bm_ops.h"
#include "../generators/policy_ops.h"
#include "../oracle/model_say.h"

/* printf into v->message after "step K (op ...): "; returns 0. */
static int differs(kvc_cache_verdict *v, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int differs(kvc_cache_verdict *v, const char *fmt, ...)
{
    size_t used = strlen(v->message);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message + used, sizeof v->message - used, fmt, ap);
    va_end(ap);
    return 0;
}

static void *state_new(size_t bytes)
{
    return bytes ? aligned_alloc(8, (bytes + 7) / 8 * 8) : NULL;
}

/* ---- the manager: a bijection of live labels and block ids ----------------- */

typedef struct renaming {
    int n;
    int *to_kernel; /* [n] file label -> kernel id, -1 unbound */
    int *to_label;  /* [n] kernel id -> file label, -1 unbound */
} renaming;

/* Label `label` of the file is kernel block `kid` here (`what` says where). */
static int bind(renaming *r, int label, int64_t kid, const char *what,
                kvc_cache_verdict *v)
{
    if (kid < 0 || kid >= r->n)
        return differs(v, "%s: block %" PRId64 " out of range [0, %d)", what,
                       kid, r->n);
    if (r->to_kernel[label] < 0) {
        if (r->to_label[kid] >= 0)
            return differs(v, "%s: block %" PRId64 " stands for the file's block "
                           "%d (still live) but here for its block %d: a block "
                           "taken while live", what, kid, r->to_label[kid], label);
        r->to_kernel[label] = (int)kid;
        r->to_label[kid] = label;
        return 1;
    }
    if (r->to_kernel[label] != kid)
        return differs(v, "%s: block %" PRId64 ", but the file's block %d is the "
                       "kernel's block %d", what, kid, label, r->to_kernel[label]);
    return 1;
}

static void bm_run_op(const kvc_bm_impl *bm, void *st, const kvc_cache_step *s,
                      int64_t *slots, kva_bm_copy *copy, int *ncopies,
                      kva_status *got)
{
    kva_error e;
    *ncopies = 0;
    switch (s->op) {
    case KVC_BM_APPEND:
        *got = bm->append(st, s->seq, s->tokens, s->n, slots, copy, ncopies, &e);
        break;
    case KVC_BM_FORK: *got = bm->fork(st, s->seq, s->other, &e); break;
    case KVC_BM_ROLLBACK: *got = bm->rollback(st, s->seq, s->n, &e); break;
    default: *got = bm->free_seq(st, s->seq, &e); break;
    }
}

/* An accepted append's copy and slots. */
static int bm_append_ok(renaming *r, int B, const kvc_cache_step *s,
                        const int64_t *slots, const kva_bm_copy *copy,
                        int ncopies, kvc_cache_verdict *v)
{
    if (ncopies != s->num_copies)
        return differs(v, "%d copies, the file says %d", ncopies, s->num_copies);
    if (ncopies && (!bind(r, s->copy.src, copy->src, "copy src", v) ||
                    !bind(r, s->copy.dst, copy->dst, "copy dst", v)))
        return 0;
    for (int t = 0; t < s->n; t++) {
        char what[64];
        snprintf(what, sizeof what, "slot of token %d", t);
        if (s->slots[t] < 0 ? slots[t] != -1 : slots[t] < 0)
            return differs(v, "%s: %" PRId64 ", the file says %" PRId64, what,
                           slots[t], s->slots[t]);
        if (s->slots[t] < 0)
            continue;
        if (slots[t] % B != s->slots[t] % B)
            return differs(v, "%s: %" PRId64 " is offset %" PRId64 " in its "
                           "block, the file says offset %" PRId64, what,
                           slots[t], slots[t] % B, s->slots[t] % B);
        if (!bind(r, (int)(s->slots[t] / B), slots[t] / B, what, v))
            return 0;
    }
    return 1;
}

/* The whole state after a step: rows, lengths, counts, the free count. */
static int bm_state_ok(renaming *r, const kvc_bm_impl *bm, const void *st,
                       const kva_bm_config *c, const kvc_cache_step *s,
                       int *row, kvc_cache_verdict *v)
{
    int R = c->max_blocks_per_seq;
    for (int q = 0; q < c->max_seqs; q++) {
        int64_t len;
        kva_error e;
        if (bm->seq(st, q, row, &len, &e) != KVA_OK)
            return differs(v, "kva_bm_seq(%d) refused: %s", q, e.msg);
        if (len != s->lengths[q])
            return differs(v, "seq %d has length %" PRId64 ", the file says %"
                           PRId64, q, len, s->lengths[q]);
        const int *want = s->rows + (size_t)q * (size_t)R;
        for (int k = 0; k < R; k++) {
            char what[64];
            snprintf(what, sizeof what, "seq %d row[%d]", q, k);
            if (want[k] < 0 ? row[k] != -1 : row[k] < 0)
                return differs(v, "%s: %d, the file says %d", what, row[k], want[k]);
            if (want[k] >= 0 && !bind(r, want[k], row[k], what, v))
                return 0;
        }
    }
    for (int b = 0; b < r->n; b++) {
        int kid = r->to_kernel[b], kl = r->to_label[b];
        if (s->refs[b] > 0 && kid < 0)
            return differs(v, "the file's block %d has count %d but is in no "
                           "row (corrupt file)", b, s->refs[b]);
        if (kid >= 0 && bm->ref_count(st, kid) != s->refs[b])
            return differs(v, "ref count of block %d (the file's %d): %d, the "
                           "file says %d", kid, b, bm->ref_count(st, kid), s->refs[b]);
        if (kl < 0 && bm->ref_count(st, b) != 0)
            return differs(v, "block %d stands for no live block of the file but "
                           "has count %d (want 0)", b, bm->ref_count(st, b));
    }
    if (bm->num_free(st) != s->num_free)
        return differs(v, "%d free blocks, the file says %d", bm->num_free(st),
                       s->num_free);
    for (int b = 0; b < r->n; b++)
        if (s->refs[b] == 0 && r->to_kernel[b] >= 0) {
            r->to_label[r->to_kernel[b]] = -1;
            r->to_kernel[b] = -1;
        }
    return 1;
}

/* "step K (op fork seq P child C): " into v->message. */
static void bm_step_header(kvc_cache_verdict *v, int k, const kvc_cache_step *s)
{
    v->failed_step = k;
    snprintf(v->message, sizeof v->message, "step %d (op %s seq %d", k,
             kvc_bm_op_name((kvc_bm_op_kind)s->op), s->seq);
    if (s->op == KVC_BM_FORK)
        differs(v, " child %d", s->other);
    if (s->op == KVC_BM_APPEND || s->op == KVC_BM_ROLLBACK)
        differs(v, " n %d", s->n);
    differs(v, "): ");
}

static int bm_test(const kvc_cache_test *t, const kvc_bm_impl *bm,
                   kvc_cache_verdict *v)
{
    const kva_bm_config *c = &t->bm;
    size_t bytes = bm->bytes(c);
    void *st = state_new(bytes);
    renaming r = {c->num_blocks, malloc(sizeof(int) * (size_t)c->num_blocks),
                  malloc(sizeof(int) * (size_t)c->num_blocks)};
    int *row = malloc(sizeof(int) * (size_t)c->max_blocks_per_seq);
    int64_t *slots = malloc(sizeof(int64_t) * (KVC_CACHE_MAX_APPEND + 1));
    kva_error e;
    int ok = 0;
    if (!bytes)
        differs(v, "kva_bm_bytes refused the config");
    else if (!st || !r.to_kernel || !r.to_label || !row || !slots)
        differs(v, "out of memory");
    else if (bm->init(st, bytes, c, &e) != KVA_OK)
        differs(v, "kva_bm_init refused the config: %s", e.msg);
    else
        ok = 1;
    for (int b = 0; ok && b < c->num_blocks; b++)
        r.to_kernel[b] = r.to_label[b] = -1;
    for (int k = 0; ok && k < t->num_steps; k++) {
        const kvc_cache_step *s = &t->steps[k];
        kva_bm_copy copy = {-1, -1};
        int ncopies;
        kva_status got;
        bm_step_header(v, k, s);
        bm_run_op(bm, st, s, slots, &copy, &ncopies, &got);
        if (got != s->status)
            ok = differs(v, "status %s, the file says %s",
                         kvc_model_status_name(got), kvc_model_status_name(s->status));
        else if (s->op == KVC_BM_APPEND && got == KVA_OK)
            ok = bm_append_ok(&r, c->block_size, s, slots, &copy, ncopies, v);
        ok = ok && bm_state_ok(&r, bm, st, c, s, row, v);
    }
    if (ok) {
        v->failed_step = -1;
        v->message[0] = '\0';
    }
    free(st);
    free(r.to_kernel);
    free(r.to_label);
    free(row);
    free(slots);
    return ok;
}

/* ---- the policies: exact ------------------------------------------------------ */

static int policy_step_ok(const kvc_policy_impl *pol, void *st,
                          const kva_policy_config *c, const kvc_cache_step *s,
                          int *slots, int64_t *pos, float *score,
                          kvc_cache_verdict *v)
{
    int H = c->num_kv_heads, L = c->num_slots;
    kva_error e;
    kva_status got = s->op == KVC_POLICY_OBSERVE
                         ? pol->observe(st, s->weights, &e)
                         : pol->append(st, s->n, slots, &e);
    if (got != s->status)
        return differs(v, "status %s, the file says %s",
                       kvc_model_status_name(got), kvc_model_status_name(s->status));
    for (int64_t i = 0; s->op == KVC_POLICY_APPEND && got == KVA_OK &&
                        i < (int64_t)s->n * H; i++)
        if (slots[i] != s->slots[i])
            return differs(v, "token %" PRId64 " head %d went to slot %d, the file "
                           "says %" PRId64, i / H, (int)(i % H), slots[i], s->slots[i]);
    if (pol->slots(st, pos, score, &e) != KVA_OK)
        return differs(v, "kva_policy_slots refused: %s", e.msg);
    for (int64_t i = 0; i < (int64_t)H * L; i++) {
        if (pos[i] != s->positions[i])
            return differs(v, "head %d slot %d holds position %" PRId64 ", the file "
                           "says %" PRId64, (int)(i / L), (int)(i % L), pos[i],
                           s->positions[i]);
        if (score[i] != s->scores[i])
            return differs(v, "head %d slot %d (position %" PRId64 ") has score "
                           "%.9g, the file says %.9g (exact)", (int)(i / L),
                           (int)(i % L), pos[i], (double)score[i],
                           (double)s->scores[i]);
    }
    return 1;
}

static int policy_test(const kvc_cache_test *t, const kvc_policy_impl *pol,
                       kvc_cache_verdict *v)
{
    const kva_policy_config *c = &t->pol;
    size_t bytes = pol->bytes(c), ns = (size_t)c->num_kv_heads * (size_t)c->num_slots;
    void *st = state_new(bytes);
    int *slots = malloc(sizeof(int) * (KVC_CACHE_MAX_APPEND + 1) * (size_t)c->num_kv_heads);
    int64_t *pos = malloc(sizeof(int64_t) * ns);
    float *score = malloc(sizeof(float) * ns);
    kva_error e;
    int ok = 0;
    if (!bytes)
        differs(v, "kva_policy_bytes refused the config");
    else if (!st || !slots || !pos || !score)
        differs(v, "out of memory");
    else if (pol->init(st, bytes, c, &e) != KVA_OK)
        differs(v, "kva_policy_init refused the config: %s", e.msg);
    else
        ok = 1;
    for (int k = 0; ok && k < t->num_steps; k++) {
        const kvc_cache_step *s = &t->steps[k];
        v->failed_step = k;
        snprintf(v->message, sizeof v->message, "step %d (op %s", k,
                 s->op == KVC_POLICY_OBSERVE ? "observe" : "append");
        if (s->op == KVC_POLICY_APPEND)
            differs(v, " n %d", s->n);
        differs(v, "): ");
        ok = policy_step_ok(pol, st, c, s, slots, pos, score, v);
    }
    if (ok) {
        v->failed_step = -1;
        v->message[0] = '\0';
    }
    free(st);
    free(slots);
    free(pos);
    free(score);
    return ok;
}

int kvc_cache_verify_test(kvc_cache_kind kind, const kvc_cache_test *t,
                          const kvc_bm_impl *bm, const kvc_policy_impl *pol,
                          kvc_cache_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->failed_step = -1;
    if (kind == KVC_CACHE_MANAGER ? !bm : !pol)
        return 0;
    v->covered = 1;
    v->passed = kind == KVC_CACHE_MANAGER ? bm_test(t, bm, v) : policy_test(t, pol, v);
    return v->passed;
}
