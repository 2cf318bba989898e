/*
 * golden_cache_write.c — writing a cache golden file (golden_cache.h) as
 * JSON through cJSON, via a temporary file and a rename (nothing
 * half-written).
 */
#include "golden_cache_internal.h"
#include "golden_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../generators/bm_ops.h"
#include "../generators/policy_ops.h"
#include "../oracle/model_say.h"
#include "golden.h"

static const char *const header_common[] = {
    "Golden vectors of whole operation sequences for the cache's other half "
    "of kvcheck (kernels/kvattn.h, \"The block manager\" and \"Eviction "
    "policies\"), frozen from its reference models (oracle/bm_model.c, "
    "oracle/policy_model.c) answering every operation themselves. The format "
    "is documented in golden/FORMAT.md, \"Cache operation vectors\".",
    "Each test: a config and steps run in order on a fresh state; each step "
    "holds the operation, the expected status (a kva_status name), for an "
    "accepted append the slots, and the whole state after the step. A "
    "refused step leaves the state as it was.",
};

static const char *const header_manager[] = {
    "Manager steps: op append (seq, n, tokens), fork (seq = parent, other = "
    "child), rollback (seq, n), free (seq). After an accepted append: slots "
    "(block * blockSize + offset, -1 for a token a shared block holds) and "
    "copies ([[src, dst]] or []). After every step: lengths (-1: not live), "
    "rows (each sequence's ceil(length / blockSize) row entries; the rest of "
    "its row is -1), refCounts of every block, numFree.",
    "Block numbers are the reference model's choice (new blocks: the lowest "
    "free ones, a copy's destination first). A manager passes when its "
    "answers equal these up to a renaming of blocks: a block label first "
    "seen binds to the manager's block (which no other live label holds), "
    "a bound label means that block everywhere (rows, slots with the same "
    "offset, copies, refCounts), blocks bound to no label must have count "
    "0, and a label whose count goes to 0 is unbound. Statuses, lengths, "
    "numFree and -1 slots compare exactly.",
};

static const char *const header_policy[] = {
    "Policy steps: op append (n) and observe (weights [numKvHeads][numSlots]). "
    "After an accepted append: slots [n][numKvHeads] (-1: evicted by a "
    "later token of the same append). After every step: positions "
    "[numKvHeads][numSlots] (-1 empty) and scores (same shape).",
    "Every weight is a multiple of 2^-8 (written as a plain JSON number; a "
    "weight a policy must refuse may be -1 or the strings \"nan\", \"inf\", "
    "\"-inf\"), so every fp32 sum of them is exact: positions, slots and "
    "scores compare exactly; equal scores evict the oldest token.",
};

/* ---- small builders (NULL on no memory) ------------------------------------ */

static cJSON *int_array(const int *v, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *i64_array(const int64_t *v, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

/* A weight or score: a plain number (exact: a multiple of 2^-8), or a
 * word for a non-finite one. */
static cJSON *weight(float w)
{
    if (isnan(w))
        return cJSON_CreateString("nan");
    if (isinf(w))
        return cJSON_CreateString(w < 0 ? "-inf" : "inf");
    return cJSON_CreateNumber((double)w);
}

/* rows [rows][cols] of int64 (i64) or float (f32) as an array of arrays. */
static cJSON *matrix(const int64_t *i64, const float *f32, int64_t rows, int cols)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t r = 0; a && r < rows; r++) {
        cJSON *row = i64 ? i64_array(i64 + r * cols, cols) : cJSON_CreateArray();
        for (int c = 0; !i64 && row && c < cols; c++)
            if (!cJSON_AddItemToArray(row, weight(f32[r * cols + c]))) {
                cJSON_Delete(row);
                row = NULL;
            }
        if (!cJSON_AddItemToArray(a, row)) {
            cJSON_Delete(row);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int add(cJSON *o, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* ---- steps -------------------------------------------------------------------- */

static int bm_state(cJSON *o, const kvc_cache_test *t, const kvc_cache_step *s)
{
    const kva_bm_config *c = &t->bm;
    cJSON *rows = cJSON_CreateArray();
    int ok = rows != NULL;
    for (int q = 0; ok && q < c->max_seqs; q++) {
        int64_t len = s->lengths[q];
        int64_t nb = len <= 0 ? 0 : (len + c->block_size - 1) / c->block_size;
        cJSON *r = int_array(s->rows + (size_t)q * (size_t)c->max_blocks_per_seq, nb);
        ok = r && cJSON_AddItemToArray(rows, r);
        if (!ok)
            cJSON_Delete(r);
    }
    if (!ok) {
        cJSON_Delete(rows);
        return 0;
    }
    return add(o, "lengths", i64_array(s->lengths, c->max_seqs)) &&
           add(o, "rows", rows) &&
           add(o, "refCounts", int_array(s->refs, c->num_blocks)) &&
           cJSON_AddNumberToObject(o, "numFree", s->num_free);
}

static int bm_step(cJSON *o, const kvc_cache_test *t, const kvc_cache_step *s)
{
    int ok = cJSON_AddStringToObject(o, "op", kvc_bm_op_name((kvc_bm_op_kind)s->op)) &&
             cJSON_AddNumberToObject(o, "seq", s->seq);
    if (ok && s->op == KVC_BM_FORK)
        ok = cJSON_AddNumberToObject(o, "other", s->other) != NULL;
    if (ok && (s->op == KVC_BM_APPEND || s->op == KVC_BM_ROLLBACK))
        ok = cJSON_AddNumberToObject(o, "n", s->n) != NULL;
    if (ok && s->op == KVC_BM_APPEND) {
        int32_t n = s->n > 0 ? s->n : 0;
        cJSON *tok = cJSON_CreateArray();
        for (int i = 0; tok && i < n; i++)
            if (!cJSON_AddItemToArray(tok, cJSON_CreateNumber(s->tokens[i]))) {
                cJSON_Delete(tok);
                tok = NULL;
            }
        ok = add(o, "tokens", tok);
    }
    ok = ok && cJSON_AddStringToObject(o, "status", kvc_model_status_name(s->status));
    if (ok && s->op == KVC_BM_APPEND && s->status == KVA_OK) {
        int64_t cp[2] = {s->copy.src, s->copy.dst};
        ok = add(o, "slots", i64_array(s->slots, s->n)) &&
             add(o, "copies", matrix(cp, NULL, s->num_copies, 2));
    }
    return ok && bm_state(o, t, s);
}

static int policy_step(cJSON *o, const kvc_cache_test *t, const kvc_cache_step *s)
{
    int H = t->pol.num_kv_heads, L = t->pol.num_slots;
    int ok = cJSON_AddStringToObject(o, "op", s->op == KVC_POLICY_OBSERVE
                                                  ? "observe" : "append") != NULL;
    if (ok && s->op == KVC_POLICY_APPEND)
        ok = cJSON_AddNumberToObject(o, "n", s->n) != NULL;
    if (ok && s->op == KVC_POLICY_OBSERVE)
        ok = add(o, "weights", matrix(NULL, s->weights, H, L));
    ok = ok && cJSON_AddStringToObject(o, "status", kvc_model_status_name(s->status));
    if (ok && s->op == KVC_POLICY_APPEND && s->status == KVA_OK)
        ok = add(o, "slots", matrix(s->slots, NULL, s->n, H));
    return ok && add(o, "positions", matrix(s->positions, NULL, H, L)) &&
           add(o, "scores", matrix(NULL, s->scores, H, L));
}

/* ---- tests and the file ---------------------------------------------------------- */

static cJSON *config(kvc_cache_kind kind, const kvc_cache_test *t)
{
    cJSON *c = cJSON_CreateObject();
    static const char *const kinds[] = {"dense", "recent", "h2o"};
    int ok = c != NULL;
    if (ok && kind == KVC_CACHE_MANAGER)
        ok = cJSON_AddNumberToObject(c, "numBlocks", t->bm.num_blocks) &&
             cJSON_AddNumberToObject(c, "blockSize", t->bm.block_size) &&
             cJSON_AddNumberToObject(c, "maxSeqs", t->bm.max_seqs) &&
             cJSON_AddNumberToObject(c, "maxBlocksPerSeq", t->bm.max_blocks_per_seq) &&
             cJSON_AddNumberToObject(c, "prefixSharing", t->bm.prefix_sharing);
    else if (ok)
        ok = cJSON_AddStringToObject(c, "kind", kinds[t->pol.kind]) &&
             cJSON_AddNumberToObject(c, "numSlots", t->pol.num_slots) &&
             cJSON_AddNumberToObject(c, "numKvHeads", t->pol.num_kv_heads) &&
             cJSON_AddNumberToObject(c, "sinks", t->pol.sinks) &&
             cJSON_AddNumberToObject(c, "recent", t->pol.recent);
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static cJSON *test_object(kvc_cache_kind kind, const kvc_cache_test *t)
{
    cJSON *o = cJSON_CreateObject(), *steps = cJSON_CreateArray();
    int ok = o && steps && cJSON_AddNumberToObject(o, "tcId", t->tc_id) &&
             cJSON_AddStringToObject(o, "comment", t->comment) &&
             cJSON_AddStringToObject(o, "flags", t->flags) &&
             add(o, "config", config(kind, t));
    for (int k = 0; ok && k < t->num_steps; k++) {
        cJSON *s = cJSON_CreateObject();
        ok = s && (kind == KVC_CACHE_MANAGER ? bm_step(s, t, &t->steps[k])
                                             : policy_step(s, t, &t->steps[k])) &&
             cJSON_AddItemToArray(steps, s);
        if (!ok)
            cJSON_Delete(s);
    }
    if (!ok || !cJSON_AddItemToObject(o, "steps", steps)) {
        cJSON_Delete(steps);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *header(kvc_cache_kind kind)
{
    const char *const *more = kind == KVC_CACHE_MANAGER ? header_manager : header_policy;
    cJSON *h = cJSON_CreateArray();
    for (int i = 0; h && i < 4; i++)
        if (!cJSON_AddItemToArray(h, cJSON_CreateString(i < 2 ? header_common[i]
                                                              : more[i - 2]))) {
            cJSON_Delete(h);
            return NULL;
        }
    return h;
}

static cJSON *file_object(const kvc_cache_file *f)
{
    cJSON *root = cJSON_CreateObject(), *tests = cJSON_CreateArray();
    int ok = root && tests &&
             cJSON_AddStringToObject(root, "schema", KVC_CACHE_SCHEMA) &&
             cJSON_AddNumberToObject(root, "schemaVersion", KVC_CACHE_SCHEMA_VERSION) &&
             cJSON_AddStringToObject(root, "kind", kvc_cache_kind_name(f->kind)) &&
             cJSON_AddStringToObject(root, "generator", "kvcheck golden regen") &&
             cJSON_AddStringToObject(root, "oracleVersion", KVC_ORACLE_VERSION) &&
             cJSON_AddNumberToObject(root, "numberOfTests", f->num_tests) &&
             add(root, "header", header(f->kind));
    for (int i = 0; ok && i < f->num_tests; i++) {
        cJSON *t = test_object(f->kind, &f->tests[i]);
        ok = t && cJSON_AddItemToArray(tests, t);
        if (!ok)
            cJSON_Delete(t);
    }
    if (!ok || !cJSON_AddItemToObject(root, "tests", tests)) {
        cJSON_Delete(tests);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int kvc_cache_golden_write(const kvc_cache_file *f, const char *path,
                           char *err, size_t errlen)
{
    return kvcg_write_json(path, file_object(f), err, errlen);
}
